/* policy/model: every PCE fixture converts; a full bundle converts field by field; hostile input
 * (malformed JSON, wrong types, dangling hrefs, huge arrays, deep nesting) gives a clear error
 * naming the object and field, and no model. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/model.h"
#include "tests/harness/test.h"

/* ---- fixtures ------------------------------------------------------------------------------ */

/* How each upstream response body goes into a bundle. */
static const struct {
    const char *file;
    const char *how; /* a bundle key (array body), "one:<key>" (object body), "rules",
                      * "one:rules" (sec_rules bodies, wrapped in a rule set), "not_policy" */
} s_fixtures[] = {
    { "illumio-py/ip_lists.json", "ip_lists" },
    { "illumio-py/label_groups.json", "label_groups" },
    { "illumio-py/rule_sets.json", "rule_sets" },
    { "illumio-py/rules.json", "rules" },
    { "illumio-py/services.json", "services" },
    { "illumio-py/virtual_services.json", "virtual_services" },
    { "illumio-py/workloads.json", "workloads" },
    { "demisto-content/create_rule_success.json", "one:rules" },
    { "demisto-content/create_service_binding_success_resp.json", "one:service_bindings" },
    { "demisto-content/create_virtual_service_success_response_protocol_as_udp.json",
      "one:virtual_services" },
    { "demisto-content/get_ruleset_success.json", "one:rule_sets" },
    { "demisto-content/object_provision_failure.json", "not_policy" },
    { "demisto-content/object_provision_success.json", "not_policy" },
    { "demisto-content/workloads_list_success_response.json", "workloads" },
};
#define S_N_FIXTURES (sizeof s_fixtures / sizeof s_fixtures[0])

static json_t *s_wrap(json_t *body, const char *how)
{
    bool one = strncmp(how, "one:", 4) == 0;
    const char *key = one ? how + 4 : how;
    json_t *arr = one ? json_pack("[O]", body) : json_incref(body);
    if (strcmp(key, "rules") == 0) {
        return json_pack("{s:[{s:s, s:b, s:[[]], s:o}]}", "rule_sets", "href",
                         "/orgs/1/sec_policy/draft/rule_sets/1", "enabled", 1, "scopes", "rules",
                         arr);
    }
    return json_pack("{s:o}", key, arr);
}

static struct fsg_ip s_ip(const char *s)
{
    struct fsg_ip ip = { 0 };
    if (fsg_ip_parse(fsg_span_from_cstr(s), &ip) != FSG_OK) {
        fprintf(stderr, "  bad test address %s\n", s);
    }
    return ip;
}

static bool s_ip_is(const struct fsg_ip *ip, const char *want)
{
    struct fsg_ip w = s_ip(want);
    return fsg_ip_eq(ip, &w);
}

