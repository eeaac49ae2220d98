/* Credentials chain (lib/creds): environment, shared files, container and IMDSv2 through a
 * scripted transport, expiry and refresh with an injected clock, secrets never in errors, and
 * the same container/IMDS flows over real sockets against a loopback server of our own. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/aws/creds.h"
#include "lib/http/http.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"
#include "tests/unit/http_script.h"

#define T0 1736942400 /* 2025-01-15T12:00:00Z */
#define T_SECRET "container-secret-XYZ"
#define T_TOKEN "container-token-XYZ"
#define T_CREDS_JSON(exp)                                                                          \
    "{\"AccessKeyId\":\"ASIACONTAINER\",\"SecretAccessKey\":\"" T_SECRET "\",\"Token\":\"" T_TOKEN \
    "\",\"Expiration\":\"" exp "\",\"AccountId\":\"123456789012\"}"
#define T_IMDS_JSON(exp)                                                                           \
    "{\"Code\":\"Success\",\"LastUpdated\":\"2025-01-15T11:00:00Z\",\"Type\":\"AWS-HMAC\","        \
    "\"AccessKeyId\":\"ASIAIMDS\",\"SecretAccessKey\":\"imds-secret-XYZ\",\"Token\":\"imds-token-" \
    "XYZ\",\"Expiration\":\"" exp "\"}"
#define T_IMDS "http://169.254.169.254"
#define T_ROLE_PATH "/latest/meta-data/iam/security-credentials/"
#define T_ROLE_URL T_IMDS T_ROLE_PATH

static const char *const s_vars[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "AWS_EC2_METADATA_V1_DISABLED",
};

static char s_dir[256];
static char s_cred_file[300];
static char s_conf_file[300];
static char s_token_file[300];

/* A clean environment: shared files in a temp dir (absent until written), IMDS disabled. */
static void t_reset(void)
{
    for (size_t i = 0; i < sizeof s_vars / sizeof s_vars[0]; i++) {
        unsetenv(s_vars[i]);
    }
    if (s_dir[0] == '\0') {
        snprintf(s_dir, sizeof s_dir, "/tmp/fsg_creds_XXXXXX");
        if (mkdtemp(s_dir) == NULL) {
            abort();
        }
        snprintf(s_cred_file, sizeof s_cred_file, "%s/credentials", s_dir);
        snprintf(s_conf_file, sizeof s_conf_file, "%s/config", s_dir);
        snprintf(s_token_file, sizeof s_token_file, "%s/token", s_dir);
    }
    unlink(s_cred_file);
    unlink(s_conf_file);
    unlink(s_token_file);
    setenv("AWS_SHARED_CREDENTIALS_FILE", s_cred_file, 1);
    setenv("AWS_CONFIG_FILE", s_conf_file, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static int t_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    T_CHECK(f != NULL);
    T_CHECK(fputs(text, f) >= 0);
    T_CHECK(fclose(f) == 0);
    return 0;
}

/* The error text must not contain any of the secrets of these tests. */
static bool t_no_secret(const struct fsg_error *err)
{
    static const char *const secrets[] = { T_SECRET, T_TOKEN, "env-secret", "file-secret",
                                           "imds-secret", "auth-token-XYZ", "imds-token-XYZ",
                                           "IMDS-SESSION" };
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        if (strstr(err->msg, secrets[i]) != NULL) {
            fprintf(stderr, "  secret leaked into error: %s\n", err->msg);
            return false;
        }
    }
    return true;
}

/* Provider over a script; returns 0 on success. */
struct t_setup {
    struct t_http_script script;
    struct fsg_http_client *client;
    struct fsg_creds_provider *p;
};

static int t_setup(struct t_setup *s, const struct t_http_exchange *ex, size_t n,
                   const char *profile)
{
    t_http_script_init(&s->script, ex, n);
    s->client = t_http_script_client(&s->script);
    T_CHECK(s->client != NULL);
    struct fsg_creds_options o = { .http = s->client, .profile = profile };
    T_OK(fsg_creds_provider_new_default(&o, &s->p, NULL));
    return 0;
}

static void t_teardown(struct t_setup *s)
{
    fsg_creds_provider_destroy(s->p);
    fsg_http_client_destroy(s->client);
    t_http_script_clean_up(&s->script);
}

static int t_expect_creds(struct fsg_creds_provider *p, time_t now, const char *akid,
                          const char *secret, const char *token, const char *source)
{
    const struct fsg_credentials *c = NULL;
    struct fsg_error err = { 0 };
    enum fsg_err rc = fsg_creds_get(p, now, &c, &err);
    if (rc != FSG_OK) {
        fprintf(stderr, "  fsg_creds_get: %s\n", err.msg);
    }
    T_OK(rc);
    T_STR_EQ(fsg_buf_cstr(&c->access_key_id), akid);
    T_STR_EQ(fsg_buf_cstr(&c->secret_access_key), secret);
    T_STR_EQ(fsg_buf_cstr(&c->session_token), token);
    T_STR_EQ(c->source, source);
    return 0;
}

/* ---- environment ---------------------------------------------------------------------------- */

