#include "cmd/config.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/core/mem.h"

/* A config is small; anything bigger is a mistake (a flow log passed as --config). */
#define S_MAX_CONFIG_BYTES ((size_t)1 << 20)

static enum fsg_err s_bad(struct fsg_error *err, const char *where, const char *what)
{
    return fsg_error_set(err, FSG_E_PARSE, "%s: %s", where, what);
}

/* Rejects keys not in `allowed` (NULL-terminated): a typo must not pass silently. */
static enum fsg_err s_check_keys(json_t *obj, const char *where, const char *const *allowed,
                                 struct fsg_error *err)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        bool ok = false;
        for (const char *const *a = allowed; *a != NULL && !ok; a++) {
            ok = strcmp(*a, key) == 0;
        }
        if (!ok) {
            char allowed_list[256] = "";
            size_t n = 0;
            for (const char *const *a = allowed; *a != NULL && n < sizeof allowed_list; a++) {
                n += (size_t)snprintf(allowed_list + n, sizeof allowed_list - n, "%s%s",
                                      a == allowed ? "" : ", ", *a);
            }
            return fsg_error_set(err, FSG_E_PARSE, "%s: unknown key \"%s\" (known: %s)", where,
                                 key, allowed_list);
        }
    }
    return FSG_OK;
}

static enum fsg_err s_str(json_t *obj, const char *key, const char *where, char **ret,
                          struct fsg_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        return FSG_OK;
    }
    if (!json_is_string(v)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s.%s: must be a string", where, key);
    }
    fsg_free(*ret);
    *ret = fsg_strdup(json_string_value(v));
    return *ret != NULL ? FSG_OK : FSG_E_NOMEM;
}

static enum fsg_err s_int(json_t *obj, const char *key, const char *where, long min, long *ret,
                          struct fsg_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        return FSG_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min) {
        return fsg_error_set(err, FSG_E_PARSE, "%s.%s: must be an integer >= %ld", where, key, min);
    }
    *ret = (long)json_integer_value(v);
    return FSG_OK;
}

static enum fsg_err s_bool(json_t *obj, const char *key, const char *where, bool *ret,
                           struct fsg_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        return FSG_OK;
    }
    if (!json_is_boolean(v)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s.%s: must be true or false", where, key);
    }
    *ret = json_is_true(v);
    return FSG_OK;
}

static enum fsg_err s_str_list(json_t *obj, const char *key, const char *where, char ***ret,
                               size_t *ret_n, struct fsg_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        return FSG_OK;
    }
    if (!json_is_array(v)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s.%s: must be a list of strings", where, key);
    }
    *ret = fsg_calloc(json_array_size(v) + 1, sizeof **ret);
    if (*ret == NULL) {
        return FSG_E_NOMEM;
    }
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        if (!json_is_string(item)) {
            return fsg_error_set(err, FSG_E_PARSE, "%s.%s[%zu]: must be a string", where, key, i);
        }
        (*ret)[i] = fsg_strdup(json_string_value(item));
        if ((*ret)[i] == NULL) {
            return FSG_E_NOMEM;
        }
        *ret_n = i + 1;
    }
    return FSG_OK;
}

#define S_TRY(expr)                                                                                \
    do {                                                                                           \
        enum fsg_err s_rc_ = (expr);                                                               \
        if (s_rc_ != FSG_OK) {                                                                     \
            return s_rc_;                                                                          \
        }                                                                                          \
    } while (0)

static enum fsg_err s_parse_labels(json_t *v, struct fsg_config_target *t, const char *where,
                                   struct fsg_error *err)
{
    if (v == NULL || json_is_null(v)) {
        return FSG_OK;
    }
    if (!json_is_object(v)) {
        return s_bad(err, where, "labels must be an object like {\"role\": \"Database\"}");
    }
    t->labels = fsg_calloc(json_object_size(v) + 1, sizeof *t->labels);
    if (t->labels == NULL) {
        return FSG_E_NOMEM;
    }
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        if (!json_is_string(val)) {
            return fsg_error_set(err, FSG_E_PARSE, "%s.labels.%s: must be a string", where, key);
        }
        struct fsg_config_label *l = &t->labels[t->n_labels++];
        l->key = fsg_strdup(key);
        l->value = fsg_strdup(json_string_value(val));
        if (l->key == NULL || l->value == NULL) {
            return FSG_E_NOMEM;
        }
    }
    return FSG_OK;
}

