/* flowlogs/aggregate + flowlogs/direction: which records count as ingress/egress (return traffic
 * never), address learning, config hints, sorting, merging, first/last, filters, limits. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "flowlogs/aggregate.h"
#include "flowlogs/direction.h"
#include "flowlogs/flowlog.h"
#include "lib/core/buf.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"

#define V2                                                                                         \
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "      \
    "start end action log-status\n"
#define V5                                                                                         \
    "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "       \
    "action tcp-flags flow-direction log-status\n"

/* Decodes plain text and folds every record into agg. */
static enum fsg_err s_feed(struct fsg_aggregate *agg, const char *text, const char *default_eni)
{
    struct fsg_flowlog_decoder *d = NULL;
    struct fsg_error err;
    enum fsg_err rc = fsg_flowlog_decoder_new(NULL, &d, &err);
    if (rc != FSG_OK) {
        return rc;
    }
    fsg_flowlog_decoder_set_input(d, fsg_span_from_cstr(text));
    fsg_flowlog_decoder_finish(d);
    for (;;) {
        const struct fsg_flowlog_record *rec;
        rc = fsg_flowlog_decoder_next(d, &rec, &err);
        if (rc != FSG_OK || rec == NULL) {
            break;
        }
        rc = fsg_aggregate_add(agg, rec, fsg_span_from_cstr(default_eni), &err);
        if (rc != FSG_OK) {
            break;
        }
    }
    if (rc == FSG_OK) {
        rc = fsg_aggregate_flush(agg, &err);
    }
    if (rc == FSG_OK) {
        fsg_aggregate_add_stats(agg, fsg_flowlog_decoder_stats(d));
    }
    fsg_flowlog_decoder_destroy(d);
    return rc;
}

/* The flow table as text: "eni src dst port proto action direction records packets bytes first
 * last". */
static int s_table(struct fsg_aggregate *agg, enum fsg_direction_filter f, const char *const *enis,
                   size_t n_enis, struct fsg_buf *out)
{
    struct fsg_flow *flows = NULL;
    size_t n = 0;
    if (fsg_aggregate_result(agg, f, enis, n_enis, &flows, &n, NULL) != FSG_OK) {
        return 1;
    }
    static const char *const acts[] = { "ACCEPT", "REJECT", "-" };
    for (size_t i = 0; i < n; i++) {
        char s[FSG_IP_STR_MAX], d[FSG_IP_STR_MAX], first[24] = "-", last[24] = "-";
        if (flows[i].first_s != FSG_FLOW_TIME_NONE) {
            snprintf(first, sizeof first, "%" PRId64, flows[i].first_s);
        }
        if (flows[i].last_s != FSG_FLOW_TIME_NONE) {
            snprintf(last, sizeof last, "%" PRId64, flows[i].last_s);
        }
        if (fsg_buf_printf(
                out, "%s %s %s %u %u %s %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %s %s\n",
                flows[i].eni, fsg_ip_format(&flows[i].src, s), fsg_ip_format(&flows[i].dst, d),
                (unsigned)flows[i].port, (unsigned)flows[i].proto, acts[flows[i].action],
                flows[i].direction == FSG_FLOW_INGRESS ? "ingress" : "egress", flows[i].records,
                flows[i].packets, flows[i].bytes, first, last) != FSG_OK) {
            fsg_free(flows);
            return 1;
        }
    }
    fsg_free(flows);
    return 0;
}

/* One aggregator over `text`, the table for `f` compared with `want`. */
static int s_expect(const struct fsg_aggregate_options *o, const char *text,
                    const char *default_eni, enum fsg_direction_filter f, const char *want)
{
    struct fsg_aggregate *agg = NULL;
    struct fsg_buf got = FSG_BUF_INIT;
    T_OK(fsg_aggregate_new(o, &agg, NULL));
    T_OK(s_feed(agg, text, default_eni));
    T_CHECK(s_table(agg, f, NULL, 0, &got) == 0);
    T_STR_EQ(fsg_buf_cstr(&got), want);
    fsg_buf_clean_up(&got);
    fsg_aggregate_destroy(agg);
    return 0;
}

/* A client connects to the database ENI: the request leg is ingress, the response leg counts
 * nowhere. The ENI's address is learned (no flow-direction, no tcp-flags). */
static const char s_inbound_v2[] =
    V2 "2 1 eni-db 10.0.1.5 10.0.20.11 40001 5432 6 10 1000 100 160 ACCEPT OK\n"
       "2 1 eni-db 10.0.20.11 10.0.1.5 5432 40001 6 8 9000 100 160 ACCEPT OK\n"
       "2 1 eni-db 10.0.1.5 10.0.20.11 40002 5432 6 5 500 50 300 ACCEPT OK\n"
       "2 1 eni-db 10.0.20.11 10.0.1.5 5432 40002 6 4 4000 50 300 ACCEPT OK\n"
       "2 1 eni-db 10.0.1.6 10.0.20.11 50123 5432 6 1 60 70 70 REJECT OK\n";

