#include "lib/aws/lambda.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsg_config.h"
#include "lib/http/http.h"
#include "lib/core/json.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"

/* https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html (ref/aws-wire.md §3.3). */
#define S_API_PATH "/2018-06-01/runtime"
#define S_USER_AGENT "flowseg/" FSG_VERSION
/* Lambda's buffered response limit: a larger body fails the invocation anyway. */
#define S_MAX_RESPONSE_BYTES ((size_t)6 << 20)
/* aws-lambda-cpp: the runtime API is local, one second to connect is plenty. */
#define S_CONNECT_TIMEOUT_MS 1000L
/* aws-lambda-cpp retries `next` up to 3 times on a transport failure. */
#define S_DEFAULT_NEXT_FAILURES 3u
#define S_DEFAULT_RETRY_DELAY_MS 100L
/* host:port: a DNS name is at most 253 bytes, then ":65535". */
#define S_MAX_RUNTIME_API_BYTES 300
/* Request ids are UUIDs (36 bytes); a much longer one did not come from Lambda. */
#define S_MAX_REQUEST_ID_BYTES 256
/* 10^12 ms is 2001-09-09: a smaller "deadline" is a unit mistake (seconds). */
#define S_MIN_DEADLINE_MS INT64_C(1000000000000)
/* 9999-12-31T23:59:59.999Z: keeps all deadline arithmetic far from overflow. */
#define S_MAX_DEADLINE_MS INT64_C(253402300799999)
/* How much of a received value goes into an error message. */
#define S_QUOTE_BYTES 48

struct fsg_lambda {
    char *base_url; /* "http://host:port/2018-06-01/runtime" */
    struct fsg_http_client *client;
    bool owns_client;
    unsigned max_next_failures;
    long retry_delay_ms;
    fsg_lambda_sleep_fn *sleep;
    void *sleep_userdata;
    unsigned long max_invocations;
    unsigned long invocations;
};

/* Printable ASCII only, at most S_QUOTE_BYTES: received bytes stay one valid line. */
static const char *s_quote(struct fsg_span s, char *out, size_t out_size)
{
    size_t n = 0;
    for (; n < s.len && n < S_QUOTE_BYTES && n + 4 < out_size; n++) {
        uint8_t c = s.ptr[n];
        out[n] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n < s.len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

static enum fsg_err s_check_runtime_api(const char *api, struct fsg_error *err)
{
    size_t n = api != NULL ? strlen(api) : 0;
    if (n == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "the Lambda runtime API address is empty (AWS_LAMBDA_RUNTIME_API, "
                             "host:port)");
    }
    if (n > S_MAX_RUNTIME_API_BYTES) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "the Lambda runtime API address is %zu bytes long, not host:port", n);
    }
    for (size_t i = 0; i < n; i++) {
        char c = api[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_';
        if (!ok) {
            char q[S_QUOTE_BYTES + 4];
            return fsg_error_set(err, FSG_E_INVALID_ARG,
                                 "the Lambda runtime API address '%s' is not host:port",
                                 s_quote(fsg_span_from_cstr(api), q, sizeof q));
        }
    }
    return FSG_OK;
}

