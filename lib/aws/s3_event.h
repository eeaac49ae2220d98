/* Lambda event parsing: which S3 objects, API calls (or which job) an invocation is about.
 * Pure: no I/O, no clock, no environment. Wire formats: ref/aws-wire.md §2.
 *
 * Recognised events (top-level JSON object):
 * - S3 notification `{"Records": [...]}` (also wrapped in an SNS `Sns.Message`): every
 *   `ObjectCreated:*` record is an item; other event names are counted as ignored. Keys arrive
 *   form-encoded (`+` = space, `%XX`) and are decoded here ("the object keyname value is URL
 *   encoded", S3 User Guide, "Event message structure").
 * - SQS batches `{"Records": [{"eventSource": "aws:sqs", "messageId", "body"}...]}`: each body
 *   is an S3 notification, an SNS envelope (`{"Type": "Notification", "Message": "..."}`, the
 *   S3 -> SNS -> SQS fan-out without raw message delivery) around one, or an EventBridge event
 *   (EventBridge -> SQS). Each record is one message (ev->messages); a body that cannot be
 *   understood is that message's error, not the batch's, so the Lambda can answer
 *   batchItemFailures for it alone.
 * - EventBridge `{"source": "aws.s3", "detail-type": "Object Created", "detail": {...}}`:
 *   one item with key_as_sent (see struct fsg_s3_event_item).
 * - EventBridge schedule `{"source": "aws.events", "detail-type": "Scheduled Event"}`:
 *   reconcile every target.
 * - EventBridge "AWS API Call via CloudTrail" (source aws.ec2 or aws.rds) for
 *   AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress, ModifySecurityGroupRules,
 *   UpdateSecurityGroupRuleDescriptionsIngress and ModifyDBInstance: one call (tamper
 *   protection); other event names are counted as ignored.
 * - `{"scan": "s3://bucket/prefix/", "dry_run": true|false}`: one item whose key is the (raw)
 *   prefix; "dry_run" (optional) plans without changing anything.
 * - `{"nlb_sync": true, "dry_run": true|false}`.
 * - The `s3:TestEvent` S3 sends when a notification is configured: nothing to do.
 * Anything else is FSG_E_PARSE with a message naming what was expected. */
#ifndef FSG_LIB_S3_EVENT_H
#define FSG_LIB_S3_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/buf.h"

enum fsg_s3_event_kind {
    FSG_S3_EVENT_OBJECTS = 0,   /* process the items (objects that were created) */
    FSG_S3_EVENT_RECONCILE_ALL, /* scheduled: reconcile every target (tamper protection) */
    FSG_S3_EVENT_SCAN,          /* one item: bucket + key prefix to list */
    FSG_S3_EVENT_NLB_SYNC,      /* keep the NLB target on the database's IP */
    FSG_S3_EVENT_TEST,          /* s3:TestEvent: nothing to do */
    FSG_S3_EVENT_API_CALL,      /* CloudTrail via EventBridge: reconcile the targets concerned */
};

#define FSG_S3_EVENT_NO_MESSAGE ((size_t)-1)

struct fsg_s3_event_item {
    char *bucket;  /* owned; validated: 3..255 of [A-Za-z0-9._-] */
    char *key;     /* owned; the decoded key (1..1024 bytes of UTF-8, no NUL), to be encoded
                    * exactly once when it goes into an S3 URL. For SCAN the prefix, may be "". */
    uint64_t size; /* object size in bytes from the event; 0 when absent */
    size_t message; /* index in ev->messages, FSG_S3_EVENT_NO_MESSAGE outside an SQS batch */
    /* EventBridge: the key exactly as the event gave it. The S3 EventBridge event reference
     * does not say that keys are URL-encoded (the S3 notification reference says they are), and
     * keys are reported to arrive encoded in some cases: the reader tries the key as given and,
     * on NoSuchKey, its form-decoded form (fsg_s3_key_form_decode). */
    bool key_as_sent;
};