static int s_inbound_connections_are_ingress(void)
{
    T_CHECK(s_expect(NULL, s_inbound_v2, NULL, FSG_DIRECTION_INGRESS,
                     "eni-db 10.0.1.5 10.0.20.11 5432 6 ACCEPT ingress 2 15 1500 50 300\n"
                     "eni-db 10.0.1.6 10.0.20.11 5432 6 REJECT ingress 1 1 60 70 70\n") == 0);
    T_CHECK(s_expect(NULL, s_inbound_v2, NULL, FSG_DIRECTION_EGRESS, "") == 0);
    return 0;
}

/* The ENI's own outbound connection: egress; its return traffic arrives at the ENI and is not
 * ingress. Once learned from the address, once from flow-direction + tcp-flags. */
static int s_return_traffic_is_not_ingress(void)
{
    static const char learned[] =
        V2 "2 1 eni-db 10.0.20.11 52.95.128.1 41000 443 6 3 300 10 20 ACCEPT OK\n"
           "2 1 eni-db 52.95.128.1 10.0.20.11 443 41000 6 5 5000 10 20 ACCEPT OK\n"
           "2 1 eni-db 10.0.20.11 10.0.0.2 41001 53 17 1 70 11 11 ACCEPT OK\n"
           "2 1 eni-db 10.0.0.2 10.0.20.11 53 41001 17 1 140 11 11 ACCEPT OK\n"
           "2 1 eni-db 10.0.1.5 10.0.20.11 40001 5432 6 10 1000 100 160 ACCEPT OK\n";
    T_CHECK(s_expect(NULL, learned, NULL, FSG_DIRECTION_INGRESS,
                     "eni-db 10.0.1.5 10.0.20.11 5432 6 ACCEPT ingress 1 10 1000 100 160\n") == 0);
    T_CHECK(s_expect(NULL, learned, NULL, FSG_DIRECTION_ALL,
                     "eni-db 10.0.1.5 10.0.20.11 5432 6 ACCEPT ingress 1 10 1000 100 160\n"
                     "eni-db 10.0.20.11 10.0.0.2 53 17 ACCEPT egress 1 1 70 11 11\n"
                     "eni-db 10.0.20.11 52.95.128.1 443 6 ACCEPT egress 1 3 300 10 20\n") == 0);
    /* flow-direction says ingress for the return leg; tcp-flags SYN+ACK says it answers: not
     * ingress. Ports alone would say the same; here they point the other way on purpose. */
    static const char flagged[] =
        V5 "5 eni-app 10.0.30.5 10.0.20.11 2000 40000 6 3 300 10 20 ACCEPT 2 egress OK\n"
           "5 eni-app 10.0.20.11 10.0.30.5 40000 2000 6 5 500 10 20 ACCEPT 18 ingress OK\n";
    T_CHECK(s_expect(NULL, flagged, NULL, FSG_DIRECTION_ALL,
                     "eni-app 10.0.30.5 10.0.20.11 40000 6 ACCEPT egress 1 3 300 10 20\n") == 0);
    T_CHECK(s_expect(NULL, flagged, NULL, FSG_DIRECTION_INGRESS, "") == 0);
    return 0;
}

/* A config hint: the ENI's own address decides the record direction at once, and the target's
 * database port decides the leg where the port heuristic would guess wrong (client port 1000 is
 * lower than the service port 15432). */
static int s_config_hints(void)
{
    static const char text[] =
        V2 "2 1 eni-db 10.0.1.5 10.0.20.11 1000 15432 6 1 100 10 20 ACCEPT OK\n"
           "2 1 eni-db 10.0.20.11 10.0.1.5 15432 1000 6 1 100 10 20 ACCEPT OK\n";
    T_CHECK(s_expect(NULL, text, NULL, FSG_DIRECTION_ALL,
                     "eni-db 10.0.20.11 10.0.1.5 1000 6 ACCEPT ingress 1 1 100 10 20\n") == 0);
    struct fsg_ip own;
    T_OK(fsg_ip_parse(fsg_span_from_cstr("10.0.20.11"), &own));
    struct fsg_eni_hint hint = {
        .eni = "eni-db", .addrs = &own, .n_addrs = 1, .service_port = 15432
    };
    struct fsg_aggregate_options o = { .hints = &hint, .n_hints = 1 };
    T_CHECK(s_expect(&o, text, NULL, FSG_DIRECTION_ALL,
                     "eni-db 10.0.1.5 10.0.20.11 15432 6 ACCEPT ingress 1 1 100 10 20\n") == 0);
    /* the address alone, with flow direction from it: the leg from the port heuristic */
    hint.service_port = 0;
    static const char out[] =
        V2 "2 1 eni-db 10.0.20.11 10.9.9.9 40000 443 6 1 100 10 20 ACCEPT OK\n";
    T_CHECK(s_expect(&o, out, NULL, FSG_DIRECTION_ALL,
                     "eni-db 10.0.20.11 10.9.9.9 443 6 ACCEPT egress 1 1 100 10 20\n") == 0);
    return 0;
}

