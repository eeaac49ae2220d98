/* Deny rules and enforcement boundaries, for an allow-only security group (ref/pce-api.md §6
 * "Deny rule", §8.6b).
 *
 * Precedence (Security Policy Guide, rules: override deny > allow > deny > default action):
 * - An override-deny rule beats every allow rule: its sources are subtracted, exactly, from the
 *   permissions it names, for the target it applies to. A permission that only partly overlaps
 *   the denied one (All Services minus TCP 5432, ICMP all minus one type) cannot be carved out
 *   of a security group: its sources lose the whole permission (narrower), with a warning.
 * - An ordinary deny rule loses to every allow rule and only decides traffic no allow rule
 *   allows, which a security group denies anyway: nothing to change (a warning says so).
 * - An enforcement boundary is a deny of that kind too: allow rules take precedence, and it
 *   applies only to managed workloads in selective enforcement (Security Policy Guide,
 *   "Enforcement Boundaries" / "Manage Enforcement Boundaries"): nothing to change either.
 * Label actors of deny rules select workloads (they have no resolve_labels_as). What cannot be
 * evaluated in an override deny toward the target (FQDNs, unsupported actors) refuses the
 * target: ignoring it could widen access. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/compile_internal.h"

struct s_deny_ref {
    const struct fsg_policy_deny_rule *d;
    const struct fsg_policy_rule_set *rs; /* NULL for an enforcement boundary */
};

static int s_cmp_deny(const void *pa, const void *pb)
{
    const struct s_deny_ref *a = pa;
    const struct s_deny_ref *b = pb;
    return strcmp(a->d->href, b->d->href);
}

enum s_rel { S_NONE, S_COVERS, S_SPLIT, S_PARTIAL };

/* How the denied permission d relates to the allowed permission b. */
static enum s_rel s_relation(struct fsg_port b, struct fsg_port d)
{
    if (d.proto == FSG_PROTO_ALL) {
        return S_COVERS;
    }
    if (b.proto == FSG_PROTO_ALL) {
        return S_PARTIAL;
    }
    if (b.proto != d.proto) {
        return S_NONE;
    }
    switch (b.proto) {
    case FSG_PROTO_TCP:
    case FSG_PROTO_UDP:
        if (d.to < b.from || d.from > b.to) {
            return S_NONE;
        }
        return d.from <= b.from && d.to >= b.to ? S_COVERS : S_SPLIT;
    case FSG_PROTO_ICMP:
    case FSG_PROTO_ICMPV6:
        /* from = type, to = code; -1 = all */
        if (d.from < 0) {
            return S_COVERS;
        }
        if (b.from < 0) {
            return S_PARTIAL;
        }
        if (b.from != d.from) {
            return S_NONE;
        }
        if (d.to < 0 || d.to == b.to) {
            return S_COVERS;
        }
        return b.to < 0 ? S_PARTIAL : S_NONE;
    default:
        return S_COVERS; /* the whole protocol on both sides */
    }
}

static void s_port_text(struct fsg_port p, char *out, size_t size)
{
    if (p.proto == FSG_PROTO_ALL) {
        snprintf(out, size, "all traffic");
    } else if (p.proto == FSG_PROTO_TCP || p.proto == FSG_PROTO_UDP) {
        snprintf(out, size, "%s %d-%d", p.proto == FSG_PROTO_TCP ? "tcp" : "udp", p.from, p.to);
    } else if (p.proto == FSG_PROTO_ICMP || p.proto == FSG_PROTO_ICMPV6) {
        snprintf(out, size, "%s type %d code %d", p.proto == FSG_PROTO_ICMP ? "icmp" : "icmpv6",
                 p.from, p.to);
    } else {
        snprintf(out, size, "protocol %d", p.proto);
    }
}

/* Moves the part of set in the port range [from, to] of proto into its own bucket. */
static void s_copy_to(struct fsg_compile_ctx *c, struct fsg_buckets *b, int proto, int from,
                      int to, const struct fsg_cidrset *set)
{
    struct fsg_cidrset *dst = fsg_compile_bucket(c, b, (struct fsg_port){ proto, from, to });
    if (dst != NULL && c->rc == FSG_OK) {
        c->rc = fsg_cidrset_copy(dst, set);
    }
}

