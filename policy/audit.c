#include "policy/audit.h"

#include <string.h>

#include "lib/core/buf.h"
#include "lib/core/json.h"

json_t *fsg_audit_rule_json(const struct fsg_sg_rule *r)
{
    char proto[8], cidr[FSG_CIDR_STR_MAX];
    return json_pack("{s:s, s:i, s:i, s:s, s:s?}", "proto", fsg_sg_proto_name(r->proto, proto),
                     "from_port", r->from_port, "to_port", r->to_port,
                     r->cidr.addr.is_v6 ? "cidr_ipv6" : "cidr", fsg_cidr_format(&r->cidr, cidr),
                     "description", r->description);
}

void fsg_audit(enum fsg_log_level level, const char *event, const char *target, const char *group,
               json_t *extra)
{
    json_t *o = json_object();
    struct fsg_buf line = FSG_BUF_INIT;
    if (o != NULL && fsg_log_enabled(level)) {
        (void)json_object_set_new(o, "event", json_string(event));
        if (target != NULL) {
            (void)json_object_set_new(o, "target", json_string(target));
        }
        if (group != NULL) {
            (void)json_object_set_new(o, "security_group", json_string(group));
        }
        if (extra != NULL) {
            (void)json_object_update(o, extra);
        }
        /* JSON_PRESERVE_ORDER: event, target and group first, as a reader scans them. */
        if (fsg_json_dump(o, JSON_COMPACT | JSON_PRESERVE_ORDER, &line) == FSG_OK &&
            line.len >= 2) {
            line.ptr[line.len - 1] = '\0'; /* drop the closing brace */
            fsg_log_fields(level, (const char *)line.ptr + 1);
        }
    }
    fsg_buf_clean_up(&line);
    json_decref(extra);
    json_decref(o);
}
