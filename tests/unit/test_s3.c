/* lib/s3 over the scripted transport: URLs and key encoding, streamed GetObject with resume
 * (Range + If-Match), errors that name the missing bucket/key, ListObjectsV2 paging. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/aws/aws.h"
#include "lib/aws/creds.h"
#include "lib/core/mem.h"
#include "lib/aws/s3.h"
#include "tests/harness/test.h"
#include "tests/unit/http_script.h"

#define S_NOW 1736942400 /* 2025-01-15T12:00:00Z */

static time_t s_clock(void *userdata)
{
    (void)userdata;
    return S_NOW;
}

struct s_fixture {
    struct t_http_script script;
    struct fsg_http_client *http;
    struct fsg_aws_client *aws;
    struct fsg_credentials creds;
};

static int s_setup(struct s_fixture *f, const struct t_http_exchange *ex, size_t n,
                   const char *endpoint, bool path_style)
{
    memset(f, 0, sizeof *f);
    T_OK(t_creds_init(&f->creds, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL));
    t_http_script_init(&f->script, ex, n);
    f->http = t_http_script_client(&f->script);
    T_CHECK(f->http != NULL);
    struct fsg_aws_client_options o = {
        .service = "s3", .region = "us-east-1", .endpoint_url = endpoint,
        .path_style = path_style, .http = f->http, .creds_fn = t_static_creds_fn,
        .creds_userdata = &f->creds, .retry = { .max_attempts = 3, .sleep = t_no_sleep },
        .clock = s_clock,
    };
    T_OK(fsg_aws_client_new(&o, &f->aws, NULL));
    return 0;
}

static void s_teardown(struct s_fixture *f)
{
    fsg_aws_client_destroy(f->aws);
    fsg_http_client_destroy(f->http);
    t_http_script_clean_up(&f->script);
    fsg_credentials_clean_up(&f->creds);
}

static int s_urls(void)
{
    struct s_fixture f;
    if (s_setup(&f, NULL, 0, "https://s3.us-east-1.amazonaws.com", false) != 0) {
        return 1;
    }
    struct fsg_buf u = FSG_BUF_INIT;
    T_OK(fsg_s3_object_url(f.aws, "flowlogs-example", "AWSLogs/1/a b+c=d.log.gz", &u));
    T_STR_EQ(fsg_buf_cstr(&u),
             "https://flowlogs-example.s3.us-east-1.amazonaws.com/AWSLogs/1/a%20b%2Bc%3Dd.log.gz");
    fsg_buf_reset(&u);
    T_OK(fsg_s3_object_url(f.aws, "my.dotted.bucket", "k//x/%~", &u)); /* dots: path-style */
    T_STR_EQ(fsg_buf_cstr(&u), "https://s3.us-east-1.amazonaws.com/my.dotted.bucket/k//x/%25~");
    fsg_buf_reset(&u);
    T_OK(fsg_s3_bucket_url(f.aws, "b-1", &u));
    T_STR_EQ(fsg_buf_cstr(&u), "https://b-1.s3.us-east-1.amazonaws.com");
    fsg_buf_reset(&u);
    T_OK(fsg_s3_encode_key(&u, "aws-account-id=1/\xc3\xa9 x"));
    T_STR_EQ(fsg_buf_cstr(&u), "aws-account-id%3D1/%C3%A9%20x");
    s_teardown(&f);

    if (s_setup(&f, NULL, 0, "http://127.0.0.1:9000", true) != 0) {
        return 1;
    }
    fsg_buf_reset(&u);
    T_OK(fsg_s3_object_url(f.aws, "bucket", "p/k.log.gz", &u));
    T_STR_EQ(fsg_buf_cstr(&u), "http://127.0.0.1:9000/bucket/p/k.log.gz");
    fsg_buf_clean_up(&u);
    s_teardown(&f);
    return 0;
}

struct s_sink {
    struct fsg_buf got;
    size_t calls;
    size_t fail_at;
};

static enum fsg_err s_sink(struct fsg_span chunk, void *userdata)
{
    struct s_sink *s = userdata;
    if (++s->calls == s->fail_at) {
        return FSG_E_PARSE;
    }
    return fsg_buf_append_span(&s->got, chunk);
}

