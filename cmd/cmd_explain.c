/* flowseg explain TARGET SOURCE[:PORT[/PROTO]]: why a source is or is not allowed toward a
 * config target. The policy comes from --policy FILE (an exported bundle) or the live PCE, as
 * for plan; the answer from fsg_policy_explain (policy/compile.h): the allow rules that let the
 * source in, the override-deny rule that removes it, or why the rules that apply to the target
 * do not have it (scope, exclusion, labels, port). Changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "cmd/opts.h"
#include "cmd/reconcile.h"
#include "lib/core/buf.h"
#include "lib/core/json.h"
#include "lib/core/log.h"
#include "policy/compile.h"
#include "policy/pce.h"

static const char s_help[] =
    "usage: flowseg explain [OPTIONS] TARGET SOURCE[:PORT[/PROTO]]\n"
    "\n"
    "Why SOURCE is or is not allowed toward the config target TARGET (its name): the allow\n"
    "rules (href and rule-set name) that let it in, the override-deny rule that removes it,\n"
    "or why each rule that applies to the target does not match it (scope, exclusion,\n"
    "labels, port). Also lists the security-group rules flowseg would write that let it in.\n"
    "Changes nothing.\n"
    "\n"
    "SOURCE is an IPv4 or IPv6 address; PORT a TCP port (or PORT/udp, PORT/icmp for an ICMP\n"
    "type, PORT/NUMBER); IPv6 with a port in brackets: [fd00::5]:5432/tcp. Without PORT, any\n"
    "port counts.\n"
    "\n"
    "options:\n"
    "  --policy FILE        read an exported policy bundle instead of the live PCE\n"
    "  --format FORMAT      text (default) or json\n"
    "  --help               this text\n"
    "\n"
    "exit status: 0 when the answer was found (allowed or not), 1 on an error, 2 on a usage\n"
    "error.\n";

struct s_opts {
    const char *policy;
    const char *format;
};

/* "10.0.1.5", "10.0.1.5:5432", "10.0.1.5:53/udp", "fd00::5", "[fd00::5]:5432/tcp". */
static bool s_parse_source(const char *arg, struct fsg_policy_probe *p, char *why, size_t size)
{
    char addr[80];
    const char *rest = NULL;
    *p = (struct fsg_policy_probe){ .proto = -1, .port = -1 };
    if (arg[0] == '[') {
        const char *end = strchr(arg, ']');
        if (end == NULL || (size_t)(end - arg - 1) >= sizeof addr) {
            snprintf(why, size, "'%s': no closing ']'", arg);
            return false;
        }
        memcpy(addr, arg + 1, (size_t)(end - arg - 1));
        addr[end - arg - 1] = '\0';
        rest = end[1] == ':' ? end + 2 : end[1] == '\0' ? NULL : end + 1;
        if (rest != NULL && end[1] != ':') {
            snprintf(why, size, "'%s': expected ':PORT' after ']'", arg);
            return false;
        }
    } else {
        const char *colon = strchr(arg, ':');
        bool v4_with_port = colon != NULL && strchr(colon + 1, ':') == NULL;
        size_t n = v4_with_port ? (size_t)(colon - arg) : strlen(arg);
        if (n >= sizeof addr) {
            snprintf(why, size, "'%s' is not an address", arg);
            return false;
        }
        memcpy(addr, arg, n);
        addr[n] = '\0';
        rest = v4_with_port ? colon + 1 : NULL;
    }
    if (fsg_ip_parse(fsg_span_from_cstr(addr), &p->src) != FSG_OK) {
        snprintf(why, size, "'%s' is not an IPv4 or IPv6 address", addr);
        return false;
    }
    if (rest == NULL) {
        return true;
    }
    char *end = NULL;
    long port = strtol(rest, &end, 10);
    if (end == rest || port < 0 || port > 65535 || (*end != '\0' && *end != '/')) {
        snprintf(why, size, "'%s': PORT must be a number from 0 to 65535", arg);
        return false;
    }
    p->port = (int)port;
    p->proto = FSG_PROTO_TCP;
    if (*end == '/' && fsg_sg_proto_parse(end + 1, &p->proto) != FSG_OK) {
        snprintf(why, size, "'%s': PROTO must be tcp, udp, icmp, icmpv6 or a number", arg);
        return false;
    }
    return true;
}

static const struct fsg_config_target *s_find_target(const struct fsg_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_targets; i++) {
        if (c->targets[i].name != NULL && strcmp(c->targets[i].name, name) == 0) {
            return &c->targets[i];
        }
    }
    return NULL;
}

