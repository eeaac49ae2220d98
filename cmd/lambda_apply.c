/* The Lambda's reconcile: the policy (cached for policy_ttl_s), the plan of the targets left in
 * the run, then per target, while the deadline allows: create the managed group when asked,
 * authorize first, revoke last, associate (as `flowseg apply`); and nlb-sync. Each target gets
 * one summary entry; a guard's refusal or an AWS failure is that target's "refused"/"error",
 * not the invocation's. See cmd/lambda_internal.h. */
#include <stdlib.h>
#include <string.h>

#include "cmd/apply_out.h"
#include "cmd/apply_target.h"
#include "cmd/lambda_internal.h"
#include "cmd/nlb_cmd.h"
#include "lib/core/ip.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"
#include "cmd/nlb/nlb_sync.h"
#include "policy/impact.h"
#include "policy/sg_apply.h"

/* A target a dry run did not apply is "dry_run". */
static const char *s_status(enum fsg_apply_status s, bool dry_run)
{
    return s == FSG_APPLY_NOT_RUN && dry_run ? "dry_run" : fsg_apply_status_name(s);
}

/* Observed sources with accepted traffic that the desired rules would no longer let in (the
 * plan's impact: the policy's rules, not yet the union of every group on the interface); -1
 * without flows (a schedule or CloudTrail event has none). */
static json_int_t s_cut_sources(const struct fsg_plan_target *pt)
{
    if (pt->impact == NULL) {
        return -1;
    }
    json_int_t n = 0;
    const struct fsg_impact_conn *last = NULL;
    for (size_t i = 0; i < pt->impact->n_would_deny; i++) {
        const struct fsg_impact_conn *c = pt->impact->would_deny[i];
        if (c->accepted == 0) {
            continue;
        }
        if (last == NULL || fsg_ip_cmp(&last->src, &c->src) != 0) {
            n++;
        }
        last = c;
    }
    return n;
}

static int s_set_opt_str(json_t *o, const char *key, const char *value)
{
    return value != NULL ? json_object_set_new(o, key, json_string(value)) : 0;
}

/* {"name", "security_group", "status", "added", "removed", "refused"?, "error"?,
 *  "group_created"?, "associated"?, "warnings"?}; in a dry run added/removed are the plan's. */
static json_t *s_target_json(const struct fsg_plan_target *pt, const struct fsg_apply_result *res,
                             bool dry_run)
{
    size_t added = dry_run ? pt->sg->add.len : res->sg.authorized;
    size_t removed = dry_run ? pt->sg->remove.len : res->sg.revoked;
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "name", pt->name, "security_group",
                          pt->security_group, "status", s_status(res->status, dry_run),
                          "added", (json_int_t)added, "removed", (json_int_t)removed);
    json_t *warnings = json_array();
    int bad = o == NULL || warnings == NULL;
    for (size_t i = 0; !bad && i < pt->n_warnings; i++) {
        bad = json_array_append_new(warnings, json_string(pt->warnings[i]));
    }
    if (!bad) {
        bad = s_set_opt_str(o, "refused", pt->refused != NULL ? pt->refused
                                          : res->status == FSG_APPLY_REFUSED ? res->error
                                                                               : NULL) ||
              s_set_opt_str(o, "error", res->status == FSG_APPLY_FAILED ? res->error : NULL) ||
              (res->group_created && json_object_set_new(o, "group_created", json_true())) ||
              (res->associated && json_object_set_new(o, "associated", json_true())) ||
              (pt->impact != NULL &&
               json_object_set_new(o, "cut_sources", json_integer(s_cut_sources(pt)))) ||
              (pt->n_warnings > 0 && json_object_set(o, "warnings", warnings));
    }
    json_decref(warnings);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static enum fsg_err s_defer_target(struct fsg_lambda_work *w, const char *name)
{
    fsg_log(FSG_LOG_WARN, "target %s deferred: the invocation's deadline is near", name);
    return fsg_lambda_work_add(w->deferred, json_pack("{s:s}", "target", name));
}

static enum fsg_err s_each_target(struct fsg_lambda_work *w, struct fsg_recon *run,
                                  struct fsg_error *err)
{
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < run->plan->n_targets; i++) {
        struct fsg_plan_target *pt = &run->plan->targets[i];
        if (!fsg_lambda_work_in_time(w, w->margin_ms / 2)) {
            rc = s_defer_target(w, pt->name);
            continue;
        }
        struct fsg_apply_result res = { 0 };
        if (!w->dry_run) {
            fsg_apply_target(run, &run->targets[i], pt, false, &res); /* never --force */
        }
        rc = fsg_lambda_work_add(w->targets, s_target_json(pt, &res, w->dry_run));
        fsg_free(res.error);
    }
    return rc == FSG_OK ? FSG_OK : fsg_error_set(err, rc, "out of memory");
}

enum fsg_err fsg_lambda_reconcile(struct fsg_lambda_work *w, struct fsg_recon *run,
                                  struct fsg_error *err)
{
    if (run->n_targets == 0) {
        return FSG_OK;
    }
    if (!fsg_lambda_work_in_time(w, w->margin_ms / 2)) {
        enum fsg_err rc = FSG_OK;
        for (size_t i = 0; rc == FSG_OK && i < run->n_targets; i++) {
            rc = s_defer_target(w, run->targets[i].config->name);
        }
        return rc == FSG_OK ? FSG_OK : fsg_error_set(err, rc, "out of memory");
    }
    enum fsg_err rc = fsg_lambda_state_policy(w->st, &w->policy, err);
    if (rc != FSG_OK) {
        return rc;
    }
    run->model = w->st->model;
    struct fsg_recon_options o = { .cmd = "lambda" };
    fsg_lambda_state_learn(w->st, run);
    rc = fsg_recon_plan_targets(&o, run, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "plan (nothing changed): ");
        return rc;
    }
    /* waits for a busy RDS instance end before the invocation's deadline */
    int64_t now_ms = fsg_lambda_now_ms();
    run->apply_deadline_ms = now_ms + fsg_lambda_remaining_ms(w->inv, now_ms) - w->margin_ms;
    rc = s_each_target(w, run, err);
    fsg_lambda_state_learn(w->st, run); /* a group created just now */
    return rc;
}

