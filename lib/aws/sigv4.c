/* AWS Signature Version 4 (HMAC-SHA256), header and query-string (presigned) modes.
 * The four tasks of https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 * S3 differences: https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
 * Pure: time, credentials and the request are inputs; nothing here reads a clock or a file. */
#include "lib/aws/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/crypto.h"
#include "lib/core/mem.h"

#define S_ALGORITHM "AWS4-HMAC-SHA256"
#define S_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define S_TERMINATOR "aws4_request"

/* Never signed: hop-by-hop headers a proxy or curl may change, and the rest of botocore's list.
 * authorization is replaced by the signature itself. */
static const char *const s_skipped_headers[] = {
    "authorization",       "connection", "expect",  "keep-alive",        "proxy-authenticate",
    "proxy-authorization", "te",         "trailer", "transfer-encoding", "upgrade",
    "user-agent",          "x-amzn-trace-id",
};

/* Query parameters that presigning adds itself; a URL already carrying one is refused. */
static const char *const s_presign_params[] = {
    "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",           "X-Amz-SignedHeaders",
    "X-Amz-Expires",   "X-Amz-Signature",  "X-Amz-Security-Token",
};

struct s_url {
    struct fsg_span scheme;
    struct fsg_span hostport; /* authority without userinfo */
    struct fsg_span path;     /* may be empty */
    struct fsg_span query;    /* after '?', before '#' */
    bool has_query;
    size_t len_no_fragment;
};

struct s_hdr {
    struct fsg_span name;
    struct fsg_span value;
    size_t index; /* keeps repeated headers in their original order */
};

/* One signing pass: everything both modes need, computed once. */
struct s_sig {
    const struct fsg_http_request *req;
    const struct fsg_sigv4_params *p;
    struct s_url url;
    bool presign;
    bool add_content_sha256; /* header mode: we set x-amz-content-sha256 */
    bool sign_token;         /* header mode: X-Amz-Security-Token is a signed header */
    char amz_date[17];
    char expires[16];
    struct fsg_buf payload_hash;
    struct fsg_buf host;  /* derived from the URL when req has no Host header */
    struct fsg_buf scope; /* 20150830/us-east-1/service/aws4_request */
    struct s_hdr *hdrs;
    size_t n_hdrs;
    struct fsg_buf signed_headers;
    struct fsg_buf canonical_headers; /* may hold the session token: wiped */
};

struct s_param {
    struct fsg_span key;
    struct fsg_span value;
};

/* ---- small helpers ------------------------------------------------------------------------ */

static bool s_is_unreserved(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_' || c == '.' || c == '~';
}

static bool s_is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int s_hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static uint8_t s_lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c - 'A' + 'a') : c;
}

static int s_compare_ignore_case(struct fsg_span a, struct fsg_span b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    for (size_t i = 0; i < n; i++) {
        int d = (int)s_lower(a.ptr[i]) - (int)s_lower(b.ptr[i]);
        if (d != 0) {
            return d;
        }
    }
    return a.len < b.len ? -1 : (a.len > b.len ? 1 : 0);
}

static int s_compare_bytes(struct fsg_span a, struct fsg_span b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int d = n > 0 ? memcmp(a.ptr, b.ptr, n) : 0;
    if (d != 0) {
        return d;
    }
    return a.len < b.len ? -1 : (a.len > b.len ? 1 : 0);
}

static bool s_span_eq_ignore_case(struct fsg_span a, const char *b)
{
    return s_compare_ignore_case(a, fsg_span_from_cstr(b)) == 0;
}

static enum fsg_err s_append_lower(struct fsg_buf *out, struct fsg_span s)
{
    enum fsg_err rc = fsg_buf_reserve(out, s.len);
    if (rc != FSG_OK) {
        return rc;
    }
    for (size_t i = 0; i < s.len; i++) {
        out->ptr[out->len++] = s_lower(s.ptr[i]);
    }
    out->ptr[out->len] = '\0';
    return FSG_OK;
}

/* Trimall: leading/trailing whitespace dropped, inner runs (folded lines too) become one space. */
static enum fsg_err s_append_trimmed(struct fsg_buf *out, struct fsg_span v)
{
    enum fsg_err rc = fsg_buf_reserve(out, v.len);
    if (rc != FSG_OK) {
        return rc;
    }
    bool pending_space = false;
    bool any = false;
    for (size_t i = 0; i < v.len; i++) {
        if (s_is_space(v.ptr[i])) {
            pending_space = any;
            continue;
        }
        if (pending_space) {
            out->ptr[out->len++] = ' ';
            pending_space = false;
        }
        out->ptr[out->len++] = v.ptr[i];
        any = true;
    }
    out->ptr[out->len] = '\0';
    return FSG_OK;
}

enum fsg_err fsg_uri_encode(struct fsg_buf *out, struct fsg_span s, bool keep_slash)
{
    static const char s_hex[] = "0123456789ABCDEF";
    enum fsg_err rc = fsg_buf_reserve(out, s.len);
    for (size_t i = 0; i < s.len && rc == FSG_OK; i++) {
        uint8_t c = s.ptr[i];
        if (s_is_unreserved(c) || (keep_slash && c == '/')) {
            rc = fsg_buf_append_byte(out, c);
        } else {
            char esc[3] = { '%', s_hex[c >> 4], s_hex[c & 0x0f] };
            rc = fsg_buf_append(out, esc, sizeof esc);
        }
    }
    return rc;
}

