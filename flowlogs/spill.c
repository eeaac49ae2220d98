/* Sorted runs of flow-table rows in an unlinked temporary file. See spill.h. */
#include "flowlogs/spill.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/core/mem.h"

/* Runs read at once by one merge (each through a buffer of S_READ_ROWS rows, about 22 KiB):
 * more are first merged into fewer. */
#define S_FAN_IN 64
#define S_READ_ROWS 256

struct s_run {
    uint64_t off;
    uint64_t n;
    uint64_t tag;
    bool dropped;
};

struct fsg_spill {
    pthread_mutex_t mu;
    int fd;
    uint64_t end; /* bytes reserved in the file */
    struct s_run *runs;
    size_t n_runs, cap_runs;
    char (*names)[FSG_ENI_ID_MAX];
    size_t n_names, cap_names;
    uint64_t next_tag;
    uint64_t rows_written;
};

enum fsg_err fsg_spill_new(struct fsg_spill **ret_sp, struct fsg_error *err)
{
    struct fsg_spill *sp = fsg_calloc(1, sizeof *sp);
    if (sp == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "flow spill: out of memory");
    }
    sp->fd = -1; /* the file is made by the first run */
    pthread_mutex_init(&sp->mu, NULL);
    *ret_sp = sp;
    return FSG_OK;
}

/* The temporary file, made on first use (sp->mu held). */
static enum fsg_err s_open_file(struct fsg_spill *sp, struct fsg_error *err)
{
    if (sp->fd >= 0) {
        return FSG_OK;
    }
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0') {
        dir = "/tmp";
    }
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/flowseg-spill-XXXXXX", dir) >= sizeof path) {
        return fsg_error_set(err, FSG_E_IO, "TMPDIR is too long for a temporary file name");
    }
    sp->fd = mkostemp(path, O_CLOEXEC);
    if (sp->fd < 0) {
        return fsg_error_set(err, FSG_E_IO,
                             "the flow table is larger than --memory and no temporary file can be "
                             "made in %s to spill it: %s (set TMPDIR to a writable directory, or "
                             "raise --memory)",
                             dir, strerror(errno));
    }
    (void)unlink(path);
    return FSG_OK;
}

void fsg_spill_destroy(struct fsg_spill *sp)
{
    if (sp == NULL) {
        return;
    }
    if (sp->fd >= 0) {
        close(sp->fd);
    }
    pthread_mutex_destroy(&sp->mu);
    fsg_free(sp->runs);
    fsg_free(sp->names);
    fsg_free(sp);
}

enum fsg_err fsg_spill_eni(struct fsg_spill *sp, const char name[FSG_ENI_ID_MAX], uint32_t *ret_id)
{
    char key[FSG_ENI_ID_MAX] = { 0 };
    memcpy(key, name, strnlen(name, FSG_ENI_ID_MAX - 1));
    enum fsg_err rc = FSG_OK;
    pthread_mutex_lock(&sp->mu);
    size_t i = 0;
    while (i < sp->n_names && memcmp(sp->names[i], key, sizeof key) != 0) {
        i++;
    }
    if (i == sp->n_names) {
        if (sp->n_names == sp->cap_names) {
            size_t cap = sp->cap_names == 0 ? 16 : sp->cap_names * 2;
            char(*v)[FSG_ENI_ID_MAX] = fsg_reallocarray(sp->names, cap, sizeof *v);
            if (v == NULL) {
                rc = FSG_E_NOMEM;
                goto out;
            }
            sp->names = v;
            sp->cap_names = cap;
        }
        memcpy(sp->names[sp->n_names++], key, sizeof key);
    }
    *ret_id = (uint32_t)i;
out:
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

const char (*fsg_spill_names(const struct fsg_spill *sp, size_t *ret_n))[FSG_ENI_ID_MAX]
{
    *ret_n = sp->n_names;
    return (const char(*)[FSG_ENI_ID_MAX])sp->names;
}

size_t fsg_spill_runs(const struct fsg_spill *sp)
{
    /* Workers ask while others may add runs (the array can move): under the lock. */
    struct fsg_spill *m = (struct fsg_spill *)sp;
    pthread_mutex_lock(&m->mu);
    size_t n = 0;
    for (size_t i = 0; i < sp->n_runs; i++) {
        n += !sp->runs[i].dropped;
    }
    pthread_mutex_unlock(&m->mu);
    return n;
}

/* Kept runs with no object's tag: what a merge reads. */
static size_t s_mergeable(const struct fsg_spill *sp)
{
    size_t n = 0;
    for (size_t i = 0; i < sp->n_runs; i++) {
        n += !sp->runs[i].dropped && sp->runs[i].tag == 0;
    }
    return n;
}

uint64_t fsg_spill_rows_written(const struct fsg_spill *sp)
{
    return sp->rows_written;
}

uint64_t fsg_spill_tag(struct fsg_spill *sp)
{
    pthread_mutex_lock(&sp->mu);
    uint64_t t = ++sp->next_tag;
    pthread_mutex_unlock(&sp->mu);
    return t;
}

/* Gives the file space of a run back (best effort: the data is never read again). */
static void s_punch(struct fsg_spill *sp, const struct s_run *r)
{
#if defined(FALLOC_FL_PUNCH_HOLE) && defined(FALLOC_FL_KEEP_SIZE)
    if (r->n > 0) {
        (void)fallocate(sp->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)r->off,
                        (off_t)(r->n * sizeof(struct fsg_spill_row)));
    }
#else
    (void)sp;
    (void)r;
#endif
}

