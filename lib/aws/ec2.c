/* EC2 security-group rules (describe, authorize, revoke) and the shared EC2 helpers; groups are
 * in ec2_groups.c, network interfaces in ec2_eni.c. See lib/aws/ec2.h; ref/aws-wire.md §5.2-§5.3.
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests.html (EC2 list form) */
#include "lib/aws/ec2.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "lib/aws/aws.h"
#include "lib/aws/aws_xml.h"
#include "lib/aws/ec2_internal.h"
#include "lib/core/mem.h"

/* ---------------------------------------------------------------------------------------- */
/* Answer reading helpers, shared with ec2_groups.c and ec2_eni.c through lib/aws/ec2_internal.h. */

enum fsg_err fsg_ec2__dup(const struct fsg_aws_xml_node *n, const char *path, char **ret)
{
    const struct fsg_aws_xml_node *x = fsg_aws_xml_path(n, path);
    *ret = NULL;
    if (x == NULL || x->text[0] == '\0') {
        return FSG_OK;
    }
    *ret = fsg_strdup(x->text);
    return *ret != NULL ? FSG_OK : FSG_E_NOMEM;
}

enum fsg_err fsg_ec2__i32(const struct fsg_aws_xml_node *n, const char *path, int32_t *ret)
{
    int64_t v = -1;
    enum fsg_err rc = fsg_aws_xml_path_i64(n, path, &v);
    if (rc == FSG_E_NOT_FOUND) {
        v = -1;
    } else if (rc != FSG_OK || v < INT32_MIN || v > INT32_MAX) {
        return FSG_E_PARSE;
    }
    *ret = (int32_t)v;
    return FSG_OK;
}

enum fsg_err fsg_ec2__bool(const struct fsg_aws_xml_node *n, const char *path, bool *ret)
{
    bool v = false;
    enum fsg_err rc = fsg_aws_xml_path_bool(n, path, &v);
    if (rc == FSG_E_NOT_FOUND) {
        v = false;
    } else if (rc != FSG_OK) {
        return rc;
    }
    *ret = v;
    return FSG_OK;
}

enum fsg_err fsg_ec2__grow(void **items, size_t *cap, size_t len, size_t elem_size)
{
    size_t old_cap = *cap;
    void *p = fsg_array_grow(*items, cap, len + 1, elem_size, 8);
    if (p == NULL) {
        return FSG_E_NOMEM;
    }
    memset((char *)p + old_cap * elem_size, 0, (*cap - old_cap) * elem_size);
    *items = p;
    return FSG_OK;
}

enum fsg_err fsg_ec2__strings(const struct fsg_aws_xml_node *set, const char *field, char ***ret,
                              size_t *ret_n)
{
    size_t cap = 0;
    enum fsg_err rc = FSG_OK;
    FSG_AWS_XML_FOREACH(item, set, "item") {
        char *s = NULL;
        rc = fsg_ec2__dup(item, field, &s);
        if (rc == FSG_OK && s != NULL) {
            rc = fsg_ec2__grow((void **)ret, &cap, *ret_n, sizeof **ret);
            if (rc == FSG_OK) {
                (*ret)[(*ret_n)++] = s;
                s = NULL;
            }
        }
        fsg_free(s);
        if (rc != FSG_OK) {
            break;
        }
    }
    return rc;
}

void fsg_ec2__strings_free(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fsg_free(s[i]);
    }
    fsg_free(s);
}

void fsg_ec2__tags_free(struct fsg_ec2_tag *tags, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fsg_free(tags[i].key);
        fsg_free(tags[i].value);
    }
    fsg_free(tags);
}

/* tagSet/item/{key,value}. A tag without a key is skipped; an empty value is "". */
enum fsg_err fsg_ec2__tags(const struct fsg_aws_xml_node *n, struct fsg_ec2_tag **ret,
                           size_t *ret_n)
{
    size_t cap = 0;
    FSG_AWS_XML_FOREACH(item, fsg_aws_xml_child(n, "tagSet"), "item") {
        const char *key = fsg_aws_xml_path_text(item, "key");
        if (key[0] == '\0') {
            continue;
        }
        enum fsg_err rc = fsg_ec2__grow((void **)ret, &cap, *ret_n, sizeof **ret);
        if (rc != FSG_OK) {
            return rc;
        }
        struct fsg_ec2_tag *t = &(*ret)[*ret_n];
        t->key = fsg_strdup(key);
        t->value = fsg_strdup(fsg_aws_xml_path_text(item, "value"));
        (*ret_n)++;
        if (t->key == NULL || t->value == NULL) {
            return FSG_E_NOMEM;
        }
    }
    return FSG_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Request helpers. */

enum fsg_err fsg_ec2__add_list(struct fsg_aws_params *p, const char *name,
                               const char *const *values, size_t n, struct fsg_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (values[i] == NULL || values[i][0] == '\0') {
            return fsg_error_set(err, FSG_E_INVALID_ARG, "%s.%zu is empty", name, i + 1);
        }
        if (fsg_aws_params_addf(p, values[i], "%s.%zu", name, i + 1) != FSG_OK) {
            return fsg_error_set(err, FSG_E_NOMEM, "out of memory building an EC2 request");
        }
    }
    return FSG_OK;
}

