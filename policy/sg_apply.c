#include "policy/sg_apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/aws/ec2.h"
#include "lib/core/mem.h"
#include "policy/audit.h"
#include "policy/sg_live.h"

/* EC2 error codes that mean "another run got there first" (ref/aws-wire.md §5.1). Revoking an
 * unknown id answers InvalidSecurityGroupRuleId.NotFound on AWS; moto answers
 * InvalidPermission.NotFound, which AWS uses for the by-properties form. */
#define S_DUPLICATE "InvalidPermission.Duplicate"
#define S_RULE_ID_GONE "InvalidSecurityGroupRuleId.NotFound"
#define S_PERMISSION_GONE "InvalidPermission.NotFound"

struct s_ctx {
    struct fsg_aws_client *ec2;
    const struct fsg_sg_plan *plan;
    const struct fsg_sg_apply_options *opts;
    struct fsg_sg_apply_result *res;
};

static bool s_code_is(const struct fsg_error *err, const char *code)
{
    return err != NULL && strcmp(err->service_code, code) == 0;
}

static void s_audit_rule(const struct s_ctx *c, const char *event, const struct fsg_sg_rule *r,
                         const char *rule_id, const char *result)
{
    json_t *extra = json_pack("{s:o?, s:s*, s:s}", "rule", fsg_audit_rule_json(r), "rule_id",
                              rule_id, "result", result);
    fsg_audit(FSG_LOG_INFO, event, c->opts->target, c->plan->group_id, extra);
}