enum fsg_err fsg_lambda_new(const struct fsg_lambda_options *opts, struct fsg_lambda **ret_rt,
                            struct fsg_error *err)
{
    enum fsg_err rc = s_check_runtime_api(opts != NULL ? opts->runtime_api : NULL, err);
    if (rc != FSG_OK) {
        return rc;
    }
    struct fsg_lambda *rt = fsg_calloc(1, sizeof *rt);
    struct fsg_buf url = FSG_BUF_INIT;
    if (rt == NULL || fsg_buf_printf(&url, "http://%s" S_API_PATH, opts->runtime_api) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory creating the Lambda runtime client");
        goto out;
    }
    rt->base_url = fsg_buf_strdup(&url);
    if (rt->base_url == NULL) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory creating the Lambda runtime client");
        goto out;
    }
    rt->max_next_failures = opts->max_next_failures != 0 ? opts->max_next_failures
                                                         : S_DEFAULT_NEXT_FAILURES;
    rt->retry_delay_ms = opts->retry_delay_ms != 0 ? opts->retry_delay_ms
                                                   : S_DEFAULT_RETRY_DELAY_MS;
    rt->sleep = opts->sleep;
    rt->sleep_userdata = opts->sleep_userdata;
    rt->max_invocations = opts->max_invocations;
    if (opts->client != NULL) {
        rt->client = opts->client;
    } else {
        /* No read timeout and no overall timeout: `next` blocks while the environment is
         * frozen between invocations. */
        struct fsg_http_client_options copts = { .connect_timeout_ms = S_CONNECT_TIMEOUT_MS,
                                                 .read_timeout_ms = -1,
                                                 .request_timeout_ms = -1 };
        rc = fsg_http_client_new(&copts, &rt->client, err);
        if (rc != FSG_OK) {
            goto out;
        }
        rt->owns_client = true;
    }
    *ret_rt = rt;
    rt = NULL;

out:
    fsg_lambda_destroy(rt);
    fsg_buf_clean_up(&url);
    return rc;
}

void fsg_lambda_destroy(struct fsg_lambda *rt)
{
    if (rt == NULL) {
        return;
    }
    if (rt->owns_client) {
        fsg_http_client_destroy(rt->client);
    }
    fsg_free(rt->base_url);
    fsg_free(rt);
}

unsigned long fsg_lambda_invocations(const struct fsg_lambda *rt)
{
    return rt->invocations;
}

void fsg_lambda_invocation_clean_up(struct fsg_lambda_invocation *inv)
{
    if (inv == NULL) {
        return;
    }
    fsg_free(inv->request_id);
    fsg_free(inv->deadline_raw);
    fsg_free(inv->function_arn);
    fsg_free(inv->trace_id);
    fsg_buf_clean_up(&inv->event);
    *inv = (struct fsg_lambda_invocation){ 0 };
}

/* base_url + "/invocation/" + id (percent-encoded: it comes from the network) + suffix. */
static enum fsg_err s_invocation_url(const struct fsg_lambda *rt, const char *request_id,
                                     const char *suffix, struct fsg_buf *url)
{
    enum fsg_err rc = fsg_buf_printf(url, "%s/invocation/", rt->base_url);
    for (const char *p = request_id; rc == FSG_OK && *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~';
        rc = plain ? fsg_buf_append_byte(url, c) : fsg_buf_printf(url, "%%%02X", c);
    }
    return rc == FSG_OK ? fsg_buf_append_cstr(url, suffix) : rc;
}

static enum fsg_err s_send(struct fsg_lambda *rt, const char *method, const char *url,
                           const char *error_type, struct fsg_span body,
                           struct fsg_http_response *resp, struct fsg_error *err)
{
    struct fsg_http_request req = { .method = method, .url = url, .body = body };
    enum fsg_err rc = fsg_http_headers_add(&req.headers, "User-Agent", S_USER_AGENT);
    if (rc == FSG_OK && strcmp(method, "POST") == 0) {
        rc = fsg_http_headers_add(&req.headers, "Content-Type", "application/json");
    }
    if (rc == FSG_OK && error_type != NULL) {
        rc = fsg_http_headers_add(&req.headers, "Lambda-Runtime-Function-Error-Type", error_type);
    }
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory building a runtime API request");
    } else {
        rc = fsg_http_send(rt->client, &req, resp, NULL, NULL, err);
    }
    fsg_http_request_clean_up(&req);
    return rc;
}

