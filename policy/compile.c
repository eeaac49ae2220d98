/* The policy compiler's driver: the target, rules in href order, and the merged output.
 * Selection and consumer addresses are in compile_select.c, ports in compile_ports.c. */
#include "policy/compile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/compile_internal.h"

struct s_rule_ref {
    const struct fsg_policy_rule *rule;
    const struct fsg_policy_rule_set *rule_set;
};

/* ---- descriptions --------------------------------------------------------------------------- */

/* EC2: "a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=;{}!$*" (AuthorizeSecurityGroupIngress,
 * IpRange.Description). */
static bool s_desc_char_ok(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) {
        return true;
    }
    return ch != '\0' && strchr(" ._-:/()#,@[]+=;{}!$*", ch) != NULL;
}

void fsg_policy_rule_description(const char *href, size_t n_more,
                                 char out[FSG_SG_DESCRIPTION_MAX + 1])
{
    char suffix[32] = "";
    if (n_more > 0) {
        snprintf(suffix, sizeof suffix, " (+%zu)", n_more);
    }
    size_t room = FSG_SG_DESCRIPTION_MAX - strlen(suffix);
    size_t n = (size_t)snprintf(out, room + 1, "flowseg %s", href != NULL ? href : "");
    if (n > room) {
        n = room;
    }
    for (size_t i = 0; i < n; i++) {
        if (!s_desc_char_ok((unsigned char)out[i])) {
            out[i] = '_';
        }
    }
    memcpy(out + n, suffix, strlen(suffix) + 1);
}

/* ---- buckets -------------------------------------------------------------------------------- */

struct fsg_cidrset *fsg_compile_bucket(struct fsg_compile_ctx *c, struct fsg_buckets *b,
                                       struct fsg_port p)
{
    for (size_t i = 0; i < b->len; i++) {
        if (memcmp(&b->items[i].port, &p, sizeof p) == 0) {
            return &b->items[i].set;
        }
    }
    struct fsg_bucket *items = fsg_array_grow(b->items, &b->cap, b->len + 1, sizeof *items, 4);
    if (items == NULL) {
        c->rc = FSG_E_NOMEM;
        return NULL;
    }
    b->items = items;
    b->items[b->len] = (struct fsg_bucket){ .port = p, .set = FSG_CIDRSET_INIT };
    return &b->items[b->len++].set;
}

static void s_buckets_clean_up(struct fsg_buckets *b)
{
    for (size_t i = 0; i < b->len; i++) {
        fsg_cidrset_clean_up(&b->items[i].set);
    }
    fsg_free(b->items);
    *b = (struct fsg_buckets){ 0 };
}

/* ---- one rule ------------------------------------------------------------------------------- */

/* The target entities the providers select in one scope. */
static size_t s_providers_in_scope(const struct fsg_compile_ctx *c, const struct fsg_side *prov,
                                   const struct fsg_selector *scope, struct fsg_entity *out)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_targets; i++) {
        const struct fsg_entity *e = &c->targets[i];
        if (fsg_selector_match(scope, e) && fsg_side_selects(prov, e)) {
            out[n++] = *e;
        }
    }
    return n;
}

/* Adds (ports x sources) of rule r in one scope to the buckets, tagged with the rule's rank. */
static void s_emit(struct fsg_compile_ctx *c, const struct fsg_policy_rule *r, uint32_t tag,
                   const struct fsg_entity *providers, size_t n_providers,
                   const struct fsg_side *consumers, const struct fsg_selector *scope,
                   struct fsg_buckets *buckets, size_t *n_sources)
{
    struct fsg_ports ports = { 0 };
    struct fsg_cidrset sources = FSG_CIDRSET_INIT;
    fsg_compile_rule_ports(c, r, providers, n_providers, &ports);
    fsg_compile_sources(c, r, consumers, r->unscoped_consumers ? NULL : scope, &sources);
    if (c->rc == FSG_OK) {
        c->rc = fsg_cidrset_normalize(&sources);
    }
    *n_sources += sources.len;
    if (c->probe != NULL && c->rc == FSG_OK) {
        fsg_compile_trace_rule(c, r, consumers, r->unscoped_consumers ? NULL : scope, &ports,
                               &sources);
    }
    for (size_t i = 0; i < ports.len && c->rc == FSG_OK; i++) {
        struct fsg_cidrset *set = fsg_compile_bucket(c, buckets, ports.items[i]);
        if (set != NULL) {
            c->rc = fsg_cidrset_add_set(set, &sources, tag);
        }
    }
    fsg_cidrset_clean_up(&sources);
    fsg_free(ports.items);
}

