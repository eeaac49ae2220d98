/* lib/nlb_sync: the pure planner (ENI choice, register/deregister sets, health) and the run
 * against scripted EC2 / RDS / ELBv2 answers with an injected clock. */
#include <stdio.h>
#include <string.h>

#include "lib/core/mem.h"
#include "cmd/nlb/nlb_sync.h"
#include "tests/harness/test.h"
#include "tests/unit/aws_fixture.h"

#define S_ARN                                                                                      \
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rds-tg/0123456789abcdef"
#define S_ARN_ENC                                                                                  \
    "arn%3Aaws%3Aelasticloadbalancing%3Aus-east-1%3A123456789012%3Atargetgroup%2Frds-tg%2F"        \
    "0123456789abcdef"

/* ---- pure: plan ----------------------------------------------------------------------------- */

struct s_t {
    const char *id;
    long port;
    const char *state;
    const char *reason;
};

/* A health list over borrowed strings (cast: the list is only read). */
static struct fsg_elbv2_target_health_list s_list(struct fsg_elbv2_target_health *items,
                                                  const struct s_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        items[i] = (struct fsg_elbv2_target_health){
            .id = (char *)t[i].id,
            .port = t[i].port,
            .state = (char *)t[i].state,
            .reason = (char *)t[i].reason,
        };
    }
    return (struct fsg_elbv2_target_health_list){ .items = items, .len = n };
}

static struct fsg_nlb_endpoint s_ep(const char *ip, long port)
{
    struct fsg_nlb_endpoint e = { .port = port };
    snprintf(e.ip, sizeof e.ip, "%s", ip);
    return e;
}

