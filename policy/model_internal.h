/* Inside policy/model*.c only: the model's storage (one arena freed at once) and its href
 * indexes. Not part of the API. */
#ifndef FSG_POLICY_MODEL_INTERNAL_H
#define FSG_POLICY_MODEL_INTERNAL_H

#include <stddef.h>

#include "policy/model.h"

enum fsg_policy_coll {
    FSG_PC_LABELS,
    FSG_PC_LABEL_GROUPS,
    FSG_PC_WORKLOADS,
    FSG_PC_RULE_SETS,
    FSG_PC_IP_LISTS,
    FSG_PC_SERVICES,
    FSG_PC_VIRTUAL_SERVICES,
    FSG_PC_RULES,
    FSG_PC_COUNT_
};

/* Open addressing, fixed capacity (a power of two, at least twice the entries). */
struct fsg_policy_index {
    const char **keys;
    size_t *vals;
    size_t cap;
    size_t len;
};

struct fsg_policy_arena_chunk;

struct fsg_policy_model_impl {
    struct fsg_policy_arena_chunk *chunks;
    struct fsg_policy_index index[FSG_PC_COUNT_];
};

/* Creates an empty model with its impl; NULL on OOM. */
struct fsg_policy_model *fsg_policy_model_alloc(void);

/* Zeroed, aligned storage that lives as long as the model; NULL on OOM or overflow.
 * n == 0 returns a valid non-NULL pointer. */
void *fsg_policy_arena_calloc(struct fsg_policy_model *m, size_t n, size_t size);
/* Copy of s[0..len) plus NUL in the arena; NULL on OOM. */
char *fsg_policy_arena_strndup(struct fsg_policy_model *m, const char *s, size_t len);

/* Prepares the index of coll for up to n entries. */
enum fsg_err fsg_policy_index_init(struct fsg_policy_model *m, enum fsg_policy_coll coll,
                                   size_t n) FSG_MUST_USE;
/* Adds key -> val (key must outlive the model). Returns false, adding nothing, when the key is
 * already there (*ret_prev = its value). */
bool fsg_policy_index_put(struct fsg_policy_model *m, enum fsg_policy_coll coll, const char *key,
                          size_t val, size_t *ret_prev);
size_t fsg_policy_index_get(const struct fsg_policy_model *m, enum fsg_policy_coll coll,
                            const char *key);

/* JSON -> model (policy/model_json.c). */
enum fsg_err fsg_policy_model_build(const json_t *bundle,
                                    const struct fsg_policy_load_options *opts,
                                    struct fsg_policy_model *m, struct fsg_error *err) FSG_MUST_USE;

#endif
