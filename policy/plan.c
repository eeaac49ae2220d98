#include "policy/plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/report_internal.h"

enum fsg_err fsg_plan_new(struct fsg_plan **ret_plan)
{
    struct fsg_plan *plan = fsg_calloc(1, sizeof *plan);
    if (plan == NULL) {
        return FSG_E_NOMEM;
    }
    *ret_plan = plan;
    return FSG_OK;
}

static void s_target_clean_up(struct fsg_plan_target *t)
{
    for (size_t i = 0; i < t->n_warnings; i++) {
        fsg_free(t->warnings[i]);
    }
    fsg_free(t->warnings);
    fsg_free(t->name);
    fsg_free(t->security_group);
    fsg_free(t->refused);
    fsg_sg_plan_destroy(t->sg);
    fsg_impact_destroy(t->impact);
    fsg_sg_schedule_clean_up(&t->calls);
    fsg_free(t->saved_calls);
    *t = (struct fsg_plan_target){ 0 };
}

void fsg_plan_destroy(struct fsg_plan *plan)
{
    if (plan == NULL) {
        return;
    }
    for (size_t i = 0; i < plan->n_targets; i++) {
        s_target_clean_up(&plan->targets[i]);
    }
    fsg_free(plan->targets);
    fsg_free(plan->policy_version);
    fsg_free(plan);
}

enum fsg_err fsg_plan_append_target(struct fsg_plan *plan, const char *name,
                                    const char *security_group,
                                    struct fsg_plan_target **ret_target)
{
    struct fsg_plan_target *grown = fsg_array_grow(plan->targets, &plan->cap_targets,
                                                   plan->n_targets + 1, sizeof *grown, 4);
    if (grown == NULL) {
        return FSG_E_NOMEM;
    }
    plan->targets = grown;
    struct fsg_plan_target t = { .name = fsg_strdup(name != NULL ? name : ""),
                                 .security_group = fsg_strdup(security_group != NULL
                                                                  ? security_group
                                                                  : "") };
    if (t.name == NULL || t.security_group == NULL) {
        s_target_clean_up(&t);
        return FSG_E_NOMEM;
    }
    plan->targets[plan->n_targets] = t;
    *ret_target = &plan->targets[plan->n_targets++];
    return FSG_OK;
}

enum fsg_err fsg_plan_target_warn(struct fsg_plan_target *t, const char *fmt, ...)
{
    char **w = fsg_array_grow(t->warnings, &t->cap_warnings, t->n_warnings + 1, sizeof *w, 4);
    if (w == NULL) {
        return FSG_E_NOMEM;
    }
    t->warnings = w;
    va_list ap;
    va_start(ap, fmt);
    char *s = fsg_vasprintf(fmt, ap);
    va_end(ap);
    if (s == NULL) {
        return FSG_E_NOMEM;
    }
    t->warnings[t->n_warnings++] = s;
    return FSG_OK;
}

/* "tcp 5432 from 10.0.0.0/8", "icmp type 8 from ...", "all traffic from ..." for warnings. */
static const char *s_perm(int proto, int from, int to, const char *src, char *out, size_t size)
{
    char pbuf[8], ports[40];
    struct fsg_sg_rule r = { .proto = proto, .from_port = from, .to_port = to };
    if (proto == FSG_PROTO_ALL) {
        snprintf(out, size, "all traffic from %s", src);
    } else {
        snprintf(out, size, "%s %s from %s", fsg_sg_proto_name(proto, pbuf),
                 fsg_report_ports(&r, ports), src);
    }
    return out;
}

/* Warnings for what the plan deliberately leaves alone (ownership "rules" only: in "group"
 * mode every rule the policy does not yield is removed). */
static enum fsg_err s_left_alone(struct fsg_plan_target *t, const struct fsg_sg_current *cur)
{
    enum fsg_err rc = FSG_OK;
    char perm[160], cidr[FSG_CIDR_STR_MAX];
    for (size_t i = 0; rc == FSG_OK && i < t->sg->kept.len; i++) {
        const struct fsg_sg_rule *r = &t->sg->kept.items[i];
        s_perm(r->proto, r->from_port, r->to_port, fsg_cidr_format(&r->cidr, cidr), perm,
               sizeof perm);
        rc = fsg_plan_target_warn(t,
                                  "rule %s%s%s (%s%s%s) is not in the policy but is not flowseg's "
                                  "(ownership \"rules\": its description does not start with "
                                  "\"flowseg \"): left in place", perm, r->rule_id ? ", " : "",
                                  r->rule_id ? r->rule_id : "",
                                  r->description ? "description \"" : "no description",
                                  r->description ? r->description : "",
                                  r->description ? "\"" : "");
    }
    for (size_t i = 0; rc == FSG_OK && t->sg->ownership == FSG_SG_OWN_RULES &&
                       i < cur->n_foreign; i++) {
        const struct fsg_sg_foreign_rule *f = &cur->foreign[i];
        const char *peer = f->peer != NULL ? f->peer : "?";
        s_perm(f->proto, f->from_port, f->to_port, peer, perm, sizeof perm);
        rc = fsg_plan_target_warn(t, "rule %s%s%s references %s: not managed by flowseg "
                                     "(ownership \"rules\"), left in place", perm,
                                  f->rule_id ? ", " : "", f->rule_id ? f->rule_id : "",
                                  strncmp(peer, "pl-", 3) == 0 ? "a prefix list"
                                                               : "a security group");
    }
    return rc;
}