/* When nothing tells the ENI's address apart (one peer), the responder is taken as the ENI. And
 * IPv6 is learned on its own. */
static int s_learning_ties_and_families(void)
{
    static const char text[] =
        V2 "2 1 eni-x 10.0.1.5 10.0.20.11 40001 5432 6 1 1 1 1 ACCEPT OK\n"
           "2 1 eni-x 2001:db8::5 2001:db8::11 40001 5432 6 1 1 1 1 ACCEPT OK\n"
           "2 1 eni-x 2001:db8::6 2001:db8::11 40002 5432 6 1 1 1 1 ACCEPT OK\n"
           "2 1 eni-x 2001:db8::11 2001:db8::7 40003 443 6 1 1 1 1 ACCEPT OK\n";
    T_CHECK(s_expect(NULL, text, NULL, FSG_DIRECTION_ALL,
                     "eni-x 10.0.1.5 10.0.20.11 5432 6 ACCEPT ingress 1 1 1 1 1\n"
                     "eni-x 2001:db8::5 2001:db8::11 5432 6 ACCEPT ingress 1 1 1 1 1\n"
                     "eni-x 2001:db8::6 2001:db8::11 5432 6 ACCEPT ingress 1 1 1 1 1\n"
                     "eni-x 2001:db8::11 2001:db8::7 443 6 ACCEPT egress 1 1 1 1 1\n") == 0);
    return 0;
}

/* Sorted by eni, then numerically by address (IPv4 first), port, proto, action, direction;
 * packet-level addresses win over interface-level ones. */
static int s_sorting_and_pkt_addresses(void)
{
    static const char text[] =
        "interface-id srcaddr dstaddr srcport dstport protocol action pkt-srcaddr pkt-dstaddr\n"
        "eni-b 10.0.0.10 10.0.9.9 40000 22 6 ACCEPT - -\n"
        "eni-b 10.0.0.9 10.0.9.9 40000 22 6 REJECT - -\n"
        "eni-b 10.0.0.9 10.0.9.9 40000 22 6 ACCEPT - -\n"
        "eni-b 10.0.0.9 10.0.9.9 40000 22 17 ACCEPT - -\n"
        "eni-b ::1 10.0.9.9 40000 22 6 ACCEPT - -\n"
        "eni-a 10.0.0.1 10.0.9.9 40000 443 6 ACCEPT 10.0.0.1 10.0.9.9\n"
        "eni-a 10.0.0.1 10.0.9.9 40000 80 6 ACCEPT 10.0.0.1 10.0.9.9\n"
        "eni-a 10.0.0.200 10.0.9.9 40000 80 6 ACCEPT 203.0.113.7 10.0.9.9\n";
    T_CHECK(s_expect(NULL, text, NULL, FSG_DIRECTION_INGRESS,
                     "eni-a 10.0.0.1 10.0.9.9 80 6 ACCEPT ingress 1 0 0 - -\n"
                     "eni-a 10.0.0.1 10.0.9.9 443 6 ACCEPT ingress 1 0 0 - -\n"
                     "eni-a 203.0.113.7 10.0.9.9 80 6 ACCEPT ingress 1 0 0 - -\n"
                     "eni-b 10.0.0.9 10.0.9.9 22 6 ACCEPT ingress 1 0 0 - -\n"
                     "eni-b 10.0.0.9 10.0.9.9 22 6 REJECT ingress 1 0 0 - -\n"
                     "eni-b 10.0.0.9 10.0.9.9 22 17 ACCEPT ingress 1 0 0 - -\n"
                     "eni-b 10.0.0.10 10.0.9.9 22 6 ACCEPT ingress 1 0 0 - -\n"
                     "eni-b ::1 10.0.9.9 22 6 ACCEPT ingress 1 0 0 - -\n") == 0);
    return 0;
}

/* Records without interface-id: the default ENI, else "-"; records without addresses: skipped;
 * first/last only from records that have them. */
