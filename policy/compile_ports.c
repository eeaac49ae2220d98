/* The compiler's ports: PCE services, inline ports and provider virtual services ->
 * security-group permissions (proto, from, to), never wider than the policy. */
#include <stdio.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/compile_internal.h"

static void s_ports_add(struct fsg_compile_ctx *c, struct fsg_ports *ports, struct fsg_port p)
{
    for (size_t i = 0; i < ports->len; i++) {
        if (memcmp(&ports->items[i], &p, sizeof p) == 0) {
            return;
        }
    }
    if (c->rc != FSG_OK) {
        return;
    }
    struct fsg_port *items = fsg_array_grow(ports->items, &ports->cap, ports->len + 1,
                                            sizeof *items, 4);
    if (items == NULL) {
        c->rc = FSG_E_NOMEM;
        return;
    }
    ports->items = items;
    ports->items[ports->len++] = p;
}

/* One PCE service port -> one SG permission, or a warning when an SG cannot say it exactly
 * (never a wider permission). origin names the service or rule in the warning. */
static void s_convert_port(struct fsg_compile_ctx *c, const char *origin,
                           const struct fsg_policy_port *pp, struct fsg_ports *ports)
{
    switch (pp->proto) {
    case FSG_PROTO_ALL:
        if (pp->port >= 0) {
            fsg_compile_warn(c, "%s: port %d on every protocol cannot be a security-group rule",
                             origin, pp->port);
            return;
        }
        s_ports_add(c, ports, (struct fsg_port){ FSG_PROTO_ALL, -1, -1 });
        return;
    case FSG_PROTO_TCP:
    case FSG_PROTO_UDP: {
        int from = pp->port >= 0 ? pp->port : 0;
        int to = pp->port < 0 ? 65535 : pp->to_port >= 0 ? pp->to_port : pp->port;
        s_ports_add(c, ports, (struct fsg_port){ pp->proto, from, to });
        return;
    }
    case FSG_PROTO_ICMP:
    case FSG_PROTO_ICMPV6:
        if (pp->icmp_type < 0 && pp->icmp_code >= 0) {
            fsg_compile_warn(c, "%s: ICMP code %d without a type cannot be a security-group rule",
                             origin, pp->icmp_code);
            return;
        }
        s_ports_add(c, ports, (struct fsg_port){ pp->proto, pp->icmp_type, pp->icmp_code });
        return;
    default:
        /* EC2 allows every port of any other protocol, whatever ports are given. */
        if (pp->port >= 0) {
            fsg_compile_warn(c,
                             "%s: ports on protocol %d cannot be limited by a security group; "
                             "not allowed",
                             origin, pp->proto);
            return;
        }
        s_ports_add(c, ports, (struct fsg_port){ pp->proto, -1, -1 });
        return;
    }
}

static void s_service_ports(struct fsg_compile_ctx *c, const char *rule_href, size_t svc,
                            struct fsg_ports *ports)
{
    const struct fsg_policy_service *s = &c->m->services[svc];
    char origin[400];
    snprintf(origin, sizeof origin, "rule %s: service %s", rule_href, s->href);
    if (s->n_windows_services > 0) {
        fsg_compile_warn(c, "%s: windows services (process or service names) cannot be "
                            "security-group rules",
                         origin);
    }
    if (s->process_name != NULL) {
        fsg_compile_warn(c, "%s: process-based service (%s) cannot be a security-group rule",
                         origin, s->process_name);
        return;
    }
    for (size_t i = 0; i < s->n_ports; i++) {
        s_convert_port(c, origin, &s->ports[i], ports);
    }
}

/* The virtual service's own ports: service_ports, else those of its service. */
static const struct fsg_policy_port *s_vs_own_ports(const struct fsg_compile_ctx *c,
                                                    const struct fsg_policy_virtual_service *vs,
                                                    size_t *ret_n)
{
    if (vs->n_ports == 0 && vs->service != FSG_POLICY_NONE) {
        *ret_n = c->m->services[vs->service].n_ports;
        return c->m->services[vs->service].ports;
    }
    *ret_n = vs->n_ports;
    return vs->ports;
}

/* pp remapped by the binding's port overrides (Security Policy Guide, "Virtual Services":
 * port overrides live on the workload binding, the bound workload serves the port elsewhere).
 * An override matches a service port of the same protocol and the same first (and last)
 * port. Returns false (after a refusal) when an override covers part of a range only. */
