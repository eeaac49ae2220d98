/* The AWS request pipeline: sign -> send -> classify -> retry. See lib/aws/aws.h. */
#include "lib/aws/aws.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/aws/aws_env.h"
#include "lib/aws/aws_xml.h"
#include "lib/aws/creds.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"
#include "lib/aws/sigv4.h"

#define S_FORM_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define S_JSON_CONTENT_TYPE "application/x-amz-json-1.1"

/* The process-wide bucket -> region cache (see fsg_aws_bucket_region_get). */
struct s_bucket_region {
    char bucket[64];  /* S3 bucket names are at most 63 bytes; "" = free slot */
    char region[32];
};
static pthread_mutex_t s_bucket_regions_lock = PTHREAD_MUTEX_INITIALIZER;
static struct s_bucket_region s_bucket_regions[FSG_AWS_BUCKET_REGION_CACHE];
static unsigned s_bucket_regions_next; /* ring position of the next slot to fill */

struct fsg_aws_client {
    char *service;
    char *region;
    bool region_configured;
    struct fsg_buf endpoint; /* no trailing slash */
    bool path_style;
    struct fsg_http_client *http;
    bool owns_http;
    struct fsg_creds_provider *creds;
    bool owns_creds;
    struct fsg_credentials held; /* this client's copy of the provider's credentials */
    fsg_aws_creds_fn *creds_fn;
    void *creds_userdata;
    struct fsg_retry_policy retry;
    fsg_aws_clock_fn *clock;
    void *clock_userdata;
    bool last_uncertain;         /* see fsg_aws_client_last_call_uncertain */
    const volatile sig_atomic_t *stop; /* borrowed; see fsg_aws_client_set_stop */
};

bool fsg_aws_client_last_call_uncertain(const struct fsg_aws_client *c)
{
    return c != NULL && c->last_uncertain;
}

bool fsg_aws_client_stop_requested(const struct fsg_aws_client *c)
{
    return c != NULL && c->stop != NULL && *c->stop != 0;
}

const volatile sig_atomic_t *fsg_aws_client_set_stop(struct fsg_aws_client *c,
                                                     const volatile sig_atomic_t *stop)
{
    if (c == NULL) {
        return NULL;
    }
    const volatile sig_atomic_t *was = c->stop;
    c->stop = stop;
    return was;
}

/* ---------------------------------------------------------------------------------------- */
/* Classification: ref/aws-wire.md §5.1 and §6.3. */

static const char *const s_auth_codes[] = {
    "AuthFailure", "SignatureDoesNotMatch", "IncompleteSignature", "InvalidClientTokenId",
    "ExpiredToken", "ExpiredTokenException", "UnauthorizedOperation", "AccessDenied",
    "AccessDeniedException", "InvalidAccessKeyId", "UnrecognizedClientException",
    "MissingAuthenticationToken", "RequestExpired", "RequestTimeTooSkewed",
    "TokenRefreshRequired", "InvalidToken", "OptInRequired", "AuthorizationHeaderMalformed",
    "NotAuthorized", "AccountProblem", "Blocked",
};

