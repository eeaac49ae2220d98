/* HTTP value types (headers, request, response) and the client over a transport vtable. */
#include "lib/http/http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/http/http_internal.h"
#include "lib/core/deadline.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"

struct fsg_http_client {
    struct fsg_http_transport transport;
};

/* Header values may be credentials (Authorization, X-Amz-Security-Token, PCE Basic auth):
 * every value is wiped before its memory is freed. */
static void s_free_value(char *v)
{
    if (v != NULL) {
        fsg_secure_zero(v, strlen(v));
        fsg_free(v);
    }
}

enum fsg_err fsg_http_headers_add(struct fsg_http_headers *h, const char *name, const char *value)
{
    struct fsg_http_header *items = fsg_array_grow(h->items, &h->cap, h->len + 1, sizeof *items, 8);
    if (items == NULL) {
        return FSG_E_NOMEM;
    }
    h->items = items;
    char *n = fsg_strdup(name);
    char *v = fsg_strdup(value);
    if (n == NULL || v == NULL) {
        fsg_free(n);
        s_free_value(v);
        return FSG_E_NOMEM;
    }
    h->items[h->len++] = (struct fsg_http_header){ .name = n, .value = v };
    return FSG_OK;
}

static void s_header_remove_at(struct fsg_http_headers *h, size_t i)
{
    fsg_free(h->items[i].name);
    s_free_value(h->items[i].value);
    memmove(&h->items[i], &h->items[i + 1], (h->len - i - 1) * sizeof h->items[0]);
    h->len--;
}

enum fsg_err fsg_http_headers_set(struct fsg_http_headers *h, const char *name, const char *value)
{
    /* Copy first: value may point into a header we are about to remove. */
    char *v = fsg_strdup(value);
    if (v == NULL) {
        return FSG_E_NOMEM;
    }
    size_t i = 0;
    while (i < h->len) {
        if (strcasecmp(h->items[i].name, name) == 0) {
            s_header_remove_at(h, i);
        } else {
            i++;
        }
    }
    enum fsg_err rc = fsg_http_headers_add(h, name, v);
    s_free_value(v);
    return rc;
}

const char *fsg_http_headers_get(const struct fsg_http_headers *h, const char *name)
{
    for (size_t i = 0; i < h->len; i++) {
        if (strcasecmp(h->items[i].name, name) == 0) {
            return h->items[i].value;
        }
    }
    return NULL;
}

void fsg_http_headers_clean_up(struct fsg_http_headers *h)
{
    if (h == NULL) {
        return;
    }
    for (size_t i = 0; i < h->len; i++) {
        fsg_free(h->items[i].name);
        s_free_value(h->items[i].value);
    }
    fsg_free(h->items);
    *h = (struct fsg_http_headers){ 0 };
}

void fsg_http_request_clean_up(struct fsg_http_request *req)
{
    if (req != NULL) {
        fsg_http_headers_clean_up(&req->headers);
    }
}

void fsg_http_response_clean_up(struct fsg_http_response *resp)
{
    if (resp == NULL) {
        return;
    }
    fsg_http_headers_clean_up(&resp->headers);
    fsg_buf_clean_up(&resp->body);
    resp->status = 0;
}

static bool s_is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* "HTTP/1.1 200 OK" -> 200; false when not a status line. */
static bool s_parse_status_line(struct fsg_span line, int *ret_status)
{
    if (!fsg_span_starts_with(line, "HTTP/")) {
        return false;
    }
    size_t i = 5;
    while (i < line.len && !s_is_space(line.ptr[i])) {
        i++;
    }
    while (i < line.len && line.ptr[i] == ' ') {
        i++;
    }
    int status = 0;
    size_t digits = 0;
    while (i < line.len && digits < 3 && line.ptr[i] >= '0' && line.ptr[i] <= '9') {
        status = status * 10 + (line.ptr[i] - '0');
        i++;
        digits++;
    }
    if (digits != 3) {
        return false;
    }
    *ret_status = status;
    return true;
}

