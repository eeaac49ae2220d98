/* What the reports say about ownership and removals (shared by text, markdown and html). */
#include <stdio.h>
#include <string.h>

#include "policy/report_internal.h"

const char *fsg_report_ownership(enum fsg_sg_ownership o)
{
    return o == FSG_SG_OWN_RULES
               ? "ownership rules: a group shared with other tools; only rules whose description "
                 "starts with \"flowseg \" are managed, the others are reported and left in place"
               : "ownership group: the group is flowseg's; every inbound rule the policy does not "
                 "yield is removed, whoever added it";
}

enum fsg_err fsg_report_removal_line(const struct fsg_sg_plan *sg, size_t i, struct fsg_buf *out)
{
    char pbuf[8], ports[40], src[FSG_CIDR_STR_MAX];
    const char *desc, *id, *reason, *from;
    struct fsg_sg_rule perm = { 0 };
    if (i < sg->remove.len) {
        const struct fsg_sg_rule *r = &sg->remove.items[i];
        perm = *r;
        from = fsg_cidr_format(&r->cidr, src);
        desc = r->description;
        id = r->rule_id;
        reason = fsg_sg_removal_reason(r->description);
    } else if (i - sg->remove.len < sg->n_remove_foreign) {
        const struct fsg_sg_foreign_rule *f = &sg->remove_foreign[i - sg->remove.len];
        perm = (struct fsg_sg_rule){ .proto = f->proto, .from_port = f->from_port,
                                     .to_port = f->to_port };
        from = f->peer != NULL ? f->peer : "?";
        desc = f->description;
        id = f->rule_id;
        reason = FSG_SG_REASON_FOREIGN;
    } else {
        return FSG_E_INVALID_ARG;
    }
    return fsg_buf_printf(out, "%s %s from %s%s%s%s%s%s%s: %s", fsg_sg_proto_name(perm.proto, pbuf),
                          fsg_report_ports(&perm, ports), from, desc != NULL ? " \"" : "",
                          desc != NULL ? desc : " (no description)",
                          desc != NULL ? "\"" : "", id != NULL ? " [" : "", id != NULL ? id : "",
                          id != NULL ? "]" : "", reason);
}

enum fsg_err fsg_report_calls_line(const struct fsg_plan_target *t, struct fsg_buf *out)
{
    const struct fsg_sg_schedule *cs = &t->calls;
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < cs->n_steps; i++) {
        rc = fsg_buf_printf(out, "%s%s %zu", i > 0 ? ", then " : "",
                            fsg_sg_call_name(cs->steps[i].call),
                            fsg_sg_step_count(&cs->steps[i]));
    }
    if (rc == FSG_OK && cs->n_steps > 0) {
        rc = fsg_buf_printf(out, " (at most %zu IPv4 and %zu IPv6 rules at any moment%s)",
                            cs->peak_v4, cs->peak_v6,
                            cs->n_steps > 0 && cs->steps[0].call == FSG_SG_CALL_MODIFY
                                ? "; stale rules are rewritten in place to stay within the quota"
                                : "");
    }
    return rc;
}
