/* The json report (CONTRACT.md `plan --format json`) and the saved plan (write and read). */
#include <stdio.h>
#include <string.h>

#include "lib/core/json.h"
#include "lib/core/mem.h"
#include "policy/report.h"
#include "policy/report_internal.h"

/* 2: desired_hash, impact.cut_sources (plans of version 1 are refused: they
 * cannot prove that the policy did not change). */
#define S_SAVED_PLAN_VERSION 2
/* A saved plan is a few rules per target; anything this big is not one. */
#define S_MAX_PLAN_BYTES ((size_t)64 << 20)

/* ---- writing --------------------------------------------------------------------------------- */

/* A JSON string; text that is not valid UTF-8 (a description cut mid-character) gets '?' for
 * each non-ASCII byte instead of failing the whole report. */
static json_t *s_str(const char *s)
{
    json_t *j = json_string(s);
    if (j != NULL || s == NULL) {
        return j;
    }
    char *copy = fsg_strdup(s);
    if (copy == NULL) {
        return NULL;
    }
    for (char *p = copy; *p != '\0'; p++) {
        *p = (unsigned char)*p >= 0x80 ? '?' : *p;
    }
    j = json_string(copy);
    fsg_free(copy);
    return j;
}

static json_t *s_opt_str(const char *s)
{
    return s != NULL ? s_str(s) : json_null();
}

/* set_new that remembers a failure (jansson frees the value either way). */
static void s_set(json_t *o, const char *key, json_t *v, bool *ok)
{
    if (v == NULL || json_object_set_new(o, key, v) != 0) {
        *ok = false;
    }
}

static void s_push(json_t *a, json_t *v, bool *ok)
{
    if (v == NULL || json_array_append_new(a, v) != 0) {
        *ok = false;
    }
}

