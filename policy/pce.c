/* The PCE REST client. shared/ref/pce-api.md: §1 connection and auth, §2 errors, §3 collections,
 * async jobs and rate limits, §4 draft/active, §7 bulk traffic upload. */
#include "policy/pce.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib/core/deadline.h"
#include "lib/core/json.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"
#include "lib/core/redact.h"

/* A Retry-After above this is clamped: a PCE asking us to wait minutes is better reported than
 * obeyed (illumio-ops clamps at 30 s). */
#define S_MAX_RETRY_AFTER_S 60u
/* Without Retry-After: 1, 2, 4, 8, 16 s (illumio-py's backoff). */
#define S_BACKOFF_BASE_MS 1000u
/* A job without Retry-After is polled first after this, then each wait x1.5 (illumio-py),
 * capped at S_JOB_POLL_MAX_MS. */
#define S_JOB_POLL_FIRST_MS 1000u
#define S_JOB_POLL_MAX_MS 30000u
/* Secrets are short tokens; a credentials file bigger than this is not one. */
#define S_SECRET_FILE_MAX_BYTES 4096
/* Bound on the decoded text of an error body kept in a message. */
#define S_ERROR_TEXT_MAX 300

struct fsg_pce {
    struct fsg_http_client *client;
    char *base;           /* "https://host:port/api/v2" */
    char *origin;         /* "https://host:port" */
    char org_prefix[32];  /* "/orgs/1" */
    long org_id;
    char *auth_header;    /* "Basic ..." (secret: wiped) */
    fsg_pce_creds_fn *creds_fn; /* NULL: the credentials were read once at creation */
    void *creds_userdata;
    char cred_hint[160];  /* where the credentials came from, for 401 messages; no values */
    unsigned max_retries;
    uint64_t max_job_wait_ms;
    size_t max_body_bytes;
    fsg_pce_sleep_fn *sleep;
    void *sleep_userdata;
    fsg_pce_clock_fn *clock;
    int64_t deadline_ms;  /* Unix epoch ms; 0 = none */
    uint64_t requests;
};

/* One request as the retry loop sees it. */
struct s_call {
    const char *method;
    const char *url;
    const char *what;          /* "GET /orgs/1/workloads", for messages */
    const char *content_type;  /* NULL: no body */
    struct fsg_span body;
    bool respond_async;
    bool retry_5xx;            /* idempotent GETs also retry 502/503/504 */
};

/* ---------------------------------------------------------------------------------------- */
/* Small helpers */

