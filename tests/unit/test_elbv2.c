/* lib/elbv2: DescribeTargetHealth / DescribeTargetGroups parsing and the Register/Deregister
 * form bodies (Targets.member.N.*). */
#include <string.h>

#include "lib/aws/elbv2.h"
#include "tests/harness/test.h"
#include "tests/unit/aws_fixture.h"

#define S_NS "xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\""
#define S_ARN                                                                                      \
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rds-tg/0123456789abcdef"
#define S_ARN_ENC                                                                                  \
    "arn%3Aaws%3Aelasticloadbalancing%3Aus-east-1%3A123456789012%3Atargetgroup%2Frds-tg%2F"        \
    "0123456789abcdef"

static const char s_health[] =
    "<DescribeTargetHealthResponse " S_NS "><DescribeTargetHealthResult><TargetHealthDescriptions>"
    "<member><Target><Id>10.0.1.15</Id><Port>5432</Port><AvailabilityZone>us-east-1a"
    "</AvailabilityZone></Target><HealthCheckPort>5432</HealthCheckPort>"
    "<TargetHealth><State>healthy</State></TargetHealth></member>"
    "<member><Target><Id>10.0.2.37</Id><Port>5432</Port><AvailabilityZone>us-east-1b"
    "</AvailabilityZone></Target><HealthCheckPort>traffic-port</HealthCheckPort>"
    "<TargetHealth><State>draining</State><Reason>Target.DeregistrationInProgress</Reason>"
    "<Description>Target deregistration is in progress</Description></TargetHealth></member>"
    "</TargetHealthDescriptions></DescribeTargetHealthResult>"
    "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeTargetHealthResponse>";

static int s_describe_target_health(void)
{
    const struct t_http_exchange ex[] = {
        { .method = "POST", .url = "https://elasticloadbalancing.us-east-1.amazonaws.com/",
          .status = 200, .body = s_health },
        { .status = 200,
          .body = "<DescribeTargetHealthResponse " S_NS "><DescribeTargetHealthResult>"
                  "<TargetHealthDescriptions/></DescribeTargetHealthResult>"
                  "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
                  "</DescribeTargetHealthResponse>" },
    };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "elasticloadbalancing", ex, 2) == 0);
    struct fsg_elbv2_target_health_list l = { 0 };
    T_OK(fsg_elbv2_describe_target_health(f.aws, S_ARN, &l, NULL));
    T_STR_EQ(t_aws_fixture_body(&f, 0),
             "Action=DescribeTargetHealth&Version=2015-12-01&TargetGroupArn=" S_ARN_ENC);
    T_CHECK(l.len == 2);
    T_STR_EQ(l.items[0].id, "10.0.1.15");
    T_CHECK(l.items[0].port == 5432);
    T_STR_EQ(l.items[0].availability_zone, "us-east-1a");
    T_STR_EQ(l.items[0].health_check_port, "5432");
    T_STR_EQ(l.items[0].state, "healthy");
    T_CHECK(l.items[0].reason == NULL && l.items[0].description == NULL);
    T_STR_EQ(l.items[1].health_check_port, "traffic-port");
    T_STR_EQ(l.items[1].state, "draining");
    T_STR_EQ(l.items[1].reason, "Target.DeregistrationInProgress");
    T_STR_EQ(l.items[1].description, "Target deregistration is in progress");
    fsg_elbv2_target_health_list_clean_up(&l);
    T_OK(fsg_elbv2_describe_target_health(f.aws, S_ARN, &l, NULL));
    T_CHECK(l.len == 0 && l.items == NULL);
    T_CHECK(t_aws_fixture_all_used(&f));
    t_aws_fixture_clean_up(&f);
    return 0;
}

