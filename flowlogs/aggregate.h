/* Per-ENI aggregation of flow-log records into the flow table of lib/core/flow.h.
 *
 * While records stream in, each request-leg record is keyed by (eni, initiator, responder,
 * responder port, protocol, action, record direction) in an open-addressing table (lib/core/hash.h:
 * 16-byte keys when both addresses are IPv4, 40-byte keys otherwise) and its
 * records/packets/bytes/first/last folded in; ENI ids are interned. Response legs (return
 * traffic) are counted in no direction and dropped right away. Which connections are ingress
 * or egress is decided at the end (fsg_aggregate_result), when every ENI's own address can be
 * learned from all its records (flowlogs/direction.h). Memory is bounded by the number of distinct
 * keys, never by the input size; with a budget (fsg_aggregate_set_memory) by the budget: larger
 * tables are spilled to sorted runs on disk and merged on output.
 *
 * One aggregator per thread; fsg_aggregate_merge() folds one into another (associative and
 * commutative, so the result does not depend on the order objects were read in). */
#ifndef FSG_FLOWLOGS_AGGREGATE_H
#define FSG_FLOWLOGS_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowlogs/flowlog.h"
#include "lib/core/buf.h"
#include "lib/core/error.h"
#include "lib/core/flow.h"
#include "lib/core/ip.h"

/* What the config knows about one ENI (from a target): its own addresses and database port. */
struct fsg_eni_hint {
    const char *eni;            /* "eni-..." (or the name records without interface-id get) */
    const struct fsg_ip *addrs; /* the ENI's own addresses (config eni_addrs); may be NULL */
    size_t n_addrs;
    uint16_t service_port; /* the target's database port; 0 = unknown */
};

struct fsg_aggregate_options {
    /* Borrowed during new() only (copied). Later hints for the same ENI are ignored. */
    const struct fsg_eni_hint *hints;
    size_t n_hints;
    /* Distinct keys after which add() fails with FSG_E_LIMIT; 0 = 16 Mi (about 1.3 GiB). */
    size_t max_entries;
};

/* Run-wide counters, CONTRACT.md `stats` (errors are kept by the caller). */
struct fsg_flow_stats {
    uint64_t objects;  /* objects read completely */
    uint64_t bytes_in; /* their input bytes (compressed size) */
    uint64_t lines;
    uint64_t records;
    uint64_t nodata;
    uint64_t skipdata;
    uint64_t malformed;
};

/* Whether eni (NUL-terminated, or NUL-padded to FSG_ENI_ID_MAX) is one of enis[0..n_enis):
 * every ENI is when n_enis is 0. */
bool fsg_eni_selected(const char *eni, const char *const *enis, size_t n_enis);

/* dst += src, counter by counter; `objects` too only when with_objects. */
void fsg_flow_stats_add(struct fsg_flow_stats *dst, const struct fsg_flow_stats *src,
                        bool with_objects);

enum fsg_direction_filter { FSG_DIRECTION_INGRESS = 0, FSG_DIRECTION_EGRESS, FSG_DIRECTION_ALL };

struct fsg_aggregate;

/* Creates an empty aggregator. opts may be NULL. Caller owns *ret_agg. FSG_E_NOMEM. */
enum fsg_err fsg_aggregate_new(const struct fsg_aggregate_options *opts,
                               struct fsg_aggregate **ret_agg, struct fsg_error *err) FSG_MUST_USE;

void fsg_aggregate_destroy(struct fsg_aggregate *agg); /* NULL ok */

/* Creates an empty aggregator with the same options (hints, limits) as `like` (borrowed), e.g.
 * one per thread or per object. Caller owns *ret_agg. FSG_E_NOMEM. */
enum fsg_err fsg_aggregate_new_sibling(const struct fsg_aggregate *like,
                                       struct fsg_aggregate **ret_agg,
                                       struct fsg_error *err) FSG_MUST_USE;
/* The same at the smallest starting size (the other starts near like's size), e.g. for one
 * object's own table. */
enum fsg_err fsg_aggregate_new_sibling_small(const struct fsg_aggregate *like,
                                             struct fsg_aggregate **ret_agg,
                                             struct fsg_error *err) FSG_MUST_USE;