static void s_default_sleep(uint64_t ms, void *userdata)
{
    (void)userdata;
    struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t s_default_clock(void *userdata)
{
    (void)userdata;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t s_now(const struct fsg_pce *pce)
{
    return pce->clock(pce->sleep_userdata);
}

/* Milliseconds left before the client's deadline or the process-wide run deadline
 * (lib/core/deadline), whichever comes first (INT64_MAX without either; <= 0 once passed). */
static int64_t s_left_ms(const struct fsg_pce *pce)
{
    int64_t own = pce->deadline_ms > 0 ? pce->deadline_ms - s_now(pce) : INT64_MAX;
    struct fsg_deadline run = fsg_run_deadline();
    int64_t left = fsg_deadline_is_set(run) ? fsg_deadline_remaining_ms(run) : INT64_MAX;
    return own < left ? own : left;
}

static char *s_strdup_secure_free(char *s)
{
    if (s != NULL) {
        fsg_secure_zero(s, strlen(s));
        fsg_free(s);
    }
    return NULL;
}

static const char s_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 4648 base64 of in into a fresh string. */
static char *s_base64(const uint8_t *in, size_t n)
{
    char *out = fsg_malloc((n + 2) / 3 * 4 + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= in[i + 2];
        }
        out[o++] = s_b64[(v >> 18) & 63];
        out[o++] = s_b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? s_b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? s_b64[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* Delta-seconds Retry-After ("3"); false for absent, an HTTP date or junk. */
static bool s_parse_retry_after(const char *v, uint64_t *ret_ms)
{
    if (v == NULL) {
        return false;
    }
    uint64_t s = 0;
    if (fsg_span_to_u64(fsg_span_trim(fsg_span_from_cstr(v)), &s) != FSG_OK) {
        return false;
    }
    *ret_ms = (s > S_MAX_RETRY_AFTER_S ? S_MAX_RETRY_AFTER_S : s) * 1000u;
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Redaction: server text copied into a message never carries a credential (issue 12: a PCE
 * 500 body that echoed the Authorization header put the Basic token on stderr). One mechanism,
 * lib/core/redact: the secret and the Basic token are registered with it in s_build_auth (a
 * credential that cannot be registered is not used), and every message is redacted by
 * fsg_error_set and fsg_log. Server text is also redacted where it is cut to fit a message
 * (fsg_redact_copy redacts the whole text before cutting it, so no credential is cut in two). */

/* Length of the URL user-info ("user:password@") starting at p, just after "://"; 0 if none. */
static size_t s_userinfo_len(const char *p)
{
    size_t n = strcspn(p, "/@ \t\r\n\"'<>?#");
    return p[n] == '@' ? n + 1 : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Credentials */

/* First line of a small file, trailing whitespace removed, into a fresh string. */
static enum fsg_err s_read_secret_file(const char *path, const char *what, char **ret,
                                       struct fsg_error *err)
{
    char buf[S_SECRET_FILE_MAX_BYTES + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "cannot read the PCE API %s file %s: %s",
                             what, path, strerror(errno));
    }
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) != 0) {
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    char *nl = strpbrk(buf, "\r\n");
    if (nl != NULL) {
        *nl = '\0';
    }
    len = strlen(buf);
    while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t')) {
        buf[--len] = '\0';
    }
    enum fsg_err rc = FSG_OK;
    if (len == 0) {
        rc = fsg_error_set(err, FSG_E_INVALID_ARG, "the PCE API %s file %s is empty", what, path);
    } else if ((*ret = fsg_strdup(buf)) == NULL) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory reading the PCE API %s", what);
    }
    fsg_secure_zero(buf, sizeof buf);
    return rc;
}

/* One credential from the option, else the environment variable, else the file. */
static enum fsg_err s_load_credential(const char *direct, const char *env, const char *file,
                                      const char *what, char **ret, struct fsg_error *err)
{
    if (direct != NULL && direct[0] != '\0') {
        *ret = fsg_strdup(direct);
        return *ret != NULL ? FSG_OK : fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    const char *v = env != NULL ? getenv(env) : NULL;
    if (v != NULL && v[0] != '\0') {
        *ret = fsg_strdup(v);
        return *ret != NULL ? FSG_OK : fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    if (file != NULL && file[0] != '\0') {
        return s_read_secret_file(file, what, ret, err);
    }
    if (env != NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "no PCE API %s: the environment variable %s is not set (or set "
                             "pce.%s_file to a file holding it)", what, env,
                             strcmp(what, "key") == 0 ? "key" : "secret");
    }
    return fsg_error_set(err, FSG_E_INVALID_ARG, "no PCE API %s configured", what);
}

/* Builds the Basic header from key and secret (both still owned by the caller). */
static enum fsg_err s_build_auth(struct fsg_pce *pce, const char *key, const char *secret,
                                 struct fsg_error *err)
{
    char *pair = NULL;
    enum fsg_err rc = FSG_OK;
    if (strchr(key, ':') != NULL) {
        rc = fsg_error_set(err, FSG_E_INVALID_ARG, "the PCE API key contains ':' (HTTP Basic "
                           "cannot carry it); it should look like api_1a2b3c4d5e6f7g");
    }
    if (rc == FSG_OK) {
        pair = fsg_asprintf("%s:%s", key, secret);
        char *b64 = pair != NULL ? s_base64((const uint8_t *)pair, strlen(pair)) : NULL;
        char *header = b64 != NULL ? fsg_asprintf("Basic %s", b64) : NULL;
        /* Echoes of the secret or of the token are redacted from every message (an error
         * page that repeats the request's headers): credentials that cannot be registered
         * with lib/core/redact are not used. */
        bool registered = b64 != NULL && fsg_redact_add_secret(secret) == FSG_OK &&
                          fsg_redact_add_secret(b64) == FSG_OK;
        (void)s_strdup_secure_free(b64);
        if (header == NULL || !registered) {
            s_strdup_secure_free(header);
            rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory building PCE credentials");
        } else {
            s_strdup_secure_free(pce->auth_header);
            pce->auth_header = header;
        }
    }
    s_strdup_secure_free(pair);
    return rc;
}

/* Asks the credentials callback for a (fresh) key and secret and rebuilds the header. */
static enum fsg_err s_auth_from_fn(struct fsg_pce *pce, bool refresh, struct fsg_error *err)
{
    char *key = NULL;
    char *secret = NULL;
    enum fsg_err rc = pce->creds_fn(pce->creds_userdata, refresh, &key, &secret, err);
    if (rc == FSG_OK) {
        rc = s_build_auth(pce, key, secret, err);
    } else {
        fsg_error_prefix(err, "PCE credentials: ");
    }
    s_strdup_secure_free(secret);
    s_strdup_secure_free(key);
    return rc;
}

static enum fsg_err s_set_auth(struct fsg_pce *pce, const struct fsg_pce_options *o,
                               struct fsg_error *err)
{
    if (o->creds_fn != NULL) {
        pce->creds_fn = o->creds_fn;
        pce->creds_userdata = o->creds_userdata;
        snprintf(pce->cred_hint, sizeof pce->cred_hint, "the API key and secret in %.130s",
                 o->creds_name != NULL ? o->creds_name : "the configured secret");
        return s_auth_from_fn(pce, false, err);
    }
    char *key = NULL;
    char *secret = NULL;
    enum fsg_err rc = s_load_credential(o->api_key, o->key_env, o->key_file, "key", &key, err);
    if (rc == FSG_OK) {
        rc = s_load_credential(o->api_secret, o->secret_env, o->secret_file, "secret", &secret,
                               err);
    }
    if (rc == FSG_OK) {
        rc = s_build_auth(pce, key, secret, err);
    }
    if (o->api_key != NULL) {
        snprintf(pce->cred_hint, sizeof pce->cred_hint, "the configured API key and secret");
    } else {
        snprintf(pce->cred_hint, sizeof pce->cred_hint, "the API key and secret in %s/%s",
                 o->key_env != NULL ? o->key_env : "pce.key_file",
                 o->secret_env != NULL ? o->secret_env : "pce.secret_file");
    }
    s_strdup_secure_free(secret);
    s_strdup_secure_free(key);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Construction */

static enum fsg_err s_set_url(struct fsg_pce *pce, const char *url, struct fsg_error *err)
{
    if (url == NULL || url[0] == '\0') {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "no PCE url configured (pce.url)");
    }
    char shown[256];
    fsg_redact_copy(url, shown, sizeof shown);
    const char *scheme_end = strstr(url, "://");
    if (scheme_end != NULL && s_userinfo_len(scheme_end + 3) > 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "PCE url '%.200s' must not carry "
                             "user:password@ (it would be printed and sent as is): put the API "
                             "key and secret in the environment (pce.key_env/pce.secret_env) or "
                             "in pce.key_file/pce.secret_file", shown);
    }
    if (strncasecmp(url, "https://", 8) != 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "PCE url '%.200s' must start with https:// "
                             "(TLS is always verified; use pce.ca_file for a private CA)", shown);
    }
    if (strpbrk(url, "?# \t\r\n") != NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "PCE url '%.200s' must not contain a query, "
                             "fragment or whitespace", shown);
    }
    size_t n = strlen(url);
    while (n > 8 && url[n - 1] == '/') {
        n--;
    }
    if (n >= 8 + 7 && strncmp(url + n - 7, "/api/v2", 7) == 0) {
        n -= 7;
    }
    while (n > 8 && url[n - 1] == '/') {
        n--;
    }
    size_t rest = n > 8 ? n - 8 : 0;
    const char *slash = rest > 0 ? memchr(url + 8, '/', rest) : NULL;
    size_t origin_len = slash != NULL ? (size_t)(slash - url) : n;
    if (origin_len <= 8) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "PCE url '%.200s' has no host", shown);
    }
    pce->base = fsg_asprintf("%.*s/api/v2", (int)n, url);
    pce->origin = fsg_strndup(url, origin_len);
    if (pce->base == NULL || pce->origin == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    return FSG_OK;
}

