/* The Runtime API loop against a scripted transport: no sockets. */
#include "lib/aws/lambda.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/http/http.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"
#include "tests/unit/http_script.h"

#define S_API "127.0.0.1:9001"
#define S_BASE "http://" S_API "/2018-06-01/runtime"
#define S_NEXT S_BASE "/invocation/next"
#define S_ID_HDR "Lambda-Runtime-Aws-Request-Id: "
#define S_TYPE_HDR "Lambda-Runtime-Function-Error-Type"

static void s_count_sleep(long ms, void *userdata)
{
    (void)ms;
    (*(int *)userdata)++;
}

static struct fsg_lambda *s_runtime(struct t_http_script *script,
                                    struct fsg_http_client **ret_client,
                                    unsigned long max_invocations, int *sleeps)
{
    struct fsg_http_client *client = t_http_script_client(script);
    struct fsg_lambda *rt = NULL;
    if (client == NULL) {
        return NULL;
    }
    struct fsg_lambda_options o = { .runtime_api = S_API,
                                    .client = client,
                                    .sleep = s_count_sleep,
                                    .sleep_userdata = sleeps,
                                    .max_invocations = max_invocations };
    if (fsg_lambda_new(&o, &rt, NULL) != FSG_OK) {
        fsg_http_client_destroy(client);
        return NULL;
    }
    *ret_client = client;
    return rt;
}

/* The script ran exactly as written; prints the first mismatch. */
static bool s_script_ok(const struct t_http_script *s, size_t want_requests)
{
    if (s->mismatch || s->n_rec != want_requests) {
        fprintf(stderr, "  script: %s (%zu requests, want %zu)\n", s->mismatch_msg, s->n_rec,
                want_requests);
        return false;
    }
    return true;
}

/* The recorded header i/name equals want. */
static bool s_header_is(const struct t_http_script *s, size_t i, const char *name,
                        const char *want)
{
    const char *v = t_http_script_header(s, i, name);
    return v != NULL && strcmp(v, want) == 0;
}

/* The handler used by most cases: records what it saw; fails on a "fail" event. */
struct s_seen {
    int calls;
    char request_id[64];
    int64_t deadline_ms;
    char arn[128];
    char trace_env[128];
    bool trace_env_set;
    char event[128];
};

static enum fsg_err s_handler(const struct fsg_lambda_invocation *inv, struct fsg_buf *out_json,
                              struct fsg_error *err, void *userdata)
{
    struct s_seen *seen = userdata;
    seen->calls++;
    snprintf(seen->request_id, sizeof seen->request_id, "%s", inv->request_id);
    seen->deadline_ms = inv->deadline_ms;
    snprintf(seen->arn, sizeof seen->arn, "%s", inv->function_arn ? inv->function_arn : "");
    const char *trace = getenv("_X_AMZN_TRACE_ID");
    seen->trace_env_set = trace != NULL;
    snprintf(seen->trace_env, sizeof seen->trace_env, "%s", trace != NULL ? trace : "");
    snprintf(seen->event, sizeof seen->event, "%s", fsg_buf_cstr(&inv->event));
    if (strstr(fsg_buf_cstr(&inv->event), "fail-silently") != NULL) {
        return FSG_E_INTERNAL; /* err left empty on purpose */
    }
    if (strstr(fsg_buf_cstr(&inv->event), "fail") != NULL) {
        return fsg_error_set(err, FSG_E_PARSE, "unrecognised event: expected Records");
    }
    if (strstr(fsg_buf_cstr(&inv->event), "huge") != NULL) {
        for (int i = 0; i < 7 * 1024; i++) {
            if (fsg_buf_append(out_json, "x", 1) != FSG_OK ||
                fsg_buf_reserve(out_json, 1024) != FSG_OK) {
                return FSG_E_NOMEM;
            }
            out_json->len += 1023; /* bytes need not be meaningful */
            out_json->ptr[out_json->len] = '\0';
        }
        return FSG_OK;
    }
    return fsg_buf_printf(out_json, "{\"handled\":\"%s\"}", inv->request_id);
}