enum fsg_err fsg_uri_decode(struct fsg_buf *out, struct fsg_span s)
{
    enum fsg_err rc = fsg_buf_reserve(out, s.len);
    for (size_t i = 0; i < s.len && rc == FSG_OK; i++) {
        int hi = i + 2 < s.len && s.ptr[i] == '%' ? s_hex_value(s.ptr[i + 1]) : -1;
        int lo = hi >= 0 ? s_hex_value(s.ptr[i + 2]) : -1;
        if (hi >= 0 && lo >= 0) {
            rc = fsg_buf_append_byte(out, (uint8_t)(hi << 4 | lo));
            i += 2;
        } else {
            rc = fsg_buf_append_byte(out, s.ptr[i]);
        }
    }
    return rc;
}

/* S3 paths are signed as sent: valid %XY escapes stay as they are, bytes that cannot appear
 * raw are encoded once (so "/test$file" signs as "/test%24file", as the S3 docs show). */
static enum fsg_err s_encode_keep_escapes(struct fsg_buf *out, struct fsg_span s)
{
    enum fsg_err rc = fsg_buf_reserve(out, s.len);
    for (size_t i = 0; i < s.len && rc == FSG_OK; i++) {
        if (s.ptr[i] == '%' && i + 2 < s.len && s_hex_value(s.ptr[i + 1]) >= 0
            && s_hex_value(s.ptr[i + 2]) >= 0) {
            rc = fsg_buf_append(out, s.ptr + i, 3);
            i += 2;
        } else {
            rc = fsg_uri_encode(out, (struct fsg_span){ s.ptr + i, 1 }, true);
        }
    }
    return rc;
}

enum fsg_err fsg_sigv4_amz_date(time_t t, char out[17])
{
    struct tm tm;
    if (t < 0 || gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999) {
        out[0] = '\0';
        return FSG_E_INVALID_ARG;
    }
    if (strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16) {
        out[0] = '\0';
        return FSG_E_INVALID_ARG;
    }
    return FSG_OK;
}

/* ---- URL ---------------------------------------------------------------------------------- */

static enum fsg_err s_parse_url(const char *url, struct s_url *u, struct fsg_error *err)
{
    *u = (struct s_url){ 0 };
    if (url == NULL || url[0] == '\0') {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "sigv4: the request has no URL");
    }
    const char *sep = strstr(url, "://");
    if (sep == NULL || sep == url) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "sigv4: URL has no scheme (want https://host/path)");
    }
    u->scheme = (struct fsg_span){ (const uint8_t *)url, (size_t)(sep - url) };
    const char *auth = sep + 3;
    size_t auth_len = strcspn(auth, "/?#");
    if (auth_len == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "sigv4: URL has no host");
    }
    const char *host = auth;
    for (size_t i = 0; i < auth_len; i++) {
        if (auth[i] == '@') {
            host = auth + i + 1;
        }
    }
    u->hostport = (struct fsg_span){ (const uint8_t *)host, (size_t)(auth + auth_len - host) };
    if (u->hostport.len == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "sigv4: URL has no host");
    }
    const char *path = auth + auth_len;
    size_t path_len = strcspn(path, "?#");
    u->path = (struct fsg_span){ (const uint8_t *)path, path_len };
    const char *rest = path + path_len;
    if (*rest == '?') {
        u->has_query = true;
        size_t qlen = strcspn(rest + 1, "#");
        u->query = (struct fsg_span){ (const uint8_t *)rest + 1, qlen };
        rest += 1 + qlen;
    }
    u->len_no_fragment = (size_t)(rest - url);
    return FSG_OK;
}

/* Host header value from the URL as botocore derives it: lowercase, default port dropped. */
static enum fsg_err s_host_from_url(const struct s_url *u, struct fsg_buf *out)
{
    struct fsg_span hp = u->hostport;
    size_t host_len = hp.len;
    if (hp.ptr[0] == '[') {
        const uint8_t *close = memchr(hp.ptr, ']', hp.len);
        host_len = close != NULL ? (size_t)(close - hp.ptr) + 1 : hp.len;
    } else {
        const uint8_t *colon = memchr(hp.ptr, ':', hp.len);
        host_len = colon != NULL ? (size_t)(colon - hp.ptr) : hp.len;
    }
    struct fsg_span port = { hp.ptr + host_len, hp.len - host_len };
    if (port.len > 0 && port.ptr[0] == ':') {
        port.ptr++;
        port.len--;
    }
    uint64_t port_num = 0;
    bool drop_port = port.len == 0;
    if (!drop_port && fsg_span_to_u64(port, &port_num) == FSG_OK) {
        drop_port = (port_num == 443 && s_span_eq_ignore_case(u->scheme, "https"))
                    || (port_num == 80 && s_span_eq_ignore_case(u->scheme, "http"));
    }
    enum fsg_err rc = s_append_lower(out, (struct fsg_span){ hp.ptr, host_len });
    if (rc == FSG_OK && !drop_port) {
        rc = fsg_buf_append_byte(out, ':');
        if (rc == FSG_OK) {
            rc = fsg_buf_append_span(out, port);
        }
    }
    return rc;
}

/* ---- canonical URI ------------------------------------------------------------------------ */