/* Subtracts the denied sources ds on permission dp from every bucket. */
static void s_apply(struct fsg_compile_ctx *c, const char *href, struct fsg_buckets *b,
                    struct fsg_port dp, const struct fsg_cidrset *ds)
{
    size_t n0 = b->len;
    for (size_t i = 0; i < n0 && c->rc == FSG_OK; i++) {
        struct fsg_port bp = b->items[i].port;
        if (b->items[i].set.len == 0) {
            continue;
        }
        enum s_rel rel = s_relation(bp, dp);
        if (rel == S_NONE || !fsg_cidrset_overlaps(&b->items[i].set, ds)) {
            continue;
        }
        if (rel == S_PARTIAL) {
            char bt[64];
            char dt[64];
            s_port_text(bp, bt, sizeof bt);
            s_port_text(dp, dt, sizeof dt);
            fsg_compile_warn(c,
                             "override deny rule %s: denies %s, which a security group cannot "
                             "carve out of the allowed %s: its sources lose all of %s (narrower "
                             "than the policy)",
                             href, dt, bt, bt);
        }
        if (rel != S_SPLIT) {
            c->rc = fsg_cidrset_subtract_set(&b->items[i].set, ds);
            continue;
        }
        /* TCP/UDP ranges that overlap in part: the parts outside the denied range keep every
         * source, the overlap loses the denied ones. */
        struct fsg_cidrset whole = b->items[i].set;
        b->items[i].set = FSG_CIDRSET_INIT;
        int lo = bp.from > dp.from ? bp.from : dp.from;
        int hi = bp.to < dp.to ? bp.to : dp.to;
        if (bp.from < lo) {
            s_copy_to(c, b, bp.proto, bp.from, lo - 1, &whole);
        }
        if (hi < bp.to) {
            s_copy_to(c, b, bp.proto, hi + 1, bp.to, &whole);
        }
        if (c->rc == FSG_OK) {
            c->rc = fsg_cidrset_subtract_set(&whole, ds);
        }
        s_copy_to(c, b, bp.proto, lo, hi, &whole);
        fsg_cidrset_clean_up(&whole);
    }
}

/* Whether the deny's consumers hold something a security group cannot subtract. */
static bool s_refuse_consumers(struct fsg_compile_ctx *c, const struct fsg_policy_deny_rule *d)
{
    for (size_t i = 0; i < d->n_consumers; i++) {
        const struct fsg_policy_actor *a = &d->consumers[i];
        if (a->kind == FSG_POLICY_ACTOR_UNSUPPORTED) {
            fsg_compile_refuse(c, "override deny rule %s: consumer %s cannot be evaluated, and "
                                  "ignoring it could allow what it denies",
                               d->href, a->what != NULL ? a->what : "actor");
            return true;
        }
        if (a->kind == FSG_POLICY_ACTOR_IP_LIST && c->m->ip_lists[a->ref].n_fqdns > 0) {
            fsg_compile_refuse(c, "override deny rule %s: ip list %s holds FQDNs (%s), which a "
                                  "security group cannot subtract: their addresses could stay "
                                  "allowed",
                               d->href, c->m->ip_lists[a->ref].href,
                               c->m->ip_lists[a->ref].fqdns[0]);
            return true;
        }
    }
    return false;
}

