/* flowseg plan: policy -> desired rules -> diff against the current security groups -> report.
 * A dry run: it changes nothing. The pipeline itself is cmd/reconcile.c (shared with apply), the
 * flow SOURCEs cmd/sources.c. */
#include <stdio.h>
#include <string.h>

#include "cmd/cli.h"
#include "cmd/opts.h"
#include "cmd/reconcile.h"
#include "lib/core/mem.h"
#include "policy/report.h"

/* The source options plan takes, and its default --jobs. */
#define S_SOURCE_OPTS (FSG_SOURCES_OPT_JOBS | FSG_SOURCES_OPT_WINDOW)
#define S_DEFAULT_JOBS 0 /* one per CPU */

static const char s_help_head[] =
    "usage: flowseg plan [OPTIONS] [SOURCE...]\n"
    "\n"
    "Dry run: reads the policy, compiles each config target's desired security-group rules,\n"
    "diffs them against the group's current rules and reports. Changes nothing.\n"
    "With SOURCEs (flow logs), the report shows the impact on observed traffic, counting\n"
    "every security group of the instance (the managed group's final rules, rules left in it\n"
    "under ownership \"rules\", and the instance's other groups, read with\n"
    "DescribeSecurityGroupRules; with --state, the state file's other groups): which sources\n"
    "with accepted traffic are cut off, which are newly allowed, which stay allowed only by a\n"
    "rule outside the policy (a bypass: a warning), by which rule, and the PCE workload name\n"
    "and labels of each source the policy knows; and the rules no observed connection used.\n"
    "\n"
    "Without --state the current state is read live: the RDS instance (DescribeDBInstances),\n"
    "its network interfaces (to match flows; only with SOURCEs), the managed group and its\n"
    "rules (DescribeSecurityGroupRules). An AWS or PCE read failure: exit 1, no plan.\n"
    "The PCE policy is read complete (every collection checked against X-Total-Count) at one\n"
    "pinned policy version, named in the report; a short read or a provision during the read:\n"
    "exit 1, no plan.\n"
    "\n"
    "Ownership (per target \"ownership\"): \"group\" (default) removes every inbound rule the\n"
    "policy does not yield, whoever added it (CIDR, security-group and prefix-list rules);\n"
    "\"rules\" manages only rules whose description starts with \"flowseg \" and reports the\n"
    "others. The plan says which mode applies, why each removal is one, and the EC2 calls\n"
    "apply will make (ModifySecurityGroupRules first when authorizing first would cross\n"
    "guards.max_rules, the rules-per-group quota).\n"
    "\n";

static const char s_help_options[] =
    "Any SOURCE that cannot be read: exit 1, no plan (the impact would be incomplete).\n"
    "\n"
    "options:\n"
    "  --policy FILE        read an exported policy bundle instead of the live PCE\n"
    "  --save-policy FILE   also write the policy bundle that was used (to review or replay)\n"
    "  --state FILE         offline: current rules from FILE instead of EC2:\n"
    "                       {\"sg-id\": [RULE, ...]} or the output of\n"
    "                       'aws ec2 describe-security-group-rules'\n"
    "  --format FORMAT      text (default), json, markdown (or md) or html\n"
    "  --out FILE           write the report to FILE instead of standard output\n"
    "  --save-plan FILE     write the saved plan that 'flowseg apply --plan FILE' executes;\n"
    "                       it records per target the group's state hash, the hash of what\n"
    "                       the policy yields (policy version and desired rules), the\n"
    "                       ownership mode and the cut-off count: apply refuses it once any\n"
    "                       of them changed, or when it was edited\n"
    "  --detailed-exitcode  exit 3 when the plan has changes (0: none, 1: error)\n";

static const char s_help_tail[] =
    "  --help               this text\n"
    "\n"
    "Ownership (config target \"ownership\"): \"group\" (default): the managed group is\n"
    "flowseg's, every inbound rule the policy does not yield is removed, whoever added it\n"
    "(reported as \"not in the policy, added outside flowseg\"); \"rules\": a group shared\n"
    "with other tools, only rules whose description starts with \"flowseg \" are managed.\n"
    "Guards (config \"guards\"): max_removals, allow_empty, allow_public, max_rules, and,\n"
    "with SOURCEs, max_cut_sources (default 10: the most observed sources with accepted\n"
    "traffic one apply may cut off). A target a guard stops is shown as \"refused\"; the\n"
    "banner of every format reflects every guard.\n";

