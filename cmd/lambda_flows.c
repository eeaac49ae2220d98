/* The Lambda's S3 work: the objects of an S3/EventBridge event (or of a scanned prefix) are
 * streamed one at a time from GetObject into one flow table (never held whole in memory), with
 * the deadline checked before each; then the targets whose interfaces appear in the flows are
 * reconciled (cmd/lambda_apply.c). See cmd/lambda_internal.h. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/lambda_internal.h"
#include "cmd/sources.h"
#include "flowlogs/aggregate.h"
#include "flowlogs/s3_source.h"
#include "flowlogs/summary.h"
#include "flowlogs/source.h"
#include "lib/aws/aws.h"
#include "lib/aws/sigv4.h"
#include "lib/aws/sqs.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"

/* Deferred objects listed one by one in the summary; more are only counted. */
#define S_MAX_DEFERRED_LISTED 200

/* What reading the objects of one invocation holds; released in one place. */
struct s_flows {
    struct fsg_recon run;          /* every target resolved (borrows the state's clients) */
    struct fsg_eni_hint *hints;
    size_t n_hints;
    const char **hint_enis;        /* the hints' interfaces: what a flow summary keeps */
    struct fsg_aggregate *agg;     /* NULL until the first object is read */
    struct fsg_s3_source *s3;
    struct fsg_flowlog_options dec;
    size_t n_deferred;
};

static void s_flows_clean_up(struct s_flows *f)
{
    fsg_s3_source_destroy(f->s3);
    fsg_aggregate_destroy(f->agg);
    fsg_free(f->hints);
    fsg_free((void *)f->hint_enis);
    fsg_lambda_recon_release(&f->run);
    fsg_recon_clean_up(&f->run);
}

static json_t *s_object_json(const char *bucket, const char *key, size_t key_len, uint64_t size)
{
    json_t *o = json_pack("{s:s, s:s%}", "bucket", bucket, "key", key, key_len);
    if (o != NULL && size > 0 && json_object_set_new(o, "size", json_integer((json_int_t)size))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static enum fsg_err s_defer(struct fsg_lambda_work *w, struct s_flows *f, json_t *entry)
{
    if (++f->n_deferred > S_MAX_DEFERRED_LISTED) {
        json_decref(entry);
        return FSG_OK;
    }
    return fsg_lambda_work_add(w->deferred, entry);
}

/* Resolves every target (interfaces for the flow engine's hints), then the flow table and the
 * S3 source; once per invocation, before the first object. */
static enum fsg_err s_setup(struct fsg_lambda_work *w, struct s_flows *f, struct fsg_error *err)
{
    struct fsg_lambda_state *st = w->st;
    enum fsg_err rc = fsg_lambda_state_aws(st, err);
    if (rc != FSG_OK) {
        return rc;
    }
    fsg_lambda_recon_borrow(st, &f->run);
    struct fsg_recon_options o = { .cmd = "lambda" };
    rc = fsg_recon_resolve_targets(&o, &f->run, true, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "aws (nothing changed): ");
        return rc;
    }
    rc = fsg_recon_eni_hints(&f->run, &f->hints, &f->n_hints);
    if (rc == FSG_OK) {
        struct fsg_aggregate_options ao = { .hints = f->hints, .n_hints = f->n_hints };
        rc = fsg_aggregate_new(&ao, &f->agg, err);
    }
    if (rc == FSG_OK) { /* a fixed budget, whatever the objects hold (README "Memory budget") */
        size_t bytes =
            fsg_sources_lambda_table_bytes(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));
        rc = fsg_aggregate_set_memory(f->agg, bytes, err);
        fsg_log(FSG_LOG_DEBUG, "flow table: %zu KiB of memory, then sorted runs on disk",
                bytes >> 10);
    }
    if (rc == FSG_OK) {
        /* One job: every object goes through the state's HTTP client and credentials. */
        struct fsg_aws_client_options tmpl = { .http = st->http, .creds = st->creds };
        /* A summary keeps the targets' interfaces, as plan/apply read them (cmd/sources.c). */
        char fingerprint[65] = "";
        f->hint_enis = fsg_calloc(f->n_hints + 1, sizeof *f->hint_enis);
        rc = f->hint_enis != NULL ? FSG_OK : FSG_E_NOMEM;
        for (size_t i = 0; rc == FSG_OK && i < f->n_hints; i++) {
            f->hint_enis[i] = f->hints[i].eni;
        }
        if (rc == FSG_OK && st->config->flowlog_summaries != NULL) {
            rc = fsg_summary_fingerprint(f->hints, f->n_hints, f->hint_enis, f->n_hints,
                                         st->config->flowlog_format, fingerprint);
        }
        struct fsg_s3_source_options so = { .region = st->config->region,
                                            .key_regex = st->config->key_regex,
                                            .since_s = FSG_S3_TIME_NONE,
                                            .until_s = FSG_S3_TIME_NONE, .aws = &tmpl,
                                            .summaries_url = st->config->flowlog_summaries,
                                            .summary_fingerprint = fingerprint,
                                            .summary_enis = f->hint_enis,
                                            .n_summary_enis = f->n_hints,
                                            /* objects are read and reported one by one */
                                            .no_rollups = true };
        if (rc == FSG_OK) {
            rc = fsg_s3_source_new(&so, &f->s3, err);
        }
    }
    f->dec = (struct fsg_flowlog_options){ .format = st->config->flowlog_format };
    return rc == FSG_E_NOMEM ? fsg_error_set(err, rc, "out of memory") : rc;
}