static int t_env(void)
{
    struct t_setup s;
    struct fsg_error err;
    const struct fsg_credentials *c;
    t_reset();
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_CHECK(t_expect_creds(s.p, T0, "AKIDENV", "env-secret", "", "env") == 0);
    T_OK(fsg_creds_get(s.p, T0, &c, NULL));
    T_CHECK(c->expiration_s == 0);
    t_teardown(&s);

    /* session token, legacy name, expiration */
    setenv("AWS_SECURITY_TOKEN", "legacy-token", 1);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_CHECK(t_expect_creds(s.p, T0, "AKIDENV", "env-secret", "legacy-token", "env") == 0);
    t_teardown(&s);
    setenv("AWS_SESSION_TOKEN", "env-token", 1);
    setenv("AWS_CREDENTIAL_EXPIRATION", "2025-01-15T13:00:00Z", 1);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_CHECK(t_expect_creds(s.p, T0, "AKIDENV", "env-secret", "env-token", "env") == 0);
    T_OK(fsg_creds_get(s.p, T0, &c, NULL));
    T_CHECK(c->expiration_s == T0 + 3600);
    /* expired: refresh re-reads the (unchanged) environment and reports it expired */
    T_ERR(FSG_E_AUTH, fsg_creds_get(s.p, T0 + 7200, &c, &err));
    T_CHECK(strstr(err.msg, "expired") != NULL && t_no_secret(&err));
    t_teardown(&s);

    setenv("AWS_CREDENTIAL_EXPIRATION", "tomorrow", 1);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_ERR(FSG_E_PARSE, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "AWS_CREDENTIAL_EXPIRATION") != NULL);
    t_teardown(&s);

    /* one half of the pair is an error, naming the missing variable */
    t_reset();
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_ERR(FSG_E_INVALID_ARG, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "AWS_SECRET_ACCESS_KEY is not") != NULL);
    t_teardown(&s);
    t_reset();
    setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_ERR(FSG_E_INVALID_ARG, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "AWS_ACCESS_KEY_ID is not") != NULL && t_no_secret(&err));
    t_teardown(&s);
    return 0;
}

/* ---- shared files ---------------------------------------------------------------------------- */

static int t_profiles(void)
{
    struct t_setup s;
    struct fsg_error err;
    const struct fsg_credentials *c;
    t_reset();
    T_CHECK(t_write(s_cred_file, "[default]\naws_access_key_id = AKIDDEFAULT\n"
                                 "aws_secret_access_key = file-secret-default\n"
                                 "[dev]\naws_access_key_id=AKIDDEV\n"
                                 "aws_secret_access_key=file-secret-dev\n"
                                 "aws_session_token=file-token-dev\n") == 0);
    T_CHECK(t_write(s_conf_file, "[profile cfg]\naws_access_key_id = AKIDCFG\n"
                                 "aws_secret_access_key = file-secret-cfg\n"
                                 "[profile dev]\naws_access_key_id = AKIDIGNORED\n"
                                 "aws_secret_access_key = ignored\n"
                                 "[profile role]\nrole_arn = arn:aws:iam::1:role/x\n"
                                 "source_profile = default\n"
                                 "[profile regiononly]\nregion = us-east-1\n") == 0);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_CHECK(t_expect_creds(s.p, T0, "AKIDDEFAULT", "file-secret-default", "", "profile") == 0);
    t_teardown(&s);
    setenv("AWS_PROFILE", "dev", 1); /* credentials file wins over config */
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_CHECK(t_expect_creds(s.p, T0, "AKIDDEV", "file-secret-dev", "file-token-dev", "profile")
            == 0);
    t_teardown(&s);
    T_CHECK(t_setup(&s, NULL, 0, "cfg") == 0); /* options.profile beats AWS_PROFILE */
    T_CHECK(t_expect_creds(s.p, T0, "AKIDCFG", "file-secret-cfg", "", "profile") == 0);
    t_teardown(&s);

    /* unsupported provider kinds say so */
    T_CHECK(t_setup(&s, NULL, 0, "role") == 0);
    T_ERR(FSG_E_INVALID_ARG, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "role_arn") != NULL && strstr(err.msg, "'role'") != NULL);
    t_teardown(&s);

    /* an explicit profile that exists nowhere */
    setenv("AWS_PROFILE", "typo", 1);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_ERR(FSG_E_NOT_FOUND, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "'typo'") != NULL && strstr(err.msg, "AWS_PROFILE") != NULL);
    T_CHECK(strstr(err.msg, s_cred_file) != NULL && strstr(err.msg, s_conf_file) != NULL);
    t_teardown(&s);

    /* a profile without keys falls through to the next sources: here none */
    setenv("AWS_PROFILE", "regiononly", 1);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_ERR(FSG_E_NOT_FOUND, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "no AWS credentials found (looked in: environment") != NULL);
    T_CHECK(strstr(err.msg, "shared files") != NULL && strstr(err.msg, "container (") != NULL);
    T_CHECK(strstr(err.msg, "IMDS (disabled by AWS_EC2_METADATA_DISABLED)") != NULL);
    t_teardown(&s);

    /* partial pairs name the file, the profile and the missing key, never the value */
    t_reset();
    T_CHECK(t_write(s_cred_file, "[default]\naws_secret_access_key = file-secret-lonely\n") == 0);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_ERR(FSG_E_INVALID_ARG, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "aws_access_key_id") != NULL && strstr(err.msg, s_cred_file) != NULL);
    T_CHECK(strstr(err.msg, "file-secret-lonely") == NULL);
    t_teardown(&s);
    T_CHECK(t_write(s_cred_file, "") == 0);
    T_CHECK(t_write(s_conf_file, "[default]\naws_access_key_id = AKIDHALF\n") == 0);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_ERR(FSG_E_INVALID_ARG, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "no aws_secret_access_key") != NULL
            && strstr(err.msg, s_conf_file) != NULL);
    t_teardown(&s);

    /* environment beats files */
    T_CHECK(t_write(s_conf_file, "[default]\naws_access_key_id = AKIDF\n"
                                 "aws_secret_access_key = file-secret\n") == 0);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_CHECK(t_expect_creds(s.p, T0, "AKIDENV", "env-secret", "", "env") == 0);
    t_teardown(&s);

    /* web identity is refused rather than skipped */
    t_reset();
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token", 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/x", 1);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_ERR(FSG_E_INVALID_ARG, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "AWS_WEB_IDENTITY_TOKEN_FILE") != NULL);
    t_teardown(&s);
    return 0;
}