/* RFC 3986 5.2.4 plus "//" collapsed, exactly as botocore's remove_dot_segments. */
static enum fsg_err s_remove_dot_segments(struct fsg_span path, struct fsg_buf *out)
{
    size_t max_segments = path.len / 2 + 2;
    struct fsg_span *segs = fsg_calloc(max_segments, sizeof *segs);
    if (segs == NULL) {
        return FSG_E_NOMEM;
    }
    size_t n = 0;
    size_t pos = 0;
    struct fsg_span seg;
    while (fsg_span_next_split(path, '/', &pos, &seg)) {
        if (seg.len == 0 || fsg_span_eq_cstr(seg, ".")) {
            continue;
        }
        if (fsg_span_eq_cstr(seg, "..")) {
            n -= n > 0 ? 1 : 0;
            continue;
        }
        if (n < max_segments) {
            segs[n++] = seg;
        }
    }
    enum fsg_err rc = FSG_OK;
    if (path.ptr[0] == '/') {
        rc = fsg_buf_append_byte(out, '/');
    }
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        rc = fsg_buf_append_span(out, segs[i]);
        if (rc == FSG_OK && i + 1 < n) {
            rc = fsg_buf_append_byte(out, '/');
        }
    }
    if (rc == FSG_OK && n > 0 && path.ptr[path.len - 1] == '/') {
        rc = fsg_buf_append_byte(out, '/');
    }
    fsg_free(segs);
    return rc;
}

enum fsg_err fsg_sigv4_canonical_uri(struct fsg_span path, const struct fsg_sigv4_params *p,
                                     struct fsg_buf *out)
{
    if (path.len == 0) {
        return fsg_buf_append_byte(out, '/');
    }
    if (p->s3_rules) {
        return s_encode_keep_escapes(out, path);
    }
    if (p->skip_path_normalization) {
        return fsg_uri_encode(out, path, true);
    }
    struct fsg_buf norm = FSG_BUF_INIT;
    enum fsg_err rc = s_remove_dot_segments(path, &norm);
    if (rc == FSG_OK) {
        rc = fsg_uri_encode(out, fsg_span_from_buf(&norm), true);
    }
    fsg_buf_clean_up(&norm);
    return rc;
}

/* ---- canonical query ---------------------------------------------------------------------- */

static int s_param_cmp(const void *a, const void *b)
{
    const struct s_param *x = a;
    const struct s_param *y = b;
    int d = s_compare_bytes(x->key, y->key);
    return d != 0 ? d : s_compare_bytes(x->value, y->value);
}

/* Decodes then re-encodes one key or value into store; records its offset and length. */
static enum fsg_err s_recode(struct fsg_buf *store, struct fsg_buf *tmp, struct fsg_span in,
                             bool decode, size_t *ret_off, size_t *ret_len)
{
    fsg_buf_reset(tmp);
    enum fsg_err rc = decode ? fsg_uri_decode(tmp, in) : fsg_buf_append_span(tmp, in);
    size_t off = store->len;
    if (rc == FSG_OK) {
        rc = fsg_uri_encode(store, fsg_span_from_buf(tmp), false);
    }
    *ret_off = off;
    *ret_len = store->len - off;
    return rc;
}

static size_t s_count_params(struct fsg_span query)
{
    size_t n = 1;
    for (size_t i = 0; i < query.len; i++) {
        n += query.ptr[i] == '&';
    }
    return n;
}

/* The sorted, re-encoded parameters of query plus the extra (unencoded) ones. */
static enum fsg_err s_canonical_query(struct fsg_span query, const struct s_param *extra,
                                      size_t n_extra, struct fsg_buf *out)
{
    size_t cap = s_count_params(query) + n_extra;
    struct s_param *params = fsg_calloc(cap, sizeof *params);
    size_t *offs = fsg_calloc(cap, 4 * sizeof *offs);
    struct fsg_buf store = FSG_BUF_INIT;
    struct fsg_buf tmp = FSG_BUF_INIT;
    enum fsg_err rc = params != NULL && offs != NULL ? FSG_OK : FSG_E_NOMEM;
    size_t n = 0;
    size_t pos = 0;
    struct fsg_span seg;

    while (rc == FSG_OK && query.len > 0 && fsg_span_next_split(query, '&', &pos, &seg)) {
        if (seg.len == 0) {
            continue;
        }
        const uint8_t *eq = memchr(seg.ptr, '=', seg.len);
        struct fsg_span key = { seg.ptr, eq != NULL ? (size_t)(eq - seg.ptr) : seg.len };
        struct fsg_span val = eq != NULL ? (struct fsg_span){ eq + 1, seg.len - key.len - 1 }
                                         : FSG_SPAN_NULL;
        rc = s_recode(&store, &tmp, key, true, &offs[4 * n], &offs[4 * n + 1]);
        if (rc == FSG_OK) {
            rc = s_recode(&store, &tmp, val, true, &offs[4 * n + 2], &offs[4 * n + 3]);
        }
        n++;
    }
    for (size_t i = 0; rc == FSG_OK && i < n_extra; i++, n++) {
        rc = s_recode(&store, &tmp, extra[i].key, false, &offs[4 * n], &offs[4 * n + 1]);
        if (rc == FSG_OK) {
            rc = s_recode(&store, &tmp, extra[i].value, false, &offs[4 * n + 2], &offs[4 * n + 3]);
        }
    }
    if (rc == FSG_OK) {
        /* store no longer moves: turn offsets into spans, sort, join */
        for (size_t i = 0; i < n; i++) {
            params[i].key = (struct fsg_span){ store.ptr + offs[4 * i], offs[4 * i + 1] };
            params[i].value = (struct fsg_span){ store.ptr + offs[4 * i + 2], offs[4 * i + 3] };
        }
        qsort(params, n, sizeof *params, s_param_cmp);
    }
    for (size_t i = 0; rc == FSG_OK && i < n; i++) {
        rc = i > 0 ? fsg_buf_append_byte(out, '&') : FSG_OK;
        if (rc == FSG_OK) {
            rc = fsg_buf_append_span(out, params[i].key);
        }
        if (rc == FSG_OK) {
            rc = fsg_buf_append_byte(out, '=');
        }
        if (rc == FSG_OK) {
            rc = fsg_buf_append_span(out, params[i].value);
        }
    }
    fsg_buf_clean_up_secure(&tmp);   /* may hold a presign session token */
    fsg_buf_clean_up_secure(&store);
    fsg_free(offs);
    fsg_free(params);
    return rc;
}

