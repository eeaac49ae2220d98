/* The quota-safe order of EC2 calls for one group's plan. See sg_schedule.h. */
#include "policy/sg_schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"

const char *fsg_sg_call_name(enum fsg_sg_call c)
{
    switch (c) {
    case FSG_SG_CALL_MODIFY:
        return "ModifySecurityGroupRules";
    case FSG_SG_CALL_AUTHORIZE:
        return "AuthorizeSecurityGroupIngress";
    case FSG_SG_CALL_REVOKE:
        return "RevokeSecurityGroupIngress";
    }
    return "?";
}

size_t fsg_sg_step_count(const struct fsg_sg_step *s)
{
    return s->call == FSG_SG_CALL_MODIFY ? s->n_add
         : s->call == FSG_SG_CALL_AUTHORIZE ? s->n_add
                                            : s->n_remove + s->n_foreign;
}

void fsg_sg_schedule_clean_up(struct fsg_sg_schedule *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n_steps; i++) {
        fsg_free(s->steps[i].add);
        fsg_free(s->steps[i].remove);
        fsg_free(s->steps[i].foreign);
    }
    fsg_free(s->steps);
    *s = (struct fsg_sg_schedule){ 0 };
}

/* ---- overlap --------------------------------------------------------------------------------- */

static bool s_ranges_overlap(int a_from, int a_to, int b_from, int b_to)
{
    return a_from <= b_to && b_from <= a_to;
}

/* Whether some packet is matched by both rules' protocol and ports (conservative: true when
 * unsure, which only makes a step count as unsafe). */
static bool s_perm_overlap(const struct fsg_sg_rule *a, const struct fsg_sg_rule *b)
{
    if (a->proto == FSG_PROTO_ALL || b->proto == FSG_PROTO_ALL) {
        return true;
    }
    if (a->proto != b->proto) {
        return false;
    }
    if (a->proto == FSG_PROTO_TCP || a->proto == FSG_PROTO_UDP) {
        return s_ranges_overlap(a->from_port, a->to_port, b->from_port, b->to_port);
    }
    if (a->proto == FSG_PROTO_ICMP || a->proto == FSG_PROTO_ICMPV6) {
        return a->from_port < 0 || b->from_port < 0 || a->from_port == b->from_port;
    }
    return true;
}

static bool s_overlap(const struct fsg_sg_rule *a, const struct fsg_sg_rule *b)
{
    return a->cidr.addr.is_v6 == b->cidr.addr.is_v6 &&
           (fsg_cidr_contains(&a->cidr, &b->cidr) || fsg_cidr_contains(&b->cidr, &a->cidr)) &&
           s_perm_overlap(a, b);
}

/* ---- state of the simulation ----------------------------------------------------------------- */

struct s_sim {
    const struct fsg_sg_plan *plan;
    long quota;
    bool *add_done;     /* plan->add[i] is in the group */
    bool *rm_done;      /* plan->remove[i] is gone (revoked or rewritten) */
    bool *rm_paired;    /* taken by the modify step being built */
    ptrdiff_t *want_add; /* desired[i] -> its index in plan->add, or -1 (already present) */
    size_t *block_n;    /* remove[x]: desired rules overlapping it that are not in the group */
    ptrdiff_t *block_one; /* remove[x]: the add index of such a rule when block_n is 1 */
    size_t count[2];    /* rules in the group now, per family (0 = IPv4) */
    size_t left_add[2]; /* adds not yet done, per family */
    struct fsg_sg_schedule *out;
};

static int s_family(const struct fsg_sg_rule *r)
{
    return r->cidr.addr.is_v6 ? 1 : 0;
}

/* For every stale rule not yet gone: which desired rules that overlap it are not in the group
 * yet (block_n, and block_one when there is exactly one). O(remove x desired) per step. */
