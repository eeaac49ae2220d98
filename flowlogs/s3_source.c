/* S3 sources: s3:// arguments -> objects for fsg_run_objects, each streamed from GetObject into
 * the object reader. See flowlogs/s3_source.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "flowlogs/s3_source.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/aws/aws.h"
#include "lib/aws/creds.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"
#include "lib/aws/s3.h"
#include "flowlogs/rollup.h"
#include "flowlogs/summary.h"

/* The file name's timestamp names a 5-minute publication window (aws-wire.md §1.7). */
#define S_FILE_WINDOW_S 300
#define S_DAY_S 86400
#define S_HOUR_S 3600

/* Prefetching (S3 latency hidden): objects listed with a size of at most S_PREFETCH_MAX are
 * fetched ahead, in list order, by up to max_inflight threads into memory, within a fixed
 * budget of bytes; the runner's workers (the decoders) then read them from memory. Larger
 * objects, and keys named in full (size unknown), stream from GetObject into the reader. */
#define S_DEFAULT_INFLIGHT 32
#define S_DEFAULT_PREFETCH_BYTES ((uint64_t)24 << 20)
#define S_PREFETCH_MAX ((uint64_t)8 << 20)
/* Summaries and rollups are encoded by the decoder that read the object, then PUT by a few
 * threads of their own, so S3's latency never stalls decoding; about S_PUT_QUEUE_BYTES wait
 * (a decoder waits for room beyond that; one larger body is taken when none waits). The source's destruction waits for every PUT. With a
 * shared scripted transport (no prefetching) they are PUT on the spot. */
#define S_PUT_THREADS 8
#define S_PUT_QUEUE_BYTES ((uint64_t)4 << 20)
/* Memory-held objects are fed to the reader in chunks of this size (progress sees each). */
#define S_FEED_CHUNK ((size_t)1 << 20)

enum s_fetch_state { S_FETCH_NONE = 0, S_FETCH_WAITING, S_FETCH_DONE };

struct s_sum {
    char *key;
    uint64_t size;
};

/* Day rollups (flowlogs/rollup.h). A group's rollup is read by the first of its objects a
 * worker takes (workers take objects in list order, so whoever waits waits for one that
 * runs); the others then read nothing. */
enum s_group_state {
    S_GROUP_UNTRIED = 0,
    S_GROUP_READING, /* a member is reading it */
    S_GROUP_USED,    /* folded: the members read nothing */
    S_GROUP_FAILED,  /* not usable: each member is read itself */
    S_GROUP_BROKEN,  /* read but its rows could not be added: every member fails */
};

struct s_obj;
struct s_put;

/* One day's objects of one directory, listed with their ETags. */
struct s_group {
    char *key;         /* the rollup's key in the summaries bucket */
    char *source;      /* "s3://bucket/dir/ (day YYYY-MM-DD, N objects)" */
    char hash[65];     /* the members' hash */
    size_t n_members;
    bool exists;       /* listed: read instead of the members */
    uint64_t size;     /* its listed size */
    struct s_obj *pf;  /* its prefetch (not a runner object); NULL = fetched when claimed */
    /* under src->grp_lock: */
    enum s_group_state state;
    bool collect;      /* the rollup is (re)made from its members' rows as they are read */
    struct fsg_rollup_acc *acc; /* those rows (made with the first) */
    size_t n_finished;
};

/* A listed key waiting for the listing to end (rollups need the whole day). */
struct s_pending {
    char *key;
    char etag[128];
    uint64_t size;
    int64_t day;
    size_t dir_len;
    bool dated;
    struct s_group *group;
};

/* One object to read. Owned by the source; its address is the fsg_object's ctx. */
struct s_obj {
    struct fsg_s3_source *src;
    char *bucket;
    char *key;
    char *name;   /* "s3://bucket/key" */
    bool parquet;
    uint64_t size;     /* listed size; 0 = unknown */
    char etag[128];    /* listed ETag (quoted), or the one GetObject saw; "" = unknown */
    char *summary_key; /* an existing summary read instead of the object; NULL = none */
    uint64_t fetch_size; /* what prefetching it holds: the summary's size, else the object's */
    long prefetch_seq; /* place among prefetched objects, -1 = streamed */
    struct s_group *group; /* its day's rollup, NULL = none */
    bool via_rollup;       /* read through its group's rollup: nothing of its own */
    bool claimed;          /* it read its group's rollup: the group's state waits for its end */
    bool contributed;      /* its rows went into its group's rollup being made */
    bool summary_used;     /* read from its own summary (nothing to write) */
    bool etag_changed;     /* GetObject answered another ETag than the listing: the rows are
                            * another version's, no summary or rollup is made of them */
    /* under src->pf_lock: */
    enum s_fetch_state state;
    struct fsg_buf body;
    enum fsg_err rc;
    struct fsg_error *err; /* the fetch's error; NULL when it worked (or no memory was left) */
};

struct fsg_s3_source {
    struct fsg_aws_client_options tmpl; /* for pooled clients; the strings below own its text */
    char *region;
    char *endpoint;
    struct fsg_creds_provider *creds;   /* owned when we made it */
    pthread_mutex_t lock;               /* guards idle[] */
    struct fsg_aws_client **idle;
    size_t n_idle;
    size_t cap_idle;
    pcre2_code *re;
    pcre2_match_data *md;
    int64_t since_s;
    int64_t until_s;
    unsigned max_keys;
    struct s_obj **objs;
    size_t n_objs;
    size_t cap_objs;
    struct fsg_s3_source_counts counts;
    /* prefetching (see S_PREFETCH_MAX) */
    bool can_prefetch;        /* off when the caller shares one scripted transport */
    unsigned max_inflight;
    uint64_t pf_budget;
    struct s_obj **pf;        /* prefetched objects in list order */
    size_t n_pf, cap_pf;
    pthread_mutex_t pf_lock;
    pthread_cond_t pf_cv;
    pthread_t *pf_threads;
    size_t n_pf_threads;
    bool pf_started;
    bool pf_stop;
    size_t pf_next;           /* next object a fetcher takes */
    size_t pf_turn;           /* next object allowed to reserve budget */
    uint64_t pf_used;         /* bytes reserved by fetched or fetching objects */
    /* flow summaries (flowlogs/summary.h): read where they exist, written where they don't */
    char *sum_bucket;         /* NULL = off */
    char *sum_prefix;         /* "" or ending with '/' */
    char *fingerprint;
    const char *const *sum_enis; /* borrowed: the interfaces a summary keeps; 0 = all */
    size_t n_sum_enis;
    bool rollups;
    size_t rollup_max_bytes;
    struct s_sum *sum_keys;   /* the summaries under this expand()'s prefix, sorted */
    size_t n_sum_keys, cap_sum_keys;
    struct s_pending *pend;   /* this expand()'s listed keys (with summaries on) */
    size_t n_pend, cap_pend;
    struct s_group **groups;
    size_t n_groups, cap_groups;
    pthread_mutex_t grp_lock;
    pthread_cond_t grp_cv;
    /* summaries and rollups being written (s_put) */
    pthread_mutex_t put_lock;
    pthread_cond_t put_cv;
    struct s_put *put_head, *put_tail;
    uint64_t put_bytes;
    pthread_t put_threads[S_PUT_THREADS];
    size_t n_put_threads;
    bool put_stop;
};

static void s_contribute(struct s_obj *o, const struct fsg_summary *sum,
                         const struct fsg_aggregate *table);

/* ---- key dates --------------------------------------------------------------------------------- */

/* n decimal digits at p; -1 when any is not a digit. */
static int s_digits(const char *p, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* UTC time of a calendar date; false when the fields are out of range (Feb 30 included). */
static bool s_utc(int y, int mo, int d, int h, int mi, int s, int64_t *ret)
{
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || s < 0 || s > 59) {
        return false;
    }
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                     .tm_min = mi, .tm_sec = s };
    time_t t = timegm(&tm);
    if (tm.tm_mday != d || tm.tm_mon != mo - 1) {
        return false; /* timegm normalised an impossible day */
    }
    *ret = (int64_t)t;
    return true;
}

/* "..._20180620T1620Z_..." in the last path segment. */
static bool s_file_time(const char *base, int64_t *ret)
{
    size_t n = strlen(base);
    for (size_t i = 8; i + 5 < n; i++) {
        if (base[i] != 'T' || base[i + 5] != 'Z') {
            continue;
        }
        int date = s_digits(base + i - 8, 8), hm = s_digits(base + i + 1, 4);
        if (date >= 0 && hm >= 0 &&
            s_utc(date / 10000, date / 100 % 100, date % 100, hm / 100, hm % 100, 0, ret)) {
            return true;
        }
    }
    return false;
}

/* Segment [p, p+len) is exactly `name=` followed by `digits` digits: the number, else -1. */
static int s_hive(const char *p, size_t len, const char *name, size_t digits)
{
    size_t n = strlen(name);
    if (len != n + 1 + digits || strncmp(p, name, n) != 0 || p[n] != '=') {
        return -1;
    }
    return s_digits(p + n + 1, digits);
}

