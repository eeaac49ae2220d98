/* Per-ENI aggregation of flow-log records into the flow table of lib/core/flow.h.
 *
 * While records stream in, each request-leg record is keyed by (eni, initiator, responder,
 * responder port, protocol, action, record direction) in an open-addressing table (lib/core/hash.h:
 * 16-byte keys when both addresses are IPv4, 40-byte keys otherwise) and its
 * records/packets/bytes/first/last folded in; ENI ids are interned. Response legs (return
 * traffic) are counted in no direction and dropped right away. Which connections are ingress
 * or egress is decided at the end (fsg_aggregate_result), when every ENI's own address can be
 * learned from all its records (flowlogs/direction.h). Memory is bounded by the number of distinct
 * keys, never by the input size.
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
 * hold part of src. */
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
 * entry it changes (no per-object table to allocate, clear or merge). rollback() outside an
 * object does nothing. */
void fsg_aggregate_begin(struct fsg_aggregate *agg);
enum fsg_err fsg_aggregate_commit(struct fsg_aggregate *agg, struct fsg_error *err) FSG_MUST_USE;
void fsg_aggregate_rollback(struct fsg_aggregate *agg);

/* Drops every entry and counter, keeping memory and hints (to reuse a per-object aggregator). */
void fsg_aggregate_clear(struct fsg_aggregate *agg);

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

/* Order of fsg_aggregate_result (for callers that sort or merge tables themselves). */
int fsg_flow_cmp(const struct fsg_flow *a, const struct fsg_flow *b);

#endif
