/* SOURCE arguments -> objects -> one flow table. See sources.h. */
#include "cmd/sources.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/cli.h"
#include "cmd/progress.h"
#include "flowlogs/rollup.h"
#include "flowlogs/s3_source.h"
#include "flowlogs/summary.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"

/* ---- options --------------------------------------------------------------------------------- */

enum fsg_err fsg_sources_opts_init(struct fsg_sources_opts *o, int argc, long default_jobs)
{
    *o = (struct fsg_sources_opts){ .direction = FSG_DIRECTION_INGRESS,
                                    .jobs = default_jobs,
                                    .memory = FSG_SOURCES_DEFAULT_MEMORY,
                                    .since_s = FSG_S3_TIME_NONE,
                                    .until_s = FSG_S3_TIME_NONE };
    o->args = fsg_calloc((size_t)argc + 1, sizeof *o->args);
    o->enis = fsg_calloc((size_t)argc + 1, sizeof *o->enis);
    if (o->args == NULL || o->enis == NULL) {
        fsg_sources_opts_clean_up(o);
        return FSG_E_NOMEM;
    }
    return FSG_OK;
}

void fsg_sources_opts_clean_up(struct fsg_sources_opts *o)
{
    fsg_free((void *)o->args);
    fsg_free((void *)o->enis);
    o->args = NULL;
    o->enis = NULL;
    o->n_args = 0;
    o->n_enis = 0;
}

static int s_parse_eni(const struct fsg_cli *cli, const char *cmd, const char *name,
                       const char *value, void *ctx)
{
    (void)cli;
    (void)cmd;
    (void)name;
    struct fsg_sources_opts *o = ctx;
    o->enis[o->n_enis++] = value;
    return FSG_EXIT_OK;
}

static int s_parse_direction(const struct fsg_cli *cli, const char *cmd, const char *name,
                             const char *value, void *ctx)
{
    static const char *const names[] = { [FSG_DIRECTION_INGRESS] = "ingress",
                                          [FSG_DIRECTION_EGRESS] = "egress",
                                          [FSG_DIRECTION_ALL] = "all" };
    struct fsg_sources_opts *o = ctx;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(value, names[i]) == 0) {
            o->direction = (enum fsg_direction_filter)i;
            return FSG_EXIT_OK;
        }
    }
    return fsg_cli_usage_error(cli, cmd, "%s must be ingress, egress or all, not '%s'", name,
                               value);
}

static int s_parse_time(const struct fsg_cli *cli, const char *cmd, const char *name,
                        const char *value, void *ctx)
{
    struct fsg_sources_opts *o = ctx;
    bool is_until = strcmp(name, "--until") == 0;
    struct fsg_error e = { 0 };
    if (fsg_s3_parse_time_bound(value, is_until, is_until ? &o->until_s : &o->since_s, &e) !=
        FSG_OK) {
        return fsg_cli_usage_error(cli, cmd, "%s: %s", name, e.msg);
    }
    return FSG_EXIT_OK;
}

/* SIZE: bytes, or a number followed by K, M, G or T (KiB, MiB, ... ; "64M", "1.5G" not). */
static int s_parse_memory(const struct fsg_cli *cli, const char *cmd, const char *name,
                          const char *value, void *ctx)
{
    uint64_t *ret = ctx, v = 0;
    const char *p = value;
    while (*p >= '0' && *p <= '9' && v <= FSG_SOURCES_MAX_MEMORY) {
        v = v * 10 + (uint64_t)(*p++ - '0');
    }
    static const char units[] = "KMGT", lower[] = "kmgt";
    const char *u = *p != '\0' ? strchr(units, *p) : NULL;
    const char *l = *p != '\0' ? strchr(lower, *p) : NULL;
    unsigned shift = u != NULL ? (unsigned)(u - units + 1) : l != NULL ? (unsigned)(l - lower + 1) : 0;
    if (shift > 0) {
        v = v > (FSG_SOURCES_MAX_MEMORY >> (10 * shift)) ? FSG_SOURCES_MAX_MEMORY + 1
                                                         : v << (10 * shift);
        p++;
        if (*p == 'i' && p[1] == 'B') { /* KiB, MiB, ... */
            p += 2;
        } else if (*p == 'B') {
            p++;
        }
    }
    if (p == value || *p != '\0' || v < FSG_SOURCES_MIN_MEMORY || v > FSG_SOURCES_MAX_MEMORY) {
        return fsg_cli_usage_error(cli, cmd,
                                   "%s must be a size from 4M to 1T (bytes, or K, M, G, T), not "
                                   "'%s'",
                                   name, value);
    }
    *ret = v;
    return FSG_EXIT_OK;
}

