#include "policy/sg_apply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/aws/aws.h"
#include "lib/aws/ec2.h"
#include "lib/core/mem.h"
#include "policy/audit.h"
#include "policy/sg_live.h"
#include "policy/sg_schedule.h"

/* EC2 error codes that mean "already done" (ref/aws-wire.md §5.1). Revoking an unknown id
 * answers InvalidSecurityGroupRuleId.NotFound on AWS; moto answers InvalidPermission.NotFound,
 * which AWS uses for the by-properties form. */
#define S_DUPLICATE "InvalidPermission.Duplicate"
#define S_RULE_ID_GONE "InvalidSecurityGroupRuleId.NotFound"
#define S_PERMISSION_GONE "InvalidPermission.NotFound"

/* Who made a change, as audit lines say it. */
#define S_BY_US "this_run"
#define S_BY_OTHER "found_already_so"
#define S_BY_UNKNOWN "unknown"
#define S_BY_NONE "none" /* the change is not in the group: nobody made it */
#define S_OUTCOME_UNKNOWN                                                                          \
    "unknown: this run's request was sent but its answer was lost (network error, timeout or "    \
    "server error); the group was read again: this is what it holds now"
#define S_OUTCOME_UNREAD                                                                           \
    "unknown: this run's request was sent but its answer was lost (network error, timeout or "    \
    "server error), and the group could not be read again: whether it landed is unknown"

/* One rule to authorize (or to rewrite into), one rule to revoke. */
struct s_pair {
    const struct fsg_sg_rule *add;    /* the new permission (MODIFY, AUTHORIZE) */
    const struct fsg_sg_rule *rm;     /* the stale CIDR rule (MODIFY, REVOKE) */
    const struct fsg_sg_foreign_rule *foreign; /* a stale SG/prefix-list rule (REVOKE) */
    const char *id;                   /* the rule id of rm / foreign */
};

struct s_list {
    struct s_pair *items;
    size_t len;
    size_t cap;
};

struct s_ctx {
    struct fsg_aws_client *ec2;
    const struct fsg_sg_plan *plan;
    const struct fsg_sg_apply_options *opts;
    struct fsg_sg_apply_result *res;
    struct s_list late_revoke; /* stale rules a failed rewrite left: revoked with the last step */
    bool stopped_in_step;      /* a stop request held back the rest of a step (s_stop_in_step) */
    char note[320];            /* the step's lost answers and what reading the group again found,
                                * in order: an error that follows says this first (s_note) */
};

static bool s_code_is(const struct fsg_error *err, const char *code)
{
    return err != NULL && strcmp(err->service_code, code) == 0;
}

static bool s_stopped(const struct s_ctx *c)
{
    return c->opts->stop != NULL && *c->opts->stop != 0;
}

static enum fsg_err s_list_push(struct s_list *l, struct s_pair p)
{
    struct s_pair *grown = fsg_array_grow(l->items, &l->cap, l->len + 1, sizeof *grown, 8);
    if (grown == NULL) {
        return FSG_E_NOMEM;
    }
    l->items = grown;
    l->items[l->len++] = p;
    return FSG_OK;
}

/* Room for extra more items, so that pushes after it cannot fail. */
static enum fsg_err s_list_reserve(struct s_list *l, size_t extra)
{
    struct s_pair *grown = fsg_array_grow(l->items, &l->cap, l->len + extra, sizeof *grown, 8);
    if (grown == NULL) {
        return FSG_E_NOMEM;
    }
    l->items = grown;
    return FSG_OK;
}

/* ---- audit ----------------------------------------------------------------------------------- */

static json_t *s_foreign_json(const struct fsg_sg_foreign_rule *f)
{
    char proto[8];
    const char *peer = f->peer != NULL ? f->peer : "";
    return json_pack("{s:s, s:i, s:i, s:s, s:s?}", "proto", fsg_sg_proto_name(f->proto, proto),
                     "from_port", f->from_port, "to_port", f->to_port,
                     strncmp(peer, "pl-", 3) == 0 ? "prefix_list" : "source_group", peer,
                     "description", f->description);
}

/* The result line of one rule. by is S_BY_US, S_BY_OTHER or S_BY_UNKNOWN. */
static void s_audit_result(const struct s_ctx *c, const char *event, const struct s_pair *p,
                           const char *result, const char *by)
{
    json_t *extra = json_object();
    if (extra == NULL) {
        return;
    }
    if (strcmp(event, "modify") == 0) {
        (void)json_object_set_new(extra, "rule", fsg_audit_rule_json(p->add));
        (void)json_object_set_new(extra, "was", fsg_audit_rule_json(p->rm));
    } else if (strcmp(event, "authorize") == 0) {
        (void)json_object_set_new(extra, "rule", fsg_audit_rule_json(p->add));
    } else {
        (void)json_object_set_new(extra, "rule", p->rm != NULL ? fsg_audit_rule_json(p->rm)
                                                                : s_foreign_json(p->foreign));
    }
    if (p->id != NULL) {
        (void)json_object_set_new(extra, "rule_id", json_string(p->id));
    }
    (void)json_object_set_new(extra, "result", json_string(result));
    (void)json_object_set_new(extra, "by", json_string(by));
    if (strcmp(by, S_BY_UNKNOWN) == 0) {
        /* result "unknown": the group could not be read again (s_note_read) */
        (void)json_object_set_new(extra, "outcome",
                                  json_string(strcmp(result, "unknown") == 0 ? S_OUTCOME_UNREAD
                                                                             : S_OUTCOME_UNKNOWN));
    }
    if (strcmp(event, "authorize") != 0) {
        (void)json_object_set_new(extra, "reason",
                                  json_string(p->rm != NULL
                                                  ? fsg_sg_removal_reason(p->rm->description)
                                                  : FSG_SG_REASON_FOREIGN));
    }
    fsg_audit(FSG_LOG_INFO, event, c->opts->target, c->plan->group_id, extra);
}

/* After a re-read, the rules of v[n] that are not in the group and will not be sent again
 * (a stop request): one line each, result "not_created" | "not_modified" | "not_revoked". */
static void s_audit_not_done(const struct s_ctx *c, const char *event, const struct s_pair *v,
                             size_t n)
{
    const char *result = strcmp(event, "authorize") == 0 ? "not_created"
                         : strcmp(event, "modify") == 0  ? "not_modified"
                                                         : "not_revoked";
    for (size_t i = 0; i < n; i++) {
        s_audit_result(c, event, &v[i], result, S_BY_NONE);
    }
}

