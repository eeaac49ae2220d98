#include "flowlogs/source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/core/mem.h"

/* 256 KiB reads: a few system calls per MiB. */
#define S_DEFAULT_CHUNK ((size_t)256 << 10)
/* Symlink loops and absurd trees stop here. */
#define S_MAX_DEPTH 32

/* ---- the runner --------------------------------------------------------------------------------
 */

/* What a failed object, or one with malformed lines, leaves for the result. */
struct s_detail {
    struct fsg_error err;
    struct fsg_flowlog_malformed samples[FSG_FLOWLOG_MALFORMED_SAMPLES];
    size_t n_samples;
};

/* One per object: small, since a prefix can list hundreds of thousands of objects; the detail
 * is allocated only for the few that need one. */
struct s_slot {
    enum fsg_err rc;
    struct s_detail *detail; /* NULL: read well without a malformed line (or no memory left) */
};

struct s_shared {
    const struct fsg_object *objects;
    size_t n;
    const struct fsg_run_options *opts;
    bool pipeline; /* each object decoded on a second thread */
    atomic_size_t next;
    struct s_slot *slots;
};

struct s_worker {
    struct s_shared *sh;
    struct fsg_aggregate *agg;
    struct fsg_aggregate *own; /* one object's own table (objects with summarize), lazily */
    uint8_t *buf;
    size_t chunk;
    pthread_t thread;
    bool started;
    struct s_detail detail; /* the object being read */
};

static enum fsg_err s_read_local(const char *path, struct fsg_reader *r, struct s_worker *w,
                                 struct fsg_error *err)
{
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fsg_error_set(err, errno == ENOENT ? FSG_E_NOT_FOUND : FSG_E_IO, "cannot open: %s",
                             strerror(errno));
    }
#ifdef POSIX_FADV_SEQUENTIAL
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    enum fsg_err rc = fsg_reader_feed_fd(r, fd, w->buf, w->chunk, err);
    if (!is_stdin) {
        close(fd);
    }
    return rc;
}

static void s_process(struct s_worker *w, size_t i)
{
    const struct fsg_object *obj = &w->sh->objects[i];
    const struct fsg_run_options *o = w->sh->opts;
    struct s_slot *slot = &w->sh->slots[i];
    struct s_detail *d = &w->detail; /* the worker's own, copied out when needed */
    *d = (struct s_detail){ 0 };
    struct fsg_reader *r = NULL;
    struct fsg_reader_options ro = {
        .source = obj->name,
        .default_eni = obj->default_eni != NULL ? obj->default_eni : o->default_eni,
        .decoder = o->decoder,
        .pipeline = w->sh->pipeline,
    };
    struct fsg_aggregate *into = w->agg;
    enum fsg_err rc = FSG_OK;
    if (obj->summarize != NULL) { /* w->own exists (s_own_tables) */
        fsg_aggregate_clear(w->own);
        into = w->own;
    }
    if (rc == FSG_OK) {
        rc = fsg_reader_new(&ro, into, &r, &d->err);
    }
    if (rc == FSG_OK) {
        rc = obj->run != NULL ? obj->run(obj->ctx, r, &d->err)
                              : s_read_local(obj->name, r, w, &d->err);
    }
    if (rc == FSG_OK) {
        rc = fsg_reader_finish(r, &d->err);
    }
    if (rc == FSG_OK && into != w->agg) {
        /* rows of it on disk: its table is not all of it, no summary can be made of it */
        obj->summarize(obj->summarize_ctx, fsg_aggregate_object_spilled(into) ? NULL : into);
        /* as one object of the worker's table: a merge that fails half-way leaves nothing (its
         * rows already on disk are kept) */
        fsg_aggregate_begin(w->agg);
        rc = fsg_aggregate_merge(w->agg, into, &d->err);
        rc = rc != FSG_OK ? rc : fsg_aggregate_commit(w->agg, &d->err);
        if (rc != FSG_OK) {
            fsg_aggregate_rollback(w->agg);
        }
    }
    slot->rc = rc;
    if (rc != FSG_OK && d->err.offset == 0 && r != NULL) {
        d->err.offset = fsg_reader_offset(r);
    }
    if (rc == FSG_OK) {
        const struct fsg_flowlog_malformed *m = fsg_reader_malformed(r, &d->n_samples);
        memcpy(d->samples, m, d->n_samples * sizeof *m);
    }
    if (rc != FSG_OK || d->n_samples > 0) {
        slot->detail = fsg_malloc(sizeof *slot->detail);
        if (slot->detail != NULL) {
            *slot->detail = *d;
        }
    }
    fsg_reader_destroy(r);
    if (obj->finished != NULL) {
        obj->finished(obj->summarize_ctx, rc);
    }
}

