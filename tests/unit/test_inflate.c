/* flowlogs/inflate: every byte split, multi-member, truncation, corruption, garbage, plain text,
 * and the two engines (ISA-L when built in, zlib) give identical output. */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "flowlogs/inflate.h"
#include "fsg_config.h"
#include "lib/core/buf.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"

/* Engines to run each case with: [0] = the default (ISA-L when built in), [1] = forced zlib. */
static const bool s_engines[] = { false, true };
#define N_ENGINES (sizeof s_engines / sizeof s_engines[0])

/* Appends one gzip member of `text` at `level` (0 = stored blocks) with optional header fields. */
static int s_gzip_member(struct fsg_buf *out, const char *text, size_t len, int level,
                         bool header_fields)
{
    z_stream z = { 0 };
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return 1;
    }
    gz_header h = { 0 };
    if (header_fields) {
        static char name[] = "flow.log", comment[] = "a comment";
        static unsigned char extra[] = { 'A', 'B', 2, 0, 'x', 'y' };
        h.name = (Bytef *)name;
        h.comment = (Bytef *)comment;
        h.extra = extra;
        h.extra_len = sizeof extra;
        h.hcrc = 1;
        h.time = 1700000000;
        if (deflateSetHeader(&z, &h) != Z_OK) {
            return 1;
        }
    }
    uint8_t tmp[4096];
    z.next_in = (Bytef *)(uintptr_t)text;
    z.avail_in = (uInt)len;
    int zrc;
    do {
        z.next_out = tmp;
        z.avail_out = sizeof tmp;
        zrc = deflate(&z, Z_FINISH);
        if (fsg_buf_append(out, tmp, sizeof tmp - z.avail_out) != FSG_OK) {
            return 1;
        }
    } while (zrc == Z_OK);
    deflateEnd(&z);
    return zrc == Z_STREAM_END ? 0 : 1;
}

/* Some flow-log-like text of about `lines` lines. */
static int s_text(struct fsg_buf *out, int lines)
{
    for (int i = 0; i < lines; i++) {
        if (fsg_buf_printf(out,
                           "2 123456789012 eni-%017x 10.0.%d.%d 10.0.20.11 %d 5432 6 %d %d "
                           "1700000000 1700000060 ACCEPT OK\n",
                           i % 7, i % 5, i % 250, 40000 + i * 7 % 20000, i % 50 + 1,
                           (i * 7919) % 100000) != FSG_OK) {
            return 1;
        }
    }
    return 0;
}

struct s_run {
    enum fsg_err rc;
    struct fsg_error err;
    struct fsg_buf out;
    unsigned long members;
    uint64_t bytes_in;
    const char *engine;
};

/* Feeds `in` in chunks of `chunk` bytes (first chunk `first` bytes when non-zero), pulling into an
 * output buffer of `out_cap` bytes. */
static void s_run(struct fsg_span in, size_t first, size_t chunk, size_t out_cap, bool force_zlib,
                  struct s_run *r)
{
    struct fsg_inflate *inf = NULL;
    struct fsg_inflate_options o = { .force_zlib = force_zlib };
    uint8_t outbuf[65536];
    *r = (struct s_run){ .rc = FSG_OK };
    r->rc = fsg_inflate_new(&o, &inf, &r->err);
    size_t pos = 0;
    bool finished = false;
    int guard = 0;
    while (r->rc == FSG_OK && guard++ < 10000000) {
        size_t n;
        r->rc = fsg_inflate_read(inf, outbuf, out_cap, &n, &r->err);
        if (r->rc != FSG_OK) {
            break;
        }
        if (n > 0) {
            r->rc = fsg_buf_append(&r->out, outbuf, n);
            continue;
        }
        if (finished) {
            break;
        }
        if (pos == in.len) {
            fsg_inflate_finish(inf);
            finished = true;
            continue;
        }
        size_t take = pos == 0 && first != 0 ? first : chunk;
        if (take > in.len - pos) {
            take = in.len - pos;
        }
        fsg_inflate_set_input(inf, (struct fsg_span){ in.ptr + pos, take });
        pos += take;
    }
    if (r->rc == FSG_OK && !fsg_inflate_done(inf)) {
        r->rc = FSG_E_INTERNAL; /* the loop guard tripped: an endless loop */
    }
    r->members = fsg_inflate_members(inf);
    r->bytes_in = fsg_inflate_bytes_in(inf);
    r->engine = fsg_inflate_engine(inf);
    fsg_inflate_destroy(inf);
}