struct s_seg {
    const char *p;
    size_t len;
};

static int s_seg_num(const struct s_seg *s, size_t digits)
{
    return s->len == digits ? s_digits(s->p, digits) : -1;
}

/* Directory date of segs[0..n) (the file name excluded): yyyy/mm/dd[/HH] or Hive
 * year=/month=/day=[/hour=]. *ret_len is a day or an hour. */
static bool s_dir_time(const struct s_seg *segs, size_t n, int64_t *ret, int64_t *ret_len)
{
    for (size_t i = 0; i + 3 <= n; i++) {
        int y = s_seg_num(&segs[i], 4), m = s_seg_num(&segs[i + 1], 2);
        int d = s_seg_num(&segs[i + 2], 2);
        int h = i + 3 < n ? s_seg_num(&segs[i + 3], 2) : -1;
        if (y < 0 || m < 0 || d < 0) {
            y = s_hive(segs[i].p, segs[i].len, "year", 4);
            m = s_hive(segs[i + 1].p, segs[i + 1].len, "month", 2);
            d = s_hive(segs[i + 2].p, segs[i + 2].len, "day", 2);
            h = i + 3 < n ? s_hive(segs[i + 3].p, segs[i + 3].len, "hour", 2) : -1;
        }
        if (y >= 0 && m >= 0 && d >= 0 && s_utc(y, m, d, h >= 0 && h < 24 ? h : 0, 0, 0, ret)) {
            *ret_len = h >= 0 && h < 24 ? S_HOUR_S : S_DAY_S;
            return true;
        }
    }
    return false;
}

bool fsg_s3_key_time(const char *key, int64_t *ret_start_s, int64_t *ret_end_s)
{
    const char *slash = strrchr(key, '/');
    const char *base = slash != NULL ? slash + 1 : key;
    int64_t t;
    if (s_file_time(base, &t)) {
        *ret_start_s = t;
        *ret_end_s = t + S_FILE_WINDOW_S;
        return true;
    }
    /* Directory segments, at most the first 64 (flow-log layouts have about 10). */
    struct s_seg segs[64];
    size_t n = 0;
    for (const char *p = key; p < base && n < 64;) {
        const char *e = strchr(p, '/');
        segs[n++] = (struct s_seg){ p, (size_t)(e - p) };
        p = e + 1;
    }
    int64_t len;
    if (s_dir_time(segs, n, &t, &len)) {
        *ret_start_s = t;
        *ret_end_s = t + len;
        return true;
    }
    return false;
}

enum fsg_err fsg_s3_parse_time_bound(const char *s, bool is_until, int64_t *ret_s,
                                     struct fsg_error *err)
{
    size_t n = s != NULL ? strlen(s) : 0;
    int y = n >= 10 ? s_digits(s, 4) : -1, mo = n >= 10 ? s_digits(s + 5, 2) : -1;
    int d = n >= 10 ? s_digits(s + 8, 2) : -1, h = 0, mi = 0, sec = 0;
    bool date_only = n == 10;
    bool ok = n >= 10 && s[4] == '-' && s[7] == '-' && y >= 0 && mo >= 0 && d >= 0;
    if (ok && !date_only) {
        /* "THH:MM" then optional ":SS", then optional "Z" */
        size_t rest = n - 10;
        bool z = s[n - 1] == 'Z';
        size_t core = rest - (z ? 1 : 0);
        ok = (core == 6 || core == 9) && s[10] == 'T' && s[13] == ':' &&
             (h = s_digits(s + 11, 2)) >= 0 && (mi = s_digits(s + 14, 2)) >= 0 &&
             (core == 6 || (s[16] == ':' && (sec = s_digits(s + 17, 2)) >= 0));
    }
    int64_t t;
    if (!ok || !s_utc(y, mo, d, h, mi, sec, &t)) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "'%.64s' is not a UTC date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z",
                             s != NULL ? s : "");
    }
    *ret_s = !is_until ? t : (date_only ? t + S_DAY_S : t + 1);
    return FSG_OK;
}

/* ---- the source ---------------------------------------------------------------------------- */

static enum fsg_err s_compile_regex(struct fsg_s3_source *s, const char *pattern,
                                    struct fsg_error *err)
{
    if (pattern == NULL || pattern[0] == '\0') {
        return FSG_OK;
    }
    int code = 0;
    PCRE2_SIZE offset = 0;
    s->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &offset, NULL);
    if (s->re == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "flowlogs.key_regex '%.100s': %s at offset %zu", pattern,
                             (const char *)msg, (size_t)offset);
    }
    s->md = pcre2_match_data_create_from_pattern(s->re, NULL);
    return s->md != NULL ? FSG_OK : fsg_error_set(err, FSG_E_NOMEM, "out of memory");
}

static enum fsg_err s_pool_put(struct fsg_s3_source *s, struct fsg_aws_client *c)
{
    enum fsg_err rc = FSG_OK;
    pthread_mutex_lock(&s->lock);
    if (s->n_idle == s->cap_idle) {
        size_t cap = s->cap_idle == 0 ? 8 : s->cap_idle * 2;
        struct fsg_aws_client **v = fsg_reallocarray(s->idle, cap, sizeof *v);
        if (v == NULL) {
            rc = FSG_E_NOMEM;
        } else {
            s->idle = v;
            s->cap_idle = cap;
        }
    }
    if (rc == FSG_OK) {
        s->idle[s->n_idle++] = c;
    }
    pthread_mutex_unlock(&s->lock);
    if (rc != FSG_OK) {
        fsg_aws_client_destroy(c); /* a pool that cannot grow just forgets the connection */
    }
    return FSG_OK;
}

/* An idle client, or a new one like the first (same region, endpoint, credentials). Clients are
 * used by one thread at a time; the pool keeps their connections alive across objects. */
static enum fsg_err s_pool_get(struct fsg_s3_source *s, struct fsg_aws_client **ret,
                               struct fsg_error *err)
{
    pthread_mutex_lock(&s->lock);
    struct fsg_aws_client *c = s->n_idle > 0 ? s->idle[--s->n_idle] : NULL;
    pthread_mutex_unlock(&s->lock);
    if (c != NULL) {
        *ret = c;
        return FSG_OK;
    }
    return fsg_aws_client_new(&s->tmpl, ret, err);
}