static bool s_in(const char *code, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(code, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool s_is_expired_token(const char *code)
{
    return strcmp(code, "ExpiredToken") == 0 || strcmp(code, "ExpiredTokenException") == 0 ||
           strcmp(code, "TokenRefreshRequired") == 0;
}

static enum fsg_err s_classify_code(const char *code)
{
    if (fsg_retry_is_throttling_code(code)) {
        return FSG_E_THROTTLED;
    }
    if (s_in(code, s_auth_codes, sizeof s_auth_codes / sizeof s_auth_codes[0])) {
        return FSG_E_AUTH;
    }
    if (s_ends_with(code, "NotFound") || s_ends_with(code, "NotFoundFault") ||
        s_ends_with(code, "NotFoundException") ||
        strncmp(code, "NoSuch", 6) == 0) {
        return FSG_E_NOT_FOUND;
    }
    if (s_ends_with(code, ".Duplicate") || s_ends_with(code, "AlreadyExists") ||
        s_ends_with(code, "AlreadyExistsFault") || strcmp(code, "PreconditionFailed") == 0) {
        return FSG_E_CONFLICT;
    }
    if (strncmp(code, "InvalidParameter", 16) == 0 || strcmp(code, "MissingParameter") == 0 ||
        strcmp(code, "ValidationError") == 0 || s_ends_with(code, ".Malformed")) {
        return FSG_E_REJECTED;
    }
    return FSG_OK; /* unknown: decided by the status */
}

enum fsg_err fsg_aws_classify(int http_status, const char *code)
{
    if (http_status >= 200 && http_status < 300) {
        return FSG_OK;
    }
    enum fsg_err rc = code != NULL && code[0] != '\0' ? s_classify_code(code) : FSG_OK;
    if (rc != FSG_OK) {
        return rc;
    }
    switch (http_status) {
    case 429:
        return FSG_E_THROTTLED;
    case 503:
        /* A bare 503 (S3 sometimes sends SlowDown without a body) is throttling; with an
         * unknown code it is a service failure (still retried by status). */
        return code == NULL || code[0] == '\0' ? FSG_E_THROTTLED : FSG_E_REMOTE;
    case 401:
    case 403:
        return FSG_E_AUTH;
    case 404:
        return FSG_E_NOT_FOUND;
    case 409:
        return FSG_E_CONFLICT;
    case 412:
        /* A bare 412 is a failed precondition (If-Match); EC2's DryRunOperation is also a 412
         * and means "would have succeeded": the caller decides about that one. */
        return code == NULL || code[0] == '\0' ? FSG_E_CONFLICT : FSG_E_REMOTE;
    default:
        return FSG_E_REMOTE;
    }
}

/* What to do about it, one clause. */
static const char *s_hint(const struct fsg_aws_client *c, enum fsg_err rc, const char *code,
                          int status)
{
    if (strcmp(code, "SignatureDoesNotMatch") == 0) {
        return "check the secret access key that goes with this access key id";
    }
    if (strcmp(code, "InvalidAccessKeyId") == 0 || strcmp(code, "InvalidClientTokenId") == 0 ||
        strcmp(code, "AuthFailure") == 0) {
        return "check the credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, the credentials file)";
    }
    if (s_is_expired_token(code) || strcmp(code, "RequestExpired") == 0) {
        return "the credentials expired: refresh them";
    }
    if (strcmp(code, "RequestTimeTooSkewed") == 0) {
        return "the system clock is off: synchronise it (NTP)";
    }
    if (strcmp(code, "PermanentRedirect") == 0 ||
        strcmp(code, "AuthorizationHeaderMalformed") == 0 || status == 301) {
        /* Reached only when S3 did not say where (no x-amz-bucket-region): see lib/aws/s3.c. */
        return c->region_configured
                   ? "the bucket is in another region: set \"region\" in the config to the "
                     "bucket's region"
                   : "the bucket is in another region: set AWS_REGION to the bucket's region";
    }
    switch (rc) {
    case FSG_E_AUTH:
        return "check that the IAM identity is allowed this action on this resource";
    case FSG_E_THROTTLED:
        return "the service is throttling: retry later or make fewer parallel requests";
    case FSG_E_NOT_FOUND:
        return "check the name and the region";
    case FSG_E_CONFLICT:
        return "the resource is not in the expected state";
    case FSG_E_REJECTED:
        return "the request was refused as invalid";
    default:
        return status >= 500 ? "the service failed: retry later" : "see the service message";
    }
}

/* The request id of an answer: from the XML, else from the headers (HEAD has no body). */
static const char *s_header_request_id(const struct fsg_http_response *resp)
{
    static const char *const names[] = { "x-amz-request-id", "x-amzn-RequestId",
                                         "x-amzn-request-id" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = fsg_http_headers_get(&resp->headers, names[i]);
        if (v != NULL && v[0] != '\0') {
            return v;
        }
    }
    return "";
}

/* The JSON protocol's error (Secrets Manager, SSM): {"__type": "[ns#]Code", "message": ...}
 * or the X-Amzn-ErrorType header ("Code:http://..."). ref/aws-wire.md §5.1;
 * https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html#operation-error-serialization */
struct s_json_error {
    char code[128];
    char message[256];
};

static void s_json_error_info(const struct fsg_http_response *resp, struct s_json_error *je,
                              struct fsg_aws_xml_error_info *info)
{
    json_t *root = resp->body.len > 0 && resp->body.len < (1u << 20)
                       ? json_loadb((const char *)resp->body.ptr, resp->body.len, 0, NULL)
                       : NULL;
    const char *type = json_string_value(json_object_get(root, "__type"));
    const char *hdr = fsg_http_headers_get(&resp->headers, "X-Amzn-ErrorType");
    const char *code = type != NULL ? type : hdr != NULL ? hdr : "";
    const char *hash = strrchr(code, '#');
    code = hash != NULL ? hash + 1 : code;
    size_t n = strcspn(code, ":");
    snprintf(je->code, sizeof je->code, "%.*s", (int)(n < 127 ? n : 127), code);
    info->code = je->code;
    const char *msg = json_string_value(json_object_get(root, "message"));
    if (msg == NULL) {
        msg = json_string_value(json_object_get(root, "Message"));
    }
    snprintf(je->message, sizeof je->message, "%s", msg != NULL ? msg : "");
    info->message = je->message;
    json_decref(root);
}

static bool s_is_json_answer(const struct fsg_http_response *resp)
{
    const char *ct = fsg_http_headers_get(&resp->headers, "Content-Type");
    return (ct != NULL && strstr(ct, "json") != NULL) ||
           fsg_http_headers_get(&resp->headers, "X-Amzn-ErrorType") != NULL;
}

/* Fills err from a non-2xx answer and returns its class. */
static enum fsg_err s_error_from_response(const struct fsg_aws_client *c,
                                          const struct fsg_aws_request *r,
                                          const struct fsg_http_response *resp,
                                          struct fsg_error *err)
{
    struct fsg_aws_xml_doc *doc = NULL;
    struct fsg_aws_xml_error_info info = { .code = "", .message = "", .request_id = "" };
    struct s_json_error je;
    if (s_is_json_answer(resp)) {
        s_json_error_info(resp, &je, &info);
    } else if (resp->body.len > 0) {
        static const struct fsg_aws_xml_limits lim = { .max_input_bytes = 1 << 20 };
        if (fsg_aws_xml_parse(fsg_span_from_buf(&resp->body), &lim, &doc, NULL) == FSG_OK) {
            (void)fsg_aws_xml_error_info(doc, &info);
        }
    }
    const char *rid = info.request_id[0] != '\0' ? info.request_id : s_header_request_id(resp);
    enum fsg_err rc = fsg_aws_classify(resp->status, info.code);
    const char *code = info.code[0] != '\0' ? info.code : "";
    fsg_error_set(err, rc, "%s %s%s%s failed: HTTP %d%s%s%s%.200s; %s", c->service, r->action,
                  r->resource != NULL ? " " : "", r->resource != NULL ? r->resource : "",
                  resp->status, code[0] != '\0' ? " " : "", code,
                  info.message[0] != '\0' ? ": " : "", info.message,
                  s_hint(c, rc, code, resp->status));
    if (err != NULL) {
        err->http_status = resp->status;
        snprintf(err->service_code, sizeof err->service_code, "%s", code);
        snprintf(err->request_id, sizeof err->request_id, "%s", rid);
    }
    fsg_aws_xml_doc_destroy(doc);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Credentials. */

/* The provider may be shared by threads: take a private copy under its lock. A forced refresh
 * (after ExpiredToken) marks the provider's cache stale first, so the chain is read again. */
static enum fsg_err s_provider_creds(void *userdata, time_t now_s, bool force_refresh,
                                     const struct fsg_credentials **ret, struct fsg_error *err)
{
    struct fsg_aws_client *c = userdata;
    fsg_credentials_clean_up(&c->held);
    if (force_refresh) {
        fsg_creds_invalidate(c->creds);
    }
    enum fsg_err rc = fsg_creds_get_copy(c->creds, now_s, &c->held, err);
    if (rc == FSG_OK) {
        *ret = &c->held;
    }
    return rc;
}

static time_t s_default_clock(void *userdata)
{
    (void)userdata;
    return time(NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* One attempt. */

struct s_call {
    struct fsg_aws_client *c;
    const struct fsg_aws_request *r;
    struct fsg_http_response *resp;
    unsigned long long delivered; /* body bytes given to r->on_body in this attempt */
    bool consumer_failed;
    bool refreshed;               /* credentials were refreshed once after ExpiredToken */
    enum fsg_err last_rc;         /* the last attempt's code (err holds its detail) */
};

static enum fsg_err s_count_body(struct fsg_span chunk, void *userdata)
{
    struct s_call *call = userdata;
    enum fsg_err rc = call->r->on_body(chunk, call->r->userdata);
    if (rc != FSG_OK) {
        call->consumer_failed = true;
        return rc;
    }
    call->delivered += chunk.len;
    return FSG_OK;
}

static enum fsg_err s_build_request(const struct fsg_aws_request *r, struct fsg_http_request *req,
                                    struct fsg_error *err)
{
    *req = (struct fsg_http_request){ .method = r->method, .url = r->url, .body = r->body,
                                      .fresh_connection = r->mutating };
    for (size_t i = 0; r->headers != NULL && i < r->headers->len; i++) {
        const struct fsg_http_header *h = &r->headers->items[i];
        if (fsg_http_headers_add(&req->headers, h->name, h->value) != FSG_OK) {
            return fsg_error_set(err, FSG_E_NOMEM, "out of memory building a request");
        }
    }
    return FSG_OK;
}

static enum fsg_err s_sign(struct s_call *call, struct fsg_http_request *req, bool force_refresh,
                           struct fsg_error *err)
{
    struct fsg_aws_client *c = call->c;
    const struct fsg_credentials *cr = NULL;
    time_t now = c->clock(c->clock_userdata);
    enum fsg_err rc = c->creds_fn(c->creds_userdata, now, force_refresh, &cr, err);
    if (rc != FSG_OK) {
        return fsg_error_prefix(err, "%s %s: no usable AWS credentials: ", c->service,
                                call->r->action);
    }
    struct fsg_sigv4_params p = {
        .access_key_id = fsg_span_from_buf(&cr->access_key_id),
        .secret_access_key = fsg_span_from_buf(&cr->secret_access_key),
        .session_token = fsg_span_from_buf(&cr->session_token),
        .region = fsg_span_from_cstr(call->r->region != NULL ? call->r->region : c->region),
        .service = fsg_span_from_cstr(c->service),
        .now_s = now,
        .s3_rules = strcmp(c->service, "s3") == 0,
    };
    rc = fsg_sigv4_sign(req, &p, err);
    if (rc != FSG_OK) {
        if (err != NULL && err->msg[0] == '\0') { /* a path that only returned its code */
            fsg_error_set(err, rc, "%s", fsg_err_str(rc));
        }
        fsg_error_prefix(err, "%s %s: signing failed: ", c->service, call->r->action);
    }
    return rc;
}

/* Sign, send, classify. Network failures keep the transport's detail, with context. */
static enum fsg_err s_send_once(struct s_call *call, bool force_refresh, struct fsg_error *err)
{
    const struct fsg_aws_request *r = call->r;
    struct fsg_http_request req = { 0 };
    enum fsg_err rc = s_build_request(r, &req, err);
    if (rc == FSG_OK) {
        rc = s_sign(call, &req, force_refresh, err);
    }
    if (rc == FSG_OK) {
        call->delivered = 0;
        rc = fsg_http_send(call->c->http, &req, call->resp, r->on_body != NULL ? s_count_body : NULL,
                           call, err);
        if (rc != FSG_OK && !call->consumer_failed) {
            fsg_error_prefix(err, "%s %s%s%s: ", call->c->service, r->action,
                             r->resource != NULL ? " " : "", r->resource != NULL ? r->resource : "");
        } else if (rc == FSG_OK) {
            rc = fsg_aws_classify(call->resp->status, NULL) == FSG_OK
                     ? FSG_OK
                     : s_error_from_response(call->c, r, call->resp, err);
        }
    }
    fsg_http_request_clean_up(&req);
    return rc;
}

/* Whether a mutating call must not be sent again: the caller was asked to stop (a signal). Its
 * first attempt may have landed with its answer lost; a resend could land a change after the
 * stop, with no intent line of the caller's for it. */
static bool s_stop_holds(const struct s_call *call)
{
    return call->r->mutating && call->c->stop != NULL && *call->c->stop != 0;
}

static enum fsg_err s_attempt(void *userdata, struct fsg_retry_attempt *a, struct fsg_error *err)
{
    struct s_call *call = userdata;
    if (a->number > 1 && s_stop_holds(call)) {
        /* the stop came during the backoff sleep: err still holds the last attempt's failure */
        a->no_retry = true;
        a->not_sent = true;
        return call->last_rc;
    }
    enum fsg_err rc = s_send_once(call, false, err);
    if (rc == FSG_E_AUTH && err != NULL && s_is_expired_token(err->service_code) &&
        !call->refreshed && !s_stop_holds(call)) {
        /* Temporary credentials ran out between our check and the service's: refresh once. */
        call->refreshed = true;
        fsg_log(FSG_LOG_DEBUG, "aws %s %s: %s, refreshing credentials", call->c->service,
                call->r->action, err->service_code);
        rc = s_send_once(call, true, err);
    }
    if (rc == FSG_E_NETWORK || (rc == FSG_E_REMOTE && err != NULL && err->http_status >= 500)) {
        /* The request may have reached the service and been carried out: a later answer
         * (Duplicate, NotFound) may then be this run's own doing. */
        call->c->last_uncertain = true;
    }
    if (rc != FSG_OK) {
        fsg_log(FSG_LOG_DEBUG, "aws %s %s attempt %u: %s HTTP %d %s", call->c->service,
                call->r->action, a->number, fsg_err_name(rc), err != NULL ? err->http_status : 0,
                err != NULL ? err->service_code : "");
    }
    if (rc != FSG_OK && (call->delivered > 0 || call->consumer_failed)) {
        a->no_retry = true; /* the consumer already has part of this body */
        if (err != NULL) {
            err->offset = call->delivered;
        }
    }
    if (rc != FSG_OK && s_stop_holds(call)) {
        a->no_retry = true;
        fsg_log(FSG_LOG_DEBUG, "aws %s %s: not sent again (asked to stop)", call->c->service,
                call->r->action);
    }
    call->last_rc = rc;
    return rc;
}

enum fsg_err fsg_aws_request(struct fsg_aws_client *c, const struct fsg_aws_request *r,
                             struct fsg_http_response *resp, struct fsg_error *err)
{
    if (c == NULL || r == NULL || r->method == NULL || r->url == NULL || r->action == NULL ||
        resp == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "AWS request without method, URL or action");
    }
    struct s_call call = { .c = c, .r = r, .resp = resp };
    struct fsg_error local = { 0 };
    c->last_uncertain = false;
    return fsg_retry_run(&c->retry, s_attempt, &call, err != NULL ? err : &local);
}

/* ---------------------------------------------------------------------------------------- */
/* Query protocol: ref/aws-wire.md §5.0. */

enum fsg_err fsg_aws_params_add(struct fsg_aws_params *p, const char *name, const char *value)
{
    struct fsg_aws_param *items = fsg_array_grow(p->items, &p->cap, p->len + 1, sizeof *items, 16);
    if (items == NULL) {
        return FSG_E_NOMEM;
    }
    p->items = items;
    char *n = fsg_strdup(name);
    char *v = fsg_strdup(value != NULL ? value : "");
    if (n == NULL || v == NULL) {
        fsg_free(n);
        fsg_free(v);
        return FSG_E_NOMEM;
    }
    p->items[p->len++] = (struct fsg_aws_param){ .name = n, .value = v };
    return FSG_OK;
}

enum fsg_err fsg_aws_params_addf(struct fsg_aws_params *p, const char *value, const char *name_fmt,
                                 ...)
{
    char name[256];
    va_list ap;
    va_start(ap, name_fmt);
    int n = vsnprintf(name, sizeof name, name_fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof name) {
        return FSG_E_INVALID_ARG;
    }
    return fsg_aws_params_add(p, name, value);
}

void fsg_aws_params_clean_up(struct fsg_aws_params *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->len; i++) {
        fsg_free(p->items[i].name);
        fsg_free(p->items[i].value);
    }
    fsg_free(p->items);
    *p = (struct fsg_aws_params){ 0 };
}

static enum fsg_err s_append_pair(struct fsg_buf *out, const char *name, const char *value)
{
    enum fsg_err rc = out->len > 0 ? fsg_buf_append_byte(out, '&') : FSG_OK;
    if (rc == FSG_OK) {
        rc = fsg_uri_encode(out, fsg_span_from_cstr(name), false);
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_append_byte(out, '=');
    }
    if (rc == FSG_OK) {
        rc = fsg_uri_encode(out, fsg_span_from_cstr(value), false);
    }
    return rc;
}

enum fsg_err fsg_aws_query_body(const char *action, const char *version,
                                const struct fsg_aws_params *params, struct fsg_buf *out)
{
    struct fsg_buf body = FSG_BUF_INIT;
    enum fsg_err rc = s_append_pair(&body, "Action", action);
    if (rc == FSG_OK) {
        rc = s_append_pair(&body, "Version", version);
    }
    for (size_t i = 0; params != NULL && i < params->len && rc == FSG_OK; i++) {
        rc = s_append_pair(&body, params->items[i].name, params->items[i].value);
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_append_span(out, fsg_span_from_buf(&body));
    }
    fsg_buf_clean_up(&body);
    return rc;
}

/* Query actions that read start with these verbs; every other action changes something. */
static bool s_is_mutating(const char *action)
{
    static const char *const reads[] = { "Describe", "List", "Get" };
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        if (strncmp(action, reads[i], strlen(reads[i])) == 0) {
            return false;
        }
    }
    return true;
}

enum fsg_err fsg_aws_query_raw(struct fsg_aws_client *c, const char *action, const char *version,
                               const struct fsg_aws_params *params, struct fsg_buf *ret_body,
                               struct fsg_error *err)
{
    struct fsg_buf body = FSG_BUF_INIT, url = FSG_BUF_INIT;
    struct fsg_http_headers headers = { 0 };
    struct fsg_http_response resp = { 0 };
    enum fsg_err rc = fsg_aws_query_body(action, version, params, &body);
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(&url, "%s/", c->endpoint.ptr != NULL ? fsg_buf_cstr(&c->endpoint) : "");
    }
    if (rc == FSG_OK) {
        rc = fsg_http_headers_add(&headers, "Content-Type", S_FORM_CONTENT_TYPE);
    }
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "%s %s: out of memory building the request", c->service, action);
        goto out;
    }
    struct fsg_aws_request r = {
        .method = "POST",
        .url = fsg_buf_cstr(&url),
        .headers = &headers,
        .body = fsg_span_from_buf(&body),
        .action = action,
        .mutating = s_is_mutating(action),
    };
    rc = fsg_aws_request(c, &r, &resp, err);
    if (rc == FSG_OK && fsg_buf_append_span(ret_body, fsg_span_from_buf(&resp.body)) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "%s %s: out of memory", c->service, action);
    }
