/* lib/aws: the request pipeline over the scripted transport: signing (known answers from
 * ref/aws-wire.md §4.6), retries (503 then success), ExpiredToken refresh, classification,
 * error detail (status, code, request id, what to do, no secrets). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "lib/aws/aws.h"
#include "lib/aws/aws_xml.h"
#include "lib/aws/creds.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"
#include "tests/unit/http_script.h"

#define S_NOW 1736942400 /* 2025-01-15T12:00:00Z, the §4.6 vectors' time */
#define S_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

/* A credentials source that can be told to rotate on a forced refresh. */
struct s_creds {
    struct fsg_credentials cur;
    unsigned calls;
    unsigned forced;
    bool fail;
};

static enum fsg_err s_set_creds(struct s_creds *c, const char *akid, const char *token)
{
    fsg_credentials_clean_up(&c->cur);
    return t_creds_init(&c->cur, akid, S_SECRET, token);
}

static enum fsg_err s_creds_fn(void *userdata, time_t now_s, bool force_refresh,
                               const struct fsg_credentials **ret, struct fsg_error *err)
{
    struct s_creds *c = userdata;
    (void)now_s;
    c->calls++;
    if (c->fail) {
        return fsg_error_set(err, FSG_E_AUTH, "no credentials in the environment");
    }
    if (force_refresh) {
        c->forced++;
        enum fsg_err rc = s_set_creds(c, "AKIDROTATED", NULL);
        if (rc != FSG_OK) {
            return rc;
        }
    }
    *ret = &c->cur;
    return FSG_OK;
}

static time_t s_clock(void *userdata)
{
    (void)userdata;
    return S_NOW;
}

struct s_sleeps {
    unsigned n;
    long total_ms;
    volatile sig_atomic_t *stop_on_sleep; /* set during the backoff sleep (a signal) */
};

static void s_sleep(long ms, void *userdata)
{
    struct s_sleeps *s = userdata;
    s->n++;
    s->total_ms += ms;
    if (s->stop_on_sleep != NULL) {
        *s->stop_on_sleep = 1;
    }
}

static double s_half(void *userdata)
{
    (void)userdata;
    return 0.5;
}

struct s_fixture {
    struct t_http_script script;
    struct fsg_http_client *http;
    struct s_creds creds;
    struct s_sleeps sleeps;
    struct fsg_aws_client *aws;
};

static int s_setup(struct s_fixture *f, const struct t_http_exchange *ex, size_t n,
                   const char *service, const char *endpoint, const char *token)
{
    memset(f, 0, sizeof *f);
    t_http_script_init(&f->script, ex, n);
    f->http = t_http_script_client(&f->script);
    T_CHECK(f->http != NULL);
    T_OK(s_set_creds(&f->creds, "AKIDEXAMPLE", token));
    struct fsg_aws_client_options o = {
        .service = service,
        .region = "us-east-1",
        .endpoint_url = endpoint,
        .http = f->http,
        .creds_fn = s_creds_fn,
        .creds_userdata = &f->creds,
        .retry = { .max_attempts = 3, .sleep = s_sleep, .random = s_half,
                   .userdata = &f->sleeps },
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
    fsg_credentials_clean_up(&f->creds.cur);
}

static const char s_ec2_ok[] =
    "<DescribeSecurityGroupsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
    "<requestId>req-ok</requestId><securityGroupInfo><item><groupId>sg-1</groupId></item>"
    "</securityGroupInfo></DescribeSecurityGroupsResponse>";
static const char s_ec2_throttled[] =
    "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded."
    "</Message></Error></Errors><RequestID>req-503</RequestID></Response>";

static int s_query_503_then_success(void)
{
    static const struct t_http_exchange ex[] = {
        { .method = "POST", .url = "https://ec2.test/", .status = 503, .body = s_ec2_throttled },
        { .method = "POST", .url = "https://ec2.test/", .status = 200, .body = s_ec2_ok },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, 2, "ec2", "https://ec2.test/", NULL) != 0) {
        return 1;
    }
    struct fsg_aws_params params = { 0 };
    T_OK(fsg_aws_params_addf(&params, "sg-1", "GroupId.%d", 1));
    struct fsg_aws_xml_doc *doc = NULL;
    struct fsg_error err = { 0 };
    T_OK(fsg_aws_query(f.aws, "DescribeSecurityGroups", "2016-11-15", &params, &doc, &err));
    T_STR_EQ(fsg_aws_xml_path_text(fsg_aws_xml_root(doc), "securityGroupInfo/item/groupId"),
             "sg-1");
    T_CHECK(!f.script.mismatch && f.script.next == 2);
    T_CHECK(f.sleeps.n == 1 && f.sleeps.total_ms == 500); /* 0.5 * 2^0 s */
    for (size_t i = 0; i < 2; i++) {
        T_STR_EQ(fsg_buf_cstr(&f.script.rec[i].body),
                 "Action=DescribeSecurityGroups&Version=2016-11-15&GroupId.1=sg-1");
        T_STR_EQ(t_http_script_header(&f.script, i, "content-type"),
                 "application/x-www-form-urlencoded; charset=utf-8");
        const char *auth = t_http_script_header(&f.script, i, "authorization");
        T_CHECK(auth != NULL &&
                strstr(auth, "Credential=AKIDEXAMPLE/20250115/us-east-1/ec2/aws4_request") != NULL);
    }
    T_STR_EQ(fsg_aws_client_endpoint(f.aws), "https://ec2.test");
    fsg_aws_xml_doc_destroy(doc);
    fsg_aws_params_clean_up(&params);
    s_teardown(&f);
    return 0;
}

