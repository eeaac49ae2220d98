/* lib/ec2: the exact form bodies (EC2 list flattening) and the parsing of realistic answers,
 * over a scripted transport. */
#include <stdio.h>
#include <string.h>

#include "lib/aws/ec2.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"
#include "tests/unit/aws_fixture.h"

#define S_NS "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\""

/* ---- DescribeSecurityGroupRules ------------------------------------------------------------ */

static const char s_rules_page1[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<DescribeSecurityGroupRulesResponse " S_NS ">\n"
    "  <requestId>req-1</requestId>\n"
    "  <securityGroupRuleSet>\n"
    "    <item>\n"
    "      <securityGroupRuleId>sgr-0aaa1111bbbb2222c</securityGroupRuleId>\n"
    "      <groupId>sg-0123456789abcdef0</groupId>\n"
    "      <groupOwnerId>123456789012</groupOwnerId>\n"
    "      <isEgress>false</isEgress>\n"
    "      <ipProtocol>tcp</ipProtocol>\n"
    "      <fromPort>5432</fromPort>\n"
    "      <toPort>5432</toPort>\n"
    "      <cidrIpv4>10.20.30.40/32</cidrIpv4>\n"
    "      <description>seg:app-tier (10.20.30.40 to 5432)</description>\n"
    "      <tagSet><item><key>managed-by</key><value>flowseg</value></item>"
    "<item><key>empty</key><value/></item></tagSet>\n"
    "      <securityGroupRuleArn>arn:aws:ec2:us-east-1:123456789012:security-group-rule/"
    "sgr-0aaa1111bbbb2222c</securityGroupRuleArn>\n"
    "    </item>\n"
    "    <item>\n"
    "      <securityGroupRuleId>sgr-0egress</securityGroupRuleId>\n"
    "      <groupId>sg-0123456789abcdef0</groupId>\n"
    "      <isEgress>true</isEgress>\n"
    "      <ipProtocol>-1</ipProtocol>\n"
    "      <cidrIpv4>0.0.0.0/0</cidrIpv4>\n"
    "      <tagSet/>\n"
    "    </item>\n"
    "  </securityGroupRuleSet>\n"
    "  <nextToken>tok/1+=</nextToken>\n"
    "</DescribeSecurityGroupRulesResponse>\n";

static const char s_rules_page2[] =
    "<DescribeSecurityGroupRulesResponse " S_NS "><requestId>req-2</requestId>"
    "<securityGroupRuleSet>"
    "<item><securityGroupRuleId>sgr-v6</securityGroupRuleId><groupId>sg-0123456789abcdef0</groupId>"
    "<isEgress>false</isEgress><ipProtocol>tcp</ipProtocol><fromPort>5432</fromPort>"
    "<toPort>5432</toPort><cidrIpv6>2001:db8::/64</cidrIpv6><tagSet/></item>"
    "<item><securityGroupRuleId>sgr-ref</securityGroupRuleId><groupId>sg-0123456789abcdef0</groupI"
    "d>"
    "<isEgress>false</isEgress><ipProtocol>udp</ipProtocol><fromPort>53</fromPort><toPort>53</toPo"
    "rt>"
    "<referencedGroupInfo><groupId>sg-0peer</groupId><userId>210987654321</userId></referencedGrou"
    "pInfo>"
    "</item>"
    "<item><securityGroupRuleId>sgr-pl</securityGroupRuleId><groupId>sg-0123456789abcdef0</groupId>"
    "<isEgress>false</isEgress><ipProtocol>icmp</ipProtocol><fromPort>-1</fromPort><toPort>-1</toP"
    "ort>"
    "<prefixListId>pl-0123</prefixListId></item>"
    "</securityGroupRuleSet></DescribeSecurityGroupRulesResponse>";

static int s_describe_rules_pages(void)
{
    const struct t_http_exchange ex[] = {
        { .method = "POST", .url = "https://ec2.us-east-1.amazonaws.com/", .status = 200,
          .body = s_rules_page1 },
        { .method = "POST", .status = 200, .body = s_rules_page2 },
    };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "ec2", ex, 2) == 0);
    struct fsg_ec2_sg_rule_list l = { 0 };
    const char *ids[] = { "sg-0123456789abcdef0", "sg-2" };
    T_OK(fsg_ec2_describe_sg_rules(f.aws, ids, 2, &l, NULL));
    T_CHECK(t_aws_fixture_all_used(&f));
    T_STR_EQ(t_aws_fixture_body(&f, 0),
             "Action=DescribeSecurityGroupRules&Version=2016-11-15&Filter.1.Name=group-id"
             "&Filter.1.Value.1=sg-0123456789abcdef0&Filter.1.Value.2=sg-2&MaxResults=1000");
    T_STR_EQ(t_aws_fixture_body(&f, 1),
             "Action=DescribeSecurityGroupRules&Version=2016-11-15&Filter.1.Name=group-id"
             "&Filter.1.Value.1=sg-0123456789abcdef0&Filter.1.Value.2=sg-2&MaxResults=1000"
             "&NextToken=tok%2F1%2B%3D");
    T_CHECK(strstr(t_http_script_header(&f.script, 0, "content-type"),
                   "application/x-www-form-urlencoded") != NULL);
    T_CHECK(l.len == 5);
    const struct fsg_ec2_sg_rule *r = &l.items[0];
    T_STR_EQ(r->rule_id, "sgr-0aaa1111bbbb2222c");
    T_STR_EQ(r->group_id, "sg-0123456789abcdef0");
    T_STR_EQ(r->group_owner_id, "123456789012");
    T_CHECK(!r->is_egress);
    T_STR_EQ(r->ip_protocol, "tcp");
    T_CHECK(r->from_port == 5432 && r->to_port == 5432);
    T_STR_EQ(r->cidr_ipv4, "10.20.30.40/32");
    T_CHECK(r->cidr_ipv6 == NULL && r->prefix_list_id == NULL && r->referenced_group_id == NULL);
    T_STR_EQ(r->description, "seg:app-tier (10.20.30.40 to 5432)");
    T_CHECK(r->n_tags == 2);
    T_STR_EQ(r->tags[0].key, "managed-by");
    T_STR_EQ(r->tags[0].value, "flowseg");
    T_STR_EQ(r->tags[1].key, "empty");
    T_STR_EQ(r->tags[1].value, "");
    r = &l.items[1];
    T_CHECK(r->is_egress && r->from_port == -1 && r->to_port == -1 && r->n_tags == 0);
    T_STR_EQ(r->ip_protocol, "-1");
    T_CHECK(r->description == NULL);
    T_STR_EQ(l.items[2].cidr_ipv6, "2001:db8::/64");
    T_CHECK(l.items[2].cidr_ipv4 == NULL);
    T_STR_EQ(l.items[3].referenced_group_id, "sg-0peer");
    T_STR_EQ(l.items[3].referenced_user_id, "210987654321");
    T_STR_EQ(l.items[4].prefix_list_id, "pl-0123");
    T_CHECK(l.items[4].from_port == -1);
    fsg_ec2_sg_rule_list_clean_up(&l);
    fsg_ec2_sg_rule_list_clean_up(&l); /* idempotent */
    t_aws_fixture_clean_up(&f);
    return 0;
}