static int s_check_output(struct s_run *r, const struct fsg_buf *want)
{
    T_OK(r->rc);
    T_CHECK(r->out.len == want->len);
    T_CHECK(want->len == 0 || memcmp(r->out.ptr, want->ptr, want->len) == 0);
    fsg_buf_clean_up(&r->out);
    return 0;
}

static int s_split_at_every_offset_multi_member(void)
{
    struct fsg_buf text = FSG_BUF_INIT, gz = FSG_BUF_INIT, t1 = FSG_BUF_INIT, t2 = FSG_BUF_INIT,
                   t3 = FSG_BUF_INIT;
    T_CHECK(s_text(&t1, 20) == 0);
    T_CHECK(s_text(&t2, 3) == 0);
    T_CHECK(s_text(&t3, 15) == 0);
    T_CHECK(s_gzip_member(&gz, (const char *)t1.ptr, t1.len, 6, false) == 0);
    T_CHECK(s_gzip_member(&gz, (const char *)t2.ptr, t2.len, 0, true) == 0);
    T_CHECK(s_gzip_member(&gz, "", 0, 9, false) == 0);
    T_CHECK(s_gzip_member(&gz, (const char *)t3.ptr, t3.len, 1, false) == 0);
    T_OK(fsg_buf_append_span(&text, fsg_span_from_buf(&t1)));
    T_OK(fsg_buf_append_span(&text, fsg_span_from_buf(&t2)));
    T_OK(fsg_buf_append_span(&text, fsg_span_from_buf(&t3)));
    struct fsg_span in = fsg_span_from_buf(&gz);
    for (size_t e = 0; e < N_ENGINES; e++) {
        for (size_t k = 1; k < in.len; k++) {
            struct s_run r;
            s_run(in, k, in.len, 65536, s_engines[e], &r);
            T_CHECK(s_check_output(&r, &text) == 0);
            T_CHECK(r.members == 4);
            T_CHECK(r.bytes_in == in.len);
        }
        for (size_t chunk = 1; chunk <= 17; chunk++) {
            struct s_run r;
            s_run(in, 0, chunk, chunk * 3, s_engines[e], &r);
            T_CHECK(s_check_output(&r, &text) == 0);
            T_CHECK(r.members == 4);
        }
    }
    fsg_buf_clean_up(&text);
    fsg_buf_clean_up(&gz);
    fsg_buf_clean_up(&t1);
    fsg_buf_clean_up(&t2);
    fsg_buf_clean_up(&t3);
    return 0;
}

static int s_engine_names(void)
{
    struct fsg_buf gz = FSG_BUF_INIT;
    T_CHECK(s_gzip_member(&gz, "x\n", 2, 6, false) == 0);
    struct s_run r;
    s_run(fsg_span_from_buf(&gz), 0, 64, 64, false, &r);
    T_OK(r.rc);
    T_STR_EQ(r.engine, FSG_HAVE_ISAL ? "isa-l" : "zlib");
    fsg_buf_clean_up(&r.out);
    s_run(fsg_span_from_buf(&gz), 0, 64, 64, true, &r);
    T_STR_EQ(r.engine, "zlib");
    fsg_buf_clean_up(&r.out);
    s_run(fsg_span_from_cstr("plain\n"), 0, 64, 64, false, &r);
    T_STR_EQ(r.engine, "plain");
    fsg_buf_clean_up(&r.out);
    fsg_buf_clean_up(&gz);
    return 0;
}

