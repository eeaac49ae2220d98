/* JSON -> policy model: rule sets, scopes, rules, actors and ingress services. */
#include <string.h>

#include "policy/model_load.h"

static enum fsg_err s_oom(struct fsg_policy_loader *L)
{
    return fsg_policy_fail(L, FSG_E_NOMEM, NULL, "out of memory");
}

/* Actor keys that name an object of the model. */
static const struct {
    const char *key;
    enum fsg_policy_actor_kind kind;
    enum fsg_policy_coll coll;
} s_ref_kinds[] = {
    { "label", FSG_POLICY_ACTOR_LABEL, FSG_PC_LABELS },
    { "label_group", FSG_POLICY_ACTOR_LABEL_GROUP, FSG_PC_LABEL_GROUPS },
    { "workload", FSG_POLICY_ACTOR_WORKLOAD, FSG_PC_WORKLOADS },
    { "virtual_service", FSG_POLICY_ACTOR_VIRTUAL_SERVICE, FSG_PC_VIRTUAL_SERVICES },
    { "ip_list", FSG_POLICY_ACTOR_IP_LIST, FSG_PC_IP_LISTS },
};
#define S_N_REF_KINDS (sizeof s_ref_kinds / sizeof s_ref_kinds[0])

/* One actor: exactly one kind key, plus an optional "exclusion". *ret_keep is false when a
 * partial load dropped its reference. */
static enum fsg_err s_actor(struct fsg_policy_loader *L, const json_t *o, bool is_scope,
                            struct fsg_policy_actor *a, bool *ret_keep)
{
    if (!json_is_object(o)) {
        return fsg_policy_fail(L, FSG_E_PARSE, NULL, "expected an actor object, got %s",
                               fsg_json_type_name(o));
    }
    enum fsg_err rc = fsg_policy_get_bool(L, o, "exclusion", false, &a->is_exclusion);
    const char *kind_key = NULL;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)o, key, val) {
        if (strcmp(key, "exclusion") == 0) {
            continue;
        }
        if (kind_key != NULL) {
            return fsg_policy_fail(L, FSG_E_PARSE, NULL,
                                   "an actor names one kind, this one has \"%.40s\" and \"%.40s\"",
                                   kind_key, key);
        }
        kind_key = key;
    }
    if (rc != FSG_OK) {
        return rc;
    }
    if (kind_key == NULL) {
        return fsg_policy_fail(L, FSG_E_PARSE, NULL, "empty actor");
    }
    const json_t *v = json_object_get(o, kind_key);
    *a = (struct fsg_policy_actor){ .is_exclusion = a->is_exclusion, .ref = FSG_POLICY_NONE };
    *ret_keep = true;
    for (size_t i = 0; i < S_N_REF_KINDS; i++) {
        if (strcmp(kind_key, s_ref_kinds[i].key) == 0) {
            if (is_scope && i > 1) {
                break;
            }
            a->kind = s_ref_kinds[i].kind;
            rc = fsg_policy_get_ref(L, v, kind_key, s_ref_kinds[i].coll, &a->ref);
            *ret_keep = a->ref != FSG_POLICY_NONE;
            return rc;
        }
    }
    if (is_scope) {
        return fsg_policy_fail(L, FSG_E_PARSE, kind_key,
                               "scopes hold only labels and label groups");
    }
    /* "actors": "ams" is All Workloads; anything else is kept to be reported, not dropped. */
    a->kind = FSG_POLICY_ACTOR_UNSUPPORTED;
    if (strcmp(kind_key, "actors") == 0) {
        if (!json_is_string(v)) {
            return fsg_policy_fail(L, FSG_E_PARSE, kind_key, "expected a string, got %s",
                                   fsg_json_type_name(v));
        }
        if (strcmp(json_string_value(v), "ams") == 0) {
            a->kind = FSG_POLICY_ACTOR_AMS;
            return FSG_OK;
        }
        return fsg_policy_get_str(L, o, "actors", true, &a->what);
    }
    a->what = fsg_policy_arena_strndup(L->m, kind_key, strlen(kind_key));
    if (a->what == NULL) {
        return s_oom(L);
    }
    const json_t *h = json_is_object(v) ? json_object_get(v, "href") : NULL;
    return json_is_string(h) ? fsg_policy_get_str(L, v, "href", false, &a->href) : FSG_OK;
}

