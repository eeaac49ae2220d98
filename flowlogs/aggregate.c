/* Per-ENI aggregation: interning, the hot-path fold of records, merging. */
#include "flowlogs/aggregate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowlogs/aggregate_internal.h"
#include "flowlogs/direction.h"
#include "flowlogs/direction_internal.h"
#include "lib/core/hash.h"
#include "lib/core/mem.h"

/* 16 Mi keys is about 1.3 GiB of table: far beyond any real per-ENI connection set. */
#define S_DEFAULT_MAX_ENTRIES ((size_t)16 << 20)
/* First table size: a small object has a few hundred keys. */
#define S_INITIAL_ENTRIES 1024
/* A sibling (an object's private table) starts at the size its target has reached, up to this
 * many keys (about 4 MiB): objects of one run look alike, and a table that grows key by key
 * rehashes itself several times per object. Capped so that a small object next to a large
 * table does not reserve a large one. */
#define S_SIBLING_MAX_HINT ((size_t)1 << 16)

/* Multiply-fold constants (wyhash's): odd, with well-spread bits. */
#define S_K0 0xa0761d6478bd642fULL
#define S_K1 0xe7037ed1a0b428dbULL
#define S_K2 0x8ebc6af09c88c6e3ULL
#define S_K3 0x589965cc75374cc3ULL

static inline uint64_t s_fold(uint64_t a, uint64_t b)
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

/* The key's hash: two independent multiplies, then one to mix them (cheaper than the generic
 * fsg_hash_bytes on the hot path; every user of the flow table must use this one). */
static inline uint64_t s_key_hash(const struct fsg_agg_key *k)
{
    uint64_t w[4];
    memcpy(w, k->a, 2 * sizeof w[0]);
    memcpy(w + 2, k->b, 2 * sizeof w[0]);
    /* the small fields as read, not as one word over them (which would stall on store forwarding
     * right after they were written) */
    uint64_t tail = (uint64_t)k->eni | (uint64_t)k->port << 32 | (uint64_t)k->proto << 48 |
                    (uint64_t)k->flags << 56;
    uint64_t h = s_fold(w[0] ^ S_K0, w[1] ^ S_K1) ^ s_fold(w[2] ^ S_K2, w[3] ^ S_K3);
    return s_fold(h ^ tail, S_K1 ^ (h >> 17));
}

/* The compact key's hash: one multiply. */
static inline uint64_t s_key4_hash(uint64_t w0, uint64_t w1)
{
    return s_fold(w0 ^ S_K0, w1 ^ S_K1);
}

/* The compact key's words (aggregate_internal.h). */
static inline uint64_t s_key4_w0(const uint8_t a[16], const uint8_t b[16])
{
    uint32_t x, y;
    memcpy(&x, a + 12, sizeof x);
    memcpy(&y, b + 12, sizeof y);
    return (uint64_t)x | (uint64_t)y << 32;
}

static inline uint64_t s_key4_w1(uint32_t eni, uint16_t port, uint8_t proto, unsigned flags)
{
    return (uint64_t)eni | (uint64_t)port << 32 | (uint64_t)proto << 48 | (uint64_t)flags << 56;
}

static enum fsg_err s_error_of(const struct fsg_aggregate *agg, enum fsg_err rc,
                               struct fsg_error *err);

static enum fsg_err s_copy_hints(struct fsg_aggregate *agg, const struct fsg_aggregate_options *o)
{
    if (o->n_hints == 0) {
        return FSG_OK;
    }
    agg->hints = fsg_calloc(o->n_hints, sizeof *agg->hints);
    if (agg->hints == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t i = 0; i < o->n_hints; i++) {
        const struct fsg_eni_hint *h = &o->hints[i];
        struct fsg_agg_hint *t = &agg->hints[agg->n_hints++];
        snprintf(t->eni, sizeof t->eni, "%s", h->eni != NULL ? h->eni : "-");
        t->service_port = h->service_port;
        agg->has_service_ports = agg->has_service_ports || h->service_port != 0;
        if (h->n_addrs > 0) {
            t->addrs = fsg_calloc(h->n_addrs, sizeof *t->addrs);
            if (t->addrs == NULL) {
                return FSG_E_NOMEM;
            }
            memcpy(t->addrs, h->addrs, h->n_addrs * sizeof *t->addrs);
            t->n_addrs = h->n_addrs;
        }
    }
    return FSG_OK;
}

