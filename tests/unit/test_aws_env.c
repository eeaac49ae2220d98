/* Profile, shared files, region and endpoint resolution (lib/aws_env). Every case starts from
 * an environment without AWS_* variables and points the shared files into a temp directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/aws/aws_env.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"

static const char *const s_aws_vars[] = {
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_RDS", "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
};

static char s_dir[256];
static char s_config[300];

/* Clean environment; AWS_CONFIG_FILE points at <tmp>/config (absent until written). */
static void t_reset_env(void)
{
    for (size_t i = 0; i < sizeof s_aws_vars / sizeof s_aws_vars[0]; i++) {
        unsetenv(s_aws_vars[i]);
    }
    if (s_dir[0] == '\0') {
        snprintf(s_dir, sizeof s_dir, "/tmp/fsg_aws_env_XXXXXX");
        if (mkdtemp(s_dir) == NULL) {
            abort();
        }
    }
    snprintf(s_config, sizeof s_config, "%s/config", s_dir);
    unlink(s_config);
    setenv("AWS_CONFIG_FILE", s_config, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
}

static int t_write_config(const char *text)
{
    FILE *f = fopen(s_config, "w");
    T_CHECK(f != NULL);
    T_CHECK(fputs(text, f) >= 0);
    T_CHECK(fclose(f) == 0);
    return 0;
}

static int t_profile_name(void)
{
    t_reset_env();
    bool expl = true;
    T_STR_EQ(fsg_aws_profile_name(NULL, &expl), "default");
    T_CHECK(!expl);
    setenv("AWS_DEFAULT_PROFILE", "legacy", 1);
    T_STR_EQ(fsg_aws_profile_name(NULL, &expl), "legacy");
    T_CHECK(expl);
    setenv("AWS_PROFILE", "dev", 1);
    T_STR_EQ(fsg_aws_profile_name(NULL, NULL), "dev");
    T_STR_EQ(fsg_aws_profile_name("", NULL), "dev");
    T_STR_EQ(fsg_aws_profile_name("cfg", &expl), "cfg");
    T_CHECK(expl);
    setenv("AWS_PROFILE", "", 1); /* empty is unset */
    T_STR_EQ(fsg_aws_profile_name(NULL, NULL), "legacy");
    return 0;
}

static int t_file_paths(void)
{
    t_reset_env();
    struct fsg_buf b = FSG_BUF_INIT;
    struct fsg_error err;
    T_OK(fsg_aws_config_file_path(&b, NULL));
    T_STR_EQ(fsg_buf_cstr(&b), s_config);
    fsg_buf_reset(&b);
    unsetenv("AWS_CONFIG_FILE");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    char *home = getenv("HOME") != NULL ? fsg_strdup(getenv("HOME")) : NULL;
    setenv("HOME", "/home/someone", 1);
    T_OK(fsg_aws_config_file_path(&b, NULL));
    T_STR_EQ(fsg_buf_cstr(&b), "/home/someone/.aws/config");
    fsg_buf_reset(&b);
    T_OK(fsg_aws_credentials_file_path(&b, NULL));
    T_STR_EQ(fsg_buf_cstr(&b), "/home/someone/.aws/credentials");
    fsg_buf_reset(&b);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "~/creds", 1);
    T_OK(fsg_aws_credentials_file_path(&b, NULL));
    T_STR_EQ(fsg_buf_cstr(&b), "/home/someone/creds");
    fsg_buf_reset(&b);
    unsetenv("HOME");
    T_ERR(FSG_E_NOT_FOUND, fsg_aws_config_file_path(&b, &err));
    T_CHECK(strstr(err.msg, "HOME") != NULL && strstr(err.msg, "AWS_CONFIG_FILE") != NULL);
    if (home != NULL) {
        setenv("HOME", home, 1);
    }
    fsg_free(home);
    fsg_buf_clean_up(&b);

    /* missing file: no error, exists = false; a directory is an error */
    bool exists = true;
    T_OK(fsg_aws_read_shared_file("/nonexistent/config", &b, &exists, NULL));
    T_CHECK(!exists && b.len == 0);
    T_ERR(FSG_E_IO, fsg_aws_read_shared_file("/tmp", &b, &exists, &err));
    T_CHECK(strstr(err.msg, "directory") != NULL);
    return 0;
}

