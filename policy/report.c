/* Report dispatch, shared formatting, and the text and markdown renderers. */
#include "policy/report.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
    return fsg_buf_printf(out, "      %-20s %s/%u  %llu records (%llu accepted today), last %s\n",
                          fsg_ip_format(&c->src, ip), fsg_report_flow_proto(c->proto, proto),
                          c->port, (unsigned long long)c->records,
                          (unsigned long long)c->accepted, fsg_report_time(c->last_s, when));
}

static enum fsg_err s_text_impact(struct fsg_buf *out, const struct fsg_impact *im)
{
    if (im == NULL) {
        return fsg_buf_printf(out, "  impact: no flow source given\n");
    }
    enum fsg_err rc = fsg_buf_printf(out, "  impact on observed traffic (%zu connections, %zu "
                                          "would be denied):\n", im->n_conns, im->n_would_deny);
    if (rc == FSG_OK && im->n_would_deny > 0) {
        rc = fsg_buf_printf(out, "    would deny:\n");
    }
    for (size_t i = 0; rc == FSG_OK && i < im->n_would_deny; i++) {
        rc = s_text_conn(out, im->would_deny[i]);
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
    if (rc == FSG_OK && t->refused != NULL) {
        rc = fsg_buf_printf(out, "  REFUSED: %s\n", t->refused);
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

static enum fsg_err s_md_impact(struct fsg_buf *out, const struct fsg_impact *im)
{
    if (im == NULL) {
        return fsg_buf_printf(out, "\n_No flow source given: impact on traffic not computed._\n");
    }
    enum fsg_err rc = fsg_buf_printf(out, "\n**Observed traffic:** %zu connections, %zu would be "
                                          "denied.\n", im->n_conns, im->n_would_deny);
    if (rc == FSG_OK && im->n_would_deny > 0) {
        rc = fsg_buf_printf(out, "\n**Would be denied**\n\n| source | proto/port | records | "
                                 "accepted today | last seen |\n|---|---|---|---|---|\n");
    }
    for (size_t i = 0; rc == FSG_OK && i < im->n_would_deny; i++) {
        const struct fsg_impact_conn *c = im->would_deny[i];
        char ip[FSG_IP_STR_MAX], proto[8], when[32];
        rc = fsg_buf_printf(out, "| `%s` | %s/%u | %llu | %llu | %s |\n",
                            fsg_ip_format(&c->src, ip), fsg_report_flow_proto(c->proto, proto),
                            c->port, (unsigned long long)c->records,
                            (unsigned long long)c->accepted, fsg_report_time(c->last_s, when));
    }
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
    if (rc == FSG_OK && t->refused != NULL) {
        rc = fsg_buf_append_cstr(out, "\n> **Refused:** ");
        if (rc == FSG_OK) {
            rc = s_md(out, t->refused);
        }
        if (rc == FSG_OK) {
            rc = fsg_buf_append_cstr(out, "\n");
        }
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
    enum fsg_err rc = fsg_buf_printf(out, "# flowseg plan\n\n%zu target(s): **%zu rule(s) to "
                                          "add**, **%zu to remove**.\n\n| target | security "
                                          "group | desired | add | remove | unchanged | refused "
                                          "|\n|---|---|---|---|---|---|---|\n",
                                     plan->n_targets, add, rm);
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
