/* policy/resolve: a config target resolved against scripted EC2/RDS answers (instance, its
 * interfaces, the managed group by name and tag), the association computed for add / replace /
 * none, and the writes (CreateSecurityGroup with the ownership tag, ModifyDBInstance with the
 * whole set, only when it changes). */
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/resolve.h"
#include "tests/harness/test.h"
#include "tests/unit/aws_fixture.h"

#define S_EC2 "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\""
#define S_RDS "xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\""

/* A DescribeDBInstances answer; extra goes inside <DBInstance>. */
static const char *s_db(const char *extra)
{
    static char buf[2][4096];
    static int next;
    char *b = buf[next++ % 2];
    snprintf(b, sizeof buf[0],
             "<DescribeDBInstancesResponse " S_RDS "><DescribeDBInstancesResult><DBInstances>"
             "<DBInstance><DBInstanceIdentifier>orders</DBInstanceIdentifier>"
             "<DBInstanceStatus>available</DBInstanceStatus><Engine>postgres</Engine>"
             "<Endpoint><Address>orders.x.us-east-1.rds.amazonaws.com</Address><Port>5432</Port>"
             "</Endpoint><AvailabilityZone>us-east-1a</AvailabilityZone>"
             "<VpcSecurityGroups>"
             "<VpcSecurityGroupMembership><VpcSecurityGroupId>sg-base</VpcSecurityGroupId>"
             "<Status>active</Status></VpcSecurityGroupMembership>"
             "<VpcSecurityGroupMembership><VpcSecurityGroupId>sg-leaving</VpcSecurityGroupId>"
             "<Status>removing</Status></VpcSecurityGroupMembership>"
             "</VpcSecurityGroups><DBSubnetGroup><DBSubnetGroupName>db</DBSubnetGroupName>"
             "<VpcId>vpc-1</VpcId></DBSubnetGroup>%s</DBInstance></DBInstances>"
             "</DescribeDBInstancesResult><ResponseMetadata><RequestId>r</RequestId>"
             "</ResponseMetadata></DescribeDBInstancesResponse>",
             extra);
    return b;
}

#define S_ENI(id, az, ip, requester)                                                               \
    "<item><networkInterfaceId>" id "</networkInterfaceId><availabilityZone>" az                  \
    "</availabilityZone><description>RDSNetworkInterface</description><requesterId>" requester   \
    "</requesterId><privateIpAddress>" ip "</privateIpAddress><groupSet><item><groupId>sg-base"  \
    "</groupId></item></groupSet><privateIpAddressesSet><item><privateIpAddress>" ip             \
    "</privateIpAddress></item></privateIpAddressesSet><ipv6AddressesSet/><tagSet/></item>"

static const char s_enis[] =
    "<DescribeNetworkInterfacesResponse " S_EC2 "><requestId>r</requestId><networkInterfaceSet>"
    S_ENI("eni-other-az", "us-east-1b", "10.0.21.5", "amazon-rds")
    S_ENI("eni-db", "us-east-1a", "10.0.20.11", "amazon-rds")
    S_ENI("eni-lambda", "us-east-1a", "10.0.20.99", "123456789012")
    "</networkInterfaceSet></DescribeNetworkInterfacesResponse>";

static const char *s_groups(const char *tag_value)
{
    static char bufs[2][1024];
    static int next;
    char *buf = bufs[next++ % 2];
    snprintf(buf, sizeof bufs[0],
             "<DescribeSecurityGroupsResponse " S_EC2 "><requestId>r</requestId><securityGroupInfo>"
             "<item><groupId>sg-found</groupId><groupName>flowseg-orders</groupName>"
             "<vpcId>vpc-1</vpcId><tagSet><item><key>flowseg:managed</key><value>%s</value>"
             "</item></tagSet></item></securityGroupInfo></DescribeSecurityGroupsResponse>",
             tag_value);
    return buf;
}

static const char s_no_groups[] =
    "<DescribeSecurityGroupsResponse " S_EC2 "><requestId>r</requestId><securityGroupInfo/>"
    "</DescribeSecurityGroupsResponse>";

