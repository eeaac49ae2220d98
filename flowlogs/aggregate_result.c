/* The flow table out of an aggregator: each ENI's own address learned, every row given its
 * direction (flowlogs/direction.h), filtered, sorted and merged. */
#include <stdlib.h>
#include <string.h>

#include "flowlogs/aggregate.h"
#include "flowlogs/aggregate_internal.h"
#include "flowlogs/direction.h"
#include "flowlogs/spill.h"
#include "lib/core/hash.h"
#include "lib/core/mem.h"

/* Each ENI's own address per family, from the config or learned from its records. */
struct s_own {
    struct fsg_ip v4, v6;
    bool has_v4, has_v6;
};

static void s_key_ip(const uint8_t bytes[16], bool v6, struct fsg_ip *ip)
{
    memcpy(ip->a, bytes, sizeof ip->a);
    ip->is_v6 = v6;
}

/* ---- each ENI's own address ---------------------------------------------------------------- */

/* Evidence per (eni, address), summed in a hash table; then the best address per ENI and family
 * is kept. fsg_direction_pick's order is total (the addresses of a group differ), so the result
 * does not depend on the order the table is walked in. */
struct s_tkey {
    uint32_t eni;
    uint8_t is_v6;
    uint8_t a[16];
    uint8_t pad[3]; /* zero: the key is hashed and compared as bytes */
};

struct s_tval {
    uint64_t weight;       /* records in which the address is (or could be) the ENI's */
    uint64_t as_responder; /* records in which it is the responder */
};

struct s_best {
    struct fsg_addr_tally t;
    bool has;
};

static enum fsg_err s_tally(struct fsg_hash *h, uint32_t eni, const uint8_t a[16], bool is_v6,
                            uint64_t weight, uint64_t as_responder)
{
    struct s_tkey k = { .eni = eni, .is_v6 = is_v6 };
    memcpy(k.a, a, sizeof k.a);
    struct s_tval *v;
    enum fsg_err rc = fsg_hash_upsert(h, &k, fsg_hash_bytes(&k, sizeof k, 0), (void **)&v, NULL);
    if (rc == FSG_OK) {
        v->weight += weight;
        v->as_responder += as_responder;
    }
    return rc;
}

/* Learning evidence from one entry (a request leg): when the record direction is known, the
 * ENI's side; otherwise both sides could be the ENI, and the responder is noted for ties. */
static enum fsg_err s_tally_entry(struct fsg_hash *h, const struct fsg_agg_key *k,
                                  const struct fsg_agg_val *v)
{
    enum fsg_rdir rdir = (enum fsg_rdir)((k->flags & FSG_AGG_F_RDIR_MASK) >> FSG_AGG_F_RDIR_SHIFT);
    enum fsg_err rc = FSG_OK;
    if (rdir != FSG_RDIR_ARRIVING) {
        rc = s_tally(h, k->eni, k->a, (k->flags & FSG_AGG_F_A_V6) != 0, v->records, 0);
    }
    if (rc == FSG_OK && rdir != FSG_RDIR_LEAVING) {
        rc = s_tally(h, k->eni, k->b, (k->flags & FSG_AGG_F_B_V6) != 0, v->records, v->records);
    }
    return rc;
}

/* Keeps the better of the current best and the candidate. */
static void s_consider(struct s_best *best, const struct fsg_addr_tally *cand)
{
    struct fsg_addr_tally pair[2] = { *cand, best->t };
    if (!best->has || fsg_direction_pick(pair, 2) == &pair[0]) {
        best->t = *cand;
        best->has = true;
    }
}