static enum fsg_err s_parse_sg(json_t *v, struct fsg_config_target *t, const char *where,
                               struct fsg_error *err)
{
    if (v == NULL || json_is_null(v)) {
        return FSG_OK;
    }
    if (json_is_string(v)) {
        t->security_group = fsg_strdup(json_string_value(v));
        return t->security_group != NULL ? FSG_OK : FSG_E_NOMEM;
    }
    if (!json_is_object(v)) {
        return s_bad(err, where, "security_group must be an id or {\"create\": NAME, \"vpc_id\": ...}");
    }
    static const char *const keys[] = { "create", "vpc_id", NULL };
    S_TRY(s_check_keys(v, where, keys, err));
    S_TRY(s_str(v, "create", where, &t->create_name, err));
    S_TRY(s_str(v, "vpc_id", where, &t->create_vpc_id, err));
    if (t->create_name == NULL) {
        return s_bad(err, where, "security_group.create: a group name is required");
    }
    return FSG_OK;
}

static enum fsg_err s_parse_target(json_t *v, size_t i, struct fsg_config_target *t,
                                   struct fsg_error *err)
{
    char where[64];
    snprintf(where, sizeof where, "targets[%zu]", i);
    if (!json_is_object(v)) {
        return s_bad(err, where, "must be an object");
    }
    static const char *const keys[] = { "name", "rds_instance", "virtual_service", "workload",
                                        "labels", "security_group", "associate", "enis",
                                        "eni_addrs", "flow_log_id", "port", "ownership", NULL };
    S_TRY(s_check_keys(v, where, keys, err));
    S_TRY(s_str(v, "name", where, &t->name, err));
    S_TRY(s_str(v, "rds_instance", where, &t->rds_instance, err));
    S_TRY(s_str(v, "virtual_service", where, &t->virtual_service, err));
    S_TRY(s_str(v, "workload", where, &t->workload, err));
    S_TRY(s_parse_labels(json_object_get(v, "labels"), t, where, err));
    S_TRY(s_parse_sg(json_object_get(v, "security_group"), t, where, err));
    S_TRY(s_str_list(v, "enis", where, &t->enis, &t->n_enis, err));
    S_TRY(s_str_list(v, "eni_addrs", where, &t->eni_addrs, &t->n_eni_addrs, err));
    S_TRY(s_str(v, "flow_log_id", where, &t->flow_log_id, err));
    S_TRY(s_int(v, "port", where, 0, &t->port, err));
    char *assoc = NULL;
    S_TRY(s_str(v, "associate", where, &assoc, err));
    if (assoc != NULL) {
        bool ok = true;
        if (strcmp(assoc, "add") == 0) {
            t->associate = FSG_ASSOCIATE_ADD;
        } else if (strcmp(assoc, "replace") == 0) {
            t->associate = FSG_ASSOCIATE_REPLACE;
        } else if (strcmp(assoc, "none") == 0) {
            t->associate = FSG_ASSOCIATE_NONE;
        } else {
            ok = false;
        }
        fsg_free(assoc);
        if (!ok) {
            return s_bad(err, where, "associate must be add, replace or none");
        }
    }
    char *own = NULL;
    S_TRY(s_str(v, "ownership", where, &own, err));
    if (own != NULL) {
        bool ok = true;
        if (strcmp(own, "group") == 0) {
            t->ownership = FSG_OWNERSHIP_GROUP;
        } else if (strcmp(own, "rules") == 0) {
            t->ownership = FSG_OWNERSHIP_RULES;
        } else {
            ok = false;
        }
        fsg_free(own);
        if (!ok) {
            return s_bad(err, where, "ownership must be group (the group is flowseg's: every "
                                     "rule the policy does not yield is removed) or rules (a "
                                     "shared group: only \"flowseg \" rules are managed)");
        }
    }
    if (t->name == NULL || t->name[0] == '\0') {
        return s_bad(err, where, t->name == NULL ? "name is required" : "name must not be empty");
    }
    int sides = (t->virtual_service != NULL) + (t->workload != NULL) + (t->n_labels > 0);
    if (sides > 1) {
        return s_bad(err, where, "name the PCE side by one of virtual_service, workload or labels");
    }
    return FSG_OK;
}

static bool s_same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Appends one violation to msg (joined with "; "). */
static void s_violation(char *msg, size_t size, size_t *n, const char *fmt, ...) FSG_PRINTF(4, 5);

