/* policy/compile: one case per semantic of ref/pce-api.md §8, each a small bundle under
 * tests/data/pce/compile/ with its expected security-group rules written here by hand
 * ("proto from to cidr description"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/compile.h"
#include "tests/harness/test.h"

#define RS "flowseg /orgs/1/sec_policy/active/rule_sets/"
#define HREF "/orgs/1/sec_policy/active/rule_sets/"

static struct fsg_policy_model *s_load(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "pce/compile/%s.json", name);
    struct fsg_policy_model *m = NULL;
    struct fsg_error err = { 0 };
    if (fsg_policy_model_load_file(t_data_path(rel), NULL, &m, &err) != FSG_OK) {
        fprintf(stderr, "  loading %s: %s\n", name, err.msg);
        return NULL;
    }
    return m;
}

static struct fsg_compiled_target *s_compile(const struct fsg_policy_model *m,
                                             const struct fsg_policy_target *t)
{
    struct fsg_compiled_target *c = NULL;
    struct fsg_error err = { 0 };
    if (fsg_policy_compile(m, t, &c, &err) != FSG_OK) {
        fprintf(stderr, "  compile: %s\n", err.msg);
        return NULL;
    }
    return c;
}

static void s_render(const struct fsg_sg_rule *r, char *out, size_t size)
{
    char p[8];
    char c[FSG_CIDR_STR_MAX];
    snprintf(out, size, "%s %d %d %s %s", fsg_sg_proto_name(r->proto, p), r->from_port, r->to_port,
             fsg_cidr_format(&r->cidr, c), r->description != NULL ? r->description : "(null)");
}

/* The rules must be exactly `want` (NULL-terminated), in order. */
static bool s_rules_are(const struct fsg_compiled_target *c, const char *const *want)
{
    size_t n = 0;
    while (want[n] != NULL) {
        n++;
    }
    bool ok = c->rules.len == n;
    for (size_t i = 0; i < c->rules.len && ok; i++) {
        char line[400];
        s_render(&c->rules.items[i], line, sizeof line);
        ok = strcmp(line, want[i]) == 0;
    }
    if (!ok) {
        fprintf(stderr, "  rules differ; got %zu:\n", c->rules.len);
        for (size_t i = 0; i < c->rules.len; i++) {
            char line[400];
            s_render(&c->rules.items[i], line, sizeof line);
            fprintf(stderr, "    %s\n", line);
        }
        fprintf(stderr, "  want %zu:\n", n);
        for (size_t i = 0; i < n; i++) {
            fprintf(stderr, "    %s\n", want[i]);
        }
    }
    return ok;
}

static bool s_strings_are(const char *what, char *const *got, size_t n_got,
                          const char *const *want)
{
    size_t n = 0;
    while (want[n] != NULL) {
        n++;
    }
    bool ok = n_got == n;
    for (size_t i = 0; i < n && ok; i++) {
        ok = strcmp(got[i], want[i]) == 0;
    }
    if (!ok) {
        fprintf(stderr, "  %s differ; got %zu:\n", what, n_got);
        for (size_t i = 0; i < n_got; i++) {
            fprintf(stderr, "    %s\n", got[i]);
        }
        fprintf(stderr, "  want %zu:\n", n);
        for (size_t i = 0; i < n; i++) {
            fprintf(stderr, "    %s\n", want[i]);
        }
    }
    return ok;
}

#define T_RULES(c, ...)                                                                            \
    do {                                                                                           \
        static const char *const want_[] = { __VA_ARGS__, NULL };                                  \
        T_CHECK(s_rules_are((c), want_));                                                          \
    } while (0)
#define T_NO_RULES(c) T_CHECK((c)->rules.len == 0)
#define T_WARNINGS(c, ...)                                                                         \
    do {                                                                                           \
        static const char *const want_[] = { __VA_ARGS__ };                                        \
        T_CHECK(s_strings_are("warnings", (c)->warnings, (c)->n_warnings, want_));                 \
    } while (0)
#define T_MATCHED(c, ...)                                                                          \
    do {                                                                                           \
        static const char *const want_[] = { __VA_ARGS__ };                                        \
        T_CHECK(s_strings_are("matched rules", (c)->matched_rules, (c)->n_matched_rules, want_));  \
    } while (0)

/* Runs one case: load, compile the target, hand back both (the caller checks and frees). */
#define T_CASE(model, out, file, ...)                                                              \
    struct fsg_policy_model *model = s_load(file);                                                 \
    T_CHECK(model != NULL);                                                                        \
    struct fsg_compiled_target *out =                                                              \
        s_compile(model, &(struct fsg_policy_target){ __VA_ARGS__ });                              \
    T_CHECK(out != NULL)

#define T_DONE(model, out)                                                                         \
    fsg_compiled_target_destroy(out);                                                              \
    fsg_policy_model_destroy(model)

/* The target's virtual service is a literal provider; another VS's rule does not apply. */
static int s_provider_virtual_service(void)
{
    T_CASE(m, c, "provider_virtual_service", .name = "orders-db",
           .virtual_service = "VS-RDS-orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.11/32 " RS "24/sec_rules/41",
            "tcp 5432 5432 10.0.1.12/32 " RS "24/sec_rules/41");
    T_MATCHED(c, HREF "24/sec_rules/41", NULL);
    T_WARNINGS(c, NULL);
    T_STR_EQ(c->name, "orders-db");
    fsg_compiled_target_destroy(c);
    /* The same VS by href gives the same rules; by its draft href, its active twin. */
    c = s_compile(m, &(struct fsg_policy_target){
                         .virtual_service = "/orgs/1/sec_policy/draft/virtual_services/orders" });
    T_CHECK(c != NULL);
    T_CHECK(c->rules.len == 2 && c->name == NULL);
    T_DONE(m, c);
    return 0;
}

/* A workload target (by name, and by hostname): literal workload providers, and the virtual
 * service bound to it (ports derived from that VS). */
static int s_provider_workload(void)
{
    T_CASE(m, c, "provider_workload", .workload = "orders-db (Amazon RDS PostgreSQL)");
    T_RULES(c, "tcp 5432 5432 10.0.1.11/32 " RS "1/sec_rules/1",
            "tcp 5433 5433 10.0.1.12/32 " RS "1/sec_rules/3");
    T_MATCHED(c, HREF "1/sec_rules/1", HREF "1/sec_rules/3", NULL);
    fsg_compiled_target_destroy(c);
    c = s_compile(m, &(struct fsg_policy_target){
                         .workload = "orders-db.c9akciq32abc.us-east-1.rds.amazonaws.com" });
    T_CHECK(c != NULL && c->rules.len == 2);
    T_DONE(m, c);
    return 0;
}

