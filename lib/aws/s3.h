/* S3 calls over the AWS pipeline (lib/aws/aws.h, a client made with service "s3"):
 * GetObject streamed and resumable, HeadObject, ListObjectsV2 with paging.
 * ref/aws-wire.md §5.6. Keys are encoded once per path segment ('/' kept, '=' -> %3D,
 * space -> %20, '+' -> %2B). URLs are virtual-hosted (https://bucket.s3.region.amazonaws.com/key)
 * unless the client is path-style (a configured endpoint) or the bucket name has a dot or
 * another character a TLS wildcard certificate cannot match. */
#ifndef FSG_LIB_S3_H
#define FSG_LIB_S3_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/core/buf.h"
#include "lib/http/http.h"

struct fsg_aws_client;

/* Bound on resumes of one download after a dropped connection (each resume must have made
 * progress, so a failing server cannot keep us looping). */
#define FSG_S3_DEFAULT_MAX_RESUMES 10u

/* The URL of an object, and the base URL of a bucket without a trailing slash
 * ("https://bucket.s3.us-east-1.amazonaws.com" or "http://127.0.0.1:9000/bucket"), for this
 * client. Appended to out. */
enum fsg_err fsg_s3_object_url(const struct fsg_aws_client *c, const char *bucket,
                               const char *key, struct fsg_buf *out) FSG_MUST_USE;
enum fsg_err fsg_s3_bucket_url(const struct fsg_aws_client *c, const char *bucket,
                               struct fsg_buf *out) FSG_MUST_USE;

struct fsg_s3_get_options {
    uint64_t start_offset;  /* first byte wanted; 0 = from the start */
    const char *if_match;   /* ETag (with its quotes) the object must have; NULL = any */
    unsigned max_resumes;   /* 0 = FSG_S3_DEFAULT_MAX_RESUMES */
};

struct fsg_s3_get_result {
    uint64_t bytes;         /* body bytes delivered to on_body */
    char etag[128];         /* the object's ETag as sent (quoted); "" when none */
    unsigned resumes;       /* Range requests made after dropped connections */
};

/* GetObject, streaming the body to on_body as it arrives: the object is never held in memory.
 * A connection dropped mid-body is resumed with "Range: bytes=N-" from the last byte delivered
 * and "If-Match: <ETag>", so on_body sees every byte exactly once and all from one version of
 * the object. opts and ret may be NULL. Synchronous: on_body is called before this returns.
 * Errors: FSG_E_NOT_FOUND (NoSuchBucket/NoSuchKey: the message names the bucket or key),
 * FSG_E_CONFLICT (the object changed while resuming), FSG_E_AUTH, FSG_E_NETWORK, ...;
 * err->offset is the number of bytes delivered. When on_body fails, its code is returned and
 * the consumer keeps its own detail (err only says the transfer was stopped). */
enum fsg_err fsg_s3_get_object(struct fsg_aws_client *c, const char *bucket, const char *key,
                               const struct fsg_s3_get_options *opts, fsg_http_body_fn *on_body,
                               void *userdata, struct fsg_s3_get_result *ret,
                               struct fsg_error *err) FSG_MUST_USE;

struct fsg_s3_object_info {
    uint64_t size;
    char etag[128];
    char last_modified[64]; /* HTTP date as sent */
};

/* HeadObject. HEAD errors have no body: 404 -> FSG_E_NOT_FOUND naming the key, 403 -> FSG_E_AUTH. */
enum fsg_err fsg_s3_head_object(struct fsg_aws_client *c, const char *bucket, const char *key,
                                struct fsg_s3_object_info *ret, struct fsg_error *err) FSG_MUST_USE;

/* One listed object; strings borrowed for the duration of the callback. */
struct fsg_s3_object {
    const char *key;
    uint64_t size;
    const char *etag;          /* quoted, as listed */
    const char *last_modified; /* ISO-8601 */
};

/* Called for each object in key order. Returning an error stops the listing with that code
 * (detail stays with the callback). */
typedef enum fsg_err(fsg_s3_object_fn)(const struct fsg_s3_object *obj, void *userdata);

struct fsg_s3_list_options {
    const char *prefix;       /* NULL = the whole bucket */
    const char *start_after;  /* NULL = from the first key */
    unsigned max_keys;        /* per page; 0 = 1000 (S3's maximum) */
};

/* ListObjectsV2, following continuation tokens to the last page. opts may be NULL.
 * Synchronous. FSG_E_NOT_FOUND names a missing bucket; FSG_E_PARSE for a page that says it is
 * truncated without a usable continuation token. */
enum fsg_err fsg_s3_list_objects(struct fsg_aws_client *c, const char *bucket,
                                 const struct fsg_s3_list_options *opts,
                                 fsg_s3_object_fn *on_object, void *userdata,
                                 struct fsg_error *err) FSG_MUST_USE;

/* Appends key encoded for an S3 path: each '/'-separated segment encoded once (SigV4 rule). */
enum fsg_err fsg_s3_encode_key(struct fsg_buf *out, const char *key) FSG_MUST_USE;

/* PutObject of a whole body (borrowed), with a Content-Type (may be NULL). Errors as GetObject's:
 * FSG_E_NOT_FOUND naming the bucket, FSG_E_AUTH, FSG_E_NETWORK, ... */
enum fsg_err fsg_s3_put_object(struct fsg_aws_client *c, const char *bucket, const char *key,
                               struct fsg_span body, const char *content_type,
                               struct fsg_error *err) FSG_MUST_USE;

#endif
