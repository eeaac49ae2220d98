/* Saved plans applied only while still true: the hash of what the policy yields, and the
 * comparison of a saved plan target with the one planned again from the current policy, group
 * and config (apply --plan). */
#include <stdio.h>
#include <string.h>

#include "lib/core/crypto.h"
#include "policy/plan.h"
#include "policy/report_internal.h"

#define S_DESIRED_HASH_VERSION "flowseg-desired-v1"

/* One rule as a canonical line: "tcp 5432 5432 10.0.1.11/32 flowseg /orgs/...". Ports as EC2
 * stores them (the diff normalised them), the description verbatim (a rule whose provenance
 * changed is a different policy). */
static enum fsg_err s_rule_line(struct fsg_buf *b, const struct fsg_sg_rule *r)
{
    char cidr[FSG_CIDR_STR_MAX];
    return fsg_buf_printf(b, "%d %d %d %s %s\n", r->proto, r->from_port, r->to_port,
                          fsg_cidr_format(&r->cidr, cidr),
                          r->description != NULL ? r->description : "");
}

enum fsg_err fsg_plan_desired_hash(const struct fsg_plan *plan, const struct fsg_plan_target *t,
                                   char out[FSG_SG_HASH_HEX_LEN + 1], struct fsg_error *err)
{
    struct fsg_buf b = FSG_BUF_INIT;
    enum fsg_err rc = fsg_buf_printf(&b, "%s\npolicy_version %s\ndesired %zu\n",
                                     S_DESIRED_HASH_VERSION,
                                     plan->policy_version != NULL ? plan->policy_version : "-",
                                     t->sg != NULL ? t->sg->desired.len : 0);
    /* sg->desired is sorted and deduplicated by the diff (and sorted again by the reader) */
    for (size_t i = 0; rc == FSG_OK && t->sg != NULL && i < t->sg->desired.len; i++) {
        rc = s_rule_line(&b, &t->sg->desired.items[i]);
    }
    if (rc == FSG_OK) {
        rc = fsg_sha256_hex(fsg_span_from_buf(&b), out, err);
    } else {
        (void)fsg_error_set(err, rc, "out of memory while hashing the desired rules");
    }
    fsg_buf_clean_up(&b);
    return rc;
}

/* ---- comparing --------------------------------------------------------------------------------- */

static bool s_same(const struct fsg_sg_rule *a, const struct fsg_sg_rule *b)
{
    const char *da = a->description != NULL ? a->description : "";
    const char *db = b->description != NULL ? b->description : "";
    return fsg_sg_rule_cmp(a, b) == 0 && strcmp(da, db) == 0;
}

static bool s_in(const struct fsg_sg_rules *l, const struct fsg_sg_rule *r)
{
    for (size_t i = 0; i < l->len; i++) {
        if (s_same(&l->items[i], r)) {
            return true;
        }
    }
    return false;
}

static enum fsg_err s_rule_text(struct fsg_buf *b, const struct fsg_sg_rule *r)
{
    char pbuf[8], ports[40], cidr[FSG_CIDR_STR_MAX];
    return fsg_buf_printf(b, "%s %s from %s%s%s%s", fsg_sg_proto_name(r->proto, pbuf),
                          fsg_report_ports(r, ports), fsg_cidr_format(&r->cidr, cidr),
                          r->description != NULL ? " (\"" : "",
                          r->description != NULL ? r->description : "",
                          r->description != NULL ? "\")" : "");
}

/* One difference per rule in `a` and not in `b`: "the plan <verb> RULE, <tail>". */
static enum fsg_err s_missing(struct fsg_buf *why, size_t *n, const struct fsg_sg_rules *a,
                              const struct fsg_sg_rules *b, const char *verb, const char *tail)
{
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < a->len; i++) {
        if (s_in(b, &a->items[i])) {
            continue;
        }
        rc = fsg_buf_printf(why, "%sthe plan %s ", why->len > 0 ? "; " : "", verb);
        rc = rc == FSG_OK ? s_rule_text(why, &a->items[i]) : rc;
        rc = rc == FSG_OK ? fsg_buf_printf(why, ", %s", tail) : rc;
        (*n)++;
    }
    return rc;
}

static bool s_foreign_in(const struct fsg_sg_plan *sg, const struct fsg_sg_foreign_rule *f)
{
    for (size_t i = 0; i < sg->n_remove_foreign; i++) {
        const struct fsg_sg_foreign_rule *g = &sg->remove_foreign[i];
        if (g->proto == f->proto && g->from_port == f->from_port && g->to_port == f->to_port &&
            strcmp(g->peer != NULL ? g->peer : "", f->peer != NULL ? f->peer : "") == 0) {
            return true;
        }
    }
    return false;
}

static enum fsg_err s_foreign_missing(struct fsg_buf *why, size_t *n, const struct fsg_sg_plan *a,
                                      const struct fsg_sg_plan *b, const char *verb,
                                      const char *tail)
{
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < a->n_remove_foreign; i++) {
        const struct fsg_sg_foreign_rule *f = &a->remove_foreign[i];
        if (s_foreign_in(b, f)) {
            continue;
        }
        struct fsg_sg_rule perm = { .proto = f->proto, .from_port = f->from_port,
                                    .to_port = f->to_port };
        char pbuf[8], ports[40];
        rc = fsg_buf_printf(why, "%sthe plan %s %s %s from %s, %s", why->len > 0 ? "; " : "",
                            verb, fsg_sg_proto_name(f->proto, pbuf),
                            fsg_report_ports(&perm, ports), f->peer != NULL ? f->peer : "?",
                            tail);
        (*n)++;
    }
    return rc;
}

enum fsg_err fsg_plan_check_edits(const struct fsg_plan_target *saved,
                                  const struct fsg_plan_target *fresh, struct fsg_buf *why,
                                  size_t *ret_n)
{
    static const char *const extra = "which diffing the current group against the current "
                                     "desired rules does not give";
    static const char *const lack = "which diffing the current group against the current "
                                    "desired rules gives";
    const struct fsg_sg_plan *s = saved->sg, *f = fresh->sg;
    size_t n = 0;
    enum fsg_err rc = s_missing(why, &n, &s->add, &f->add, "adds", extra);
    rc = rc == FSG_OK ? s_missing(why, &n, &f->add, &s->add, "does not add", lack) : rc;
    rc = rc == FSG_OK ? s_missing(why, &n, &s->remove, &f->remove, "removes", extra) : rc;
    rc = rc == FSG_OK ? s_missing(why, &n, &f->remove, &s->remove, "does not remove", lack) : rc;
    rc = rc == FSG_OK ? s_foreign_missing(why, &n, s, f, "removes", extra) : rc;
    rc = rc == FSG_OK ? s_foreign_missing(why, &n, f, s, "does not remove", lack) : rc;
    rc = rc == FSG_OK ? s_missing(why, &n, &s->desired, &f->desired, "lists as desired",
                                  "which the policy does not yield") : rc;
    rc = rc == FSG_OK ? s_missing(why, &n, &f->desired, &s->desired, "does not list as desired",
                                  "which the policy yields") : rc;
    *ret_n = n;
    return rc;
}

enum fsg_err fsg_plan_calls_text(const struct fsg_sg_schedule *s, struct fsg_buf *out)
{
    enum fsg_err rc = s->n_steps == 0 ? fsg_buf_printf(out, "none") : FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < s->n_steps; i++) {
        rc = fsg_buf_printf(out, "%s%s %zu", i > 0 ? ", " : "",
                            fsg_sg_call_name(s->steps[i].call),
                            fsg_sg_step_count(&s->steps[i]));
    }
    return rc;
}
