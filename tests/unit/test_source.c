/* flowlogs/source: the push reader is all-or-nothing per object, the runner reads local and
 * external objects in parallel with failures isolated, and directories expand sorted. */
#include <sched.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "flowlogs/source.h"
#include "fsg_config.h"
#include "lib/core/buf.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"

static const char s_object[] =
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start "
    "end action log-status\n"
    "2 1 eni-db 10.0.1.5 10.0.20.11 40001 5432 6 10 1000 100 160 ACCEPT OK\n"
    "2 1 eni-db 10.0.20.11 10.0.1.5 5432 40001 6 8 9000 100 160 ACCEPT OK\n"
    "2 1 eni-db 10.0.1.6 10.0.20.11 40002 5432 6 1 60 70 70 REJECT OK\n"
    "bad line\n"
    "2 1 eni-db - - - - - - - 70 70 - NODATA\n";

static int s_gzip(struct fsg_buf *out, const char *text, int members)
{
    size_t len = strlen(text), step = len / (size_t)members + 1;
    for (size_t off = 0; off < len; off += step) {
        uLong n = (uLong)(len - off < step ? len - off : step);
        z_stream z = { 0 };
        uint8_t tmp[4096];
        if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            return 1;
        }
        z.next_in = (Bytef *)(uintptr_t)(text + off);
        z.avail_in = (uInt)n;
        z.next_out = tmp;
        z.avail_out = sizeof tmp;
        int zrc = deflate(&z, Z_FINISH);
        deflateEnd(&z);
        if (zrc != Z_STREAM_END || fsg_buf_append(out, tmp, sizeof tmp - z.avail_out) != FSG_OK) {
            return 1;
        }
    }
    return 0;
}

static int s_write(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return 1;
    }
    size_t n = fwrite(data, 1, len, f);
    return fclose(f) != 0 || n != len;
}

static int s_reader_is_all_or_nothing(void)
{
    struct fsg_buf gz = FSG_BUF_INIT;
    struct fsg_aggregate *agg = NULL;
    struct fsg_reader *r = NULL;
    struct fsg_error err;
    T_CHECK(s_gzip(&gz, s_object, 2) == 0);
    T_OK(fsg_aggregate_new(NULL, &agg, &err));

    /* truncated: nothing reaches the aggregator; the error has the offset and no source name */
    struct fsg_reader_options o = { .source = "s3://b/truncated.log.gz" };
    T_OK(fsg_reader_new(&o, agg, &r, &err));
    T_OK(fsg_reader_feed(r, (struct fsg_span){ gz.ptr, gz.len - 5 }, &err));
    T_ERR(FSG_E_PARSE, fsg_reader_finish(r, &err));
    char want[80];
    snprintf(want, sizeof want, "premature end of gzip stream at byte %zu", gz.len - 5);
    T_STR_EQ(err.msg, want);
    T_CHECK(err.offset == gz.len - 5);
    T_ERR(FSG_E_PARSE, fsg_reader_feed(r, fsg_span_from_cstr("x"), &err)); /* repeats */
    T_CHECK(err.offset == gz.len - 5);
    T_STR_EQ(fsg_reader_source(r), "s3://b/truncated.log.gz");
    fsg_reader_destroy(r);
    T_CHECK(fsg_aggregate_entries(agg) == 0 && fsg_aggregate_stats(agg)->objects == 0);

    /* complete, fed one byte at a time: counted once finished */
    T_OK(fsg_reader_new(&o, agg, &r, &err));
    for (size_t i = 0; i < gz.len; i++) {
        T_OK(fsg_reader_feed(r, (struct fsg_span){ gz.ptr + i, 1 }, &err));
    }
    T_CHECK(fsg_aggregate_entries(agg) == 0);
    T_OK(fsg_reader_finish(r, &err));
    T_ERR(FSG_E_INVALID_ARG, fsg_reader_finish(r, &err));
    T_STR_EQ(fsg_reader_engine(r), FSG_HAVE_ISAL ? "isa-l" : "zlib");
    size_t n_bad;
    const struct fsg_flowlog_malformed *bad = fsg_reader_malformed(r, &n_bad);
    T_CHECK(n_bad == 1 && bad[0].line == 5);
    T_CHECK(fsg_reader_stats(r)->records == 3 && fsg_reader_offset(r) == gz.len);
    fsg_reader_destroy(r);
    const struct fsg_flow_stats *s = fsg_aggregate_stats(agg);
    T_CHECK(s->objects == 1 && s->records == 3 && s->nodata == 1 && s->malformed == 1 &&
            s->lines == 5 && s->bytes_in == gz.len);
    T_CHECK(fsg_aggregate_entries(agg) == 2);
    fsg_aggregate_destroy(agg);
    fsg_buf_clean_up(&gz);
    return 0;
}

