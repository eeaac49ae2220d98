/* lib/aws/secrets over the scripted transport: the JSON-protocol requests (target, content
 * type, body, signing scope), the answers, the value's format, the cache and its refresh. */
#include <stdio.h>
#include <string.h>

#include "lib/aws/aws.h"
#include "lib/aws/secrets.h"
#include "lib/core/redact.h"
#include "tests/harness/test.h"
#include "tests/unit/http_script.h"

struct s_fixture {
    struct t_http_script script;
    struct fsg_http_client *http;
    struct fsg_aws_client *aws;
    struct fsg_credentials creds;
};

static int s_setup(struct s_fixture *f, const char *service, const struct t_http_exchange *ex,
                   size_t n)
{
    memset(f, 0, sizeof *f);
    T_OK(t_creds_init(&f->creds, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL));
    t_http_script_init(&f->script, ex, n);
    f->http = t_http_script_client(&f->script);
    struct fsg_aws_client_options o = {
        .service = service, .region = "eu-west-1", .endpoint_url = "http://aws.test",
        .http = f->http, .creds_fn = t_static_creds_fn, .creds_userdata = &f->creds,
        .retry = { .max_attempts = 3, .sleep = t_no_sleep },
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

static int s_get_secret_value(void)
{
    static const struct t_http_exchange ex[] = {
        { .method = "POST", .url = "http://aws.test/", .status = 200,
          .headers = "Content-Type: application/x-amz-json-1.1\n",
          .body = "{\"ARN\":\"arn:aws:secretsmanager:eu-west-1:1:secret:pce-AbCd\",\"Name\":\"pce\","
                  "\"SecretString\":\"{\\\"key\\\": \\\"api_1a2b\\\", \\\"secret\\\": \\\"s3cr3t-t0k3n\\\"}\","
                  "\"VersionId\":\"v1\"}" },
        { .status = 400, .headers = "Content-Type: application/x-amz-json-1.1\n",
          .body = "{\"__type\":\"ResourceNotFoundException\",\"message\":\"Secrets Manager can't "
                  "find the specified secret.\"}" },
        { .status = 200, .body = "{\"Name\":\"bin\",\"SecretBinary\":\"AAEC\"}" },
    };
    struct s_fixture f;
    if (s_setup(&f, "secretsmanager", ex, 3) != 0) {
        return 1;
    }
    struct fsg_buf v = FSG_BUF_INIT;
    struct fsg_error err = { 0 };
    T_OK(fsg_secrets_get_secret_value(f.aws, "pce", &v, &err));
    T_STR_EQ(fsg_buf_cstr(&v), "{\"key\": \"api_1a2b\", \"secret\": \"s3cr3t-t0k3n\"}");
    T_STR_EQ(t_http_script_header(&f.script, 0, "X-Amz-Target"), "secretsmanager.GetSecretValue");
    T_STR_EQ(t_http_script_header(&f.script, 0, "Content-Type"), "application/x-amz-json-1.1");
    T_STR_EQ(fsg_buf_cstr(&f.script.rec[0].body), "{\"SecretId\":\"pce\"}");
    T_CHECK(strstr(t_http_script_header(&f.script, 0, "Authorization"),
                   "/eu-west-1/secretsmanager/aws4_request") != NULL);
    fsg_buf_clean_up_secure(&v);

    T_ERR(FSG_E_NOT_FOUND, fsg_secrets_get_secret_value(f.aws, "missing", &v, &err));
    T_STR_EQ(err.service_code, "ResourceNotFoundException");
    T_CHECK(strstr(err.msg, "can't find the specified secret") != NULL);
    T_CHECK(err.http_status == 400);

    T_ERR(FSG_E_PARSE, fsg_secrets_get_secret_value(f.aws, "bin", &v, &err));
    T_CHECK(strstr(err.msg, "SecretBinary") != NULL);
    T_CHECK(!f.script.mismatch);
    fsg_buf_clean_up_secure(&v);
    s_teardown(&f);
    return 0;
}

static int s_get_parameter(void)
{
    static const struct t_http_exchange ex[] = {
        { .method = "POST", .url = "http://aws.test/", .status = 200,
          .body = "{\"Parameter\":{\"Name\":\"/flowseg/pce\",\"Type\":\"SecureString\","
                  "\"Value\":\"plain-secret-value\",\"Version\":1}}" },
        { .status = 400, .headers = "X-Amzn-ErrorType: ParameterNotFound:http://internal\n",
          .body = "{}" },
    };
    struct s_fixture f;
    if (s_setup(&f, "ssm", ex, 2) != 0) {
        return 1;
    }
    struct fsg_buf v = FSG_BUF_INIT;
    struct fsg_error err = { 0 };
    T_OK(fsg_ssm_get_parameter(f.aws, "/flowseg/pce", &v, &err));
    T_STR_EQ(fsg_buf_cstr(&v), "plain-secret-value");
    T_STR_EQ(t_http_script_header(&f.script, 0, "X-Amz-Target"), "AmazonSSM.GetParameter");
    T_STR_EQ(fsg_buf_cstr(&f.script.rec[0].body),
             "{\"Name\":\"/flowseg/pce\",\"WithDecryption\":true}");
    T_CHECK(strstr(t_http_script_header(&f.script, 0, "Authorization"), "/eu-west-1/ssm/") != NULL);
    T_ERR(FSG_E_NOT_FOUND, fsg_ssm_get_parameter(f.aws, "/nope", &v, &err));
    T_STR_EQ(err.service_code, "ParameterNotFound");
    fsg_buf_clean_up_secure(&v);
    s_teardown(&f);
    return 0;
}

static int s_value_format(void)
{
    static const struct {
        const char *value;
        const char *fallback;
        enum fsg_err rc;
        const char *key;
        const char *secret;
    } cases[] = {
        { "{\"key\": \"api_1\", \"secret\": \"sv-1\"}", NULL, FSG_OK, "api_1", "sv-1" },
        { "{\"api_key\": \"api_2\", \"api_secret\": \"sv-2\"}", "api_x", FSG_OK, "api_2", "sv-2" },
        { "{\"auth_username\": \"api_3\", \"secret\": \"sv-3\", \"href\": \"/users/1/api_keys/3\"}",
          NULL, FSG_OK, "api_3", "sv-3" },
        { " {\"secret\": \"sv-4\"}\n", "api_env", FSG_OK, "api_env", "sv-4" },
        { "  sv-5-plain\n", "api_env", FSG_OK, "api_env", "sv-5-plain" },
        { "sv-6-plain", NULL, FSG_E_INVALID_ARG, NULL, NULL },
        { "{\"key\": \"api_7\"}", NULL, FSG_E_PARSE, NULL, NULL },
        { "{\"key\": \"api_8\", \"secret\": \"\"}", NULL, FSG_E_PARSE, NULL, NULL },
        { "{\"key\": \"api_9\", \"secret\": \"sv-9-broken", NULL, FSG_E_PARSE, NULL, NULL },
        { "   ", "api_env", FSG_E_PARSE, NULL, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *k = NULL, *s = NULL;
        struct fsg_error err = { 0 };
        enum fsg_err rc = fsg_secret_parse_pair(fsg_span_from_cstr(cases[i].value),
                                                cases[i].fallback, "SSM parameter p", &k, &s, &err);
        if (rc != cases[i].rc) {
            fprintf(stderr, "case %zu: %s (%s)\n", i, fsg_err_name(rc), err.msg);
            return 1;
        }
        if (rc == FSG_OK) {
            T_STR_EQ(k, cases[i].key);
            T_STR_EQ(s, cases[i].secret);
        } else {
            T_CHECK(strstr(err.msg, "SSM parameter p") != NULL);
            T_CHECK(strstr(err.msg, "sv-") == NULL); /* never the value */
        }
        fsg_secret_free(k);
        fsg_secret_free(s);
    }
    return 0;
}

/* Fetched once, cached, fetched again on refresh (after a PCE 401); the value is redacted. */
static int s_source_caches_and_refreshes(void)
{
    static const struct t_http_exchange ex[] = {
        { .status = 200, .body = "{\"SecretString\":\"{\\\"key\\\":\\\"api_1\\\",\\\"secret\\\":\\\"first-secret\\\"}\"}" },
        { .status = 200, .body = "{\"SecretString\":\"{\\\"key\\\":\\\"api_1\\\",\\\"secret\\\":\\\"rotated-secret\\\"}\"}" },
    };
    struct s_fixture f;
    if (s_setup(&f, "secretsmanager", ex, 2) != 0) {
        return 1;
    }
    struct fsg_secret_source_options o = { .secret_id = "arn:aws:secretsmanager:eu-west-1:1:secret:pce",
                                           .client = f.aws };
    struct fsg_secret_source *src = NULL;
    struct fsg_error err = { 0 };
    T_OK(fsg_secret_source_new(&o, &src, &err));
    T_STR_EQ(fsg_secret_source_name(src), "Secrets Manager secret arn:aws:secretsmanager:eu-west-1:1:secret:pce");
    char *k = NULL, *s = NULL;
    T_OK(fsg_secret_source_get(src, false, &k, &s, &err));
    T_STR_EQ(s, "first-secret");
    fsg_secret_free(k);
    fsg_secret_free(s);
    T_OK(fsg_secret_source_get(src, false, &k, &s, &err));
    T_CHECK(fsg_secret_source_fetches(src) == 1 && f.script.next == 1);
    fsg_secret_free(k);
    fsg_secret_free(s);
    T_OK(fsg_secret_source_get(src, true, &k, &s, &err));
    T_STR_EQ(s, "rotated-secret");
    T_CHECK(fsg_secret_source_fetches(src) == 2);
    fsg_secret_free(k);
    fsg_secret_free(s);
    /* a fetched secret echoed in a message is redacted */
    fsg_error_set(&err, FSG_E_REMOTE, "server said: rotated-secret is wrong");
    T_STR_EQ(err.msg, "server said: *** is wrong");
    fsg_redact_clear_secrets();
    /* exactly one of the two sources */
    struct fsg_secret_source_options both = { .secret_id = "a", .parameter = "b", .client = f.aws };
    T_ERR(FSG_E_INVALID_ARG, fsg_secret_source_new(&both, &src, &err));
    struct fsg_secret_source_options none = { .client = f.aws };
    struct fsg_secret_source *other = NULL;
    T_ERR(FSG_E_INVALID_ARG, fsg_secret_source_new(&none, &other, &err));
    fsg_secret_source_destroy(src);
    s_teardown(&f);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "get_secret_value", s_get_secret_value },
        { "get_parameter", s_get_parameter },
        { "value_format", s_value_format },
        { "source_caches_and_refreshes", s_source_caches_and_refreshes },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
