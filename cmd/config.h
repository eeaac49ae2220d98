/* The JSON config of CONTRACT.md, as plain structs. Strings are owned by the config. */
#ifndef FSG_CMD_CONFIG_H
#define FSG_CMD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/buf.h"

enum fsg_associate { FSG_ASSOCIATE_ADD = 0, FSG_ASSOCIATE_REPLACE, FSG_ASSOCIATE_NONE };

/* A target's "ownership" (CONTRACT.md): whose rules the managed group holds. */
enum fsg_config_ownership {
    FSG_OWNERSHIP_GROUP = 0, /* "group" (default): the group is flowseg's; every inbound rule the
                              * policy does not yield is removed, whoever added it */
    FSG_OWNERSHIP_RULES,     /* "rules": a shared group; only "flowseg " rules are managed */
};

struct fsg_config_label {
    char *key;
    char *value;
};

struct fsg_config_target {
    char *name;
    char *rds_instance;      /* NULL when absent */
    /* The PCE side: exactly one of these three. */
    char *virtual_service;   /* name or href */
    char *workload;          /* name or href */
    struct fsg_config_label *labels;
    size_t n_labels;
    /* The AWS side. */
    char *security_group;    /* "sg-..." or NULL when create_name is set */
    char *create_name;       /* security_group: {"create": NAME, "vpc_id": ...} */
    char *create_vpc_id;
    enum fsg_associate associate;
    enum fsg_config_ownership ownership; /* "ownership", default group */
    char **enis;             /* known ENI ids, may be empty */
    size_t n_enis;
    char **eni_addrs;        /* known ENI addresses ("10.0.20.11"), may be empty */
    size_t n_eni_addrs;
    char *flow_log_id;       /* "fl-..." or NULL */
    long port;               /* database port (0 = from RDS / policy) */
};

struct fsg_config_guards {
    long max_removals;       /* default 10 */
    bool allow_empty;        /* default false */
    bool allow_public;       /* default false */
    long max_rules;          /* default 60 */
    long max_cut_sources;    /* default 10: observed sources with accepted traffic one apply
                              * may cut off (needs flow SOURCEs) */
};

struct fsg_config_pce {
    char *url;               /* NULL when no PCE is configured */
    long org_id;             /* default 1 */
    char *key_env;           /* default "PCE_API_KEY" */
    char *secret_env;        /* default "PCE_API_SECRET" */
    char *key_file;          /* optional: read the key from this file instead */
    char *secret_file;
    char *secret_arn;        /* Secrets Manager secret (name or ARN) holding the key/secret */
    char *secret_parameter;  /* or an SSM parameter (SecureString) holding them */
    char *ca_file;
    long timeout_s;          /* default 30 */
    long async_wait_s;       /* total wait for one async collection job; default 600 */
};

struct fsg_config_nlb {
    char *target_group_arn;
    char *rds_instance;
    long port;               /* 0 = the instance's port */
    long healthy_timeout_s;  /* default 120 */
};

struct fsg_config {
    char *region;            /* NULL = from the environment */
    struct fsg_config_pce pce;
    struct fsg_config_target *targets;
    size_t n_targets;
    struct fsg_config_guards guards;
    char *key_regex;         /* flowlogs.key_regex, NULL = every key */
    char *flowlog_format;    /* flowlogs.format: header-less field list, NULL = default format */
    char *flowlog_summaries; /* flowlogs.summaries: s3://bucket/prefix/ of per-object flow
                              * summaries (flowlogs/summary.h), NULL = none */
    char *fanout_queue_url;  /* flowlogs.fanout_queue_url: the SQS queue a Lambda backfill
                              * ({"scan": ..., "fanout": true}) sends its batches to */
    struct fsg_config_nlb nlb;
    bool dry_run;
    long policy_ttl_s;       /* Lambda: reuse the policy for this long (0 = reload each time) */
    long timeout_s;          /* the whole run's deadline (every request, retry and wait stops
                              * at it); 0 = none. The Lambda also stops at its own deadline. */
};

/* Parses config JSON (inline text). Unknown keys are an error (a typo must not pass silently).
 * Targets are validated together: names unique and non-empty, one target per security group
 * (id or create name in a VPC) and per RDS instance; the error names each violation. */
enum fsg_err fsg_config_parse(struct fsg_span json, struct fsg_config **ret_config,
                              struct fsg_error *err) FSG_MUST_USE;
/* arg is inline JSON when it starts with '{', else a file path. */
enum fsg_err fsg_config_load(const char *arg, struct fsg_config **ret_config,
                             struct fsg_error *err) FSG_MUST_USE;
/* An empty config with every default. */
enum fsg_err fsg_config_new_default(struct fsg_config **ret_config, struct fsg_error *err) FSG_MUST_USE;
void fsg_config_destroy(struct fsg_config *config); /* NULL ok */

#endif
