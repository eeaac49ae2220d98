#include "lib/aws/s3_event.h"

#include <ctype.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/core/json.h"
#include "lib/core/mem.h"
#include "lib/aws/sigv4.h"

/* Lambda's invocation payload is at most 6 MB (synchronous) or 1 MB (asynchronous); anything
 * bigger did not come from Lambda. */
#define S_MAX_EVENT_BYTES ((size_t)8 << 20)
/* S3: a key is at most 1024 bytes of UTF-8. */
#define S_MAX_KEY_BYTES 1024
/* Bucket names are 3..63 characters today; legacy us-east-1 names run up to 255. */
#define S_MIN_BUCKET_BYTES 3
#define S_MAX_BUCKET_BYTES 255
/* SNS -> SQS -> Lambda nests the S3 notification twice; deeper is not AWS. */
#define S_MAX_WRAP_DEPTH 2
/* Events nest about 6 levels (Records[].s3.object); SQS/SNS wrap a new document. */
#define S_MAX_DEPTH 32
/* How much of a hostile string goes into an error message. */
#define S_QUOTE_BYTES 64

#define S_EXPECTED                                                                                 \
    "expected an S3 notification ({\"Records\": [...]}), an SQS batch, an EventBridge \"Object "    \
    "Created\", \"Scheduled Event\" or \"AWS API Call via CloudTrail\", "                          \
    "{\"scan\": \"s3://bucket/prefix/\"} or {\"nlb_sync\": true}"
/* Identifiers in CloudTrail calls (sg-..., DB identifiers or ARNs, role ARNs). */
#define S_MAX_ID_BYTES 2048

static const struct fsg_json_limits s_limits = { .max_bytes = S_MAX_EVENT_BYTES,
                                                .max_depth = S_MAX_DEPTH };

struct s_ctx {
    struct fsg_s3_event *ev;
    size_t cap;
    size_t cap_calls;
    size_t cap_messages;
    size_t message; /* the SQS record being read, FSG_S3_EVENT_NO_MESSAGE outside a batch */
};

/* Copies at most S_QUOTE_BYTES of s for an error message: printable ASCII only, so the message
 * stays one valid line whatever the event held. */
static const char *s_quote(const char *s, char *out, size_t out_size)
{
    size_t n = 0;
    for (; s[n] != '\0' && n < S_QUOTE_BYTES && n + 4 < out_size; n++) {
        unsigned char c = (unsigned char)s[n];
        out[n] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (s[n] != '\0') {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

static bool s_utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            need = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            need = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            need = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= need) {
            return false;
        }
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        static const uint32_t min_cp[] = { 0, 0x80, 0x800, 0x10000 };
        if (cp < min_cp[need] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false; /* overlong, out of range, or a surrogate */
        }
        i += need + 1;
    }
    return true;
}

/* What fsg_uri_decode (lenient: it copies a bad escape as it is) leaves unchecked: every '%'
 * starts two hex digits, and no byte, raw or escaped, is NUL. The first problem is reported with
 * its input position. */
static enum fsg_err s_form_check(struct fsg_span s, struct fsg_error *err)
{
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] == 0) {
            return fsg_error_set(err, FSG_E_PARSE, "NUL byte at %zu: a key cannot hold NUL", i);
        }
        if (s.ptr[i] != '%') {
            continue;
        }
        if (i + 2 >= s.len || !isxdigit(s.ptr[i + 1]) || !isxdigit(s.ptr[i + 2])) {
            return fsg_error_set(err, FSG_E_PARSE,
                                 "bad %%-escape at byte %zu: '%%' must be followed by two hex "
                                 "digits",
                                 i);
        }
        if (s.ptr[i + 1] == '0' && s.ptr[i + 2] == '0') {
            return fsg_error_set(err, FSG_E_PARSE, "%%00 at byte %zu: a key cannot hold NUL", i);
        }
        i += 2;
    }
    return FSG_OK;
}

enum fsg_err fsg_s3_key_form_decode(struct fsg_span encoded, struct fsg_buf *out,
                                    struct fsg_error *err)
{
    size_t start = out->len;
    struct fsg_buf spaced = FSG_BUF_INIT;
    enum fsg_err rc = s_form_check(encoded, err);
    if (rc != FSG_OK) {
        goto out;
    }
    /* '+' becomes a space before the escapes are decoded: "%2B" is a literal '+'. */
    rc = fsg_buf_append_span(&spaced, encoded);
    for (size_t i = 0; rc == FSG_OK && i < spaced.len; i++) {
        spaced.ptr[i] = spaced.ptr[i] == '+' ? ' ' : spaced.ptr[i];
    }
    if (rc == FSG_OK) {
        rc = fsg_uri_decode(out, fsg_span_from_buf(&spaced));
    }
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory decoding an object key");
    } else if (!s_utf8_valid(out->ptr + start, out->len - start)) {
        rc = fsg_error_set(err, FSG_E_PARSE, "decoded key is not valid UTF-8");
    }

out:
    fsg_buf_clean_up(&spaced);
    if (rc != FSG_OK && out->ptr != NULL) {
        out->len = start; /* out as it was */
        out->ptr[out->len] = '\0';
    }
    return rc;
}

static const char *s_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key)); /* NULL unless a string */
}