/* Streams one object into the table; its outcome goes into entry: "records", or "error" (and
 * "offset", the input byte where the object failed, when known).
 * Fails only when the run itself cannot go on (memory). */
static enum fsg_err s_read_object(struct s_flows *f, const struct fsg_object *obj, json_t *entry,
                                  enum fsg_err *ret_code, struct fsg_error *err)
{
    struct fsg_object o = *obj;
    if (o.default_eni == NULL) {
        o.default_eni = fsg_recon_default_eni(&f->run, o.name);
    }
    uint64_t before = fsg_aggregate_stats(f->agg)->records;
    struct fsg_run_options ro = { .jobs = 1, .decoder = &f->dec };
    struct fsg_run_result res = { 0 };
    enum fsg_err rc = fsg_run_objects(&o, 1, &ro, f->agg, &res, err);
    if (rc == FSG_OK && res.n_errors > 0) {
        const struct fsg_run_error *e = &res.errors[0];
        if (ret_code != NULL) {
            *ret_code = e->offset == 0 ? e->code : FSG_E_PARSE;
        }
        fsg_log(FSG_LOG_WARN, "%s: at byte %" PRIu64 ": %s (%s)", e->source, e->offset,
                e->message, fsg_err_name(e->code));
        json_t *msg = json_sprintf("%s (%s)", e->message, fsg_err_name(e->code));
        bool bad = json_object_set_new(entry, "error", msg) != 0;
        if (!bad && e->offset > 0) {
            bad = json_object_set_new(entry, "offset", json_integer((json_int_t)e->offset)) != 0;
        }
        rc = bad ? FSG_E_NOMEM : FSG_OK;
    } else if (rc == FSG_OK) {
        uint64_t n = fsg_aggregate_stats(f->agg)->records - before;
        rc = json_object_set_new(entry, "records", json_integer((json_int_t)n)) == 0
                 ? FSG_OK
                 : FSG_E_NOMEM;
    }
    fsg_run_result_clean_up(&res);
    return rc == FSG_E_NOMEM ? fsg_error_set(err, rc, "out of memory") : rc;
}

/* Reads s3://bucket/key into entry ("records", or "error"). *ret_code: the object's own
 * failure (FSG_E_NOT_FOUND when S3 has no such object), FSG_OK when it was read. */