size_t fsg_sources_opts_table(struct fsg_sources_opts *o, unsigned flags, struct fsg_opt *out)
{
    size_t n = 0;
    o->jobs_ctx = (struct fsg_opt_number){ .max = FSG_SOURCES_MAX_JOBS, .ret = &o->jobs };
    o->inflight_ctx = (struct fsg_opt_number){ .max = FSG_SOURCES_MAX_INFLIGHT,
                                               .ret = &o->max_inflight };
    if (flags & FSG_SOURCES_OPT_ENI) {
        out[n++] = (struct fsg_opt){ "--eni", .parse = s_parse_eni, .ctx = o };
    }
    if (flags & FSG_SOURCES_OPT_DIRECTION) {
        out[n++] = (struct fsg_opt){ "--direction", .parse = s_parse_direction, .ctx = o };
    }
    if (flags & FSG_SOURCES_OPT_JOBS) {
        out[n++] = (struct fsg_opt){ "--jobs", .parse = fsg_opt_parse_number, .ctx = &o->jobs_ctx };
        out[n++] = (struct fsg_opt){ "--max-inflight", .parse = fsg_opt_parse_number,
                                     .ctx = &o->inflight_ctx };
        out[n++] = (struct fsg_opt){ "--memory", .parse = s_parse_memory, .ctx = &o->memory };
    }
    if (flags & FSG_SOURCES_OPT_WINDOW) {
        out[n++] = (struct fsg_opt){ "--since", .parse = s_parse_time, .ctx = o };
        out[n++] = (struct fsg_opt){ "--until", .parse = s_parse_time, .ctx = o };
    }
    return n;
}

static void s_help_source(FILE *out)
{
    fputs("SOURCE: a flow-log file (gzip or plain text), a directory (every file below it), - for\n"
          "stdin, s3://bucket/key (one object) or s3://bucket/prefix/ (every object below the\n"
          "prefix, filtered by the config's flowlogs.key_regex and --since/--until). On a\n"
          "terminal, a progress line on stderr shows the objects and bytes read.\n",
          out);
}

static void s_help_options(FILE *out, unsigned flags, long default_jobs)
{
    if (flags & FSG_SOURCES_OPT_ENI) {
        fputs("  --eni ID             only this ENI (repeatable); with exactly one, records\n"
              "                       without interface-id belong to it\n",
              out);
    }
    if (flags & FSG_SOURCES_OPT_DIRECTION) {
        fputs("  --direction ingress|egress|all\n"
              "                       ingress (default): connections opened toward the ENI;\n"
              "                       egress: connections the ENI opened; return traffic is\n"
              "                       never counted\n",
              out);
    }
    if (flags & FSG_SOURCES_OPT_JOBS) {
        if (default_jobs > 0) {
            fprintf(out, "  --jobs N             decode N objects in parallel, 1..%d (default %ld;\n"
                         "                       at most one per CPU)\n",
                    FSG_SOURCES_MAX_JOBS, default_jobs);
        } else {
            fprintf(out, "  --jobs N             decode N objects in parallel, 1..%d (default and\n"
                         "                       most: one per CPU, here %zu)\n",
                    FSG_SOURCES_MAX_JOBS, fsg_run_cpus());
        }
        fprintf(out, "  --max-inflight N     s3:// prefixes: objects of up to 8 MiB are fetched\n"
                     "                       ahead, N GETs at a time, 1..%d (default 32), within\n"
                     "                       24 MiB or a third of --memory\n",
                FSG_SOURCES_MAX_INFLIGHT);
        fputs("  --memory SIZE        memory for the flow table and the S3 read-ahead (default\n"
              "                       64M; K, M, G or T; 4M..1T): a larger table is spilled to\n"
              "                       sorted runs in a temporary file in $TMPDIR and merged\n",
              out);
    }
    if (flags & FSG_SOURCES_OPT_WINDOW) {
        fputs("  --since T, --until T s3:// prefixes: only objects whose key date\n"
              "                       (.../yyyy/mm/dd/, Hive year=/month=/day=, or the file\n"
              "                       name's YYYYMMDDTHHmmZ) is in [since, until]; T is a UTC\n"
              "                       date YYYY-MM-DD (a whole day) or YYYY-MM-DDTHH:MM[:SS]Z\n",
              out);
    }
}

