/* JSON -> policy model: every object but rule sets (model_rules.c); the bundle is in
 * model_bundle.c. */
#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/model_load.h"

static enum fsg_err s_oom(struct fsg_policy_loader *L)
{
    return fsg_policy_fail(L, FSG_E_NOMEM, NULL, "out of memory");
}

static bool s_absent(const json_t *v)
{
    return v == NULL || json_is_null(v);
}

/* ---- labels and label groups ---------------------------------------------------------- */

enum fsg_err fsg_policy_load_label(struct fsg_policy_loader *L, const json_t *o,
                                   struct fsg_policy_label *ret)
{
    enum fsg_err rc = fsg_policy_get_str(L, o, "href", true, &ret->href);
    if (rc == FSG_OK) {
        rc = fsg_policy_get_str(L, o, "key", true, &ret->key);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_str(L, o, "value", true, &ret->value);
    }
    return rc;
}

/* Resolves an array of {"href"} references into indexes (dropping unresolved ones in a
 * partial load). */
static enum fsg_err s_refs(struct fsg_policy_loader *L, const json_t *o, const char *key,
                           enum fsg_policy_coll coll, const size_t **ret, size_t *ret_n)
{
    const json_t *arr;
    size_t n;
    enum fsg_err rc = fsg_policy_get_array(L, o, key, &arr, &n);
    if (rc != FSG_OK) {
        return rc;
    }
    size_t *out = fsg_policy_arena_calloc(L->m, n, sizeof *out);
    if (out == NULL) {
        return s_oom(L);
    }
    size_t k = 0;
    char field[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(field, sizeof field, "%s[%zu]", key, i);
        size_t idx;
        rc = fsg_policy_get_ref(L, json_array_get(arr, i), field, coll, &idx);
        if (rc != FSG_OK) {
            return rc;
        }
        if (idx != FSG_POLICY_NONE) {
            out[k++] = idx;
        }
    }
    *ret = out;
    *ret_n = k;
    return FSG_OK;
}

enum fsg_err fsg_policy_load_label_group(struct fsg_policy_loader *L, const json_t *o,
                                         struct fsg_policy_label_group *ret)
{
    enum fsg_err rc = fsg_policy_get_str(L, o, "href", true, &ret->href);
    if (rc == FSG_OK) {
        rc = fsg_policy_get_str(L, o, "name", false, &ret->name);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_str(L, o, "key", false, &ret->key);
    }
    if (rc == FSG_OK) {
        rc = s_refs(L, o, "labels", FSG_PC_LABELS, &ret->labels, &ret->n_labels);
    }
    if (rc == FSG_OK) {
        rc = s_refs(L, o, "sub_groups", FSG_PC_LABEL_GROUPS, &ret->sub_groups,
                    &ret->n_sub_groups);
    }
    return rc;
}

/* ---- services and ip lists -------------------------------------------------------------- */

static enum fsg_err s_ports(struct fsg_policy_loader *L, const json_t *o, const char *key,
                            const struct fsg_policy_port **ret, size_t *ret_n)
{
    const json_t *arr;
    size_t n;
    enum fsg_err rc = fsg_policy_get_array(L, o, key, &arr, &n);
    if (rc != FSG_OK) {
        return rc;
    }
    struct fsg_policy_port *ports = fsg_policy_arena_calloc(L->m, n, sizeof *ports);
    if (ports == NULL) {
        return s_oom(L);
    }
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        fsg_policy_set_path(L, "%s[%zu]", key, i);
        rc = fsg_policy_get_port(L, json_array_get(arr, i), &ports[i]);
    }
    fsg_policy_set_path(L, "%s", "");
    *ret = ports;
    *ret_n = n;
    return rc;
}

enum fsg_err fsg_policy_load_service(struct fsg_policy_loader *L, const json_t *o,
                                     struct fsg_policy_service *ret)
{
    const json_t *win;
    enum fsg_err rc = fsg_policy_get_str(L, o, "href", true, &ret->href);
    if (rc == FSG_OK) {
        rc = fsg_policy_get_str(L, o, "name", false, &ret->name);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_str(L, o, "process_name", false, &ret->process_name);
    }
    if (rc == FSG_OK) {
        rc = s_ports(L, o, "service_ports", &ret->ports, &ret->n_ports);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_array(L, o, "windows_services", &win, &ret->n_windows_services);
    }
    return rc;
}