static enum fsg_err s_read_key(struct s_flows *f, const char *bucket, const char *key,
                               json_t *entry, enum fsg_err *ret_code, struct fsg_error *err)
{
    struct fsg_buf url = FSG_BUF_INIT;
    struct fsg_object *objs = NULL;
    size_t n = 0;
    struct fsg_error oerr = { 0 };
    *ret_code = FSG_OK;
    enum fsg_err rc = fsg_buf_printf(&url, "s3://%s/%s", bucket, key);
    if (rc == FSG_OK) {
        /* A key named in full is never listed; a refused one (Parquet) is this object's error. */
        enum fsg_err orc = fsg_s3_source_expand(f->s3, fsg_buf_cstr(&url), &objs, &n, &oerr);
        if (orc == FSG_OK && n == 1) {
            rc = s_read_object(f, &objs[0], entry, ret_code, err);
        } else if (orc == FSG_E_NOMEM) {
            rc = fsg_error_set(err, orc, "out of memory");
        } else {
            *ret_code = orc != FSG_OK ? orc : FSG_E_NOT_FOUND;
            rc = json_object_set_new(entry, "error", json_string(oerr.msg)) == 0 ? FSG_OK
                                                                                : FSG_E_NOMEM;
        }
    } else {
        rc = fsg_error_set(err, rc, "out of memory");
    }
    fsg_free(objs);
    fsg_buf_clean_up(&url);
    return rc;
}

/* An EventBridge key that S3 does not have: its form-decoded form, when that differs (see
 * struct fsg_s3_event_item.key_as_sent). Reads it into entry; FSG_OK with entry unchanged when
 * there is no other form. */
static enum fsg_err s_read_decoded(struct fsg_lambda_work *w, struct s_flows *f,
                                   const struct fsg_s3_event_item *it, json_t *entry,
                                   struct fsg_error *err)
{
    struct fsg_buf decoded = FSG_BUF_INIT;
    struct fsg_error derr = { 0 };
    enum fsg_err rc = FSG_OK;
    if (fsg_s3_key_form_decode(fsg_span_from_cstr(it->key), &decoded, &derr) == FSG_OK &&
        strcmp(fsg_buf_cstr(&decoded), it->key) != 0) {
        fsg_log(FSG_LOG_INFO, "s3://%s/%s: no such key; trying its URL-decoded form %s",
                it->bucket, it->key, fsg_buf_cstr(&decoded));
        json_t *second = json_object();
        enum fsg_err code = FSG_OK;
        rc = second != NULL ? s_read_key(f, it->bucket, fsg_buf_cstr(&decoded), second, &code, err)
                            : fsg_error_set(err, FSG_E_NOMEM, "out of memory");
        if (rc == FSG_OK && code == FSG_OK) {
            /* Read under the decoded key: the entry says so. */
            bool bad = json_object_del(entry, "error") != 0 ||
                       json_object_set_new(entry, "key", json_string(fsg_buf_cstr(&decoded))) ||
                       json_object_set_new(entry, "key_as_sent", json_string(it->key)) ||
                       json_object_update(entry, second) != 0;
            rc = bad ? fsg_error_set(err, FSG_E_NOMEM, "out of memory") : FSG_OK;
            if (rc == FSG_OK) {
                rc = fsg_lambda_work_warn(w, "s3://%s/%s was read under its URL-decoded key "
                                             "(the event sent it encoded)",
                                          it->bucket, fsg_buf_cstr(&decoded));
            }
        }
        json_decref(second);
    }
    fsg_buf_clean_up(&decoded);
    return rc;
}

/* One object named by the event. An object that could not be read (or was deferred) fails
 * its SQS message (batchItemFailures), not the others. */
