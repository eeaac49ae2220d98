/* The plan/apply pipeline: config, policy, targets, current rules, plan. See reconcile.h. */
#include "cmd/reconcile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/aws/aws.h"
#include "lib/aws/ec2.h"
#include "lib/core/json.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"
#include "policy/compile.h"
#include "cmd/pce_creds.h"
#include "policy/pce.h"
#include "policy/sg_live.h"

int fsg_recon_fail(struct fsg_cli *cli, const char *context, enum fsg_err rc,
                   struct fsg_error *err)
{
    err->code = rc;
    return fsg_cli_error(cli, context, err);
}

enum fsg_err fsg_recon_write(const char *path, const struct fsg_buf *buf, struct fsg_error *err)
{
    FILE *f = path != NULL ? fopen(path, "wb") : stdout;
    if (f == NULL) {
        return fsg_error_set(err, FSG_E_IO, "cannot open %s for writing: %s", path,
                             strerror(errno));
    }
    bool ok = fwrite(buf->ptr != NULL ? (const void *)buf->ptr : "", 1, buf->len, f) == buf->len;
    ok = fflush(f) == 0 && ok;
    if (path != NULL) {
        ok = fclose(f) == 0 && ok;
    }
    if (!ok) {
        return fsg_error_set(err, FSG_E_IO, "cannot write %s: %s",
                             path != NULL ? path : "standard output", strerror(errno));
    }
    return FSG_OK;
}

/* ---- config and policy ----------------------------------------------------------------------- */

int fsg_recon_load_config(struct fsg_cli *cli, const struct fsg_recon_options *o,
                          struct fsg_recon *run)
{
    int ex = fsg_cli_load_config(cli, &run->config);
    if (ex != FSG_EXIT_OK) {
        return ex;
    }
    if (run->config->n_targets == 0) {
        return fsg_cli_usage_error(cli, o->cmd, "the config has no targets: pass --config FILE "
                                                "with a \"targets\" list");
    }
    run->live = o->state == NULL;
    return FSG_EXIT_OK;
}

static enum fsg_err s_fetch_pce(const struct fsg_config *c, json_t **ret_bundle,
                                struct fsg_error *err)
{
    const struct fsg_config_pce *p = &c->pce;
    struct fsg_pce_options o = { .url = p->url, .org_id = p->org_id, .ca_file = p->ca_file,
                                 .timeout_s = p->timeout_s,
                                 .max_job_wait_s = p->async_wait_s };
    struct fsg_pce *pce = NULL;
    struct fsg_secret_source *secret = NULL;
    enum fsg_err rc = fsg_cmd_pce_creds(p, c->region, NULL, NULL, &o, &secret, err);
    if (rc == FSG_OK) {
        rc = fsg_pce_new(&o, &pce, err);
    }
    if (rc == FSG_OK) {
        rc = fsg_pce_fetch_policy(pce, true, ret_bundle, err);
        fsg_log(rc == FSG_OK ? FSG_LOG_INFO : FSG_LOG_WARN, "policy %s from the PCE in %llu "
                "requests", rc == FSG_OK ? "read" : "not read",
                (unsigned long long)fsg_pce_request_count(pce));
    }
    fsg_pce_destroy(pce);
    fsg_secret_source_destroy(secret);
    return rc;
}

