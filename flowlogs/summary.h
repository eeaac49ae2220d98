/* Per-object flow summaries: the aggregated rows of one flow-log object (flowlogs/aggregate.h's
 * fsg_agg_row, kept before directions are decided, so that summaries merge exactly: records,
 * packets and bytes add, first/last take min/max) and its decoder counters, written as gzip'd
 * JSON Lines, keyed by the source object's key and ETag: processing the object again writes the
 * same key with the same content (idempotent). The first line is the header, then one line per
 * row (a month of five-minute summaries is millions of rows: each line is read by a small
 * parser of exactly this shape, with jansson as the fallback for anything unusual):
 *
 *     {"flowseg_summary": 1, "source": "s3://bucket/key", "etag": "\"9b2c...\"",
 *      "fingerprint": "<hex>", "stats": {"bytes_in": N, "lines": N, "records": N, "nodata": N,
 *      "skipdata": N, "malformed": N}, "rows": N}
 *     ["eni-...", "10.0.1.5", "10.0.20.11", 5432, 6, ACTION, RDIR, records, packets, bytes,
 *      first|null, last|null]
 *     ...
 *
 * ACTION is enum fsg_flow_action (0 ACCEPT, 1 REJECT, 2 unknown), RDIR enum fsg_rdir (0 unknown,
 * 1 arriving, 2 leaving). "rows" counts the row lines (a cut summary is refused). The
 * fingerprint names what else shaped the rows (the config's ENI addresses and database ports,
 * the interfaces kept, the configured format): a summary made under another fingerprint is not
 * used (the raw object is read instead). */
#ifndef FSG_FLOWLOGS_SUMMARY_H
#define FSG_FLOWLOGS_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "flowlogs/aggregate.h"
#include "lib/core/buf.h"
#include "lib/core/error.h"

/* The format's version, in every summary. */
#define FSG_SUMMARY_VERSION 1
/* Largest summary read (compressed and inflated): bigger ones are refused (FSG_E_LIMIT). */
#define FSG_SUMMARY_MAX_BYTES ((size_t)256 << 20)

/* Writes the summary of agg (its rows of the interfaces in enis[0..n_enis), every row when
 * n_enis is 0; its counters as stats) as gzip'd JSON into out (appended). source, etag and
 * fingerprint are copied in. FSG_E_NOMEM. */
enum fsg_err fsg_summary_encode(const struct fsg_aggregate *agg, const char *const *enis,
                                size_t n_enis, const char *source, const char *etag,
                                const char *fingerprint, struct fsg_buf *out,
                                struct fsg_error *err) FSG_MUST_USE;

/* A decoded summary. Caller cleans up with fsg_summary_clean_up. */
struct fsg_summary {
    struct fsg_agg_row *rows;
    size_t n_rows;
    struct fsg_flow_stats stats; /* objects = 0 */
    char etag[130]; /* the header's "etag" (the source's ETag; a day rollup's members hash) */
};

/* Decodes gzip'd (or plain) summary JSON. Every row is checked before any is returned (an
 * "etag" longer than 129 bytes is refused).
 * FSG_E_PARSE (not a summary, a bad row: the message says which), FSG_E_REJECTED (another
 * version, or a fingerprint other than `fingerprint`), FSG_E_LIMIT, FSG_E_NOMEM. */
enum fsg_err fsg_summary_decode(struct fsg_span in, const char *fingerprint,
                                struct fsg_summary *ret, struct fsg_error *err) FSG_MUST_USE;

void fsg_summary_clean_up(struct fsg_summary *s); /* idempotent */

/* The summary's key for a source object: "<prefix><bucket>/<key>.<etag>.<fp>.fsum.json.gz", with
 * the ETag's quotes dropped and any character but [0-9A-Za-z-] replaced by '_', and <fp> the
 * first 16 characters of the fingerprint: a summary made under another configuration is then
 * simply not found (the object is read and a summary for this configuration written), instead
 * of being fetched and refused on every read. prefix ends with '/' or is empty. FSG_E_NOMEM. */
enum fsg_err fsg_summary_key(const char *prefix, const char *bucket, const char *key,
                             const char *etag, const char *fingerprint,
                             struct fsg_buf *out) FSG_MUST_USE;

/* The fingerprint of what shapes a summary's rows besides the object: the ENI hints (addresses,
 * database ports; any order), the interfaces it keeps (enis; n_enis 0 = all) and the configured
 * header-less format (NULL = the default), as 64 hex characters. FSG_E_NOMEM. */
enum fsg_err fsg_summary_fingerprint(const struct fsg_eni_hint *hints, size_t n_hints,
                                     const char *const *enis, size_t n_enis, const char *format,
                                     char out[65]) FSG_MUST_USE;

#endif
