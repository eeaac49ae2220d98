/* flowseg flows: aggregate VPC flow logs per ENI (CONTRACT.md "flows --format json"). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cli.h"
#include "flowlogs/aggregate.h"
#include "flowlogs/s3_source.h"
#include "flowlogs/source.h"
#include "lib/log.h"
#include "lib/mem.h"

/* More workers than this gains nothing on any machine we run on and only costs memory. */
#define S_MAX_JOBS 256
/* stdout is written in large blocks: a table can be hundreds of thousands of lines. */
#define S_STDOUT_BUFFER ((size_t)1 << 16)

enum s_format { S_TEXT = 0, S_JSON, S_CSV };

struct s_opts {
    const char **enis;
    size_t n_enis;
    enum fsg_direction_filter direction;
    enum s_format format;
    unsigned jobs;
    const char **sources;
    size_t n_sources;
    const char *since; /* --since / --until (s3:// prefixes), validated by s_parse_value */
    const char *until;
};

static void s_help(void)
{
    static const char *const text[] = {
        "usage: flowseg flows [OPTIONS] SOURCE...",
        "",
        "Aggregates VPC flow logs per network interface (ENI): one row per (eni, src, dst, port,",
        "proto, action, direction) with records, packets, bytes, first and last seen.",
        "",
        "SOURCE: a flow-log file (gzip or plain text), a directory (every file below it), - for",
        "stdin, s3://bucket/key (one object) or s3://bucket/prefix/ (every object below the",
        "prefix, filtered by the config's flowlogs.key_regex and --since/--until).",
        "",
        "options:",
        "  --eni ID                   only this ENI (repeatable); with exactly one, records",
        "                             without interface-id belong to it",
        "  --direction ingress|egress|all",
        "                             ingress (default): connections opened toward the ENI;",
        "                             egress: connections the ENI opened; return traffic is",
        "                             never counted",
        "  --format text|json|csv     output format (default text)",
        "  --jobs N                   read N objects in parallel (default 1)",
        "  --since T, --until T       s3:// prefixes: only objects whose key date",
        "                             (.../yyyy/mm/dd/, Hive year=/month=/day=, or the file",
        "                             name's YYYYMMDDTHHmmZ) is in [since, until]; T is a UTC",
        "                             date YYYY-MM-DD (a whole day) or YYYY-MM-DDTHH:MM[:SS]Z",
        "  --help                     this text",
        "",
        "The field order comes from each object's header line, else from the config's",
        "flowlogs.format, else the default (v2) format. A truncated or corrupt object is reported",
        "with its byte offset and counts for nothing; the others are still counted in full",
        "(exit status 1).",
    };
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
        puts(text[i]);
    }
}

/* "--name VALUE" or "--name=VALUE"; *i advances past what was used. */
static const char *s_value(const char *name, int argc, char **argv, int *i)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0) {
        return NULL;
    }
    if (a[n] == '=') {
        return a + n + 1;
    }
    if (a[n] == '\0' && *i + 1 < argc) {
        return argv[++*i];
    }
    return NULL;
}

