/* flowlogs/summary: a summary folded back gives exactly the table of the raw records (counts,
 * first/last, IPv4 and IPv6, unknown times), merges with others as the raw objects would,
 * hostile input is refused with a clear error, keys and fingerprints are stable. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "flowlogs/aggregate.h"
#include "flowlogs/flowlog.h"
#include "flowlogs/rollup.h"
#include "flowlogs/s3_source.h"
#include "flowlogs/summary.h"
#include "lib/core/buf.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"

#define V5                                                                                         \
    "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "       \
    "action tcp-flags flow-direction log-status\n"

static const char s_obj_a[] =
    V5 "5 eni-db 10.0.1.5 10.0.20.11 40000 5432 6 3 300 10 20 ACCEPT 2 ingress OK\n"
       "5 eni-db 10.0.1.5 10.0.20.11 40001 5432 6 4 400 5 30 ACCEPT 2 ingress OK\n"
       "5 eni-db 2001:db8::5 2001:db8::11 40000 5432 6 1 60 - - REJECT 2 ingress OK\n"
       "5 eni-db 10.0.20.11 10.0.9.9 50000 443 6 2 200 40 50 ACCEPT 2 egress OK\n"
       "5 eni-app 10.0.30.5 10.0.20.11 40009 5432 6 7 700 20 900 ACCEPT 2 - OK\n"
       "5 eni-db - - - - - - - 1 2 - - - NODATA\n";
static const char s_obj_b[] =
    V5 "5 eni-db 10.0.1.5 10.0.20.11 40002 5432 6 1 100 2 60 ACCEPT 2 ingress OK\n"
       "5 eni-db 10.0.7.7 10.0.20.11 40002 5432 6 1 100 2 60 ACCEPT 2 ingress OK\n"
       "garbage\n";

/* Decodes text into agg as one object. */
static enum fsg_err s_read(struct fsg_aggregate *agg, const char *text)
{
    struct fsg_flowlog_decoder *d = NULL;
    enum fsg_err rc = fsg_flowlog_decoder_new(NULL, &d, NULL);
    if (rc != FSG_OK) {
        return rc;
    }
    fsg_flowlog_decoder_set_input(d, fsg_span_from_cstr(text));
    fsg_flowlog_decoder_finish(d);
    for (;;) {
        const struct fsg_flowlog_record *rec;
        rc = fsg_flowlog_decoder_next(d, &rec, NULL);
        if (rc != FSG_OK || rec == NULL) {
            break;
        }
        rc = fsg_aggregate_add(agg, rec, FSG_SPAN_NULL, NULL);
        if (rc != FSG_OK) {
            break;
        }
    }
    if (rc == FSG_OK) {
        rc = fsg_aggregate_flush(agg, NULL);
    }
    if (rc == FSG_OK) {
        fsg_aggregate_add_stats(agg, fsg_flowlog_decoder_stats(d));
    }
    fsg_flowlog_decoder_destroy(d);
    return rc;
}

/* The whole flow table and counters as text. */
static int s_dump(struct fsg_aggregate *agg, struct fsg_buf *out)
{
    struct fsg_flow *flows = NULL;
    size_t n = 0;
    if (fsg_aggregate_result(agg, FSG_DIRECTION_ALL, NULL, 0, &flows, &n, NULL) != FSG_OK) {
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        char s[FSG_IP_STR_MAX], d[FSG_IP_STR_MAX];
        if (fsg_buf_printf(out, "%s %s %s %u %u %d %d %" PRIu64 " %" PRIu64 " %" PRIu64
                                " %" PRId64 " %" PRId64 "\n",
                           flows[i].eni, fsg_ip_format(&flows[i].src, s),
                           fsg_ip_format(&flows[i].dst, d), (unsigned)flows[i].port,
                           (unsigned)flows[i].proto, (int)flows[i].action,
                           (int)flows[i].direction, flows[i].records, flows[i].packets,
                           flows[i].bytes, flows[i].first_s, flows[i].last_s) != FSG_OK) {
            fsg_free(flows);
            return 1;
        }
    }
    fsg_free(flows);
    const struct fsg_flow_stats *st = fsg_aggregate_stats(agg);
    return fsg_buf_printf(out, "objects %" PRIu64 " bytes %" PRIu64 " lines %" PRIu64
                               " records %" PRIu64 " nodata %" PRIu64 " malformed %" PRIu64 "\n",
                          st->objects, st->bytes_in, st->lines, st->records, st->nodata,
                          st->malformed) != FSG_OK;
}