static const char s_object[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static int s_get_streams_in_chunks(void)
{
    static const struct t_http_exchange ex[] = {
        { .method = "GET", .url = "http://s3.test/b/AWSLogs/k%3D1.log.gz", .status = 200,
          .headers = "ETag: \"e1\"\nContent-Length: 36\n", .body = s_object, .chunk = 5 },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, 1, "http://s3.test", true) != 0) {
        return 1;
    }
    struct s_sink sink = { FSG_BUF_INIT, 0, 0 };
    struct fsg_s3_get_result res;
    struct fsg_error err = { 0 };
    T_OK(fsg_s3_get_object(f.aws, "b", "AWSLogs/k=1.log.gz", NULL, s_sink, &sink, &res, &err));
    T_STR_EQ(fsg_buf_cstr(&sink.got), s_object);
    T_CHECK(sink.calls == 8 && res.bytes == 36 && res.resumes == 0);
    T_STR_EQ(res.etag, "\"e1\"");
    T_CHECK(!f.script.mismatch);
    T_CHECK(t_http_script_header(&f.script, 0, "Range") == NULL);
    T_CHECK(t_http_script_header(&f.script, 0, "If-Match") == NULL);
    T_STR_EQ(t_http_script_header(&f.script, 0, "x-amz-content-sha256"),
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    fsg_buf_clean_up(&sink.got);
    s_teardown(&f);
    return 0;
}

static int s_get_resumes_with_range(void)
{
    static const struct t_http_exchange ex[] = {
        { .status = 200, .headers = "ETag: \"e1\"\n", .body = s_object, .chunk = 4,
          .cut_after = 10 },
        { .fail = FSG_E_NETWORK, .fail_code = "ConnectionError" }, /* retried by the pipeline */
        { .status = 206, .headers = "Content-Range: bytes 10-35/36\nETag: \"e1\"\n",
          .body = s_object + 10, .cut_after = 3 },
        { .status = 206, .headers = "Content-Range: bytes 13-35/36\n", .body = s_object + 13 },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, 4, "http://s3.test", true) != 0) {
        return 1;
    }
    struct s_sink sink = { FSG_BUF_INIT, 0, 0 };
    struct fsg_s3_get_result res;
    struct fsg_error err = { 0 };
    T_OK(fsg_s3_get_object(f.aws, "b", "k", NULL, s_sink, &sink, &res, &err));
    T_STR_EQ(fsg_buf_cstr(&sink.got), s_object); /* every byte exactly once */
    T_CHECK(res.bytes == 36 && res.resumes == 2 && f.script.next == 4);
    T_STR_EQ(t_http_script_header(&f.script, 1, "Range"), "bytes=10-");
    T_STR_EQ(t_http_script_header(&f.script, 1, "If-Match"), "\"e1\"");
    T_STR_EQ(t_http_script_header(&f.script, 2, "Range"), "bytes=10-");
    T_STR_EQ(t_http_script_header(&f.script, 3, "Range"), "bytes=13-");
    T_STR_EQ(t_http_script_header(&f.script, 3, "If-Match"), "\"e1\"");
    /* Range is signed */
    T_CHECK(strstr(t_http_script_header(&f.script, 3, "Authorization"), ";range;") != NULL);
    fsg_buf_clean_up(&sink.got);
    s_teardown(&f);
    return 0;
}

static int s_get_resume_edge_cases(void)
{
    static const struct t_http_exchange ex[] = {
        /* 1: the server ignores Range and sends everything again: the prefix is dropped */
        { .status = 200, .body = s_object, .cut_after = 20 },
        { .status = 200, .body = s_object },
        /* 2: a resume answered from the wrong offset */
        { .status = 200, .body = s_object, .cut_after = 5 },
        { .status = 206, .headers = "Content-Range: bytes 0-35/36\n", .body = s_object },
        /* 3: the object changed between the cut and the resume */
        { .status = 200, .headers = "ETag: \"old\"\n", .body = s_object, .cut_after = 5 },
        { .status = 412, .body = "<Error><Code>PreconditionFailed</Code><Message>At least one of"
                                 " the pre-conditions you specified did not hold</Message>"
                                 "<RequestId>R412</RequestId></Error>" },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, 6, "http://s3.test", true) != 0) {
        return 1;
    }
    struct s_sink sink = { FSG_BUF_INIT, 0, 0 };
    struct fsg_error err = { 0 };
    T_OK(fsg_s3_get_object(f.aws, "b", "k", NULL, s_sink, &sink, NULL, &err));
    T_STR_EQ(fsg_buf_cstr(&sink.got), s_object);

    fsg_buf_reset(&sink.got);
    T_ERR(FSG_E_REMOTE, fsg_s3_get_object(f.aws, "b", "k", NULL, s_sink, &sink, NULL, &err));
    T_CHECK(strstr(err.msg, "resume at byte 5") != NULL);
    T_CHECK(err.offset == 5 && sink.got.len == 5);

    fsg_buf_reset(&sink.got);
    T_ERR(FSG_E_CONFLICT, fsg_s3_get_object(f.aws, "b", "k", NULL, s_sink, &sink, NULL, &err));
    T_CHECK(strstr(err.msg, "s3://b/k changed while it was being read") != NULL);
    T_CHECK(err.http_status == 412);
    T_STR_EQ(err.request_id, "R412");
    T_STR_EQ(t_http_script_header(&f.script, 5, "If-Match"), "\"old\"");
    fsg_buf_clean_up(&sink.got);
    s_teardown(&f);
    return 0;
}