/* An external object (the S3 shape): the callback feeds, the runner finishes. */
struct s_ext {
    struct fsg_span data;
    size_t fail_after; /* 0 = never */
};

static enum fsg_err s_ext_run(void *ctx, struct fsg_reader *reader, struct fsg_error *err)
{
    struct s_ext *x = ctx;
    for (size_t off = 0; off < x->data.len; off += 7) {
        if (x->fail_after != 0 && off >= x->fail_after) {
            return fsg_error_set(err, FSG_E_NETWORK, "connection reset by peer");
        }
        size_t n = x->data.len - off < 7 ? x->data.len - off : 7;
        enum fsg_err rc = fsg_reader_feed(reader, (struct fsg_span){ x->data.ptr + off, n }, err);
        if (rc != FSG_OK) {
            return rc;
        }
    }
    return FSG_OK;
}

static int s_table(struct fsg_aggregate *agg, struct fsg_buf *out)
{
    struct fsg_flow *flows = NULL;
    size_t n = 0;
    if (fsg_aggregate_result(agg, FSG_DIRECTION_ALL, NULL, 0, &flows, &n, NULL) != FSG_OK) {
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        char s[FSG_IP_STR_MAX];
        if (fsg_buf_printf(out, "%s %s %u %llu\n", flows[i].eni, fsg_ip_format(&flows[i].src, s),
                           (unsigned)flows[i].port,
                           (unsigned long long)flows[i].records) != FSG_OK) {
            return 1;
        }
    }
    fsg_free(flows);
    return 0;
}

static int s_runner(void)
{
    char dir[] = "/tmp/fsg_test_source_XXXXXX";
    T_CHECK(mkdtemp(dir) != NULL);
    struct fsg_buf gz = FSG_BUF_INIT, bad = FSG_BUF_INIT, perni = FSG_BUF_INIT;
    T_CHECK(s_gzip(&gz, s_object, 3) == 0);
    T_OK(fsg_buf_append_span(&bad, fsg_span_from_buf(&gz)));
    bad.ptr[bad.len / 2] ^= 0xff;
    bad.ptr[bad.len / 2 + 1] ^= 0xff;
    T_CHECK(s_write(dir, "a.log.gz", gz.ptr, gz.len) == 0);
    T_CHECK(s_write(dir, "b-truncated.log.gz", gz.ptr, gz.len - 9) == 0);
    T_CHECK(s_write(dir, "c-corrupt.log.gz", bad.ptr, bad.len) == 0);
    T_CHECK(s_write(dir, "d.log", s_object, strlen(s_object)) == 0);
    T_OK(fsg_buf_append_cstr(&perni,
                             "srcaddr dstaddr dstport srcport\n10.0.9.9 10.0.20.99 443 41000\n"));
    T_CHECK(s_write(dir, "e-per-eni.log", perni.ptr, perni.len) == 0);

    char paths[6][512];
    const char *names[] = { "a.log.gz", "b-truncated.log.gz", "c-corrupt.log.gz",
                            "d.log",    "e-per-eni.log",      "missing.log" };
    struct fsg_object objs[8];
    for (int i = 0; i < 6; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", dir, names[i]);
        objs[i] = (struct fsg_object){ .name = paths[i] };
    }
    objs[4].default_eni = "eni-web";
    struct s_ext good = { .data = fsg_span_from_buf(&gz) };
    struct s_ext broken = { .data = fsg_span_from_buf(&gz), .fail_after = 20 };
    objs[6] =
        (struct fsg_object){ .name = "s3://bucket/good.log.gz", .run = s_ext_run, .ctx = &good };
    objs[7] =
        (struct fsg_object){ .name = "s3://bucket/reset.log.gz", .run = s_ext_run, .ctx = &broken };

    struct fsg_buf first = FSG_BUF_INIT;
    for (unsigned run = 0; run < 6; run++) {
        /* jobs 1 and 4, each with the pipeline as the CPUs decide, off and on */
        unsigned jobs = run < 3 ? 1 : 4;
        struct fsg_aggregate *agg = NULL;
        struct fsg_run_result res;
        struct fsg_run_options ro = { .jobs = jobs,
                                      .read_chunk_bytes = 13,
                                      .pipeline = (enum fsg_pipeline)(run % 3) };
        struct fsg_buf table = FSG_BUF_INIT;
        T_OK(fsg_aggregate_new(NULL, &agg, NULL));
        T_OK(fsg_run_objects(objs, 8, &ro, agg, &res, NULL));
        T_CHECK(res.n_errors == 4);
        T_STR_EQ(res.errors[0].source, paths[1]);
        T_CHECK(strstr(res.errors[0].message, "premature end of gzip stream at byte") != NULL);
        T_CHECK(res.errors[0].offset == gz.len - 9);
        T_STR_EQ(res.errors[1].source, paths[2]);
        T_CHECK(strstr(res.errors[1].message, "corrupt gzip data") != NULL);
        T_CHECK(res.errors[1].offset > 0 && res.errors[1].offset <= bad.len);
        T_STR_EQ(res.errors[2].source, paths[5]);
        T_CHECK(res.errors[2].code == FSG_E_NOT_FOUND &&
                strstr(res.errors[2].message, "cannot open"));
        T_STR_EQ(res.errors[3].source, "s3://bucket/reset.log.gz");
        T_CHECK(res.errors[3].code == FSG_E_NETWORK && res.errors[3].offset == 21);
        /* a.log.gz, d.log, e-per-eni.log and the good external object */
        const struct fsg_flow_stats *s = fsg_aggregate_stats(agg);
        T_CHECK(s->objects == 4 && s->records == 10 && s->malformed == 3);
        T_CHECK(res.n_warnings == 3);
        T_STR_EQ(res.warnings[0].source, paths[0]);
        T_CHECK(res.warnings[0].line == 5);
        T_CHECK(s_table(agg, &table) == 0);
        T_STR_EQ(fsg_buf_cstr(&table), "eni-db 10.0.1.5 5432 3\n"
                                       "eni-db 10.0.1.6 5432 3\n"
                                       "eni-web 10.0.9.9 443 1\n");
        if (first.len == 0) {
            T_OK(fsg_buf_append_span(&first, fsg_span_from_buf(&table)));
        }
        T_STR_EQ(fsg_buf_cstr(&table), fsg_buf_cstr(&first));
        fsg_buf_clean_up(&table);
        fsg_run_result_clean_up(&res);
        fsg_run_result_clean_up(&res);
        fsg_aggregate_destroy(agg);
    }
    for (int i = 0; i < 5; i++) {
        unlink(paths[i]);
    }
    rmdir(dir);
    fsg_buf_clean_up(&first);
    fsg_buf_clean_up(&gz);
    fsg_buf_clean_up(&bad);
    fsg_buf_clean_up(&perni);
    return 0;
}

