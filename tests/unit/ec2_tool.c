/* A driver for lib/ec2, lib/rds and lib/elbv2, used by tests/integration/ec2_moto.py:
 *   ec2_tool COMMAND 'JSON request'
 * prints one JSON object on stdout and exits 0, or prints {"error","code","service_code"} and
 * exits 1. Endpoints, region and credentials come from the AWS environment variables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/aws/aws.h"
#include "lib/aws/ec2.h"
#include "lib/aws/elbv2.h"
#include "lib/core/json.h"
#include "lib/core/mem.h"
#include "lib/aws/rds.h"

#define S_MAX_ITEMS 64

struct s_ctx {
    json_t *req;
    json_t *out;
    struct fsg_aws_client *client;
    struct fsg_error err;
};

/* ---- request helpers ---- */

static const char *s_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Up to S_MAX_ITEMS strings of the array o[key]. */
static size_t s_strs(json_t *o, const char *key, const char **ret)
{
    json_t *a = json_object_get(o, key);
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(a) && n < S_MAX_ITEMS; i++) {
        ret[n++] = json_string_value(json_array_get(a, i));
    }
    return n;
}

struct s_filters {
    struct fsg_ec2_filter f[S_MAX_ITEMS];
    const char *values[S_MAX_ITEMS][S_MAX_ITEMS];
    size_t n;
};

/* {"name": ["v", ...], ...} into EC2 filters, in key order. */
static void s_filters(json_t *o, struct s_filters *f)
{
    const char *name;
    json_t *vals;
    json_object_foreach(json_object_get(o, "filters"), name, vals)
    {
        if (f->n == S_MAX_ITEMS) {
            break;
        }
        size_t k = 0;
        for (; k < json_array_size(vals) && k < S_MAX_ITEMS; k++) {
            f->values[f->n][k] = json_string_value(json_array_get(vals, k));
        }
        f->f[f->n] = (struct fsg_ec2_filter){ name, f->values[f->n], k };
        f->n++;
    }
}

struct s_tags {
    struct fsg_ec2_tag_spec t[S_MAX_ITEMS];
    size_t n;
};

static void s_tag_specs(json_t *o, struct s_tags *t)
{
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(o, "tags"), k, v)
    {
        if (t->n < S_MAX_ITEMS) {
            t->t[t->n++] = (struct fsg_ec2_tag_spec){ k, json_string_value(v) };
        }
    }
}

/* ---- answer helpers ---- */

static json_t *s_jstr(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *s_jstrs(char **s, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, json_string(s[i]));
    }
    return a;
}

static json_t *s_jtags(const struct fsg_ec2_tag *t, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        json_object_set_new(o, t[i].key, json_string(t[i].value));
    }
    return o;
}

static json_t *s_jrule(const struct fsg_ec2_sg_rule *r)
{
    return json_pack("{s:o, s:o, s:b, s:o, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o}",
                     "rule_id", s_jstr(r->rule_id), "group_id", s_jstr(r->group_id), "is_egress",
                     r->is_egress, "ip_protocol", s_jstr(r->ip_protocol), "from_port",
                     (int)r->from_port, "to_port", (int)r->to_port, "cidr_ipv4",
                     s_jstr(r->cidr_ipv4), "cidr_ipv6", s_jstr(r->cidr_ipv6), "prefix_list_id",
                     s_jstr(r->prefix_list_id), "referenced_group_id",
                     s_jstr(r->referenced_group_id), "description", s_jstr(r->description),
                     "tags", s_jtags(r->tags, r->n_tags));
}

static json_t *s_jrules(const struct fsg_ec2_sg_rule_list *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->len; i++) {
        json_array_append_new(a, s_jrule(&l->items[i]));
    }
    return a;
}

static json_t *s_jdb(const struct fsg_rds_instance *db)
{
    json_t *sgs = json_array();
    for (size_t i = 0; i < db->n_vpc_sgs; i++) {
        json_array_append_new(sgs, json_pack("{s:o, s:o}", "id", s_jstr(db->vpc_sgs[i].group_id),
                                             "status", s_jstr(db->vpc_sgs[i].status)));
    }
    json_t *subnets = json_array();
    for (size_t i = 0; i < db->n_subnets; i++) {
        json_array_append_new(subnets, json_pack("{s:o, s:o}", "id",
                                                 s_jstr(db->subnets[i].subnet_id), "az",
                                                 s_jstr(db->subnets[i].availability_zone)));
    }
    return json_pack("{s:o, s:o, s:o, s:I, s:o, s:o, s:b, s:o, s:o, s:o}", "identifier",
                     s_jstr(db->identifier), "status", s_jstr(db->status), "endpoint_address",
                     s_jstr(db->endpoint_address), "endpoint_port", (json_int_t)db->endpoint_port,
                     "availability_zone", s_jstr(db->availability_zone), "secondary_az",
                     s_jstr(db->secondary_availability_zone), "multi_az", db->multi_az,
                     "vpc_id", s_jstr(db->vpc_id), "vpc_sgs", sgs, "subnets", subnets);
}

