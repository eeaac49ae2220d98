#include "lib/core/buf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/core/mem.h"

/* A file we read whole is config or a policy export: never a flow log. */
#define S_DEFAULT_MAX_FILE_BYTES ((size_t)64 << 20)

struct fsg_span fsg_span_from_cstr(const char *s)
{
    return s == NULL ? FSG_SPAN_NULL : (struct fsg_span){ (const uint8_t *)s, strlen(s) };
}

struct fsg_span fsg_span_from_buf(const struct fsg_buf *b)
{
    return (struct fsg_span){ b->ptr, b->len };
}

bool fsg_span_eq(struct fsg_span a, struct fsg_span b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool fsg_span_eq_cstr(struct fsg_span a, const char *s)
{
    return fsg_span_eq(a, fsg_span_from_cstr(s));
}

bool fsg_span_eq_cstr_ignore_case(struct fsg_span a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && (n == 0 || strncasecmp((const char *)a.ptr, s, n) == 0);
}

bool fsg_span_starts_with(struct fsg_span a, const char *prefix)
{
    size_t n = strlen(prefix);
    return a.len >= n && memcmp(a.ptr, prefix, n) == 0;
}

struct fsg_span fsg_span_trim(struct fsg_span s)
{
    while (s.len > 0 && isspace(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && isspace(s.ptr[s.len - 1])) {
        s.len--;
    }
    return s;
}

bool fsg_span_next_split(struct fsg_span s, uint8_t sep, size_t *pos, struct fsg_span *ret_field)
{
    if (*pos > s.len) {
        return false;
    }
    const uint8_t *start = s.ptr + *pos;
    size_t rest = s.len - *pos;
    const uint8_t *hit = rest > 0 ? memchr(start, sep, rest) : NULL;
    size_t n = hit != NULL ? (size_t)(hit - start) : rest;
    *ret_field = (struct fsg_span){ start, n };
    *pos += n + 1; /* past the separator; past the end marks "done" */
    return true;
}

enum fsg_err fsg_span_to_u64(struct fsg_span s, uint64_t *ret)
{
    if (s.len == 0 || s.len > 20) {
        return FSG_E_PARSE;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned)s.ptr[i] - '0';
        if (d > 9) {
            return FSG_E_PARSE;
        }
        if (v > (UINT64_MAX - d) / 10) {
            return FSG_E_PARSE;
        }
        v = v * 10 + d;
    }
    *ret = v;
    return FSG_OK;
}

enum fsg_err fsg_span_to_i64(struct fsg_span s, int64_t *ret)
{
    bool neg = s.len > 0 && s.ptr[0] == '-';
    uint64_t v;
    struct fsg_span digits = neg ? (struct fsg_span){ s.ptr + 1, s.len - 1 } : s;
    if (fsg_span_to_u64(digits, &v) != FSG_OK || v > (uint64_t)INT64_MAX) {
        return FSG_E_PARSE;
    }
    *ret = neg ? -(int64_t)v : (int64_t)v;
    return FSG_OK;
}

enum fsg_err fsg_buf_reserve(struct fsg_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1) {
        return FSG_E_NOMEM;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return FSG_OK;
    }
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    uint8_t *p = fsg_realloc(b->ptr, cap);
    if (p == NULL) {
        return FSG_E_NOMEM;
    }
    b->ptr = p;
    b->cap = cap;
    return FSG_OK;
}

enum fsg_err fsg_buf_append(struct fsg_buf *b, const void *data, size_t len)
{
    enum fsg_err rc = fsg_buf_reserve(b, len);
    if (rc != FSG_OK) {
        return rc;
    }
    if (len > 0) {
        memcpy(b->ptr + b->len, data, len);
    }
    b->len += len;
    b->ptr[b->len] = '\0';
    return FSG_OK;
}

enum fsg_err fsg_buf_append_span(struct fsg_buf *b, struct fsg_span s)
{
    return fsg_buf_append(b, s.ptr, s.len);
}

enum fsg_err fsg_buf_append_cstr(struct fsg_buf *b, const char *s)
{
    return fsg_buf_append(b, s, strlen(s));
}

enum fsg_err fsg_buf_append_byte(struct fsg_buf *b, uint8_t c)
{
    return fsg_buf_append(b, &c, 1);
}

char *fsg_vasprintf(const char *fmt, va_list ap)
{
    va_list measure;
    va_copy(measure, ap);
    int n = vsnprintf(NULL, 0, fmt, measure);
    va_end(measure);
    char *s = n >= 0 ? fsg_malloc((size_t)n + 1) : NULL;
    if (s != NULL) {
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    }
    return s;
}

char *fsg_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = fsg_vasprintf(fmt, ap);
    va_end(ap);
    return s;
}

enum fsg_err fsg_buf_printf(struct fsg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return FSG_E_INTERNAL;
    }
    enum fsg_err rc = fsg_buf_reserve(b, (size_t)n);
    if (rc != FSG_OK) {
        return rc;
    }
    va_start(ap, fmt);
    vsnprintf((char *)b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return FSG_OK;
}

char *fsg_buf_strdup(const struct fsg_buf *b)
{
    return fsg_strndup(b->ptr != NULL ? (const char *)b->ptr : "", b->len);
}

const char *fsg_buf_cstr(const struct fsg_buf *b)
{
    return b->ptr != NULL ? (const char *)b->ptr : "";
}

void fsg_buf_reset(struct fsg_buf *b)
{
    b->len = 0;
    if (b->ptr != NULL) {
        b->ptr[0] = '\0';
    }
}

void fsg_buf_clean_up(struct fsg_buf *b)
{
    if (b == NULL) {
        return;
    }
    fsg_free(b->ptr);
    *b = FSG_BUF_INIT;
}

void fsg_secure_zero(void *p, size_t n)
{
    volatile uint8_t *v = p;
    while (n-- > 0) {
        *v++ = 0;
    }
}

void fsg_buf_clean_up_secure(struct fsg_buf *b)
{
    if (b == NULL) {
        return;
    }
    if (b->ptr != NULL) {
        fsg_secure_zero(b->ptr, b->cap);
    }
    fsg_buf_clean_up(b);
}

enum fsg_err fsg_buf_read_file(struct fsg_buf *b, const char *path, size_t max_bytes,
                               struct fsg_error *err)
{
    size_t limit = max_bytes == 0 ? S_DEFAULT_MAX_FILE_BYTES : max_bytes;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return fsg_error_set(err, errno == ENOENT ? FSG_E_NOT_FOUND : FSG_E_IO,
                             "%s: cannot open: %s", path, strerror(errno));
    }
    enum fsg_err rc = FSG_OK;
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b->len + n > limit) {
            rc = fsg_error_set(err, FSG_E_LIMIT, "%s: larger than %zu bytes", path, limit);
            goto out;
        }
        if (fsg_buf_append(b, chunk, n) != FSG_OK) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "%s: out of memory", path);
            goto out;
        }
    }
    if (ferror(f)) {
        rc = fsg_error_set(err, FSG_E_IO, "%s: read error: %s", path, strerror(errno));
    }
out:
    fclose(f);
    return rc;
}
