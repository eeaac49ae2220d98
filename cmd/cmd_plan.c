/* flowseg plan: policy -> desired rules -> diff against the current security groups -> report.
 * A dry run: it changes nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cli.h"
#include "flowlogs/aggregate.h"
#include "flowlogs/source.h"
#include "lib/flow.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "policy/compile.h"
#include "policy/model.h"
#include "policy/pce.h"
#include "policy/plan.h"
#include "policy/report.h"
#include "policy/sg_state.h"

static const char s_usage_text[] =
    "usage: flowseg plan [OPTIONS] [SOURCE...]\n"
    "\n"
    "Dry run: reads the policy, compiles each config target's desired security-group rules,\n"
    "diffs them against the group's current rules and reports. Changes nothing.\n"
    "With SOURCEs (flow logs: file, directory, -, s3://bucket/key, s3://bucket/prefix/), the\n"
    "report shows the impact on observed traffic: connections the new rules would deny and\n"
    "rules no observed connection used.\n"
    "\n"
    "options:\n"
    "  --policy FILE        read an exported policy bundle instead of the live PCE\n"
    "  --save-policy FILE   also write the policy bundle that was used (to review or replay)\n"
    "  --state FILE         current rules: {\"sg-id\": [RULE, ...]} or the output of\n"
    "                       'aws ec2 describe-security-group-rules' (required in this build:\n"
    "                       reading the groups live from EC2 is not available yet)\n"
    "  --format FORMAT      text (default), json, markdown or html\n"
    "  --out FILE           write the report to FILE instead of standard output\n"
    "  --save-plan FILE     write the saved plan that 'flowseg apply --plan FILE' executes\n"
    "  --detailed-exitcode  exit 3 when the plan has changes (0: none, 1: error)\n"
    "  --help               this text\n"
    "\n"
    "Rules flowseg may remove: those whose description starts with \"flowseg \" (what it\n"
    "writes), or every CIDR rule of a group it creates itself (security_group: {\"create\"}).\n"
    "Guards (config \"guards\") are checked and shown as \"refused\".\n";

/* Observed flows (with SOURCEs): the ingress flow table of every source. */
struct s_flows {
    bool has_flows;
    struct fsg_flow *flows; /* fsg_free */
    size_t n_flows;
};

struct s_opts {
    const char *policy;
    const char *save_policy;
    const char *state;
    const char *out;
    const char *save_plan;
    enum fsg_report_format format;
    bool detailed;
    const char **sources;
    size_t n_sources;
};

/* Everything the run holds, released in one place. */
struct s_run {
    struct fsg_config *config;
    json_t *bundle;
    struct fsg_policy_model *model;
    struct fsg_sg_state *state;
    struct s_flows flows;
    struct fsg_plan *plan;
};

/* Prints the error; err->code is set from rc so that failures without detail (out of memory)
 * still name their code. */
static int s_fail(struct fsg_cli *cli, const char *context, enum fsg_err rc,
                  struct fsg_error *err)
{
    err->code = rc;
    return fsg_cli_error(cli, context, err);
}

/* ---- options --------------------------------------------------------------------------------- */

/* "--name VALUE" or "--name=VALUE"; *i advances past a separate value. */
static bool s_value(const char *name, int argc, char **argv, int *i, const char **ret)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0) {
        return false;
    }
    if (a[n] == '=') {
        *ret = a + n + 1;
        return true;
    }
    if (a[n] != '\0') {
        return false;
    }
    *ret = *i + 1 < argc ? argv[++*i] : NULL;
    return true;
}

static int s_parse_opts(struct fsg_cli *cli, int argc, char **argv, struct s_opts *o)
{
    static const char *const valued[] = { "--policy", "--save-policy", "--state", "--format",
                                          "--out", "--save-plan" };
    const char **slots[] = { &o->policy, &o->save_policy, &o->state, NULL, &o->out,
                             &o->save_plan };
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
            o->sources[o->n_sources++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp(a, "--detailed-exitcode") == 0) {
            o->detailed = true;
            continue;
        }
        size_t k = 0;
        while (k < sizeof valued / sizeof valued[0] && !s_value(valued[k], argc, argv, &i, &v)) {
            k++;
        }
        if (k == sizeof valued / sizeof valued[0]) {
            return fsg_cli_usage_error(cli, "plan", "unknown option '%s'", a);
        }
        if (v == NULL || v[0] == '\0') {
            return fsg_cli_usage_error(cli, "plan", "%s needs a value", valued[k]);
        }
        if (slots[k] != NULL) {
            *slots[k] = v;
        } else if (fsg_report_format_parse(v, &o->format) != FSG_OK) {
            return fsg_cli_usage_error(cli, "plan", "--format must be text, json, markdown or "
                                                    "html (got '%s')", v);
        }
    }
    return FSG_EXIT_OK;
}