/* ref/aws-wire.md §4.6 (a): the whole pipeline produces botocore's exact Authorization. */
static int s_query_known_answer(void)
{
    static const struct t_http_exchange ex[] = { { .status = 200, .body = s_ec2_ok } };
    struct s_fixture f;
    if (s_setup(&f, ex, 1, "ec2", "https://ec2.us-east-1.amazonaws.com", "IQoJb3JpZ2luX2VjEXAMPLETOKEN") != 0) {
        return 1;
    }
    struct fsg_aws_params params = { 0 };
    T_OK(fsg_aws_params_add(&params, "Filter.1.Name", "group-id"));
    T_OK(fsg_aws_params_add(&params, "Filter.1.Value.1", "sg-0123456789abcdef0"));
    T_OK(fsg_aws_params_add(&params, "MaxResults", "100"));
    struct fsg_buf body = FSG_BUF_INIT;
    T_OK(fsg_aws_query_raw(f.aws, "DescribeSecurityGroupRules", "2016-11-15", &params, &body, NULL));
    T_STR_EQ(fsg_buf_cstr(&f.script.rec[0].body),
             "Action=DescribeSecurityGroupRules&Version=2016-11-15&Filter.1.Name=group-id"
             "&Filter.1.Value.1=sg-0123456789abcdef0&MaxResults=100");
    T_STR_EQ(t_http_script_header(&f.script, 0, "Authorization"),
             "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250115/us-east-1/ec2/aws4_request, "
             "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "
             "Signature=881962775ba8d15e7a1d69e204b3bef8c697765b9ccf53877ea7f864bec5d766");
    T_STR_EQ(fsg_buf_cstr(&body), s_ec2_ok);
    fsg_buf_clean_up(&body);
    fsg_aws_params_clean_up(&params);
    s_teardown(&f);
    return 0;
}

