/* The compiler's selection logic: label selectors, rule sides, and consumer addresses. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/compile_internal.h"

void fsg_compile_refuse(struct fsg_compile_ctx *c, const char *fmt, ...)
{
    if (c->rc != FSG_OK) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->fail_msg, sizeof c->fail_msg, fmt, ap);
    va_end(ap);
    c->rc = FSG_E_REFUSED;
}

void fsg_compile_warn(struct fsg_compile_ctx *c, const char *fmt, ...)
{
    if (c->rc != FSG_OK) {
        return;
    }
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *p = buf; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
    }
    struct fsg_strlist *l = &c->warnings;
    char **items = fsg_array_grow(l->items, &l->cap, l->len + 1, sizeof *items, 8);
    if (items == NULL) {
        c->rc = FSG_E_NOMEM;
        return;
    }
    l->items = items;
    char *s = fsg_strdup(buf);
    if (s == NULL) {
        c->rc = FSG_E_NOMEM;
        return;
    }
    l->items[l->len++] = s;
}

/* ---- selectors ------------------------------------------------------------------------------ */

static enum fsg_err s_push(size_t **arr, size_t *n, size_t *cap, size_t v)
{
    size_t *p = fsg_array_grow(*arr, cap, *n + 1, sizeof *p, 4);
    if (p == NULL) {
        return FSG_E_NOMEM;
    }
    *arr = p;
    (*arr)[(*n)++] = v;
    return FSG_OK;
}

/* The include set of key (created empty when new: an empty set matches nothing). */
static struct fsg_key_set *s_key_set(struct fsg_selector *s, const char *key)
{
    for (size_t i = 0; i < s->n_keys; i++) {
        if (strcmp(s->keys[i].key, key) == 0) {
            return &s->keys[i];
        }
    }
    struct fsg_key_set *keys = fsg_reallocarray(s->keys, s->n_keys + 1, sizeof *keys);
    if (keys == NULL) {
        return NULL;
    }
    s->keys = keys;
    s->keys[s->n_keys] = (struct fsg_key_set){ .key = key };
    return &s->keys[s->n_keys++];
}

static enum fsg_err s_add_include(const struct fsg_policy_model *m, struct fsg_selector *s,
                                  size_t label)
{
    struct fsg_key_set *ks = s_key_set(s, m->labels[label].key);
    if (ks == NULL) {
        return FSG_E_NOMEM;
    }
    return s_push(&ks->labels, &ks->n, &ks->cap, label);
}

/* Records key as an excluded label type (once). */
static enum fsg_err s_add_excluded_key(struct fsg_selector *s, const char *key)
{
    for (size_t i = 0; i < s->n_excluded_keys; i++) {
        if (strcmp(s->excluded_keys[i], key) == 0) {
            return FSG_OK;
        }
    }
    const char **keys = fsg_reallocarray(s->excluded_keys, s->n_excluded_keys + 1, sizeof *keys);
    if (keys == NULL) {
        return FSG_E_NOMEM;
    }
    s->excluded_keys = keys;
    s->excluded_keys[s->n_excluded_keys++] = key;
    return FSG_OK;
}

static enum fsg_err s_add_label(const struct fsg_policy_model *m, struct fsg_selector *s,
                                size_t label, bool is_exclusion)
{
    if (is_exclusion) {
        enum fsg_err rc = s_add_excluded_key(s, m->labels[label].key);
        return rc == FSG_OK ? s_push(&s->excluded, &s->n_excluded, &s->cap_excluded, label) : rc;
    }
    return s_add_include(m, s, label);
}

static int s_cmp_size(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa;
    size_t b = *(const size_t *)pb;
    return a < b ? -1 : a > b;
}