static int s_plan_cases(void)
{
    const struct {
        const char *name;
        struct s_t cur[4];
        size_t n_cur;
        const char *want_ip;
        long want_port;
        const char *reg, *dereg, *unch; /* "ip:port,..." */
    } cases[] = {
        { "empty group", { { 0 } }, 0, "10.0.1.15", 5432, "10.0.1.15:5432", "", "" },
        { "already right", { { "10.0.1.15", 5432, "healthy", NULL } }, 1, "10.0.1.15", 5432, "",
          "", "10.0.1.15:5432" },
        { "already right, unhealthy", { { "10.0.1.15", 5432, "unhealthy", "Target.Timeout" } },
          1, "10.0.1.15", 5432, "", "", "10.0.1.15:5432" },
        { "failover", { { "10.0.1.15", 5432, "healthy", NULL } }, 1, "10.0.2.37", 5432,
          "10.0.2.37:5432", "10.0.1.15:5432", "" },
        { "half done", { { "10.0.2.37", 5432, "healthy", NULL }, { "10.0.1.15", 5432, "healthy",
          NULL } }, 2, "10.0.2.37", 5432, "", "10.0.1.15:5432", "10.0.2.37:5432" },
        { "wanted draining: register again",
          { { "10.0.2.37", 5432, "draining", "Target.DeregistrationInProgress" } }, 1,
          "10.0.2.37", 5432, "10.0.2.37:5432", "", "" },
        { "stale draining: not again", { { "10.0.1.15", 5432, "draining", NULL },
          { "10.0.2.37", 5432, "healthy", NULL } }, 2, "10.0.2.37", 5432, "", "",
          "10.0.2.37:5432" },
        { "port change", { { "10.0.1.15", 3306, "healthy", NULL } }, 1, "10.0.1.15", 5432,
          "10.0.1.15:5432", "10.0.1.15:3306", "" },
        { "no port: the group's", { { "10.0.1.15", 0, "healthy", NULL } }, 1, "10.0.1.15", 5432,
          "", "", "10.0.1.15:5432" },
        { "ipv6 compared numerically", { { "2001:db8:0:0::1", 5432, "healthy", NULL } }, 1,
          "2001:db8::1", 5432, "", "", "2001:db8::1:5432" },
        { "several stale, sorted", { { "10.0.9.1", 5432, "healthy", NULL }, { "10.0.1.1", 5432,
          "unhealthy", NULL }, { "10.0.1.1", 5432, "unhealthy", NULL } }, 3, "10.0.5.5", 5432,
          "10.0.5.5:5432", "10.0.1.1:5432,10.0.9.1:5432", "" },
        { "unused NotRegistered is not registered",
          { { "10.0.1.15", 5432, "unused", "Target.NotRegistered" } }, 1, "10.0.1.15", 5432,
          "10.0.1.15:5432", "", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fsg_elbv2_target_health items[4];
        struct fsg_elbv2_target_health_list cur = s_list(items, cases[i].cur, cases[i].n_cur);
        struct fsg_nlb_endpoint w = s_ep(cases[i].want_ip, cases[i].want_port);
        struct fsg_nlb_plan p = { 0 };
        T_OK(fsg_nlb_plan_make(&w, 1, &cur, 5432, &p, NULL));
        const struct {
            const struct fsg_nlb_endpoint *e;
            size_t n;
            const char *want;
        } sets[] = { { p.to_register, p.n_register, cases[i].reg },
                     { p.to_deregister, p.n_deregister, cases[i].dereg },
                     { p.unchanged, p.n_unchanged, cases[i].unch } };
        for (size_t s = 0; s < 3; s++) {
            char got[256] = "";
            size_t len = 0;
            for (size_t k = 0; k < sets[s].n; k++) {
                len += (size_t)snprintf(got + len, sizeof got - len, "%s%s:%ld", k > 0 ? "," : "",
                                        sets[s].e[k].ip, sets[s].e[k].port);
            }
            if (strcmp(got, sets[s].want) != 0) {
                fprintf(stderr, "case '%s' set %zu: got '%s' want '%s'\n", cases[i].name, s, got,
                        sets[s].want);
                T_CHECK(false);
            }
        }
        bool want_empty = cases[i].reg[0] == '\0' && cases[i].dereg[0] == '\0';
        T_CHECK(fsg_nlb_plan_is_empty(&p) == want_empty);
        fsg_nlb_plan_clean_up(&p);
    }
    return 0;
}

static int s_plan_refusals(void)
{
    struct fsg_elbv2_target_health items[2];
    const struct s_t inst[] = { { "i-0123456789", 80, "healthy", NULL } };
    struct fsg_elbv2_target_health_list cur = s_list(items, inst, 1);
    struct fsg_nlb_endpoint w = s_ep("10.0.0.1", 5432);
    struct fsg_nlb_plan p = { 0 };
    struct fsg_error err = { 0 };
    /* An empty wanted set would deregister everything. */
    T_ERR(FSG_E_INVALID_ARG, fsg_nlb_plan_make(&w, 0, &cur, 5432, &p, &err));
    T_ERR(FSG_E_PARSE, fsg_nlb_plan_make(&w, 1, &cur, 5432, &p, &err));
    T_CHECK(strstr(err.msg, "i-0123456789") != NULL);
    struct fsg_nlb_endpoint bad = s_ep("not-an-ip", 5432);
    cur.len = 0;
    T_ERR(FSG_E_INVALID_ARG, fsg_nlb_plan_make(&bad, 1, &cur, 5432, &p, NULL));
    struct fsg_nlb_endpoint bad_port = s_ep("10.0.0.1", 0);
    T_ERR(FSG_E_INVALID_ARG, fsg_nlb_plan_make(&bad_port, 1, &cur, 5432, &p, NULL));
    T_CHECK(p.to_register == NULL);
    return 0;
}

static int s_first_unhealthy(void)
{
    struct fsg_elbv2_target_health items[4];
    const struct s_t t[] = { { "10.0.0.1", 5432, "healthy", NULL },
                             { "10.0.0.2", 5432, "initial", "Elb.InitialHealthChecking" },
                             { "10.0.0.3", 5432, "draining", NULL },
                             { "10.0.0.4", 5432, "unused", "Target.NotInUse" } };
    struct fsg_elbv2_target_health_list cur = s_list(items, t, 4);
    struct fsg_nlb_endpoint w[] = { s_ep("10.0.0.1", 5432), s_ep("10.0.0.2", 5432),
                                    s_ep("10.0.0.3", 5432), s_ep("10.0.0.9", 5432) };
    T_CHECK(fsg_nlb_first_unhealthy(w, 1, &cur, 5432) == 1);        /* all healthy */
    T_CHECK(fsg_nlb_first_unhealthy(w, 2, &cur, 5432) == 1);        /* initial */
    T_CHECK(fsg_nlb_first_unhealthy(&w[2], 1, &cur, 5432) == 0);    /* draining */
    T_CHECK(fsg_nlb_first_unhealthy(&w[3], 1, &cur, 5432) == 0);    /* missing */
    struct fsg_nlb_endpoint other_port = s_ep("10.0.0.1", 3306);
    T_CHECK(fsg_nlb_first_unhealthy(&other_port, 1, &cur, 5432) == 0);
    return 0;
}

/* ---- pure: ENI selection -------------------------------------------------------------------- */

static char *s_sgs_db[] = { "sg-db" };
static char *s_sgs_other[] = { "sg-other" };
static char *s_ips_a[] = { "10.0.1.15" };
static char *s_ips_b[] = { "10.0.1.77" };

static struct fsg_rds_instance s_db(void)
{
    static struct fsg_rds_sg_membership m[] = { { "sg-db", "active" } };
    return (struct fsg_rds_instance){ .identifier = "orders", .availability_zone = "us-east-1a",
                                      .vpc_id = "vpc-1", .vpc_sgs = m, .n_vpc_sgs = 1,
                                      .endpoint_address = "orders.x.rds.amazonaws.com",
                                      .endpoint_port = 5432 };
}

static struct fsg_ec2_eni s_eni(const char *id, const char *az, const char *desc,
                                const char *requester, char **sgs, char **ips)
{
    return (struct fsg_ec2_eni){ .eni_id = (char *)id, .availability_zone = (char *)az,
                                 .vpc_id = "vpc-1", .description = (char *)desc,
                                 .requester_id = (char *)requester, .group_ids = sgs,
                                 .n_group_ids = 1, .private_ip = ips[0], .private_ips = ips,
                                 .n_private_ips = 1 };
}

static int s_eni_selection(void)
{
    struct fsg_rds_instance db = s_db();
    struct fsg_ec2_eni enis[] = {
        s_eni("eni-wrong-az", "us-east-1b", "RDSNetworkInterface", NULL, s_sgs_db, s_ips_b),
        s_eni("eni-not-rds", "us-east-1a", "my instance", "AIDAXXX", s_sgs_db, s_ips_b),
        s_eni("eni-other-sg", "us-east-1a", "RDSNetworkInterface", NULL, s_sgs_other, s_ips_b),
        s_eni("eni-a", "us-east-1a", "RDSNetworkInterface", NULL, s_sgs_db, s_ips_a),
        s_eni("eni-req", "us-east-1a", "", "amazon-rds", s_sgs_db, s_ips_b),
    };
    T_CHECK(!fsg_nlb_eni_matches(&db, &enis[0]));
    T_CHECK(!fsg_nlb_eni_matches(&db, &enis[1]));
    T_CHECK(!fsg_nlb_eni_matches(&db, &enis[2]));
    T_CHECK(fsg_nlb_eni_matches(&db, &enis[3]));
    T_CHECK(fsg_nlb_eni_matches(&db, &enis[4])); /* by requester id */
    struct fsg_ec2_eni other_vpc = enis[3];
    other_vpc.vpc_id = "vpc-2";
    T_CHECK(!fsg_nlb_eni_matches(&db, &other_vpc));
    struct fsg_ec2_eni owner = enis[1];
    owner.attachment_owner_id = "amazon-rds";
    T_CHECK(fsg_nlb_eni_matches(&db, &owner));

    size_t idx = 99;
    struct fsg_ec2_eni_list one = { .items = enis, .len = 4 };
    T_OK(fsg_nlb_select_eni(&db, &one, NULL, &idx, NULL));
    T_CHECK(idx == 3);
    /* Two match: ambiguous without a resolved address, decided by it. */
    struct fsg_ec2_eni_list two = { .items = enis, .len = 5 };
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_CONFLICT, fsg_nlb_select_eni(&db, &two, NULL, &idx, &err));
    T_CHECK(strstr(err.msg, "eni-a (10.0.1.15)") != NULL && strstr(err.msg, "eni-req") != NULL);
    T_CHECK(strstr(err.msg, "did not resolve") != NULL);
    T_ERR(FSG_E_CONFLICT, fsg_nlb_select_eni(&db, &two, "10.9.9.9", &idx, &err));
    T_CHECK(strstr(err.msg, "resolved to 10.9.9.9") != NULL);
    T_OK(fsg_nlb_select_eni(&db, &two, "10.0.1.77", &idx, NULL));
    T_CHECK(idx == 4);
    /* None. */
    struct fsg_ec2_eni_list none = { .items = enis, .len = 3 };
    T_ERR(FSG_E_NOT_FOUND, fsg_nlb_select_eni(&db, &none, NULL, &idx, &err));
    T_CHECK(strstr(err.msg, "orders") != NULL && strstr(err.msg, "us-east-1a") != NULL);
    return 0;
}

