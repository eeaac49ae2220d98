#include "flowlogs/summary.h"

#include <inttypes.h>
#include <jansson.h>
#include <string.h>
#include <zlib.h>

#include "flowlogs/direction.h"
#include "lib/core/crypto.h"
#include "lib/core/json.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"

#define S_ROW_FIELDS 12

/* ---- writing ------------------------------------------------------------------------------ */

static enum fsg_err s_str(struct fsg_buf *b, const char *s)
{
    char esc[1024];
    fsg_json_escape(s != NULL ? s : "", esc, sizeof esc);
    return fsg_buf_printf(b, "\"%s\"", esc);
}

static enum fsg_err s_time(struct fsg_buf *b, int64_t t)
{
    return t == FSG_FLOW_TIME_NONE ? fsg_buf_append_cstr(b, "null")
                                   : fsg_buf_printf(b, "%" PRId64, t);
}

static enum fsg_err s_json(const struct fsg_aggregate *agg, const char *const *enis,
                           size_t n_enis, const char *source, const char *etag,
                           const char *fingerprint, struct fsg_buf *b)
{
    const struct fsg_flow_stats *st = fsg_aggregate_stats(agg);
    size_t n = fsg_aggregate_entries(agg), kept = 0;
    for (size_t i = 0; i < n; i++) {
        struct fsg_agg_row r;
        fsg_aggregate_row(agg, i, &r);
        kept += fsg_eni_selected(r.eni, enis, n_enis);
    }
    enum fsg_err rc = fsg_buf_printf(b, "{\"flowseg_summary\":%d,\"source\":", FSG_SUMMARY_VERSION);
    rc = rc != FSG_OK ? rc : s_str(b, source);
    rc = rc != FSG_OK ? rc : fsg_buf_append_cstr(b, ",\"etag\":");
    rc = rc != FSG_OK ? rc : s_str(b, etag);
    rc = rc != FSG_OK ? rc : fsg_buf_append_cstr(b, ",\"fingerprint\":");
    rc = rc != FSG_OK ? rc : s_str(b, fingerprint);
    rc = rc != FSG_OK ? rc
                      : fsg_buf_printf(b,
                                       ",\"stats\":{\"bytes_in\":%" PRIu64 ",\"lines\":%" PRIu64
                                       ",\"records\":%" PRIu64 ",\"nodata\":%" PRIu64
                                       ",\"skipdata\":%" PRIu64 ",\"malformed\":%" PRIu64
                                       "},\"rows\":%zu}\n",
                                       st->bytes_in, st->lines, st->records, st->nodata,
                                       st->skipdata, st->malformed, kept);
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        struct fsg_agg_row r;
        fsg_aggregate_row(agg, i, &r);
        char a[FSG_IP_STR_MAX], bb[FSG_IP_STR_MAX], eni[FSG_ENI_ID_MAX + 1];
        memcpy(eni, r.eni, FSG_ENI_ID_MAX);
        eni[FSG_ENI_ID_MAX] = '\0';
        if (!fsg_eni_selected(eni, enis, n_enis)) {
            continue;
        }
        rc = fsg_buf_append_byte(b, '[');
        rc = rc != FSG_OK ? rc : s_str(b, eni);
        rc = rc != FSG_OK ? rc
                          : fsg_buf_printf(b,
                                           ",\"%s\",\"%s\",%u,%u,%u,%u,%" PRIu64 ",%" PRIu64
                                           ",%" PRIu64 ",",
                                           fsg_ip_format(&r.a, a), fsg_ip_format(&r.b, bb),
                                           (unsigned)r.port, (unsigned)r.proto,
                                           (unsigned)r.action, (unsigned)r.rdir, r.records,
                                           r.packets, r.bytes);
        rc = rc != FSG_OK ? rc : s_time(b, r.first);
        rc = rc != FSG_OK ? rc : fsg_buf_append_byte(b, ',');
        rc = rc != FSG_OK ? rc : s_time(b, r.last);
        rc = rc != FSG_OK ? rc : fsg_buf_append_cstr(b, "]\n");
    }
    return rc;
}