/* What each policy fixture must hold once converted. */
static int s_check_fixture(size_t i, const struct fsg_policy_model *m)
{
    T_CHECK(m->is_partial);
    switch (i) {
    case 0: /* ip_lists */
        T_CHECK(m->n_ip_lists == 5);
        T_STR_EQ(m->ip_lists[3].name, "Any (0.0.0.0/0 and ::/0)");
        T_CHECK(m->ip_lists[3].n_ranges == 2);
        T_CHECK(s_ip_is(&m->ip_lists[3].ranges[0].first, "0.0.0.0"));
        T_CHECK(s_ip_is(&m->ip_lists[3].ranges[0].last, "255.255.255.255"));
        T_CHECK(s_ip_is(&m->ip_lists[3].ranges[1].last, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        T_CHECK(m->ip_lists[1].n_fqdns == 1);
        T_STR_EQ(m->ip_lists[1].fqdns[0], "app.example.com");
        break;
    case 1: /* label_groups: labels/13 is not in the fixture, so it is dropped */
        T_CHECK(m->n_label_groups == 2);
        T_CHECK(m->label_groups[0].n_sub_groups == 1 && m->label_groups[0].sub_groups[0] == 1);
        T_STR_EQ(m->label_groups[1].key, "loc");
        T_CHECK(m->label_groups[1].n_labels == 0 && m->label_groups[0].n_members == 0);
        break;
    case 2: /* rule_sets */
        T_CHECK(m->n_rule_sets == 3);
        T_CHECK(m->rule_sets[0].is_enabled && m->rule_sets[0].n_scopes == 1);
        T_CHECK(m->rule_sets[2].n_scopes == 1 && m->rule_sets[2].scopes[0].n_items == 0);
        break;
    case 3: { /* rules */
        const struct fsg_policy_rule *r = &m->rule_sets[0].rules[0];
        T_CHECK(m->rule_sets[0].n_rules == 1);
        T_CHECK(r->n_consumers == 1 && r->consumers[0].kind == FSG_POLICY_ACTOR_AMS);
        T_CHECK(r->n_ingress_services == 1 && r->ingress_services[0].port.port == 1234 &&
                r->ingress_services[0].port.proto == 6);
        T_CHECK(r->resolve_providers == FSG_POLICY_RESOLVE_WORKLOADS && !r->unscoped_consumers);
        break;
    }
    case 4: /* services */
        T_CHECK(m->n_services == 6);
        T_CHECK(m->services[0].ports[0].proto == -1 && m->services[0].ports[0].port == -1);
        T_CHECK(m->services[2].n_ports == 2 && m->services[2].ports[1].proto == 58 &&
                m->services[2].ports[1].icmp_type == -1);
        T_CHECK(m->services[5].ports[1].proto == 17 && m->services[5].ports[1].port == 1 &&
                m->services[5].ports[1].to_port == 1023);
        break;
    case 5: /* virtual_services */
        T_CHECK(m->n_virtual_services == 2);
        T_CHECK(m->virtual_services[0].n_ports == 2 && m->virtual_services[0].ports[1].port == 80 &&
                m->virtual_services[0].ports[1].to_port == 443);
        T_CHECK(m->virtual_services[0].n_addresses == 2);
        T_CHECK(m->virtual_services[0].addresses[0].has_ip &&
                m->virtual_services[0].addresses[0].port == 101);
        T_STR_EQ(m->virtual_services[0].addresses[1].fqdn, "*.illumio.com");
        T_CHECK(m->virtual_services[0].n_ip_overrides == 1 &&
                m->virtual_services[0].ip_overrides[0].prefix == 32);
        break;
    case 6: /* workloads: IPv6 listed first, both kept in order */
        T_CHECK(m->n_workloads == 1 && m->workloads[0].is_managed);
        T_STR_EQ(m->workloads[0].hostname, "ubuntu-db");
        T_CHECK(m->workloads[0].n_interfaces == 2);
        T_CHECK(s_ip_is(&m->workloads[0].interfaces[0].address, "fd00::200:a:0:ba74"));
        T_CHECK(s_ip_is(&m->workloads[0].interfaces[1].address, "10.0.186.116"));
        T_CHECK(s_ip_is(&m->workloads[0].public_ip, "66.151.147.220"));
        break;
    case 7: /* one rule: its service href is not in the fixture */
        T_CHECK(m->rule_sets[0].n_rules == 1 && m->rule_sets[0].rules[0].n_ingress_services == 0);
        T_CHECK(m->rule_sets[0].rules[0].n_providers == 0); /* labels/3 dropped */
        break;
    case 8: /* a binding response holds only an href */
        T_CHECK(m->n_virtual_services == 0 && m->n_workloads == 0);
        break;
    case 9:
        T_CHECK(m->n_virtual_services == 1 && m->virtual_services[0].ports[0].port == 8443);
        break;
    case 10:
        T_CHECK(m->n_rule_sets == 1 && m->rule_sets[0].n_rules == 4);
        T_CHECK(m->rule_sets[0].rules[0].resolve_consumers == FSG_POLICY_RESOLVE_VIRTUAL_SERVICES);
        T_CHECK(m->rule_sets[0].rules[0].providers[0].kind == FSG_POLICY_ACTOR_AMS);
        break;
    case 13: /* an API-created workload: unmanaged, no interfaces, public_ip */
        T_CHECK(m->n_workloads == 1 && !m->workloads[0].is_managed);
        T_CHECK(m->workloads[0].n_interfaces == 0 && m->workloads[0].has_public_ip);
        T_CHECK(s_ip_is(&m->workloads[0].public_ip, "0.0.0.0"));
        break;
    default:
        break;
    }
    return 0;
}

static int s_every_fixture_parses(void)
{
    struct fsg_policy_load_options partial = { .partial = true };
    for (size_t i = 0; i < S_N_FIXTURES; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "pce/fixtures/%s", s_fixtures[i].file);
        json_t *body = NULL;
        struct fsg_error err = { 0 };
        T_OK(fsg_json_load_file(t_data_path(rel), NULL, &body, &err));
        struct fsg_policy_model *m = NULL;
        if (strcmp(s_fixtures[i].how, "not_policy") == 0) {
            /* A provisioning response is not policy: a clear error, not a model. */
            T_ERR(FSG_E_PARSE, fsg_policy_model_from_json(body, &partial, &m, &err));
            T_CHECK(m == NULL);
            T_CHECK(strstr(err.msg, "expected a JSON object") != NULL ||
                    strstr(err.msg, "unknown key \"commit_message\"") != NULL);
            json_decref(body);
            continue;
        }
        json_t *bundle = s_wrap(body, s_fixtures[i].how);
        json_decref(body);
        T_CHECK(bundle != NULL);
        enum fsg_err rc = fsg_policy_model_from_json(bundle, &partial, &m, &err);
        if (rc != FSG_OK) {
            fprintf(stderr, "  %s: %s\n", s_fixtures[i].file, err.msg);
        }
        T_OK(rc);
        json_decref(bundle);
        int r = s_check_fixture(i, m);
        fsg_policy_model_destroy(m);
        if (r != 0) {
            fprintf(stderr, "  in %s\n", s_fixtures[i].file);
            return r;
        }
    }
    return 0;
}

/* Every file of the fixture directories is in the table above. */
static int s_fixture_table_is_complete(void)
{
    static const char *const dirs[] = { "illumio-py", "demisto-content" };
    for (size_t d = 0; d < 2; d++) {
        char rel[128];
        snprintf(rel, sizeof rel, "pce/fixtures/%s", dirs[d]);
        DIR *dir = opendir(t_data_path(rel));
        T_CHECK(dir != NULL);
        struct dirent *e;
        int missing = 0;
        while ((e = readdir(dir)) != NULL) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 5, ".json") != 0) {
                continue;
            }
            char name[300];
            snprintf(name, sizeof name, "%s/%s", dirs[d], e->d_name);
            bool found = false;
            for (size_t i = 0; i < S_N_FIXTURES && !found; i++) {
                found = strcmp(s_fixtures[i].file, name) == 0;
            }
            if (!found) {
                fprintf(stderr, "  fixture %s is not checked\n", name);
                missing++;
            }
        }
        closedir(dir);
        T_CHECK(missing == 0);
    }
    return 0;
}

