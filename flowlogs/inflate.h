/* Streaming gzip inflate with plain-text passthrough, in the zlib "set input, pull output" shape.
 *
 * - Input that starts with the gzip magic (1f 8b) is inflated with ISA-L (isal_inflate) when the
 *   build has it (FSG_HAVE_ISAL), else with zlib. Both give byte-identical output.
 * - Every gzip member is read: after one member ends, the next must start right away; anything
 *   else after a member is "trailing garbage" (an error). Concatenated files are common for logs
 *   and a reader that stops after member 1 silently loses data (aws-wire.md §1.7).
 * - Input that does not start with the magic is passed through unchanged (plain-text objects).
 *   Empty input is an empty plain stream.
 * - A stream that ends inside a member is an error ("premature end of gzip stream at byte N").
 *   Corrupt data and checksum mismatches are errors with the input byte offset. Errors set
 *   err->offset. A call never loops without progress: no output and no input consumed means
 *   "needs input", or, after finish(), the end or a truncation error.
 *
 * Usage (pull):
 *
 *     fsg_inflate_set_input(inf, chunk);            (borrowed until read() returns 0 bytes)
 *     for (;;) {
 *         size_t n;
 *         rc = fsg_inflate_read(inf, out, sizeof out, &n, err);
 *         if (rc != FSG_OK || n == 0) break;         (0: needs input, or the end after finish)
 *         consume(out, n);
 *     }
 *     ...more chunks...
 *     fsg_inflate_finish(inf);  then read() until it returns 0 bytes (end) or an error.
 */
#ifndef FSG_FLOWLOGS_INFLATE_H
#define FSG_FLOWLOGS_INFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/buf.h"
#include "lib/core/error.h"

struct fsg_inflate;

struct fsg_inflate_options {
    /* Use zlib even when ISA-L is built in. For tests that compare the two engines and for
     * benchmarks; production leaves it false. */
    bool force_zlib;
    /* Decompressed bytes after which read() fails with FSG_E_LIMIT (a decompression-bomb guard
     * for callers that care about time; memory never grows with the output). 0 = no limit. */
    uint64_t max_output_bytes;
};

/* Creates an inflater. opts may be NULL (defaults). Caller owns *ret_inf. FSG_E_NOMEM. */
enum fsg_err fsg_inflate_new(const struct fsg_inflate_options *opts, struct fsg_inflate **ret_inf,
                             struct fsg_error *err) FSG_MUST_USE;

void fsg_inflate_destroy(struct fsg_inflate *inf); /* NULL ok */

/* Borrows the next chunk of input (may be empty). The bytes must stay valid until read()
 * returns FSG_OK with 0 bytes; only then may the caller set the next chunk. */
void fsg_inflate_set_input(struct fsg_inflate *inf, struct fsg_span chunk);

/* Declares the end of input. */
void fsg_inflate_finish(struct fsg_inflate *inf);

/* Writes up to cap (> 0) decompressed bytes to out (caller's memory) and sets *ret_len.
 * FSG_OK, *ret_len > 0 : data.
 * FSG_OK, *ret_len == 0: all input consumed (set more), or after finish(): the end of the stream.
 * FSG_E_PARSE          : truncated, corrupt, checksum mismatch, trailing garbage (err->offset set).
 * FSG_E_LIMIT          : more than max_output_bytes. FSG_E_NOMEM.
 * After an error the inflater is unusable (every later read repeats the error code). */
enum fsg_err fsg_inflate_read(struct fsg_inflate *inf, uint8_t *out, size_t cap, size_t *ret_len,
                              struct fsg_error *err) FSG_MUST_USE;

/* True once finish() was called and read() reported the end. */
bool fsg_inflate_done(const struct fsg_inflate *inf);

/* Input bytes consumed so far (the offset used in error messages). */
uint64_t fsg_inflate_bytes_in(const struct fsg_inflate *inf);
/* Output bytes produced so far. */
uint64_t fsg_inflate_bytes_out(const struct fsg_inflate *inf);
/* Complete gzip members read so far (0 for plain text). */
unsigned long fsg_inflate_members(const struct fsg_inflate *inf);

/* "isa-l", "zlib" or "plain" once the first bytes were seen; "unknown" before. Static string. */
const char *fsg_inflate_engine(const struct fsg_inflate *inf);

#endif