void fsg_spill_drop(struct fsg_spill *sp, uint64_t tag)
{
    if (tag == 0) {
        return;
    }
    pthread_mutex_lock(&sp->mu);
    for (size_t i = 0; i < sp->n_runs; i++) {
        if (sp->runs[i].tag == tag && !sp->runs[i].dropped) {
            sp->runs[i].dropped = true;
            s_punch(sp, &sp->runs[i]);
        }
    }
    pthread_mutex_unlock(&sp->mu);
}

void fsg_spill_keep(struct fsg_spill *sp, uint64_t tag)
{
    if (tag == 0) {
        return;
    }
    pthread_mutex_lock(&sp->mu);
    for (size_t i = 0; i < sp->n_runs; i++) {
        if (sp->runs[i].tag == tag) {
            sp->runs[i].tag = 0;
        }
    }
    pthread_mutex_unlock(&sp->mu);
}

/* ---- writing --------------------------------------------------------------------------------- */

static enum fsg_err s_io(struct fsg_error *err, const char *what, int e)
{
    return fsg_error_set(err, FSG_E_IO, "flow table temporary file: %s: %s (check the free space "
                         "of TMPDIR, or raise --memory)", what, strerror(e));
}

enum fsg_err fsg_spill_run_begin(struct fsg_spill *sp, size_t n, uint64_t tag,
                                 struct fsg_spill_writer *w, struct fsg_error *err)
{
    pthread_mutex_lock(&sp->mu);
    enum fsg_err rc = s_open_file(sp, err);
    uint64_t off = sp->end;
    sp->end += rc == FSG_OK ? (uint64_t)n * sizeof(struct fsg_spill_row) : 0;
    pthread_mutex_unlock(&sp->mu);
    if (rc != FSG_OK) {
        return rc;
    }
    w->sp = sp;
    w->off = off;
    w->start = off;
    w->left = n;
    w->n_rows = 0;
    w->n_buf = 0;
    w->tag = tag;
    return FSG_OK;
}

static enum fsg_err s_write_buf(struct fsg_spill_writer *w, struct fsg_error *err)
{
    const uint8_t *p = (const uint8_t *)w->buf;
    size_t len = w->n_buf * sizeof w->buf[0];
    while (len > 0) {
        ssize_t k = pwrite(w->sp->fd, p, len, (off_t)w->off);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return s_io(err, "write", k < 0 ? errno : ENOSPC);
        }
        p += k;
        len -= (size_t)k;
        w->off += (uint64_t)k;
    }
    w->n_buf = 0;
    return FSG_OK;
}

enum fsg_err fsg_spill_run_put(struct fsg_spill_writer *w, const struct fsg_spill_row *row,
                               struct fsg_error *err)
{
    if (w->left == 0) {
        return fsg_error_set(err, FSG_E_INTERNAL, "flow spill: more rows than announced");
    }
    w->buf[w->n_buf++] = *row;
    w->left--;
    w->n_rows++;
    return w->n_buf == sizeof w->buf / sizeof w->buf[0] ? s_write_buf(w, err) : FSG_OK;
}

enum fsg_err fsg_spill_run_end(struct fsg_spill_writer *w, struct fsg_error *err)
{
    enum fsg_err rc = s_write_buf(w, err);
    if (rc != FSG_OK || w->n_rows == 0) {
        return rc;
    }
    struct fsg_spill *sp = w->sp;
    pthread_mutex_lock(&sp->mu);
    if (sp->n_runs == sp->cap_runs) {
        size_t cap = sp->cap_runs == 0 ? 16 : sp->cap_runs * 2;
        struct s_run *v = fsg_reallocarray(sp->runs, cap, sizeof *v);
        if (v == NULL) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "flow spill: out of memory");
            goto out;
        }
        sp->runs = v;
        sp->cap_runs = cap;
    }
    sp->runs[sp->n_runs++] = (struct s_run){ .off = w->start, .n = w->n_rows, .tag = w->tag };
    sp->rows_written += w->n_rows;