/* A label target: label providers and scopes select it; out-of-scope consumers don't count. */
static int s_provider_labels(void)
{
    static const struct fsg_policy_label labels[] = {
        { .key = "role", .value = "Database" },
        { .key = "app", .value = "Orders" },
        { .href = "/orgs/1/labels/4" },
    };
    T_CASE(m, c, "provider_labels", .labels = labels, .n_labels = 3);
    T_RULES(c, "tcp 5432 5432 10.0.1.11/32 " RS "3/sec_rules/1");
    T_MATCHED(c, HREF "3/sec_rules/1", NULL);
    T_DONE(m, c);
    return 0;
}

/* ams: every workload, managed or not (the unmanaged RDS itself included), deleted ones out,
 * held to the scope; resolved as virtual services it selects the target VS. */
static int s_ams(void)
{
    T_CASE(m, c, "ams", .virtual_service = "VS-RDS-orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.11/32 " RS "5/sec_rules/1",
            "tcp 5432 5432 10.0.1.20/32 " RS "5/sec_rules/2",
            "tcp 5432 5432 10.0.2.45/32 " RS "5/sec_rules/1",
            "tcp 5432 5432 10.0.3.7/32 " RS "5/sec_rules/1");
    T_MATCHED(c, HREF "5/sec_rules/1", HREF "5/sec_rules/2", NULL);
    T_DONE(m, c);
    return 0;
}

/* Several scopes: evaluated one by one, unioned; consumers of an intra-scope rule come from the
 * scope in which the target matched. (The provider is a virtual service: the port is always the
 * virtual service's 5432, whatever the rule's services say.) */
static int s_scopes(void)
{
    T_CASE(m, c, "scopes", .virtual_service = "VS-RDS-orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.11/32 " RS "10/sec_rules/1",
            "tcp 5432 5432 10.0.4.1/32 " RS "11/sec_rules/1",
            "tcp 5432 5432 10.0.4.2/32 " RS "11/sec_rules/1");
    T_DONE(m, c);
    return 0;
}

/* unscoped_consumers false holds consumers to the scope, true does not; ip lists never are. */
static int s_intra_extra_scope(void)
{
    T_CASE(m, c, "intra_extra_scope", .virtual_service = "VS-RDS-orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.11/32 " RS "12/sec_rules/1",
            "tcp 5432 5432 10.0.4.1/32 " RS "12/sec_rules/2",
            "tcp 5432 5432 10.0.4.2/32 " RS "12/sec_rules/2",
            "tcp 5432 5432 10.9.0.0/16 " RS "12/sec_rules/1");
    T_DONE(m, c);
    return 0;
}

/* Same key = any of, different keys = all of; exclusion labels remove. */
static int s_label_actors(void)
{
    T_CASE(m, c, "label_actors", .workload = "orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.1/32 " RS "7/sec_rules/1",
            "tcp 5432 5432 10.0.1.2/32 " RS "7/sec_rules/1",
            "tcp 5433 5433 10.0.1.1/32 " RS "7/sec_rules/2",
            "tcp 5434 5434 10.0.1.1/32 " RS "7/sec_rules/3",
            "tcp 5434 5434 10.0.1.2/31 " RS "7/sec_rules/3",
            "tcp 5434 5434 10.0.1.5/32 " RS "7/sec_rules/3");
    T_DONE(m, c);
    return 0;
}

/* Security Policy Guide, "Policy Exclusions": an excluded label (or label group), in a scope or
 * in the consumers (with labels or with ams), selects only workloads that carry ANOTHER label of
 * that type; web-noenv (no env label) is never selected, the RDS (no label) not by "ams - Prod". */
static int s_exclusions(void)
{
    T_CASE(m, c, "exclusions", .workload = "orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.1/32 " RS "1/sec_rules/1",
            "tcp 5433 5433 10.0.1.1/32 " RS "2/sec_rules/1",
            "tcp 5434 5434 10.0.1.2/32 " RS "2/sec_rules/2",
            "tcp 5435 5435 10.0.1.1/32 " RS "2/sec_rules/3");
    T_WARNINGS(c, NULL);
    T_DONE(m, c);
    return 0;
}

/* Nested label groups in consumers and in the scope. Security Policy Guide, "Use a Label Group
 * in a Scope": the scope env = LG-prod-envs {Prod, Staging} expands into one scope per member
 * with no cross-communication, so the intra-scope rule admits the Prod web workload for the
 * Prod database, never api-staging (Staging); a label group in a rule's consumers does allow
 * cross-communication (web-all = {Web, API}). */
static int s_label_groups(void)
{
    T_CASE(m, c, "label_groups", .virtual_service = "VS-RDS-orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.1/32 " RS "8/sec_rules/1");
    T_DONE(m, c);
    return 0;
}

/* The case: scope app=Orders, env=Non-Prod {Dev, QA, Stage}; the database is in
 * Orders|Dev. The intra-scope rule admits Orders|Dev web only (no cross-communication between the
 * expanded scopes: never Orders|QA or Orders|Stage, nor Billing); the extra-scope rule's consumers
 * (Web and Stage) are not held to the scope. */
static int s_label_group_scope(void)
{
    T_CASE(m, c, "label_group_scope", .workload = "orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.1/32 " RS "17/sec_rules/1",
            "tcp 5433 5433 10.0.1.3/32 " RS "17/sec_rules/2");
    T_DONE(m, c);
    return 0;
}

/* A scope of three 50-member label groups is 125000 concrete scopes, more than the limit;
 * only those the target can match are made (one), so it compiles, with the same answer as the
 * full expansion: the Web workload in the target's app/env/loc, not the one in another env. */
static int s_big_scope(void)
{
    T_CASE(m, c, "big_scope", .workload = "orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.1/32 " RS "18/sec_rules/1");
    T_DONE(m, c);
    return 0;
}

/* resolve_labels_as: workloads vs virtual services, on both sides. */
static int s_resolve_labels_as(void)
{
    T_CASE(m, c, "resolve_labels_as", .virtual_service = "VS-RDS-orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.1/32 " RS "9/sec_rules/2 (+1)",
            "tcp 5432 5432 10.0.5.5/32 " RS "9/sec_rules/4",
            "tcp 5432 5432 10.0.7.0/24 " RS "9/sec_rules/3",
            "tcp 5432 5432 10.0.8.5/32 " RS "9/sec_rules/3");
    T_MATCHED(c, HREF "9/sec_rules/2", HREF "9/sec_rules/3", HREF "9/sec_rules/4", NULL);
    T_DONE(m, c);
    return 0;
}