static enum fsg_err s_learn(const struct fsg_aggregate *agg, struct s_own *own)
{
    size_t n = fsg_aggregate_entries(agg);
    struct fsg_hash *h = NULL;
    struct s_best *best = fsg_calloc(agg->n_enis * 2 + 1, sizeof *best);
    struct fsg_hash_options ho = { .key_size = sizeof(struct s_tkey),
                                   .value_size = sizeof(struct s_tval),
                                   .initial_capacity = n + 1 };
    enum fsg_err rc = best == NULL ? FSG_E_NOMEM : fsg_hash_new(&ho, &h, NULL);
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        struct fsg_agg_key k;
        const struct fsg_agg_val *v;
        fsg_agg_entry(agg, i, &k, &v);
        rc = s_tally_entry(h, &k, v);
    }
    size_t m = rc == FSG_OK ? fsg_hash_count(h) : 0;
    for (size_t i = 0; i < m; i++) {
        const struct s_tkey *k = fsg_hash_key_at(h, i);
        const struct s_tval *v = fsg_hash_value_at(h, i);
        struct fsg_addr_tally cand = { .weight = v->weight, .as_responder = v->as_responder };
        s_key_ip(k->a, k->is_v6 != 0, &cand.addr);
        s_consider(&best[k->eni * 2 + k->is_v6], &cand);
    }
    for (size_t i = 0; i < agg->n_enis && rc == FSG_OK; i++) {
        own[i] = (struct s_own){ .v4 = best[2 * i].t.addr, .has_v4 = best[2 * i].has,
                                 .v6 = best[2 * i + 1].t.addr, .has_v6 = best[2 * i + 1].has };
        /* Configured addresses win over learned ones. */
        const struct fsg_agg_hint *hint = agg->enis[i].hint;
        for (size_t j = 0; hint != NULL && j < hint->n_addrs; j++) {
            bool v6 = hint->addrs[j].is_v6;
            *(v6 ? &own[i].v6 : &own[i].v4) = hint->addrs[j];
            *(v6 ? &own[i].has_v6 : &own[i].has_v4) = true;
        }
    }
    fsg_hash_destroy(h);
    fsg_free(best);
    return rc;
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

bool fsg_eni_selected(const char *eni, const char *const *enis, size_t n_enis)
{
    for (size_t i = 0; i < n_enis; i++) {
        if (strncmp(eni, enis[i], FSG_ENI_ID_MAX) == 0) {
            return true;
        }
    }
    return n_enis == 0;
}

/* The flow for one entry, or false when the filter drops it. */
static bool s_to_flow(const struct fsg_aggregate *agg, const struct s_own *own,
                      const struct fsg_agg_key *k, const struct fsg_agg_val *v,
                      enum fsg_direction_filter filter, struct fsg_flow *f)
{
    struct fsg_ip a, b;
    s_key_ip(k->a, (k->flags & FSG_AGG_F_A_V6) != 0, &a);
    s_key_ip(k->b, (k->flags & FSG_AGG_F_B_V6) != 0, &b);
    const struct s_own *o = &own[k->eni];
    enum fsg_rdir rdir = (enum fsg_rdir)((k->flags & FSG_AGG_F_RDIR_MASK) >> FSG_AGG_F_RDIR_SHIFT);
    enum fsg_verdict verdict = fsg_direction_verdict(
        FSG_LEG_REQUEST, rdir, &a, &b, o->has_v4 ? &o->v4 : NULL, o->has_v6 ? &o->v6 : NULL);
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
        .action = (uint8_t)(k->flags & FSG_AGG_F_ACTION_MASK),
        .direction = verdict == FSG_VERDICT_INGRESS ? FSG_FLOW_INGRESS : FSG_FLOW_EGRESS,
        .records = v->records,
        .packets = v->packets,
        .bytes = v->bytes,
        .first_s = v->first == FSG_AGG_FIRST_NONE ? FSG_FLOW_TIME_NONE : v->first,
        .last_s = v->last,
    };
    memcpy(f->eni, agg->enis[k->eni].name, sizeof f->eni);
    return true;
}

/* ---- sorting ----------------------------------------------------------------------------------
 */

/* A flow's place in the order of fsg_flow_cmp as six big-endian words compared as integers: the
 * ENI's rank among the names, then each address (family first), port, proto, action, direction.
 * Sorting these (not the flows, with strcmp and memcmp in every comparison) is the last serial
 * step of a run. */
struct s_sortkey {
    uint64_t k[6];
    size_t idx;
};

static uint64_t s_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void s_sortkey_init(const struct fsg_flow *f, uint32_t rank, size_t idx,
                           struct s_sortkey *sk)
{
    uint8_t b[48] = { (uint8_t)(rank >> 24), (uint8_t)(rank >> 16), (uint8_t)(rank >> 8),
                      (uint8_t)rank, f->src.is_v6 };
    memcpy(b + 5, f->src.a, 16);
    b[21] = f->dst.is_v6;
    memcpy(b + 22, f->dst.a, 16);
    b[38] = (uint8_t)(f->port >> 8);
    b[39] = (uint8_t)f->port;
    b[40] = f->proto;
    b[41] = f->action;
    b[42] = f->direction;
    for (int i = 0; i < 6; i++) {
        sk->k[i] = s_be64(b + 8 * i);
    }
    sk->idx = idx;
}

