#include "flowlogs/aggregate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowlogs/direction.h"
#include "lib/hash.h"
#include "lib/mem.h"

/* 16 Mi keys is about 1.3 GiB of table: far beyond any real per-ENI connection set. */
#define S_DEFAULT_MAX_ENTRIES ((size_t)16 << 20)
/* First table size: a small object has a few hundred keys. */
#define S_INITIAL_ENTRIES 1024
#define S_FIRST_NONE INT64_MAX

/* The hot-path key: 40 bytes, no padding, hashed and compared as bytes. */
struct s_key {
    uint8_t a[16];   /* initiator (lib/ip.h 16-byte form) */
    uint8_t b[16];   /* responder */
    uint32_t eni;    /* interned id */
    uint16_t port;   /* responder port */
    uint8_t proto;
    uint8_t flags;   /* S_F_* */
};
_Static_assert(sizeof(struct s_key) == 40, "struct s_key must have no padding");

#define S_F_ACTION_MASK 0x03u /* enum fsg_flow_action */
#define S_F_RDIR_SHIFT 3      /* enum fsg_rdir, 2 bits */
#define S_F_RDIR_MASK 0x18u
#define S_F_A_V6 0x20u
#define S_F_B_V6 0x40u

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
static inline uint64_t s_key_hash(const struct s_key *k)
{
    uint64_t w[5];
    memcpy(w, k, sizeof w);
    uint64_t h = s_fold(w[0] ^ S_K0, w[1] ^ S_K1) ^ s_fold(w[2] ^ S_K2, w[3] ^ S_K3);
    return s_fold(h ^ w[4], S_K1 ^ (h >> 17));
}

struct s_val {
    uint64_t records;
    uint64_t packets;
    uint64_t bytes;
    int64_t first; /* S_FIRST_NONE until a start is seen */
    int64_t last;  /* FSG_FLOW_TIME_NONE until an end is seen */
};

struct s_hint {
    char eni[FSG_ENI_ID_MAX];
    struct fsg_ip *addrs;
    size_t n_addrs;
    uint16_t service_port;
};

struct s_eni {
    char name[FSG_ENI_ID_MAX]; /* NUL-padded: also the intern table key */
    size_t len;
    uint16_t service_port;
    const struct s_hint *hint; /* NULL when the config knows nothing of this ENI */
};

/* Records in flight: each add() prefetches its slot, the entry of the record added S_PIPE_ENTRY
 * calls earlier, and folds the one added S_PIPE calls earlier, so the table's cache misses overlap
 * instead of stalling every record. */
#define S_PIPE 16
#define S_PIPE_ENTRY 8

struct s_pending {
    struct s_key k;
    uint64_t hash;
    uint64_t packets;
    uint64_t bytes;
    int64_t first;
    int64_t last;
};

/* A direct-mapped cache in front of the intern table: most records hit it with one compare. */
#define S_ICACHE 64
_Static_assert(FSG_ENI_ID_MAX == 32, "the intern cache compares four words");
struct s_icache {
    uint64_t w[FSG_ENI_ID_MAX / 8]; /* the NUL-padded name */
    uint32_t id_plus_1;             /* 0 = empty */
};

struct fsg_aggregate {
    struct s_pending pipe[S_PIPE];
    unsigned pipe_head;         /* oldest pending */
    unsigned pipe_n;
    struct fsg_hash *flows;     /* struct s_key -> struct s_val */
    struct fsg_hash *names;     /* char[FSG_ENI_ID_MAX] -> uint32_t id */
    struct s_eni *enis;
    size_t n_enis;
    size_t cap_enis;
    struct s_hint *hints;
    size_t n_hints;
    size_t max_entries;
    struct s_icache icache[S_ICACHE];
    struct fsg_flow_stats stats;
};

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
        struct s_hint *t = &agg->hints[agg->n_hints++];
        snprintf(t->eni, sizeof t->eni, "%s", h->eni != NULL ? h->eni : "-");
        t->service_port = h->service_port;
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

