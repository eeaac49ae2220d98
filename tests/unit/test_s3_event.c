#include "lib/aws/s3_event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"
#include "tests/harness/test.h"

static enum fsg_err s_parse(const char *json, struct fsg_s3_event **ret, struct fsg_error *err)
{
    return fsg_s3_event_parse(fsg_span_from_cstr(json), ret, err);
}

/* One S3 notification record (aws-wire §2.1 shape). */
static void s_record(struct fsg_buf *b, const char *event_name, const char *bucket, const char *key)
{
    if (fsg_buf_printf(b,
                       "{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\",\"awsRegion\":"
                       "\"us-west-2\",\"eventTime\":\"2023-01-21T21:05:00.123Z\",\"eventName\":\"%s\","
                       "\"userIdentity\":{\"principalId\":\"AWS:X\"},\"s3\":{\"s3SchemaVersion\":"
                       "\"1.0\",\"configurationId\":\"flowlogs-created\",\"bucket\":{\"name\":\"%s\","
                       "\"arn\":\"arn:aws:s3:::%s\"},\"object\":{\"key\":\"%s\",\"size\":2595,"
                       "\"eTag\":\"0557d1d84c8f071523cc7d18ebf58d5a\",\"sequencer\":"
                       "\"0063CC545C372D5A7F\"}}}",
                       event_name, bucket, bucket, key) != FSG_OK) {
        abort();
    }
}

static int s_records_key_decoding(void)
{
    /* A Hive-style flow-log key with '=' (%3D), spaces (+), a literal '+' (%2B) and '%' (%25). */
    struct fsg_buf json = FSG_BUF_INIT;
    T_OK(fsg_buf_append_cstr(&json, "{\"Records\":["));
    s_record(&json, "ObjectCreated:Put", "841154226728-us-west-2-vpcflowlog",
             "AWSLogs/aws-account-id%3D841154226728/aws-service%3Dvpcflowlogs/my+flow+logs/"
             "a%2Bb%25c/fl-055401975c87952e8_20230121T2100Z.log.gz");
    T_OK(fsg_buf_append_cstr(&json, "]}"));

    struct fsg_s3_event *ev = NULL;
    struct fsg_error err = { 0 };
    T_OK(fsg_s3_event_parse(fsg_span_from_buf(&json), &ev, &err));
    T_CHECK(ev->kind == FSG_S3_EVENT_OBJECTS);
    T_STR_EQ(ev->origin, "s3");
    T_STR_EQ(fsg_s3_event_kind_name(ev->kind), "objects");
    T_CHECK(ev->n_items == 1);
    T_CHECK(ev->n_ignored == 0);
    T_STR_EQ(ev->items[0].bucket, "841154226728-us-west-2-vpcflowlog");
    T_STR_EQ(ev->items[0].key, "AWSLogs/aws-account-id=841154226728/aws-service=vpcflowlogs/"
                               "my flow logs/a+b%c/fl-055401975c87952e8_20230121T2100Z.log.gz");
    T_CHECK(ev->items[0].size == 2595);
    fsg_s3_event_destroy(ev);
    fsg_buf_clean_up(&json);
    return 0;
}

static int s_records_every_record(void)
{
    struct fsg_buf json = FSG_BUF_INIT;
    T_OK(fsg_buf_append_cstr(&json, "{\"Records\":["));
    s_record(&json, "ObjectCreated:Put", "bucket-a", "k1.log.gz");
    T_OK(fsg_buf_append_cstr(&json, ","));
    s_record(&json, "ObjectRemoved:Delete", "bucket-a", "gone.log.gz");
    T_OK(fsg_buf_append_cstr(&json, ","));
    s_record(&json, "ObjectCreated:CompleteMultipartUpload", "bucket-b", "dir/k+2.log.gz");
    T_OK(fsg_buf_append_cstr(&json, ","));
    s_record(&json, "ObjectCreated:Copy", "bucket-a", "k3.log.gz");
    T_OK(fsg_buf_append_cstr(&json, ","));
    s_record(&json, "ObjectCreated:Post", "bucket-a", "k4.log.gz");
    T_OK(fsg_buf_append_cstr(&json, ","));
    s_record(&json, "LifecycleExpiration:Delete", "bucket-a", "old.log.gz");
    T_OK(fsg_buf_append_cstr(&json, "]}"));

    struct fsg_s3_event *ev = NULL;
    T_OK(fsg_s3_event_parse(fsg_span_from_buf(&json), &ev, NULL));
    T_CHECK(ev->n_items == 4);
    T_CHECK(ev->n_ignored == 2);
    T_STR_EQ(ev->items[0].key, "k1.log.gz");
    T_STR_EQ(ev->items[1].bucket, "bucket-b");
    T_STR_EQ(ev->items[1].key, "dir/k 2.log.gz");
    T_STR_EQ(ev->items[2].key, "k3.log.gz");
    T_STR_EQ(ev->items[3].key, "k4.log.gz");
    fsg_s3_event_destroy(ev);
    fsg_buf_clean_up(&json);

    /* Only deletes: nothing to do, not an error. An empty Records likewise. */
    T_OK(s_parse("{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectRemoved:Delete\"}]}",
                 &ev, NULL));
    T_CHECK(ev->n_items == 0 && ev->n_ignored == 1);
    fsg_s3_event_destroy(ev);
    T_OK(s_parse("{\"Records\":[]}", &ev, NULL));
    T_CHECK(ev->kind == FSG_S3_EVENT_OBJECTS && ev->n_items == 0);
    fsg_s3_event_destroy(ev);
    return 0;
}