static int s_describe_rules_empty(void)
{
    const struct t_http_exchange ex[] = {
        { .status = 200, .body = "<DescribeSecurityGroupRulesResponse " S_NS "><requestId>r"
                                 "</requestId><securityGroupRuleSet/>"
                                 "</DescribeSecurityGroupRulesResponse>" },
    };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "ec2", ex, 1) == 0);
    struct fsg_ec2_sg_rule_list l = { 0 };
    const char *ids[] = { "sg-1" };
    T_OK(fsg_ec2_describe_sg_rules(f.aws, ids, 1, &l, NULL));
    T_CHECK(l.len == 0 && l.items == NULL);
    T_CHECK(t_aws_fixture_all_used(&f));
    t_aws_fixture_clean_up(&f);
    return 0;
}

static int s_describe_rules_errors(void)
{
    static const char not_found[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
        "<Code>InvalidGroup.NotFound</Code><Message>The security group 'sg-404' does not exist"
        "</Message></Error></Errors><RequestID>0b0a4d57-00f7</RequestID></Response>";
    const struct t_http_exchange ex[] = { { .status = 400, .body = not_found } };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "ec2", ex, 1) == 0);
    struct fsg_ec2_sg_rule_list l = { .len = 77 };
    struct fsg_error err = { 0 };
    const char *ids[] = { "sg-404" };
    T_ERR(FSG_E_NOT_FOUND, fsg_ec2_describe_sg_rules(f.aws, ids, 1, &l, &err));
    T_CHECK(l.len == 77); /* untouched on failure */
    T_STR_EQ(err.service_code, "InvalidGroup.NotFound");
    T_STR_EQ(err.request_id, "0b0a4d57-00f7");
    T_CHECK(err.http_status == 400);
    T_CHECK(strstr(err.msg, "security group sg-404") != NULL);
    T_CHECK(strstr(err.msg, "DescribeSecurityGroupRules") != NULL);
    T_CHECK(t_aws_fixture_all_used(&f));
    t_aws_fixture_clean_up(&f);

    /* No id: refused before any request. */
    T_CHECK(t_aws_fixture_init(&f, "ec2", NULL, 0) == 0);
    T_ERR(FSG_E_INVALID_ARG, fsg_ec2_describe_sg_rules(f.aws, ids, 0, &l, NULL));
    T_CHECK(f.script.n_rec == 0);
    t_aws_fixture_clean_up(&f);
    return 0;
}

static int s_describe_rules_bad_answers(void)
{
    static const char bad_port[] =
        "<DescribeSecurityGroupRulesResponse><securityGroupRuleSet><item>"
        "<securityGroupRuleId>sgr-1</securityGroupRuleId><ipProtocol>tcp</ipProtocol>"
        "<fromPort>five</fromPort></item></securityGroupRuleSet>"
        "</DescribeSecurityGroupRulesResponse>";
    static const char no_id[] =
        "<DescribeSecurityGroupRulesResponse><securityGroupRuleSet><item>"
        "<ipProtocol>tcp</ipProtocol></item></securityGroupRuleSet>"
        "</DescribeSecurityGroupRulesResponse>";
    static const char same_token[] =
        "<DescribeSecurityGroupRulesResponse><securityGroupRuleSet/><nextToken>t</nextToken>"
        "</DescribeSecurityGroupRulesResponse>";
    static const char not_xml[] = "<DescribeSecurityGroupRulesResponse><unclosed>";
    const char *ids[] = { "sg-1" };
    const struct {
        const char *body;
        size_t n;
        enum fsg_err want;
    } cases[] = {
        { bad_port, 1, FSG_E_PARSE },
        { no_id, 1, FSG_E_PARSE },
        { same_token, 2, FSG_E_PARSE },
        { not_xml, 1, FSG_E_PARSE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct t_http_exchange ex[] = { { .status = 200, .body = cases[i].body },
                                              { .status = 200, .body = cases[i].body } };
        struct t_aws_fixture f;
        T_CHECK(t_aws_fixture_init(&f, "ec2", ex, cases[i].n) == 0);
        struct fsg_ec2_sg_rule_list l = { 0 };
        struct fsg_error err = { 0 };
        T_ERR(cases[i].want, fsg_ec2_describe_sg_rules(f.aws, ids, 1, &l, &err));
        T_CHECK(l.items == NULL);
        T_CHECK(err.msg[0] != '\0');
        T_CHECK(t_aws_fixture_all_used(&f));
        t_aws_fixture_clean_up(&f);
    }
    return 0;
}

/* Throttled (503 RequestLimitExceeded) then answered: the pipeline retries. */
static int s_describe_rules_throttled_then_ok(void)
{
    static const char throttled[] =
        "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit "
        "exceeded.</Message></Error></Errors><RequestID>r</RequestID></Response>";
    const struct t_http_exchange ex[] = {
        { .status = 503, .body = throttled },
        { .status = 200, .body = s_rules_page2 },
    };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "ec2", ex, 2) == 0);
    struct fsg_ec2_sg_rule_list l = { 0 };
    const char *ids[] = { "sg-0123456789abcdef0" };
    T_OK(fsg_ec2_describe_sg_rules(f.aws, ids, 1, &l, NULL));
    T_CHECK(l.len == 3 && f.sleeps == 1);
    T_STR_EQ(t_aws_fixture_body(&f, 0), t_aws_fixture_body(&f, 1));
    fsg_ec2_sg_rule_list_clean_up(&l);
    t_aws_fixture_clean_up(&f);
    return 0;
}