static int s_default_eni_and_missing_fields(void)
{
    static const char text[] = "srcaddr dstaddr dstport srcport start end\n"
                               "10.0.1.5 10.0.20.11 5432 40001 100 200\n"
                               "10.0.1.5 10.0.20.11 5432 40002 - -\n"
                               "10.0.1.5 10.0.20.11 5432 40003 50 250\n"
                               "- 10.0.20.11 5432 40003 1 2\n";
    T_CHECK(s_expect(NULL, text, "eni-given", FSG_DIRECTION_INGRESS,
                     "eni-given 10.0.1.5 10.0.20.11 5432 0 - ingress 3 0 0 50 250\n") == 0);
    T_CHECK(s_expect(NULL, text, "", FSG_DIRECTION_INGRESS,
                     "- 10.0.1.5 10.0.20.11 5432 0 - ingress 3 0 0 50 250\n") == 0);
    static const char no_times[] =
        "srcaddr dstaddr dstport srcport\n10.0.1.5 10.0.20.11 5432 40001\n";
    T_CHECK(s_expect(NULL, no_times, NULL, FSG_DIRECTION_INGRESS,
                     "- 10.0.1.5 10.0.20.11 5432 0 - ingress 1 0 0 - -\n") == 0);
    return 0;
}

static int s_eni_filter_and_long_ids(void)
{
    static const char text[] = V2 "2 1 eni-a 10.0.1.5 10.0.20.11 40001 5432 6 1 1 1 1 ACCEPT OK\n"
                                  "2 1 eni-b 10.0.1.5 10.0.20.12 40001 5432 6 1 1 1 1 ACCEPT OK\n"
                                  "2 1 eni-0123456789abcdef0123456789abcdef 10.0.1.5 10.0.20.13 "
                                  "40001 5432 6 1 1 1 1 ACCEPT OK\n";
    struct fsg_aggregate *agg = NULL;
    struct fsg_buf got = FSG_BUF_INIT;
    T_OK(fsg_aggregate_new(NULL, &agg, NULL));
    T_OK(s_feed(agg, text, NULL));
    const char *const want[] = { "eni-b", "eni-nope" };
    T_CHECK(s_table(agg, FSG_DIRECTION_ALL, want, 2, &got) == 0);
    T_STR_EQ(fsg_buf_cstr(&got), "eni-b 10.0.1.5 10.0.20.12 5432 6 ACCEPT ingress 1 1 1 1 1\n");
    fsg_buf_reset(&got);
    T_CHECK(s_table(agg, FSG_DIRECTION_ALL, NULL, 0, &got) == 0);
    T_CHECK(strncmp(fsg_buf_cstr(&got), "eni-0123456789abcdef0123456789a 10.0.1.5", 40) == 0);
    fsg_buf_clean_up(&got);
    fsg_aggregate_destroy(agg);
    return 0;
}

/* Merging per-thread tables gives exactly what one table would. */
static int s_merge_equals_one_table(void)
{
    static const char *const parts[] = {
        s_inbound_v2,
        V2 "2 1 eni-db 10.0.1.5 10.0.20.11 40009 5432 6 7 700 20 900 ACCEPT OK\n"
           "2 1 eni-app 10.0.30.5 10.0.20.11 40009 5432 6 7 700 20 900 ACCEPT OK\n"
           "2 1 eni-db 10.0.1.5 10.0.20.11 40009 5432 6 - - - - ACCEPT NODATA\n",
        V5 "5 eni-app 10.0.30.5 10.0.20.11 40000 5432 6 3 300 10 20 ACCEPT 2 egress OK\n",
    };
    struct fsg_aggregate *one = NULL, *a = NULL, *b = NULL, *c = NULL;
    struct fsg_buf t1 = FSG_BUF_INIT, t2 = FSG_BUF_INIT;
    T_OK(fsg_aggregate_new(NULL, &one, NULL));
    T_OK(fsg_aggregate_new(NULL, &a, NULL));
    T_OK(fsg_aggregate_new_sibling(a, &b, NULL));
    T_OK(fsg_aggregate_new_sibling(a, &c, NULL));
    for (size_t i = 0; i < 3; i++) {
        T_OK(s_feed(one, parts[i], NULL));
    }
    T_OK(s_feed(b, parts[0], NULL));
    T_OK(s_feed(c, parts[1], NULL));
    T_OK(s_feed(c, parts[2], NULL));
    T_OK(fsg_aggregate_merge(a, c, NULL));
    T_OK(fsg_aggregate_merge(a, b, NULL));
    T_CHECK(s_table(one, FSG_DIRECTION_ALL, NULL, 0, &t1) == 0);
    T_CHECK(s_table(a, FSG_DIRECTION_ALL, NULL, 0, &t2) == 0);
    T_STR_EQ(fsg_buf_cstr(&t2), fsg_buf_cstr(&t1));
    T_CHECK(fsg_aggregate_entries(a) == fsg_aggregate_entries(one));
    const struct fsg_flow_stats *s1 = fsg_aggregate_stats(one), *s2 = fsg_aggregate_stats(a);
    T_CHECK(s1->objects == 3 && s2->objects == 3);
    T_CHECK(s1->records == s2->records && s1->nodata == 1 && s2->nodata == 1);
    T_CHECK(s1->lines == s2->lines && s1->bytes_in == s2->bytes_in);
    fsg_aggregate_clear(a);
    T_CHECK(fsg_aggregate_entries(a) == 0 && fsg_aggregate_stats(a)->objects == 0);
    fsg_buf_clean_up(&t1);
    fsg_buf_clean_up(&t2);
    fsg_aggregate_destroy(one);
    fsg_aggregate_destroy(a);
    fsg_aggregate_destroy(b);
    fsg_aggregate_destroy(c);
    return 0;
}

