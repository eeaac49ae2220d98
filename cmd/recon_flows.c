/* The flow SOURCEs of plan/apply (local files, directories, -, s3://bucket/key,
 * s3://bucket/prefix/) read into the ingress flow table the impact is computed from. */
#include <stdio.h>
#include <string.h>

#include "cmd/reconcile.h"
#include "flowlogs/aggregate.h"
#include "flowlogs/s3_source.h"
#include "flowlogs/source.h"
#include "lib/log.h"
#include "lib/mem.h"

/* What reading the flow SOURCEs holds, released in one place. */
struct s_flow_read {
    struct fsg_eni_hint *hints;
    size_t n_hints;
    char **paths;
    size_t n_paths;
    struct fsg_s3_source *s3;
    struct fsg_object *objects;
    size_t n_objects;
    struct fsg_aggregate *agg;
    struct fsg_run_result res;
};

static void s_flow_read_clean_up(struct s_flow_read *fr)
{
    fsg_run_result_clean_up(&fr->res);
    fsg_aggregate_destroy(fr->agg);
    fsg_free(fr->objects);
    fsg_s3_source_destroy(fr->s3);
    for (size_t i = 0; i < fr->n_paths; i++) {
        fsg_free(fr->paths[i]);
    }
    fsg_free(fr->paths);
    fsg_free(fr->hints);
}

/* ENI hints from the resolved targets: each ENI's addresses and the database port, so the flow
 * engine can tell a client's connection from the database's own outbound traffic. */
enum fsg_err fsg_recon_eni_hints(const struct fsg_recon *run, struct fsg_eni_hint **ret_hints,
                                 size_t *ret_n)
{
    size_t n_hints = 0;
    for (size_t i = 0; i < run->n_targets; i++) {
        n_hints += run->targets[i].res.n_enis;
    }
    struct fsg_eni_hint *hints = fsg_calloc(n_hints + 1, sizeof *hints);
    if (hints == NULL) {
        return FSG_E_NOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < run->n_targets; i++) {
        const struct fsg_recon_target *t = &run->targets[i];
        long port = t->config->port > 0 ? t->config->port : t->res.port;
        for (size_t k = 0; k < t->res.n_enis; k++) {
            hints[n++] = (struct fsg_eni_hint){
                .eni = t->res.enis[k], .addrs = t->res.addrs, .n_addrs = t->res.n_addrs,
                .service_port = port > 0 && port <= 65535 ? (uint16_t)port : 0 };
        }
    }
    *ret_hints = hints;
    *ret_n = n;
    return FSG_OK;
}

static enum fsg_err s_hints(const struct fsg_recon *run, struct s_flow_read *fr)
{
    return fsg_recon_eni_hints(run, &fr->hints, &fr->n_hints);
}

/* Records without interface-id belong to the target whose flow_log_id is in the object name. */
const char *fsg_recon_default_eni(const struct fsg_recon *run, const char *name)
{
    for (size_t i = 0; i < run->n_targets; i++) {
        const struct fsg_recon_target *t = &run->targets[i];
        const char *fl = t->config->flow_log_id;
        if (fl != NULL && t->res.n_enis > 0 && strstr(name, fl) != NULL) {
            return t->res.enis[0];
        }
    }
    return NULL;
}

static enum fsg_err s_add_s3(const struct fsg_recon *run, struct s_flow_read *fr, const char *url,
                             struct fsg_error *err)
{
    if (fr->s3 == NULL) {
        struct fsg_s3_source_options so = { .region = run->config->region,
                                            .key_regex = run->config->key_regex,
                                            .since_s = FSG_S3_TIME_NONE,
                                            .until_s = FSG_S3_TIME_NONE };
        enum fsg_err rc = fsg_s3_source_new(&so, &fr->s3, err);
        if (rc != FSG_OK) {
            return rc;
        }
    }
    return fsg_s3_source_expand(fr->s3, url, &fr->objects, &fr->n_objects, err);
}

static enum fsg_err s_grow_objects(struct s_flow_read *fr, size_t extra)
{
    struct fsg_object *o = fsg_reallocarray(fr->objects, fr->n_objects + extra + 1, sizeof *o);
    if (o == NULL) {
        return FSG_E_NOMEM;
    }
    fr->objects = o;
    return FSG_OK;
}

