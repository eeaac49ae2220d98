#include "flowlogs/inflate.h"

#include <string.h>
#include <zlib.h>

#include "fsg_config.h"
#include "lib/core/mem.h"

#if FSG_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

/* The gzip member layout (RFC 1952 §2.3): a 10-byte fixed header, optional extra/name/comment/
 * header-CRC fields, raw deflate data, then CRC-32 and ISIZE (4 bytes each, little endian).
 * We parse headers and (for zlib) trailers ourselves: ISA-L 2.30 rejects a valid FHCRC header
 * that arrives split across calls, and one parser gives both engines the same offsets. */
#define S_GZ_FIXED 10
#define S_GZ_TRAILER 8
#define S_GZ_CM_DEFLATE 8
#define S_FLG_FHCRC 0x02
#define S_FLG_FEXTRA 0x04
#define S_FLG_FNAME 0x08
#define S_FLG_FCOMMENT 0x10
#define S_FLG_RESERVED 0xe0
/* zlib windowBits: -15 = raw deflate with the maximum (32 KiB) window. */
#define S_ZLIB_RAW_WINDOW_BITS (-15)
/* ISA-L and zlib count bytes in 32-bit fields: larger chunks are fed in slices. */
#define S_MAX_SLICE ((size_t)1 << 30)

static const uint8_t s_gzip_magic[2] = { 0x1f, 0x8b };

enum s_mode { S_DETECT = 0, S_GZIP, S_PLAIN, S_END, S_FAILED };
enum s_engine { S_ENGINE_ZLIB = 0, S_ENGINE_ISAL };
/* Where we are inside a gzip member. */
enum s_phase {
    P_NONE = 0, /* between members */
    P_FIXED,
    P_XLEN,
    P_EXTRA,
    P_NAME,
    P_COMMENT,
    P_HCRC,
    P_BODY,
    P_TRAILER, /* zlib only: ISA-L checks the trailer itself */
};

struct fsg_inflate {
    enum s_mode mode;
    enum s_engine engine;
    enum s_phase phase;
    enum fsg_err failed_rc; /* repeated by read() after an error */
    bool finished;          /* finish() was called */
    bool force_zlib;
    bool zlib_ready;    /* inflateInit2 done */
    struct fsg_span in; /* the caller's chunk, not yet consumed */
    uint8_t magic[2];   /* first bytes, kept while the chunks are too short to decide */
    size_t n_magic;
    struct fsg_span magic_in; /* kept bytes still to be fed */
    uint8_t hdr[S_GZ_FIXED];  /* fixed header, XLEN, HCRC or trailer bytes being collected */
    size_t n_hdr;
    size_t skip; /* FEXTRA bytes left */
    uint8_t flg;
    uint32_t hdr_crc;    /* CRC-32 of the header so far (for FHCRC) */
    uint32_t body_crc;   /* zlib: CRC-32 of the member's output */
    uint64_t member_out; /* the member's output size (ISIZE is it modulo 2^32) */
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t max_out;
    uint64_t member_start; /* input offset where the current member began */
    unsigned long members;
    const char *engine_name; /* static; NULL until the first bytes were seen */
    z_stream z;
#if FSG_HAVE_ISAL
    struct inflate_state *isal; /* ~100 KiB: allocated once, reset per member */
#endif
};

static voidpf s_zalloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return fsg_calloc(items, size);
}

static void s_zfree(voidpf opaque, voidpf ptr)
{
    (void)opaque;
    fsg_free(ptr);
}

enum fsg_err fsg_inflate_new(const struct fsg_inflate_options *opts, struct fsg_inflate **ret_inf,
                             struct fsg_error *err)
{
    struct fsg_inflate *inf = fsg_calloc(1, sizeof *inf);
    if (inf == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "inflate: out of memory");
    }
    if (opts != NULL) {
        inf->force_zlib = opts->force_zlib;
        inf->max_out = opts->max_output_bytes;
    }
    inf->z.zalloc = s_zalloc;
    inf->z.zfree = s_zfree;
    *ret_inf = inf;
    return FSG_OK;
}

