/* lib/rds: DescribeDBInstances parsing and the ModifyDBInstance form body
 * (VpcSecurityGroupIds.VpcSecurityGroupId.N, no ApplyImmediately). */
#include <stdio.h>
#include <string.h>

#include "lib/core/mem.h"
#include "lib/aws/rds.h"
#include "tests/harness/test.h"
#include "tests/unit/aws_fixture.h"

#define S_NS "xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\""

static const char s_instance[] =
    "<DBInstance>"
    "<DBInstanceIdentifier>orders-db</DBInstanceIdentifier>"
    "<DBInstanceArn>arn:aws:rds:us-east-1:123456789012:db:orders-db</DBInstanceArn>"
    "<DBInstanceStatus>available</DBInstanceStatus><Engine>postgres</Engine>"
    "<Endpoint><Address>orders-db.cu7u2t4uz396.us-east-1.rds.amazonaws.com</Address>"
    "<Port>5432</Port><HostedZoneId>Z2R2ITUGPM61AM</HostedZoneId></Endpoint>"
    "<AvailabilityZone>us-east-1a</AvailabilityZone>"
    "<SecondaryAvailabilityZone>us-east-1b</SecondaryAvailabilityZone><MultiAZ>true</MultiAZ>"
    "<VpcSecurityGroups>"
    "<VpcSecurityGroupMembership><VpcSecurityGroupId>sg-0123456789abcdef0</VpcSecurityGroupId>"
    "<Status>active</Status></VpcSecurityGroupMembership>"
    "<VpcSecurityGroupMembership><VpcSecurityGroupId>sg-0fedcba9876543210</VpcSecurityGroupId>"
    "<Status>adding</Status></VpcSecurityGroupMembership>"
    "</VpcSecurityGroups>"
    "<DBSubnetGroup><DBSubnetGroupName>db-private</DBSubnetGroupName><VpcId>vpc-0abc1234def567890"
    "</VpcId><SubnetGroupStatus>Complete</SubnetGroupStatus><Subnets>"
    "<Subnet><SubnetIdentifier>subnet-0aaa</SubnetIdentifier><SubnetAvailabilityZone><Name>"
    "us-east-1a</Name></SubnetAvailabilityZone><SubnetStatus>Active</SubnetStatus></Subnet>"
    "<Subnet><SubnetIdentifier>subnet-0bbb</SubnetIdentifier><SubnetAvailabilityZone><Name>"
    "us-east-1b</Name></SubnetAvailabilityZone><SubnetStatus>Active</SubnetStatus></Subnet>"
    "</Subnets></DBSubnetGroup>"
    "<PubliclyAccessible>false</PubliclyAccessible><PendingModifiedValues/>"
    "</DBInstance>";

static const char *s_describe_answer(const char *instances)
{
    static char buf[8192];
    snprintf(buf, sizeof buf,
             "<?xml version=\"1.0\"?>\n<DescribeDBInstancesResponse " S_NS ">"
             "<DescribeDBInstancesResult><DBInstances>%s</DBInstances></DescribeDBInstancesResult>"
             "<ResponseMetadata><RequestId>9135fff3-8509</RequestId></ResponseMetadata>"
             "</DescribeDBInstancesResponse>",
             instances);
    return buf;
}

static int s_describe(void)
{
    const struct t_http_exchange ex[] = { { .method = "POST",
                                            .url = "https://rds.us-east-1.amazonaws.com/",
                                            .status = 200,
                                            .body = s_describe_answer(s_instance) } };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "rds", ex, 1) == 0);
    struct fsg_rds_instance db = { 0 };
    T_OK(fsg_rds_describe_db_instance(f.aws, "orders-db", &db, NULL));
    T_STR_EQ(t_aws_fixture_body(&f, 0),
             "Action=DescribeDBInstances&Version=2014-10-31&DBInstanceIdentifier=orders-db");
    T_STR_EQ(db.identifier, "orders-db");
    T_STR_EQ(db.arn, "arn:aws:rds:us-east-1:123456789012:db:orders-db");
    T_STR_EQ(db.status, "available");
    T_STR_EQ(db.engine, "postgres");
    T_STR_EQ(db.endpoint_address, "orders-db.cu7u2t4uz396.us-east-1.rds.amazonaws.com");
    T_CHECK(db.endpoint_port == 5432);
    T_STR_EQ(db.availability_zone, "us-east-1a");
    T_STR_EQ(db.secondary_availability_zone, "us-east-1b");
    T_CHECK(db.multi_az && !db.publicly_accessible);
    T_CHECK(db.db_cluster_id == NULL);
    T_STR_EQ(db.vpc_id, "vpc-0abc1234def567890");
    T_STR_EQ(db.subnet_group_name, "db-private");
    T_CHECK(db.n_vpc_sgs == 2);
    T_STR_EQ(db.vpc_sgs[0].group_id, "sg-0123456789abcdef0");
    T_STR_EQ(db.vpc_sgs[0].status, "active");
    T_STR_EQ(db.vpc_sgs[1].status, "adding");
    T_CHECK(db.n_subnets == 2);
    T_STR_EQ(db.subnets[1].subnet_id, "subnet-0bbb");
    T_STR_EQ(db.subnets[1].availability_zone, "us-east-1b");
    fsg_rds_instance_clean_up(&db);
    fsg_rds_instance_clean_up(&db);
    t_aws_fixture_clean_up(&f);
    return 0;
}