static void *s_work(void *arg)
{
    struct s_worker *w = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&w->sh->next, 1);
        if (i >= w->sh->n) {
            return NULL;
        }
        s_process(w, i);
    }
}

static char *s_dup_or_empty(const char *s)
{
    return fsg_strdup(s != NULL ? s : "");
}

static enum fsg_err s_collect(const struct s_shared *sh, struct fsg_run_result *res)
{
    size_t n_err = 0, n_warn = 0;
    for (size_t i = 0; i < sh->n; i++) {
        n_err += sh->slots[i].rc != FSG_OK;
        n_warn += sh->slots[i].detail != NULL ? sh->slots[i].detail->n_samples : 0;
    }
    res->errors = fsg_calloc(n_err + 1, sizeof *res->errors);
    res->warnings = fsg_calloc(n_warn + 1, sizeof *res->warnings);
    if (res->errors == NULL || res->warnings == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t i = 0; i < sh->n; i++) {
        const struct s_slot *s = &sh->slots[i];
        static const struct s_detail s_none; /* no detail: no memory was left for it */
        const struct s_detail *d = s->detail != NULL ? s->detail : &s_none;
        const char *name = sh->objects[i].name;
        if (s->rc != FSG_OK) {
            struct fsg_run_error *e = &res->errors[res->n_errors++];
            *e = (struct fsg_run_error){
                .source = s_dup_or_empty(name),
                .offset = d->err.offset,
                .code = s->rc,
                .message = s_dup_or_empty(d->err.msg[0] != '\0' ? d->err.msg : fsg_err_str(s->rc))
            };
            if (e->source == NULL || e->message == NULL) {
                return FSG_E_NOMEM;
            }
        }
        for (size_t j = 0; j < d->n_samples; j++) {
            struct fsg_run_warning *w = &res->warnings[res->n_warnings++];
            *w = (struct fsg_run_warning){ .source = s_dup_or_empty(name),
                                           .line = d->samples[j].line,
                                           .message = s_dup_or_empty(d->samples[j].reason) };
            if (w->source == NULL || w->message == NULL) {
                return FSG_E_NOMEM;
            }
        }
    }
    return FSG_OK;
}

static void s_workers_destroy(struct s_worker *ws, size_t n, const struct fsg_aggregate *agg)
{
    for (size_t i = 0; ws != NULL && i < n; i++) {
        if (ws[i].agg != agg) {
            fsg_aggregate_destroy(ws[i].agg);
        }
        fsg_aggregate_destroy(ws[i].own);
        fsg_free(ws[i].buf);
    }
    fsg_free(ws);
}

/* Worker 0 runs on the calling thread; others on new threads when jobs > 1. */
static enum fsg_err s_run_workers(struct s_shared *sh, struct s_worker *ws, size_t jobs,
                                  struct fsg_aggregate *agg, struct fsg_error *err)
{
    for (size_t i = 1; i < jobs; i++) {
        ws[i].started = pthread_create(&ws[i].thread, NULL, s_work, &ws[i]) == 0;
    }
    s_work(&ws[0]);
    for (size_t i = 1; i < jobs; i++) {
        if (ws[i].started) {
            pthread_join(ws[i].thread, NULL);
        }
    }
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; i < jobs && rc == FSG_OK; i++) {
        if (ws[i].agg != agg) {
            rc = fsg_aggregate_merge(agg, ws[i].agg, err);
            fsg_aggregate_destroy(ws[i].agg); /* its memory is free for the next merge */
            ws[i].agg = NULL;
        }
    }
    return rc == FSG_OK ? fsg_aggregate_status(agg, err) : rc; /* a failed spill fails the run */
}