static enum fsg_err s_new(const struct fsg_aggregate_options *opts, size_t initial_entries,
                          struct fsg_aggregate **ret_agg, struct fsg_error *err)
{
    struct fsg_aggregate_options o = opts != NULL ? *opts : (struct fsg_aggregate_options){ 0 };
    enum fsg_err rc = FSG_E_NOMEM;
    struct fsg_aggregate *agg = fsg_calloc(1, sizeof *agg);
    if (agg == NULL) {
        goto fail;
    }
    /* the limit is checked by the aggregator over both tables */
    struct fsg_hash_options fo4 = { .key_size = sizeof(struct fsg_agg_key4),
                                    .value_size = sizeof(struct fsg_agg_val),
                                    .initial_capacity = initial_entries };
    struct fsg_hash_options fo = { .key_size = sizeof(struct fsg_agg_key),
                                   .value_size = sizeof(struct fsg_agg_val) };
    struct fsg_hash_options no = { .key_size = FSG_ENI_ID_MAX, .value_size = sizeof(uint32_t) };
    if (fsg_hash_new(&fo4, &agg->flows4, NULL) != FSG_OK ||
        fsg_hash_new(&fo, &agg->flows, NULL) != FSG_OK ||
        fsg_hash_new(&no, &agg->names, NULL) != FSG_OK || s_copy_hints(agg, &o) != FSG_OK) {
        goto fail;
    }
    agg->max_entries = o.max_entries;
    agg->limit = o.max_entries != 0 ? o.max_entries : S_DEFAULT_MAX_ENTRIES;
    fsg_agg_update_check(agg);
    *ret_agg = agg;
    return FSG_OK;
fail:
    fsg_aggregate_destroy(agg);
    return fsg_error_set(err, rc, "flow aggregation: out of memory");
}

enum fsg_err fsg_aggregate_new(const struct fsg_aggregate_options *opts,
                               struct fsg_aggregate **ret_agg, struct fsg_error *err)
{
    return s_new(opts, S_INITIAL_ENTRIES, ret_agg, err);
}

static enum fsg_err s_sibling(const struct fsg_aggregate *like, bool small,
                              struct fsg_aggregate **ret_agg, struct fsg_error *err)
{
    struct fsg_eni_hint *hints = fsg_calloc(like->n_hints + 1, sizeof *hints);
    if (hints == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "flow aggregation: out of memory");
    }
    for (size_t i = 0; i < like->n_hints; i++) {
        const struct fsg_agg_hint *h = &like->hints[i];
        hints[i] = (struct fsg_eni_hint){
            .eni = h->eni, .addrs = h->addrs, .n_addrs = h->n_addrs, .service_port = h->service_port
        };
    }
    struct fsg_aggregate_options o = { .hints = hints,
                                       .n_hints = like->n_hints,
                                       .max_entries = like->max_entries };
    size_t hint = small ? 0 : fsg_hash_count(like->flows4);
    hint = hint < S_INITIAL_ENTRIES ? S_INITIAL_ENTRIES
           : hint > S_SIBLING_MAX_HINT ? S_SIBLING_MAX_HINT
                                       : hint;
    enum fsg_err rc = s_new(&o, hint, ret_agg, err);
    fsg_free(hints);
    if (rc == FSG_OK) { /* the same store (not owned) and budget */
        (*ret_agg)->spill = like->spill;
        (*ret_agg)->memory = like->memory;
        fsg_agg_update_check(*ret_agg);
    }
    return rc;
}

enum fsg_err fsg_aggregate_new_sibling(const struct fsg_aggregate *like,
                                       struct fsg_aggregate **ret_agg, struct fsg_error *err)
{
    return s_sibling(like, false, ret_agg, err);
}

enum fsg_err fsg_aggregate_new_sibling_small(const struct fsg_aggregate *like,
                                             struct fsg_aggregate **ret_agg,
                                             struct fsg_error *err)
{
    return s_sibling(like, true, ret_agg, err);
}

void fsg_aggregate_destroy(struct fsg_aggregate *agg)
{
    if (agg == NULL) {
        return;
    }
    fsg_hash_destroy(agg->flows4);
    fsg_hash_destroy(agg->flows);
    fsg_hash_destroy(agg->names);
    for (size_t i = 0; i < agg->n_hints; i++) {
        fsg_free(agg->hints[i].addrs);
    }
    fsg_free(agg->hints);
    fsg_free(agg->enis);
    fsg_free(agg->undo);
    if (agg->owns_spill) {
        fsg_spill_destroy(agg->spill);
    }
    fsg_free(agg);
}

enum fsg_err fsg_aggregate_set_memory(struct fsg_aggregate *agg, size_t bytes,
                                      struct fsg_error *err)
{
    if (bytes != 0 && agg->spill == NULL) {
        enum fsg_err rc = fsg_spill_new(&agg->spill, err);
        if (rc != FSG_OK) {
            return rc;
        }
        agg->owns_spill = true;
    }
    agg->memory = bytes;
    fsg_agg_update_check(agg);
    return FSG_OK;
}

size_t fsg_aggregate_memory(const struct fsg_aggregate *agg)
{
    return agg->memory;
}

bool fsg_aggregate_object_spilled(const struct fsg_aggregate *agg)
{
    return agg->obj_spilled;
}

size_t fsg_aggregate_table_bytes(const struct fsg_aggregate *agg)
{
    return fsg_hash_memory(agg->flows4) + fsg_hash_memory(agg->flows);
}

size_t fsg_aggregate_spilled_runs(const struct fsg_aggregate *agg)
{
    return agg->spill != NULL ? fsg_spill_runs(agg->spill) : 0;
}

enum fsg_err fsg_aggregate_status(const struct fsg_aggregate *agg, struct fsg_error *err)
{
    return agg->broken == FSG_OK ? FSG_OK : s_error_of(agg, agg->broken, err);
}

