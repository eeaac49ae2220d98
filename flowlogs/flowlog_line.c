/* The consumer side of the flow-log decoder: formats and the decoding of one line into a record.
 *
 * A line is decoded in two steps: its token bounds (from the space bitmap of flowlog_scan.h), then
 * every field the format has, kind by kind in straight-line code (the branches on which fields
 * exist are the same on every line, so they cost nothing). Only when that fails is the line
 * walked again column by column, to name the first bad column as the messages always have. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "flowlogs/flowlog_internal.h"

static const uint8_t s_field_kind[FSG_FIELD_COUNT_] = {
    [FSG_FIELD_INTERFACE_ID] = FSG_FLK_IFACE,     [FSG_FIELD_SRCADDR] = FSG_FLK_SRCADDR,
    [FSG_FIELD_DSTADDR] = FSG_FLK_DSTADDR,        [FSG_FIELD_PKT_SRCADDR] = FSG_FLK_PKT_SRCADDR,
    [FSG_FIELD_PKT_DSTADDR] = FSG_FLK_PKT_DSTADDR, [FSG_FIELD_SRCPORT] = FSG_FLK_SRCPORT,
    [FSG_FIELD_DSTPORT] = FSG_FLK_DSTPORT,        [FSG_FIELD_PROTOCOL] = FSG_FLK_PROTOCOL,
    [FSG_FIELD_PACKETS] = FSG_FLK_PACKETS,        [FSG_FIELD_BYTES] = FSG_FLK_BYTES,
    [FSG_FIELD_START] = FSG_FLK_START,            [FSG_FIELD_END] = FSG_FLK_END,
    [FSG_FIELD_ACTION] = FSG_FLK_ACTION,          [FSG_FIELD_LOG_STATUS] = FSG_FLK_STATUS,
    [FSG_FIELD_TCP_FLAGS] = FSG_FLK_TCPFLAGS,     [FSG_FIELD_FLOW_DIRECTION] = FSG_FLK_FLOWDIR,
};

/* The column of each kind in the default v2 format (FSG_FLOWLOG_DEFAULT_FORMAT, AWS's default):
 * decoding it with these constants lets the compiler drop every lookup and absent-field branch. */
static const uint8_t s_v2_col[FSG_FLK_COUNT_] = {
    [FSG_FLK_SKIP] = FSG_FLK_ABSENT,        [FSG_FLK_IFACE] = 2,
    [FSG_FLK_SRCADDR] = 3,                  [FSG_FLK_DSTADDR] = 4,
    [FSG_FLK_PKT_SRCADDR] = FSG_FLK_ABSENT, [FSG_FLK_PKT_DSTADDR] = FSG_FLK_ABSENT,
    [FSG_FLK_SRCPORT] = 5,                  [FSG_FLK_DSTPORT] = 6,
    [FSG_FLK_PROTOCOL] = 7,                 [FSG_FLK_PACKETS] = 8,
    [FSG_FLK_BYTES] = 9,                    [FSG_FLK_START] = 10,
    [FSG_FLK_END] = 11,                     [FSG_FLK_ACTION] = 12,
    [FSG_FLK_STATUS] = 13,                  [FSG_FLK_TCPFLAGS] = FSG_FLK_ABSENT,
    [FSG_FLK_FLOWDIR] = FSG_FLK_ABSENT,
};
#define S_V2_COLUMNS 14

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