/* ---- commands ---- */

static enum fsg_err s_describe_rules(struct s_ctx *c)
{
    const char *ids[S_MAX_ITEMS];
    size_t n = s_strs(c->req, "group_ids", ids);
    struct fsg_ec2_sg_rule_list l = { 0 };
    enum fsg_err rc = fsg_ec2_describe_sg_rules(c->client, ids, n, &l, &c->err);
    if (rc == FSG_OK) {
        c->out = json_pack("{s:o}", "rules", s_jrules(&l));
    }
    fsg_ec2_sg_rule_list_clean_up(&l);
    return rc;
}

static size_t s_ranges(json_t *a, const char *cidr_key, struct fsg_ec2_ip_range *r)
{
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(a) && n < S_MAX_ITEMS; i++) {
        json_t *x = json_array_get(a, i);
        r[n++] = (struct fsg_ec2_ip_range){ s_str(x, cidr_key), s_str(x, "description") };
    }
    return n;
}

static enum fsg_err s_authorize(struct s_ctx *c)
{
    static struct fsg_ec2_ip_range v4[S_MAX_ITEMS][S_MAX_ITEMS], v6[S_MAX_ITEMS][S_MAX_ITEMS];
    struct fsg_ec2_ip_permission perms[S_MAX_ITEMS];
    json_t *a = json_object_get(c->req, "perms");
    size_t n = 0;
    for (; n < json_array_size(a) && n < S_MAX_ITEMS; n++) {
        json_t *p = json_array_get(a, n);
        perms[n] = (struct fsg_ec2_ip_permission){
            .ip_protocol = s_str(p, "proto"),
            .from_port = (int32_t)json_integer_value(json_object_get(p, "from")),
            .to_port = (int32_t)json_integer_value(json_object_get(p, "to")),
            .ipv4 = v4[n],
            .n_ipv4 = s_ranges(json_object_get(p, "ipv4"), "cidr", v4[n]),
            .ipv6 = v6[n],
            .n_ipv6 = s_ranges(json_object_get(p, "ipv6"), "cidr", v6[n]),
        };
    }
    struct s_tags tags = { .n = 0 };
    s_tag_specs(c->req, &tags);
    const struct fsg_ec2_authorize_request req = { .group_id = s_str(c->req, "group_id"),
                                                   .perms = perms, .n_perms = n,
                                                   .rule_tags = tags.t, .n_rule_tags = tags.n };
    struct fsg_ec2_sg_rule_list created = { 0 };
    enum fsg_err rc = fsg_ec2_authorize_ingress(c->client, &req, &created, &c->err);
    if (rc == FSG_OK) {
        c->out = json_pack("{s:o}", "created", s_jrules(&created));
    }
    fsg_ec2_sg_rule_list_clean_up(&created);
    return rc;
}

static enum fsg_err s_revoke(struct s_ctx *c)
{
    const char *ids[S_MAX_ITEMS];
    size_t n = s_strs(c->req, "rule_ids", ids);
    enum fsg_err rc = fsg_ec2_revoke_ingress(c->client, s_str(c->req, "group_id"), ids, n,
                                             &c->err);
    if (rc == FSG_OK) {
        c->out = json_object();
    }
    return rc;
}

static enum fsg_err s_create_sg(struct s_ctx *c, bool ensure)
{
    struct s_tags tags = { .n = 0 };
    s_tag_specs(c->req, &tags);
    const struct fsg_ec2_create_sg_request req = { .group_name = s_str(c->req, "name"),
                                                   .description = s_str(c->req, "description"),
                                                   .vpc_id = s_str(c->req, "vpc_id"),
                                                   .tags = tags.t, .n_tags = tags.n };
    char *id = NULL;
    bool created = true;
    enum fsg_err rc = ensure ? fsg_ec2_ensure_security_group(c->client, &req, &id, &created,
                                                             &c->err)
                             : fsg_ec2_create_security_group(c->client, &req, &id, &c->err);
    if (rc == FSG_OK) {
        c->out = json_pack("{s:s, s:b}", "group_id", id, "created", created);
    }
    fsg_free(id);
    return rc;
}

