#include "policy/resolve.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/aws/ec2.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"
#include "lib/aws/rds.h"
#include "policy/audit.h"
#include "policy/resolve_internal.h"

/* ---- small owned-array helpers ---------------------------------------------------------------- */

enum fsg_err fsg_resolve__strv_add(char ***v, size_t *n, const char *s)
{
    char **grown = fsg_reallocarray(*v, *n + 1, sizeof *grown);
    if (grown == NULL) {
        return FSG_E_NOMEM;
    }
    *v = grown;
    grown[*n] = fsg_strdup(s);
    if (grown[*n] == NULL) {
        return FSG_E_NOMEM;
    }
    (*n)++;
    return FSG_OK;
}

bool fsg_resolve__strv_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], s) == 0) {
            return true;
        }
    }
    return false;
}

void fsg_resolve__strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fsg_free(v[i]);
    }
    fsg_free(v);
}

static enum fsg_err s_note(struct fsg_resolved_target *t, const char *fmt, ...) FSG_PRINTF(2, 3);
static enum fsg_err s_note(struct fsg_resolved_target *t, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    return fsg_resolve__strv_add(&t->notes, &t->n_notes, line);
}

/* Adds an address once. */
static enum fsg_err s_addr_add(struct fsg_resolved_target *t, const struct fsg_ip *ip)
{
    for (size_t i = 0; i < t->n_addrs; i++) {
        if (fsg_ip_eq(&t->addrs[i], ip)) {
            return FSG_OK;
        }
    }
    struct fsg_ip *grown = fsg_reallocarray(t->addrs, t->n_addrs + 1, sizeof *grown);
    if (grown == NULL) {
        return FSG_E_NOMEM;
    }
    t->addrs = grown;
    t->addrs[t->n_addrs++] = *ip;
    return FSG_OK;
}

static enum fsg_err s_addr_add_text(struct fsg_resolved_target *t, const char *text,
                                    const char *what, const char *target, struct fsg_error *err)
{
    struct fsg_ip ip;
    if (fsg_ip_parse(fsg_span_from_cstr(text), &ip) != FSG_OK) {
        return fsg_error_set(err, FSG_E_PARSE, "target %s: %s \"%s\" is not an address", target,
                             what, text);
    }
    return s_addr_add(t, &ip);
}

void fsg_resolved_target_clean_up(struct fsg_resolved_target *t)
{
    if (t == NULL) {
        return;
    }
    fsg_free(t->rds_status);
    fsg_free(t->endpoint_address);
    fsg_free(t->vpc_id);
    fsg_free(t->availability_zone);
    fsg_resolve__strv_free(t->db_groups, t->n_db_groups);
    fsg_free(t->group_id);
    fsg_free(t->group_label);
    fsg_free(t->group_vpc_id);
    fsg_resolve__strv_free(t->enis, t->n_enis);
    fsg_free(t->addrs);
    fsg_resolve__strv_free(t->notes, t->n_notes);
    *t = (struct fsg_resolved_target){ 0 };
}

/* ---- offline ---------------------------------------------------------------------------------- */

/* The config's enis and eni_addrs. */
static enum fsg_err s_config_enis(const struct fsg_resolve_request *req,
                                  struct fsg_resolved_target *t, struct fsg_error *err)
{
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < req->n_enis; i++) {
        if (!fsg_resolve__strv_has(t->enis, t->n_enis, req->enis[i])) {
            rc = fsg_resolve__strv_add(&t->enis, &t->n_enis, req->enis[i]);
        }
    }
    for (size_t i = 0; rc == FSG_OK && i < req->n_eni_addrs; i++) {
        rc = s_addr_add_text(t, req->eni_addrs[i], "eni_addrs entry", req->name, err);
    }
    return rc;
}

static enum fsg_err s_group_from_config(const struct fsg_resolve_request *req,
                                        struct fsg_resolved_target *t, struct fsg_error *err)
{
    if (req->security_group != NULL) {
        t->group_id = fsg_strdup(req->security_group);
        t->group_label = fsg_strdup(req->security_group);
        return t->group_id == NULL || t->group_label == NULL ? FSG_E_NOMEM : FSG_OK;
    }
    if (req->create_name == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "target %s: no security_group: name the group in the config (an "
                             "id, or {\"create\": NAME, \"vpc_id\": ...})", req->name);
    }
    t->group_label = fsg_strdup(req->create_name);
    t->group_is_flowseg = true;
    if (req->create_vpc_id != NULL) {
        t->group_vpc_id = fsg_strdup(req->create_vpc_id);
    }
    return t->group_label == NULL ? FSG_E_NOMEM : FSG_OK;
}

