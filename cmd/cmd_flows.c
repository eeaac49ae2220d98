/* flowseg flows: aggregate VPC flow logs per ENI (CONTRACT.md "flows --format json"). Reading
 * the SOURCEs is cmd/sources.c (shared with publish-flows, plan and apply); this file parses the
 * options and prints the table. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cli.h"
#include "cmd/opts.h"
#include "cmd/sources.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"

/* stdout is written in large blocks: a table can be hundreds of thousands of lines. */
#define S_STDOUT_BUFFER ((size_t)1 << 16)
/* The source options flows takes, and its default --jobs. */
#define S_SOURCE_OPTS                                                                              \
    (FSG_SOURCES_OPT_ENI | FSG_SOURCES_OPT_DIRECTION | FSG_SOURCES_OPT_JOBS |                      \
     FSG_SOURCES_OPT_WINDOW)
#define S_DEFAULT_JOBS 0 /* one per CPU */

enum s_format { S_TEXT = 0, S_JSON, S_CSV };

static const char s_help_head[] =
    "usage: flowseg flows [OPTIONS] SOURCE...\n"
    "\n"
    "Aggregates VPC flow logs per network interface (ENI): one row per (eni, src, dst, port,\n"
    "proto, action, direction) with records, packets, bytes, first and last seen.\n"
    "\n";

static const char s_help_options[] =
    "\n"
    "options:\n"
    "  --format FORMAT      text (default), json or csv\n";

static const char s_help_tail[] =
    "  --help               this text\n"
    "\n"
    "The field order comes from each object's header line, else from the config's\n"
    "flowlogs.format, else the default (v2) format. A truncated or corrupt object is reported\n"
    "with its byte offset and counts for nothing; the others are still counted in full\n"
    "(exit status 1).\n";

static void s_help(void)
{
    fsg_sources_help(stdout, s_help_head, s_help_options, S_SOURCE_OPTS, S_DEFAULT_JOBS,
                     s_help_tail);
}

static int s_parse_format(const struct fsg_cli *cli, const char *cmd, const char *name,
                          const char *value, void *ctx)
{
    static const char *const names[] = { [S_TEXT] = "text", [S_JSON] = "json", [S_CSV] = "csv" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(value, names[i]) == 0) {
            *(enum s_format *)ctx = (enum s_format)i;
            return FSG_EXIT_OK;
        }
    }
    return fsg_cli_usage_error(cli, cmd, "%s must be text, json or csv, not '%s'", name, value);
}

static int s_parse(struct fsg_cli *cli, int argc, char **argv, struct fsg_sources_opts *so,
                   enum s_format *format)
{
    struct fsg_opt table[1 + FSG_SOURCES_OPTS_MAX] = {
        { "--format", .parse = s_parse_format, .ctx = format },
    };
    size_t n = 1 + fsg_sources_opts_table(so, S_SOURCE_OPTS, table + 1);
    int ex = fsg_opts_parse(cli, "flows", table, n, argc, argv, so->args, &so->n_args);
    if (ex == FSG_EXIT_OK && so->n_args == 0) {
        ex = fsg_cli_usage_error(cli, "flows", "%s",
                                 "no SOURCE given (a file, a directory, - for stdin)");
    }
    return ex;
}

/* ---- output ------------------------------------------------------------------------------- */

static const char *s_action(uint8_t a)
{
    return a == FSG_FLOW_ACCEPT ? "ACCEPT" : a == FSG_FLOW_REJECT ? "REJECT" : "-";
}

static const char *s_dir(uint8_t d)
{
    return d == FSG_FLOW_INGRESS ? "ingress" : "egress";
}

static void s_json_str(FILE *out, const char *s)
{
    char esc[1024];
    fsg_json_escape(s, esc, sizeof esc);
    fprintf(out, "\"%s\"", esc);
}

static void s_json_time(FILE *out, int64_t t)
{
    if (t == FSG_FLOW_TIME_NONE) {
        fputs("null", out);
    } else {
        fprintf(out, "%" PRId64, t);
    }
}

