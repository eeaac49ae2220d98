/* Target: fsg_inflate_read.
 * Input: byte 0 = input chunk size (0 = all at once), byte 1 = output buffer size (0 = 64 KiB),
 * then the stream. Round-trip check: the ISA-L engine (when built in) and zlib must agree on the
 * outcome and, when both succeed, on every output byte. Never a loop without progress. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flowlogs/inflate.h"
#include "lib/core/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum fsg_err s_run(struct fsg_span in, size_t chunk, size_t out_cap, bool zlib,
                          struct fsg_buf *out, uint64_t *offset)
{
    static uint8_t buf[65536];
    struct fsg_inflate *inf = NULL;
    struct fsg_inflate_options o = { .force_zlib = zlib, .max_output_bytes = 64u << 20 };
    struct fsg_error err = { 0 };
    if (fsg_inflate_new(&o, &inf, &err) != FSG_OK) {
        abort();
    }
    size_t pos = 0;
    bool finished = false;
    enum fsg_err rc;
    for (;;) {
        size_t n = 0;
        rc = fsg_inflate_read(inf, buf, out_cap, &n, &err);
        if (rc != FSG_OK) {
            *offset = err.offset;
            break;
        }
        if (n > 0) {
            if (fsg_buf_append(out, buf, n) != FSG_OK) {
                abort();
            }
            continue;
        }
        if (finished) {
            if (!fsg_inflate_done(inf)) {
                abort();
            }
            break;
        }
        if (pos == in.len) {
            fsg_inflate_finish(inf);
            finished = true;
            continue;
        }
        size_t take = chunk == 0 || chunk > in.len - pos ? in.len - pos : chunk;
        fsg_inflate_set_input(inf, (struct fsg_span){ in.ptr + pos, take });
        pos += take;
    }
    if (rc == FSG_OK && fsg_inflate_bytes_out(inf) != out->len) {
        abort();
    }
    fsg_inflate_destroy(inf);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    struct fsg_span in = { data + 2, size - 2 };
    size_t out_cap = data[1] != 0 ? data[1] : 65536;
    struct fsg_buf a = FSG_BUF_INIT, b = FSG_BUF_INIT;
    uint64_t off_a = 0, off_b = 0;
    enum fsg_err ra = s_run(in, data[0], out_cap, false, &a, &off_a);
    enum fsg_err rb = s_run(in, data[0], out_cap, true, &b, &off_b);
    if (ra != rb) {
        abort();
    }
    if (ra == FSG_OK && (a.len != b.len || (a.len > 0 && memcmp(a.ptr, b.ptr, a.len) != 0))) {
        abort();
    }
    if (ra != FSG_OK && (off_a > in.len || off_b > in.len)) {
        abort();
    }
    fsg_buf_clean_up(&a);
    fsg_buf_clean_up(&b);
    return 0;
}