/* ---- the run, scripted ---------------------------------------------------------------------- */

#define S_EC2_NS "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\""
#define S_ELB_NS "xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\""

static const char s_tg_ip[] =
    "<DescribeTargetGroupsResponse " S_ELB_NS "><DescribeTargetGroupsResult><TargetGroups><member>"
    "<TargetGroupArn>" S_ARN "</TargetGroupArn><TargetGroupName>rds-tg</TargetGroupName>"
    "<Protocol>TCP</Protocol><Port>5432</Port><VpcId>vpc-1</VpcId><TargetType>ip</TargetType>"
    "<LoadBalancerArns/></member></TargetGroups></DescribeTargetGroupsResult>"
    "</DescribeTargetGroupsResponse>";
static const char s_tg_other_vpc[] =
    "<DescribeTargetGroupsResponse><DescribeTargetGroupsResult><TargetGroups><member>"
    "<TargetGroupArn>" S_ARN "</TargetGroupArn><Port>5432</Port><VpcId>vpc-nlb</VpcId>"
    "<TargetType>ip</TargetType></member></TargetGroups></DescribeTargetGroupsResult>"
    "</DescribeTargetGroupsResponse>";
static const char s_tg_instance[] =
    "<DescribeTargetGroupsResponse><DescribeTargetGroupsResult><TargetGroups><member>"
    "<TargetGroupArn>" S_ARN "</TargetGroupArn><Port>80</Port><TargetType>instance</TargetType>"
    "</member></TargetGroups></DescribeTargetGroupsResult></DescribeTargetGroupsResponse>";
