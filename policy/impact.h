/* Impact of a plan on observed traffic: for every inbound connection seen in the flows, whether
 * it is still let in after the apply, by which rule, and who the client is. Pure.
 *
 * A flow belongs to the target when it is ingress (relative to its ENI) and either its ENI is
 * one of the target's ENIs or its destination is one of the target's addresses. Both ACCEPT and
 * REJECT records count: a connection is "observed" whether or not today's groups let it in, and
 * the report says which of its records were accepted today.
 *
 * Effective access. A security group only allows, and the interface of the instance lets a
 * packet in when ANY of its security groups has a rule that allows it ("If there is more than
 * one rule for a specific port, Amazon EC2 applies the most permissive rule"; the rules of all
 * groups associated with an instance are aggregated: Amazon VPC User Guide, "Security group
 * rules" and "Security groups for your VPC"). So a connection is allowed after the apply when a
 * rule of the union allows it:
 *   - the managed group's desired rules (the policy),
 *   - the rules the plan leaves in the managed group (`kept`: ownership "rules"),
 *   - the rules of the other security groups on the interface after the apply.
 * Rules that reference a security group or a prefix list cannot be judged from an address: they
 * are counted in n_unevaluated and never allow (a cut-off may then be over-reported, never
 * hidden). */
#ifndef FSG_POLICY_IMPACT_H
#define FSG_POLICY_IMPACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/error.h"
#include "lib/core/flow.h"
#include "lib/core/ip.h"
#include "policy/sg_rule.h"
#include "policy/sg_state.h"

struct fsg_policy_model;

/* The target side: borrowed; arrays may be empty, pointers NULL. */
struct fsg_impact_target {
    const char *const *enis; /* "eni-..." */
    size_t n_enis;
    const struct fsg_ip *addrs; /* the database's private addresses */
    size_t n_addrs;
    const char *group_id;                /* the managed group (for "by which rule") */
    const struct fsg_sg_rules *kept;     /* rules left in the managed group, may be NULL */
    size_t n_foreign;                    /* SG-reference / prefix-list rules of the managed group */
    const struct fsg_sg_current *others; /* the interface's other groups after the apply */
    size_t n_others;
    const struct fsg_policy_model *model; /* names sources (workload, labels); may be NULL */
};

/* What lets a connection in after the apply: the first match in this order. */
enum fsg_impact_via {
    FSG_IMPACT_VIA_NONE = 0, /* nothing: denied after the apply */
    FSG_IMPACT_VIA_POLICY,   /* a desired rule of the managed group */
    FSG_IMPACT_VIA_KEPT,     /* a rule left in the managed group, not in the policy */
    FSG_IMPACT_VIA_OTHER,    /* a rule of another security group on the interface */
};

struct fsg_impact_label {
    char *key;   /* owned */
    char *value; /* owned */
};

/* One client connection to the target, aggregated over ENIs, destinations and actions. */
struct fsg_impact_conn {
    struct fsg_ip src;
    uint16_t port;
    uint8_t proto;         /* IANA number */
    uint64_t records;      /* all records (accepted + rejected) */
    uint64_t accepted;     /* records with action ACCEPT */
    int64_t last_s;        /* max last seen, FSG_FLOW_TIME_NONE when unknown */
    bool allowed;          /* the desired rules (the policy) let it in */
    bool allowed_after;    /* the union of the interface's groups after the apply lets it in */
    enum fsg_impact_via via;
    char *via_group;       /* owned: the group of the allowing rule; NULL when denied */
    struct fsg_sg_rule via_rule; /* owned copy of the allowing rule (zeroed when denied) */
    char *workload;        /* owned: the PCE workload with this address (name, else hostname,
                            * else href); NULL when the policy does not know the address */
    struct fsg_impact_label *labels; /* owned: that workload's labels */
    size_t n_labels;
};

struct fsg_impact {
    /* Every observed connection, sorted by src, port, proto (the report's picture). */
    struct fsg_impact_conn *conns;
    size_t n_conns;
    /* Subsets of conns, same order (pointers into conns): */
    const struct fsg_impact_conn **would_deny;    /* the policy does not allow it */
    size_t n_would_deny;
    const struct fsg_impact_conn **cut_off;       /* accepted today, denied after the apply */
    size_t n_cut_off;
    const struct fsg_impact_conn **newly_allowed; /* only rejected today, allowed after */
    size_t n_newly_allowed;
    const struct fsg_impact_conn **bypass;        /* allowed after only by a rule outside the
                                                   * policy (kept or another group) */
    size_t n_bypass;
    size_t n_cut_sources;   /* distinct source addresses among cut_off (guards.max_cut_sources) */
    size_t n_unevaluated;   /* SG-reference / prefix-list rules on the interface, not judged */
    /* Desired rules no observed connection matched (sorted like the desired set). */
    struct fsg_sg_rules allowed_unseen;
    uint64_t flows_matched; /* input flow tuples that belonged to the target */
};

/* True when rule r lets a connection (src, port, proto) in: protocol equal (or the rule is -1),
 * the port inside the range for TCP/UDP (ICMP type/code is not in flow logs: any ICMP rule of
 * the family matches), the source inside the CIDR. */
bool fsg_impact_rule_allows(const struct fsg_sg_rule *r, const struct fsg_ip *src, uint16_t port,
                            uint8_t proto);

/* Computes the impact of `desired` (borrowed) together with the rest of the interface's groups
 * (target) on `flows` (borrowed, any order; only ingress flows of the target are used). Caller
 * owns *ret_impact (fsg_impact_destroy). */
enum fsg_err fsg_impact_compute(const struct fsg_impact_target *target,
                                const struct fsg_sg_rules *desired, const struct fsg_flow *flows,
                                size_t n_flows, struct fsg_impact **ret_impact,
                                struct fsg_error *err) FSG_MUST_USE;

/* "policy", "kept", "other_group" or "none". */
const char *fsg_impact_via_name(enum fsg_impact_via via);

void fsg_impact_destroy(struct fsg_impact *impact); /* NULL ok */

#endif