/* ---- policy ---------------------------------------------------------------------------------- */

static enum fsg_err s_fetch_pce(const struct fsg_config *c, json_t **ret_bundle,
                                struct fsg_error *err)
{
    const struct fsg_config_pce *p = &c->pce;
    struct fsg_pce_options o = { .url = p->url, .org_id = p->org_id, .key_env = p->key_env,
                                 .secret_env = p->secret_env, .key_file = p->key_file,
                                 .secret_file = p->secret_file, .ca_file = p->ca_file,
                                 .timeout_s = p->timeout_s };
    struct fsg_pce *pce = NULL;
    enum fsg_err rc = fsg_pce_new(&o, &pce, err);
    if (rc == FSG_OK) {
        rc = fsg_pce_fetch_policy(pce, true, ret_bundle, err);
        fsg_log(FSG_LOG_INFO, "policy read from the PCE in %llu requests",
                (unsigned long long)fsg_pce_request_count(pce));
    }
    fsg_pce_destroy(pce);
    return rc;
}

/* The bundle from --policy or the live PCE, saved when asked, then the model. */
static int s_load_policy(struct fsg_cli *cli, const struct s_opts *o, struct s_run *run)
{
    struct fsg_error err = { 0 };
    enum fsg_err rc;
    if (o->policy != NULL) {
        rc = fsg_json_load_file(o->policy, NULL, &run->bundle, &err);
    } else if (run->config->pce.url == NULL) {
        return fsg_cli_usage_error(cli, "plan", "no policy source: pass --policy FILE (an "
                                                "exported policy) or set pce.url in the config");
    } else {
        rc = s_fetch_pce(run->config, &run->bundle, &err);
    }
    if (rc != FSG_OK) {
        return s_fail(cli, "policy", rc, &err);
    }
    if (o->save_policy != NULL) {
        rc = fsg_pce_save_bundle(run->bundle, o->save_policy, &err);
        if (rc != FSG_OK) {
            return s_fail(cli, "--save-policy", rc, &err);
        }
    }
    rc = fsg_policy_model_from_json(run->bundle, NULL, &run->model, &err);
    if (rc != FSG_OK) {
        return s_fail(cli, o->policy != NULL ? o->policy : "policy", rc, &err);
    }
    return FSG_EXIT_OK;
}

/* ---- one target ------------------------------------------------------------------------------ */

/* The target's eni_addrs parsed into out[t->n_eni_addrs]. */
static enum fsg_err s_parse_addrs(const struct fsg_config_target *t, struct fsg_ip *out,
                                  struct fsg_error *err)
{
    for (size_t i = 0; i < t->n_eni_addrs; i++) {
        if (fsg_ip_parse(fsg_span_from_cstr(t->eni_addrs[i]), &out[i]) != FSG_OK) {
            return fsg_error_set(err, FSG_E_PARSE, "target %s: eni_addrs[%zu]: \"%s\" is not an "
                                 "address", t->name, i, t->eni_addrs[i]);
        }
    }
    return FSG_OK;
}

/* The target's side of the flow table: its ENI ids and addresses from the config. */
struct s_impact_target {
    struct fsg_impact_target it;
    struct fsg_ip *addrs; /* fsg_free */
};

static enum fsg_err s_impact_target(const struct fsg_config_target *t, struct s_impact_target *ret,
                                    struct fsg_error *err)
{
    ret->addrs = fsg_calloc(t->n_eni_addrs + 1, sizeof *ret->addrs);
    if (ret->addrs == NULL) {
        return FSG_E_NOMEM;
    }
    ret->it = (struct fsg_impact_target){ .enis = (const char *const *)t->enis,
                                          .n_enis = t->n_enis, .addrs = ret->addrs,
                                          .n_addrs = t->n_eni_addrs };
    return s_parse_addrs(t, ret->addrs, err);
}

