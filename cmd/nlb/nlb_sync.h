/* Keeping a Network Load Balancer IP target group on an RDS instance's current private address
 * (it moves on a Multi-AZ failover). ref/aws-wire.md §5.3-§5.5.
 *
 * Two layers:
 * - pure functions (no I/O): which ENI is the instance's, what to register and deregister,
 *   whether the replacements are healthy; unit-tested on plain data;
 * - fsg_nlb_sync_run: the sequence against AWS, shared by `flowseg nlb-sync` and the Lambda's
 *   scheduled event:
 *     DescribeTargetGroups (type must be "ip") -> DescribeDBInstances (AZ, port, VPC SGs) ->
 *     DescribeNetworkInterfaces (group-id, availability-zone, vpc-id; then description
 *     "RDSNetworkInterface" or requester "amazon-rds") -> DescribeTargetHealth -> plan ->
 *     RegisterTargets (new first) -> poll DescribeTargetHealth until every wanted target is
 *     "healthy" (bounded) -> DeregisterTargets (stale last).
 *   The stale targets are deregistered only once every wanted target is healthy, so the group
 *   never loses its last healthy target to a replacement that does not work. Any read error
 *   before the first change changes nothing. */
#ifndef FSG_LIB_NLB_SYNC_H
#define FSG_LIB_NLB_SYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/buf.h"
#include "lib/aws/ec2.h"
#include "lib/aws/elbv2.h"
#include "lib/core/ip.h"
#include "lib/aws/rds.h"

struct fsg_aws_client;

/* How long a new target may take to become healthy. AWS: "It can take a few minutes for the
 * registration process to complete and health checks to start" (Elastic Load Balancing, Network
 * Load Balancers, "Register targets" and "Health checks for Network Load Balancer target
 * groups": https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html),
 * and then HealthyThresholdCount consecutive checks must pass (defaults 5 x 30 s = 150 s).
 * A few minutes (say 5) + 150 s, with margin: 10 minutes. Configurable: nlb.healthy_timeout_s. */
#define FSG_NLB_DEFAULT_HEALTHY_TIMEOUT_S 600L
/* NLB health checks run every 10 or 30 s; polling faster only spends API calls. */
#define FSG_NLB_DEFAULT_POLL_MS 5000L
/* What RDS puts on the ENIs it creates. */
#define FSG_NLB_RDS_ENI_DESCRIPTION "RDSNetworkInterface"
#define FSG_NLB_RDS_REQUESTER_ID "amazon-rds"

/* One target: an address in canonical text and a port. */
struct fsg_nlb_endpoint {
    char ip[FSG_IP_STR_MAX];
    long port;
};

/* ---------------------------------------------------------------------------------------- */
/* Pure part. */

/* Whether a described target counts as registered: not "draining" and not reported as
 * Target.NotRegistered / Target.DeregistrationInProgress. */
bool fsg_nlb_target_is_registered(const struct fsg_elbv2_target_health *t);

/* The described target equal to e (same address, compared numerically, and same port; a target
 * without a port has default_port), or NULL. Registered or not. */
const struct fsg_elbv2_target_health *
fsg_nlb_find_target(const struct fsg_elbv2_target_health_list *current,
                    const struct fsg_nlb_endpoint *e, long default_port);

/* What to do: register = wanted and not registered; deregister = registered and not wanted;
 * unchanged = wanted and registered. Each list is sorted and without duplicates. */
struct fsg_nlb_plan {
    struct fsg_nlb_endpoint *to_register;
    size_t n_register;
    struct fsg_nlb_endpoint *to_deregister;
    size_t n_deregister;
    struct fsg_nlb_endpoint *unchanged;
    size_t n_unchanged;
};
void fsg_nlb_plan_clean_up(struct fsg_nlb_plan *p); /* NULL ok; zeroes */
bool fsg_nlb_plan_is_empty(const struct fsg_nlb_plan *p);

