/* Fuzz target: SigV4 canonical URI and query string from arbitrary bytes.
 * Input: byte 0 = flags (bit 0: S3 rules, bit 1: no path normalisation); the rest is split at
 * the first '?' into an URL path and query. Properties checked (a violation traps):
 *   - uri_decode(uri_encode(x)) == x, with and without '/' kept;
 *   - the canonical query and the S3 canonical URI are fixed points (canonicalising them again
 *     changes nothing) and use only unreserved bytes, '%XY' (uppercase; S3 paths keep the
 *     caller's escapes), '=' and '&' ('/' in paths);
 *   - the normalised non-S3 path has no empty, "." or ".." segment and starts with '/';
 *   - a whole canonical request for https://h<path>?<query> either builds or fails cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/buf.h"
#include "lib/http/http.h"
#include "lib/core/mem.h"
#include "lib/aws/sigv4.h"

#define S_CHECK(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static bool s_is_unreserved(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_' || c == '.' || c == '~';
}

static bool s_is_hex(uint8_t c, bool allow_lower)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')
           || (allow_lower && c >= 'a' && c <= 'f');
}

/* Only unreserved bytes, the given extra bytes, and well-formed escapes: uppercase, except in S3
 * paths, which keep the escapes the caller sent. */
static void s_check_alphabet(struct fsg_span s, const char *extra, bool allow_lower_hex)
{
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (c == '%') {
            S_CHECK(i + 2 < s.len && s_is_hex(s.ptr[i + 1], allow_lower_hex)
                    && s_is_hex(s.ptr[i + 2], allow_lower_hex));
            i += 2;
            continue;
        }
        S_CHECK(s_is_unreserved(c) || (c != '\0' && strchr(extra, c) != NULL));
    }
}

static void s_round_trip(struct fsg_span s, bool keep_slash)
{
    struct fsg_buf enc = FSG_BUF_INIT;
    struct fsg_buf dec = FSG_BUF_INIT;
    if (fsg_uri_encode(&enc, s, keep_slash) == FSG_OK
        && fsg_uri_decode(&dec, fsg_span_from_buf(&enc)) == FSG_OK) {
        S_CHECK(fsg_span_eq(fsg_span_from_buf(&dec), s));
        s_check_alphabet(fsg_span_from_buf(&enc), keep_slash ? "/" : "", false);
    }
    fsg_buf_clean_up(&enc);
    fsg_buf_clean_up(&dec);
}

static void s_check_query(struct fsg_span query)
{
    struct fsg_buf once = FSG_BUF_INIT;
    struct fsg_buf twice = FSG_BUF_INIT;
    if (fsg_sigv4_canonical_query(query, &once) == FSG_OK
        && fsg_sigv4_canonical_query(fsg_span_from_buf(&once), &twice) == FSG_OK) {
        S_CHECK(fsg_span_eq(fsg_span_from_buf(&once), fsg_span_from_buf(&twice)));
        s_check_alphabet(fsg_span_from_buf(&once), "=&", false);
    }
    fsg_buf_clean_up(&once);
    fsg_buf_clean_up(&twice);
}

static void s_check_path(struct fsg_span path, const struct fsg_sigv4_params *p)
{
    struct fsg_buf once = FSG_BUF_INIT;
    struct fsg_buf twice = FSG_BUF_INIT;
    if (fsg_sigv4_canonical_uri(path, p, &once) != FSG_OK) {
        goto out;
    }
    struct fsg_span c = fsg_span_from_buf(&once);
    s_check_alphabet(c, "/", p->s3_rules);
    if (p->s3_rules) {
        if (fsg_sigv4_canonical_uri(c, p, &twice) == FSG_OK) {
            S_CHECK(fsg_span_eq(c, fsg_span_from_buf(&twice)));
        }
    } else if (!p->skip_path_normalization && path.len > 0 && path.ptr[0] == '/') {
        S_CHECK(c.len > 0 && c.ptr[0] == '/');
        size_t pos = 0;
        struct fsg_span seg;
        struct fsg_span rest = { c.ptr + 1, c.len - 1 };
        while (rest.len > 0 && fsg_span_next_split(rest, '/', &pos, &seg)) {
            bool last = pos > rest.len;
            S_CHECK(!fsg_span_eq_cstr(seg, ".") && !fsg_span_eq_cstr(seg, ".."));
            S_CHECK(seg.len > 0 || last); /* only a trailing '/' may leave an empty one */
        }
    }
out:
    fsg_buf_clean_up(&once);
    fsg_buf_clean_up(&twice);
}

static void s_check_request(struct fsg_span path, struct fsg_span query, bool has_query,
                            const struct fsg_sigv4_params *p)
{
    struct fsg_buf url = FSG_BUF_INIT;
    struct fsg_buf canon = FSG_BUF_INIT;
    if (fsg_buf_append_cstr(&url, "https://h") != FSG_OK
        || (path.len > 0 && path.ptr[0] != '/' && fsg_buf_append_byte(&url, '/') != FSG_OK)
        || fsg_buf_append_span(&url, path) != FSG_OK
        || (has_query && fsg_buf_append_byte(&url, '?') != FSG_OK)
        || fsg_buf_append_span(&url, query) != FSG_OK) {
        goto out;
    }
    for (size_t i = 0; i < url.len; i++) {
        if (url.ptr[i] == '\0') {
            url.ptr[i] = 'x'; /* URLs are C strings */
        }
    }
    struct fsg_http_request req = { .method = "GET", .url = fsg_buf_cstr(&url) };
    struct fsg_error err;
    enum fsg_err rc = fsg_sigv4_canonical_request(&req, p, &canon, &err);
    S_CHECK(rc == FSG_OK || rc == FSG_E_NOMEM);
out:
    fsg_buf_clean_up(&url);
    fsg_buf_clean_up(&canon);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    long live = fsg_mem_live();
    struct fsg_sigv4_params p = {
        .access_key_id = fsg_span_from_cstr("AKIDEXAMPLE"),
        .secret_access_key = fsg_span_from_cstr("secret"),
        .region = fsg_span_from_cstr("us-east-1"),
        .service = fsg_span_from_cstr((data[0] & 1) ? "s3" : "service"),
        .now_s = 1440938160,
        .s3_rules = (data[0] & 1) != 0,
        .skip_path_normalization = (data[0] & 2) != 0,
    };
    struct fsg_span in = { data + 1, size - 1 };
    const uint8_t *q = in.len > 0 ? memchr(in.ptr, '?', in.len) : NULL;
    struct fsg_span path = { in.ptr, q != NULL ? (size_t)(q - in.ptr) : in.len };
    struct fsg_span query = q != NULL ? (struct fsg_span){ q + 1, in.len - path.len - 1 }
                                      : FSG_SPAN_NULL;

    s_round_trip(in, false);
    s_round_trip(in, true);
    s_check_path(path, &p);
    s_check_query(query);
    s_check_request(path, query, q != NULL, &p);
    S_CHECK(fsg_mem_live() == live);
    return 0;
}
