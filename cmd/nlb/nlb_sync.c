/* The pure part of nlb-sync: ENI selection, the register/deregister plan, health checks.
 * See cmd/nlb/nlb_sync.h. */
#include "cmd/nlb/nlb_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"

/* An endpoint with its parsed address, for numeric comparison. */
struct s_key {
    struct fsg_ip ip;
    long port;
};

static int s_key_cmp(const void *a, const void *b)
{
    const struct s_key *x = a, *y = b;
    int c = fsg_ip_cmp(&x->ip, &y->ip);
    if (c != 0) {
        return c;
    }
    return (x->port > y->port) - (x->port < y->port);
}

static bool s_parse_ip(const char *s, struct fsg_ip *ret)
{
    return s != NULL && fsg_ip_parse(fsg_span_from_cstr(s), ret) == FSG_OK;
}

bool fsg_nlb_target_is_registered(const struct fsg_elbv2_target_health *t)
{
    const char *reason = t->reason != NULL ? t->reason : "";
    return t->state != NULL && strcmp(t->state, "draining") != 0 &&
           strcmp(reason, "Target.NotRegistered") != 0 &&
           strcmp(reason, "Target.DeregistrationInProgress") != 0;
}

const struct fsg_elbv2_target_health *
fsg_nlb_find_target(const struct fsg_elbv2_target_health_list *current,
                    const struct fsg_nlb_endpoint *e, long default_port)
{
    struct fsg_ip want, got;
    if (!s_parse_ip(e->ip, &want)) {
        return NULL;
    }
    for (size_t i = 0; i < current->len; i++) {
        const struct fsg_elbv2_target_health *t = &current->items[i];
        long port = t->port != 0 ? t->port : default_port;
        if (port == e->port && s_parse_ip(t->id, &got) && fsg_ip_eq(&got, &want)) {
            return t;
        }
    }
    return NULL;
}

size_t fsg_nlb_first_unhealthy(const struct fsg_nlb_endpoint *wanted, size_t n,
                               const struct fsg_elbv2_target_health_list *current,
                               long default_port)
{
    for (size_t i = 0; i < n; i++) {
        const struct fsg_elbv2_target_health *t = fsg_nlb_find_target(current, &wanted[i],
                                                                      default_port);
        if (t == NULL || !fsg_nlb_target_is_registered(t) || strcmp(t->state, "healthy") != 0) {
            return i;
        }
    }
    return n;
}

/* ---------------------------------------------------------------------------------------- */
/* Plan. */

void fsg_nlb_plan_clean_up(struct fsg_nlb_plan *p)
{
    if (p == NULL) {
        return;
    }
    fsg_free(p->to_register);
    fsg_free(p->to_deregister);
    fsg_free(p->unchanged);
    *p = (struct fsg_nlb_plan){ 0 };
}

bool fsg_nlb_plan_is_empty(const struct fsg_nlb_plan *p)
{
    return p->n_register == 0 && p->n_deregister == 0;
}

/* Sorts keys[0..n) and drops duplicates; returns the new count. */
static size_t s_sort_unique(struct s_key *keys, size_t n)
{
    if (n == 0) {
        return 0;
    }
    qsort(keys, n, sizeof *keys, s_key_cmp);
    size_t out = 1;
    for (size_t i = 1; i < n; i++) {
        if (s_key_cmp(&keys[i], &keys[out - 1]) != 0) {
            keys[out++] = keys[i];
        }
    }
    return out;
}

static void s_to_endpoint(const struct s_key *k, struct fsg_nlb_endpoint *e)
{
    fsg_ip_format(&k->ip, e->ip);
    e->port = k->port;
}

static enum fsg_err s_wanted_keys(const struct fsg_nlb_endpoint *wanted, size_t n,
                                  struct s_key *keys, struct fsg_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!s_parse_ip(wanted[i].ip, &keys[i].ip)) {
            return fsg_error_set(err, FSG_E_INVALID_ARG,
                                 "wanted target \"%s\" is not an IP address", wanted[i].ip);
        }
        if (wanted[i].port < 1 || wanted[i].port > 65535) {
            return fsg_error_set(err, FSG_E_INVALID_ARG,
                                 "wanted target %s: port %ld is out of range", wanted[i].ip,
                                 wanted[i].port);
        }
        keys[i].port = wanted[i].port;
    }
    return FSG_OK;
}

