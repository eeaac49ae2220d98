/* The libcurl transport: the only file that includes curl.h.
 * One easy handle per client: curl_easy_reset() between requests keeps the connection cache,
 * so keep-alive connections are reused (as aws-lambda-cpp does). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/http/http_internal.h"
#include "lib/core/deadline.h"
#include "lib/core/mem.h"

/* How far apart libcurl's clock and ours may be when telling which timeout fired. */
#define S_TIMER_SLACK_MS 50L
/* Error bodies are a few hundred bytes of XML; a bigger one is cut here (we only need the code). */
#define S_MAX_ERROR_BODY_BYTES ((size_t)256 << 10)

struct s_curl {
    CURL *easy;
    long connect_timeout_ms;
    long read_timeout_ms; /* < 0: no read timeout */
    long request_timeout_ms; /* < 0: no overall timeout of its own */
    size_t max_body_bytes;
    char *ca_file;        /* owned, NULL = system store */
};

/* State of one transfer, shared by the header and write callbacks. */
struct s_transfer {
    struct s_curl *t;
    struct fsg_http_response *resp;
    fsg_http_body_fn *on_body;
    void *userdata;
    enum fsg_err cb_rc;          /* why a callback aborted the transfer */
    struct fsg_error cb_err;
    bool error_body_cut;         /* a non-2xx body hit S_MAX_ERROR_BODY_BYTES: not a failure */
    unsigned long long body_bytes;
    long total_ms;               /* CURLOPT_TIMEOUT_MS of this exchange; 0 = none */
    long elapsed_ms;             /* how long curl_easy_perform took */
    bool total_is_run_deadline;  /* total_ms is the time left before the run deadline */
};

static pthread_once_t s_global_once = PTHREAD_ONCE_INIT;
static CURLcode s_global_rc = CURLE_FAILED_INIT;

static void s_global_init(void)
{
    s_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t s_on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct s_transfer *x = userdata;
    size_t n = size * nmemb;
    enum fsg_err rc = fsg_http_parse_header_line((struct fsg_span){ (const uint8_t *)ptr, n },
                                                 &x->resp->headers, &x->resp->status);
    if (rc != FSG_OK) {
        x->cb_rc = fsg_error_set(&x->cb_err, rc, "out of memory reading response headers");
        return 0;
    }
    return n;
}

static bool s_is_2xx(int status)
{
    return status >= 200 && status < 300;
}

static size_t s_buffer_body(struct s_transfer *x, const char *ptr, size_t n)
{
    bool ok_status = s_is_2xx(x->resp->status);
    size_t limit = ok_status ? x->t->max_body_bytes : S_MAX_ERROR_BODY_BYTES;
    if (x->resp->body.len + n > limit) {
        if (!ok_status) {
            x->error_body_cut = true; /* enough of it for the error code */
            return 0;
        }
        x->cb_rc = fsg_error_set(&x->cb_err, FSG_E_LIMIT,
                                 "response body larger than the %zu-byte limit", limit);
        return 0;
    }
    if (fsg_buf_append(&x->resp->body, ptr, n) != FSG_OK) {
        x->cb_rc = fsg_error_set(&x->cb_err, FSG_E_NOMEM, "out of memory buffering a response");
        return 0;
    }
    return n;
}

static size_t s_on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct s_transfer *x = userdata;
    size_t n = size * nmemb;
    if (x->on_body == NULL || !s_is_2xx(x->resp->status)) {
        return s_buffer_body(x, ptr, n);
    }
    enum fsg_err rc = x->on_body((struct fsg_span){ (const uint8_t *)ptr, n }, x->userdata);
    if (rc != FSG_OK) {
        /* The callback's own error detail is not visible here: it keeps it in its userdata
         * (see fsg_http_body_fn); record the code so the caller can tell it from a network cut. */
        x->cb_rc = fsg_error_set(&x->cb_err, rc, "the body consumer stopped the transfer (%s)",
                                 fsg_err_name(rc));
        return 0;
    }
    x->body_bytes += n;
    return n;
}