/* Loaded strictly, the fixtures are refused: they hold draft objects and unrelated hrefs. */
static int s_fixture_strict_refuses_draft(void)
{
    struct fsg_policy_model *m = NULL;
    struct fsg_error err = { 0 };
    json_t *body = NULL;
    T_OK(fsg_json_load_file(t_data_path("pce/fixtures/illumio-py/rule_sets.json"), NULL, &body,
                            &err));
    json_t *bundle = s_wrap(body, "rule_sets");
    json_decref(body);
    T_ERR(FSG_E_PARSE, fsg_policy_model_from_json(bundle, NULL, &m, &err));
    json_decref(bundle);
    T_CHECK(m == NULL);
    T_STR_EQ(err.msg, "policy: rule_sets[0] /orgs/1/sec_policy/draft/rule_sets/1: href: a draft "
                      "policy object: flowseg enforces the active policy (export "
                      "sec_policy/active)");
    return 0;
}

/* ---- a full bundle, field by field ---------------------------------------------------------- */

static int s_full_bundle(void)
{
    struct fsg_policy_model *m = NULL;
    struct fsg_error err = { 0 };
    T_OK(fsg_policy_model_load_file(t_data_path("pce/model/full.json"), NULL, &m, &err));
    T_CHECK(!m->is_partial && m->n_labels == 5);
    T_STR_EQ(m->labels[0].href, "/orgs/1/labels/1");
    T_STR_EQ(m->labels[0].key, "role");
    T_STR_EQ(m->labels[0].value, "Web");

    /* Nested label groups expand to every member, sorted and unique. */
    T_CHECK(m->n_label_groups == 3);
    for (size_t g = 0; g < 3; g++) {
        T_CHECK(m->label_groups[g].n_members == 2);
        T_CHECK(m->label_groups[g].members[0] == 3 && m->label_groups[g].members[1] == 4);
    }
    T_CHECK(m->label_groups[0].n_labels == 0 && m->label_groups[0].sub_groups[0] == 1);

    const struct fsg_policy_workload *w = m->workloads;
    T_CHECK(m->n_workloads == 4);
    T_CHECK(w[0].is_managed && !w[0].is_deleted && w[0].n_labels == 2);
    T_CHECK(w[0].labels[0] == 0 && w[0].labels[1] == 2);
    T_CHECK(w[0].n_interfaces == 4);
    T_CHECK(s_ip_is(&w[0].interfaces[0].address, "fd00::200:a:0:ba74"));
    T_CHECK(w[0].interfaces[0].address.is_v6 && !w[0].interfaces[1].address.is_v6);
    T_CHECK(w[0].interfaces[2].is_loopback && !w[0].interfaces[3].has_address);
    T_STR_EQ(w[0].interfaces[0].name, "eth0");
    T_CHECK(!w[1].is_managed && w[1].has_public_ip && w[1].n_interfaces == 0);
    T_CHECK(w[2].is_managed);                 /* pre-20.2: agent.href */
    T_CHECK(!w[3].is_managed && w[3].is_deleted && w[3].name == NULL);
    T_STR_EQ(w[3].hostname, "bare-host");

    const struct fsg_policy_service *s = m->services;
    T_CHECK(m->n_services == 3);
    T_CHECK(s[1].n_ports == 2 && s[1].ports[0].port == 1 && s[1].ports[0].to_port == 1023);
    T_CHECK(s[1].ports[1].proto == 1 && s[1].ports[1].icmp_type == 8 &&
            s[1].ports[1].icmp_code == -1);
    T_CHECK(s[1].n_windows_services == 1 && s[1].process_name == NULL);
    T_STR_EQ(s[2].process_name, "postgres");

    const struct fsg_policy_ip_list *l = &m->ip_lists[0];
    T_CHECK(m->n_ip_lists == 1 && l->n_ranges == 5 && l->n_fqdns == 1);
    T_CHECK(s_ip_is(&l->ranges[0].first, "10.0.9.0") && s_ip_is(&l->ranges[0].last, "10.0.9.15"));
    T_CHECK(l->ranges[1].is_exclusion && s_ip_is(&l->ranges[1].last, "10.0.9.5"));
    T_CHECK(s_ip_is(&l->ranges[2].first, "192.168.50.10") &&
            s_ip_is(&l->ranges[2].last, "192.168.50.20"));
    T_CHECK(s_ip_is(&l->ranges[3].first, "10.0.10.0") &&
            s_ip_is(&l->ranges[3].last, "10.0.10.255"));
    T_CHECK(s_ip_is(&l->ranges[4].last, "2001:db8::ffff:ffff:ffff:ffff"));

    const struct fsg_policy_virtual_service *v = m->virtual_services;
    T_CHECK(m->n_virtual_services == 2);
    T_CHECK(v[0].n_ports == 1 && v[0].service == FSG_POLICY_NONE && v[0].n_addresses == 3);
    T_STR_EQ(v[0].addresses[0].fqdn, "orders-db.example.com");
    T_CHECK(v[0].addresses[1].has_ip && v[0].addresses[1].port == 5432);
    T_CHECK(v[0].addresses[2].has_ip && v[0].addresses[2].port == -1);
    T_CHECK(v[0].n_ip_overrides == 2 && v[0].ip_overrides[0].prefix == 24 &&
            v[0].ip_overrides[1].prefix == 32);
    /* bound_workloads and the service binding name the same workload: one binding. */
    T_CHECK(v[0].n_bindings == 1 && v[0].bindings[0].workload == 1 &&
            v[0].bindings[0].n_port_overrides == 1);
    const struct fsg_policy_port_override *po = &v[0].bindings[0].port_overrides[0];
    T_CHECK(po->proto == 6 && po->port == 5432 && po->to_port == -1 && po->new_port == 15432 &&
            po->new_to_port == -1);
    T_CHECK(v[1].service == 1 && v[1].n_bindings == 1 && v[1].bindings[0].workload == 0);

    const struct fsg_policy_rule_set *rs = &m->rule_sets[0];
    T_CHECK(m->n_rule_sets == 2 && rs->is_enabled && !m->rule_sets[1].is_enabled);
    T_CHECK(rs->n_scopes == 2 && rs->scopes[0].n_items == 3 && rs->scopes[1].n_items == 0);
    T_CHECK(rs->scopes[0].items[1].kind == FSG_POLICY_ACTOR_LABEL_GROUP &&
            rs->scopes[0].items[1].ref == 0);
    T_CHECK(rs->scopes[0].items[2].is_exclusion && rs->scopes[0].items[2].ref == 4);
    T_CHECK(rs->n_deny_rules == 2 && rs->n_rules == 2);
    /* deny_rules default to ordinary deny, override_deny_rules entries are overrides. */
    T_CHECK(!rs->deny_rules[0].is_override && rs->deny_rules[1].is_override &&
            rs->deny_rules[0].is_enabled && rs->deny_rules[0].n_providers == 0);

    const struct fsg_policy_rule *r = &rs->rules[0];
    T_CHECK(r->is_enabled && !rs->rules[1].is_enabled);
    T_CHECK(r->n_providers == 3 && r->providers[0].kind == FSG_POLICY_ACTOR_LABEL &&
            r->providers[0].ref == 1);
    T_CHECK(r->providers[1].kind == FSG_POLICY_ACTOR_VIRTUAL_SERVICE && r->providers[1].ref == 0);
    T_CHECK(r->providers[2].kind == FSG_POLICY_ACTOR_UNSUPPORTED);
    T_STR_EQ(r->providers[2].what, "virtual_server");
    T_STR_EQ(r->providers[2].href, "/orgs/1/sec_policy/active/virtual_servers/1");
    T_CHECK(r->n_consumers == 6 && r->consumers[0].kind == FSG_POLICY_ACTOR_AMS);
    T_CHECK(r->consumers[1].is_exclusion && r->consumers[1].ref == 3);
    T_CHECK(r->consumers[2].kind == FSG_POLICY_ACTOR_LABEL_GROUP && !r->consumers[2].is_exclusion);
    T_CHECK(r->consumers[3].kind == FSG_POLICY_ACTOR_WORKLOAD && r->consumers[3].ref == 0);
    T_CHECK(r->consumers[4].kind == FSG_POLICY_ACTOR_IP_LIST);
    T_STR_EQ(r->consumers[5].what, "container_host");
    T_CHECK(r->n_ingress_services == 4 && r->ingress_services[0].service == 1);
    T_CHECK(r->ingress_services[1].service == FSG_POLICY_NONE &&
            r->ingress_services[1].port.port == 5432 && r->ingress_services[1].port.to_port == -1);
    T_CHECK(r->ingress_services[2].port.to_port == 5434);
    T_CHECK(r->ingress_services[3].port.proto == 58 &&
            r->ingress_services[3].port.icmp_type == 128);
    T_CHECK(r->resolve_providers ==
            (FSG_POLICY_RESOLVE_WORKLOADS | FSG_POLICY_RESOLVE_VIRTUAL_SERVICES));
    T_CHECK(r->resolve_consumers == FSG_POLICY_RESOLVE_VIRTUAL_SERVICES);
    T_CHECK(r->unscoped_consumers && r->sec_connect && r->stateless && r->machine_auth);
    T_CHECK(r->n_security_principals == 1);
    T_CHECK(rs->rules[1].resolve_providers == FSG_POLICY_RESOLVE_WORKLOADS);

    /* Lookups. */
    T_CHECK(fsg_policy_find_label(m, "/orgs/1/labels/8") == 4);
    T_CHECK(fsg_policy_find_label(m, "/orgs/1/labels/99") == FSG_POLICY_NONE);
    T_CHECK(fsg_policy_find_label_kv(m, "env", "Staging") == 4);
    T_CHECK(fsg_policy_find_label_kv(m, "env", "Nope") == FSG_POLICY_NONE);
    T_CHECK(fsg_policy_find_service(m, "/orgs/1/sec_policy/active/services/3") == 2);
    T_CHECK(fsg_policy_find_ip_list(m, "/orgs/1/sec_policy/active/ip_lists/160") == 0);
    T_CHECK(fsg_policy_find_label_group(m, "/orgs/1/sec_policy/active/label_groups/inner") == 2);
    size_t i = 99;
    T_OK(fsg_policy_find_workload(m, "web-1", &i, &err));
    T_CHECK(i == 0);
    T_OK(fsg_policy_find_workload(m, "web-1.example.com", &i, &err));
    T_CHECK(i == 0);
    T_OK(fsg_policy_find_workload(m, "/orgs/1/workloads/old-managed", &i, &err));
    T_CHECK(i == 2);
    T_ERR(FSG_E_NOT_FOUND, fsg_policy_find_workload(m, "bare-host", &i, &err)); /* deleted */
    T_OK(fsg_policy_find_virtual_service(m, "/orgs/1/sec_policy/draft/virtual_services/svc", &i,
                                         &err));
    T_CHECK(i == 1);
    fsg_policy_model_destroy(m);
    return 0;
}