static enum fsg_err s_read_policy(const struct fsg_config *c, const char *path,
                                  struct fsg_policy_model **ret, struct fsg_error *err)
{
    json_t *bundle = NULL;
    enum fsg_err rc;
    if (path != NULL) {
        rc = fsg_json_load_file(path, NULL, &bundle, err);
    } else {
        const struct fsg_config_pce *p = &c->pce;
        struct fsg_pce_options o = { .url = p->url, .org_id = p->org_id, .key_env = p->key_env,
                                     .secret_env = p->secret_env, .key_file = p->key_file,
                                     .secret_file = p->secret_file, .ca_file = p->ca_file,
                                     .timeout_s = p->timeout_s };
        struct fsg_pce *pce = NULL;
        rc = fsg_pce_new(&o, &pce, err);
        if (rc == FSG_OK) {
            rc = fsg_pce_fetch_policy(pce, true, &bundle, err);
        }
        fsg_pce_destroy(pce);
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_model_from_json(bundle, NULL, ret, err);
    }
    json_decref(bundle);
    return rc;
}

static json_t *s_rule_json(const struct fsg_sg_rule *r)
{
    char proto[8];
    char cidr[FSG_CIDR_STR_MAX];
    return json_pack("{s:s, s:i, s:i, s:s, s:s?}", "proto", fsg_sg_proto_name(r->proto, proto),
                     "from_port", r->from_port, "to_port", r->to_port,
                     r->cidr.addr.is_v6 ? "cidr_ipv6" : "cidr", fsg_cidr_format(&r->cidr, cidr),
                     "description", r->description);
}

static enum fsg_err s_render_json(const char *target, const char *source,
                                  const struct fsg_policy_probe *p,
                                  const struct fsg_explanation *e, struct fsg_buf *out)
{
    char proto[8];
    json_t *rules = json_array();
    json_t *steps = json_array();
    json_t *warnings = json_array();
    for (size_t i = 0; rules != NULL && i < e->matching.len; i++) {
        json_array_append_new(rules, s_rule_json(&e->matching.items[i]));
    }
    for (size_t i = 0; steps != NULL && i < e->n_steps; i++) {
        const struct fsg_explain_step *s = &e->steps[i];
        json_array_append_new(steps, json_pack("{s:s, s:s, s:s?, s:s?, s:s}", "verdict",
                                               fsg_explain_verdict_name(s->verdict), "rule",
                                               s->rule, "rule_set", s->rule_set, "rule_set_name",
                                               s->rule_set_name, "detail", s->detail));
    }
    for (size_t i = 0; warnings != NULL && i < e->compiled->n_warnings; i++) {
        json_array_append_new(warnings, json_string(e->compiled->warnings[i]));
    }
    char src[FSG_IP_STR_MAX];
    json_t *root = json_pack("{s:s, s:s, s:s, s:o, s:o, s:b, s:s, s:o, s:o, s:o}", "target",
                             target, "source", source, "address", fsg_ip_format(&p->src, src),
                             "port", p->port >= 0 ? json_integer(p->port) : json_null(), "proto",
                             p->proto >= 0 || p->port >= 0
                                 ? json_string(fsg_sg_proto_name(p->proto, proto))
                                 : json_null(),
                             "allowed", e->allowed, "summary", e->summary, "security_group_rules",
                             rules, "rules", steps, "warnings", warnings);
    if (root == NULL) {
        return FSG_E_NOMEM;
    }
    enum fsg_err rc = fsg_json_dump(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER, out);
    if (rc == FSG_OK) {
        rc = fsg_buf_append_cstr(out, "\n");
    }
    json_decref(root);
    return rc;
}

static enum fsg_err s_render_text(const char *target, const char *source,
                                  const struct fsg_explanation *e, struct fsg_buf *out)
{
    enum fsg_err rc = fsg_buf_printf(out, "%s -> %s: %s\n", source, target, e->summary);
    if (rc == FSG_OK && e->matching.len > 0) {
        rc = fsg_buf_printf(out, "\nsecurity-group rules that let it in:\n");
    }
    for (size_t i = 0; rc == FSG_OK && i < e->matching.len; i++) {
        const struct fsg_sg_rule *r = &e->matching.items[i];
        char proto[8];
        char cidr[FSG_CIDR_STR_MAX];
        rc = fsg_buf_printf(out, "  %s %d-%d from %s  (%s)\n", fsg_sg_proto_name(r->proto, proto),
                            r->from_port, r->to_port, fsg_cidr_format(&r->cidr, cidr),
                            r->description != NULL ? r->description : "");
    }
    if (rc == FSG_OK && e->n_steps > 0) {
        rc = fsg_buf_printf(out, "\nrules that apply to the target:\n");
    }
    for (size_t i = 0; rc == FSG_OK && i < e->n_steps; i++) {
        const struct fsg_explain_step *s = &e->steps[i];
        rc = fsg_buf_printf(out, "  %-18s %s\n  %-18s rule set %s%s%s%s\n  %-18s %s\n",
                            fsg_explain_verdict_name(s->verdict), s->rule, "",
                            s->rule_set != NULL ? s->rule_set : "(enforcement boundary)",
                            s->rule_set_name != NULL ? " (" : "",
                            s->rule_set_name != NULL ? s->rule_set_name : "",
                            s->rule_set_name != NULL ? ")" : "", "", s->detail);
    }
    if (rc == FSG_OK && e->compiled->n_warnings > 0) {
        rc = fsg_buf_printf(out, "\nwarnings for this target:\n");
    }
    for (size_t i = 0; rc == FSG_OK && i < e->compiled->n_warnings; i++) {
        rc = fsg_buf_printf(out, "  %s\n", e->compiled->warnings[i]);
    }
    return rc;
}