static enum fsg_err s_first_client(struct fsg_s3_source *s, const struct fsg_s3_source_options *o,
                                   struct fsg_error *err)
{
    static const struct fsg_aws_client_options s_none = { 0 };
    s->tmpl = o->aws != NULL ? *o->aws : s_none;
    s->tmpl.service = "s3";
    s->tmpl.region = o->region;
    enum fsg_err rc = FSG_OK;
    if (s->tmpl.creds_fn == NULL && s->tmpl.creds == NULL) {
        /* One provider for every client and thread: credentials are fetched once. */
        struct fsg_creds_options co = { 0 };
        rc = fsg_creds_provider_new_default(&co, &s->creds, err);
        s->tmpl.creds = s->creds;
    }
    struct fsg_aws_client *c = NULL;
    if (rc == FSG_OK) {
        rc = fsg_aws_client_new(&s->tmpl, &c, err);
    }
    if (rc != FSG_OK) {
        return rc;
    }
    /* Later clients reuse what the first one resolved instead of reading the environment. */
    s->region = fsg_strdup(fsg_aws_client_region(c));
    s->endpoint = fsg_strdup(fsg_aws_client_endpoint(c));
    s->tmpl.region = s->region;
    s->tmpl.endpoint_url = s->endpoint;
    s->tmpl.path_style = fsg_aws_client_path_style(c);
    if (s->region == NULL || s->endpoint == NULL) {
        fsg_aws_client_destroy(c);
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    return s_pool_put(s, c);
}

/* "s3://bucket/prefix/" (the prefix may be empty; a missing final '/' is added). */
static enum fsg_err s_summaries_option(struct fsg_s3_source *s, const struct fsg_s3_source_options *o,
                                       struct fsg_error *err)
{
    const char *u = o->summaries_url;
    const char *b = strncmp(u, "s3://", 5) == 0 ? u + 5 : NULL;
    size_t blen = b != NULL ? strcspn(b, "/") : 0;
    if (blen == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "flowlogs.summaries '%.200s' is not "
                             "s3://bucket/prefix/", u);
    }
    const char *p = b[blen] == '/' ? b + blen + 1 : b + blen;
    size_t plen = strlen(p);
    struct fsg_buf prefix = FSG_BUF_INIT;
    s->sum_bucket = fsg_strndup(b, blen);
    s->sum_enis = o->summary_enis;
    s->n_sum_enis = o->n_summary_enis;
    s->rollups = !o->no_rollups;
    s->rollup_max_bytes = o->rollup_max_bytes;
    s->fingerprint = fsg_strdup(o->summary_fingerprint != NULL ? o->summary_fingerprint : "");
    if (s->sum_bucket == NULL || s->fingerprint == NULL ||
        fsg_buf_printf(&prefix, "%s%s", p, plen > 0 && p[plen - 1] != '/' ? "/" : "") != FSG_OK ||
        (s->sum_prefix = fsg_buf_strdup(&prefix)) == NULL) {
        fsg_buf_clean_up(&prefix);
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    fsg_buf_clean_up(&prefix);
    return FSG_OK;
}

enum fsg_err fsg_s3_source_new(const struct fsg_s3_source_options *opts,
                               struct fsg_s3_source **ret, struct fsg_error *err)
{
    static const struct fsg_s3_source_options s_defaults = { .since_s = FSG_S3_TIME_NONE,
                                                               .until_s = FSG_S3_TIME_NONE };
    const struct fsg_s3_source_options *o = opts != NULL ? opts : &s_defaults;
    struct fsg_s3_source *s = fsg_calloc(1, sizeof *s);
    if (s == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->pf_lock, NULL);
    pthread_cond_init(&s->pf_cv, NULL);
    pthread_mutex_init(&s->grp_lock, NULL);
    pthread_cond_init(&s->grp_cv, NULL);
    pthread_mutex_init(&s->put_lock, NULL);
    pthread_cond_init(&s->put_cv, NULL);
    s->can_prefetch = o->aws == NULL || o->aws->http == NULL;
    s->max_inflight = o->max_inflight != 0 ? o->max_inflight : S_DEFAULT_INFLIGHT;
    s->pf_budget = o->prefetch_bytes != 0 ? o->prefetch_bytes : S_DEFAULT_PREFETCH_BYTES;
    s->since_s = o->since_s;
    s->until_s = o->until_s;
    s->max_keys = o->max_keys;
    enum fsg_err rc = s_compile_regex(s, o->key_regex, err);
    if (rc == FSG_OK && o->summaries_url != NULL && o->summaries_url[0] != '\0') {
        rc = s_summaries_option(s, o, err);
    }
    if (rc == FSG_OK) {
        rc = s_first_client(s, o, err);
    }
    if (rc != FSG_OK) {
        fsg_s3_source_destroy(s);
        return rc;
    }
    *ret = s;
    return FSG_OK;
}

/* ---- prefetching --------------------------------------------------------------------------- */

static enum fsg_err s_pool_get(struct fsg_s3_source *s, struct fsg_aws_client **ret,
                               struct fsg_error *err);
static enum fsg_err s_pool_put(struct fsg_s3_source *s, struct fsg_aws_client *c);

static enum fsg_err s_append(struct fsg_span chunk, void *userdata)
{
    return fsg_buf_append_span(userdata, chunk);
}

/* A fetcher: takes the next object in list order, waits for its turn and for room in the
 * budget (reserved in list order, so the object the decoders wait for next is never starved by
 * later ones), then reads it whole (with GetObject's retries and Range resume). */
static void *s_fetcher(void *arg)
{
    struct fsg_s3_source *s = arg;
    pthread_mutex_lock(&s->pf_lock);
    for (;;) {
        if (s->pf_stop || s->pf_next == s->n_pf) {
            break;
        }
        struct s_obj *o = s->pf[s->pf_next++];
        while (!s->pf_stop &&
               (s->pf_turn != (size_t)o->prefetch_seq ||
                s->pf_used + o->fetch_size > s->pf_budget)) {
            pthread_cond_wait(&s->pf_cv, &s->pf_lock);
        }
        if (s->pf_stop) {
            break;
        }
        s->pf_turn++;
        s->pf_used += o->fetch_size;
        pthread_cond_broadcast(&s->pf_cv);
        pthread_mutex_unlock(&s->pf_lock);

        struct fsg_buf body = FSG_BUF_INIT;
        struct fsg_error err = { 0 };
        struct fsg_aws_client *c = NULL;
        bool changed = false;
        enum fsg_err rc = fsg_buf_reserve(&body, (size_t)o->fetch_size);
        if (rc != FSG_OK) {
            fsg_error_set(&err, rc, "out of memory");
        } else if ((rc = s_pool_get(s, &c, &err)) == FSG_OK) {
            struct fsg_s3_get_result res = { 0 };
            /* an object with a summary: the summary is what gets read */
            rc = fsg_s3_get_object(c, o->summary_key != NULL ? s->sum_bucket : o->bucket,
                                   o->summary_key != NULL ? o->summary_key : o->key, NULL,
                                   s_append, &body, &res, &err);
            (void)s_pool_put(s, c);
            changed = rc == FSG_OK && o->summary_key == NULL && o->etag[0] != '\0' &&
                      res.etag[0] != '\0' && strcmp(res.etag, o->etag) != 0;
        }

        pthread_mutex_lock(&s->pf_lock);
        o->body = body;
        o->etag_changed = changed;
        o->rc = rc;
        if (rc != FSG_OK && (o->err = fsg_malloc(sizeof *o->err)) != NULL) {
            *o->err = err;
        }
        o->state = S_FETCH_DONE;
        pthread_cond_broadcast(&s->pf_cv);
    }
    pthread_mutex_unlock(&s->pf_lock);
    return NULL;
}

/* Starts the fetchers on the first read (expand() is over by then). False when none started
 * (the object is then streamed). */
static bool s_prefetch_start(struct fsg_s3_source *s)
{
    pthread_mutex_lock(&s->pf_lock);
    if (!s->pf_started) {
        s->pf_started = true;
        size_t n = s->n_pf < s->max_inflight ? s->n_pf : s->max_inflight;
        s->pf_threads = fsg_calloc(n + 1, sizeof *s->pf_threads);
        for (size_t i = 0; s->pf_threads != NULL && i < n; i++) {
            if (pthread_create(&s->pf_threads[i], NULL, s_fetcher, s) != 0) {
                break;
            }
            s->n_pf_threads++;
        }
    }
    bool ok = s->n_pf_threads > 0;
    pthread_mutex_unlock(&s->pf_lock);
    return ok;
}

static void s_prefetch_stop(struct fsg_s3_source *s)
{
    pthread_mutex_lock(&s->pf_lock);
    s->pf_stop = true;
    pthread_cond_broadcast(&s->pf_cv);
    pthread_mutex_unlock(&s->pf_lock);
    for (size_t i = 0; i < s->n_pf_threads; i++) {
        pthread_join(s->pf_threads[i], NULL);
    }
    fsg_free(s->pf_threads);
    s->pf_threads = NULL;
    s->n_pf_threads = 0;
}

static bool s_fold_summary(struct s_obj *o, struct fsg_reader *reader, struct fsg_span body,
                           enum fsg_err *ret_rc, struct fsg_error *err);

/* Waits for o's prefetch and takes its body, result and error (release the budget after). */
static void s_prefetch_take(struct s_obj *o, struct fsg_buf *ret_body, enum fsg_err *ret_rc,
                            struct fsg_error *ret_err)
{
    struct fsg_s3_source *s = o->src;
    pthread_mutex_lock(&s->pf_lock);
    while (o->state != S_FETCH_DONE) {
        pthread_cond_wait(&s->pf_cv, &s->pf_lock);
    }
    *ret_body = o->body;
    o->body = FSG_BUF_INIT;
    *ret_rc = o->rc;
    *ret_err = o->err != NULL ? *o->err : (struct fsg_error){ 0 };
    pthread_mutex_unlock(&s->pf_lock);
}

/* Its bytes go back to the budget (once taken and used). */
static void s_prefetch_release(struct s_obj *o)
{
    struct fsg_s3_source *s = o->src;
    pthread_mutex_lock(&s->pf_lock);
    s->pf_used -= o->fetch_size;
    pthread_cond_broadcast(&s->pf_cv);
    pthread_mutex_unlock(&s->pf_lock);
}

/* The prefetched object (or its summary), read from memory into the reader; its bytes go back to
 * the budget. False when it was a summary that cannot be used (nothing folded): the caller then
 * reads the object itself. */
static bool s_run_prefetched(struct s_obj *o, struct fsg_reader *reader, enum fsg_err *ret_rc,
                             struct fsg_error *err)
{
    struct fsg_s3_source *s = o->src;
    struct fsg_buf body;
    enum fsg_err rc;
    struct fsg_error fetch_err;
    s_prefetch_take(o, &body, &rc, &fetch_err);

