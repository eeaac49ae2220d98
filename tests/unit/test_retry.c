/* lib/retry: backoff bounds, what is retried, the quota, the run loop (sleep injected). */
#include <stdlib.h>
#include <string.h>

#include "lib/aws/retry.h"
#include "lib/core/deadline.h"
#include "tests/harness/test.h"

struct s_fake {
    double r;          /* what random() returns */
    long slept[32];
    size_t n_slept;
};

static void s_sleep(long ms, void *userdata)
{
    struct s_fake *f = userdata;
    if (f->n_slept < 32) {
        f->slept[f->n_slept] = ms;
    }
    f->n_slept++;
}

static double s_random(void *userdata)
{
    return ((struct s_fake *)userdata)->r;
}

static void s_policy(struct fsg_retry_policy *p, struct s_fake *f, unsigned max_attempts)
{
    struct fsg_retry_options o = { .max_attempts = max_attempts, .sleep = s_sleep,
                                   .random = s_random, .userdata = f };
    fsg_retry_policy_init(p, &o);
}

static int s_backoff_bounds(void)
{
    struct s_fake f = { .r = 0.999999 };
    struct fsg_retry_policy p;
    s_policy(&p, &f, 3);
    /* full jitter: rand * min(2^(n-1) s, 20 s) */
    static const long caps[] = { 0, 1000, 2000, 4000, 8000, 16000, 20000, 20000, 20000 };
    for (unsigned n = 1; n < sizeof caps / sizeof caps[0]; n++) {
        long ms = fsg_retry_backoff_ms(&p, n);
        T_CHECK(ms < caps[n] && ms >= caps[n] - 1);
    }
    T_CHECK(fsg_retry_backoff_ms(&p, 1000) < 20000);
    T_CHECK(fsg_retry_backoff_ms(&p, 4000000000u) < 20000);
    f.r = 0.0;
    T_CHECK(fsg_retry_backoff_ms(&p, 5) == 0);
    f.r = 0.5;
    T_CHECK(fsg_retry_backoff_ms(&p, 2) == 1000);
    f.r = -3.0; /* a broken random source never makes a negative or huge delay */
    T_CHECK(fsg_retry_backoff_ms(&p, 3) == 0);
    f.r = 7.0;
    T_CHECK(fsg_retry_backoff_ms(&p, 3) == 0);

    /* the default source stays in range and varies */
    struct fsg_retry_policy d;
    fsg_retry_policy_init(&d, &(struct fsg_retry_options){ .max_attempts = 3 });
    long lo = 20000, hi = -1;
    for (int i = 0; i < 1000; i++) {
        long ms = fsg_retry_backoff_ms(&d, 6);
        T_CHECK(ms >= 0 && ms < 20000);
        lo = ms < lo ? ms : lo;
        hi = ms > hi ? ms : hi;
    }
    T_CHECK(hi - lo > 10000);
    return 0;
}

static struct fsg_error s_err(int status, const char *code)
{
    struct fsg_error e = { .http_status = status };
    strncpy(e.service_code, code, sizeof e.service_code - 1);
    return e;
}

