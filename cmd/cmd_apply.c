/* flowseg apply: the plan of `flowseg plan`, then executed target by target: create the managed
 * group when asked, authorize first, revoke last (policy/sg_apply), then the association with
 * the RDS instance (policy/resolve). `--plan FILE` executes a saved plan instead, only when every
 * group still hashes to the state the plan was made from. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd/apply_out.h"
#include "cmd/apply_target.h"
#include "cmd/cli.h"
#include "cmd/opts.h"
#include "cmd/reconcile.h"
#include "lib/core/mem.h"
#include "policy/audit.h"
#include "policy/guards.h"
#include "policy/report.h"
#include "policy/sg_apply.h"

/* The source options apply takes, and its default --jobs (as plan). */
#define S_SOURCE_OPTS (FSG_SOURCES_OPT_JOBS | FSG_SOURCES_OPT_WINDOW)
#define S_DEFAULT_JOBS 0 /* one per CPU */

static const char s_help_head[] =
    "usage: flowseg apply [OPTIONS] [SOURCE...]\n"
    "\n"
    "Reconciles for real: the same plan as 'flowseg plan' (policy from the PCE or --policy,\n"
    "current rules read live from EC2, guards, impact on the flows of SOURCEs), then for each\n"
    "target: create the managed group when the config says {\"create\": ...}, authorize the new\n"
    "rules (one AuthorizeSecurityGroupIngress), revoke the stale ones (one\n"
    "RevokeSecurityGroupIngress by rule id), then associate the group with the RDS instance\n"
    "(associate: add | replace | none; ModifyDBInstance only when the set changes).\n"
    "What is removed follows the target's \"ownership\": \"group\" (default) removes every\n"
    "inbound rule the policy does not yield, whoever added it; \"rules\" only rules whose\n"
    "description starts with \"flowseg \". When authorizing first would cross guards.max_rules\n"
    "(the rules-per-group quota), stale rules are first rewritten in place\n"
    "(ModifySecurityGroupRules): the group never holds more than the quota.\n"
    "A target refused by a guard is not touched. An intent line (\"requested\") precedes each\n"
    "change; every change and refusal is one JSON audit line on stderr. SIGTERM/SIGINT: the\n"
    "call in flight is finished and audited (its answer lost: the group is read again\n"
    "first), no further change, exit 1 \"interrupted\".\n"
    "Prints the report and what was done.\n"
    "\n";

static const char s_help_options[] =
    "Any SOURCE that cannot be read: exit 1, nothing changed.\n"
    "\n"
    "options:\n"
    "  --plan FILE          apply exactly this saved plan (from 'flowseg plan --save-plan\n"
    "                       FILE'), only while it is still true: the policy (PCE or --policy)\n"
    "                       and the groups are read again and everything is planned again;\n"
    "                       refused (exit 1, nothing changed) when the compiler now refuses a\n"
    "                       target (the message gives its reason), a group changed, what the\n"
    "                       policy yields changed (policy version or desired rules), the\n"
    "                       config's ownership mode differs, the plan's add/remove differ\n"
    "                       from what the current diff gives (a hand-edited plan; the message\n"
    "                       says what differs), or the calls that make them differ from the\n"
    "                       plan's \"calls\" (guards.max_rules changed): apply makes the calls\n"
    "                       the plan shows; only after a lost answer (or an \"already there\"\n"
    "                       answer) does it read the group again and send the plan's rules not\n"
    "                       yet there once more (never a rule the plan does not show). Every\n"
    "                       guard is checked again against the current config;\n"
    "                       max_cut_sources on the cut-off count the plan recorded. Takes no\n"
    "                       SOURCE.\n"
    "  --policy FILE        read an exported policy bundle instead of the live PCE\n"
    "  --save-policy FILE   also write the policy bundle that was used\n"
    "  --force              override the removal guard (max_removals) only; never\n"
    "                       allow_empty, allow_public, max_rules or max_cut_sources\n"
    "  --dry-run            plan only, change nothing (also config \"dry_run\": true)\n"
    "  --format FORMAT      text (default) or json (the plan report plus an \"apply\" object)\n"
    "  --out FILE           write the output to FILE instead of standard output\n";

