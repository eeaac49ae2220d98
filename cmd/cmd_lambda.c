/* flowseg lambda: the Lambda custom-runtime entry point (also when started as `bootstrap`).
 * Reads AWS_LAMBDA_RUNTIME_API once, loads the config, reports init failures to the Runtime
 * API, then runs the invocation loop (lib/lambda) with a handler that parses each event
 * (lib/s3_event) and does its work:
 *   S3 Records / EventBridge "Object Created"  stream each object whose key passes
 *       flowlogs.key_regex into the flow table, then reconcile the targets seen in the flows
 *       (cmd/lambda_flows.c, cmd/lambda_apply.c);
 *   {"scan": "s3://bucket/prefix/"}            the same over a listed prefix;
 *   scheduled event                            reconcile every target (tamper protection),
 *       then nlb-sync when the config has an nlb section;
 *   {"nlb_sync": true}                         nlb-sync.
 *   CloudTrail via EventBridge                 reconcile only the targets whose managed group
 *       or instance the API call changed (cmd/lambda_calls.c);
 *   SQS batches (S3, S3 -> SNS, EventBridge bodies): as above, and the answer carries
 *       "batchItemFailures" naming the messages to retry (Lambda ReportBatchItemFailures).
 * The answer is a JSON summary (see s_summary); a failure of the job as a whole (bad event,
 * PCE or AWS unreadable: nothing changed) is the invocation's error. Every invocation ends with
 * one CloudWatch Embedded Metric Format line on stdout (s_metrics). What lives across warm
 * invocations is in struct fsg_lambda_state (cmd/lambda_state.c). */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "cmd/cli.h"
#include "cmd/lambda_internal.h"
#include "lib/core/deadline.h"
#include "lib/core/json.h"
#include "lib/aws/lambda.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"
#include "lib/aws/s3_event.h"

struct s_state {
    struct fsg_lambda_state core;
    pcre2_code *key_regex; /* flowlogs.key_regex; NULL = every key */
    pcre2_match_data *match;
};

static void s_state_clean_up(struct s_state *st)
{
    pcre2_match_data_free(st->match);
    pcre2_code_free(st->key_regex);
    fsg_lambda_state_clean_up(&st->core);
    *st = (struct s_state){ 0 };
}

