/* S3 GetObject (streamed, resumable), HeadObject and ListObjectsV2. See lib/aws/s3.h. */
#include "lib/aws/s3.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/aws/aws.h"
#include "lib/aws/aws_env.h"
#include "lib/aws/aws_xml.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"
#include "lib/aws/sigv4.h"

#define S_MAX_KEYS 1000u /* S3's own maximum per ListObjectsV2 page */

/* ---- URLs --------------------------------------------------------------------------------- */

/* Virtual-hosted style needs a name the TLS wildcard certificate (*.s3.region.amazonaws.com)
 * matches: lowercase letters, digits and hyphens only (no dots). ref/aws-wire.md §5.6. */
static bool s_virtual_host_ok(const char *bucket)
{
    for (const char *p = bucket; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
            return false;
        }
    }
    return bucket[0] != '\0';
}

static bool s_path_style(const struct fsg_aws_client *c, const char *bucket)
{
    return fsg_aws_client_path_style(c) || !s_virtual_host_ok(bucket);
}

static enum fsg_err s_bucket_url_at(const struct fsg_aws_client *c, const char *ep,
                                    const char *bucket, struct fsg_buf *out);

/* The region a bucket's requests are signed for: the one learned from a redirect, else the
 * client's. Copied into out (S_REGION_SIZE bytes). Each call reads it ONCE and uses that copy
 * both to sign and to pick the endpoint: the cache is process-wide and other threads' clients
 * update it, so a second read could sign for one region and send to another's endpoint. */
#define S_REGION_SIZE 32
static void s_region_for(const struct fsg_aws_client *c, const char *bucket, char *out)
{
    if (!fsg_aws_bucket_region_get(bucket, out, S_REGION_SIZE)) {
        snprintf(out, S_REGION_SIZE, "%s", fsg_aws_client_region(c));
    }
}

/* The endpoint for a bucket in region: the client's for its own region, and for a bucket in
 * another region that region's public endpoint, unless the client's endpoint was configured
 * (AWS_ENDPOINT_URL_S3, an emulator): then only the signing region changes. */
static enum fsg_err s_endpoint_for(const struct fsg_aws_client *c, const char *region,
                                   struct fsg_buf *out)
{
    const char *ep = fsg_aws_client_endpoint(c);
    if (strcmp(region, fsg_aws_client_region(c)) == 0) {
        return fsg_buf_append_cstr(out, ep);
    }
    struct fsg_buf own = FSG_BUF_INIT;
    enum fsg_err rc = fsg_aws_endpoint("s3", fsg_aws_client_region(c), &own, NULL, NULL);
    bool is_public = rc == FSG_OK && strcmp(fsg_buf_cstr(&own), ep) == 0;
    fsg_buf_clean_up(&own);
    if (is_public) {
        return fsg_aws_endpoint("s3", region, out, NULL, NULL);
    }
    return fsg_buf_append_cstr(out, ep);
}

/* The bucket's base URL for the given (already read) region. */
static enum fsg_err s_bucket_url_in(const struct fsg_aws_client *c, const char *region,
                                    const char *bucket, struct fsg_buf *out)
{
    struct fsg_buf ep_buf = FSG_BUF_INIT;
    enum fsg_err rc = s_endpoint_for(c, region, &ep_buf);
    if (rc == FSG_OK) {
        rc = s_bucket_url_at(c, fsg_buf_cstr(&ep_buf), bucket, out);
    }
    fsg_buf_clean_up(&ep_buf);
    return rc;
}

enum fsg_err fsg_s3_bucket_url(const struct fsg_aws_client *c, const char *bucket,
                               struct fsg_buf *out)
{
    char region[S_REGION_SIZE];
    s_region_for(c, bucket, region);
    return s_bucket_url_in(c, region, bucket, out);
}

/* The S3 answer to a request signed for the wrong region: 301 PermanentRedirect, 400
 * AuthorizationHeaderMalformed (regions launched after March 2019 answer 400, not 301), or a
 * 307 while a new bucket's name propagates; each names the bucket's region in the
 * x-amz-bucket-region header. We re-sign for that region and send again, once, and remember
 * it for the bucket. https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingRouting.html
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html (x-amz-bucket-region),
 * ref/aws-wire.md §5.6. True when the call should be repeated: then region (S_REGION_SIZE
 * bytes, the one the call was signed for) holds the new one, for the URL and the signature. */