static struct fsg_resolve_request s_req(void)
{
    return (struct fsg_resolve_request){ .name = "orders-db", .rds_instance = "orders",
                                         .security_group = "sg-managed" };
}

static int s_instance_without_enis(void)
{
    const struct t_http_exchange ex[] = { { .status = 200, .body = s_db("") } };
    struct t_aws_fixture rds, ec2;
    T_CHECK(t_aws_fixture_init(&rds, "rds", ex, 1) == 0);
    T_CHECK(t_aws_fixture_init(&ec2, "ec2", NULL, 0) == 0);
    struct fsg_resolve_request req = s_req();
    struct fsg_resolved_target t = { 0 };
    T_OK(fsg_resolve_target(ec2.aws, rds.aws, &req, &t, NULL));
    T_STR_EQ(t_aws_fixture_body(&rds, 0),
             "Action=DescribeDBInstances&Version=2014-10-31&DBInstanceIdentifier=orders");
    T_CHECK(ec2.script.n_rec == 0); /* no flows to match: no interface lookup */
    T_STR_EQ(t.group_id, "sg-managed");
    T_STR_EQ(t.group_label, "sg-managed");
    T_CHECK(!t.group_is_flowseg && t.port == 5432 && t.n_enis == 0 && t.n_notes == 0);
    T_STR_EQ(t.vpc_id, "vpc-1");
    T_CHECK(t.n_db_groups == 1); /* "removing" is not counted */
    T_STR_EQ(t.db_groups[0], "sg-base");
    fsg_resolved_target_clean_up(&t);
    t_aws_fixture_clean_up(&ec2);
    t_aws_fixture_clean_up(&rds);
    return 0;
}

/* The interface: RDS's own, in the instance's AZ; the config's eni_addrs are added. */
static int s_interfaces(void)
{
    const struct t_http_exchange rx[] = { { .status = 200, .body = s_db("") } };
    const struct t_http_exchange ex[] = { { .status = 200, .body = s_enis } };
    struct t_aws_fixture rds, ec2;
    T_CHECK(t_aws_fixture_init(&rds, "rds", rx, 1) == 0);
    T_CHECK(t_aws_fixture_init(&ec2, "ec2", ex, 1) == 0);
    struct fsg_resolve_request req = s_req();
    const char *addrs[] = { "10.0.20.12" };
    req.find_enis = true;
    req.eni_addrs = addrs;
    req.n_eni_addrs = 1;
    struct fsg_resolved_target t = { 0 };
    T_OK(fsg_resolve_target(ec2.aws, rds.aws, &req, &t, NULL));
    T_STR_EQ(t_aws_fixture_body(&ec2, 0),
             "Action=DescribeNetworkInterfaces&Version=2016-11-15&Filter.1.Name=group-id"
             "&Filter.1.Value.1=sg-base&Filter.2.Name=description"
             "&Filter.2.Value.1=RDSNetworkInterface&MaxResults=1000");
    T_CHECK(t.n_enis == 1 && t.n_addrs == 2);
    T_STR_EQ(t.enis[0], "eni-db");
    char ip[FSG_IP_STR_MAX];
    T_STR_EQ(fsg_ip_format(&t.addrs[0], ip), "10.0.20.11");
    T_STR_EQ(fsg_ip_format(&t.addrs[1], ip), "10.0.20.12");
    fsg_resolved_target_clean_up(&t);
    t_aws_fixture_clean_up(&ec2);
    t_aws_fixture_clean_up(&rds);

    /* The config's enis replace the lookup; an empty answer is a note, not an error. */
    T_CHECK(t_aws_fixture_init(&rds, "rds", rx, 1) == 0);
    T_CHECK(t_aws_fixture_init(&ec2, "ec2", NULL, 0) == 0);
    const char *enis[] = { "eni-configured" };
    req.enis = enis;
    req.n_enis = 1;
    T_OK(fsg_resolve_target(ec2.aws, rds.aws, &req, &t, NULL));
    T_CHECK(ec2.script.n_rec == 0 && t.n_enis == 1 && t.n_addrs == 1);
    T_STR_EQ(t.enis[0], "eni-configured");
    fsg_resolved_target_clean_up(&t);
    t_aws_fixture_clean_up(&ec2);
    t_aws_fixture_clean_up(&rds);
    const struct t_http_exchange none[] = { { .status = 200, .body =
        "<DescribeNetworkInterfacesResponse " S_EC2 "><requestId>r</requestId>"
        "<networkInterfaceSet/></DescribeNetworkInterfacesResponse>" } };
    T_CHECK(t_aws_fixture_init(&rds, "rds", rx, 1) == 0);
    T_CHECK(t_aws_fixture_init(&ec2, "ec2", none, 1) == 0);
    req.n_enis = 0;
    req.n_eni_addrs = 0;
    T_OK(fsg_resolve_target(ec2.aws, rds.aws, &req, &t, NULL));
    T_CHECK(t.n_enis == 0 && t.n_notes == 1 && strstr(t.notes[0], "orders") != NULL);
    fsg_resolved_target_clean_up(&t);
    t_aws_fixture_clean_up(&ec2);
    t_aws_fixture_clean_up(&rds);
    return 0;
}

