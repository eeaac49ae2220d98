/* lib/core/redact: credentials echoed by servers never reach messages or log lines. */
#include <stdio.h>
#include <string.h>

#include "lib/core/error.h"
#include "lib/core/log.h"
#include "lib/core/redact.h"
#include "tests/harness/test.h"

static const char *s_r(const char *in)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s", in);
    fsg_redact(buf, sizeof buf);
    return buf;
}

static int s_patterns(void)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        /* a PCE 500 body echoing the request headers */
        { "HTTP 500: {\"error\":\"bad\",\"headers\":{\"Authorization\":\"Basic YXBpXzE6c2VjcmV0\"}}",
          "HTTP 500: {\"error\":\"bad\",\"headers\":{\"Authorization\":\"***\"}}" },
        { "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015/us-east-1/s3/aws4_request, "
          "SignedHeaders=host, Signature=abcdef\nnext line",
          "Authorization: ***\nnext line" },
        { "echo: basic auth was Basic dXNlcjpwYXNz and more", "echo: basic auth was Basic *** and more" },
        { "Bearer eyJhbGciOi.payload.sig end", "Bearer *** end" },
        { "<X-Amz-Security-Token>FQoGZXIvYXdzE</X-Amz-Security-Token>",
          "<X-Amz-Security-Token>***</X-Amz-Security-Token>" },
        { "GET /k?X-Amz-Security-Token=FQoG%2Fabc&X-Amz-Signature=f00d HTTP/1.1",
          "GET /k?X-Amz-Security-Token=***&X-Amz-Signature=*** HTTP/1.1" },
        { "x-amz-security-token: FQoGZXIvYXdzE", "x-amz-security-token: ***" },
        { "{\"AccessKeyId\":\"ASIA1\",\"SecretAccessKey\":\"wJalr/K7MDENG\",\"Token\":\"IQoJb3\"}",
          "{\"AccessKeyId\":\"ASIA1\",\"SecretAccessKey\":\"***\",\"Token\":\"***\"}" },
        { "aws_secret_access_key = wJalrXUtnFEMI", "aws_secret_access_key = ***" },
        { "{\"key\": \"api_1\", \"secret\": \"s3cr3t-value\"}", "{\"key\": \"api_1\", \"secret\": \"***\"}" },
        { "pce.url https://api_1:s3cr3t@pce.example.com:8443/api/v2 failed",
          "pce.url https://***@pce.example.com:8443/api/v2 failed" },
        /* escaped JSON inside a JSON string (log fields) stays valid */
        { "\"msg\":\"body {\\\"Authorization\\\": \\\"Basic abcdefgh\\\"}\"",
          "\"msg\":\"body {\\\"Authorization\\\": \\\"***\\\"}\"" },
        /* the scheme in any case, even glued to a word, when the token is long */
        { "authorization-was basic QWxhZGRpbjpvcGVu end", "authorization-was basic *** end" },
        { "{\"h\":\"x\\nBEARER eyJhbGciOiJIUzI1\"}", "{\"h\":\"x\\nBEARER ***\"}" },
        { "user-info with a backslash https://u\\x:pw@host/", "user-info with a backslash https://***@host/" },
        /* a token that ends the text (the scan stops at its end: ASan) */
        { "echo Basic dXNlcjpwYXNz", "echo Basic ***" },
        /* ordinary text is left alone */
        { "S3 ListObjectsV2: truncated page without a new continuation token",
          "S3 ListObjectsV2: truncated page without a new continuation token" },
        { "the PCE secret comes from PCE_API_SECRET", "the PCE secret comes from PCE_API_SECRET" },
        { "NextToken=abc&continuation-token=def", "NextToken=abc&continuation-token=def" },
        { "s3://bucket/key@2024", "s3://bucket/key@2024" },
        { "mailto a@b via https://host/x@y", "mailto a@b via https://host/x@y" },
        { "Secrets Manager secret arn:aws:secretsmanager:eu-west-1:1:secret:flowseg/pce-AbCd",
          "Secrets Manager secret arn:aws:secretsmanager:eu-west-1:1:secret:flowseg/pce-AbCd" },
        { "", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = s_r(cases[i].in);
        if (strcmp(got, cases[i].out) != 0) {
            fprintf(stderr, "case %zu:\n  in:   %s\n  got:  %s\n  want: %s\n", i, cases[i].in, got,
                    cases[i].out);
            return 1;
        }
    }
    return 0;
}

/* fsg_redact_copy redacts the whole text, then cuts: a credential at the cut leaves nothing. */
static int s_copy_redacts_before_cut(void)
{
    char out[16];
    fsg_redact_copy("0123456 Basic dXNlcjpwYXNz", out, sizeof out);
    T_STR_EQ(out, "0123456 Basic *");
    T_OK(fsg_redact_add_secret("p4ssw0rd-value"));
    fsg_redact_copy("0123456789abcp4ssw0rd-value", out, sizeof out);
    T_STR_EQ(out, "0123456789abc**");
    fsg_redact_copy(NULL, out, sizeof out);
    T_STR_EQ(out, "");
    fsg_redact_clear_secrets();
    return 0;
}