/* ref/aws-wire.md §4.6 (b): S3 GET, virtual-hosted, Hive key, Range, session token. */
static int s_s3_known_answer(void)
{
    static const char url[] =
        "https://flowlogs-example.s3.us-east-1.amazonaws.com/AWSLogs/aws-account-id%3D123456789012/"
        "aws-service%3Dvpcflowlogs/aws-region%3Dus-east-1/year%3D2025/month%3D01/day%3D15/"
        "123456789012_vpcflowlogs_us-east-1_fl-0abc1234def567890_20250115T1155Z_1a2b3c4d.log.gz";
    static const struct t_http_exchange ex[] = { { .url = url, .status = 206, .body = "gz" } };
    struct s_fixture f;
    if (s_setup(&f, ex, 1, "s3", "https://s3.us-east-1.amazonaws.com", "IQoJb3JpZ2luX2VjEXAMPLETOKEN") != 0) {
        return 1;
    }
    struct fsg_http_headers h = { 0 };
    T_OK(fsg_http_headers_add(&h, "Range", "bytes=0-1048575"));
    struct fsg_aws_request r = { .method = "GET", .url = url, .headers = &h,
                                 .action = "GetObject", .resource = "s3://flowlogs-example/k" };
    struct fsg_http_response resp = { 0 };
    T_OK(fsg_aws_request(f.aws, &r, &resp, NULL));
    T_CHECK(resp.status == 206);
    T_STR_EQ(fsg_buf_cstr(&resp.body), "gz");
    const char *auth = t_http_script_header(&f.script, 0, "Authorization");
    T_CHECK(auth != NULL);
    T_CHECK(strstr(auth, "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date;"
                         "x-amz-security-token, ") != NULL);
    T_CHECK(strstr(auth, "Signature=28fd2c3bf01cd5d4324fdef8ecccaa406c2c46f649736f2f4e6bf6ae48530e4a") != NULL);
    T_STR_EQ(t_http_script_header(&f.script, 0, "x-amz-content-sha256"),
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    fsg_http_response_clean_up(&resp);
    fsg_http_headers_clean_up(&h);
    s_teardown(&f);
    return 0;
}

static int s_expired_token_refreshes_once(void)
{
    static const char expired[] =
        "<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security "
        "token included in the request is expired</Message></Error><RequestId>rid-exp</RequestId>"
        "</ErrorResponse>";
    static const struct t_http_exchange ex[] = {
        { .status = 400, .body = expired },
        { .status = 200, .body = "<R><DescribeDBInstancesResult/></R>" },
        { .status = 400, .body = expired },
        { .status = 400, .body = expired },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, 4, "rds", "https://rds.test", "OLDTOKEN") != 0) {
        return 1;
    }
    struct fsg_aws_xml_doc *doc = NULL;
    struct fsg_error err = { 0 };
    T_OK(fsg_aws_query(f.aws, "DescribeDBInstances", "2014-10-31", NULL, &doc, &err));
    fsg_aws_xml_doc_destroy(doc);
    doc = NULL;
    T_CHECK(f.creds.forced == 1 && f.sleeps.n == 0);
    T_CHECK(strstr(t_http_script_header(&f.script, 0, "Authorization"), "AKIDEXAMPLE/") != NULL);
    T_CHECK(strstr(t_http_script_header(&f.script, 1, "Authorization"), "AKIDROTATED/") != NULL);
    T_CHECK(t_http_script_header(&f.script, 1, "X-Amz-Security-Token") == NULL);

    /* still expired after the refresh: an auth error, not a loop */
    T_ERR(FSG_E_AUTH, fsg_aws_query(f.aws, "DescribeDBInstances", "2014-10-31", NULL, &doc, &err));
    T_CHECK(f.creds.forced == 2 && f.script.next == 4);
    T_STR_EQ(err.service_code, "ExpiredToken");
    T_STR_EQ(err.request_id, "rid-exp");
    T_CHECK(strstr(err.msg, "refresh") != NULL);
    s_teardown(&f);
    return 0;
}