static const char s_help_tail[] =
    "  --help               this text\n"
    "\n"
    "Ownership (config target \"ownership\"): \"group\" (default) removes every inbound rule\n"
    "the policy does not yield, whoever added it (\"not in the policy, added outside\n"
    "flowseg\"); \"rules\" manages only rules whose description starts with \"flowseg \".\n"
    "Guards (config \"guards\"): max_removals, allow_empty, allow_public, max_rules, and with\n"
    "SOURCEs max_cut_sources (default 10): the most observed sources with accepted traffic\n"
    "that one apply may cut off, counting every security group of the instance.\n"
    "The same reconcile runs in the Lambda ('flowseg lambda'), also within seconds of a\n"
    "CloudTrail event that changes a managed group or a protected instance (tamper\n"
    "protection; see the README).\n"
    "\n"
    "Environment: FLOWSEG_APPLY_WAIT_S: how long to wait for a busy RDS instance\n"
    "(InvalidDBInstanceState) before reporting \"rules in place, group not yet attached\"\n"
    "(default 120).\n"
    "\n"
    "Exit: 0 done (or nothing to do), 1 error or any target refused/failed/interrupted (named\n"
    "on stderr; the other targets are still applied), 2 usage.\n";

static void s_help(void)
{
    fsg_sources_help(stdout, s_help_head, s_help_options, S_SOURCE_OPTS, S_DEFAULT_JOBS,
                     s_help_tail);
}

struct s_opts {
    struct fsg_recon_options recon;
    const char *plan_file;
    const char *out;
    bool json;
    bool dry_run;
};

static int s_parse_format(const struct fsg_cli *cli, const char *cmd, const char *name,
                          const char *value, void *ctx)
{
    if (strcmp(value, "text") != 0 && strcmp(value, "json") != 0) {
        return fsg_cli_usage_error(cli, cmd, "%s must be text or json (got '%s')", name, value);
    }
    *(bool *)ctx = strcmp(value, "json") == 0;
    return FSG_EXIT_OK;
}

static int s_parse_opts(struct fsg_cli *cli, int argc, char **argv, struct s_opts *o)
{
    struct fsg_opt table[7 + FSG_SOURCES_OPTS_MAX] = {
        { "--policy", .value = &o->recon.policy },
        { "--save-policy", .value = &o->recon.save_policy },
        { "--plan", .value = &o->plan_file },
        { "--format", .parse = s_parse_format, .ctx = &o->json },
        { "--out", .value = &o->out },
        { "--force", .flag = &o->recon.force },
        { "--dry-run", .flag = &o->dry_run },
    };
    struct fsg_sources_opts *src = &o->recon.flows;
    size_t n = 7 + fsg_sources_opts_table(src, S_SOURCE_OPTS, table + 7);
    int ex = fsg_opts_parse(cli, "apply", table, n, argc, argv, src->args, &src->n_args);
    if (ex == FSG_EXIT_OK && o->plan_file != NULL && src->n_args > 0) {
        ex = fsg_cli_usage_error(cli, "apply", "--plan FILE applies a saved plan as it is: "
                                               "it takes no SOURCE (the max_cut_sources guard "
                                               "is checked on the flow evidence the plan "
                                               "recorded)");
    }
    return ex;
}

/* ---- saved plans ----------------------------------------------------------------------------- */

static int s_load_saved(struct fsg_cli *cli, const char *path, struct fsg_plan **ret)
{
    struct fsg_error err = { 0 };
    struct fsg_buf text = FSG_BUF_INIT;
    enum fsg_err rc = fsg_buf_read_file(&text, path, 0, &err);
    if (rc == FSG_OK) {
        rc = fsg_plan_load(fsg_span_from_buf(&text), ret, &err);
    }
    fsg_buf_clean_up(&text);
    return rc == FSG_OK ? FSG_EXIT_OK : fsg_recon_fail(cli, path, rc, &err);
}

static struct fsg_recon_target *s_find_target(struct fsg_recon *run, const char *name,
                                              struct fsg_plan_target **ret_fresh)
{
    for (size_t i = 0; i < run->n_targets; i++) {
        if (strcmp(run->targets[i].config->name, name) != 0) {
            continue;
        }
        /* the fresh plan's entry of the same name (never another target's rules by index) */
        for (size_t k = 0; k < run->plan->n_targets; k++) {
            if (strcmp(run->plan->targets[k].name, name) == 0) {
                *ret_fresh = &run->plan->targets[k];
                return &run->targets[i];
            }
        }
    }
    return NULL;
}

