/* lib/http/http.c (headers, header-line parsing, client over a transport) with the scripted
 * transport, and lib/http/http_curl.c against a tiny in-process HTTP server on 127.0.0.1. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/http/http.h"
#include "lib/core/deadline.h"
#include "lib/http/http_internal.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"
#include "tests/unit/http_script.h"

/* ---- headers -------------------------------------------------------------------------------- */

static int s_headers_add_get_set(void)
{
    struct fsg_http_headers h = { 0 };
    T_CHECK(fsg_http_headers_get(&h, "x") == NULL);
    T_OK(fsg_http_headers_add(&h, "X-One", "1"));
    T_OK(fsg_http_headers_add(&h, "x-one", "2"));
    T_OK(fsg_http_headers_add(&h, "Other", ""));
    T_STR_EQ(fsg_http_headers_get(&h, "X-ONE"), "1"); /* first, case-insensitive */
    T_STR_EQ(fsg_http_headers_get(&h, "other"), "");
    T_OK(fsg_http_headers_set(&h, "X-one", "3"));      /* replaces both */
    T_CHECK(h.len == 2);
    T_STR_EQ(fsg_http_headers_get(&h, "x-one"), "3");
    /* set with a value that points into the header being replaced */
    T_OK(fsg_http_headers_set(&h, "x-one", fsg_http_headers_get(&h, "x-one")));
    T_STR_EQ(fsg_http_headers_get(&h, "X-One"), "3");
    for (int i = 0; i < 100; i++) {
        T_OK(fsg_http_headers_add(&h, "n", "v"));
    }
    T_CHECK(h.len == 102);
    fsg_http_headers_clean_up(&h);
    fsg_http_headers_clean_up(&h); /* idempotent */
    T_CHECK(h.items == NULL && h.len == 0);
    return 0;
}

static int s_headers_out_of_memory(void)
{
    struct fsg_http_headers h = { 0 };
    enum fsg_err rc = FSG_E_NOMEM;
    long n = 1;
    for (; rc != FSG_OK && n < 10; n++) {
        fsg_mem_fail_after(n);
        rc = fsg_http_headers_add(&h, "a", "b");
        fsg_mem_fail_after(0);
        T_CHECK(rc == FSG_OK || (rc == FSG_E_NOMEM && h.len == 0));
    }
    T_CHECK(rc == FSG_OK && h.len == 1 && n > 3);
    fsg_http_headers_clean_up(&h);
    return 0;
}

static int s_parse_header_lines(void)
{
    struct fsg_http_headers h = { 0 };
    int status = 0;
    struct {
        const char *line;
        int status;
        size_t n;
    } steps[] = {
        { "HTTP/1.1 100 Continue\r\n", 100, 0 },
        { "\r\n", 100, 0 },
        { "HTTP/1.1 206 Partial Content\r\n", 206, 0 },
        { "Content-Range:  bytes 5-9/10 \r\n", 206, 1 },
        { "ETag: \"abc\"\r\n", 206, 2 },
        { " folded continuation\r\n", 206, 2 },
        { "no colon here\r\n", 206, 2 },
        { ": empty name\r\n", 206, 2 },
        { "X-Empty:\r\n", 206, 3 },
        { "HTTP/2 404\r\n", 404, 0 },
        { "HTTP/1.1 20 short\r\n", 404, 0 }, /* not a status line: no colon either */
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        T_OK(fsg_http_parse_header_line(fsg_span_from_cstr(steps[i].line), &h, &status));
        T_CHECK(status == steps[i].status);
        T_CHECK(h.len == steps[i].n);
        if (i == 8) {
            T_STR_EQ(fsg_http_headers_get(&h, "content-range"), "bytes 5-9/10");
            T_STR_EQ(fsg_http_headers_get(&h, "etag"), "\"abc\"");
            T_STR_EQ(fsg_http_headers_get(&h, "x-empty"), "");
        }
    }
    fsg_http_headers_clean_up(&h);
    return 0;
}

/* ---- client over the scripted transport ------------------------------------------------------ */

