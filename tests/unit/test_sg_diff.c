/* policy/sg_diff: desired vs current, ownership, ordering, hash, idempotence. */
#include <stdio.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/sg_diff.h"
#include "tests/harness/test.h"

#define OWN "flowseg /orgs/1/sec_policy/active/rule_sets/1/sec_rules/"

static enum fsg_err s_add(struct fsg_sg_rules *l, int proto, int from, int to, const char *cidr,
                          const char *desc, const char *id)
{
    struct fsg_sg_rule r = { .proto = proto, .from_port = from, .to_port = to,
                             .description = (char *)desc, .rule_id = (char *)id };
    enum fsg_err rc = fsg_cidr_parse(fsg_span_from_cstr(cidr), false, &r.cidr);
    return rc == FSG_OK ? fsg_sg_rules_append(l, &r) : rc;
}

static bool s_is(const struct fsg_sg_rule *r, int port, const char *cidr)
{
    char buf[FSG_CIDR_STR_MAX];
    return r->from_port == port && strcmp(fsg_cidr_format(&r->cidr, buf), cidr) == 0;
}

static enum fsg_err s_current(struct fsg_sg_current *cur)
{
    enum fsg_err rc = fsg_sg_current_init(cur, "sg-1");
    /* B: desired and present (owned, other description) */
    rc = rc ? rc : s_add(&cur->rules, 6, 5432, 5432, "10.0.0.2/32", OWN "old", "sgr-b");
    /* D: owned, no longer desired */
    rc = rc ? rc : s_add(&cur->rules, 6, 5432, 5432, "10.0.0.4/32", OWN "9", "sgr-d");
    /* E: not owned, not desired */
    rc = rc ? rc : s_add(&cur->rules, 6, 22, 22, "10.0.0.0/8", "manual", "sgr-e");
    /* F: desired, present but not owned */
    rc = rc ? rc : s_add(&cur->rules, 6, 5432, 5432, "10.0.0.6/32", NULL, "sgr-f");
    if (rc == FSG_OK) {
        struct fsg_sg_foreign_rule f = { .proto = 6, .from_port = 5432, .to_port = 5432,
                                         .peer = "sg-9", .rule_id = "sgr-g" };
        rc = fsg_sg_current_add_foreign(cur, &f);
    }
    fsg_sg_rules_sort(&cur->rules);
    return rc;
}

static enum fsg_err s_desired(struct fsg_sg_rules *d)
{
    enum fsg_err rc = s_add(d, 6, 5432, 5432, "10.0.0.3/32", OWN "3", NULL);      /* C */
    rc = rc ? rc : s_add(d, 6, 5432, 5432, "10.0.0.1/32", OWN "1", NULL);         /* A */
    rc = rc ? rc : s_add(d, 6, 5432, 5432, "10.0.0.2/32", OWN "2", NULL);         /* B */
    rc = rc ? rc : s_add(d, 6, 5432, 5432, "10.0.0.2/32", OWN "2bis", NULL);      /* B again */
    rc = rc ? rc : s_add(d, 6, 5432, 5432, "10.0.0.6/32", OWN "6", NULL);         /* F */
    rc = rc ? rc : s_add(d, 6, 5432, 5432, "2001:db8::1/128", OWN "v6", NULL);    /* IPv6 */
    return rc;
}

/* ownership "rules": only "flowseg " rules go; the others (and SG references) are kept. */
static int s_rules_ownership(void)
{
    struct fsg_sg_current cur = { 0 };
    struct fsg_sg_rules want = { 0 };
    struct fsg_sg_plan *p = NULL;
    struct fsg_sg_diff_options o = { .ownership = FSG_SG_OWN_RULES };
    T_OK(s_current(&cur));
    T_OK(s_desired(&want));
    T_OK(fsg_sg_diff(&want, &cur, &o, &p, NULL));
    T_CHECK(p->ownership == FSG_SG_OWN_RULES);
    T_CHECK(p->n_remove_foreign == 0);
    T_STR_EQ(fsg_sg_removal_reason(p->remove.items[0].description),
             "not in the policy any more (flowseg rule)");
    T_STR_EQ(p->group_id, "sg-1");
    T_CHECK(p->desired.len == 5); /* deduplicated */
    T_CHECK(p->add.len == 3);
    T_CHECK(s_is(&p->add.items[0], 5432, "10.0.0.1/32"));
    T_CHECK(s_is(&p->add.items[1], 5432, "10.0.0.3/32"));
    T_CHECK(s_is(&p->add.items[2], 5432, "2001:db8::1/128"));
    T_CHECK(p->remove.len == 1);
    T_CHECK(s_is(&p->remove.items[0], 5432, "10.0.0.4/32"));
    T_STR_EQ(p->remove.items[0].rule_id, "sgr-d");
    T_CHECK(p->kept.len == 1);
    T_STR_EQ(p->kept.items[0].rule_id, "sgr-e");
    T_CHECK(p->unchanged == 2); /* B and F (equal permission, whatever the description) */
    T_CHECK(p->n_foreign == 1);
    T_CHECK(p->current_v4 == 4 && p->current_v6 == 0);
    T_CHECK(fsg_sg_plan_has_changes(p));
    char h[FSG_SG_HASH_HEX_LEN + 1];
    T_OK(fsg_sg_current_hash(&cur, h, NULL));
    T_STR_EQ(p->state_hash, h);
    fsg_sg_plan_destroy(p);
    fsg_sg_rules_clean_up(&want);
    fsg_sg_current_clean_up(&cur);
    return 0;
}