/* A stop request seen inside a step, after the group was read again: what is not in place was
 * audited (s_audit_not_done) and is not sent; s_run reports the interruption. */
static enum fsg_err s_stop_in_step(struct s_ctx *c)
{
    c->stopped_in_step = true;
    return FSG_E_CANCELLED;
}

/* The intent line before a mutating call. */
static void s_audit_requested(const struct s_ctx *c, enum fsg_sg_call call, const struct s_pair *v,
                              size_t n, const char *attempt)
{
    json_t *ids = json_array();
    for (size_t i = 0; ids != NULL && i < n; i++) {
        json_t *one = NULL;
        if (call == FSG_SG_CALL_AUTHORIZE) {
            one = fsg_audit_rule_json(v[i].add);
        } else if (call == FSG_SG_CALL_MODIFY) {
            one = json_pack("{s:s?, s:o?}", "rule_id", v[i].id, "to", fsg_audit_rule_json(v[i].add));
        } else {
            one = json_string(v[i].id != NULL ? v[i].id : "?");
        }
        (void)json_array_append_new(ids, one);
    }
    fsg_audit(FSG_LOG_INFO, "requested", c->opts->target, c->plan->group_id,
              json_pack("{s:s, s:I, s:o?, s:s}", "action", fsg_sg_call_name(call), "count",
                        (json_int_t)n, call == FSG_SG_CALL_REVOKE ? "rule_ids" : "rules", ids,
                        "attempt", attempt));
}

/* ---- reading the group again ----------------------------------------------------------------- */

static enum fsg_err s_describe(struct s_ctx *c, struct fsg_sg_current *ret, struct fsg_error *err)
{
    const char *id = c->plan->group_id;
    c->res->calls++;
    enum fsg_err rc = fsg_sg_live_read(c->ec2, &id, 1, ret, NULL, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "reading %s again to learn the outcome of the last call: ", id);
    }
    return rc;
}

static int s_rule_cmp(const void *a, const void *b)
{
    return fsg_sg_rule_cmp(a, b);
}

/* cur's rules are sorted (fsg_sg_rules_sort). */
static const struct fsg_sg_rule *s_find(const struct fsg_sg_current *cur,
                                        const struct fsg_sg_rule *r)
{
    if (cur == NULL || cur->rules.len == 0) {
        return NULL;
    }
    return bsearch(r, cur->rules.items, cur->rules.len, sizeof *cur->rules.items, s_rule_cmp);
}

static bool s_has_id(const struct fsg_sg_current *cur, const char *id)
{
    for (size_t i = 0; id != NULL && i < cur->rules.len; i++) {
        if (cur->rules.items[i].rule_id != NULL && strcmp(cur->rules.items[i].rule_id, id) == 0) {
            return true;
        }
    }
    for (size_t i = 0; id != NULL && i < cur->n_foreign; i++) {
        if (cur->foreign[i].rule_id != NULL && strcmp(cur->foreign[i].rule_id, id) == 0) {
            return true;
        }
    }
    return false;
}

/* Whether the last call may have landed without this run learning it: it failed after
 * sending (network, timeout, HTTP 5xx), or an attempt of it did before the answer at hand. */
static bool s_lost(const struct s_ctx *c, enum fsg_err rc, const struct fsg_error *err)
{
    return rc == FSG_E_NETWORK || (rc == FSG_E_REMOTE && err->http_status >= 500) ||
           fsg_aws_client_last_call_uncertain(c->ec2);
}

/* Counts a rule found in the wanted state after a retry: by another actor, or unknown. */
static void s_count_found(struct s_ctx *c, bool lost, size_t *other)
{
    if (lost) {
        c->res->unknown++;
    } else {
        (*other)++;
    }
}

/* ---- what failed first ----------------------------------------------------------------------- */

/* Appends one clause to the step's note ("; " between clauses; cut to the buffer). */
static void s_note(struct s_ctx *c, const char *fmt, ...) FSG_PRINTF(2, 3);

