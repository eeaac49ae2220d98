/* JSON -> policy model: the bundle's shape, href registration, conversion order, and the
 * expansion of nested label groups. */
#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/model_load.h"

/* The bundle's collections, in the order they are converted (references point backwards,
 * except label groups to label groups, which hrefs registered up front resolve). */
static const struct {
    const char *key;
    enum fsg_policy_coll coll;
    bool is_provisionable; /* lives under sec_policy/{draft,active} */
} s_colls[] = {
    { "labels", FSG_PC_LABELS, false },
    { "label_groups", FSG_PC_LABEL_GROUPS, true },
    { "services", FSG_PC_SERVICES, true },
    { "ip_lists", FSG_PC_IP_LISTS, true },
    { "workloads", FSG_PC_WORKLOADS, false },
    { "virtual_services", FSG_PC_VIRTUAL_SERVICES, true },
    { "rule_sets", FSG_PC_RULE_SETS, true },
};
#define S_N_COLLS (sizeof s_colls / sizeof s_colls[0])

static enum fsg_err s_oom(struct fsg_policy_loader *L)
{
    return fsg_policy_fail(L, FSG_E_NOMEM, NULL, "out of memory");
}

static bool s_absent(const json_t *v)
{
    return v == NULL || json_is_null(v);
}

/* ---- label group expansion ---------------------------------------------------------------- */

static int s_cmp_size(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa;
    size_t b = *(const size_t *)pb;
    return a < b ? -1 : a > b;
}

/* members(g) = labels(g) + members(each sub group): all children are done. */
static enum fsg_err s_group_members(struct fsg_policy_loader *L, size_t g, size_t *budget)
{
    struct fsg_policy_label_group *grp = &L->label_groups[g];
    size_t n = grp->n_labels;
    for (size_t i = 0; i < grp->n_sub_groups; i++) {
        n += L->label_groups[grp->sub_groups[i]].n_members;
        if (n > *budget) {
            return fsg_policy_fail(L, FSG_E_LIMIT, "sub_groups",
                                   "label groups expand to more than %zu label memberships",
                                   (size_t)FSG_POLICY_MAX_GROUP_MEMBERS);
        }
    }
    size_t *tmp = fsg_calloc(n > 0 ? n : 1, sizeof *tmp);
    if (tmp == NULL) {
        return s_oom(L);
    }
    size_t k = 0;
    for (size_t i = 0; i < grp->n_labels; i++) {
        tmp[k++] = grp->labels[i];
    }
    for (size_t i = 0; i < grp->n_sub_groups; i++) {
        const struct fsg_policy_label_group *sub = &L->label_groups[grp->sub_groups[i]];
        for (size_t j = 0; j < sub->n_members; j++) {
            tmp[k++] = sub->members[j];
        }
    }
    if (k > 1) {
        qsort(tmp, k, sizeof *tmp, s_cmp_size);
    }
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        if (u == 0 || tmp[u - 1] != tmp[i]) {
            tmp[u++] = tmp[i];
        }
    }
    size_t *members = fsg_policy_arena_calloc(L->m, u, sizeof *members);
    if (members != NULL && u > 0) {
        memcpy(members, tmp, u * sizeof *members);
    }
    fsg_free(tmp);
    if (members == NULL) {
        return s_oom(L);
    }
    grp->members = members;
    grp->n_members = u;
    *budget -= u;
    return FSG_OK;
}

struct s_frame {
    size_t group;
    size_t next_sub;
};

/* Depth-first over sub_groups without recursion (a hostile chain can be a million deep):
 * a sub group met again while still on the stack is a cycle. */
