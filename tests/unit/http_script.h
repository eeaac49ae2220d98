/* A scripted HTTP transport for unit tests (STYLE §4.7, fluent-bit's FLB_AWS_CLIENT_MOCK):
 * each send() takes the next canned exchange, records the request, and answers without a
 * socket. Used by test_http.c, test_aws.c and test_s3.c. */
#ifndef FSG_TESTS_UNIT_HTTP_SCRIPT_H
#define FSG_TESTS_UNIT_HTTP_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lib/core/buf.h"
#include "lib/aws/creds.h"
#include "lib/http/http.h"

#define T_HTTP_SCRIPT_MAX 64

/* One canned answer. Zero fields mean "nothing special". */
struct t_http_exchange {
    const char *method;        /* expected method; NULL = any */
    const char *url;           /* expected URL, exact; NULL = any */
    int status;                /* answer status */
    const char *headers;       /* "Name: value\n" lines, or NULL */
    const char *body;          /* answer body (NUL-terminated unless body_len is set) */
    size_t body_len;           /* 0 = strlen(body) */
    size_t chunk;              /* deliver a 2xx body in chunks of this size; 0 = one chunk */
    size_t cut_after;          /* > 0: deliver only this many body bytes, then fail as a
                                * dropped connection (FSG_E_NETWORK, ConnectionClosed) */
    enum fsg_err fail;         /* != FSG_OK: fail before any status (e.g. FSG_E_NETWORK) */
    const char *fail_code;     /* service_code token of that failure ("ReadTimeout") */
};

/* What one send() received (copies). */
struct t_http_recorded {
    char *method;
    char *url;
    struct fsg_http_headers headers;
    struct fsg_buf body;
};

struct t_http_script {
    const struct t_http_exchange *ex;
    size_t n;
    size_t next;                /* exchanges used */
    struct t_http_recorded rec[T_HTTP_SCRIPT_MAX];
    size_t n_rec;
    bool mismatch;              /* a request did not match its exchange, or the script ran out */
    char mismatch_msg[256];
};

/* Starts a script over ex[0..n). The script must outlive the client that uses it. */
void t_http_script_init(struct t_http_script *s, const struct t_http_exchange *ex, size_t n);
/* A transport over s; its destroy() does nothing (the test owns s). */
struct fsg_http_transport t_http_script_transport(struct t_http_script *s);
/* A client over s (caller destroys it with fsg_http_client_destroy). */
struct fsg_http_client *t_http_script_client(struct t_http_script *s);
/* The recorded header value of request i, or NULL. */
const char *t_http_script_header(const struct t_http_script *s, size_t i, const char *name);
void t_http_script_clean_up(struct t_http_script *s);

/* For AWS clients over a script (fsg_aws_client_options): fixed credentials and no sleeping. */
/* Fills *c (clean) with copies; token may be NULL. */
enum fsg_err t_creds_init(struct fsg_credentials *c, const char *akid, const char *secret,
                          const char *token);
/* A creds_fn that always hands out the struct fsg_credentials given as userdata. */
enum fsg_err t_static_creds_fn(void *userdata, time_t now_s, bool force_refresh,
                               const struct fsg_credentials **ret, struct fsg_error *err);
/* A retry sleep that returns at once. */
void t_no_sleep(long ms, void *userdata);

#endif