/* Maps the status of a POST to the runtime API (202 Accepted expected). */
static enum fsg_err s_post_status(const struct fsg_http_response *resp, const char *what,
                                  struct fsg_error *err)
{
    if (resp->status >= 200 && resp->status < 300) {
        return FSG_OK;
    }
    char q[S_QUOTE_BYTES + 4];
    const char *body = s_quote(fsg_span_from_buf(&resp->body), q, sizeof q);
    enum fsg_err rc;
    if (resp->status == 413) {
        rc = fsg_error_set(err, FSG_E_LIMIT, "%s: the runtime API refused the payload as too "
                           "large (HTTP 413): %s", what, body);
    } else if (resp->status >= 400 && resp->status < 500) {
        rc = fsg_error_set(err, FSG_E_REJECTED, "%s: the runtime API answered HTTP %d: %s", what,
                           resp->status, body);
    } else {
        rc = fsg_error_set(err, FSG_E_REMOTE,
                           "%s: the runtime API answered HTTP %d (a container error: the runtime "
                           "must exit): %s",
                           what, resp->status, body);
    }
    if (err != NULL) {
        err->http_status = resp->status;
    }
    return rc;
}

static enum fsg_err s_dup_header(const struct fsg_http_response *resp, const char *name,
                                 char **ret)
{
    const char *v = fsg_http_headers_get(&resp->headers, name);
    if (v == NULL) {
        *ret = NULL;
        return FSG_OK;
    }
    *ret = fsg_strdup(v);
    return *ret != NULL ? FSG_OK : FSG_E_NOMEM;
}

static enum fsg_err s_fill_invocation(struct fsg_http_response *resp,
                                      struct fsg_lambda_invocation *inv, struct fsg_error *err)
{
    const char *id = fsg_http_headers_get(&resp->headers, "Lambda-Runtime-Aws-Request-Id");
    if (id == NULL || id[0] == '\0') {
        return fsg_error_set(err, FSG_E_PARSE,
                             "runtime API next: response without Lambda-Runtime-Aws-Request-Id");
    }
    if (strlen(id) > S_MAX_REQUEST_ID_BYTES) {
        return fsg_error_set(err, FSG_E_PARSE,
                             "runtime API next: Lambda-Runtime-Aws-Request-Id is %zu bytes long",
                             strlen(id));
    }
    enum fsg_err rc = s_dup_header(resp, "Lambda-Runtime-Aws-Request-Id", &inv->request_id);
    if (rc == FSG_OK) {
        rc = s_dup_header(resp, "Lambda-Runtime-Deadline-Ms", &inv->deadline_raw);
    }
    if (rc == FSG_OK) {
        rc = s_dup_header(resp, "Lambda-Runtime-Invoked-Function-Arn", &inv->function_arn);
    }
    if (rc == FSG_OK) {
        rc = s_dup_header(resp, "Lambda-Runtime-Trace-Id", &inv->trace_id);
    }
    if (rc != FSG_OK) {
        return fsg_error_set(err, rc, "out of memory reading an invocation");
    }
    int64_t ms;
    if (inv->deadline_raw != NULL &&
        fsg_lambda_parse_deadline(fsg_span_from_cstr(inv->deadline_raw), &ms, NULL) == FSG_OK) {
        inv->deadline_ms = ms;
    }
    inv->event = resp->body; /* moved: the payload is not copied */
    resp->body = FSG_BUF_INIT;
    return FSG_OK;
}

enum fsg_err fsg_lambda_next(struct fsg_lambda *rt, struct fsg_lambda_invocation *ret_inv,
                             struct fsg_error *err)
{
    struct fsg_buf url = FSG_BUF_INIT;
    struct fsg_http_response resp = { 0 };
    struct fsg_lambda_invocation inv = { 0 };
    enum fsg_err rc = fsg_buf_printf(&url, "%s/invocation/next", rt->base_url);
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory building a runtime API request");
        goto out;
    }
    rc = s_send(rt, "GET", fsg_buf_cstr(&url), NULL, FSG_SPAN_NULL, &resp, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "runtime API next: ");
        goto out;
    }
    if (resp.status != 200) {
        char q[S_QUOTE_BYTES + 4];
        rc = fsg_error_set(err, FSG_E_REMOTE, "runtime API next: HTTP %d: %s", resp.status,
                           s_quote(fsg_span_from_buf(&resp.body), q, sizeof q));
        if (err != NULL) {
            err->http_status = resp.status;
        }
        goto out;
    }
    rc = s_fill_invocation(&resp, &inv, err);
    if (rc != FSG_OK) {
        goto out;
    }
    *ret_inv = inv;
    inv = (struct fsg_lambda_invocation){ 0 };