static void s_rule_warnings(struct fsg_compile_ctx *c, const struct fsg_policy_rule *r)
{
    if (r->n_egress_services > 0) {
        fsg_compile_warn(c, "rule %s: egress_services (which consumer processes may connect) "
                            "cannot be enforced by a security group; its ports are allowed from "
                            "any process of its consumers",
                         r->href);
    }
    if (r->sec_connect) {
        fsg_compile_warn(c, "rule %s: SecureConnect (IPsec) cannot be enforced by a security "
                            "group; its ports are allowed without it",
                         r->href);
    }
    if (r->machine_auth) {
        fsg_compile_warn(c, "rule %s: machine authentication cannot be enforced by a security "
                            "group; its ports are allowed without it",
                         r->href);
    }
    for (size_t i = 0; i < r->n_providers; i++) {
        if (r->providers[i].kind == FSG_POLICY_ACTOR_UNSUPPORTED) {
            fsg_compile_warn(c, "rule %s: provider %s is not supported and was ignored", r->href,
                             r->providers[i].what != NULL ? r->providers[i].what : "actor");
        }
    }
}

/* Every concrete scope of rule set rs (each scope expanded, see fsg_scope_expand), in order. */
void fsg_compile_rule_set_scopes(struct fsg_compile_ctx *c, const struct fsg_policy_rule_set *rs,
                                 struct fsg_selector **ret, size_t *ret_n)
{
    struct fsg_selector *all = NULL;
    size_t n_all = 0;
    for (size_t s = 0; s < rs->n_scopes && c->rc == FSG_OK; s++) {
        struct fsg_selector *one = NULL;
        size_t n = 0;
        enum fsg_err rc = fsg_scope_expand(c->m, &rs->scopes[s], c->targets, c->n_targets,
                                           &one, &n);
        if (rc == FSG_E_LIMIT) {
            snprintf(c->fail_msg, sizeof c->fail_msg,
                     "rule set %s: scope %zu expands into more than %zu scopes (label groups "
                     "times label types)",
                     rs->href, s, FSG_COMPILE_MAX_SCOPES);
        }
        c->rc = rc;
        if (rc != FSG_OK) {
            break;
        }
        struct fsg_selector *grown = fsg_reallocarray(all, n_all + n + 1, sizeof *grown);
        if (grown == NULL) {
            c->rc = FSG_E_NOMEM;
            fsg_scopes_free(one, n);
            break;
        }
        all = grown;
        memcpy(all + n_all, one, n * sizeof *one);
        n_all += n;
        fsg_free(one);
    }
    if (c->rc != FSG_OK) {
        fsg_scopes_free(all, n_all);
        all = NULL;
        n_all = 0;
    }
    *ret = all;
    *ret_n = n_all;
}