struct s_sink {
    struct fsg_buf got;
    size_t calls;
    size_t fail_at_call; /* 0 = never */
};

static enum fsg_err s_sink_body(struct fsg_span chunk, void *userdata)
{
    struct s_sink *s = userdata;
    if (++s->calls == s->fail_at_call) {
        return FSG_E_CANCELLED;
    }
    return fsg_buf_append_span(&s->got, chunk);
}

static int s_client_over_script(void)
{
    static const struct t_http_exchange ex[] = {
        { .method = "GET", .url = "https://h/a", .status = 200, .headers = "ETag: \"e\"\n",
          .body = "abcdefghij", .chunk = 3 },
        { .status = 500, .body = "<Error/>" },
        { .status = 200, .body = "abcdefghij", .chunk = 2 },
    };
    struct t_http_script script;
    t_http_script_init(&script, ex, 3);
    struct fsg_http_client *c = t_http_script_client(&script);
    T_CHECK(c != NULL);
    struct fsg_http_request req = { .method = "GET", .url = "https://h/a" };
    T_OK(fsg_http_headers_add(&req.headers, "Range", "bytes=0-"));
    struct fsg_http_response resp = { 0 };
    struct s_sink sink = { 0 };
    struct fsg_error err = { 0 };

    T_OK(fsg_http_send(c, &req, &resp, s_sink_body, &sink, &err));
    T_CHECK(resp.status == 200 && sink.calls == 4 && resp.body.len == 0);
    T_STR_EQ(fsg_buf_cstr(&sink.got), "abcdefghij");
    T_STR_EQ(fsg_http_headers_get(&resp.headers, "etag"), "\"e\"");
    T_STR_EQ(t_http_script_header(&script, 0, "range"), "bytes=0-");

    /* non-2xx: buffered, never streamed; the response is reset by the next send */
    T_OK(fsg_http_send(c, &req, &resp, s_sink_body, &sink, &err));
    T_CHECK(resp.status == 500 && sink.calls == 4);
    T_STR_EQ(fsg_buf_cstr(&resp.body), "<Error/>");
    T_CHECK(fsg_http_headers_get(&resp.headers, "etag") == NULL);

    /* the consumer's code comes back */
    sink.fail_at_call = 6;
    T_ERR(FSG_E_CANCELLED, fsg_http_send(c, &req, &resp, s_sink_body, &sink, &err));
    T_CHECK(!script.mismatch);

    T_ERR(FSG_E_INVALID_ARG, fsg_http_send(c, NULL, &resp, NULL, NULL, &err));
    struct fsg_http_request bad = { .method = "GET" };
    T_ERR(FSG_E_INVALID_ARG, fsg_http_send(c, &bad, &resp, NULL, NULL, &err));
    T_CHECK(strstr(err.msg, "URL") != NULL);

    fsg_http_response_clean_up(&resp);
    fsg_http_request_clean_up(&req);
    fsg_buf_clean_up(&sink.got);
    fsg_http_client_destroy(c);
    t_http_script_clean_up(&script);
    fsg_http_client_destroy(NULL);
    return 0;
}

static int s_client_needs_send(void)
{
    struct fsg_http_transport t = { 0 };
    struct fsg_http_client *c = NULL;
    struct fsg_error err;
    T_ERR(FSG_E_INVALID_ARG, fsg_http_client_new_with_transport(&t, &c, &err));
    T_CHECK(c == NULL);
    return 0;
}

/* ---- the libcurl transport against a loopback server ----------------------------------------- */

enum s_mode { S_OK, S_NOT_FOUND, S_CUT, S_SILENT, S_BIG, S_DRIP };

struct s_server {
    int fd;
    int port;
    pthread_t thread;
    atomic_int mode;
    atomic_int stop;
    atomic_int accepts;
    atomic_int requests;
    char last[16384];      /* last request, headers and body */
    atomic_size_t last_len;
};