static bool s_follow_region(const char *bucket, char *region_inout,
                            const struct fsg_http_response *resp, const struct fsg_error *err)
{
    const char *used_region = region_inout;
    int st = resp->status;
    const char *code = err != NULL ? err->service_code : "";
    bool redirect = st == 301 || st == 307 ||
                    (st == 400 && (strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
                                   strcmp(code, "IllegalLocationConstraintException") == 0));
    const char *region = fsg_http_headers_get(&resp->headers, "x-amz-bucket-region");
    /* an empty header names no region (fsg_aws_region would fall back to AWS_REGION, and that
     * would be remembered as the bucket's) */
    if (!redirect || region == NULL || region[0] == '\0' || strcmp(region, used_region) == 0) {
        return false;
    }
    struct fsg_buf valid = FSG_BUF_INIT;
    bool ok = fsg_aws_region(region, NULL, &valid, NULL) == FSG_OK &&
              fsg_aws_bucket_region_set(bucket, fsg_buf_cstr(&valid)) == FSG_OK;
    if (ok) {
        fsg_log(FSG_LOG_DEBUG, "s3 bucket '%s' is in %s, not %s (HTTP %d): following", bucket,
                fsg_buf_cstr(&valid), used_region, st);
        snprintf(region_inout, S_REGION_SIZE, "%s", fsg_buf_cstr(&valid));
    }
    fsg_buf_clean_up(&valid);
    return ok;
}

static enum fsg_err s_bucket_url_at(const struct fsg_aws_client *c, const char *ep,
                                    const char *bucket, struct fsg_buf *out)
{
    if (s_path_style(c, bucket)) {
        enum fsg_err rc = fsg_buf_printf(out, "%s/", ep);
        if (rc == FSG_OK) {
            rc = fsg_uri_encode(out, fsg_span_from_cstr(bucket), false);
        }
        return rc;
    }
    /* "https://s3.us-east-1.amazonaws.com" -> "https://bucket.s3.us-east-1.amazonaws.com" */
    const char *sep = strstr(ep, "://");
    const char *rest = sep != NULL ? sep + 3 : ep;
    return fsg_buf_printf(out, "%.*s%s.%s", (int)(rest - ep), ep, bucket, rest);
}

enum fsg_err fsg_s3_encode_key(struct fsg_buf *out, const char *key)
{
    /* keep_slash: '/' separates segments and stays; everything else not unreserved is
     * encoded exactly once, which is also how SigV4 canonicalises S3 paths. */
    return fsg_uri_encode(out, fsg_span_from_cstr(key), true);
}

static enum fsg_err s_object_url_in(const struct fsg_aws_client *c, const char *region,
                                    const char *bucket, const char *key, struct fsg_buf *out)
{
    enum fsg_err rc = s_bucket_url_in(c, region, bucket, out);
    if (rc == FSG_OK) {
        rc = fsg_buf_append_byte(out, '/');
    }
    if (rc == FSG_OK) {
        rc = fsg_s3_encode_key(out, key);
    }
    return rc;
}

enum fsg_err fsg_s3_object_url(const struct fsg_aws_client *c, const char *bucket, const char *key,
                               struct fsg_buf *out)
{
    char region[S_REGION_SIZE];
    s_region_for(c, bucket, region);
    return s_object_url_in(c, region, bucket, key, out);
}

/* ---- Error messages that name what is missing ---------------------------------------------- */

/* Replaces err's message, keeping its code, HTTP status, service code and request id. */
static void s_rewrite(struct fsg_error *err, const char *what, const char *hint)
{
    if (err == NULL) {
        return;
    }
    struct fsg_error keep = *err;
    fsg_error_set(err, keep.code, "%s (HTTP %d%s%s%s%s); %s", what, keep.http_status,
                  keep.service_code[0] != '\0' ? " " : "", keep.service_code,
                  keep.request_id[0] != '\0' ? ", request id " : "", keep.request_id, hint);
    err->http_status = keep.http_status;
    err->offset = keep.offset;
    memcpy(err->service_code, keep.service_code, sizeof err->service_code);
    memcpy(err->request_id, keep.request_id, sizeof err->request_id);
}