bool fsg_flowlog_format_build(struct fsg_span line, struct fsg_flowlog_format *f, char *why,
                              size_t why_size)
{
    size_t pos = 0;
    struct fsg_span t;
    *f = (struct fsg_flowlog_format){ .ncols = 0 };
    memset(f->col, FSG_FLK_ABSENT, sizeof f->col);
    while (s_next_token(line, &pos, &t)) {
        if (f->ncols == FSG_FLOWLOG_MAX_COLUMNS) {
            snprintf(why, why_size, "format has more than %d fields", FSG_FLOWLOG_MAX_COLUMNS);
            return false;
        }
        enum fsg_flowlog_field fld = fsg_flowlog_field_lookup(s_strip_braces(t));
        bool dup = fld != FSG_FIELD_UNKNOWN && (f->fields & ((uint64_t)1 << fld)) != 0;
        uint8_t kind = dup ? FSG_FLK_SKIP : s_field_kind[fld]; /* a repeated name: first wins */
        f->field[f->ncols] = (uint8_t)fld;
        f->kind[f->ncols] = kind;
        if (kind != FSG_FLK_SKIP) {
            f->col[kind] = (uint8_t)f->ncols;
        }
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
    f->is_v2 = f->ncols == S_V2_COLUMNS && memcmp(f->col, s_v2_col, sizeof f->col) == 0;
    f->tmpl = (struct fsg_flowlog_record){
        .tcp_flags = -1,
        .action = FSG_FLOW_ACTION_UNKNOWN,
        .start_s = FSG_FLOW_TIME_NONE,
        .end_s = FSG_FLOW_TIME_NONE,
    };
    return true;
}

/* ---- fields ---------------------------------------------------------------------------------- */


static inline bool s_is(const uint8_t *t, size_t n, const char *w, size_t wn)
{
    return n == wn && memcmp(t, w, wn) == 0;
}

#define S_SET(k) ((uint32_t)1 << (k))

/* Decodes one column (not "-") of n bytes at t into r. False when invalid. Always inlined with a
 * constant kind on the hot path, where the switch disappears. */
static inline __attribute__((always_inline)) bool
s_column(struct fsg_flowlog_consumer *c, unsigned kind, const uint8_t *t, size_t n,
         enum fsg_flowlog_status *status, uint32_t *set)
{
    struct fsg_flowlog_record *r = &c->rec;
    uint64_t v = 0;
    bool ok;
    switch ((enum fsg_flk)kind) {
    case FSG_FLK_IFACE:
        r->interface_id = (struct fsg_span){ t, n };
        return true;
    case FSG_FLK_SRCADDR:
        *set |= S_SET(FSG_FLK_SRCADDR);
        return fsg_scan_addr(&c->addrs, t, n, &r->srcaddr);
    case FSG_FLK_DSTADDR:
        *set |= S_SET(FSG_FLK_DSTADDR);
        return fsg_scan_addr(&c->addrs, t, n, &r->dstaddr);
    case FSG_FLK_PKT_SRCADDR:
        *set |= S_SET(FSG_FLK_PKT_SRCADDR);
        return fsg_scan_addr(&c->addrs, t, n, &r->pkt_srcaddr);
    case FSG_FLK_PKT_DSTADDR:
        *set |= S_SET(FSG_FLK_PKT_DSTADDR);
        return fsg_scan_addr(&c->addrs, t, n, &r->pkt_dstaddr);
    case FSG_FLK_SRCPORT:
        ok = fsg_scan_uint(t, n, UINT16_MAX, &v);
        r->srcport = (uint16_t)v;
        return ok;
    case FSG_FLK_DSTPORT:
        ok = fsg_scan_uint(t, n, UINT16_MAX, &v);
        r->dstport = (uint16_t)v;
        return ok;
    case FSG_FLK_PROTOCOL:
        ok = fsg_scan_uint(t, n, UINT8_MAX, &v);
        r->protocol = (uint8_t)v;
        return ok;
    case FSG_FLK_PACKETS:
        return fsg_scan_uint(t, n, UINT64_MAX, &r->packets);
    case FSG_FLK_BYTES:
        return fsg_scan_uint(t, n, UINT64_MAX, &r->bytes);
    case FSG_FLK_START:
        ok = fsg_scan_uint(t, n, INT64_MAX, &v);
        r->start_s = (int64_t)v;
        return ok;
    case FSG_FLK_END:
        ok = fsg_scan_uint(t, n, INT64_MAX, &v);
        r->end_s = (int64_t)v;
        return ok;
    case FSG_FLK_TCPFLAGS:
        ok = fsg_scan_uint(t, n, INT32_MAX, &v);
        r->tcp_flags = (int)v;
        return ok;
    case FSG_FLK_ACTION:
        r->action = s_is(t, n, "ACCEPT", 6) ? FSG_FLOW_ACCEPT : FSG_FLOW_REJECT;
        return s_is(t, n, "ACCEPT", 6) || s_is(t, n, "REJECT", 6);
    case FSG_FLK_STATUS:
        if (s_is(t, n, "OK", 2)) {
            return true;
        }
        *status = s_is(t, n, "NODATA", 6) ? FSG_FLOWLOG_NODATA : FSG_FLOWLOG_SKIPDATA;
        return s_is(t, n, "NODATA", 6) || s_is(t, n, "SKIPDATA", 8);
    case FSG_FLK_FLOWDIR:
        r->flow_direction =
            s_is(t, n, "ingress", 7) ? FSG_FLOWLOG_DIR_INGRESS : FSG_FLOWLOG_DIR_EGRESS;
        return s_is(t, n, "ingress", 7) || s_is(t, n, "egress", 6);
    case FSG_FLK_SKIP:
    case FSG_FLK_COUNT_:
        break;
    }
    return true;
}

/* A "-" column: the field's default (fields the format lacks keep theirs from when the format
 * was set, so a line does not copy a whole record). */
static inline __attribute__((always_inline)) void s_default(struct fsg_flowlog_record *r,
                                                            unsigned kind)
{
    switch ((enum fsg_flk)kind) {
    case FSG_FLK_IFACE:
        r->interface_id = FSG_SPAN_NULL;
        break;
    case FSG_FLK_SRCPORT:
        r->srcport = 0;
        break;
    case FSG_FLK_DSTPORT:
        r->dstport = 0;
        break;
    case FSG_FLK_PROTOCOL:
        r->protocol = 0;
        break;
    case FSG_FLK_PACKETS:
        r->packets = 0;
        break;
    case FSG_FLK_BYTES:
        r->bytes = 0;
        break;
    case FSG_FLK_START:
        r->start_s = FSG_FLOW_TIME_NONE;
        break;
    case FSG_FLK_END:
        r->end_s = FSG_FLOW_TIME_NONE;
        break;
    case FSG_FLK_TCPFLAGS:
        r->tcp_flags = -1;
        break;
    case FSG_FLK_ACTION:
        r->action = FSG_FLOW_ACTION_UNKNOWN;
        break;
    case FSG_FLK_FLOWDIR:
        r->flow_direction = FSG_FLOWLOG_DIR_NONE;
        break;
    case FSG_FLK_SRCADDR:
    case FSG_FLK_DSTADDR:
    case FSG_FLK_PKT_SRCADDR:
    case FSG_FLK_PKT_DSTADDR: /* has_addrs / has_pkt_addrs say they are absent */
    case FSG_FLK_STATUS:      /* the line's status starts as OK */
    case FSG_FLK_SKIP:
    case FSG_FLK_COUNT_:
        break;
    }
}

/* ---- malformed lines ------------------------------------------------------------------------ */

static void s_malformed(struct fsg_flowlog_consumer *c, const char *fmt, ...) FSG_PRINTF(2, 3);

static void s_malformed(struct fsg_flowlog_consumer *c, const char *fmt, ...)
{
    c->stats.malformed++;
    if (c->n_samples == FSG_FLOWLOG_MALFORMED_SAMPLES) {
        return;
    }
    struct fsg_flowlog_malformed *m = &c->samples[c->n_samples++];
    m->line = c->line_no;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->reason, sizeof m->reason, fmt, ap);
    va_end(ap);
}

