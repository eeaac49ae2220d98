/* flowseg nlb-sync: keep an NLB IP target group on the RDS instance's current private address.
 * The work is cmd/nlb/nlb_sync.h; this file reads the options and the config, makes the AWS
 * clients, writes the audit lines and the JSON summary, and picks the exit code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "cmd/nlb_cmd.h"
#include "lib/aws/aws.h"
#include "lib/aws/creds.h"
#include "lib/core/log.h"
#include "cmd/nlb/nlb_sync.h"

static const char s_usage_text[] =
    "usage: flowseg nlb-sync [--dry-run] [--timeout S] [--help]\n"
    "\n"
    "Keeps a Network Load Balancer target group of type ip pointed at the RDS instance's\n"
    "current private IP, which moves on a Multi-AZ failover. Reads the instance (AZ, port,\n"
    "security groups), finds its network interface, then registers the new address first,\n"
    "waits until the load balancer reports it healthy, and only then deregisters the old one.\n"
    "The last healthy target is never removed before its replacement is healthy.\n"
    "\n"
    "config (section \"nlb\"):\n"
    "  target_group_arn     the target group (type ip)\n"
    "  rds_instance         the DB instance identifier\n"
    "  port                 target port (default: the instance's port)\n"
    "  healthy_timeout_s    how long to wait for the new target to be healthy (default 600:\n"
    "                       AWS takes a few minutes to register a target and start health\n"
    "                       checks, then HealthyThresholdCount checks must pass)\n"
    "\n"
    "options:\n"
    "  --dry-run            show what would change, change nothing (also config \"dry_run\")\n"
    "  --timeout S          override nlb.healthy_timeout_s\n"
    "  --help               this text\n"
    "\n"
    "Output: a JSON summary on stdout {\"target_group_arn\", \"address\", \"registered\",\n"
    "\"deregistered\", \"unchanged\", \"dry_run\", \"result\", ...}; one JSON audit line per\n"
    "change on stderr. Environment: FLOWSEG_NLB_POLL_MS, the health poll interval (default 5000).\n"
    "Exit: 0 done or nothing to do, 1 error (a new target that never became healthy leaves the\n"
    "old one in place), 2 usage.\n";

struct s_opts {
    bool dry_run;
    long timeout_s; /* 0 = from the config */
};

static bool s_parse_long(const char *s, long min, long max, long *ret)
{
    char *end = NULL;
    if (s == NULL || *s == '\0') {
        return false;
    }
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < min || v > max) {
        return false;
    }
    *ret = v;
    return true;
}

/* Returns -1 to go on, else the exit code. */
static int s_parse_opts(struct fsg_cli *cli, int argc, char **argv, struct s_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(s_usage_text, stdout);
            return FSG_EXIT_OK;
        }
        if (strcmp(a, "--dry-run") == 0) {
            o->dry_run = true;
            continue;
        }
        if (strncmp(a, "--timeout", 9) == 0 && (a[9] == '\0' || a[9] == '=')) {
            const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
            if (!s_parse_long(v, 1, 86400, &o->timeout_s)) {
                return fsg_cli_usage_error(cli, "nlb-sync",
                                           "--timeout needs a number of seconds (1..86400)");
            }
            continue;
        }
        return fsg_cli_usage_error(cli, "nlb-sync", "unknown argument '%s'", a);
    }
    return -1;
}

void fsg_nlb_cmd_audit(const struct fsg_nlb_event *ev, void *userdata)
{
    (void)userdata;
    struct fsg_buf line = FSG_BUF_INIT;
    if (fsg_nlb_event_json(ev, &line) == FSG_OK) {
        fsg_log_fields(ev->kind == FSG_NLB_EVENT_KEEP_STALE ? FSG_LOG_WARN : FSG_LOG_INFO,
                       fsg_buf_cstr(&line));
    }
    fsg_buf_clean_up(&line);
}

long fsg_nlb_cmd_poll_ms(void)
{
    long v = 0;
    const char *s = getenv("FLOWSEG_NLB_POLL_MS");
    if (s != NULL && !s_parse_long(s, 1, 600000, &v)) {
        fsg_log(FSG_LOG_WARN, "FLOWSEG_NLB_POLL_MS=%.20s is not a number of ms (1..600000); "
                "using %ld", s, FSG_NLB_DEFAULT_POLL_MS);
        v = 0;
    }
    return v;
}

struct s_clients {
    struct fsg_creds_provider *creds;
    struct fsg_aws_client *ec2;
    struct fsg_aws_client *rds;
    struct fsg_aws_client *elbv2;
};

static void s_clients_clean_up(struct s_clients *c)
{
    fsg_aws_client_destroy(c->ec2);
    fsg_aws_client_destroy(c->rds);
    fsg_aws_client_destroy(c->elbv2);
    fsg_creds_provider_destroy(c->creds);
}