static int s_get_gives_up(void)
{
    static const struct t_http_exchange ex[] = {
        { .status = 200, .body = s_object, .cut_after = 1 },
        { .status = 206, .headers = "Content-Range: bytes 1-35/36\n", .body = s_object + 1,
          .cut_after = 1 },
        { .status = 206, .headers = "Content-Range: bytes 2-35/36\n", .body = s_object + 2,
          .cut_after = 1 },
        { .status = 200, .body = s_object, .chunk = 3 },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, 4, "http://s3.test", true) != 0) {
        return 1;
    }
    struct s_sink sink = { FSG_BUF_INIT, 0, 0 };
    struct fsg_error err = { 0 };
    struct fsg_s3_get_options o = { .max_resumes = 2 };
    T_ERR(FSG_E_NETWORK, fsg_s3_get_object(f.aws, "b", "k", &o, s_sink, &sink, NULL, &err));
    T_CHECK(err.offset == 3 && f.script.next == 3);
    T_STR_EQ(err.service_code, "ConnectionClosed");

    /* the consumer's own failure stops at once: its code, no retry */
    fsg_buf_reset(&sink.got);
    sink.calls = 0;
    sink.fail_at = 2;
    T_ERR(FSG_E_PARSE, fsg_s3_get_object(f.aws, "b", "k", NULL, s_sink, &sink, NULL, &err));
    T_CHECK(f.script.next == 4 && err.offset == 3);

    T_ERR(FSG_E_INVALID_ARG, fsg_s3_get_object(f.aws, "b", "", NULL, s_sink, &sink, NULL, &err));
    T_ERR(FSG_E_INVALID_ARG, fsg_s3_get_object(f.aws, "b/x", "k", NULL, s_sink, &sink, NULL, &err));
    T_ERR(FSG_E_INVALID_ARG, fsg_s3_get_object(f.aws, "b", "k", NULL, NULL, NULL, NULL, &err));
    fsg_buf_clean_up(&sink.got);
    s_teardown(&f);
    return 0;
}

static enum fsg_err s_count_object(const struct fsg_s3_object *obj, void *userdata)
{
    (void)obj;
    (void)userdata;
    return FSG_OK;
}

static int s_missing_things_are_named(void)
{
    static const struct t_http_exchange ex[] = {
        { .status = 404, .body = "<Error><Code>NoSuchKey</Code><Message>The specified key does "
                                 "not exist.</Message><Key>p/missing.log.gz</Key><RequestId>RK"
                                 "</RequestId></Error>" },
        { .status = 404, .body = "<Error><Code>NoSuchBucket</Code><Message>The specified bucket "
                                 "does not exist</Message><BucketName>nob</BucketName>"
                                 "<RequestId>RB</RequestId></Error>" },
        { .status = 404, .headers = "x-amz-request-id: RH\n" },
        { .status = 404, .body = "<Error><Code>NoSuchBucket</Code></Error>" },
        { .status = 200, .headers = "Content-Length: 36\nETag: \"e\"\nLast-Modified: Wed, 15 "
                                    "Jan 2025 12:05:31 GMT\n" },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, 5, "http://s3.test", true) != 0) {
        return 1;
    }
    struct s_sink sink = { FSG_BUF_INIT, 0, 0 };
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_NOT_FOUND,
          fsg_s3_get_object(f.aws, "b", "p/missing.log.gz", NULL, s_sink, &sink, NULL, &err));
    T_CHECK(strstr(err.msg, "S3 object s3://b/p/missing.log.gz does not exist") == err.msg);
    T_CHECK(strstr(err.msg, "NoSuchKey") != NULL && strstr(err.msg, "RK") != NULL);
    T_STR_EQ(err.service_code, "NoSuchKey");
    T_CHECK(err.http_status == 404);

    T_ERR(FSG_E_NOT_FOUND, fsg_s3_get_object(f.aws, "nob", "k", NULL, s_sink, &sink, NULL, &err));
    T_CHECK(strstr(err.msg, "S3 bucket 'nob' does not exist") == err.msg);
    T_CHECK(strstr(err.msg, "us-east-1") != NULL);

    struct fsg_s3_object_info info;
    T_ERR(FSG_E_NOT_FOUND, fsg_s3_head_object(f.aws, "b", "gone", &info, &err));
    T_CHECK(strstr(err.msg, "s3://b/gone does not exist") != NULL);
    T_STR_EQ(err.request_id, "RH");

    T_ERR(FSG_E_NOT_FOUND, fsg_s3_list_objects(f.aws, "nob", NULL, s_count_object, NULL, &err));
    T_CHECK(strstr(err.msg, "S3 bucket 'nob' does not exist") == err.msg);
    fsg_buf_clean_up(&sink.got);

    T_OK(fsg_s3_head_object(f.aws, "b", "k", &info, &err));
    T_CHECK(info.size == 36);
    T_STR_EQ(info.etag, "\"e\"");
    T_STR_EQ(info.last_modified, "Wed, 15 Jan 2025 12:05:31 GMT");
    T_CHECK(f.script.next == 5 && !f.script.mismatch);
    s_teardown(&f);
    return 0;
}

