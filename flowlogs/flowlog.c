/* The flow-log decoder: field names, the producer (inflate into blocks of whole lines), block
 * decoding, and the pull API of flowlog.h on top of both (flowlogs/flowlog_internal.h). */
#include "flowlogs/flowlog.h"

#include <string.h>

#include "flowlogs/flowlog_internal.h"
#include "lib/core/mem.h"

/* 128 KiB of decompressed text per block: large enough that ISA-L's per-call cost (it decodes the
 * first 32-64 KiB through its own history buffer) is noise, small enough that the block and the
 * flow table share the L2 cache (measured: 512 KiB and up cost 15% more). */
#define S_DEFAULT_WINDOW ((size_t)128 << 10)
/* A real record is a few hundred bytes even with every ECS field. */
#define S_DEFAULT_MAX_LINE ((size_t)64 << 10)
#define S_MIN_WINDOW ((size_t)64)

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
    size_t cap = o.window_bytes != 0 ? o.window_bytes : S_DEFAULT_WINDOW;
    if (cap < S_MIN_WINDOW) {
        cap = S_MIN_WINDOW;
    }
    size_t max_line = o.max_line_bytes != 0 ? o.max_line_bytes : S_DEFAULT_MAX_LINE;
    if (max_line > cap / 2) {
        max_line = cap / 2; /* an unfinished line always fits after a cut */
    }
    d->prod.cap = cap;
    d->prod.max_line = max_line;
    d->con.max_line = max_line;
#if defined(__x86_64__) && defined(__GNUC__)
    d->con.hw_popcnt = __builtin_cpu_supports("popcnt");
#endif
    const char *format =
        o.format != NULL && o.format[0] != '\0' ? o.format : FSG_FLOWLOG_DEFAULT_FORMAT;
    char why[128];
    if (!fsg_flowlog_format_build(fsg_span_from_cstr(format), &d->con.configured, why,
                                  sizeof why)) {
        rc = fsg_error_set(err, FSG_E_INVALID_ARG, "flow-log format '%.200s': %s", format, why);
        goto fail;
    }
    struct fsg_inflate_options io = { .force_zlib = o.force_zlib,
                                      .max_output_bytes = o.max_output_bytes };
    rc = fsg_inflate_new(&io, &d->prod.inf, err);
    if (rc != FSG_OK) {
        goto fail;
    }
    d->con.spaces = fsg_calloc(max_line / 64 + 2, sizeof *d->con.spaces);
    if (d->con.spaces == NULL) {
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
    fsg_inflate_destroy(d->prod.inf);
    fsg_free(d->own);
    fsg_free(d->con.spaces);
    fsg_free(d);
}

void fsg_flowlog_decoder_set_input(struct fsg_flowlog_decoder *d, struct fsg_span chunk)
{
    fsg_inflate_set_input(d->prod.inf, chunk);
}

void fsg_flowlog_decoder_finish(struct fsg_flowlog_decoder *d)
{
    fsg_inflate_finish(d->prod.inf);
}

/* ---- producer ---------------------------------------------------------------------------------
 */

size_t fsg_flowlog_window(const struct fsg_flowlog_decoder *d)
{
    return d->prod.cap;
}

/* The buffer is full: hands out its complete lines, or drops an over-long line. True when
 * *blk is ready. */
static bool s_cut(struct fsg_flowlog_producer *p, struct fsg_flowlog_block *blk)
{
    const uint8_t *nl = memrchr(p->buf, '\n', p->fill);
    if (nl == NULL) {
        /* one unfinished line fills the buffer: longer than max_line (<= cap / 2) */
        p->dropped++;
        p->skipping = true;
        p->fill = 0;
        return false;
    }
    size_t cut = (size_t)(nl - p->buf) + 1;
    *blk = (struct fsg_flowlog_block){ .text = p->buf, .len = cut, .dropped = p->dropped };
    p->dropped = 0;
    p->cut = cut;
    if (p->fill - cut > p->max_line) {
        p->dropped = 1; /* the unfinished line is already too long: drop it as it comes */
        p->skipping = true;
        p->fill = cut;
    }
    p->cut_pending = true;
    return true;
}

