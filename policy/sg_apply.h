/* Executes one security group's plan through lib/ec2 (DESIGN.md invariants 6-8), step by step
 * as options.calls says: the schedule the plan showed (policy/plan.h fsg_plan_target.calls,
 * made by policy/sg_schedule.h), never computed again here, so what is applied is exactly what
 * was shown:
 *
 *  - when everything fits under the quota: every rule of plan->add in ONE
 *    AuthorizeSecurityGroupIngress call (rules grouped into IpPermissions by protocol and ports,
 *    each CIDR with its description), then every removal in ONE RevokeSecurityGroupIngress by
 *    rule ids (CIDR rules and, in ownership "group", rules that reference a group or a prefix
 *    list);
 *  - when authorizing first would cross the rules-per-group quota (guards.max_rules): first
 *    ModifySecurityGroupRules rewrites enough stale rules in place into new ones, then the rest
 *    is authorized and the remaining stale rules revoked. The group never holds more than the
 *    quota, and a source that stays allowed never loses access.
 *
 * Another run may get there first (two Lambdas on two objects): AuthorizeSecurityGroupIngress
 * is all-or-nothing, so one rule that already exists fails the whole call with
 * InvalidPermission.Duplicate; a revoked id fails the revoke with
 * InvalidSecurityGroupRuleId.NotFound. Either way the group is described again, what is
 * already done is dropped, and the rest is sent once more (once: a third answer of the same
 * kind is an error). The quota error (RulesPerSecurityGroupLimitExceeded) stops the apply
 * before any revoke, as a refusal, unless the call's answer was lost before it and the group
 * read again holds every rule (the first attempt had landed): then the step is done.
 *
 * Audit (policy/audit.h): before each mutating call one "requested" line (the action, the
 * step, the rules); after it one line per rule ("authorize", "modify", "revoke") with
 * "result" ("created", "modified", "revoked", "already_present", "already_gone") and "by":
 * "this_run", or "found_already_so" when another actor had done it. When a call was sent but
 * its answer lost (a network error or timeout after sending, an HTTP 5xx, or a retry of such
 * a call that then got Duplicate/NotFound), the outcome is not guessed: the line says
 * "by": "unknown" with "outcome": "unknown: ...", and the group is read again to find out what
 * is there. Also when another error follows the lost answer (the retry answered the quota error
 * or any other error, or was lost too), and when the rest, sent again after a lost answer, is
 * answered Duplicate / NotFound / a conflict (proof that some of it is there): the group is
 * read again, each rule of that call is audited as in place ("by": "unknown") or not
 * ("not_created" | "not_modified" | "not_revoked", "by": "none"), or "result": "unknown" when
 * the group cannot be read; when nothing is missing the step is done, else the error says what
 * failed first (the lost answer and what the read found), then ("; then: ") what followed.
 * Rules that waited for a later call of a step that failed (new rules whose old rule is gone,
 * old rules to be revoked last) get a "not_created" / "not_revoked" line. A signal
 * (options.stop) lets the call in flight finish and be audited, then no further change is made
 * (FSG_E_CANCELLED, ret->interrupted, one "interrupted" audit line); the EC2 client does not
 * send that call again either (fsg_aws_client_set_stop: no retry after a lost answer). When
 * that call's answer was lost (or it answered Duplicate/NotFound), the group is read first, so
 * each of its rules is audited as in place ("by": "unknown" or "found_already_so") or not
 * ("result": "not_created" | "not_modified" | "not_revoked", "by": "none"; not sent again).
 *
 * Recovery after a lost answer reads the group again and sends the plan's remaining rules of
 * that call once more: only rules of the plan, never one it does not show. */
#ifndef FSG_POLICY_SG_APPLY_H
#define FSG_POLICY_SG_APPLY_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/core/error.h"
#include "policy/sg_diff.h"
#include "policy/sg_schedule.h"
#include "policy/sg_state.h"

struct fsg_aws_client;

/* EC2's quota error code (ref/aws-wire.md §5.1, §6.1). */
#define FSG_SG_APPLY_QUOTA_CODE "RulesPerSecurityGroupLimitExceeded"

struct fsg_sg_apply_options {
    const char *target;                   /* config target name, for audit lines; may be NULL */
    const struct fsg_sg_current *current; /* the group as just read (may be NULL): gives the
                                           * "sgr-" ids of remove rules that carry none (a plan
                                           * made from a state file) */
    const struct fsg_sg_schedule *calls;  /* the calls to make, in order: the schedule the
                                           * plan showed for this plan (fsg_sg_schedule_make
                                           * under guards.max_rules); required when the plan
                                           * has changes. Every rule of plan->add, ->remove and
                                           * ->remove_foreign must be in exactly one step of the
                                           * right kind, else nothing is sent. !fits: refused */
    const volatile sig_atomic_t *stop;    /* may be NULL; non-zero: make no further call */
    bool group_new;                       /* the group was created just now: EC2 may not know it
                                           * everywhere yet (eventual consistency), so
                                           * InvalidGroup.NotFound is tried again, with backoff,
                                           * for up to FSG_SG_APPLY_NEW_GROUP_WAIT_MS */
};

/* How long an authorize into a just-created group is retried on InvalidGroup.NotFound.
 * https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html */
#define FSG_SG_APPLY_NEW_GROUP_WAIT_MS 16000

/* What happened. Counts are rules. */
struct fsg_sg_apply_result {
    size_t modified;        /* rewritten in place by this run (ModifySecurityGroupRules) */
    size_t authorized;      /* created by this run */
    size_t already_present; /* to add, but another run had added them */
    size_t revoked;         /* removed by this run */
    size_t already_gone;    /* to remove, but already gone */
    size_t unknown;         /* in the state the run wanted, but whether this run did it is
                             * unknown (the answer to its request was lost) */
    unsigned calls;         /* EC2 calls made: Modify, Authorize, Revoke and re-Describe */
    bool quota_exceeded;    /* stopped by the rules-per-group quota (nothing revoked) */
    bool interrupted;       /* stopped by options.stop between two calls */
};

/* Executes plan (borrowed) against its group through ec2 (borrowed). *ret (caller storage) is
 * filled in every case, so a failure still says what was done before it. Errors: those of
 * lib/ec2 (the message names the group and the step; nothing is revoked once an authorize
 * failed), FSG_E_REFUSED for the quota (ret->quota_exceeded; also when no quota-safe order
 * exists), FSG_E_CANCELLED when options.stop was set (ret->interrupted), FSG_E_INVALID_ARG for a
 * remove rule without an id that the current state does not have either, or for calls that are
 * missing or not the plan's (nothing sent). */
enum fsg_err fsg_sg_apply(struct fsg_aws_client *ec2, const struct fsg_sg_plan *plan,
                          const struct fsg_sg_apply_options *opts,
                          struct fsg_sg_apply_result *ret, struct fsg_error *err) FSG_MUST_USE;

#endif