static int s_classification(void)
{
    static const struct {
        int status;
        const char *code;
        enum fsg_err want;
    } cases[] = {
        { 200, NULL, FSG_OK },
        { 206, "", FSG_OK },
        { 503, "RequestLimitExceeded", FSG_E_THROTTLED },
        { 400, "Throttling", FSG_E_THROTTLED },
        { 503, "SlowDown", FSG_E_THROTTLED },
        { 503, "", FSG_E_THROTTLED },
        { 429, NULL, FSG_E_THROTTLED },
        { 503, "ServiceUnavailable", FSG_E_REMOTE },
        { 403, "SignatureDoesNotMatch", FSG_E_AUTH },
        { 401, "AuthFailure", FSG_E_AUTH },
        { 400, "ExpiredToken", FSG_E_AUTH },
        { 403, "UnauthorizedOperation", FSG_E_AUTH },
        { 403, "AccessDenied", FSG_E_AUTH },
        { 403, "InvalidAccessKeyId", FSG_E_AUTH },
        { 403, "", FSG_E_AUTH },
        { 403, "RequestTimeTooSkewed", FSG_E_AUTH },
        { 404, "NoSuchKey", FSG_E_NOT_FOUND },
        { 404, "NoSuchBucket", FSG_E_NOT_FOUND },
        { 400, "InvalidGroup.NotFound", FSG_E_NOT_FOUND },
        { 400, "InvalidPermission.NotFound", FSG_E_NOT_FOUND },
        { 404, "DBInstanceNotFound", FSG_E_NOT_FOUND },
        { 400, "TargetGroupNotFound", FSG_E_NOT_FOUND },
        { 404, NULL, FSG_E_NOT_FOUND },
        { 400, "InvalidPermission.Duplicate", FSG_E_CONFLICT },
        { 400, "InvalidGroup.Duplicate", FSG_E_CONFLICT },
        { 400, "DBInstanceAlreadyExists", FSG_E_CONFLICT },
        { 412, "PreconditionFailed", FSG_E_CONFLICT },
        { 409, "", FSG_E_CONFLICT },
        { 400, "InvalidParameterValue", FSG_E_REJECTED },
        { 400, "InvalidParameterCombination", FSG_E_REJECTED },
        { 400, "MissingParameter", FSG_E_REJECTED },
        { 400, "ValidationError", FSG_E_REJECTED },
        { 400, "InvalidGroupId.Malformed", FSG_E_REJECTED },
        { 400, "RulesPerSecurityGroupLimitExceeded", FSG_E_REMOTE },
        { 412, "DryRunOperation", FSG_E_REMOTE },
        { 500, "InternalError", FSG_E_REMOTE },
        { 500, NULL, FSG_E_REMOTE },
        { 416, "InvalidRange", FSG_E_REMOTE },
        { 301, "PermanentRedirect", FSG_E_REMOTE },
        { 400, "", FSG_E_REMOTE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum fsg_err got = fsg_aws_classify(cases[i].status, cases[i].code);
        if (got != cases[i].want) {
            t_fail_str(__FILE__, __LINE__, "classify", cases[i].code, fsg_err_name(cases[i].want));
            return 1;
        }
    }
    return 0;
}

static int s_error_detail(void)
{
    static const char sig[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SignatureDoesNotMatch</Code>"
        "<Message>The request signature we calculated does not match the signature you "
        "provided. Check your key and signing method.</Message><RequestId>RID-403</RequestId>"
        "</Error>";
    static const struct t_http_exchange ex[] = {
        { .status = 403, .body = sig },
        { .status = 404, .headers = "x-amz-request-id: HDR-RID\n" }, /* HEAD: no body */
        { .status = 400, .body = "<Response><Errors><Error><Code>InvalidParameterValue</Code>"
                                 "<Message>bad</Message></Error></Errors></Response>" },
        { .status = 500, .body = "not xml at all" },
        { .status = 500, .body = "<Error><Code>InternalError</Code></Error>" },
        { .status = 500, .body = "<Error><Code>InternalError</Code></Error>" },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, 6, "s3", "http://127.0.0.1:9", NULL) != 0) {
        return 1;
    }
    struct fsg_aws_request r = { .method = "GET", .url = "http://127.0.0.1:9/b/k",
                                 .action = "GetObject", .resource = "s3://b/k" };
    struct fsg_http_response resp = { 0 };
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_AUTH, fsg_aws_request(f.aws, &r, &resp, &err));
    T_CHECK(err.http_status == 403);
    T_STR_EQ(err.service_code, "SignatureDoesNotMatch");
    T_STR_EQ(err.request_id, "RID-403");
    T_CHECK(strstr(err.msg, "s3 GetObject s3://b/k") != NULL);
    T_CHECK(strstr(err.msg, "HTTP 403 SignatureDoesNotMatch") != NULL);
    T_CHECK(strstr(err.msg, "secret access key") != NULL);
    T_CHECK(strstr(err.msg, S_SECRET) == NULL && strstr(err.msg, "Signature=") == NULL);
    T_CHECK(f.script.next == 1); /* auth errors are not retried */

    r.method = "HEAD";
    r.action = "HeadObject";
    T_ERR(FSG_E_NOT_FOUND, fsg_aws_request(f.aws, &r, &resp, &err));
    T_STR_EQ(err.request_id, "HDR-RID");
    T_STR_EQ(err.service_code, "");
    T_CHECK(strstr(err.msg, "HTTP 404") != NULL);

    T_ERR(FSG_E_REJECTED, fsg_aws_request(f.aws, &r, &resp, &err));
    T_STR_EQ(err.service_code, "InvalidParameterValue");
    T_CHECK(f.script.next == 3);

    /* a 500 with a body that is not XML is still a clear, retried error */
    T_ERR(FSG_E_REMOTE, fsg_aws_request(f.aws, &r, &resp, &err));
    T_CHECK(f.script.next == 6 && err.http_status == 500);
    T_STR_EQ(err.service_code, "InternalError");
    T_CHECK(strstr(err.msg, "retry later") != NULL);
    T_CHECK(strstr(err.msg, "gave up after 3 attempts") != NULL);
    fsg_http_response_clean_up(&resp);
    s_teardown(&f);
    return 0;
}

