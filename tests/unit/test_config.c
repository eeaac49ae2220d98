#include <stdio.h>
#include <string.h>

#include "cmd/config.h"
#include "tests/harness/test.h"

static int s_contract_example_parses(void)
{
    static const char text[] =
        "{\"region\": \"us-east-1\","
        " \"pce\": {\"url\": \"https://pce.example.com:8443\", \"org_id\": 1,"
        "  \"key_env\": \"PCE_API_KEY\", \"secret_env\": \"PCE_API_SECRET\", \"ca_file\": null, \"timeout_s\": 30},"
        " \"targets\": [{\"name\": \"orders-db\", \"rds_instance\": \"postgresql-prod\","
        "  \"virtual_service\": \"VS-RDS-orders-db\", \"security_group\": \"sg-0123456789abcdef0\","
        "  \"associate\": \"add\", \"enis\": [], \"flow_log_id\": null}],"
        " \"guards\": {\"max_removals\": 10, \"allow_empty\": false, \"allow_public\": false, \"max_rules\": 60},"
        " \"flowlogs\": {\"key_regex\": \"vpcflowlogs/.*\\\\.log\\\\.gz$\", \"format\": null},"
        " \"nlb\": {\"target_group_arn\": \"arn:aws:elasticloadbalancing:x\", \"rds_instance\": \"postgresql-prod\","
        "  \"port\": 5432, \"healthy_timeout_s\": 120},"
        " \"dry_run\": false}";
    struct fsg_config *c = NULL;
    struct fsg_error err;
    T_OK(fsg_config_parse(fsg_span_from_cstr(text), &c, &err));
    T_STR_EQ(c->region, "us-east-1");
    T_STR_EQ(c->pce.url, "https://pce.example.com:8443");
    T_CHECK(c->n_targets == 1);
    T_STR_EQ(c->targets[0].virtual_service, "VS-RDS-orders-db");
    T_STR_EQ(c->targets[0].security_group, "sg-0123456789abcdef0");
    T_CHECK(c->targets[0].associate == FSG_ASSOCIATE_ADD);
    T_STR_EQ(c->key_regex, "vpcflowlogs/.*\\.log\\.gz$");
    T_CHECK(c->nlb.port == 5432);
    T_CHECK(c->guards.max_rules == 60);
    fsg_config_destroy(c);
    return 0;
}

static int s_defaults(void)
{
    struct fsg_config *c = NULL;
    T_OK(fsg_config_parse(fsg_span_from_cstr("{}"), &c, NULL));
    T_CHECK(c->guards.max_removals == 10 && c->guards.max_rules == 60);
    T_CHECK(!c->guards.allow_empty && !c->guards.allow_public);
    T_STR_EQ(c->pce.key_env, "PCE_API_KEY");
    T_CHECK(c->pce.org_id == 1 && c->pce.timeout_s == 30);
    T_CHECK(c->n_targets == 0 && c->region == NULL);
    fsg_config_destroy(c);
    return 0;
}

static int s_create_group_and_labels(void)
{
    static const char text[] =
        "{\"targets\": [{\"name\": \"t\", \"labels\": {\"role\": \"Database\", \"app\": \"Orders\"},"
        " \"security_group\": {\"create\": \"flowseg-orders\", \"vpc_id\": \"vpc-1\"},"
        " \"associate\": \"replace\", \"enis\": [\"eni-1\", \"eni-2\"]}]}";
    struct fsg_config *c = NULL;
    T_OK(fsg_config_parse(fsg_span_from_cstr(text), &c, NULL));
    T_CHECK(c->targets[0].n_labels == 2);
    T_STR_EQ(c->targets[0].labels[0].key, "role");
    T_STR_EQ(c->targets[0].labels[1].value, "Orders");
    T_STR_EQ(c->targets[0].create_name, "flowseg-orders");
    T_CHECK(c->targets[0].security_group == NULL);
    T_CHECK(c->targets[0].associate == FSG_ASSOCIATE_REPLACE);
    T_CHECK(c->targets[0].n_enis == 2);
    fsg_config_destroy(c);
    return 0;
}

