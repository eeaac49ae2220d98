/* policy/impact: which observed connections the desired rules would deny, which rules no
 * connection used. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/impact.h"
#include "policy/model.h"
#include "tests/harness/test.h"

static enum fsg_err s_rule(struct fsg_sg_rules *l, int proto, int from, int to, const char *cidr)
{
    struct fsg_sg_rule r = { .proto = proto, .from_port = from, .to_port = to,
                             .description = "flowseg t" };
    enum fsg_err rc = fsg_cidr_parse(fsg_span_from_cstr(cidr), false, &r.cidr);
    return rc == FSG_OK ? fsg_sg_rules_append(l, &r) : rc;
}

static struct fsg_flow s_flow(const char *eni, const char *src, const char *dst, uint16_t port,
                              uint8_t proto, enum fsg_flow_action action,
                              enum fsg_flow_direction dir, uint64_t records, int64_t last)
{
    struct fsg_flow f = { .port = port, .proto = proto, .action = (uint8_t)action,
                          .direction = (uint8_t)dir, .records = records, .packets = records,
                          .bytes = records * 100, .last_s = last };
    f.first_s = last == FSG_FLOW_TIME_NONE ? last : last - 60;
    snprintf(f.eni, sizeof f.eni, "%s", eni);
    if (fsg_ip_parse(fsg_span_from_cstr(src), &f.src) != FSG_OK ||
        fsg_ip_parse(fsg_span_from_cstr(dst), &f.dst) != FSG_OK) {
        abort(); /* a typo in the test itself */
    }
    return f;
}

static bool s_src_is(const struct fsg_impact_conn *c, const char *ip)
{
    char buf[FSG_IP_STR_MAX];
    return strcmp(fsg_ip_format(&c->src, buf), ip) == 0;
}