/* Drops the start of n new bytes at buf + fill up to and including a '\n'; returns how many
 * bytes are kept (moved to buf + fill). */
static size_t s_skip(struct fsg_flowlog_producer *p, size_t n)
{
    uint8_t *at = p->buf + p->fill;
    const uint8_t *nl = memchr(at, '\n', n);
    if (nl == NULL) {
        return 0;
    }
    size_t drop = (size_t)(nl - at) + 1;
    memmove(at, at + drop, n - drop);
    p->skipping = false;
    return n - drop;
}

enum fsg_err fsg_flowlog_produce(struct fsg_flowlog_decoder *d, struct fsg_flowlog_block *ret_blk,
                                 enum fsg_flowlog_produced *ret_what, struct fsg_error *err)
{
    struct fsg_flowlog_producer *p = &d->prod;
    *ret_what = FSG_PRODUCED_NONE;
    if (p->ended) {
        *ret_what = FSG_PRODUCED_END;
        return FSG_OK;
    }
    if (p->buf == NULL) {
        /* zeroed, with slack: the scanners read whole words around a line */
        d->own = fsg_calloc(1, FSG_SCAN_FRONT + p->cap + FSG_SCAN_SLACK);
        if (d->own == NULL) {
            return fsg_error_set(err, FSG_E_NOMEM, "flow-log decoder: out of memory");
        }
        p->buf = d->own + FSG_SCAN_FRONT;
    }
    for (;;) {
        if (p->fill == p->cap && s_cut(p, ret_blk)) {
            *ret_what = FSG_PRODUCED_BLOCK;
            return FSG_OK;
        }
        size_t n = 0;
        enum fsg_err rc = fsg_inflate_read(p->inf, p->buf + p->fill, p->cap - p->fill, &n, err);
        d->con.stats.bytes_in = fsg_inflate_bytes_in(p->inf);
        d->con.stats.bytes_out = fsg_inflate_bytes_out(p->inf);
        if (rc != FSG_OK) {
            return rc;
        }
        if (n == 0) {
            if (!fsg_inflate_done(p->inf)) {
                return FSG_OK; /* needs input */
            }
            *ret_blk = (struct fsg_flowlog_block){
                .text = p->buf, .len = p->fill, .dropped = p->dropped, .is_last = true
            };
            p->dropped = 0;
            p->ended = true;
            *ret_what = FSG_PRODUCED_BLOCK;
            return FSG_OK;
        }
        p->fill += p->skipping ? s_skip(p, n) : n;
    }
}

void fsg_flowlog_produce_continue(struct fsg_flowlog_decoder *d, uint8_t *buf, size_t cap)
{
    struct fsg_flowlog_producer *p = &d->prod;
    size_t from = p->cut_pending ? p->cut : 0;
    size_t carry = p->fill - from;
    if (buf != NULL) {
        if (carry > 0) {
            memmove(buf, p->buf + from, carry);
        }
        p->buf = buf;
        p->cap = cap;
    } else if (from > 0) {
        memmove(p->buf, p->buf + from, carry);
    }
    p->fill = carry;
    p->cut = 0;
    p->cut_pending = false;
}

/* ---- consumer -------------------------------------------------------------------------------- */