/* ---- Authorize / revoke --------------------------------------------------------------------- */

static const char s_authorize_ok[] =
    "<AuthorizeSecurityGroupIngressResponse " S_NS "><requestId>r</requestId><return>true</return>"
    "<securityGroupRuleSet>"
    "<item><securityGroupRuleId>sgr-new1</securityGroupRuleId><groupId>sg-0123456789abcdef0</group"
    "Id>"
    "<groupOwnerId>123456789012</groupOwnerId><isEgress>false</isEgress><ipProtocol>tcp</ipProtoco"
    "l>"
    "<fromPort>5432</fromPort><toPort>5432</toPort><cidrIpv4>10.20.30.40/32</cidrIpv4>"
    "<description>seg:app-tier (10.20.30.40 to 5432)</description>"
    "<tagSet><item><key>managed-by</key><value>flowseg</value></item></tagSet></item>"
    "<item><securityGroupRuleId>sgr-new2</securityGroupRuleId><groupId>sg-0123456789abcdef0</group"
    "Id>"
    "<isEgress>false</isEgress><ipProtocol>tcp</ipProtocol><fromPort>5432</fromPort>"
    "<toPort>5432</toPort><cidrIpv4>10.20.31.0/24</cidrIpv4><description>seg:batch</description>"
    "</item>"
    "</securityGroupRuleSet></AuthorizeSecurityGroupIngressResponse>";

/* The body botocore produces for the ref/aws-wire.md §5.2 example, plus a second permission
 * (IPv6, udp) and a range without description. */
static int s_authorize_body(void)
{
    const struct t_http_exchange ex[] = { { .method = "POST", .status = 200,
                                            .body = s_authorize_ok } };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "ec2", ex, 1) == 0);
    const struct fsg_ec2_ip_range v4[] = {
        { "10.20.30.40/32", "seg:app-tier (10.20.30.40 to 5432)" },
        { "10.20.31.0/24", "seg:batch" },
    };
    const struct fsg_ec2_ip_range v4b[] = { { "10.9.0.0/16", NULL } };
    const struct fsg_ec2_ip_range v6[] = { { "2001:db8::/64", "v6 clients" } };
    const struct fsg_ec2_ip_permission perms[] = {
        { .ip_protocol = "tcp", .from_port = 5432, .to_port = 5432, .ipv4 = v4, .n_ipv4 = 2 },
        { .ip_protocol = "udp", .from_port = 53, .to_port = 53, .ipv4 = v4b, .n_ipv4 = 1,
          .ipv6 = v6, .n_ipv6 = 1 },
    };
    const struct fsg_ec2_tag_spec tags[] = { { "managed-by", "flowseg" } };
    const struct fsg_ec2_authorize_request req = {
        .group_id = "sg-0123456789abcdef0", .perms = perms, .n_perms = 2,
        .rule_tags = tags, .n_rule_tags = 1,
    };
    struct fsg_ec2_sg_rule_list created = { 0 };
    T_OK(fsg_ec2_authorize_ingress(f.aws, &req, &created, NULL));
    T_STR_EQ(t_aws_fixture_body(&f, 0),
             "Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-0123456789abcdef0"
             "&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=5432"
             "&IpPermissions.1.ToPort=5432&IpPermissions.1.IpRanges.1.CidrIp=10.20.30.40%2F32"
             "&IpPermissions.1.IpRanges.1.Description=seg%3Aapp-tier%20%2810.20.30.40%20to%205432%"
             "29"
             "&IpPermissions.1.IpRanges.2.CidrIp=10.20.31.0%2F24"
             "&IpPermissions.1.IpRanges.2.Description=seg%3Abatch"
             "&IpPermissions.2.IpProtocol=udp&IpPermissions.2.FromPort=53&IpPermissions.2.ToPort=53"
             "&IpPermissions.2.IpRanges.1.CidrIp=10.9.0.0%2F16"
             "&IpPermissions.2.Ipv6Ranges.1.CidrIpv6=2001%3Adb8%3A%3A%2F64"
             "&IpPermissions.2.Ipv6Ranges.1.Description=v6%20clients"
             "&TagSpecification.1.ResourceType=security-group-rule"
             "&TagSpecification.1.Tag.1.Key=managed-by&TagSpecification.1.Tag.1.Value=flowseg");
    T_CHECK(created.len == 2);
    T_STR_EQ(created.items[0].rule_id, "sgr-new1");
    T_STR_EQ(created.items[1].rule_id, "sgr-new2");
    T_STR_EQ(created.items[1].cidr_ipv4, "10.20.31.0/24");
    fsg_ec2_sg_rule_list_clean_up(&created);
    t_aws_fixture_clean_up(&f);
    return 0;
}

/* Protocol -1 carries no ports; ICMP keeps its -1 type/code; ret_created may be NULL. */
static int s_authorize_all_protocols(void)
{
    const struct t_http_exchange ex[] = { { .status = 200, .body = s_authorize_ok } };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "ec2", ex, 1) == 0);
    const struct fsg_ec2_ip_range v4[] = { { "10.0.0.0/8", NULL } };
    const struct fsg_ec2_ip_permission perms[] = {
        { .ip_protocol = "-1", .from_port = 1, .to_port = 2, .ipv4 = v4, .n_ipv4 = 1 },
        { .ip_protocol = "icmp", .from_port = -1, .to_port = -1, .ipv4 = v4, .n_ipv4 = 1 },
    };
    const struct fsg_ec2_authorize_request req = { .group_id = "sg-1", .perms = perms,
                                                   .n_perms = 2 };
    T_OK(fsg_ec2_authorize_ingress(f.aws, &req, NULL, NULL));
    T_STR_EQ(t_aws_fixture_body(&f, 0),
             "Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-1"
             "&IpPermissions.1.IpProtocol=-1&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0%2F8"
             "&IpPermissions.2.IpProtocol=icmp&IpPermissions.2.FromPort=-1"
             "&IpPermissions.2.ToPort=-1&IpPermissions.2.IpRanges.1.CidrIp=10.0.0.0%2F8");
    t_aws_fixture_clean_up(&f);
    return 0;
}

