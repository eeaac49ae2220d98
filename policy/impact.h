/* Impact of a plan on observed traffic: which inbound connections to a target the desired rules
 * would deny, and which desired rules no observed connection used. Pure.
 *
 * A flow belongs to the target when it is ingress (relative to its ENI) and either its ENI is
 * one of the target's ENIs or its destination is one of the target's addresses. Both ACCEPT and
 * REJECT records count: a connection is "observed" whether or not today's group let it in, and
 * the report says which of its records were accepted today. */
#ifndef FSG_POLICY_IMPACT_H
#define FSG_POLICY_IMPACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/error.h"
#include "lib/core/flow.h"
#include "lib/core/ip.h"
#include "policy/sg_rule.h"

/* The target side: borrowed arrays, either may be empty. */
struct fsg_impact_target {
    const char *const *enis; /* "eni-..." */
    size_t n_enis;
    const struct fsg_ip *addrs; /* the database's private addresses */
    size_t n_addrs;
};

/* One client connection to the target, aggregated over ENIs, destinations and actions. */
struct fsg_impact_conn {
    struct fsg_ip src;
    uint16_t port;
    uint8_t proto;         /* IANA number */
    uint64_t records;      /* all records (accepted + rejected) */
    uint64_t accepted;     /* records with action ACCEPT */
    int64_t last_s;        /* max last seen, FSG_FLOW_TIME_NONE when unknown */
    bool allowed;          /* the desired rules let it in */
};

struct fsg_impact {
    /* Every observed connection, sorted by src, port, proto (the report's picture). */
    struct fsg_impact_conn *conns;
    size_t n_conns;
    /* The subset that the desired rules would deny, same order. Points into conns. */
    const struct fsg_impact_conn **would_deny;
    size_t n_would_deny;
    /* Desired rules no observed connection matched (sorted like the desired set). */
    struct fsg_sg_rules allowed_unseen;
    uint64_t flows_matched; /* input flow tuples that belonged to the target */
};

/* True when rule r lets a connection (src, port, proto) in: protocol equal (or the rule is -1),
 * the port inside the range for TCP/UDP (ICMP type/code is not in flow logs: any ICMP rule of
 * the family matches), the source inside the CIDR. */
bool fsg_impact_rule_allows(const struct fsg_sg_rule *r, const struct fsg_ip *src, uint16_t port,
                            uint8_t proto);

/* Computes the impact of `desired` (borrowed) on `flows` (borrowed, any order; only ingress
 * flows of the target are used). Caller owns *ret_impact (fsg_impact_destroy). */
enum fsg_err fsg_impact_compute(const struct fsg_impact_target *target,
                                const struct fsg_sg_rules *desired, const struct fsg_flow *flows,
                                size_t n_flows, struct fsg_impact **ret_impact,
                                struct fsg_error *err) FSG_MUST_USE;

void fsg_impact_destroy(struct fsg_impact *impact); /* NULL ok */

#endif