static enum fsg_err s_ip_range(struct fsg_policy_loader *L, const json_t *o,
                               struct fsg_policy_ip_range *ret)
{
    const char *from = NULL;
    bool has_to = false;
    struct fsg_ip to;
    if (!json_is_object(o)) {
        return fsg_policy_fail(L, FSG_E_PARSE, NULL, "expected an object, got %s",
                               fsg_json_type_name(o));
    }
    enum fsg_err rc = fsg_policy_get_str(L, o, "from_ip", true, &from);
    if (rc == FSG_OK) {
        rc = fsg_policy_get_ip(L, o, "to_ip", &has_to, &to);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_bool(L, o, "exclusion", false, &ret->is_exclusion);
    }
    if (rc != FSG_OK) {
        return rc;
    }
    bool is_cidr = strchr(from, '/') != NULL;
    struct fsg_cidr c;
    /* "10.0.9.1/24" names the block 10.0.9.0/24 (the PCE stores what the user typed). */
    if (fsg_cidr_parse(fsg_span_from_cstr(from), true, &c) != FSG_OK) {
        return fsg_policy_fail(L, FSG_E_PARSE, "from_ip", "\"%.160s\" is not an IP address or CIDR",
                               from);
    }
    fsg_cidr_first(&c, &ret->first);
    fsg_cidr_last(&c, &ret->last);
    if (!has_to) {
        return FSG_OK;
    }
    if (is_cidr) {
        return fsg_policy_fail(L, FSG_E_PARSE, "to_ip", "given with a CIDR from_ip \"%.160s\"",
                               from);
    }
    if (to.is_v6 != ret->first.is_v6) {
        return fsg_policy_fail(L, FSG_E_PARSE, "to_ip", "is not the same IP version as from_ip");
    }
    if (fsg_ip_cmp(&to, &ret->first) < 0) {
        return fsg_policy_fail(L, FSG_E_PARSE, "to_ip", "is below from_ip \"%.160s\"", from);
    }
    ret->last = to;
    return FSG_OK;
}

static enum fsg_err s_fqdns(struct fsg_policy_loader *L, const json_t *o,
                            struct fsg_policy_ip_list *ret)
{
    const json_t *arr;
    size_t n;
    enum fsg_err rc = fsg_policy_get_array(L, o, "fqdns", &arr, &n);
    if (rc != FSG_OK) {
        return rc;
    }
    const char **fqdns = fsg_policy_arena_calloc(L->m, n, sizeof *fqdns);
    if (fqdns == NULL) {
        return s_oom(L);
    }
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        const json_t *e = json_array_get(arr, i);
        fsg_policy_set_path(L, "fqdns[%zu]", i);
        if (!json_is_object(e)) {
            rc = fsg_policy_fail(L, FSG_E_PARSE, NULL, "expected an object, got %s",
                                 fsg_json_type_name(e));
        } else {
            rc = fsg_policy_get_str(L, e, "fqdn", true, &fqdns[i]);
        }
    }
    fsg_policy_set_path(L, "%s", "");
    ret->fqdns = fqdns;
    ret->n_fqdns = n;
    return rc;
}

enum fsg_err fsg_policy_load_ip_list(struct fsg_policy_loader *L, const json_t *o,
                                     struct fsg_policy_ip_list *ret)
{
    const json_t *arr;
    size_t n = 0;
    enum fsg_err rc = fsg_policy_get_str(L, o, "href", true, &ret->href);
    if (rc == FSG_OK) {
        rc = fsg_policy_get_str(L, o, "name", false, &ret->name);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_array(L, o, "ip_ranges", &arr, &n);
    }
    if (rc != FSG_OK) {
        return rc;
    }
    struct fsg_policy_ip_range *ranges = fsg_policy_arena_calloc(L->m, n, sizeof *ranges);
    if (ranges == NULL) {
        return s_oom(L);
    }
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        fsg_policy_set_path(L, "ip_ranges[%zu]", i);
        rc = s_ip_range(L, json_array_get(arr, i), &ranges[i]);
    }
    fsg_policy_set_path(L, "%s", "");
    ret->ranges = ranges;
    ret->n_ranges = n;
    return rc == FSG_OK ? s_fqdns(L, o, ret) : rc;
}