/* ---- container ---------------------------------------------------------------------------- */

static int t_container_relative(void)
{
    static const struct t_http_exchange ex[] = {
        { .method = "GET", .url = "http://169.254.170.2/v2/credentials/abc", .status = 200,
          .body = T_CREDS_JSON("2025-01-15T18:00:00Z") },
    };
    struct t_setup s;
    const struct fsg_credentials *c;
    t_reset();
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc", 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "auth-token-XYZ", 1);
    T_CHECK(t_setup(&s, ex, 1, NULL) == 0);
    T_CHECK(t_expect_creds(s.p, T0, "ASIACONTAINER", T_SECRET, T_TOKEN, "container") == 0);
    T_OK(fsg_creds_get(s.p, T0, &c, NULL));
    T_CHECK(c->expiration_s == T0 + 6 * 3600);
    T_CHECK(!s.script.mismatch && s.script.next == 1);
    T_STR_EQ(t_http_script_header(&s.script, 0, "Authorization"), "auth-token-XYZ");
    T_STR_EQ(t_http_script_header(&s.script, 0, "Accept"), "application/json");
    t_teardown(&s);
    return 0;
}

static int t_container_full_uri(void)
{
    static const struct t_http_exchange ex[] = {
        { .method = "GET", .url = "http://127.0.0.1:8080/creds", .status = 503, .body = "busy" },
        { .method = "GET", .url = "http://127.0.0.1:8080/creds", .fail = FSG_E_NETWORK },
        { .method = "GET", .url = "http://127.0.0.1:8080/creds", .status = 200,
          .body = T_CREDS_JSON("2025-01-15T18:00:00Z") },
        { .method = "GET", .url = "http://127.0.0.1:8080/creds", .status = 200,
          .body = T_CREDS_JSON("2025-01-16T00:00:00.000+01:00") },
    };
    struct t_setup s;
    const struct fsg_credentials *c;
    t_reset();
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:8080/creds", 1);
    T_CHECK(t_write(s_token_file, "auth-token-XYZ\n") == 0); /* trailing newline dropped */
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", s_token_file, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored-when-file-set", 1);
    T_CHECK(t_setup(&s, ex, 4, NULL) == 0);
    /* 503 and a network error are retried; the third attempt succeeds */
    T_CHECK(t_expect_creds(s.p, T0, "ASIACONTAINER", T_SECRET, T_TOKEN, "container") == 0);
    T_CHECK(s.script.next == 3);
    T_STR_EQ(t_http_script_header(&s.script, 2, "Authorization"), "auth-token-XYZ");
    /* the token file is read again on refresh */
    T_CHECK(t_write(s_token_file, "auth-token-2") == 0);
    T_OK(fsg_creds_get(s.p, T0 + 6 * 3600 - 60, &c, NULL));
    T_CHECK(s.script.next == 4);
    T_STR_EQ(t_http_script_header(&s.script, 3, "Authorization"), "auth-token-2");
    T_CHECK(c->expiration_s == T0 + 11 * 3600); /* +01:00 offset honoured */
    T_CHECK(!s.script.mismatch);
    t_teardown(&s);
    return 0;
}