enum fsg_err fsg_aggregate_new(const struct fsg_aggregate_options *opts,
                               struct fsg_aggregate **ret_agg, struct fsg_error *err)
{
    struct fsg_aggregate_options o = opts != NULL ? *opts : (struct fsg_aggregate_options){ 0 };
    enum fsg_err rc = FSG_E_NOMEM;
    struct fsg_aggregate *agg = fsg_calloc(1, sizeof *agg);
    if (agg == NULL) {
        goto fail;
    }
    struct fsg_hash_options fo = { .key_size = sizeof(struct s_key),
                                   .value_size = sizeof(struct s_val),
                                   .initial_capacity = S_INITIAL_ENTRIES,
                                   .max_entries = o.max_entries != 0 ? o.max_entries
                                                                     : S_DEFAULT_MAX_ENTRIES };
    struct fsg_hash_options no = { .key_size = FSG_ENI_ID_MAX, .value_size = sizeof(uint32_t) };
    if (fsg_hash_new(&fo, &agg->flows, NULL) != FSG_OK ||
        fsg_hash_new(&no, &agg->names, NULL) != FSG_OK || s_copy_hints(agg, &o) != FSG_OK) {
        goto fail;
    }
    agg->max_entries = o.max_entries;
    *ret_agg = agg;
    return FSG_OK;
fail:
    fsg_aggregate_destroy(agg);
    return fsg_error_set(err, rc, "flow aggregation: out of memory");
}

enum fsg_err fsg_aggregate_new_sibling(const struct fsg_aggregate *like,
                                       struct fsg_aggregate **ret_agg, struct fsg_error *err)
{
    struct fsg_eni_hint *hints = fsg_calloc(like->n_hints + 1, sizeof *hints);
    if (hints == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "flow aggregation: out of memory");
    }
    for (size_t i = 0; i < like->n_hints; i++) {
        const struct s_hint *h = &like->hints[i];
        hints[i] = (struct fsg_eni_hint){ .eni = h->eni, .addrs = h->addrs, .n_addrs = h->n_addrs,
                                          .service_port = h->service_port };
    }
    struct fsg_aggregate_options o = { .hints = hints, .n_hints = like->n_hints,
                                       .max_entries = like->max_entries };
    enum fsg_err rc = fsg_aggregate_new(&o, ret_agg, err);
    fsg_free(hints);
    return rc;
}

void fsg_aggregate_destroy(struct fsg_aggregate *agg)
{
    if (agg == NULL) {
        return;
    }
    fsg_hash_destroy(agg->flows);
    fsg_hash_destroy(agg->names);
    for (size_t i = 0; i < agg->n_hints; i++) {
        fsg_free(agg->hints[i].addrs);
    }
    fsg_free(agg->hints);
    fsg_free(agg->enis);
    fsg_free(agg);
}

static const struct s_hint *s_find_hint(const struct fsg_aggregate *agg, const char *name)
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
        struct s_eni *enis = fsg_reallocarray(agg->enis, cap, sizeof *enis);
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
        struct s_eni *e = &agg->enis[agg->n_enis];
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

/* The NUL-padded name as four words (w zeroed by the caller), reading only inside the name: for
 * 8 bytes and more, the last partial word comes from the 8 bytes ending at the name's end. */
