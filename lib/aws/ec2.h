/* EC2 calls over the AWS pipeline (lib/aws/aws.h, a client made with service "ec2"): security
 * groups and their rules, and network interfaces. ref/aws-wire.md §5.2-§5.3, §6.
 *
 * Wire form (EC2 protocol, version 2016-11-15): lists are flattened as `Name.N` (1-based, no
 * ".member"), e.g. `Filter.1.Name`, `Filter.1.Value.1`, `SecurityGroupRuleId.2`,
 * `IpPermissions.1.IpRanges.2.CidrIp`, `TagSpecification.1.Tag.1.Key`. Answers are read by
 * local element name (<xxxSet><item>), empty lists (`<groups/>`) are empty.
 *
 * Results are plain data owned by the caller: strings are fsg_strdup'ed, NULL when the answer
 * has no such element (or it is empty). Inputs (requests, filters) are borrowed for the call.
 * Every Describe call reads all pages (NextToken) before it returns: a partial answer is an
 * error, never a shorter list. Nothing here maps an AWS error to success (Duplicate, NotFound):
 * the caller decides (FSG_E_CONFLICT / FSG_E_NOT_FOUND with err->service_code). */
#ifndef FSG_LIB_EC2_H
#define FSG_LIB_EC2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/error.h"

struct fsg_aws_client;

#define FSG_EC2_API_VERSION "2016-11-15"
/* The ownership tag flowseg puts on what it creates: key, value = the config target's name. */
#define FSG_EC2_OWNER_TAG_KEY "flowseg:managed"
/* Descriptions (rules, groups) are at most this long (ref/aws-wire.md §6.1). */
#define FSG_EC2_DESCRIPTION_MAX 255u
/* Page size of the Describe calls (the API's maximum). */
#define FSG_EC2_MAX_RESULTS 1000u
/* A bound on pages of one Describe call, so a service that keeps returning a token cannot
 * keep us looping: 1000 pages of 1000 items is far beyond every EC2 quota. */
#define FSG_EC2_MAX_PAGES 1000u

/* ---------------------------------------------------------------------------------------- */
/* Inputs (borrowed). */

/* One Filter.N: Name and its values (OR-ed by EC2; filters are AND-ed). */
struct fsg_ec2_filter {
    const char *name;           /* "group-id", "vpc-id", "tag:flowseg:managed", "tag-key" */
    const char *const *values;  /* n_values >= 1 */
    size_t n_values;
};

/* One tag to set at creation (TagSpecification.1.Tag.M). */
struct fsg_ec2_tag_spec {
    const char *key;
    const char *value;          /* NULL = "" */
};

/* One address block of an IpPermission with its optional description. */
struct fsg_ec2_ip_range {
    const char *cidr;           /* "10.0.0.0/24" (IpRanges) or "2001:db8::/64" (Ipv6Ranges) */
    const char *description;    /* NULL = none; checked with fsg_ec2_description_is_valid */
};

/* One IpPermissions.N. Each CIDR becomes its own rule (own sgr- id, own quota slot). */
struct fsg_ec2_ip_permission {
    const char *ip_protocol;    /* "tcp", "udp", "icmp", "icmpv6", "-1" or a protocol number */
    int32_t from_port;          /* sent unless ip_protocol is "-1"; ICMP: the type (-1 = all) */
    int32_t to_port;            /* ICMP: the code (-1 = all) */
    const struct fsg_ec2_ip_range *ipv4;  /* IpRanges.M.CidrIp / .Description */
    size_t n_ipv4;
    const struct fsg_ec2_ip_range *ipv6;  /* Ipv6Ranges.M.CidrIpv6 / .Description */
    size_t n_ipv6;
};

/* ---------------------------------------------------------------------------------------- */
/* Results (owned by the caller; free with the matching _clean_up). */

struct fsg_ec2_tag {
    char *key;
    char *value;                /* "" when the tag has an empty value */
};

/* One rule of DescribeSecurityGroupRules (also what Authorize returns). Exactly one of
 * cidr_ipv4, cidr_ipv6, prefix_list_id, referenced_group_id is normally set. */
struct fsg_ec2_sg_rule {
    char *rule_id;              /* "sgr-..." */
    char *group_id;             /* the group the rule belongs to */
    char *group_owner_id;
    bool is_egress;
    char *ip_protocol;          /* "tcp", "udp", "icmp", "icmpv6", "-1", or a number */
    int32_t from_port;          /* -1 when absent (protocol -1) or "all" (ICMP type) */
    int32_t to_port;
    char *cidr_ipv4;
    char *cidr_ipv6;
    char *prefix_list_id;
    char *referenced_group_id;  /* referencedGroupInfo/groupId */
    char *referenced_user_id;   /* referencedGroupInfo/userId */
    char *description;
    struct fsg_ec2_tag *tags;
    size_t n_tags;
};