out:
    fsg_lambda_invocation_clean_up(&inv);
    fsg_http_response_clean_up(&resp);
    fsg_buf_clean_up(&url);
    return rc;
}

static enum fsg_err s_post(struct fsg_lambda *rt, const char *url, const char *error_type,
                           struct fsg_span body, const char *what, struct fsg_error *err)
{
    struct fsg_http_response resp = { 0 };
    enum fsg_err rc = s_send(rt, "POST", url, error_type, body, &resp, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "%s: ", what);
    } else {
        rc = s_post_status(&resp, what, err);
    }
    fsg_http_response_clean_up(&resp);
    return rc;
}

enum fsg_err fsg_lambda_post_response(struct fsg_lambda *rt,
                                      const struct fsg_lambda_invocation *inv,
                                      struct fsg_span json, struct fsg_error *err)
{
    if (json.len > S_MAX_RESPONSE_BYTES) {
        return fsg_error_set(err, FSG_E_LIMIT,
                             "invocation response is %zu bytes, Lambda accepts at most %zu",
                             json.len, S_MAX_RESPONSE_BYTES);
    }
    struct fsg_buf url = FSG_BUF_INIT;
    enum fsg_err rc = s_invocation_url(rt, inv->request_id, "/response", &url);
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory building a runtime API request");
    } else {
        rc = s_post(rt, fsg_buf_cstr(&url), NULL, json, "runtime API response", err);
    }
    fsg_buf_clean_up(&url);
    return rc;
}

/* jansson refuses strings that are not UTF-8; a message is then sent as printable ASCII. */
static json_t *s_json_text(const char *s)
{
    json_t *v = json_string(s);
    if (v != NULL) {
        return v;
    }
    char *copy = fsg_strdup(s);
    if (copy == NULL) {
        return NULL;
    }
    for (char *p = copy; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        *p = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    v = json_string(copy);
    fsg_free(copy);
    return v;
}

/* {"errorMessage": ..., "errorType": ..., "stackTrace": []} */
static enum fsg_err s_error_body(const char *error_type, const struct fsg_error *detail,
                                 struct fsg_buf *out)
{
    char msg[sizeof detail->msg + 256];
    int n = snprintf(msg, sizeof msg, "%s",
                     detail->msg[0] != '\0' ? detail->msg : fsg_err_str(detail->code));
    size_t used = n > 0 && (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    if (detail->http_status != 0 || detail->service_code[0] != '\0') {
        n = snprintf(msg + used, sizeof msg - used, " (HTTP %d%s%s)", detail->http_status,
                     detail->service_code[0] != '\0' ? " " : "", detail->service_code);
        used = n > 0 && (size_t)n < sizeof msg - used ? used + (size_t)n : sizeof msg - 1;
    }
    if (detail->request_id[0] != '\0') {
        snprintf(msg + used, sizeof msg - used, " [request id %s]", detail->request_id);
    }
    json_t *root = json_object();
    json_t *m = s_json_text(msg);
    json_t *t = s_json_text(error_type);
    json_t *trace = json_array();
    enum fsg_err rc = FSG_E_NOMEM;
    if (root != NULL && m != NULL && t != NULL && trace != NULL &&
        json_object_set(root, "errorMessage", m) == 0 &&
        json_object_set(root, "errorType", t) == 0 &&
        json_object_set(root, "stackTrace", trace) == 0) {
        rc = fsg_json_dump(root, JSON_COMPACT, out);
    }
    json_decref(trace);
    json_decref(t);
    json_decref(m);
    json_decref(root);
    return rc;
}

static enum fsg_err s_post_error_to(struct fsg_lambda *rt, const char *url,
                                    const char *error_type, const struct fsg_error *detail,
                                    const char *what, struct fsg_error *err)
{
    struct fsg_buf body = FSG_BUF_INIT;
    enum fsg_err rc = s_error_body(error_type, detail, &body);
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory building an error report");
    } else {
        rc = s_post(rt, url, error_type, fsg_span_from_buf(&body), what, err);
    }
    fsg_buf_clean_up(&body);
    return rc;
}

enum fsg_err fsg_lambda_post_error(struct fsg_lambda *rt, const struct fsg_lambda_invocation *inv,
                                   const char *error_type, const struct fsg_error *detail,
                                   struct fsg_error *err)
{
    struct fsg_buf url = FSG_BUF_INIT;
    enum fsg_err rc = s_invocation_url(rt, inv->request_id, "/error", &url);
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory building a runtime API request");
    } else {
        rc = s_post_error_to(rt, fsg_buf_cstr(&url), error_type, detail, "runtime API error",
                             err);
    }
    fsg_buf_clean_up(&url);
    return rc;
}