enum fsg_err fsg_selector_build(const struct fsg_policy_model *m,
                                const struct fsg_policy_actor *actors, size_t n,
                                struct fsg_selector *ret)
{
    struct fsg_selector s = { .m = m };
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        const struct fsg_policy_actor *a = &actors[i];
        if (a->kind == FSG_POLICY_ACTOR_LABEL) {
            s.has_labels = true;
            rc = s_add_label(m, &s, a->ref, a->is_exclusion);
        } else if (a->kind == FSG_POLICY_ACTOR_LABEL_GROUP) {
            /* A group selects any of its (recursive) members, each under its own key. */
            const struct fsg_policy_label_group *g = &m->label_groups[a->ref];
            s.has_labels = true;
            for (size_t j = 0; j < g->n_members && rc == FSG_OK; j++) {
                rc = s_add_label(m, &s, g->members[j], a->is_exclusion);
            }
            if (a->is_exclusion && g->key != NULL && rc == FSG_OK) {
                rc = s_add_excluded_key(&s, g->key);
            }
            if (g->n_members == 0 && !a->is_exclusion && rc == FSG_OK) {
                /* An empty group adds no alternative to its key; alone it matches nothing.
                 * A group without a key gets a key no label has. */
                rc = s_key_set(&s, g->key != NULL ? g->key : "\001no key") != NULL ? FSG_OK
                                                                                  : FSG_E_NOMEM;
            }
        }
    }
    for (size_t i = 0; i < s.n_keys; i++) {
        if (s.keys[i].n > 1) {
            qsort(s.keys[i].labels, s.keys[i].n, sizeof(size_t), s_cmp_size);
        }
    }
    if (s.n_excluded > 1) {
        qsort(s.excluded, s.n_excluded, sizeof(size_t), s_cmp_size);
    }
    if (rc != FSG_OK) {
        fsg_selector_clean_up(&s);
        return rc;
    }
    *ret = s;
    return FSG_OK;
}

void fsg_selector_clean_up(struct fsg_selector *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n_keys; i++) {
        fsg_free(s->keys[i].labels);
    }
    fsg_free(s->keys);
    fsg_free(s->excluded);
    fsg_free(s->excluded_keys);
    *s = (struct fsg_selector){ 0 };
}

static enum fsg_err s_copy_sizes(const size_t *src, size_t n, size_t **ret)
{
    *ret = NULL;
    if (n == 0) {
        return FSG_OK;
    }
    *ret = fsg_calloc(n, sizeof **ret);
    if (*ret == NULL) {
        return FSG_E_NOMEM;
    }
    memcpy(*ret, src, n * sizeof **ret);
    return FSG_OK;
}

/* Concrete scope number idx of base: one label per key, chosen by the mixed-radix digits of
 * idx; the exclusions copied. */
static enum fsg_err s_concrete_scope(const struct fsg_selector *base, size_t idx,
                                     struct fsg_selector *out)
{
    *out = (struct fsg_selector){ .m = base->m, .has_labels = base->has_labels };
    enum fsg_err rc = FSG_OK;
    out->keys = fsg_calloc(base->n_keys > 0 ? base->n_keys : 1, sizeof *out->keys);
    if (out->keys == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t k = 0; k < base->n_keys && rc == FSG_OK; k++) {
        size_t pick = idx % base->keys[k].n;
        idx /= base->keys[k].n;
        rc = s_copy_sizes(&base->keys[k].labels[pick], 1, &out->keys[k].labels);
        out->keys[k].key = base->keys[k].key;
        out->keys[k].n = out->keys[k].cap = 1;
        out->n_keys = k + 1;
    }
    if (rc == FSG_OK) {
        rc = s_copy_sizes(base->excluded, base->n_excluded, &out->excluded);
        out->n_excluded = out->cap_excluded = base->n_excluded;
    }
    if (rc == FSG_OK && base->n_excluded_keys > 0) {
        out->excluded_keys = fsg_calloc(base->n_excluded_keys, sizeof *out->excluded_keys);
        if (out->excluded_keys == NULL) {
            rc = FSG_E_NOMEM;
        } else {
            memcpy(out->excluded_keys, base->excluded_keys,
                   base->n_excluded_keys * sizeof *out->excluded_keys);
            out->n_excluded_keys = base->n_excluded_keys;
        }
    }
    if (rc != FSG_OK) {
        fsg_selector_clean_up(out);
    }
    return rc;
}

void fsg_scopes_free(struct fsg_selector *scopes, size_t n)
{
    for (size_t i = 0; scopes != NULL && i < n; i++) {
        fsg_selector_clean_up(&scopes[i]);
    }
    fsg_free(scopes);
}