/* The same changes, but made in other calls than the plan showed (guards.max_rules changed,
 * so the quota-safe order did): apply makes exactly the calls shown, or none. Not compared when
 * the plan did not record its calls, nor when the order no longer fits (the max_rules guard
 * refuses the target with its own reason). */
static enum fsg_err s_calls_differ(const struct fsg_plan_target *pt,
                                   const struct fsg_plan_target *fresh, struct fsg_buf *why)
{
    if (pt->saved_calls == NULL || !fresh->calls.fits) {
        return FSG_OK;
    }
    struct fsg_buf now = FSG_BUF_INIT;
    enum fsg_err rc = fsg_plan_calls_text(&fresh->calls, &now);
    if (rc == FSG_OK && strcmp(fsg_buf_cstr(&now), pt->saved_calls) != 0) {
        rc = fsg_buf_printf(why, "the same changes would now be made in other calls than the "
                                 "plan shows (guards.max_rules changed?): the plan shows %s; "
                                 "now %s", pt->saved_calls, fsg_buf_cstr(&now));
    }
    fsg_buf_clean_up(&now);
    return rc;
}

/* Why saved target pt cannot be applied as it is, compared with fresh (the same target planned
 * again now from the current policy, group and config), in why; nothing when it can. The first
 * kind of difference found is reported: the compiler now refusing the target (its plan is a
 * stand-in without the group's rules: comparing it would only say "changed"), the group, its
 * rules, the ownership mode, what the policy yields, the plan's own changes (a hand edit), then
 * the calls that make them. */
static enum fsg_err s_differs(const struct fsg_plan *saved, const struct fsg_plan_target *pt,
                              const struct fsg_plan *fresh_plan,
                              const struct fsg_plan_target *fresh, struct fsg_buf *why)
{
    char hash[FSG_SG_HASH_HEX_LEN + 1];
    if ((fresh->refused_guards & FSG_GUARD_POLICY) != 0) {
        return fsg_buf_printf(why, "the policy read now is refused for this target by the "
                                   "compiler (guard \"policy\"): %s",
                              fresh->refused != NULL ? fresh->refused : "?");
    }
    if (strcmp(pt->security_group, fresh->security_group) != 0) {
        return fsg_buf_printf(why, "the plan is for security group %s, the config now names %s",
                              pt->security_group, fresh->security_group);
    }
    if (strcmp(pt->sg->state_hash, fresh->sg->state_hash) != 0) {
        return fsg_buf_printf(why, "the plan is stale: security group %s changed since the plan "
                                   "was made (state %.12s, plan made from %.12s)",
                              fresh->security_group, fresh->sg->state_hash, pt->sg->state_hash);
    }
    if (pt->ownership != fresh->ownership) {
        return fsg_buf_printf(why, "the config now says ownership \"%s\", the plan was made under "
                                   "ownership \"%s\"", fsg_sg_ownership_name(fresh->ownership),
                              fsg_sg_ownership_name(pt->ownership));
    }
    enum fsg_err rc = fsg_plan_desired_hash(fresh_plan, fresh, hash, NULL);
    if (rc == FSG_OK && strcmp(hash, pt->desired_hash) != 0) {
        size_t n = 0;
        struct fsg_buf rules = FSG_BUF_INIT;
        rc = fsg_plan_check_edits(pt, fresh, &rules, &n);
        if (rc == FSG_OK) {
            rc = fsg_buf_printf(why, "what the policy yields changed since the plan was made "
                                     "(policy version %s then, %s now)%s%s",
                                saved->policy_version != NULL ? saved->policy_version : "unknown",
                                fresh_plan->policy_version != NULL ? fresh_plan->policy_version
                                                                   : "unknown",
                                n > 0 ? ": " : "", fsg_buf_cstr(&rules));
        }
        fsg_buf_clean_up(&rules);
        return rc;
    }
    size_t n = 0;
    struct fsg_buf rules = FSG_BUF_INIT;
    rc = rc == FSG_OK ? fsg_plan_check_edits(pt, fresh, &rules, &n) : rc;
    if (rc == FSG_OK && n > 0) {
        rc = fsg_buf_printf(why, "the plan differs from what flowseg plans now for the same "
                                 "group and policy (edited by hand?): %s",
                            fsg_buf_cstr(&rules));
    }
    fsg_buf_clean_up(&rules);
    return rc == FSG_OK && n == 0 ? s_calls_differ(pt, fresh, why) : rc;
}

