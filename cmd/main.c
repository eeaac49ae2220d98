/* flowseg: the command table and dispatch; the only place that chooses exit codes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "cmd/progress.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"

struct s_command {
    const char *name;
    fsg_cmd_fn *fn;
    const char *summary;
};

static const struct s_command s_commands[] = {
    { "flows", fsg_cmd_flows, "aggregate VPC flow logs per network interface" },
    { "plan", fsg_cmd_plan, "dry run: policy -> desired rules -> diff -> report" },
    { "apply", fsg_cmd_apply, "reconcile the security groups for real" },
    { "explain", fsg_cmd_explain, "why a source is or is not allowed toward a target" },
    { "lambda", fsg_cmd_lambda, "the Lambda custom-runtime loop (also as 'bootstrap')" },
    { "nlb-sync", fsg_cmd_nlb_sync, "keep an NLB target group on the RDS instance's private IP" },
    { "publish-flows", fsg_cmd_publish_flows, "send observed inbound flows to the PCE traffic map" },
    { "version", fsg_cmd_version, "version, build options and library versions" },
};

static void s_usage(FILE *out)
{
    fprintf(out, "usage: flowseg [--config FILE|JSON] [--log-level LEVEL] COMMAND [OPTIONS]\n\n"
                 "Keeps Amazon RDS security groups equal to a label-based segmentation policy,\n"
                 "driven by VPC flow logs.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++) {
        fprintf(out, "  %-14s %s\n", s_commands[i].name, s_commands[i].summary);
    }
    fprintf(out, "\nglobal options (any position):\n"
                 "  --config FILE|JSON   config file or inline JSON (env FLOWSEG_CONFIG)\n"
                 "  --log-level LEVEL    error|warn|info|debug (default info); logs are JSON lines on stderr\n"
                 "  --help               this text (also 'flowseg help');\n"
                 "                       'flowseg COMMAND --help' for a command\n"
                 "  --version            the same as 'flowseg version'\n"
                 "\nexit codes: 0 success, 1 error, 2 usage error, 3 plan found changes (--detailed-exitcode)\n");
}

static void s_log_sink(enum fsg_log_level level, const char *json_line, void *userdata)
{
    (void)level;
    (void)userdata;
    /* One write per line so lines from worker threads never interleave. */
    size_t n = strlen(json_line);
    char *line = malloc(n + 2);
    if (line == NULL) {
        return;
    }
    memcpy(line, json_line, n);
    line[n] = '\n';
    fsg_progress_write_stderr(line, n + 1); /* clears a progress line first (cmd/progress.h) */
    free(line);
}

/* Takes --config/--log-level out of argv wherever they are (before "--"). */
static int s_take_global_options(struct fsg_cli *cli, int *argc, char **argv,
                                 enum fsg_log_level *level)
{
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        bool is_config = strncmp(a, "--config", 8) == 0 && (a[8] == '\0' || a[8] == '=');
        bool is_level = strncmp(a, "--log-level", 11) == 0 && (a[11] == '\0' || a[11] == '=');
        if (strcmp(a, "--") == 0) {
            while (i < *argc) {
                argv[out++] = argv[i++];
            }
            break;
        }
        if (!is_config && !is_level) {
            argv[out++] = argv[i];
            continue;
        }
        const char *eq = strchr(a, '=');
        if (eq != NULL) {
            val = eq + 1;
        } else if (i + 1 < *argc) {
            val = argv[++i];
        } else {
            return fsg_cli_usage_error(cli, NULL, "%s needs a value", a);
        }
        if (is_config) {
            cli->config_arg = val;
        } else if (fsg_log_level_parse(val, level) != FSG_OK) {
            return fsg_cli_usage_error(cli, NULL, "--log-level must be error, warn, info or debug");
        }
    }
    *argc = out;
    argv[out] = NULL;
    return FSG_EXIT_OK;
}

int main(int argc, char **argv)
{
    struct fsg_cli cli = { .prog = "flowseg", .config_arg = getenv("FLOWSEG_CONFIG") };
    enum fsg_log_level level = FSG_LOG_INFO;
    const char *base = strrchr(argv[0], '/');
    base = base != NULL ? base + 1 : argv[0];

    int rc = s_take_global_options(&cli, &argc, argv, &level);
    if (rc != FSG_EXIT_OK) {
        return rc;
    }
    fsg_log_set_sink(s_log_sink, NULL, level);

    /* Started by Lambda as bootstrap: run the runtime loop. */
    if (strcmp(base, "bootstrap") == 0) {
        char *lambda_argv[] = { "lambda", NULL };
        return fsg_cmd_lambda(&cli, 1, lambda_argv);
    }
    if (argc < 2) {
        s_usage(stderr);
        return FSG_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        s_usage(stdout);
        return FSG_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        return fsg_cmd_version(&cli, 1, (char *[]){ "version", NULL });
    }
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++) {
        if (strcmp(argv[1], s_commands[i].name) == 0) {
            return s_commands[i].fn(&cli, argc - 1, argv + 1);
        }
    }
    return fsg_cli_usage_error(&cli, NULL, "unknown command '%s'", argv[1]);
}
