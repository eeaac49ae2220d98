/* Target: fsg_summary_decode (flow summaries and day rollups read back from S3: gzip'd or plain
 * JSON), then the rows folded into a table and written out again, and merged twice into a day
 * rollup (flowlogs/rollup.h) that reads back with its members hash and every row. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flowlogs/rollup.h"
#include "flowlogs/summary.h"
#include "lib/core/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fsg_summary s;
    if (fsg_summary_decode((struct fsg_span){ data, size }, "fp", &s, NULL) != FSG_OK) {
        if (s.rows != NULL || s.n_rows != 0) {
            abort(); /* nothing is returned on failure */
        }
        return 0;
    }
    struct fsg_aggregate *agg = NULL;
    if (fsg_aggregate_new(NULL, &agg, NULL) == FSG_OK) {
        fsg_aggregate_begin(agg);
        for (size_t i = 0; i < s.n_rows; i++) {
            if (s.rows[i].records == 0 || fsg_aggregate_add_row(agg, &s.rows[i], NULL) != FSG_OK) {
                abort(); /* every decoded row is one a table takes */
            }
        }
        if (fsg_aggregate_commit(agg, NULL) != FSG_OK ||
            fsg_aggregate_entries(agg) > s.n_rows) {
            abort();
        }
        struct fsg_buf out = FSG_BUF_INIT;
        if (fsg_summary_encode(agg, NULL, 0, "s3://b/k", "\"e\"", "fp", &out, NULL) != FSG_OK) {
            abort();
        }
        fsg_buf_clean_up(&out);
        struct fsg_rollup_acc *acc = NULL;
        if (fsg_rollup_acc_new(0, NULL, 0, &acc) == FSG_OK && fsg_rollup_acc_add_summary(acc, &s) &&
            fsg_rollup_acc_add_summary(acc, &s)) {
            struct fsg_summary back;
            if (fsg_rollup_acc_encode(acc, "s3://b/d/", "hash", "fp", &out, NULL) != FSG_OK ||
                fsg_summary_decode((struct fsg_span){ out.ptr, out.len }, "fp", &back, NULL) !=
                    FSG_OK ||
                strcmp(back.etag, "hash") != 0 || back.n_rows != fsg_aggregate_entries(agg) ||
                back.stats.records != 2 * s.stats.records) {
                abort(); /* a rollup of a summary twice: the same rows, counted twice */
            }
            fsg_summary_clean_up(&back);
        }
        fsg_rollup_acc_destroy(acc);
        fsg_buf_clean_up(&out);
        fsg_aggregate_destroy(agg);
    }
    fsg_summary_clean_up(&s);
    return 0;
}
