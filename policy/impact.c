#include "policy/impact.h"

#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"

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

/* Marks each connection allowed or not, and each desired rule used or not. */
static enum fsg_err s_judge(struct fsg_impact *im, const struct fsg_sg_rules *desired)
{
    enum fsg_err rc = FSG_OK;
    bool *used = fsg_calloc(desired->len > 0 ? desired->len : 1, sizeof *used);
    im->would_deny = fsg_calloc(im->n_conns > 0 ? im->n_conns : 1, sizeof *im->would_deny);
    if (used == NULL || im->would_deny == NULL) {
        rc = FSG_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < im->n_conns; i++) {
        struct fsg_impact_conn *c = &im->conns[i];
        for (size_t r = 0; r < desired->len; r++) {
            if (fsg_impact_rule_allows(&desired->items[r], &c->src, c->port, c->proto)) {
                c->allowed = true;
                used[r] = true;
            }
        }
        if (!c->allowed) {
            im->would_deny[im->n_would_deny++] = c;
        }
    }
    for (size_t r = 0; rc == FSG_OK && r < desired->len; r++) {
        if (!used[r]) {
            rc = fsg_sg_rules_append(&im->allowed_unseen, &desired->items[r]);
        }
    }
    fsg_sg_rules_sort(&im->allowed_unseen);

out:
    fsg_free(used);
    return rc;
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
        rc = s_judge(im, desired);
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
    fsg_free(impact->conns);
    fsg_free((void *)impact->would_deny);
    fsg_sg_rules_clean_up(&impact->allowed_unseen);
    fsg_free(impact);
}