/* Folds a decoded summary into agg as one object (what the S3 source does through a reader). */
static int s_fold(struct fsg_aggregate *agg, const struct fsg_summary *sum)
{
    fsg_aggregate_begin(agg);
    for (size_t i = 0; i < sum->n_rows; i++) {
        if (fsg_aggregate_add_row(agg, &sum->rows[i], NULL) != FSG_OK) {
            return 1;
        }
    }
    if (fsg_aggregate_commit(agg, NULL) != FSG_OK) {
        return 1;
    }
    struct fsg_flowlog_stats none = { 0 };
    fsg_aggregate_add_stats(agg, &none);
    fsg_aggregate_add_counts(agg, &sum->stats);
    return 0;
}

static int s_encode(const char *text, struct fsg_buf *gz)
{
    struct fsg_aggregate *one = NULL;
    T_OK(fsg_aggregate_new(NULL, &one, NULL));
    T_OK(s_read(one, text));
    T_OK(fsg_summary_encode(one, NULL, 0, "s3://b/k", "\"abc-1\"", "fp", gz, NULL));
    fsg_aggregate_destroy(one);
    return 0;
}

static int s_summaries_merge_exactly(void)
{
    struct fsg_buf ga = FSG_BUF_INIT, gb = FSG_BUF_INIT, want = FSG_BUF_INIT, got = FSG_BUF_INIT;
    T_CHECK(s_encode(s_obj_a, &ga) == 0);
    T_CHECK(s_encode(s_obj_b, &gb) == 0);
    T_CHECK(ga.len > 2 && ga.ptr[0] == 0x1f && ga.ptr[1] == 0x8b); /* gzip */

    struct fsg_aggregate *raw = NULL, *merged = NULL;
    T_OK(fsg_aggregate_new(NULL, &raw, NULL));
    T_OK(fsg_aggregate_new(NULL, &merged, NULL));
    T_OK(s_read(raw, s_obj_a));
    T_OK(s_read(raw, s_obj_b));
    struct fsg_summary sa, sb;
    T_OK(fsg_summary_decode((struct fsg_span){ ga.ptr, ga.len }, "fp", &sa, NULL));
    T_OK(fsg_summary_decode((struct fsg_span){ gb.ptr, gb.len }, "fp", &sb, NULL));
    T_CHECK(sa.stats.nodata == 1 && sb.stats.malformed == 1 && sa.stats.records == 5);
    T_CHECK(s_fold(merged, &sb) == 0); /* any order */
    T_CHECK(s_fold(merged, &sa) == 0);
    T_CHECK(s_dump(raw, &want) == 0);
    T_CHECK(s_dump(merged, &got) == 0);
    T_STR_EQ(fsg_buf_cstr(&got), fsg_buf_cstr(&want));

    /* Folding the same summary twice is two objects' worth (the caller keys summaries by
     * object, so an object is folded once); re-encoding a folded table gives the same rows. */
    struct fsg_buf again = FSG_BUF_INIT;
    struct fsg_aggregate *one = NULL;
    T_OK(fsg_aggregate_new(NULL, &one, NULL));
    T_CHECK(s_fold(one, &sa) == 0);
    T_OK(fsg_summary_encode(one, NULL, 0, "s3://b/k", "\"abc-1\"", "fp", &again, NULL));
    struct fsg_summary sa2;
    T_OK(fsg_summary_decode((struct fsg_span){ again.ptr, again.len }, "fp", &sa2, NULL));
    T_CHECK(sa2.n_rows == sa.n_rows && memcmp(sa2.rows, sa.rows, sa.n_rows * sizeof *sa.rows) == 0);
    fsg_summary_clean_up(&sa2);

    /* a summary of some interfaces keeps their rows only */
    struct fsg_buf part = FSG_BUF_INIT;
    const char *db[] = { "eni-db" };
    T_OK(fsg_summary_encode(raw, db, 1, "s3://b/k", "\"e\"", "fp", &part, NULL));
    struct fsg_summary sp;
    T_OK(fsg_summary_decode((struct fsg_span){ part.ptr, part.len }, "fp", &sp, NULL));
    size_t n_db = 0;
    for (size_t i = 0; i < sa.n_rows; i++) {
        n_db += strcmp(sa.rows[i].eni, "eni-db") == 0;
    }
    T_CHECK(n_db > 0 && n_db < sa.n_rows && sp.n_rows >= n_db);
    for (size_t i = 0; i < sp.n_rows; i++) {
        T_STR_EQ(sp.rows[i].eni, "eni-db");
    }
    fsg_summary_clean_up(&sp);
    fsg_buf_clean_up(&part);

    /* rolled back with the object, like records */
    size_t before = fsg_aggregate_entries(merged);
    fsg_aggregate_begin(merged);
    struct fsg_agg_row extra = sa.rows[0];
    extra.a.a[15] ^= 0x55;
    T_OK(fsg_aggregate_add_row(merged, &extra, NULL));
    T_CHECK(fsg_aggregate_entries(merged) == before + 1);
    fsg_aggregate_rollback(merged);
    T_CHECK(fsg_aggregate_entries(merged) == before);

    fsg_summary_clean_up(&sa);
    fsg_summary_clean_up(&sb);
    fsg_summary_clean_up(&sb); /* idempotent */
    fsg_aggregate_destroy(raw);
    fsg_aggregate_destroy(merged);
    fsg_aggregate_destroy(one);
    fsg_buf_clean_up(&ga);
    fsg_buf_clean_up(&gb);
    fsg_buf_clean_up(&want);
    fsg_buf_clean_up(&got);
    fsg_buf_clean_up(&again);
    return 0;
}

