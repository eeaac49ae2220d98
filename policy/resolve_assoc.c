/* The writes of target resolution: creating the managed group, associating it with the
 * instance. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/aws/aws.h"
#include "lib/aws/ec2.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"
#include "lib/aws/rds.h"
#include "policy/audit.h"
#include "policy/resolve_internal.h"

/* "Managed by flowseg for target NAME", in the character set EC2 accepts (§6.1). */
static void s_group_description(const char *target, char out[FSG_EC2_DESCRIPTION_MAX + 1])
{
    static const char allowed[] = " ._-:/()#,@[]+=;{}!$*";
    snprintf(out, FSG_EC2_DESCRIPTION_MAX + 1, "Managed by flowseg for target %s", target);
    for (char *p = out; *p != '\0'; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || strchr(allowed, *p) != NULL;
        *p = ok ? *p : '_';
    }
}

enum fsg_err fsg_resolve_ensure_group(struct fsg_aws_client *ec2,
                                      const struct fsg_resolve_request *req,
                                      struct fsg_resolved_target *t, bool *ret_created,
                                      struct fsg_error *err)
{
    if (t->group_id != NULL) {
        if (ret_created != NULL) {
            *ret_created = false;
        }
        return FSG_OK;
    }
    const char *vpc = t->group_vpc_id != NULL ? t->group_vpc_id : req->create_vpc_id;
    if (req->create_name == NULL || vpc == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "target %s: no group to create (needs "
                             "security_group.create and a VPC)", req->name);
    }
    char desc[FSG_EC2_DESCRIPTION_MAX + 1];
    s_group_description(req->name, desc);
    struct fsg_ec2_tag_spec tag = { FSG_EC2_OWNER_TAG_KEY, req->name };
    struct fsg_ec2_create_sg_request cr = { .group_name = req->create_name, .description = desc,
                                            .vpc_id = vpc, .tags = &tag, .n_tags = 1 };
    char *id = NULL;
    bool created = false;
    fsg_log(FSG_LOG_DEBUG, "aws ec2 CreateSecurityGroup %s in %s", req->create_name, vpc);
    fsg_audit(FSG_LOG_INFO, "requested", req->name, NULL,
              json_pack("{s:s, s:s, s:s}", "action", "CreateSecurityGroup", "group_name",
                        req->create_name, "vpc_id", vpc));
    enum fsg_err rc = fsg_ec2_ensure_security_group(ec2, &cr, &id, &created, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "target %s: creating security group %s: ", req->name,
                         req->create_name);
        return rc;
    }
    t->group_id = id;
    fsg_audit(FSG_LOG_INFO, "create_group", req->name, id,
              json_pack("{s:s, s:s, s:s, s:s}", "group_name", req->create_name, "vpc_id", vpc,
                        "result", created ? "created" : "already_exists", "by",
                        created ? "this_run" : "found_already_so"));
    if (ret_created != NULL) {
        *ret_created = created;
    }
    return FSG_OK;
}

void fsg_resolve_association_clean_up(struct fsg_resolve_association *a)
{
    if (a != NULL) {
        fsg_resolve__strv_free(a->groups, a->n_groups);
        *a = (struct fsg_resolve_association){ 0 };
    }
}

enum fsg_err fsg_resolve_association(const struct fsg_resolve_request *req,
                                     const struct fsg_resolved_target *t, const char *group,
                                     struct fsg_resolve_association *ret)
{
    struct fsg_resolve_association a = { 0 };
    enum fsg_err rc = FSG_OK;
    bool has = fsg_resolve__strv_has(t->db_groups, t->n_db_groups, group);
    if (req->rds_instance == NULL || group == NULL) {
        /* nothing to associate with */
    } else if (req->associate == FSG_RESOLVE_ASSOCIATE_ADD && !has) {
        a.changes = true;
        for (size_t i = 0; rc == FSG_OK && i < t->n_db_groups; i++) {
            rc = fsg_resolve__strv_add(&a.groups, &a.n_groups, t->db_groups[i]);
        }
        if (rc == FSG_OK) {
            rc = fsg_resolve__strv_add(&a.groups, &a.n_groups, group);
        }
    } else if (req->associate == FSG_RESOLVE_ASSOCIATE_REPLACE && (!has || t->n_db_groups != 1)) {
        a.changes = true;
        rc = fsg_resolve__strv_add(&a.groups, &a.n_groups, group);
    }
    if (rc != FSG_OK) {
        fsg_resolve_association_clean_up(&a);
        return rc;
    }
    *ret = a;
    return FSG_OK;
}

