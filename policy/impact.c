#include "policy/impact.h"

#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/model.h"

bool fsg_impact_rule_allows(const struct fsg_sg_rule *r, const struct fsg_ip *src, uint16_t port,
                            uint8_t proto)
{
    if (r->proto != FSG_PROTO_ALL && r->proto != (int)proto) {
        return false;
    }
    if (r->proto == FSG_PROTO_TCP || r->proto == FSG_PROTO_UDP) {
        if ((int)port < r->from_port || (int)port > r->to_port) {
            return false;
        }
    }
    return fsg_cidr_contains_ip(&r->cidr, src);
}

static bool s_belongs(const struct fsg_impact_target *t, const struct fsg_flow *f)
{
    if (f->direction != FSG_FLOW_INGRESS) {
        return false;
    }
    for (size_t i = 0; i < t->n_enis; i++) {
        if (t->enis[i] != NULL && strcmp(t->enis[i], f->eni) == 0) {
            return true;
        }
    }
    for (size_t i = 0; i < t->n_addrs; i++) {
        if (fsg_ip_eq(&t->addrs[i], &f->dst)) {
            return true;
        }
    }
    return false;
}

static int s_conn_cmp(const void *pa, const void *pb)
{
    const struct fsg_impact_conn *a = pa, *b = pb;
    int c = fsg_ip_cmp(&a->src, &b->src);
    if (c != 0) {
        return c;
    }
    if (a->port != b->port) {
        return a->port < b->port ? -1 : 1;
    }
    return a->proto < b->proto ? -1 : a->proto > b->proto;
}

/* The target's flows as one connection each, then merged per (src, port, proto). */
static enum fsg_err s_collect(struct fsg_impact *im, const struct fsg_impact_target *t,
                              const struct fsg_flow *flows, size_t n_flows)
{
    size_t n = 0;
    for (size_t i = 0; i < n_flows; i++) {
        n += s_belongs(t, &flows[i]);
    }
    im->flows_matched = n;
    if (n == 0) {
        return FSG_OK;
    }
    im->conns = fsg_calloc(n, sizeof *im->conns);
    if (im->conns == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t i = 0; i < n_flows; i++) {
        const struct fsg_flow *f = &flows[i];
        if (s_belongs(t, f)) {
            im->conns[im->n_conns++] = (struct fsg_impact_conn){
                .src = f->src, .port = f->port, .proto = f->proto, .records = f->records,
                .accepted = f->action == FSG_FLOW_ACCEPT ? f->records : 0, .last_s = f->last_s,
            };
        }
    }
    qsort(im->conns, im->n_conns, sizeof *im->conns, s_conn_cmp);
    size_t out = 0;
    for (size_t i = 0; i < im->n_conns; i++) {
        struct fsg_impact_conn *c = &im->conns[i];
        struct fsg_impact_conn *prev = out > 0 ? &im->conns[out - 1] : NULL;
        if (prev != NULL && s_conn_cmp(prev, c) == 0) {
            prev->records += c->records;
            prev->accepted += c->accepted;
            prev->last_s = c->last_s > prev->last_s ? c->last_s : prev->last_s;
            continue;
        }
        im->conns[out++] = *c;
    }
    im->n_conns = out;
    return FSG_OK;
}

/* ---- naming sources ---------------------------------------------------------------------------- */

/* One address of a workload, for binary search. */
struct s_addr {
    struct fsg_ip ip;
    size_t workload;
};

static int s_addr_cmp(const void *pa, const void *pb)
{
    const struct s_addr *a = pa, *b = pb;
    int c = fsg_ip_cmp(&a->ip, &b->ip);
    return c != 0 ? c : (a->workload > b->workload) - (a->workload < b->workload);
}

/* Every address the policy knows a (live) workload by, sorted. Caller frees *ret. */
static enum fsg_err s_addr_index(const struct fsg_policy_model *m, struct s_addr **ret,
                                 size_t *ret_n)
{
    size_t n = 0;
    for (size_t w = 0; w < m->n_workloads; w++) {
        n += m->workloads[w].n_interfaces + 1;
    }
    struct s_addr *v = fsg_calloc(n + 1, sizeof *v);
    if (v == NULL) {
        return FSG_E_NOMEM;
    }
    n = 0;
    for (size_t w = 0; w < m->n_workloads; w++) {
        const struct fsg_policy_workload *wl = &m->workloads[w];
        for (size_t i = 0; !wl->is_deleted && i < wl->n_interfaces; i++) {
            if (wl->interfaces[i].has_address && !wl->interfaces[i].is_loopback) {
                v[n++] = (struct s_addr){ .ip = wl->interfaces[i].address, .workload = w };
            }
        }
        if (!wl->is_deleted && wl->has_public_ip) {
            v[n++] = (struct s_addr){ .ip = wl->public_ip, .workload = w };
        }
    }
    qsort(v, n, sizeof *v, s_addr_cmp);
    *ret = v;
    *ret_n = n;
    return FSG_OK;
}