static enum fsg_err s_describe_sgs(struct s_ctx *c)
{
    const char *ids[S_MAX_ITEMS];
    size_t n = s_strs(c->req, "group_ids", ids);
    struct s_filters f = { .n = 0 };
    s_filters(c->req, &f);
    struct fsg_ec2_sg_list l = { 0 };
    enum fsg_err rc = fsg_ec2_describe_security_groups(c->client, ids, n, f.f, f.n, &l, &c->err);
    if (rc == FSG_OK) {
        json_t *a = json_array();
        for (size_t i = 0; i < l.len; i++) {
            const struct fsg_ec2_security_group *g = &l.items[i];
            json_array_append_new(a, json_pack("{s:o, s:o, s:o, s:o, s:o}", "group_id",
                                               s_jstr(g->group_id), "group_name",
                                               s_jstr(g->group_name), "description",
                                               s_jstr(g->description), "vpc_id",
                                               s_jstr(g->vpc_id), "tags",
                                               s_jtags(g->tags, g->n_tags)));
        }
        c->out = json_pack("{s:o}", "groups", a);
    }
    fsg_ec2_sg_list_clean_up(&l);
    return rc;
}

static enum fsg_err s_enis(struct s_ctx *c)
{
    const char *ids[S_MAX_ITEMS];
    size_t n = s_strs(c->req, "ids", ids);
    struct s_filters f = { .n = 0 };
    s_filters(c->req, &f);
    struct fsg_ec2_eni_list l = { 0 };
    enum fsg_err rc = fsg_ec2_describe_network_interfaces(c->client, ids, n, f.f, f.n, &l,
                                                          &c->err);
    if (rc == FSG_OK) {
        json_t *a = json_array();
        for (size_t i = 0; i < l.len; i++) {
            const struct fsg_ec2_eni *e = &l.items[i];
            json_array_append_new(
                a, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "eni_id",
                             s_jstr(e->eni_id), "subnet_id", s_jstr(e->subnet_id), "vpc_id",
                             s_jstr(e->vpc_id), "az", s_jstr(e->availability_zone),
                             "description", s_jstr(e->description), "requester_id",
                             s_jstr(e->requester_id), "status", s_jstr(e->status),
                             "private_ip", s_jstr(e->private_ip), "private_ips",
                             s_jstrs(e->private_ips, e->n_private_ips), "ipv6",
                             s_jstrs(e->ipv6_addrs, e->n_ipv6_addrs), "groups",
                             s_jstrs(e->group_ids, e->n_group_ids)));
        }
        c->out = json_pack("{s:o}", "enis", a);
    }
    fsg_ec2_eni_list_clean_up(&l);
    return rc;
}

static enum fsg_err s_describe_db(struct s_ctx *c)
{
    struct fsg_rds_instance db = { 0 };
    enum fsg_err rc = fsg_rds_describe_db_instance(c->client, s_str(c->req, "id"), &db, &c->err);
    if (rc == FSG_OK) {
        c->out = s_jdb(&db);
    }
    fsg_rds_instance_clean_up(&db);
    return rc;
}

static enum fsg_err s_modify_db(struct s_ctx *c)
{
    const char *ids[S_MAX_ITEMS];
    size_t n = s_strs(c->req, "group_ids", ids);
    struct fsg_rds_instance db = { 0 };
    enum fsg_err rc = fsg_rds_modify_vpc_security_groups(c->client, s_str(c->req, "id"), ids, n,
                                                         &db, &c->err);
    if (rc == FSG_OK) {
        c->out = s_jdb(&db);
    }
    fsg_rds_instance_clean_up(&db);
    return rc;
}

static enum fsg_err s_tg_health(struct s_ctx *c)
{
    struct fsg_elbv2_target_health_list l = { 0 };
    enum fsg_err rc = fsg_elbv2_describe_target_health(c->client, s_str(c->req, "arn"), &l,
                                                       &c->err);
    if (rc == FSG_OK) {
        json_t *a = json_array();
        for (size_t i = 0; i < l.len; i++) {
            const struct fsg_elbv2_target_health *t = &l.items[i];
            json_array_append_new(a, json_pack("{s:o, s:I, s:o, s:o}", "id", s_jstr(t->id),
                                               "port", (json_int_t)t->port, "state",
                                               s_jstr(t->state), "reason", s_jstr(t->reason)));
        }
        c->out = json_pack("{s:o}", "targets", a);
    }
    fsg_elbv2_target_health_list_clean_up(&l);
    return rc;
}

