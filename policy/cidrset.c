#include "policy/cidrset.h"

#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"

/* Addresses as numbers: IPv4 in the low 32 bits, IPv6 in all 128. */
__extension__ typedef unsigned __int128 s_u128;

#define S_U128_MAX (~(s_u128)0)

struct s_num_range {
    bool is_v6;
    s_u128 lo;
    s_u128 hi;
    uint32_t tag;
};

static s_u128 s_to_num(const struct fsg_ip *ip)
{
    s_u128 v = 0;
    for (size_t i = ip->is_v6 ? 0 : 12; i < 16; i++) {
        v = (v << 8) | ip->a[i];
    }
    return v;
}

static void s_from_num(s_u128 v, bool is_v6, struct fsg_ip *ret)
{
    static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    struct fsg_ip ip = { .is_v6 = is_v6 };
    for (int i = 15; i >= 0; i--) {
        ip.a[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
    if (!is_v6) {
        memcpy(ip.a, v4_mapped, sizeof v4_mapped);
    }
    *ret = ip;
}

static unsigned s_bits(bool is_v6)
{
    return is_v6 ? 128 : 32;
}

/* Host mask of a block of 2^k addresses (k <= 128). */
static s_u128 s_host_mask(unsigned k)
{
    return k >= 128 ? S_U128_MAX : (((s_u128)1 << k) - 1);
}

static int s_cmp_range(const void *pa, const void *pb)
{
    const struct fsg_cidrset_range *a = pa;
    const struct fsg_cidrset_range *b = pb;
    int r = fsg_ip_cmp(&a->first, &b->first);
    if (r == 0) {
        r = fsg_ip_cmp(&a->last, &b->last);
    }
    if (r == 0 && a->tag != b->tag) {
        r = a->tag < b->tag ? -1 : 1;
    }
    return r;
}

static enum fsg_err s_check_range(const struct fsg_ip *first, const struct fsg_ip *last)
{
    if (first->is_v6 != last->is_v6 || fsg_ip_cmp(first, last) > 0) {
        return FSG_E_INVALID_ARG;
    }
    return FSG_OK;
}

static enum fsg_err s_push(struct fsg_cidrset *s, const struct fsg_cidrset_range *r)
{
    struct fsg_cidrset_range *items = fsg_array_grow(s->items, &s->cap, s->len + 1,
                                                     sizeof *items, 8);
    if (items == NULL) {
        return FSG_E_NOMEM;
    }
    s->items = items;
    s->items[s->len++] = *r;
    return FSG_OK;
}

enum fsg_err fsg_cidrset_add_range(struct fsg_cidrset *s, const struct fsg_ip *first,
                                   const struct fsg_ip *last, uint32_t tag)
{
    enum fsg_err rc = s_check_range(first, last);
    if (rc != FSG_OK) {
        return rc;
    }
    return s_push(s, &(struct fsg_cidrset_range){ .first = *first, .last = *last, .tag = tag });
}

enum fsg_err fsg_cidrset_add_cidr(struct fsg_cidrset *s, const struct fsg_cidr *c, uint32_t tag)
{
    if (c->prefix > fsg_ip_max_prefix(&c->addr)) {
        return FSG_E_INVALID_ARG;
    }
    struct fsg_ip first;
    struct fsg_ip last;
    fsg_cidr_first(c, &first);
    fsg_cidr_last(c, &last);
    return fsg_cidrset_add_range(s, &first, &last, tag);
}

enum fsg_err fsg_cidrset_add_set(struct fsg_cidrset *s, const struct fsg_cidrset *src,
                                 uint32_t tag)
{
    for (size_t i = 0; i < src->len; i++) {
        struct fsg_cidrset_range r = src->items[i];
        r.tag = tag;
        enum fsg_err rc = s_push(s, &r);
        if (rc != FSG_OK) {
            return rc;
        }
    }
    return FSG_OK;
}

enum fsg_err fsg_cidrset_subtract_range(struct fsg_cidrset *s, const struct fsg_ip *first,
                                        const struct fsg_ip *last)
{
    enum fsg_err rc = s_check_range(first, last);
    if (rc != FSG_OK) {
        return rc;
    }
    bool v6 = first->is_v6;
    s_u128 a = s_to_num(first);
    s_u128 b = s_to_num(last);
    struct fsg_cidrset out = FSG_CIDRSET_INIT;
    for (size_t i = 0; i < s->len && rc == FSG_OK; i++) {
        const struct fsg_cidrset_range *r = &s->items[i];
        s_u128 lo = s_to_num(&r->first);
        s_u128 hi = s_to_num(&r->last);
        if (r->first.is_v6 != v6 || hi < a || lo > b) {
            rc = s_push(&out, r);
            continue;
        }
        struct fsg_cidrset_range part = { .tag = r->tag };
        if (lo < a) {
            part.first = r->first;
            s_from_num(a - 1, v6, &part.last);
            rc = s_push(&out, &part);
        }
        if (rc == FSG_OK && hi > b) {
            s_from_num(b + 1, v6, &part.first);
            part.last = r->last;
            rc = s_push(&out, &part);
        }
    }
    if (rc != FSG_OK) {
        fsg_cidrset_clean_up(&out);
        return rc;
    }
    fsg_cidrset_clean_up(s);
    *s = out;
    return FSG_OK;
}

enum fsg_err fsg_cidrset_subtract_cidr(struct fsg_cidrset *s, const struct fsg_cidr *c)
{
    if (c->prefix > fsg_ip_max_prefix(&c->addr)) {
        return FSG_E_INVALID_ARG;
    }
    struct fsg_ip first;
    struct fsg_ip last;
    fsg_cidr_first(c, &first);
    fsg_cidr_last(c, &last);
    return fsg_cidrset_subtract_range(s, &first, &last);
}

/* Sorted copy of the ranges as numbers. */
static enum fsg_err s_sorted_nums(const struct fsg_cidrset *s, struct s_num_range **ret)
{
    struct fsg_cidrset_range *copy = fsg_calloc(s->len > 0 ? s->len : 1, sizeof *copy);
    struct s_num_range *nums = fsg_calloc(s->len > 0 ? s->len : 1, sizeof *nums);
    if (copy == NULL || nums == NULL) {
        fsg_free(copy);
        fsg_free(nums);
        return FSG_E_NOMEM;
    }
    if (s->len > 0) {
        memcpy(copy, s->items, s->len * sizeof *copy);
        qsort(copy, s->len, sizeof *copy, s_cmp_range);
    }
    for (size_t i = 0; i < s->len; i++) {
        nums[i] = (struct s_num_range){ .is_v6 = copy[i].first.is_v6,
                                        .lo = s_to_num(&copy[i].first),
                                        .hi = s_to_num(&copy[i].last),
                                        .tag = copy[i].tag };
    }
    fsg_free(copy);
    *ret = nums;
    return FSG_OK;
}

/* Merges sorted ranges in place into their union; returns the new count. */
static size_t s_union(struct s_num_range *nums, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        struct s_num_range *cur = out > 0 ? &nums[out - 1] : NULL;
        /* Overlapping or adjacent (cur->hi + 1 == lo); hi == max absorbs everything after. */
        if (cur != NULL && cur->is_v6 == nums[i].is_v6 &&
            (cur->hi == S_U128_MAX || nums[i].lo <= cur->hi + 1)) {
            if (nums[i].hi > cur->hi) {
                cur->hi = nums[i].hi;
            }
            if (nums[i].tag < cur->tag) {
                cur->tag = nums[i].tag;
            }
            continue;
        }
        nums[out++] = nums[i];
    }
    return out;
}

enum fsg_err fsg_cidrset_normalize(struct fsg_cidrset *s)
{
    struct s_num_range *nums = NULL;
    enum fsg_err rc = s_sorted_nums(s, &nums);
    if (rc != FSG_OK) {
        return rc;
    }
    size_t n = s_union(nums, s->len);
    for (size_t i = 0; i < n; i++) {
        struct fsg_cidrset_range *r = &s->items[i];
        s_from_num(nums[i].lo, nums[i].is_v6, &r->first);
        s_from_num(nums[i].hi, nums[i].is_v6, &r->last);
        r->tag = nums[i].tag;
    }
    s->len = n;
    fsg_free(nums);
    return FSG_OK;
}

/* The first index in the sorted union u[0..n) whose family/hi is not below (v6, lo). */
static size_t s_first_not_below(const struct s_num_range *u, size_t n, bool v6, s_u128 lo)
{
    size_t a = 0;
    size_t b = n;
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        bool below = u[mid].is_v6 != v6 ? !u[mid].is_v6 && v6 : u[mid].hi < lo;
        if (below) {
            a = mid + 1;
        } else {
            b = mid;
        }
    }
    return a;
}