static void s_blockers(struct s_sim *s)
{
    const struct fsg_sg_plan *p = s->plan;
    for (size_t x = 0; x < p->remove.len; x++) {
        s->block_n[x] = 0;
        s->block_one[x] = -1;
        for (size_t d = 0; !s->rm_done[x] && d < p->desired.len; d++) {
            ptrdiff_t a = s->want_add[d];
            if (a < 0 || s->add_done[a] || !s_overlap(&p->remove.items[x], &p->desired.items[d])) {
                continue;
            }
            s->block_n[x]++;
            s->block_one[x] = a;
        }
    }
}

/* Stale rule x may go (rewritten into plan->add[w], or w < 0: revoked) without a gap: every
 * desired rule that overlaps it is in the group, or is what x becomes (s_blockers first). */
static bool s_safe(const struct s_sim *s, size_t x, ptrdiff_t w)
{
    return s->block_n[x] == 0 || (s->block_n[x] == 1 && s->block_one[x] == w);
}

static enum fsg_err s_push(size_t **v, size_t *n, size_t x)
{
    size_t *grown = fsg_realloc(*v, (*n + 1) * sizeof **v);
    if (grown == NULL) {
        return FSG_E_NOMEM;
    }
    *v = grown;
    grown[(*n)++] = x;
    return FSG_OK;
}

static enum fsg_err s_new_step(struct s_sim *s, enum fsg_sg_call call, struct fsg_sg_step **ret)
{
    struct fsg_sg_schedule *o = s->out;
    struct fsg_sg_step *grown = fsg_array_grow(o->steps, &o->cap_steps, o->n_steps + 1,
                                               sizeof *grown, 4);
    if (grown == NULL) {
        return FSG_E_NOMEM;
    }
    o->steps = grown;
    o->steps[o->n_steps] = (struct fsg_sg_step){ .call = call };
    *ret = &o->steps[o->n_steps++];
    return FSG_OK;
}

static void s_drop_empty_last(struct s_sim *s)
{
    struct fsg_sg_schedule *o = s->out;
    if (o->n_steps > 0 && fsg_sg_step_count(&o->steps[o->n_steps - 1]) == 0) {
        o->n_steps--;
    }
}

static void s_peak(struct s_sim *s)
{
    s->out->peak_v4 = s->count[0] > s->out->peak_v4 ? s->count[0] : s->out->peak_v4;
    s->out->peak_v6 = s->count[1] > s->out->peak_v6 ? s->count[1] : s->out->peak_v6;
}

/* ---- steps ----------------------------------------------------------------------------------- */

static size_t s_need(const struct s_sim *s, int f)
{
    size_t total = s->count[f] + s->left_add[f];
    return s->quota > 0 && total > (size_t)s->quota ? total - (size_t)s->quota : 0;
}

/* Rewrites as many stale rules as each family needs to make room for the remaining adds. */
static enum fsg_err s_modify(struct s_sim *s, bool *progress)
{
    const struct fsg_sg_plan *p = s->plan;
    struct fsg_sg_step *st = NULL;
    enum fsg_err rc = s_new_step(s, FSG_SG_CALL_MODIFY, &st);
    size_t need[2] = { s_need(s, 0), s_need(s, 1) };
    if (need[0] + need[1] > 0) {
        s_blockers(s);
    }
    for (size_t w = 0; rc == FSG_OK && w < p->add.len; w++) {
        int f = s_family(&p->add.items[w]);
        for (size_t x = 0; need[f] > 0 && !s->add_done[w] && x < p->remove.len; x++) {
            if (s->rm_done[x] || s->rm_paired[x] || s_family(&p->remove.items[x]) != f ||
                !s_safe(s, x, (ptrdiff_t)w)) {
                continue;
            }
            rc = s_push(&st->add, &st->n_add, w);
            rc = rc == FSG_OK ? s_push(&st->remove, &st->n_remove, x) : rc;
            s->rm_paired[x] = true;
            need[f]--;
            break;
        }
    }
    for (size_t i = 0; rc == FSG_OK && i < st->n_add; i++) {
        s->add_done[st->add[i]] = true;
        s->rm_done[st->remove[i]] = true;
        s->left_add[s_family(&p->add.items[st->add[i]])]--;
        *progress = true;
    }
    s_drop_empty_last(s);
    return rc;
}

