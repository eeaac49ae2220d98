/* ELBv2 target health and registration. See lib/aws/elbv2.h; ref/aws-wire.md §5.5.
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_RegisterTargets.html */
#include "lib/aws/elbv2.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/aws/aws.h"
#include "lib/aws/aws_xml.h"
#include "lib/core/mem.h"

static enum fsg_err s_dup(const struct fsg_aws_xml_node *n, const char *path, char **ret)
{
    const struct fsg_aws_xml_node *x = fsg_aws_xml_path(n, path);
    *ret = NULL;
    if (x == NULL || x->text[0] == '\0') {
        return FSG_OK;
    }
    *ret = fsg_strdup(x->text);
    return *ret != NULL ? FSG_OK : FSG_E_NOMEM;
}

/* A port at path: 0 when absent, FSG_E_PARSE when not 1..65535. */
static enum fsg_err s_port(const struct fsg_aws_xml_node *n, const char *path, long *ret)
{
    uint64_t v = 0;
    enum fsg_err rc = fsg_aws_xml_path_u64(n, path, &v);
    if (rc == FSG_E_NOT_FOUND) {
        *ret = 0;
        return FSG_OK;
    }
    if (rc != FSG_OK || v == 0 || v > 65535) {
        return FSG_E_PARSE;
    }
    *ret = (long)v;
    return FSG_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* DescribeTargetHealth. */

static void s_health_free(struct fsg_elbv2_target_health *t)
{
    fsg_free(t->id);
    fsg_free(t->availability_zone);
    fsg_free(t->health_check_port);
    fsg_free(t->state);
    fsg_free(t->reason);
    fsg_free(t->description);
}

void fsg_elbv2_target_health_list_clean_up(struct fsg_elbv2_target_health_list *l)
{
    if (l == NULL) {
        return;
    }
    for (size_t i = 0; i < l->len; i++) {
        s_health_free(&l->items[i]);
    }
    fsg_free(l->items);
    *l = (struct fsg_elbv2_target_health_list){ 0 };
}

static enum fsg_err s_parse_health(const struct fsg_aws_xml_node *m,
                                   struct fsg_elbv2_target_health *t)
{
    enum fsg_err rc = s_dup(m, "Target/Id", &t->id);
    if (rc == FSG_OK) {
        rc = s_port(m, "Target/Port", &t->port);
    }
    if (rc == FSG_OK) {
        rc = s_dup(m, "Target/AvailabilityZone", &t->availability_zone);
    }
    if (rc == FSG_OK) {
        rc = s_dup(m, "HealthCheckPort", &t->health_check_port);
    }
    if (rc == FSG_OK) {
        rc = s_dup(m, "TargetHealth/State", &t->state);
    }
    if (rc == FSG_OK) {
        rc = s_dup(m, "TargetHealth/Reason", &t->reason);
    }
    if (rc == FSG_OK) {
        rc = s_dup(m, "TargetHealth/Description", &t->description);
    }
    if (rc == FSG_OK && (t->id == NULL || t->state == NULL)) {
        rc = FSG_E_PARSE; /* a member without a target or a state is not one */
    }
    return rc;
}

static enum fsg_err s_parse_health_list(const struct fsg_aws_xml_node *set,
                                        struct fsg_elbv2_target_health_list *l)
{
    size_t n = fsg_aws_xml_count(set, "member");
    if (n == 0) {
        return FSG_OK;
    }
    l->items = fsg_calloc(n, sizeof *l->items);
    if (l->items == NULL) {
        return FSG_E_NOMEM;
    }
    FSG_AWS_XML_FOREACH(m, set, "member") {
        enum fsg_err rc = s_parse_health(m, &l->items[l->len++]);
        if (rc != FSG_OK) {
            return rc;
        }
    }
    return FSG_OK;
}

enum fsg_err fsg_elbv2_describe_target_health(struct fsg_aws_client *elb,
                                              const char *target_group_arn,
                                              struct fsg_elbv2_target_health_list *ret_targets,
                                              struct fsg_error *err)
{
    struct fsg_aws_params p = { 0 };
    struct fsg_aws_xml_doc *doc = NULL;
    struct fsg_elbv2_target_health_list l = { 0 };
    if (target_group_arn == NULL || target_group_arn[0] == '\0') {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "DescribeTargetHealth needs a target group");
    }
    enum fsg_err rc = fsg_aws_params_add(&p, "TargetGroupArn", target_group_arn);
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory building an ELBv2 request");
        goto out;
    }
    rc = fsg_aws_query(elb, "DescribeTargetHealth", FSG_ELBV2_API_VERSION, &p, &doc, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "target group %s: ", target_group_arn);
        goto out;
    }
    rc = s_parse_health_list(fsg_aws_xml_child(fsg_aws_xml_result(doc), "TargetHealthDescriptions"),
                             &l);
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "target group %s: elasticloadbalancing DescribeTargetHealth: "
                           "%s in the answer", target_group_arn,
                           rc == FSG_E_NOMEM ? "out of memory" : "a malformed member");
        goto out;
    }
    *ret_targets = l;
    l = (struct fsg_elbv2_target_health_list){ 0 };