out:
    fsg_http_response_clean_up(&resp);
    fsg_http_headers_clean_up(&headers);
    fsg_buf_clean_up(&url);
    fsg_buf_clean_up(&body);
    return rc;
}

enum fsg_err fsg_aws_json(struct fsg_aws_client *c, const char *target, struct fsg_span body,
                          struct fsg_buf *ret_body, struct fsg_error *err)
{
    struct fsg_buf url = FSG_BUF_INIT;
    struct fsg_http_headers headers = { 0 };
    struct fsg_http_response resp = { 0 };
    const char *dot = strrchr(target, '.');
    const char *action = dot != NULL ? dot + 1 : target;
    enum fsg_err rc = fsg_buf_printf(&url, "%s/", fsg_aws_client_endpoint(c));
    if (rc == FSG_OK) {
        rc = fsg_http_headers_add(&headers, "Content-Type", S_JSON_CONTENT_TYPE);
    }
    if (rc == FSG_OK) {
        rc = fsg_http_headers_add(&headers, "X-Amz-Target", target);
    }
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "%s %s: out of memory building the request", c->service, action);
        goto out;
    }
    struct fsg_aws_request r = { .method = "POST", .url = fsg_buf_cstr(&url), .headers = &headers,
                                 .body = body, .action = action };
    rc = fsg_aws_request(c, &r, &resp, err);
    if (rc == FSG_OK && fsg_buf_append_span(ret_body, fsg_span_from_buf(&resp.body)) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "%s %s: out of memory", c->service, action);
    }