/* ---- workloads ---------------------------------------------------------------------------- */

static enum fsg_err s_interfaces(struct fsg_policy_loader *L, const json_t *o,
                                 struct fsg_policy_workload *ret)
{
    const json_t *arr;
    size_t n;
    enum fsg_err rc = fsg_policy_get_array(L, o, "interfaces", &arr, &n);
    if (rc != FSG_OK) {
        return rc;
    }
    struct fsg_policy_interface *ifs = fsg_policy_arena_calloc(L->m, n, sizeof *ifs);
    if (ifs == NULL) {
        return s_oom(L);
    }
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        const json_t *e = json_array_get(arr, i);
        fsg_policy_set_path(L, "interfaces[%zu]", i);
        if (!json_is_object(e)) {
            rc = fsg_policy_fail(L, FSG_E_PARSE, NULL, "expected an object, got %s",
                                 fsg_json_type_name(e));
            break;
        }
        rc = fsg_policy_get_str(L, e, "name", false, &ifs[i].name);
        if (rc == FSG_OK) {
            rc = fsg_policy_get_ip(L, e, "address", &ifs[i].has_address, &ifs[i].address);
        }
        if (rc == FSG_OK) {
            rc = fsg_policy_get_bool(L, e, "loopback", false, &ifs[i].is_loopback);
        }
        if (rc == FSG_OK) {
            rc = fsg_policy_get_int(L, e, "cidr_block", -1, 128, &ifs[i].cidr_block);
        }
        if (rc == FSG_OK && ifs[i].has_address && ifs[i].cidr_block >= 0 &&
            (unsigned)ifs[i].cidr_block > fsg_ip_max_prefix(&ifs[i].address)) {
            rc = fsg_policy_fail(L, FSG_E_PARSE, "cidr_block", "%d is too long for the address",
                                 ifs[i].cidr_block);
        }
    }
    fsg_policy_set_path(L, "%s", "");
    ret->interfaces = ifs;
    ret->n_interfaces = n;
    return rc;
}

/* Managed = paired with a VEN: ven.href set (PCE 20.2+); older PCEs only have agent.href. */
static enum fsg_err s_managed(struct fsg_policy_loader *L, const json_t *o, bool *ret)
{
    const json_t *ven = json_object_get(o, "ven");
    const json_t *holder = ven != NULL ? ven : json_object_get(o, "agent");
    const char *key = ven != NULL ? "ven" : "agent";
    *ret = false;
    if (s_absent(holder)) {
        return FSG_OK;
    }
    if (!json_is_object(holder)) {
        return fsg_policy_fail(L, FSG_E_PARSE, key, "expected an object, got %s",
                               fsg_json_type_name(holder));
    }
    const json_t *href = json_object_get(holder, "href");
    if (!s_absent(href) && !json_is_string(href)) {
        return fsg_policy_fail(L, FSG_E_PARSE, key, "href: expected a string, got %s",
                               fsg_json_type_name(href));
    }
    *ret = json_is_string(href) && json_string_length(href) > 0;
    return FSG_OK;
}

