/* Report dispatch, shared formatting, and the text and markdown renderers. */
#include "policy/report.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/core/mem.h"
#include "policy/report_internal.h"

enum fsg_err fsg_report_format_parse(const char *s, enum fsg_report_format *ret)
{
    static const struct {
        const char *name;
        enum fsg_report_format format;
    } names[] = {
        { "text", FSG_REPORT_TEXT },         { "json", FSG_REPORT_JSON },
        { "markdown", FSG_REPORT_MARKDOWN }, { "md", FSG_REPORT_MARKDOWN },
        { "html", FSG_REPORT_HTML },
    };
    for (size_t i = 0; s != NULL && i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *ret = names[i].format;
            return FSG_OK;
        }
    }
    return FSG_E_INVALID_ARG;
}

enum fsg_err fsg_report_render(const struct fsg_plan *plan, enum fsg_report_format format,
                               struct fsg_buf *out, struct fsg_error *err)
{
    enum fsg_err rc = FSG_E_INVALID_ARG;
    switch (format) {
    case FSG_REPORT_TEXT:
        rc = fsg_report_text(plan, out);
        break;
    case FSG_REPORT_JSON:
        return fsg_report_json(plan, false, out, err);
    case FSG_REPORT_MARKDOWN:
        rc = fsg_report_markdown(plan, out);
        break;
    case FSG_REPORT_HTML:
        rc = fsg_report_html(plan, out);
        break;
    }
    if (rc != FSG_OK) {
        return fsg_error_set(err, rc, "cannot render the plan: %s", fsg_err_str(rc));
    }
    return FSG_OK;
}

/* ---- shared formatting ----------------------------------------------------------------------- */

const char *fsg_report_ports(const struct fsg_sg_rule *r, char out[40])
{
    if (r->proto == FSG_PROTO_TCP || r->proto == FSG_PROTO_UDP) {
        if (r->from_port == 0 && r->to_port == 65535) {
            return "all";
        }
        if (r->from_port == r->to_port) {
            snprintf(out, 40, "%d", r->from_port);
        } else {
            snprintf(out, 40, "%d-%d", r->from_port, r->to_port);
        }
        return out;
    }
    if (r->proto == FSG_PROTO_ICMP || r->proto == FSG_PROTO_ICMPV6) {
        if (r->from_port < 0) {
            return "any type";
        }
        if (r->to_port < 0) {
            snprintf(out, 40, "type %d", r->from_port);
        } else {
            snprintf(out, 40, "type %d code %d", r->from_port, r->to_port);
        }
        return out;
    }
    return "all";
}

const char *fsg_report_flow_proto(uint8_t proto, char out[8])
{
    return fsg_sg_proto_name(proto, out);
}

const char *fsg_report_time(int64_t t_s, char out[32])
{
    struct tm tm;
    time_t t = (time_t)t_s;
    if (t_s == FSG_FLOW_TIME_NONE || gmtime_r(&t, &tm) == NULL ||
        strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
        return "-";
    }
    return out;
}

const char *fsg_report_plan_banner(const struct fsg_plan *plan)
{
    size_t cut = 0, bypass = 0;
    bool no_flows = false;
    for (size_t i = 0; i < plan->n_targets; i++) {
        const struct fsg_impact *im = plan->targets[i].impact;
        cut += im != NULL ? im->n_cut_sources : 0;
        bypass += im != NULL ? im->n_bypass : 0;
        no_flows = no_flows || im == NULL;
    }
    if (fsg_plan_is_refused(plan)) {
        return "REFUSED: a guard stops at least one target (see below); nothing is changed for "
               "it";
    }
    if (cut > 0 || bypass > 0) {
        return "every guard passes, but the impact needs review: observed sources cut off, or "
               "access allowed only outside the policy (see below)";
    }
    return no_flows ? "every guard passes (max_cut_sources needs flow SOURCEs to be checked)"
                    : "every guard passes, including max_cut_sources";
}