enum fsg_err fsg_sigv4_canonical_query(struct fsg_span query, struct fsg_buf *out)
{
    return s_canonical_query(query, NULL, 0, out);
}

/* ---- parameters and headers --------------------------------------------------------------- */

static bool s_is_name_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_' || c == '.';
}

static enum fsg_err s_check_name(struct fsg_span s, const char *what, struct fsg_error *err)
{
    if (s.len == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "sigv4: %s is empty", what);
    }
    for (size_t i = 0; i < s.len; i++) {
        if (!s_is_name_char(s.ptr[i])) {
            return fsg_error_set(err, FSG_E_INVALID_ARG,
                                 "sigv4: %s has a character other than A-Z a-z 0-9 - _ .", what);
        }
    }
    return FSG_OK;
}

static enum fsg_err s_check_params(const struct fsg_sigv4_params *p, struct fsg_error *err)
{
    if (p == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "sigv4: no signing parameters");
    }
    enum fsg_err rc = s_check_name(p->access_key_id, "access key id", err);
    if (rc == FSG_OK) {
        rc = s_check_name(p->region, "region", err);
    }
    if (rc == FSG_OK) {
        rc = s_check_name(p->service, "service", err);
    }
    if (rc != FSG_OK) {
        return rc;
    }
    if (p->secret_access_key.len == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "sigv4: secret access key is empty");
    }
    for (size_t i = 0; i < p->session_token.len; i++) {
        uint8_t c = p->session_token.ptr[i];
        if (c < 0x20 || c == 0x7f) {
            return fsg_error_set(err, FSG_E_INVALID_ARG,
                                 "sigv4: session token has a control character");
        }
    }
    return FSG_OK;
}

static bool s_is_skipped(struct fsg_span name)
{
    for (size_t i = 0; i < sizeof s_skipped_headers / sizeof s_skipped_headers[0]; i++) {
        if (s_span_eq_ignore_case(name, s_skipped_headers[i])) {
            return true;
        }
    }
    return false;
}

static const char *s_find_header(const struct fsg_http_headers *h, const char *name)
{
    for (size_t i = 0; i < h->len; i++) {
        if (h->items[i].name != NULL
            && s_span_eq_ignore_case(fsg_span_from_cstr(h->items[i].name), name)) {
            return h->items[i].value != NULL ? h->items[i].value : "";
        }
    }
    return NULL;
}

static enum fsg_err s_check_header_name(struct fsg_span name, struct fsg_error *err)
{
    if (name.len == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "sigv4: a request header has no name");
    }
    for (size_t i = 0; i < name.len; i++) {
        uint8_t c = name.ptr[i];
        if (c <= 0x20 || c == 0x7f || c == ':') {
            return fsg_error_set(err, FSG_E_INVALID_ARG,
                                 "sigv4: header name '%.*s' has a space, colon or control byte",
                                 (int)(i > 64 ? 64 : i), (const char *)name.ptr);
        }
    }
    return FSG_OK;
}

static int s_hdr_cmp(const void *a, const void *b)
{
    const struct s_hdr *x = a;
    const struct s_hdr *y = b;
    int d = s_compare_ignore_case(x->name, y->name);
    if (d != 0) {
        return d;
    }
    return x->index < y->index ? -1 : (x->index > y->index ? 1 : 0);
}

/* Whether a header of the request is replaced by one the signer sets. */
static bool s_is_replaced(const struct s_sig *s, struct fsg_span name)
{
    if (s_span_eq_ignore_case(name, "x-amz-security-token")) {
        return s->p->session_token.len > 0;
    }
    if (s->presign) {
        return false;
    }
    return s_span_eq_ignore_case(name, "x-amz-date")
           || (s->add_content_sha256 && s_span_eq_ignore_case(name, "x-amz-content-sha256"));
}

static void s_push_hdr(struct s_sig *s, const char *name, struct fsg_span value)
{
    s->hdrs[s->n_hdrs] = (struct s_hdr){ fsg_span_from_cstr(name), value, s->n_hdrs };
    s->n_hdrs++;
}