static enum fsg_err s_actors(struct fsg_policy_loader *L, const json_t *arr, size_t n,
                             bool is_scope, const char *path,
                             const struct fsg_policy_actor **ret, size_t *ret_n)
{
    struct fsg_policy_actor *actors = fsg_policy_arena_calloc(L->m, n, sizeof *actors);
    if (actors == NULL) {
        return s_oom(L);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        fsg_policy_set_path(L, "%s[%zu]", path, i);
        bool keep = false;
        enum fsg_err rc = s_actor(L, json_array_get(arr, i), is_scope, &actors[k], &keep);
        if (rc != FSG_OK) {
            return rc;
        }
        k += keep;
    }
    *ret = actors;
    *ret_n = k;
    return FSG_OK;
}

static enum fsg_err s_actor_list(struct fsg_policy_loader *L, const json_t *o, const char *key,
                                 const char *path, const struct fsg_policy_actor **ret,
                                 size_t *ret_n)
{
    const json_t *arr;
    size_t n;
    enum fsg_err rc = fsg_policy_get_array(L, o, key, &arr, &n);
    return rc == FSG_OK ? s_actors(L, arr, n, false, path, ret, ret_n) : rc;
}

/* resolve_labels_as.{providers,consumers}: ["workloads"], ["virtual_services"] or both.
 * Not given or empty: workloads (the PCE's default). */
static enum fsg_err s_resolve(struct fsg_policy_loader *L, const json_t *o, const char *key,
                              unsigned *ret)
{
    *ret = FSG_POLICY_RESOLVE_WORKLOADS;
    const json_t *ra = json_object_get(o, "resolve_labels_as");
    if (ra == NULL || json_is_null(ra)) {
        return FSG_OK;
    }
    if (!json_is_object(ra)) {
        return fsg_policy_fail(L, FSG_E_PARSE, "resolve_labels_as", "expected an object, got %s",
                               fsg_json_type_name(ra));
    }
    const json_t *arr;
    size_t n;
    enum fsg_err rc = fsg_policy_get_array(L, ra, key, &arr, &n);
    unsigned bits = 0;
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        const json_t *v = json_array_get(arr, i);
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(s, "workloads") == 0) {
            bits |= FSG_POLICY_RESOLVE_WORKLOADS;
        } else if (strcmp(s, "virtual_services") == 0) {
            bits |= FSG_POLICY_RESOLVE_VIRTUAL_SERVICES;
        } else {
            rc = fsg_policy_fail(L, FSG_E_PARSE, "resolve_labels_as",
                                 "%s[%zu]: expected \"workloads\" or \"virtual_services\"", key, i);
        }
    }
    if (rc == FSG_OK && bits != 0) {
        *ret = bits;
    }
    return rc;
}

/* ingress_services[]: {"href": service} or an inline port. what names the array in paths. */
static enum fsg_err s_ingress_list(struct fsg_policy_loader *L, const json_t *o,
                                   const char *what, size_t rule_i,
                                   const struct fsg_policy_service_ref **ret, size_t *ret_n)
{
    const json_t *arr;
    size_t n;
    enum fsg_err rc = fsg_policy_get_array(L, o, "ingress_services", &arr, &n);
    if (rc != FSG_OK) {
        return rc;
    }
    struct fsg_policy_service_ref *refs = fsg_policy_arena_calloc(L->m, n, sizeof *refs);
    if (refs == NULL) {
        return s_oom(L);
    }
    size_t k = 0;
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        const json_t *e = json_array_get(arr, i);
        fsg_policy_set_path(L, "%s[%zu].ingress_services[%zu]", what, rule_i, i);
        refs[k].service = FSG_POLICY_NONE;
        if (json_is_object(e) && json_object_get(e, "href") != NULL) {
            rc = fsg_policy_get_ref(L, e, NULL, FSG_PC_SERVICES, &refs[k].service);
            k += rc == FSG_OK && refs[k].service != FSG_POLICY_NONE;
        } else {
            rc = fsg_policy_get_port(L, e, &refs[k].port);
            k++;
        }
    }
    *ret = refs;
    *ret_n = k;
    return rc;
}