const char *fsg_report_banner(const struct fsg_plan_target *t, char *out, size_t size)
{
    const struct fsg_impact *im = t->impact;
    if (t->refused != NULL) {
        snprintf(out, size, "Refused by a guard: nothing is changed for this target.");
    } else if (!fsg_sg_plan_has_changes(t->sg)) {
        snprintf(out, size, "No rule change needed; every guard passes.");
    } else if (im == NULL) {
        snprintf(out, size, "Every guard passes: apply may proceed (no flow source given: the "
                            "impact on traffic, and the max_cut_sources guard, were not "
                            "checked).");
    } else if (im->n_cut_off > 0 || im->n_bypass > 0) {
        snprintf(out, size, "Every guard passes, including max_cut_sources: apply may proceed, "
                            "but review the impact: %zu observed source(s) cut off, %zu "
                            "connection(s) allowed only by a rule outside the policy.",
                 im->n_cut_sources, im->n_bypass);
    } else {
        snprintf(out, size, "Every guard passes, including max_cut_sources: apply may proceed; "
                            "no observed source is cut off.");
    }
    return out;
}

enum fsg_err fsg_report_source(const struct fsg_impact_conn *c, struct fsg_buf *out)
{
    if (c->workload == NULL) {
        return FSG_OK;
    }
    enum fsg_err rc = fsg_buf_printf(out, "workload %s", c->workload);
    for (size_t i = 0; rc == FSG_OK && i < c->n_labels; i++) {
        rc = fsg_buf_printf(out, "%s%s=%s", i == 0 ? " (" : ", ", c->labels[i].key,
                            c->labels[i].value);
    }
    return rc == FSG_OK && c->n_labels > 0 ? fsg_buf_append_cstr(out, ")") : rc;
}

enum fsg_err fsg_report_via(const struct fsg_impact_conn *c, struct fsg_buf *out)
{
    static const char *const where[] = {
        [FSG_IMPACT_VIA_NONE] = "", [FSG_IMPACT_VIA_POLICY] = "the policy",
        [FSG_IMPACT_VIA_KEPT] = "a rule left in the managed group, not in the policy",
        [FSG_IMPACT_VIA_OTHER] = "another security group of the instance, not in the policy",
    };
    if (c->via == FSG_IMPACT_VIA_NONE) {
        return FSG_OK;
    }
    char pbuf[8], ports[40], cidr[FSG_CIDR_STR_MAX];
    const struct fsg_sg_rule *r = &c->via_rule;
    return fsg_buf_printf(out, "allowed after by %s: %s %s %s from %s%s%s%s", where[c->via],
                          c->via_group != NULL ? c->via_group : "?",
                          fsg_sg_proto_name(r->proto, pbuf), fsg_report_ports(r, ports),
                          fsg_cidr_format(&r->cidr, cidr), r->description != NULL ? " \"" : "",
                          r->description != NULL ? r->description : "",
                          r->description != NULL ? "\"" : "");
}

/* ---- text ------------------------------------------------------------------------------------ */

static enum fsg_err s_text_rule(struct fsg_buf *out, char mark, const struct fsg_sg_rule *r)
{
    char pbuf[8], ports[40], cidr[FSG_CIDR_STR_MAX];
    return fsg_buf_printf(out, "    %c %-6s %-11s %-20s %s%s%s%s\n", mark,
                          fsg_sg_proto_name(r->proto, pbuf), fsg_report_ports(r, ports),
                          fsg_cidr_format(&r->cidr, cidr),
                          r->description != NULL ? r->description : "",
                          r->rule_id != NULL ? " [" : "", r->rule_id != NULL ? r->rule_id : "",
                          r->rule_id != NULL ? "]" : "");
}

static enum fsg_err s_text_rules(struct fsg_buf *out, char mark, const struct fsg_sg_rules *l)
{
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < l->len; i++) {
        rc = s_text_rule(out, mark, &l->items[i]);
    }
    return rc;
}

static enum fsg_err s_text_conn(struct fsg_buf *out, const struct fsg_impact_conn *c)
{
    char ip[FSG_IP_STR_MAX], proto[8], when[32];
    struct fsg_buf who = FSG_BUF_INIT, via = FSG_BUF_INIT;
    enum fsg_err rc = fsg_report_source(c, &who);
    rc = rc == FSG_OK ? fsg_report_via(c, &via) : rc;
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(out, "      %-20s %s/%u  %llu records (%llu accepted today), last "
                                 "%s%s%s%s%s\n", fsg_ip_format(&c->src, ip),
                            fsg_report_flow_proto(c->proto, proto), c->port,
                            (unsigned long long)c->records, (unsigned long long)c->accepted,
                            fsg_report_time(c->last_s, when), who.len > 0 ? "\n        " : "",
                            fsg_buf_cstr(&who), via.len > 0 ? "\n        " : "",
                            fsg_buf_cstr(&via));
    }
    fsg_buf_clean_up(&who);
    fsg_buf_clean_up(&via);
    return rc;
}

