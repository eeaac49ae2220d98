#include "tests/unit/http_script.h"

#include <stdio.h>
#include <string.h>

#include "lib/core/mem.h"

void t_http_script_init(struct t_http_script *s, const struct t_http_exchange *ex, size_t n)
{
    *s = (struct t_http_script){ .ex = ex, .n = n };
}

static enum fsg_err s_record(struct t_http_script *s, const struct fsg_http_request *req)
{
    if (s->n_rec >= T_HTTP_SCRIPT_MAX) {
        return FSG_E_LIMIT;
    }
    struct t_http_recorded *r = &s->rec[s->n_rec++];
    r->method = fsg_strdup(req->method);
    r->url = fsg_strdup(req->url);
    enum fsg_err rc = r->method != NULL && r->url != NULL ? FSG_OK : FSG_E_NOMEM;
    for (size_t i = 0; i < req->headers.len && rc == FSG_OK; i++) {
        rc = fsg_http_headers_add(&r->headers, req->headers.items[i].name,
                                  req->headers.items[i].value);
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_append_span(&r->body, req->body);
    }
    return rc;
}

static enum fsg_err s_answer_headers(const struct t_http_exchange *x,
                                     struct fsg_http_response *resp)
{
    resp->status = x->status;
    const char *p = x->headers;
    enum fsg_err rc = FSG_OK;
    while (p != NULL && *p != '\0' && rc == FSG_OK) {
        size_t n = strcspn(p, "\n");
        const char *colon = memchr(p, ':', n);
        if (colon != NULL) {
            char name[128], value[512];
            snprintf(name, sizeof name, "%.*s", (int)(colon - p), p);
            const char *v = colon + 1;
            while (*v == ' ') {
                v++;
            }
            snprintf(value, sizeof value, "%.*s", (int)(p + n - v), v);
            rc = fsg_http_headers_add(&resp->headers, name, value);
        }
        p += n + (p[n] == '\n');
    }
    return rc;
}

static enum fsg_err s_deliver(const struct t_http_exchange *x, struct fsg_http_response *resp,
                              fsg_http_body_fn *on_body, void *userdata, struct fsg_error *err)
{
    size_t len = x->body == NULL ? 0 : (x->body_len > 0 ? x->body_len : strlen(x->body));
    size_t total = x->cut_after > 0 && x->cut_after < len ? x->cut_after : len;
    bool ok = x->status >= 200 && x->status < 300;
    size_t chunk = x->chunk > 0 ? x->chunk : (total > 0 ? total : 1);
    for (size_t off = 0; off < total;) {
        size_t n = total - off < chunk ? total - off : chunk;
        struct fsg_span sp = { (const uint8_t *)x->body + off, n };
        enum fsg_err rc = ok && on_body != NULL ? on_body(sp, userdata)
                                                : fsg_buf_append_span(&resp->body, sp);
        if (rc != FSG_OK) {
            return fsg_error_set(err, rc, "body consumer stopped the transfer");
        }
        off += n;
    }
    if (x->cut_after > 0 && x->cut_after < len) {
        fsg_error_set(err, FSG_E_NETWORK, "script: connection closed after %zu body bytes", total);
        if (err != NULL) {
            snprintf(err->service_code, sizeof err->service_code, "ConnectionClosed");
            err->offset = total;
        }
        return FSG_E_NETWORK;
    }
    return FSG_OK;
}

static enum fsg_err s_send(void *impl, const struct fsg_http_request *req,
                           struct fsg_http_response *resp, fsg_http_body_fn *on_body,
                           void *userdata, struct fsg_error *err)
{
    struct t_http_script *s = impl;
    if (s_record(s, req) != FSG_OK) {
        return fsg_error_set(err, FSG_E_NOMEM, "script: cannot record the request");
    }
    if (s->next >= s->n) {
        s->mismatch = true;
        snprintf(s->mismatch_msg, sizeof s->mismatch_msg, "unexpected request %zu: %s %s",
                 s->next, req->method, req->url);
        return fsg_error_set(err, FSG_E_INTERNAL, "script: no exchange left");
    }
    const struct t_http_exchange *x = &s->ex[s->next++];
    if ((x->method != NULL && strcmp(x->method, req->method) != 0) ||
        (x->url != NULL && strcmp(x->url, req->url) != 0)) {
        s->mismatch = true;
        snprintf(s->mismatch_msg, sizeof s->mismatch_msg, "request %zu: got %s %s", s->next - 1,
                 req->method, req->url);
    }
    if (x->fail != FSG_OK) {
        fsg_error_set(err, x->fail, "script: transport failure");
        if (err != NULL && x->fail_code != NULL) {
            snprintf(err->service_code, sizeof err->service_code, "%s", x->fail_code);
        }
        return x->fail;
    }
    if (s_answer_headers(x, resp) != FSG_OK) {
        return fsg_error_set(err, FSG_E_NOMEM, "script: out of memory");
    }
    return s_deliver(x, resp, on_body, userdata, err);
}

static void s_destroy(void *impl)
{
    (void)impl;
}

struct fsg_http_transport t_http_script_transport(struct t_http_script *s)
{
    return (struct fsg_http_transport){ .send = s_send, .destroy = s_destroy, .impl = s };
}

struct fsg_http_client *t_http_script_client(struct t_http_script *s)
{
    struct fsg_http_transport t = t_http_script_transport(s);
    struct fsg_http_client *c = NULL;
    if (fsg_http_client_new_with_transport(&t, &c, NULL) != FSG_OK) {
        return NULL;
    }
    return c;
}

const char *t_http_script_header(const struct t_http_script *s, size_t i, const char *name)
{
    return i < s->n_rec ? fsg_http_headers_get(&s->rec[i].headers, name) : NULL;
}

void t_http_script_clean_up(struct t_http_script *s)
{
    for (size_t i = 0; i < s->n_rec; i++) {
        fsg_free(s->rec[i].method);
        fsg_free(s->rec[i].url);
        fsg_http_headers_clean_up(&s->rec[i].headers);
        fsg_buf_clean_up(&s->rec[i].body);
    }
    s->n_rec = 0;
}

enum fsg_err t_creds_init(struct fsg_credentials *c, const char *akid, const char *secret,
                          const char *token)
{
    *c = (struct fsg_credentials){ .source = "test" };
    enum fsg_err rc = fsg_buf_append_cstr(&c->access_key_id, akid);
    if (rc == FSG_OK) {
        rc = fsg_buf_append_cstr(&c->secret_access_key, secret);
    }
    if (rc == FSG_OK && token != NULL) {
        rc = fsg_buf_append_cstr(&c->session_token, token);
    }
    return rc;
}

enum fsg_err t_static_creds_fn(void *userdata, time_t now_s, bool force_refresh,
                               const struct fsg_credentials **ret, struct fsg_error *err)
{
    (void)now_s;
    (void)force_refresh;
    (void)err;
    *ret = userdata;
    return FSG_OK;
}

void t_no_sleep(long ms, void *userdata)
{
    (void)ms;
    (void)userdata;
}
