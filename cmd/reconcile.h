/* The pipeline behind `plan` and `apply` (and the Lambda handler's reconcile):
 *
 *   config -> policy (PCE or --policy FILE) -> per target: resolve (RDS instance, interfaces,
 *   managed group; or the config alone with --state) -> current rules (EC2, one
 *   DescribeSecurityGroupRules for every group; or the state file) -> flows (SOURCEs, for the
 *   impact) -> plan (diff + guards + impact + notes)
 *
 * Everything is read before anything is written: a PCE or AWS read failure ends the run with
 * exit 1, no plan, nothing changed (DESIGN.md invariant 7). The functions here print their own
 * errors (cmd/ only) and return an exit code. */
#ifndef FSG_CMD_RECONCILE_H
#define FSG_CMD_RECONCILE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cmd/cli.h"
#include "cmd/sources.h"
#include "lib/core/flow.h"
#include "policy/compile.h"
#include "policy/model.h"
#include "policy/plan.h"
#include "policy/resolve.h"
#include "policy/sg_state.h"

struct fsg_aws_client;
struct fsg_eni_hint;

struct fsg_recon_options {
    const char *cmd;                 /* "plan" or "apply", for messages */
    const char *policy;              /* --policy FILE; NULL = the PCE of the config */
    const char *save_policy;         /* --save-policy FILE */
    const char *state;               /* --state FILE: offline (no AWS at all) */
    struct fsg_sources_opts flows;   /* flow-log SOURCEs and how to read them (impact) */
    bool force;                      /* apply --force: the removal guard is off */
};

/* One config target through the pipeline. */
struct fsg_recon_target {
    const struct fsg_config_target *config; /* borrowed from the run's config */
    struct fsg_resolve_request req;         /* points into config */
    struct fsg_resolved_target res;
    struct fsg_sg_current current;
    struct fsg_resolve_association assoc;   /* what the association would change */
    struct fsg_sg_current *others;          /* the interface's other groups after the apply
                                             * (impact only; cmd/recon_flows.c) */
    size_t n_others;
};

struct fsg_recon {
    struct fsg_config *config;
    bool live;                              /* AWS is read (no --state) */
    json_t *bundle;
    struct fsg_policy_model *model;
    struct fsg_sg_state *state;
    struct fsg_aws_client *ec2;
    struct fsg_aws_client *rds;
    struct fsg_recon_target *targets;       /* config order */
    size_t n_targets;
    bool has_flows;
    struct fsg_flow *flows;
    size_t n_flows;
    struct fsg_plan *plan;                  /* plan->targets[i] is targets[i] */
    const char *policy_version;             /* borrowed (from bundle, or the Lambda state): the
                                             * pinned PCE policy version, NULL = not known */
    const volatile sig_atomic_t *stop;      /* set by SIGTERM/SIGINT (apply): the call in
                                             * flight is finished and audited, no further
                                             * change is made; may be NULL */
    int64_t apply_deadline_ms;              /* wall-clock ms when waits (a busy RDS instance)
                                             * must end; 0 = FSG_APPLY_WAIT_S from now */
};

/* The whole pipeline up to the plan. */
int fsg_recon_plan(struct fsg_cli *cli, const struct fsg_recon_options *o, struct fsg_recon *run);

/* Pieces, for `apply --plan FILE`: the config (with targets), the AWS clients, and the targets
 * resolved and read (find_enis false: no flows are matched). */
int fsg_recon_load_config(struct fsg_cli *cli, const struct fsg_recon_options *o,
                          struct fsg_recon *run);
int fsg_recon_aws(struct fsg_cli *cli, const struct fsg_recon_options *o, struct fsg_recon *run);
int fsg_recon_resolve(struct fsg_cli *cli, const struct fsg_recon_options *o,
                      struct fsg_recon *run, bool find_enis);

/* The same as fsg_recon_resolve, without printing: for callers that report errors themselves
 * (the Lambda handler). */