/* Evaluates rule r (rank tag) in each scope of its rule set. Returns true when it applies. */
static bool s_rule(struct fsg_compile_ctx *c, const struct s_rule_ref *ref, uint32_t tag,
                   struct fsg_buckets *buckets)
{
    const struct fsg_policy_rule *r = ref->rule;
    const struct fsg_policy_rule_set *rs = ref->rule_set;
    c->cur_rule_set = rs;
    struct fsg_side prov = { 0 };
    struct fsg_side cons = { 0 };
    struct fsg_entity *matched = fsg_calloc(c->n_targets > 0 ? c->n_targets : 1, sizeof *matched);
    bool applies = false;
    size_t n_sources = 0;
    if (matched == NULL) {
        c->rc = FSG_E_NOMEM;
    }
    if (c->rc == FSG_OK) {
        c->rc = fsg_side_build(c->m, r->providers, r->n_providers, r->resolve_providers, &prov);
    }
    if (c->rc == FSG_OK) {
        c->rc = fsg_side_build(c->m, r->consumers, r->n_consumers, r->resolve_consumers, &cons);
    }
    struct fsg_selector *scopes = NULL;
    size_t n_scopes = 0;
    if (c->rc == FSG_OK) {
        fsg_compile_rule_set_scopes(c, rs, &scopes, &n_scopes);
    }
    for (size_t s = 0; s < n_scopes && c->rc == FSG_OK; s++) {
        size_t n = s_providers_in_scope(c, &prov, &scopes[s], matched);
        if (n > 0 && r->network_type != NULL && strcmp(r->network_type, "brn") != 0 &&
            strcmp(r->network_type, "all") != 0) {
            /* A rule limited to other networks ("non_brn"): allowing it on the VPC could widen. */
            fsg_compile_refuse(c, "rule %s: network_type \"%.40s\" limits the rule to networks "
                                  "a security group cannot tell apart",
                               r->href, r->network_type);
            break;
        }
        if (n > 0) {
            applies = true;
            if (r->n_security_principals > 0) {
                fsg_compile_warn(c,
                                 "rule %s: consumers limited to users (consuming_security_"
                                 "principals) cannot be a security-group source; rule not "
                                 "applied",
                                 r->href);
            } else {
                s_emit(c, r, tag, matched, n, &cons, &scopes[s], buckets, &n_sources);
            }
        }
    }
    fsg_scopes_free(scopes, n_scopes);
    if (applies) {
        s_rule_warnings(c, r);
        if (n_sources == 0 && r->n_security_principals == 0) {
            fsg_compile_warn(c, "rule %s: applies to the target but allows no source address",
                             r->href);
        }
    }
    fsg_side_clean_up(&cons);
    fsg_side_clean_up(&prov);
    fsg_free(matched);
    return applies;
}

/* Rule-set level warnings: no scope. */
static void s_rule_set_warnings(struct fsg_compile_ctx *c, const struct fsg_policy_rule_set *rs)
{
    if (rs->n_scopes == 0 && rs->n_rules > 0) {
        fsg_compile_warn(c, "rule set %s: has no scope (\"scopes\": []): its rules apply nowhere",
                         rs->href);
    }
}

static int s_cmp_rule_ref(const void *pa, const void *pb)
{
    const struct s_rule_ref *a = pa;
    const struct s_rule_ref *b = pb;
    return strcmp(a->rule->href, b->rule->href);
}

/* Enabled rules of enabled rule sets, sorted by href: the rank is the provenance tag, so the
 * output does not depend on the order of the PCE's arrays. */
static struct s_rule_ref *s_sorted_rules(struct fsg_compile_ctx *c, size_t *ret_n)
{
    const struct fsg_policy_model *m = c->m;
    size_t n = 0;
    for (size_t i = 0; i < m->n_rule_sets; i++) {
        n += m->rule_sets[i].is_enabled ? m->rule_sets[i].n_rules : 0;
    }
    struct s_rule_ref *refs = fsg_calloc(n > 0 ? n : 1, sizeof *refs);
    if (refs == NULL) {
        c->rc = FSG_E_NOMEM;
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < m->n_rule_sets; i++) {
        const struct fsg_policy_rule_set *rs = &m->rule_sets[i];
        for (size_t j = 0; rs->is_enabled && j < rs->n_rules; j++) {
            if (rs->rules[j].is_enabled) {
                refs[k++] = (struct s_rule_ref){ .rule = &rs->rules[j], .rule_set = rs };
            }
        }
    }
    if (k > 1) {
        qsort(refs, k, sizeof *refs, s_cmp_rule_ref);
    }
    *ret_n = k;
    return refs;
}

/* ---- target --------------------------------------------------------------------------------- */