/* After a stop (the caller's flag, set by a signal) a mutating call is not sent again: not by
 * the retry layer after a lost answer (the first attempt may have landed), not after the
 * backoff sleep the signal came in, not after an ExpiredToken refresh. Reads still retry. */
static int s_stop_holds_mutating_retries(void)
{
    static const char expired[] =
        "<Response><Errors><Error><Code>ExpiredToken</Code><Message>m</Message></Error></Errors>"
        "<RequestID>rid</RequestID></Response>";
    static const struct t_http_exchange ex[] = {
        { .fail = FSG_E_NETWORK, .fail_code = "ReadTimeout" }, /* stopped before: 1 attempt */
        { .fail = FSG_E_NETWORK, .fail_code = "ReadTimeout" }, /* stop in the backoff sleep */
        { .status = 400, .body = expired },                     /* stopped: no refresh+resend */
        { .fail = FSG_E_NETWORK, .fail_code = "ReadTimeout" }, /* a read: retried */
        { .status = 200, .body = s_ec2_ok },
        { .fail = FSG_E_NETWORK, .fail_code = "ReadTimeout" }, /* no stop: retried */
        { .status = 200, .body = s_ec2_ok },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, 7, "ec2", "https://ec2.test/", NULL) != 0) {
        return 1;
    }
    volatile sig_atomic_t stop = 1;
    T_CHECK(fsg_aws_client_set_stop(f.aws, &stop) == NULL);
    struct fsg_aws_xml_doc *doc = NULL;
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_NETWORK, fsg_aws_query(f.aws, "AuthorizeSecurityGroupIngress", "2016-11-15",
                                       NULL, &doc, &err));
    T_CHECK(f.script.next == 1 && f.sleeps.n == 0);
    T_CHECK(fsg_aws_client_last_call_uncertain(f.aws));

    stop = 0;
    f.sleeps.stop_on_sleep = &stop;
    T_ERR(FSG_E_NETWORK, fsg_aws_query(f.aws, "RevokeSecurityGroupIngress", "2016-11-15", NULL,
                                       &doc, &err));
    T_CHECK(f.script.next == 2 && f.sleeps.n == 1);
    T_STR_EQ(err.service_code, "ReadTimeout");
    T_CHECK(strstr(err.msg, "(not sent again after 1 attempt(s): asked to stop)") != NULL);
    f.sleeps.stop_on_sleep = NULL;

    T_ERR(FSG_E_AUTH, fsg_aws_query(f.aws, "ModifySecurityGroupRules", "2016-11-15", NULL, &doc,
                                    &err));
    T_CHECK(f.script.next == 3 && f.creds.forced == 0);

    T_OK(fsg_aws_query(f.aws, "DescribeSecurityGroupRules", "2016-11-15", NULL, &doc, &err));
    T_CHECK(f.script.next == 5);
    fsg_aws_xml_doc_destroy(doc);
    doc = NULL;

    stop = 0;
    T_OK(fsg_aws_query(f.aws, "AuthorizeSecurityGroupIngress", "2016-11-15", NULL, &doc, &err));
    T_CHECK(f.script.next == 7 && !f.script.mismatch);
    fsg_aws_xml_doc_destroy(doc);
    T_CHECK(fsg_aws_client_set_stop(f.aws, NULL) == &stop);
    s_teardown(&f);
    return 0;
}