static int s_describe_target_health_errors(void)
{
    static const char not_found[] =
        "<ErrorResponse " S_NS "><Error><Type>Sender</Type><Code>TargetGroupNotFound</Code>"
        "<Message>One or more target groups not found</Message></Error>"
        "<RequestId>req-tg</RequestId></ErrorResponse>";
    static const char unavailable[] =
        "<ErrorResponse " S_NS "><Error><Type>Receiver</Type><Code>HealthUnavailable</Code>"
        "<Message>try again</Message></Error><RequestId>r</RequestId></ErrorResponse>";
    static const char no_state[] =
        "<DescribeTargetHealthResponse><DescribeTargetHealthResult><TargetHealthDescriptions>"
        "<member><Target><Id>10.0.0.1</Id></Target></member></TargetHealthDescriptions>"
        "</DescribeTargetHealthResult></DescribeTargetHealthResponse>";
    static const char bad_port[] =
        "<DescribeTargetHealthResponse><DescribeTargetHealthResult><TargetHealthDescriptions>"
        "<member><Target><Id>10.0.0.1</Id><Port>0</Port></Target><TargetHealth><State>healthy"
        "</State></TargetHealth></member></TargetHealthDescriptions>"
        "</DescribeTargetHealthResult></DescribeTargetHealthResponse>";
    const struct t_http_exchange ex[] = {
        { .status = 400, .body = not_found },
        /* HealthUnavailable (500) is retried, then answered. */
        { .status = 500, .body = unavailable },
        { .status = 200, .body = s_health },
        { .status = 200, .body = no_state },
        { .status = 200, .body = bad_port },
    };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "elasticloadbalancing", ex, 5) == 0);
    struct fsg_elbv2_target_health_list l = { .len = 9 };
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_NOT_FOUND, fsg_elbv2_describe_target_health(f.aws, S_ARN "x", &l, &err));
    T_STR_EQ(err.service_code, "TargetGroupNotFound");
    T_CHECK(strstr(err.msg, "target group " S_ARN "x") != NULL);
    T_CHECK(l.len == 9);
    l = (struct fsg_elbv2_target_health_list){ 0 };
    T_OK(fsg_elbv2_describe_target_health(f.aws, S_ARN, &l, &err));
    T_CHECK(l.len == 2 && f.sleeps == 1);
    fsg_elbv2_target_health_list_clean_up(&l);
    T_ERR(FSG_E_PARSE, fsg_elbv2_describe_target_health(f.aws, S_ARN, &l, &err));
    T_ERR(FSG_E_PARSE, fsg_elbv2_describe_target_health(f.aws, S_ARN, &l, &err));
    T_CHECK(l.items == NULL);
    T_ERR(FSG_E_INVALID_ARG, fsg_elbv2_describe_target_health(f.aws, NULL, &l, NULL));
    T_CHECK(t_aws_fixture_all_used(&f));
    t_aws_fixture_clean_up(&f);
    return 0;
}

static int s_register_deregister(void)
{
    static const char reg_ok[] =
        "<RegisterTargetsResponse " S_NS "><RegisterTargetsResult/><ResponseMetadata><RequestId>r"
        "</RequestId></ResponseMetadata></RegisterTargetsResponse>";
    static const char dereg_ok[] =
        "<DeregisterTargetsResponse " S_NS "><DeregisterTargetsResult/><ResponseMetadata>"
        "<RequestId>r</RequestId></ResponseMetadata></DeregisterTargetsResponse>";
    static const char invalid[] =
        "<ErrorResponse " S_NS "><Error><Type>Sender</Type><Code>InvalidTarget</Code><Message>"
        "The specified target does not exist</Message></Error><RequestId>r</RequestId>"
        "</ErrorResponse>";
    const struct t_http_exchange ex[] = { { .status = 200, .body = reg_ok },
                                          { .status = 200, .body = dereg_ok },
                                          { .status = 400, .body = invalid } };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "elasticloadbalancing", ex, 3) == 0);
    const struct fsg_elbv2_target reg[] = { { "10.0.2.37", 5432, NULL },
                                            { "172.16.0.5", 0, "all" } };
    T_OK(fsg_elbv2_register_targets(f.aws, S_ARN, reg, 2, NULL));
    T_STR_EQ(t_aws_fixture_body(&f, 0),
             "Action=RegisterTargets&Version=2015-12-01&TargetGroupArn=" S_ARN_ENC
             "&Targets.member.1.Id=10.0.2.37&Targets.member.1.Port=5432"
             "&Targets.member.2.Id=172.16.0.5&Targets.member.2.AvailabilityZone=all");
    const struct fsg_elbv2_target dereg[] = { { "10.0.1.15", 5432, NULL } };
    T_OK(fsg_elbv2_deregister_targets(f.aws, S_ARN, dereg, 1, NULL));
    T_STR_EQ(t_aws_fixture_body(&f, 1),
             "Action=DeregisterTargets&Version=2015-12-01&TargetGroupArn=" S_ARN_ENC
             "&Targets.member.1.Id=10.0.1.15&Targets.member.1.Port=5432");
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_REMOTE, fsg_elbv2_deregister_targets(f.aws, S_ARN, dereg, 1, &err));
    T_STR_EQ(err.service_code, "InvalidTarget");
    /* Refused locally. */
    const struct fsg_elbv2_target bad_port[] = { { "10.0.0.1", 70000, NULL } };
    const struct fsg_elbv2_target no_id[] = { { NULL, 1, NULL } };
    T_ERR(FSG_E_INVALID_ARG, fsg_elbv2_register_targets(f.aws, S_ARN, bad_port, 1, NULL));
    T_ERR(FSG_E_INVALID_ARG, fsg_elbv2_register_targets(f.aws, S_ARN, no_id, 1, NULL));
    T_ERR(FSG_E_INVALID_ARG, fsg_elbv2_register_targets(f.aws, S_ARN, reg, 0, NULL));
    T_ERR(FSG_E_INVALID_ARG, fsg_elbv2_deregister_targets(f.aws, "", reg, 1, NULL));
    T_CHECK(f.script.n_rec == 3);
    T_CHECK(t_aws_fixture_all_used(&f));
    t_aws_fixture_clean_up(&f);
    return 0;
}