static void s_json_flow(FILE *out, const struct fsg_flow *f)
{
    char src[FSG_IP_STR_MAX], dst[FSG_IP_STR_MAX];
    fprintf(out,
            "{\"src\": \"%s\", \"dst\": \"%s\", \"port\": %u, \"proto\": %u, \"action\": \"%s\", "
            "\"direction\": \"%s\", \"records\": %" PRIu64 ", \"packets\": %" PRIu64
            ", \"bytes\": %" PRIu64 ", \"first\": ",
            fsg_ip_format(&f->src, src), fsg_ip_format(&f->dst, dst), (unsigned)f->port,
            (unsigned)f->proto, s_action(f->action), s_dir(f->direction), f->records, f->packets,
            f->bytes);
    s_json_time(out, f->first_s);
    fputs(", \"last\": ", out);
    s_json_time(out, f->last_s);
    fputc('}', out);
}

static void s_json_stats(FILE *out, const struct fsg_flow_stats *s, const struct fsg_run_result *r)
{
    fprintf(out,
            " \"stats\": {\"objects\": %" PRIu64 ", \"bytes_in\": %" PRIu64 ", \"lines\": %" PRIu64
            ", \"records\": %" PRIu64 ", \"nodata\": %" PRIu64 ", \"skipdata\": %" PRIu64
            ", \"malformed\": %" PRIu64 ", \"errors\": [",
            s->objects, s->bytes_in, s->lines, s->records, s->nodata, s->skipdata, s->malformed);
    for (size_t i = 0; i < r->n_errors; i++) {
        fputs(i == 0 ? "\n   {\"source\": " : ",\n   {\"source\": ", out);
        s_json_str(out, r->errors[i].source);
        fprintf(out, ", \"offset\": %" PRIu64 ", \"error\": ", r->errors[i].offset);
        s_json_str(out, r->errors[i].message);
        fputc('}', out);
    }
    fputs("]}}\n", out);
}

static void s_print_json(FILE *out, const struct fsg_flow *f, size_t n,
                         const struct fsg_flow_stats *s, const struct fsg_run_result *r)
{
    fputs("{\"enis\": [", out);
    for (size_t i = 0; i < n; i++) {
        bool new_eni = i == 0 || strcmp(f[i].eni, f[i - 1].eni) != 0;
        if (new_eni) {
            fputs(i == 0 ? "\n   {\"eni\": " : "]},\n   {\"eni\": ", out);
            s_json_str(out, f[i].eni);
            fputs(",\n    \"flows\": [\n      ", out);
        } else {
            fputs(",\n      ", out);
        }
        s_json_flow(out, &f[i]);
    }
    fputs(n > 0 ? "]}],\n" : "],\n", out);
    s_json_stats(out, s, r);
}

static const char *s_proto_name(uint8_t p, char buf[8])
{
    switch (p) {
    case 1:
        return "icmp";
    case 6:
        return "tcp";
    case 17:
        return "udp";
    case 58:
        return "icmpv6";
    default:
        snprintf(buf, 8, "%u", (unsigned)p);
        return buf;
    }
}

static const char *s_iso(int64_t t, char buf[32])
{
    if (t == FSG_FLOW_TIME_NONE) {
        return "-";
    }
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(buf, 32, "%" PRId64, t);
    }
    return buf;
}

static void s_print_text(FILE *out, const struct fsg_flow *f, size_t n,
                         const struct fsg_flow_stats *s, const struct fsg_run_result *r)
{
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(f[i].eni, f[i - 1].eni) != 0) {
            fprintf(out, "%s%s\n  %-39s %-39s %5s %-6s %-6s %-9s %10s %12s %14s %-20s %-20s\n",
                    i == 0 ? "" : "\n", f[i].eni, "SRC", "DST", "PORT", "PROTO", "ACTION",
                    "DIRECTION", "RECORDS", "PACKETS", "BYTES", "FIRST", "LAST");
        }
        char src[FSG_IP_STR_MAX], dst[FSG_IP_STR_MAX], proto[8], t1[32], t2[32];
        fprintf(out,
                "  %-39s %-39s %5u %-6s %-6s %-9s %10" PRIu64 " %12" PRIu64 " %14" PRIu64
                " %-20s %-20s\n",
                fsg_ip_format(&f[i].src, src), fsg_ip_format(&f[i].dst, dst), (unsigned)f[i].port,
                s_proto_name(f[i].proto, proto), s_action(f[i].action), s_dir(f[i].direction),
                f[i].records, f[i].packets, f[i].bytes, s_iso(f[i].first_s, t1),
                s_iso(f[i].last_s, t2));
    }
    fprintf(out,
            "%s%zu flows; objects %" PRIu64 ", bytes in %" PRIu64 ", lines %" PRIu64
            ", records %" PRIu64 ", nodata %" PRIu64 ", skipdata %" PRIu64 ", malformed %" PRIu64
            ", errors %zu\n",
            n > 0 ? "\n" : "", n, s->objects, s->bytes_in, s->lines, s->records, s->nodata,
            s->skipdata, s->malformed, r->n_errors);
}