uint64_t fsg_aggregate_spilled_rows(const struct fsg_aggregate *agg)
{
    return agg->spill != NULL ? fsg_spill_rows_written(agg->spill) : 0;
}

enum fsg_err fsg_aggregate_spill(struct fsg_aggregate *agg, struct fsg_error *err)
{
    enum fsg_err rc = fsg_aggregate_status(agg, err);
    if (rc == FSG_OK) {
        rc = fsg_aggregate_flush(agg, err);
    }
    if (rc == FSG_OK && agg->spill != NULL && fsg_aggregate_entries(agg) > 0) {
        rc = fsg_agg_spill(agg);
        if (rc != FSG_OK) {
            return s_error_of(agg, rc, err);
        }
    }
    return rc;
}

static const struct fsg_agg_hint *s_find_hint(const struct fsg_aggregate *agg, const char *name)
{
    for (size_t i = 0; i < agg->n_hints; i++) {
        if (strcmp(agg->hints[i].eni, name) == 0) {
            return &agg->hints[i];
        }
    }
    return NULL;
}

static enum fsg_err s_intern_slow(struct fsg_aggregate *agg, const char key[FSG_ENI_ID_MAX],
                                  size_t len, uint32_t *ret_id)
{
    if (agg->n_enis == agg->cap_enis) {
        size_t cap = agg->cap_enis == 0 ? 16 : agg->cap_enis * 2;
        struct fsg_agg_eni *enis = fsg_reallocarray(agg->enis, cap, sizeof *enis);
        if (enis == NULL) {
            return FSG_E_NOMEM;
        }
        agg->enis = enis;
        agg->cap_enis = cap;
    }
    uint32_t *id;
    bool inserted;
    enum fsg_err rc = fsg_hash_upsert(agg->names, key, fsg_hash_bytes(key, FSG_ENI_ID_MAX, 0),
                                      (void **)&id, &inserted);
    if (rc != FSG_OK) {
        return rc;
    }
    if (inserted) {
        struct fsg_agg_eni *e = &agg->enis[agg->n_enis];
        memcpy(e->name, key, FSG_ENI_ID_MAX);
        e->len = len;
        e->hint = s_find_hint(agg, key);
        e->service_port = e->hint != NULL ? e->hint->service_port : 0;
        *id = (uint32_t)agg->n_enis++;
    }
    *ret_id = *id;
    return FSG_OK;
}