static enum fsg_err s_change_targets(struct s_ctx *c, bool do_register)
{
    struct fsg_elbv2_target t[S_MAX_ITEMS];
    json_t *a = json_object_get(c->req, "targets");
    size_t n = 0;
    for (; n < json_array_size(a) && n < S_MAX_ITEMS; n++) {
        json_t *x = json_array_get(a, n);
        t[n] = (struct fsg_elbv2_target){ s_str(x, "id"),
                                          (long)json_integer_value(json_object_get(x, "port")),
                                          s_str(x, "az") };
    }
    const char *arn = s_str(c->req, "arn");
    enum fsg_err rc = do_register ? fsg_elbv2_register_targets(c->client, arn, t, n, &c->err)
                                  : fsg_elbv2_deregister_targets(c->client, arn, t, n, &c->err);
    if (rc == FSG_OK) {
        c->out = json_object();
    }
    return rc;
}

static enum fsg_err s_describe_tg(struct s_ctx *c)
{
    struct fsg_elbv2_target_group tg = { 0 };
    enum fsg_err rc = fsg_elbv2_describe_target_group(c->client, s_str(c->req, "arn"), &tg,
                                                      &c->err);
    if (rc == FSG_OK) {
        c->out = json_pack("{s:o, s:o, s:I, s:o, s:o, s:o}", "arn", s_jstr(tg.arn), "name",
                           s_jstr(tg.name), "port", (json_int_t)tg.port, "target_type",
                           s_jstr(tg.target_type), "vpc_id", s_jstr(tg.vpc_id),
                           "load_balancers", s_jstrs(tg.load_balancer_arns,
                                                     tg.n_load_balancer_arns));
    }
    fsg_elbv2_target_group_clean_up(&tg);
    return rc;
}

static const char *s_service(const char *cmd)
{
    static const char *const rds_cmds[] = { "describe-db", "modify-db" };
    static const char *const elb_cmds[] = { "tg-health", "register", "deregister", "describe-tg" };
    for (size_t i = 0; i < sizeof rds_cmds / sizeof rds_cmds[0]; i++) {
        if (strcmp(cmd, rds_cmds[i]) == 0) {
            return "rds";
        }
    }
    for (size_t i = 0; i < sizeof elb_cmds / sizeof elb_cmds[0]; i++) {
        if (strcmp(cmd, elb_cmds[i]) == 0) {
            return "elasticloadbalancing";
        }
    }
    return "ec2";
}

static enum fsg_err s_dispatch(const char *cmd, struct s_ctx *c)
{
    if (strcmp(cmd, "describe-rules") == 0) {
        return s_describe_rules(c);
    } else if (strcmp(cmd, "authorize") == 0) {
        return s_authorize(c);
    } else if (strcmp(cmd, "revoke") == 0) {
        return s_revoke(c);
    } else if (strcmp(cmd, "create-sg") == 0 || strcmp(cmd, "ensure-sg") == 0) {
        return s_create_sg(c, strcmp(cmd, "ensure-sg") == 0);
    } else if (strcmp(cmd, "describe-sgs") == 0) {
        return s_describe_sgs(c);
    } else if (strcmp(cmd, "enis") == 0) {
        return s_enis(c);
    } else if (strcmp(cmd, "describe-db") == 0) {
        return s_describe_db(c);
    } else if (strcmp(cmd, "modify-db") == 0) {
        return s_modify_db(c);
    } else if (strcmp(cmd, "tg-health") == 0) {
        return s_tg_health(c);
    } else if (strcmp(cmd, "register") == 0 || strcmp(cmd, "deregister") == 0) {
        return s_change_targets(c, strcmp(cmd, "register") == 0);
    } else if (strcmp(cmd, "describe-tg") == 0) {
        return s_describe_tg(c);
    }
    return fsg_error_set(&c->err, FSG_E_INVALID_ARG, "unknown command %s", cmd);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: ec2_tool COMMAND 'JSON'\n");
        return 2;
    }
    struct s_ctx c = { .req = NULL };
    enum fsg_err rc = fsg_json_load(fsg_span_from_cstr(argv[2]), NULL, &c.req, &c.err);
    if (rc == FSG_OK) {
        struct fsg_aws_client_options o = { .service = s_service(argv[1]) };
        rc = fsg_aws_client_new(&o, &c.client, &c.err);
    }
    if (rc == FSG_OK) {
        rc = s_dispatch(argv[1], &c);
    }
    if (rc != FSG_OK) {
        json_decref(c.out);
        c.out = json_pack("{s:s, s:s, s:s}", "error", c.err.msg, "code", fsg_err_name(rc),
                          "service_code", c.err.service_code);
    }
    char *s = json_dumps(c.out, JSON_COMPACT | JSON_SORT_KEYS);
    printf("%s\n", s != NULL ? s : "null");
    free(s);
    json_decref(c.out);
    json_decref(c.req);
    fsg_aws_client_destroy(c.client);
    return rc == FSG_OK ? 0 : 1;
}