/* Workload (every interface, IPv6 first, loopback and null skipped; public_ip for an unmanaged
 * one without interfaces), virtual-service (bound workloads) and ip-list actors. */
static int s_literal_actors(void)
{
    T_CASE(m, c, "literal_actors", .virtual_service = "VS-RDS-orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.5/32 " RS "4/sec_rules/1",
            "tcp 5432 5432 10.0.1.6/32 " RS "4/sec_rules/1",
            "tcp 5432 5432 192.168.1.0/24 " RS "4/sec_rules/1",
            "tcp 5432 5432 203.0.113.9/32 " RS "4/sec_rules/1",
            "tcp 5432 5432 fd00::5/128 " RS "4/sec_rules/1");
    T_WARNINGS(c, "rule " HREF "4/sec_rules/1: consumer workload /orgs/1/workloads/d has no IP "
                  "address",
               NULL);
    T_DONE(m, c);
    return 0;
}

/* ip lists: CIDRs, a from/to range, exclusions subtracted, IPv6 apart, FQDN warned. */
static int s_ip_lists(void)
{
    T_CASE(m, c, "ip_lists", .workload = "orders-db");
    T_RULES(c, "tcp 443 443 0.0.0.0/0 " RS "24/sec_rules/43",
            "tcp 443 443 ::/0 " RS "24/sec_rules/43",
            "tcp 5432 5432 10.0.9.0/30 " RS "24/sec_rules/42",
            "tcp 5432 5432 10.0.9.4/32 " RS "24/sec_rules/42",
            "tcp 5432 5432 10.0.9.6/31 " RS "24/sec_rules/42",
            "tcp 5432 5432 10.0.9.8/29 " RS "24/sec_rules/42",
            "tcp 5432 5432 192.168.50.10/31 " RS "24/sec_rules/42",
            "tcp 5432 5432 192.168.50.12/30 " RS "24/sec_rules/42",
            "tcp 5432 5432 192.168.50.16/30 " RS "24/sec_rules/42",
            "tcp 5432 5432 192.168.50.20/32 " RS "24/sec_rules/42",
            "tcp 5432 5432 2001:db8::/127 " RS "24/sec_rules/42",
            "tcp 5432 5432 2001:db8::2/128 " RS "24/sec_rules/42");
    T_WARNINGS(c, "rule " HREF "24/sec_rules/42: fqdn dba-vpn.example.com cannot be a "
                  "security-group source",
               NULL);
    T_DONE(m, c);
    return 0;
}

/* Services: port ranges, UDP without a port, proto -1, other protocols, windows and process
 * services, inline ports. */
static int s_services(void)
{
    T_CASE(m, c, "services", .workload = "orders-db");
    T_RULES(c, "-1 -1 -1 10.0.1.1/32 " RS "6/sec_rules/2",
            "tcp 1433 1433 10.0.1.1/32 " RS "6/sec_rules/3",
            "tcp 5432 5433 10.0.1.1/32 " RS "6/sec_rules/6",
            "tcp 8000 8010 10.0.1.1/32 " RS "6/sec_rules/1",
            "udp 0 65535 10.0.1.1/32 " RS "6/sec_rules/1",
            "47 -1 -1 10.0.1.1/32 " RS "6/sec_rules/5");
    T_WARNINGS(c,
               "rule " HREF "6/sec_rules/3: service /orgs/1/sec_policy/active/services/11: windows "
               "services (process or service names) cannot be security-group rules",
               "rule " HREF "6/sec_rules/4: service /orgs/1/sec_policy/active/services/12: "
               "process-based service (postgres) cannot be a security-group rule",
               "rule " HREF "6/sec_rules/5: service /orgs/1/sec_policy/active/services/14: ports "
               "on protocol 132 cannot be limited by a security group; not allowed",
               "rule " HREF "6/sec_rules/6: port 80 on every protocol cannot be a security-group "
               "rule",
               NULL);
    T_DONE(m, c);
    return 0;
}

/* ICMP type/code; ICMP goes to IPv4 sources only, ICMPv6 to IPv6 only. */
static int s_icmp(void)
{
    T_CASE(m, c, "icmp", .workload = "orders-db");
    T_RULES(c, "icmp 3 -1 10.0.1.1/32 " RS "2/sec_rules/1",
            "icmp 8 0 10.0.1.1/32 " RS "2/sec_rules/1",
            "icmpv6 -1 -1 fd00::1/128 " RS "2/sec_rules/1");
    T_WARNINGS(c, "rule " HREF "2/sec_rules/1: ICMP code 5 without a type cannot be a "
                  "security-group rule",
               NULL);
    T_DONE(m, c);
    return 0;
}

/* No ingress_services: ports come from the provider virtual service (service_ports or its
 * service); a workload provider without services allows nothing and says so. */
static int s_derived_ports(void)
{
    T_CASE(m, c, "derived_ports", .virtual_service = "VS-RDS-orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.1/32 " RS "14/sec_rules/1",
            "tcp 5433 5434 10.0.1.1/32 " RS "14/sec_rules/1");
    T_WARNINGS(c, "rule " HREF "14/sec_rules/3: names no service and no provider virtual "
                  "service selects the target: no port to allow",
               NULL);
    T_MATCHED(c, HREF "14/sec_rules/1", HREF "14/sec_rules/3", NULL);
    fsg_compiled_target_destroy(c);

    /* The binding of the pool's workload serves 6432 on 16432 (port_overrides). */
    c = s_compile(m, &(struct fsg_policy_target){ .virtual_service = "VS-pool" });
    T_CHECK(c != NULL);
    T_RULES(c, "tcp 16432 16432 10.0.1.1/32 " RS "14/sec_rules/2");
    T_WARNINGS(c, NULL);
    T_DONE(m, c);
    return 0;
}

/* Security Policy Guide (rule writing combinations: the service is "derived from the virtual
 * service"): toward a virtual-service provider, "All Services" and "TCP, no port" in the rule
 * open the virtual service's ports only, remapped per binding by port_overrides (6432 -> 16432
 * for the range 6432-6433 -> 16432-16433); the rule's own services count for a workload
 * provider only. Bound workloads serving the VS on different ports are refused, and so is an
 * override that cuts a range. */