/* Reads one request (headers, then Content-Length bytes) into s->last; false on EOF/stop. */
static bool s_read_request(struct s_server *s, int fd)
{
    size_t len = 0;
    size_t need = 0;
    for (;;) {
        char *end = len > 0 ? strstr(s->last, "\r\n\r\n") : NULL;
        if (end != NULL && need == 0) {
            const char *cl = strcasestr(s->last, "Content-Length:");
            need = (size_t)(end + 4 - s->last) + (cl != NULL && cl < end ? strtoul(cl + 15, NULL, 10) : 0);
        }
        if (need > 0 && len >= need) {
            atomic_store(&s->last_len, len);
            return true;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (atomic_load(&s->stop)) {
            return false;
        }
        if (poll(&p, 1, 50) <= 0) {
            continue;
        }
        ssize_t n = read(fd, s->last + len, sizeof s->last - 1 - len);
        if (n <= 0) {
            return false;
        }
        len += (size_t)n;
        s->last[len] = '\0';
    }
}

static void s_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Answers one request; false when the connection must close. */
static bool s_answer(struct s_server *s, int fd)
{
    static const char s_xml[] = "<Error><Code>NoSuchKey</Code></Error>";
    char buf[2048];
    switch (atomic_load(&s->mode)) {
    case S_OK:
        snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"e1\"\r\n\r\nhello");
        s_write_all(fd, buf, strlen(buf));
        return true;
    case S_NOT_FOUND:
        snprintf(buf, sizeof buf, "HTTP/1.1 404 Not Found\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(s_xml), s_xml);
        s_write_all(fd, buf, strlen(buf));
        return true;
    case S_CUT:
        snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
        s_write_all(fd, buf, strlen(buf));
        return false;
    case S_BIG:
        snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
        s_write_all(fd, buf, strlen(buf));
        memset(buf, 'x', 1000);
        s_write_all(fd, buf, 1000);
        return true;
    case S_DRIP:
        /* one byte every 200 ms: fast enough for the low-speed limit, never done */
        snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
        s_write_all(fd, buf, strlen(buf));
        while (!atomic_load(&s->stop)) {
            struct timespec ts = { 0, 200 * 1000000L };
            nanosleep(&ts, NULL);
            if (send(fd, "x", 1, MSG_NOSIGNAL) != 1) {
                break;
            }
        }
        return false;
    default: /* S_SILENT: never answer */
        while (!atomic_load(&s->stop)) {
            struct timespec ts = { 0, 20 * 1000000L };
            nanosleep(&ts, NULL);
        }
        return false;
    }
}

static void *s_serve(void *arg)
{
    struct s_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = { .fd = s->fd, .events = POLLIN };
        if (poll(&p, 1, 50) <= 0) {
            continue;
        }
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) {
            continue;
        }
        atomic_fetch_add(&s->accepts, 1);
        while (s_read_request(s, c)) {
            atomic_fetch_add(&s->requests, 1);
            if (!s_answer(s, c)) {
                break;
            }
        }
        close(c);
    }
    return NULL;
}

static int s_server_start(struct s_server *s, enum s_mode mode)
{
    memset(s, 0, sizeof *s);
    atomic_store(&s->mode, (int)mode);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->fd, 8) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &alen) != 0) {
        return -1;
    }
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->thread, NULL, s_serve, s) == 0 ? 0 : -1;
}

