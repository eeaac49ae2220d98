/* Target resolution: what a config target names in AWS, read live.
 *
 *   RDS instance (DescribeDBInstances): status, endpoint, port, VPC, AZs, its security groups;
 *   its network interfaces (DescribeNetworkInterfaces, filters group-id = the instance's groups
 *     and description = RDSNetworkInterface; then RDS's own interfaces, in the instance's AZs,
 *     carrying a configured address when there is one), with their addresses, so observed
 *     flows can be matched to the target; the config's `enis` replace that lookup and its
 *     `eni_addrs` add addresses;
 *   the managed security group: an id, or {"create": NAME, "vpc_id"} found by name in the VPC
 *     and only used when it carries flowseg's ownership tag (FSG_EC2_OWNER_TAG_KEY = target
 *     name), else created (apply) with that tag;
 *   the association (add / replace / none) of the managed group with the instance: the set of
 *     groups the instance should have, and whether ModifyDBInstance is needed.
 *
 * ref/aws-wire.md §5.2-§5.4. Changes (create, associate) write one audit line each. */
#ifndef FSG_POLICY_RESOLVE_H
#define FSG_POLICY_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/buf.h"
#include "lib/core/error.h"
#include "lib/core/ip.h"

struct fsg_aws_client;

/* The RDS description of its interfaces (ref/aws-wire.md §5.3). */
#define FSG_RESOLVE_RDS_ENI_DESCRIPTION "RDSNetworkInterface"
#define FSG_RESOLVE_RDS_REQUESTER "amazon-rds"

enum fsg_resolve_associate {
    FSG_RESOLVE_ASSOCIATE_ADD = 0, /* the managed group joins the instance's groups */
    FSG_RESOLVE_ASSOCIATE_REPLACE, /* it becomes the instance's only group */
    FSG_RESOLVE_ASSOCIATE_NONE,    /* the association is not flowseg's business */
};

/* One config target, borrowed for the calls. */
struct fsg_resolve_request {
    const char *name;              /* the target's name (also the ownership tag's value) */
    const char *rds_instance;      /* NULL: no RDS side (no lookup, no association) */
    const char *security_group;    /* "sg-..."; NULL when create_name is set */
    const char *create_name;       /* security_group: {"create": NAME, "vpc_id": VPC} */
    const char *create_vpc_id;     /* NULL = the instance's VPC */
    enum fsg_resolve_associate associate;
    const char *const *enis;       /* config `enis`: replace the lookup when any */
    size_t n_enis;
    const char *const *eni_addrs;  /* config `eni_addrs`: added to the addresses */
    size_t n_eni_addrs;
    bool find_enis;                /* look the interfaces up (only needed to match flows) */
};

/* What was found. Strings and arrays owned; zero-initialise, free with _clean_up. */
struct fsg_resolved_target {
    char *rds_status;          /* DBInstanceStatus, NULL without rds_instance */
    char *endpoint_address;
    long port;                 /* the endpoint's port, 0 when unknown */
    char *vpc_id;              /* the instance's VPC */
    char *availability_zone;
    char **db_groups;          /* the instance's VPC security groups now (not "removing") */
    size_t n_db_groups;
    char *group_id;            /* the managed group; NULL while it is still to be created */
    char *group_label;         /* what reports show: the id, or the name to create */
    char *group_vpc_id;        /* VPC of a group to create (or found by name) */
    bool group_is_flowseg;     /* found or created by name with the ownership tag */
    char **enis;               /* the target's interfaces */
    size_t n_enis;
    struct fsg_ip *addrs;      /* their addresses plus the config's eni_addrs */
    size_t n_addrs;
    char **notes;              /* things the plan should say (ambiguous interfaces, ...) */
    size_t n_notes;
};

void fsg_resolved_target_clean_up(struct fsg_resolved_target *t); /* NULL ok; zeroes */