static int s_sortkey_cmp(const void *pa, const void *pb)
{
    const struct s_sortkey *a = pa, *b = pb;
    for (int i = 0; i < 6; i++) {
        if (a->k[i] != b->k[i]) {
            return a->k[i] < b->k[i] ? -1 : 1;
        }
    }
    return 0;
}

static bool s_sortkey_eq(const struct s_sortkey *a, const struct s_sortkey *b)
{
    return memcmp(a->k, b->k, sizeof a->k) == 0;
}

struct s_named {
    const char *name;
    uint32_t id;
};

static int s_named_cmp(const void *pa, const void *pb)
{
    return strcmp(((const struct s_named *)pa)->name, ((const struct s_named *)pb)->name);
}

/* Each ENI's rank in name order (strcmp, as fsg_flow_cmp). Names equal as C strings share a
 * rank (an id cut at a NUL byte), so their rows merge as fsg_flow_cmp sees them. */
static enum fsg_err s_ranks(const struct fsg_aggregate *agg, uint32_t *rank)
{
    struct s_named *v = fsg_calloc(agg->n_enis + 1, sizeof *v);
    if (v == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t i = 0; i < agg->n_enis; i++) {
        v[i] = (struct s_named){ .name = agg->enis[i].name, .id = (uint32_t)i };
    }
    qsort(v, agg->n_enis, sizeof *v, s_named_cmp);
    uint32_t r = 0;
    for (size_t i = 0; i < agg->n_enis; i++) {
        if (i > 0 && s_named_cmp(&v[i - 1], &v[i]) != 0) {
            r++;
        }
        rank[v[i].id] = r;
    }
    fsg_free(v);
    return FSG_OK;
}

/* Folds b into a (same key). */
static void s_flow_fold(struct fsg_flow *a, const struct fsg_flow *b)
{
    a->records += b->records;
    a->packets += b->packets;
    a->bytes += b->bytes;
    if (b->first_s != FSG_FLOW_TIME_NONE &&
        (a->first_s == FSG_FLOW_TIME_NONE || b->first_s < a->first_s)) {
        a->first_s = b->first_s;
    }
    if (b->last_s > a->last_s) {
        a->last_s = b->last_s;
    }
}

/* The flows sorted into out (n entries of room), with entries that became equal (the same
 * connection seen through different record directions or formats) summed. Returns the count. */
static size_t s_sort_and_merge(const struct fsg_flow *flows, struct s_sortkey *keys, size_t n,
                               struct fsg_flow *out)
{
    qsort(keys, n, sizeof *keys, s_sortkey_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && s_sortkey_eq(&keys[i - 1], &keys[i])) {
            s_flow_fold(&out[m - 1], &flows[keys[i].idx]);
        } else {
            out[m++] = flows[keys[i].idx];
        }
    }
    return m;
}

