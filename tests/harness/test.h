/* The in-repo test harness: table-driven cases, checks that return on failure,
 * a leak check through lib/mem's live-allocation counter. */
#ifndef FSG_TESTS_HARNESS_TEST_H
#define FSG_TESTS_HARNESS_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "lib/core/buf.h"
#include "lib/core/error.h"

void t_fail(const char *file, int line, const char *what);
void t_fail_rc(const char *file, int line, const char *what, enum fsg_err rc);

#define T_CHECK(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            t_fail(__FILE__, __LINE__, #cond);                                                     \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)
#define T_OK(expr)                                                                                 \
    do {                                                                                           \
        enum fsg_err t_rc_ = (expr);                                                               \
        if (t_rc_ != FSG_OK) {                                                                     \
            t_fail_rc(__FILE__, __LINE__, #expr, t_rc_);                                           \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)
#define T_ERR(code, expr)                                                                          \
    do {                                                                                           \
        enum fsg_err t_rc_ = (expr);                                                               \
        if (t_rc_ != (code)) {                                                                     \
            t_fail_rc(__FILE__, __LINE__, #expr, t_rc_);                                           \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)
#define T_STR_EQ(a, b)                                                                             \
    do {                                                                                           \
        const char *t_a_ = (a), *t_b_ = (b);                                                       \
        if (t_a_ == NULL || t_b_ == NULL || strcmp(t_a_, t_b_) != 0) {                             \
            t_fail_str(__FILE__, __LINE__, #a, t_a_, t_b_);                                        \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)
#define T_SPAN_EQ(span, cstr) T_CHECK(fsg_span_eq_cstr((span), (cstr)))

void t_fail_str(const char *file, int line, const char *what, const char *got, const char *want);

struct t_case {
    const char *name;
    int (*fn)(void);
};

/* Runs all cases, or only those named in argv; fails a case that leaks (live fsg_malloc count).
 * Prints "ok NAME" / "FAIL NAME" and returns the process exit status. */
int t_main(const struct t_case *cases, int argc, char **argv);

/* Path of a file under tests/data (FSG_TEST_DATA env, set by meson). Static buffer. */
const char *t_data_path(const char *rel);
/* Reads tests/data/<rel> whole into b. */
enum fsg_err t_read_data_file(const char *rel, struct fsg_buf *b);

#endif