static enum fsg_err s_compile(const struct s_run *run, const struct fsg_config_target *t,
                              struct fsg_compiled_target **ret, struct fsg_error *err)
{
    struct fsg_policy_label labels[16];
    if (t->n_labels > sizeof labels / sizeof labels[0]) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "more than %zu labels",
                             sizeof labels / sizeof labels[0]);
    }
    for (size_t i = 0; i < t->n_labels; i++) {
        labels[i] = (struct fsg_policy_label){ .key = t->labels[i].key,
                                               .value = t->labels[i].value };
    }
    struct fsg_policy_target pt = { .name = t->name, .virtual_service = t->virtual_service,
                                    .workload = t->workload, .labels = labels,
                                    .n_labels = t->n_labels };
    return fsg_policy_compile(run->model, &pt, ret, err);
}

/* The group's current rules: from the state file, or empty for a group flowseg will create. */
static enum fsg_err s_current(const struct s_run *run, const struct s_opts *o,
                              const struct fsg_config_target *t, struct fsg_sg_current *ret,
                              struct fsg_error *err)
{
    const char *id = t->security_group != NULL ? t->security_group : t->create_name;
    if (id == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "no security_group: name the group in the config (an id, or "
                             "{\"create\": NAME, \"vpc_id\": ...})");
    }
    const struct fsg_sg_current *cur = fsg_sg_state_find(run->state, id);
    if (cur != NULL) {
        return fsg_sg_current_copy(ret, cur);
    }
    if (t->security_group == NULL) {
        return fsg_sg_current_init(ret, id); /* not created yet: no rule */
    }
    return fsg_error_set(err, FSG_E_NOT_FOUND,
                         "%s has no entry for %s: add \"%s\": [] if the group has no ingress "
                         "rule (a missing group is never taken as empty)", o->state, id, id);
}

static enum fsg_err s_plan_target(const struct s_run *run, const struct s_opts *o,
                                  const struct fsg_config_target *t, struct fsg_error *err)
{
    struct fsg_compiled_target *ct = NULL;
    struct fsg_sg_current cur = { 0 };
    struct s_impact_target it = { 0 };
    enum fsg_err rc = s_compile(run, t, &ct, err);
    if (rc == FSG_OK) {
        rc = s_current(run, o, t, &cur, err);
    }
    if (rc == FSG_OK) {
        rc = s_impact_target(t, &it, err);
    }
    if (rc == FSG_OK) {
        const struct fsg_config_guards *g = &run->config->guards;
        struct fsg_guard_limits limits = { .max_removals = g->max_removals,
                                           .allow_empty = g->allow_empty,
                                           .allow_public = g->allow_public,
                                           .max_rules = g->max_rules };
        struct fsg_sg_diff_options diff = { .ownership = t->security_group == NULL
                                                             ? FSG_SG_OWN_ALL
                                                             : FSG_SG_OWN_DESCRIBED };
        struct fsg_plan_inputs in = {
            .name = t->name, .security_group = cur.group_id, .desired = &ct->rules,
            .warnings = (const char *const *)ct->warnings, .n_warnings = ct->n_warnings,
            .current = &cur, .diff = &diff, .guards = &limits,
            .has_flows = run->flows.has_flows, .impact_target = &it.it,
            .flows = run->flows.flows, .n_flows = run->flows.n_flows,
        };
        rc = fsg_plan_add(run->plan, &in, err);
    }
    if (rc == FSG_OK && run->flows.has_flows && t->n_enis == 0 && t->n_eni_addrs == 0) {
        rc = fsg_plan_target_warn(&run->plan->targets[run->plan->n_targets - 1],
                                  "the config gives no enis or eni_addrs for this target, so no "
                                  "observed flow can be matched to it: the impact is empty");
    }
    fsg_free(it.addrs);
    fsg_sg_current_clean_up(&cur);
    fsg_compiled_target_destroy(ct);
    return rc;
}