/* Authorizes what fits under the quota. */
static enum fsg_err s_authorize(struct s_sim *s, bool *progress)
{
    const struct fsg_sg_plan *p = s->plan;
    struct fsg_sg_step *st = NULL;
    enum fsg_err rc = s_new_step(s, FSG_SG_CALL_AUTHORIZE, &st);
    for (size_t w = 0; rc == FSG_OK && w < p->add.len; w++) {
        int f = s_family(&p->add.items[w]);
        if (s->add_done[w] || (s->quota > 0 && s->count[f] >= (size_t)s->quota)) {
            continue;
        }
        rc = s_push(&st->add, &st->n_add, w);
        s->add_done[w] = true;
        s->count[f]++;
        s->left_add[f]--;
        *progress = true;
    }
    s_peak(s);
    s_drop_empty_last(s);
    return rc;
}

/* Revokes stale rules: all that are left (final), or the safe ones of full families. */
static enum fsg_err s_revoke(struct s_sim *s, bool final, bool *progress)
{
    const struct fsg_sg_plan *p = s->plan;
    struct fsg_sg_step *st = NULL;
    enum fsg_err rc = s_new_step(s, FSG_SG_CALL_REVOKE, &st);
    if (!final) {
        s_blockers(s);
    }
    for (size_t x = 0; rc == FSG_OK && x < p->remove.len; x++) {
        int f = s_family(&p->remove.items[x]);
        bool full = s->quota > 0 && s->count[f] >= (size_t)s->quota && s->left_add[f] > 0;
        if (s->rm_done[x] || (!final && (!full || !s_safe(s, x, -1)))) {
            continue;
        }
        rc = s_push(&st->remove, &st->n_remove, x);
        s->rm_done[x] = true;
        s->count[f]--;
        *progress = true;
    }
    for (size_t k = 0; final && rc == FSG_OK && k < p->n_remove_foreign; k++) {
        rc = s_push(&st->foreign, &st->n_foreign, k);
    }
    s_drop_empty_last(s);
    return rc;
}

static enum fsg_err s_run(struct s_sim *s)
{
    /* Each round makes progress or stops; every round completes an add or a removal. */
    size_t rounds = s->plan->add.len + s->plan->remove.len + 2;
    for (size_t r = 0; r < rounds; r++) {
        bool progress = false;
        enum fsg_err rc = s_modify(s, &progress);
        rc = rc == FSG_OK ? s_authorize(s, &progress) : rc;
        if (rc != FSG_OK) {
            return rc;
        }
        if (s->left_add[0] + s->left_add[1] == 0) {
            return s_revoke(s, true, &progress);
        }
        rc = s_revoke(s, false, &progress);
        if (rc != FSG_OK || !progress) {
            break;
        }
    }
    s->out->fits = false;
    snprintf(s->out->reason, sizeof s->out->reason,
             "quota: %s cannot reach the policy's rules without going over %ld rules per family "
             "or cutting off, for a moment, a source that stays allowed (%zu rule(s) still to "
             "add when the group is full); raise the quota and guards.max_rules",
             s->plan->group_id, s->quota, s->left_add[0] + s->left_add[1]);
    return FSG_OK;
}

static int s_rule_cmp(const void *a, const void *b)
{
    return fsg_sg_rule_cmp(a, b);
}