static const char s_usage_text[] =
    "usage: flowseg lambda\n"
    "\n"
    "Runs the AWS Lambda custom-runtime loop (runtime provided.al2023). Lambda starts the\n"
    "packaged binary as 'bootstrap', which runs this command (see scripts/package-lambda).\n"
    "\n"
    "Events:\n"
    "  S3 notifications ({\"Records\": [...]}, also through SNS) and EventBridge\n"
    "  \"Object Created\": each object whose key matches flowlogs.key_regex is streamed\n"
    "  into the flow table; the targets whose interfaces appear in its flows are\n"
    "  reconciled (applied; planned only with \"dry_run\": true). An EventBridge key\n"
    "  that S3 does not have is tried again URL-decoded.\n"
    "  SQS batches whose bodies are S3 notifications, SNS envelopes of them or\n"
    "  EventBridge events: as above; the answer's \"batchItemFailures\" names the\n"
    "  messages to retry (set ReportBatchItemFailures on the event source mapping).\n"
    "  {\"scan\": \"s3://bucket/prefix/\", \"dry_run\": true}: the same for every object\n"
    "  below the prefix (\"dry_run\": plan only, change nothing).\n"
    "  {\"scan\": ..., \"since\": T, \"until\": T, \"fanout\": true}: a backfill: the keys\n"
    "  go to flowlogs.fanout_queue_url in batches this function consumes, each writing\n"
    "  flow summaries and reconciling nothing (with \"dry_run\": counted, not sent).\n"
    "  EventBridge schedule: reconcile every target (undoes tampering), then nlb-sync\n"
    "  when the config has an nlb section. {\"nlb_sync\": true}: nlb-sync.\n"
    "  EventBridge \"AWS API Call via CloudTrail\" (AuthorizeSecurityGroupIngress,\n"
    "  RevokeSecurityGroupIngress, ModifySecurityGroupRules,\n"
    "  UpdateSecurityGroupRuleDescriptionsIngress, ModifyDBInstance): reconcile only\n"
    "  the target whose managed group or instance was changed (tamper protection\n"
    "  within seconds); calls on other groups, failed calls and flowseg's own changes\n"
    "  (this function's role session, signing with its own AWS_ACCESS_KEY_ID, writing\n"
    "  \"flowseg \" rules) are logged and ignored.\n"
    "\n"
    "Deadline: no new object is started once less than max(3 s, 10% of the invocation's\n"
    "time) is left, no new target once less than half that; the summary lists what was\n"
    "deferred and says \"partial\": true. Every HTTP request, retry and wait stops 1 s\n"
    "before the invocation's deadline (or at the config's timeout_s when earlier).\n"
    "\n"
    "Answer: {\"kind\", \"objects\": [{\"bucket\", \"key\", \"records\" | \"error\"}],\n"
    "\"targets\": [{\"name\", \"security_group\", \"status\", \"added\", \"removed\",\n"
    "\"refused\", \"error\"}], \"calls\", \"deferred\", \"partial\", \"filtered\",\n"
    "\"warnings\", \"nlb\", \"batchItemFailures\" (SQS), ...}. A bad event, or a PCE or\n"
    "AWS read that fails (nothing changed), is the invocation's error.\n"
    "\n"
    "Metrics: one CloudWatch Embedded Metric Format line per invocation on stdout,\n"
    "namespace \"flowseg\", dimension FunctionName: Changes, Refusals, CutSources,\n"
    "Errors (Count) and Duration (Milliseconds).\n"
    "\n"
    "Environment:\n"
    "  AWS_LAMBDA_RUNTIME_API  host:port of the Runtime API (set by Lambda)\n"
    "  FLOWSEG_CONFIG          the config: a path (e.g. /var/task/flowseg.json) or inline\n"
    "                          JSON; \"policy_ttl_s\": N reuses the policy for N s across\n"
    "                          warm invocations (0: read it from the PCE each time)\n"
    "  PCE_API_KEY, PCE_API_SECRET (or the names in pce.key_env / pce.secret_env),\n"
    "                          unless the config names pce.secret_arn (Secrets Manager) or\n"
    "                          pce.secret_parameter (SSM): then read from there at the\n"
    "                          first invocation and again after a PCE 401\n"
    "  FLOWSEG_NLB_POLL_MS     nlb-sync health poll interval (default 5000)\n"
    "  AWS_LAMBDA_FUNCTION_NAME, AWS_ACCESS_KEY_ID (set by Lambda) the role session name\n"
    "                          and key of flowseg's own AWS calls, to recognise their\n"
    "                          CloudTrail events\n"
    "\n"
    "Init failures go to /runtime/init/error and exit 1; a failed invocation is posted as\n"
    "its error and the loop goes on.\n";

/* ---- init ------------------------------------------------------------------------------------ */

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
    if (c->pce.url == NULL || c->pce.secret_arn != NULL || c->pce.secret_parameter != NULL) {
        return FSG_OK; /* a secret in AWS is read on first use, with the function's role */
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
    const char *re = st->core.config->key_regex;
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

/* Everything that can fail before the first invocation (no network: clients are made on first
 * use). *ret_type names the failure for /runtime/init/error. */
static enum fsg_err s_init(const struct fsg_cli *cli, struct s_state *st, const char **ret_type,
                           struct fsg_error *err)
{
    *ret_type = "Runtime.ConfigInvalid";
    if (cli->config_arg == NULL || cli->config_arg[0] == '\0') {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "FLOWSEG_CONFIG is not set: point it at the config bundled in the "
                             "package (e.g. /var/task/flowseg.json) or give inline JSON");
    }
    enum fsg_err rc = fsg_config_load(cli->config_arg, &st->core.config, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "FLOWSEG_CONFIG: ");
        return rc;
    }
    rc = s_compile_key_regex(st, err);
    if (rc == FSG_OK) {
        *ret_type = "Runtime.MissingSecret";
        rc = s_check_pce_secrets(st->core.config, err);
    }
    st->core.ca_file = fsg_lambda_ca_fallback();
    st->core.function_name = getenv("AWS_LAMBDA_FUNCTION_NAME");
    st->core.own_key_id = getenv("AWS_ACCESS_KEY_ID");
    if (rc == FSG_OK && st->core.ca_file != NULL) {
        fsg_log(FSG_LOG_INFO, "CA bundle: %s", st->core.ca_file);
    }
    return rc;
}

/* ---- the work of one invocation ---------------------------------------------------------- */

bool fsg_lambda_work_in_time(const struct fsg_lambda_work *w, int64_t threshold_ms)
{
    return fsg_lambda_remaining_ms(w->inv, fsg_lambda_now_ms()) >= threshold_ms;
}

