#include "flowlogs/flowlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "flowlogs/inflate.h"
#include "lib/mem.h"

/* 1 MiB of decompressed text per inflate call: the per-call cost of ISA-L (it first decodes
 * into its own 64 KiB history buffer) becomes noise, and it stays small next to the 64 MiB budget. */
#define S_DEFAULT_WINDOW ((size_t)1 << 20)
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
    [FSG_FIELD_INTERFACE_ID] = K_IFACE,   [FSG_FIELD_SRCADDR] = K_SRCADDR,
    [FSG_FIELD_DSTADDR] = K_DSTADDR,      [FSG_FIELD_PKT_SRCADDR] = K_PKT_SRCADDR,
    [FSG_FIELD_PKT_DSTADDR] = K_PKT_DSTADDR, [FSG_FIELD_SRCPORT] = K_SRCPORT,
    [FSG_FIELD_DSTPORT] = K_DSTPORT,      [FSG_FIELD_PROTOCOL] = K_PROTOCOL,
    [FSG_FIELD_PACKETS] = K_PACKETS,      [FSG_FIELD_BYTES] = K_BYTES,
    [FSG_FIELD_START] = K_START,          [FSG_FIELD_END] = K_END,
    [FSG_FIELD_ACTION] = K_ACTION,        [FSG_FIELD_LOG_STATUS] = K_STATUS,
    [FSG_FIELD_TCP_FLAGS] = K_TCPFLAGS,   [FSG_FIELD_FLOW_DIRECTION] = K_FLOWDIR,
};

struct s_format {
    unsigned ncols;
    uint64_t fields;                    /* bit per enum fsg_flowlog_field present */
    uint8_t kind[S_MAX_COLUMNS];        /* enum s_kind per column */
    uint8_t field[S_MAX_COLUMNS];       /* enum fsg_flowlog_field per column (for messages) */
    struct fsg_flowlog_record tmpl;     /* a record with every default, copied per line */
};

struct fsg_flowlog_decoder {
    struct fsg_inflate *inf;
    uint8_t *win;          /* decompressed window; lines are decoded in place */
    size_t cap;
    size_t pos;            /* start of the unprocessed bytes */
    size_t len;            /* end of the valid bytes */
    size_t max_line;
    bool eof;              /* the inflater reported the end */
    bool done;
    bool skipping;         /* inside an over-long line: drop bytes up to the next newline */
    bool have_format;      /* the first non-empty line was seen */
    enum fsg_err failed_rc;
    unsigned long line_no;
    struct s_format fmt;
    struct s_format configured;
    struct fsg_flowlog_record rec;
    struct fsg_flowlog_stats stats;
    struct fsg_flowlog_malformed samples[FSG_FLOWLOG_MALFORMED_SAMPLES];
    size_t n_samples;
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
        snprintf(why, why_size, "format has neither srcaddr and dstaddr nor pkt-srcaddr and "
                                "pkt-dstaddr fields");
        return false;
    }
    s_format_template(f);
    return true;
}

/* ---- field decoding (the hot path) ---------------------------------------------------------- */

static inline bool s_term(const uint8_t *p, const uint8_t *end)
{
    return p == end || *p == ' ';
}

static inline const uint8_t *s_skip(const uint8_t *p, const uint8_t *end)
{
    while (p < end && *p != ' ') {
        p++;
    }
    return p;
}

static inline bool s_is_dash(const uint8_t *p, const uint8_t *end)
{
    return *p == '-' && s_term(p + 1, end);
}

/* Unsigned decimal token up to `max`. NULL on anything else. 19 digits always fit in 64 bits. */
static inline const uint8_t *s_uint(const uint8_t *p, const uint8_t *end, uint64_t max,
                                    uint64_t *out)
{
    const uint8_t *s = p;
    uint64_t v = 0;
    while (p < end) {
        unsigned d = (unsigned)*p - '0';
        if (d > 9) {
            break;
        }
        v = v * 10 + d;
        p++;
    }
    if (p == s || p - s > 19 || !s_term(p, end) || v > max) {
        return NULL;
    }
    *out = v;
    return p;
}