static void s_name_missing(struct fsg_error *err, enum fsg_err rc, const char *bucket,
                           const char *key, const char *region)
{
    if (err == NULL || rc != FSG_E_NOT_FOUND || err->http_status == 0) {
        return; /* not S3's answer (e.g. no credentials were found): keep the real reason */
    }
    char what[400];
    if (strcmp(err->service_code, "NoSuchBucket") == 0 || key == NULL) {
        snprintf(what, sizeof what, "S3 bucket '%s' does not exist", bucket);
        char hint[160];
        snprintf(hint, sizeof hint, "check the bucket name and the region (%s)", region);
        s_rewrite(err, what, hint);
    } else {
        snprintf(what, sizeof what, "S3 object s3://%s/%s does not exist", bucket, key);
        s_rewrite(err, what, "check the key (and the bucket's contents)");
    }
}

static enum fsg_err s_check_names(const char *bucket, const char *key, bool need_key,
                                  struct fsg_error *err)
{
    if (bucket == NULL || bucket[0] == '\0' || strchr(bucket, '/') != NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "S3: bad bucket name '%s'",
                             bucket != NULL ? bucket : "");
    }
    if (need_key && (key == NULL || key[0] == '\0')) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "S3 bucket '%s': empty object key", bucket);
    }
    return FSG_OK;
}

/* ---- GetObject ------------------------------------------------------------------------------ */

struct s_get {
    fsg_http_body_fn *on_body;
    void *userdata;
    const struct fsg_http_response *resp;
    uint64_t offset;      /* bytes delivered to on_body so far (absolute position) */
    uint64_t skip;        /* bytes still to drop: a resume answered 200 (Range ignored) */
    bool checked;         /* this response's status and Content-Range were checked */
    char etag[128];
    enum fsg_err bad_rc;  /* set when we (not the consumer) stopped the body */
    bool redirected;      /* S3 named the bucket's region: send again there */
    char bad_msg[200];
};

/* "bytes 100-199/1000": does it start at `offset`? */
static bool s_content_range_starts_at(const char *cr, uint64_t offset)
{
    char want[48];
    snprintf(want, sizeof want, "bytes %" PRIu64 "-", offset);
    return cr != NULL && strncmp(cr, want, strlen(want)) == 0;
}

static enum fsg_err s_check_response(struct s_get *g)
{
    g->checked = true;
    const char *etag = fsg_http_headers_get(&g->resp->headers, "ETag");
    if (g->etag[0] == '\0' && etag != NULL) {
        snprintf(g->etag, sizeof g->etag, "%s", etag);
    }
    if (g->offset == 0) {
        return FSG_OK;
    }
    if (g->resp->status == 200) {
        g->skip = g->offset; /* the server ignored Range: drop what we already have */
        return FSG_OK;
    }
    const char *cr = fsg_http_headers_get(&g->resp->headers, "Content-Range");
    if (g->resp->status != 206 || !s_content_range_starts_at(cr, g->offset)) {
        g->bad_rc = FSG_E_REMOTE;
        snprintf(g->bad_msg, sizeof g->bad_msg,
                 "resume at byte %" PRIu64 " answered HTTP %d with Content-Range '%s'", g->offset,
                 g->resp->status, cr != NULL ? cr : "");
        return FSG_E_REMOTE;
    }
    return FSG_OK;
}

static enum fsg_err s_get_body(struct fsg_span chunk, void *userdata)
{
    struct s_get *g = userdata;
    if (!g->checked) {
        enum fsg_err rc = s_check_response(g);
        if (rc != FSG_OK) {
            return rc;
        }
    }
    if (g->skip > 0) {
        size_t n = chunk.len < g->skip ? chunk.len : (size_t)g->skip;
        g->skip -= n;
        chunk.ptr += n;
        chunk.len -= n;
        if (chunk.len == 0) {
            return FSG_OK;
        }
    }
    enum fsg_err rc = g->on_body(chunk, g->userdata);
    if (rc == FSG_OK) {
        g->offset += chunk.len;
    }
    return rc;
}