/* {"create": NAME}: found with the tag -> used (every rule flowseg's); found without -> refused;
 * absent -> still to create, in the instance's VPC. */
static int s_group_by_name(void)
{
    const char *answers[] = { s_groups("orders-db"), s_groups("someone-else"), s_no_groups };
    const enum fsg_err want[] = { FSG_OK, FSG_E_REFUSED, FSG_OK };
    for (size_t i = 0; i < 3; i++) {
        const struct t_http_exchange rx[] = { { .status = 200, .body = s_db("") } };
        const struct t_http_exchange ex[] = { { .status = 200, .body = answers[i] } };
        struct t_aws_fixture rds, ec2;
        T_CHECK(t_aws_fixture_init(&rds, "rds", rx, 1) == 0);
        T_CHECK(t_aws_fixture_init(&ec2, "ec2", ex, 1) == 0);
        struct fsg_resolve_request req = s_req();
        req.security_group = NULL;
        req.create_name = "flowseg-orders";
        struct fsg_resolved_target t = { 0 };
        struct fsg_error err = { 0 };
        T_ERR(want[i], fsg_resolve_target(ec2.aws, rds.aws, &req, &t, &err));
        T_STR_EQ(t_aws_fixture_body(&ec2, 0),
                 "Action=DescribeSecurityGroups&Version=2016-11-15&Filter.1.Name=group-name"
                 "&Filter.1.Value.1=flowseg-orders&Filter.2.Name=vpc-id&Filter.2.Value.1=vpc-1"
                 "&MaxResults=1000");
        if (i == 0) {
            T_STR_EQ(t.group_id, "sg-found");
            T_CHECK(t.group_is_flowseg);
        } else if (i == 1) {
            T_CHECK(strstr(err.msg, "not flowseg's") != NULL && t.group_id == NULL);
        } else {
            T_CHECK(t.group_id == NULL && t.group_is_flowseg);
            T_STR_EQ(t.group_label, "flowseg-orders");
            T_STR_EQ(t.group_vpc_id, "vpc-1");
        }
        fsg_resolved_target_clean_up(&t);
        t_aws_fixture_clean_up(&ec2);
        t_aws_fixture_clean_up(&rds);
    }
    return 0;
}

