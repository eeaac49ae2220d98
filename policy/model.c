/* The policy model's storage, lifecycle and lookups. JSON conversion is in model_json.c. */
#include "policy/model.h"

#include <stdalign.h>
#include <stdio.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/model_internal.h"

/* Chunks of at least this size: a few hundred small objects per fsg_malloc. */
#define S_ARENA_CHUNK_BYTES ((size_t)64 * 1024)

struct fsg_policy_arena_chunk {
    struct fsg_policy_arena_chunk *next;
    size_t used;
    size_t cap;
    alignas(max_align_t) unsigned char data[];
};

struct fsg_policy_model *fsg_policy_model_alloc(void)
{
    struct fsg_policy_model *m = fsg_calloc(1, sizeof *m);
    struct fsg_policy_model_impl *impl = fsg_calloc(1, sizeof *impl);
    if (m == NULL || impl == NULL) {
        fsg_free(m);
        fsg_free(impl);
        return NULL;
    }
    m->impl = impl;
    return m;
}

void fsg_policy_model_destroy(struct fsg_policy_model *m)
{
    if (m == NULL) {
        return;
    }
    if (m->impl != NULL) {
        struct fsg_policy_arena_chunk *c = m->impl->chunks;
        while (c != NULL) {
            struct fsg_policy_arena_chunk *next = c->next;
            fsg_free(c);
            c = next;
        }
        fsg_free(m->impl);
    }
    fsg_free(m);
}

