/* All allocation goes through here: one place for counting and fault injection in tests. */
#ifndef FSG_LIB_MEM_H
#define FSG_LIB_MEM_H

#include <stddef.h>

void *fsg_malloc(size_t size);
void *fsg_calloc(size_t n, size_t size);          /* overflow-checked */
void *fsg_realloc(void *ptr, size_t size);
void *fsg_reallocarray(void *ptr, size_t n, size_t size); /* overflow-checked */
void fsg_free(void *ptr);
char *fsg_strdup(const char *s);                  /* NULL in -> NULL out */
char *fsg_strndup(const char *s, size_t n);

/* The growable arrays' one growth rule. Returns items when *cap >= need; else items reallocated
 * to max(need, 2 * *cap, min_cap) elements of `size` bytes, with *cap updated (the new elements
 * are not initialised); NULL when that fails or overflows, with items and *cap untouched (items
 * still the caller's). need > 0. Typical use, before appending one element:
 *     struct x *v = fsg_array_grow(l->items, &l->cap, l->len + 1, sizeof *v, 8);
 *     if (v == NULL) { return FSG_E_NOMEM; }
 *     l->items = v; */
void *fsg_array_grow(void *items, size_t *cap, size_t need, size_t size, size_t min_cap);

/* Test hooks: live allocation count, and fail the Nth allocation from now (0 = off). */
long fsg_mem_live(void);
void fsg_mem_fail_after(long n);

#endif