/* ---- hostile input -------------------------------------------------------------------------- */

#define LBL "{\"href\": \"/orgs/1/labels/1\", \"key\": \"role\", \"value\": \"Web\"}"
#define RS1 "{\"href\": \"/orgs/1/sec_policy/active/rule_sets/1\", \"scopes\": [[]], \"rules\": "
#define R1 "{\"href\": \"/orgs/1/sec_policy/active/rule_sets/1/sec_rules/1\", "
#define WL "{\"href\": \"/orgs/1/workloads/w\", "
#define LG(id) "{\"href\": \"/orgs/1/sec_policy/active/label_groups/" id "\", "

static const struct {
    const char *json;
    enum fsg_err code;
    const char *msg; /* substring of the error message */
} s_bad[] = {
    { "{\"labels\": [", FSG_E_PARSE, "policy: invalid JSON: line 1" },
    { "{} x", FSG_E_PARSE, "invalid JSON" },
    { "{\"labels\": [], \"labels\": []}", FSG_E_PARSE, "duplicate object key" },
    { "{\"labels\": [{\"href\": \"a\\u0000b\", \"key\": \"k\", \"value\": \"v\"}]}", FSG_E_PARSE,
      "invalid JSON" },
    { "[]", FSG_E_PARSE, "policy: expected a JSON object" },
    { "{\"rulesets\": []}", FSG_E_PARSE, "policy: unknown key \"rulesets\"" },
    { "{\"enforcement_boundaries\": [{\"href\": \"/orgs/1/sec_policy/draft/enforcement_boundaries/1\"}]}",
      FSG_E_PARSE, "draft" },
    { "{\"rule_sets\": [{\"href\": \"/orgs/1/sec_policy/active/rule_sets/1\", \"deny_rules\": [{\"href\": \"/orgs/1/sec_policy/active/rule_sets/1/deny_rules/1\", \"override\": 3}]}]}",
      FSG_E_PARSE, "override" },
    { "{\"labels\": {}}", FSG_E_PARSE, "policy: labels: expected an array, got object" },
    { "{\"labels\": [7]}", FSG_E_PARSE, "policy: labels[0]: expected an object, got integer" },
    { "{\"labels\": [{\"key\": \"role\", \"value\": \"Web\"}]}", FSG_E_PARSE,
      "policy: labels[0]: href: missing (a string is required)" },
    { "{\"labels\": [{\"href\": \"\", \"key\": \"role\", \"value\": \"Web\"}]}", FSG_E_PARSE,
      "href: is empty" },
    { "{\"labels\": [{\"href\": \"/orgs/1/labels/1\", \"key\": \"role\", \"value\": 5}]}",
      FSG_E_PARSE, "policy: labels[0] /orgs/1/labels/1: value: expected a string, got integer" },
    { "{\"labels\": [" LBL ", " LBL "]}", FSG_E_PARSE,
      "policy: labels[1] /orgs/1/labels/1: href: duplicate of labels[0]" },
    { "{\"workloads\": [" WL "\"labels\": [{\"href\": \"/orgs/1/labels/9\"}]}]}", FSG_E_PARSE,
      "policy: workloads[0] /orgs/1/workloads/w: labels[0]: dangling reference: /orgs/1/labels/9 "
      "is not in the bundle's labels" },
    { "{\"workloads\": [" WL "\"interfaces\": \"eth0\"}]}", FSG_E_PARSE,
      "interfaces: expected an array, got string" },
    { "{\"workloads\": [" WL "\"interfaces\": [{\"address\": \"10.0.0.300\"}]}]}", FSG_E_PARSE,
      "policy: workloads[0] /orgs/1/workloads/w: interfaces[0].address: \"10.0.0.300\" is not an "
      "IP address" },
    { "{\"workloads\": [" WL "\"deleted\": \"no\"}]}", FSG_E_PARSE,
      "deleted: expected true or false, got string" },
    { "{\"workloads\": [" WL "\"ven\": \"yes\"}]}", FSG_E_PARSE, "ven: expected an object" },
    { "{\"rule_sets\": [" RS1 "[" R1 "\"consumers\": [{\"ip_list\": {\"href\": "
      "\"/orgs/1/sec_policy/active/ip_lists/7\"}}]}]}]}",
      FSG_E_PARSE,
      "policy: rule_sets[0] /orgs/1/sec_policy/active/rule_sets/1: rules[0].consumers[0].ip_list: "
      "dangling reference: /orgs/1/sec_policy/active/ip_lists/7 is not in the bundle's ip_lists" },
    { "{\"rule_sets\": [{\"href\": \"/orgs/1/sec_policy/draft/rule_sets/1\"}]}", FSG_E_PARSE,
      "a draft policy object" },
    { "{\"rule_sets\": [" RS1 "[{\"enabled\": true}]}]}", FSG_E_PARSE,
      "rules[0].href: missing (a string is required)" },
    { "{\"rule_sets\": [" RS1 "[" R1 "\"enabled\": true}, " R1 "\"enabled\": true}]}]}",
      FSG_E_PARSE, "duplicate rule href" },
    { "{\"rule_sets\": [" RS1 "[" R1 "\"enabled\": \"true\"}]}]}", FSG_E_PARSE,
      "rules[0].enabled: expected true or false, got string" },
    { "{\"labels\": [" LBL "], \"workloads\": [" WL "\"labels\": []}], \"rule_sets\": [" RS1
      "[" R1 "\"providers\": [{\"label\": {\"href\": \"/orgs/1/labels/1\"}, \"workload\": "
      "{\"href\": \"/orgs/1/workloads/w\"}}]}]}]}",
      FSG_E_PARSE, "an actor names one kind" },
    { "{\"rule_sets\": [" RS1 "[" R1 "\"providers\": [{}]}]}]}", FSG_E_PARSE,
      "rules[0].providers[0]: empty actor" },
    { "{\"rule_sets\": [" RS1 "[" R1 "\"consumers\": [{\"actors\": 1}]}]}]}", FSG_E_PARSE,
      "actors: expected a string, got integer" },
    { "{\"workloads\": [" WL "\"labels\": []}], \"rule_sets\": [{\"href\": "
      "\"/orgs/1/sec_policy/active/rule_sets/1\", \"scopes\": [[{\"workload\": {\"href\": "
      "\"/orgs/1/workloads/w\"}}]]}]}",
      FSG_E_PARSE, "scopes hold only labels and label groups" },
    { "{\"rule_sets\": [{\"href\": \"/orgs/1/sec_policy/active/rule_sets/1\", \"scopes\": [7]}]}",
      FSG_E_PARSE, "scopes[0]: expected an array of labels, got integer" },
    { "{\"rule_sets\": [" RS1 "[" R1 "\"resolve_labels_as\": {\"providers\": [\"hosts\"]}}]}]}",
      FSG_E_PARSE, "providers[0]: expected \"workloads\" or \"virtual_services\"" },
    { "{\"services\": [{\"href\": \"/orgs/1/sec_policy/active/services/1\", \"service_ports\": "
      "[{\"port\": 70000, \"proto\": 6}]}]}",
      FSG_E_PARSE, "service_ports[0].port: 70000 is outside 0..65535" },
    { "{\"services\": [{\"href\": \"/orgs/1/sec_policy/active/services/1\", \"service_ports\": "
      "[{\"port\": 5432.0, \"proto\": 6}]}]}",
      FSG_E_PARSE, "service_ports[0].port: expected an integer, got real" },
    { "{\"services\": [{\"href\": \"/orgs/1/sec_policy/active/services/1\", \"service_ports\": "
      "[{\"port\": 5432}]}]}",
      FSG_E_PARSE, "service_ports[0].proto: missing" },
    { "{\"services\": [{\"href\": \"/orgs/1/sec_policy/active/services/1\", \"service_ports\": "
      "[{\"to_port\": 10, \"proto\": 6}]}]}",
      FSG_E_PARSE, "to_port: given without \"port\"" },
    { "{\"services\": [{\"href\": \"/orgs/1/sec_policy/active/services/1\", \"service_ports\": "
      "[{\"port\": 10, \"to_port\": 9, \"proto\": 6}]}]}",
      FSG_E_PARSE, "to_port: 9 is below port 10" },
    { "{\"ip_lists\": [{\"href\": \"/orgs/1/sec_policy/active/ip_lists/1\", \"ip_ranges\": "
      "[{\"from_ip\": \"10.0.0.9\", \"to_ip\": \"10.0.0.1\"}]}]}",
      FSG_E_PARSE, "ip_ranges[0].to_ip: is below from_ip \"10.0.0.9\"" },
    { "{\"ip_lists\": [{\"href\": \"/orgs/1/sec_policy/active/ip_lists/1\", \"ip_ranges\": "
      "[{\"from_ip\": \"10.0.0.0/24\", \"to_ip\": \"10.0.1.0\"}]}]}",
      FSG_E_PARSE, "to_ip: given with a CIDR from_ip" },
    { "{\"ip_lists\": [{\"href\": \"/orgs/1/sec_policy/active/ip_lists/1\", \"ip_ranges\": "
      "[{\"from_ip\": \"10.0.0.1\", \"to_ip\": \"::1\"}]}]}",
      FSG_E_PARSE, "to_ip: is not the same IP version as from_ip" },
    { "{\"ip_lists\": [{\"href\": \"/orgs/1/sec_policy/active/ip_lists/1\", \"ip_ranges\": "
      "[{\"from_ip\": \"10.0.0.0/33\"}]}]}",
      FSG_E_PARSE, "from_ip: \"10.0.0.0/33\" is not an IP address or CIDR" },
    { "{\"virtual_services\": [{\"href\": \"/orgs/1/sec_policy/active/virtual_services/v\", "
      "\"ip_overrides\": [7]}]}",
      FSG_E_PARSE, "ip_overrides[0]: expected a string, got integer" },
    { "{\"virtual_services\": [{\"href\": \"/orgs/1/sec_policy/active/virtual_services/v\", "
      "\"bound_workloads\": [{\"href\": \"/orgs/1/workloads/gone\"}]}]}",
      FSG_E_PARSE, "bound_workloads[0]: dangling reference: /orgs/1/workloads/gone" },
    { "{\"virtual_services\": [{\"href\": \"/orgs/1/sec_policy/active/virtual_services/v\"}], "
      "\"service_bindings\": [{\"virtual_service\": {\"href\": "
      "\"/orgs/1/sec_policy/active/virtual_services/v\"}}]}",
      FSG_E_PARSE, "service_bindings[0]: workload: missing" },
    { "{\"label_groups\": [" LG("a") "\"sub_groups\": [{\"href\": "
      "\"/orgs/1/sec_policy/active/label_groups/b\"}]}, " LG("b") "\"sub_groups\": [{\"href\": "
      "\"/orgs/1/sec_policy/active/label_groups/a\"}]}]}",
      FSG_E_PARSE, "sub_groups: cycle" },
    { "{\"label_groups\": [" LG("a") "\"sub_groups\": [{\"href\": "
      "\"/orgs/1/sec_policy/active/label_groups/a\"}]}]}",
      FSG_E_PARSE, "cycle: /orgs/1/sec_policy/active/label_groups/a is its own sub group" },
    { "{\"label_groups\": [" LG("a") "\"sub_groups\": [{\"href\": "
      "\"/orgs/1/sec_policy/active/label_groups/z\"}]}]}",
      FSG_E_PARSE, "sub_groups[0]: dangling reference" },
};
#define S_N_BAD (sizeof s_bad / sizeof s_bad[0])