enum fsg_err fsg_summary_encode(const struct fsg_aggregate *agg, const char *const *enis,
                                size_t n_enis, const char *source, const char *etag,
                                const char *fingerprint, struct fsg_buf *out,
                                struct fsg_error *err)
{
    struct fsg_buf text = FSG_BUF_INIT;
    enum fsg_err rc = s_json(agg, enis, n_enis, source, etag, fingerprint, &text);
    z_stream z = { 0 };
    bool z_open = false;
    if (rc == FSG_OK) {
        rc = deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK
                 ? FSG_OK
                 : FSG_E_NOMEM;
        z_open = rc == FSG_OK;
    }
    if (rc == FSG_OK) {
        uLong bound = deflateBound(&z, (uLong)text.len);
        rc = fsg_buf_reserve(out, bound);
    }
    if (rc == FSG_OK) {
        z.next_in = text.ptr;
        z.avail_in = (uInt)text.len;
        z.next_out = out->ptr + out->len;
        z.avail_out = (uInt)(out->cap - out->len);
        rc = deflate(&z, Z_FINISH) == Z_STREAM_END ? FSG_OK : FSG_E_INTERNAL;
        if (rc == FSG_OK) {
            out->len += z.total_out;
        }
    }
    if (z_open) {
        deflateEnd(&z);
    }
    fsg_buf_clean_up(&text);
    return rc == FSG_OK ? FSG_OK : fsg_error_set(err, rc, "flow summary: cannot encode (%s)",
                                                 fsg_err_str(rc));
}

enum fsg_err fsg_summary_key(const char *prefix, const char *bucket, const char *key,
                             const char *etag, const char *fingerprint, struct fsg_buf *out)
{
    enum fsg_err rc = fsg_buf_printf(out, "%s%s/%s.", prefix, bucket, key);
    for (const char *p = etag; rc == FSG_OK && *p != '\0'; p++) {
        char c = *p;
        if (c == '"') {
            continue;
        }
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '-';
        rc = fsg_buf_append_byte(out, (uint8_t)(ok ? c : '_'));
    }
    return rc != FSG_OK ? rc
                        : fsg_buf_printf(out, ".%.16s.fsum.json.gz",
                                         fingerprint != NULL && fingerprint[0] != '\0' ? fingerprint
                                                                                    : "-");
}

/* ---- reading ------------------------------------------------------------------------------ */

static enum fsg_err s_gunzip(struct fsg_span in, struct fsg_buf *out, struct fsg_error *err)
{
    z_stream z = { 0 };
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        return fsg_error_set(err, FSG_E_NOMEM, "flow summary: out of memory");
    }
    z.next_in = (Bytef *)(uintptr_t)in.ptr;
    z.avail_in = (uInt)in.len;
    enum fsg_err rc = FSG_OK;
    int zr = Z_OK;
    while (rc == FSG_OK && zr != Z_STREAM_END) {
        if (out->len > FSG_SUMMARY_MAX_BYTES) {
            rc = fsg_error_set(err, FSG_E_LIMIT, "flow summary: more than %zu bytes inflated",
                               FSG_SUMMARY_MAX_BYTES);
            break;
        }
        rc = fsg_buf_reserve(out, 64 << 10);
        if (rc != FSG_OK) {
            fsg_error_set(err, rc, "flow summary: out of memory");
            break;
        }
        z.next_out = out->ptr + out->len;
        z.avail_out = (uInt)(out->cap - out->len);
        uLong before = z.total_out;
        zr = inflate(&z, Z_NO_FLUSH);
        out->len += z.total_out - before;
        if (zr != Z_OK && zr != Z_STREAM_END) {
            rc = fsg_error_set(err, FSG_E_PARSE, "flow summary: corrupt gzip (%s)",
                               z.msg != NULL ? z.msg : "truncated");
        } else if (zr == Z_OK && z.avail_in == 0 && z.avail_out > 0) {
            rc = fsg_error_set(err, FSG_E_PARSE, "flow summary: truncated gzip");
        }
    }
    inflateEnd(&z);
    return rc;
}