enum fsg_err fsg_ec2__add_filters(struct fsg_aws_params *p, const struct fsg_ec2_filter *f,
                                  size_t n, struct fsg_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (f[i].name == NULL || f[i].name[0] == '\0' || f[i].n_values == 0) {
            return fsg_error_set(err, FSG_E_INVALID_ARG, "EC2 filter %zu has no name or no value",
                                 i + 1);
        }
        enum fsg_err rc = fsg_aws_params_addf(p, f[i].name, "Filter.%zu.Name", i + 1);
        for (size_t j = 0; j < f[i].n_values && rc == FSG_OK; j++) {
            const char *v = f[i].values[j] != NULL ? f[i].values[j] : "";
            rc = fsg_aws_params_addf(p, v, "Filter.%zu.Value.%zu", i + 1, j + 1);
        }
        if (rc != FSG_OK) {
            return fsg_error_set(err, FSG_E_NOMEM, "out of memory building an EC2 request");
        }
    }
    return FSG_OK;
}

enum fsg_err fsg_ec2__add_tag_spec(struct fsg_aws_params *p, const char *resource_type,
                                   const struct fsg_ec2_tag_spec *tags, size_t n,
                                   struct fsg_error *err)
{
    if (n == 0) {
        return FSG_OK;
    }
    enum fsg_err rc = fsg_aws_params_add(p, "TagSpecification.1.ResourceType", resource_type);
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        if (tags[i].key == NULL || tags[i].key[0] == '\0') {
            return fsg_error_set(err, FSG_E_INVALID_ARG, "tag %zu has an empty key", i + 1);
        }
        rc = fsg_aws_params_addf(p, tags[i].key, "TagSpecification.1.Tag.%zu.Key", i + 1);
        if (rc == FSG_OK) {
            rc = fsg_aws_params_addf(p, tags[i].value != NULL ? tags[i].value : "",
                                     "TagSpecification.1.Tag.%zu.Value", i + 1);
        }
    }
    return rc == FSG_OK ? FSG_OK
                        : fsg_error_set(err, FSG_E_NOMEM, "out of memory building an EC2 request");
}

/* ---------------------------------------------------------------------------------------- */
/* Paging: one Describe action, every page, each <set>/<item> handed to on_item. */

enum fsg_err fsg_ec2__describe_all(struct fsg_aws_client *ec2, const char *action,
                                   const struct fsg_aws_params *base, bool max_results,
                                   const char *set_name, fsg_ec2__item_fn *on_item,
                                   void *userdata, struct fsg_error *err)
{
    struct fsg_aws_params p = { 0 };
    struct fsg_aws_xml_doc *doc = NULL;
    char *token = NULL;
    enum fsg_err rc = FSG_OK;
    for (unsigned page = 0;; page++) {
        if (page >= FSG_EC2_MAX_PAGES) {
            rc = fsg_error_set(err, FSG_E_LIMIT, "ec2 %s: more than %u pages; giving up", action,
                               FSG_EC2_MAX_PAGES);
            break;
        }
        fsg_aws_params_clean_up(&p);
        for (size_t i = 0; i < base->len && rc == FSG_OK; i++) {
            rc = fsg_aws_params_add(&p, base->items[i].name, base->items[i].value);
        }
        if (rc == FSG_OK && max_results) {
            char n[16];
            snprintf(n, sizeof n, "%u", FSG_EC2_MAX_RESULTS);
            rc = fsg_aws_params_add(&p, "MaxResults", n);
        }
        if (rc == FSG_OK && token != NULL) {
            rc = fsg_aws_params_add(&p, "NextToken", token);
        }
        if (rc != FSG_OK) {
            rc = fsg_error_set(err, rc, "ec2 %s: out of memory building the request", action);
            break;
        }
        fsg_aws_xml_doc_destroy(doc);
        doc = NULL;
        rc = fsg_aws_query(ec2, action, FSG_EC2_API_VERSION, &p, &doc, err);
        if (rc != FSG_OK) {
            break;
        }
        const struct fsg_aws_xml_node *root = fsg_aws_xml_root(doc);
        FSG_AWS_XML_FOREACH(item, fsg_aws_xml_child(root, set_name), "item") {
            rc = on_item(item, userdata);
            if (rc != FSG_OK) {
                break;
            }
        }
        if (rc != FSG_OK) {
            rc = fsg_error_set(err, rc, "ec2 %s: %s in the answer", action,
                               rc == FSG_E_NOMEM ? "out of memory" : "a malformed item");
            break;
        }
        const char *next = fsg_aws_xml_path_text(root, "nextToken");
        if (next[0] == '\0') {
            break;
        }
        if (token != NULL && strcmp(token, next) == 0) {
            rc = fsg_error_set(err, FSG_E_PARSE, "ec2 %s: the same NextToken came back twice",
                               action);
            break;
        }
        fsg_free(token);
        token = fsg_strdup(next);
        if (token == NULL) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "ec2 %s: out of memory", action);
            break;
        }
    }
    fsg_free(token);
    fsg_aws_xml_doc_destroy(doc);
    fsg_aws_params_clean_up(&p);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Security-group rules. */