void *fsg_policy_arena_calloc(struct fsg_policy_model *m, size_t n, size_t size)
{
    const size_t align = alignof(max_align_t);
    if (size != 0 && n > SIZE_MAX / size) {
        return NULL;
    }
    size_t bytes = n * size;
    if (bytes > SIZE_MAX - align) {
        return NULL;
    }
    bytes = (bytes + align - 1) / align * align;
    if (bytes == 0) {
        bytes = align;
    }
    struct fsg_policy_arena_chunk *c = m->impl->chunks;
    if (c == NULL || c->cap - c->used < bytes) {
        size_t cap = bytes > S_ARENA_CHUNK_BYTES ? bytes : S_ARENA_CHUNK_BYTES;
        if (cap > SIZE_MAX - sizeof *c) {
            return NULL;
        }
        c = fsg_malloc(sizeof *c + cap);
        if (c == NULL) {
            return NULL;
        }
        c->used = 0;
        c->cap = cap;
        c->next = m->impl->chunks;
        m->impl->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += bytes;
    memset(p, 0, bytes);
    return p;
}

char *fsg_policy_arena_strndup(struct fsg_policy_model *m, const char *s, size_t len)
{
    if (len == SIZE_MAX) {
        return NULL;
    }
    char *p = fsg_policy_arena_calloc(m, len + 1, 1);
    if (p != NULL && len > 0) {
        memcpy(p, s, len);
    }
    return p;
}

/* FNV-1a, 64-bit: hrefs are short and not chosen to collide against us in a way that
 * matters (the table never grows and lookups stay correct with any distribution). */
static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

enum fsg_err fsg_policy_index_init(struct fsg_policy_model *m, enum fsg_policy_coll coll, size_t n)
{
    struct fsg_policy_index *ix = &m->impl->index[coll];
    size_t cap = 16;
    while (cap / 2 < n) {
        if (cap > SIZE_MAX / 4) {
            return FSG_E_LIMIT;
        }
        cap *= 2;
    }
    ix->keys = fsg_policy_arena_calloc(m, cap, sizeof *ix->keys);
    ix->vals = fsg_policy_arena_calloc(m, cap, sizeof *ix->vals);
    if (ix->keys == NULL || ix->vals == NULL) {
        return FSG_E_NOMEM;
    }
    ix->cap = cap;
    ix->len = 0;
    return FSG_OK;
}

bool fsg_policy_index_put(struct fsg_policy_model *m, enum fsg_policy_coll coll, const char *key,
                          size_t val, size_t *ret_prev)
{
    struct fsg_policy_index *ix = &m->impl->index[coll];
    if (ix->cap == 0 || ix->len + 1 > ix->cap / 2) {
        *ret_prev = FSG_POLICY_NONE; /* callers size the index first; never reached */
        return false;
    }
    size_t mask = ix->cap - 1;
    for (size_t i = (size_t)s_hash(key) & mask;; i = (i + 1) & mask) {
        if (ix->keys[i] == NULL) {
            ix->keys[i] = key;
            ix->vals[i] = val;
            ix->len++;
            return true;
        }
        if (strcmp(ix->keys[i], key) == 0) {
            *ret_prev = ix->vals[i];
            return false;
        }
    }
}

size_t fsg_policy_index_get(const struct fsg_policy_model *m, enum fsg_policy_coll coll,
                            const char *key)
{
    const struct fsg_policy_index *ix = &m->impl->index[coll];
    if (ix->cap == 0 || key == NULL) {
        return FSG_POLICY_NONE;
    }
    size_t mask = ix->cap - 1;
    for (size_t i = (size_t)s_hash(key) & mask;; i = (i + 1) & mask) {
        if (ix->keys[i] == NULL) {
            return FSG_POLICY_NONE;
        }
        if (strcmp(ix->keys[i], key) == 0) {
            return ix->vals[i];
        }
    }
}

size_t fsg_policy_find_label(const struct fsg_policy_model *m, const char *href)
{
    return fsg_policy_index_get(m, FSG_PC_LABELS, href);
}

size_t fsg_policy_find_label_group(const struct fsg_policy_model *m, const char *href)
{
    return fsg_policy_index_get(m, FSG_PC_LABEL_GROUPS, href);
}

size_t fsg_policy_find_ip_list(const struct fsg_policy_model *m, const char *href)
{
    return fsg_policy_index_get(m, FSG_PC_IP_LISTS, href);
}

size_t fsg_policy_find_service(const struct fsg_policy_model *m, const char *href)
{
    return fsg_policy_index_get(m, FSG_PC_SERVICES, href);
}

size_t fsg_policy_find_label_kv(const struct fsg_policy_model *m, const char *key,
                                const char *value)
{
    for (size_t i = 0; i < m->n_labels; i++) {
        if (strcmp(m->labels[i].key, key) == 0 && strcmp(m->labels[i].value, value) == 0) {
            return i;
        }
    }
    return FSG_POLICY_NONE;
}

/* Looks up href, then (for a draft href) its active twin. */
static size_t s_find_href(const struct fsg_policy_model *m, enum fsg_policy_coll coll,
                          const char *href)
{
    size_t i = fsg_policy_index_get(m, coll, href);
    const char *draft = strstr(href, "/sec_policy/draft/");
    if (i != FSG_POLICY_NONE || draft == NULL) {
        return i;
    }
    char active[1024];
    size_t head = (size_t)(draft - href);
    int n = snprintf(active, sizeof active, "%.*s/sec_policy/active/%s", (int)head, href,
                     draft + strlen("/sec_policy/draft/"));
    if (n < 0 || (size_t)n >= sizeof active) {
        return FSG_POLICY_NONE;
    }
    return fsg_policy_index_get(m, coll, active);
}

/* Unique match of name among n objects; field(i) gives the i-th object's name. */
static enum fsg_err s_find_unique(size_t n, const char *(*field)(const struct fsg_policy_model *,
                                                                 size_t),
                                  const struct fsg_policy_model *m, const char *name,
                                  size_t *ret_index)
{
    size_t found = FSG_POLICY_NONE;
    for (size_t i = 0; i < n; i++) {
        const char *v = field(m, i);
        if (v != NULL && strcmp(v, name) == 0) {
            if (found != FSG_POLICY_NONE) {
                return FSG_E_INVALID_ARG;
            }
            found = i;
        }
    }
    if (found == FSG_POLICY_NONE) {
        return FSG_E_NOT_FOUND;
    }
    *ret_index = found;
    return FSG_OK;
}

static const char *s_workload_name(const struct fsg_policy_model *m, size_t i)
{
    return m->workloads[i].is_deleted ? NULL : m->workloads[i].name;
}

static const char *s_workload_hostname(const struct fsg_policy_model *m, size_t i)
{
    return m->workloads[i].is_deleted ? NULL : m->workloads[i].hostname;
}

static const char *s_vs_name(const struct fsg_policy_model *m, size_t i)
{
    return m->virtual_services[i].name;
}

static bool s_is_href(const char *s)
{
    return strncmp(s, "/orgs/", strlen("/orgs/")) == 0;
}

enum fsg_err fsg_policy_find_workload(const struct fsg_policy_model *m, const char *name_or_href,
                                      size_t *ret_index, struct fsg_error *err)
{
    if (s_is_href(name_or_href)) {
        size_t i = s_find_href(m, FSG_PC_WORKLOADS, name_or_href);
        if (i == FSG_POLICY_NONE) {
            return fsg_error_set(err, FSG_E_NOT_FOUND, "workload %.200s is not in the policy",
                                 name_or_href);
        }
        *ret_index = i;
        return FSG_OK;
    }
    enum fsg_err rc = s_find_unique(m->n_workloads, s_workload_name, m, name_or_href, ret_index);
    if (rc == FSG_E_NOT_FOUND) {
        rc = s_find_unique(m->n_workloads, s_workload_hostname, m, name_or_href, ret_index);
    }
    if (rc == FSG_E_NOT_FOUND) {
        return fsg_error_set(err, rc, "no workload named \"%.200s\" in the policy", name_or_href);
    }
    if (rc == FSG_E_INVALID_ARG) {
        return fsg_error_set(err, rc, "several workloads are named \"%.200s\": use the href",
                             name_or_href);
    }
    return rc;
}

enum fsg_err fsg_policy_find_virtual_service(const struct fsg_policy_model *m,
                                             const char *name_or_href, size_t *ret_index,
                                             struct fsg_error *err)
{
    if (s_is_href(name_or_href)) {
        size_t i = s_find_href(m, FSG_PC_VIRTUAL_SERVICES, name_or_href);
        if (i == FSG_POLICY_NONE) {
            return fsg_error_set(err, FSG_E_NOT_FOUND,
                                 "virtual service %.200s is not in the active policy",
                                 name_or_href);
        }
        *ret_index = i;
        return FSG_OK;
    }
    enum fsg_err rc = s_find_unique(m->n_virtual_services, s_vs_name, m, name_or_href, ret_index);
    if (rc == FSG_E_NOT_FOUND) {
        return fsg_error_set(err, rc, "no virtual service named \"%.200s\" in the active policy",
                             name_or_href);
    }
    if (rc == FSG_E_INVALID_ARG) {
        return fsg_error_set(err, rc, "several virtual services are named \"%.200s\": use the href",
                             name_or_href);
    }
    return rc;
}

enum fsg_err fsg_policy_model_from_json(const json_t *bundle,
                                        const struct fsg_policy_load_options *opts,
                                        struct fsg_policy_model **ret_model, struct fsg_error *err)
{
    struct fsg_policy_model *m = fsg_policy_model_alloc();
    if (m == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "policy: out of memory");
    }
    enum fsg_err rc = fsg_policy_model_build(bundle, opts, m, err);
    if (rc == FSG_OK) {
        *ret_model = m;
        m = NULL;
    }
    fsg_policy_model_destroy(m);
    return rc;
}

enum fsg_err fsg_policy_model_load(struct fsg_span json, const struct fsg_policy_load_options *opts,
                                   struct fsg_policy_model **ret_model, struct fsg_error *err)
{
    json_t *root = NULL;
    enum fsg_err rc = fsg_json_load(json, opts != NULL ? &opts->json : NULL, &root, err);
    if (rc == FSG_OK) {
        rc = fsg_policy_model_from_json(root, opts, ret_model, err);
    } else if (err != NULL) {
        fsg_error_prefix(err, "policy: ");
    }
    json_decref(root);
    return rc;
}

enum fsg_err fsg_policy_model_load_file(const char *path,
                                        const struct fsg_policy_load_options *opts,
                                        struct fsg_policy_model **ret_model, struct fsg_error *err)
{
    json_t *root = NULL;
    enum fsg_err rc = fsg_json_load_file(path, opts != NULL ? &opts->json : NULL, &root, err);
    if (rc == FSG_OK) {
        rc = fsg_policy_model_from_json(root, opts, ret_model, err);
        if (rc != FSG_OK && err != NULL) {
            fsg_error_prefix(err, "%s: ", path);
        }
    }
    json_decref(root);
    return rc;
}