/* The security-group or DB-instance API call of a CloudTrail event (EventBridge detail-type
 * "AWS API Call via CloudTrail"). Strings are owned; NULL when absent. Shapes: CloudTrail
 * record contents (requestParameters/responseElements as the service logs them):
 *   Authorize/RevokeSecurityGroupIngress, UpdateSecurityGroupRuleDescriptionsIngress:
 *     requestParameters.groupId (or groupName, default VPC), ipPermissions.items[] with
 *     ipRanges/ipv6Ranges/prefixListIds/groups .items[] (description per range);
 *     responseElements.securityGroupRuleSet.items[].groupId for Authorize;
 *   ModifySecurityGroupRules: requestParameters.ModifySecurityGroupRulesRequest.GroupId and
 *     .SecurityGroupRule (one object or a list) {SecurityGroupRuleId, SecurityGroupRule:
 *     {IpProtocol, FromPort, ToPort, CidrIpv4 | CidrIpv6 | PrefixListId | ReferencedGroupId,
 *     Description}};
 *   ModifyDBInstance: requestParameters.dBInstanceIdentifier, vpcSecurityGroupIds[]. */
struct fsg_s3_event_call {
    char *event_name;      /* one of the five handled names */
    char *group_id;        /* EC2 calls: the group changed */
    char *group_name;      /* EC2 calls naming the group by name only (default VPC) */
    char *db_instance;     /* ModifyDBInstance: the instance identifier (or ARN) as sent */
    char **vpc_sg_ids;     /* ModifyDBInstance: the new group list (owned strings) */
    size_t n_vpc_sg_ids;
    bool has_vpc_sg_ids;   /* ModifyDBInstance: vpcSecurityGroupIds was in the request */
    char *principal_arn;   /* detail.userIdentity.arn */
    char *access_key_id;   /* detail.userIdentity.accessKeyId (NULL when absent) */
    char *error_code;      /* detail.errorCode: the call failed and changed nothing */
    /* Authorize / ModifySecurityGroupRules: every rule written is a CIDR rule whose
     * description starts with "flowseg " (the only kind flowseg writes). */
    bool flowseg_rules_only;
    size_t message;        /* as in struct fsg_s3_event_item */
};

/* One SQS record of a batch. */
struct fsg_s3_event_message {
    char *id;    /* messageId (owned), the batchItemFailures itemIdentifier */
    char *error; /* owned: why its body was not understood; NULL when it was */
    bool summaries_only; /* a backfill batch (body "flowseg_fanout": true next to its Records):
                          * read the objects, writing their flow summaries; reconcile nothing */
};

struct fsg_s3_event {
    enum fsg_s3_event_kind kind;
    const char *origin;              /* static: "s3", "sqs", "sns", "eventbridge", "schedule",
                                      * "scan", "nlb_sync" */
    struct fsg_s3_event_item *items; /* owned */
    size_t n_items;
    size_t n_ignored;                /* records or events that are not an object creation */
    struct fsg_s3_event_call *calls; /* owned: API calls (kind API_CALL, or inside SQS) */
    size_t n_calls;
    struct fsg_s3_event_message *messages; /* owned: the SQS records, when origin is "sqs" */
    size_t n_messages;
    bool dry_run;                    /* {"scan"|"nlb_sync": ..., "dry_run": true} */
    /* {"scan": URL, "since": T, "until": T, "fanout": true}: list the prefix (the window kept
     * as sent, owned, NULL when absent) and send its keys in batches to the fan-out queue */
    bool fanout;
    char *since;
    char *until;
};

/* Parses one invocation payload (borrowed; need not be NUL-terminated; at most 8 MiB).
 * Caller owns *ret_event (set only on success); free with fsg_s3_event_destroy().
 * FSG_E_PARSE: not JSON, or not one of the recognised events (message says which part);
 * FSG_E_LIMIT: payload too large; FSG_E_NOMEM. */
enum fsg_err fsg_s3_event_parse(struct fsg_span json, struct fsg_s3_event **ret_event,
                                struct fsg_error *err) FSG_MUST_USE;

void fsg_s3_event_destroy(struct fsg_s3_event *event); /* NULL ok */

/* "objects", "reconcile_all", "scan", "nlb_sync", "test", "api_call". */
const char *fsg_s3_event_kind_name(enum fsg_s3_event_kind kind);

/* Form-decodes an S3-notification key into out (appended): `+` becomes a space, then `%XX`
 * becomes the byte XX (Python's unquote_plus). A `%` not followed by two hex digits, a
 * NUL byte (raw or decoded) or a result that is not UTF-8 is FSG_E_PARSE. */
enum fsg_err fsg_s3_key_form_decode(struct fsg_span encoded, struct fsg_buf *out,
                                    struct fsg_error *err) FSG_MUST_USE;

#endif