static int s_hostile_input(void)
{
    for (size_t i = 0; i < S_N_BAD; i++) {
        struct fsg_policy_model *m = NULL;
        struct fsg_error err = { 0 };
        enum fsg_err rc = fsg_policy_model_load(fsg_span_from_cstr(s_bad[i].json), NULL, &m, &err);
        if (rc != s_bad[i].code || m != NULL || strstr(err.msg, s_bad[i].msg) == NULL) {
            fprintf(stderr, "  case %zu: %s\n    got %s: %s\n    want %s: ...%s...\n", i,
                    s_bad[i].json, fsg_err_name(rc), err.msg, fsg_err_name(s_bad[i].code),
                    s_bad[i].msg);
            fsg_policy_model_destroy(m);
            return 1;
        }
        T_CHECK(err.code == s_bad[i].code);
    }
    return 0;
}

/* A buffer "{\"<key>\": [0,0,...]}" with n elements (prefix/suffix wrap the array). */
static char *s_big_array(const char *prefix, size_t n, const char *suffix)
{
    size_t len = strlen(prefix) + 2 * n + strlen(suffix) + 4;
    char *s = malloc(len);
    if (s == NULL) {
        return NULL;
    }
    char *p = s + sprintf(s, "%s[", prefix);
    for (size_t i = 0; i < n; i++) {
        *p++ = '0';
        *p++ = ',';
    }
    if (n > 0) {
        p--;
    }
    sprintf(p, "]%s", suffix);
    return s;
}