static uint64_t s_load8(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* The NUL-padded name as four words (w zeroed by the caller, len < FSG_ENI_ID_MAX), reading only
 * inside the name: the last partial word comes from the 8 bytes ending at the name's end. The
 * branches depend on the length only, which is the same for every ENI id. */
static inline void s_name_words(const uint8_t *p, size_t len, uint64_t w[FSG_ENI_ID_MAX / 8])
{
    if (len < 8) {
        memcpy(w, p, len);
        return;
    }
    size_t full = len / 8, rest = len % 8;
    w[0] = s_load8(p);
    if (full > 1) {
        w[1] = s_load8(p + 8);
    }
    if (full > 2) {
        w[2] = s_load8(p + 16);
    }
    if (rest != 0) {
        w[full] = s_load8(p + len - 8) >> (8 * (8 - rest)); /* little endian: the last bytes */
    }
}

static enum fsg_err s_intern(struct fsg_aggregate *agg, struct fsg_span name, uint32_t *ret_id)
{
    size_t len = name.len < FSG_ENI_ID_MAX ? name.len : FSG_ENI_ID_MAX - 1;
    union {
        char c[FSG_ENI_ID_MAX];
        uint64_t w[FSG_ENI_ID_MAX / 8];
    } key = { .w = { 0 } };
    s_name_words(name.ptr, len, key.w);
    uint64_t h = (key.w[0] ^ key.w[1] * S_K0 ^ key.w[2] * S_K1 ^ key.w[3]) * S_K2;
    struct fsg_agg_icache *c = &agg->icache[h >> 56];
    if (c->id_plus_1 != 0 && c->w[0] == key.w[0] && c->w[1] == key.w[1] && c->w[2] == key.w[2] &&
        c->w[3] == key.w[3]) {
        *ret_id = c->id_plus_1 - 1;
        return FSG_OK;
    }
    enum fsg_err rc = s_intern_slow(agg, key.c, len, ret_id);
    if (rc == FSG_OK) {
        memcpy(c->w, key.w, sizeof c->w);
        c->id_plus_1 = *ret_id + 1;
    }
    return rc;
}

static bool s_is_own(const struct fsg_agg_hint *h, const struct fsg_ip *ip)
{
    for (size_t i = 0; i < h->n_addrs; i++) {
        if (fsg_ip_eq(&h->addrs[i], ip)) {
            return true;
        }
    }
    return false;
}

/* Arriving or leaving: flow-direction, else the configured addresses of the ENI, else unknown
 * (learned at the end). */
static enum fsg_rdir s_rdir(const struct fsg_agg_eni *e, const struct fsg_flowlog_record *rec)
{
    if (rec->flow_direction != FSG_FLOWLOG_DIR_NONE) {
        return rec->flow_direction == FSG_FLOWLOG_DIR_INGRESS ? FSG_RDIR_ARRIVING
                                                              : FSG_RDIR_LEAVING;
    }
    if (e->hint == NULL || e->hint->n_addrs == 0 || !rec->has_addrs) {
        return FSG_RDIR_UNKNOWN;
    }
    bool dst_own = s_is_own(e->hint, &rec->dstaddr);
    bool src_own = s_is_own(e->hint, &rec->srcaddr);
    if (dst_own != src_own) {
        return dst_own ? FSG_RDIR_ARRIVING : FSG_RDIR_LEAVING;
    }
    return FSG_RDIR_UNKNOWN;
}

static void s_fold_val(struct fsg_agg_val *v, bool inserted, uint64_t records, uint64_t packets,
                       uint64_t bytes, int64_t first, int64_t last)
{
    if (inserted) {
        v->first = FSG_AGG_FIRST_NONE;
        v->last = FSG_FLOW_TIME_NONE;
    }
    v->records += records;
    v->packets += packets;
    v->bytes += bytes;
    if (first != FSG_FLOW_TIME_NONE && first != FSG_AGG_FIRST_NONE && first < v->first) {
        v->first = first;
    }
    if (last != FSG_FLOW_TIME_NONE && last > v->last) {
        v->last = last;
    }
}

static enum fsg_err s_error_of(const struct fsg_aggregate *agg, enum fsg_err rc,
                               struct fsg_error *err)
{
    if (rc != FSG_E_LIMIT && rc != FSG_E_NOMEM && agg->spill_err.code == rc) {
        return fsg_error_set(err, rc, "%s", agg->spill_err.msg);
    }
    return fsg_agg_error(rc, err);
}

enum fsg_err fsg_agg_error(enum fsg_err rc, struct fsg_error *err)
{
    if (rc == FSG_E_LIMIT) {
        return fsg_error_set(err, rc, "too many distinct flows (more than the aggregation limit)");
    }
    return fsg_error_set(err, rc, "flow aggregation: out of memory");
}

void fsg_agg_update_check(struct fsg_aggregate *agg)
{
    if (agg->broken != FSG_OK) { /* every upsert takes the slow path, which fails */
        agg->check_at = 0;
        return;
    }
    agg->check_at = agg->limit;
    if (agg->memory != 0) {
        size_t r4 = fsg_hash_room(agg->flows4), r6 = fsg_hash_room(agg->flows);
        size_t at = agg->n_entries + (r4 < r6 ? r4 : r6);
        agg->check_at = at < agg->check_at ? at : agg->check_at;
    }
}

/* Whether one more key in t would make the tables grow past the memory budget. */
static bool s_over_budget(const struct fsg_aggregate *agg, const struct fsg_hash *t)
{
    if (agg->memory == 0 || agg->spill == NULL || fsg_hash_room(t) > 0 || agg->n_entries == 0) {
        return false;
    }
    size_t now = fsg_hash_memory(agg->flows4) + fsg_hash_memory(agg->flows);
    return now + fsg_hash_memory(t) > agg->memory; /* growing about doubles t */
}

/* The slow path of s_upsert: near the limit or near a growth of a table under a budget. */
static enum fsg_err s_upsert_slow(struct fsg_aggregate *agg, struct fsg_hash *t, const void *key,
                                  uint64_t hash, struct fsg_agg_val **ret_v, bool *ret_inserted)
{
    *ret_inserted = false;
    if (agg->broken != FSG_OK) {
        return agg->broken;
    }
    *ret_v = fsg_hash_find(t, key, hash);
    if (*ret_v != NULL) {
        return FSG_OK;
    }
    if (agg->n_entries >= agg->limit) {
        return FSG_E_LIMIT;
    }
    enum fsg_err rc = s_over_budget(agg, t) ? fsg_agg_spill(agg) : FSG_OK;
    if (rc == FSG_OK) {
        rc = fsg_hash_upsert(t, key, hash, (void **)ret_v, ret_inserted);
        agg->n_entries += rc == FSG_OK && *ret_inserted;
    }
    fsg_agg_update_check(agg);
    return rc;
}

/* The value of a key in its table (v6: struct fsg_agg_key, else struct fsg_agg_key4), inserted
 * when new. FSG_E_LIMIT past the limit over both tables, FSG_E_NOMEM (tables unchanged), FSG_E_IO
 * when the tables had to be spilled and could not be. */
static inline enum fsg_err s_upsert(struct fsg_aggregate *agg, bool is_v6, const void *key,
                                    uint64_t hash, struct fsg_agg_val **ret_v, bool *ret_inserted)
{
    struct fsg_hash *t = is_v6 ? agg->flows : agg->flows4;
    if (agg->n_entries >= agg->check_at) {
        return s_upsert_slow(agg, t, key, hash, ret_v, ret_inserted);
    }
    enum fsg_err rc = fsg_hash_upsert(t, key, hash, (void **)ret_v, ret_inserted);
    agg->n_entries += rc == FSG_OK && *ret_inserted;
    return rc;
}

/* Before the open object changes an entry for the first time, logs its value (an entry it
 * inserted is past the mark, not logged), and marks the entry as the object's. key is the
 * entry's struct fsg_agg_key (is_v6) or fsg_agg_key4. Nothing changes on failure. */
static enum fsg_err s_undo_key(struct fsg_aggregate *agg, bool is_v6, const void *key,
                               uint64_t hash, struct fsg_agg_val *v, bool inserted)
{
    if (v->gen == agg->gen) {
        return FSG_OK;
    }
    if (agg->in_object && !inserted) {
        struct fsg_agg_undo *grown =
            fsg_array_grow(agg->undo, &agg->cap_undo, agg->n_undo + 1, sizeof *grown, 256);
        if (grown == NULL) {
            return FSG_E_NOMEM;
        }
        agg->undo = grown;
        struct fsg_agg_undo *u = &agg->undo[agg->n_undo++];
        memset(u, 0, sizeof *u);
        memcpy(&u->u, key, is_v6 ? sizeof u->u.k : sizeof u->u.k4);
        u->is_v6 = is_v6;
        u->hash = hash;
        u->old = *v;
    }
    v->gen = agg->gen;
    return FSG_OK;
}

/* Folds records/packets/bytes/first/last into the pending record's key, logging the entry's
 * value first when an open object changes it for the first time. Nothing changes on failure. */
static enum fsg_err s_fold_pending(struct fsg_aggregate *agg, const struct fsg_agg_pending *pd,
                                   uint64_t records)
{
    struct fsg_agg_val *v;
    bool inserted;
    enum fsg_err rc = s_upsert(agg, pd->is_v6, &pd->u, pd->hash, &v, &inserted);
    if (rc != FSG_OK) {
        return rc;
    }
    if ((rc = s_undo_key(agg, pd->is_v6, &pd->u, pd->hash, v, inserted)) != FSG_OK) {
        return rc;
    }
    s_fold_val(v, inserted, records, pd->packets, pd->bytes, pd->first, pd->last);
    return FSG_OK;
}

/* Folds the oldest pending record into the table. On failure it stays pending (and the same
 * error comes back on the next try). */
static enum fsg_err s_commit_oldest(struct fsg_aggregate *agg)
{
    const struct fsg_agg_pending *pd = &agg->pipe[agg->pipe_head];
    enum fsg_err rc = s_fold_pending(agg, pd, 1);
    if (rc != FSG_OK) {
        return rc;
    }
    agg->pipe_head = (agg->pipe_head + 1) % FSG_AGG_PIPE;
    agg->pipe_n--;
    return FSG_OK;
}

static inline struct fsg_hash *s_table_of(const struct fsg_aggregate *agg,
                                          const struct fsg_agg_pending *pd)
{
    return pd->is_v6 ? agg->flows : agg->flows4;
}

/* Fills the pending record's key; both addresses IPv4 take the compact form. */
static inline void s_pending_key(struct fsg_agg_pending *pd, const struct fsg_ip *src,
                                 const struct fsg_ip *dst, uint32_t id,
                                 const struct fsg_flowlog_record *rec, unsigned flags)
{
    pd->is_v6 = src->is_v6 || dst->is_v6;
    if (!pd->is_v6) {
        uint64_t w0 = s_key4_w0(src->a, dst->a);
        uint64_t w1 = s_key4_w1(id, rec->dstport, rec->protocol, flags);
        pd->u.k4.w[0] = w0;
        pd->u.k4.w[1] = w1;
        pd->hash = s_key4_hash(w0, w1);
        return;
    }
    struct fsg_agg_key *k = &pd->u.k;
    memcpy(k->a, src->a, sizeof k->a);
    memcpy(k->b, dst->a, sizeof k->b);
    k->eni = id;
    k->port = rec->dstport;
    k->proto = rec->protocol;
    k->flags = (uint8_t)(flags | (src->is_v6 ? FSG_AGG_F_A_V6 : 0u) |
                         (dst->is_v6 ? FSG_AGG_F_B_V6 : 0u));
    pd->hash = s_key_hash(k);
}

enum fsg_err fsg_aggregate_add(struct fsg_aggregate *agg, const struct fsg_flowlog_record *rec,
                               struct fsg_span default_eni, struct fsg_error *err)
{
    const struct fsg_ip *src = &rec->pkt_srcaddr;
    const struct fsg_ip *dst = &rec->pkt_dstaddr;
    if (!rec->has_pkt_addrs) {
        if (!rec->has_addrs) {
            return FSG_OK;
        }
        src = &rec->srcaddr;
        dst = &rec->dstaddr;
    }
    /* Return traffic counts in no direction (flowlogs/direction.h): drop it before interning
     * when no configured database port could change the verdict. */
    if (!agg->has_service_ports &&
        fsg_dir_leg(rec->protocol, rec->tcp_flags, rec->srcport, rec->dstport, 0) ==
            FSG_LEG_RESPONSE) {
        return FSG_OK;
    }
    struct fsg_span name = rec->interface_id.len > 0 ? rec->interface_id
                           : default_eni.len > 0     ? default_eni
                                                     : fsg_span_from_cstr("-");
    uint32_t id;
    enum fsg_err rc = s_intern(agg, name, &id);
    if (rc != FSG_OK) {
        return s_error_of(agg, rc, err);
    }
    const struct fsg_agg_eni *e = &agg->enis[id];
    if (agg->has_service_ports &&
        fsg_dir_leg(rec->protocol, rec->tcp_flags, rec->srcport, rec->dstport,
                          e->service_port) == FSG_LEG_RESPONSE) {
        return FSG_OK;
    }
    struct fsg_agg_pending *pd = &agg->pipe[(agg->pipe_head + agg->pipe_n) % FSG_AGG_PIPE];
    s_pending_key(pd, src, dst, id, rec,
                  (unsigned)rec->action | ((unsigned)s_rdir(e, rec) << FSG_AGG_F_RDIR_SHIFT));
    pd->packets = rec->packets;
    pd->bytes = rec->bytes;
    pd->first = rec->start_s;
    pd->last = rec->end_s;
    fsg_hash_prefetch_slot(s_table_of(agg, pd), pd->hash);
    agg->pipe_n++;
    if (agg->pipe_n > FSG_AGG_PIPE_ENTRY) {
        const struct fsg_agg_pending *older =
            &agg->pipe[(agg->pipe_head + agg->pipe_n - 1 - FSG_AGG_PIPE_ENTRY) % FSG_AGG_PIPE];
        fsg_hash_prefetch_entry(s_table_of(agg, older), older->hash);
    }
    if (agg->pipe_n == FSG_AGG_PIPE) {
        rc = s_commit_oldest(agg);
        if (rc != FSG_OK) {
            return s_error_of(agg, rc, err);
        }
    }
    return FSG_OK;
}

enum fsg_err fsg_aggregate_flush(struct fsg_aggregate *agg, struct fsg_error *err)
{
    while (agg->pipe_n > 0) {
        enum fsg_err rc = s_commit_oldest(agg);
        if (rc != FSG_OK) {
            return s_error_of(agg, rc, err);
        }
    }
    return FSG_OK;
}

void fsg_aggregate_add_stats(struct fsg_aggregate *agg, const struct fsg_flowlog_stats *s)
{
    agg->stats.objects++;
    agg->stats.bytes_in += s->bytes_in;
    agg->stats.lines += s->lines;
    agg->stats.records += s->records;
    agg->stats.nodata += s->nodata;
    agg->stats.skipdata += s->skipdata;
    agg->stats.malformed += s->malformed;
}

void fsg_flow_stats_add(struct fsg_flow_stats *dst, const struct fsg_flow_stats *src,
                        bool with_objects)
{
    dst->objects += with_objects ? src->objects : 0;
    dst->bytes_in += src->bytes_in;
    dst->lines += src->lines;
    dst->records += src->records;
    dst->nodata += src->nodata;
    dst->skipdata += src->skipdata;
    dst->malformed += src->malformed;
}

/* Folds an entry (40-byte key form) into agg, in the table its addresses belong to. */
static enum fsg_err s_fold_key(struct fsg_aggregate *agg, const struct fsg_agg_key *k,
                               const struct fsg_agg_val *sv)
{
    bool is_v6 = (k->flags & (FSG_AGG_F_A_V6 | FSG_AGG_F_B_V6)) != 0;
    struct fsg_agg_key4 k4;
    const void *key = k;
    uint64_t hash;
    if (!is_v6) {
        k4.w[0] = s_key4_w0(k->a, k->b);
        k4.w[1] = s_key4_w1(k->eni, k->port, k->proto, k->flags);
        key = &k4;
        hash = s_key4_hash(k4.w[0], k4.w[1]);
    } else {
        hash = s_key_hash(k);
    }
    struct fsg_agg_val *v;
    bool inserted;
    enum fsg_err rc = s_upsert(agg, is_v6, key, hash, &v, &inserted);
    if (rc == FSG_OK) {
        rc = s_undo_key(agg, is_v6, key, hash, v, inserted);
    }
    if (rc == FSG_OK) {
        s_fold_val(v, inserted, sv->records, sv->packets, sv->bytes, sv->first, sv->last);
    }
    return rc;
}

void fsg_agg_entry(const struct fsg_aggregate *agg, size_t i, struct fsg_agg_key *ret_key,
                   const struct fsg_agg_val **ret_val)
{
    size_t n4 = fsg_hash_count(agg->flows4);
    if (i >= n4) {
        *ret_key = *(const struct fsg_agg_key *)fsg_hash_key_at(agg->flows, i - n4);
        *ret_val = fsg_hash_value_at(agg->flows, i - n4);
        return;
    }
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    const struct fsg_agg_key4 *k4 = fsg_hash_key_at(agg->flows4, i);
    uint64_t w0 = k4->w[0], w1 = k4->w[1];
    uint32_t a = (uint32_t)w0, b = (uint32_t)(w0 >> 32);
    *ret_key = (struct fsg_agg_key){ .eni = (uint32_t)w1,
                                     .port = (uint16_t)(w1 >> 32),
                                     .proto = (uint8_t)(w1 >> 48),
                                     .flags = (uint8_t)(w1 >> 56) };
    memcpy(ret_key->a, mapped, sizeof mapped);
    memcpy(ret_key->a + 12, &a, sizeof a);
    memcpy(ret_key->b, mapped, sizeof mapped);
    memcpy(ret_key->b + 12, &b, sizeof b);
    *ret_val = fsg_hash_value_at(agg->flows4, i);
}

enum fsg_err fsg_aggregate_merge(struct fsg_aggregate *dst, struct fsg_aggregate *src,
                                 struct fsg_error *err)
{
    enum fsg_err rc = fsg_aggregate_status(src, err);
    if (rc == FSG_OK) {
        rc = fsg_aggregate_status(dst, err);
    }
    if (rc == FSG_OK) {
        rc = fsg_aggregate_flush(src, err);
    }
    if (rc == FSG_OK) {
        rc = fsg_aggregate_flush(dst, err);
    }
    if (rc != FSG_OK) {
        return rc;
    }
    /* Under a budget, when dst's tables would have to grow past it to take src's entries:
     * those join the runs (merged on output, as are keys found both in runs and in a table)
     * instead. Runs already on disk do not decide it, nor tables that have room: an object read
     * into its own table (summaries) would otherwise become a run of its own, thousands of tiny
     * runs for a prefix. */
    bool no_room = fsg_hash_room(dst->flows4) < fsg_hash_count(src->flows4) ||
                   fsg_hash_room(dst->flows) < fsg_hash_count(src->flows);
    if (dst->memory != 0 && src->spill == dst->spill && src->spill != NULL &&
        !src->in_object && no_room &&
        fsg_aggregate_table_bytes(src) + fsg_aggregate_table_bytes(dst) > dst->memory) {
        rc = fsg_aggregate_spill(src, err);
        if (rc == FSG_OK) {
            fsg_flow_stats_add(&dst->stats, &src->stats, true);
        }
        return rc;
    }
    uint32_t *map = fsg_calloc(src->n_enis + 1, sizeof *map);
    if (map == NULL) {
        return fsg_agg_error(FSG_E_NOMEM, err);
    }
    for (size_t i = 0; i < src->n_enis && rc == FSG_OK; i++) {
        rc =
            s_intern(dst, (struct fsg_span){ (const uint8_t *)src->enis[i].name, src->enis[i].len },
                     &map[i]);
    }
    /* IPv4 pairs straight from table to table (the ENI id is the low half of w[1]) */
    size_t n4 = fsg_hash_count(src->flows4), n = fsg_aggregate_entries(src);
    for (size_t i = 0; i < n4 && rc == FSG_OK; i++) {
        const struct fsg_agg_key4 *sk = fsg_hash_key_at(src->flows4, i);
        const struct fsg_agg_val *sv = fsg_hash_value_at(src->flows4, i);
        struct fsg_agg_key4 k = { .w = { sk->w[0], (sk->w[1] & ~(uint64_t)UINT32_MAX) |
                                                       map[(uint32_t)sk->w[1]] } };
        struct fsg_agg_val *v;
        bool inserted;
        uint64_t hash = s_key4_hash(k.w[0], k.w[1]);
        rc = s_upsert(dst, false, &k, hash, &v, &inserted);
        if (rc == FSG_OK) {
            rc = s_undo_key(dst, false, &k, hash, v, inserted);
        }
        if (rc == FSG_OK) {
            s_fold_val(v, inserted, sv->records, sv->packets, sv->bytes, sv->first, sv->last);
        }
    }
    for (size_t i = n4; i < n && rc == FSG_OK; i++) {
        struct fsg_agg_key k;
        const struct fsg_agg_val *sv;
        fsg_agg_entry(src, i, &k, &sv);
        k.eni = map[k.eni];
        rc = s_fold_key(dst, &k, sv);
    }
    fsg_free(map);
    if (rc != FSG_OK) {
        return s_error_of(dst, rc, err);
    }
    fsg_flow_stats_add(&dst->stats, &src->stats, true);
    return FSG_OK;
}

void fsg_aggregate_row(const struct fsg_aggregate *agg, size_t i, struct fsg_agg_row *ret)
{
    struct fsg_agg_key k;
    const struct fsg_agg_val *v;
    fsg_agg_entry(agg, i, &k, &v);
    const struct fsg_agg_eni *e = &agg->enis[k.eni];
    memcpy(ret->eni, e->name, sizeof ret->eni);
    memcpy(ret->a.a, k.a, sizeof ret->a.a);
    ret->a.is_v6 = (k.flags & FSG_AGG_F_A_V6) != 0;
    memcpy(ret->b.a, k.b, sizeof ret->b.a);
    ret->b.is_v6 = (k.flags & FSG_AGG_F_B_V6) != 0;
    ret->port = k.port;
    ret->proto = k.proto;
    ret->action = (uint8_t)(k.flags & FSG_AGG_F_ACTION_MASK);
    ret->rdir = (uint8_t)((k.flags & FSG_AGG_F_RDIR_MASK) >> FSG_AGG_F_RDIR_SHIFT);
    ret->records = v->records;
    ret->packets = v->packets;
    ret->bytes = v->bytes;
    ret->first = v->first == FSG_AGG_FIRST_NONE ? FSG_FLOW_TIME_NONE : v->first;
    ret->last = v->last;
}

enum fsg_err fsg_aggregate_add_row(struct fsg_aggregate *agg, const struct fsg_agg_row *row,
                                   struct fsg_error *err)
{
    if (row->action > FSG_AGG_F_ACTION_MASK || row->rdir > FSG_RDIR_LEAVING || row->records == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "flow row: bad action, direction or count");
    }
    enum fsg_err rc = fsg_aggregate_flush(agg, err); /* rows go in after earlier records */
    if (rc != FSG_OK) {
        return rc;
    }
    size_t len = strnlen(row->eni, sizeof row->eni);
    uint32_t id;
    rc = s_intern(agg, (struct fsg_span){ (const uint8_t *)row->eni, len }, &id);
    if (rc == FSG_OK) {
        struct fsg_agg_pending pd = { .packets = row->packets,
                                      .bytes = row->bytes,
                                      .first = row->first,
                                      .last = row->last };
        struct fsg_flowlog_record rec = { .dstport = row->port, .protocol = row->proto };
        s_pending_key(&pd, &row->a, &row->b, id, &rec,
                      (unsigned)row->action | ((unsigned)row->rdir << FSG_AGG_F_RDIR_SHIFT));
        rc = s_fold_pending(agg, &pd, row->records);
    }
    return rc == FSG_OK ? FSG_OK : s_error_of(agg, rc, err);
}

