/* policy/plan + policy/report: the json shape (golden), text/markdown facts, a self-contained
 * html page, and the saved plan round trip. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/plan.h"
#include "policy/report.h"
#include "tests/harness/test.h"

#define SG "sg-0123456789abcdef0"
#define HREF "flowseg /orgs/1/sec_policy/active/rule_sets/24/sec_rules/"

static enum fsg_err s_rule(struct fsg_sg_rules *l, int proto, int from, int to, const char *cidr,
                           const char *desc, const char *id)
{
    struct fsg_sg_rule r = { .proto = proto, .from_port = from, .to_port = to,
                             .description = (char *)desc, .rule_id = (char *)id };
    enum fsg_err rc = fsg_cidr_parse(fsg_span_from_cstr(cidr), false, &r.cidr);
    return rc == FSG_OK ? fsg_sg_rules_append(l, &r) : rc;
}

static struct fsg_flow s_flow(const char *src, uint16_t port, enum fsg_flow_action action,
                              uint64_t records, int64_t last)
{
    struct fsg_flow f = { .port = port, .proto = 6, .action = (uint8_t)action,
                          .direction = FSG_FLOW_INGRESS, .records = records, .last_s = last };
    snprintf(f.eni, sizeof f.eni, "eni-0a1b2c3d4e5f60001");
    if (fsg_ip_parse(fsg_span_from_cstr(src), &f.src) != FSG_OK ||
        fsg_ip_parse(fsg_span_from_cstr("10.0.20.11"), &f.dst) != FSG_OK) {
        abort(); /* a typo in the test itself */
    }
    return f;
}

struct s_fixture {
    struct fsg_sg_rules desired;
    struct fsg_sg_current current;
    struct fsg_sg_current empty;
    struct fsg_plan *plan;
};

static enum fsg_err s_orders(struct s_fixture *fx)
{
    enum fsg_err rc = s_rule(&fx->desired, 6, 5432, 5432, "10.0.1.11/32", HREF "41", NULL);
    rc = rc ? rc : s_rule(&fx->desired, 6, 5432, 5432, "10.0.1.12/32", HREF "41", NULL);
    rc = rc ? rc : s_rule(&fx->desired, 6, 5432, 5432, "10.0.9.0/28", HREF "43", NULL);
    rc = rc ? rc : s_rule(&fx->desired, 6, 5432, 5432, "fd00:10::/64", HREF "44", NULL);
    rc = rc ? rc : fsg_sg_current_init(&fx->current, SG);
    rc = rc ? rc : s_rule(&fx->current.rules, 6, 5432, 5432, "10.0.1.11/32", HREF "41", "sgr-1");
    rc = rc ? rc : s_rule(&fx->current.rules, 6, 5432, 5432, "10.0.4.0/24", HREF "12", "sgr-2");
    rc = rc ? rc : s_rule(&fx->current.rules, 6, 22, 22, "10.0.0.0/8", "manual ssh", "sgr-3");
    if (rc == FSG_OK) {
        struct fsg_sg_foreign_rule f = { .proto = 6, .from_port = 5432, .to_port = 5432,
                                         .peer = "sg-0fedcba9876543210", .rule_id = "sgr-4" };
        rc = fsg_sg_current_add_foreign(&fx->current, &f);
    }
    fsg_sg_rules_sort(&fx->current.rules);
    struct fsg_flow flows[] = {
        s_flow("10.0.1.11", 5432, FSG_FLOW_ACCEPT, 120, 1700003000),
        s_flow("10.0.4.31", 5432, FSG_FLOW_ACCEPT, 40, 1700003600),
        s_flow("10.0.9.3", 5432, FSG_FLOW_REJECT, 2, FSG_FLOW_TIME_NONE),
    };
    const char *enis[] = { "eni-0a1b2c3d4e5f60001" };
    struct fsg_impact_target it = { .enis = enis, .n_enis = 1 };
    const char *warnings[] = { "rule /orgs/1/sec_policy/active/rule_sets/24/sec_rules/42: fqdn "
                               "dba-vpn.example.com cannot be a security-group source" };
    struct fsg_guard_limits guards = { .max_removals = 10, .max_rules = 60,
                                       .max_cut_sources = 10 };
    /* ownership "rules": the manual ssh rule and the SG reference stay (and are reported) */
    static const struct fsg_sg_diff_options shared = { .ownership = FSG_SG_OWN_RULES };
    struct fsg_plan_inputs in = { .name = "orders-db", .security_group = SG,
                                  .desired = &fx->desired, .warnings = warnings, .n_warnings = 1,
                                  .current = &fx->current, .diff = &shared,
                                  .guards = &guards, .has_flows = true,
                                  .impact_target = &it, .flows = flows, .n_flows = 3 };
    return rc ? rc : fsg_plan_add(fx->plan, &in, NULL);
}