enum fsg_err fsg_scope_expand(const struct fsg_policy_model *m, const struct fsg_policy_scope *sc,
                              const struct fsg_entity *keep, size_t n_keep,
                              struct fsg_selector **ret, size_t *ret_n)
{
    struct fsg_selector base = { 0 };
    enum fsg_err rc = fsg_selector_build(m, sc->items, sc->n_items, &base);
    if (rc != FSG_OK) {
        return rc;
    }
    for (size_t k = 0; keep != NULL && k < base.n_keys; k++) {
        struct fsg_key_set *ks = &base.keys[k];
        size_t w = 0;
        for (size_t i = 0; i < ks->n; i++) {
            bool carried = false;
            for (size_t t = 0; t < n_keep && !carried; t++) {
                for (size_t j = 0; j < keep[t].n_labels && !carried; j++) {
                    carried = keep[t].labels[j] == ks->labels[i];
                }
            }
            if (carried) {
                ks->labels[w++] = ks->labels[i];
            }
        }
        ks->n = w;
    }
    size_t n = 1;
    for (size_t k = 0; k < base.n_keys && n > 0; k++) {
        if (base.keys[k].n > 0 && n > FSG_COMPILE_MAX_SCOPES / base.keys[k].n) {
            fsg_selector_clean_up(&base);
            return FSG_E_LIMIT;
        }
        n *= base.keys[k].n;
    }
    struct fsg_selector *out = fsg_calloc(n > 0 ? n : 1, sizeof *out);
    if (out == NULL) {
        rc = FSG_E_NOMEM;
    }
    size_t done = 0;
    for (; done < n && rc == FSG_OK; done++) {
        rc = s_concrete_scope(&base, done, &out[done]);
    }
    fsg_selector_clean_up(&base);
    if (rc != FSG_OK) {
        fsg_scopes_free(out, done);
        return rc;
    }
    *ret = out;
    *ret_n = n;
    return FSG_OK;
}

static bool s_has(const size_t *sorted, size_t n, size_t v)
{
    return n > 0 && bsearch(&v, sorted, n, sizeof v, s_cmp_size) != NULL;
}

