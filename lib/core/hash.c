#include "lib/core/hash.h"

#include <string.h>

#include "lib/core/mem.h"

/* Slots are probed linearly; the table doubles before it is half full so probe runs stay short. */
#define S_DEFAULT_CAPACITY 64
#define S_DEFAULT_MAX_ENTRIES ((size_t)1 << 31)

/* Constants of the multiply-fold mixer (wyhash's primes): odd, with well-spread bits. */
#define S_K0 0xa0761d6478bd642fULL
#define S_K1 0xe7037ed1a0b428dbULL
#define S_K2 0x8ebc6af09c88c6e3ULL
#define S_K3 0x589965cc75374cc3ULL

struct s_slot {
    uint32_t tag; /* high half of the hash: most mismatches never touch the entry */
    uint32_t idx; /* entry index + 1; 0 = empty */
};

struct fsg_hash {
    size_t key_size;
    size_t value_offset; /* key_size rounded up to 8 */
    size_t stride;       /* bytes per entry, a multiple of 8 */
    size_t max_entries;
    uint8_t *entries;
    uint64_t *hashes; /* per entry, so growing the slot array never rehashes keys */
    size_t count;
    size_t cap;
    struct s_slot *slots;
    size_t mask; /* number of slots - 1 */
};

static size_t s_round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static uint64_t s_mix(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    __extension__ typedef unsigned __int128 s_u128;
    s_u128 r = (s_u128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t h = (a ^ (b >> 29)) * S_K2;
    return h ^ (h >> 32) ^ b;
#endif
}

static uint64_t s_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

uint64_t fsg_hash_bytes(const void *data, size_t len, uint64_t seed)
{
    const uint8_t *p = data;
    uint64_t h = seed ^ s_mix(seed ^ S_K0, (uint64_t)len ^ S_K1);
    while (len >= 16) {
        h = s_mix(s_load64(p) ^ S_K1, s_load64(p + 8) ^ h);
        p += 16;
        len -= 16;
    }
    uint64_t a = 0;
    uint64_t b = 0;
    if (len >= 8) {
        a = s_load64(p);
        p += 8;
        len -= 8;
    }
    for (size_t i = 0; i < len; i++) {
        b |= (uint64_t)p[i] << (8 * i);
    }
    h = s_mix(a ^ S_K2 ^ h, b ^ S_K3);
    return s_mix(h ^ S_K0, h ^ S_K1);
}

static size_t s_pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n) {
        p *= 2;
    }
    return p;
}

enum fsg_err fsg_hash_new(const struct fsg_hash_options *opts, struct fsg_hash **ret_hash,
                          struct fsg_error *err)
{
    if (opts == NULL || opts->key_size == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "hash table: key_size must be > 0");
    }
    struct fsg_hash *h = fsg_calloc(1, sizeof *h);
    if (h == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "hash table: out of memory");
    }
    h->key_size = opts->key_size;
    h->value_offset = s_round8(opts->key_size);
    h->stride = h->value_offset + s_round8(opts->value_size);
    h->max_entries = opts->max_entries != 0 ? opts->max_entries : S_DEFAULT_MAX_ENTRIES;
    if (h->max_entries > UINT32_MAX - 1) {
        h->max_entries = UINT32_MAX - 1;
    }
    size_t cap = opts->initial_capacity != 0 ? opts->initial_capacity : S_DEFAULT_CAPACITY;
    size_t nslots = s_pow2_at_least(cap * 2);
    h->cap = cap;
    h->entries = fsg_calloc(cap, h->stride);
    h->hashes = fsg_calloc(cap, sizeof *h->hashes);
    h->slots = fsg_calloc(nslots, sizeof *h->slots);
    h->mask = nslots - 1;
    if (h->entries == NULL || h->hashes == NULL || h->slots == NULL) {
        fsg_hash_destroy(h);
        return fsg_error_set(err, FSG_E_NOMEM, "hash table: out of memory");
    }
    *ret_hash = h;
    return FSG_OK;
}

void fsg_hash_destroy(struct fsg_hash *h)
{
    if (h == NULL) {
        return;
    }
    fsg_free(h->entries);
    fsg_free(h->hashes);
    fsg_free(h->slots);
    fsg_free(h);
}

static uint8_t *s_entry(const struct fsg_hash *h, size_t i)
{
    return h->entries + i * h->stride;
}

static void s_place(struct s_slot *slots, size_t mask, uint64_t hash, uint32_t idx)
{
    size_t i = (size_t)hash & mask;
    while (slots[i].idx != 0) {
        i = (i + 1) & mask;
    }
    slots[i] = (struct s_slot){ .tag = (uint32_t)(hash >> 32), .idx = idx };
}

static enum fsg_err s_grow_slots(struct fsg_hash *h)
{
    size_t nslots = (h->mask + 1) * 2;
    struct s_slot *slots = fsg_calloc(nslots, sizeof *slots);
    if (slots == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t i = 0; i < h->count; i++) {
        s_place(slots, nslots - 1, h->hashes[i], (uint32_t)(i + 1));
    }
    fsg_free(h->slots);
    h->slots = slots;
    h->mask = nslots - 1;
    return FSG_OK;
}

