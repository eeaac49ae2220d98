#include "policy/guards.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Appends one reason to reason[], separated by "; ", truncating if it does not fit. */
static void s_reason(char *reason, size_t size, const char *fmt, ...) FSG_PRINTF(3, 4);

static void s_reason(char *reason, size_t size, const char *fmt, ...)
{
    if (reason == NULL || size == 0) {
        return;
    }
    size_t used = strnlen(reason, size - 1);
    if (used > 0 && used + 2 < size) {
        memcpy(reason + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason + used, size - used, fmt, ap);
    va_end(ap);
}

static void s_count(const struct fsg_sg_rules *list, size_t *v4, size_t *v6)
{
    for (size_t i = 0; i < list->len; i++) {
        if (list->items[i].cidr.addr.is_v6) {
            (*v6)++;
        } else {
            (*v4)++;
        }
    }
}

void fsg_guards_rules_after(const struct fsg_sg_plan *plan, size_t *ret_v4, size_t *ret_v6)
{
    size_t add4 = 0, add6 = 0, rm4 = 0, rm6 = 0;
    s_count(&plan->add, &add4, &add6);
    s_count(&plan->remove, &rm4, &rm6);
    /* remove is a subset of the current rules, so these never underflow. */
    size_t foreign = plan->n_foreign - (plan->n_remove_foreign <= plan->n_foreign
                                            ? plan->n_remove_foreign : plan->n_foreign);
    *ret_v4 = plan->current_v4 - rm4 + add4 + foreign;
    *ret_v6 = plan->current_v6 - rm6 + add6 + foreign;
}

/* The first desired rule with a public source, or NULL. */
static const struct fsg_sg_rule *s_first_public(const struct fsg_sg_plan *plan, size_t *ret_n)
{
    const struct fsg_sg_rule *first = NULL;
    *ret_n = 0;
    for (size_t i = 0; i < plan->desired.len; i++) {
        if (fsg_cidr_is_public(&plan->desired.items[i].cidr)) {
            first = first != NULL ? first : &plan->desired.items[i];
            (*ret_n)++;
        }
    }
    return first;
}

unsigned fsg_guards_check(const struct fsg_guard_limits *limits, const struct fsg_sg_plan *plan,
                          char *reason, size_t reason_size)
{
    unsigned refused = 0;
    if (reason != NULL && reason_size > 0) {
        reason[0] = '\0';
    }
    if (plan->desired.len == 0 && !limits->allow_empty) {
        refused |= FSG_GUARD_EMPTY;
        s_reason(reason, reason_size,
                 "allow_empty: the policy gives %s no rule at all, which would remove every "
                 "flowseg rule (check the target's virtual_service/workload/labels, or set "
                 "guards.allow_empty)", plan->group_id);
    }
    size_t n_public = 0;
    const struct fsg_sg_rule *pub = s_first_public(plan, &n_public);
    if (pub != NULL && !limits->allow_public) {
        char cidr[FSG_CIDR_STR_MAX];
        refused |= FSG_GUARD_PUBLIC;
        s_reason(reason, reason_size,
                 "allow_public: %zu desired rule(s) open %s to public addresses (first: %s from "
                 "%s); set guards.allow_public if this is intended", n_public, plan->group_id,
                 pub->description != NULL ? pub->description : "a rule",
                 fsg_cidr_format(&pub->cidr, cidr));
    }
    size_t n_rm = fsg_sg_plan_n_removals(plan);
    if (limits->max_removals >= 0 && n_rm > (size_t)limits->max_removals && !limits->force) {
        refused |= FSG_GUARD_REMOVALS;
        s_reason(reason, reason_size,
                 "max_removals: %zu rules would be removed from %s, the limit is %ld (review the "
                 "plan, then use apply --force or raise guards.max_removals)", n_rm,
                 plan->group_id, limits->max_removals);
    }
    size_t v4 = 0, v6 = 0;
    fsg_guards_rules_after(plan, &v4, &v6);
    if (limits->max_rules > 0 && (v4 > (size_t)limits->max_rules ||
                                  v6 > (size_t)limits->max_rules)) {
        refused |= FSG_GUARD_RULES;
        s_reason(reason, reason_size,
                 "max_rules: %s would hold %zu IPv4 and %zu IPv6 inbound rules, over the quota "
                 "of %ld per family (merge consumers into ip lists, or raise the quota and "
                 "guards.max_rules)", plan->group_id, v4, v6, limits->max_rules);
    }
    return refused;
}

unsigned fsg_guards_check_cut(const struct fsg_guard_limits *limits, size_t n_cut,
                              const char *group, char *reason, size_t reason_size)
{
    if (limits->max_cut_sources < 0 || n_cut <= (size_t)limits->max_cut_sources) {
        return 0;
    }
    s_reason(reason, reason_size,
             "max_cut_sources: %zu observed source(s) with accepted traffic would be cut off "
             "from %s, the limit is %ld (check the policy against the impact report, or raise "
             "guards.max_cut_sources; apply --force does not override this guard)", n_cut,
             group != NULL ? group : "the group", limits->max_cut_sources);
    return FSG_GUARD_CUT;
}