static void s_print_csv(FILE *out, const struct fsg_flow *f, size_t n)
{
    fputs("eni,src,dst,port,proto,action,direction,records,packets,bytes,first,last\n", out);
    for (size_t i = 0; i < n; i++) {
        char src[FSG_IP_STR_MAX], dst[FSG_IP_STR_MAX];
        fprintf(out, "%s,%s,%s,%u,%u,%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",", f[i].eni,
                fsg_ip_format(&f[i].src, src), fsg_ip_format(&f[i].dst, dst), (unsigned)f[i].port,
                (unsigned)f[i].proto, s_action(f[i].action), s_dir(f[i].direction), f[i].records,
                f[i].packets, f[i].bytes);
        if (f[i].first_s != FSG_FLOW_TIME_NONE) {
            fprintf(out, "%" PRId64, f[i].first_s);
        }
        fputc(',', out);
        if (f[i].last_s != FSG_FLOW_TIME_NONE) {
            fprintf(out, "%" PRId64, f[i].last_s);
        }
        fputc('\n', out);
    }
}

/* ---- the command --------------------------------------------------------------------------- */

static int s_print(const struct fsg_sources_result *r, enum s_format format)
{
    static char outbuf[S_STDOUT_BUFFER];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    if (format == S_JSON) {
        s_print_json(stdout, r->flows, r->n_flows, &r->stats, &r->run);
    } else if (format == S_CSV) {
        s_print_csv(stdout, r->flows, r->n_flows);
    } else {
        s_print_text(stdout, r->flows, r->n_flows, &r->stats, &r->run);
    }
    return fflush(stdout) == 0 ? FSG_EXIT_OK : FSG_EXIT_ERROR;
}

int fsg_cmd_flows(struct fsg_cli *cli, int argc, char **argv)
{
    if (fsg_opts_want_help(argc, argv)) {
        s_help();
        return FSG_EXIT_OK;
    }
    struct fsg_config *config = NULL;
    struct fsg_sources_target *targets = NULL;
    struct fsg_ip *addrs = NULL;
    struct fsg_sources_opts so;
    struct fsg_sources_result res = { 0 };
    enum s_format format = S_TEXT;
    int ex = FSG_EXIT_ERROR;
    if (fsg_sources_opts_init(&so, argc, S_DEFAULT_JOBS) != FSG_OK) {
        return fsg_cli_error(cli, NULL, &(struct fsg_error){ .code = FSG_E_NOMEM });
    }
    ex = s_parse(cli, argc, argv, &so, &format);
    if (ex == FSG_EXIT_OK) {
        ex = fsg_cli_load_config(cli, &config);
    }
    if (ex == FSG_EXIT_OK) {
        ex = fsg_sources_config_targets(cli, config, &targets, &addrs);
    }
    if (ex == FSG_EXIT_OK) {
        struct fsg_sources_request req = { .cmd = "flows", .opts = &so, .config = config,
                                           .targets = targets, .n_targets = config->n_targets };
        ex = fsg_sources_read(cli, &req, &res);
    }
    if (ex == FSG_EXIT_OK) {
        fsg_sources_report(cli, &res);
        ex = s_print(&res, format);
        if (res.run.n_errors > 0) {
            ex = FSG_EXIT_ERROR;
        }
    }
    fsg_sources_result_clean_up(&res);
    fsg_free(targets);
    fsg_free(addrs);
    fsg_config_destroy(config);
    fsg_sources_opts_clean_up(&so);
    return ex;
}