static int s_eventbridge_object_created(void)
{
    /* aws-wire §2.2; the key is not form-encoded there and must be taken as is. */
    const char *json =
        "{\"version\":\"0\",\"id\":\"17793124-05d4-b198-2fde-7ededc63b103\",\"detail-type\":"
        "\"Object Created\",\"source\":\"aws.s3\",\"account\":\"111122223333\",\"time\":"
        "\"2021-11-12T00:00:00Z\",\"region\":\"ca-central-1\",\"resources\":"
        "[\"arn:aws:s3:::DOC-EXAMPLE-BUCKET1\"],\"detail\":{\"version\":\"0\",\"bucket\":{\"name\":"
        "\"DOC-EXAMPLE-BUCKET1\"},\"object\":{\"key\":\"logs/a+b%3D c.log.gz\",\"size\":5,"
        "\"etag\":\"b1946ac92492d2347c6235b4d2611184\",\"version-id\":\"IYV3p45BT0ac8hjHg1houSdS1a."
        "Mro8e\",\"sequencer\":\"617f08299329d189\"},\"request-id\":\"N4N7GDK58NMKJ12R\","
        "\"requester\":\"123456789012\",\"source-ip-address\":\"1.2.3.4\",\"reason\":\"PutObject\"}}";
    struct fsg_s3_event *ev = NULL;
    T_OK(s_parse(json, &ev, NULL));
    T_CHECK(ev->kind == FSG_S3_EVENT_OBJECTS);
    T_STR_EQ(ev->origin, "eventbridge");
    T_CHECK(ev->n_items == 1);
    T_STR_EQ(ev->items[0].bucket, "DOC-EXAMPLE-BUCKET1");
    T_STR_EQ(ev->items[0].key, "logs/a+b%3D c.log.gz");
    T_CHECK(ev->items[0].size == 5);
    fsg_s3_event_destroy(ev);

    /* Another S3 detail-type: counted, not processed. */
    T_OK(s_parse("{\"source\":\"aws.s3\",\"detail-type\":\"Object Deleted\",\"detail\":{}}", &ev,
                 NULL));
    T_CHECK(ev->n_items == 0 && ev->n_ignored == 1);
    fsg_s3_event_destroy(ev);
    return 0;
}

static int s_scheduled_scan_nlb_test(void)
{
    struct fsg_s3_event *ev = NULL;
    T_OK(s_parse("{\"version\":\"0\",\"id\":\"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa\",\"detail-type\":"
                 "\"Scheduled Event\",\"source\":\"aws.events\",\"account\":\"123456789012\","
                 "\"time\":\"2015-10-08T16:53:06Z\",\"region\":\"us-east-1\",\"resources\":"
                 "[\"arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule\"],\"detail\":{}}",
                 &ev, NULL));
    T_CHECK(ev->kind == FSG_S3_EVENT_RECONCILE_ALL);
    T_STR_EQ(fsg_s3_event_kind_name(ev->kind), "reconcile_all");
    T_STR_EQ(ev->origin, "schedule");
    T_CHECK(ev->n_items == 0);
    fsg_s3_event_destroy(ev);

    T_OK(s_parse("{\"scan\": \"s3://flow-logs.example/AWSLogs/123/vpcflowlogs/\"}", &ev, NULL));
    T_CHECK(ev->kind == FSG_S3_EVENT_SCAN);
    T_CHECK(ev->n_items == 1);
    T_STR_EQ(ev->items[0].bucket, "flow-logs.example");
    T_STR_EQ(ev->items[0].key, "AWSLogs/123/vpcflowlogs/");
    fsg_s3_event_destroy(ev);

    /* The whole bucket; and a prefix is raw (our own format, not form-encoded). */
    T_OK(s_parse("{\"scan\": \"s3://flow-logs\"}", &ev, NULL));
    T_STR_EQ(ev->items[0].key, "");
    fsg_s3_event_destroy(ev);
    T_OK(s_parse("{\"scan\": \"s3://flow-logs/a+b%3D/\"}", &ev, NULL));
    T_STR_EQ(ev->items[0].key, "a+b%3D/");
    fsg_s3_event_destroy(ev);

    T_OK(s_parse("{\"nlb_sync\": true}", &ev, NULL));
    T_CHECK(ev->kind == FSG_S3_EVENT_NLB_SYNC);
    T_STR_EQ(fsg_s3_event_kind_name(ev->kind), "nlb_sync");
    fsg_s3_event_destroy(ev);

    T_OK(s_parse("{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\",\"Time\":"
                 "\"2014-10-13T15:57:02.089Z\",\"Bucket\":\"bucketname\",\"RequestId\":"
                 "\"5582815E1AEA5ADF\",\"HostId\":\"8cLeGAmw\"}",
                 &ev, NULL));
    T_CHECK(ev->kind == FSG_S3_EVENT_TEST);
    T_STR_EQ(fsg_s3_event_kind_name(ev->kind), "test");
    fsg_s3_event_destroy(ev);
    return 0;
}