enum fsg_err fsg_policy_load_workload(struct fsg_policy_loader *L, const json_t *o,
                                      struct fsg_policy_workload *ret)
{
    enum fsg_err rc = fsg_policy_get_str(L, o, "href", true, &ret->href);
    if (rc == FSG_OK) {
        rc = fsg_policy_get_str(L, o, "name", false, &ret->name);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_str(L, o, "hostname", false, &ret->hostname);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_bool(L, o, "deleted", false, &ret->is_deleted);
    }
    if (rc == FSG_OK) {
        rc = s_managed(L, o, &ret->is_managed);
    }
    if (rc == FSG_OK) {
        rc = s_refs(L, o, "labels", FSG_PC_LABELS, &ret->labels, &ret->n_labels);
    }
    if (rc == FSG_OK) {
        rc = s_interfaces(L, o, ret);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_ip(L, o, "public_ip", &ret->has_public_ip, &ret->public_ip);
    }
    return rc;
}

/* ---- virtual services and their bindings -------------------------------------------------- */

static enum fsg_err s_addresses(struct fsg_policy_loader *L, const json_t *o,
                                struct fsg_policy_virtual_service *ret)
{
    const json_t *arr;
    size_t n;
    enum fsg_err rc = fsg_policy_get_array(L, o, "service_addresses", &arr, &n);
    if (rc != FSG_OK) {
        return rc;
    }
    struct fsg_policy_service_address *a = fsg_policy_arena_calloc(L->m, n, sizeof *a);
    if (a == NULL) {
        return s_oom(L);
    }
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        const json_t *e = json_array_get(arr, i);
        fsg_policy_set_path(L, "service_addresses[%zu]", i);
        if (!json_is_object(e)) {
            rc = fsg_policy_fail(L, FSG_E_PARSE, NULL, "expected an object, got %s",
                                 fsg_json_type_name(e));
            break;
        }
        rc = fsg_policy_get_str(L, e, "fqdn", false, &a[i].fqdn);
        if (rc == FSG_OK) {
            rc = fsg_policy_get_ip(L, e, "ip", &a[i].has_ip, &a[i].ip);
        }
        if (rc == FSG_OK) {
            rc = fsg_policy_get_int(L, e, "port", 0, 65535, &a[i].port);
        }
    }
    fsg_policy_set_path(L, "%s", "");
    ret->addresses = a;
    ret->n_addresses = n;
    return rc;
}

static enum fsg_err s_ip_overrides(struct fsg_policy_loader *L, const json_t *o,
                                   struct fsg_policy_virtual_service *ret)
{
    const json_t *arr;
    size_t n;
    enum fsg_err rc = fsg_policy_get_array(L, o, "ip_overrides", &arr, &n);
    if (rc != FSG_OK) {
        return rc;
    }
    struct fsg_cidr *c = fsg_policy_arena_calloc(L->m, n, sizeof *c);
    if (c == NULL) {
        return s_oom(L);
    }
    char field[48];
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(arr, i);
        snprintf(field, sizeof field, "ip_overrides[%zu]", i);
        if (!json_is_string(e)) {
            return fsg_policy_fail(L, FSG_E_PARSE, field, "expected a string, got %s",
                                   fsg_json_type_name(e));
        }
        if (fsg_cidr_parse(fsg_span_from_cstr(json_string_value(e)), false, &c[i]) != FSG_OK) {
            return fsg_policy_fail(L, FSG_E_PARSE, field, "\"%.160s\" is not an IP address or CIDR",
                                   json_string_value(e));
        }
    }
    ret->ip_overrides = c;
    ret->n_ip_overrides = n;
    return FSG_OK;
}

static int s_cmp_binding(const void *pa, const void *pb)
{
    const struct fsg_policy_binding *a = pa;
    const struct fsg_policy_binding *b = pb;
    if (a->workload != b->workload) {
        return a->workload < b->workload ? -1 : 1;
    }
    /* More overrides first, so de-duplication keeps the binding that has them. */
    if (a->n_port_overrides != b->n_port_overrides) {
        return a->n_port_overrides > b->n_port_overrides ? -1 : 1;
    }
    return 0;
}