static int t_container_errors(void)
{
    static const struct t_http_exchange forbidden[] = {
        { .method = "GET", .status = 403, .body = "{\"message\":\"no\"}" },
    };
    static const struct t_http_exchange down[] = {
        { .method = "GET", .fail = FSG_E_NETWORK },
        { .method = "GET", .status = 500, .body = "oops" },
        { .method = "GET", .fail = FSG_E_NETWORK },
    };
    static const struct t_http_exchange bad_json[] = {
        { .method = "GET", .status = 200,
          .body = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" T_SECRET "\"" },
        { .method = "GET", .status = 200,
          .body = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" T_SECRET "\"}" },
        { .method = "GET", .status = 200,
          .body = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" T_SECRET
                  "\",\"Expiration\":\"soon\"}" },
    };
    struct t_setup s;
    struct fsg_error err;
    const struct fsg_credentials *c;

    /* FULL_URI host rules */
    static const char *const refused[] = { "http://example.com/creds", "http://10.0.0.1/creds",
                                           "ftp://127.0.0.1/x", "http://169.254.169.254/x" };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        t_reset();
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", refused[i], 1);
        T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
        T_ERR(FSG_E_INVALID_ARG, fsg_creds_get(s.p, T0, &c, &err));
        T_CHECK(strstr(err.msg, "AWS_CONTAINER_CREDENTIALS_FULL_URI") != NULL);
        T_CHECK(s.script.n_rec == 0);
        t_teardown(&s);
    }
    static const char *const allowed[] = { "https://creds.example.com/x", "http://127.0.0.2/x",
                                           "http://[::1]:9/x",
                                           "http://169.254.170.23/v1/credentials",
                                           "http://[fd00:ec2::23]/v1/credentials",
                                           "http://localhost:80/x" };
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        static const struct t_http_exchange ok[] = {
            { .method = "GET", .status = 200, .body = T_CREDS_JSON("2025-01-15T18:00:00Z") },
        };
        t_reset();
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", allowed[i], 1);
        T_CHECK(t_setup(&s, ok, 1, NULL) == 0);
        T_OK(fsg_creds_get(s.p, T0, &c, &err));
        T_STR_EQ(s.script.rec[0].url, allowed[i]);
        t_teardown(&s);
    }

    t_reset();
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "v2/no-slash", 1);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_ERR(FSG_E_INVALID_ARG, fsg_creds_get(s.p, T0, &c, &err));
    t_teardown(&s);

    /* a token with a line break is never sent */
    t_reset();
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x", 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "auth-token-XYZ\r\nX-Evil: 1", 1);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_ERR(FSG_E_INVALID_ARG, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(s.script.n_rec == 0 && t_no_secret(&err));
    t_teardown(&s);
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/nonexistent/token", 1);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_ERR(FSG_E_NOT_FOUND, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") != NULL);
    t_teardown(&s);
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");

    T_CHECK(t_setup(&s, forbidden, 1, NULL) == 0);
    T_ERR(FSG_E_AUTH, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(err.http_status == 403 && strstr(err.msg, "HTTP 403") != NULL);
    T_CHECK(strstr(err.msg, "/v2/x") == NULL); /* the relative URI is a credential handle */
    t_teardown(&s);

    T_CHECK(t_setup(&s, down, 3, NULL) == 0);
    T_ERR(FSG_E_NETWORK, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(s.script.next == 3 && strstr(err.msg, "container credentials") != NULL);
    t_teardown(&s);

    T_CHECK(t_setup(&s, bad_json, 3, NULL) == 0);
    T_ERR(FSG_E_PARSE, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "not a JSON object") != NULL && t_no_secret(&err));
    T_ERR(FSG_E_PARSE, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "no Expiration") != NULL && t_no_secret(&err));
    T_ERR(FSG_E_PARSE, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "'soon'") != NULL && t_no_secret(&err));
    t_teardown(&s);
    return 0;
}

/* ---- IMDSv2 ------------------------------------------------------------------------------- */

static int t_imds(void)
{
    static const struct t_http_exchange ex[] = {
        { .method = "PUT", .url = T_IMDS "/latest/api/token", .status = 200,
          .body = "IMDS-SESSION-1\n" },
        { .method = "GET", .url = T_ROLE_URL, .status = 200, .body = "flowseg-role\n" },
        { .method = "GET", .url = T_ROLE_URL "flowseg-role", .status = 200,
          .body = T_IMDS_JSON("2025-01-15T18:00:00Z") },
    };
    struct t_setup s;
    t_reset();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    T_CHECK(t_setup(&s, ex, 3, NULL) == 0);
    T_CHECK(t_expect_creds(s.p, T0, "ASIAIMDS", "imds-secret-XYZ", "imds-token-XYZ", "imds") == 0);
    T_CHECK(!s.script.mismatch && s.script.next == 3);
    T_STR_EQ(t_http_script_header(&s.script, 0, "X-aws-ec2-metadata-token-ttl-seconds"), "21600");
    T_CHECK(t_http_script_header(&s.script, 0, "X-aws-ec2-metadata-token") == NULL);
    T_STR_EQ(t_http_script_header(&s.script, 1, "X-aws-ec2-metadata-token"), "IMDS-SESSION-1");
    T_STR_EQ(t_http_script_header(&s.script, 2, "X-aws-ec2-metadata-token"), "IMDS-SESSION-1");
    t_teardown(&s);
    return 0;
}

