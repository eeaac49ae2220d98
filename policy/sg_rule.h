/* One security-group ingress rule as flowseg reasons about it, and a list of them.
 * The compiler produces them (desired), EC2 or a state file provides them (current),
 * the diff compares them. Plain data. */
#ifndef FSG_POLICY_SG_RULE_H
#define FSG_POLICY_SG_RULE_H

#include <stddef.h>

#include "lib/core/ip.h"

/* IANA numbers; FSG_PROTO_ALL is EC2's "-1". */
#define FSG_PROTO_ALL (-1)
#define FSG_PROTO_ICMP 1
#define FSG_PROTO_TCP 6
#define FSG_PROTO_UDP 17
#define FSG_PROTO_ICMPV6 58

struct fsg_sg_rule {
    int proto;            /* FSG_PROTO_* or another IANA number */
    int from_port;        /* TCP/UDP port range; ICMP: type (-1 = all); -1 for proto -1 */
    int to_port;          /* TCP/UDP; ICMP: code (-1 = all) */
    struct fsg_cidr cidr; /* IPv4 -> "cidr", IPv6 -> "cidr_ipv6" */
    char *description;    /* owned; "flowseg <rule href>" for desired rules; may be NULL */
    char *rule_id;        /* owned; "sgr-..." for current rules from EC2, else NULL */
};

struct fsg_sg_rules {
    struct fsg_sg_rule *items;
    size_t len;
    size_t cap;
};

/* Appends a deep copy of r. */
enum fsg_err fsg_sg_rules_append(struct fsg_sg_rules *list, const struct fsg_sg_rule *r) FSG_MUST_USE;
/* Sorts by proto, from_port, to_port, then address (IPv4 first) and prefix. */
void fsg_sg_rules_sort(struct fsg_sg_rules *list);
/* Same permission (proto, ports, cidr); descriptions and ids are not compared. */
int fsg_sg_rule_cmp(const struct fsg_sg_rule *a, const struct fsg_sg_rule *b);
/* "tcp", "udp", "icmp", "icmpv6", "-1", or the number as text. Static or out[8]. */
const char *fsg_sg_proto_name(int proto, char out[8]);
/* Inverse of fsg_sg_proto_name; also takes numbers ("6") and "all". */
enum fsg_err fsg_sg_proto_parse(const char *s, int *ret) FSG_MUST_USE;
void fsg_sg_rule_clean_up(struct fsg_sg_rule *r);
void fsg_sg_rules_clean_up(struct fsg_sg_rules *list);

#endif
