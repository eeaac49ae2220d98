/* Tamper protection within seconds: the Lambda's answer to EventBridge "AWS API Call via
 * CloudTrail" events (lib/aws/s3_event.h, struct fsg_s3_event_call) for
 * AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress, ModifySecurityGroupRules,
 * UpdateSecurityGroupRuleDescriptionsIngress (on a managed group) and ModifyDBInstance (on a
 * protected instance: its group list changed, the managed group may be detached or replaced).
 *
 * 1. Match, with no AWS or PCE request: an EC2 call concerns the target whose managed group is
 *    requestParameters' group (the config's id, or the id of a created group learned by an
 *    earlier invocation of this runtime); a ModifyDBInstance that sends vpcSecurityGroupIds
 *    concerns the target of that instance. A call on any other group or instance, a failed
 *    call (errorCode: nothing changed), or a ModifyDBInstance that leaves the groups alone is
 *    ignored with one log line.
 * 2. flowseg's own changes are not reconciled again (no loop on the events of our own calls):
 *    a call is ours when the caller is this function's role session (Lambda names the execution
 *    role's session after the function, so userIdentity.arn is
 *    arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/FUNCTION_NAME) AND the change is one flowseg
 *    makes: an Authorize or ModifySecurityGroupRules writing only CIDR rules described
 *    "flowseg ...", a Revoke (flowseg only removes what its plan removes; a removal never widens
 *    access), or a ModifyDBInstance whose group list holds the managed group. Anything else is
 *    reconciled, whoever did it: a tamper event by another principal always is.
 * 3. A call naming its group by name only (default VPC) or a created group whose id this runtime
 *    has not learned yet: the candidate targets are resolved (EC2/RDS reads only), then matched
 *    again by the id found; the PCE is read only when a target is concerned.
 * 4. The targets concerned are planned and applied as one run (cmd/lambda_apply.c), with the
 *    guards of every apply. */
#include <stdio.h>
#include <string.h>

#include "cmd/lambda_internal.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"

enum s_concern { S_NO = 0, S_YES, S_OWN, S_UNKNOWN };

/* Whether call c concerns config target i whose managed group is `group` (NULL: unknown). */
static enum s_concern s_concern(const struct fsg_lambda_state *st, const struct fsg_s3_event_call *c,
                                size_t i, const char *group)
{
    const struct fsg_config_target *t = &st->config->targets[i];
    bool own = fsg_lambda_own_session(c->principal_arn, c->access_key_id, st->function_name,
                                      st->own_key_id);
    if (c->db_instance != NULL) {
        if (!fsg_lambda_same_instance(c->db_instance, t->rds_instance) || !c->has_vpc_sg_ids) {
            return S_NO;
        }
        return own && fsg_lambda_flowseg_change(c, group) ? S_OWN : S_YES;
    }
    if (c->group_id == NULL || group == NULL) {
        return S_UNKNOWN; /* named by name only, or the target's group not known yet: resolve */
    }
    if (strcmp(group, c->group_id) != 0) {
        return S_NO;
    }
    return own && fsg_lambda_flowseg_change(c, group) ? S_OWN : S_YES;
}

static const char *s_subject(const struct fsg_s3_event_call *c)
{
    return c->db_instance != NULL ? c->db_instance
           : c->group_id != NULL  ? c->group_id
           : c->group_name != NULL ? c->group_name
                                   : "(unknown)"; /* a failed call may name nothing */
}

/* The summary entry and the one log line of a call. */
static enum fsg_err s_note(struct fsg_lambda_work *w, const struct fsg_s3_event_call *c,
                           const char *action, const char *why, json_t *targets)
{
    fsg_log(FSG_LOG_INFO, "cloudtrail %s on %s by %s: %s%s%s", c->event_name, s_subject(c),
            c->principal_arn != NULL ? c->principal_arn : "(unknown)", action,
            why != NULL ? ": " : "", why != NULL ? why : "");
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "event", c->event_name,
                          c->db_instance != NULL ? "instance" : "group", s_subject(c), "by",
                          c->principal_arn != NULL ? c->principal_arn : "", "action", action);
    if (o != NULL && why != NULL && json_object_set_new(o, "why", json_string(why)) != 0) {
        json_decref(o);
        o = NULL;
    }
    if (o != NULL && targets != NULL && json_object_set(o, "targets", targets) != 0) {
        json_decref(o);
        o = NULL;
    }
    return fsg_lambda_work_add(w->calls, o);
}

/* Per call: the targets concerned (S_YES), by the group ids known now (or resolved). */
struct s_match {
    enum s_concern *by_target; /* n_calls x n_targets */
    bool *resolve;             /* n_targets: candidates to resolve */
};

static enum s_concern *s_at(struct s_match *m, size_t call, size_t n_targets, size_t i)
{
    return &m->by_target[call * n_targets + i];
}

/* Step 1: match with what is known, no request. */
static void s_match_known(struct fsg_lambda_work *w, const struct fsg_s3_event *ev,
                          struct s_match *m)
{
    const struct fsg_lambda_state *st = w->st;
    size_t n = st->config->n_targets;
    for (size_t k = 0; k < ev->n_calls; k++) {
        const struct fsg_s3_event_call *c = &ev->calls[k];
        for (size_t i = 0; c->error_code == NULL && i < n; i++) {
            enum s_concern v = s_concern(st, c, i, fsg_lambda_state_group(st, i));
            *s_at(m, k, n, i) = v;
            m->resolve[i] = m->resolve[i] || v == S_YES || v == S_UNKNOWN;
        }
    }
}