static enum fsg_err s_get_headers(const struct s_get *g, struct fsg_http_headers *h)
{
    char range[48];
    enum fsg_err rc = FSG_OK;
    if (g->offset > 0) {
        snprintf(range, sizeof range, "bytes=%" PRIu64 "-", g->offset);
        rc = fsg_http_headers_set(h, "Range", range);
    }
    if (rc == FSG_OK && g->etag[0] != '\0') {
        rc = fsg_http_headers_set(h, "If-Match", g->etag);
    }
    return rc;
}

/* Runs GETs until the body is complete or a failure is not a resumable network cut. */
/* region (S_REGION_SIZE bytes): the one url is for; updated when S3 redirects (g->redirected). */
static enum fsg_err s_get_loop(struct fsg_aws_client *c, const char *bucket, char *region,
                               const char *url, const char *resource, struct s_get *g,
                               unsigned max_resumes, unsigned *ret_resumes, struct fsg_error *err)
{
    struct fsg_http_headers headers = { 0 };
    struct fsg_http_response resp = { 0 };
    enum fsg_err rc;
    unsigned resumes = 0;
    g->resp = &resp;
    for (;;) {
        uint64_t before = g->offset;
        g->checked = false;
        g->skip = 0;
        rc = s_get_headers(g, &headers);
        if (rc != FSG_OK) {
            rc = fsg_error_set(err, rc, "S3 GetObject %s: out of memory", resource);
            break;
        }
        struct fsg_aws_request r = { .method = "GET", .url = url, .headers = &headers,
                                     .on_body = s_get_body, .userdata = g,
                                     .action = "GetObject", .resource = resource,
                                     .region = region };
        rc = fsg_aws_request(c, &r, &resp, err);
        g->redirected = rc != FSG_OK && g->offset == before && resumes == 0 &&
                        s_follow_region(bucket, region, &resp, err);
        fsg_http_response_clean_up(&resp);
        bool progressed = g->offset > before;
        if (rc != FSG_E_NETWORK || !progressed || resumes >= max_resumes) {
            break;
        }
        resumes++;
        fsg_log(FSG_LOG_DEBUG, "s3 GetObject %s: connection lost at byte %" PRIu64 ", resuming (%u)",
                resource, g->offset, resumes);
    }
    if (rc != FSG_OK && g->bad_rc != FSG_OK) {
        rc = fsg_error_set(err, g->bad_rc, "S3 GetObject %s: %s", resource, g->bad_msg);
    }
    *ret_resumes = resumes;
    fsg_http_headers_clean_up(&headers);
    return rc;
}

enum fsg_err fsg_s3_get_object(struct fsg_aws_client *c, const char *bucket, const char *key,
                               const struct fsg_s3_get_options *opts, fsg_http_body_fn *on_body,
                               void *userdata, struct fsg_s3_get_result *ret,
                               struct fsg_error *err)
{
    static const struct fsg_s3_get_options s_defaults = { 0 };
    const struct fsg_s3_get_options *o = opts != NULL ? opts : &s_defaults;
    struct fsg_buf url = FSG_BUF_INIT, resource = FSG_BUF_INIT;
    struct s_get g = { .on_body = on_body, .userdata = userdata, .offset = o->start_offset };
    unsigned resumes = 0;
    enum fsg_err rc = s_check_names(bucket, key, true, err);
    if (rc != FSG_OK) {
        return rc;
    }
    if (on_body == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "S3 GetObject without a body consumer");
    }
    if (o->if_match != NULL) {
        snprintf(g.etag, sizeof g.etag, "%s", o->if_match);
    }
    if (fsg_buf_printf(&resource, "s3://%s/%s", bucket, key) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "S3 GetObject: out of memory");
        goto out;
    }
    unsigned max_resumes = o->max_resumes > 0 ? o->max_resumes : FSG_S3_DEFAULT_MAX_RESUMES;
    char region[S_REGION_SIZE];
    s_region_for(c, bucket, region);
    for (int hop = 0; hop < 2; hop++) {
        fsg_buf_reset(&url);
        if (s_object_url_in(c, region, bucket, key, &url) != FSG_OK) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "S3 GetObject: out of memory");
            goto out;
        }
        rc = s_get_loop(c, bucket, region, fsg_buf_cstr(&url), fsg_buf_cstr(&resource), &g,
                        max_resumes, &resumes, err);
        if (!g.redirected) {
            break;
        }
    }
    if (rc == FSG_E_CONFLICT && err != NULL && err->http_status == 412) {
        char what[400];
        snprintf(what, sizeof what, "S3 object %s changed while it was being read (ETag %s)",
                 fsg_buf_cstr(&resource), g.etag);
        s_rewrite(err, what, "read it again");
    }
    s_name_missing(err, rc, bucket, key, fsg_aws_client_region(c));
    if (rc != FSG_OK && err != NULL) {
        err->offset = g.offset;
    }
    if (ret != NULL) {
        *ret = (struct fsg_s3_get_result){ .bytes = g.offset - o->start_offset, .resumes = resumes };
        memcpy(ret->etag, g.etag, sizeof ret->etag);
    }
