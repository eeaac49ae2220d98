/* flowseg lambda: the Lambda custom-runtime entry point (also when started as `bootstrap`).
 * Reads AWS_LAMBDA_RUNTIME_API once, loads the config, reports init failures to the Runtime
 * API, then runs the invocation loop (lib/lambda) with a handler that parses each event
 * (lib/s3_event). The handler answers with a summary of the work the event asks for; the
 * reconcile itself is wired in here later. State kept in s_state lives across warm invocations. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "cmd/cli.h"
#include "lib/json.h"
#include "lib/lambda.h"
#include "lib/log.h"
#include "lib/s3_event.h"

/* Time kept back from the deadline to finish the current object and post the summary: an
 * object not started by then is reported as deferred instead of being cut off by the timeout. */
#define S_DEADLINE_MARGIN_MS 3000

struct s_state {
    struct fsg_config *config;
    pcre2_code *key_regex; /* flowlogs.key_regex; NULL = every key */
    pcre2_match_data *match;
};

static void s_state_clean_up(struct s_state *st)
{
    pcre2_match_data_free(st->match);
    pcre2_code_free(st->key_regex);
    fsg_config_destroy(st->config);
    *st = (struct s_state){ 0 };
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: flowseg lambda\n\n"
            "Runs the AWS Lambda custom-runtime loop (runtime provided.al2023). Lambda starts the\n"
            "packaged binary as 'bootstrap', which runs this command (see scripts/package-lambda).\n\n"
            "Events handled:\n"
            "  S3 notifications ({\"Records\": [...]}, also through SQS or SNS), EventBridge\n"
            "  \"Object Created\", EventBridge schedules (reconcile every target),\n"
            "  {\"scan\": \"s3://bucket/prefix/\"} and {\"nlb_sync\": true}.\n\n"
            "Environment:\n"
            "  AWS_LAMBDA_RUNTIME_API  host:port of the Runtime API (set by Lambda)\n"
            "  FLOWSEG_CONFIG          the config: a path (e.g. /var/task/flowseg.json) or inline JSON\n"
            "  PCE_API_KEY, PCE_API_SECRET (or the names in pce.key_env / pce.secret_env)\n\n"
            "Init failures go to /runtime/init/error and exit 1; a failed invocation is posted as\n"
            "its error and the loop goes on.\n");
}

static bool s_secret_available(const char *file, const char *env_name)
{
    if (file != NULL) {
        return true; /* read (and checked) when first used */
    }
    const char *v = env_name != NULL ? getenv(env_name) : NULL;
    return v != NULL && v[0] != '\0';
}

static enum fsg_err s_check_pce_secrets(const struct fsg_config *c, struct fsg_error *err)
{
    if (c->pce.url == NULL) {
        return FSG_OK;
    }
    if (!s_secret_available(c->pce.key_file, c->pce.key_env)) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "PCE API key: environment variable %s is not set (or set "
                             "pce.key_file)",
                             c->pce.key_env != NULL ? c->pce.key_env : "PCE_API_KEY");
    }
    if (!s_secret_available(c->pce.secret_file, c->pce.secret_env)) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "PCE API secret: environment variable %s is not set (or set "
                             "pce.secret_file)",
                             c->pce.secret_env != NULL ? c->pce.secret_env : "PCE_API_SECRET");
    }
    return FSG_OK;
}

static enum fsg_err s_compile_key_regex(struct s_state *st, struct fsg_error *err)
{
    const char *re = st->config->key_regex;
    if (re == NULL) {
        return FSG_OK;
    }
    int code;
    PCRE2_SIZE offset;
    st->key_regex = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code,
                                  &offset, NULL);
    if (st->key_regex == NULL) {
        PCRE2_UCHAR msg[128];
        (void)pcre2_get_error_message(code, msg, sizeof msg);
        return fsg_error_set(err, FSG_E_PARSE, "flowlogs.key_regex: %s at offset %zu",
                             (const char *)msg, (size_t)offset);
    }
    st->match = pcre2_match_data_create_from_pattern(st->key_regex, NULL);
    if (st->match == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory compiling flowlogs.key_regex");
    }
    return FSG_OK;
}