static json_t *s_obj(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_object(v) ? v : NULL;
}

static enum fsg_err s_check_bucket(const char *name, const char *where, struct fsg_error *err)
{
    char q[S_QUOTE_BYTES + 4];
    size_t n = strlen(name);
    if (n < S_MIN_BUCKET_BYTES || n > S_MAX_BUCKET_BYTES) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: bucket name '%s' must be %d to %d characters",
                             where, s_quote(name, q, sizeof q), S_MIN_BUCKET_BYTES,
                             S_MAX_BUCKET_BYTES);
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_';
        if (!ok) {
            return fsg_error_set(err, FSG_E_PARSE,
                                 "%s: bucket name '%s' has a character other than letters, "
                                 "digits, '.', '-' or '_'",
                                 where, s_quote(name, q, sizeof q));
        }
    }
    return FSG_OK;
}

static enum fsg_err s_check_key_len(size_t len, bool allow_empty, const char *where,
                                    struct fsg_error *err)
{
    if (len == 0 && !allow_empty) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: object key is empty", where);
    }
    if (len > S_MAX_KEY_BYTES) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: object key is %zu bytes, S3 allows %d", where,
                             len, S_MAX_KEY_BYTES);
    }
    return FSG_OK;
}

/* Takes ownership of key (an fsg_malloc'd string) in every case. */
static enum fsg_err s_add_item(struct s_ctx *c, const char *bucket, char *key, uint64_t size,
                               bool key_as_sent, struct fsg_error *err)
{
    struct fsg_s3_event *ev = c->ev;
    char *b = fsg_strdup(bucket);
    if (b == NULL || key == NULL) {
        goto nomem;
    }
    struct fsg_s3_event_item *items = fsg_array_grow(ev->items, &c->cap, ev->n_items + 1,
                                                     sizeof *items, 4);
    if (items == NULL) {
        goto nomem;
    }
    ev->items = items;
    ev->items[ev->n_items++] = (struct fsg_s3_event_item){
        .bucket = b, .key = key, .size = size, .message = c->message, .key_as_sent = key_as_sent
    };
    return FSG_OK;

nomem:
    fsg_free(b);
    fsg_free(key);
    return fsg_error_set(err, FSG_E_NOMEM, "out of memory collecting event objects");
}

/* Optional "size": a non-negative integer. */
static enum fsg_err s_size(json_t *object, const char *where, uint64_t *ret, struct fsg_error *err)
{
    json_t *v = json_object_get(object, "size");
    if (v == NULL || json_is_null(v)) {
        *ret = 0;
        return FSG_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return fsg_error_set(err, FSG_E_PARSE, "%s.size: must be a non-negative integer", where);
    }
    *ret = (uint64_t)json_integer_value(v);
    return FSG_OK;
}

static enum fsg_err s_parse_records(struct s_ctx *c, json_t *records, int depth,
                                    struct fsg_error *err);
static enum fsg_err s_parse_eventbridge(struct s_ctx *c, json_t *root, bool wrapped,
                                        struct fsg_error *err);

/* An SQS body or SNS message: a JSON text holding an S3 notification, an SNS envelope around
 * one (S3 -> SNS -> SQS without raw message delivery: {"Type": "Notification", "Message":
 * "<the S3 notification>", "MessageId", "TopicArn", ...}, SNS Developer Guide "Fanout to Amazon
 * SQS queues"), an EventBridge event (EventBridge -> SQS delivers the event itself as the body),
 * or the s3:TestEvent. */
static enum fsg_err s_parse_wrapped(struct s_ctx *c, const char *text, const char *where,
                                    int depth, struct fsg_error *err)
{
    if (depth > S_MAX_WRAP_DEPTH) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: S3 events nested more than %d levels deep",
                             where, S_MAX_WRAP_DEPTH);
    }
    json_t *root = NULL;
    enum fsg_err rc = fsg_json_load(fsg_span_from_cstr(text), &s_limits, &root, err);
    const char *test = s_str(root, "Event");
    const char *type = s_str(root, "Type");
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "%s: the wrapped message: ", where);
    } else if (!json_is_object(root)) {
        rc = fsg_error_set(err, FSG_E_PARSE, "%s: the wrapped message is not a JSON object", where);
    } else if (json_object_get(root, "Records") != NULL) {
        rc = s_parse_records(c, json_object_get(root, "Records"), depth, err);
        if (rc != FSG_OK) {
            fsg_error_prefix(err, "%s: ", where);
        } else if (json_is_true(json_object_get(root, "flowseg_fanout")) &&
                   c->message != FSG_S3_EVENT_NO_MESSAGE) {
            c->ev->messages[c->message].summaries_only = true; /* a batch of a backfill */
        }
    } else if (test != NULL && strcmp(test, "s3:TestEvent") == 0) {
        c->ev->n_ignored++;
        rc = FSG_OK;
    } else if (type != NULL && strcmp(type, "Notification") == 0) {
        const char *msg = s_str(root, "Message");
        rc = msg != NULL ? s_parse_wrapped(c, msg, where, depth + 1, err)
                         : fsg_error_set(err, FSG_E_PARSE,
                                         "%s: SNS envelope without a Message string", where);
    } else if (json_object_get(root, "source") != NULL ||
               json_object_get(root, "detail-type") != NULL) {
        rc = s_parse_eventbridge(c, root, true, err);
        if (rc != FSG_OK) {
            fsg_error_prefix(err, "%s: ", where);
        }
    } else {
        rc = fsg_error_set(err, FSG_E_PARSE,
                           "%s: the wrapped message is not an S3 notification (no Records), an "
                           "SNS envelope (Type \"Notification\") or an EventBridge event",
                           where);
    }
    json_decref(root);
    return rc;
}