static enum fsg_err s_clients_new(const struct fsg_config *cfg, struct s_clients *c,
                                  struct fsg_error *err)
{
    struct fsg_creds_options co = { .http = NULL };
    enum fsg_err rc = fsg_creds_provider_new_default(&co, &c->creds, err);
    const char *services[] = { "ec2", "rds", "elasticloadbalancing" };
    struct fsg_aws_client **slots[] = { &c->ec2, &c->rds, &c->elbv2 };
    for (size_t i = 0; i < 3 && rc == FSG_OK; i++) {
        struct fsg_aws_client_options o = {
            .service = services[i],
            .region = cfg->region,
            .creds = c->creds,
        };
        rc = fsg_aws_client_new(&o, slots[i], err);
    }
    return rc;
}

static void s_log_outcome(const struct fsg_nlb_sync_options *o,
                          const struct fsg_nlb_sync_result *r)
{
    const struct fsg_nlb_plan *p = &r->plan;
    switch (r->outcome) {
    case FSG_NLB_IN_SYNC:
        fsg_log(FSG_LOG_INFO, "nothing to do: target group %s already points at %s:%ld (%s)",
                o->target_group_arn, r->address.ip, r->address.port, r->eni_id);
        break;
    case FSG_NLB_WOULD_UPDATE:
        fsg_log(FSG_LOG_INFO, "dry run: would register %zu and deregister %zu target(s) in %s; "
                "nothing changed", p->n_register, p->n_deregister, o->target_group_arn);
        break;
    case FSG_NLB_UPDATED:
        fsg_log(FSG_LOG_INFO, "target group %s now points at %s:%ld (%zu registered, %zu "
                "deregistered)", o->target_group_arn, r->address.ip, r->address.port,
                r->registered ? p->n_register : 0, r->n_deregistered);
        break;
    case FSG_NLB_FAILED:
        break;
    }
}

static int s_run(struct fsg_cli *cli, const struct fsg_config *cfg, const struct s_opts *opts)
{
    struct fsg_error err = { 0 };
    struct s_clients clients = { 0 };
    struct fsg_nlb_sync_result result = { 0 };
    struct fsg_buf out = FSG_BUF_INIT;
    int exit_code = FSG_EXIT_OK;
    enum fsg_err rc = s_clients_new(cfg, &clients, &err);
    if (rc != FSG_OK) {
        exit_code = fsg_cli_error(cli, "nlb-sync", &err);
        goto out;
    }
    struct fsg_nlb_sync_options o = {
        .ec2 = clients.ec2,
        .rds = clients.rds,
        .elbv2 = clients.elbv2,
        .target_group_arn = cfg->nlb.target_group_arn,
        .rds_instance = cfg->nlb.rds_instance,
        .port = cfg->nlb.port,
        .healthy_timeout_s = opts->timeout_s > 0 ? opts->timeout_s : cfg->nlb.healthy_timeout_s,
        .poll_ms = fsg_nlb_cmd_poll_ms(),
        .dry_run = opts->dry_run || cfg->dry_run,
        .resolve = fsg_nlb_resolve_getaddrinfo,
        .on_event = fsg_nlb_cmd_audit,
    };
    rc = fsg_nlb_sync_run(&o, &result, &err);
    if (result.planned && fsg_nlb_sync_result_json(&o, &result, &out) == FSG_OK) {
        printf("%s\n", fsg_buf_cstr(&out));
        fflush(stdout);
    }
    if (rc != FSG_OK) {
        err.code = rc;
        exit_code = fsg_cli_error(cli, "nlb-sync", &err);
        goto out;
    }
    s_log_outcome(&o, &result);
out:
    fsg_buf_clean_up(&out);
    fsg_nlb_sync_result_clean_up(&result);
    s_clients_clean_up(&clients);
    return exit_code;
}

int fsg_cmd_nlb_sync(struct fsg_cli *cli, int argc, char **argv)
{
    struct s_opts opts = { 0 };
    int code = s_parse_opts(cli, argc, argv, &opts);
    if (code >= 0) {
        return code;
    }
    struct fsg_config *cfg = NULL;
    code = fsg_cli_load_config(cli, &cfg);
    if (code != FSG_EXIT_OK) {
        return code;
    }
    if (cfg->nlb.target_group_arn == NULL || cfg->nlb.rds_instance == NULL) {
        fprintf(stderr, "%s: nlb-sync: the config has no nlb section with target_group_arn and "
                "rds_instance (see '%s nlb-sync --help')\n", cli->prog, cli->prog);
        fsg_config_destroy(cfg);
        return FSG_EXIT_ERROR;
    }
    code = s_run(cli, cfg, &opts);
    fsg_config_destroy(cfg);
    return code;
}