static bool s_u64(const json_t *v, uint64_t *ret)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return false;
    }
    *ret = (uint64_t)json_integer_value(v);
    return true;
}

static bool s_t(const json_t *v, int64_t *ret)
{
    if (json_is_null(v)) {
        *ret = FSG_FLOW_TIME_NONE;
        return true;
    }
    if (!json_is_integer(v)) {
        return false;
    }
    *ret = (int64_t)json_integer_value(v);
    return true;
}

static bool s_ip(const json_t *v, struct fsg_ip *ret)
{
    return json_is_string(v) &&
           fsg_ip_parse(fsg_span_from_cstr(json_string_value(v)), ret) == FSG_OK;
}

static bool s_row(const json_t *a, struct fsg_agg_row *r)
{
    if (!json_is_array(a) || json_array_size(a) != S_ROW_FIELDS) {
        return false;
    }
    const json_t *eni = json_array_get(a, 0);
    uint64_t port, proto, action, rdir;
    *r = (struct fsg_agg_row){ 0 };
    if (!json_is_string(eni) || json_string_length(eni) == 0 ||
        json_string_length(eni) >= FSG_ENI_ID_MAX || !s_ip(json_array_get(a, 1), &r->a) ||
        !s_ip(json_array_get(a, 2), &r->b) || !s_u64(json_array_get(a, 3), &port) ||
        port > UINT16_MAX || !s_u64(json_array_get(a, 4), &proto) || proto > UINT8_MAX ||
        !s_u64(json_array_get(a, 5), &action) || action > FSG_FLOW_ACTION_UNKNOWN ||
        !s_u64(json_array_get(a, 6), &rdir) || rdir > FSG_RDIR_LEAVING ||
        !s_u64(json_array_get(a, 7), &r->records) || r->records == 0 ||
        !s_u64(json_array_get(a, 8), &r->packets) || !s_u64(json_array_get(a, 9), &r->bytes) ||
        !s_t(json_array_get(a, 10), &r->first) || !s_t(json_array_get(a, 11), &r->last)) {
        return false;
    }
    memcpy(r->eni, json_string_value(eni), json_string_length(eni));
    r->port = (uint16_t)port;
    r->proto = (uint8_t)proto;
    r->action = (uint8_t)action;
    r->rdir = (uint8_t)rdir;
    return true;
}

static enum fsg_err s_stats(const json_t *o, struct fsg_flow_stats *st)
{
    struct {
        const char *name;
        uint64_t *v;
    } f[] = { { "bytes_in", &st->bytes_in }, { "lines", &st->lines },
              { "records", &st->records },   { "nodata", &st->nodata },
              { "skipdata", &st->skipdata }, { "malformed", &st->malformed } };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (!s_u64(json_object_get(o, f[i].name), f[i].v)) {
            return FSG_E_PARSE;
        }
    }
    return FSG_OK;
}

/* ---- the fast row parser: exactly what s_json writes, nothing else ---------------------- */

struct s_cur {
    const char *p, *end;
};