enum fsg_err fsg_lambda_post_init_error(struct fsg_lambda *rt, const char *error_type,
                                        const struct fsg_error *detail, struct fsg_error *err)
{
    struct fsg_buf url = FSG_BUF_INIT;
    enum fsg_err rc = fsg_buf_printf(&url, "%s/init/error", rt->base_url);
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory building a runtime API request");
    } else {
        rc = s_post_error_to(rt, fsg_buf_cstr(&url), error_type, detail,
                             "runtime API init error", err);
    }
    fsg_buf_clean_up(&url);
    return rc;
}

static void s_export_trace(const struct fsg_lambda_invocation *inv)
{
    /* Cleared when absent so one invocation's trace never leaks into the next. */
    if (inv->trace_id != NULL) {
        (void)setenv("_X_AMZN_TRACE_ID", inv->trace_id, 1);
    } else {
        (void)unsetenv("_X_AMZN_TRACE_ID");
    }
}

/* Runs the handler (unless the deadline header is invalid) and posts its answer. Returns
 * FSG_OK when the runtime can go on with the next invocation. */
static enum fsg_err s_invoke(struct fsg_lambda *rt, const struct fsg_lambda_invocation *inv,
                             fsg_lambda_handler_fn *handler, void *userdata, struct fsg_error *err)
{
    struct fsg_buf out = FSG_BUF_INIT;
    struct fsg_error detail = { 0 };
    char type[64];
    enum fsg_err rc;
    int64_t ms;

    s_export_trace(inv);
    if (inv->deadline_raw != NULL && inv->deadline_ms == 0 &&
        fsg_lambda_parse_deadline(fsg_span_from_cstr(inv->deadline_raw), &ms, &detail) != FSG_OK) {
        snprintf(type, sizeof type, "Runtime.InvalidDeadline");
    } else {
        enum fsg_err hrc = handler(inv, &out, &detail, userdata);
        if (hrc == FSG_OK) {
            rc = fsg_lambda_post_response(rt, inv, fsg_span_from_buf(&out), err);
            if (rc != FSG_E_LIMIT) {
                goto out;
            }
            detail = *err; /* too large: the invocation fails with that reason instead */
            snprintf(type, sizeof type, "Function.ResponseSizeTooLarge");
        } else {
            if (detail.code == FSG_OK) {
                (void)fsg_error_set(&detail, hrc, "%s", fsg_err_str(hrc));
            }
            snprintf(type, sizeof type, "Function.%s", fsg_err_name(hrc));
        }
    }
    fsg_log(FSG_LOG_DEBUG, "invocation %s failed: %s: %s", inv->request_id, type, detail.msg);
    rc = fsg_lambda_post_error(rt, inv, type, &detail, err);

out:
    rt->invocations++;
    if (rc == FSG_E_REJECTED || rc == FSG_E_LIMIT) {
        /* The API refused this one answer (already answered, expired, too large): the
         * invocation is lost, but the runtime is fine. Nobody else can report it. */
        fsg_log(FSG_LOG_WARN, "invocation %s: %s", inv->request_id, err->msg);
        rc = FSG_OK;
    }
    fsg_buf_clean_up(&out);
    return rc;
}