void fsg_inflate_destroy(struct fsg_inflate *inf)
{
    if (inf == NULL) {
        return;
    }
    if (inf->zlib_ready) {
        (void)inflateEnd(&inf->z);
    }
#if FSG_HAVE_ISAL
    fsg_free(inf->isal);
#endif
    fsg_free(inf);
}

void fsg_inflate_set_input(struct fsg_inflate *inf, struct fsg_span chunk)
{
    inf->in = chunk;
}

void fsg_inflate_finish(struct fsg_inflate *inf)
{
    inf->finished = true;
}

bool fsg_inflate_done(const struct fsg_inflate *inf)
{
    return inf->mode == S_END;
}

uint64_t fsg_inflate_bytes_in(const struct fsg_inflate *inf)
{
    return inf->bytes_in;
}

uint64_t fsg_inflate_bytes_out(const struct fsg_inflate *inf)
{
    return inf->bytes_out;
}

unsigned long fsg_inflate_members(const struct fsg_inflate *inf)
{
    return inf->members;
}

const char *fsg_inflate_engine(const struct fsg_inflate *inf)
{
    return inf->engine_name != NULL ? inf->engine_name : "unknown";
}

static enum fsg_err s_fail(struct fsg_inflate *inf, struct fsg_error *err, enum fsg_err code,
                           const char *what)
{
    inf->mode = S_FAILED;
    inf->failed_rc = code;
    fsg_error_set(err, code, "%s at byte %llu", what, (unsigned long long)inf->bytes_in);
    if (err != NULL) {
        err->offset = inf->bytes_in;
    }
    return code;
}

/* Bytes after a complete member that do not start another one. */
static enum fsg_err s_garbage(struct fsg_inflate *inf, struct fsg_error *err)
{
    inf->bytes_in = inf->member_start;
    return s_fail(inf, err, FSG_E_PARSE, "trailing garbage after the last gzip member");
}

/* The input seen next: kept magic bytes first, then the caller's chunk. */
static struct fsg_span *s_cur_input(struct fsg_inflate *inf)
{
    return inf->magic_in.len > 0 ? &inf->magic_in : &inf->in;
}

static void s_consume(struct fsg_inflate *inf, struct fsg_span *src, size_t n)
{
    if (n == 0) {
        return; /* src may be an empty span with a NULL pointer */
    }
    src->ptr += n;
    src->len -= n;
    inf->bytes_in += n;
}

/* ---- engines ------------------------------------------------------------------------------- */

static enum fsg_err s_start_body(struct fsg_inflate *inf, struct fsg_error *err)
{
    inf->phase = P_BODY;
    inf->body_crc = (uint32_t)crc32(0L, Z_NULL, 0);
    inf->member_out = 0;
#if FSG_HAVE_ISAL
    if (!inf->force_zlib) {
        if (inf->isal == NULL) {
            inf->isal = fsg_malloc(sizeof *inf->isal);
            if (inf->isal == NULL) {
                return s_fail(inf, err, FSG_E_NOMEM, "inflate: out of memory");
            }
        }
        isal_inflate_init(inf->isal);
        /* raw deflate, then ISA-L verifies the CRC-32/ISIZE trailer that follows it */
        inf->isal->crc_flag = ISAL_GZIP_NO_HDR_VER;
        inf->engine = S_ENGINE_ISAL;
        inf->engine_name = "isa-l";
        return FSG_OK;
    }
#endif
    int zrc =
        inf->zlib_ready ? inflateReset(&inf->z) : inflateInit2(&inf->z, S_ZLIB_RAW_WINDOW_BITS);
    if (zrc != Z_OK) {
        return s_fail(inf, err, zrc == Z_MEM_ERROR ? FSG_E_NOMEM : FSG_E_INTERNAL,
                      "inflate: cannot initialise zlib");
    }
    inf->zlib_ready = true;
    inf->engine = S_ENGINE_ZLIB;
    inf->engine_name = "zlib";
    return FSG_OK;
}

