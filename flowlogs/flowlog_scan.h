/* Internal to flowlogs/flowlog.c: the byte-level scanners of the hot path.
 *
 * A line is scanned once for its spaces (16 bytes per step with SSE2, 8 with portable word
 * arithmetic elsewhere) into a bitmap; every token's end is then the next set bit, and each field
 * is decoded knowing its length: numbers of up to 8 digits with one multiply chain, IPv4 addresses
 * from digit and dot masks, all without a loop over characters and so without mispredicted
 * branches on the data.
 *
 * Every function may read up to FSG_SCAN_SLACK bytes past the end of the line it is given and
 * FSG_SCAN_FRONT bytes before it (never using them): callers keep that many readable bytes around
 * their buffer. */
#ifndef FSG_FLOWLOGS_FLOWLOG_SCAN_H
#define FSG_FLOWLOGS_FLOWLOG_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/core/buf.h"
#include "lib/core/ip.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Readable bytes needed after a line: the space scan reads whole 64-byte blocks (and the address
 * cache four words from a token's start). */
#define FSG_SCAN_SLACK 64
/* Readable bytes needed before a line: numbers are read as the 16 bytes that end with them. */
#define FSG_SCAN_FRONT 16

#define FSG_SCAN_ONES 0x0101010101010101ULL
#define FSG_SCAN_HIGHS 0x8080808080808080ULL

static inline uint64_t fsg_scan_load8(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* Per-byte tests without carries between bytes: the high bit of each byte is the answer. */
static inline uint64_t fsg_scan_eq8(uint64_t w, uint8_t c)
{
    uint64_t x = w ^ (FSG_SCAN_ONES * c);
    return ~(((x & (FSG_SCAN_ONES * 0x7f)) + FSG_SCAN_ONES * 0x7f) | x) & FSG_SCAN_HIGHS;
}

static inline uint64_t fsg_scan_digit8(uint64_t w)
{
    /* "hasbetween" of the bit-twiddling hacks: '0' - 1 < byte < '9' + 1, exact for every byte */
    uint64_t lo = w & (FSG_SCAN_ONES * 0x7f);
    return (FSG_SCAN_ONES * (127 + '9' + 1) - lo) & ~w & (lo + FSG_SCAN_ONES * (127 - ('0' - 1))) &
           FSG_SCAN_HIGHS;
}

/* The high bits of 8 bytes packed into 8 bits (bit i = byte i). */
static inline unsigned fsg_scan_pack8(uint64_t highs)
{
    return (unsigned)((highs * 0x02040810204081ULL) >> 56);
}

/* Spaces of 64 bytes at p as bits. */
static inline uint64_t fsg_scan_spaces64(const uint8_t *p)
{
#if defined(__SSE2__)
    const __m128i sp = _mm_set1_epi8(' ');
    uint64_t m = 0;
    for (int i = 0; i < 4; i++) {
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
        m |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(b, sp)) << (16 * i);
    }
    return m;
#else
    uint64_t m = 0;
    for (int i = 0; i < 8; i++) {
        m |= (uint64_t)fsg_scan_pack8(fsg_scan_eq8(fsg_scan_load8(p + 8 * i), ' ')) << (8 * i);
    }
    return m;
#endif
}

/* Spaces (returned) and newlines (*ret_nl) of 64 bytes at p as bits. */
static inline uint64_t fsg_scan_spaces_nl64(const uint8_t *p, uint64_t *ret_nl)
{
#if defined(__SSE2__)
    const __m128i sp = _mm_set1_epi8(' '), nl = _mm_set1_epi8('\n');
    uint64_t ms = 0, mn = 0;
    for (int i = 0; i < 4; i++) {
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
        ms |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(b, sp)) << (16 * i);
        mn |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(b, nl)) << (16 * i);
    }
    *ret_nl = mn;
    return ms;