static int s_huge_arrays(void)
{
    struct fsg_policy_model *m = NULL;
    struct fsg_error err = { 0 };
    /* One more object than a collection may hold. */
    char *s = s_big_array("{\"workloads\": ", FSG_POLICY_MAX_OBJECTS_DEFAULT + 1, "}");
    T_CHECK(s != NULL);
    enum fsg_err rc = fsg_policy_model_load(fsg_span_from_cstr(s), NULL, &m, &err);
    free(s);
    T_ERR(FSG_E_LIMIT, rc);
    T_CHECK(m == NULL);
    T_STR_EQ(err.msg, "policy: workloads: 1000001 objects exceed the limit of 1000000");

    /* One more item than an object's array may hold. */
    s = s_big_array("{\"workloads\": [{\"href\": \"/orgs/1/workloads/w\", \"interfaces\": ",
                    FSG_POLICY_MAX_ITEMS_DEFAULT + 1, "}]}");
    T_CHECK(s != NULL);
    rc = fsg_policy_model_load(fsg_span_from_cstr(s), NULL, &m, &err);
    free(s);
    T_ERR(FSG_E_LIMIT, rc);
    T_STR_EQ(err.msg, "policy: workloads[0] /orgs/1/workloads/w: interfaces: 100001 entries "
                      "exceed the limit of 100000");

    /* Limits are options too; and the byte limit applies before parsing. */
    struct fsg_policy_load_options o = { .max_objects = 1 };
    T_ERR(FSG_E_LIMIT, fsg_policy_model_load(fsg_span_from_cstr("{\"labels\": [" LBL ", " LBL "]}"),
                                             &o, &m, &err));
    o = (struct fsg_policy_load_options){ .json.max_bytes = 10 };
    T_ERR(FSG_E_LIMIT, fsg_policy_model_load(fsg_span_from_cstr("{\"labels\": [" LBL "]}"), &o,
                                             &m, &err));
    T_CHECK(strstr(err.msg, "exceeds the 10-byte limit") != NULL);
    T_CHECK(m == NULL);
    return 0;
}

