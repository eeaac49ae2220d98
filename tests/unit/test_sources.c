/* cmd/sources.c: config targets -> hints, which ENI records without interface-id belong to, and
 * local SOURCEs read into one table with stats and per-source errors. Errors of failed sources
 * are printed on stderr by design. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/config.h"
#include "cmd/sources.h"
#include "flowlogs/s3_source.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"

static const struct fsg_cli s_cli = { .prog = "flowseg-test" };

static const char s_config[] =
    "{\"targets\": ["
    " {\"name\": \"a-db\", \"rds_instance\": \"a\", \"virtual_service\": \"VS-a\","
    "  \"security_group\": \"sg-0123456789abcdef0\", \"enis\": [\"eni-aaa\"],"
    "  \"eni_addrs\": [\"10.0.20.11\"], \"port\": 5432},"
    " {\"name\": \"b-db\", \"rds_instance\": \"b\", \"virtual_service\": \"VS-b\","
    "  \"security_group\": \"sg-0123456789abcdef1\", \"flow_log_id\": \"fl-0abc\","
    "  \"eni_addrs\": [\"10.0.20.12\", \"fd00::12\"]}]}";

/* A full-format object (eni-aaa) and a per-ENI one without interface-id (flow log fl-0abc). */
static const char s_full[] =
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status\n"
    "2 1 eni-aaa 10.0.1.5 10.0.20.11 40000 5432 6 10 800 1700000000 1700000060 ACCEPT OK\n"
    "2 1 eni-aaa 10.0.20.11 10.0.1.5 5432 40000 6 10 900 1700000000 1700000060 ACCEPT OK\n"
    "2 1 eni-aaa 10.0.1.5 10.0.20.11 40001 5432 6 1 40 1700000100 1700000160 ACCEPT OK\n"
    "this line is malformed\n";
static const char s_per_eni[] =
    "version srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
    "2 10.0.1.6 10.0.20.12 41000 5432 6 3 120 1700000000 1700000060 ACCEPT OK\n"
    "2 10.0.20.12 10.0.1.6 5432 41000 6 3 120 1700000000 1700000060 ACCEPT OK\n";

struct s_fixture {
    char dir[64];
    char full[128];
    char per_eni[128];
    char missing[128];
    struct fsg_config *config;
    struct fsg_sources_target *targets;
    struct fsg_ip *addrs;
};

static int s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    int rc = fputs(text, f) >= 0 ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

static int s_setup(struct s_fixture *f)
{
    *f = (struct s_fixture){ .dir = "/tmp/fsg-test-sources-XXXXXX" };
    T_CHECK(mkdtemp(f->dir) != NULL);
    snprintf(f->full, sizeof f->full, "%s/full.log", f->dir);
    snprintf(f->per_eni, sizeof f->per_eni, "%s/1_vpcflowlogs_us-east-1_fl-0abc_20231114T0000Z.log",
             f->dir);
    snprintf(f->missing, sizeof f->missing, "%s/missing.log", f->dir);
    T_CHECK(s_write(f->full, s_full) == 0 && s_write(f->per_eni, s_per_eni) == 0);
    T_OK(fsg_config_parse(fsg_span_from_cstr(s_config), &f->config, NULL));
    T_CHECK(fsg_sources_config_targets(&s_cli, f->config, &f->targets, &f->addrs) ==
            FSG_EXIT_OK);
    return 0;
}

static void s_teardown(struct s_fixture *f)
{
    unlink(f->full);
    unlink(f->per_eni);
    rmdir(f->dir);
    fsg_free(f->targets);
    fsg_free(f->addrs);
    fsg_config_destroy(f->config);
}