static enum fsg_err s_parse_s3_record(struct s_ctx *c, json_t *rec, const char *where,
                                      struct fsg_error *err)
{
    char q[S_QUOTE_BYTES + 4];
    const char *version = s_str(rec, "eventVersion");
    if (version != NULL && !(version[0] == '2' && (version[1] == '\0' || version[1] == '.'))) {
        return fsg_error_set(err, FSG_E_PARSE, "%s.eventVersion '%s': only 2.x is understood",
                             where, s_quote(version, q, sizeof q));
    }
    const char *name = s_str(rec, "eventName");
    if (name == NULL) {
        return fsg_error_set(err, FSG_E_PARSE, "%s.eventName: missing or not a string", where);
    }
    if (strncmp(name, "ObjectCreated:", strlen("ObjectCreated:")) != 0) {
        c->ev->n_ignored++; /* deletes, restores, tagging...: not new flow logs */
        return FSG_OK;
    }
    json_t *s3 = s_obj(rec, "s3");
    json_t *object = s_obj(s3, "object");
    const char *bucket = s_str(s_obj(s3, "bucket"), "name");
    const char *key = s_str(object, "key");
    if (bucket == NULL) {
        return fsg_error_set(err, FSG_E_PARSE, "%s.s3.bucket.name: missing or not a string", where);
    }
    if (key == NULL) {
        return fsg_error_set(err, FSG_E_PARSE, "%s.s3.object.key: missing or not a string", where);
    }
    uint64_t size = 0;
    enum fsg_err rc = s_check_bucket(bucket, where, err);
    if (rc == FSG_OK) {
        rc = s_size(object, where, &size, err);
    }
    struct fsg_buf decoded = FSG_BUF_INIT;
    if (rc == FSG_OK) {
        rc = fsg_s3_key_form_decode(fsg_span_from_cstr(key), &decoded, err);
        if (rc != FSG_OK) {
            fsg_error_prefix(err, "%s.s3.object.key: ", where);
        }
    }
    if (rc == FSG_OK) {
        rc = s_check_key_len(decoded.len, false, where, err);
    }
    if (rc == FSG_OK) {
        rc = s_add_item(c, bucket, fsg_buf_strdup(&decoded), size, false, err);
    }
    fsg_buf_clean_up(&decoded);
    return rc;
}

/* Frees the items and calls from index n_items / n_calls on (a message's partial results). */
static void s_truncate(struct fsg_s3_event *ev, size_t n_items, size_t n_calls);

/* One SQS record of a batch: a message of its own. A body that is not understood becomes the
 * message's error (the batch goes on); only running out of memory fails the parse. */
static enum fsg_err s_parse_sqs_message(struct s_ctx *c, json_t *rec, const char *where,
                                        int depth, struct fsg_error *err)
{
    struct fsg_s3_event *ev = c->ev;
    const char *id = s_str(rec, "messageId");
    if (id == NULL || id[0] == '\0') {
        return fsg_error_set(err, FSG_E_PARSE, "%s: aws:sqs record without its messageId", where);
    }
    struct fsg_s3_event_message *msgs = fsg_array_grow(ev->messages, &c->cap_messages,
                                                       ev->n_messages + 1, sizeof *msgs, 4);
    if (msgs == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory collecting SQS messages");
    }
    ev->messages = msgs;
    char *copy = fsg_strdup(id);
    if (copy == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory collecting SQS messages");
    }
    ev->messages[ev->n_messages] = (struct fsg_s3_event_message){ .id = copy };
    c->message = ev->n_messages++;
    size_t n_items = ev->n_items;
    size_t n_calls = ev->n_calls;
    const char *text = s_str(rec, "body");
    struct fsg_error merr = { 0 };
    enum fsg_err rc = text != NULL ? s_parse_wrapped(c, text, where, depth + 1, &merr)
                                   : fsg_error_set(&merr, FSG_E_PARSE,
                                                   "%s: aws:sqs record without its body", where);
    c->message = FSG_S3_EVENT_NO_MESSAGE;
    if (rc == FSG_E_NOMEM) {
        *err = merr;
        return rc;
    }
    if (rc != FSG_OK) {
        s_truncate(ev, n_items, n_calls); /* the message is retried whole */
        ev->messages[ev->n_messages - 1].error = fsg_strdup(merr.msg);
        if (ev->messages[ev->n_messages - 1].error == NULL) {
            return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
        }
    }
    return FSG_OK;
}

