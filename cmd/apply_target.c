#include "cmd/apply_target.h"

#include <stdlib.h>
#include <time.h>

#include "lib/aws/aws.h"
#include "lib/core/mem.h"
#include "policy/audit.h"
#include "policy/guards.h"
#include "policy/resolve.h"
#include "policy/sg_apply.h"

static enum fsg_err s_replace_str(char **slot, const char *value)
{
    char *copy = fsg_strdup(value);
    if (copy == NULL) {
        return FSG_E_NOMEM;
    }
    fsg_free(*slot);
    *slot = copy;
    return FSG_OK;
}

/* A refusal by a guard: nothing is done for the target. */
static void s_refuse(struct fsg_plan_target *pt, struct fsg_apply_result *res)
{
    res->status = FSG_APPLY_REFUSED;
    fsg_audit(FSG_LOG_WARN, "refused", pt->name, pt->security_group,
              json_pack("{s:s}", "reason", pt->refused));
}

static bool s_stopped(const struct fsg_recon *run)
{
    return run->stop != NULL && *run->stop != 0;
}

/* A signal arrived: what was done is audited; nothing further is changed. */
static enum fsg_err s_interrupted(struct fsg_plan_target *pt, const char *before,
                                  struct fsg_error *err)
{
    fsg_audit(FSG_LOG_WARN, "interrupted", pt->name, pt->security_group,
              json_pack("{s:s, s:s}", "reason", "a signal asked to stop: no further change",
                        "before", before));
    return fsg_error_set(err, FSG_E_CANCELLED, "interrupted before %s: no further change was "
                                               "made (the next run completes it)", before);
}

/* When waits for a busy RDS instance must end: the run's deadline, or FSG_APPLY_WAIT_S (env
 * FLOWSEG_APPLY_WAIT_S overrides it) from now. */
static int64_t s_deadline_ms(const struct fsg_recon *run)
{
    if (run->apply_deadline_ms > 0) {
        return run->apply_deadline_ms;
    }
    long wait_s = FSG_APPLY_WAIT_S;
    const char *env = getenv("FLOWSEG_APPLY_WAIT_S");
    if (env != NULL && env[0] != '\0') {
        char *end = NULL;
        long v = strtol(env, &end, 10);
        wait_s = end != NULL && *end == '\0' && v >= 0 ? v : wait_s;
    }
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return 0;
    }
    return ((int64_t)ts.tv_sec + wait_s) * 1000 + ts.tv_nsec / 1000000;
}

static enum fsg_err s_apply(struct fsg_recon *run, struct fsg_recon_target *t,
                            struct fsg_plan_target *pt, struct fsg_apply_result *res,
                            struct fsg_error *err)
{
    enum fsg_err rc = FSG_OK;
    if (s_stopped(run)) {
        return s_interrupted(pt, "any change to this target", err);
    }
    if (t->res.group_id == NULL) {
        rc = fsg_resolve_ensure_group(run->ec2, &t->req, &t->res, &res->group_created, err);
        if (rc == FSG_OK) {
            rc = s_replace_str(&pt->sg->group_id, t->res.group_id);
        }
        if (rc == FSG_OK) {
            rc = s_replace_str(&pt->security_group, t->res.group_id);
        }
    }
    if (rc == FSG_OK) {
        struct fsg_sg_apply_options ao = { .target = pt->name, .current = &t->current,
                                           .calls = &pt->calls, .stop = run->stop,
                                           .group_new = res->group_created };
        rc = fsg_sg_apply(run->ec2, pt->sg, &ao, &res->sg, err);
    }
    if (rc == FSG_OK && t->assoc.changes && s_stopped(run)) {
        rc = s_interrupted(pt, "associating the group with the RDS instance", err);
    }
    if (rc == FSG_OK) {
        rc = fsg_resolve_associate_until(run->rds, &t->req, &t->res, s_deadline_ms(run),
                                         &res->associated, err);
    }
    return rc;
}

void fsg_apply_target(struct fsg_recon *run, struct fsg_recon_target *t,
                      struct fsg_plan_target *pt, bool force, struct fsg_apply_result *res)
{
    bool refused = pt->refused != NULL &&
                   (!force || (pt->refused_guards & ~(unsigned)FSG_GUARD_REMOVALS) != 0);
    if (refused) {
        s_refuse(pt, res);
        return;
    }
    struct fsg_error err = { 0 };
    enum fsg_err rc = FSG_OK;
    if (pt->calls.n_steps == 0 && fsg_sg_plan_has_changes(pt->sg)) {
        /* a plan without its calls (fsg_plan_add and a checked saved plan always have them):
         * made once here; sg_apply makes exactly these, and the report shows them */
        fsg_sg_schedule_clean_up(&pt->calls);
        rc = fsg_sg_schedule_make(pt->sg, run->config->guards.max_rules, &pt->calls);
        if (rc != FSG_OK) {
            /* not a quota refusal (empty calls would read as one): nothing was sent */
            fsg_sg_schedule_clean_up(&pt->calls);
            rc = fsg_error_set(&err, FSG_E_NOMEM, "%s: out of memory ordering the calls for "
                               "%s (nothing changed)", pt->name, pt->security_group);
        }
    }
    bool needed = fsg_sg_plan_has_changes(pt->sg) || t->res.group_id == NULL || t->assoc.changes;
    if (rc == FSG_OK && !needed) {
        res->status = FSG_APPLY_UNCHANGED;
        return;
    }
    if (rc == FSG_OK) {
        /* after a stop the AWS clients send no mutating call again (CreateSecurityGroup,
         * ModifyDBInstance and the group's rules: lib/aws/aws.h fsg_aws_client_set_stop) */
        const volatile sig_atomic_t *ec2_was = fsg_aws_client_set_stop(run->ec2, run->stop);
        const volatile sig_atomic_t *rds_was = fsg_aws_client_set_stop(run->rds, run->stop);
        rc = s_apply(run, t, pt, res, &err);
        (void)fsg_aws_client_set_stop(run->ec2, ec2_was);
        (void)fsg_aws_client_set_stop(run->rds, rds_was);
    }
    if (rc == FSG_OK) {
        res->status = FSG_APPLY_APPLIED;
        return;
    }
    err.code = rc;
    res->status = rc == FSG_E_REFUSED     ? FSG_APPLY_REFUSED
                : rc == FSG_E_CANCELLED ? FSG_APPLY_INTERRUPTED
                                        : FSG_APPLY_FAILED;
    res->error = fsg_strdup(err.msg[0] != '\0' ? err.msg : fsg_err_str(rc));
    res->error_code = rc;
    if (res->status == FSG_APPLY_FAILED) {
        fsg_audit(FSG_LOG_ERROR, "failed", pt->name, pt->security_group,
                  json_pack("{s:s, s:s}", "error", err.msg, "code", fsg_err_name(rc)));
    }
}