/* Objects with summarize() under a small memory budget: one whose rows do not fit gets no
 * summary (its table would be partial), one that fits gets its summary, and the flow table is
 * the same as without a budget; the caller's budget is given back after the run. */
struct s_sums {
    pthread_mutex_t lock;
    size_t calls, rows, partial, max_bytes;
};

static void s_count_summary(void *ctx, const struct fsg_aggregate *table)
{
    struct s_sums *c = ctx;
    pthread_mutex_lock(&c->lock);
    if (table == NULL) {
        c->partial++; /* rows on disk: no summary */
    } else {
        c->calls++;
        c->rows += fsg_aggregate_entries(table);
        size_t b = fsg_aggregate_table_bytes(table);
        c->max_bytes = b > c->max_bytes ? b : c->max_bytes;
    }
    pthread_mutex_unlock(&c->lock);
}

static int s_summaries_within_budget(void)
{
    struct fsg_buf big = FSG_BUF_INIT, want = FSG_BUF_INIT;
    T_OK(fsg_buf_append_cstr(&big, "version account-id interface-id srcaddr dstaddr srcport "
                                   "dstport protocol packets bytes start end action log-status\n"));
    for (unsigned i = 0; i < 20000; i++) {
        T_OK(fsg_buf_printf(&big, "2 1 eni-db 10.%u.%u.%u 10.0.20.11 40000 5432 6 1 60 1 2 "
                                  "ACCEPT OK\n", i >> 16, (i >> 8) & 255, i & 255));
    }
    struct s_ext xs = { .data = fsg_span_from_cstr(s_object) };
    struct s_ext xb = { .data = fsg_span_from_buf(&big) };
    uint64_t records = 0;
    for (unsigned run = 0; run < 3; run++) {
        struct s_sums small_sums = { .lock = PTHREAD_MUTEX_INITIALIZER };
        struct s_sums big_sums = { .lock = PTHREAD_MUTEX_INITIALIZER };
        /* a small one, the big one, then 40 small ones read after rows went to disk: these
         * join the worker's table, not a run each */
        struct fsg_object objs[42] = {
            { .name = "small", .run = s_ext_run, .ctx = &xs, .summarize = s_count_summary,
              .summarize_ctx = &small_sums },
            { .name = "big", .run = s_ext_run, .ctx = &xb, .summarize = s_count_summary,
              .summarize_ctx = &big_sums },
        };
        for (size_t i = 2; i < 42; i++) {
            objs[i] = objs[0];
        }
        struct fsg_aggregate *agg = NULL;
        struct fsg_run_result res;
        struct fsg_buf table = FSG_BUF_INIT;
        T_OK(fsg_aggregate_new(NULL, &agg, NULL));
        size_t budget = run == 0 ? 0 : 256 << 10; /* run 0: no budget, the reference */
        T_OK(fsg_aggregate_set_memory(agg, budget, NULL));
        struct fsg_run_options ro = { .jobs = run == 2 ? 2 : 1 };
        T_OK(fsg_run_objects(objs, 42, &ro, agg, &res, NULL));
        T_CHECK(res.n_errors == 0);
        T_CHECK(fsg_aggregate_memory(agg) == budget);
        T_CHECK(small_sums.calls == 41 && small_sums.rows == 41 * 2 && small_sums.partial == 0);
        T_CHECK(big_sums.calls == (run == 0 ? 1u : 0u) && big_sums.partial == (run == 0 ? 0u : 1u));
        /* an object's own table keeps to half its worker's share */
        struct fsg_aggregate *fresh = NULL; /* a table's smallest size is its floor */
        T_OK(fsg_aggregate_new(NULL, &fresh, NULL));
        size_t floor_bytes = fsg_aggregate_table_bytes(fresh);
        fsg_aggregate_destroy(fresh);
        size_t half = budget / 2 / ro.jobs;
        T_CHECK(run == 0 || small_sums.max_bytes <= (half > floor_bytes ? half : floor_bytes));
        T_CHECK(run == 0 || fsg_aggregate_spilled_runs(agg) > 0);
        T_CHECK(fsg_aggregate_spilled_runs(agg) < 20);
        if (run == 0) {
            records = fsg_aggregate_stats(agg)->records;
        }
        T_CHECK(records > 20000 && fsg_aggregate_stats(agg)->records == records);
        T_CHECK(s_table(agg, &table) == 0);
        if (run == 0) {
            T_OK(fsg_buf_append_span(&want, fsg_span_from_buf(&table)));
        }
        T_STR_EQ(fsg_buf_cstr(&table), fsg_buf_cstr(&want));
        fsg_buf_clean_up(&table);
        fsg_run_result_clean_up(&res);
        fsg_aggregate_destroy(agg);
    }
    fsg_buf_clean_up(&big);
    fsg_buf_clean_up(&want);
    return 0;
}