static bool s_remap(struct fsg_compile_ctx *c, const char *origin,
                    const struct fsg_policy_binding *b, const struct fsg_policy_port *pp,
                    struct fsg_policy_port *out)
{
    *out = *pp;
    if (pp->port < 0 || (pp->proto != FSG_PROTO_TCP && pp->proto != FSG_PROTO_UDP)) {
        return true;
    }
    int last = pp->to_port >= 0 ? pp->to_port : pp->port;
    for (size_t i = 0; i < b->n_port_overrides; i++) {
        const struct fsg_policy_port_override *o = &b->port_overrides[i];
        int o_last = o->to_port >= 0 ? o->to_port : o->port;
        if (o->proto >= 0 && o->proto != pp->proto) {
            continue;
        }
        if (o->port == pp->port && o_last == last) {
            int new_last = o->new_to_port >= 0 ? o->new_to_port : o->new_port + (last - pp->port);
            if (new_last > 65535 || new_last < o->new_port) {
                fsg_compile_refuse(c, "%s: the binding of workload %s remaps ports %d-%d to %d-%d, "
                                      "which is not a port range",
                                   origin, c->m->workloads[b->workload].href, pp->port, last,
                                   o->new_port, new_last);
                return false;
            }
            out->port = o->new_port;
            out->to_port = new_last;
            return true;
        }
        if (o->port <= last && o_last >= pp->port) {
            fsg_compile_refuse(c, "%s: the binding of workload %s overrides ports %d-%d, which "
                                  "only partly overlap the service's ports %d-%d",
                               origin, c->m->workloads[b->workload].href, o->port, o_last,
                               pp->port, last);
            return false;
        }
    }
    return true;
}

static bool s_is_target_workload(const struct fsg_compile_ctx *c, size_t w)
{
    for (size_t i = 0; i < c->n_targets; i++) {
        if (c->targets[i].kind == FSG_ENT_WORKLOAD && c->targets[i].index == w) {
            return true;
        }
    }
    return false;
}

static int s_cmp_port(const void *pa, const void *pb)
{
    return memcmp(pa, pb, sizeof(struct fsg_port));
}

static bool s_same_ports(struct fsg_ports *a, struct fsg_ports *b)
{
    if (a->len != b->len) {
        return false;
    }
    if (a->len > 1) {
        qsort(a->items, a->len, sizeof *a->items, s_cmp_port);
        qsort(b->items, b->len, sizeof *b->items, s_cmp_port);
    }
    return a->len == 0 || memcmp(a->items, b->items, a->len * sizeof *a->items) == 0;
}

/* The ports a rule opens toward provider virtual service v: the service comes from the virtual
 * service, never from the rule (Security Policy Guide, rule writing: the service is "derived
 * from the virtual service"), remapped by the port_overrides of the binding of the target's
 * workload. Bound workloads of the target that would listen on different ports are refused: one
 * security group cannot give each its own ports. */
static void s_vs_ports(struct fsg_compile_ctx *c, const char *rule_href, size_t v,
                       struct fsg_ports *ports)
{
    const struct fsg_policy_virtual_service *vs = &c->m->virtual_services[v];
    char origin[400];
    snprintf(origin, sizeof origin, "rule %s: virtual service %s", rule_href, vs->href);
    size_t n_own = 0;
    const struct fsg_policy_port *own = s_vs_own_ports(c, vs, &n_own);
    if (vs->n_ports == 0 && vs->service != FSG_POLICY_NONE) {
        const struct fsg_policy_service *s = &c->m->services[vs->service];
        if (s->n_windows_services > 0) {
            fsg_compile_warn(c, "rule %s: service %s: windows services (process or service "
                                "names) cannot be security-group rules",
                             rule_href, s->href);
        }
        if (s->process_name != NULL) {
            fsg_compile_warn(c, "rule %s: service %s: process-based service (%s) cannot be a "
                                "security-group rule",
                             rule_href, s->href, s->process_name);
            return;
        }
    }
    if (n_own == 0) {
        fsg_compile_warn(c, "%s: has no service ports: nothing to allow", origin);
        return;
    }
    struct fsg_ports first = { 0 };
    bool have_first = false;
    bool any_binding = false;
    for (size_t i = 0; i <= vs->n_bindings && c->rc == FSG_OK; i++) {
        const struct fsg_policy_binding *b = i < vs->n_bindings ? &vs->bindings[i] : NULL;
        if (b != NULL && !s_is_target_workload(c, b->workload)) {
            continue;
        }
        if (b == NULL && any_binding) {
            break;
        }
        any_binding |= b != NULL;
        struct fsg_ports mine = { 0 };
        for (size_t j = 0; j < n_own && c->rc == FSG_OK; j++) {
            struct fsg_policy_port pp = own[j];
            if (b != NULL && !s_remap(c, origin, b, &own[j], &pp)) {
                break;
            }
            s_convert_port(c, origin, &pp, &mine);
        }
        if (c->rc == FSG_OK && have_first && !s_same_ports(&first, &mine)) {
            fsg_compile_refuse(c, "%s: its bound workloads in this target serve it on different "
                                  "ports (port_overrides); name the target by its workload",
                               origin);
        }
        if (!have_first) {
            first = mine;
            have_first = true;
        } else {
            fsg_free(mine.items);
        }
    }
    for (size_t i = 0; i < first.len; i++) {
        s_ports_add(c, ports, first.items[i]);
    }
    fsg_free(first.items);
}