void fsg_sources_help(FILE *out, const char *head, const char *options, unsigned flags,
                      long default_jobs, const char *tail)
{
    fputs(head, out);
    s_help_source(out);
    fputs(options, out);
    s_help_options(out, flags, default_jobs);
    fputs(tail, out);
}

/* ---- targets --------------------------------------------------------------------------------- */

int fsg_sources_config_targets(const struct fsg_cli *cli, const struct fsg_config *config,
                               struct fsg_sources_target **ret_targets, struct fsg_ip **ret_addrs)
{
    size_t n_addrs = 0;
    for (size_t i = 0; i < config->n_targets; i++) {
        n_addrs += config->targets[i].n_eni_addrs;
    }
    struct fsg_sources_target *targets = fsg_calloc(config->n_targets + 1, sizeof *targets);
    struct fsg_ip *addrs = fsg_calloc(n_addrs + 1, sizeof *addrs);
    struct fsg_error e = { 0 };
    int ex = FSG_EXIT_OK;
    if (targets == NULL || addrs == NULL) {
        fsg_error_set(&e, FSG_E_NOMEM, "out of memory");
        ex = fsg_cli_error(cli, NULL, &e);
    }
    for (size_t i = 0, next = 0; ex == FSG_EXIT_OK && i < config->n_targets; i++) {
        const struct fsg_config_target *t = &config->targets[i];
        for (size_t j = 0; ex == FSG_EXIT_OK && j < t->n_eni_addrs; j++) {
            if (fsg_ip_parse(fsg_span_from_cstr(t->eni_addrs[j]), &addrs[next + j]) != FSG_OK) {
                fsg_error_set(&e, FSG_E_INVALID_ARG,
                              "targets[%zu].eni_addrs: '%s' is not an IP address", i,
                              t->eni_addrs[j]);
                ex = fsg_cli_error(cli, "config", &e);
            }
        }
        targets[i] = (struct fsg_sources_target){
            .name = t->name, .enis = (const char *const *)t->enis, .n_enis = t->n_enis,
            .addrs = addrs + next, .n_addrs = t->n_eni_addrs, .port = t->port,
            .flow_log_id = t->flow_log_id
        };
        next += t->n_eni_addrs;
    }
    if (ex != FSG_EXIT_OK) {
        fsg_free(targets);
        fsg_free(addrs);
        return ex;
    }
    *ret_targets = targets;
    *ret_addrs = addrs;
    return FSG_EXIT_OK;
}