static bool s_lit(struct s_cur *c, char ch)
{
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A string without escapes: [p, q) into out (NUL-terminated, < size). */
static bool s_fast_str(struct s_cur *c, char *out, size_t size)
{
    if (!s_lit(c, '"')) {
        return false;
    }
    const char *q = c->p;
    while (q < c->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) {
        q++;
    }
    if (q >= c->end || *q != '"' || (size_t)(q - c->p) >= size) {
        return false;
    }
    memcpy(out, c->p, (size_t)(q - c->p));
    out[q - c->p] = '\0';
    c->p = q + 1;
    return true;
}

/* A non-negative integer of at most 19 digits (no sign, no leading zeros but "0"). */
static bool s_fast_u64(struct s_cur *c, uint64_t *ret)
{
    const char *q = c->p;
    uint64_t v = 0;
    while (q < c->end && *q >= '0' && *q <= '9' && q - c->p < 19) {
        v = v * 10 + (uint64_t)(*q - '0');
        q++;
    }
    if (q == c->p || (q - c->p > 1 && *c->p == '0') || (q < c->end && *q >= '0' && *q <= '9')) {
        return false;
    }
    c->p = q;
    *ret = v;
    return true;
}

static bool s_fast_time(struct s_cur *c, int64_t *ret)
{
    if (c->end - c->p >= 4 && memcmp(c->p, "null", 4) == 0) {
        c->p += 4;
        *ret = FSG_FLOW_TIME_NONE;
        return true;
    }
    bool neg = s_lit(c, '-');
    uint64_t v;
    if (!s_fast_u64(c, &v) || v > (uint64_t)INT64_MAX) {
        return false;
    }
    *ret = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

/* One row line (without its '\n') the fast way; false for anything else (the caller then asks
 * jansson, which also explains what is wrong). */
static bool s_fast_row(const char *line, size_t len, struct fsg_agg_row *r)
{
    struct s_cur c = { line, line + len };
    char a[FSG_IP_STR_MAX], b[FSG_IP_STR_MAX];
    uint64_t port, proto, action, rdir;
    *r = (struct fsg_agg_row){ 0 };
    bool ok = s_lit(&c, '[') && s_fast_str(&c, r->eni, sizeof r->eni) && r->eni[0] != '\0' &&
              s_lit(&c, ',') && s_fast_str(&c, a, sizeof a) && s_lit(&c, ',') &&
              s_fast_str(&c, b, sizeof b) && s_lit(&c, ',') && s_fast_u64(&c, &port) &&
              port <= UINT16_MAX && s_lit(&c, ',') && s_fast_u64(&c, &proto) &&
              proto <= UINT8_MAX && s_lit(&c, ',') && s_fast_u64(&c, &action) &&
              action <= FSG_FLOW_ACTION_UNKNOWN && s_lit(&c, ',') && s_fast_u64(&c, &rdir) &&
              rdir <= FSG_RDIR_LEAVING && s_lit(&c, ',') && s_fast_u64(&c, &r->records) &&
              r->records > 0 && s_lit(&c, ',') && s_fast_u64(&c, &r->packets) &&
              s_lit(&c, ',') && s_fast_u64(&c, &r->bytes) && s_lit(&c, ',') &&
              s_fast_time(&c, &r->first) && s_lit(&c, ',') && s_fast_time(&c, &r->last) &&
              s_lit(&c, ']') && c.p == c.end &&
              fsg_ip_parse(fsg_span_from_cstr(a), &r->a) == FSG_OK &&
              fsg_ip_parse(fsg_span_from_cstr(b), &r->b) == FSG_OK;
    if (ok) {
        r->port = (uint16_t)port;
        r->proto = (uint8_t)proto;
        r->action = (uint8_t)action;
        r->rdir = (uint8_t)rdir;
    }
    return ok;
}

/* A row line the fast parser did not take: any valid JSON spelling of the same row. */
static bool s_slow_row(const char *line, size_t len, struct fsg_agg_row *r)
{
    struct fsg_json_limits lim = { .max_bytes = 4096, .max_depth = 2 };
    json_t *a = NULL;
    if (fsg_json_load((struct fsg_span){ (const uint8_t *)line, len }, &lim, &a, NULL) != FSG_OK) {
        return false;
    }
    bool ok = s_row(a, r);
    json_decref(a);
    return ok;
}

enum fsg_err fsg_summary_decode(struct fsg_span in, const char *fingerprint,
                                struct fsg_summary *ret, struct fsg_error *err)
{
    *ret = (struct fsg_summary){ 0 };
    struct fsg_buf text = FSG_BUF_INIT;
    enum fsg_err rc = FSG_OK;
    struct fsg_span doc = in;
    if (in.len >= 2 && in.ptr[0] == 0x1f && in.ptr[1] == 0x8b) {
        rc = s_gunzip(in, &text, err);
        doc = (struct fsg_span){ text.ptr, text.len };
    } else if (in.len > FSG_SUMMARY_MAX_BYTES) {
        rc = fsg_error_set(err, FSG_E_LIMIT, "flow summary: more than %zu bytes",
                           FSG_SUMMARY_MAX_BYTES);
    }
    const char *p = (const char *)doc.ptr, *end = p + doc.len;
    const char *nl = rc == FSG_OK && doc.len > 0 ? memchr(p, '\n', doc.len) : NULL;
    json_t *head = NULL;
    uint64_t n_rows = 0;
    if (rc == FSG_OK && nl == NULL) {
        rc = fsg_error_set(err, FSG_E_PARSE, "not a flowseg flow summary (no header line)");
    }
    if (rc == FSG_OK) {
        struct fsg_json_limits lim = { .max_bytes = 64 << 10, .max_depth = 3 };
        rc = fsg_json_load((struct fsg_span){ (const uint8_t *)p, (size_t)(nl - p) }, &lim, &head,
                           err);
    }
    if (rc == FSG_OK) {
        const json_t *v = json_object_get(head, "flowseg_summary");
        const json_t *fp = json_object_get(head, "fingerprint");
        const json_t *etag = json_object_get(head, "etag");
        if (!json_is_object(head) || !json_is_integer(v)) {
            rc = fsg_error_set(err, FSG_E_PARSE, "not a flowseg flow summary");
        } else if (json_integer_value(v) != FSG_SUMMARY_VERSION) { /* may be shaped otherwise */
            rc = fsg_error_set(err, FSG_E_REJECTED, "flow summary version %" JSON_INTEGER_FORMAT
                               " (this flowseg reads version %d)", json_integer_value(v),
                               FSG_SUMMARY_VERSION);
        } else if (!json_is_string(fp) || !json_is_string(etag) ||
                   json_string_length(etag) >= sizeof ret->etag ||
                   !s_u64(json_object_get(head, "rows"), &n_rows) ||
                   s_stats(json_object_get(head, "stats"), &ret->stats) != FSG_OK) {
            rc = fsg_error_set(err, FSG_E_PARSE, "not a flowseg flow summary");
        } else if (strcmp(json_string_value(fp), fingerprint != NULL ? fingerprint : "") != 0) {
            rc = fsg_error_set(err, FSG_E_REJECTED, "flow summary made under another "
                               "configuration (ENI addresses, database ports, interfaces or "
                               "format)");
        } else if (n_rows > (uint64_t)(end - nl)) { /* each row takes more than a byte */
            rc = fsg_error_set(err, FSG_E_PARSE, "flow summary: %" PRIu64 " rows announced, "
                               "fewer lines follow", n_rows);
        } else {
            memcpy(ret->etag, json_string_value(etag), json_string_length(etag) + 1);
        }
    }
    json_decref(head);
    if (rc == FSG_OK && n_rows > 0) {
        ret->rows = fsg_calloc((size_t)n_rows, sizeof *ret->rows);
        if (ret->rows == NULL) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "flow summary: out of memory");
        }
    }
    const char *line = rc == FSG_OK ? nl + 1 : end;
    while (rc == FSG_OK && line < end) {
        const char *e = memchr(line, '\n', (size_t)(end - line));
        size_t len = e != NULL ? (size_t)(e - line) : (size_t)(end - line);
        if (ret->n_rows == n_rows) {
            rc = fsg_error_set(err, FSG_E_PARSE, "flow summary: more rows than the %" PRIu64
                               " announced", n_rows);
            break;
        }
        struct fsg_agg_row *r = &ret->rows[ret->n_rows];
        if (!s_fast_row(line, len, r) && !s_slow_row(line, len, r)) {
            rc = fsg_error_set(err, FSG_E_PARSE, "flow summary: row %zu is not [eni, src, dst, "
                               "port, proto, action, direction, records, packets, bytes, first, "
                               "last]", ret->n_rows + 1);
            break;
        }
        ret->n_rows++;
        line = e != NULL ? e + 1 : end;
    }
    if (rc == FSG_OK && ret->n_rows != n_rows) {
        rc = fsg_error_set(err, FSG_E_PARSE, "flow summary: %zu of the %" PRIu64 " rows announced "
                           "(cut short)", ret->n_rows, n_rows);
    }
    fsg_buf_clean_up(&text);
    if (rc != FSG_OK) {
        fsg_summary_clean_up(ret);
    }
    return rc;
}