/* The saved target takes the fresh target's diff (identical rules, current rule ids), warnings
 * and guards as the current config checks them, then the flow-evidence guard on the cut-off
 * count the plan recorded (flows are not read again). */
static enum fsg_err s_adopt(const struct fsg_recon *run, struct fsg_plan_target *pt,
                            struct fsg_plan_target *fresh)
{
    struct fsg_sg_plan *sg = pt->sg;
    pt->sg = fresh->sg;
    fresh->sg = sg;
    struct fsg_sg_schedule calls = pt->calls;
    pt->calls = fresh->calls;
    fresh->calls = calls;
    char **w = pt->warnings;
    size_t nw = pt->n_warnings, cw = pt->cap_warnings;
    pt->warnings = fresh->warnings;
    pt->n_warnings = fresh->n_warnings;
    pt->cap_warnings = fresh->cap_warnings;
    fresh->warnings = w;
    fresh->n_warnings = nw;
    fresh->cap_warnings = cw;
    char reason[FSG_GUARD_REASON_MAX];
    snprintf(reason, sizeof reason, "%s", fresh->refused != NULL ? fresh->refused : "");
    pt->refused_guards = fresh->refused_guards;
    if (pt->saved_cut_sources >= 0) {
        struct fsg_guard_limits limits = { .max_cut_sources =
                                               run->config->guards.max_cut_sources };
        pt->refused_guards |= fsg_guards_check_cut(&limits, (size_t)pt->saved_cut_sources,
                                                   pt->security_group, reason, sizeof reason);
    }
    fsg_free(pt->refused);
    pt->refused = NULL;
    if (pt->refused_guards != 0) {
        pt->refused = fsg_strdup(reason);
        return pt->refused != NULL ? FSG_OK : FSG_E_NOMEM;
    }
    return FSG_OK;
}

/* Every target of the saved plan must be in the config, its group, ownership mode and what the
 * policy yields unchanged since, and its changes exactly those planned again now. */
static int s_check_saved(struct fsg_cli *cli, const char *path, struct fsg_recon *run,
                         struct fsg_plan *saved, struct fsg_recon_target **map)
{
    int bad = 0;
    struct fsg_plan_target **fresh = fsg_calloc(saved->n_targets + 1, sizeof *fresh);
    if (fresh == NULL) {
        return fsg_recon_fail(cli, "apply", FSG_E_NOMEM, &(struct fsg_error){ 0 });
    }
    for (size_t i = 0; i < saved->n_targets; i++) {
        const struct fsg_plan_target *pt = &saved->targets[i];
        map[i] = s_find_target(run, pt->name, &fresh[i]);
        struct fsg_buf why = FSG_BUF_INIT;
        enum fsg_err rc = map[i] == NULL
                              ? fsg_buf_printf(&why, "target %s is not in the config", pt->name)
                              : s_differs(saved, pt, run->plan, fresh[i], &why);
        if (rc != FSG_OK) {
            fsg_buf_clean_up(&why);
            fsg_free(fresh);
            return fsg_recon_fail(cli, pt->name, rc, &(struct fsg_error){ 0 });
        }
        if (why.len > 0) {
            fprintf(stderr, "%s: apply: %s: target %s: %s\n", cli->prog, path, pt->name,
                    fsg_buf_cstr(&why));
            fsg_audit(FSG_LOG_WARN, "refused", pt->name, pt->security_group,
                      json_pack("{s:s, s:s}", "reason", fsg_buf_cstr(&why), "plan", path));
            bad++;
        }
        fsg_buf_clean_up(&why);
    }
    for (size_t i = 0; bad == 0 && i < saved->n_targets; i++) {
        if (s_adopt(run, &saved->targets[i], fresh[i]) != FSG_OK) {
            fsg_free(fresh);
            return fsg_recon_fail(cli, "apply", FSG_E_NOMEM, &(struct fsg_error){ 0 });
        }
    }
    fsg_free(fresh);
    if (bad > 0) {
        fprintf(stderr, "%s: apply: nothing changed: the saved plan %s is no longer what flowseg "
                        "would do; make a new plan (flowseg plan --save-plan FILE), review it, "
                        "and apply that\n", cli->prog, path);
        return FSG_EXIT_ERROR;
    }
    return FSG_EXIT_OK;
}

/* ---- entry ----------------------------------------------------------------------------------- */