/* Requests that cannot be right are refused before anything is sent. */
static int s_authorize_refused_locally(void)
{
    const struct fsg_ec2_ip_range bad_desc[] = { { "10.0.0.0/8", "a -> b" } };
    const struct fsg_ec2_ip_range no_cidr[] = { { "", "x" } };
    const struct fsg_ec2_ip_range ok[] = { { "10.0.0.0/8", "ok" } };
    const struct fsg_ec2_ip_permission perms[] = {
        { .ip_protocol = "tcp", .from_port = 1, .to_port = 1, .ipv4 = bad_desc, .n_ipv4 = 1 },
        { .ip_protocol = "tcp", .from_port = 1, .to_port = 1, .ipv4 = no_cidr, .n_ipv4 = 1 },
        { .ip_protocol = "tcp", .from_port = 1, .to_port = 1 },
        { .ip_protocol = NULL, .ipv4 = ok, .n_ipv4 = 1 },
        { .ip_protocol = "tcp", .from_port = 1, .to_port = 1, .ipv4 = ok, .n_ipv4 = 1 },
    };
    const struct fsg_ec2_tag_spec bad_tag[] = { { "", "v" } };
    const struct fsg_ec2_authorize_request reqs[] = {
        { .group_id = "sg-1", .perms = &perms[0], .n_perms = 1 },
        { .group_id = "sg-1", .perms = &perms[1], .n_perms = 1 },
        { .group_id = "sg-1", .perms = &perms[2], .n_perms = 1 },
        { .group_id = "sg-1", .perms = &perms[3], .n_perms = 1 },
        { .group_id = "sg-1", .perms = &perms[4], .n_perms = 0 },
        { .group_id = "", .perms = &perms[4], .n_perms = 1 },
        { .group_id = "sg-1", .perms = &perms[4], .n_perms = 1, .rule_tags = bad_tag,
          .n_rule_tags = 1 },
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        struct t_aws_fixture f;
        T_CHECK(t_aws_fixture_init(&f, "ec2", NULL, 0) == 0);
        struct fsg_error err = { 0 };
        T_ERR(FSG_E_INVALID_ARG, fsg_ec2_authorize_ingress(f.aws, &reqs[i], NULL, &err));
        T_CHECK(f.script.n_rec == 0);
        T_CHECK(err.msg[0] != '\0');
        if (i == 0) {
            T_CHECK(strstr(err.msg, "10.0.0.0/8") != NULL);
        }
        t_aws_fixture_clean_up(&f);
    }
    return 0;
}

static int s_authorize_duplicate(void)
{
    static const char dup[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
        "<Code>InvalidPermission.Duplicate</Code><Message>the specified rule \"peer: 10.0.0.0/8, "
        "TCP, from port: 1, to port: 1, ALLOW\" already exists</Message></Error></Errors>"
        "<RequestID>req-dup</RequestID></Response>";
    const struct t_http_exchange ex[] = { { .status = 400, .body = dup } };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "ec2", ex, 1) == 0);
    const struct fsg_ec2_ip_range v4[] = { { "10.0.0.0/8", NULL } };
    const struct fsg_ec2_ip_permission perm = { .ip_protocol = "tcp", .from_port = 1,
                                                .to_port = 1, .ipv4 = v4, .n_ipv4 = 1 };
    const struct fsg_ec2_authorize_request req = { .group_id = "sg-1", .perms = &perm,
                                                   .n_perms = 1 };
    struct fsg_ec2_sg_rule_list created = { .len = 5 };
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_CONFLICT, fsg_ec2_authorize_ingress(f.aws, &req, &created, &err));
    T_CHECK(created.len == 5 && created.items == NULL);
    T_STR_EQ(err.service_code, "InvalidPermission.Duplicate");
    T_CHECK(strstr(err.msg, "security group sg-1") != NULL);
    T_CHECK(f.sleeps == 0); /* a 400 is not retried */
    t_aws_fixture_clean_up(&f);
    return 0;
}

static int s_revoke(void)
{
    static const char ok[] =
        "<RevokeSecurityGroupIngressResponse " S_NS "><requestId>r</requestId><return>true</return>"
        "<revokedSecurityGroupRuleSet><item><securityGroupRuleId>sgr-1</securityGroupRuleId>"
        "</item></revokedSecurityGroupRuleSet><unknownIpPermissionSet/>"
        "</RevokeSecurityGroupIngressResponse>";
    static const char ret_false[] =
        "<RevokeSecurityGroupIngressResponse " S_NS "><requestId>r</requestId><return>false"
        "</return></RevokeSecurityGroupIngressResponse>";
    static const char not_found[] =
        "<Response><Errors><Error><Code>InvalidSecurityGroupRuleId.NotFound</Code><Message>"
        "The security group rule ID 'sgr-9' does not exist</Message></Error></Errors>"
        "<RequestID>r</RequestID></Response>";
    const struct t_http_exchange ex[] = { { .status = 200, .body = ok },
                                          { .status = 200, .body = ret_false },
                                          { .status = 400, .body = not_found } };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "ec2", ex, 3) == 0);
    const char *ids[] = { "sgr-0aaa1111bbbb2222c", "sgr-0ddd3333eeee4444f" };
    T_OK(fsg_ec2_revoke_ingress(f.aws, "sg-0123456789abcdef0", ids, 2, NULL));
    T_STR_EQ(t_aws_fixture_body(&f, 0),
             "Action=RevokeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-0123456789abcdef0"
             "&SecurityGroupRuleId.1=sgr-0aaa1111bbbb2222c&SecurityGroupRuleId.2=sgr-0ddd3333eeee4"
             "444f");
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_REMOTE, fsg_ec2_revoke_ingress(f.aws, "sg-1", ids, 1, &err));
    T_CHECK(strstr(err.msg, "return=false") != NULL);
    T_ERR(FSG_E_NOT_FOUND, fsg_ec2_revoke_ingress(f.aws, "sg-1", ids, 1, &err));
    T_STR_EQ(err.service_code, "InvalidSecurityGroupRuleId.NotFound");
    T_ERR(FSG_E_INVALID_ARG, fsg_ec2_revoke_ingress(f.aws, "sg-1", ids, 0, NULL));
    const char *empty[] = { "" };
    T_ERR(FSG_E_INVALID_ARG, fsg_ec2_revoke_ingress(f.aws, "sg-1", empty, 1, NULL));
    T_CHECK(t_aws_fixture_all_used(&f));
    t_aws_fixture_clean_up(&f);
    return 0;
}