    bool used = true;
    if (o->summary_key != NULL) {
        if (rc != FSG_OK) {
            fsg_log(FSG_LOG_WARN, "%s: flow summary s3://%s/%s not used (%s): reading the object",
                    o->name, s->sum_bucket, o->summary_key, fetch_err.msg);
            used = false;
        } else {
            used = s_fold_summary(o, reader, (struct fsg_span){ body.ptr, body.len }, &rc, err);
        }
    } else if (rc != FSG_OK) {
        if (err != NULL) {
            *err = fetch_err;
        }
    } else {
        const uint8_t *p = body.ptr;
        size_t n = body.len;
        for (size_t off = 0; rc == FSG_OK && off < n; off += S_FEED_CHUNK) {
            size_t len = n - off < S_FEED_CHUNK ? n - off : S_FEED_CHUNK;
            rc = fsg_reader_feed(reader, (struct fsg_span){ p + off, len }, err);
        }
    }
    fsg_buf_clean_up(&body);
    s_prefetch_release(o);
    *ret_rc = rc;
    return used;
}

/* ---- flow summaries ------------------------------------------------------------------------ */

static void s_sum_keys_clear(struct fsg_s3_source *s)
{
    for (size_t i = 0; i < s->n_sum_keys; i++) {
        fsg_free(s->sum_keys[i].key);
    }
    s->n_sum_keys = 0;
}

static enum fsg_err s_on_summary_listed(const struct fsg_s3_object *obj, void *userdata)
{
    struct fsg_s3_source *s = userdata;
    struct s_sum *v =
        fsg_array_grow(s->sum_keys, &s->cap_sum_keys, s->n_sum_keys + 1, sizeof *v, 256);
    if (v == NULL) {
        return FSG_E_NOMEM;
    }
    s->sum_keys = v;
    char *k = fsg_strdup(obj->key);
    if (k == NULL) {
        return FSG_E_NOMEM;
    }
    s->sum_keys[s->n_sum_keys++] = (struct s_sum){ .key = k, .size = obj->size };
    return FSG_OK;
}

static int s_cmp_key(const void *a, const void *b)
{
    return strcmp(((const struct s_sum *)a)->key, ((const struct s_sum *)b)->key);
}

/* The summaries that exist below the summary prefix for bucket/prefix: one listing per
 * expand(), so that a month of objects costs a few listing pages, not a HEAD each. */
static enum fsg_err s_list_summaries(struct fsg_s3_source *s, const char *bucket,
                                     const char *prefix, struct fsg_error *err)
{
    s_sum_keys_clear(s);
    struct fsg_buf p = FSG_BUF_INIT;
    struct fsg_aws_client *c = NULL;
    enum fsg_err rc = fsg_buf_printf(&p, "%s%s/%s", s->sum_prefix, bucket, prefix);
    if (rc != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory");
    } else if ((rc = s_pool_get(s, &c, err)) == FSG_OK) {
        struct fsg_s3_list_options lo = { .prefix = fsg_buf_cstr(&p), .max_keys = s->max_keys };
        rc = fsg_s3_list_objects(c, s->sum_bucket, &lo, s_on_summary_listed, s, err);
        (void)s_pool_put(s, c);
    }
    if (rc == FSG_OK) {
        if (s->n_sum_keys > 0) {
            qsort(s->sum_keys, s->n_sum_keys, sizeof *s->sum_keys, s_cmp_key);
        }
    }
    fsg_buf_clean_up(&p);
    return rc;
}

/* ---- writing summaries and rollups (off the decoders) --------------------------------------- */

struct s_put {
    struct s_put *next;
    char *key;
    char *name;       /* what it summarises, for messages */
    const char *kind; /* "flow summary", "day rollup" */
    const char *then; /* what a failure costs */
    struct fsg_buf body;
};

static void s_put_free(struct s_put *p)
{
    if (p != NULL) {
        fsg_free(p->key);
        fsg_free(p->name);
        fsg_buf_clean_up(&p->body);
        fsg_free(p);
    }
}

static void s_put_now(struct fsg_s3_source *s, struct s_put *p)
{
    struct fsg_error err = { 0 };
    struct fsg_aws_client *c = NULL;
    enum fsg_err rc = s_pool_get(s, &c, &err);
    if (rc == FSG_OK) {
        rc = fsg_s3_put_object(c, s->sum_bucket, p->key,
                               (struct fsg_span){ p->body.ptr, p->body.len }, "application/gzip",
                               &err);
        (void)s_pool_put(s, c);
    }
    if (rc != FSG_OK) {
        fsg_log(FSG_LOG_WARN, "%s: %s not written to s3://%s/%s: %s (%s)", p->name, p->kind,
                s->sum_bucket, p->key, err.msg, p->then);
    } else {
        fsg_log(FSG_LOG_DEBUG, "%s: %s written to s3://%s/%s (%zu bytes)", p->name, p->kind,
                s->sum_bucket, p->key, p->body.len);
    }
}

static void *s_putter(void *arg)
{
    struct fsg_s3_source *s = arg;
    pthread_mutex_lock(&s->put_lock);
    for (;;) {
        while (s->put_head == NULL && !s->put_stop) {
            pthread_cond_wait(&s->put_cv, &s->put_lock);
        }
        struct s_put *p = s->put_head;
        if (p == NULL) {
            break; /* stopping, nothing left */
        }
        s->put_head = p->next;
        s->put_tail = s->put_head != NULL ? s->put_tail : NULL;
        pthread_mutex_unlock(&s->put_lock);
        s_put_now(s, p);
        pthread_mutex_lock(&s->put_lock);
        s->put_bytes -= p->body.len;
        pthread_cond_broadcast(&s->put_cv);
        s_put_free(p);
    }
    pthread_mutex_unlock(&s->put_lock);
    return NULL;
}

/* Hands body (taken: *body is left empty) to the writers; a failure is a warning, as is one of
 * the PUT itself. */
static void s_put(struct fsg_s3_source *s, const char *key, const char *name, const char *kind,
                  const char *then, struct fsg_buf *body)
{
    struct s_put *p = fsg_calloc(1, sizeof *p);
    if (p == NULL || (p->key = fsg_strdup(key)) == NULL || (p->name = fsg_strdup(name)) == NULL) {
        fsg_log(FSG_LOG_WARN, "%s: %s not written: out of memory (%s)", name, kind, then);
        s_put_free(p);
        fsg_buf_clean_up(body);
        return;
    }
    p->kind = kind;
    p->then = then;
    p->body = *body;
    *body = FSG_BUF_INIT;
    if (!s->can_prefetch) {
        s_put_now(s, p);
        s_put_free(p);
        return;
    }
    pthread_mutex_lock(&s->put_lock);
    while (s->put_bytes > 0 && s->put_bytes + p->body.len > S_PUT_QUEUE_BYTES) {
        pthread_cond_wait(&s->put_cv, &s->put_lock);
    }
    if (s->n_put_threads < S_PUT_THREADS && s->put_head != NULL) { /* all busy: one more */
        if (pthread_create(&s->put_threads[s->n_put_threads], NULL, s_putter, s) == 0) {
            s->n_put_threads++;
        }
    }
    if (s->n_put_threads == 0 &&
        pthread_create(&s->put_threads[s->n_put_threads], NULL, s_putter, s) == 0) {
        s->n_put_threads++;
    }
    if (s->n_put_threads == 0) { /* no thread could start: on the spot */
        pthread_mutex_unlock(&s->put_lock);
        s_put_now(s, p);
        s_put_free(p);
        return;
    }
    p->next = NULL;
    if (s->put_tail != NULL) {
        s->put_tail->next = p;
    } else {
        s->put_head = p;
    }
    s->put_tail = p;
    s->put_bytes += p->body.len;
    pthread_cond_broadcast(&s->put_cv);
    pthread_mutex_unlock(&s->put_lock);
}

/* Waits for every PUT handed over, and stops the writers. */
static void s_put_drain(struct fsg_s3_source *s)
{
    pthread_mutex_lock(&s->put_lock);
    s->put_stop = true;
    pthread_cond_broadcast(&s->put_cv);
    pthread_mutex_unlock(&s->put_lock);
    for (size_t i = 0; i < s->n_put_threads; i++) {
        pthread_join(s->put_threads[i], NULL);
    }
    s->n_put_threads = 0;
}

/* After an object was read well: its summary, written under its key and ETag (best effort: a
 * summary that cannot be written is a warning, and the object is read raw next time). */
static void s_write_summary(void *ctx, const struct fsg_aggregate *table)
{
    struct s_obj *o = ctx;
    struct fsg_s3_source *s = o->src;
    if (o->via_rollup || o->summary_used) {
        return; /* its rows came with its day's rollup, or from its summary (given then) */
    }
    if (o->etag_changed) {
        fsg_log(FSG_LOG_INFO, "%s: changed since it was listed (another ETag): no flow summary "
                "written for it", o->name);
        return;
    }
    if (table == NULL) {
        fsg_log(FSG_LOG_INFO, "%s: no flow summary written: its rows do not fit in the memory "
                "budget (--memory)", o->name);
        return;
    }
    s_contribute(o, NULL, table);
    if (o->etag[0] == '\0') {
        fsg_log(FSG_LOG_DEBUG, "%s: no ETag known, no flow summary written", o->name);
        return;
    }
    struct fsg_buf key = FSG_BUF_INIT, body = FSG_BUF_INIT;
    struct fsg_error err = { 0 };
    enum fsg_err rc =
        fsg_summary_key(s->sum_prefix, o->bucket, o->key, o->etag, s->fingerprint, &key);
    if (rc != FSG_OK) {
        fsg_error_set(&err, rc, "out of memory");
    } else {
        rc = fsg_summary_encode(table, s->sum_enis, s->n_sum_enis, o->name, o->etag,
                                s->fingerprint, &body, &err);
    }
    if (rc != FSG_OK) {
        fsg_log(FSG_LOG_WARN, "%s: flow summary not written: %s (the object is read in full "
                "next time)", o->name, err.msg);
    } else {
        s_put(s, fsg_buf_cstr(&key), o->name, "flow summary",
              "the object is read in full next time", &body);
    }
    fsg_buf_clean_up(&key);
    fsg_buf_clean_up(&body);
}

static enum fsg_err s_fold_rows(struct fsg_reader *reader, const struct fsg_summary *sum,
                                struct fsg_error *err)
{
    enum fsg_err rc = fsg_reader_add_row(reader, NULL, &sum->stats, err);
    for (size_t i = 0; i < sum->n_rows && rc == FSG_OK; i++) {
        rc = fsg_reader_add_row(reader, &sum->rows[i], NULL, err);
    }
    return rc;
}

/* Folds a summary (its bytes) into the reader. False (nothing folded) when it cannot be used:
 * the caller then reads the object itself. */
static bool s_fold_summary(struct s_obj *o, struct fsg_reader *reader, struct fsg_span body,
                           enum fsg_err *ret_rc, struct fsg_error *err)
{
    struct fsg_s3_source *s = o->src;
    struct fsg_error e = { 0 };
    struct fsg_summary sum = { 0 };
    enum fsg_err rc = fsg_summary_decode(body, s->fingerprint, &sum, &e);
    if (rc == FSG_OK && strcmp(sum.etag, o->etag) != 0) {
        rc = fsg_error_set(&e, FSG_E_REJECTED, "made for ETag %.100s, the object's is %.100s",
                           sum.etag, o->etag);
        fsg_summary_clean_up(&sum);
    }
    if (rc != FSG_OK) {
        fsg_log(FSG_LOG_WARN, "%s: flow summary s3://%s/%s not used (%s): reading the object",
                o->name, s->sum_bucket, o->summary_key, e.msg);
        return false;
    }
    s_contribute(o, &sum, NULL);
    o->summary_used = true;
    *ret_rc = s_fold_rows(reader, &sum, err);
    fsg_summary_clean_up(&sum);
    return true;
}

/* A summary's or rollup's bytes, by a GET of its own (not prefetched). */
static enum fsg_err s_get_summary(struct fsg_s3_source *s, const char *key, struct fsg_buf *body,
                                  struct fsg_error *err)
{
    struct fsg_aws_client *c = NULL;
    enum fsg_err rc = s_pool_get(s, &c, err);
    if (rc == FSG_OK) {
        rc = fsg_s3_get_object(c, s->sum_bucket, key, NULL, s_append, body, NULL, err);
        (void)s_pool_put(s, c);
    }
    return rc;
}

/* Reads the object's summary (a GET of its own) into the reader; false as s_fold_summary. */
static bool s_read_summary(struct s_obj *o, struct fsg_reader *reader, enum fsg_err *ret_rc,
                           struct fsg_error *err)
{
    struct fsg_s3_source *s = o->src;
    struct fsg_buf body = FSG_BUF_INIT;
    struct fsg_error e = { 0 };
    enum fsg_err rc = s_get_summary(s, o->summary_key, &body, &e);
    bool used = false;
    if (rc != FSG_OK) {
        fsg_log(FSG_LOG_WARN, "%s: flow summary s3://%s/%s not used (%s): reading the object",
                o->name, s->sum_bucket, o->summary_key, e.msg);
    } else {
        used = s_fold_summary(o, reader, (struct fsg_span){ body.ptr, body.len }, ret_rc, err);
    }
    fsg_buf_clean_up(&body);
    return used;
}

/* ---- day rollups (flowlogs/rollup.h) --------------------------------------------------------- */

/* No rollup will be made of this group (under grp_lock). */
static void s_group_drop(struct s_group *g)
{
    g->collect = false;
    fsg_rollup_acc_destroy(g->acc);
    g->acc = NULL;
}

/* Its rows and counters go into the group's rollup being made. */
static void s_contribute(struct s_obj *o, const struct fsg_summary *sum,
                         const struct fsg_aggregate *table)
{
    struct s_group *g = o->group;
    if (g == NULL) {
        return;
    }
    struct fsg_s3_source *s = o->src;
    pthread_mutex_lock(&s->grp_lock);
    if (g->collect && g->acc == NULL &&
        fsg_rollup_acc_new(s->rollup_max_bytes, s->sum_enis, s->n_sum_enis, &g->acc) != FSG_OK) {
        g->collect = false;
    }
    if (g->collect) {
        bool ok = !o->contributed && (sum != NULL ? fsg_rollup_acc_add_summary(g->acc, sum)
                                                  : fsg_rollup_acc_add_table(g->acc, table));
        if (!ok) {
            fsg_log(FSG_LOG_DEBUG, "%s: no day rollup made (its rows take more than %zu KiB)",
                    g->source,
                    (s->rollup_max_bytes != 0 ? s->rollup_max_bytes : FSG_ROLLUP_MAX_BYTES) >> 10);
            s_group_drop(g);
        }
    }
    o->contributed = true;
    pthread_mutex_unlock(&s->grp_lock);
}

static void s_write_rollup(struct fsg_s3_source *s, const struct s_group *g,
                           struct fsg_rollup_acc *acc)
{
    struct fsg_buf body = FSG_BUF_INIT;
    struct fsg_error err = { 0 };
    static const char then[] = "its objects are read one by one next time";
    if (fsg_rollup_acc_encode(acc, g->source, g->hash, s->fingerprint, &body, &err) != FSG_OK) {
        fsg_log(FSG_LOG_WARN, "%s: day rollup not written: %s (%s)", g->source, err.msg, then);
    } else {
        s_put(s, g->key, g->source, "day rollup", then, &body);
    }
    fsg_buf_clean_up(&body);
}

/* A member of a group is over. The one that read the group's rollup settles it: used when it
 * ended well, broken otherwise (its rows, the whole day's, were rolled back with it: the other
 * members fail too). While a rollup is being made, it is written once every member was read
 * well and gave its rows; one that failed, or was read without giving them, means no rollup. */
static void s_member_finished(void *ctx, enum fsg_err rc)
{
    struct s_obj *o = ctx;
    struct fsg_s3_source *s = o->src;
    struct s_group *g = o->group;
    struct fsg_rollup_acc *done = NULL;
    pthread_mutex_lock(&s->grp_lock);
    if (o->claimed) {
        g->state = rc == FSG_OK ? S_GROUP_USED : S_GROUP_BROKEN;
        pthread_cond_broadcast(&s->grp_cv);
    }
    if (g->collect && (rc != FSG_OK || !o->contributed)) {
        if (!o->via_rollup) {
            fsg_log(FSG_LOG_DEBUG, "%s: no day rollup made (%s was %s)", g->source, o->name,
                    rc != FSG_OK ? "not read" : "not read from its summary or in full");
        }
        s_group_drop(g);
    }
    if (++g->n_finished == g->n_members && g->collect) {
        done = g->acc;
        g->acc = NULL;
        g->collect = false;
    }
    pthread_mutex_unlock(&s->grp_lock);
    if (done != NULL) {
        s_write_rollup(s, g, done);
        fsg_rollup_acc_destroy(done);
    }
}

/* The rollup's bytes: its prefetch, else a GET of its own. */
static enum fsg_err s_rollup_fetch(struct s_group *g, struct fsg_s3_source *s,
                                   struct fsg_buf *body, bool *ret_prefetched,
                                   struct fsg_error *err)
{
    enum fsg_err rc;
    *ret_prefetched = g->pf != NULL && s_prefetch_start(s);
    if (*ret_prefetched) {
        s_prefetch_take(g->pf, body, &rc, err);
        return rc;
    }
    return s_get_summary(s, g->key, body, err);
}

/* Folds the group's rollup into the reader; false (nothing folded) when it cannot be used. */
static bool s_rollup_fold(struct s_group *g, struct fsg_s3_source *s, struct fsg_reader *reader,
                          enum fsg_err *ret_rc, struct fsg_error *err)
{
    struct fsg_buf body = FSG_BUF_INIT;
    struct fsg_error e = { 0 };
    struct fsg_summary sum = { 0 };
    bool prefetched = false;
    enum fsg_err rc = s_rollup_fetch(g, s, &body, &prefetched, &e);
    if (rc == FSG_OK) {
        rc = fsg_summary_decode((struct fsg_span){ body.ptr, body.len }, s->fingerprint, &sum, &e);
    }
    if (prefetched) {
        s_prefetch_release(g->pf);
    }
    fsg_buf_clean_up(&body);
    if (rc == FSG_OK && strcmp(sum.etag, g->hash) != 0) {
        rc = fsg_error_set(&e, FSG_E_REJECTED, "made for other objects");
    }
    if (rc != FSG_OK) {
        fsg_log(FSG_LOG_WARN, "%s: day rollup s3://%s/%s not used (%s): reading its %zu objects "
                "one by one", g->source, s->sum_bucket, g->key, e.msg, g->n_members);
        fsg_summary_clean_up(&sum);
        return false;
    }
    *ret_rc = s_fold_rows(reader, &sum, err);
    fsg_summary_clean_up(&sum);
    return true;
}

/* An object of a group with a rollup: the first one run reads the rollup for all of them, the
 * others wait for it and then read nothing. True when the object is done (*ret_rc says how);
 * false when the rollup was not usable and the object must be read itself. */
static bool s_rollup_run(struct s_obj *o, struct fsg_reader *reader, enum fsg_err *ret_rc,
                         struct fsg_error *err)
{
    struct fsg_s3_source *s = o->src;
    struct s_group *g = o->group;
    pthread_mutex_lock(&s->grp_lock);
    while (g->state == S_GROUP_READING) {
        pthread_cond_wait(&s->grp_cv, &s->grp_lock);
    }
    bool claim = g->state == S_GROUP_UNTRIED;
    if (claim) {
        g->state = S_GROUP_READING;
    }
    enum s_group_state st = g->state;
    pthread_mutex_unlock(&s->grp_lock);
    if (claim) {
        bool used = s_rollup_fold(g, s, reader, ret_rc, err);
        /* folded well: the group stays READING until this object is over (s_member_finished),
         * so that no member counts as read unless the day's rows stayed */
        o->claimed = used && *ret_rc == FSG_OK;
        o->via_rollup = o->claimed;
        if (!o->claimed) {
            pthread_mutex_lock(&s->grp_lock);
            g->state = used ? S_GROUP_BROKEN : S_GROUP_FAILED;
            pthread_cond_broadcast(&s->grp_cv);
            pthread_mutex_unlock(&s->grp_lock);
        }
        return used;
    }
    if (st == S_GROUP_BROKEN) {
        *ret_rc = fsg_error_set(err, FSG_E_IO, "its day rollup s3://%s/%s was read but could "
                                "not be added (see the error of another object of that day)",
                                s->sum_bucket, g->key);
        return true;
    }
    o->via_rollup = st == S_GROUP_USED;
    *ret_rc = FSG_OK;
    return o->via_rollup;
}

static void s_obj_destroy(struct s_obj *o)
{
    if (o != NULL) {
        fsg_buf_clean_up(&o->body);
        fsg_free(o->err);
        fsg_free(o->summary_key);
        fsg_free(o->bucket);
        fsg_free(o->key);
        fsg_free(o->name);
        fsg_free(o);
    }
}

void fsg_s3_source_destroy(struct fsg_s3_source *s)
{
    if (s == NULL) {
        return;
    }
    s_prefetch_stop(s);
    s_put_drain(s);
    pthread_cond_destroy(&s->put_cv);
    pthread_mutex_destroy(&s->put_lock);
    s_sum_keys_clear(s);
    for (size_t i = 0; i < s->n_groups; i++) {
        fsg_rollup_acc_destroy(s->groups[i]->acc);
        fsg_free(s->groups[i]->key);
        fsg_free(s->groups[i]->source);
        fsg_free(s->groups[i]);
    }
    fsg_free(s->groups);
    fsg_free(s->pend);
    pthread_cond_destroy(&s->grp_cv);
    pthread_mutex_destroy(&s->grp_lock);
    fsg_free(s->sum_keys);
    fsg_free(s->sum_bucket);
    fsg_free(s->sum_prefix);
    fsg_free(s->fingerprint);
    pthread_cond_destroy(&s->pf_cv);
    pthread_mutex_destroy(&s->pf_lock);
    fsg_free(s->pf);
    for (size_t i = 0; i < s->n_objs; i++) {
        s_obj_destroy(s->objs[i]);
    }
    fsg_free(s->objs);
    for (size_t i = 0; i < s->n_idle; i++) {
        fsg_aws_client_destroy(s->idle[i]);
    }
    fsg_free(s->idle);
    fsg_creds_provider_destroy(s->creds);
    pcre2_match_data_free(s->md);
    pcre2_code_free(s->re);
    fsg_free(s->region);
    fsg_free(s->endpoint);
    pthread_mutex_destroy(&s->lock);
    fsg_free(s);
}

bool fsg_s3_source_is_url(const char *arg)
{
    return arg != NULL && strncmp(arg, "s3://", 5) == 0;
}

void fsg_s3_source_counts(const struct fsg_s3_source *s, struct fsg_s3_source_counts *ret)
{
    *ret = s->counts;
}

/* ---- reading one object ------------------------------------------------------------------- */

struct s_feed {
    struct fsg_reader *reader;
    enum fsg_err rc;
    struct fsg_error err;
};

/* GetObject's body callback: every chunk goes straight into the decoder. */
static enum fsg_err s_feed(struct fsg_span chunk, void *userdata)
{
    struct s_feed *f = userdata;
    f->rc = fsg_reader_feed(f->reader, chunk, &f->err);
    return f->rc;
}

static bool s_is_parquet(const char *key)
{
    size_t n = strlen(key);
    return (n >= 8 && strcmp(key + n - 8, ".parquet") == 0) ||
           (n >= 11 && strcmp(key + n - 11, ".parquet.gz") == 0);
}

static enum fsg_err s_parquet_error(const char *name, struct fsg_error *err)
{
    return fsg_error_set(err, FSG_E_REJECTED,
                         "%s is a Parquet flow-log object, which flowseg cannot read: deliver the "
                         "flow log as plain-text (FileFormat=plain-text), or exclude these keys "
                         "with flowlogs.key_regex", name);
}

static enum fsg_err s_run(void *ctx, struct fsg_reader *reader, struct fsg_error *err)
{
    struct s_obj *o = ctx;
    if (o->parquet) {
        return s_parquet_error(o->name, err);
    }
    enum fsg_err done_rc;
    if (o->group != NULL && o->group->exists && s_rollup_run(o, reader, &done_rc, err)) {
        return done_rc;
    }
    if (o->prefetch_seq >= 0 && s_prefetch_start(o->src)) {
        if (s_run_prefetched(o, reader, &done_rc, err)) {
            return done_rc;
        }
    } else if (o->summary_key != NULL && s_read_summary(o, reader, &done_rc, err)) {
        return done_rc;
    }
    struct fsg_aws_client *c = NULL;
    enum fsg_err rc = s_pool_get(o->src, &c, err);
    if (rc != FSG_OK) {
        return rc;
    }
    struct s_feed f = { .reader = reader };
    struct fsg_s3_get_result res = { 0 };
    rc = fsg_s3_get_object(c, o->bucket, o->key, NULL, s_feed, &f, &res, err);
    if (rc != FSG_OK && f.rc != FSG_OK && err != NULL) {
        *err = f.err; /* the decoder's own detail (with its byte offset), not "stopped" */
    }
    if (rc == FSG_OK && res.resumes > 0) {
        fsg_log(FSG_LOG_DEBUG, "%s: read after %u resumed connections", o->name, res.resumes);
    }
    if (rc == FSG_OK && o->etag[0] == '\0') {
        memcpy(o->etag, res.etag, sizeof o->etag);
    } else if (rc == FSG_OK && res.etag[0] != '\0' && strcmp(res.etag, o->etag) != 0) {
        o->etag_changed = true;
    }
    (void)s_pool_put(o->src, c);
    return rc;
}

/* ---- expansion ---------------------------------------------------------------------------- */

/* Whether bucket/key has a summary (listed by s_list_summaries); its key in *ret (owned). */
static enum fsg_err s_find_summary(const struct fsg_s3_source *s, const char *bucket,
                                   const char *key, const char *etag, char **ret,
                                   uint64_t *ret_size)
{
    *ret = NULL;
    if (s->n_sum_keys == 0 || etag == NULL || etag[0] == '\0') {
        return FSG_OK;
    }
    struct fsg_buf k = FSG_BUF_INIT;
    if (fsg_summary_key(s->sum_prefix, bucket, key, etag, s->fingerprint, &k) != FSG_OK) {
        fsg_buf_clean_up(&k);
        return FSG_E_NOMEM;
    }
    struct s_sum want = { .key = (char *)fsg_buf_cstr(&k) };
    const struct s_sum *found =
        bsearch(&want, s->sum_keys, s->n_sum_keys, sizeof *s->sum_keys, s_cmp_key);
    if (found != NULL) {
        *ret_size = found->size;
        *ret = fsg_buf_strdup(&k);
        if (*ret == NULL) {
            fsg_buf_clean_up(&k);
            return FSG_E_NOMEM;
        }
    }
    fsg_buf_clean_up(&k);
    return FSG_OK;
}

static enum fsg_err s_add(struct fsg_s3_source *s, const char *bucket, const char *key,
                          uint64_t size, const char *etag, struct s_group *group,
                          struct fsg_object **objects, size_t *n_objects)
{
    char *summary_key = NULL;
    uint64_t summary_size = 0;
    if (s->sum_bucket != NULL &&
        s_find_summary(s, bucket, key, etag, &summary_key, &summary_size) != FSG_OK) {
        return FSG_E_NOMEM;
    }
    uint64_t fetch_size = summary_key != NULL ? summary_size : size;
    /* a member of a day with a rollup is only fetched when the rollup cannot be used */
    bool prefetch = s->can_prefetch && !s->pf_started && fetch_size > 0 &&
                    fetch_size <= S_PREFETCH_MAX && fetch_size <= s->pf_budget &&
                    !s_is_parquet(key) && (group == NULL || !group->exists);
    struct s_obj **pf = prefetch ? fsg_array_grow(s->pf, &s->cap_pf, s->n_pf + 1, sizeof *pf, 64)
                                 : s->pf;
    s->pf = pf != NULL ? pf : s->pf;
    struct s_obj **objs = fsg_array_grow(s->objs, &s->cap_objs, s->n_objs + 1, sizeof *objs, 64);
    s->objs = objs != NULL ? objs : s->objs;
    if ((prefetch && pf == NULL) || objs == NULL) {
        fsg_free(summary_key);
        return FSG_E_NOMEM;
    }
    struct fsg_object *arr = fsg_reallocarray(*objects, *n_objects + 1, sizeof *arr);
    if (arr == NULL) {
        fsg_free(summary_key);
        return FSG_E_NOMEM;
    }
    *objects = arr;
    struct s_obj *o = fsg_calloc(1, sizeof *o);
    struct fsg_buf name = FSG_BUF_INIT;
    if (o == NULL || (o->bucket = fsg_strdup(bucket)) == NULL ||
        (o->key = fsg_strdup(key)) == NULL ||
        fsg_buf_printf(&name, "s3://%s/%s", bucket, key) != FSG_OK ||
        (o->name = fsg_buf_strdup(&name)) == NULL) {
        fsg_buf_clean_up(&name);
        s_obj_destroy(o);
        fsg_free(summary_key);
        return FSG_E_NOMEM;
    }
    fsg_buf_clean_up(&name);
    o->src = s;
    o->group = group;
    o->parquet = s_is_parquet(key);
    o->size = size;
    o->summary_key = summary_key;
    o->fetch_size = fetch_size;
    summary_key = NULL;
    snprintf(o->etag, sizeof o->etag, "%s", etag != NULL ? etag : "");
    o->prefetch_seq = -1;
    if (prefetch) {
        o->prefetch_seq = (long)s->n_pf;
        o->state = S_FETCH_WAITING;
        s->pf[s->n_pf++] = o;
    }
    s->objs[s->n_objs++] = o;
    arr[(*n_objects)++] = (struct fsg_object){
        .name = o->name,
        .run = s_run,
        .ctx = o,
        .size = size,
        /* also with a summary listed, or a day's rollup: one that turns out unusable is made
         * again from what the objects give. The price: rows read from a summary or rollup
         * are hashed twice (into the object's table, then merged) */
        .summarize = s->sum_bucket != NULL && !o->parquet ? s_write_summary : NULL,
        .summarize_ctx = o,
        .finished = group != NULL ? s_member_finished : NULL,
    };
    return FSG_OK;
}

/* A group's rollup, fetched ahead like an object (in list order, before its first member). Not
 * a runner object: the member that claims the rollup takes it. Nothing when it cannot be. */
static enum fsg_err s_add_rollup_prefetch(struct fsg_s3_source *s, struct s_group *g)
{
    if (!s->can_prefetch || s->pf_started || g->size == 0 || g->size > S_PREFETCH_MAX ||
        g->size > s->pf_budget) {
        return FSG_OK;
    }
    struct s_obj **pf = fsg_array_grow(s->pf, &s->cap_pf, s->n_pf + 1, sizeof *pf, 64);
    s->pf = pf != NULL ? pf : s->pf;
    struct s_obj **objs = fsg_array_grow(s->objs, &s->cap_objs, s->n_objs + 1, sizeof *objs, 64);
    s->objs = objs != NULL ? objs : s->objs;
    struct s_obj *o = pf != NULL && objs != NULL ? fsg_calloc(1, sizeof *o) : NULL;
    struct fsg_buf name = FSG_BUF_INIT;
    if (o == NULL || (o->bucket = fsg_strdup(s->sum_bucket)) == NULL ||
        (o->key = fsg_strdup(g->key)) == NULL ||
        fsg_buf_printf(&name, "s3://%s/%s", s->sum_bucket, g->key) != FSG_OK ||
        (o->name = fsg_buf_strdup(&name)) == NULL) {
        fsg_buf_clean_up(&name);
        s_obj_destroy(o);
        return FSG_E_NOMEM;
    }
    fsg_buf_clean_up(&name);
    o->src = s;
    o->size = g->size;
    o->fetch_size = g->size;
    o->prefetch_seq = (long)s->n_pf;
    o->state = S_FETCH_WAITING;
    s->pf[s->n_pf++] = o;
    s->objs[s->n_objs++] = o;
    g->pf = o;
    return FSG_OK;
}

/* A listed key kept for after the listing (summaries on: a day's rollup needs the whole day). */
static enum fsg_err s_pend(struct fsg_s3_source *s, const struct fsg_s3_object *obj)
{
    struct s_pending *v = fsg_array_grow(s->pend, &s->cap_pend, s->n_pend + 1, sizeof *v, 256);
    if (v == NULL) {
        return FSG_E_NOMEM;
    }
    s->pend = v;
    struct s_pending *p = &s->pend[s->n_pend];
    *p = (struct s_pending){ .key = fsg_strdup(obj->key), .size = obj->size };
    if (p->key == NULL) {
        return FSG_E_NOMEM;
    }
    snprintf(p->etag, sizeof p->etag, "%s", obj->etag != NULL ? obj->etag : "");
    /* a Parquet object always fails (s_parquet_error): its day could never be rolled up */
    p->dated = s->rollups && p->etag[0] != '\0' && !s_is_parquet(p->key) &&
               fsg_rollup_day(p->key, &p->day, &p->dir_len);
    s->n_pend++;
    return FSG_OK;
}

static void s_pend_clear(struct fsg_s3_source *s)
{
    for (size_t i = 0; i < s->n_pend; i++) {
        fsg_free(s->pend[i].key);
    }
    s->n_pend = 0;
}

/* Dated keys by directory, day, key. */
static int s_cmp_pend(const void *a, const void *b)
{
    const struct s_pending *x = *(const struct s_pending *const *)a;
    const struct s_pending *y = *(const struct s_pending *const *)b;
    size_t n = x->dir_len < y->dir_len ? x->dir_len : y->dir_len;
    int c = memcmp(x->key, y->key, n);
    if (c != 0 || x->dir_len != y->dir_len) {
        return c != 0 ? c : x->dir_len < y->dir_len ? -1 : 1;
    }
    if (x->day != y->day) {
        return x->day < y->day ? -1 : 1;
    }
    return strcmp(x->key, y->key);
}

static bool s_same_day(const struct s_pending *x, const struct s_pending *y)
{
    return x->dir_len == y->dir_len && x->day == y->day && memcmp(x->key, y->key, x->dir_len) == 0;
}

/* The group of m[0..n) (one directory's day, sorted by key): its rollup is read when listed,
 * made while its members are read when the day may be rolled up now, else there is none. */
static enum fsg_err s_make_group(struct fsg_s3_source *s, const char *bucket,
                                 struct s_pending *const *m, size_t n, int64_t now_s)
{
    const char **keys = fsg_calloc(n, sizeof *keys), **etags = fsg_calloc(n, sizeof *etags);
    struct s_group *g = keys != NULL && etags != NULL ? fsg_calloc(1, sizeof *g) : NULL;
    struct fsg_buf key = FSG_BUF_INIT, src = FSG_BUF_INIT;
    enum fsg_err rc = g != NULL ? FSG_OK : FSG_E_NOMEM;
    for (size_t i = 0; rc == FSG_OK && i < n; i++) {
        keys[i] = m[i]->key;
        etags[i] = m[i]->etag;
    }
    rc = rc != FSG_OK ? rc : fsg_rollup_members_hash(keys, etags, n, s->fingerprint, g->hash);
    rc = rc != FSG_OK ? rc
                      : fsg_rollup_key(s->sum_prefix, bucket, m[0]->key, m[0]->dir_len, m[0]->day,
                                       g->hash, s->fingerprint, &key);
    time_t day = (time_t)m[0]->day;
    struct tm tm = { 0 };
    (void)gmtime_r(&day, &tm);
    rc = rc != FSG_OK ? rc
                      : fsg_buf_printf(&src, "s3://%s/%.*s (day %04d-%02d-%02d, %zu objects)",
                                       bucket, (int)m[0]->dir_len, m[0]->key, tm.tm_year + 1900,
                                       tm.tm_mon + 1, tm.tm_mday, n);
    if (rc == FSG_OK) {
        struct s_sum want = { .key = (char *)fsg_buf_cstr(&key) };
        const struct s_sum *found =
            s->n_sum_keys > 0 ? bsearch(&want, s->sum_keys, s->n_sum_keys, sizeof *s->sum_keys,
                                        s_cmp_key)
                              : NULL;
        g->exists = found != NULL;
        g->size = found != NULL ? found->size : 0;
        g->n_members = n;
        /* made when missing, and again when the one listed is not usable */
        g->collect = fsg_rollup_day_writable(m[0]->day, now_s, s->since_s, s->until_s);
    }
    struct s_group **v = rc == FSG_OK && (g->exists || g->collect)
                             ? fsg_array_grow(s->groups, &s->cap_groups, s->n_groups + 1,
                                              sizeof *v, 16)
                             : NULL;
    s->groups = v != NULL ? v : s->groups; /* moved: keep it now, whatever follows */
    if (v != NULL && (g->key = fsg_buf_strdup(&key)) != NULL &&
        (g->source = fsg_buf_strdup(&src)) != NULL) {
        s->groups[s->n_groups++] = g;
        for (size_t i = 0; i < n; i++) {
            m[i]->group = g;
        }
        g = NULL;
    } else if (rc == FSG_OK && (g->exists || g->collect)) {
        rc = FSG_E_NOMEM;
    }
    if (g != NULL) {
        fsg_free(g->key);
        fsg_free(g);
    }
    fsg_buf_clean_up(&key);
    fsg_buf_clean_up(&src);
    fsg_free(keys);
    fsg_free(etags);
    return rc;
}

/* The listed keys become objects, in list order, once their days are grouped. */
static enum fsg_err s_add_listed(struct fsg_s3_source *s, const char *bucket,
                                 struct fsg_object **objects, size_t *n_objects)
{
    struct s_pending **idx = fsg_calloc(s->n_pend + 1, sizeof *idx);
    if (idx == NULL) {
        return FSG_E_NOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < s->n_pend; i++) {
        if (s->pend[i].dated) {
            idx[n++] = &s->pend[i];
        }
    }
    if (n > 0) {
        qsort(idx, n, sizeof *idx, s_cmp_pend);
    }
    int64_t now_s = (int64_t)time(NULL);
    enum fsg_err rc = FSG_OK;
    size_t n_groups = s->n_groups;
    for (size_t i = 0, j; rc == FSG_OK && i < n; i = j) {
        for (j = i + 1; j < n && s_same_day(idx[i], idx[j]); j++) {
        }
        if (j - i >= FSG_ROLLUP_MIN_MEMBERS) {
            rc = s_make_group(s, bucket, &idx[i], j - i, now_s);
        }
    }
    fsg_free(idx);
    size_t read = 0, made = 0;
    for (size_t i = n_groups; i < s->n_groups; i++) {
        read += s->groups[i]->exists ? s->groups[i]->n_members : 0;
        made += !s->groups[i]->exists;
    }
    if (s->n_groups > n_groups) {
        fsg_log(FSG_LOG_DEBUG, "day rollups: %zu objects read from %zu rollups, %zu rollups to "
                "write", read, s->n_groups - n_groups - made, made);
    }
    for (size_t i = 0; rc == FSG_OK && i < s->n_pend; i++) {
        struct s_pending *p = &s->pend[i];
        if (p->group != NULL && p->group->exists && p->group->pf == NULL) {
            rc = s_add_rollup_prefetch(s, p->group);
        }
        rc = rc != FSG_OK ? rc
                          : s_add(s, bucket, p->key, p->size, p->etag, p->group, objects,
                                  n_objects);
    }
    return rc;
}

static bool s_in_window(const struct fsg_s3_source *s, const char *key)
{
    if (s->since_s == FSG_S3_TIME_NONE && s->until_s == FSG_S3_TIME_NONE) {
        return true;
    }
    int64_t start, end;
    if (!fsg_s3_key_time(key, &start, &end)) {
        return false;
    }
    return (s->since_s == FSG_S3_TIME_NONE || end > s->since_s) &&
           (s->until_s == FSG_S3_TIME_NONE || start < s->until_s);
}

static bool s_regex_ok(const struct fsg_s3_source *s, const char *key)
{
    if (s->re == NULL) {
        return true;
    }
    return pcre2_match(s->re, (PCRE2_SPTR)key, strlen(key), 0, 0, s->md, NULL) >= 0;
}

struct s_listing {
    struct fsg_s3_source *s;
    const char *bucket;
    struct fsg_object **objects;
    size_t *n_objects;
};

static enum fsg_err s_on_listed(const struct fsg_s3_object *obj, void *userdata)
{
    struct s_listing *l = userdata;
    struct fsg_s3_source *s = l->s;
    size_t n = strlen(obj->key);
    s->counts.listed++;
    if (n > 0 && obj->key[n - 1] == '/') {
        s->counts.folders++;
        return FSG_OK;
    }
    if (!s_regex_ok(s, obj->key)) {
        s->counts.regex_skipped++;
        return FSG_OK;
    }
    if (!s_in_window(s, obj->key)) {
        s->counts.time_skipped++;
        return FSG_OK;
    }
    s->counts.kept++;
    if (s->sum_bucket != NULL) {
        return s_pend(s, obj);
    }
    return s_add(s, l->bucket, obj->key, obj->size, obj->etag, NULL, l->objects, l->n_objects);
}

/* "s3://bucket/rest" -> bucket, rest. */
static enum fsg_err s_split_url(const char *url, char **ret_bucket, const char **ret_rest,
                                struct fsg_error *err)
{
    if (!fsg_s3_source_is_url(url)) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "'%.200s' is not an s3:// URL", url);
    }
    const char *b = url + 5;
    size_t blen = strcspn(b, "/");
    if (blen == 0) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "%.200s: no bucket (use s3://bucket/key or s3://bucket/prefix/)", url);
    }
    *ret_bucket = fsg_strndup(b, blen);
    if (*ret_bucket == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory");
    }
    *ret_rest = b[blen] == '/' ? b + blen + 1 : b + blen;
    return FSG_OK;
}