static enum fsg_err s_current_keys(const struct fsg_elbv2_target_health_list *current,
                                   long default_port, struct s_key *keys, size_t *ret_n,
                                   struct fsg_error *err)
{
    size_t n = 0;
    for (size_t i = 0; i < current->len; i++) {
        const struct fsg_elbv2_target_health *t = &current->items[i];
        if (!fsg_nlb_target_is_registered(t)) {
            continue; /* draining or gone: neither kept nor deregistered again */
        }
        if (!s_parse_ip(t->id, &keys[n].ip)) {
            return fsg_error_set(err, FSG_E_PARSE,
                                 "registered target \"%s\" is not an IP address: nlb-sync needs a "
                                 "target group of type ip", t->id != NULL ? t->id : "");
        }
        keys[n++].port = t->port != 0 ? t->port : default_port;
    }
    *ret_n = n;
    return FSG_OK;
}

static bool s_contains(const struct s_key *keys, size_t n, const struct s_key *k)
{
    return n > 0 && bsearch(k, keys, n, sizeof *keys, s_key_cmp) != NULL;
}

/* Fills p from the sorted, unique key sets. */
static enum fsg_err s_diff(const struct s_key *w, size_t nw, const struct s_key *c, size_t nc,
                           struct fsg_nlb_plan *p)
{
    p->to_register = fsg_calloc(nw, sizeof *p->to_register);
    p->unchanged = fsg_calloc(nw, sizeof *p->unchanged);
    p->to_deregister = fsg_calloc(nc > 0 ? nc : 1, sizeof *p->to_deregister);
    if (p->to_register == NULL || p->unchanged == NULL || p->to_deregister == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t i = 0; i < nw; i++) {
        if (s_contains(c, nc, &w[i])) {
            s_to_endpoint(&w[i], &p->unchanged[p->n_unchanged++]);
        } else {
            s_to_endpoint(&w[i], &p->to_register[p->n_register++]);
        }
    }
    for (size_t i = 0; i < nc; i++) {
        if (!s_contains(w, nw, &c[i])) {
            s_to_endpoint(&c[i], &p->to_deregister[p->n_deregister++]);
        }
    }
    return FSG_OK;
}

enum fsg_err fsg_nlb_plan_make(const struct fsg_nlb_endpoint *wanted, size_t n_wanted,
                               const struct fsg_elbv2_target_health_list *current,
                               long default_port, struct fsg_nlb_plan *ret_plan,
                               struct fsg_error *err)
{
    if (n_wanted == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "no wanted target: refusing a plan that would empty the group");
    }
    struct fsg_nlb_plan p = { 0 };
    struct s_key *w = fsg_calloc(n_wanted, sizeof *w);
    struct s_key *c = fsg_calloc(current->len > 0 ? current->len : 1, sizeof *c);
    size_t nc = 0;
    enum fsg_err rc = w != NULL && c != NULL ? FSG_OK : FSG_E_NOMEM;
    if (rc == FSG_OK) {
        rc = s_wanted_keys(wanted, n_wanted, w, err);
    }
    if (rc == FSG_OK) {
        rc = s_current_keys(current, default_port, c, &nc, err);
    }
    if (rc == FSG_OK) {
        size_t nw = s_sort_unique(w, n_wanted);
        nc = s_sort_unique(c, nc);
        rc = s_diff(w, nw, c, nc, &p);
        if (rc == FSG_E_NOMEM) {
            fsg_error_set(err, rc, "out of memory planning the target group");
        }
    } else if (rc == FSG_E_NOMEM) {
        fsg_error_set(err, rc, "out of memory planning the target group");
    }
    if (rc == FSG_OK) {
        *ret_plan = p;
        p = (struct fsg_nlb_plan){ 0 };
    }
    fsg_nlb_plan_clean_up(&p);
    fsg_free(w);
    fsg_free(c);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* ENI selection. */

