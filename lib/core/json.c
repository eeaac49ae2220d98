#include "lib/core/json.h"

#include <string.h>

static size_t s_max_bytes(const struct fsg_json_limits *limits)
{
    return limits != NULL && limits->max_bytes != 0 ? limits->max_bytes
                                                    : FSG_JSON_MAX_BYTES_DEFAULT;
}

static size_t s_max_depth(const struct fsg_json_limits *limits)
{
    return limits != NULL && limits->max_depth != 0 ? limits->max_depth
                                                    : FSG_JSON_MAX_DEPTH_DEFAULT;
}

enum fsg_err fsg_json_check_depth(struct fsg_span text, size_t max_depth, struct fsg_error *err)
{
    size_t depth = 0;
    unsigned long line = 1;
    size_t line_start = 0;
    bool in_string = false;

    for (size_t i = 0; i < text.len; i++) {
        uint8_t c = text.ptr[i];
        if (in_string) {
            if (c == '\\') {
                i++; /* the escaped byte can't end the string */
            } else if (c == '"') {
                in_string = false;
            } else if (c == '\n') {
                line++; /* invalid in JSON, but keep positions right for the parser's error */
                line_start = i + 1;
            }
            continue;
        }
        switch (c) {
        case '"':
            in_string = true;
            break;
        case '\n':
            line++;
            line_start = i + 1;
            break;
        case '[':
        case '{':
            if (++depth > max_depth) {
                fsg_error_set(err, FSG_E_LIMIT,
                              "JSON nests deeper than %zu levels at line %lu, column %zu",
                              max_depth, line, i - line_start + 1);
                if (err != NULL) {
                    err->line = line;
                    err->offset = i;
                }
                return FSG_E_LIMIT;
            }
            break;
        case ']':
        case '}':
            if (depth > 0) {
                depth--;
            }
            break;
        default:
            break;
        }
    }
    return FSG_OK;
}

enum fsg_err fsg_json_error_set(struct fsg_error *err, const json_error_t *jerr, const char *what)
{
    enum fsg_err code = FSG_E_PARSE;
#if JANSSON_VERSION_HEX >= 0x020b00
    switch (json_error_code(jerr)) {
    case json_error_out_of_memory:
        code = FSG_E_NOMEM;
        break;
    case json_error_stack_overflow:
        code = FSG_E_LIMIT;
        break;
    default:
        break;
    }
#endif
    if (err == NULL) {
        return code;
    }
    fsg_error_set(err, code, "%s%sline %d, column %d: %s", what != NULL ? what : "",
                  what != NULL ? ": " : "", jerr->line, jerr->column, jerr->text);
    err->line = jerr->line > 0 ? (unsigned long)jerr->line : 0;
    err->offset = jerr->position;
    return code;
}

enum fsg_err fsg_json_load(struct fsg_span text, const struct fsg_json_limits *limits,
                           json_t **ret_root, struct fsg_error *err)
{
    size_t max_bytes = s_max_bytes(limits);
    if (text.len > max_bytes) {
        return fsg_error_set(err, FSG_E_LIMIT,
                             "JSON document of %zu bytes exceeds the %zu-byte limit", text.len,
                             max_bytes);
    }
    enum fsg_err rc = fsg_json_check_depth(text, s_max_depth(limits), err);
    if (rc != FSG_OK) {
        return rc;
    }
    json_error_t jerr;
    memset(&jerr, 0, sizeof jerr);
    /* Without JSON_DECODE_ANY the top level must be an object or an array; the EOF check
     * (on by default) rejects anything after it. */
    json_t *root = json_loadb(text.len > 0 ? (const char *)text.ptr : "", text.len,
                              JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return fsg_json_error_set(err, &jerr, "invalid JSON");
    }
    *ret_root = root;
    return FSG_OK;
}

enum fsg_err fsg_json_load_file(const char *path, const struct fsg_json_limits *limits,
                                json_t **ret_root, struct fsg_error *err)
{
    struct fsg_buf body = FSG_BUF_INIT;
    size_t max_bytes = s_max_bytes(limits);
    enum fsg_err rc = fsg_buf_read_file(&body, path, max_bytes, err); /* LIMIT when bigger */
    if (rc == FSG_OK) {
        rc = fsg_json_load(fsg_span_from_buf(&body), limits, ret_root, err);
        if (rc != FSG_OK && err != NULL) {
            fsg_error_prefix(err, "%s: ", path);
        }
    }
    fsg_buf_clean_up(&body);
    return rc;
}

const char *fsg_json_type_name(const json_t *v)
{
    if (v == NULL) {
        return "missing";
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "real";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

static int s_dump_cb(const char *chunk, size_t size, void *userdata)
{
    return fsg_buf_append(userdata, chunk, size) == FSG_OK ? 0 : -1;
}

enum fsg_err fsg_json_dump(const json_t *v, size_t flags, struct fsg_buf *out)
{
    if (v == NULL) {
        return FSG_E_INVALID_ARG;
    }
    return json_dump_callback(v, s_dump_cb, out, flags) == 0 ? FSG_OK : FSG_E_NOMEM;
}