struct fsg_ec2_sg_rule_list {
    struct fsg_ec2_sg_rule *items;
    size_t len;
};
void fsg_ec2_sg_rule_list_clean_up(struct fsg_ec2_sg_rule_list *l); /* NULL ok; zeroes */

struct fsg_ec2_security_group {
    char *group_id;
    char *group_name;
    char *description;
    char *vpc_id;
    char *owner_id;
    struct fsg_ec2_tag *tags;
    size_t n_tags;
};

struct fsg_ec2_sg_list {
    struct fsg_ec2_security_group *items;
    size_t len;
};
void fsg_ec2_sg_list_clean_up(struct fsg_ec2_sg_list *l); /* NULL ok; zeroes */

/* One network interface of DescribeNetworkInterfaces. */
struct fsg_ec2_eni {
    char *eni_id;               /* "eni-..." */
    char *subnet_id;
    char *vpc_id;
    char *availability_zone;    /* "us-east-1a" */
    char *description;          /* RDS: "RDSNetworkInterface" */
    char *requester_id;         /* RDS: "amazon-rds" */
    bool requester_managed;
    char *status;               /* "in-use", "available", ... */
    char *interface_type;       /* "interface", ... */
    char *attachment_owner_id;  /* attachment/instanceOwnerId; RDS: "amazon-rds" */
    char *private_ip;           /* the primary private IPv4 */
    char **private_ips;         /* every private IPv4, the primary first */
    size_t n_private_ips;
    char **ipv6_addrs;
    size_t n_ipv6_addrs;
    char **group_ids;           /* groupSet/item/groupId, in answer order */
    size_t n_group_ids;
};

struct fsg_ec2_eni_list {
    struct fsg_ec2_eni *items;
    size_t len;
};
void fsg_ec2_eni_list_clean_up(struct fsg_ec2_eni_list *l); /* NULL ok; zeroes */

/* ---------------------------------------------------------------------------------------- */
/* Calls. `ec2` is borrowed; err may be NULL. Errors are those of fsg_aws_query (FSG_E_AUTH,
 * FSG_E_NOT_FOUND for InvalidGroup.NotFound, FSG_E_REJECTED for *.Malformed and
 * InvalidParameter*, FSG_E_THROTTLED after the retries, ...), prefixed with the resource, plus
 * FSG_E_INVALID_ARG for a request that cannot be right, FSG_E_PARSE / FSG_E_LIMIT for an
 * answer that is not what the API documents. On failure no ret_ output is touched. */

/* Whether s is a description EC2 accepts on a rule or a group: at most 255 characters from
 * a-z A-Z 0-9 space . _ - : / ( ) # , @ [ ] + = ; { } ! $ * (the intersection of the API
 * reference and the VPC guide: no '&', '>', quotes or non-ASCII). */
bool fsg_ec2_description_is_valid(const char *s);

/* DescribeSecurityGroupRules with Filter group-id = group_ids (n_group_ids >= 1), every page
 * (MaxResults 1000, NextToken). Ingress and egress rules, in answer order. *ret_rules is
 * caller storage, overwritten on success (do not pass a list that still owns items). */
enum fsg_err fsg_ec2_describe_sg_rules(struct fsg_aws_client *ec2, const char *const *group_ids,
                                       size_t n_group_ids, struct fsg_ec2_sg_rule_list *ret_rules,
                                       struct fsg_error *err) FSG_MUST_USE;

struct fsg_ec2_authorize_request {
    const char *group_id;                        /* required */
    const struct fsg_ec2_ip_permission *perms;   /* n_perms >= 1, each with >= 1 range */
    size_t n_perms;
    const struct fsg_ec2_tag_spec *rule_tags;    /* TagSpecification.1 (security-group-rule);
                                                  * needs ec2:CreateTags in IAM; may be NULL */
    size_t n_rule_tags;
};

/* AuthorizeSecurityGroupIngress with all permissions in one call (AWS applies all or none:
 * one duplicate fails the whole call with InvalidPermission.Duplicate -> FSG_E_CONFLICT).
 * ret_created (may be NULL) receives the rules the answer lists as created, with their ids.
 * Descriptions are checked first (FSG_E_INVALID_ARG names the bad one, nothing is sent). */
enum fsg_err fsg_ec2_authorize_ingress(struct fsg_aws_client *ec2,
                                       const struct fsg_ec2_authorize_request *req,
                                       struct fsg_ec2_sg_rule_list *ret_created,
                                       struct fsg_error *err) FSG_MUST_USE;

/* RevokeSecurityGroupIngress of rule_ids (n_rule_ids >= 1, "sgr-...") in group_id, one call.
 * An unknown id fails the call: InvalidSecurityGroupRuleId.NotFound -> FSG_E_NOT_FOUND. */
enum fsg_err fsg_ec2_revoke_ingress(struct fsg_aws_client *ec2, const char *group_id,
                                    const char *const *rule_ids, size_t n_rule_ids,
                                    struct fsg_error *err) FSG_MUST_USE;

