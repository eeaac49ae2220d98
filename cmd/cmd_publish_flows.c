/* flowseg publish-flows: observed inbound flows -> the PCE traffic loader
 * (POST /orgs/N/agents/bulk_traffic_flows, ref/pce-api.md §7), so the PCE map shows them.
 *
 * Unlike the Illumio Labs Lambda this sends each connection once, oriented client -> server with
 * the server's port (never the return leg with the client's ephemeral port), only flows that were
 * accepted, and at most 1000 lines per request. Reading the SOURCEs is cmd/sources.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "cmd/opts.h"
#include "cmd/sources.h"
#include "lib/core/ip.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"
#include "cmd/pce_creds.h"
#include "policy/pce.h"

/* The source options publish-flows takes, and its default --jobs. */
#define S_SOURCE_OPTS (FSG_SOURCES_OPT_ENI | FSG_SOURCES_OPT_JOBS | FSG_SOURCES_OPT_WINDOW)
/* Its own --eni help (the default differs from flows'), then the others. */
#define S_SOURCE_HELP (FSG_SOURCES_OPT_JOBS | FSG_SOURCES_OPT_WINDOW)
#define S_DEFAULT_JOBS 0 /* one per CPU */

struct s_opts {
    struct fsg_sources_opts src;
    long max_lines;
    bool dry_run;
    bool include_rejected;
    struct fsg_opt_number max_lines_ctx;
};

struct s_run {
    struct fsg_config *config;
    struct fsg_sources_target *targets;
    struct fsg_ip *addrs;
    struct fsg_sources_result res;
    struct fsg_flow *flows; /* borrowed from res: the selected flows */
    size_t n_flows;
};

static const char s_help_head[] =
    "usage: flowseg publish-flows [OPTIONS] SOURCE...\n"
    "\n"
    "Sends the inbound connections observed in VPC flow logs to the PCE traffic loader\n"
    "(agents/bulk_traffic_flows) so the PCE map shows them: one `src,dst,port,proto` line per\n"
    "distinct connection, oriented client -> server with the server's port, accepted flows\n"
    "only, at most 1000 lines per request. Prints a summary (flows, requests, received,\n"
    "failed). Exit 1 if a source cannot be read (then nothing is sent), a request fails, or\n"
    "the PCE reports failed flows (their addresses map to no workload: create unmanaged\n"
    "workloads for them first).\n"
    "\n";

static const char s_help_options[] =
    "\n"
    "options:\n"
    "  --dry-run            print the CSV instead of sending it (no PCE needed)\n"
    "  --max-lines N        lines per request, 1..1000 (default 1000)\n"
    "  --include-rejected   also send connections whose records were all REJECTed\n"
    "  --eni ID             only this ENI (repeatable; default: the config targets' ENIs,\n"
    "                       or every ENI when the config lists none); with exactly one,\n"
    "                       records without interface-id belong to it\n";

static const char s_help_tail[] =
    "  --help               this text\n"
    "\n"
    "The PCE comes from the config's `pce` section (url, org_id, ca_file, timeout_s); the API\n"
    "key and secret from the environment variables it names (default PCE_API_KEY and\n"
    "PCE_API_SECRET) or pce.key_file/pce.secret_file.\n";

static void s_help(void)
{
    fsg_sources_help(stdout, s_help_head, s_help_options, S_SOURCE_HELP, S_DEFAULT_JOBS,
                     s_help_tail);
}

static int s_parse(struct fsg_cli *cli, int argc, char **argv, struct s_opts *o)
{
    o->max_lines_ctx = (struct fsg_opt_number){ .max = FSG_PCE_BULK_MAX_ITEMS,
                                                .ret = &o->max_lines };
    struct fsg_opt table[3 + FSG_SOURCES_OPTS_MAX] = {
        { "--dry-run", .flag = &o->dry_run },
        { "--include-rejected", .flag = &o->include_rejected },
        { "--max-lines", .parse = fsg_opt_parse_number, .ctx = &o->max_lines_ctx },
    };
    size_t n = 3 + fsg_sources_opts_table(&o->src, S_SOURCE_OPTS, table + 3);
    int ex = fsg_opts_parse(cli, "publish-flows", table, n, argc, argv, o->src.args,
                            &o->src.n_args);
    if (ex == FSG_EXIT_OK && o->src.n_args == 0) {
        ex = fsg_cli_usage_error(cli, "publish-flows", "%s",
                                 "no SOURCE given (a file, a directory, - for stdin)");
    }
    return ex;
}