static json_t *s_done(json_t *v, bool ok)
{
    if (!ok) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static json_t *s_rule(const struct fsg_sg_rule *r, bool with_id)
{
    char pbuf[8], cidr[FSG_CIDR_STR_MAX];
    json_t *o = json_object();
    bool ok = o != NULL;
    if (ok) {
        s_set(o, "proto", json_string(fsg_sg_proto_name(r->proto, pbuf)), &ok);
        s_set(o, "from_port", json_integer(r->from_port), &ok);
        s_set(o, "to_port", json_integer(r->to_port), &ok);
        s_set(o, r->cidr.addr.is_v6 ? "cidr_ipv6" : "cidr",
              json_string(fsg_cidr_format(&r->cidr, cidr)), &ok);
        s_set(o, "description", s_opt_str(r->description), &ok);
        if (with_id && r->rule_id != NULL) {
            s_set(o, "rule_id", s_str(r->rule_id), &ok);
        }
    }
    return s_done(o, ok);
}

/* A removal: the rule and why it goes (ownership). */
static json_t *s_removal(const struct fsg_sg_rule *r, bool with_id)
{
    json_t *o = s_rule(r, with_id);
    bool ok = o != NULL;
    if (ok) {
        s_set(o, "reason", json_string(fsg_sg_removal_reason(r->description)), &ok);
    }
    return s_done(o, ok);
}

/* A removal of a rule that references a security group or a prefix list (ownership group). */
static json_t *s_foreign_removal(const struct fsg_sg_foreign_rule *f, bool with_id)
{
    char pbuf[8];
    const char *peer = f->peer != NULL ? f->peer : "";
    json_t *o = json_object();
    bool ok = o != NULL;
    if (ok) {
        s_set(o, "proto", json_string(fsg_sg_proto_name(f->proto, pbuf)), &ok);
        s_set(o, "from_port", json_integer(f->from_port), &ok);
        s_set(o, "to_port", json_integer(f->to_port), &ok);
        s_set(o, strncmp(peer, "pl-", 3) == 0 ? "prefix_list" : "source_group", s_str(peer), &ok);
        s_set(o, "description", s_opt_str(f->description), &ok);
        if (with_id && f->rule_id != NULL) {
            s_set(o, "rule_id", s_str(f->rule_id), &ok);
        }
        s_set(o, "reason", json_string(FSG_SG_REASON_FOREIGN), &ok);
    }
    return s_done(o, ok);
}

/* plan->remove then plan->remove_foreign, each with its reason. */
static json_t *s_removals(const struct fsg_sg_plan *sg, bool with_id)
{
    json_t *a = json_array();
    bool ok = a != NULL;
    for (size_t i = 0; ok && sg != NULL && i < sg->remove.len; i++) {
        s_push(a, s_removal(&sg->remove.items[i], with_id), &ok);
    }
    for (size_t i = 0; ok && sg != NULL && i < sg->n_remove_foreign; i++) {
        s_push(a, s_foreign_removal(&sg->remove_foreign[i], with_id), &ok);
    }
    return s_done(a, ok);
}

/* [{"action": "ModifySecurityGroupRules", "count": N}, ...] in the order apply makes them. */
static json_t *s_calls(const struct fsg_sg_schedule *cs)
{
    json_t *a = json_array();
    bool ok = a != NULL;
    for (size_t i = 0; ok && i < cs->n_steps; i++) {
        s_push(a, json_pack("{s:s, s:I}", "action", fsg_sg_call_name(cs->steps[i].call), "count",
                            (json_int_t)fsg_sg_step_count(&cs->steps[i])), &ok);
    }
    return s_done(a, ok);
}

static json_t *s_rules(const struct fsg_sg_rules *list, bool with_id)
{
    json_t *a = json_array();
    bool ok = a != NULL;
    for (size_t i = 0; ok && list != NULL && i < list->len; i++) {
        s_push(a, s_rule(&list->items[i], with_id), &ok);
    }
    return s_done(a, ok);
}

static json_t *s_labels(const struct fsg_impact_conn *c)
{
    json_t *o = json_object();
    bool ok = o != NULL;
    for (size_t i = 0; ok && i < c->n_labels; i++) {
        s_set(o, c->labels[i].key, s_str(c->labels[i].value), &ok);
    }
    return s_done(o, ok);
}

static json_t *s_allowed_by(const struct fsg_impact_conn *c)
{
    if (c->via == FSG_IMPACT_VIA_NONE) {
        return json_null();
    }
    json_t *o = json_object();
    bool ok = o != NULL;
    if (ok) {
        s_set(o, "source", json_string(fsg_impact_via_name(c->via)), &ok);
        s_set(o, "security_group", s_opt_str(c->via_group), &ok);
        s_set(o, "rule", s_rule(&c->via_rule, true), &ok);
    }
    return s_done(o, ok);
}

/* One observed connection: the CONTRACT.md would_deny keys (src, port, proto, records, last),
 * then the effective-access verdict and who the source is. */
static json_t *s_conn(const struct fsg_impact_conn *c)
{
    char ip[FSG_IP_STR_MAX];
    json_t *o = json_object();
    bool ok = o != NULL;
    if (ok) {
        s_set(o, "src", json_string(fsg_ip_format(&c->src, ip)), &ok);
        s_set(o, "port", json_integer(c->port), &ok);
        s_set(o, "proto", json_integer(c->proto), &ok);
        s_set(o, "records", json_integer((json_int_t)c->records), &ok);
        s_set(o, "last", c->last_s == FSG_FLOW_TIME_NONE ? json_null() : json_integer(c->last_s),
              &ok);
        s_set(o, "accepted", json_integer((json_int_t)c->accepted), &ok);
        s_set(o, "allowed_by_policy", json_boolean(c->allowed), &ok);
        s_set(o, "allowed_after", json_boolean(c->allowed_after), &ok);
        s_set(o, "allowed_by", s_allowed_by(c), &ok);
        s_set(o, "workload", s_opt_str(c->workload), &ok);
        s_set(o, "labels", s_labels(c), &ok);
    }
    return s_done(o, ok);
}

static json_t *s_conn_list(const struct fsg_impact_conn *const *v, size_t n)
{
    json_t *a = json_array();
    bool ok = a != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        s_push(a, s_conn(v[i]), &ok);
    }
    return s_done(a, ok);
}

static json_t *s_all_conns(const struct fsg_impact *im)
{
    json_t *a = json_array();
    bool ok = a != NULL;
    for (size_t i = 0; ok && i < im->n_conns; i++) {
        s_push(a, s_conn(&im->conns[i]), &ok);
    }
    return s_done(a, ok);
}