/* Everything that can fail before the first invocation. *ret_type names the failure for
 * /runtime/init/error. */
static enum fsg_err s_init(const struct fsg_cli *cli, struct s_state *st, const char **ret_type,
                           struct fsg_error *err)
{
    *ret_type = "Runtime.ConfigInvalid";
    if (cli->config_arg == NULL || cli->config_arg[0] == '\0') {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "FLOWSEG_CONFIG is not set: point it at the config bundled in the "
                             "package (e.g. /var/task/flowseg.json) or give inline JSON");
    }
    enum fsg_err rc = fsg_config_load(cli->config_arg, &st->config, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "FLOWSEG_CONFIG: ");
        return rc;
    }
    rc = s_compile_key_regex(st, err);
    if (rc == FSG_OK) {
        *ret_type = "Runtime.MissingSecret";
        rc = s_check_pce_secrets(st->config, err);
    }
    return rc;
}

static bool s_key_wanted(struct s_state *st, const char *key)
{
    if (st->key_regex == NULL) {
        return true;
    }
    return pcre2_match(st->key_regex, (PCRE2_SPTR)key, strlen(key), 0, 0, st->match, NULL) >= 0;
}

static json_t *s_item_json(const struct fsg_s3_event_item *it)
{
    return json_pack("{s:s, s:s, s:I}", "bucket", it->bucket, "key", it->key, "size",
                     (json_int_t)it->size);
}

/* Sorts the event's objects into would-process / filtered out / deferred (deadline). */
static enum fsg_err s_sort_items(struct s_state *st, const struct fsg_lambda_invocation *inv,
                                 const struct fsg_s3_event *ev, json_t *summary)
{
    json_t *objects = json_array();
    json_t *filtered = json_array();
    json_t *deferred = json_array();
    enum fsg_err rc = FSG_E_NOMEM;
    if (objects == NULL || filtered == NULL || deferred == NULL) {
        goto out;
    }
    for (size_t i = 0; i < ev->n_items; i++) {
        const struct fsg_s3_event_item *it = &ev->items[i];
        json_t *list = objects;
        if (ev->kind == FSG_S3_EVENT_OBJECTS && !s_key_wanted(st, it->key)) {
            list = filtered;
        } else if (fsg_lambda_remaining_ms(inv, fsg_lambda_now_ms()) < S_DEADLINE_MARGIN_MS) {
            list = deferred;
        }
        if (json_array_append_new(list, s_item_json(it)) != 0) {
            goto out;
        }
    }
    if (json_object_set(summary, "objects", objects) == 0 &&
        json_object_set(summary, "filtered", filtered) == 0 &&
        json_object_set(summary, "deferred", deferred) == 0 &&
        json_object_set_new(summary, "partial", json_boolean(json_array_size(deferred) > 0)) ==
            0) {
        rc = FSG_OK;
    }

out:
    json_decref(objects);
    json_decref(filtered);
    json_decref(deferred);
    return rc;
}

static enum fsg_err s_summary(struct s_state *st, const struct fsg_lambda_invocation *inv,
                              const struct fsg_s3_event *ev, struct fsg_buf *out_json,
                              struct fsg_error *err)
{
    int64_t left = fsg_lambda_remaining_ms(inv, fsg_lambda_now_ms());
    json_t *summary = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:s}", "request_id",
                                inv->request_id, "kind", fsg_s3_event_kind_name(ev->kind),
                                "origin", ev->origin, "ignored", (json_int_t)ev->n_ignored,
                                "targets", (json_int_t)st->config->n_targets, "dry_run",
                                st->config->dry_run, "status", "not_wired");
    enum fsg_err rc = summary != NULL ? s_sort_items(st, inv, ev, summary) : FSG_E_NOMEM;
    if (rc == FSG_OK && json_object_set_new(summary, "remaining_ms",
                                            left == INT64_MAX ? json_null()
                                                              : json_integer(left)) != 0) {
        rc = FSG_E_NOMEM;
    }
    if (rc == FSG_OK) {
        rc = fsg_json_dump(summary, JSON_COMPACT, out_json);
    }
    json_decref(summary);
    return rc == FSG_OK ? FSG_OK : fsg_error_set(err, rc, "out of memory building the summary");
}