enum fsg_err fsg_sources_hints(const struct fsg_sources_target *targets, size_t n_targets,
                               struct fsg_eni_hint **ret_hints, size_t *ret_n)
{
    size_t max = 0;
    for (size_t i = 0; i < n_targets; i++) {
        max += targets[i].n_enis + 1;
    }
    struct fsg_eni_hint *hints = fsg_calloc(max + 1, sizeof *hints);
    if (hints == NULL) {
        return FSG_E_NOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < n_targets; i++) {
        const struct fsg_sources_target *t = &targets[i];
        struct fsg_eni_hint h = { .addrs = t->addrs, .n_addrs = t->n_addrs,
                                  .service_port = t->port > 0 && t->port <= UINT16_MAX
                                                      ? (uint16_t)t->port
                                                      : 0 };
        for (size_t k = 0; k < t->n_enis; k++) {
            h.eni = t->enis[k];
            hints[n++] = h;
        }
        if (t->n_enis == 0 && t->name != NULL) {
            h.eni = t->name; /* what its records are filed under (s_default_eni) */
            hints[n++] = h;
        }
    }
    *ret_hints = hints;
    *ret_n = n;
    return FSG_OK;
}

bool fsg_sources_name_has_flow_log_id(const char *name, const char *flow_log_id)
{
    if (flow_log_id == NULL || flow_log_id[0] == '\0') {
        return false;
    }
    const char *base = strrchr(name, '/');
    return strstr(base != NULL ? base + 1 : name, flow_log_id) != NULL;
}

/* ---- reading --------------------------------------------------------------------------------- */

/* What one read holds, released in one place. */
struct s_read {
    const struct fsg_sources_request *req;
    const char **filter; /* the table's ENI filter (borrowed strings) */
    size_t n_filter;
    struct fsg_eni_hint *hints;
    size_t n_hints;
    char **paths; /* local paths (owned) the objects point to */
    size_t n_paths;
    struct fsg_s3_source *s3; /* made on first use; owns what its objects point to */
    struct fsg_object *objects;
    size_t n_objects;
    struct fsg_aggregate *agg;
};

static void s_read_clean_up(struct s_read *r)
{
    fsg_aggregate_destroy(r->agg);
    fsg_free(r->objects);
    fsg_s3_source_destroy(r->s3);
    for (size_t i = 0; i < r->n_paths; i++) {
        fsg_free(r->paths[i]);
    }
    fsg_free(r->paths);
    fsg_free(r->hints);
    fsg_free((void *)r->filter);
}

/* --eni, else (filter_target_enis) the targets' ENIs, else none (every ENI). */
static enum fsg_err s_filter(struct s_read *r)
{
    const struct fsg_sources_request *req = r->req;
    size_t n = req->opts->n_enis;
    for (size_t i = 0; i < req->n_targets; i++) {
        n += req->targets[i].n_enis;
    }
    r->filter = fsg_calloc(n + 1, sizeof *r->filter);
    if (r->filter == NULL) {
        return FSG_E_NOMEM;
    }
    if (req->opts->n_enis > 0) {
        memcpy(r->filter, req->opts->enis, req->opts->n_enis * sizeof *r->filter);
        r->n_filter = req->opts->n_enis;
        return FSG_OK;
    }
    for (size_t i = 0; req->filter_target_enis && i < req->n_targets; i++) {
        for (size_t k = 0; k < req->targets[i].n_enis; k++) {
            r->filter[r->n_filter++] = req->targets[i].enis[k];
        }
    }
    return FSG_OK;
}

/* Where records without interface-id go: the single ENI of the filter, else the first target
 * whose flow_log_id is in the object's file name (its first ENI, or its name), else NULL ("-"). */
static const char *s_default_eni(const struct s_read *r, const char *name)
{
    if (r->n_filter == 1) {
        return r->filter[0];
    }
    for (size_t i = 0; i < r->req->n_targets; i++) {
        const struct fsg_sources_target *t = &r->req->targets[i];
        if ((t->n_enis > 0 || t->name != NULL) &&
            fsg_sources_name_has_flow_log_id(name, t->flow_log_id)) {
            return t->n_enis > 0 ? t->enis[0] : t->name;
        }
    }
    return NULL;
}