enum fsg_err fsg_pce_new_with_client(const struct fsg_pce_options *opts,
                                     struct fsg_http_client *client, struct fsg_pce **ret_pce,
                                     struct fsg_error *err)
{
    struct fsg_pce *pce = NULL;
    enum fsg_err rc = FSG_OK;
    if (opts == NULL || client == NULL || ret_pce == NULL) {
        rc = fsg_error_set(err, FSG_E_INVALID_ARG, "fsg_pce_new: missing options or client");
        goto out;
    }
    if (opts->org_id <= 0) {
        rc = fsg_error_set(err, FSG_E_INVALID_ARG, "PCE org_id must be a positive integer, "
                           "got %ld", opts->org_id);
        goto out;
    }
    pce = fsg_calloc(1, sizeof *pce);
    if (pce == NULL) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
        goto out;
    }
    pce->client = client;
    client = NULL;
    pce->org_id = opts->org_id;
    snprintf(pce->org_prefix, sizeof pce->org_prefix, "/orgs/%ld", opts->org_id);
    pce->max_retries = opts->max_retries != 0 ? opts->max_retries : FSG_PCE_DEFAULT_MAX_RETRIES;
    pce->max_job_wait_ms = (uint64_t)(opts->max_job_wait_s > 0 ? opts->max_job_wait_s
                                                                : FSG_PCE_DEFAULT_MAX_JOB_WAIT_S) *
                           1000u;
    pce->max_body_bytes = opts->max_body_bytes != 0 ? opts->max_body_bytes
                                                    : FSG_JSON_MAX_BYTES_DEFAULT;
    pce->sleep = opts->sleep != NULL ? opts->sleep : s_default_sleep;
    pce->sleep_userdata = opts->sleep_userdata;
    pce->clock = opts->clock != NULL ? opts->clock : s_default_clock;
    pce->deadline_ms = opts->deadline_ms > 0 ? opts->deadline_ms : 0;
    rc = s_set_url(pce, opts->url, err);
    if (rc == FSG_OK) {
        rc = s_set_auth(pce, opts, err);
    }
    if (rc != FSG_OK) {
        goto out;
    }
    *ret_pce = pce;
    pce = NULL;
out:
    fsg_http_client_destroy(client);
    fsg_pce_destroy(pce);
    return rc;
}

enum fsg_err fsg_pce_new(const struct fsg_pce_options *opts, struct fsg_pce **ret_pce,
                         struct fsg_error *err)
{
    if (opts == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "fsg_pce_new: missing options");
    }
    long timeout_ms = (opts->timeout_s > 0 ? opts->timeout_s : 30) * 1000L;
    struct fsg_http_client_options ho = {
        .connect_timeout_ms = timeout_ms,
        .read_timeout_ms = timeout_ms,
        .ca_file = opts->ca_file,
        .max_body_bytes = opts->max_body_bytes != 0 ? opts->max_body_bytes
                                                    : FSG_JSON_MAX_BYTES_DEFAULT,
    };
    struct fsg_http_client *client = NULL;
    enum fsg_err rc = fsg_http_client_new(&ho, &client, err);
    if (rc != FSG_OK) {
        return fsg_error_prefix(err, "PCE client: ");
    }
    return fsg_pce_new_with_client(opts, client, ret_pce, err);
}

void fsg_pce_destroy(struct fsg_pce *pce)
{
    if (pce == NULL) {
        return;
    }
    fsg_http_client_destroy(pce->client);
    s_strdup_secure_free(pce->auth_header);
    fsg_free(pce->base);
    fsg_free(pce->origin);
    fsg_free(pce);
}

void fsg_pce_set_deadline(struct fsg_pce *pce, int64_t deadline_ms)
{
    if (pce != NULL) {
        pce->deadline_ms = deadline_ms > 0 ? deadline_ms : 0;
    }
}

uint64_t fsg_pce_request_count(const struct fsg_pce *pce)
{
    return pce != NULL ? pce->requests : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Errors (ref §2) */

static void s_append_error_item(json_t *item, char *out, size_t size, char *token,
                                size_t token_size)
{
    const char *t = json_string_value(json_object_get(item, "token"));
    const char *m = json_string_value(json_object_get(item, "message"));
    if (m == NULL) {
        m = json_string_value(json_object_get(item, "error"));
    }
    if (t == NULL && m == NULL) {
        return;
    }
    if (t != NULL && token[0] == '\0') {
        snprintf(token, token_size, "%s", t);
    }
    size_t n = strlen(out);
    snprintf(out + n, size - n, "%s%s%s%s", n > 0 ? "; " : "", t != NULL ? t : "",
             t != NULL && m != NULL ? ": " : "", m != NULL ? m : "");
}

/* Decodes a PCE error body: [{token, message}...], {token, message} or {"error": "..."};
 * anything else is kept as (printable) text. */
static void s_decode_error_body(struct fsg_span body, char *out, size_t size, char *token,
                                size_t token_size)
{
    out[0] = '\0';
    token[0] = '\0';
    body = fsg_span_trim(body);
    if (body.len == 0) {
        return;
    }
    json_t *v = NULL;
    struct fsg_json_limits lim = { .max_bytes = 1u << 20 };
    if (fsg_json_load(body, &lim, &v, NULL) == FSG_OK) {
        if (json_is_array(v)) {
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item) {
                s_append_error_item(item, out, size, token, token_size);
            }
        } else {
            s_append_error_item(v, out, size, token, token_size);
        }
        json_decref(v);
        if (out[0] != '\0') {
            return;
        }
    }
    size_t n = 0;
    for (size_t i = 0; i < body.len && n + 1 < size; i++) {
        uint8_t c = body.ptr[i];
        out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
    }
    out[n] = '\0';
}

static void s_copy_request_id(const struct fsg_http_response *resp, struct fsg_error *err)
{
    const char *rid = fsg_http_headers_get(&resp->headers, "X-Request-Id");
    if (err != NULL && rid != NULL) {
        fsg_redact_copy(rid, err->request_id, sizeof err->request_id);
    }
}

