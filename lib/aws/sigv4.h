/* AWS Signature Version 4, as pure functions: no I/O, no clock, no global state.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 * (Owned by the AWS-core work: the declarations below are the contract other modules use.)
 *
 * Rules applied (../shared/ref/aws-wire.md §4):
 * - Non-S3 services: the URL path is normalised (".", "..", "//" removed, as botocore does) and
 *   URI-encoded again ("double encoding": "/a%20b" is canonicalised as "/a%2520b").
 * - S3 (s3_rules): the path is signed as sent (encoded once, never normalised); only bytes that
 *   may not appear raw in a URL are encoded, existing %XY escapes are kept. x-amz-content-sha256
 *   is added and signed (the body hash, or UNSIGNED-PAYLOAD).
 * - Query parameters are percent-decoded, re-encoded canonically (RFC 3986 unreserved kept,
 *   uppercase hex, space = %20, '+' is a literal plus), and sorted by name then value. Empty
 *   segments ("a&&b") are ignored.
 * - Header names are lowercased; values trimmed, inner whitespace runs (including folded lines)
 *   collapsed to one space; repeated headers joined with ',' in order. Hop-by-hop headers and
 *   user-agent, expect, x-amzn-trace-id are never signed (botocore's list). Host comes from the
 *   Host header, else from the URL (lowercase, default port dropped).
 * - A Date header, if the caller sets one, is signed like any other header; X-Amz-Date is always
 *   added (botocore would instead rewrite Date and omit X-Amz-Date). */
#ifndef FSG_LIB_SIGV4_H
#define FSG_LIB_SIGV4_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "lib/core/buf.h"
#include "lib/http/http.h"

/* Longest validity of a presigned URL that AWS accepts (7 days). */
#define FSG_SIGV4_MAX_PRESIGN_S 604800u

struct fsg_sigv4_params {
    struct fsg_span access_key_id;     /* borrowed */
    struct fsg_span secret_access_key; /* borrowed, secret */
    struct fsg_span session_token;     /* borrowed, may be empty */
    struct fsg_span region;            /* "us-east-1" */
    struct fsg_span service;           /* "ec2", "s3", "rds", "elasticloadbalancing" */
    time_t now_s;                      /* injected; production passes time(NULL) */
    bool s3_rules;          /* S3: path encoded once, not normalised; x-amz-content-sha256 */
    bool unsigned_payload;  /* x-amz-content-sha256: UNSIGNED-PAYLOAD (S3; also honoured for others,
                             * as botocore does when payload signing is disabled) */
    /* Zero means the usual SDK behaviour. The fields below exist for presigned URLs and for the
     * official test suite's switches. */
    bool skip_path_normalization; /* non-S3: keep ".", ".." and "//" (suite "normalize": false) */
    bool sign_content_sha256;     /* non-S3: add, sign x-amz-content-sha256 (suite "sign_body") */
    bool unsigned_session_token;  /* add X-Amz-Security-Token after signing, unsigned (suite
                                   * "omit_session_token", "post-sts-header-after") */
    uint32_t presign_expires_s;   /* > 0: query-string signing (presigned URL) valid this long;
                                   * the stage functions then produce the query-mode stages */
};

/* Task 1: the canonical request of req (method, path, query, signed headers, payload hash), as
 * it will be once signed: the headers fsg_sigv4_sign adds (X-Amz-Date, X-Amz-Security-Token,
 * x-amz-content-sha256) are included, stale copies of them in req are ignored. In presign mode
 * (presign_expires_s > 0) the X-Amz-* query parameters are included instead.
 * req and p are borrowed; the text is appended to out (caller owns it). It holds the session
 * token when one is signed: treat it as secret. FSG_E_INVALID_ARG for a malformed URL, empty
 * credentials/region/service or a control character in a header. */
enum fsg_err fsg_sigv4_canonical_request(const struct fsg_http_request *req,
                                         const struct fsg_sigv4_params *p, struct fsg_buf *out,
                                         struct fsg_error *err) FSG_MUST_USE;