/* ModifySecurityGroupRules: the wire form of SecurityGroupRuleUpdate, errors mapped. */
static int s_modify(void)
{
    static const char ok[] =
        "<ModifySecurityGroupRulesResponse " S_NS "><requestId>r</requestId><return>true</return>"
        "</ModifySecurityGroupRulesResponse>";
    static const char not_found[] =
        "<Response><Errors><Error><Code>InvalidSecurityGroupRuleId.NotFound</Code><Message>"
        "The security group rule ID 'sgr-9' does not exist</Message></Error></Errors>"
        "<RequestID>r</RequestID></Response>";
    static const char dup[] =
        "<Response><Errors><Error><Code>InvalidPermission.Duplicate</Code><Message>"
        "the specified rule already exists</Message></Error></Errors>"
        "<RequestID>r</RequestID></Response>";
    const struct t_http_exchange ex[] = { { .status = 200, .body = ok },
                                          { .status = 400, .body = not_found },
                                          { .status = 400, .body = dup } };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "ec2", ex, 3) == 0);
    const struct fsg_ec2_rule_update u[] = {
        { .rule_id = "sgr-0aaa1111bbbb2222c", .ip_protocol = "tcp", .from_port = 5432,
          .to_port = 5432, .cidr_ipv4 = "10.0.1.11/32", .description = "flowseg x" },
        { .rule_id = "sgr-0ddd3333eeee4444f", .ip_protocol = "-1", .from_port = -1,
          .to_port = -1, .cidr_ipv6 = "2001:db8::/64" },
    };
    T_OK(fsg_ec2_modify_sg_rules(f.aws, "sg-0123456789abcdef0", u, 2, NULL));
    T_STR_EQ(t_aws_fixture_body(&f, 0),
             "Action=ModifySecurityGroupRules&Version=2016-11-15&GroupId=sg-0123456789abcdef0"
             "&SecurityGroupRule.1.SecurityGroupRuleId=sgr-0aaa1111bbbb2222c"
             "&SecurityGroupRule.1.SecurityGroupRule.IpProtocol=tcp"
             "&SecurityGroupRule.1.SecurityGroupRule.FromPort=5432"
             "&SecurityGroupRule.1.SecurityGroupRule.ToPort=5432"
             "&SecurityGroupRule.1.SecurityGroupRule.CidrIpv4=10.0.1.11%2F32"
             "&SecurityGroupRule.1.SecurityGroupRule.Description=flowseg%20x"
             "&SecurityGroupRule.2.SecurityGroupRuleId=sgr-0ddd3333eeee4444f"
             "&SecurityGroupRule.2.SecurityGroupRule.IpProtocol=-1"
             "&SecurityGroupRule.2.SecurityGroupRule.FromPort=-1"
             "&SecurityGroupRule.2.SecurityGroupRule.ToPort=-1"
             "&SecurityGroupRule.2.SecurityGroupRule.CidrIpv6=2001%3Adb8%3A%3A%2F64");
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_NOT_FOUND, fsg_ec2_modify_sg_rules(f.aws, "sg-1", u, 1, &err));
    T_STR_EQ(err.service_code, "InvalidSecurityGroupRuleId.NotFound");
    T_CHECK(strstr(err.msg, "sg-1") != NULL);
    T_ERR(FSG_E_CONFLICT, fsg_ec2_modify_sg_rules(f.aws, "sg-1", u, 1, &err));
    T_ERR(FSG_E_INVALID_ARG, fsg_ec2_modify_sg_rules(f.aws, "sg-1", u, 0, NULL));
    const struct fsg_ec2_rule_update both = { .rule_id = "sgr-1", .ip_protocol = "tcp",
                                              .cidr_ipv4 = "10.0.0.0/8",
                                              .cidr_ipv6 = "::/0" };
    T_ERR(FSG_E_INVALID_ARG, fsg_ec2_modify_sg_rules(f.aws, "sg-1", &both, 1, NULL));
    const struct fsg_ec2_rule_update bad = { .rule_id = "sgr-1", .ip_protocol = "tcp",
                                             .cidr_ipv4 = "10.0.0.0/8", .description = "a&b" };
    T_ERR(FSG_E_INVALID_ARG, fsg_ec2_modify_sg_rules(f.aws, "sg-1", &bad, 1, NULL));
    T_CHECK(t_aws_fixture_all_used(&f));
    t_aws_fixture_clean_up(&f);
    return 0;
}

/* ---- Security groups ------------------------------------------------------------------------ */

static const char s_create_ok[] =
    "<CreateSecurityGroupResponse " S_NS "><requestId>r</requestId><return>true</return>"
    "<groupId>sg-0fedcba9876543210</groupId><securityGroupArn>arn:aws:ec2:us-east-1:123456789012:"
    "security-group/sg-0fedcba9876543210</securityGroupArn><tagSet><item><key>flowseg:managed</key>"
    "<value>orders-db</value></item></tagSet></CreateSecurityGroupResponse>";
static const char s_group_dup[] =
    "<Response><Errors><Error><Code>InvalidGroup.Duplicate</Code><Message>The security group "
    "'rds-seg-prod' already exists for VPC 'vpc-0abc'</Message></Error></Errors><RequestID>r"
    "</RequestID></Response>";