static const char s_tg_not_found[] =
    "<ErrorResponse " S_ELB_NS "><Error><Type>Sender</Type><Code>TargetGroupNotFound</Code>"
    "<Message>One or more target groups not found</Message></Error><RequestId>r</RequestId>"
    "</ErrorResponse>";
static const char s_reg_ok[] =
    "<RegisterTargetsResponse " S_ELB_NS "><RegisterTargetsResult/><ResponseMetadata><RequestId>r"
    "</RequestId></ResponseMetadata></RegisterTargetsResponse>";
static const char s_dereg_ok[] =
    "<DeregisterTargetsResponse " S_ELB_NS "><DeregisterTargetsResult/><ResponseMetadata>"
    "<RequestId>r</RequestId></ResponseMetadata></DeregisterTargetsResponse>";
static const char s_throttled[] =
    "<ErrorResponse " S_ELB_NS "><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate "
    "exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>";

static const char s_db_answer[] =
    "<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances><DBInstance>"
    "<DBInstanceIdentifier>orders</DBInstanceIdentifier><DBInstanceStatus>available"
    "</DBInstanceStatus><Endpoint><Address>orders.x.us-east-1.rds.amazonaws.com</Address>"
    "<Port>5432</Port></Endpoint><AvailabilityZone>us-east-1b</AvailabilityZone>"
    "<MultiAZ>true</MultiAZ><VpcSecurityGroups><VpcSecurityGroupMembership><VpcSecurityGroupId>"
    "sg-db</VpcSecurityGroupId><Status>active</Status></VpcSecurityGroupMembership>"
    "</VpcSecurityGroups><DBSubnetGroup><VpcId>vpc-1</VpcId></DBSubnetGroup></DBInstance>"
    "</DBInstances></DescribeDBInstancesResult></DescribeDBInstancesResponse>";

static const char s_eni_answer[] =
    "<DescribeNetworkInterfacesResponse " S_EC2_NS "><requestId>r</requestId><networkInterfaceSet>"
    "<item><networkInterfaceId>eni-b</networkInterfaceId><vpcId>vpc-1</vpcId>"
    "<availabilityZone>us-east-1b</availabilityZone><description>RDSNetworkInterface"
    "</description><requesterId>amazon-rds</requesterId><privateIpAddress>10.0.2.37"
    "</privateIpAddress><groupSet><item><groupId>sg-db</groupId></item></groupSet>"
    "<privateIpAddressesSet><item><privateIpAddress>10.0.2.37</privateIpAddress><primary>true"
    "</primary></item></privateIpAddressesSet></item>"
    "</networkInterfaceSet></DescribeNetworkInterfacesResponse>";

/* A DescribeTargetHealth answer; targets "ip:port:state[:reason]" separated by spaces. */
static const char *s_health(char *buf, size_t size, const char *targets)
{
    size_t len = (size_t)snprintf(buf, size, "<DescribeTargetHealthResponse " S_ELB_NS ">"
                                             "<DescribeTargetHealthResult><TargetHealthDescription"
                                             "s>");
    char copy[256];
    snprintf(copy, sizeof copy, "%s", targets);
    for (char *save = NULL, *t = strtok_r(copy, " ", &save); t != NULL;
         t = strtok_r(NULL, " ", &save)) {
        char ip[64] = "", state[32] = "", reason[64] = "";
        long port = 0;
        sscanf(t, "%63[^:]:%ld:%31[^:]:%63s", ip, &port, state, reason);
        len += (size_t)snprintf(buf + len, size - len,
                                "<member><Target><Id>%s</Id><Port>%ld</Port></Target>"
                                "<TargetHealth><State>%s</State>%s%s%s%s</TargetHealth></member>",
                                ip, port, state, reason[0] ? "<Reason>" : "", reason,
                                reason[0] ? "</Reason>" : "",
                                reason[0] ? "<Description>Health checks failed</Description>" : "");
    }
    snprintf(buf + len, size - len, "</TargetHealthDescriptions></DescribeTargetHealthResult>"
                                    "</DescribeTargetHealthResponse>");
    return buf;
}

struct s_clock {
    long long now_ms;
    unsigned sleeps;
    long slept_ms;
};

static void s_fake_sleep(long ms, void *userdata)
{
    struct s_clock *c = userdata;
    c->sleeps++;
    c->slept_ms += ms;
    c->now_ms += ms;
}

static long long s_fake_clock(void *userdata)
{
    return ((struct s_clock *)userdata)->now_ms;
}

struct s_events {
    char log[2048];
    size_t len;
    unsigned n;
};

static void s_on_event(const struct fsg_nlb_event *ev, void *userdata)
{
    struct s_events *e = userdata;
    struct fsg_buf b = FSG_BUF_INIT;
    if (fsg_nlb_event_json(ev, &b) == FSG_OK && e->len < sizeof e->log) {
        e->len += (size_t)snprintf(e->log + e->len, sizeof e->log - e->len, "{%s}\n",
                                   fsg_buf_cstr(&b));
    }
    e->n++;
    fsg_buf_clean_up(&b);
}