/* When any object is read into a table of its own (summarize), each worker gets one, made now
 * (small, before the worker's table grows) and, under a memory budget, with half the worker's
 * share (the worker's table keeps the other half): an object whose rows do not all fit in it
 * has rows on disk and gets no summary, but still counts in full. */
static enum fsg_err s_own_tables(const struct fsg_object *objects, size_t n_objects,
                                 struct s_worker *ws, size_t jobs)
{
    bool any = false;
    for (size_t i = 0; i < n_objects && !any; i++) {
        any = objects[i].summarize != NULL;
    }
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; any && rc == FSG_OK && i < jobs; i++) {
        size_t share = fsg_aggregate_memory(ws[i].agg);
        rc = fsg_aggregate_new_sibling_small(ws[i].agg, &ws[i].own, NULL);
        if (rc == FSG_OK && share != 0) {
            rc = fsg_aggregate_set_memory(ws[i].agg, share - share / 2, NULL);
        }
        if (rc == FSG_OK) {
            rc = fsg_aggregate_set_memory(ws[i].own, share / 2, NULL);
        }
    }
    return rc;
}

size_t fsg_run_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
        return (size_t)CPU_COUNT(&set);
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

bool fsg_run_uses_pipeline(enum fsg_pipeline mode, size_t workers)
{
    if (mode != FSG_PIPELINE_AUTO) {
        return mode == FSG_PIPELINE_ON;
    }
    return fsg_run_cpus() >= 2 * (workers > 0 ? workers : 1);
}

enum fsg_err fsg_run_objects(const struct fsg_object *objects, size_t n_objects,
                             const struct fsg_run_options *opts, struct fsg_aggregate *agg,
                             struct fsg_run_result *result, struct fsg_error *err)
{
    struct fsg_run_options o = opts != NULL ? *opts : (struct fsg_run_options){ 0 };
    struct s_shared sh = { .objects = objects, .n = n_objects, .opts = &o };
    size_t jobs = o.jobs == 0 ? fsg_run_cpus() : o.jobs;
    if (jobs > n_objects) {
        jobs = n_objects > 0 ? n_objects : 1;
    }
    sh.pipeline = fsg_run_uses_pipeline(o.pipeline, jobs);
    enum fsg_err rc = FSG_E_NOMEM;
    size_t memory = fsg_aggregate_memory(agg);
    *result = (struct fsg_run_result){ 0 };
    atomic_init(&sh.next, 0);
    sh.slots = fsg_calloc(n_objects + 1, sizeof *sh.slots);
    struct s_worker *ws = fsg_calloc(jobs, sizeof *ws);
    if (sh.slots == NULL || ws == NULL) {
        goto out;
    }
    for (size_t i = 0; i < jobs; i++) {
        ws[i] = (struct s_worker){ .sh = &sh,
                                   .chunk = o.read_chunk_bytes != 0 ? o.read_chunk_bytes
                                                                    : S_DEFAULT_CHUNK };
        ws[i].buf = fsg_malloc(ws[i].chunk);
        if (ws[i].buf == NULL) {
            goto out;
        }
        /* One thread: records go straight to agg. More: one table per thread, merged at the end,
         * each with its share of agg's memory budget. */
        if (jobs == 1) {
            ws[i].agg = agg;
        } else if (fsg_aggregate_new_sibling(agg, &ws[i].agg, NULL) != FSG_OK ||
                   fsg_aggregate_set_memory(ws[i].agg, fsg_aggregate_memory(agg) / jobs, NULL) !=
                       FSG_OK) {
            goto out;
        }
    }
    if (s_own_tables(objects, n_objects, ws, jobs) != FSG_OK) {
        goto out;
    }
    rc = s_run_workers(&sh, ws, jobs, agg, err);
    if (rc == FSG_OK) {
        rc = s_collect(&sh, result);
    }
out:
    if (ws != NULL && ws[0].agg == agg && ws[0].own != NULL) {
        /* its share was split (s_process); the store exists, so this cannot fail */
        enum fsg_err restored = fsg_aggregate_set_memory(agg, memory, NULL);
        rc = rc == FSG_OK ? restored : rc;
    }
    s_workers_destroy(ws, jobs, agg);
    for (size_t i = 0; sh.slots != NULL && i < n_objects; i++) {
        fsg_free(sh.slots[i].detail);
    }
    fsg_free(sh.slots);
    if (rc == FSG_E_NOMEM) {
        return fsg_error_set(err, rc, "reading objects: out of memory");
    }
    return rc;
}