/* Every SOURCE as objects: local paths (directories expanded) and S3 objects, in order. */
static int s_expand(struct fsg_cli *cli, const struct fsg_recon *run,
                    const struct fsg_recon_options *o, struct s_flow_read *fr)
{
    for (size_t i = 0; i < o->n_sources; i++) {
        struct fsg_error err = { 0 };
        const char *src = o->sources[i];
        enum fsg_err rc;
        if (fsg_s3_source_is_url(src)) {
            rc = s_add_s3(run, fr, src, &err);
        } else {
            size_t first = fr->n_paths;
            rc = fsg_source_expand(src, &fr->paths, &fr->n_paths, &err);
            if (rc == FSG_OK) {
                rc = s_grow_objects(fr, fr->n_paths - first);
            }
            for (size_t k = first; rc == FSG_OK && k < fr->n_paths; k++) {
                fr->objects[fr->n_objects++] = (struct fsg_object){ .name = fr->paths[k] };
            }
        }
        if (rc != FSG_OK) {
            return fsg_recon_fail(cli, src, rc, &err);
        }
    }
    for (size_t i = 0; i < fr->n_objects; i++) {
        if (fr->objects[i].default_eni == NULL) {
            fr->objects[i].default_eni = fsg_recon_default_eni(run, fr->objects[i].name);
        }
    }
    return FSG_EXIT_OK;
}

/* Logs malformed lines; any object that could not be read fails the run: an impact computed
 * from part of the flows would mislead. */
static int s_flow_errors(struct fsg_cli *cli, const struct fsg_run_result *res)
{
    for (size_t i = 0; i < res->n_warnings; i++) {
        fsg_log(FSG_LOG_WARN, "%s: line %lu: %s", res->warnings[i].source,
                res->warnings[i].line, res->warnings[i].message);
    }
    for (size_t i = 0; i < res->n_errors; i++) {
        const struct fsg_run_error *e = &res->errors[i];
        fprintf(stderr, "%s: %s: at byte %llu: %s (%s)\n", cli->prog, e->source,
                (unsigned long long)e->offset, e->message, fsg_err_name(e->code));
    }
    if (res->n_errors > 0) {
        fprintf(stderr, "%s: %zu flow source(s) could not be read: no plan, the impact would be "
                        "incomplete\n", cli->prog, res->n_errors);
        return FSG_EXIT_ERROR;
    }
    return FSG_EXIT_OK;
}

static int s_run_sources(struct fsg_cli *cli, struct fsg_recon *run, struct s_flow_read *fr)
{
    struct fsg_error err = { 0 };
    enum fsg_err rc = s_hints(run, fr);
    if (rc == FSG_OK) {
        struct fsg_aggregate_options ao = { .hints = fr->hints, .n_hints = fr->n_hints };
        rc = fsg_aggregate_new(&ao, &fr->agg, &err);
    }
    if (rc == FSG_OK) {
        struct fsg_run_options ro = { .jobs = 2 };
        rc = fsg_run_objects(fr->objects, fr->n_objects, &ro, fr->agg, &fr->res, &err);
    }
    if (rc != FSG_OK) {
        return fsg_recon_fail(cli, "flows", rc, &err);
    }
    int ex = s_flow_errors(cli, &fr->res);
    if (ex != FSG_EXIT_OK) {
        return ex;
    }
    rc = fsg_aggregate_result(fr->agg, FSG_DIRECTION_INGRESS, NULL, 0, &run->flows,
                              &run->n_flows, &err);
    if (rc != FSG_OK) {
        return fsg_recon_fail(cli, "flows", rc, &err);
    }
    run->has_flows = true;
    return FSG_EXIT_OK;
}

int fsg_recon_read_flows(struct fsg_cli *cli, const struct fsg_recon_options *o,
                         struct fsg_recon *run)
{
    struct s_flow_read fr = { 0 };
    int ex = s_expand(cli, run, o, &fr);
    if (ex == FSG_EXIT_OK) {
        ex = s_run_sources(cli, run, &fr);
    }
    s_flow_read_clean_up(&fr);
    return ex;
}