enum fsg_err fsg_lambda_work_add(json_t *array, json_t *value)
{
    if (value == NULL) {
        return FSG_E_NOMEM;
    }
    return json_array_append_new(array, value) == 0 ? FSG_OK : FSG_E_NOMEM;
}

enum fsg_err fsg_lambda_work_warn(struct fsg_lambda_work *w, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fsg_log(FSG_LOG_WARN, "%s", msg);
    return fsg_lambda_work_add(w->warnings, json_string(msg));
}

/* max(FSG_LAMBDA_MARGIN_MIN_MS, FSG_LAMBDA_MARGIN_PERCENT % of the invocation's budget). */
static int64_t s_margin_ms(const struct fsg_lambda_invocation *inv, int64_t start_ms)
{
    int64_t budget = fsg_lambda_remaining_ms(inv, start_ms);
    if (budget == INT64_MAX || budget <= 0) {
        return FSG_LAMBDA_MARGIN_MIN_MS;
    }
    int64_t m = budget / 100 * FSG_LAMBDA_MARGIN_PERCENT;
    return m > FSG_LAMBDA_MARGIN_MIN_MS ? m : FSG_LAMBDA_MARGIN_MIN_MS;
}

static void s_work_clean_up(struct fsg_lambda_work *w)
{
    json_decref(w->objects);
    json_decref(w->filtered);
    json_decref(w->targets);
    json_decref(w->deferred);
    json_decref(w->warnings);
    json_decref(w->nlb);
    json_decref(w->calls);
    fsg_free(w->msg_failed);
}

void fsg_lambda_work_fail_message(struct fsg_lambda_work *w, size_t message)
{
    if (message != FSG_S3_EVENT_NO_MESSAGE && message < w->n_messages) {
        w->msg_failed[message] = true;
    }
}

static enum fsg_err s_work_init(struct s_state *st, const struct fsg_lambda_invocation *inv,
                                const struct fsg_s3_event *ev, int64_t start_ms,
                                struct fsg_lambda_work *w)
{
    *w = (struct fsg_lambda_work){ .st = &st->core, .inv = inv,
                                   .margin_ms = s_margin_ms(inv, start_ms),
                                   .dry_run = st->core.config->dry_run || ev->dry_run,
                                   .objects = json_array(), .filtered = json_array(),
                                   .targets = json_array(), .deferred = json_array(),
                                   .warnings = json_array(), .calls = json_array(),
                                   .msg_failed = fsg_calloc(ev->n_messages + 1, sizeof(bool)),
                                   .n_messages = ev->n_messages };
    bool ok = w->objects != NULL && w->filtered != NULL && w->targets != NULL &&
              w->deferred != NULL && w->warnings != NULL && w->calls != NULL &&
              w->msg_failed != NULL;
    for (size_t i = 0; ok && i < ev->n_messages; i++) {
        if (ev->messages[i].error != NULL) {
            w->msg_failed[i] = true;
            ok = fsg_lambda_work_warn(w, "SQS message %s: %s", ev->messages[i].id,
                                      ev->messages[i].error) == FSG_OK;
        }
    }
    return ok ? FSG_OK : FSG_E_NOMEM;
}

/* A key is read when flowlogs.key_regex matches it; a "folder/" key never is (it would name a
 * prefix, not an object). */
static bool s_key_wanted(struct s_state *st, const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || key[n - 1] == '/') {
        return false;
    }
    if (st->key_regex == NULL) {
        return true;
    }
    return pcre2_match(st->key_regex, (PCRE2_SPTR)key, n, 0, 0, st->match, NULL) >= 0;
}

static enum fsg_err s_objects(struct s_state *st, struct fsg_lambda_work *w,
                              const struct fsg_s3_event *ev, struct fsg_error *err)
{
    bool *wanted = fsg_calloc(ev->n_items + 1, sizeof *wanted);
    if (wanted == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < ev->n_items; i++) {
        const struct fsg_s3_event_item *it = &ev->items[i];
        wanted[i] = s_key_wanted(st, it->key);
        if (!wanted[i]) {
            rc = fsg_lambda_work_add(w->filtered, json_pack("{s:s, s:s}", "bucket", it->bucket,
                                                            "key", it->key));
        }
    }
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory");
    } else {
        rc = fsg_lambda_work_flows(w, ev, wanted, err);
    }
    fsg_free(wanted);
    return rc;
}