static enum fsg_err s_event_object(struct fsg_lambda_work *w, struct s_flows *f,
                                   const struct fsg_s3_event_item *it, struct fsg_error *err)
{
    json_t *entry = s_object_json(it->bucket, it->key, strlen(it->key), it->size);
    if (entry == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    if (!fsg_lambda_work_in_time(w, w->margin_ms)) {
        fsg_lambda_work_fail_message(w, it->message);
        return s_defer(w, f, entry);
    }
    if (w->st->config->n_targets == 0) {
        return fsg_lambda_work_add(w->objects, entry); /* listed, not read */
    }
    enum fsg_err code = FSG_OK;
    enum fsg_err rc = f->agg == NULL ? s_setup(w, f, err) : FSG_OK;
    if (rc == FSG_OK) {
        rc = s_read_key(f, it->bucket, it->key, entry, &code, err);
    }
    if (rc == FSG_OK && code == FSG_E_NOT_FOUND && it->key_as_sent) {
        rc = s_read_decoded(w, f, it, entry, err);
    }
    if (rc != FSG_OK) {
        json_decref(entry);
        return rc;
    }
    if (json_object_get(entry, "error") != NULL) {
        fsg_lambda_work_fail_message(w, it->message);
    }
    return fsg_lambda_work_add(w->objects, entry);
}

/* "s3://bucket/key" (a name the source made) -> an entry. */
static json_t *s_listed_json(const char *name)
{
    const char *b = name + 5;
    const char *slash = strchr(b, '/');
    if (slash == NULL) {
        return NULL;
    }
    char bucket[256];
    size_t blen = (size_t)(slash - b) < sizeof bucket ? (size_t)(slash - b) : sizeof bucket - 1;
    memcpy(bucket, b, blen);
    bucket[blen] = '\0';
    return s_object_json(bucket, slash + 1, strlen(slash + 1), 0);
}

/* {"scan": URL}: the URL means what a `flowseg flows` SOURCE means (a trailing "/" = every
 * object below the prefix, filtered by key_regex; else that one object). A listing error fails
 * the invocation: nothing was read. */
static enum fsg_err s_scan(struct fsg_lambda_work *w, struct s_flows *f,
                           const struct fsg_s3_event_item *it, struct fsg_error *err)
{
    if (!fsg_lambda_work_in_time(w, w->margin_ms)) {
        json_t *entry = s_object_json(it->bucket, it->key, strlen(it->key), 0);
        return entry != NULL ? s_defer(w, f, entry)
                             : fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    if (w->st->config->n_targets == 0) {
        return FSG_OK;
    }
    struct fsg_buf url = FSG_BUF_INIT;
    struct fsg_object *objs = NULL;
    size_t n = 0;
    enum fsg_err rc = s_setup(w, f, err);
    if (rc == FSG_OK && fsg_buf_printf(&url, "s3://%s/%s", it->bucket, it->key) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    if (rc == FSG_OK) {
        rc = fsg_s3_source_expand(f->s3, fsg_buf_cstr(&url), &objs, &n, err);
    }
    if (rc == FSG_OK) {
        fsg_log(FSG_LOG_INFO, "scan %s: %zu object(s)", fsg_buf_cstr(&url), n);
    }
    for (size_t i = 0; rc == FSG_OK && i < n; i++) {
        json_t *entry = s_listed_json(objs[i].name);
        if (entry == NULL) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
        } else if (!fsg_lambda_work_in_time(w, w->margin_ms)) {
            rc = s_defer(w, f, entry);
        } else if ((rc = s_read_object(f, &objs[i], entry, NULL, err)) == FSG_OK) {
            rc = fsg_lambda_work_add(w->objects, entry);
        } else {
            json_decref(entry);
        }
    }
    fsg_free(objs);
    fsg_buf_clean_up(&url);
    return rc;
}

/* ---- fan-out (a backfill on AWS's engines) ------------------------------------------------- */

/* A fan-out message's body stays under a tenth of a batch's bytes, and its keys under this. The
 * size is checked after a record is added, so the slack holds the largest record: a 1024-byte
 * key form-encoded (x3) and the record around it. */
#define S_FANOUT_KEYS 50
#define S_FANOUT_BODY (FSG_SQS_BATCH_BYTES / FSG_SQS_BATCH_MAX - 4096)

struct s_fanout {
    struct fsg_aws_client *sqs;
    const char *queue;
    char *bodies[FSG_SQS_BATCH_MAX];
    size_t n_bodies;
    struct fsg_buf cur;   /* the message being built */
    size_t cur_keys;
    size_t objects, messages;
};

static enum fsg_err s_fanout_flush(struct s_fanout *fo, bool all, struct fsg_error *err)
{
    enum fsg_err rc = FSG_OK;
    if (fo->cur_keys > 0 && (all || fo->cur_keys == S_FANOUT_KEYS || fo->cur.len > S_FANOUT_BODY)) {
        rc = fsg_buf_append_cstr(&fo->cur, "]}");
        char *body = rc == FSG_OK ? fsg_buf_strdup(&fo->cur) : NULL;
        if (body == NULL) {
            return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
        }
        fo->bodies[fo->n_bodies++] = body;
        fsg_buf_reset(&fo->cur);
        fo->cur_keys = 0;
    }
    if (fo->n_bodies > 0 && (all || fo->n_bodies == FSG_SQS_BATCH_MAX)) {
        rc = fsg_sqs_send_batch(fo->sqs, fo->queue, (const char *const *)fo->bodies, fo->n_bodies,
                                err);
        fo->messages += rc == FSG_OK ? fo->n_bodies : 0;
        for (size_t i = 0; i < fo->n_bodies; i++) {
            fsg_free(fo->bodies[i]);
        }
        fo->n_bodies = 0;
    }
    return rc;
}

/* One listed object into the current message: an S3 notification record, as S3 itself would
 * send it, so the consuming side reads it like any other (aws-wire.md §2). */
static enum fsg_err s_fanout_add(struct s_fanout *fo, const struct fsg_object *obj,
                                 struct fsg_error *err)
{
    const char *b = obj->name + 5, *slash = strchr(b, '/');
    if (slash == NULL) {
        return FSG_OK;
    }
    enum fsg_err rc = fsg_buf_append_cstr(&fo->cur, fo->cur_keys == 0
                                                        ? "{\"flowseg_fanout\":true,\"Records\":["
                                                        : ",");
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(&fo->cur, "{\"eventSource\":\"aws:s3\",\"eventName\":"
                            "\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"%.*s\"},"
                            "\"object\":{\"key\":\"", (int)(slash - b), b);
    }
    if (rc == FSG_OK) {
        /* percent-encoded (%20 for a space where S3 writes '+'): fsg_s3_key_form_decode, on
         * the consuming side, reads both */
        rc = fsg_uri_encode(&fo->cur, fsg_span_from_cstr(slash + 1), true);
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(&fo->cur, "\",\"size\":%" PRIu64 "}}}", obj->size);
    }
    if (rc != FSG_OK) {
        return fsg_error_set(err, rc, "out of memory");
    }
    fo->cur_keys++;
    fo->objects++;
    return s_fanout_flush(fo, false, err);
}

/* {"scan": URL, "since"?, "until"?, "fanout": true}: lists the prefix (key_regex and the time
 * window applied) and sends its keys to flowlogs.fanout_queue_url in batches, each an S3
 * notification marked "flowseg_fanout", which the same function consumes from the queue
 * (event source mapping): each batch reads its objects and writes their flow summaries,
 * reconciling nothing. Weeks of logs are summarised by many invocations at once. */
static enum fsg_err s_fanout(struct fsg_lambda_work *w, const struct fsg_s3_event *ev,
                            const struct fsg_s3_event_item *it, struct fsg_error *err)
{
    const struct fsg_config *c = w->st->config;
    if (c->flowlog_summaries == NULL || c->fanout_queue_url == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "a fan-out scan writes flow summaries "
                             "through a queue: set flowlogs.summaries and "
                             "flowlogs.fanout_queue_url (nothing was sent)");
    }
    struct fsg_s3_source_options so = { .region = c->region, .key_regex = c->key_regex,
                                        .since_s = FSG_S3_TIME_NONE, .until_s = FSG_S3_TIME_NONE };
    enum fsg_err rc = FSG_OK;
    if (ev->since != NULL) {
        rc = fsg_s3_parse_time_bound(ev->since, false, &so.since_s, err);
    }
    if (rc == FSG_OK && ev->until != NULL) {
        rc = fsg_s3_parse_time_bound(ev->until, true, &so.until_s, err);
    }
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "scan event: ");
        return rc;
    }
    struct fsg_aws_client_options tmpl = { .http = w->st->http, .creds = w->st->creds };
    so.aws = &tmpl;
    struct fsg_aws_client_options qo = { .service = "sqs", .region = c->region,
                                         .http = w->st->http, .creds = w->st->creds };
    struct fsg_s3_source *src = NULL;
    struct fsg_object *objs = NULL;
    size_t n = 0;
    struct fsg_buf url = FSG_BUF_INIT;
    struct s_fanout fo = { .queue = c->fanout_queue_url, .cur = FSG_BUF_INIT };
    rc = fsg_s3_source_new(&so, &src, err);
    if (rc == FSG_OK) {
        rc = fsg_aws_client_new(&qo, &fo.sqs, err);
    }
    if (rc == FSG_OK && fsg_buf_printf(&url, "s3://%s/%s", it->bucket, it->key) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    if (rc == FSG_OK) {
        rc = fsg_s3_source_expand(src, fsg_buf_cstr(&url), &objs, &n, err);
    }
    /* A dry run lists and counts, and sends nothing (consuming the batches would write). */
    for (size_t i = 0; rc == FSG_OK && !w->dry_run && i < n; i++) {
        rc = s_fanout_add(&fo, &objs[i], err);
    }
    if (rc == FSG_OK && !w->dry_run) {
        rc = s_fanout_flush(&fo, true, err);
    }
    fsg_log(rc == FSG_OK ? FSG_LOG_INFO : FSG_LOG_ERROR,
            "fan-out %s: %zu object(s) listed, %zu sent in %zu message(s) to %s", fsg_buf_cstr(&url),
            n, rc == FSG_OK ? fo.objects : 0, fo.messages, fo.queue);
    if (rc == FSG_OK && w->dry_run) {
        rc = fsg_lambda_work_warn(w, "fan-out (dry run): %zu object(s) of %s would be sent to %s; "
                                     "nothing was sent", n, fsg_buf_cstr(&url), fo.queue);
    } else if (rc == FSG_OK) {
        rc = fsg_lambda_work_warn(w, "fan-out: %zu object(s) of %s sent in %zu message(s) to %s; "
                                     "their flow summaries are written as the queue is consumed",
                                  fo.objects, fsg_buf_cstr(&url), fo.messages, fo.queue);
    }
    for (size_t i = 0; i < fo.n_bodies; i++) {
        fsg_free(fo.bodies[i]);
    }
    fsg_buf_clean_up(&fo.cur);
    fsg_buf_clean_up(&url);
    fsg_free(objs);
    fsg_aws_client_destroy(fo.sqs);
    fsg_s3_source_destroy(src);
    return rc;
}

