/* What `flowseg apply` did, per target, and how it is printed (text or JSON) and turned into
 * the exit code. */
#ifndef FSG_CMD_APPLY_OUT_H
#define FSG_CMD_APPLY_OUT_H

#include <stdbool.h>

#include "cmd/cli.h"
#include "policy/plan.h"
#include "policy/sg_apply.h"

enum fsg_apply_status {
    FSG_APPLY_NOT_RUN = 0, /* dry run */
    FSG_APPLY_UNCHANGED,   /* nothing to do */
    FSG_APPLY_APPLIED,
    FSG_APPLY_REFUSED,     /* a guard or the EC2 quota: nothing (more) changed */
    FSG_APPLY_FAILED,      /* an AWS error: see error */
    FSG_APPLY_INTERRUPTED, /* SIGTERM/SIGINT: stopped between two calls (see error) */
};

struct fsg_apply_result {
    enum fsg_apply_status status;
    bool group_created;
    struct fsg_sg_apply_result sg;
    bool associated;        /* ModifyDBInstance was called */
    char *error;            /* owned; NULL unless refused by the quota or failed */
    enum fsg_err error_code;
};

/* "not_run", "unchanged", "applied", "refused", "failed", "interrupted". Static. */
const char *fsg_apply_status_name(enum fsg_apply_status s);

struct fsg_apply_output {
    const struct fsg_plan *plan;             /* what was planned (or the saved plan) */
    const struct fsg_apply_result *results;  /* one per plan target */
    bool dry_run;
    bool json;
    const char *path;                        /* NULL = standard output */
};

/* The report, then what was done: text, or the JSON report with an "apply" object:
 * {"dry_run", "changed", "targets": [{"name", "security_group", "status": "applied" |
 * "unchanged" | "refused" | "failed" | "interrupted" | "not_run", "group_created", "modified",
 * "authorized", "already_present", "revoked", "already_gone", "unknown", "associated",
 * "reason"}]}. */
int fsg_apply_print(struct fsg_cli *cli, const struct fsg_apply_output *out);

/* 1 when any target was refused, failed or interrupted (each named on stderr; an interrupted
 * run says "interrupted"), else 0. */
int fsg_apply_exit_code(struct fsg_cli *cli, const struct fsg_apply_output *out);

#endif