/* Turns a non-2xx response into an error with the request id, status and decoded body. */
static enum fsg_err s_status_error(struct fsg_pce *pce, const struct s_call *c,
                                   const struct fsg_http_response *resp, unsigned retries,
                                   struct fsg_error *err)
{
    /* Decoded with room to spare and redacted before the cut to S_ERROR_TEXT_MAX: a credential
     * straddling the cut is masked whole, not shown in part. */
    char raw[4 * S_ERROR_TEXT_MAX];
    char text[S_ERROR_TEXT_MAX];
    char tok_raw[256];
    char token[64];
    s_decode_error_body(fsg_span_from_buf(&resp->body), raw, sizeof raw, tok_raw, sizeof tok_raw);
    fsg_redact_copy(raw, text, sizeof text);
    fsg_redact_copy(tok_raw, token, sizeof token);
    fsg_secure_zero(raw, sizeof raw);
    fsg_secure_zero(tok_raw, sizeof tok_raw);
    const char *sep = text[0] != '\0' ? ": " : "";
    enum fsg_err rc;
    switch (resp->status) {
    case 401:
        rc = fsg_error_set(err, FSG_E_AUTH, "%s: the PCE rejected the credentials (HTTP 401): "
                           "check %s", c->what, pce->cred_hint);
        break;
    case 403:
        rc = fsg_error_set(err, FSG_E_AUTH, "%s: the PCE refused access (HTTP 403): check that "
                           "org_id %ld is the API key's org and that its user may read this%s%s",
                           c->what, pce->org_id, sep, text);
        break;
    case 404:
        rc = fsg_error_set(err, FSG_E_NOT_FOUND, "%s: not found on the PCE (HTTP 404)%s%s",
                           c->what, sep, text);
        break;
    case 406:
        rc = fsg_error_set(err, FSG_E_REJECTED, "%s: the PCE rejected the request (HTTP 406)%s%s",
                           c->what, sep, text);
        break;
    case 429:
        rc = fsg_error_set(err, FSG_E_THROTTLED, "%s: the PCE rate limit (HTTP 429) was still hit "
                           "after %u retries; try again later", c->what, retries);
        break;
    default:
        rc = fsg_error_set(err, FSG_E_REMOTE, "%s: the PCE answered HTTP %d%s%s", c->what, resp->status, sep, text);
        break;
    }
    if (err != NULL) {
        err->http_status = resp->status;
        snprintf(err->service_code, sizeof err->service_code, "%s", token);
    }
    s_copy_request_id(resp, err);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Sending with retries (ref §3 "Rate limits") */

static void s_wipe_auth_header(struct fsg_http_request *req)
{
    for (size_t i = 0; i < req->headers.len; i++) {
        if (strcasecmp(req->headers.items[i].name, "Authorization") == 0) {
            fsg_secure_zero(req->headers.items[i].value, strlen(req->headers.items[i].value));
        }
    }
}

static enum fsg_err s_send_once(struct fsg_pce *pce, const struct s_call *c,
                                struct fsg_http_response *resp, struct fsg_error *err)
{
    struct fsg_http_request req = { .method = c->method, .url = c->url, .body = c->body };
    enum fsg_err rc = fsg_http_headers_add(&req.headers, "Authorization", pce->auth_header);
    if (rc == FSG_OK) {
        rc = fsg_http_headers_add(&req.headers, "Accept", "application/json");
    }
    if (rc == FSG_OK && c->content_type != NULL) {
        rc = fsg_http_headers_add(&req.headers, "Content-Type", c->content_type);
    }
    if (rc == FSG_OK && c->respond_async) {
        rc = fsg_http_headers_add(&req.headers, "Prefer", "respond-async");
    }
    int64_t left = s_left_ms(pce);
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "%s: out of memory building the request", c->what);
    } else if (left <= 0) {
        rc = fsg_error_set(err, FSG_E_CANCELLED, "%s: not sent: the run's deadline has passed "
                           "(%lld ms ago)", c->what, (long long)-left);
    } else {
        pce->requests++;
        rc = fsg_http_send(pce->client, &req, resp, NULL, NULL, err);
        if (rc != FSG_OK) {
            fsg_error_prefix(err, "%s: ", c->what);
        }
    }
    s_wipe_auth_header(&req);
    fsg_http_request_clean_up(&req);
    return rc;
}

static bool s_is_retryable_status(const struct s_call *c, int status)
{
    return status == 429 || (c->retry_5xx && (status == 502 || status == 503 || status == 504));
}

/* Sends c, retrying 429 (and 502/503/504 for GETs) up to max_retries times, honouring
 * Retry-After when present. Returns FSG_OK with any final status in resp; the caller checks it.
 * Transport errors are not retried: a half-read answer must fail the whole read. */
static enum fsg_err s_send(struct fsg_pce *pce, const struct s_call *c,
                           struct fsg_http_response *resp, unsigned *ret_retries,
                           struct fsg_error *err)
{
    bool refreshed = false;
    for (unsigned attempt = 0;; attempt++) {
        enum fsg_err rc = s_send_once(pce, c, resp, err);
        if (rc != FSG_OK) {
            return rc;
        }
        if (resp->status == 401 && pce->creds_fn != NULL && !refreshed) {
            /* The secret may have been rotated since it was read: read it again, once. */
            refreshed = true;
            fsg_log(FSG_LOG_INFO, "pce: %s -> HTTP 401, reading the credentials again", c->what);
            rc = s_auth_from_fn(pce, true, err);
            if (rc != FSG_OK) {
                return rc;
            }
            attempt--; /* not a retry of the 429 kind */
            continue;
        }
        *ret_retries = attempt;
        if (!s_is_retryable_status(c, resp->status) || attempt >= pce->max_retries) {
            return FSG_OK;
        }
        uint64_t wait_ms = 0;
        bool has_ra = s_parse_retry_after(fsg_http_headers_get(&resp->headers, "Retry-After"),
                                          &wait_ms);
        if (!has_ra) {
            wait_ms = (uint64_t)S_BACKOFF_BASE_MS << (attempt < 16 ? attempt : 16);
        }
        if ((int64_t)wait_ms >= s_left_ms(pce)) {
            return fsg_error_set(err, FSG_E_CANCELLED, "%s: HTTP %d, and the retry in %llu ms "
                                 "would pass the run's deadline", c->what, resp->status,
                                 (unsigned long long)wait_ms);
        }
        fsg_log(FSG_LOG_DEBUG, "pce: %s -> HTTP %d, retry %u/%u in %llu ms%s", c->what,
                resp->status, attempt + 1, pce->max_retries, (unsigned long long)wait_ms,
                has_ra ? " (Retry-After)" : "");
        pce->sleep(wait_ms, pce->sleep_userdata);
    }
}

/* What a URL is called in messages: the path after /api/v2, without the query. */
static void s_what(const struct fsg_pce *pce, const char *method, const char *url, char *out,
                   size_t size)
{
    size_t blen = strlen(pce->base);
    const char *p = strncmp(url, pce->base, blen) == 0 ? url + blen : url;
    size_t n = strcspn(p, "?");
    snprintf(out, size, "%s %.*s", method, (int)(n > 200 ? 200 : n), p);
}

/* A full URL for an href: "/orgs/1/..." (ref §1), "/api/v2/...", or an absolute URL on the
 * same PCE (newer Location headers). Anything else is refused: credentials go nowhere else. */