out:
    fsg_elbv2_target_health_list_clean_up(&l);
    fsg_aws_xml_doc_destroy(doc);
    fsg_aws_params_clean_up(&p);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* RegisterTargets / DeregisterTargets. */

static enum fsg_err s_add_targets(struct fsg_aws_params *p, const struct fsg_elbv2_target *t,
                                  size_t n, struct fsg_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].id == NULL || t[i].id[0] == '\0') {
            return fsg_error_set(err, FSG_E_INVALID_ARG, "target %zu has no id", i + 1);
        }
        if (t[i].port < 0 || t[i].port > 65535) {
            return fsg_error_set(err, FSG_E_INVALID_ARG, "target %s: port %ld is out of range",
                                 t[i].id, t[i].port);
        }
        char port[16];
        snprintf(port, sizeof port, "%ld", t[i].port);
        enum fsg_err rc = fsg_aws_params_addf(p, t[i].id, "Targets.member.%zu.Id", i + 1);
        if (rc == FSG_OK && t[i].port > 0) {
            rc = fsg_aws_params_addf(p, port, "Targets.member.%zu.Port", i + 1);
        }
        if (rc == FSG_OK && t[i].availability_zone != NULL) {
            rc = fsg_aws_params_addf(p, t[i].availability_zone,
                                     "Targets.member.%zu.AvailabilityZone", i + 1);
        }
        if (rc != FSG_OK) {
            return fsg_error_set(err, rc, "out of memory building an ELBv2 request");
        }
    }
    return FSG_OK;
}

static enum fsg_err s_change_targets(struct fsg_aws_client *elb, const char *action,
                                     const char *arn, const struct fsg_elbv2_target *targets,
                                     size_t n, struct fsg_error *err)
{
    struct fsg_aws_params p = { 0 };
    struct fsg_aws_xml_doc *doc = NULL;
    if (arn == NULL || arn[0] == '\0' || n == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "%s needs a target group and a target",
                             action);
    }
    enum fsg_err rc = fsg_aws_params_add(&p, "TargetGroupArn", arn);
    rc = rc == FSG_OK ? s_add_targets(&p, targets, n, err)
                      : fsg_error_set(err, rc, "out of memory building an ELBv2 request");
    if (rc == FSG_OK) {
        rc = fsg_aws_query(elb, action, FSG_ELBV2_API_VERSION, &p, &doc, err);
    }
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "target group %s: ", arn);
    }
    fsg_aws_xml_doc_destroy(doc);
    fsg_aws_params_clean_up(&p);
    return rc;
}

enum fsg_err fsg_elbv2_register_targets(struct fsg_aws_client *elb, const char *target_group_arn,
                                        const struct fsg_elbv2_target *targets, size_t n,
                                        struct fsg_error *err)
{
    return s_change_targets(elb, "RegisterTargets", target_group_arn, targets, n, err);
}

enum fsg_err fsg_elbv2_deregister_targets(struct fsg_aws_client *elb,
                                          const char *target_group_arn,
                                          const struct fsg_elbv2_target *targets, size_t n,
                                          struct fsg_error *err)
{
    return s_change_targets(elb, "DeregisterTargets", target_group_arn, targets, n, err);
}

/* ---------------------------------------------------------------------------------------- */
/* DescribeTargetGroups. */

