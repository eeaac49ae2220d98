/* S3 sources of flow-log objects for flowlogs/source.h's runner:
 *   s3://bucket/key      that one object;
 *   s3://bucket/prefix/  every object below the prefix (trailing slash; "s3://bucket/" is the
 *                        whole bucket), listed with ListObjectsV2 and filtered by the config's
 *                        key regex (PCRE2) and a --since/--until time window matched against the
 *                        date in the key (aws-wire.md §1.7: .../yyyy/mm/dd/..., Hive
 *                        year=/month=/day=, and the file name's YYYYMMDDTHHmmZ).
 * Each object's run() streams GetObject straight into the object reader (fsg_reader_feed from the
 * body callback), and a dropped connection is resumed with a Range request (lib/aws/s3.h); small
 * listed objects are fetched ahead, many at a time, within a fixed memory budget (see
 * max_inflight below). Parquet objects are refused with a clear error.
 *
 * Filters apply to listed keys only: a key named in full is read as asked. */
#ifndef FSG_FLOWLOGS_S3_SOURCE_H
#define FSG_FLOWLOGS_S3_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowlogs/source.h"
#include "lib/core/error.h"

struct fsg_aws_client_options;

/* No bound on that side of the time window. */
#define FSG_S3_TIME_NONE INT64_MIN

struct fsg_s3_source_options {
    const char *region;     /* config "region"; NULL = AWS_REGION, AWS_DEFAULT_REGION, profile */
    const char *key_regex;  /* config flowlogs.key_regex (PCRE2, unanchored, over the whole key);
                             * NULL or "" = every key */
    int64_t since_s;        /* keep listed objects whose key time ends after this (Unix s);
                             * FSG_S3_TIME_NONE = no lower bound */
    int64_t until_s;        /* ... and starts before this (exclusive); FSG_S3_TIME_NONE = none */
    unsigned max_keys;      /* ListObjectsV2 page size; 0 = 1000 */
    /* Objects listed with a size of at most 8 MiB are fetched ahead in list order, up to
     * max_inflight GETs at a time (0 = 32), holding at most prefetch_bytes in memory (0 = 24
     * MiB), and decoded from memory by the runner's workers: S3's first-byte latency is hidden
     * behind the other GETs. Larger objects, and keys named in full, stream into the reader as
     * they arrive. Off when `aws` shares one http client. */
    unsigned max_inflight;
    uint64_t prefetch_bytes;
    /* Per-object flow summaries (flowlogs/summary.h), config flowlogs.summaries:
     * "s3://bucket/prefix/", NULL = none. Listing a prefix lists the summaries below
     * <prefix><source bucket>/<source prefix> once; an object whose key and ETag have a summary
     * made under `summary_fingerprint` is read from it instead; any other object read well gets
     * its summary written (a failure to write is a warning). */
    const char *summaries_url;
    const char *summary_fingerprint;
    /* The interfaces a summary keeps (the run's ENI filter; borrowed, must outlive the source);
     * n_summary_enis 0 = every interface. Part of what the fingerprint must name. */
    const char *const *summary_enis;
    size_t n_summary_enis;
    /* Day rollups of the summaries (flowlogs/rollup.h), with summaries on: read and made unless
     * no_rollups; a rollup is made only while its merged rows take at most rollup_max_bytes of
     * table (0 = FSG_ROLLUP_MAX_BYTES); reading one takes about three times that, briefly. */
    bool no_rollups;
    size_t rollup_max_bytes;
    /* Optional template of the S3 clients (endpoint, credentials, retry, clock; tests use it to
     * script the transport). service and region are set here. Its `http` client, if any, is
     * shared by every object: only for runs with one job. Borrowed during new() only; what it
     * points to must outlive the source. */
    const struct fsg_aws_client_options *aws;
};

struct fsg_s3_source;

/* Caller owns *ret (fsg_s3_source_destroy, after the run is over). Resolves region, endpoint
 * and credentials source now, so configuration errors show before anything is read.
 * FSG_E_INVALID_ARG for a bad key regex (the message gives PCRE2's reason and offset). */
enum fsg_err fsg_s3_source_new(const struct fsg_s3_source_options *opts,
                               struct fsg_s3_source **ret, struct fsg_error *err) FSG_MUST_USE;
void fsg_s3_source_destroy(struct fsg_s3_source *s); /* NULL ok */

/* Whether arg names an S3 source ("s3://..."). */
bool fsg_s3_source_is_url(const char *arg);

/* Expands one s3:// argument into objects appended to *objects (grown with fsg_reallocarray; the
 * caller owns the array, s owns what its entries point to, until fsg_s3_source_destroy). Each
 * object's name is "s3://bucket/key" and its run() reads the object; default_eni is left NULL.
 * A listed Parquet object becomes an object whose run() fails with FSG_E_REJECTED, so it is
 * reported with the run's other failed objects; a Parquet key named in full fails here.
 * FSG_E_INVALID_ARG for a malformed URL; listing errors (FSG_E_NOT_FOUND naming the bucket,
 * FSG_E_AUTH, ...) otherwise. Not thread-safe: expand before running. */
enum fsg_err fsg_s3_source_expand(struct fsg_s3_source *s, const char *url,
                                  struct fsg_object **objects, size_t *n_objects,
                                  struct fsg_error *err) FSG_MUST_USE;

/* What the last expand() did with listed keys (for a summary line). */
struct fsg_s3_source_counts {
    size_t listed;        /* keys listed */
    size_t kept;          /* objects added */
    size_t folders;       /* zero-byte "folder/" keys skipped */
    size_t regex_skipped; /* not matching key_regex */
    size_t time_skipped;  /* outside --since/--until, or without a date while a bound is set */
};
void fsg_s3_source_counts(const struct fsg_s3_source *s, struct fsg_s3_source_counts *ret);

/* --since / --until values (UTC): "YYYY-MM-DD", or "YYYY-MM-DDTHH:MM[:SS][Z]". For an upper
 * bound (is_until), a date means the end of that day and a time is inclusive; the result is the
 * exclusive bound. FSG_E_INVALID_ARG for anything else. */
enum fsg_err fsg_s3_parse_time_bound(const char *s, bool is_until, int64_t *ret_s,
                                     struct fsg_error *err) FSG_MUST_USE;

/* The time span [start, end) a flow-log key names: the file name's YYYYMMDDTHHmmZ (a 5-minute
 * window), else the directory date (.../yyyy/mm/dd/[HH/] or year=/month=/day=/[hour=]) as a day
 * (or an hour). False when the key holds no date. */
bool fsg_s3_key_time(const char *key, int64_t *ret_start_s, int64_t *ret_end_s);

#endif