static void s_help(void)
{
    fsg_sources_help(stdout, s_help_head, s_help_options, S_SOURCE_OPTS, S_DEFAULT_JOBS,
                     s_help_tail);
}

struct s_opts {
    struct fsg_recon_options recon;
    const char *out;
    const char *save_plan;
    enum fsg_report_format format;
    bool detailed;
};

static int s_parse_format(const struct fsg_cli *cli, const char *cmd, const char *name,
                          const char *value, void *ctx)
{
    if (fsg_report_format_parse(value, ctx) != FSG_OK) {
        return fsg_cli_usage_error(cli, cmd, "%s must be text, json, markdown or html (got '%s')",
                                   name, value);
    }
    return FSG_EXIT_OK;
}

static int s_parse_opts(struct fsg_cli *cli, int argc, char **argv, struct s_opts *o)
{
    struct fsg_opt table[7 + FSG_SOURCES_OPTS_MAX] = {
        { "--policy", .value = &o->recon.policy },
        { "--save-policy", .value = &o->recon.save_policy },
        { "--state", .value = &o->recon.state },
        { "--format", .parse = s_parse_format, .ctx = &o->format },
        { "--out", .value = &o->out },
        { "--save-plan", .value = &o->save_plan },
        { "--detailed-exitcode", .flag = &o->detailed },
    };
    struct fsg_sources_opts *src = &o->recon.flows;
    size_t n = 7 + fsg_sources_opts_table(src, S_SOURCE_OPTS, table + 7);
    return fsg_opts_parse(cli, "plan", table, n, argc, argv, src->args, &src->n_args);
}

static int s_output(struct fsg_cli *cli, const struct s_opts *o, const struct fsg_recon *run)
{
    struct fsg_error err = { 0 };
    struct fsg_buf report = FSG_BUF_INIT, saved = FSG_BUF_INIT;
    enum fsg_err rc = fsg_report_render(run->plan, o->format, &report, &err);
    if (rc == FSG_OK && o->format == FSG_REPORT_TEXT && run->live &&
        !fsg_recon_has_changes(run)) {
        rc = fsg_buf_append_cstr(&report, "\nno changes: every security group matches the "
                                          "policy\n");
    }
    if (rc == FSG_OK && o->save_plan != NULL) {
        rc = fsg_plan_save(run->plan, &saved, &err);
        if (rc == FSG_OK) {
            rc = fsg_recon_write(o->save_plan, &saved, &err);
        }
    }
    if (rc == FSG_OK) {
        rc = fsg_recon_write(o->out, &report, &err);
    }
    fsg_buf_clean_up(&saved);
    fsg_buf_clean_up(&report);
    return rc == FSG_OK ? FSG_EXIT_OK : fsg_recon_fail(cli, "output", rc, &err);
}

int fsg_cmd_plan(struct fsg_cli *cli, int argc, char **argv)
{
    if (fsg_opts_want_help(argc, argv)) {
        s_help();
        return FSG_EXIT_OK;
    }
    struct s_opts o = { .recon = { .cmd = "plan" }, .format = FSG_REPORT_TEXT };
    struct fsg_recon run = { 0 };
    if (fsg_sources_opts_init(&o.recon.flows, argc, S_DEFAULT_JOBS) != FSG_OK) {
        return fsg_recon_fail(cli, "plan", FSG_E_NOMEM, &(struct fsg_error){ 0 });
    }
    int ex = s_parse_opts(cli, argc, argv, &o);
    if (ex == FSG_EXIT_OK) {
        ex = fsg_recon_plan(cli, &o.recon, &run);
    }
    if (ex == FSG_EXIT_OK) {
        ex = s_output(cli, &o, &run);
    }
    if (ex == FSG_EXIT_OK && o.detailed && fsg_recon_has_changes(&run)) {
        ex = FSG_EXIT_CHANGES;
    }
    fsg_recon_clean_up(&run);
    fsg_sources_opts_clean_up(&o.recon.flows);
    return ex;
}
