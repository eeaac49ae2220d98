/* Secrets at run time from Secrets Manager or SSM; see lib/aws/secrets.h. */
#include "lib/aws/secrets.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "lib/aws/aws.h"
#include "lib/aws/creds.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"
#include "lib/core/redact.h"

struct fsg_secret_source {
    char *secret_id;
    char *parameter;
    char *key_fallback;
    char name[320];
    struct fsg_aws_client *client;
    bool owns_client;
    char *key;    /* cached pair, NULL until fetched */
    char *secret;
    uint64_t fetches;
};

void fsg_secret_free(char *s)
{
    if (s != NULL) {
        fsg_secure_zero(s, strlen(s));
        fsg_free(s);
    }
}

/* ---- the two calls --------------------------------------------------------------------- */

/* Sends {"<id_field>": id[, "WithDecryption": true]} and returns the parsed answer. */
static enum fsg_err s_call(struct fsg_aws_client *c, const char *target, const char *id_field,
                           const char *id, bool decrypt, json_t **ret_root, struct fsg_error *err)
{
    json_t *req = json_pack("{s:s}", id_field, id);
    if (req != NULL && decrypt) {
        json_object_set_new(req, "WithDecryption", json_true());
    }
    char *body = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (body == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "%s: out of memory", target);
    }
    struct fsg_buf answer = FSG_BUF_INIT;
    enum fsg_err rc = fsg_aws_json(c, target, fsg_span_from_cstr(body), &answer, err);
    free(body);
    if (rc == FSG_OK) {
        json_error_t jerr;
        *ret_root = answer.len <= FSG_SECRET_MAX_BYTES * 2
                        ? json_loadb((const char *)answer.ptr, answer.len, 0, &jerr)
                        : NULL;
        if (*ret_root == NULL) {
            rc = fsg_error_set(err, FSG_E_PARSE, "%s %s: the answer is not a JSON object", target,
                               id);
        }
    }
    fsg_buf_clean_up_secure(&answer);
    return rc;
}

/* Appends a string member of obj to out, bounded. */
static enum fsg_err s_take_string(json_t *obj, const char *field, const char *what,
                                  struct fsg_buf *out, struct fsg_error *err)
{
    json_t *v = json_object_get(obj, field);
    if (!json_is_string(v)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s has no %s (a text value is needed)", what,
                             field);
    }
    if (json_string_length(v) > FSG_SECRET_MAX_BYTES) {
        return fsg_error_set(err, FSG_E_LIMIT, "%s: %s is larger than %zu bytes", what, field,
                             FSG_SECRET_MAX_BYTES);
    }
    enum fsg_err rc = fsg_buf_append(out, json_string_value(v), json_string_length(v));
    return rc == FSG_OK ? FSG_OK : fsg_error_set(err, rc, "%s: out of memory", what);
}

/* Wipes the strings of a parsed answer before jansson frees them. */
static void s_wipe_json(json_t *v)
{
    const char *k;
    json_t *m;
    if (json_is_object(v)) {
        json_object_foreach(v, k, m) {
            s_wipe_json(m);
        }
    } else if (json_is_string(v)) {
        fsg_secure_zero((void *)(uintptr_t)json_string_value(v), json_string_length(v));
    }
}

enum fsg_err fsg_secrets_get_secret_value(struct fsg_aws_client *c, const char *secret_id,
                                          struct fsg_buf *ret_value, struct fsg_error *err)
{
    json_t *root = NULL;
    char what[300];
    snprintf(what, sizeof what, "Secrets Manager secret %.250s", secret_id);
    enum fsg_err rc = s_call(c, "secretsmanager.GetSecretValue", "SecretId", secret_id, false,
                             &root, err);
    if (rc == FSG_OK) {
        rc = s_take_string(root, "SecretString", what, ret_value, err);
        if (rc == FSG_E_PARSE && json_object_get(root, "SecretBinary") != NULL) {
            rc = fsg_error_set(err, FSG_E_PARSE, "%s holds a binary value (SecretBinary); store "
                               "the key and secret as text (SecretString)", what);
        }
    }
    s_wipe_json(root);
    json_decref(root);
    return rc;
}

enum fsg_err fsg_ssm_get_parameter(struct fsg_aws_client *c, const char *name,
                                   struct fsg_buf *ret_value, struct fsg_error *err)
{
    json_t *root = NULL;
    char what[300];
    snprintf(what, sizeof what, "SSM parameter %.250s", name);
    enum fsg_err rc = s_call(c, "AmazonSSM.GetParameter", "Name", name, true, &root, err);
    if (rc == FSG_OK) {
        rc = s_take_string(json_object_get(root, "Parameter"), "Value", what, ret_value, err);
    }
    s_wipe_json(root);
    json_decref(root);
    return rc;
}

