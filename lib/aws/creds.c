/* AWS credentials: the default provider chain (botocore/credentials.py order), cached and
 * refreshed before expiry under a mutex. Secrets live in fsg_buf and are wiped when released;
 * no error message or log line ever carries a key, a secret, a session or an auth token. */
#include "lib/aws/creds.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "lib/aws/aws_env.h"
#include "lib/http/http.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"

#define S_CONTAINER_HOST "http://169.254.170.2"
#define S_IMDS_DEFAULT "http://169.254.169.254"
#define S_IMDS_DEFAULT_V6 "http://[fd00:ec2::254]"
#define S_IMDS_TOKEN_TTL "21600"
#define S_IMDS_ROLE_PATH "/latest/meta-data/iam/security-credentials/"
#define S_CONTAINER_ATTEMPTS 3
#define S_MAX_TOKEN_FILE_BYTES 16384
#define S_MAX_RESPONSE_BYTES 65536

struct fsg_creds_provider {
    pthread_mutex_t lock;
    bool is_static;
    char *profile;               /* options.profile copy, or NULL */
    struct fsg_http_client *http;
    bool owns_http;
    struct fsg_credentials *current;  /* NULL until the first fetch */
    struct fsg_credentials *previous; /* kept one refresh longer: borrowed pointers stay valid */
    time_t next_retry_s;              /* after a failed refresh while the cache is still valid */
    bool is_invalidated;              /* fsg_creds_invalidate: refresh on the next get */
};

/* ---- credentials values ------------------------------------------------------------------- */

void fsg_credentials_clean_up(struct fsg_credentials *c)
{
    if (c == NULL) {
        return;
    }
    fsg_buf_clean_up_secure(&c->access_key_id);
    fsg_buf_clean_up_secure(&c->secret_access_key);
    fsg_buf_clean_up_secure(&c->session_token);
    *c = (struct fsg_credentials){ 0 };
}

static void s_creds_free(struct fsg_credentials *c)
{
    fsg_credentials_clean_up(c);
    fsg_free(c);
}

static enum fsg_err s_set_creds(struct fsg_credentials *c, struct fsg_span akid,
                                struct fsg_span secret, struct fsg_span token, time_t expiration_s,
                                const char *source)
{
    struct fsg_credentials n = { .expiration_s = expiration_s, .source = source };
    if (fsg_buf_append_span(&n.access_key_id, akid) != FSG_OK
        || fsg_buf_append_span(&n.secret_access_key, secret) != FSG_OK
        || fsg_buf_append_span(&n.session_token, token) != FSG_OK) {
        fsg_credentials_clean_up(&n);
        return FSG_E_NOMEM;
    }
    fsg_credentials_clean_up(c);
    *c = n;
    return FSG_OK;
}

enum fsg_err fsg_credentials_copy(const struct fsg_credentials *src, struct fsg_credentials *ret)
{
    *ret = (struct fsg_credentials){ 0 };
    return s_set_creds(ret, fsg_span_from_buf(&src->access_key_id),
                       fsg_span_from_buf(&src->secret_access_key),
                       fsg_span_from_buf(&src->session_token), src->expiration_s, src->source);
}

/* ---- time --------------------------------------------------------------------------------- */

static bool s_digits(struct fsg_span s, size_t at, size_t n, int *ret)
{
    int v = 0;
    if (at + n > s.len) {
        return false;
    }
    for (size_t i = at; i < at + n; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9') {
            return false;
        }
        v = v * 10 + (s.ptr[i] - '0');
    }
    *ret = v;
    return true;
}