/* Dotted-quad IPv4 without leading zeros, written as the IPv4-mapped form of lib/ip.h. */
static inline const uint8_t *s_ipv4(const uint8_t *p, const uint8_t *end, struct fsg_ip *out)
{
    uint32_t ip = 0;
    for (int part = 0; part < 4; part++) {
        const uint8_t *s = p;
        unsigned v = 0;
        while (p < end && p - s < 3) {
            unsigned d = (unsigned)*p - '0';
            if (d > 9) {
                break;
            }
            v = v * 10 + d;
            p++;
        }
        if (p == s || v > 255 || (p - s > 1 && *s == '0')) {
            return NULL;
        }
        ip = ip << 8 | v;
        if (part < 3) {
            if (p == end || *p != '.') {
                return NULL;
            }
            p++;
        }
    }
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    memcpy(out->a, mapped, sizeof mapped);
    out->a[12] = (uint8_t)(ip >> 24);
    out->a[13] = (uint8_t)(ip >> 16);
    out->a[14] = (uint8_t)(ip >> 8);
    out->a[15] = (uint8_t)ip;
    out->is_v6 = false;
    return p;
}

static const uint8_t *s_addr(const uint8_t *p, const uint8_t *end, struct fsg_ip *out)
{
    const uint8_t *q = s_ipv4(p, end, out);
    if (q != NULL && s_term(q, end)) {
        return q;
    }
    q = s_skip(p, end); /* IPv6 and oddities: the general parser */
    if (fsg_ip_parse((struct fsg_span){ p, (size_t)(q - p) }, out) != FSG_OK) {
        return NULL;
    }
    return q;
}

static inline bool s_word(const uint8_t *p, const uint8_t *end, const char *w, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, w, n) == 0 && s_term(p + n, end);
}

#define S_SET(k) ((uint32_t)1 << (k))