/* Plans wanted[0..n_wanted) against current (DescribeTargetHealth). default_port is the target
 * group's port (for described targets without one). *ret_plan is caller storage, overwritten on
 * success. FSG_E_INVALID_ARG when nothing is wanted (an empty wanted set would deregister
 * everything: never), FSG_E_PARSE when a registered target's id is not an IP address (not an
 * ip target group). */
enum fsg_err fsg_nlb_plan_make(const struct fsg_nlb_endpoint *wanted, size_t n_wanted,
                               const struct fsg_elbv2_target_health_list *current,
                               long default_port, struct fsg_nlb_plan *ret_plan,
                               struct fsg_error *err) FSG_MUST_USE;

/* Index of the first of wanted[0..n) that is not "healthy" in current (missing counts as not
 * healthy), or n when all are. */
size_t fsg_nlb_first_unhealthy(const struct fsg_nlb_endpoint *wanted, size_t n,
                               const struct fsg_elbv2_target_health_list *current,
                               long default_port);

/* Whether eni is one RDS made for db: in db's AZ (and VPC when both are known), sharing one of
 * db's VPC security groups, with a primary private IP, and described "RDSNetworkInterface" or
 * requested/owned by "amazon-rds". */
bool fsg_nlb_eni_matches(const struct fsg_rds_instance *db, const struct fsg_ec2_eni *eni);

/* Picks db's ENI among enis. Exactly one match: that one. Several (a security group shared by
 * several databases in one AZ): the one holding resolved_ip (the endpoint's address as
 * resolved inside the VPC; NULL when unknown), else FSG_E_CONFLICT naming them. None:
 * FSG_E_NOT_FOUND saying what was looked for. *ret_index indexes enis->items. */
enum fsg_err fsg_nlb_select_eni(const struct fsg_rds_instance *db,
                                const struct fsg_ec2_eni_list *enis, const char *resolved_ip,
                                size_t *ret_index, struct fsg_error *err) FSG_MUST_USE;

/* ---------------------------------------------------------------------------------------- */
/* The run against AWS. */

/* Sleeps ms milliseconds. */
typedef void(fsg_nlb_sleep_fn)(long ms, void *userdata);
/* A monotonic clock in milliseconds. */
typedef long long(fsg_nlb_clock_ms_fn)(void *userdata);
/* Resolves host to one IP address in canonical text (ret_ip[FSG_IP_STR_MAX]). Used only when
 * several ENIs match. Any error means "unknown". */
typedef enum fsg_err(fsg_nlb_resolve_fn)(const char *host, char *ret_ip, void *userdata);

enum fsg_nlb_event_kind {
    FSG_NLB_EVENT_REGISTER,        /* a target was registered (or would be, dry run) */
    FSG_NLB_EVENT_DEREGISTER,      /* a stale target was deregistered (or would be) */
    FSG_NLB_EVENT_KEEP_STALE,      /* a stale target was left in place: its replacement is not
                                    * healthy (a refusal) */
};

/* One audit event; everything borrowed for the duration of the callback. */
struct fsg_nlb_event {
    enum fsg_nlb_event_kind kind;
    const char *target_group_arn;
    const char *rds_instance;
    const struct fsg_nlb_endpoint *target;
    bool dry_run;
    const char *reason;            /* KEEP_STALE: why; else NULL */
};
typedef void(fsg_nlb_event_fn)(const struct fsg_nlb_event *ev, void *userdata);

/* The inside of a JSON object (no braces) for fsg_log_fields, appended to out:
 * "event":"nlb_register"|"nlb_deregister"|"nlb_deregister_refused","target_group_arn":...,
 * "rds_instance":...,"target":"10.0.2.37","port":5432,"dry_run":false[,"reason":...] */
enum fsg_err fsg_nlb_event_json(const struct fsg_nlb_event *ev, struct fsg_buf *out) FSG_MUST_USE;