/* The bundle from --policy or the live PCE, saved when asked, then the model. */
static int s_load_policy(struct fsg_cli *cli, const struct fsg_recon_options *o,
                         struct fsg_recon *run)
{
    struct fsg_error err = { 0 };
    enum fsg_err rc;
    if (o->policy != NULL) {
        rc = fsg_json_load_file(o->policy, NULL, &run->bundle, &err);
    } else if (run->config->pce.url == NULL) {
        return fsg_cli_usage_error(cli, o->cmd, "no policy source: pass --policy FILE (an "
                                                "exported policy) or set pce.url in the config");
    } else {
        rc = s_fetch_pce(run->config, &run->bundle, &err);
    }
    if (rc == FSG_OK) {
        /* The pinned PCE policy version (what an exported file says, or null). */
        rc = fsg_pce_bundle_version(run->bundle, &run->policy_version, &err);
        if (rc != FSG_OK && o->policy != NULL) {
            fsg_error_prefix(&err, "%s: ", o->policy);
        }
    }
    if (rc != FSG_OK) {
        return fsg_recon_fail(cli, "policy", rc, &err);
    }
    if (run->policy_version != NULL) {
        fsg_log(FSG_LOG_INFO, "policy version %s", run->policy_version);
    }
    if (o->save_policy != NULL) {
        rc = fsg_pce_save_bundle(run->bundle, o->save_policy, &err);
        if (rc != FSG_OK) {
            return fsg_recon_fail(cli, "--save-policy", rc, &err);
        }
    }
    rc = fsg_policy_model_from_json(run->bundle, NULL, &run->model, &err);
    if (rc != FSG_OK) {
        return fsg_recon_fail(cli, o->policy != NULL ? o->policy : "policy", rc, &err);
    }
    return FSG_EXIT_OK;
}

/* ---- AWS ------------------------------------------------------------------------------------- */

int fsg_recon_aws(struct fsg_cli *cli, const struct fsg_recon_options *o, struct fsg_recon *run)
{
    (void)o;
    struct fsg_error err = { 0 };
    struct fsg_aws_client_options ec2 = { .service = "ec2", .region = run->config->region };
    struct fsg_aws_client_options rds = { .service = "rds", .region = run->config->region };
    enum fsg_err rc = fsg_aws_client_new(&ec2, &run->ec2, &err);
    if (rc == FSG_OK) {
        rc = fsg_aws_client_new(&rds, &run->rds, &err);
    }
    return rc == FSG_OK ? FSG_EXIT_OK : fsg_recon_fail(cli, "aws", rc, &err);
}

/* ---- targets --------------------------------------------------------------------------------- */

static enum fsg_resolve_associate s_associate(enum fsg_associate a)
{
    switch (a) {
    case FSG_ASSOCIATE_ADD:
        return FSG_RESOLVE_ASSOCIATE_ADD;
    case FSG_ASSOCIATE_REPLACE:
        return FSG_RESOLVE_ASSOCIATE_REPLACE;
    case FSG_ASSOCIATE_NONE:
        return FSG_RESOLVE_ASSOCIATE_NONE;
    }
    return FSG_RESOLVE_ASSOCIATE_NONE;
}

static void s_request(const struct fsg_config_target *c, bool find_enis,
                      struct fsg_resolve_request *ret)
{
    *ret = (struct fsg_resolve_request){
        .name = c->name, .rds_instance = c->rds_instance, .security_group = c->security_group,
        .create_name = c->create_name, .create_vpc_id = c->create_vpc_id,
        .associate = s_associate(c->associate), .enis = (const char *const *)c->enis,
        .n_enis = c->n_enis, .eni_addrs = (const char *const *)c->eni_addrs,
        .n_eni_addrs = c->n_eni_addrs, .find_enis = find_enis };
}

/* Offline: the group's rules from the state file, or none for a group flowseg will create. */
static enum fsg_err s_current_offline(const struct fsg_recon *run,
                                      const struct fsg_recon_options *o,
                                      struct fsg_recon_target *t, struct fsg_error *err)
{
    const char *id = t->res.group_label;
    const struct fsg_sg_current *cur = fsg_sg_state_find(run->state, id);
    if (cur != NULL) {
        return fsg_sg_current_copy(&t->current, cur);
    }
    if (t->config->security_group == NULL) {
        return fsg_sg_current_init(&t->current, id); /* not created yet: no rule */
    }
    return fsg_error_set(err, FSG_E_NOT_FOUND,
                         "%s has no entry for %s: add \"%s\": [] if the group has no ingress "
                         "rule (a missing group is never taken as empty)", o->state, id, id);
}