static bool s_is_option(const char *a, const char *name)
{
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

static int s_parse_value(struct fsg_cli *cli, const char *a, const char *v, struct s_opts *o)
{
    if (s_is_option(a, "--eni")) {
        o->enis[o->n_enis++] = v;
    } else if (s_is_option(a, "--direction")) {
        if (strcmp(v, "ingress") == 0) {
            o->direction = FSG_DIRECTION_INGRESS;
        } else if (strcmp(v, "egress") == 0) {
            o->direction = FSG_DIRECTION_EGRESS;
        } else if (strcmp(v, "all") == 0) {
            o->direction = FSG_DIRECTION_ALL;
        } else {
            return fsg_cli_usage_error(cli, "flows",
                                       "--direction must be ingress, egress or all, not '%s'", v);
        }
    } else if (s_is_option(a, "--format")) {
        if (strcmp(v, "text") == 0) {
            o->format = S_TEXT;
        } else if (strcmp(v, "json") == 0) {
            o->format = S_JSON;
        } else if (strcmp(v, "csv") == 0) {
            o->format = S_CSV;
        } else {
            return fsg_cli_usage_error(cli, "flows", "--format must be text, json or csv, not '%s'",
                                       v);
        }
    } else if (s_is_option(a, "--since") || s_is_option(a, "--until")) {
        bool is_until = s_is_option(a, "--until");
        int64_t t;
        struct fsg_error e = { 0 };
        if (fsg_s3_parse_time_bound(v, is_until, &t, &e) != FSG_OK) {
            return fsg_cli_usage_error(cli, "flows", "%s: %s", is_until ? "--until" : "--since",
                                       e.msg);
        }
        *(is_until ? &o->until : &o->since) = v;
    } else {
        char *end = NULL;
        long n = strtol(v, &end, 10);
        if (end == v || *end != '\0' || n < 1 || n > S_MAX_JOBS) {
            return fsg_cli_usage_error(cli, "flows",
                                       "--jobs must be a number from 1 to 256, not '%s'", v);
        }
        o->jobs = (unsigned)n;
    }
    return FSG_EXIT_OK;
}

static int s_parse(struct fsg_cli *cli, int argc, char **argv, struct s_opts *o)
{
    static const char *const valued[] = { "--eni",  "--direction", "--format",
                                          "--jobs", "--since",     "--until" };
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
        const char *name = NULL;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0] && name == NULL; k++) {
            name = s_is_option(a, valued[k]) ? valued[k] : NULL;
        }
        if (name == NULL) {
            return fsg_cli_usage_error(cli, "flows", "unknown option '%s'", a);
        }
        const char *v = s_value(name, argc, argv, &i);
        if (v == NULL) {
            return fsg_cli_usage_error(cli, "flows", "%s needs a value", name);
        }
        int rc = s_parse_value(cli, a, v, o);
        if (rc != FSG_EXIT_OK) {
            return rc;
        }
    }
    if (o->n_sources == 0) {
        return fsg_cli_usage_error(cli, "flows", "%s",
                                   "no SOURCE given (a file, a directory, - for stdin)");
    }
    return FSG_EXIT_OK;
}

/* ---- configuration ------------------------------------------------------------------------- */

/* Hints for the aggregator: each configured ENI's own addresses and database port. A target with
 * a flow_log_id but no ENI list gets a hint under its name (what its records are filed under). */
struct s_hints {
    struct fsg_eni_hint *v;
    size_t n;
    struct fsg_ip *addrs;
};

static int s_target_hints(struct fsg_cli *cli, const struct fsg_config_target *t, size_t ti,
                          struct s_hints *h, size_t *next_addr)
{
    struct fsg_ip *addrs = h->addrs + *next_addr;
    for (size_t j = 0; j < t->n_eni_addrs; j++) {
        if (fsg_ip_parse(fsg_span_from_cstr(t->eni_addrs[j]), &addrs[j]) != FSG_OK) {
            struct fsg_error e;
            fsg_error_set(&e, FSG_E_INVALID_ARG,
                          "targets[%zu].eni_addrs: '%s' is not an IP address", ti, t->eni_addrs[j]);
            return fsg_cli_error(cli, "config", &e);
        }
    }
    *next_addr += t->n_eni_addrs;
    uint16_t port = t->port > 0 && t->port <= UINT16_MAX ? (uint16_t)t->port : 0;
    for (size_t j = 0; j < t->n_enis; j++) {
        h->v[h->n++] = (struct fsg_eni_hint){
            .eni = t->enis[j], .addrs = addrs, .n_addrs = t->n_eni_addrs, .service_port = port
        };
    }
    if (t->n_enis == 0 && t->name != NULL) {
        h->v[h->n++] = (struct fsg_eni_hint){
            .eni = t->name, .addrs = addrs, .n_addrs = t->n_eni_addrs, .service_port = port
        };
    }
    return FSG_EXIT_OK;
}

