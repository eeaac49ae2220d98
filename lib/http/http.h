/* HTTP requests and responses, and the transport behind a small vtable (libcurl in
 * production, scripted exchanges in unit tests). One client is used by one thread at a time. */
#ifndef FSG_LIB_HTTP_H
#define FSG_LIB_HTTP_H

#include <stddef.h>

#include "lib/core/buf.h"

struct fsg_http_header {
    char *name;  /* owned */
    char *value; /* owned */
};

struct fsg_http_headers {
    struct fsg_http_header *items;
    size_t len;
    size_t cap;
};

/* Appends a copy of name/value (duplicates allowed). */
enum fsg_err fsg_http_headers_add(struct fsg_http_headers *h, const char *name,
                                  const char *value) FSG_MUST_USE;
/* Replaces every header of that name (case-insensitive) with one. */
enum fsg_err fsg_http_headers_set(struct fsg_http_headers *h, const char *name,
                                  const char *value) FSG_MUST_USE;
/* First value of that name, case-insensitive; borrowed; NULL when absent. */
const char *fsg_http_headers_get(const struct fsg_http_headers *h, const char *name);
void fsg_http_headers_clean_up(struct fsg_http_headers *h);

struct fsg_http_request {
    const char *method;              /* borrowed: "GET", "POST", ... */
    const char *url;                 /* borrowed: "https://host[:port]/path?query", already encoded */
    struct fsg_http_headers headers; /* owned by the request; Host is derived from url if absent */
    struct fsg_span body;            /* borrowed; empty for none */
    bool fresh_connection;           /* send on a new connection: a request that changes
                                      * something is then never re-sent silently by the
                                      * transport after a reused connection died (libcurl
                                      * does that for reused connections), so a lost answer
                                      * always surfaces as FSG_E_NETWORK */
};
void fsg_http_request_clean_up(struct fsg_http_request *req);

struct fsg_http_response {
    int status;                      /* 0 until a status line was received */
    struct fsg_http_headers headers; /* owned */
    struct fsg_buf body;             /* buffered body: always for non-2xx, else when on_body is NULL */
};
void fsg_http_response_clean_up(struct fsg_http_response *resp);

/* Receives a 2xx body as it arrives. Returning an error aborts the transfer; fsg_http_send
 * then returns that code and detail. */
typedef enum fsg_err(fsg_http_body_fn)(struct fsg_span chunk, void *userdata);

struct fsg_http_transport {
    /* Sends one request (no retry). Transport failures (connect, TLS, timeout, cut body)
     * are FSG_E_NETWORK; a received HTTP status of any value is FSG_OK with resp->status set. */
    enum fsg_err (*send)(void *impl, const struct fsg_http_request *req,
                         struct fsg_http_response *resp, fsg_http_body_fn *on_body,
                         void *userdata, struct fsg_error *err);
    void (*destroy)(void *impl);
    void *impl;
};

struct fsg_http_client_options {
    long connect_timeout_ms; /* 0 = 3100 (the AWS SDK "standard" default) */
    long read_timeout_ms;    /* no byte received for this long -> FSG_E_NETWORK; 0 = 30000; <0 = never */
    const char *ca_file;     /* borrowed, copied; NULL = system trust store. Verification is always on */
    size_t max_body_bytes;   /* bound on a buffered body; 0 = 64 MiB; over it -> FSG_E_LIMIT */
    long request_timeout_ms; /* overall bound on one exchange, however slowly bytes trickle in
                              * (a server that sends one byte a second passes the read timeout);
                              * 0 = 900000 (15 min, the longest a Lambda runs), or none
                              * when read_timeout_ms < 0 (a long poll); <0 = none.
                              * Every exchange is also cut at the run deadline
                              * (lib/core/deadline.h): FSG_E_CANCELLED, never retried. */
};

struct fsg_http_client;

/* A client over libcurl that keeps connections alive between requests. */
enum fsg_err fsg_http_client_new(const struct fsg_http_client_options *opts,
                                 struct fsg_http_client **ret_client,
                                 struct fsg_error *err) FSG_MUST_USE;
/* A client over a custom transport (tests). Takes ownership of transport.impl. */
enum fsg_err fsg_http_client_new_with_transport(const struct fsg_http_transport *transport,
                                                struct fsg_http_client **ret_client,
                                                struct fsg_error *err) FSG_MUST_USE;
void fsg_http_client_destroy(struct fsg_http_client *client); /* NULL ok */

/* One exchange, no retry. resp must be zero-initialised; the caller cleans it up.
 * When the run deadline (fsg_run_deadline()) has passed, or passes during the exchange, the
 * result is FSG_E_CANCELLED with service_code "DeadlineExceeded" (no request is sent when it
 * had already passed). */
enum fsg_err fsg_http_send(struct fsg_http_client *client, const struct fsg_http_request *req,
                           struct fsg_http_response *resp, fsg_http_body_fn *on_body,
                           void *userdata, struct fsg_error *err) FSG_MUST_USE;

#endif