static enum fsg_err s_local_objects(struct s_read *r, const char *arg, struct fsg_error *err)
{
    size_t first = r->n_paths;
    enum fsg_err rc = fsg_source_expand(arg, &r->paths, &r->n_paths, err);
    if (rc != FSG_OK) {
        return rc;
    }
    size_t n = r->n_paths - first;
    struct fsg_object *v = fsg_reallocarray(r->objects, r->n_objects + n + 1, sizeof *v);
    if (v == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    r->objects = v;
    for (size_t i = first; i < r->n_paths; i++) {
        struct stat st;
        uint64_t size = strcmp(r->paths[i], "-") != 0 && stat(r->paths[i], &st) == 0 &&
                                S_ISREG(st.st_mode)
                            ? (uint64_t)st.st_size
                            : 0;
        r->objects[r->n_objects++] = (struct fsg_object){ .name = r->paths[i], .size = size };
    }
    return FSG_OK;
}

/* How --memory is shared out (README "Memory budget"): the S3 read-ahead gets 24 MiB or a third,
 * whichever is less; the process itself (code, libraries, TLS, stdio) and each decoder's buffers
 * (read chunk, inflate window, text ring) are set aside; the flow tables get the rest, at least
 * S_MIN_TABLE_BYTES, shared by the decoders. */
#define S_BASE_BYTES ((uint64_t)6 << 20)
#define S_PER_DECODER_BYTES ((uint64_t)3 << 19)
#define S_MIN_TABLE_BYTES ((uint64_t)1 << 20)
#define S_MAX_PREFETCH_BYTES ((uint64_t)24 << 20)

size_t fsg_sources_lambda_table_bytes(const char *memory_size_mb)
{
    char *end = NULL;
    unsigned long long mb = memory_size_mb != NULL ? strtoull(memory_size_mb, &end, 10) : 0;
    if (memory_size_mb == NULL || end == memory_size_mb || *end != '\0' || mb == 0 ||
        mb > (1ULL << 24) || memory_size_mb[0] == '-') {
        return (size_t)(FSG_SOURCES_DEFAULT_MEMORY / 2);
    }
    uint64_t t = (uint64_t)mb * (1 << 20) / 4;
    return t < S_MIN_TABLE_BYTES ? (size_t)S_MIN_TABLE_BYTES : (size_t)t;
}

static uint64_t s_prefetch_bytes(const struct fsg_sources_opts *o)
{
    uint64_t third = o->memory / 3;
    return third < S_MAX_PREFETCH_BYTES ? third : S_MAX_PREFETCH_BYTES;
}

/* The largest day rollup made: a sixteenth of --memory, at least 1 MiB, at most rollup.h's
 * 16 MiB (reading one back briefly takes about three times its table's size). */
static size_t s_rollup_bytes(const struct fsg_sources_opts *o)
{
    uint64_t b = o->memory / 16;
    b = b < S_MIN_TABLE_BYTES ? S_MIN_TABLE_BYTES : b;
    return b > FSG_ROLLUP_MAX_BYTES ? FSG_ROLLUP_MAX_BYTES : (size_t)b;
}

static size_t s_table_bytes(const struct s_read *r, unsigned decoders)
{
    const struct fsg_sources_opts *o = r->req->opts;
    uint64_t set_aside = S_BASE_BYTES + (uint64_t)decoders * S_PER_DECODER_BYTES +
                         (r->s3 != NULL ? s_prefetch_bytes(o) : 0);
    uint64_t t = o->memory > set_aside ? o->memory - set_aside : 0;
    t = t < S_MIN_TABLE_BYTES ? S_MIN_TABLE_BYTES : t;
    return t > SIZE_MAX ? SIZE_MAX : (size_t)t;
}

/* The S3 source of this read, made on first use: region and key regex from the config, the
 * --since/--until window. */
static enum fsg_err s_s3(struct s_read *r, struct fsg_error *err)
{
    if (r->s3 != NULL) {
        return FSG_OK;
    }
    const struct fsg_config *c = r->req->config;
    char fingerprint[65] = "";
    if (c->flowlog_summaries != NULL &&
        fsg_summary_fingerprint(r->hints, r->n_hints, r->filter, r->n_filter, c->flowlog_format,
                                fingerprint) != FSG_OK) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    struct fsg_s3_source_options so = { .region = c->region,
                                        .key_regex = c->key_regex,
                                        .since_s = r->req->opts->since_s,
                                        .until_s = r->req->opts->until_s,
                                        .max_inflight = (unsigned)r->req->opts->max_inflight,
                                        .prefetch_bytes = s_prefetch_bytes(r->req->opts),
                                        .summaries_url = c->flowlog_summaries,
                                        .summary_fingerprint = fingerprint,
                                        .summary_enis = r->filter,
                                        .n_summary_enis = r->n_filter,
                                        .rollup_max_bytes = s_rollup_bytes(r->req->opts) };
    return fsg_s3_source_new(&so, &r->s3, err);
}

/* s3:// SOURCE -> the key, or every listed key below the prefix (flowlogs/s3_source). */
static enum fsg_err s_s3_objects(struct s_read *r, const char *url, struct fsg_error *err)
{
    size_t before = r->n_objects;
    enum fsg_err rc = s_s3(r, err);
    if (rc == FSG_OK) {
        rc = fsg_s3_source_expand(r->s3, url, &r->objects, &r->n_objects, err);
    }
    if (rc == FSG_OK && r->n_objects == before) {
        struct fsg_s3_source_counts c;
        fsg_s3_source_counts(r->s3, &c);
        fsg_log(FSG_LOG_WARN,
                "%s: no objects to read (%zu keys listed: %zu folders, %zu not "
                "matching flowlogs.key_regex, %zu outside --since/--until)",
                url, c.listed, c.folders, c.regex_skipped, c.time_skipped);
    }
    return rc;
}

/* Every SOURCE as objects, in argument order. */
static enum fsg_err s_expand(struct s_read *r, struct fsg_error *err)
{
    const struct fsg_sources_opts *o = r->req->opts;
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; i < o->n_args && rc == FSG_OK; i++) {
        rc = fsg_s3_source_is_url(o->args[i]) ? s_s3_objects(r, o->args[i], err)
                                               : s_local_objects(r, o->args[i], err);
    }
    for (size_t i = 0; i < r->n_objects && rc == FSG_OK; i++) {
        if (r->objects[i].default_eni == NULL) {
            r->objects[i].default_eni = s_default_eni(r, r->objects[i].name);
        }
    }
    return rc;
}