/* The flow table from the in-memory tables alone (no runs on disk). */
static enum fsg_err s_result_mem(struct fsg_aggregate *agg, enum fsg_direction_filter filter,
                                 const char *const *enis, size_t n_enis,
                                 struct fsg_flow **ret_flows, size_t *ret_n, struct fsg_error *err)
{
    enum fsg_err rc = fsg_aggregate_flush(agg, err);
    if (rc != FSG_OK) {
        return rc;
    }
    size_t n = fsg_aggregate_entries(agg);
    struct s_own *own = fsg_calloc(agg->n_enis + 1, sizeof *own);
    bool *wanted = fsg_calloc(agg->n_enis + 1, sizeof *wanted);
    uint32_t *rank = fsg_calloc(agg->n_enis + 1, sizeof *rank);
    struct fsg_flow *flows = fsg_calloc(n + 1, sizeof *flows);
    struct s_sortkey *keys = fsg_calloc(n + 1, sizeof *keys);
    struct fsg_flow *out = NULL;
    rc = FSG_E_NOMEM;
    if (own == NULL || wanted == NULL || rank == NULL || flows == NULL || keys == NULL ||
        s_learn(agg, own) != FSG_OK || s_ranks(agg, rank) != FSG_OK) {
        goto out;
    }
    for (size_t i = 0; i < agg->n_enis; i++) {
        wanted[i] = fsg_eni_selected(agg->enis[i].name, enis, n_enis);
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        struct fsg_agg_key k;
        const struct fsg_agg_val *v;
        fsg_agg_entry(agg, i, &k, &v);
        if (wanted[k.eni] && s_to_flow(agg, own, &k, v, filter, &flows[m])) {
            s_sortkey_init(&flows[m], rank[k.eni], m, &keys[m]);
            m++;
        }
    }
    if (m > 0) {
        out = fsg_calloc(m, sizeof *out);
        if (out == NULL) {
            goto out;
        }
        m = s_sort_and_merge(flows, keys, m, out);
    }
    *ret_flows = out;
    *ret_n = m;
    out = NULL;
    rc = FSG_OK;
out:
    fsg_free(out);
    fsg_free(keys);
    fsg_free(flows);
    fsg_free(rank);
    fsg_free(wanted);
    fsg_free(own);
    return rc == FSG_OK ? FSG_OK : fsg_agg_error(rc, err);
}

/* ---- one row at a time, over the runs on disk --------------------------------------------- */

/* Bytes per entry fsg_aggregate_result's arrays take besides the table (flows, sort keys, the
 * result, the learning table): under a budget, a table that would take more is merged from disk
 * instead. */
#define S_RESULT_BYTES_PER_ENTRY 320

struct fsg_flow_iter {
    struct fsg_flow *flows; /* the array (no runs) */
    size_t n, i;
    bool merging; /* otherwise the array */
    enum fsg_direction_filter filter;
    struct fsg_spill *sp;
    struct fsg_spill_merge *m;
    const char (*names)[FSG_ENI_ID_MAX];
    size_t n_names;
    uint32_t *rank;
    bool *wanted;
    struct s_own *own;
    struct fsg_spill_row next;
    bool has_next;
    struct fsg_flow out[2]; /* the group's ingress and egress rows */
    bool has_out[2];
    int i_out;
    struct fsg_flow cur;
};

void fsg_aggregate_flows_close(struct fsg_flow_iter *it)
{
    if (it == NULL) {
        return;
    }
    fsg_free(it->flows);
    fsg_spill_merge_close(it->m);
    fsg_free(it->rank);
    fsg_free(it->wanted);
    fsg_free(it->own);
    fsg_free(it);
}

static const struct fsg_agg_hint *s_hint_named(const struct fsg_aggregate *agg, const char *name)
{
    for (size_t i = 0; i < agg->n_hints; i++) {
        if (strcmp(agg->hints[i].eni, name) == 0) {
            return &agg->hints[i];
        }
    }
    return NULL;
}

/* Ranks of the store's ENI names (strcmp order; the store's names are distinct C strings). */
static enum fsg_err s_store_ranks(struct fsg_flow_iter *it)
{
    struct s_named *v = fsg_calloc(it->n_names + 1, sizeof *v);
    if (v == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t i = 0; i < it->n_names; i++) {
        v[i] = (struct s_named){ .name = it->names[i], .id = (uint32_t)i };
    }
    qsort(v, it->n_names, sizeof *v, s_named_cmp);
    for (size_t i = 0; i < it->n_names; i++) {
        it->rank[v[i].id] = (uint32_t)i;
    }
    fsg_free(v);
    return FSG_OK;
}

struct s_bval {
    uint64_t weight;
    uint64_t as_responder;
    uint64_t seen;
};

/* Pass 1: the responder side of the learning evidence (s_tally_entry), summed per (ENI,
 * address) in a table: responders are the servers, few. */