/* A group without any rule in the answer (not even egress) may not exist: ask. */
static enum fsg_err s_check_group_exists(struct fsg_recon *run, const struct fsg_recon_target *t,
                                         struct fsg_error *err)
{
    const char *id = t->res.group_id;
    struct fsg_ec2_sg_list found = { 0 };
    fsg_log(FSG_LOG_DEBUG, "aws ec2 DescribeSecurityGroups %s", id);
    enum fsg_err rc = fsg_ec2_describe_security_groups(run->ec2, &id, 1, NULL, 0, &found, err);
    if (rc == FSG_OK && found.len == 0) {
        rc = fsg_error_set(err, FSG_E_NOT_FOUND, "security group %s not found", id);
    }
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "target %s: ", t->config->name);
    }
    fsg_ec2_sg_list_clean_up(&found);
    return rc;
}

/* Live: one DescribeSecurityGroupRules for every existing group; groups still to create are
 * empty. */
static enum fsg_err s_current_live(struct fsg_recon *run, struct fsg_error *err)
{
    size_t n = 0;
    const char **ids = fsg_calloc(run->n_targets + 1, sizeof *ids);
    struct fsg_sg_current *cur = fsg_calloc(run->n_targets + 1, sizeof *cur);
    bool *seen = fsg_calloc(run->n_targets + 1, sizeof *seen);
    enum fsg_err rc = ids == NULL || cur == NULL || seen == NULL ? FSG_E_NOMEM : FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < run->n_targets; i++) {
        if (run->targets[i].res.group_id != NULL) {
            ids[n++] = run->targets[i].res.group_id;
        }
    }
    if (rc == FSG_OK) {
        rc = fsg_sg_live_read(run->ec2, ids, n, cur, seen, err);
    }
    for (size_t i = 0, k = 0; rc == FSG_OK && i < run->n_targets; i++) {
        struct fsg_recon_target *t = &run->targets[i];
        if (t->res.group_id == NULL) {
            rc = fsg_sg_current_init(&t->current, t->res.group_label);
            continue;
        }
        t->current = cur[k];
        cur[k] = (struct fsg_sg_current){ 0 };
        if (!seen[k++]) {
            rc = s_check_group_exists(run, t, err);
        }
    }
    for (size_t i = 0; cur != NULL && i < n; i++) {
        fsg_sg_current_clean_up(&cur[i]);
    }
    fsg_free(seen);
    fsg_free(cur);
    fsg_free((void *)ids);
    return rc;
}

enum fsg_err fsg_recon_resolve_targets(const struct fsg_recon_options *o, struct fsg_recon *run,
                                       bool find_enis, struct fsg_error *err)
{
    return fsg_recon_resolve_some(o, run, NULL, find_enis, err);
}

enum fsg_err fsg_recon_resolve_some(const struct fsg_recon_options *o, struct fsg_recon *run,
                                    const bool *only, bool find_enis, struct fsg_error *err)
{
    const struct fsg_config *c = run->config;
    run->targets = fsg_calloc(c->n_targets + 1, sizeof *run->targets);
    if (run->targets == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < c->n_targets; i++) {
        if (only != NULL && !only[i]) {
            continue; /* not asked for: no AWS call for it */
        }
        struct fsg_recon_target *t = &run->targets[run->n_targets++];
        t->config = &c->targets[i];
        s_request(t->config, find_enis, &t->req);
        rc = run->live ? fsg_resolve_target(run->ec2, run->rds, &t->req, &t->res, err)
                       : fsg_resolve_offline(&t->req, &t->res, err);
        if (rc == FSG_OK && !run->live) {
            rc = s_current_offline(run, o, t, err);
        }
    }
    if (rc == FSG_OK && run->live) {
        rc = s_current_live(run, err);
    }
    for (size_t i = 0; rc == FSG_OK && run->live && i < run->n_targets; i++) {
        struct fsg_recon_target *t = &run->targets[i];
        const char *group = t->res.group_id != NULL ? t->res.group_id : t->res.group_label;
        rc = fsg_resolve_association(&t->req, &t->res, group, &t->assoc);
    }
    return rc;
}

