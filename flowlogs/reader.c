/* The object reader of flowlogs/source.h: one object's bytes in, its records folded straight
 * into the caller's aggregator as one unit (fsg_aggregate_begin .. commit), rolled back when
 * the object fails: an object that does not end well counts for nothing.
 *
 * With a pipeline the feeding thread only inflates: it fills a ring of S_PIPE_BLOCKS buffers
 * with blocks of whole lines (flowlogs/flowlog_internal.h) and a second thread decodes and
 * aggregates them. Memory stays bounded (the ring), and the push API is unchanged: feed() borrows
 * the caller's chunk for the call only, because inflating it is finished before feed() returns.
 * A decoding error on the second thread is returned by the next feed() or by finish(). */
#include "flowlogs/source.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "flowlogs/flowlog_internal.h"
#include "lib/core/mem.h"

/* 256 KiB reads: a few system calls per MiB. */
#define S_DEFAULT_CHUNK ((size_t)256 << 10)
/* Four blocks of 256 KiB: the inflating thread can run a block or two ahead of the decoding one
 * (their speeds vary block by block) and the ring still fits a core's L2 cache. */
#define S_PIPE_BLOCKS 4u
#define S_PIPE_BLOCK ((size_t)256 << 10)

struct s_pipe {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t ready_cv; /* the decoding thread waits for a block */
    pthread_cond_t free_cv;  /* the inflating thread waits for a free buffer */
    uint8_t *mem;                 /* one allocation for the whole ring */
    uint8_t *bufs[S_PIPE_BLOCKS]; /* mem + FSG_SCAN_FRONT */
    size_t cap;
    struct fsg_flowlog_block blks[S_PIPE_BLOCKS];
    unsigned cur;     /* the buffer being filled: (head + n_held) % S_PIPE_BLOCKS */
    unsigned head;    /* the oldest block handed over and not released */
    unsigned n_held;  /* handed over, not released */
    unsigned n_ready; /* handed over, not taken */
    bool closed;      /* the last block was handed over */
    bool stop;        /* quit now (the object failed or is dropped) */
    bool running;     /* the thread was started and not joined */
    atomic_bool failed;
    enum fsg_err rc; /* the decoding thread's error (under mu) */
    struct fsg_error err;
    struct fsg_reader *r;
};

struct fsg_reader {
    char *source;
    char *default_eni;
    struct fsg_span eni;
    struct fsg_flowlog_decoder *dec;
    struct fsg_aggregate *target; /* borrowed; this object is open in it until finish() */
    bool open;                    /* begun in target, not yet committed or rolled back */
    struct s_pipe *pipe;          /* NULL: one thread */
    enum fsg_err failed;
    struct fsg_error saved; /* the first error, repeated by later calls */
    bool finished;
    struct fsg_flow_stats extra; /* counters of rows folded in (summaries), added at finish */
};

static enum fsg_err s_on_record(void *userdata, const struct fsg_flowlog_record *rec,
                                struct fsg_error *err)
{
    struct fsg_reader *r = userdata;
    return fsg_aggregate_add(r->target, rec, r->eni, err);
}

/* ---- the pipeline ------------------------------------------------------------------------------
 */