static enum fsg_err s_add_target(struct fsg_compile_ctx *c, struct fsg_entity e)
{
    for (size_t i = 0; i < c->n_targets; i++) {
        if (c->targets[i].kind == e.kind && c->targets[i].index == e.index) {
            return FSG_OK;
        }
    }
    struct fsg_entity *t = fsg_reallocarray(c->targets, c->n_targets + 1, sizeof *t);
    if (t == NULL) {
        return FSG_E_NOMEM;
    }
    c->targets = t;
    c->targets[c->n_targets++] = e;
    return FSG_OK;
}

/* A virtual service and the workloads bound to it (policy for a virtual service is enforced on
 * its bound workloads). */
static enum fsg_err s_target_vs(struct fsg_compile_ctx *c, size_t v)
{
    const struct fsg_policy_virtual_service *vs = &c->m->virtual_services[v];
    enum fsg_err rc = s_add_target(c, fsg_entity_virtual_service(c->m, v));
    for (size_t i = 0; i < vs->n_bindings && rc == FSG_OK; i++) {
        if (!c->m->workloads[vs->bindings[i].workload].is_deleted) {
            rc = s_add_target(c, fsg_entity_workload(c->m, vs->bindings[i].workload));
        }
    }
    return rc;
}

/* A workload and the virtual services bound to it. */
static enum fsg_err s_target_workload(struct fsg_compile_ctx *c, size_t w)
{
    enum fsg_err rc = s_add_target(c, fsg_entity_workload(c->m, w));
    for (size_t v = 0; v < c->m->n_virtual_services && rc == FSG_OK; v++) {
        const struct fsg_policy_virtual_service *vs = &c->m->virtual_services[v];
        for (size_t i = 0; i < vs->n_bindings && rc == FSG_OK; i++) {
            if (vs->bindings[i].workload == w) {
                rc = s_add_target(c, fsg_entity_virtual_service(c->m, v));
            }
        }
    }
    return rc;
}

static enum fsg_err s_target_labels(struct fsg_compile_ctx *c, const struct fsg_policy_target *t,
                                    struct fsg_error *err)
{
    c->pseudo_labels = fsg_calloc(t->n_labels, sizeof *c->pseudo_labels);
    if (c->pseudo_labels == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t i = 0; i < t->n_labels; i++) {
        const struct fsg_policy_label *l = &t->labels[i];
        size_t idx = FSG_POLICY_NONE;
        if (l->href != NULL) {
            idx = fsg_policy_find_label(c->m, l->href);
        } else if (l->key != NULL && l->value != NULL) {
            idx = fsg_policy_find_label_kv(c->m, l->key, l->value);
        }
        if (idx == FSG_POLICY_NONE) {
            return fsg_error_set(err, FSG_E_NOT_FOUND, "label %.100s%s%.100s is not in the policy",
                                 l->href != NULL ? l->href : l->key != NULL ? l->key : "?",
                                 l->href != NULL ? "" : "=",
                                 l->href != NULL ? "" : l->value != NULL ? l->value : "?");
        }
        c->pseudo_labels[i] = idx;
    }
    return s_add_target(c, (struct fsg_entity){ .kind = FSG_ENT_PSEUDO,
                                                .labels = c->pseudo_labels,
                                                .n_labels = t->n_labels });
}

static enum fsg_err s_resolve_target(struct fsg_compile_ctx *c, const struct fsg_policy_target *t,
                                     struct fsg_error *err)
{
    int named = (t->virtual_service != NULL) + (t->workload != NULL) + (t->n_labels > 0);
    if (named != 1) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "name exactly one of virtual_service, workload or labels (%d given)",
                             named);
    }
    size_t idx;
    enum fsg_err rc;
    if (t->virtual_service != NULL) {
        rc = fsg_policy_find_virtual_service(c->m, t->virtual_service, &idx, err);
        return rc == FSG_OK ? s_target_vs(c, idx) : rc;
    }
    if (t->workload != NULL) {
        rc = fsg_policy_find_workload(c->m, t->workload, &idx, err);
        return rc == FSG_OK ? s_target_workload(c, idx) : rc;
    }
    return s_target_labels(c, t, err);
}

/* ---- output --------------------------------------------------------------------------------- */

