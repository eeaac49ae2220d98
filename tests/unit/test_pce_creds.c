/* policy/pce.c's credentials hook (fsg_pce_options.creds_fn): the key and secret come from a
 * callback (the Secrets Manager / SSM source in the Lambda), read at creation and read again
 * once after a 401, then the request is sent again once. Over the scripted transport. */
#include <stdio.h>
#include <string.h>

#include "lib/core/mem.h"
#include "lib/core/redact.h"
#include "policy/pce.h"
#include "tests/harness/test.h"
#include "tests/unit/http_script.h"

struct s_creds {
    unsigned calls;
    unsigned refreshes;
    const char *secrets[4]; /* what call n hands out */
    bool fail_refresh;
};

static enum fsg_err s_creds_fn(void *userdata, bool refresh, char **ret_key, char **ret_secret,
                               struct fsg_error *err)
{
    struct s_creds *c = userdata;
    unsigned n = c->calls++;
    c->refreshes += refresh;
    if (refresh && c->fail_refresh) {
        return fsg_error_set(err, FSG_E_AUTH, "Secrets Manager secret pce: AccessDenied");
    }
    *ret_key = fsg_strdup("api_1a2b");
    *ret_secret = fsg_strdup(c->secrets[n < 4 ? n : 3]);
    return FSG_OK;
}

static int s_pce(struct t_http_script *script, struct s_creds *creds, struct fsg_pce **ret)
{
    struct fsg_pce_options o = { .url = "https://pce.test:8443", .org_id = 1,
                                 .creds_fn = s_creds_fn, .creds_userdata = creds,
                                 .creds_name = "Secrets Manager secret pce" };
    struct fsg_error err = { 0 };
    T_OK(fsg_pce_new_with_client(&o, t_http_script_client(script), ret, &err));
    return 0;
}

/* "Basic " + base64("api_1a2b:" + secret) */
static const char s_auth_old[] = "Basic YXBpXzFhMmI6b2xkLXNlY3JldA==";     /* old-secret */
static const char s_auth_new[] = "Basic YXBpXzFhMmI6bmV3LXNlY3JldA==";     /* new-secret */

static int s_refetched_once_after_401(void)
{
    static const struct t_http_exchange ex[] = {
        { .method = "GET", .url = "https://pce.test:8443/api/v2/orgs/1/labels/7", .status = 401,
          .body = "{\"error\":\"unauthorized\"}" },
        { .method = "GET", .url = "https://pce.test:8443/api/v2/orgs/1/labels/7", .status = 200,
          .body = "{\"href\":\"/orgs/1/labels/7\"}" },
        /* a later 401 reads again once more, then gives up */
        { .status = 401 },
        { .status = 401 },
    };
    struct t_http_script script;
    t_http_script_init(&script, ex, sizeof ex / sizeof ex[0]);
    struct s_creds creds = { .secrets = { "old-secret", "new-secret", "newer-secret",
                                          "newer-secret" } };
    struct fsg_pce *pce = NULL;
    if (s_pce(&script, &creds, &pce) != 0) {
        return 1;
    }
    T_CHECK(creds.calls == 1 && creds.refreshes == 0); /* read at creation */
    json_t *v = NULL;
    struct fsg_error err = { 0 };
    T_OK(fsg_pce_get(pce, "/labels/7", &v, &err));
    json_decref(v);
    T_CHECK(creds.calls == 2 && creds.refreshes == 1);
    T_STR_EQ(t_http_script_header(&script, 0, "Authorization"), s_auth_old);
    T_STR_EQ(t_http_script_header(&script, 1, "Authorization"), s_auth_new);

    T_ERR(FSG_E_AUTH, fsg_pce_get(pce, "/labels/8", &v, &err));
    T_CHECK(creds.calls == 3 && creds.refreshes == 2 && script.next == 4);
    T_CHECK(strstr(err.msg, "Secrets Manager secret pce") != NULL);
    T_CHECK(strstr(err.msg, "secret-") == NULL);
    T_CHECK(!script.mismatch);
    fsg_pce_destroy(pce);
    t_http_script_clean_up(&script);
    fsg_redact_clear_secrets();
    return 0;
}

static int s_refresh_failure_is_reported(void)
{
    static const struct t_http_exchange ex[] = { { .status = 401 } };
    struct t_http_script script;
    t_http_script_init(&script, ex, 1);
    struct s_creds creds = { .secrets = { "old-secret" }, .fail_refresh = true };
    struct fsg_pce *pce = NULL;
    if (s_pce(&script, &creds, &pce) != 0) {
        return 1;
    }
    json_t *v = NULL;
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_AUTH, fsg_pce_get(pce, "/labels/7", &v, &err));
    T_CHECK(strstr(err.msg, "PCE credentials: Secrets Manager secret pce: AccessDenied") != NULL);
    fsg_pce_destroy(pce);
    t_http_script_clean_up(&script);
    fsg_redact_clear_secrets();
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "refetched_once_after_401", s_refetched_once_after_401 },
        { "refresh_failure_is_reported", s_refresh_failure_is_reported },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
