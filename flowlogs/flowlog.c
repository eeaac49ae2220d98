#include "flowlogs/flowlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "flowlogs/flowlog_scan.h"
#include "flowlogs/inflate.h"
#include "lib/mem.h"

/* 128 KiB of decompressed text per inflate call: large enough that ISA-L's per-call cost (it
 * decodes the first 32-64 KiB through its own history buffer) is noise, small enough that the
 * window and the flow table share the L2 cache (measured: 512 KiB and up cost 15% more). */
#define S_DEFAULT_WINDOW ((size_t)128 << 10)
/* A real record is a few hundred bytes even with every ECS field. */
#define S_DEFAULT_MAX_LINE ((size_t)64 << 10)
#define S_MIN_WINDOW ((size_t)64)
/* AWS documents about 40 fields; unknown ones are allowed, within reason. */
#define S_MAX_COLUMNS 128

/* What the hot loop does with a column. Only the fields aggregation needs are decoded. */
enum s_kind {
    K_SKIP = 0,
    K_IFACE,
    K_SRCADDR,
    K_DSTADDR,
    K_PKT_SRCADDR,
    K_PKT_DSTADDR,
    K_SRCPORT,
    K_DSTPORT,
    K_PROTOCOL,
    K_PACKETS,
    K_BYTES,
    K_START,
    K_END,
    K_ACTION,
    K_STATUS,
    K_TCPFLAGS,
    K_FLOWDIR,
    K_COUNT_
};

static const char *const s_field_names[FSG_FIELD_COUNT_] = {
    [FSG_FIELD_VERSION] = "version",
    [FSG_FIELD_ACCOUNT_ID] = "account-id",
    [FSG_FIELD_INTERFACE_ID] = "interface-id",
    [FSG_FIELD_SRCADDR] = "srcaddr",
    [FSG_FIELD_DSTADDR] = "dstaddr",
    [FSG_FIELD_SRCPORT] = "srcport",
    [FSG_FIELD_DSTPORT] = "dstport",
    [FSG_FIELD_PROTOCOL] = "protocol",
    [FSG_FIELD_PACKETS] = "packets",
    [FSG_FIELD_BYTES] = "bytes",
    [FSG_FIELD_START] = "start",
    [FSG_FIELD_END] = "end",
    [FSG_FIELD_ACTION] = "action",
    [FSG_FIELD_LOG_STATUS] = "log-status",
    [FSG_FIELD_VPC_ID] = "vpc-id",
    [FSG_FIELD_SUBNET_ID] = "subnet-id",
    [FSG_FIELD_INSTANCE_ID] = "instance-id",
    [FSG_FIELD_TCP_FLAGS] = "tcp-flags",
    [FSG_FIELD_TYPE] = "type",
    [FSG_FIELD_PKT_SRCADDR] = "pkt-srcaddr",
    [FSG_FIELD_PKT_DSTADDR] = "pkt-dstaddr",
    [FSG_FIELD_REGION] = "region",
    [FSG_FIELD_AZ_ID] = "az-id",
    [FSG_FIELD_SUBLOCATION_TYPE] = "sublocation-type",
    [FSG_FIELD_SUBLOCATION_ID] = "sublocation-id",
    [FSG_FIELD_PKT_SRC_AWS_SERVICE] = "pkt-src-aws-service",
    [FSG_FIELD_PKT_DST_AWS_SERVICE] = "pkt-dst-aws-service",
    [FSG_FIELD_FLOW_DIRECTION] = "flow-direction",
    [FSG_FIELD_TRAFFIC_PATH] = "traffic-path",
    [FSG_FIELD_ECS_CLUSTER_ARN] = "ecs-cluster-arn",
    [FSG_FIELD_ECS_CLUSTER_NAME] = "ecs-cluster-name",
    [FSG_FIELD_ECS_CONTAINER_INSTANCE_ARN] = "ecs-container-instance-arn",
    [FSG_FIELD_ECS_CONTAINER_INSTANCE_ID] = "ecs-container-instance-id",
    [FSG_FIELD_ECS_CONTAINER_ID] = "ecs-container-id",
    [FSG_FIELD_ECS_SECOND_CONTAINER_ID] = "ecs-second-container-id",
    [FSG_FIELD_ECS_SERVICE_NAME] = "ecs-service-name",
    [FSG_FIELD_ECS_TASK_DEFINITION_ARN] = "ecs-task-definition-arn",
    [FSG_FIELD_ECS_TASK_ARN] = "ecs-task-arn",
    [FSG_FIELD_ECS_TASK_ID] = "ecs-task-id",
    [FSG_FIELD_REJECT_REASON] = "reject-reason",
};

