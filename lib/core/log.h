/* Logging: the library formats, the program decides where lines go (JSON lines on stderr). */
#ifndef FSG_LIB_LOG_H
#define FSG_LIB_LOG_H

#include <stddef.h>

#include "lib/core/error.h"

enum fsg_log_level { FSG_LOG_ERROR = 0, FSG_LOG_WARN, FSG_LOG_INFO, FSG_LOG_DEBUG };

/* The sink gets the level and one complete JSON object (no newline). userdata is borrowed. */
typedef void(fsg_log_sink_fn)(enum fsg_log_level level, const char *json_line, void *userdata);

/* Installed once by main(); NULL turns logging off (the default). */
void fsg_log_set_sink(fsg_log_sink_fn *sink, void *userdata, enum fsg_log_level max_level);
enum fsg_err fsg_log_level_parse(const char *s, enum fsg_log_level *ret);
const char *fsg_log_level_name(enum fsg_log_level level);
bool fsg_log_enabled(enum fsg_log_level level);

/* A plain message: {"ts":..., "level":..., "msg": "..."}. */
void fsg_log(enum fsg_log_level level, const char *fmt, ...) FSG_PRINTF(2, 3);

/* A structured event: `fields_json` is the inside of a JSON object without braces
 * (e.g. "\"event\":\"authorize\",\"sg\":\"sg-1\""), merged after ts and level. The caller
 * builds it with fsg_json_* helpers so it is valid JSON and holds no secret. */
void fsg_log_fields(enum fsg_log_level level, const char *fields_json);

/* Escapes s as a JSON string body (no quotes) into out (always NUL-terminated). */
void fsg_json_escape(const char *s, char *out, size_t out_size);

#endif