static enum fsg_err s_text_conns(struct fsg_buf *out, const char *title,
                                 const struct fsg_impact_conn *const *v, size_t n)
{
    enum fsg_err rc = n > 0 ? fsg_buf_printf(out, "    %s (%zu):\n", title, n) : FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < n; i++) {
        rc = s_text_conn(out, v[i]);
    }
    return rc;
}

/* Connections the policy does not allow and nothing lets in after the apply either, that were
 * not accepted today (so not "cut off"): still denied. */
static size_t s_still_denied(const struct fsg_impact *im, const struct fsg_impact_conn **v)
{
    size_t n = 0;
    for (size_t i = 0; i < im->n_conns; i++) {
        const struct fsg_impact_conn *c = &im->conns[i];
        if (!c->allowed_after && c->accepted == 0) {
            v[n++] = c;
        }
    }
    return n;
}

static enum fsg_err s_text_impact(struct fsg_buf *out, const struct fsg_impact *im)
{
    if (im == NULL) {
        return fsg_buf_printf(out, "  impact: no flow source given\n");
    }
    enum fsg_err rc = fsg_buf_printf(out, "  impact on observed traffic (%zu connections; the "
                                          "policy would deny %zu; after the apply, counting "
                                          "every security group of the interface: %zu cut off "
                                          "from %zu source(s), %zu newly allowed, %zu allowed "
                                          "only by a rule outside the policy):\n", im->n_conns,
                                     im->n_would_deny, im->n_cut_off, im->n_cut_sources,
                                     im->n_newly_allowed, im->n_bypass);
    if (rc == FSG_OK && im->n_bypass > 0) {
        rc = fsg_buf_printf(out, "    ! warning: %zu connection(s) stay allowed only by a rule "
                                 "outside the policy (left in the group, or another security "
                                 "group of the instance): the policy is bypassed\n",
                            im->n_bypass);
    }
    if (rc == FSG_OK && im->n_unevaluated > 0) {
        rc = fsg_buf_printf(out, "    note: %zu rule(s) reference a security group or a prefix "
                                 "list and were not evaluated: they may still let in a source "
                                 "shown as cut off\n", im->n_unevaluated);
    }
    rc = rc == FSG_OK ? s_text_conns(out, "cut off (accepted today, denied after the apply)",
                                     im->cut_off, im->n_cut_off) : rc;
    rc = rc == FSG_OK ? s_text_conns(out, "allowed only by a rule outside the policy (bypass)",
                                     im->bypass, im->n_bypass) : rc;
    rc = rc == FSG_OK ? s_text_conns(out, "newly allowed (rejected today, allowed after)",
                                     im->newly_allowed, im->n_newly_allowed) : rc;
    if (rc == FSG_OK) {
        const struct fsg_impact_conn **v = fsg_calloc(im->n_conns + 1, sizeof *v);
        if (v == NULL) {
            return FSG_E_NOMEM;
        }
        size_t n = s_still_denied(im, v);
        rc = s_text_conns(out, "still denied (rejected today and after)", v, n);
        fsg_free((void *)v);
    }
    if (rc == FSG_OK && im->allowed_unseen.len > 0) {
        rc = fsg_buf_printf(out, "    allowed but not seen in the flows:\n");
    }
    if (rc == FSG_OK) {
        rc = s_text_rules(out, ' ', &im->allowed_unseen);
    }
    return rc;
}