static enum fsg_err s_decode_str(const char *text, const char *fp, struct fsg_error *err)
{
    struct fsg_summary s;
    enum fsg_err rc = fsg_summary_decode(fsg_span_from_cstr(text), fp, &s, err);
    fsg_summary_clean_up(&s);
    return rc;
}

#define HEAD(rows)                                                                                 \
    "{\"flowseg_summary\":1,\"source\":\"s3://b/k\",\"etag\":\"e\",\"fingerprint\":\"fp\","        \
    "\"stats\":{\"bytes_in\":1,\"lines\":1,\"records\":1,\"nodata\":0,\"skipdata\":0,"             \
    "\"malformed\":0},\"rows\":" #rows "}\n"
#define ROW_OK "[\"eni-a\",\"10.0.0.1\",\"10.0.0.2\",5432,6,0,1,1,1,1,null,null]\n"

static int s_hostile_input(void)
{
    struct fsg_error err;
    struct fsg_summary ok;
    /* the fast parser, and jansson for another spelling of the same row */
    T_OK(fsg_summary_decode(fsg_span_from_cstr(HEAD(2) ROW_OK
                                               "[ \"eni-\\u0061\", \"10.0.0.1\", \"10.0.0.2\", 5432, "
                                               "6, 0, 1, 1, 1, 1, 10, -20 ]"),
                            "fp", &ok, &err));
    T_CHECK(ok.n_rows == 2 && memcmp(&ok.rows[0].a, &ok.rows[1].a, sizeof ok.rows[0].a) == 0);
    T_STR_EQ(ok.rows[1].eni, "eni-a");
    T_CHECK(ok.rows[0].first == FSG_FLOW_TIME_NONE && ok.rows[1].first == 10 &&
            ok.rows[1].last == -20);
    fsg_summary_clean_up(&ok);
    static const struct {
        const char *text;
        enum fsg_err rc;
        const char *msg;
    } bad[] = {
        { "", FSG_E_PARSE, "no header line" },
        { "[]\n", FSG_E_PARSE, "not a flowseg flow summary" },
        { "{\"flowseg_summary\":1}\n", FSG_E_PARSE, "not a flowseg flow summary" },
        { HEAD(0), FSG_E_REJECTED, "another configuration" }, /* fingerprint "x" below */
        { HEAD(1) "[\"eni-a\",\"10.0.0.1\",\"10.0.0.2\",70000,6,0,1,1,1,1,null,null]\n",
          FSG_E_PARSE, "row 1 is not" },
        { HEAD(1) "[\"eni-a\",\"10.0.0.1\",\"10.0.0.2\",5432,6,0,1,0,1,1,null,null]\n",
          FSG_E_PARSE, "row 1" },
        { HEAD(1) "[\"eni-a\",\"10.0.0.999\",\"10.0.0.2\",5432,6,0,1,1,1,1,null,null]\n",
          FSG_E_PARSE, "row 1" },
        { HEAD(1) "[\"eni-a\",\"10.0.0.1\",\"10.0.0.2\",5432,6,3,1,1,1,1,null,null]\n",
          FSG_E_PARSE, "row 1" },
        { HEAD(1) "[\"eni-a\",\"10.0.0.1\",\"10.0.0.2\",5432,6,0,3,1,1,1,null,null]\n",
          FSG_E_PARSE, "row 1" },
        { HEAD(1) "[\"eni-a\",\"10.0.0.1\",\"10.0.0.2\",5432,6,0,1,1,-1,1,null,null]\n",
          FSG_E_PARSE, "row 1" },
        { HEAD(1) "[\"eni-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"10.0.0.1\",\"10.0.0.2\",5432,6,0,"
                  "1,1,1,1,null,null]\n", FSG_E_PARSE, "row 1" },
        { HEAD(1) "[\"eni-a\",\"10.0.0.1\",\"10.0.0.2\",5432,6,0,1,1,1,1,null]\n", FSG_E_PARSE,
          "row 1" },
        { HEAD(1) "[[[[[[[[]]]]]]]]\n", FSG_E_PARSE, "row 1" },
        { HEAD(2) ROW_OK, FSG_E_PARSE, "1 of the 2 rows" },
        { HEAD(1) ROW_OK ROW_OK, FSG_E_PARSE, "more rows than the 1" },
        { HEAD(99999999999) ROW_OK, FSG_E_PARSE, "rows announced" },
        { "{\"flowseg_summary\":2,\"fingerprint\":\"fp\",\"rows\":0,\"stats\":{\"bytes_in\":1,"
          "\"lines\":1,\"records\":1,\"nodata\":0,\"skipdata\":0,\"malformed\":0}}\n",
          FSG_E_REJECTED, "version 2" },
        { "{\"flowseg_summary\":1,\"fingerprint\":\"fp\",\"rows\":0,\"stats\":{\"bytes_in\":1,"
          "\"lines\":1,\"records\":1,\"nodata\":0,\"skipdata\":0,\"malformed\":0}}\n",
          FSG_E_PARSE, "not a flowseg flow summary" }, /* no etag */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = (struct fsg_error){ 0 };
        enum fsg_err rc = s_decode_str(bad[i].text, i == 3 ? "x" : "fp", &err);
        if (rc != bad[i].rc || strstr(err.msg, bad[i].msg) == NULL) {
            fprintf(stderr, "case %zu: rc %d msg '%s'\n", i, (int)rc, err.msg);
            T_CHECK(false);
        }
    }
    /* corrupt and truncated gzip */
    struct fsg_buf gz = FSG_BUF_INIT;
    T_CHECK(s_encode(s_obj_a, &gz) == 0);
    struct fsg_summary s;
    T_CHECK(fsg_summary_decode((struct fsg_span){ gz.ptr, gz.len - 9 }, "fp", &s, &err) ==
            FSG_E_PARSE);
    T_CHECK(strstr(err.msg, "gzip") != NULL);
    gz.ptr[gz.len / 2] ^= 0xff;
    T_CHECK(fsg_summary_decode((struct fsg_span){ gz.ptr, gz.len }, "fp", &s, &err) != FSG_OK);
    T_CHECK(s.rows == NULL && s.n_rows == 0);
    fsg_buf_clean_up(&gz);
    return 0;
}