static const struct s_addr *s_addr_find(const struct s_addr *v, size_t n, const struct fsg_ip *ip)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fsg_ip_cmp(&v[mid].ip, ip) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < n && fsg_ip_eq(&v[lo].ip, ip) ? &v[lo] : NULL;
}

static enum fsg_err s_name_conn(struct fsg_impact_conn *c, const struct fsg_policy_model *m,
                                const struct fsg_policy_workload *wl)
{
    const char *name = wl->name != NULL ? wl->name : wl->hostname != NULL ? wl->hostname
                                                                           : wl->href;
    c->workload = fsg_strdup(name != NULL ? name : "?");
    c->labels = fsg_calloc(wl->n_labels + 1, sizeof *c->labels);
    if (c->workload == NULL || c->labels == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t i = 0; i < wl->n_labels; i++) {
        const struct fsg_policy_label *l = &m->labels[wl->labels[i]];
        struct fsg_impact_label *out = &c->labels[c->n_labels++];
        out->key = fsg_strdup(l->key != NULL ? l->key : "?");
        out->value = fsg_strdup(l->value != NULL ? l->value : "?");
        if (out->key == NULL || out->value == NULL) {
            return FSG_E_NOMEM;
        }
    }
    return FSG_OK;
}

/* Names each connection's source with the workload the policy knows at that address. */
static enum fsg_err s_name(struct fsg_impact *im, const struct fsg_policy_model *m)
{
    if (m == NULL || im->n_conns == 0) {
        return FSG_OK;
    }
    struct s_addr *index = NULL;
    size_t n = 0;
    enum fsg_err rc = s_addr_index(m, &index, &n);
    for (size_t i = 0; rc == FSG_OK && i < im->n_conns; i++) {
        const struct s_addr *a = s_addr_find(index, n, &im->conns[i].src);
        if (a != NULL) {
            rc = s_name_conn(&im->conns[i], m, &m->workloads[a->workload]);
        }
    }
    fsg_free(index);
    return rc;
}

/* ---- judging --------------------------------------------------------------------------------- */

static const struct fsg_sg_rule *s_first_match(const struct fsg_sg_rules *rules,
                                               const struct fsg_impact_conn *c)
{
    for (size_t r = 0; rules != NULL && r < rules->len; r++) {
        if (fsg_impact_rule_allows(&rules->items[r], &c->src, c->port, c->proto)) {
            return &rules->items[r];
        }
    }
    return NULL;
}

/* Records what lets c in after the apply: the policy first, then the managed group's other
 * rules, then the interface's other groups. */
static enum fsg_err s_via(struct fsg_impact_conn *c, const struct fsg_impact_target *t,
                          const struct fsg_sg_rules *desired)
{
    const struct fsg_sg_rule *r = s_first_match(desired, c);
    const char *group = t->group_id;
    c->via = r != NULL ? FSG_IMPACT_VIA_POLICY : FSG_IMPACT_VIA_NONE;
    if (r == NULL && (r = s_first_match(t->kept, c)) != NULL) {
        c->via = FSG_IMPACT_VIA_KEPT;
    }
    for (size_t g = 0; r == NULL && g < t->n_others; g++) {
        const struct fsg_sg_current *o = &t->others[g];
        if (t->group_id != NULL && o->group_id != NULL && strcmp(o->group_id, t->group_id) == 0) {
            continue; /* the managed group is judged by its final rules above */
        }
        if ((r = s_first_match(&o->rules, c)) != NULL) {
            c->via = FSG_IMPACT_VIA_OTHER;
            group = o->group_id;
        }
    }
    c->allowed_after = r != NULL;
    if (r == NULL) {
        return FSG_OK;
    }
    c->via_group = fsg_strdup(group != NULL ? group : "?");
    c->via_rule = *r;
    c->via_rule.description = r->description != NULL ? fsg_strdup(r->description) : NULL;
    c->via_rule.rule_id = r->rule_id != NULL ? fsg_strdup(r->rule_id) : NULL;
    bool ok = c->via_group != NULL && (r->description == NULL || c->via_rule.description) &&
              (r->rule_id == NULL || c->via_rule.rule_id);
    return ok ? FSG_OK : FSG_E_NOMEM;
}

static enum fsg_err s_lists_alloc(struct fsg_impact *im)
{
    size_t n = im->n_conns > 0 ? im->n_conns : 1;
    im->would_deny = fsg_calloc(n, sizeof *im->would_deny);
    im->cut_off = fsg_calloc(n, sizeof *im->cut_off);
    im->newly_allowed = fsg_calloc(n, sizeof *im->newly_allowed);
    im->bypass = fsg_calloc(n, sizeof *im->bypass);
    bool ok = im->would_deny != NULL && im->cut_off != NULL && im->newly_allowed != NULL &&
              im->bypass != NULL;
    return ok ? FSG_OK : FSG_E_NOMEM;
}