/* One SecurityGroupRule.N of ModifySecurityGroupRules: rule rule_id becomes this permission. */
struct fsg_ec2_rule_update {
    const char *rule_id;        /* "sgr-..." (SecurityGroupRuleId) */
    const char *ip_protocol;    /* "tcp", "udp", "icmp", "icmpv6", "-1" or a number */
    int32_t from_port;          /* always sent (EC2 wants both ports; -1 for protocol -1) */
    int32_t to_port;
    const char *cidr_ipv4;      /* exactly one of cidr_ipv4 / cidr_ipv6 */
    const char *cidr_ipv6;
    const char *description;    /* NULL = none; checked with fsg_ec2_description_is_valid */
};

/* ModifySecurityGroupRules: rewrites existing rules of group_id in place (each keeps its id and
 * its quota slot; the old permission is replaced by the new one in one step), one call for all
 * n_updates (>= 1). Wire form: GroupId, SecurityGroupRule.N.SecurityGroupRuleId,
 * SecurityGroupRule.N.SecurityGroupRule.{IpProtocol,FromPort,ToPort,CidrIpv4|CidrIpv6,
 * Description}.
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySecurityGroupRules.html
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SecurityGroupRuleUpdate.html
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SecurityGroupRuleRequest.html
 * An unknown id: InvalidSecurityGroupRuleId.NotFound -> FSG_E_NOT_FOUND; a permission the
 * group already has: InvalidPermission.Duplicate -> FSG_E_CONFLICT. */
enum fsg_err fsg_ec2_modify_sg_rules(struct fsg_aws_client *ec2, const char *group_id,
                                     const struct fsg_ec2_rule_update *updates, size_t n_updates,
                                     struct fsg_error *err) FSG_MUST_USE;

struct fsg_ec2_create_sg_request {
    const char *group_name;                 /* required; unique per VPC, not "sg-..." */
    const char *description;                /* required (GroupDescription), same charset */
    const char *vpc_id;                     /* required: flowseg never uses EC2-Classic */
    const struct fsg_ec2_tag_spec *tags;    /* TagSpecification.1 (security-group), e.g.
                                             * { FSG_EC2_OWNER_TAG_KEY, target name } */
    size_t n_tags;
};

/* CreateSecurityGroup. *ret_group_id is the new "sg-..." (caller frees with fsg_free).
 * A group of that name in that VPC already -> FSG_E_CONFLICT (InvalidGroup.Duplicate). */
enum fsg_err fsg_ec2_create_security_group(struct fsg_aws_client *ec2,
                                           const struct fsg_ec2_create_sg_request *req,
                                           char **ret_group_id, struct fsg_error *err) FSG_MUST_USE;

/* CreateSecurityGroup, or, when a group of that name already exists in that VPC (a previous
 * or a concurrent run), that group -- but only if it carries every tag of req->tags with the
 * same value; a group that is not ours is FSG_E_REFUSED (flowseg never adopts a group it did
 * not create). *ret_created says which happened (may be NULL). */
enum fsg_err fsg_ec2_ensure_security_group(struct fsg_aws_client *ec2,
                                           const struct fsg_ec2_create_sg_request *req,
                                           char **ret_group_id, bool *ret_created,
                                           struct fsg_error *err) FSG_MUST_USE;

/* DescribeSecurityGroups by GroupId.N (group_ids, may be empty) and filters (may be empty),
 * every page. Examples: by name in a VPC: filters group-name=NAME and vpc-id=VPC; by owner
 * tag: "tag:flowseg:managed"=TARGET. A group id that does not exist fails the call
 * (InvalidGroup.NotFound -> FSG_E_NOT_FOUND); filters that match nothing give an empty list. */
enum fsg_err fsg_ec2_describe_security_groups(struct fsg_aws_client *ec2,
                                              const char *const *group_ids, size_t n_group_ids,
                                              const struct fsg_ec2_filter *filters,
                                              size_t n_filters, struct fsg_ec2_sg_list *ret_groups,
                                              struct fsg_error *err) FSG_MUST_USE;

/* DescribeNetworkInterfaces by NetworkInterfaceId.N (eni_ids, may be empty) and filters, every
 * page. Always pass a filter (group-id, vpc-id, ...) or ids: unfiltered calls are throttled in
 * large accounts (ref/aws-wire.md §5.3); with neither this is FSG_E_INVALID_ARG. */
enum fsg_err fsg_ec2_describe_network_interfaces(struct fsg_aws_client *ec2,
                                                 const char *const *eni_ids, size_t n_eni_ids,
                                                 const struct fsg_ec2_filter *filters,
                                                 size_t n_filters,
                                                 struct fsg_ec2_eni_list *ret_enis,
                                                 struct fsg_error *err) FSG_MUST_USE;

#endif
