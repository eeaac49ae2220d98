/* JSON -> policy model: the typed getters and error locations. The bundle is converted in
 * model_bundle.c, objects in model_objects.c, rule sets in model_rules.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy/model_load.h"

/* Messages quote at most this much of any input string (hrefs, values). */
#define S_QUOTE_MAX 160

const char *fsg_policy_coll_name(enum fsg_policy_coll coll)
{
    switch (coll) {
    case FSG_PC_LABELS:
        return "labels";
    case FSG_PC_LABEL_GROUPS:
        return "label_groups";
    case FSG_PC_WORKLOADS:
        return "workloads";
    case FSG_PC_RULE_SETS:
        return "rule_sets";
    case FSG_PC_IP_LISTS:
        return "ip_lists";
    case FSG_PC_SERVICES:
        return "services";
    case FSG_PC_VIRTUAL_SERVICES:
        return "virtual_services";
    case FSG_PC_RULES:
        return "rules";
    case FSG_PC_COUNT_:
        break;
    }
    return "?";
}

enum fsg_err fsg_policy_fail(struct fsg_policy_loader *L, enum fsg_err code, const char *key,
                             const char *fmt, ...)
{
    if (L->err == NULL) {
        return code;
    }
    char detail[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);

    char where[256] = "policy";
    size_t n = strlen(where);
    if (L->coll != NULL) {
        n += (size_t)snprintf(where + n, sizeof where - n, ": %s[%zu]", L->coll, L->index);
    }
    if (L->href != NULL && n < sizeof where) {
        n += (size_t)snprintf(where + n, sizeof where - n, " %.*s", S_QUOTE_MAX, L->href);
    }
    const char *path = L->path;
    bool has_path = path[0] != '\0';
    bool has_key = key != NULL;
    if ((has_path || has_key) && n < sizeof where) {
        snprintf(where + n, sizeof where - n, ": %s%s%s", has_path ? path : "",
                 has_path && has_key ? "." : "", has_key ? key : "");
    }
    return fsg_error_set(L->err, code, "%s: %s", where, detail);
}

void fsg_policy_at(struct fsg_policy_loader *L, const char *coll, size_t index,
                   const char *href)
{
    L->coll = coll;
    L->index = index;
    L->href = href;
    L->path[0] = '\0';
}

void fsg_policy_set_path(struct fsg_policy_loader *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->path, sizeof L->path, fmt, ap);
    va_end(ap);
}

static bool s_absent(const json_t *v)
{
    return v == NULL || json_is_null(v);
}

static enum fsg_err s_wrong_type(struct fsg_policy_loader *L, const char *key, const char *want,
                                 const json_t *v)
{
    return fsg_policy_fail(L, FSG_E_PARSE, key, "expected %s, got %s", want,
                           fsg_json_type_name(v));
}