void fsg_aggregate_add_counts(struct fsg_aggregate *agg, const struct fsg_flow_stats *s)
{
    fsg_flow_stats_add(&agg->stats, s, false);
}

void fsg_aggregate_begin(struct fsg_aggregate *agg)
{
    if (++agg->gen == 0) { /* wrapped: no entry may look changed by the new object */
        for (size_t i = 0; i < fsg_hash_count(agg->flows4); i++) {
            ((struct fsg_agg_val *)fsg_hash_value_at(agg->flows4, i))->gen = 0;
        }
        for (size_t i = 0; i < fsg_hash_count(agg->flows); i++) {
            ((struct fsg_agg_val *)fsg_hash_value_at(agg->flows, i))->gen = 0;
        }
        agg->gen = 1;
    }
    agg->in_object = true;
    agg->obj_tag = 0;
    agg->obj_spilled = false;
    agg->mark4 = fsg_hash_count(agg->flows4);
    agg->mark = fsg_hash_count(agg->flows);
    agg->n_undo = 0;
}

enum fsg_err fsg_aggregate_commit(struct fsg_aggregate *agg, struct fsg_error *err)
{
    enum fsg_err rc = fsg_aggregate_flush(agg, err);
    if (rc == FSG_OK) {
        agg->in_object = false;
        agg->n_undo = 0;
        if (agg->obj_tag != 0) {
            fsg_spill_keep(agg->spill, agg->obj_tag);
            agg->obj_tag = 0;
        }
    }
    return rc;
}