static int s_network_error_retried(void)
{
    static const struct t_http_exchange ex[] = {
        { .fail = FSG_E_NETWORK, .fail_code = "ReadTimeout" },
        { .status = 200, .body = "0123456789", .chunk = 4 },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, 2, "s3", "http://s3.test", NULL) != 0) {
        return 1;
    }
    struct fsg_aws_request r = { .method = "GET", .url = "http://s3.test/b/k",
                                 .action = "GetObject" };
    struct fsg_http_response resp = { 0 };
    struct fsg_error err = { 0 };
    T_OK(fsg_aws_request(f.aws, &r, &resp, &err));
    T_STR_EQ(fsg_buf_cstr(&resp.body), "0123456789");
    T_CHECK(f.sleeps.n == 1 && f.script.next == 2);
    fsg_http_response_clean_up(&resp);
    s_teardown(&f);
    return 0;
}

struct s_collect {
    struct fsg_buf got;
};

static enum fsg_err s_collect(struct fsg_span chunk, void *userdata)
{
    return fsg_buf_append_span(&((struct s_collect *)userdata)->got, chunk);
}

static int s_partial_body_not_retried(void)
{
    static const struct t_http_exchange ex[] = {
        { .status = 200, .body = "0123456789", .cut_after = 6, .chunk = 4 },
        { .status = 200, .body = "never asked for" },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, 2, "s3", "http://s3.test", NULL) != 0) {
        return 1;
    }
    struct s_collect c = { FSG_BUF_INIT };
    struct fsg_aws_request r = { .method = "GET", .url = "http://s3.test/b/k",
                                 .on_body = s_collect, .userdata = &c, .action = "GetObject",
                                 .resource = "s3://b/k" };
    struct fsg_http_response resp = { 0 };
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_NETWORK, fsg_aws_request(f.aws, &r, &resp, &err));
    T_CHECK(f.script.next == 1 && err.offset == 6);
    T_STR_EQ(fsg_buf_cstr(&c.got), "012345");
    T_CHECK(strstr(err.msg, "s3 GetObject s3://b/k: ") == err.msg);
    fsg_buf_clean_up(&c.got);
    fsg_http_response_clean_up(&resp);
    s_teardown(&f);
    return 0;
}

static int s_throttled_gives_up(void)
{
    static const struct t_http_exchange ex[] = {
        { .status = 503, .body = s_ec2_throttled },
        { .status = 503, .body = s_ec2_throttled },
        { .status = 503, .body = s_ec2_throttled },
        { .status = 200, .body = s_ec2_ok },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, 4, "ec2", "https://ec2.test", NULL) != 0) {
        return 1;
    }
    struct fsg_aws_xml_doc *doc = NULL;
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_THROTTLED, fsg_aws_query(f.aws, "DescribeSecurityGroups", "2016-11-15", NULL,
                                         &doc, &err));
    T_CHECK(doc == NULL && f.script.next == 3 && f.sleeps.n == 2);
    T_STR_EQ(err.service_code, "RequestLimitExceeded");
    T_STR_EQ(err.request_id, "req-503");
    T_CHECK(err.http_status == 503);
    T_CHECK(strstr(err.msg, "ec2 DescribeSecurityGroups failed: HTTP 503 RequestLimitExceeded: "
                            "Request limit exceeded.") == err.msg);
    T_CHECK(strstr(err.msg, "throttling") != NULL);
    T_CHECK(strstr(err.msg, "gave up after 3 attempts") != NULL);
    s_teardown(&f);
    return 0;
}

static int s_bad_answers_and_creds(void)
{
    static const struct t_http_exchange ex[] = {
        { .status = 200, .body = "<unclosed>" },
    };
    struct s_fixture f;
    if (s_setup(&f, ex, 1, "ec2", "https://ec2.test", NULL) != 0) {
        return 1;
    }
    struct fsg_aws_xml_doc *doc = NULL;
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_PARSE, fsg_aws_query(f.aws, "DescribeTags", "2016-11-15", NULL, &doc, &err));
    T_CHECK(strstr(err.msg, "ec2 DescribeTags: bad answer: ") == err.msg);
    f.creds.fail = true;
    T_ERR(FSG_E_AUTH, fsg_aws_query(f.aws, "DescribeTags", "2016-11-15", NULL, &doc, &err));
    T_CHECK(strstr(err.msg, "no usable AWS credentials") != NULL);
    T_CHECK(f.script.n_rec == 1); /* nothing sent without credentials */
    s_teardown(&f);
    return 0;
}

