/* The flow SOURCEs of plan/apply (local files, directories, -, s3://bucket/key,
 * s3://bucket/prefix/) read into the ingress flow table the impact is computed from. Reading is
 * cmd/sources.c; this file sees the resolved targets as the flow engine's targets. */
#include <stdio.h>
#include <string.h>

#include "cmd/reconcile.h"
#include "cmd/sources.h"
#include "lib/core/mem.h"
#include "policy/sg_live.h"

/* The resolved targets as sources targets: their interfaces and addresses, and the database
 * port of the config, else of the instance. A target without an interface gets no records of
 * its own (no name). Caller frees *ret (fsg_free); it borrows from run. */
static enum fsg_err s_targets(const struct fsg_recon *run, struct fsg_sources_target **ret)
{
    struct fsg_sources_target *v = fsg_calloc(run->n_targets + 1, sizeof *v);
    if (v == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t i = 0; i < run->n_targets; i++) {
        const struct fsg_recon_target *t = &run->targets[i];
        v[i] = (struct fsg_sources_target){
            .enis = (const char *const *)t->res.enis, .n_enis = t->res.n_enis,
            .addrs = t->res.addrs, .n_addrs = t->res.n_addrs,
            .port = t->config->port > 0 ? t->config->port : t->res.port,
            .flow_log_id = t->config->flow_log_id
        };
    }
    *ret = v;
    return FSG_OK;
}

enum fsg_err fsg_recon_eni_hints(const struct fsg_recon *run, struct fsg_eni_hint **ret_hints,
                                 size_t *ret_n)
{
    struct fsg_sources_target *targets = NULL;
    enum fsg_err rc = s_targets(run, &targets);
    if (rc == FSG_OK) {
        rc = fsg_sources_hints(targets, run->n_targets, ret_hints, ret_n);
    }
    fsg_free(targets);
    return rc;
}

const char *fsg_recon_default_eni(const struct fsg_recon *run, const char *name)
{
    for (size_t i = 0; i < run->n_targets; i++) {
        const struct fsg_recon_target *t = &run->targets[i];
        if (t->res.n_enis > 0 && fsg_sources_name_has_flow_log_id(name, t->config->flow_log_id)) {
            return t->res.enis[0];
        }
    }
    return NULL;
}

/* Any object that could not be read fails the run: an impact computed from part of the flows
 * would mislead. */
int fsg_recon_read_flows(struct fsg_cli *cli, const struct fsg_recon_options *o,
                         struct fsg_recon *run)
{
    struct fsg_sources_target *targets = NULL;
    struct fsg_sources_result res = { 0 };
    int ex = FSG_EXIT_OK;
    if (s_targets(run, &targets) != FSG_OK) {
        ex = fsg_recon_fail(cli, "flows", FSG_E_NOMEM, &(struct fsg_error){ 0 });
    }
    if (ex == FSG_EXIT_OK) {
        struct fsg_sources_request req = { .cmd = o->cmd, .opts = &o->flows,
                                           .config = run->config, .targets = targets,
                                           .n_targets = run->n_targets };
        ex = fsg_sources_read(cli, &req, &res);
    }
    if (ex == FSG_EXIT_OK) {
        fsg_sources_report(cli, &res);
    }
    if (ex == FSG_EXIT_OK && res.run.n_errors > 0) {
        fprintf(stderr, "%s: %zu flow source(s) could not be read: no plan, the impact would be "
                        "incomplete\n", cli->prog, res.run.n_errors);
        ex = FSG_EXIT_ERROR;
    }
    if (ex == FSG_EXIT_OK) {
        run->flows = res.flows;
        run->n_flows = res.n_flows;
        run->has_flows = true;
        res.flows = NULL;
    }
    fsg_sources_result_clean_up(&res);
    fsg_free(targets);
    return ex;
}

/* ---- the interface's other security groups (effective access) -------------------------------- */

void fsg_recon_others_clean_up(struct fsg_recon_target *t)
{
    for (size_t i = 0; i < t->n_others; i++) {
        fsg_sg_current_clean_up(&t->others[i]);
    }
    fsg_free(t->others);
    t->others = NULL;
    t->n_others = 0;
}

static const char *s_managed(const struct fsg_recon_target *t)
{
    return t->res.group_id != NULL ? t->res.group_id : t->res.group_label;
}