enum fsg_err fsg_policy_get_str(struct fsg_policy_loader *L, const json_t *obj, const char *key,
                                bool required, const char **ret)
{
    const json_t *v = json_object_get(obj, key);
    if (s_absent(v)) {
        *ret = NULL;
        return required ? fsg_policy_fail(L, FSG_E_PARSE, key, "missing (a string is required)")
                        : FSG_OK;
    }
    if (!json_is_string(v)) {
        return s_wrong_type(L, key, "a string", v);
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (strlen(s) != len) {
        return fsg_policy_fail(L, FSG_E_PARSE, key, "string contains a NUL byte");
    }
    char *copy = fsg_policy_arena_strndup(L->m, s, len);
    if (copy == NULL) {
        return fsg_policy_fail(L, FSG_E_NOMEM, key, "out of memory");
    }
    *ret = copy;
    return FSG_OK;
}

enum fsg_err fsg_policy_get_bool(struct fsg_policy_loader *L, const json_t *obj, const char *key,
                                 bool def, bool *ret)
{
    const json_t *v = json_object_get(obj, key);
    if (s_absent(v)) {
        *ret = def;
        return FSG_OK;
    }
    if (!json_is_boolean(v)) {
        return s_wrong_type(L, key, "true or false", v);
    }
    *ret = json_is_true(v);
    return FSG_OK;
}

enum fsg_err fsg_policy_get_int(struct fsg_policy_loader *L, const json_t *obj, const char *key,
                                long long min, long long max, int *ret)
{
    const json_t *v = json_object_get(obj, key);
    if (s_absent(v)) {
        *ret = -1;
        return FSG_OK;
    }
    if (!json_is_integer(v)) {
        return s_wrong_type(L, key, "an integer", v);
    }
    json_int_t i = json_integer_value(v);
    if (i < min || i > max) {
        return fsg_policy_fail(L, FSG_E_PARSE, key, "%lld is outside %lld..%lld", (long long)i,
                               min, max);
    }
    *ret = (int)i;
    return FSG_OK;
}

enum fsg_err fsg_policy_get_array(struct fsg_policy_loader *L, const json_t *obj, const char *key,
                                  const json_t **ret, size_t *ret_n)
{
    const json_t *v = json_object_get(obj, key);
    *ret = NULL;
    *ret_n = 0;
    if (s_absent(v)) {
        return FSG_OK;
    }
    if (!json_is_array(v)) {
        return s_wrong_type(L, key, "an array", v);
    }
    size_t n = json_array_size(v);
    if (n > L->max_items) {
        return fsg_policy_fail(L, FSG_E_LIMIT, key, "%zu entries exceed the limit of %zu", n,
                               L->max_items);
    }
    *ret = v;
    *ret_n = n;
    return FSG_OK;
}

enum fsg_err fsg_policy_get_ref(struct fsg_policy_loader *L, const json_t *v, const char *key,
                                enum fsg_policy_coll coll, size_t *ret)
{
    if (!json_is_object(v)) {
        return s_wrong_type(L, key, "an object {\"href\": ...}", v);
    }
    const json_t *h = json_object_get(v, "href");
    if (!json_is_string(h) || json_string_length(h) == 0) {
        return fsg_policy_fail(L, FSG_E_PARSE, key, "reference without an \"href\" string");
    }
    const char *href = json_string_value(h);
    size_t i = fsg_policy_index_get(L->m, coll, href);
    if (i == FSG_POLICY_NONE && !L->partial) {
        return fsg_policy_fail(L, FSG_E_PARSE, key,
                               "dangling reference: %.*s is not in the bundle's %s", S_QUOTE_MAX,
                               href, fsg_policy_coll_name(coll));
    }
    *ret = i;
    return FSG_OK;
}

enum fsg_err fsg_policy_get_port(struct fsg_policy_loader *L, const json_t *o,
                                 struct fsg_policy_port *ret)
{
    if (!json_is_object(o)) {
        return s_wrong_type(L, NULL, "a service port object", o);
    }
    struct fsg_policy_port p;
    enum fsg_err rc = fsg_policy_get_int(L, o, "proto", -1, 255, &p.proto);
    if (rc == FSG_OK && s_absent(json_object_get(o, "proto"))) {
        rc = fsg_policy_fail(L, FSG_E_PARSE, "proto", "missing (an IANA protocol number)");
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_int(L, o, "port", 0, 65535, &p.port);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_int(L, o, "to_port", 0, 65535, &p.to_port);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_int(L, o, "icmp_type", 0, 255, &p.icmp_type);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_get_int(L, o, "icmp_code", 0, 255, &p.icmp_code);
    }
    if (rc != FSG_OK) {
        return rc;
    }
    if (p.to_port >= 0 && p.port < 0) {
        return fsg_policy_fail(L, FSG_E_PARSE, "to_port", "given without \"port\"");
    }
    if (p.to_port >= 0 && p.to_port < p.port) {
        return fsg_policy_fail(L, FSG_E_PARSE, "to_port", "%d is below port %d", p.to_port,
                               p.port);
    }
    *ret = p;
    return FSG_OK;
}

enum fsg_err fsg_policy_get_ip(struct fsg_policy_loader *L, const json_t *obj, const char *key,
                               bool *ret_has, struct fsg_ip *ret)
{
    const char *s = NULL;
    enum fsg_err rc = fsg_policy_get_str(L, obj, key, false, &s);
    if (rc != FSG_OK) {
        return rc;
    }
    *ret_has = false;
    if (s == NULL) {
        return FSG_OK;
    }
    if (fsg_ip_parse(fsg_span_from_cstr(s), ret) != FSG_OK) {
        return fsg_policy_fail(L, FSG_E_PARSE, key, "\"%.*s\" is not an IP address", S_QUOTE_MAX,
                               s);
    }
    *ret_has = true;
    return FSG_OK;
}
