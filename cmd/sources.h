/* The flow SOURCEs of `flows`, `publish-flows`, `plan` and `apply`, read into one flow table.
 *
 * A SOURCE is a flow-log file (gzip or plain text), a directory (every file below it), "-"
 * (stdin), s3://bucket/key (one object) or s3://bucket/prefix/ (every object below the prefix,
 * filtered by the config's flowlogs.key_regex and --since/--until). The options that shape the
 * read (--eni, --direction, --jobs, --max-inflight, --memory, --since, --until) are parsed here
 * for every command that
 * takes them, and the config gives the region, key_regex, flowlogs.format and the targets (each
 * ENI's own addresses and database port, and which objects belong to which target).
 *
 *     struct fsg_sources_opts so;                      (fsg_sources_opts_init)
 *     ... fsg_sources_opts_table() entries in the command's fsg_opt table ...
 *     struct fsg_sources_request req = { .cmd = "flows", .opts = &so, .config = c,
 *                                        .targets = t, .n_targets = n };
 *     struct fsg_sources_result res = { 0 };
 *     int ex = fsg_sources_read(cli, &req, &res);      (then fsg_sources_report)
 *     ...
 *     fsg_sources_result_clean_up(&res);
 *
 * When stderr is a terminal, a progress line is shown while the objects are read
 * (cmd/progress.h). */
#ifndef FSG_CMD_SOURCES_H
#define FSG_CMD_SOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cmd/opts.h"
#include "flowlogs/aggregate.h"
#include "flowlogs/source.h"
#include "lib/core/error.h"
#include "lib/core/flow.h"
#include "lib/core/ip.h"

struct fsg_cli;
struct fsg_config;

/* More workers than this gains nothing on any machine we run on and only costs memory. */
#define FSG_SOURCES_MAX_JOBS 256
#define FSG_SOURCES_MAX_INFLIGHT 256
/* --memory: the default, and the range accepted. */
#define FSG_SOURCES_DEFAULT_MEMORY ((uint64_t)64 << 20)
#define FSG_SOURCES_MIN_MEMORY ((uint64_t)4 << 20)
#define FSG_SOURCES_MAX_MEMORY ((uint64_t)1 << 40)

/* The flow table's memory budget in the Lambda function (its objects are read one at a time,
 * beyond the budget sorted runs go to $TMPDIR, else /tmp: the function's ephemeral storage): a
 * quarter of the function's memory, memory_size_mb being AWS_LAMBDA_FUNCTION_MEMORY_SIZE (MiB,
 * set by the Lambda runtime), at least 1 MiB; half of the default --memory when it is NULL or
 * not a number. */
size_t fsg_sources_lambda_table_bytes(const char *memory_size_mb);

/* Which of the shared options a command takes. */
enum fsg_sources_opt_flags {
    FSG_SOURCES_OPT_ENI = 1 << 0,       /* --eni ID (repeatable) */
    FSG_SOURCES_OPT_DIRECTION = 1 << 1, /* --direction ingress|egress|all */
    FSG_SOURCES_OPT_JOBS = 1 << 2,      /* --jobs N, --max-inflight N, --memory SIZE */
    FSG_SOURCES_OPT_WINDOW = 1 << 3,    /* --since T, --until T */
};

/* At most this many fsg_opt entries come from fsg_sources_opts_table(). */
#define FSG_SOURCES_OPTS_MAX 7

/* The SOURCE arguments and the options read with them. */
struct fsg_sources_opts {
    const char **args; /* SOURCEs, in order (the strings are borrowed from argv) */
    size_t n_args;
    const char **enis; /* --eni, in order (borrowed from argv) */
    size_t n_enis;
    enum fsg_direction_filter direction; /* --direction; default ingress */
    long jobs;                           /* --jobs; 0 (the default) = one per CPU */
    long max_inflight;                   /* --max-inflight; 0 = the S3 source's default */
    uint64_t memory;                     /* --memory in bytes (FSG_SOURCES_DEFAULT_MEMORY) */
    int64_t since_s;                     /* --since; FSG_S3_TIME_NONE = no lower bound */
    int64_t until_s;                     /* --until (exclusive); FSG_S3_TIME_NONE = none */
    struct fsg_opt_number jobs_ctx;      /* for the --jobs table entry */
    struct fsg_opt_number inflight_ctx;  /* for --max-inflight */
};

/* Room for argc SOURCEs and ENIs; jobs starts at default_jobs. FSG_E_NOMEM. */
enum fsg_err fsg_sources_opts_init(struct fsg_sources_opts *o, int argc,
                                   long default_jobs) FSG_MUST_USE;
void fsg_sources_opts_clean_up(struct fsg_sources_opts *o); /* idempotent */

