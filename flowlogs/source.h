/* Sources of flow-log objects: a push "object reader" for bytes that arrive in chunks (a local
 * file, stdin, or an S3 GetObject body from a libcurl write callback), and a parallel runner over
 * a list of objects.
 *
 * The object reader is all-or-nothing: records go straight into the caller's aggregator while
 * the object streams, as one unit (fsg_aggregate_begin/commit/rollback) that finish() commits;
 * a failed or dropped object is rolled back. An object that turns out truncated or corrupt
 * therefore contributes nothing, and never aborts the other objects.
 *
 * From a libcurl write callback (curl hands arbitrary, non-NUL-terminated chunks; returning a
 * different count aborts the transfer with CURLE_WRITE_ERROR):
 *
 *     static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
 *     {
 *         struct my_stream *s = userdata;
 *         size_t n = size * nmemb;
 *         s->rc = fsg_reader_feed(s->reader, (struct fsg_span){ (const uint8_t *)ptr, n },
 * &s->err); return s->rc == FSG_OK ? n : 0;
 *     }
 *     ...after curl_easy_perform() succeeded:
 *     rc = fsg_reader_finish(reader, &err);           (checks the gzip end, then commits)
 *
 * Errors from feed()/finish() do not name the source (fsg_reader_source() does) and set
 * err->offset to the input byte where the problem is. */
#ifndef FSG_FLOWLOGS_SOURCE_H
#define FSG_FLOWLOGS_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowlogs/aggregate.h"
#include "flowlogs/flowlog.h"
#include "lib/core/buf.h"
#include "lib/core/error.h"

/* ---- one object ---------------------------------------------------------------------------- */

struct fsg_reader_options {
    const char *source;      /* display name for errors: a path, "-", "s3://bucket/key"; copied */
    const char *default_eni; /* ENI of records without interface-id; NULL = "-"; copied */
    const struct fsg_flowlog_options *decoder; /* format, window, limits; may be NULL; borrowed
                                                * during new() only */
    /* Decode on a second thread while the feeding thread inflates (a pipeline through a ring of
     * 4 x 256 KiB text blocks). The API and the results are the same; a decoding error then
     * comes back from a later feed() or from finish(), and the counters and malformed samples
     * are complete only after finish(). Falls back to one thread if no thread can start. */
    bool pipeline;
};

struct fsg_reader;

/* Creates a reader for one object whose records go to `agg` (borrowed: must outlive the reader,
 * and no other reader may use it until this one is finished or destroyed: one aggregator per
 * thread). Caller owns *ret_reader.
 * FSG_E_INVALID_ARG for a bad configured format, FSG_E_NOMEM. */
enum fsg_err fsg_reader_new(const struct fsg_reader_options *opts, struct fsg_aggregate *agg,
                            struct fsg_reader **ret_reader, struct fsg_error *err) FSG_MUST_USE;

void fsg_reader_destroy(struct fsg_reader *r); /* NULL ok; an unfinished object is dropped */

/* Decodes the next chunk (any size, possibly empty; borrowed for the call only). FSG_E_PARSE for a
 * corrupt stream (err->offset set), FSG_E_LIMIT, FSG_E_NOMEM. After an error, feed() and finish()
 * return the same code again. Malformed lines are not errors (see fsg_reader_stats). */
enum fsg_err fsg_reader_feed(struct fsg_reader *r, struct fsg_span chunk,
                             struct fsg_error *err) FSG_MUST_USE;

/* The object is complete: flushes the last line, fails with FSG_E_PARSE "premature end of gzip
 * stream at byte N" if the stream stops inside a gzip member, else folds the object's records and
 * counters into the aggregator. Call once. */
enum fsg_err fsg_reader_finish(struct fsg_reader *r, struct fsg_error *err) FSG_MUST_USE;

/* Input bytes consumed so far (the byte offset to report for an error). */
uint64_t fsg_reader_offset(const struct fsg_reader *r);
/* The counters of this object so far (with a pipeline: complete only after finish(); until then
 * the decoding thread writes them). Borrowed, owned by r. */
const struct fsg_flowlog_stats *fsg_reader_stats(const struct fsg_reader *r);
/* The first malformed lines (line number + reason; with a pipeline, after finish()). Borrowed,
 * owned by r. */
const struct fsg_flowlog_malformed *fsg_reader_malformed(const struct fsg_reader *r, size_t *ret_n);
/* The source name given at new(). Borrowed, owned by r. */
const char *fsg_reader_source(const struct fsg_reader *r);
/* "isa-l", "zlib", "plain" or "unknown". Static. */
const char *fsg_reader_engine(const struct fsg_reader *r);
/* True when the reader decodes on a second thread. */
bool fsg_reader_is_pipelined(const struct fsg_reader *r);

/* Folds one already-aggregated row (a flow summary's, flowlogs/summary.h) and/or adds counters
 * (row or stats may be NULL) into this object, instead of feeding bytes: the object then counts
 * as if its records had been decoded, and is rolled back like them. Not mixed with feed() on a
 * pipelined reader. Errors as fsg_aggregate_add_row (and the reader is failed). */
enum fsg_err fsg_reader_add_row(struct fsg_reader *r, const struct fsg_agg_row *row,
                                const struct fsg_flow_stats *stats,
                                struct fsg_error *err) FSG_MUST_USE;

/* Feeds a whole file descriptor (read() until end of file) in chunks of chunk_size (0 = 256 KiB)
 * through `buf` (caller's scratch memory of chunk_size bytes, or NULL to allocate one). Does not
 * call finish(). FSG_E_IO on a read error, else as fsg_reader_feed. */