enum fsg_err fsg_resolve_offline(const struct fsg_resolve_request *req,
                                 struct fsg_resolved_target *ret, struct fsg_error *err)
{
    struct fsg_resolved_target t = { 0 };
    enum fsg_err rc = s_group_from_config(req, &t, err);
    if (rc == FSG_OK) {
        rc = s_config_enis(req, &t, err);
    }
    if (rc != FSG_OK) {
        fsg_resolved_target_clean_up(&t);
        return rc;
    }
    *ret = t;
    return FSG_OK;
}

/* ---- live ------------------------------------------------------------------------------------- */

static enum fsg_err s_take_instance(const struct fsg_resolve_request *req,
                                    struct fsg_rds_instance *db, struct fsg_resolved_target *t,
                                    struct fsg_error *err)
{
    if (db->db_cluster_id != NULL) {
        return fsg_error_set(err, FSG_E_REMOTE, "target %s: RDS instance %s is a member of Aurora "
                             "cluster %s, whose security groups are set on the cluster: not "
                             "supported", req->name, req->rds_instance, db->db_cluster_id);
    }
    t->rds_status = db->status;
    t->endpoint_address = db->endpoint_address;
    t->vpc_id = db->vpc_id;
    t->availability_zone = db->availability_zone;
    db->status = db->endpoint_address = db->vpc_id = db->availability_zone = NULL;
    t->port = db->endpoint_port;
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < db->n_vpc_sgs; i++) {
        const struct fsg_rds_sg_membership *m = &db->vpc_sgs[i];
        bool leaving = m->status != NULL && strcmp(m->status, "removing") == 0;
        if (m->group_id != NULL && !leaving) {
            rc = fsg_resolve__strv_add(&t->db_groups, &t->n_db_groups, m->group_id);
        }
    }
    if (rc == FSG_OK && t->rds_status != NULL && strcmp(t->rds_status, "available") != 0) {
        rc = s_note(t, "RDS instance %s is %s, not available: changes to its security groups may "
                       "wait until it is", req->rds_instance, t->rds_status);
    }
    return rc;
}

static enum fsg_err s_instance(struct fsg_aws_client *rds, const struct fsg_resolve_request *req,
                               struct fsg_resolved_target *t, struct fsg_error *err)
{
    struct fsg_rds_instance db = { 0 };
    fsg_log(FSG_LOG_DEBUG, "aws rds DescribeDBInstances %s", req->rds_instance);
    enum fsg_err rc = fsg_rds_describe_db_instance(rds, req->rds_instance, &db, err);
    if (rc == FSG_OK) {
        rc = s_take_instance(req, &db, t, err);
    }
    fsg_rds_instance_clean_up(&db);
    return rc;
}