/* An object rolled back leaves the table exactly as before it began: entries it added are gone,
 * older entries it changed (counts, first/last) are back, across both tables and over more
 * records than the fold pipeline holds; a committed object stays; later objects go on as if the
 * rolled-back one had never been read. */
static int s_rollback_restores_the_table(void)
{
    struct fsg_buf big = FSG_BUF_INIT, before = FSG_BUF_INIT, after = FSG_BUF_INIT;
    struct fsg_buf want = FSG_BUF_INIT;
    T_OK(fsg_buf_printf(&big, "%s", V2));
    for (unsigned i = 0; i < 300; i++) { /* old keys (first two) and many new ones, v4 and v6 */
        T_OK(fsg_buf_printf(&big, "2 1 eni-db 10.0.%u.%u 10.0.20.11 40000 5432 6 1 10 5 9999 ACCEPT OK\n",
                            i / 200, i % 200 + 1));
        T_OK(fsg_buf_printf(&big, "2 1 eni-db 2001:db8::%x 2001:db8::1 40000 5432 6 1 10 5 9999 "
                                  "ACCEPT OK\n", i + 1));
    }
    static const char first[] =
        V2 "2 1 eni-db 10.0.0.1 10.0.20.11 40009 5432 6 7 700 20 900 ACCEPT OK\n"
           "2 1 eni-db 2001:db8::1 2001:db8::1 40009 5432 6 7 700 20 900 ACCEPT OK\n";
    static const char later[] =
        V2 "2 1 eni-db 10.0.0.2 10.0.20.11 40009 5432 6 1 1 30 40 ACCEPT OK\n";
    struct fsg_aggregate *agg = NULL, *ref = NULL;
    T_OK(fsg_aggregate_new(NULL, &agg, NULL));
    T_OK(fsg_aggregate_new(NULL, &ref, NULL));

    fsg_aggregate_begin(agg);
    T_OK(s_feed(agg, first, NULL));
    T_OK(fsg_aggregate_commit(agg, NULL));
    T_CHECK(s_table(agg, FSG_DIRECTION_ALL, NULL, 0, &before) == 0);
    size_t n_before = fsg_aggregate_entries(agg);

    fsg_aggregate_begin(agg);
    T_OK(s_feed(agg, fsg_buf_cstr(&big), NULL));
    T_CHECK(fsg_aggregate_entries(agg) == 600);
    fsg_aggregate_rollback(agg);
    fsg_aggregate_rollback(agg); /* outside an object: nothing */
    T_CHECK(fsg_aggregate_entries(agg) == n_before);
    T_CHECK(s_table(agg, FSG_DIRECTION_ALL, NULL, 0, &after) == 0);
    T_STR_EQ(fsg_buf_cstr(&after), fsg_buf_cstr(&before));

    fsg_aggregate_begin(agg);
    T_OK(s_feed(agg, later, NULL));
    T_OK(fsg_aggregate_commit(agg, NULL));
    T_OK(s_feed(ref, first, NULL));
    T_OK(s_feed(ref, later, NULL));
    fsg_buf_reset(&after);
    T_CHECK(s_table(agg, FSG_DIRECTION_ALL, NULL, 0, &after) == 0);
    T_CHECK(s_table(ref, FSG_DIRECTION_ALL, NULL, 0, &want) == 0);
    T_STR_EQ(fsg_buf_cstr(&after), fsg_buf_cstr(&want));

    fsg_buf_clean_up(&big);
    fsg_buf_clean_up(&before);
    fsg_buf_clean_up(&after);
    fsg_buf_clean_up(&want);
    fsg_aggregate_destroy(agg);
    fsg_aggregate_destroy(ref);
    return 0;
}