static json_t *s_impact(const struct fsg_impact *im)
{
    if (im == NULL) {
        return json_null();
    }
    json_t *o = json_object();
    bool ok = o != NULL;
    if (ok) {
        s_set(o, "would_deny", s_conn_list(im->would_deny, im->n_would_deny), &ok);
        s_set(o, "allowed_unseen", s_rules(&im->allowed_unseen, false), &ok);
        s_set(o, "cut_off", s_conn_list(im->cut_off, im->n_cut_off), &ok);
        s_set(o, "cut_sources", json_integer((json_int_t)im->n_cut_sources), &ok);
        s_set(o, "newly_allowed", s_conn_list(im->newly_allowed, im->n_newly_allowed), &ok);
        s_set(o, "bypass", s_conn_list(im->bypass, im->n_bypass), &ok);
        s_set(o, "unevaluated_rules", json_integer((json_int_t)im->n_unevaluated), &ok);
        s_set(o, "connections", s_all_conns(im), &ok);
    }
    return s_done(o, ok);
}

static json_t *s_strings(char *const *v, size_t n)
{
    json_t *a = json_array();
    bool ok = a != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        s_push(a, s_str(v[i]), &ok);
    }
    return s_done(a, ok);
}

static const char *const s_guard_names[] = { "allow_empty", "allow_public", "max_removals",
                                             "max_rules", "max_cut_sources", "policy" };
#define S_N_GUARDS (sizeof s_guard_names / sizeof s_guard_names[0])

/* What apply --plan needs beyond the report. */
static void s_saved_extras(json_t *o, const struct fsg_plan *plan, const struct fsg_plan_target *t,
                           bool *ok)
{
    const struct fsg_sg_plan *sg = t->sg;
    char desired_hash[FSG_SG_HASH_HEX_LEN + 1];
    if (fsg_plan_desired_hash(plan, t, desired_hash, NULL) != FSG_OK) {
        *ok = false;
        return;
    }
    s_set(o, "desired_hash", json_string(desired_hash), ok);
    json_t *guards = json_array(), *cur = json_object();
    for (size_t g = 0; guards != NULL && g < S_N_GUARDS; g++) {
        if (t->refused_guards & (1u << g)) {
            s_push(guards, json_string(s_guard_names[g]), ok);
        }
    }
    if (cur != NULL) {
        s_set(cur, "ipv4", json_integer((json_int_t)sg->current_v4), ok);
        s_set(cur, "ipv6", json_integer((json_int_t)sg->current_v6), ok);
        s_set(cur, "foreign", json_integer((json_int_t)sg->n_foreign), ok);
    }
    s_set(o, "state_hash", json_string(sg->state_hash), ok);
    s_set(o, "refused_guards", guards, ok);
    s_set(o, "kept", s_rules(&sg->kept, true), ok);
    s_set(o, "current", cur, ok);
}

static json_t *s_target(const struct fsg_plan *plan, const struct fsg_plan_target *t, bool saved)
{
    static const struct fsg_sg_rules none = { 0 };
    const struct fsg_sg_plan *sg = t->sg;
    json_t *o = json_object();
    bool ok = o != NULL;
    if (ok) {
        s_set(o, "name", s_str(t->name), &ok);
        s_set(o, "security_group", s_str(t->security_group), &ok);
        s_set(o, "ownership", json_string(fsg_sg_ownership_name(t->ownership)), &ok);
        s_set(o, "desired", s_rules(sg != NULL ? &sg->desired : &none, false), &ok);
        s_set(o, "add", s_rules(sg != NULL ? &sg->add : &none, false), &ok);
        s_set(o, "remove", s_removals(sg, saved), &ok);
        s_set(o, "unchanged", json_integer(sg != NULL ? (json_int_t)sg->unchanged : 0), &ok);
        s_set(o, "calls", s_calls(&t->calls), &ok);
        s_set(o, "warnings", s_strings(t->warnings, t->n_warnings), &ok);
        s_set(o, "refused", s_opt_str(t->refused), &ok);
        s_set(o, "impact", s_impact(t->impact), &ok);
        if (saved && sg != NULL) {
            s_saved_extras(o, plan, t, &ok);
        }
    }
    return s_done(o, ok);
}