static int s_hints(struct fsg_cli *cli, const struct fsg_config *c, struct s_hints *h)
{
    size_t n_hints = 0, n_addrs = 0;
    for (size_t i = 0; i < c->n_targets; i++) {
        n_hints += c->targets[i].n_enis + 1;
        n_addrs += c->targets[i].n_eni_addrs;
    }
    h->v = fsg_calloc(n_hints + 1, sizeof *h->v);
    h->addrs = fsg_calloc(n_addrs + 1, sizeof *h->addrs);
    if (h->v == NULL || h->addrs == NULL) {
        struct fsg_error e;
        fsg_error_set(&e, FSG_E_NOMEM, "out of memory");
        return fsg_cli_error(cli, NULL, &e);
    }
    size_t next_addr = 0;
    for (size_t i = 0; i < c->n_targets; i++) {
        int rc = s_target_hints(cli, &c->targets[i], i, h, &next_addr);
        if (rc != FSG_EXIT_OK) {
            return rc;
        }
    }
    return FSG_EXIT_OK;
}

/* Where records without interface-id go: the single --eni, else the target whose flow_log_id
 * appears in the object's name (its first ENI, or its name), else NULL ("-"). */
static const char *s_default_eni(const struct s_opts *o, const struct fsg_config *c,
                                 const char *name)
{
    if (o->n_enis == 1) {
        return o->enis[0];
    }
    const char *base = strrchr(name, '/');
    base = base != NULL ? base + 1 : name;
    for (size_t i = 0; i < c->n_targets; i++) {
        const struct fsg_config_target *t = &c->targets[i];
        if (t->flow_log_id != NULL && t->flow_log_id[0] != '\0' && strstr(base, t->flow_log_id)) {
            return t->n_enis > 0 ? t->enis[0] : t->name;
        }
    }
    return NULL;
}

/* ---- S3 (to be filled in by the S3 source) -----------------------------------------------------
 */

struct s_run;
static enum fsg_err s_push_object(struct s_run *r, const struct fsg_object *o);

static struct fsg_s3_source **s_run_s3(struct s_run *r);
static const struct fsg_config *s_run_config(const struct s_run *r);

/* The S3 source of this run, made on first use (region and key regex from the config, the
 * --since/--until window); it owns what the objects point to until s_run_clean_up. */
static enum fsg_err s_s3_source(struct s_run *r, const struct s_opts *o, struct fsg_error *err)
{
    struct fsg_s3_source **s3 = s_run_s3(r);
    if (*s3 != NULL) {
        return FSG_OK;
    }
    const struct fsg_config *c = s_run_config(r);
    struct fsg_s3_source_options so = { .region = c->region,
                                        .key_regex = c->key_regex,
                                        .since_s = FSG_S3_TIME_NONE,
                                        .until_s = FSG_S3_TIME_NONE };
    enum fsg_err rc = FSG_OK;
    if (o->since != NULL) {
        rc = fsg_s3_parse_time_bound(o->since, false, &so.since_s, err);
    }
    if (rc == FSG_OK && o->until != NULL) {
        rc = fsg_s3_parse_time_bound(o->until, true, &so.until_s, err);
    }
    return rc == FSG_OK ? fsg_s3_source_new(&so, s3, err) : rc;
}

/* s3:// SOURCE -> objects: the key, or every listed key below the prefix, each read by
 * flowlogs/s3_source (GetObject streamed into the reader). */
