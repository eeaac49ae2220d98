/* flowseg explain's engine: the compiler run in explain mode keeps, per rule, what it does with
 * one probe (source address, port/proto): allows it, allows it on other ports only, removes it
 * (override deny), or does not have it as a consumer, and why (scope, exclusion, labels). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/compile_internal.h"

const char *fsg_explain_verdict_name(enum fsg_explain_verdict v)
{
    switch (v) {
    case FSG_EXPLAIN_ALLOWS:
        return "allows";
    case FSG_EXPLAIN_OTHER_PORT:
        return "allows_other_ports";
    case FSG_EXPLAIN_DENIES:
        return "denies";
    case FSG_EXPLAIN_NOT_A_SOURCE:
        return "not_a_source";
    }
    return "?";
}

bool fsg_compile_port_holds(const struct fsg_port *p, const struct fsg_policy_probe *probe)
{
    if (probe->proto < 0 || p->proto == FSG_PROTO_ALL) {
        return true;
    }
    if (p->proto != probe->proto) {
        return false;
    }
    if (probe->port < 0) {
        return true;
    }
    switch (p->proto) {
    case FSG_PROTO_TCP:
    case FSG_PROTO_UDP:
        return p->from <= probe->port && probe->port <= p->to;
    case FSG_PROTO_ICMP:
    case FSG_PROTO_ICMPV6:
        return p->from < 0 || p->from == probe->port;
    default:
        return true;
    }
}

static void s_ports_text(const struct fsg_ports *ports, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ports->len && n < size; i++) {
        const struct fsg_port *p = &ports->items[i];
        char proto[8];
        const char *sep = i > 0 ? ", " : "";
        if (p->proto == FSG_PROTO_ALL) {
            n += (size_t)snprintf(out + n, size - n, "%sall traffic", sep);
        } else if (p->proto == FSG_PROTO_TCP || p->proto == FSG_PROTO_UDP) {
            if (p->from == p->to) {
                n += (size_t)snprintf(out + n, size - n, "%s%s %d", sep,
                                      fsg_sg_proto_name(p->proto, proto), p->from);
            } else {
                n += (size_t)snprintf(out + n, size - n, "%s%s %d-%d", sep,
                                      fsg_sg_proto_name(p->proto, proto), p->from, p->to);
            }
        } else if (p->proto == FSG_PROTO_ICMP || p->proto == FSG_PROTO_ICMPV6) {
            n += (size_t)snprintf(out + n, size - n, "%s%s type %d code %d", sep,
                                  fsg_sg_proto_name(p->proto, proto), p->from, p->to);
        } else {
            n += (size_t)snprintf(out + n, size - n, "%sprotocol %d", sep, p->proto);
        }
    }
    if (ports->len == 0) {
        snprintf(out, size, "no port");
    }
}

static void s_step(struct fsg_compile_ctx *c, enum fsg_explain_verdict v, const char *rule,
                   const struct fsg_policy_rule_set *rs, const char *fmt, ...) FSG_PRINTF(5, 6);

static void s_step(struct fsg_compile_ctx *c, enum fsg_explain_verdict v, const char *rule,
                   const struct fsg_policy_rule_set *rs, const char *fmt, ...)
{
    struct fsg_compile_probe *p = c->probe;
    if (c->rc != FSG_OK) {
        return;
    }
    char detail[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    struct fsg_explain_step *steps = fsg_array_grow(p->steps, &p->cap, p->len + 1, sizeof *steps, 8);
    if (steps == NULL) {
        c->rc = FSG_E_NOMEM;
        return;
    }
    p->steps = steps;
    struct fsg_explain_step *s = &p->steps[p->len];
    *s = (struct fsg_explain_step){ .verdict = v };
    s->rule = fsg_strdup(rule);
    s->rule_set = rs != NULL ? fsg_strdup(rs->href) : NULL;
    s->rule_set_name = rs != NULL && rs->name != NULL ? fsg_strdup(rs->name) : NULL;
    s->detail = fsg_strdup(detail);
    p->len++;
    if (s->rule == NULL || s->detail == NULL || (rs != NULL && s->rule_set == NULL) ||
        (rs != NULL && rs->name != NULL && s->rule_set_name == NULL)) {
        c->rc = FSG_E_NOMEM;
    }
}

/* "role=Web, env=Dev" (or "no labels"). */
static void s_labels_text(const struct fsg_policy_model *m, const struct fsg_entity *e, char *out,
                          size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < e->n_labels && n < size; i++) {
        const struct fsg_policy_label *l = &m->labels[e->labels[i]];
        n += (size_t)snprintf(out + n, size - n, "%s%s=%s", i > 0 ? ", " : "", l->key, l->value);
    }
    if (e->n_labels == 0) {
        snprintf(out, size, "no labels");
    }
}