static int s_registered_secrets(void)
{
    T_OK(fsg_redact_add_secret("p4ssw0rd-value"));
    T_OK(fsg_redact_add_secret("abc")); /* too short: ignored, not an error */
    T_STR_EQ(s_r("the server said p4ssw0rd-value is wrong (abc)"), "the server said *** is wrong (abc)");
    /* a small buffer: the result is cut, still terminated, and never shows the secret */
    char small[12] = "xp4ssw0rd-v";
    fsg_redact(small, sizeof small);
    T_CHECK(strstr(small, "p4ss") == NULL);
    fsg_redact_clear_secrets();
    T_STR_EQ(s_r("p4ssw0rd-value"), "p4ssw0rd-value");
    /* Many more than the first allocation (16): none is ever forgotten. */
    for (unsigned i = 0; i < 40; i++) {
        char v[32];
        snprintf(v, sizeof v, "secret-number-%u", i);
        T_OK(fsg_redact_add_secret(v));
    }
    T_OK(fsg_redact_add_secret("secret-number-0")); /* known: registered once */
    T_OK(fsg_redact_add_secret("one-more-secret"));
    T_STR_EQ(s_r("one-more-secret secret-number-1 secret-number-0"), "*** *** ***");
    for (unsigned i = 0; i < 40; i++) {
        char v[32];
        snprintf(v, sizeof v, "[secret-number-%u]", i);
        T_STR_EQ(s_r(v), "[***]");
    }
    fsg_redact_clear_secrets();
    return 0;
}

/* A pattern's match ends at its own stop character (',' for a label's value, '!' for a Bearer
 * token, the first '@' for user-info): a registered secret that starts inside the match must
 * not leave its tail in clear. And user-info runs to the LAST '@' of the authority. */
static int s_secrets_inside_patterns(void)
{
    static const struct {
        const char *secret; /* registered for the case */
        const char *in;
        const char *out;
    } cases[] = {
        { "abcd,efgh1234", "password=abcd,efgh1234 next", "password=*** next" },
        { "abcd,efgh1234", "secret=\"abcd,efgh1234\"", "secret=\"***\"" },
        { "abcd,efgh1234", "{\"Token\": \"abcd,efgh1234\"}", "{\"Token\": \"***\"}" },
        { "QQQQZq9!xyzw7777", "Bearer QQQQZq9!xyzw7777 end", "Bearer *** end" },
        { "QQQQZq9!xyzw7777", "Authorization: Basic QQQQZq9!xyzw7777", "Authorization: ***" },
        { "pa@ss-word99", "https://u:pa@ss-word99@host/x", "https://***@host/x" },
        /* a secret masked first inside a token: the token is still masked whole */
        { "SECRETVALUE1", "Bearer SECRETVALUE1.tailTOKENpart end", "Bearer *** end" },
        { "SECRETVALUE1", "basic SECRETVALUE1xyzabcdef", "basic ***" },
        { "abcdEFGH", "Bearer abcdEFGHijkl", "Bearer ***" },
        /* not registered: user-info still ends at the last '@' before '/', '?' or '#' */
        { NULL, "https://u:pa@ss-word99@host/x@y", "https://***@host/x@y" },
        { NULL, "https://u:p@w@host?q=a@b", "https://***@host?q=a@b" },
        { NULL, "https://u:p@w@host#f@g", "https://***@host#f@g" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].secret != NULL) {
            T_OK(fsg_redact_add_secret(cases[i].secret));
        }
        const char *got = s_r(cases[i].in);
        fsg_redact_clear_secrets();
        if (strcmp(got, cases[i].out) != 0) {
            fprintf(stderr, "case %zu:\n  in:   %s\n  got:  %s\n  want: %s\n", i, cases[i].in, got,
                    cases[i].out);
            return 1;
        }
    }
    return 0;
}

/* Every error message is redacted where it is made: callers need not think about it. */
static int s_errors_are_redacted(void)
{
    struct fsg_error err;
    fsg_error_set(&err, FSG_E_REMOTE, "PCE HTTP 500: %s",
                  "{\"echo\":\"Authorization: Basic YXBpXzE6c2VjcmV0\"}");
    T_CHECK(strstr(err.msg, "YXBpXzE6") == NULL);
    T_CHECK(strstr(err.msg, "Basic ***") != NULL || strstr(err.msg, "Authorization: ***") != NULL);
    fsg_error_set(&err, FSG_E_NETWORK, "connection refused");
    fsg_error_prefix(&err, "https://u:pw@pce:8443: ");
    T_STR_EQ(err.msg, "https://***@pce:8443: connection refused");
    return 0;
}

static char s_logged[4096];

static void s_sink(enum fsg_log_level level, const char *line, void *userdata)
{
    (void)level;
    (void)userdata;
    snprintf(s_logged, sizeof s_logged, "%s", line);
}

static int s_logs_are_redacted(void)
{
    fsg_log_set_sink(s_sink, NULL, FSG_LOG_DEBUG);
    fsg_log(FSG_LOG_WARN, "server echoed X-Amz-Security-Token: %s", "FQoGZXIvYXdzEXAMPLE");
    T_CHECK(strstr(s_logged, "FQoG") == NULL);
    T_CHECK(strstr(s_logged, "X-Amz-Security-Token: ***") != NULL);
    fsg_log_fields(FSG_LOG_INFO, "\"event\":\"x\",\"detail\":\"Authorization: Basic dXNlcjpwYXNz\"");
    T_CHECK(strstr(s_logged, "dXNlcjpw") == NULL);
    T_CHECK(strstr(s_logged, "\"event\":\"x\"") != NULL);
    fsg_log_set_sink(NULL, NULL, FSG_LOG_INFO);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "patterns", s_patterns },
        { "registered_secrets", s_registered_secrets },
        { "secrets_inside_patterns", s_secrets_inside_patterns },
        { "copy_redacts_before_cut", s_copy_redacts_before_cut },
        { "errors_are_redacted", s_errors_are_redacted },
        { "logs_are_redacted", s_logs_are_redacted },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
