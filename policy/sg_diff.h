/* desired vs current -> the plan for one security group. Pure and deterministic.
 *
 * Rules are compared by permission (proto, ports, CIDR); descriptions do not make two rules
 * different, because EC2 itself refuses a second rule with the same permission.
 *
 * Ownership (DESIGN.md invariant 5) decides what may be removed:
 *  - FSG_SG_OWN_DESCRIBED (the default, for a group the config names by id): only rules whose
 *    description starts with "flowseg " (FSG_SG_DESCRIPTION_PREFIX, what flowseg writes) are
 *    flowseg's; any other rule that the policy does not want is left in place and listed in
 *    `kept` (the report warns about it).
 *  - FSG_SG_OWN_ALL (a group flowseg created itself, `security_group: {"create": ...}`): every
 *    CIDR rule that the policy does not want is removed, whatever its description.
 * Rules that reference another security group or a prefix list are never removed in either mode
 * (they cannot be compared with policy addresses); they are counted in n_foreign and reported. */
#ifndef FSG_POLICY_SG_DIFF_H
#define FSG_POLICY_SG_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/error.h"
#include "policy/sg_rule.h"
#include "policy/sg_state.h"

/* The description prefix that marks a rule as written by flowseg. */
#define FSG_SG_DESCRIPTION_PREFIX "flowseg "

enum fsg_sg_ownership {
    FSG_SG_OWN_DESCRIBED = 0, /* only "flowseg ..." rules are removable */
    FSG_SG_OWN_ALL,           /* the whole group is flowseg's */
};

struct fsg_sg_diff_options {
    enum fsg_sg_ownership ownership;
};

/* The plan for one group. Execute `add` first (AuthorizeSecurityGroupIngress), then `remove`
 * (RevokeSecurityGroupIngress, by rule_id when it is set): make before break (invariant 6).
 * All lists are sorted (fsg_sg_rules_sort order) and own their strings. */
struct fsg_sg_plan {
    char *group_id;                 /* owned */
    struct fsg_sg_rules desired;    /* what the policy wants (deduplicated copy) */
    struct fsg_sg_rules add;        /* desired and absent: authorize; descriptions always start
                                     * with FSG_SG_DESCRIPTION_PREFIX (added when missing) */
    struct fsg_sg_rules remove;     /* present, owned and not desired: revoke (current rule_id) */
    struct fsg_sg_rules kept;       /* present, not desired, not owned: left in place */
    size_t unchanged;               /* desired rules already present */
    size_t n_foreign;               /* SG-reference / prefix-list rules, left in place */
    size_t current_v4, current_v6;  /* CIDR ingress rules in the group now, per family */
    char state_hash[FSG_SG_HASH_HEX_LEN + 1]; /* fsg_sg_current_hash of the input state */
};

/* True when a description marks a rule as flowseg's. NULL -> false. */
bool fsg_sg_rule_is_owned(const char *description);

/* Diffs desired (borrowed; any order, duplicates allowed) against current (borrowed) into a new
 * plan. opts may be NULL (FSG_SG_OWN_DESCRIBED). Caller owns *ret_plan (fsg_sg_plan_destroy).
 * Fails only on FSG_E_NOMEM / FSG_E_INTERNAL. */
enum fsg_err fsg_sg_diff(const struct fsg_sg_rules *desired, const struct fsg_sg_current *current,
                         const struct fsg_sg_diff_options *opts, struct fsg_sg_plan **ret_plan,
                         struct fsg_error *err) FSG_MUST_USE;

/* True when executing the plan would change the group (anything to add or remove). */
bool fsg_sg_plan_has_changes(const struct fsg_sg_plan *plan);

/* An empty plan for group_id (copied); for readers of saved plans. */
enum fsg_err fsg_sg_plan_new(const char *group_id, struct fsg_sg_plan **ret_plan) FSG_MUST_USE;

void fsg_sg_plan_destroy(struct fsg_sg_plan *plan); /* NULL ok */

#endif