/* Reads the target (read only: DescribeDBInstances, DescribeNetworkInterfaces when
 * req->find_enis, DescribeSecurityGroups for a group named by `create`). ec2/rds are borrowed;
 * rds may be NULL when req->rds_instance is. *ret is zeroed caller storage, filled on success.
 * Errors: FSG_E_NOT_FOUND (the instance), FSG_E_REFUSED (a group of the create name exists
 * but is not flowseg's), FSG_E_INVALID_ARG (a create without a VPC to put it in, a bad
 * eni_addrs entry), FSG_E_REMOTE (an Aurora member: its groups are the cluster's), and lib/ec2,
 * lib/rds errors. Every message names the target. */
enum fsg_err fsg_resolve_target(struct fsg_aws_client *ec2, struct fsg_aws_client *rds,
                                const struct fsg_resolve_request *req,
                                struct fsg_resolved_target *ret,
                                struct fsg_error *err) FSG_MUST_USE;

/* The config-only resolution (offline plans): the group from the config, the interfaces and
 * addresses from `enis` / `eni_addrs`. */
enum fsg_err fsg_resolve_offline(const struct fsg_resolve_request *req,
                                 struct fsg_resolved_target *ret,
                                 struct fsg_error *err) FSG_MUST_USE;

/* Creates the managed group when t->group_id is NULL (CreateSecurityGroup with the ownership
 * tag; a concurrent run's group of the same name and tag is taken instead). Sets t->group_id.
 * *ret_created (may be NULL) says whether this call created it. Audit line "create_group". */
enum fsg_err fsg_resolve_ensure_group(struct fsg_aws_client *ec2,
                                      const struct fsg_resolve_request *req,
                                      struct fsg_resolved_target *t, bool *ret_created,
                                      struct fsg_error *err) FSG_MUST_USE;

/* The instance's security groups after the association, and whether they change. */
struct fsg_resolve_association {
    bool changes;
    char **groups;  /* the complete new set when changes (ModifyDBInstance takes the whole set) */
    size_t n_groups;
};
void fsg_resolve_association_clean_up(struct fsg_resolve_association *a); /* NULL ok; zeroes */

/* Pure: the association req->associate asks for, for group `group` (t->group_id, or the label
 * of a group still to create). No change without an RDS instance or with associate none. */
enum fsg_err fsg_resolve_association(const struct fsg_resolve_request *req,
                                     const struct fsg_resolved_target *t, const char *group,
                                     struct fsg_resolve_association *ret) FSG_MUST_USE;

/* One sentence for the plan about an association that changes ("association (add): sg-x joins
 * the security groups of RDS instance db (now sg-a)"), appended to out. */
enum fsg_err fsg_resolve_association_describe(const struct fsg_resolve_request *req,
                                              const struct fsg_resolved_target *t,
                                              const struct fsg_resolve_association *a,
                                              struct fsg_buf *out) FSG_MUST_USE;

/* Applies the association: ModifyDBInstance (without ApplyImmediately) only when the set
 * changes; t->db_groups is updated. *ret_changed (may be NULL) says whether a call was made.
 * Audit line "associate" (after a "requested" intent line). t->group_id must be set.
 * An instance that is busy (modifying, backing up) answers InvalidDBInstanceState: the call is
 * tried again, with waits, until deadline_ms (wall-clock milliseconds; 0 = no retry), then the
 * error is FSG_E_CONFLICT with a message saying the rules are in place and the group is not yet
 * attached (an audit line "associate" with result "not_attached"); the next run completes it.
 * https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html (Errors:
 * InvalidDBInstanceState, "the DB instance isn't in a valid state"). */
enum fsg_err fsg_resolve_associate_until(struct fsg_aws_client *rds,
                                         const struct fsg_resolve_request *req,
                                         struct fsg_resolved_target *t, int64_t deadline_ms,
                                         bool *ret_changed, struct fsg_error *err) FSG_MUST_USE;

/* fsg_resolve_associate_until without waiting. */
enum fsg_err fsg_resolve_associate(struct fsg_aws_client *rds,
                                   const struct fsg_resolve_request *req,
                                   struct fsg_resolved_target *t, bool *ret_changed,
                                   struct fsg_error *err) FSG_MUST_USE;

#endif