static enum fsg_err s_collect_headers(struct s_sig *s, struct fsg_error *err)
{
    const struct fsg_http_headers *h = &s->req->headers;
    s->hdrs = fsg_calloc(h->len + 4, sizeof *s->hdrs);
    if (s->hdrs == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "sigv4: out of memory");
    }
    bool has_host = false;
    for (size_t i = 0; i < h->len; i++) {
        struct fsg_span name = fsg_span_from_cstr(h->items[i].name);
        enum fsg_err rc = s_check_header_name(name, err);
        if (rc != FSG_OK) {
            return rc;
        }
        if (s_is_skipped(name) || s_is_replaced(s, name)) {
            continue;
        }
        has_host = has_host || s_span_eq_ignore_case(name, "host");
        s_push_hdr(s, h->items[i].name, fsg_span_from_cstr(h->items[i].value));
    }
    if (!has_host) {
        if (s_host_from_url(&s->url, &s->host) != FSG_OK) {
            return fsg_error_set(err, FSG_E_NOMEM, "sigv4: out of memory");
        }
        s_push_hdr(s, "host", fsg_span_from_buf(&s->host));
    }
    if (!s->presign) {
        s_push_hdr(s, "x-amz-date", fsg_span_from_cstr(s->amz_date));
        if (s->sign_token) {
            s_push_hdr(s, "x-amz-security-token", s->p->session_token);
        }
        if (s->add_content_sha256) {
            s_push_hdr(s, "x-amz-content-sha256", fsg_span_from_buf(&s->payload_hash));
        }
    }
    qsort(s->hdrs, s->n_hdrs, sizeof *s->hdrs, s_hdr_cmp);
    return FSG_OK;
}

/* name:value lines (repeated names joined with ',') and the SignedHeaders list. */
static enum fsg_err s_build_header_lists(struct s_sig *s)
{
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; i < s->n_hdrs && rc == FSG_OK; i++) {
        bool repeat = i > 0 && s_compare_ignore_case(s->hdrs[i - 1].name, s->hdrs[i].name) == 0;
        if (repeat) {
            rc = fsg_buf_append_byte(&s->canonical_headers, ',');
        } else {
            if (i > 0) {
                rc = fsg_buf_append_byte(&s->canonical_headers, '\n');
                if (rc == FSG_OK) {
                    rc = fsg_buf_append_byte(&s->signed_headers, ';');
                }
            }
            if (rc == FSG_OK) {
                rc = s_append_lower(&s->signed_headers, s->hdrs[i].name);
            }
            if (rc == FSG_OK) {
                rc = s_append_lower(&s->canonical_headers, s->hdrs[i].name);
            }
            if (rc == FSG_OK) {
                rc = fsg_buf_append_byte(&s->canonical_headers, ':');
            }
        }
        if (rc == FSG_OK) {
            rc = s_append_trimmed(&s->canonical_headers, s->hdrs[i].value);
        }
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_append_byte(&s->canonical_headers, '\n');
    }
    return rc;
}

static enum fsg_err s_payload_hash(struct s_sig *s, struct fsg_error *err)
{
    const struct fsg_sigv4_params *p = s->p;
    const char *existing = s_find_header(&s->req->headers, "x-amz-content-sha256");
    bool hash_body;
    if (s->presign) {
        if (p->s3_rules || p->unsigned_payload) {
            return fsg_buf_append_cstr(&s->payload_hash, S_UNSIGNED_PAYLOAD);
        }
        hash_body = existing == NULL;
    } else if (p->unsigned_payload) {
        return fsg_buf_append_cstr(&s->payload_hash, S_UNSIGNED_PAYLOAD);
    } else {
        /* botocore signs a caller-supplied x-amz-content-sha256 as the payload hash */
        hash_body = s->add_content_sha256 || existing == NULL;
    }
    if (!hash_body) {
        return fsg_buf_append_cstr(&s->payload_hash, existing);
    }
    char hex[FSG_SHA256_HEX_LEN + 1];
    enum fsg_err rc = fsg_sha256_hex(s->req->body, hex, err);
    if (rc == FSG_OK) {
        rc = fsg_buf_append_cstr(&s->payload_hash, hex);
    }
    return rc;
}

static void s_sig_clean_up(struct s_sig *s)
{
    fsg_free(s->hdrs);
    fsg_buf_clean_up(&s->payload_hash);
    fsg_buf_clean_up(&s->host);
    fsg_buf_clean_up(&s->scope);
    fsg_buf_clean_up(&s->signed_headers);
    fsg_buf_clean_up_secure(&s->canonical_headers);
}

static enum fsg_err s_sig_init(struct s_sig *s, const struct fsg_http_request *req,
                               const struct fsg_sigv4_params *p, struct fsg_error *err)
{
    *s = (struct s_sig){ .req = req, .p = p };
    enum fsg_err rc = s_check_params(p, err);
    if (rc != FSG_OK) {
        return rc;
    }
    if (req == NULL || req->method == NULL || req->method[0] == '\0') {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "sigv4: the request has no method");
    }
    rc = s_parse_url(req->url, &s->url, err);
    if (rc != FSG_OK) {
        return rc;
    }
    if (fsg_sigv4_amz_date(p->now_s, s->amz_date) != FSG_OK) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "sigv4: time %lld is out of range",
                             (long long)p->now_s);
    }
    s->presign = p->presign_expires_s > 0;
    snprintf(s->expires, sizeof s->expires, "%u", (unsigned)p->presign_expires_s);
    s->sign_token = !s->presign && p->session_token.len > 0 && !p->unsigned_session_token;
    s->add_content_sha256 =
        !s->presign && (p->s3_rules || p->sign_content_sha256 || p->unsigned_payload);
    rc = fsg_buf_printf(&s->scope, "%.8s/%.*s/%.*s/" S_TERMINATOR, s->amz_date,
                        FSG_SPAN_FMT(p->region), FSG_SPAN_FMT(p->service));
    if (rc != FSG_OK) {
        return fsg_error_set(err, rc, "sigv4: out of memory");
    }
    rc = s_payload_hash(s, err);
    if (rc == FSG_OK) {
        rc = s_collect_headers(s, err);
    }
    if (rc == FSG_OK && s_build_header_lists(s) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "sigv4: out of memory");
    }
    return rc;
}

