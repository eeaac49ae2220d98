#include "lib/core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/core/redact.h"

static fsg_log_sink_fn *s_sink;
static void *s_sink_userdata;
static enum fsg_log_level s_max_level = FSG_LOG_INFO;

static const char *const s_level_names[] = { "error", "warn", "info", "debug" };

void fsg_log_set_sink(fsg_log_sink_fn *sink, void *userdata, enum fsg_log_level max_level)
{
    s_sink = sink;
    s_sink_userdata = userdata;
    s_max_level = max_level;
}

enum fsg_err fsg_log_level_parse(const char *s, enum fsg_log_level *ret)
{
    for (size_t i = 0; i < sizeof s_level_names / sizeof s_level_names[0]; i++) {
        if (strcasecmp(s, s_level_names[i]) == 0) {
            *ret = (enum fsg_log_level)i;
            return FSG_OK;
        }
    }
    return FSG_E_INVALID_ARG;
}

const char *fsg_log_level_name(enum fsg_log_level level)
{
    return (unsigned)level <= FSG_LOG_DEBUG ? s_level_names[level] : "debug";
}

bool fsg_log_enabled(enum fsg_log_level level)
{
    return s_sink != NULL && level <= s_max_level;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 section 4: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 when the bytes there are not one. */
static size_t s_utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c >= 0xc2 && c <= 0xdf) {
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    }
    if (c >= 0xe0 && c <= 0xef) {
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 ? 4
                                                                                         : 0;
    }
    return 0;
}

/* Every output is valid JSON string content, whatever the input bytes: quotes, backslashes and
 * control characters are escaped, well-formed UTF-8 is kept, and any other byte (binary read
 * from a corrupt object, a cut sequence) becomes the visible text "\xNN", so that a log line
 * is always valid UTF-8 and valid JSON (CloudWatch Logs and JSON readers reject anything
 * else). Nothing is cut in the middle of an escape or a UTF-8 sequence. */
void fsg_json_escape(const char *s, char *out, size_t out_size)
{
    if (out_size == 0) {
        return;
    }
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        size_t u = *p >= 0x80 ? s_utf8_len(p) : 0;
        if (u > 0) { /* s_utf8_len reads no further than the first byte that does not fit */
            if (o + u >= out_size) {
                break;
            }
            memcpy(out + o, p, u);
            o += u;
            p += u;
            continue;
        }
        char tmp[8];
        size_t n;
        if (*p == '"' || *p == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)*p;
            n = 2;
        } else if (*p < 0x20 || *p == 0x7f) {
            n = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", *p);
        } else if (*p >= 0x80) {
            n = (size_t)snprintf(tmp, sizeof tmp, "\\\\x%02x", *p);
        } else {
            tmp[0] = (char)*p;
            n = 1;
        }
        if (o + n >= out_size) {
            break;
        }
        memcpy(out + o, tmp, n);
        o += n;
        p++;
    }
    out[o] = '\0';
}

static void s_emit(enum fsg_log_level level, const char *fields)
{
    char ts[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000);

    /* Sized to fit: a cut line would not be valid JSON. Plain malloc, not fsg_malloc, so that
     * logging never takes part in the tests' allocation counting or fault injection. */
    const char *name = fsg_log_level_name(level);
    int n_line = snprintf(NULL, 0, "{\"ts\":\"%s\",\"level\":\"%s\",%s}", ts, name, fields);
    char *line = n_line >= 0 ? malloc((size_t)n_line + 1) : NULL;
    if (line == NULL) {
        return;
    }
    snprintf(line, (size_t)n_line + 1, "{\"ts\":\"%s\",\"level\":\"%s\",%s}", ts, name, fields);
    s_sink(level, line, s_sink_userdata);
    free(line);
}

void fsg_log(enum fsg_log_level level, const char *fmt, ...)
{
    if (!fsg_log_enabled(level)) {
        return;
    }
    char msg[2048];
    char esc[3072];
    char fields[3200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fsg_redact(msg, sizeof msg);
    fsg_json_escape(msg, esc, sizeof esc);
    snprintf(fields, sizeof fields, "\"msg\":\"%s\"", esc);
    s_emit(level, fields);
}

void fsg_log_fields(enum fsg_log_level level, const char *fields_json)
{
    if (!fsg_log_enabled(level)) {
        return;
    }
    /* The fields are JSON built by the caller; values quoted from servers may echo a
     * credential. Redaction only shortens string contents, so the JSON stays valid. */
    size_t n = strlen(fields_json) + 1;
    char *copy = malloc(n);
    if (copy == NULL) {
        return;
    }
    memcpy(copy, fields_json, n);
    fsg_redact(copy, n);
    s_emit(level, copy);
    free(copy);
}
