/* Deadlines: a point in time by which work must be done, on the monotonic clock.
 *
 * Two kinds are used together:
 *  - a per-request timeout (lib/http: CURLOPT_TIMEOUT_MS), and
 *  - the run deadline: one per process run (the CLI's `timeout_s` setting) or per Lambda
 *    invocation (the Runtime API's Lambda-Runtime-Deadline-Ms, less a margin to answer in time).
 * The run deadline is process-wide: main() or the Lambda loop sets it, everything below reads
 * it (every HTTP request is cut at it, retries do not sleep past it, the PCE async wait stops at
 * it). A process runs one invocation at a time, so one value is enough; it is atomic so worker
 * threads may read it while the main thread waits. */
#ifndef FSG_LIB_DEADLINE_H
#define FSG_LIB_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

/* at_ms: CLOCK_MONOTONIC milliseconds; 0 = no deadline. Passed by value. */
struct fsg_deadline {
    int64_t at_ms;
};

#define FSG_DEADLINE_NONE ((struct fsg_deadline){ 0 })

/* The monotonic clock in milliseconds. */
int64_t fsg_clock_monotonic_ms(void);
/* The wall clock (Unix epoch) in milliseconds. */
int64_t fsg_clock_epoch_ms(void);

/* A deadline ms milliseconds from now (ms <= 0: already passed). */
struct fsg_deadline fsg_deadline_in_ms(int64_t ms);
/* A deadline given as Unix-epoch milliseconds (Lambda-Runtime-Deadline-Ms), converted to the
 * monotonic clock now, minus margin_ms (time kept to report before the hard stop). */
struct fsg_deadline fsg_deadline_from_epoch_ms(int64_t epoch_ms, int64_t margin_ms);

bool fsg_deadline_is_set(struct fsg_deadline d);
/* Milliseconds left: INT64_MAX when not set, 0 when passed. */
int64_t fsg_deadline_remaining_ms(struct fsg_deadline d);
bool fsg_deadline_expired(struct fsg_deadline d);
/* The earlier of two deadlines (an unset one counts as "never"). */
struct fsg_deadline fsg_deadline_min(struct fsg_deadline a, struct fsg_deadline b);
/* min(timeout_ms, the time left before d); timeout_ms <= 0 means "no own timeout". Returns
 * 0 when neither bounds the wait, else at least 1 (a passed deadline still gives 1 ms, so a
 * caller that passes the value to libcurl does not read 0 as "forever"). */
long fsg_deadline_bound_ms(struct fsg_deadline d, long timeout_ms);

/* The process-wide run deadline (see above). Setting FSG_DEADLINE_NONE clears it. */
void fsg_run_deadline_set(struct fsg_deadline d);
struct fsg_deadline fsg_run_deadline(void);

#endif