static void s_note(struct s_ctx *c, const char *fmt, ...)
{
    size_t len = strlen(c->note);
    if (len > 0 && len + 2 < sizeof c->note) {
        memcpy(c->note + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(c->note + len, sizeof c->note - len, fmt, ap);
    va_end(ap);
}

/* Before the group is read again after call (rc, err) of n rules: a lost answer is noted. */
static void s_note_lost(struct s_ctx *c, bool lost, enum fsg_sg_call call, size_t n,
                        enum fsg_err rc, const struct fsg_error *err)
{
    if (!lost) {
        return;
    }
    if (rc == FSG_E_NETWORK || (rc == FSG_E_REMOTE && err->http_status >= 500)) {
        s_note(c, "the answer to %s (%zu rule(s)) was lost (%s%s%s)", fsg_sg_call_name(call), n,
               fsg_err_str(rc), err->service_code[0] != '\0' ? ": " : "", err->service_code);
    } else {
        s_note(c, "an attempt of %s (%zu rule(s)) got no answer (network error, timeout or "
                  "server error) and was sent again", fsg_sg_call_name(call), n);
    }
}

/* After reading the group again (rc) following a lost answer to the call of v[before]: notes
 * how many of them are done (found: "in place", "gone", "rewritten"), or, when the group could
 * not be read, audits each as "unknown" (never guessed; the read's error says why). Returns
 * rc. */
static enum fsg_err s_note_read(struct s_ctx *c, bool lost, const char *event, enum fsg_err rc,
                                const struct s_pair *v, size_t before, size_t done,
                                const char *found)
{
    if (!lost) {
        return rc;
    }
    if (rc != FSG_OK) {
        for (size_t i = 0; i < before; i++) {
            s_audit_result(c, event, &v[i], "unknown", S_BY_UNKNOWN);
        }
        return rc;
    }
    s_note(c, "the group was read again: %zu of %zu %s (by this run or another: unknown)", done,
           before, found);
    return FSG_OK;
}

/* Room kept in an error message for the step's own prefix ("rewriting 12 rule(s) in place in
 * sg-...: ", about 100 bytes) and for the start of the error that followed the note (its
 * action, HTTP status and code). */
#define S_MSG_PREFIX_ROOM 104
#define S_MSG_ERROR_ROOM 120
#define S_THEN "; then: "

/* The error of a failed step call, after what failed first (the note). The note is cut at a
 * clause boundary ("; ") when the whole would not fit, so "; then: " and the error that
 * followed always stay in the message. */
static void s_error_after_note(const struct s_ctx *c, struct fsg_error *err)
{
    if (c->note[0] == '\0') {
        return;
    }
    size_t error_len = strnlen(err->msg, sizeof err->msg);
    size_t keep = error_len < S_MSG_ERROR_ROOM ? error_len : S_MSG_ERROR_ROOM;
    size_t room = sizeof err->msg - 1 - S_MSG_PREFIX_ROOM - (sizeof S_THEN - 1) - keep;
    size_t len = strlen(c->note);
    const char *more = "";
    if (len > room) {
        static const char cut[] = "; ... (see the audit lines)";
        more = cut;
        len = room - (sizeof cut - 1);
        while (len > 0 && strncmp(c->note + len, "; ", 2) != 0) {
            len--; /* back to the end of the last whole clause */
        }
        if (len == 0) {
            len = room - (sizeof cut - 1); /* one long clause: cut inside it */
        }
    }
    fsg_error_prefix(err, "%.*s%s" S_THEN, (int)len, c->note, more);
}

/* Notes the settling read (rd) of a failed call of v[before] (see s_note_read): its answer was
 * lost, or (lost false) the call was sent again after a lost answer in this step and answered
 * `code` ("already so": Duplicate / NotFound / a conflict), which proves some of its rules are in
 * the wanted state, so "not done" cannot be said of all of them without reading. */
static enum fsg_err s_note_settle_read(struct s_ctx *c, bool lost, const char *event,
                                       const char *code, enum fsg_err rd, const struct s_pair *v,
                                       size_t before, size_t done, const char *found)
{
    if (lost || rd != FSG_OK) {
        return s_note_read(c, true, event, rd, v, before, done, found);
    }
    s_note(c, "sending the %zu left again got %s: the group was read again: %zu of %zu %s",
           before, code, done, before, found);
    return FSG_OK;
}

/* After the settling read (rd) of a failed call: the rules of v[n] not in the wanted state are
 * audited as not done ("by": "none"), or the read's failure is noted. Returns whether none is
 * missing: the read proved the call's work complete, so the step is done. */
static bool s_settled(struct s_ctx *c, const char *event, const struct s_pair *v, size_t n,
                      enum fsg_err rd, const struct fsg_error *err)
{
    if (rd != FSG_OK) {
        s_note(c, "the group could not be read again (%s): whether they landed is unknown",
               err->service_code[0] != '\0' ? err->service_code : fsg_err_str(rd));
        return false;
    }
    s_audit_not_done(c, event, v, n);
    if (n == 0) {
        fsg_log(FSG_LOG_INFO, "%s: the group read again holds every rule of the failed %s "
                              "call: that step is done", c->plan->group_id, event);
    }
    return n == 0;
}

/* ---- authorize ------------------------------------------------------------------------------- */

/* The IpPermissions of one call, and the storage their strings point into. */
struct s_perms {
    struct fsg_ec2_ip_permission *perms;
    struct fsg_ec2_ip_range *ranges;
    char (*cidrs)[FSG_CIDR_STR_MAX];
    char (*protos)[8];
    size_t n_perms;
};

static void s_perms_clean_up(struct s_perms *p)
{
    fsg_free(p->perms);
    fsg_free(p->ranges);
    fsg_free(p->cidrs);
    fsg_free(p->protos);
}

static bool s_same_permission(const struct fsg_sg_rule *a, const struct fsg_sg_rule *b)
{
    return a->proto == b->proto && a->from_port == b->from_port && a->to_port == b->to_port;
}

static int s_pair_cmp(const void *a, const void *b)
{
    return fsg_sg_rule_cmp(((const struct s_pair *)a)->add, ((const struct s_pair *)b)->add);
}

/* v[n] (sorted by add: within one protocol and port range IPv4 comes before IPv6) -> one
 * IpPermission per (protocol, ports) with its IPv4 then IPv6 ranges. */
static enum fsg_err s_perms_build(const struct s_pair *v, size_t n, struct s_perms *p)
{
    p->perms = fsg_calloc(n, sizeof *p->perms);
    p->ranges = fsg_calloc(n, sizeof *p->ranges);
    p->cidrs = fsg_calloc(n, sizeof *p->cidrs);
    p->protos = fsg_calloc(n, sizeof *p->protos);
    if (p->perms == NULL || p->ranges == NULL || p->cidrs == NULL || p->protos == NULL) {
        return FSG_E_NOMEM;
    }
    struct fsg_ec2_ip_permission *cur = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct fsg_sg_rule *r = v[i].add;
        if (cur == NULL || !s_same_permission(v[i - 1].add, r)) {
            cur = &p->perms[p->n_perms];
            const char *name = fsg_sg_proto_name(r->proto, p->protos[p->n_perms]);
            if (name != p->protos[p->n_perms]) {
                strcpy(p->protos[p->n_perms], name);
            }
            p->n_perms++;
            *cur = (struct fsg_ec2_ip_permission){ .ip_protocol = p->protos[p->n_perms - 1],
                                                   .from_port = r->from_port,
                                                   .to_port = r->to_port };
        }
        p->ranges[i] = (struct fsg_ec2_ip_range){ .cidr = fsg_cidr_format(&r->cidr, p->cidrs[i]),
                                                  .description = r->description };
        if (r->cidr.addr.is_v6) {
            cur->ipv6 = cur->n_ipv6 == 0 ? &p->ranges[i] : cur->ipv6;
            cur->n_ipv6++;
        } else {
            cur->ipv4 = cur->n_ipv4 == 0 ? &p->ranges[i] : cur->ipv4;
            cur->n_ipv4++;
        }
    }
    return FSG_OK;
}

/* Sleeps ms, in slices of at most 50 ms so that a stop request ends it early. */
static void s_sleep_ms(const struct s_ctx *c, long ms)
{
    while (ms > 0 && !s_stopped(c)) {
        long slice = ms < 50 ? ms : 50;
        struct timespec ts = { .tv_sec = 0, .tv_nsec = slice * 1000000L };
        while (nanosleep(&ts, &ts) != 0 && !s_stopped(c)) {
            /* a signal other than a stop: sleep the rest of the slice */
        }
        ms -= slice;
    }
}

static enum fsg_err s_authorize_call(struct s_ctx *c, const struct s_pair *v, size_t n,
                                     const char *attempt, struct fsg_error *err);

/* A group created a moment ago may not be known to every EC2 endpoint yet: its
 * InvalidGroup.NotFound is tried again with backoff (bounded), never taken as final at once. */
static enum fsg_err s_authorize_once(struct s_ctx *c, const struct s_pair *v, size_t n,
                                     const char *attempt, struct fsg_error *err)
{
    enum fsg_err rc = s_authorize_call(c, v, n, attempt, err);
    long waited = 0;
    for (long wait = 250; rc == FSG_E_NOT_FOUND && c->opts->group_new &&
                          s_code_is(err, "InvalidGroup.NotFound") && !s_stopped(c) &&
                          waited + wait <= FSG_SG_APPLY_NEW_GROUP_WAIT_MS;
         wait *= 2) {
        fsg_log(FSG_LOG_INFO, "%s: not known yet to EC2 right after its creation "
                              "(InvalidGroup.NotFound): trying again in %ld ms",
                c->plan->group_id, wait);
        s_sleep_ms(c, wait);
        waited += wait;
        if (s_stopped(c)) { /* InvalidGroup.NotFound: nothing of it landed, nothing more sent */
            s_audit_not_done(c, "authorize", v, n);
            return s_stop_in_step(c);
        }
        rc = s_authorize_call(c, v, n, "again (new group not visible yet)", err);
    }
    return rc;
}

static enum fsg_err s_authorize_call(struct s_ctx *c, const struct s_pair *v, size_t n,
                                     const char *attempt, struct fsg_error *err)
{
    struct s_perms p = { 0 };
    enum fsg_err rc = s_perms_build(v, n, &p);
    if (rc == FSG_OK) {
        struct fsg_ec2_authorize_request req = { .group_id = c->plan->group_id,
                                                 .perms = p.perms, .n_perms = p.n_perms };
        c->res->calls++;
        s_audit_requested(c, FSG_SG_CALL_AUTHORIZE, v, n, attempt);
        rc = fsg_ec2_authorize_ingress(c->ec2, &req, NULL, err);
    } else {
        rc = fsg_error_set(err, rc, "out of memory building the authorize for %s (not sent)",
                           c->plan->group_id);
    }
    s_perms_clean_up(&p);
    return rc;
}

/* After a Duplicate or a lost answer: drops from v[*n] what the group already has. */
static enum fsg_err s_drop_present(struct s_ctx *c, struct s_pair *v, size_t *n, bool lost,
                                   struct fsg_error *err)
{
    struct fsg_sg_current cur = { 0 };
    enum fsg_err rc = s_describe(c, &cur, err);
    if (rc != FSG_OK) {
        return rc;
    }
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        const struct fsg_sg_rule *have = s_find(&cur, v[i].add);
        if (have != NULL) {
            struct s_pair p = v[i];
            p.id = have->rule_id;
            s_audit_result(c, "authorize", &p, "already_present", lost ? S_BY_UNKNOWN : S_BY_OTHER);
            s_count_found(c, lost, &c->res->already_present);
        } else {
            v[kept++] = v[i];
        }
    }
    *n = kept;
    fsg_sg_current_clean_up(&cur);
    return FSG_OK;
}