/* Writes the fsg_opt entries of the options in flags (fsg_sources_opt_flags) to out (room for
 * FSG_SOURCES_OPTS_MAX) and returns how many. The entries point into o, which must outlive
 * fsg_opts_parse(); the operands of the command go to o->args. */
size_t fsg_sources_opts_table(struct fsg_sources_opts *o, unsigned flags, struct fsg_opt *out);

/* A command's help in the common layout: head (usage and what it does), what a SOURCE is,
 * options (the command's own, after an "options:" line), the shared options in flags with
 * default_jobs as --jobs's default, then tail (--help and notes). */
void fsg_sources_help(FILE *out, const char *head, const char *options, unsigned flags,
                      long default_jobs, const char *tail);

/* One target as the flow engine sees it (all borrowed). */
struct fsg_sources_target {
    const char *name;         /* records filed under it when the target has no ENI (flows
                               * whose object matches flow_log_id); NULL = none */
    const char *const *enis;  /* its network interfaces */
    size_t n_enis;
    const struct fsg_ip *addrs; /* the interfaces' own addresses */
    size_t n_addrs;
    long port;                /* the database port; 0 = unknown */
    const char *flow_log_id;  /* objects whose file name holds it are this target's */
};

struct fsg_sources_request {
    const char *cmd;                      /* for messages */
    const struct fsg_sources_opts *opts;  /* borrowed */
    const struct fsg_config *config;      /* region, key_regex, flowlogs.format; borrowed */
    const struct fsg_sources_target *targets; /* borrowed */
    size_t n_targets;
    /* Without --eni, keep only the targets' ENIs (every ENI when they list none). */
    bool filter_target_enis;
    /* Leave the table in ret->agg to be read row by row (fsg_sources_flows_open) instead of
     * building ret->flows: the output then stays within --memory whatever its size. */
    bool stream;
};

/* The flow table and what reading it met. */
struct fsg_sources_result {
    struct fsg_flow *flows;    /* owned; sorted as fsg_aggregate_result */
    size_t n_flows;
    struct fsg_flow_stats stats; /* counts only the objects that were read completely */
    struct fsg_run_result run; /* a failed object each (run.errors) and malformed-line samples */
    size_t n_objects;          /* objects the SOURCEs expanded to */
    struct fsg_aggregate *agg; /* owned; with req->stream only */
    const char **filter;       /* owned array (borrowed strings); with req->stream only */
    size_t n_filter;
    enum fsg_direction_filter direction;
};

/* The rows of a streamed table (req->stream), in the order of ret->flows. As
 * fsg_aggregate_flows_open. */
enum fsg_err fsg_sources_flows_open(struct fsg_sources_result *r, struct fsg_flow_iter **ret_it,
                                    struct fsg_error *err) FSG_MUST_USE;

/* Expands every SOURCE and reads all its objects (opts->jobs at a time) into the table: the
 * direction and ENI filter of opts, ENI hints and the ENI of records without interface-id from
 * the targets. A SOURCE that cannot be expanded (an S3 listing error, a directory that cannot be
 * listed) or a run that cannot go on (memory) is printed and gives FSG_EXIT_ERROR; objects that
 * fail are only in ret->run.errors (fsg_sources_report prints them). Caller cleans *ret with
 * fsg_sources_result_clean_up() in either case. */
int fsg_sources_read(const struct fsg_cli *cli, const struct fsg_sources_request *req,
                     struct fsg_sources_result *ret);

/* Logs the malformed-line samples as warnings and prints each failed object on stderr. */
void fsg_sources_report(const struct fsg_cli *cli, const struct fsg_sources_result *r);

void fsg_sources_result_clean_up(struct fsg_sources_result *r); /* idempotent */

/* The config's targets as sources targets: *ret_targets (n = config targets) and the parsed
 * eni_addrs they point to in *ret_addrs; the caller frees both (fsg_free). A bad eni_addrs entry
 * is printed ("config: targets[i].eni_addrs: ...") and gives FSG_EXIT_ERROR. */
int fsg_sources_config_targets(const struct fsg_cli *cli, const struct fsg_config *config,
                               struct fsg_sources_target **ret_targets,
                               struct fsg_ip **ret_addrs);

/* ENI hints for the aggregator: every target's ENIs (and its name when it has none and one is
 * given) with its addresses and port. Caller owns *ret_hints (fsg_free); they borrow from
 * targets. FSG_E_NOMEM. */
enum fsg_err fsg_sources_hints(const struct fsg_sources_target *targets, size_t n_targets,
                               struct fsg_eni_hint **ret_hints, size_t *ret_n) FSG_MUST_USE;

/* Whether the file name of object name (after its last '/') holds flow_log_id (not empty). */
bool fsg_sources_name_has_flow_log_id(const char *name, const char *flow_log_id);

#endif