/* Folds one OK record in. The ENI is rec->interface_id, or default_eni when that is empty (and
 * "-" when both are); ids longer than FSG_ENI_ID_MAX - 1 bytes are cut. Records without addresses
 * are skipped. rec and default_eni are borrowed for the call (everything needed is copied).
 * Records are folded through a short pipeline (so the table's cache misses overlap): a
 * FSG_E_LIMIT or FSG_E_NOMEM may come from a record added a few calls earlier, or from flush(). */
enum fsg_err fsg_aggregate_add(struct fsg_aggregate *agg, const struct fsg_flowlog_record *rec,
                               struct fsg_span default_eni, struct fsg_error *err) FSG_MUST_USE;

/* Folds the records still in the pipeline. merge() and result() do it themselves.
 * FSG_E_LIMIT, FSG_E_NOMEM (the failed record stays pending). */
enum fsg_err fsg_aggregate_flush(struct fsg_aggregate *agg, struct fsg_error *err) FSG_MUST_USE;

/* Adds one object's decoder counters (and counts the object). */
void fsg_aggregate_add_stats(struct fsg_aggregate *agg, const struct fsg_flowlog_stats *stats);

/* Folds src into dst (both flushed first; src otherwise unchanged, borrowed). On failure dst may
 * hold part of src: inside an object of dst (fsg_aggregate_begin) its rollback undoes that. */
enum fsg_err fsg_aggregate_merge(struct fsg_aggregate *dst, struct fsg_aggregate *src,
                                 struct fsg_error *err) FSG_MUST_USE;

/* One entry of the table as it is kept while records stream in (before the directions are
 * decided), in a form that can be written out and folded back exactly: per-object flow
 * summaries (flowlogs/summary.h) are lists of rows. */
struct fsg_agg_row {
    char eni[FSG_ENI_ID_MAX]; /* NUL-padded */
    struct fsg_ip a;          /* initiator */
    struct fsg_ip b;          /* responder */
    uint16_t port;            /* responder port */
    uint8_t proto;
    uint8_t action;           /* enum fsg_flow_action */
    uint8_t rdir;             /* enum fsg_rdir (flowlogs/direction.h): arriving, leaving, unknown */
    uint64_t records, packets, bytes;
    int64_t first, last;      /* FSG_FLOW_TIME_NONE when unknown */
};

/* Row i (0 <= i < fsg_aggregate_entries(), after a flush). */
void fsg_aggregate_row(const struct fsg_aggregate *agg, size_t i, struct fsg_agg_row *ret);

/* Folds a row in (as that many records would have been; inside an object it is rolled back
 * with it). FSG_E_INVALID_ARG for a row no record could give, FSG_E_LIMIT, FSG_E_NOMEM. */
enum fsg_err fsg_aggregate_add_row(struct fsg_aggregate *agg, const struct fsg_agg_row *row,
                                   struct fsg_error *err) FSG_MUST_USE;

/* Adds counters (lines, records, ...; not `objects`) from an object read another way. */
void fsg_aggregate_add_counts(struct fsg_aggregate *agg, const struct fsg_flow_stats *stats);

/* One object as a unit: begin() before its first record; commit() when it ended well (flushes,
 * then its records stay; FSG_E_LIMIT/FSG_E_NOMEM from the flush leave the object open for a
 * rollback); rollback() when it failed: the table is as it was at begin(), as if the object had
 * never been read ("a corrupt or truncated object counts for nothing"). Records go straight
 * into this table: the cost of an object is its records, plus one logged value for each older
 * entry it changes (no per-object table to allocate, clear or merge; only an object whose own
 * rows are wanted, for its flow summary, is read into a table of its own: flowlogs/source.h).
 * rollback() outside an object does nothing. */
void fsg_aggregate_begin(struct fsg_aggregate *agg);
enum fsg_err fsg_aggregate_commit(struct fsg_aggregate *agg, struct fsg_error *err) FSG_MUST_USE;
void fsg_aggregate_rollback(struct fsg_aggregate *agg);

/* Drops every entry and counter, keeping memory and hints (to reuse a per-object aggregator). */
void fsg_aggregate_clear(struct fsg_aggregate *agg);

/* ---- a memory budget ---------------------------------------------------------------------
 *
 * With a budget, the tables never grow past `bytes`: when a new key would make them, their
 * entries are sorted and written to a private temporary file as a run (flowlogs/spill.h) and the
 * tables start empty; the output (fsg_aggregate_result, fsg_aggregate_flows_open) merges the runs.
 * Only what is committed reaches an ordinary run: an object that spills while it is read writes
 * its own part to runs that its rollback drops. Siblings share the store (and start with the same
 * budget: set theirs after new_sibling to split it). 0 = no budget (the default). FSG_E_IO when no
 * temporary file can be made, FSG_E_NOMEM. */