/* ownership "group" (the default, opts NULL): every rule the policy does not yield goes,
 * whoever added it, SG references included (tamper protection). */
static int s_group_ownership(void)
{
    struct fsg_sg_current cur = { 0 };
    struct fsg_sg_rules want = { 0 };
    struct fsg_sg_plan *p = NULL;
    T_OK(s_current(&cur));
    T_OK(s_desired(&want));
    T_OK(fsg_sg_diff(&want, &cur, NULL, &p, NULL));
    T_CHECK(p->ownership == FSG_SG_OWN_GROUP);
    T_STR_EQ(fsg_sg_ownership_name(p->ownership), "group");
    T_CHECK(p->remove.len == 2);
    T_CHECK(s_is(&p->remove.items[0], 22, "10.0.0.0/8")); /* sorted: port 22 first */
    T_CHECK(s_is(&p->remove.items[1], 5432, "10.0.0.4/32"));
    T_STR_EQ(fsg_sg_removal_reason(p->remove.items[0].description),
             "not in the policy, added outside flowseg");
    T_CHECK(p->kept.len == 0);
    T_CHECK(p->n_foreign == 1);
    T_CHECK(p->n_remove_foreign == 1); /* the SG reference goes too, by its id */
    T_STR_EQ(p->remove_foreign[0].rule_id, "sgr-g");
    T_STR_EQ(p->remove_foreign[0].peer, "sg-9");
    T_CHECK(fsg_sg_plan_n_removals(p) == 3);
    fsg_sg_plan_destroy(p);
    fsg_sg_rules_clean_up(&want);
    fsg_sg_current_clean_up(&cur);
    return 0;
}

/* Applying a plan and diffing again gives no change (invariant 8). */
static int s_idempotent(void)
{
    struct fsg_sg_current cur = { 0 }, next = { 0 };
    struct fsg_sg_rules want = { 0 };
    struct fsg_sg_plan *p = NULL, *p2 = NULL;
    T_OK(s_current(&cur));
    T_OK(s_desired(&want));
    T_OK(fsg_sg_diff(&want, &cur, NULL, &p, NULL));
    T_OK(fsg_sg_current_init(&next, "sg-1"));
    for (size_t i = 0; i < cur.rules.len; i++) {
        bool removed = false;
        for (size_t j = 0; j < p->remove.len; j++) {
            removed |= fsg_sg_rule_cmp(&cur.rules.items[i], &p->remove.items[j]) == 0;
        }
        if (!removed) {
            T_OK(fsg_sg_rules_append(&next.rules, &cur.rules.items[i]));
        }
    }
    for (size_t j = 0; j < p->add.len; j++) {
        T_OK(fsg_sg_rules_append(&next.rules, &p->add.items[j]));
        T_CHECK(fsg_sg_rule_is_owned(p->add.items[j].description));
    }
    T_OK(fsg_sg_diff(&want, &next, NULL, &p2, NULL));
    T_CHECK(!fsg_sg_plan_has_changes(p2));
    T_CHECK(p2->unchanged == 5);
    T_CHECK(strcmp(p->state_hash, p2->state_hash) != 0);
    fsg_sg_plan_destroy(p);
    fsg_sg_plan_destroy(p2);
    fsg_sg_rules_clean_up(&want);
    fsg_sg_current_clean_up(&cur);
    fsg_sg_current_clean_up(&next);
    return 0;
}

static int s_empty_both(void)
{
    struct fsg_sg_current cur = { 0 };
    struct fsg_sg_rules want = { 0 };
    struct fsg_sg_plan *p = NULL;
    T_OK(fsg_sg_current_init(&cur, "sg-e"));
    T_OK(fsg_sg_diff(&want, &cur, NULL, &p, NULL));
    T_CHECK(!fsg_sg_plan_has_changes(p));
    T_CHECK(p->unchanged == 0 && p->desired.len == 0);
    fsg_sg_plan_destroy(p);
    fsg_sg_current_clean_up(&cur);
    T_CHECK(!fsg_sg_plan_has_changes(NULL));
    return 0;
}