struct s_env {
    struct t_aws_fixture ec2, rds, elb;
    struct s_clock clock;
    struct s_events events;
    struct fsg_nlb_sync_options o;
    struct fsg_nlb_sync_result r;
};

static int s_env_init(struct s_env *env, const struct t_http_exchange *elb, size_t n_elb,
                      bool with_reads)
{
    memset(env, 0, sizeof *env);
    static const struct t_http_exchange rds_ex[] = { { .status = 200, .body = s_db_answer } };
    static const struct t_http_exchange ec2_ex[] = { { .status = 200, .body = s_eni_answer } };
    T_CHECK(t_aws_fixture_init(&env->rds, "rds", rds_ex, with_reads ? 1 : 0) == 0);
    T_CHECK(t_aws_fixture_init(&env->ec2, "ec2", ec2_ex, with_reads ? 1 : 0) == 0);
    T_CHECK(t_aws_fixture_init(&env->elb, "elasticloadbalancing", elb, n_elb) == 0);
    env->o = (struct fsg_nlb_sync_options){
        .ec2 = env->ec2.aws, .rds = env->rds.aws, .elbv2 = env->elb.aws,
        .target_group_arn = S_ARN, .rds_instance = "orders",
        .healthy_timeout_s = 1, .poll_ms = 400,
        .sleep = s_fake_sleep, .clock_ms = s_fake_clock, .clock_userdata = &env->clock,
        .on_event = s_on_event, .event_userdata = &env->events,
    };
    env->clock.now_ms = 1000000;
    return 0;
}

static void s_env_clean_up(struct s_env *env)
{
    fsg_nlb_sync_result_clean_up(&env->r);
    t_aws_fixture_clean_up(&env->ec2);
    t_aws_fixture_clean_up(&env->rds);
    t_aws_fixture_clean_up(&env->elb);
}

static bool s_summary_has(struct s_env *env, const char *needle)
{
    struct fsg_buf b = FSG_BUF_INIT;
    bool ok = fsg_nlb_sync_result_json(&env->o, &env->r, &b) == FSG_OK &&
              strstr(fsg_buf_cstr(&b), needle) != NULL;
    if (!ok) {
        fprintf(stderr, "summary %s\n  lacks %s\n", fsg_buf_cstr(&b), needle);
    }
    fsg_buf_clean_up(&b);
    return ok;
}

/* Failover: the old target is healthy, the new one starts "initial", becomes healthy; the old one
 * is deregistered only then. */
static int s_run_failover(void)
{
    char h0[1024], h1[1024], h2[1024];
    const struct t_http_exchange elb[] = {
        { .status = 200, .body = s_tg_ip },
        { .status = 200, .body = s_health(h0, sizeof h0, "10.0.1.15:5432:healthy") },
        { .status = 200, .body = s_reg_ok },
        { .status = 200,
          .body = s_health(h1, sizeof h1,
                           "10.0.1.15:5432:healthy "
                           "10.0.2.37:5432:initial:Elb.RegistrationInProgress") },
        { .status = 200, .body = s_health(h2, sizeof h2, "10.0.1.15:5432:healthy "
                                                          "10.0.2.37:5432:healthy") },
        { .status = 200, .body = s_dereg_ok },
    };
    struct s_env env;
    T_CHECK(s_env_init(&env, elb, 6, true) == 0);
    T_OK(fsg_nlb_sync_run(&env.o, &env.r, NULL));
    T_CHECK(t_aws_fixture_all_used(&env.elb) && t_aws_fixture_all_used(&env.rds) &&
            t_aws_fixture_all_used(&env.ec2));
    T_STR_EQ(t_aws_fixture_body(&env.rds, 0),
             "Action=DescribeDBInstances&Version=2014-10-31&DBInstanceIdentifier=orders");
    T_STR_EQ(t_aws_fixture_body(&env.ec2, 0),
             "Action=DescribeNetworkInterfaces&Version=2016-11-15&Filter.1.Name=group-id"
             "&Filter.1.Value.1=sg-db&Filter.2.Name=availability-zone&Filter.2.Value.1=us-east-1b"
             "&Filter.3.Name=vpc-id&Filter.3.Value.1=vpc-1&MaxResults=1000");
    T_STR_EQ(t_aws_fixture_body(&env.elb, 2),
             "Action=RegisterTargets&Version=2015-12-01&TargetGroupArn=" S_ARN_ENC
             "&Targets.member.1.Id=10.0.2.37&Targets.member.1.Port=5432");
    T_STR_EQ(t_aws_fixture_body(&env.elb, 5),
             "Action=DeregisterTargets&Version=2015-12-01&TargetGroupArn=" S_ARN_ENC
             "&Targets.member.1.Id=10.0.1.15&Targets.member.1.Port=5432");
    T_CHECK(env.clock.sleeps == 1 && env.clock.slept_ms == 400);
    T_CHECK(env.r.outcome == FSG_NLB_UPDATED && env.r.registered && env.r.n_deregistered == 1);
    T_STR_EQ(env.r.address.ip, "10.0.2.37");
    T_STR_EQ(env.r.eni_id, "eni-b");
    T_CHECK(env.events.n == 2);
    const char *reg = strstr(env.events.log, "\"event\":\"nlb_register\"");
    const char *dereg = strstr(env.events.log, "\"event\":\"nlb_deregister\"");
    T_CHECK(reg != NULL && dereg != NULL && reg < dereg);
    T_CHECK(strstr(env.events.log, "\"target\":\"10.0.1.15\",\"port\":5432,\"dry_run\":false") !=
            NULL);
    T_CHECK(s_summary_has(&env, "\"target_group_arn\":\"" S_ARN "\",\"rds_instance\":\"orders\","
                                "\"address\":\"10.0.2.37\",\"port\":5432,\"eni\":\"eni-b\","
                                "\"availability_zone\":\"us-east-1b\","
                                "\"registered\":[{\"id\":\"10.0.2.37\",\"port\":5432}],"
                                "\"deregistered\":[{\"id\":\"10.0.1.15\",\"port\":5432}],"
                                "\"unchanged\":[],\"kept_stale\":[],\"dry_run\":false,"
                                "\"result\":\"updated\"}"));
    s_env_clean_up(&env);
    return 0;
}

