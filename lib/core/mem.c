#include "lib/core/mem.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Counting is cheap (one relaxed atomic) and lets every unit test check for leaks. */
static atomic_long s_live;
static atomic_long s_fail_after;

static bool s_should_fail(void)
{
    long n = atomic_load_explicit(&s_fail_after, memory_order_relaxed);
    if (n <= 0) {
        return false;
    }
    if (atomic_fetch_sub(&s_fail_after, 1) == 1) {
        return true;
    }
    return false;
}

void *fsg_malloc(size_t size)
{
    if (s_should_fail()) {
        return NULL;
    }
    void *p = malloc(size == 0 ? 1 : size);
    if (p != NULL) {
        atomic_fetch_add_explicit(&s_live, 1, memory_order_relaxed);
    }
    return p;
}

void *fsg_calloc(size_t n, size_t size)
{
    if (s_should_fail()) {
        return NULL;
    }
    void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
    if (p != NULL) {
        atomic_fetch_add_explicit(&s_live, 1, memory_order_relaxed);
    }
    return p;
}

void *fsg_realloc(void *ptr, size_t size)
{
    if (ptr == NULL) {
        return fsg_malloc(size);
    }
    if (s_should_fail()) {
        return NULL;
    }
    return realloc(ptr, size == 0 ? 1 : size);
}

void *fsg_reallocarray(void *ptr, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        return NULL;
    }
    return fsg_realloc(ptr, n * size);
}

void *fsg_array_grow(void *items, size_t *cap, size_t need, size_t size, size_t min_cap)
{
    if (need <= *cap) {
        return items;
    }
    size_t n = *cap > SIZE_MAX / 2 ? need : *cap * 2;
    n = n < min_cap ? min_cap : n;
    n = n < need ? need : n;
    void *grown = fsg_reallocarray(items, n, size);
    if (grown != NULL) {
        *cap = n;
    }
    return grown;
}

void fsg_free(void *ptr)
{
    if (ptr != NULL) {
        atomic_fetch_sub_explicit(&s_live, 1, memory_order_relaxed);
        free(ptr);
    }
}

char *fsg_strndup(const char *s, size_t n)
{
    if (s == NULL) {
        return NULL;
    }
    size_t len = strnlen(s, n);
    char *p = fsg_malloc(len + 1);
    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

char *fsg_strdup(const char *s)
{
    return s == NULL ? NULL : fsg_strndup(s, strlen(s));
}

long fsg_mem_live(void)
{
    return atomic_load(&s_live);
}

void fsg_mem_fail_after(long n)
{
    atomic_store(&s_fail_after, n);
}