static int s_vs_ports(void)
{
    T_CASE(m, c, "vs_ports", .virtual_service = "VS-RDS-orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.1/32 " RS "15/sec_rules/1 (+1)",
            "udp 53 53 10.0.1.1/32 " RS "15/sec_rules/1 (+1)");
    T_WARNINGS(c, NULL);
    fsg_compiled_target_destroy(c);

    c = s_compile(m, &(struct fsg_policy_target){ .workload = "pool-a" });
    T_CHECK(c != NULL);
    T_RULES(c, "tcp 7000 7000 10.0.1.1/32 " RS "15/sec_rules/4",
            "tcp 16432 16433 10.0.1.1/32 " RS "15/sec_rules/3");
    fsg_compiled_target_destroy(c);

    struct fsg_error err = { 0 };
    c = NULL;
    T_ERR(FSG_E_REFUSED, fsg_policy_compile(m, &(struct fsg_policy_target){ .name = "p",
                                                .virtual_service = "VS-pool" }, &c, &err));
    T_CHECK(c == NULL);
    T_STR_EQ(err.msg, "target p: refused, the policy cannot be compiled without widening "
                      "access: rule " HREF "15/sec_rules/3: virtual service "
                      "/orgs/1/sec_policy/active/virtual_services/pool: its bound workloads in "
                      "this target serve it on different ports (port_overrides); name the target "
                      "by its workload");
    T_ERR(FSG_E_REFUSED, fsg_policy_compile(m, &(struct fsg_policy_target){ .name = "p",
                                                .workload = "pool-c" }, &c, &err));
    T_CHECK(strstr(err.msg, "overrides ports 6433-6433, which only partly overlap the "
                            "service's ports 6432-6433") != NULL);
    T_DONE(m, c);
    return 0;
}

/* use_workload_subnets (ref/pce-api.md §8.6c): "consumers" allows each consumer interface's
 * subnet (address/cidr_block), IPv4 and IPv6; an interface without cidr_block keeps its address
 * and says so. "providers" concerns the provider side only: the sources stay host addresses. */
static int s_subnets(void)
{
    T_CASE(m, c, "subnets", .workload = "orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.0/24 " RS "16/sec_rules/1",
            "tcp 5432 5432 10.0.3.3/32 " RS "16/sec_rules/1",
            "tcp 5432 5432 fd00::/64 " RS "16/sec_rules/1",
            "tcp 5433 5433 10.0.1.5/32 " RS "16/sec_rules/2",
            "tcp 5433 5433 10.0.3.3/32 " RS "16/sec_rules/2",
            "tcp 5433 5433 fd00::5/128 " RS "16/sec_rules/2");
    T_WARNINGS(c, "rule " HREF "16/sec_rules/1: use_workload_subnets: an interface of consumer "
                  "workload /orgs/1/workloads/web-nocidr has no cidr_block; only its address is "
                  "allowed",
               NULL);
    T_DONE(m, c);
    return 0;
}

/* use_workload_subnets names consumer workloads: a consumer virtual service's bound workloads
 * keep their host addresses (ref/pce-api.md §8.6c); a "subnet" shorter than /8 refuses. */
static int s_subnets_limits(void)
{
    T_CASE(m, c, "subnets_vs", .workload = "orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.0/24 " RS "16/sec_rules/1",
            "tcp 5432 5432 10.0.3.3/32 " RS "16/sec_rules/1",
            "tcp 5432 5432 fd00::/64 " RS "16/sec_rules/1",
            "tcp 5433 5433 10.0.1.5/32 " RS "16/sec_rules/2",
            "tcp 5433 5433 10.0.3.3/32 " RS "16/sec_rules/2",
            "tcp 5433 5433 fd00::5/128 " RS "16/sec_rules/2",
            "tcp 5435 5435 10.0.1.5/32 " RS "16/sec_rules/3",
            "tcp 5435 5435 fd00::5/128 " RS "16/sec_rules/3");
    T_DONE(m, c);

    struct fsg_policy_model *w = s_load("subnets_wide");
    T_CHECK(w != NULL);
    struct fsg_compiled_target *cw = NULL;
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_REFUSED, fsg_policy_compile(w, &(struct fsg_policy_target){ .workload = "orders-db" },
                                            &cw, &err));
    T_CHECK(strstr(err.msg, "cidr_block /4, too wide") != NULL);
    fsg_policy_model_destroy(w);
    return 0;
}

/* Disabled rule sets and disabled rules are ignored. */
static int s_disabled(void)
{
    T_CASE(m, c, "disabled", .workload = "orders-db");
    T_RULES(c, "tcp 5434 5434 10.0.1.2/32 " RS "2/sec_rules/2");
    T_MATCHED(c, HREF "2/sec_rules/2", NULL);
    T_DONE(m, c);
    return 0;
}

/* What cannot be an SG rule is a warning, never silently dropped. */
static int s_warnings(void)
{
    T_CASE(m, c, "warnings", .workload = "orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.1/32 " RS "30/sec_rules/1",
            "tcp 5434 5434 10.0.1.1/32 " RS "30/sec_rules/3");
    T_WARNINGS(c,
               "rule " HREF "30/sec_rules/1: consumer container_host cannot be a security-group "
               "source",
               "rule " HREF "30/sec_rules/1: consumer virtual_server "
               "/orgs/1/sec_policy/active/virtual_servers/7 cannot be a security-group source",
               "rule " HREF "30/sec_rules/1: provider virtual_server is not supported and was "
               "ignored",
               "rule " HREF "30/sec_rules/2: consumers limited to users (consuming_security_"
               "principals) cannot be a security-group source; rule not applied",
               "rule " HREF "30/sec_rules/3: SecureConnect (IPsec) cannot be enforced by a "
               "security group; its ports are allowed without it",
               "rule " HREF "30/sec_rules/3: egress_services (which consumer processes may "
               "connect) cannot be enforced by a security group; its ports are allowed from any "
               "process of its consumers",
               "rule " HREF "30/sec_rules/3: machine authentication cannot be enforced by a "
               "security group; its ports are allowed without it",
               "rule set " HREF "31: has no scope (\"scopes\": []): its rules apply nowhere",
               NULL);
    T_MATCHED(c, HREF "30/sec_rules/1", HREF "30/sec_rules/2", HREF "30/sec_rules/3", NULL);
    T_DONE(m, c);

    /* A rule limited to "non_brn" networks cannot be told apart by a security group: refused. */
    static const char bundle[] =
        "{\"workloads\": [{\"href\": \"/orgs/1/workloads/rds\", \"name\": \"orders-db\"}],"
        " \"rule_sets\": [{\"href\": \"" HREF "60\", \"scopes\": [[]], \"rules\": ["
        "{\"href\": \"" HREF "60/sec_rules/1\", \"network_type\": \"non_brn\","
        " \"providers\": [{\"actors\": \"ams\"}], \"consumers\": [{\"actors\": \"ams\"}],"
        " \"ingress_services\": [{\"port\": 5432, \"proto\": 6}]}]}]}";
    struct fsg_error err = { 0 };
    T_OK(fsg_policy_model_load(fsg_span_from_cstr(bundle), NULL, &m, &err));
    c = NULL;
    T_ERR(FSG_E_REFUSED, fsg_policy_compile(m, &(struct fsg_policy_target){ .workload = "orders-db" },
                                            &c, &err));
    T_CHECK(strstr(err.msg, "sec_rules/1: network_type \"non_brn\" limits the rule") != NULL);
    fsg_policy_model_destroy(m);
    return 0;
}

