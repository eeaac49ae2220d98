/* EC2 DescribeNetworkInterfaces. See lib/aws/ec2.h; ref/aws-wire.md §5.3. */
#include <string.h>

#include "lib/aws/ec2.h"
#include "lib/aws/ec2_internal.h"
#include "lib/core/mem.h"

static void s_eni_free(struct fsg_ec2_eni *e)
{
    fsg_free(e->eni_id);
    fsg_free(e->subnet_id);
    fsg_free(e->vpc_id);
    fsg_free(e->availability_zone);
    fsg_free(e->description);
    fsg_free(e->requester_id);
    fsg_free(e->status);
    fsg_free(e->interface_type);
    fsg_free(e->attachment_owner_id);
    fsg_free(e->private_ip);
    fsg_ec2__strings_free(e->private_ips, e->n_private_ips);
    fsg_ec2__strings_free(e->ipv6_addrs, e->n_ipv6_addrs);
    fsg_ec2__strings_free(e->group_ids, e->n_group_ids);
}

void fsg_ec2_eni_list_clean_up(struct fsg_ec2_eni_list *l)
{
    if (l == NULL) {
        return;
    }
    for (size_t i = 0; i < l->len; i++) {
        s_eni_free(&l->items[i]);
    }
    fsg_free(l->items);
    *l = (struct fsg_ec2_eni_list){ 0 };
}

/* privateIpAddressesSet, the primary first whatever the answer's order. */
static enum fsg_err s_private_ips(const struct fsg_aws_xml_node *item, struct fsg_ec2_eni *e)
{
    enum fsg_err rc = fsg_ec2__strings(fsg_aws_xml_child(item, "privateIpAddressesSet"),
                                       "privateIpAddress", &e->private_ips, &e->n_private_ips);
    if (rc != FSG_OK || e->private_ip == NULL) {
        return rc;
    }
    for (size_t i = 0; i < e->n_private_ips; i++) {
        if (strcmp(e->private_ips[i], e->private_ip) == 0) {
            char *p = e->private_ips[i];
            memmove(&e->private_ips[1], &e->private_ips[0], i * sizeof *e->private_ips);
            e->private_ips[0] = p;
            return FSG_OK;
        }
    }
    /* The set did not list the primary (it always should): add it in front. */
    size_t cap = e->n_private_ips;
    char *copy = fsg_strdup(e->private_ip);
    rc = copy != NULL ? fsg_ec2__grow((void **)&e->private_ips, &cap, e->n_private_ips,
                                      sizeof *e->private_ips)
                      : FSG_E_NOMEM;
    if (rc != FSG_OK) {
        fsg_free(copy);
        return rc;
    }
    memmove(&e->private_ips[1], &e->private_ips[0], e->n_private_ips * sizeof *e->private_ips);
    e->private_ips[0] = copy;
    e->n_private_ips++;
    return FSG_OK;
}

static enum fsg_err s_eni_parse(const struct fsg_aws_xml_node *item, struct fsg_ec2_eni *e)
{
    static const struct {
        const char *path;
        size_t off;
    } strs[] = {
        { "networkInterfaceId", offsetof(struct fsg_ec2_eni, eni_id) },
        { "subnetId", offsetof(struct fsg_ec2_eni, subnet_id) },
        { "vpcId", offsetof(struct fsg_ec2_eni, vpc_id) },
        { "availabilityZone", offsetof(struct fsg_ec2_eni, availability_zone) },
        { "description", offsetof(struct fsg_ec2_eni, description) },
        { "requesterId", offsetof(struct fsg_ec2_eni, requester_id) },
        { "status", offsetof(struct fsg_ec2_eni, status) },
        { "interfaceType", offsetof(struct fsg_ec2_eni, interface_type) },
        { "attachment/instanceOwnerId", offsetof(struct fsg_ec2_eni, attachment_owner_id) },
        { "privateIpAddress", offsetof(struct fsg_ec2_eni, private_ip) },
    };
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0] && rc == FSG_OK; i++) {
        rc = fsg_ec2__dup(item, strs[i].path, (char **)((char *)e + strs[i].off));
    }
    if (rc == FSG_OK) {
        rc = fsg_ec2__bool(item, "requesterManaged", &e->requester_managed);
    }
    if (rc == FSG_OK) {
        rc = s_private_ips(item, e);
    }
    if (rc == FSG_OK) {
        rc = fsg_ec2__strings(fsg_aws_xml_child(item, "ipv6AddressesSet"), "ipv6Address",
                              &e->ipv6_addrs, &e->n_ipv6_addrs);
    }
    if (rc == FSG_OK) {
        rc = fsg_ec2__strings(fsg_aws_xml_child(item, "groupSet"), "groupId", &e->group_ids,
                              &e->n_group_ids);
    }
    return rc == FSG_OK && e->eni_id == NULL ? FSG_E_PARSE : rc;
}

struct s_eni_acc {
    struct fsg_ec2_eni_list list;
    size_t cap;
};

static enum fsg_err s_on_eni(const struct fsg_aws_xml_node *item, void *userdata)
{
    struct s_eni_acc *acc = userdata;
    enum fsg_err rc = fsg_ec2__grow((void **)&acc->list.items, &acc->cap, acc->list.len,
                                    sizeof *acc->list.items);
    if (rc != FSG_OK) {
        return rc;
    }
    return s_eni_parse(item, &acc->list.items[acc->list.len++]);
}

enum fsg_err fsg_ec2_describe_network_interfaces(struct fsg_aws_client *ec2,
                                                 const char *const *eni_ids, size_t n_eni_ids,
                                                 const struct fsg_ec2_filter *filters,
                                                 size_t n_filters,
                                                 struct fsg_ec2_eni_list *ret_enis,
                                                 struct fsg_error *err)
{
    struct fsg_aws_params base = { 0 };
    struct s_eni_acc acc = { 0 };
    if (n_eni_ids == 0 && n_filters == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "DescribeNetworkInterfaces without ids or filters would list every "
                             "interface of the account; pass a filter (group-id, vpc-id, ...)");
    }
    enum fsg_err rc = fsg_ec2__add_list(&base, "NetworkInterfaceId", eni_ids, n_eni_ids, err);
    if (rc == FSG_OK) {
        rc = fsg_ec2__add_filters(&base, filters, n_filters, err);
    }
    if (rc == FSG_OK) {
        /* MaxResults may not be combined with NetworkInterfaceId.N. */
        rc = fsg_ec2__describe_all(ec2, "DescribeNetworkInterfaces", &base, n_eni_ids == 0,
                                   "networkInterfaceSet", s_on_eni, &acc, err);
        if (rc != FSG_OK && n_eni_ids > 0) {
            fsg_error_prefix(err, "network interface %s%s: ", eni_ids[0],
                             n_eni_ids > 1 ? " (and others)" : "");
        }
    }
    if (rc == FSG_OK) {
        *ret_enis = acc.list;
        acc.list = (struct fsg_ec2_eni_list){ 0 };
    }
    fsg_ec2_eni_list_clean_up(&acc.list);
    fsg_aws_params_clean_up(&base);
    return rc;
}