enum fsg_err fsg_flowlog_decode_block(struct fsg_flowlog_decoder *d,
                                      const struct fsg_flowlog_block *blk,
                                      fsg_flowlog_record_fn *on_record, void *userdata,
                                      struct fsg_error *err)
{
    struct fsg_flowlog_consumer *c = &d->con;
    fsg_flowlog_count_dropped(c, blk->dropped);
    const uint8_t *p = blk->text, *end = blk->text + blk->len;
    size_t max_words = c->max_line / 64 + 1; /* c->spaces has one more */
    while (p < end) {
        /* the line's end and its spaces in one pass; a line too long for the bitmap is
         * malformed anyway and only needs its end */
        size_t n = fsg_scan_line_end(p, (size_t)(end - p), c->spaces, max_words);
        bool scanned = n != SIZE_MAX;
        if (!scanned) {
            const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
            n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        }
        enum fsg_flowlog_line lr = fsg_flowlog_line(c, p, n, scanned && n <= c->max_line, err);
        p += n + 1;
        if (lr == FSG_LINE_RECORD) {
            enum fsg_err rc = on_record(userdata, &c->rec, err);
            if (rc != FSG_OK) {
                d->failed_rc = rc;
                return rc;
            }
        } else if (lr == FSG_LINE_FATAL) {
            d->failed_rc = FSG_E_PARSE;
            return FSG_E_PARSE;
        }
    }
    return FSG_OK;
}

/* ---- the pull API ---------------------------------------------------------------------------- */

/* The next block into d->cur; false when it needs input (or the end was reached). */
static enum fsg_err s_next_block(struct fsg_flowlog_decoder *d, bool *ret_got, struct fsg_error *err)
{
    *ret_got = false;
    if (d->have_block && d->cur.is_last) {
        d->done = true;
        return FSG_OK;
    }
    fsg_flowlog_produce_continue(d, NULL, 0);
    d->have_block = false;
    enum fsg_flowlog_produced what;
    enum fsg_err rc = fsg_flowlog_produce(d, &d->cur, &what, err);
    if (rc != FSG_OK || what != FSG_PRODUCED_BLOCK) {
        return rc;
    }
    d->have_block = true;
    d->cur_pos = 0;
    fsg_flowlog_count_dropped(&d->con, d->cur.dropped);
    *ret_got = true;
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
        if (!d->have_block || d->cur_pos >= d->cur.len) {
            if (d->done) {
                return FSG_OK;
            }
            bool got;
            enum fsg_err rc = s_next_block(d, &got, err);
            if (rc != FSG_OK) {
                d->failed_rc = rc;
                return rc;
            }
            if (!got) {
                return FSG_OK; /* needs input, or the end */
            }
            continue;
        }
        const uint8_t *start = d->cur.text + d->cur_pos;
        size_t avail = d->cur.len - d->cur_pos;
        const uint8_t *nl = memchr(start, '\n', avail);
        size_t n = nl != NULL ? (size_t)(nl - start) : avail;
        d->cur_pos += n + 1;
        enum fsg_flowlog_line lr = fsg_flowlog_line(&d->con, start, n, false, err);
        if (lr == FSG_LINE_RECORD) {
            *ret_rec = &d->con.rec;
            return FSG_OK;
        }
        if (lr == FSG_LINE_FATAL) {
            d->failed_rc = FSG_E_PARSE;
            return FSG_E_PARSE;
        }
    }
}

bool fsg_flowlog_decoder_done(const struct fsg_flowlog_decoder *d)
{
    return d->done;
}

const struct fsg_flowlog_stats *fsg_flowlog_decoder_stats(const struct fsg_flowlog_decoder *d)
{
    return &d->con.stats;
}

const struct fsg_flowlog_malformed *
fsg_flowlog_decoder_malformed(const struct fsg_flowlog_decoder *d, size_t *ret_n)
{
    *ret_n = d->con.n_samples;
    return d->con.samples;
}

uint64_t fsg_flowlog_decoder_offset(const struct fsg_flowlog_decoder *d)
{
    return fsg_inflate_bytes_in(d->prod.inf);
}

const char *fsg_flowlog_decoder_engine(const struct fsg_flowlog_decoder *d)
{
    return fsg_inflate_engine(d->prod.inf);
}

bool fsg_flowlog_decoder_has_field(const struct fsg_flowlog_decoder *d, enum fsg_flowlog_field f)
{
    const struct fsg_flowlog_format *fmt = d->con.have_format ? &d->con.fmt : &d->con.configured;
    return (unsigned)f < FSG_FIELD_COUNT_ && (fmt->fields & ((uint64_t)1 << f)) != 0;
}