out:
    /* The answer may be a secret value: wipe the transport's copy. */
    fsg_secure_zero(resp.body.ptr, resp.body.len);
    fsg_http_response_clean_up(&resp);
    fsg_http_headers_clean_up(&headers);
    fsg_buf_clean_up(&url);
    return rc;
}

enum fsg_err fsg_aws_query(struct fsg_aws_client *c, const char *action, const char *version,
                           const struct fsg_aws_params *params, struct fsg_aws_xml_doc **ret_doc,
                           struct fsg_error *err)
{
    struct fsg_buf body = FSG_BUF_INIT;
    enum fsg_err rc = fsg_aws_query_raw(c, action, version, params, &body, err);
    if (rc == FSG_OK) {
        rc = fsg_aws_xml_parse(fsg_span_from_buf(&body), NULL, ret_doc, err);
        if (rc != FSG_OK) {
            fsg_error_prefix(err, "%s %s: bad answer: ", c->service, action);
        }
    }
    fsg_buf_clean_up(&body);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Client. */

static enum fsg_err s_resolve(struct fsg_aws_client *c, const struct fsg_aws_client_options *o,
                              struct fsg_error *err)
{
    struct fsg_buf region = FSG_BUF_INIT;
    enum fsg_err rc = fsg_aws_region(o->region, NULL, &region, err);
    if (rc == FSG_OK && (c->region = fsg_buf_strdup(&region)) == NULL) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory creating an AWS client");
    }
    fsg_buf_clean_up(&region);
    if (rc != FSG_OK) {
        return rc;
    }
    c->path_style = o->path_style;
    c->region_configured = o->region != NULL && o->region[0] != '\0';
    if (o->endpoint_url != NULL) {
        size_t n = strlen(o->endpoint_url);
        while (n > 0 && o->endpoint_url[n - 1] == '/') {
            n--;
        }
        return fsg_buf_append(&c->endpoint, o->endpoint_url, n) == FSG_OK
                   ? FSG_OK
                   : fsg_error_set(err, FSG_E_NOMEM, "out of memory creating an AWS client");
    }
    bool path_style = false;
    rc = fsg_aws_endpoint(c->service, c->region, &c->endpoint, &path_style, err);
    c->path_style = c->path_style || path_style;
    return rc;
}