/* The scheduled event: every target, then nlb-sync when configured. Both run; the first
 * failure is the invocation's. */
static enum fsg_err s_scheduled(struct fsg_lambda_work *w, struct fsg_error *err)
{
    enum fsg_err rc = fsg_lambda_work_reconcile_all(w, err);
    const struct fsg_config_nlb *n = &w->st->config->nlb;
    if (n->target_group_arn == NULL || n->rds_instance == NULL) {
        return rc;
    }
    if (rc != FSG_OK) {
        fsg_log(FSG_LOG_ERROR, "reconcile: %s (%s)", err->msg, fsg_err_name(rc));
        struct fsg_error nerr = { 0 };
        if (fsg_lambda_work_nlb(w, &nerr) != FSG_OK) {
            fsg_log(FSG_LOG_ERROR, "%s", nerr.msg);
        }
        return rc;
    }
    return fsg_lambda_work_nlb(w, err);
}

static enum fsg_err s_dispatch(struct s_state *st, struct fsg_lambda_work *w,
                               const struct fsg_s3_event *ev, struct fsg_error *err)
{
    switch (ev->kind) {
    case FSG_S3_EVENT_OBJECTS: {
        enum fsg_err rc = s_objects(st, w, ev, err);
        if (rc == FSG_OK && ev->n_calls > 0) { /* an SQS batch may hold CloudTrail events too */
            rc = fsg_lambda_work_calls(w, ev, err);
        }
        return rc;
    }
    case FSG_S3_EVENT_API_CALL:
        return fsg_lambda_work_calls(w, ev, err);
    case FSG_S3_EVENT_SCAN:
        return fsg_lambda_work_flows(w, ev, NULL, err);
    case FSG_S3_EVENT_RECONCILE_ALL:
        return s_scheduled(w, err);
    case FSG_S3_EVENT_NLB_SYNC:
        return fsg_lambda_work_nlb(w, err);
    case FSG_S3_EVENT_TEST:
        return FSG_OK;
    }
    return fsg_error_set(err, FSG_E_INTERNAL, "unknown event kind");
}

/* {"request_id", "kind", "origin", "dry_run", "objects", "filtered", "targets", "deferred",
 *  "partial", "warnings", "ignored", "policy", "policy_version", "nlb"?, "elapsed_ms",
 *  "remaining_ms"}. */
static enum fsg_err s_summary(const struct fsg_lambda_work *w, const struct fsg_s3_event *ev,
                              int64_t start_ms, struct fsg_buf *out_json, struct fsg_error *err)
{
    int64_t now = fsg_lambda_now_ms();
    int64_t left = fsg_lambda_remaining_ms(w->inv, now);
    json_t *s = json_pack("{s:s, s:s, s:s, s:b, s:O, s:O, s:O, s:O, s:b, s:O, s:I, s:o, s:I, s:o}",
                          "request_id", w->inv->request_id, "kind",
                          fsg_s3_event_kind_name(ev->kind), "origin", ev->origin, "dry_run",
                          w->dry_run, "objects", w->objects, "filtered", w->filtered, "targets",
                          w->targets, "deferred", w->deferred, "partial",
                          json_array_size(w->deferred) > 0, "warnings", w->warnings, "ignored",
                          (json_int_t)ev->n_ignored, "policy",
                          w->policy != NULL ? json_string(w->policy) : json_null(), "elapsed_ms",
                          (json_int_t)(now - start_ms), "remaining_ms",
                          left == INT64_MAX ? json_null() : json_integer(left));
    enum fsg_err rc = s != NULL ? FSG_OK : FSG_E_NOMEM;
    const char *pver = w->policy != NULL ? w->st->policy_version : NULL;
    if (rc == FSG_OK && json_object_set_new(s, "policy_version", pver != NULL ? json_string(pver)
                                                                              : json_null()) != 0) {
        rc = FSG_E_NOMEM;
    }
    if (rc == FSG_OK && w->nlb != NULL && json_object_set(s, "nlb", w->nlb) != 0) {
        rc = FSG_E_NOMEM;
    }
    if (rc == FSG_OK && json_object_set(s, "calls", w->calls) != 0) {
        rc = FSG_E_NOMEM;
    }
    if (rc == FSG_OK && strcmp(ev->origin, "sqs") == 0) {
        /* Lambda's partial batch response: the messages to deliver again ("Handling errors for
         * an SQS event source in Lambda": {"batchItemFailures": [{"itemIdentifier": ID}]}). The
         * other members of the summary are not part of that contract and are left alone. */
        json_t *failures = json_array();
        rc = failures != NULL && json_object_set_new(s, "batchItemFailures", failures) == 0
                 ? FSG_OK
                 : FSG_E_NOMEM;
        for (size_t i = 0; rc == FSG_OK && i < ev->n_messages; i++) {
            if (w->msg_failed[i]) {
                rc = fsg_lambda_work_add(failures, json_pack("{s:s}", "itemIdentifier",
                                                             ev->messages[i].id));
            }
        }
    }
    if (rc == FSG_OK) {
        rc = fsg_json_dump(s, JSON_COMPACT, out_json);
    }
    json_decref(s);
    return rc == FSG_OK ? FSG_OK : fsg_error_set(err, rc, "out of memory building the summary");
}