static enum fsg_err s_learn_responders(struct fsg_flow_iter *it, struct fsg_hash *h,
                                       struct fsg_error *err)
{
    struct fsg_spill_merge *m = NULL;
    enum fsg_err rc = fsg_spill_merge_open(it->sp, it->rank, &m, err);
    bool more = rc == FSG_OK;
    while (more) {
        struct fsg_spill_row r;
        rc = fsg_spill_merge_next(m, &r, &more, err);
        if (rc != FSG_OK || !more || r.key[42] == FSG_RDIR_LEAVING) {
            continue;
        }
        struct s_tkey k = { .eni = r.eni, .is_v6 = r.key[21] };
        memcpy(k.a, r.key + 22, sizeof k.a);
        struct s_bval *v;
        rc = fsg_hash_upsert(h, &k, fsg_hash_bytes(&k, sizeof k, 0), (void **)&v, NULL);
        if (rc != FSG_OK) {
            rc = fsg_error_set(err, rc, "flow aggregation: out of memory");
            break;
        }
        v->weight += r.records;
        v->as_responder += r.records;
    }
    fsg_spill_merge_close(m);
    return rc;
}

/* The candidate (ENI, address) whose initiator-side weight is `weight`, with its responder side
 * from h. */
static void s_consider_initiator(const struct s_tkey *k, uint64_t weight, struct fsg_hash *h,
                                 struct s_best *best)
{
    struct fsg_addr_tally cand = { .weight = weight };
    s_key_ip(k->a, k->is_v6 != 0, &cand.addr);
    struct s_bval *b = fsg_hash_find(h, k, fsg_hash_bytes(k, sizeof *k, 0));
    if (b != NULL) {
        cand.weight += b->weight;
        cand.as_responder = b->as_responder;
        b->seen = 1;
    }
    s_consider(&best[k->eni * 2 + k->is_v6], &cand);
}

/* Pass 2: the initiator side, summed as the rows come (they are ordered by ENI, then initiator). */
static enum fsg_err s_learn_initiators(struct fsg_flow_iter *it, struct fsg_hash *h,
                                       struct s_best *best, struct fsg_error *err)
{
    struct fsg_spill_merge *m = NULL;
    enum fsg_err rc = fsg_spill_merge_open(it->sp, it->rank, &m, err);
    struct s_tkey cur = { 0 };
    uint64_t weight = 0;
    bool has = false, more = rc == FSG_OK;
    while (more) {
        struct fsg_spill_row r;
        rc = fsg_spill_merge_next(m, &r, &more, err);
        if (rc != FSG_OK || !more) {
            break;
        }
        if (has && (cur.eni != r.eni || cur.is_v6 != r.key[4] ||
                    memcmp(cur.a, r.key + 5, sizeof cur.a) != 0)) {
            s_consider_initiator(&cur, weight, h, best);
            has = false;
        }
        if (r.key[42] != FSG_RDIR_ARRIVING) {
            if (!has) {
                cur = (struct s_tkey){ .eni = r.eni, .is_v6 = r.key[4] };
                memcpy(cur.a, r.key + 5, sizeof cur.a);
                weight = 0;
                has = true;
            }
            weight += r.records;
        }
    }
    if (rc == FSG_OK && has) {
        s_consider_initiator(&cur, weight, h, best);
    }
    fsg_spill_merge_close(m);
    return rc;
}

/* Each ENI's own address (as s_learn, over the runs). */
static enum fsg_err s_learn_runs(const struct fsg_aggregate *agg, struct fsg_flow_iter *it,
                                 struct fsg_error *err)
{
    struct fsg_hash *h = NULL;
    struct s_best *best = fsg_calloc(it->n_names * 2 + 1, sizeof *best);
    struct fsg_hash_options ho = { .key_size = sizeof(struct s_tkey),
                                   .value_size = sizeof(struct s_bval) };
    enum fsg_err rc = best == NULL ? FSG_E_NOMEM : fsg_hash_new(&ho, &h, NULL);
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "flow aggregation: out of memory");
    }
    if (rc == FSG_OK) {
        rc = s_learn_responders(it, h, err);
    }
    if (rc == FSG_OK) {
        rc = s_learn_initiators(it, h, best, err);
    }
    size_t m = rc == FSG_OK ? fsg_hash_count(h) : 0;
    for (size_t i = 0; i < m; i++) {
        const struct s_tkey *k = fsg_hash_key_at(h, i);
        const struct s_bval *v = fsg_hash_value_at(h, i);
        if (v->seen == 0) {
            struct fsg_addr_tally cand = { .weight = v->weight, .as_responder = v->as_responder };
            s_key_ip(k->a, k->is_v6 != 0, &cand.addr);
            s_consider(&best[k->eni * 2 + k->is_v6], &cand);
        }
    }
    for (size_t i = 0; i < it->n_names && rc == FSG_OK; i++) {
        struct s_own *o = &it->own[i];
        *o = (struct s_own){ .v4 = best[2 * i].t.addr, .has_v4 = best[2 * i].has,
                             .v6 = best[2 * i + 1].t.addr, .has_v6 = best[2 * i + 1].has };
        const struct fsg_agg_hint *hint = s_hint_named(agg, it->names[i]);
        for (size_t j = 0; hint != NULL && j < hint->n_addrs; j++) {
            bool v6 = hint->addrs[j].is_v6;
            *(v6 ? &o->v6 : &o->v4) = hint->addrs[j];
            *(v6 ? &o->has_v6 : &o->has_v4) = true;
        }
    }
    fsg_hash_destroy(h);
    fsg_free(best);
    return rc;
}