static int s_sqs_and_sns_wrappers(void)
{
    struct fsg_s3_event *ev = NULL;
    /* S3 -> SQS: the S3 notification is a string in body. */
    T_OK(s_parse("{\"Records\":[{\"messageId\":\"m1\",\"eventSource\":\"aws:sqs\",\"body\":"
                 "\"{\\\"Records\\\":[{\\\"eventSource\\\":\\\"aws:s3\\\",\\\"eventName\\\":"
                 "\\\"ObjectCreated:Put\\\",\\\"s3\\\":{\\\"bucket\\\":{\\\"name\\\":\\\"bkt\\\"},"
                 "\\\"object\\\":{\\\"key\\\":\\\"a%3Db+c.gz\\\"}}}]}\"},"
                 "{\"messageId\":\"m2\",\"eventSource\":\"aws:sqs\",\"body\":"
                 "\"{\\\"Event\\\":\\\"s3:TestEvent\\\"}\"}]}",
                 &ev, NULL));
    T_STR_EQ(ev->origin, "sqs");
    T_CHECK(ev->n_items == 1 && ev->n_ignored == 1);
    T_STR_EQ(ev->items[0].key, "a=b c.gz");
    fsg_s3_event_destroy(ev);

    /* S3 -> SNS: Sns.Message, EventSource with a capital E. */
    T_OK(s_parse("{\"Records\":[{\"EventSource\":\"aws:sns\",\"Sns\":{\"Message\":"
                 "\"{\\\"Records\\\":[{\\\"eventName\\\":\\\"ObjectCreated:Put\\\",\\\"s3\\\":"
                 "{\\\"bucket\\\":{\\\"name\\\":\\\"bkt\\\"},\\\"object\\\":{\\\"key\\\":"
                 "\\\"k\\\",\\\"size\\\":7}}}]}\"}}]}",
                 &ev, NULL));
    T_STR_EQ(ev->origin, "sns");
    T_CHECK(ev->n_items == 1 && ev->items[0].size == 7);
    fsg_s3_event_destroy(ev);

    /* SQS bodies that are not understood are their own message's error, not the batch's. */
    struct fsg_error err = { 0 };
    T_OK(s_parse("{\"Records\":[{\"messageId\":\"a\",\"eventSource\":\"aws:sqs\",\"body\":\"{}\"},"
                 "{\"messageId\":\"b\",\"eventSource\":\"aws:sqs\",\"body\":\"nope\"},"
                 "{\"messageId\":\"c\",\"eventSource\":\"aws:sqs\"}]}",
                 &ev, &err));
    T_CHECK(ev->n_messages == 3 && ev->n_items == 0);
    T_STR_EQ(ev->messages[0].id, "a");
    T_CHECK(strstr(ev->messages[0].error, "not an S3 notification") != NULL);
    T_CHECK(strstr(ev->messages[1].error, "Records[1]") != NULL);
    T_CHECK(strstr(ev->messages[2].error, "without its body") != NULL);
    fsg_s3_event_destroy(ev);
    /* Without its messageId a record could not be named in batchItemFailures. */
    T_ERR(FSG_E_PARSE, s_parse("{\"Records\":[{\"eventSource\":\"aws:sqs\",\"body\":\"{}\"}]}", &ev,
                               &err));
    T_CHECK(strstr(err.msg, "messageId") != NULL);
    /* An SNS record without its message text is still an error of the whole event. */
    T_ERR(FSG_E_PARSE, s_parse("{\"Records\":[{\"EventSource\":\"aws:sns\",\"Sns\":{}}]}", &ev, &err));
    T_CHECK(strstr(err.msg, "without its message text") != NULL);
    return 0;
}

static int s_wrapping_depth_is_bounded(void)
{
    /* Build SQS(SQS(SQS(S3))) by escaping the inner document three times. */
    struct fsg_buf doc = FSG_BUF_INIT;
    T_OK(fsg_buf_append_cstr(&doc, "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{"
                                   "\"bucket\":{\"name\":\"bkt\"},\"object\":{\"key\":\"k\"}}}]}"));
    for (int level = 1; level <= 3; level++) {
        struct fsg_buf next = FSG_BUF_INIT;
        T_OK(fsg_buf_append_cstr(&next, "{\"Records\":[{\"messageId\":\"m\",\"eventSource\":\"aws:sqs\","
                                        "\"body\":\""));
        for (size_t i = 0; i < doc.len; i++) {
            if (doc.ptr[i] == '"' || doc.ptr[i] == '\\') {
                T_OK(fsg_buf_append_byte(&next, '\\'));
            }
            T_OK(fsg_buf_append_byte(&next, doc.ptr[i]));
        }
        T_OK(fsg_buf_append_cstr(&next, "\"}]}"));
        fsg_buf_clean_up(&doc);
        doc = next;

        struct fsg_s3_event *ev = NULL;
        struct fsg_error err = { 0 };
        enum fsg_err rc = fsg_s3_event_parse(fsg_span_from_buf(&doc), &ev, &err);
        T_OK(rc);
        if (level <= 2) {
            T_CHECK(ev->n_items == 1 && ev->messages[0].error == NULL);
        } else { /* too deep: the outer message's error */
            T_CHECK(ev->n_items == 0 && ev->n_messages == 1);
            T_CHECK(strstr(ev->messages[0].error, "nested more than 2 levels") != NULL);
        }
        fsg_s3_event_destroy(ev);
    }
    fsg_buf_clean_up(&doc);
    return 0;
}

