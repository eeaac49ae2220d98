/* Day rollups of flow summaries: the summaries (flowlogs/summary.h) of one day's objects in one
 * S3 "directory", merged into one summary of the same format, so that a month of five-minute
 * objects costs about 30 reads per plan instead of 8,640.
 *
 * A rollup is named by exactly the objects it merges: the SHA-256 of their keys and ETags (and
 * the summary fingerprint) is part of its key, so a late object, a rewritten one (new ETag), a
 * deleted one or another --since/--until or key_regex selection gives another name, and the
 * rollup is simply not found (the members are read, each from its own summary or in full). A
 * rollup is only written for a day that is over (and FSG_ROLLUP_SETTLE_S more, for late
 * deliveries) and that the time window covers whole: a rollup that later stops matching costs
 * one unused object, never a wrong row. The member hash is also in the rollup's header ("etag")
 * and checked on read.
 *
 *     <summaries prefix><bucket>/<dir>flowseg-day-YYYYMMDD.<hash>.<fp>.fsum-day.json.gz
 *
 * with <hash> the first 32 hex digits of the members' hash and <fp> the first 16 of the
 * fingerprint.
 *
 * <dir> is the members' key up to and including the last '/', so the rollup is listed with the
 * per-object summaries of the same prefix; the ".fsum-day.json.gz" suffix can never be a
 * per-object summary's (those end in ".fsum.json.gz"). */
#ifndef FSG_FLOWLOGS_ROLLUP_H
#define FSG_FLOWLOGS_ROLLUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowlogs/aggregate.h"
#include "flowlogs/summary.h"
#include "lib/core/buf.h"
#include "lib/core/error.h"

/* Fewer members than this are not rolled up (one object is its own summary). */
#define FSG_ROLLUP_MIN_MEMBERS 2
/* A day's rollup is written once the day ended this long ago (flow-log objects are delivered
 * minutes after their window; a later one only changes the rollup's name). */
#define FSG_ROLLUP_SETTLE_S 3600
/* A rollup whose merged rows would take more memory than this is not made (its members are
 * still read; only the shortcut is lost). */
#define FSG_ROLLUP_MAX_BYTES ((size_t)16 << 20)

/* The UTC day (its start, seconds) of a flow-log key (flowlogs/s3_source.h fsg_s3_key_time: the
 * file name's window, else the directory date) and the length of its directory part (up to and
 * including the last '/'; 0 when none). False when the key holds no date. */
bool fsg_rollup_day(const char *key, int64_t *ret_day_s, size_t *ret_dir_len);

/* The members' hash: SHA-256 (64 hex) of the fingerprint, then each key and its ETag in key
 * order, every field length-prefixed (keys[] must be sorted and distinct; etags as listed,
 * quotes included). FSG_E_NOMEM. */
enum fsg_err fsg_rollup_members_hash(const char *const *keys, const char *const *etags, size_t n,
                                     const char *fingerprint, char out[65]) FSG_MUST_USE;

/* The rollup's key (see above), appended to out. dir is [dir, dir + dir_len). FSG_E_NOMEM. */
enum fsg_err fsg_rollup_key(const char *prefix, const char *bucket, const char *dir,
                            size_t dir_len, int64_t day_s, const char *members_hash,
                            const char *fingerprint, struct fsg_buf *out) FSG_MUST_USE;

/* Whether a day's rollup may be written now: the day ended FSG_ROLLUP_SETTLE_S before now_s,
 * and the window [since_s, until_s) (FSG_S3_TIME_NONE = open) holds the whole day. */
bool fsg_rollup_day_writable(int64_t day_s, int64_t now_s, int64_t since_s, int64_t until_s);

/* The merge of a day's members while they are read. Not thread-safe (the caller locks). */
struct fsg_rollup_acc;

/* An empty one keeping the rows of enis[0..n_enis) (every row when 0; borrowed) up to max_bytes
 * of table (0 = FSG_ROLLUP_MAX_BYTES). FSG_E_NOMEM. */
enum fsg_err fsg_rollup_acc_new(size_t max_bytes, const char *const *enis, size_t n_enis,
                                struct fsg_rollup_acc **ret) FSG_MUST_USE;
void fsg_rollup_acc_destroy(struct fsg_rollup_acc *acc); /* NULL ok */

/* One member: its rows and counters (from its summary), or its table (read in full). False when
 * the rollup cannot be made (too many rows, no memory): destroy it. */
bool fsg_rollup_acc_add_summary(struct fsg_rollup_acc *acc, const struct fsg_summary *sum);
bool fsg_rollup_acc_add_table(struct fsg_rollup_acc *acc, const struct fsg_aggregate *table);

/* The rollup (gzip'd summary JSON, its "etag" the members' hash) appended to out. FSG_E_NOMEM. */
enum fsg_err fsg_rollup_acc_encode(struct fsg_rollup_acc *acc, const char *source,
                                   const char *members_hash, const char *fingerprint,
                                   struct fsg_buf *out, struct fsg_error *err) FSG_MUST_USE;

#endif