/* ---- the value's format ------------------------------------------------------------------ */

static const char *s_member(json_t *obj, const char *const *names)
{
    for (size_t i = 0; names[i] != NULL; i++) {
        const char *v = json_string_value(json_object_get(obj, names[i]));
        if (v != NULL) {
            return v;
        }
    }
    return NULL;
}

enum fsg_err fsg_secret_parse_pair(struct fsg_span value, const char *key_fallback,
                                   const char *where, char **ret_key, char **ret_secret,
                                   struct fsg_error *err)
{
    static const char *const key_names[] = { "key", "api_key", "auth_username", NULL };
    static const char *const secret_names[] = { "secret", "api_secret", NULL };
    struct fsg_span v = fsg_span_trim(value);
    json_t *root = v.len > 0 && v.ptr[0] == '{'
                       ? json_loadb((const char *)v.ptr, v.len, 0, NULL)
                       : NULL;
    const char *key = NULL, *secret = NULL;
    enum fsg_err rc = FSG_OK;
    if (json_is_object(root)) {
        key = s_member(root, key_names);
        secret = s_member(root, secret_names);
        if (secret == NULL) {
            rc = fsg_error_set(err, FSG_E_PARSE, "%s: the JSON value has no \"secret\" (want "
                               "{\"key\": \"api_...\", \"secret\": \"...\"})", where);
        } else if (key == NULL) {
            key = key_fallback;
        }
    } else if (v.len > 0 && v.ptr[0] == '{') {
        rc = fsg_error_set(err, FSG_E_PARSE, "%s: the value starts with '{' but is not valid "
                           "JSON (want {\"key\": \"api_...\", \"secret\": \"...\"})", where);
    } else {
        key = key_fallback; /* the value is the secret alone */
    }
    if (rc == FSG_OK && (key == NULL || key[0] == '\0')) {
        rc = fsg_error_set(err, FSG_E_INVALID_ARG, "%s holds only the secret and no API key is "
                           "set (store {\"key\": \"api_...\", \"secret\": \"...\"}, or set the "
                           "key's environment variable)", where);
    }
    if (rc == FSG_OK && (secret != NULL ? secret[0] == '\0' : v.len == 0)) {
        rc = fsg_error_set(err, FSG_E_PARSE, "%s: the secret is empty", where);
    }
    char *k = NULL, *s = NULL;
    if (rc == FSG_OK) {
        k = fsg_strdup(key);
        s = secret != NULL ? fsg_strdup(secret) : fsg_strndup((const char *)v.ptr, v.len);
        if (k == NULL || s == NULL) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "%s: out of memory", where);
        }
    }
    s_wipe_json(root);
    json_decref(root);
    if (rc != FSG_OK) {
        fsg_secret_free(k);
        fsg_secret_free(s);
        return rc;
    }
    *ret_key = k;
    *ret_secret = s;
    return FSG_OK;
}

/* ---- the cached source --------------------------------------------------------------------- */

/* "arn:aws:secretsmanager:eu-west-1:123456789012:secret:name" -> "eu-west-1" (into out). */
static bool s_arn_region(const char *id, char *out, size_t size)
{
    if (id == NULL || strncmp(id, "arn:", 4) != 0) {
        return false;
    }
    const char *p = id;
    for (int field = 0; field < 3; field++) {
        p = strchr(p, ':');
        if (p == NULL) {
            return false;
        }
        p++;
    }
    size_t n = strcspn(p, ":");
    if (n == 0 || n >= size) {
        return false;
    }
    snprintf(out, size, "%.*s", (int)n, p);
    return true;
}

static enum fsg_err s_make_client(struct fsg_secret_source *s,
                                  const struct fsg_secret_source_options *o, struct fsg_error *err)
{
    if (o->client != NULL) {
        s->client = o->client;
        return FSG_OK;
    }
    char arn_region[64];
    const char *id = s->secret_id != NULL ? s->secret_id : s->parameter;
    const char *region = o->region;
    if (s_arn_region(id, arn_region, sizeof arn_region)) {
        region = arn_region; /* an ARN names its region, maybe not the function's */
    }
    struct fsg_aws_client_options co = {
        .service = s->secret_id != NULL ? "secretsmanager" : "ssm",
        .region = region, .http = o->http, .creds = o->creds,
    };
    enum fsg_err rc = fsg_aws_client_new(&co, &s->client, err);
    s->owns_client = rc == FSG_OK;
    return rc;
}