static enum fsg_err s_href_url(const struct fsg_pce *pce, const char *href, char **ret_url,
                               struct fsg_error *err)
{
    char *url = NULL;
    size_t blen = strlen(pce->base);
    if (strncasecmp(href, "https://", 8) == 0) {
        if (strncmp(href, pce->base, blen) != 0 || href[blen] != '/') {
            char shown[256];
            fsg_redact_copy(href, shown, sizeof shown);
            return fsg_error_set(err, FSG_E_REMOTE, "the PCE pointed to %.200s, which is not "
                                 "under %s; refusing to send credentials there", shown, pce->base);
        }
        url = fsg_strdup(href);
    } else if (strncmp(href, "/api/v2/", 8) == 0) {
        url = fsg_asprintf("%s%s", pce->origin, href);
    } else if (strncmp(href, "/orgs/", 6) == 0) {
        url = fsg_asprintf("%s%s", pce->base, href);
    } else if (href[0] == '/') {
        url = fsg_asprintf("%s%s%s", pce->base, pce->org_prefix, href);
    } else {
        char shown[256];
        fsg_redact_copy(href, shown, sizeof shown);
        return fsg_error_set(err, FSG_E_REMOTE, "unusable href '%.200s' from the PCE", shown);
    }
    if (url == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    *ret_url = url;
    return FSG_OK;
}

/* GET url, expect 2xx, parse the body as JSON. */
static enum fsg_err s_get_json(struct fsg_pce *pce, const char *url, bool respond_async,
                               struct fsg_http_response *resp, json_t **ret, struct fsg_error *err)
{
    char what[256];
    s_what(pce, "GET", url, what, sizeof what);
    struct s_call c = { .method = "GET", .url = url, .what = what,
                        .respond_async = respond_async, .retry_5xx = true };
    unsigned retries = 0;
    enum fsg_err rc = s_send(pce, &c, resp, &retries, err);
    if (rc != FSG_OK) {
        return rc;
    }
    if (resp->status < 200 || resp->status > 299) {
        return s_status_error(pce, &c, resp, retries, err);
    }
    if (resp->status == 202 && respond_async) {
        return FSG_OK;
    }
    struct fsg_json_limits lim = { .max_bytes = pce->max_body_bytes };
    rc = fsg_json_load(fsg_span_from_buf(&resp->body), &lim, ret, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "%s: unusable JSON from the PCE (HTTP %d): ", what, resp->status);
        s_copy_request_id(resp, err);
    }
    return rc;
}

enum fsg_err fsg_pce_get(struct fsg_pce *pce, const char *href, json_t **ret_value,
                         struct fsg_error *err)
{
    char *url = NULL;
    struct fsg_http_response resp = { 0 };
    json_t *v = NULL;
    enum fsg_err rc = s_href_url(pce, href, &url, err);
    if (rc == FSG_OK) {
        rc = s_get_json(pce, url, false, &resp, &v, err);
    }
    if (rc == FSG_OK) {
        *ret_value = v;
    }
    fsg_http_response_clean_up(&resp);
    fsg_free(url);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Collections: sync, else an async job (ref §3) */

static enum fsg_err s_expect_array(json_t *v, const char *what, struct fsg_error *err)
{
    if (!json_is_array(v)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: the PCE returned a JSON %s where a "
                             "collection (array) was expected", what, fsg_json_type_name(v));
    }
    return FSG_OK;
}

/* Polls a job until "done" and returns its result href (a fresh string). */
static enum fsg_err s_wait_job(struct fsg_pce *pce, const char *job_url, uint64_t first_wait_ms,
                               char **ret_result_href, struct fsg_error *err)
{
    uint64_t waited_ms = 0;
    uint64_t wait_ms = first_wait_ms;
    for (;;) {
        if (waited_ms + wait_ms > pce->max_job_wait_ms) {
            return fsg_error_set(err, FSG_E_REMOTE, "async job %s did not finish within %llu s "
                                 "(pce.async_wait_s); the PCE may be overloaded, try again later "
                                 "or raise pce.async_wait_s", job_url + strlen(pce->base),
                                 (unsigned long long)(pce->max_job_wait_ms / 1000u));
        }
        /* The wait never outlives the run (issue 12: a job that never finishes kept a Lambda
         * past its deadline): give up before a sleep that would pass it. */
        if ((int64_t)wait_ms >= s_left_ms(pce)) {
            return fsg_error_set(err, FSG_E_CANCELLED, "async job %s still running after %llu s "
                                 "when the run's deadline came; the collection was not read",
                                 job_url + strlen(pce->base),
                                 (unsigned long long)(waited_ms / 1000u));
        }
        pce->sleep(wait_ms, pce->sleep_userdata);
        waited_ms += wait_ms;
        struct fsg_http_response resp = { 0 };
        json_t *job = NULL;
        enum fsg_err rc = s_get_json(pce, job_url, false, &resp, &job, err);
        uint64_t ra_ms = 0;
        bool has_ra = rc == FSG_OK &&
                      s_parse_retry_after(fsg_http_headers_get(&resp.headers, "Retry-After"),
                                          &ra_ms);
        if (rc == FSG_OK) {
            const char *status = json_string_value(json_object_get(job, "status"));
            json_t *result = json_object_get(job, "result");
            const char *href = json_is_string(result)
                                   ? json_string_value(result)
                                   : json_string_value(json_object_get(result, "href"));
            if (status == NULL) {
                rc = fsg_error_set(err, FSG_E_PARSE, "async job %s: answer without a status",
                                   job_url + strlen(pce->base));
            } else if (strcmp(status, "done") == 0 || strcmp(status, "completed") == 0) {
                if (href == NULL) {
                    rc = fsg_error_set(err, FSG_E_PARSE, "async job %s is %s but has no result "
                                       "href", job_url + strlen(pce->base), status);
                } else if ((*ret_result_href = fsg_strdup(href)) == NULL) {
                    rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
                } else {
                    json_decref(job);
                    fsg_http_response_clean_up(&resp);
                    return FSG_OK;
                }
            } else if (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0) {
                rc = fsg_error_set(err, FSG_E_REMOTE, "async job %s %s on the PCE; the "
                                   "collection could not be read", job_url + strlen(pce->base),
                                   status);
            }
            if (rc != FSG_OK) {
                s_copy_request_id(&resp, err);
            }
        }
        json_decref(job);
        fsg_http_response_clean_up(&resp);
        if (rc != FSG_OK) {
            return rc;
        }
        /* Still running: honour Retry-After, else back off x1.5. */
        wait_ms = has_ra ? ra_ms : wait_ms + wait_ms / 2;
        if (wait_ms == 0 && !has_ra) {
            wait_ms = S_JOB_POLL_FIRST_MS;
        }
        if (wait_ms > S_JOB_POLL_MAX_MS) {
            wait_ms = S_JOB_POLL_MAX_MS;
        }
    }
}

