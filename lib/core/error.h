/* One error type for the whole project: a code returned by value, detail on the side. */
#ifndef FSG_LIB_ERROR_H
#define FSG_LIB_ERROR_H

#include <stdbool.h>

#if defined(__GNUC__) || defined(__clang__)
#define FSG_MUST_USE __attribute__((warn_unused_result))
#define FSG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define FSG_MUST_USE
#define FSG_PRINTF(f, a)
#endif

enum fsg_err {
    FSG_OK = 0,
    FSG_E_INVALID_ARG, /* caller error that validation can detect */
    FSG_E_PARSE,       /* malformed input: flow-log line, JSON, XML, gzip */
    FSG_E_LIMIT,       /* input exceeded a configured bound */
    FSG_E_NOMEM,
    FSG_E_IO,          /* local file, pipe */
    FSG_E_NETWORK,     /* connect, TLS, timeout: retryable */
    FSG_E_THROTTLED,   /* HTTP 429/503, RequestLimitExceeded, SlowDown, Throttling */
    FSG_E_AUTH,        /* 401/403, SignatureDoesNotMatch, ExpiredToken */
    FSG_E_NOT_FOUND,
    FSG_E_CONFLICT,    /* e.g. the rule already exists */
    FSG_E_REJECTED,    /* the service refused the content: PCE 406, InvalidParameterValue */
    FSG_E_REMOTE,      /* any other non-2xx */
    FSG_E_CANCELLED,   /* a callback or a deadline asked us to stop */
    FSG_E_REFUSED,     /* a guard stopped a change on purpose */
    FSG_E_INTERNAL,    /* broken invariant: a bug */
    FSG_E_COUNT_       /* keep last; not an error */
};

/* Filled only on failure; callers may pass NULL. Never holds a secret. */
struct fsg_error {
    enum fsg_err code;
    int http_status;       /* 0 if not HTTP */
    char service_code[64]; /* "InvalidPermission.Duplicate", "input_validation_error" */
    char request_id[64];   /* x-amzn-RequestId / X-Request-Id, for support tickets */
    unsigned long line;    /* 1-based input line for parse errors, else 0 */
    unsigned long long offset; /* byte offset in the input for stream errors, else 0 */
    char msg[512];         /* one line, no secrets */
};

const char *fsg_err_name(enum fsg_err code); /* "FSG_E_PARSE" */
const char *fsg_err_str(enum fsg_err code);  /* "malformed input" */
bool fsg_err_is_retryable(enum fsg_err code); /* NETWORK, THROTTLED */

/* Records detail when err != NULL and returns code, so a failure is one line:
 *   return fsg_error_set(err, FSG_E_PARSE, "bad port '%s'", s); */
enum fsg_err fsg_error_set(struct fsg_error *err, enum fsg_err code, const char *fmt, ...)
    FSG_PRINTF(3, 4);

/* Prefixes the existing message with context ("s3://b/k: " + msg), keeping code and fields. */
enum fsg_err fsg_error_prefix(struct fsg_error *err, const char *fmt, ...) FSG_PRINTF(2, 3);

#endif