static enum fsg_err s_text_target(struct fsg_buf *out, const struct fsg_plan_target *t)
{
    const struct fsg_sg_plan *sg = t->sg;
    enum fsg_err rc = fsg_buf_printf(out, "\n%s (security group %s)\n", t->name,
                                     t->security_group);
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(out, "  desired %zu rules: %zu to add, %zu to remove, %zu unchanged"
                                 "%s\n  %s\n", sg->desired.len, sg->add.len,
                            fsg_sg_plan_n_removals(sg), sg->unchanged,
                            fsg_sg_plan_has_changes(sg) ? "" : " (no change)",
                            fsg_report_ownership(t->ownership));
    }
    if (rc == FSG_OK) {
        char banner[512];
        rc = fsg_buf_printf(out, "  %s%s\n", t->refused != NULL ? "REFUSED: " : "",
                            t->refused != NULL ? t->refused
                                               : fsg_report_banner(t, banner, sizeof banner));
    }
    if (rc == FSG_OK && t->calls.n_steps > 0) {
        rc = fsg_buf_append_cstr(out, "  calls: ");
        rc = rc == FSG_OK ? fsg_report_calls_line(t, out) : rc;
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "\n") : rc;
    }
    if (rc == FSG_OK) {
        rc = s_text_rules(out, '+', &sg->add);
    }
    for (size_t i = 0; rc == FSG_OK && i < fsg_sg_plan_n_removals(sg); i++) {
        rc = fsg_buf_append_cstr(out, "    - ");
        rc = rc == FSG_OK ? fsg_report_removal_line(sg, i, out) : rc;
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "\n") : rc;
    }
    if (rc == FSG_OK && t->n_warnings > 0) {
        rc = fsg_buf_printf(out, "  warnings:\n");
    }
    for (size_t i = 0; rc == FSG_OK && i < t->n_warnings; i++) {
        rc = fsg_buf_printf(out, "    ! %s\n", t->warnings[i]);
    }
    if (rc == FSG_OK) {
        rc = s_text_impact(out, t->impact);
    }
    return rc;
}

enum fsg_err fsg_report_text(const struct fsg_plan *plan, struct fsg_buf *out)
{
    size_t add = 0, rm = 0;
    fsg_plan_totals(plan, &add, &rm);
    enum fsg_err rc = fsg_buf_printf(out, "flowseg plan: %zu target(s), %zu rule(s) to add, %zu "
                                          "to remove%s\n", plan->n_targets, add, rm,
                                     fsg_plan_is_refused(plan) ? ", REFUSED by a guard" : "");
    if (rc == FSG_OK && plan->policy_version != NULL) {
        rc = fsg_buf_printf(out, "policy version: %s\n", plan->policy_version);
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(out, "guards: %s\n", fsg_report_plan_banner(plan));
    }
    for (size_t i = 0; rc == FSG_OK && i < plan->n_targets; i++) {
        rc = s_text_target(out, &plan->targets[i]);
    }
    return rc;
}

/* ---- markdown -------------------------------------------------------------------------------- */

/* Text inside a table cell: pipes, backslashes, backticks and line breaks escaped. */
static enum fsg_err s_md(struct fsg_buf *out, const char *s)
{
    enum fsg_err rc = FSG_OK;
    for (const char *p = s != NULL ? s : ""; rc == FSG_OK && *p != '\0'; p++) {
        if (*p == '|' || *p == '\\' || *p == '`' || *p == '*' || *p == '_' || *p == '<') {
            rc = fsg_buf_append_byte(out, '\\');
        }
        if (rc == FSG_OK) {
            rc = fsg_buf_append_byte(out, (*p == '\n' || *p == '\r') ? ' ' : (uint8_t)*p);
        }
    }
    return rc;
}

static enum fsg_err s_md_rules(struct fsg_buf *out, const char *title,
                               const struct fsg_sg_rules *l)
{
    if (l->len == 0) {
        return FSG_OK;
    }
    enum fsg_err rc = fsg_buf_printf(out, "\n**%s** (%zu)\n\n| proto | ports | source | "
                                          "description |\n|---|---|---|---|\n", title, l->len);
    for (size_t i = 0; rc == FSG_OK && i < l->len; i++) {
        const struct fsg_sg_rule *r = &l->items[i];
        char pbuf[8], ports[40], cidr[FSG_CIDR_STR_MAX];
        rc = fsg_buf_printf(out, "| %s | %s | `%s` | ", fsg_sg_proto_name(r->proto, pbuf),
                            fsg_report_ports(r, ports), fsg_cidr_format(&r->cidr, cidr));
        if (rc == FSG_OK) {
            rc = s_md(out, r->description);
        }
        if (rc == FSG_OK) {
            rc = fsg_buf_append_cstr(out, " |\n");
        }
    }
    return rc;
}