static enum fsg_err s_expand_groups(struct fsg_policy_loader *L)
{
    size_t n = L->m->n_label_groups;
    unsigned char *state = fsg_calloc(n > 0 ? n : 1, 1); /* 0 new, 1 on stack, 2 done */
    struct s_frame *stack = fsg_calloc(n > 0 ? n : 1, sizeof *stack);
    size_t budget = FSG_POLICY_MAX_GROUP_MEMBERS;
    enum fsg_err rc = state == NULL || stack == NULL ? s_oom(L) : FSG_OK;
    for (size_t root = 0; root < n && rc == FSG_OK; root++) {
        if (state[root] != 0) {
            continue;
        }
        size_t top = 0;
        stack[top++] = (struct s_frame){ .group = root };
        state[root] = 1;
        while (top > 0 && rc == FSG_OK) {
            struct s_frame *f = &stack[top - 1];
            const struct fsg_policy_label_group *g = &L->label_groups[f->group];
            if (f->next_sub < g->n_sub_groups) {
                size_t sub = g->sub_groups[f->next_sub++];
                if (state[sub] == 1) {
                    fsg_policy_at(L, "label_groups", f->group, g->href);
                    rc = fsg_policy_fail(L, FSG_E_PARSE, "sub_groups",
                                         "cycle: %.160s is its own sub group (via %.160s)",
                                         g->href, L->label_groups[sub].href);
                } else if (state[sub] == 0) {
                    state[sub] = 1;
                    stack[top++] = (struct s_frame){ .group = sub };
                }
                continue;
            }
            fsg_policy_at(L, "label_groups", f->group, g->href);
            rc = s_group_members(L, f->group, &budget);
            state[f->group] = 2;
            top--;
        }
    }
    fsg_free(stack);
    fsg_free(state);
    return rc;
}

/* ---- the bundle --------------------------------------------------------------------------- */

static bool s_is_draft(const char *href)
{
    return strstr(href, "/sec_policy/draft/") != NULL;
}

/* Checks the top-level shape: an object of known keys holding arrays. */
static enum fsg_err s_check_bundle(struct fsg_policy_loader *L, const json_t *bundle,
                                   const json_t **ret_arrays, const json_t **ret_bindings,
                                   const json_t **ret_boundaries)
{
    if (!json_is_object(bundle)) {
        return fsg_policy_fail(L, FSG_E_PARSE, NULL,
                               "expected a JSON object {\"labels\": [...], \"rule_sets\": [...], "
                               "...}, got %s",
                               fsg_json_type_name(bundle));
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)bundle, key, val) {
        bool known = strcmp(key, FSG_POLICY_BINDINGS_KEY) == 0 ||
                     strcmp(key, FSG_POLICY_BOUNDARIES_KEY) == 0 ||
                     strcmp(key, FSG_POLICY_VERSION_KEY) == 0;
        for (size_t i = 0; i < S_N_COLLS && !known; i++) {
            known = strcmp(key, s_colls[i].key) == 0;
        }
        if (!known) {
            return fsg_policy_fail(L, FSG_E_PARSE, NULL,
                                   "unknown key \"%.60s\" (expected labels, label_groups, "
                                   "workloads, rule_sets, ip_lists, services, virtual_services, "
                                   "service_bindings, enforcement_boundaries)",
                                   key);
        }
    }
    const char *keys[S_N_COLLS + 2];
    for (size_t i = 0; i < S_N_COLLS; i++) {
        keys[i] = s_colls[i].key;
    }
    keys[S_N_COLLS] = FSG_POLICY_BINDINGS_KEY;
    keys[S_N_COLLS + 1] = FSG_POLICY_BOUNDARIES_KEY;
    for (size_t i = 0; i <= S_N_COLLS + 1; i++) {
        const json_t *arr = json_object_get(bundle, keys[i]);
        if (s_absent(arr)) {
            arr = NULL;
        } else if (!json_is_array(arr)) {
            return fsg_policy_fail(L, FSG_E_PARSE, keys[i], "expected an array, got %s",
                                   fsg_json_type_name(arr));
        } else if (json_array_size(arr) > L->max_objects) {
            return fsg_policy_fail(L, FSG_E_LIMIT, keys[i], "%zu objects exceed the limit of %zu",
                                   json_array_size(arr), L->max_objects);
        }
        if (i < S_N_COLLS) {
            ret_arrays[i] = arr;
        } else if (i == S_N_COLLS) {
            *ret_bindings = arr;
        } else {
            *ret_boundaries = arr;
        }
    }
    return FSG_OK;
}