enum fsg_err fsg_s3_source_expand(struct fsg_s3_source *s, const char *url,
                                  struct fsg_object **objects, size_t *n_objects,
                                  struct fsg_error *err)
{
    char *bucket = NULL;
    const char *rest = NULL;
    enum fsg_err rc = s_split_url(url, &bucket, &rest, err);
    if (rc != FSG_OK) {
        return rc;
    }
    s->counts = (struct fsg_s3_source_counts){ 0 };
    size_t n = strlen(rest);
    if (n > 0 && rest[n - 1] != '/') {
        /* One object, named in full: read as asked (no filters), but never a Parquet file. */
        if (s_is_parquet(rest)) {
            rc = s_parquet_error(url, err);
        } else if ((rc = s_add(s, bucket, rest, 0, NULL, NULL, objects, n_objects)) != FSG_OK) {
            rc = fsg_error_set(err, rc, "out of memory");
        } else {
            s->counts.kept = 1;
        }
        fsg_free(bucket);
        return rc;
    }
    struct fsg_aws_client *c = NULL;
    if (s->sum_bucket != NULL && (rc = s_list_summaries(s, bucket, rest, err)) != FSG_OK) {
        fsg_log(FSG_LOG_WARN, "flow summaries under s3://%s/%s not listed (%s): reading every "
                "object", s->sum_bucket, s->sum_prefix, err != NULL ? err->msg : "");
        s_sum_keys_clear(s);
        rc = FSG_OK;
    }
    rc = s_pool_get(s, &c, err);
    if (rc == FSG_OK) {
        struct s_listing l = { s, bucket, objects, n_objects };
        struct fsg_s3_list_options lo = { .prefix = rest, .max_keys = s->max_keys };
        rc = fsg_s3_list_objects(c, bucket, &lo, s_on_listed, &l, err);
        (void)s_pool_put(s, c);
    }
    if (rc == FSG_OK && s->n_pend > 0 &&
        (rc = s_add_listed(s, bucket, objects, n_objects)) != FSG_OK) {
        rc = fsg_error_set(err, rc, "out of memory");
    }
    s_pend_clear(s);
    fsg_log(FSG_LOG_DEBUG, "%s: %zu keys listed, %zu objects kept (%zu folders, %zu not matching "
            "key_regex, %zu outside the time window)", url, s->counts.listed, s->counts.kept,
            s->counts.folders, s->counts.regex_skipped, s->counts.time_skipped);
    fsg_free(bucket);
    return rc;
}