/* Every prefix that does not end on a member boundary is a truncation at exactly that byte. */
static int s_truncated_at_every_offset(void)
{
    struct fsg_buf gz = FSG_BUF_INIT, t = FSG_BUF_INIT;
    T_CHECK(s_text(&t, 12) == 0);
    T_CHECK(s_gzip_member(&gz, (const char *)t.ptr, t.len, 6, true) == 0);
    size_t boundary = gz.len;
    T_CHECK(s_gzip_member(&gz, (const char *)t.ptr, t.len, 0, false) == 0);
    for (size_t e = 0; e < N_ENGINES; e++) {
        for (size_t k = 2; k < gz.len; k++) {
            struct s_run r;
            s_run((struct fsg_span){ gz.ptr, k }, 0, (k % 5) + 1, 100, s_engines[e], &r);
            fsg_buf_clean_up(&r.out);
            if (k == boundary) {
                T_OK(r.rc); /* a complete first member: nothing says more was meant to follow */
                continue;
            }
            T_ERR(FSG_E_PARSE, r.rc);
            char want[96];
            snprintf(want, sizeof want, "premature end of gzip stream at byte %zu", k);
            T_STR_EQ(r.err.msg, want);
            T_CHECK(r.err.offset == k);
        }
    }
    fsg_buf_clean_up(&gz);
    fsg_buf_clean_up(&t);
    return 0;
}

static int s_corrupt_data_is_an_error_with_offset(void)
{
    struct fsg_buf gz = FSG_BUF_INIT, t = FSG_BUF_INIT;
    T_CHECK(s_text(&t, 200) == 0);
    T_CHECK(s_gzip_member(&gz, (const char *)t.ptr, t.len, 6, false) == 0);
    size_t flagged = 0;
    for (size_t e = 0; e < N_ENGINES; e++) {
        /* Flip bits all over the member: header, deflate data, CRC and ISIZE trailer. */
        for (size_t pos = 2; pos < gz.len; pos += 3) {
            struct fsg_buf bad = FSG_BUF_INIT;
            T_OK(fsg_buf_append_span(&bad, fsg_span_from_buf(&gz)));
            bad.ptr[pos] ^= 0x5a;
            struct s_run r;
            s_run(fsg_span_from_buf(&bad), 0, 97, 4096, s_engines[e], &r);
            fsg_buf_clean_up(&r.out);
            if (r.rc == FSG_OK) {
                /* Only header bytes that carry no meaning (mtime, xfl, os) may flip unnoticed. */
                T_CHECK(pos >= 4 && pos <= 9);
            } else {
                T_ERR(FSG_E_PARSE, r.rc);
                T_CHECK(strstr(r.err.msg, "at byte ") != NULL);
                T_CHECK(r.err.offset <= bad.len);
                flagged++;
            }
            fsg_buf_clean_up(&bad);
        }
        /* The CRC and the length each catch a change on their own. */
        for (size_t pos = gz.len - 8; pos < gz.len; pos += 4) {
            struct fsg_buf bad = FSG_BUF_INIT;
            T_OK(fsg_buf_append_span(&bad, fsg_span_from_buf(&gz)));
            bad.ptr[pos] ^= 1;
            struct s_run r;
            s_run(fsg_span_from_buf(&bad), 0, 4096, 4096, s_engines[e], &r);
            fsg_buf_clean_up(&r.out);
            T_ERR(FSG_E_PARSE, r.rc);
            T_CHECK(strstr(r.err.msg, "mismatch") != NULL);
            fsg_buf_clean_up(&bad);
        }
    }
    T_CHECK(flagged > 0);
    fsg_buf_clean_up(&gz);
    fsg_buf_clean_up(&t);
    return 0;
}

