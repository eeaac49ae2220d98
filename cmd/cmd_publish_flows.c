/* flowseg publish-flows: observed inbound flows -> the PCE traffic loader
 * (POST /orgs/N/agents/bulk_traffic_flows, ref/pce-api.md §7), so the PCE map shows them.
 *
 * Unlike the Illumio Labs Lambda this sends each connection once, oriented client -> server with
 * the server's port (never the return leg with the client's ephemeral port), only flows that were
 * accepted, and at most 1000 lines per request. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "flowlogs/aggregate.h"
#include "flowlogs/source.h"
#include "lib/ip.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "policy/pce.h"

/* More workers than this gains nothing and only costs memory (as `flows`). */
#define S_MAX_JOBS 256

struct s_opts {
    const char **enis;
    size_t n_enis;
    const char **sources;
    size_t n_sources;
    unsigned jobs;
    size_t max_lines;
    bool dry_run;
    bool include_rejected;
};

struct s_run {
    struct fsg_config *config;
    struct fsg_eni_hint *hints;
    size_t n_hints;
    struct fsg_ip *hint_addrs;
    const char **enis;       /* the ENI filter: --eni, else the config targets' ENIs */
    size_t n_enis;
    char **paths;
    size_t n_paths;
    struct fsg_object *objects;
    struct fsg_aggregate *agg;
    struct fsg_run_result result;
    struct fsg_flow *flows;
    size_t n_flows;
};

static void s_help(void)
{
    printf("usage: flowseg publish-flows [OPTIONS] SOURCE...\n"
           "\n"
           "Sends the inbound connections observed in VPC flow logs to the PCE traffic loader\n"
           "(agents/bulk_traffic_flows) so the PCE map shows them: one `src,dst,port,proto` line per\n"
           "distinct connection, oriented client -> server with the server's port, accepted flows\n"
           "only, at most 1000 lines per request. Prints a summary (flows, requests, received,\n"
           "failed). Exit 1 if a source cannot be read (then nothing is sent), a request fails, or\n"
           "the PCE reports failed flows (their addresses map to no workload: create unmanaged\n"
           "workloads for them first).\n"
           "\n"
           "SOURCE: a flow-log file (gzip or plain text), a directory (every file below it), or -\n"
           "for stdin.\n"
           "\n"
           "options:\n"
           "  --eni ID             only this ENI (repeatable; default: the config targets' ENIs, or\n"
           "                       every ENI when the config lists none)\n"
           "  --dry-run            print the CSV instead of sending it (no PCE needed)\n"
           "  --max-lines N        lines per request, 1..1000 (default 1000)\n"
           "  --include-rejected   also send connections whose records were all REJECTed\n"
           "  --jobs N             read N objects in parallel (default 1)\n"
           "  --help               this text\n"
           "\n"
           "The PCE comes from the config's `pce` section (url, org_id, ca_file, timeout_s); the API\n"
           "key and secret from the environment variables it names (default PCE_API_KEY and\n"
           "PCE_API_SECRET) or pce.key_file/pce.secret_file.\n");
}

/* ---- arguments ------------------------------------------------------------------------------ */