/* A second target: nothing desired (refused), hostile text in its name and warning. */
static enum fsg_err s_hostile(struct s_fixture *fx)
{
    static const struct fsg_sg_rules none = { 0 };
    enum fsg_err rc = fsg_sg_current_init(&fx->empty, "sg-0aaaaaaaaaaaaaaa1");
    const char *warnings[] = { "<script>alert(1)</script> | see https://evil.example.com/x.js" };
    struct fsg_guard_limits guards = { .max_removals = 10, .max_rules = 60,
                                       .max_cut_sources = 10 };
    struct fsg_plan_inputs in = { .name = "billing<db>&\"x\"", .security_group =
                                  "sg-0aaaaaaaaaaaaaaa1", .desired = &none, .warnings = warnings,
                                  .n_warnings = 1, .current = &fx->empty, .guards = &guards };
    return rc ? rc : fsg_plan_add(fx->plan, &in, NULL);
}

static enum fsg_err s_fixture(struct s_fixture *fx)
{
    *fx = (struct s_fixture){ 0 };
    enum fsg_err rc = fsg_plan_new(&fx->plan);
    rc = rc ? rc : s_orders(fx);
    return rc ? rc : s_hostile(fx);
}

static void s_fixture_clean_up(struct s_fixture *fx)
{
    fsg_plan_destroy(fx->plan);
    fsg_sg_rules_clean_up(&fx->desired);
    fsg_sg_current_clean_up(&fx->current);
    fsg_sg_current_clean_up(&fx->empty);
}

static int s_plan_facts(void)
{
    struct s_fixture fx;
    T_OK(s_fixture(&fx));
    T_CHECK(fx.plan->n_targets == 2);
    const struct fsg_plan_target *t = &fx.plan->targets[0];
    T_CHECK(t->sg->add.len == 3 && t->sg->remove.len == 1 && t->sg->unchanged == 1);
    T_CHECK(t->refused == NULL);
    T_CHECK(t->n_warnings == 3); /* compiler, kept ssh rule, SG reference */
    T_CHECK(strstr(t->warnings[1], "manual ssh") != NULL);
    T_CHECK(strstr(t->warnings[1], "left in place") != NULL);
    T_CHECK(strstr(t->warnings[2], "sg-0fedcba9876543210") != NULL);
    T_CHECK(t->impact->n_would_deny == 1);
    const struct fsg_plan_target *b = &fx.plan->targets[1];
    T_CHECK(b->refused != NULL && b->refused_guards == FSG_GUARD_EMPTY);
    T_CHECK(b->impact == NULL);
    T_CHECK(fsg_plan_has_changes(fx.plan));
    T_CHECK(fsg_plan_is_refused(fx.plan));
    size_t add, rm;
    fsg_plan_totals(fx.plan, &add, &rm);
    T_CHECK(add == 3 && rm == 1);
    s_fixture_clean_up(&fx);
    return 0;
}

static int s_render(struct s_fixture *fx, enum fsg_report_format f, struct fsg_buf *out)
{
    struct fsg_error err = { 0 };
    enum fsg_err rc = fsg_report_render(fx->plan, f, out, &err);
    if (rc != FSG_OK) {
        fprintf(stderr, "  render: %s\n", err.msg);
    }
    return rc == FSG_OK ? 0 : 1;
}

static int s_json_golden(void)
{
    struct s_fixture fx;
    struct fsg_buf out = FSG_BUF_INIT, golden = FSG_BUF_INIT;
    T_OK(s_fixture(&fx));
    T_CHECK(s_render(&fx, FSG_REPORT_JSON, &out) == 0);
    T_OK(t_read_data_file("plan/report_golden.json", &golden));
    if (!fsg_span_eq(fsg_span_from_buf(&out), fsg_span_from_buf(&golden))) {
        fprintf(stderr, "  json differs from tests/data/plan/report_golden.json; got:\n%s\n",
                fsg_buf_cstr(&out));
        return 1;
    }
    fsg_buf_clean_up(&out);
    fsg_buf_clean_up(&golden);
    s_fixture_clean_up(&fx);
    return 0;
}

/* The object has exactly these keys. */
static bool s_keys(json_t *o, const char *const *keys)
{
    size_t n = 0;
    for (; keys[n] != NULL; n++) {
        if (json_object_get(o, keys[n]) == NULL) {
            fprintf(stderr, "  missing key %s\n", keys[n]);
            return false;
        }
    }
    return json_object_size(o) == n;
}