static int s_keys_and_fingerprints(void)
{
    struct fsg_buf k = FSG_BUF_INIT;
    T_OK(fsg_summary_key("sums/", "logs", "AWSLogs/1/vpcflowlogs/x.log.gz", "\"9b2c-3\"",
                         "0123456789abcdef0123", &k));
    T_STR_EQ(fsg_buf_cstr(&k),
             "sums/logs/AWSLogs/1/vpcflowlogs/x.log.gz.9b2c-3.0123456789abcdef.fsum.json.gz");
    fsg_buf_reset(&k);
    T_OK(fsg_summary_key("", "b", "k", "W/\"a+b\"", "", &k));
    T_STR_EQ(fsg_buf_cstr(&k), "b/k.W_a_b.-.fsum.json.gz");
    fsg_buf_clean_up(&k);

    struct fsg_ip a1, a2;
    T_OK(fsg_ip_parse(fsg_span_from_cstr("10.0.20.11"), &a1));
    T_OK(fsg_ip_parse(fsg_span_from_cstr("10.0.20.12"), &a2));
    struct fsg_eni_hint h[2] = { { .eni = "eni-a", .addrs = &a1, .n_addrs = 1, .service_port = 5432 },
                                 { .eni = "eni-b", .addrs = &a2, .n_addrs = 1 } };
    struct fsg_eni_hint r[2] = { h[1], h[0] };
    char f1[65], f2[65], f3[65], f4[65];
    const char *both[] = { "eni-a", "eni-b" }, *rev[] = { "eni-b", "eni-a" }, *one[] = { "eni-a" };
    char f5[65], f6[65];
    T_OK(fsg_summary_fingerprint(h, 2, NULL, 0, NULL, f1));
    T_OK(fsg_summary_fingerprint(r, 2, NULL, 0, NULL, f2));
    T_OK(fsg_summary_fingerprint(h, 2, both, 2, NULL, f5));
    T_OK(fsg_summary_fingerprint(r, 2, rev, 2, NULL, f6));
    T_STR_EQ(f5, f6); /* the kept interfaces in any order */
    T_CHECK(strcmp(f1, f5) != 0); /* all interfaces is not these two */
    T_OK(fsg_summary_fingerprint(h, 2, one, 1, NULL, f6));
    T_CHECK(strcmp(f5, f6) != 0);
    T_STR_EQ(f1, f2); /* any order */
    h[0].service_port = 3306;
    T_OK(fsg_summary_fingerprint(h, 2, NULL, 0, NULL, f3));
    T_CHECK(strcmp(f1, f3) != 0);
    T_OK(fsg_summary_fingerprint(r, 2, NULL, 0, "srcaddr dstaddr", f4));
    T_CHECK(strcmp(f1, f4) != 0 && strlen(f4) == 64);
    return 0;
}

