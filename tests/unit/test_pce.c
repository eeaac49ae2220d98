/* policy/pce: the PCE client over a scripted transport (no network). Each case lists the
 * exchanges the client must make, in order, and checks what it sent and what it made of it. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/core/deadline.h"
#include "lib/http/http.h"
#include "lib/core/mem.h"
#include "policy/pce.h"
#include "tests/harness/test.h"

#define S_SECRET "Sup3rS3cret!"
#define S_KEY "api_1a2b3c4d5e6f7g"
#define S_BASE "https://pce.test:8443/api/v2"
#define S_MAX_STEPS 48

/* One scripted answer. status 0 = transport failure (FSG_E_NETWORK). */
struct s_step {
    int status;
    const char *headers; /* "Name: value\n..." */
    const char *body;
    size_t items;        /* > 0: body is a generated array of that many objects */
};

/* What the client sent. */
struct s_seen {
    char method[8];
    char url[512];
    char auth[128];
    char prefer[32];
    char ctype[32];
    char accept[32];
    char body[128];
};

struct s_script {
    const struct s_step *steps;
    size_t n;
    size_t next;
    struct s_seen seen[S_MAX_STEPS];
    size_t n_seen;
    uint64_t sleeps[S_MAX_STEPS];
    size_t n_sleeps;
    int64_t now_ms; /* the fake wall clock: starts at 0 (tests set it), sleeps advance it */
};

static void s_copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

static enum fsg_err s_add_headers(struct fsg_http_headers *h, const char *text)
{
    char line[256];
    while (text != NULL && *text != '\0') {
        size_t n = strcspn(text, "\n");
        snprintf(line, sizeof line, "%.*s", (int)n, text);
        text += n + (text[n] == '\n');
        char *colon = strchr(line, ':');
        if (colon == NULL) {
            continue;
        }
        *colon = '\0';
        const char *v = colon + 1;
        while (*v == ' ') {
            v++;
        }
        enum fsg_err rc = fsg_http_headers_add(h, line, v);
        if (rc != FSG_OK) {
            return rc;
        }
    }
    return FSG_OK;
}

static enum fsg_err s_send(void *impl, const struct fsg_http_request *req,
                           struct fsg_http_response *resp, fsg_http_body_fn *on_body,
                           void *userdata, struct fsg_error *err)
{
    (void)on_body;
    (void)userdata;
    struct s_script *s = impl;
    if (s->n_seen < S_MAX_STEPS) {
        struct s_seen *w = &s->seen[s->n_seen++];
        s_copy(w->method, sizeof w->method, req->method);
        s_copy(w->url, sizeof w->url, req->url);
        s_copy(w->auth, sizeof w->auth, fsg_http_headers_get(&req->headers, "authorization"));
        s_copy(w->prefer, sizeof w->prefer, fsg_http_headers_get(&req->headers, "Prefer"));
        s_copy(w->ctype, sizeof w->ctype, fsg_http_headers_get(&req->headers, "Content-Type"));
        s_copy(w->accept, sizeof w->accept, fsg_http_headers_get(&req->headers, "Accept"));
        snprintf(w->body, sizeof w->body, "%.*s", FSG_SPAN_FMT(req->body));
    }
    if (s->next >= s->n) {
        return fsg_error_set(err, FSG_E_INTERNAL, "script exhausted at %s %s", req->method,
                             req->url);
    }
    const struct s_step *st = &s->steps[s->next++];
    if (st->status == 0) {
        return fsg_error_set(err, FSG_E_NETWORK, "transfer closed with 1000 bytes remaining");
    }
    resp->status = st->status;
    enum fsg_err rc = s_add_headers(&resp->headers, st->headers);
    if (rc == FSG_OK && st->body != NULL) {
        rc = fsg_buf_append_cstr(&resp->body, st->body);
    }
    if (rc == FSG_OK && st->items > 0) {
        rc = fsg_buf_append_cstr(&resp->body, "[");
        for (size_t i = 0; rc == FSG_OK && i < st->items; i++) {
            rc = fsg_buf_printf(&resp->body, "%s{\"href\":\"/orgs/1/workloads/%zu\"}",
                                i > 0 ? "," : "", i);
        }
        if (rc == FSG_OK) {
            rc = fsg_buf_append_cstr(&resp->body, "]");
        }
    }
    return rc;
}

static void s_sleep(uint64_t ms, void *userdata)
{
    struct s_script *s = userdata;
    if (s->n_sleeps < S_MAX_STEPS) {
        s->sleeps[s->n_sleeps++] = ms;
    }
    s->now_ms += (int64_t)ms;
}

static int64_t s_clock(void *userdata)
{
    return ((struct s_script *)userdata)->now_ms;
}

static struct fsg_pce_options s_opts(struct s_script *s)
{
    return (struct fsg_pce_options){ .url = "https://pce.test:8443/", .org_id = 1,
                                     .api_key = S_KEY, .api_secret = S_SECRET, .sleep = s_sleep,
                                     .sleep_userdata = s, .clock = s_clock };
}

static enum fsg_err s_new_with(struct s_script *s, const struct fsg_pce_options *o,
                               struct fsg_pce **ret, struct fsg_error *err)
{
    struct fsg_http_transport t = { .send = s_send, .destroy = NULL, .impl = s };
    struct fsg_http_client *client = NULL;
    enum fsg_err rc = fsg_http_client_new_with_transport(&t, &client, err);
    if (rc != FSG_OK) {
        return rc;
    }
    return fsg_pce_new_with_client(o, client, ret, err);
}

static enum fsg_err s_new(struct s_script *s, struct fsg_pce **ret)
{
    struct fsg_pce_options o = s_opts(s);
    return s_new_with(s, &o, ret, NULL);
}

#define S_SCRIPT(arr) { .steps = (arr), .n = sizeof(arr) / sizeof((arr)[0]) }

static bool s_no_secret(const struct fsg_error *err)
{
    return strstr(err->msg, S_SECRET) == NULL && strstr(err->msg, "U3VwM3JTM2NyZXQh") == NULL;
}

/* ---------------------------------------------------------------------------------------- */

static int s_sync_collection(void)
{
    static const struct s_step steps[] = {
        { 200, "X-Total-Count: 3\nX-Request-Id: r1", NULL, 3 },
    };
    struct s_script s = S_SCRIPT(steps);
    struct fsg_pce *pce = NULL;
    json_t *arr = NULL;
    T_OK(s_new(&s, &pce));
    T_OK(fsg_pce_get_collection(pce, "/orgs/1/labels", &arr, NULL));
    T_CHECK(json_array_size(arr) == 3);
    T_CHECK(s.n_seen == 1);
    T_STR_EQ(s.seen[0].method, "GET");
    T_STR_EQ(s.seen[0].url, S_BASE "/orgs/1/labels");
    T_STR_EQ(s.seen[0].auth, "Basic YXBpXzFhMmIzYzRkNWU2ZjdnOlN1cDNyUzNjcmV0IQ==");
    T_STR_EQ(s.seen[0].accept, "application/json");
    T_STR_EQ(s.seen[0].prefer, "");
    T_CHECK(fsg_pce_request_count(pce) == 1);
    json_decref(arr);
    /* An org-relative path gets the org prefix. */
    static const struct s_step steps2[] = { { 200, "X-Total-Count: 0", "[]", 0 } };
    struct s_script s2 = S_SCRIPT(steps2);
    struct fsg_pce *pce2 = NULL;
    T_OK(s_new(&s2, &pce2));
    T_OK(fsg_pce_get_collection(pce2, "/workloads?managed=false", &arr, NULL));
    T_STR_EQ(s2.seen[0].url, S_BASE "/orgs/1/workloads?managed=false");
    T_CHECK(json_array_size(arr) == 0);
    json_decref(arr);
    fsg_pce_destroy(pce2);
    fsg_pce_destroy(pce);
    return 0;
}

