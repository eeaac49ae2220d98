/* One target of a plan applied for real: what `flowseg apply` and the Lambda's reconcile both
 * do (create the managed group when asked, authorize first, revoke last, associate). */
#ifndef FSG_CMD_APPLY_TARGET_H
#define FSG_CMD_APPLY_TARGET_H

#include <stdbool.h>

#include "cmd/apply_out.h"
#include "cmd/reconcile.h"

/* How long an apply waits for a busy RDS instance (InvalidDBInstanceState) before it reports
 * "rules in place, group not yet attached", when the run has no deadline of its own. */
#define FSG_APPLY_WAIT_S 120

/* Applies pt (the plan of target t; both borrowed from run, and pt's group id is filled in when
 * the group is created) through run's EC2 and RDS clients, into *res (caller's, zeroed; its
 * error is owned by the caller afterwards). A target refused by a guard is not touched; force
 * lifts only the removal guard. Every change, refusal and failure is a JSON audit line. When
 * run->stop is set the call in flight is finished and audited and nothing further is changed
 * (status FSG_APPLY_INTERRUPTED). */
void fsg_apply_target(struct fsg_recon *run, struct fsg_recon_target *t,
                      struct fsg_plan_target *pt, bool force, struct fsg_apply_result *res);

#endif