/* Override denies flowseg cannot subtract exactly refuse the target instead of being ignored;
 * one naming a service without ports denies every protocol. */
static int s_deny_limits(void)
{
#define S_BUNDLE(deny, services)                                                                   \
    "{\"workloads\": [{\"href\": \"/orgs/1/workloads/rds\", \"name\": \"orders-db\"},"             \
    " {\"href\": \"/orgs/1/workloads/web\", \"interfaces\": [{\"address\": \"10.0.1.5\"}]}],"       \
    " \"ip_lists\": [{\"href\": \"/orgs/1/sec_policy/active/ip_lists/1\", \"ip_ranges\":"          \
    " [{\"from_ip\": \"10.0.2.0/24\"}]}], \"services\": [" services "],"                             \
    " \"rule_sets\": [{\"href\": \"" HREF "61\", \"scopes\": [[]], \"rules\": ["                   \
    "{\"href\": \"" HREF "61/sec_rules/1\", \"providers\": [{\"workload\": {\"href\":"             \
    " \"/orgs/1/workloads/rds\"}}], \"consumers\": [{\"workload\": {\"href\":"                     \
    " \"/orgs/1/workloads/web\"}}], \"ingress_services\": [{\"port\": 5432, \"proto\": 6}]}],"     \
    " \"deny_rules\": [{\"href\": \"" HREF "61/deny_rules/1\", \"override\": true, " deny "}]}]}"
    static const char iplist_provider[] = S_BUNDLE(
        "\"providers\": [{\"ip_list\": {\"href\": \"/orgs/1/sec_policy/active/ip_lists/1\"}}],"
        " \"consumers\": [{\"workload\": {\"href\": \"/orgs/1/workloads/web\"}}]", "");
    static const char subnets[] = S_BUNDLE(
        "\"providers\": [{\"workload\": {\"href\": \"/orgs/1/workloads/rds\"}}],"
        " \"consumers\": [{\"workload\": {\"href\": \"/orgs/1/workloads/web\"}}],"
        " \"use_workload_subnets\": [\"consumers\"]", "");
    static const char no_ports[] = S_BUNDLE(
        "\"providers\": [{\"workload\": {\"href\": \"/orgs/1/workloads/rds\"}}],"
        " \"consumers\": [{\"workload\": {\"href\": \"/orgs/1/workloads/web\"}}],"
        " \"ingress_services\": [{\"href\": \"/orgs/1/sec_policy/active/services/9\"}]",
        "{\"href\": \"/orgs/1/sec_policy/active/services/9\", \"name\": \"empty\"}");
#undef S_BUNDLE
    static const struct {
        const char *bundle;
        const char *refusal; /* NULL: compiles */
    } cases[] = {
        { iplist_provider, "deny_rules/1: an ip list as provider" },
        { subnets, "deny_rules/1: use_workload_subnets \"consumers\"" },
        { no_ports, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fsg_policy_model *m = NULL;
        struct fsg_compiled_target *c = NULL;
        struct fsg_error err = { 0 };
        T_OK(fsg_policy_model_load(fsg_span_from_cstr(cases[i].bundle), NULL, &m, &err));
        enum fsg_err rc = fsg_policy_compile(m, &(struct fsg_policy_target){ .workload = "orders-db" },
                                             &c, &err);
        if (cases[i].refusal != NULL) {
            T_CHECK(rc == FSG_E_REFUSED && strstr(err.msg, cases[i].refusal) != NULL);
        } else {
            T_OK(rc);
            T_NO_RULES(c); /* web's only allowed port is denied with every protocol */
            fsg_compiled_target_destroy(c);
        }
        fsg_policy_model_destroy(m);
    }
    return 0;
}

#define CORP(p, r)                                                                                 \
    "tcp " p " 10.1.0.0/23 " RS r, "tcp " p " 10.1.3.0/24 " RS r, "tcp " p " 10.1.4.0/22 " RS r,   \
        "tcp " p " 10.1.8.0/21 " RS r, "tcp " p " 10.1.16.0/20 " RS r,                             \
        "tcp " p " 10.1.32.0/19 " RS r, "tcp " p " 10.1.64.0/18 " RS r,                            \
        "tcp " p " 10.1.128.0/17 " RS r

/* Deny rules (ref/pce-api.md §6 "Deny rule"; precedence override deny > allow > deny > default):
 * - override deny 1 (web2 on tcp 5432) is subtracted from the allowed tcp 5432-5440, which
 *   splits into 5432 (without web2) and 5433-5440 (with it);
 * - override deny 2 (ip list "bad", every service) cuts 10.1.2.0/24 out of "corp" everywhere;
 * - override deny 6 (corp on tcp 22) cannot be carved out of "All Services": corp loses it all
 *   (narrower, warned);
 * - ordinary deny 3 and the enforcement boundary change nothing (allow rules win; the group
 *   denies the rest anyway), said precisely; disabled 4 and out-of-target 5 do nothing. */
static int s_deny(void)
{
    T_CASE(m, c, "deny", .workload = "orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.1.1/32 " RS "50/sec_rules/1",
            "tcp 5432 5432 10.0.1.3/32 " RS "50/sec_rules/1", CORP("5432 5432", "50/sec_rules/1"),
            "tcp 5433 5440 10.0.1.1/32 " RS "50/sec_rules/1",
            "tcp 5433 5440 10.0.1.2/31 " RS "50/sec_rules/1", CORP("5433 5440", "50/sec_rules/1"));
    T_WARNINGS(c,
               "deny rule " HREF "50/deny_rules/3: not applied, nothing to change: an ordinary "
               "deny rule never removes what an allow rule allows (precedence: override deny > "
               "allow > deny > default), and the security group already denies everything no "
               "allow rule allows",
               "enforcement boundary /orgs/1/sec_policy/active/enforcement_boundaries/1: not "
               "applied, nothing to change: a boundary denies only traffic no allow rule allows "
               "(and only on managed workloads in selective enforcement), which the security "
               "group already denies",
               "override deny rule " HREF "50/deny_rules/6: denies tcp 22-22, which a security "
               "group cannot carve out of the allowed all traffic: its sources lose all of all "
               "traffic (narrower than the policy)",
               NULL);
    T_DONE(m, c);

    /* An override deny whose ip list holds an FQDN cannot be subtracted: refused. */
    m = s_load("deny_fqdn");
    T_CHECK(m != NULL);
    struct fsg_error err = { 0 };
    c = NULL;
    T_ERR(FSG_E_REFUSED, fsg_policy_compile(m, &(struct fsg_policy_target){ .name = "orders-db",
                                                .workload = "orders-db" }, &c, &err));
    T_STR_EQ(err.msg, "target orders-db: refused, the policy cannot be compiled without widening "
                      "access: override deny rule " HREF "50/deny_rules/2: ip list "
                      "/orgs/1/sec_policy/active/ip_lists/bad holds FQDNs (evil.example.com), "
                      "which a security group cannot subtract: their addresses could stay "
                      "allowed");
    fsg_policy_model_destroy(m);
    return 0;
}

static struct fsg_explanation *s_explain(const struct fsg_policy_model *m, const char *workload,
                                         const char *src, int proto, int port)
{
    struct fsg_policy_probe p = { .proto = proto, .port = port };
    struct fsg_error err = { 0 };
    struct fsg_explanation *e = NULL;
    if (fsg_ip_parse(fsg_span_from_cstr(src), &p.src) != FSG_OK ||
        fsg_policy_explain(m, &(struct fsg_policy_target){ .workload = workload }, &p, &e,
                           &err) != FSG_OK) {
        fprintf(stderr, "  explain %s: %s\n", src, err.msg);
        return NULL;
    }
    return e;
}

/* "step verdict rule: detail" lines must be exactly want (NULL-terminated). */
static bool s_steps_are(const struct fsg_explanation *e, const char *const *want)
{
    char *got[32] = { 0 };
    size_t n = e->n_steps < 32 ? e->n_steps : 32;
    for (size_t i = 0; i < n; i++) {
        char line[1000];
        snprintf(line, sizeof line, "%s %s: %s", fsg_explain_verdict_name(e->steps[i].verdict),
                 e->steps[i].rule, e->steps[i].detail);
        got[i] = fsg_strdup(line);
    }
    bool ok = s_strings_are("explain steps", got, n, want);
    for (size_t i = 0; i < n; i++) {
        fsg_free(got[i]);
    }
    return ok;
}

#define T_STEPS(e, ...)                                                                            \
    do {                                                                                           \
        static const char *const want_[] = { __VA_ARGS__ };                                        \
        T_CHECK(s_steps_are((e), want_));                                                          \
    } while (0)

/* explain: the allowing rules, the override deny that removes a source, and why a rule does
 * not have a source (exclusion, scope), with the compiled rules that let it in. */
static int s_explain_case(void)
{
    struct fsg_policy_model *m = s_load("deny");
    T_CHECK(m != NULL);
    struct fsg_explanation *e = s_explain(m, "orders-db", "10.0.1.2", 6, 5432);
    T_CHECK(e != NULL && !e->allowed && e->matching.len == 0);
    T_STEPS(e, "allows " HREF "50/sec_rules/1: allows tcp 5432-5440",
            "denies " HREF "50/deny_rules/1: override deny of tcp 5432 from this source",
            "not_a_source " HREF "50/sec_rules/2: workload /orgs/1/workloads/web2 (role=Web, "
            "app=Orders, env=Prod) does not match the rule's consumers",
            NULL);
    T_STR_EQ(e->summary, "not allowed: allowed by " HREF "50/sec_rules/1 but removed by override "
                         "deny rule " HREF "50/deny_rules/1");
    T_STR_EQ(e->steps[0].rule_set, HREF "50");
    T_STR_EQ(e->steps[0].rule_set_name, "RS-orders");
    fsg_explanation_destroy(e);

    e = s_explain(m, "orders-db", "10.0.1.2", 6, 5433);
    T_CHECK(e != NULL && e->allowed && e->matching.len == 1);
    T_STR_EQ(e->summary, "allowed: 1 security-group rule(s), from 1 allow rule(s) (first: " HREF
                         "50/sec_rules/1)");
    fsg_explanation_destroy(e);

    /* No port given: allowed on some port; an address of no workload and no ip list. */
    e = s_explain(m, "orders-db", "10.0.1.2", -1, -1);
    T_CHECK(e != NULL && e->allowed);
    fsg_explanation_destroy(e);
    e = s_explain(m, "orders-db", "192.0.2.1", 6, 5432);
    T_CHECK(e != NULL && !e->allowed);
    T_STEPS(e, "not_a_source " HREF "50/sec_rules/1: no workload has this address and none of the "
               "rule's ip lists holds it",
            "not_a_source " HREF "50/sec_rules/2: no workload has this address and none of the "
            "rule's ip lists holds it",
            NULL);
    T_STR_EQ(e->summary, "not allowed: 2 rule(s) apply to the target, none has this source as a "
                         "consumer");
    fsg_explanation_destroy(e);
    /* On another port than the rule's. */
    e = s_explain(m, "orders-db", "10.0.1.1", 17, 53);
    T_CHECK(e != NULL && !e->allowed);
    T_STEPS(e, "allows_other_ports " HREF "50/sec_rules/1: has this source as a consumer, on tcp "
               "5432-5440 only",
            "not_a_source " HREF "50/sec_rules/2: workload /orgs/1/workloads/web1 (role=Web, "
            "app=Orders, env=Prod) does not match the rule's consumers",
            NULL);
    fsg_explanation_destroy(e);
    fsg_policy_model_destroy(m);

    m = s_load("exclusions");
    T_CHECK(m != NULL);
    e = s_explain(m, "orders-db", "10.0.1.3", 6, 5433);
    T_CHECK(e != NULL && !e->allowed);
    T_STEPS(e, "not_a_source " HREF "1/sec_rules/1: workload /orgs/1/workloads/web-noenv (role=Web, "
               "app=Orders) is one of the consumers but is outside the scope of this intra-scope "
               "rule: it has no env label: an exclusion selects only workloads that carry another "
               "label of that type",
            "not_a_source " HREF "2/sec_rules/1: workload /orgs/1/workloads/web-noenv (role=Web, "
               "app=Orders) has no env label: an exclusion selects only workloads that carry "
               "another label of that type",
            "not_a_source " HREF "2/sec_rules/2: workload /orgs/1/workloads/web-noenv (role=Web, "
            "app=Orders) has no env label: an exclusion selects only workloads that carry "
            "another label of that type",
            "not_a_source " HREF "2/sec_rules/3: workload /orgs/1/workloads/web-noenv (role=Web, "
            "app=Orders) has no env label: an exclusion selects only workloads that carry "
            "another label of that type",
            NULL);
    fsg_explanation_destroy(e);
    fsg_policy_model_destroy(m);

    m = s_load("label_groups");
    T_CHECK(m != NULL);
    struct fsg_policy_probe p = { .proto = 6, .port = 5432 };
    T_OK(fsg_ip_parse(fsg_span_from_cstr("10.0.1.2"), &p.src));
    struct fsg_error err = { 0 };
    T_OK(fsg_policy_explain(m, &(struct fsg_policy_target){ .virtual_service = "VS-RDS-orders-db" },
                            &p, &e, &err));
    T_STEPS(e, "not_a_source " HREF "8/sec_rules/1: workload /orgs/1/workloads/api-staging "
               "(role=API, env=Staging) is one of the consumers but is outside the scope in which "
               "the rule applies to the target (an intra-scope rule holds consumers to the "
               "target's scope)",
            NULL);
    fsg_explanation_destroy(e);
    fsg_policy_model_destroy(m);
    return 0;
}

/* Blocks of three rules merge into one /23 named after the smallest href (byte order: 10 < 9). */
static int s_provenance(void)
{
    T_CASE(m, c, "provenance", .workload = "orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.0.0/23 " RS "40/sec_rules/10 (+2)");
    T_DONE(m, c);
    return 0;
}

/* The scenario: a disabled rule, a consumer outside the scope, an ip list with an
 * exclusion and a range, a workload whose IPv6 interface is listed first. */
static int s_scenario(void)
{
    T_CASE(m, c, "scenario", .name = "orders-db", .virtual_service = "VS-RDS-orders-db");
    T_RULES(c, "tcp 5432 5432 10.0.9.0/30 " RS "24/sec_rules/41",
            "tcp 5432 5432 10.0.9.4/32 " RS "24/sec_rules/41",
            "tcp 5432 5432 10.0.9.6/31 " RS "24/sec_rules/41",
            "tcp 5432 5432 10.0.9.8/29 " RS "24/sec_rules/41",
            "tcp 5432 5432 10.0.186.116/31 " RS "24/sec_rules/41",
            "tcp 5432 5432 192.168.50.10/31 " RS "24/sec_rules/41",
            "tcp 5432 5432 192.168.50.12/30 " RS "24/sec_rules/41",
            "tcp 5432 5432 192.168.50.16/30 " RS "24/sec_rules/41",
            "tcp 5432 5432 192.168.50.20/32 " RS "24/sec_rules/41",
            "tcp 5432 5432 fd00::200:a:0:ba74/128 " RS "24/sec_rules/41");
    T_WARNINGS(c, "rule " HREF "24/sec_rules/41: fqdn dba-vpn.example.com cannot be a "
                  "security-group source",
               NULL);
    T_MATCHED(c, HREF "24/sec_rules/41", NULL);
    T_DONE(m, c);
    return 0;
}

/* Reverses every array of the bundle (and the rules and interfaces inside). */
static void s_reverse(json_t *arr)
{
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n / 2; i++) {
        json_t *a = json_incref(json_array_get(arr, i));
        json_t *b = json_incref(json_array_get(arr, n - 1 - i));
        json_array_set_new(arr, i, b);
        json_array_set_new(arr, n - 1 - i, a);
    }
}