static int s_json_shape(void)
{
    static const char *const top[] = { "targets", "summary", "policy_version", NULL };
    static const char *const target[] = { "name", "security_group", "ownership", "desired",
                                          "add", "remove", "calls",
                                          "unchanged", "warnings", "refused", "impact", NULL };
    static const char *const impact[] = { "would_deny", "allowed_unseen", "cut_off",
                                          "cut_sources", "newly_allowed", "bypass",
                                          "unevaluated_rules", "connections", NULL };
    static const char *const deny[] = { "src", "port", "proto", "records", "last", "accepted",
                                        "allowed_by_policy", "allowed_after", "allowed_by",
                                        "workload", "labels", NULL };
    static const char *const rule[] = { "proto", "from_port", "to_port", "cidr", "description",
                                        NULL };
    static const char *const rule6[] = { "proto", "from_port", "to_port", "cidr_ipv6",
                                         "description", NULL };
    static const char *const summary[] = { "targets", "add", "remove", NULL };
    struct s_fixture fx;
    struct fsg_buf out = FSG_BUF_INIT;
    T_OK(s_fixture(&fx));
    T_CHECK(s_render(&fx, FSG_REPORT_JSON, &out) == 0);
    json_t *root = json_loadb((const char *)out.ptr, out.len, 0, NULL);
    T_CHECK(root != NULL && s_keys(root, top));
    json_t *t0 = json_array_get(json_object_get(root, "targets"), 0);
    T_CHECK(s_keys(t0, target));
    T_CHECK(s_keys(json_object_get(t0, "impact"), impact));
    json_t *d = json_array_get(json_object_get(json_object_get(t0, "impact"), "would_deny"), 0);
    T_CHECK(s_keys(d, deny));
    T_STR_EQ(json_string_value(json_object_get(d, "src")), "10.0.4.31");
    T_CHECK(json_integer_value(json_object_get(d, "records")) == 40);
    T_CHECK(json_integer_value(json_object_get(d, "last")) == 1700003600);
    T_CHECK(json_is_false(json_object_get(d, "allowed_after")));
    T_CHECK(json_is_null(json_object_get(d, "allowed_by")));
    json_t *im = json_object_get(t0, "impact");
    T_CHECK(json_integer_value(json_object_get(im, "cut_sources")) == 1);
    T_CHECK(json_integer_value(json_object_get(im, "unevaluated_rules")) == 1);
    T_CHECK(json_array_size(json_object_get(im, "connections")) == 3);
    json_t *ok = json_array_get(json_object_get(im, "connections"), 0); /* 10.0.1.11 */
    json_t *by = json_object_get(ok, "allowed_by");
    T_STR_EQ(json_string_value(json_object_get(by, "source")), "policy");
    T_STR_EQ(json_string_value(json_object_get(by, "security_group")), SG);
    T_STR_EQ(json_string_value(json_object_get(json_object_get(by, "rule"), "cidr")),
             "10.0.1.11/32");
    json_t *na = json_array_get(json_object_get(im, "newly_allowed"), 0); /* 10.0.9.3 */
    T_STR_EQ(json_string_value(json_object_get(na, "src")), "10.0.9.3");
    json_t *add = json_object_get(t0, "add");
    T_CHECK(json_array_size(add) == 3);
    T_CHECK(s_keys(json_array_get(add, 0), rule));
    T_CHECK(s_keys(json_array_get(add, 2), rule6));
    T_STR_EQ(json_string_value(json_object_get(json_array_get(add, 0), "proto")), "tcp");
    static const char *const removal[] = { "proto", "from_port", "to_port", "cidr",
                                           "description", "reason", NULL };
    json_t *rm0 = json_array_get(json_object_get(t0, "remove"), 0);
    T_CHECK(s_keys(rm0, removal)); /* no rule_id */
    T_STR_EQ(json_string_value(json_object_get(rm0, "reason")),
             "not in the policy any more (flowseg rule)");
    T_STR_EQ(json_string_value(json_object_get(t0, "ownership")), "rules");
    json_t *calls = json_object_get(t0, "calls");
    T_CHECK(json_array_size(calls) == 2);
    T_STR_EQ(json_string_value(json_object_get(json_array_get(calls, 0), "action")),
             "AuthorizeSecurityGroupIngress");
    T_CHECK(json_integer_value(json_object_get(json_array_get(calls, 0), "count")) == 3);
    T_CHECK(json_is_null(json_object_get(t0, "refused")));
    json_t *t1 = json_array_get(json_object_get(root, "targets"), 1);
    T_CHECK(json_is_string(json_object_get(t1, "refused")));
    T_CHECK(json_is_null(json_object_get(t1, "impact")));
    json_t *s = json_object_get(root, "summary");
    T_CHECK(s_keys(s, summary));
    T_CHECK(json_integer_value(json_object_get(s, "add")) == 3);
    T_CHECK(json_integer_value(json_object_get(s, "remove")) == 1);
    json_decref(root);
    fsg_buf_clean_up(&out);
    s_fixture_clean_up(&fx);
    return 0;
}

static int s_has(const struct fsg_buf *b, const char *needle)
{
    if (strstr(fsg_buf_cstr(b), needle) == NULL) {
        fprintf(stderr, "  missing \"%s\"\n", needle);
        return 0;
    }
    return 1;
}

