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

/* Ports of a provider virtual service ("derived from provider virtual services"). */
static void s_vs_ports(struct fsg_compile_ctx *c, const char *rule_href, size_t v,
                       struct fsg_ports *ports)
{
    const struct fsg_policy_virtual_service *vs = &c->m->virtual_services[v];
    char origin[400];
    snprintf(origin, sizeof origin, "rule %s: virtual service %s", rule_href, vs->href);
    for (size_t i = 0; i < vs->n_ports; i++) {
        s_convert_port(c, origin, &vs->ports[i], ports);
    }
    if (vs->n_ports == 0 && vs->service != FSG_POLICY_NONE) {
        s_service_ports(c, rule_href, vs->service, ports);
    } else if (vs->n_ports == 0) {
        fsg_compile_warn(c, "%s: has no service ports: nothing to allow", origin);
    }
    for (size_t i = 0; i < vs->n_bindings; i++) {
        if (vs->bindings[i].n_port_overrides > 0) {
            fsg_compile_warn(c,
                             "%s: the binding of workload %s remaps ports (port_overrides); the "
                             "virtual service's own ports are used",
                             origin, c->m->workloads[vs->bindings[i].workload].href);
        }
    }
}

void fsg_compile_rule_ports(struct fsg_compile_ctx *c, const struct fsg_policy_rule *r,
                            const struct fsg_entity *providers, size_t n, struct fsg_ports *ports)
{
    char origin[300];
    snprintf(origin, sizeof origin, "rule %s", r->href);
    for (size_t i = 0; i < r->n_ingress_services; i++) {
        const struct fsg_policy_service_ref *ref = &r->ingress_services[i];
        if (ref->service != FSG_POLICY_NONE) {
            s_service_ports(c, r->href, ref->service, ports);
        } else {
            s_convert_port(c, origin, &ref->port, ports);
        }
    }
    if (r->n_ingress_services > 0) {
        return;
    }
    bool any_vs = false;
    for (size_t i = 0; i < n; i++) {
        if (providers[i].kind == FSG_ENT_VIRTUAL_SERVICE) {
            any_vs = true;
            s_vs_ports(c, r->href, providers[i].index, ports);
        }
    }
    if (!any_vs) {
        fsg_compile_warn(c,
                         "rule %s: names no service and no provider virtual service selects the "
                         "target: no port to allow",
                         r->href);
    }
}