static json_t *s_document(const struct fsg_plan *plan, bool saved)
{
    size_t add = 0, rm = 0;
    json_t *root = json_object(), *targets = json_array(), *summary = json_object();
    bool ok = root != NULL && targets != NULL && summary != NULL;
    for (size_t i = 0; ok && i < plan->n_targets; i++) {
        s_push(targets, s_target(plan, &plan->targets[i], saved), &ok);
    }
    fsg_plan_totals(plan, &add, &rm);
    if (summary != NULL) {
        s_set(summary, "targets", json_integer((json_int_t)plan->n_targets), &ok);
        s_set(summary, "add", json_integer((json_int_t)add), &ok);
        s_set(summary, "remove", json_integer((json_int_t)rm), &ok);
    }
    if (root == NULL) {
        json_decref(targets);
        json_decref(summary);
        return NULL;
    }
    if (saved) {
        s_set(root, "flowseg_plan", json_integer(S_SAVED_PLAN_VERSION), &ok);
        s_set(root, "created", json_integer(plan->created_s), &ok);
    }
    s_set(root, "targets", targets, &ok);
    s_set(root, "summary", summary, &ok);
    /* The PCE policy version the plan was made from (null: not known). */
    s_set(root, "policy_version",
          plan->policy_version != NULL ? json_string(plan->policy_version) : json_null(), &ok);
    return s_done(root, ok);
}

static int s_dump_cb(const char *buffer, size_t size, void *data)
{
    return fsg_buf_append(data, buffer, size) == FSG_OK ? 0 : -1;
}

enum fsg_err fsg_report_json(const struct fsg_plan *plan, bool saved, struct fsg_buf *out,
                             struct fsg_error *err)
{
    /* Dumped straight into out: no jansson-allocated string whose allocator we would have to
     * know. */
    json_t *root = s_document(plan, saved);
    enum fsg_err rc = FSG_E_NOMEM;
    if (root != NULL &&
        json_dump_callback(root, s_dump_cb, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0) {
        rc = fsg_buf_append_byte(out, '\n');
    }
    if (rc != FSG_OK) {
        (void)fsg_error_set(err, rc, "out of memory while writing the json plan");
    }
    json_decref(root);
    return rc;
}

enum fsg_err fsg_plan_save(const struct fsg_plan *plan, struct fsg_buf *out,
                           struct fsg_error *err)
{
    return fsg_report_json(plan, true, out, err);
}

/* ---- reading a saved plan -------------------------------------------------------------------- */

static enum fsg_err s_get_str(json_t *o, const char *key, const char *where, bool nullable,
                              const char **ret, struct fsg_error *err)
{
    json_t *v = json_object_get(o, key);
    *ret = NULL;
    if (nullable && (v == NULL || json_is_null(v))) {
        return FSG_OK;
    }
    if (!json_is_string(v)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: %s must be a string", where, key);
    }
    *ret = json_string_value(v);
    return FSG_OK;
}

static enum fsg_err s_get_count(json_t *o, const char *key, const char *where, size_t *ret,
                                struct fsg_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: %s must be an integer >= 0", where, key);
    }
    *ret = (size_t)json_integer_value(v);
    return FSG_OK;
}

static enum fsg_err s_read_rules(json_t *o, const char *key, const char *where,
                                 struct fsg_sg_rules *list, struct fsg_error *err)
{
    json_t *a = json_object_get(o, key);
    if (!json_is_array(a)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: %s must be an array of rules", where, key);
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        char w[200];
        snprintf(w, sizeof w, "%s: %s[%zu]", where, key, i);
        enum fsg_err rc = fsg_sg_rule_json_append(list, json_array_get(a, i), w, err);
        if (rc != FSG_OK) {
            return rc;
        }
    }
    fsg_sg_rules_sort(list);
    return FSG_OK;
}

/* "remove": CIDR rules and (ownership group) SG-reference / prefix-list rules, each with the
 * "reason" the report gives (not read back: it follows from the rule). */