static int s_limit(void)
{
    struct fsg_aggregate_options o = { .max_entries = 2 };
    struct fsg_aggregate *agg = NULL;
    T_OK(fsg_aggregate_new(&o, &agg, NULL));
    T_ERR(FSG_E_LIMIT, s_feed(agg,
                              V2 "2 1 e 10.0.0.1 10.0.0.9 40000 22 6 1 1 1 1 ACCEPT OK\n"
                                 "2 1 e 10.0.0.2 10.0.0.9 40000 22 6 1 1 1 1 ACCEPT OK\n"
                                 "2 1 e 10.0.0.3 10.0.0.9 40000 22 6 1 1 1 1 ACCEPT OK\n",
                              NULL));
    fsg_aggregate_destroy(agg);
    return 0;
}

/* The limit counts distinct keys over IPv4 and IPv6 pairs together; keys already in the table
 * still fold in at the limit; merging mixed tables gives what one table would. */
static int s_limit_and_merge_across_families(void)
{
    static const char *const text =
        V2 "2 1 e 10.0.0.1 10.0.0.9 40000 22 6 1 10 5 6 ACCEPT OK\n"
           "2 1 e 2001:db8::1 2001:db8::9 40000 22 6 2 20 3 9 ACCEPT OK\n"
           "2 1 e ::ffff:10.0.0.2 10.0.0.9 40000 22 6 4 40 1 2 ACCEPT OK\n"
           "2 1 e 10.0.0.1 10.0.0.9 40001 22 6 8 80 2 8 ACCEPT OK\n"
           "2 1 e 2001:db8::1 2001:db8::9 40001 22 6 16 160 4 4 ACCEPT OK\n";
    struct fsg_aggregate_options o = { .max_entries = 3 };
    struct fsg_aggregate *agg = NULL, *one = NULL, *a = NULL, *b = NULL;
    struct fsg_buf t1 = FSG_BUF_INIT, t2 = FSG_BUF_INIT;
    T_OK(fsg_aggregate_new(&o, &agg, NULL));
    T_OK(s_feed(agg, text, NULL)); /* three keys: the last two records repeat two of them */
    T_CHECK(fsg_aggregate_entries(agg) == 3);
    T_ERR(FSG_E_LIMIT, s_feed(agg, V2 "2 1 e 2001:db8::2 2001:db8::9 40002 22 6 1 1 1 1 ACCEPT OK\n",
                              NULL));
    T_ERR(FSG_E_LIMIT, fsg_aggregate_flush(agg, NULL)); /* the failed record stays pending */
    fsg_aggregate_destroy(agg);
    T_OK(fsg_aggregate_new(&o, &agg, NULL));
    T_ERR(FSG_E_LIMIT, s_feed(agg, V2 "2 1 e 10.0.0.5 10.0.0.9 40009 22 6 1 1 1 1 ACCEPT OK\n"
                                      "2 1 e 10.0.0.6 10.0.0.9 40009 22 6 1 1 1 1 ACCEPT OK\n"
                                      "2 1 e 2001:db8::2 2001:db8::9 40009 22 6 1 1 1 1 ACCEPT OK\n"
                                      "2 1 e 2001:db8::3 2001:db8::9 40009 22 6 1 1 1 1 ACCEPT OK\n",
                              NULL));
    fsg_aggregate_destroy(agg);

    T_OK(fsg_aggregate_new(NULL, &one, NULL));
    T_OK(fsg_aggregate_new(NULL, &a, NULL));
    T_OK(fsg_aggregate_new_sibling(a, &b, NULL));
    T_OK(s_feed(one, text, NULL));
    T_OK(s_feed(one, text, "x"));
    T_OK(s_feed(a, text, NULL));
    T_OK(s_feed(b, text, "x"));
    T_OK(fsg_aggregate_merge(a, b, NULL));
    T_CHECK(s_table(one, FSG_DIRECTION_ALL, NULL, 0, &t1) == 0);
    T_CHECK(s_table(a, FSG_DIRECTION_ALL, NULL, 0, &t2) == 0);
    T_STR_EQ(fsg_buf_cstr(&t2), fsg_buf_cstr(&t1));
    T_STR_EQ(fsg_buf_cstr(&t1), "e 10.0.0.1 10.0.0.9 22 6 ACCEPT ingress 4 18 180 2 8\n"
                                "e ::ffff:10.0.0.2 10.0.0.9 22 6 ACCEPT ingress 2 8 80 1 2\n"
                                "e 2001:db8::1 2001:db8::9 22 6 ACCEPT ingress 4 36 360 3 9\n");
    fsg_buf_clean_up(&t1);
    fsg_buf_clean_up(&t2);
    fsg_aggregate_destroy(one);
    fsg_aggregate_destroy(a);
    fsg_aggregate_destroy(b);
    return 0;
}