static enum fsg_err s_md_conns(struct fsg_buf *out, const char *title,
                               const struct fsg_impact_conn *const *v, size_t n)
{
    if (n == 0) {
        return FSG_OK;
    }
    enum fsg_err rc = fsg_buf_printf(out, "\n**%s** (%zu)\n\n| source | who | proto/port | "
                                          "records | accepted today | last seen | allowed after "
                                          "by |\n|---|---|---|---|---|---|---|\n", title, n);
    for (size_t i = 0; rc == FSG_OK && i < n; i++) {
        const struct fsg_impact_conn *c = v[i];
        char ip[FSG_IP_STR_MAX];
        struct fsg_buf who = FSG_BUF_INIT, via = FSG_BUF_INIT;
        rc = fsg_report_source(c, &who);
        rc = rc == FSG_OK ? fsg_report_via(c, &via) : rc;
        rc = rc == FSG_OK ? fsg_buf_printf(out, "| `%s` | ", fsg_ip_format(&c->src, ip)) : rc;
        rc = rc == FSG_OK ? s_md(out, fsg_buf_cstr(&who)) : rc;
        if (rc == FSG_OK) {
            char proto[8], when[32];
            rc = fsg_buf_printf(out, " | %s/%u | %llu | %llu | %s | ",
                                fsg_report_flow_proto(c->proto, proto), c->port,
                                (unsigned long long)c->records, (unsigned long long)c->accepted,
                                fsg_report_time(c->last_s, when));
        }
        rc = rc == FSG_OK ? s_md(out, via.len > 0 ? fsg_buf_cstr(&via) : "nothing") : rc;
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, " |\n") : rc;
        fsg_buf_clean_up(&who);
        fsg_buf_clean_up(&via);
    }
    return rc;
}

static enum fsg_err s_md_impact(struct fsg_buf *out, const struct fsg_impact *im)
{
    if (im == NULL) {
        return fsg_buf_printf(out, "\n_No flow source given: impact on traffic not computed._\n");
    }
    enum fsg_err rc = fsg_buf_printf(out, "\n**Observed traffic:** %zu connections; the policy "
                                          "would deny %zu. After the apply, counting every "
                                          "security group of the interface: **%zu cut off** "
                                          "(%zu sources), %zu newly allowed, **%zu allowed only "
                                          "by a rule outside the policy**.\n", im->n_conns,
                                     im->n_would_deny, im->n_cut_off, im->n_cut_sources,
                                     im->n_newly_allowed, im->n_bypass);
    if (rc == FSG_OK && im->n_bypass > 0) {
        rc = fsg_buf_printf(out, "\n> **Warning:** %zu connection(s) stay allowed only by a "
                                 "rule outside the policy: the policy is bypassed.\n",
                            im->n_bypass);
    }
    if (rc == FSG_OK && im->n_unevaluated > 0) {
        rc = fsg_buf_printf(out, "\n_%zu rule(s) reference a security group or a prefix list "
                                 "and were not evaluated._\n", im->n_unevaluated);
    }
    rc = rc == FSG_OK ? s_md_conns(out, "Cut off (accepted today, denied after the apply)",
                                   im->cut_off, im->n_cut_off) : rc;
    rc = rc == FSG_OK ? s_md_conns(out, "Allowed only by a rule outside the policy (bypass)",
                                   im->bypass, im->n_bypass) : rc;
    rc = rc == FSG_OK ? s_md_conns(out, "Newly allowed", im->newly_allowed,
                                   im->n_newly_allowed) : rc;
    rc = rc == FSG_OK ? s_md_conns(out, "Would be denied by the policy", im->would_deny,
                                   im->n_would_deny) : rc;
    if (rc == FSG_OK) {
        rc = s_md_rules(out, "Allowed but not seen in the flows", &im->allowed_unseen);
    }
    return rc;
}