static enum fsg_err s_quota(struct s_ctx *c, size_t n, struct fsg_error *err)
{
    c->res->quota_exceeded = true;
    char reason[300];
    snprintf(reason, sizeof reason, "the rules-per-security-group quota of %s was reached while "
                                    "adding %zu rule(s); nothing was removed", c->plan->group_id, n);
    fsg_audit(FSG_LOG_WARN, "refused", c->opts->target, c->plan->group_id,
              json_pack("{s:s, s:s}", "reason", reason, "guard", "quota"));
    return fsg_error_set(err, FSG_E_REFUSED, "%s: raise the quota (Service Quotas L-0EA8095F) or "
                                             "set guards.max_rules to it", reason);
}

/* Retries once after "already there" or a lost answer. */
static bool s_authorize_again(const struct s_ctx *c, enum fsg_err rc, const struct fsg_error *err)
{
    return (rc == FSG_E_CONFLICT && s_code_is(err, S_DUPLICATE)) ||
           rc == FSG_E_NETWORK || (rc == FSG_E_REMOTE && err->http_status >= 500);
}

/* Reads the group again after the authorize (rc, err) of v[*n]: what is there is audited and
 * dropped from v (a lost answer: "by": "unknown", noted for a later error). */
static enum fsg_err s_authorize_reread(struct s_ctx *c, struct s_pair *v, size_t *n, bool lost,
                                       enum fsg_err rc, struct fsg_error *err)
{
    size_t before = *n;
    s_note_lost(c, lost, FSG_SG_CALL_AUTHORIZE, before, rc, err);
    rc = s_drop_present(c, v, n, lost, err);
    return s_note_read(c, lost, "authorize", rc, v, before, before - *n, "in place");
}

/* The authorize of v[*n] failed (rc, err) after its answer was lost on the way (a retry got
 * another error, or was lost too), or, sent again after a lost answer, it was answered
 * Duplicate (lost false): the group is read again so the audit says what landed; err keeps the
 * call's own error. Returns whether every rule is in place (the step is done). */
static bool s_authorize_settle(struct s_ctx *c, struct s_pair *v, size_t *n, enum fsg_err rc,
                               bool lost, struct fsg_error *err)
{
    struct fsg_error later = *err;
    size_t before = *n;
    s_note_lost(c, lost, FSG_SG_CALL_AUTHORIZE, before, rc, err);
    enum fsg_err rd = s_drop_present(c, v, n, true, err);
    rd = s_note_settle_read(c, lost, "authorize", later.service_code, rd, v, before, before - *n,
                            "in place");
    bool done = s_settled(c, "authorize", v, *n, rd, err);
    *err = later;
    return done;
}