static enum fsg_err s_setup_io(struct fsg_aws_client *c, const struct fsg_aws_client_options *o,
                               struct fsg_error *err)
{
    enum fsg_err rc = FSG_OK;
    if (o->http != NULL) {
        c->http = o->http;
    } else {
        rc = fsg_http_client_new(o->http_options, &c->http, err);
        c->owns_http = rc == FSG_OK;
    }
    if (rc != FSG_OK) {
        return rc;
    }
    if (o->creds_fn != NULL) {
        c->creds_fn = o->creds_fn;
        c->creds_userdata = o->creds_userdata;
        return FSG_OK;
    }
    if (o->creds != NULL) {
        c->creds = o->creds;
    } else {
        struct fsg_creds_options co = { .http = NULL };
        rc = fsg_creds_provider_new_default(&co, &c->creds, err);
        c->owns_creds = rc == FSG_OK;
    }
    c->creds_fn = s_provider_creds;
    c->creds_userdata = c;
    return rc;
}

enum fsg_err fsg_aws_client_new(const struct fsg_aws_client_options *opts,
                                struct fsg_aws_client **ret, struct fsg_error *err)
{
    if (opts == NULL || opts->service == NULL || opts->service[0] == '\0') {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "AWS client without a service name");
    }
    struct fsg_aws_client *c = fsg_calloc(1, sizeof *c);
    enum fsg_err rc = FSG_OK;
    if (c == NULL || (c->service = fsg_strdup(opts->service)) == NULL) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory creating an AWS client");
        goto out;
    }
    rc = s_resolve(c, opts, err);
    if (rc == FSG_OK) {
        rc = s_setup_io(c, opts, err);
    }
    if (rc != FSG_OK) {
        goto out;
    }
    fsg_retry_policy_init(&c->retry, &opts->retry);
    c->clock = opts->clock != NULL ? opts->clock : s_default_clock;
    c->clock_userdata = opts->clock_userdata;
    *ret = c;
    c = NULL;
