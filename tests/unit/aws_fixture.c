#include "tests/unit/aws_fixture.h"

#include <stdio.h>
#include <string.h>

static enum fsg_err s_creds_fn(void *userdata, time_t now_s, bool force_refresh,
                               const struct fsg_credentials **ret, struct fsg_error *err)
{
    (void)now_s;
    (void)force_refresh;
    (void)err;
    *ret = userdata;
    return FSG_OK;
}

static void s_sleep(long ms, void *userdata)
{
    (void)ms;
    ((struct t_aws_fixture *)userdata)->sleeps++;
}

static double s_zero(void *userdata)
{
    (void)userdata;
    return 0.0;
}

static time_t s_clock(void *userdata)
{
    (void)userdata;
    return 1440938160; /* 2015-08-30T12:36:00Z */
}

int t_aws_fixture_init(struct t_aws_fixture *f, const char *service,
                       const struct t_http_exchange *ex, size_t n)
{
    memset(f, 0, sizeof *f);
    t_http_script_init(&f->script, ex, n);
    f->http = t_http_script_client(&f->script);
    static const char secret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"; /* AWS docs' */
    if (f->http == NULL || fsg_buf_append_cstr(&f->creds.access_key_id, "AKIDEXAMPLE") != FSG_OK ||
        fsg_buf_append_cstr(&f->creds.secret_access_key, secret) != FSG_OK) {
        fprintf(stderr, "aws fixture: setup failed\n");
        return 1;
    }
    char endpoint[128];
    snprintf(endpoint, sizeof endpoint, "https://%s.us-east-1.amazonaws.com", service);
    struct fsg_aws_client_options o = {
        .service = service,
        .region = "us-east-1",
        .endpoint_url = endpoint,
        .http = f->http,
        .creds_fn = s_creds_fn,
        .creds_userdata = &f->creds,
        .retry = { .max_attempts = 3, .sleep = s_sleep, .random = s_zero, .userdata = f },
        .clock = s_clock,
    };
    struct fsg_error err = { 0 };
    if (fsg_aws_client_new(&o, &f->aws, &err) != FSG_OK) {
        fprintf(stderr, "aws fixture: %s\n", err.msg);
        return 1;
    }
    return 0;
}

void t_aws_fixture_clean_up(struct t_aws_fixture *f)
{
    fsg_aws_client_destroy(f->aws);
    fsg_http_client_destroy(f->http);
    t_http_script_clean_up(&f->script);
    fsg_credentials_clean_up(&f->creds);
    f->aws = NULL;
    f->http = NULL;
}

const char *t_aws_fixture_body(const struct t_aws_fixture *f, size_t i)
{
    return i < f->script.n_rec ? fsg_buf_cstr(&f->script.rec[i].body) : "";
}

int t_aws_fixture_all_used(const struct t_aws_fixture *f)
{
    if (f->script.mismatch) {
        fprintf(stderr, "script mismatch: %s\n", f->script.mismatch_msg);
    }
    return !f->script.mismatch && f->script.next == f->script.n;
}