static const char *s_sg_info(const char *tag_value)
{
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "<DescribeSecurityGroupsResponse " S_NS "><requestId>r</requestId><securityGroupInfo>"
             "<item><ownerId>123456789012</ownerId><groupId>sg-0existing</groupId>"
             "<groupName>rds-seg-prod</groupName><groupDescription>Managed by flowseg"
             "</groupDescription><vpcId>vpc-0abc</vpcId><ipPermissions/>"
             "<ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><groups/><ipRanges><item>"
             "<cidrIp>0.0.0.0/0</cidrIp></item></ipRanges><ipv6Ranges/><prefixListIds/></item>"
             "</ipPermissionsEgress><tagSet><item><key>Name</key><value>x</value></item>"
             "<item><key>flowseg:managed</key><value>%s</value></item></tagSet></item>"
             "</securityGroupInfo></DescribeSecurityGroupsResponse>",
             tag_value);
    return buf;
}

static int s_create_security_group(void)
{
    const struct t_http_exchange ex[] = { { .status = 200, .body = s_create_ok } };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "ec2", ex, 1) == 0);
    const struct fsg_ec2_tag_spec tags[] = { { FSG_EC2_OWNER_TAG_KEY, "orders-db" } };
    const struct fsg_ec2_create_sg_request req = { .group_name = "rds-seg-prod",
                                                   .description = "Managed by flowseg",
                                                   .vpc_id = "vpc-0abc", .tags = tags,
                                                   .n_tags = 1 };
    char *id = NULL;
    bool created = false;
    T_OK(fsg_ec2_ensure_security_group(f.aws, &req, &id, &created, NULL));
    T_STR_EQ(id, "sg-0fedcba9876543210");
    T_CHECK(created);
    T_STR_EQ(t_aws_fixture_body(&f, 0),
             "Action=CreateSecurityGroup&Version=2016-11-15&GroupName=rds-seg-prod"
             "&GroupDescription=Managed%20by%20flowseg&VpcId=vpc-0abc"
             "&TagSpecification.1.ResourceType=security-group"
             "&TagSpecification.1.Tag.1.Key=flowseg%3Amanaged&TagSpecification.1.Tag.1.Value=order"
             "s-db");
    fsg_free(id);
    t_aws_fixture_clean_up(&f);

    /* Bad names are refused locally. */
    const struct fsg_ec2_create_sg_request bad[] = {
        { .group_name = "sg-x", .description = "d", .vpc_id = "vpc-1" },
        { .group_name = "n", .description = "quote\"", .vpc_id = "vpc-1" },
        { .group_name = "n", .description = "d", .vpc_id = NULL },
        { .group_name = NULL, .description = "d", .vpc_id = "vpc-1" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        T_CHECK(t_aws_fixture_init(&f, "ec2", NULL, 0) == 0);
        id = NULL;
        T_ERR(FSG_E_INVALID_ARG, fsg_ec2_create_security_group(f.aws, &bad[i], &id, NULL));
        T_CHECK(id == NULL && f.script.n_rec == 0);
        t_aws_fixture_clean_up(&f);
    }
    return 0;
}

/* A concurrent or earlier run created it: adopt it when it carries our tag, refuse otherwise. */
static int s_ensure_security_group_existing(void)
{
    const struct fsg_ec2_tag_spec tags[] = { { FSG_EC2_OWNER_TAG_KEY, "orders-db" } };
    const struct fsg_ec2_create_sg_request req = { .group_name = "rds-seg-prod",
                                                   .description = "Managed by flowseg",
                                                   .vpc_id = "vpc-0abc", .tags = tags,
                                                   .n_tags = 1 };
    for (int owned = 1; owned >= 0; owned--) {
        const struct t_http_exchange ex[] = {
            { .status = 400, .body = s_group_dup },
            { .status = 200, .body = s_sg_info(owned ? "orders-db" : "someone-else") },
        };
        struct t_aws_fixture f;
        T_CHECK(t_aws_fixture_init(&f, "ec2", ex, 2) == 0);
        char *id = NULL;
        bool created = true;
        struct fsg_error err = { 0 };
        enum fsg_err rc = fsg_ec2_ensure_security_group(f.aws, &req, &id, &created, &err);
        T_STR_EQ(t_aws_fixture_body(&f, 1),
                 "Action=DescribeSecurityGroups&Version=2016-11-15&Filter.1.Name=group-name"
                 "&Filter.1.Value.1=rds-seg-prod&Filter.2.Name=vpc-id&Filter.2.Value.1=vpc-0abc"
                 "&MaxResults=1000");
        if (owned) {
            T_OK(rc);
            T_STR_EQ(id, "sg-0existing");
            T_CHECK(!created);
        } else {
            T_ERR(FSG_E_REFUSED, rc);
            T_CHECK(id == NULL);
            T_CHECK(strstr(err.msg, "sg-0existing") != NULL);
            T_CHECK(strstr(err.msg, "flowseg:managed=orders-db") != NULL);
        }
        fsg_free(id);
        T_CHECK(t_aws_fixture_all_used(&f));
        t_aws_fixture_clean_up(&f);
    }
    return 0;
}