/* ---- reading the flows ----------------------------------------------------------------------- */

/* Every source must be read: publishing part of the traffic would show a wrong map. */
static int s_read(struct fsg_cli *cli, const struct s_opts *o, struct s_run *r)
{
    int ex = fsg_sources_config_targets(cli, r->config, &r->targets, &r->addrs);
    if (ex == FSG_EXIT_OK) {
        struct fsg_sources_request req = { .cmd = "publish-flows", .opts = &o->src,
                                           .config = r->config, .targets = r->targets,
                                           .n_targets = r->config->n_targets,
                                           .filter_target_enis = true };
        ex = fsg_sources_read(cli, &req, &r->res);
    }
    if (ex != FSG_EXIT_OK) {
        return ex;
    }
    fsg_sources_report(cli, &r->res);
    if (r->res.run.n_errors > 0) {
        struct fsg_error e;
        fsg_error_set(&e, r->res.run.errors[0].code,
                      "%zu of %zu sources could not be read; nothing was sent",
                      r->res.run.n_errors, r->res.n_objects);
        return fsg_cli_error(cli, "publish-flows", &e);
    }
    r->flows = r->res.flows;
    r->n_flows = r->res.n_flows;
    return FSG_EXIT_OK;
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

/* ---- sending --------------------------------------------------------------------------------- */

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

static enum fsg_err s_pce_new(const struct fsg_config *config, struct fsg_pce **ret,
                              struct fsg_secret_source **ret_secret, struct fsg_error *err)
{
    const struct fsg_config_pce *c = &config->pce;
    if (c->url == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "no PCE configured: set pce.url (and "
                             "org_id, ca_file) in the config");
    }
    struct fsg_pce_options po = {
        .url = c->url, .org_id = c->org_id, .ca_file = c->ca_file, .timeout_s = c->timeout_s,
    };
    enum fsg_err rc = fsg_cmd_pce_creds(c, config->region, NULL, NULL, &po, ret_secret, err);
    return rc == FSG_OK ? fsg_pce_new(&po, ret, err) : rc;
}

static int s_send(struct fsg_cli *cli, const struct s_opts *o, struct s_run *r)
{
    struct s_totals t = { .flows = r->n_flows };
    struct fsg_pce *pce = NULL;
    struct fsg_secret_source *secret = NULL;
    struct fsg_buf csv = FSG_BUF_INIT;
    struct fsg_error e = { 0 };
    enum fsg_err rc = r->n_flows > 0 ? s_pce_new(r->config, &pce, &secret, &e) : FSG_OK;
    size_t per_request = (size_t)o->max_lines;
    for (size_t i = 0; rc == FSG_OK && i < r->n_flows; i += per_request) {
        size_t end = i + per_request < r->n_flows ? i + per_request : r->n_flows;
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
    fsg_secret_source_destroy(secret);
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

/* ---- the command ----------------------------------------------------------------------------- */

int fsg_cmd_publish_flows(struct fsg_cli *cli, int argc, char **argv)
{
    if (fsg_opts_want_help(argc, argv)) {
        s_help();
        return FSG_EXIT_OK;
    }
    struct s_run r = { 0 };
    struct s_opts o = { .max_lines = FSG_PCE_BULK_MAX_ITEMS };
    if (fsg_sources_opts_init(&o.src, argc, S_DEFAULT_JOBS) != FSG_OK) {
        return fsg_cli_error(cli, NULL, &(struct fsg_error){ .code = FSG_E_NOMEM });
    }
    int rc = s_parse(cli, argc, argv, &o);
    if (rc == FSG_EXIT_OK) {
        rc = fsg_cli_load_config(cli, &r.config);
    }
    if (rc == FSG_EXIT_OK) {
        rc = s_read(cli, &o, &r);
    }
    if (rc == FSG_EXIT_OK) {
        (void)s_select(&r, o.include_rejected);
        rc = o.dry_run ? s_dry_run(&r) : s_send(cli, &o, &r);
    }
    fsg_sources_result_clean_up(&r.res);
    fsg_free(r.targets);
    fsg_free(r.addrs);
    fsg_config_destroy(r.config);
    fsg_sources_opts_clean_up(&o.src);
    return rc;
}