static int t_imds_variants(void)
{
    static const struct t_http_exchange v1[] = {
        { .method = "PUT", .url = "http://[fd00:ec2::254]/latest/api/token", .status = 405,
          .body = "" },
        { .method = "GET",
          .url = "http://[fd00:ec2::254]/latest/meta-data/iam/security-credentials/", .status = 200,
          .body = "r" },
        { .method = "GET",
          .url = "http://[fd00:ec2::254]/latest/meta-data/iam/security-credentials/r",
          .status = 200, .body = T_IMDS_JSON("2025-01-15T18:00:00Z") },
    };
    static const struct t_http_exchange expired_token[] = {
        { .method = "PUT", .url = "http://127.0.0.1:1338/latest/api/token", .status = 200,
          .body = "IMDS-SESSION-1" },
        { .method = "GET", .url = "http://127.0.0.1:1338" T_ROLE_PATH, .status = 401, .body = "" },
        { .method = "PUT", .url = "http://127.0.0.1:1338/latest/api/token", .status = 200,
          .body = "IMDS-SESSION-2" },
        { .method = "GET", .url = "http://127.0.0.1:1338" T_ROLE_PATH, .status = 200, .body = "r" },
        { .method = "GET", .url = "http://127.0.0.1:1338" T_ROLE_PATH "r", .status = 200,
          .body = T_IMDS_JSON("2025-01-15T18:00:00Z") },
    };
    struct t_setup s;
    struct fsg_error err;
    const struct fsg_credentials *c;

    /* IPv6 mode; 405 on the token PUT falls back to IMDSv1 (no token header) */
    t_reset();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6", 1);
    T_CHECK(t_setup(&s, v1, 3, NULL) == 0);
    T_CHECK(t_expect_creds(s.p, T0, "ASIAIMDS", "imds-secret-XYZ", "imds-token-XYZ", "imds") == 0);
    T_CHECK(t_http_script_header(&s.script, 1, "X-aws-ec2-metadata-token") == NULL);
    t_teardown(&s);
    setenv("AWS_EC2_METADATA_V1_DISABLED", "true", 1);
    T_CHECK(t_setup(&s, v1, 1, NULL) == 0);
    T_ERR(FSG_E_AUTH, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "AWS_EC2_METADATA_V1_DISABLED") != NULL);
    t_teardown(&s);

    /* endpoint override (trailing slash), a 401 renews the session token once */
    t_reset();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1338/", 1);
    T_CHECK(t_setup(&s, expired_token, 5, NULL) == 0);
    T_CHECK(t_expect_creds(s.p, T0, "ASIAIMDS", "imds-secret-XYZ", "imds-token-XYZ", "imds") == 0);
    T_CHECK(!s.script.mismatch && s.script.next == 5);
    T_STR_EQ(t_http_script_header(&s.script, 3, "X-aws-ec2-metadata-token"), "IMDS-SESSION-2");
    t_teardown(&s);
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "169.254.169.254", 1);
    T_CHECK(t_setup(&s, NULL, 0, NULL) == 0);
    T_ERR(FSG_E_INVALID_ARG, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "AWS_EC2_METADATA_SERVICE_ENDPOINT") != NULL);
    t_teardown(&s);
    return 0;
}

static int t_imds_errors(void)
{
    static const struct t_http_exchange unreachable[] = {
        { .method = "PUT", .fail = FSG_E_NETWORK },
    };
    static const struct t_http_exchange no_role[] = {
        { .method = "PUT", .status = 200, .body = "IMDS-SESSION" },
        { .method = "GET", .status = 404, .body = "" },
    };
    static const struct t_http_exchange not_success[] = {
        { .method = "PUT", .status = 200, .body = "IMDS-SESSION" },
        { .method = "GET", .status = 200, .body = "r" },
        { .method = "GET", .status = 200,
          .body = "{\"Code\":\"AssumeRoleUnauthorizedAccess\","
                  "\"SecretAccessKey\":\"imds-secret-XYZ\"}" },
    };
    static const struct t_http_exchange bad_token[] = {
        { .method = "PUT", .status = 400, .body = "bad" },
    };
    struct t_setup s;
    struct fsg_error err;
    const struct fsg_credentials *c;
    t_reset();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    T_CHECK(t_setup(&s, unreachable, 1, NULL) == 0);
    T_ERR(FSG_E_NOT_FOUND, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "no AWS credentials found") != NULL);
    T_CHECK(strstr(err.msg, "IMDS (http://169.254.169.254 not reachable)") != NULL);
    t_teardown(&s);
    T_CHECK(t_setup(&s, no_role, 2, NULL) == 0);
    T_ERR(FSG_E_NOT_FOUND, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "no IAM role") != NULL);
    t_teardown(&s);
    T_CHECK(t_setup(&s, not_success, 3, NULL) == 0);
    T_ERR(FSG_E_AUTH, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "AssumeRoleUnauthorizedAccess") != NULL && t_no_secret(&err));
    t_teardown(&s);
    T_CHECK(t_setup(&s, bad_token, 1, NULL) == 0);
    T_ERR(FSG_E_REMOTE, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "HTTP 400") != NULL);
    t_teardown(&s);
    /* the container source comes before IMDS */
    static const struct t_http_exchange container_first[] = {
        { .method = "GET", .url = "http://169.254.170.2/c", .status = 200,
          .body = T_CREDS_JSON("2025-01-15T18:00:00Z") },
    };
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/c", 1);
    T_CHECK(t_setup(&s, container_first, 1, NULL) == 0);
    T_CHECK(t_expect_creds(s.p, T0, "ASIACONTAINER", T_SECRET, T_TOKEN, "container") == 0);
    t_teardown(&s);
    return 0;
}

/* ---- refresh ------------------------------------------------------------------------------ */