/* Decodes one column into d->rec. Returns the end of the token, or NULL when it is invalid. */
static inline const uint8_t *s_column(struct fsg_flowlog_decoder *d, unsigned kind,
                                      const uint8_t *p, const uint8_t *end, uint32_t *set,
                                      enum fsg_flowlog_status *status)
{
    struct fsg_flowlog_record *r = &d->rec;
    uint64_t v = 0;
    if (kind == K_SKIP) {
        return s_skip(p, end);
    }
    if (s_is_dash(p, end)) {
        return p + 1; /* the defaults from the template stand */
    }
    *set |= S_SET(kind);
    switch ((enum s_kind)kind) {
    case K_IFACE: {
        const uint8_t *q = s_skip(p, end);
        r->interface_id = (struct fsg_span){ p, (size_t)(q - p) };
        return q;
    }
    case K_SRCADDR:
        return s_addr(p, end, &r->srcaddr);
    case K_DSTADDR:
        return s_addr(p, end, &r->dstaddr);
    case K_PKT_SRCADDR:
        return s_addr(p, end, &r->pkt_srcaddr);
    case K_PKT_DSTADDR:
        return s_addr(p, end, &r->pkt_dstaddr);
    case K_SRCPORT:
        p = s_uint(p, end, UINT16_MAX, &v);
        r->srcport = (uint16_t)v;
        return p;
    case K_DSTPORT:
        p = s_uint(p, end, UINT16_MAX, &v);
        r->dstport = (uint16_t)v;
        return p;
    case K_PROTOCOL:
        p = s_uint(p, end, UINT8_MAX, &v);
        r->protocol = (uint8_t)v;
        return p;
    case K_PACKETS:
        return s_uint(p, end, UINT64_MAX, &r->packets);
    case K_BYTES:
        return s_uint(p, end, UINT64_MAX, &r->bytes);
    case K_START:
        p = s_uint(p, end, INT64_MAX, &v);
        r->start_s = (int64_t)v;
        return p;
    case K_END:
        p = s_uint(p, end, INT64_MAX, &v);
        r->end_s = (int64_t)v;
        return p;
    case K_TCPFLAGS:
        p = s_uint(p, end, INT32_MAX, &v);
        r->tcp_flags = (int)v;
        return p;
    case K_ACTION:
        if (s_word(p, end, "ACCEPT", 6)) {
            r->action = FSG_FLOW_ACCEPT;
            return p + 6;
        }
        if (s_word(p, end, "REJECT", 6)) {
            r->action = FSG_FLOW_REJECT;
            return p + 6;
        }
        return NULL;
    case K_STATUS:
        if (s_word(p, end, "OK", 2)) {
            return p + 2;
        }
        if (s_word(p, end, "NODATA", 6)) {
            *status = FSG_FLOWLOG_NODATA;
            return p + 6;
        }
        if (s_word(p, end, "SKIPDATA", 8)) {
            *status = FSG_FLOWLOG_SKIPDATA;
            return p + 8;
        }
        return NULL;
    case K_FLOWDIR:
        if (s_word(p, end, "ingress", 7)) {
            r->flow_direction = FSG_FLOWLOG_DIR_INGRESS;
            return p + 7;
        }
        if (s_word(p, end, "egress", 6)) {
            r->flow_direction = FSG_FLOWLOG_DIR_EGRESS;
            return p + 6;
        }
        return NULL;
    case K_SKIP:
    case K_COUNT_:
        break;
    }
    return s_skip(p, end);
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

static void s_bad_column(struct fsg_flowlog_decoder *d, unsigned col, const uint8_t *p,
                         const uint8_t *end)
{
    const char *name = fsg_flowlog_field_name((enum fsg_flowlog_field)d->fmt.field[col]);
    const uint8_t *q = s_skip(p, end);
    int n = (int)(q - p) > 40 ? 40 : (int)(q - p);
    if (name != NULL) {
        s_malformed(d, "bad %s '%.*s'", name, n, (const char *)p);
    } else {
        s_malformed(d, "bad field %u '%.*s'", col + 1, n, (const char *)p);
    }
}

static unsigned s_count_tokens(const uint8_t *p, const uint8_t *end)
{
    size_t pos = 0;
    unsigned n = 0;
    struct fsg_span t;
    while (s_next_token((struct fsg_span){ p, (size_t)(end - p) }, &pos, &t)) {
        n++;
    }
    return n;
}

/* Decodes the columns of one data line. Returns false (and records why) when malformed. */
static bool s_decode(struct fsg_flowlog_decoder *d, const uint8_t *p, const uint8_t *end,
                     enum fsg_flowlog_status *status)
{
    const uint8_t *line = p;
    const struct s_format *f = &d->fmt;
    uint32_t set = 0;
    unsigned col = 0;
    d->rec = f->tmpl;
    *status = FSG_FLOWLOG_OK;
    for (;;) {
        while (p < end && *p == ' ') {
            p++;
        }
        if (p == end || col == f->ncols) {
            break;
        }
        const uint8_t *q = s_column(d, f->kind[col], p, end, &set, status);
        if (q == NULL) {
            s_bad_column(d, col, p, end);
            return false;
        }
        p = q;
        col++;
    }
    if (col != f->ncols || p != end) {
        s_malformed(d, "expected %u fields, got %u", f->ncols, s_count_tokens(line, end));
        return false;
    }
    d->rec.has_addrs = (set & (S_SET(K_SRCADDR) | S_SET(K_DSTADDR))) ==
                       (S_SET(K_SRCADDR) | S_SET(K_DSTADDR));
    d->rec.has_pkt_addrs = (set & (S_SET(K_PKT_SRCADDR) | S_SET(K_PKT_DSTADDR))) ==
                           (S_SET(K_PKT_SRCADDR) | S_SET(K_PKT_DSTADDR));
    d->rec.line = d->line_no;
    return true;
}

/* ---- lines ------------------------------------------------------------------------------------ */

enum s_line_result { S_LINE_NONE = 0, S_LINE_RECORD, S_LINE_FATAL };

static enum s_line_result s_header(struct fsg_flowlog_decoder *d, struct fsg_span line,
                                   struct fsg_error *err)
{
    char why[128];
    if (!s_format_build(line, &d->fmt, why, sizeof why)) {
        d->failed_rc = fsg_error_set(err, FSG_E_PARSE, "line %lu: header: %s", d->line_no, why);
        if (err != NULL) {
            err->line = d->line_no;
        }
        return S_LINE_FATAL;
    }
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
        d->fmt = d->configured;
    }
    enum fsg_flowlog_status status;
    if (!s_decode(d, p, p + n, &status)) {
        /* A header in the middle (concatenated objects) starts a new format, if it is usable. */
        struct s_format f;
        char why[128];
        if (s_header_like(line) && s_format_build(line, &f, why, sizeof why)) {
            d->stats.malformed--;
            d->n_samples -= d->n_samples > 0 && d->samples[d->n_samples - 1].line == d->line_no;
            d->fmt = f;
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

/* ---- the decoder ------------------------------------------------------------------------------ */

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
    const char *format = o.format != NULL && o.format[0] != '\0' ? o.format
                                                                   : FSG_FLOWLOG_DEFAULT_FORMAT;
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
    d->win = fsg_malloc(d->cap);
    if (d->win == NULL) {
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

const struct fsg_flowlog_malformed *fsg_flowlog_decoder_malformed(const struct fsg_flowlog_decoder *d,
                                                                  size_t *ret_n)
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