static enum fsg_err s_read_removals(json_t *o, const char *where, struct fsg_sg_plan *sg,
                                   struct fsg_error *err)
{
    json_t *a = json_object_get(o, "remove");
    if (!json_is_array(a)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: remove must be an array of rules", where);
    }
    struct fsg_sg_current tmp = { .rules = sg->remove };
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < json_array_size(a); i++) {
        char w[200];
        snprintf(w, sizeof w, "%s: remove[%zu]", where, i);
        json_t *copy = json_deep_copy(json_array_get(a, i));
        if (copy == NULL) {
            rc = fsg_error_set(err, FSG_E_PARSE, "%s: must be an object", w);
            break;
        }
        if (json_is_object(copy)) {
            (void)json_object_del(copy, "reason");
        }
        rc = fsg_sg_current_json_append(&tmp, copy, w, err);
        json_decref(copy);
    }
    for (size_t i = 0; rc == FSG_OK && i < tmp.n_foreign; i++) {
        rc = fsg_sg_plan_remove_foreign(sg, &tmp.foreign[i]);
    }
    sg->remove = tmp.rules;
    tmp.rules = (struct fsg_sg_rules){ 0 };
    fsg_sg_current_clean_up(&tmp);
    fsg_sg_rules_sort(&sg->remove);
    return rc;
}

static bool s_is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        bool hex = (s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f');
        if (!hex) {
            return false;
        }
    }
    return n == FSG_SG_HASH_HEX_LEN;
}

static enum fsg_err s_read_guards(json_t *o, const char *where, struct fsg_plan_target *t,
                                  struct fsg_error *err)
{
    json_t *a = json_object_get(o, "refused_guards");
    if (!json_is_array(a)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: refused_guards must be an array", where);
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *name = json_string_value(json_array_get(a, i));
        size_t g = 0;
        while (name != NULL && g < S_N_GUARDS && strcmp(name, s_guard_names[g]) != 0) {
            g++;
        }
        if (name == NULL || g == S_N_GUARDS) {
            return fsg_error_set(err, FSG_E_PARSE, "%s: refused_guards[%zu] is not a guard name",
                                 where, i);
        }
        t->refused_guards |= 1u << g;
    }
    return FSG_OK;
}

static enum fsg_err s_read_counts(json_t *o, const char *where, struct fsg_sg_plan *sg,
                                  struct fsg_error *err)
{
    json_t *cur = json_object_get(o, "current");
    enum fsg_err rc = s_get_count(o, "unchanged", where, &sg->unchanged, err);
    if (rc == FSG_OK && !json_is_object(cur)) {
        rc = fsg_error_set(err, FSG_E_PARSE, "%s: current must be an object", where);
    }
    if (rc == FSG_OK) {
        rc = s_get_count(cur, "ipv4", where, &sg->current_v4, err);
    }
    if (rc == FSG_OK) {
        rc = s_get_count(cur, "ipv6", where, &sg->current_v6, err);
    }
    if (rc == FSG_OK) {
        rc = s_get_count(cur, "foreign", where, &sg->n_foreign, err);
    }
    return rc;
}

static enum fsg_err s_read_warnings(json_t *o, const char *where, struct fsg_plan_target *t,
                                    struct fsg_error *err)
{
    json_t *a = json_object_get(o, "warnings");
    if (!json_is_array(a)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: warnings must be an array", where);
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *w = json_string_value(json_array_get(a, i));
        if (w == NULL) {
            return fsg_error_set(err, FSG_E_PARSE, "%s: warnings[%zu] must be a string", where,
                                 i);
        }
        enum fsg_err rc = fsg_plan_target_warn(t, "%s", w);
        if (rc != FSG_OK) {
            return rc;
        }
    }
    return FSG_OK;
}

/* impact.cut_sources: the flow evidence the max_cut_sources guard is checked on again. */
static enum fsg_err s_read_cut(json_t *o, const char *where, struct fsg_plan_target *t,
                               struct fsg_error *err)
{
    json_t *im = json_object_get(o, "impact");
    t->saved_cut_sources = -1;
    if (im == NULL || json_is_null(im)) {
        return FSG_OK;
    }
    json_t *n = json_object_get(im, "cut_sources");
    if (!json_is_object(im) || !json_is_integer(n) || json_integer_value(n) < 0) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: impact.cut_sources must be an integer >= 0",
                             where);
    }
    t->saved_cut_sources = (long)json_integer_value(n);
    return FSG_OK;
}

/* "calls": [{"action", "count"}] as the plan showed them, kept as fsg_plan_calls_text's line
 * (apply --plan refuses the plan when the calls made now would differ). Absent: not recorded. */
