#include "policy/sg_diff.h"

#include <stdio.h>
#include <string.h>

#include "lib/core/mem.h"

bool fsg_sg_rule_is_owned(const char *description)
{
    return description != NULL &&
           strncmp(description, FSG_SG_DESCRIPTION_PREFIX, strlen(FSG_SG_DESCRIPTION_PREFIX)) == 0;
}

const char *fsg_sg_ownership_name(enum fsg_sg_ownership o)
{
    return o == FSG_SG_OWN_RULES ? "rules" : "group";
}

const char *fsg_sg_removal_reason(const char *description)
{
    return fsg_sg_rule_is_owned(description) ? "not in the policy any more (flowseg rule)"
                                             : "not in the policy, added outside flowseg";
}

size_t fsg_sg_plan_n_removals(const struct fsg_sg_plan *plan)
{
    return plan != NULL ? plan->remove.len + plan->n_remove_foreign : 0;
}

bool fsg_sg_plan_has_changes(const struct fsg_sg_plan *plan)
{
    return plan != NULL && (plan->add.len > 0 || fsg_sg_plan_n_removals(plan) > 0);
}

static void s_foreign_clean_up(struct fsg_sg_foreign_rule *f)
{
    fsg_free(f->peer);
    fsg_free(f->description);
    fsg_free(f->rule_id);
}

enum fsg_err fsg_sg_plan_remove_foreign(struct fsg_sg_plan *plan,
                                        const struct fsg_sg_foreign_rule *f)
{
    struct fsg_sg_foreign_rule *grown =
        fsg_array_grow(plan->remove_foreign, &plan->cap_remove_foreign,
                       plan->n_remove_foreign + 1, sizeof *grown, 4);
    if (grown == NULL) {
        return FSG_E_NOMEM;
    }
    plan->remove_foreign = grown;
    struct fsg_sg_foreign_rule c = { .proto = f->proto, .from_port = f->from_port,
                                     .to_port = f->to_port };
    c.peer = f->peer != NULL ? fsg_strdup(f->peer) : NULL;
    c.description = f->description != NULL ? fsg_strdup(f->description) : NULL;
    c.rule_id = f->rule_id != NULL ? fsg_strdup(f->rule_id) : NULL;
    if ((f->peer != NULL && c.peer == NULL) || (f->description != NULL && c.description == NULL) ||
        (f->rule_id != NULL && c.rule_id == NULL)) {
        s_foreign_clean_up(&c);
        return FSG_E_NOMEM;
    }
    plan->remove_foreign[plan->n_remove_foreign++] = c;
    return FSG_OK;
}

enum fsg_err fsg_sg_plan_new(const char *group_id, struct fsg_sg_plan **ret_plan)
{
    struct fsg_sg_plan *plan = fsg_calloc(1, sizeof *plan);
    if (plan == NULL) {
        return FSG_E_NOMEM;
    }
    plan->group_id = fsg_strdup(group_id != NULL ? group_id : "");
    if (plan->group_id == NULL) {
        fsg_free(plan);
        return FSG_E_NOMEM;
    }
    *ret_plan = plan;
    return FSG_OK;
}

void fsg_sg_plan_destroy(struct fsg_sg_plan *plan)
{
    if (plan == NULL) {
        return;
    }
    fsg_sg_rules_clean_up(&plan->desired);
    fsg_sg_rules_clean_up(&plan->add);
    fsg_sg_rules_clean_up(&plan->remove);
    fsg_sg_rules_clean_up(&plan->kept);
    for (size_t i = 0; i < plan->n_remove_foreign; i++) {
        s_foreign_clean_up(&plan->remove_foreign[i]);
    }
    fsg_free(plan->remove_foreign);
    fsg_free(plan->group_id);
    fsg_free(plan);
}

/* A sorted copy with EC2's port normalisation, so equal permissions compare equal. */
static enum fsg_err s_normalized_copy(const struct fsg_sg_rules *in, struct fsg_sg_rules *out)
{
    for (size_t i = 0; in != NULL && i < in->len; i++) {
        struct fsg_sg_rule r = in->items[i];
        fsg_sg_rule_normalize_ports(r.proto, &r.from_port, &r.to_port);
        enum fsg_err rc = fsg_sg_rules_append(out, &r);
        if (rc != FSG_OK) {
            return rc;
        }
    }
    fsg_sg_rules_sort(out);
    return FSG_OK;
}

/* Drops rules equal in permission to their predecessor (the list is sorted). */
static void s_dedup(struct fsg_sg_rules *list)
{
    size_t out = 0;
    for (size_t i = 0; i < list->len; i++) {
        if (out > 0 && fsg_sg_rule_cmp(&list->items[out - 1], &list->items[i]) == 0) {
            fsg_sg_rule_clean_up(&list->items[i]);
            continue;
        }
        list->items[out++] = list->items[i];
    }
    list->len = out;
}

