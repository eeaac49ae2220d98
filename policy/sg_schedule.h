/* The EC2 calls that carry out one group's plan without ever crossing the rules-per-group quota
 * and without cutting off, even for a moment, a source that stays allowed. Pure.
 *
 * The default order is make before break (DESIGN.md invariant 6): one
 * AuthorizeSecurityGroupIngress with every new rule, then one RevokeSecurityGroupIngress with
 * every stale rule. When authorizing first would take a family (IPv4 or IPv6; EC2 counts them
 * apart, and a rule that references a group or a prefix list counts in both) over the quota
 * (guards.max_rules, 60 by default), enough stale rules are first rewritten in place into new
 * ones with ModifySecurityGroupRules: a rewritten rule keeps its id and its quota slot, and its
 * old permission is replaced by the new one in one step, so the count does not move.
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySecurityGroupRules.html
 * https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html#vpc-limits-security-groups
 * ("Inbound or outbound rules per security group": 60, enforced separately for IPv4 and IPv6).
 *
 * A stale rule X is rewritten (or revoked early) only when that is safe: every desired rule
 * that shares any address, protocol and port with X is already in the group, or is the very
 * rule X becomes. Whatever X let in that stays allowed is then let in without a gap. When no
 * safe step is left and the quota still has no room, the plan is refused up front (nothing is
 * changed): that only happens when the end state itself does not fit, or for overlapping
 * rules that cannot be ordered safely.
 *
 * Steps run in order; each is one EC2 call. */
#ifndef FSG_POLICY_SG_SCHEDULE_H
#define FSG_POLICY_SG_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/error.h"
#include "policy/sg_diff.h"

enum fsg_sg_call {
    FSG_SG_CALL_MODIFY = 0, /* ModifySecurityGroupRules: remove[i] becomes add[i] */
    FSG_SG_CALL_AUTHORIZE,  /* AuthorizeSecurityGroupIngress of add[] */
    FSG_SG_CALL_REVOKE,     /* RevokeSecurityGroupIngress of remove[] and foreign[] */
};

/* "ModifySecurityGroupRules", "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress". */
const char *fsg_sg_call_name(enum fsg_sg_call c);

struct fsg_sg_step {
    enum fsg_sg_call call;
    size_t *add;     /* indices into plan->add (owned) */
    size_t n_add;
    size_t *remove;  /* indices into plan->remove (owned); for MODIFY paired with add[] */
    size_t n_remove;
    size_t *foreign; /* indices into plan->remove_foreign (owned), REVOKE only */
    size_t n_foreign;
};

struct fsg_sg_schedule {
    struct fsg_sg_step *steps; /* owned */
    size_t n_steps;
    size_t cap_steps;
    size_t peak_v4, peak_v6;   /* the most rules the group holds at any moment, per family */
    bool fits;                 /* false: no safe order within the quota (see reason) */
    char reason[300];          /* why not, when !fits */
};

/* The schedule for plan (borrowed) under max_rules per family (<= 0: no quota known: the
 * default order). *ret is caller storage, overwritten. FSG_E_NOMEM only; a plan that cannot be
 * carried out within the quota gives FSG_OK with ret->fits false and a reason. */
enum fsg_err fsg_sg_schedule_make(const struct fsg_sg_plan *plan, long max_rules,
                                  struct fsg_sg_schedule *ret) FSG_MUST_USE;

/* Whether s carries out exactly plan (borrowed both): every rule of plan->add, ->remove and
 * ->remove_foreign in exactly one step, of the right kind (a rewrite pairs as many new rules as
 * old ones, an authorize only adds, a revoke only removes), no index out of range. In *ret.
 * FSG_E_NOMEM only. */
enum fsg_err fsg_sg_schedule_is_for(const struct fsg_sg_schedule *s,
                                    const struct fsg_sg_plan *plan, bool *ret) FSG_MUST_USE;

/* Rules touched by the step (modify pairs count once). */
size_t fsg_sg_step_count(const struct fsg_sg_step *s);

void fsg_sg_schedule_clean_up(struct fsg_sg_schedule *s); /* NULL ok; zeroes */

#endif