/* The paging decision: 499 of 499 is complete; 2 of 5 and 500 of 777 are not. */
static int s_paging_decision(void)
{
    static const struct s_step complete[] = { { 200, "X-Total-Count: 499", NULL, 499 } };
    struct s_script s = S_SCRIPT(complete);
    struct fsg_pce *pce = NULL;
    json_t *arr = NULL;
    T_OK(s_new(&s, &pce));
    T_OK(fsg_pce_get_collection(pce, "/orgs/1/workloads", &arr, NULL));
    T_CHECK(json_array_size(arr) == 499 && s.n_seen == 1);
    json_decref(arr);
    fsg_pce_destroy(pce);

    /* More than the cap with a matching count (a PCE honouring max_results) is complete. */
    static const struct s_step over[] = { { 200, "X-Total-Count: 501", NULL, 501 } };
    struct s_script s1 = S_SCRIPT(over);
    T_OK(s_new(&s1, &pce));
    T_OK(fsg_pce_get_collection(pce, "/orgs/1/workloads", &arr, NULL));
    T_CHECK(json_array_size(arr) == 501 && s1.n_seen == 1);
    json_decref(arr);
    fsg_pce_destroy(pce);

    static const struct s_step by_count[] = {
        { 200, "X-Total-Count: 5", NULL, 2 },
        { 202, "Location: /orgs/1/jobs/j1\nRetry-After: 2", NULL, 0 },
        { 200, "Retry-After: 1", "{\"href\":\"/orgs/1/jobs/j1\",\"status\":\"running\"}", 0 },
        { 200, NULL, "{\"href\":\"/orgs/1/jobs/j1\",\"status\":\"done\","
                     "\"result\":{\"href\":\"/orgs/1/datafiles/d1\"}}", 0 },
        { 200, NULL, NULL, 5 },
    };
    struct s_script s2 = S_SCRIPT(by_count);
    T_OK(s_new(&s2, &pce));
    T_OK(fsg_pce_get_collection(pce, "/orgs/1/workloads?labels=%5B%5D", &arr, NULL));
    T_CHECK(json_array_size(arr) == 5);
    T_CHECK(s2.n_seen == 5);
    T_STR_EQ(s2.seen[1].url, S_BASE "/orgs/1/workloads?labels=%5B%5D");
    T_STR_EQ(s2.seen[1].prefer, "respond-async");
    T_STR_EQ(s2.seen[2].url, S_BASE "/orgs/1/jobs/j1");
    T_STR_EQ(s2.seen[2].prefer, "");
    T_STR_EQ(s2.seen[4].url, S_BASE "/orgs/1/datafiles/d1");
    T_CHECK(s2.n_sleeps == 2 && s2.sleeps[0] == 2000 && s2.sleeps[1] == 1000);
    json_decref(arr);
    fsg_pce_destroy(pce);

    /* Absolute Location; no Retry-After anywhere: first poll after 1 s, then x1.5. */
    static const struct s_step by_cap[] = {
        { 200, "X-Total-Count: 777", NULL, 500 },
        { 202, "Location: https://pce.test:8443/api/v2/orgs/1/jobs/j2", NULL, 0 },
        { 200, NULL, "{\"status\":\"running\"}", 0 },
        { 200, NULL, "{\"status\":\"running\"}", 0 },
        { 200, NULL, "{\"status\":\"done\",\"result\":{\"href\":\"/orgs/1/datafiles/d2\"}}", 0 },
        { 200, NULL, NULL, 777 },
    };
    struct s_script s3 = S_SCRIPT(by_cap);
    T_OK(s_new(&s3, &pce));
    T_OK(fsg_pce_get_collection(pce, "/orgs/1/workloads", &arr, NULL));
    T_CHECK(json_array_size(arr) == 777);
    T_STR_EQ(s3.seen[2].url, S_BASE "/orgs/1/jobs/j2");
    T_CHECK(s3.n_sleeps == 3 && s3.sleeps[0] == 1000 && s3.sleeps[1] == 1500 &&
            s3.sleeps[2] == 2250);
    json_decref(arr);
    fsg_pce_destroy(pce);
    return 0;
}

/* Issue 11: a collection is verified whole, never assumed. A datafile shorter (or longer) than
 * the first answer's X-Total-Count, a sync answer without X-Total-Count (even of exactly 500),
 * or one with more items than its count all fail, naming the collection. */