/* Registers every object's href so references can point anywhere (and duplicates show). */
static enum fsg_err s_register(struct fsg_policy_loader *L, size_t c, const json_t *arr)
{
    size_t n = arr != NULL ? json_array_size(arr) : 0;
    enum fsg_err rc = fsg_policy_index_init(L->m, s_colls[c].coll, n);
    if (rc != FSG_OK) {
        return fsg_policy_fail(L, rc, s_colls[c].key, "cannot index %zu objects", n);
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(arr, i);
        fsg_policy_at(L, s_colls[c].key, i, NULL);
        if (!json_is_object(o)) {
            return fsg_policy_fail(L, FSG_E_PARSE, NULL, "expected an object, got %s",
                                   fsg_json_type_name(o));
        }
        const char *href;
        rc = fsg_policy_get_str(L, o, "href", true, &href);
        if (rc != FSG_OK) {
            return rc;
        }
        L->href = href;
        if (href[0] == '\0') {
            return fsg_policy_fail(L, FSG_E_PARSE, "href", "is empty");
        }
        if (s_colls[c].is_provisionable && s_is_draft(href) && !L->partial) {
            return fsg_policy_fail(L, FSG_E_PARSE, "href",
                                   "a draft policy object: flowseg enforces the active policy "
                                   "(export sec_policy/active)");
        }
        size_t prev;
        if (!fsg_policy_index_put(L->m, s_colls[c].coll, href, i, &prev) && !L->partial) {
            return fsg_policy_fail(L, FSG_E_PARSE, "href", "duplicate of %s[%zu]",
                                   s_colls[c].key, prev);
        }
    }
    return FSG_OK;
}

static enum fsg_err s_alloc_arrays(struct fsg_policy_loader *L, const json_t *const *arrays)
{
    struct fsg_policy_model *m = L->m;
    size_t n[S_N_COLLS];
    for (size_t i = 0; i < S_N_COLLS; i++) {
        n[i] = arrays[i] != NULL ? json_array_size(arrays[i]) : 0;
    }
    L->labels = fsg_policy_arena_calloc(m, n[0], sizeof *L->labels);
    L->label_groups = fsg_policy_arena_calloc(m, n[1], sizeof *L->label_groups);
    L->services = fsg_policy_arena_calloc(m, n[2], sizeof *L->services);
    L->ip_lists = fsg_policy_arena_calloc(m, n[3], sizeof *L->ip_lists);
    L->workloads = fsg_policy_arena_calloc(m, n[4], sizeof *L->workloads);
    L->virtual_services = fsg_policy_arena_calloc(m, n[5], sizeof *L->virtual_services);
    L->rule_sets = fsg_policy_arena_calloc(m, n[6], sizeof *L->rule_sets);
    if (L->labels == NULL || L->label_groups == NULL || L->services == NULL ||
        L->ip_lists == NULL || L->workloads == NULL || L->virtual_services == NULL ||
        L->rule_sets == NULL) {
        return s_oom(L);
    }
    m->labels = L->labels;
    m->n_labels = n[0];
    m->label_groups = L->label_groups;
    m->n_label_groups = n[1];
    m->services = L->services;
    m->n_services = n[2];
    m->ip_lists = L->ip_lists;
    m->n_ip_lists = n[3];
    m->workloads = L->workloads;
    m->n_workloads = n[4];
    m->virtual_services = L->virtual_services;
    m->n_virtual_services = n[5];
    m->rule_sets = L->rule_sets;
    m->n_rule_sets = n[6];
    return FSG_OK;
}