static void s_rule_free(struct fsg_ec2_sg_rule *r)
{
    fsg_free(r->rule_id);
    fsg_free(r->group_id);
    fsg_free(r->group_owner_id);
    fsg_free(r->ip_protocol);
    fsg_free(r->cidr_ipv4);
    fsg_free(r->cidr_ipv6);
    fsg_free(r->prefix_list_id);
    fsg_free(r->referenced_group_id);
    fsg_free(r->referenced_user_id);
    fsg_free(r->description);
    fsg_ec2__tags_free(r->tags, r->n_tags);
}

void fsg_ec2_sg_rule_list_clean_up(struct fsg_ec2_sg_rule_list *l)
{
    if (l == NULL) {
        return;
    }
    for (size_t i = 0; i < l->len; i++) {
        s_rule_free(&l->items[i]);
    }
    fsg_free(l->items);
    *l = (struct fsg_ec2_sg_rule_list){ 0 };
}

static enum fsg_err s_rule_parse(const struct fsg_aws_xml_node *item, struct fsg_ec2_sg_rule *r)
{
    static const struct {
        const char *path;
        size_t off;
    } strs[] = {
        { "securityGroupRuleId", offsetof(struct fsg_ec2_sg_rule, rule_id) },
        { "groupId", offsetof(struct fsg_ec2_sg_rule, group_id) },
        { "groupOwnerId", offsetof(struct fsg_ec2_sg_rule, group_owner_id) },
        { "ipProtocol", offsetof(struct fsg_ec2_sg_rule, ip_protocol) },
        { "cidrIpv4", offsetof(struct fsg_ec2_sg_rule, cidr_ipv4) },
        { "cidrIpv6", offsetof(struct fsg_ec2_sg_rule, cidr_ipv6) },
        { "prefixListId", offsetof(struct fsg_ec2_sg_rule, prefix_list_id) },
        { "referencedGroupInfo/groupId", offsetof(struct fsg_ec2_sg_rule, referenced_group_id) },
        { "referencedGroupInfo/userId", offsetof(struct fsg_ec2_sg_rule, referenced_user_id) },
        { "description", offsetof(struct fsg_ec2_sg_rule, description) },
    };
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0] && rc == FSG_OK; i++) {
        rc = fsg_ec2__dup(item, strs[i].path, (char **)((char *)r + strs[i].off));
    }
    if (rc == FSG_OK) {
        rc = fsg_ec2__bool(item, "isEgress", &r->is_egress);
    }
    if (rc == FSG_OK) {
        rc = fsg_ec2__i32(item, "fromPort", &r->from_port);
    }
    if (rc == FSG_OK) {
        rc = fsg_ec2__i32(item, "toPort", &r->to_port);
    }
    if (rc == FSG_OK) {
        rc = fsg_ec2__tags(item, &r->tags, &r->n_tags);
    }
    if (rc == FSG_OK && (r->rule_id == NULL || r->ip_protocol == NULL)) {
        rc = FSG_E_PARSE; /* every rule has both */
    }
    return rc;
}

struct s_rule_acc {
    struct fsg_ec2_sg_rule_list list;
    size_t cap;
};