enum fsg_err fsg_secret_source_new(const struct fsg_secret_source_options *opts,
                                   struct fsg_secret_source **ret, struct fsg_error *err)
{
    bool has_id = opts != NULL && opts->secret_id != NULL && opts->secret_id[0] != '\0';
    bool has_param = opts != NULL && opts->parameter != NULL && opts->parameter[0] != '\0';
    if (has_id == has_param) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "name either a Secrets Manager secret "
                             "(pce.secret_arn) or an SSM parameter (pce.secret_parameter)");
    }
    struct fsg_secret_source *s = fsg_calloc(1, sizeof *s);
    enum fsg_err rc = s != NULL ? FSG_OK : FSG_E_NOMEM;
    if (rc == FSG_OK && has_id && (s->secret_id = fsg_strdup(opts->secret_id)) == NULL) {
        rc = FSG_E_NOMEM;
    }
    if (rc == FSG_OK && has_param && (s->parameter = fsg_strdup(opts->parameter)) == NULL) {
        rc = FSG_E_NOMEM;
    }
    if (rc == FSG_OK && opts->key_fallback != NULL &&
        (s->key_fallback = fsg_strdup(opts->key_fallback)) == NULL) {
        rc = FSG_E_NOMEM;
    }
    if (rc != FSG_OK) {
        fsg_secret_source_destroy(s);
        return fsg_error_set(err, rc, "out of memory");
    }
    snprintf(s->name, sizeof s->name, "%s %.280s",
             has_id ? "Secrets Manager secret" : "SSM parameter",
             has_id ? s->secret_id : s->parameter);
    rc = s_make_client(s, opts, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "%s: ", s->name);
        fsg_secret_source_destroy(s);
        return rc;
    }
    *ret = s;
    return FSG_OK;
}

void fsg_secret_source_destroy(struct fsg_secret_source *s)
{
    if (s == NULL) {
        return;
    }
    if (s->owns_client) {
        fsg_aws_client_destroy(s->client);
    }
    fsg_secret_free(s->key);
    fsg_secret_free(s->secret);
    fsg_secret_free(s->key_fallback);
    fsg_free(s->secret_id);
    fsg_free(s->parameter);
    fsg_free(s);
}

static enum fsg_err s_fetch(struct fsg_secret_source *s, struct fsg_error *err)
{
    struct fsg_buf value = FSG_BUF_INIT;
    char *key = NULL, *secret = NULL;
    enum fsg_err rc = s->secret_id != NULL
                          ? fsg_secrets_get_secret_value(s->client, s->secret_id, &value, err)
                          : fsg_ssm_get_parameter(s->client, s->parameter, &value, err);
    s->fetches++;
    if (rc == FSG_OK) {
        rc = fsg_secret_parse_pair(fsg_span_from_buf(&value), s->key_fallback, s->name, &key,
                                   &secret, err);
    }
    fsg_buf_clean_up_secure(&value);
    /* A server that echoes them (a PCE error page) must not put them in a log line: a secret
     * that cannot be registered for redaction is not used. */
    if (rc == FSG_OK && fsg_redact_add_secret(secret) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "%s: out of memory registering the PCE secret for "
                           "redaction; it was not used", s->name);
        fsg_secret_free(key);
        fsg_secret_free(secret);
    }
    if (rc == FSG_OK) {
        fsg_secret_free(s->key);
        fsg_secret_free(s->secret);
        s->key = key;
        s->secret = secret;
        fsg_log(FSG_LOG_INFO, "PCE credentials read from %s (fetch %llu)", s->name,
                (unsigned long long)s->fetches);
    }
    return rc;
}

enum fsg_err fsg_secret_source_get(void *userdata, bool refresh, char **ret_key, char **ret_secret,
                                   struct fsg_error *err)
{
    struct fsg_secret_source *s = userdata;
    if (s->secret == NULL || refresh) {
        enum fsg_err rc = s_fetch(s, err);
        if (rc != FSG_OK) {
            return rc;
        }
    }
    char *k = fsg_strdup(s->key);
    char *v = fsg_strdup(s->secret);
    if (k == NULL || v == NULL) {
        fsg_secret_free(k);
        fsg_secret_free(v);
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    *ret_key = k;
    *ret_secret = v;
    return FSG_OK;
}

const char *fsg_secret_source_name(const struct fsg_secret_source *s)
{
    return s->name;
}

uint64_t fsg_secret_source_fetches(const struct fsg_secret_source *s)
{
    return s->fetches;
}