/* The deny's sources in one scope (NULL = unscoped) into ds, normalised. */
static void s_deny_sources(struct fsg_compile_ctx *c, const struct fsg_policy_deny_rule *d,
                           const struct fsg_side *cons, const struct fsg_selector *scope,
                           struct fsg_cidrset *ds)
{
    struct fsg_policy_rule fake = { .href = d->href, .consumers = d->consumers,
                                    .n_consumers = d->n_consumers };
    fsg_compile_sources(c, &fake, cons, scope, ds);
    if (c->rc == FSG_OK && d->all_ips_except_consumers) {
        /* "All IPs except" the consumers. */
        struct fsg_cidrset all = FSG_CIDRSET_INIT;
        struct fsg_cidr any4;
        struct fsg_cidr any6;
        c->rc = fsg_cidr_parse(fsg_span_from_cstr("0.0.0.0/0"), false, &any4);
        if (c->rc == FSG_OK) {
            c->rc = fsg_cidr_parse(fsg_span_from_cstr("::/0"), false, &any6);
        }
        if (c->rc == FSG_OK) {
            c->rc = fsg_cidrset_add_cidr(&all, &any4, 0);
        }
        if (c->rc == FSG_OK) {
            c->rc = fsg_cidrset_add_cidr(&all, &any6, 0);
        }
        if (c->rc == FSG_OK) {
            c->rc = fsg_cidrset_subtract_set(&all, ds);
        }
        fsg_cidrset_clean_up(ds);
        *ds = all;
    }
    if (c->rc == FSG_OK) {
        c->rc = fsg_cidrset_normalize(ds);
    }
}

/* Whether the deny's providers select one of the target's entities in scope. */
static bool s_selects_target(struct fsg_compile_ctx *c, const struct fsg_policy_deny_rule *d,
                             const struct fsg_side *prov, const struct fsg_selector *scope)
{
    /* An IP list as the provider of an override deny denies traffic toward those addresses
     * (ref/pce-api.md §6, "Deny rule": its actors include ip_list; override denies take
     * precedence over allow rules), enforced on the consumers' side too: if it holds the
     * target's address the deny applies to it. Which addresses the target answers on is not
     * known here, so such a deny refuses the target rather than being ignored (ignoring it could
     * be wider than the policy) [flowseg's own safety rule; not a documented semantic]. */
    for (size_t i = 0; d->is_override && i < d->n_providers; i++) {
        if (d->providers[i].kind == FSG_POLICY_ACTOR_IP_LIST) {
            fsg_compile_refuse(c, "override deny rule %s: an ip list as provider; flowseg cannot "
                                  "tell whether it holds this target's address",
                               d->href);
            return false;
        }
    }
    for (size_t i = 0; i < c->n_targets; i++) {
        const struct fsg_entity *e = &c->targets[i];
        if (!fsg_selector_match(scope, e)) {
            continue;
        }
        /* "All IPs except" the providers: applied to the target (denying more is narrower). */
        if (d->all_ips_except_providers || fsg_side_selects(prov, e)) {
            return true;
        }
    }
    return false;
}

