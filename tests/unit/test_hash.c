/* lib/hash: insert, find, growth, iteration order, limits, allocation failures. */
#include <string.h>

#include "lib/core/hash.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"

struct s_key {
    uint32_t a;
    uint8_t b[12];
};

struct s_val {
    uint64_t count;
};

static uint64_t s_h(const struct s_key *k)
{
    return fsg_hash_bytes(k, sizeof *k, 7);
}

static struct s_key s_make(uint32_t i)
{
    struct s_key k = { .a = i };
    memset(k.b, (int)(i % 251), sizeof k.b);
    return k;
}

static int s_insert_find_grow(void)
{
    struct fsg_hash *h = NULL;
    struct fsg_error err;
    struct fsg_hash_options o = { .key_size = sizeof(struct s_key),
                                  .value_size = sizeof(struct s_val) };
    T_OK(fsg_hash_new(&o, &h, &err));
    for (uint32_t round = 0; round < 3; round++) {
        for (uint32_t i = 0; i < 5000; i++) {
            struct s_key k = s_make(i);
            struct s_val *v;
            bool inserted;
            T_OK(fsg_hash_upsert(h, &k, s_h(&k), (void **)&v, &inserted));
            T_CHECK(inserted == (round == 0));
            v->count++;
        }
    }
    T_CHECK(fsg_hash_count(h) == 5000);
    for (uint32_t i = 0; i < 5000; i++) {
        struct s_key k = s_make(i);
        struct s_val *v = fsg_hash_find(h, &k, s_h(&k));
        T_CHECK(v != NULL && v->count == 3);
        /* insertion order is kept */
        T_CHECK(memcmp(fsg_hash_key_at(h, i), &k, sizeof k) == 0);
        T_CHECK(fsg_hash_hash_at(h, i) == s_h(&k));
        T_CHECK(fsg_hash_value_at(h, i) == (void *)v);
    }
    struct s_key missing = s_make(99999);
    T_CHECK(fsg_hash_find(h, &missing, s_h(&missing)) == NULL);
    T_CHECK(fsg_hash_memory(h) > 5000 * sizeof(struct s_key));
    fsg_hash_clear(h);
    T_CHECK(fsg_hash_count(h) == 0);
    struct s_key k0 = s_make(0);
    T_CHECK(fsg_hash_find(h, &k0, s_h(&k0)) == NULL);
    fsg_hash_destroy(h);
    fsg_hash_destroy(NULL);
    return 0;
}

/* Every key colliding on the same hash still works (only slower): the key decides. */
static int s_full_collisions(void)
{
    struct fsg_hash *h = NULL;
    struct fsg_hash_options o = { .key_size = sizeof(uint32_t),
                                  .value_size = sizeof(uint32_t),
                                  .initial_capacity = 1 };
    T_OK(fsg_hash_new(&o, &h, NULL));
    for (uint32_t i = 0; i < 300; i++) {
        uint32_t *v;
        T_OK(fsg_hash_upsert(h, &i, 42, (void **)&v, NULL));
        *v = i * 2;
    }
    for (uint32_t i = 0; i < 300; i++) {
        uint32_t *v = fsg_hash_find(h, &i, 42);
        T_CHECK(v != NULL && *v == i * 2);
    }
    fsg_hash_destroy(h);
    return 0;
}

static int s_limit_and_bad_options(void)
{
    struct fsg_hash *h = NULL;
    struct fsg_error err;
    struct fsg_hash_options bad = { .key_size = 0 };
    T_ERR(FSG_E_INVALID_ARG, fsg_hash_new(&bad, &h, &err));
    T_ERR(FSG_E_INVALID_ARG, fsg_hash_new(NULL, &h, &err));
    struct fsg_hash_options o = { .key_size = 4, .max_entries = 10 };
    T_OK(fsg_hash_new(&o, &h, &err));
    for (uint32_t i = 0; i < 10; i++) {
        void *v;
        T_OK(fsg_hash_upsert(h, &i, fsg_hash_bytes(&i, 4, 0), &v, NULL));
    }
    uint32_t eleven = 11, three = 3;
    void *v;
    T_ERR(FSG_E_LIMIT, fsg_hash_upsert(h, &eleven, fsg_hash_bytes(&eleven, 4, 0), &v, NULL));
    T_OK(fsg_hash_upsert(h, &three, fsg_hash_bytes(&three, 4, 0), &v, NULL)); /* existing is fine */
    fsg_hash_destroy(h);
    return 0;
}