/* Step 3: after resolving, the unknown ones again with the group ids found. */
static void s_match_resolved(struct fsg_lambda_work *w, const struct fsg_s3_event *ev,
                             const struct fsg_recon *run, struct s_match *m)
{
    const struct fsg_lambda_state *st = w->st;
    size_t n = st->config->n_targets;
    for (size_t r = 0; r < run->n_targets; r++) {
        const struct fsg_recon_target *t = &run->targets[r];
        size_t i = (size_t)(t->config - st->config->targets);
        for (size_t k = 0; k < ev->n_calls; k++) {
            const struct fsg_s3_event_call *c = &ev->calls[k];
            enum s_concern *v = s_at(m, k, n, i);
            if (*v != S_UNKNOWN) {
                continue;
            }
            if (c->group_id == NULL) {
                /* By name: the created group's name, or (unknown name) every candidate. */
                const char *name = t->config->create_name;
                *v = name == NULL || strcmp(name, c->group_name) == 0 ? S_YES : S_NO;
            } else {
                *v = s_concern(st, c, i, t->res.group_id);
            }
        }
    }
}

/* One summary entry per call, and which targets to keep. */
static enum fsg_err s_report(struct fsg_lambda_work *w, const struct fsg_s3_event *ev,
                             struct s_match *m, bool *keep)
{
    const struct fsg_lambda_state *st = w->st;
    size_t n = st->config->n_targets;
    enum fsg_err rc = FSG_OK;
    for (size_t k = 0; rc == FSG_OK && k < ev->n_calls; k++) {
        const struct fsg_s3_event_call *c = &ev->calls[k];
        if (c->error_code != NULL) {
            char why[160];
            snprintf(why, sizeof why, "the call failed (%s) and changed nothing", c->error_code);
            rc = s_note(w, c, "ignored", why, NULL);
            continue;
        }
        json_t *names = json_array();
        bool own = false;
        for (size_t i = 0; names != NULL && i < n; i++) {
            enum s_concern v = *s_at(m, k, n, i);
            own = own || v == S_OWN;
            if (v == S_YES) {
                keep[i] = true;
                if (json_array_append_new(names, json_string(st->config->targets[i].name))) {
                    break;
                }
            }
        }
        if (names == NULL) {
            rc = FSG_E_NOMEM;
        } else if (json_array_size(names) > 0) {
            rc = s_note(w, c, "reconcile", NULL, names);
        } else if (own) {
            rc = s_note(w, c, "own_change",
                        "flowseg's own change (this function's role session): not reconciled "
                        "again",
                        NULL);
        } else if (c->db_instance != NULL && !c->has_vpc_sg_ids) {
            rc = s_note(w, c, "ignored", "the call does not change the instance's security "
                                         "groups",
                        NULL);
        } else {
            rc = s_note(w, c, "ignored",
                        c->db_instance != NULL ? "not a protected instance"
                                               : "not a managed security group",
                        NULL);
        }
        json_decref(names);
    }
    return rc;
}

enum fsg_err fsg_lambda_work_calls(struct fsg_lambda_work *w, const struct fsg_s3_event *ev,
                                   struct fsg_error *err)
{
    struct fsg_lambda_state *st = w->st;
    size_t n = st->config->n_targets;
    struct s_match m = { .by_target = fsg_calloc(ev->n_calls * n + 1, sizeof *m.by_target),
                         .resolve = fsg_calloc(n + 1, sizeof *m.resolve) };
    bool *keep = fsg_calloc(n + 1, sizeof *keep);
    struct fsg_recon run = { 0 };
    bool borrowed = false;
    enum fsg_err rc = m.by_target == NULL || m.resolve == NULL || keep == NULL ? FSG_E_NOMEM
                                                                                : FSG_OK;
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory");
        goto out;
    }
    s_match_known(w, ev, &m);
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        any = any || m.resolve[i];
    }
    if (any) {
        rc = fsg_lambda_state_aws(st, err);
        if (rc != FSG_OK) {
            goto out;
        }
        fsg_lambda_recon_borrow(st, &run);
        borrowed = true;
        struct fsg_recon_options o = { .cmd = "lambda" };
        rc = fsg_recon_resolve_some(&o, &run, m.resolve, false, err);
        if (rc != FSG_OK) {
            fsg_error_prefix(err, "aws (nothing changed): ");
            goto out;
        }
        fsg_lambda_state_learn(st, &run);
        s_match_resolved(w, ev, &run, &m);
    }
    rc = s_report(w, ev, &m, keep);
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory");
        goto out;
    }
    if (any) {
        /* keep is by config index; the run holds the resolved candidates in config order. */
        bool *keep_run = fsg_calloc(run.n_targets + 1, sizeof *keep_run);
        if (keep_run == NULL) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
            goto out;
        }
        for (size_t r = 0; r < run.n_targets; r++) {
            keep_run[r] = keep[(size_t)(run.targets[r].config - st->config->targets)];
        }
        fsg_recon_keep_targets(&run, keep_run);
        fsg_free(keep_run);
        /* A target that fails or is deferred here fails the calls' SQS messages with every
         * other message of the batch (cmd_lambda.c s_batch_outcome): nothing to mark here. */
        rc = fsg_lambda_reconcile(w, &run, err);
    }

out:
    if (borrowed) {
        fsg_lambda_recon_release(&run);
        fsg_recon_clean_up(&run);
    }
    fsg_free(keep);
    fsg_free(m.resolve);
    fsg_free(m.by_target);
    return rc;
}