static int t_ini(void)
{
    static const char text[] =
        "# comment\n"
        "; another\n"
        "[default]\n"
        "region = us-east-1\n"
        "Output: json\r\n"
        "\n"
        "[profile   dev]\n"
        "region=us-west-2\n"
        "   continuation of region is ignored\n"
        "s3 =\n"
        "    addressing_style = path\n"
        "\n"
        "    endpoint_url = http://127.0.0.1:9000\n"
        "key_with_url = http://h:1/x=y\n"
        "region = eu-west-1\n"
        "[services local]\n"
        "ec2 =\n"
        "  endpoint_url = http://127.0.0.1:4566\n"
        "[empty]\n";
    struct fsg_span t = { (const uint8_t *)text, sizeof text - 1 };
    struct fsg_span v;
    T_CHECK(fsg_aws_ini_get(t, "default", "region", NULL, &v));
    T_SPAN_EQ(v, "us-east-1");
    T_CHECK(fsg_aws_ini_get(t, "default", "output", NULL, &v)); /* key: value, case, CRLF */
    T_SPAN_EQ(v, "json");
    T_CHECK(fsg_aws_ini_get(t, "profile dev", "region", NULL, &v)); /* last one wins */
    T_SPAN_EQ(v, "eu-west-1");
    T_CHECK(fsg_aws_ini_get(t, "profile dev", "s3", "addressing_style", &v));
    T_SPAN_EQ(v, "path");
    T_CHECK(fsg_aws_ini_get(t, "profile dev", "s3", "endpoint_url", &v)); /* across a blank */
    T_SPAN_EQ(v, "http://127.0.0.1:9000");
    T_CHECK(fsg_aws_ini_get(t, "profile dev", "s3", NULL, &v));
    T_SPAN_EQ(v, "");
    T_CHECK(fsg_aws_ini_get(t, "profile dev", "key_with_url", NULL, &v)); /* first '=' splits */
    T_SPAN_EQ(v, "http://h:1/x=y");
    T_CHECK(fsg_aws_ini_get(t, "services local", "ec2", "endpoint_url", &v));
    T_SPAN_EQ(v, "http://127.0.0.1:4566");
    T_CHECK(!fsg_aws_ini_get(t, "services local", "s3", "endpoint_url", &v));
    T_CHECK(!fsg_aws_ini_get(t, "default", "addressing_style", NULL, &v));
    T_CHECK(!fsg_aws_ini_get(t, "dev", "region", NULL, &v)); /* config needs "profile dev" */
    T_CHECK(!fsg_aws_ini_get(t, "profile dev", "continuation", NULL, &v));
    T_CHECK(fsg_aws_ini_has_section(t, "empty"));
    T_CHECK(fsg_aws_ini_has_section(t, "profile dev"));
    T_CHECK(!fsg_aws_ini_has_section(t, "profile nope"));
    T_CHECK(!fsg_aws_ini_get(FSG_SPAN_NULL, "default", "region", NULL, &v));
    return 0;
}

static int t_region_order(void)
{
    struct fsg_buf r = FSG_BUF_INIT;
    struct fsg_error err;
    t_reset_env();
    T_CHECK(t_write_config("[default]\nregion = eu-central-1\n[profile dev]\nregion = us-west-2\n"
                           "[profile bad]\nregion = US East 1\n") == 0);
    T_OK(fsg_aws_region(NULL, NULL, &r, NULL));
    T_STR_EQ(fsg_buf_cstr(&r), "eu-central-1");
    fsg_buf_reset(&r);
    setenv("AWS_PROFILE", "dev", 1);
    T_OK(fsg_aws_region(NULL, NULL, &r, NULL));
    T_STR_EQ(fsg_buf_cstr(&r), "us-west-2");
    fsg_buf_reset(&r);
    T_OK(fsg_aws_region(NULL, "default", &r, NULL)); /* explicit profile beats AWS_PROFILE */
    T_STR_EQ(fsg_buf_cstr(&r), "eu-central-1");
    fsg_buf_reset(&r);
    setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
    T_OK(fsg_aws_region(NULL, NULL, &r, NULL));
    T_STR_EQ(fsg_buf_cstr(&r), "ap-south-1");
    fsg_buf_reset(&r);
    setenv("AWS_REGION", "sa-east-1", 1);
    T_OK(fsg_aws_region("", NULL, &r, NULL));
    T_STR_EQ(fsg_buf_cstr(&r), "sa-east-1");
    fsg_buf_reset(&r);
    T_OK(fsg_aws_region("eu-west-3", NULL, &r, NULL)); /* the configuration wins */
    T_STR_EQ(fsg_buf_cstr(&r), "eu-west-3");
    fsg_buf_reset(&r);

    /* invalid values name their source */
    T_ERR(FSG_E_INVALID_ARG, fsg_aws_region("us-east-1/../x", NULL, &r, &err));
    T_CHECK(strstr(err.msg, "configuration") != NULL);
    setenv("AWS_REGION", "Us-East-1", 1);
    T_ERR(FSG_E_INVALID_ARG, fsg_aws_region(NULL, NULL, &r, &err));
    T_CHECK(strstr(err.msg, "AWS_REGION") != NULL);
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    T_ERR(FSG_E_INVALID_ARG, fsg_aws_region(NULL, "bad", &r, &err));
    T_CHECK(strstr(err.msg, "profile 'bad'") != NULL);

    /* nothing anywhere: one message naming every place */
    T_ERR(FSG_E_NOT_FOUND, fsg_aws_region(NULL, "nowhere", &r, &err));
    T_CHECK(strstr(err.msg, "AWS_REGION") != NULL && strstr(err.msg, "AWS_DEFAULT_REGION") != NULL);
    T_CHECK(strstr(err.msg, "nowhere") != NULL && strstr(err.msg, s_config) != NULL);
    unlink(s_config);
    T_ERR(FSG_E_NOT_FOUND, fsg_aws_region(NULL, NULL, &r, &err));
    T_CHECK(r.len == 0);
    fsg_buf_clean_up(&r);
    return 0;
}

