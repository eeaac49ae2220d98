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

void fsg_json_escape(const char *s, char *out, size_t out_size)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && o + 7 < out_size; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < 0x20) {
            o += (size_t)snprintf(out + o, out_size - o, "\\u%04x", *p);
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o < out_size ? o : out_size - 1] = '\0';
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