static enum fsg_err s_ingress(struct fsg_policy_loader *L, const json_t *o, size_t rule_i,
                              struct fsg_policy_rule *r)
{
    return s_ingress_list(L, o, "rules", rule_i, &r->ingress_services, &r->n_ingress_services);
}

static enum fsg_err s_subnets(struct fsg_policy_loader *L, const json_t *o, unsigned *bits);

/* One deny rule or enforcement boundary; what = "deny_rules", "override_deny_rules" or
 * "enforcement_boundaries" (paths, the default of "override"). */
static enum fsg_err s_deny(struct fsg_policy_loader *L, const json_t *o, const char *what,
                           size_t i, struct fsg_policy_deny_rule *d)
{
    fsg_policy_set_path(L, "%s[%zu]", what, i);
    if (!json_is_object(o)) {
        return fsg_policy_fail(L, FSG_E_PARSE, NULL, "expected an object, got %s",
                               fsg_json_type_name(o));
    }
    bool is_boundary = strcmp(what, FSG_POLICY_BOUNDARIES_KEY) == 0;
    enum fsg_err rc = fsg_policy_get_str(L, o, "href", true, &d->href);
    if (rc == FSG_OK && !L->partial && strstr(d->href, "/sec_policy/draft/") != NULL) {
        rc = fsg_policy_fail(L, FSG_E_PARSE, "href",
                             "a draft object: flowseg enforces the active policy");
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_str(L, o, "name", false, &d->name);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_bool(L, o, "enabled", true, &d->is_enabled);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_bool(L, o, "override", strcmp(what, "override_deny_rules") == 0,
                                 &d->is_override);
        d->is_override = d->is_override && !is_boundary;
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_bool(L, o, "unscoped_consumers", false, &d->unscoped_consumers);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_bool(L, o, "all_ips_except_for_in_consumers", false,
                                 &d->all_ips_except_consumers);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_bool(L, o, "all_ips_except_for_in_providers", false,
                                 &d->all_ips_except_providers);
    }
    char path[64];
    if (rc == FSG_OK) {
        snprintf(path, sizeof path, "%s[%zu].providers", what, i);
        rc = s_actor_list(L, o, "providers", path, &d->providers, &d->n_providers);
    }
    if (rc == FSG_OK) {
        fsg_policy_set_path(L, "%s[%zu]", what, i);
        snprintf(path, sizeof path, "%s[%zu].consumers", what, i);
        rc = s_actor_list(L, o, "consumers", path, &d->consumers, &d->n_consumers);
    }
    if (rc == FSG_OK) {
        fsg_policy_set_path(L, "%s[%zu]", what, i);
        rc = s_ingress_list(L, o, what, i, &d->ingress_services, &d->n_ingress_services);
    }
    if (rc == FSG_OK) {
        fsg_policy_set_path(L, "%s[%zu]", what, i);
        rc = s_subnets(L, o, &d->use_workload_subnets);
    }
    return rc;
}

/* deny_rules[] then override_deny_rules[] of one rule set, into one array. */
static enum fsg_err s_deny_rules(struct fsg_policy_loader *L, const json_t *o,
                                 struct fsg_policy_rule_set *rs)
{
    static const char *const keys[] = { "deny_rules", "override_deny_rules" };
    const json_t *arr[2];
    size_t n[2];
    enum fsg_err rc = FSG_OK;
    for (size_t k = 0; k < 2 && rc == FSG_OK; k++) {
        rc = fsg_policy_get_array(L, o, keys[k], &arr[k], &n[k]);
    }
    if (rc != FSG_OK) {
        return rc;
    }
    struct fsg_policy_deny_rule *d = fsg_policy_arena_calloc(L->m, n[0] + n[1], sizeof *d);
    if (d == NULL) {
        return s_oom(L);
    }
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < n[k] && rc == FSG_OK; i++) {
            rc = s_deny(L, json_array_get(arr[k], i), keys[k], i, &d[(k == 0 ? 0 : n[0]) + i]);
        }
    }
    fsg_policy_set_path(L, "%s", "");
    rs->deny_rules = d;
    rs->n_deny_rules = n[0] + n[1];
    return rc;
}