enum fsg_err fsg_cidrset_subtract_set(struct fsg_cidrset *s, const struct fsg_cidrset *other)
{
    if (other->len == 0 || s->len == 0) {
        return FSG_OK;
    }
    struct s_num_range *u = NULL;
    enum fsg_err rc = s_sorted_nums(other, &u);
    if (rc != FSG_OK) {
        return rc;
    }
    size_t n = s_union(u, other->len);
    struct fsg_cidrset out = FSG_CIDRSET_INIT;
    for (size_t i = 0; i < s->len && rc == FSG_OK; i++) {
        const struct fsg_cidrset_range *r = &s->items[i];
        bool v6 = r->first.is_v6;
        s_u128 lo = s_to_num(&r->first);
        s_u128 hi = s_to_num(&r->last);
        bool open = true; /* [lo, hi] still has a part to keep */
        for (size_t j = s_first_not_below(u, n, v6, lo);
             j < n && open && rc == FSG_OK && u[j].is_v6 == v6 && u[j].lo <= hi; j++) {
            if (u[j].lo > lo) {
                struct fsg_cidrset_range part = { .first = r->first, .tag = r->tag };
                s_from_num(lo, v6, &part.first);
                s_from_num(u[j].lo - 1, v6, &part.last);
                rc = s_push(&out, &part);
            }
            if (u[j].hi >= hi) {
                open = false;
            } else {
                lo = u[j].hi + 1;
            }
        }
        if (open && rc == FSG_OK) {
            struct fsg_cidrset_range part = { .tag = r->tag };
            s_from_num(lo, v6, &part.first);
            s_from_num(hi, v6, &part.last);
            rc = s_push(&out, &part);
        }
    }
    fsg_free(u);
    if (rc != FSG_OK) {
        fsg_cidrset_clean_up(&out);
        return rc;
    }
    fsg_cidrset_clean_up(s);
    *s = out;
    return FSG_OK;
}