static enum fsg_err s_build_headers(const struct fsg_http_request *req, struct curl_slist **ret,
                                    struct fsg_error *err)
{
    struct curl_slist *list = NULL;
    struct fsg_buf line = FSG_BUF_INIT;
    enum fsg_err rc = FSG_OK;
    for (size_t i = 0; i < req->headers.len && rc == FSG_OK; i++) {
        const struct fsg_http_header *h = &req->headers.items[i];
        fsg_buf_reset(&line);
        /* "Name;" is curl's syntax for a header with an empty value. */
        rc = h->value[0] == '\0' ? fsg_buf_printf(&line, "%s;", h->name)
                                 : fsg_buf_printf(&line, "%s: %s", h->name, h->value);
        struct curl_slist *next = rc == FSG_OK ? curl_slist_append(list, fsg_buf_cstr(&line)) : NULL;
        if (next == NULL) {
            rc = FSG_E_NOMEM;
        } else {
            list = next;
        }
    }
    /* No "Expect: 100-continue" round trip on bodies; no unsolicited Accept header. */
    static const char *const s_removed[] = { "Expect:", "Accept:" };
    for (size_t i = 0; i < 2 && rc == FSG_OK; i++) {
        struct curl_slist *next = curl_slist_append(list, s_removed[i]);
        rc = next == NULL ? FSG_E_NOMEM : FSG_OK;
        list = next != NULL ? next : list;
    }
    fsg_buf_clean_up_secure(&line); /* it held an Authorization value */
    if (rc != FSG_OK) {
        curl_slist_free_all(list);
        return fsg_error_set(err, rc, "out of memory building request headers");
    }
    *ret = list;
    return FSG_OK;
}

/* curl_easy_setopt results are checked together: any failure means an option this libcurl
 * build does not support, which we report rather than send a request without it. */
#define S_SETOPT(h, opt, val) (ok = ok && curl_easy_setopt((h), (opt), (val)) == CURLE_OK)

static bool s_set_method(CURL *h, const struct fsg_http_request *req)
{
    bool ok = true;
    bool has_body = req->body.len > 0;
    if (strcmp(req->method, "HEAD") == 0) {
        S_SETOPT(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "GET") == 0 && !has_body) {
        S_SETOPT(h, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(req->method, "POST") != 0) {
            S_SETOPT(h, CURLOPT_CUSTOMREQUEST, req->method);
        }
        /* Borrowed: the request body outlives the transfer. A POST without body still needs
         * Content-Length: 0, which POSTFIELDS with size 0 gives. */
        S_SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body.len);
        S_SETOPT(h, CURLOPT_POSTFIELDS, has_body ? (const char *)req->body.ptr : "");
    }
    return ok;
}

/* Only http and https, at run time too: Debian's libcurl also speaks file, ftp, ldap, rtmp,
 * smb, gopher and more, and a URL built from a config or an event must never reach those.
 * CURLOPT_PROTOCOLS_STR/REDIR_PROTOCOLS_STR exist since 7.85.0; the bitmask options before. */