static enum fsg_err s_on_rule(const struct fsg_aws_xml_node *item, void *userdata)
{
    struct s_rule_acc *acc = userdata;
    enum fsg_err rc = fsg_ec2__grow((void **)&acc->list.items, &acc->cap, acc->list.len,
                                    sizeof *acc->list.items);
    if (rc != FSG_OK) {
        return rc;
    }
    /* Counted before parsing so a half-parsed rule is freed with the list. */
    return s_rule_parse(item, &acc->list.items[acc->list.len++]);
}

enum fsg_err fsg_ec2_describe_sg_rules(struct fsg_aws_client *ec2, const char *const *group_ids,
                                       size_t n_group_ids, struct fsg_ec2_sg_rule_list *ret_rules,
                                       struct fsg_error *err)
{
    struct fsg_aws_params base = { 0 };
    struct s_rule_acc acc = { 0 };
    enum fsg_err rc = FSG_OK;
    if (n_group_ids == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "DescribeSecurityGroupRules needs at least one security group id");
    }
    const struct fsg_ec2_filter f = { "group-id", group_ids, n_group_ids };
    rc = fsg_ec2__add_filters(&base, &f, 1, err);
    if (rc == FSG_OK) {
        rc = fsg_ec2__describe_all(ec2, "DescribeSecurityGroupRules", &base, true,
                                   "securityGroupRuleSet", s_on_rule, &acc, err);
        if (rc != FSG_OK) {
            fsg_error_prefix(err, "security group %s%s: ", group_ids[0],
                             n_group_ids > 1 ? " (and others)" : "");
        }
    }
    if (rc == FSG_OK) {
        *ret_rules = acc.list;
        acc.list = (struct fsg_ec2_sg_rule_list){ 0 };
    }
    fsg_ec2_sg_rule_list_clean_up(&acc.list);
    fsg_aws_params_clean_up(&base);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Authorize / revoke. */

bool fsg_ec2_description_is_valid(const char *s)
{
    static const char extra[] = " ._-:/()#,@[]+=;{}!$*";
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        unsigned char c = (unsigned char)s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr(extra, c) != NULL;
        if (!ok || n >= FSG_EC2_DESCRIPTION_MAX) {
            return false;
        }
    }
    return true;
}

static enum fsg_err s_add_ranges(struct fsg_aws_params *p, size_t perm, const char *list,
                                 const char *field, const struct fsg_ec2_ip_range *r, size_t n,
                                 struct fsg_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (r[i].cidr == NULL || r[i].cidr[0] == '\0') {
            return fsg_error_set(err, FSG_E_INVALID_ARG, "IpPermissions.%zu.%s.%zu has no CIDR",
                                 perm, list, i + 1);
        }
        if (r[i].description != NULL && !fsg_ec2_description_is_valid(r[i].description)) {
            return fsg_error_set(err, FSG_E_INVALID_ARG,
                                 "the description of %s is not accepted by EC2 (at most %u of "
                                 "a-z A-Z 0-9 space ._-:/()#,@[]+=;{}!$*): \"%.80s\"",
                                 r[i].cidr, FSG_EC2_DESCRIPTION_MAX, r[i].description);
        }
        enum fsg_err rc = fsg_aws_params_addf(p, r[i].cidr, "IpPermissions.%zu.%s.%zu.%s", perm,
                                              list, i + 1, field);
        if (rc == FSG_OK && r[i].description != NULL) {
            rc = fsg_aws_params_addf(p, r[i].description, "IpPermissions.%zu.%s.%zu.Description",
                                     perm, list, i + 1);
        }
        if (rc != FSG_OK) {
            return fsg_error_set(err, FSG_E_NOMEM, "out of memory building an EC2 request");
        }
    }
    return FSG_OK;
}