static enum fsg_err s_parse_record(struct s_ctx *c, json_t *rec, size_t i, int depth,
                                   struct fsg_error *err)
{
    char where[48];
    char q[S_QUOTE_BYTES + 4];
    snprintf(where, sizeof where, "Records[%zu]", i);
    if (!json_is_object(rec)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: not an object", where);
    }
    const char *source = s_str(rec, "eventSource");
    if (source == NULL) {
        source = s_str(rec, "EventSource"); /* SNS spells it with a capital E */
    }
    if (source == NULL || strcmp(source, "aws:s3") == 0) {
        return s_parse_s3_record(c, rec, where, err);
    }
    const char *text = NULL;
    if (strcmp(source, "aws:sqs") == 0) {
        if (depth == 0) {
            c->ev->origin = "sqs";
            return s_parse_sqs_message(c, rec, where, depth, err);
        }
        text = s_str(rec, "body");
    } else if (strcmp(source, "aws:sns") == 0) {
        text = s_str(s_obj(rec, "Sns"), "Message");
    } else {
        return fsg_error_set(err, FSG_E_PARSE,
                             "%s: eventSource '%s' is not aws:s3 (nor an aws:sqs or aws:sns "
                             "wrapper of S3 events)",
                             where, s_quote(source, q, sizeof q));
    }
    if (depth == 0) {
        c->ev->origin = "sns";
    }
    if (text == NULL) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: %s record without its message text", where,
                             source);
    }
    return s_parse_wrapped(c, text, where, depth + 1, err);
}

static enum fsg_err s_parse_records(struct s_ctx *c, json_t *records, int depth,
                                    struct fsg_error *err)
{
    if (!json_is_array(records)) {
        return fsg_error_set(err, FSG_E_PARSE, "Records: must be an array");
    }
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec) {
        enum fsg_err rc = s_parse_record(c, rec, i, depth, err);
        if (rc != FSG_OK) {
            return rc;
        }
    }
    return FSG_OK;
}

static enum fsg_err s_parse_eventbridge_object(struct s_ctx *c, json_t *root,
                                               struct fsg_error *err)
{
    json_t *detail = s_obj(root, "detail");
    json_t *object = s_obj(detail, "object");
    const char *bucket = s_str(s_obj(detail, "bucket"), "name");
    const char *key = s_str(object, "key");
    if (bucket == NULL) {
        return fsg_error_set(err, FSG_E_PARSE, "detail.bucket.name: missing or not a string");
    }
    if (key == NULL) {
        return fsg_error_set(err, FSG_E_PARSE, "detail.object.key: missing or not a string");
    }
    uint64_t size = 0;
    enum fsg_err rc = s_check_bucket(bucket, "detail", err);
    if (rc == FSG_OK) {
        rc = s_size(object, "detail.object", &size, err);
    }
    if (rc == FSG_OK) {
        /* EventBridge keys are not form-encoded; jansson already checked UTF-8 and NUL. */
        rc = s_check_key_len(strlen(key), false, "detail.object.key", err);
    }
    if (rc == FSG_OK) {
        rc = s_add_item(c, bucket, fsg_strdup(key), size, true, err);
    }
    return rc;
}

/* ---- CloudTrail "AWS API Call via CloudTrail" ------------------------------------------------ */

static const char *const s_api_calls[] = {
    "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress", "ModifySecurityGroupRules",
    "UpdateSecurityGroupRuleDescriptionsIngress", "ModifyDBInstance",
};

/* CloudTrail logs EC2 query lists as {"items": [...]}; accept a bare array too. */
static json_t *s_items(json_t *v)
{
    if (json_is_array(v)) {
        return v;
    }
    json_t *items = json_object_get(v, "items");
    return json_is_array(items) ? items : NULL;
}

static bool s_flowseg_description(const char *d)
{
    return d != NULL && strncmp(d, "flowseg ", strlen("flowseg ")) == 0;
}

/* Every range of `list` (ipRanges / ipv6Ranges) carries a flowseg description. */
static bool s_ranges_flowseg(json_t *list, size_t *n_ranges)
{
    json_t *items = s_items(list);
    size_t i;
    json_t *r;
    json_array_foreach(items, i, r) {
        (*n_ranges)++;
        if (!s_flowseg_description(s_str(r, "description"))) {
            return false;
        }
    }
    return true;
}

/* AuthorizeSecurityGroupIngress: CIDR ranges only, each described "flowseg ...". */
static bool s_authorize_is_flowseg(json_t *rp)
{
    if (json_object_get(rp, "cidrIp") != NULL || json_object_get(rp, "sourceSecurityGroupName") ||
        json_object_get(rp, "sourceSecurityGroupOwnerId")) {
        return false; /* the legacy one-rule form: flowseg never sends it */
    }
    json_t *perms = s_items(json_object_get(rp, "ipPermissions"));
    size_t n_ranges = 0;
    size_t i;
    json_t *p;
    json_array_foreach(perms, i, p) {
        json_t *groups = s_items(json_object_get(p, "groups"));
        json_t *lists = s_items(json_object_get(p, "prefixListIds"));
        if (json_array_size(groups) > 0 || json_array_size(lists) > 0 ||
            !s_ranges_flowseg(json_object_get(p, "ipRanges"), &n_ranges) ||
            !s_ranges_flowseg(json_object_get(p, "ipv6Ranges"), &n_ranges)) {
            return false;
        }
    }
    return n_ranges > 0;
}

