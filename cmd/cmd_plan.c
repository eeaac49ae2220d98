/* flowseg plan: policy -> desired rules -> diff against the current security groups -> report.
 * A dry run: it changes nothing. The pipeline itself is cmd/reconcile.c (shared with apply). */
#include <stdio.h>
#include <string.h>

#include "cmd/cli.h"
#include "cmd/reconcile.h"
#include "lib/mem.h"
#include "policy/report.h"

static const char s_usage_text[] =
    "usage: flowseg plan [OPTIONS] [SOURCE...]\n"
    "\n"
    "Dry run: reads the policy, compiles each config target's desired security-group rules,\n"
    "diffs them against the group's current rules and reports. Changes nothing.\n"
    "With SOURCEs (flow logs: file, directory, -, s3://bucket/key, s3://bucket/prefix/), the\n"
    "report shows the impact on observed traffic: connections the new rules would deny and\n"
    "rules no observed connection used.\n"
    "\n"
    "Without --state the current state is read live: the RDS instance (DescribeDBInstances),\n"
    "its network interfaces (to match flows; only with SOURCEs), the managed group and its\n"
    "rules (DescribeSecurityGroupRules). An AWS or PCE read failure: exit 1, no plan.\n"
    "\n"
    "options:\n"
    "  --policy FILE        read an exported policy bundle instead of the live PCE\n"
    "  --save-policy FILE   also write the policy bundle that was used (to review or replay)\n"
    "  --state FILE         offline: current rules from FILE instead of EC2:\n"
    "                       {\"sg-id\": [RULE, ...]} or the output of\n"
    "                       'aws ec2 describe-security-group-rules'\n"
    "  --format FORMAT      text (default), json, markdown or html\n"
    "  --out FILE           write the report to FILE instead of standard output\n"
    "  --save-plan FILE     write the saved plan that 'flowseg apply --plan FILE' executes\n"
    "                       (it records each group's state hash: apply refuses it once the\n"
    "                       group has changed)\n"
    "  --detailed-exitcode  exit 3 when the plan has changes (0: none, 1: error)\n"
    "  --help               this text\n"
    "\n"
    "Rules flowseg may remove: those whose description starts with \"flowseg \" (what it\n"
    "writes), or every CIDR rule of a group it creates itself (security_group: {\"create\"}).\n"
    "Guards (config \"guards\") are checked and shown as \"refused\".\n";

struct s_opts {
    struct fsg_recon_options recon;
    const char *out;
    const char *save_plan;
    enum fsg_report_format format;
    bool detailed;
    const char **sources;
};

static int s_parse_opts(struct fsg_cli *cli, int argc, char **argv, struct s_opts *o)
{
    static const char *const valued[] = { "--policy", "--save-policy", "--state", "--format",
                                          "--out", "--save-plan" };
    const char **slots[] = { &o->recon.policy, &o->recon.save_policy, &o->recon.state, NULL,
                             &o->out, &o->save_plan };
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
            o->sources[o->recon.n_sources++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp(a, "--detailed-exitcode") == 0) {
            o->detailed = true;
            continue;
        }
        size_t k = 0;
        while (k < sizeof valued / sizeof valued[0] &&
               !fsg_recon_opt_value(valued[k], argc, argv, &i, &v)) {
            k++;
        }
        if (k == sizeof valued / sizeof valued[0]) {
            return fsg_cli_usage_error(cli, "plan", "unknown option '%s'", a);
        }
        if (v == NULL || v[0] == '\0') {
            return fsg_cli_usage_error(cli, "plan", "%s needs a value", valued[k]);
        }
        if (slots[k] != NULL) {
            *slots[k] = v;
        } else if (fsg_report_format_parse(v, &o->format) != FSG_OK) {
            return fsg_cli_usage_error(cli, "plan", "--format must be text, json, markdown or "
                                                    "html (got '%s')", v);
        }
    }
    return FSG_EXIT_OK;
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
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(s_usage_text, stdout);
            return FSG_EXIT_OK;
        }
    }
    struct s_opts o = { .recon = { .cmd = "plan" }, .format = FSG_REPORT_TEXT };
    struct fsg_recon run = { 0 };
    o.sources = fsg_calloc((size_t)argc + 1, sizeof *o.sources);
    if (o.sources == NULL) {
        return fsg_recon_fail(cli, "plan", FSG_E_NOMEM, &(struct fsg_error){ 0 });
    }
    o.recon.sources = o.sources;
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
    fsg_free((void *)o.sources);
    return ex;
}