static bool s_is_option(const char *a, const char *name)
{
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

static int s_number(struct fsg_cli *cli, const char *name, const char *v, long max, long *ret)
{
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (end == v || *end != '\0' || n < 1 || n > max) {
        return fsg_cli_usage_error(cli, "publish-flows", "%s must be a number from 1 to %ld, "
                                   "not '%s'", name, max, v);
    }
    *ret = n;
    return FSG_EXIT_OK;
}

static int s_parse_value(struct fsg_cli *cli, const char *name, const char *v, struct s_opts *o)
{
    long n = 0;
    int rc = FSG_EXIT_OK;
    if (strcmp(name, "--eni") == 0) {
        o->enis[o->n_enis++] = v;
    } else if (strcmp(name, "--jobs") == 0) {
        rc = s_number(cli, name, v, S_MAX_JOBS, &n);
        o->jobs = (unsigned)n;
    } else {
        rc = s_number(cli, name, v, FSG_PCE_BULK_MAX_ITEMS, &n);
        o->max_lines = (size_t)n;
    }
    return rc;
}

static int s_parse(struct fsg_cli *cli, int argc, char **argv, struct s_opts *o)
{
    static const char *const valued[] = { "--eni", "--jobs", "--max-lines" };
    bool only_sources = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_sources || a[0] != '-' || strcmp(a, "-") == 0) {
            o->sources[o->n_sources++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_sources = true;
            continue;
        }
        if (strcmp(a, "--dry-run") == 0 || strcmp(a, "--include-rejected") == 0) {
            *(a[2] == 'd' ? &o->dry_run : &o->include_rejected) = true;
            continue;
        }
        const char *name = NULL;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0] && name == NULL; k++) {
            name = s_is_option(a, valued[k]) ? valued[k] : NULL;
        }
        if (name == NULL) {
            return fsg_cli_usage_error(cli, "publish-flows", "unknown option '%s'", a);
        }
        const char *v = a[strlen(name)] == '=' ? a + strlen(name) + 1
                                               : (i + 1 < argc ? argv[++i] : NULL);
        if (v == NULL) {
            return fsg_cli_usage_error(cli, "publish-flows", "%s needs a value", name);
        }
        int rc = s_parse_value(cli, name, v, o);
        if (rc != FSG_EXIT_OK) {
            return rc;
        }
    }
    if (o->n_sources == 0) {
        return fsg_cli_usage_error(cli, "publish-flows", "%s",
                                   "no SOURCE given (a file, a directory, - for stdin)");
    }
    return FSG_EXIT_OK;
}

/* ---- configuration -------------------------------------------------------------------------- */

static int s_oom(struct fsg_cli *cli)
{
    struct fsg_error e;
    fsg_error_set(&e, FSG_E_NOMEM, "out of memory");
    return fsg_cli_error(cli, NULL, &e);
}

/* Aggregator hints (each configured ENI's own addresses and port) and the default ENI filter. */
static int s_hints(struct fsg_cli *cli, const struct s_opts *o, struct s_run *r)
{
    const struct fsg_config *c = r->config;
    size_t n_enis = 0;
    size_t n_addrs = 0;
    for (size_t i = 0; i < c->n_targets; i++) {
        n_enis += c->targets[i].n_enis;
        n_addrs += c->targets[i].n_eni_addrs;
    }
    r->hints = fsg_calloc(n_enis + 1, sizeof *r->hints);
    r->hint_addrs = fsg_calloc(n_addrs + 1, sizeof *r->hint_addrs);
    r->enis = fsg_calloc(n_enis + o->n_enis + 1, sizeof *r->enis);
    if (r->hints == NULL || r->hint_addrs == NULL || r->enis == NULL) {
        return s_oom(cli);
    }
    size_t next = 0;
    for (size_t i = 0; i < c->n_targets; i++) {
        const struct fsg_config_target *t = &c->targets[i];
        struct fsg_ip *addrs = r->hint_addrs + next;
        for (size_t j = 0; j < t->n_eni_addrs; j++) {
            if (fsg_ip_parse(fsg_span_from_cstr(t->eni_addrs[j]), &addrs[j]) != FSG_OK) {
                struct fsg_error e;
                fsg_error_set(&e, FSG_E_INVALID_ARG, "targets[%zu].eni_addrs: '%s' is not an IP "
                              "address", i, t->eni_addrs[j]);
                return fsg_cli_error(cli, "config", &e);
            }
        }
        next += t->n_eni_addrs;
        uint16_t port = t->port > 0 && t->port <= UINT16_MAX ? (uint16_t)t->port : 0;
        for (size_t j = 0; j < t->n_enis; j++) {
            r->hints[r->n_hints++] = (struct fsg_eni_hint){ .eni = t->enis[j], .addrs = addrs,
                                                            .n_addrs = t->n_eni_addrs,
                                                            .service_port = port };
            r->enis[r->n_enis++] = t->enis[j];
        }
    }
    if (o->n_enis > 0) {
        memcpy(r->enis, o->enis, o->n_enis * sizeof *r->enis);
        r->n_enis = o->n_enis;
    }
    return FSG_EXIT_OK;
}