static int s_text_and_markdown(void)
{
    struct s_fixture fx;
    struct fsg_buf text = FSG_BUF_INIT, md = FSG_BUF_INIT;
    T_OK(s_fixture(&fx));
    T_CHECK(s_render(&fx, FSG_REPORT_TEXT, &text) == 0);
    T_CHECK(s_has(&text, "2 target(s), 3 rule(s) to add, 1 to remove"));
    T_CHECK(s_has(&text, "orders-db (security group " SG ")"));
    T_CHECK(s_has(&text, "+ tcp    5432        10.0.1.12/32"));
    T_CHECK(s_has(&text, "- tcp 5432 from 10.0.4.0/24"));
    T_CHECK(s_has(&text, "[sgr-2]"));
    T_CHECK(s_has(&text, "10.0.4.31"));
    T_CHECK(s_has(&text, "40 records (40 accepted today)"));
    T_CHECK(s_has(&text, "REFUSED: allow_empty"));
    T_CHECK(s_has(&text, "fqdn dba-vpn.example.com"));
    T_CHECK(s_has(&text, "impact: no flow source given"));
    T_CHECK(s_has(&text, "guards: REFUSED"));
    T_CHECK(s_has(&text, "1 cut off from 1 source(s), 1 newly allowed"));
    T_CHECK(s_has(&text, "cut off (accepted today, denied after the apply) (1):"));
    T_CHECK(s_has(&text, "review the impact: 1 observed source(s) cut off"));
    T_CHECK(s_has(&text, "allowed after by the policy: " SG " tcp 5432 from 10.0.9.0/28"));
    T_CHECK(s_render(&fx, FSG_REPORT_MARKDOWN, &md) == 0);
    T_CHECK(s_has(&md, "# flowseg plan"));
    T_CHECK(s_has(&md, "## orders-db (`" SG "`)"));
    T_CHECK(s_has(&md, "| tcp | 5432 | `10.0.1.12/32` |"));
    T_CHECK(s_has(&md, "**Would be denied by the policy**"));
    T_CHECK(s_has(&md, "**Cut off (accepted today, denied after the apply)** (1)"));
    T_CHECK(s_has(&md, "| `10.0.4.31` |  | tcp/5432 | 40 | 40 |"));
    T_CHECK(s_has(&md, "**Guards:** REFUSED"));
    T_CHECK(s_has(&md, "**Refused:**"));
    T_CHECK(s_has(&md, "\\<script>")); /* escaped, and the pipe too */
    T_CHECK(s_has(&md, "\\| see"));
    fsg_buf_clean_up(&text);
    fsg_buf_clean_up(&md);
    s_fixture_clean_up(&fx);
    return 0;
}

static int s_html_self_contained(void)
{
    struct s_fixture fx;
    struct fsg_buf html = FSG_BUF_INIT;
    T_OK(s_fixture(&fx));
    T_CHECK(s_render(&fx, FSG_REPORT_HTML, &html) == 0);
    const char *h = fsg_buf_cstr(&html);
    T_CHECK(strncmp(h, "<!DOCTYPE html>", 15) == 0);
    T_CHECK(s_has(&html, "<svg"));
    T_CHECK(s_has(&html, "</html>"));
    static const char *const forbidden[] = { "http://", "https://", "<script", "src=", "<link",
                                             "url(", "@import", "href=" };
    for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++) {
        if (strstr(h, forbidden[i]) != NULL) {
            fprintf(stderr, "  html contains \"%s\"\n", forbidden[i]);
            return 1;
        }
    }
    T_CHECK(s_has(&html, "&lt;script&gt;"));
    T_CHECK(s_has(&html, "billing&lt;db&gt;&amp;&quot;x&quot;"));
    /* The picture: a red edge for the would-be-denied client, green for the allowed one. */
    T_CHECK(s_has(&html, "stroke=\"#c62828\""));
    T_CHECK(s_has(&html, "stroke=\"#1a7f37\""));
    T_CHECK(s_has(&html, ">10.0.4.31<"));
    T_CHECK(s_has(&html, "CUT tcp/5432, 40 rec"));
    T_CHECK(s_has(&html, "class=\"review\""));
    T_CHECK(strstr(h, "Guards pass: apply may proceed") == NULL);
    T_CHECK(s_has(&html, "tcp/5432, 120 rec"));
    T_CHECK(s_has(&html, "no traffic")); /* 10.0.1.12 and fd00:10::/64 never seen */
    T_CHECK(s_has(&html, "Refused"));
    fsg_buf_clean_up(&html);
    s_fixture_clean_up(&fx);
    return 0;
}

/* Many clients fold into one "+N more" box instead of an unreadable picture. */
static int s_html_folds_many_clients(void)
{
    struct fsg_sg_rules want = { 0 };
    struct fsg_sg_current cur = { 0 };
    struct fsg_plan *plan = NULL;
    struct fsg_flow flows[100];
    for (int i = 0; i < 100; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.0.3.%d", i + 1);
        flows[i] = s_flow(ip, 5432, FSG_FLOW_ACCEPT, (uint64_t)i + 1, 1700000000);
    }
    const char *enis[] = { "eni-0a1b2c3d4e5f60001" };
    struct fsg_impact_target it = { .enis = enis, .n_enis = 1 };
    T_OK(s_rule(&want, 6, 5432, 5432, "10.0.3.0/24", HREF "1", NULL));
    T_OK(fsg_sg_current_init(&cur, "sg-1"));
    T_OK(fsg_plan_new(&plan));
    struct fsg_plan_inputs in = { .name = "db", .security_group = "sg-1", .desired = &want,
                                  .current = &cur, .has_flows = true, .impact_target = &it,
                                  .flows = flows, .n_flows = 100 };
    T_OK(fsg_plan_add(plan, &in, NULL));
    struct fsg_buf html = FSG_BUF_INIT;
    T_OK(fsg_report_render(plan, FSG_REPORT_HTML, &html, NULL));
    T_CHECK(s_has(&html, "+61 more"));
    T_CHECK(s_has(&html, ">10.0.3.100<")); /* the busiest client is drawn */
    T_CHECK(strstr(fsg_buf_cstr(&html), ">10.0.3.1<") == NULL);
    fsg_buf_clean_up(&html);
    fsg_plan_destroy(plan);
    fsg_sg_current_clean_up(&cur);
    fsg_sg_rules_clean_up(&want);
    return 0;
}