static enum fsg_err s_read_calls(json_t *o, const char *where, struct fsg_plan_target *t,
                                 struct fsg_error *err)
{
    json_t *calls = json_object_get(o, "calls");
    if (calls == NULL) {
        return FSG_OK;
    }
    if (!json_is_array(calls)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: calls must be an array", where);
    }
    struct fsg_buf b = FSG_BUF_INIT;
    enum fsg_err rc = json_array_size(calls) == 0 ? fsg_buf_printf(&b, "none") : FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < json_array_size(calls); i++) {
        json_t *c = json_array_get(calls, i);
        json_t *action = json_object_get(c, "action"), *count = json_object_get(c, "count");
        if (!json_is_string(action) || !json_is_integer(count) || json_integer_value(count) < 0) {
            rc = fsg_error_set(err, FSG_E_PARSE, "%s: calls[%zu] must be {\"action\": string, "
                               "\"count\": integer >= 0}", where, i);
            break;
        }
        rc = fsg_buf_printf(&b, "%s%.40s %lld", i > 0 ? ", " : "", json_string_value(action),
                            (long long)json_integer_value(count));
    }
    if (rc == FSG_OK) {
        t->saved_calls = fsg_buf_strdup(&b);
        rc = t->saved_calls != NULL ? FSG_OK : FSG_E_NOMEM;
    }
    fsg_buf_clean_up(&b);
    return rc;
}

/* The sg plan of one target: hash, rule lists, counts. */
static enum fsg_err s_read_sg(json_t *o, const char *where, struct fsg_plan_target *t,
                              struct fsg_error *err)
{
    const char *hash = NULL;
    enum fsg_err rc = s_get_str(o, "state_hash", where, false, &hash, err);
    if (rc != FSG_OK) {
        return fsg_error_set(err, FSG_E_PARSE,
                             "%s: no state_hash, so this is not a saved plan (write one with "
                             "flowseg plan --save-plan FILE)", where);
    }
    if (!s_is_hex64(hash)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: state_hash must be 64 lowercase hex digits",
                             where);
    }
    rc = fsg_sg_plan_new(t->security_group, &t->sg);
    if (rc != FSG_OK) {
        return rc;
    }
    t->sg->ownership = t->ownership;
    memcpy(t->sg->state_hash, hash, FSG_SG_HASH_HEX_LEN + 1);
    rc = s_get_str(o, "desired_hash", where, false, &hash, err);
    if (rc != FSG_OK || !s_is_hex64(hash)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: desired_hash must be 64 lowercase hex "
                             "digits", where);
    }
    memcpy(t->desired_hash, hash, FSG_SG_HASH_HEX_LEN + 1);
    rc = s_read_cut(o, where, t, err);
    if (rc == FSG_OK) {
        rc = s_read_calls(o, where, t, err);
    }
    if (rc != FSG_OK) {
        return rc;
    }
    rc = s_read_rules(o, "desired", where, &t->sg->desired, err);
    if (rc == FSG_OK) {
        rc = s_read_rules(o, "add", where, &t->sg->add, err);
    }
    if (rc == FSG_OK) {
        rc = s_read_removals(o, where, t->sg, err);
    }
    if (rc == FSG_OK) {
        rc = s_read_rules(o, "kept", where, &t->sg->kept, err);
    }
    if (rc == FSG_OK) {
        rc = s_read_counts(o, where, t->sg, err);
    }
    return rc;
}

static enum fsg_err s_read_target(struct fsg_plan *plan, json_t *o, size_t index,
                                  struct fsg_error *err)
{
    char where[96];
    const char *name = NULL, *sg = NULL, *refused = NULL;
    struct fsg_plan_target *t = NULL;
    snprintf(where, sizeof where, "plan: targets[%zu]", index);
    if (!json_is_object(o)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: must be an object", where);
    }
    enum fsg_err rc = s_get_str(o, "name", where, false, &name, err);
    if (rc == FSG_OK) {
        rc = s_get_str(o, "security_group", where, false, &sg, err);
    }
    if (rc == FSG_OK) {
        rc = s_get_str(o, "refused", where, true, &refused, err);
    }
    if (rc == FSG_OK) {
        rc = fsg_plan_append_target(plan, name, sg, &t);
    }
    const char *own = NULL;
    if (rc == FSG_OK) {
        rc = s_get_str(o, "ownership", where, true, &own, err);
    }
    if (rc == FSG_OK && own != NULL && strcmp(own, "group") != 0 && strcmp(own, "rules") != 0) {
        rc = fsg_error_set(err, FSG_E_PARSE, "%s: ownership must be \"group\" or \"rules\"",
                           where);
    }
    if (rc == FSG_OK) {
        t->ownership = own != NULL && strcmp(own, "rules") == 0 ? FSG_SG_OWN_RULES
                                                                : FSG_SG_OWN_GROUP;
    }
    if (rc == FSG_OK && refused != NULL) {
        t->refused = fsg_strdup(refused);
        rc = t->refused != NULL ? FSG_OK : FSG_E_NOMEM;
    }
    if (rc == FSG_OK) {
        rc = s_read_sg(o, where, t, err);
    }
    if (rc == FSG_OK) {
        rc = s_read_guards(o, where, t, err);
    }
    if (rc == FSG_OK) {
        rc = s_read_warnings(o, where, t, err);
    }
    return rc;
}