static void *s_consume(void *arg)
{
    struct s_pipe *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->n_ready == 0 && !p->closed && !p->stop) {
            pthread_cond_wait(&p->ready_cv, &p->mu);
        }
        if (p->stop || p->n_ready == 0) {
            break;
        }
        struct fsg_flowlog_block blk = p->blks[p->head]; /* blocks are taken in order */
        p->n_ready--;
        bool skip = p->rc != FSG_OK;
        pthread_mutex_unlock(&p->mu);
        struct fsg_error err = { 0 };
        enum fsg_err rc =
            skip ? FSG_OK : fsg_flowlog_decode_block(p->r->dec, &blk, s_on_record, p->r, &err);
        pthread_mutex_lock(&p->mu);
        if (rc != FSG_OK) {
            p->rc = rc;
            p->err = err;
            atomic_store_explicit(&p->failed, true, memory_order_release);
        }
        p->head = (p->head + 1) % S_PIPE_BLOCKS;
        p->n_held--;
        pthread_cond_signal(&p->free_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Waits for the decoding thread: after the last block (stop = false) or right away. */
static void s_pipe_join(struct s_pipe *p, bool stop)
{
    if (p == NULL || !p->running) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->stop = p->stop || stop;
    pthread_cond_signal(&p->ready_cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    p->running = false;
}

static void s_pipe_destroy(struct s_pipe *p)
{
    if (p == NULL) {
        return;
    }
    s_pipe_join(p, true);
    pthread_cond_destroy(&p->free_cv);
    pthread_cond_destroy(&p->ready_cv);
    pthread_mutex_destroy(&p->mu);
    fsg_free(p->mem);
    fsg_free(p);
}

/* Starts the decoding thread. FSG_E_NOMEM; FSG_E_INTERNAL when no thread can be started (the
 * caller then reads on one thread). */
static enum fsg_err s_pipe_start(struct fsg_reader *r)
{
    struct s_pipe *p = fsg_calloc(1, sizeof *p);
    if (p == NULL) {
        return FSG_E_NOMEM;
    }
    p->r = r;
    size_t window = fsg_flowlog_window(r->dec);
    p->cap = window > S_PIPE_BLOCK ? window : S_PIPE_BLOCK;
    atomic_init(&p->failed, false);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->ready_cv, NULL);
    pthread_cond_init(&p->free_cv, NULL);
    /* One allocation, not zeroed but for the slack on both sides of each block (see
     * flowlog_scan.h): a reader per object must cost little. Freed as one block of about 1 MiB,
     * it also raises glibc's trim threshold above the ring, so the next object's ring reuses
     * the same pages instead of faulting fresh ones in. */
    size_t stride = FSG_SCAN_FRONT + p->cap + FSG_SCAN_SLACK;
    p->mem = fsg_malloc(stride * S_PIPE_BLOCKS);
    if (p->mem == NULL) {
        s_pipe_destroy(p);
        return FSG_E_NOMEM;
    }
    for (unsigned i = 0; i < S_PIPE_BLOCKS; i++) {
        uint8_t *m = p->mem + i * stride;
        memset(m, 0, FSG_SCAN_FRONT);
        memset(m + FSG_SCAN_FRONT + p->cap, 0, FSG_SCAN_SLACK);
        p->bufs[i] = m + FSG_SCAN_FRONT;
    }
    if (pthread_create(&p->thread, NULL, s_consume, p) != 0) {
        s_pipe_destroy(p);
        return FSG_E_INTERNAL;
    }
    p->running = true;
    fsg_flowlog_produce_continue(r->dec, p->bufs[0], p->cap);
    r->pipe = p;
    return FSG_OK;
}

/* The decoding thread's error, once it has one. */
static enum fsg_err s_pipe_error(struct s_pipe *p, struct fsg_error *err)
{
    pthread_mutex_lock(&p->mu);
    enum fsg_err rc = p->rc;
    if (rc != FSG_OK && err != NULL) {
        *err = p->err;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* Hands a block to the decoding thread and moves on to the next free buffer. */
static void s_publish(struct s_pipe *p, struct fsg_flowlog_decoder *dec,
                      const struct fsg_flowlog_block *blk)
{
    pthread_mutex_lock(&p->mu);
    p->blks[p->cur] = *blk;
    p->n_held++;
    p->n_ready++;
    pthread_cond_signal(&p->ready_cv);
    if (blk->is_last) {
        p->closed = true;
        pthread_mutex_unlock(&p->mu);
        return;
    }
    while (p->n_held == S_PIPE_BLOCKS) {
        pthread_cond_wait(&p->free_cv, &p->mu);
    }
    p->cur = (p->cur + 1) % S_PIPE_BLOCKS;
    pthread_mutex_unlock(&p->mu);
    /* The block just handed over is only read from now on: its unfinished line is copied out. */
    fsg_flowlog_produce_continue(dec, p->bufs[p->cur], p->cap);
}

/* ---- the reader ------------------------------------------------------------------------------
 */

enum fsg_err fsg_reader_new(const struct fsg_reader_options *opts, struct fsg_aggregate *agg,
                            struct fsg_reader **ret_reader, struct fsg_error *err)
{
    enum fsg_err rc = FSG_E_NOMEM;
    struct fsg_reader *r = fsg_calloc(1, sizeof *r);
    if (r == NULL) {
        return fsg_error_set(err, rc, "reader: out of memory");
    }
    r->target = agg;
    r->source = fsg_strdup(opts->source != NULL ? opts->source : "-");
    r->default_eni = fsg_strdup(opts->default_eni != NULL ? opts->default_eni : "-");
    if (r->source == NULL || r->default_eni == NULL) {
        fsg_error_set(err, rc, "reader: out of memory");
        goto fail;
    }
    r->eni = fsg_span_from_cstr(r->default_eni);
    rc = fsg_flowlog_decoder_new(opts->decoder, &r->dec, err);
    if (rc == FSG_OK && opts->pipeline) {
        rc = s_pipe_start(r);
        if (rc == FSG_E_INTERNAL) {
            rc = FSG_OK; /* no second thread: decode on this one */
        } else if (rc != FSG_OK) {
            fsg_error_set(err, rc, "reader: out of memory");
        }
    }
    if (rc != FSG_OK) {
        goto fail;
    }
    fsg_aggregate_begin(agg);
    r->open = true;
    *ret_reader = r;
    return FSG_OK;
fail:
    fsg_reader_destroy(r);
    return rc;
}

void fsg_reader_destroy(struct fsg_reader *r)
{
    if (r == NULL) {
        return;
    }
    s_pipe_destroy(r->pipe); /* first: its thread uses the decoder and the target */
    if (r->open) {           /* dropped before the end: the object counts for nothing */
        fsg_aggregate_rollback(r->target);
    }
    fsg_flowlog_decoder_destroy(r->dec);
    fsg_free(r->source);
    fsg_free(r->default_eni);
    fsg_free(r);
}

static enum fsg_err s_failed(struct fsg_reader *r, enum fsg_err rc, struct fsg_error *err)
{
    if (err != NULL) {
        if (err->offset == 0) {
            err->offset = fsg_flowlog_decoder_offset(r->dec);
        }
        r->saved = *err;
    } else {
        r->saved = (struct fsg_error){ .code = rc, .offset = fsg_flowlog_decoder_offset(r->dec) };
    }
    r->failed = rc;
    s_pipe_join(r->pipe, true); /* first: its thread may still fold records into the target */
    if (r->open) {
        fsg_aggregate_rollback(r->target);
        r->open = false;
    }
    return rc;
}

static enum fsg_err s_repeat(const struct fsg_reader *r, struct fsg_error *err)
{
    if (err != NULL) {
        *err = r->saved;
    }
    return r->failed;
}

/* Inflates what input there is; each block is decoded here or handed to the decoding thread. */
static enum fsg_err s_pump(struct fsg_reader *r, struct fsg_error *err)
{
    for (;;) {
        if (r->pipe != NULL && atomic_load_explicit(&r->pipe->failed, memory_order_acquire)) {
            return s_pipe_error(r->pipe, err);
        }
        struct fsg_flowlog_block blk;
        enum fsg_flowlog_produced what;
        enum fsg_err rc = fsg_flowlog_produce(r->dec, &blk, &what, err);
        if (rc != FSG_OK || what != FSG_PRODUCED_BLOCK) {
            return rc;
        }
        if (r->pipe != NULL) {
            s_publish(r->pipe, r->dec, &blk);
            continue;
        }
        rc = fsg_flowlog_decode_block(r->dec, &blk, s_on_record, r, err);
        if (rc != FSG_OK) {
            return rc;
        }
        fsg_flowlog_produce_continue(r->dec, NULL, 0);
    }
}

enum fsg_err fsg_reader_feed(struct fsg_reader *r, struct fsg_span chunk, struct fsg_error *err)
{
    if (r->failed != FSG_OK) {
        return s_repeat(r, err);
    }
    if (r->finished) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "reader: feed after finish");
    }
    if (err != NULL) {
        err->offset = 0;
    }
    fsg_flowlog_decoder_set_input(r->dec, chunk);
    enum fsg_err rc = s_pump(r, err);
    fsg_flowlog_decoder_set_input(r->dec, FSG_SPAN_NULL); /* the chunk is only borrowed */
    return rc == FSG_OK ? FSG_OK : s_failed(r, rc, err);
}

enum fsg_err fsg_reader_finish(struct fsg_reader *r, struct fsg_error *err)
{
    if (r->failed != FSG_OK) {
        return s_repeat(r, err);
    }
    if (r->finished) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "reader: finish called twice");
    }
    if (err != NULL) {
        err->offset = 0;
    }
    r->finished = true;
    fsg_flowlog_decoder_set_input(r->dec, FSG_SPAN_NULL);
    fsg_flowlog_decoder_finish(r->dec);
    enum fsg_err rc = s_pump(r, err);
    if (rc == FSG_OK && r->pipe != NULL) {
        s_pipe_join(r->pipe, false);
        rc = s_pipe_error(r->pipe, err);
    }
    if (rc == FSG_OK && !r->dec->prod.ended) {
        rc = fsg_error_set(err, FSG_E_INTERNAL, "reader: decoder did not reach the end");
    }
    if (rc == FSG_OK) {
        rc = fsg_aggregate_commit(r->target, err); /* a limit error belongs to this object */
    }
    if (rc == FSG_OK) {
        r->open = false;
        fsg_aggregate_add_stats(r->target, fsg_flowlog_decoder_stats(r->dec));
        fsg_aggregate_add_counts(r->target, &r->extra);
    }
    return rc == FSG_OK ? FSG_OK : s_failed(r, rc, err);
}