out:
    fsg_buf_clean_up(&resource);
    fsg_buf_clean_up(&url);
    return rc;
}

/* ---- HeadObject ----------------------------------------------------------------------------- */

enum fsg_err fsg_s3_head_object(struct fsg_aws_client *c, const char *bucket, const char *key,
                                struct fsg_s3_object_info *ret, struct fsg_error *err)
{
    struct fsg_buf url = FSG_BUF_INIT, resource = FSG_BUF_INIT;
    struct fsg_http_response resp = { 0 };
    enum fsg_err rc = s_check_names(bucket, key, true, err);
    if (rc != FSG_OK) {
        return rc;
    }
    if (fsg_buf_printf(&resource, "s3://%s/%s", bucket, key) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "S3 HeadObject: out of memory");
        goto out;
    }
    char region[S_REGION_SIZE];
    s_region_for(c, bucket, region);
    for (int hop = 0;; hop++) {
        fsg_buf_reset(&url);
        if (s_object_url_in(c, region, bucket, key, &url) != FSG_OK) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "S3 HeadObject: out of memory");
            goto out;
        }
        struct fsg_aws_request r = { .method = "HEAD", .url = fsg_buf_cstr(&url),
                                     .action = "HeadObject", .resource = fsg_buf_cstr(&resource),
                                     .region = region };
        rc = fsg_aws_request(c, &r, &resp, err);
        if (rc == FSG_OK || hop > 0 || !s_follow_region(bucket, region, &resp, err)) {
            break;
        }
    }
    if (rc != FSG_OK) {
        s_name_missing(err, rc, bucket, key, fsg_aws_client_region(c));
        goto out;
    }
    struct fsg_s3_object_info info = { 0 };
    const char *len = fsg_http_headers_get(&resp.headers, "Content-Length");
    const char *etag = fsg_http_headers_get(&resp.headers, "ETag");
    const char *lm = fsg_http_headers_get(&resp.headers, "Last-Modified");
    if (len == NULL || fsg_span_to_u64(fsg_span_from_cstr(len), &info.size) != FSG_OK) {
        rc = fsg_error_set(err, FSG_E_PARSE, "S3 HeadObject %s: missing or bad Content-Length",
                           fsg_buf_cstr(&resource));
        goto out;
    }
    snprintf(info.etag, sizeof info.etag, "%s", etag != NULL ? etag : "");
    snprintf(info.last_modified, sizeof info.last_modified, "%s", lm != NULL ? lm : "");
    *ret = info;
out:
    fsg_http_response_clean_up(&resp);
    fsg_buf_clean_up(&resource);
    fsg_buf_clean_up(&url);
    return rc;
}

/* ---- ListObjectsV2 -------------------------------------------------------------------------- */

static enum fsg_err s_query_param(struct fsg_buf *q, const char *name, const char *value)
{
    enum fsg_err rc = fsg_buf_printf(q, "&%s=", name);
    if (rc == FSG_OK) {
        rc = fsg_uri_encode(q, fsg_span_from_cstr(value), false);
    }
    return rc;
}