/* Parses a posted error body and checks its three fields. */
static int s_check_error_body(const struct fsg_buf *body, const char *type, const char *msg_part)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)body->ptr, body->len, 0, &jerr);
    T_CHECK(root != NULL);
    T_STR_EQ(json_string_value(json_object_get(root, "errorType")), type);
    const char *msg = json_string_value(json_object_get(root, "errorMessage"));
    T_CHECK(msg != NULL);
    if (strstr(msg, msg_part) == NULL) {
        fprintf(stderr, "  errorMessage '%s' lacks '%s'\n", msg, msg_part);
    }
    T_CHECK(strstr(msg, msg_part) != NULL);
    T_CHECK(json_is_array(json_object_get(root, "stackTrace")));
    T_CHECK(json_array_size(json_object_get(root, "stackTrace")) == 0);
    json_decref(root);
    return 0;
}

static int s_next_handler_response(void)
{
    static const struct t_http_exchange ex[] = {
        { .method = "GET", .url = S_NEXT, .status = 200,
          .headers = S_ID_HDR "8476a536-e9f4-11e8-9739-2dfe598c3fcd\n"
                     "lambda-runtime-deadline-ms: 1542409706888\n"
                     "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:1:function:f\n"
                     "Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1\n"
                     "Content-Type: application/json\n",
          .body = "{\"Records\":[]}" },
        { .method = "POST",
          .url = S_BASE "/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response",
          .status = 202, .body = "{\"status\":\"OK\"}" },
    };
    struct t_http_script script;
    t_http_script_init(&script, ex, 2);
    struct fsg_http_client *client = NULL;
    int sleeps = 0;
    struct fsg_lambda *rt = s_runtime(&script, &client, 1, &sleeps);
    T_CHECK(rt != NULL);
    struct s_seen seen = { 0 };
    struct fsg_error err = { 0 };
    T_OK(fsg_lambda_run(rt, s_handler, &seen, &err));
    T_CHECK(s_script_ok(&script, 2));
    T_CHECK(seen.calls == 1);
    T_STR_EQ(seen.request_id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
    T_CHECK(seen.deadline_ms == INT64_C(1542409706888));
    T_STR_EQ(seen.arn, "arn:aws:lambda:us-east-2:1:function:f");
    T_CHECK(seen.trace_env_set);
    T_STR_EQ(seen.trace_env, "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1");
    T_STR_EQ(seen.event, "{\"Records\":[]}");
    T_CHECK(s_header_is(&script, 1, "Content-Type", "application/json"));
    T_CHECK(t_http_script_header(&script, 1, S_TYPE_HDR) == NULL);
    T_CHECK(strncmp(t_http_script_header(&script, 0, "User-Agent"), "flowseg/", 8) == 0);
    T_STR_EQ(fsg_buf_cstr(&script.rec[1].body),
             "{\"handled\":\"8476a536-e9f4-11e8-9739-2dfe598c3fcd\"}");
    T_CHECK(fsg_lambda_invocations(rt) == 1);
    T_CHECK(sleeps == 0);
    fsg_lambda_destroy(rt);
    fsg_http_client_destroy(client);
    t_http_script_clean_up(&script);
    return 0;
}

static int s_handler_error_then_loop_continues(void)
{
    static const struct t_http_exchange ex[] = {
        { .method = "GET", .url = S_NEXT, .status = 200,
          .headers = S_ID_HDR "r-1\nLambda-Runtime-Trace-Id: Root=1-a\n", .body = "please fail" },
        { .method = "POST", .url = S_BASE "/invocation/r-1/error", .status = 202 },
        { .method = "GET", .url = S_NEXT, .status = 200, .headers = S_ID_HDR "r-2\n",
          .body = "fail-silently" },
        { .method = "POST", .url = S_BASE "/invocation/r-2/error", .status = 202 },
        { .method = "GET", .url = S_NEXT, .status = 200, .headers = S_ID_HDR "r-3\n",
          .body = "{}" },
        { .method = "POST", .url = S_BASE "/invocation/r-3/response", .status = 202 },
    };
    struct t_http_script script;
    t_http_script_init(&script, ex, 6);
    struct fsg_http_client *client = NULL;
    int sleeps = 0;
    struct fsg_lambda *rt = s_runtime(&script, &client, 3, &sleeps);
    T_CHECK(rt != NULL);
    struct s_seen seen = { 0 };
    T_OK(fsg_lambda_run(rt, s_handler, &seen, NULL));
    T_CHECK(s_script_ok(&script, 6));
    T_CHECK(seen.calls == 3);
    T_CHECK(s_header_is(&script, 1, S_TYPE_HDR, "Function.FSG_E_PARSE"));
    T_CHECK(s_header_is(&script, 1, "Content-Type", "application/json"));
    T_CHECK(s_check_error_body(&script.rec[1].body, "Function.FSG_E_PARSE",
                               "unrecognised event: expected Records") == 0);
    T_CHECK(s_header_is(&script, 3, S_TYPE_HDR, "Function.FSG_E_INTERNAL"));
    T_CHECK(s_check_error_body(&script.rec[3].body, "Function.FSG_E_INTERNAL", "internal error") ==
            0);
    /* r-2 and r-3 had no trace header: r-1's must not linger. */
    T_CHECK(!seen.trace_env_set);
    T_STR_EQ(fsg_buf_cstr(&script.rec[5].body), "{\"handled\":\"r-3\"}");
    fsg_lambda_destroy(rt);
    fsg_http_client_destroy(client);
    t_http_script_clean_up(&script);
    return 0;
}

static int s_deadline_parsing(void)
{
    static const struct {
        const char *in;
        int64_t want; /* 0: FSG_E_PARSE */
        const char *msg_part;
    } cases[] = {
        { "1542409706888", INT64_C(1542409706888), NULL },
        { " 1542409706888\t", INT64_C(1542409706888), NULL },
        { "1000000000000", INT64_C(1000000000000), NULL },
        { "253402300799999", INT64_C(253402300799999), NULL },
        { "", 0, "is empty" },
        { "   ", 0, "is empty" },
        { "soon", 0, "'soon' is not a decimal number" },
        { "-1542409706888", 0, "not a decimal number" },
        { "+1542409706888", 0, "not a decimal number" },
        { "1542409706888ms", 0, "not a decimal number" },
        { "1.5e12", 0, "not a decimal number" },
        { "0x16789", 0, "not a decimal number" },
        { "99999999999999999999999", 0, "not a decimal number" }, /* u64 overflow */
        { "0", 0, "before 2001" },
        { "1542409706", 0, "(seconds?)" },
        { "999999999999", 0, "before 2001" },
        { "253402300800000", 0, "after the year 9999" },
        { "18446744073709551615", 0, "after the year 9999" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -7;
        struct fsg_error err = { 0 };
        enum fsg_err rc = fsg_lambda_parse_deadline(fsg_span_from_cstr(cases[i].in), &ms, &err);
        if (cases[i].want != 0) {
            T_OK(rc);
            T_CHECK(ms == cases[i].want);
        } else {
            if (rc != FSG_E_PARSE || strstr(err.msg, cases[i].msg_part) == NULL) {
                fprintf(stderr, "  case '%s': %s: %s\n", cases[i].in, fsg_err_name(rc), err.msg);
            }
            T_CHECK(rc == FSG_E_PARSE);
            T_CHECK(ms == -7); /* untouched */
            T_CHECK(strstr(err.msg, cases[i].msg_part) != NULL);
        }
    }
    /* Binary junk is quoted as printable ASCII. */
    struct fsg_error err = { 0 };
    int64_t ms;
    T_ERR(FSG_E_PARSE, fsg_lambda_parse_deadline(fsg_span_from_cstr("12\x01\xff"), &ms, &err));
    T_CHECK(strstr(err.msg, "'12?\?'") != NULL);
    return 0;
}

static int s_remaining_ms(void)
{
    struct fsg_lambda_invocation inv = { .deadline_ms = INT64_C(2000000000000) };
    T_CHECK(fsg_lambda_remaining_ms(&inv, INT64_C(1999999999000)) == 1000);
    T_CHECK(fsg_lambda_remaining_ms(&inv, INT64_C(2000000000500)) == -500);
    T_CHECK(fsg_lambda_remaining_ms(&inv, INT64_MIN) == INT64_MAX);
    inv.deadline_ms = 0;
    T_CHECK(fsg_lambda_remaining_ms(&inv, INT64_C(2000000000000)) == INT64_MAX);
    int64_t now = fsg_lambda_now_ms();
    T_CHECK(now > INT64_C(1600000000000)); /* after 2020 */
    return 0;
}

/* Missing deadline: the handler runs without one. Garbage: the invocation is answered with
 * Runtime.InvalidDeadline, the handler is not called, and the loop goes on. */
static int s_deadline_header_in_the_loop(void)
{
    static const struct t_http_exchange ex[] = {
        { .method = "GET", .url = S_NEXT, .status = 200, .headers = S_ID_HDR "r-1\n",
          .body = "{}" },
        { .method = "POST", .url = S_BASE "/invocation/r-1/response", .status = 202 },
        { .method = "GET", .url = S_NEXT, .status = 200,
          .headers = S_ID_HDR "r-2\nLambda-Runtime-Deadline-Ms: soon\n", .body = "{}" },
        { .method = "POST", .url = S_BASE "/invocation/r-2/error", .status = 202 },
        { .method = "GET", .url = S_NEXT, .status = 200,
          .headers = S_ID_HDR "r-3\nLambda-Runtime-Deadline-Ms: 1542409706\n", .body = "{}" },
        { .method = "POST", .url = S_BASE "/invocation/r-3/error", .status = 202 },
        { .method = "GET", .url = S_NEXT, .status = 200,
          .headers = S_ID_HDR "r-4\nLambda-Runtime-Deadline-Ms: 4102444800000\n", .body = "{}" },
        { .method = "POST", .url = S_BASE "/invocation/r-4/response", .status = 202 },
    };
    struct t_http_script script;
    t_http_script_init(&script, ex, 8);
    struct fsg_http_client *client = NULL;
    int sleeps = 0;
    struct fsg_lambda *rt = s_runtime(&script, &client, 4, &sleeps);
    T_CHECK(rt != NULL);
    struct s_seen seen = { 0 };
    T_OK(fsg_lambda_run(rt, s_handler, &seen, NULL));
    T_CHECK(s_script_ok(&script, 8));
    T_CHECK(seen.calls == 2); /* r-1 and r-4 */
    T_STR_EQ(seen.request_id, "r-4");
    T_CHECK(seen.deadline_ms == INT64_C(4102444800000));
    T_CHECK(s_header_is(&script, 3, S_TYPE_HDR, "Runtime.InvalidDeadline"));
    T_CHECK(s_check_error_body(&script.rec[3].body, "Runtime.InvalidDeadline",
                               "Lambda-Runtime-Deadline-Ms 'soon' is not a decimal number") == 0);
    T_CHECK(s_check_error_body(&script.rec[5].body, "Runtime.InvalidDeadline", "(seconds?)") == 0);
    fsg_lambda_destroy(rt);
    fsg_http_client_destroy(client);
    t_http_script_clean_up(&script);

    /* fsg_lambda_next alone: a missing deadline is 0 with no raw value. */
    static const struct t_http_exchange one[] = {
        { .method = "GET", .url = S_NEXT, .status = 200, .headers = S_ID_HDR "r-9\n",
          .body = "{}" },
    };
    t_http_script_init(&script, one, 1);
    rt = s_runtime(&script, &client, 0, &sleeps);
    T_CHECK(rt != NULL);
    struct fsg_lambda_invocation inv = { 0 };
    T_OK(fsg_lambda_next(rt, &inv, NULL));
    T_CHECK(inv.deadline_ms == 0 && inv.deadline_raw == NULL && inv.trace_id == NULL);
    T_CHECK(inv.function_arn == NULL);
    T_STR_EQ(fsg_buf_cstr(&inv.event), "{}");
    T_CHECK(fsg_lambda_remaining_ms(&inv, fsg_lambda_now_ms()) == INT64_MAX);
    fsg_lambda_invocation_clean_up(&inv);
    fsg_lambda_invocation_clean_up(&inv); /* twice is fine */
    fsg_lambda_destroy(rt);
    fsg_http_client_destroy(client);
    t_http_script_clean_up(&script);
    return 0;
}

static int s_next_failures(void)
{
    /* Two transport failures then an invocation: retried, and the count starts again; then
     * three in a row: the loop gives up. */
    static const struct t_http_exchange ex[] = {
        { .method = "GET", .url = S_NEXT, .fail = FSG_E_NETWORK },
        { .method = "GET", .url = S_NEXT, .fail = FSG_E_NETWORK },
        { .method = "GET", .url = S_NEXT, .status = 200, .headers = S_ID_HDR "r-1\n",
          .body = "{}" },
        { .method = "POST", .url = S_BASE "/invocation/r-1/response", .status = 202 },
        { .method = "GET", .url = S_NEXT, .fail = FSG_E_NETWORK },
        { .method = "GET", .url = S_NEXT, .fail = FSG_E_NETWORK },
        { .method = "GET", .url = S_NEXT, .fail = FSG_E_NETWORK },
        { .method = "GET", .url = S_NEXT, .status = 200, .headers = S_ID_HDR "never\n" },
    };
    struct t_http_script script;
    t_http_script_init(&script, ex, 8);
    struct fsg_http_client *client = NULL;
    int sleeps = 0;
    struct fsg_lambda *rt = s_runtime(&script, &client, 0, &sleeps);
    T_CHECK(rt != NULL);
    struct s_seen seen = { 0 };
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_NETWORK, fsg_lambda_run(rt, s_handler, &seen, &err));
    T_CHECK(s_script_ok(&script, 7)); /* gave up after 3 failures in a row */
    T_CHECK(seen.calls == 1);
    T_CHECK(sleeps == 4);             /* after failures 1, 2 and (second run) 1, 2 */
    T_CHECK(strstr(err.msg, "runtime API next") != NULL);
    fsg_lambda_destroy(rt);
    fsg_http_client_destroy(client);
    t_http_script_clean_up(&script);
    return 0;
}

static int s_next_bad_answers(void)
{
    static const struct {
        struct t_http_exchange ex;
        enum fsg_err want;
        const char *msg_part;
        int http_status;
    } cases[] = {
        { { .method = "GET", .url = S_NEXT, .status = 500,
            .body = "{\"errorType\":\"ContainerError\"}" },
          FSG_E_REMOTE, "HTTP 500", 500 },
        { { .method = "GET", .url = S_NEXT, .status = 403 }, FSG_E_REMOTE, "HTTP 403", 403 },
        { { .method = "GET", .url = S_NEXT, .status = 200, .body = "{}" },
          FSG_E_PARSE, "without Lambda-Runtime-Aws-Request-Id", 0 },
        { { .method = "GET", .url = S_NEXT, .status = 200, .headers = S_ID_HDR "\n" },
          FSG_E_PARSE, "without Lambda-Runtime-Aws-Request-Id", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct t_http_script script;
        t_http_script_init(&script, &cases[i].ex, 1);
        struct fsg_http_client *client = NULL;
        int sleeps = 0;
        struct fsg_lambda *rt = s_runtime(&script, &client, 0, &sleeps);
        T_CHECK(rt != NULL);
        struct s_seen seen = { 0 };
        struct fsg_error err = { 0 };
        T_ERR(cases[i].want, fsg_lambda_run(rt, s_handler, &seen, &err));
        T_CHECK(s_script_ok(&script, 1)); /* not retried: only transport failures are */
        T_CHECK(seen.calls == 0);
        T_CHECK(strstr(err.msg, cases[i].msg_part) != NULL);
        T_CHECK(err.http_status == cases[i].http_status);
        fsg_lambda_destroy(rt);
        fsg_http_client_destroy(client);
        t_http_script_clean_up(&script);
    }
    return 0;
}

static int s_post_answers(void)
{
    /* 400 on the response: logged, loop goes on. 413: reported as an error instead.
     * 500 on a post: the runtime must exit. */
    static const struct t_http_exchange ex[] = {
        { .method = "GET", .url = S_NEXT, .status = 200, .headers = S_ID_HDR "r-1\n",
          .body = "{}" },
        { .method = "POST", .url = S_BASE "/invocation/r-1/response", .status = 400,
          .body = "{\"errorType\":\"InvalidRequestID\"}" },
        { .method = "GET", .url = S_NEXT, .status = 200, .headers = S_ID_HDR "r-2\n",
          .body = "{}" },
        { .method = "POST", .url = S_BASE "/invocation/r-2/response", .status = 413 },
        { .method = "POST", .url = S_BASE "/invocation/r-2/error", .status = 202 },
        { .method = "GET", .url = S_NEXT, .status = 200, .headers = S_ID_HDR "r-3\n",
          .body = "fail" },
        { .method = "POST", .url = S_BASE "/invocation/r-3/error", .status = 500 },
    };
    struct t_http_script script;
    t_http_script_init(&script, ex, 7);
    struct fsg_http_client *client = NULL;
    int sleeps = 0;
    struct fsg_lambda *rt = s_runtime(&script, &client, 0, &sleeps);
    T_CHECK(rt != NULL);
    struct s_seen seen = { 0 };
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_REMOTE, fsg_lambda_run(rt, s_handler, &seen, &err));
    T_CHECK(s_script_ok(&script, 7));
    T_CHECK(seen.calls == 3);
    T_CHECK(err.http_status == 500);
    T_CHECK(strstr(err.msg, "must exit") != NULL);
    T_CHECK(s_header_is(&script, 4, S_TYPE_HDR, "Function.ResponseSizeTooLarge"));
    T_CHECK(s_check_error_body(&script.rec[4].body, "Function.ResponseSizeTooLarge", "HTTP 413") ==
            0);
    fsg_lambda_destroy(rt);
    fsg_http_client_destroy(client);
    t_http_script_clean_up(&script);
    return 0;
}

static int s_response_over_6_mib(void)
{
    /* Never sent: Lambda would refuse it; the invocation fails with the reason instead. */
    static const struct t_http_exchange ex[] = {
        { .method = "GET", .url = S_NEXT, .status = 200, .headers = S_ID_HDR "r-1\n",
          .body = "huge" },
        { .method = "POST", .url = S_BASE "/invocation/r-1/error", .status = 202 },
    };
    struct t_http_script script;
    t_http_script_init(&script, ex, 2);
    struct fsg_http_client *client = NULL;
    int sleeps = 0;
    struct fsg_lambda *rt = s_runtime(&script, &client, 1, &sleeps);
    T_CHECK(rt != NULL);
    struct s_seen seen = { 0 };
    T_OK(fsg_lambda_run(rt, s_handler, &seen, NULL));
    T_CHECK(s_script_ok(&script, 2));
    T_CHECK(s_header_is(&script, 1, S_TYPE_HDR, "Function.ResponseSizeTooLarge"));
    T_CHECK(s_check_error_body(&script.rec[1].body, "Function.ResponseSizeTooLarge",
                               "Lambda accepts at most 6291456") == 0);
    fsg_lambda_destroy(rt);
    fsg_http_client_destroy(client);
    t_http_script_clean_up(&script);
    return 0;
}

static int s_init_error(void)
{
    static const struct t_http_exchange ex[] = {
        { .method = "POST", .url = S_BASE "/init/error", .status = 202 },
        { .method = "POST", .url = S_BASE "/init/error", .status = 403 },
    };
    struct t_http_script script;
    t_http_script_init(&script, ex, 2);
    struct fsg_http_client *client = NULL;
    int sleeps = 0;
    struct fsg_lambda *rt = s_runtime(&script, &client, 0, &sleeps);
    T_CHECK(rt != NULL);
    struct fsg_error detail = { 0 };
    (void)fsg_error_set(&detail, FSG_E_PARSE, "config: targets[0]: unknown key \"sg\"");
    detail.http_status = 404;
    snprintf(detail.service_code, sizeof detail.service_code, "NoSuchKey");
    snprintf(detail.request_id, sizeof detail.request_id, "RID-1");
    T_OK(fsg_lambda_post_init_error(rt, "Runtime.ConfigInvalid", &detail, NULL));
    T_CHECK(s_header_is(&script, 0, S_TYPE_HDR, "Runtime.ConfigInvalid"));
    T_CHECK(s_check_error_body(&script.rec[0].body, "Runtime.ConfigInvalid",
                               "config: targets[0]: unknown key \"sg\" (HTTP 404 NoSuchKey) "
                               "[request id RID-1]") == 0);
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_REJECTED, fsg_lambda_post_init_error(rt, "Runtime.ConfigInvalid", &detail, &err));
    T_CHECK(s_script_ok(&script, 2));
    T_CHECK(err.http_status == 403);
    T_CHECK(strstr(err.msg, "runtime API init error") != NULL);
    fsg_lambda_destroy(rt);
    fsg_http_client_destroy(client);
    t_http_script_clean_up(&script);
    return 0;
}