static int s_query_encoding(void)
{
    struct fsg_aws_params p = { 0 };
    T_OK(fsg_aws_params_add(&p, "GroupId", "sg-0123456789abcdef0"));
    T_OK(fsg_aws_params_addf(&p, "10.20.30.40/32", "IpPermissions.%d.IpRanges.%d.CidrIp", 1, 1));
    T_OK(fsg_aws_params_addf(&p, "seg:app-tier (10.20.30.40 to 5432)",
                             "IpPermissions.%d.IpRanges.%d.Description", 1, 1));
    T_OK(fsg_aws_params_add(&p, "Empty", NULL));
    T_OK(fsg_aws_params_add(&p, "Uni", "\xc3\xa9+~"));
    struct fsg_buf out = FSG_BUF_INIT;
    T_OK(fsg_aws_query_body("AuthorizeSecurityGroupIngress", "2016-11-15", &p, &out));
    T_STR_EQ(fsg_buf_cstr(&out),
             "Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-0123456789abcdef0"
             "&IpPermissions.1.IpRanges.1.CidrIp=10.20.30.40%2F32"
             "&IpPermissions.1.IpRanges.1.Description=seg%3Aapp-tier%20%2810.20.30.40%20to%205432%29"
             "&Empty=&Uni=%C3%A9%2B~");
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    T_ERR(FSG_E_INVALID_ARG, fsg_aws_params_addf(&p, "v", "%s", longname));
    fsg_buf_clean_up(&out);
    fsg_aws_params_clean_up(&p);
    fsg_aws_params_clean_up(&p);
    fsg_aws_params_clean_up(NULL);
    return 0;
}

static int s_client_options(void)
{
    struct fsg_aws_client *c = NULL;
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_INVALID_ARG, fsg_aws_client_new(&(struct fsg_aws_client_options){ 0 }, &c, &err));
    T_ERR(FSG_E_INVALID_ARG, fsg_aws_client_new(NULL, &c, &err));
    T_CHECK(c == NULL);
    struct s_creds cr = { 0 };
    struct fsg_aws_client_options o = { .service = "s3", .region = "eu-west-1",
                                        .endpoint_url = "http://127.0.0.1:9000///",
                                        .path_style = true, .creds_fn = s_creds_fn,
                                        .creds_userdata = &cr };
    T_OK(fsg_aws_client_new(&o, &c, &err)); /* its own libcurl client */
    T_STR_EQ(fsg_aws_client_endpoint(c), "http://127.0.0.1:9000");
    T_STR_EQ(fsg_aws_client_region(c), "eu-west-1");
    T_STR_EQ(fsg_aws_client_service(c), "s3");
    T_CHECK(fsg_aws_client_path_style(c));
    fsg_aws_client_destroy(c);
    fsg_aws_client_destroy(NULL);
    struct fsg_aws_request bad = { .method = "GET" };
    struct fsg_http_response resp = { 0 };
    T_ERR(FSG_E_INVALID_ARG, fsg_aws_request(NULL, &bad, &resp, &err));
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "query_503_then_success", s_query_503_then_success },
        { "query_known_answer", s_query_known_answer },
        { "s3_known_answer", s_s3_known_answer },
        { "expired_token_refreshes_once", s_expired_token_refreshes_once },
        { "classification", s_classification },
        { "error_detail", s_error_detail },
        { "network_error_retried", s_network_error_retried },
        { "stop_holds_mutating_retries", s_stop_holds_mutating_retries },
        { "partial_body_not_retried", s_partial_body_not_retried },
        { "throttled_gives_up", s_throttled_gives_up },
        { "bad_answers_and_creds", s_bad_answers_and_creds },
        { "query_encoding", s_query_encoding },
        { "client_options", s_client_options },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