int fsg_cmd_explain(struct fsg_cli *cli, int argc, char **argv)
{
    if (fsg_opts_want_help(argc, argv)) {
        fputs(s_help, stdout);
        return FSG_EXIT_OK;
    }
    struct s_opts o = { .format = "text" };
    struct fsg_opt table[] = {
        { "--policy", .value = &o.policy },
        { "--format", .value = &o.format },
    };
    const char **operands = calloc((size_t)argc + 1, sizeof *operands);
    size_t n = 0;
    if (operands == NULL) {
        return fsg_cli_error(cli, "explain", &(struct fsg_error){ .code = FSG_E_NOMEM });
    }
    int ex = fsg_opts_parse(cli, "explain", table, 2, argc, argv, operands, &n);
    struct fsg_policy_probe probe;
    char why[256];
    if (ex == FSG_EXIT_OK && strcmp(o.format, "text") != 0 && strcmp(o.format, "json") != 0) {
        ex = fsg_cli_usage_error(cli, "explain", "--format must be text or json (got '%s')",
                                 o.format);
    }
    if (ex == FSG_EXIT_OK && n != 2) {
        ex = fsg_cli_usage_error(cli, "explain", "expected TARGET SOURCE[:PORT[/PROTO]] (%zu "
                                                 "operand(s) given)", n);
    }
    if (ex == FSG_EXIT_OK && !s_parse_source(operands[1], &probe, why, sizeof why)) {
        ex = fsg_cli_usage_error(cli, "explain", "%s", why);
    }
    struct fsg_config *config = NULL;
    if (ex == FSG_EXIT_OK) {
        ex = fsg_cli_load_config(cli, &config);
    }
    const struct fsg_config_target *t = NULL;
    if (ex == FSG_EXIT_OK && (t = s_find_target(config, operands[0])) == NULL) {
        ex = fsg_cli_usage_error(cli, "explain", "no target named '%s' in the config",
                                 operands[0]);
    }
    if (ex == FSG_EXIT_OK && o.policy == NULL && config->pce.url == NULL) {
        ex = fsg_cli_usage_error(cli, "explain", "no policy source: pass --policy FILE (an "
                                                 "exported policy) or set pce.url in the config");
    }
    struct fsg_policy_model *m = NULL;
    struct fsg_explanation *e = NULL;
    struct fsg_error err = { 0 };
    if (ex == FSG_EXIT_OK && s_read_policy(config, o.policy, &m, &err) != FSG_OK) {
        ex = fsg_cli_error(cli, o.policy != NULL ? o.policy : "policy", &err);
    }
    struct fsg_policy_label labels[FSG_RECON_MAX_LABELS];
    struct fsg_policy_target pt;
    if (ex == FSG_EXIT_OK && fsg_recon_policy_target(t, labels, &pt, &err) != FSG_OK) {
        ex = fsg_cli_usage_error(cli, "explain", "%s", err.msg);
    }
    if (ex == FSG_EXIT_OK && fsg_policy_explain(m, &pt, &probe, &e, &err) != FSG_OK) {
        ex = fsg_cli_error(cli, "explain", &err);
    }
    if (ex == FSG_EXIT_OK) {
        struct fsg_buf out = FSG_BUF_INIT;
        enum fsg_err rc = strcmp(o.format, "json") == 0
                              ? s_render_json(t->name, operands[1], &probe, e, &out)
                              : s_render_text(t->name, operands[1], e, &out);
        if (rc == FSG_OK && fwrite(out.ptr, 1, out.len, stdout) != out.len) {
            rc = FSG_E_IO;
        }
        if (rc != FSG_OK) {
            ex = fsg_cli_error(cli, "output", &(struct fsg_error){ .code = rc });
        }
        fsg_buf_clean_up(&out);
    }
    fsg_explanation_destroy(e);
    fsg_policy_model_destroy(m);
    fsg_config_destroy(config);
    free(operands);
    return ex;
}