static int s_short_reads_fail(void)
{
    static const struct s_step short_df[] = {
        { 200, "X-Total-Count: 500", NULL, 499 },
        { 202, "Location: /orgs/1/jobs/j9\nRetry-After: 1", NULL, 0 },
        { 200, NULL, "{\"status\":\"done\",\"result\":{\"href\":\"/orgs/1/datafiles/d9\"}}", 0 },
        { 200, "X-Request-Id: df-9", NULL, 480 },
    };
    struct s_script s = S_SCRIPT(short_df);
    struct fsg_pce *pce = NULL;
    json_t *arr = NULL;
    struct fsg_error err = { 0 };
    T_OK(s_new(&s, &pce));
    T_ERR(FSG_E_REMOTE, fsg_pce_get_collection(pce, "/orgs/1/sec_policy/7/rule_sets", &arr,
                                               &err));
    T_CHECK(strstr(err.msg, "PCE collection rule_sets: got 480 of 500 items (async job "
                            "/orgs/1/jobs/j9") != NULL);
    T_CHECK(strstr(err.msg, "nothing was changed") != NULL);
    T_STR_EQ(err.request_id, "df-9");
    T_CHECK(arr == NULL);
    fsg_pce_destroy(pce);

    static const struct s_step long_df[] = {
        { 200, "X-Total-Count: 600", NULL, 500 },
        { 202, "Location: /orgs/1/jobs/j8\nRetry-After: 1", NULL, 0 },
        { 200, NULL, "{\"status\":\"done\",\"result\":{\"href\":\"/orgs/1/datafiles/d8\"}}", 0 },
        { 200, NULL, NULL, 601 },
    };
    struct s_script s1 = S_SCRIPT(long_df);
    T_OK(s_new(&s1, &pce));
    T_ERR(FSG_E_REMOTE, fsg_pce_get_collection(pce, "/workloads?managed=false", &arr, &err));
    T_CHECK(strstr(err.msg, "PCE collection workloads: got 601 of 600 items") != NULL);
    fsg_pce_destroy(pce);

    struct {
        struct s_step step;
        const char *needle;
    } cases[] = {
        { { 200, NULL, NULL, 500 }, "PCE collection workloads: the answer to GET /orgs/1/workloads "
                                    "has no X-Total-Count header" },
        { { 200, NULL, NULL, 3 }, "no X-Total-Count header" },
        { { 200, NULL, "[]", 0 }, "no X-Total-Count header" },
        { { 200, "X-Total-Count: 2", NULL, 3 }, "returned 3 items but X-Total-Count says 2" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct s_script sc = { .steps = &cases[i].step, .n = 1 };
        T_OK(s_new(&sc, &pce));
        T_ERR(FSG_E_REMOTE, fsg_pce_get_collection(pce, "/orgs/1/workloads", &arr, &err));
        T_CHECK(strstr(err.msg, cases[i].needle) != NULL);
        T_CHECK(sc.n_seen == 1); /* no async detour: nothing to verify it against */
        T_CHECK(arr == NULL);
        fsg_pce_destroy(pce);
    }
    return 0;
}

/* Issue 12: the async wait is bounded by the run's deadline, not only by max_job_wait_s. */
static int s_deadline_bounds_job_wait(void)
{
    static const struct s_step steps[] = {
        { 200, "X-Total-Count: 900", NULL, 500 },
        { 202, "Location: /orgs/1/jobs/jd\nRetry-After: 2", NULL, 0 },
        { 200, "Retry-After: 2", "{\"status\":\"running\"}", 0 },
        { 200, "Retry-After: 2", "{\"status\":\"running\"}", 0 },
        { 200, "Retry-After: 2", "{\"status\":\"running\"}", 0 },
    };
    struct s_script s = S_SCRIPT(steps);
    s.now_ms = 1000000;
    struct fsg_pce_options o = s_opts(&s);
    o.deadline_ms = 1000000 + 5000; /* 5 s: two 2 s waits fit, the third does not */
    struct fsg_pce *pce = NULL;
    json_t *arr = NULL;
    struct fsg_error err = { 0 };
    T_OK(s_new_with(&s, &o, &pce, NULL));
    T_ERR(FSG_E_CANCELLED, fsg_pce_get_collection(pce, "/orgs/1/workloads", &arr, &err));
    T_CHECK(strstr(err.msg, "still running") != NULL && strstr(err.msg, "deadline") != NULL);
    T_CHECK(s.n_sleeps == 2 && s.n_seen == 4);
    T_CHECK(s.now_ms <= o.deadline_ms);
    T_CHECK(arr == NULL);

    /* Once the deadline has passed, nothing is sent at all. */
    size_t seen = s.n_seen;
    s.now_ms = o.deadline_ms + 1;
    T_ERR(FSG_E_CANCELLED, fsg_pce_get_collection(pce, "/orgs/1/labels", &arr, &err));
    T_CHECK(strstr(err.msg, "not sent") != NULL);
    T_CHECK(s.n_seen == seen);
    /* A new deadline (the next Lambda invocation) lets it work again; 0 = none. */
    fsg_pce_set_deadline(pce, 0);
    T_ERR(FSG_E_PARSE, fsg_pce_get_collection(pce, "/orgs/1/labels", &arr, &err));
    T_CHECK(s.n_seen == seen + 1);
    fsg_pce_destroy(pce);

    /* The process-wide run deadline (lib/core/deadline) bounds the client as well. */
    static const struct s_step none[] = { { 200, "X-Total-Count: 0", "[]", 0 } };
    struct s_script s1 = S_SCRIPT(none);
    T_OK(s_new(&s1, &pce));
    fsg_run_deadline_set(fsg_deadline_in_ms(0));
    T_ERR(FSG_E_CANCELLED, fsg_pce_get_collection(pce, "/orgs/1/labels", &arr, &err));
    T_CHECK(s1.n_seen == 0 && strstr(err.msg, "not sent") != NULL);
    fsg_run_deadline_set(FSG_DEADLINE_NONE);
    T_OK(fsg_pce_get_collection(pce, "/orgs/1/labels", &arr, &err));
    json_decref(arr);
    arr = NULL;
    fsg_pce_destroy(pce);

    /* A 429 whose retry would pass the deadline stops. */
    static const struct s_step rl[] = { { 429, "Retry-After: 10", NULL, 0 } };
    struct s_script s2 = S_SCRIPT(rl);
    o = s_opts(&s2);
    o.deadline_ms = 3000;
    T_OK(s_new_with(&s2, &o, &pce, NULL));
    T_ERR(FSG_E_CANCELLED, fsg_pce_get_collection(pce, "/orgs/1/labels", &arr, &err));
    T_CHECK(strstr(err.msg, "HTTP 429") != NULL && s2.n_sleeps == 0);
    fsg_pce_destroy(pce);
    return 0;
}

/* Issue 12: server text that echoes credentials is redacted before it reaches a message, and
 * user:password@ in the url is refused without printing it. */
static int s_redaction(void)
{
    static const struct s_step steps[] = {
        { 500, NULL, "{\"request\":{\"headers\":{\"Authorization\":"
                     "\"Basic YXBpXzFhMmIzYzRkNWU2ZjdnOlN1cDNyUzNjcmV0IQ==\"}}}", 0 },
        { 500, NULL, "[{\"token\":\"internal_error\",\"message\":\"bad auth "
                     "api_1a2b3c4d5e6f7g:Sup3rS3cret! via https://u:Sup3rS3cret!@x/\"}]", 0 },
        { 502, "Retry-After: 0", "Authorization: Bearer abcdefghijklmnopqrstuvwxyz", 0 },
        { 500, NULL, "Authorization: Bearer abcdefghijklmnopqrstuvwxyz", 0 },
    };
    struct s_script s = S_SCRIPT(steps);
    struct fsg_pce_options o = s_opts(&s);
    o.max_retries = 1;
    struct fsg_pce *pce = NULL;
    json_t *v = NULL;
    struct fsg_error err = { 0 };
    T_OK(s_new_with(&s, &o, &pce, NULL));
    T_ERR(FSG_E_REMOTE, fsg_pce_get(pce, "/orgs/1/labels/1", &v, &err));
    T_CHECK(s_no_secret(&err));
    T_CHECK(strstr(err.msg, "***") != NULL && strstr(err.msg, "Authorization") != NULL);
    T_ERR(FSG_E_REMOTE, fsg_pce_get(pce, "/orgs/1/labels/1", &v, &err));
    T_CHECK(s_no_secret(&err));
    T_CHECK(strstr(err.msg, "api_1a2b3c4d5e6f7g:***") != NULL);
    T_CHECK(strstr(err.msg, "https://***@x/") != NULL);
    T_ERR(FSG_E_REMOTE, fsg_pce_get(pce, "/orgs/1/labels/1", &v, &err));
    T_CHECK(strstr(err.msg, "abcdefghijkl") == NULL && strstr(err.msg, "***") != NULL);
    fsg_pce_destroy(pce);

    o = s_opts(&s);
    o.url = "https://api_x:Sup3rS3cret!@pce.test:8443";
    T_ERR(FSG_E_INVALID_ARG, s_new_with(&s, &o, &pce, &err));
    T_CHECK(strstr(err.msg, "user:password@") != NULL);
    T_CHECK(strstr(err.msg, "https://***@pce.test:8443") != NULL);
    T_CHECK(strstr(err.msg, "Sup3rS3cret!") == NULL && strstr(err.msg, "api_x") == NULL);
    o.url = "http://u:Sup3rS3cret!@pce.test:8443";
    T_ERR(FSG_E_INVALID_ARG, s_new_with(&s, &o, &pce, &err));
    T_CHECK(strstr(err.msg, "Sup3rS3cret!") == NULL);
    return 0;
}

/* True when none of the credential's forms is anywhere in the error (message and fields). */
static bool s_error_clean(const struct fsg_error *err)
{
    static const char *const forms[] = { "Sup3r", "S3cret", "YXBpXzFh", "cjNyUzNj" };
    const char *const fields[] = { err->msg, err->service_code, err->request_id };
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
            if (strstr(fields[f], forms[k]) != NULL) {
                fprintf(stderr, "  credential '%s' in error field %zu: %s\n", forms[k], f,
                        fields[f]);
                return false;
            }
        }
    }
    return true;
}

/* One mechanism (lib/core/redact): a 401/406 that quotes the secret, the Basic token or the
 * Authorization header, in the message, the token (service code) or X-Request-Id, is redacted;
 * and server text cut to fit the message is redacted before the cut, so a credential straddling
 * it leaves no part behind. */
