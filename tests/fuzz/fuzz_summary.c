/* Target: fsg_summary_decode (flow summaries read back from S3: gzip'd or plain JSON), then the
 * rows folded into a table and written out again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
        fsg_aggregate_destroy(agg);
    }
    fsg_summary_clean_up(&s);
    return 0;
}