/* The output does not depend on the order of the PCE's arrays. */
static int s_deterministic(void)
{
    json_t *root = NULL;
    struct fsg_error err = { 0 };
    T_OK(fsg_json_load_file(t_data_path("pce/compile/scenario.json"), NULL, &root, &err));
    struct fsg_policy_model *m1 = NULL;
    struct fsg_policy_model *m2 = NULL;
    T_OK(fsg_policy_model_from_json(root, NULL, &m1, &err));
    const char *key;
    json_t *coll;
    json_object_foreach(root, key, coll) {
        s_reverse(coll);
        size_t i;
        json_t *o;
        json_array_foreach(coll, i, o) {
            s_reverse(json_object_get(o, "rules"));
            s_reverse(json_object_get(o, "interfaces"));
        }
    }
    T_OK(fsg_policy_model_from_json(root, NULL, &m2, &err));
    json_decref(root);
    struct fsg_policy_target t = { .virtual_service = "VS-RDS-orders-db" };
    struct fsg_compiled_target *a = s_compile(m1, &t);
    struct fsg_compiled_target *b = s_compile(m2, &t);
    T_CHECK(a != NULL && b != NULL);
    T_CHECK(a->rules.len == 10 && a->rules.len == b->rules.len);
    for (size_t i = 0; i < a->rules.len; i++) {
        char la[400];
        char lb[400];
        s_render(&a->rules.items[i], la, sizeof la);
        s_render(&b->rules.items[i], lb, sizeof lb);
        T_STR_EQ(la, lb);
    }
    T_CHECK(a->n_warnings == b->n_warnings && a->n_matched_rules == b->n_matched_rules);
    fsg_compiled_target_destroy(a);
    fsg_compiled_target_destroy(b);
    fsg_policy_model_destroy(m1);
    fsg_policy_model_destroy(m2);
    return 0;
}