static enum fsg_err s_join(struct fsg_buf *out, char *const *v, size_t n)
{
    enum fsg_err rc = n == 0 ? fsg_buf_append_cstr(out, "none") : FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < n; i++) {
        rc = fsg_buf_printf(out, "%s%s", i > 0 ? ", " : "", v[i]);
    }
    return rc;
}

enum fsg_err fsg_resolve_association_describe(const struct fsg_resolve_request *req,
                                              const struct fsg_resolved_target *t,
                                              const struct fsg_resolve_association *a,
                                              struct fsg_buf *out)
{
    if (!a->changes) {
        return FSG_OK;
    }
    bool replace = req->associate == FSG_RESOLVE_ASSOCIATE_REPLACE;
    enum fsg_err rc = fsg_buf_printf(out, "association (%s): RDS instance %s will have security "
                                          "groups ", replace ? "replace" : "add",
                                     req->rds_instance);
    if (rc == FSG_OK) {
        rc = s_join(out, a->groups, a->n_groups);
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_append_cstr(out, " (now: ");
    }
    if (rc == FSG_OK) {
        rc = s_join(out, t->db_groups, t->n_db_groups);
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_append_cstr(out, ")");
    }
    return rc;
}

static json_t *s_strv_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++) {
        (void)json_array_append_new(a, json_string(v[i]));
    }
    return a;
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return 0;
    }
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps ms in slices of at most 50 ms, ending early once rds's stop flag is set. */
static void s_sleep_ms(const struct fsg_aws_client *rds, int64_t ms)
{
    while (ms > 0 && !fsg_aws_client_stop_requested(rds)) {
        int64_t slice = ms < 50 ? ms : 50;
        struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)slice * 1000000 };
        while (nanosleep(&ts, &ts) != 0 && !fsg_aws_client_stop_requested(rds)) {
            /* another signal: sleep the rest of the slice */
        }
        ms -= slice;
    }
}

/* What the audit says of the group when ModifyDBInstance ends busy: not attached, unless an
 * earlier attempt's answer was lost (it may have landed: the instance is busy applying it). */
static const char *s_busy_result(bool uncertain)
{
    return uncertain ? "unknown" : "not_attached";
}

/* A signal asked to stop (the RDS client's stop flag, fsg_aws_client_set_stop) while the
 * instance was busy: ModifyDBInstance is not sent again, nothing is sent after a stop. */
static enum fsg_err s_interrupted_busy(const struct fsg_resolve_request *req, unsigned attempt,
                                       bool uncertain, struct fsg_error *err)
{
    fsg_audit(FSG_LOG_WARN, "associate", req->name, NULL,
              json_pack("{s:s, s:s, s:I, s:s}", "rds_instance", req->rds_instance, "result",
                        s_busy_result(uncertain), "attempts", (json_int_t)attempt, "reason",
                        "interrupted by a signal while the instance was busy"));
    return fsg_error_set(err, FSG_E_CANCELLED, "interrupted: rules in place, group %s: RDS "
                         "instance %s was busy (InvalidDBInstanceState) and a signal asked to "
                         "stop; the next run %s",
                         uncertain ? "perhaps attached (an earlier answer was lost)"
                                   : "not yet attached",
                         req->rds_instance, uncertain ? "checks and attaches it" : "attaches it");
}

/* ModifyDBInstance, tried again while the instance is busy and the deadline allows (not after
 * a stop). */