static bool s_workload_has(const struct fsg_policy_workload *w, const struct fsg_ip *ip)
{
    for (size_t i = 0; i < w->n_interfaces; i++) {
        if (w->interfaces[i].has_address && fsg_ip_eq(&w->interfaces[i].address, ip)) {
            return true;
        }
    }
    return w->has_public_ip && fsg_ip_eq(&w->public_ip, ip);
}

/* An exclusion of sel that keeps e out ("carries the excluded label env=Prod", "has no env
 * label: ..."); false when none does. */
static bool s_exclusion_reason(const struct fsg_policy_model *m, const struct fsg_selector *sel,
                               const struct fsg_entity *e, char *out, size_t size)
{
    for (size_t i = 0; i < e->n_labels; i++) {
        for (size_t j = 0; j < sel->n_excluded; j++) {
            if (sel->excluded[j] == e->labels[i]) {
                const struct fsg_policy_label *l = &m->labels[e->labels[i]];
                snprintf(out, size, "carries the excluded label %s=%s", l->key, l->value);
                return true;
            }
        }
    }
    for (size_t k = 0; k < sel->n_excluded_keys; k++) {
        bool has = false;
        for (size_t i = 0; i < e->n_labels && !has; i++) {
            has = strcmp(m->labels[e->labels[i]].key, sel->excluded_keys[k]) == 0;
        }
        if (!has) {
            snprintf(out, size, "has no %s label: an exclusion selects only workloads that carry "
                                "another label of that type",
                     sel->excluded_keys[k]);
            return true;
        }
    }
    return false;
}

/* Why workload w is not a source of the rule (consumers side, scope NULL = extra-scope). */
static void s_workload_reason(const struct fsg_compile_ctx *c, size_t w, const struct fsg_side *cons,
                              const struct fsg_selector *scope, char *out, size_t size)
{
    const struct fsg_policy_model *m = c->m;
    struct fsg_entity e = fsg_entity_workload(m, w);
    char labels[300];
    s_labels_text(m, &e, labels, sizeof labels);
    const char *href = m->workloads[w].href;
    char excl[300];
    if (fsg_side_selects(cons, &e)) {
        if (scope != NULL && !fsg_selector_match(scope, &e) &&
            s_exclusion_reason(m, scope, &e, excl, sizeof excl)) {
            snprintf(out, size, "workload %s (%s) is one of the consumers but is outside the "
                                "scope of this intra-scope rule: it %s",
                     href, labels, excl);
        } else if (scope != NULL && !fsg_selector_match(scope, &e)) {
            snprintf(out, size, "workload %s (%s) is one of the consumers but is outside the "
                                "scope in which the rule applies to the target (an intra-scope "
                                "rule holds consumers to the target's scope)",
                     href, labels);
        } else {
            snprintf(out, size, "workload %s (%s) is one of the consumers, but this address is "
                                "not one it is allowed from",
                     href, labels);
        }
        return;
    }
    const struct fsg_selector *sel = &cons->sel;
    if (s_exclusion_reason(m, sel, &e, excl, sizeof excl)) {
        snprintf(out, size, "workload %s (%s) %s", href, labels, excl);
        return;
    }
    if ((cons->has_ams || sel->has_labels) && (cons->resolve & FSG_POLICY_RESOLVE_WORKLOADS) == 0) {
        snprintf(out, size, "workload %s (%s): the rule's consumer labels select virtual "
                            "services only (resolve_labels_as)",
                 href, labels);
        return;
    }
    snprintf(out, size, "workload %s (%s) does not match the rule's consumers", href, labels);
}

/* Why the probe's address is not among the rule's sources. */
static void s_reason(const struct fsg_compile_ctx *c, const struct fsg_side *cons,
                     const struct fsg_selector *scope, char *out, size_t size)
{
    const struct fsg_policy_model *m = c->m;
    const struct fsg_ip *ip = &c->probe->p.src;
    for (size_t w = 0; w < m->n_workloads; w++) {
        if (!m->workloads[w].is_deleted && s_workload_has(&m->workloads[w], ip)) {
            s_workload_reason(c, w, cons, scope, out, size);
            return;
        }
    }
    for (size_t i = 0; i < cons->n_actors; i++) {
        const struct fsg_policy_actor *a = &cons->actors[i];
        if (a->kind != FSG_POLICY_ACTOR_IP_LIST) {
            continue;
        }
        const struct fsg_policy_ip_list *l = &m->ip_lists[a->ref];
        for (size_t j = 0; j < l->n_ranges; j++) {
            const struct fsg_policy_ip_range *r = &l->ranges[j];
            if (r->is_exclusion && r->first.is_v6 == ip->is_v6 &&
                fsg_ip_cmp(&r->first, ip) <= 0 && fsg_ip_cmp(ip, &r->last) <= 0) {
                snprintf(out, size, "the address is excluded from ip list %s (%s)", l->href,
                         l->name != NULL ? l->name : "unnamed");
                return;
            }
        }
    }
    snprintf(out, size, "no workload has this address and none of the rule's ip lists holds it");
}