/* A group of the create name in the VPC: ours when it carries the ownership tag. */
static enum fsg_err s_find_group(struct fsg_aws_client *ec2, const struct fsg_resolve_request *req,
                                 struct fsg_resolved_target *t, struct fsg_error *err)
{
    const char *vpc = req->create_vpc_id != NULL ? req->create_vpc_id : t->vpc_id;
    if (vpc == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "target %s: security_group.create needs a "
                             "vpc_id (or an rds_instance whose VPC it takes)", req->name);
    }
    fsg_free(t->group_vpc_id);
    t->group_vpc_id = fsg_strdup(vpc);
    if (t->group_vpc_id == NULL) {
        return FSG_E_NOMEM;
    }
    const char *names[] = { req->create_name }, *vpcs[] = { vpc };
    struct fsg_ec2_filter f[] = { { "group-name", names, 1 }, { "vpc-id", vpcs, 1 } };
    struct fsg_ec2_sg_list found = { 0 };
    fsg_log(FSG_LOG_DEBUG, "aws ec2 DescribeSecurityGroups name %s in %s", req->create_name, vpc);
    enum fsg_err rc = fsg_ec2_describe_security_groups(ec2, NULL, 0, f, 2, &found, err);
    for (size_t i = 0; rc == FSG_OK && i < found.len && t->group_id == NULL; i++) {
        const struct fsg_ec2_security_group *g = &found.items[i];
        bool ours = false;
        for (size_t k = 0; k < g->n_tags; k++) {
            ours = ours || (strcmp(g->tags[k].key, FSG_EC2_OWNER_TAG_KEY) == 0 &&
                            strcmp(g->tags[k].value, req->name) == 0);
        }
        if (!ours) {
            rc = fsg_error_set(err, FSG_E_REFUSED, "target %s: security group %s (%s) in %s is not "
                               "flowseg's (no tag %s=%s): flowseg never adopts a group it did "
                               "not create; pick another name, or name the group by id",
                               req->name, req->create_name, g->group_id, vpc,
                               FSG_EC2_OWNER_TAG_KEY, req->name);
        } else {
            t->group_id = fsg_strdup(g->group_id);
            rc = t->group_id == NULL ? FSG_E_NOMEM : FSG_OK;
        }
    }
    fsg_ec2_sg_list_clean_up(&found);
    return rc;
}

enum fsg_err fsg_resolve_target(struct fsg_aws_client *ec2, struct fsg_aws_client *rds,
                                const struct fsg_resolve_request *req,
                                struct fsg_resolved_target *ret, struct fsg_error *err)
{
    struct fsg_resolved_target t = { 0 };
    enum fsg_err rc = s_group_from_config(req, &t, err);
    if (rc == FSG_OK && req->rds_instance != NULL) {
        rc = rds == NULL ? fsg_error_set(err, FSG_E_INVALID_ARG, "no RDS client")
                         : s_instance(rds, req, &t, err);
    }
    if (rc == FSG_OK && req->security_group == NULL) {
        rc = s_find_group(ec2, req, &t, err);
    }
    if (rc == FSG_OK) {
        rc = fsg_resolve__enis(ec2, req, &t, err);
    }
    if (rc != FSG_OK) {
        fsg_resolved_target_clean_up(&t);
        return rc;
    }
    *ret = t;
    return FSG_OK;
}

/* ---- the interfaces --------------------------------------------------------------------------- */

static bool s_eni_in_az(const struct fsg_ec2_eni *e, const struct fsg_resolved_target *t)
{
    return t->availability_zone == NULL ||
           (e->availability_zone != NULL && strcmp(e->availability_zone, t->availability_zone) == 0);
}

static bool s_eni_is_rds(const struct fsg_ec2_eni *e)
{
    return (e->requester_id != NULL && strcmp(e->requester_id, FSG_RESOLVE_RDS_REQUESTER) == 0) ||
           (e->attachment_owner_id != NULL &&
            strcmp(e->attachment_owner_id, FSG_RESOLVE_RDS_REQUESTER) == 0);
}

static bool s_eni_has_addr(const struct fsg_ec2_eni *e, const struct fsg_resolve_request *req)
{
    for (size_t i = 0; i < e->n_private_ips; i++) {
        if (fsg_resolve__strv_has((char *const *)req->eni_addrs, req->n_eni_addrs,
                                  e->private_ips[i])) {
            return true;
        }
    }
    return e->private_ip != NULL &&
           fsg_resolve__strv_has((char *const *)req->eni_addrs, req->n_eni_addrs, e->private_ip);
}

typedef bool(s_eni_pred_fn)(const struct fsg_ec2_eni *e, const struct fsg_resolve_request *req,
                            const struct fsg_resolved_target *t);

static bool s_pred_rds(const struct fsg_ec2_eni *e, const struct fsg_resolve_request *req,
                       const struct fsg_resolved_target *t)
{
    (void)req;
    (void)t;
    return s_eni_is_rds(e);
}

static bool s_pred_az(const struct fsg_ec2_eni *e, const struct fsg_resolve_request *req,
                      const struct fsg_resolved_target *t)
{
    (void)req;
    return s_eni_in_az(e, t);
}

static bool s_pred_addr(const struct fsg_ec2_eni *e, const struct fsg_resolve_request *req,
                        const struct fsg_resolved_target *t)
{
    (void)t;
    return s_eni_has_addr(e, req);
}

