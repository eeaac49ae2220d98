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

/* Rows are written as they come from the flow table (fsg_sources_flows_open: merged from disk
 * when the table was larger than --memory) into a 64 KiB block; JSON and CSV rows are formatted
 * by hand (a table can be millions of rows, and printf costs most of the time of a row), text
 * rows with snprintf (a table for people to read). */
struct s_out {
    FILE *f;
    size_t n;
    char buf[S_STDOUT_BUFFER];
};

static void s_flush(struct s_out *o)
{
    if (o->n > 0) {
        (void)fwrite(o->buf, 1, o->n, o->f);
        o->n = 0;
    }
}

static void s_put(struct s_out *o, const char *p, size_t n)
{
    if (o->n + n > sizeof o->buf) {
        s_flush(o);
        if (n > sizeof o->buf) {
            (void)fwrite(p, 1, n, o->f);
            return;
        }
    }
    memcpy(o->buf + o->n, p, n);
    o->n += n;
}

#define S_PUT_LIT(o, lit) s_put((o), (lit), sizeof(lit) - 1)

static void s_puts(struct s_out *o, const char *s)
{
    s_put(o, s, strlen(s));
}

static void s_u64(struct s_out *o, uint64_t v)
{
    char t[20];
    size_t i = sizeof t;
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    s_put(o, t + i, sizeof t - i);
}

static void s_i64(struct s_out *o, int64_t v)
{
    if (v < 0) {
        S_PUT_LIT(o, "-");
        s_u64(o, (uint64_t)0 - (uint64_t)v);
    } else {
        s_u64(o, (uint64_t)v);
    }
}

/* As fsg_ip_format (inet_ntop), IPv4 by hand. */
static void s_ip(struct s_out *o, const struct fsg_ip *ip)
{
    if (ip->is_v6) {
        char t[FSG_IP_STR_MAX];
        s_puts(o, fsg_ip_format(ip, t));
        return;
    }
    char t[16];
    size_t n = 0;
    for (int i = 12; i < 16; i++) {
        unsigned b = ip->a[i];
        if (b >= 100) {
            t[n++] = (char)('0' + b / 100);
        }
        if (b >= 10) {
            t[n++] = (char)('0' + b / 10 % 10);
        }
        t[n++] = (char)('0' + b % 10);
        t[n++] = '.';
    }
    s_put(o, t, n - 1);
}

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

static void s_json_time(struct s_out *o, int64_t t)
{
    if (t == FSG_FLOW_TIME_NONE) {
        S_PUT_LIT(o, "null");
    } else {
        s_i64(o, t);
    }
}