static void s_log_target(const struct fsg_plan_target *t)
{
    char name[128], sg[64], refused[600];
    fsg_json_escape(t->name, name, sizeof name);
    fsg_json_escape(t->security_group, sg, sizeof sg);
    fsg_json_escape(t->refused != NULL ? t->refused : "", refused, sizeof refused);
    char line[1024];
    snprintf(line, sizeof line, "\"event\":\"plan\",\"target\":\"%s\",\"security_group\":\"%s\","
                                "\"add\":%zu,\"remove\":%zu,\"unchanged\":%zu,\"refused\":%s%s%s",
             name, sg, t->sg->add.len, t->sg->remove.len, t->sg->unchanged,
             t->refused != NULL ? "\"" : "null", t->refused != NULL ? refused : "",
             t->refused != NULL ? "\"" : "");
    fsg_log_fields(t->refused != NULL ? FSG_LOG_WARN : FSG_LOG_INFO, line);
}

static int s_plan_all(struct fsg_cli *cli, const struct s_opts *o, struct s_run *run)
{
    struct fsg_error err = { 0 };
    enum fsg_err rc = fsg_plan_new(&run->plan);
    if (rc != FSG_OK) {
        return s_fail(cli, "plan", rc, &err);
    }
    run->plan->created_s = (int64_t)time(NULL);
    for (size_t i = 0; i < run->config->n_targets; i++) {
        const struct fsg_config_target *t = &run->config->targets[i];
        rc = s_plan_target(run, o, t, &err);
        if (rc != FSG_OK) {
            char ctx[160];
            snprintf(ctx, sizeof ctx, "target %s", t->name);
            return s_fail(cli, ctx, rc, &err);
        }
        s_log_target(&run->plan->targets[run->plan->n_targets - 1]);
    }
    return FSG_EXIT_OK;
}

/* ---- output ---------------------------------------------------------------------------------- */

/* Writes buf to path (or stdout when path is NULL), completely or not at all reported as done. */
static enum fsg_err s_write(const char *path, const struct fsg_buf *buf, struct fsg_error *err)
{
    FILE *f = path != NULL ? fopen(path, "wb") : stdout;
    if (f == NULL) {
        return fsg_error_set(err, FSG_E_IO, "cannot open %s for writing: %s", path,
                             strerror(errno));
    }
    bool ok = fwrite(buf->ptr != NULL ? (const void *)buf->ptr : "", 1, buf->len, f) == buf->len;
    ok = fflush(f) == 0 && ok;
    if (path != NULL) {
        ok = fclose(f) == 0 && ok;
    }
    if (!ok) {
        return fsg_error_set(err, FSG_E_IO, "cannot write %s: %s",
                             path != NULL ? path : "standard output", strerror(errno));
    }
    return FSG_OK;
}

static int s_output(struct fsg_cli *cli, const struct s_opts *o, const struct s_run *run)
{
    struct fsg_error err = { 0 };
    struct fsg_buf report = FSG_BUF_INIT, saved = FSG_BUF_INIT;
    enum fsg_err rc = fsg_report_render(run->plan, o->format, &report, &err);
    if (rc == FSG_OK && o->save_plan != NULL) {
        rc = fsg_plan_save(run->plan, &saved, &err);
        if (rc == FSG_OK) {
            rc = s_write(o->save_plan, &saved, &err);
        }
    }
    if (rc == FSG_OK) {
        rc = s_write(o->out, &report, &err);
    }
    fsg_buf_clean_up(&saved);
    fsg_buf_clean_up(&report);
    return rc == FSG_OK ? FSG_EXIT_OK : s_fail(cli, "output", rc, &err);
}

/* ---- flows ----------------------------------------------------------------------------------- */

/* What reading the flow SOURCEs holds, released in one place. */
struct s_flow_read {
    struct fsg_eni_hint *hints;
    size_t n_hints;
    struct fsg_ip *addrs; /* every target's addresses, one array the hints point into */
    char **paths;
    size_t n_paths;
    struct fsg_object *objects;
    struct fsg_aggregate *agg;
    struct fsg_run_result res;
};

static void s_flow_read_clean_up(struct s_flow_read *fr)
{
    fsg_run_result_clean_up(&fr->res);
    fsg_aggregate_destroy(fr->agg);
    fsg_free(fr->objects);
    for (size_t i = 0; i < fr->n_paths; i++) {
        fsg_free(fr->paths[i]);
    }
    fsg_free(fr->paths);
    fsg_free(fr->addrs);
    fsg_free(fr->hints);
}

