/* desired vs current -> the plan for one security group. Pure and deterministic.
 *
 * Rules are compared by permission (proto, ports, CIDR); descriptions do not make two rules
 * different, because EC2 itself refuses a second rule with the same permission.
 *
 * Ownership (DESIGN.md invariant 5, CONTRACT.md target "ownership") decides what is removed:
 *  - FSG_SG_OWN_GROUP ("group", the default): the managed group belongs to flowseg entirely.
 *    Every inbound rule that the policy does not yield is removed, whoever added it: CIDR rules
 *    whatever their description (plan->remove) and rules that reference another security group
 *    or a prefix list (plan->remove_foreign, revoked by their "sgr-" id). This is the tamper
 *    protection: a rule added by hand is undone by the next run. Behind the guards as any
 *    removal (max_removals counts both lists).
 *  - FSG_SG_OWN_RULES ("rules", a group shared with other tools): only rules whose description
 *    starts with "flowseg " (FSG_SG_DESCRIPTION_PREFIX, what flowseg writes) are flowseg's; any
 *    other rule that the policy does not want is left in place and listed in `kept`, and
 *    SG-reference / prefix-list rules are left too (n_foreign); the report warns about each.
 * Every removal has a reason (fsg_sg_removal_reason): "not in the policy any more (flowseg
 * rule)" or "not in the policy, added outside flowseg". */
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
    FSG_SG_OWN_GROUP = 0, /* "group" (default): the whole group is flowseg's */
    FSG_SG_OWN_RULES,     /* "rules": only "flowseg ..." rules are removable */
};

/* "group" or "rules". Static. */
const char *fsg_sg_ownership_name(enum fsg_sg_ownership o);

/* Why a rule with this description (may be NULL) is removed: "not in the policy any more
 * (flowseg rule)" when it carries the flowseg prefix, else "not in the policy, added outside
 * flowseg". Static. */
const char *fsg_sg_removal_reason(const char *description);

/* The reason for removing a rule that references a group or a prefix list. Static. */
#define FSG_SG_REASON_FOREIGN                                                                      \
    "not in the policy, added outside flowseg (references a security group or prefix list)"

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
    size_t n_foreign;               /* SG-reference / prefix-list rules in the group now */
    enum fsg_sg_ownership ownership;            /* the mode the plan was made under */
    struct fsg_sg_foreign_rule *remove_foreign; /* group mode: every SG-reference / prefix-list
                                                 * rule, revoked by rule_id (owned array) */
    size_t n_remove_foreign;
    size_t cap_remove_foreign;
    size_t current_v4, current_v6;  /* CIDR ingress rules in the group now, per family */
    char state_hash[FSG_SG_HASH_HEX_LEN + 1]; /* fsg_sg_current_hash of the input state */
};

/* True when a description marks a rule as flowseg's. NULL -> false. */
bool fsg_sg_rule_is_owned(const char *description);

/* Diffs desired (borrowed; any order, duplicates allowed) against current (borrowed) into a new
 * plan. opts may be NULL (FSG_SG_OWN_GROUP). Caller owns *ret_plan (fsg_sg_plan_destroy).
 * Fails only on FSG_E_NOMEM / FSG_E_INTERNAL. */
enum fsg_err fsg_sg_diff(const struct fsg_sg_rules *desired, const struct fsg_sg_current *current,
                         const struct fsg_sg_diff_options *opts, struct fsg_sg_plan **ret_plan,
                         struct fsg_error *err) FSG_MUST_USE;

/* Rules to remove: CIDR rules plus SG-reference / prefix-list rules. */
size_t fsg_sg_plan_n_removals(const struct fsg_sg_plan *plan);

/* Appends a deep copy of f to plan->remove_foreign (for readers of saved plans). */
enum fsg_err fsg_sg_plan_remove_foreign(struct fsg_sg_plan *plan,
                                        const struct fsg_sg_foreign_rule *f) FSG_MUST_USE;

/* True when executing the plan would change the group (anything to add or remove). */
bool fsg_sg_plan_has_changes(const struct fsg_sg_plan *plan);

/* An empty plan for group_id (copied); for readers of saved plans. */
enum fsg_err fsg_sg_plan_new(const char *group_id, struct fsg_sg_plan **ret_plan) FSG_MUST_USE;

void fsg_sg_plan_destroy(struct fsg_sg_plan *plan); /* NULL ok */

#endif