static void s_server_stop(struct s_server *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

static struct fsg_http_client *s_curl_client(long read_timeout_ms, size_t max_body)
{
    struct fsg_http_client_options o = { .connect_timeout_ms = 2000,
                                         .read_timeout_ms = read_timeout_ms,
                                         .max_body_bytes = max_body };
    struct fsg_http_client *c = NULL;
    return fsg_http_client_new(&o, &c, NULL) == FSG_OK ? c : NULL;
}

static int s_curl_stream_reuse_and_errors(void)
{
    struct s_server srv;
    T_CHECK(s_server_start(&srv, S_OK) == 0);
    struct fsg_http_client *c = s_curl_client(5000, 0);
    T_CHECK(c != NULL);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/k%%20x?list-type=2", srv.port);
    struct fsg_http_request req = { .method = "GET", .url = url };
    T_OK(fsg_http_headers_add(&req.headers, "X-Test", "yes"));
    struct fsg_http_response resp = { 0 };
    struct s_sink sink = { 0 };
    struct fsg_error err = { 0 };

    T_OK(fsg_http_send(c, &req, &resp, s_sink_body, &sink, &err));
    T_CHECK(resp.status == 200);
    T_STR_EQ(fsg_buf_cstr(&sink.got), "hello");
    T_STR_EQ(fsg_http_headers_get(&resp.headers, "ETag"), "\"e1\"");
    T_CHECK(strstr(srv.last, "GET /k%20x?list-type=2 HTTP/1.1\r\n") == srv.last);
    T_CHECK(strstr(srv.last, "X-Test: yes\r\n") != NULL);
    T_CHECK(strcasestr(srv.last, "Accept-Encoding") == NULL); /* raw bytes, never decoded */

    /* buffered 2xx (no on_body), then a 404 body buffered, on the same connection */
    T_OK(fsg_http_send(c, &req, &resp, NULL, NULL, &err));
    T_STR_EQ(fsg_buf_cstr(&resp.body), "hello");
    atomic_store(&srv.mode, S_NOT_FOUND);
    T_OK(fsg_http_send(c, &req, &resp, s_sink_body, &sink, &err));
    T_CHECK(resp.status == 404);
    T_CHECK(strstr(fsg_buf_cstr(&resp.body), "NoSuchKey") != NULL);
    T_CHECK(atomic_load(&srv.accepts) == 1 && atomic_load(&srv.requests) == 3);

    /* POST with a body above curl's Expect: 100-continue threshold: no Expect round trip */
    static char big[4000];
    memset(big, 'b', sizeof big);
    struct fsg_http_request post = { .method = "POST", .url = url,
                                     .body = { (const uint8_t *)big, sizeof big } };
    atomic_store(&srv.mode, S_OK);
    T_OK(fsg_http_send(c, &post, &resp, NULL, NULL, &err));
    T_CHECK(resp.status == 200);
    T_CHECK(strcasestr(srv.last, "Expect:") == NULL);
    T_CHECK(strstr(srv.last, "Content-Length: 4000\r\n") != NULL);
    T_CHECK(atomic_load(&srv.last_len) > sizeof big);

    /* a body cut mid-stream is a network error with the offset reached */
    atomic_store(&srv.mode, S_CUT);
    fsg_buf_reset(&sink.got);
    T_ERR(FSG_E_NETWORK, fsg_http_send(c, &req, &resp, s_sink_body, &sink, &err));
    T_STR_EQ(err.service_code, "ConnectionClosed");
    T_CHECK(err.offset == 10);
    T_STR_EQ(fsg_buf_cstr(&sink.got), "0123456789");
    T_CHECK(strstr(err.msg, "127.0.0.1") != NULL);

    /* the consumer's error stops the transfer and comes back as is */
    atomic_store(&srv.mode, S_OK);
    sink.fail_at_call = sink.calls + 1;
    T_ERR(FSG_E_CANCELLED, fsg_http_send(c, &req, &resp, s_sink_body, &sink, &err));

    fsg_http_response_clean_up(&resp);
    fsg_http_request_clean_up(&req);
    fsg_buf_clean_up(&sink.got);
    fsg_http_client_destroy(c);
    s_server_stop(&srv);
    return 0;
}

static int s_curl_limits_and_timeouts(void)
{
    struct s_server srv;
    T_CHECK(s_server_start(&srv, S_BIG) == 0);
    struct fsg_http_client *c = s_curl_client(1000, 100);
    T_CHECK(c != NULL);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", srv.port);
    struct fsg_http_request req = { .method = "GET", .url = url };
    struct fsg_http_response resp = { 0 };
    struct fsg_error err = { 0 };

    /* a buffered 2xx body over max_body_bytes */
    T_ERR(FSG_E_LIMIT, fsg_http_send(c, &req, &resp, NULL, NULL, &err));
    T_CHECK(strstr(err.msg, "100-byte") != NULL);

    /* a server that never answers: read timeout, quickly */
    atomic_store(&srv.mode, S_SILENT);
    time_t t0 = time(NULL);
    T_ERR(FSG_E_NETWORK, fsg_http_send(c, &req, &resp, NULL, NULL, &err));
    T_CHECK(time(NULL) - t0 <= 5);
    T_STR_EQ(err.service_code, "ReadTimeout");
    T_CHECK(strstr(err.msg, "timed out") != NULL);
    s_server_stop(&srv);

    /* nobody listening: a connection error naming the host */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", srv.port);
    T_ERR(FSG_E_NETWORK, fsg_http_send(c, &req, &resp, NULL, NULL, &err));
    T_STR_EQ(err.service_code, "ConnectionError");
    T_CHECK(strstr(err.msg, "127.0.0.1") != NULL);

    /* not a URL curl will fetch */
    struct fsg_http_request bad = { .method = "GET", .url = "ftp://127.0.0.1/" };
    T_ERR(FSG_E_INVALID_ARG, fsg_http_send(c, &bad, &resp, NULL, NULL, &err));

    fsg_http_response_clean_up(&resp);
    fsg_http_client_destroy(c);
    return 0;
}

static struct fsg_http_client *s_curl_client_total(long read_timeout_ms, long total_ms)
{
    struct fsg_http_client_options o = { .connect_timeout_ms = 2000,
                                         .read_timeout_ms = read_timeout_ms,
                                         .request_timeout_ms = total_ms };
    struct fsg_http_client *c = NULL;
    return fsg_http_client_new(&o, &c, NULL) == FSG_OK ? c : NULL;
}

/* A server that drips one byte at a time passes the low-speed limit forever: the overall
 * request timeout and the run deadline cut it off. */
static int s_curl_dripping_server_is_cut_off(void)
{
    struct s_server srv;
    T_CHECK(s_server_start(&srv, S_DRIP) == 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/slow", srv.port);
    struct fsg_http_request req = { .method = "GET", .url = url };
    struct fsg_http_response resp = { 0 };
    struct fsg_error err = { 0 };
    struct s_sink sink = { 0 };

    /* the request's own timeout: 2.5 s, although bytes keep coming. The read timeout (the
     * low-speed window) is longer, so only the overall timeout can fire; the bounds leave room
     * for a loaded CI machine (sanitizers, other jobs). */
    struct fsg_http_client *c = s_curl_client_total(4000, 2500);
    T_CHECK(c != NULL);
    int64_t t0 = fsg_clock_monotonic_ms();
    T_ERR(FSG_E_NETWORK, fsg_http_send(c, &req, &resp, s_sink_body, &sink, &err));
    int64_t took = fsg_clock_monotonic_ms() - t0;
    T_CHECK(took >= 2400 && took < 15000);
    T_STR_EQ(err.service_code, "TotalTimeout");
    T_CHECK(strstr(err.msg, "within 2500 ms") != NULL);
    T_CHECK(err.offset > 0); /* bytes did arrive: the low-speed limit alone never fired */
    fsg_http_client_destroy(c);

    /* the run deadline (1 s) comes before the request's default 15 minutes: cancelled */
    c = s_curl_client_total(4000, 0);
    T_CHECK(c != NULL);
    fsg_run_deadline_set(fsg_deadline_in_ms(1000));
    t0 = fsg_clock_monotonic_ms();
    T_ERR(FSG_E_CANCELLED, fsg_http_send(c, &req, &resp, s_sink_body, &sink, &err));
    took = fsg_clock_monotonic_ms() - t0;
    T_CHECK(took >= 900 && took < 15000);
    T_STR_EQ(err.service_code, "DeadlineExceeded");
    T_CHECK(strstr(err.msg, "run deadline") != NULL);

    /* once it has passed, nothing more is sent */
    int before = atomic_load(&srv.requests);
    T_ERR(FSG_E_CANCELLED, fsg_http_send(c, &req, &resp, s_sink_body, &sink, &err));
    T_STR_EQ(err.service_code, "DeadlineExceeded");
    T_CHECK(atomic_load(&srv.requests) == before);
    fsg_run_deadline_set(FSG_DEADLINE_NONE);

    fsg_http_response_clean_up(&resp);
    fsg_buf_clean_up(&sink.got);
    fsg_http_client_destroy(c);
    s_server_stop(&srv);
    return 0;
}

/* The path goes out byte for byte as signed: no dot-segment removal (S3 keys "a/../b"). */
static int s_curl_path_as_is(void)
{
    struct s_server srv;
    T_CHECK(s_server_start(&srv, S_OK) == 0);
    struct fsg_http_client *c = s_curl_client(5000, 0);
    T_CHECK(c != NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/bucket/logs/../x/./y/..", srv.port);
    struct fsg_http_request req = { .method = "GET", .url = url };
    struct fsg_http_response resp = { 0 };
    struct fsg_error err = { 0 };
    T_OK(fsg_http_send(c, &req, &resp, NULL, NULL, &err));
    T_CHECK(strstr(srv.last, "GET /bucket/logs/../x/./y/.. HTTP/1.1\r\n") == srv.last);
    fsg_http_response_clean_up(&resp);
    fsg_http_client_destroy(c);
    s_server_stop(&srv);
    return 0;
}

static int s_curl_client_options(void)
{
    struct fsg_http_client *c = NULL;
    struct fsg_error err;
    struct fsg_http_client_options o = { .ca_file = "/nonexistent/ca.pem" };
    T_OK(fsg_http_client_new(&o, &c, &err));
    /* TLS is always verified: a bad CA file fails the exchange, it never disables checking */
    struct fsg_http_request req = { .method = "GET", .url = "https://127.0.0.1:1/" };
    struct fsg_http_response resp = { 0 };
    T_CHECK(fsg_http_send(c, &req, &resp, NULL, NULL, &err) != FSG_OK);
    fsg_http_response_clean_up(&resp);
    fsg_http_client_destroy(c);
    T_OK(fsg_http_client_new(NULL, &c, &err)); /* all defaults */
    fsg_http_client_destroy(c);
    return 0;
}

/* Only http and https: Debian's libcurl also speaks file, ftp, dict, gopher, ldap, smb...
 * A URL with another scheme is refused before anything is read or sent. */
static int s_curl_only_http_and_https(void)
{
    struct fsg_http_client *c = NULL;
    struct fsg_error err;
    T_OK(fsg_http_client_new(NULL, &c, &err));
    static const char *const urls[] = {
        "file:///etc/passwd", "FILE:///etc/hostname", "ftp://127.0.0.1:1/x", "dict://127.0.0.1:1/",
        "gopher://127.0.0.1:1/", "ldap://127.0.0.1:1/", "tftp://127.0.0.1:1/x", "smb://127.0.0.1:1/x",
        "telnet://127.0.0.1:1/", "scp://127.0.0.1:1/x",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        struct fsg_http_request req = { .method = "GET", .url = urls[i] };
        struct fsg_http_response resp = { 0 };
        T_ERR(FSG_E_INVALID_ARG, fsg_http_send(c, &req, &resp, NULL, NULL, &err));
        T_CHECK(strstr(err.msg, "bad URL") != NULL);
        T_CHECK(resp.body.len == 0 && resp.status == 0);
        fsg_http_response_clean_up(&resp);
    }
    fsg_http_client_destroy(c);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "headers_add_get_set", s_headers_add_get_set },
        { "headers_out_of_memory", s_headers_out_of_memory },
        { "parse_header_lines", s_parse_header_lines },
        { "client_over_script", s_client_over_script },
        { "client_needs_send", s_client_needs_send },
        { "curl_stream_reuse_and_errors", s_curl_stream_reuse_and_errors },
        { "curl_limits_and_timeouts", s_curl_limits_and_timeouts },
        { "curl_client_options", s_curl_client_options },
        { "curl_dripping_server_is_cut_off", s_curl_dripping_server_is_cut_off },
        { "curl_path_as_is", s_curl_path_as_is },
        { "curl_only_http_and_https", s_curl_only_http_and_https },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