#if FSG_HAVE_ISAL
static const char *s_isal_error(int rc)
{
    switch (rc) {
    case ISAL_INVALID_BLOCK:
        return "corrupt gzip data (invalid deflate block)";
    case ISAL_INVALID_SYMBOL:
        return "corrupt gzip data (invalid deflate symbol)";
    case ISAL_INVALID_LOOKBACK:
        return "corrupt gzip data (invalid back-reference distance)";
    case ISAL_INCORRECT_CHECKSUM:
        return "corrupt gzip data (checksum or length mismatch)";
    default:
        return "corrupt gzip data";
    }
}

static enum fsg_err s_body_isal(struct fsg_inflate *inf, uint8_t *out, size_t cap, size_t *produced,
                                struct fsg_error *err)
{
    static uint8_t s_empty; /* ISA-L wants a valid pointer even with no input */
    struct fsg_span *src = s_cur_input(inf);
    size_t slice = src->len < S_MAX_SLICE ? src->len : S_MAX_SLICE;
    size_t out_slice = cap < S_MAX_SLICE ? cap : S_MAX_SLICE;
    struct inflate_state *st = inf->isal;

    st->next_in = slice > 0 ? (uint8_t *)(uintptr_t)src->ptr : &s_empty;
    st->avail_in = (uint32_t)slice;
    st->next_out = out;
    st->avail_out = (uint32_t)out_slice;
    int rc = isal_inflate(st);
    *produced = out_slice - st->avail_out;
    if (st->avail_in > slice) {
        /* On some errors ISA-L hands back bits it had buffered from earlier chunks. */
        uint64_t back = st->avail_in - slice;
        inf->bytes_in = back < inf->bytes_in ? inf->bytes_in - back : 0;
        return s_fail(inf, err, rc < 0 ? FSG_E_PARSE : FSG_E_INTERNAL,
                      rc < 0 ? s_isal_error(rc) : "inflate: ISA-L rewound its input");
    }
    s_consume(inf, src, slice - st->avail_in);
    if (rc < 0) {
        return s_fail(inf, err, FSG_E_PARSE, s_isal_error(rc));
    }
    if (st->block_state == ISAL_BLOCK_FINISH) {
        inf->phase = P_NONE;
        inf->members++;
    }
    return FSG_OK;
}
#endif

static enum fsg_err s_body_zlib(struct fsg_inflate *inf, uint8_t *out, size_t cap, size_t *produced,
                                struct fsg_error *err)
{
    struct fsg_span *src = s_cur_input(inf);
    size_t slice = src->len < S_MAX_SLICE ? src->len : S_MAX_SLICE;
    size_t out_slice = cap < S_MAX_SLICE ? cap : S_MAX_SLICE;

    inf->z.next_in = (Bytef *)(uintptr_t)src->ptr;
    inf->z.avail_in = (uInt)slice;
    inf->z.next_out = out;
    inf->z.avail_out = (uInt)out_slice;
    int zrc = inflate(&inf->z, Z_NO_FLUSH);
    s_consume(inf, src, slice - inf->z.avail_in);
    *produced = out_slice - inf->z.avail_out;
    inf->body_crc = (uint32_t)crc32(inf->body_crc, out, (uInt)*produced);
    inf->member_out += *produced;
    switch (zrc) {
    case Z_OK:
    case Z_BUF_ERROR: /* no progress possible: needs input */
        return FSG_OK;
    case Z_STREAM_END:
        inf->phase = P_TRAILER;
        inf->n_hdr = 0;
        return FSG_OK;
    case Z_MEM_ERROR:
        return s_fail(inf, err, FSG_E_NOMEM, "inflate: out of memory");
    default:
        return s_fail(inf, err, FSG_E_PARSE, "corrupt gzip data");
    }
}

