/* flowlogs/source: the push reader is all-or-nothing per object, the runner reads local and
 * external objects in parallel with failures isolated, and directories expand sorted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "flowlogs/source.h"
#include "fsg_config.h"
#include "lib/buf.h"
#include "lib/mem.h"
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
    for (unsigned jobs = 1; jobs <= 4; jobs += 3) {
        struct fsg_aggregate *agg = NULL;
        struct fsg_run_result res;
        struct fsg_run_options ro = { .jobs = jobs, .read_chunk_bytes = 13 };
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

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "reader_is_all_or_nothing", s_reader_is_all_or_nothing },
        { "runner", s_runner },
        { "expand", s_expand },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