/* EC2 stores "all protocols" without ports; a desired 0-65535 on proto -1 is the same rule. */
static int s_normalized_ports_match(void)
{
    struct fsg_sg_current cur = { 0 };
    struct fsg_sg_rules want = { 0 };
    struct fsg_sg_plan *p = NULL;
    T_OK(fsg_sg_current_init(&cur, "sg-n"));
    T_OK(s_add(&cur.rules, -1, -1, -1, "10.0.0.0/8", OWN "x", "sgr-1"));
    T_OK(s_add(&want, -1, 0, 65535, "10.0.0.0/8", OWN "x", NULL));
    T_OK(fsg_sg_diff(&want, &cur, NULL, &p, NULL));
    T_CHECK(!fsg_sg_plan_has_changes(p));
    T_CHECK(p->unchanged == 1);
    T_CHECK(p->desired.items[0].from_port == -1);
    fsg_sg_plan_destroy(p);
    fsg_sg_rules_clean_up(&want);
    fsg_sg_current_clean_up(&cur);
    return 0;
}

/* A desired rule without the "flowseg " mark gets it, or no later run could remove it. */
static int s_add_gets_owned_description(void)
{
    struct fsg_sg_current cur = { 0 };
    struct fsg_sg_rules want = { 0 };
    struct fsg_sg_plan *p = NULL;
    T_OK(fsg_sg_current_init(&cur, "sg-d"));
    T_OK(s_add(&want, 6, 1, 1, "10.0.0.1/32", NULL, NULL));
    T_OK(s_add(&want, 6, 2, 2, "10.0.0.1/32", "rule 7", NULL));
    T_OK(fsg_sg_diff(&want, &cur, NULL, &p, NULL));
    T_CHECK(p->add.len == 2);
    T_STR_EQ(p->add.items[0].description, "flowseg (no provenance)");
    T_STR_EQ(p->add.items[1].description, "flowseg rule 7");
    T_CHECK(!fsg_sg_rule_is_owned(NULL));
    T_CHECK(!fsg_sg_rule_is_owned("flowseg"));
    T_CHECK(!fsg_sg_rule_is_owned("Flowseg x"));
    fsg_sg_plan_destroy(p);
    fsg_sg_rules_clean_up(&want);
    fsg_sg_current_clean_up(&cur);
    return 0;
}

/* Two current rules with one permission (a hand-written state): the second is stale. */
static int s_duplicate_current(void)
{
    struct fsg_sg_current cur = { 0 };
    struct fsg_sg_rules want = { 0 };
    struct fsg_sg_plan *p = NULL;
    T_OK(fsg_sg_current_init(&cur, "sg-x"));
    T_OK(s_add(&cur.rules, 6, 1, 1, "10.0.0.1/32", OWN "a", "sgr-1"));
    T_OK(s_add(&cur.rules, 6, 1, 1, "10.0.0.1/32", OWN "b", "sgr-2"));
    T_OK(s_add(&want, 6, 1, 1, "10.0.0.1/32", OWN "a", NULL));
    T_OK(fsg_sg_diff(&want, &cur, NULL, &p, NULL));
    T_CHECK(p->unchanged == 1 && p->remove.len == 1 && p->add.len == 0);
    fsg_sg_plan_destroy(p);
    fsg_sg_rules_clean_up(&want);
    fsg_sg_current_clean_up(&cur);
    return 0;
}

static int s_alloc_failures(void)
{
    struct fsg_sg_current cur = { 0 };
    struct fsg_sg_rules want = { 0 };
    T_OK(s_current(&cur));
    T_OK(s_desired(&want));
    for (long n = 1; n < 200; n++) {
        struct fsg_sg_plan *p = NULL;
        long before = fsg_mem_live();
        fsg_mem_fail_after(n);
        enum fsg_err rc = fsg_sg_diff(&want, &cur, NULL, &p, NULL);
        fsg_mem_fail_after(0);
        T_CHECK(rc == FSG_OK || (rc == FSG_E_NOMEM && p == NULL));
        fsg_sg_plan_destroy(p);
        T_CHECK(fsg_mem_live() == before);
    }
    fsg_sg_rules_clean_up(&want);
    fsg_sg_current_clean_up(&cur);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "rules_ownership", s_rules_ownership },
        { "group_ownership", s_group_ownership },
        { "idempotent", s_idempotent },
        { "empty_both", s_empty_both },
        { "normalized_ports_match", s_normalized_ports_match },
        { "add_gets_owned_description", s_add_gets_owned_description },
        { "duplicate_current", s_duplicate_current },
        { "alloc_failures", s_alloc_failures },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