/* bound_workloads[] plus the service bindings naming this virtual service, one per workload. */
static enum fsg_err s_bindings(struct fsg_policy_loader *L, const json_t *o, size_t vs_index,
                               struct fsg_policy_virtual_service *ret)
{
    const size_t *bound;
    size_t n_bound;
    enum fsg_err rc = s_refs(L, o, "bound_workloads", FSG_PC_WORKLOADS, &bound, &n_bound);
    if (rc != FSG_OK) {
        return rc;
    }
    size_t lo = L->extra_start != NULL ? L->extra_start[vs_index] : 0;
    size_t hi = L->extra_start != NULL ? L->extra_start[vs_index + 1] : 0;
    size_t n = n_bound + (hi - lo);
    struct fsg_policy_binding *b = fsg_policy_arena_calloc(L->m, n, sizeof *b);
    if (b == NULL) {
        return s_oom(L);
    }
    for (size_t i = 0; i < n_bound; i++) {
        b[i] = (struct fsg_policy_binding){ .workload = bound[i] };
    }
    for (size_t i = lo; i < hi; i++) {
        b[n_bound + i - lo] = L->extra_bindings[i];
    }
    if (n > 1) {
        qsort(b, n, sizeof *b, s_cmp_binding);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k == 0 || b[k - 1].workload != b[i].workload) {
            b[k++] = b[i];
        }
    }
    ret->bindings = b;
    ret->n_bindings = k;
    return FSG_OK;
}

enum fsg_err fsg_policy_load_virtual_service(struct fsg_policy_loader *L, const json_t *o,
                                             size_t index, struct fsg_policy_virtual_service *ret)
{
    const json_t *svc = json_object_get(o, "service");
    ret->service = FSG_POLICY_NONE;
    enum fsg_err rc = fsg_policy_get_str(L, o, "href", true, &ret->href);
    if (rc == FSG_OK) {
        rc = fsg_policy_get_str(L, o, "name", false, &ret->name);
    }
    if (rc == FSG_OK) {
        rc = s_ports(L, o, "service_ports", &ret->ports, &ret->n_ports);
    }
    if (rc == FSG_OK && !s_absent(svc)) {
        rc = fsg_policy_get_ref(L, svc, "service", FSG_PC_SERVICES, &ret->service);
    }
    if (rc == FSG_OK) {
        rc = s_refs(L, o, "labels", FSG_PC_LABELS, &ret->labels, &ret->n_labels);
    }
    if (rc == FSG_OK) {
        rc = s_addresses(L, o, ret);
    }
    if (rc == FSG_OK) {
        rc = s_ip_overrides(L, o, ret);
    }
    if (rc == FSG_OK) {
        rc = s_bindings(L, o, index, ret);
    }
    return rc;
}

/* One service binding: {"virtual_service": {href}, "workload": {href}, "port_overrides": [...]}.
 * *ret_vs is FSG_POLICY_NONE when it is dropped (partial load). */