#else
    uint64_t ms = 0, mn = 0;
    for (int i = 0; i < 8; i++) {
        uint64_t w = fsg_scan_load8(p + 8 * i);
        ms |= (uint64_t)fsg_scan_pack8(fsg_scan_eq8(w, ' ')) << (8 * i);
        mn |= (uint64_t)fsg_scan_pack8(fsg_scan_eq8(w, '\n')) << (8 * i);
    }
    *ret_nl = mn;
    return ms;
#endif
}

/* One pass over the line starting at p (avail bytes left in its block): the spaces into m as
 * fsg_scan_line() would (without the bits past the end: see fsg_scan_line_close()) and the
 * line's length up to its '\n' or the block's end. Gives up after max_words words (m's size less
 * one) and returns SIZE_MAX: the line is longer than that, find its end otherwise. */
static inline size_t fsg_scan_line_end(const uint8_t *p, size_t avail, uint64_t *m,
                                       size_t max_words)
{
    for (size_t i = 0; i < max_words; i++) {
        uint64_t nl;
        m[i] = fsg_scan_spaces_nl64(p + 64 * i, &nl);
        size_t base = 64 * i;
        if (nl != 0) {
            size_t pos = base + (unsigned)__builtin_ctzll(nl);
            return pos < avail ? pos : avail;
        }
        if (base + 64 >= avail) {
            return avail;
        }
    }
    return SIZE_MAX;
}

/* Completes a bitmap from fsg_scan_line_end() for a line of len bytes as fsg_scan_line() would
 * have it (bits from len on set, one more word all set). */
static inline void fsg_scan_line_close(uint64_t *m, size_t len)
{
    size_t words = (len + 63) / 64;
    if ((len & 63) != 0) {
        m[words - 1] |= ~0ULL << (len & 63);
    }
    m[words] = ~0ULL;
}

/* Fills m[0 .. len/64 + 1] with the line's space bitmap: bit i of m[i / 64] is set when byte i is
 * a space or i >= len (the end ends the last token). m needs len / 64 + 2 words. */
static inline void fsg_scan_line(const uint8_t *p, size_t len, uint64_t *m)
{
    size_t words = (len + 63) / 64;
    for (size_t i = 0; i < words; i++) {
        m[i] = fsg_scan_spaces64(p + 64 * i);
    }
    if ((len & 63) != 0) {
        m[words - 1] |= ~0ULL << (len & 63);
    }
    m[words] = ~0ULL;
}

static inline bool fsg_scan_is_space(const uint64_t *m, size_t pos)
{
    return ((m[pos >> 6] >> (pos & 63)) & 1) != 0;
}

/* ---- numbers ----------------------------------------------------------------------------------
 */

/* How many of the 8 bytes at p are ASCII digits in a row; each byte minus '0' in *ret_v. The first
 * non-digit byte gets its high bit from v >= 10 (v + 0x76 >= 0x80) or from v >= 0x80 itself;
 * digit bytes before it cannot carry into it. */
static inline unsigned fsg_scan_digits8(const uint8_t *p, uint64_t *ret_v)
{
    uint64_t v = fsg_scan_load8(p) ^ (FSG_SCAN_ONES * '0');
    uint64_t nd = ((v + FSG_SCAN_ONES * 0x76) | v) & FSG_SCAN_HIGHS;
    *ret_v = v;
    return nd != 0 ? (unsigned)__builtin_ctzll(nd) >> 3 : 8;
}

/* n (1..8) digit values (the first digit in the lowest byte) to a number, without a loop. */
static inline uint64_t fsg_scan_value8(uint64_t v, unsigned n)
{
    v <<= 8 * (8 - n); /* right-align: the low bytes become leading zeros */
    v = (v * 10 + (v >> 8)) & 0x00ff00ff00ff00ffULL;
    v = (v * 100 + (v >> 16)) & 0x0000ffff0000ffffULL;
    return (v * 10000 + (v >> 32)) & 0xffffffffULL;
}

