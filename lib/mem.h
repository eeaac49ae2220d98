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

/* Test hooks: live allocation count, and fail the Nth allocation from now (0 = off). */
long fsg_mem_live(void);
void fsg_mem_fail_after(long n);

#endif