/* ENI hints from the config targets: each ENI's own addresses and the database port, so the
 * flow engine can tell a client's connection from the database's own outbound traffic. */
static enum fsg_err s_hints(const struct fsg_config *c, struct s_flow_read *fr,
                            struct fsg_error *err)
{
    size_t n_hints = 0, n_addrs = 0;
    for (size_t i = 0; i < c->n_targets; i++) {
        n_hints += c->targets[i].n_enis;
        n_addrs += c->targets[i].n_eni_addrs;
    }
    fr->hints = fsg_calloc(n_hints + 1, sizeof *fr->hints);
    fr->addrs = fsg_calloc(n_addrs + 1, sizeof *fr->addrs);
    if (fr->hints == NULL || fr->addrs == NULL) {
        return FSG_E_NOMEM;
    }
    size_t a = 0;
    for (size_t i = 0; i < c->n_targets; i++) {
        const struct fsg_config_target *t = &c->targets[i];
        const struct fsg_ip *first = &fr->addrs[a];
        enum fsg_err rc = s_parse_addrs(t, &fr->addrs[a], err);
        if (rc != FSG_OK) {
            return rc;
        }
        a += t->n_eni_addrs;
        for (size_t k = 0; k < t->n_enis; k++) {
            fr->hints[fr->n_hints++] = (struct fsg_eni_hint){
                .eni = t->enis[k], .addrs = first, .n_addrs = t->n_eni_addrs,
                .service_port = t->port > 0 && t->port <= 65535 ? (uint16_t)t->port : 0 };
        }
    }
    return FSG_OK;
}

/* Records without interface-id belong to the target whose flow_log_id is in the object name. */
static const char *s_default_eni(const struct fsg_config *c, const char *path)
{
    for (size_t i = 0; i < c->n_targets; i++) {
        const struct fsg_config_target *t = &c->targets[i];
        if (t->flow_log_id != NULL && t->n_enis > 0 && strstr(path, t->flow_log_id) != NULL) {
            return t->enis[0];
        }
    }
    return NULL;
}

/* Local paths of every SOURCE (directories expanded). s3:// is not read by plan yet. */
static int s_expand(struct fsg_cli *cli, const struct s_opts *o, struct s_flow_read *fr)
{
    for (size_t i = 0; i < o->n_sources; i++) {
        struct fsg_error err = { 0 };
        if (strncmp(o->sources[i], "s3://", 5) == 0) {
            return fsg_cli_usage_error(cli, "plan", "%s: S3 sources are not read by plan in this "
                                                    "build; copy the objects (aws s3 cp "
                                                    "--recursive) and pass the local files",
                                       o->sources[i]);
        }
        enum fsg_err rc = fsg_source_expand(o->sources[i], &fr->paths, &fr->n_paths, &err);
        if (rc != FSG_OK) {
            return s_fail(cli, o->sources[i], rc, &err);
        }
    }
    return FSG_EXIT_OK;
}

/* Logs malformed lines; any object that could not be read fails the plan: an impact computed
 * from part of the flows would mislead. */
static int s_flow_errors(struct fsg_cli *cli, const struct fsg_run_result *res)
{
    for (size_t i = 0; i < res->n_warnings; i++) {
        fsg_log(FSG_LOG_WARN, "%s: line %lu: %s", res->warnings[i].source,
                res->warnings[i].line, res->warnings[i].message);
    }
    for (size_t i = 0; i < res->n_errors; i++) {
        const struct fsg_run_error *e = &res->errors[i];
        fprintf(stderr, "%s: %s: at byte %llu: %s (%s)\n", cli->prog, e->source,
                (unsigned long long)e->offset, e->message, fsg_err_name(e->code));
    }
    if (res->n_errors > 0) {
        fprintf(stderr, "%s: %zu flow source(s) could not be read: no plan, the impact would be "
                        "incomplete\n", cli->prog, res->n_errors);
        return FSG_EXIT_ERROR;
    }
    return FSG_EXIT_OK;
}