static int s_ensure_group(void)
{
    const struct t_http_exchange ex[] = { { .status = 200, .body =
        "<CreateSecurityGroupResponse " S_EC2 "><requestId>r</requestId><return>true</return>"
        "<groupId>sg-new</groupId></CreateSecurityGroupResponse>" } };
    struct t_aws_fixture ec2;
    T_CHECK(t_aws_fixture_init(&ec2, "ec2", ex, 1) == 0);
    struct fsg_resolve_request req = { .name = "orders db!", .create_name = "flowseg-orders" };
    struct fsg_resolved_target t = { 0 };
    t.group_vpc_id = fsg_strdup("vpc-1");
    bool created = false;
    T_OK(fsg_resolve_ensure_group(ec2.aws, &req, &t, &created, NULL));
    T_CHECK(created);
    T_STR_EQ(t.group_id, "sg-new");
    T_STR_EQ(t_aws_fixture_body(&ec2, 0),
             "Action=CreateSecurityGroup&Version=2016-11-15&GroupName=flowseg-orders"
             "&GroupDescription=Managed%20by%20flowseg%20for%20target%20orders%20db%21"
             "&VpcId=vpc-1&TagSpecification.1.ResourceType=security-group"
             "&TagSpecification.1.Tag.1.Key=flowseg%3Amanaged"
             "&TagSpecification.1.Tag.1.Value=orders%20db%21");
    /* a group that exists is left alone */
    T_OK(fsg_resolve_ensure_group(ec2.aws, &req, &t, &created, NULL));
    T_CHECK(!created && ec2.script.n_rec == 1);
    fsg_resolved_target_clean_up(&t);
    t_aws_fixture_clean_up(&ec2);
    return 0;
}

