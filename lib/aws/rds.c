/* RDS DescribeDBInstances / ModifyDBInstance. See lib/aws/rds.h; ref/aws-wire.md §5.4.
 * https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html */
#include "lib/aws/rds.h"

#include <stdint.h>
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

static enum fsg_err s_bool(const struct fsg_aws_xml_node *n, const char *path, bool *ret)
{
    enum fsg_err rc = fsg_aws_xml_path_bool(n, path, ret);
    if (rc == FSG_E_NOT_FOUND) {
        *ret = false;
        return FSG_OK;
    }
    return rc;
}

void fsg_rds_instance_clean_up(struct fsg_rds_instance *db)
{
    if (db == NULL) {
        return;
    }
    char **strs[] = { &db->identifier, &db->arn, &db->status, &db->engine,
                      &db->endpoint_address, &db->availability_zone,
                      &db->secondary_availability_zone, &db->db_cluster_id, &db->vpc_id,
                      &db->subnet_group_name };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        fsg_free(*strs[i]);
    }
    for (size_t i = 0; i < db->n_vpc_sgs; i++) {
        fsg_free(db->vpc_sgs[i].group_id);
        fsg_free(db->vpc_sgs[i].status);
    }
    fsg_free(db->vpc_sgs);
    for (size_t i = 0; i < db->n_subnets; i++) {
        fsg_free(db->subnets[i].subnet_id);
        fsg_free(db->subnets[i].availability_zone);
    }
    fsg_free(db->subnets);
    *db = (struct fsg_rds_instance){ 0 };
}

static enum fsg_err s_parse_sgs(const struct fsg_aws_xml_node *dbn, struct fsg_rds_instance *db)
{
    const struct fsg_aws_xml_node *set = fsg_aws_xml_child(dbn, "VpcSecurityGroups");
    size_t n = fsg_aws_xml_count(set, "VpcSecurityGroupMembership");
    if (n == 0) {
        return FSG_OK;
    }
    db->vpc_sgs = fsg_calloc(n, sizeof *db->vpc_sgs);
    if (db->vpc_sgs == NULL) {
        return FSG_E_NOMEM;
    }
    enum fsg_err rc = FSG_OK;
    FSG_AWS_XML_FOREACH(m, set, "VpcSecurityGroupMembership") {
        struct fsg_rds_sg_membership *s = &db->vpc_sgs[db->n_vpc_sgs++];
        rc = s_dup(m, "VpcSecurityGroupId", &s->group_id);
        if (rc == FSG_OK) {
            rc = s_dup(m, "Status", &s->status);
        }
        if (rc == FSG_OK && s->group_id == NULL) {
            rc = FSG_E_PARSE;
        }
        if (rc != FSG_OK) {
            break;
        }
    }
    return rc;
}

static enum fsg_err s_parse_subnets(const struct fsg_aws_xml_node *dbn,
                                    struct fsg_rds_instance *db)
{
    const struct fsg_aws_xml_node *set = fsg_aws_xml_path(dbn, "DBSubnetGroup/Subnets");
    size_t n = fsg_aws_xml_count(set, "Subnet");
    if (n == 0) {
        return FSG_OK;
    }
    db->subnets = fsg_calloc(n, sizeof *db->subnets);
    if (db->subnets == NULL) {
        return FSG_E_NOMEM;
    }
    enum fsg_err rc = FSG_OK;
    FSG_AWS_XML_FOREACH(s, set, "Subnet") {
        struct fsg_rds_subnet *sub = &db->subnets[db->n_subnets++];
        rc = s_dup(s, "SubnetIdentifier", &sub->subnet_id);
        if (rc == FSG_OK) {
            rc = s_dup(s, "SubnetAvailabilityZone/Name", &sub->availability_zone);
        }
        if (rc != FSG_OK) {
            break;
        }
    }
    return rc;
}

static enum fsg_err s_parse_endpoint(const struct fsg_aws_xml_node *dbn,
                                     struct fsg_rds_instance *db)
{
    enum fsg_err rc = s_dup(dbn, "Endpoint/Address", &db->endpoint_address);
    uint64_t port = 0;
    if (rc == FSG_OK) {
        rc = fsg_aws_xml_path_u64(dbn, "Endpoint/Port", &port);
        if (rc == FSG_E_NOT_FOUND) {
            port = 0;
            rc = FSG_OK;
        } else if (rc == FSG_OK && (port == 0 || port > 65535)) {
            rc = FSG_E_PARSE;
        }
    }
    db->endpoint_port = (long)port;
    return rc;
}

