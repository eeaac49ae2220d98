/* Target: fsg_flowlog_decoder_next (and fsg_aggregate_add/result on what it decodes), and the
 * object reader (flowlogs/source.h) on the same bytes, whose block decoding must agree with it.
 * Input: byte 0 = chunk size (0 = all at once), byte 1 = flags (bit 0: zlib engine, bit 1: small
 * window, bit 2: configured per-ENI format, bit 3: the reader decodes on a second thread), then
 * the object bytes (gzip or plain). Checks that decoding never crashes, leaks or loops, that the
 * counters add up, and that the reader gets the same outcome, counters and table size. */
#include <stdint.h>
#include <stdlib.h>

#include "flowlogs/aggregate.h"
#include "flowlogs/flowlog.h"
#include "flowlogs/source.h"
#include "lib/core/mem.h"

/* The reader's outcome on the same input; aborts when it differs from the pull decoder's. */
static void s_check_reader(struct fsg_span in, size_t chunk, const struct fsg_flowlog_options *o,
                           bool pipeline, enum fsg_err want_rc,
                           const struct fsg_flowlog_stats *want, size_t want_entries)
{
    struct fsg_aggregate *agg = NULL;
    struct fsg_reader *r = NULL;
    struct fsg_reader_options ro = { .default_eni = "eni-fuzz", .decoder = o,
                                     .pipeline = pipeline };
    if (fsg_aggregate_new(NULL, &agg, NULL) != FSG_OK ||
        fsg_reader_new(&ro, agg, &r, NULL) != FSG_OK) {
        abort();
    }
    enum fsg_err rc = FSG_OK;
    for (size_t pos = 0; pos < in.len && rc == FSG_OK;) {
        size_t take = chunk == 0 || chunk > in.len - pos ? in.len - pos : chunk;
        rc = fsg_reader_feed(r, (struct fsg_span){ in.ptr + pos, take }, NULL);
        pos += take;
    }
    if (rc == FSG_OK) {
        rc = fsg_reader_finish(r, NULL);
    }
    if ((rc == FSG_OK) != (want_rc == FSG_OK)) {
        abort();
    }
    const struct fsg_flowlog_stats *s = fsg_reader_stats(r);
    if (rc == FSG_OK &&
        (s->lines != want->lines || s->records != want->records || s->nodata != want->nodata ||
         s->skipdata != want->skipdata || s->malformed != want->malformed ||
         fsg_aggregate_entries(agg) != want_entries)) {
        abort();
    }
    fsg_reader_destroy(r);
    fsg_aggregate_destroy(agg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    size_t chunk = data[0];
    uint8_t flags = data[1];
    struct fsg_span in = { data + 2, size - 2 };
    struct fsg_flowlog_options o = {
        .force_zlib = (flags & 1) != 0,
        .window_bytes = (flags & 2) != 0 ? 300 : 0,
        .format = (flags & 4) != 0 ? "srcaddr dstaddr dstport protocol tcp-flags pkt-srcaddr "
                                     "pkt-dstaddr srcport action type"
                                   : NULL,
        .max_output_bytes = 64u << 20,
    };
    struct fsg_flowlog_decoder *d = NULL;
    struct fsg_aggregate *agg = NULL;
    if (fsg_flowlog_decoder_new(&o, &d, NULL) != FSG_OK ||
        fsg_aggregate_new(NULL, &agg, NULL) != FSG_OK) {
        abort();
    }
    size_t pos = 0;
    bool finished = false;
    enum fsg_err rc = FSG_OK;
    uint64_t seen = 0;
    for (;;) {
        const struct fsg_flowlog_record *rec;
        rc = fsg_flowlog_decoder_next(d, &rec, NULL);
        if (rc != FSG_OK) {
            break;
        }
        if (rec != NULL) {
            seen++;
            if (fsg_aggregate_add(agg, rec, fsg_span_from_cstr("eni-fuzz"), NULL) != FSG_OK) {
                abort();
            }
            continue;
        }
        if (finished) {
            if (!fsg_flowlog_decoder_done(d)) {
                abort(); /* "needs input" after finish(): would loop forever */
            }
            break;
        }
        if (pos == in.len) {
            fsg_flowlog_decoder_set_input(d, FSG_SPAN_NULL);
            fsg_flowlog_decoder_finish(d);
            finished = true;
            continue;
        }
        size_t take = chunk == 0 || chunk > in.len - pos ? in.len - pos : chunk;
        fsg_flowlog_decoder_set_input(d, (struct fsg_span){ in.ptr + pos, take });
        pos += take;
    }
    const struct fsg_flowlog_stats *s = fsg_flowlog_decoder_stats(d);
    if (s->records != seen || s->lines != s->records + s->nodata + s->skipdata + s->malformed) {
        abort();
    }
    if (rc == FSG_OK && fsg_aggregate_flush(agg, NULL) != FSG_OK) {
        abort();
    }
    s_check_reader(in, chunk, &o, (flags & 8) != 0, rc, s, fsg_aggregate_entries(agg));
    struct fsg_flow *flows = NULL;
    size_t n = 0;
    if (rc == FSG_OK &&
        fsg_aggregate_result(agg, FSG_DIRECTION_ALL, NULL, 0, &flows, &n, NULL) != FSG_OK) {
        abort();
    }
    for (size_t i = 1; i < n; i++) {
        if (fsg_flow_cmp(&flows[i - 1], &flows[i]) >= 0) {
            abort(); /* sorted and unique */
        }
    }
    fsg_free(flows);
    fsg_aggregate_destroy(agg);
    fsg_flowlog_decoder_destroy(d);
    return 0;
}
