/* Guard rails (DESIGN.md invariant 7): checks that stop an apply, with the reason `plan` shows
 * as "refused". Pure. */
#ifndef FSG_POLICY_GUARDS_H
#define FSG_POLICY_GUARDS_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/sg_diff.h"

/* Room for every reason joined with "; ". */
#define FSG_GUARD_REASON_MAX 1024

/* Which guards refused, as bits, so `apply --force` can override the removal guard only. */
enum fsg_guard {
    FSG_GUARD_EMPTY = 1u << 0,    /* the desired set is empty and allow_empty is false */
    FSG_GUARD_PUBLIC = 1u << 1,   /* a desired CIDR holds public addresses, allow_public false */
    FSG_GUARD_REMOVALS = 1u << 2, /* more removals than max_removals (CIDR rules plus, in
                                   * ownership "group", SG-reference / prefix-list rules) */
    FSG_GUARD_RULES = 1u << 3,    /* the group would hold more than max_rules per family, at the
                                   * end or (policy/sg_schedule.h) on the way there */
    FSG_GUARD_CUT = 1u << 4,      /* more observed sources cut off than max_cut_sources */
    FSG_GUARD_POLICY = 1u << 5,   /* the compiler refused the target: something in the policy it
                                   * cannot evaluate could widen access (never forced) */
};

/* The config's "guards" (CONTRACT.md) plus the CLI override. */
struct fsg_guard_limits {
    long max_removals;  /* removals allowed in one apply; < 0 = no limit */
    bool allow_empty;   /* an empty desired set may empty the group */
    bool allow_public;  /* public CIDRs may be authorized */
    long max_rules;     /* inbound rules per group and per family (EC2 quota); <= 0 = no limit */
    long max_cut_sources; /* observed sources with accepted traffic that one apply may cut
                           * off; < 0 = no limit. Checked only with flow evidence (impact). */
    bool force;         /* --force: ignore FSG_GUARD_REMOVALS (never FSG_GUARD_CUT: a plan that
                         * cuts off the clients seen using the database is changed by changing
                         * the policy or the limit, not by a flag) */
};

/* Checks a plan. Returns 0 when it may be applied, else the FSG_GUARD_* bits that refuse, with
 * every reason (one sentence each, joined by "; ") in reason[reason_size] (may be NULL).
 *
 * The rule count after the apply is, per family as EC2 counts it (IPv4 and IPv6 apart):
 * current CIDR rules - removals + additions, plus each SG-reference / prefix-list rule that
 * stays once in each family (a prefix list really counts its max entries, which a state file
 * does not say: this is a lower bound). */
unsigned fsg_guards_check(const struct fsg_guard_limits *limits, const struct fsg_sg_plan *plan,
                          char *reason, size_t reason_size);

/* The flow-evidence guard: returns FSG_GUARD_CUT when n_cut observed sources (with accepted
 * traffic, denied after the apply) exceed limits->max_cut_sources, appending its reason to
 * reason[reason_size] (after any reason already there, "; "-separated). group names the
 * security group in the reason. */
unsigned fsg_guards_check_cut(const struct fsg_guard_limits *limits, size_t n_cut,
                              const char *group, char *reason, size_t reason_size);

/* Rules the group would hold after the plan, per family. */
void fsg_guards_rules_after(const struct fsg_sg_plan *plan, size_t *ret_v4, size_t *ret_v6);

#endif