static const uint8_t s_field_kind[FSG_FIELD_COUNT_] = {
    [FSG_FIELD_INTERFACE_ID] = K_IFACE,
    [FSG_FIELD_SRCADDR] = K_SRCADDR,
    [FSG_FIELD_DSTADDR] = K_DSTADDR,
    [FSG_FIELD_PKT_SRCADDR] = K_PKT_SRCADDR,
    [FSG_FIELD_PKT_DSTADDR] = K_PKT_DSTADDR,
    [FSG_FIELD_SRCPORT] = K_SRCPORT,
    [FSG_FIELD_DSTPORT] = K_DSTPORT,
    [FSG_FIELD_PROTOCOL] = K_PROTOCOL,
    [FSG_FIELD_PACKETS] = K_PACKETS,
    [FSG_FIELD_BYTES] = K_BYTES,
    [FSG_FIELD_START] = K_START,
    [FSG_FIELD_END] = K_END,
    [FSG_FIELD_ACTION] = K_ACTION,
    [FSG_FIELD_LOG_STATUS] = K_STATUS,
    [FSG_FIELD_TCP_FLAGS] = K_TCPFLAGS,
    [FSG_FIELD_FLOW_DIRECTION] = K_FLOWDIR,
};

struct s_format {
    unsigned ncols;
    uint64_t fields;                /* bit per enum fsg_flowlog_field present */
    uint8_t kind[S_MAX_COLUMNS];    /* enum s_kind per column */
    uint8_t field[S_MAX_COLUMNS];   /* enum fsg_flowlog_field per column (for messages) */
    struct fsg_flowlog_record tmpl; /* every default; the record starts from it per format */
};

struct fsg_flowlog_decoder {
    struct fsg_inflate *inf;
    uint8_t *win; /* decompressed window; lines are decoded in place */
    size_t cap;
    size_t pos; /* start of the unprocessed bytes */
    size_t len; /* end of the valid bytes */
    size_t max_line;
    bool eof; /* the inflater reported the end */
    bool done;
    bool skipping;    /* inside an over-long line: drop bytes up to the next newline */
    bool have_format; /* the first non-empty line was seen */
    enum fsg_err failed_rc;
    unsigned long line_no;
    struct s_format fmt;
    struct s_format configured;
    struct fsg_flowlog_record rec;
    struct fsg_flowlog_stats stats;
    struct fsg_flowlog_malformed samples[FSG_FLOWLOG_MALFORMED_SAMPLES];
    size_t n_samples;
    uint64_t *spaces; /* the current line's space bitmap (flowlog_scan.h) */
    struct fsg_scan_addr_cache addrs;
};

const char *fsg_flowlog_field_name(enum fsg_flowlog_field f)
{
    return (unsigned)f < FSG_FIELD_COUNT_ ? s_field_names[f] : NULL;
}

enum fsg_flowlog_field fsg_flowlog_field_lookup(struct fsg_span name)
{
    for (unsigned f = 1; f < FSG_FIELD_COUNT_; f++) {
        if (fsg_span_eq_cstr(name, s_field_names[f])) {
            return (enum fsg_flowlog_field)f;
        }
    }
    return FSG_FIELD_UNKNOWN;
}

/* ---- formats ------------------------------------------------------------------------------- */

/* "${name}" -> "name" */
static struct fsg_span s_strip_braces(struct fsg_span t)
{
    if (t.len >= 3 && t.ptr[0] == '$' && t.ptr[1] == '{' && t.ptr[t.len - 1] == '}') {
        return (struct fsg_span){ t.ptr + 2, t.len - 3 };
    }
    return t;
}

static bool s_next_token(struct fsg_span line, size_t *pos, struct fsg_span *ret)
{
    size_t i = *pos;
    while (i < line.len && line.ptr[i] == ' ') {
        i++;
    }
    if (i == line.len) {
        *pos = i;
        return false;
    }
    size_t start = i;
    while (i < line.len && line.ptr[i] != ' ') {
        i++;
    }
    *ret = (struct fsg_span){ line.ptr + start, i - start };
    *pos = i;
    return true;
}