void fsg_summary_clean_up(struct fsg_summary *s)
{
    if (s != NULL) {
        fsg_free(s->rows);
        *s = (struct fsg_summary){ 0 };
    }
}

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

enum fsg_err fsg_summary_fingerprint(const struct fsg_eni_hint *hints, size_t n_hints,
                                     const char *const *enis, size_t n_enis, const char *format,
                                     char out[65])
{
    /* One line per hint ("eni port addr addr ..."), sorted, then the format. */
    char **lines = fsg_calloc(n_hints + 1, sizeof *lines);
    struct fsg_buf all = FSG_BUF_INIT;
    enum fsg_err rc = lines != NULL ? FSG_OK : FSG_E_NOMEM;
    for (size_t i = 0; i < n_hints && rc == FSG_OK; i++) {
        struct fsg_buf l = FSG_BUF_INIT;
        rc = fsg_buf_printf(&l, "%s %u", hints[i].eni, (unsigned)hints[i].service_port);
        for (size_t j = 0; j < hints[i].n_addrs && rc == FSG_OK; j++) {
            char a[FSG_IP_STR_MAX];
            rc = fsg_buf_printf(&l, " %s", fsg_ip_format(&hints[i].addrs[j], a));
        }
        lines[i] = rc == FSG_OK ? fsg_buf_strdup(&l) : NULL;
        rc = rc == FSG_OK && lines[i] == NULL ? FSG_E_NOMEM : rc;
        fsg_buf_clean_up(&l);
    }
    if (rc == FSG_OK) {
        qsort(lines, n_hints, sizeof *lines, s_cmp_str);
        for (size_t i = 0; i < n_hints && rc == FSG_OK; i++) {
            rc = fsg_buf_printf(&all, "%s\n", lines[i]);
        }
    }
    /* the interfaces kept, sorted */
    char **kept = rc == FSG_OK ? fsg_calloc(n_enis + 1, sizeof *kept) : NULL;
    rc = rc == FSG_OK && kept == NULL ? FSG_E_NOMEM : rc;
    for (size_t i = 0; rc == FSG_OK && i < n_enis; i++) {
        kept[i] = (char *)enis[i];
    }
    if (rc == FSG_OK) {
        qsort(kept, n_enis, sizeof *kept, s_cmp_str);
        rc = fsg_buf_append_cstr(&all, n_enis == 0 ? "enis *" : "enis");
    }
    for (size_t i = 0; rc == FSG_OK && i < n_enis; i++) {
        rc = fsg_buf_printf(&all, " %s", kept[i]);
    }
    fsg_free(kept);
    rc = rc != FSG_OK ? rc : fsg_buf_printf(&all, "\nformat %s\n", format != NULL ? format : "-");
    rc = rc != FSG_OK ? rc : fsg_sha256_hex((struct fsg_span){ all.ptr, all.len }, out, NULL);
    for (size_t i = 0; lines != NULL && i < n_hints; i++) {
        fsg_free(lines[i]);
    }
    fsg_free(lines);
    fsg_buf_clean_up(&all);
    return rc;
}
