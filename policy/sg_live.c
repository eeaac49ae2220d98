#include "policy/sg_live.h"

#include <string.h>

#include "lib/aws/ec2.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"

/* One EC2 rule into cur: a CIDR rule or a foreign (SG reference / prefix list) rule. */
static enum fsg_err s_add(struct fsg_sg_current *cur, const struct fsg_ec2_sg_rule *r,
                          struct fsg_error *err)
{
    int proto = 0, from = r->from_port, to = r->to_port;
    if (r->ip_protocol == NULL || fsg_sg_proto_parse(r->ip_protocol, &proto) != FSG_OK) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: rule %s: unknown protocol \"%s\"",
                             cur->group_id, r->rule_id != NULL ? r->rule_id : "?",
                             r->ip_protocol != NULL ? r->ip_protocol : "");
    }
    fsg_sg_rule_normalize_ports(proto, &from, &to);
    const char *peer = r->referenced_group_id != NULL ? r->referenced_group_id : r->prefix_list_id;
    const char *cidr = r->cidr_ipv4 != NULL ? r->cidr_ipv4 : r->cidr_ipv6;
    if (cidr == NULL || peer != NULL) {
        struct fsg_sg_foreign_rule f = { .proto = proto, .from_port = from, .to_port = to,
                                         .peer = (char *)(peer != NULL ? peer : "?"),
                                         .description = r->description, .rule_id = r->rule_id };
        return fsg_sg_current_add_foreign(cur, &f);
    }
    struct fsg_sg_rule rule = { .proto = proto, .from_port = from, .to_port = to,
                                .description = r->description, .rule_id = r->rule_id };
    /* EC2 stores canonical blocks; host bits would only come from an emulator. */
    if (fsg_cidr_parse(fsg_span_from_cstr(cidr), true, &rule.cidr) != FSG_OK ||
        rule.cidr.addr.is_v6 != (r->cidr_ipv6 != NULL && r->cidr_ipv4 == NULL)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: rule %s: bad CIDR \"%s\"", cur->group_id,
                             r->rule_id != NULL ? r->rule_id : "?", cidr);
    }
    return fsg_sg_rules_append(&cur->rules, &rule);
}

enum fsg_err fsg_sg_live_from_rules(const struct fsg_ec2_sg_rule_list *rules, const char *group_id,
                                    struct fsg_sg_current *ret, struct fsg_error *err)
{
    struct fsg_sg_current cur = { 0 };
    enum fsg_err rc = fsg_sg_current_init(&cur, group_id);
    for (size_t i = 0; rc == FSG_OK && i < rules->len; i++) {
        const struct fsg_ec2_sg_rule *r = &rules->items[i];
        if (r->is_egress || r->group_id == NULL || strcmp(r->group_id, group_id) != 0) {
            continue;
        }
        rc = s_add(&cur, r, err);
    }
    if (rc != FSG_OK) {
        fsg_sg_current_clean_up(&cur);
        return rc;
    }
    fsg_sg_rules_sort(&cur.rules);
    *ret = cur;
    return FSG_OK;
}

static bool s_seen(const struct fsg_ec2_sg_rule_list *rules, const char *group_id)
{
    for (size_t i = 0; i < rules->len; i++) {
        if (rules->items[i].group_id != NULL && strcmp(rules->items[i].group_id, group_id) == 0) {
            return true;
        }
    }
    return false;
}

enum fsg_err fsg_sg_live_read(struct fsg_aws_client *ec2, const char *const *group_ids, size_t n,
                              struct fsg_sg_current *ret, bool *ret_seen, struct fsg_error *err)
{
    if (n == 0) {
        return FSG_OK;
    }
    struct fsg_ec2_sg_rule_list rules = { 0 };
    fsg_log(FSG_LOG_DEBUG, "aws ec2 DescribeSecurityGroupRules: %zu group(s), first %s", n,
            group_ids[0]);
    enum fsg_err rc = fsg_ec2_describe_sg_rules(ec2, group_ids, n, &rules, err);
    size_t done = 0;
    for (; rc == FSG_OK && done < n; done++) {
        rc = fsg_sg_live_from_rules(&rules, group_ids[done], &ret[done], err);
        if (rc == FSG_OK && ret_seen != NULL) {
            ret_seen[done] = s_seen(&rules, group_ids[done]);
        }
    }
    if (rc != FSG_OK) {
        for (size_t i = 0; i < done; i++) {
            fsg_sg_current_clean_up(&ret[i]);
            ret[i] = (struct fsg_sg_current){ 0 };
        }
    }
    fsg_ec2_sg_rule_list_clean_up(&rules);
    return rc;
}