static bool s_set_protocols(CURL *h)
{
    bool ok = true;
#if LIBCURL_VERSION_NUM >= 0x075500
    S_SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
    S_SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    S_SETOPT(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    S_SETOPT(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    return ok;
}

static bool s_set_options(struct s_curl *t, const struct fsg_http_request *req,
                          struct curl_slist *headers, struct s_transfer *x, char *errbuf)
{
    CURL *h = t->easy;
    bool ok = true;
    S_SETOPT(h, CURLOPT_URL, req->url);
    S_SETOPT(h, CURLOPT_FRESH_CONNECT, req->fresh_connection ? 1L : 0L);
    S_SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
    S_SETOPT(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    ok = ok && s_set_protocols(h);
    S_SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
    S_SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L); /* always: a private CA is configured, never skipped */
    S_SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (t->ca_file != NULL) {
        S_SETOPT(h, CURLOPT_CAINFO, t->ca_file);
    }
    /* Flow-log objects are gzip files, sometimes stored with Content-Encoding: gzip; the
     * decoder inflates them itself, so curl must hand over the raw bytes. */
    S_SETOPT(h, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    /* The URL is sent as signed: libcurl would otherwise squash "/./" and "/../" segments
     * (RFC 3986 dot-segment removal), and an S3 key such as "a/../b" would name another object
     * and fail its signature. https://curl.se/libcurl/c/CURLOPT_PATH_AS_IS.html */
    S_SETOPT(h, CURLOPT_PATH_AS_IS, 1L);
    S_SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, t->connect_timeout_ms);
    /* One overall bound per exchange: the low-speed limit below never fires for a server that
     * drips one byte a second. https://curl.se/libcurl/c/CURLOPT_TIMEOUT_MS.html */
    if (x->total_ms > 0) {
        S_SETOPT(h, CURLOPT_TIMEOUT_MS, x->total_ms);
    }
    if (t->read_timeout_ms >= 0) {
        /* "No byte for read_timeout_ms": below 1 byte/s for that long (whole seconds). */
        long secs = (t->read_timeout_ms + 999) / 1000;
        S_SETOPT(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        S_SETOPT(h, CURLOPT_LOW_SPEED_TIME, secs > 0 ? secs : 1L);
    }
    S_SETOPT(h, CURLOPT_HTTPHEADER, headers);
    S_SETOPT(h, CURLOPT_HEADERFUNCTION, s_on_header);
    S_SETOPT(h, CURLOPT_HEADERDATA, x);
    S_SETOPT(h, CURLOPT_WRITEFUNCTION, s_on_write);
    S_SETOPT(h, CURLOPT_WRITEDATA, x);
    return ok && s_set_method(h, req);
}

/* "https://host:port/path?q" -> "host:port" for messages (never the query). */
static void s_host_of(const char *url, char *out, size_t out_size)
{
    const char *p = strstr(url, "://");
    p = p != NULL ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    /* Never the user-info ("user:password@host"): it is a credential. */
    const char *at = memchr(p, '@', n);
    while (at != NULL) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
        at = memchr(p, '@', n);
    }
    snprintf(out, out_size, "%.*s", (int)(n < 200 ? n : 200), p);
}

static enum fsg_err s_map_curl_error(CURLcode cc, const struct s_transfer *x, const char *url,
                                     const char *errbuf, struct fsg_error *err)
{
    char host[256];
    s_host_of(url, host, sizeof host);
    const char *detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);
    enum fsg_err rc;
    const char *kind;
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        /* libcurl's timer and ours differ by a few ms: S_TIMER_SLACK_MS decides which
         * limit it was. */
        bool total_hit = x->total_ms > 0 && x->elapsed_ms + S_TIMER_SLACK_MS >= x->total_ms;
        if (x->total_is_run_deadline && (total_hit || fsg_deadline_expired(fsg_run_deadline()))) {
            kind = "DeadlineExceeded";
            rc = fsg_error_set(err, FSG_E_CANCELLED,
                               "%s: stopped at the run deadline (after %llu body bytes); the "
                               "run ran out of time", host, x->body_bytes);
        } else if (total_hit) {
            kind = "TotalTimeout";
            rc = fsg_error_set(err, FSG_E_NETWORK,
                               "%s: no complete answer within %ld ms (after %llu body bytes); "
                               "the server or the network is too slow", host, x->total_ms,
                               x->body_bytes);
        } else if (x->resp->status == 0 && strstr(detail, "onnect") != NULL) {
            kind = "ConnectTimeout";
            rc = fsg_error_set(err, FSG_E_NETWORK,
                               "%s: could not connect within %ld ms; check the endpoint and network",
                               host, x->t->connect_timeout_ms);
        } else {
            kind = "ReadTimeout";
            rc = fsg_error_set(err, FSG_E_NETWORK,
                               "%s: timed out: no data for %ld ms (after %llu body bytes); check "
                               "the endpoint and network", host, x->t->read_timeout_ms,
                               x->body_bytes);
        }
        break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return fsg_error_set(err, FSG_E_INVALID_ARG, "bad URL for %s: %s", host, detail);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
        kind = "TLSVerifyFailed";
        rc = fsg_error_set(err, FSG_E_NETWORK,
                           "%s: TLS verification failed (%s); for a private CA set ca_file", host,
                           detail);
        break;
    default:
        kind = cc == CURLE_PARTIAL_FILE || cc == CURLE_RECV_ERROR ? "ConnectionClosed"
                                                                  : "ConnectionError";
        if (x->resp->status != 0) {
            rc = fsg_error_set(err, FSG_E_NETWORK,
                               "%s: connection lost after %llu body bytes (%s); check the network",
                               host, x->body_bytes, detail);
        } else {
            rc = fsg_error_set(err, FSG_E_NETWORK, "%s: %s; check the endpoint and network", host,
                               detail);
        }
        break;
    }
    if (err != NULL) {
        /* A stable transport token in place of a service code: lib/retry prices timeouts. */
        snprintf(err->service_code, sizeof err->service_code, "%s", kind);
        err->offset = x->body_bytes;
    }
    return rc;
}

static enum fsg_err s_send(void *impl, const struct fsg_http_request *req,
                           struct fsg_http_response *resp, fsg_http_body_fn *on_body,
                           void *userdata, struct fsg_error *err)
{
    struct s_curl *t = impl;
    struct curl_slist *headers = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct s_transfer x = { .t = t, .resp = resp, .on_body = on_body, .userdata = userdata };

    enum fsg_err rc = s_build_headers(req, &headers, err);
    if (rc != FSG_OK) {
        return rc;
    }
    struct fsg_deadline run = fsg_run_deadline();
    x.total_ms = fsg_deadline_bound_ms(run, t->request_timeout_ms);
    x.total_is_run_deadline = fsg_deadline_is_set(run) &&
                              (t->request_timeout_ms <= 0 ||
                               fsg_deadline_remaining_ms(run) <= t->request_timeout_ms);
    curl_easy_reset(t->easy);
    if (!s_set_options(t, req, headers, &x, errbuf)) {
        rc = fsg_error_set(err, FSG_E_INTERNAL, "this libcurl rejects a required option");
        goto out;
    }
    int64_t started_ms = fsg_clock_monotonic_ms();
    CURLcode cc = curl_easy_perform(t->easy);
    x.elapsed_ms = (long)(fsg_clock_monotonic_ms() - started_ms);
    long status = 0;
    if (curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status > 0) {
        resp->status = (int)status;
    }
    if (cc == CURLE_OK || (cc == CURLE_WRITE_ERROR && x.error_body_cut)) {
        rc = FSG_OK;
    } else if (cc == CURLE_WRITE_ERROR && x.cb_rc != FSG_OK) {
        rc = x.cb_rc;
        if (err != NULL) {
            *err = x.cb_err;
            err->offset = x.body_bytes;
        }
    } else {
        rc = s_map_curl_error(cc, &x, req->url, errbuf, err);
    }
out:
    /* The handle keeps pointers to these until the next reset. */
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, NULL);
    for (struct curl_slist *l = headers; l != NULL; l = l->next) {
        fsg_secure_zero(l->data, strlen(l->data)); /* Authorization lines */
    }
    curl_slist_free_all(headers);
    return rc;
}

