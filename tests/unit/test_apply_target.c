/* cmd/apply_target.c over a scripted EC2 and RDS: a target whose plan has no calls yet gets them
 * made here; when that runs out of memory the target fails with an out-of-memory error (not a
 * quota refusal with an empty reason) and nothing is sent. A stop reaches the AWS clients. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd/apply_target.h"
#include "cmd/config.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"
#include "tests/unit/aws_fixture.h"

#define S_SG "sg-0123456789abcdef0"

static int s_schedule_out_of_memory_is_a_failure(void)
{
    struct t_aws_fixture f;
    T_CHECK(t_aws_fixture_init(&f, "ec2", NULL, 0) == 0);
    struct fsg_sg_plan *sg = NULL;
    T_OK(fsg_sg_plan_new(S_SG, &sg));
    struct fsg_sg_rule r = { .proto = 6, .from_port = 5432, .to_port = 5432,
                             .description = "flowseg r/41" };
    T_OK(fsg_cidr_parse(fsg_span_from_cstr("10.0.1.11/32"), false, &r.cidr));
    T_OK(fsg_sg_rules_append(&sg->add, &r));
    struct fsg_config cfg = { 0 };
    struct fsg_recon_target t = { 0 };
    t.res.group_id = (char *)S_SG;
    struct fsg_recon run = { .config = &cfg, .ec2 = f.aws, .targets = &t, .n_targets = 1 };
    struct fsg_plan_target pt = { .name = "orders-db", .security_group = S_SG, .sg = sg };
    struct fsg_apply_result res = { 0 };
    fsg_mem_fail_after(1); /* the first allocation: ordering the calls */
    fsg_apply_target(&run, &t, &pt, false, &res);
    fsg_mem_fail_after(0);
    T_CHECK(res.status == FSG_APPLY_FAILED && res.error_code == FSG_E_NOMEM);
    T_CHECK(res.error != NULL && strstr(res.error, "out of memory") != NULL &&
            strstr(res.error, "orders-db") != NULL);
    T_CHECK(!res.sg.quota_exceeded && f.script.n_rec == 0);
    fsg_free(res.error);
    fsg_sg_schedule_clean_up(&pt.calls);
    fsg_sg_plan_destroy(sg);
    t_aws_fixture_clean_up(&f);
    return 0;
}

/* A signal while ModifyDBInstance is in flight and the instance answers busy: the apply's stop
 * reaches the RDS client, so the call is not sent again (no wait, no resend): interrupted. */
static volatile sig_atomic_t s_stop;

static void s_stop_on_requested(enum fsg_log_level level, const char *line, void *userdata)
{
    (void)level;
    (void)userdata;
    if (strstr(line, "\"event\":\"requested\"") != NULL) {
        s_stop = SIGTERM;
    }
}

static int s_stop_reaches_the_rds_client(void)
{
    const struct t_http_exchange ex[] = {
        { .status = 400, .body = "<ErrorResponse><Error><Type>Sender</Type><Code>"
                                 "InvalidDBInstanceState</Code><Message>busy</Message></Error>"
                                 "<RequestId>r</RequestId></ErrorResponse>" },
    };
    struct t_aws_fixture ec2, rds;
    T_CHECK(t_aws_fixture_init(&ec2, "ec2", NULL, 0) == 0);
    T_CHECK(t_aws_fixture_init(&rds, "rds", ex, 1) == 0);
    struct fsg_sg_plan *sg = NULL;
    T_OK(fsg_sg_plan_new(S_SG, &sg));
    struct fsg_config cfg = { 0 };
    struct fsg_recon_target t = { 0 };
    t.req = (struct fsg_resolve_request){ .name = "orders-db", .rds_instance = "orders",
                                          .security_group = S_SG };
    t.res.group_id = fsg_strdup(S_SG);
    t.assoc.changes = true;
    s_stop = 0;
    struct fsg_recon run = { .config = &cfg, .ec2 = ec2.aws, .rds = rds.aws, .targets = &t,
                             .n_targets = 1, .stop = &s_stop,
                             .apply_deadline_ms = (int64_t)(time(NULL) + 600) * 1000 };
    struct fsg_plan_target pt = { .name = "orders-db", .security_group = S_SG, .sg = sg,
                                  .calls = { .fits = true } }; /* no rule changes */
    struct fsg_apply_result res = { 0 };
    fsg_log_set_sink(s_stop_on_requested, NULL, FSG_LOG_INFO);
    fsg_apply_target(&run, &t, &pt, false, &res);
    fsg_log_set_sink(NULL, NULL, FSG_LOG_ERROR);
    T_CHECK(res.status == FSG_APPLY_INTERRUPTED);
    T_CHECK(rds.script.n_rec == 1 && t_aws_fixture_all_used(&rds) && ec2.script.n_rec == 0);
    T_CHECK(fsg_aws_client_stop_requested(rds.aws) == false); /* put back after the target */
    fsg_free(res.error);
    fsg_resolved_target_clean_up(&t.res);
    fsg_sg_plan_destroy(sg);
    t_aws_fixture_clean_up(&ec2);
    t_aws_fixture_clean_up(&rds);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "schedule_out_of_memory_is_a_failure", s_schedule_out_of_memory_is_a_failure },
        { "stop_reaches_the_rds_client", s_stop_reaches_the_rds_client },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