int fsg_recon_resolve(struct fsg_cli *cli, const struct fsg_recon_options *o,
                      struct fsg_recon *run, bool find_enis)
{
    struct fsg_error err = { 0 };
    enum fsg_err rc = fsg_recon_resolve_targets(o, run, find_enis, &err);
    if (rc != FSG_OK) {
        return fsg_recon_fail(cli, run->live ? "aws (nothing changed)" : o->cmd, rc, &err);
    }
    return FSG_EXIT_OK;
}

static void s_target_clean_up(struct fsg_recon_target *t)
{
    fsg_recon_others_clean_up(t);
    fsg_resolve_association_clean_up(&t->assoc);
    fsg_sg_current_clean_up(&t->current);
    fsg_resolved_target_clean_up(&t->res);
}

void fsg_recon_keep_targets(struct fsg_recon *run, const bool *keep)
{
    size_t n = 0;
    for (size_t i = 0; i < run->n_targets; i++) {
        if (keep[i]) {
            run->targets[n++] = run->targets[i];
        } else {
            s_target_clean_up(&run->targets[i]);
        }
    }
    run->n_targets = n;
}

/* ---- plan ------------------------------------------------------------------------------------ */

enum fsg_err fsg_recon_policy_target(const struct fsg_config_target *t,
                                     struct fsg_policy_label labels[FSG_RECON_MAX_LABELS],
                                     struct fsg_policy_target *ret, struct fsg_error *err)
{
    if (t->n_labels > FSG_RECON_MAX_LABELS) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "target '%s' has more than %d labels",
                             t->name, FSG_RECON_MAX_LABELS);
    }
    for (size_t i = 0; i < t->n_labels; i++) {
        labels[i] = (struct fsg_policy_label){ .key = t->labels[i].key,
                                               .value = t->labels[i].value };
    }
    *ret = (struct fsg_policy_target){ .name = t->name, .virtual_service = t->virtual_service,
                                       .workload = t->workload, .labels = labels,
                                       .n_labels = t->n_labels };
    return FSG_OK;
}

static enum fsg_err s_compile(const struct fsg_recon *run, const struct fsg_config_target *t,
                              struct fsg_compiled_target **ret, struct fsg_error *err)
{
    struct fsg_policy_label labels[FSG_RECON_MAX_LABELS];
    struct fsg_policy_target pt;
    enum fsg_err rc = fsg_recon_policy_target(t, labels, &pt, err);
    return rc != FSG_OK ? rc : fsg_policy_compile(run->model, &pt, ret, err);
}

/* Notes after the diff's warnings: resolution, association, unmatched flows. */
static enum fsg_err s_notes(const struct fsg_recon *run, const struct fsg_recon_target *t,
                            struct fsg_plan_target *pt)
{
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < t->res.n_notes; i++) {
        rc = fsg_plan_target_warn(pt, "%s", t->res.notes[i]);
    }
    if (rc == FSG_OK && t->assoc.changes) {
        struct fsg_buf b = FSG_BUF_INIT;
        rc = fsg_resolve_association_describe(&t->req, &t->res, &t->assoc, &b);
        if (rc == FSG_OK) {
            rc = fsg_plan_target_warn(pt, "%s", fsg_buf_cstr(&b));
        }
        fsg_buf_clean_up(&b);
    }
    if (rc == FSG_OK && run->has_flows && t->res.n_enis == 0 && t->res.n_addrs == 0) {
        rc = run->live ? fsg_plan_target_warn(pt, "no network interface or address is known for "
                                                  "this target (no rds_instance interface "
                                                  "found, no enis or eni_addrs in the config), "
                                                  "so no observed flow can be matched to it: the "
                                                  "impact is empty")
                       : fsg_plan_target_warn(pt, "the config gives no enis or eni_addrs for "
                                                  "this target, so no observed flow can be "
                                                  "matched to it: the impact is empty");
    }
    return rc;
}

/* A target the compiler refused (policy/compile.h, FSG_E_REFUSED: something it cannot evaluate
 * could widen access): planned with no rule to add or remove and refused under the "policy"
 * guard, which --force never lifts, so the other targets are still planned and applied. */