static int s_deep_nesting(void)
{
    enum { DEPTH = 10000 };
    char *s = malloc(2 * DEPTH + 32);
    T_CHECK(s != NULL);
    char *p = s + sprintf(s, "{\"labels\": ");
    memset(p, '[', DEPTH);
    memset(p + DEPTH, ']', DEPTH);
    strcpy(p + 2 * DEPTH, "}");
    struct fsg_policy_model *m = NULL;
    struct fsg_error err = { 0 };
    enum fsg_err rc = fsg_policy_model_load(fsg_span_from_cstr(s), NULL, &m, &err);
    free(s);
    T_ERR(FSG_E_LIMIT, rc);
    T_CHECK(m == NULL);
    T_STR_EQ(err.msg, "policy: JSON nests deeper than 64 levels at line 1, column 75");

    /* A deep json_t built in memory (no text to pre-scan) is walked without recursion. */
    json_t *deep = json_array();
    for (int i = 0; i < DEPTH; i++) {
        json_t *outer = json_array();
        json_array_append_new(outer, deep);
        deep = outer;
    }
    json_t *bundle = json_pack("{s:o}", "labels", deep);
    T_ERR(FSG_E_PARSE, fsg_policy_model_from_json(bundle, NULL, &m, &err));
    json_decref(bundle);
    T_STR_EQ(err.msg, "policy: labels[0]: expected an object, got array");
    T_CHECK(m == NULL);
    return 0;
}