/* flowlogs/rollup: days and names, and a rollup of two objects (one from its summary, one from
 * its table) folds back to exactly the raw table of both. */
static int s_day_rollups(void)
{
    int64_t day;
    size_t dir_len;
    const char *k1 = "AWSLogs/1/vpcflowlogs/r/2023/11/14/1_vpcflowlogs_r_fl-1_20231114T2355Z_ab.log.gz";
    T_CHECK(fsg_rollup_day(k1, &day, &dir_len));
    T_CHECK(day == 1699920000 && dir_len == strlen("AWSLogs/1/vpcflowlogs/r/2023/11/14/"));
    T_CHECK(fsg_rollup_day("x/2023/11/15/noname.log.gz", &day, &dir_len) &&
            day == 1699920000 + 86400 && dir_len == strlen("x/2023/11/15/"));
    T_CHECK(fsg_rollup_day("1_vpcflowlogs_r_fl-1_20231114T0000Z_ab.log.gz", &day, &dir_len) &&
            day == 1699920000 && dir_len == 0);
    T_CHECK(!fsg_rollup_day("logs/nodate.log.gz", &day, &dir_len));

    const char *keys[] = { "d/a", "d/b" }, *etags[] = { "\"1\"", "\"2\"" };
    const char *etags2[] = { "\"1\"", "\"3\"" };
    char h1[65], h2[65], h3[65], h4[65];
    T_OK(fsg_rollup_members_hash(keys, etags, 2, "fp", h1));
    T_OK(fsg_rollup_members_hash(keys, etags, 2, "fp", h2));
    T_STR_EQ(h1, h2);
    T_OK(fsg_rollup_members_hash(keys, etags2, 2, "fp", h3)); /* an object rewritten */
    T_OK(fsg_rollup_members_hash(keys, etags, 1, "fp", h4));  /* one object fewer */
    T_CHECK(strcmp(h1, h3) != 0 && strcmp(h1, h4) != 0 && strcmp(h3, h4) != 0);
    T_OK(fsg_rollup_members_hash(keys, etags, 2, "other", h4)); /* another configuration */
    T_CHECK(strcmp(h1, h4) != 0);
    /* no two member lists share a hash by moving a '\n' between fields */
    const char *kx[] = { "d/a\n\"1\"" }, *ex[] = { "" }, *ky[] = { "d/a" }, *ey[] = { "\"1\"\n" };
    T_OK(fsg_rollup_members_hash(kx, ex, 1, "fp", h3));
    T_OK(fsg_rollup_members_hash(ky, ey, 1, "fp", h4));
    T_CHECK(strcmp(h3, h4) != 0);

    struct fsg_buf k = FSG_BUF_INIT, want = FSG_BUF_INIT;
    T_OK(fsg_rollup_key("fs/", "logs", k1, dir_len = strlen("AWSLogs/1/vpcflowlogs/r/2023/11/14/"),
                        1699920000, h1, "0123456789abcdef0123", &k));
    T_OK(fsg_buf_printf(&want, "fs/logs/AWSLogs/1/vpcflowlogs/r/2023/11/14/flowseg-day-20231114."
                               "%.32s.0123456789abcdef.fsum-day.json.gz", h1));
    T_STR_EQ(fsg_buf_cstr(&k), fsg_buf_cstr(&want));
    fsg_buf_clean_up(&k);
    fsg_buf_clean_up(&want);

    int64_t d = 1699920000, end = d + 86400;
    T_CHECK(fsg_rollup_day_writable(d, end + FSG_ROLLUP_SETTLE_S, FSG_S3_TIME_NONE,
                                    FSG_S3_TIME_NONE));
    T_CHECK(!fsg_rollup_day_writable(d, end + FSG_ROLLUP_SETTLE_S - 1, FSG_S3_TIME_NONE,
                                     FSG_S3_TIME_NONE)); /* late objects may still come */
    T_CHECK(fsg_rollup_day_writable(d, end + 99999, d, end));
    T_CHECK(!fsg_rollup_day_writable(d, end + 99999, d + 1, FSG_S3_TIME_NONE)); /* cut */
    T_CHECK(!fsg_rollup_day_writable(d, end + 99999, FSG_S3_TIME_NONE, end - 1));

    /* raw: both objects; rollup: a's summary + b's table */
    struct fsg_aggregate *raw = NULL, *b = NULL, *back = NULL;
    struct fsg_buf ga = FSG_BUF_INIT, gz = FSG_BUF_INIT, d1 = FSG_BUF_INIT, d2 = FSG_BUF_INIT;
    T_OK(fsg_aggregate_new(NULL, &raw, NULL));
    T_OK(fsg_aggregate_new(NULL, &b, NULL));
    T_OK(fsg_aggregate_new(NULL, &back, NULL));
    T_OK(s_read(raw, s_obj_a));
    T_OK(s_read(raw, s_obj_b));
    T_OK(s_read(b, s_obj_b));
    T_CHECK(s_encode(s_obj_a, &ga) == 0);
    struct fsg_summary sa, sr;
    T_OK(fsg_summary_decode((struct fsg_span){ ga.ptr, ga.len }, "fp", &sa, NULL));
    struct fsg_rollup_acc *acc = NULL;
    T_OK(fsg_rollup_acc_new(0, NULL, 0, &acc));
    T_CHECK(fsg_rollup_acc_add_summary(acc, &sa));
    T_CHECK(fsg_rollup_acc_add_table(acc, b));
    T_OK(fsg_rollup_acc_encode(acc, "s3://logs/d/ (day 2023-11-14, 2 objects)", h1, "fp", &gz,
                               NULL));
    fsg_rollup_acc_destroy(acc);
    T_OK(fsg_summary_decode((struct fsg_span){ gz.ptr, gz.len }, "fp", &sr, NULL));
    T_STR_EQ(sr.etag, h1);
    T_CHECK(s_fold(back, &sr) == 0);
    T_CHECK(s_dump(raw, &d1) == 0);
    T_CHECK(s_dump(back, &d2) == 0);
    /* the same table and counters; `objects` is the members' own (1 here, 2 raw) */
    T_CHECK(strncmp(fsg_buf_cstr(&d2), fsg_buf_cstr(&d1), strstr(fsg_buf_cstr(&d1), "objects") -
                                                              fsg_buf_cstr(&d1)) == 0);
    T_STR_EQ(strstr(fsg_buf_cstr(&d2), " bytes"), strstr(fsg_buf_cstr(&d1), " bytes"));
    fsg_summary_clean_up(&sr);

    /* too many rows for the cap: the rollup is given up */
    T_OK(fsg_rollup_acc_new(1, NULL, 0, &acc));
    T_CHECK(!fsg_rollup_acc_add_summary(acc, &sa));
    fsg_rollup_acc_destroy(acc);
    /* kept interfaces only */
    const char *db[] = { "eni-db" };
    T_OK(fsg_rollup_acc_new(0, db, 1, &acc));
    T_CHECK(fsg_rollup_acc_add_table(acc, raw));
    fsg_buf_reset(&gz);
    T_OK(fsg_rollup_acc_encode(acc, "s", h1, "fp", &gz, NULL));
    fsg_rollup_acc_destroy(acc);
    T_OK(fsg_summary_decode((struct fsg_span){ gz.ptr, gz.len }, "fp", &sr, NULL));
    T_CHECK(sr.n_rows > 0);
    for (size_t i = 0; i < sr.n_rows; i++) {
        T_STR_EQ(sr.rows[i].eni, "eni-db");
    }
    fsg_summary_clean_up(&sr);
    fsg_summary_clean_up(&sa);
    fsg_aggregate_destroy(raw);
    fsg_aggregate_destroy(b);
    fsg_aggregate_destroy(back);
    fsg_buf_clean_up(&ga);
    fsg_buf_clean_up(&gz);
    fsg_buf_clean_up(&d1);
    fsg_buf_clean_up(&d2);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "summaries_merge_exactly", s_summaries_merge_exactly },
        { "hostile_input", s_hostile_input },
        { "keys_and_fingerprints", s_keys_and_fingerprints },
        { "day_rollups", s_day_rollups },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
