/* The AWS request pipeline used by every AWS call (S3, EC2, RDS, ELBv2):
 *   sign (SigV4, time(NULL)) -> send -> classify the answer into enum fsg_err -> retry
 *   (AWS "standard" mode, lib/aws/retry.h); an ExpiredToken answer refreshes the credentials once.
 * Errors fill struct fsg_error with http_status, service_code (the AWS error code),
 * request_id, and a message saying what failed (service, action, resource) and what to do.
 * Never a secret: no header values, no credentials, no bodies in messages or logs.
 *
 * A client is used by one thread at a time (it owns or borrows one HTTP client). Threads that
 * work in parallel each make their own client and may share one credentials provider. */
#ifndef FSG_LIB_AWS_H
#define FSG_LIB_AWS_H

#include <signal.h>
#include <stdbool.h>
#include <time.h>

#include "lib/core/buf.h"
#include "lib/http/http.h"
#include "lib/aws/retry.h"

struct fsg_aws_client;
struct fsg_aws_xml_doc;
struct fsg_creds_provider;
struct fsg_credentials;

/* A credentials source other than a provider (tests, special callers). Returns credentials
 * valid at now_s; force_refresh asks for new ones (after ExpiredToken). *ret is borrowed until
 * the next call. */
typedef enum fsg_err(fsg_aws_creds_fn)(void *userdata, time_t now_s, bool force_refresh,
                                       const struct fsg_credentials **ret, struct fsg_error *err);
typedef time_t(fsg_aws_clock_fn)(void *userdata);

struct fsg_aws_client_options {
    const char *service;      /* required: "s3", "ec2", "rds", "elasticloadbalancing" (the
                               * signing name and the endpoint id); copied */
    const char *region;       /* NULL = AWS_REGION / AWS_DEFAULT_REGION / the profile; copied */
    const char *endpoint_url; /* NULL = resolved the AWS way (AWS_ENDPOINT_URL_<SERVICE>,
                               * AWS_ENDPOINT_URL, profile, else the public endpoint; S3 then
                               * uses path-style for a configured endpoint); copied */
    bool path_style;          /* S3: path-style URLs (set it with endpoint_url for emulators) */
    struct fsg_http_client *http;                    /* borrowed; NULL = own libcurl client */
    const struct fsg_http_client_options *http_options; /* for the own client; NULL = defaults */
    struct fsg_creds_provider *creds;  /* borrowed, must outlive the client; NULL = own default
                                        * chain (unless creds_fn is set) */
    fsg_aws_creds_fn *creds_fn;        /* used instead of a provider when set */
    void *creds_userdata;
    struct fsg_retry_options retry;    /* zero = standard mode defaults */
    fsg_aws_clock_fn *clock;           /* NULL = time(NULL) */
    void *clock_userdata;
};

/* Caller owns *ret (fsg_aws_client_destroy). FSG_E_INVALID_ARG: no service, no region found. */
enum fsg_err fsg_aws_client_new(const struct fsg_aws_client_options *opts,
                                struct fsg_aws_client **ret, struct fsg_error *err) FSG_MUST_USE;
void fsg_aws_client_destroy(struct fsg_aws_client *c); /* NULL ok */

/* Borrowed, valid for the client's life. The endpoint has no trailing slash. */
const char *fsg_aws_client_endpoint(const struct fsg_aws_client *c);
const char *fsg_aws_client_region(const struct fsg_aws_client *c);
const char *fsg_aws_client_service(const struct fsg_aws_client *c);
bool fsg_aws_client_path_style(const struct fsg_aws_client *c);

/* S3 buckets found in another region (learned from x-amz-bucket-region after a redirect), so
 * later calls go there at once. Process-wide and thread-safe: a bucket's region is a fact about
 * the bucket, and the parallel readers (one client each) learn it once for all. Keeps the last
 * FSG_AWS_BUCKET_REGION_CACHE buckets. get copies the region into ret_region (size bytes) and
 * says whether the bucket is known; clear forgets all (tests). */
#define FSG_AWS_BUCKET_REGION_CACHE 16
bool fsg_aws_bucket_region_get(const char *bucket, char *ret_region, size_t size);
enum fsg_err fsg_aws_bucket_region_set(const char *bucket, const char *region) FSG_MUST_USE;
void fsg_aws_bucket_region_clear(void);

/* True when an attempt of the client's last call failed in a way that leaves its effect unknown
 * (a network error after sending, a timeout, an HTTP 5xx): the request may have been carried
 * out even though no answer said so. A mutating caller then must not read a later Duplicate /
 * NotFound answer as "another run did it" (the change may be its own). */
bool fsg_aws_client_last_call_uncertain(const struct fsg_aws_client *c);

/* A stop flag (borrowed, may be NULL; set by a signal handler): once it is non-zero, a mutating
 * call (fsg_aws_request.mutating) is not sent again, neither by the retry layer nor after an
 * ExpiredToken refresh, so nothing lands after a stop that the caller did not send before it.
 * The attempt in flight finishes; its failure is returned as it is. Returns the previous flag,
 * so a caller can put it back. c NULL: nothing (NULL). */
const volatile sig_atomic_t *fsg_aws_client_set_stop(struct fsg_aws_client *c,
                                                     const volatile sig_atomic_t *stop);
