#include "flowlogs/rollup.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "flowlogs/s3_source.h"
#include "lib/core/crypto.h"
#include "lib/core/mem.h"

#define S_DAY_S 86400

bool fsg_rollup_day(const char *key, int64_t *ret_day_s, size_t *ret_dir_len)
{
    int64_t start, end;
    if (key == NULL || !fsg_s3_key_time(key, &start, &end)) {
        return false;
    }
    /* floor division: keys are >= 1970, but keep it right for any value */
    int64_t day = start / S_DAY_S - (start % S_DAY_S < 0 ? 1 : 0);
    *ret_day_s = day * S_DAY_S;
    const char *slash = strrchr(key, '/');
    *ret_dir_len = slash != NULL ? (size_t)(slash - key) + 1 : 0;
    return true;
}

enum fsg_err fsg_rollup_members_hash(const char *const *keys, const char *const *etags, size_t n,
                                     const char *fingerprint, char out[65])
{
    struct fsg_buf all = FSG_BUF_INIT;
    /* each field length-prefixed: a key may hold any byte, '\n' included */
    const char *fp = fingerprint != NULL ? fingerprint : "";
    enum fsg_err rc = fsg_buf_printf(&all, "flowseg day rollup 1\n%zu:%s\n", strlen(fp), fp);
    for (size_t i = 0; rc == FSG_OK && i < n; i++) {
        const char *etag = etags[i] != NULL ? etags[i] : "";
        rc = fsg_buf_printf(&all, "%zu:%s\n%zu:%s\n", strlen(keys[i]), keys[i], strlen(etag),
                            etag);
    }
    rc = rc != FSG_OK ? rc : fsg_sha256_hex((struct fsg_span){ all.ptr, all.len }, out, NULL);
    fsg_buf_clean_up(&all);
    return rc;
}

enum fsg_err fsg_rollup_key(const char *prefix, const char *bucket, const char *dir,
                            size_t dir_len, int64_t day_s, const char *members_hash,
                            const char *fingerprint, struct fsg_buf *out)
{
    time_t t = (time_t)day_s;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        return FSG_E_INVALID_ARG;
    }
    return fsg_buf_printf(out, "%s%s/%.*sflowseg-day-%04d%02d%02d.%.32s.%.16s.fsum-day.json.gz",
                          prefix, bucket, (int)dir_len, dir, tm.tm_year + 1900, tm.tm_mon + 1,
                          tm.tm_mday, members_hash,
                          fingerprint != NULL && fingerprint[0] != '\0' ? fingerprint : "-");
}

bool fsg_rollup_day_writable(int64_t day_s, int64_t now_s, int64_t since_s, int64_t until_s)
{
    int64_t end = day_s + S_DAY_S;
    return end + FSG_ROLLUP_SETTLE_S <= now_s &&
           (since_s == FSG_S3_TIME_NONE || since_s <= day_s) &&
           (until_s == FSG_S3_TIME_NONE || until_s >= end);
}

/* ---- the accumulator ------------------------------------------------------------------------ */

struct fsg_rollup_acc {
    struct fsg_aggregate *agg;
    size_t max_bytes;
    const char *const *enis;
    size_t n_enis;
};

enum fsg_err fsg_rollup_acc_new(size_t max_bytes, const char *const *enis, size_t n_enis,
                                struct fsg_rollup_acc **ret)
{
    struct fsg_rollup_acc *a = fsg_calloc(1, sizeof *a);
    if (a == NULL || fsg_aggregate_new(NULL, &a->agg, NULL) != FSG_OK) {
        fsg_free(a);
        return FSG_E_NOMEM;
    }
    a->max_bytes = max_bytes != 0 ? max_bytes : FSG_ROLLUP_MAX_BYTES;
    a->enis = enis;
    a->n_enis = n_enis;
    *ret = a;
    return FSG_OK;
}

void fsg_rollup_acc_destroy(struct fsg_rollup_acc *acc)
{
    if (acc != NULL) {
        fsg_aggregate_destroy(acc->agg);
        fsg_free(acc);
    }
}

static bool s_add_row(struct fsg_rollup_acc *a, const struct fsg_agg_row *r)
{
    return !fsg_eni_selected(r->eni, a->enis, a->n_enis) || (fsg_aggregate_add_row(a->agg, r, NULL) == FSG_OK &&
                                  fsg_aggregate_table_bytes(a->agg) <= a->max_bytes);
}

bool fsg_rollup_acc_add_summary(struct fsg_rollup_acc *acc, const struct fsg_summary *sum)
{
    for (size_t i = 0; i < sum->n_rows; i++) {
        if (!s_add_row(acc, &sum->rows[i])) {
            return false;
        }
    }
    fsg_aggregate_add_counts(acc->agg, &sum->stats);
    return true;
}

bool fsg_rollup_acc_add_table(struct fsg_rollup_acc *acc, const struct fsg_aggregate *table)
{
    size_t n = fsg_aggregate_entries(table);
    for (size_t i = 0; i < n; i++) {
        struct fsg_agg_row r;
        fsg_aggregate_row(table, i, &r);
        if (!s_add_row(acc, &r)) {
            return false;
        }
    }
    fsg_aggregate_add_counts(acc->agg, fsg_aggregate_stats(table));
    return true;
}

enum fsg_err fsg_rollup_acc_encode(struct fsg_rollup_acc *acc, const char *source,
                                   const char *members_hash, const char *fingerprint,
                                   struct fsg_buf *out, struct fsg_error *err)
{
    enum fsg_err rc = fsg_aggregate_flush(acc->agg, err);
    return rc != FSG_OK ? rc
                        : fsg_summary_encode(acc->agg, acc->enis, acc->n_enis, source,
                                             members_hash, fingerprint, out, err);
}