static int t_endpoint(const char *service, const char *region, const char *want_url,
                      bool want_path_style)
{
    struct fsg_buf url = FSG_BUF_INIT;
    struct fsg_error err = { 0 };
    bool path_style = !want_path_style;
    enum fsg_err rc = fsg_aws_endpoint(service, region, &url, &path_style, &err);
    if (rc != FSG_OK) {
        fprintf(stderr, "  %s/%s: %s\n", service, region, err.msg);
    }
    T_OK(rc);
    T_STR_EQ(fsg_buf_cstr(&url), want_url);
    T_CHECK(path_style == want_path_style);
    fsg_buf_clean_up(&url);
    return 0;
}

static int t_endpoint_defaults(void)
{
    t_reset_env();
    T_CHECK(t_endpoint("ec2", "us-east-1", "https://ec2.us-east-1.amazonaws.com", false) == 0);
    T_CHECK(t_endpoint("rds", "eu-west-1", "https://rds.eu-west-1.amazonaws.com", false) == 0);
    T_CHECK(t_endpoint("elasticloadbalancing", "us-west-2",
                       "https://elasticloadbalancing.us-west-2.amazonaws.com", false) == 0);
    T_CHECK(t_endpoint("s3", "us-east-1", "https://s3.us-east-1.amazonaws.com", false) == 0);
    T_CHECK(t_endpoint("ec2", "cn-north-1", "https://ec2.cn-north-1.amazonaws.com.cn", false) == 0);
    T_CHECK(t_endpoint("elbv2", "us-east-1", "https://elasticloadbalancing.us-east-1.amazonaws.com",
                       false) == 0);
    /* ret_path_style may be NULL */
    struct fsg_buf url = FSG_BUF_INIT;
    T_OK(fsg_aws_endpoint("s3", "us-east-1", &url, NULL, NULL));
    fsg_buf_clean_up(&url);
    return 0;
}

