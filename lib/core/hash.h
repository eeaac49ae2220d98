/* An open-addressing hash table for the hot path: fixed-size keys and values stored inline,
 * the caller's precomputed hash, no per-insert allocation once the table has grown.
 *
 * Layout: entries (key bytes, then value bytes, each padded to 8) live densely in one array in
 * insertion order; a power-of-two slot array holds (hash tag, entry index) pairs probed linearly.
 * The load factor stays at or below 1/2, so a miss usually costs one or two slot reads.
 *
 *     struct fsg_hash *h = NULL;
 *     struct fsg_hash_options o = { .key_size = sizeof(struct k), .value_size = sizeof(struct v) };
 *     rc = fsg_hash_new(&o, &h, err);
 *     ...
 *     uint64_t hv = fsg_hash_bytes(&key, sizeof key, 0);
 *     struct v *val;
 *     bool inserted;
 *     rc = fsg_hash_upsert(h, &key, hv, (void **)&val, &inserted);   (value zeroed when inserted)
 *     val->count++;
 *     ...
 *     fsg_hash_destroy(h);
 *
 * Not thread-safe: use one table per thread and merge (fsg_hash_key_at/value_at iterate). */
#ifndef FSG_LIB_HASH_H
#define FSG_LIB_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/error.h"

struct fsg_hash;

struct fsg_hash_options {
    size_t key_size;         /* bytes compared with memcmp; > 0 */
    size_t value_size;       /* bytes of caller data per entry; may be 0 */
    size_t initial_capacity; /* expected entries; 0 = 64 */
    size_t max_entries;      /* upsert of a new key beyond this -> FSG_E_LIMIT; 0 = 2^31 */
};

/* Creates an empty table. Caller owns *ret_hash (fsg_hash_destroy). FSG_E_INVALID_ARG on a zero
 * key size, FSG_E_NOMEM. */
enum fsg_err fsg_hash_new(const struct fsg_hash_options *opts, struct fsg_hash **ret_hash,
                          struct fsg_error *err) FSG_MUST_USE;

void fsg_hash_destroy(struct fsg_hash *h); /* NULL ok */

/* A fast, well-mixed 64-bit hash of len bytes (not cryptographic: do not key it on secrets). */
uint64_t fsg_hash_bytes(const void *data, size_t len, uint64_t seed);

/* Finds `key` (key_size bytes, borrowed) whose hash is `hash`, or inserts it with a zeroed value.
 * *ret_value points into the table: valid until the next upsert or clear. *ret_inserted (may be
 * NULL) tells whether the key is new. The same key must always come with the same hash.
 * FSG_E_LIMIT past max_entries, FSG_E_NOMEM when growing fails (the table is left unchanged). */
enum fsg_err fsg_hash_upsert(struct fsg_hash *h, const void *key, uint64_t hash, void **ret_value,
                             bool *ret_inserted) FSG_MUST_USE;

/* The value of `key`, or NULL. Borrowed: valid until the next upsert or clear. */
void *fsg_hash_find(const struct fsg_hash *h, const void *key, uint64_t hash);

/* Prefetch hints for pipelined lookups; they change nothing. Issue the slot hint for a hash, do
 * other work, then the entry hint (which reads the slot: by then it is in cache), then upsert.
 * Each hides one cache miss of the upsert. */
void fsg_hash_prefetch_slot(const struct fsg_hash *h, uint64_t hash);
void fsg_hash_prefetch_entry(const struct fsg_hash *h, uint64_t hash);

size_t fsg_hash_count(const struct fsg_hash *h);

/* Entry i (0 <= i < count) in insertion order. Borrowed: valid until the next upsert or clear. */
const void *fsg_hash_key_at(const struct fsg_hash *h, size_t i);
void *fsg_hash_value_at(const struct fsg_hash *h, size_t i);
uint64_t fsg_hash_hash_at(const struct fsg_hash *h, size_t i);

/* Removes the entries inserted last, keeping the first n (insertion order); values of the kept
 * entries are untouched. O(entries removed). n >= count changes nothing. */
void fsg_hash_truncate(struct fsg_hash *h, size_t n);

/* Removes every entry and keeps the memory. */
void fsg_hash_clear(struct fsg_hash *h);

/* New keys that fit before the table grows (its memory then about doubles). */
size_t fsg_hash_room(const struct fsg_hash *h);

/* Bytes held by the table (for memory accounting in tests and benchmarks). */
size_t fsg_hash_memory(const struct fsg_hash *h);

#endif