static enum fsg_err s_md_target(struct fsg_buf *out, const struct fsg_plan_target *t)
{
    const struct fsg_sg_plan *sg = t->sg;
    enum fsg_err rc = fsg_buf_append_cstr(out, "\n## ");
    if (rc == FSG_OK) {
        rc = s_md(out, t->name);
    }
    if (rc == FSG_OK) {
        rc = fsg_buf_printf(out, " (`%s`)\n\nDesired %zu rules: **%zu to add**, **%zu to "
                                 "remove**, %zu unchanged.\n\n", t->security_group,
                            sg->desired.len, sg->add.len, fsg_sg_plan_n_removals(sg),
                            sg->unchanged);
    }
    if (rc == FSG_OK) {
        rc = s_md(out, fsg_report_ownership(t->ownership));
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, ".\n") : rc;
    }
    if (rc == FSG_OK && t->calls.n_steps > 0) {
        struct fsg_buf line = FSG_BUF_INIT;
        rc = fsg_report_calls_line(t, &line);
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "\nCalls: ") : rc;
        rc = rc == FSG_OK ? s_md(out, fsg_buf_cstr(&line)) : rc;
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, ".\n") : rc;
        fsg_buf_clean_up(&line);
    }
    if (rc == FSG_OK) {
        char banner[512];
        rc = fsg_buf_append_cstr(out, t->refused != NULL ? "\n> **Refused:** " : "\n> ");
        rc = rc == FSG_OK ? s_md(out, t->refused != NULL ? t->refused
                                                         : fsg_report_banner(t, banner,
                                                                             sizeof banner))
                          : rc;
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "\n") : rc;
    }
    if (rc == FSG_OK) {
        rc = s_md_rules(out, "Add", &sg->add);
    }
    if (rc == FSG_OK && fsg_sg_plan_n_removals(sg) > 0) {
        rc = fsg_buf_printf(out, "\n**Remove** (%zu)\n\n", fsg_sg_plan_n_removals(sg));
    }
    for (size_t i = 0; rc == FSG_OK && i < fsg_sg_plan_n_removals(sg); i++) {
        struct fsg_buf line = FSG_BUF_INIT;
        rc = fsg_report_removal_line(sg, i, &line);
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "- ") : rc;
        rc = rc == FSG_OK ? s_md(out, fsg_buf_cstr(&line)) : rc;
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "\n") : rc;
        fsg_buf_clean_up(&line);
    }
    if (rc == FSG_OK && t->n_warnings > 0) {
        rc = fsg_buf_append_cstr(out, "\n**Warnings**\n\n");
    }
    for (size_t i = 0; rc == FSG_OK && i < t->n_warnings; i++) {
        rc = fsg_buf_append_cstr(out, "- ");
        if (rc == FSG_OK) {
            rc = s_md(out, t->warnings[i]);
        }
        if (rc == FSG_OK) {
            rc = fsg_buf_append_cstr(out, "\n");
        }
    }
    if (rc == FSG_OK) {
        rc = s_md_impact(out, t->impact);
    }
    return rc;
}

enum fsg_err fsg_report_markdown(const struct fsg_plan *plan, struct fsg_buf *out)
{
    size_t add = 0, rm = 0;
    fsg_plan_totals(plan, &add, &rm);
    enum fsg_err rc = fsg_buf_append_cstr(out, "# flowseg plan\n\n");
    if (rc == FSG_OK && plan->policy_version != NULL) {
        rc = fsg_buf_append_cstr(out, "Policy version: ");
        rc = rc == FSG_OK ? s_md(out, plan->policy_version) : rc;
        rc = rc == FSG_OK ? fsg_buf_append_cstr(out, "\n\n") : rc;
    }
    rc = rc != FSG_OK ? rc : fsg_buf_printf(out, "%zu target(s): **%zu rule(s) to "
                                          "add**, **%zu to remove**.\n\n**Guards:** %s.\n\n"
                                          "| target | security "
                                          "group | desired | add | remove | unchanged | refused "
                                          "|\n|---|---|---|---|---|---|---|\n",
                                          plan->n_targets, add, rm, fsg_report_plan_banner(plan));
    for (size_t i = 0; rc == FSG_OK && i < plan->n_targets; i++) {
        const struct fsg_plan_target *t = &plan->targets[i];
        rc = fsg_buf_append_cstr(out, "| ");
        if (rc == FSG_OK) {
            rc = s_md(out, t->name);
        }
        if (rc == FSG_OK) {
            rc = fsg_buf_printf(out, " | `%s` | %zu | %zu | %zu | %zu | %s |\n",
                                t->security_group, t->sg->desired.len, t->sg->add.len,
                                t->sg->remove.len, t->sg->unchanged,
                                t->refused != NULL ? "**yes**" : "no");
        }
    }
    for (size_t i = 0; rc == FSG_OK && i < plan->n_targets; i++) {
        rc = s_md_target(out, &plan->targets[i]);
    }
    return rc;
}