static int s_form_decode_table(void)
{
    static const struct {
        const char *in;
        const char *want; /* NULL: FSG_E_PARSE */
    } cases[] = {
        { "", "" },
        { "plain/key.log.gz", "plain/key.log.gz" },
        { "red+flower.jpg", "red flower.jpg" },
        { "a%3Db", "a=b" },
        { "a%3db", "a=b" },          /* lowercase hex */
        { "a%2Bb", "a+b" },          /* a literal '+' arrives as %2B */
        { "%2B+%2B", "+ +" },        /* '+' decoded before %XX, never after */
        { "100%25", "100%" },
        { "%3A%2F%3F%23", ":/?#" },
        { "my%20flow+logs%2B1", "my flow logs+1" }, /* %20 (the fan-out's encoding) and '+' */
        { "caf%C3%A9", "caf\xc3\xa9" },         /* UTF-8 e-acute */
        { "%F0%9F%98%80", "\xf0\x9f\x98\x80" }, /* 4-byte UTF-8 */
        { "%", NULL },
        { "a%4", NULL },
        { "a%zz", NULL },
        { "a%4g", NULL },
        { "%00", NULL },        /* NUL */
        { "%C3%28", NULL },     /* bad continuation */
        { "%C0%AF", NULL },     /* overlong '/' */
        { "%ED%A0%80", NULL },  /* surrogate */
        { "%F4%90%80%80", NULL }, /* above U+10FFFF */
        { "%E2%82", NULL },     /* truncated sequence */
        { "%FF", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fsg_buf out = FSG_BUF_INIT;
        T_OK(fsg_buf_append_cstr(&out, "pre:"));
        struct fsg_error err = { 0 };
        enum fsg_err rc = fsg_s3_key_form_decode(fsg_span_from_cstr(cases[i].in), &out, &err);
        if (cases[i].want != NULL) {
            if (rc != FSG_OK) {
                fprintf(stderr, "  case %zu '%s': %s\n", i, cases[i].in, err.msg);
            }
            T_OK(rc);
            T_CHECK(strncmp(fsg_buf_cstr(&out), "pre:", 4) == 0);
            T_STR_EQ(fsg_buf_cstr(&out) + 4, cases[i].want);
            T_CHECK(out.len == 4 + strlen(cases[i].want));
        } else {
            if (rc != FSG_E_PARSE) {
                fprintf(stderr, "  case %zu '%s' was accepted\n", i, cases[i].in);
            }
            T_CHECK(rc == FSG_E_PARSE);
            T_CHECK(err.msg[0] != '\0');
            T_STR_EQ(fsg_buf_cstr(&out), "pre:"); /* out untouched on failure */
        }
        fsg_buf_clean_up(&out);
    }
    /* A raw NUL (the API takes spans, not C strings) is refused like %00. */
    struct fsg_buf out = FSG_BUF_INIT;
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_PARSE, fsg_s3_key_form_decode((struct fsg_span){ (const uint8_t *)"a\0b", 3 }, &out,
                                              &err));
    T_CHECK(out.len == 0 && strstr(err.msg, "NUL byte at 1") != NULL);
    fsg_buf_clean_up(&out);
    return 0;
}