/* The new target never becomes healthy: the old one stays, FSG_E_CANCELLED names the IP, the
 * target group and the last reason, and a refusal event is emitted. */
static int s_run_never_healthy(void)
{
    char h0[1024], hn[1024];
    s_health(hn, sizeof hn, "10.0.1.15:5432:healthy 10.0.2.37:5432:unhealthy:Target.Timeout");
    const struct t_http_exchange elb[] = {
        { .status = 200, .body = s_tg_ip },
        { .status = 200, .body = s_health(h0, sizeof h0, "10.0.1.15:5432:healthy") },
        { .status = 200, .body = s_reg_ok },
        { .status = 200, .body = hn }, /* t = 0 */
        { .status = 200, .body = hn }, /* t = 400 */
        { .status = 200, .body = hn }, /* t = 800 */
        { .status = 200, .body = hn }, /* t = 1000: deadline */
    };
    struct s_env env;
    T_CHECK(s_env_init(&env, elb, 7, true) == 0);
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_CANCELLED, fsg_nlb_sync_run(&env.o, &env.r, &err));
    T_CHECK(t_aws_fixture_all_used(&env.elb)); /* and no DeregisterTargets */
    T_CHECK(env.clock.slept_ms == 1000 && env.clock.sleeps == 3);
    T_CHECK(strstr(err.msg, "10.0.2.37:5432") != NULL);
    T_CHECK(strstr(err.msg, S_ARN) != NULL);
    T_CHECK(strstr(err.msg, "Target.Timeout") != NULL);
    T_CHECK(strstr(err.msg, "within 1 s") != NULL);
    T_CHECK(strstr(err.msg, "old targets stay registered") != NULL);
    T_CHECK(env.r.outcome == FSG_NLB_FAILED && env.r.registered && env.r.stale_kept);
    T_CHECK(env.r.n_deregistered == 0);
    T_STR_EQ(env.r.last_state, "unhealthy");
    T_STR_EQ(env.r.last_reason, "Target.Timeout");
    T_CHECK(strstr(env.events.log, "\"event\":\"nlb_deregister_refused\"") != NULL);
    T_CHECK(strstr(env.events.log, "\"reason\":\"replacement 10.0.2.37:5432 is not healthy") !=
            NULL);
    T_CHECK(s_summary_has(&env, "\"deregistered\":[]"));
    T_CHECK(s_summary_has(&env, "\"kept_stale\":[{\"id\":\"10.0.1.15\",\"port\":5432}]"));
    T_CHECK(s_summary_has(&env, "\"result\":\"failed\""));
    s_env_clean_up(&env);
    return 0;
}

/* The default healthy wait covers AWS's "a few minutes" of registration plus the healthy
 * threshold: a target that passes after 8 minutes (well past the old 120 s) is waited for, and
 * the default gives up at 600 s. */