static inline void s_name_words(const uint8_t *p, size_t len, uint64_t w[FSG_ENI_ID_MAX / 8])
{
    if (len < 8) {
        memcpy(w, p, len);
        return;
    }
    size_t full = len / 8, rest = len % 8;
    for (size_t j = 0; j < full; j++) {
        w[j] = s_load8(p + 8 * j);
    }
    if (rest != 0) {
        w[full] = s_load8(p + len - 8) >> (8 * (8 - rest)); /* little endian: keep the last bytes */
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
    struct s_icache *c = &agg->icache[h >> 58];
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

static bool s_is_own(const struct s_hint *h, const struct fsg_ip *ip)
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
static enum fsg_rdir s_rdir(const struct s_eni *e, const struct fsg_flowlog_record *rec)
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

static void s_fold_val(struct s_val *v, bool inserted, uint64_t records, uint64_t packets,
                   uint64_t bytes, int64_t first, int64_t last)
{
    if (inserted) {
        v->first = S_FIRST_NONE;
        v->last = FSG_FLOW_TIME_NONE;
    }
    v->records += records;
    v->packets += packets;
    v->bytes += bytes;
    if (first != FSG_FLOW_TIME_NONE && first != S_FIRST_NONE && first < v->first) {
        v->first = first;
    }
    if (last != FSG_FLOW_TIME_NONE && last > v->last) {
        v->last = last;
    }
}

static enum fsg_err s_limit(enum fsg_err rc, struct fsg_error *err)
{
    if (rc == FSG_E_LIMIT) {
        return fsg_error_set(err, rc, "too many distinct flows (more than the aggregation limit)");
    }
    return fsg_error_set(err, rc, "flow aggregation: out of memory");
}

/* Folds the oldest pending record into the table. On failure it stays pending (and the same
 * error comes back on the next try). */
static enum fsg_err s_commit_oldest(struct fsg_aggregate *agg)
{
    const struct s_pending *pd = &agg->pipe[agg->pipe_head];
    struct s_val *v;
    bool inserted;
    enum fsg_err rc = fsg_hash_upsert(agg->flows, &pd->k, pd->hash, (void **)&v, &inserted);
    if (rc != FSG_OK) {
        return rc;
    }
    s_fold_val(v, inserted, 1, pd->packets, pd->bytes, pd->first, pd->last);
    agg->pipe_head = (agg->pipe_head + 1) % S_PIPE;
    agg->pipe_n--;
    return FSG_OK;
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
    struct fsg_span name = rec->interface_id.len > 0 ? rec->interface_id
                           : default_eni.len > 0     ? default_eni
                                                     : fsg_span_from_cstr("-");
    uint32_t id;
    enum fsg_err rc = s_intern(agg, name, &id);
    if (rc != FSG_OK) {
        return s_limit(rc, err);
    }
    const struct s_eni *e = &agg->enis[id];
    enum fsg_leg leg = fsg_direction_leg(rec->protocol, rec->tcp_flags, rec->srcport,
                                         rec->dstport, e->service_port);
    if (leg == FSG_LEG_RESPONSE) {
        return FSG_OK; /* return traffic: counted in no direction (flowlogs/direction.h) */
    }
    struct s_pending *pd = &agg->pipe[(agg->pipe_head + agg->pipe_n) % S_PIPE];
    struct s_key *k = &pd->k;
    memcpy(k->a, src->a, sizeof k->a);
    memcpy(k->b, dst->a, sizeof k->b);
    k->eni = id;
    k->port = rec->dstport;
    k->proto = rec->protocol;
    k->flags = (uint8_t)((unsigned)rec->action | ((unsigned)s_rdir(e, rec) << S_F_RDIR_SHIFT) |
                         (src->is_v6 ? S_F_A_V6 : 0u) | (dst->is_v6 ? S_F_B_V6 : 0u));
    pd->hash = s_key_hash(k);
    pd->packets = rec->packets;
    pd->bytes = rec->bytes;
    pd->first = rec->start_s;
    pd->last = rec->end_s;
    fsg_hash_prefetch_slot(agg->flows, pd->hash);
    agg->pipe_n++;
    if (agg->pipe_n > S_PIPE_ENTRY) {
        const struct s_pending *older = &agg->pipe[(agg->pipe_head + agg->pipe_n - 1 - S_PIPE_ENTRY) % S_PIPE];
        fsg_hash_prefetch_entry(agg->flows, older->hash);
    }
    if (agg->pipe_n == S_PIPE) {
        rc = s_commit_oldest(agg);
        if (rc != FSG_OK) {
            return s_limit(rc, err);
        }
    }
    return FSG_OK;
}

enum fsg_err fsg_aggregate_flush(struct fsg_aggregate *agg, struct fsg_error *err)
{
    while (agg->pipe_n > 0) {
        enum fsg_err rc = s_commit_oldest(agg);
        if (rc != FSG_OK) {
            return s_limit(rc, err);
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

enum fsg_err fsg_aggregate_merge(struct fsg_aggregate *dst, struct fsg_aggregate *src,
                                 struct fsg_error *err)
{
    enum fsg_err rc = fsg_aggregate_flush(src, err);
    if (rc == FSG_OK) {
        rc = fsg_aggregate_flush(dst, err);
    }
    if (rc != FSG_OK) {
        return rc;
    }
    uint32_t *map = fsg_calloc(src->n_enis + 1, sizeof *map);
    if (map == NULL) {
        return s_limit(FSG_E_NOMEM, err);
    }
    for (size_t i = 0; i < src->n_enis && rc == FSG_OK; i++) {
        rc = s_intern(dst, (struct fsg_span){ (const uint8_t *)src->enis[i].name, src->enis[i].len },
                      &map[i]);
    }
    size_t n = fsg_hash_count(src->flows);
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        struct s_key k = *(const struct s_key *)fsg_hash_key_at(src->flows, i);
        const struct s_val *sv = fsg_hash_value_at(src->flows, i);
        k.eni = map[k.eni];
        struct s_val *v;
        bool inserted;
        rc = fsg_hash_upsert(dst->flows, &k, s_key_hash(&k), (void **)&v, &inserted);
        if (rc == FSG_OK) {
            s_fold_val(v, inserted, sv->records, sv->packets, sv->bytes, sv->first, sv->last);
        }
    }
    fsg_free(map);
    if (rc != FSG_OK) {
        return s_limit(rc, err);
    }
    dst->stats.objects += src->stats.objects;
    dst->stats.bytes_in += src->stats.bytes_in;
    dst->stats.lines += src->stats.lines;
    dst->stats.records += src->stats.records;
    dst->stats.nodata += src->stats.nodata;
    dst->stats.skipdata += src->stats.skipdata;
    dst->stats.malformed += src->stats.malformed;
    return FSG_OK;
}

void fsg_aggregate_clear(struct fsg_aggregate *agg)
{
    agg->pipe_n = 0;
    fsg_hash_clear(agg->flows);
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
    return fsg_hash_count(agg->flows);
}

/* ---- the result ---------------------------------------------------------------------------- */

/* Each ENI's own address per family, from the config or learned from its records. */
struct s_own {
    struct fsg_ip v4, v6;
    bool has_v4, has_v6;
};

struct s_tally {
    uint32_t eni;
    struct fsg_addr_tally t;
};

static int s_tally_cmp(const void *pa, const void *pb)
{
    const struct s_tally *a = pa, *b = pb;
    if (a->eni != b->eni) {
        return a->eni < b->eni ? -1 : 1;
    }
    return fsg_ip_cmp(&a->t.addr, &b->t.addr);
}

static void s_key_ip(const uint8_t bytes[16], bool v6, struct fsg_ip *ip)
{
    memcpy(ip->a, bytes, sizeof ip->a);
    ip->is_v6 = v6;
}

/* Learning evidence from one entry (a request leg): when the record direction is known, the
 * ENI's side; otherwise both sides could be the ENI, and the responder is noted for ties. */
static void s_tally_entry(const struct s_key *k, const struct s_val *v, struct s_tally *out,
                          size_t *n)
{
    enum fsg_rdir rdir = (enum fsg_rdir)((k->flags & S_F_RDIR_MASK) >> S_F_RDIR_SHIFT);
    if (rdir != FSG_RDIR_ARRIVING) {
        struct s_tally *t = &out[(*n)++];
        *t = (struct s_tally){ .eni = k->eni, .t = { .weight = v->records } };
        s_key_ip(k->a, (k->flags & S_F_A_V6) != 0, &t->t.addr);
    }
    if (rdir != FSG_RDIR_LEAVING) {
        struct s_tally *t = &out[(*n)++];
        *t = (struct s_tally){ .eni = k->eni,
                               .t = { .weight = v->records, .as_responder = v->records } };
        s_key_ip(k->b, (k->flags & S_F_B_V6) != 0, &t->t.addr);
    }
}

/* Sums equal (eni, address) tallies in place; returns the new count. */
static size_t s_tally_sum(struct s_tally *t, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (out > 0 && s_tally_cmp(&t[out - 1], &t[i]) == 0) {
            t[out - 1].t.weight += t[i].t.weight;
            t[out - 1].t.as_responder += t[i].t.as_responder;
        } else {
            t[out++] = t[i];
        }
    }
    return out;
}

static void s_pick_group(const struct s_tally *g, size_t n, struct s_own *own)
{
    /* Addresses sort IPv4 first: the group splits into a v4 run and a v6 run. */
    size_t n4 = 0;
    while (n4 < n && !g[n4].t.addr.is_v6) {
        n4++;
    }
    struct fsg_addr_tally buf[2];
    for (int fam = 0; fam < 2; fam++) {
        const struct s_tally *s = fam == 0 ? g : g + n4;
        size_t m = fam == 0 ? n4 : n - n4;
        const struct fsg_addr_tally *best = NULL;
        for (size_t i = 0; i < m; i++) {
            buf[0] = s[i].t;
            if (best != NULL) {
                buf[1] = *best;
            }
            best = fsg_direction_pick(buf, best != NULL ? 2 : 1) == &buf[0] ? &s[i].t : best;
        }
        if (best != NULL && fam == 0) {
            own->v4 = best->addr;
            own->has_v4 = true;
        } else if (best != NULL) {
            own->v6 = best->addr;
            own->has_v6 = true;
        }
    }
}

static enum fsg_err s_learn(const struct fsg_aggregate *agg, struct s_own *own)
{
    size_t n = fsg_hash_count(agg->flows);
    struct s_tally *t = fsg_calloc(n * 2 + 1, sizeof *t);
    if (t == NULL) {
        return FSG_E_NOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        s_tally_entry(fsg_hash_key_at(agg->flows, i), fsg_hash_value_at(agg->flows, i), t, &m);
    }
    qsort(t, m, sizeof *t, s_tally_cmp);
    m = s_tally_sum(t, m);
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && t[j].eni == t[i].eni) {
            j++;
        }
        s_pick_group(t + i, j - i, &own[t[i].eni]);
        i = j;
    }
    fsg_free(t);
    /* Configured addresses win over learned ones. */
    for (size_t i = 0; i < agg->n_enis; i++) {
        const struct s_hint *h = agg->enis[i].hint;
        for (size_t j = 0; h != NULL && j < h->n_addrs; j++) {
            bool v6 = h->addrs[j].is_v6;
            *(v6 ? &own[i].v6 : &own[i].v4) = h->addrs[j];
            *(v6 ? &own[i].has_v6 : &own[i].has_v4) = true;
        }
    }
    return FSG_OK;
}

int fsg_flow_cmp(const struct fsg_flow *a, const struct fsg_flow *b)
{
    int r = strcmp(a->eni, b->eni);
    if (r == 0) {
        r = fsg_ip_cmp(&a->src, &b->src);
    }
    if (r == 0) {
        r = fsg_ip_cmp(&a->dst, &b->dst);
    }
    if (r == 0) {
        r = (int)a->port - (int)b->port;
    }
    if (r == 0) {
        r = (int)a->proto - (int)b->proto;
    }
    if (r == 0) {
        r = (int)a->action - (int)b->action;
    }
    if (r == 0) {
        r = (int)a->direction - (int)b->direction;
    }
    return r;
}

static int s_flow_qsort_cmp(const void *a, const void *b)
{
    return fsg_flow_cmp(a, b);
}

static bool s_wanted(const char *eni, const char *const *enis, size_t n_enis)
{
    for (size_t i = 0; i < n_enis; i++) {
        if (strcmp(eni, enis[i]) == 0) {
            return true;
        }
    }
    return n_enis == 0;
}

/* The flow for one entry, or false when the filter drops it. */
static bool s_to_flow(const struct fsg_aggregate *agg, const struct s_own *own, const struct s_key *k,
                      const struct s_val *v, enum fsg_direction_filter filter, struct fsg_flow *f)
{
    struct fsg_ip a, b;
    s_key_ip(k->a, (k->flags & S_F_A_V6) != 0, &a);
    s_key_ip(k->b, (k->flags & S_F_B_V6) != 0, &b);
    const struct s_own *o = &own[k->eni];
    enum fsg_rdir rdir = (enum fsg_rdir)((k->flags & S_F_RDIR_MASK) >> S_F_RDIR_SHIFT);
    enum fsg_verdict verdict = fsg_direction_verdict(FSG_LEG_REQUEST, rdir, &a, &b, o->has_v4 ? &o->v4 : NULL,
                                                     o->has_v6 ? &o->v6 : NULL);
    if (verdict == FSG_VERDICT_RETURN ||
        (filter == FSG_DIRECTION_INGRESS && verdict != FSG_VERDICT_INGRESS) ||
        (filter == FSG_DIRECTION_EGRESS && verdict != FSG_VERDICT_EGRESS)) {
        return false;
    }
    *f = (struct fsg_flow){
        .src = a,
        .dst = b,
        .port = k->port,
        .proto = k->proto,
        .action = (uint8_t)(k->flags & S_F_ACTION_MASK),
        .direction = verdict == FSG_VERDICT_INGRESS ? FSG_FLOW_INGRESS : FSG_FLOW_EGRESS,
        .records = v->records,
        .packets = v->packets,
        .bytes = v->bytes,
        .first_s = v->first == S_FIRST_NONE ? FSG_FLOW_TIME_NONE : v->first,
        .last_s = v->last,
    };
    memcpy(f->eni, agg->enis[k->eni].name, sizeof f->eni);
    return true;
}

/* Sorted flows, with entries that became equal (same connection seen through different record
 * directions or formats) summed. Returns the new count. */
static size_t s_sort_and_merge(struct fsg_flow *flows, size_t n)
{
    qsort(flows, n, sizeof *flows, s_flow_qsort_cmp);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        struct fsg_flow *p = out > 0 ? &flows[out - 1] : NULL;
        if (p == NULL || fsg_flow_cmp(p, &flows[i]) != 0) {
            flows[out++] = flows[i];
            continue;
        }
        p->records += flows[i].records;
        p->packets += flows[i].packets;
        p->bytes += flows[i].bytes;
        if (flows[i].first_s != FSG_FLOW_TIME_NONE &&
            (p->first_s == FSG_FLOW_TIME_NONE || flows[i].first_s < p->first_s)) {
            p->first_s = flows[i].first_s;
        }
        if (flows[i].last_s > p->last_s) {
            p->last_s = flows[i].last_s;
        }
    }
    return out;
}