static int s_redaction_central(void)
{
    static char straddle_secret[400];
    static char straddle_token[400];
    /* 299 bytes of body text are kept: the cut falls 3 bytes into the secret, 2 into the token */
    snprintf(straddle_secret, sizeof straddle_secret, "%.*s%s and more", 296,
             "rejected:::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::"
             ":::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::"
             ":::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::"
             ":::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::",
             S_SECRET);
    snprintf(straddle_token, sizeof straddle_token, "%.*s Basic %s", 290, straddle_secret,
             "YXBpXzFhMmIzYzRkNWU2ZjdnOlN1cDNyUzNjcmV0IQ==");
    const struct s_step steps[] = {
        { 406, "X-Request-Id: req-Sup3rS3cret!",
          "[{\"token\":\"" S_SECRET "\",\"message\":\"api key " S_KEY " with secret " S_SECRET
          " and header Basic YXBpXzFhMmIzYzRkNWU2ZjdnOlN1cDNyUzNjcmV0IQ== refused\"}]", 0 },
        { 401, NULL, "[{\"token\":\"basic YXBpXzFhMmIzYzRkNWU2ZjdnOlN1cDNyUzNjcmV0IQ==\","
                     "\"message\":\"authorization-header was basic "
                     "YXBpXzFhMmIzYzRkNWU2ZjdnOlN1cDNyUzNjcmV0IQ==\"}]", 0 },
        { 406, NULL, straddle_secret, 0 },
        { 406, NULL, straddle_token, 0 },
    };
    struct s_script s = S_SCRIPT(steps);
    struct fsg_pce *pce = NULL;
    json_t *v = NULL;
    struct fsg_error err = { 0 };
    T_OK(s_new(&s, &pce));
    T_ERR(FSG_E_REJECTED, fsg_pce_get(pce, "/orgs/1/labels/1", &v, &err));
    T_CHECK(s_error_clean(&err));
    T_CHECK(strstr(err.msg, "HTTP 406") != NULL && strstr(err.msg, "with secret ***") != NULL);
    T_STR_EQ(err.service_code, "***");
    T_STR_EQ(err.request_id, "req-***");
    T_ERR(FSG_E_AUTH, fsg_pce_get(pce, "/orgs/1/labels/1", &v, &err));
    T_CHECK(s_error_clean(&err));
    T_CHECK(strstr(err.msg, "HTTP 401") != NULL);
    T_ERR(FSG_E_REJECTED, fsg_pce_get(pce, "/orgs/1/labels/1", &v, &err));
    T_CHECK(s_error_clean(&err) && strstr(err.msg, "Sup") == NULL);
    T_CHECK(strstr(err.msg, "rejected:::") != NULL);
    T_ERR(FSG_E_REJECTED, fsg_pce_get(pce, "/orgs/1/labels/1", &v, &err));
    T_CHECK(s_error_clean(&err) && strstr(err.msg, "Basic YX") == NULL);
    fsg_pce_destroy(pce);
    return 0;
}

static int s_async_job_fails(void)
{
    static const struct s_step steps[] = {
        { 200, "X-Total-Count: 900", NULL, 500 },
        { 202, "Location: /orgs/1/jobs/j3\nRetry-After: 1", NULL, 0 },
        { 200, "X-Request-Id: job-req-9",
          "{\"href\":\"/orgs/1/jobs/j3\",\"status\":\"failed\",\"result\":{}}", 0 },
    };
    struct s_script s = S_SCRIPT(steps);
    struct fsg_pce *pce = NULL;
    json_t *arr = NULL;
    struct fsg_error err = { 0 };
    T_OK(s_new(&s, &pce));
    T_ERR(FSG_E_REMOTE, fsg_pce_get_collection(pce, "/orgs/1/workloads", &arr, &err));
    T_CHECK(arr == NULL);
    T_CHECK(strstr(err.msg, "/orgs/1/jobs/j3") != NULL);
    T_CHECK(strstr(err.msg, "failed") != NULL);
    T_STR_EQ(err.request_id, "job-req-9");
    fsg_pce_destroy(pce);
    return 0;
}

/* A job that never finishes stops at max_job_wait_s; no result is fetched. */
static int s_async_job_times_out(void)
{
    static const struct s_step steps[] = {
        { 200, "X-Total-Count: 900", NULL, 500 },
        { 202, "Location: /orgs/1/jobs/j4\nRetry-After: 2", NULL, 0 },
        { 200, "Retry-After: 2", "{\"status\":\"running\"}", 0 },
        { 200, "Retry-After: 2", "{\"status\":\"running\"}", 0 },
        { 200, "Retry-After: 2", "{\"status\":\"running\"}", 0 },
    };
    struct s_script s = S_SCRIPT(steps);
    struct fsg_pce_options o = s_opts(&s);
    o.max_job_wait_s = 6;
    struct fsg_pce *pce = NULL;
    json_t *arr = NULL;
    struct fsg_error err = { 0 };
    T_OK(s_new_with(&s, &o, &pce, NULL));
    T_ERR(FSG_E_REMOTE, fsg_pce_get_collection(pce, "/orgs/1/workloads", &arr, &err));
    T_CHECK(strstr(err.msg, "did not finish within 6 s") != NULL);
    T_CHECK(s.n_seen == 5 && s.n_sleeps == 3);
    T_CHECK(arr == NULL);
    fsg_pce_destroy(pce);
    return 0;
}

#define S_TC600 "X-Total-Count: 600"