static int s_association(void)
{
    struct fsg_resolved_target t = { 0 };
    char *groups[] = { "sg-base", "sg-x" };
    t.db_groups = groups;
    t.n_db_groups = 2;
    struct {
        enum fsg_resolve_associate mode;
        const char *group;
        size_t n_db;
        bool changes;
        const char *want;
    } cases[] = {
        { FSG_RESOLVE_ASSOCIATE_ADD, "sg-m", 2, true, "sg-base,sg-x,sg-m" },
        { FSG_RESOLVE_ASSOCIATE_ADD, "sg-x", 2, false, "" },
        { FSG_RESOLVE_ASSOCIATE_REPLACE, "sg-m", 2, true, "sg-m" },
        { FSG_RESOLVE_ASSOCIATE_REPLACE, "sg-x", 2, true, "sg-x" },
        { FSG_RESOLVE_ASSOCIATE_REPLACE, "sg-base", 1, false, "" },
        { FSG_RESOLVE_ASSOCIATE_NONE, "sg-m", 2, false, "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fsg_resolve_request req = s_req();
        req.associate = cases[i].mode;
        t.n_db_groups = cases[i].n_db;
        struct fsg_resolve_association a = { 0 };
        T_OK(fsg_resolve_association(&req, &t, cases[i].group, &a));
        T_CHECK(a.changes == cases[i].changes);
        char got[128] = "";
        for (size_t k = 0; k < a.n_groups; k++) {
            strcat(got, k > 0 ? "," : "");
            strcat(got, a.groups[k]);
        }
        T_STR_EQ(got, cases[i].want);
        struct fsg_buf b = FSG_BUF_INIT;
        T_OK(fsg_resolve_association_describe(&req, &t, &a, &b));
        T_CHECK(a.changes == (b.len > 0));
        fsg_buf_clean_up(&b);
        fsg_resolve_association_clean_up(&a);
    }
    /* no RDS instance: nothing to associate */
    struct fsg_resolve_request req = s_req();
    req.rds_instance = NULL;
    struct fsg_resolve_association a = { 0 };
    T_OK(fsg_resolve_association(&req, &t, "sg-m", &a));
    T_CHECK(!a.changes);
    return 0;
}

static int s_associate_call(void)
{
    const struct t_http_exchange ex[] = { { .status = 200, .body =
        "<ModifyDBInstanceResponse " S_RDS "><ModifyDBInstanceResult><DBInstance>"
        "<DBInstanceIdentifier>orders</DBInstanceIdentifier></DBInstance></ModifyDBInstanceResult>"
        "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ModifyDBInstanceResponse>" } };
    struct t_aws_fixture rds;
    T_CHECK(t_aws_fixture_init(&rds, "rds", ex, 1) == 0);
    struct fsg_resolve_request req = s_req();
    struct fsg_resolved_target t = { 0 };
    T_ERR(FSG_E_INVALID_ARG, fsg_resolve_associate(rds.aws, &req, &t, NULL, NULL));
    t.group_id = fsg_strdup("sg-managed");
    char **g = fsg_calloc(1, sizeof *g);
    g[0] = fsg_strdup("sg-base");
    t.db_groups = g;
    t.n_db_groups = 1;
    bool changed = false;
    T_OK(fsg_resolve_associate(rds.aws, &req, &t, &changed, NULL));
    T_CHECK(changed);
    T_STR_EQ(t_aws_fixture_body(&rds, 0),
             "Action=ModifyDBInstance&Version=2014-10-31&DBInstanceIdentifier=orders"
             "&VpcSecurityGroupIds.VpcSecurityGroupId.1=sg-base"
             "&VpcSecurityGroupIds.VpcSecurityGroupId.2=sg-managed");
    T_CHECK(t.n_db_groups == 2);
    /* now in place: no second call */
    T_OK(fsg_resolve_associate(rds.aws, &req, &t, &changed, NULL));
    T_CHECK(!changed && rds.script.n_rec == 1);
    fsg_resolved_target_clean_up(&t);
    t_aws_fixture_clean_up(&rds);
    return 0;
}

/* A busy instance (InvalidDBInstanceState) is waited for, but not after a stop: the signal
 * came while ModifyDBInstance was in flight, so it is not sent again (nothing is sent after a
 * stop); the error says interrupted, the rules in place, the group not yet attached. */
static int s_associate_busy_not_after_stop(void)
{
    const struct t_http_exchange ex[] = {
        { .status = 400, .body = "<ErrorResponse><Error><Type>Sender</Type><Code>"
                                 "InvalidDBInstanceState</Code><Message>busy</Message></Error>"
                                 "<RequestId>r</RequestId></ErrorResponse>" },
    };
    struct t_aws_fixture rds;
    T_CHECK(t_aws_fixture_init(&rds, "rds", ex, 1) == 0);
    struct fsg_resolve_request req = s_req();
    struct fsg_resolved_target t = { 0 };
    t.group_id = fsg_strdup("sg-managed");
    volatile sig_atomic_t stop = SIGTERM;
    (void)fsg_aws_client_set_stop(rds.aws, &stop);
    bool changed = false;
    struct fsg_error err = { 0 };
    int64_t far_ms = (int64_t)(time(NULL) + 600) * 1000;
    T_ERR(FSG_E_CANCELLED, fsg_resolve_associate_until(rds.aws, &req, &t, far_ms, &changed, &err));
    T_CHECK(!changed && rds.script.n_rec == 1 && t_aws_fixture_all_used(&rds));
    T_CHECK(strstr(err.msg, "interrupted") != NULL && strstr(err.msg, "not yet attached") != NULL);
    fsg_resolved_target_clean_up(&t);
    t_aws_fixture_clean_up(&rds);
    return 0;
}

/* ModifyDBInstance's answer is lost, the retry finds the instance busy (perhaps applying that
 * very change), and the deadline ends the wait: the group is said perhaps attached, not "not
 * yet attached" (which the audit could not know). */
static int s_associate_busy_after_lost_answer(void)
{
    const struct t_http_exchange ex[] = {
        { .fail = FSG_E_NETWORK, .fail_code = "ReadTimeout" },
        { .status = 400, .body = "<ErrorResponse><Error><Type>Sender</Type><Code>"
                                 "InvalidDBInstanceState</Code><Message>busy</Message></Error>"
                                 "<RequestId>r</RequestId></ErrorResponse>" },
    };
    struct t_aws_fixture rds;
    T_CHECK(t_aws_fixture_init(&rds, "rds", ex, 2) == 0);
    struct fsg_resolve_request req = s_req();
    struct fsg_resolved_target t = { 0 };
    t.group_id = fsg_strdup("sg-managed");
    bool changed = false;
    struct fsg_error err = { 0 };
    int64_t past_ms = (int64_t)(time(NULL) - 1) * 1000;
    T_CHECK(fsg_resolve_associate_until(rds.aws, &req, &t, past_ms, &changed, &err) != FSG_OK);
    T_CHECK(!changed);
    T_CHECK(rds.script.n_rec == 2 && t_aws_fixture_all_used(&rds));
    T_CHECK(strstr(err.msg, "perhaps attached") != NULL &&
            strstr(err.msg, "not yet attached") == NULL);
    fsg_resolved_target_clean_up(&t);
    t_aws_fixture_clean_up(&rds);
    return 0;
}

static int s_errors(void)
{
    /* an Aurora member, an unknown instance, a create without any VPC */
    const struct t_http_exchange ex[] = {
        { .status = 200, .body = s_db("<DBClusterIdentifier>aurora-1</DBClusterIdentifier>") },
        { .status = 404, .body = "<ErrorResponse " S_RDS "><Error><Type>Sender</Type><Code>"
                                 "DBInstanceNotFound</Code><Message>DBInstance orders not found."
                                 "</Message></Error><RequestId>r</RequestId></ErrorResponse>" },
    };
    struct t_aws_fixture rds, ec2;
    T_CHECK(t_aws_fixture_init(&rds, "rds", ex, 2) == 0);
    T_CHECK(t_aws_fixture_init(&ec2, "ec2", NULL, 0) == 0);
    struct fsg_resolve_request req = s_req();
    struct fsg_resolved_target t = { 0 };
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_REMOTE, fsg_resolve_target(ec2.aws, rds.aws, &req, &t, &err));
    T_CHECK(strstr(err.msg, "aurora-1") != NULL);
    T_ERR(FSG_E_NOT_FOUND, fsg_resolve_target(ec2.aws, rds.aws, &req, &t, &err));
    req.rds_instance = NULL;
    req.security_group = NULL;
    req.create_name = "x";
    T_ERR(FSG_E_INVALID_ARG, fsg_resolve_target(ec2.aws, rds.aws, &req, &t, &err));
    T_CHECK(strstr(err.msg, "vpc_id") != NULL && ec2.script.n_rec == 0);
    t_aws_fixture_clean_up(&ec2);
    t_aws_fixture_clean_up(&rds);
    return 0;
}