enum fsg_err fsg_cidrset_copy(struct fsg_cidrset *s, const struct fsg_cidrset *src)
{
    for (size_t i = 0; i < src->len; i++) {
        enum fsg_err rc = s_push(s, &src->items[i]);
        if (rc != FSG_OK) {
            return rc;
        }
    }
    return FSG_OK;
}

bool fsg_cidrset_overlaps(const struct fsg_cidrset *a, const struct fsg_cidrset *b)
{
    for (size_t i = 0; i < a->len; i++) {
        const struct fsg_cidrset_range *x = &a->items[i];
        for (size_t j = 0; j < b->len; j++) {
            const struct fsg_cidrset_range *y = &b->items[j];
            if (x->first.is_v6 == y->first.is_v6 && fsg_ip_cmp(&x->first, &y->last) <= 0 &&
                fsg_ip_cmp(&y->first, &x->last) <= 0) {
                return true;
            }
        }
    }
    return false;
}

bool fsg_cidrset_contains_ip(const struct fsg_cidrset *s, const struct fsg_ip *ip)
{
    for (size_t i = 0; i < s->len; i++) {
        const struct fsg_cidrset_range *r = &s->items[i];
        if (r->first.is_v6 == ip->is_v6 && fsg_ip_cmp(&r->first, ip) <= 0 &&
            fsg_ip_cmp(ip, &r->last) <= 0) {
            return true;
        }
    }
    return false;
}

static enum fsg_err s_push_block(struct fsg_cidrset_blocks *b, const struct fsg_cidrset_block *blk)
{
    struct fsg_cidrset_block *items = fsg_array_grow(b->items, &b->cap, b->len + 1,
                                                     sizeof *items, 8);
    if (items == NULL) {
        return FSG_E_NOMEM;
    }
    b->items = items;
    b->items[b->len++] = *blk;
    return FSG_OK;
}

/* Greedy: at each step the largest aligned block that starts at lo and stays within hi.
 * This is the unique minimal cover of one interval. */
static enum fsg_err s_num_range_to_blocks(bool is_v6, s_u128 lo, s_u128 hi, uint32_t tag,
                                          struct fsg_cidrset_blocks *out)
{
    unsigned bits = s_bits(is_v6);
    for (;;) {
        unsigned k = 0;
        while (k < bits) {
            s_u128 m = s_host_mask(k + 1);
            if ((lo & m) != 0 || (lo | m) > hi) {
                break;
            }
            k++;
        }
        struct fsg_cidrset_block blk = { .cidr.prefix = (uint8_t)(bits - k), .tag = tag,
                                         .n_tags = 1 };
        s_from_num(lo, is_v6, &blk.cidr.addr);
        enum fsg_err rc = s_push_block(out, &blk);
        if (rc != FSG_OK) {
            return rc;
        }
        s_u128 end = lo | s_host_mask(k);
        if (end >= hi) {
            return FSG_OK;
        }
        lo = end + 1;
    }
}