enum fsg_err fsg_policy_load_boundaries(struct fsg_policy_loader *L, const json_t *arr)
{
    size_t n = arr != NULL ? json_array_size(arr) : 0;
    struct fsg_policy_deny_rule *d = fsg_policy_arena_calloc(L->m, n, sizeof *d);
    if (d == NULL) {
        return s_oom(L);
    }
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        const json_t *e = json_array_get(arr, i);
        const json_t *h = json_is_object(e) ? json_object_get(e, "href") : NULL;
        fsg_policy_at(L, FSG_POLICY_BOUNDARIES_KEY, i,
                      json_is_string(h) ? json_string_value(h) : NULL);
        rc = s_deny(L, e, FSG_POLICY_BOUNDARIES_KEY, i, &d[i]);
        fsg_policy_set_path(L, "%s", "");
    }
    L->m->enforcement_boundaries = d;
    L->m->n_enforcement_boundaries = rc == FSG_OK ? n : 0;
    return rc;
}

/* use_workload_subnets: ["consumers"], ["providers"] or both (newer PCEs), into *bits. */
static enum fsg_err s_subnets(struct fsg_policy_loader *L, const json_t *o, unsigned *bits)
{
    const json_t *arr;
    size_t n;
    enum fsg_err rc = fsg_policy_get_array(L, o, "use_workload_subnets", &arr, &n);
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        const json_t *v = json_array_get(arr, i);
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(s, "consumers") == 0) {
            *bits |= FSG_POLICY_SUBNETS_CONSUMERS;
        } else if (strcmp(s, "providers") == 0) {
            *bits |= FSG_POLICY_SUBNETS_PROVIDERS;
        } else {
            rc = fsg_policy_fail(L, FSG_E_PARSE, "use_workload_subnets",
                                 "[%zu]: expected \"consumers\" or \"providers\"", i);
        }
    }
    return rc;
}

static enum fsg_err s_rule_flags(struct fsg_policy_loader *L, const json_t *o,
                                 struct fsg_policy_rule *r)
{
    const json_t *arr;
    enum fsg_err rc = fsg_policy_get_bool(L, o, "enabled", true, &r->is_enabled);
    if (rc == FSG_OK) {
        rc = fsg_policy_get_bool(L, o, "unscoped_consumers", false, &r->unscoped_consumers);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_bool(L, o, "sec_connect", false, &r->sec_connect);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_bool(L, o, "machine_auth", false, &r->machine_auth);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_bool(L, o, "stateless", false, &r->stateless);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_array(L, o, "consuming_security_principals", &arr,
                                  &r->n_security_principals);
    }
    if (rc == FSG_OK) {
        rc = s_subnets(L, o, &r->use_workload_subnets);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_array(L, o, "egress_services", &arr, &r->n_egress_services);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_str(L, o, "network_type", false, &r->network_type);
    }
    if (rc == FSG_OK) {
        rc = s_resolve(L, o, "providers", &r->resolve_providers);
    }
    if (rc == FSG_OK) {
        rc = s_resolve(L, o, "consumers", &r->resolve_consumers);
    }
    return rc;
}