/* Reads the objects into the aggregator (with a progress line on a terminal). */
static enum fsg_err s_run(struct s_read *r, struct fsg_sources_result *ret, struct fsg_error *err)
{
    const char *inflate = getenv("FSG_INFLATE"); /* diagnostics: "zlib" forces the zlib engine */
    struct fsg_flowlog_options dec = { .format = r->req->config->flowlog_format,
                                       .force_zlib =
                                           inflate != NULL && strcmp(inflate, "zlib") == 0 };
    /* Decoding is CPU-bound: more decoders than CPUs only add a table each (memory) and never
     * speed. Waiting on S3 is the S3 source's business (--max-inflight GETs ahead). */
    size_t cpus = fsg_run_cpus();
    long jobs = r->req->opts->jobs;
    struct fsg_run_options ro = { .jobs = jobs == 0 || (size_t)jobs > cpus ? (unsigned)cpus
                                                                           : (unsigned)jobs,
                                  .decoder = &dec };
    struct fsg_aggregate_options ao = { .hints = r->hints, .n_hints = r->n_hints };
    enum fsg_err rc = fsg_aggregate_new(&ao, &r->agg, err);
    if (rc == FSG_OK) {
        rc = fsg_aggregate_set_memory(r->agg, s_table_bytes(r, ro.jobs), err);
    }
    if (rc == FSG_OK) {
        struct fsg_progress *p = fsg_progress_start(r->objects, r->n_objects);
        rc = fsg_run_objects(r->objects, r->n_objects, &ro, r->agg, &ret->run, err);
        fsg_progress_finish(p);
    }
    if (rc == FSG_OK) {
        ret->stats = *fsg_aggregate_stats(r->agg);
        ret->direction = r->req->opts->direction;
        if (fsg_aggregate_spilled_runs(r->agg) > 0) {
            fsg_log(FSG_LOG_DEBUG,
                    "flow table: larger than its %zu KiB of --memory: %" PRIu64
                    " rows written to a temporary file in %zu sorted runs, merged on output",
                    fsg_aggregate_memory(r->agg) >> 10, fsg_aggregate_spilled_rows(r->agg),
                    fsg_aggregate_spilled_runs(r->agg));
        }
    }
    if (rc == FSG_OK && r->req->stream) { /* the caller reads it row by row */
        ret->agg = r->agg;
        ret->filter = r->filter;
        ret->n_filter = r->n_filter;
        r->agg = NULL;
        r->filter = NULL;
    } else if (rc == FSG_OK) {
        rc = fsg_aggregate_result(r->agg, r->req->opts->direction, r->filter, r->n_filter,
                                  &ret->flows, &ret->n_flows, err);
    }
    return rc;
}