static int s_request_id_is_escaped(void)
{
    static const struct t_http_exchange ex[] = {
        { .method = "GET", .url = S_NEXT, .status = 200, .headers = S_ID_HDR "../a b?c#d\n",
          .body = "{}" },
        { .method = "POST", .url = S_BASE "/invocation/..%2Fa%20b%3Fc%23d/response",
          .status = 202 },
    };
    struct t_http_script script;
    t_http_script_init(&script, ex, 2);
    struct fsg_http_client *client = NULL;
    int sleeps = 0;
    struct fsg_lambda *rt = s_runtime(&script, &client, 1, &sleeps);
    T_CHECK(rt != NULL);
    struct s_seen seen = { 0 };
    T_OK(fsg_lambda_run(rt, s_handler, &seen, NULL));
    T_CHECK(s_script_ok(&script, 2));
    fsg_lambda_destroy(rt);
    fsg_http_client_destroy(client);
    t_http_script_clean_up(&script);
    return 0;
}

static int s_runtime_api_validation(void)
{
    static const char *const bad[] = { "", "host/path:1", "a b:1", "user@host:1", "h:1?x",
                                       "h:1\r\nX: y" };
    struct fsg_lambda *rt = NULL;
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_INVALID_ARG, fsg_lambda_new(&(struct fsg_lambda_options){ 0 }, &rt, &err));
    T_CHECK(strstr(err.msg, "AWS_LAMBDA_RUNTIME_API") != NULL);
    T_ERR(FSG_E_INVALID_ARG, fsg_lambda_new(NULL, &rt, &err));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        T_ERR(FSG_E_INVALID_ARG,
              fsg_lambda_new(&(struct fsg_lambda_options){ .runtime_api = bad[i] }, &rt, &err));
        T_CHECK(rt == NULL);
    }
    char longer[400];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    T_ERR(FSG_E_INVALID_ARG,
          fsg_lambda_new(&(struct fsg_lambda_options){ .runtime_api = longer }, &rt, &err));

    /* Good addresses, with the default (libcurl) client: no connection is made by new(). */
    static const char *const good[] = { "127.0.0.1:9001", "[::1]:9001", "localhost:8080" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        T_OK(fsg_lambda_new(&(struct fsg_lambda_options){ .runtime_api = good[i] }, &rt, &err));
        fsg_lambda_destroy(rt);
        rt = NULL;
    }
    fsg_lambda_destroy(NULL);
    return 0;
}