static int s_file_errors(void)
{
    struct fsg_policy_model *m = NULL;
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_NOT_FOUND, fsg_policy_model_load_file("/nonexistent/policy.json", NULL, &m, &err));
    T_CHECK(strstr(err.msg, "/nonexistent/policy.json") != NULL);
    /* A fixture body is not a bundle: the path prefixes the message. */
    const char *path = t_data_path("pce/fixtures/illumio-py/rules.json");
    T_ERR(FSG_E_PARSE, fsg_policy_model_load_file(path, NULL, &m, &err));
    T_CHECK(strncmp(err.msg, path, strlen(path)) == 0);
    T_CHECK(strstr(err.msg, "policy: expected a JSON object") != NULL);
    T_CHECK(m == NULL);
    return 0;
}

/* Allocation failures anywhere: FSG_E_NOMEM, no model, nothing leaked. */
static int s_out_of_memory(void)
{
    json_t *root = NULL;
    struct fsg_error err = { 0 };
    T_OK(fsg_json_load_file(t_data_path("pce/model/full.json"), NULL, &root, &err));
    bool finished = false;
    for (long fail = 1; fail < 500 && !finished; fail++) {
        struct fsg_policy_model *m = NULL;
        fsg_mem_fail_after(fail);
        enum fsg_err rc = fsg_policy_model_from_json(root, NULL, &m, &err);
        fsg_mem_fail_after(0);
        T_CHECK(rc == FSG_OK || rc == FSG_E_NOMEM);
        T_CHECK((rc == FSG_OK) == (m != NULL));
        finished = rc == FSG_OK;
        fsg_policy_model_destroy(m);
    }
    json_decref(root);
    T_CHECK(finished);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "every_fixture_parses", s_every_fixture_parses },
        { "fixture_table_is_complete", s_fixture_table_is_complete },
        { "fixture_strict_refuses_draft", s_fixture_strict_refuses_draft },
        { "full_bundle", s_full_bundle },
        { "hostile_input", s_hostile_input },
        { "huge_arrays", s_huge_arrays },
        { "deep_nesting", s_deep_nesting },
        { "file_errors", s_file_errors },
        { "out_of_memory", s_out_of_memory },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