/* ---- the four tasks ----------------------------------------------------------------------- */

static enum fsg_err s_check_presign_query(const struct s_url *u, struct fsg_error *err)
{
    size_t pos = 0;
    struct fsg_span seg;
    struct fsg_buf key = FSG_BUF_INIT;
    enum fsg_err rc = FSG_OK;
    while (rc == FSG_OK && u->query.len > 0 && fsg_span_next_split(u->query, '&', &pos, &seg)) {
        const uint8_t *eq = memchr(seg.ptr, '=', seg.len);
        fsg_buf_reset(&key);
        size_t key_len = eq != NULL ? (size_t)(eq - seg.ptr) : seg.len;
        rc = fsg_uri_decode(&key, (struct fsg_span){ seg.ptr, key_len });
        for (size_t i = 0; rc == FSG_OK && i < sizeof s_presign_params / sizeof s_presign_params[0];
             i++) {
            if (s_span_eq_ignore_case(fsg_span_from_buf(&key), s_presign_params[i])) {
                rc = fsg_error_set(err, FSG_E_INVALID_ARG,
                                   "sigv4: URL already has the %s query parameter "
                                   "(already presigned?)",
                                   s_presign_params[i]);
            }
        }
    }
    fsg_buf_clean_up(&key);
    return rc;
}

/* The X-Amz-* query parameters of a presigned URL, in the order aws-c-auth appends them.
 * Returns the count; the token is included only when it is signed (include_unsigned adds it
 * anyway, for the final URL). */
static size_t s_presign_auth_params(const struct s_sig *s, const struct fsg_buf *credential,
                                    bool include_unsigned, struct s_param out[6])
{
    size_t n = 0;
    out[n++] = (struct s_param){ fsg_span_from_cstr("X-Amz-Algorithm"),
                                 fsg_span_from_cstr(S_ALGORITHM) };
    out[n++] = (struct s_param){ fsg_span_from_cstr("X-Amz-Credential"),
                                 fsg_span_from_buf(credential) };
    out[n++] = (struct s_param){ fsg_span_from_cstr("X-Amz-Date"),
                                 fsg_span_from_cstr(s->amz_date) };
    out[n++] = (struct s_param){ fsg_span_from_cstr("X-Amz-SignedHeaders"),
                                 fsg_span_from_buf(&s->signed_headers) };
    out[n++] = (struct s_param){ fsg_span_from_cstr("X-Amz-Expires"),
                                 fsg_span_from_cstr(s->expires) };
    if (s->p->session_token.len > 0 && (include_unsigned || !s->p->unsigned_session_token)) {
        out[n++] = (struct s_param){ fsg_span_from_cstr("X-Amz-Security-Token"),
                                     s->p->session_token };
    }
    return n;
}

static enum fsg_err s_credential(const struct s_sig *s, struct fsg_buf *out)
{
    return fsg_buf_printf(out, "%.*s/%s", FSG_SPAN_FMT(s->p->access_key_id),
                          fsg_buf_cstr(&s->scope));
}

static enum fsg_err s_canonical_request(const struct s_sig *s, struct fsg_buf *out,
                                        struct fsg_error *err)
{
    struct fsg_buf credential = FSG_BUF_INIT;
    struct s_param auth[6];
    size_t n_auth = 0;
    enum fsg_err rc = FSG_OK;

    if (s->presign) {
        rc = s_check_presign_query(&s->url, err);
        if (rc != FSG_OK) {
            return rc;
        }
        rc = s_credential(s, &credential);
        n_auth = s_presign_auth_params(s, &credential, false, auth);
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(out, "%s\n", s->req->method);
    }
    if (rc == FSG_OK) {
        rc = fsg_sigv4_canonical_uri(s->url.path, s->p, out);
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_append_byte(out, '\n');
    }
    if (rc == FSG_OK) {
        rc = s_canonical_query(s->url.query, auth, n_auth, out);
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_append_byte(out, '\n');
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_append_span(out, fsg_span_from_buf(&s->canonical_headers));
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(out, "\n%s\n%s", fsg_buf_cstr(&s->signed_headers),
                            fsg_buf_cstr(&s->payload_hash));
    }
    fsg_buf_clean_up(&credential);
    if (rc != FSG_OK) {
        return fsg_error_set(err, rc, "sigv4: out of memory building the canonical request");
    }
    return FSG_OK;
}