static enum fsg_err s_rule(struct fsg_policy_loader *L, const json_t *o, size_t i,
                           struct fsg_policy_rule *r)
{
    fsg_policy_set_path(L, "rules[%zu]", i);
    if (!json_is_object(o)) {
        return fsg_policy_fail(L, FSG_E_PARSE, NULL, "expected a rule object, got %s",
                               fsg_json_type_name(o));
    }
    enum fsg_err rc = fsg_policy_get_str(L, o, "href", true, &r->href);
    if (rc != FSG_OK) {
        return rc;
    }
    if (r->href[0] == '\0') {
        return fsg_policy_fail(L, FSG_E_PARSE, "href", "is empty");
    }
    if (!L->partial && strstr(r->href, "/sec_policy/draft/") != NULL) {
        return fsg_policy_fail(L, FSG_E_PARSE, "href",
                               "a draft rule: flowseg enforces the active policy");
    }
    size_t prev;
    if (!fsg_policy_index_put(L->m, FSG_PC_RULES, r->href, i, &prev) && !L->partial) {
        return fsg_policy_fail(L, FSG_E_PARSE, "href", "duplicate rule href %.160s", r->href);
    }
    rc = s_rule_flags(L, o, r);
    char path[64];
    if (rc == FSG_OK) {
        snprintf(path, sizeof path, "rules[%zu].providers", i);
        rc = s_actor_list(L, o, "providers", path, &r->providers, &r->n_providers);
    }
    if (rc == FSG_OK) {
        fsg_policy_set_path(L, "rules[%zu]", i);
        snprintf(path, sizeof path, "rules[%zu].consumers", i);
        rc = s_actor_list(L, o, "consumers", path, &r->consumers, &r->n_consumers);
    }
    if (rc == FSG_OK) {
        fsg_policy_set_path(L, "rules[%zu]", i);
        rc = s_ingress(L, o, i, r);
    }
    return rc;
}

static enum fsg_err s_scopes(struct fsg_policy_loader *L, const json_t *o,
                             struct fsg_policy_rule_set *rs)
{
    const json_t *arr;
    size_t n;
    enum fsg_err rc = fsg_policy_get_array(L, o, "scopes", &arr, &n);
    if (rc != FSG_OK) {
        return rc;
    }
    struct fsg_policy_scope *scopes = fsg_policy_arena_calloc(L->m, n, sizeof *scopes);
    if (scopes == NULL) {
        return s_oom(L);
    }
    char path[48];
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        const json_t *s = json_array_get(arr, i);
        snprintf(path, sizeof path, "scopes[%zu]", i);
        if (!json_is_array(s)) {
            rc = fsg_policy_fail(L, FSG_E_PARSE, path, "expected an array of labels, got %s",
                                 fsg_json_type_name(s));
        } else if (json_array_size(s) > L->max_items) {
            rc = fsg_policy_fail(L, FSG_E_LIMIT, path, "%zu entries exceed the limit of %zu",
                                 json_array_size(s), L->max_items);
        } else {
            rc = s_actors(L, s, json_array_size(s), true, path, &scopes[i].items,
                          &scopes[i].n_items);
        }
    }
    fsg_policy_set_path(L, "%s", "");
    rs->scopes = scopes;
    rs->n_scopes = n;
    return rc;
}

enum fsg_err fsg_policy_load_rule_set(struct fsg_policy_loader *L, const json_t *o,
                                      struct fsg_policy_rule_set *rs)
{
    const json_t *rules;
    size_t n_rules = 0;
    enum fsg_err rc = fsg_policy_get_str(L, o, "href", true, &rs->href);
    if (rc == FSG_OK) {
        rc = fsg_policy_get_str(L, o, "name", false, &rs->name);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_bool(L, o, "enabled", true, &rs->is_enabled);
    }
    if (rc == FSG_OK) {
        rc = s_scopes(L, o, rs);
    }
    if (rc == FSG_OK) {
        rc = s_deny_rules(L, o, rs);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_array(L, o, "rules", &rules, &n_rules);
    }
    if (rc != FSG_OK) {
        return rc;
    }
    struct fsg_policy_rule *r = fsg_policy_arena_calloc(L->m, n_rules, sizeof *r);
    if (r == NULL) {
        return s_oom(L);
    }
    for (size_t i = 0; i < n_rules && rc == FSG_OK; i++) {
        rc = s_rule(L, json_array_get(rules, i), i, &r[i]);
    }
    fsg_policy_set_path(L, "%s", "");
    rs->rules = r;
    rs->n_rules = n_rules;
    return rc;
}