static void s_log_done(const struct fsg_lambda_work *w, const struct fsg_s3_event *ev,
                       int64_t start_ms)
{
    fsg_log(FSG_LOG_INFO, "invocation %s: %s event (%s): %zu object(s), %zu target(s), %zu "
            "deferred%s, %lld ms", w->inv->request_id, fsg_s3_event_kind_name(ev->kind),
            ev->origin, json_array_size(w->objects), json_array_size(w->targets),
            json_array_size(w->deferred), json_array_size(w->deferred) > 0 ? " (partial)" : "",
            (long long)(fsg_lambda_now_ms() - start_ms));
}

/* The invocation's hard stop for every HTTP request, retry and wait (lib/core/deadline.h):
 * the Runtime API's Lambda-Runtime-Deadline-Ms less S_ANSWER_MS to post the (partial) answer,
 * or the config's timeout_s when that comes first. */
#define S_ANSWER_MS 1000
static void s_set_run_deadline(const struct s_state *st, const struct fsg_lambda_invocation *inv)
{
    struct fsg_deadline d = FSG_DEADLINE_NONE;
    if (inv->deadline_ms > 0) {
        d = fsg_deadline_from_epoch_ms(inv->deadline_ms, S_ANSWER_MS);
    }
    if (st->core.config->timeout_s > 0) {
        d = fsg_deadline_min(d, fsg_deadline_in_ms((int64_t)st->core.config->timeout_s * 1000));
    }
    fsg_run_deadline_set(d);
}

/* An SQS batch: a target that failed or was deferred fails every message (the reconcile is
 * level-triggered: delivering them again is safe); when no message is left that succeeded, the
 * invocation fails as a whole, which retries the batch whether or not the event source mapping
 * reports batch item failures. */
static enum fsg_err s_batch_outcome(struct fsg_lambda_work *w, struct fsg_error *err)
{
    if (w->n_messages == 0) {
        return FSG_OK;
    }
    bool target_failed = false;
    size_t i;
    json_t *v;
    json_array_foreach(w->targets, i, v) {
        target_failed = target_failed || json_object_get(v, "error") != NULL;
    }
    json_array_foreach(w->deferred, i, v) {
        target_failed = target_failed || json_object_get(v, "target") != NULL;
    }
    size_t failed = 0;
    for (size_t m = 0; m < w->n_messages; m++) {
        w->msg_failed[m] = w->msg_failed[m] || target_failed;
        failed += w->msg_failed[m];
    }
    if (failed == w->n_messages) {
        return fsg_error_set(err, FSG_E_REJECTED,
                             "every message of the SQS batch (%zu) failed: see the warnings and "
                             "the objects' errors in the log; the batch will be delivered again",
                             w->n_messages);
    }
    return FSG_OK;
}

/* The invocation's metrics as one CloudWatch Embedded Metric Format line on stdout (Lambda
 * sends stdout to CloudWatch Logs, which extracts the metrics: CloudWatch User Guide,
 * "Specification: Embedded metric format"): namespace "flowseg", dimension FunctionName.
 *   Changes     rules authorized + revoked by this invocation (0 in a dry run)
 *   Refusals    targets a guard refused
 *   CutSources  observed sources with accepted traffic that the applied policy no longer lets
 *               in (from the plan's impact; invocations without flows, such as schedules and
 *               CloudTrail events, report 0 because they observe no traffic)
 *   Errors      objects that could not be read + targets whose apply failed + 1 when the
 *               invocation failed as a whole (bad event, PCE or AWS unreadable)
 *   Duration    milliseconds spent on the invocation */