enum fsg_err fsg_sigv4_canonical_request(const struct fsg_http_request *req,
                                         const struct fsg_sigv4_params *p, struct fsg_buf *out,
                                         struct fsg_error *err)
{
    struct s_sig s;
    enum fsg_err rc = s_sig_init(&s, req, p, err);
    if (rc == FSG_OK) {
        rc = s_canonical_request(&s, out, err);
    }
    s_sig_clean_up(&s);
    return rc;
}

enum fsg_err fsg_sigv4_signed_headers(const struct fsg_http_request *req,
                                      const struct fsg_sigv4_params *p, struct fsg_buf *out,
                                      struct fsg_error *err)
{
    struct s_sig s;
    enum fsg_err rc = s_sig_init(&s, req, p, err);
    if (rc == FSG_OK && fsg_buf_append_span(out, fsg_span_from_buf(&s.signed_headers)) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "sigv4: out of memory");
    }
    s_sig_clean_up(&s);
    return rc;
}

enum fsg_err fsg_sigv4_string_to_sign(struct fsg_span canonical_request,
                                      const struct fsg_sigv4_params *p, struct fsg_buf *out,
                                      struct fsg_error *err)
{
    char amz_date[17];
    char hash[FSG_SHA256_HEX_LEN + 1];
    enum fsg_err rc = s_check_params(p, err);
    if (rc != FSG_OK) {
        return rc;
    }
    if (fsg_sigv4_amz_date(p->now_s, amz_date) != FSG_OK) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "sigv4: time %lld is out of range",
                             (long long)p->now_s);
    }
    rc = fsg_sha256_hex(canonical_request, hash, err);
    if (rc != FSG_OK) {
        return rc;
    }
    rc = fsg_buf_printf(out, S_ALGORITHM "\n%s\n%.8s/%.*s/%.*s/" S_TERMINATOR "\n%s", amz_date,
                        amz_date, FSG_SPAN_FMT(p->region), FSG_SPAN_FMT(p->service), hash);
    if (rc != FSG_OK) {
        return fsg_error_set(err, rc, "sigv4: out of memory");
    }
    return FSG_OK;
}

enum fsg_err fsg_sigv4_signing_key(const struct fsg_sigv4_params *p, uint8_t out_key[32],
                                   struct fsg_error *err)
{
    char amz_date[17];
    uint8_t k_date[FSG_SHA256_LEN];
    uint8_t k_region[FSG_SHA256_LEN];
    uint8_t k_service[FSG_SHA256_LEN];
    struct fsg_buf k_secret = FSG_BUF_INIT;

    enum fsg_err rc = s_check_params(p, err);
    if (rc != FSG_OK) {
        return rc;
    }
    if (fsg_sigv4_amz_date(p->now_s, amz_date) != FSG_OK) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "sigv4: time %lld is out of range",
                             (long long)p->now_s);
    }
    if (fsg_buf_append_cstr(&k_secret, "AWS4") != FSG_OK
        || fsg_buf_append_span(&k_secret, p->secret_access_key) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "sigv4: out of memory");
        goto out;
    }
    rc = fsg_hmac_sha256(fsg_span_from_buf(&k_secret), (struct fsg_span){ (uint8_t *)amz_date, 8 },
                         k_date, err);
    if (rc != FSG_OK) {
        goto out;
    }
    rc = fsg_hmac_sha256((struct fsg_span){ k_date, sizeof k_date }, p->region, k_region, err);
    if (rc != FSG_OK) {
        goto out;
    }
    rc = fsg_hmac_sha256((struct fsg_span){ k_region, sizeof k_region }, p->service, k_service,
                         err);
    if (rc != FSG_OK) {
        goto out;
    }
    rc = fsg_hmac_sha256((struct fsg_span){ k_service, sizeof k_service },
                         fsg_span_from_cstr(S_TERMINATOR), out_key, err);

out:
    fsg_crypto_cleanse(k_date, sizeof k_date);
    fsg_crypto_cleanse(k_region, sizeof k_region);
    fsg_crypto_cleanse(k_service, sizeof k_service);
    fsg_buf_clean_up_secure(&k_secret);
    return rc;
}

enum fsg_err fsg_sigv4_signature(struct fsg_span string_to_sign, const struct fsg_sigv4_params *p,
                                 char out_hex[65], struct fsg_error *err)
{
    uint8_t key[FSG_SHA256_LEN];
    uint8_t sig[FSG_SHA256_LEN];
    enum fsg_err rc = fsg_sigv4_signing_key(p, key, err);
    if (rc == FSG_OK) {
        rc = fsg_hmac_sha256((struct fsg_span){ key, sizeof key }, string_to_sign, sig, err);
    }
    if (rc == FSG_OK) {
        fsg_hex_lower(sig, sizeof sig, out_hex);
    }
    fsg_crypto_cleanse(key, sizeof key);
    fsg_crypto_cleanse(sig, sizeof sig);
    return rc;
}

/* Canonical request -> string to sign -> signature, for an initialised pass. */
static enum fsg_err s_compute_signature(const struct s_sig *s, char sig_hex[65],
                                        struct fsg_error *err)
{
    struct fsg_buf canonical = FSG_BUF_INIT;
    struct fsg_buf sts = FSG_BUF_INIT;
    enum fsg_err rc = s_canonical_request(s, &canonical, err);
    if (rc == FSG_OK) {
        rc = fsg_sigv4_string_to_sign(fsg_span_from_buf(&canonical), s->p, &sts, err);
    }
    if (rc == FSG_OK) {
        rc = fsg_sigv4_signature(fsg_span_from_buf(&sts), s->p, sig_hex, err);
    }
    fsg_buf_clean_up_secure(&canonical);
    fsg_buf_clean_up(&sts);
    return rc;
}