/* ModifySecurityGroupRules: each rewritten rule a CIDR rule described "flowseg ...". */
static bool s_modify_is_flowseg(json_t *req)
{
    json_t *rules = json_object_get(req, "SecurityGroupRule");
    json_t *one = json_is_object(rules) ? json_object_get(rules, "SecurityGroupRule") : NULL;
    size_t n = 0;
    size_t i;
    json_t *r;
    if (one != NULL) {
        rules = json_pack("[O]", rules);
    } else {
        rules = json_incref(s_items(rules));
    }
    bool ok = rules != NULL;
    json_array_foreach(rules, i, r) {
        json_t *rule = s_obj(r, "SecurityGroupRule");
        bool cidr = s_str(rule, "CidrIpv4") != NULL || s_str(rule, "CidrIpv6") != NULL;
        if (!cidr || json_object_get(rule, "PrefixListId") != NULL ||
            json_object_get(rule, "ReferencedGroupId") != NULL ||
            !s_flowseg_description(s_str(rule, "Description"))) {
            ok = false;
        }
        n++;
    }
    json_decref(rules);
    return ok && n > 0;
}

/* Copies an optional identifier: printable ASCII, at most S_MAX_ID_BYTES. */
static enum fsg_err s_copy_id(const char *v, const char *where, char **ret, struct fsg_error *err)
{
    char q[S_QUOTE_BYTES + 4];
    if (v == NULL) {
        return FSG_OK;
    }
    size_t n = strlen(v);
    bool ok = n > 0 && n <= S_MAX_ID_BYTES;
    for (size_t i = 0; ok && i < n; i++) {
        ok = v[i] > 0x20 && v[i] < 0x7f;
    }
    if (!ok) {
        return fsg_error_set(err, FSG_E_PARSE, "%s '%s': not an AWS identifier", where,
                             s_quote(v, q, sizeof q));
    }
    *ret = fsg_strdup(v);
    return *ret != NULL ? FSG_OK : fsg_error_set(err, FSG_E_NOMEM, "out of memory");
}

static void s_call_clean_up(struct fsg_s3_event_call *call)
{
    fsg_free(call->event_name);
    fsg_free(call->group_id);
    fsg_free(call->group_name);
    fsg_free(call->db_instance);
    for (size_t i = 0; i < call->n_vpc_sg_ids; i++) {
        fsg_free(call->vpc_sg_ids[i]);
    }
    fsg_free(call->vpc_sg_ids);
    fsg_free(call->principal_arn);
    fsg_free(call->access_key_id);
    fsg_free(call->error_code);
}

static enum fsg_err s_call_rds(json_t *rp, struct fsg_s3_event_call *call, struct fsg_error *err)
{
    enum fsg_err rc = s_copy_id(s_str(rp, "dBInstanceIdentifier"),
                                "detail.requestParameters.dBInstanceIdentifier",
                                &call->db_instance, err);
    if (rc == FSG_OK && call->db_instance == NULL) {
        rc = fsg_error_set(err, FSG_E_PARSE,
                           "detail.requestParameters.dBInstanceIdentifier: missing or not a "
                           "string");
    }
    json_t *ids = json_object_get(rp, "vpcSecurityGroupIds");
    ids = s_items(ids);
    if (rc != FSG_OK || ids == NULL) {
        return rc;
    }
    call->has_vpc_sg_ids = true;
    call->vpc_sg_ids = fsg_calloc(json_array_size(ids) + 1, sizeof *call->vpc_sg_ids);
    if (call->vpc_sg_ids == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        const char *id = json_string_value(v);
        if (id == NULL) {
            return fsg_error_set(err, FSG_E_PARSE,
                                 "detail.requestParameters.vpcSecurityGroupIds[%zu]: not a "
                                 "string", i);
        }
        rc = s_copy_id(id, "detail.requestParameters.vpcSecurityGroupIds[]",
                       &call->vpc_sg_ids[call->n_vpc_sg_ids], err);
        if (rc != FSG_OK) {
            return rc;
        }
        call->n_vpc_sg_ids++;
    }
    return FSG_OK;
}

static enum fsg_err s_call_ec2(json_t *detail, json_t *rp, const char *name,
                               struct fsg_s3_event_call *call, struct fsg_error *err)
{
    const char *group = NULL;
    if (strcmp(name, "ModifySecurityGroupRules") == 0) {
        json_t *req = s_obj(rp, "ModifySecurityGroupRulesRequest");
        group = s_str(req, "GroupId");
        call->flowseg_rules_only = s_modify_is_flowseg(req);
    } else {
        group = s_str(rp, "groupId");
        if (group == NULL) {
            /* Authorize's answer names the group of every rule it added. */
            json_t *set = s_items(json_object_get(s_obj(detail, "responseElements"),
                                                  "securityGroupRuleSet"));
            group = s_str(json_array_get(set, 0), "groupId");
        }
        if (strcmp(name, "AuthorizeSecurityGroupIngress") == 0) {
            call->flowseg_rules_only = s_authorize_is_flowseg(rp);
        }
    }
    enum fsg_err rc = s_copy_id(group, "detail.requestParameters.groupId", &call->group_id, err);
    if (rc == FSG_OK && group == NULL) {
        rc = s_copy_id(s_str(rp, "groupName"), "detail.requestParameters.groupName",
                       &call->group_name, err);
        if (rc == FSG_OK && call->group_name == NULL && call->error_code == NULL) {
            rc = fsg_error_set(err, FSG_E_PARSE,
                               "%s event names no security group (requestParameters.groupId, "
                               "groupName or ModifySecurityGroupRulesRequest.GroupId)", name);
        }
    }
    return rc;
}