enum fsg_err fsg_creds_parse_time(struct fsg_span s, time_t *ret)
{
    struct tm tm = { 0 };
    int year, mon, day, hour, min, sec;
    s = fsg_span_trim(s);
    if (!s_digits(s, 0, 4, &year) || s.len < 19 || s.ptr[4] != '-' || !s_digits(s, 5, 2, &mon)
        || s.ptr[7] != '-' || !s_digits(s, 8, 2, &day) || (s.ptr[10] != 'T' && s.ptr[10] != 't')
        || !s_digits(s, 11, 2, &hour) || s.ptr[13] != ':' || !s_digits(s, 14, 2, &min)
        || s.ptr[16] != ':' || !s_digits(s, 17, 2, &sec)) {
        return FSG_E_PARSE;
    }
    size_t i = 19;
    if (i < s.len && s.ptr[i] == '.') {
        for (i++; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++) {
        }
    }
    long offset_s = 0;
    if (i + 1 == s.len && (s.ptr[i] == 'Z' || s.ptr[i] == 'z')) {
        i++;
    } else if (i + 6 == s.len && (s.ptr[i] == '+' || s.ptr[i] == '-') && s.ptr[i + 3] == ':') {
        int oh, om;
        if (!s_digits(s, i + 1, 2, &oh) || !s_digits(s, i + 4, 2, &om) || oh > 23 || om > 59) {
            return FSG_E_PARSE;
        }
        offset_s = (oh * 3600L + om * 60L) * (s.ptr[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return FSG_E_PARSE; /* no zone: local time would be a guess */
    }
    if (i != s.len || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59
        || sec > 60 || year < 1970) {
        return FSG_E_PARSE;
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1) {
        return FSG_E_PARSE;
    }
    *ret = t - offset_s;
    return FSG_OK;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static const char *s_env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static bool s_has_byte(struct fsg_span s, int c)
{
    return s.len > 0 && memchr(s.ptr, c, s.len) != NULL;
}

static bool s_has_crlf(struct fsg_span s)
{
    return s_has_byte(s, '\r') || s_has_byte(s, '\n');
}

/* Resolution context: what each source found, for the final "nothing found" message. */
struct s_chain {
    struct fsg_creds_provider *p;
    char notes[400];
};

static void s_note(struct s_chain *c, const char *text)
{
    size_t used = strlen(c->notes);
    snprintf(c->notes + used, sizeof c->notes - used, "%s%s", used > 0 ? "; " : "", text);
}

/* ---- 1. environment ----------------------------------------------------------------------- */

static enum fsg_err s_from_env(struct fsg_credentials *out, bool *found, struct fsg_error *err)
{
    const char *akid = s_env("AWS_ACCESS_KEY_ID");
    const char *secret = s_env("AWS_SECRET_ACCESS_KEY");
    const char *token = s_env("AWS_SESSION_TOKEN");
    const char *expires = s_env("AWS_CREDENTIAL_EXPIRATION");
    time_t expiration_s = 0;

    if (akid == NULL && secret == NULL) {
        return FSG_OK;
    }
    if (akid == NULL || secret == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "AWS credentials from the environment are incomplete: %s is set but "
                             "%s is not",
                             akid != NULL ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                             akid != NULL ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    }
    if (token == NULL) {
        token = s_env("AWS_SECURITY_TOKEN");
    }
    if (expires != NULL
        && fsg_creds_parse_time(fsg_span_from_cstr(expires), &expiration_s) != FSG_OK) {
        return fsg_error_set(err, FSG_E_PARSE,
                             "AWS_CREDENTIAL_EXPIRATION '%.40s' is not an ISO 8601 time "
                             "like 2025-01-15T18:00:00Z",
                             expires);
    }
    if (s_set_creds(out, fsg_span_from_cstr(akid), fsg_span_from_cstr(secret),
                    fsg_span_from_cstr(token), expiration_s, "env") != FSG_OK) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    *found = true;
    return FSG_OK;
}

/* ---- 2. shared files ---------------------------------------------------------------------- */

struct s_profile_files {
    const char *name;
    bool is_explicit;
    const char *chosen_by;
    struct fsg_buf cred_path;
    struct fsg_buf cred_text;
    bool cred_exists;
    struct fsg_buf conf_path;
    struct fsg_buf conf_text;
    bool conf_exists;
};

static void s_profile_files_clean_up(struct s_profile_files *f)
{
    fsg_buf_clean_up(&f->cred_path);
    fsg_buf_clean_up_secure(&f->cred_text);
    fsg_buf_clean_up(&f->conf_path);
    fsg_buf_clean_up_secure(&f->conf_text);
}

/* key in the profile's section of one file (credentials: [NAME]; config: [profile NAME],
 * and [default] for the default profile). */
static bool s_file_get(const struct s_profile_files *f, bool config, const char *key,
                       struct fsg_span *ret)
{
    char section[320];
    if (!config) {
        return f->cred_exists
               && fsg_aws_ini_get(fsg_span_from_buf(&f->cred_text), f->name, key, NULL, ret);
    }
    if (!f->conf_exists) {
        return false;
    }
    snprintf(section, sizeof section, "profile %s", f->name);
    bool found = fsg_aws_ini_get(fsg_span_from_buf(&f->conf_text), section, key, NULL, ret);
    if (strcmp(f->name, "default") == 0) {
        found = fsg_aws_ini_get(fsg_span_from_buf(&f->conf_text), "default", key, NULL, ret)
                || found;
    }
    return found && ret->len > 0;
}

static bool s_file_has_profile(const struct s_profile_files *f, bool config)
{
    if (!config) {
        return f->cred_exists && fsg_aws_ini_has_section(fsg_span_from_buf(&f->cred_text), f->name);
    }
    char section[320];
    snprintf(section, sizeof section, "profile %s", f->name);
    return f->conf_exists
           && (fsg_aws_ini_has_section(fsg_span_from_buf(&f->conf_text), section)
               || (strcmp(f->name, "default") == 0
                   && fsg_aws_ini_has_section(fsg_span_from_buf(&f->conf_text), "default")));
}

/* Static keys of the profile in one file. */
static enum fsg_err s_profile_keys(const struct s_profile_files *f, bool config,
                                   struct fsg_credentials *out, bool *found, struct fsg_error *err)
{
    struct fsg_span akid = FSG_SPAN_NULL;
    struct fsg_span secret = FSG_SPAN_NULL;
    struct fsg_span token = FSG_SPAN_NULL;
    bool has_akid = s_file_get(f, config, "aws_access_key_id", &akid) && akid.len > 0;
    bool has_secret = s_file_get(f, config, "aws_secret_access_key", &secret) && secret.len > 0;
    const char *path = fsg_buf_cstr(config ? &f->conf_path : &f->cred_path);
    if (!has_akid && !has_secret) {
        return FSG_OK;
    }
    if (!has_akid || !has_secret) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "AWS profile '%.64s' in %.200s has %s but no %s", f->name, path,
                             has_akid ? "aws_access_key_id" : "aws_secret_access_key",
                             has_akid ? "aws_secret_access_key" : "aws_access_key_id");
    }
    if (!s_file_get(f, config, "aws_session_token", &token)) {
        (void)s_file_get(f, config, "aws_security_token", &token);
    }
    if (s_set_creds(out, akid, secret, token, 0, "profile") != FSG_OK) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    *found = true;
    return FSG_OK;
}

/* Profiles that need a provider we do not have are an error, not a silent fall-through. */
static enum fsg_err s_profile_unsupported(const struct s_profile_files *f, struct fsg_error *err)
{
    static const char *const keys[] = { "role_arn",       "credential_process", "sso_start_url",
                                        "sso_session",    "web_identity_token_file",
                                        "credential_source" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        struct fsg_span v;
        for (int config = 0; config <= 1; config++) {
            if (s_file_get(f, config, keys[i], &v) && v.len > 0) {
                return fsg_error_set(err, FSG_E_INVALID_ARG,
                                     "AWS profile '%.64s' in %.200s uses %s, which flowseg does "
                                     "not support; give it aws_access_key_id and "
                                     "aws_secret_access_key, or use environment, container or "
                                     "instance credentials",
                                     f->name,
                                     fsg_buf_cstr(config ? &f->conf_path : &f->cred_path), keys[i]);
            }
        }
    }
    return FSG_OK;
}

/* Locates and reads one shared file. Without HOME (and no *_FILE variable) the file simply
 * does not exist; its conventional name is kept for messages. */
typedef enum fsg_err(s_path_fn)(struct fsg_buf *ret_path, struct fsg_error *err);

static enum fsg_err s_read_profile_file(s_path_fn *path_fn, const char *fallback,
                                        struct fsg_buf *path, struct fsg_buf *text, bool *exists,
                                        struct fsg_error *err)
{
    enum fsg_err rc = path_fn(path, err);
    if (rc == FSG_E_NOT_FOUND) {
        fsg_buf_reset(path);
        rc = fsg_buf_append_cstr(path, fallback);
        return rc == FSG_OK ? FSG_OK : fsg_error_set(err, rc, "out of memory");
    }
    if (rc != FSG_OK) {
        return rc;
    }
    return fsg_aws_read_shared_file(fsg_buf_cstr(path), text, exists, err);
}

static enum fsg_err s_from_profile(struct s_chain *c, struct fsg_credentials *out, bool *found,
                                   struct fsg_error *err)
{
    struct s_profile_files f = { 0 };
    enum fsg_err rc;
    if (c->p->profile != NULL) {
        f.name = c->p->profile;
        f.is_explicit = true;
        f.chosen_by = "the configuration";
    } else {
        f.name = fsg_aws_profile_name(NULL, &f.is_explicit);
        f.chosen_by = s_env("AWS_PROFILE") != NULL ? "AWS_PROFILE" : "AWS_DEFAULT_PROFILE";
    }
    rc = s_read_profile_file(fsg_aws_credentials_file_path, "~/.aws/credentials", &f.cred_path,
                             &f.cred_text, &f.cred_exists, err);
    if (rc == FSG_OK) {
        rc = s_read_profile_file(fsg_aws_config_file_path, "~/.aws/config", &f.conf_path,
                                 &f.conf_text, &f.conf_exists, err);
    }
    if (rc == FSG_OK) {
        rc = s_profile_keys(&f, false, out, found, err);
    }
    if (rc == FSG_OK && !*found) {
        rc = s_profile_keys(&f, true, out, found, err);
    }
    if (rc == FSG_OK && !*found) {
        rc = s_profile_unsupported(&f, err);
    }
    if (rc == FSG_OK && !*found && f.is_explicit && !s_file_has_profile(&f, false)
        && !s_file_has_profile(&f, true)) {
        rc = fsg_error_set(err, FSG_E_NOT_FOUND,
                           "AWS profile '%.64s' (chosen by %s) is not in %.160s nor in %.160s",
                           f.name, f.chosen_by, fsg_buf_cstr(&f.cred_path),
                           fsg_buf_cstr(&f.conf_path));
    }
    if (rc == FSG_OK && !*found) {
        char note[240];
        snprintf(note, sizeof note, "shared files %.60s, %.60s (no keys for profile '%.40s')",
                 fsg_buf_cstr(&f.cred_path), fsg_buf_cstr(&f.conf_path), f.name);
        s_note(c, note);
    }
    s_profile_files_clean_up(&f);
    return rc;
}

/* ---- HTTP for container and IMDS ---------------------------------------------------------- */

static enum fsg_err s_http(struct fsg_creds_provider *p, struct fsg_http_client **ret,
                           struct fsg_error *err)
{
    if (p->http == NULL) {
        struct fsg_http_client_options o = { .connect_timeout_ms = 1000,
                                             .read_timeout_ms = 2000,
                                             .max_body_bytes = S_MAX_RESPONSE_BYTES };
        enum fsg_err rc = fsg_http_client_new(&o, &p->http, err);
        if (rc != FSG_OK) {
            return rc;
        }
        p->owns_http = true;
    }
    *ret = p->http;
    return FSG_OK;
}

/* One exchange; the response body is kept in *resp (wipe it with s_response_clean_up). */
static enum fsg_err s_send(struct fsg_creds_provider *p, const char *method, const char *url,
                           const char *const *headers, struct fsg_http_response *resp,
                           struct fsg_error *err)
{
    struct fsg_http_client *client = NULL;
    struct fsg_http_request req = { .method = method, .url = url };
    enum fsg_err rc = s_http(p, &client, err);
    for (size_t i = 0; rc == FSG_OK && headers != NULL && headers[i] != NULL; i += 2) {
        if (fsg_http_headers_add(&req.headers, headers[i], headers[i + 1]) != FSG_OK) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
        }
    }
    if (rc == FSG_OK) {
        rc = fsg_http_send(client, &req, resp, NULL, NULL, err);
    }
    for (size_t i = 0; i < req.headers.len; i++) {
        fsg_secure_zero(req.headers.items[i].value, strlen(req.headers.items[i].value));
    }
    fsg_http_headers_clean_up(&req.headers);
    return rc;
}