static void s_classify(struct fsg_impact *im, const struct fsg_impact_conn *c)
{
    if (!c->allowed) {
        im->would_deny[im->n_would_deny++] = c;
    }
    if (c->accepted > 0 && !c->allowed_after) {
        /* conns are sorted by source: a new source starts where the previous cut one differs */
        const struct fsg_impact_conn *prev = im->n_cut_off > 0 ? im->cut_off[im->n_cut_off - 1]
                                                               : NULL;
        im->n_cut_sources += prev == NULL || !fsg_ip_eq(&prev->src, &c->src);
        im->cut_off[im->n_cut_off++] = c;
    }
    if (c->accepted == 0 && c->allowed_after) {
        im->newly_allowed[im->n_newly_allowed++] = c;
    }
    if (c->allowed_after && !c->allowed) {
        im->bypass[im->n_bypass++] = c;
    }
}

/* Marks each connection allowed or not (policy, then effective), each desired rule used or
 * not, and fills the lists. */
static enum fsg_err s_judge(struct fsg_impact *im, const struct fsg_impact_target *t,
                            const struct fsg_sg_rules *desired)
{
    bool *used = fsg_calloc(desired->len > 0 ? desired->len : 1, sizeof *used);
    enum fsg_err rc = used == NULL ? FSG_E_NOMEM : s_lists_alloc(im);
    for (size_t i = 0; rc == FSG_OK && i < im->n_conns; i++) {
        struct fsg_impact_conn *c = &im->conns[i];
        for (size_t r = 0; r < desired->len; r++) {
            if (fsg_impact_rule_allows(&desired->items[r], &c->src, c->port, c->proto)) {
                c->allowed = true;
                used[r] = true;
            }
        }
        rc = s_via(c, t, desired);
        if (rc == FSG_OK) {
            s_classify(im, c);
        }
    }
    for (size_t r = 0; rc == FSG_OK && r < desired->len; r++) {
        if (!used[r]) {
            rc = fsg_sg_rules_append(&im->allowed_unseen, &desired->items[r]);
        }
    }
    fsg_sg_rules_sort(&im->allowed_unseen);
    im->n_unevaluated = t->n_foreign;
    for (size_t g = 0; g < t->n_others; g++) {
        im->n_unevaluated += t->others[g].n_foreign;
    }
    fsg_free(used);
    return rc;
}

const char *fsg_impact_via_name(enum fsg_impact_via via)
{
    switch (via) {
    case FSG_IMPACT_VIA_POLICY:
        return "policy";
    case FSG_IMPACT_VIA_KEPT:
        return "kept";
    case FSG_IMPACT_VIA_OTHER:
        return "other_group";
    case FSG_IMPACT_VIA_NONE:
        break;
    }
    return "none";
}

enum fsg_err fsg_impact_compute(const struct fsg_impact_target *target,
                                const struct fsg_sg_rules *desired, const struct fsg_flow *flows,
                                size_t n_flows, struct fsg_impact **ret_impact,
                                struct fsg_error *err)
{
    enum fsg_err rc;
    struct fsg_impact *im = fsg_calloc(1, sizeof *im);
    if (im == NULL) {
        rc = FSG_E_NOMEM;
        goto out;
    }
    rc = s_collect(im, target, flows, n_flows);
    if (rc == FSG_OK) {
        rc = s_judge(im, target, desired);
    }
    if (rc == FSG_OK) {
        rc = s_name(im, target->model);
    }
    if (rc != FSG_OK) {
        goto out;
    }
    *ret_impact = im;
    im = NULL;

out:
    if (rc == FSG_E_NOMEM) {
        (void)fsg_error_set(err, rc, "out of memory in the impact analysis");
    }
    fsg_impact_destroy(im);
    return rc;
}

void fsg_impact_destroy(struct fsg_impact *impact)
{
    if (impact == NULL) {
        return;
    }
    for (size_t i = 0; i < impact->n_conns; i++) {
        struct fsg_impact_conn *c = &impact->conns[i];
        for (size_t l = 0; l < c->n_labels; l++) {
            fsg_free(c->labels[l].key);
            fsg_free(c->labels[l].value);
        }
        fsg_free(c->labels);
        fsg_free(c->workload);
        fsg_free(c->via_group);
        fsg_sg_rule_clean_up(&c->via_rule);
    }
    fsg_free(impact->conns);
    fsg_free((void *)impact->would_deny);
    fsg_free((void *)impact->cut_off);
    fsg_free((void *)impact->newly_allowed);
    fsg_free((void *)impact->bypass);
    fsg_sg_rules_clean_up(&impact->allowed_unseen);
    fsg_free(impact);
}
