#include "lib/core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/core/redact.h"

static const struct {
    const char *name;
    const char *str;
    bool retryable;
} s_err_info[] = {
    [FSG_OK] = { "FSG_OK", "success", false },
    [FSG_E_INVALID_ARG] = { "FSG_E_INVALID_ARG", "invalid argument", false },
    [FSG_E_PARSE] = { "FSG_E_PARSE", "malformed input", false },
    [FSG_E_LIMIT] = { "FSG_E_LIMIT", "input exceeds a limit", false },
    [FSG_E_NOMEM] = { "FSG_E_NOMEM", "out of memory", false },
    [FSG_E_IO] = { "FSG_E_IO", "input/output error", false },
    [FSG_E_NETWORK] = { "FSG_E_NETWORK", "network error", true },
    [FSG_E_THROTTLED] = { "FSG_E_THROTTLED", "request throttled by the service", true },
    [FSG_E_AUTH] = { "FSG_E_AUTH", "authentication or authorization failed", false },
    [FSG_E_NOT_FOUND] = { "FSG_E_NOT_FOUND", "not found", false },
    [FSG_E_CONFLICT] = { "FSG_E_CONFLICT", "conflict with the current state", false },
    [FSG_E_REJECTED] = { "FSG_E_REJECTED", "rejected by the service", false },
    [FSG_E_REMOTE] = { "FSG_E_REMOTE", "remote service error", false },
    [FSG_E_CANCELLED] = { "FSG_E_CANCELLED", "cancelled", false },
    [FSG_E_REFUSED] = { "FSG_E_REFUSED", "refused by a guard", false },
    [FSG_E_INTERNAL] = { "FSG_E_INTERNAL", "internal error", false },
};
_Static_assert(sizeof s_err_info / sizeof s_err_info[0] == FSG_E_COUNT_, "error table out of sync");

static bool s_valid(enum fsg_err code)
{
    return (unsigned)code < FSG_E_COUNT_ && s_err_info[code].name != NULL;
}

const char *fsg_err_name(enum fsg_err code)
{
    return s_valid(code) ? s_err_info[code].name : "FSG_E_UNKNOWN";
}

const char *fsg_err_str(enum fsg_err code)
{
    return s_valid(code) ? s_err_info[code].str : "unknown error";
}

bool fsg_err_is_retryable(enum fsg_err code)
{
    return s_valid(code) && s_err_info[code].retryable;
}

enum fsg_err fsg_error_set(struct fsg_error *err, enum fsg_err code, const char *fmt, ...)
{
    if (err == NULL) {
        return code;
    }
    *err = (struct fsg_error){ .code = code };
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    /* The one place every message is made: server text quoted in it may echo a credential. */
    fsg_redact(err->msg, sizeof err->msg);
    return code;
}

enum fsg_err fsg_error_prefix(struct fsg_error *err, const char *fmt, ...)
{
    if (err == NULL) {
        return FSG_E_INTERNAL;
    }
    char prefix[sizeof err->msg]; /* as long as a message: a long prefix is kept whole */
    char old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n >= sizeof err->msg) {
        n = sizeof err->msg - 1;
    }
    memcpy(err->msg, prefix, n);
    size_t rest = sizeof err->msg - 1 - n;
    size_t old_len = strnlen(old, rest);
    memcpy(err->msg + n, old, old_len);
    err->msg[n + old_len] = '\0';
    fsg_redact(err->msg, sizeof err->msg);
    return err->code;
}