/* Async answers that cannot be followed. */
static int s_async_bad_answers(void)
{
    struct {
        struct s_step steps[3];
        enum fsg_err code;
        const char *needle;
    } cases[] = {
        { { { 200, S_TC600, NULL, 500 }, { 202, NULL, NULL, 0 } }, FSG_E_PARSE, "without a Location" },
        { { { 200, S_TC600, NULL, 500 }, { 200, NULL, NULL, 500 } }, FSG_E_REMOTE, "expected 202" },
        { { { 200, S_TC600, NULL, 500 },
            { 202, "Location: https://evil.test/api/v2/orgs/1/jobs/x", NULL, 0 } },
          FSG_E_REMOTE, "refusing to send credentials" },
        { { { 200, S_TC600, NULL, 500 }, { 202, "Location: /orgs/1/jobs/j\nRetry-After: 0", NULL, 0 },
            { 200, NULL, "{\"status\":\"done\",\"result\":{}}", 0 } },
          FSG_E_PARSE, "no result href" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct s_script s = { .steps = cases[i].steps, .n = 3 };
        struct fsg_pce *pce = NULL;
        json_t *arr = NULL;
        struct fsg_error err = { 0 };
        T_OK(s_new(&s, &pce));
        T_ERR(cases[i].code, fsg_pce_get_collection(pce, "/orgs/1/workloads", &arr, &err));
        T_CHECK(strstr(err.msg, cases[i].needle) != NULL);
        T_CHECK(arr == NULL);
        fsg_pce_destroy(pce);
    }
    return 0;
}

static int s_rate_limit_honoured(void)
{
    static const struct s_step steps[] = {
        { 429, "Retry-After: 3", NULL, 0 },
        { 429, NULL, "[{\"token\":\"too_many_requests_error\",\"message\":\"slow down\"}]", 0 },
        { 429, "Retry-After: 7200", NULL, 0 },
        { 200, "X-Total-Count: 1", NULL, 1 },
    };
    struct s_script s = S_SCRIPT(steps);
    struct fsg_pce *pce = NULL;
    json_t *arr = NULL;
    T_OK(s_new(&s, &pce));
    T_OK(fsg_pce_get_collection(pce, "/orgs/1/labels", &arr, NULL));
    T_CHECK(json_array_size(arr) == 1);
    /* Retry-After 3 s; none -> backoff 2^1 s; 7200 s is clamped to 60 s. */
    T_CHECK(s.n_sleeps == 3);
    T_CHECK(s.sleeps[0] == 3000 && s.sleeps[1] == 2000 && s.sleeps[2] == 60000);
    T_CHECK(s.n_seen == 4);
    json_decref(arr);
    fsg_pce_destroy(pce);
    return 0;
}

static int s_rate_limit_storm_fails(void)
{
    static const struct s_step steps[] = {
        { 429, "X-Request-Id: rl-1", NULL, 0 }, { 429, "X-Request-Id: rl-2", NULL, 0 },
        { 429, "X-Request-Id: rl-3", NULL, 0 }, { 429, "X-Request-Id: rl-4", NULL, 0 },
    };
    struct s_script s = S_SCRIPT(steps);
    struct fsg_pce_options o = s_opts(&s);
    o.max_retries = 3;
    struct fsg_pce *pce = NULL;
    json_t *arr = NULL;
    struct fsg_error err = { 0 };
    T_OK(s_new_with(&s, &o, &pce, NULL));
    T_ERR(FSG_E_THROTTLED, fsg_pce_get_collection(pce, "/orgs/1/labels", &arr, &err));
    T_CHECK(s.n_seen == 4 && s.n_sleeps == 3);
    T_CHECK(s.sleeps[0] == 1000 && s.sleeps[1] == 2000 && s.sleeps[2] == 4000);
    T_CHECK(err.http_status == 429);
    T_STR_EQ(err.request_id, "rl-4");
    T_CHECK(strstr(err.msg, "after 3 retries") != NULL);
    T_CHECK(arr == NULL);
    fsg_pce_destroy(pce);
    return 0;
}

/* 503 on a GET is retried; 500 is not. */
static int s_server_errors(void)
{
    static const struct s_step steps[] = {
        { 503, "Retry-After: 0", NULL, 0 },
        { 200, NULL, "{\"href\":\"/orgs/1/labels/1\"}", 0 },
        { 500, "X-Request-Id: boom-1", "<html>Internal Server Error</html>", 0 },
    };
    struct s_script s = S_SCRIPT(steps);
    struct fsg_pce *pce = NULL;
    json_t *v = NULL;
    struct fsg_error err = { 0 };
    T_OK(s_new(&s, &pce));
    T_OK(fsg_pce_get(pce, "/orgs/1/labels/1", &v, NULL));
    T_CHECK(json_is_object(v));
    json_decref(v);
    v = NULL;
    T_ERR(FSG_E_REMOTE, fsg_pce_get(pce, "/labels/1", &v, &err));
    T_STR_EQ(s.seen[2].url, S_BASE "/orgs/1/labels/1");
    T_CHECK(err.http_status == 500);
    T_STR_EQ(err.request_id, "boom-1");
    T_CHECK(strstr(err.msg, "HTTP 500") != NULL);
    T_CHECK(strstr(err.msg, "Internal Server Error") != NULL);
    T_CHECK(v == NULL);
    fsg_pce_destroy(pce);
    return 0;
}

static int s_406_bodies_decoded(void)
{
    static const struct s_step steps[] = {
        { 406, "X-Request-Id: req-406",
          "[{\"token\":\"input_validation_error\",\"message\":\"Input validation failed\"},"
          "{\"token\":\"not_acceptable_error\",\"message\":\"no draft version\"}]", 0 },
        { 406, NULL, "{\"token\":\"label_already_deleted\",\"message\":\"Cannot delete\"}", 0 },
        { 406, NULL, "{\"error\":\"old style\"}", 0 },
        { 406, NULL, "", 0 },
    };
    struct s_script s = S_SCRIPT(steps);
    struct fsg_pce *pce = NULL;
    json_t *v = NULL;
    struct fsg_error err = { 0 };
    T_OK(s_new(&s, &pce));
    T_ERR(FSG_E_REJECTED, fsg_pce_get_collection(pce, "/orgs/1/labels", &v, &err));
    T_CHECK(strstr(err.msg, "input_validation_error: Input validation failed; "
                            "not_acceptable_error: no draft version") != NULL);
    T_STR_EQ(err.service_code, "input_validation_error");
    T_STR_EQ(err.request_id, "req-406");
    T_CHECK(err.http_status == 406);
    T_CHECK(strstr(err.msg, "GET /orgs/1/labels") != NULL);
    T_ERR(FSG_E_REJECTED, fsg_pce_get_collection(pce, "/orgs/1/labels", &v, &err));
    T_CHECK(strstr(err.msg, "label_already_deleted: Cannot delete") != NULL);
    T_ERR(FSG_E_REJECTED, fsg_pce_get_collection(pce, "/orgs/1/labels", &v, &err));
    T_CHECK(strstr(err.msg, "old style") != NULL);
    T_STR_EQ(err.service_code, "");
    T_ERR(FSG_E_REJECTED, fsg_pce_get_collection(pce, "/orgs/1/labels", &v, &err));
    T_CHECK(strstr(err.msg, "HTTP 406") != NULL);
    T_CHECK(v == NULL);
    fsg_pce_destroy(pce);
    return 0;
}

static int s_auth_errors(void)
{
    static const struct s_step steps[] = {
        { 401, "X-Request-Id: a401", NULL, 0 },
        { 403, NULL, NULL, 0 },
        { 404, NULL, "[{\"token\":\"not_found\",\"message\":\"Not Found\"}]", 0 },
    };
    struct s_script s = S_SCRIPT(steps);
    struct fsg_pce_options o = s_opts(&s);
    o.api_key = NULL;
    o.api_secret = NULL;
    o.key_env = "FSG_TEST_PCE_KEY";
    o.secret_env = "FSG_TEST_PCE_SECRET";
    T_CHECK(setenv("FSG_TEST_PCE_KEY", S_KEY, 1) == 0);
    T_CHECK(setenv("FSG_TEST_PCE_SECRET", S_SECRET, 1) == 0);
    struct fsg_pce *pce = NULL;
    json_t *v = NULL;
    struct fsg_error err = { 0 };
    T_OK(s_new_with(&s, &o, &pce, NULL));
    T_ERR(FSG_E_AUTH, fsg_pce_get_collection(pce, "/orgs/1/labels", &v, &err));
    T_CHECK(strstr(err.msg, "HTTP 401") != NULL);
    T_CHECK(strstr(err.msg, "FSG_TEST_PCE_KEY/FSG_TEST_PCE_SECRET") != NULL);
    T_CHECK(s_no_secret(&err));
    T_STR_EQ(err.request_id, "a401");
    T_STR_EQ(s.seen[0].auth, "Basic YXBpXzFhMmIzYzRkNWU2ZjdnOlN1cDNyUzNjcmV0IQ==");
    T_ERR(FSG_E_AUTH, fsg_pce_get_collection(pce, "/orgs/1/labels", &v, &err));
    T_CHECK(strstr(err.msg, "HTTP 403") != NULL && strstr(err.msg, "org_id 1") != NULL);
    T_ERR(FSG_E_NOT_FOUND, fsg_pce_get(pce, "/orgs/1/labels/99", &v, &err));
    T_CHECK(strstr(err.msg, "not_found: Not Found") != NULL);
    T_CHECK(s_no_secret(&err));
    T_CHECK(v == NULL);
    fsg_pce_destroy(pce);
    unsetenv("FSG_TEST_PCE_KEY");
    unsetenv("FSG_TEST_PCE_SECRET");
    return 0;
}

static int s_credentials_and_url(void)
{
    struct s_script s = { 0 };
    struct fsg_pce_options o = s_opts(&s);
    struct fsg_pce *pce = NULL;
    struct fsg_error err = { 0 };

    /* Missing environment variable: named, with what to do. */
    o.api_key = NULL;
    o.key_env = "FSG_TEST_NO_SUCH_KEY";
    unsetenv("FSG_TEST_NO_SUCH_KEY");
    T_ERR(FSG_E_INVALID_ARG, s_new_with(&s, &o, &pce, &err));
    T_CHECK(strstr(err.msg, "FSG_TEST_NO_SUCH_KEY") != NULL);
    T_CHECK(pce == NULL);

    /* Key from a file (first line, trailing whitespace dropped). */
    char path[] = "/tmp/fsg_test_pce_key_XXXXXX";
    int fd = mkstemp(path);
    T_CHECK(fd >= 0);
    T_CHECK(write(fd, "ab  \nignored\n", 13) == 13);
    close(fd);
    o.key_file = path;
    o.api_secret = "cd";
    static const struct s_step steps[] = { { 200, NULL, "{}", 0 } };
    s = (struct s_script)S_SCRIPT(steps);
    T_OK(s_new_with(&s, &o, &pce, NULL));
    json_t *v = NULL;
    T_OK(fsg_pce_get(pce, "/orgs/1/settings/workloads", &v, NULL));
    T_STR_EQ(s.seen[0].auth, "Basic YWI6Y2Q=");
    json_decref(v);
    fsg_pce_destroy(pce);
    pce = NULL;
    T_CHECK(truncate(path, 0) == 0);
    T_ERR(FSG_E_INVALID_ARG, s_new_with(&s, &o, &pce, &err));
    T_CHECK(strstr(err.msg, "is empty") != NULL);
    unlink(path);
    T_ERR(FSG_E_INVALID_ARG, s_new_with(&s, &o, &pce, &err));
    T_CHECK(strstr(err.msg, path) != NULL);

    /* URLs: https only; "/api/v2" and trailing slashes are accepted. */
    o = s_opts(&s);
    o.url = "http://pce.test:8443";
    T_ERR(FSG_E_INVALID_ARG, s_new_with(&s, &o, &pce, &err));
    T_CHECK(strstr(err.msg, "https://") != NULL);
    o.url = "https://";
    T_ERR(FSG_E_INVALID_ARG, s_new_with(&s, &o, &pce, &err));
    o.url = NULL;
    T_ERR(FSG_E_INVALID_ARG, s_new_with(&s, &o, &pce, &err));
    o.url = "https://pce.test:8443/api/v2/";
    o.org_id = 0;
    T_ERR(FSG_E_INVALID_ARG, s_new_with(&s, &o, &pce, &err));
    o.org_id = 7;
    static const struct s_step steps2[] = { { 200, "X-Total-Count: 0", "[]", 0 } };
    s = (struct s_script)S_SCRIPT(steps2);
    T_OK(s_new_with(&s, &o, &pce, NULL));
    T_OK(fsg_pce_get_collection(pce, "/labels", &v, NULL));
    T_STR_EQ(s.seen[0].url, "https://pce.test:8443/api/v2/orgs/7/labels");
    json_decref(v);
    fsg_pce_destroy(pce);
    T_CHECK(pce != NULL);
    return 0;
}

/* A cut transfer, a non-array, junk JSON or a bad X-Total-Count never pass as a collection. */
static int s_bad_collections(void)
{
    struct {
        struct s_step step;
        enum fsg_err code;
        const char *needle;
    } cases[] = {
        { { 0, NULL, NULL, 0 }, FSG_E_NETWORK, "transfer closed" },
        { { 200, NULL, "{\"href\":\"x\"}", 0 }, FSG_E_PARSE, "collection (array)" },
        { { 200, "X-Request-Id: junk-1", "[{\"href\":", 0 }, FSG_E_PARSE, "unusable JSON" },
        { { 200, "X-Total-Count: lots", "[]", 0 }, FSG_E_PARSE, "X-Total-Count" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct s_script s = { .steps = &cases[i].step, .n = 1 };
        struct fsg_pce *pce = NULL;
        json_t *arr = NULL;
        struct fsg_error err = { 0 };
        T_OK(s_new(&s, &pce));
        T_ERR(cases[i].code, fsg_pce_get_collection(pce, "/orgs/1/workloads", &arr, &err));
        T_CHECK(strstr(err.msg, cases[i].needle) != NULL);
        T_CHECK(strstr(err.msg, "GET /orgs/1/workloads") != NULL);
        T_CHECK(arr == NULL);
        T_CHECK(s.n_seen == 1); /* a network failure is not retried */
        fsg_pce_destroy(pce);
    }
    return 0;
}

#define S_VERSIONS_7 "[{\"href\":\"/orgs/1/sec_policy/7\",\"version\":7}," \
                     "{\"href\":\"/orgs/1/sec_policy/6\",\"version\":6}]"
#define S_VERSIONS_8 "[{\"href\":\"/orgs/1/sec_policy/8\",\"version\":8}," \
                     "{\"href\":\"/orgs/1/sec_policy/7\",\"version\":7}]"
#define S_RULE_SET_7 "[{\"href\":\"/orgs/1/sec_policy/7/rule_sets/24\",\"rules\":[{\"href\":" \
                     "\"/orgs/1/sec_policy/7/rule_sets/24/sec_rules/41\",\"consumers\":[{" \
                     "\"ip_list\":{\"href\":\"/orgs/1/sec_policy/7/ip_lists/3\"}}]}]}]"

/* Issue 11: one pinned version. The latest provisioned version is read first, every versioned
 * collection from sec_policy/7/, the version list again at the end; the bundle's hrefs read
 * sec_policy/active/ and "policy_version" is "7". */
static int s_fetch_policy(void)
{
    static const struct s_step steps[] = {
        { 200, "X-Total-Count: 2", S_VERSIONS_7, 0 },
        { 200, "X-Total-Count: 2", NULL, 2 }, { 200, "X-Total-Count: 1", NULL, 1 },
        { 200, "X-Total-Count: 3", NULL, 3 }, { 200, "X-Total-Count: 1", S_RULE_SET_7, 0 },
        { 200, "X-Total-Count: 1", NULL, 1 }, { 200, "X-Total-Count: 1", NULL, 1 },
        { 200, "X-Total-Count: 1", NULL, 1 }, { 200, "X-Total-Count: 1", NULL, 1 },
        { 200, "X-Total-Count: 2", S_VERSIONS_7, 0 },
    };
    static const char *const urls[] = {
        S_BASE "/orgs/1/sec_policy",
        S_BASE "/orgs/1/labels",
        S_BASE "/orgs/1/sec_policy/7/label_groups",
        S_BASE "/orgs/1/workloads",
        S_BASE "/orgs/1/sec_policy/7/rule_sets",
        S_BASE "/orgs/1/sec_policy/7/ip_lists",
        S_BASE "/orgs/1/sec_policy/7/services",
        S_BASE "/orgs/1/sec_policy/7/virtual_services"
               "?representation=virtual_service_labels_services_and_workloads",
        S_BASE "/orgs/1/service_bindings",
        S_BASE "/orgs/1/sec_policy",
    };
    struct s_script s = S_SCRIPT(steps);
    struct fsg_pce *pce = NULL;
    json_t *bundle = NULL;
    T_OK(s_new(&s, &pce));
    T_OK(fsg_pce_fetch_policy(pce, true, &bundle, NULL));
    T_CHECK(s.n_seen == 10);
    T_CHECK(json_object_size(bundle) == 9);
    T_CHECK(json_array_size(json_object_get(bundle, "workloads")) == 3);
    T_CHECK(json_array_size(json_object_get(bundle, "labels")) == 2);
    static const char *const keys[] = { "labels",   "label_groups",     "workloads",
                                        "rule_sets", "ip_lists",        "services",
                                        "virtual_services", "service_bindings" };
    for (size_t i = 0; i < 8; i++) {
        T_CHECK(json_is_array(json_object_get(bundle, keys[i])));
    }
    for (size_t i = 0; i < 10; i++) {
        T_STR_EQ(s.seen[i].url, urls[i]);
    }
    const char *ver = NULL;
    T_OK(fsg_pce_bundle_version(bundle, &ver, NULL));
    T_STR_EQ(ver, "7");
    json_t *rs = json_array_get(json_object_get(bundle, "rule_sets"), 0);
    T_STR_EQ(json_string_value(json_object_get(rs, "href")),
             "/orgs/1/sec_policy/active/rule_sets/24");
    json_t *rule = json_array_get(json_object_get(rs, "rules"), 0);
    T_STR_EQ(json_string_value(json_object_get(rule, "href")),
             "/orgs/1/sec_policy/active/rule_sets/24/sec_rules/41");
    T_STR_EQ(json_string_value(json_object_get(json_object_get(json_array_get(
                 json_object_get(rule, "consumers"), 0), "ip_list"), "href")),
             "/orgs/1/sec_policy/active/ip_lists/3");
    json_decref(bundle);
    fsg_pce_destroy(pce);

    /* Draft reads the draft tree, no version list; labels and workloads are not versioned. */
    static const struct s_step draft[] = {
        { 200, "X-Total-Count: 2", NULL, 2 }, { 200, "X-Total-Count: 1", NULL, 1 },
        { 200, "X-Total-Count: 3", NULL, 3 }, { 200, "X-Total-Count: 1", NULL, 1 },
        { 200, "X-Total-Count: 1", NULL, 1 }, { 200, "X-Total-Count: 1", NULL, 1 },
        { 200, "X-Total-Count: 1", NULL, 1 }, { 200, "X-Total-Count: 0", "[]", 0 },
    };
    struct s_script s2 = S_SCRIPT(draft);
    bundle = NULL;
    T_OK(s_new(&s2, &pce));
    T_OK(fsg_pce_fetch_policy(pce, false, &bundle, NULL));
    T_STR_EQ(s2.seen[0].url, S_BASE "/orgs/1/labels");
    T_STR_EQ(s2.seen[3].url, S_BASE "/orgs/1/sec_policy/draft/rule_sets");
    T_OK(fsg_pce_bundle_version(bundle, &ver, NULL));
    T_STR_EQ(ver, "draft");
    json_decref(bundle);
    fsg_pce_destroy(pce);

    /* A PCE that never provisioned: sec_policy/active, version null. */
    static const struct s_step none[] = {
        { 200, "X-Total-Count: 0", "[]", 0 },
        { 200, "X-Total-Count: 0", "[]", 0 }, { 200, "X-Total-Count: 0", "[]", 0 },
        { 200, "X-Total-Count: 0", "[]", 0 }, { 200, "X-Total-Count: 0", "[]", 0 },
        { 200, "X-Total-Count: 0", "[]", 0 }, { 200, "X-Total-Count: 0", "[]", 0 },
        { 200, "X-Total-Count: 0", "[]", 0 }, { 200, "X-Total-Count: 0", "[]", 0 },
        { 200, "X-Total-Count: 0", "[]", 0 },
    };
    struct s_script s3 = S_SCRIPT(none);
    T_OK(s_new(&s3, &pce));
    T_OK(fsg_pce_fetch_policy(pce, true, &bundle, NULL));
    T_STR_EQ(s3.seen[4].url, S_BASE "/orgs/1/sec_policy/active/rule_sets");
    T_OK(fsg_pce_bundle_version(bundle, &ver, NULL));
    T_CHECK(ver == NULL && json_is_null(json_object_get(bundle, "policy_version")));
    json_decref(bundle);
    fsg_pce_destroy(pce);
    return 0;
}

/* Issue 11: a provision during the read, or an answer of another version, fails the fetch. */
static int s_fetch_policy_mixed(void)
{
    static const struct s_step provisioned[] = {
        { 200, "X-Total-Count: 2", S_VERSIONS_7, 0 },
        { 200, "X-Total-Count: 2", NULL, 2 }, { 200, "X-Total-Count: 1", NULL, 1 },
        { 200, "X-Total-Count: 3", NULL, 3 }, { 200, "X-Total-Count: 1", S_RULE_SET_7, 0 },
        { 200, "X-Total-Count: 1", NULL, 1 }, { 200, "X-Total-Count: 1", NULL, 1 },
        { 200, "X-Total-Count: 1", NULL, 1 }, { 200, "X-Total-Count: 0", "[]", 0 },
        { 200, "X-Total-Count: 2", S_VERSIONS_8, 0 },
    };
    struct s_script s = S_SCRIPT(provisioned);
    struct fsg_pce *pce = NULL;
    json_t *sentinel = json_object();
    json_t *bundle = sentinel;
    struct fsg_error err = { 0 };
    T_OK(s_new(&s, &pce));
    T_ERR(FSG_E_CONFLICT, fsg_pce_fetch_policy(pce, true, &bundle, &err));
    T_CHECK(strstr(err.msg, "provisioned policy version 8 while flowseg read version 7") != NULL);
    T_CHECK(strstr(err.msg, "nothing was changed") != NULL);
    T_CHECK(bundle == sentinel);
    fsg_pce_destroy(pce);

    /* A PCE (or proxy) that answers another version than the one asked for. */
    static const struct s_step other[] = {
        { 200, "X-Total-Count: 2", S_VERSIONS_8, 0 },
        { 200, "X-Total-Count: 2", NULL, 2 }, { 200, "X-Total-Count: 1", NULL, 1 },
        { 200, "X-Total-Count: 3", NULL, 3 }, { 200, "X-Total-Count: 1", S_RULE_SET_7, 0 },
    };
    struct s_script s2 = S_SCRIPT(other);
    T_OK(s_new(&s2, &pce));
    T_ERR(FSG_E_CONFLICT, fsg_pce_fetch_policy(pce, true, &bundle, &err));
    T_CHECK(strstr(err.msg, "reading policy version 8 rule_sets from the PCE: ") == err.msg);
    T_CHECK(strstr(err.msg, "mixes policy versions") != NULL);
    T_CHECK(bundle == sentinel);
    T_CHECK(s2.n_seen == 5);
    fsg_pce_destroy(pce);

    /* Active hrefs at a pinned version are accepted (the form is not documented); draft or
     * another number is not. */
    static const struct s_step draft_href[] = {
        { 200, "X-Total-Count: 2", S_VERSIONS_7, 0 },
        { 200, "X-Total-Count: 2", NULL, 2 }, { 200, "X-Total-Count: 1", NULL, 1 },
        { 200, "X-Total-Count: 3", NULL, 3 },
        { 200, "X-Total-Count: 1", "[{\"href\":\"/orgs/1/sec_policy/active/rule_sets/2\","
                                   "\"x\":\"/orgs/1/sec_policy/draft/ip_lists/1\"}]", 0 },
    };
    struct s_script s4 = S_SCRIPT(draft_href);
    T_OK(s_new(&s4, &pce));
    T_ERR(FSG_E_CONFLICT, fsg_pce_fetch_policy(pce, true, &bundle, &err));
    T_CHECK(strstr(err.msg, "/orgs/1/sec_policy/draft/ip_lists/1 is not of policy version 7"));
    fsg_pce_destroy(pce);

    /* A version list entry without a version. */
    static const struct s_step junk[] = { { 200, "X-Total-Count: 1", "[{\"href\":\"x\"}]", 0 } };
    struct s_script s3 = S_SCRIPT(junk);
    T_OK(s_new(&s3, &pce));
    T_ERR(FSG_E_PARSE, fsg_pce_fetch_policy(pce, true, &bundle, &err));
    T_CHECK(strstr(err.msg, "latest policy version") != NULL);
    fsg_pce_destroy(pce);

    /* The bundle's version: a string, null/absent, or an error. */
    const char *ver = "x";
    T_OK(fsg_pce_bundle_version(sentinel, &ver, NULL));
    T_CHECK(ver == NULL);
    json_object_set_new(sentinel, "policy_version", json_integer(3));
    T_ERR(FSG_E_PARSE, fsg_pce_bundle_version(sentinel, &ver, &err));
    json_decref(sentinel);
    return 0;
}

/* All or nothing: one failed collection fails the fetch and leaves *ret_bundle alone. */
static int s_fetch_policy_all_or_nothing(void)
{
    static const struct s_step steps[] = {
        { 200, "X-Total-Count: 2", S_VERSIONS_7, 0 },
        { 200, "X-Total-Count: 2", NULL, 2 },
        { 200, "X-Total-Count: 1", NULL, 1 },
        { 200, "X-Total-Count: 600", NULL, 500 },
        { 202, "Location: /orgs/1/jobs/w\nRetry-After: 1", NULL, 0 },
        { 200, NULL, "{\"status\":\"failed\"}", 0 },
    };
    struct s_script s = S_SCRIPT(steps);
    struct fsg_pce *pce = NULL;
    json_t *sentinel = json_object();
    json_t *bundle = sentinel;
    struct fsg_error err = { 0 };
    T_OK(s_new(&s, &pce));
    T_ERR(FSG_E_REMOTE, fsg_pce_fetch_policy(pce, true, &bundle, &err));
    T_CHECK(bundle == sentinel);
    T_CHECK(strncmp(err.msg, "reading workloads from the PCE: ", 32) == 0);
    T_CHECK(s.n_seen == 6);
    fsg_pce_destroy(pce);

    static const struct s_step cut[] = {
        { 200, "X-Total-Count: 2", S_VERSIONS_7, 0 },
        { 200, "X-Total-Count: 2", NULL, 2 },
        { 0, NULL, NULL, 0 },
    };
    struct s_script s2 = S_SCRIPT(cut);
    T_OK(s_new(&s2, &pce));
    T_ERR(FSG_E_NETWORK, fsg_pce_fetch_policy(pce, true, &bundle, &err));
    T_CHECK(bundle == sentinel);
    T_CHECK(strstr(err.msg, "reading policy version 7 label_groups from the PCE: ") == err.msg);
    fsg_pce_destroy(pce);
    json_decref(sentinel);
    return 0;
}

static int s_post_traffic(void)
{
    static const struct s_step steps[] = {
        { 429, "Retry-After: 1", NULL, 0 },
        { 201, NULL, "{\"num_flows_received\":2,\"num_flows_failed\":1,"
                     "\"failed_flows\":[\"10.9.9.9,10.0.2.45,5432,6\"]}", 0 },
        { 201, NULL, "{\"num_flows_failed\":0}", 0 },
        { 500, "X-Request-Id: up-500", NULL, 0 },
    };
    struct s_script s = S_SCRIPT(steps);
    struct fsg_pce *pce = NULL;
    uint64_t received = 99;
    uint64_t failed = 99;
    struct fsg_error err = { 0 };
    const char *csv = "10.0.1.11,10.0.2.45,5432,6\n10.9.9.9,10.0.2.45,5432,6\n";
    T_OK(s_new(&s, &pce));
    T_OK(fsg_pce_post_traffic(pce, fsg_span_from_cstr(csv), &received, &failed, NULL));
    T_CHECK(received == 2 && failed == 1);
    T_CHECK(s.n_seen == 2 && s.n_sleeps == 1 && s.sleeps[0] == 1000);
    T_STR_EQ(s.seen[1].method, "POST");
    T_STR_EQ(s.seen[1].url, S_BASE "/orgs/1/agents/bulk_traffic_flows");
    T_STR_EQ(s.seen[1].ctype, "text/csv");
    T_STR_EQ(s.seen[1].body, csv);

    /* An answer without the counts is an error; so is a 500 (not retried for a POST). */
    T_ERR(FSG_E_PARSE, fsg_pce_post_traffic(pce, fsg_span_from_cstr(csv), &received, &failed,
                                            &err));
    T_CHECK(strstr(err.msg, "num_flows_received") != NULL);
    T_ERR(FSG_E_REMOTE, fsg_pce_post_traffic(pce, fsg_span_from_cstr(csv), NULL, NULL, &err));
    T_STR_EQ(err.request_id, "up-500");
    T_CHECK(s.n_seen == 4);

    /* Nothing to send: no request. More than 1000 lines: refused before sending. */
    T_OK(fsg_pce_post_traffic(pce, fsg_span_from_cstr("\n"), &received, &failed, NULL));
    T_CHECK(received == 0 && failed == 0);
    struct fsg_buf big = FSG_BUF_INIT;
    for (int i = 0; i < 1001; i++) {
        T_OK(fsg_buf_printf(&big, "10.0.1.%d,10.0.2.45,5432,6\n", i % 250));
    }
    T_ERR(FSG_E_INVALID_ARG, fsg_pce_post_traffic(pce, fsg_span_from_buf(&big), NULL, NULL,
                                                  &err));
    T_CHECK(strstr(err.msg, "1001 flows") != NULL);
    T_CHECK(s.n_seen == 4);
    fsg_buf_clean_up(&big);
    fsg_pce_destroy(pce);
    return 0;
}

static int s_save_bundle(void)
{
    char dir[] = "/tmp/fsg_test_pce_XXXXXX";
    T_CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/policy.json", dir);
    json_t *b = json_pack("{s:[{s:s}], s:[], s:[]}", "labels", "href", "/orgs/1/labels/1",
                          "workloads", "rule_sets");
    T_CHECK(b != NULL);
    T_OK(fsg_pce_save_bundle(b, path, NULL));
    json_error_t jerr;
    json_t *back = json_load_file(path, 0, &jerr);
    T_CHECK(back != NULL && json_equal(b, back));
    json_decref(back);
    struct fsg_error err = { 0 };
    char bad[96];
    snprintf(bad, sizeof bad, "%s/no/such/dir/p.json", dir);
    T_ERR(FSG_E_IO, fsg_pce_save_bundle(b, bad, &err));
    T_CHECK(strstr(err.msg, "no/such/dir") != NULL);
    json_decref(b);
    unlink(path);
    rmdir(dir);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "sync_collection", s_sync_collection },
        { "paging_decision", s_paging_decision },
        { "async_job_fails", s_async_job_fails },
        { "async_job_times_out", s_async_job_times_out },
        { "async_bad_answers", s_async_bad_answers },
        { "short_reads_fail", s_short_reads_fail },
        { "deadline_bounds_job_wait", s_deadline_bounds_job_wait },
        { "redaction", s_redaction },
        { "redaction_central", s_redaction_central },
        { "rate_limit_honoured", s_rate_limit_honoured },
        { "rate_limit_storm_fails", s_rate_limit_storm_fails },
        { "server_errors", s_server_errors },
        { "406_bodies_decoded", s_406_bodies_decoded },
        { "auth_errors", s_auth_errors },
        { "credentials_and_url", s_credentials_and_url },
        { "bad_collections", s_bad_collections },
        { "fetch_policy", s_fetch_policy },
        { "fetch_policy_mixed", s_fetch_policy_mixed },
        { "fetch_policy_all_or_nothing", s_fetch_policy_all_or_nothing },
        { "post_traffic", s_post_traffic },
        { "save_bundle", s_save_bundle },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