static int s_saved_round_trip(void)
{
    struct s_fixture fx;
    struct fsg_buf s1 = FSG_BUF_INIT, s2 = FSG_BUF_INIT, s3 = FSG_BUF_INIT;
    struct fsg_plan *p2 = NULL, *p3 = NULL;
    T_OK(s_fixture(&fx));
    fx.plan->created_s = 1700009999;
    T_OK(fsg_plan_save(fx.plan, &s1, NULL));
    T_CHECK(s_has(&s1, "\"flowseg_plan\": 2"));
    T_CHECK(s_has(&s1, "\"desired_hash\": \""));
    T_CHECK(s_has(&s1, "\"rule_id\": \"sgr-2\""));
    T_CHECK(s_has(&s1, fx.plan->targets[0].sg->state_hash));
    T_OK(fsg_plan_load(fsg_span_from_buf(&s1), &p2, NULL));
    T_CHECK(p2->created_s == 1700009999);
    T_CHECK(p2->n_targets == 2);
    const struct fsg_plan_target *t = &p2->targets[0];
    T_STR_EQ(t->name, "orders-db");
    T_STR_EQ(t->sg->group_id, SG);
    T_STR_EQ(t->sg->state_hash, fx.plan->targets[0].sg->state_hash);
    T_CHECK(t->sg->add.len == 3 && t->sg->remove.len == 1 && t->sg->unchanged == 1);
    T_CHECK(t->sg->desired.len == 4 && t->sg->kept.len == 1);
    T_STR_EQ(t->sg->remove.items[0].rule_id, "sgr-2");
    T_CHECK(t->sg->current_v4 == 3 && t->sg->n_foreign == 1);
    T_CHECK(t->n_warnings == 3);
    T_CHECK(p2->targets[1].refused_guards == FSG_GUARD_EMPTY);
    T_CHECK(p2->targets[1].refused != NULL);
    T_OK(fsg_plan_save(p2, &s2, NULL));
    T_OK(fsg_plan_load(fsg_span_from_buf(&s2), &p3, NULL));
    T_OK(fsg_plan_save(p3, &s3, NULL));
    T_CHECK(fsg_span_eq(fsg_span_from_buf(&s2), fsg_span_from_buf(&s3)));
    fsg_plan_destroy(p2);
    fsg_plan_destroy(p3);
    fsg_buf_clean_up(&s1);
    fsg_buf_clean_up(&s2);
    fsg_buf_clean_up(&s3);
    s_fixture_clean_up(&fx);
    return 0;
}

/* Issue 11: the pinned PCE policy version is in every report and survives a saved plan. */
static int s_policy_version(void)
{
    static const struct {
        enum fsg_report_format f;
        const char *needle;
    } want[] = {
        { FSG_REPORT_JSON, "\"policy_version\": \"1321\"" },
        { FSG_REPORT_TEXT, "\npolicy version: 1321\n" },
        { FSG_REPORT_MARKDOWN, "# flowseg plan\n\nPolicy version: 1321\n" },
        { FSG_REPORT_HTML, "PCE policy version 1321</p>" },
    };
    struct s_fixture fx;
    T_OK(s_fixture(&fx));
    fx.plan->policy_version = fsg_strdup("1321");
    T_CHECK(fx.plan->policy_version != NULL);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        struct fsg_buf out = FSG_BUF_INIT;
        T_CHECK(s_render(&fx, want[i].f, &out) == 0);
        T_CHECK(s_has(&out, want[i].needle));
        fsg_buf_clean_up(&out);
    }
    struct fsg_buf saved = FSG_BUF_INIT;
    struct fsg_plan *p2 = NULL;
    T_OK(fsg_plan_save(fx.plan, &saved, NULL));
    T_OK(fsg_plan_load(fsg_span_from_buf(&saved), &p2, NULL));
    T_STR_EQ(p2->policy_version, "1321");
    fsg_plan_destroy(p2);
    fsg_buf_clean_up(&saved);
    s_fixture_clean_up(&fx);
    return 0;
}

/* apply --plan's checks: the desired hash pins the policy (version and rules), and a saved
 * target that differs from the one planned again is described rule by rule. */