/* An instance being created: no endpoint, no AZ, empty lists. */
static int s_describe_creating(void)
{
    const char *inst = "<DBInstance><DBInstanceIdentifier>new-db</DBInstanceIdentifier>"
                       "<DBInstanceStatus>creating</DBInstanceStatus><VpcSecurityGroups/>"
                       "<DBSubnetGroup><VpcId>vpc-1</VpcId><Subnets/></DBSubnetGroup>"
                       "<MultiAZ>false</MultiAZ></DBInstance>";
    const struct t_http_exchange ex[] = { { .status = 200, .body = s_describe_answer(inst) } };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "rds", ex, 1) == 0);
    struct fsg_rds_instance db = { 0 };
    T_OK(fsg_rds_describe_db_instance(f.aws, "new-db", &db, NULL));
    T_CHECK(db.endpoint_address == NULL && db.endpoint_port == 0);
    T_CHECK(db.availability_zone == NULL && !db.multi_az);
    T_CHECK(db.n_vpc_sgs == 0 && db.vpc_sgs == NULL && db.n_subnets == 0);
    T_STR_EQ(db.vpc_id, "vpc-1");
    fsg_rds_instance_clean_up(&db);
    t_aws_fixture_clean_up(&f);
    return 0;
}

static int s_describe_errors(void)
{
    static const char not_found[] =
        "<ErrorResponse " S_NS "><Error><Type>Sender</Type><Code>DBInstanceNotFound</Code>"
        "<Message>DBInstance foobar not found.</Message></Error>"
        "<RequestId>b41f03f1-b7f8</RequestId></ErrorResponse>";
    char two[4096];
    snprintf(two, sizeof two, "%s%s", s_instance, s_instance);
    char twice[8192];
    snprintf(twice, sizeof twice, "%s", s_describe_answer(two));
    const struct t_http_exchange ex[] = {
        { .status = 404, .body = not_found },
        { .status = 200, .body = twice },
        { .status = 200, .body = s_describe_answer("") },
        { .status = 200, .body = s_describe_answer("<DBInstance><Endpoint><Port>99999</Port>"
                                                   "</Endpoint><DBInstanceIdentifier>x"
                                                   "</DBInstanceIdentifier></DBInstance>") },
    };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "rds", ex, 4) == 0);
    struct fsg_rds_instance db = { .endpoint_port = 7 };
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_NOT_FOUND, fsg_rds_describe_db_instance(f.aws, "foobar", &db, &err));
    T_STR_EQ(err.service_code, "DBInstanceNotFound");
    T_STR_EQ(err.request_id, "b41f03f1-b7f8");
    T_CHECK(strstr(err.msg, "DB instance foobar") != NULL);
    T_ERR(FSG_E_PARSE, fsg_rds_describe_db_instance(f.aws, "orders-db", &db, &err));
    T_CHECK(strstr(err.msg, "2 DB instances") != NULL);
    T_ERR(FSG_E_PARSE, fsg_rds_describe_db_instance(f.aws, "orders-db", &db, &err));
    T_ERR(FSG_E_PARSE, fsg_rds_describe_db_instance(f.aws, "x", &db, &err));
    T_CHECK(db.endpoint_port == 7 && db.identifier == NULL); /* untouched */
    T_ERR(FSG_E_INVALID_ARG, fsg_rds_describe_db_instance(f.aws, "", &db, NULL));
    T_CHECK(t_aws_fixture_all_used(&f));
    t_aws_fixture_clean_up(&f);
    return 0;
}

