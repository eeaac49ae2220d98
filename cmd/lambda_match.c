/* The pure rules behind the CloudTrail path (cmd/lambda_calls.c): who made a call, whether the
 * change is one flowseg makes, which instance a call names. No I/O; unit-tested in
 * tests/unit/test_lambda_match.c. See cmd/lambda_internal.h. */
#include <string.h>

#include "cmd/lambda_internal.h"

bool fsg_lambda_own_session(const char *principal_arn, const char *access_key_id,
                            const char *function_name, const char *own_key_id)
{
    if (access_key_id == NULL || own_key_id == NULL || own_key_id[0] == '\0' ||
        strcmp(access_key_id, own_key_id) != 0) {
        return false;
    }
    /* Lambda's execution-role credentials are a role session named after the function:
     * CloudTrail's userIdentity.arn is arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/FUNCTION. */
    const char *arn = principal_arn;
    if (arn == NULL || function_name == NULL || function_name[0] == '\0' ||
        strncmp(arn, "arn:", 4) != 0 || strstr(arn, ":sts::") == NULL) {
        return false;
    }
    const char *role = strstr(arn, ":assumed-role/");
    const char *slash = role != NULL ? strchr(role + strlen(":assumed-role/"), '/') : NULL;
    return slash != NULL && strcmp(slash + 1, function_name) == 0;
}

static bool s_lists(const struct fsg_s3_event_call *c, const char *group)
{
    for (size_t i = 0; group != NULL && i < c->n_vpc_sg_ids; i++) {
        if (strcmp(c->vpc_sg_ids[i], group) == 0) {
            return true;
        }
    }
    return false;
}

bool fsg_lambda_flowseg_change(const struct fsg_s3_event_call *c, const char *managed_group)
{
    const char *n = c->event_name;
    if (strcmp(n, "AuthorizeSecurityGroupIngress") == 0 ||
        strcmp(n, "ModifySecurityGroupRules") == 0) {
        return c->flowseg_rules_only; /* CIDR rules described "flowseg ..." only */
    }
    if (strcmp(n, "RevokeSecurityGroupIngress") == 0) {
        return true; /* flowseg removes what its plan removes; a removal never widens access */
    }
    if (strcmp(n, "ModifyDBInstance") == 0) {
        return s_lists(c, managed_group); /* add/replace: the list holds the managed group */
    }
    return false; /* UpdateSecurityGroupRuleDescriptionsIngress: flowseg never calls it */
}

bool fsg_lambda_same_instance(const char *sent, const char *configured)
{
    if (sent == NULL || configured == NULL) {
        return false;
    }
    if (strcmp(sent, configured) == 0) {
        return true;
    }
    /* An ARN arn:PARTITION:rds:REGION:ACCOUNT:db:ID. */
    const char *db = strstr(sent, ":db:");
    return strncmp(sent, "arn:", 4) == 0 && db != NULL && strcmp(db + 4, configured) == 0;
}