static int s_saved_checks(void)
{
    struct s_fixture fx;
    struct fsg_buf s1 = FSG_BUF_INIT, why = FSG_BUF_INIT;
    struct fsg_plan *saved = NULL;
    char h1[FSG_SG_HASH_HEX_LEN + 1], h2[FSG_SG_HASH_HEX_LEN + 1];
    size_t n = 99;
    T_OK(s_fixture(&fx));
    T_OK(fsg_plan_save(fx.plan, &s1, NULL));
    T_OK(fsg_plan_load(fsg_span_from_buf(&s1), &saved, NULL));
    struct fsg_plan_target *st = &saved->targets[0], *ft = &fx.plan->targets[0];
    T_OK(fsg_plan_desired_hash(fx.plan, ft, h1, NULL));
    T_STR_EQ(st->desired_hash, h1);
    T_CHECK(st->saved_cut_sources == 1 && saved->targets[1].saved_cut_sources == -1);
    T_OK(fsg_plan_check_edits(st, ft, &why, &n));
    T_CHECK(n == 0 && why.len == 0);
    /* a new policy version, same rules: another hash */
    fx.plan->policy_version = fsg_strdup("1234");
    T_OK(fsg_plan_desired_hash(fx.plan, ft, h2, NULL));
    T_CHECK(strcmp(h1, h2) != 0);
    /* a hand-added rule, and a removal dropped */
    T_OK(s_rule(&st->sg->add, 6, 0, 65535, "0.0.0.0/0", "flowseg x", NULL));
    fsg_sg_rules_clean_up(&st->sg->remove);
    T_OK(fsg_plan_check_edits(st, ft, &why, &n));
    T_CHECK(n == 2);
    T_CHECK(s_has(&why, "the plan adds tcp all from 0.0.0.0/0 (\"flowseg x\"), which diffing "
                        "the current group against the current desired rules does not give"));
    T_CHECK(s_has(&why, "; the plan does not remove tcp 5432 from 10.0.4.0/24"));
    fsg_plan_destroy(saved);
    fsg_buf_clean_up(&why);
    fsg_buf_clean_up(&s1);
    s_fixture_clean_up(&fx);
    return 0;
}

/* guards.max_cut_sources in the plan: it refuses a target whose apply changes something and
 * cuts off more observed sources than allowed (--force does not help); a target whose apply
 * changes nothing is never refused by old flows. */
static int s_cut_guard(void)
{
    struct fsg_sg_rules want = { 0 };
    struct fsg_sg_current same = { 0 }, empty = { 0 };
    struct fsg_plan *plan = NULL;
    T_OK(s_rule(&want, 6, 5432, 5432, "10.0.1.11/32", HREF "41", NULL));
    T_OK(fsg_sg_current_init(&same, SG));
    T_OK(s_rule(&same.rules, 6, 5432, 5432, "10.0.1.11/32", HREF "41", "sgr-1"));
    T_OK(fsg_sg_current_init(&empty, SG));
    struct fsg_flow flows[] = {
        s_flow("10.0.4.1", 5432, FSG_FLOW_ACCEPT, 1, 1700000000),
        s_flow("10.0.4.2", 5432, FSG_FLOW_ACCEPT, 1, 1700000000),
    };
    const char *enis[] = { "eni-0a1b2c3d4e5f60001" };
    struct fsg_impact_target it = { .enis = enis, .n_enis = 1 };
    struct fsg_guard_limits guards = { .max_removals = 10, .max_rules = 60,
                                       .max_cut_sources = 1, .force = true };
    struct fsg_plan_inputs in = { .name = "db", .security_group = SG, .desired = &want,
                                  .current = &same, .guards = &guards, .has_flows = true,
                                  .impact_target = &it, .flows = flows, .n_flows = 2 };
    T_OK(fsg_plan_new(&plan));
    T_OK(fsg_plan_add(plan, &in, NULL));
    T_CHECK(plan->targets[0].impact->n_cut_sources == 2 && plan->targets[0].refused == NULL);
    in.association_changes = true;
    T_OK(fsg_plan_add(plan, &in, NULL));
    T_CHECK(plan->targets[1].refused_guards == FSG_GUARD_CUT);
    in.association_changes = false;
    in.current = &empty;
    T_OK(fsg_plan_add(plan, &in, NULL));
    T_CHECK(plan->targets[2].refused_guards == FSG_GUARD_CUT);
    T_CHECK(strstr(plan->targets[2].refused, "max_cut_sources: 2 observed source(s)") != NULL);
    struct fsg_buf text = FSG_BUF_INIT;
    T_OK(fsg_report_render(plan, FSG_REPORT_TEXT, &text, NULL));
    T_CHECK(s_has(&text, "guards: REFUSED"));
    T_CHECK(s_has(&text, "REFUSED: max_cut_sources"));
    fsg_buf_clean_up(&text);
    fsg_plan_destroy(plan);
    fsg_sg_current_clean_up(&same);
    fsg_sg_current_clean_up(&empty);
    fsg_sg_rules_clean_up(&want);
    return 0;
}