static enum fsg_err s_authorize(struct s_ctx *c, struct s_pair *v, size_t n,
                                struct fsg_error *err)
{
    if (n == 0) {
        return FSG_OK;
    }
    qsort(v, n, sizeof *v, s_pair_cmp);
    enum fsg_err rc = s_authorize_once(c, v, n, "first", err);
    if (rc == FSG_E_CANCELLED && c->stopped_in_step) {
        return rc; /* stopped while a new group was not visible yet: audited there */
    }
    bool lost = s_lost(c, rc, err), read = false; /* read: since the last call */
    for (int attempt = 0; s_authorize_again(c, rc, err) && attempt < 1; attempt++) {
        /* Even when asked to stop: the group is read (a read changes nothing) so the audit says
         * what landed; only the rest is not sent. */
        fsg_log(FSG_LOG_INFO, "%s: %s: describing the group again and %s", c->plan->group_id,
                lost ? "the answer to the authorize call was lost"
                     : "some rules exist already (another run?)",
                s_stopped(c) ? "stopping (a signal)" : "sending the rest");
        rc = s_authorize_reread(c, v, &n, lost, rc, err);
        read = true;
        if (rc == FSG_OK && n > 0 && s_stopped(c)) {
            s_audit_not_done(c, "authorize", v, n);
            return s_stop_in_step(c);
        }
        if (rc == FSG_OK && n > 0) {
            rc = s_authorize_once(c, v, n, "again", err);
            if (rc == FSG_E_CANCELLED && c->stopped_in_step) {
                return rc;
            }
            lost = s_lost(c, rc, err);
            read = false;
        }
    }
    if (rc == FSG_OK) {
        for (size_t i = 0; i < n; i++) {
            s_audit_result(c, "authorize", &v[i], "created", S_BY_US);
        }
        c->res->authorized += n;
        return FSG_OK;
    }
    size_t failed = n; /* the rules of the call that failed */
    if (!read && (lost || (c->note[0] != '\0' && s_code_is(err, S_DUPLICATE)))) {
        if (s_authorize_settle(c, v, &n, rc, lost, err)) {
            return FSG_OK; /* e.g. the quota answer to a retry of a call that had landed */
        }
    } else if (!read && c->note[0] != '\0') {
        s_audit_not_done(c, "authorize", v, n); /* refused outright, after a lost answer */
    }
    if (s_code_is(err, FSG_SG_APPLY_QUOTA_CODE)) {
        rc = s_quota(c, failed, err);
        s_error_after_note(c, err);
    } else {
        s_error_after_note(c, err);
        fsg_error_prefix(err, "authorizing %zu rule(s) in %s (nothing was removed): ", failed,
                         c->plan->group_id);
    }
    return rc;
}

/* ---- modify ---------------------------------------------------------------------------------- */

static enum fsg_err s_modify_once(struct s_ctx *c, const struct s_pair *v, size_t n,
                                  const char *attempt, struct fsg_error *err)
{
    struct fsg_ec2_rule_update *u = fsg_calloc(n, sizeof *u);
    char (*cidrs)[FSG_CIDR_STR_MAX] = fsg_calloc(n, sizeof *cidrs);
    char (*protos)[8] = fsg_calloc(n, sizeof *protos);
    enum fsg_err rc = u == NULL || cidrs == NULL || protos == NULL ? FSG_E_NOMEM : FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < n; i++) {
        const struct fsg_sg_rule *r = v[i].add;
        const char *cidr = fsg_cidr_format(&r->cidr, cidrs[i]);
        u[i] = (struct fsg_ec2_rule_update){ .rule_id = v[i].id,
                                             .ip_protocol = fsg_sg_proto_name(r->proto, protos[i]),
                                             .from_port = r->from_port, .to_port = r->to_port,
                                             .cidr_ipv4 = r->cidr.addr.is_v6 ? NULL : cidr,
                                             .cidr_ipv6 = r->cidr.addr.is_v6 ? cidr : NULL,
                                             .description = r->description };
    }
    if (rc == FSG_OK) {
        c->res->calls++;
        s_audit_requested(c, FSG_SG_CALL_MODIFY, v, n, attempt);
        rc = fsg_ec2_modify_sg_rules(c->ec2, c->plan->group_id, u, n, err);
    } else {
        rc = fsg_error_set(err, rc, "out of memory building the rewrite for %s (not sent)",
                           c->plan->group_id);
    }
    fsg_free(u);
    fsg_free(cidrs);
    fsg_free(protos);
    return rc;
}

/* After a failed rewrite: what is done is done; an old rule still there next to its new one
 * is revoked with the last step; a new rule whose old one is gone is authorized now (its old
 * slot is free); the rest is tried once more. */
static enum fsg_err s_modify_sort_out(struct s_ctx *c, struct s_pair *v, size_t *n, bool lost,
                                      struct s_list *add_now, struct fsg_error *err)
{
    struct fsg_sg_current cur = { 0 };
    enum fsg_err rc = s_describe(c, &cur, err);
    if (rc == FSG_OK && (s_list_reserve(&c->late_revoke, *n) != FSG_OK ||
                         s_list_reserve(add_now, *n) != FSG_OK)) {
        /* room first: a push that failed half-way would leave some rules audited and moved,
         * the rest neither (and audited again by the caller) */
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory sorting out %s read again",
                           c->plan->group_id);
    }
    if (rc != FSG_OK) {
        fsg_sg_current_clean_up(&cur);
        return rc; /* v[*n] as they were, nothing audited */
    }
    size_t kept = 0;
    for (size_t i = 0; rc == FSG_OK && i < *n; i++) {
        /* ModifySecurityGroupRules keeps the rule id: a rewrite that landed (its answer lost)
         * shows as the new permission under the old id, and that rule must stay. The old rule
         * is still there only while its id holds something else. */
        const struct fsg_sg_rule *now = s_find(&cur, v[i].add);
        bool new_there = now != NULL;
        bool in_place = now != NULL && now->rule_id != NULL && v[i].id != NULL &&
                        strcmp(now->rule_id, v[i].id) == 0;
        bool old_there = !in_place && s_has_id(&cur, v[i].id);
        if (new_there && !old_there) {
            s_audit_result(c, "modify", &v[i], "already_modified", lost ? S_BY_UNKNOWN
                                                                       : S_BY_OTHER);
            s_count_found(c, lost, &c->res->already_present);
        } else if (new_there) {
            /* the new rule, found under its own id (not the old rule's, which stays for later) */
            struct s_pair found = { .add = v[i].add, .id = now->rule_id };
            s_audit_result(c, "authorize", &found, "already_present",
                           lost ? S_BY_UNKNOWN : S_BY_OTHER);
            s_count_found(c, lost, &c->res->already_present);
            rc = s_list_push(&c->late_revoke, (struct s_pair){ .rm = v[i].rm, .id = v[i].id });
        } else if (!old_there) {
            rc = s_list_push(add_now, (struct s_pair){ .add = v[i].add });
        } else {
            v[kept++] = v[i];
        }
    }
    *n = kept;
    fsg_sg_current_clean_up(&cur);
    return rc;
}