/* ENI ids that differ only after a NUL byte are distinct keys while aggregating but one name in
 * the table: their rows merge, and the table stays sorted and unique (found by fuzzing). */
static int s_ids_equal_as_strings_merge(void)
{
    struct fsg_aggregate *agg = NULL;
    struct fsg_buf got = FSG_BUF_INIT;
    struct fsg_flowlog_record rec = { .has_addrs = true, .srcport = 40000, .dstport = 22,
                                      .protocol = 6, .tcp_flags = -1, .packets = 1, .bytes = 10,
                                      .start_s = 5, .end_s = 6 };
    T_OK(fsg_ip_parse(fsg_span_from_cstr("10.0.0.1"), &rec.srcaddr));
    T_OK(fsg_ip_parse(fsg_span_from_cstr("10.0.0.9"), &rec.dstaddr));
    T_OK(fsg_aggregate_new(NULL, &agg, NULL));
    static const uint8_t ids[3][8] = { "eni-a\0\1", "eni-b", "eni-a\0\2" };
    static const size_t lens[3] = { 7, 5, 7 };
    for (int i = 0; i < 3; i++) {
        rec.interface_id = (struct fsg_span){ ids[i], lens[i] };
        T_OK(fsg_aggregate_add(agg, &rec, FSG_SPAN_NULL, NULL));
    }
    T_CHECK(s_table(agg, FSG_DIRECTION_ALL, NULL, 0, &got) == 0);
    T_STR_EQ(fsg_buf_cstr(&got), "eni-a 10.0.0.1 10.0.0.9 22 6 ACCEPT ingress 2 2 20 5 6\n"
                                 "eni-b 10.0.0.1 10.0.0.9 22 6 ACCEPT ingress 1 1 10 5 6\n");
    fsg_buf_clean_up(&got);
    fsg_aggregate_destroy(agg);
    return 0;
}

static int s_allocation_failures(void)
{
    for (long nth = 1; nth <= 12; nth++) {
        struct fsg_aggregate *agg = NULL;
        struct fsg_flow *flows = NULL;
        size_t n = 0;
        fsg_mem_fail_after(nth);
        enum fsg_err rc = fsg_aggregate_new(NULL, &agg, NULL);
        if (rc == FSG_OK) {
            rc = s_feed(agg, s_inbound_v2, NULL);
        }
        if (rc == FSG_OK) {
            rc = fsg_aggregate_result(agg, FSG_DIRECTION_ALL, NULL, 0, &flows, &n, NULL);
        }
        fsg_mem_fail_after(0);
        T_CHECK(rc == FSG_OK || rc == FSG_E_NOMEM);
        fsg_free(flows);
        fsg_aggregate_destroy(agg);
    }
    return 0;
}

/* The leg rules one by one (flowlogs/direction.h). */
static int s_leg_rules(void)
{
    static const struct {
        uint8_t proto;
        int flags;
        uint16_t sport, dport, service;
        enum fsg_leg want;
    } cases[] = {
        { 6, 2, 40000, 40001, 0, FSG_LEG_REQUEST }, /* SYN */
        { 6, 3, 40000, 40001, 0, FSG_LEG_REQUEST }, /* SYN+FIN */
        { 6, 18, 443, 40001, 0, FSG_LEG_RESPONSE }, /* SYN-ACK */
        { 6, 19, 40001, 443, 0, FSG_LEG_RESPONSE }, /* SYN-ACK+FIN beats the ports */
        { 6, 0, 40000, 5432, 0, FSG_LEG_REQUEST },  /* no SYN: ports */
        { 6, -1, 5432, 40000, 0, FSG_LEG_RESPONSE },
        { 6, -1, 1000, 15432, 15432, FSG_LEG_REQUEST }, /* target port */
        { 6, -1, 15432, 1000, 15432, FSG_LEG_RESPONSE },
        { 6, -1, 1000, 15432, 0, FSG_LEG_RESPONSE }, /* heuristic: 1000 is a service port */
        { 17, 0, 40000, 53, 0, FSG_LEG_REQUEST },
        { 6, -1, 50001, 40000, 0, FSG_LEG_REQUEST }, /* neither a service: the lower port */
        { 6, -1, 40000, 50001, 0, FSG_LEG_RESPONSE },
        { 6, -1, 3306, 40000, 0, FSG_LEG_RESPONSE },
        { 6, -1, 1500, 3306, 0, FSG_LEG_REQUEST }, /* 3306 is known, 1500 is not */
        { 1, 0, 0, 0, 0, FSG_LEG_REQUEST },        /* ICMP: no ports */
        { 6, -1, 0, 22, 0, FSG_LEG_REQUEST },      /* unknown source port */
        { 6, -1, 22, 0, 0, FSG_LEG_RESPONSE },
        { 6, -1, 8080, 8080, 0, FSG_LEG_REQUEST },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum fsg_leg got = fsg_direction_leg(cases[i].proto, cases[i].flags, cases[i].sport,
                                             cases[i].dport, cases[i].service);
        if (got != cases[i].want) {
            fprintf(stderr, "  leg case %zu\n", i);
        }
        T_CHECK(got == cases[i].want);
    }
    T_CHECK(!fsg_port_is_service(0) && fsg_port_is_service(22) && fsg_port_is_service(5432) &&
            !fsg_port_is_service(40000));
    /* every port: below 1024 but 0, and exactly the listed ones above */
    static const uint16_t listed[] = { 1433, 1521, 2049, 2375, 2376, 3306, 3389, 5432,
                                       5439, 5671, 5672, 6379, 8080, 8182, 8443, 9042,
                                       9092, 9094, 9200, 9300, 11211, 27017, 50000 };
    for (unsigned port = 0; port <= UINT16_MAX; port++) {
        bool want = port != 0 && port < 1024;
        for (size_t i = 0; i < sizeof listed / sizeof listed[0]; i++) {
            want = want || port == listed[i];
        }
        if (fsg_port_is_service((uint16_t)port) != want) {
            fprintf(stderr, "  port %u\n", port);
        }
        T_CHECK(fsg_port_is_service((uint16_t)port) == want);
    }
    return 0;
}