/* EventBridge "AWS API Call via CloudTrail": detail is the CloudTrail record (eventName,
 * userIdentity, errorCode, requestParameters, responseElements). */
static enum fsg_err s_parse_api_call(struct s_ctx *c, json_t *root, const char *source,
                                     struct fsg_error *err)
{
    char q[S_QUOTE_BYTES + 4];
    json_t *detail = s_obj(root, "detail");
    const char *name = s_str(detail, "eventName");
    if (name == NULL) {
        return fsg_error_set(err, FSG_E_PARSE, "detail.eventName: missing or not a string");
    }
    bool handled = false;
    for (size_t i = 0; i < sizeof s_api_calls / sizeof s_api_calls[0]; i++) {
        handled = handled || strcmp(name, s_api_calls[i]) == 0;
    }
    bool rds = strcmp(source, "aws.rds") == 0;
    if (!handled || rds != (strcmp(name, "ModifyDBInstance") == 0)) {
        c->ev->n_ignored++; /* an API call that cannot change a managed group */
        return FSG_OK;
    }
    json_t *rp = s_obj(detail, "requestParameters");
    struct fsg_s3_event_call call = { .message = c->message };
    enum fsg_err rc = s_copy_id(name, "detail.eventName", &call.event_name, err);
    if (rc == FSG_OK) {
        rc = s_copy_id(s_str(s_obj(detail, "userIdentity"), "arn"), "detail.userIdentity.arn",
                       &call.principal_arn, err);
    }
    if (rc == FSG_OK) {
        rc = s_copy_id(s_str(s_obj(detail, "userIdentity"), "accessKeyId"),
                       "detail.userIdentity.accessKeyId", &call.access_key_id, err);
    }
    if (rc == FSG_OK) {
        rc = s_copy_id(s_str(detail, "errorCode"), "detail.errorCode", &call.error_code, err);
    }
    if (rc == FSG_OK && rp == NULL && call.error_code == NULL) {
        rc = fsg_error_set(err, FSG_E_PARSE, "%s event: detail.requestParameters missing",
                           s_quote(name, q, sizeof q));
    }
    if (rc == FSG_OK && rp != NULL) {
        rc = rds ? s_call_rds(rp, &call, err) : s_call_ec2(detail, rp, name, &call, err);
    }
    struct fsg_s3_event *ev = c->ev;
    struct fsg_s3_event_call *calls = NULL;
    if (rc == FSG_OK) {
        calls = fsg_array_grow(ev->calls, &c->cap_calls, ev->n_calls + 1, sizeof *calls, 2);
        rc = calls != NULL ? FSG_OK : fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    if (rc != FSG_OK) {
        s_call_clean_up(&call);
        return rc;
    }
    ev->calls = calls;
    ev->calls[ev->n_calls++] = call;
    return FSG_OK;
}

/* wrapped: inside an SQS or SNS message, where a schedule (a whole-run job) is refused. */
static enum fsg_err s_parse_eventbridge(struct s_ctx *c, json_t *root, bool wrapped,
                                        struct fsg_error *err)
{
    char q[S_QUOTE_BYTES + 4];
    const char *source = s_str(root, "source");
    const char *type = s_str(root, "detail-type");
    if (source == NULL) {
        return fsg_error_set(err, FSG_E_PARSE, "EventBridge event: source missing or not a string");
    }
    if (type == NULL) {
        return fsg_error_set(err, FSG_E_PARSE,
                             "EventBridge event: detail-type missing or not a string");
    }
    if (strcmp(type, "AWS API Call via CloudTrail") == 0 &&
        (strcmp(source, "aws.ec2") == 0 || strcmp(source, "aws.rds") == 0)) {
        if (!wrapped) {
            c->ev->kind = FSG_S3_EVENT_API_CALL;
            c->ev->origin = "cloudtrail";
        }
        return s_parse_api_call(c, root, source, err);
    }
    if (strcmp(source, "aws.events") == 0) {
        if (strcmp(type, "Scheduled Event") != 0) {
            return fsg_error_set(err, FSG_E_PARSE,
                                 "EventBridge aws.events detail-type '%s': only \"Scheduled "
                                 "Event\" is handled",
                                 s_quote(type, q, sizeof q));
        }
        if (wrapped) {
            return fsg_error_set(err, FSG_E_PARSE,
                                 "a Scheduled Event inside an SQS or SNS message is not handled: "
                                 "make the function the schedule's target");
        }
        c->ev->kind = FSG_S3_EVENT_RECONCILE_ALL;
        c->ev->origin = "schedule";
        return FSG_OK;
    }
    if (strcmp(source, "aws.s3") != 0) {
        return fsg_error_set(err, FSG_E_PARSE,
                             "EventBridge source '%s' is not handled: expected aws.s3 (\"Object "
                             "Created\"), aws.events (\"Scheduled Event\") or aws.ec2/aws.rds "
                             "(\"AWS API Call via CloudTrail\")",
                             s_quote(source, q, sizeof q));
    }
    if (!wrapped) {
        c->ev->origin = "eventbridge";
    }
    if (strcmp(type, "Object Created") != 0) {
        c->ev->n_ignored++; /* "Object Deleted" and friends: not new flow logs */
        return FSG_OK;
    }
    return s_parse_eventbridge_object(c, root, err);
}

/* Our own formats are strict: a typo must not pass as a different event. Besides `allowed`,
 * only "dry_run" (a boolean) may be there; it sets ev->dry_run. */
static enum fsg_err s_only_key(struct s_ctx *c, json_t *root, const char *allowed,
                               struct fsg_error *err)
{
    char q[S_QUOTE_BYTES + 4];
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "dry_run") == 0) {
            if (!json_is_boolean(val)) {
                return fsg_error_set(err, FSG_E_PARSE, "%s event: dry_run must be true or false",
                                     allowed);
            }
            c->ev->dry_run = json_is_true(val);
        } else if (strcmp(key, allowed) != 0) {
            return fsg_error_set(err, FSG_E_PARSE, "%s event: unknown key \"%s\"", allowed,
                                 s_quote(key, q, sizeof q));
        }
    }
    return FSG_OK;
}

