/* policy/guards: each guard refuses on its own, with its reason, and only then. */
#include <stdio.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/guards.h"
#include "tests/harness/test.h"

static const struct fsg_guard_limits s_defaults = { .max_removals = 10, .max_rules = 60 };

static enum fsg_err s_add(struct fsg_sg_rules *l, const char *cidr)
{
    struct fsg_sg_rule r = { .proto = 6, .from_port = 5432, .to_port = 5432,
                             .description = "flowseg r" };
    enum fsg_err rc = fsg_cidr_parse(fsg_span_from_cstr(cidr), false, &r.cidr);
    return rc == FSG_OK ? fsg_sg_rules_append(l, &r) : rc;
}

/* A plan by hand: n_desired private IPv4 rules, all added; n_remove removals. */
static enum fsg_err s_plan(size_t n_desired, size_t n_remove, struct fsg_sg_plan **ret)
{
    struct fsg_sg_plan *p = NULL;
    enum fsg_err rc = fsg_sg_plan_new("sg-g", &p);
    for (size_t i = 0; rc == FSG_OK && i < n_desired; i++) {
        char cidr[32];
        snprintf(cidr, sizeof cidr, "10.0.%zu.%zu/32", i / 250, i % 250);
        rc = s_add(&p->desired, cidr);
        rc = rc ? rc : s_add(&p->add, cidr);
    }
    for (size_t i = 0; rc == FSG_OK && i < n_remove; i++) {
        char cidr[32];
        snprintf(cidr, sizeof cidr, "10.9.%zu.%zu/32", i / 250, i % 250);
        rc = s_add(&p->remove, cidr);
        p->current_v4++;
    }
    if (rc != FSG_OK) {
        fsg_sg_plan_destroy(p);
        return rc;
    }
    *ret = p;
    return FSG_OK;
}

static int s_passes(void)
{
    struct fsg_sg_plan *p = NULL;
    char reason[FSG_GUARD_REASON_MAX] = "junk";
    T_OK(s_plan(3, 2, &p));
    T_CHECK(fsg_guards_check(&s_defaults, p, reason, sizeof reason) == 0);
    T_STR_EQ(reason, "");
    T_CHECK(fsg_guards_check(&s_defaults, p, NULL, 0) == 0);
    fsg_sg_plan_destroy(p);
    return 0;
}

static int s_empty(void)
{
    struct fsg_sg_plan *p = NULL;
    char reason[FSG_GUARD_REASON_MAX];
    T_OK(s_plan(0, 1, &p));
    T_CHECK(fsg_guards_check(&s_defaults, p, reason, sizeof reason) == FSG_GUARD_EMPTY);
    T_CHECK(strstr(reason, "allow_empty") != NULL);
    T_CHECK(strstr(reason, "sg-g") != NULL);
    struct fsg_guard_limits l = s_defaults;
    l.allow_empty = true;
    T_CHECK(fsg_guards_check(&l, p, reason, sizeof reason) == 0);
    fsg_sg_plan_destroy(p);
    return 0;
}