static int s_errors_name_the_field(void)
{
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        { "[]", "must be a JSON object" },
        { "{\"regoin\": \"x\"}", "unknown key \"regoin\"" },
        { "{\"targets\": [{\"name\": \"t\", \"associate\": \"swap\"}]}", "targets[0]: associate" },
        { "{\"targets\": [{\"rds_instance\": \"x\"}]}", "targets[0]: name is required" },
        { "{\"guards\": {\"max_removals\": -1}}", "guards.max_removals" },
        { "{\"pce\": {\"secret\": \"hunter2\"}}", "unknown key \"secret\"" },
        { "{\"targets\": [{\"name\": \"t\", \"workload\": \"w\", \"virtual_service\": \"v\"}]}",
          "one of virtual_service, workload or labels" },
        { "{\"region\": 1}", "region: must be a string" },
        { "{\"a\": ", "invalid JSON at line 1" },
        { "", "the config is empty" },
        { "{\"pce\": {\"secret_arn\": \"a\", \"secret_parameter\": \"/p\"}}",
          "set secret_arn or secret_parameter, not both" },
        { " \n\t\n", "the config is empty" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fsg_config *c = NULL;
        struct fsg_error err = { 0 };
        T_ERR(FSG_E_PARSE, fsg_config_parse(fsg_span_from_cstr(cases[i].text), &c, &err));
        T_CHECK(c == NULL);
        if (strstr(err.msg, cases[i].want) == NULL) {
            T_STR_EQ(err.msg, cases[i].want);
        }
        T_CHECK(strstr(err.msg, "hunter2") == NULL);
    }
    return 0;
}

static int s_pce_secret_in_aws(void)
{
    struct fsg_config *c = NULL;
    struct fsg_error err = { 0 };
    T_OK(fsg_config_parse(fsg_span_from_cstr("{\"pce\": {\"url\": \"https://pce:8443\", "
                                             "\"secret_arn\": \"arn:aws:secretsmanager:eu-west-1:"
                                             "1:secret:pce\"}}"), &c, &err));
    T_STR_EQ(c->pce.secret_arn, "arn:aws:secretsmanager:eu-west-1:1:secret:pce");
    T_CHECK(c->pce.secret_parameter == NULL);
    fsg_config_destroy(c);
    T_OK(fsg_config_parse(fsg_span_from_cstr("{\"pce\": {\"secret_parameter\": \"/flowseg/pce\"}}"),
                          &c, &err));
    T_STR_EQ(c->pce.secret_parameter, "/flowseg/pce");
    fsg_config_destroy(c);
    return 0;
}

static int s_load_inline_or_path(void)
{
    struct fsg_config *c = NULL;
    struct fsg_error err;
    T_OK(fsg_config_load("  {\"region\": \"eu-west-1\"}", &c, &err));
    T_STR_EQ(c->region, "eu-west-1");
    fsg_config_destroy(c);
    c = NULL;
    T_ERR(FSG_E_NOT_FOUND, fsg_config_load("/nonexistent/flowseg.json", &c, &err));
    T_CHECK(strstr(err.msg, "/nonexistent/flowseg.json") != NULL);
    return 0;
}

/* "ownership": group (default) or rules; anything else is named. */
static int s_ownership(void)
{
    struct fsg_config *c = NULL;
    struct fsg_error err = { 0 };
    T_OK(fsg_config_parse(fsg_span_from_cstr("{\"targets\": [{\"name\": \"a\", \"security_group\": "
                                             "\"sg-1\"}, {\"name\": \"b\", \"security_group\": "
                                             "\"sg-2\", \"ownership\": \"rules\"}, {\"name\": \"c\", "
                                             "\"security_group\": \"sg-3\", \"ownership\": "
                                             "\"group\"}]}"),
                          &c, NULL));
    T_CHECK(c->targets[0].ownership == FSG_OWNERSHIP_GROUP);
    T_CHECK(c->targets[1].ownership == FSG_OWNERSHIP_RULES);
    T_CHECK(c->targets[2].ownership == FSG_OWNERSHIP_GROUP);
    fsg_config_destroy(c);
    c = NULL;
    T_CHECK(fsg_config_parse(fsg_span_from_cstr("{\"targets\": [{\"name\": \"a\", \"ownership\": "
                                                "\"all\"}]}"), &c, &err) == FSG_E_PARSE);
    T_CHECK(c == NULL);
    T_CHECK(strstr(err.msg, "targets[0]: ownership must be group") != NULL);
    return 0;
}