static enum fsg_err s_init(struct s_sim *s)
{
    const struct fsg_sg_plan *p = s->plan;
    s->add_done = fsg_calloc(p->add.len + 1, sizeof *s->add_done);
    s->rm_done = fsg_calloc(p->remove.len + 1, sizeof *s->rm_done);
    s->rm_paired = fsg_calloc(p->remove.len + 1, sizeof *s->rm_paired);
    s->want_add = fsg_calloc(p->desired.len + 1, sizeof *s->want_add);
    s->block_n = fsg_calloc(p->remove.len + 1, sizeof *s->block_n);
    s->block_one = fsg_calloc(p->remove.len + 1, sizeof *s->block_one);
    if (s->add_done == NULL || s->rm_done == NULL || s->rm_paired == NULL ||
        s->want_add == NULL || s->block_n == NULL || s->block_one == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t d = 0; d < p->desired.len; d++) {
        const struct fsg_sg_rule *a = p->add.len == 0
                                          ? NULL
                                          : bsearch(&p->desired.items[d], p->add.items,
                                                    p->add.len, sizeof *p->add.items,
                                                    s_rule_cmp);
        s->want_add[d] = a != NULL ? a - p->add.items : -1;
    }
    size_t foreign = p->n_foreign;
    s->count[0] = p->current_v4 + foreign;
    s->count[1] = p->current_v6 + foreign;
    for (size_t w = 0; w < p->add.len; w++) {
        s->left_add[s_family(&p->add.items[w])]++;
    }
    s_peak(s);
    return FSG_OK;
}

enum fsg_err fsg_sg_schedule_make(const struct fsg_sg_plan *plan, long max_rules,
                                  struct fsg_sg_schedule *ret)
{
    *ret = (struct fsg_sg_schedule){ .fits = true };
    struct s_sim s = { .plan = plan, .quota = max_rules, .out = ret };
    enum fsg_err rc = s_init(&s);
    if (rc == FSG_OK) {
        rc = s_run(&s);
    }
    fsg_free(s.add_done);
    fsg_free(s.rm_done);
    fsg_free(s.rm_paired);
    fsg_free(s.want_add);
    fsg_free(s.block_n);
    fsg_free(s.block_one);
    if (rc != FSG_OK) {
        fsg_sg_schedule_clean_up(ret);
    }
    return rc;
}

/* Marks idx[n] (each < len) in seen[len]; false for an index out of range or seen before. */
static bool s_mark(unsigned char *seen, size_t len, const size_t *idx, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (idx[i] >= len || seen[idx[i]] != 0) {
            return false;
        }
        seen[idx[i]] = 1;
    }
    return true;
}

/* A rewrite pairs as many new rules as old ones, an authorize only adds, a revoke only
 * removes. */
static bool s_step_shape(const struct fsg_sg_step *st)
{
    switch (st->call) {
    case FSG_SG_CALL_MODIFY:
        return st->n_add == st->n_remove && st->n_foreign == 0;
    case FSG_SG_CALL_AUTHORIZE:
        return st->n_remove == 0 && st->n_foreign == 0;
    case FSG_SG_CALL_REVOKE:
        return st->n_add == 0;
    }
    return false;
}

enum fsg_err fsg_sg_schedule_is_for(const struct fsg_sg_schedule *s,
                                    const struct fsg_sg_plan *plan, bool *ret)
{
    size_t n_add = plan->add.len, n_rm = plan->remove.len, n_fr = plan->n_remove_foreign;
    *ret = false;
    unsigned char *seen = fsg_calloc(n_add + n_rm + n_fr + 1, 1);
    if (seen == NULL) {
        return FSG_E_NOMEM;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < s->n_steps; i++) {
        const struct fsg_sg_step *st = &s->steps[i];
        ok = s_step_shape(st) && s_mark(seen, n_add, st->add, st->n_add) &&
             s_mark(seen + n_add, n_rm, st->remove, st->n_remove) &&
             s_mark(seen + n_add + n_rm, n_fr, st->foreign, st->n_foreign);
    }
    for (size_t k = 0; ok && k < n_add + n_rm + n_fr; k++) {
        ok = seen[k] != 0;
    }
    fsg_free(seen);
    *ret = ok;
    return FSG_OK;
}
