/* policy/sg_schedule: the quota-safe order of calls (make before break when it fits, rewrite in
 * place when it does not, refuse when no safe order exists), checked by replaying each step. */
#include <stdio.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/sg_schedule.h"
#include "tests/harness/test.h"

#define OWN "flowseg /orgs/1/sec_policy/active/rule_sets/1/sec_rules/"

static enum fsg_err s_add(struct fsg_sg_rules *l, int port, const char *cidr, const char *desc,
                          const char *id)
{
    struct fsg_sg_rule r = { .proto = 6, .from_port = port, .to_port = port,
                             .description = (char *)desc, .rule_id = (char *)id };
    enum fsg_err rc = fsg_cidr_parse(fsg_span_from_cstr(cidr), false, &r.cidr);
    return rc == FSG_OK ? fsg_sg_rules_append(l, &r) : rc;
}

/* Replays the schedule on the group's rules (as flags): the count never goes over quota, and
 * the end is exactly the desired set. */
static int s_replay(const struct fsg_sg_plan *p, const struct fsg_sg_schedule *s, size_t quota)
{
    size_t count = p->current_v4 + p->n_foreign, added = 0, removed = 0;
    for (size_t i = 0; i < s->n_steps; i++) {
        const struct fsg_sg_step *st = &s->steps[i];
        if (st->call == FSG_SG_CALL_MODIFY) {
            T_CHECK(st->n_add == st->n_remove && st->n_add > 0);
            added += st->n_add;
            removed += st->n_remove;
        } else if (st->call == FSG_SG_CALL_AUTHORIZE) {
            count += st->n_add;
            added += st->n_add;
        } else {
            count -= st->n_remove + st->n_foreign;
            removed += st->n_remove;
        }
        if (count > quota) {
            fprintf(stderr, "  step %zu (%s): %zu rules, quota %zu\n", i,
                    fsg_sg_call_name(st->call), count, quota);
            return 1;
        }
    }
    T_CHECK(added == p->add.len && removed == p->remove.len);
    bool is_for = false;
    T_OK(fsg_sg_schedule_is_for(s, p, &is_for));
    T_CHECK(is_for); /* what sg_apply checks before it makes the calls */
    return 0;
}

/* It fits: one authorize, one revoke (make before break). */
static int s_fits(void)
{
    struct fsg_sg_current cur = { 0 };
    struct fsg_sg_rules want = { 0 };
    struct fsg_sg_plan *p = NULL;
    struct fsg_sg_schedule s;
    T_OK(fsg_sg_current_init(&cur, "sg-1"));
    T_OK(s_add(&cur.rules, 5432, "10.0.5.0/24", OWN "9", "sgr-1"));
    T_OK(s_add(&want, 5432, "10.0.1.1/32", OWN "1", NULL));
    T_OK(s_add(&want, 5432, "10.0.1.2/32", OWN "1", NULL));
    fsg_sg_rules_sort(&cur.rules);
    T_OK(fsg_sg_diff(&want, &cur, NULL, &p, NULL));
    T_OK(fsg_sg_schedule_make(p, 60, &s));
    T_CHECK(s.fits && s.n_steps == 2);
    T_CHECK(s.steps[0].call == FSG_SG_CALL_AUTHORIZE && s.steps[0].n_add == 2);
    T_CHECK(s.steps[1].call == FSG_SG_CALL_REVOKE && s.steps[1].n_remove == 1);
    T_CHECK(s.peak_v4 == 3);
    T_CHECK(s_replay(p, &s, 60) == 0);
    /* not the schedule of another plan: one more rule to add (missing from it), or one rule
     * fewer to remove (an index out of range) */
    bool is_for = true;
    T_OK(s_add(&p->add, 5432, "10.0.1.3/32", OWN "1", NULL));
    T_OK(fsg_sg_schedule_is_for(&s, p, &is_for));
    T_CHECK(!is_for);
    p->add.len--;
    fsg_sg_rule_clean_up(&p->add.items[p->add.len]);
    p->remove.len--;
    T_OK(fsg_sg_schedule_is_for(&s, p, &is_for));
    T_CHECK(!is_for);
    p->remove.len++;
    fsg_sg_schedule_clean_up(&s);
    /* no quota known: the same */
    T_OK(fsg_sg_schedule_make(p, 0, &s));
    T_CHECK(s.fits && s.n_steps == 2);
    fsg_sg_schedule_clean_up(&s);
    fsg_sg_plan_destroy(p);
    fsg_sg_rules_clean_up(&want);
    fsg_sg_current_clean_up(&cur);
    return 0;
}