struct s_keys {
    struct fsg_buf all;
    size_t n;
    size_t stop_at;
};

static enum fsg_err s_on_object(const struct fsg_s3_object *obj, void *userdata)
{
    struct s_keys *k = userdata;
    if (++k->n == k->stop_at) {
        return FSG_E_CANCELLED;
    }
    return fsg_buf_printf(&k->all, "%s|%llu|%s\n", obj->key, (unsigned long long)obj->size,
                          obj->etag);
}

static const char s_page1[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
    "<IsTruncated>true</IsTruncated><NextContinuationToken>1ueG/XY+z=</NextContinuationToken>"
    "<Contents><Key>p/a b.log.gz</Key><Size>10</Size><ETag>&quot;e1&quot;</ETag></Contents>"
    "<Contents><Key>p/c&amp;d.log.gz</Key><Size>20</Size><ETag>&quot;e2&quot;</ETag></Contents>"
    "</ListBucketResult>";
static const char s_page2[] =
    "<ListBucketResult><IsTruncated>false</IsTruncated>"
    "<Contents><Key>p/z.log.gz</Key><Size>0</Size><ETag>&quot;e3&quot;</ETag></Contents>"
    "</ListBucketResult>";

static int s_list_pages(void)
{
    static const struct t_http_exchange ex[] = {
        { .url = "http://s3.test/b?list-type=2&max-keys=1000&prefix=p%2F&start-after=p%2Fa",
          .status = 200, .body = s_page1 },
        { .url = "http://s3.test/b?list-type=2&max-keys=1000&prefix=p%2F&continuation-token="
                 "1ueG%2FXY%2Bz%3D",
          .status = 200, .body = s_page2 },
        { .status = 503, .body = "<Error><Code>SlowDown</Code></Error>" },
        { .status = 200, .body = s_page1 },
        { .status = 200, .body = s_page1 }, /* same token again: refused, not looped */
        { .status = 200, .body = "<ListBucketResult><IsTruncated>true</IsTruncated>"
                                 "</ListBucketResult>" },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, 6, "http://s3.test", true) != 0) {
        return 1;
    }
    struct s_keys k = { FSG_BUF_INIT, 0, 0 };
    struct fsg_error err = { 0 };
    struct fsg_s3_list_options o = { .prefix = "p/", .start_after = "p/a" };
    T_OK(fsg_s3_list_objects(f.aws, "b", &o, s_on_object, &k, &err));
    T_STR_EQ(fsg_buf_cstr(&k.all), "p/a b.log.gz|10|\"e1\"\np/c&d.log.gz|20|\"e2\"\n"
                                   "p/z.log.gz|0|\"e3\"\n");
    T_CHECK(!f.script.mismatch);

    /* a throttled first page is retried; a repeated token is an error, not a loop */
    fsg_buf_reset(&k.all);
    T_ERR(FSG_E_PARSE, fsg_s3_list_objects(f.aws, "b", NULL, s_on_object, &k, &err));
    T_CHECK(strstr(err.msg, "continuation token") != NULL && f.script.next == 5);
    /* truncated without a token */
    T_ERR(FSG_E_PARSE, fsg_s3_list_objects(f.aws, "b", NULL, s_on_object, &k, &err));
    T_CHECK(f.script.next == 6);
    fsg_buf_clean_up(&k.all);
    s_teardown(&f);
    return 0;
}

