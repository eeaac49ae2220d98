/* EC2 security groups: create (with the ownership tag), adopt, describe. See lib/aws/ec2.h;
 * ref/aws-wire.md §5.2. */
#include <string.h>

#include "lib/aws/ec2.h"
#include "lib/aws/ec2_internal.h"
#include "lib/core/mem.h"

/* ---------------------------------------------------------------------------------------- */
/* Security groups. */

static void s_sg_free(struct fsg_ec2_security_group *g)
{
    fsg_free(g->group_id);
    fsg_free(g->group_name);
    fsg_free(g->description);
    fsg_free(g->vpc_id);
    fsg_free(g->owner_id);
    fsg_ec2__tags_free(g->tags, g->n_tags);
}

void fsg_ec2_sg_list_clean_up(struct fsg_ec2_sg_list *l)
{
    if (l == NULL) {
        return;
    }
    for (size_t i = 0; i < l->len; i++) {
        s_sg_free(&l->items[i]);
    }
    fsg_free(l->items);
    *l = (struct fsg_ec2_sg_list){ 0 };
}

struct s_sg_acc {
    struct fsg_ec2_sg_list list;
    size_t cap;
};

static enum fsg_err s_on_sg(const struct fsg_aws_xml_node *item, void *userdata)
{
    struct s_sg_acc *acc = userdata;
    enum fsg_err rc = fsg_ec2__grow((void **)&acc->list.items, &acc->cap, acc->list.len,
                                    sizeof *acc->list.items);
    if (rc != FSG_OK) {
        return rc;
    }
    struct fsg_ec2_security_group *g = &acc->list.items[acc->list.len++];
    rc = fsg_ec2__dup(item, "groupId", &g->group_id);
    if (rc == FSG_OK) {
        rc = fsg_ec2__dup(item, "groupName", &g->group_name);
    }
    if (rc == FSG_OK) {
        rc = fsg_ec2__dup(item, "groupDescription", &g->description);
    }
    if (rc == FSG_OK) {
        rc = fsg_ec2__dup(item, "vpcId", &g->vpc_id);
    }
    if (rc == FSG_OK) {
        rc = fsg_ec2__dup(item, "ownerId", &g->owner_id);
    }
    if (rc == FSG_OK) {
        rc = fsg_ec2__tags(item, &g->tags, &g->n_tags);
    }
    return rc == FSG_OK && g->group_id == NULL ? FSG_E_PARSE : rc;
}

enum fsg_err fsg_ec2_describe_security_groups(struct fsg_aws_client *ec2,
                                              const char *const *group_ids, size_t n_group_ids,
                                              const struct fsg_ec2_filter *filters,
                                              size_t n_filters, struct fsg_ec2_sg_list *ret_groups,
                                              struct fsg_error *err)
{
    struct fsg_aws_params base = { 0 };
    struct s_sg_acc acc = { 0 };
    enum fsg_err rc = fsg_ec2__add_list(&base, "GroupId", group_ids, n_group_ids, err);
    if (rc == FSG_OK) {
        rc = fsg_ec2__add_filters(&base, filters, n_filters, err);
    }
    if (rc == FSG_OK) {
        /* MaxResults may not be combined with GroupId.N. */
        rc = fsg_ec2__describe_all(ec2, "DescribeSecurityGroups", &base, n_group_ids == 0,
                                   "securityGroupInfo", s_on_sg, &acc, err);
        if (rc != FSG_OK && n_group_ids > 0) {
            fsg_error_prefix(err, "security group %s%s: ", group_ids[0],
                             n_group_ids > 1 ? " (and others)" : "");
        }
    }
    if (rc == FSG_OK) {
        *ret_groups = acc.list;
        acc.list = (struct fsg_ec2_sg_list){ 0 };
    }
    fsg_ec2_sg_list_clean_up(&acc.list);
    fsg_aws_params_clean_up(&base);
    return rc;
}

static enum fsg_err s_check_create(const struct fsg_ec2_create_sg_request *req,
                                   struct fsg_error *err)
{
    if (req->group_name == NULL || req->group_name[0] == '\0') {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "CreateSecurityGroup needs a group name");
    }
    if (strncmp(req->group_name, "sg-", 3) == 0 ||
        !fsg_ec2_description_is_valid(req->group_name)) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "security group name \"%.80s\" is not accepted by EC2 (it may "
                             "not start with sg-; at most %u of a-z A-Z 0-9 space "
                             "._-:/()#,@[]+=;{}!$*)",
                             req->group_name, FSG_EC2_DESCRIPTION_MAX);
    }
    if (req->description == NULL || req->description[0] == '\0' ||
        !fsg_ec2_description_is_valid(req->description)) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "security group %s: the description is missing or not accepted by EC2",
                             req->group_name);
    }
    if (req->vpc_id == NULL || req->vpc_id[0] == '\0') {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "security group %s: no VPC id given",
                             req->group_name);
    }
    return FSG_OK;
}