static uint32_t s_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Collects bytes into inf->hdr up to `want`; true when complete. */
static bool s_collect(struct fsg_inflate *inf, struct fsg_span *src, size_t want)
{
    size_t n = want - inf->n_hdr;
    if (n > src->len) {
        n = src->len;
    }
    if (n == 0) {
        return inf->n_hdr == want; /* src may be an empty span with a NULL pointer */
    }
    memcpy(inf->hdr + inf->n_hdr, src->ptr, n);
    if ((inf->flg & S_FLG_FHCRC) != 0 && inf->phase != P_HCRC && inf->phase != P_TRAILER) {
        inf->hdr_crc = (uint32_t)crc32(inf->hdr_crc, src->ptr, (uInt)n);
    }
    inf->n_hdr += n;
    s_consume(inf, src, n);
    return inf->n_hdr == want;
}

/* zlib only: CRC-32 and ISIZE after the deflate data. */
static enum fsg_err s_trailer(struct fsg_inflate *inf, struct fsg_span *src, struct fsg_error *err)
{
    if (!s_collect(inf, src, S_GZ_TRAILER)) {
        return FSG_OK;
    }
    if (s_le32(inf->hdr) != inf->body_crc || s_le32(inf->hdr + 4) != (uint32_t)inf->member_out) {
        return s_fail(inf, err, FSG_E_PARSE, "corrupt gzip data (checksum or length mismatch)");
    }
    inf->phase = P_NONE;
    inf->members++;
    return FSG_OK;
}

/* ---- gzip header ------------------------------------------------------------------------- */

static enum fsg_err s_fixed_header(struct fsg_inflate *inf, struct fsg_error *err)
{
    if (inf->hdr[0] != s_gzip_magic[0] || inf->hdr[1] != s_gzip_magic[1]) {
        return inf->members > 0 ? s_garbage(inf, err)
                                : s_fail(inf, err, FSG_E_PARSE, "corrupt gzip data (bad magic)");
    }
    if (inf->hdr[2] != S_GZ_CM_DEFLATE) {
        return s_fail(inf, err, FSG_E_PARSE, "corrupt gzip data (unsupported compression method)");
    }
    inf->flg = inf->hdr[3];
    if ((inf->flg & S_FLG_RESERVED) != 0) {
        return s_fail(inf, err, FSG_E_PARSE, "corrupt gzip data (reserved header flags set)");
    }
    if ((inf->flg & S_FLG_FHCRC) != 0) {
        inf->hdr_crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), inf->hdr, S_GZ_FIXED);
    }
    return FSG_OK;
}

/* Skips a NUL-terminated header string; true once the NUL was consumed. */
static bool s_skip_string(struct fsg_inflate *inf, struct fsg_span *src)
{
    const uint8_t *nul = memchr(src->ptr, 0, src->len);
    size_t n = nul != NULL ? (size_t)(nul - src->ptr) + 1 : src->len;
    if ((inf->flg & S_FLG_FHCRC) != 0) {
        inf->hdr_crc = (uint32_t)crc32(inf->hdr_crc, src->ptr, (uInt)n);
    }
    s_consume(inf, src, n);
    return nul != NULL;
}

/* The phase after `p` given the header flags. */
static enum s_phase s_after(const struct fsg_inflate *inf, enum s_phase p)
{
    if (p < P_XLEN && (inf->flg & S_FLG_FEXTRA) != 0) {
        return P_XLEN;
    }
    if (p < P_NAME && (inf->flg & S_FLG_FNAME) != 0) {
        return P_NAME;
    }
    if (p < P_COMMENT && (inf->flg & S_FLG_FCOMMENT) != 0) {
        return P_COMMENT;
    }
    if (p < P_HCRC && (inf->flg & S_FLG_FHCRC) != 0) {
        return P_HCRC;
    }
    return P_BODY;
}

