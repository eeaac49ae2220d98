/* Command-line options of the sub-commands, from one table per command.
 *
 * Every command reads its arguments the same way: "--name VALUE" or "--name=VALUE" for an option
 * with a value, "--name" for a flag, "--" ends the options, and "-" or anything that does not
 * start with '-' is an operand (a SOURCE). A command describes its options in a table whose
 * entries point at where each value goes:
 *
 *     struct fsg_opt table[] = {
 *         { "--out", .value = &o.out },                    (stored as given)
 *         { "--force", .flag = &o.force },                 (set to true)
 *         { "--format", .parse = s_format, .ctx = &o },    (checked and stored by s_format)
 *     };
 *     int ex = fsg_opts_parse(cli, "plan", table, 3, argc, argv, operands, &n_operands);
 */
#ifndef FSG_CMD_OPTS_H
#define FSG_CMD_OPTS_H

#include <stdbool.h>
#include <stddef.h>

struct fsg_cli;

/* Checks and stores one option value (never empty, borrowed from argv) into ctx. Returns
 * FSG_EXIT_OK, or prints a usage error (fsg_cli_usage_error with cmd) and returns its exit
 * code. name is the option's table name. */
typedef int(fsg_opt_parse_fn)(const struct fsg_cli *cli, const char *cmd, const char *name,
                              const char *value, void *ctx);

/* One option: exactly one of value, flag or parse is set. */
struct fsg_opt {
    const char *name;        /* "--out" */
    const char **value;      /* takes a value, stored as given (the last one wins) */
    bool *flag;              /* takes no value, sets *flag */
    fsg_opt_parse_fn *parse; /* takes a value, given to parse(..., ctx) */
    void *ctx;
};

/* Whether argv[1..] asks for --help or -h before any "--". */
bool fsg_opts_want_help(int argc, char **argv);

/* Parses argv[1..] against opts (borrowed). Operands go, in order, to operands (room for argc
 * entries; borrowed from argv); *ret_n_operands is how many. Returns FSG_EXIT_OK, or prints
 * the usage error (unknown option, missing or empty value, a value given to a flag, or what
 * parse says) and returns FSG_EXIT_USAGE. */
int fsg_opts_parse(const struct fsg_cli *cli, const char *cmd, const struct fsg_opt *opts,
                   size_t n_opts, int argc, char **argv, const char **operands,
                   size_t *ret_n_operands);

/* The ctx of fsg_opt_parse_number: a whole number from 1 to max, stored in *ret. For --jobs,
 * --max-lines and the like. */
struct fsg_opt_number {
    long max;      /* the largest value accepted (the smallest is 1) */
    long *ret;
};
fsg_opt_parse_fn fsg_opt_parse_number;

#endif
