#include "cmd/progress.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "lib/core/mem.h"

/* At most 4 redraws a second: enough to look alive, too few to cost anything. */
#define S_REFRESH_NS 250000000L
/* Local reads go in the runner's chunk size (flowlogs/source.c): 256 KiB. */
#define S_CHUNK_BYTES ((size_t)256 << 10)
/* "\r" + the line + "\033[K" fits; a wider terminal gets no longer a line. */
#define S_LINE_MAX 160

/* One object: its own reader, and the run it counts for. */
struct s_wrap {
    struct fsg_progress *p;
    struct fsg_object orig;
};

struct fsg_progress {
    size_t total;
    uint64_t total_bytes; /* every object's size when all are known, else 0 */
    atomic_size_t done;
    atomic_uint_least64_t bytes;
    atomic_uint_least64_t records;
    atomic_bool no_records; /* a reader decodes on a thread of its own: its records are unknown */
    struct timespec start;
    struct s_wrap *wraps;
    pthread_t thread;
    pthread_mutex_t mu; /* guards stop */
    pthread_cond_t cv;
    bool stop;
};

/* The terminal line is shared with the log sink: drawn, cleared and written over under s_term. */
static pthread_mutex_t s_term = PTHREAD_MUTEX_INITIALIZER;
static bool s_shown;

static const char s_clear[] = "\r\033[K";

bool fsg_progress_wanted(void)
{
    const char *term = getenv("TERM");
    return isatty(STDERR_FILENO) && (term == NULL || strcmp(term, "dumb") != 0);
}

/* ---- counting -------------------------------------------------------------------------------- */

static void s_count(struct fsg_progress *p, uint64_t bytes, uint64_t records)
{
    atomic_fetch_add(&p->bytes, bytes);
    atomic_fetch_add(&p->records, records);
}

/* The reader's records so far. A pipelined reader decodes on a second thread and its counters
 * are complete only after finish() (flowlogs/source.h), which the runner calls after run(): they
 * are not read at all then, and the line shows no record count. */
static uint64_t s_records(struct fsg_progress *p, const struct fsg_reader *r)
{
    if (fsg_reader_is_pipelined(r)) {
        atomic_store(&p->no_records, true);
        return 0;
    }
    return fsg_reader_stats(r)->records;
}

/* A local path, fed chunk by chunk so that a large file shows progress while it is read. Errors
 * are those of the runner's own local reads. */
static enum fsg_err s_read_local(struct s_wrap *w, struct fsg_reader *r, struct fsg_error *err)
{
    bool is_stdin = strcmp(w->orig.name, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(w->orig.name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fsg_error_set(err, errno == ENOENT ? FSG_E_NOT_FOUND : FSG_E_IO, "cannot open: %s",
                             strerror(errno));
    }
    uint8_t *buf = fsg_malloc(S_CHUNK_BYTES);
    enum fsg_err rc = FSG_OK;
    if (buf == NULL) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "reader: out of memory");
    }
    uint64_t counted = 0;
    while (rc == FSG_OK) {
        ssize_t n = read(fd, buf, S_CHUNK_BYTES);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = fsg_error_set(err, FSG_E_IO, "read error: %s", strerror(errno));
            if (err != NULL) {
                err->offset = fsg_reader_offset(r);
            }
        }
        if (n <= 0) {
            break;
        }
        rc = fsg_reader_feed(r, (struct fsg_span){ buf, (size_t)n }, err);
        uint64_t records = s_records(w->p, r);
        s_count(w->p, (uint64_t)n, records - counted);
        counted = records;
    }
    fsg_free(buf);
    if (!is_stdin) {
        close(fd);
    }
    return rc;
}

static enum fsg_err s_run(void *ctx, struct fsg_reader *r, struct fsg_error *err)
{
    struct s_wrap *w = ctx;
    enum fsg_err rc;
    if (w->orig.run == NULL) {
        rc = s_read_local(w, r, err);
    } else {
        rc = w->orig.run(w->orig.ctx, r, err);
        s_count(w->p, fsg_reader_offset(r), s_records(w->p, r)); /* the offset is the feeder's */
    }
    atomic_fetch_add(&w->p->done, 1);
    return rc;
}

/* ---- drawing --------------------------------------------------------------------------------- */

/* 1234 -> "1234", 12345 -> "12.3k", ... with `unit` after the number. */
static void s_human(double v, const char *const *units, double step, char *out, size_t size)
{
    size_t u = 0;
    while (v >= step && units[u + 1] != NULL) {
        v /= step;
        u++;
    }
    snprintf(out, size, u == 0 ? "%.0f%s" : "%.1f%s", v, units[u]);
}

static double s_elapsed_s(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static size_t s_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1) {
        return ws.ws_col - 1 < S_LINE_MAX ? (size_t)ws.ws_col - 1 : S_LINE_MAX;
    }
    return 79;
}

/* 75 -> "1m15s", 4000 -> "1h06m". */
static void s_duration(double secs, char *out, size_t size)
{
    long s = secs < 0 ? 0 : secs > 359999 ? 359999 : (long)(secs + 0.5);
    if (s < 60) {
        snprintf(out, size, "%lds", s);
    } else if (s < 3600) {
        snprintf(out, size, "%ldm%02lds", s / 60, s % 60);
    } else {
        snprintf(out, size, "%ldh%02ldm", s / 3600, s / 60 % 60);
    }
}