static enum fsg_err s_binding(struct fsg_policy_loader *L, const json_t *o, size_t *ret_vs,
                              struct fsg_policy_binding *ret)
{
    const json_t *vs = json_object_get(o, "virtual_service");
    const json_t *wl = json_object_get(o, "workload");
    const json_t *ov;
    *ret_vs = FSG_POLICY_NONE;
    if (!json_is_object(o)) {
        return fsg_policy_fail(L, FSG_E_PARSE, NULL, "expected an object, got %s",
                               fsg_json_type_name(o));
    }
    if (s_absent(vs) || s_absent(wl)) {
        return L->partial ? FSG_OK
                          : fsg_policy_fail(L, FSG_E_PARSE, s_absent(vs) ? "virtual_service"
                                                                         : "workload",
                                            "missing");
    }
    enum fsg_err rc = fsg_policy_get_ref(L, vs, "virtual_service", FSG_PC_VIRTUAL_SERVICES,
                                         ret_vs);
    if (rc == FSG_OK) {
        rc = fsg_policy_get_ref(L, wl, "workload", FSG_PC_WORKLOADS, &ret->workload);
    }
    size_t n_ov = 0;
    if (rc == FSG_OK) {
        rc = fsg_policy_get_array(L, o, "port_overrides", &ov, &n_ov);
    }
    struct fsg_policy_port_override *po = NULL;
    if (rc == FSG_OK && (po = fsg_policy_arena_calloc(L->m, n_ov, sizeof *po)) == NULL) {
        rc = s_oom(L);
    }
    for (size_t i = 0; i < n_ov && rc == FSG_OK; i++) {
        const json_t *e = json_array_get(ov, i);
        fsg_policy_set_path(L, "port_overrides[%zu]", i);
        if (!json_is_object(e)) {
            rc = fsg_policy_fail(L, FSG_E_PARSE, NULL, "expected an object, got %s",
                                 fsg_json_type_name(e));
            break;
        }
        rc = fsg_policy_get_int(L, e, "proto", -1, 255, &po[i].proto);
        if (rc == FSG_OK) {
            rc = fsg_policy_get_int(L, e, "port", -1, 65535, &po[i].port);
        }
        if (rc == FSG_OK) {
            rc = fsg_policy_get_int(L, e, "to_port", -1, 65535, &po[i].to_port);
        }
        if (rc == FSG_OK) {
            rc = fsg_policy_get_int(L, e, "new_port", -1, 65535, &po[i].new_port);
        }
        if (rc == FSG_OK) {
            rc = fsg_policy_get_int(L, e, "new_to_port", -1, 65535, &po[i].new_to_port);
        }
        if (rc == FSG_OK && (po[i].port < 0 || po[i].new_port < 0)) {
            rc = fsg_policy_fail(L, FSG_E_PARSE, po[i].port < 0 ? "port" : "new_port",
                                 "missing: a port override remaps a port to a new_port");
        }
    }
    fsg_policy_set_path(L, "%s", "");
    ret->port_overrides = po;
    ret->n_port_overrides = rc == FSG_OK ? n_ov : 0;
    if (rc == FSG_OK && ret->workload == FSG_POLICY_NONE) {
        *ret_vs = FSG_POLICY_NONE;
    }
    return rc;
}

/* Converts service_bindings into per-virtual-service runs (counting sort by vs index). */
enum fsg_err fsg_policy_load_service_bindings(struct fsg_policy_loader *L, const json_t *arr)
{
    size_t n = arr != NULL ? json_array_size(arr) : 0;
    size_t n_vs = L->m->n_virtual_services;
    size_t *vs_of = fsg_calloc(n > 0 ? n : 1, sizeof *vs_of);
    struct fsg_policy_binding *tmp = fsg_calloc(n > 0 ? n : 1, sizeof *tmp);
    L->extra_start = fsg_policy_arena_calloc(L->m, n_vs + 1, sizeof *L->extra_start);
    L->extra_bindings = fsg_policy_arena_calloc(L->m, n, sizeof *L->extra_bindings);
    enum fsg_err rc = FSG_OK;
    if (vs_of == NULL || tmp == NULL || L->extra_start == NULL || L->extra_bindings == NULL) {
        rc = s_oom(L);
    }
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        const json_t *e = json_array_get(arr, i);
        const json_t *h = json_is_object(e) ? json_object_get(e, "href") : NULL;
        fsg_policy_at(L, FSG_POLICY_BINDINGS_KEY, i,
                      json_is_string(h) ? json_string_value(h) : NULL);
        rc = s_binding(L, e, &vs_of[i], &tmp[i]);
        if (rc == FSG_OK && vs_of[i] != FSG_POLICY_NONE) {
            L->extra_start[vs_of[i] + 1]++;
        }
    }
    if (rc == FSG_OK) {
        for (size_t v = 0; v < n_vs; v++) {
            L->extra_start[v + 1] += L->extra_start[v];
        }
        size_t *fill = fsg_calloc(n_vs > 0 ? n_vs : 1, sizeof *fill);
        if (fill == NULL) {
            rc = s_oom(L);
        }
        for (size_t i = 0; i < n && rc == FSG_OK; i++) {
            if (vs_of[i] != FSG_POLICY_NONE) {
                L->extra_bindings[L->extra_start[vs_of[i]] + fill[vs_of[i]]++] = tmp[i];
            }
        }
        fsg_free(fill);
    }
    fsg_free(tmp);
    fsg_free(vs_of);
    return rc;
}