/* One <DBInstance> into db (db zeroed; on failure the caller cleans it up). */
static enum fsg_err s_parse_instance(const struct fsg_aws_xml_node *dbn,
                                     struct fsg_rds_instance *db)
{
    static const struct {
        const char *path;
        size_t off;
    } strs[] = {
        { "DBInstanceIdentifier", offsetof(struct fsg_rds_instance, identifier) },
        { "DBInstanceArn", offsetof(struct fsg_rds_instance, arn) },
        { "DBInstanceStatus", offsetof(struct fsg_rds_instance, status) },
        { "Engine", offsetof(struct fsg_rds_instance, engine) },
        { "AvailabilityZone", offsetof(struct fsg_rds_instance, availability_zone) },
        { "SecondaryAvailabilityZone",
          offsetof(struct fsg_rds_instance, secondary_availability_zone) },
        { "DBClusterIdentifier", offsetof(struct fsg_rds_instance, db_cluster_id) },
        { "DBSubnetGroup/VpcId", offsetof(struct fsg_rds_instance, vpc_id) },
        { "DBSubnetGroup/DBSubnetGroupName", offsetof(struct fsg_rds_instance, subnet_group_name) },
    };
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0] && rc == FSG_OK; i++) {
        rc = s_dup(dbn, strs[i].path, (char **)((char *)db + strs[i].off));
    }
    if (rc == FSG_OK) {
        rc = s_bool(dbn, "MultiAZ", &db->multi_az);
    }
    if (rc == FSG_OK) {
        rc = s_bool(dbn, "PubliclyAccessible", &db->publicly_accessible);
    }
    if (rc == FSG_OK) {
        rc = s_parse_endpoint(dbn, db);
    }
    if (rc == FSG_OK) {
        rc = s_parse_sgs(dbn, db);
    }
    if (rc == FSG_OK) {
        rc = s_parse_subnets(dbn, db);
    }
    if (rc == FSG_OK && db->identifier == NULL) {
        rc = FSG_E_PARSE;
    }
    return rc;
}

/* Parses the single <DBInstance> under `parent` into *ret_db. */
static enum fsg_err s_take_instance(const struct fsg_aws_xml_node *parent, const char *action,
                                    const char *identifier, struct fsg_rds_instance *ret_db,
                                    struct fsg_error *err)
{
    size_t n = fsg_aws_xml_count(parent, "DBInstance");
    if (n != 1) {
        return fsg_error_set(err, FSG_E_PARSE, "rds %s %s: the answer holds %zu DB instances, "
                             "expected 1", action, identifier, n);
    }
    struct fsg_rds_instance db = { 0 };
    enum fsg_err rc = s_parse_instance(fsg_aws_xml_child(parent, "DBInstance"), &db);
    if (rc != FSG_OK) {
        fsg_rds_instance_clean_up(&db);
        return fsg_error_set(err, rc, "rds %s %s: %s in the answer", action, identifier,
                             rc == FSG_E_NOMEM ? "out of memory" : "a malformed DBInstance");
    }
    *ret_db = db;
    return FSG_OK;
}

enum fsg_err fsg_rds_describe_db_instance(struct fsg_aws_client *rds, const char *identifier,
                                          struct fsg_rds_instance *ret_db, struct fsg_error *err)
{
    struct fsg_aws_params p = { 0 };
    struct fsg_aws_xml_doc *doc = NULL;
    if (identifier == NULL || identifier[0] == '\0') {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "DescribeDBInstances needs an identifier");
    }
    enum fsg_err rc = fsg_aws_params_add(&p, "DBInstanceIdentifier", identifier);
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory building an RDS request");
        goto out;
    }
    rc = fsg_aws_query(rds, "DescribeDBInstances", FSG_RDS_API_VERSION, &p, &doc, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "DB instance %s: ", identifier);
        goto out;
    }
    rc = s_take_instance(fsg_aws_xml_child(fsg_aws_xml_result(doc), "DBInstances"),
                         "DescribeDBInstances", identifier, ret_db, err);
out:
    fsg_aws_xml_doc_destroy(doc);
    fsg_aws_params_clean_up(&p);
    return rc;
}

enum fsg_err fsg_rds_modify_vpc_security_groups(struct fsg_aws_client *rds,
                                                const char *identifier,
                                                const char *const *group_ids, size_t n_group_ids,
                                                struct fsg_rds_instance *ret_db,
                                                struct fsg_error *err)
{
    struct fsg_aws_params p = { 0 };
    struct fsg_aws_xml_doc *doc = NULL;
    if (identifier == NULL || identifier[0] == '\0') {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "ModifyDBInstance needs an identifier");
    }
    if (n_group_ids == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "DB instance %s: refusing to set an empty security-group list",
                             identifier);
    }
    enum fsg_err rc = fsg_aws_params_add(&p, "DBInstanceIdentifier", identifier);
    for (size_t i = 0; i < n_group_ids && rc == FSG_OK; i++) {
        if (group_ids[i] == NULL || group_ids[i][0] == '\0') {
            rc = fsg_error_set(err, FSG_E_INVALID_ARG,
                               "DB instance %s: security group %zu is empty", identifier, i + 1);
            goto out;
        }
        rc = fsg_aws_params_addf(&p, group_ids[i], "VpcSecurityGroupIds.VpcSecurityGroupId.%zu",
                                 i + 1);
    }
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory building an RDS request");
        goto out;
    }
    rc = fsg_aws_query(rds, "ModifyDBInstance", FSG_RDS_API_VERSION, &p, &doc, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "DB instance %s: ", identifier);
        goto out;
    }
    if (ret_db != NULL) {
        rc = s_take_instance(fsg_aws_xml_result(doc), "ModifyDBInstance", identifier, ret_db, err);
    }
out:
    fsg_aws_xml_doc_destroy(doc);
    fsg_aws_params_clean_up(&p);
    return rc;
}