uint64_t fsg_reader_offset(const struct fsg_reader *r)
{
    return fsg_flowlog_decoder_offset(r->dec);
}

const struct fsg_flowlog_stats *fsg_reader_stats(const struct fsg_reader *r)
{
    return fsg_flowlog_decoder_stats(r->dec);
}

const struct fsg_flowlog_malformed *fsg_reader_malformed(const struct fsg_reader *r, size_t *ret_n)
{
    return fsg_flowlog_decoder_malformed(r->dec, ret_n);
}

const char *fsg_reader_source(const struct fsg_reader *r)
{
    return r->source;
}

const char *fsg_reader_engine(const struct fsg_reader *r)
{
    return fsg_flowlog_decoder_engine(r->dec);
}

bool fsg_reader_is_pipelined(const struct fsg_reader *r)
{
    return r->pipe != NULL;
}

enum fsg_err fsg_reader_feed_fd(struct fsg_reader *r, int fd, uint8_t *buf, size_t chunk_size,
                                struct fsg_error *err)
{
    size_t cap = chunk_size != 0 ? chunk_size : S_DEFAULT_CHUNK;
    uint8_t *own = NULL;
    if (buf == NULL) {
        buf = own = fsg_malloc(cap);
        if (own == NULL) {
            return fsg_error_set(err, FSG_E_NOMEM, "reader: out of memory");
        }
    }
    enum fsg_err rc = FSG_OK;
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = fsg_error_set(err, FSG_E_IO, "read error: %s", strerror(errno));
            if (err != NULL) {
                err->offset = fsg_reader_offset(r);
            }
            break;
        }
        if (n == 0) {
            break;
        }
        rc = fsg_reader_feed(r, (struct fsg_span){ buf, (size_t)n }, err);
        if (rc != FSG_OK) {
            break;
        }
    }
    fsg_free(own);
    return rc;
}

enum fsg_err fsg_reader_add_row(struct fsg_reader *r, const struct fsg_agg_row *row,
                                const struct fsg_flow_stats *stats, struct fsg_error *err)
{
    if (r->failed != FSG_OK) {
        return s_repeat(r, err);
    }
    enum fsg_err rc = FSG_OK;
    if (row != NULL) {
        rc = fsg_aggregate_add_row(r->target, row, err);
    }
    if (rc == FSG_OK && stats != NULL) {
        fsg_flow_stats_add(&r->extra, stats, false);
    }
    return rc == FSG_OK ? FSG_OK : s_failed(r, rc, err);
}