static int t_endpoint_env_overrides(void)
{
    t_reset_env();
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/", 1);
    T_CHECK(t_endpoint("ec2", "us-east-1", "http://127.0.0.1:4566", false) == 0);
    T_CHECK(t_endpoint("s3", "us-east-1", "http://127.0.0.1:4566", true) == 0);
    setenv("AWS_ENDPOINT_URL_S3", "http://localhost:9000//", 1);
    T_CHECK(t_endpoint("s3", "us-east-1", "http://localhost:9000", true) == 0);
    T_CHECK(t_endpoint("rds", "us-east-1", "http://127.0.0.1:4566", false) == 0);
    setenv("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "https://elb.internal", 1);
    T_CHECK(t_endpoint("elasticloadbalancing", "us-east-1", "https://elb.internal", false) == 0);
    setenv("AWS_ENDPOINT_URL_EC2", "https://ec2.internal:8443/base", 1);
    T_CHECK(t_endpoint("ec2", "us-east-1", "https://ec2.internal:8443/base", false) == 0);
    setenv("AWS_ENDPOINT_URL_RDS", "", 1); /* empty = unset */
    T_CHECK(t_endpoint("rds", "us-east-1", "http://127.0.0.1:4566", false) == 0);
    return 0;
}

static int t_endpoint_profile(void)
{
    t_reset_env();
    T_CHECK(t_write_config("[default]\nendpoint_url = http://global:1\n"
                           "[profile dev]\nservices = local\nendpoint_url = http://dev-global:2\n"
                           "s3 =\n  addressing_style = path\n"
                           "[profile virt]\nregion = us-east-1\n"
                           "s3 =\n  addressing_style = virtual\n"
                           "[services local]\ns3 =\n  endpoint_url = http://127.0.0.1:9000\n"
                           "elastic_load_balancing_v2 =\n  endpoint_url = http://127.0.0.1:5000\n")
            == 0);
    T_CHECK(t_endpoint("ec2", "us-east-1", "http://global:1", false) == 0);
    setenv("AWS_PROFILE", "dev", 1);
    T_CHECK(t_endpoint("s3", "us-east-1", "http://127.0.0.1:9000", true) == 0);
    T_CHECK(t_endpoint("elasticloadbalancing", "us-east-1", "http://127.0.0.1:5000", false) == 0);
    T_CHECK(t_endpoint("ec2", "us-east-1", "http://dev-global:2", false) == 0);
    /* environment beats the profile */
    setenv("AWS_ENDPOINT_URL", "http://env:3", 1);
    T_CHECK(t_endpoint("s3", "us-east-1", "http://env:3", true) == 0);
    unsetenv("AWS_ENDPOINT_URL");
    /* addressing style without an override */
    setenv("AWS_PROFILE", "virt", 1);
    T_CHECK(t_endpoint("s3", "eu-west-1", "https://s3.eu-west-1.amazonaws.com", false) == 0);
    T_CHECK(t_write_config("[profile pathy]\ns3 =\n  addressing_style = path\n") == 0);
    setenv("AWS_PROFILE", "pathy", 1);
    T_CHECK(t_endpoint("s3", "eu-west-1", "https://s3.eu-west-1.amazonaws.com", true) == 0);
    T_CHECK(t_endpoint("ec2", "eu-west-1", "https://ec2.eu-west-1.amazonaws.com", false) == 0);
    return 0;
}

static int t_endpoint_ignore(void)
{
    t_reset_env();
    T_CHECK(t_write_config("[default]\nendpoint_url = http://global:1\n") == 0);
    setenv("AWS_ENDPOINT_URL_EC2", "http://env:2", 1);
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE", 1);
    T_CHECK(t_endpoint("ec2", "us-east-1", "https://ec2.us-east-1.amazonaws.com", false) == 0);
    T_CHECK(t_endpoint("s3", "us-east-1", "https://s3.us-east-1.amazonaws.com", false) == 0);
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false", 1);
    T_CHECK(t_endpoint("ec2", "us-east-1", "http://env:2", false) == 0);
    /* the profile flag, and the variable winning over it */
    T_CHECK(t_write_config("[default]\nendpoint_url = http://global:1\n"
                           "ignore_configured_endpoint_urls = true\n") == 0);
    T_CHECK(t_endpoint("rds", "us-east-1", "http://global:1", false) == 0);
    unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    T_CHECK(t_endpoint("rds", "us-east-1", "https://rds.us-east-1.amazonaws.com", false) == 0);
    T_CHECK(t_endpoint("ec2", "us-east-1", "https://ec2.us-east-1.amazonaws.com", false) == 0);
    return 0;
}

static int t_endpoint_errors(void)
{
    struct fsg_buf url = FSG_BUF_INIT;
    struct fsg_error err;
    bool ps = false;
    t_reset_env();
    T_ERR(FSG_E_INVALID_ARG, fsg_aws_endpoint("kinesis", "us-east-1", &url, &ps, &err));
    T_CHECK(strstr(err.msg, "kinesis") != NULL);
    T_ERR(FSG_E_INVALID_ARG, fsg_aws_endpoint(NULL, "us-east-1", &url, &ps, &err));
    T_ERR(FSG_E_INVALID_ARG, fsg_aws_endpoint("ec2", "us-east-1.evil.com/", &url, &ps, &err));
    T_ERR(FSG_E_INVALID_ARG, fsg_aws_endpoint("ec2", "", &url, &ps, &err));
    T_ERR(FSG_E_INVALID_ARG, fsg_aws_endpoint("ec2", NULL, &url, &ps, &err));
    setenv("AWS_ENDPOINT_URL_EC2", "ftp://user:hunter2@host", 1);
    T_ERR(FSG_E_INVALID_ARG, fsg_aws_endpoint("ec2", "us-east-1", &url, &ps, &err));
    T_CHECK(strstr(err.msg, "AWS_ENDPOINT_URL_EC2") != NULL);
    T_CHECK(strstr(err.msg, "hunter2") == NULL); /* the value may hold credentials */
    setenv("AWS_ENDPOINT_URL_EC2", "https://", 1);
    T_ERR(FSG_E_INVALID_ARG, fsg_aws_endpoint("ec2", "us-east-1", &url, &ps, &err));
    unsetenv("AWS_ENDPOINT_URL_EC2");
    T_CHECK(t_write_config("[services x]\nrds =\n  endpoint_url = 127.0.0.1:1\n"
                           "[default]\nservices = x\n") == 0);
    T_ERR(FSG_E_INVALID_ARG, fsg_aws_endpoint("rds", "us-east-1", &url, &ps, &err));
    T_CHECK(strstr(err.msg, "services x") != NULL);
    T_CHECK(url.len == 0);
    fsg_buf_clean_up(&url);
    return 0;
}

static int t_signing_names(void)
{
    T_STR_EQ(fsg_aws_signing_name("s3"), "s3");
    T_STR_EQ(fsg_aws_signing_name("ec2"), "ec2");
    T_STR_EQ(fsg_aws_signing_name("rds"), "rds");
    T_STR_EQ(fsg_aws_signing_name("elasticloadbalancing"), "elasticloadbalancing");
    T_STR_EQ(fsg_aws_signing_name("elbv2"), "elasticloadbalancing");
    T_STR_EQ(fsg_aws_signing_name("sqs"), "sqs");
    T_CHECK(fsg_aws_signing_name("kinesis") == NULL);
    T_CHECK(fsg_aws_signing_name(NULL) == NULL);
    T_CHECK(fsg_aws_flag_is_true("True") && !fsg_aws_flag_is_true("1")
            && !fsg_aws_flag_is_true(NULL));
    return 0;
}

static int t_config_get(void)
{
    struct fsg_buf v = FSG_BUF_INIT;
    bool found = true;
    t_reset_env();
    T_OK(fsg_aws_config_get("default", "region", NULL, &v, &found, NULL)); /* no file */
    T_CHECK(!found);
    T_CHECK(t_write_config("[profile default]\nregion = us-east-2\nretry_mode = standard\n"
                           "[default]\nregion = us-east-1\n") == 0);
    T_OK(fsg_aws_config_get("default", "region", NULL, &v, &found, NULL));
    T_CHECK(found); /* [default] wins over [profile default], as in botocore */
    T_STR_EQ(fsg_buf_cstr(&v), "us-east-1");
    fsg_buf_reset(&v);
    T_OK(fsg_aws_config_get(NULL, "retry_mode", NULL, &v, &found, NULL));
    T_CHECK(found);
    T_STR_EQ(fsg_buf_cstr(&v), "standard");
    fsg_buf_clean_up(&v);
    return 0;
}

/* Allocation failures come back as FSG_E_NOMEM, with nothing leaked. */
static int t_out_of_memory(void)
{
    t_reset_env();
    T_CHECK(t_write_config("[profile dev]\nregion = us-west-2\nservices = local\n"
                           "[services local]\ns3 =\n  endpoint_url = http://127.0.0.1:9000/\n")
            == 0);
    setenv("AWS_PROFILE", "dev", 1);
    for (int what = 0; what < 2; what++) {
        bool succeeded = false;
        for (long n = 1; n < 100 && !succeeded; n++) {
            struct fsg_buf out = FSG_BUF_INIT;
            bool ps = false;
            long live = fsg_mem_live();
            fsg_mem_fail_after(n);
            enum fsg_err rc = what == 0 ? fsg_aws_region(NULL, NULL, &out, NULL)
                                        : fsg_aws_endpoint("s3", "us-west-2", &out, &ps, NULL);
            fsg_mem_fail_after(0);
            T_CHECK(rc == FSG_OK || rc == FSG_E_NOMEM);
            succeeded = rc == FSG_OK;
            if (succeeded) {
                T_STR_EQ(fsg_buf_cstr(&out), what == 0 ? "us-west-2" : "http://127.0.0.1:9000");
            }
            fsg_buf_clean_up(&out);
            T_CHECK(fsg_mem_live() == live);
        }
        T_CHECK(succeeded);
    }
    return 0;
}

static int t_cleanup_tmp(void)
{
    unlink(s_config);
    if (s_dir[0] != '\0') {
        rmdir(s_dir);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "profile_name", t_profile_name },
        { "file_paths", t_file_paths },
        { "ini", t_ini },
        { "region_order", t_region_order },
        { "endpoint_defaults", t_endpoint_defaults },
        { "endpoint_env_overrides", t_endpoint_env_overrides },
        { "endpoint_profile", t_endpoint_profile },
        { "endpoint_ignore", t_endpoint_ignore },
        { "endpoint_errors", t_endpoint_errors },
        { "signing_names", t_signing_names },
        { "config_get", t_config_get },
        { "out_of_memory", t_out_of_memory },
        { "cleanup_tmp", t_cleanup_tmp },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