out:
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

/* ---- merging --------------------------------------------------------------------------------- */

struct s_cursor {
    uint64_t off;  /* next row to read from the file */
    uint64_t left; /* rows of the run not yet read */
    size_t pos, n; /* rows in buf: pos is the current one */
    struct fsg_spill_row buf[S_READ_ROWS];
};

struct fsg_spill_merge {
    struct fsg_spill *sp;
    const uint32_t *rank;
    struct s_cursor *cur;
    size_t n_cur;
    size_t *heap; /* cursor indices, the smallest current row first */
    size_t n_heap;
    struct fsg_spill_row pending;
    bool has_pending;
};

static void s_set_rank(const uint32_t *rank, struct fsg_spill_row *r)
{
    uint32_t k = rank[r->eni];
    r->key[0] = (uint8_t)(k >> 24);
    r->key[1] = (uint8_t)(k >> 16);
    r->key[2] = (uint8_t)(k >> 8);
    r->key[3] = (uint8_t)k;
}

/* Refills a cursor's buffer; false at the end of its run. */
static enum fsg_err s_fill(struct fsg_spill_merge *m, struct s_cursor *c, bool *ret_more,
                           struct fsg_error *err)
{
    *ret_more = false;
    if (c->left == 0) {
        return FSG_OK;
    }
    size_t n = c->left < S_READ_ROWS ? (size_t)c->left : S_READ_ROWS;
    size_t len = n * sizeof c->buf[0], got = 0;
    while (got < len) {
        ssize_t k = pread(m->sp->fd, (uint8_t *)c->buf + got, len - got, (off_t)(c->off + got));
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return s_io(err, "read", k < 0 ? errno : EIO);
        }
        got += (size_t)k;
    }
    for (size_t i = 0; i < n; i++) {
        s_set_rank(m->rank, &c->buf[i]);
    }
    c->off += len;
    c->left -= n;
    c->pos = 0;
    c->n = n;
    *ret_more = true;
    return FSG_OK;
}

static int s_cmp_cur(const struct fsg_spill_merge *m, size_t a, size_t b)
{
    const struct s_cursor *x = &m->cur[a], *y = &m->cur[b];
    return memcmp(x->buf[x->pos].key, y->buf[y->pos].key, FSG_SPILL_KEY_LEN);
}

static void s_sift_down(struct fsg_spill_merge *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < m->n_heap && s_cmp_cur(m, m->heap[l], m->heap[s]) < 0) {
            s = l;
        }
        if (r < m->n_heap && s_cmp_cur(m, m->heap[r], m->heap[s]) < 0) {
            s = r;
        }
        if (s == i) {
            return;
        }
        size_t t = m->heap[i];
        m->heap[i] = m->heap[s];
        m->heap[s] = t;
        i = s;
    }
}

void fsg_spill_row_fold(struct fsg_spill_row *a, const struct fsg_spill_row *b)
{
    a->records += b->records;
    a->packets += b->packets;
    a->bytes += b->bytes;
    if (b->first != FSG_FLOW_TIME_NONE && (a->first == FSG_FLOW_TIME_NONE || b->first < a->first)) {
        a->first = b->first;
    }
    if (b->last > a->last) {
        a->last = b->last;
    }
}

/* The smallest current row (unfolded) and the cursor advanced; *ret_more false at the end. */
static enum fsg_err s_pop(struct fsg_spill_merge *m, struct fsg_spill_row *ret, bool *ret_more,
                          struct fsg_error *err)
{
    *ret_more = m->n_heap > 0;
    if (m->n_heap == 0) {
        return FSG_OK;
    }
    struct s_cursor *c = &m->cur[m->heap[0]];
    *ret = c->buf[c->pos++];
    if (c->pos == c->n) {
        bool more;
        enum fsg_err rc = s_fill(m, c, &more, err);
        if (rc != FSG_OK) {
            return rc;
        }
        if (!more) {
            m->heap[0] = m->heap[--m->n_heap];
        }
    }
    s_sift_down(m, 0);
    return FSG_OK;
}

enum fsg_err fsg_spill_merge_next(struct fsg_spill_merge *m, struct fsg_spill_row *ret,
                                  bool *ret_more, struct fsg_error *err)
{
    bool more = true;
    enum fsg_err rc = FSG_OK;
    if (!m->has_pending) {
        rc = s_pop(m, &m->pending, &more, err);
        if (rc != FSG_OK || !more) {
            *ret_more = false;
            return rc;
        }
        m->has_pending = true;
    }
    struct fsg_spill_row next = { .eni = 0 };
    for (;;) {
        rc = s_pop(m, &next, &more, err);
        if (rc != FSG_OK) {
            return rc;
        }
        if (!more || memcmp(next.key, m->pending.key, FSG_SPILL_KEY_LEN) != 0) {
            break;
        }
        fsg_spill_row_fold(&m->pending, &next);
    }
    *ret = m->pending;
    m->pending = next;
    m->has_pending = more;
    *ret_more = true;
    return FSG_OK;
}