void fsg_run_result_clean_up(struct fsg_run_result *result)
{
    if (result == NULL) {
        return;
    }
    for (size_t i = 0; i < result->n_errors; i++) {
        fsg_free(result->errors[i].source);
        fsg_free(result->errors[i].message);
    }
    for (size_t i = 0; i < result->n_warnings; i++) {
        fsg_free(result->warnings[i].source);
        fsg_free(result->warnings[i].message);
    }
    fsg_free(result->errors);
    fsg_free(result->warnings);
    *result = (struct fsg_run_result){ 0 };
}

/* ---- local sources ----------------------------------------------------------------------------
 */

struct s_paths {
    char ***v;
    size_t *n;
    size_t cap;
};

static enum fsg_err s_push(struct s_paths *p, char *s)
{
    if (s == NULL) {
        return FSG_E_NOMEM;
    }
    if (*p->n == p->cap) {
        size_t cap = p->cap < 16 ? 16 : p->cap * 2;
        char **v = fsg_reallocarray(*p->v, cap, sizeof *v);
        if (v == NULL) {
            fsg_free(s);
            return FSG_E_NOMEM;
        }
        *p->v = v;
        p->cap = cap;
    }
    (*p->v)[(*p->n)++] = s;
    return FSG_OK;
}

static char *s_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    bool slash = a > 0 && dir[a - 1] == '/';
    char *s = fsg_malloc(a + b + 2);
    if (s != NULL) {
        memcpy(s, dir, a);
        if (!slash) {
            s[a++] = '/';
        }
        memcpy(s + a, name, b + 1);
    }
    return s;
}

static enum fsg_err s_walk(const char *dir, int depth, struct s_paths *p, struct fsg_error *err)
{
    if (depth > S_MAX_DEPTH) {
        return fsg_error_set(err, FSG_E_LIMIT, "%s: directories nested deeper than %d", dir,
                             S_MAX_DEPTH);
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        return fsg_error_set(err, FSG_E_IO, "%s: cannot list: %s", dir, strerror(errno));
    }
    enum fsg_err rc = FSG_OK;
    struct dirent *e;
    while (rc == FSG_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char *path = s_join(dir, e->d_name);
        struct stat st;
        if (path == NULL) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory");
        } else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            rc = s_walk(path, depth + 1, p, err);
            fsg_free(path);
        } else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            rc = s_push(p, path);
            if (rc != FSG_OK) {
                fsg_error_set(err, rc, "out of memory");
            }
        } else {
            fsg_free(path); /* sockets, fifos, dangling links: not flow-log objects */
        }
    }
    closedir(d);
    return rc;
}

static int s_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

enum fsg_err fsg_source_expand(const char *arg, char ***paths, size_t *n_paths,
                               struct fsg_error *err)
{
    struct s_paths p = { .v = paths, .n = n_paths, .cap = *n_paths };
    struct stat st;
    if (strcmp(arg, "-") == 0 || stat(arg, &st) != 0 || !S_ISDIR(st.st_mode)) {
        enum fsg_err rc = s_push(&p, fsg_strdup(arg));
        return rc == FSG_OK ? FSG_OK : fsg_error_set(err, rc, "out of memory");
    }
    size_t first = *n_paths;
    enum fsg_err rc = s_walk(arg, 0, &p, err);
    if (rc == FSG_OK) {
        qsort(*paths + first, *n_paths - first, sizeof **paths, s_strcmp);
    }
    return rc;
}