static int s_load_refuses_non_plans(void)
{
    struct s_fixture fx;
    struct fsg_buf report = FSG_BUF_INIT;
    T_OK(s_fixture(&fx));
    T_CHECK(s_render(&fx, FSG_REPORT_JSON, &report) == 0);
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        { "nope", "plan: " },
        { "[]", "must be a JSON object" },
        { "{\"flowseg_plan\": 1, \"created\": 0, \"targets\": []}", "version 1" },
        { "{\"flowseg_plan\": 2, \"targets\": []}", "created" },
        { "{\"flowseg_plan\": 2, \"created\": 0, \"targets\": [{\"name\": \"a\", "
          "\"security_group\": \"sg-1\", \"state_hash\": \"abc\"}]}", "64 lowercase hex" },
        { "{\"flowseg_plan\": 2, \"created\": 0, \"targets\": [{\"name\": \"a\", "
          "\"security_group\": \"sg-1\", \"state_hash\": "
          "\"0000000000000000000000000000000000000000000000000000000000000000\"}]}",
          "desired_hash" },
        { "{\"flowseg_plan\": 2, \"created\": 0, \"targets\": [{\"name\": \"a\", "
          "\"security_group\": \"sg-1\", \"state_hash\": "
          "\"0000000000000000000000000000000000000000000000000000000000000000\", "
          "\"desired_hash\": "
          "\"0000000000000000000000000000000000000000000000000000000000000000\", "
          "\"desired\": [], \"add\": [{\"proto\": \"tcp\"}], \"remove\": [], \"kept\": []}]}",
          "targets[0]: add[0]" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fsg_plan *p = NULL;
        struct fsg_error err = { 0 };
        enum fsg_err rc = fsg_plan_load(fsg_span_from_cstr(cases[i].text), &p, &err);
        if (rc == FSG_OK || p != NULL || strstr(err.msg, cases[i].msg) == NULL) {
            fprintf(stderr, "  case %zu: %s (%s)\n", i, err.msg, fsg_err_name(rc));
            fsg_plan_destroy(p);
            return 1;
        }
    }
    /* A saved plan that lists a target twice (the second would go unchecked). */
    struct fsg_buf saved = FSG_BUF_INIT;
    T_OK(fsg_plan_save(fx.plan, &saved, NULL));
    json_t *doc = json_loadb((const char *)saved.ptr, saved.len, 0, NULL);
    T_CHECK(doc != NULL);
    json_t *targets = json_object_get(doc, "targets");
    T_CHECK(json_array_size(targets) >= 1);
    json_array_append_new(targets, json_deep_copy(json_array_get(targets, 0)));
    char *twice = json_dumps(doc, 0);
    json_decref(doc);
    fsg_buf_clean_up(&saved);
    struct fsg_plan *p = NULL;
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_PARSE, fsg_plan_load(fsg_span_from_cstr(twice), &p, &err));
    T_CHECK(strstr(err.msg, "is listed twice") != NULL && p == NULL);
    free(twice);

    /* A plain --format json report is not a saved plan. */
    T_ERR(FSG_E_PARSE, fsg_plan_load(fsg_span_from_buf(&report), &p, &err));
    T_CHECK(strstr(err.msg, "--save-plan") != NULL);
    fsg_buf_clean_up(&report);
    s_fixture_clean_up(&fx);
    return 0;
}

static int s_format_parse(void)
{
    enum fsg_report_format f;
    T_OK(fsg_report_format_parse("json", &f));
    T_CHECK(f == FSG_REPORT_JSON);
    T_OK(fsg_report_format_parse("HTML", &f));
    T_CHECK(f == FSG_REPORT_HTML);
    T_OK(fsg_report_format_parse("md", &f));
    T_CHECK(f == FSG_REPORT_MARKDOWN);
    T_ERR(FSG_E_INVALID_ARG, fsg_report_format_parse("yaml", &f));
    T_ERR(FSG_E_INVALID_ARG, fsg_report_format_parse(NULL, &f));
    return 0;
}

static int s_alloc_failures(void)
{
    struct s_fixture fx;
    T_OK(s_fixture(&fx));
    static const enum fsg_report_format formats[] = { FSG_REPORT_TEXT, FSG_REPORT_JSON,
                                                      FSG_REPORT_MARKDOWN, FSG_REPORT_HTML };
    for (size_t f = 0; f < 4; f++) {
        for (long n = 1; n < 40; n++) {
            struct fsg_buf out = FSG_BUF_INIT;
            fsg_mem_fail_after(n);
            enum fsg_err rc = fsg_report_render(fx.plan, formats[f], &out, NULL);
            fsg_mem_fail_after(0);
            T_CHECK(rc == FSG_OK || rc == FSG_E_NOMEM);
            fsg_buf_clean_up(&out);
        }
    }
    s_fixture_clean_up(&fx);
    return 0;
}

/* Ownership "group" (the default): the hand-added ssh rule and the SG reference are removals,
 * each with its reason, in every format and in the saved plan. */
