#include "cmd/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/core/deadline.h"
#include "lib/core/log.h"

int fsg_cli_load_config(struct fsg_cli *cli, struct fsg_config **ret_config)
{
    struct fsg_error err = { 0 };
    enum fsg_err rc = cli->config_arg != NULL ? fsg_config_load(cli->config_arg, ret_config, &err)
                                              : fsg_config_new_default(ret_config, &err);
    if (rc != FSG_OK) {
        return fsg_cli_error(cli, "config", &err);
    }
    if ((*ret_config)->timeout_s > 0) {
        /* One deadline for the whole run: requests, retries and waits stop at it. */
        fsg_run_deadline_set(fsg_deadline_in_ms((int64_t)(*ret_config)->timeout_s * 1000));
    }
    return FSG_EXIT_OK;
}

int fsg_cli_error(const struct fsg_cli *cli, const char *context, const struct fsg_error *err)
{
    char extra[256] = "";
    size_t n = 0;
    if (err->http_status != 0) {
        n += (size_t)snprintf(extra + n, sizeof extra - n, ", HTTP %d", err->http_status);
    }
    if (err->service_code[0] != '\0' && n < sizeof extra) {
        n += (size_t)snprintf(extra + n, sizeof extra - n, " %s", err->service_code);
    }
    if (err->request_id[0] != '\0' && n < sizeof extra) {
        snprintf(extra + n, sizeof extra - n, ", request id %s", err->request_id);
    }
    fprintf(stderr, "%s: %s%s%s (%s%s)\n", cli->prog, context ? context : "", context ? ": " : "",
            err->msg[0] != '\0' ? err->msg : fsg_err_str(err->code), fsg_err_name(err->code), extra);
    return FSG_EXIT_ERROR;
}

int fsg_cli_usage_error(const struct fsg_cli *cli, const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s%s%s: %s\nTry '%s%s%s --help'.\n", cli->prog, cmd ? " " : "", cmd ? cmd : "",
            msg, cli->prog, cmd ? " " : "", cmd ? cmd : "");
    return FSG_EXIT_USAGE;
}