static bool s_is_managed(const struct fsg_recon *run, const char *id)
{
    for (size_t i = 0; i < run->n_targets; i++) {
        const char *m = s_managed(&run->targets[i]);
        if (m != NULL && id != NULL && strcmp(m, id) == 0) {
            return true;
        }
    }
    return false;
}

/* The instance's groups once the association is made, the managed one left out. */
static void s_after(const struct fsg_recon_target *t, char *const **ret, size_t *ret_n)
{
    *ret = t->assoc.changes ? t->assoc.groups : t->res.db_groups;
    *ret_n = t->assoc.changes ? t->assoc.n_groups : t->res.n_db_groups;
}

static enum fsg_err s_add_other(struct fsg_recon_target *t, const struct fsg_sg_current *g)
{
    struct fsg_sg_current *v = fsg_realloc(t->others, (t->n_others + 1) * sizeof *v);
    if (v == NULL) {
        return FSG_E_NOMEM;
    }
    t->others = v;
    enum fsg_err rc = fsg_sg_current_copy(&t->others[t->n_others], g);
    t->n_others += rc == FSG_OK;
    return rc;
}

static enum fsg_err s_others_offline(struct fsg_recon *run)
{
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < run->n_targets; i++) {
        for (size_t g = 0; rc == FSG_OK && g < run->state->n_groups; g++) {
            const struct fsg_sg_current *cur = &run->state->groups[g];
            if (!s_is_managed(run, cur->group_id)) {
                rc = s_add_other(&run->targets[i], cur);
            }
        }
    }
    return rc;
}

static bool s_has(const char *const *ids, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ids[i], id) == 0) {
            return true;
        }
    }
    return false;
}

/* Live: one DescribeSecurityGroupRules for every other group of every target. */
static enum fsg_err s_others_live(struct fsg_recon *run, struct fsg_error *err)
{
    size_t cap = 0, n = 0;
    for (size_t i = 0; i < run->n_targets; i++) {
        char *const *g;
        size_t ng;
        s_after(&run->targets[i], &g, &ng);
        cap += ng;
    }
    const char **ids = fsg_calloc(cap + 1, sizeof *ids);
    struct fsg_sg_current *cur = fsg_calloc(cap + 1, sizeof *cur);
    enum fsg_err rc = ids == NULL || cur == NULL ? FSG_E_NOMEM : FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < run->n_targets; i++) {
        char *const *g;
        size_t ng;
        s_after(&run->targets[i], &g, &ng);
        for (size_t k = 0; k < ng; k++) {
            if (!s_is_managed(run, g[k]) && !s_has(ids, n, g[k])) {
                ids[n++] = g[k];
            }
        }
    }
    if (rc == FSG_OK && n > 0) {
        rc = fsg_sg_live_read(run->ec2, ids, n, cur, NULL, err);
    }
    for (size_t i = 0; rc == FSG_OK && i < run->n_targets; i++) {
        char *const *g;
        size_t ng;
        s_after(&run->targets[i], &g, &ng);
        for (size_t k = 0; rc == FSG_OK && k < n; k++) {
            if (s_has((const char *const *)g, ng, ids[k])) {
                rc = s_add_other(&run->targets[i], &cur[k]);
            }
        }
    }
    for (size_t k = 0; cur != NULL && k < n; k++) {
        fsg_sg_current_clean_up(&cur[k]);
    }
    fsg_free(cur);
    fsg_free((void *)ids);
    return rc;
}

enum fsg_err fsg_recon_read_other_groups(struct fsg_recon *run, struct fsg_error *err)
{
    enum fsg_err rc = run->live ? s_others_live(run, err) : s_others_offline(run);
    if (rc != FSG_OK) {
        if (rc == FSG_E_NOMEM && (err == NULL || err->msg[0] == '\0')) {
            (void)fsg_error_set(err, rc, "out of memory");
        }
        (void)fsg_error_prefix(err, "the instances' other security groups: ");
    }
    return rc;
}

int fsg_recon_read_others(struct fsg_cli *cli, const struct fsg_recon_options *o,
                          struct fsg_recon *run)
{
    struct fsg_error err = { 0 };
    enum fsg_err rc = fsg_recon_read_other_groups(run, &err);
    if (rc != FSG_OK) {
        return fsg_recon_fail(cli, run->live ? "aws (nothing changed)" : o->cmd, rc, &err);
    }
    return FSG_EXIT_OK;
}