static int s_config_targets(void)
{
    struct s_fixture f;
    T_CHECK(s_setup(&f) == 0);
    T_CHECK(f.targets[0].n_enis == 1 && f.targets[0].n_addrs == 1 && f.targets[0].port == 5432);
    T_CHECK(f.targets[1].n_enis == 0 && f.targets[1].n_addrs == 2);
    T_STR_EQ(f.targets[1].flow_log_id, "fl-0abc");
    char ip[FSG_IP_STR_MAX];
    T_STR_EQ(fsg_ip_format(&f.targets[1].addrs[1], ip), "fd00::12");

    /* One hint per ENI, and one under the name of a target without ENIs. */
    struct fsg_eni_hint *hints = NULL;
    size_t n = 0;
    T_OK(fsg_sources_hints(f.targets, 2, &hints, &n));
    T_CHECK(n == 2);
    T_STR_EQ(hints[0].eni, "eni-aaa");
    T_CHECK(hints[0].service_port == 5432 && hints[0].n_addrs == 1);
    T_STR_EQ(hints[1].eni, "b-db");
    T_CHECK(hints[1].service_port == 0 && hints[1].n_addrs == 2);
    fsg_free(hints);

    /* Without a name (plan/apply's targets) a target without ENIs gets no hint. */
    f.targets[1].name = NULL;
    f.targets[0].port = 70000; /* out of range: unknown */
    T_OK(fsg_sources_hints(f.targets, 2, &hints, &n));
    T_CHECK(n == 1 && hints[0].service_port == 0);
    fsg_free(hints);
    s_teardown(&f);
    return 0;
}

static int s_bad_eni_addr(void)
{
    struct fsg_config *c = NULL;
    T_OK(fsg_config_parse(fsg_span_from_cstr("{\"targets\": [{\"name\": \"x\", \"rds_instance\": "
                                             "\"x\", \"virtual_service\": \"v\", "
                                             "\"security_group\": \"sg-0123456789abcdef0\", "
                                             "\"eni_addrs\": [\"10.0.0.300\"]}]}"),
                          &c, NULL));
    struct fsg_sources_target *t = NULL;
    struct fsg_ip *a = NULL;
    T_CHECK(fsg_sources_config_targets(&s_cli, c, &t, &a) == FSG_EXIT_ERROR);
    T_CHECK(t == NULL && a == NULL);
    fsg_config_destroy(c);
    return 0;
}

static int s_flow_log_id_match(void)
{
    T_CHECK(fsg_sources_name_has_flow_log_id("a/b/1_vpcflowlogs_fl-0abc_x.log.gz", "fl-0abc"));
    T_CHECK(fsg_sources_name_has_flow_log_id("s3://b/k/fl-0abc.log", "fl-0abc"));
    T_CHECK(!fsg_sources_name_has_flow_log_id("fl-0abc/other.log", "fl-0abc")); /* a folder */
    T_CHECK(!fsg_sources_name_has_flow_log_id("x_fl-0abc.log", ""));
    T_CHECK(!fsg_sources_name_has_flow_log_id("x_fl-0abc.log", NULL));
    return 0;
}

/* Reads f's objects with the given --eni values; fills *ret. */
static int s_read(struct s_fixture *f, const char *const *enis, size_t n_enis, bool filter,
                  bool with_missing, struct fsg_sources_result *ret)
{
    struct fsg_sources_opts o;
    T_OK(fsg_sources_opts_init(&o, 8, 2));
    o.args[o.n_args++] = f->full;
    o.args[o.n_args++] = f->dir; /* the directory: both files again */
    if (with_missing) {
        o.args[o.n_args++] = f->missing;
    }
    for (size_t i = 0; i < n_enis; i++) {
        o.enis[o.n_enis++] = enis[i];
    }
    struct fsg_sources_request req = { .cmd = "test", .opts = &o, .config = f->config,
                                       .targets = f->targets, .n_targets = 2,
                                       .filter_target_enis = filter };
    int ex = fsg_sources_read(&s_cli, &req, ret);
    fsg_sources_opts_clean_up(&o);
    T_CHECK(ex == FSG_EXIT_OK);
    return 0;
}

