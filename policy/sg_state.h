/* The current ingress rules of security groups, as read from a state file (offline `plan
 * --state FILE`) or built by the EC2 reader, and the content hash a saved plan is pinned to.
 *
 * Two state-file formats are accepted (CONTRACT.md, `plan --state`):
 *
 *  1. flowseg's own: {"sg-0123...": [RULE, ...], ...} with RULE as in `plan --format json`:
 *     {"proto": "tcp", "from_port": 5432, "to_port": 5432, "cidr": "10.0.1.11/32",
 *      "description": "flowseg ..."}  ("cidr_ipv6" for IPv6). Optional extra keys:
 *     "rule_id" ("sgr-..."), and instead of a CIDR "source_group" ("sg-...") or "prefix_list"
 *     ("pl-...") for rules flowseg never touches. Unknown keys are an error (a typo must not
 *     pass silently). `"sg-x": []` states that the group exists and has no ingress rule.
 *
 *  2. The AWS CLI's `aws ec2 describe-security-group-rules` output:
 *     {"SecurityGroupRules": [{"SecurityGroupRuleId", "GroupId", "IsEgress", "IpProtocol",
 *      "FromPort", "ToPort", "CidrIpv4" | "CidrIpv6" | "ReferencedGroupInfo" | "PrefixListId",
 *      "Description", ...}], "NextToken"?}. Egress rules are skipped (but the group counts as
 *     seen); unknown keys are ignored (AWS adds fields over time). A "NextToken" means the
 *     output is one page of several: refused, because a partial state would make flowseg
 *     re-add or miss rules (DESIGN.md invariant 7).
 *
 * Rules that reference a security group or a prefix list cannot be compared with policy CIDRs:
 * they are kept apart as "foreign" rules, never removed, and reported. */
#ifndef FSG_POLICY_SG_STATE_H
#define FSG_POLICY_SG_STATE_H

#include <stddef.h>

#include "lib/core/buf.h"
#include "lib/core/error.h"
#include "policy/sg_rule.h"

/* Hex SHA-256 length (without the NUL). */
#define FSG_SG_HASH_HEX_LEN 64

/* A rule whose source is another security group or a prefix list. Plain data, owned strings. */
struct fsg_sg_foreign_rule {
    int proto;
    int from_port;
    int to_port;
    char *peer;        /* "sg-..." (referenced group) or "pl-..." (prefix list); owned */
    char *description; /* owned, may be NULL */
    char *rule_id;     /* owned, "sgr-..." or NULL */
};

/* The current ingress rules of one security group. Initialise with `= { 0 }`. */
struct fsg_sg_current {
    char *group_id;                      /* owned */
    struct fsg_sg_rules rules;           /* CIDR rules, sorted (fsg_sg_rules_sort) */
    struct fsg_sg_foreign_rule *foreign; /* owned array */
    size_t n_foreign;
    size_t cap_foreign;
};

/* Every group of a state file. */
struct fsg_sg_state {
    struct fsg_sg_current *groups; /* owned array, in file order */
    size_t n_groups;
    size_t cap_groups;
};

/* Parses a state file's text (either format, detected by the top-level "SecurityGroupRules"
 * key). json is borrowed. Caller owns *ret_state (fsg_sg_state_destroy). FSG_E_PARSE with the
 * group and rule index in err->msg on any malformed rule; nothing is returned then. */
enum fsg_err fsg_sg_state_parse(struct fsg_span json, struct fsg_sg_state **ret_state,
                                struct fsg_error *err) FSG_MUST_USE;

/* Reads and parses a state file (at most 16 MiB). FSG_E_IO when it cannot be read. */
enum fsg_err fsg_sg_state_load(const char *path, struct fsg_sg_state **ret_state,
                               struct fsg_error *err) FSG_MUST_USE;

/* The group with this id, or NULL when the state does not mention it. Borrowed from state. */
const struct fsg_sg_current *fsg_sg_state_find(const struct fsg_sg_state *state,
                                               const char *group_id);

void fsg_sg_state_destroy(struct fsg_sg_state *state); /* NULL ok */

/* For the EC2 reader: sets cur->group_id (copied). */
enum fsg_err fsg_sg_current_init(struct fsg_sg_current *cur, const char *group_id) FSG_MUST_USE;
/* Appends a deep copy of a foreign rule. */
enum fsg_err fsg_sg_current_add_foreign(struct fsg_sg_current *cur,
                                        const struct fsg_sg_foreign_rule *r) FSG_MUST_USE;
/* Deep copy of src into *dst (dst starts zeroed). */
enum fsg_err fsg_sg_current_copy(struct fsg_sg_current *dst,
                                 const struct fsg_sg_current *src) FSG_MUST_USE;
void fsg_sg_current_clean_up(struct fsg_sg_current *cur); /* NULL ok, idempotent */

/* The content hash of a group's current ingress rules: hex SHA-256 over the group id and every
 * rule's (proto, ports, CIDR or peer, description), independent of rule order and of EC2 rule
 * ids (a state file written by hand and the live group hash the same when they hold the same
 * rules). `apply --plan` recomputes it from EC2 and refuses the plan when it differs.
 * out receives FSG_SG_HASH_HEX_LEN hex digits and a NUL. */
enum fsg_err fsg_sg_current_hash(const struct fsg_sg_current *cur,
                                 char out[FSG_SG_HASH_HEX_LEN + 1],
                                 struct fsg_error *err) FSG_MUST_USE;

/* Normalises a rule's ports the way EC2 stores them: proto -1 and protocols other than
 * TCP/UDP/ICMP/ICMPv6 have no ports (-1/-1). */
void fsg_sg_rule_normalize_ports(int proto, int *from_port, int *to_port);

#endif