/* Each malformed event fails with FSG_E_PARSE and a message naming the problem. */
static int s_malformed_events(void)
{
    static const struct {
        const char *json;
        const char *msg_part;
    } cases[] = {
        { "", "event is empty" },
        { "not json", "event: invalid JSON" },
        { "{\"Records\":[", "invalid JSON" },
        { "[1,2]", "event is a JSON array" },
        { "{}", "unrecognised event (keys: none)" },
        { "{\"foo\":1,\"bar\":2}", "keys: foo, bar): expected an S3 notification" },
        { "{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1}", "a, b, c, d, e, ..." },
        { "{\"k\\u0001\\n\":1}", "keys: k?\?)" },
        { "{\"Records\":{}}", "Records: must be an array" },
        { "{\"Records\":[42]}", "Records[0]: not an object" },
        { "{\"Records\":[{\"eventSource\":\"aws:s3\"}]}", "Records[0].eventName: missing" },
        { "{\"Records\":[{\"eventSource\":\"aws:dynamodb\"}]}", "eventSource 'aws:dynamodb'" },
        { "{\"Records\":[{\"eventVersion\":\"3.0\",\"eventName\":\"ObjectCreated:Put\"}]}",
          "eventVersion '3.0'" },
        { "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\"}]}", "Records[0].s3.bucket.name" },
        { "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"bkt\"}}}]}",
          "Records[0].s3.object.key: missing" },
        { "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"bkt\"},"
          "\"object\":{\"key\":\"\"}}}]}",
          "object key is empty" },
        { "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"bkt\"},"
          "\"object\":{\"key\":7}}}]}",
          "Records[0].s3.object.key: missing or not a string" },
        { "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"bkt\"},"
          "\"object\":{\"key\":\"a%zz\"}}}]}",
          "Records[0].s3.object.key: bad %-escape at byte 1" },
        { "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b/../x\"},"
          "\"object\":{\"key\":\"k\"}}}]}",
          "bucket name 'b/../x' has a character" },
        { "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"ab\"},"
          "\"object\":{\"key\":\"k\"}}}]}",
          "must be 3 to 255 characters" },
        { "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"bkt\"},"
          "\"object\":{\"key\":\"k\",\"size\":-1}}}]}",
          "size: must be a non-negative integer" },
        { "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"bkt\"},"
          "\"object\":{\"key\":\"k\",\"size\":\"12\"}}}]}",
          "size: must be a non-negative integer" },
        { "{\"Records\":[],\"Records\":[]}", "duplicate" },
        { "{\"Records\":[],\"scan\":\"s3://bkt/\"}", "ambiguous event" },
        { "{\"source\":\"aws.ec2\",\"detail-type\":\"EC2 Instance State-change Notification\"}",
          "EventBridge source 'aws.ec2' is not handled" },
        { "{\"source\":\"aws.events\",\"detail-type\":\"Other\"}", "only \"Scheduled Event\"" },
        { "{\"source\":\"aws.s3\"}", "detail-type missing" },
        { "{\"detail-type\":\"Object Created\"}", "source missing" },
        { "{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":{}}",
          "detail.bucket.name: missing" },
        { "{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":{\"bucket\":"
          "{\"name\":\"bkt\"},\"object\":{\"key\":\"\"}}}",
          "detail.object.key: object key is empty" },
        { "{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":{\"bucket\":"
          "{\"name\":\"bkt\"}}}",
          "detail.object.key: missing" },
        { "{\"scan\":42}", "scan: must be a string" },
        { "{\"scan\":\"http://bkt/x\"}", "does not start with s3://" },
        { "{\"scan\":\"s3:///x\"}", "bucket name '' must be 3 to 255" },
        { "{\"scan\":\"s3://bkt/\",\"jobs\":4}", "scan event: unknown key \"jobs\"" },
        { "{\"nlb_sync\":false}", "nlb_sync: must be true" },
        { "{\"nlb_sync\":\"yes\"}", "nlb_sync: must be true" },
        { "{\"nlb_sync\":true,\"x\":1}", "nlb_sync event: unknown key \"x\"" },
        { "{\"Event\":\"s3:Other\"}", "unrecognised event" },
        { "{\"k\":\"\\u0000\"}", "invalid JSON" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fsg_s3_event *ev = NULL;
        struct fsg_error err = { 0 };
        enum fsg_err rc = s_parse(cases[i].json, &ev, &err);
        if (rc != FSG_E_PARSE || strstr(err.msg, cases[i].msg_part) == NULL) {
            fprintf(stderr, "  case %zu: %s -> %s: %s (want '%s')\n", i, cases[i].json,
                    fsg_err_name(rc), err.msg, cases[i].msg_part);
        }
        T_CHECK(rc == FSG_E_PARSE);
        T_CHECK(ev == NULL);
        T_CHECK(strstr(err.msg, cases[i].msg_part) != NULL);
    }
    return 0;
}

static int s_hostile_sizes(void)
{
    struct fsg_s3_event *ev = NULL;
    struct fsg_error err = { 0 };

    /* A 1025-byte decoded key (S3's limit is 1024); 1024 passes. */
    for (size_t len = 1024; len <= 1025; len++) {
        struct fsg_buf json = FSG_BUF_INIT;
        T_OK(fsg_buf_append_cstr(&json, "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":"
                                        "{\"bucket\":{\"name\":\"bkt\"},\"object\":{\"key\":\""));
        for (size_t i = 0; i < len; i++) {
            T_OK(fsg_buf_append_cstr(&json, "%41")); /* 3 encoded bytes, 1 decoded */
        }
        T_OK(fsg_buf_append_cstr(&json, "\"}}}]}"));
        enum fsg_err rc = fsg_s3_event_parse(fsg_span_from_buf(&json), &ev, &err);
        if (len == 1024) {
            T_OK(rc);
            T_CHECK(strlen(ev->items[0].key) == 1024);
            fsg_s3_event_destroy(ev);
            ev = NULL;
        } else {
            T_CHECK(rc == FSG_E_PARSE);
            T_CHECK(strstr(err.msg, "1025 bytes, S3 allows 1024") != NULL);
        }
        fsg_buf_clean_up(&json);
    }

    /* Deep nesting is refused before jansson recurses. */
    struct fsg_buf deep = FSG_BUF_INIT;
    T_OK(fsg_buf_append_cstr(&deep, "{\"Records\":"));
    for (int i = 0; i < 5000; i++) {
        T_OK(fsg_buf_append_byte(&deep, '['));
    }
    T_CHECK(fsg_s3_event_parse(fsg_span_from_buf(&deep), &ev, &err) == FSG_E_LIMIT);
    fsg_buf_clean_up(&deep);

    /* Bigger than any Lambda payload. */
    size_t big = ((size_t)8 << 20) + 1;
    uint8_t *p = fsg_malloc(big);
    T_CHECK(p != NULL);
    memset(p, ' ', big);
    T_CHECK(fsg_s3_event_parse((struct fsg_span){ p, big }, &ev, &err) == FSG_E_LIMIT);
    fsg_free(p);
    return 0;
}

/* Every allocation failure is a clean FSG_E_NOMEM with nothing leaked (the harness counts). */
static int s_allocation_failures(void)
{
    struct fsg_buf json = FSG_BUF_INIT;
    T_OK(fsg_buf_append_cstr(&json, "{\"Records\":["));
    for (int i = 0; i < 9; i++) {
        s_record(&json, "ObjectCreated:Put", "bucket-a", "k%3D1+x.log.gz");
        T_OK(fsg_buf_append_cstr(&json, ","));
    }
    s_record(&json, "ObjectCreated:Put", "bucket-b", "last");
    T_OK(fsg_buf_append_cstr(&json, "]}"));
    int failures_seen = 0;
    for (long n = 1; n < 200; n++) {
        struct fsg_s3_event *ev = NULL;
        struct fsg_error err = { 0 };
        fsg_mem_fail_after(n);
        enum fsg_err rc = fsg_s3_event_parse(fsg_span_from_buf(&json), &ev, &err);
        fsg_mem_fail_after(0);
        if (rc == FSG_OK) {
            T_CHECK(ev->n_items == 10);
            fsg_s3_event_destroy(ev);
            break;
        }
        T_CHECK(rc == FSG_E_NOMEM);
        T_CHECK(ev == NULL);
        failures_seen++;
    }
    T_CHECK(failures_seen > 10);
    fsg_buf_clean_up(&json);
    return 0;
}

/* tests/data/events/<name> parsed. */
static enum fsg_err s_fixture(const char *name, struct fsg_s3_event **ret, struct fsg_error *err)
{
    char rel[128];
    snprintf(rel, sizeof rel, "events/%s", name);
    struct fsg_buf b = FSG_BUF_INIT;
    enum fsg_err rc = t_read_data_file(rel, &b);
    if (rc == FSG_OK) {
        rc = fsg_s3_event_parse(fsg_span_from_buf(&b), ret, err);
    }
    fsg_buf_clean_up(&b);
    return rc;
}

static int s_sns_envelope_in_sqs(void)
{
    struct fsg_s3_event *ev = NULL;
    T_OK(s_fixture("sqs_sns_s3.json", &ev, NULL));
    T_CHECK(ev->kind == FSG_S3_EVENT_OBJECTS);
    T_STR_EQ(ev->origin, "sqs");
    T_CHECK(ev->n_messages == 3 && ev->n_items == 2 && ev->n_calls == 0);
    T_STR_EQ(ev->messages[0].id, "059f36b4-87a3-44ab-83d2-661975830a7d");
    /* The SNS envelope's Message and the raw notification give the same decoded key. */
    for (size_t i = 0; i < 2; i++) {
        T_STR_EQ(ev->items[i].bucket, "flow-logs");
        T_STR_EQ(ev->items[i].key, "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/01/"
                                   "my flow logs_20240101T0000Z.log.gz");
        T_CHECK(ev->items[i].message == i && !ev->items[i].key_as_sent);
    }
    T_CHECK(ev->messages[0].error == NULL && ev->messages[1].error == NULL);
    T_CHECK(ev->messages[2].error != NULL && strstr(ev->messages[2].error, "not an S3") != NULL);
    fsg_s3_event_destroy(ev);
    return 0;
}

static int s_eventbridge_in_sqs(void)
{
    struct fsg_s3_event *ev = NULL;
    T_OK(s_fixture("sqs_eventbridge.json", &ev, NULL));
    T_CHECK(ev->kind == FSG_S3_EVENT_OBJECTS); /* objects to read, and a call */
    T_STR_EQ(ev->origin, "sqs");
    T_CHECK(ev->n_messages == 2 && ev->n_items == 1 && ev->n_calls == 1);
    T_STR_EQ(ev->items[0].key,
             "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/01/eb_20240101T0000Z.log.gz");
    T_CHECK(ev->items[0].key_as_sent && ev->items[0].message == 0);
    T_STR_EQ(ev->calls[0].event_name, "AuthorizeSecurityGroupIngress");
    T_STR_EQ(ev->calls[0].group_id, "sg-0123456789abcdef0");
    T_CHECK(ev->calls[0].message == 1);
    fsg_s3_event_destroy(ev);

    /* Only CloudTrail events in the batch: an api_call job. A schedule inside SQS is refused
     * for its message alone. */
    T_OK(s_parse("{\"Records\":[{\"messageId\":\"m1\",\"eventSource\":\"aws:sqs\",\"body\":"
                 "\"{\\\"source\\\":\\\"aws.rds\\\",\\\"detail-type\\\":\\\"AWS API Call via "
                 "CloudTrail\\\",\\\"detail\\\":{\\\"eventName\\\":\\\"ModifyDBInstance\\\","
                 "\\\"requestParameters\\\":{\\\"dBInstanceIdentifier\\\":\\\"db1\\\"}}}\"},"
                 "{\"messageId\":\"m2\",\"eventSource\":\"aws:sqs\",\"body\":"
                 "\"{\\\"source\\\":\\\"aws.events\\\",\\\"detail-type\\\":\\\"Scheduled "
                 "Event\\\"}\"}]}",
                 &ev, NULL));
    T_CHECK(ev->kind == FSG_S3_EVENT_API_CALL && ev->n_calls == 1);
    T_STR_EQ(fsg_s3_event_kind_name(ev->kind), "api_call");
    T_STR_EQ(ev->calls[0].db_instance, "db1");
    T_CHECK(!ev->calls[0].has_vpc_sg_ids);
    T_CHECK(ev->messages[1].error != NULL && strstr(ev->messages[1].error, "Scheduled") != NULL);
    fsg_s3_event_destroy(ev);
    return 0;
}

static int s_cloudtrail_calls(void)
{
    static const struct {
        const char *file, *name;
        bool flowseg, group;
    } cases[] = {
        { "cloudtrail_authorize.json", "AuthorizeSecurityGroupIngress", false, true },
        { "cloudtrail_authorize_self.json", "AuthorizeSecurityGroupIngress", true, true },
        { "cloudtrail_revoke.json", "RevokeSecurityGroupIngress", false, true },
        { "cloudtrail_modify_rules.json", "ModifySecurityGroupRules", false, true },
        { "cloudtrail_update_descriptions.json", "UpdateSecurityGroupRuleDescriptionsIngress",
          false, true },
        { "cloudtrail_modify_db.json", "ModifyDBInstance", false, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fsg_s3_event *ev = NULL;
        T_OK(s_fixture(cases[i].file, &ev, NULL));
        T_CHECK(ev->kind == FSG_S3_EVENT_API_CALL && ev->n_calls == 1 && ev->n_items == 0);
        T_STR_EQ(ev->origin, "cloudtrail");
        const struct fsg_s3_event_call *c = &ev->calls[0];
        T_STR_EQ(c->event_name, cases[i].name);
        T_CHECK(c->flowseg_rules_only == cases[i].flowseg);
        T_CHECK(c->error_code == NULL && c->message == FSG_S3_EVENT_NO_MESSAGE);
        if (cases[i].group) {
            T_STR_EQ(c->group_id, "sg-0123456789abcdef0");
            T_CHECK(c->db_instance == NULL);
        } else {
            T_CHECK(c->group_id == NULL);
            T_STR_EQ(c->db_instance, "orders-db");
            T_CHECK(c->has_vpc_sg_ids && c->n_vpc_sg_ids == 1);
            T_STR_EQ(c->vpc_sg_ids[0], "sg-0fedcba9876543210");
        }
        T_CHECK(strstr(c->principal_arn, ":assumed-role/") != NULL);
        fsg_s3_event_destroy(ev);
    }

    struct fsg_s3_event *ev = NULL;
    struct fsg_error err = { 0 };
#define S_CT(SRC, DETAIL)                                                                          \
    "{\"source\":\"" SRC "\",\"detail-type\":\"AWS API Call via CloudTrail\",\"detail\":" DETAIL "}"
    /* A failed call (errorCode) is kept with its code: it changed nothing. */
    T_OK(s_parse(S_CT("aws.ec2", "{\"eventName\":\"AuthorizeSecurityGroupIngress\",\"errorCode\":"
                                 "\"Client.UnauthorizedOperation\",\"requestParameters\":"
                                 "{\"groupId\":\"sg-1\"}}"),
                 &ev, NULL));
    T_STR_EQ(ev->calls[0].error_code, "Client.UnauthorizedOperation");
    fsg_s3_event_destroy(ev);
    /* The group by name only (default VPC); the group from Authorize's answer. */
    T_OK(s_parse(S_CT("aws.ec2", "{\"eventName\":\"RevokeSecurityGroupIngress\","
                                 "\"requestParameters\":{\"groupName\":\"default\"}}"),
                 &ev, NULL));
    T_CHECK(ev->calls[0].group_id == NULL);
    T_STR_EQ(ev->calls[0].group_name, "default");
    fsg_s3_event_destroy(ev);
    T_OK(s_parse(S_CT("aws.ec2", "{\"eventName\":\"AuthorizeSecurityGroupIngress\","
                                 "\"requestParameters\":{\"ipPermissions\":{}},"
                                 "\"responseElements\":{\"securityGroupRuleSet\":{\"items\":"
                                 "[{\"groupId\":\"sg-2\"}]}}}"),
                 &ev, NULL));
    T_STR_EQ(ev->calls[0].group_id, "sg-2");
    fsg_s3_event_destroy(ev);
    /* A flowseg description on a rule that references a group is not flowseg's kind. */
    T_OK(s_parse(S_CT("aws.ec2", "{\"eventName\":\"AuthorizeSecurityGroupIngress\","
                                 "\"requestParameters\":{\"groupId\":\"sg-1\",\"ipPermissions\":"
                                 "{\"items\":[{\"groups\":{\"items\":[{\"groupId\":\"sg-9\","
                                 "\"description\":\"flowseg x\"}]},\"ipRanges\":{\"items\":"
                                 "[{\"cidrIp\":\"10.0.0.1/32\",\"description\":\"flowseg x\"}]}}]}}}"),
                 &ev, NULL));
    T_CHECK(!ev->calls[0].flowseg_rules_only);
    fsg_s3_event_destroy(ev);
    /* ModifySecurityGroupRules as a list of rewrites, all flowseg's. */
    T_OK(s_parse(S_CT("aws.ec2", "{\"eventName\":\"ModifySecurityGroupRules\","
                                 "\"requestParameters\":{\"ModifySecurityGroupRulesRequest\":{"
                                 "\"GroupId\":\"sg-3\",\"SecurityGroupRule\":[{"
                                 "\"SecurityGroupRuleId\":\"sgr-1\",\"SecurityGroupRule\":{"
                                 "\"CidrIpv4\":\"10.0.0.1/32\",\"Description\":\"flowseg r\"}}]}}}"),
                 &ev, NULL));
    T_STR_EQ(ev->calls[0].group_id, "sg-3");
    T_CHECK(ev->calls[0].flowseg_rules_only);
    fsg_s3_event_destroy(ev);
    /* Other API calls, or an EC2 name from aws.rds, are ignored; nothing named is an error. */
    T_OK(s_parse(S_CT("aws.ec2", "{\"eventName\":\"RunInstances\"}"), &ev, NULL));
    T_CHECK(ev->n_calls == 0 && ev->n_ignored == 1);
    fsg_s3_event_destroy(ev);
    T_OK(s_parse(S_CT("aws.rds", "{\"eventName\":\"AuthorizeSecurityGroupIngress\"}"), &ev, NULL));
    T_CHECK(ev->n_calls == 0 && ev->n_ignored == 1);
    fsg_s3_event_destroy(ev);
    T_ERR(FSG_E_PARSE, s_parse(S_CT("aws.ec2", "{\"eventName\":\"RevokeSecurityGroupIngress\","
                                               "\"requestParameters\":{}}"),
                               &ev, &err));
    T_CHECK(strstr(err.msg, "names no security group") != NULL);
    T_ERR(FSG_E_PARSE, s_parse(S_CT("aws.rds", "{\"eventName\":\"ModifyDBInstance\","
                                               "\"requestParameters\":{\"vpcSecurityGroupIds\":"
                                               "[\"sg-1\"]}}"),
                               &ev, &err));
    T_CHECK(strstr(err.msg, "dBInstanceIdentifier") != NULL);
    T_ERR(FSG_E_PARSE, s_parse(S_CT("aws.ec2", "{\"eventName\":\"RevokeSecurityGroupIngress\","
                                               "\"requestParameters\":{\"groupId\":\"sg 1\"}}"),
                               &ev, &err));
    T_CHECK(strstr(err.msg, "not an AWS identifier") != NULL);
    T_ERR(FSG_E_PARSE, s_parse(S_CT("aws.ec2", "{}"), &ev, &err));
    T_CHECK(strstr(err.msg, "eventName") != NULL);
#undef S_CT
    return 0;
}

static int s_dry_run_switch(void)
{
    struct fsg_s3_event *ev = NULL;
    struct fsg_error err = { 0 };
    T_OK(s_parse("{\"scan\": \"s3://bkt/AWSLogs/\", \"dry_run\": true}", &ev, NULL));
    T_CHECK(ev->kind == FSG_S3_EVENT_SCAN && ev->dry_run);
    fsg_s3_event_destroy(ev);
    T_OK(s_parse("{\"scan\": \"s3://bkt/AWSLogs/\", \"dry_run\": false}", &ev, NULL));
    T_CHECK(!ev->dry_run);
    fsg_s3_event_destroy(ev);
    T_OK(s_parse("{\"dry_run\": true, \"nlb_sync\": true}", &ev, NULL));
    T_CHECK(ev->kind == FSG_S3_EVENT_NLB_SYNC && ev->dry_run);
    fsg_s3_event_destroy(ev);
    T_ERR(FSG_E_PARSE, s_parse("{\"scan\": \"s3://bkt/\", \"dry_run\": \"yes\"}", &ev, &err));
    T_CHECK(strstr(err.msg, "dry_run must be true or false") != NULL);
    T_ERR(FSG_E_PARSE, s_parse("{\"scan\": \"s3://bkt/\", \"dryrun\": true}", &ev, &err));
    T_CHECK(strstr(err.msg, "unknown key") != NULL);
    return 0;
}

/* A backfill: the scan's window and fan-out switch; the batches it sends (S3 notifications
 * marked "flowseg_fanout" inside SQS) are summaries-only messages, others are not. */
static int s_fanout(void)
{
    struct fsg_s3_event *ev = NULL;
    struct fsg_error err = { 0 };
    T_OK(s_parse("{\"scan\": \"s3://bkt/AWSLogs/\", \"since\": \"2026-11-01\", "
                 "\"until\": \"2026-11-30T12:00Z\", \"fanout\": true}", &ev, NULL));
    T_CHECK(ev->kind == FSG_S3_EVENT_SCAN && ev->fanout && !ev->dry_run);
    T_STR_EQ(ev->since, "2026-11-01");
    T_STR_EQ(ev->until, "2026-11-30T12:00Z");
    fsg_s3_event_destroy(ev);
    T_OK(s_parse("{\"scan\": \"s3://bkt/AWSLogs/\"}", &ev, NULL));
    T_CHECK(!ev->fanout && ev->since == NULL && ev->until == NULL);
    fsg_s3_event_destroy(ev);
    T_ERR(FSG_E_PARSE, s_parse("{\"scan\": \"s3://bkt/\", \"fanout\": 1}", &ev, &err));
    T_CHECK(strstr(err.msg, "fanout must be true or false") != NULL);
    T_ERR(FSG_E_PARSE, s_parse("{\"scan\": \"s3://bkt/\", \"since\": 20261101}", &ev, &err));
    T_CHECK(strstr(err.msg, "since must be a UTC time") != NULL);

#define S_REC(key) "{\\\"eventSource\\\":\\\"aws:s3\\\",\\\"eventName\\\":\\\"ObjectCreated:Put\\\"," \
                   "\\\"s3\\\":{\\\"bucket\\\":{\\\"name\\\":\\\"bkt\\\"},\\\"object\\\":{\\\"key\\\":\\\"" key "\\\"}}}"
#define S_SQS(id, body) "{\"eventSource\":\"aws:sqs\",\"messageId\":\"" id "\",\"body\":\"" body "\"}"
    T_OK(s_parse("{\"Records\":[" S_SQS("m1", "{\\\"flowseg_fanout\\\":true,\\\"Records\\\":["
                 S_REC("a+b.log.gz") "," S_REC("c.log.gz") "]}") "," S_SQS("m2", "{\\\"Records\\\":["
                 S_REC("d.log.gz") "]}") "]}", &ev, &err));
#undef S_REC
#undef S_SQS
    T_CHECK(ev->n_messages == 2 && ev->n_items == 3);
    T_CHECK(ev->messages[0].summaries_only && !ev->messages[1].summaries_only);
    T_STR_EQ(ev->items[0].key, "a b.log.gz");
    T_CHECK(ev->items[0].message == 0 && ev->items[2].message == 1);
    fsg_s3_event_destroy(ev);
    return 0;
}

/* A batch's allocation failures are clean too (message errors, calls, items). */
static int s_batch_allocation_failures(void)
{
    static const char *const files[] = { "sqs_sns_s3.json", "sqs_eventbridge.json",
                                         "cloudtrail_modify_db.json" };
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char rel[64];
        snprintf(rel, sizeof rel, "events/%s", files[f]);
        struct fsg_buf json = FSG_BUF_INIT;
        T_OK(t_read_data_file(rel, &json));
        bool ok = false;
        for (long n = 1; n < 400 && !ok; n++) {
            struct fsg_s3_event *ev = NULL;
            struct fsg_error err = { 0 };
            fsg_mem_fail_after(n);
            enum fsg_err rc = fsg_s3_event_parse(fsg_span_from_buf(&json), &ev, &err);
            fsg_mem_fail_after(0);
            if (rc == FSG_OK) {
                ok = true;
                fsg_s3_event_destroy(ev);
                continue;
            }
            T_CHECK(rc == FSG_E_NOMEM && ev == NULL);
        }
        T_CHECK(ok);
        fsg_buf_clean_up(&json);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "records_key_decoding", s_records_key_decoding },
        { "records_every_record", s_records_every_record },
        { "eventbridge_object_created", s_eventbridge_object_created },
        { "scheduled_scan_nlb_test", s_scheduled_scan_nlb_test },
        { "sqs_and_sns_wrappers", s_sqs_and_sns_wrappers },
        { "wrapping_depth_is_bounded", s_wrapping_depth_is_bounded },
        { "form_decode_table", s_form_decode_table },
        { "malformed_events", s_malformed_events },
        { "hostile_sizes", s_hostile_sizes },
        { "allocation_failures", s_allocation_failures },
        { "sns_envelope_in_sqs", s_sns_envelope_in_sqs },
        { "eventbridge_in_sqs", s_eventbridge_in_sqs },
        { "cloudtrail_calls", s_cloudtrail_calls },
        { "dry_run_switch", s_dry_run_switch },
        { "fanout", s_fanout },
        { "batch_allocation_failures", s_batch_allocation_failures },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