static bool s_name_like(struct fsg_span t)
{
    if (t.len == 0 || t.ptr[0] < 'a' || t.ptr[0] > 'z') {
        return false;
    }
    for (size_t i = 1; i < t.len; i++) {
        uint8_t c = t.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

/* A header line: every token a field-like name, at least one of them a documented field. */
static bool s_header_like(struct fsg_span line)
{
    size_t pos = 0;
    struct fsg_span t;
    bool known = false;
    while (s_next_token(line, &pos, &t)) {
        t = s_strip_braces(t);
        if (!s_name_like(t)) {
            return false;
        }
        known = known || fsg_flowlog_field_lookup(t) != FSG_FIELD_UNKNOWN;
    }
    return known;
}

static void s_format_template(struct s_format *f)
{
    f->tmpl = (struct fsg_flowlog_record){
        .tcp_flags = -1,
        .action = FSG_FLOW_ACTION_UNKNOWN,
        .start_s = FSG_FLOW_TIME_NONE,
        .end_s = FSG_FLOW_TIME_NONE,
    };
}

/* Builds a column map from a field list. On failure returns false with a reason. */
static bool s_format_build(struct fsg_span line, struct s_format *f, char *why, size_t why_size)
{
    size_t pos = 0;
    struct fsg_span t;
    *f = (struct s_format){ .ncols = 0 };
    while (s_next_token(line, &pos, &t)) {
        if (f->ncols == S_MAX_COLUMNS) {
            snprintf(why, why_size, "format has more than %d fields", S_MAX_COLUMNS);
            return false;
        }
        enum fsg_flowlog_field fld = fsg_flowlog_field_lookup(s_strip_braces(t));
        bool dup = fld != FSG_FIELD_UNKNOWN && (f->fields & ((uint64_t)1 << fld)) != 0;
        f->field[f->ncols] = (uint8_t)fld;
        f->kind[f->ncols] = dup ? K_SKIP : s_field_kind[fld]; /* a repeated name: first one wins */
        f->fields |= (uint64_t)1 << fld;
        f->ncols++;
    }
    uint64_t pair = ((uint64_t)1 << FSG_FIELD_SRCADDR) | ((uint64_t)1 << FSG_FIELD_DSTADDR);
    uint64_t pkt = ((uint64_t)1 << FSG_FIELD_PKT_SRCADDR) | ((uint64_t)1 << FSG_FIELD_PKT_DSTADDR);
    if ((f->fields & pair) != pair && (f->fields & pkt) != pkt) {
        snprintf(why, why_size,
                 "format has neither srcaddr and dstaddr nor pkt-srcaddr and "
                 "pkt-dstaddr fields");
        return false;
    }
    s_format_template(f);
    return true;
}

/* ---- field decoding (the hot path, scanners in flowlogs/flowlog_scan.h) ---------------------- */

static inline bool s_is(const uint8_t *t, size_t n, const char *w, size_t wn)
{
    return n == wn && memcmp(t, w, wn) == 0;
}

#define S_SET(k) ((uint32_t)1 << (k))

/* Decodes one column (not "-", not skipped) of n bytes at t into d->rec. False when invalid. */
static inline bool s_column(struct fsg_flowlog_decoder *d, unsigned kind, const uint8_t *t,
                            size_t n, enum fsg_flowlog_status *status, uint32_t *set)
{
    struct fsg_flowlog_record *r = &d->rec;
    uint64_t v = 0;
    bool ok;
    switch ((enum s_kind)kind) {
    case K_IFACE:
        r->interface_id = (struct fsg_span){ t, n };
        return true;
    case K_SRCADDR:
        *set |= S_SET(K_SRCADDR);
        return fsg_scan_addr(&d->addrs, t, n, &r->srcaddr);
    case K_DSTADDR:
        *set |= S_SET(K_DSTADDR);
        return fsg_scan_addr(&d->addrs, t, n, &r->dstaddr);
    case K_PKT_SRCADDR:
        *set |= S_SET(K_PKT_SRCADDR);
        return fsg_scan_addr(&d->addrs, t, n, &r->pkt_srcaddr);
    case K_PKT_DSTADDR:
        *set |= S_SET(K_PKT_DSTADDR);
        return fsg_scan_addr(&d->addrs, t, n, &r->pkt_dstaddr);
    case K_SRCPORT:
        ok = fsg_scan_uint(t, n, UINT16_MAX, &v);
        r->srcport = (uint16_t)v;
        return ok;
    case K_DSTPORT:
        ok = fsg_scan_uint(t, n, UINT16_MAX, &v);
        r->dstport = (uint16_t)v;
        return ok;
    case K_PROTOCOL:
        ok = fsg_scan_uint(t, n, UINT8_MAX, &v);
        r->protocol = (uint8_t)v;
        return ok;
    case K_PACKETS:
        return fsg_scan_uint(t, n, UINT64_MAX, &r->packets);
    case K_BYTES:
        return fsg_scan_uint(t, n, UINT64_MAX, &r->bytes);
    case K_START:
        ok = fsg_scan_uint(t, n, INT64_MAX, &v);
        r->start_s = (int64_t)v;
        return ok;
    case K_END:
        ok = fsg_scan_uint(t, n, INT64_MAX, &v);
        r->end_s = (int64_t)v;
        return ok;
    case K_TCPFLAGS:
        ok = fsg_scan_uint(t, n, INT32_MAX, &v);
        r->tcp_flags = (int)v;
        return ok;
    case K_ACTION:
        r->action = s_is(t, n, "ACCEPT", 6) ? FSG_FLOW_ACCEPT : FSG_FLOW_REJECT;
        return s_is(t, n, "ACCEPT", 6) || s_is(t, n, "REJECT", 6);
    case K_STATUS:
        if (s_is(t, n, "OK", 2)) {
            return true;
        }
        *status = s_is(t, n, "NODATA", 6) ? FSG_FLOWLOG_NODATA : FSG_FLOWLOG_SKIPDATA;
        return s_is(t, n, "NODATA", 6) || s_is(t, n, "SKIPDATA", 8);
    case K_FLOWDIR:
        r->flow_direction =
            s_is(t, n, "ingress", 7) ? FSG_FLOWLOG_DIR_INGRESS : FSG_FLOWLOG_DIR_EGRESS;
        return s_is(t, n, "ingress", 7) || s_is(t, n, "egress", 6);
    case K_SKIP:
    case K_COUNT_:
        break;
    }
    return true;
}

/* A "-" column: the field's default (fields the format lacks keep theirs from when the format
 * was set, so a line does not copy a whole record). */
static void s_default(struct fsg_flowlog_record *r, unsigned kind)
{
    switch ((enum s_kind)kind) {
    case K_IFACE:
        r->interface_id = FSG_SPAN_NULL;
        break;
    case K_SRCPORT:
        r->srcport = 0;
        break;
    case K_DSTPORT:
        r->dstport = 0;
        break;
    case K_PROTOCOL:
        r->protocol = 0;
        break;
    case K_PACKETS:
        r->packets = 0;
        break;
    case K_BYTES:
        r->bytes = 0;
        break;
    case K_START:
        r->start_s = FSG_FLOW_TIME_NONE;
        break;
    case K_END:
        r->end_s = FSG_FLOW_TIME_NONE;
        break;
    case K_TCPFLAGS:
        r->tcp_flags = -1;
        break;
    case K_ACTION:
        r->action = FSG_FLOW_ACTION_UNKNOWN;
        break;
    case K_FLOWDIR:
        r->flow_direction = FSG_FLOWLOG_DIR_NONE;
        break;
    case K_SRCADDR:
    case K_DSTADDR:
    case K_PKT_SRCADDR:
    case K_PKT_DSTADDR: /* has_addrs / has_pkt_addrs say they are absent */
    case K_STATUS:      /* the line's status starts as OK */
    case K_SKIP:
    case K_COUNT_:
        break;
    }
}

static void s_malformed(struct fsg_flowlog_decoder *d, const char *fmt, ...) FSG_PRINTF(2, 3);

static void s_malformed(struct fsg_flowlog_decoder *d, const char *fmt, ...)
{
    d->stats.malformed++;
    if (d->n_samples == FSG_FLOWLOG_MALFORMED_SAMPLES) {
        return;
    }
    struct fsg_flowlog_malformed *m = &d->samples[d->n_samples++];
    m->line = d->line_no;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->reason, sizeof m->reason, fmt, ap);
    va_end(ap);
}

static void s_bad_column(struct fsg_flowlog_decoder *d, unsigned col, const uint8_t *t, size_t n)
{
    const char *name = fsg_flowlog_field_name((enum fsg_flowlog_field)d->fmt.field[col]);
    int shown = n > 40 ? 40 : (int)n;
    if (name != NULL) {
        s_malformed(d, "bad %s '%.*s'", name, shown, (const char *)t);
    } else {
        s_malformed(d, "bad field %u '%.*s'", col + 1, shown, (const char *)t);
    }
}

static unsigned s_count_tokens(const uint8_t *p, size_t len)
{
    size_t pos = 0;
    unsigned n = 0;
    struct fsg_span t;
    while (s_next_token((struct fsg_span){ p, len }, &pos, &t)) {
        n++;
    }
    return n;
}

/* Decodes the columns of one trimmed, non-empty data line of len bytes (in the window, so
 * FSG_SCAN_SLACK bytes after it are readable). False (and why recorded) when malformed. */
static bool s_decode(struct fsg_flowlog_decoder *d, const uint8_t *p, size_t len,
                     enum fsg_flowlog_status *status)
{
    const struct s_format *f = &d->fmt;
    uint64_t *m = d->spaces;
    uint32_t set = 0;
    unsigned col = 0;
    size_t start = 0, e = 0;
    fsg_scan_line(p, len, m);
    *status = FSG_FLOWLOG_OK;
    /* Walk the space bits in order: each is the end of a token. Only the bit-clearing is a chain
     * from one token to the next; the rest of the work overlaps. */
    size_t wi = 0;
    uint64_t w = m[0];
    while (col < f->ncols) {
        while (w == 0) {
            w = m[++wi];
        }
        e = (wi << 6) + (unsigned)__builtin_ctzll(w);
        w &= w - 1;
        e = e < len ? e : len;
        unsigned kind = f->kind[col];
        const uint8_t *t = p + start;
        size_t n = e - start;
        if (kind != K_SKIP) {
            if (n == 1 && t[0] == '-') {
                s_default(&d->rec, kind);
            } else if (!s_column(d, kind, t, n, status, &set)) {
                s_bad_column(d, col, t, n);
                return false;
            }
        }
        col++;
        if (e >= len) {
            break;
        }
        start = e + 1;
        while (fsg_scan_is_space(m, start)) { /* runs of spaces: each is the next bit */
            while (w == 0) {
                w = m[++wi];
            }
            w &= w - 1;
            start++; /* the line is trimmed, so a token follows */
        }
    }
    if (col != f->ncols || e < len) {
        s_malformed(d, "expected %u fields, got %u", f->ncols, s_count_tokens(p, len));
        return false;
    }
    d->rec.has_addrs =
        (set & (S_SET(K_SRCADDR) | S_SET(K_DSTADDR))) == (S_SET(K_SRCADDR) | S_SET(K_DSTADDR));
    d->rec.has_pkt_addrs = (set & (S_SET(K_PKT_SRCADDR) | S_SET(K_PKT_DSTADDR))) ==
                           (S_SET(K_PKT_SRCADDR) | S_SET(K_PKT_DSTADDR));
    d->rec.line = d->line_no;
    return true;
}

/* ---- lines ------------------------------------------------------------------------------------
 */

enum s_line_result { S_LINE_NONE = 0, S_LINE_RECORD, S_LINE_FATAL };

/* Switches to format f: the record starts from its template (see s_default). */
static void s_use_format(struct fsg_flowlog_decoder *d, const struct s_format *f)
{
    d->fmt = *f;
    d->rec = f->tmpl;
}

static enum s_line_result s_header(struct fsg_flowlog_decoder *d, struct fsg_span line,
                                   struct fsg_error *err)
{
    char why[128];
    struct s_format f;
    if (!s_format_build(line, &f, why, sizeof why)) {
        d->failed_rc = fsg_error_set(err, FSG_E_PARSE, "line %lu: header: %s", d->line_no, why);
        if (err != NULL) {
            err->line = d->line_no;
        }
        return S_LINE_FATAL;
    }
    s_use_format(d, &f);
    return S_LINE_NONE;
}

static enum s_line_result s_line(struct fsg_flowlog_decoder *d, const uint8_t *p, size_t n,
                                 struct fsg_error *err)
{
    d->line_no++;
    if (n > 0 && p[n - 1] == '\r') {
        n--;
    }
    while (n > 0 && p[n - 1] == ' ') {
        n--;
    }
    while (n > 0 && p[0] == ' ') {
        p++;
        n--;
    }
    if (n == 0) {
        return S_LINE_NONE;
    }
    struct fsg_span line = { p, n };
    if (n > d->max_line) {
        s_malformed(d, "line longer than %zu bytes", d->max_line);
        d->stats.lines++;
        return S_LINE_NONE;
    }
    if (!d->have_format) {
        d->have_format = true;
        if (s_header_like(line)) {
            return s_header(d, line, err);
        }
        s_use_format(d, &d->configured);
    }
    enum fsg_flowlog_status status;
    if (!s_decode(d, p, n, &status)) {
        /* A header in the middle (concatenated objects) starts a new format, if it is usable. */
        struct s_format f;
        char why[128];
        if (s_header_like(line) && s_format_build(line, &f, why, sizeof why)) {
            d->stats.malformed--;
            d->n_samples -= d->n_samples > 0 && d->samples[d->n_samples - 1].line == d->line_no;
            s_use_format(d, &f);
            return S_LINE_NONE;
        }
        d->stats.lines++;
        return S_LINE_NONE;
    }
    d->stats.lines++;
    switch (status) {
    case FSG_FLOWLOG_OK:
        d->stats.records++;
        return S_LINE_RECORD;
    case FSG_FLOWLOG_NODATA:
        d->stats.nodata++;
        return S_LINE_NONE;
    case FSG_FLOWLOG_SKIPDATA:
        d->stats.skipdata++;
        return S_LINE_NONE;
    }
    return S_LINE_NONE;
}

/* ---- the decoder ------------------------------------------------------------------------------
 */

enum fsg_err fsg_flowlog_decoder_new(const struct fsg_flowlog_options *opts,
                                     struct fsg_flowlog_decoder **ret_dec, struct fsg_error *err)
{
    struct fsg_flowlog_options o = opts != NULL ? *opts : (struct fsg_flowlog_options){ 0 };
    enum fsg_err rc;
    struct fsg_flowlog_decoder *d = fsg_calloc(1, sizeof *d);
    if (d == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "flow-log decoder: out of memory");
    }
    d->cap = o.window_bytes != 0 ? o.window_bytes : S_DEFAULT_WINDOW;
    if (d->cap < S_MIN_WINDOW) {
        d->cap = S_MIN_WINDOW;
    }
    d->max_line = o.max_line_bytes != 0 ? o.max_line_bytes : S_DEFAULT_MAX_LINE;
    if (d->max_line > d->cap / 2) {
        d->max_line = d->cap / 2;
    }
    const char *format =
        o.format != NULL && o.format[0] != '\0' ? o.format : FSG_FLOWLOG_DEFAULT_FORMAT;
    char why[128];
    if (!s_format_build(fsg_span_from_cstr(format), &d->configured, why, sizeof why)) {
        rc = fsg_error_set(err, FSG_E_INVALID_ARG, "flow-log format '%.200s': %s", format, why);
        goto fail;
    }
    struct fsg_inflate_options io = { .force_zlib = o.force_zlib,
                                      .max_output_bytes = o.max_output_bytes };
    rc = fsg_inflate_new(&io, &d->inf, err);
    if (rc != FSG_OK) {
        goto fail;
    }
    /* zeroed, with slack: the scanners read whole words past the end of a line */
    d->win = fsg_calloc(1, d->cap + FSG_SCAN_SLACK);
    d->spaces = fsg_calloc(d->max_line / 64 + 2, sizeof *d->spaces);
    if (d->win == NULL || d->spaces == NULL) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "flow-log decoder: out of memory");
        goto fail;
    }
    *ret_dec = d;
    return FSG_OK;
