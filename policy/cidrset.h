/* Exact address sets for security-group sources.
 *
 * Ranges and CIDR blocks go in, exclusions are subtracted, and the result comes out as the
 * minimal list of CIDR blocks holding exactly the same addresses: overlapping, contained and
 * adjacent inputs merge, nothing outside the inputs is ever added (no widening). IPv4 and
 * IPv6 never mix (::ffff:10.0.0.1 written as IPv6 is not 10.0.0.1).
 *
 * Every input range carries a tag, a number the caller chooses (the compiler uses the rank of
 * the PCE rule href), so each output block can say where it came from even when blocks of
 * several rules merge into one. Plain data: a zeroed struct is an empty set. */
#ifndef FSG_POLICY_CIDRSET_H
#define FSG_POLICY_CIDRSET_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/error.h"
#include "lib/core/ip.h"

/* One input range, inclusive at both ends, one family. */
struct fsg_cidrset_range {
    struct fsg_ip first;
    struct fsg_ip last;
    uint32_t tag;
};

/* The ranges as added (not merged); order is the order of insertion until normalised. */
struct fsg_cidrset {
    struct fsg_cidrset_range *items;
    size_t len;
    size_t cap;
};

#define FSG_CIDRSET_INIT ((struct fsg_cidrset){ NULL, 0, 0 })

/* One output block. */
struct fsg_cidrset_block {
    struct fsg_cidr cidr;
    uint32_t tag;    /* the smallest tag of the input ranges overlapping this block */
    uint32_t n_tags; /* how many distinct tags overlap it (>= 1) */
};

struct fsg_cidrset_blocks {
    struct fsg_cidrset_block *items; /* IPv4 blocks first, then IPv6, each in address order */
    size_t len;
    size_t cap;
};

/* Adds [first, last]. FSG_E_INVALID_ARG when the families differ or first > last. */
enum fsg_err fsg_cidrset_add_range(struct fsg_cidrset *s, const struct fsg_ip *first,
                                   const struct fsg_ip *last, uint32_t tag) FSG_MUST_USE;
enum fsg_err fsg_cidrset_add_cidr(struct fsg_cidrset *s, const struct fsg_cidr *c,
                                  uint32_t tag) FSG_MUST_USE;
/* Adds every range of src with the given tag (src's own tags are replaced). */
enum fsg_err fsg_cidrset_add_set(struct fsg_cidrset *s, const struct fsg_cidrset *src,
                                 uint32_t tag) FSG_MUST_USE;

/* Removes [first, last] from every range (splitting ranges as needed). Only ranges of the
 * same family are affected. FSG_E_INVALID_ARG as for add_range. */
enum fsg_err fsg_cidrset_subtract_range(struct fsg_cidrset *s, const struct fsg_ip *first,
                                        const struct fsg_ip *last) FSG_MUST_USE;
enum fsg_err fsg_cidrset_subtract_cidr(struct fsg_cidrset *s,
                                       const struct fsg_cidr *c) FSG_MUST_USE;

/* Removes from s every address of other (the exact set difference s \ other): ranges are split
 * where needed, each piece keeps its tag, nothing is ever added. other is unchanged. */
enum fsg_err fsg_cidrset_subtract_set(struct fsg_cidrset *s,
                                      const struct fsg_cidrset *other) FSG_MUST_USE;

/* Appends every range of src to s, tags kept. */
enum fsg_err fsg_cidrset_copy(struct fsg_cidrset *s, const struct fsg_cidrset *src) FSG_MUST_USE;

/* Rewrites s as its union: sorted, disjoint, non-adjacent ranges, each tagged with the smallest
 * tag that covered it. Per-range provenance beyond the smallest tag is lost; use it on sets that
 * carry a single tag (a cached ip list) to keep them small. */
enum fsg_err fsg_cidrset_normalize(struct fsg_cidrset *s) FSG_MUST_USE;

/* True when a and b share an address. */
bool fsg_cidrset_overlaps(const struct fsg_cidrset *a, const struct fsg_cidrset *b);

/* True when ip is in the set. */
bool fsg_cidrset_contains_ip(const struct fsg_cidrset *s, const struct fsg_ip *ip);

/* The exact minimal CIDR cover of the set. On success the caller owns *ret
 * (fsg_cidrset_blocks_clean_up); on failure *ret is untouched. */
enum fsg_err fsg_cidrset_to_blocks(const struct fsg_cidrset *s,
                                   struct fsg_cidrset_blocks *ret) FSG_MUST_USE;

/* Appends the minimal CIDR cover of [first, last] (one family, first <= last) to out;
 * at most 2 * 128 blocks. */
enum fsg_err fsg_cidrset_range_to_blocks(const struct fsg_ip *first, const struct fsg_ip *last,
                                         uint32_t tag, struct fsg_cidrset_blocks *out) FSG_MUST_USE;

void fsg_cidrset_clean_up(struct fsg_cidrset *s);               /* NULL ok, idempotent */
void fsg_cidrset_blocks_clean_up(struct fsg_cidrset_blocks *b); /* NULL ok, idempotent */

#endif