out:
    fsg_aws_client_destroy(c);
    return rc;
}

void fsg_aws_client_destroy(struct fsg_aws_client *c)
{
    if (c == NULL) {
        return;
    }
    fsg_credentials_clean_up(&c->held);
    if (c->owns_creds) {
        fsg_creds_provider_destroy(c->creds);
    }
    if (c->owns_http) {
        fsg_http_client_destroy(c->http);
    }
    fsg_buf_clean_up(&c->endpoint);
    fsg_free(c->region);
    fsg_free(c->service);
    fsg_free(c);
}

const char *fsg_aws_client_endpoint(const struct fsg_aws_client *c)
{
    return fsg_buf_cstr(&c->endpoint);
}

const char *fsg_aws_client_region(const struct fsg_aws_client *c)
{
    return c->region;
}

const char *fsg_aws_client_service(const struct fsg_aws_client *c)
{
    return c->service;
}

bool fsg_aws_client_path_style(const struct fsg_aws_client *c)
{
    return c->path_style;
}

bool fsg_aws_bucket_region_get(const char *bucket, char *ret_region, size_t size)
{
    bool found = false;
    pthread_mutex_lock(&s_bucket_regions_lock);
    for (size_t i = 0; i < FSG_AWS_BUCKET_REGION_CACHE && !found; i++) {
        if (s_bucket_regions[i].bucket[0] != '\0' &&
            strcmp(s_bucket_regions[i].bucket, bucket) == 0) {
            snprintf(ret_region, size, "%s", s_bucket_regions[i].region);
            found = true;
        }
    }
    pthread_mutex_unlock(&s_bucket_regions_lock);
    return found;
}