/* The case: 55 stale flowseg rules, 16 desired, quota 60: 11 rewritten in place, 5
 * authorized (60 rules at the peak), 44 revoked: one apply. */
static int s_full_group(void)
{
    struct fsg_sg_current cur = { 0 };
    struct fsg_sg_rules want = { 0 };
    struct fsg_sg_plan *p = NULL;
    struct fsg_sg_schedule s;
    T_OK(fsg_sg_current_init(&cur, "sg-full"));
    for (int i = 0; i < 55; i++) {
        char cidr[32], id[32];
        snprintf(cidr, sizeof cidr, "10.1.%d.0/24", i);
        snprintf(id, sizeof id, "sgr-%d", i);
        T_OK(s_add(&cur.rules, 5432, cidr, OWN "old", id));
    }
    for (int i = 0; i < 16; i++) {
        char cidr[32];
        snprintf(cidr, sizeof cidr, "10.2.%d.0/24", i);
        T_OK(s_add(&want, 5432, cidr, OWN "new", NULL));
    }
    fsg_sg_rules_sort(&cur.rules);
    T_OK(fsg_sg_diff(&want, &cur, NULL, &p, NULL));
    T_OK(fsg_sg_schedule_make(p, 60, &s));
    T_CHECK(s.fits && s.n_steps == 3);
    T_CHECK(s.steps[0].call == FSG_SG_CALL_MODIFY && fsg_sg_step_count(&s.steps[0]) == 11);
    T_CHECK(s.steps[1].call == FSG_SG_CALL_AUTHORIZE && s.steps[1].n_add == 5);
    T_CHECK(s.steps[2].call == FSG_SG_CALL_REVOKE && s.steps[2].n_remove == 44);
    T_CHECK(s.peak_v4 == 60);
    T_CHECK(s_replay(p, &s, 60) == 0);
    fsg_sg_schedule_clean_up(&s);
    fsg_sg_plan_destroy(p);
    fsg_sg_rules_clean_up(&want);
    fsg_sg_current_clean_up(&cur);
    return 0;
}

/* A stale rule that overlaps a desired one is rewritten into that one (no gap for the sources
 * they share), never into another; a second overlapping desired rule makes it unsafe until that
 * one is in. */
static int s_overlap_pairs_safely(void)
{
    struct fsg_sg_current cur = { 0 };
    struct fsg_sg_rules want = { 0 };
    struct fsg_sg_plan *p = NULL;
    struct fsg_sg_schedule s;
    T_OK(fsg_sg_current_init(&cur, "sg-o"));
    T_OK(s_add(&cur.rules, 5432, "10.0.0.0/16", OWN "old", "sgr-wide"));   /* overlaps B */
    T_OK(s_add(&cur.rules, 5432, "192.168.0.0/24", OWN "old", "sgr-lan")); /* overlaps none */
    T_OK(s_add(&want, 5432, "10.9.0.0/24", OWN "a", NULL));                /* A */
    T_OK(s_add(&want, 5432, "10.0.1.0/24", OWN "b", NULL));                /* B */
    fsg_sg_rules_sort(&cur.rules);
    T_OK(fsg_sg_diff(&want, &cur, NULL, &p, NULL));
    T_OK(fsg_sg_schedule_make(p, 2, &s)); /* full: both must be rewritten */
    T_CHECK(s.fits && s.n_steps == 1 && s.steps[0].call == FSG_SG_CALL_MODIFY);
    T_CHECK(s.steps[0].n_add == 2);
    for (size_t i = 0; i < 2; i++) {
        const struct fsg_sg_rule *x = &p->remove.items[s.steps[0].remove[i]];
        const struct fsg_sg_rule *w = &p->add.items[s.steps[0].add[i]];
        if (strcmp(x->rule_id, "sgr-wide") == 0) {
            char c[FSG_CIDR_STR_MAX];
            T_STR_EQ(fsg_cidr_format(&w->cidr, c), "10.0.1.0/24");
        }
    }
    T_CHECK(s_replay(p, &s, 2) == 0);
    fsg_sg_schedule_clean_up(&s);
    fsg_sg_plan_destroy(p);
    fsg_sg_rules_clean_up(&want);
    fsg_sg_current_clean_up(&cur);
    return 0;
}