static int s_describe_security_groups(void)
{
    const struct t_http_exchange ex[] = {
        { .status = 200, .body = s_sg_info("orders-db") },
        { .status = 200, .body = "<DescribeSecurityGroupsResponse " S_NS "><requestId>r"
                                 "</requestId><securityGroupInfo/>"
                                 "</DescribeSecurityGroupsResponse>" },
    };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "ec2", ex, 2) == 0);
    struct fsg_ec2_sg_list l = { 0 };
    const char *ids[] = { "sg-0existing" };
    T_OK(fsg_ec2_describe_security_groups(f.aws, ids, 1, NULL, 0, &l, NULL));
    /* By id: no MaxResults (not allowed with GroupId.N). */
    T_STR_EQ(t_aws_fixture_body(&f, 0),
             "Action=DescribeSecurityGroups&Version=2016-11-15&GroupId.1=sg-0existing");
    T_CHECK(l.len == 1);
    T_STR_EQ(l.items[0].group_id, "sg-0existing");
    T_STR_EQ(l.items[0].group_name, "rds-seg-prod");
    T_STR_EQ(l.items[0].description, "Managed by flowseg");
    T_STR_EQ(l.items[0].vpc_id, "vpc-0abc");
    T_STR_EQ(l.items[0].owner_id, "123456789012");
    T_CHECK(l.items[0].n_tags == 2);
    T_STR_EQ(l.items[0].tags[1].key, "flowseg:managed");
    fsg_ec2_sg_list_clean_up(&l);
    /* By tag: nothing matches, an empty list. */
    const char *v[] = { "orders-db" };
    const struct fsg_ec2_filter tag = { "tag:" FSG_EC2_OWNER_TAG_KEY, v, 1 };
    T_OK(fsg_ec2_describe_security_groups(f.aws, NULL, 0, &tag, 1, &l, NULL));
    T_STR_EQ(t_aws_fixture_body(&f, 1),
             "Action=DescribeSecurityGroups&Version=2016-11-15&Filter.1.Name=tag%3Aflowseg%3Amanag"
             "ed"
             "&Filter.1.Value.1=orders-db&MaxResults=1000");
    T_CHECK(l.len == 0);
    /* A filter without values is refused. */
    const struct fsg_ec2_filter empty = { "vpc-id", v, 0 };
    T_ERR(FSG_E_INVALID_ARG, fsg_ec2_describe_security_groups(f.aws, NULL, 0, &empty, 1, &l, NULL));
    T_CHECK(t_aws_fixture_all_used(&f));
    t_aws_fixture_clean_up(&f);
    return 0;
}

/* ---- DescribeNetworkInterfaces -------------------------------------------------------------- */

static const char s_enis[] =
    "<DescribeNetworkInterfacesResponse " S_NS "><requestId>r</requestId><networkInterfaceSet>"
    "<item>"
    "<networkInterfaceId>eni-0a1b2c3d4e5f60718</networkInterfaceId><subnetId>subnet-0aaa</subnetId>"
    "<vpcId>vpc-0abc</vpcId><availabilityZone>us-east-1a</availabilityZone>"
    "<availabilityZoneId>use1-az2</availabilityZoneId><description>RDSNetworkInterface</descriptio"
    "n>"
    "<ownerId>123456789012</ownerId><requesterId>amazon-rds</requesterId>"
    "<requesterManaged>true</requesterManaged><status>in-use</status>"
    "<interfaceType>interface</interfaceType><macAddress>02:81:60:cb:27:37</macAddress>"
    "<privateIpAddress>10.0.1.15</privateIpAddress><privateDnsName>ip-10-0-1-15.ec2.internal"
    "</privateDnsName><sourceDestCheck>true</sourceDestCheck>"
    "<groupSet><item><groupId>sg-0123456789abcdef0</groupId><groupName>rds-orders</groupName></ite"
    "m>"
    "<item><groupId>sg-2</groupId><groupName>other</groupName></item></groupSet>"
    "<attachment><attachmentId>ela-attach-1</attachmentId><instanceOwnerId>amazon-rds"
    "</instanceOwnerId><deviceIndex>1</deviceIndex><status>attached</status></attachment>"
    "<privateIpAddressesSet><item><privateIpAddress>10.0.1.99</privateIpAddress><primary>false"
    "</primary></item><item><privateIpAddress>10.0.1.15</privateIpAddress><primary>true</primary>"
    "</item></privateIpAddressesSet><tagSet/>"
    "<ipv6AddressesSet><item><ipv6Address>2001:db8::15</ipv6Address></item></ipv6AddressesSet>"
    "</item>"
    "<item><networkInterfaceId>eni-bare</networkInterfaceId><availabilityZone>us-east-1a"
    "</availabilityZone><privateIpAddress>10.0.1.16</privateIpAddress><groupSet/>"
    "<privateIpAddressesSet/><ipv6AddressesSet/><tagSet/></item>"
    "</networkInterfaceSet><nextToken>p2</nextToken></DescribeNetworkInterfacesResponse>";

static int s_describe_enis(void)
{
    const struct t_http_exchange ex[] = {
        { .status = 200, .body = s_enis },
        { .status = 200, .body = "<DescribeNetworkInterfacesResponse " S_NS "><requestId>r"
                                 "</requestId><networkInterfaceSet/>"
                                 "</DescribeNetworkInterfacesResponse>" },
    };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "ec2", ex, 2) == 0);
    const char *sgs[] = { "sg-0123456789abcdef0", "sg-2" }, *az[] = { "us-east-1a" },
               *desc[] = { "RDSNetworkInterface" }, *req[] = { "amazon-rds" };
    const struct fsg_ec2_filter filters[] = { { "group-id", sgs, 2 },
                                              { "availability-zone", az, 1 },
                                              { "description", desc, 1 },
                                              { "requester-id", req, 1 } };
    struct fsg_ec2_eni_list l = { 0 };
    T_OK(fsg_ec2_describe_network_interfaces(f.aws, NULL, 0, filters, 4, &l, NULL));
    T_STR_EQ(t_aws_fixture_body(&f, 0),
             "Action=DescribeNetworkInterfaces&Version=2016-11-15&Filter.1.Name=group-id"
             "&Filter.1.Value.1=sg-0123456789abcdef0&Filter.1.Value.2=sg-2"
             "&Filter.2.Name=availability-zone&Filter.2.Value.1=us-east-1a"
             "&Filter.3.Name=description&Filter.3.Value.1=RDSNetworkInterface"
             "&Filter.4.Name=requester-id&Filter.4.Value.1=amazon-rds&MaxResults=1000");
    T_CHECK(strstr(t_aws_fixture_body(&f, 1), "&NextToken=p2") != NULL);
    T_CHECK(l.len == 2);
    const struct fsg_ec2_eni *e = &l.items[0];
    T_STR_EQ(e->eni_id, "eni-0a1b2c3d4e5f60718");
    T_STR_EQ(e->subnet_id, "subnet-0aaa");
    T_STR_EQ(e->vpc_id, "vpc-0abc");
    T_STR_EQ(e->availability_zone, "us-east-1a");
    T_STR_EQ(e->description, "RDSNetworkInterface");
    T_STR_EQ(e->requester_id, "amazon-rds");
    T_CHECK(e->requester_managed);
    T_STR_EQ(e->status, "in-use");
    T_STR_EQ(e->interface_type, "interface");
    T_STR_EQ(e->attachment_owner_id, "amazon-rds");
    T_STR_EQ(e->private_ip, "10.0.1.15");
    T_CHECK(e->n_private_ips == 2);
    T_STR_EQ(e->private_ips[0], "10.0.1.15"); /* the primary first */
    T_STR_EQ(e->private_ips[1], "10.0.1.99");
    T_CHECK(e->n_ipv6_addrs == 1);
    T_STR_EQ(e->ipv6_addrs[0], "2001:db8::15");
    T_CHECK(e->n_group_ids == 2);
    T_STR_EQ(e->group_ids[1], "sg-2");
    e = &l.items[1];
    T_CHECK(e->n_group_ids == 0 && e->n_ipv6_addrs == 0 && e->description == NULL);
    T_CHECK(!e->requester_managed);
    T_CHECK(e->n_private_ips == 1); /* the primary, even when the set is empty */
    T_STR_EQ(e->private_ips[0], "10.0.1.16");
    fsg_ec2_eni_list_clean_up(&l);
    T_CHECK(t_aws_fixture_all_used(&f));
    t_aws_fixture_clean_up(&f);
    return 0;
}

