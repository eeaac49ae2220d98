/* The AWS SDK "standard" retry mode, shared by every AWS call (lib/aws/aws.c).
 * https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
 * botocore retries/standard.py and retries/quota.py; ref/aws-wire.md §6.3.
 * - max attempts: 3 by default (initial + 2 retries), AWS_MAX_ATTEMPTS overrides;
 * - retried: throttling codes, transient codes, HTTP 500/502/503/504, network errors/timeouts;
 * - delay before retry n (n = the failed attempt, 1-based): rand[0,1) * min(2^(n-1), 20) s;
 * - a retry quota (token bucket, 500 tokens): a retry costs 5 (10 after a timeout), a success
 *   returns the cost of the retry that led to it, or 1. An empty bucket stops retrying. */
#ifndef FSG_LIB_RETRY_H
#define FSG_LIB_RETRY_H

#include <stdatomic.h>
#include <stdbool.h>

#include "lib/core/error.h"

#define FSG_RETRY_DEFAULT_MAX_ATTEMPTS 3u
#define FSG_RETRY_MAX_ATTEMPTS_CAP 100u    /* a typo in AWS_MAX_ATTEMPTS must not hang us */
#define FSG_RETRY_MAX_BACKOFF_MS 20000L    /* the SDKs' cap */
#define FSG_RETRY_BASE_MS 1000L            /* 2^0 s */
#define FSG_RETRY_QUOTA_CAPACITY 500
#define FSG_RETRY_COST 5
#define FSG_RETRY_TIMEOUT_COST 10
#define FSG_RETRY_SUCCESS_INCREMENT 1

/* Sleeps ms milliseconds (tests record instead). */
typedef void(fsg_retry_sleep_fn)(long ms, void *userdata);
/* A uniform number in [0, 1). */
typedef double(fsg_retry_random_fn)(void *userdata);

struct fsg_retry_options {
    unsigned max_attempts;       /* 0 = fsg_retry_default_max_attempts() */
    fsg_retry_sleep_fn *sleep;   /* NULL = nanosleep */
    fsg_retry_random_fn *random; /* NULL = a per-thread PRNG */
    void *userdata;              /* borrowed, passed to sleep and random */
};

/* Caller storage; initialise with fsg_retry_policy_init. The quota is atomic, so one policy
 * may be shared by threads. */
struct fsg_retry_policy {
    unsigned max_attempts;
    fsg_retry_sleep_fn *sleep;
    fsg_retry_random_fn *random;
    void *userdata;
    atomic_int quota;
};

/* opts may be NULL (all defaults). Reads AWS_MAX_ATTEMPTS when max_attempts is 0. */
void fsg_retry_policy_init(struct fsg_retry_policy *p, const struct fsg_retry_options *opts);

/* AWS_MAX_ATTEMPTS when it is a number in 1..FSG_RETRY_MAX_ATTEMPTS_CAP, else 3. */
unsigned fsg_retry_default_max_attempts(void);

/* Whether a failed attempt may be retried: FSG_E_THROTTLED, FSG_E_NETWORK, HTTP 500/502/503/504,
 * or a transient service code (RequestTimeout, PriorRequestNotComplete, ...). err may be NULL. */
bool fsg_retry_is_retryable(enum fsg_err rc, const struct fsg_error *err);
/* Whether the failure was a timeout (it costs more quota): the transport's ReadTimeout /
 * ConnectTimeout tokens or a RequestTimeout code. */
bool fsg_retry_is_timeout(enum fsg_err rc, const struct fsg_error *err);
/* Whether a service code is one of the SDKs' throttling codes (Throttling, SlowDown, ...). */
bool fsg_retry_is_throttling_code(const char *code);

/* The delay before retrying after failed attempt number `attempt` (1-based), full jitter. */
long fsg_retry_backoff_ms(const struct fsg_retry_policy *p, unsigned attempt);

/* Takes the cost of one retry from the quota; false (nothing taken) when it cannot pay. */
bool fsg_retry_quota_acquire(struct fsg_retry_policy *p, bool is_timeout, int *ret_cost);
/* After a success: returns `cost` (the retry that led to it) or, when 0, the success increment. */
void fsg_retry_quota_release(struct fsg_retry_policy *p, int cost);
int fsg_retry_quota_available(const struct fsg_retry_policy *p);

/* One attempt of an operation, given to fsg_retry_run. Set no_retry when the failure must not
 * be repeated blindly (e.g. part of a streamed body was already delivered). */
struct fsg_retry_attempt {
    unsigned number; /* 1-based */
    bool no_retry;   /* out */
    bool not_sent;   /* out, with no_retry: this attempt was not made (the caller was asked to
                      * stop); the code and detail returned are the last attempt's */
};
typedef enum fsg_err(fsg_retry_attempt_fn)(void *userdata, struct fsg_retry_attempt *attempt,
                                            struct fsg_error *err);

/* Calls fn until it succeeds, fails in a way that is not retryable, runs out of attempts, or
 * the quota runs dry; sleeps the backoff in between. Returns the last attempt's code and
 * detail; when retries were made the message says how many attempts were used. Synchronous. */
enum fsg_err fsg_retry_run(struct fsg_retry_policy *p, fsg_retry_attempt_fn *fn, void *userdata,
                           struct fsg_error *err) FSG_MUST_USE;

#endif