static enum fsg_err s_grow_entries(struct fsg_hash *h)
{
    size_t cap = h->cap * 2;
    uint8_t *entries = fsg_reallocarray(h->entries, cap, h->stride);
    if (entries == NULL) {
        return FSG_E_NOMEM;
    }
    h->entries = entries;
    uint64_t *hashes = fsg_reallocarray(h->hashes, cap, sizeof *hashes);
    if (hashes == NULL) {
        return FSG_E_NOMEM; /* entries merely has spare room now; the table is intact */
    }
    h->hashes = hashes;
    h->cap = cap;
    return FSG_OK;
}

/* Keys are short and usually a multiple of 8 bytes: word compares beat a memcmp call. */
static inline bool s_key_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
    if ((n & 7) != 0 || n > 64) {
        return memcmp(a, b, n) == 0;
    }
    uint64_t diff = 0;
    for (size_t i = 0; i < n; i += 8) {
        diff |= s_load64(a + i) ^ s_load64(b + i);
    }
    return diff == 0;
}

void *fsg_hash_find(const struct fsg_hash *h, const void *key, uint64_t hash)
{
    uint32_t tag = (uint32_t)(hash >> 32);
    for (size_t i = (size_t)hash & h->mask;; i = (i + 1) & h->mask) {
        struct s_slot s = h->slots[i];
        if (s.idx == 0) {
            return NULL;
        }
        if (s.tag == tag) {
            uint8_t *e = s_entry(h, s.idx - 1);
            if (s_key_eq(e, key, h->key_size)) {
                return e + h->value_offset;
            }
        }
    }
}

enum fsg_err fsg_hash_upsert(struct fsg_hash *h, const void *key, uint64_t hash, void **ret_value,
                             bool *ret_inserted)
{
    void *found = fsg_hash_find(h, key, hash);
    if (found != NULL) {
        *ret_value = found;
        if (ret_inserted != NULL) {
            *ret_inserted = false;
        }
        return FSG_OK;
    }
    if (h->count >= h->max_entries) {
        return FSG_E_LIMIT;
    }
    if (h->count == h->cap && s_grow_entries(h) != FSG_OK) {
        return FSG_E_NOMEM;
    }
    if ((h->count + 1) * 2 > h->mask + 1 && s_grow_slots(h) != FSG_OK) {
        return FSG_E_NOMEM;
    }
    uint8_t *e = s_entry(h, h->count);
    memset(e, 0, h->stride);
    memcpy(e, key, h->key_size);
    h->hashes[h->count] = hash;
    h->count++;
    s_place(h->slots, h->mask, hash, (uint32_t)h->count);
    *ret_value = e + h->value_offset;
    if (ret_inserted != NULL) {
        *ret_inserted = true;
    }
    return FSG_OK;
}

#if defined(__GNUC__) || defined(__clang__)
#define S_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define S_PREFETCH(p) ((void)(p))
#endif

void fsg_hash_prefetch_slot(const struct fsg_hash *h, uint64_t hash)
{
    S_PREFETCH(&h->slots[(size_t)hash & h->mask]);
}

void fsg_hash_prefetch_entry(const struct fsg_hash *h, uint64_t hash)
{
    struct s_slot s = h->slots[(size_t)hash & h->mask];
    if (s.idx != 0 && s.idx <= h->count) {
        const uint8_t *e = s_entry(h, s.idx - 1);
        S_PREFETCH(e);
        S_PREFETCH(e + h->stride - 1); /* an entry may straddle two cache lines */
    }
}

size_t fsg_hash_count(const struct fsg_hash *h)
{
    return h->count;
}

const void *fsg_hash_key_at(const struct fsg_hash *h, size_t i)
{
    return s_entry(h, i);
}

void *fsg_hash_value_at(const struct fsg_hash *h, size_t i)
{
    return s_entry(h, i) + h->value_offset;
}

uint64_t fsg_hash_hash_at(const struct fsg_hash *h, size_t i)
{
    return h->hashes[i];
}

void fsg_hash_truncate(struct fsg_hash *h, size_t n)
{
    /* Newest first: when the newest entry goes, every key inserted after it is gone already
     * and every older key was placed without it, so clearing its slot breaks no probe chain. */
    while (h->count > n) {
        uint32_t idx = (uint32_t)h->count;
        uint64_t hash = h->hashes[idx - 1];
        size_t i = (size_t)hash & h->mask;
        while (h->slots[i].idx != idx) {
            i = (i + 1) & h->mask;
        }
        h->slots[i] = (struct s_slot){ 0 };
        h->count--;
    }
}

void fsg_hash_clear(struct fsg_hash *h)
{
    memset(h->slots, 0, (h->mask + 1) * sizeof *h->slots);
    h->count = 0;
}

size_t fsg_hash_room(const struct fsg_hash *h)
{
    size_t by_entries = h->cap - h->count;
    size_t by_slots = (h->mask + 1) / 2 > h->count ? (h->mask + 1) / 2 - h->count : 0;
    return by_entries < by_slots ? by_entries : by_slots;
}

size_t fsg_hash_memory(const struct fsg_hash *h)
{
    return sizeof *h + h->cap * (h->stride + sizeof *h->hashes) + (h->mask + 1) * sizeof *h->slots;
}