/* Reads the group again after the rewrite (rc, err) of v[*n] (see s_modify_sort_out); a lost
 * answer is noted for a later error. */
static enum fsg_err s_modify_reread(struct s_ctx *c, struct s_pair *v, size_t *n, bool lost,
                                    enum fsg_err rc, struct s_list *add_now,
                                    struct fsg_error *err)
{
    size_t before = *n, moved = add_now->len;
    s_note_lost(c, lost, FSG_SG_CALL_MODIFY, before, rc, err);
    rc = s_modify_sort_out(c, v, n, lost, add_now, err);
    moved = add_now->len - moved;
    return s_note_read(c, lost, "modify", rc, v, before, before - *n - moved, "in place");
}

/* The rewrite of v[*n] failed (rc, err) after its answer was lost on the way, or, sent again
 * after a lost answer, it was answered with a conflict or NotFound (lost false): the group is
 * read again so the audit says what landed (see s_modify_sort_out); err keeps the call's own
 * error. Returns whether no rule is left to rewrite (the rest of the step goes on). */
static bool s_modify_settle(struct s_ctx *c, struct s_pair *v, size_t *n, enum fsg_err rc,
                            bool lost, struct s_list *add_now, struct fsg_error *err)
{
    struct fsg_error later = *err;
    size_t before = *n, moved = add_now->len;
    s_note_lost(c, lost, FSG_SG_CALL_MODIFY, before, rc, err);
    enum fsg_err rd = s_modify_sort_out(c, v, n, true, add_now, err);
    moved = add_now->len - moved;
    rd = s_note_settle_read(c, lost, "modify", later.service_code[0] != '\0'
                                                   ? later.service_code : fsg_err_str(rc),
                            rd, v, before, before - *n - moved, "in place");
    bool done = s_settled(c, "modify", v, *n, rd, err);
    *err = later;
    return done;
}

static enum fsg_err s_modify(struct s_ctx *c, struct s_pair *v, size_t n, struct fsg_error *err)
{
    struct s_list add_now = { 0 };
    enum fsg_err rc = s_modify_once(c, v, n, "first", err);
    bool lost = s_lost(c, rc, err), read = false; /* read: since the last call */
    bool sent = true; /* v[n] went out in the last call (not held back by a stop) */
    for (int attempt = 0; rc != FSG_OK && attempt < 1 &&
                          (rc == FSG_E_CONFLICT || rc == FSG_E_NOT_FOUND || lost);
         attempt++) {
        /* read even when asked to stop, so the audit says what landed (see s_authorize) */
        fsg_log(FSG_LOG_INFO, "%s: rewriting rules in place failed (%s): describing the group "
                              "again", c->plan->group_id, err->service_code[0] != '\0'
                                                              ? err->service_code
                                                              : fsg_err_name(rc));
        rc = s_modify_reread(c, v, &n, lost, rc, &add_now, err);
        read = true;
        if (rc == FSG_OK && n > 0 && s_stopped(c)) {
            s_audit_not_done(c, "modify", v, n);
            sent = false;
        } else if (rc == FSG_OK && n > 0) {
            rc = s_modify_once(c, v, n, "again", err);
            lost = s_lost(c, rc, err);
            read = false;
        }
    }
    if (rc != FSG_OK) {
        size_t failed = n; /* the rules of the call that failed */
        bool settled = false;
        if (!read && (lost || (c->note[0] != '\0' &&
                               (rc == FSG_E_CONFLICT || rc == FSG_E_NOT_FOUND)))) {
            settled = s_modify_settle(c, v, &n, rc, lost, &add_now, err);
        } else if (!read && c->note[0] != '\0') {
            s_audit_not_done(c, "modify", v, n); /* refused outright, after a lost answer */
        }
        if (settled) {
            rc = FSG_OK; /* nothing left to rewrite: the rest of the step goes on */
        } else {
            /* new rules whose old rule is gone: they were to be authorized after this call */
            s_audit_not_done(c, "authorize", add_now.items, add_now.len);
            s_error_after_note(c, err);
            fsg_error_prefix(err, "rewriting %zu rule(s) in place in %s "
                                  "(ModifySecurityGroupRules; nothing was removed): ",
                             failed, c->plan->group_id);
        }
    } else if (sent) {
        for (size_t i = 0; i < n; i++) {
            s_audit_result(c, "modify", &v[i], "modified", S_BY_US);
        }
        c->res->modified += n;
    }
    if (rc == FSG_OK && (!sent || s_stopped(c)) && add_now.len > 0) {
        s_audit_not_done(c, "authorize", add_now.items, add_now.len);
    }
    if (rc == FSG_OK) {
        rc = !sent || (s_stopped(c) && add_now.len > 0)
                 ? s_stop_in_step(c)
                 : s_authorize(c, add_now.items, add_now.len, err);
    }
    fsg_free(add_now.items);
    return rc;
}

/* ---- revoke ---------------------------------------------------------------------------------- */

/* The rule id of a CIDR removal: its own, or the current group's. */
static enum fsg_err s_rule_id(const struct s_ctx *c, const struct fsg_sg_rule *r, const char **ret,
                              struct fsg_error *err)
{
    const char *id = r->rule_id;
    if (id == NULL) {
        const struct fsg_sg_rule *have = s_find(c->opts->current, r);
        id = have != NULL ? have->rule_id : NULL;
    }
    if (id == NULL) {
        char cidr[FSG_CIDR_STR_MAX];
        return fsg_error_set(err, FSG_E_INVALID_ARG, "%s: the rule to remove for %s has no "
                             "security-group rule id, and the group does not hold it",
                             c->plan->group_id, fsg_cidr_format(&r->cidr, cidr));
    }
    *ret = id;
    return FSG_OK;
}

/* After a NotFound or a lost answer: drops the ids the group no longer has. */
static enum fsg_err s_drop_gone(struct s_ctx *c, struct s_pair *v, size_t *n, bool lost,
                                struct fsg_error *err)
{
    struct fsg_sg_current cur = { 0 };
    enum fsg_err rc = s_describe(c, &cur, err);
    if (rc != FSG_OK) {
        return rc;
    }
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        if (s_has_id(&cur, v[i].id)) {
            v[kept++] = v[i];
        } else {
            s_audit_result(c, "revoke", &v[i], "already_gone", lost ? S_BY_UNKNOWN : S_BY_OTHER);
            s_count_found(c, lost, &c->res->already_gone);
        }
    }
    *n = kept;
    fsg_sg_current_clean_up(&cur);
    return FSG_OK;
}