/* The async read of a collection whose sync answer said `total` objects: the datafile must
 * hold exactly that many (issue 11: a cut datafile was taken as whole and apply revoked the
 * rules of workloads still in the policy). */
static enum fsg_err s_async_collection(struct fsg_pce *pce, const char *url, const char *what,
                                       const char *name, uint64_t total, json_t **ret_array,
                                       struct fsg_error *err)
{
    struct fsg_http_response resp = { 0 };
    char *job_url = NULL;
    char *result_href = NULL;
    char *result_url = NULL;
    json_t *arr = NULL;
    enum fsg_err rc = s_get_json(pce, url, true, &resp, &arr, err);
    if (rc == FSG_OK && resp.status != 202) {
        rc = fsg_error_set(err, FSG_E_REMOTE, "%s: the PCE answered HTTP %d to an async "
                           "collection request (expected 202); the collection is incomplete",
                           what, resp.status);
        s_copy_request_id(&resp, err);
    }
    const char *loc = rc == FSG_OK ? fsg_http_headers_get(&resp.headers, "Location") : NULL;
    if (rc == FSG_OK && (loc == NULL || loc[0] == '\0')) {
        rc = fsg_error_set(err, FSG_E_PARSE, "%s: async answer (HTTP 202) without a Location "
                           "header", what);
        s_copy_request_id(&resp, err);
    }
    if (rc == FSG_OK) {
        rc = s_href_url(pce, loc, &job_url, err);
    }
    if (rc == FSG_OK) {
        uint64_t first_ms = S_JOB_POLL_FIRST_MS;
        (void)s_parse_retry_after(fsg_http_headers_get(&resp.headers, "Retry-After"), &first_ms);
        fsg_log(FSG_LOG_DEBUG, "pce: %s is truncated; async job %s", what,
                job_url + strlen(pce->base));
        rc = s_wait_job(pce, job_url, first_ms, &result_href, err);
    }
    if (rc == FSG_OK) {
        rc = s_href_url(pce, result_href, &result_url, err);
    }
    if (rc == FSG_OK) {
        json_decref(arr);
        arr = NULL;
        rc = s_get_json(pce, result_url, false, &resp, &arr, err);
    }
    if (rc == FSG_OK) {
        rc = s_expect_array(arr, what, err);
    }
    if (rc == FSG_OK && json_array_size(arr) != total) {
        rc = fsg_error_set(err, FSG_E_REMOTE, "PCE collection %s: got %zu of %llu items (async "
                           "job %s, datafile %.120s); the read is incomplete, so nothing was "
                           "changed: run again, and if it repeats check the PCE's job and "
                           "datafile health", name, json_array_size(arr),
                           (unsigned long long)total, job_url + strlen(pce->base), result_href);
        s_copy_request_id(&resp, err);
    }
    if (rc == FSG_OK) {
        *ret_array = arr;
        arr = NULL;
    }
    json_decref(arr);
    fsg_free(result_url);
    fsg_free(result_href);
    fsg_free(job_url);
    fsg_http_response_clean_up(&resp);
    return rc;
}

/* The collection's total from a sync answer's X-Total-Count (ref §3: the number of objects
 * matching, independent of the cap). Required: an answer without it cannot be verified
 * whole, and a collection is never assumed complete. */
static enum fsg_err s_total_count(const struct fsg_pce *pce, const struct fsg_http_response *resp,
                                  size_t got, const char *what, const char *name,
                                  uint64_t *ret_total, struct fsg_error *err)
{
    const char *tc = fsg_http_headers_get(&resp->headers, "X-Total-Count");
    uint64_t total = 0;
    enum fsg_err rc = FSG_OK;
    if (tc == NULL) {
        rc = fsg_error_set(err, FSG_E_REMOTE, "PCE collection %s: the answer to %s has no "
                           "X-Total-Count header, so it cannot be verified complete (%zu items "
                           "returned); nothing was changed: check that nothing between flowseg "
                           "and the PCE (a proxy, a load balancer) drops response headers",
                           name, what, got);
    } else if (fsg_span_to_u64(fsg_span_trim(fsg_span_from_cstr(tc)), &total) != FSG_OK) {
        char shown[64];
        fsg_redact_copy(tc, shown, sizeof shown);
        rc = fsg_error_set(err, FSG_E_PARSE, "%s: unusable X-Total-Count '%.40s'", what, shown);
    } else if (total < got) {
        rc = fsg_error_set(err, FSG_E_REMOTE, "PCE collection %s: %s returned %zu items but "
                           "X-Total-Count says %llu; the answer is inconsistent, nothing was "
                           "changed: run again", name, what, got, (unsigned long long)total);
    }
    if (rc != FSG_OK) {
        s_copy_request_id(resp, err);
        return rc;
    }
    *ret_total = total;
    return FSG_OK;
}

/* A collection's name for messages: the last path segment ("rule_sets"). */
static void s_collection_name(const char *path, char *out, size_t size)
{
    size_t n = strcspn(path, "?");
    while (n > 0 && path[n - 1] == '/') {
        n--;
    }
    size_t start = n;
    while (start > 0 && path[start - 1] != '/') {
        start--;
    }
    snprintf(out, size, "%.*s", (int)(n - start > 80 ? 80 : n - start), path + start);
}