fail:
    fsg_flowlog_decoder_destroy(d);
    return rc;
}

void fsg_flowlog_decoder_destroy(struct fsg_flowlog_decoder *d)
{
    if (d == NULL) {
        return;
    }
    fsg_inflate_destroy(d->inf);
    fsg_free(d->win);
    fsg_free(d->spaces);
    fsg_free(d);
}

void fsg_flowlog_decoder_set_input(struct fsg_flowlog_decoder *d, struct fsg_span chunk)
{
    fsg_inflate_set_input(d->inf, chunk);
}

void fsg_flowlog_decoder_finish(struct fsg_flowlog_decoder *d)
{
    fsg_inflate_finish(d->inf);
}

/* Moves the partial line to the front and inflates more after it. *ret_more is false when the
 * inflater needs input or has ended. */
static enum fsg_err s_refill(struct fsg_flowlog_decoder *d, bool *ret_more, struct fsg_error *err)
{
    size_t rest = d->len - d->pos;
    if (d->pos > 0) {
        memmove(d->win, d->win + d->pos, rest);
        d->pos = 0;
        d->len = rest;
    }
    if (!d->skipping && d->len > d->max_line) {
        d->line_no++;
        s_malformed(d, "line longer than %zu bytes", d->max_line);
        d->stats.lines++;
        d->skipping = true;
    }
    if (d->skipping) {
        d->len = 0; /* the rest of an over-long line is dropped as it comes */
    }
    size_t n = 0;
    enum fsg_err rc = fsg_inflate_read(d->inf, d->win + d->len, d->cap - d->len, &n, err);
    d->stats.bytes_in = fsg_inflate_bytes_in(d->inf);
    d->stats.bytes_out = fsg_inflate_bytes_out(d->inf);
    if (rc != FSG_OK) {
        return rc;
    }
    d->len += n;
    d->eof = n == 0 && fsg_inflate_done(d->inf);
    *ret_more = n > 0;
    return FSG_OK;
}

