/* The pieces of `flowseg lambda` shared by cmd/cmd_lambda.c (entry, init, event dispatch,
 * summary), cmd/lambda_state.c (what lives across warm invocations), cmd/lambda_flows.c
 * (objects streamed from S3 into the flow table, targets seen) and cmd/lambda_apply.c (policy,
 * plan, apply, nlb-sync). Not an API outside cmd/.
 *
 * Time budget of one invocation (Lambda-Runtime-Deadline-Ms): the margin M is
 * max(FSG_LAMBDA_MARGIN_MIN_MS, FSG_LAMBDA_MARGIN_PERCENT % of the time from the start of the
 * invocation to its deadline). No new object (or scan listing) is started once less than M is
 * left; no new target is reconciled (and nlb-sync not started) once less than M/2 is left.
 * What was not started is listed in the summary's "deferred" and "partial" is true. */
#ifndef FSG_CMD_LAMBDA_INTERNAL_H
#define FSG_CMD_LAMBDA_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cmd/config.h"
#include "cmd/reconcile.h"
#include "lib/core/error.h"
#include "lib/aws/lambda.h"
#include "lib/aws/s3_event.h"

struct fsg_aws_client;
struct fsg_creds_provider;
struct fsg_http_client;
struct fsg_pce;
struct fsg_policy_model;

#define FSG_LAMBDA_MARGIN_MIN_MS 3000
#define FSG_LAMBDA_MARGIN_PERCENT 10

/* The CA bundle of Amazon Linux (provided.al2023), used when the Debian one is absent. */
#define FSG_LAMBDA_CA_AL2023 "/etc/pki/tls/certs/ca-bundle.crt"
#define FSG_LAMBDA_CA_DEBIAN "/etc/ssl/certs/ca-certificates.crt"

/* Everything kept across warm invocations. Made on first use (cold start stays short) and
 * freed by fsg_lambda_state_clean_up. */
struct fsg_lambda_state {
    struct fsg_config *config;       /* owned */
    const char *ca_file;             /* static: FSG_LAMBDA_CA_AL2023 or NULL (system store) */
    struct fsg_http_client *http;    /* one connection cache for EC2, RDS, ELBv2 and S3 */
    struct fsg_creds_provider *creds;
    struct fsg_aws_client *ec2;
    struct fsg_aws_client *rds;
    struct fsg_aws_client *elbv2;
    struct fsg_pce *pce;             /* kept: its connection and credentials */
    struct fsg_secret_source *pce_secret; /* pce.secret_arn/secret_parameter, read once per
                                           * cold start (and after a 401); NULL = env/files */
    struct fsg_policy_model *model;  /* the policy (with policy_ttl_s > 0, reused for so long) */
    char *policy_version;            /* owned: the PCE policy version of model, NULL = none */
    int64_t policy_at_ms;            /* CLOCK_MONOTONIC ms when the policy was read */
    unsigned long policy_fetches;    /* how many times the policy was read from the PCE */
    const char *function_name;       /* AWS_LAMBDA_FUNCTION_NAME (the role session name of the
                                      * function's own AWS calls), NULL outside Lambda */
    const char *own_key_id;          /* AWS_ACCESS_KEY_ID: the key its own calls are signed with */
    char **group_ids;                /* owned, n_targets: each target's managed group id as
                                      * last resolved (a created group's id is learned here) */
};

/* One invocation: its clock and the summary being built (JSON arrays, owned). */
struct fsg_lambda_work {
    struct fsg_lambda_state *st;            /* borrowed */
    const struct fsg_lambda_invocation *inv; /* borrowed */
    int64_t margin_ms;
    bool dry_run;
    json_t *objects;   /* {"bucket", "key", "size"?, "records"? | "error"? ("offset"?)} */
    json_t *filtered;  /* keys of the event that flowlogs.key_regex (or a "/" end) leaves out */
    json_t *targets;   /* {"name", "security_group", "status", "added", "removed", ...} */
    json_t *deferred;  /* objects ({"bucket", "key"}), targets ({"target"}), {"job"} */
    json_t *warnings;  /* strings */
    json_t *nlb;       /* NULL, or the nlb-sync summary */
    json_t *calls;     /* CloudTrail calls: {"event", "group"|"instance", "by", "action", ...} */
    const char *policy; /* "fetched", "cached", or NULL when not needed */
    bool *msg_failed;  /* SQS batches: n_messages flags, the batchItemFailures */
    size_t n_messages;
};

/* ---- lambda_state.c ---- */

/* FSG_LAMBDA_CA_AL2023 when it exists and FSG_LAMBDA_CA_DEBIAN does not, else NULL. */
const char *fsg_lambda_ca_fallback(void);

/* Makes the shared HTTP client, the credentials provider and the EC2, RDS and ELBv2 clients
 * if not made yet. */
enum fsg_err fsg_lambda_state_aws(struct fsg_lambda_state *st,
                                  struct fsg_error *err) FSG_MUST_USE;

