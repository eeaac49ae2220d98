/* Deadlines on the monotonic clock; see lib/core/deadline.h. */
#include "lib/core/deadline.h"

#include <stdatomic.h>
#include <time.h>

static atomic_llong s_run_deadline_ms;

int64_t fsg_clock_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fsg_clock_epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct fsg_deadline fsg_deadline_in_ms(int64_t ms)
{
    int64_t at = fsg_clock_monotonic_ms() + (ms > 0 ? ms : 0);
    /* 0 means "none": a deadline that is due right now must still count as set. */
    return (struct fsg_deadline){ .at_ms = at != 0 ? at : 1 };
}

struct fsg_deadline fsg_deadline_from_epoch_ms(int64_t epoch_ms, int64_t margin_ms)
{
    return fsg_deadline_in_ms(epoch_ms - margin_ms - fsg_clock_epoch_ms());
}

bool fsg_deadline_is_set(struct fsg_deadline d)
{
    return d.at_ms != 0;
}

int64_t fsg_deadline_remaining_ms(struct fsg_deadline d)
{
    if (!fsg_deadline_is_set(d)) {
        return INT64_MAX;
    }
    int64_t left = d.at_ms - fsg_clock_monotonic_ms();
    return left > 0 ? left : 0;
}

bool fsg_deadline_expired(struct fsg_deadline d)
{
    return fsg_deadline_is_set(d) && fsg_deadline_remaining_ms(d) == 0;
}

struct fsg_deadline fsg_deadline_min(struct fsg_deadline a, struct fsg_deadline b)
{
    if (!fsg_deadline_is_set(a)) {
        return b;
    }
    if (!fsg_deadline_is_set(b)) {
        return a;
    }
    return a.at_ms < b.at_ms ? a : b;
}

long fsg_deadline_bound_ms(struct fsg_deadline d, long timeout_ms)
{
    int64_t bound = timeout_ms > 0 ? timeout_ms : INT64_MAX;
    int64_t left = fsg_deadline_remaining_ms(d);
    if (left < bound) {
        bound = left;
    }
    if (bound == INT64_MAX) {
        return 0;
    }
    if (bound > (int64_t)0x7fffffffL) {
        bound = 0x7fffffffL;
    }
    return bound > 0 ? (long)bound : 1L;
}

void fsg_run_deadline_set(struct fsg_deadline d)
{
    atomic_store(&s_run_deadline_ms, (long long)d.at_ms);
}

struct fsg_deadline fsg_run_deadline(void)
{
    return (struct fsg_deadline){ .at_ms = (int64_t)atomic_load(&s_run_deadline_ms) };
}