static int t_refresh_with_clock(void)
{
    static const struct t_http_exchange ex[] = {
        { .method = "GET", .status = 200,
          .body = T_CREDS_JSON("2025-01-15T13:00:00Z") },  /* T0 + 1h */
        { .method = "GET", .status = 200,
          .body = "{\"AccessKeyId\":\"ASIASECOND\",\"SecretAccessKey\":\"s2\",\"Token\":\"t2\","
          "\"Expiration\":\"2025-01-15T14:00:00Z\"}" },                     /* T0 + 2h */
        { .method = "GET", .status = 500, .body = "down" },
        { .method = "GET", .status = 500, .body = "down" },
        { .method = "GET", .status = 500, .body = "down" },
        { .method = "GET", .status = 500, .body = "down" },
        { .method = "GET", .status = 500, .body = "down" },
        { .method = "GET", .status = 500, .body = "down" },
        { .method = "GET", .status = 500, .body = "down" },
        { .method = "GET", .status = 500, .body = "down" },
        { .method = "GET", .status = 500, .body = "down" },
    };
    struct t_setup s;
    struct fsg_error err;
    const struct fsg_credentials *c;
    t_reset();
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/c", 1);
    T_CHECK(t_setup(&s, ex, sizeof ex / sizeof ex[0], NULL) == 0);
    T_CHECK(t_expect_creds(s.p, T0, "ASIACONTAINER", T_SECRET, T_TOKEN, "container") == 0);
    T_CHECK(s.script.next == 1);
    /* cached until 5 minutes before expiry */
    T_CHECK(t_expect_creds(s.p, T0 + 3600 - 301, "ASIACONTAINER", T_SECRET, T_TOKEN,
                           "container") == 0);
    T_CHECK(s.script.next == 1);
    const struct fsg_credentials *old = NULL;
    T_OK(fsg_creds_get(s.p, T0 + 10, &old, NULL));
    T_CHECK(t_expect_creds(s.p, T0 + 3600 - 300, "ASIASECOND", "s2", "t2", "container") == 0);
    T_CHECK(s.script.next == 2);
    /* the previous generation is still readable through a pointer taken before the refresh */
    T_STR_EQ(fsg_buf_cstr(&old->access_key_id), "ASIACONTAINER");
    /* refresh fails (3 attempts) while the cached ones are valid: keep them ... */
    T_CHECK(t_expect_creds(s.p, T0 + 7200 - 200, "ASIASECOND", "s2", "t2", "container") == 0);
    T_CHECK(s.script.next == 5);
    /* ... and do not hammer the endpoint: no new attempt within 30 s */
    T_CHECK(t_expect_creds(s.p, T0 + 7200 - 180, "ASIASECOND", "s2", "t2", "container") == 0);
    T_CHECK(s.script.next == 5);
    T_CHECK(t_expect_creds(s.p, T0 + 7200 - 170, "ASIASECOND", "s2", "t2", "container") == 0);
    T_CHECK(s.script.next == 8);
    /* once they have expired, the failure is returned */
    T_ERR(FSG_E_REMOTE, fsg_creds_get(s.p, T0 + 7200, &c, &err));
    T_CHECK(s.script.next == 11 && strstr(err.msg, "HTTP 500") != NULL);
    t_teardown(&s);

    /* invalidate: the next get refetches even though the cache is fresh, and a failing
     * refetch is reported instead of silently reusing the rejected credentials */
    static const struct t_http_exchange again[] = {
        { .method = "GET", .status = 200, .body = T_CREDS_JSON("2025-01-15T18:00:00Z") },
        { .method = "GET", .status = 200,
          .body = "{\"AccessKeyId\":\"ASIANEW\",\"SecretAccessKey\":\"s3\","
                  "\"Expiration\":\"2025-01-15T18:00:00Z\"}" },
        { .method = "GET", .status = 403, .body = "" },
    };
    T_CHECK(t_setup(&s, again, 3, NULL) == 0);
    T_CHECK(t_expect_creds(s.p, T0, "ASIACONTAINER", T_SECRET, T_TOKEN, "container") == 0);
    fsg_creds_invalidate(s.p);
    T_CHECK(t_expect_creds(s.p, T0 + 1, "ASIANEW", "s3", "", "container") == 0);
    T_CHECK(t_expect_creds(s.p, T0 + 2, "ASIANEW", "s3", "", "container") == 0);
    T_CHECK(s.script.next == 2);
    fsg_creds_invalidate(s.p);
    T_ERR(FSG_E_AUTH, fsg_creds_get(s.p, T0 + 3, &c, &err));
    T_CHECK(s.script.next == 3);
    fsg_creds_invalidate(NULL);
    t_teardown(&s);

    /* a source that hands out already-expired credentials */
    static const struct t_http_exchange stale[] = {
        { .method = "GET", .status = 200, .body = T_CREDS_JSON("2025-01-15T11:00:00Z") },
    };
    T_CHECK(t_setup(&s, stale, 1, NULL) == 0);
    T_ERR(FSG_E_AUTH, fsg_creds_get(s.p, T0, &c, &err));
    T_CHECK(strstr(err.msg, "container") != NULL && strstr(err.msg, "expired") != NULL);
    t_teardown(&s);
    return 0;
}

struct t_thread_arg {
    struct fsg_creds_provider *p;
    atomic_int failures;
};

static void *t_thread(void *arg)
{
    struct t_thread_arg *a = arg;
    for (int i = 0; i < 200; i++) {
        struct fsg_credentials copy = { 0 };
        if (fsg_creds_get_copy(a->p, T0 + i, &copy, NULL) != FSG_OK
            || strcmp(fsg_buf_cstr(&copy.secret_access_key), T_SECRET) != 0) {
            atomic_fetch_add(&a->failures, 1);
        }
        fsg_credentials_clean_up(&copy);
    }
    return NULL;
}

static int t_threads_and_copies(void)
{
    static const struct t_http_exchange ex[] = {
        { .method = "GET", .status = 200, .body = T_CREDS_JSON("2025-01-15T18:00:00Z") },
    };
    struct t_setup s;
    t_reset();
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/c", 1);
    T_CHECK(t_setup(&s, ex, 1, NULL) == 0);
    struct t_thread_arg arg = { .p = s.p };
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        T_CHECK(pthread_create(&th[i], NULL, t_thread, &arg) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
    }
    T_CHECK(atomic_load(&arg.failures) == 0);
    T_CHECK(s.script.next == 1); /* one fetch for 800 calls */
    t_teardown(&s);

    /* static provider */
    struct fsg_creds_provider *p = NULL;
    struct fsg_error err;
    T_ERR(FSG_E_INVALID_ARG, fsg_creds_provider_new_static("AKID", "", NULL, &p, &err));
    T_OK(fsg_creds_provider_new_static("AKIDSTATIC", "static-secret", NULL, &p, NULL));
    T_CHECK(t_expect_creds(p, T0, "AKIDSTATIC", "static-secret", "", "static") == 0);
    T_CHECK(t_expect_creds(p, T0 + 100000000, "AKIDSTATIC", "static-secret", "", "static") == 0);
    fsg_creds_provider_destroy(p);
    fsg_creds_provider_destroy(NULL);
    T_ERR(FSG_E_INVALID_ARG, fsg_creds_get(NULL, T0, NULL, &err));
    return 0;
}