static void s_destroy(void *impl)
{
    struct s_curl *t = impl;
    if (t == NULL) {
        return;
    }
    if (t->easy != NULL) {
        curl_easy_cleanup(t->easy);
    }
    fsg_free(t->ca_file);
    fsg_free(t);
}

/* The trust store when no ca_file is given: CURL_CA_BUNDLE or SSL_CERT_FILE when set (the
 * names curl's tool and OpenSSL use), else libcurl's built-in bundle if it exists, else the
 * first bundle found at a distribution's usual path. A binary built on Debian (bundle at
 * /etc/ssl/certs/ca-certificates.crt) then also verifies on Amazon Linux 2023 / Lambda
 * provided.al2023 (/etc/pki/tls/certs/ca-bundle.crt). NULL = libcurl's default. */
static const char *s_default_ca_file(void)
{
    static const char *const env_names[] = { "CURL_CA_BUNDLE", "SSL_CERT_FILE" };
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++) {
        const char *v = getenv(env_names[i]);
        if (v != NULL && v[0] != '\0') {
            return v;
        }
    }
    const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    if (vi != NULL && vi->age >= CURLVERSION_SEVENTH && vi->cainfo != NULL &&
        access(vi->cainfo, R_OK) == 0) {
        return NULL;
    }
    static const char *const known[] = {
        "/etc/pki/tls/certs/ca-bundle.crt",   /* Amazon Linux, RHEL, Fedora */
        "/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Alpine */
        "/etc/ssl/ca-bundle.pem",             /* SUSE */
        "/etc/ssl/cert.pem",                  /* Alpine, BSDs */
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (access(known[i], R_OK) == 0) {
            return known[i];
        }
    }
    return NULL;
}

enum fsg_err fsg_http_curl_transport_init(const struct fsg_http_client_options *opts,
                                          struct fsg_http_transport *ret, struct fsg_error *err)
{
    (void)pthread_once(&s_global_once, s_global_init);
    if (s_global_rc != CURLE_OK) {
        return fsg_error_set(err, FSG_E_INTERNAL, "libcurl initialisation failed: %s",
                             curl_easy_strerror(s_global_rc));
    }
    struct s_curl *t = fsg_calloc(1, sizeof *t);
    if (t == NULL) {
        return fsg_error_set(err, FSG_E_NOMEM, "out of memory creating an HTTP client");
    }
    t->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
                                                         : FSG_HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    t->read_timeout_ms = opts->read_timeout_ms != 0 ? opts->read_timeout_ms
                                                    : FSG_HTTP_DEFAULT_READ_TIMEOUT_MS;
    t->max_body_bytes = opts->max_body_bytes > 0 ? opts->max_body_bytes
                                                 : FSG_HTTP_DEFAULT_MAX_BODY_BYTES;
    /* A caller that waits forever for the first byte (the Lambda Runtime API's long poll)
     * gets no overall default either. */
    t->request_timeout_ms = opts->request_timeout_ms != 0 ? opts->request_timeout_ms
                            : opts->read_timeout_ms < 0 ? -1L
                                                        : FSG_HTTP_DEFAULT_REQUEST_TIMEOUT_MS;
    enum fsg_err rc = FSG_OK;
    const char *ca_file = opts->ca_file != NULL ? opts->ca_file : s_default_ca_file();
    if (ca_file != NULL && (t->ca_file = fsg_strdup(ca_file)) == NULL) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory creating an HTTP client");
    } else if ((t->easy = curl_easy_init()) == NULL) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "libcurl could not create a handle");
    }
    if (rc != FSG_OK) {
        s_destroy(t);
        return rc;
    }
    *ret = (struct fsg_http_transport){ .send = s_send, .destroy = s_destroy, .impl = t };
    return FSG_OK;
}