static int s_trailing_garbage(void)
{
    static const char *const garbage[] = { "garbage", "\x1f", "\x1f\x8c", "\0\0\0\0", "\n" };
    static const size_t garbage_len[] = { 7, 1, 2, 4, 1 };
    struct fsg_buf gz = FSG_BUF_INIT;
    T_CHECK(s_gzip_member(&gz, "a b c\n", 6, 6, false) == 0);
    for (size_t e = 0; e < N_ENGINES; e++) {
        for (size_t g = 0; g < sizeof garbage / sizeof garbage[0]; g++) {
            struct fsg_buf in = FSG_BUF_INIT;
            T_OK(fsg_buf_append_span(&in, fsg_span_from_buf(&gz)));
            T_OK(fsg_buf_append(&in, garbage[g], garbage_len[g]));
            for (size_t k = 1; k < in.len; k++) {
                struct s_run r;
                s_run(fsg_span_from_buf(&in), k, in.len, 4096, s_engines[e], &r);
                fsg_buf_clean_up(&r.out);
                T_ERR(FSG_E_PARSE, r.rc);
                if (strcmp(garbage[g], "\x1f") == 0) {
                    /* a lone first magic byte: the start of a member that never came */
                    T_CHECK(strstr(r.err.msg, "premature end of gzip stream") != NULL);
                    continue;
                }
                char want[96];
                snprintf(want, sizeof want,
                         "trailing garbage after the last gzip member at byte %zu", gz.len);
                T_STR_EQ(r.err.msg, want);
                T_CHECK(r.err.offset == gz.len);
            }
            fsg_buf_clean_up(&in);
        }
    }
    fsg_buf_clean_up(&gz);
    return 0;
}

static int s_plain_text_and_empty(void)
{
    struct fsg_buf t = FSG_BUF_INIT;
    T_CHECK(s_text(&t, 30) == 0);
    for (size_t k = 1; k < t.len; k += 7) {
        struct s_run r;
        s_run(fsg_span_from_buf(&t), k, 13, 29, false, &r);
        T_CHECK(s_check_output(&r, &t) == 0);
    }
    static const char *const small[] = { "", "x", "\x1f", "\x8b\x1f", "\x1f\x8a rest" };
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        struct fsg_buf want = FSG_BUF_INIT;
        T_OK(fsg_buf_append_cstr(&want, small[i]));
        struct s_run r;
        s_run(fsg_span_from_cstr(small[i]), 0, 1, 1, false, &r);
        T_STR_EQ(r.engine, "plain");
        T_CHECK(r.members == 0);
        T_CHECK(s_check_output(&r, &want) == 0);
        fsg_buf_clean_up(&want);
    }
    fsg_buf_clean_up(&t);
    return 0;
}

static int s_empty_gzip_member(void)
{
    struct fsg_buf gz = FSG_BUF_INIT, empty = FSG_BUF_INIT;
    T_CHECK(s_gzip_member(&gz, "", 0, 6, false) == 0);
    for (size_t e = 0; e < N_ENGINES; e++) {
        struct s_run r;
        s_run(fsg_span_from_buf(&gz), 0, 1, 16, s_engines[e], &r);
        T_CHECK(s_check_output(&r, &empty) == 0);
        T_CHECK(r.members == 1);
    }
    fsg_buf_clean_up(&gz);
    return 0;
}

/* A larger stream through small output windows: both engines agree byte for byte. */
static int s_engines_agree(void)
{
    struct fsg_buf t = FSG_BUF_INIT, gz = FSG_BUF_INIT;
    T_CHECK(s_text(&t, 20000) == 0);
    T_CHECK(s_gzip_member(&gz, (const char *)t.ptr, t.len / 2, 9, false) == 0);
    T_CHECK(s_gzip_member(&gz, (const char *)t.ptr + t.len / 2, t.len - t.len / 2, 1, false) == 0);
    static const size_t outs[] = { 1, 4093, 32768, 65536 };
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        struct s_run a, b;
        s_run(fsg_span_from_buf(&gz), 0, 1000 + i * 7777, outs[i], false, &a);
        s_run(fsg_span_from_buf(&gz), 0, 3001, outs[i], true, &b);
        T_OK(a.rc);
        T_OK(b.rc);
        T_CHECK(a.out.len == t.len && b.out.len == t.len);
        T_CHECK(memcmp(a.out.ptr, b.out.ptr, t.len) == 0);
        T_CHECK(memcmp(a.out.ptr, t.ptr, t.len) == 0);
        fsg_buf_clean_up(&a.out);
        fsg_buf_clean_up(&b.out);
    }
    fsg_buf_clean_up(&t);
    fsg_buf_clean_up(&gz);
    return 0;
}