struct fsg_nlb_sync_options {
    struct fsg_aws_client *ec2;        /* borrowed: service "ec2" */
    struct fsg_aws_client *rds;        /* borrowed: service "rds" */
    struct fsg_aws_client *elbv2;      /* borrowed: service "elasticloadbalancing" */
    const char *target_group_arn;      /* required */
    const char *rds_instance;          /* required: identifier or ARN */
    long port;                         /* 0 = the instance's endpoint port */
    long healthy_timeout_s;            /* 0 = FSG_NLB_DEFAULT_HEALTHY_TIMEOUT_S */
    long poll_ms;                      /* 0 = FSG_NLB_DEFAULT_POLL_MS */
    bool dry_run;                      /* plan and report only */
    fsg_nlb_resolve_fn *resolve;       /* NULL = no DNS cross-check (ambiguity is an error) */
    void *resolve_userdata;
    fsg_nlb_sleep_fn *sleep;           /* NULL = nanosleep */
    fsg_nlb_clock_ms_fn *clock_ms;     /* NULL = CLOCK_MONOTONIC */
    void *clock_userdata;              /* for sleep and clock_ms */
    fsg_nlb_event_fn *on_event;        /* audit: one call per change or refusal; may be NULL */
    void *event_userdata;
};

enum fsg_nlb_outcome {
    FSG_NLB_FAILED = 0,    /* see the error; the plan/flags below say what was done */
    FSG_NLB_IN_SYNC,       /* nothing to do */
    FSG_NLB_UPDATED,       /* registered and/or deregistered */
    FSG_NLB_WOULD_UPDATE,  /* dry run with something to do */
};

/* What a run found and did; filled as far as the run got, also on failure. Caller storage,
 * zero-initialised; free with fsg_nlb_sync_result_clean_up. */
struct fsg_nlb_sync_result {
    enum fsg_nlb_outcome outcome;
    bool planned;                       /* the fields below are set */
    char *eni_id;
    char *availability_zone;
    struct fsg_nlb_endpoint address;    /* where the instance is now */
    struct fsg_nlb_plan plan;           /* against the first DescribeTargetHealth */
    bool registered;                    /* plan.to_register were registered */
    struct fsg_nlb_endpoint *deregistered; /* what was deregistered (or would be, dry run) */
    size_t n_deregistered;
    bool stale_kept;                    /* plan.to_deregister were left in place (refusal) */
    struct fsg_elbv2_target_health_list health; /* the last DescribeTargetHealth answer */
    char last_state[32];                /* of the first wanted target not healthy at the end */
    char last_reason[96];
    char last_description[256];
};
void fsg_nlb_sync_result_clean_up(struct fsg_nlb_sync_result *r); /* NULL ok; zeroes */

/* Runs one sync (see the top of this file). result must be zeroed; it is filled even when this
 * fails. Errors: FSG_E_INVALID_ARG (options; a target group whose type is not "ip"; no port),
 * FSG_E_NOT_FOUND (no such instance / target group / RDS ENI), FSG_E_CONFLICT (ambiguous ENIs),
 * FSG_E_CANCELLED (a wanted target did not become healthy in time: the message names it, the
 * target group and the last health reason; stale targets are left in place), and the AWS
 * errors of the calls (a failure before RegisterTargets changes nothing). */
enum fsg_err fsg_nlb_sync_run(const struct fsg_nlb_sync_options *o,
                              struct fsg_nlb_sync_result *result,
                              struct fsg_error *err) FSG_MUST_USE;

/* The run's summary as one JSON object, appended to out:
 * {"target_group_arn","rds_instance","address","port","eni","availability_zone",
 *  "registered":[{"id","port"}],"deregistered":[...],"unchanged":[{"id","port","state"}],
 *  "kept_stale":[...],"dry_run":bool,"result":"in_sync"|"updated"|"would_update"|"failed"}.
 * In a dry run "registered"/"deregistered" list what would be done. */
enum fsg_err fsg_nlb_sync_result_json(const struct fsg_nlb_sync_options *o,
                                      const struct fsg_nlb_sync_result *r,
                                      struct fsg_buf *out) FSG_MUST_USE;

/* A resolver for fsg_nlb_sync_options.resolve over getaddrinfo (first IPv4 answer, else the
 * first answer). userdata unused. */
enum fsg_err fsg_nlb_resolve_getaddrinfo(const char *host, char *ret_ip, void *userdata);

#endif