int fsg_sources_read(const struct fsg_cli *cli, const struct fsg_sources_request *req,
                     struct fsg_sources_result *ret)
{
    struct s_read r = { .req = req };
    struct fsg_error err = { 0 };
    *ret = (struct fsg_sources_result){ 0 };
    enum fsg_err rc = s_filter(&r);
    if (rc == FSG_OK) {
        rc = fsg_sources_hints(req->targets, req->n_targets, &r.hints, &r.n_hints);
    }
    if (rc != FSG_OK) {
        fsg_error_set(&err, rc, "out of memory");
    }
    if (rc == FSG_OK) {
        rc = s_expand(&r, &err);
    }
    ret->n_objects = r.n_objects;
    if (rc == FSG_OK) {
        rc = s_run(&r, ret, &err);
    }
    s_read_clean_up(&r);
    return rc == FSG_OK ? FSG_EXIT_OK : fsg_cli_error(cli, NULL, &err);
}

void fsg_sources_report(const struct fsg_cli *cli, const struct fsg_sources_result *r)
{
    const struct fsg_run_result *run = &r->run;
    for (size_t i = 0; i < run->n_warnings; i++) {
        const struct fsg_run_warning *w = &run->warnings[i];
        fsg_log(FSG_LOG_WARN, "%s: line %lu: malformed record skipped: %s", w->source, w->line,
                w->message);
    }
    if (r->stats.malformed > run->n_warnings) {
        fsg_log(FSG_LOG_WARN, "%" PRIu64 " malformed records skipped in total",
                r->stats.malformed);
    }
    for (size_t i = 0; i < run->n_errors; i++) {
        const struct fsg_run_error *re = &run->errors[i];
        struct fsg_error e;
        /* The offset is in the message when the decoder found the problem; a failed transfer
         * or read says only what failed. */
        if (re->offset > 0 && strstr(re->message, "at byte") == NULL) {
            fsg_error_set(&e, re->code, "%s (at byte %" PRIu64 ")", re->message, re->offset);
        } else {
            fsg_error_set(&e, re->code, "%s", re->message);
        }
        fsg_cli_error(cli, re->source, &e);
    }
}

enum fsg_err fsg_sources_flows_open(struct fsg_sources_result *r, struct fsg_flow_iter **ret_it,
                                    struct fsg_error *err)
{
    return fsg_aggregate_flows_open(r->agg, r->direction, r->filter, r->n_filter, ret_it, err);
}

void fsg_sources_result_clean_up(struct fsg_sources_result *r)
{
    fsg_aggregate_destroy(r->agg);
    fsg_free((void *)r->filter);
    fsg_free(r->flows);
    fsg_run_result_clean_up(&r->run);
    *r = (struct fsg_sources_result){ 0 };
}