static enum fsg_err s_refused_target(const struct fsg_recon *run, const struct fsg_recon_target *t,
                                     struct fsg_error *err)
{
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err != NULL ? err->msg : "refused by the compiler");
    if (err != NULL) {
        *err = (struct fsg_error){ 0 };
    }
    struct fsg_plan_target *pt = NULL;
    const char *group = t->current.group_id != NULL ? t->current.group_id : "";
    enum fsg_err rc = fsg_plan_append_target(run->plan, t->config->name, group, &pt);
    if (rc == FSG_OK) {
        pt->ownership = t->config->ownership == FSG_OWNERSHIP_RULES ? FSG_SG_OWN_RULES
                                                                   : FSG_SG_OWN_GROUP;
        rc = fsg_sg_plan_new(group, &pt->sg);
    }
    if (rc == FSG_OK) {
        pt->sg->ownership = pt->ownership;
        pt->refused_guards = FSG_GUARD_POLICY;
        struct fsg_buf b = FSG_BUF_INIT;
        rc = fsg_buf_printf(&b, "%s (nothing is changed for this target; --force does not "
                                "lift it)", why);
        pt->refused = rc == FSG_OK ? fsg_buf_strdup(&b) : NULL;
        rc = rc == FSG_OK && pt->refused == NULL ? FSG_E_NOMEM : rc;
        fsg_buf_clean_up(&b);
    }
    return rc == FSG_OK ? FSG_OK : fsg_error_set(err, rc, "out of memory");
}

static enum fsg_err s_plan_target(const struct fsg_recon *run, const struct fsg_recon_options *o,
                                  const struct fsg_recon_target *t, struct fsg_error *err)
{
    struct fsg_compiled_target *ct = NULL;
    enum fsg_err rc = s_compile(run, t->config, &ct, err);
    if (rc == FSG_E_REFUSED) {
        return s_refused_target(run, t, err);
    }
    if (rc == FSG_OK) {
        const struct fsg_config_guards *g = &run->config->guards;
        struct fsg_guard_limits limits = { .max_removals = g->max_removals,
                                           .allow_empty = g->allow_empty,
                                           .allow_public = g->allow_public,
                                           .max_rules = g->max_rules,
                                           .max_cut_sources = g->max_cut_sources,
                                           .force = o->force };
        struct fsg_sg_diff_options diff = { .ownership = t->config->ownership ==
                                                                 FSG_OWNERSHIP_RULES
                                                             ? FSG_SG_OWN_RULES
                                                             : FSG_SG_OWN_GROUP };
        struct fsg_impact_target it = { .enis = (const char *const *)t->res.enis,
                                        .n_enis = t->res.n_enis, .addrs = t->res.addrs,
                                        .n_addrs = t->res.n_addrs, .others = t->others,
                                        .n_others = t->n_others, .model = run->model };
        struct fsg_plan_inputs in = {
            .name = t->config->name, .security_group = t->current.group_id,
            .desired = &ct->rules, .warnings = (const char *const *)ct->warnings,
            .n_warnings = ct->n_warnings, .current = &t->current, .diff = &diff,
            .guards = &limits, .has_flows = run->has_flows, .impact_target = &it,
            .association_changes = t->assoc.changes,
            .flows = run->flows, .n_flows = run->n_flows,
        };
        rc = fsg_plan_add(run->plan, &in, err);
    }
    if (rc == FSG_OK) {
        rc = s_notes(run, t, &run->plan->targets[run->plan->n_targets - 1]);
    }
    fsg_compiled_target_destroy(ct);
    return rc;
}

static void s_log_target(const struct fsg_plan_target *t)
{
    char name[128], sg[64], refused[600];
    fsg_json_escape(t->name, name, sizeof name);
    fsg_json_escape(t->security_group, sg, sizeof sg);
    fsg_json_escape(t->refused != NULL ? t->refused : "", refused, sizeof refused);
    char line[1024];
    snprintf(line, sizeof line, "\"event\":\"plan\",\"target\":\"%s\",\"security_group\":\"%s\","
                                "\"add\":%zu,\"remove\":%zu,\"unchanged\":%zu,\"refused\":%s%s%s",
             name, sg, t->sg->add.len, t->sg->remove.len, t->sg->unchanged,
             t->refused != NULL ? "\"" : "null", t->refused != NULL ? refused : "",
             t->refused != NULL ? "\"" : "");
    fsg_log_fields(t->refused != NULL ? FSG_LOG_WARN : FSG_LOG_INFO, line);
}

