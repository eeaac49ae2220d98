/* flowlogs/spill + the aggregator's memory budget: a table held in a tiny budget (spilled to
 * sorted runs, merged on output) gives exactly the table of an unbounded one, with every
 * direction filter, an ENI filter, config hints, IPv6, objects rolled back after they spilled,
 * sibling tables merged, and more runs than one merge reads at once. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "flowlogs/aggregate.h"
#include "flowlogs/direction.h"
#include "flowlogs/spill.h"
#include "lib/core/buf.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"

static uint64_t s_rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void s_ip(const char *text, struct fsg_ip *ip)
{
    if (fsg_ip_parse(fsg_span_from_cstr(text), ip) != FSG_OK) {
        fprintf(stderr, "bad test address %s\n", text);
    }
}

/* A random record: clients of a few database ENIs (some with flow-direction and tcp-flags, some
 * IPv6), their return traffic, the ENIs' own outbound connections. */
static void s_record(uint64_t *s, struct fsg_flowlog_record *rec, char eni[16])
{
    uint64_t r = s_rnd(s);
    unsigned e = (unsigned)(r % 5), client = (unsigned)((r >> 8) % 3000), kind = (r >> 24) % 10;
    bool v6 = (r >> 32) % 8 == 0, v5 = (r >> 36) % 2 == 0;
    snprintf(eni, 16, "eni-%02u", e);
    char own[64], other[64];
    if (v6) {
        snprintf(own, sizeof own, "2001:db8::%x", e + 1);
        snprintf(other, sizeof other, "2001:db8:1::%x", client + 1);
    } else {
        snprintf(own, sizeof own, "10.0.0.%u", e + 1);
        snprintf(other, sizeof other, "10.1.%u.%u", client / 200, client % 200 + 1);
    }
    *rec = (struct fsg_flowlog_record){
        .interface_id = fsg_span_from_cstr(eni),
        .has_addrs = true,
        .protocol = kind == 9 ? 17 : 6,
        .tcp_flags = v5 ? 2 : -1,
        .action = (r >> 40) % 10 == 0 ? FSG_FLOW_REJECT : FSG_FLOW_ACCEPT,
        .packets = (r >> 44) % 50 + 1,
        .bytes = (r >> 20) % 100000,
        .start_s = (r >> 48) % 7 == 0 ? FSG_FLOW_TIME_NONE : (int64_t)(1000 + (r >> 50) % 500),
        .end_s = (r >> 52) % 7 == 0 ? FSG_FLOW_TIME_NONE : (int64_t)(2000 + (r >> 54) % 500),
    };
    if (kind < 6) { /* a client to the database */
        s_ip(other, &rec->srcaddr);
        s_ip(own, &rec->dstaddr);
        rec->srcport = (uint16_t)(32768 + (r >> 12) % 20000);
        rec->dstport = 5432;
        rec->flow_direction = v5 ? FSG_FLOWLOG_DIR_INGRESS : FSG_FLOWLOG_DIR_NONE;
    } else if (kind < 8) { /* the answer: return traffic */
        s_ip(own, &rec->srcaddr);
        s_ip(other, &rec->dstaddr);
        rec->srcport = 5432;
        rec->dstport = (uint16_t)(32768 + (r >> 12) % 20000);
        rec->tcp_flags = v5 ? 18 : -1;
        rec->flow_direction = v5 ? FSG_FLOWLOG_DIR_EGRESS : FSG_FLOWLOG_DIR_NONE;
    } else { /* the ENI's own connection out */
        s_ip(own, &rec->srcaddr);
        s_ip(other, &rec->dstaddr);
        rec->srcport = (uint16_t)(40000 + (r >> 12) % 20000);
        rec->dstport = kind == 9 ? 53 : 443;
        rec->flow_direction = v5 ? FSG_FLOWLOG_DIR_EGRESS : FSG_FLOWLOG_DIR_NONE;
    }
}

static int s_add(struct fsg_aggregate *agg, uint64_t seed, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct fsg_flowlog_record rec;
        char eni[16];
        s_record(&seed, &rec, eni);
        T_OK(fsg_aggregate_add(agg, &rec, FSG_SPAN_NULL, NULL));
    }
    return 0;
}