/* Whether c's stop flag is set and non-zero: a caller that repeats a mutating call itself (a
 * wait for a busy resource) stops repeating it. NULL ok (false). */
bool fsg_aws_client_stop_requested(const struct fsg_aws_client *c);

/* One REST call (S3). Everything is borrowed for the duration of the call. */
struct fsg_aws_request {
    const char *method;                     /* "GET", "HEAD", ... */
    const char *url;                        /* absolute and already encoded */
    const struct fsg_http_headers *headers; /* extra headers (Range, If-Match); may be NULL */
    struct fsg_span body;
    fsg_http_body_fn *on_body;              /* streams a 2xx body; NULL = buffer in resp->body */
    void *userdata;
    const char *action;                     /* "GetObject": for messages */
    const char *resource;                   /* "s3://bucket/key": for messages; may be NULL */
    const char *region;                     /* signing region; NULL = the client's (S3 uses
                                             * a bucket's own region after a redirect) */
    bool mutating;                          /* changes something: sent on a fresh connection
                                             * (fsg_http_request.fresh_connection) */
};

/* Signs, sends, classifies and retries r. resp must be zeroed; the caller cleans it up. On
 * FSG_OK resp has the 2xx status, the headers and (without on_body) the body.
 * When on_body already received bytes, a failure is not retried here (the caller decides, e.g.
 * resumes with Range): err->offset is then the number of body bytes delivered by the last
 * attempt. Error codes: FSG_E_THROTTLED, FSG_E_AUTH, FSG_E_NOT_FOUND, FSG_E_CONFLICT,
 * FSG_E_REJECTED, FSG_E_REMOTE (see fsg_aws_classify), FSG_E_NETWORK, or on_body's code. */
enum fsg_err fsg_aws_request(struct fsg_aws_client *c, const struct fsg_aws_request *r,
                             struct fsg_http_response *resp, struct fsg_error *err) FSG_MUST_USE;

/* Query-protocol parameters (EC2, RDS, ELBv2): an ordered list of owned name/value pairs. */
struct fsg_aws_param {
    char *name;
    char *value;
};
struct fsg_aws_params {
    struct fsg_aws_param *items;
    size_t len;
    size_t cap;
};
/* Appends copies. */
enum fsg_err fsg_aws_params_add(struct fsg_aws_params *p, const char *name,
                                const char *value) FSG_MUST_USE;
/* Appends with a formatted name: fsg_aws_params_addf(p, "sg-1", "Filter.%u.Value.1", 2). */
enum fsg_err fsg_aws_params_addf(struct fsg_aws_params *p, const char *value, const char *name_fmt,
                                 ...) FSG_PRINTF(3, 4) FSG_MUST_USE;
void fsg_aws_params_clean_up(struct fsg_aws_params *p); /* NULL ok; zeroes */

/* The form body "Action=A&Version=V&n1=v1&..." with each name and value encoded by the SigV4
 * rule (unreserved kept, everything else %XY, space %20). Appended to out. */
enum fsg_err fsg_aws_query_body(const char *action, const char *version,
                                const struct fsg_aws_params *params,
                                struct fsg_buf *out) FSG_MUST_USE;

/* One Query API call: POST / with the form body, then the XML answer parsed into *ret_doc
 * (caller owns, fsg_aws_xml_doc_destroy). params may be NULL. Errors as fsg_aws_request, plus
 * FSG_E_PARSE/FSG_E_LIMIT for a bad answer. */
enum fsg_err fsg_aws_query(struct fsg_aws_client *c, const char *action, const char *version,
                           const struct fsg_aws_params *params, struct fsg_aws_xml_doc **ret_doc,
                           struct fsg_error *err) FSG_MUST_USE;
/* The same, returning the raw XML body appended to ret_body. */
enum fsg_err fsg_aws_query_raw(struct fsg_aws_client *c, const char *action, const char *version,
                               const struct fsg_aws_params *params, struct fsg_buf *ret_body,
                               struct fsg_error *err) FSG_MUST_USE;

/* One JSON-protocol call (awsJson1_1: Secrets Manager, SSM): POST / with
 * Content-Type: application/x-amz-json-1.1, X-Amz-Target: target ("secretsmanager.GetSecretValue")
 * and body (a JSON object, borrowed); the 2xx answer is appended to ret_body (which may hold a
 * secret: the caller wipes it). Errors as fsg_aws_request, the code from "__type" or
 * X-Amzn-ErrorType. */
enum fsg_err fsg_aws_json(struct fsg_aws_client *c, const char *target, struct fsg_span body,
                          struct fsg_buf *ret_body, struct fsg_error *err) FSG_MUST_USE;

/* Maps an HTTP status and an AWS error code ("" or NULL when none) to our error code:
 * throttling codes, 429, a bare 503 -> FSG_E_THROTTLED; auth codes, 401, 403 -> FSG_E_AUTH;
 * *NotFound, NoSuch*, 404 -> FSG_E_NOT_FOUND; *.Duplicate, *AlreadyExists, PreconditionFailed,
 * 409, a bare 412 -> FSG_E_CONFLICT; InvalidParameter*, MissingParameter, ValidationError, *.Malformed ->
 * FSG_E_REJECTED; anything else non-2xx -> FSG_E_REMOTE; a 2xx status -> FSG_OK. */
enum fsg_err fsg_aws_classify(int http_status, const char *code);

#endif