static int s_rule_allows(void)
{
    struct fsg_sg_rules l = { 0 };
    T_OK(s_rule(&l, 6, 5432, 5433, "10.0.1.0/24"));  /* 0 */
    T_OK(s_rule(&l, -1, -1, -1, "10.9.0.0/16"));     /* 1 */
    T_OK(s_rule(&l, 1, 8, -1, "10.0.1.0/24"));       /* 2: ICMP echo */
    T_OK(s_rule(&l, 17, 53, 53, "fd00::/8"));        /* 3 */
    static const struct {
        size_t rule;
        const char *src;
        uint16_t port;
        uint8_t proto;
        bool allows;
    } cases[] = {
        { 0, "10.0.1.7", 5432, 6, true },   { 0, "10.0.1.7", 5433, 6, true },
        { 0, "10.0.1.7", 5434, 6, false },  { 0, "10.0.1.7", 5431, 6, false },
        { 0, "10.0.2.7", 5432, 6, false },  { 0, "10.0.1.7", 5432, 17, false },
        { 1, "10.9.3.3", 22, 6, true },     { 1, "10.9.3.3", 0, 1, true },
        { 1, "10.8.3.3", 22, 6, false },    { 2, "10.0.1.9", 0, 1, true },
        { 2, "10.0.1.9", 0, 6, false },     { 3, "fd00::5", 53, 17, true },
        { 3, "10.0.1.7", 53, 17, false },   { 3, "fd00::5", 54, 17, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fsg_ip ip;
        T_OK(fsg_ip_parse(fsg_span_from_cstr(cases[i].src), &ip));
        bool got = fsg_impact_rule_allows(&l.items[cases[i].rule], &ip, cases[i].port,
                                          cases[i].proto);
        if (got != cases[i].allows) {
            fprintf(stderr, "  case %zu: got %d\n", i, got);
            return 1;
        }
    }
    fsg_sg_rules_clean_up(&l);
    return 0;
}

static int s_compute(void)
{
    const char *enis[] = { "eni-db" };
    struct fsg_ip addr;
    T_OK(fsg_ip_parse(fsg_span_from_cstr("10.0.20.11"), &addr));
    struct fsg_impact_target target = { .enis = enis, .n_enis = 1, .addrs = &addr, .n_addrs = 1 };
    struct fsg_sg_rules want = { 0 };
    T_OK(s_rule(&want, 6, 5432, 5432, "10.0.1.0/24"));  /* used */
    T_OK(s_rule(&want, 6, 5432, 5432, "10.0.7.7/32"));  /* unseen */
    T_OK(s_rule(&want, 6, 5432, 5432, "fd00::/64"));    /* used by IPv6 */
    struct fsg_flow flows[] = {
        s_flow("eni-db", "10.0.1.5", "10.0.20.11", 5432, 6, FSG_FLOW_ACCEPT, FSG_FLOW_INGRESS, 12,
               1700000100),
        /* would deny: other client, accepted today, split over ACCEPT and REJECT records */
        s_flow("eni-db", "10.0.4.31", "10.0.20.11", 5432, 6, FSG_FLOW_ACCEPT, FSG_FLOW_INGRESS,
               30, 1700003600),
        s_flow("eni-db", "10.0.4.31", "10.0.20.11", 5432, 6, FSG_FLOW_REJECT, FSG_FLOW_INGRESS,
               10, 1700000000),
        /* would deny: allowed client on a port the policy does not give */
        s_flow("eni-db", "10.0.1.5", "10.0.20.11", 22, 6, FSG_FLOW_REJECT, FSG_FLOW_INGRESS, 3,
               FSG_FLOW_TIME_NONE),
        /* matched by address only (no ENI in the config for it) */
        s_flow("eni-other", "fd00::9", "10.0.20.11", 5432, 6, FSG_FLOW_ACCEPT, FSG_FLOW_INGRESS,
               1, 1700000000),
        /* not the target's: egress, another ENI to another address */
        s_flow("eni-db", "10.0.99.1", "10.0.20.11", 5432, 6, FSG_FLOW_ACCEPT, FSG_FLOW_EGRESS, 5,
               1700000000),
        s_flow("eni-web", "10.0.99.2", "10.0.30.1", 5432, 6, FSG_FLOW_ACCEPT, FSG_FLOW_INGRESS, 5,
               1700000000),
    };
    struct fsg_impact *im = NULL;
    T_OK(fsg_impact_compute(&target, &want, flows, sizeof flows / sizeof flows[0], &im, NULL));
    T_CHECK(im->flows_matched == 5);
    T_CHECK(im->n_conns == 4);
    T_CHECK(s_src_is(&im->conns[0], "10.0.1.5") && im->conns[0].port == 22);
    T_CHECK(s_src_is(&im->conns[1], "10.0.1.5") && im->conns[1].port == 5432);
    T_CHECK(im->conns[1].allowed);
    T_CHECK(im->n_would_deny == 2);
    const struct fsg_impact_conn *d0 = im->would_deny[0], *d1 = im->would_deny[1];
    T_CHECK(s_src_is(d0, "10.0.1.5") && d0->port == 22 && d0->records == 3 && d0->accepted == 0);
    T_CHECK(d0->last_s == FSG_FLOW_TIME_NONE);
    T_CHECK(s_src_is(d1, "10.0.4.31") && d1->port == 5432 && d1->proto == 6);
    T_CHECK(d1->records == 40 && d1->accepted == 30 && d1->last_s == 1700003600);
    T_CHECK(im->allowed_unseen.len == 1);
    char buf[FSG_CIDR_STR_MAX];
    T_STR_EQ(fsg_cidr_format(&im->allowed_unseen.items[0].cidr, buf), "10.0.7.7/32");
    fsg_impact_destroy(im);
    fsg_sg_rules_clean_up(&want);
    return 0;
}

static int s_no_flows(void)
{
    struct fsg_impact_target target = { 0 };
    struct fsg_sg_rules want = { 0 };
    T_OK(s_rule(&want, 6, 5432, 5432, "10.0.1.0/24"));
    struct fsg_impact *im = NULL;
    T_OK(fsg_impact_compute(&target, &want, NULL, 0, &im, NULL));
    T_CHECK(im->n_conns == 0 && im->n_would_deny == 0);
    T_CHECK(im->allowed_unseen.len == 1);
    fsg_impact_destroy(im);
    fsg_impact_destroy(NULL);
    /* An empty desired set denies everything observed. */
    struct fsg_sg_rules none = { 0 };
    const char *enis[] = { "eni-db" };
    struct fsg_impact_target t2 = { .enis = enis, .n_enis = 1 };
    struct fsg_flow f = s_flow("eni-db", "10.0.1.5", "10.0.20.11", 5432, 6, FSG_FLOW_ACCEPT,
                               FSG_FLOW_INGRESS, 1, 1);
    T_OK(fsg_impact_compute(&t2, &none, &f, 1, &im, NULL));
    T_CHECK(im->n_would_deny == 1 && im->allowed_unseen.len == 0);
    fsg_impact_destroy(im);
    fsg_sg_rules_clean_up(&want);
    return 0;
}

static int s_alloc_failures(void)
{
    const char *enis[] = { "eni-db" };
    struct fsg_impact_target target = { .enis = enis, .n_enis = 1 };
    struct fsg_sg_rules want = { 0 };
    T_OK(s_rule(&want, 6, 5432, 5432, "10.0.1.0/24"));
    T_OK(s_rule(&want, 6, 5432, 5432, "10.0.2.0/24"));
    struct fsg_flow f = s_flow("eni-db", "10.0.1.5", "10.0.20.11", 5432, 6, FSG_FLOW_ACCEPT,
                               FSG_FLOW_INGRESS, 1, 1);
    for (long n = 1; n < 20; n++) {
        struct fsg_impact *im = NULL;
        long before = fsg_mem_live();
        fsg_mem_fail_after(n);
        enum fsg_err rc = fsg_impact_compute(&target, &want, &f, 1, &im, NULL);
        fsg_mem_fail_after(0);
        T_CHECK(rc == FSG_OK || (rc == FSG_E_NOMEM && im == NULL));
        fsg_impact_destroy(im);
        T_CHECK(fsg_mem_live() == before);
    }
    fsg_sg_rules_clean_up(&want);
    return 0;
}

/* Effective access: the union of the managed group's final rules (desired + kept) and the
 * interface's other groups, by which rule, what is cut off / newly allowed / a bypass, and who
 * the source is (tests/data/plan/policy.json names 10.0.1.11 "web-1"). */
static int s_effective(void)
{
    struct fsg_sg_rules want = { 0 }, kept = { 0 };
    struct fsg_sg_current other = { 0 };
    struct fsg_policy_model *model = NULL;
    T_OK(s_rule(&want, 6, 5432, 5432, "10.0.1.11/32"));
    T_OK(s_rule(&kept, 6, 5432, 5432, "10.0.8.15/32"));       /* left in the group */
    T_OK(fsg_sg_current_init(&other, "sg-other"));
    T_OK(s_rule(&other.rules, 6, 5432, 5432, "10.0.3.0/24"));  /* another group */
    T_OK(fsg_policy_model_load_file(t_data_path("plan/policy.json"), NULL, &model, NULL));
    const char *enis[] = { "eni-db" };
    struct fsg_impact_target target = { .enis = enis, .n_enis = 1, .group_id = "sg-managed",
                                        .kept = &kept, .others = &other, .n_others = 1,
                                        .model = model };
    struct fsg_flow flows[] = {
        /* policy */
        s_flow("eni-db", "10.0.1.11", "10.0.20.11", 5432, 6, FSG_FLOW_ACCEPT, FSG_FLOW_INGRESS,
               9, 100),
        /* kept rule: a bypass */
        s_flow("eni-db", "10.0.8.15", "10.0.20.11", 5432, 6, FSG_FLOW_ACCEPT, FSG_FLOW_INGRESS,
               4, 100),
        /* another group: a bypass; rejected today, so also newly allowed */
        s_flow("eni-db", "10.0.3.17", "10.0.20.11", 5432, 6, FSG_FLOW_REJECT, FSG_FLOW_INGRESS,
               2, 100),
        /* nothing: cut off, two ports of one source count as one source */
        s_flow("eni-db", "10.0.4.31", "10.0.20.11", 5432, 6, FSG_FLOW_ACCEPT, FSG_FLOW_INGRESS,
               3, 100),
        s_flow("eni-db", "10.0.4.31", "10.0.20.11", 5433, 6, FSG_FLOW_ACCEPT, FSG_FLOW_INGRESS,
               3, 100),
        /* nothing, rejected today: still denied, not cut off */
        s_flow("eni-db", "10.0.7.8", "10.0.20.11", 5432, 6, FSG_FLOW_REJECT, FSG_FLOW_INGRESS,
               1, 100),
    };
    struct fsg_impact *im = NULL;
    T_OK(fsg_impact_compute(&target, &want, flows, 6, &im, NULL));
    T_CHECK(im->n_conns == 6);
    const struct fsg_impact_conn *c = im->conns; /* sorted by source */
    T_CHECK(s_src_is(&c[0], "10.0.1.11") && c[0].via == FSG_IMPACT_VIA_POLICY);
    T_STR_EQ(c[0].via_group, "sg-managed");
    T_STR_EQ(c[0].workload, "web-1");
    T_CHECK(c[0].n_labels == 3);
    T_CHECK(s_src_is(&c[1], "10.0.3.17") && c[1].via == FSG_IMPACT_VIA_OTHER);
    T_STR_EQ(c[1].via_group, "sg-other");
    T_CHECK(c[1].workload == NULL);
    T_CHECK(s_src_is(&c[2], "10.0.4.31") && c[2].via == FSG_IMPACT_VIA_NONE && !c[2].allowed_after);
    T_CHECK(c[2].via_group == NULL);
    T_CHECK(s_src_is(&c[5], "10.0.8.15") && c[5].via == FSG_IMPACT_VIA_KEPT);
    T_CHECK(im->n_would_deny == 5);
    T_CHECK(im->n_cut_off == 2 && im->n_cut_sources == 1);
    T_CHECK(s_src_is(im->cut_off[0], "10.0.4.31") && im->cut_off[1]->port == 5433);
    T_CHECK(im->n_bypass == 2 && s_src_is(im->bypass[0], "10.0.3.17") &&
            s_src_is(im->bypass[1], "10.0.8.15"));
    T_CHECK(im->n_newly_allowed == 1 && s_src_is(im->newly_allowed[0], "10.0.3.17"));
    T_STR_EQ(fsg_impact_via_name(c[1].via), "other_group");
    fsg_impact_destroy(im);
    /* The managed group listed among the "others" is not counted twice as another group. */
    struct fsg_sg_current self = { 0 };
    T_OK(fsg_sg_current_init(&self, "sg-managed"));
    T_OK(s_rule(&self.rules, 6, 5432, 5432, "10.0.4.0/24"));
    target.others = &self;
    T_OK(fsg_impact_compute(&target, &want, flows, 6, &im, NULL));
    T_CHECK(im->n_cut_sources == 1);
    fsg_impact_destroy(im);
    fsg_sg_current_clean_up(&self);
    fsg_policy_model_destroy(model);
    fsg_sg_current_clean_up(&other);
    fsg_sg_rules_clean_up(&kept);
    fsg_sg_rules_clean_up(&want);
    return 0;
}

/* 120 of 123 observed clients cut off: the count that guards.max_cut_sources checks. */
static int s_many_cut(void)
{
    struct fsg_sg_rules want = { 0 };
    struct fsg_flow flows[123];
    char ip[32];
    for (int i = 0; i < 123; i++) {
        snprintf(ip, sizeof ip, "10.0.%d.%d", 1 + i / 100, 1 + i % 100);
        flows[i] = s_flow("eni-db", ip, "10.0.20.11", 5432, 6, FSG_FLOW_ACCEPT, FSG_FLOW_INGRESS,
                          1, 100);
    }
    T_OK(s_rule(&want, 6, 5432, 5432, "10.0.2.21/32"));
    T_OK(s_rule(&want, 6, 5432, 5432, "10.0.2.22/32"));
    T_OK(s_rule(&want, 6, 5432, 5432, "10.0.2.23/32"));
    const char *enis[] = { "eni-db" };
    struct fsg_impact_target target = { .enis = enis, .n_enis = 1 };
    struct fsg_impact *im = NULL;
    T_OK(fsg_impact_compute(&target, &want, flows, 123, &im, NULL));
    T_CHECK(im->n_conns == 123 && im->n_cut_sources == 120);
    fsg_impact_destroy(im);
    fsg_sg_rules_clean_up(&want);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "effective", s_effective },
        { "many_cut", s_many_cut },
        { "rule_allows", s_rule_allows },
        { "compute", s_compute },
        { "no_flows", s_no_flows },
        { "alloc_failures", s_alloc_failures },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