enum fsg_err fsg_recon_plan_targets(const struct fsg_recon_options *o, struct fsg_recon *run,
                                    struct fsg_error *err)
{
    enum fsg_err rc = fsg_plan_new(&run->plan);
    if (rc != FSG_OK) {
        return fsg_error_set(err, rc, "out of memory");
    }
    run->plan->created_s = (int64_t)time(NULL);
    if (run->policy_version != NULL &&
        (run->plan->policy_version = fsg_strdup(run->policy_version)) == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < run->n_targets; i++) {
        rc = s_plan_target(run, o, &run->targets[i], err);
        if (rc != FSG_OK) {
            if (err != NULL && err->code == FSG_OK) {
                (void)fsg_error_set(err, rc, "%s", fsg_err_str(rc));
            }
            fsg_error_prefix(err, "target %s: ", run->targets[i].config->name);
            return rc;
        }
        s_log_target(&run->plan->targets[run->plan->n_targets - 1]);
    }
    return FSG_OK;
}

static int s_plan_all(struct fsg_cli *cli, const struct fsg_recon_options *o,
                      struct fsg_recon *run)
{
    struct fsg_error err = { 0 };
    enum fsg_err rc = fsg_recon_plan_targets(o, run, &err);
    if (rc != FSG_OK) {
        return fsg_recon_fail(cli, NULL, rc, &err);
    }
    return FSG_EXIT_OK;
}

/* ---- entry ----------------------------------------------------------------------------------- */

int fsg_recon_plan(struct fsg_cli *cli, const struct fsg_recon_options *o, struct fsg_recon *run)
{
    int ex = fsg_recon_load_config(cli, o, run);
    if (ex != FSG_EXIT_OK) {
        return ex;
    }
    if (!run->live) {
        struct fsg_error err = { 0 };
        enum fsg_err rc = fsg_sg_state_load(o->state, &run->state, &err);
        if (rc != FSG_OK) {
            return fsg_recon_fail(cli, "--state", rc, &err);
        }
    }
    ex = s_load_policy(cli, o, run);
    if (ex == FSG_EXIT_OK && run->live) {
        ex = fsg_recon_aws(cli, o, run);
    }
    if (ex == FSG_EXIT_OK) {
        ex = fsg_recon_resolve(cli, o, run, o->flows.n_args > 0);
    }
    if (ex == FSG_EXIT_OK && o->flows.n_args > 0) {
        ex = fsg_recon_read_flows(cli, o, run);
    }
    if (ex == FSG_EXIT_OK && o->flows.n_args > 0) {
        ex = fsg_recon_read_others(cli, o, run);
    }
    if (ex == FSG_EXIT_OK) {
        ex = s_plan_all(cli, o, run);
    }
    return ex;
}

bool fsg_recon_has_changes(const struct fsg_recon *run)
{
    if (run->plan != NULL && fsg_plan_has_changes(run->plan)) {
        return true;
    }
    for (size_t i = 0; run->live && i < run->n_targets; i++) {
        const struct fsg_recon_target *t = &run->targets[i];
        if (t->assoc.changes || t->res.group_id == NULL) {
            return true;
        }
    }
    return false;
}

void fsg_recon_clean_up(struct fsg_recon *run)
{
    for (size_t i = 0; i < run->n_targets; i++) {
        s_target_clean_up(&run->targets[i]);
    }
    fsg_free(run->targets);
    fsg_plan_destroy(run->plan);
    fsg_free(run->flows);
    fsg_aws_client_destroy(run->rds);
    fsg_aws_client_destroy(run->ec2);
    fsg_sg_state_destroy(run->state);
    fsg_policy_model_destroy(run->model);
    json_decref(run->bundle);
    fsg_config_destroy(run->config);
    *run = (struct fsg_recon){ 0 };
}