static int s_list_stops_and_fails(void)
{
    static const struct t_http_exchange ex[] = {
        { .status = 200, .body = s_page1 },
        { .status = 404, .body = "<Error><Code>NoSuchBucket</Code><RequestId>R</RequestId></Error>" },
        { .status = 200, .body = "<ListBucketResult><Contents><Key>k</Key></Contents>"
                                 "</ListBucketResult>" },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, 3, "https://s3.us-east-1.amazonaws.com", false) != 0) {
        return 1;
    }
    struct s_keys k = { FSG_BUF_INIT, 0, 2 };
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_CANCELLED, fsg_s3_list_objects(f.aws, "b", NULL, s_on_object, &k, &err));
    T_CHECK(strstr(err.msg, "stopped at key 'p/c&d.log.gz'") != NULL);
    T_STR_EQ(f.script.rec[0].url, "https://b.s3.us-east-1.amazonaws.com/?list-type=2&max-keys=1000");
    T_ERR(FSG_E_NOT_FOUND, fsg_s3_list_objects(f.aws, "nob", NULL, s_on_object, &k, &err));
    T_CHECK(strstr(err.msg, "S3 bucket 'nob' does not exist") == err.msg);
    T_ERR(FSG_E_PARSE, fsg_s3_list_objects(f.aws, "b", NULL, s_on_object, &k, &err));
    T_CHECK(strstr(err.msg, "without Key or Size") != NULL);
    T_ERR(FSG_E_INVALID_ARG, fsg_s3_list_objects(f.aws, "", NULL, s_on_object, &k, &err));
    fsg_buf_clean_up(&k.all);
    s_teardown(&f);
    return 0;
}

/* ref/aws-wire.md §4.6 (c): ListObjectsV2 signed exactly as botocore does. */
static int s_list_known_answer(void)
{
    static const struct t_http_exchange ex[] = {
        { .status = 200, .body = "<ListBucketResult><IsTruncated>false</IsTruncated>"
                                 "</ListBucketResult>" },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, 1, "https://s3.us-east-1.amazonaws.com", false) != 0) {
        return 1;
    }
    struct s_keys k = { FSG_BUF_INIT, 0, 0 };
    struct fsg_s3_list_options o = { .prefix = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2025/01/15/" };
    T_OK(fsg_s3_list_objects(f.aws, "flowlogs-example", &o, s_on_object, &k, NULL));
    const char *auth = t_http_script_header(&f.script, 0, "Authorization");
    T_CHECK(auth != NULL);
    T_CHECK(strstr(auth, "SignedHeaders=host;x-amz-content-sha256;x-amz-date, ") != NULL);
    T_CHECK(strstr(auth, "Signature=d460123e9121df75bd9a83c2cd47565038c7fdcc8b5b134a3fa7367753c655d3") != NULL);
    fsg_buf_clean_up(&k.all);
    s_teardown(&f);
    return 0;
}


/* A bucket in another region: S3 answers 301 PermanentRedirect (or 400
 * AuthorizationHeaderMalformed) with x-amz-bucket-region; we re-sign for that region, send to
 * its endpoint, and remember it for the next calls on this bucket. */
