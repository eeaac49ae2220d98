/* The CloudTrail rules of `flowseg lambda` (cmd/lambda_match.c): flowseg's own role session,
 * the changes flowseg makes itself, instance identifiers and ARNs; on the event fixtures of
 * tests/data/events/ as parsed by lib/aws/s3_event. */
#include <stdio.h>
#include <string.h>

#include "cmd/lambda_internal.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"

static struct fsg_s3_event *s_fixture(const char *name)
{
    char rel[128];
    snprintf(rel, sizeof rel, "events/%s", name);
    struct fsg_buf b = FSG_BUF_INIT;
    struct fsg_s3_event *ev = NULL;
    if (t_read_data_file(rel, &b) != FSG_OK ||
        fsg_s3_event_parse(fsg_span_from_buf(&b), &ev, NULL) != FSG_OK || ev->n_calls != 1) {
        fsg_s3_event_destroy(ev);
        ev = NULL;
    }
    fsg_buf_clean_up(&b);
    return ev;
}

static int s_own_session(void)
{
    const char *arn = "arn:aws:sts::123456789012:assumed-role/flowseg-lambda/flowseg";
    const char *k = "ASIAOWNKEY";
#define S_OWN(a, name) fsg_lambda_own_session((a), k, (name), k)
    T_CHECK(S_OWN(arn, "flowseg"));
    T_CHECK(S_OWN("arn:aws-cn:sts::123456789012:assumed-role/r/flowseg", "flowseg"));
    T_CHECK(!S_OWN(arn, "flowseg-other"));
    T_CHECK(!S_OWN(arn, "flowseg-lambda")); /* the role is not the session */
    T_CHECK(!S_OWN("arn:aws:sts::123456789012:assumed-role/flowseg/alice", "flowseg"));
    T_CHECK(!S_OWN("arn:aws:iam::123456789012:user/flowseg", "flowseg"));
    T_CHECK(!S_OWN("arn:aws:sts::123456789012:assumed-role/flowseg", "flowseg"));
    T_CHECK(!S_OWN(NULL, "flowseg"));
    T_CHECK(!S_OWN(arn, NULL)); /* outside Lambda: nothing is ours */
    T_CHECK(!S_OWN(arn, ""));
#undef S_OWN
    /* Anyone may name an assumed-role session after the function: the key id must be ours. */
    T_CHECK(!fsg_lambda_own_session(arn, "ASIAOTHERKEY", "flowseg", k));
    T_CHECK(!fsg_lambda_own_session(arn, NULL, "flowseg", k));
    T_CHECK(!fsg_lambda_own_session(arn, k, "flowseg", NULL));
    T_CHECK(!fsg_lambda_own_session(arn, "", "flowseg", ""));
    return 0;
}

static int s_flowseg_changes(void)
{
    static const struct {
        const char *file;
        bool flowseg;
    } cases[] = {
        { "cloudtrail_authorize.json", false },       /* tcp 22 without a description */
        { "cloudtrail_authorize_self.json", true },   /* a "flowseg ..." CIDR rule */
        { "cloudtrail_revoke.json", true },           /* a removal */
        { "cloudtrail_modify_rules.json", false },    /* rewritten to 0.0.0.0/0, no description */
        { "cloudtrail_update_descriptions.json", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fsg_s3_event *ev = s_fixture(cases[i].file);
        T_CHECK(ev != NULL);
        T_CHECK(fsg_lambda_flowseg_change(&ev->calls[0], "sg-0123456789abcdef0") ==
                cases[i].flowseg);
        fsg_s3_event_destroy(ev);
    }
    /* ModifyDBInstance: ours when the new list holds the managed group. */
    struct fsg_s3_event *ev = s_fixture("cloudtrail_modify_db.json");
    T_CHECK(ev != NULL);
    T_CHECK(fsg_lambda_flowseg_change(&ev->calls[0], "sg-0fedcba9876543210"));
    T_CHECK(!fsg_lambda_flowseg_change(&ev->calls[0], "sg-0123456789abcdef0"));
    T_CHECK(!fsg_lambda_flowseg_change(&ev->calls[0], NULL));
    fsg_s3_event_destroy(ev);
    return 0;
}

static int s_instances(void)
{
    T_CHECK(fsg_lambda_same_instance("orders-db", "orders-db"));
    T_CHECK(fsg_lambda_same_instance("arn:aws:rds:us-east-1:123456789012:db:orders-db",
                                     "orders-db"));
    T_CHECK(!fsg_lambda_same_instance("orders-db-2", "orders-db"));
    T_CHECK(!fsg_lambda_same_instance("arn:aws:rds:us-east-1:123456789012:db:orders-db-2",
                                      "orders-db"));
    T_CHECK(!fsg_lambda_same_instance("x:db:orders-db", "orders-db"));
    T_CHECK(!fsg_lambda_same_instance("orders-db", NULL));
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "own_session", s_own_session },
        { "flowseg_changes", s_flowseg_changes },
        { "instances", s_instances },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