/* Records without interface-id: the single ENI of the filter, else the target whose flow_log_id
 * is in the object's name, else "-". */
static const char *s_default_eni(const struct s_run *r, const char *name)
{
    if (r->n_enis == 1) {
        return r->enis[0];
    }
    const char *base = strrchr(name, '/');
    base = base != NULL ? base + 1 : name;
    for (size_t i = 0; i < r->config->n_targets; i++) {
        const struct fsg_config_target *t = &r->config->targets[i];
        if (t->flow_log_id != NULL && t->flow_log_id[0] != '\0' &&
            strstr(base, t->flow_log_id) != NULL) {
            return t->n_enis > 0 ? t->enis[0] : t->name;
        }
    }
    return NULL;
}

/* ---- reading the flows ------------------------------------------------------------------------ */

static int s_expand(struct fsg_cli *cli, const struct s_opts *o, struct s_run *r)
{
    struct fsg_error e = { 0 };
    for (size_t i = 0; i < o->n_sources; i++) {
        if (strncmp(o->sources[i], "s3://", 5) == 0) {
            fsg_error_set(&e, FSG_E_INVALID_ARG, "%s: s3:// sources are not supported by "
                          "publish-flows in this build yet (use local files, a directory or -)",
                          o->sources[i]);
            return fsg_cli_error(cli, NULL, &e);
        }
        if (fsg_source_expand(o->sources[i], &r->paths, &r->n_paths, &e) != FSG_OK) {
            return fsg_cli_error(cli, NULL, &e);
        }
    }
    r->objects = fsg_calloc(r->n_paths + 1, sizeof *r->objects);
    if (r->objects == NULL) {
        return s_oom(cli);
    }
    for (size_t i = 0; i < r->n_paths; i++) {
        r->objects[i] = (struct fsg_object){ .name = r->paths[i],
                                             .default_eni = s_default_eni(r, r->paths[i]) };
    }
    return FSG_EXIT_OK;
}

static int s_read(struct fsg_cli *cli, const struct s_opts *o, struct s_run *r)
{
    struct fsg_error e = { 0 };
    struct fsg_aggregate_options ao = { .hints = r->hints, .n_hints = r->n_hints };
    struct fsg_flowlog_options dec = { .format = r->config->flowlog_format };
    struct fsg_run_options ro = { .jobs = o->jobs, .decoder = &dec };
    enum fsg_err rc = fsg_aggregate_new(&ao, &r->agg, &e);
    if (rc == FSG_OK) {
        rc = fsg_run_objects(r->objects, r->n_paths, &ro, r->agg, &r->result, &e);
    }
    if (rc != FSG_OK) {
        return fsg_cli_error(cli, NULL, &e);
    }
    for (size_t i = 0; i < r->result.n_errors; i++) {
        const struct fsg_run_error *re = &r->result.errors[i];
        if (re->offset > 0) {
            fsg_error_set(&e, re->code, "%s (at byte %" PRIu64 ")", re->message, re->offset);
        } else {
            fsg_error_set(&e, re->code, "%s", re->message);
        }
        (void)fsg_cli_error(cli, re->source, &e);
    }
    if (r->result.n_errors > 0) {
        fsg_error_set(&e, r->result.errors[0].code,
                      "%zu of %zu sources could not be read; nothing was sent",
                      r->result.n_errors, r->n_paths);
        return fsg_cli_error(cli, "publish-flows", &e);
    }
    rc = fsg_aggregate_result(r->agg, FSG_DIRECTION_INGRESS, r->enis, r->n_enis, &r->flows,
                              &r->n_flows, &e);
    return rc == FSG_OK ? FSG_EXIT_OK : fsg_cli_error(cli, NULL, &e);
}