enum fsg_err fsg_flowlog_decoder_next(struct fsg_flowlog_decoder *d,
                                      const struct fsg_flowlog_record **ret_rec,
                                      struct fsg_error *err)
{
    *ret_rec = NULL;
    if (d->failed_rc != FSG_OK) {
        return fsg_error_set(err, d->failed_rc, "flow-log decoder: used after an error");
    }
    for (;;) {
        uint8_t *start = d->win + d->pos;
        size_t avail = d->len - d->pos;
        uint8_t *nl = avail > 0 ? memchr(start, '\n', avail) : NULL;
        size_t n = nl != NULL ? (size_t)(nl - start) : avail;
        if (nl == NULL && !d->eof) {
            bool more = false;
            enum fsg_err rc = s_refill(d, &more, err);
            if (rc != FSG_OK) {
                d->failed_rc = rc;
                return rc;
            }
            if (!more && !d->eof) {
                return FSG_OK; /* needs input */
            }
            continue;
        }
        if (nl == NULL && n == 0) {
            d->done = true; /* eof and nothing left */
            return FSG_OK;
        }
        d->pos += nl != NULL ? n + 1 : n;
        if (d->skipping) {
            d->skipping = false; /* the tail of an over-long line */
            continue;
        }
        enum s_line_result lr = s_line(d, start, n, err);
        if (lr == S_LINE_RECORD) {
            *ret_rec = &d->rec;
            return FSG_OK;
        }
        if (lr == S_LINE_FATAL) {
            return d->failed_rc;
        }
    }
}

bool fsg_flowlog_decoder_done(const struct fsg_flowlog_decoder *d)
{
    return d->done;
}

const struct fsg_flowlog_stats *fsg_flowlog_decoder_stats(const struct fsg_flowlog_decoder *d)
{
    return &d->stats;
}

const struct fsg_flowlog_malformed *
fsg_flowlog_decoder_malformed(const struct fsg_flowlog_decoder *d, size_t *ret_n)
{
    *ret_n = d->n_samples;
    return d->samples;
}

uint64_t fsg_flowlog_decoder_offset(const struct fsg_flowlog_decoder *d)
{
    return fsg_inflate_bytes_in(d->inf);
}

const char *fsg_flowlog_decoder_engine(const struct fsg_flowlog_decoder *d)
{
    return fsg_inflate_engine(d->inf);
}

bool fsg_flowlog_decoder_has_field(const struct fsg_flowlog_decoder *d, enum fsg_flowlog_field f)
{
    const struct s_format *fmt = d->have_format ? &d->fmt : &d->configured;
    return (unsigned)f < FSG_FIELD_COUNT_ && (fmt->fields & ((uint64_t)1 << f)) != 0;
}
