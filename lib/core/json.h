/* jansson helpers: length-delimited loading with a size limit and a nesting-depth limit,
 * jansson errors mapped to struct fsg_error, and dumping into an fsg_buf.
 * jansson's allocator is left alone (see tests/harness: fsg_malloc counts only our own). */
#ifndef FSG_LIB_JSON_H
#define FSG_LIB_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "lib/core/buf.h"
#include "lib/core/error.h"

/* A PCE export of a large org is tens of MiB; beyond this a body is a mistake or an attack. */
#define FSG_JSON_MAX_BYTES_DEFAULT ((size_t)256 << 20)
/* The deepest legitimate document we read (a PCE workload) nests about 8 levels. jansson
 * parses recursively and has no limit of its own we can rely on, so 10000 nested '[' would
 * otherwise be 10000 stack frames. */
#define FSG_JSON_MAX_DEPTH_DEFAULT 64

struct fsg_json_limits {
    size_t max_bytes; /* 0 = FSG_JSON_MAX_BYTES_DEFAULT; longer -> FSG_E_LIMIT before parsing */
    size_t max_depth; /* 0 = FSG_JSON_MAX_DEPTH_DEFAULT; deeper -> FSG_E_LIMIT before parsing */
};

/* Scans text without recursion and fails with FSG_E_LIMIT (err->line, err->offset, column in
 * the message) at the first '[' or '{' outside a string that opens level max_depth + 1.
 * Malformed text is not diagnosed here: the parser does that. */
enum fsg_err fsg_json_check_depth(struct fsg_span text, size_t max_depth,
                                  struct fsg_error *err) FSG_MUST_USE;

/* Parses text (not NUL-terminated) as one JSON object or array, nothing after it.
 * Duplicate object keys and NUL bytes in strings are rejected. limits may be NULL (defaults).
 * On success the caller owns *ret_root (json_decref). On failure *ret_root is untouched:
 * FSG_E_LIMIT (size, depth), FSG_E_PARSE (syntax; err->line and err->offset set),
 * FSG_E_NOMEM. */
enum fsg_err fsg_json_load(struct fsg_span text, const struct fsg_json_limits *limits,
                           json_t **ret_root, struct fsg_error *err) FSG_MUST_USE;

/* fsg_json_load on a local file; the file name prefixes error messages. FSG_E_NOT_FOUND or
 * FSG_E_IO when the file cannot be read, FSG_E_LIMIT when it is bigger than max_bytes. */
enum fsg_err fsg_json_load_file(const char *path, const struct fsg_json_limits *limits,
                                json_t **ret_root, struct fsg_error *err) FSG_MUST_USE;

/* Maps a jansson error into err ("<what>: line L, column C: <text>") and returns the code:
 * FSG_E_NOMEM, FSG_E_LIMIT (jansson's own depth/size limits) or FSG_E_PARSE. what may be NULL. */
enum fsg_err fsg_json_error_set(struct fsg_error *err, const json_error_t *jerr, const char *what);

/* "object", "array", "string", "integer", "real", "boolean", "null"; "missing" for NULL. */
const char *fsg_json_type_name(const json_t *v);

/* Appends the serialisation of v (json_dump flags, e.g. JSON_COMPACT | JSON_SORT_KEYS). */
enum fsg_err fsg_json_dump(const json_t *v, size_t flags, struct fsg_buf *out) FSG_MUST_USE;

#endif