static void s_json_flow(struct s_out *o, const struct fsg_flow *f)
{
    S_PUT_LIT(o, "{\"src\": \"");
    s_ip(o, &f->src);
    S_PUT_LIT(o, "\", \"dst\": \"");
    s_ip(o, &f->dst);
    S_PUT_LIT(o, "\", \"port\": ");
    s_u64(o, f->port);
    S_PUT_LIT(o, ", \"proto\": ");
    s_u64(o, f->proto);
    S_PUT_LIT(o, ", \"action\": \"");
    s_puts(o, s_action(f->action));
    S_PUT_LIT(o, "\", \"direction\": \"");
    s_puts(o, s_dir(f->direction));
    S_PUT_LIT(o, "\", \"records\": ");
    s_u64(o, f->records);
    S_PUT_LIT(o, ", \"packets\": ");
    s_u64(o, f->packets);
    S_PUT_LIT(o, ", \"bytes\": ");
    s_u64(o, f->bytes);
    S_PUT_LIT(o, ", \"first\": ");
    s_json_time(o, f->first_s);
    S_PUT_LIT(o, ", \"last\": ");
    s_json_time(o, f->last_s);
    S_PUT_LIT(o, "}");
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

static void s_json_row(struct s_out *o, const struct fsg_flow *f, const struct fsg_flow *prev)
{
    if (prev == NULL || strcmp(f->eni, prev->eni) != 0) {
        char esc[1024];
        fsg_json_escape(f->eni, esc, sizeof esc);
        if (prev == NULL) {
            S_PUT_LIT(o, "\n   {\"eni\": \"");
        } else {
            S_PUT_LIT(o, "]},\n   {\"eni\": \"");
        }
        s_puts(o, esc);
        S_PUT_LIT(o, "\",\n    \"flows\": [\n      ");
    } else {
        S_PUT_LIT(o, ",\n      ");
    }
    s_json_flow(o, f);
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

static void s_text_row(struct s_out *o, const struct fsg_flow *f, const struct fsg_flow *prev)
{
    char line[512];
    if (prev == NULL || strcmp(f->eni, prev->eni) != 0) {
        int k = snprintf(line, sizeof line,
                         "%s%s\n  %-39s %-39s %5s %-6s %-6s %-9s %10s %12s %14s %-20s %-20s\n",
                         prev == NULL ? "" : "\n", f->eni, "SRC", "DST", "PORT", "PROTO", "ACTION",
                         "DIRECTION", "RECORDS", "PACKETS", "BYTES", "FIRST", "LAST");
        s_put(o, line, k > 0 ? (size_t)k : 0);
    }
    char src[FSG_IP_STR_MAX], dst[FSG_IP_STR_MAX], proto[8], t1[32], t2[32];
    int k = snprintf(line, sizeof line,
                     "  %-39s %-39s %5u %-6s %-6s %-9s %10" PRIu64 " %12" PRIu64 " %14" PRIu64
                     " %-20s %-20s\n",
                     fsg_ip_format(&f->src, src), fsg_ip_format(&f->dst, dst), (unsigned)f->port,
                     s_proto_name(f->proto, proto), s_action(f->action), s_dir(f->direction),
                     f->records, f->packets, f->bytes, s_iso(f->first_s, t1),
                     s_iso(f->last_s, t2));
    s_put(o, line, k > 0 ? (size_t)k : 0);
}

static void s_text_tail(FILE *out, size_t n, const struct fsg_flow_stats *s,
                        const struct fsg_run_result *r)
{
    fprintf(out,
            "%s%zu flows; objects %" PRIu64 ", bytes in %" PRIu64 ", lines %" PRIu64
            ", records %" PRIu64 ", nodata %" PRIu64 ", skipdata %" PRIu64 ", malformed %" PRIu64
            ", errors %zu\n",
            n > 0 ? "\n" : "", n, s->objects, s->bytes_in, s->lines, s->records, s->nodata,
            s->skipdata, s->malformed, r->n_errors);
}

static void s_csv_row(struct s_out *o, const struct fsg_flow *f)
{
    s_puts(o, f->eni);
    S_PUT_LIT(o, ",");
    s_ip(o, &f->src);
    S_PUT_LIT(o, ",");
    s_ip(o, &f->dst);
    S_PUT_LIT(o, ",");
    s_u64(o, f->port);
    S_PUT_LIT(o, ",");
    s_u64(o, f->proto);
    S_PUT_LIT(o, ",");
    s_puts(o, s_action(f->action));
    S_PUT_LIT(o, ",");
    s_puts(o, s_dir(f->direction));
    S_PUT_LIT(o, ",");
    s_u64(o, f->records);
    S_PUT_LIT(o, ",");
    s_u64(o, f->packets);
    S_PUT_LIT(o, ",");
    s_u64(o, f->bytes);
    S_PUT_LIT(o, ",");
    if (f->first_s != FSG_FLOW_TIME_NONE) {
        s_i64(o, f->first_s);
    }
    S_PUT_LIT(o, ",");
    if (f->last_s != FSG_FLOW_TIME_NONE) {
        s_i64(o, f->last_s);
    }
    S_PUT_LIT(o, "\n");
}

/* ---- the command --------------------------------------------------------------------------- */

/* Every row of the table in `format`, as the rows come. */
static enum fsg_err s_rows(struct fsg_flow_iter *it, enum s_format format, struct s_out *o,
                           size_t *ret_n, struct fsg_error *err)
{
    struct fsg_flow prev;
    const struct fsg_flow *f = NULL;
    size_t n = 0;
    enum fsg_err rc = FSG_OK;
    while (rc == FSG_OK && (rc = fsg_aggregate_flows_next(it, &f, err)) == FSG_OK && f != NULL) {
        if (format == S_JSON) {
            s_json_row(o, f, n > 0 ? &prev : NULL);
        } else if (format == S_CSV) {
            s_csv_row(o, f);
        } else {
            s_text_row(o, f, n > 0 ? &prev : NULL);
        }
        if (format != S_CSV) {
            memcpy(prev.eni, f->eni, sizeof prev.eni);
        }
        n++;
    }
    *ret_n = n;
    return rc;
}

static int s_print(const struct fsg_cli *cli, struct fsg_sources_result *r, enum s_format format)
{
    static struct s_out out;
    out.f = stdout;
    out.n = 0;
    struct fsg_error err = { 0 };
    struct fsg_flow_iter *it = NULL;
    if (fsg_sources_flows_open(r, &it, &err) != FSG_OK) { /* nothing printed yet */
        return fsg_cli_error(cli, NULL, &err);
    }
    if (format == S_JSON) {
        S_PUT_LIT(&out, "{\"enis\": [");
    } else if (format == S_CSV) {
        S_PUT_LIT(&out, "eni,src,dst,port,proto,action,direction,records,packets,bytes,first,last\n");
    }
    size_t n = 0;
    enum fsg_err rc = s_rows(it, format, &out, &n, &err);
    fsg_aggregate_flows_close(it);
    if (format == S_JSON) {
        if (n > 0) {
            S_PUT_LIT(&out, "]}],\n");
        } else {
            S_PUT_LIT(&out, "],\n");
        }
    }
    s_flush(&out);
    if (rc != FSG_OK) {
        fflush(stdout);
        return fsg_cli_error(cli, NULL, &err);
    }
    if (format == S_JSON) {
        s_json_stats(stdout, &r->stats, &r->run);
    } else if (format == S_TEXT) {
        s_text_tail(stdout, n, &r->stats, &r->run);
    }
    return fflush(stdout) == 0 && !ferror(stdout) ? FSG_EXIT_OK : FSG_EXIT_ERROR;
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
                                           .targets = targets, .n_targets = config->n_targets,
                                           .stream = true };
        ex = fsg_sources_read(cli, &req, &res);
    }
    if (ex == FSG_EXIT_OK) {
        fsg_sources_report(cli, &res);
        ex = s_print(cli, &res, format);
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