void fsg_compile_rule_ports(struct fsg_compile_ctx *c, const struct fsg_policy_rule *r,
                            const struct fsg_entity *providers, size_t n, struct fsg_ports *ports)
{
    char origin[300];
    snprintf(origin, sizeof origin, "rule %s", r->href);
    bool any_other = false;
    for (size_t i = 0; i < n; i++) {
        if (providers[i].kind == FSG_ENT_VIRTUAL_SERVICE) {
            s_vs_ports(c, r->href, providers[i].index, ports);
        } else {
            any_other = true;
        }
    }
    if (!any_other) {
        return;
    }
    /* Workload (or label-only) providers: the rule's own services. */
    for (size_t i = 0; i < r->n_ingress_services; i++) {
        const struct fsg_policy_service_ref *ref = &r->ingress_services[i];
        if (ref->service != FSG_POLICY_NONE) {
            s_service_ports(c, r->href, ref->service, ports);
        } else {
            s_convert_port(c, origin, &ref->port, ports);
        }
    }
    if (r->n_ingress_services == 0) {
        fsg_compile_warn(c,
                         "rule %s: names no service and no provider virtual service selects the "
                         "target: no port to allow",
                         r->href);
    }
}

/* One deny port -> the permission it denies; what an SG cannot say exactly is denied wider. */
static void s_deny_port(struct fsg_compile_ctx *c, const char *origin,
                        const struct fsg_policy_port *pp, struct fsg_ports *ports)
{
    switch (pp->proto) {
    case FSG_PROTO_ALL:
        if (pp->port >= 0) {
            fsg_compile_warn(c, "%s: denies port %d on every protocol; a security group cannot "
                                "say that, so every protocol is denied to its sources",
                             origin, pp->port);
        }
        s_ports_add(c, ports, (struct fsg_port){ FSG_PROTO_ALL, -1, -1 });
        return;
    case FSG_PROTO_TCP:
    case FSG_PROTO_UDP: {
        int from = pp->port >= 0 ? pp->port : 0;
        int to = pp->port < 0 ? 65535 : pp->to_port >= 0 ? pp->to_port : pp->port;
        s_ports_add(c, ports, (struct fsg_port){ pp->proto, from, to });
        return;
    }
    case FSG_PROTO_ICMP:
    case FSG_PROTO_ICMPV6:
        if (pp->icmp_type < 0 && pp->icmp_code >= 0) {
            fsg_compile_warn(c, "%s: denies ICMP code %d without a type; every type is denied to "
                                "its sources",
                             origin, pp->icmp_code);
        }
        s_ports_add(c, ports, (struct fsg_port){ pp->proto, pp->icmp_type,
                                                 pp->icmp_type < 0 ? -1 : pp->icmp_code });
        return;
    default:
        if (pp->port >= 0) {
            fsg_compile_warn(c, "%s: denies ports of protocol %d; a security group cannot limit "
                                "them, so the whole protocol is denied to its sources",
                             origin, pp->proto);
        }
        s_ports_add(c, ports, (struct fsg_port){ pp->proto, -1, -1 });
        return;
    }
}

void fsg_compile_deny_ports(struct fsg_compile_ctx *c, const struct fsg_policy_deny_rule *d,
                            struct fsg_ports *ports)
{
    char origin[300];
    snprintf(origin, sizeof origin, "override deny rule %s", d->href);
    if (d->n_ingress_services == 0) {
        s_ports_add(c, ports, (struct fsg_port){ FSG_PROTO_ALL, -1, -1 });
        return;
    }
    for (size_t i = 0; i < d->n_ingress_services; i++) {
        const struct fsg_policy_service_ref *ref = &d->ingress_services[i];
        if (ref->service == FSG_POLICY_NONE) {
            s_deny_port(c, origin, &ref->port, ports);
            continue;
        }
        const struct fsg_policy_service *s = &c->m->services[ref->service];
        if (s->n_windows_services > 0 || s->process_name != NULL) {
            /* Processes (and the ports of windows_services) cannot be told apart: deny all. */
            fsg_compile_warn(c, "%s: service %s names processes; a security group cannot tell "
                                "processes apart, so every protocol is denied to its sources",
                             origin, s->href);
            s_ports_add(c, ports, (struct fsg_port){ FSG_PROTO_ALL, -1, -1 });
            continue;
        }
        if (s->n_ports == 0) {
            /* [flowseg's own safety rule: the docs do not say what a portless service denies]
             * Nothing to read the ports from: deny every protocol (narrower), never nothing. */
            fsg_compile_warn(c, "%s: service %s has no ports; every protocol is denied to its "
                                "sources", origin, s->href);
            s_ports_add(c, ports, (struct fsg_port){ FSG_PROTO_ALL, -1, -1 });
        }
        for (size_t j = 0; j < s->n_ports; j++) {
            s_deny_port(c, origin, &s->ports[j], ports);
        }
    }
}
