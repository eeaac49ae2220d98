/* Owning buffer (struct fsg_buf) versus borrowed view (struct fsg_span). */
#ifndef FSG_LIB_BUF_H
#define FSG_LIB_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/error.h"

/* Borrowed bytes, passed by value, never freed. Not NUL-terminated. */
struct fsg_span {
    const uint8_t *ptr;
    size_t len;
};

/* Owned, growable bytes. Starts as FSG_BUF_INIT. Always keeps a NUL after len (not counted)
 * once anything was appended, so fsg_buf_cstr() is free. */
struct fsg_buf {
    uint8_t *ptr;
    size_t len;
    size_t cap;
};

#define FSG_BUF_INIT ((struct fsg_buf){ NULL, 0, 0 })
#define FSG_SPAN_NULL ((struct fsg_span){ NULL, 0 })
/* printf("%.*s", FSG_SPAN_FMT(s)) */
#define FSG_SPAN_FMT(s) (int)(s).len, (const char *)(s).ptr

struct fsg_span fsg_span_from_cstr(const char *s); /* NULL -> empty span */
struct fsg_span fsg_span_from_buf(const struct fsg_buf *b);
bool fsg_span_eq(struct fsg_span a, struct fsg_span b);
bool fsg_span_eq_cstr(struct fsg_span a, const char *s);
bool fsg_span_eq_cstr_ignore_case(struct fsg_span a, const char *s);
bool fsg_span_starts_with(struct fsg_span a, const char *prefix);
struct fsg_span fsg_span_trim(struct fsg_span s); /* ASCII whitespace both ends */

/* Pull iterator over a span split on one separator byte. *pos starts at 0.
 * Returns false when done. Empty fields are returned as empty spans ("a,,b" -> a, "", b);
 * an empty input yields one empty field. */
bool fsg_span_next_split(struct fsg_span s, uint8_t sep, size_t *pos, struct fsg_span *ret_field);

/* Decimal unsigned parse of the whole span; FSG_E_PARSE on empty, sign, junk or overflow. */
enum fsg_err fsg_span_to_u64(struct fsg_span s, uint64_t *ret);
enum fsg_err fsg_span_to_i64(struct fsg_span s, int64_t *ret);

/* Reserve room for `extra` more bytes (plus the trailing NUL). */
enum fsg_err fsg_buf_reserve(struct fsg_buf *b, size_t extra) FSG_MUST_USE;
enum fsg_err fsg_buf_append(struct fsg_buf *b, const void *data, size_t len) FSG_MUST_USE;
enum fsg_err fsg_buf_append_span(struct fsg_buf *b, struct fsg_span s) FSG_MUST_USE;
enum fsg_err fsg_buf_append_cstr(struct fsg_buf *b, const char *s) FSG_MUST_USE;
enum fsg_err fsg_buf_append_byte(struct fsg_buf *b, uint8_t c) FSG_MUST_USE;
enum fsg_err fsg_buf_printf(struct fsg_buf *b, const char *fmt, ...) FSG_PRINTF(2, 3) FSG_MUST_USE;
/* A new formatted C string the caller frees with fsg_free(); NULL when out of memory (or for a
 * format vsnprintf refuses). */
char *fsg_asprintf(const char *fmt, ...) FSG_PRINTF(1, 2);
char *fsg_vasprintf(const char *fmt, va_list ap) FSG_PRINTF(1, 0);
/* Copy of the buffer as a fresh C string the caller frees with fsg_free(); NULL on OOM. */
char *fsg_buf_strdup(const struct fsg_buf *b);
/* The contents as a C string ("" when empty); valid until the next change. */
const char *fsg_buf_cstr(const struct fsg_buf *b);
void fsg_buf_reset(struct fsg_buf *b); /* len = 0, keeps capacity */
void fsg_buf_clean_up(struct fsg_buf *b); /* NULL ok, idempotent */
void fsg_buf_clean_up_secure(struct fsg_buf *b); /* wipes, then frees */
/* Wipes memory in a way the compiler cannot remove. */
void fsg_secure_zero(void *p, size_t n);

/* Read a whole local file (bounded by max_bytes; 0 = 64 MiB). */
enum fsg_err fsg_buf_read_file(struct fsg_buf *b, const char *path, size_t max_bytes,
                               struct fsg_error *err) FSG_MUST_USE;

#endif