enum fsg_err fsg_lambda_work_reconcile_all(struct fsg_lambda_work *w, struct fsg_error *err)
{
    struct fsg_lambda_state *st = w->st;
    if (st->config->n_targets == 0) {
        return FSG_OK;
    }
    if (!fsg_lambda_work_in_time(w, w->margin_ms)) {
        enum fsg_err rc = FSG_OK;
        for (size_t i = 0; rc == FSG_OK && i < st->config->n_targets; i++) {
            rc = s_defer_target(w, st->config->targets[i].name);
        }
        return rc == FSG_OK ? FSG_OK : fsg_error_set(err, rc, "out of memory");
    }
    enum fsg_err rc = fsg_lambda_state_aws(st, err);
    if (rc != FSG_OK) {
        return rc;
    }
    struct fsg_recon run;
    fsg_lambda_recon_borrow(st, &run);
    struct fsg_recon_options o = { .cmd = "lambda" };
    rc = fsg_recon_resolve_targets(&o, &run, false, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "aws (nothing changed): ");
    } else {
        rc = fsg_lambda_reconcile(w, &run, err);
    }
    fsg_lambda_recon_release(&run);
    fsg_recon_clean_up(&run);
    return rc;
}

/* ---- nlb-sync ------------------------------------------------------------------------------ */

/* The healthy wait: the config's, cut to what the deadline leaves (at least 1 s). */
static long s_healthy_timeout_s(const struct fsg_lambda_work *w, long configured_s)
{
    long want = configured_s > 0 ? configured_s : FSG_NLB_DEFAULT_HEALTHY_TIMEOUT_S;
    int64_t left = fsg_lambda_remaining_ms(w->inv, fsg_lambda_now_ms()) - w->margin_ms / 2;
    if (left < (int64_t)want * 1000) {
        want = left >= 1000 ? (long)(left / 1000) : 1;
    }
    return want;
}

static enum fsg_err s_nlb_summary(struct fsg_lambda_work *w, const struct fsg_nlb_sync_options *o,
                                  const struct fsg_nlb_sync_result *r, enum fsg_err rc,
                                  const struct fsg_error *detail)
{
    struct fsg_buf text = FSG_BUF_INIT;
    json_t *nlb = NULL;
    if (r->planned && fsg_nlb_sync_result_json(o, r, &text) == FSG_OK) {
        nlb = json_loadb((const char *)text.ptr, text.len, 0, NULL);
    } else {
        nlb = json_pack("{s:s, s:s, s:s}", "target_group_arn", o->target_group_arn,
                        "rds_instance", o->rds_instance, "result", "failed");
    }
    fsg_buf_clean_up(&text);
    if (nlb != NULL && rc != FSG_OK &&
        json_object_set_new(nlb, "error", json_string(detail->msg)) != 0) {
        json_decref(nlb);
        nlb = NULL;
    }
    json_decref(w->nlb);
    w->nlb = nlb;
    return nlb != NULL ? FSG_OK : FSG_E_NOMEM;
}

enum fsg_err fsg_lambda_work_nlb(struct fsg_lambda_work *w, struct fsg_error *err)
{
    const struct fsg_config_nlb *cn = &w->st->config->nlb;
    if (cn->target_group_arn == NULL || cn->rds_instance == NULL) {
        return fsg_lambda_work_warn(w, "the config has no nlb section (target_group_arn, "
                                       "rds_instance): nothing to sync");
    }
    if (!fsg_lambda_work_in_time(w, w->margin_ms / 2)) {
        fsg_log(FSG_LOG_WARN, "nlb-sync deferred: the invocation's deadline is near");
        return fsg_lambda_work_add(w->deferred, json_pack("{s:s}", "job", "nlb_sync"));
    }
    enum fsg_err rc = fsg_lambda_state_aws(w->st, err);
    if (rc != FSG_OK) {
        return rc;
    }
    struct fsg_nlb_sync_options o = {
        .ec2 = w->st->ec2, .rds = w->st->rds, .elbv2 = w->st->elbv2,
        .target_group_arn = cn->target_group_arn, .rds_instance = cn->rds_instance,
        .port = cn->port, .healthy_timeout_s = s_healthy_timeout_s(w, cn->healthy_timeout_s),
        .poll_ms = fsg_nlb_cmd_poll_ms(), .dry_run = w->dry_run,
        .resolve = fsg_nlb_resolve_getaddrinfo, .on_event = fsg_nlb_cmd_audit,
    };
    struct fsg_nlb_sync_result result = { 0 };
    rc = fsg_nlb_sync_run(&o, &result, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "nlb-sync: ");
        fsg_log(FSG_LOG_ERROR, "%s (%s)", err->msg, fsg_err_name(rc));
    }
    if (s_nlb_summary(w, &o, &result, rc, err) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    fsg_nlb_sync_result_clean_up(&result);
    return rc;
}