enum fsg_err fsg_pce_get_collection(struct fsg_pce *pce, const char *path, json_t **ret_array,
                                    struct fsg_error *err)
{
    char *url = NULL;
    struct fsg_http_response resp = { 0 };
    json_t *arr = NULL;
    char what[256] = "";
    char name[96] = "";
    uint64_t total = 0;
    s_collection_name(path, name, sizeof name);
    enum fsg_err rc = s_href_url(pce, path, &url, err);
    if (rc == FSG_OK) {
        s_what(pce, "GET", url, what, sizeof what);
        rc = s_get_json(pce, url, false, &resp, &arr, err);
    }
    if (rc == FSG_OK) {
        rc = s_expect_array(arr, what, err);
    }
    if (rc == FSG_OK) {
        rc = s_total_count(pce, &resp, json_array_size(arr), what, name, &total, err);
    }
    if (rc == FSG_OK && total > json_array_size(arr)) {
        /* Truncated (the 500 cap, ref §3): the whole collection comes from an async job. */
        json_decref(arr);
        arr = NULL;
        rc = s_async_collection(pce, url, what, name, total, &arr, err);
    }
    if (rc == FSG_OK) {
        *ret_array = arr;
        arr = NULL;
    }
    json_decref(arr);
    fsg_http_response_clean_up(&resp);
    fsg_free(url);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* The exported policy bundle (CONTRACT.md "Exported policy file") */

/* The latest provisioned policy version: the highest "version" of GET /orgs/O/sec_policy
 * ("Get a list of all provisioned security policy versions", REST API guide, Provisioning -
 * Public Stable; read whole, so the order of the list does not matter). 0 = never provisioned. */
static enum fsg_err s_latest_version(struct fsg_pce *pce, long long *ret_version,
                                     struct fsg_error *err)
{
    char path[64];
    snprintf(path, sizeof path, "%s/sec_policy", pce->org_prefix);
    json_t *arr = NULL;
    enum fsg_err rc = fsg_pce_get_collection(pce, path, &arr, err);
    long long latest = 0;
    size_t i;
    json_t *v;
    json_array_foreach(rc == FSG_OK ? arr : NULL, i, v) {
        json_t *n = json_object_get(v, "version");
        if (!json_is_integer(n) || json_integer_value(n) <= 0) {
            rc = fsg_error_set(err, FSG_E_PARSE, "GET %s: policy version entry %zu has no "
                               "usable \"version\" (got %s)", path, i, fsg_json_type_name(n));
            break;
        }
        if (json_integer_value(n) > latest) {
            latest = (long long)json_integer_value(n);
        }
    }
    json_decref(arr);
    if (rc == FSG_OK) {
        *ret_version = latest;
    }
    return rc;
}

/* Walks every string of v: fails on a sec_policy href of another version than
 * "/sec_policy/<pv>/"; with rewrite, replaces "/sec_policy/<pv>/" by "/sec_policy/active/".
 * At a pinned numeric version, "/sec_policy/active/" hrefs are accepted too: which form a PCE
 * returns for a version read is not documented ([inferred] in shared/ref/pce-api.md §4); the
 * version list read again at the end is what detects a provision, this check only catches an
 * answer of another (numbered or draft) version. */
static enum fsg_err s_walk_hrefs(json_t *v, const char *pv, bool rewrite, const char *coll,
                                 struct fsg_error *err)
{
    if (json_is_string(v)) {
        const char *str = json_string_value(v);
        const char *at = strstr(str, "/sec_policy/");
        if (at == NULL || strncmp(str, "/orgs/", 6) != 0) {
            return FSG_OK;
        }
        char want[64];
        int wn = snprintf(want, sizeof want, "/sec_policy/%s/", pv);
        bool pinned = pv[0] >= '0' && pv[0] <= '9';
        if (pinned && strncmp(at, "/sec_policy/active/", 19) == 0) {
            return FSG_OK;
        }
        if (strncmp(at, want, (size_t)wn) != 0) {
            return fsg_error_set(err, FSG_E_CONFLICT, "PCE collection %s: %.200s is not of "
                                 "policy version %s: the read mixes policy versions, so nothing "
                                 "was changed: run again", coll, str, pv);
        }
        if (rewrite) {
            char *fixed = fsg_asprintf("%.*s/sec_policy/active/%s", (int)(at - str), str,
                                       at + wn);
            int bad = fixed == NULL || json_string_set(v, fixed) != 0;
            fsg_free(fixed);
            if (bad) {
                return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
            }
        }
        return FSG_OK;
    }
    enum fsg_err rc = FSG_OK;
    if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            if ((rc = s_walk_hrefs(item, pv, rewrite, coll, err)) != FSG_OK) {
                return rc;
            }
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *item;
        json_object_foreach(v, k, item) {
            if ((rc = s_walk_hrefs(item, pv, rewrite, coll, err)) != FSG_OK) {
                return rc;
            }
        }
    }
    return rc;
}

enum fsg_err fsg_pce_fetch_policy(struct fsg_pce *pce, bool active, json_t **ret_bundle,
                                  struct fsg_error *err)
{
    static const struct {
        const char *key;
        bool versioned;
        const char *query;
    } s_parts[] = {
        { "labels", false, "" },
        { "label_groups", true, "" },
        { "workloads", false, "" },
        { "rule_sets", true, "" },
        { "ip_lists", true, "" },
        { "services", true, "" },
        { "virtual_services", true,
          "?representation=virtual_service_labels_services_and_workloads" },
        /* Which workloads serve each virtual service, on which ports (port_overrides): the
         * compiler takes a rule's ports toward a virtual service from here (policy/compile.h).
         * Not a policy object, so not versioned (REST API guide, "Service Bindings"). */
        { "service_bindings", false, "" },
    };
    char pv[32] = "draft";
    long long version = 0;
    json_t *bundle = json_object();
    enum fsg_err rc = bundle != NULL ? FSG_OK : fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    if (rc == FSG_OK && active) {
        /* Pin one version: "active" may move between two collection reads. */
        rc = s_latest_version(pce, &version, err);
        if (rc != FSG_OK) {
            fsg_error_prefix(err, "reading the latest policy version from the PCE: ");
        } else if (version > 0) {
            snprintf(pv, sizeof pv, "%lld", version);
        } else {
            snprintf(pv, sizeof pv, "active"); /* never provisioned: nothing to pin */
        }
    }
    for (size_t i = 0; rc == FSG_OK && i < sizeof s_parts / sizeof s_parts[0]; i++) {
        char path[200];
        snprintf(path, sizeof path, "%s%s%s/%s%s", pce->org_prefix,
                 s_parts[i].versioned ? "/sec_policy/" : "", s_parts[i].versioned ? pv : "",
                 s_parts[i].key, s_parts[i].query);
        json_t *arr = NULL;
        rc = fsg_pce_get_collection(pce, path, &arr, err);
        if (rc == FSG_OK && s_parts[i].versioned) {
            rc = s_walk_hrefs(arr, pv, false, s_parts[i].key, err);
        }
        if (rc == FSG_OK && json_object_set_new(bundle, s_parts[i].key, arr) != 0) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
        } else if (rc != FSG_OK) {
            json_decref(arr);
        }
        if (rc != FSG_OK) {
            /* "reading labels", "reading policy version 7 rule_sets", "reading draft ..." */
            bool num = active && version > 0;
            fsg_error_prefix(err, "reading %s%s%s%s from the PCE: ",
                             !s_parts[i].versioned ? "" : num ? "policy version " : "",
                             s_parts[i].versioned ? pv : "", s_parts[i].versioned ? " " : "",
                             s_parts[i].key);
        }
    }
    if (rc == FSG_OK && active) {
        /* A provision during the read: the pinned version is no longer the latest. */
        long long after = 0;
        rc = s_latest_version(pce, &after, err);
        if (rc != FSG_OK) {
            fsg_error_prefix(err, "reading the latest policy version from the PCE again: ");
        } else if (after != version) {
            rc = fsg_error_set(err, FSG_E_CONFLICT, "the PCE provisioned policy version %lld "
                               "while flowseg read version %lld%s: the read is not of the "
                               "policy in force, so nothing was changed: run again", after,
                               version, version == 0 ? " (none provisioned yet)" : "");
        }
    }
    for (size_t i = 0; rc == FSG_OK && active && version > 0 &&
                       i < sizeof s_parts / sizeof s_parts[0]; i++) {
        if (s_parts[i].versioned) {
            rc = s_walk_hrefs(json_object_get(bundle, s_parts[i].key), pv, true,
                              s_parts[i].key, err);
        }
    }
    if (rc == FSG_OK) {
        json_t *ver = !active ? json_string("draft")
                              : version > 0 ? json_string(pv) : json_null();
        if (ver == NULL || json_object_set_new(bundle, FSG_PCE_BUNDLE_VERSION_KEY, ver) != 0) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
        }
    }
    if (rc == FSG_OK) {
        fsg_log(FSG_LOG_DEBUG, "pce: read policy version %s in %llu requests", pv,
                (unsigned long long)pce->requests);
        *ret_bundle = bundle;
        bundle = NULL;
    }
    json_decref(bundle);
    return rc;
}

