/* A scripted AWS Query client for the EC2 / RDS / ELBv2 / nlb-sync unit tests: an
 * fsg_aws_client over tests/unit/http_script.h with fixed credentials and instant retries. */
#ifndef FSG_TESTS_UNIT_AWS_FIXTURE_H
#define FSG_TESTS_UNIT_AWS_FIXTURE_H

#include <stddef.h>

#include "lib/aws/aws.h"
#include "lib/aws/creds.h"
#include "tests/unit/http_script.h"

struct t_aws_fixture {
    struct t_http_script script;
    struct fsg_http_client *http;
    struct fsg_credentials creds;
    struct fsg_aws_client *aws;
    unsigned sleeps;                /* retry sleeps requested (not slept) */
};

/* A client for `service` ("ec2", "rds", "elasticloadbalancing") answering from ex[0..n).
 * Returns 0 on success (test style). */
int t_aws_fixture_init(struct t_aws_fixture *f, const char *service,
                       const struct t_http_exchange *ex, size_t n);
void t_aws_fixture_clean_up(struct t_aws_fixture *f);

/* The form body of recorded request i ("" when there is none). */
const char *t_aws_fixture_body(const struct t_aws_fixture *f, size_t i);

/* Whether every exchange was used and every request matched. */
int t_aws_fixture_all_used(const struct t_aws_fixture *f);

#endif