/* Every allocation failure along a whole invocation ends cleanly: nothing leaks, and the
 * result is success or FSG_E_NOMEM (from next, or posted as the invocation's error). */
static int s_allocation_failures(void)
{
    static const struct t_http_exchange ex[] = {
        { .status = 200,
          .headers = S_ID_HDR "r-1\nLambda-Runtime-Deadline-Ms: 4102444800000\n"
                     "Lambda-Runtime-Trace-Id: Root=1-x\n",
          .body = "{\"k\":1}" },
        { .status = 202, .body = "{\"status\":\"OK\"}" }, /* the response, or the error */
    };
    bool completed = false;
    for (long n = 1; n < 400 && !completed; n++) {
        struct t_http_script script;
        t_http_script_init(&script, ex, 2);
        struct fsg_http_client *client = NULL;
        int sleeps = 0;
        struct fsg_lambda *rt = s_runtime(&script, &client, 1, &sleeps);
        T_CHECK(rt != NULL);
        struct s_seen seen = { 0 };
        struct fsg_error err = { 0 };
        fsg_mem_fail_after(n);
        enum fsg_err rc = fsg_lambda_run(rt, s_handler, &seen, &err);
        fsg_mem_fail_after(0);
        T_CHECK(rc == FSG_OK || rc == FSG_E_NOMEM);
        completed = rc == FSG_OK && script.n_rec == 2 &&
                    strcmp(script.rec[1].url, S_BASE "/invocation/r-1/response") == 0;
        fsg_lambda_destroy(rt);
        fsg_http_client_destroy(client);
        t_http_script_clean_up(&script);
    }
    T_CHECK(completed);
    return 0;
}
int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "next_handler_response", s_next_handler_response },
        { "handler_error_then_loop_continues", s_handler_error_then_loop_continues },
        { "deadline_parsing", s_deadline_parsing },
        { "remaining_ms", s_remaining_ms },
        { "deadline_header_in_the_loop", s_deadline_header_in_the_loop },
        { "next_failures", s_next_failures },
        { "next_bad_answers", s_next_bad_answers },
        { "post_answers", s_post_answers },
        { "response_over_6_mib", s_response_over_6_mib },
        { "init_error", s_init_error },
        { "request_id_is_escaped", s_request_id_is_escaped },
        { "runtime_api_validation", s_runtime_api_validation },
        { "allocation_failures", s_allocation_failures },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