/* Order by (src, dst, port, proto) so that one connection seen on several ENIs or with several
 * actions is sent once. */
static int s_cmp_line(const void *pa, const void *pb)
{
    const struct fsg_flow *a = pa;
    const struct fsg_flow *b = pb;
    int c = fsg_ip_cmp(&a->src, &b->src);
    if (c == 0) {
        c = fsg_ip_cmp(&a->dst, &b->dst);
    }
    if (c == 0) {
        c = (a->port > b->port) - (a->port < b->port);
    }
    if (c == 0) {
        c = (a->proto > b->proto) - (a->proto < b->proto);
    }
    return c;
}

/* Keeps the flows to send, sorted and distinct; returns how many. */
static size_t s_select(struct s_run *r, bool include_rejected)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_flows; i++) {
        /* Unknown actions (a format without `action`) are kept: they may have happened. */
        if (include_rejected || r->flows[i].action != FSG_FLOW_REJECT) {
            r->flows[n++] = r->flows[i];
        }
    }
    if (n > 1) {
        qsort(r->flows, n, sizeof *r->flows, s_cmp_line);
    }
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (out == 0 || s_cmp_line(&r->flows[out - 1], &r->flows[i]) != 0) {
            r->flows[out++] = r->flows[i];
        }
    }
    r->n_flows = out;
    return out;
}

static enum fsg_err s_csv_line(struct fsg_buf *b, const struct fsg_flow *f)
{
    char src[FSG_IP_STR_MAX];
    char dst[FSG_IP_STR_MAX];
    return fsg_buf_printf(b, "%s,%s,%u,%u\n", fsg_ip_format(&f->src, src),
                          fsg_ip_format(&f->dst, dst), (unsigned)f->port, (unsigned)f->proto);
}

/* ---- sending ---------------------------------------------------------------------------------- */

struct s_totals {
    size_t flows;
    size_t requests;
    uint64_t received;
    uint64_t failed;
};

static void s_summary(const struct s_totals *t)
{
    printf("publish-flows: flows %zu, requests %zu, received %" PRIu64 ", failed %" PRIu64 "\n",
           t->flows, t->requests, t->received, t->failed);
    char line[256];
    snprintf(line, sizeof line, "\"event\":\"publish_flows\",\"flows\":%zu,\"requests\":%zu,"
             "\"received\":%" PRIu64 ",\"failed\":%" PRIu64, t->flows, t->requests, t->received,
             t->failed);
    fsg_log_fields(FSG_LOG_INFO, line);
}

static enum fsg_err s_pce_new(const struct fsg_config_pce *c, struct fsg_pce **ret,
                              struct fsg_error *err)
{
    if (c->url == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "no PCE configured: set pce.url (and "
                             "org_id, ca_file) in the config");
    }
    struct fsg_pce_options po = {
        .url = c->url, .org_id = c->org_id, .key_env = c->key_env, .secret_env = c->secret_env,
        .key_file = c->key_file, .secret_file = c->secret_file, .ca_file = c->ca_file,
        .timeout_s = c->timeout_s,
    };
    return fsg_pce_new(&po, ret, err);
}

