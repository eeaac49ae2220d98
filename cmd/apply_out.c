#include "cmd/apply_out.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cmd/reconcile.h"
#include "lib/core/json.h"
#include "policy/report.h"

const char *fsg_apply_status_name(enum fsg_apply_status s)
{
    switch (s) {
    case FSG_APPLY_NOT_RUN:
        return "not_run";
    case FSG_APPLY_UNCHANGED:
        return "unchanged";
    case FSG_APPLY_APPLIED:
        return "applied";
    case FSG_APPLY_REFUSED:
        return "refused";
    case FSG_APPLY_FAILED:
        return "failed";
    case FSG_APPLY_INTERRUPTED:
        return "interrupted";
    }
    return "?";
}

/* Why a target was refused or failed; NULL otherwise. */
static const char *s_reason(const struct fsg_plan_target *pt, const struct fsg_apply_result *r)
{
    if (r->error != NULL) {
        return r->error;
    }
    return r->status == FSG_APPLY_REFUSED ? pt->refused : NULL;
}

static bool s_changed(const struct fsg_apply_result *r)
{
    return r->group_created || r->sg.authorized > 0 || r->sg.revoked > 0 || r->sg.modified > 0 ||
           r->associated;
}

/* ---- text ------------------------------------------------------------------------------------ */

static enum fsg_err s_text_target(struct fsg_buf *b, const struct fsg_plan_target *pt,
                                  const struct fsg_apply_result *r)
{
    enum fsg_err rc = fsg_buf_printf(b, "  %s (%s): ", pt->name, pt->security_group);
    if (rc == FSG_OK && r->status == FSG_APPLY_REFUSED) {
        return fsg_buf_printf(b, "REFUSED, nothing changed%s: %s\n",
                              s_changed(r) ? " after the steps below" : "", s_reason(pt, r));
    }
    if (rc == FSG_OK && r->status == FSG_APPLY_UNCHANGED) {
        return fsg_buf_printf(b, "unchanged\n");
    }
    if (rc == FSG_OK && r->group_created) {
        rc = fsg_buf_printf(b, "group created; ");
    }
    if (rc == FSG_OK && r->sg.modified > 0) {
        rc = fsg_buf_printf(b, "%zu rule(s) rewritten in place (quota), ", r->sg.modified);
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(b, "%zu rule(s) authorized, %zu revoked", r->sg.authorized,
                            r->sg.revoked);
    }
    if (rc == FSG_OK && r->sg.unknown > 0) {
        rc = fsg_buf_printf(b, " (%zu in place after a lost answer: who made the change is "
                               "unknown)", r->sg.unknown);
    }
    if (rc == FSG_OK && r->sg.already_present + r->sg.already_gone > 0) {
        rc = fsg_buf_printf(b, " (%zu already present, %zu already gone: another run got there "
                               "first)", r->sg.already_present, r->sg.already_gone);
    }
    if (rc == FSG_OK && r->associated) {
        rc = fsg_buf_printf(b, "; RDS instance security groups updated");
    }
    if (rc == FSG_OK && r->status == FSG_APPLY_FAILED) {
        rc = fsg_buf_printf(b, "; FAILED: %s", r->error != NULL ? r->error : "?");
    }
    if (rc == FSG_OK && r->status == FSG_APPLY_INTERRUPTED) {
        rc = fsg_buf_printf(b, "; INTERRUPTED: %s", r->error != NULL ? r->error : "?");
    }
    return rc == FSG_OK ? fsg_buf_printf(b, "\n") : rc;
}

static enum fsg_err s_text(const struct fsg_apply_output *out, struct fsg_buf *b)
{
    if (out->dry_run) {
        return fsg_buf_printf(b, "\ndry run (--dry-run or config dry_run): nothing was "
                                 "changed\n");
    }
    size_t n[FSG_APPLY_INTERRUPTED + 1] = { 0 };
    enum fsg_err rc = fsg_buf_printf(b, "\napply:\n");
    for (size_t i = 0; rc == FSG_OK && i < out->plan->n_targets; i++) {
        n[out->results[i].status]++;
        rc = s_text_target(b, &out->plan->targets[i], &out->results[i]);
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(b, "apply: %zu target(s) changed, %zu unchanged, %zu refused, %zu "
                               "failed%s\n", n[FSG_APPLY_APPLIED], n[FSG_APPLY_UNCHANGED],
                            n[FSG_APPLY_REFUSED], n[FSG_APPLY_FAILED],
                            n[FSG_APPLY_INTERRUPTED] > 0 ? ", INTERRUPTED" : "");
    }
    return rc;
}