static enum fsg_err s_output_rules(const struct s_rule_ref *refs, const struct fsg_buckets *b,
                                   struct fsg_sg_rules *out)
{
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; i < b->len && rc == FSG_OK; i++) {
        const struct fsg_bucket *bk = &b->items[i];
        struct fsg_cidrset_blocks blocks = { 0 };
        rc = fsg_cidrset_to_blocks(&bk->set, &blocks);
        for (size_t j = 0; j < blocks.len && rc == FSG_OK; j++) {
            const struct fsg_cidrset_block *blk = &blocks.items[j];
            bool v6 = blk->cidr.addr.is_v6;
            /* ICMP (1) concerns IPv4 only, ICMPv6 (58) IPv6 only. */
            if ((bk->port.proto == FSG_PROTO_ICMP && v6) ||
                (bk->port.proto == FSG_PROTO_ICMPV6 && !v6)) {
                continue;
            }
            char desc[FSG_SG_DESCRIPTION_MAX + 1];
            fsg_policy_rule_description(refs[blk->tag].rule->href, blk->n_tags - 1, desc);
            struct fsg_sg_rule r = { .proto = bk->port.proto, .from_port = bk->port.from,
                                     .to_port = bk->port.to, .cidr = blk->cidr,
                                     .description = desc };
            rc = fsg_sg_rules_append(out, &r);
        }
        fsg_cidrset_blocks_clean_up(&blocks);
    }
    if (rc == FSG_OK) {
        fsg_sg_rules_sort(out);
    }
    return rc;
}

static int s_cmp_str(const void *pa, const void *pb)
{
    return strcmp(*(char *const *)pa, *(char *const *)pb);
}

/* Sorts and de-duplicates, then hands the strings over. */
static void s_take_strings(struct fsg_strlist *l, char ***ret, size_t *ret_n)
{
    if (l->len > 1) {
        qsort(l->items, l->len, sizeof *l->items, s_cmp_str);
    }
    size_t k = 0;
    for (size_t i = 0; i < l->len; i++) {
        if (k > 0 && strcmp(l->items[k - 1], l->items[i]) == 0) {
            fsg_free(l->items[i]);
        } else {
            l->items[k++] = l->items[i];
        }
    }
    *ret = l->items;
    *ret_n = k;
    *l = (struct fsg_strlist){ 0 };
}

static void s_strlist_clean_up(struct fsg_strlist *l)
{
    for (size_t i = 0; i < l->len; i++) {
        fsg_free(l->items[i]);
    }
    fsg_free(l->items);
    *l = (struct fsg_strlist){ 0 };
}

static enum fsg_err s_matched(const struct s_rule_ref *refs, const bool *applies, size_t n,
                              struct fsg_compiled_target *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        k += applies[i];
    }
    out->matched_rules = fsg_calloc(k > 0 ? k : 1, sizeof *out->matched_rules);
    if (out->matched_rules == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (!applies[i]) {
            continue;
        }
        char *s = fsg_strdup(refs[i].rule->href);
        if (s == NULL) {
            return FSG_E_NOMEM;
        }
        out->matched_rules[out->n_matched_rules++] = s;
    }
    return FSG_OK;
}

/* ---- entry point ---------------------------------------------------------------------------- */

static void s_ctx_clean_up(struct fsg_compile_ctx *c)
{
    for (size_t i = 0; c->ip_lists != NULL && i < c->m->n_ip_lists; i++) {
        fsg_cidrset_clean_up(&c->ip_lists[i]);
    }
    fsg_free(c->ip_lists);
    fsg_free(c->ip_list_done);
    fsg_free(c->targets);
    fsg_free(c->pseudo_labels);
    s_strlist_clean_up(&c->warnings);
}