#if defined(__SSE2__)
/* The n-byte token at t (1 <= n <= 16) as an unsigned decimal, in a few vector steps whatever its
 * length: the 16 bytes ending with the token, those before it masked off, then digit pairs,
 * quads and octets summed by pmaddwd (SSE2 only). False when a byte is not a digit. */
static inline bool fsg_scan_uint16(const uint8_t *t, size_t n, uint64_t *out)
{
    static const uint8_t s_ones[32] = { 0,    0,    0,    0,    0,    0,    0,    0,
                                        0,    0,    0,    0,    0,    0,    0,    0,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(t + n - 16));
    __m128i in = _mm_loadu_si128((const __m128i *)(const void *)(s_ones + n)); /* last n lanes */
    __m128i d = _mm_sub_epi8(x, _mm_set1_epi8('0'));
    __m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
    if (_mm_movemask_epi8(_mm_andnot_si128(digit, in)) != 0) {
        *out = 0;
        return false;
    }
    d = _mm_and_si128(d, in);
    const __m128i zero = _mm_setzero_si128();
    const __m128i w10 = _mm_set_epi16(1, 10, 1, 10, 1, 10, 1, 10);
    const __m128i w100 = _mm_set_epi16(1, 100, 1, 100, 1, 100, 1, 100);
    const __m128i w1e4 = _mm_set_epi16(1, 10000, 1, 10000, 1, 10000, 1, 10000);
    __m128i lo = _mm_madd_epi16(_mm_unpacklo_epi8(d, zero), w10); /* 2-digit groups, i32 */
    __m128i hi = _mm_madd_epi16(_mm_unpackhi_epi8(d, zero), w10);
    __m128i q = _mm_madd_epi16(_mm_packs_epi32(lo, hi), w100); /* 4-digit groups */
    __m128i r = _mm_madd_epi16(_mm_packs_epi32(q, q), w1e4);   /* 8-digit groups */
    uint64_t first8 = (uint32_t)_mm_cvtsi128_si32(r);
    uint64_t last8 = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(r, 4));
    *out = first8 * 100000000u + last8;
    return true;
}
#endif

/* The n-byte token at t (n >= 1) as an unsigned decimal no larger than max. */
static inline bool fsg_scan_uint(const uint8_t *t, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
#if defined(__SSE2__)
    if (n > 8 && n <= 16) {
        bool ok = fsg_scan_uint16(t, n, &v);
        *out = v;
        return ok && v <= max;
    }
#endif
    if (n <= 8) {
        if (fsg_scan_digits8(t, &v) < n) {
            return false;
        }
        uint64_t val = fsg_scan_value8(v, (unsigned)n);
        *out = val;
        return val <= max;
    }
    if (n > 16 || fsg_scan_digits8(t, &v) < 8) {
        /* 17 digits and more: rare enough for the general parser (19 still fit in 64 bits) */
        uint64_t big;
        if (n > 16 && fsg_span_to_u64((struct fsg_span){ t, n }, &big) == FSG_OK && big <= max) {
            *out = big;
            return true;
        }
        return false;
    }
    static const uint64_t pow10[9] = {
        1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000
    };
    uint64_t v2;
    unsigned n2 = (unsigned)n - 8;
    if (fsg_scan_digits8(t + 8, &v2) < n2) {
        return false;
    }
    uint64_t val = fsg_scan_value8(v, 8) * pow10[n2] + fsg_scan_value8(v2, n2);
    *out = val;
    return val <= max;
}

/* ---- addresses ----------------------------------------------------------------------------- */

/* One octet of 1..3 digits at p (known to be digits): its value, or 256 for a leading zero (as
 * inet_pton refuses them). */
static inline unsigned fsg_scan_octet(const uint8_t *p, unsigned len)
{
    uint32_t x;
    memcpy(&x, p, sizeof x);
    x = (x ^ 0x30303030u) << (32 - 8 * len); /* right-align: byte 0 becomes a leading zero */
    unsigned v = ((x >> 8) & 0xff) * 100 + ((x >> 16) & 0xff) * 10 + (x >> 24);
    return len > 1 && p[0] == '0' ? 256 : v;
}