static void s_metrics(const struct fsg_lambda_state *st, const struct fsg_lambda_work *w,
                      enum fsg_err rc, int64_t start_ms)
{
    json_int_t changes = 0, refusals = 0, cut = 0, errors = rc != FSG_OK ? 1 : 0;
    size_t i;
    json_t *v;
    if (w != NULL) {
        json_array_foreach(w->targets, i, v) {
            const char *status = json_string_value(json_object_get(v, "status"));
            if (status != NULL && strcmp(status, "dry_run") != 0) {
                changes += json_integer_value(json_object_get(v, "added")) +
                           json_integer_value(json_object_get(v, "removed"));
            }
            refusals += json_object_get(v, "refused") != NULL;
            errors += json_object_get(v, "error") != NULL;
            json_int_t c = json_integer_value(json_object_get(v, "cut_sources"));
            cut += c > 0 ? c : 0;
        }
        json_array_foreach(w->objects, i, v) {
            errors += json_object_get(v, "error") != NULL;
        }
    }
    const char *fn = st->function_name != NULL ? st->function_name : "flowseg";
    int64_t now = fsg_lambda_now_ms();
    json_t *line = json_pack(
        "{s:{s:I, s:[{s:s, s:[[s]], s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, "
        "{s:s, s:s}]}]}, s:s, s:I, s:I, s:I, s:I, s:I}",
        "_aws", "Timestamp", (json_int_t)now, "CloudWatchMetrics", "Namespace", "flowseg",
        "Dimensions", "FunctionName", "Metrics", "Name", "Changes", "Unit", "Count", "Name",
        "Refusals", "Unit", "Count", "Name", "CutSources", "Unit", "Count", "Name", "Errors",
        "Unit", "Count", "Name", "Duration", "Unit", "Milliseconds", "FunctionName", fn,
        "Changes", changes, "Refusals", refusals, "CutSources", cut, "Errors", errors,
        "Duration", (json_int_t)(now - start_ms));
    char *text = line != NULL ? json_dumps(line, JSON_COMPACT) : NULL;
    if (text != NULL) {
        fprintf(stdout, "%s\n", text);
        fflush(stdout);
    } else {
        fsg_log(FSG_LOG_WARN, "out of memory writing the invocation's metrics");
    }
    free(text);
    json_decref(line);
}

static enum fsg_err s_handle(const struct fsg_lambda_invocation *inv, struct fsg_buf *out_json,
                             struct fsg_error *err, void *userdata)
{
    struct s_state *st = userdata;
    int64_t start_ms = fsg_lambda_now_ms();
    struct fsg_s3_event *ev = NULL;
    struct fsg_lambda_work w = { 0 };
    s_set_run_deadline(st, inv);
    enum fsg_err rc = fsg_s3_event_parse(fsg_span_from_buf(&inv->event), &ev, err);
    if (rc != FSG_OK) {
        fsg_log(FSG_LOG_ERROR, "invocation %s: %s", inv->request_id, err->msg);
        goto out;
    }
    rc = s_work_init(st, inv, ev, start_ms, &w);
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory");
        goto out;
    }
    rc = s_dispatch(st, &w, ev, err);
    if (rc != FSG_OK) {
        fsg_log(FSG_LOG_ERROR, "invocation %s: %s (%s)", inv->request_id, err->msg,
                fsg_err_name(rc));
        goto out;
    }
    rc = s_batch_outcome(&w, err);
    if (rc != FSG_OK) {
        fsg_log(FSG_LOG_ERROR, "invocation %s: %s", inv->request_id, err->msg);
        goto out;
    }
    rc = s_summary(&w, ev, start_ms, out_json, err);
    if (rc == FSG_OK) {
        s_log_done(&w, ev, start_ms);
    }

out:
    s_metrics(&st->core, w.targets != NULL ? &w : NULL, rc, start_ms);
    s_work_clean_up(&w);
    fsg_s3_event_destroy(ev);
    fsg_run_deadline_set(FSG_DEADLINE_NONE);
    return rc;
}

/* ---- entry ----------------------------------------------------------------------------------- */

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
        fputs(s_usage_text, stdout);
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
            st.core.config->n_targets, api);
    rc = fsg_lambda_run(rt, s_handle, &st, &err);
    if (rc != FSG_OK) {
        exit_code = fsg_cli_error(cli, "lambda", &err);
    }

out:
    s_state_clean_up(&st);
    fsg_lambda_destroy(rt);
    return exit_code;
}