/* No safe order: both stale rules cover both new ones, the group is full. Refused up front. */
static int s_no_safe_order(void)
{
    struct fsg_sg_current cur = { 0 };
    struct fsg_sg_rules want = { 0 };
    struct fsg_sg_plan *p = NULL;
    struct fsg_sg_schedule s;
    T_OK(fsg_sg_current_init(&cur, "sg-x"));
    T_OK(s_add(&cur.rules, 5432, "10.0.0.0/16", OWN "old", "sgr-1"));
    T_OK(s_add(&cur.rules, 5432, "10.0.0.0/15", OWN "old", "sgr-2"));
    T_OK(s_add(&want, 5432, "10.0.1.0/24", OWN "a", NULL));
    T_OK(s_add(&want, 5432, "10.0.2.0/24", OWN "b", NULL));
    fsg_sg_rules_sort(&cur.rules);
    T_OK(fsg_sg_diff(&want, &cur, NULL, &p, NULL));
    T_OK(fsg_sg_schedule_make(p, 2, &s));
    T_CHECK(!s.fits);
    T_CHECK(strstr(s.reason, "quota") != NULL && strstr(s.reason, "sg-x") != NULL);
    fsg_sg_schedule_clean_up(&s);
    /* with room for one more it works: authorize one, then the rest */
    T_OK(fsg_sg_schedule_make(p, 3, &s));
    T_CHECK(s.fits);
    T_CHECK(s_replay(p, &s, 3) == 0);
    fsg_sg_schedule_clean_up(&s);
    fsg_sg_plan_destroy(p);
    fsg_sg_rules_clean_up(&want);
    fsg_sg_current_clean_up(&cur);
    return 0;
}

static int s_alloc_failures(void)
{
    struct fsg_sg_current cur = { 0 };
    struct fsg_sg_rules want = { 0 };
    struct fsg_sg_plan *p = NULL;
    T_OK(fsg_sg_current_init(&cur, "sg-a"));
    for (int i = 0; i < 6; i++) {
        char cidr[32], id[32];
        snprintf(cidr, sizeof cidr, "10.1.%d.0/24", i);
        snprintf(id, sizeof id, "sgr-%d", i);
        T_OK(s_add(&cur.rules, 5432, cidr, OWN "old", id));
        snprintf(cidr, sizeof cidr, "10.2.%d.0/24", i);
        T_OK(s_add(&want, 5432, cidr, OWN "new", NULL));
    }
    fsg_sg_rules_sort(&cur.rules);
    T_OK(fsg_sg_diff(&want, &cur, NULL, &p, NULL));
    for (long n = 1; n < 60; n++) {
        struct fsg_sg_schedule s;
        long before = fsg_mem_live();
        fsg_mem_fail_after(n);
        enum fsg_err rc = fsg_sg_schedule_make(p, 8, &s);
        fsg_mem_fail_after(0);
        T_CHECK(rc == FSG_OK || rc == FSG_E_NOMEM);
        fsg_sg_schedule_clean_up(&s);
        T_CHECK(fsg_mem_live() == before);
    }
    fsg_sg_plan_destroy(p);
    fsg_sg_rules_clean_up(&want);
    fsg_sg_current_clean_up(&cur);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "fits", s_fits },
        { "full_group", s_full_group },
        { "overlap_pairs_safely", s_overlap_pairs_safely },
        { "no_safe_order", s_no_safe_order },
        { "alloc_failures", s_alloc_failures },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
