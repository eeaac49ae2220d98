#include "lib/core/deadline.h"
#include "tests/harness/test.h"

static int s_unset_is_never(void)
{
    struct fsg_deadline none = FSG_DEADLINE_NONE;
    T_CHECK(!fsg_deadline_is_set(none));
    T_CHECK(!fsg_deadline_expired(none));
    T_CHECK(fsg_deadline_remaining_ms(none) == INT64_MAX);
    T_CHECK(fsg_deadline_bound_ms(none, 0) == 0);     /* nothing bounds the wait */
    T_CHECK(fsg_deadline_bound_ms(none, 2500) == 2500);
    return 0;
}

static int s_remaining_and_bound(void)
{
    struct fsg_deadline d = fsg_deadline_in_ms(60000);
    T_CHECK(fsg_deadline_is_set(d));
    T_CHECK(!fsg_deadline_expired(d));
    int64_t left = fsg_deadline_remaining_ms(d);
    T_CHECK(left > 59000 && left <= 60000);
    T_CHECK(fsg_deadline_bound_ms(d, 1000) == 1000);  /* the request's own timeout is shorter */
    long b = fsg_deadline_bound_ms(d, 0);
    T_CHECK(b > 59000 && b <= 60000);
    T_CHECK(fsg_deadline_bound_ms(d, 120000) <= 60000);

    struct fsg_deadline past = fsg_deadline_in_ms(-5);
    T_CHECK(fsg_deadline_is_set(past));
    T_CHECK(fsg_deadline_expired(past));
    T_CHECK(fsg_deadline_remaining_ms(past) == 0);
    T_CHECK(fsg_deadline_bound_ms(past, 1000) == 1);  /* never 0 ("forever" to libcurl) */

    T_CHECK(fsg_deadline_min(d, past).at_ms == past.at_ms);
    T_CHECK(fsg_deadline_min(FSG_DEADLINE_NONE, d).at_ms == d.at_ms);
    T_CHECK(fsg_deadline_min(d, FSG_DEADLINE_NONE).at_ms == d.at_ms);
    return 0;
}

static int s_from_epoch_with_margin(void)
{
    /* Lambda-Runtime-Deadline-Ms: 10 s from now on the wall clock, keep 2 s to answer */
    struct fsg_deadline d = fsg_deadline_from_epoch_ms(fsg_clock_epoch_ms() + 10000, 2000);
    int64_t left = fsg_deadline_remaining_ms(d);
    T_CHECK(left > 7000 && left <= 8000);
    /* a deadline already behind us is expired, not "none" */
    d = fsg_deadline_from_epoch_ms(fsg_clock_epoch_ms() - 1000, 0);
    T_CHECK(fsg_deadline_is_set(d) && fsg_deadline_expired(d));
    return 0;
}

static int s_run_deadline(void)
{
    T_CHECK(!fsg_deadline_is_set(fsg_run_deadline()));
    struct fsg_deadline d = fsg_deadline_in_ms(5000);
    fsg_run_deadline_set(d);
    T_CHECK(fsg_run_deadline().at_ms == d.at_ms);
    fsg_run_deadline_set(FSG_DEADLINE_NONE);
    T_CHECK(!fsg_deadline_is_set(fsg_run_deadline()));
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "unset_is_never", s_unset_is_never },
        { "remaining_and_bound", s_remaining_and_bound },
        { "from_epoch_with_margin", s_from_epoch_with_margin },
        { "run_deadline", s_run_deadline },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