void fsg_flowlog_count_dropped(struct fsg_flowlog_consumer *c, unsigned long n)
{
    for (unsigned long i = 0; i < n; i++) {
        c->line_no++;
        s_malformed(c, "line longer than %zu bytes", c->max_line);
        c->stats.lines++;
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

/* ---- token bounds ---------------------------------------------------------------------------- */

/* Token i of the line is [ts[i], te[i]): te = e + 1, so that te[-1] + 1 == 0 (the fast path
 * only fills te: its tokens start one byte after the previous one ends). Room for a word's worth
 * of unconditional writes past the last column. */
struct s_bounds {
    uint32_t ts[FSG_FLOWLOG_MAX_COLUMNS + 1];
    uint32_t e[FSG_FLOWLOG_MAX_COLUMNS + 80];
};

/* The popcnt instruction through inline assembly when the CPU has it (hw, checked once): the
 * build targets baseline x86-64, where the builtin becomes a library call. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__POPCNT__)
#define S_ASM_POPCNT 1
#else
#define S_ASM_POPCNT 0
#endif

static inline unsigned s_popcount(uint64_t x, bool hw)
{
#if defined(__POPCNT__)
    (void)hw;
    return (unsigned)__builtin_popcountll(x);
#else
#if S_ASM_POPCNT
    if (hw) {
        uint64_t c;
        __asm__("popcnt %1, %0" : "=r"(c) : "r"(x) : "cc");
        return (unsigned)c;
    }
#else
    (void)hw;
#endif
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (unsigned)((x * 0x0101010101010101ULL) >> 56);
#endif
}

/* The positions of w's set bits, plus base, to out[0 .. popcount): eight written unconditionally
 * (no branch for the usual word), the rest in a loop. Returns the count. */
static inline unsigned s_flatten(uint64_t w, uint32_t base, uint32_t *out, bool hw_popcnt)
{
    unsigned cnt = s_popcount(w, hw_popcnt);
    for (unsigned j = 0; j < 8; j++) {
        out[j] = base + (uint32_t)__builtin_ctzll(w | (1ULL << 63)); /* junk past cnt */
        w &= w - 1;
    }
    for (unsigned j = 8; j < cnt; j++) {
        out[j] = base + (uint32_t)__builtin_ctzll(w);
        w &= w - 1;
    }
    return cnt;
}

/* The common case: exactly ncols tokens between single spaces (the line is trimmed). Fills te
 * only. False otherwise (the general path then decides). */
static inline bool s_bounds_single(const uint64_t *m, size_t len, unsigned ncols, bool hw_popcnt,
                                   struct s_bounds *b)
{
    size_t words = (len + 63) / 64;
    uint32_t *te = b->e + 1;
    unsigned k = 0;
    uint64_t adjacent = 0, carry = 0;
    for (size_t i = 0; i < words; i++) {
        uint64_t w = m[i];
        if (i == words - 1 && (len & 63) != 0) {
            w &= (1ULL << (len & 63)) - 1; /* fsg_scan_line sets the bits past the end */
        }
        adjacent |= w & (w << 1 | carry);
        carry = w >> 63;
        k += s_flatten(w, (uint32_t)(i * 64), te + k, hw_popcnt);
        if (k >= ncols) {
            return false;
        }
    }
    te[ncols - 1] = (uint32_t)len;
    return k == ncols - 1 && adjacent == 0;
}

/* Any trimmed line: tokens are runs of non-spaces. Returns how many there are; bounds of the
 * first FSG_FLOWLOG_MAX_COLUMNS + 1 are written. */
static unsigned s_bounds_any(const uint64_t *m, size_t len, struct s_bounds *b)
{
    const unsigned max = FSG_FLOWLOG_MAX_COLUMNS + 1;
    uint32_t *te = b->e + 1;
    unsigned ns = 0, ne = 0;
    uint64_t carry = 1; /* the byte before the line counts as a space */
    for (size_t i = 0; i <= len / 64; i++) {
        uint64_t w = m[i];
        uint64_t before = w << 1 | carry;
        carry = w >> 63;
        uint64_t starts = ~w & before, ends = w & ~before;
        uint32_t base = (uint32_t)(i * 64);
        for (; starts != 0; starts &= starts - 1, ns++) {
            if (ns < max) {
                b->ts[ns] = base + (uint32_t)__builtin_ctzll(starts);
            }
        }
        for (; ends != 0; ends &= ends - 1, ne++) {
            if (ne < max) {
                te[ne] = base + (uint32_t)__builtin_ctzll(ends);
            }
        }
    }
    return ns;
}

/* ---- one line -------------------------------------------------------------------------------- */

/* Decodes the field of kind k (a constant) if the format has it; false when it is invalid. */
#define S_FIELD(k)                                                                                 \
    do {                                                                                           \
        unsigned col_ = cols[k];                                                                   \
        if (col_ != FSG_FLK_ABSENT) {                                                              \
            uint32_t s_ = single ? te[(int)col_ - 1] + 1 : b->ts[col_];                            \
            const uint8_t *t_ = p + s_;                                                            \
            size_t n_ = te[col_] - s_;                                                             \
            if (n_ == 1 && t_[0] == '-') {                                                         \
                s_default(&c->rec, k);                                                             \
            } else {                                                                               \
                ok &= s_column(c, k, t_, n_, status, &set);                                        \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* Every field the format has, kind by kind, cols[] giving each kind's column. False when one is
 * invalid. With single, tokens are one space apart and b->ts is not filled. */
static inline __attribute__((always_inline)) bool
s_fields(struct fsg_flowlog_consumer *c, const uint8_t *p, const struct s_bounds *b, bool single,
         const uint8_t *cols, enum fsg_flowlog_status *status)
{
    const uint32_t *te = b->e + 1;
    uint32_t set = 0;
    bool ok = true;
    S_FIELD(FSG_FLK_IFACE);
    S_FIELD(FSG_FLK_SRCADDR);
    S_FIELD(FSG_FLK_DSTADDR);
    S_FIELD(FSG_FLK_PKT_SRCADDR);
    S_FIELD(FSG_FLK_PKT_DSTADDR);
    S_FIELD(FSG_FLK_SRCPORT);
    S_FIELD(FSG_FLK_DSTPORT);
    S_FIELD(FSG_FLK_PROTOCOL);
    S_FIELD(FSG_FLK_PACKETS);
    S_FIELD(FSG_FLK_BYTES);
    S_FIELD(FSG_FLK_START);
    S_FIELD(FSG_FLK_END);
    S_FIELD(FSG_FLK_ACTION);
    S_FIELD(FSG_FLK_STATUS);
    S_FIELD(FSG_FLK_TCPFLAGS);
    S_FIELD(FSG_FLK_FLOWDIR);
    c->rec.has_addrs = (set & (S_SET(FSG_FLK_SRCADDR) | S_SET(FSG_FLK_DSTADDR))) ==
                       (S_SET(FSG_FLK_SRCADDR) | S_SET(FSG_FLK_DSTADDR));
    c->rec.has_pkt_addrs = (set & (S_SET(FSG_FLK_PKT_SRCADDR) | S_SET(FSG_FLK_PKT_DSTADDR))) ==
                           (S_SET(FSG_FLK_PKT_SRCADDR) | S_SET(FSG_FLK_PKT_DSTADDR));
    return ok;
}

/* The quoted sample of a bad field: at most S_QUOTE_BYTES input bytes, printable ASCII kept,
 * every other byte (binary from a corrupt object, UTF-8 or not) shown as \xNN, "..." when cut.
 * The sample ends up in log lines and reports, which must stay valid UTF-8 and JSON. */
#define S_QUOTE_BYTES 24
#define S_QUOTE_MAX (S_QUOTE_BYTES * 4 + 4)

static void s_quote(const uint8_t *t, size_t n, char out[S_QUOTE_MAX])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    size_t shown = n > S_QUOTE_BYTES ? S_QUOTE_BYTES : n;
    for (size_t i = 0; i < shown; i++) {
        if (t[i] >= 0x20 && t[i] < 0x7f && t[i] != '\\') {
            out[o++] = (char)t[i];
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[t[i] >> 4];
            out[o++] = hex[t[i] & 15];
        }
    }
    if (shown < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* Why a line failed, column by column in order (as a reader would look for it): the first bad
 * column, else the field count. */
static void s_diagnose(struct fsg_flowlog_consumer *c, const uint8_t *p, size_t len,
                       const struct s_bounds *b, unsigned ntok)
{
    const struct fsg_flowlog_format *f = &c->fmt;
    const uint32_t *te = b->e + 1;
    unsigned upto = ntok < f->ncols ? ntok : f->ncols;
    for (unsigned col = 0; col < upto; col++) {
        const uint8_t *t = p + b->ts[col];
        size_t n = te[col] - b->ts[col];
        enum fsg_flowlog_status st = FSG_FLOWLOG_OK;
        uint32_t set = 0;
        unsigned kind = f->kind[col];
        if (kind == FSG_FLK_SKIP || (n == 1 && t[0] == '-') || s_column(c, kind, t, n, &st, &set)) {
            continue;
        }
        const char *name = fsg_flowlog_field_name((enum fsg_flowlog_field)f->field[col]);
        char shown[S_QUOTE_MAX];
        s_quote(t, n, shown);
        if (name != NULL) {
            s_malformed(c, "bad %s '%s'", name, shown);
        } else {
            s_malformed(c, "bad field %u '%s'", col + 1, shown);
        }
        return;
    }
    s_malformed(c, "expected %u fields, got %u", f->ncols, s_count_tokens(p, len));
}

/* Decodes the columns of one trimmed, non-empty data line of len bytes (FSG_SCAN_SLACK bytes
 * after it are readable). False (and why recorded) when malformed. */
static bool s_decode(struct fsg_flowlog_consumer *c, const uint8_t *p, size_t len, bool scanned,
                     enum fsg_flowlog_status *status)
{
    struct s_bounds b;
    unsigned ncols = c->fmt.ncols;
    if (scanned) {
        fsg_scan_line_close(c->spaces, len);
    } else {
        fsg_scan_line(p, len, c->spaces);
    }
    *status = FSG_FLOWLOG_OK;
    b.e[0] = UINT32_MAX; /* te[-1] + 1 == 0 */
    if (s_bounds_single(c->spaces, len, ncols, c->hw_popcnt, &b)) {
        bool ok = c->fmt.is_v2 ? s_fields(c, p, &b, true, s_v2_col, status)
                               : s_fields(c, p, &b, true, c->fmt.col, status);
        if (ok) {
            c->rec.line = c->line_no;
            return true;
        }
        *status = FSG_FLOWLOG_OK;
    }
    unsigned ntok = s_bounds_any(c->spaces, len, &b);
    if (ntok != ncols || !s_fields(c, p, &b, false, c->fmt.col, status)) {
        s_diagnose(c, p, len, &b, ntok);
        return false;
    }
    c->rec.line = c->line_no;
    return true;
}

/* ---- lines ------------------------------------------------------------------------------------
 */

/* Switches to format f: the record starts from its template (see s_default). */
static void s_use_format(struct fsg_flowlog_consumer *c, const struct fsg_flowlog_format *f)
{
    c->fmt = *f;
    c->rec = f->tmpl;
}

static enum fsg_flowlog_line s_header(struct fsg_flowlog_consumer *c, struct fsg_span line,
                                      struct fsg_error *err)
{
    char why[128];
    struct fsg_flowlog_format f;
    if (!fsg_flowlog_format_build(line, &f, why, sizeof why)) {
        fsg_error_set(err, FSG_E_PARSE, "line %lu: header: %s", c->line_no, why);
        if (err != NULL) {
            err->line = c->line_no;
        }
        return FSG_LINE_FATAL;
    }
    s_use_format(c, &f);
    return FSG_LINE_NONE;
}

/* A line that failed to decode may be a header in the middle (concatenated objects): it starts a
 * new format from there on, if it is usable. */
static bool s_late_header(struct fsg_flowlog_consumer *c, struct fsg_span line)
{
    struct fsg_flowlog_format f;
    char why[128];
    if (!s_header_like(line) || !fsg_flowlog_format_build(line, &f, why, sizeof why)) {
        return false;
    }
    c->stats.malformed--;
    c->n_samples -= c->n_samples > 0 && c->samples[c->n_samples - 1].line == c->line_no;
    s_use_format(c, &f);
    return true;
}

enum fsg_flowlog_line fsg_flowlog_line(struct fsg_flowlog_consumer *c, const uint8_t *p, size_t n,
                                       bool scanned, struct fsg_error *err)
{
    c->line_no++;
    if (n > c->max_line) {
        s_malformed(c, "line longer than %zu bytes", c->max_line);
        c->stats.lines++;
        return FSG_LINE_NONE;
    }
    if (n > 0 && p[n - 1] == '\r') {
        n--;
    }
    if (n == 0 || p[0] == ' ' || p[n - 1] == ' ') {
        while (n > 0 && p[n - 1] == ' ') {
            n--;
        }
        while (n > 0 && p[0] == ' ') {
            p++;
            n--;
        }
        if (n == 0) {
            return FSG_LINE_NONE;
        }
        scanned = false; /* the line moved: its bitmap no longer fits */
    }
    struct fsg_span line = { p, n };
    if (!c->have_format) {
        c->have_format = true;
        if (s_header_like(line)) {
            return s_header(c, line, err);
        }
        s_use_format(c, &c->configured);
    }
    enum fsg_flowlog_status status;
    if (!s_decode(c, p, n, scanned, &status)) {
        if (!s_late_header(c, line)) {
            c->stats.lines++;
        }
        return FSG_LINE_NONE;
    }
    c->stats.lines++;
    switch (status) {
    case FSG_FLOWLOG_OK:
        c->stats.records++;
        return FSG_LINE_RECORD;
    case FSG_FLOWLOG_NODATA:
        c->stats.nodata++;
        return FSG_LINE_NONE;
    case FSG_FLOWLOG_SKIPDATA:
        c->stats.skipdata++;
        return FSG_LINE_NONE;
    }
    return FSG_LINE_NONE;
}