void fsg_elbv2_target_group_clean_up(struct fsg_elbv2_target_group *tg)
{
    if (tg == NULL) {
        return;
    }
    fsg_free(tg->arn);
    fsg_free(tg->name);
    fsg_free(tg->protocol);
    fsg_free(tg->target_type);
    fsg_free(tg->vpc_id);
    for (size_t i = 0; i < tg->n_load_balancer_arns; i++) {
        fsg_free(tg->load_balancer_arns[i]);
    }
    fsg_free(tg->load_balancer_arns);
    *tg = (struct fsg_elbv2_target_group){ 0 };
}

static enum fsg_err s_parse_tg(const struct fsg_aws_xml_node *m, struct fsg_elbv2_target_group *tg)
{
    enum fsg_err rc = s_dup(m, "TargetGroupArn", &tg->arn);
    if (rc == FSG_OK) {
        rc = s_dup(m, "TargetGroupName", &tg->name);
    }
    if (rc == FSG_OK) {
        rc = s_dup(m, "Protocol", &tg->protocol);
    }
    if (rc == FSG_OK) {
        rc = s_port(m, "Port", &tg->port);
    }
    if (rc == FSG_OK) {
        rc = s_dup(m, "TargetType", &tg->target_type);
    }
    if (rc == FSG_OK) {
        rc = s_dup(m, "VpcId", &tg->vpc_id);
    }
    const struct fsg_aws_xml_node *lbs = fsg_aws_xml_child(m, "LoadBalancerArns");
    size_t n = fsg_aws_xml_count(lbs, "member");
    if (rc == FSG_OK && n > 0) {
        tg->load_balancer_arns = fsg_calloc(n, sizeof *tg->load_balancer_arns);
        rc = tg->load_balancer_arns != NULL ? FSG_OK : FSG_E_NOMEM;
    }
    FSG_AWS_XML_FOREACH(lb, lbs, "member") {
        if (rc != FSG_OK) {
            break;
        }
        rc = s_dup(lb, "", &tg->load_balancer_arns[tg->n_load_balancer_arns]);
        if (rc == FSG_OK && tg->load_balancer_arns[tg->n_load_balancer_arns] != NULL) {
            tg->n_load_balancer_arns++;
        }
    }
    return rc == FSG_OK && tg->arn == NULL ? FSG_E_PARSE : rc;
}

enum fsg_err fsg_elbv2_describe_target_group(struct fsg_aws_client *elb,
                                             const char *target_group_arn,
                                             struct fsg_elbv2_target_group *ret_tg,
                                             struct fsg_error *err)
{
    struct fsg_aws_params p = { 0 };
    struct fsg_aws_xml_doc *doc = NULL;
    struct fsg_elbv2_target_group tg = { 0 };
    if (target_group_arn == NULL || target_group_arn[0] == '\0') {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "DescribeTargetGroups needs a target group");
    }
    enum fsg_err rc = fsg_aws_params_add(&p, "TargetGroupArns.member.1", target_group_arn);
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory building an ELBv2 request");
        goto out;
    }
    rc = fsg_aws_query(elb, "DescribeTargetGroups", FSG_ELBV2_API_VERSION, &p, &doc, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "target group %s: ", target_group_arn);
        goto out;
    }
    const struct fsg_aws_xml_node *set = fsg_aws_xml_child(fsg_aws_xml_result(doc), "TargetGroups");
    size_t n = fsg_aws_xml_count(set, "member");
    if (n != 1) {
        rc = fsg_error_set(err, n == 0 ? FSG_E_NOT_FOUND : FSG_E_PARSE,
                           "target group %s: DescribeTargetGroups answered %zu groups, expected 1",
                           target_group_arn, n);
        goto out;
    }
    rc = s_parse_tg(fsg_aws_xml_child(set, "member"), &tg);
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "target group %s: elasticloadbalancing DescribeTargetGroups: "
                           "%s in the answer", target_group_arn,
                           rc == FSG_E_NOMEM ? "out of memory" : "a malformed member");
        goto out;
    }
    *ret_tg = tg;
    tg = (struct fsg_elbv2_target_group){ 0 };
out:
    fsg_elbv2_target_group_clean_up(&tg);
    fsg_aws_xml_doc_destroy(doc);
    fsg_aws_params_clean_up(&p);
    return rc;
}