static enum fsg_err s_guards(struct fsg_plan_target *t, const struct fsg_guard_limits *limits)
{
    char reason[FSG_GUARD_REASON_MAX];
    t->refused_guards = fsg_guards_check(limits, t->sg, reason, sizeof reason);
    if (t->refused_guards == 0) {
        return FSG_OK;
    }
    t->refused = fsg_strdup(reason);
    return t->refused != NULL ? FSG_OK : FSG_E_NOMEM;
}

/* The flow-evidence guard, after the others: its reason joins theirs. */
static enum fsg_err s_guard_cut(struct fsg_plan_target *t, const struct fsg_guard_limits *limits,
                                size_t n_cut)
{
    char reason[FSG_GUARD_REASON_MAX];
    snprintf(reason, sizeof reason, "%s", t->refused != NULL ? t->refused : "");
    unsigned bit = fsg_guards_check_cut(limits, n_cut, t->security_group, reason, sizeof reason);
    if (bit == 0) {
        return FSG_OK;
    }
    t->refused_guards |= bit;
    fsg_free(t->refused);
    t->refused = fsg_strdup(reason);
    return t->refused != NULL ? FSG_OK : FSG_E_NOMEM;
}

/* The calls apply will make; a plan that cannot be carried out within the quota without a
 * gap is refused up front (unless max_rules already refuses its end state). */
static enum fsg_err s_calls(struct fsg_plan_target *t, const struct fsg_guard_limits *limits)
{
    enum fsg_err rc = fsg_sg_schedule_make(t->sg, limits != NULL ? limits->max_rules : 0,
                                           &t->calls);
    if (rc != FSG_OK || t->calls.fits || (t->refused_guards & FSG_GUARD_RULES) != 0) {
        return rc;
    }
    char *joined = t->refused == NULL ? fsg_strdup(t->calls.reason)
                                      : fsg_asprintf("%s; %s", t->refused, t->calls.reason);
    if (joined == NULL) {
        return FSG_E_NOMEM;
    }
    fsg_free(t->refused);
    t->refused = joined;
    t->refused_guards |= FSG_GUARD_RULES;
    return FSG_OK;
}

static enum fsg_err s_fill(struct fsg_plan_target *t, const struct fsg_plan_inputs *in,
                           struct fsg_error *err)
{
    enum fsg_err rc = fsg_sg_diff(in->desired, in->current, in->diff, &t->sg, err);
    if (rc == FSG_OK) {
        t->ownership = t->sg->ownership;
    }
    for (size_t i = 0; rc == FSG_OK && i < in->n_warnings; i++) {
        rc = fsg_plan_target_warn(t, "%s", in->warnings[i]);
    }
    if (rc == FSG_OK) {
        rc = s_left_alone(t, in->current);
    }
    if (rc == FSG_OK && in->guards != NULL) {
        rc = s_guards(t, in->guards);
    }
    if (rc == FSG_OK) {
        rc = s_calls(t, in->guards);
    }
    if (rc == FSG_OK && in->has_flows) {
        struct fsg_impact_target it = { 0 };
        if (in->impact_target != NULL) {
            it = *in->impact_target;
        }
        it.group_id = t->sg->group_id;
        it.kept = &t->sg->kept;
        /* in "group" mode they are removed: only "rules" mode leaves them on the interface */
        it.n_foreign = t->sg->ownership == FSG_SG_OWN_RULES ? in->current->n_foreign : 0;
        rc = fsg_impact_compute(&it, &t->sg->desired, in->flows, in->n_flows, &t->impact, err);
    }
    /* A target whose apply changes nothing cuts nothing off, whatever old flows show. */
    bool changes = fsg_sg_plan_has_changes(t->sg) || in->association_changes;
    if (rc == FSG_OK && t->impact != NULL && in->guards != NULL && changes) {
        rc = s_guard_cut(t, in->guards, t->impact->n_cut_sources);
    }
    return rc;
}

enum fsg_err fsg_plan_add(struct fsg_plan *plan, const struct fsg_plan_inputs *in,
                          struct fsg_error *err)
{
    struct fsg_plan_target *t = NULL;
    enum fsg_err rc = fsg_plan_append_target(plan, in->name, in->security_group, &t);
    if (rc == FSG_OK) {
        rc = s_fill(t, in, err);
        if (rc != FSG_OK) {
            /* Nothing half-built stays in the plan. */
            s_target_clean_up(t);
            plan->n_targets--;
        }
    }
    if (rc == FSG_E_NOMEM) {
        (void)fsg_error_set(err, rc, "out of memory while planning target %s",
                            in->name != NULL ? in->name : "?");
    }
    return rc;
}

bool fsg_plan_has_changes(const struct fsg_plan *plan)
{
    for (size_t i = 0; plan != NULL && i < plan->n_targets; i++) {
        if (fsg_sg_plan_has_changes(plan->targets[i].sg)) {
            return true;
        }
    }
    return false;
}

bool fsg_plan_is_refused(const struct fsg_plan *plan)
{
    for (size_t i = 0; plan != NULL && i < plan->n_targets; i++) {
        if (plan->targets[i].refused != NULL) {
            return true;
        }
    }
    return false;
}

void fsg_plan_totals(const struct fsg_plan *plan, size_t *ret_add, size_t *ret_remove)
{
    size_t add = 0, rm = 0;
    for (size_t i = 0; i < plan->n_targets; i++) {
        const struct fsg_sg_plan *sg = plan->targets[i].sg;
        add += sg != NULL ? sg->add.len : 0;
        rm += fsg_sg_plan_n_removals(sg);
    }
    *ret_add = add;
    *ret_remove = rm;
}