static int s_describe_enis_by_id_and_unfiltered(void)
{
    const struct t_http_exchange ex[] = { { .status = 200, .body = s_enis },
                                          { .status = 200, .body = s_enis } };
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "ec2", ex, 1) == 0);
    struct fsg_ec2_eni_list l = { 0 };
    T_ERR(FSG_E_INVALID_ARG,
          fsg_ec2_describe_network_interfaces(f.aws, NULL, 0, NULL, 0, &l, NULL));
    T_CHECK(f.script.n_rec == 0);
    /* By id: no MaxResults; the repeated token of this canned answer is caught. */
    const char *ids[] = { "eni-0a1b2c3d4e5f60718" };
    struct fsg_error err = { 0 };
    t_aws_fixture_clean_up(&f);
    T_CHECK(t_aws_fixture_init(&f, "ec2", ex, 2) == 0);
    T_ERR(FSG_E_PARSE, fsg_ec2_describe_network_interfaces(f.aws, ids, 1, NULL, 0, &l, &err));
    T_STR_EQ(t_aws_fixture_body(&f, 0),
             "Action=DescribeNetworkInterfaces&Version=2016-11-15"
             "&NetworkInterfaceId.1=eni-0a1b2c3d4e5f60718");
    T_CHECK(strstr(err.msg, "eni-0a1b2c3d4e5f60718") != NULL);
    T_CHECK(l.items == NULL);
    t_aws_fixture_clean_up(&f);
    return 0;
}

/* ---- Descriptions --------------------------------------------------------------------------- */

static int s_description_charset(void)
{
    char long_ok[256], too_long[257];
    memset(long_ok, 'a', 255);
    long_ok[255] = '\0';
    memset(too_long, 'a', 256);
    too_long[256] = '\0';
    const struct {
        const char *s;
        bool ok;
    } cases[] = {
        { "", true },
        { "flowseg /orgs/1/sec_policy/active/rule_sets/24/sec_rules/41", true },
        { "seg:app-tier (10.20.30.40 to 5432) #1, @x [y] +=; {z} !$*", true },
        { long_ok, true },
        { too_long, false },
        { "a & b", false },
        { "a -> b", false },
        { "it's", false },
        { "\"q\"", false },
        { "caf\xc3\xa9", false },
        { "tab\there", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (fsg_ec2_description_is_valid(cases[i].s) != cases[i].ok) {
            fprintf(stderr, "case %zu: \"%.40s\"\n", i, cases[i].s);
            T_CHECK(false);
        }
    }
    return 0;
}

/* Allocation failures anywhere in a two-page describe: a clean error, no leak. */
static int s_describe_rules_alloc_failures(void)
{
    for (long n = 1; n < 400; n++) {
        const struct t_http_exchange ex[] = { { .status = 200, .body = s_rules_page1 },
                                              { .status = 200, .body = s_rules_page2 } };
        struct t_aws_fixture f;
        T_CHECK(t_aws_fixture_init(&f, "ec2", ex, 2) == 0);
        struct fsg_ec2_sg_rule_list l = { 0 };
        const char *ids[] = { "sg-0123456789abcdef0" };
        fsg_mem_fail_after(n);
        enum fsg_err rc = fsg_ec2_describe_sg_rules(f.aws, ids, 1, &l, NULL);
        fsg_mem_fail_after(0);
        T_CHECK(rc == FSG_OK || l.items == NULL);
        T_CHECK(rc == FSG_OK || rc == FSG_E_NOMEM || rc == FSG_E_PARSE || rc == FSG_E_INTERNAL ||
                rc == FSG_E_NETWORK || rc == FSG_E_LIMIT);
        fsg_ec2_sg_rule_list_clean_up(&l);
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
        { "describe_rules_pages", s_describe_rules_pages },
        { "describe_rules_empty", s_describe_rules_empty },
        { "describe_rules_errors", s_describe_rules_errors },
        { "describe_rules_bad_answers", s_describe_rules_bad_answers },
        { "describe_rules_throttled_then_ok", s_describe_rules_throttled_then_ok },
        { "describe_rules_alloc_failures", s_describe_rules_alloc_failures },
        { "authorize_body", s_authorize_body },
        { "authorize_all_protocols", s_authorize_all_protocols },
        { "authorize_refused_locally", s_authorize_refused_locally },
        { "authorize_duplicate", s_authorize_duplicate },
        { "revoke", s_revoke },
        { "modify", s_modify },
        { "create_security_group", s_create_security_group },
        { "ensure_security_group_existing", s_ensure_security_group_existing },
        { "describe_security_groups", s_describe_security_groups },
        { "describe_enis", s_describe_enis },
        { "describe_enis_by_id_and_unfiltered", s_describe_enis_by_id_and_unfiltered },
        { "description_charset", s_description_charset },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