/* Advances through the header with what input there is. */
static enum fsg_err s_header(struct fsg_inflate *inf, struct fsg_error *err)
{
    struct fsg_span *src = s_cur_input(inf);
    while (src->len > 0 && inf->phase != P_BODY) {
        enum s_phase next = inf->phase;
        enum fsg_err rc = FSG_OK;
        switch (inf->phase) {
        case P_FIXED:
            if (s_collect(inf, src, S_GZ_FIXED)) {
                rc = s_fixed_header(inf, err);
                next = s_after(inf, P_FIXED);
                inf->n_hdr = 0;
            } else if (inf->members > 0 &&
                       memcmp(inf->hdr, s_gzip_magic, inf->n_hdr < 2 ? inf->n_hdr : 2) != 0) {
                rc = s_garbage(inf, err); /* short garbage: do not wait for ten bytes */
            }
            break;
        case P_XLEN:
            if (s_collect(inf, src, 2)) {
                inf->skip = (size_t)inf->hdr[0] | (size_t)inf->hdr[1] << 8;
                inf->n_hdr = 0;
                next = P_EXTRA;
            }
            break;
        case P_EXTRA: {
            size_t n = inf->skip < src->len ? inf->skip : src->len;
            if ((inf->flg & S_FLG_FHCRC) != 0) {
                inf->hdr_crc = (uint32_t)crc32(inf->hdr_crc, src->ptr, (uInt)n);
            }
            s_consume(inf, src, n);
            inf->skip -= n;
            next = inf->skip == 0 ? s_after(inf, P_EXTRA) : P_EXTRA;
            break;
        }
        case P_NAME:
        case P_COMMENT:
            next = s_skip_string(inf, src) ? s_after(inf, inf->phase) : inf->phase;
            break;
        case P_HCRC:
            if (s_collect(inf, src, 2)) {
                uint16_t want = (uint16_t)(inf->hdr[0] | inf->hdr[1] << 8);
                if (want != (uint16_t)inf->hdr_crc) {
                    rc = s_fail(inf, err, FSG_E_PARSE,
                                "corrupt gzip data (header checksum mismatch)");
                }
                next = P_BODY;
            }
            break;
        case P_NONE:
        case P_BODY:
        case P_TRAILER:
            return s_fail(inf, err, FSG_E_INTERNAL, "inflate: bad header state");
        }
        if (rc != FSG_OK) {
            return rc;
        }
        inf->phase = next;
    }
    return inf->phase == P_BODY ? s_start_body(inf, err) : FSG_OK;
}

/* ---- the stream -------------------------------------------------------------------------------
 */

/* Decides gzip or plain from the first two bytes, keeping them if chunks arrive one byte at a
 * time. Leaves mode at S_DETECT when more input is needed. */
static void s_detect(struct fsg_inflate *inf)
{
    if (inf->n_magic == 0 && inf->in.len >= 2) {
        inf->mode = memcmp(inf->in.ptr, s_gzip_magic, 2) == 0 ? S_GZIP : S_PLAIN;
    } else {
        while (inf->n_magic < 2 && inf->in.len > 0) {
            inf->magic[inf->n_magic++] = inf->in.ptr[0];
            inf->in.ptr++;
            inf->in.len--;
        }
        if (inf->n_magic < 2 && !inf->finished) {
            return;
        }
        bool gz = inf->n_magic == 2 && memcmp(inf->magic, s_gzip_magic, 2) == 0;
        inf->mode = gz ? S_GZIP : S_PLAIN;
        inf->magic_in = (struct fsg_span){ inf->magic, inf->n_magic };
    }
    inf->engine_name =
        inf->mode == S_GZIP ? (FSG_HAVE_ISAL && !inf->force_zlib ? "isa-l" : "zlib") : "plain";
}