static enum fsg_err s_read_document(json_t *root, struct fsg_plan *plan, struct fsg_error *err)
{
    json_t *version = json_object_get(root, "flowseg_plan");
    json_t *created = json_object_get(root, "created");
    json_t *targets = json_object_get(root, "targets");
    if (!json_is_integer(version)) {
        return fsg_error_set(err, FSG_E_PARSE,
                             "plan: no \"flowseg_plan\" version, so this is not a saved plan "
                             "(write one with flowseg plan --save-plan FILE)");
    }
    if (json_integer_value(version) != S_SAVED_PLAN_VERSION) {
        return fsg_error_set(err, FSG_E_PARSE, "plan: version %lld is not supported (this "
                             "flowseg reads version %d)", (long long)json_integer_value(version),
                             S_SAVED_PLAN_VERSION);
    }
    if (!json_is_integer(created)) {
        return fsg_error_set(err, FSG_E_PARSE, "plan: created must be an integer");
    }
    if (!json_is_array(targets)) {
        return fsg_error_set(err, FSG_E_PARSE, "plan: targets must be an array");
    }
    plan->created_s = (int64_t)json_integer_value(created);
    json_t *pver = json_object_get(root, "policy_version");
    if (pver != NULL && !json_is_null(pver) && !json_is_string(pver)) {
        return fsg_error_set(err, FSG_E_PARSE, "plan: policy_version must be a string or null");
    }
    if (json_is_string(pver) &&
        (plan->policy_version = fsg_strdup(json_string_value(pver))) == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < json_array_size(targets); i++) {
        enum fsg_err rc = s_read_target(plan, json_array_get(targets, i), i, err);
        if (rc != FSG_OK) {
            return rc;
        }
        /* One entry per config target: a second one would be matched to the same target and
         * applied without its own check (apply --plan checks each against the fresh plan). */
        for (size_t j = 0; j < i; j++) {
            if (strcmp(plan->targets[j].name, plan->targets[i].name) == 0) {
                return fsg_error_set(err, FSG_E_PARSE, "plan: target '%s' is listed twice",
                                     plan->targets[i].name);
            }
        }
    }
    return FSG_OK;
}

enum fsg_err fsg_plan_load(struct fsg_span json, struct fsg_plan **ret_plan,
                           struct fsg_error *err)
{
    enum fsg_err rc;
    json_t *root = NULL;
    struct fsg_plan *plan = NULL;

    struct fsg_json_limits limits = { .max_bytes = S_MAX_PLAN_BYTES };
    rc = fsg_json_load(json, &limits, &root, err);
    if (rc != FSG_OK) {
        (void)fsg_error_prefix(err, "plan: ");
        goto out;
    }
    if (!json_is_object(root)) {
        rc = fsg_error_set(err, FSG_E_PARSE, "plan: must be a JSON object");
        goto out;
    }
    rc = fsg_plan_new(&plan);
    if (rc == FSG_OK) {
        rc = s_read_document(root, plan, err);
    }
    if (rc != FSG_OK) {
        if (rc == FSG_E_NOMEM) {
            (void)fsg_error_set(err, rc, "out of memory while reading the plan");
        }
        goto out;
    }
    *ret_plan = plan;
    plan = NULL;

out:
    fsg_plan_destroy(plan);
    json_decref(root);
    return rc;
}