enum fsg_err fsg_aggregate_result(struct fsg_aggregate *agg, enum fsg_direction_filter filter,
                                  const char *const *enis, size_t n_enis,
                                  struct fsg_flow **ret_flows, size_t *ret_n, struct fsg_error *err)
{
    enum fsg_err rc = fsg_aggregate_flush(agg, err);
    if (rc != FSG_OK) {
        return rc;
    }
    size_t n = fsg_hash_count(agg->flows);
    struct s_own *own = fsg_calloc(agg->n_enis + 1, sizeof *own);
    bool *wanted = fsg_calloc(agg->n_enis + 1, sizeof *wanted);
    struct fsg_flow *flows = fsg_calloc(n + 1, sizeof *flows);
    rc = FSG_E_NOMEM;
    if (own == NULL || wanted == NULL || flows == NULL || s_learn(agg, own) != FSG_OK) {
        goto out;
    }
    for (size_t i = 0; i < agg->n_enis; i++) {
        wanted[i] = s_wanted(agg->enis[i].name, enis, n_enis);
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const struct s_key *k = fsg_hash_key_at(agg->flows, i);
        if (wanted[k->eni] &&
            s_to_flow(agg, own, k, fsg_hash_value_at(agg->flows, i), filter, &flows[m])) {
            m++;
        }
    }
    m = s_sort_and_merge(flows, m);
    if (m == 0) {
        fsg_free(flows);
        flows = NULL;
    }
    *ret_flows = flows;
    *ret_n = m;
    flows = NULL;
    rc = FSG_OK;
out:
    fsg_free(flows);
    fsg_free(wanted);
    fsg_free(own);
    return rc == FSG_OK ? FSG_OK : s_limit(rc, err);
}
