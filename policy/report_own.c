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