enum fsg_err fsg_recon_resolve_targets(const struct fsg_recon_options *o, struct fsg_recon *run,
                                       bool find_enis, struct fsg_error *err) FSG_MUST_USE;

/* The same for the config targets i with only[i] (NULL = every one), in config order: the
 * Lambda's CloudTrail path resolves (and reads the group of) only the targets an API call
 * concerns. */
enum fsg_err fsg_recon_resolve_some(const struct fsg_recon_options *o, struct fsg_recon *run,
                                    const bool *only, bool find_enis,
                                    struct fsg_error *err) FSG_MUST_USE;

/* Keeps only the resolved targets i with keep[i] (in order) and frees the others: for a run that
 * reconciles a subset (the Lambda: the targets seen in an object's flows). Before planning. */
void fsg_recon_keep_targets(struct fsg_recon *run, const bool *keep);

/* Plans every target of run (policy model, current rules and flows already set) into run->plan
 * without printing; a failure's message names its target. The plan step of fsg_recon_plan. */
enum fsg_err fsg_recon_plan_targets(const struct fsg_recon_options *o, struct fsg_recon *run,
                                    struct fsg_error *err) FSG_MUST_USE;

/* ENI hints for the flow aggregator from the resolved targets: each interface's addresses and
 * the database port. Caller owns *ret_hints (fsg_free); the hints borrow from run. FSG_E_NOMEM. */
enum fsg_err fsg_recon_eni_hints(const struct fsg_recon *run, struct fsg_eni_hint **ret_hints,
                                 size_t *ret_n) FSG_MUST_USE;

/* The interface that records without interface-id in object `name` belong to: the first one of
 * the first target with one whose flow_log_id is in the file name; NULL when none. Borrowed from
 * run. */
const char *fsg_recon_default_eni(const struct fsg_recon *run, const char *name);

/* The PCE side of a config target, for the compiler (plan, apply, explain): ret borrows t's
 * strings and labels[] (room for FSG_RECON_MAX_LABELS). FSG_E_INVALID_ARG for more labels. */
#define FSG_RECON_MAX_LABELS 16
enum fsg_err fsg_recon_policy_target(const struct fsg_config_target *t,
                                     struct fsg_policy_label labels[FSG_RECON_MAX_LABELS],
                                     struct fsg_policy_target *ret,
                                     struct fsg_error *err) FSG_MUST_USE;

/* Reads the flow SOURCEs of o->flows into run->flows (cmd/sources.h; ENI hints from the
 * resolved targets). Any source that cannot be read is printed and fails the run. */
int fsg_recon_read_flows(struct fsg_cli *cli, const struct fsg_recon_options *o,
                         struct fsg_recon *run);

/* Reads the rules of every target's other security groups (impact: effective access), into
 * each target's `others`: live, the RDS instance's groups after the association minus the
 * managed one (one DescribeSecurityGroupRules for all); offline (--state), the state file's
 * groups that no target manages. A read failure fails the run (exit 1, nothing changed). */
int fsg_recon_read_others(struct fsg_cli *cli, const struct fsg_recon_options *o,
                          struct fsg_recon *run);
/* The same without printing (the Lambda handler). */
enum fsg_err fsg_recon_read_other_groups(struct fsg_recon *run,
                                         struct fsg_error *err) FSG_MUST_USE;
void fsg_recon_others_clean_up(struct fsg_recon_target *t);

/* Whether applying would change anything: rules, a group to create, an association. */
bool fsg_recon_has_changes(const struct fsg_recon *run);

void fsg_recon_clean_up(struct fsg_recon *run);

/* Writes buf to path (NULL = standard output). */
enum fsg_err fsg_recon_write(const char *path, const struct fsg_buf *buf,
                             struct fsg_error *err) FSG_MUST_USE;

/* Prints the error (err->code set from rc) and returns FSG_EXIT_ERROR. */
int fsg_recon_fail(struct fsg_cli *cli, const char *context, enum fsg_err rc,
                   struct fsg_error *err);

#endif