enum fsg_err fsg_aws_bucket_region_set(const char *bucket, const char *region)
{
    if (strlen(bucket) >= sizeof s_bucket_regions[0].bucket ||
        strlen(region) >= sizeof s_bucket_regions[0].region) {
        return FSG_E_INVALID_ARG;
    }
    pthread_mutex_lock(&s_bucket_regions_lock);
    struct s_bucket_region *slot = NULL;
    for (size_t i = 0; i < FSG_AWS_BUCKET_REGION_CACHE && slot == NULL; i++) {
        if (strcmp(s_bucket_regions[i].bucket, bucket) == 0) {
            slot = &s_bucket_regions[i];
        }
    }
    if (slot == NULL) {
        slot = &s_bucket_regions[s_bucket_regions_next];
        s_bucket_regions_next = (s_bucket_regions_next + 1) % FSG_AWS_BUCKET_REGION_CACHE;
    }
    snprintf(slot->bucket, sizeof slot->bucket, "%s", bucket);
    snprintf(slot->region, sizeof slot->region, "%s", region);
    pthread_mutex_unlock(&s_bucket_regions_lock);
    return FSG_OK;
}

void fsg_aws_bucket_region_clear(void)
{
    pthread_mutex_lock(&s_bucket_regions_lock);
    memset(s_bucket_regions, 0, sizeof s_bucket_regions);
    s_bucket_regions_next = 0;
    pthread_mutex_unlock(&s_bucket_regions_lock);
}