/* The scan event's backfill options: "since"/"until" (strings, checked where they are used)
 * and "fanout" (a boolean); taken out of root so that s_only_key sees only the rest. */
static enum fsg_err s_scan_options(struct s_ctx *c, json_t *root, struct fsg_error *err)
{
    static const char *const window[] = { "since", "until" };
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(root, window[i]);
        if (v == NULL) {
            continue;
        }
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 64) {
            return fsg_error_set(err, FSG_E_PARSE, "scan event: %s must be a UTC time string "
                                 "like \"2026-11-01\" or \"2026-11-01T00:00Z\"", window[i]);
        }
        char *copy = fsg_strdup(json_string_value(v));
        if (copy == NULL) {
            return fsg_error_set(err, FSG_E_NOMEM, "out of memory parsing the scan event");
        }
        *(i == 0 ? &c->ev->since : &c->ev->until) = copy;
        json_object_del(root, window[i]);
    }
    json_t *f = json_object_get(root, "fanout");
    if (f != NULL) {
        if (!json_is_boolean(f)) {
            return fsg_error_set(err, FSG_E_PARSE, "scan event: fanout must be true or false");
        }
        c->ev->fanout = json_is_true(f);
        json_object_del(root, "fanout");
    }
    return FSG_OK;
}

static enum fsg_err s_parse_scan(struct s_ctx *c, json_t *root, struct fsg_error *err)
{
    char q[S_QUOTE_BYTES + 4];
    enum fsg_err rc = s_scan_options(c, root, err);
    if (rc == FSG_OK) {
        rc = s_only_key(c, root, "scan", err);
    }
    if (rc != FSG_OK) {
        return rc;
    }
    const char *url = s_str(root, "scan");
    if (url == NULL) {
        return fsg_error_set(err, FSG_E_PARSE,
                             "scan: must be a string like \"s3://bucket/prefix/\"");
    }
    if (strncmp(url, "s3://", 5) != 0) {
        return fsg_error_set(err, FSG_E_PARSE, "scan: '%s' does not start with s3://",
                             s_quote(url, q, sizeof q));
    }
    const char *rest = url + 5;
    const char *slash = strchr(rest, '/');
    size_t bucket_len = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
    const char *prefix = slash != NULL ? slash + 1 : "";
    char *bucket = fsg_strndup(rest, bucket_len);
    if (bucket == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory parsing the scan event");
    }
    rc = s_check_bucket(bucket, "scan", err);
    if (rc == FSG_OK) {
        rc = s_check_key_len(strlen(prefix), true, "scan", err);
    }
    if (rc == FSG_OK) {
        c->ev->kind = FSG_S3_EVENT_SCAN;
        c->ev->origin = "scan";
        rc = s_add_item(c, bucket, fsg_strdup(prefix), 0, false, err);
    }
    fsg_free(bucket);
    return rc;
}

static enum fsg_err s_parse_nlb_sync(struct s_ctx *c, json_t *root, struct fsg_error *err)
{
    enum fsg_err rc = s_only_key(c, root, "nlb_sync", err);
    if (rc != FSG_OK) {
        return rc;
    }
    if (!json_is_true(json_object_get(root, "nlb_sync"))) {
        return fsg_error_set(err, FSG_E_PARSE, "nlb_sync: must be true");
    }
    c->ev->kind = FSG_S3_EVENT_NLB_SYNC;
    c->ev->origin = "nlb_sync";
    return FSG_OK;
}

static enum fsg_err s_unrecognised(json_t *root, struct fsg_error *err)
{
    char keys[256] = "";
    size_t n = 0;
    size_t count = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        char q[S_QUOTE_BYTES + 4];
        if (count++ == 5) {
            snprintf(keys + n, sizeof keys - n, ", ...");
            break;
        }
        int w = snprintf(keys + n, sizeof keys - n, "%s%s", n > 0 ? ", " : "",
                         s_quote(key, q, sizeof q));
        n = w > 0 && (size_t)w < sizeof keys - n ? n + (size_t)w : sizeof keys - 1;
    }
    return fsg_error_set(err, FSG_E_PARSE, "unrecognised event (keys: %s): " S_EXPECTED,
                         count > 0 ? keys : "none");
}