/* keep[i]: target i has an interface that appears in the flow table (any direction). */
static enum fsg_err s_select(struct s_flows *f, bool *keep, struct fsg_error *err)
{
    const char **enis = fsg_calloc(f->n_hints + 1, sizeof *enis);
    if (enis == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < f->n_hints; i++) {
        enis[i] = f->hints[i].eni;
    }
    struct fsg_flow *flows = NULL;
    size_t n = 0;
    enum fsg_err rc = FSG_OK;
    if (f->n_hints > 0) { /* no interface known: no target can be seen (0 would mean "all") */
        rc = fsg_aggregate_result(f->agg, FSG_DIRECTION_ALL, enis, f->n_hints, &flows, &n, err);
    }
    for (size_t i = 0; rc == FSG_OK && i < n; i++) {
        if (i > 0 && strcmp(flows[i].eni, flows[i - 1].eni) == 0) {
            continue; /* sorted by eni: each interface once */
        }
        for (size_t t = 0; t < f->run.n_targets; t++) {
            const struct fsg_resolved_target *r = &f->run.targets[t].res;
            for (size_t k = 0; k < r->n_enis; k++) {
                keep[t] = keep[t] || strcmp(r->enis[k], flows[i].eni) == 0;
            }
        }
    }
    fsg_free(flows);
    fsg_free((void *)enis);
    return rc;
}