static enum fsg_err s_open_merge(struct fsg_aggregate *agg, struct fsg_flow_iter *it,
                                 const char *const *enis, size_t n_enis, struct fsg_error *err)
{
    enum fsg_err rc = fsg_aggregate_spill(agg, err);
    if (rc != FSG_OK) {
        return rc;
    }
    it->merging = true;
    it->sp = agg->spill;
    it->names = fsg_spill_names(it->sp, &it->n_names);
    it->rank = fsg_calloc(it->n_names + 1, sizeof *it->rank);
    it->wanted = fsg_calloc(it->n_names + 1, sizeof *it->wanted);
    it->own = fsg_calloc(it->n_names + 1, sizeof *it->own);
    if (it->rank == NULL || it->wanted == NULL || it->own == NULL ||
        s_store_ranks(it) != FSG_OK) {
        return fsg_error_set(err, FSG_E_NOMEM, "flow aggregation: out of memory");
    }
    for (size_t i = 0; i < it->n_names; i++) {
        it->wanted[i] = fsg_eni_selected(it->names[i], enis, n_enis);
    }
    rc = s_learn_runs(agg, it, err);
    if (rc == FSG_OK) {
        rc = fsg_spill_merge_open(it->sp, it->rank, &it->m, err);
    }
    if (rc == FSG_OK) {
        rc = fsg_spill_merge_next(it->m, &it->next, &it->has_next, err);
    }
    return rc;
}

enum fsg_err fsg_aggregate_flows_open(struct fsg_aggregate *agg, enum fsg_direction_filter filter,
                                      const char *const *enis, size_t n_enis,
                                      struct fsg_flow_iter **ret_it, struct fsg_error *err)
{
    enum fsg_err rc = fsg_aggregate_status(agg, err);
    if (rc == FSG_OK) {
        rc = fsg_aggregate_flush(agg, err);
    }
    struct fsg_flow_iter *it = rc == FSG_OK ? fsg_calloc(1, sizeof *it) : NULL;
    if (rc != FSG_OK) {
        return rc;
    }
    if (it == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "flow aggregation: out of memory");
    }
    it->filter = filter;
    size_t need = fsg_aggregate_table_bytes(agg) +
                  fsg_aggregate_entries(agg) * (size_t)S_RESULT_BYTES_PER_ENTRY;
    if (agg->spill == NULL || agg->memory == 0 ||
        (fsg_spill_runs(agg->spill) == 0 && need <= agg->memory)) {
        rc = s_result_mem(agg, filter, enis, n_enis, &it->flows, &it->n, err);
    } else {
        rc = s_open_merge(agg, it, enis, n_enis, err);
    }
    if (rc != FSG_OK) {
        fsg_aggregate_flows_close(it);
        return rc;
    }
    *ret_it = it;
    return FSG_OK;
}

