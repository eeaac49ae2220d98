/* RDS calls over the AWS pipeline (lib/aws/aws.h, a client made with service "rds"): describe one
 * DB instance, and set its VPC security groups. ref/aws-wire.md §5.4.
 *
 * Wire form (Query protocol, version 2014-10-31): lists are `Name.<member name>.N`; the VPC
 * security-group list is `VpcSecurityGroupIds.VpcSecurityGroupId.N` (not `.member.N`).
 * Answers: <ActionResult><DBInstances><DBInstance>... read by local element name.
 * Results are plain data owned by the caller: strings are fsg_strdup'ed, NULL when absent. */
#ifndef FSG_LIB_RDS_H
#define FSG_LIB_RDS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/error.h"

struct fsg_aws_client;

#define FSG_RDS_API_VERSION "2014-10-31"

struct fsg_rds_sg_membership {
    char *group_id;     /* "sg-..." */
    char *status;       /* "active", "adding", "removing", ... */
};

struct fsg_rds_subnet {
    char *subnet_id;
    char *availability_zone;  /* SubnetAvailabilityZone/Name */
};

struct fsg_rds_instance {
    char *identifier;          /* DBInstanceIdentifier */
    char *arn;
    char *status;              /* DBInstanceStatus: "available", "modifying", ... */
    char *engine;
    char *endpoint_address;    /* NULL while the instance is being created */
    long endpoint_port;        /* 0 when there is no endpoint */
    char *availability_zone;   /* where the primary runs now */
    char *secondary_availability_zone; /* Multi-AZ standby; NULL otherwise */
    bool multi_az;
    bool publicly_accessible;
    char *db_cluster_id;       /* Aurora member: its SGs are managed on the cluster */
    char *vpc_id;              /* DBSubnetGroup/VpcId */
    char *subnet_group_name;
    struct fsg_rds_sg_membership *vpc_sgs;  /* VpcSecurityGroups, in answer order */
    size_t n_vpc_sgs;
    struct fsg_rds_subnet *subnets;         /* DBSubnetGroup/Subnets */
    size_t n_subnets;
};
void fsg_rds_instance_clean_up(struct fsg_rds_instance *db); /* NULL ok; zeroes */

/* DescribeDBInstances for one identifier (or ARN). *ret_db is caller storage, overwritten on
 * success. Errors: FSG_E_NOT_FOUND (DBInstanceNotFound: the message names the instance),
 * FSG_E_PARSE when the answer holds no or several instances, and those of fsg_aws_query. */
enum fsg_err fsg_rds_describe_db_instance(struct fsg_aws_client *rds, const char *identifier,
                                          struct fsg_rds_instance *ret_db,
                                          struct fsg_error *err) FSG_MUST_USE;

/* ModifyDBInstance with VpcSecurityGroupIds.VpcSecurityGroupId.1..n = group_ids: the complete
 * new set (it replaces the association; n >= 1, at most the ENI's SG quota). ApplyImmediately
 * is not sent: an SG change is applied at once anyway, while ApplyImmediately=true would also
 * apply every other pending modification now (a possible outage). ret_db (may be NULL)
 * receives the instance as the answer shows it (memberships may be "adding"/"removing").
 * Errors: FSG_E_NOT_FOUND, InvalidDBInstanceState / InvalidVPCNetworkStateFault ->
 * FSG_E_REMOTE with err->service_code set, and those of fsg_aws_query. */
enum fsg_err fsg_rds_modify_vpc_security_groups(struct fsg_aws_client *rds,
                                                const char *identifier,
                                                const char *const *group_ids, size_t n_group_ids,
                                                struct fsg_rds_instance *ret_db,
                                                struct fsg_error *err) FSG_MUST_USE;

#endif