static enum fsg_err s_compile_err(const struct fsg_policy_model *m,
                                  const struct fsg_policy_target *t, struct fsg_error *err)
{
    struct fsg_compiled_target *c = NULL;
    enum fsg_err rc = fsg_policy_compile(m, t, &c, err);
    if (c != NULL) {
        fsg_compiled_target_destroy(c);
        return FSG_OK;
    }
    return rc;
}

/* Targets that name nothing, several things, something unknown or ambiguous; partial models. */
static int s_target_errors(void)
{
    struct fsg_policy_model *m = s_load("provider_virtual_service");
    T_CHECK(m != NULL);
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_NOT_FOUND,
          s_compile_err(m, &(struct fsg_policy_target){ .name = "t", .virtual_service = "VS-nope" },
                        &err));
    T_STR_EQ(err.msg, "target t: no virtual service named \"VS-nope\" in the active policy");
    T_ERR(FSG_E_INVALID_ARG,
          s_compile_err(m, &(struct fsg_policy_target){ .virtual_service = "VS-dup" }, &err));
    T_CHECK(strstr(err.msg, "several virtual services are named \"VS-dup\": use the href") != NULL);
    T_ERR(FSG_E_INVALID_ARG, s_compile_err(m, &(struct fsg_policy_target){ .name = "t" }, &err));
    T_ERR(FSG_E_INVALID_ARG,
          s_compile_err(m,
                        &(struct fsg_policy_target){ .virtual_service = "VS-other",
                                                     .workload = "orders-db" },
                        &err));
    T_ERR(FSG_E_NOT_FOUND,
          s_compile_err(m, &(struct fsg_policy_target){ .workload = "/orgs/1/workloads/nope" },
                        &err));
    static const struct fsg_policy_label bad[] = { { .key = "role", .value = "Databse" } };
    T_ERR(FSG_E_NOT_FOUND,
          s_compile_err(m, &(struct fsg_policy_target){ .name = "t", .labels = bad, .n_labels = 1 },
                        &err));
    T_STR_EQ(err.msg, "target t: label role=Databse is not in the policy");
    fsg_policy_model_destroy(m);

    /* A partially loaded model (fixtures) is refused. */
    struct fsg_policy_load_options o = { .partial = true };
    T_OK(fsg_policy_model_load(fsg_span_from_cstr("{\"labels\": []}"), &o, &m, &err));
    T_ERR(FSG_E_INVALID_ARG,
          s_compile_err(m, &(struct fsg_policy_target){ .virtual_service = "x" }, &err));
    fsg_policy_model_destroy(m);
    return 0;
}