static enum fsg_err s_revoke_once(struct s_ctx *c, const struct s_pair *v, size_t n,
                                  const char *attempt, struct fsg_error *err)
{
    const char **ids = fsg_calloc(n + 1, sizeof *ids);
    if (ids == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory building the revoke for %s (not "
                             "sent)", c->plan->group_id);
    }
    for (size_t i = 0; i < n; i++) {
        ids[i] = v[i].id;
    }
    c->res->calls++;
    s_audit_requested(c, FSG_SG_CALL_REVOKE, v, n, attempt);
    enum fsg_err rc = fsg_ec2_revoke_ingress(c->ec2, c->plan->group_id, ids, n, err);
    fsg_free((void *)ids);
    return rc;
}

static bool s_revoke_again(const struct s_ctx *c, enum fsg_err rc, const struct fsg_error *err)
{
    (void)c;
    return (rc == FSG_E_NOT_FOUND &&
            (s_code_is(err, S_RULE_ID_GONE) || s_code_is(err, S_PERMISSION_GONE))) ||
           rc == FSG_E_NETWORK || (rc == FSG_E_REMOTE && err->http_status >= 500);
}

/* Reads the group again after the revoke (rc, err) of v[*n]: the ids gone are audited and
 * dropped from v (a lost answer: "by": "unknown", noted for a later error). */
static enum fsg_err s_revoke_reread(struct s_ctx *c, struct s_pair *v, size_t *n, bool lost,
                                    enum fsg_err rc, struct fsg_error *err)
{
    size_t before = *n;
    s_note_lost(c, lost, FSG_SG_CALL_REVOKE, before, rc, err);
    rc = s_drop_gone(c, v, n, lost, err);
    return s_note_read(c, lost, "revoke", rc, v, before, before - *n, "gone");
}

/* The revoke of v[*n] failed (rc, err) after its answer was lost on the way, or, sent again
 * after a lost answer, it was answered NotFound (lost false): the group is read again so the
 * audit says what landed; err keeps the call's own error. Returns whether every rule is gone
 * (the step is done). */
static bool s_revoke_settle(struct s_ctx *c, struct s_pair *v, size_t *n, enum fsg_err rc,
                            bool lost, struct fsg_error *err)
{
    struct fsg_error later = *err;
    size_t before = *n;
    s_note_lost(c, lost, FSG_SG_CALL_REVOKE, before, rc, err);
    enum fsg_err rd = s_drop_gone(c, v, n, true, err);
    rd = s_note_settle_read(c, lost, "revoke", later.service_code, rd, v, before, before - *n,
                            "gone");
    bool done = s_settled(c, "revoke", v, *n, rd, err);
    *err = later;
    return done;
}

static enum fsg_err s_revoke(struct s_ctx *c, struct s_pair *v, size_t n, struct fsg_error *err)
{
    if (n == 0) {
        return FSG_OK;
    }
    enum fsg_err rc = s_revoke_once(c, v, n, "first", err);
    bool lost = s_lost(c, rc, err), read = false; /* read: since the last call */
    for (int attempt = 0; s_revoke_again(c, rc, err) && attempt < 1; attempt++) {
        /* read even when asked to stop, so the audit says what landed (see s_authorize) */
        fsg_log(FSG_LOG_INFO, "%s: %s: describing the group again and %s", c->plan->group_id,
                lost ? "the answer to the revoke call was lost"
                     : "some rules are gone already (another run?)",
                s_stopped(c) ? "stopping (a signal)" : "revoking the rest");
        rc = s_revoke_reread(c, v, &n, lost, rc, err);
        read = true;
        if (rc == FSG_OK && n > 0 && s_stopped(c)) {
            s_audit_not_done(c, "revoke", v, n);
            return s_stop_in_step(c);
        }
        if (rc == FSG_OK && n > 0) {
            rc = s_revoke_once(c, v, n, "again", err);
            lost = s_lost(c, rc, err);
            read = false;
        }
    }
    if (rc == FSG_OK) {
        for (size_t i = 0; i < n; i++) {
            s_audit_result(c, "revoke", &v[i], "revoked", S_BY_US);
        }
        c->res->revoked += n;
        return FSG_OK;
    }
    size_t failed = n; /* the rules of the call that failed */
    if (!read && (lost || (c->note[0] != '\0' && rc == FSG_E_NOT_FOUND && s_revoke_again(c, rc,
                                                                                          err)))) {
        if (s_revoke_settle(c, v, &n, rc, lost, err)) {
            return FSG_OK;
        }
    } else if (!read && c->note[0] != '\0') {
        s_audit_not_done(c, "revoke", v, n); /* refused outright, after a lost answer */
    }
    s_error_after_note(c, err);
    fsg_error_prefix(err, "revoking %zu rule(s) in %s (the new rules are in place): ", failed,
                     c->plan->group_id);
    return rc;
}

/* ---- steps ----------------------------------------------------------------------------------- */

static enum fsg_err s_step_pairs(struct s_ctx *c, const struct fsg_sg_step *st,
                                 struct s_list *out, struct fsg_error *err)
{
    const struct fsg_sg_plan *p = c->plan;
    enum fsg_err rc = FSG_OK;
    if (st->call == FSG_SG_CALL_AUTHORIZE) {
        for (size_t i = 0; rc == FSG_OK && i < st->n_add; i++) {
            rc = s_list_push(out, (struct s_pair){ .add = &p->add.items[st->add[i]] });
        }
        return rc;
    }
    for (size_t i = 0; rc == FSG_OK && i < st->n_remove; i++) {
        struct s_pair pair = { .rm = &p->remove.items[st->remove[i]] };
        pair.add = st->call == FSG_SG_CALL_MODIFY ? &p->add.items[st->add[i]] : NULL;
        rc = s_rule_id(c, pair.rm, &pair.id, err);
        rc = rc == FSG_OK ? s_list_push(out, pair) : rc;
    }
    for (size_t i = 0; rc == FSG_OK && i < st->n_foreign; i++) {
        const struct fsg_sg_foreign_rule *f = &p->remove_foreign[st->foreign[i]];
        if (f->rule_id == NULL) {
            return fsg_error_set(err, FSG_E_INVALID_ARG, "%s: the rule to remove that "
                                 "references %s has no security-group rule id", p->group_id,
                                 f->peer != NULL ? f->peer : "?");
        }
        rc = s_list_push(out, (struct s_pair){ .foreign = f, .id = f->rule_id });
    }
    return rc;
}