enum fsg_err fsg_pce_bundle_version(const json_t *bundle, const char **ret,
                                    struct fsg_error *err)
{
    const json_t *v = json_object_get(bundle, FSG_PCE_BUNDLE_VERSION_KEY);
    if (v == NULL || json_is_null(v)) {
        *ret = NULL;
        return FSG_OK;
    }
    if (!json_is_string(v)) {
        return fsg_error_set(err, FSG_E_PARSE, "\"%s\": expected a string or null, got %s",
                             FSG_PCE_BUNDLE_VERSION_KEY, fsg_json_type_name(v));
    }
    *ret = json_string_value(v);
    return FSG_OK;
}

enum fsg_err fsg_pce_save_bundle(const json_t *bundle, const char *path, struct fsg_error *err)
{
    if (bundle == NULL || path == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "save policy: missing bundle or path");
    }
    struct fsg_buf text = FSG_BUF_INIT;
    char *tmp = fsg_asprintf("%s.tmp.%ld", path, (long)getpid());
    FILE *f = NULL;
    enum fsg_err rc = tmp != NULL ? FSG_OK : fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    if (rc == FSG_OK) {
        rc = fsg_json_dump(bundle, JSON_INDENT(1) | JSON_PRESERVE_ORDER, &text);
        if (rc != FSG_OK) {
            rc = fsg_error_set(err, rc, "%s: cannot serialise the policy", path);
        }
    }
    if (rc == FSG_OK && (f = fopen(tmp, "wb")) == NULL) {
        rc = fsg_error_set(err, FSG_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    if (rc == FSG_OK && (fwrite(text.ptr, 1, text.len, f) != text.len || fputc('\n', f) == EOF)) {
        rc = fsg_error_set(err, FSG_E_IO, "%s: write failed: %s", tmp, strerror(errno));
    }
    if (f != NULL && fclose(f) != 0 && rc == FSG_OK) {
        rc = fsg_error_set(err, FSG_E_IO, "%s: write failed: %s", tmp, strerror(errno));
    }
    if (rc == FSG_OK && rename(tmp, path) != 0) {
        rc = fsg_error_set(err, FSG_E_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    if (rc != FSG_OK && tmp != NULL) {
        (void)unlink(tmp);
    }
    fsg_free(tmp);
    fsg_buf_clean_up(&text);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Bulk traffic upload (ref §7) */

static size_t s_count_lines(struct fsg_span csv)
{
    size_t pos = 0;
    size_t n = 0;
    struct fsg_span line;
    while (fsg_span_next_split(csv, '\n', &pos, &line)) {
        if (fsg_span_trim(line).len > 0) {
            n++;
        }
    }
    return n;
}

static enum fsg_err s_get_count(json_t *obj, const char *key, const char *what, uint64_t *ret,
                                struct fsg_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: the PCE answer has no usable %s (got %s)",
                             what, key, fsg_json_type_name(v));
    }
    *ret = (uint64_t)json_integer_value(v);
    return FSG_OK;
}

enum fsg_err fsg_pce_post_traffic(struct fsg_pce *pce, struct fsg_span csv,
                                  uint64_t *ret_received, uint64_t *ret_failed,
                                  struct fsg_error *err)
{
    size_t lines = s_count_lines(csv);
    if (lines > FSG_PCE_BULK_MAX_ITEMS) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "%zu flows in one bulk upload; the PCE takes "
                             "at most %d per request", lines, FSG_PCE_BULK_MAX_ITEMS);
    }
    if (lines == 0) {
        if (ret_received != NULL) {
            *ret_received = 0;
        }
        if (ret_failed != NULL) {
            *ret_failed = 0;
        }
        return FSG_OK;
    }
    char *url = fsg_asprintf("%s%s/agents/bulk_traffic_flows", pce->base, pce->org_prefix);
    if (url == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    char what[128];
    s_what(pce, "POST", url, what, sizeof what);
    struct s_call c = { .method = "POST", .url = url, .what = what, .content_type = "text/csv",
                        .body = csv };
    struct fsg_http_response resp = { 0 };
    json_t *v = NULL;
    unsigned retries = 0;
    uint64_t received = 0;
    uint64_t failed = 0;
    enum fsg_err rc = s_send(pce, &c, &resp, &retries, err);
    if (rc == FSG_OK && (resp.status < 200 || resp.status > 299)) {
        rc = s_status_error(pce, &c, &resp, retries, err);
    }
    if (rc == FSG_OK) {
        struct fsg_json_limits lim = { .max_bytes = pce->max_body_bytes };
        rc = fsg_json_load(fsg_span_from_buf(&resp.body), &lim, &v, err);
        if (rc != FSG_OK) {
            fsg_error_prefix(err, "%s: unusable JSON from the PCE: ", what);
        }
    }
    if (rc == FSG_OK) {
        rc = s_get_count(v, "num_flows_received", what, &received, err);
    }
    if (rc == FSG_OK) {
        rc = s_get_count(v, "num_flows_failed", what, &failed, err);
    }
    if (rc != FSG_OK) {
        s_copy_request_id(&resp, err);
    } else {
        if (ret_received != NULL) {
            *ret_received = received;
        }
        if (ret_failed != NULL) {
            *ret_failed = failed;
        }
    }
    json_decref(v);
    fsg_http_response_clean_up(&resp);
    fsg_free(url);
    return rc;
}
