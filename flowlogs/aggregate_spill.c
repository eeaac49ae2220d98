/* The aggregator's tables written out as sorted runs (flowlogs/spill.h) when they reach their
 * memory budget.
 *
 * Outside an object every entry goes to one run per table. Inside an object (between begin and
 * commit/rollback), entries are split: what was committed before the object (an entry the object
 * did not touch, or the value logged in the undo log for one it did) goes to an ordinary run, and
 * what the object added (its new entries, and for the entries it changed the difference: counts
 * minus the logged ones, first and last as they are now, which folds back to the same value since
 * first only goes down and last only up) goes to a run tagged with the object, which a rollback
 * drops and a commit keeps. A corrupt object's rows therefore never reach a kept run. */
#include <stdlib.h>
#include <string.h>

#include "flowlogs/aggregate.h"
#include "flowlogs/aggregate_internal.h"
#include "flowlogs/direction.h"
#include "lib/core/hash.h"
#include "lib/core/mem.h"

/* Class of an entry while it is spilled inside an object (kept in its value's pad_). */
#define S_COMMITTED 0u          /* written as it is, to the committed run */
#define S_OBJECT_ONLY UINT32_MAX /* added by the object: to the object's run */
/* anything else: 1 + the index of its logged value in the undo log */

static uint32_t s_be32(uint32_t native)
{
    uint8_t b[4];
    memcpy(b, &native, sizeof b);
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* The 40-byte key as a row key (rank bytes left zero: the merge sets them). */
static void s_row_key(const struct fsg_agg_key *k, uint8_t key[44])
{
    memset(key, 0, 44);
    key[4] = (k->flags & FSG_AGG_F_A_V6) != 0;
    memcpy(key + 5, k->a, 16);
    key[21] = (k->flags & FSG_AGG_F_B_V6) != 0;
    memcpy(key + 22, k->b, 16);
    key[38] = (uint8_t)(k->port >> 8);
    key[39] = (uint8_t)k->port;
    key[40] = k->proto;
    key[41] = (uint8_t)(k->flags & FSG_AGG_F_ACTION_MASK);
    key[42] = (uint8_t)((k->flags & FSG_AGG_F_RDIR_MASK) >> FSG_AGG_F_RDIR_SHIFT);
}

static int s_cmp4(const void *pa, const void *pb, void *ctx)
{
    const uint32_t *rank = ctx;
    const struct fsg_agg_key4 *a = pa, *b = pb;
    uint64_t ha = (uint64_t)rank[(uint32_t)a->w[1]] << 32 | s_be32((uint32_t)a->w[0]);
    uint64_t hb = (uint64_t)rank[(uint32_t)b->w[1]] << 32 | s_be32((uint32_t)b->w[0]);
    if (ha != hb) {
        return ha < hb ? -1 : 1;
    }
    /* responder, port, proto, then action before the record direction */
    uint64_t fa = a->w[1] >> 56, fb = b->w[1] >> 56;
    uint64_t la = (uint64_t)s_be32((uint32_t)(a->w[0] >> 32)) << 32 |
                  ((a->w[1] >> 32) & 0xffffu) << 16 | ((a->w[1] >> 48) & 0xffu) << 8 |
                  (fa & FSG_AGG_F_ACTION_MASK) << 2 | (fa & FSG_AGG_F_RDIR_MASK) >> 3;
    uint64_t lb = (uint64_t)s_be32((uint32_t)(b->w[0] >> 32)) << 32 |
                  ((b->w[1] >> 32) & 0xffffu) << 16 | ((b->w[1] >> 48) & 0xffu) << 8 |
                  (fb & FSG_AGG_F_ACTION_MASK) << 2 | (fb & FSG_AGG_F_RDIR_MASK) >> 3;
    return la < lb ? -1 : la > lb;
}

static int s_cmp6(const void *pa, const void *pb, void *ctx)
{
    const uint32_t *rank = ctx;
    const struct fsg_agg_key *a = pa, *b = pb;
    if (rank[a->eni] != rank[b->eni]) {
        return rank[a->eni] < rank[b->eni] ? -1 : 1;
    }
    uint8_t ka[44], kb[44];
    s_row_key(a, ka);
    s_row_key(b, kb);
    return memcmp(ka, kb, FSG_SPILL_KEY_LEN);
}

/* ---- an in-place sort of the table's entries ------------------------------------------------
 * (glibc's qsort takes a copy of the array for its merge sort when it can: as much memory again
 * as the table, which the budget does not have). Quicksort, median of three, the smaller side
 * first, insertion sort for short ranges, heapsort past a depth limit: O(n log n), no memory. */

typedef int(s_cmp_fn)(const void *, const void *, void *);

static void s_swap(uint8_t *a, uint8_t *b, size_t stride)
{
    for (size_t i = 0; i < stride; i += 8) { /* strides are multiples of 8 (lib/core/hash.h) */
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        memcpy(a + i, &y, 8);
        memcpy(b + i, &x, 8);
    }
}

static void s_sift(uint8_t *base, size_t i, size_t n, size_t stride, s_cmp_fn *cmp, void *ctx)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && cmp(base + l * stride, base + m * stride, ctx) > 0) {
            m = l;
        }
        if (l + 1 < n && cmp(base + (l + 1) * stride, base + m * stride, ctx) > 0) {
            m = l + 1;
        }
        if (m == i) {
            return;
        }
        s_swap(base + i * stride, base + m * stride, stride);
        i = m;
    }
}