static int s_expand(void)
{
    char dir[] = "/tmp/fsg_test_expand_XXXXXX";
    T_CHECK(mkdtemp(dir) != NULL);
    char sub[600], deeper[700], hidden[600];
    snprintf(sub, sizeof sub, "%s/b", dir);
    snprintf(deeper, sizeof deeper, "%s/b/c", dir);
    snprintf(hidden, sizeof hidden, "%s/.git", dir);
    T_CHECK(mkdir(sub, 0700) == 0 && mkdir(deeper, 0700) == 0 && mkdir(hidden, 0700) == 0);
    T_CHECK(s_write(dir, "z.log", "x", 1) == 0 && s_write(dir, "a.log", "x", 1) == 0 &&
            s_write(dir, ".hidden", "x", 1) == 0 && s_write(sub, "m.log", "x", 1) == 0 &&
            s_write(deeper, "k.log", "x", 1) == 0 && s_write(hidden, "x.log", "x", 1) == 0);
    char **paths = NULL;
    size_t n = 0;
    char slash[600];
    snprintf(slash, sizeof slash, "%s/", dir);
    T_OK(fsg_source_expand("-", &paths, &n, NULL));
    T_OK(fsg_source_expand(slash, &paths, &n, NULL));
    T_OK(fsg_source_expand("/nonexistent/file.gz", &paths, &n, NULL));
    T_CHECK(n == 6);
    T_STR_EQ(paths[0], "-");
    char want[700];
    snprintf(want, sizeof want, "%s/a.log", dir);
    T_STR_EQ(paths[1], want);
    snprintf(want, sizeof want, "%s/b/c/k.log", dir);
    T_STR_EQ(paths[2], want);
    snprintf(want, sizeof want, "%s/b/m.log", dir);
    T_STR_EQ(paths[3], want);
    snprintf(want, sizeof want, "%s/z.log", dir);
    T_STR_EQ(paths[4], want);
    T_STR_EQ(paths[5], "/nonexistent/file.gz");
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && i < 5) {
            unlink(paths[i]);
        }
        fsg_free(paths[i]);
    }
    fsg_free(paths);
    snprintf(want, sizeof want, "%s/.hidden", dir);
    unlink(want);
    snprintf(want, sizeof want, "%s/x.log", hidden);
    unlink(want);
    T_CHECK(rmdir(deeper) == 0 && rmdir(sub) == 0 && rmdir(hidden) == 0 && rmdir(dir) == 0);
    return 0;
}

