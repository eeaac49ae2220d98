/* The flow SOURCEs of plan/apply (local files, directories, -, s3://bucket/key,
 * s3://bucket/prefix/) read into the ingress flow table the impact is computed from. Reading is
 * cmd/sources.c; this file sees the resolved targets as the flow engine's targets. */
#include <stdio.h>
#include <string.h>

#include "cmd/reconcile.h"
#include "cmd/sources.h"
#include "lib/core/mem.h"

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