/* The plan and the targets it pairs with: run->plan (fresh) or a saved one. */
struct s_work {
    struct fsg_plan *plan;            /* borrowed (run->plan) or the saved plan (owned) */
    struct fsg_plan *saved;
    struct fsg_recon_target **map;    /* plan->targets[i] -> its target */
    struct fsg_apply_result *results;
};

static int s_prepare(struct fsg_cli *cli, const struct s_opts *o, struct fsg_recon *run,
                     struct s_work *w)
{
    int ex;
    if (o->plan_file == NULL) {
        ex = fsg_recon_plan(cli, &o->recon, run);
        w->plan = run->plan;
    } else {
        /* The saved plan is read first (a file that is not a plan fails before any PCE or AWS
         * read), then everything is planned again from the current policy, groups and config,
         * and the saved plan is compared with that. */
        ex = s_load_saved(cli, o->plan_file, &w->saved);
        if (ex == FSG_EXIT_OK) {
            ex = fsg_recon_plan(cli, &o->recon, run);
        }
        w->plan = w->saved;
    }
    if (ex != FSG_EXIT_OK) {
        return ex;
    }
    w->map = fsg_calloc(w->plan->n_targets + 1, sizeof *w->map);
    w->results = fsg_calloc(w->plan->n_targets + 1, sizeof *w->results);
    if (w->map == NULL || w->results == NULL) {
        return fsg_recon_fail(cli, "apply", FSG_E_NOMEM, &(struct fsg_error){ 0 });
    }
    if (o->plan_file != NULL) {
        return s_check_saved(cli, o->plan_file, run, w->plan, w->map);
    }
    for (size_t i = 0; i < w->plan->n_targets; i++) {
        w->map[i] = &run->targets[i];
    }
    return FSG_EXIT_OK;
}

/* SIGTERM / SIGINT during an apply: the EC2/RDS call in flight is finished and audited, then no
 * further change is made, and the run exits 1 saying "interrupted". */
static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    s_stop = sig;
}

static void s_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* the call in flight goes on */
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGINT, &sa, NULL);
}

static int s_run(struct fsg_cli *cli, const struct s_opts *o, struct fsg_recon *run,
                 struct s_work *w)
{
    int ex = s_prepare(cli, o, run, w);
    if (ex != FSG_EXIT_OK) {
        return ex;
    }
    bool dry_run = o->dry_run || run->config->dry_run;
    if (!dry_run) {
        s_catch_signals();
        run->stop = &s_stop;
    }
    for (size_t i = 0; !dry_run && i < w->plan->n_targets; i++) {
        fsg_apply_target(run, w->map[i], &w->plan->targets[i], o->recon.force, &w->results[i]);
    }
    struct fsg_apply_output out = { .plan = w->plan, .results = w->results, .dry_run = dry_run,
                                    .json = o->json, .path = o->out };
    ex = fsg_apply_print(cli, &out);
    ex = ex != FSG_EXIT_OK ? ex : fsg_apply_exit_code(cli, &out);
    if (s_stop != 0) {
        fprintf(stderr, "%s: apply: interrupted by signal %d: the call in flight was finished "
                        "and audited, no further change was made; run apply again to "
                        "complete\n", cli->prog, (int)s_stop);
        ex = FSG_EXIT_ERROR;
    }
    return ex;
}

int fsg_cmd_apply(struct fsg_cli *cli, int argc, char **argv)
{
    if (fsg_opts_want_help(argc, argv)) {
        s_help();
        return FSG_EXIT_OK;
    }
    struct s_opts o = { .recon = { .cmd = "apply" } };
    struct fsg_recon run = { 0 };
    struct s_work w = { 0 };
    if (fsg_sources_opts_init(&o.recon.flows, argc, S_DEFAULT_JOBS) != FSG_OK) {
        return fsg_recon_fail(cli, "apply", FSG_E_NOMEM, &(struct fsg_error){ 0 });
    }
    int ex = s_parse_opts(cli, argc, argv, &o);
    if (ex == FSG_EXIT_OK) {
        ex = s_run(cli, &o, &run, &w);
    }
    for (size_t i = 0; w.results != NULL && w.plan != NULL && i < w.plan->n_targets; i++) {
        fsg_free(w.results[i].error);
    }
    fsg_free(w.results);
    fsg_free(w.map);
    fsg_plan_destroy(w.saved);
    fsg_recon_clean_up(&run);
    fsg_sources_opts_clean_up(&o.recon.flows);
    return ex;
}
