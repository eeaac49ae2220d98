/* ELBv2 calls over the AWS pipeline (lib/aws/aws.h, a client made with service
 * "elasticloadbalancing"): target health, target (de)registration, target groups.
 * ref/aws-wire.md §5.5.
 *
 * Wire form (Query protocol, version 2015-12-01): lists are `Name.member.N`, e.g.
 * `Targets.member.1.Id`, `Targets.member.1.Port`, `TargetGroupArns.member.1`.
 * Results are plain data owned by the caller: strings are fsg_strdup'ed, NULL when absent. */
#ifndef FSG_LIB_ELBV2_H
#define FSG_LIB_ELBV2_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/error.h"

struct fsg_aws_client;

#define FSG_ELBV2_API_VERSION "2015-12-01"

/* A target to (de)register; borrowed. */
struct fsg_elbv2_target {
    const char *id;                /* an IP for target type "ip", "i-..." for "instance" */
    long port;                     /* 0 = not sent (the target group's port) */
    const char *availability_zone; /* NULL = not sent; "all" for IPs outside the group's VPC */
};

/* One TargetHealthDescriptions member. */
struct fsg_elbv2_target_health {
    char *id;
    long port;                     /* 0 when absent */
    char *availability_zone;
    char *health_check_port;       /* a number or "traffic-port" */
    char *state;                   /* "initial", "healthy", "unhealthy", "unused", "draining",
                                    * "unavailable", "unhealthy.draining" */
    char *reason;                  /* "Elb.InitialHealthChecking", "Target.Timeout", ...; NULL
                                    * when healthy */
    char *description;
};

struct fsg_elbv2_target_health_list {
    struct fsg_elbv2_target_health *items;
    size_t len;
};
void fsg_elbv2_target_health_list_clean_up(struct fsg_elbv2_target_health_list *l); /* NULL ok */

struct fsg_elbv2_target_group {
    char *arn;
    char *name;
    char *protocol;                /* "TCP", "TLS", ... */
    long port;                     /* 0 when absent (lambda targets) */
    char *target_type;             /* "ip", "instance", "lambda", "alb" */
    char *vpc_id;
    char **load_balancer_arns;     /* may be empty: a group no load balancer uses */
    size_t n_load_balancer_arns;
};
void fsg_elbv2_target_group_clean_up(struct fsg_elbv2_target_group *tg); /* NULL ok; zeroes */

/* DescribeTargetHealth of every registered target of the group (plus the ones draining).
 * *ret_targets is caller storage, overwritten on success. Errors: FSG_E_NOT_FOUND
 * (TargetGroupNotFound: the message names the ARN), those of fsg_aws_query. */
enum fsg_err fsg_elbv2_describe_target_health(struct fsg_aws_client *elb,
                                              const char *target_group_arn,
                                              struct fsg_elbv2_target_health_list *ret_targets,
                                              struct fsg_error *err) FSG_MUST_USE;

/* RegisterTargets / DeregisterTargets of targets[0..n) (n >= 1) in one call. AWS applies all or
 * none. Registration is idempotent; AWS ignores deregistering an unknown target (emulators may
 * answer InvalidTarget). */
enum fsg_err fsg_elbv2_register_targets(struct fsg_aws_client *elb, const char *target_group_arn,
                                        const struct fsg_elbv2_target *targets, size_t n,
                                        struct fsg_error *err) FSG_MUST_USE;
enum fsg_err fsg_elbv2_deregister_targets(struct fsg_aws_client *elb,
                                          const char *target_group_arn,
                                          const struct fsg_elbv2_target *targets, size_t n,
                                          struct fsg_error *err) FSG_MUST_USE;

/* DescribeTargetGroups for one ARN into *ret_tg (caller storage, overwritten on success).
 * FSG_E_NOT_FOUND when the group does not exist. */
enum fsg_err fsg_elbv2_describe_target_group(struct fsg_aws_client *elb,
                                             const char *target_group_arn,
                                             struct fsg_elbv2_target_group *ret_tg,
                                             struct fsg_error *err) FSG_MUST_USE;

#endif