static enum fsg_err s_modify_waiting(struct fsg_aws_client *rds,
                                     const struct fsg_resolve_request *req,
                                     const struct fsg_resolve_association *a, int64_t deadline_ms,
                                     struct fsg_error *err)
{
    int64_t wait_ms = 250;
    bool uncertain = false; /* an attempt's answer was lost: it may have landed */
    for (unsigned attempt = 1;; attempt++) {
        fsg_log(FSG_LOG_DEBUG, "aws rds ModifyDBInstance %s: %zu group(s), attempt %u",
                req->rds_instance, a->n_groups, attempt);
        enum fsg_err rc = fsg_rds_modify_vpc_security_groups(rds, req->rds_instance,
                                                             (const char *const *)a->groups,
                                                             a->n_groups, NULL, err);
        bool busy = rc != FSG_OK && err != NULL &&
                    strcmp(err->service_code, "InvalidDBInstanceState") == 0;
        uncertain = uncertain || fsg_aws_client_last_call_uncertain(rds);
        int64_t left = deadline_ms - s_now_ms();
        if (busy && fsg_aws_client_stop_requested(rds)) {
            return s_interrupted_busy(req, attempt, uncertain, err);
        }
        if (!busy || left <= 0) {
            if (busy) {
                fsg_audit(FSG_LOG_WARN, "associate", req->name, NULL,
                          json_pack("{s:s, s:s, s:I}", "rds_instance", req->rds_instance,
                                    "result", s_busy_result(uncertain), "attempts",
                                    (json_int_t)attempt));
                (void)fsg_error_set(err, FSG_E_CONFLICT, "rules in place, group %s: RDS "
                                    "instance %s stayed busy (%s) for %u attempt(s) until the "
                                    "run's deadline; the next run %s",
                                    uncertain ? "perhaps attached (an earlier answer was lost)"
                                              : "not yet attached",
                                    req->rds_instance, "InvalidDBInstanceState", attempt,
                                    uncertain ? "checks and attaches it" : "attaches it");
            }
            return rc;
        }
        fsg_log(FSG_LOG_INFO, "RDS instance %s is busy (InvalidDBInstanceState): trying again in "
                              "%lld ms", req->rds_instance, (long long)wait_ms);
        s_sleep_ms(rds, wait_ms < left ? wait_ms : left);
        wait_ms = wait_ms * 2 > 10000 ? 10000 : wait_ms * 2;
        if (fsg_aws_client_stop_requested(rds)) {
            /* the signal came during the wait */
            return s_interrupted_busy(req, attempt, uncertain, err);
        }
    }
}

enum fsg_err fsg_resolve_associate(struct fsg_aws_client *rds,
                                   const struct fsg_resolve_request *req,
                                   struct fsg_resolved_target *t, bool *ret_changed,
                                   struct fsg_error *err)
{
    return fsg_resolve_associate_until(rds, req, t, 0, ret_changed, err);
}

enum fsg_err fsg_resolve_associate_until(struct fsg_aws_client *rds,
                                         const struct fsg_resolve_request *req,
                                         struct fsg_resolved_target *t, int64_t deadline_ms,
                                         bool *ret_changed, struct fsg_error *err)
{
    struct fsg_resolve_association a = { 0 };
    struct fsg_error local = { 0 };
    err = err != NULL ? err : &local;
    if (ret_changed != NULL) {
        *ret_changed = false;
    }
    if (t->group_id == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "target %s: the managed group has no id yet",
                             req->name);
    }
    enum fsg_err rc = fsg_resolve_association(req, t, t->group_id, &a);
    if (rc == FSG_OK && a.changes) {
        fsg_audit(FSG_LOG_INFO, "requested", req->name, t->group_id,
                  json_pack("{s:s, s:s, s:o}", "action", "ModifyDBInstance", "rds_instance",
                            req->rds_instance, "groups", s_strv_json(a.groups, a.n_groups)));
        rc = s_modify_waiting(rds, req, &a, deadline_ms, err);
        if (rc != FSG_OK) {
            fsg_error_prefix(err, "target %s: setting the security groups of RDS instance %s: ",
                             req->name, req->rds_instance);
        }
    }
    if (rc == FSG_OK && a.changes) {
        fsg_audit(FSG_LOG_INFO, "associate", req->name, t->group_id,
                  json_pack("{s:s, s:s, s:o, s:o, s:s, s:s}", "rds_instance", req->rds_instance,
                            "mode",
                            req->associate == FSG_RESOLVE_ASSOCIATE_REPLACE ? "replace" : "add",
                            "before", s_strv_json(t->db_groups, t->n_db_groups), "after",
                            s_strv_json(a.groups, a.n_groups), "result", "associated", "by",
                            "this_run"));
        fsg_resolve__strv_free(t->db_groups, t->n_db_groups);
        t->db_groups = a.groups;
        t->n_db_groups = a.n_groups;
        a.groups = NULL;
        a.n_groups = 0;
        if (ret_changed != NULL) {
            *ret_changed = true;
        }
    }
    fsg_resolve_association_clean_up(&a);
    return rc;
}