static int s_public(void)
{
    static const struct {
        const char *cidr;
        bool is_public;
    } cases[] = {
        { "8.8.8.8/32", true },     { "0.0.0.0/0", true },       { "2600::/64", true },
        { "10.1.2.3/32", false },   { "192.168.0.0/16", false }, { "172.16.5.0/24", false },
        { "100.64.1.1/32", false }, { "fd00::1/128", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fsg_sg_plan *p = NULL;
        char reason[FSG_GUARD_REASON_MAX];
        T_OK(s_plan(1, 0, &p));
        T_OK(s_add(&p->desired, cases[i].cidr));
        unsigned got = fsg_guards_check(&s_defaults, p, reason, sizeof reason);
        if (got != (cases[i].is_public ? FSG_GUARD_PUBLIC : 0u)) {
            fprintf(stderr, "  %s: got %u (%s)\n", cases[i].cidr, got, reason);
            return 1;
        }
        if (cases[i].is_public) {
            T_CHECK(strstr(reason, "allow_public") != NULL);
            T_CHECK(strstr(reason, cases[i].cidr) != NULL);
            struct fsg_guard_limits l = s_defaults;
            l.allow_public = true;
            T_CHECK(fsg_guards_check(&l, p, NULL, 0) == 0);
        }
        fsg_sg_plan_destroy(p);
    }
    return 0;
}

static int s_removals(void)
{
    struct fsg_sg_plan *p = NULL;
    char reason[FSG_GUARD_REASON_MAX];
    struct fsg_guard_limits l = s_defaults;
    T_OK(s_plan(1, 3, &p));
    l.max_removals = 3;
    T_CHECK(fsg_guards_check(&l, p, reason, sizeof reason) == 0);
    l.max_removals = 2;
    T_CHECK(fsg_guards_check(&l, p, reason, sizeof reason) == FSG_GUARD_REMOVALS);
    T_CHECK(strstr(reason, "max_removals: 3 rules") != NULL);
    T_CHECK(strstr(reason, "limit is 2") != NULL);
    l.force = true;
    T_CHECK(fsg_guards_check(&l, p, reason, sizeof reason) == 0);
    l.force = false;
    l.max_removals = -1;
    T_CHECK(fsg_guards_check(&l, p, reason, sizeof reason) == 0);
    l.max_removals = 0;
    T_CHECK(fsg_guards_check(&l, p, reason, sizeof reason) == FSG_GUARD_REMOVALS);
    fsg_sg_plan_destroy(p);
    return 0;
}

/* IPv4 and IPv6 are counted apart, as EC2 does; foreign rules count in both. */
static int s_max_rules(void)
{
    struct fsg_sg_plan *p = NULL;
    char reason[FSG_GUARD_REASON_MAX];
    struct fsg_guard_limits l = s_defaults;
    T_OK(s_plan(3, 1, &p));
    p->current_v4 = 2; /* 2 now - 1 removed + 3 added = 4 */
    size_t v4, v6;
    fsg_guards_rules_after(p, &v4, &v6);
    T_CHECK(v4 == 4 && v6 == 0);
    l.max_rules = 4;
    T_CHECK(fsg_guards_check(&l, p, reason, sizeof reason) == 0);
    l.max_rules = 3;
    T_CHECK(fsg_guards_check(&l, p, reason, sizeof reason) == FSG_GUARD_RULES);
    T_CHECK(strstr(reason, "4 IPv4 and 0 IPv6") != NULL);
    l.max_rules = 0; /* no limit */
    T_CHECK(fsg_guards_check(&l, p, reason, sizeof reason) == 0);
    /* Three IPv6 rules fit a quota of 4 next to four IPv4 ones. */
    l.max_rules = 4;
    T_OK(s_add(&p->add, "fd00::1/128"));
    T_OK(s_add(&p->add, "fd00::2/128"));
    T_OK(s_add(&p->add, "fd00::3/128"));
    T_CHECK(fsg_guards_check(&l, p, reason, sizeof reason) == 0);
    p->n_foreign = 1; /* 5 IPv4, 4 IPv6 */
    T_CHECK(fsg_guards_check(&l, p, reason, sizeof reason) == FSG_GUARD_RULES);
    fsg_sg_plan_destroy(p);
    return 0;
}

static int s_all_reasons_joined(void)
{
    struct fsg_sg_plan *p = NULL;
    char reason[FSG_GUARD_REASON_MAX];
    struct fsg_guard_limits l = { .max_removals = 0, .max_rules = 1 };
    T_OK(s_plan(0, 2, &p));
    p->current_v4 = 5; /* 5 - 2 = 3 > 1 */
    unsigned got = fsg_guards_check(&l, p, reason, sizeof reason);
    T_CHECK(got == (FSG_GUARD_EMPTY | FSG_GUARD_REMOVALS | FSG_GUARD_RULES));
    T_CHECK(strstr(reason, "allow_empty") != NULL);
    T_CHECK(strstr(reason, "; max_removals") != NULL);
    T_CHECK(strstr(reason, "; max_rules") != NULL);
    /* A tiny buffer truncates, never overflows. */
    char small[16];
    T_CHECK(fsg_guards_check(&l, p, small, sizeof small) == got);
    T_CHECK(strlen(small) == sizeof small - 1);
    fsg_sg_plan_destroy(p);
    return 0;
}

/* guards.max_cut_sources: a count over the limit refuses (and --force does not help); at the
 * limit passes; < 0 = no limit; the reason follows the ones already there. */
static int s_cut(void)
{
    struct fsg_guard_limits l = s_defaults;
    char reason[FSG_GUARD_REASON_MAX] = "allow_public: x";
    l.max_cut_sources = 10;
    T_CHECK(fsg_guards_check_cut(&l, 2, "sg-1", reason, sizeof reason) == 0);
    T_CHECK(fsg_guards_check_cut(&l, 10, "sg-1", reason, sizeof reason) == 0);
    T_STR_EQ(reason, "allow_public: x");
    l.force = true;
    T_CHECK(fsg_guards_check_cut(&l, 120, "sg-1", reason, sizeof reason) == FSG_GUARD_CUT);
    T_CHECK(strncmp(reason, "allow_public: x; max_cut_sources: 120 observed source(s)", 56) == 0);
    T_CHECK(strstr(reason, "sg-1") != NULL && strstr(reason, "the limit is 10") != NULL);
    l.max_cut_sources = 0;
    T_CHECK(fsg_guards_check_cut(&l, 1, "sg-1", NULL, 0) == FSG_GUARD_CUT);
    T_CHECK(fsg_guards_check_cut(&l, 0, "sg-1", NULL, 0) == 0);
    l.max_cut_sources = -1;
    T_CHECK(fsg_guards_check_cut(&l, 100000, "sg-1", NULL, 0) == 0);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "cut", s_cut },
        { "passes", s_passes },
        { "empty", s_empty },
        { "public", s_public },
        { "removals", s_removals },
        { "max_rules", s_max_rules },
        { "all_reasons_joined", s_all_reasons_joined },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