void fsg_aggregate_rollback(struct fsg_aggregate *agg)
{
    if (!agg->in_object) {
        return;
    }
    agg->pipe_n = 0; /* records still pending were never folded */
    for (size_t i = agg->n_undo; i-- > 0;) {
        const struct fsg_agg_undo *u = &agg->undo[i];
        struct fsg_agg_val *v = fsg_hash_find(u->is_v6 ? agg->flows : agg->flows4, &u->u, u->hash);
        if (v != NULL) { /* always: logged entries are older than the mark */
            *v = u->old;
        }
    }
    size_t before = fsg_aggregate_entries(agg);
    fsg_hash_truncate(agg->flows4, agg->mark4);
    fsg_hash_truncate(agg->flows, agg->mark);
    agg->n_entries -= before - fsg_aggregate_entries(agg);
    agg->n_undo = 0;
    agg->in_object = false;
    if (agg->obj_tag != 0) { /* what the object had to spill is forgotten with it */
        fsg_spill_drop(agg->spill, agg->obj_tag);
        agg->obj_tag = 0;
    }
    fsg_agg_update_check(agg);
}

void fsg_aggregate_clear(struct fsg_aggregate *agg)
{
    agg->in_object = false;
    agg->n_undo = 0;
    agg->pipe_n = 0;
    agg->n_entries = 0;
    fsg_hash_clear(agg->flows4);
    fsg_hash_clear(agg->flows);
    fsg_agg_update_check(agg);
    fsg_hash_clear(agg->names);
    agg->n_enis = 0;
    memset(agg->icache, 0, sizeof agg->icache);
    agg->stats = (struct fsg_flow_stats){ 0 };
}

const struct fsg_flow_stats *fsg_aggregate_stats(const struct fsg_aggregate *agg)
{
    return &agg->stats;
}

size_t fsg_aggregate_entries(const struct fsg_aggregate *agg)
{
    return fsg_hash_count(agg->flows4) + fsg_hash_count(agg->flows);
}