static enum fsg_err s_s3_objects(struct s_run *r, const struct s_opts *o, const char *uri,
                                 struct fsg_error *err)
{
    struct fsg_object *objs = NULL;
    size_t n = 0;
    enum fsg_err rc = s_s3_source(r, o, err);
    if (rc == FSG_OK) {
        rc = fsg_s3_source_expand(*s_run_s3(r), uri, &objs, &n, err);
    }
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        rc = s_push_object(r, &objs[i]);
        if (rc != FSG_OK) {
            fsg_error_set(err, rc, "out of memory");
        }
    }
    fsg_free(objs);
    if (rc == FSG_OK && n == 0) {
        struct fsg_s3_source_counts c;
        fsg_s3_source_counts(*s_run_s3(r), &c);
        fsg_log(FSG_LOG_WARN,
                "%s: no objects to read (%zu keys listed: %zu folders, %zu not "
                "matching flowlogs.key_regex, %zu outside --since/--until)",
                uri, c.listed, c.folders, c.regex_skipped, c.time_skipped);
    }
    return rc;
}

/* ---- output -------------------------------------------------------------------------------------
 */

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

/* Malformed-line samples as warnings, failed objects as errors (stderr). */
static void s_report(struct fsg_cli *cli, const struct fsg_run_result *r,
                     const struct fsg_flow_stats *s)
{
    for (size_t i = 0; i < r->n_warnings; i++) {
        const struct fsg_run_warning *w = &r->warnings[i];
        fsg_log(FSG_LOG_WARN, "%s: line %lu: malformed record skipped: %s", w->source, w->line,
                w->message);
    }
    if (s->malformed > r->n_warnings) {
        fsg_log(FSG_LOG_WARN, "%" PRIu64 " malformed records skipped in total", s->malformed);
    }
    for (size_t i = 0; i < r->n_errors; i++) {
        struct fsg_error e;
        fsg_error_set(&e, r->errors[i].code, "%s", r->errors[i].message);
        fsg_cli_error(cli, r->errors[i].source, &e);
    }
}

/* ---- the command ------------------------------------------------------------------------------
 */

struct s_run {
    struct fsg_config *config;
    struct s_hints hints;
    char **paths; /* local paths (owned) the objects point to */
    size_t n_paths;
    struct fsg_object *objects; /* what is read, in argument order */
    size_t n_objects;
    size_t cap_objects;
    struct fsg_s3_source *s3; /* s3:// sources; owns what their objects point to */
    struct fsg_aggregate *agg;
    struct fsg_run_result result;
    struct fsg_flow *flows;
    size_t n_flows;
};

static void s_run_clean_up(struct s_run *r)
{
    fsg_free(r->flows);
    fsg_run_result_clean_up(&r->result);
    fsg_aggregate_destroy(r->agg);
    fsg_free(r->objects);
    fsg_s3_source_destroy(r->s3);
    for (size_t i = 0; i < r->n_paths; i++) {
        fsg_free(r->paths[i]);
    }
    fsg_free(r->paths);
    fsg_free(r->hints.v);
    fsg_free(r->hints.addrs);
    fsg_config_destroy(r->config);
}

static struct fsg_s3_source **s_run_s3(struct s_run *r)
{
    return &r->s3;
}

static const struct fsg_config *s_run_config(const struct s_run *r)
{
    return r->config;
}

static enum fsg_err s_push_object(struct s_run *r, const struct fsg_object *o)
{
    if (r->n_objects == r->cap_objects) {
        size_t cap = r->cap_objects < 16 ? 16 : r->cap_objects * 2;
        struct fsg_object *v = fsg_reallocarray(r->objects, cap, sizeof *v);
        if (v == NULL) {
            return FSG_E_NOMEM;
        }
        r->objects = v;
        r->cap_objects = cap;
    }
    r->objects[r->n_objects++] = *o;
    return FSG_OK;
}

static enum fsg_err s_local_objects(struct s_run *r, const char *arg, struct fsg_error *err)
{
    size_t first = r->n_paths;
    enum fsg_err rc = fsg_source_expand(arg, &r->paths, &r->n_paths, err);
    for (size_t i = first; i < r->n_paths && rc == FSG_OK; i++) {
        rc = s_push_object(r, &(struct fsg_object){ .name = r->paths[i] });
        if (rc != FSG_OK) {
            fsg_error_set(err, rc, "out of memory");
        }
    }
    return rc;
}