static int s_describe_target_group(void)
{
    static const char tg[] =
        "<DescribeTargetGroupsResponse " S_NS "><DescribeTargetGroupsResult><TargetGroups><member>"
        "<TargetGroupArn>" S_ARN "</TargetGroupArn><TargetGroupName>rds-tg</TargetGroupName>"
        "<Protocol>TCP</Protocol><Port>5432</Port><VpcId>vpc-0abc</VpcId>"
        "<HealthCheckProtocol>TCP</HealthCheckProtocol><HealthCheckPort>traffic-port"
        "</HealthCheckPort><LoadBalancerArns><member>arn:aws:elasticloadbalancing:us-east-1:"
        "123456789012:loadbalancer/net/rds-nlb/50dc6c495c0c9188</member></LoadBalancerArns>"
        "<TargetType>ip</TargetType><IpAddressType>ipv4</IpAddressType></member></TargetGroups>"
        "</DescribeTargetGroupsResult><ResponseMetadata><RequestId>r</RequestId>"
        "</ResponseMetadata></DescribeTargetGroupsResponse>";
    static const char no_lb[] =
        "<DescribeTargetGroupsResponse><DescribeTargetGroupsResult><TargetGroups><member>"
        "<TargetGroupArn>" S_ARN "</TargetGroupArn><TargetType>instance</TargetType>"
        "<LoadBalancerArns/></member></TargetGroups></DescribeTargetGroupsResult>"
        "</DescribeTargetGroupsResponse>";
    static const char none[] =
        "<DescribeTargetGroupsResponse><DescribeTargetGroupsResult><TargetGroups/>"
        "</DescribeTargetGroupsResult></DescribeTargetGroupsResponse>";
    const struct t_http_exchange ex[] = { { .status = 200, .body = tg },
                                          { .status = 200, .body = no_lb },
                                          { .status = 200, .body = none } };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "elasticloadbalancing", ex, 3) == 0);
    struct fsg_elbv2_target_group g = { 0 };
    T_OK(fsg_elbv2_describe_target_group(f.aws, S_ARN, &g, NULL));
    T_STR_EQ(t_aws_fixture_body(&f, 0),
             "Action=DescribeTargetGroups&Version=2015-12-01&TargetGroupArns.member.1=" S_ARN_ENC);
    T_STR_EQ(g.arn, S_ARN);
    T_STR_EQ(g.name, "rds-tg");
    T_STR_EQ(g.protocol, "TCP");
    T_CHECK(g.port == 5432);
    T_STR_EQ(g.target_type, "ip");
    T_STR_EQ(g.vpc_id, "vpc-0abc");
    T_CHECK(g.n_load_balancer_arns == 1);
    T_CHECK(strstr(g.load_balancer_arns[0], "loadbalancer/net/rds-nlb") != NULL);
    fsg_elbv2_target_group_clean_up(&g);
    T_OK(fsg_elbv2_describe_target_group(f.aws, S_ARN, &g, NULL));
    T_STR_EQ(g.target_type, "instance");
    T_CHECK(g.port == 0 && g.n_load_balancer_arns == 0);
    fsg_elbv2_target_group_clean_up(&g);
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_NOT_FOUND, fsg_elbv2_describe_target_group(f.aws, S_ARN, &g, &err));
    T_CHECK(g.arn == NULL);
    T_CHECK(t_aws_fixture_all_used(&f));
    t_aws_fixture_clean_up(&f);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "describe_target_health", s_describe_target_health },
        { "describe_target_health_errors", s_describe_target_health_errors },
        { "register_deregister", s_register_deregister },
        { "describe_target_group", s_describe_target_group },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