void fsg_spill_merge_close(struct fsg_spill_merge *m)
{
    if (m == NULL) {
        return;
    }
    fsg_free(m->cur);
    fsg_free(m->heap);
    fsg_free(m);
}

/* A merge of the kept runs runs[first .. first + n). */
static enum fsg_err s_open_runs(struct fsg_spill *sp, const uint32_t *rank, const size_t *idx,
                                size_t n, struct fsg_spill_merge **ret_m, struct fsg_error *err)
{
    struct fsg_spill_merge *m = fsg_calloc(1, sizeof *m);
    enum fsg_err rc = FSG_OK;
    if (m == NULL || (m->cur = fsg_calloc(n + 1, sizeof *m->cur)) == NULL ||
        (m->heap = fsg_calloc(n + 1, sizeof *m->heap)) == NULL) {
        fsg_spill_merge_close(m);
        return fsg_error_set(err, FSG_E_NOMEM, "flow spill: out of memory");
    }
    m->sp = sp;
    m->rank = rank;
    for (size_t i = 0; i < n && rc == FSG_OK; i++) {
        struct s_cursor *c = &m->cur[m->n_cur++];
        c->off = sp->runs[idx[i]].off;
        c->left = sp->runs[idx[i]].n;
        bool more;
        rc = s_fill(m, c, &more, err);
        if (rc == FSG_OK && more) {
            m->heap[m->n_heap++] = m->n_cur - 1;
        }
    }
    for (size_t i = m->n_heap / 2; i-- > 0;) {
        s_sift_down(m, i);
    }
    if (rc != FSG_OK) {
        fsg_spill_merge_close(m);
        return rc;
    }
    *ret_m = m;
    return FSG_OK;
}

/* Merges the first S_FAN_IN kept runs into one. */
static enum fsg_err s_compact(struct fsg_spill *sp, const uint32_t *rank, struct fsg_error *err)
{
    size_t idx[S_FAN_IN], n = 0;
    uint64_t rows = 0;
    for (size_t i = 0; i < sp->n_runs && n < S_FAN_IN; i++) {
        if (!sp->runs[i].dropped && sp->runs[i].tag == 0) {
            idx[n++] = i;
            rows += sp->runs[i].n;
        }
    }
    struct fsg_spill_merge *m = NULL;
    struct fsg_spill_writer *w = fsg_calloc(1, sizeof *w);
    enum fsg_err rc = w == NULL ? fsg_error_set(err, FSG_E_NOMEM, "flow spill: out of memory")
                                : s_open_runs(sp, rank, idx, n, &m, err);
    if (rc == FSG_OK) {
        rc = fsg_spill_run_begin(sp, (size_t)rows, 0, w, err);
    }
    bool more = rc == FSG_OK;
    while (more) {
        struct fsg_spill_row row;
        rc = fsg_spill_merge_next(m, &row, &more, err);
        if (rc == FSG_OK && more) {
            rc = fsg_spill_run_put(w, &row, err);
        }
        more = more && rc == FSG_OK;
    }
    if (rc == FSG_OK) {
        rc = fsg_spill_run_end(w, err);
    }
    if (rc == FSG_OK) {
        for (size_t i = 0; i < n; i++) {
            sp->runs[idx[i]].dropped = true;
            s_punch(sp, &sp->runs[idx[i]]);
        }
    }
    fsg_spill_merge_close(m);
    fsg_free(w);
    return rc;
}

enum fsg_err fsg_spill_merge_open(struct fsg_spill *sp, const uint32_t *rank,
                                  struct fsg_spill_merge **ret_m, struct fsg_error *err)
{
    enum fsg_err rc = FSG_OK;
    while (rc == FSG_OK && s_mergeable(sp) > S_FAN_IN) { /* each round leaves S_FAN_IN - 1 fewer */
        rc = s_compact(sp, rank, err);
    }
    size_t *idx = rc == FSG_OK ? fsg_calloc(sp->n_runs + 1, sizeof *idx) : NULL;
    if (rc == FSG_OK && idx == NULL) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "flow spill: out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; rc == FSG_OK && i < sp->n_runs; i++) {
        if (!sp->runs[i].dropped && sp->runs[i].tag == 0) {
            idx[n++] = i;
        }
    }
    if (rc == FSG_OK) {
        rc = s_open_runs(sp, rank, idx, n, ret_m, err);
    }
    fsg_free(idx);
    return rc;
}