static size_t s_read_plain(struct fsg_inflate *inf, uint8_t *out, size_t cap)
{
    size_t total = 0;
    while (total < cap) {
        struct fsg_span *src = s_cur_input(inf);
        if (src->len == 0) {
            break;
        }
        size_t n = src->len < cap - total ? src->len : cap - total;
        memcpy(out + total, src->ptr, n);
        s_consume(inf, src, n);
        total += n;
    }
    return total;
}

/* One step of the member state machine; *produced > 0 when output was written. */
static enum fsg_err s_step(struct fsg_inflate *inf, uint8_t *out, size_t cap, size_t *produced,
                           struct fsg_error *err)
{
    *produced = 0;
    switch (inf->phase) {
    case P_NONE:
        inf->member_start = inf->bytes_in;
        inf->phase = P_FIXED;
        inf->n_hdr = 0;
        inf->flg = 0;
        return FSG_OK;
    case P_BODY:
#if FSG_HAVE_ISAL
        if (inf->engine == S_ENGINE_ISAL) {
            return s_body_isal(inf, out, cap, produced, err);
        }
#endif
        return s_body_zlib(inf, out, cap, produced, err);
    case P_TRAILER:
        return s_trailer(inf, s_cur_input(inf), err);
    case P_FIXED:
    case P_XLEN:
    case P_EXTRA:
    case P_NAME:
    case P_COMMENT:
    case P_HCRC:
        break;
    }
    return s_header(inf, err);
}

static enum fsg_err s_read_gzip(struct fsg_inflate *inf, uint8_t *out, size_t cap, size_t *ret_len,
                                struct fsg_error *err)
{
    for (;;) {
        if (inf->phase == P_NONE && s_cur_input(inf)->len == 0) {
            break; /* between members: needs input, or the clean end */
        }
        uint64_t in_before = inf->bytes_in;
        enum s_phase phase_before = inf->phase;
        size_t produced = 0;
        enum fsg_err rc = s_step(inf, out, cap, &produced, err);
        if (rc != FSG_OK) {
            return rc;
        }
        if (produced > 0) {
            *ret_len = produced;
            return FSG_OK;
        }
        if (inf->bytes_in == in_before && inf->phase == phase_before) {
            break; /* starved: no output, no input taken, no state change */
        }
    }
    if (inf->finished && s_cur_input(inf)->len == 0) {
        if (inf->phase != P_NONE) {
            return s_fail(inf, err, FSG_E_PARSE, "premature end of gzip stream");
        }
        inf->mode = S_END;
    }
    *ret_len = 0;
    return FSG_OK;
}

enum fsg_err fsg_inflate_read(struct fsg_inflate *inf, uint8_t *out, size_t cap, size_t *ret_len,
                              struct fsg_error *err)
{
    *ret_len = 0;
    if (inf->mode == S_FAILED) {
        return fsg_error_set(err, inf->failed_rc, "inflate: used after an error");
    }
    if (inf->mode == S_DETECT) {
        s_detect(inf);
        if (inf->mode == S_DETECT) {
            return FSG_OK;
        }
    }
    if (inf->mode == S_END || cap == 0) {
        return FSG_OK;
    }
    if (inf->max_out != 0 && inf->max_out - inf->bytes_out < cap) {
        cap = (size_t)(inf->max_out - inf->bytes_out) + 1; /* one byte more reveals the excess */
    }
    size_t n = 0;
    if (inf->mode == S_PLAIN) {
        n = s_read_plain(inf, out, cap);
        if (n == 0 && inf->finished) {
            inf->mode = S_END;
        }
    } else {
        enum fsg_err rc = s_read_gzip(inf, out, cap, &n, err);
        if (rc != FSG_OK) {
            return rc;
        }
    }
    inf->bytes_out += n;
    if (inf->max_out != 0 && inf->bytes_out > inf->max_out) {
        return s_fail(inf, err, FSG_E_LIMIT, "decompressed output exceeds the limit");
    }
    *ret_len = n;
    return FSG_OK;
}