static int s_offline(void)
{
    const char *enis[] = { "eni-1", "eni-1" };
    const char *addrs[] = { "10.0.20.11", "fd00::1" };
    struct fsg_resolve_request req = { .name = "x", .security_group = "sg-1", .enis = enis,
                                       .n_enis = 2, .eni_addrs = addrs, .n_eni_addrs = 2 };
    struct fsg_resolved_target t = { 0 };
    T_OK(fsg_resolve_offline(&req, &t, NULL));
    T_CHECK(t.n_enis == 1 && t.n_addrs == 2 && !t.group_is_flowseg);
    fsg_resolved_target_clean_up(&t);
    const char *bad[] = { "10.0.20.300" };
    req.eni_addrs = bad;
    req.n_eni_addrs = 1;
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_PARSE, fsg_resolve_offline(&req, &t, &err));
    T_CHECK(strstr(err.msg, "10.0.20.300") != NULL && t.enis == NULL);
    req.security_group = NULL;
    T_ERR(FSG_E_INVALID_ARG, fsg_resolve_offline(&req, &t, &err));
    T_CHECK(strstr(err.msg, "no security_group") != NULL);
    req.create_name = "flowseg-x";
    req.n_eni_addrs = 0;
    T_OK(fsg_resolve_offline(&req, &t, NULL));
    T_CHECK(t.group_id == NULL && t.group_is_flowseg);
    T_STR_EQ(t.group_label, "flowseg-x");
    fsg_resolved_target_clean_up(&t);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "instance_without_enis", s_instance_without_enis },
        { "interfaces", s_interfaces },
        { "group_by_name", s_group_by_name },
        { "ensure_group", s_ensure_group },
        { "association", s_association },
        { "associate_call", s_associate_call },
        { "associate_busy_not_after_stop", s_associate_busy_not_after_stop },
        { "associate_busy_after_lost_answer", s_associate_busy_after_lost_answer },
        { "errors", s_errors },
        { "offline", s_offline },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