static int s_output_limit(void)
{
    struct fsg_buf gz = FSG_BUF_INIT;
    T_CHECK(s_gzip_member(&gz, "0123456789", 10, 6, false) == 0);
    for (uint64_t limit = 9; limit <= 11; limit++) {
        struct fsg_inflate *inf = NULL;
        struct fsg_inflate_options o = { .max_output_bytes = limit };
        struct fsg_error err;
        uint8_t out[64];
        size_t n = 0, total = 0;
        enum fsg_err rc;
        T_OK(fsg_inflate_new(&o, &inf, &err));
        fsg_inflate_set_input(inf, fsg_span_from_buf(&gz));
        fsg_inflate_finish(inf);
        do {
            rc = fsg_inflate_read(inf, out, 3, &n, &err);
            total += n;
        } while (rc == FSG_OK && n > 0);
        if (limit < 10) {
            T_ERR(FSG_E_LIMIT, rc);
            T_CHECK(total <= limit);
        } else {
            T_OK(rc);
            T_CHECK(total == 10 && fsg_inflate_done(inf));
        }
        fsg_inflate_destroy(inf);
    }
    fsg_buf_clean_up(&gz);
    return 0;
}

static int s_allocation_failures(void)
{
    struct fsg_buf gz = FSG_BUF_INIT;
    T_CHECK(s_gzip_member(&gz, "abc\n", 4, 6, false) == 0);
    for (size_t e = 0; e < N_ENGINES; e++) {
        for (long nth = 1; nth <= 6; nth++) {
            struct fsg_inflate *inf = NULL;
            struct fsg_inflate_options o = { .force_zlib = s_engines[e] };
            struct fsg_error err;
            uint8_t out[64];
            size_t n = 0;
            fsg_mem_fail_after(nth);
            enum fsg_err rc = fsg_inflate_new(&o, &inf, &err);
            if (rc == FSG_OK) {
                fsg_inflate_set_input(inf, fsg_span_from_buf(&gz));
                fsg_inflate_finish(inf);
                rc = fsg_inflate_read(inf, out, sizeof out, &n, &err);
            }
            fsg_mem_fail_after(0);
            T_CHECK(rc == FSG_OK || rc == FSG_E_NOMEM);
            fsg_inflate_destroy(inf);
        }
    }
    fsg_buf_clean_up(&gz);
    return 0;
}

static int s_use_after_error_repeats_the_error(void)
{
    struct fsg_inflate *inf = NULL;
    struct fsg_error err;
    uint8_t out[16];
    size_t n;
    static const uint8_t bad[] = { 0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff };
    T_OK(fsg_inflate_new(NULL, &inf, &err));
    fsg_inflate_set_input(inf, (struct fsg_span){ bad, sizeof bad });
    fsg_inflate_finish(inf);
    T_ERR(FSG_E_PARSE, fsg_inflate_read(inf, out, sizeof out, &n, &err));
    T_ERR(FSG_E_PARSE, fsg_inflate_read(inf, out, sizeof out, &n, &err));
    T_CHECK(n == 0);
    fsg_inflate_destroy(inf);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "split_at_every_offset_multi_member", s_split_at_every_offset_multi_member },
        { "engine_names", s_engine_names },
        { "truncated_at_every_offset", s_truncated_at_every_offset },
        { "corrupt_data_is_an_error_with_offset", s_corrupt_data_is_an_error_with_offset },
        { "trailing_garbage", s_trailing_garbage },
        { "plain_text_and_empty", s_plain_text_and_empty },
        { "empty_gzip_member", s_empty_gzip_member },
        { "engines_agree", s_engines_agree },
        { "output_limit", s_output_limit },
        { "allocation_failures", s_allocation_failures },
        { "use_after_error_repeats_the_error", s_use_after_error_repeats_the_error },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