enum fsg_err fsg_http_parse_header_line(struct fsg_span line, struct fsg_http_headers *h,
                                        int *ret_status)
{
    int status;
    if (s_parse_status_line(line, &status)) {
        /* A new response (after 100 Continue or a redirect): forget the previous headers. */
        fsg_http_headers_clean_up(h);
        *ret_status = status;
        return FSG_OK;
    }
    const uint8_t *colon = memchr(line.ptr, ':', line.len);
    if (colon == NULL || colon == line.ptr || s_is_space(line.ptr[0])) {
        return FSG_OK; /* blank line, folded continuation or junk: not a header we use */
    }
    struct fsg_span name = { line.ptr, (size_t)(colon - line.ptr) };
    struct fsg_span value = fsg_span_trim(
        (struct fsg_span){ colon + 1, line.len - name.len - 1 });
    char *n = fsg_strndup((const char *)name.ptr, name.len);
    char *v = fsg_strndup((const char *)value.ptr, value.len);
    enum fsg_err rc = (n == NULL || v == NULL) ? FSG_E_NOMEM : fsg_http_headers_add(h, n, v);
    fsg_free(n);
    fsg_free(v);
    return rc;
}

enum fsg_err fsg_http_client_new(const struct fsg_http_client_options *opts,
                                 struct fsg_http_client **ret_client, struct fsg_error *err)
{
    struct fsg_http_transport t = { 0 };
    static const struct fsg_http_client_options s_defaults = { 0 };
    enum fsg_err rc = fsg_http_curl_transport_init(opts != NULL ? opts : &s_defaults, &t, err);
    if (rc != FSG_OK) {
        return rc;
    }
    rc = fsg_http_client_new_with_transport(&t, ret_client, err);
    if (rc != FSG_OK) {
        t.destroy(t.impl);
    }
    return rc;
}

enum fsg_err fsg_http_client_new_with_transport(const struct fsg_http_transport *transport,
                                                struct fsg_http_client **ret_client,
                                                struct fsg_error *err)
{
    if (transport == NULL || transport->send == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "HTTP transport without a send function");
    }
    struct fsg_http_client *c = fsg_calloc(1, sizeof *c);
    if (c == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory creating an HTTP client");
    }
    c->transport = *transport;
    *ret_client = c;
    return FSG_OK;
}

void fsg_http_client_destroy(struct fsg_http_client *client)
{
    if (client == NULL) {
        return;
    }
    if (client->transport.destroy != NULL) {
        client->transport.destroy(client->transport.impl);
    }
    fsg_free(client);
}

/* The URL without its query, for log lines: a query may carry presigned credentials. */
static int s_url_log_len(const char *url)
{
    const char *q = strchr(url, '?');
    size_t n = q != NULL ? (size_t)(q - url) : strlen(url);
    return n > 512 ? 512 : (int)n;
}

enum fsg_err fsg_http_send(struct fsg_http_client *client, const struct fsg_http_request *req,
                           struct fsg_http_response *resp, fsg_http_body_fn *on_body,
                           void *userdata, struct fsg_error *err)
{
    if (client == NULL || req == NULL || resp == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "HTTP send without client, request or response");
    }
    if (req->method == NULL || req->url == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "HTTP request without method or URL");
    }
    fsg_http_response_clean_up(resp);
    if (fsg_deadline_expired(fsg_run_deadline())) {
        enum fsg_err drc = fsg_error_set(err, FSG_E_CANCELLED,
                                         "%s %.*s: not sent: the run deadline has passed",
                                         req->method, s_url_log_len(req->url), req->url);
        if (err != NULL) {
            snprintf(err->service_code, sizeof err->service_code, "DeadlineExceeded");
        }
        return drc;
    }
    enum fsg_err rc = client->transport.send(client->transport.impl, req, resp, on_body, userdata,
                                             err);
    /* Never headers or bodies: they carry credentials and customer data. */
    fsg_log(FSG_LOG_DEBUG, "http %s %.*s -> %d (%s, %zu buffered bytes)", req->method,
            s_url_log_len(req->url), req->url, resp->status, fsg_err_name(rc), resp->body.len);
    return rc;
}