/* Converts object i of collection c. */
static enum fsg_err s_convert(struct fsg_policy_loader *L, size_t c, size_t i, const json_t *o)
{
    switch (s_colls[c].coll) {
    case FSG_PC_LABELS:
        return fsg_policy_load_label(L, o, &L->labels[i]);
    case FSG_PC_LABEL_GROUPS:
        return fsg_policy_load_label_group(L, o, &L->label_groups[i]);
    case FSG_PC_SERVICES:
        return fsg_policy_load_service(L, o, &L->services[i]);
    case FSG_PC_IP_LISTS:
        return fsg_policy_load_ip_list(L, o, &L->ip_lists[i]);
    case FSG_PC_WORKLOADS:
        return fsg_policy_load_workload(L, o, &L->workloads[i]);
    case FSG_PC_VIRTUAL_SERVICES:
        return fsg_policy_load_virtual_service(L, o, i, &L->virtual_services[i]);
    case FSG_PC_RULE_SETS:
        return fsg_policy_load_rule_set(L, o, &L->rule_sets[i]);
    case FSG_PC_RULES:
    case FSG_PC_COUNT_:
        break;
    }
    return fsg_policy_fail(L, FSG_E_INTERNAL, NULL, "no converter");
}

static enum fsg_err s_convert_all(struct fsg_policy_loader *L, const json_t *const *arrays,
                                  const json_t *bindings)
{
    enum fsg_err rc = FSG_OK;
    for (size_t c = 0; c < S_N_COLLS && rc == FSG_OK; c++) {
        if (s_colls[c].coll == FSG_PC_VIRTUAL_SERVICES) {
            rc = fsg_policy_load_service_bindings(L, bindings);
        }
        size_t n = arrays[c] != NULL ? json_array_size(arrays[c]) : 0;
        for (size_t i = 0; i < n && rc == FSG_OK; i++) {
            const json_t *o = json_array_get(arrays[c], i);
            fsg_policy_at(L, s_colls[c].key, i, json_string_value(json_object_get(o, "href")));
            rc = s_convert(L, c, i, o);
        }
    }
    return rc;
}

enum fsg_err fsg_policy_model_build(const json_t *bundle,
                                    const struct fsg_policy_load_options *opts,
                                    struct fsg_policy_model *m, struct fsg_error *err)
{
    struct fsg_policy_loader L = {
        .m = m,
        .err = err,
        .max_objects = opts != NULL && opts->max_objects != 0 ? opts->max_objects
                                                              : FSG_POLICY_MAX_OBJECTS_DEFAULT,
        .max_items = opts != NULL && opts->max_items != 0 ? opts->max_items
                                                          : FSG_POLICY_MAX_ITEMS_DEFAULT,
        .partial = opts != NULL && opts->partial,
    };
    const json_t *arrays[S_N_COLLS] = { NULL };
    const json_t *bindings = NULL;
    const json_t *boundaries = NULL;
    size_t n_rules = 0;

    enum fsg_err rc = s_check_bundle(&L, bundle, arrays, &bindings, &boundaries);
    for (size_t c = 0; c < S_N_COLLS && rc == FSG_OK; c++) {
        rc = s_register(&L, c, arrays[c]);
    }
    /* Rules are indexed too (duplicate hrefs would blur provenance): count them first. */
    const json_t *rule_sets = arrays[S_N_COLLS - 1];
    for (size_t i = 0; rule_sets != NULL && i < json_array_size(rule_sets); i++) {
        const json_t *rules = json_object_get(json_array_get(rule_sets, i), "rules");
        n_rules += json_is_array(rules) ? json_array_size(rules) : 0;
    }
    if (rc == FSG_OK && fsg_policy_index_init(m, FSG_PC_RULES, n_rules) != FSG_OK) {
        rc = s_oom(&L);
    }
    if (rc == FSG_OK) {
        rc = s_alloc_arrays(&L, arrays);
    }
    if (rc == FSG_OK) {
        rc = s_convert_all(&L, arrays, bindings);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_load_boundaries(&L, boundaries);
    }
    if (rc == FSG_OK) {
        rc = s_expand_groups(&L);
    }
    m->is_partial = L.partial;
    return rc;
}
