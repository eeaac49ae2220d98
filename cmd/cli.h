/* The program's shared pieces: exit codes, the command table, error printing. */
#ifndef FSG_CMD_CLI_H
#define FSG_CMD_CLI_H

#include "cmd/config.h"
#include "lib/core/error.h"

/* CONTRACT.md exit codes. */
enum fsg_exit {
    FSG_EXIT_OK = 0,
    FSG_EXIT_ERROR = 1,   /* nothing changed unless the output says so */
    FSG_EXIT_USAGE = 2,
    FSG_EXIT_CHANGES = 3, /* plan --detailed-exitcode found changes */
};

/* What every command gets: the global options, already taken out of argv. */
struct fsg_cli {
    const char *prog;        /* "flowseg" */
    const char *config_arg;  /* --config or FLOWSEG_CONFIG: a path or inline JSON; NULL if none */
};

/* A command's entry point: argv[0] is the command name; global options are removed. */
typedef int(fsg_cmd_fn)(struct fsg_cli *cli, int argc, char **argv);

/* Loads the config named by --config/FLOWSEG_CONFIG (an empty config when none).
 * On failure prints the error and returns the exit code to use (else FSG_EXIT_OK). */
int fsg_cli_load_config(struct fsg_cli *cli, struct fsg_config **ret_config);

/* Prints "<prog>: <context>: <msg> (<FSG_E_NAME>[, HTTP n code][, request id R])" on stderr
 * and returns FSG_EXIT_ERROR. context may be NULL. */
int fsg_cli_error(const struct fsg_cli *cli, const char *context, const struct fsg_error *err);
/* Prints a usage error with a hint to --help and returns FSG_EXIT_USAGE. */
int fsg_cli_usage_error(const struct fsg_cli *cli, const char *cmd, const char *fmt, ...)
    FSG_PRINTF(3, 4);

/* The commands (one file each). */
fsg_cmd_fn fsg_cmd_flows;
fsg_cmd_fn fsg_cmd_plan;
fsg_cmd_fn fsg_cmd_explain;
fsg_cmd_fn fsg_cmd_apply;
fsg_cmd_fn fsg_cmd_lambda;
fsg_cmd_fn fsg_cmd_nlb_sync;
fsg_cmd_fn fsg_cmd_publish_flows;
fsg_cmd_fn fsg_cmd_version;

#endif