/* A target whose rules allow nothing compiles to an empty list (the guards decide). */
static int s_empty_result(void)
{
    T_CASE(m, c, "provider_virtual_service", .virtual_service = "/orgs/1/sec_policy/active/"
                                                                "virtual_services/dup1");
    T_NO_RULES(c);
    T_CHECK(c->n_matched_rules == 0 && c->n_warnings == 0);
    T_DONE(m, c);
    return 0;
}

static int s_description(void)
{
    char out[FSG_SG_DESCRIPTION_MAX + 1];
    fsg_policy_rule_description(HREF "24/sec_rules/41", 0, out);
    T_STR_EQ(out, RS "24/sec_rules/41");
    fsg_policy_rule_description("/orgs/1/r%41 é\"<x>", 3, out);
    T_STR_EQ(out, "flowseg /orgs/1/r_41 ____x_ (+3)");
    char long_href[400];
    memset(long_href, 'a', sizeof long_href - 1);
    long_href[sizeof long_href - 1] = '\0';
    fsg_policy_rule_description(long_href, 12, out);
    T_CHECK(strlen(out) == FSG_SG_DESCRIPTION_MAX);
    T_CHECK(strcmp(out + FSG_SG_DESCRIPTION_MAX - 6, " (+12)") == 0);
    return 0;
}

/* Every allocation failure gives FSG_E_NOMEM (and no output, no leak). */
static int s_out_of_memory(void)
{
    struct fsg_policy_model *m = s_load("scenario");
    T_CHECK(m != NULL);
    struct fsg_policy_target t = { .name = "orders-db", .virtual_service = "VS-RDS-orders-db" };
    bool finished = false;
    for (long fail = 1; fail < 5000 && !finished; fail++) {
        struct fsg_compiled_target *c = NULL;
        struct fsg_error err = { 0 };
        fsg_mem_fail_after(fail);
        enum fsg_err rc = fsg_policy_compile(m, &t, &c, &err);
        fsg_mem_fail_after(0);
        T_CHECK(rc == FSG_OK || rc == FSG_E_NOMEM);
        T_CHECK((rc == FSG_OK) == (c != NULL));
        finished = rc == FSG_OK && c->rules.len == 10;
        fsg_compiled_target_destroy(c);
    }
    T_CHECK(finished);
    fsg_policy_model_destroy(m);

    /* The same for deny rules, scope expansion and explain. */
    m = s_load("deny");
    T_CHECK(m != NULL);
    struct fsg_policy_probe p = { .proto = 6, .port = 5432 };
    T_OK(fsg_ip_parse(fsg_span_from_cstr("10.0.1.2"), &p.src));
    finished = false;
    for (long fail = 1; fail < 20000 && !finished; fail++) {
        struct fsg_explanation *e = NULL;
        struct fsg_error err = { 0 };
        fsg_mem_fail_after(fail);
        enum fsg_err rc = fsg_policy_explain(m, &(struct fsg_policy_target){ .workload = "orders-db" },
                                             &p, &e, &err);
        fsg_mem_fail_after(0);
        T_CHECK(rc == FSG_OK || rc == FSG_E_NOMEM);
        T_CHECK((rc == FSG_OK) == (e != NULL));
        finished = rc == FSG_OK && e->n_steps == 3;
        fsg_explanation_destroy(e);
    }
    T_CHECK(finished);
    fsg_policy_model_destroy(m);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "provider_virtual_service", s_provider_virtual_service },
        { "provider_workload", s_provider_workload },
        { "provider_labels", s_provider_labels },
        { "ams", s_ams },
        { "scopes", s_scopes },
        { "intra_extra_scope", s_intra_extra_scope },
        { "label_actors", s_label_actors },
        { "label_groups", s_label_groups },
        { "label_group_scope", s_label_group_scope },
        { "big_scope", s_big_scope },
        { "exclusions", s_exclusions },
        { "resolve_labels_as", s_resolve_labels_as },
        { "literal_actors", s_literal_actors },
        { "ip_lists", s_ip_lists },
        { "services", s_services },
        { "icmp", s_icmp },
        { "derived_ports", s_derived_ports },
        { "vs_ports", s_vs_ports },
        { "subnets", s_subnets },
        { "subnets_limits", s_subnets_limits },
        { "deny_limits", s_deny_limits },
        { "disabled", s_disabled },
        { "warnings", s_warnings },
        { "deny", s_deny },
        { "explain", s_explain_case },
        { "provenance", s_provenance },
        { "scenario", s_scenario },
        { "deterministic", s_deterministic },
        { "target_errors", s_target_errors },
        { "empty_result", s_empty_result },
        { "description", s_description },
        { "out_of_memory", s_out_of_memory },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