/* ---- the pipeline: the same results as the one-thread reader and the pull decoder ------------ */

#define S_V2_HEADER                                                                                \
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "      \
    "start end action log-status\n"
#define S_V5_HEADER                                                                                \
    "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "       \
    "action tcp-flags flow-direction log-status\n"

static uint32_t s_rand(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

/* About `lines` lines of every kind the decoder meets: IPv4 and IPv6 records, NODATA/SKIPDATA,
 * malformed and over-long lines, CRLF, runs of spaces, blank lines, and a header in the middle
 * that switches the column order (and one back). Deterministic. */
static int s_corpus(struct fsg_buf *out, unsigned lines)
{
    uint32_t st = 12345;
    bool v5 = false;
    if (fsg_buf_append_cstr(out, S_V2_HEADER) != FSG_OK) {
        return 1;
    }
    for (unsigned i = 0; i < lines; i++) {
        if (i == lines * 2 / 5 || i == lines * 7 / 10) {
            v5 = !v5;
            if (fsg_buf_append_cstr(out, v5 ? S_V5_HEADER : S_V2_HEADER) != FSG_OK) {
                return 1;
            }
        }
        unsigned k = s_rand(&st) % 100, eni = s_rand(&st) % 7, c = s_rand(&st) % 300;
        unsigned sport = 32768 + s_rand(&st) % 20000, dport = (unsigned[]){ 5432, 443, 22 }[c % 3];
        unsigned pk = 1 + s_rand(&st) % 50, by = pk * (40 + s_rand(&st) % 1400);
        unsigned t = 1700000000 + s_rand(&st) % 600;
        bool req = s_rand(&st) % 2 == 0;
        char src[64], dst[64], line[600];
        if (k < 8) {
            snprintf(src, sizeof src, "2600:1f18:1::%x", c + 1);
            snprintf(dst, sizeof dst, "2600:1f18:0:%x::b", eni);
        } else {
            snprintf(src, sizeof src, "10.1.%u.%u", c / 200, c % 200 + 1);
            snprintf(dst, sizeof dst, "10.0.%u.11", eni + 20);
        }
        if (!req) {
            char tmp[64];
            memcpy(tmp, src, sizeof tmp);
            memcpy(src, dst, sizeof src);
            memcpy(dst, tmp, sizeof dst);
            unsigned p = sport;
            sport = dport;
            dport = p;
        }
        const char *action = s_rand(&st) % 10 == 0 ? "REJECT" : "ACCEPT";
        if (k >= 8 && k < 12) {
            snprintf(line, sizeof line, "2 %seni-%02u - - - - - - - %u %u - %s\n",
                     v5 ? "" : "123456789012 ", eni, t, t + 60, k < 11 ? "NODATA" : "SKIPDATA");
        } else if (k >= 12 && k < 15) {
            static const char *const bad[] = { "garbage here\n", "2 1 eni-x 10.0.0.1\n",
                                               "2 1 eni-x 10.0.0.999 10.0.0.1 1 2 6 1 1 1 1 "
                                               "ACCEPT OK\n" };
            snprintf(line, sizeof line, "%s", bad[k - 12]);
        } else if (k == 15) {
            memset(line, 'x', 300);
            line[300] = '\n';
            line[301] = '\0';
        } else if (k == 16) {
            snprintf(line, sizeof line, "\r\n");
        } else if (k == 19 && i % 3 == 0) {
            /* longer than a small window: dropped as it comes by the inflating side */
            for (int j = 0; j < 5000; j++) {
                if (fsg_buf_append_byte(out, (uint8_t)('a' + j % 26)) != FSG_OK) {
                    return 1;
                }
            }
            snprintf(line, sizeof line, "\n");
        } else if (v5) {
            snprintf(line, sizeof line, "5 eni-%02u %s %s %u %u 6 %u %u %u %u %s %u %s OK%s\n", eni,
                     src, dst, sport, dport, pk, by, t, t + 30, action, req ? 2 : 18,
                     req ? "ingress" : "egress", k == 17 ? "\r" : "");
        } else {
            snprintf(line, sizeof line, "2 123456789012 eni-%02u %s %s%s%u %u 6 %u %u %u %u %s OK%s\n",
                     eni, src, dst, k == 18 ? "   " : " ", sport, dport, pk, by, t, t + 30, action,
                     k == 17 ? "\r" : "");
        }
        if (fsg_buf_append_cstr(out, line) != FSG_OK) {
            return 1;
        }
    }
    return 0;
}

/* Everything a run leaves: the full table, the counters and the malformed samples. */
static int s_describe(struct fsg_aggregate *agg, const struct fsg_flowlog_stats *st,
                      const struct fsg_flowlog_malformed *bad, size_t n_bad, struct fsg_buf *out)
{
    struct fsg_flow *flows = NULL;
    size_t n = 0;
    if (fsg_aggregate_result(agg, FSG_DIRECTION_ALL, NULL, 0, &flows, &n, NULL) != FSG_OK) {
        return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char s[FSG_IP_STR_MAX], d[FSG_IP_STR_MAX];
        const struct fsg_flow *f = &flows[i];
        rc = fsg_buf_printf(out, "%s %s %s %u %u %u %u %llu %llu %llu %lld %lld\n", f->eni,
                            fsg_ip_format(&f->src, s), fsg_ip_format(&f->dst, d),
                            (unsigned)f->port, (unsigned)f->proto, (unsigned)f->action,
                            (unsigned)f->direction, (unsigned long long)f->records,
                            (unsigned long long)f->packets, (unsigned long long)f->bytes,
                            (long long)f->first_s, (long long)f->last_s) != FSG_OK;
    }
    fsg_free(flows);
    rc = rc || fsg_buf_printf(out, "lines %llu records %llu nodata %llu skipdata %llu bad %llu\n",
                              (unsigned long long)st->lines, (unsigned long long)st->records,
                              (unsigned long long)st->nodata, (unsigned long long)st->skipdata,
                              (unsigned long long)st->malformed) != FSG_OK;
    for (size_t i = 0; i < n_bad && rc == 0; i++) {
        rc = fsg_buf_printf(out, "%lu: %s\n", bad[i].line, bad[i].reason) != FSG_OK;
    }
    return rc;
}

/* The pull decoder into an aggregator: the reference. */
static int s_reference(struct fsg_span in, const struct fsg_flowlog_options *o,
                       struct fsg_buf *out)
{
    struct fsg_flowlog_decoder *d = NULL;
    struct fsg_aggregate *agg = NULL;
    const struct fsg_flowlog_record *rec;
    T_OK(fsg_flowlog_decoder_new(o, &d, NULL));
    T_OK(fsg_aggregate_new(NULL, &agg, NULL));
    fsg_flowlog_decoder_set_input(d, in);
    fsg_flowlog_decoder_finish(d);
    while (fsg_flowlog_decoder_next(d, &rec, NULL) == FSG_OK && rec != NULL) {
        T_OK(fsg_aggregate_add(agg, rec, fsg_span_from_cstr("eni-default"), NULL));
    }
    T_CHECK(fsg_flowlog_decoder_done(d));
    size_t n_bad;
    const struct fsg_flowlog_malformed *bad = fsg_flowlog_decoder_malformed(d, &n_bad);
    T_CHECK(s_describe(agg, fsg_flowlog_decoder_stats(d), bad, n_bad, out) == 0);
    fsg_aggregate_destroy(agg);
    fsg_flowlog_decoder_destroy(d);
    return 0;
}

/* The reader, fed in chunks of `chunk` bytes (0 = at once). */
static int s_read(struct fsg_span in, size_t chunk, const struct fsg_flowlog_options *o,
                  bool pipeline, struct fsg_buf *out)
{
    struct fsg_aggregate *agg = NULL;
    struct fsg_reader *r = NULL;
    struct fsg_error err;
    struct fsg_reader_options ro = { .source = "x",
                                     .default_eni = "eni-default",
                                     .decoder = o,
                                     .pipeline = pipeline };
    T_OK(fsg_aggregate_new(NULL, &agg, NULL));
    T_OK(fsg_reader_new(&ro, agg, &r, &err));
    T_CHECK(fsg_reader_is_pipelined(r) == pipeline);
    for (size_t off = 0; off < in.len;) {
        size_t n = chunk == 0 || chunk > in.len - off ? in.len - off : chunk;
        T_OK(fsg_reader_feed(r, (struct fsg_span){ in.ptr + off, n }, &err));
        off += n;
    }
    T_OK(fsg_reader_finish(r, &err));
    T_CHECK(fsg_reader_offset(r) == in.len && fsg_reader_stats(r)->bytes_in == in.len);
    size_t n_bad;
    const struct fsg_flowlog_malformed *bad = fsg_reader_malformed(r, &n_bad);
    T_CHECK(s_describe(agg, fsg_reader_stats(r), bad, n_bad, out) == 0);
    fsg_reader_destroy(r);
    fsg_aggregate_destroy(agg);
    return 0;
}

static int s_gzip_buf(struct fsg_buf *out, struct fsg_span in, int level)
{
    z_stream z = { 0 };
    uint8_t tmp[65536];
    if (deflateInit2(&z, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return 1;
    }
    z.next_in = (Bytef *)(uintptr_t)in.ptr;
    z.avail_in = (uInt)in.len;
    int zrc;
    do {
        z.next_out = tmp;
        z.avail_out = sizeof tmp;
        zrc = deflate(&z, Z_FINISH);
        if (fsg_buf_append(out, tmp, sizeof tmp - z.avail_out) != FSG_OK) {
            zrc = Z_MEM_ERROR;
        }
    } while (zrc == Z_OK);
    deflateEnd(&z);
    return zrc != Z_STREAM_END;
}

/* More text than the ring holds (4 x 256 KiB), plain and gzip, whole and in small chunks, with
 * the default limits and with tiny ones (over-long lines dropped by the inflating thread). */
static int s_pipeline_matches_one_thread(void)
{
    struct fsg_buf text = FSG_BUF_INIT, gz = FSG_BUF_INIT;
    T_CHECK(s_corpus(&text, 14000) == 0);
    T_CHECK(text.len > ((size_t)5 << 20) / 4);
    T_CHECK(s_gzip_buf(&gz, fsg_span_from_buf(&text), 1) == 0);
    const struct fsg_flowlog_options opts[2] = {
        { 0 },
        { .window_bytes = 4096, .max_line_bytes = 200 },
    };
    const struct fsg_span inputs[2] = { fsg_span_from_buf(&text), fsg_span_from_buf(&gz) };
    static const size_t chunks[] = { 0, 65536, 13 };
    for (int o = 0; o < 2; o++) {
        struct fsg_buf want = FSG_BUF_INIT;
        T_CHECK(s_reference(inputs[0], &opts[o], &want) == 0);
        T_CHECK(strstr(fsg_buf_cstr(&want), "longer than 200") != NULL || o == 0);
        T_CHECK(strstr(fsg_buf_cstr(&want), "bad srcaddr") != NULL);
        for (int i = 0; i < 2; i++) {
            for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
                for (int pipe = 0; pipe < 2; pipe++) {
                    struct fsg_buf got = FSG_BUF_INIT;
                    T_CHECK(s_read(inputs[i], chunks[c], &opts[o], pipe == 1, &got) == 0);
                    T_STR_EQ(fsg_buf_cstr(&got), fsg_buf_cstr(&want));
                    fsg_buf_clean_up(&got);
                }
            }
        }
        fsg_buf_clean_up(&want);
    }
    fsg_buf_clean_up(&gz);
    fsg_buf_clean_up(&text);
    return 0;
}

/* Errors on either thread end the object with the error, once and then again; nothing reaches
 * the aggregator; dropping a reader mid-stream stops its thread. */
static int s_pipeline_errors(void)
{
    struct fsg_buf text = FSG_BUF_INIT, gz = FSG_BUF_INIT;
    T_CHECK(s_corpus(&text, 14000) == 0);
    T_CHECK(s_gzip_buf(&gz, fsg_span_from_buf(&text), 1) == 0);
    struct fsg_aggregate *agg = NULL;
    struct fsg_reader *r = NULL;
    struct fsg_error err;
    struct fsg_reader_options ro = { .source = "x", .pipeline = true };

    /* the decoding thread fails (too many flows): a later feed() or finish() says so */
    struct fsg_aggregate_options ao = { .max_entries = 5 };
    T_OK(fsg_aggregate_new(&ao, &agg, NULL));
    T_OK(fsg_reader_new(&ro, agg, &r, &err));
    enum fsg_err rc = FSG_OK;
    for (size_t off = 0; off < gz.len && rc == FSG_OK; off += 4096) {
        size_t n = gz.len - off < 4096 ? gz.len - off : 4096;
        rc = fsg_reader_feed(r, (struct fsg_span){ gz.ptr + off, n }, &err);
    }
    if (rc == FSG_OK) {
        rc = fsg_reader_finish(r, &err);
    }
    T_ERR(FSG_E_LIMIT, rc);
    T_CHECK(strstr(err.msg, "too many distinct flows") != NULL);
    T_ERR(FSG_E_LIMIT, fsg_reader_feed(r, fsg_span_from_cstr("x"), &err));
    T_ERR(FSG_E_LIMIT, fsg_reader_finish(r, &err));
    fsg_reader_destroy(r);
    T_CHECK(fsg_aggregate_entries(agg) == 0 && fsg_aggregate_stats(agg)->objects == 0);
    fsg_aggregate_destroy(agg);

    T_OK(fsg_aggregate_new(NULL, &agg, NULL));
    /* truncated gzip: the inflating thread's error, with its offset */
    T_OK(fsg_reader_new(&ro, agg, &r, &err));
    T_OK(fsg_reader_feed(r, (struct fsg_span){ gz.ptr, gz.len - 100 }, &err));
    T_ERR(FSG_E_PARSE, fsg_reader_finish(r, &err));
    T_CHECK(strstr(err.msg, "premature end of gzip stream") != NULL);
    T_CHECK(err.offset == gz.len - 100);
    fsg_reader_destroy(r);
    /* a first line that is a header without addresses: fatal, with its line */
    T_OK(fsg_reader_new(&ro, agg, &r, &err));
    rc = fsg_reader_feed(r, fsg_span_from_cstr("version srcport\n2 22\n"), &err);
    if (rc == FSG_OK) {
        rc = fsg_reader_finish(r, &err);
    }
    T_ERR(FSG_E_PARSE, rc);
    T_CHECK(err.line == 1 && strncmp(err.msg, "line 1: header: ", 16) == 0);
    fsg_reader_destroy(r);
    /* dropped mid-stream, with blocks in flight */
    T_OK(fsg_reader_new(&ro, agg, &r, &err));
    T_OK(fsg_reader_feed(r, (struct fsg_span){ gz.ptr, gz.len / 2 }, &err));
    fsg_reader_destroy(r);
    T_CHECK(fsg_aggregate_entries(agg) == 0);
    fsg_aggregate_destroy(agg);
    fsg_buf_clean_up(&gz);
    fsg_buf_clean_up(&text);
    return 0;
}

/* AUTO uses a second thread per worker only when there are twice as many CPUs as workers. */
static int s_pipeline_policy(void)
{
    T_CHECK(fsg_run_uses_pipeline(FSG_PIPELINE_ON, 64));
    T_CHECK(!fsg_run_uses_pipeline(FSG_PIPELINE_OFF, 1));
    cpu_set_t all, one;
    T_CHECK(sched_getaffinity(0, sizeof all, &all) == 0);
    size_t cpus = (size_t)CPU_COUNT(&all);
    T_CHECK(fsg_run_uses_pipeline(FSG_PIPELINE_AUTO, 1) == (cpus >= 2));
    T_CHECK(!fsg_run_uses_pipeline(FSG_PIPELINE_AUTO, cpus / 2 + 1));
    T_CHECK(fsg_run_uses_pipeline(FSG_PIPELINE_AUTO, cpus / 2) == (cpus >= 2));
    /* pinned to one CPU (as with taskset -c 0): never */
    int first = 0;
    while (!CPU_ISSET(first, &all)) {
        first++;
    }
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    T_CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
    bool pinned = fsg_run_uses_pipeline(FSG_PIPELINE_AUTO, 1);
    T_CHECK(sched_setaffinity(0, sizeof all, &all) == 0);
    T_CHECK(!pinned);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "reader_is_all_or_nothing", s_reader_is_all_or_nothing },
        { "runner", s_runner },
        { "expand", s_expand },
        { "summaries_within_budget", s_summaries_within_budget },
        { "pipeline_matches_one_thread", s_pipeline_matches_one_thread },
        { "pipeline_errors", s_pipeline_errors },
        { "pipeline_policy", s_pipeline_policy },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
