/* A progress line on stderr while flow-log objects are read, only when stderr is a terminal:
 *
 *     flowseg: objects 12/340, 1.2 GiB read (48.3 MiB/s), 8.1M records (2.3M/s), 30% of 4.0 GiB, 1m12s left
 *
 * (the share and the time left when every object's size is known: an S3 listing, local files;
 * not with stdin)
 * redrawn in place at most 4 times a second and cleared when the read is over, so the terminal
 * ends up as if it had never been there. When stderr is not a terminal (a file, a pipe, a log
 * collector) nothing is shown and stderr holds only the JSON log lines.
 *
 * Counting wraps each object's run(): a local path is read here, chunk by chunk, so its bytes
 * and records count as they are read; an S3 object counts when its GetObject is over (its bytes
 * go straight from libcurl into the reader). Records are counted only from readers that decode
 * on the feeding thread: a pipelined reader's counters are complete only after finish(), which
 * the runner calls after run(), so when readers are pipelined the line shows no record count
 * (the runner has no per-object hook that would give it). The line is drawn by a thread of its
 * own; log lines written meanwhile go through fsg_progress_write_stderr, which clears the line
 * first. */
#ifndef FSG_CMD_PROGRESS_H
#define FSG_CMD_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowlogs/source.h"

struct fsg_progress;

/* What one drawing of the line shows. */
struct fsg_progress_state {
    size_t done, total;   /* objects */
    uint64_t bytes;       /* input bytes read so far */
    uint64_t total_bytes; /* 0 = unknown */
    uint64_t records;
    bool show_records;
    double elapsed_s;
};

/* Formats the line (without "\r" and the erase) into out[size]; returns its length. */
size_t fsg_progress_format(char *out, size_t size, const struct fsg_progress_state *st);

/* Whether a progress line would be shown: stderr is a terminal. */
bool fsg_progress_wanted(void);

/* Starts the line for objects[0..n) and points each object's run/ctx at a counting wrapper (the
 * objects must stay valid, and be read only, until fsg_progress_finish). Returns NULL, leaving
 * the objects as they are, when no line is wanted (stderr is not a terminal) or it cannot be
 * shown (memory, no thread): the progress line is never a reason for a read to fail. Caller
 * owns the result (fsg_progress_finish). */
struct fsg_progress *fsg_progress_start(struct fsg_object *objects, size_t n);

/* Stops the line (clears it from the terminal) and frees p. The objects keep pointing at the
 * wrappers p owned: do not run them again. NULL ok. */
void fsg_progress_finish(struct fsg_progress *p);

/* Writes len bytes (one or more whole lines) to stderr in one write, clearing a progress line
 * first; it is redrawn at the next refresh. For the log sink. */
void fsg_progress_write_stderr(const char *text, size_t len);

#endif