static enum fsg_err s_step(struct s_ctx *c, const struct fsg_sg_step *st, struct fsg_error *err)
{
    c->note[0] = '\0';
    struct s_list v = { 0 };
    enum fsg_err rc = s_step_pairs(c, st, &v, err);
    if (rc == FSG_E_NOMEM) {
        (void)fsg_error_set(err, rc, "out of memory applying %s", c->plan->group_id);
    }
    if (rc == FSG_OK) {
        switch (st->call) {
        case FSG_SG_CALL_MODIFY:
            rc = s_modify(c, v.items, v.len, err);
            break;
        case FSG_SG_CALL_AUTHORIZE:
            rc = s_authorize(c, v.items, v.len, err);
            break;
        case FSG_SG_CALL_REVOKE:
            rc = s_revoke(c, v.items, v.len, err);
            break;
        }
    }
    fsg_free(v.items);
    return rc;
}

/* A stop request, seen between two steps or inside step `done` (partly: the rest of its
 * rules were not sent after the group was read again). */
static enum fsg_err s_interrupted(struct s_ctx *c, size_t done, bool partly, size_t total,
                                  struct fsg_error *err)
{
    c->res->interrupted = true;
    fsg_audit(FSG_LOG_WARN, "interrupted", c->opts->target, c->plan->group_id,
              json_pack("{s:s, s:I, s:b, s:I}", "reason", "a signal asked to stop: the call in "
                        "flight was finished and audited (its group read again when its answer "
                        "was lost or it did not go through), no further change was made",
                        "steps_done", (json_int_t)done, "step_partly_done", partly,
                        "steps_planned", (json_int_t)total));
    return fsg_error_set(err, FSG_E_CANCELLED, "interrupted: %s: %zu of %zu step(s) done%s, no "
                         "further change made (the next run completes it)", c->plan->group_id,
                         done, total, partly ? " and the next one partly (the group was read "
                                               "again: see the audit lines)" : "");
}

/* The calls must be this plan's (fsg_sg_schedule_is_for): checked before any call, so a
 * schedule made for another plan (or another version of this one) changes nothing. */
static enum fsg_err s_check_calls(const struct s_ctx *c, const struct fsg_sg_schedule *s,
                                  struct fsg_error *err)
{
    const struct fsg_sg_plan *p = c->plan;
    if (s == NULL) {
        return fsg_sg_plan_has_changes(p)
                   ? fsg_error_set(err, FSG_E_INVALID_ARG, "%s: no calls given for a plan with "
                                   "changes (nothing changed)", p->group_id)
                   : FSG_OK;
    }
    if (!s->fits) {
        return FSG_OK; /* refused by s_run */
    }
    bool ok = false;
    if (fsg_sg_schedule_is_for(s, p, &ok) != FSG_OK) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory checking the calls for %s",
                             p->group_id);
    }
    return ok ? FSG_OK
              : fsg_error_set(err, FSG_E_INVALID_ARG, "%s: the calls to make are not those of "
                              "the plan (a rule missing, repeated or unknown): nothing changed",
                              p->group_id);
}

static enum fsg_err s_run(struct s_ctx *c, struct fsg_error *err)
{
    const struct fsg_sg_schedule *s = c->opts->calls;
    enum fsg_err rc = s_check_calls(c, s, err);
    if (rc != FSG_OK || s == NULL) {
        return rc;
    }
    if (!s->fits) {
        c->res->quota_exceeded = true;
        fsg_audit(FSG_LOG_WARN, "refused", c->opts->target, c->plan->group_id,
                  json_pack("{s:s, s:s}", "reason", s->reason, "guard", "quota"));
        rc = fsg_error_set(err, FSG_E_REFUSED, "%s (nothing changed)", s->reason);
    }
    for (size_t i = 0; rc == FSG_OK && i < s->n_steps; i++) {
        if (s_stopped(c)) {
            rc = s_interrupted(c, i, false, s->n_steps, err);
            break;
        }
        rc = s_step(c, &s->steps[i], err);
        if (rc == FSG_E_CANCELLED && c->stopped_in_step) {
            rc = s_interrupted(c, i, true, s->n_steps, err);
        }
    }
    bool stopped = s_stopped(c); /* read once: the audit and the choice below agree */
    if (rc != FSG_OK || (c->late_revoke.len > 0 && stopped)) {
        /* old rules a retried rewrite found next to their new ones, not revoked now: said so */
        s_audit_not_done(c, "revoke", c->late_revoke.items, c->late_revoke.len);
    }
    if (rc == FSG_OK && c->late_revoke.len > 0) {
        c->note[0] = '\0';
        rc = stopped ? s_interrupted(c, s->n_steps, false, s->n_steps + 1, err)
                     : s_revoke(c, c->late_revoke.items, c->late_revoke.len, err);
        if (rc == FSG_E_CANCELLED && c->stopped_in_step) {
            rc = s_interrupted(c, s->n_steps, true, s->n_steps + 1, err);
        }
    }
    return rc;
}

enum fsg_err fsg_sg_apply(struct fsg_aws_client *ec2, const struct fsg_sg_plan *plan,
                          const struct fsg_sg_apply_options *opts,
                          struct fsg_sg_apply_result *ret, struct fsg_error *err)
{
    static const struct fsg_sg_apply_options none = { 0 };
    struct fsg_error local = { 0 };
    err = err != NULL ? err : &local; /* the service code decides what converges */
    *ret = (struct fsg_sg_apply_result){ 0 };
    if (ec2 == NULL || plan == NULL || plan->group_id == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "sg apply: no EC2 client, plan or group");
    }
    struct s_ctx c = { .ec2 = ec2, .plan = plan, .opts = opts != NULL ? opts : &none,
                       .res = ret };
    /* after a stop, the retry layer sends no mutating call again (its answer lost, the first
     * attempt may have landed: the group is read again instead) */
    const volatile sig_atomic_t *was = NULL;
    if (c.opts->stop != NULL) { /* never clears a flag the caller set on the client */
        was = fsg_aws_client_set_stop(ec2, c.opts->stop);
    }
    enum fsg_err rc = s_run(&c, err);
    if (c.opts->stop != NULL) {
        (void)fsg_aws_client_set_stop(ec2, was);
    }
    fsg_free(c.late_revoke.items);
    return rc;
}