/* One deny rule (or boundary) over its concrete scopes. */
static void s_deny(struct fsg_compile_ctx *c, const struct s_deny_ref *ref, struct fsg_buckets *b)
{
    const struct fsg_policy_deny_rule *d = ref->d;
    struct fsg_side prov = { 0 };
    struct fsg_side cons = { 0 };
    struct fsg_selector *scopes = NULL;
    size_t n_scopes = 0;
    struct fsg_ports ports = { 0 };
    bool applies = false;
    c->rc = fsg_side_build(c->m, d->providers, d->n_providers, FSG_POLICY_RESOLVE_WORKLOADS,
                           &prov);
    if (c->rc == FSG_OK) {
        c->rc = fsg_side_build(c->m, d->consumers, d->n_consumers, FSG_POLICY_RESOLVE_WORKLOADS,
                               &cons);
    }
    if (c->rc == FSG_OK && ref->rs != NULL) {
        fsg_compile_rule_set_scopes(c, ref->rs, &scopes, &n_scopes);
    } else if (c->rc == FSG_OK) {
        /* A boundary has no scope: one scope that holds everything. */
        scopes = fsg_calloc(1, sizeof *scopes);
        n_scopes = scopes != NULL ? 1 : 0;
        c->rc = scopes != NULL ? FSG_OK : FSG_E_NOMEM;
    }
    for (size_t s = 0; s < n_scopes && c->rc == FSG_OK; s++) {
        if (!s_selects_target(c, d, &prov, &scopes[s])) {
            continue;
        }
        if (!d->is_override) {
            applies = true;
            break;
        }
        if (!applies && (s_refuse_consumers(c, d) || c->rc != FSG_OK)) {
            break;
        }
        if (!applies && (d->use_workload_subnets & FSG_POLICY_SUBNETS_CONSUMERS) != 0) {
            /* [Not documented for deny rules: ref/pce-api.md §8.6c describes
             * use_workload_subnets for allow rules, and §6 does not list it for denies; refused
             * to be safe.] Read as for allow rules, the deny would cover the consumers' whole
             * subnets; only their host addresses could be subtracted here: wider than the
             * policy. */
            fsg_compile_refuse(c, "override deny rule %s: use_workload_subnets \"consumers\" "
                                  "(denied subnets) is not supported; only host addresses "
                                  "could be subtracted", d->href);
            break;
        }
        if (!applies) {
            fsg_compile_deny_ports(c, d, &ports);
        }
        applies = true;
        if (d->all_ips_except_providers) {
            fsg_compile_warn(c, "override deny rule %s: denies toward all addresses except its "
                                "providers; applied to the target whatever its address "
                                "(narrower than the policy where the target is one of them)",
                             d->href);
        }
        struct fsg_cidrset ds = FSG_CIDRSET_INIT;
        s_deny_sources(c, d, &cons, d->unscoped_consumers ? NULL : &scopes[s], &ds);
        if (c->probe != NULL && c->rc == FSG_OK) {
            fsg_compile_trace_deny(c, d, ref->rs, &ports, &ds);
        }
        for (size_t i = 0; i < ports.len && c->rc == FSG_OK && ds.len > 0; i++) {
            s_apply(c, d->href, b, ports.items[i], &ds);
        }
        fsg_cidrset_clean_up(&ds);
    }
    if (applies && !d->is_override && ref->rs != NULL) {
        fsg_compile_warn(c,
                         "deny rule %s: not applied, nothing to change: an ordinary deny rule "
                         "never removes what an allow rule allows (precedence: override deny > "
                         "allow > deny > default), and the security group already denies "
                         "everything no allow rule allows",
                         d->href);
    } else if (applies && ref->rs == NULL) {
        fsg_compile_warn(c,
                         "enforcement boundary %s: not applied, nothing to change: a boundary "
                         "denies only traffic no allow rule allows (and only on managed "
                         "workloads in selective enforcement), which the security group already "
                         "denies",
                         d->href);
    }
    fsg_free(ports.items);
    fsg_scopes_free(scopes, n_scopes);
    fsg_side_clean_up(&cons);
    fsg_side_clean_up(&prov);
}

void fsg_compile_denies(struct fsg_compile_ctx *c, struct fsg_buckets *b)
{
    const struct fsg_policy_model *m = c->m;
    size_t n = m->n_enforcement_boundaries;
    for (size_t i = 0; i < m->n_rule_sets; i++) {
        n += m->rule_sets[i].is_enabled ? m->rule_sets[i].n_deny_rules : 0;
    }
    struct s_deny_ref *refs = fsg_calloc(n > 0 ? n : 1, sizeof *refs);
    if (refs == NULL) {
        c->rc = FSG_E_NOMEM;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < m->n_rule_sets; i++) {
        const struct fsg_policy_rule_set *rs = &m->rule_sets[i];
        for (size_t j = 0; rs->is_enabled && j < rs->n_deny_rules; j++) {
            if (rs->deny_rules[j].is_enabled) {
                refs[k++] = (struct s_deny_ref){ .d = &rs->deny_rules[j], .rs = rs };
            }
        }
    }
    for (size_t i = 0; i < m->n_enforcement_boundaries; i++) {
        if (m->enforcement_boundaries[i].is_enabled) {
            refs[k++] = (struct s_deny_ref){ .d = &m->enforcement_boundaries[i] };
        }
    }
    if (k > 1) {
        qsort(refs, k, sizeof *refs, s_cmp_deny);
    }
    for (size_t i = 0; i < k && c->rc == FSG_OK; i++) {
        s_deny(c, &refs[i], b);
    }
    fsg_free(refs);
}