static void s_response_clean_up(struct fsg_http_response *resp)
{
    if (resp->body.ptr != NULL) {
        fsg_secure_zero(resp->body.ptr, resp->body.len);
    }
    fsg_http_response_clean_up(resp);
    *resp = (struct fsg_http_response){ 0 };
}

/* jansson keeps its own copies of the strings: wipe them before they are freed. */
static void s_json_wipe(json_t *v)
{
    if (json_is_string(v)) {
        fsg_secure_zero((char *)json_string_value(v), json_string_length(v));
    }
}

static struct fsg_span s_json_span(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? (struct fsg_span){ (const uint8_t *)json_string_value(v),
                                                  json_string_length(v) }
                             : FSG_SPAN_NULL;
}

/* {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"} (+ IMDS "Code": "Success"). */
static enum fsg_err s_parse_creds_json(struct fsg_span body, const char *source, const char *where,
                                       struct fsg_credentials *out, struct fsg_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)body.ptr, body.len, 0, &jerr);
    enum fsg_err rc = FSG_OK;
    time_t expiration_s = 0;
    if (!json_is_object(root)) {
        rc = fsg_error_set(err, FSG_E_PARSE, "%s credentials from %s: the answer is not a JSON "
                           "object", source, where);
        goto out;
    }
    const char *code = json_string_value(json_object_get(root, "Code"));
    if (code != NULL && strcmp(code, "Success") != 0) {
        rc = fsg_error_set(err, FSG_E_AUTH, "%s credentials from %s: Code %.64s (not Success)",
                           source, where, code);
        goto out;
    }
    struct fsg_span akid = s_json_span(root, "AccessKeyId");
    struct fsg_span secret = s_json_span(root, "SecretAccessKey");
    struct fsg_span token = s_json_span(root, "Token");
    struct fsg_span expires = s_json_span(root, "Expiration");
    const char *missing = akid.len == 0 ? "AccessKeyId"
                          : secret.len == 0 ? "SecretAccessKey"
                          : expires.len == 0 ? "Expiration" : NULL;
    if (missing != NULL) {
        rc = fsg_error_set(err, FSG_E_PARSE, "%s credentials from %s: the answer has no %s",
                           source, where, missing);
        goto out;
    }
    if (fsg_creds_parse_time(expires, &expiration_s) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_PARSE, "%s credentials from %s: Expiration '%.40s' is not "
                           "an ISO 8601 time", source, where, (const char *)expires.ptr);
        goto out;
    }
    if (s_set_creds(out, akid, secret, token, expiration_s, source) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }

out:
    if (root != NULL) {
        s_json_wipe(json_object_get(root, "SecretAccessKey"));
        s_json_wipe(json_object_get(root, "Token"));
        json_decref(root);
    }
    return rc;
}

/* ---- 3. container ------------------------------------------------------------------------- */

static bool s_is_allowed_http_host(const char *host)
{
    static const char *const allowed[] = { "169.254.170.2", "169.254.170.23", "localhost" };
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        if (strcasecmp(host, allowed[i]) == 0) {
            return true;
        }
    }
    struct in_addr a4;
    struct in6_addr a6;
    struct in6_addr eks;
    if (inet_pton(AF_INET, host, &a4) == 1) {
        return (ntohl(a4.s_addr) >> 24) == 127;
    }
    if (inet_pton(AF_INET6, host, &a6) == 1 && inet_pton(AF_INET6, "fd00:ec2::23", &eks) == 1) {
        return IN6_IS_ADDR_LOOPBACK(&a6) || memcmp(&a6, &eks, sizeof a6) == 0;
    }
    return false;
}

/* https to anywhere; http only to a loopback or the container agent addresses (botocore). */
static enum fsg_err s_check_full_uri(const char *uri, struct fsg_error *err)
{
    if (strncasecmp(uri, "https://", 8) == 0 && uri[8] != '\0' && uri[8] != '/') {
        return FSG_OK;
    }
    char host[256] = "";
    if (strncasecmp(uri, "http://", 7) == 0) {
        const char *h = uri + 7;
        size_t n = strcspn(h, "/?#");
        const char *at = memchr(h, '@', n);
        if (at != NULL) {
            n -= (size_t)(at + 1 - h);
            h = at + 1;
        }
        if (n > 0 && h[0] == '[') {
            const char *close = memchr(h, ']', n);
            n = close != NULL ? (size_t)(close - h - 1) : 0;
            h++;
        } else {
            const char *colon = memchr(h, ':', n);
            n = colon != NULL ? (size_t)(colon - h) : n;
        }
        snprintf(host, sizeof host, "%.*s", (int)(n < sizeof host ? n : 0), h);
        if (host[0] != '\0' && s_is_allowed_http_host(host)) {
            return FSG_OK;
        }
    }
    return fsg_error_set(err, FSG_E_INVALID_ARG,
                         "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https://, or http:// to a "
                         "loopback address, 169.254.170.2, 169.254.170.23, fd00:ec2::23 or "
                         "localhost (host '%.64s' is not allowed)",
                         host);
}

