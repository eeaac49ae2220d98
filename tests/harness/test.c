#include "tests/harness/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"

void t_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "  %s:%d: check failed: %s\n", file, line, what);
}

void t_fail_rc(const char *file, int line, const char *what, enum fsg_err rc)
{
    fprintf(stderr, "  %s:%d: %s returned %s\n", file, line, what, fsg_err_name(rc));
}

void t_fail_str(const char *file, int line, const char *what, const char *got, const char *want)
{
    fprintf(stderr, "  %s:%d: %s\n    got:  %s\n    want: %s\n", file, line, what,
            got ? got : "(null)", want ? want : "(null)");
}

static bool s_selected(const char *name, int argc, char **argv)
{
    if (argc <= 1) {
        return true;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return true;
        }
    }
    return false;
}

int t_main(const struct t_case *cases, int argc, char **argv)
{
    int failed = 0;
    int ran = 0;
    for (const struct t_case *c = cases; c->name != NULL; c++) {
        if (!s_selected(c->name, argc, argv)) {
            continue;
        }
        long before = fsg_mem_live();
        int r = c->fn();
        long leaked = fsg_mem_live() - before;
        ran++;
        if (r == 0 && leaked != 0) {
            fprintf(stderr, "  %s: %ld allocation(s) leaked\n", c->name, leaked);
            r = 1;
        }
        printf("%s %s\n", r == 0 ? "ok" : "FAIL", c->name);
        failed += r != 0;
    }
    printf("%d cases, %d failed\n", ran, failed);
    return failed == 0 && ran > 0 ? 0 : 1;
}

const char *t_data_path(const char *rel)
{
    static char path[4096];
    const char *dir = getenv("FSG_TEST_DATA");
    snprintf(path, sizeof path, "%s/%s", dir != NULL ? dir : "tests/data", rel);
    return path;
}

enum fsg_err t_read_data_file(const char *rel, struct fsg_buf *b)
{
    struct fsg_error err;
    enum fsg_err rc = fsg_buf_read_file(b, t_data_path(rel), 0, &err);
    if (rc != FSG_OK) {
        fprintf(stderr, "  %s\n", err.msg);
    }
    return rc;
}