/* The group as it is now (after a Duplicate/NotFound answer). */
static enum fsg_err s_describe(struct s_ctx *c, struct fsg_sg_current *ret, struct fsg_error *err)
{
    const char *id = c->plan->group_id;
    c->res->calls++;
    return fsg_sg_live_read(c->ec2, &id, 1, ret, NULL, err);
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

/* rules[n] (sorted: within one protocol and port range IPv4 comes before IPv6) -> one
 * IpPermission per (protocol, ports) with its IPv4 then IPv6 ranges. */
static enum fsg_err s_perms_build(const struct fsg_sg_rule *const *rules, size_t n,
                                  struct s_perms *p)
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
        const struct fsg_sg_rule *r = rules[i];
        if (cur == NULL || !s_same_permission(rules[i - 1], r)) {
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

static enum fsg_err s_authorize_once(struct s_ctx *c, const struct fsg_sg_rule *const *rules,
                                     size_t n, struct fsg_error *err)
{
    struct s_perms p = { 0 };
    enum fsg_err rc = s_perms_build(rules, n, &p);
    if (rc == FSG_OK) {
        struct fsg_ec2_authorize_request req = { .group_id = c->plan->group_id,
                                                 .perms = p.perms, .n_perms = p.n_perms };
        c->res->calls++;
        fsg_log(FSG_LOG_DEBUG, "aws ec2 AuthorizeSecurityGroupIngress %s: %zu rule(s)",
                c->plan->group_id, n);
        rc = fsg_ec2_authorize_ingress(c->ec2, &req, NULL, err);
    }
    s_perms_clean_up(&p);
    return rc;
}

/* After a Duplicate answer: drops from todo[*n] what the group already has. */
static enum fsg_err s_drop_present(struct s_ctx *c, const struct fsg_sg_rule **todo, size_t *n,
                                   struct fsg_error *err)
{
    struct fsg_sg_current cur = { 0 };
    enum fsg_err rc = s_describe(c, &cur, err);
    if (rc != FSG_OK) {
        return rc;
    }
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        const struct fsg_sg_rule *have = s_find(&cur, todo[i]);
        if (have != NULL) {
            s_audit_rule(c, "authorize", todo[i], have->rule_id, "already_present");
            c->res->already_present++;
        } else {
            todo[kept++] = todo[i];
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

static int s_ptr_cmp(const void *a, const void *b)
{
    return fsg_sg_rule_cmp(*(const struct fsg_sg_rule *const *)a,
                           *(const struct fsg_sg_rule *const *)b);
}

static enum fsg_err s_authorize(struct s_ctx *c, struct fsg_error *err)
{
    const struct fsg_sg_rules *add = &c->plan->add;
    if (add->len == 0) {
        return FSG_OK;
    }
    const struct fsg_sg_rule **todo = fsg_calloc(add->len, sizeof *todo);
    if (todo == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t i = 0; i < add->len; i++) {
        todo[i] = &add->items[i];
    }
    size_t n = add->len;
    qsort(todo, n, sizeof *todo, s_ptr_cmp);
    enum fsg_err rc = s_authorize_once(c, todo, n, err);
    for (int attempt = 0; rc == FSG_E_CONFLICT && s_code_is(err, S_DUPLICATE) && attempt < 1;
         attempt++) {
        fsg_log(FSG_LOG_INFO, "%s: some rules exist already (another run?): describing the group "
                              "again and sending the rest", c->plan->group_id);
        rc = s_drop_present(c, todo, &n, err);
        if (rc == FSG_OK && n > 0) {
            rc = s_authorize_once(c, todo, n, err);
        }
    }
    if (rc == FSG_OK) {
        for (size_t i = 0; i < n; i++) {
            s_audit_rule(c, "authorize", todo[i], NULL, "created");
        }
        c->res->authorized += n;
    } else if (s_code_is(err, FSG_SG_APPLY_QUOTA_CODE)) {
        rc = s_quota(c, n, err);
    } else {
        fsg_error_prefix(err, "authorizing %zu rule(s) in %s (nothing was removed): ", n,
                         c->plan->group_id);
    }
    fsg_free(todo);
    return rc;
}

/* ---- revoke ---------------------------------------------------------------------------------- */

struct s_revoke {
    const struct fsg_sg_rule **rules; /* the plan's remove rules still to revoke */
    const char **ids;                 /* their ids, same order */
    size_t n;
};

static enum fsg_err s_revoke_ids(struct s_ctx *c, struct s_revoke *rv, struct fsg_error *err)
{
    const struct fsg_sg_rules *rm = &c->plan->remove;
    for (size_t i = 0; i < rm->len; i++) {
        const struct fsg_sg_rule *r = &rm->items[i];
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
        rv->rules[rv->n] = r;
        rv->ids[rv->n++] = id;
    }
    return FSG_OK;
}

static bool s_has_id(const struct fsg_sg_current *cur, const char *id)
{
    for (size_t i = 0; i < cur->rules.len; i++) {
        if (cur->rules.items[i].rule_id != NULL && strcmp(cur->rules.items[i].rule_id, id) == 0) {
            return true;
        }
    }
    return false;
}

/* After a NotFound answer: drops the ids the group no longer has. */
static enum fsg_err s_drop_gone(struct s_ctx *c, struct s_revoke *rv, struct fsg_error *err)
{
    struct fsg_sg_current cur = { 0 };
    enum fsg_err rc = s_describe(c, &cur, err);
    if (rc != FSG_OK) {
        return rc;
    }
    size_t kept = 0;
    for (size_t i = 0; i < rv->n; i++) {
        if (s_has_id(&cur, rv->ids[i])) {
            rv->rules[kept] = rv->rules[i];
            rv->ids[kept++] = rv->ids[i];
        } else {
            s_audit_rule(c, "revoke", rv->rules[i], rv->ids[i], "already_gone");
            c->res->already_gone++;
        }
    }
    rv->n = kept;
    fsg_sg_current_clean_up(&cur);
    return FSG_OK;
}

static enum fsg_err s_revoke_once(struct s_ctx *c, const struct s_revoke *rv,
                                  struct fsg_error *err)
{
    c->res->calls++;
    fsg_log(FSG_LOG_DEBUG, "aws ec2 RevokeSecurityGroupIngress %s: %zu rule(s)",
            c->plan->group_id, rv->n);
    return fsg_ec2_revoke_ingress(c->ec2, c->plan->group_id, rv->ids, rv->n, err);
}

static enum fsg_err s_revoke(struct s_ctx *c, struct fsg_error *err)
{
    size_t n = c->plan->remove.len;
    if (n == 0) {
        return FSG_OK;
    }
    struct s_revoke rv = { .rules = fsg_calloc(n, sizeof *rv.rules),
                           .ids = fsg_calloc(n, sizeof *rv.ids) };
    enum fsg_err rc = rv.rules == NULL || rv.ids == NULL ? FSG_E_NOMEM : FSG_OK;
    if (rc == FSG_OK) {
        rc = s_revoke_ids(c, &rv, err);
    }
    if (rc == FSG_OK) {
        rc = s_revoke_once(c, &rv, err);
    }
    for (int attempt = 0; rc == FSG_E_NOT_FOUND && attempt < 1 &&
                          (s_code_is(err, S_RULE_ID_GONE) || s_code_is(err, S_PERMISSION_GONE));
         attempt++) {
        fsg_log(FSG_LOG_INFO, "%s: some rules are gone already (another run?): describing the "
                              "group again and revoking the rest", c->plan->group_id);
        rc = s_drop_gone(c, &rv, err);
        if (rc == FSG_OK && rv.n > 0) {
            rc = s_revoke_once(c, &rv, err);
        }
    }
    if (rc == FSG_OK) {
        for (size_t i = 0; i < rv.n; i++) {
            s_audit_rule(c, "revoke", rv.rules[i], rv.ids[i], "revoked");
        }
        c->res->revoked += rv.n;
    } else {
        fsg_error_prefix(err, "revoking %zu rule(s) in %s (the new rules are in place): ", rv.n,
                         c->plan->group_id);
    }
    fsg_free(rv.rules);
    fsg_free((void *)rv.ids);
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
    enum fsg_err rc = s_authorize(&c, err);
    if (rc == FSG_OK) {
        rc = s_revoke(&c, err);
    }
    return rc;
}