void fsg_compile_trace_rule(struct fsg_compile_ctx *c, const struct fsg_policy_rule *r,
                            const struct fsg_side *consumers, const struct fsg_selector *scope,
                            const struct fsg_ports *ports, const struct fsg_cidrset *sources)
{
    const struct fsg_policy_probe *p = &c->probe->p;
    char ptext[300];
    s_ports_text(ports, ptext, sizeof ptext);
    if (fsg_cidrset_contains_ip(sources, &p->src)) {
        bool holds = false;
        for (size_t i = 0; i < ports->len && !holds; i++) {
            holds = fsg_compile_port_holds(&ports->items[i], p);
        }
        if (holds) {
            s_step(c, FSG_EXPLAIN_ALLOWS, r->href, c->cur_rule_set, "allows %s", ptext);
        } else {
            s_step(c, FSG_EXPLAIN_OTHER_PORT, r->href, c->cur_rule_set,
                   "has this source as a consumer, on %s only", ptext);
        }
        return;
    }
    char why[600];
    s_reason(c, consumers, scope, why, sizeof why);
    s_step(c, FSG_EXPLAIN_NOT_A_SOURCE, r->href, c->cur_rule_set, "%s", why);
}

void fsg_compile_trace_deny(struct fsg_compile_ctx *c, const struct fsg_policy_deny_rule *d,
                            const struct fsg_policy_rule_set *rs, const struct fsg_ports *ports,
                            const struct fsg_cidrset *ds)
{
    const struct fsg_policy_probe *p = &c->probe->p;
    if (!fsg_cidrset_contains_ip(ds, &p->src)) {
        return;
    }
    for (size_t i = 0; i < ports->len; i++) {
        if (fsg_compile_port_holds(&ports->items[i], p)) {
            char ptext[300];
            s_ports_text(ports, ptext, sizeof ptext);
            s_step(c, FSG_EXPLAIN_DENIES, d->href, rs, "override deny of %s from this source",
                   ptext);
            return;
        }
    }
}

/* ---- the result ------------------------------------------------------------------------- */

static int s_rank(enum fsg_explain_verdict v)
{
    switch (v) {
    case FSG_EXPLAIN_ALLOWS:
        return 0;
    case FSG_EXPLAIN_DENIES:
        return 1;
    case FSG_EXPLAIN_OTHER_PORT:
        return 2;
    case FSG_EXPLAIN_NOT_A_SOURCE:
        return 3;
    }
    return 4;
}

static int s_cmp_step(const void *pa, const void *pb)
{
    const struct fsg_explain_step *a = pa;
    const struct fsg_explain_step *b = pb;
    int c = strcmp(a->rule, b->rule);
    if (c != 0) {
        return c;
    }
    return s_rank(a->verdict) - s_rank(b->verdict);
}

static int s_cmp_step_out(const void *pa, const void *pb)
{
    const struct fsg_explain_step *a = pa;
    const struct fsg_explain_step *b = pb;
    int r = s_rank(a->verdict) - s_rank(b->verdict);
    return r != 0 ? r : strcmp(a->rule, b->rule);
}

static void s_step_free(struct fsg_explain_step *s)
{
    fsg_free(s->rule);
    fsg_free(s->rule_set);
    fsg_free(s->rule_set_name);
    fsg_free(s->detail);
}

/* One step per rule (a rule met in several scopes keeps its best verdict), allows first. */
static void s_dedupe(struct fsg_compile_probe *p)
{
    if (p->len > 1) {
        qsort(p->steps, p->len, sizeof *p->steps, s_cmp_step);
    }
    size_t k = 0;
    for (size_t i = 0; i < p->len; i++) {
        if (k > 0 && strcmp(p->steps[k - 1].rule, p->steps[i].rule) == 0) {
            s_step_free(&p->steps[i]);
        } else {
            p->steps[k++] = p->steps[i];
        }
    }
    p->len = k;
    if (k > 1) {
        qsort(p->steps, k, sizeof *p->steps, s_cmp_step_out);
    }
}