enum fsg_err fsg_cidrset_range_to_blocks(const struct fsg_ip *first, const struct fsg_ip *last,
                                         uint32_t tag, struct fsg_cidrset_blocks *out)
{
    enum fsg_err rc = s_check_range(first, last);
    if (rc != FSG_OK) {
        return rc;
    }
    return s_num_range_to_blocks(first->is_v6, s_to_num(first), s_to_num(last), tag, out);
}

struct s_pair {
    size_t block;
    uint32_t tag;
};

static int s_cmp_pair(const void *pa, const void *pb)
{
    const struct s_pair *a = pa;
    const struct s_pair *b = pb;
    if (a->block != b->block) {
        return a->block < b->block ? -1 : 1;
    }
    return a->tag < b->tag ? -1 : a->tag > b->tag;
}

static s_u128 s_block_lo(const struct fsg_cidrset_block *b)
{
    return s_to_num(&b->cidr.addr);
}

static s_u128 s_block_hi(const struct fsg_cidrset_block *b)
{
    return s_block_lo(b) | s_host_mask(s_bits(b->cidr.addr.is_v6) - b->cidr.prefix);
}

/* Index of the first block of raw's family whose end is >= raw->lo. Blocks are sorted. */
static size_t s_first_block(const struct fsg_cidrset_blocks *b, const struct s_num_range *raw)
{
    size_t lo = 0;
    size_t hi = b->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct fsg_cidrset_block *blk = &b->items[mid];
        bool before = !blk->cidr.addr.is_v6 && raw->is_v6;
        if (before || (blk->cidr.addr.is_v6 == raw->is_v6 && s_block_hi(blk) < raw->lo)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Sets each block's smallest tag and count of distinct tags from the raw ranges overlapping it. */
static enum fsg_err s_provenance(struct fsg_cidrset_blocks *b, const struct s_num_range *raw,
                                 size_t n_raw)
{
    struct s_pair *pairs = NULL;
    size_t n = 0;
    size_t cap = 0;
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; i < n_raw && rc == FSG_OK; i++) {
        for (size_t j = s_first_block(b, &raw[i]); j < b->len; j++) {
            const struct fsg_cidrset_block *blk = &b->items[j];
            if (blk->cidr.addr.is_v6 != raw[i].is_v6 || s_block_lo(blk) > raw[i].hi) {
                break;
            }
            struct s_pair *p = fsg_array_grow(pairs, &cap, n + 1, sizeof *p, 16);
            if (p == NULL) {
                rc = FSG_E_NOMEM;
                break;
            }
            pairs = p;
            pairs[n++] = (struct s_pair){ .block = j, .tag = raw[i].tag };
        }
    }
    if (rc == FSG_OK) {
        if (n > 1) {
            qsort(pairs, n, sizeof *pairs, s_cmp_pair);
        }
        for (size_t i = 0; i < n; i++) {
            struct fsg_cidrset_block *blk = &b->items[pairs[i].block];
            if (i == 0 || pairs[i - 1].block != pairs[i].block) {
                blk->tag = pairs[i].tag;
                blk->n_tags = 1;
            } else if (pairs[i - 1].tag != pairs[i].tag) {
                blk->n_tags++;
            }
        }
    }
    fsg_free(pairs);
    return rc;
}

enum fsg_err fsg_cidrset_to_blocks(const struct fsg_cidrset *s, struct fsg_cidrset_blocks *ret)
{
    struct s_num_range *raw = NULL;
    struct s_num_range *merged = NULL;
    struct fsg_cidrset_blocks blocks = { 0 };
    enum fsg_err rc = s_sorted_nums(s, &raw);
    if (rc == FSG_OK) {
        rc = s_sorted_nums(s, &merged);
    }
    size_t n = rc == FSG_OK ? s_union(merged, s->len) : 0;
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        rc = s_num_range_to_blocks(merged[i].is_v6, merged[i].lo, merged[i].hi, 0, &blocks);
    }
    if (rc == FSG_OK) {
        rc = s_provenance(&blocks, raw, s->len);
    }
    if (rc == FSG_OK) {
        *ret = blocks;
        blocks = (struct fsg_cidrset_blocks){ 0 };
    }
    fsg_cidrset_blocks_clean_up(&blocks);
    fsg_free(merged);
    fsg_free(raw);
    return rc;
}

void fsg_cidrset_clean_up(struct fsg_cidrset *s)
{
    if (s == NULL) {
        return;
    }
    fsg_free(s->items);
    *s = FSG_CIDRSET_INIT;
}

void fsg_cidrset_blocks_clean_up(struct fsg_cidrset_blocks *b)
{
    if (b == NULL) {
        return;
    }
    fsg_free(b->items);
    *b = (struct fsg_cidrset_blocks){ 0 };
}