static void s_violation(char *msg, size_t size, size_t *n, const char *fmt, ...)
{
    size_t used = strnlen(msg, size - 1);
    if (*n > 0 && used + 2 < size) {
        memcpy(msg + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + used, size - used, fmt, ap);
    va_end(ap);
    (*n)++;
}

/* Two targets on the same name, security group or RDS instance would produce plans that undo
 * each other: every such pair is an error, each named. */
static enum fsg_err s_check_targets(const struct fsg_config *c, struct fsg_error *err)
{
    char msg[sizeof err->msg];
    size_t n = 0;
    msg[0] = '\0';
    for (size_t j = 1; j < c->n_targets; j++) {
        const struct fsg_config_target *b = &c->targets[j];
        for (size_t i = 0; i < j; i++) {
            const struct fsg_config_target *a = &c->targets[i];
            if (s_same(a->name, b->name)) {
                s_violation(msg, sizeof msg, &n, "targets[%zu] and targets[%zu] have the same "
                            "name \"%s\"", i, j, a->name);
            }
            if (s_same(a->security_group, b->security_group)) {
                s_violation(msg, sizeof msg, &n, "targets %s and %s manage the same security "
                            "group %s", a->name, b->name, a->security_group);
            }
            if (s_same(a->create_name, b->create_name) &&
                (a->create_vpc_id == NULL || b->create_vpc_id == NULL ||
                 s_same(a->create_vpc_id, b->create_vpc_id))) {
                s_violation(msg, sizeof msg, &n, "targets %s and %s create the same security "
                            "group %s", a->name, b->name, a->create_name);
            }
            if (s_same(a->rds_instance, b->rds_instance)) {
                s_violation(msg, sizeof msg, &n, "targets %s and %s protect the same RDS "
                            "instance %s", a->name, b->name, a->rds_instance);
            }
        }
    }
    if (n == 0) {
        return FSG_OK;
    }
    return fsg_error_set(err, FSG_E_PARSE, "targets: %s (one target per name, security group "
                         "and RDS instance)", msg);
}

static enum fsg_err s_parse_pce(json_t *v, struct fsg_config_pce *p, struct fsg_error *err)
{
    if (v == NULL || json_is_null(v)) {
        return FSG_OK;
    }
    if (!json_is_object(v)) {
        return s_bad(err, "pce", "must be an object");
    }
    static const char *const keys[] = { "url", "org_id", "key_env", "secret_env", "key_file",
                                        "secret_file", "ca_file", "timeout_s", "async_wait_s",
                                        "secret_arn", "secret_parameter", NULL };
    S_TRY(s_check_keys(v, "pce", keys, err));
    S_TRY(s_str(v, "url", "pce", &p->url, err));
    S_TRY(s_int(v, "org_id", "pce", 1, &p->org_id, err));
    S_TRY(s_str(v, "key_env", "pce", &p->key_env, err));
    S_TRY(s_str(v, "secret_env", "pce", &p->secret_env, err));
    S_TRY(s_str(v, "key_file", "pce", &p->key_file, err));
    S_TRY(s_str(v, "secret_file", "pce", &p->secret_file, err));
    S_TRY(s_str(v, "ca_file", "pce", &p->ca_file, err));
    S_TRY(s_int(v, "timeout_s", "pce", 1, &p->timeout_s, err));
    S_TRY(s_int(v, "async_wait_s", "pce", 1, &p->async_wait_s, err));
    S_TRY(s_str(v, "secret_arn", "pce", &p->secret_arn, err));
    S_TRY(s_str(v, "secret_parameter", "pce", &p->secret_parameter, err));
    if (p->secret_arn != NULL && p->secret_parameter != NULL) {
        return s_bad(err, "pce", "set secret_arn or secret_parameter, not both");
    }
    if (json_object_get(v, "key") != NULL || json_object_get(v, "secret") != NULL) {
        return s_bad(err, "pce", "secrets never go in the config: use key_env/secret_env");
    }
    return FSG_OK;
}

static enum fsg_err s_parse_sections(json_t *root, struct fsg_config *c, struct fsg_error *err)
{
    static const char *const keys[] = { "region", "pce", "targets", "guards", "flowlogs",
                                        "nlb", "dry_run", "policy_ttl_s", "timeout_s", NULL };
    static const char *const guard_keys[] = { "max_removals", "allow_empty", "allow_public",
                                              "max_rules", "max_cut_sources", NULL };
    static const char *const fl_keys[] = { "key_regex", "format", "summaries", "fanout_queue_url",
                                           NULL };
    static const char *const nlb_keys[] = { "target_group_arn", "rds_instance", "port",
                                            "healthy_timeout_s", NULL };
    S_TRY(s_check_keys(root, "top level", keys, err));
    S_TRY(s_str(root, "region", "config", &c->region, err));
    S_TRY(s_bool(root, "dry_run", "config", &c->dry_run, err));
    S_TRY(s_int(root, "policy_ttl_s", "config", 0, &c->policy_ttl_s, err));
    S_TRY(s_int(root, "timeout_s", "config", 0, &c->timeout_s, err));
    S_TRY(s_parse_pce(json_object_get(root, "pce"), &c->pce, err));

    json_t *g = json_object_get(root, "guards");
    if (g != NULL && !json_is_null(g)) {
        if (!json_is_object(g)) {
            return s_bad(err, "guards", "must be an object");
        }
        S_TRY(s_check_keys(g, "guards", guard_keys, err));
        S_TRY(s_int(g, "max_removals", "guards", 0, &c->guards.max_removals, err));
        S_TRY(s_bool(g, "allow_empty", "guards", &c->guards.allow_empty, err));
        S_TRY(s_bool(g, "allow_public", "guards", &c->guards.allow_public, err));
        S_TRY(s_int(g, "max_rules", "guards", 1, &c->guards.max_rules, err));
        S_TRY(s_int(g, "max_cut_sources", "guards", 0, &c->guards.max_cut_sources, err));
    }
    json_t *fl = json_object_get(root, "flowlogs");
    if (fl != NULL && !json_is_null(fl)) {
        if (!json_is_object(fl)) {
            return s_bad(err, "flowlogs", "must be an object");
        }
        S_TRY(s_check_keys(fl, "flowlogs", fl_keys, err));
        S_TRY(s_str(fl, "key_regex", "flowlogs", &c->key_regex, err));
        S_TRY(s_str(fl, "format", "flowlogs", &c->flowlog_format, err));
        S_TRY(s_str(fl, "summaries", "flowlogs", &c->flowlog_summaries, err));
        if (c->flowlog_summaries != NULL && strncmp(c->flowlog_summaries, "s3://", 5) != 0) {
            return s_bad(err, "flowlogs.summaries", "must be an s3://bucket/prefix/ URL");
        }
        S_TRY(s_str(fl, "fanout_queue_url", "flowlogs", &c->fanout_queue_url, err));
    }
    json_t *nlb = json_object_get(root, "nlb");
    if (nlb != NULL && !json_is_null(nlb)) {
        if (!json_is_object(nlb)) {
            return s_bad(err, "nlb", "must be an object");
        }
        S_TRY(s_check_keys(nlb, "nlb", nlb_keys, err));
        S_TRY(s_str(nlb, "target_group_arn", "nlb", &c->nlb.target_group_arn, err));
        S_TRY(s_str(nlb, "rds_instance", "nlb", &c->nlb.rds_instance, err));
        S_TRY(s_int(nlb, "port", "nlb", 0, &c->nlb.port, err));
        S_TRY(s_int(nlb, "healthy_timeout_s", "nlb", 1, &c->nlb.healthy_timeout_s, err));
    }
    json_t *targets = json_object_get(root, "targets");
    if (targets != NULL && !json_is_null(targets)) {
        if (!json_is_array(targets)) {
            return s_bad(err, "targets", "must be a list");
        }
        c->targets = fsg_calloc(json_array_size(targets) + 1, sizeof *c->targets);
        if (c->targets == NULL) {
            return FSG_E_NOMEM;
        }
        size_t i;
        json_t *t;
        json_array_foreach(targets, i, t) {
            c->n_targets = i + 1;
            S_TRY(s_parse_target(t, i, &c->targets[i], err));
        }
    }
    return s_check_targets(c, err);
}

static enum fsg_err s_defaults(struct fsg_config *c)
{
    c->pce.org_id = 1;
    c->pce.timeout_s = 30;
    c->pce.async_wait_s = 600;
    c->pce.key_env = fsg_strdup("PCE_API_KEY");
    c->pce.secret_env = fsg_strdup("PCE_API_SECRET");
    c->guards = (struct fsg_config_guards){ .max_removals = 10, .max_rules = 60,
                                            .max_cut_sources = 10 };
    c->nlb.healthy_timeout_s = 0; /* 0 = FSG_NLB_DEFAULT_HEALTHY_TIMEOUT_S (cmd/nlb/nlb_sync.h) */
    return c->pce.key_env != NULL && c->pce.secret_env != NULL ? FSG_OK : FSG_E_NOMEM;
}

enum fsg_err fsg_config_new_default(struct fsg_config **ret_config, struct fsg_error *err)
{
    struct fsg_config *c = fsg_calloc(1, sizeof *c);
    if (c == NULL || s_defaults(c) != FSG_OK) {
        fsg_config_destroy(c);
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    *ret_config = c;
    return FSG_OK;
}

enum fsg_err fsg_config_parse(struct fsg_span text, struct fsg_config **ret_config,
                              struct fsg_error *err)
{
    json_error_t jerr;
    struct fsg_config *c = NULL;
    enum fsg_err rc;
    json_t *root = NULL;
    if (fsg_span_trim(text).len == 0) {
        /* jansson reports an empty input at "line -1 column -1": say what it is. */
        rc = fsg_error_set(err, FSG_E_PARSE, "the config is empty: it must be a JSON object "
                           "(see README.md, Config)");
        goto out;
    }
    root = json_loadb(text.len > 0 ? (const char *)text.ptr : "", text.len,
                      JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        rc = fsg_error_set(err, FSG_E_PARSE, "invalid JSON at line %d column %d: %s", jerr.line,
                           jerr.column, jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = s_bad(err, "top level", "must be a JSON object");
        goto out;
    }
    rc = fsg_config_new_default(&c, err);
    if (rc != FSG_OK) {
        goto out;
    }
    rc = s_parse_sections(root, c, err);
    if (rc == FSG_E_NOMEM) {
        fsg_error_set(err, rc, "out of memory");
    }
    if (rc != FSG_OK) {
        goto out;
    }
    *ret_config = c;
    c = NULL;
out:
    fsg_config_destroy(c);
    json_decref(root);
    return rc;
}

enum fsg_err fsg_config_load(const char *arg, struct fsg_config **ret_config, struct fsg_error *err)
{
    const char *p = arg;
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
        p++;
    }
    if (*p == '{') {
        return fsg_config_parse(fsg_span_from_cstr(arg), ret_config, err);
    }
    struct fsg_buf text = FSG_BUF_INIT;
    enum fsg_err rc = fsg_buf_read_file(&text, arg, S_MAX_CONFIG_BYTES, err);
    if (rc == FSG_OK) {
        rc = fsg_config_parse(fsg_span_from_buf(&text), ret_config, err);
        if (rc != FSG_OK) {
            fsg_error_prefix(err, "%s: ", arg);
        }
    }
    fsg_buf_clean_up(&text);
    return rc;
}

static void s_free_list(char **list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++) {
        fsg_free(list[i]);
    }
    fsg_free(list);
}

void fsg_config_destroy(struct fsg_config *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->n_targets; i++) {
        struct fsg_config_target *t = &c->targets[i];
        fsg_free(t->name);
        fsg_free(t->rds_instance);
        fsg_free(t->virtual_service);
        fsg_free(t->workload);
        for (size_t j = 0; j < t->n_labels; j++) {
            fsg_free(t->labels[j].key);
            fsg_free(t->labels[j].value);
        }
        fsg_free(t->labels);
        fsg_free(t->security_group);
        fsg_free(t->create_name);
        fsg_free(t->create_vpc_id);
        s_free_list(t->enis, t->n_enis);
        s_free_list(t->eni_addrs, t->n_eni_addrs);
        fsg_free(t->flow_log_id);
    }
    fsg_free(c->targets);
    fsg_free(c->region);
    fsg_free(c->pce.url);
    fsg_free(c->pce.key_env);
    fsg_free(c->pce.secret_env);
    fsg_free(c->pce.secret_arn);
    fsg_free(c->pce.secret_parameter);
    fsg_free(c->pce.key_file);
    fsg_free(c->pce.secret_file);
    fsg_free(c->pce.ca_file);
    fsg_free(c->key_regex);
    fsg_free(c->flowlog_format);
    fsg_free(c->flowlog_summaries);
    fsg_free(c->fanout_queue_url);
    fsg_free(c->nlb.target_group_arn);
    fsg_free(c->nlb.rds_instance);
    fsg_free(c);
}