static int s_run_sources(struct fsg_cli *cli, const struct fsg_config *c, struct s_flow_read *fr,
                         struct s_flows *ret)
{
    struct fsg_error err = { 0 };
    enum fsg_err rc = s_hints(c, fr, &err);
    if (rc == FSG_OK) {
        struct fsg_aggregate_options ao = { .hints = fr->hints, .n_hints = fr->n_hints };
        rc = fsg_aggregate_new(&ao, &fr->agg, &err);
    }
    fr->objects = fsg_calloc(fr->n_paths + 1, sizeof *fr->objects);
    rc = rc == FSG_OK && fr->objects == NULL ? FSG_E_NOMEM : rc;
    for (size_t i = 0; rc == FSG_OK && i < fr->n_paths; i++) {
        fr->objects[i] = (struct fsg_object){ .name = fr->paths[i],
                                              .default_eni = s_default_eni(c, fr->paths[i]) };
    }
    if (rc == FSG_OK) {
        struct fsg_run_options ro = { .jobs = 2 };
        rc = fsg_run_objects(fr->objects, fr->n_paths, &ro, fr->agg, &fr->res, &err);
    }
    if (rc != FSG_OK) {
        return s_fail(cli, "flows", rc, &err);
    }
    int ex = s_flow_errors(cli, &fr->res);
    if (ex != FSG_EXIT_OK) {
        return ex;
    }
    rc = fsg_aggregate_result(fr->agg, FSG_DIRECTION_INGRESS, NULL, 0, &ret->flows,
                              &ret->n_flows, &err);
    if (rc != FSG_OK) {
        return s_fail(cli, "flows", rc, &err);
    }
    ret->has_flows = true;
    return FSG_EXIT_OK;
}

static int s_read_flows(struct fsg_cli *cli, const struct fsg_config *c, const struct s_opts *o,
                        struct s_flows *ret)
{
    struct s_flow_read fr = { 0 };
    int ex = s_expand(cli, o, &fr);
    if (ex == FSG_EXIT_OK) {
        ex = s_run_sources(cli, c, &fr, ret);
    }
    s_flow_read_clean_up(&fr);
    return ex;
}

/* ---- entry ----------------------------------------------------------------------------------- */

static int s_run(struct fsg_cli *cli, const struct s_opts *o, struct s_run *run)
{
    int ex = fsg_cli_load_config(cli, &run->config);
    if (ex != FSG_EXIT_OK) {
        return ex;
    }
    if (run->config->n_targets == 0) {
        return fsg_cli_usage_error(cli, "plan", "the config has no targets: pass --config FILE "
                                                "with a \"targets\" list");
    }
    if (o->state == NULL) {
        return fsg_cli_usage_error(cli, "plan", "--state FILE is required: reading the current "
                                                "rules live from EC2 is not available in this "
                                                "build");
    }
    struct fsg_error err = { 0 };
    enum fsg_err rc = fsg_sg_state_load(o->state, &run->state, &err);
    if (rc != FSG_OK) {
        return s_fail(cli, "--state", rc, &err);
    }
    ex = s_load_policy(cli, o, run);
    if (ex == FSG_EXIT_OK && o->n_sources > 0) {
        ex = s_read_flows(cli, run->config, o, &run->flows);
    }
    if (ex == FSG_EXIT_OK) {
        ex = s_plan_all(cli, o, run);
    }
    if (ex == FSG_EXIT_OK) {
        ex = s_output(cli, o, run);
    }
    if (ex == FSG_EXIT_OK && o->detailed && fsg_plan_has_changes(run->plan)) {
        ex = FSG_EXIT_CHANGES;
    }
    return ex;
}

int fsg_cmd_plan(struct fsg_cli *cli, int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(s_usage_text, stdout);
            return FSG_EXIT_OK;
        }
    }
    struct s_opts o = { .format = FSG_REPORT_TEXT };
    struct s_run run = { 0 };
    o.sources = fsg_calloc((size_t)argc + 1, sizeof *o.sources);
    if (o.sources == NULL) {
        return s_fail(cli, "plan", FSG_E_NOMEM, &(struct fsg_error){ 0 });
    }
    int ex = s_parse_opts(cli, argc, argv, &o);
    if (ex == FSG_EXIT_OK) {
        ex = s_run(cli, &o, &run);
    }
    fsg_plan_destroy(run.plan);
    fsg_free(run.flows.flows);
    fsg_sg_state_destroy(run.state);
    fsg_policy_model_destroy(run.model);
    json_decref(run.bundle);
    fsg_config_destroy(run.config);
    fsg_free((void *)o.sources);
    return ex;
}