static enum fsg_err s_dispatch(struct s_ctx *c, json_t *root, struct fsg_error *err)
{
    bool has_records = json_object_get(root, "Records") != NULL;
    bool has_scan = json_object_get(root, "scan") != NULL;
    bool has_nlb = json_object_get(root, "nlb_sync") != NULL;
    bool has_eb = json_object_get(root, "source") != NULL ||
                  json_object_get(root, "detail-type") != NULL;
    const char *test = s_str(root, "Event");
    bool is_test = test != NULL && strcmp(test, "s3:TestEvent") == 0;
    int n = (int)has_records + (int)has_scan + (int)has_nlb + (int)has_eb + (int)is_test;

    if (n > 1) {
        return fsg_error_set(err, FSG_E_PARSE,
                             "ambiguous event: it has more than one of Records, scan, nlb_sync, "
                             "source/detail-type, Event; send one kind per invocation");
    }
    c->ev->kind = FSG_S3_EVENT_OBJECTS;
    c->ev->origin = "s3";
    if (has_records) {
        return s_parse_records(c, json_object_get(root, "Records"), 0, err);
    }
    if (has_scan) {
        return s_parse_scan(c, root, err);
    }
    if (has_nlb) {
        return s_parse_nlb_sync(c, root, err);
    }
    if (has_eb) {
        return s_parse_eventbridge(c, root, false, err);
    }
    if (is_test) {
        c->ev->kind = FSG_S3_EVENT_TEST;
        return FSG_OK;
    }
    return s_unrecognised(root, err);
}

enum fsg_err fsg_s3_event_parse(struct fsg_span json, struct fsg_s3_event **ret_event,
                                struct fsg_error *err)
{
    enum fsg_err rc;
    json_t *root = NULL;
    struct s_ctx c = { 0 };

    if (json.len == 0) {
        return fsg_error_set(err, FSG_E_PARSE, "event is empty: " S_EXPECTED);
    }
    if (json.len > S_MAX_EVENT_BYTES) {
        return fsg_error_set(err, FSG_E_LIMIT, "event is %zu bytes, more than the %zu accepted",
                             json.len, S_MAX_EVENT_BYTES);
    }
    rc = fsg_json_load(json, &s_limits, &root, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "event: ");
        goto out;
    }
    if (!json_is_object(root)) {
        rc = fsg_error_set(err, FSG_E_PARSE, "event is a JSON %s: " S_EXPECTED,
                           fsg_json_type_name(root));
        goto out;
    }
    c.ev = fsg_calloc(1, sizeof *c.ev);
    if (c.ev == NULL) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory parsing the event");
        goto out;
    }
    c.message = FSG_S3_EVENT_NO_MESSAGE;
    rc = s_dispatch(&c, root, err);
    if (rc != FSG_OK) {
        goto out;
    }
    if (c.ev->kind == FSG_S3_EVENT_OBJECTS && c.ev->n_items == 0 && c.ev->n_calls > 0) {
        c.ev->kind = FSG_S3_EVENT_API_CALL; /* an SQS batch of CloudTrail events */
    }
    *ret_event = c.ev;
    c.ev = NULL;

out:
    fsg_s3_event_destroy(c.ev);
    json_decref(root);
    return rc;
}

static void s_truncate(struct fsg_s3_event *ev, size_t n_items, size_t n_calls)
{
    for (size_t i = n_items; i < ev->n_items; i++) {
        fsg_free(ev->items[i].bucket);
        fsg_free(ev->items[i].key);
    }
    ev->n_items = ev->n_items < n_items ? ev->n_items : n_items;
    for (size_t i = n_calls; i < ev->n_calls; i++) {
        s_call_clean_up(&ev->calls[i]);
    }
    ev->n_calls = ev->n_calls < n_calls ? ev->n_calls : n_calls;
}

void fsg_s3_event_destroy(struct fsg_s3_event *event)
{
    if (event == NULL) {
        return;
    }
    s_truncate(event, 0, 0);
    fsg_free(event->items);
    fsg_free(event->calls);
    for (size_t i = 0; i < event->n_messages; i++) {
        fsg_free(event->messages[i].id);
        fsg_free(event->messages[i].error);
    }
    fsg_free(event->messages);
    fsg_free(event->since);
    fsg_free(event->until);
    fsg_free(event);
}

const char *fsg_s3_event_kind_name(enum fsg_s3_event_kind kind)
{
    switch (kind) {
    case FSG_S3_EVENT_OBJECTS:
        return "objects";
    case FSG_S3_EVENT_RECONCILE_ALL:
        return "reconcile_all";
    case FSG_S3_EVENT_SCAN:
        return "scan";
    case FSG_S3_EVENT_NLB_SYNC:
        return "nlb_sync";
    case FSG_S3_EVENT_TEST:
        return "test";
    case FSG_S3_EVENT_API_CALL:
        return "api_call";
    }
    return "unknown";
}