static bool s_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static bool s_shares_group(const struct fsg_rds_instance *db, const struct fsg_ec2_eni *eni)
{
    for (size_t i = 0; i < db->n_vpc_sgs; i++) {
        for (size_t j = 0; j < eni->n_group_ids; j++) {
            if (s_eq(db->vpc_sgs[i].group_id, eni->group_ids[j])) {
                return true;
            }
        }
    }
    return false;
}

bool fsg_nlb_eni_matches(const struct fsg_rds_instance *db, const struct fsg_ec2_eni *eni)
{
    struct fsg_ip ip;
    bool is_rds = s_eq(eni->description, FSG_NLB_RDS_ENI_DESCRIPTION) ||
                  s_eq(eni->requester_id, FSG_NLB_RDS_REQUESTER_ID) ||
                  s_eq(eni->attachment_owner_id, FSG_NLB_RDS_REQUESTER_ID);
    bool same_vpc = db->vpc_id == NULL || eni->vpc_id == NULL || s_eq(db->vpc_id, eni->vpc_id);
    return is_rds && same_vpc && s_eq(db->availability_zone, eni->availability_zone) &&
           s_shares_group(db, eni) && s_parse_ip(eni->private_ip, &ip);
}

static bool s_eni_has_ip(const struct fsg_ec2_eni *eni, const struct fsg_ip *ip)
{
    struct fsg_ip x;
    for (size_t i = 0; i < eni->n_private_ips; i++) {
        if (s_parse_ip(eni->private_ips[i], &x) && fsg_ip_eq(&x, ip)) {
            return true;
        }
    }
    return s_parse_ip(eni->private_ip, &x) && fsg_ip_eq(&x, ip);
}

static enum fsg_err s_ambiguous(const struct fsg_rds_instance *db,
                                const struct fsg_ec2_eni_list *enis, const char *resolved_ip,
                                struct fsg_error *err)
{
    char list[320] = "";
    size_t len = 0, n = 0;
    for (size_t i = 0; i < enis->len; i++) {
        const struct fsg_ec2_eni *e = &enis->items[i];
        if (fsg_nlb_eni_matches(db, e) && len < sizeof list) {
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s (%s)", n > 0 ? ", " : "",
                                    e->eni_id, e->private_ip);
            n++;
        }
    }
    return fsg_error_set(err, FSG_E_CONFLICT,
                         "DB instance %s: %zu RDS network interfaces in %s share its security "
                         "groups: %s; its endpoint %s %s%s, so the instance's own one is unknown "
                         "(give the database a security group of its own)",
                         db->identifier, n, db->availability_zone, list,
                         db->endpoint_address != NULL ? db->endpoint_address : "(none)",
                         resolved_ip != NULL ? "resolved to " : "did not resolve",
                         resolved_ip != NULL ? resolved_ip : "");
}

enum fsg_err fsg_nlb_select_eni(const struct fsg_rds_instance *db,
                                const struct fsg_ec2_eni_list *enis, const char *resolved_ip,
                                size_t *ret_index, struct fsg_error *err)
{
    size_t n = 0, first = 0, by_ip = SIZE_MAX;
    struct fsg_ip rip;
    bool have_rip = s_parse_ip(resolved_ip, &rip);
    for (size_t i = 0; i < enis->len; i++) {
        if (!fsg_nlb_eni_matches(db, &enis->items[i])) {
            continue;
        }
        first = n == 0 ? i : first;
        n++;
        if (have_rip && by_ip == SIZE_MAX && s_eni_has_ip(&enis->items[i], &rip)) {
            by_ip = i;
        }
    }
    if (n == 0) {
        return fsg_error_set(err, FSG_E_NOT_FOUND,
                             "DB instance %s: no RDS network interface in %s with one of its "
                             "security groups (looked for description %s or requester %s among "
                             "%zu interfaces); is the instance available?",
                             db->identifier, db->availability_zone != NULL ? db->availability_zone
                                                                           : "(no AZ)",
                             FSG_NLB_RDS_ENI_DESCRIPTION, FSG_NLB_RDS_REQUESTER_ID, enis->len);
    }
    if (n == 1) {
        *ret_index = first;
        return FSG_OK;
    }
    if (by_ip != SIZE_MAX) {
        *ret_index = by_ip;
        return FSG_OK;
    }
    return s_ambiguous(db, enis, have_rip ? resolved_ip : NULL, err);
}