static int t_parse_time(void)
{
    static const struct {
        const char *in;
        time_t want;
    } ok[] = {
        { "2025-01-15T18:00:00Z", T0 + 6 * 3600 },
        { " 2025-01-15T18:00:00Z\n", T0 + 6 * 3600 },
        { "2025-01-15T18:00:00.123456Z", T0 + 6 * 3600 },
        { "2025-01-15t18:00:00z", T0 + 6 * 3600 },
        { "2025-01-15T18:00:00+02:00", T0 + 4 * 3600 },
        { "2025-01-15T18:00:00-00:30", T0 + 6 * 3600 + 1800 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        time_t t = 0;
        T_OK(fsg_creds_parse_time(fsg_span_from_cstr(ok[i].in), &t));
        T_CHECK(t == ok[i].want);
    }
    static const char *const bad[] = { "", "2025-01-15", "2025-01-15T18:00:00",
                                       "2025-13-15T18:00:00Z", "2025-01-15T18:00:00ZZ",
                                       "2025-01-15 18:00:00Z", "1969-12-31T23:59:59Z",
                                       "2025-01-15T18:00:00+2:00", "20250115T180000Z" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        time_t t = 0;
        T_ERR(FSG_E_PARSE, fsg_creds_parse_time(fsg_span_from_cstr(bad[i]), &t));
    }
    return 0;
}

/* ---- over real sockets: a loopback server of our own -------------------------------------- */

struct t_server {
    int fd;
    int port;
    pthread_t th;
    atomic_bool stop;
    atomic_int requests;
    char auth_seen[128];
    char token_seen[128];
};

static void t_server_reply(int c, int status, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, strlen(body));
    if (write(c, head, (size_t)n) < 0 || write(c, body, strlen(body)) < 0) {
        return;
    }
}

static void t_header_value(const char *req, const char *name, char *out, size_t out_size)
{
    out[0] = '\0';
    const char *h = strcasestr(req, name);
    if (h != NULL) {
        h += strlen(name);
        size_t n = strcspn(h, "\r\n");
        snprintf(out, out_size, "%.*s", (int)n, h);
    }
}

static void t_server_handle(struct t_server *s, int c)
{
    char req[4096];
    size_t len = 0;
    while (len + 1 < sizeof req) {
        struct pollfd pfd = { .fd = c, .events = POLLIN };
        if (poll(&pfd, 1, 2000) <= 0) {
            break;
        }
        ssize_t n = read(c, req + len, sizeof req - 1 - len);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n") != NULL) {
            break;
        }
    }
    req[len] = '\0';
    atomic_fetch_add(&s->requests, 1);
    char auth[128];
    char tok[128];
    t_header_value(req, "\r\nAuthorization: ", auth, sizeof auth);
    t_header_value(req, "\r\nX-aws-ec2-metadata-token: ", tok, sizeof tok);
    if (strncmp(req, "GET /container-creds ", 21) == 0) {
        snprintf(s->auth_seen, sizeof s->auth_seen, "%s", auth);
        t_server_reply(c, strcmp(auth, "auth-token-XYZ") == 0 ? 200 : 401,
                       T_CREDS_JSON("2025-01-15T18:00:00Z"));
    } else if (strncmp(req, "PUT /latest/api/token ", 22) == 0) {
        bool ttl = strcasestr(req, "\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600") != NULL;
        t_server_reply(c, ttl ? 200 : 400, "IMDS-SESSION-LOOP");
    } else if (strncmp(req, "GET /latest/meta-data/iam/security-credentials/ ", 48) == 0) {
        snprintf(s->token_seen, sizeof s->token_seen, "%s", tok);
        t_server_reply(c, strcmp(tok, "IMDS-SESSION-LOOP") == 0 ? 200 : 401, "loop-role");
    } else if (strncmp(req, "GET /latest/meta-data/iam/security-credentials/loop-role ", 57) == 0) {
        t_server_reply(c, strcmp(tok, "IMDS-SESSION-LOOP") == 0 ? 200 : 401,
                       T_IMDS_JSON("2025-01-15T18:00:00Z"));
    } else {
        t_server_reply(c, 404, "not found");
    }
}

static void *t_server_main(void *arg)
{
    struct t_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
        if (poll(&pfd, 1, 50) <= 0) {
            continue;
        }
        int c = accept(s->fd, NULL, NULL);
        if (c >= 0) {
            t_server_handle(s, c);
            close(c);
        }
    }
    return NULL;
}