size_t fsg_progress_format(char *out, size_t size, const struct fsg_progress_state *st)
{
    static const char *const bytes_units[] = { " B", " KiB", " MiB", " GiB", " TiB", NULL };
    static const char *const count_units[] = { "", "k", "M", "G", NULL };
    char bytes[32], byte_rate[32], records[32], rate[32], total[32], left[32];
    double secs = st->elapsed_s;
    double n_bytes = (double)st->bytes;
    s_human(n_bytes, bytes_units, 1024, bytes, sizeof bytes);
    s_human(secs > 0 ? n_bytes / secs : 0, bytes_units, 1024, byte_rate, sizeof byte_rate);
    int len = snprintf(out, size, "flowseg: objects %zu/%zu, %s read (%s/s)", st->done, st->total,
                       bytes, byte_rate);
    if (len >= 0 && (size_t)len < size && st->show_records) {
        s_human((double)st->records, count_units, 1000, records, sizeof records);
        s_human(secs > 0 ? (double)st->records / secs : 0, count_units, 1000, rate, sizeof rate);
        len += snprintf(out + len, size - (size_t)len, ", %s records (%s/s)", records, rate);
    }
    /* Where the total is known: the share of its bytes read, and the time left at the rate so
     * far (shown after a second and 1%, when the rate means something). */
    if (len >= 0 && (size_t)len < size && st->total_bytes > 0) {
        double done = n_bytes / (double)st->total_bytes;
        done = done > 1 ? 1 : done;
        s_human((double)st->total_bytes, bytes_units, 1024, total, sizeof total);
        len += snprintf(out + len, size - (size_t)len, ", %.0f%% of %s", done * 100, total);
        if (len >= 0 && (size_t)len < size && secs >= 1 && done >= 0.01 && done < 1) {
            s_duration(secs * (1 - done) / done, left, sizeof left);
            len += snprintf(out + len, size - (size_t)len, ", %s left", left);
        }
    }
    return len < 0 ? 0 : (size_t)len < size ? (size_t)len : size - 1;
}

static void s_draw(struct fsg_progress *p)
{
    struct fsg_progress_state st = { .done = atomic_load(&p->done),
                                     .total = p->total,
                                     .bytes = atomic_load(&p->bytes),
                                     .total_bytes = p->total_bytes,
                                     .records = atomic_load(&p->records),
                                     .show_records = !atomic_load(&p->no_records),
                                     .elapsed_s = s_elapsed_s(&p->start) };
    char line[S_LINE_MAX + 1];
    size_t len = fsg_progress_format(line, sizeof line, &st);
    size_t width = s_width();
    size_t n = len < width ? len : width;
    pthread_mutex_lock(&s_term);
    fputc('\r', stderr);
    fwrite(line, 1, n, stderr);
    fputs("\033[K", stderr);
    fflush(stderr);
    s_shown = true;
    pthread_mutex_unlock(&s_term);
}

static void s_clear_locked(void)
{
    if (s_shown) {
        fputs(s_clear, stderr);
        fflush(stderr);
        s_shown = false;
    }
}

static void *s_thread(void *arg)
{
    struct fsg_progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += S_REFRESH_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!p->stop && pthread_cond_timedwait(&p->cv, &p->mu, &until) != ETIMEDOUT) {
        }
        if (!p->stop) {
            s_draw(p);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- the line -------------------------------------------------------------------------------- */

static bool s_sync_init(struct fsg_progress *p)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) {
        return false;
    }
    bool ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
              pthread_cond_init(&p->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (ok && pthread_mutex_init(&p->mu, NULL) != 0) {
        pthread_cond_destroy(&p->cv);
        ok = false;
    }
    return ok;
}

struct fsg_progress *fsg_progress_start(struct fsg_object *objects, size_t n)
{
    if (!fsg_progress_wanted()) {
        return NULL;
    }
    struct fsg_progress *p = fsg_calloc(1, sizeof *p);
    struct s_wrap *wraps = fsg_calloc(n + 1, sizeof *wraps);
    if (p == NULL || wraps == NULL || !s_sync_init(p)) {
        fsg_free(wraps);
        fsg_free(p);
        return NULL;
    }
    p->total = n;
    p->wraps = wraps;
    for (size_t i = 0; i < n; i++) {
        if (objects[i].size == 0) {
            p->total_bytes = 0;
            break;
        }
        p->total_bytes += objects[i].size;
    }
    atomic_init(&p->done, 0);
    atomic_init(&p->bytes, 0);
    atomic_init(&p->records, 0);
    atomic_init(&p->no_records, false);
    clock_gettime(CLOCK_MONOTONIC, &p->start);
    if (pthread_create(&p->thread, NULL, s_thread, p) != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        fsg_free(wraps);
        fsg_free(p);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        wraps[i] = (struct s_wrap){ .p = p, .orig = objects[i] };
        objects[i].run = s_run;
        objects[i].ctx = &wraps[i];
    }
    return p;
}

void fsg_progress_finish(struct fsg_progress *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_mutex_lock(&s_term);
    s_clear_locked();
    pthread_mutex_unlock(&s_term);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    fsg_free(p->wraps);
    fsg_free(p);
}

void fsg_progress_write_stderr(const char *text, size_t len)
{
    pthread_mutex_lock(&s_term);
    s_clear_locked();
    fwrite(text, 1, len, stderr);
    pthread_mutex_unlock(&s_term);
}