static enum fsg_err s_list_url(const struct fsg_aws_client *c, const char *region,
                               const char *bucket, const struct fsg_s3_list_options *o,
                               const char *token, struct fsg_buf *url)
{
    unsigned max_keys = o->max_keys > 0 && o->max_keys < S_MAX_KEYS ? o->max_keys : S_MAX_KEYS;
    enum fsg_err rc = s_bucket_url_in(c, region, bucket, url);
    if (rc == FSG_OK) {
        /* Path-style lists "/bucket?...", virtual-hosted "/?..." (as botocore sends them). */
        rc = fsg_buf_printf(url, "%s?list-type=2&max-keys=%u", s_path_style(c, bucket) ? "" : "/",
                            max_keys);
    }
    if (rc == FSG_OK && o->prefix != NULL && o->prefix[0] != '\0') {
        rc = s_query_param(url, "prefix", o->prefix);
    }
    if (rc == FSG_OK && token != NULL) {
        rc = s_query_param(url, "continuation-token", token);
    } else if (rc == FSG_OK && o->start_after != NULL && o->start_after[0] != '\0') {
        rc = s_query_param(url, "start-after", o->start_after);
    }
    return rc;
}

static enum fsg_err s_list_page_objects(const struct fsg_aws_xml_node *root, const char *bucket,
                                        fsg_s3_object_fn *on_object, void *userdata,
                                        struct fsg_error *err)
{
    FSG_AWS_XML_FOREACH(item, root, "Contents") {
        struct fsg_s3_object obj = {
            .key = fsg_aws_xml_path_text(item, "Key"),
            .etag = fsg_aws_xml_path_text(item, "ETag"),
            .last_modified = fsg_aws_xml_path_text(item, "LastModified"),
        };
        if (obj.key[0] == '\0' || fsg_aws_xml_path_u64(item, "Size", &obj.size) != FSG_OK) {
            return fsg_error_set(err, FSG_E_PARSE,
                                 "S3 ListObjectsV2 of bucket '%s': an entry without Key or Size",
                                 bucket);
        }
        enum fsg_err rc = on_object(&obj, userdata);
        if (rc != FSG_OK) {
            return fsg_error_set(err, rc, "S3 listing of bucket '%s' stopped at key '%.200s'",
                                 bucket, obj.key);
        }
    }
    return FSG_OK;
}

/* Fetches and reports one page; *next_token gets the continuation token ("" on the last). */
static enum fsg_err s_list_page(struct fsg_aws_client *c, const char *bucket,
                                const struct fsg_s3_list_options *o, const char *token,
                                fsg_s3_object_fn *on_object, void *userdata,
                                struct fsg_buf *next_token, struct fsg_error *err)
{
    struct fsg_buf url = FSG_BUF_INIT, resource = FSG_BUF_INIT;
    struct fsg_http_response resp = { 0 };
    struct fsg_aws_xml_doc *doc = NULL;
    enum fsg_err rc = FSG_OK;
    if (fsg_buf_printf(&resource, "s3://%s/%s", bucket, o->prefix != NULL ? o->prefix : "") !=
        FSG_OK) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "S3 ListObjectsV2: out of memory");
        goto out;
    }
    char region[S_REGION_SIZE];
    s_region_for(c, bucket, region);
    for (int hop = 0;; hop++) {
        fsg_buf_reset(&url);
        if (s_list_url(c, region, bucket, o, token, &url) != FSG_OK) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "S3 ListObjectsV2: out of memory");
            goto out;
        }
        struct fsg_aws_request r = { .method = "GET", .url = fsg_buf_cstr(&url),
                                     .action = "ListObjectsV2",
                                     .resource = fsg_buf_cstr(&resource), .region = region };
        rc = fsg_aws_request(c, &r, &resp, err);
        if (rc == FSG_OK || hop > 0 || !s_follow_region(bucket, region, &resp, err)) {
            break;
        }
    }
    if (rc != FSG_OK) {
        s_name_missing(err, rc, bucket, NULL, fsg_aws_client_region(c));
        goto out;
    }
    rc = fsg_aws_xml_parse(fsg_span_from_buf(&resp.body), NULL, &doc, err);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "S3 ListObjectsV2 of bucket '%s': ", bucket);
        goto out;
    }
    const struct fsg_aws_xml_node *root = fsg_aws_xml_root(doc);
    rc = s_list_page_objects(root, bucket, on_object, userdata, err);
    bool truncated = false;
    if (rc == FSG_OK && fsg_aws_xml_path_bool(root, "IsTruncated", &truncated) == FSG_OK &&
        truncated) {
        const char *next = fsg_aws_xml_path_text(root, "NextContinuationToken");
        if (next[0] == '\0' || (token != NULL && strcmp(next, token) == 0)) {
            rc = fsg_error_set(err, FSG_E_PARSE,
                               "S3 ListObjectsV2 of bucket '%s': truncated page without a new "
                               "continuation token", bucket);
        } else if (fsg_buf_append_cstr(next_token, next) != FSG_OK) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "S3 ListObjectsV2: out of memory");
        }
    }