/* Sets name: value unless the request already has exactly that single header (then it keeps
 * its place: re-signing an unchanged request leaves the header order as it was). */
static enum fsg_err s_set_header(struct fsg_http_request *req, const char *name,
                                 struct fsg_span value, struct fsg_error *err)
{
    size_t same = 0;
    size_t count = 0;
    for (size_t i = 0; i < req->headers.len; i++) {
        if (req->headers.items[i].name != NULL
            && s_span_eq_ignore_case(fsg_span_from_cstr(req->headers.items[i].name), name)) {
            count++;
            same += fsg_span_eq(fsg_span_from_cstr(req->headers.items[i].value), value);
        }
    }
    if (count == 1 && same == 1) {
        return FSG_OK;
    }
    struct fsg_buf v = FSG_BUF_INIT;
    enum fsg_err rc = fsg_buf_append_span(&v, value);
    if (rc == FSG_OK) {
        rc = fsg_http_headers_set(&req->headers, name, fsg_buf_cstr(&v));
    }
    fsg_buf_clean_up_secure(&v);
    if (rc != FSG_OK) {
        return fsg_error_set(err, rc, "sigv4: cannot set the %s header", name);
    }
    return FSG_OK;
}

enum fsg_err fsg_sigv4_sign(struct fsg_http_request *req, const struct fsg_sigv4_params *p,
                            struct fsg_error *err)
{
    struct s_sig s;
    struct fsg_buf auth = FSG_BUF_INIT;
    char sig_hex[65];

    if (p != NULL && p->presign_expires_s > 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "sigv4: presign_expires_s is set; use fsg_sigv4_presign");
    }
    enum fsg_err rc = s_sig_init(&s, req, p, err);
    if (rc == FSG_OK) {
        rc = s_compute_signature(&s, sig_hex, err);
    }
    if (rc == FSG_OK && fsg_buf_printf(&auth, S_ALGORITHM " Credential=%.*s/%s, SignedHeaders=%s, "
                                              "Signature=%s",
                                       FSG_SPAN_FMT(p->access_key_id), fsg_buf_cstr(&s.scope),
                                       fsg_buf_cstr(&s.signed_headers), sig_hex) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "sigv4: out of memory");
    }
    /* everything is computed: only now touch the request */
    if (rc == FSG_OK && p->session_token.len > 0) {
        rc = s_set_header(req, "X-Amz-Security-Token", p->session_token, err);
    }
    if (rc == FSG_OK) {
        rc = s_set_header(req, "X-Amz-Date", fsg_span_from_cstr(s.amz_date), err);
    }
    if (rc == FSG_OK && s.add_content_sha256) {
        rc = s_set_header(req, "x-amz-content-sha256", fsg_span_from_buf(&s.payload_hash), err);
    }
    if (rc == FSG_OK) {
        rc = s_set_header(req, "Authorization", fsg_span_from_buf(&auth), err);
    }
    fsg_buf_clean_up(&auth);
    s_sig_clean_up(&s);
    return rc;
}

enum fsg_err fsg_sigv4_presign(const struct fsg_http_request *req, const struct fsg_sigv4_params *p,
                               struct fsg_buf *ret_url, struct fsg_error *err)
{
    struct s_sig s;
    struct fsg_buf credential = FSG_BUF_INIT;
    struct fsg_buf url = FSG_BUF_INIT;
    struct s_param auth[6];
    char sig_hex[65];

    if (p == NULL || p->presign_expires_s == 0 || p->presign_expires_s > FSG_SIGV4_MAX_PRESIGN_S) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "sigv4: presign_expires_s must be 1..%u seconds",
                             FSG_SIGV4_MAX_PRESIGN_S);
    }
    enum fsg_err rc = s_sig_init(&s, req, p, err);
    if (rc == FSG_OK) {
        rc = s_compute_signature(&s, sig_hex, err);
    }
    if (rc != FSG_OK) {
        goto out;
    }
    size_t n = 0;
    if (s_credential(&s, &credential) == FSG_OK) {
        n = s_presign_auth_params(&s, &credential, true, auth);
        rc = fsg_buf_append(&url, req->url, s.url.len_no_fragment);
    } else {
        rc = FSG_E_NOMEM;
    }
    if (rc == FSG_OK && !(s.url.has_query && s.url.query.len == 0)) {
        rc = fsg_buf_append_byte(&url, s.url.has_query ? '&' : '?');
    }
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        rc = fsg_buf_printf(&url, "%.*s=", FSG_SPAN_FMT(auth[i].key));
        if (rc == FSG_OK) {
            rc = fsg_uri_encode(&url, auth[i].value, false);
        }
        if (rc == FSG_OK) {
            rc = fsg_buf_append_byte(&url, '&');
        }
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(&url, "X-Amz-Signature=%s", sig_hex);
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_append_span(ret_url, fsg_span_from_buf(&url));
    }
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "sigv4: out of memory building the presigned URL");
    }

out:
    fsg_buf_clean_up_secure(&url);
    fsg_buf_clean_up(&credential);
    s_sig_clean_up(&s);
    return rc;
}