static int s_group_ownership_reports(void)
{
    struct fsg_sg_rules desired = { 0 };
    struct fsg_sg_current cur = { 0 };
    struct fsg_plan *plan = NULL, *back = NULL;
    struct fsg_buf text = FSG_BUF_INIT, md = FSG_BUF_INIT, html = FSG_BUF_INIT, json = FSG_BUF_INIT,
                   saved = FSG_BUF_INIT;
    T_OK(s_rule(&desired, 6, 5432, 5432, "10.0.1.11/32", HREF "41", NULL));
    T_OK(fsg_sg_current_init(&cur, SG));
    T_OK(s_rule(&cur.rules, 6, 5432, 5432, "10.0.1.11/32", HREF "41", "sgr-1"));
    T_OK(s_rule(&cur.rules, 6, 22, 22, "203.0.113.7/32", NULL, "sgr-3"));
    T_OK(s_rule(&cur.rules, 6, 5432, 5432, "10.0.7.0/24", "stale", "sgr-5"));
    struct fsg_sg_foreign_rule f = { .proto = 6, .from_port = 5432, .to_port = 5432,
                                     .peer = "sg-0fedcba9876543210", .rule_id = "sgr-4" };
    T_OK(fsg_sg_current_add_foreign(&cur, &f));
    fsg_sg_rules_sort(&cur.rules);
    struct fsg_guard_limits guards = { .max_removals = 10, .max_rules = 60 };
    struct fsg_plan_inputs in = { .name = "orders-db", .security_group = SG,
                                  .desired = &desired, .current = &cur, .guards = &guards };
    T_OK(fsg_plan_new(&plan));
    T_OK(fsg_plan_add(plan, &in, NULL));
    T_CHECK(plan->targets[0].ownership == FSG_SG_OWN_GROUP);
    T_CHECK(plan->targets[0].n_warnings == 0); /* nothing is left in place */
    T_OK(fsg_report_render(plan, FSG_REPORT_TEXT, &text, NULL));
    T_CHECK(s_has(&text, "3 to remove"));
    T_CHECK(s_has(&text, "ownership group: the group is flowseg's"));
    T_CHECK(s_has(&text, "- tcp 22 from 203.0.113.7/32 (no description) [sgr-3]: not in the "
                         "policy, added outside flowseg"));
    T_CHECK(s_has(&text, "\"stale\" [sgr-5]: not in the policy, added outside flowseg"));
    T_CHECK(s_has(&text, "from sg-0fedcba9876543210 (no description) [sgr-4]: not in the "
                         "policy, added outside flowseg (references a security group"));
    T_OK(fsg_report_render(plan, FSG_REPORT_MARKDOWN, &md, NULL));
    T_CHECK(s_has(&md, "ownership group"));
    T_CHECK(s_has(&md, "**Remove** (3)"));
    T_OK(fsg_report_render(plan, FSG_REPORT_HTML, &html, NULL));
    T_CHECK(s_has(&html, "<span>ownership group</span>"));
    T_CHECK(s_has(&html, "203.0.113.7/32 (no description) [sgr-3]&#58; not in the policy, "
                         "added outside flowseg"));
    T_OK(fsg_report_render(plan, FSG_REPORT_JSON, &json, NULL));
    json_t *root = json_loadb((const char *)json.ptr, json.len, 0, NULL);
    json_t *t0 = json_array_get(json_object_get(root, "targets"), 0);
    T_STR_EQ(json_string_value(json_object_get(t0, "ownership")), "group");
    json_t *rm = json_object_get(t0, "remove");
    T_CHECK(json_array_size(rm) == 3);
    T_STR_EQ(json_string_value(json_object_get(json_array_get(rm, 2), "source_group")),
             "sg-0fedcba9876543210");
    T_STR_EQ(json_string_value(json_object_get(json_array_get(rm, 0), "reason")),
             "not in the policy, added outside flowseg");
    T_CHECK(json_integer_value(json_object_get(json_object_get(root, "summary"), "remove")) == 3);
    json_decref(root);
    T_OK(fsg_plan_save(plan, &saved, NULL));
    T_OK(fsg_plan_load(fsg_span_from_buf(&saved), &back, NULL));
    T_CHECK(back->targets[0].ownership == FSG_SG_OWN_GROUP);
    T_CHECK(back->targets[0].sg->remove.len == 2 && back->targets[0].sg->n_remove_foreign == 1);
    T_STR_EQ(back->targets[0].sg->remove_foreign[0].rule_id, "sgr-4");
    fsg_plan_destroy(back);
    fsg_plan_destroy(plan);
    fsg_buf_clean_up(&text);
    fsg_buf_clean_up(&md);
    fsg_buf_clean_up(&html);
    fsg_buf_clean_up(&json);
    fsg_buf_clean_up(&saved);
    fsg_sg_rules_clean_up(&desired);
    fsg_sg_current_clean_up(&cur);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "plan_facts", s_plan_facts },
        { "json_golden", s_json_golden },
        { "saved_checks", s_saved_checks },
        { "cut_guard", s_cut_guard },
        { "json_shape", s_json_shape },
        { "text_and_markdown", s_text_and_markdown },
        { "html_self_contained", s_html_self_contained },
        { "html_folds_many_clients", s_html_folds_many_clients },
        { "saved_round_trip", s_saved_round_trip },
        { "policy_version", s_policy_version },
        { "group_ownership_reports", s_group_ownership_reports },
        { "load_refuses_non_plans", s_load_refuses_non_plans },
        { "format_parse", s_format_parse },
        { "alloc_failures", s_alloc_failures },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