out:
    fsg_aws_xml_doc_destroy(doc);
    fsg_http_response_clean_up(&resp);
    fsg_buf_clean_up(&resource);
    fsg_buf_clean_up(&url);
    return rc;
}

enum fsg_err fsg_s3_list_objects(struct fsg_aws_client *c, const char *bucket,
                                 const struct fsg_s3_list_options *opts,
                                 fsg_s3_object_fn *on_object, void *userdata,
                                 struct fsg_error *err)
{
    static const struct fsg_s3_list_options s_defaults = { 0 };
    const struct fsg_s3_list_options *o = opts != NULL ? opts : &s_defaults;
    struct fsg_buf token = FSG_BUF_INIT, next = FSG_BUF_INIT;
    enum fsg_err rc = s_check_names(bucket, NULL, false, err);
    if (rc != FSG_OK) {
        return rc;
    }
    if (on_object == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "S3 listing without an object callback");
    }
    bool first = true;
    while (rc == FSG_OK && (first || token.len > 0)) {
        fsg_buf_reset(&next);
        rc = s_list_page(c, bucket, o, first ? NULL : fsg_buf_cstr(&token), on_object, userdata,
                         &next, err);
        first = false;
        struct fsg_buf swap = token;
        token = next;
        next = swap;
    }
    fsg_buf_clean_up(&next);
    fsg_buf_clean_up(&token);
    return rc;
}

/* ---- PutObject ------------------------------------------------------------------------------ */

enum fsg_err fsg_s3_put_object(struct fsg_aws_client *c, const char *bucket, const char *key,
                               struct fsg_span body, const char *content_type,
                               struct fsg_error *err)
{
    struct fsg_buf url = FSG_BUF_INIT, resource = FSG_BUF_INIT;
    struct fsg_http_headers headers = { 0 };
    struct fsg_http_response resp = { 0 };
    enum fsg_err rc = s_check_names(bucket, key, true, err);
    if (rc != FSG_OK) {
        return rc;
    }
    if (fsg_buf_printf(&resource, "s3://%s/%s", bucket, key) != FSG_OK ||
        (content_type != NULL &&
         fsg_http_headers_add(&headers, "Content-Type", content_type) != FSG_OK)) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "S3 PutObject: out of memory");
        goto out;
    }
    /* Signed for the bucket's region (learned from an earlier redirect, or from this one, as
     * HeadObject does). A PUT of the whole body is idempotent: retried as it is (aws.c). */
    char region[S_REGION_SIZE];
    s_region_for(c, bucket, region);
    for (int hop = 0;; hop++) {
        fsg_buf_reset(&url);
        if (s_object_url_in(c, region, bucket, key, &url) != FSG_OK) {
            rc = fsg_error_set(err, FSG_E_NOMEM, "S3 PutObject: out of memory");
            goto out;
        }
        struct fsg_aws_request r = { .method = "PUT", .url = fsg_buf_cstr(&url),
                                     .headers = &headers, .body = body, .action = "PutObject",
                                     .resource = fsg_buf_cstr(&resource), .region = region };
        rc = fsg_aws_request(c, &r, &resp, err);
        if (rc == FSG_OK || hop > 0 || !s_follow_region(bucket, region, &resp, err)) {
            break;
        }
        fsg_http_response_clean_up(&resp);
        resp = (struct fsg_http_response){ 0 };
    }
    s_name_missing(err, rc, bucket, key, fsg_aws_client_region(c));
out:
    fsg_http_response_clean_up(&resp);
    fsg_http_headers_clean_up(&headers);
    fsg_buf_clean_up(&resource);
    fsg_buf_clean_up(&url);
    return rc;
}