/* Contradictory targets: each violation is named in the one error. */
static int s_targets_validated(void)
{
    static const struct {
        const char *text;
        const char *want[3];
    } cases[] = {
        { "{\"targets\": [{\"name\": \"\"}]}", { "targets[0]: name must not be empty" } },
        { "{\"targets\": [{\"name\": \"a\", \"security_group\": \"sg-1\"},"
          " {\"name\": \"a\", \"security_group\": \"sg-2\"}]}",
          { "targets[0] and targets[1] have the same name \"a\"" } },
        { "{\"targets\": [{\"name\": \"a\", \"security_group\": \"sg-1\"},"
          " {\"name\": \"b\", \"security_group\": \"sg-1\"}]}",
          { "targets a and b manage the same security group sg-1" } },
        { "{\"targets\": [{\"name\": \"a\", \"rds_instance\": \"db\", \"security_group\": \"sg-1\"},"
          " {\"name\": \"b\", \"rds_instance\": \"db\", \"security_group\": \"sg-2\"}]}",
          { "targets a and b protect the same RDS instance db" } },
        { "{\"targets\": [{\"name\": \"a\", \"security_group\": {\"create\": \"g\", \"vpc_id\": \"v\"}},"
          " {\"name\": \"b\", \"security_group\": {\"create\": \"g\", \"vpc_id\": \"v\"}}]}",
          { "targets a and b create the same security group g" } },
        /* every violation at once, each named */
        { "{\"targets\": [{\"name\": \"a\", \"rds_instance\": \"db\", \"security_group\": \"sg-1\"},"
          " {\"name\": \"b\", \"rds_instance\": \"db\", \"security_group\": \"sg-1\"},"
          " {\"name\": \"b\", \"security_group\": \"sg-9\"}]}",
          { "same security group sg-1", "same RDS instance db", "targets[1] and targets[2] have the "
            "same name \"b\"" } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fsg_config *c = NULL;
        struct fsg_error err = { 0 };
        T_CHECK(fsg_config_parse(fsg_span_from_cstr(cases[i].text), &c, &err) == FSG_E_PARSE);
        T_CHECK(c == NULL);
        for (size_t k = 0; k < 3 && cases[i].want[k] != NULL; k++) {
            if (strstr(err.msg, cases[i].want[k]) == NULL) {
                fprintf(stderr, "  case %zu: \"%s\" lacks \"%s\"\n", i, err.msg,
                        cases[i].want[k]);
                return 1;
            }
        }
    }
    /* different VPCs may hold groups of the same name; distinct targets pass */
    struct fsg_config *ok = NULL;
    T_OK(fsg_config_parse(fsg_span_from_cstr(
                              "{\"targets\": [{\"name\": \"a\", \"security_group\": {\"create\": "
                              "\"g\", \"vpc_id\": \"v1\"}}, {\"name\": \"b\", \"security_group\": "
                              "{\"create\": \"g\", \"vpc_id\": \"v2\"}}]}"),
                          &ok, NULL));
    fsg_config_destroy(ok);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "contract_example_parses", s_contract_example_parses },
        { "defaults", s_defaults },
        { "create_group_and_labels", s_create_group_and_labels },
        { "errors_name_the_field", s_errors_name_the_field },
        { "pce_secret_in_aws", s_pce_secret_in_aws },
        { "load_inline_or_path", s_load_inline_or_path },
        { "ownership", s_ownership },
        { "targets_validated", s_targets_validated },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
