/* Lambda event parsing: which S3 objects (or which job) an invocation is about.
 * Pure: no I/O, no clock, no environment. Wire formats: ref/aws-wire.md §2.
 *
 * Recognised events (top-level JSON object):
 * - S3 notification `{"Records": [...]}` (also wrapped in SQS `body` / SNS `Sns.Message`):
 *   every `ObjectCreated:*` record is an item; other event names are counted as ignored.
 *   Keys arrive form-encoded (`+` = space, `%XX`) and are decoded here.
 * - EventBridge `{"source": "aws.s3", "detail-type": "Object Created", "detail": {...}}`:
 *   one item; the key is taken as is (EventBridge does not form-encode it).
 * - EventBridge schedule `{"source": "aws.events", "detail-type": "Scheduled Event"}`:
 *   reconcile every target.
 * - `{"scan": "s3://bucket/prefix/"}`: one item whose key is the (raw) prefix.
 * - `{"nlb_sync": true}`.
 * - The `s3:TestEvent` S3 sends when a notification is configured: nothing to do.
 * Anything else is FSG_E_PARSE with a message naming what was expected. */
#ifndef FSG_LIB_S3_EVENT_H
#define FSG_LIB_S3_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/buf.h"

enum fsg_s3_event_kind {
    FSG_S3_EVENT_OBJECTS = 0,   /* process the items (objects that were created) */
    FSG_S3_EVENT_RECONCILE_ALL, /* scheduled: reconcile every target (tamper protection) */
    FSG_S3_EVENT_SCAN,          /* one item: bucket + key prefix to list */
    FSG_S3_EVENT_NLB_SYNC,      /* keep the NLB target on the database's IP */
    FSG_S3_EVENT_TEST,          /* s3:TestEvent: nothing to do */
};

struct fsg_s3_event_item {
    char *bucket;  /* owned; validated: 3..255 of [A-Za-z0-9._-] */
    char *key;     /* owned; the decoded key (1..1024 bytes of UTF-8, no NUL), to be encoded
                    * exactly once when it goes into an S3 URL. For SCAN the prefix, may be "". */
    uint64_t size; /* object size in bytes from the event; 0 when absent */
};

struct fsg_s3_event {
    enum fsg_s3_event_kind kind;
    const char *origin;              /* static: "s3", "sqs", "sns", "eventbridge", "schedule",
                                      * "scan", "nlb_sync" */
    struct fsg_s3_event_item *items; /* owned */
    size_t n_items;
    size_t n_ignored;                /* records or events that are not an object creation */
};

/* Parses one invocation payload (borrowed; need not be NUL-terminated; at most 8 MiB).
 * Caller owns *ret_event (set only on success); free with fsg_s3_event_destroy().
 * FSG_E_PARSE: not JSON, or not one of the recognised events (message says which part);
 * FSG_E_LIMIT: payload too large; FSG_E_NOMEM. */
enum fsg_err fsg_s3_event_parse(struct fsg_span json, struct fsg_s3_event **ret_event,
                                struct fsg_error *err) FSG_MUST_USE;

void fsg_s3_event_destroy(struct fsg_s3_event *event); /* NULL ok */

/* "objects", "reconcile_all", "scan", "nlb_sync", "test". */
const char *fsg_s3_event_kind_name(enum fsg_s3_event_kind kind);

/* Form-decodes an S3-notification key into out (appended): `+` becomes a space, then `%XX`
 * becomes the byte XX (Python's unquote_plus). A `%` not followed by two hex digits, a
 * NUL byte (raw or decoded) or a result that is not UTF-8 is FSG_E_PARSE. */
enum fsg_err fsg_s3_key_form_decode(struct fsg_span encoded, struct fsg_buf *out,
                                    struct fsg_error *err) FSG_MUST_USE;

#endif