/* The n-byte token at t as a dotted-quad IPv4 (what inet_pton accepts), in the IPv4-mapped form of
 * lib/core/ip.h. False when it is not one. */
static inline bool fsg_scan_ipv4(const uint8_t *t, size_t n, struct fsg_ip *out)
{
    if (n < 7 || n > 15) {
        return false;
    }
    uint64_t w0 = fsg_scan_load8(t), w1 = fsg_scan_load8(t + 8);
    unsigned in = (1u << n) - 1;
    unsigned digits =
        (fsg_scan_pack8(fsg_scan_digit8(w0)) | fsg_scan_pack8(fsg_scan_digit8(w1)) << 8) & in;
    unsigned dots =
        (fsg_scan_pack8(fsg_scan_eq8(w0, '.')) | fsg_scan_pack8(fsg_scan_eq8(w1, '.')) << 8) & in;
    /* only digits and exactly three dots (no popcount: a library call on baseline x86-64) */
    unsigned d23 = dots & (dots - 1);
    unsigned d3 = d23 & (d23 - 1);
    if ((digits | dots) != in || d3 == 0 || (d3 & (d3 - 1)) != 0) {
        return false;
    }
    unsigned p1 = (unsigned)__builtin_ctz(dots), p2 = (unsigned)__builtin_ctz(d23),
             p3 = (unsigned)__builtin_ctz(d3);
    unsigned l0 = p1, l1 = p2 - p1 - 1, l2 = p3 - p2 - 1, l3 = (unsigned)n - p3 - 1;
    if (l0 - 1 > 2 || l1 - 1 > 2 || l2 - 1 > 2 || l3 - 1 > 2) {
        return false; /* an empty octet, or more than three digits */
    }
    unsigned o0 = fsg_scan_octet(t, l0), o1 = fsg_scan_octet(t + p1 + 1, l1),
             o2 = fsg_scan_octet(t + p2 + 1, l2), o3 = fsg_scan_octet(t + p3 + 1, l3);
    if ((o0 | o1 | o2 | o3) > 255) {
        return false;
    }
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    memcpy(out->a, mapped, sizeof mapped);
    out->a[12] = (uint8_t)o0;
    out->a[13] = (uint8_t)o1;
    out->a[14] = (uint8_t)o2;
    out->a[15] = (uint8_t)o3;
    out->is_v6 = false;
    return true;
}

/* Addresses repeat (the ENI's own is in every record, its clients in most): tokens are looked up
 * by their bytes in direct-mapped caches before being parsed. IPv4 tokens (at most 15 bytes) in
 * 1024 slots of 24 bytes (24 KiB, two words compared); longer tokens up to 31 bytes (most IPv6) in
 * 512 slots of 56 bytes, only touched by IPv6 traffic. */
#define FSG_SCAN_V4_CACHE_BITS 10
#define FSG_SCAN_ADDR_CACHE_BITS 9
#define FSG_SCAN_ADDR_CACHE_MAX 31
struct fsg_scan_v4_slot {
    uint64_t k0, k1; /* the token's bytes, zero-padded */
    uint32_t addr;   /* the four address bytes, in order */
    uint32_t len;    /* 0 = empty (tokens are never empty) */
};
struct fsg_scan_addr_slot {
    uint64_t k[4]; /* the token's bytes, zero-padded */
    uint8_t len;   /* 0 = empty */
    struct fsg_ip ip;
};
struct fsg_scan_addr_cache {
    struct fsg_scan_v4_slot v4[1u << FSG_SCAN_V4_CACHE_BITS];
    struct fsg_scan_addr_slot slot[1u << FSG_SCAN_ADDR_CACHE_BITS];
};