static int s_modify(void)
{
    char answer[4096];
    snprintf(answer, sizeof answer,
             "<ModifyDBInstanceResponse " S_NS "><ModifyDBInstanceResult>%s"
             "</ModifyDBInstanceResult>"
             "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ModifyDBInstanceRespo"
             "nse>",
             s_instance);
    const struct t_http_exchange ex[] = { { .status = 200, .body = answer },
                                          { .status = 200, .body = answer } };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "rds", ex, 2) == 0);
    const char *sgs[] = { "sg-0123456789abcdef0", "sg-0fedcba9876543210" };
    struct fsg_rds_instance db = { 0 };
    T_OK(fsg_rds_modify_vpc_security_groups(f.aws, "orders-db", sgs, 2, &db, NULL));
    T_STR_EQ(t_aws_fixture_body(&f, 0),
             "Action=ModifyDBInstance&Version=2014-10-31&DBInstanceIdentifier=orders-db"
             "&VpcSecurityGroupIds.VpcSecurityGroupId.1=sg-0123456789abcdef0"
             "&VpcSecurityGroupIds.VpcSecurityGroupId.2=sg-0fedcba9876543210");
    T_CHECK(strstr(t_aws_fixture_body(&f, 0), "ApplyImmediately") == NULL);
    T_CHECK(strstr(t_aws_fixture_body(&f, 0), ".member.") == NULL);
    T_CHECK(db.n_vpc_sgs == 2);
    T_STR_EQ(db.vpc_sgs[1].status, "adding");
    fsg_rds_instance_clean_up(&db);
    T_OK(fsg_rds_modify_vpc_security_groups(f.aws, "orders-db", sgs, 1, NULL, NULL));
    T_STR_EQ(t_aws_fixture_body(&f, 1),
             "Action=ModifyDBInstance&Version=2014-10-31&DBInstanceIdentifier=orders-db"
             "&VpcSecurityGroupIds.VpcSecurityGroupId.1=sg-0123456789abcdef0");
    /* Never an empty set, never an empty id: refused before sending. */
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_INVALID_ARG, fsg_rds_modify_vpc_security_groups(f.aws, "orders-db", sgs, 0, NULL,
                                                                &err));
    T_CHECK(strstr(err.msg, "empty") != NULL);
    const char *bad[] = { "sg-1", "" };
    T_ERR(FSG_E_INVALID_ARG, fsg_rds_modify_vpc_security_groups(f.aws, "orders-db", bad, 2, NULL,
                                                                NULL));
    T_CHECK(f.script.n_rec == 2);
    T_CHECK(t_aws_fixture_all_used(&f));
    t_aws_fixture_clean_up(&f);
    return 0;
}

static int s_modify_errors(void)
{
    static const char busy[] =
        "<ErrorResponse " S_NS "><Error><Type>Sender</Type><Code>InvalidDBInstanceState</Code>"
        "<Message>Database instance is not in available state.</Message></Error>"
        "<RequestId>r</RequestId></ErrorResponse>";
    static const char wrong_vpc[] =
        "<ErrorResponse " S_NS "><Error><Type>Sender</Type><Code>InvalidVPCNetworkStateFault"
        "</Code><Message>The DB instance and EC2 security group are in different VPCs.</Message>"
        "</Error><RequestId>r</RequestId></ErrorResponse>";
    const struct t_http_exchange ex[] = { { .status = 400, .body = busy },
                                          { .status = 400, .body = wrong_vpc } };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "rds", ex, 2) == 0);
    const char *sgs[] = { "sg-1" };
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_REMOTE, fsg_rds_modify_vpc_security_groups(f.aws, "orders-db", sgs, 1, NULL, &err));
    T_STR_EQ(err.service_code, "InvalidDBInstanceState");
    T_CHECK(strstr(err.msg, "DB instance orders-db") != NULL);
    T_ERR(FSG_E_REMOTE, fsg_rds_modify_vpc_security_groups(f.aws, "orders-db", sgs, 1, NULL, &err));
    T_STR_EQ(err.service_code, "InvalidVPCNetworkStateFault");
    T_CHECK(f.sleeps == 0);
    t_aws_fixture_clean_up(&f);
    return 0;
}

static int s_describe_alloc_failures(void)
{
    for (long n = 1; n < 300; n++) {
        const struct t_http_exchange ex[] = { { .status = 200,
                                                .body = s_describe_answer(s_instance) } };
        struct t_aws_fixture f;
        T_CHECK(t_aws_fixture_init(&f, "rds", ex, 1) == 0);
        struct fsg_rds_instance db = { 0 };
        fsg_mem_fail_after(n);
        enum fsg_err rc = fsg_rds_describe_db_instance(f.aws, "orders-db", &db, NULL);
        fsg_mem_fail_after(0);
        T_CHECK(rc == FSG_OK || db.identifier == NULL);
        fsg_rds_instance_clean_up(&db);
        t_aws_fixture_clean_up(&f);
        if (rc == FSG_OK) {
            break;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "describe", s_describe },
        { "describe_creating", s_describe_creating },
        { "describe_errors", s_describe_errors },
        { "describe_alloc_failures", s_describe_alloc_failures },
        { "modify", s_modify },
        { "modify_errors", s_modify_errors },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