/* Task 2: the string to sign for a canonical request (appended to out). */
enum fsg_err fsg_sigv4_string_to_sign(struct fsg_span canonical_request,
                                      const struct fsg_sigv4_params *p, struct fsg_buf *out,
                                      struct fsg_error *err) FSG_MUST_USE;
/* Task 3: the hex signature (64 chars + NUL) of a string to sign. Key material is wiped. */
enum fsg_err fsg_sigv4_signature(struct fsg_span string_to_sign, const struct fsg_sigv4_params *p,
                                 char out_hex[65], struct fsg_error *err) FSG_MUST_USE;
/* Task 4: signs req in place: sets X-Amz-Security-Token (when a session token is given),
 * X-Amz-Date, x-amz-content-sha256 (S3, or when asked) and Authorization, in that order,
 * replacing older copies (so re-signing a retried request is fine).
 * FSG_E_INVALID_ARG if presign_expires_s is set (use fsg_sigv4_presign). */
enum fsg_err fsg_sigv4_sign(struct fsg_http_request *req, const struct fsg_sigv4_params *p,
                            struct fsg_error *err) FSG_MUST_USE;

/* Presigned URL: req->url with X-Amz-Algorithm, -Credential, -Date, -SignedHeaders, -Expires,
 * [-Security-Token] and -Signature appended to its query (a fragment is dropped). req is not
 * changed; the URL is appended to ret_url (caller owns it; it holds the session token).
 * p->presign_expires_s must be 1..FSG_SIGV4_MAX_PRESIGN_S. S3 signs UNSIGNED-PAYLOAD.
 * FSG_E_INVALID_ARG if the URL already carries X-Amz-Signature or another auth parameter. */
enum fsg_err fsg_sigv4_presign(const struct fsg_http_request *req, const struct fsg_sigv4_params *p,
                               struct fsg_buf *ret_url, struct fsg_error *err) FSG_MUST_USE;

/* The SignedHeaders value ("host;x-amz-date") that signing req with p would use; appended. */
enum fsg_err fsg_sigv4_signed_headers(const struct fsg_http_request *req,
                                      const struct fsg_sigv4_params *p, struct fsg_buf *out,
                                      struct fsg_error *err) FSG_MUST_USE;

/* The canonical URI of an URL path ("/a b" or "/a%20b"; empty means "/") under p's rules
 * (s3_rules, skip_path_normalization). Appended to out. Never fails except FSG_E_NOMEM. */
enum fsg_err fsg_sigv4_canonical_uri(struct fsg_span path, const struct fsg_sigv4_params *p,
                                     struct fsg_buf *out) FSG_MUST_USE;

/* The canonical query string of an URL query (the part after '?', without it). Appended.
 * Never fails except FSG_E_NOMEM. */
enum fsg_err fsg_sigv4_canonical_query(struct fsg_span query, struct fsg_buf *out) FSG_MUST_USE;

/* The signing key HMAC chain (kSigning) for p's secret, date (now_s), region and service.
 * The caller must wipe out_key (fsg_secure_zero) after use. */
enum fsg_err fsg_sigv4_signing_key(const struct fsg_sigv4_params *p, uint8_t out_key[32],
                                   struct fsg_error *err) FSG_MUST_USE;

/* "YYYYMMDDTHHMMSSZ" (UTC) for t; FSG_E_INVALID_ARG outside years 1970..9999. */
enum fsg_err fsg_sigv4_amz_date(time_t t, char out[17]) FSG_MUST_USE;

/* RFC 3986 percent-encoding as SigV4 wants it (unreserved A-Z a-z 0-9 - _ . ~ kept, space is
 * %20); '/' is kept when keep_slash (S3 keys in paths). Appends to out. */
enum fsg_err fsg_uri_encode(struct fsg_buf *out, struct fsg_span s, bool keep_slash) FSG_MUST_USE;

/* Percent-decoding: every valid %XY becomes its byte; anything else (including '+', and a '%'
 * not followed by two hex digits) is copied unchanged. Appends to out. */
enum fsg_err fsg_uri_decode(struct fsg_buf *out, struct fsg_span s) FSG_MUST_USE;

#endif