static int s_allocation_failure_leaves_table_intact(void)
{
    struct fsg_hash *h = NULL;
    struct fsg_hash_options o = { .key_size = 4, .value_size = 4, .initial_capacity = 4 };
    for (long nth = 1; nth <= 3; nth++) {
        fsg_mem_fail_after(nth);
        enum fsg_err rc = fsg_hash_new(&o, &h, NULL);
        fsg_mem_fail_after(0);
        T_ERR(FSG_E_NOMEM, rc);
    }
    T_OK(fsg_hash_new(&o, &h, NULL));
    uint32_t i = 0;
    for (; i < 4; i++) {
        void *v;
        T_OK(fsg_hash_upsert(h, &i, fsg_hash_bytes(&i, 4, 0), &v, NULL));
    }
    for (long nth = 1; nth <= 2; nth++) {
        void *v;
        fsg_mem_fail_after(nth);
        enum fsg_err rc = fsg_hash_upsert(h, &i, fsg_hash_bytes(&i, 4, 0), &v, NULL);
        fsg_mem_fail_after(0);
        T_ERR(FSG_E_NOMEM, rc);
        T_CHECK(fsg_hash_count(h) == 4);
    }
    for (uint32_t j = 0; j < 4; j++) {
        T_CHECK(fsg_hash_find(h, &j, fsg_hash_bytes(&j, 4, 0)) != NULL);
    }
    fsg_hash_destroy(h);
    return 0;
}

static int s_hash_spreads_bits(void)
{
    /* Keys that differ in one byte land in different low bits and differ in the tag. */
    uint8_t key[40] = { 0 };
    uint64_t base = fsg_hash_bytes(key, sizeof key, 0);
    for (size_t i = 0; i < sizeof key; i++) {
        key[i] = 1;
        uint64_t h = fsg_hash_bytes(key, sizeof key, 0);
        T_CHECK((h & 0xffff) != (base & 0xffff));
        T_CHECK((h >> 32) != (base >> 32));
        key[i] = 0;
    }
    T_CHECK(fsg_hash_bytes(key, 40, 0) != fsg_hash_bytes(key, 39, 0));
    T_CHECK(fsg_hash_bytes(key, 40, 0) != fsg_hash_bytes(key, 40, 1));
    T_CHECK(fsg_hash_bytes("", 0, 0) == fsg_hash_bytes("x", 0, 0));
    return 0;
}

/* truncate() drops the newest entries, in colliding chains too, and the rest stay findable
 * (also after the table grows again). */
static int s_truncate_keeps_the_older_entries(void)
{
    for (int collide = 0; collide < 2; collide++) {
        struct fsg_hash *h = NULL;
        struct fsg_hash_options o = { .key_size = sizeof(struct s_key),
                                      .value_size = sizeof(struct s_val) };
        T_OK(fsg_hash_new(&o, &h, NULL));
        for (uint32_t i = 0; i < 3000; i++) {
            struct s_key k = s_make(i);
            struct s_val *v;
            T_OK(fsg_hash_upsert(h, &k, collide ? (i % 7) : s_h(&k), (void **)&v, NULL));
            v->count = i;
        }
        fsg_hash_truncate(h, 5000); /* nothing to drop */
        T_CHECK(fsg_hash_count(h) == 3000);
        fsg_hash_truncate(h, 1234);
        T_CHECK(fsg_hash_count(h) == 1234);
        for (uint32_t i = 0; i < 3000; i++) {
            struct s_key k = s_make(i);
            struct s_val *v = fsg_hash_find(h, &k, collide ? (i % 7) : s_h(&k));
            T_CHECK(i < 1234 ? v != NULL && v->count == i : v == NULL);
        }
        for (uint32_t i = 1234; i < 6000; i++) { /* re-insert and grow past the old size */
            struct s_key k = s_make(i);
            struct s_val *v;
            bool inserted;
            T_OK(fsg_hash_upsert(h, &k, collide ? (i % 7) : s_h(&k), (void **)&v, &inserted));
            T_CHECK(inserted && v->count == 0);
        }
        T_CHECK(fsg_hash_count(h) == 6000);
        fsg_hash_truncate(h, 0);
        struct s_key k0 = s_make(0);
        T_CHECK(fsg_hash_count(h) == 0 && fsg_hash_find(h, &k0, collide ? 0 : s_h(&k0)) == NULL);
        fsg_hash_destroy(h);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "insert_find_grow", s_insert_find_grow },
        { "full_collisions", s_full_collisions },
        { "limit_and_bad_options", s_limit_and_bad_options },
        { "allocation_failure_leaves_table_intact", s_allocation_failure_leaves_table_intact },
        { "hash_spreads_bits", s_hash_spreads_bits },
        { "truncate_keeps_the_older_entries", s_truncate_keeps_the_older_entries },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
