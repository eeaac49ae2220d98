/* The live side of security groups: their current ingress rules read from EC2
 * (DescribeSecurityGroupRules, every page) into the same struct fsg_sg_current a state file
 * gives, so the diff, the state hash and `apply --plan` see one shape whatever the source.
 * ref/aws-wire.md §5.2. */
#ifndef FSG_POLICY_SG_LIVE_H
#define FSG_POLICY_SG_LIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/error.h"
#include "policy/sg_state.h"

struct fsg_aws_client;
struct fsg_ec2_sg_rule_list;

/* The ingress rules of group_id among `rules` (borrowed; other groups' rules and egress rules
 * are skipped) into *ret (zeroed caller storage; fsg_sg_current_clean_up). CIDR rules are
 * sorted (fsg_sg_rules_sort) and keep their "sgr-" ids; rules that reference a security group
 * or a prefix list become foreign rules. FSG_E_PARSE for a rule EC2 should not have sent (an
 * unknown protocol, a bad CIDR); *ret is then left zeroed. */
enum fsg_err fsg_sg_live_from_rules(const struct fsg_ec2_sg_rule_list *rules, const char *group_id,
                                    struct fsg_sg_current *ret, struct fsg_error *err) FSG_MUST_USE;

/* Reads the current ingress rules of n groups with ONE DescribeSecurityGroupRules call (filter
 * group-id = every id; all pages). ec2 and group_ids are borrowed. ret[n] is zeroed caller
 * storage, filled in group_ids order; ret_seen (may be NULL, n entries) tells for each group
 * whether the answer had any rule of it, ingress or egress (a group with none may not exist:
 * the caller checks with DescribeSecurityGroups). On failure every ret[i] is left zeroed. */
enum fsg_err fsg_sg_live_read(struct fsg_aws_client *ec2, const char *const *group_ids, size_t n,
                              struct fsg_sg_current *ret, bool *ret_seen,
                              struct fsg_error *err) FSG_MUST_USE;

#endif