enum fsg_err fsg_reader_feed_fd(struct fsg_reader *r, int fd, uint8_t *buf, size_t chunk_size,
                                struct fsg_error *err) FSG_MUST_USE;

/* ---- many objects ------------------------------------------------------------------------ */

/* Feeds one external object into `reader` with fsg_reader_feed() (not finish(): the runner does
 * that), on a worker thread, synchronously. Returns FSG_OK when every byte was fed, else the error
 * (e.g. a network failure) with details in *err. ctx is the fsg_object's ctx. */
typedef enum fsg_err(fsg_object_run_fn)(void *ctx, struct fsg_reader *reader,
                                        struct fsg_error *err);

struct fsg_object {
    const char *name;        /* local path, or "-" for stdin, when run is NULL; otherwise only the
                              * display name (e.g. "s3://bucket/key"). Borrowed. */
    const char *default_eni; /* ENI of records without interface-id; NULL = the run's. Borrowed. */
    fsg_object_run_fn *run;  /* NULL = read the local path */
    void *ctx;               /* for run; borrowed */
    /* When set, the object is read into a table of its own, handed to summarize() (e.g. to
     * write its flow summary) once it was read well, then merged into the run's table. Under a
     * memory budget that table has half its worker's share: when the object's rows did not all
     * fit (some went to disk), summarize() gets NULL (no summary can be made of a part). A
     * failed summarize() is the callee's to report: the object still counts. */
    void (*summarize)(void *summarize_ctx, const struct fsg_aggregate *object_table);
    void *summarize_ctx;
    /* When set, called once the object is over, read well (FSG_OK) or not, on the worker that
     * read it (after summarize()), with summarize_ctx. */
    void (*finished)(void *summarize_ctx, enum fsg_err rc);
    uint64_t size;           /* input bytes when known (listing, stat), 0 = unknown; for
                              * progress only */
};

/* Whether each object is decoded on a second thread while its worker inflates (see
 * fsg_reader_options.pipeline). AUTO: when the CPUs this process may use (sched_getaffinity, so
 * `taskset` counts) number at least twice the workers, i.e. only with cores to spare: with
 * `--jobs 1` on a 2-core machine one object uses both cores; with `--jobs 2` and two or more
 * objects each worker keeps to one thread, so the threads never outnumber the cores. */
enum fsg_pipeline { FSG_PIPELINE_AUTO = 0, FSG_PIPELINE_OFF, FSG_PIPELINE_ON };

/* The AUTO rule above for `workers` workers (ON/OFF are returned as they are). */
bool fsg_run_uses_pipeline(enum fsg_pipeline mode, size_t workers);

/* CPUs this process may run on (sched_getaffinity: `taskset` and cpusets count), at least 1. */
size_t fsg_run_cpus(void);

struct fsg_run_options {
    unsigned jobs;                             /* decoding workers; 0 = one per CPU (never more
                                                * than objects); 1 = the calling thread */
    enum fsg_pipeline pipeline;                /* AUTO (0) by default */
    const struct fsg_flowlog_options *decoder; /* may be NULL; borrowed */
    const char *default_eni;                   /* for objects without one; NULL = "-" */
    size_t read_chunk_bytes;                   /* local reads; 0 = 256 KiB */
};

struct fsg_run_error {
    char *source;    /* owned */
    uint64_t offset; /* input byte where the object failed */
    enum fsg_err code;
    char *message; /* owned; does not repeat the source */
};

struct fsg_run_warning {
    char *source; /* owned */
    unsigned long line;
    char *message; /* owned */
};

/* What happened to the objects, in the order they were given. */
struct fsg_run_result {
    struct fsg_run_error *errors;
    size_t n_errors;
    struct fsg_run_warning *warnings; /* the first malformed lines of each object that succeeded */
    size_t n_warnings;
};

/* Reads every object, `jobs` at a time (at most one worker per object), each worker with its own
 * table (agg's memory budget split between them, fsg_aggregate_set_memory) merged at the end (or,
 * under a budget with rows on disk, added to the runs), into `agg` (borrowed; its counters include
 * only the objects that succeeded). A failed object adds one entry to result->errors and nothing
 * else; the others are still read in full. Returns FSG_OK when the run itself worked (check
 * n_errors for failed objects), FSG_E_NOMEM, FSG_E_INTERNAL (threads) or the error of a failed
 * spill (fsg_aggregate_status) otherwise. Caller cleans *result with
 * fsg_run_result_clean_up() in either case. */
enum fsg_err fsg_run_objects(const struct fsg_object *objects, size_t n_objects,
                             const struct fsg_run_options *opts, struct fsg_aggregate *agg,
                             struct fsg_run_result *result, struct fsg_error *err) FSG_MUST_USE;

void fsg_run_result_clean_up(struct fsg_run_result *result); /* NULL ok, idempotent */

/* ---- local sources ------------------------------------------------------------------------- */

/* Expands one local SOURCE argument and appends paths to *paths (grown with fsg_reallocarray;
 * the caller owns the array and every string, freed with fsg_free):
 * a directory -> every regular file below it, recursively, sorted by path (names starting with '.'
 * are skipped); anything else ("-", a file, a path that does not exist) -> itself, so that reading
 * it reports the error for that object. FSG_E_IO when a directory cannot be listed, FSG_E_NOMEM. */
enum fsg_err fsg_source_expand(const char *arg, char ***paths, size_t *n_paths,
                               struct fsg_error *err) FSG_MUST_USE;

#endif