static void s_heapsort(uint8_t *base, size_t n, size_t stride, s_cmp_fn *cmp, void *ctx)
{
    for (size_t i = n / 2; i-- > 0;) {
        s_sift(base, i, n, stride, cmp, ctx);
    }
    for (size_t k = n; k-- > 1;) {
        s_swap(base, base + k * stride, stride);
        s_sift(base, 0, k, stride, cmp, ctx);
    }
}

static void s_sort(uint8_t *base, size_t n, size_t stride, s_cmp_fn *cmp, void *ctx, int depth)
{
    while (n > 16) {
        if (depth-- == 0) {
            s_heapsort(base, n, stride, cmp, ctx);
            return;
        }
        uint8_t *lo = base, *mid = base + (n / 2) * stride, *hi = base + (n - 1) * stride;
        if (cmp(mid, lo, ctx) < 0) {
            s_swap(mid, lo, stride);
        }
        if (cmp(hi, mid, ctx) < 0) {
            s_swap(hi, mid, stride);
            if (cmp(mid, lo, ctx) < 0) {
                s_swap(mid, lo, stride);
            }
        }
        s_swap(mid, base, stride); /* the pivot at base */
        size_t i = 1, j = n - 1;
        for (;;) { /* Hoare partition around base */
            while (i <= j && cmp(base + i * stride, base, ctx) < 0) {
                i++;
            }
            while (j >= i && cmp(base + j * stride, base, ctx) > 0) {
                j--;
            }
            if (i >= j) {
                break;
            }
            s_swap(base + i * stride, base + j * stride, stride);
            i++;
            j--;
        }
        s_swap(base, base + j * stride, stride); /* pivot in place at j */
        size_t left = j, right = n - j - 1;
        if (left < right) {
            s_sort(base, left, stride, cmp, ctx, depth);
            base += (j + 1) * stride;
            n = right;
        } else {
            s_sort(base + (j + 1) * stride, right, stride, cmp, ctx, depth);
            n = left;
        }
    }
    for (size_t i = 1; i < n; i++) {
        for (size_t k = i; k > 0 && cmp(base + k * stride, base + (k - 1) * stride, ctx) < 0; k--) {
            s_swap(base + k * stride, base + (k - 1) * stride, stride);
        }
    }
}

struct s_named {
    const char *name;
    uint32_t id;
};

static int s_named_cmp(const void *pa, const void *pb)
{
    return strcmp(((const struct s_named *)pa)->name, ((const struct s_named *)pb)->name);
}

/* Each local ENI's rank in name order and its id in the store. */
static enum fsg_err s_ids(struct fsg_aggregate *agg, uint32_t *rank, uint32_t *gid)
{
    struct s_named *v = fsg_calloc(agg->n_enis + 1, sizeof *v);
    if (v == NULL) {
        return FSG_E_NOMEM;
    }
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; i < agg->n_enis && rc == FSG_OK; i++) {
        v[i] = (struct s_named){ .name = agg->enis[i].name, .id = (uint32_t)i };
        rc = fsg_spill_eni(agg->spill, agg->enis[i].name, &gid[i]);
    }
    qsort(v, agg->n_enis, sizeof *v, s_named_cmp);
    for (size_t i = 0; i < agg->n_enis; i++) {
        rank[v[i].id] = (uint32_t)i;
    }
    fsg_free(v);
    return rc;
}

static void s_row(const struct fsg_agg_key *k, const struct fsg_agg_val *v, const uint32_t *gid,
                  struct fsg_spill_row *r)
{
    s_row_key(k, r->key);
    r->eni = gid[k->eni];
    r->records = v->records;
    r->packets = v->packets;
    r->bytes = v->bytes;
    r->first = v->first == FSG_AGG_FIRST_NONE ? FSG_FLOW_TIME_NONE : v->first;
    r->last = v->last;
}

/* Marks each entry of table `v6` with its class (see S_COMMITTED). */
static void s_classify(struct fsg_aggregate *agg, bool v6)
{
    struct fsg_hash *t = v6 ? agg->flows : agg->flows4;
    size_t n = fsg_hash_count(t), mark = v6 ? agg->mark : agg->mark4;
    for (size_t i = 0; i < n; i++) {
        struct fsg_agg_val *v = fsg_hash_value_at(t, i);
        v->pad_ = !agg->in_object ? S_COMMITTED : i >= mark ? S_OBJECT_ONLY : S_COMMITTED;
    }
    for (size_t j = 0; agg->in_object && j < agg->n_undo; j++) {
        const struct fsg_agg_undo *u = &agg->undo[j];
        struct fsg_agg_val *v = u->is_v6 == v6 ? fsg_hash_find(t, &u->u, u->hash) : NULL;
        if (v != NULL) {
            v->pad_ = (uint32_t)j + 1;
        }
    }
}