static enum fsg_err s_add_permission(struct fsg_aws_params *p, size_t idx,
                                     const struct fsg_ec2_ip_permission *perm,
                                     struct fsg_error *err)
{
    if (perm->ip_protocol == NULL || perm->ip_protocol[0] == '\0') {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "IpPermissions.%zu has no protocol", idx);
    }
    if (perm->n_ipv4 + perm->n_ipv6 == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "IpPermissions.%zu has no address range",
                             idx);
    }
    char num[16];
    enum fsg_err rc = fsg_aws_params_addf(p, perm->ip_protocol, "IpPermissions.%zu.IpProtocol",
                                          idx);
    if (rc == FSG_OK && strcmp(perm->ip_protocol, "-1") != 0) {
        snprintf(num, sizeof num, "%d", (int)perm->from_port);
        rc = fsg_aws_params_addf(p, num, "IpPermissions.%zu.FromPort", idx);
        snprintf(num, sizeof num, "%d", (int)perm->to_port);
        if (rc == FSG_OK) {
            rc = fsg_aws_params_addf(p, num, "IpPermissions.%zu.ToPort", idx);
        }
    }
    if (rc != FSG_OK) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory building an EC2 request");
    }
    rc = s_add_ranges(p, idx, "IpRanges", "CidrIp", perm->ipv4, perm->n_ipv4, err);
    if (rc == FSG_OK) {
        rc = s_add_ranges(p, idx, "Ipv6Ranges", "CidrIpv6", perm->ipv6, perm->n_ipv6, err);
    }
    return rc;
}

/* <return>false</return> would mean nothing happened without an error document. */
enum fsg_err fsg_ec2__check_return(const struct fsg_aws_xml_doc *doc, const char *action,
                                   struct fsg_error *err)
{
    if (strcmp(fsg_aws_xml_path_text(fsg_aws_xml_root(doc), "return"), "false") == 0) {
        return fsg_error_set(err, FSG_E_REMOTE, "ec2 %s answered return=false (request id %s)",
                             action, fsg_aws_xml_request_id(doc));
    }
    return FSG_OK;
}

enum fsg_err fsg_ec2_authorize_ingress(struct fsg_aws_client *ec2,
                                       const struct fsg_ec2_authorize_request *req,
                                       struct fsg_ec2_sg_rule_list *ret_created,
                                       struct fsg_error *err)
{
    struct fsg_aws_params p = { 0 };
    struct fsg_aws_xml_doc *doc = NULL;
    struct s_rule_acc acc = { 0 };
    enum fsg_err rc = FSG_OK;
    if (req->group_id == NULL || req->group_id[0] == '\0' || req->n_perms == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "AuthorizeSecurityGroupIngress needs a group id and a permission");
    }
    if (fsg_aws_params_add(&p, "GroupId", req->group_id) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory building an EC2 request");
    }
    for (size_t i = 0; i < req->n_perms && rc == FSG_OK; i++) {
        rc = s_add_permission(&p, i + 1, &req->perms[i], err);
    }
    if (rc == FSG_OK) {
        rc = fsg_ec2__add_tag_spec(&p, "security-group-rule", req->rule_tags, req->n_rule_tags,
                                   err);
    }
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "security group %s: ", req->group_id);
        goto out;
    }
    rc = fsg_aws_query(ec2, "AuthorizeSecurityGroupIngress", FSG_EC2_API_VERSION, &p, &doc, err);
    if (rc == FSG_OK) {
        rc = fsg_ec2__check_return(doc, "AuthorizeSecurityGroupIngress", err);
    }
    FSG_AWS_XML_FOREACH(item, fsg_aws_xml_child(fsg_aws_xml_root(doc), "securityGroupRuleSet"),
                        "item") {
        if (rc != FSG_OK || ret_created == NULL) {
            break;
        }
        rc = s_on_rule(item, &acc);
        if (rc != FSG_OK) {
            rc = fsg_error_set(err, rc, "ec2 AuthorizeSecurityGroupIngress: %s in the answer",
                               rc == FSG_E_NOMEM ? "out of memory" : "a malformed rule");
        }
    }
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "security group %s: ", req->group_id);
        goto out;
    }
    if (ret_created != NULL) {
        *ret_created = acc.list;
        acc.list = (struct fsg_ec2_sg_rule_list){ 0 };
    }
out:
    fsg_ec2_sg_rule_list_clean_up(&acc.list);
    fsg_aws_xml_doc_destroy(doc);
    fsg_aws_params_clean_up(&p);
    return rc;
}