/* The Authorization value: the token file (read on every fetch) or the variable. */
static enum fsg_err s_container_auth(struct fsg_buf *out, struct fsg_error *err)
{
    const char *file = s_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *value = s_env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    enum fsg_err rc = FSG_OK;
    if (file != NULL) {
        rc = fsg_buf_read_file(out, file, S_MAX_TOKEN_FILE_BYTES, err);
        if (rc != FSG_OK) {
            (void)fsg_error_prefix(err, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: ");
            return rc;
        }
        while (out->len > 0 && (out->ptr[out->len - 1] == '\n' || out->ptr[out->len - 1] == '\r')) {
            out->ptr[--out->len] = '\0';
        }
    } else if (value != NULL) {
        rc = fsg_buf_append_cstr(out, value);
        if (rc != FSG_OK) {
            return fsg_error_set(err, rc, "out of memory");
        }
    }
    if (s_has_crlf(fsg_span_from_buf(out)) || s_has_byte(fsg_span_from_buf(out), '\0')) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "the container authorization token (%s) holds a line break or NUL "
                             "and cannot be sent as a header",
                             file != NULL ? "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
                                          : "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    }
    return FSG_OK;
}

static enum fsg_err s_from_container(struct s_chain *c, struct fsg_credentials *out, bool *found,
                                     struct fsg_error *err)
{
    const char *rel = s_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = s_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    struct fsg_buf url = FSG_BUF_INIT;
    struct fsg_buf auth = FSG_BUF_INIT;
    struct fsg_http_response resp = { 0 };
    const char *where = rel != NULL ? S_CONTAINER_HOST " (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)"
                                    : "AWS_CONTAINER_CREDENTIALS_FULL_URI";
    enum fsg_err rc = FSG_OK;