static int s_run_default_wait(void)
{
    T_CHECK(FSG_NLB_DEFAULT_HEALTHY_TIMEOUT_S == 600);
    char h0[1024], hi[1024], hh[1024];
    s_health(hi, sizeof hi, "10.0.1.15:5432:healthy "
                            "10.0.2.37:5432:initial:Elb.RegistrationInProgress");
    const struct t_http_exchange elb[] = {
        { .status = 200, .body = s_tg_ip },
        { .status = 200, .body = s_health(h0, sizeof h0, "10.0.1.15:5432:healthy") },
        { .status = 200, .body = s_reg_ok },
        { .status = 200, .body = hi }, /* t = 0 */
        { .status = 200, .body = hi }, /* t = 240 s */
        { .status = 200, .body = s_health(hh, sizeof hh, "10.0.1.15:5432:healthy "
                                                          "10.0.2.37:5432:healthy") }, /* 480 s */
        { .status = 200, .body = s_dereg_ok },
    };
    struct s_env env;
    T_CHECK(s_env_init(&env, elb, 7, true) == 0);
    env.o.healthy_timeout_s = 0; /* the default */
    env.o.poll_ms = 240000;
    T_OK(fsg_nlb_sync_run(&env.o, &env.r, NULL));
    T_CHECK(t_aws_fixture_all_used(&env.elb));
    T_CHECK(env.clock.slept_ms == 480000 && env.r.n_deregistered == 1);
    s_env_clean_up(&env);

    const struct t_http_exchange never[] = {
        { .status = 200, .body = s_tg_ip },
        { .status = 200, .body = h0 },
        { .status = 200, .body = s_reg_ok },
        { .status = 200, .body = hi }, /* t = 0 */
        { .status = 200, .body = hi }, /* t = 240 s */
        { .status = 200, .body = hi }, /* t = 480 s */
        { .status = 200, .body = hi }, /* t = 600 s: deadline */
    };
    struct fsg_error err = { 0 };
    T_CHECK(s_env_init(&env, never, 7, true) == 0);
    env.o.healthy_timeout_s = 0;
    env.o.poll_ms = 240000;
    T_ERR(FSG_E_CANCELLED, fsg_nlb_sync_run(&env.o, &env.r, &err));
    T_CHECK(env.clock.slept_ms == 600000);
    T_CHECK(strstr(err.msg, "within 600 s") != NULL);
    s_env_clean_up(&env);
    return 0;
}

static int s_run_in_sync(void)
{
    char h0[1024];
    const struct t_http_exchange elb[] = {
        { .status = 200, .body = s_tg_ip },
        { .status = 200, .body = s_health(h0, sizeof h0, "10.0.2.37:5432:healthy") },
    };
    struct s_env env;
    T_CHECK(s_env_init(&env, elb, 2, true) == 0);
    T_OK(fsg_nlb_sync_run(&env.o, &env.r, NULL));
    T_CHECK(t_aws_fixture_all_used(&env.elb));
    T_CHECK(env.r.outcome == FSG_NLB_IN_SYNC && env.events.n == 0 && env.clock.sleeps == 0);
    T_CHECK(s_summary_has(&env, "\"registered\":[],\"deregistered\":[],"
                                "\"unchanged\":[{\"id\":\"10.0.2.37\",\"port\":5432,"
                                "\"state\":\"healthy\"}]"));
    T_CHECK(s_summary_has(&env, "\"result\":\"in_sync\""));
    s_env_clean_up(&env);
    return 0;
}

static int s_run_dry_run(void)
{
    char h0[1024];
    const struct t_http_exchange elb[] = {
        { .status = 200, .body = s_tg_ip },
        { .status = 200, .body = s_health(h0, sizeof h0, "10.0.1.15:5432:healthy") },
    };
    struct s_env env;
    T_CHECK(s_env_init(&env, elb, 2, true) == 0);
    env.o.dry_run = true;
    T_OK(fsg_nlb_sync_run(&env.o, &env.r, NULL));
    T_CHECK(t_aws_fixture_all_used(&env.elb)); /* no Register/Deregister */
    T_CHECK(env.r.outcome == FSG_NLB_WOULD_UPDATE && env.events.n == 2);
    T_CHECK(strstr(env.events.log, "\"dry_run\":true") != NULL);
    T_CHECK(s_summary_has(&env, "\"registered\":[{\"id\":\"10.0.2.37\",\"port\":5432}],"
                                "\"deregistered\":[{\"id\":\"10.0.1.15\",\"port\":5432}]"));
    T_CHECK(s_summary_has(&env, "\"dry_run\":true,\"result\":\"would_update\""));
    s_env_clean_up(&env);
    return 0;
}

/* Already registered but not healthy yet, with a stale target: no registration, wait, then
 * deregister; the config port overrides the instance's. */
static int s_run_unchanged_wait(void)
{
    char h0[1024], h1[1024];
    const struct t_http_exchange elb[] = {
        { .status = 200, .body = s_tg_ip },
        { .status = 200, .body = s_health(h0, sizeof h0, "10.0.1.15:6432:healthy "
                                                          "10.0.2.37:6432:initial") },
        { .status = 200, .body = h0 },
        { .status = 200, .body = s_health(h1, sizeof h1, "10.0.1.15:6432:healthy "
                                                          "10.0.2.37:6432:healthy") },
        { .status = 200, .body = s_dereg_ok },
    };
    struct s_env env;
    T_CHECK(s_env_init(&env, elb, 5, true) == 0);
    env.o.port = 6432;
    T_OK(fsg_nlb_sync_run(&env.o, &env.r, NULL));
    T_CHECK(t_aws_fixture_all_used(&env.elb));
    T_CHECK(strstr(t_aws_fixture_body(&env.elb, 4), "Action=DeregisterTargets") != NULL);
    T_CHECK(strstr(t_aws_fixture_body(&env.elb, 4), "Targets.member.1.Port=6432") != NULL);
    T_CHECK(!env.r.registered && env.r.n_deregistered == 1 && env.events.n == 1);
    s_env_clean_up(&env);
    return 0;
}