enum fsg_err fsg_ec2_revoke_ingress(struct fsg_aws_client *ec2, const char *group_id,
                                    const char *const *rule_ids, size_t n_rule_ids,
                                    struct fsg_error *err)
{
    struct fsg_aws_params p = { 0 };
    struct fsg_aws_xml_doc *doc = NULL;
    enum fsg_err rc;
    if (group_id == NULL || group_id[0] == '\0' || n_rule_ids == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "RevokeSecurityGroupIngress needs a group id and a rule id");
    }
    rc = fsg_aws_params_add(&p, "GroupId", group_id) == FSG_OK
             ? fsg_ec2__add_list(&p, "SecurityGroupRuleId", rule_ids, n_rule_ids, err)
             : fsg_error_set(err, FSG_E_NOMEM, "out of memory building an EC2 request");
    if (rc == FSG_OK) {
        rc = fsg_aws_query(ec2, "RevokeSecurityGroupIngress", FSG_EC2_API_VERSION, &p, &doc, err);
    }
    if (rc == FSG_OK) {
        rc = fsg_ec2__check_return(doc, "RevokeSecurityGroupIngress", err);
    }
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "security group %s: ", group_id);
    }
    fsg_aws_xml_doc_destroy(doc);
    fsg_aws_params_clean_up(&p);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Modify in place (API_ModifySecurityGroupRules.html, API_SecurityGroupRuleRequest.html). */

static enum fsg_err s_add_update(struct fsg_aws_params *p, size_t n,
                                 const struct fsg_ec2_rule_update *u, struct fsg_error *err)
{
    if (u->rule_id == NULL || u->rule_id[0] == '\0' || u->ip_protocol == NULL ||
        u->ip_protocol[0] == '\0' || (u->cidr_ipv4 == NULL) == (u->cidr_ipv6 == NULL)) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "SecurityGroupRule.%zu needs a rule id, a "
                             "protocol and exactly one of an IPv4 or IPv6 CIDR", n);
    }
    if (u->description != NULL && !fsg_ec2_description_is_valid(u->description)) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "the description for rule %s is not "
                             "accepted by EC2: \"%.80s\"", u->rule_id, u->description);
    }
    char from[16], to[16];
    snprintf(from, sizeof from, "%d", (int)u->from_port);
    snprintf(to, sizeof to, "%d", (int)u->to_port);
    enum fsg_err rc = fsg_aws_params_addf(p, u->rule_id, "SecurityGroupRule.%zu.SecurityGroupRuleId",
                                          n);
    if (rc == FSG_OK) {
        rc = fsg_aws_params_addf(p, u->ip_protocol, "SecurityGroupRule.%zu.SecurityGroupRule."
                                                    "IpProtocol", n);
    }
    if (rc == FSG_OK) {
        rc = fsg_aws_params_addf(p, from, "SecurityGroupRule.%zu.SecurityGroupRule.FromPort", n);
    }
    if (rc == FSG_OK) {
        rc = fsg_aws_params_addf(p, to, "SecurityGroupRule.%zu.SecurityGroupRule.ToPort", n);
    }
    if (rc == FSG_OK) {
        rc = u->cidr_ipv4 != NULL
                 ? fsg_aws_params_addf(p, u->cidr_ipv4,
                                       "SecurityGroupRule.%zu.SecurityGroupRule.CidrIpv4", n)
                 : fsg_aws_params_addf(p, u->cidr_ipv6,
                                       "SecurityGroupRule.%zu.SecurityGroupRule.CidrIpv6", n);
    }
    if (rc == FSG_OK && u->description != NULL) {
        rc = fsg_aws_params_addf(p, u->description,
                                 "SecurityGroupRule.%zu.SecurityGroupRule.Description", n);
    }
    return rc == FSG_OK ? FSG_OK
                        : fsg_error_set(err, FSG_E_NOMEM, "out of memory building an EC2 request");
}

enum fsg_err fsg_ec2_modify_sg_rules(struct fsg_aws_client *ec2, const char *group_id,
                                     const struct fsg_ec2_rule_update *updates, size_t n_updates,
                                     struct fsg_error *err)
{
    struct fsg_aws_params p = { 0 };
    struct fsg_aws_xml_doc *doc = NULL;
    enum fsg_err rc = FSG_OK;
    if (group_id == NULL || group_id[0] == '\0' || n_updates == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "ModifySecurityGroupRules needs a group id and a rule");
    }
    if (fsg_aws_params_add(&p, "GroupId", group_id) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory building an EC2 request");
    }
    for (size_t i = 0; rc == FSG_OK && i < n_updates; i++) {
        rc = s_add_update(&p, i + 1, &updates[i], err);
    }
    if (rc == FSG_OK) {
        rc = fsg_aws_query(ec2, "ModifySecurityGroupRules", FSG_EC2_API_VERSION, &p, &doc, err);
    }
    if (rc == FSG_OK) {
        rc = fsg_ec2__check_return(doc, "ModifySecurityGroupRules", err);
    }
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "security group %s: ", group_id);
    }
    fsg_aws_xml_doc_destroy(doc);
    fsg_aws_params_clean_up(&p);
    return rc;
}
