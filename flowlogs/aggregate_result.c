/* The flow table out of an aggregator: each ENI's own address learned, every row given its
 * direction (flowlogs/direction.h), filtered, sorted and merged. */
#include <stdlib.h>
#include <string.h>

#include "flowlogs/aggregate.h"
#include "flowlogs/aggregate_internal.h"
#include "flowlogs/direction.h"
#include "lib/hash.h"
#include "lib/mem.h"

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
static void s_tally_entry(const struct fsg_agg_key *k, const struct fsg_agg_val *v,
                          struct s_tally *out, size_t *n)
{
    enum fsg_rdir rdir = (enum fsg_rdir)((k->flags & FSG_AGG_F_RDIR_MASK) >> FSG_AGG_F_RDIR_SHIFT);
    if (rdir != FSG_RDIR_ARRIVING) {
        struct s_tally *t = &out[(*n)++];
        *t = (struct s_tally){ .eni = k->eni, .t = { .weight = v->records } };
        s_key_ip(k->a, (k->flags & FSG_AGG_F_A_V6) != 0, &t->t.addr);
    }
    if (rdir != FSG_RDIR_LEAVING) {
        struct s_tally *t = &out[(*n)++];
        *t = (struct s_tally){ .eni = k->eni,
                               .t = { .weight = v->records, .as_responder = v->records } };
        s_key_ip(k->b, (k->flags & FSG_AGG_F_B_V6) != 0, &t->t.addr);
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
    size_t n = fsg_aggregate_entries(agg);
    struct s_tally *t = fsg_calloc(n * 2 + 1, sizeof *t);
    if (t == NULL) {
        return FSG_E_NOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        struct fsg_agg_key k;
        const struct fsg_agg_val *v;
        fsg_agg_entry(agg, i, &k, &v);
        s_tally_entry(&k, v, t, &m);
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
        const struct fsg_agg_hint *h = agg->enis[i].hint;
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
    size_t n = fsg_aggregate_entries(agg);
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
        struct fsg_agg_key k;
        const struct fsg_agg_val *v;
        fsg_agg_entry(agg, i, &k, &v);
        if (wanted[k.eni] && s_to_flow(agg, own, &k, v, filter, &flows[m])) {
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
    return rc == FSG_OK ? FSG_OK : fsg_agg_error(rc, err);
}
