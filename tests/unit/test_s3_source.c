/* flowlogs/s3_source: dates in keys, --since/--until bounds, URL forms, expansion filters
 * (key regex, time window, folders, Parquet), and objects streamed through the runner into the
 * aggregator over the scripted transport (including a resumed body and a truncated gzip); day
 * rollups of flow summaries read for a day's objects, and made again when not usable. */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "flowlogs/aggregate.h"
#include "flowlogs/rollup.h"
#include "flowlogs/s3_source.h"
#include "flowlogs/summary.h"
#include "flowlogs/source.h"
#include "lib/aws/aws.h"
#include "lib/aws/creds.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"
#include "tests/unit/http_script.h"

static int64_t s_t(int y, int mo, int d, int h, int mi)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                     .tm_min = mi };
    return (int64_t)timegm(&tm);
}

static int s_key_times(void)
{
    static const struct {
        const char *key;
        int y, mo, d, h, mi;
        int64_t len;
    } cases[] = {
        { "AWSLogs/123/vpcflowlogs/us-east-1/2023/01/21/123_vpcflowlogs_us-east-1_fl-055_"
          "20230121T2100Z_1ce1bf4b.log.gz", 2023, 1, 21, 21, 0, 300 },
        { "AWSLogs/123/vpcflowlogs/us-east-1/2025/01/15/x.log.gz", 2025, 1, 15, 0, 0, 86400 },
        { "p/AWSLogs/123/vpcflowlogs/us-east-1/2025/01/15/07/x.log.gz", 2025, 1, 15, 7, 0, 3600 },
        { "AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=us-east-1/year=2025/"
          "month=02/day=28/x.log.gz", 2025, 2, 28, 0, 0, 86400 },
        { "AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=us-east-1/year=2024/"
          "month=02/day=29/hour=23/x.log.gz", 2024, 2, 29, 23, 0, 3600 },
        /* the file name wins over the directory */
        { "2020/01/01/1_vpcflowlogs_r_fl-1_20250115T1155Z_h.log.gz", 2025, 1, 15, 11, 55, 300 },
        /* an impossible file time falls back to the directory */
        { "2025/03/01/x_20250230T1200Z_y.log.gz", 2025, 3, 1, 0, 0, 86400 },
        /* other numbers before the date do not confuse it */
        { "backup/2025/xx/2025/12/31/f.gz", 2025, 12, 31, 0, 0, 86400 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t start = 0, end = 0;
        T_CHECK(fsg_s3_key_time(cases[i].key, &start, &end));
        int64_t want = s_t(cases[i].y, cases[i].mo, cases[i].d, cases[i].h, cases[i].mi);
        if (start != want || end != want + cases[i].len) {
            t_fail_str(__FILE__, __LINE__, "key time", cases[i].key, "");
            return 1;
        }
    }
    static const char *const no_date[] = {
        "x.log.gz", "2025/01/x.log.gz", "2025/13/01/x.log.gz", "2025/02/30/x.log.gz",
        "year=2025/month=1/day=01/x", "x_20250115T115Z.log.gz", "2025/01/15", "",
        "a/1969/12/31/x",
    };
    for (size_t i = 0; i < sizeof no_date / sizeof no_date[0]; i++) {
        int64_t a, b;
        if (fsg_s3_key_time(no_date[i], &a, &b)) {
            t_fail_str(__FILE__, __LINE__, "no date expected", no_date[i], "");
            return 1;
        }
    }
    return 0;
}

static int s_time_bounds(void)
{
    int64_t t;
    T_OK(fsg_s3_parse_time_bound("2025-01-15", false, &t, NULL));
    T_CHECK(t == s_t(2025, 1, 15, 0, 0));
    T_OK(fsg_s3_parse_time_bound("2025-01-15", true, &t, NULL));
    T_CHECK(t == s_t(2025, 1, 16, 0, 0));
    T_OK(fsg_s3_parse_time_bound("2025-01-15T12:30Z", false, &t, NULL));
    T_CHECK(t == s_t(2025, 1, 15, 12, 30));
    T_OK(fsg_s3_parse_time_bound("2025-01-15T12:30:07", true, &t, NULL));
    T_CHECK(t == s_t(2025, 1, 15, 12, 30) + 8);
    static const char *const bad[] = {
        "", "2025-1-15", "2025/01/15", "2025-02-30", "2025-01-15T25:00Z", "2025-01-15T12",
        "2025-01-15 12:00", "2025-01-15T12:00:00+01:00", "yesterday", "2025-01-15Z",
        "2025-01-15T12:00ZZ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct fsg_error err = { 0 };
        T_ERR(FSG_E_INVALID_ARG, fsg_s3_parse_time_bound(bad[i], false, &t, &err));
        T_CHECK(strstr(err.msg, "YYYY-MM-DD") != NULL);
    }
    T_ERR(FSG_E_INVALID_ARG, fsg_s3_parse_time_bound(NULL, true, &t, NULL));
    return 0;
}

/* ---- a source over the scripted transport ---------------------------------------------------- */

struct s_fixture {
    struct t_http_script script;
    struct fsg_http_client *http;
    struct fsg_s3_source *src;
    struct fsg_object *objects;
    size_t n_objects;
    struct fsg_credentials creds;
};

static int s_setup(struct s_fixture *f, const struct t_http_exchange *ex, size_t n,
                   const struct fsg_s3_source_options *base)
{
    memset(f, 0, sizeof *f);
    T_OK(t_creds_init(&f->creds, "AKIDEXAMPLE", "secret", NULL));
    t_http_script_init(&f->script, ex, n);
    f->http = t_http_script_client(&f->script);
    T_CHECK(f->http != NULL);
    struct fsg_aws_client_options ao = {
        .endpoint_url = "http://s3.test", .path_style = true, .http = f->http,
        .creds_fn = t_static_creds_fn, .creds_userdata = &f->creds,
        .retry = { .max_attempts = 3, .sleep = t_no_sleep },
    };
    struct fsg_s3_source_options o = *base;
    o.region = "us-east-1";
    o.aws = &ao;
    T_OK(fsg_s3_source_new(&o, &f->src, NULL));
    return 0;
}

static void s_teardown(struct s_fixture *f)
{
    fsg_free(f->objects);
    fsg_s3_source_destroy(f->src);
    fsg_http_client_destroy(f->http);
    t_http_script_clean_up(&f->script);
    fsg_credentials_clean_up(&f->creds);
}

static const char s_listing[] =
    "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t2"
    "</NextContinuationToken>"
    "<Contents><Key>AWSLogs/1/vpcflowlogs/us-east-1/2025/01/14/1_vpcflowlogs_us-east-1_fl-1_"
    "20250114T2355Z_a.log.gz</Key><Size>10</Size></Contents>"
    "<Contents><Key>AWSLogs/1/vpcflowlogs/us-east-1/2025/01/15/</Key><Size>0</Size></Contents>"
    "<Contents><Key>AWSLogs/1/vpcflowlogs/us-east-1/2025/01/15/1_vpcflowlogs_us-east-1_fl-1_"
    "20250115T0000Z_b.log.gz</Key><Size>10</Size></Contents>"
    "<Contents><Key>AWSLogs/1/vpcflowlogs/us-east-1/2025/01/15/notes.txt</Key><Size>3</Size>"
    "</Contents>"
    "</ListBucketResult>";
static const char s_listing2[] =
    "<ListBucketResult><IsTruncated>false</IsTruncated>"
    "<Contents><Key>AWSLogs/1/vpcflowlogs/us-east-1/2025/01/15/1_vpcflowlogs_us-east-1_fl-1_"
    "20250115T2355Z_c.log.parquet</Key><Size>10</Size></Contents>"
    "<Contents><Key>AWSLogs/1/vpcflowlogs/us-east-1/2025/01/16/1_vpcflowlogs_us-east-1_fl-1_"
    "20250116T0000Z_d.log.gz</Key><Size>10</Size></Contents>"
    "<Contents><Key>AWSLogs/1/vpcflowlogs/us-east-1/undated.log.gz</Key><Size>10</Size>"
    "</Contents>"
    "</ListBucketResult>";

static int s_expand_filters(void)
{
    static const struct t_http_exchange ex[] = {
        { .url = "http://s3.test/b?list-type=2&max-keys=1000&prefix=AWSLogs%2F", .status = 200,
          .body = s_listing },
        { .status = 200, .body = s_listing2 },
        { .url = "http://s3.test/b?list-type=2&max-keys=1000&prefix=AWSLogs%2F", .status = 200,
          .body = s_listing },
        { .status = 200, .body = s_listing2 },
    };
    struct s_fixture f;
    int64_t since, until;
    T_OK(fsg_s3_parse_time_bound("2025-01-15", false, &since, NULL));
    T_OK(fsg_s3_parse_time_bound("2025-01-15", true, &until, NULL));
    struct fsg_s3_source_options o = { .key_regex = "vpcflowlogs/.*\\.log\\.(gz|parquet)$",
                                       .since_s = since, .until_s = until };
    if (s_setup(&f, ex, 4, &o) != 0) {
        return 1;
    }
    struct fsg_error err = { 0 };
    T_OK(fsg_s3_source_expand(f.src, "s3://b/AWSLogs/", &f.objects, &f.n_objects, &err));
    T_CHECK(f.n_objects == 2);
    T_STR_EQ(f.objects[0].name, "s3://b/AWSLogs/1/vpcflowlogs/us-east-1/2025/01/15/"
                                "1_vpcflowlogs_us-east-1_fl-1_20250115T0000Z_b.log.gz");
    T_CHECK(strstr(f.objects[1].name, "c.log.parquet") != NULL);
    T_CHECK(f.objects[0].run != NULL && f.objects[0].ctx != NULL &&
            f.objects[0].default_eni == NULL);
    struct fsg_s3_source_counts c;
    fsg_s3_source_counts(f.src, &c);
    T_CHECK(c.listed == 7 && c.kept == 2 && c.folders == 1 && c.regex_skipped == 1 &&
            c.time_skipped == 3);
    /* a Parquet object fails when it is read, with a clear error */
    T_ERR(FSG_E_REJECTED, f.objects[1].run(f.objects[1].ctx, NULL, &err));
    T_CHECK(strstr(err.msg, "Parquet") != NULL && strstr(err.msg, "plain-text") != NULL);

    /* the same listing without bounds keeps everything but the folder and the text file */
    fsg_s3_source_destroy(f.src);
    struct fsg_aws_client_options ao = { .endpoint_url = "http://s3.test", .path_style = true,
                                         .http = f.http, .creds_fn = t_static_creds_fn,
                                         .creds_userdata = &f.creds };
    struct fsg_s3_source_options all = { .region = "us-east-1", .key_regex = "\\.log\\.",
                                         .since_s = FSG_S3_TIME_NONE,
                                         .until_s = FSG_S3_TIME_NONE, .aws = &ao };
    T_OK(fsg_s3_source_new(&all, &f.src, &err));
    fsg_free(f.objects);
    f.objects = NULL;
    f.n_objects = 0;
    T_OK(fsg_s3_source_expand(f.src, "s3://b/AWSLogs/", &f.objects, &f.n_objects, &err));
    T_CHECK(f.n_objects == 5);
    T_CHECK(!f.script.mismatch);
    s_teardown(&f);
    return 0;
}

static int s_url_forms_and_config_errors(void)
{
    static const struct t_http_exchange ex[] = {
        { .url = "http://s3.test/b?list-type=2&max-keys=7", .status = 200,
          .body = "<ListBucketResult/>" },
        { .url = "http://s3.test/b?list-type=2&max-keys=7", .status = 200,
          .body = "<ListBucketResult/>" },
        { .status = 404, .body = "<Error><Code>NoSuchBucket</Code></Error>" },
    };
    struct s_fixture f;
    struct fsg_s3_source_options o = { .since_s = FSG_S3_TIME_NONE, .until_s = FSG_S3_TIME_NONE,
                                       .max_keys = 7 };
    if (s_setup(&f, ex, 3, &o) != 0) {
        return 1;
    }
    struct fsg_error err = { 0 };
    T_OK(fsg_s3_source_expand(f.src, "s3://b/", &f.objects, &f.n_objects, &err));
    T_OK(fsg_s3_source_expand(f.src, "s3://b", &f.objects, &f.n_objects, &err));
    T_CHECK(f.n_objects == 0);
    T_ERR(FSG_E_NOT_FOUND, fsg_s3_source_expand(f.src, "s3://nob/p/", &f.objects, &f.n_objects,
                                                &err));
    T_CHECK(strstr(err.msg, "S3 bucket 'nob' does not exist") != NULL);
    /* a key named in full is taken as is, without a request */
    T_OK(fsg_s3_source_expand(f.src, "s3://b/x y+z=1", &f.objects, &f.n_objects, &err));
    T_CHECK(f.n_objects == 1);
    T_STR_EQ(f.objects[0].name, "s3://b/x y+z=1");
    T_ERR(FSG_E_REJECTED, fsg_s3_source_expand(f.src, "s3://b/k.log.parquet", &f.objects,
                                               &f.n_objects, &err));
    T_CHECK(strstr(err.msg, "s3://b/k.log.parquet is a Parquet") == err.msg);
    T_ERR(FSG_E_INVALID_ARG, fsg_s3_source_expand(f.src, "s3://", &f.objects, &f.n_objects, &err));
    T_ERR(FSG_E_INVALID_ARG, fsg_s3_source_expand(f.src, "s3:///k", &f.objects, &f.n_objects, &err));
    T_ERR(FSG_E_INVALID_ARG, fsg_s3_source_expand(f.src, "/tmp/x", &f.objects, &f.n_objects, &err));
    T_CHECK(f.n_objects == 1 && f.script.next == 3);
    T_CHECK(fsg_s3_source_is_url("s3://b") && !fsg_s3_source_is_url("S3://b") &&
            !fsg_s3_source_is_url(NULL));
    s_teardown(&f);

    struct fsg_s3_source *s = NULL;
    struct fsg_s3_source_options bad = { .region = "us-east-1", .key_regex = "a(b" };
    T_ERR(FSG_E_INVALID_ARG, fsg_s3_source_new(&bad, &s, &err));
    T_CHECK(strstr(err.msg, "flowlogs.key_regex 'a(b'") == err.msg);
    T_CHECK(strstr(err.msg, "offset 3") != NULL);
    T_CHECK(s == NULL);
    return 0;
}

/* gzip of text (one member), for objects as S3 stores them. */
static int s_gzip(const char *text, struct fsg_buf *out)
{
    z_stream z = { 0 };
    size_t n = strlen(text);
    T_CHECK(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    T_OK(fsg_buf_reserve(out, deflateBound(&z, n) + 32));
    z.next_in = (Bytef *)text;
    z.avail_in = (uInt)n;
    z.next_out = out->ptr;
    z.avail_out = (uInt)(out->cap - 1);
    T_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out->len = z.total_out;
    deflateEnd(&z);
    return 0;
}

static const char s_log[] =
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start "
    "end action log-status\n"
    "2 123456789010 eni-1 10.0.1.5 10.0.20.11 40001 5432 6 10 1000 1700000000 1700000060 ACCEPT OK\n"
    "2 123456789010 eni-1 10.0.1.6 10.0.20.11 40002 5432 6 20 2000 1700000000 1700000060 ACCEPT OK\n"
    "2 123456789010 eni-1 - - - - - - - 1700000000 1700000060 - NODATA\n"
    "2 123456789010 eni-1 10.0.1.7 10.0.20.11 40003 5432 6 30 3000 1700000000 1700000060 REJECT OK\n";

static int s_run_objects(void)
{
    struct fsg_buf gz = FSG_BUF_INIT;
    if (s_gzip(s_log, &gz) != 0) {
        return 1;
    }
    char cr[64];
    snprintf(cr, sizeof cr, "Content-Range: bytes 30-%zu/%zu\nETag: \"g\"\n", gz.len - 1, gz.len);
    const struct t_http_exchange ex[] = {
        /* object 1: whole */
        { .url = "http://s3.test/b/k1.log.gz", .status = 200, .body = (const char *)gz.ptr,
          .body_len = gz.len, .chunk = 7 },
        /* object 2: cut at byte 30, resumed */
        { .url = "http://s3.test/b/k2.log.gz", .status = 200, .headers = "ETag: \"g\"\n",
          .body = (const char *)gz.ptr, .body_len = gz.len, .cut_after = 30 },
        { .url = "http://s3.test/b/k2.log.gz", .status = 206, .headers = cr,
          .body = (const char *)gz.ptr + 30, .body_len = gz.len - 30 },
        /* object 3: a truncated gzip (the transfer itself completes) */
        { .url = "http://s3.test/b/k3.log.gz", .status = 200, .body = (const char *)gz.ptr,
          .body_len = gz.len / 2 },
        /* object 4: missing */
        { .url = "http://s3.test/b/k4.log.gz", .status = 404,
          .body = "<Error><Code>NoSuchKey</Code></Error>" },
    };
    struct s_fixture f;
    struct fsg_s3_source_options o = { .since_s = FSG_S3_TIME_NONE, .until_s = FSG_S3_TIME_NONE };
    if (s_setup(&f, ex, 5, &o) != 0) {
        return 1;
    }
    struct fsg_error err = { 0 };
    static const char *const urls[] = { "s3://b/k1.log.gz", "s3://b/k2.log.gz",
                                        "s3://b/k3.log.gz", "s3://b/k4.log.gz" };
    for (size_t i = 0; i < 4; i++) {
        T_OK(fsg_s3_source_expand(f.src, urls[i], &f.objects, &f.n_objects, &err));
    }
    struct fsg_aggregate *agg = NULL;
    struct fsg_run_result result = { 0 };
    T_OK(fsg_aggregate_new(NULL, &agg, &err));
    struct fsg_run_options ro = { .jobs = 1 };
    T_OK(fsg_run_objects(f.objects, f.n_objects, &ro, agg, &result, &err));
    const struct fsg_flow_stats *st = fsg_aggregate_stats(agg);
    T_CHECK(st->objects == 2 && st->records == 6 && st->nodata == 2);
    T_CHECK(st->bytes_in == 2 * gz.len);
    T_CHECK(result.n_errors == 2);
    T_STR_EQ(result.errors[0].source, "s3://b/k3.log.gz");
    T_CHECK(result.errors[0].code == FSG_E_PARSE && result.errors[0].offset == gz.len / 2);
    T_STR_EQ(result.errors[1].source, "s3://b/k4.log.gz");
    T_CHECK(result.errors[1].code == FSG_E_NOT_FOUND);
    T_CHECK(strstr(result.errors[1].message, "does not exist") != NULL);
    T_CHECK(!f.script.mismatch && f.script.next == 5);
    T_STR_EQ(t_http_script_header(&f.script, 2, "Range"), "bytes=30-");
    fsg_run_result_clean_up(&result);
    fsg_aggregate_destroy(agg);
    fsg_buf_clean_up(&gz);
    s_teardown(&f);
    return 0;
}

/* Day rollups over the scripted transport (one job, no prefetching: the rollup is fetched by a
 * GET of its own, PUTs are made on the spot): three objects of 2023-11-14 and one of the 15th.
 * A listed rollup of the three is read once and they read nothing; the lone object is read
 * and summarised. A rollup that cannot be used is a warning: the three are read, summarised,
 * and the rollup is made again (its members hash, rows and counters checked). */
#define S_DAY "AWSLogs/1/vpcflowlogs/us-east-1/2023/11/14/"
#define S_NAME(t, x) "1_vpcflowlogs_us-east-1_fl-1_2023111" t "Z_" x ".log.gz"
static const char *const s_day_keys[] = { S_DAY S_NAME("4T0000", "a"), S_DAY S_NAME("4T0005", "b"),
                                          S_DAY S_NAME("4T0010", "c") };
static const char *const s_day_etags[] = { "\"e1\"", "\"e2\"", "\"e3\"" };
#define S_LONE "AWSLogs/1/vpcflowlogs/us-east-1/2023/11/15/" S_NAME("5T0000", "d")

static int s_rollups_case(bool usable, const char *rollup_key, const struct fsg_buf *rollup,
                          const struct fsg_buf *gz, const char *hash)
{
    char sums[1024], listing[2048];
    snprintf(sums, sizeof sums, "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>"
             "%s</Key><Size>%zu</Size></Contents></ListBucketResult>", rollup_key, rollup->len);
    snprintf(listing, sizeof listing, "<ListBucketResult><IsTruncated>false</IsTruncated>"
             "<Contents><Key>%s</Key><Size>%zu</Size><ETag>&quot;e1&quot;</ETag></Contents>"
             "<Contents><Key>%s</Key><Size>%zu</Size><ETag>&quot;e2&quot;</ETag></Contents>"
             "<Contents><Key>%s</Key><Size>%zu</Size><ETag>&quot;e3&quot;</ETag></Contents>"
             "<Contents><Key>%s</Key><Size>%zu</Size><ETag>&quot;e4&quot;</ETag></Contents>"
             "</ListBucketResult>", s_day_keys[0], gz->len, s_day_keys[1], gz->len,
             s_day_keys[2], gz->len, S_LONE, gz->len);
    const char *g = (const char *)gz->ptr;
    const struct t_http_exchange good[] = {
        { .method = "GET", .status = 200, .body = sums },
        { .method = "GET", .status = 200, .body = listing },
        { .method = "GET", .status = 200, .body = (const char *)rollup->ptr,
          .body_len = rollup->len },
        { .method = "GET", .url = "http://s3.test/b/" S_LONE, .status = 200, .body = g,
          .body_len = gz->len },
        { .method = "PUT", .status = 200 },
    };
    const struct t_http_exchange bad[] = {
        { .method = "GET", .status = 200, .body = sums },
        { .method = "GET", .status = 200, .body = listing },
        { .method = "GET", .status = 200, .body = "\x1f\x8b not a rollup" },
        { .method = "GET", .url = "http://s3.test/b/" S_DAY S_NAME("4T0000", "a"), .status = 200,
          .body = g, .body_len = gz->len },
        { .method = "PUT", .status = 200 },
        { .method = "GET", .url = "http://s3.test/b/" S_DAY S_NAME("4T0005", "b"), .status = 200,
          .body = g, .body_len = gz->len },
        { .method = "PUT", .status = 200 },
        { .method = "GET", .url = "http://s3.test/b/" S_DAY S_NAME("4T0010", "c"), .status = 200,
          .body = g, .body_len = gz->len },
        { .method = "PUT", .status = 200 }, /* c's summary */
        { .method = "PUT", .status = 200 }, /* the day's rollup, made again */
        { .method = "GET", .url = "http://s3.test/b/" S_LONE, .status = 200, .body = g,
          .body_len = gz->len },
        { .method = "PUT", .status = 200 },
    };
    struct s_fixture f;
    struct fsg_s3_source_options o = { .since_s = FSG_S3_TIME_NONE, .until_s = FSG_S3_TIME_NONE,
                                       .summaries_url = "s3://sums/fs/",
                                       .summary_fingerprint = "fp0123456789abcdef" };
    size_t n_ex = usable ? sizeof good / sizeof good[0] : sizeof bad / sizeof bad[0];
    if (s_setup(&f, usable ? good : bad, n_ex, &o) != 0) {
        return 1;
    }
    struct fsg_error err = { 0 };
    T_OK(fsg_s3_source_expand(f.src, "s3://b/AWSLogs/", &f.objects, &f.n_objects, &err));
    T_CHECK(f.n_objects == 4);
    struct fsg_aggregate *agg = NULL;
    struct fsg_run_result result = { 0 };
    T_OK(fsg_aggregate_new(NULL, &agg, &err));
    struct fsg_run_options ro = { .jobs = 1 };
    T_OK(fsg_run_objects(f.objects, f.n_objects, &ro, agg, &result, &err));
    T_CHECK(result.n_errors == 0);
    const struct fsg_flow_stats *st = fsg_aggregate_stats(agg);
    T_CHECK(st->objects == 4);
    /* the rollup says 9 records for the day (three objects of 3), read raw they are 3 x 3 */
    T_CHECK(st->records == 12 && st->nodata == 4);
    T_CHECK(fsg_aggregate_entries(agg) == 3); /* the three flows of s_log, however read */
    T_CHECK(!f.script.mismatch && f.script.next == n_ex);
    T_CHECK(strstr(f.script.rec[2].url, "/sums/fs/b/" S_DAY "flowseg-day-20231114.") != NULL);
    if (!usable) {
        const struct t_http_recorded *put = &f.script.rec[9];
        T_CHECK(strcmp(put->method, "PUT") == 0 &&
                strstr(put->url, "/sums/fs/b/" S_DAY "flowseg-day-20231114.") != NULL);
        struct fsg_summary sum;
        T_OK(fsg_summary_decode((struct fsg_span){ put->body.ptr, put->body.len },
                                "fp0123456789abcdef", &sum, &err));
        T_STR_EQ(sum.etag, hash);
        T_CHECK(sum.stats.records == 9 && sum.stats.nodata == 3 && sum.n_rows == 3 &&
                sum.stats.lines == 3 * (st->lines / 4));
        uint64_t records = 0;
        for (size_t i = 0; i < sum.n_rows; i++) {
            records += sum.rows[i].records;
        }
        T_CHECK(records == 9);
        fsg_summary_clean_up(&sum);
    }
    fsg_run_result_clean_up(&result);
    fsg_aggregate_destroy(agg);
    s_teardown(&f);
    return 0;
}

static int s_day_rollups(void)
{
    struct fsg_buf gz = FSG_BUF_INIT, key = FSG_BUF_INIT, rollup = FSG_BUF_INIT;
    T_CHECK(s_gzip(s_log, &gz) == 0);
    char hash[65];
    T_OK(fsg_rollup_members_hash(s_day_keys, s_day_etags, 3, "fp0123456789abcdef", hash));
    T_OK(fsg_rollup_key("fs/", "b", S_DAY, strlen(S_DAY), s_t(2023, 11, 14, 0, 0), hash,
                        "fp0123456789abcdef", &key));
    /* the day's rollup as a run would write it: the three flows, three times over */
    struct fsg_agg_row rows[3] = { 0 };
    const char *src[] = { "10.0.1.5", "10.0.1.6", "10.0.1.7" };
    for (size_t i = 0; i < 3; i++) {
        memcpy(rows[i].eni, "eni-1", 6);
        T_OK(fsg_ip_parse(fsg_span_from_cstr(src[i]), &rows[i].a));
        T_OK(fsg_ip_parse(fsg_span_from_cstr("10.0.20.11"), &rows[i].b));
        rows[i].port = 5432;
        rows[i].proto = 6;
        rows[i].action = i == 2 ? 1 : 0;
        rows[i].records = 3;
        rows[i].packets = 30;
        rows[i].bytes = 3000;
        rows[i].first = 1700000000;
        rows[i].last = 1700000060;
    }
    struct fsg_summary day = { .rows = rows, .n_rows = 3,
                               .stats = { .records = 9, .lines = 15, .nodata = 3 } };
    struct fsg_rollup_acc *acc = NULL;
    T_OK(fsg_rollup_acc_new(0, NULL, 0, &acc));
    T_CHECK(fsg_rollup_acc_add_summary(acc, &day));
    T_OK(fsg_rollup_acc_encode(acc, "s3://b/" S_DAY, hash, "fp0123456789abcdef", &rollup, NULL));
    fsg_rollup_acc_destroy(acc);
    int rc = s_rollups_case(true, fsg_buf_cstr(&key), &rollup, &gz, hash);
    rc = rc != 0 ? rc : s_rollups_case(false, fsg_buf_cstr(&key), &rollup, &gz, hash);
    fsg_buf_clean_up(&gz);
    fsg_buf_clean_up(&key);
    fsg_buf_clean_up(&rollup);
    return rc;
}

/* The object that read its day's rollup fails after folding it (here: the table's entry limit
 * when its rows join the run's): the whole day's rows are rolled back with it, so the day's
 * other objects fail too instead of counting as read with nothing. */
static int s_rollup_claimant_fails(void)
{
    static const char other_log[] =
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
        "start end action log-status\n"
        "2 1 eni-9 10.9.1.5 10.9.20.11 40001 5432 6 1 10 1700000000 1700000060 ACCEPT OK\n"
        "2 1 eni-9 10.9.1.6 10.9.20.11 40001 5432 6 1 10 1700000000 1700000060 ACCEPT OK\n"
        "2 1 eni-9 10.9.1.7 10.9.20.11 40001 5432 6 1 10 1700000000 1700000060 ACCEPT OK\n";
    struct fsg_buf gz = FSG_BUF_INIT, key = FSG_BUF_INIT, rollup = FSG_BUF_INIT, day = FSG_BUF_INIT;
    T_CHECK(s_gzip(other_log, &gz) == 0);
    char hash[65];
    T_OK(fsg_rollup_members_hash(s_day_keys, s_day_etags, 3, "fp0123456789abcdef", hash));
    T_OK(fsg_rollup_key("fs/", "b", S_DAY, strlen(S_DAY), s_t(2023, 11, 14, 0, 0), hash,
                        "fp0123456789abcdef", &key));
    T_CHECK(s_gzip(s_log, &day) == 0);
    /* the rollup: the day's three flows (read from s_log as one object) */
    struct fsg_aggregate *one = NULL;
    T_OK(fsg_aggregate_new(NULL, &one, NULL));
    {
        struct fsg_summary none = { 0 };
        struct fsg_rollup_acc *acc = NULL;
        T_OK(fsg_rollup_acc_new(0, NULL, 0, &acc));
        struct fsg_agg_row rows[3] = { 0 };
        const char *src[] = { "10.0.1.5", "10.0.1.6", "10.0.1.7" };
        for (size_t i = 0; i < 3; i++) {
            memcpy(rows[i].eni, "eni-1", 6);
            T_OK(fsg_ip_parse(fsg_span_from_cstr(src[i]), &rows[i].a));
            T_OK(fsg_ip_parse(fsg_span_from_cstr("10.0.20.11"), &rows[i].b));
            rows[i].port = 5432;
            rows[i].proto = 6;
            rows[i].records = 3;
        }
        none.rows = rows;
        none.n_rows = 3;
        none.stats.records = 9;
        T_CHECK(fsg_rollup_acc_add_summary(acc, &none));
        T_OK(fsg_rollup_acc_encode(acc, "s", hash, "fp0123456789abcdef", &rollup, NULL));
        fsg_rollup_acc_destroy(acc);
    }
    fsg_aggregate_destroy(one);
    char sums[1024], listing[2048];
    snprintf(sums, sizeof sums, "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>"
             "%s</Key><Size>%zu</Size></Contents></ListBucketResult>", fsg_buf_cstr(&key),
             rollup.len);
    snprintf(listing, sizeof listing, "<ListBucketResult><IsTruncated>false</IsTruncated>"
             "<Contents><Key>AWSLogs/1/vpcflowlogs/us-east-1/2023/11/13/x.log.gz</Key><Size>%zu"
             "</Size><ETag>&quot;e0&quot;</ETag></Contents>"
             "<Contents><Key>%s</Key><Size>9</Size><ETag>&quot;e1&quot;</ETag></Contents>"
             "<Contents><Key>%s</Key><Size>9</Size><ETag>&quot;e2&quot;</ETag></Contents>"
             "<Contents><Key>%s</Key><Size>9</Size><ETag>&quot;e3&quot;</ETag></Contents>"
             "</ListBucketResult>", gz.len, s_day_keys[0], s_day_keys[1], s_day_keys[2]);
    const struct t_http_exchange ex[] = {
        { .method = "GET", .status = 200, .body = sums },
        { .method = "GET", .status = 200, .body = listing },
        { .method = "GET", .status = 200, .body = (const char *)gz.ptr, .body_len = gz.len },
        { .method = "PUT", .status = 200 },
        { .method = "GET", .status = 200, .body = (const char *)rollup.ptr,
          .body_len = rollup.len },
    };
    struct s_fixture f;
    struct fsg_s3_source_options o = { .since_s = FSG_S3_TIME_NONE, .until_s = FSG_S3_TIME_NONE,
                                       .summaries_url = "s3://sums/fs/",
                                       .summary_fingerprint = "fp0123456789abcdef" };
    if (s_setup(&f, ex, 5, &o) != 0) {
        return 1;
    }
    struct fsg_error err = { 0 };
    T_OK(fsg_s3_source_expand(f.src, "s3://b/AWSLogs/", &f.objects, &f.n_objects, &err));
    T_CHECK(f.n_objects == 4);
    struct fsg_aggregate *agg = NULL;
    struct fsg_run_result result = { 0 };
    struct fsg_aggregate_options ao = { .max_entries = 4 }; /* 3 + the day's 3 is too many */
    T_OK(fsg_aggregate_new(&ao, &agg, &err));
    struct fsg_run_options ro = { .jobs = 1 };
    T_OK(fsg_run_objects(f.objects, f.n_objects, &ro, agg, &result, &err));
    T_CHECK(result.n_errors == 3);
    T_CHECK(result.errors[0].code == FSG_E_LIMIT);
    T_CHECK(strstr(result.errors[1].message, "day rollup") != NULL &&
            strstr(result.errors[2].message, "day rollup") != NULL);
    const struct fsg_flow_stats *st = fsg_aggregate_stats(agg);
    T_CHECK(st->objects == 1 && st->records == 3 && fsg_aggregate_entries(agg) == 3);
    T_CHECK(!f.script.mismatch && f.script.next == 5);
    fsg_run_result_clean_up(&result);
    fsg_aggregate_destroy(agg);
    s_teardown(&f);
    fsg_buf_clean_up(&gz);
    fsg_buf_clean_up(&key);
    fsg_buf_clean_up(&rollup);
    fsg_buf_clean_up(&day);
    return 0;
}

/* An object replaced between its listing and its GET (another ETag): its rows are read (they
 * count), but no summary is written under the listed ETag (it would hold another version). */
static int s_changed_since_listed(void)
{
    struct fsg_buf gz = FSG_BUF_INIT;
    T_CHECK(s_gzip(s_log, &gz) == 0);
    char listing[1024];
    snprintf(listing, sizeof listing, "<ListBucketResult><IsTruncated>false</IsTruncated>"
             "<Contents><Key>%s</Key><Size>%zu</Size><ETag>&quot;e1&quot;</ETag></Contents>"
             "</ListBucketResult>", S_LONE, gz.len);
    const struct t_http_exchange ex[] = {
        { .method = "GET", .status = 200,
          .body = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>" },
        { .method = "GET", .status = 200, .body = listing },
        { .method = "GET", .status = 200, .headers = "ETag: \"e9\"\n", .body = (const char *)gz.ptr,
          .body_len = gz.len },
    };
    struct s_fixture f;
    struct fsg_s3_source_options o = { .since_s = FSG_S3_TIME_NONE, .until_s = FSG_S3_TIME_NONE,
                                       .summaries_url = "s3://sums/fs/",
                                       .summary_fingerprint = "fp0123456789abcdef" };
    if (s_setup(&f, ex, 3, &o) != 0) {
        return 1;
    }
    struct fsg_error err = { 0 };
    T_OK(fsg_s3_source_expand(f.src, "s3://b/AWSLogs/", &f.objects, &f.n_objects, &err));
    struct fsg_aggregate *agg = NULL;
    struct fsg_run_result result = { 0 };
    T_OK(fsg_aggregate_new(NULL, &agg, &err));
    struct fsg_run_options ro = { .jobs = 1 };
    T_OK(fsg_run_objects(f.objects, f.n_objects, &ro, agg, &result, &err));
    T_CHECK(result.n_errors == 0 && fsg_aggregate_stats(agg)->records == 3);
    T_CHECK(!f.script.mismatch && f.script.next == 3); /* no PUT */
    fsg_run_result_clean_up(&result);
    fsg_aggregate_destroy(agg);
    s_teardown(&f);
    fsg_buf_clean_up(&gz);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "key_times", s_key_times },
        { "time_bounds", s_time_bounds },
        { "expand_filters", s_expand_filters },
        { "url_forms_and_config_errors", s_url_forms_and_config_errors },
        { "run_objects", s_run_objects },
        { "day_rollups", s_day_rollups },
        { "rollup_claimant_fails", s_rollup_claimant_fails },
        { "changed_since_listed", s_changed_since_listed },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