bool fsg_selector_match(const struct fsg_selector *s, const struct fsg_entity *e)
{
    for (size_t i = 0; i < e->n_labels; i++) {
        if (s_has(s->excluded, s->n_excluded, e->labels[i])) {
            return false;
        }
    }
    /* Security Policy Guide, "Policy Exclusions": an excluded label selects the workloads that
     * carry another label of the same type; one without a label of that type is not selected. */
    for (size_t k = 0; k < s->n_excluded_keys; k++) {
        bool has_key = false;
        for (size_t i = 0; i < e->n_labels && !has_key; i++) {
            has_key = strcmp(s->m->labels[e->labels[i]].key, s->excluded_keys[k]) == 0;
        }
        if (!has_key) {
            return false;
        }
    }
    for (size_t k = 0; k < s->n_keys; k++) {
        bool ok = false;
        for (size_t i = 0; i < e->n_labels && !ok; i++) {
            ok = s_has(s->keys[k].labels, s->keys[k].n, e->labels[i]);
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* ---- rule sides --------------------------------------------------------------------------- */

enum fsg_err fsg_side_build(const struct fsg_policy_model *m,
                            const struct fsg_policy_actor *actors, size_t n, unsigned resolve,
                            struct fsg_side *ret)
{
    struct fsg_side s = { .resolve = resolve, .actors = actors, .n_actors = n };
    for (size_t i = 0; i < n; i++) {
        s.has_ams |= actors[i].kind == FSG_POLICY_ACTOR_AMS;
    }
    enum fsg_err rc = fsg_selector_build(m, actors, n, &s.sel);
    if (rc == FSG_OK) {
        *ret = s;
    }
    return rc;
}

void fsg_side_clean_up(struct fsg_side *s)
{
    if (s != NULL) {
        fsg_selector_clean_up(&s->sel);
    }
}

static bool s_kind_ok(unsigned resolve, const struct fsg_entity *e)
{
    switch (e->kind) {
    case FSG_ENT_WORKLOAD:
        return (resolve & FSG_POLICY_RESOLVE_WORKLOADS) != 0;
    case FSG_ENT_VIRTUAL_SERVICE:
        return (resolve & FSG_POLICY_RESOLVE_VIRTUAL_SERVICES) != 0;
    case FSG_ENT_PSEUDO:
        /* The label-only target stands for a workload: a rule whose providers "use virtual
         * services only" does not select it (ref/pce-api.md §8.4 resolve_labels_as, §8.6:
         * with virtual services only the service is derived from the virtual service, and
         * there is none here: opening the rule's own services would be wider). */
        return (resolve & FSG_POLICY_RESOLVE_WORKLOADS) != 0;
    }
    return false;
}

bool fsg_side_selects_by_labels(const struct fsg_side *s, const struct fsg_entity *e)
{
    if (!(s->has_ams || s->sel.has_labels) || !s_kind_ok(s->resolve, e)) {
        return false;
    }
    if (s->has_ams) {
        /* All Workloads, minus any excluded label. */
        struct fsg_selector only_excl = s->sel;
        only_excl.n_keys = 0;
        return fsg_selector_match(&only_excl, e);
    }
    return fsg_selector_match(&s->sel, e);
}

static bool s_literal(const struct fsg_side *s, const struct fsg_entity *e)
{
    for (size_t i = 0; i < s->n_actors; i++) {
        const struct fsg_policy_actor *a = &s->actors[i];
        if ((a->kind == FSG_POLICY_ACTOR_WORKLOAD && e->kind == FSG_ENT_WORKLOAD &&
             a->ref == e->index) ||
            (a->kind == FSG_POLICY_ACTOR_VIRTUAL_SERVICE && e->kind == FSG_ENT_VIRTUAL_SERVICE &&
             a->ref == e->index)) {
            return true;
        }
    }
    return false;
}

bool fsg_side_selects(const struct fsg_side *s, const struct fsg_entity *e)
{
    return fsg_side_selects_by_labels(s, e) || s_literal(s, e);
}

struct fsg_entity fsg_entity_workload(const struct fsg_policy_model *m, size_t i)
{
    return (struct fsg_entity){ .kind = FSG_ENT_WORKLOAD, .index = i,
                                .labels = m->workloads[i].labels,
                                .n_labels = m->workloads[i].n_labels };
}

struct fsg_entity fsg_entity_virtual_service(const struct fsg_policy_model *m, size_t i)
{
    return (struct fsg_entity){ .kind = FSG_ENT_VIRTUAL_SERVICE, .index = i,
                                .labels = m->virtual_services[i].labels,
                                .n_labels = m->virtual_services[i].n_labels };
}

/* ---- consumer addresses -------------------------------------------------------------------- */

static bool s_is_loopback(const struct fsg_ip *ip)
{
    static const uint8_t v6_loopback[16] = { [15] = 1 };
    if (ip->is_v6) {
        return memcmp(ip->a, v6_loopback, sizeof v6_loopback) == 0;
    }
    return ip->a[12] == 127;
}

static void s_add_ip(struct fsg_compile_ctx *c, struct fsg_cidrset *set, const struct fsg_ip *ip)
{
    if (c->rc == FSG_OK) {
        c->rc = fsg_cidrset_add_range(set, ip, ip, 0);
    }
}

/* The first and last address of ip's subnet of prefix length `prefix`. */
static void s_subnet_bounds(const struct fsg_ip *ip, unsigned prefix, struct fsg_ip *first,
                            struct fsg_ip *last)
{
    unsigned base = ip->is_v6 ? 0 : 96; /* IPv4 sits in the last 4 bytes */
    *first = *ip;
    *last = *ip;
    for (unsigned bit = base + prefix; bit < 128; bit++) {
        uint8_t mask = (uint8_t)(0x80u >> (bit % 8));
        first->a[bit / 8] &= (uint8_t)~mask;
        last->a[bit / 8] |= mask;
    }
}

/* Every interface address (IPv6 ones too, whatever their order), loopback skipped; an
 * unmanaged workload without one falls back to public_ip. */
static void s_workload_sources(struct fsg_compile_ctx *c, const char *rule_href, size_t w,
                               struct fsg_cidrset *set)
{
    const struct fsg_policy_workload *wl = &c->m->workloads[w];
    size_t added = 0;
    for (size_t i = 0; i < wl->n_interfaces; i++) {
        const struct fsg_policy_interface *ifc = &wl->interfaces[i];
        if (!ifc->has_address || ifc->is_loopback || s_is_loopback(&ifc->address)) {
            continue;
        }
        added++;
        if (!c->consumer_subnets) {
            s_add_ip(c, set, &ifc->address);
        } else if (ifc->cidr_block < 0) {
            /* Narrower than the policy, never wider: said in a warning. */
            fsg_compile_warn(c,
                             "rule %s: use_workload_subnets: an interface of consumer workload "
                             "%s has no cidr_block; only its address is allowed",
                             rule_href, wl->href);
            s_add_ip(c, set, &ifc->address);
        } else if (ifc->cidr_block < (ifc->address.is_v6 ? 32 : 8)) {
            /* [flowseg's own safety rule, not a documented semantic] An interface "subnet" of
             * /0../7 (or an IPv6 one shorter than /32) is not a subnet anyone provisions:
             * taking it would open much of the Internet. */
            fsg_compile_refuse(c,
                               "rule %s: use_workload_subnets: consumer workload %s has an "
                               "interface with cidr_block /%d, too wide to be its subnet",
                               rule_href, wl->href, ifc->cidr_block);
        } else {
            struct fsg_ip first;
            struct fsg_ip last;
            s_subnet_bounds(&ifc->address, (unsigned)ifc->cidr_block, &first, &last);
            if (c->rc == FSG_OK) {
                c->rc = fsg_cidrset_add_range(set, &first, &last, 0);
            }
        }
    }
    if (added == 0 && !wl->is_managed && wl->has_public_ip) {
        s_add_ip(c, set, &wl->public_ip);
        added++;
    }
    if (added == 0) {
        fsg_compile_warn(c, "rule %s: consumer workload %s has no IP address", rule_href,
                         wl->href);
    }
}

/* Traffic from a virtual service comes from its ip_overrides, else its bound workloads. */
static void s_vs_sources(struct fsg_compile_ctx *c, const char *rule_href, size_t v,
                         struct fsg_cidrset *set)
{
    const struct fsg_policy_virtual_service *vs = &c->m->virtual_services[v];
    for (size_t i = 0; i < vs->n_ip_overrides && c->rc == FSG_OK; i++) {
        c->rc = fsg_cidrset_add_cidr(set, &vs->ip_overrides[i], 0);
    }
    if (vs->n_ip_overrides > 0) {
        return;
    }
    /* use_workload_subnets names the consumer *workloads* (ref/pce-api.md §8.6c); that a
     * virtual service's bound workloads are not among them is [inferred: §8.6c does not say],
     * read the narrow way: they stay host addresses. */
    bool subnets = c->consumer_subnets;
    c->consumer_subnets = false;
    size_t bound = 0;
    for (size_t i = 0; i < vs->n_bindings; i++) {
        size_t w = vs->bindings[i].workload;
        if (!c->m->workloads[w].is_deleted) {
            s_workload_sources(c, rule_href, w, set);
            bound++;
        }
    }
    c->consumer_subnets = subnets;
    if (bound == 0) {
        fsg_compile_warn(c,
                         "rule %s: consumer virtual service %s has no bound workload and no "
                         "ip_overrides: no address to allow",
                         rule_href, vs->href);
    }
}

/* The ip list's ranges minus its exclusions, computed once per compile. */
static const struct fsg_cidrset *s_ip_list_set(struct fsg_compile_ctx *c, size_t l)
{
    struct fsg_cidrset *set = &c->ip_lists[l];
    if (c->ip_list_done[l]) {
        return set;
    }
    const struct fsg_policy_ip_list *ipl = &c->m->ip_lists[l];
    for (size_t i = 0; i < ipl->n_ranges && c->rc == FSG_OK; i++) {
        if (!ipl->ranges[i].is_exclusion) {
            c->rc = fsg_cidrset_add_range(set, &ipl->ranges[i].first, &ipl->ranges[i].last, 0);
        }
    }
    for (size_t i = 0; i < ipl->n_ranges && c->rc == FSG_OK; i++) {
        if (ipl->ranges[i].is_exclusion) {
            c->rc = fsg_cidrset_subtract_range(set, &ipl->ranges[i].first, &ipl->ranges[i].last);
        }
    }
    if (c->rc == FSG_OK) {
        c->rc = fsg_cidrset_normalize(set);
    }
    c->ip_list_done[l] = true;
    return set;
}

static void s_ip_list_sources(struct fsg_compile_ctx *c, const char *rule_href, size_t l,
                              struct fsg_cidrset *set)
{
    const struct fsg_policy_ip_list *ipl = &c->m->ip_lists[l];
    const struct fsg_cidrset *src = s_ip_list_set(c, l);
    if (c->rc == FSG_OK) {
        c->rc = fsg_cidrset_add_set(set, src, 0);
    }
    for (size_t i = 0; i < ipl->n_fqdns; i++) {
        fsg_compile_warn(c, "rule %s: fqdn %s cannot be a security-group source", rule_href,
                         ipl->fqdns[i]);
    }
    if (ipl->n_ranges > 0 && src->len == 0) {
        fsg_compile_warn(c, "rule %s: ip list %s is empty once its exclusions are removed",
                         rule_href, ipl->href);
    }
}

static bool s_in_scope(const struct fsg_selector *scope, const struct fsg_entity *e)
{
    return scope == NULL || fsg_selector_match(scope, e);
}

/* Workloads and virtual services chosen by the consumers' labels or ams. */
static void s_label_sources(struct fsg_compile_ctx *c, const struct fsg_policy_rule *r,
                            const struct fsg_side *side, const struct fsg_selector *scope,
                            struct fsg_cidrset *set)
{
    const struct fsg_policy_model *m = c->m;
    if (!(side->has_ams || side->sel.has_labels)) {
        return;
    }
    for (size_t w = 0; w < m->n_workloads && c->rc == FSG_OK; w++) {
        struct fsg_entity e = fsg_entity_workload(m, w);
        if (!m->workloads[w].is_deleted && fsg_side_selects_by_labels(side, &e) &&
            s_in_scope(scope, &e)) {
            s_workload_sources(c, r->href, w, set);
        }
    }
    for (size_t v = 0; v < m->n_virtual_services && c->rc == FSG_OK; v++) {
        struct fsg_entity e = fsg_entity_virtual_service(m, v);
        if (fsg_side_selects_by_labels(side, &e) && s_in_scope(scope, &e)) {
            s_vs_sources(c, r->href, v, set);
        }
    }
}

void fsg_compile_sources(struct fsg_compile_ctx *c, const struct fsg_policy_rule *r,
                         const struct fsg_side *consumers, const struct fsg_selector *scope,
                         struct fsg_cidrset *set)
{
    const struct fsg_policy_model *m = c->m;
    /* ref/pce-api.md §8.6c: use_workload_subnets "consumers" = the consumer workloads'
     * interface subnets (address/cidr_block) instead of their host addresses. */
    c->consumer_subnets = (r->use_workload_subnets & FSG_POLICY_SUBNETS_CONSUMERS) != 0;
    s_label_sources(c, r, consumers, scope, set);
    for (size_t i = 0; i < consumers->n_actors && c->rc == FSG_OK; i++) {
        const struct fsg_policy_actor *a = &consumers->actors[i];
        struct fsg_entity e;
        switch (a->kind) {
        case FSG_POLICY_ACTOR_WORKLOAD:
            e = fsg_entity_workload(m, a->ref);
            if (!m->workloads[a->ref].is_deleted && s_in_scope(scope, &e)) {
                s_workload_sources(c, r->href, a->ref, set);
            }
            break;
        case FSG_POLICY_ACTOR_VIRTUAL_SERVICE:
            e = fsg_entity_virtual_service(m, a->ref);
            if (s_in_scope(scope, &e)) {
                s_vs_sources(c, r->href, a->ref, set);
            }
            break;
        case FSG_POLICY_ACTOR_IP_LIST:
            s_ip_list_sources(c, r->href, a->ref, set);
            break;
        case FSG_POLICY_ACTOR_UNSUPPORTED:
            fsg_compile_warn(c, "rule %s: consumer %s%s%s cannot be a security-group source",
                             r->href, a->what != NULL ? a->what : "actor",
                             a->href != NULL ? " " : "", a->href != NULL ? a->href : "");
            break;
        case FSG_POLICY_ACTOR_LABEL:
        case FSG_POLICY_ACTOR_LABEL_GROUP:
        case FSG_POLICY_ACTOR_AMS:
            break;
        }
    }
    c->consumer_subnets = false;
}