/* The table as text, from the array API or the iterator. */
static int s_table(struct fsg_aggregate *agg, enum fsg_direction_filter f, const char *const *enis,
                   size_t n_enis, bool iterate, struct fsg_buf *out)
{
    struct fsg_flow *flows = NULL;
    size_t n = 0;
    struct fsg_flow_iter *it = NULL;
    if (iterate) {
        T_OK(fsg_aggregate_flows_open(agg, f, enis, n_enis, &it, NULL));
    } else {
        T_OK(fsg_aggregate_result(agg, f, enis, n_enis, &flows, &n, NULL));
    }
    for (size_t i = 0;; i++) {
        const struct fsg_flow *fl = NULL;
        if (iterate) {
            T_OK(fsg_aggregate_flows_next(it, &fl, NULL));
        } else if (i < n) {
            fl = &flows[i];
        }
        if (fl == NULL) {
            break;
        }
        char s[FSG_IP_STR_MAX], d[FSG_IP_STR_MAX];
        T_OK(fsg_buf_printf(out, "%s %s %s %u %u %u %u %" PRIu64 " %" PRIu64 " %" PRIu64
                                 " %" PRId64 " %" PRId64 "\n",
                            fl->eni, fsg_ip_format(&fl->src, s), fsg_ip_format(&fl->dst, d),
                            (unsigned)fl->port, (unsigned)fl->proto, (unsigned)fl->action,
                            (unsigned)fl->direction, fl->records, fl->packets, fl->bytes,
                            fl->first_s, fl->last_s));
    }
    fsg_aggregate_flows_close(it);
    fsg_free(flows);
    return 0;
}

/* Both tables equal for every filter (and the iterator equal to the array). */
static int s_same_tables(struct fsg_aggregate *ref, struct fsg_aggregate *agg)
{
    static const char *const two[] = { "eni-01", "eni-03" };
    for (int f = 0; f < 3; f++) {
        for (int with_enis = 0; with_enis < 2; with_enis++) {
            struct fsg_buf a = FSG_BUF_INIT, b = FSG_BUF_INIT, c = FSG_BUF_INIT;
            const char *const *enis = with_enis ? two : NULL;
            size_t n = with_enis ? 2 : 0;
            T_CHECK(s_table(ref, (enum fsg_direction_filter)f, enis, n, false, &a) == 0);
            T_CHECK(s_table(agg, (enum fsg_direction_filter)f, enis, n, false, &b) == 0);
            T_CHECK(s_table(agg, (enum fsg_direction_filter)f, enis, n, true, &c) == 0);
            T_CHECK(a.len > 0);
            T_STR_EQ(fsg_buf_cstr(&b), fsg_buf_cstr(&a));
            T_STR_EQ(fsg_buf_cstr(&c), fsg_buf_cstr(&a));
            fsg_buf_clean_up(&a);
            fsg_buf_clean_up(&b);
            fsg_buf_clean_up(&c);
        }
    }
    return 0;
}

static const struct fsg_eni_hint *s_hints(size_t *n)
{
    static struct fsg_ip addrs[2];
    static struct fsg_eni_hint hints[2];
    s_ip("10.0.0.1", &addrs[0]);
    s_ip("2001:db8::1", &addrs[1]);
    hints[0] = (struct fsg_eni_hint){ .eni = "eni-00", .addrs = addrs, .n_addrs = 2 };
    hints[1] = (struct fsg_eni_hint){ .eni = "eni-02", .service_port = 5432 };
    *n = 2;
    return hints;
}

/* Objects read into a table of a few KiB: every fifth fails after it spilled rows and is rolled
 * back; the table equals one that never saw the failed objects. */
static int s_spilled_equals_unbounded(void)
{
    struct fsg_aggregate_options o = { 0 };
    o.hints = s_hints(&o.n_hints);
    struct fsg_aggregate *ref = NULL, *agg = NULL;
    T_OK(fsg_aggregate_new(&o, &ref, NULL));
    T_OK(fsg_aggregate_new(&o, &agg, NULL));
    T_OK(fsg_aggregate_set_memory(agg, 1, NULL)); /* spill at every growth */
    for (uint64_t obj = 1; obj <= 240; obj++) {
        uint64_t seed = obj * 0x9e3779b97f4a7c15ULL;
        size_t n = 200 + (size_t)(obj % 7) * 150;
        fsg_aggregate_begin(agg);
        T_CHECK(s_add(agg, seed, n) == 0);
        if (obj % 5 == 0) {
            fsg_aggregate_rollback(agg);
            continue;
        }
        T_OK(fsg_aggregate_commit(agg, NULL));
        T_CHECK(s_add(ref, seed, n) == 0);
        T_OK(fsg_aggregate_flush(ref, NULL));
    }
    T_CHECK(fsg_aggregate_spilled_runs(agg) > 64); /* the merge first merges runs into fewer */
    T_CHECK(s_same_tables(ref, agg) == 0);
    fsg_aggregate_destroy(ref);
    fsg_aggregate_destroy(agg);
    return 0;
}