static bool s_rule_holds(const struct fsg_sg_rule *r, const struct fsg_policy_probe *p)
{
    struct fsg_port port = { r->proto, r->from_port, r->to_port };
    return fsg_cidr_contains_ip(&r->cidr, &p->src) && fsg_compile_port_holds(&port, p);
}

static enum fsg_err s_summary(struct fsg_explanation *e, char **ret)
{
    size_t n[4] = { 0 };
    const char *first[4] = { NULL };
    for (size_t i = 0; i < e->n_steps; i++) {
        size_t v = (size_t)e->steps[i].verdict;
        if (n[v]++ == 0) {
            first[v] = e->steps[i].rule;
        }
    }
    char buf[700];
    if (e->allowed) {
        snprintf(buf, sizeof buf, "allowed: %zu security-group rule(s), from %zu allow rule(s) "
                                  "(first: %s)",
                 e->matching.len, n[FSG_EXPLAIN_ALLOWS],
                 first[FSG_EXPLAIN_ALLOWS] != NULL ? first[FSG_EXPLAIN_ALLOWS] : "-");
    } else if (n[FSG_EXPLAIN_DENIES] > 0 && n[FSG_EXPLAIN_ALLOWS] > 0) {
        snprintf(buf, sizeof buf, "not allowed: allowed by %s but removed by override deny rule %s",
                 first[FSG_EXPLAIN_ALLOWS], first[FSG_EXPLAIN_DENIES]);
    } else if (n[FSG_EXPLAIN_ALLOWS] > 0) {
        snprintf(buf, sizeof buf, "not allowed: %s allows it, but a security group cannot say "
                                  "so exactly (see the warnings)",
                 first[FSG_EXPLAIN_ALLOWS]);
    } else if (n[FSG_EXPLAIN_OTHER_PORT] > 0) {
        snprintf(buf, sizeof buf, "not allowed on this port: %s allows this source on other "
                                  "ports only",
                 first[FSG_EXPLAIN_OTHER_PORT]);
    } else if (n[FSG_EXPLAIN_NOT_A_SOURCE] > 0) {
        snprintf(buf, sizeof buf, "not allowed: %zu rule(s) apply to the target, none has this "
                                  "source as a consumer",
                 n[FSG_EXPLAIN_NOT_A_SOURCE]);
    } else {
        snprintf(buf, sizeof buf, "not allowed: no allow rule applies to the target");
    }
    *ret = fsg_strdup(buf);
    return *ret != NULL ? FSG_OK : FSG_E_NOMEM;
}

enum fsg_err fsg_policy_explain(const struct fsg_policy_model *m, const struct fsg_policy_target *t,
                                const struct fsg_policy_probe *probe,
                                struct fsg_explanation **ret, struct fsg_error *err)
{
    struct fsg_compile_probe p = { .p = *probe };
    struct fsg_explanation *e = fsg_calloc(1, sizeof *e);
    if (e == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    enum fsg_err rc = fsg_compile_run(m, t, &p, &e->compiled, err);
    if (rc == FSG_OK) {
        s_dedupe(&p);
        e->steps = p.steps;
        e->n_steps = p.len;
        p = (struct fsg_compile_probe){ 0 };
        const struct fsg_sg_rules *rules = &e->compiled->rules;
        for (size_t i = 0; i < rules->len && rc == FSG_OK; i++) {
            if (s_rule_holds(&rules->items[i], probe)) {
                rc = fsg_sg_rules_append(&e->matching, &rules->items[i]);
            }
        }
        e->allowed = e->matching.len > 0;
    }
    if (rc == FSG_OK) {
        rc = s_summary(e, &e->summary);
    }
    for (size_t i = 0; i < p.len; i++) {
        s_step_free(&p.steps[i]);
    }
    fsg_free(p.steps);
    if (rc != FSG_OK) {
        if (rc == FSG_E_NOMEM) {
            fsg_error_set(err, rc, "out of memory");
        }
        fsg_explanation_destroy(e);
        return rc;
    }
    *ret = e;
    return FSG_OK;
}

void fsg_explanation_destroy(struct fsg_explanation *e)
{
    if (e == NULL) {
        return;
    }
    fsg_compiled_target_destroy(e->compiled);
    fsg_sg_rules_clean_up(&e->matching);
    for (size_t i = 0; i < e->n_steps; i++) {
        s_step_free(&e->steps[i]);
    }
    fsg_free(e->steps);
    fsg_free(e->summary);
    fsg_free(e);
}