static int s_region_redirect_followed(void)
{
    static const char s_301[] =
        "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access "
        "must be addressed using the specified endpoint.</Message><Endpoint>far.s3.eu-west-1."
        "amazonaws.com</Endpoint></Error>";
    static const struct t_http_exchange ex[] = {
        { .method = "GET", .url = "https://far.s3.us-east-1.amazonaws.com/k.log.gz", .status = 301,
          .headers = "x-amz-bucket-region: eu-west-1\n", .body = s_301 },
        { .method = "GET", .url = "https://far.s3.eu-west-1.amazonaws.com/k.log.gz", .status = 200,
          .headers = "ETag: \"e1\"\n", .body = s_object },
        /* the next call on this bucket goes straight to eu-west-1 */
        { .method = "HEAD", .url = "https://far.s3.eu-west-1.amazonaws.com/k.log.gz",
          .status = 200, .headers = "Content-Length: 36\nETag: \"e1\"\n" },
        /* a HEAD to another bucket: 301 without a body, the header alone */
        { .method = "HEAD", .url = "https://other.s3.us-east-1.amazonaws.com/k", .status = 301,
          .headers = "x-amz-bucket-region: ap-southeast-2\n" },
        { .method = "HEAD", .url = "https://other.s3.ap-southeast-2.amazonaws.com/k",
          .status = 200, .headers = "Content-Length: 1\n" },
        /* a listing: 400 AuthorizationHeaderMalformed (regions launched after March 2019) */
        { .method = "GET", .url = "https://new.s3.us-east-1.amazonaws.com/?list-type=2&max-keys=1000",
          .status = 400, .headers = "x-amz-bucket-region: ap-east-2\n",
          .body = "<Error><Code>AuthorizationHeaderMalformed</Code><Region>ap-east-2</Region></Error>" },
        { .method = "GET", .url = "https://new.s3.ap-east-2.amazonaws.com/?list-type=2&max-keys=1000",
          .status = 200, .body = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>" },
        /* PutObject: to the region learned, and following its own 301 */
        { .method = "PUT", .url = "https://far.s3.eu-west-1.amazonaws.com/s.gz", .status = 200 },
        { .method = "PUT", .url = "https://puts.s3.us-east-1.amazonaws.com/s.gz", .status = 301,
          .headers = "x-amz-bucket-region: eu-north-1\n", .body = s_301 },
        { .method = "PUT", .url = "https://puts.s3.eu-north-1.amazonaws.com/s.gz", .status = 200 },
    };
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_S3");
    fsg_aws_bucket_region_clear();
    struct s_fixture f;
    if (s_setup(&f, ex, sizeof ex / sizeof ex[0], NULL, false) != 0) {
        return 1;
    }
    struct s_sink sink = { FSG_BUF_INIT, 0, 0 };
    struct fsg_error err = { 0 };
    T_OK(fsg_s3_get_object(f.aws, "far", "k.log.gz", NULL, s_sink, &sink, NULL, &err));
    T_STR_EQ(fsg_buf_cstr(&sink.got), s_object); /* nothing from the 301 reached the consumer */
    T_CHECK(strstr(t_http_script_header(&f.script, 0, "Authorization"), "/us-east-1/s3/") != NULL);
    T_CHECK(strstr(t_http_script_header(&f.script, 1, "Authorization"), "/eu-west-1/s3/") != NULL);
    char got[32] = "";
    T_CHECK(fsg_aws_bucket_region_get("far", got, sizeof got));
    T_STR_EQ(got, "eu-west-1");
    struct fsg_s3_object_info info;
    T_OK(fsg_s3_head_object(f.aws, "far", "k.log.gz", &info, &err));
    T_CHECK(strstr(t_http_script_header(&f.script, 2, "Authorization"), "/eu-west-1/s3/") != NULL);
    T_OK(fsg_s3_head_object(f.aws, "other", "k", &info, &err));
    T_CHECK(strstr(t_http_script_header(&f.script, 4, "Authorization"), "/ap-southeast-2/") != NULL);
    size_t n = 0;
    T_OK(fsg_s3_list_objects(f.aws, "new", NULL, s_count_object, &n, &err));
    T_CHECK(strstr(t_http_script_header(&f.script, 6, "Authorization"), "/ap-east-2/s3/") != NULL);
    struct fsg_span body = fsg_span_from_cstr("summary");
    T_OK(fsg_s3_put_object(f.aws, "far", "s.gz", body, "application/gzip", &err));
    T_CHECK(strstr(t_http_script_header(&f.script, 7, "Authorization"), "/eu-west-1/s3/") != NULL);
    T_OK(fsg_s3_put_object(f.aws, "puts", "s.gz", body, NULL, &err));
    T_CHECK(strstr(t_http_script_header(&f.script, 9, "Authorization"), "/eu-north-1/s3/") != NULL);
    T_CHECK(!f.script.mismatch && f.script.next == sizeof ex / sizeof ex[0]);
    fsg_buf_clean_up(&sink.got);
    s_teardown(&f);
    fsg_aws_bucket_region_clear();
    return 0;
}

/* A transport that answers every request with success and counts the requests whose URL
 * endpoint and signing region disagree. */
struct s_agree {
    unsigned requests;
    unsigned redirects;
    unsigned mismatches;
    char first_bad[400];
};

static enum fsg_err s_agree_send(void *impl, const struct fsg_http_request *req,
                                 struct fsg_http_response *resp, fsg_http_body_fn *on_body,
                                 void *userdata, struct fsg_error *err)
{
    static const char *const regions[] = { "eu-west-1", "eu-west-2", "eu-west-3" };
    struct s_agree *a = impl;
    const char *auth = fsg_http_headers_get(&req->headers, "Authorization");
    a->requests++;
    for (size_t i = 0; i < 3; i++) {
        char host[64], scope[64];
        snprintf(host, sizeof host, ".s3.%s.amazonaws.com/", regions[i]);
        snprintf(scope, sizeof scope, "/%s/s3/aws4_request", regions[i]);
        bool in_url = strstr(req->url, host) != NULL;
        bool signed_for = auth != NULL && strstr(auth, scope) != NULL;
        if (in_url != signed_for) {
            if (a->mismatches++ == 0) {
                snprintf(a->first_bad, sizeof a->first_bad, "%s %s signed %s", req->method,
                         req->url, auth != NULL ? auth : "(none)");
            }
            break;
        }
    }
    /* Bucket "moved" lives in eu-west-3: elsewhere, a 301 naming it. */
    if (strstr(req->url, "//moved.") != NULL && strstr(req->url, ".eu-west-3.") == NULL) {
        a->redirects++;
        resp->status = 301;
        return fsg_http_headers_add(&resp->headers, "x-amz-bucket-region", "eu-west-3");
    }
    resp->status = 200;
    enum fsg_err rc = fsg_http_headers_add(&resp->headers, "Content-Length", "1");
    if (rc == FSG_OK) {
        rc = fsg_http_headers_add(&resp->headers, "ETag", "\"e\"");
    }
    if (rc == FSG_OK && strcmp(req->method, "GET") == 0) {
        rc = strstr(req->url, "list-type=2") != NULL
                 ? fsg_buf_append_cstr(&resp->body, "<ListBucketResult><IsTruncated>false"
                                                    "</IsTruncated></ListBucketResult>")
                 : on_body(fsg_span_from_cstr("x"), userdata);
    }
    return rc == FSG_OK ? FSG_OK : fsg_error_set(err, rc, "agree transport: out of memory");
}

static void s_agree_destroy(void *impl)
{
    (void)impl;
}

struct s_flipper {
    atomic_bool stop;
    unsigned flips;
};

static void *s_flip_region(void *arg)
{
    struct s_flipper *f = arg;
    while (!atomic_load(&f->stop)) {
        const char *r = f->flips++ % 2 ? "eu-west-2" : "eu-west-1";
        if (fsg_aws_bucket_region_set("flip", r) != FSG_OK ||
            fsg_aws_bucket_region_set("moved", r) != FSG_OK) {
            break;
        }
    }
    return NULL;
}

/* The bucket-region cache is process-wide, and another thread's client updates it (after a
 * redirect) while this one builds a request: every call reads it once and signs for the region
 * whose endpoint it sends to, and a redirect's next hop goes to the region it named, signed
 * for it. Another thread flips the cached regions while calls run. */
static int s_region_read_once_per_call(void)
{
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_S3");
    fsg_aws_bucket_region_clear();
    T_OK(fsg_aws_bucket_region_set("flip", "eu-west-1"));
    struct s_agree a = { 0 };
    struct fsg_http_transport t = { .send = s_agree_send, .destroy = s_agree_destroy, .impl = &a };
    struct fsg_http_client *http = NULL;
    struct fsg_aws_client *aws = NULL;
    struct fsg_credentials creds = { 0 };
    T_OK(t_creds_init(&creds, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL));
    T_OK(fsg_http_client_new_with_transport(&t, &http, NULL));
    struct fsg_aws_client_options o = {
        .service = "s3", .region = "us-east-1", .http = http, .creds_fn = t_static_creds_fn,
        .creds_userdata = &creds, .retry = { .max_attempts = 1, .sleep = t_no_sleep },
        .clock = s_clock,
    };
    T_OK(fsg_aws_client_new(&o, &aws, NULL));
    struct s_flipper f = { .stop = false };
    pthread_t th;
    T_CHECK(pthread_create(&th, NULL, s_flip_region, &f) == 0);
    struct fsg_error err = { 0 };
    struct s_sink sink = { FSG_BUF_INIT, 0, 0 };
    struct fsg_s3_object_info info;
    size_t listed = 0;
    enum fsg_err rc = FSG_OK;
    unsigned calls = 0;
    for (unsigned i = 0; i < 2000 && rc == FSG_OK; i++, calls++) {
        switch (i % 5) {
        case 4:
            rc = fsg_s3_head_object(aws, "moved", "k", &info, &err);
            break;
        case 0:
            fsg_buf_reset(&sink.got);
            rc = fsg_s3_get_object(aws, "flip", "k", NULL, s_sink, &sink, NULL, &err);
            break;
        case 1:
            rc = fsg_s3_head_object(aws, "flip", "k", &info, &err);
            break;
        case 2:
            rc = fsg_s3_list_objects(aws, "flip", NULL, s_count_object, &listed, &err);
            break;
        default:
            rc = fsg_s3_put_object(aws, "flip", "k", fsg_span_from_cstr("x"), NULL, &err);
            break;
        }
    }
    atomic_store(&f.stop, true);
    pthread_join(th, NULL);
    if (rc != FSG_OK || a.mismatches > 0) {
        fprintf(stderr, "  rc %d (%s); %u of %u requests sent to one region, signed for another "
                "(%u flips), first: %s\n", (int)rc, err.msg, a.mismatches, a.requests, f.flips,
                a.first_bad);
    }
    T_OK(rc);
    T_CHECK(a.mismatches == 0 && calls == 2000);
    T_CHECK(a.requests == calls + a.redirects && a.redirects >= 1 && a.redirects <= calls / 5);
    fsg_buf_clean_up(&sink.got);
    fsg_aws_client_destroy(aws);
    fsg_http_client_destroy(http);
    fsg_credentials_clean_up(&creds);
    fsg_aws_bucket_region_clear();
    return 0;
}

/* With a configured endpoint (an emulator), only the signing region changes; a redirect
 * without x-amz-bucket-region is not followed, and its hint names the config's "region" (the
 * client's region came from the config, so AWS_REGION would not help). */
static int s_region_redirect_edges(void)
{
    static const struct t_http_exchange ex[] = {
        { .url = "http://s3.test/b/k", .status = 301,
          .headers = "x-amz-bucket-region: eu-central-1\n" },
        { .url = "http://s3.test/b/k", .status = 200, .headers = "Content-Length: 1\n" },
        { .url = "http://s3.test/c/k", .status = 301,
          .body = "<Error><Code>PermanentRedirect</Code></Error>" },
        /* a second redirect in a row is not followed (no loops) */
        { .url = "http://s3.test/d/k", .status = 301, .headers = "x-amz-bucket-region: eu-west-3\n" },
        { .url = "http://s3.test/d/k", .status = 301, .headers = "x-amz-bucket-region: eu-west-2\n" },
        /* a bad region name is ignored */
        { .url = "http://s3.test/e/k", .status = 301, .headers = "x-amz-bucket-region: ../evil\n" },
        /* an empty one names no region (not the environment's, remembered for the bucket) */
        { .url = "http://s3.test/f/k", .status = 301, .headers = "x-amz-bucket-region: \n" },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, sizeof ex / sizeof ex[0], "http://s3.test", true) != 0) {
        return 1;
    }
    struct fsg_s3_object_info info;
    struct fsg_error err = { 0 };
    T_OK(fsg_s3_head_object(f.aws, "b", "k", &info, &err));
    T_CHECK(strstr(t_http_script_header(&f.script, 1, "Authorization"), "/eu-central-1/s3/") != NULL);
    T_CHECK(fsg_s3_head_object(f.aws, "c", "k", &info, &err) != FSG_OK);
    T_CHECK(strstr(err.msg, "set \"region\" in the config") != NULL);
    T_CHECK(strstr(err.msg, "AWS_REGION") == NULL);
    T_CHECK(fsg_s3_head_object(f.aws, "d", "k", &info, &err) != FSG_OK);
    T_CHECK(err.http_status == 301);
    T_CHECK(fsg_s3_head_object(f.aws, "e", "k", &info, &err) != FSG_OK);
    char got[32];
    T_CHECK(!fsg_aws_bucket_region_get("e", got, sizeof got));
    setenv("AWS_REGION", "ap-south-1", 1);
    T_CHECK(fsg_s3_head_object(f.aws, "f", "k", &info, &err) != FSG_OK);
    unsetenv("AWS_REGION");
    T_CHECK(!fsg_aws_bucket_region_get("f", got, sizeof got));
    fsg_aws_bucket_region_clear();
    T_CHECK(!f.script.mismatch && f.script.next == sizeof ex / sizeof ex[0]);
    s_teardown(&f);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "urls", s_urls },
        { "region_read_once_per_call", s_region_read_once_per_call },
        { "get_streams_in_chunks", s_get_streams_in_chunks },
        { "get_resumes_with_range", s_get_resumes_with_range },
        { "get_resume_edge_cases", s_get_resume_edge_cases },
        { "get_gives_up", s_get_gives_up },
        { "missing_things_are_named", s_missing_things_are_named },
        { "list_pages", s_list_pages },
        { "list_stops_and_fails", s_list_stops_and_fails },
        { "list_known_answer", s_list_known_answer },
        { "region_redirect_followed", s_region_redirect_followed },
        { "region_redirect_edges", s_region_redirect_edges },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