static int t_server_start(struct t_server *s)
{
    memset(s, 0, sizeof *s);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    T_CHECK(s->fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    T_CHECK(bind(s->fd, (struct sockaddr *)&a, sizeof a) == 0);
    T_CHECK(listen(s->fd, 8) == 0);
    socklen_t alen = sizeof a;
    T_CHECK(getsockname(s->fd, (struct sockaddr *)&a, &alen) == 0);
    s->port = ntohs(a.sin_port);
    T_CHECK(pthread_create(&s->th, NULL, t_server_main, s) == 0);
    return 0;
}

static void t_server_stop(struct t_server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
    close(s->fd);
}

static int t_loopback_container_and_imds(void)
{
    struct t_server srv;
    struct fsg_creds_provider *p = NULL;
    struct fsg_error err = { 0 };
    char url[128];
    T_CHECK(t_server_start(&srv) == 0);

    /* container credentials through the real libcurl client (made by the provider) */
    t_reset();
    snprintf(url, sizeof url, "http://127.0.0.1:%d/container-creds", srv.port);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "auth-token-XYZ", 1);
    T_OK(fsg_creds_provider_new_default(NULL, &p, NULL));
    int rc = t_expect_creds(p, T0, "ASIACONTAINER", T_SECRET, T_TOKEN, "container");
    fsg_creds_provider_destroy(p);
    T_CHECK(rc == 0);
    T_STR_EQ(srv.auth_seen, "auth-token-XYZ");

    /* IMDSv2 at an overridden endpoint */
    t_reset();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
    T_OK(fsg_creds_provider_new_default(NULL, &p, NULL));
    rc = t_expect_creds(p, T0, "ASIAIMDS", "imds-secret-XYZ", "imds-token-XYZ", "imds");
    fsg_creds_provider_destroy(p);
    T_CHECK(rc == 0);
    T_STR_EQ(srv.token_seen, "IMDS-SESSION-LOOP");
    int requests = atomic_load(&srv.requests);
    t_server_stop(&srv);
    T_CHECK(requests == 4);

    /* nothing listening: IMDS unreachable means "no credentials", quickly */
    t_reset();
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1); /* the server is gone */
    const struct fsg_credentials *c;
    T_OK(fsg_creds_provider_new_default(NULL, &p, NULL));
    enum fsg_err grc = fsg_creds_get(p, T0, &c, &err);
    fsg_creds_provider_destroy(p);
    T_CHECK(grc == FSG_E_NOT_FOUND);
    T_CHECK(strstr(err.msg, "not reachable") != NULL);
    return 0;
}

/* Every allocation failure gives FSG_E_NOMEM (never a crash, a leak or another code), for each
 * source: environment, shared files, container, IMDS. */
static int t_out_of_memory(void)
{
    static const struct t_http_exchange container[] = {
        { .method = "GET", .status = 200, .body = T_CREDS_JSON("2025-01-15T18:00:00Z") },
    };
    static const struct t_http_exchange imds[] = {
        { .method = "PUT", .status = 200, .body = "IMDS-SESSION" },
        { .method = "GET", .status = 200, .body = "r" },
        { .method = "GET", .status = 200, .body = T_IMDS_JSON("2025-01-15T18:00:00Z") },
    };
    for (int source = 0; source < 4; source++) {
        t_reset();
        const struct t_http_exchange *ex = NULL;
        size_t n_ex = 0;
        if (source == 0) {
            setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
            setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
        } else if (source == 1) {
            T_CHECK(t_write(s_cred_file, "[default]\naws_access_key_id = A\n"
                                         "aws_secret_access_key = file-secret\n") == 0);
        } else if (source == 2) {
            setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/c", 1);
            setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "auth-token-XYZ", 1);
            ex = container;
            n_ex = 1;
        } else {
            unsetenv("AWS_EC2_METADATA_DISABLED");
            ex = imds;
            n_ex = 3;
        }
        bool succeeded = false;
        for (long n = 1; n < 200 && !succeeded; n++) {
            struct t_setup s;
            long live = fsg_mem_live();
            T_CHECK(t_setup(&s, ex, n_ex, NULL) == 0);
            struct fsg_credentials copy = { 0 };
            struct fsg_error err = { 0 };
            fsg_mem_fail_after(n);
            enum fsg_err rc = fsg_creds_get_copy(s.p, T0, &copy, &err);
            fsg_mem_fail_after(0);
            if (rc != FSG_OK && rc != FSG_E_NOMEM) {
                fprintf(stderr, "  source %d, failing allocation %ld: %s: %s\n", source, n,
                        fsg_err_name(rc), err.msg);
            }
            T_CHECK(rc == FSG_OK || rc == FSG_E_NOMEM);
            succeeded = rc == FSG_OK;
            fsg_credentials_clean_up(&copy);
            t_teardown(&s);
            T_CHECK(fsg_mem_live() == live);
        }
        T_CHECK(succeeded);
    }
    return 0;
}

static int t_cleanup_tmp(void)
{
    unlink(s_cred_file);
    unlink(s_conf_file);
    unlink(s_token_file);
    if (s_dir[0] != '\0') {
        rmdir(s_dir);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "env", t_env },
        { "profiles", t_profiles },
        { "container_relative", t_container_relative },
        { "container_full_uri", t_container_full_uri },
        { "container_errors", t_container_errors },
        { "imds", t_imds },
        { "imds_variants", t_imds_variants },
        { "imds_errors", t_imds_errors },
        { "refresh_with_clock", t_refresh_with_clock },
        { "threads_and_copies", t_threads_and_copies },
        { "parse_time", t_parse_time },
        { "loopback_container_and_imds", t_loopback_container_and_imds },
        { "out_of_memory", t_out_of_memory },
        { "cleanup_tmp", t_cleanup_tmp },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