static inline void fsg_scan_set_v4(struct fsg_ip *out, uint32_t addr)
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    memcpy(out->a, mapped, sizeof mapped);
    memcpy(out->a + 12, &addr, sizeof addr);
    out->is_v6 = false;
}

/* Tokens of 16 to 31 bytes, and IPv6 of any length. Out of line: the IPv4 path stays small. */
static __attribute__((noinline, unused)) bool
fsg_scan_addr_long(struct fsg_scan_addr_cache *c, const uint8_t *t, size_t n, struct fsg_ip *out)
{
    if (n > FSG_SCAN_ADDR_CACHE_MAX) {
        return fsg_ip_parse((struct fsg_span){ t, n }, out) == FSG_OK; /* long IPv6 */
    }
    uint64_t k[4] = { fsg_scan_load8(t), fsg_scan_load8(t + 8), 0, 0 };
    if (n <= 16) {
        k[0] &= n >= 8 ? ~0ULL : (1ULL << (8 * n)) - 1;
        k[1] &= n <= 8 ? 0 : n == 16 ? ~0ULL : (1ULL << (8 * (n - 8))) - 1;
    } else {
        k[2] = fsg_scan_load8(t + 16);
        k[3] = fsg_scan_load8(t + 24);
        k[2] &= n >= 24 ? ~0ULL : (1ULL << (8 * (n - 16))) - 1;
        k[3] &= n <= 24 ? 0 : (1ULL << (8 * (n - 24))) - 1; /* n <= 31 */
    }
    uint64_t h = ((k[0] * 0x9e3779b97f4a7c15ULL) ^ (k[1] * 0xc2b2ae3d27d4eb4fULL) ^
                  (k[2] * 0x27d4eb2f165667c5ULL) ^ k[3] ^ n) *
                 0x165667b19e3779f9ULL;
    struct fsg_scan_addr_slot *s = &c->slot[h >> (64 - FSG_SCAN_ADDR_CACHE_BITS)];
    if (s->len == n && s->k[0] == k[0] && s->k[1] == k[1] && s->k[2] == k[2] && s->k[3] == k[3]) {
        *out = s->ip;
        return true;
    }
    if (!fsg_scan_ipv4(t, n, out) && fsg_ip_parse((struct fsg_span){ t, n }, out) != FSG_OK) {
        return false;
    }
    *s = (struct fsg_scan_addr_slot){ .k = { k[0], k[1], k[2], k[3] },
                                      .len = (uint8_t)n,
                                      .ip = *out };
    return true;
}

/* The n-byte token at t (n >= 1) as an IPv4 or IPv6 address. */
static inline __attribute__((always_inline)) bool
fsg_scan_addr(struct fsg_scan_addr_cache *c, const uint8_t *t, size_t n, struct fsg_ip *out)
{
    if (n > 15) {
        return fsg_scan_addr_long(c, t, n, out);
    }
    uint64_t k0 = fsg_scan_load8(t), k1 = fsg_scan_load8(t + 8);
    k0 &= n >= 8 ? ~0ULL : ~(~0ULL << (8 * n));
    k1 &= n > 8 ? ~(~0ULL << (8 * (n - 8))) : 0;
    uint64_t h = (k0 * 0x9e3779b97f4a7c15ULL) ^ (k1 * 0xc2b2ae3d27d4eb4fULL);
    struct fsg_scan_v4_slot *s = &c->v4[h >> (64 - FSG_SCAN_V4_CACHE_BITS)];
    if (s->k0 == k0 && s->k1 == k1 && s->len == n) {
        fsg_scan_set_v4(out, s->addr);
        return true;
    }
    if (!fsg_scan_ipv4(t, n, out)) {
        return fsg_scan_addr_long(c, t, n, out); /* a short IPv6 such as fe80::1 */
    }
    *s = (struct fsg_scan_v4_slot){ .k0 = k0, .k1 = k1, .len = (uint32_t)n };
    memcpy(&s->addr, out->a + 12, sizeof s->addr);
    return true;
}

#endif