static int s_what_is_retried(void)
{
    static const struct {
        enum fsg_err rc;
        int status;
        const char *code;
        bool retry;
        bool timeout;
    } cases[] = {
        { FSG_E_THROTTLED, 503, "SlowDown", true, false },
        { FSG_E_THROTTLED, 503, "RequestLimitExceeded", true, false },
        { FSG_E_THROTTLED, 400, "Throttling", true, false },
        { FSG_E_THROTTLED, 429, "", true, false },
        { FSG_E_NETWORK, 0, "ConnectionError", true, false },
        { FSG_E_NETWORK, 0, "ReadTimeout", true, true },
        { FSG_E_NETWORK, 0, "ConnectTimeout", true, true },
        { FSG_E_REMOTE, 500, "InternalError", true, false },
        { FSG_E_REMOTE, 502, "", true, false },
        { FSG_E_REMOTE, 503, "ServiceUnavailable", true, false },
        { FSG_E_REMOTE, 504, "", true, false },
        { FSG_E_REMOTE, 400, "RequestTimeout", true, true },
        { FSG_E_REMOTE, 400, "PriorRequestNotComplete", true, false },
        { FSG_E_REMOTE, 501, "NotImplemented", false, false },
        { FSG_E_REMOTE, 400, "RulesPerSecurityGroupLimitExceeded", false, false },
        { FSG_E_AUTH, 403, "SignatureDoesNotMatch", false, false },
        { FSG_E_AUTH, 400, "ExpiredToken", false, false },
        { FSG_E_NOT_FOUND, 404, "NoSuchKey", false, false },
        { FSG_E_CONFLICT, 400, "InvalidPermission.Duplicate", false, false },
        { FSG_E_REJECTED, 400, "InvalidParameterValue", false, false },
        { FSG_E_PARSE, 0, "", false, false },
        { FSG_OK, 200, "", false, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fsg_error e = s_err(cases[i].status, cases[i].code);
        if (fsg_retry_is_retryable(cases[i].rc, &e) != cases[i].retry ||
            fsg_retry_is_timeout(cases[i].rc, &e) != cases[i].timeout) {
            t_fail_str(__FILE__, __LINE__, "case", cases[i].code, cases[i].retry ? "retry" : "no");
            return 1;
        }
    }
    T_CHECK(fsg_retry_is_retryable(FSG_E_NETWORK, NULL));
    T_CHECK(!fsg_retry_is_retryable(FSG_E_REMOTE, NULL));
    T_CHECK(fsg_retry_is_throttling_code("EC2ThrottledException"));
    T_CHECK(!fsg_retry_is_throttling_code("Throttlingx"));
    T_CHECK(!fsg_retry_is_throttling_code(NULL));
    return 0;
}

static int s_quota(void)
{
    struct s_fake f = { 0 };
    struct fsg_retry_policy p;
    s_policy(&p, &f, 3);
    T_CHECK(fsg_retry_quota_available(&p) == 500);
    int cost = 0;
    T_CHECK(fsg_retry_quota_acquire(&p, false, &cost) && cost == 5);
    T_CHECK(fsg_retry_quota_acquire(&p, true, &cost) && cost == 10);
    T_CHECK(fsg_retry_quota_available(&p) == 485);
    fsg_retry_quota_release(&p, 10);
    T_CHECK(fsg_retry_quota_available(&p) == 495);
    fsg_retry_quota_release(&p, 0); /* a success without retry: +1 */
    T_CHECK(fsg_retry_quota_available(&p) == 496);
    for (int i = 0; i < 10; i++) {
        fsg_retry_quota_release(&p, 5);
    }
    T_CHECK(fsg_retry_quota_available(&p) == 500); /* capped at capacity */
    int taken = 0;
    while (fsg_retry_quota_acquire(&p, false, &cost)) {
        taken++;
    }
    T_CHECK(taken == 100 && fsg_retry_quota_available(&p) == 0);
    fsg_retry_quota_release(&p, 0);
    T_CHECK(!fsg_retry_quota_acquire(&p, false, &cost));
    return 0;
}

/* An operation that fails with scripted results. */
struct s_op {
    const enum fsg_err *results;
    const int *statuses;
    const char *const *codes;
    size_t n;
    unsigned calls;
    bool no_retry_on_first;
};

static enum fsg_err s_op_attempt(void *userdata, struct fsg_retry_attempt *a, struct fsg_error *err)
{
    struct s_op *op = userdata;
    size_t i = op->calls < op->n ? op->calls : op->n - 1;
    op->calls++;
    if (a->number != op->calls) {
        return fsg_error_set(err, FSG_E_INTERNAL, "attempt numbering");
    }
    if (op->results[i] == FSG_OK) {
        return FSG_OK;
    }
    fsg_error_set(err, op->results[i], "failed %u", op->calls);
    err->http_status = op->statuses[i];
    strncpy(err->service_code, op->codes[i], sizeof err->service_code - 1);
    a->no_retry = op->no_retry_on_first && op->calls == 1;
    return op->results[i];
}

static int s_run_loop(void)
{
    static const enum fsg_err r503_ok[] = { FSG_E_THROTTLED, FSG_OK };
    static const int s503[] = { 503, 200 };
    static const char *const c503[] = { "SlowDown", "" };
    struct s_fake f = { .r = 0.5 };
    struct fsg_retry_policy p;
    struct fsg_error err = { 0 };
    s_policy(&p, &f, 3);

    struct s_op op = { r503_ok, s503, c503, 2, 0, false };
    T_OK(fsg_retry_run(&p, s_op_attempt, &op, &err));
    T_CHECK(op.calls == 2 && f.n_slept == 1 && f.slept[0] == 500);
    T_CHECK(fsg_retry_quota_available(&p) == 500); /* 5 taken, 5 returned */

    /* always throttled: 3 attempts, 2 sleeps, the message says so */
    static const enum fsg_err always[] = { FSG_E_THROTTLED };
    static const int s_always[] = { 503 };
    static const char *const c_always[] = { "SlowDown" };
    op = (struct s_op){ always, s_always, c_always, 1, 0, false };
    f.n_slept = 0;
    T_ERR(FSG_E_THROTTLED, fsg_retry_run(&p, s_op_attempt, &op, &err));
    T_CHECK(op.calls == 3 && f.n_slept == 2 && f.slept[1] == 1000);
    T_CHECK(strstr(err.msg, "gave up after 3 attempts") != NULL);
    T_CHECK(strncmp(err.msg, "failed 3", 8) == 0);
    T_STR_EQ(err.service_code, "SlowDown");

    /* not retryable: one attempt */
    static const enum fsg_err auth[] = { FSG_E_AUTH };
    static const int s_auth[] = { 403 };
    static const char *const c_auth[] = { "SignatureDoesNotMatch" };
    op = (struct s_op){ auth, s_auth, c_auth, 1, 0, false };
    f.n_slept = 0;
    T_ERR(FSG_E_AUTH, fsg_retry_run(&p, s_op_attempt, &op, &err));
    T_CHECK(op.calls == 1 && f.n_slept == 0);
    T_CHECK(strstr(err.msg, "attempt") == NULL);

    /* the attempt itself can forbid the retry (a streamed body was partly delivered) */
    op = (struct s_op){ always, s_always, c_always, 1, 0, true };
    T_ERR(FSG_E_THROTTLED, fsg_retry_run(&p, s_op_attempt, &op, &err));
    T_CHECK(op.calls == 1);

    /* a higher limit from the options; NULL err is fine */
    s_policy(&p, &f, 5);
    op = (struct s_op){ always, s_always, c_always, 1, 0, false };
    T_ERR(FSG_E_THROTTLED, fsg_retry_run(&p, s_op_attempt, &op, NULL));
    T_CHECK(op.calls == 5);
    return 0;
}

static int s_quota_stops_retries(void)
{
    static const enum fsg_err always[] = { FSG_E_NETWORK };
    static const int st[] = { 0 };
    static const char *const codes[] = { "ReadTimeout" };
    struct s_fake f = { 0 };
    struct fsg_retry_policy p;
    struct fsg_error err = { 0 };
    s_policy(&p, &f, 100);
    struct s_op op = { always, st, codes, 1, 0, false };
    T_ERR(FSG_E_NETWORK, fsg_retry_run(&p, s_op_attempt, &op, &err));
    /* 500 tokens / 10 per timeout retry = 50 retries, then the 51st attempt's failure stands */
    T_CHECK(op.calls == 51);
    T_CHECK(strstr(err.msg, "retry quota exhausted") != NULL);
    /* with an empty bucket the next failing call is not retried at all */
    op = (struct s_op){ always, st, codes, 1, 0, false };
    T_ERR(FSG_E_NETWORK, fsg_retry_run(&p, s_op_attempt, &op, &err));
    T_CHECK(op.calls == 1);
    return 0;
}

/* No backoff sleep runs past the run deadline: the failure is returned at once. */
static int s_no_sleep_past_the_run_deadline(void)
{
    static const enum fsg_err always[] = { FSG_E_THROTTLED };
    static const int st[] = { 503 };
    static const char *const codes[] = { "SlowDown" };
    struct s_fake f = { .r = 0.9 }; /* first backoff: 900 ms */
    struct fsg_retry_policy p;
    struct fsg_error err = { 0 };
    s_policy(&p, &f, 3);
    fsg_run_deadline_set(fsg_deadline_in_ms(500));
    struct s_op op = { always, st, codes, 1, 0, false };
    T_ERR(FSG_E_THROTTLED, fsg_retry_run(&p, s_op_attempt, &op, &err));
    T_CHECK(op.calls == 1 && f.n_slept == 0);
    T_CHECK(strstr(err.msg, "run deadline") != NULL);
    /* with time to spare, the retries happen as usual */
    fsg_run_deadline_set(fsg_deadline_in_ms(60000));
    op = (struct s_op){ always, st, codes, 1, 0, false };
    T_ERR(FSG_E_THROTTLED, fsg_retry_run(&p, s_op_attempt, &op, &err));
    T_CHECK(op.calls == 3 && f.n_slept == 2);
    fsg_run_deadline_set(FSG_DEADLINE_NONE);
    return 0;
}

static int s_max_attempts_from_env(void)
{
    static const struct {
        const char *value;
        unsigned want;
    } cases[] = {
        { "5", 5 }, { "1", 1 }, { "100", 100 }, { "0", 3 }, { "-2", 3 }, { "abc", 3 },
        { "7x", 3 }, { "", 3 }, { "101", 3 }, { "99999999999999999999", 3 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("AWS_MAX_ATTEMPTS", cases[i].value, 1);
        T_CHECK(fsg_retry_default_max_attempts() == cases[i].want);
    }
    setenv("AWS_MAX_ATTEMPTS", "4", 1);
    struct fsg_retry_policy p;
    fsg_retry_policy_init(&p, NULL);
    T_CHECK(p.max_attempts == 4);
    unsetenv("AWS_MAX_ATTEMPTS");
    T_CHECK(fsg_retry_default_max_attempts() == 3);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "no_sleep_past_the_run_deadline", s_no_sleep_past_the_run_deadline },
        { "backoff_bounds", s_backoff_bounds },
        { "what_is_retried", s_what_is_retried },
        { "quota", s_quota },
        { "run_loop", s_run_loop },
        { "quota_stops_retries", s_quota_stops_retries },
        { "max_attempts_from_env", s_max_attempts_from_env },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