static int s_read_table(void)
{
    struct s_fixture f;
    T_CHECK(s_setup(&f) == 0);
    struct fsg_sources_result r = { 0 };
    T_CHECK(s_read(&f, NULL, 0, false, true, &r) == 0);
    /* full.log twice (argument, directory) + the per-ENI object + the missing one. */
    T_CHECK(r.n_objects == 4);
    T_CHECK(r.stats.objects == 3 && r.stats.records == 8 && r.stats.malformed == 2);
    T_CHECK(r.run.n_errors == 1 && r.run.n_warnings == 2);
    T_STR_EQ(r.run.errors[0].source, f.missing);
    T_CHECK(r.run.errors[0].code == FSG_E_NOT_FOUND);
    /* Ingress only; the per-ENI object's records are filed under b-db (its flow_log_id). */
    T_CHECK(r.n_flows == 2);
    T_STR_EQ(r.flows[0].eni, "b-db");
    T_CHECK(r.flows[0].port == 5432 && r.flows[0].records == 1 && r.flows[0].bytes == 120);
    T_STR_EQ(r.flows[1].eni, "eni-aaa");
    T_CHECK(r.flows[1].records == 4 && r.flows[1].bytes == 1680 && r.flows[1].first_s ==
            1700000000 && r.flows[1].last_s == 1700000160);
    fsg_sources_report(&s_cli, &r); /* prints; must not crash or leak */
    fsg_sources_result_clean_up(&r);
    fsg_sources_result_clean_up(&r); /* idempotent */
    s_teardown(&f);
    return 0;
}

static int s_read_filters(void)
{
    struct s_fixture f;
    T_CHECK(s_setup(&f) == 0);
    struct fsg_sources_result r = { 0 };
    /* The targets' ENIs as the filter (publish-flows): a single one also takes the records
     * without interface-id. */
    T_CHECK(s_read(&f, NULL, 0, true, false, &r) == 0);
    T_CHECK(r.n_flows == 2 && r.run.n_errors == 0);
    T_STR_EQ(r.flows[0].eni, "eni-aaa");
    T_STR_EQ(r.flows[1].eni, "eni-aaa");
    fsg_sources_result_clean_up(&r);

    /* Two --eni: the per-ENI object goes to b-db, which is filtered out. */
    const char *two[] = { "eni-aaa", "eni-bbb" };
    T_CHECK(s_read(&f, two, 2, true, false, &r) == 0);
    T_CHECK(r.n_flows == 1);
    T_STR_EQ(r.flows[0].eni, "eni-aaa");
    fsg_sources_result_clean_up(&r);
    s_teardown(&f);
    return 0;
}

/* A SOURCE that cannot be expanded stops the read (printed, exit 1). */
static int s_read_expand_error(void)
{
    struct s_fixture f;
    T_CHECK(s_setup(&f) == 0);
    struct fsg_sources_opts o;
    T_OK(fsg_sources_opts_init(&o, 2, 1));
    o.args[o.n_args++] = "s3://";
    struct fsg_sources_request req = { .cmd = "test", .opts = &o, .config = f.config };
    struct fsg_sources_result r = { 0 };
    T_CHECK(fsg_sources_read(&s_cli, &req, &r) == FSG_EXIT_ERROR);
    T_CHECK(r.flows == NULL && r.run.n_errors == 0);
    fsg_sources_result_clean_up(&r);
    fsg_sources_opts_clean_up(&o);
    s_teardown(&f);
    return 0;
}

/* The Lambda's flow table budget: a quarter of the function's memory, at least 1 MiB; half the
 * default --memory without a usable AWS_LAMBDA_FUNCTION_MEMORY_SIZE. */
static int s_lambda_table_bytes(void)
{
    T_CHECK(fsg_sources_lambda_table_bytes("1024") == (size_t)256 << 20);
    T_CHECK(fsg_sources_lambda_table_bytes("128") == (size_t)32 << 20);
    T_CHECK(fsg_sources_lambda_table_bytes("2") == (size_t)1 << 20);
    T_CHECK(fsg_sources_lambda_table_bytes(NULL) == (size_t)32 << 20);
    T_CHECK(fsg_sources_lambda_table_bytes("") == (size_t)32 << 20);
    T_CHECK(fsg_sources_lambda_table_bytes("12x") == (size_t)32 << 20);
    T_CHECK(fsg_sources_lambda_table_bytes("-5") == (size_t)32 << 20);
    T_CHECK(fsg_sources_lambda_table_bytes("0") == (size_t)32 << 20);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "config_targets", s_config_targets },
        { "bad_eni_addr", s_bad_eni_addr },
        { "flow_log_id_match", s_flow_log_id_match },
        { "read_table", s_read_table },
        { "read_filters", s_read_filters },
        { "read_expand_error", s_read_expand_error },
        { "lambda_table_bytes", s_lambda_table_bytes },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