static void s_pause(const struct fsg_lambda *rt)
{
    if (rt->retry_delay_ms <= 0) {
        return;
    }
    if (rt->sleep != NULL) {
        rt->sleep(rt->retry_delay_ms, rt->sleep_userdata);
        return;
    }
    struct timespec ts = { .tv_sec = rt->retry_delay_ms / 1000,
                           .tv_nsec = (rt->retry_delay_ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {
        /* interrupted by a signal: sleep the rest */
    }
}

enum fsg_err fsg_lambda_run(struct fsg_lambda *rt, fsg_lambda_handler_fn *handler,
                            void *userdata, struct fsg_error *err)
{
    struct fsg_error local = { 0 };
    if (err == NULL) {
        err = &local; /* s_invoke reads the detail of a refused post */
    }
    unsigned failures = 0;
    for (;;) {
        if (rt->max_invocations != 0 && rt->invocations >= rt->max_invocations) {
            return FSG_OK;
        }
        struct fsg_lambda_invocation inv = { 0 };
        enum fsg_err rc = fsg_lambda_next(rt, &inv, err);
        if (rc != FSG_OK) {
            if (fsg_err_is_retryable(rc) && ++failures < rt->max_next_failures) {
                fsg_log(FSG_LOG_DEBUG, "%s (attempt %u of %u)", err->msg, failures,
                        rt->max_next_failures);
                s_pause(rt);
                continue;
            }
            return rc;
        }
        failures = 0;
        rc = s_invoke(rt, &inv, handler, userdata, err);
        fsg_lambda_invocation_clean_up(&inv);
        if (rc != FSG_OK) {
            return rc;
        }
    }
}

enum fsg_err fsg_lambda_parse_deadline(struct fsg_span value, int64_t *ret_ms,
                                       struct fsg_error *err)
{
    char q[S_QUOTE_BYTES + 4];
    struct fsg_span v = fsg_span_trim(value);
    uint64_t ms;
    if (v.len == 0) {
        return fsg_error_set(err, FSG_E_PARSE, "Lambda-Runtime-Deadline-Ms is empty");
    }
    if (fsg_span_to_u64(v, &ms) != FSG_OK) {
        return fsg_error_set(err, FSG_E_PARSE,
                             "Lambda-Runtime-Deadline-Ms '%s' is not a decimal number of "
                             "milliseconds",
                             s_quote(v, q, sizeof q));
    }
    if (ms < (uint64_t)S_MIN_DEADLINE_MS) {
        return fsg_error_set(err, FSG_E_PARSE,
                             "Lambda-Runtime-Deadline-Ms '%s' is before 2001: not Unix epoch "
                             "milliseconds (seconds?)",
                             s_quote(v, q, sizeof q));
    }
    if (ms > (uint64_t)S_MAX_DEADLINE_MS) {
        return fsg_error_set(err, FSG_E_PARSE,
                             "Lambda-Runtime-Deadline-Ms '%s' is after the year 9999",
                             s_quote(v, q, sizeof q));
    }
    *ret_ms = (int64_t)ms;
    return FSG_OK;
}

int64_t fsg_lambda_remaining_ms(const struct fsg_lambda_invocation *inv, int64_t now_ms)
{
    if (inv->deadline_ms <= 0) {
        return INT64_MAX;
    }
    if (now_ms < inv->deadline_ms - INT64_MAX) {
        return INT64_MAX; /* absurd clock: no overflow */
    }
    return inv->deadline_ms - now_ms;
}

int64_t fsg_lambda_now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return 0;
    }
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