static int s_send(struct fsg_cli *cli, const struct s_opts *o, struct s_run *r)
{
    struct s_totals t = { .flows = r->n_flows };
    struct fsg_pce *pce = NULL;
    struct fsg_buf csv = FSG_BUF_INIT;
    struct fsg_error e = { 0 };
    enum fsg_err rc = r->n_flows > 0 ? s_pce_new(&r->config->pce, &pce, &e) : FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < r->n_flows; i += o->max_lines) {
        size_t end = i + o->max_lines < r->n_flows ? i + o->max_lines : r->n_flows;
        fsg_buf_reset(&csv);
        for (size_t k = i; rc == FSG_OK && k < end; k++) {
            rc = s_csv_line(&csv, &r->flows[k]);
        }
        uint64_t received = 0;
        uint64_t failed = 0;
        if (rc == FSG_OK) {
            rc = fsg_pce_post_traffic(pce, fsg_span_from_buf(&csv), &received, &failed, &e);
        } else {
            rc = fsg_error_set(&e, rc, "out of memory building the CSV");
        }
        if (rc == FSG_OK) {
            t.requests++;
            t.received += received;
            t.failed += failed;
        }
    }
    int exit_code = FSG_EXIT_OK;
    if (rc == FSG_OK || t.requests > 0) {
        s_summary(&t);
    }
    if (rc != FSG_OK) {
        exit_code = fsg_cli_error(cli, "publish-flows", &e);
    } else if (t.failed > 0) {
        fsg_error_set(&e, FSG_E_REJECTED, "the PCE did not accept %" PRIu64 " of %" PRIu64
                      " flows: their addresses map to no workload (create unmanaged workloads "
                      "for them first)", t.failed, t.received);
        exit_code = fsg_cli_error(cli, "publish-flows", &e);
    }
    fsg_buf_clean_up(&csv);
    fsg_pce_destroy(pce);
    return exit_code;
}

static int s_dry_run(struct s_run *r)
{
    struct fsg_buf line = FSG_BUF_INIT;
    int rc = FSG_EXIT_OK;
    for (size_t i = 0; i < r->n_flows && rc == FSG_EXIT_OK; i++) {
        fsg_buf_reset(&line);
        if (s_csv_line(&line, &r->flows[i]) != FSG_OK ||
            fwrite(line.ptr, 1, line.len, stdout) != line.len) {
            rc = FSG_EXIT_ERROR;
        }
    }
    fsg_buf_clean_up(&line);
    if (fflush(stdout) != 0) {
        rc = FSG_EXIT_ERROR;
    }
    return rc;
}

/* ---- the command ------------------------------------------------------------------------------ */

static void s_run_clean_up(struct s_run *r)
{
    fsg_free(r->flows);
    fsg_run_result_clean_up(&r->result);
    fsg_aggregate_destroy(r->agg);
    fsg_free(r->objects);
    for (size_t i = 0; i < r->n_paths; i++) {
        fsg_free(r->paths[i]);
    }
    fsg_free(r->paths);
    fsg_free(r->enis);
    fsg_free(r->hints);
    fsg_free(r->hint_addrs);
    fsg_config_destroy(r->config);
}

int fsg_cmd_publish_flows(struct fsg_cli *cli, int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_help();
            return FSG_EXIT_OK;
        }
    }
    struct s_run r = { 0 };
    struct s_opts o = { .jobs = 1, .max_lines = FSG_PCE_BULK_MAX_ITEMS };
    o.enis = fsg_calloc((size_t)argc + 1, sizeof *o.enis);
    o.sources = fsg_calloc((size_t)argc + 1, sizeof *o.sources);
    int rc = o.enis != NULL && o.sources != NULL ? s_parse(cli, argc, argv, &o) : s_oom(cli);
    if (rc == FSG_EXIT_OK) {
        rc = fsg_cli_load_config(cli, &r.config);
    }
    if (rc == FSG_EXIT_OK) {
        rc = s_hints(cli, &o, &r);
    }
    if (rc == FSG_EXIT_OK) {
        rc = s_expand(cli, &o, &r);
    }
    if (rc == FSG_EXIT_OK) {
        rc = s_read(cli, &o, &r);
    }
    if (rc == FSG_EXIT_OK) {
        (void)s_select(&r, o.include_rejected);
        rc = o.dry_run ? s_dry_run(&r) : s_send(cli, &o, &r);
    }
    s_run_clean_up(&r);
    fsg_free(o.enis);
    fsg_free(o.sources);
    return rc;
}