    if (rel == NULL && full == NULL) {
        return FSG_OK;
    }
    if (rel != NULL && rel[0] != '/') {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with '/'");
    }
    if (rel == NULL) {
        rc = s_check_full_uri(full, err);
    }
    if (rc == FSG_OK && fsg_buf_printf(&url, "%s%s", rel != NULL ? S_CONTAINER_HOST : "",
                                       rel != NULL ? rel : full) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    if (rc == FSG_OK) {
        rc = s_container_auth(&auth, err);
    }
    for (int attempt = 1; rc == FSG_OK && attempt <= S_CONTAINER_ATTEMPTS; attempt++) {
        const char *headers[] = { "Accept", "application/json",
                                  auth.len > 0 ? "Authorization" : NULL, fsg_buf_cstr(&auth),
                                  NULL };
        s_response_clean_up(&resp);
        rc = s_send(c->p, "GET", fsg_buf_cstr(&url), headers, &resp, err);
        bool retry = rc == FSG_E_NETWORK || (rc == FSG_OK && resp.status >= 500);
        if (retry && attempt < S_CONTAINER_ATTEMPTS) {
            fsg_log(FSG_LOG_DEBUG, "container credentials: attempt %d failed, retrying", attempt);
            rc = FSG_OK;
            continue;
        }
        break;
    }
    if (rc == FSG_OK && resp.status != 200) {
        bool denied = resp.status == 401 || resp.status == 403;
        rc = fsg_error_set(err, denied ? FSG_E_AUTH : FSG_E_REMOTE,
                           "container credentials from %s: HTTP %d", where, resp.status);
        if (err != NULL) {
            err->http_status = resp.status;
        }
    } else if (rc == FSG_OK) {
        rc = s_parse_creds_json(fsg_span_from_buf(&resp.body), "container", where, out, err);
        *found = rc == FSG_OK;
    } else if (rc == FSG_E_NETWORK) {
        (void)fsg_error_prefix(err, "container credentials from %s: ", where);
    }
    s_response_clean_up(&resp);
    fsg_buf_clean_up_secure(&auth);
    fsg_buf_clean_up(&url);
    return rc;
}

/* ---- 4. IMDSv2 ---------------------------------------------------------------------------- */

static enum fsg_err s_imds_base(struct fsg_buf *out, struct fsg_error *err)
{
    const char *ep = s_env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *mode = s_env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    if (ep == NULL) {
        ep = mode != NULL && strcasecmp(mode, "IPv6") == 0 ? S_IMDS_DEFAULT_V6 : S_IMDS_DEFAULT;
    }
    if (strncasecmp(ep, "http://", 7) != 0 && strncasecmp(ep, "https://", 8) != 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "AWS_EC2_METADATA_SERVICE_ENDPOINT must be an http:// URL");
    }
    size_t n = strlen(ep);
    while (n > 0 && ep[n - 1] == '/') {
        n--;
    }
    return fsg_buf_append(out, ep, n) == FSG_OK ? FSG_OK
                                                : fsg_error_set(err, FSG_E_NOMEM, "out of memory");
}

/* PUT /latest/api/token. *ret_token stays empty for an IMDSv1 fallback. */
static enum fsg_err s_imds_token(struct fsg_creds_provider *p, const char *base,
                                 struct fsg_buf *ret_token, struct fsg_error *err)
{
    struct fsg_buf url = FSG_BUF_INIT;
    struct fsg_http_response resp = { 0 };
    const char *headers[] = { "X-aws-ec2-metadata-token-ttl-seconds", S_IMDS_TOKEN_TTL, NULL };
    enum fsg_err rc = fsg_buf_printf(&url, "%s/latest/api/token", base);
    if (rc != FSG_OK) {
        return fsg_error_set(err, rc, "out of memory");
    }
    rc = s_send(p, "PUT", fsg_buf_cstr(&url), headers, &resp, err);
    if (rc == FSG_OK && resp.status == 200) {
        struct fsg_span t = fsg_span_trim(fsg_span_from_buf(&resp.body));
        if (t.len == 0 || s_has_crlf(t)) {
            rc = fsg_error_set(err, FSG_E_PARSE, "IMDS at %s: empty or malformed session token",
                               base);
        } else if (fsg_buf_append_span(ret_token, t) != FSG_OK) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
        }
    } else if (rc == FSG_OK && (resp.status == 403 || resp.status == 404 || resp.status == 405)) {
        if (fsg_aws_flag_is_true(s_env("AWS_EC2_METADATA_V1_DISABLED"))) {
            rc = fsg_error_set(err, FSG_E_AUTH,
                               "IMDS at %s refused a session token (HTTP %d) and IMDSv1 is "
                               "disabled by AWS_EC2_METADATA_V1_DISABLED",
                               base, resp.status);
        } else {
            fsg_log(FSG_LOG_DEBUG, "IMDS token request: HTTP %d, falling back to IMDSv1",
                    resp.status);
        }
    } else if (rc == FSG_OK) {
        rc = fsg_error_set(err, FSG_E_REMOTE, "IMDS at %s: token request answered HTTP %d", base,
                           resp.status);
    }
    s_response_clean_up(&resp);
    fsg_buf_clean_up(&url);
    return rc;
}