/* One invocation: parse the event, then (for now) report what would be done. */
static enum fsg_err s_handle(const struct fsg_lambda_invocation *inv, struct fsg_buf *out_json,
                             struct fsg_error *err, void *userdata)
{
    struct s_state *st = userdata;
    int64_t start_ms = fsg_lambda_now_ms();
    struct fsg_s3_event *ev = NULL;
    enum fsg_err rc = fsg_s3_event_parse(fsg_span_from_buf(&inv->event), &ev, err);
    if (rc != FSG_OK) {
        fsg_log(FSG_LOG_ERROR, "invocation %s: %s", inv->request_id, err->msg);
        return rc;
    }
    rc = s_summary(st, inv, ev, out_json, err);
    if (rc == FSG_OK) {
        fsg_log(FSG_LOG_INFO, "invocation %s: %s event (%s), %zu object(s), %lld ms",
                inv->request_id, fsg_s3_event_kind_name(ev->kind), ev->origin, ev->n_items,
                (long long)(fsg_lambda_now_ms() - start_ms));
    }
    fsg_s3_event_destroy(ev);
    return rc;
}

static int s_fail_init(struct fsg_cli *cli, struct fsg_lambda *rt, const char *type,
                       const struct fsg_error *detail)
{
    struct fsg_error post_err = { 0 };
    if (fsg_lambda_post_init_error(rt, type, detail, &post_err) != FSG_OK) {
        (void)fsg_cli_error(cli, "lambda: reporting the init error", &post_err);
    }
    return fsg_cli_error(cli, "lambda init", detail);
}

int fsg_cmd_lambda(struct fsg_cli *cli, int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        s_usage(stdout);
        return FSG_EXIT_OK;
    }
    if (argc > 1) {
        return fsg_cli_usage_error(cli, "lambda", "unexpected argument '%s'", argv[1]);
    }
    /* Read once, here: lib/lambda never looks at the environment. */
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    struct fsg_error err = { 0 };
    if (api == NULL || api[0] == '\0') {
        (void)fsg_error_set(&err, FSG_E_INVALID_ARG,
                            "AWS_LAMBDA_RUNTIME_API is not set: this command runs inside AWS "
                            "Lambda or under a Runtime API emulator");
        return fsg_cli_error(cli, "lambda", &err);
    }
    struct fsg_lambda *rt = NULL;
    enum fsg_err rc = fsg_lambda_new(&(struct fsg_lambda_options){ .runtime_api = api }, &rt,
                                     &err);
    if (rc != FSG_OK) {
        return fsg_cli_error(cli, "lambda", &err);
    }
    struct s_state st = { 0 };
    const char *type = NULL;
    int exit_code = FSG_EXIT_OK;
    rc = s_init(cli, &st, &type, &err);
    if (rc != FSG_OK) {
        exit_code = s_fail_init(cli, rt, type, &err);
        goto out;
    }
    fsg_log(FSG_LOG_INFO, "lambda runtime ready: %zu target(s), runtime API %s",
            st.config->n_targets, api);
    rc = fsg_lambda_run(rt, s_handle, &st, &err);
    if (rc != FSG_OK) {
        exit_code = fsg_cli_error(cli, "lambda", &err);
    }

out:
    s_state_clean_up(&st);
    fsg_lambda_destroy(rt);
    return exit_code;
}
