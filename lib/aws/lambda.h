/* The Lambda Runtime API client and invocation loop of a custom runtime (provided.al2023).
 * Protocol: ref/aws-wire.md §3.3 (API version 2018-06-01, plain HTTP/1.1).
 *
 * The caller passes the runtime address (AWS_LAMBDA_RUNTIME_API, read once by main()); nothing
 * here reads the environment. The loop does export each invocation's trace header as
 * _X_AMZN_TRACE_ID, as Lambda's own runtimes do, so X-Ray-aware code finds it. */
#ifndef FSG_LIB_LAMBDA_H
#define FSG_LIB_LAMBDA_H

#include <stdint.h>

#include "lib/core/buf.h"

struct fsg_http_client;
struct fsg_lambda;

/* One invocation, as `next` returned it. Strings are owned and NUL-terminated. */
struct fsg_lambda_invocation {
    char *request_id;     /* Lambda-Runtime-Aws-Request-Id; never NULL after next() */
    int64_t deadline_ms;  /* Lambda-Runtime-Deadline-Ms (Unix epoch ms); 0 = none or invalid */
    char *deadline_raw;   /* the header as received; NULL when absent */
    char *function_arn;   /* Lambda-Runtime-Invoked-Function-Arn; NULL when absent */
    char *trace_id;       /* Lambda-Runtime-Trace-Id; NULL when absent */
    struct fsg_buf event; /* the payload (JSON text, not validated here) */
};

/* Frees the fields and zeroes the struct; safe on a zeroed struct and twice. */
void fsg_lambda_invocation_clean_up(struct fsg_lambda_invocation *inv);

/* Handles one invocation: appends the response JSON to out_json and returns FSG_OK, or
 * returns an error with detail in err (the loop posts it as the invocation error and goes on
 * with the next invocation). inv and out_json are borrowed for the call; synchronous. */
typedef enum fsg_err(fsg_lambda_handler_fn)(const struct fsg_lambda_invocation *inv,
                                             struct fsg_buf *out_json, struct fsg_error *err,
                                             void *userdata);

typedef void(fsg_lambda_sleep_fn)(long ms, void *userdata);

struct fsg_lambda_options {
    const char *runtime_api;        /* required: "host:port"; copied */
    struct fsg_http_client *client; /* borrowed, must outlive the runtime; NULL = an own libcurl
                                     * client with no read timeout (the environment is frozen
                                     * between invocations, so `next` may wait for hours) */
    unsigned max_next_failures;     /* consecutive transport failures of `next` before the loop
                                     * gives up; 0 = 3 (aws-lambda-cpp) */
    long retry_delay_ms;            /* pause after a failed `next`; 0 = 100, < 0 = none */
    fsg_lambda_sleep_fn *sleep;     /* NULL = nanosleep; tests inject a no-op */
    void *sleep_userdata;
    unsigned long max_invocations;  /* the loop returns FSG_OK after this many; 0 = forever */
};

/* Caller owns *ret_rt (fsg_lambda_destroy). FSG_E_INVALID_ARG for a missing or malformed
 * runtime_api; errors of fsg_http_client_new otherwise. */
enum fsg_err fsg_lambda_new(const struct fsg_lambda_options *opts, struct fsg_lambda **ret_rt,
                            struct fsg_error *err) FSG_MUST_USE;
void fsg_lambda_destroy(struct fsg_lambda *rt); /* NULL ok */

/* GET /2018-06-01/runtime/invocation/next, waiting as long as it takes. On success fills
 * *ret_inv (which must be zeroed; caller cleans it up). FSG_E_NETWORK: transport failure
 * (retryable); FSG_E_REMOTE: a status other than 200 (err->http_status); FSG_E_PARSE: no
 * request id. A present but invalid deadline is not an error here: deadline_ms stays 0 and
 * deadline_raw holds the value (fsg_lambda_run answers such an invocation with an error). */
enum fsg_err fsg_lambda_next(struct fsg_lambda *rt, struct fsg_lambda_invocation *ret_inv,
                             struct fsg_error *err) FSG_MUST_USE;

/* POST .../invocation/{id}/response with the JSON body (borrowed). FSG_E_LIMIT when the
 * body is over Lambda's 6 MiB or the API answers 413; FSG_E_REJECTED for another 4xx;
 * FSG_E_REMOTE for 5xx (the runtime should exit); FSG_E_NETWORK. */
enum fsg_err fsg_lambda_post_response(struct fsg_lambda *rt,
                                      const struct fsg_lambda_invocation *inv,
                                      struct fsg_span json, struct fsg_error *err) FSG_MUST_USE;

/* POST .../invocation/{id}/error: body {"errorMessage", "errorType", "stackTrace": []} and
 * header Lambda-Runtime-Function-Error-Type, both error_type ("Category.Reason"). The message
 * is detail->msg plus HTTP status, service code and request id when set. Codes as above. */
enum fsg_err fsg_lambda_post_error(struct fsg_lambda *rt, const struct fsg_lambda_invocation *inv,
                                   const char *error_type, const struct fsg_error *detail,
                                   struct fsg_error *err) FSG_MUST_USE;

/* POST /2018-06-01/runtime/init/error, for a failure before the first `next`; the caller then
 * exits non-zero. */
enum fsg_err fsg_lambda_post_init_error(struct fsg_lambda *rt, const char *error_type,
                                        const struct fsg_error *detail,
                                        struct fsg_error *err) FSG_MUST_USE;

/* The loop: next -> handler -> response or error -> next ... Handler errors are posted as
 * "Function.<FSG_E_NAME>" and the loop goes on; an invalid deadline header is answered with
 * "Runtime.InvalidDeadline" without calling the handler. Returns when `next` failed
 * max_next_failures times in a row or with a non-retryable error, when a post failed in a way
 * the runtime cannot go on from (network, 5xx), or with FSG_OK after max_invocations. */
enum fsg_err fsg_lambda_run(struct fsg_lambda *rt, fsg_lambda_handler_fn *handler,
                            void *userdata, struct fsg_error *err) FSG_MUST_USE;

/* Number of invocations the loop has answered (response or error) so far. */
unsigned long fsg_lambda_invocations(const struct fsg_lambda *rt);

/* Validates a Lambda-Runtime-Deadline-Ms value: decimal Unix epoch milliseconds between
 * 2001-09-09 (10^12: smaller is a unit mistake, seconds) and 9999-12-31. FSG_E_PARSE otherwise;
 * *ret_ms set only on success. */
enum fsg_err fsg_lambda_parse_deadline(struct fsg_span value, int64_t *ret_ms,
                                       struct fsg_error *err) FSG_MUST_USE;

/* Milliseconds left before the invocation's deadline at now_ms (Unix epoch ms); negative when
 * it has passed; INT64_MAX when the invocation has no deadline. */
int64_t fsg_lambda_remaining_ms(const struct fsg_lambda_invocation *inv, int64_t now_ms);

/* The wall clock as Unix epoch milliseconds (CLOCK_REALTIME, like the deadline). */
int64_t fsg_lambda_now_ms(void);

#endif