static int s_verdict_rules(void)
{
    struct fsg_ip eni, peer;
    T_OK(fsg_ip_parse(fsg_span_from_cstr("10.0.20.11"), &eni));
    T_OK(fsg_ip_parse(fsg_span_from_cstr("10.0.1.5"), &peer));
    T_CHECK(fsg_direction_verdict(FSG_LEG_REQUEST, FSG_RDIR_ARRIVING, &peer, &eni, NULL, NULL) ==
            FSG_VERDICT_INGRESS);
    T_CHECK(fsg_direction_verdict(FSG_LEG_REQUEST, FSG_RDIR_LEAVING, &eni, &peer, NULL, NULL) ==
            FSG_VERDICT_EGRESS);
    T_CHECK(fsg_direction_verdict(FSG_LEG_RESPONSE, FSG_RDIR_ARRIVING, &eni, &peer, NULL, NULL) ==
            FSG_VERDICT_RETURN);
    T_CHECK(fsg_direction_verdict(FSG_LEG_RESPONSE, FSG_RDIR_LEAVING, &peer, &eni, NULL, NULL) ==
            FSG_VERDICT_RETURN);
    T_CHECK(fsg_direction_verdict(FSG_LEG_REQUEST, FSG_RDIR_UNKNOWN, &eni, &peer, &eni, NULL) ==
            FSG_VERDICT_EGRESS);
    T_CHECK(fsg_direction_verdict(FSG_LEG_REQUEST, FSG_RDIR_UNKNOWN, &peer, &eni, &eni, NULL) ==
            FSG_VERDICT_INGRESS);
    /* unknown address: the ENI is taken as the responder */
    T_CHECK(fsg_direction_verdict(FSG_LEG_REQUEST, FSG_RDIR_UNKNOWN, &eni, &peer, NULL, NULL) ==
            FSG_VERDICT_INGRESS);
    struct fsg_addr_tally t[3] = { { .addr = peer, .weight = 5, .as_responder = 0 },
                                   { .addr = eni, .weight = 5, .as_responder = 5 },
                                   { .addr = peer, .weight = 4, .as_responder = 9 } };
    T_CHECK(fsg_direction_pick(t, 3) == &t[1]);
    T_CHECK(fsg_direction_pick(t, 0) == NULL);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "inbound_connections_are_ingress", s_inbound_connections_are_ingress },
        { "return_traffic_is_not_ingress", s_return_traffic_is_not_ingress },
        { "config_hints", s_config_hints },
        { "learning_ties_and_families", s_learning_ties_and_families },
        { "sorting_and_pkt_addresses", s_sorting_and_pkt_addresses },
        { "default_eni_and_missing_fields", s_default_eni_and_missing_fields },
        { "eni_filter_and_long_ids", s_eni_filter_and_long_ids },
        { "merge_equals_one_table", s_merge_equals_one_table },
        { "rollback_restores_the_table", s_rollback_restores_the_table },
        { "limit", s_limit },
        { "limit_and_merge_across_families", s_limit_and_merge_across_families },
        { "ids_equal_as_strings_merge", s_ids_equal_as_strings_merge },
        { "allocation_failures", s_allocation_failures },
        { "leg_rules", s_leg_rules },
        { "verdict_rules", s_verdict_rules },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