/* The target group is in another VPC than the database: AvailabilityZone=all. */
static int s_run_other_vpc(void)
{
    char h0[1024], h1[1024];
    const struct t_http_exchange elb[] = {
        { .status = 200, .body = s_tg_other_vpc },
        { .status = 200, .body = s_health(h0, sizeof h0, "") },
        { .status = 200, .body = s_reg_ok },
        { .status = 200, .body = s_health(h1, sizeof h1, "10.0.2.37:5432:healthy") },
    };
    struct s_env env;
    T_CHECK(s_env_init(&env, elb, 4, true) == 0);
    T_OK(fsg_nlb_sync_run(&env.o, &env.r, NULL));
    T_CHECK(t_aws_fixture_all_used(&env.elb));
    T_CHECK(strstr(t_aws_fixture_body(&env.elb, 2),
                   "&Targets.member.1.Port=5432&Targets.member.1.AvailabilityZone=all") != NULL);
    T_CHECK(env.r.outcome == FSG_NLB_UPDATED && env.r.n_deregistered == 0);
    s_env_clean_up(&env);
    return 0;
}

/* Failures before the first change change nothing; a failed registration deregisters nothing. */
static int s_run_errors(void)
{
    char h0[1024];
    s_health(h0, sizeof h0, "10.0.1.15:5432:healthy");
    const struct {
        const char *name;
        struct t_http_exchange elb[5];
        size_t n;
        bool reads;
        enum fsg_err want;
        const char *msg;
    } cases[] = {
        { "no target group", { { .status = 400, .body = s_tg_not_found } }, 1, false,
          FSG_E_NOT_FOUND, "TargetGroupNotFound" },
        { "instance target group", { { .status = 200, .body = s_tg_instance } }, 1, false,
          FSG_E_INVALID_ARG, "target type instance" },
        { "registration throttled",
          { { .status = 200, .body = s_tg_ip }, { .status = 200, .body = h0 },
            { .status = 400, .body = s_throttled }, { .status = 400, .body = s_throttled },
            { .status = 400, .body = s_throttled } },
          5, true, FSG_E_THROTTLED, "RegisterTargets" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct s_env env;
        T_CHECK(s_env_init(&env, cases[i].elb, cases[i].n, cases[i].reads) == 0);
        struct fsg_error err = { 0 };
        T_ERR(cases[i].want, fsg_nlb_sync_run(&env.o, &env.r, &err));
        if (strstr(err.msg, cases[i].msg) == NULL) {
            fprintf(stderr, "case %s: %s\n", cases[i].name, err.msg);
            T_CHECK(false);
        }
        T_CHECK(env.r.outcome == FSG_NLB_FAILED && !env.r.registered && env.events.n == 0);
        T_CHECK(env.elb.script.next <= cases[i].n);
        for (size_t k = 0; k < env.elb.script.n_rec; k++) {
            T_CHECK(strstr(t_aws_fixture_body(&env.elb, k), "DeregisterTargets") == NULL);
        }
        s_env_clean_up(&env);
    }
    return 0;
}

static int s_run_bad_options(void)
{
    struct s_env env;
    T_CHECK(s_env_init(&env, NULL, 0, false) == 0);
    env.o.target_group_arn = "";
    T_ERR(FSG_E_INVALID_ARG, fsg_nlb_sync_run(&env.o, &env.r, NULL));
    env.o.target_group_arn = S_ARN;
    env.o.rds_instance = NULL;
    T_ERR(FSG_E_INVALID_ARG, fsg_nlb_sync_run(&env.o, &env.r, NULL));
    env.o.rds_instance = "orders";
    env.o.ec2 = NULL;
    T_ERR(FSG_E_INVALID_ARG, fsg_nlb_sync_run(&env.o, &env.r, NULL));
    T_CHECK(env.elb.script.n_rec == 0);
    s_env_clean_up(&env);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "plan_cases", s_plan_cases },
        { "plan_refusals", s_plan_refusals },
        { "first_unhealthy", s_first_unhealthy },
        { "eni_selection", s_eni_selection },
        { "run_failover", s_run_failover },
        { "run_never_healthy", s_run_never_healthy },
        { "run_default_wait", s_run_default_wait },
        { "run_in_sync", s_run_in_sync },
        { "run_dry_run", s_run_dry_run },
        { "run_unchanged_wait", s_run_unchanged_wait },
        { "run_other_vpc", s_run_other_vpc },
        { "run_errors", s_run_errors },
        { "run_bad_options", s_run_bad_options },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
