/* AWS Signature Version 4, as pure functions: no I/O, no clock, no global state.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 * (Owned by the AWS-core work: the declarations below are the contract other modules use.) */
#ifndef FSG_LIB_SIGV4_H
#define FSG_LIB_SIGV4_H

#include <stdbool.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/http.h"

struct fsg_sigv4_params {
    struct fsg_span access_key_id;     /* borrowed */
    struct fsg_span secret_access_key; /* borrowed, secret */
    struct fsg_span session_token;     /* borrowed, may be empty */
    struct fsg_span region;            /* "us-east-1" */
    struct fsg_span service;           /* "ec2", "s3", "rds", "elasticloadbalancing" */
    time_t now_s;                      /* injected; production passes time(NULL) */
    bool s3_rules;          /* S3: path encoded once and not normalised, x-amz-content-sha256 header */
    bool unsigned_payload;  /* S3 only: x-amz-content-sha256: UNSIGNED-PAYLOAD */
};

/* Task 1: the canonical request of req (method, path, query, signed headers, payload hash). */
enum fsg_err fsg_sigv4_canonical_request(const struct fsg_http_request *req,
                                         const struct fsg_sigv4_params *p, struct fsg_buf *out,
                                         struct fsg_error *err) FSG_MUST_USE;
/* Task 2: the string to sign for a canonical request. */
enum fsg_err fsg_sigv4_string_to_sign(struct fsg_span canonical_request,
                                      const struct fsg_sigv4_params *p, struct fsg_buf *out,
                                      struct fsg_error *err) FSG_MUST_USE;
/* Task 3: the hex signature (64 chars + NUL) of a string to sign. */
enum fsg_err fsg_sigv4_signature(struct fsg_span string_to_sign, const struct fsg_sigv4_params *p,
                                 char out_hex[65], struct fsg_error *err) FSG_MUST_USE;
/* Task 4: signs req in place: adds X-Amz-Date, X-Amz-Security-Token (when a session token is
 * given), x-amz-content-sha256 (S3) and Authorization. */
enum fsg_err fsg_sigv4_sign(struct fsg_http_request *req, const struct fsg_sigv4_params *p,
                            struct fsg_error *err) FSG_MUST_USE;

/* RFC 3986 percent-encoding as SigV4 wants it (unreserved A-Z a-z 0-9 - _ . ~ kept, space is
 * %20); '/' is kept when keep_slash (S3 keys in paths). Appends to out. */
enum fsg_err fsg_uri_encode(struct fsg_buf *out, struct fsg_span s, bool keep_slash) FSG_MUST_USE;

#endif
