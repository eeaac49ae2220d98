/* lib/core/mem.c: fsg_array_grow, the growth rule of every growable array. */
#include <stdint.h>

#include "lib/core/mem.h"
#include "tests/harness/test.h"

static int s_grow_sequence(void)
{
    int *v = NULL;
    size_t cap = 0;
    static const size_t want[] = { 8, 8, 16, 16, 32 };
    static const size_t len[] = { 0, 7, 8, 15, 16 };
    for (size_t i = 0; i < sizeof len / sizeof len[0]; i++) {
        int *g = fsg_array_grow(v, &cap, len[i] + 1, sizeof *g, 8);
        T_CHECK(g != NULL && cap == want[i]);
        v = g;
        v[len[i]] = (int)i; /* the room is there (ASan checks) */
    }
    /* Enough room: the same array back, nothing allocated. */
    long live = fsg_mem_live();
    T_CHECK(fsg_array_grow(v, &cap, 32, sizeof *v, 8) == v && cap == 32);
    T_CHECK(fsg_mem_live() == live);
    /* A need beyond doubling is met exactly. */
    v = fsg_array_grow(v, &cap, 100, sizeof *v, 8);
    T_CHECK(v != NULL && cap == 100);
    v[99] = 1;
    fsg_free(v);
    return 0;
}

static int s_grow_failure_keeps_array(void)
{
    int *v = fsg_array_grow(NULL, &(size_t){ 0 }, 1, sizeof *v, 4);
    T_CHECK(v != NULL);
    fsg_free(v);

    size_t cap = 0;
    v = fsg_array_grow(NULL, &cap, 3, sizeof *v, 4);
    T_CHECK(v != NULL && cap == 4);
    v[0] = 42;
    fsg_mem_fail_after(1);
    T_CHECK(fsg_array_grow(v, &cap, 5, sizeof *v, 4) == NULL);
    fsg_mem_fail_after(0);
    T_CHECK(cap == 4 && v[0] == 42); /* untouched, still ours */
    /* A size that overflows fails the same way. */
    T_CHECK(fsg_array_grow(v, &cap, SIZE_MAX / 2, sizeof *v, 4) == NULL && cap == 4);
    fsg_free(v);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "grow_sequence", s_grow_sequence },
        { "grow_failure_keeps_array", s_grow_failure_keeps_array },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