/* A current rule that the policy does not want: removed when owned, else kept. */
static enum fsg_err s_stale(struct fsg_sg_plan *plan, const struct fsg_sg_rule *r,
                            const struct fsg_sg_diff_options *opts)
{
    bool owned = opts->ownership == FSG_SG_OWN_GROUP || fsg_sg_rule_is_owned(r->description);
    return fsg_sg_rules_append(owned ? &plan->remove : &plan->kept, r);
}

/* A rule flowseg authorizes must carry its mark, or no later run could remove it: a desired
 * rule without the prefix gets it (EC2 descriptions are at most 255 characters). */
static enum fsg_err s_add(struct fsg_sg_plan *plan, const struct fsg_sg_rule *r)
{
    if (fsg_sg_rule_is_owned(r->description)) {
        return fsg_sg_rules_append(&plan->add, r);
    }
    char desc[256];
    snprintf(desc, sizeof desc, "%s%s", FSG_SG_DESCRIPTION_PREFIX,
             r->description != NULL ? r->description : "(no provenance)");
    struct fsg_sg_rule copy = *r;
    copy.description = desc;
    return fsg_sg_rules_append(&plan->add, &copy);
}

/* Merge walk over the two sorted lists. */
static enum fsg_err s_walk(struct fsg_sg_plan *plan, const struct fsg_sg_rules *cur,
                           const struct fsg_sg_diff_options *opts)
{
    const struct fsg_sg_rules *want = &plan->desired;
    size_t i = 0, j = 0;
    enum fsg_err rc = FSG_OK;
    while (rc == FSG_OK && (i < want->len || j < cur->len)) {
        int c = i == want->len ? 1
              : j == cur->len  ? -1
                               : fsg_sg_rule_cmp(&want->items[i], &cur->items[j]);
        if (c < 0) {
            rc = s_add(plan, &want->items[i++]);
        } else if (c > 0) {
            rc = s_stale(plan, &cur->items[j++], opts);
        } else {
            plan->unchanged++;
            i++;
            j++;
            /* A second current rule with the same permission (possible only in a hand-written
             * state) is stale. */
            while (rc == FSG_OK && j < cur->len &&
                   fsg_sg_rule_cmp(&want->items[i - 1], &cur->items[j]) == 0) {
                rc = s_stale(plan, &cur->items[j++], opts);
            }
        }
    }
    return rc;
}

enum fsg_err fsg_sg_diff(const struct fsg_sg_rules *desired, const struct fsg_sg_current *current,
                         const struct fsg_sg_diff_options *opts, struct fsg_sg_plan **ret_plan,
                         struct fsg_error *err)
{
    static const struct fsg_sg_diff_options defaults = { .ownership = FSG_SG_OWN_GROUP };
    opts = opts != NULL ? opts : &defaults;
    struct fsg_sg_rules cur = { 0 };
    struct fsg_sg_plan *plan = NULL;
    enum fsg_err rc = fsg_sg_plan_new(current->group_id, &plan);

    if (rc == FSG_OK) {
        rc = s_normalized_copy(desired, &plan->desired);
    }
    if (rc == FSG_OK) {
        rc = s_normalized_copy(&current->rules, &cur);
    }
    if (rc == FSG_OK) {
        s_dedup(&plan->desired);
        plan->ownership = opts->ownership;
        rc = s_walk(plan, &cur, opts);
    }
    /* Group mode: a rule that references a group or a prefix list is never something the policy
     * yields (the compiler makes CIDR rules only), so it goes. */
    for (size_t k = 0; rc == FSG_OK && opts->ownership == FSG_SG_OWN_GROUP &&
                       k < current->n_foreign; k++) {
        rc = fsg_sg_plan_remove_foreign(plan, &current->foreign[k]);
    }
    if (rc == FSG_OK) {
        rc = fsg_sg_current_hash(current, plan->state_hash, err);
    }
    if (rc != FSG_OK) {
        if (rc == FSG_E_NOMEM) {
            (void)fsg_error_set(err, rc, "out of memory while diffing %s", current->group_id);
        }
        goto out;
    }
    for (size_t k = 0; k < cur.len; k++) {
        if (cur.items[k].cidr.addr.is_v6) {
            plan->current_v6++;
        } else {
            plan->current_v4++;
        }
    }
    plan->n_foreign = current->n_foreign;
    *ret_plan = plan;
    plan = NULL;

out:
    fsg_sg_rules_clean_up(&cur);
    fsg_sg_plan_destroy(plan);
    return rc;
}