static int s_expand(struct fsg_cli *cli, const struct s_opts *o, struct s_run *r)
{
    struct fsg_error e = { 0 };
    for (size_t i = 0; i < o->n_sources; i++) {
        const char *src = o->sources[i];
        enum fsg_err rc = strncmp(src, "s3://", 5) == 0 ? s_s3_objects(r, o, src, &e)
                                                        : s_local_objects(r, src, &e);
        if (rc != FSG_OK) {
            return fsg_cli_error(cli, NULL, &e);
        }
    }
    for (size_t i = 0; i < r->n_objects; i++) {
        if (r->objects[i].default_eni == NULL) {
            r->objects[i].default_eni = s_default_eni(o, r->config, r->objects[i].name);
        }
    }
    return FSG_EXIT_OK;
}

static int s_execute(struct fsg_cli *cli, const struct s_opts *o, struct s_run *r)
{
    struct fsg_error e = { 0 };
    struct fsg_aggregate_options ao = { .hints = r->hints.v, .n_hints = r->hints.n };
    enum fsg_err rc = fsg_aggregate_new(&ao, &r->agg, &e);
    const char *inflate = getenv("FSG_INFLATE"); /* diagnostics: "zlib" forces the zlib engine */
    struct fsg_flowlog_options dec = { .format = r->config->flowlog_format,
                                       .force_zlib =
                                           inflate != NULL && strcmp(inflate, "zlib") == 0 };
    struct fsg_run_options ro = { .jobs = o->jobs, .decoder = &dec };
    if (rc == FSG_OK) {
        rc = fsg_run_objects(r->objects, r->n_objects, &ro, r->agg, &r->result, &e);
    }
    if (rc == FSG_OK) {
        rc = fsg_aggregate_result(r->agg, o->direction, o->enis, o->n_enis, &r->flows, &r->n_flows,
                                  &e);
    }
    return rc == FSG_OK ? FSG_EXIT_OK : fsg_cli_error(cli, NULL, &e);
}

int fsg_cmd_flows(struct fsg_cli *cli, int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_help();
            return FSG_EXIT_OK;
        }
    }
    struct s_run r = { 0 };
    struct s_opts o = { .jobs = 1 };
    o.enis = fsg_calloc((size_t)argc + 1, sizeof *o.enis);
    o.sources = fsg_calloc((size_t)argc + 1, sizeof *o.sources);
    int rc = o.enis != NULL && o.sources != NULL ? s_parse(cli, argc, argv, &o) : FSG_EXIT_ERROR;
    if (rc == FSG_EXIT_OK) {
        rc = fsg_cli_load_config(cli, &r.config);
    }
    if (rc == FSG_EXIT_OK) {
        rc = s_hints(cli, r.config, &r.hints);
    }
    if (rc == FSG_EXIT_OK) {
        rc = s_expand(cli, &o, &r);
    }
    if (rc == FSG_EXIT_OK) {
        rc = s_execute(cli, &o, &r);
    }
    if (rc == FSG_EXIT_OK) {
        static char outbuf[S_STDOUT_BUFFER];
        setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
        const struct fsg_flow_stats *s = fsg_aggregate_stats(r.agg);
        s_report(cli, &r.result, s);
        if (o.format == S_JSON) {
            s_print_json(stdout, r.flows, r.n_flows, s, &r.result);
        } else if (o.format == S_CSV) {
            s_print_csv(stdout, r.flows, r.n_flows);
        } else {
            s_print_text(stdout, r.flows, r.n_flows, s, &r.result);
        }
        if (fflush(stdout) != 0) {
            rc = FSG_EXIT_ERROR;
        }
        if (r.result.n_errors > 0) {
            rc = FSG_EXIT_ERROR;
        }
    }
    s_run_clean_up(&r);
    fsg_free(o.enis);
    fsg_free(o.sources);
    return rc;
}