/* GET base+path with the session token (if any); the 200 body goes to ret_body. */
static enum fsg_err s_imds_get(struct fsg_creds_provider *p, const char *base, const char *path,
                               const struct fsg_buf *token, struct fsg_buf *ret_body,
                               int *ret_status, struct fsg_error *err)
{
    struct fsg_buf url = FSG_BUF_INIT;
    struct fsg_http_response resp = { 0 };
    const char *headers[] = { token->len > 0 ? "X-aws-ec2-metadata-token" : NULL,
                              fsg_buf_cstr(token), NULL };
    enum fsg_err rc = fsg_buf_printf(&url, "%s%s", base, path);
    if (rc != FSG_OK) {
        return fsg_error_set(err, rc, "out of memory");
    }
    rc = s_send(p, "GET", fsg_buf_cstr(&url), headers, &resp, err);
    *ret_status = resp.status;
    if (rc == FSG_OK && resp.status == 200
        && fsg_buf_append_span(ret_body, fsg_span_from_buf(&resp.body)) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    s_response_clean_up(&resp);
    fsg_buf_clean_up(&url);
    return rc;
}

/* Role name, then its credentials. A 401 means the session token expired: caller retries. */
static enum fsg_err s_imds_fetch(struct fsg_creds_provider *p, const char *base,
                                 const struct fsg_buf *token, struct fsg_credentials *out,
                                 int *ret_status, struct fsg_error *err)
{
    struct fsg_buf body = FSG_BUF_INIT;
    struct fsg_buf path = FSG_BUF_INIT;
    char where[300];
    enum fsg_err rc = s_imds_get(p, base, S_IMDS_ROLE_PATH, token, &body, ret_status, err);
    if (rc == FSG_OK && *ret_status != 200) {
        rc = fsg_error_set(err, *ret_status == 404 ? FSG_E_NOT_FOUND : FSG_E_REMOTE,
                           "IMDS at %s: %s (HTTP %d from %s)", base,
                           *ret_status == 404 ? "no IAM role is attached to this instance"
                                              : "cannot list the instance's IAM role",
                           *ret_status, S_IMDS_ROLE_PATH);
        goto out;
    }
    if (rc != FSG_OK) {
        goto out;
    }
    size_t pos = 0;
    struct fsg_span role;
    (void)fsg_span_next_split(fsg_span_from_buf(&body), '\n', &pos, &role);
    role = fsg_span_trim(role);
    if (role.len == 0 || role.len > 128 || memchr(role.ptr, '/', role.len) != NULL) {
        rc = fsg_error_set(err, FSG_E_PARSE, "IMDS at %s: no usable role name in %s", base,
                           S_IMDS_ROLE_PATH);
        goto out;
    }
    if (fsg_buf_printf(&path, S_IMDS_ROLE_PATH "%.*s", FSG_SPAN_FMT(role)) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
        goto out;
    }
    fsg_buf_reset(&body);
    rc = s_imds_get(p, base, fsg_buf_cstr(&path), token, &body, ret_status, err);
    if (rc == FSG_OK && *ret_status != 200) {
        rc = fsg_error_set(err, *ret_status == 404 ? FSG_E_NOT_FOUND : FSG_E_REMOTE,
                           "IMDS at %s: HTTP %d from %s", base, *ret_status, fsg_buf_cstr(&path));
        goto out;
    }
    if (rc == FSG_OK) {
        snprintf(where, sizeof where, "IMDS %s%s", base, fsg_buf_cstr(&path));
        rc = s_parse_creds_json(fsg_span_from_buf(&body), "imds", where, out, err);
    }

out:
    fsg_buf_clean_up_secure(&body);
    fsg_buf_clean_up(&path);
    return rc;
}

static enum fsg_err s_from_imds(struct s_chain *c, struct fsg_credentials *out, bool *found,
                                struct fsg_error *err)
{
    struct fsg_buf base = FSG_BUF_INIT;
    struct fsg_buf token = FSG_BUF_INIT;
    int status = 0;
    enum fsg_err rc;

    if (fsg_aws_flag_is_true(s_env("AWS_EC2_METADATA_DISABLED"))) {
        s_note(c, "IMDS (disabled by AWS_EC2_METADATA_DISABLED)");
        return FSG_OK;
    }
    rc = s_imds_base(&base, err);
    /* a fresh session token per refresh; one more if it expired between the calls */
    for (int attempt = 0; rc == FSG_OK && attempt < 2; attempt++) {
        fsg_buf_clean_up_secure(&token);
        rc = s_imds_token(c->p, fsg_buf_cstr(&base), &token, err);
        if (rc == FSG_OK) {
            rc = s_imds_fetch(c->p, fsg_buf_cstr(&base), &token, out, &status, err);
        }
        if (rc == FSG_E_REMOTE && status == 401 && attempt == 0) {
            rc = FSG_OK;
            continue;
        }
        break;
    }
    if (rc == FSG_OK) {
        *found = true;
    } else if (rc == FSG_E_NETWORK) {
        /* no metadata service: not on EC2 (or hop limit 1 inside a container) */
        char note[200];
        snprintf(note, sizeof note, "IMDS (%.120s not reachable)", fsg_buf_cstr(&base));
        s_note(c, note);
        rc = FSG_OK;
    }
    fsg_buf_clean_up_secure(&token);
    fsg_buf_clean_up(&base);
    return rc;
}

/* ---- the chain ---------------------------------------------------------------------------- */

static enum fsg_err s_resolve(struct fsg_creds_provider *p, struct fsg_credentials *out,
                              struct fsg_error *err)
{
    struct s_chain c = { .p = p };
    bool found = false;
    enum fsg_err rc = s_from_env(out, &found, err);
    if (rc == FSG_OK && !found && s_env("AWS_WEB_IDENTITY_TOKEN_FILE") != NULL
        && s_env("AWS_ROLE_ARN") != NULL) {
        rc = fsg_error_set(err, FSG_E_INVALID_ARG,
                           "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are set, but web "
                           "identity (STS AssumeRoleWithWebIdentity) is not supported by "
                           "flowseg; use EKS Pod Identity or ECS task roles (container "
                           "credentials) or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
    }
    if (rc == FSG_OK && !found) {
        s_note(&c, "environment (AWS_ACCESS_KEY_ID not set)");
        rc = s_from_profile(&c, out, &found, err);
    }
    if (rc == FSG_OK && !found) {
        rc = s_from_container(&c, out, &found, err);
    }
    if (rc == FSG_OK && !found) {
        s_note(&c, s_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != NULL ||
                           s_env("AWS_CONTAINER_CREDENTIALS_FULL_URI") != NULL
                       ? "container (no credentials)"
                       : "container (AWS_CONTAINER_CREDENTIALS_* not set)");
    }
    if (rc == FSG_OK && !found) {
        rc = s_from_imds(&c, out, &found, err);
    }
    if (rc == FSG_OK && !found) {
        rc = fsg_error_set(err, FSG_E_NOT_FOUND,
                           "no AWS credentials found (looked in: %s); set AWS_ACCESS_KEY_ID and "
                           "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with a role",
                           c.notes);
    }
    return rc;
}

/* ---- provider ----------------------------------------------------------------------------- */

static enum fsg_err s_provider_new(struct fsg_creds_provider **ret, struct fsg_error *err)
{
    struct fsg_creds_provider *p = fsg_calloc(1, sizeof *p);
    if (p == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        fsg_free(p);
        return fsg_error_set(err, FSG_E_INTERNAL, "cannot create a mutex");
    }
    *ret = p;
    return FSG_OK;
}

enum fsg_err fsg_creds_provider_new_default(const struct fsg_creds_options *opts,
                                            struct fsg_creds_provider **ret, struct fsg_error *err)
{
    struct fsg_creds_provider *p = NULL;
    enum fsg_err rc = s_provider_new(&p, err);
    if (rc != FSG_OK) {
        return rc;
    }
    if (opts != NULL && opts->profile != NULL && opts->profile[0] != '\0') {
        p->profile = fsg_strdup(opts->profile);
        if (p->profile == NULL) {
            fsg_creds_provider_destroy(p);
            return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
        }
    }
    p->http = opts != NULL ? opts->http : NULL;
    *ret = p;
    return FSG_OK;
}

enum fsg_err fsg_creds_provider_new_static(const char *access_key_id,
                                           const char *secret_access_key,
                                           const char *session_token,
                                           struct fsg_creds_provider **ret, struct fsg_error *err)
{
    if (access_key_id == NULL || access_key_id[0] == '\0' || secret_access_key == NULL
        || secret_access_key[0] == '\0') {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "static AWS credentials need an access key id and a secret key");
    }
    struct fsg_creds_provider *p = NULL;
    enum fsg_err rc = s_provider_new(&p, err);
    if (rc != FSG_OK) {
        return rc;
    }
    p->current = fsg_calloc(1, sizeof *p->current);
    if (p->current == NULL
        || s_set_creds(p->current, fsg_span_from_cstr(access_key_id),
                       fsg_span_from_cstr(secret_access_key), fsg_span_from_cstr(session_token), 0,
                       "static") != FSG_OK) {
        fsg_creds_provider_destroy(p);
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    p->is_static = true;
    *ret = p;
    return FSG_OK;
}

void fsg_creds_provider_destroy(struct fsg_creds_provider *p)
{
    if (p == NULL) {
        return;
    }
    s_creds_free(p->current);
    s_creds_free(p->previous);
    if (p->owns_http) {
        fsg_http_client_destroy(p->http);
    }
    fsg_free(p->profile);
    pthread_mutex_destroy(&p->lock);
    fsg_free(p);
}

static bool s_is_fresh(const struct fsg_creds_provider *p, time_t now_s)
{
    return p->current != NULL
           && (p->current->expiration_s == 0
               || p->current->expiration_s - FSG_CREDS_REFRESH_WINDOW_S > now_s);
}

/* Called with the lock held. */
static enum fsg_err s_get_locked(struct fsg_creds_provider *p, time_t now_s,
                                 struct fsg_error *err)
{
    if (p->is_static || (s_is_fresh(p, now_s) && !p->is_invalidated)) {
        return FSG_OK;
    }
    bool cached_valid = !p->is_invalidated && p->current != NULL
                        && p->current->expiration_s > now_s;
    if (cached_valid && now_s < p->next_retry_s) {
        return FSG_OK;
    }
    struct fsg_credentials *fresh = fsg_calloc(1, sizeof *fresh);
    struct fsg_error e = { 0 };
    enum fsg_err rc = fresh != NULL ? s_resolve(p, fresh, &e)
                                    : fsg_error_set(&e, FSG_E_NOMEM, "out of memory");
    if (rc == FSG_OK && fresh->expiration_s != 0 && fresh->expiration_s <= now_s) {
        rc = fsg_error_set(&e, FSG_E_AUTH, "AWS credentials from %s expired %lld s ago",
                           fresh->source, (long long)(now_s - fresh->expiration_s));
    }
    if (rc == FSG_OK) {
        s_creds_free(p->previous);
        p->previous = p->current;
        p->current = fresh;
        p->next_retry_s = 0;
        p->is_invalidated = false;
        fsg_log(FSG_LOG_DEBUG, "AWS credentials from %s (expire: %lld)", fresh->source,
                (long long)fresh->expiration_s);
        return FSG_OK;
    }
    s_creds_free(fresh);
    if (cached_valid) {
        p->next_retry_s = now_s + FSG_CREDS_RETRY_AFTER_S;
        fsg_log(FSG_LOG_DEBUG, "AWS credentials refresh failed (%s); the cached ones stay valid "
                "for %lld s", fsg_err_name(rc), (long long)(p->current->expiration_s - now_s));
        return FSG_OK;
    }
    if (err != NULL) {
        *err = e;
    }
    return rc;
}

void fsg_creds_invalidate(struct fsg_creds_provider *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->is_invalidated = true;
    pthread_mutex_unlock(&p->lock);
}

enum fsg_err fsg_creds_get(struct fsg_creds_provider *p, time_t now_s,
                           const struct fsg_credentials **ret, struct fsg_error *err)
{
    if (p == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "no credentials provider");
    }
    pthread_mutex_lock(&p->lock);
    enum fsg_err rc = s_get_locked(p, now_s, err);
    if (rc == FSG_OK) {
        *ret = p->current;
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

enum fsg_err fsg_creds_get_copy(struct fsg_creds_provider *p, time_t now_s,
                                struct fsg_credentials *ret_copy, struct fsg_error *err)
{
    if (p == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "no credentials provider");
    }
    pthread_mutex_lock(&p->lock);
    enum fsg_err rc = s_get_locked(p, now_s, err);
    if (rc == FSG_OK && fsg_credentials_copy(p->current, ret_copy) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}
