/* AWS "standard" retry mode. See lib/aws/retry.h for the rules and their sources. */
#include "lib/aws/retry.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/core/deadline.h"

/* botocore retries/standard.py: _THROTTLED_ERROR_CODES. */
static const char *const s_throttling_codes[] = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
};

/* botocore retries/standard.py: _TRANSIENT_ERROR_CODES (S3's InternalError comes with a 500). */
static const char *const s_transient_codes[] = {
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "InternalError",
};

static bool s_in(const char *code, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(code, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

bool fsg_retry_is_throttling_code(const char *code)
{
    return code != NULL &&
           s_in(code, s_throttling_codes, sizeof s_throttling_codes / sizeof s_throttling_codes[0]);
}

bool fsg_retry_is_retryable(enum fsg_err rc, const struct fsg_error *err)
{
    if (rc == FSG_OK) {
        return false;
    }
    if (fsg_err_is_retryable(rc)) { /* FSG_E_NETWORK, FSG_E_THROTTLED */
        return true;
    }
    if (err == NULL) {
        return false;
    }
    int s = err->http_status;
    if (s == 500 || s == 502 || s == 503 || s == 504) {
        return true;
    }
    return fsg_retry_is_throttling_code(err->service_code) ||
           s_in(err->service_code, s_transient_codes,
                sizeof s_transient_codes / sizeof s_transient_codes[0]);
}

bool fsg_retry_is_timeout(enum fsg_err rc, const struct fsg_error *err)
{
    if (rc == FSG_OK || err == NULL) {
        return false;
    }
    const char *c = err->service_code;
    return strcmp(c, "ReadTimeout") == 0 || strcmp(c, "ConnectTimeout") == 0 ||
           strcmp(c, "RequestTimeout") == 0 || strcmp(c, "RequestTimeoutException") == 0;
}

unsigned fsg_retry_default_max_attempts(void)
{
    const char *v = getenv("AWS_MAX_ATTEMPTS");
    if (v == NULL || *v == '\0') {
        return FSG_RETRY_DEFAULT_MAX_ATTEMPTS;
    }
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno != 0 || *end != '\0' || v[0] == '-' || n < 1 || n > FSG_RETRY_MAX_ATTEMPTS_CAP) {
        return FSG_RETRY_DEFAULT_MAX_ATTEMPTS;
    }
    return (unsigned)n;
}

static void s_default_sleep(long ms, void *userdata)
{
    (void)userdata;
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Jitter only needs to spread clients apart, not to be unpredictable: a per-thread
 * xorshift64* seeded from the clock and the thread's own address. */
static double s_default_random(void *userdata)
{
    (void)userdata;
    static _Thread_local uint64_t state;
    if (state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        state = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^
                (uint64_t)(uintptr_t)&state;
        state |= 1;
    }
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    uint64_t r = state * 0x2545F4914F6CDD1DULL;
    return (double)(r >> 11) / 9007199254740992.0; /* 53 bits -> [0, 1) */
}

void fsg_retry_policy_init(struct fsg_retry_policy *p, const struct fsg_retry_options *opts)
{
    static const struct fsg_retry_options s_none = { 0 };
    const struct fsg_retry_options *o = opts != NULL ? opts : &s_none;
    p->max_attempts = o->max_attempts > 0 ? o->max_attempts : fsg_retry_default_max_attempts();
    p->sleep = o->sleep != NULL ? o->sleep : s_default_sleep;
    p->random = o->random != NULL ? o->random : s_default_random;
    p->userdata = o->userdata;
    atomic_init(&p->quota, FSG_RETRY_QUOTA_CAPACITY);
}

long fsg_retry_backoff_ms(const struct fsg_retry_policy *p, unsigned attempt)
{
    long cap = FSG_RETRY_MAX_BACKOFF_MS;
    /* 2^(n-1) s, without overflowing the shift: 2^5 s already exceeds the 20 s cap. */
    if (attempt >= 1 && attempt <= 5) {
        long b = FSG_RETRY_BASE_MS << (attempt - 1);
        cap = b < cap ? b : cap;
    }
    double r = p->random(p->userdata);
    if (!(r >= 0.0) || r >= 1.0) { /* a broken source must not produce a negative sleep */
        r = 0.0;
    }
    return (long)(r * (double)cap);
}

bool fsg_retry_quota_acquire(struct fsg_retry_policy *p, bool is_timeout, int *ret_cost)
{
    int cost = is_timeout ? FSG_RETRY_TIMEOUT_COST : FSG_RETRY_COST;
    int have = atomic_load(&p->quota);
    while (have >= cost) {
        if (atomic_compare_exchange_weak(&p->quota, &have, have - cost)) {
            *ret_cost = cost;
            return true;
        }
    }
    return false;
}

void fsg_retry_quota_release(struct fsg_retry_policy *p, int cost)
{
    int add = cost > 0 ? cost : FSG_RETRY_SUCCESS_INCREMENT;
    int have = atomic_load(&p->quota);
    for (;;) {
        int next = have + add > FSG_RETRY_QUOTA_CAPACITY ? FSG_RETRY_QUOTA_CAPACITY : have + add;
        if (next == have || atomic_compare_exchange_weak(&p->quota, &have, next)) {
            return;
        }
    }
}

int fsg_retry_quota_available(const struct fsg_retry_policy *p)
{
    return atomic_load(&p->quota);
}

/* Appends " (<before><n><after>)" to err->msg when it fits; the original message stays first. */
static void s_note(struct fsg_error *err, const char *before, unsigned n, const char *after)
{
    size_t len = strlen(err->msg);
    if (len < sizeof err->msg - 1) {
        snprintf(err->msg + len, sizeof err->msg - len, " (%s%u%s)", before, n, after);
    }
}

enum fsg_err fsg_retry_run(struct fsg_retry_policy *p, fsg_retry_attempt_fn *fn, void *userdata,
                           struct fsg_error *err)
{
    struct fsg_error local = { 0 };
    struct fsg_error *e = err != NULL ? err : &local;
    int last_cost = 0;
    for (unsigned n = 1;; n++) {
        struct fsg_retry_attempt a = { .number = n };
        enum fsg_err rc = fn(userdata, &a, e);
        if (rc == FSG_OK) {
            fsg_retry_quota_release(p, last_cost);
            return FSG_OK;
        }
        if (a.no_retry && a.not_sent) {
            s_note(e, "not sent again after ", n - 1, " attempt(s): asked to stop");
            return rc;
        }
        if (a.no_retry || !fsg_retry_is_retryable(rc, e)) {
            if (n > 1) {
                s_note(e, "attempt ", n, "");
            }
            return rc;
        }
        if (n >= p->max_attempts) {
            if (n > 1) {
                s_note(e, "gave up after ", n, " attempts");
            }
            return rc;
        }
        if (!fsg_retry_quota_acquire(p, fsg_retry_is_timeout(rc, e), &last_cost)) {
            s_note(e, "retry quota exhausted after ", n, " attempts: too many failures");
            return rc;
        }
        long delay_ms = fsg_retry_backoff_ms(p, n);
        if ((int64_t)delay_ms >= fsg_deadline_remaining_ms(fsg_run_deadline())) {
            /* No point in waiting past the run deadline for an attempt that cannot finish. */
            s_note(e, "no retry: the run deadline comes first, after ", n, " attempts");
            return rc;
        }
        p->sleep(delay_ms, p->userdata);
    }
}