/* Narrows keep[] (flags over list) with pred, unless that would leave nothing: each preference
 * only decides between candidates, it never empties the set. */
static void s_prefer(const struct fsg_ec2_eni_list *list, bool *keep, s_eni_pred_fn *pred,
                     const struct fsg_resolve_request *req, const struct fsg_resolved_target *t)
{
    size_t n = 0;
    for (size_t i = 0; i < list->len; i++) {
        n += keep[i] && pred(&list->items[i], req, t);
    }
    for (size_t i = 0; n > 0 && i < list->len; i++) {
        keep[i] = keep[i] && pred(&list->items[i], req, t);
    }
}

static enum fsg_err s_take_eni(struct fsg_resolved_target *t, const struct fsg_ec2_eni *e,
                               const char *target, struct fsg_error *err)
{
    enum fsg_err rc = fsg_resolve__strv_add(&t->enis, &t->n_enis, e->eni_id);
    if (rc == FSG_OK && e->private_ip != NULL) {
        rc = s_addr_add_text(t, e->private_ip, "interface address", target, err);
    }
    for (size_t i = 0; rc == FSG_OK && i < e->n_private_ips; i++) {
        rc = s_addr_add_text(t, e->private_ips[i], "interface address", target, err);
    }
    for (size_t i = 0; rc == FSG_OK && i < e->n_ipv6_addrs; i++) {
        rc = s_addr_add_text(t, e->ipv6_addrs[i], "interface address", target, err);
    }
    return rc;
}

static enum fsg_err s_pick_enis(const struct fsg_resolve_request *req,
                                const struct fsg_ec2_eni_list *list,
                                struct fsg_resolved_target *t, struct fsg_error *err)
{
    bool *keep = fsg_calloc(list->len + 1, sizeof *keep);
    if (keep == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t i = 0; i < list->len; i++) {
        keep[i] = list->items[i].eni_id != NULL;
    }
    s_prefer(list, keep, s_pred_rds, req, t);
    s_prefer(list, keep, s_pred_az, req, t);
    if (req->n_eni_addrs > 0) {
        s_prefer(list, keep, s_pred_addr, req, t);
    }
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; rc == FSG_OK && i < list->len; i++) {
        if (keep[i]) {
            rc = s_take_eni(t, &list->items[i], req->name, err);
        }
    }
    fsg_free(keep);
    if (rc == FSG_OK && t->n_enis > 1) {
        rc = s_note(t, "%zu network interfaces of RDS instance %s's security groups look like "
                       "its own (in use by RDS in its zone); flows to any of them count for this "
                       "target: set \"enis\" in the config if another database shares the group",
                    t->n_enis, req->rds_instance);
    }
    return rc;
}

enum fsg_err fsg_resolve__enis(struct fsg_aws_client *ec2, const struct fsg_resolve_request *req,
                               struct fsg_resolved_target *t, struct fsg_error *err)
{
    bool lookup = req->find_enis && req->n_enis == 0 && req->rds_instance != NULL &&
                  t->n_db_groups > 0;
    enum fsg_err rc = FSG_OK;
    if (lookup) {
        const char *desc[] = { FSG_RESOLVE_RDS_ENI_DESCRIPTION };
        struct fsg_ec2_filter f[] = { { "group-id", (const char *const *)t->db_groups,
                                        t->n_db_groups },
                                      { "description", desc, 1 } };
        struct fsg_ec2_eni_list list = { 0 };
        fsg_log(FSG_LOG_DEBUG, "aws ec2 DescribeNetworkInterfaces for RDS instance %s",
                req->rds_instance);
        rc = fsg_ec2_describe_network_interfaces(ec2, NULL, 0, f, 2, &list, err);
        if (rc == FSG_OK) {
            rc = s_pick_enis(req, &list, t, err);
        }
        fsg_ec2_eni_list_clean_up(&list);
    }
    if (rc == FSG_OK) {
        rc = s_config_enis(req, t, err);
    }
    if (rc == FSG_OK && lookup && t->n_enis == 0) {
        rc = s_note(t, "no network interface with description %s was found in the security "
                       "groups of RDS instance %s", FSG_RESOLVE_RDS_ENI_DESCRIPTION,
                    req->rds_instance);
    }
    return rc;
}