enum fsg_err fsg_aggregate_set_memory(struct fsg_aggregate *agg, size_t bytes,
                                      struct fsg_error *err) FSG_MUST_USE;
size_t fsg_aggregate_memory(const struct fsg_aggregate *agg);
/* Whether the last object begun (fsg_aggregate_begin) had rows written to disk: its table then
 * does not hold all of them (kept after commit, until the next begin). */
bool fsg_aggregate_object_spilled(const struct fsg_aggregate *agg);
/* Bytes the tables hold now. */
size_t fsg_aggregate_table_bytes(const struct fsg_aggregate *agg);
/* Runs on disk and the rows they hold (0 without a budget or before the first spill). */
size_t fsg_aggregate_spilled_runs(const struct fsg_aggregate *agg);
uint64_t fsg_aggregate_spilled_rows(const struct fsg_aggregate *agg);
/* FSG_OK, or the error of a spill that failed (e.g. no room in TMPDIR): then rows may be lost,
 * every later add, merge and result fails with it, and the run must fail as a whole. */
enum fsg_err fsg_aggregate_status(const struct fsg_aggregate *agg,
                                  struct fsg_error *err) FSG_MUST_USE;
/* Writes the entries (flushed first) to the runs now and empties the tables (outside an object).
 * Nothing without a budget. FSG_E_IO, FSG_E_NOMEM. */
enum fsg_err fsg_aggregate_spill(struct fsg_aggregate *agg, struct fsg_error *err) FSG_MUST_USE;

/* Counters so far. Borrowed, owned by agg. */
const struct fsg_flow_stats *fsg_aggregate_stats(const struct fsg_aggregate *agg);

/* Distinct keys folded so far (pending records count after a flush); for tests and memory
 * accounting. */
size_t fsg_aggregate_entries(const struct fsg_aggregate *agg);

/* The flow table: one fsg_flow per (eni, src, dst, port, proto, action, direction) that passes
 * the direction filter and, when n_enis > 0, whose eni is in enis (borrowed C strings). Sorted by
 * eni, src, dst (numerically), port, proto, action, direction. Caller owns *ret_flows (fsg_free;
 * NULL when *ret_n == 0). Flushes first. FSG_E_NOMEM (FSG_E_LIMIT from the flush). */
enum fsg_err fsg_aggregate_result(struct fsg_aggregate *agg, enum fsg_direction_filter filter,
                                  const char *const *enis, size_t n_enis,
                                  struct fsg_flow **ret_flows, size_t *ret_n,
                                  struct fsg_error *err) FSG_MUST_USE;

/* The same flow table, one row at a time, in the same order, in memory bounded by the budget:
 * without runs on disk and when the table is small, from fsg_aggregate_result's array; otherwise
 * the tables are spilled and the runs merged (each ENI's own address learned in passes over the
 * runs first). The aggregator must outlive the iterator and not change meanwhile.
 *     struct fsg_flow_iter *it; const struct fsg_flow *f;
 *     rc = fsg_aggregate_flows_open(agg, filter, enis, n_enis, &it, err);
 *     while (rc == FSG_OK && (rc = fsg_aggregate_flows_next(it, &f, err)) == FSG_OK && f != NULL)
 *         ...
 *     fsg_aggregate_flows_close(it);
 * FSG_E_NOMEM, FSG_E_IO, FSG_E_LIMIT (from the flush). */
struct fsg_flow_iter;
enum fsg_err fsg_aggregate_flows_open(struct fsg_aggregate *agg, enum fsg_direction_filter filter,
                                      const char *const *enis, size_t n_enis,
                                      struct fsg_flow_iter **ret_it,
                                      struct fsg_error *err) FSG_MUST_USE;
/* The next flow (borrowed until the next call), or NULL at the end. */
enum fsg_err fsg_aggregate_flows_next(struct fsg_flow_iter *it, const struct fsg_flow **ret_flow,
                                      struct fsg_error *err) FSG_MUST_USE;
void fsg_aggregate_flows_close(struct fsg_flow_iter *it); /* NULL ok */

/* Order of fsg_aggregate_result (for callers that sort or merge tables themselves). */
int fsg_flow_cmp(const struct fsg_flow *a, const struct fsg_flow *b);

#endif