enum fsg_err fsg_ec2_create_security_group(struct fsg_aws_client *ec2,
                                           const struct fsg_ec2_create_sg_request *req,
                                           char **ret_group_id, struct fsg_error *err)
{
    struct fsg_aws_params p = { 0 };
    struct fsg_aws_xml_doc *doc = NULL;
    enum fsg_err rc = s_check_create(req, err);
    if (rc != FSG_OK) {
        return rc;
    }
    if (fsg_aws_params_add(&p, "GroupName", req->group_name) != FSG_OK ||
        fsg_aws_params_add(&p, "GroupDescription", req->description) != FSG_OK ||
        fsg_aws_params_add(&p, "VpcId", req->vpc_id) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory building an EC2 request");
    }
    if (rc == FSG_OK) {
        rc = fsg_ec2__add_tag_spec(&p, "security-group", req->tags, req->n_tags, err);
    }
    if (rc == FSG_OK) {
        rc = fsg_aws_query(ec2, "CreateSecurityGroup", FSG_EC2_API_VERSION, &p, &doc, err);
    }
    if (rc == FSG_OK) {
        const char *id = fsg_aws_xml_path_text(fsg_aws_xml_root(doc), "groupId");
        char *copy = id[0] != '\0' ? fsg_strdup(id) : NULL;
        if (copy == NULL && id[0] == '\0') {
            rc = fsg_error_set(err, FSG_E_PARSE,
                               "ec2 CreateSecurityGroup: no groupId in the answer");
        } else if (copy == NULL) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "ec2 CreateSecurityGroup: out of memory");
        } else {
            *ret_group_id = copy;
        }
    }
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "creating security group %s in %s: ", req->group_name, req->vpc_id);
    }
    fsg_aws_xml_doc_destroy(doc);
    fsg_aws_params_clean_up(&p);
    return rc;
}

static bool s_has_tag(const struct fsg_ec2_security_group *g, const struct fsg_ec2_tag_spec *t)
{
    for (size_t i = 0; i < g->n_tags; i++) {
        if (strcmp(g->tags[i].key, t->key) == 0) {
            return strcmp(g->tags[i].value, t->value != NULL ? t->value : "") == 0;
        }
    }
    return false;
}

/* The existing group of that name in that VPC, if it carries all of req->tags. */
static enum fsg_err s_adopt_existing(struct fsg_aws_client *ec2,
                                     const struct fsg_ec2_create_sg_request *req,
                                     char **ret_group_id, struct fsg_error *err)
{
    struct fsg_ec2_sg_list groups = { 0 };
    const char *name[] = { req->group_name }, *vpc[] = { req->vpc_id };
    const struct fsg_ec2_filter f[] = { { "group-name", name, 1 }, { "vpc-id", vpc, 1 } };
    enum fsg_err rc = fsg_ec2_describe_security_groups(ec2, NULL, 0, f, 2, &groups, err);
    if (rc == FSG_OK && groups.len != 1) {
        rc = fsg_error_set(err, FSG_E_CONFLICT,
                           "security group %s in %s: EC2 says it exists but %zu groups match",
                           req->group_name, req->vpc_id, groups.len);
    }
    for (size_t i = 0; rc == FSG_OK && i < req->n_tags; i++) {
        const struct fsg_ec2_tag_spec *t = &req->tags[i];
        if (!s_has_tag(&groups.items[0], t)) {
            rc = fsg_error_set(err, FSG_E_REFUSED,
                               "security group %s (%s) in %s exists but is not flowseg's: it lacks "
                               "the tag %s=%s; rename the group in the config or tag it",
                               req->group_name, groups.items[0].group_id, req->vpc_id, t->key,
                               t->value != NULL ? t->value : "");
        }
    }
    if (rc == FSG_OK) {
        *ret_group_id = groups.items[0].group_id;
        groups.items[0].group_id = NULL;
    }
    fsg_ec2_sg_list_clean_up(&groups);
    return rc;
}

enum fsg_err fsg_ec2_ensure_security_group(struct fsg_aws_client *ec2,
                                           const struct fsg_ec2_create_sg_request *req,
                                           char **ret_group_id, bool *ret_created,
                                           struct fsg_error *err)
{
    enum fsg_err rc = fsg_ec2_create_security_group(ec2, req, ret_group_id, err);
    if (rc == FSG_OK) {
        if (ret_created != NULL) {
            *ret_created = true;
        }
        return FSG_OK;
    }
    if (rc != FSG_E_CONFLICT) {
        return rc;
    }
    rc = s_adopt_existing(ec2, req, ret_group_id, err);
    if (rc == FSG_OK && ret_created != NULL) {
        *ret_created = false;
    }
    return rc;
}
