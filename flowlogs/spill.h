/* Sorted runs of flow-table rows on disk, for a flow table held within a memory budget
 * (flowlogs/aggregate.h, fsg_aggregate_set_memory): when an aggregator's table is full, its
 * entries are sorted and appended here as a run, and the table starts again empty; the output
 * then merges every run (k-way, equal keys folded).
 *
 * One store is shared by the aggregators of a run (one per worker thread): appends, ENI ids and
 * run bookkeeping are thread-safe. The file is a private temporary file in $TMPDIR (else /tmp),
 * made by the first run and unlinked as soon as it is created, so it goes away with the process
 * whatever happens.
 *
 * Runs can be tagged with an object (fsg_spill_tag): the rows an object that is still being read
 * had to spill. fsg_spill_drop() forgets them (the object failed: it counts for nothing),
 * fsg_spill_keep() makes them ordinary runs (the object was read well). */
#ifndef FSG_FLOWLOGS_SPILL_H
#define FSG_FLOWLOGS_SPILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/error.h"
#include "lib/core/flow.h"

/* Bytes of struct fsg_spill_row.key that order rows (memcmp). */
#define FSG_SPILL_KEY_LEN 43

/* One row as runs hold it (88 bytes). key: [0..3] the ENI's rank in name order (big-endian; set
 * by the merge from eni, anything when written), [4] initiator is IPv6, [5..20] initiator (16-byte
 * form), [21] responder is IPv6, [22..37] responder, [38..39] responder port (big-endian),
 * [40] protocol, [41] action, [42] record direction (enum fsg_rdir), [43] zero. */
struct fsg_spill_row {
    uint8_t key[44];
    uint32_t eni; /* the store's id of the ENI name (fsg_spill_eni) */
    uint64_t records, packets, bytes;
    int64_t first, last; /* FSG_FLOW_TIME_NONE when unknown */
};
_Static_assert(sizeof(struct fsg_spill_row) == 88, "struct fsg_spill_row must have no padding");

struct fsg_spill;

/* Creates a store (its file comes with the first run). FSG_E_NOMEM. */
enum fsg_err fsg_spill_new(struct fsg_spill **ret_sp, struct fsg_error *err) FSG_MUST_USE;
void fsg_spill_destroy(struct fsg_spill *sp); /* NULL ok */

/* The store's id of an ENI name (FSG_ENI_ID_MAX bytes; compared as a C string). FSG_E_NOMEM. */
enum fsg_err fsg_spill_eni(struct fsg_spill *sp, const char name[FSG_ENI_ID_MAX],
                           uint32_t *ret_id) FSG_MUST_USE;

/* The ENI names by id (NUL-padded), valid until the next fsg_spill_eni; *ret_n of them. */
const char (*fsg_spill_names(const struct fsg_spill *sp, size_t *ret_n))[FSG_ENI_ID_MAX];

/* Runs that are kept (not dropped), and rows written so far (for tests and benchmarks). */
size_t fsg_spill_runs(const struct fsg_spill *sp);
uint64_t fsg_spill_rows_written(const struct fsg_spill *sp);

/* A new tag for the runs of one object (never 0, which is the tag of kept runs). */
uint64_t fsg_spill_tag(struct fsg_spill *sp);
void fsg_spill_drop(struct fsg_spill *sp, uint64_t tag); /* tag 0: nothing */
void fsg_spill_keep(struct fsg_spill *sp, uint64_t tag);

/* Appending one run of at most n rows, given in order (a worker's own writer). */
struct fsg_spill_writer {
    struct fsg_spill *sp;
    uint64_t off;  /* where the next buffered rows go */
    uint64_t start;
    size_t left;   /* rows that may still come */
    size_t n_rows; /* rows put so far */
    uint64_t tag;
    size_t n_buf;
    struct fsg_spill_row buf[256];
};

/* FSG_E_IO when the temporary file cannot be made (the message names the directory). */
enum fsg_err fsg_spill_run_begin(struct fsg_spill *sp, size_t n, uint64_t tag,
                                 struct fsg_spill_writer *w, struct fsg_error *err) FSG_MUST_USE;
enum fsg_err fsg_spill_run_put(struct fsg_spill_writer *w, const struct fsg_spill_row *row,
                               struct fsg_error *err) FSG_MUST_USE;
enum fsg_err fsg_spill_run_end(struct fsg_spill_writer *w, struct fsg_error *err) FSG_MUST_USE;

/* ---- merging ------------------------------------------------------------------------------- */

struct fsg_spill_merge;

/* Merges every kept run in the order of their keys, with rank[eni] (one per ENI id) as the first
 * four key bytes; rows with equal keys come out folded (records, packets and bytes summed, first
 * the earliest, last the latest). More runs than can be read at once are first merged into
 * fewer. Call only when no run is being written. FSG_E_IO, FSG_E_NOMEM. */
enum fsg_err fsg_spill_merge_open(struct fsg_spill *sp, const uint32_t *rank,
                                  struct fsg_spill_merge **ret_m,
                                  struct fsg_error *err) FSG_MUST_USE;
/* The next row into *ret; *ret_more false at the end. FSG_E_IO. */
enum fsg_err fsg_spill_merge_next(struct fsg_spill_merge *m, struct fsg_spill_row *ret,
                                  bool *ret_more, struct fsg_error *err) FSG_MUST_USE;
void fsg_spill_merge_close(struct fsg_spill_merge *m); /* NULL ok */

/* Folds b into a (equal keys). */
void fsg_spill_row_fold(struct fsg_spill_row *a, const struct fsg_spill_row *b);

#endif