/* Sibling tables under a budget (one per worker) merged: their rows join the runs. */
static int s_siblings_merge(void)
{
    struct fsg_aggregate *ref = NULL, *agg = NULL, *w[2] = { NULL, NULL };
    T_OK(fsg_aggregate_new(NULL, &ref, NULL));
    T_OK(fsg_aggregate_new(NULL, &agg, NULL));
    T_OK(fsg_aggregate_set_memory(agg, 64 << 10, NULL));
    for (int i = 0; i < 2; i++) {
        T_OK(fsg_aggregate_new_sibling(agg, &w[i], NULL));
        T_OK(fsg_aggregate_set_memory(w[i], 32 << 10, NULL));
    }
    for (uint64_t obj = 1; obj <= 40; obj++) {
        struct fsg_aggregate *into = w[obj % 2];
        fsg_aggregate_begin(into);
        T_CHECK(s_add(into, obj * 7919, 500) == 0);
        T_OK(fsg_aggregate_commit(into, NULL));
        T_CHECK(s_add(ref, obj * 7919, 500) == 0);
    }
    T_CHECK(fsg_aggregate_spilled_runs(agg) > 0);
    for (int i = 0; i < 2; i++) {
        T_OK(fsg_aggregate_merge(agg, w[i], NULL));
        fsg_aggregate_destroy(w[i]);
    }
    T_CHECK(s_same_tables(ref, agg) == 0);
    fsg_aggregate_destroy(ref);
    fsg_aggregate_destroy(agg);
    return 0;
}

/* A small table under a large budget stays in memory: no run is written. */
static int s_small_table_stays_in_memory(void)
{
    struct fsg_aggregate *ref = NULL, *agg = NULL;
    T_OK(fsg_aggregate_new(NULL, &ref, NULL));
    T_OK(fsg_aggregate_new(NULL, &agg, NULL));
    T_OK(fsg_aggregate_set_memory(agg, 64 << 20, NULL));
    T_CHECK(s_add(ref, 42, 3000) == 0);
    T_CHECK(s_add(agg, 42, 3000) == 0);
    T_CHECK(s_same_tables(ref, agg) == 0);
    T_CHECK(fsg_aggregate_spilled_runs(agg) == 0);
    fsg_aggregate_destroy(ref);
    fsg_aggregate_destroy(agg);
    return 0;
}

/* The store by itself: tags dropped and kept, equal keys folded across runs. */
static int s_store_runs(void)
{
    struct fsg_spill *sp = NULL;
    T_OK(fsg_spill_new(&sp, NULL));
    uint32_t id;
    char name[FSG_ENI_ID_MAX] = "eni-x";
    T_OK(fsg_spill_eni(sp, name, &id));
    struct fsg_spill_writer *w = fsg_calloc(1, sizeof *w);
    T_CHECK(w != NULL);
    uint64_t tag = fsg_spill_tag(sp), tag2 = fsg_spill_tag(sp);
    for (int run = 0; run < 3; run++) {
        T_OK(fsg_spill_run_begin(sp, 2, run == 0 ? 0 : run == 1 ? tag : tag2, w, NULL));
        for (int k = 0; k < 2; k++) {
            struct fsg_spill_row r = { .eni = id, .records = 1, .packets = 2, .bytes = 3,
                                       .first = 10 + run, .last = 20 - run };
            r.key[40] = (uint8_t)(k * 6);
            T_OK(fsg_spill_run_put(w, &r, NULL));
        }
        T_OK(fsg_spill_run_end(w, NULL));
    }
    fsg_spill_drop(sp, tag);
    fsg_spill_keep(sp, tag2);
    T_CHECK(fsg_spill_runs(sp) == 2);
    static const uint32_t rank[1] = { 0 };
    struct fsg_spill_merge *m = NULL;
    T_OK(fsg_spill_merge_open(sp, rank, &m, NULL));
    struct fsg_spill_row r;
    bool more;
    for (int k = 0; k < 2; k++) {
        T_OK(fsg_spill_merge_next(m, &r, &more, NULL));
        T_CHECK(more && r.key[40] == k * 6 && r.records == 2 && r.bytes == 6 && r.first == 10 &&
                r.last == 20);
    }
    T_OK(fsg_spill_merge_next(m, &r, &more, NULL));
    T_CHECK(!more);
    fsg_spill_merge_close(m);
    fsg_free(w);
    fsg_spill_destroy(sp);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "spilled_equals_unbounded", s_spilled_equals_unbounded },
        { "siblings_merge", s_siblings_merge },
        { "small_table_stays_in_memory", s_small_table_stays_in_memory },
        { "store_runs", s_store_runs },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