/* Writes one run of table `v6` (sorted): the committed part, or the object's. */
static enum fsg_err s_write(struct fsg_aggregate *agg, bool v6, bool object, const uint32_t *gid,
                            struct fsg_spill_writer *w)
{
    struct fsg_hash *t = v6 ? agg->flows : agg->flows4;
    size_t n = fsg_hash_count(t), m = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = ((const struct fsg_agg_val *)fsg_hash_value_at(t, i))->pad_;
        m += object ? c != S_COMMITTED : c != S_OBJECT_ONLY;
    }
    if (m == 0) {
        return FSG_OK;
    }
    enum fsg_err rc = fsg_spill_run_begin(agg->spill, m, object ? agg->obj_tag : 0, w,
                                          &agg->spill_err);
    size_t n4 = fsg_hash_count(agg->flows4);
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        struct fsg_agg_key k;
        const struct fsg_agg_val *v;
        fsg_agg_entry(agg, v6 ? n4 + i : i, &k, &v);
        uint32_t c = v->pad_;
        struct fsg_agg_val val = *v;
        if (object ? c == S_COMMITTED : c == S_OBJECT_ONLY) {
            continue;
        }
        if (c != S_COMMITTED && c != S_OBJECT_ONLY) {
            const struct fsg_agg_val *old = &agg->undo[c - 1].old;
            if (object) {
                val.records -= old->records;
                val.packets -= old->packets;
                val.bytes -= old->bytes;
            } else {
                val = *old;
            }
        }
        struct fsg_spill_row row;
        s_row(&k, &val, gid, &row);
        rc = fsg_spill_run_put(w, &row, &agg->spill_err);
    }
    return rc == FSG_OK ? fsg_spill_run_end(w, &agg->spill_err) : rc;
}

static enum fsg_err s_spill_table(struct fsg_aggregate *agg, bool v6, const uint32_t *rank,
                                  const uint32_t *gid, struct fsg_spill_writer *w)
{
    struct fsg_hash *t = v6 ? agg->flows : agg->flows4;
    size_t n = fsg_hash_count(t);
    if (n == 0) {
        return FSG_OK;
    }
    s_classify(agg, v6);
    /* Sorted where they are: the entries live densely in insertion order (lib/core/hash.h), and
     * the table is cleared right after, so its index may go stale meanwhile. */
    if (n > 1) {
        uint8_t *base = (uint8_t *)fsg_hash_key_at(t, 0);
        size_t stride = (size_t)((const uint8_t *)fsg_hash_key_at(t, 1) - base);
        s_sort(base, n, stride, v6 ? s_cmp6 : s_cmp4, (void *)rank, 64);
    }
    enum fsg_err rc = s_write(agg, v6, false, gid, w);
    if (rc == FSG_OK && agg->in_object) {
        rc = s_write(agg, v6, true, gid, w);
    }
    fsg_hash_clear(t);
    return rc;
}

enum fsg_err fsg_agg_spill(struct fsg_aggregate *agg)
{
    if (agg->spill == NULL) {
        return fsg_error_set(&agg->spill_err, FSG_E_INTERNAL, "flow table: no spill store");
    }
    uint32_t *rank = fsg_calloc(2 * agg->n_enis + 1, sizeof *rank);
    struct fsg_spill_writer *w = fsg_calloc(1, sizeof *w);
    enum fsg_err rc = rank == NULL || w == NULL ? FSG_E_NOMEM : s_ids(agg, rank, rank + agg->n_enis);
    if (rc == FSG_OK && agg->in_object && agg->obj_tag == 0) {
        agg->obj_tag = fsg_spill_tag(agg->spill);
    }
    agg->obj_spilled = agg->obj_spilled || agg->in_object;
    if (rc == FSG_OK) {
        rc = s_spill_table(agg, false, rank, rank + agg->n_enis, w);
    }
    if (rc == FSG_OK) {
        rc = s_spill_table(agg, true, rank, rank + agg->n_enis, w);
    }
    agg->n_entries = fsg_aggregate_entries(agg);
    agg->mark4 = agg->mark = 0;
    agg->n_undo = 0;
    fsg_agg_update_check(agg);
    fsg_free(w);
    fsg_free(rank);
    if (rc == FSG_E_NOMEM) {
        fsg_error_set(&agg->spill_err, rc, "flow table: out of memory while spilling");
    }
    if (rc != FSG_OK) { /* rows may be lost: the whole run fails, not only this object */
        agg->broken = rc;
        fsg_agg_update_check(agg);
    }
    return rc;
}