/* The policy model in st->model: the cached one while policy_ttl_s has not passed, else read
 * from the PCE (the client is made once) with its requests and async waits bounded by
 * deadline_ms (Unix epoch ms, 0 = none; past it: FSG_E_CANCELLED). *ret_source is "cached" or
 * "fetched". All or nothing: on failure st keeps no policy. */
enum fsg_err fsg_lambda_state_policy(struct fsg_lambda_state *st, int64_t deadline_ms,
                                     const char **ret_source,
                                     struct fsg_error *err) FSG_MUST_USE;

void fsg_lambda_state_clean_up(struct fsg_lambda_state *st);

/* Records the managed group id of every target resolved in run (st->group_ids). */
void fsg_lambda_state_learn(struct fsg_lambda_state *st, const struct fsg_recon *run);

/* The managed group id of config target i: the config's, else the one learned; NULL when the
 * group is created by flowseg and has not been seen by this runtime yet. */
const char *fsg_lambda_state_group(const struct fsg_lambda_state *st, size_t i);

/* ---- the work of one invocation ---- */

/* Whether at least threshold_ms are left before the deadline. */
bool fsg_lambda_work_in_time(const struct fsg_lambda_work *w, int64_t threshold_ms);

/* Appends a JSON value (reference stolen) to one of w's arrays; FSG_E_NOMEM. */
enum fsg_err fsg_lambda_work_add(json_t *array, json_t *value) FSG_MUST_USE;
enum fsg_err fsg_lambda_work_warn(struct fsg_lambda_work *w, const char *fmt, ...)
    FSG_PRINTF(2, 3) FSG_MUST_USE;

/* lambda_flows.c: streams the objects of items (kind OBJECTS: wanted[i] says which passed the
 * key filter; kind SCAN: the one prefix, listed) into the flow table, then reconciles the
 * targets whose interfaces appear in the flows. */
enum fsg_err fsg_lambda_work_flows(struct fsg_lambda_work *w, const struct fsg_s3_event *ev,
                                   const bool *wanted, struct fsg_error *err) FSG_MUST_USE;

/* lambda_apply.c: policy, plan and (unless dry run) apply for every target left in run (its
 * config, clients and model are borrowed from w->st); one "targets" entry each. */
enum fsg_err fsg_lambda_reconcile(struct fsg_lambda_work *w, struct fsg_recon *run,
                                  struct fsg_error *err) FSG_MUST_USE;

/* lambda_apply.c: every target of the config (the scheduled event). */
enum fsg_err fsg_lambda_work_reconcile_all(struct fsg_lambda_work *w,
                                           struct fsg_error *err) FSG_MUST_USE;

/* lambda_apply.c: nlb-sync with the config's nlb section, its healthy wait bounded by the
 * deadline; the summary goes to w->nlb. Without an nlb section: a warning, FSG_OK. */
enum fsg_err fsg_lambda_work_nlb(struct fsg_lambda_work *w, struct fsg_error *err) FSG_MUST_USE;

/* lambda_calls.c: the CloudTrail API calls of ev (tamper protection): each call is matched
 * against the targets by group id or DB instance without any AWS or PCE request; calls on
 * other groups, failed calls and flowseg's own changes are ignored with one log line each;
 * only the targets concerned are resolved and reconciled. One w->calls entry per call. */
enum fsg_err fsg_lambda_work_calls(struct fsg_lambda_work *w, const struct fsg_s3_event *ev,
                                   struct fsg_error *err) FSG_MUST_USE;

/* lambda_match.c: whether a CloudTrail caller is this very function: its userIdentity.arn is the
 * function's role session (assumed-role/ROLE/FUNCTION_NAME) AND its accessKeyId is the key this
 * execution environment signs with (AWS_ACCESS_KEY_ID, which Lambda sets). The session name
 * alone is chosen by whoever calls AssumeRole, so anyone could claim it; the temporary key id
 * cannot be claimed. False when any part is NULL or empty (a change by another environment of
 * the same function is then reconciled: a no-op, never a loop). */
bool fsg_lambda_own_session(const char *principal_arn, const char *access_key_id,
                            const char *function_name, const char *own_key_id);

/* lambda_match.c: whether call c is a change flowseg makes itself: an Authorize or
 * ModifySecurityGroupRules writing only CIDR rules described "flowseg ...", a Revoke, or a
 * ModifyDBInstance whose group list holds managed_group (NULL: unknown, never). */
bool fsg_lambda_flowseg_change(const struct fsg_s3_event_call *c, const char *managed_group);

/* lambda_match.c: whether a call's DB instance (identifier or ARN) is `configured`. */
bool fsg_lambda_same_instance(const char *sent, const char *configured);

/* Marks the SQS message of an item or call as failed (no-op outside a batch). */
void fsg_lambda_work_fail_message(struct fsg_lambda_work *w, size_t message);

/* A recon run that borrows the config and clients of st (give them back with
 * fsg_lambda_recon_release before fsg_recon_clean_up). */
void fsg_lambda_recon_borrow(struct fsg_lambda_state *st, struct fsg_recon *run);
void fsg_lambda_recon_release(struct fsg_recon *run);

#endif