/* Folds one row into the group's ingress or egress flow (or drops it as s_to_flow does). */
static void s_group_add(struct fsg_flow_iter *it, const struct fsg_spill_row *r)
{
    if (!it->wanted[r->eni]) {
        return;
    }
    struct fsg_ip a, b;
    s_key_ip(r->key + 5, r->key[4] != 0, &a);
    s_key_ip(r->key + 22, r->key[21] != 0, &b);
    const struct s_own *o = &it->own[r->eni];
    enum fsg_verdict verdict =
        fsg_direction_verdict(FSG_LEG_REQUEST, (enum fsg_rdir)r->key[42], &a, &b,
                              o->has_v4 ? &o->v4 : NULL, o->has_v6 ? &o->v6 : NULL);
    if (verdict == FSG_VERDICT_RETURN ||
        (it->filter == FSG_DIRECTION_INGRESS && verdict != FSG_VERDICT_INGRESS) ||
        (it->filter == FSG_DIRECTION_EGRESS && verdict != FSG_VERDICT_EGRESS)) {
        return;
    }
    int d = verdict == FSG_VERDICT_INGRESS ? FSG_FLOW_INGRESS : FSG_FLOW_EGRESS;
    struct fsg_flow f = {
        .src = a,
        .dst = b,
        .port = (uint16_t)(r->key[38] << 8 | r->key[39]),
        .proto = r->key[40],
        .action = r->key[41],
        .direction = (uint8_t)d,
        .records = r->records,
        .packets = r->packets,
        .bytes = r->bytes,
        .first_s = r->first,
        .last_s = r->last,
    };
    memcpy(f.eni, it->names[r->eni], sizeof f.eni);
    if (it->has_out[d]) {
        s_flow_fold(&it->out[d], &f);
    } else {
        it->out[d] = f;
        it->has_out[d] = true;
    }
}

enum fsg_err fsg_aggregate_flows_next(struct fsg_flow_iter *it, const struct fsg_flow **ret_flow,
                                      struct fsg_error *err)
{
    *ret_flow = NULL;
    if (!it->merging) {
        if (it->i < it->n) {
            *ret_flow = &it->flows[it->i++];
        }
        return FSG_OK;
    }
    for (;;) {
        for (; it->i_out < 2; it->i_out++) {
            if (it->has_out[it->i_out]) {
                it->has_out[it->i_out] = false;
                it->cur = it->out[it->i_out++];
                *ret_flow = &it->cur;
                return FSG_OK;
            }
        }
        if (!it->has_next) {
            return FSG_OK;
        }
        /* one group: the rows that differ only in their record direction */
        uint8_t group[FSG_SPILL_KEY_LEN - 1];
        memcpy(group, it->next.key, sizeof group);
        it->i_out = 0;
        while (it->has_next && memcmp(it->next.key, group, sizeof group) == 0) {
            s_group_add(it, &it->next);
            enum fsg_err rc = fsg_spill_merge_next(it->m, &it->next, &it->has_next, err);
            if (rc != FSG_OK) {
                return rc;
            }
        }
    }
}

enum fsg_err fsg_aggregate_result(struct fsg_aggregate *agg, enum fsg_direction_filter filter,
                                  const char *const *enis, size_t n_enis,
                                  struct fsg_flow **ret_flows, size_t *ret_n, struct fsg_error *err)
{
    enum fsg_err st = fsg_aggregate_status(agg, err);
    if (st != FSG_OK) {
        return st;
    }
    if (agg->spill == NULL || fsg_spill_runs(agg->spill) == 0) {
        return s_result_mem(agg, filter, enis, n_enis, ret_flows, ret_n, err);
    }
    struct fsg_flow_iter *it = NULL;
    struct fsg_flow *v = NULL;
    size_t n = 0, cap = 0;
    enum fsg_err rc = fsg_aggregate_flows_open(agg, filter, enis, n_enis, &it, err);
    const struct fsg_flow *f = NULL;
    while (rc == FSG_OK && (rc = fsg_aggregate_flows_next(it, &f, err)) == FSG_OK && f != NULL) {
        if (n == cap) {
            cap = cap == 0 ? 256 : cap * 2;
            struct fsg_flow *w = fsg_reallocarray(v, cap, sizeof *w);
            if (w == NULL) {
                rc = fsg_error_set(err, FSG_E_NOMEM, "flow aggregation: out of memory");
                break;
            }
            v = w;
        }
        v[n++] = *f;
    }
    fsg_aggregate_flows_close(it);
    if (rc != FSG_OK) {
        fsg_free(v);
        return rc;
    }
    if (n == 0) {
        fsg_free(v);
        v = NULL;
    }
    *ret_flows = v;
    *ret_n = n;
    return FSG_OK;
}