/* ---- json ------------------------------------------------------------------------------------ */

static json_t *s_json_target(const struct fsg_plan_target *pt, const struct fsg_apply_result *r)
{
    return json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s?}", "name",
                     pt->name, "security_group", pt->security_group, "status",
                     fsg_apply_status_name(r->status), "group_created", r->group_created,
                     "modified", (json_int_t)r->sg.modified, "authorized",
                     (json_int_t)r->sg.authorized, "already_present",
                     (json_int_t)r->sg.already_present, "revoked", (json_int_t)r->sg.revoked,
                     "already_gone", (json_int_t)r->sg.already_gone, "unknown",
                     (json_int_t)r->sg.unknown, "associated", r->associated, "reason",
                     s_reason(pt, r));
}

static enum fsg_err s_json(const struct fsg_apply_output *out, struct fsg_buf *report,
                           struct fsg_buf *b, struct fsg_error *err)
{
    json_t *doc = NULL, *targets = json_array();
    enum fsg_err rc = fsg_json_load(fsg_span_from_buf(report), NULL, &doc, err);
    bool changed = false;
    for (size_t i = 0; rc == FSG_OK && i < out->plan->n_targets; i++) {
        changed = changed || s_changed(&out->results[i]);
        json_t *t = s_json_target(&out->plan->targets[i], &out->results[i]);
        rc = t == NULL || json_array_append_new(targets, t) != 0 ? FSG_E_NOMEM : FSG_OK;
    }
    if (rc == FSG_OK) {
        json_t *apply = json_pack("{s:b, s:b, s:O}", "dry_run", out->dry_run, "changed", changed,
                                  "targets", targets);
        rc = apply == NULL || json_object_set_new(doc, "apply", apply) != 0 ? FSG_E_NOMEM : FSG_OK;
    }
    if (rc == FSG_OK) {
        rc = fsg_json_dump(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER, b);
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_append_byte(b, '\n');
    }
    json_decref(targets);
    json_decref(doc);
    return rc;
}

int fsg_apply_print(struct fsg_cli *cli, const struct fsg_apply_output *out)
{
    struct fsg_error err = { 0 };
    struct fsg_buf report = FSG_BUF_INIT, all = FSG_BUF_INIT;
    enum fsg_err rc = fsg_report_render(out->plan, out->json ? FSG_REPORT_JSON : FSG_REPORT_TEXT,
                                        &report, &err);
    if (rc == FSG_OK && out->json) {
        rc = s_json(out, &report, &all, &err);
    } else if (rc == FSG_OK) {
        rc = fsg_buf_append_span(&all, fsg_span_from_buf(&report));
        if (rc == FSG_OK) {
            rc = s_text(out, &all);
        }
    }
    if (rc == FSG_OK) {
        rc = fsg_recon_write(out->path, &all, &err);
    }
    fsg_buf_clean_up(&all);
    fsg_buf_clean_up(&report);
    return rc == FSG_OK ? FSG_EXIT_OK : fsg_recon_fail(cli, "output", rc, &err);
}

int fsg_apply_exit_code(struct fsg_cli *cli, const struct fsg_apply_output *out)
{
    int ex = FSG_EXIT_OK;
    for (size_t i = 0; i < out->plan->n_targets; i++) {
        const struct fsg_plan_target *pt = &out->plan->targets[i];
        const struct fsg_apply_result *r = &out->results[i];
        if (r->status == FSG_APPLY_REFUSED || r->status == FSG_APPLY_FAILED ||
            r->status == FSG_APPLY_INTERRUPTED) {
            fprintf(stderr, "%s: apply: target %s (%s) %s: %s\n", cli->prog, pt->name,
                    pt->security_group, fsg_apply_status_name(r->status),
                    s_reason(pt, r) != NULL ? s_reason(pt, r) : "?");
            ex = FSG_EXIT_ERROR;
        }
    }
    return ex;
}
