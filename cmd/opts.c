#include "cmd/opts.h"

#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"

bool fsg_opts_want_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return true;
        }
    }
    return false;
}

/* The entry whose name is a, or a up to a '='. */
static const struct fsg_opt *s_find(const struct fsg_opt *opts, size_t n, const char *a)
{
    for (size_t k = 0; k < n; k++) {
        size_t len = strlen(opts[k].name);
        if (strncmp(a, opts[k].name, len) == 0 && (a[len] == '\0' || a[len] == '=')) {
            return &opts[k];
        }
    }
    return NULL;
}

/* One option at argv[*i] (advanced past a separate value). */
static int s_option(const struct fsg_cli *cli, const char *cmd, const struct fsg_opt *opts,
                    size_t n_opts, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const struct fsg_opt *o = s_find(opts, n_opts, a);
    if (o == NULL) {
        return fsg_cli_usage_error(cli, cmd, "unknown option '%s'", a);
    }
    const char *eq = a + strlen(o->name);
    if (o->flag != NULL) {
        if (*eq == '=') {
            return fsg_cli_usage_error(cli, cmd, "%s takes no value", o->name);
        }
        *o->flag = true;
        return FSG_EXIT_OK;
    }
    const char *v = *eq == '=' ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
    if (v == NULL || v[0] == '\0') {
        return fsg_cli_usage_error(cli, cmd, "%s needs a value", o->name);
    }
    if (o->value != NULL) {
        *o->value = v;
        return FSG_EXIT_OK;
    }
    return o->parse(cli, cmd, o->name, v, o->ctx);
}

int fsg_opts_parse(const struct fsg_cli *cli, const char *cmd, const struct fsg_opt *opts,
                   size_t n_opts, int argc, char **argv, const char **operands,
                   size_t *ret_n_operands)
{
    bool options_done = false;
    size_t n = 0;
    int ex = FSG_EXIT_OK;
    for (int i = 1; i < argc && ex == FSG_EXIT_OK; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
            operands[n++] = a;
        } else if (strcmp(a, "--") == 0) {
            options_done = true;
        } else {
            ex = s_option(cli, cmd, opts, n_opts, argc, argv, &i);
        }
    }
    *ret_n_operands = n;
    return ex;
}

int fsg_opt_parse_number(const struct fsg_cli *cli, const char *cmd, const char *name,
                         const char *value, void *ctx)
{
    const struct fsg_opt_number *num = ctx;
    char *end = NULL;
    long n = strtol(value, &end, 10);
    if (end == value || *end != '\0' || n < 1 || n > num->max) {
        return fsg_cli_usage_error(cli, cmd, "%s must be a number from 1 to %ld, not '%s'", name,
                                   num->max, value);
    }
    *num->ret = n;
    return FSG_EXIT_OK;
}