static void s_run(struct fsg_compile_ctx *c, struct fsg_compiled_target *out)
{
    size_t n = 0;
    struct fsg_buckets buckets = { 0 };
    struct s_rule_ref *refs = s_sorted_rules(c, &n);
    bool *applies = fsg_calloc(n > 0 ? n : 1, sizeof *applies);
    if (applies == NULL) {
        c->rc = FSG_E_NOMEM;
    }
    for (size_t i = 0; i < c->m->n_rule_sets && c->rc == FSG_OK; i++) {
        if (c->m->rule_sets[i].is_enabled) {
            s_rule_set_warnings(c, &c->m->rule_sets[i]);
        }
    }
    for (size_t i = 0; i < n && c->rc == FSG_OK; i++) {
        applies[i] = s_rule(c, &refs[i], (uint32_t)i, &buckets);
    }
    if (c->rc == FSG_OK) {
        fsg_compile_denies(c, &buckets);
    }
    if (c->rc == FSG_OK) {
        c->rc = s_output_rules(refs, &buckets, &out->rules);
    }
    if (c->rc == FSG_OK) {
        c->rc = s_matched(refs, applies, n, out);
    }
    s_buckets_clean_up(&buckets);
    fsg_free(applies);
    fsg_free(refs);
}

enum fsg_err fsg_policy_compile(const struct fsg_policy_model *m,
                                const struct fsg_policy_target *t,
                                struct fsg_compiled_target **ret, struct fsg_error *err)
{
    return fsg_compile_run(m, t, NULL, ret, err);
}

enum fsg_err fsg_compile_run(const struct fsg_policy_model *m, const struct fsg_policy_target *t,
                             struct fsg_compile_probe *probe, struct fsg_compiled_target **ret,
                             struct fsg_error *err)
{
    const char *name = t != NULL && t->name != NULL ? t->name : "(unnamed)";
    if (m == NULL || t == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "compile: no model or no target");
    }
    if (m->is_partial) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "target %.100s: the policy was loaded partially (unresolved "
                             "references dropped) and cannot be compiled",
                             name);
    }
    struct fsg_compile_ctx c = { .m = m, .target_name = name, .probe = probe };
    struct fsg_compiled_target *out = fsg_calloc(1, sizeof *out);
    c.ip_lists = fsg_calloc(m->n_ip_lists > 0 ? m->n_ip_lists : 1, sizeof *c.ip_lists);
    c.ip_list_done = fsg_calloc(m->n_ip_lists > 0 ? m->n_ip_lists : 1, sizeof *c.ip_list_done);
    enum fsg_err rc = FSG_OK;
    if (out == NULL || c.ip_lists == NULL || c.ip_list_done == NULL ||
        (t->name != NULL && (out->name = fsg_strdup(t->name)) == NULL)) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "target %.100s: out of memory", name);
        goto out;
    }
    rc = s_resolve_target(&c, t, err);
    if (rc != FSG_OK) {
        if (rc == FSG_E_NOMEM) {
            fsg_error_set(err, rc, "out of memory");
        }
        fsg_error_prefix(err, "target %.100s: ", name);
        goto out;
    }
    s_run(&c, out);
    if (c.rc == FSG_OK) {
        s_take_strings(&c.warnings, &out->warnings, &out->n_warnings);
    }
    rc = c.rc;
    if (rc != FSG_OK) {
        if (rc == FSG_E_NOMEM || c.fail_msg[0] == '\0') {
            fsg_error_set(err, rc, "target %.100s: out of memory while compiling", name);
        } else if (rc == FSG_E_REFUSED) {
            fsg_error_set(err, rc, "target %.100s: refused, the policy cannot be compiled "
                                   "without widening access: %s", name, c.fail_msg);
        } else {
            fsg_error_set(err, rc, "target %.100s: %s", name, c.fail_msg);
        }
        goto out;
    }
    *ret = out;
    out = NULL;
out:
    fsg_compiled_target_destroy(out);
    s_ctx_clean_up(&c);
    return rc;
}

void fsg_compiled_target_destroy(struct fsg_compiled_target *c)
{
    if (c == NULL) {
        return;
    }
    fsg_free(c->name);
    fsg_sg_rules_clean_up(&c->rules);
    for (size_t i = 0; i < c->n_warnings; i++) {
        fsg_free(c->warnings[i]);
    }
    fsg_free(c->warnings);
    for (size_t i = 0; i < c->n_matched_rules; i++) {
        fsg_free(c->matched_rules[i]);
    }
    fsg_free(c->matched_rules);
    fsg_free(c);
}
