/* The plan document: one entry per config target (diff + guards + impact + warnings), built the
 * same way by `plan`, `apply` and the Lambda handler, rendered by policy/report.h and saved for
 * `apply --plan`. */
#ifndef FSG_POLICY_PLAN_H
#define FSG_POLICY_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/error.h"
#include "lib/core/flow.h"
#include "policy/guards.h"
#include "policy/impact.h"
#include "policy/sg_diff.h"
#include "policy/sg_schedule.h"
#include "policy/sg_state.h"

struct fsg_plan_target {
    char *name;              /* owned: the config target's name */
    char *security_group;    /* owned: the group id (or, for a group still to create, its name) */
    struct fsg_sg_plan *sg;  /* owned */
    enum fsg_sg_ownership ownership; /* the target's "ownership" mode (sg->ownership too) */
    char **warnings;         /* owned strings: compiler warnings, then the diff's */
    size_t n_warnings;
    size_t cap_warnings;
    char *refused;           /* owned reason, NULL when the plan may be applied */
    unsigned refused_guards; /* FSG_GUARD_* bits behind `refused` */
    struct fsg_impact *impact; /* owned, NULL when no flow source was given */
    /* Saved plans only (fsg_plan_load): what was recorded at plan time. */
    char desired_hash[FSG_SG_HASH_HEX_LEN + 1]; /* fsg_plan_desired_hash then, "" if absent */
    long saved_cut_sources;  /* impact.cut_sources then; -1 = no flow evidence in the plan */
    char *saved_calls;       /* owned: the "calls" the plan showed, as fsg_plan_calls_text
                              * writes them; NULL = not recorded */
    struct fsg_sg_schedule calls; /* the EC2 calls apply makes, in order (quota-safe): sg_apply
                                   * is given these and computes none; empty for a saved plan
                                   * read back (apply --plan takes those of the same changes
                                   * planned again) */
};

struct fsg_plan {
    struct fsg_plan_target *targets; /* owned array, in config order */
    size_t n_targets;
    size_t cap_targets;
    int64_t created_s;               /* when it was made (saved plans), 0 = not recorded */
    char *policy_version;            /* owned: the PCE policy version the plan was made from
                                      * ("1321", "draft"), NULL = not known (an exported file
                                      * without one) */
};

/* Everything needed to plan one target. Pointers are borrowed for the call only. */
struct fsg_plan_inputs {
    const char *name;
    const char *security_group;
    const struct fsg_sg_rules *desired;    /* from the compiler */
    const char *const *warnings;           /* from the compiler, may be NULL */
    size_t n_warnings;
    const struct fsg_sg_current *current;  /* from the state file or EC2 */
    const struct fsg_sg_diff_options *diff; /* NULL = FSG_SG_OWN_GROUP */
    const struct fsg_guard_limits *guards; /* NULL = no guard */
    /* Impact: only when has_flows (an empty flow list still says "nothing observed"). */
    bool has_flows;
    const struct fsg_impact_target *impact_target;
    bool association_changes; /* the apply also changes the instance's groups (max_cut_sources
                               * applies only to a target whose apply changes something) */
    const struct fsg_flow *flows;
    size_t n_flows;
};

/* A new empty plan. Caller owns *ret_plan (fsg_plan_destroy). */
enum fsg_err fsg_plan_new(struct fsg_plan **ret_plan) FSG_MUST_USE;

/* Plans one target and appends it: diff, guards (refused + reason), impact, and warnings for
 * rules left in place (not flowseg's, SG references, prefix lists). */
enum fsg_err fsg_plan_add(struct fsg_plan *plan, const struct fsg_plan_inputs *in,
                          struct fsg_error *err) FSG_MUST_USE;

/* Appends an empty target (for readers of saved plans); *ret_target is borrowed from plan and
 * valid until the next append. */
enum fsg_err fsg_plan_append_target(struct fsg_plan *plan, const char *name,
                                    const char *security_group,
                                    struct fsg_plan_target **ret_target) FSG_MUST_USE;

/* Appends a warning (printf-style) to a target. */
enum fsg_err fsg_plan_target_warn(struct fsg_plan_target *t, const char *fmt, ...)
    FSG_PRINTF(2, 3) FSG_MUST_USE;

/* True when any target has something to add or remove (--detailed-exitcode). */
bool fsg_plan_has_changes(const struct fsg_plan *plan);
/* True when any target is refused by a guard. */
bool fsg_plan_is_refused(const struct fsg_plan *plan);
/* Totals over all targets. */
void fsg_plan_totals(const struct fsg_plan *plan, size_t *ret_add, size_t *ret_remove);

/* The hash of what the policy yields for target t of plan (its own target): hex SHA-256 over the
 * plan's policy_version (when known) and t's desired rules, canonicalised (sorted, ports as EC2
 * stores them, description included). `plan --save-plan` records it; `apply --plan` recomputes
 * it from the current policy and refuses the plan when it differs. */
enum fsg_err fsg_plan_desired_hash(const struct fsg_plan *plan, const struct fsg_plan_target *t,
                                   char out[FSG_SG_HASH_HEX_LEN + 1],
                                   struct fsg_error *err) FSG_MUST_USE;

/* Compares a saved plan's target with the same target planned again now (same group state and
 * policy): every rule the saved one adds, removes or lists as desired that the fresh one does
 * not, and the reverse, appended to why as sentences joined by "; " ("the plan adds tcp all
 * from 0.0.0.0/0, which diffing the current group against the current desired rules does not
 * give"). *ret_n = the number of differences (0 = the saved plan is the fresh one). */
enum fsg_err fsg_plan_check_edits(const struct fsg_plan_target *saved,
                                  const struct fsg_plan_target *fresh, struct fsg_buf *why,
                                  size_t *ret_n) FSG_MUST_USE;

/* The EC2 calls of s in one line, appended to out: "ModifySecurityGroupRules 11,
 * AuthorizeSecurityGroupIngress 5, RevokeSecurityGroupIngress 44" ("none" when there is no
 * call). apply --plan compares the calls a saved plan showed with those planned again now. */
enum fsg_err fsg_plan_calls_text(const struct fsg_sg_schedule *s, struct fsg_buf *out) FSG_MUST_USE;

void fsg_plan_destroy(struct fsg_plan *plan); /* NULL ok */

#endif
