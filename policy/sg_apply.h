/* Executes one security group's plan through lib/ec2 (DESIGN.md invariants 6-8):
 *
 *  1. authorize first: every rule of plan->add in ONE AuthorizeSecurityGroupIngress call (rules
 *     grouped into IpPermissions by protocol and ports, each CIDR with its description);
 *  2. revoke last: every rule of plan->remove in ONE RevokeSecurityGroupIngress by rule ids.
 *
 * Another run may get there first (two Lambdas on two objects, a retried request whose first
 * attempt landed): AuthorizeSecurityGroupIngress is all-or-nothing, so one rule that already
 * exists fails the whole call with InvalidPermission.Duplicate; a revoked id fails the revoke
 * with InvalidSecurityGroupRuleId.NotFound. Either way the group is described again, what is
 * already done is dropped, and the rest is sent once more (once: a third answer of the same
 * kind is an error). The quota error (RulesPerSecurityGroupLimitExceeded) stops the apply
 * before any revoke, as a refusal.
 *
 * One audit line (policy/audit.h) per rule authorized or revoked (with "result": "created",
 * "already_present", "revoked" or "already_gone") and per refusal. */
#ifndef FSG_POLICY_SG_APPLY_H
#define FSG_POLICY_SG_APPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/error.h"
#include "policy/sg_diff.h"
#include "policy/sg_state.h"

struct fsg_aws_client;

/* EC2's quota error code (ref/aws-wire.md §5.1, §6.1). */
#define FSG_SG_APPLY_QUOTA_CODE "RulesPerSecurityGroupLimitExceeded"

struct fsg_sg_apply_options {
    const char *target;                   /* config target name, for audit lines; may be NULL */
    const struct fsg_sg_current *current; /* the group as just read (may be NULL): gives the
                                           * "sgr-" ids of remove rules that carry none (a plan
                                           * made from a state file) */
};

/* What happened. Counts are rules. */
struct fsg_sg_apply_result {
    size_t authorized;      /* created by this run */
    size_t already_present; /* to add, but another run had added them */
    size_t revoked;         /* removed by this run */
    size_t already_gone;    /* to remove, but already gone */
    unsigned calls;         /* EC2 calls made: Authorize, Revoke and re-Describe */
    bool quota_exceeded;    /* stopped by the rules-per-group quota (nothing revoked) */
};

/* Executes plan (borrowed) against its group through ec2 (borrowed). *ret (caller storage) is
 * filled in every case, so a failure still says what was done before it. Errors: those of
 * lib/ec2 (the message names the group and the step; nothing is revoked once an authorize
 * failed), FSG_E_REFUSED for the quota (ret->quota_exceeded), FSG_E_INVALID_ARG for a remove
 * rule without an id that the current state does not have either. */
enum fsg_err fsg_sg_apply(struct fsg_aws_client *ec2, const struct fsg_sg_plan *plan,
                          const struct fsg_sg_apply_options *opts,
                          struct fsg_sg_apply_result *ret, struct fsg_error *err) FSG_MUST_USE;

#endif