/* The targets seen, with the inbound flows for the plan's impact, then the reconcile. */
static enum fsg_err s_reconcile_seen(struct fsg_lambda_work *w, struct s_flows *f,
                                     struct fsg_error *err)
{
    bool *keep = fsg_calloc(f->run.n_targets + 1, sizeof *keep);
    if (keep == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    if (fsg_aggregate_spilled_rows(f->agg) > 0) {
        fsg_log(FSG_LOG_INFO, "flow table: larger than its %zu KiB of memory: %" PRIu64
                " rows in %zu sorted runs on disk, merged now", fsg_aggregate_memory(f->agg) >> 10,
                fsg_aggregate_spilled_rows(f->agg), fsg_aggregate_spilled_runs(f->agg));
    }
    enum fsg_err rc = s_select(f, keep, err);
    if (rc == FSG_OK) {
        fsg_recon_keep_targets(&f->run, keep);
        rc = fsg_aggregate_result(f->agg, FSG_DIRECTION_INGRESS, NULL, 0, &f->run.flows,
                                  &f->run.n_flows, err);
        f->run.has_flows = true;
    }
    if (rc == FSG_OK && f->run.n_targets > 0) {
        rc = fsg_recon_read_other_groups(&f->run, err); /* impact: the effective access */
    }
    fsg_free(keep);
    if (rc != FSG_OK) {
        return rc;
    }
    fsg_log(FSG_LOG_INFO, "%zu of %zu target(s) seen in the flows", f->run.n_targets,
            w->st->config->n_targets);
    return fsg_lambda_reconcile(w, &f->run, err);
}

enum fsg_err fsg_lambda_work_flows(struct fsg_lambda_work *w, const struct fsg_s3_event *ev,
                                   const bool *wanted, struct fsg_error *err)
{
    struct s_flows f = { 0 };
    enum fsg_err rc = FSG_OK;
    bool reconcile = false; /* only backfill batches: summaries written, nothing reconciled */
    for (size_t i = 0; rc == FSG_OK && i < ev->n_items; i++) {
        const struct fsg_s3_event_item *it = &ev->items[i];
        if (ev->kind == FSG_S3_EVENT_SCAN && ev->fanout) {
            rc = s_fanout(w, ev, it, err);
            continue;
        }
        if (ev->kind == FSG_S3_EVENT_SCAN) {
            rc = s_scan(w, &f, it, err);
            reconcile = true;
        } else if (wanted[i]) {
            rc = s_event_object(w, &f, it, err);
            reconcile = reconcile || it->message == FSG_S3_EVENT_NO_MESSAGE ||
                        !ev->messages[it->message].summaries_only;
        }
    }
    if (rc == FSG_OK && w->st->config->n_targets == 0 && ev->n_items > 0 && !ev->fanout) {
        rc = fsg_lambda_work_warn(w, "the config has no targets: nothing to reconcile, no "
                                     "object read");
    }
    if (rc == FSG_OK && f.n_deferred > S_MAX_DEFERRED_LISTED) {
        rc = fsg_lambda_work_warn(w, "%zu more deferred object(s) not listed",
                                  f.n_deferred - S_MAX_DEFERRED_LISTED);
    }
    if (rc == FSG_OK && f.agg != NULL && reconcile) {
        rc = s_reconcile_seen(w, &f, err);
    }
    s_flows_clean_up(&f);
    return rc;
}
