/* lib/json: limits checked before parsing, jansson errors mapped with line and column. */
#include <stdlib.h>
#include <string.h>

#include "lib/core/json.h"
#include "tests/harness/test.h"

static char *s_nested(size_t depth, const char *inner)
{
    char *s = malloc(2 * depth + strlen(inner) + 1);
    if (s != NULL) {
        memset(s, '[', depth);
        strcpy(s + depth, inner);
        memset(s + depth + strlen(inner), ']', depth);
        s[2 * depth + strlen(inner)] = '\0';
    }
    return s;
}

static int s_depth_limit(void)
{
    struct fsg_error err = { 0 };
    char *ok = s_nested(FSG_JSON_MAX_DEPTH_DEFAULT, "");
    char *deep = s_nested(FSG_JSON_MAX_DEPTH_DEFAULT + 1, "");
    T_CHECK(ok != NULL && deep != NULL);
    json_t *root = NULL;
    T_OK(fsg_json_load(fsg_span_from_cstr(ok), NULL, &root, &err));
    json_decref(root);
    root = NULL;
    T_ERR(FSG_E_LIMIT, fsg_json_load(fsg_span_from_cstr(deep), NULL, &root, &err));
    T_CHECK(root == NULL && err.line == 1 && err.offset == 64);
    T_STR_EQ(err.msg, "JSON nests deeper than 64 levels at line 1, column 65");
    free(ok);
    free(deep);

    /* 10000 levels: refused before jansson recurses. */
    char *bomb = s_nested(10000, "");
    T_ERR(FSG_E_LIMIT, fsg_json_load(fsg_span_from_cstr(bomb), NULL, &root, &err));
    free(bomb);

    /* Brackets inside strings (with escaped quotes) do not count; lines are counted. */
    T_OK(fsg_json_check_depth(fsg_span_from_cstr("[\"[[[\\\"[[\", \"]]\"]"), 1, &err));
    T_ERR(FSG_E_LIMIT, fsg_json_check_depth(fsg_span_from_cstr("[\n\n  {\"a\": 1}]"), 1, &err));
    T_CHECK(err.line == 3);
    T_STR_EQ(err.msg, "JSON nests deeper than 1 levels at line 3, column 3");
    /* A custom limit. */
    struct fsg_json_limits lim = { .max_depth = 2 };
    T_ERR(FSG_E_LIMIT, fsg_json_load(fsg_span_from_cstr("[[[]]]"), &lim, &root, &err));
    T_OK(fsg_json_load(fsg_span_from_cstr("[[]]"), &lim, &root, &err));
    json_decref(root);
    return 0;
}

static int s_size_limit(void)
{
    struct fsg_error err = { 0 };
    json_t *root = NULL;
    struct fsg_json_limits lim = { .max_bytes = 4 };
    T_OK(fsg_json_load(fsg_span_from_cstr("[12]"), &lim, &root, &err));
    json_decref(root);
    root = NULL;
    T_ERR(FSG_E_LIMIT, fsg_json_load(fsg_span_from_cstr("[123]"), &lim, &root, &err));
    T_STR_EQ(err.msg, "JSON document of 5 bytes exceeds the 4-byte limit");
    T_CHECK(root == NULL);
    return 0;
}

static int s_parse_errors(void)
{
    struct fsg_error err = { 0 };
    json_t *root = NULL;
    T_ERR(FSG_E_PARSE, fsg_json_load(fsg_span_from_cstr("{\n  \"a\": tru\n}"), NULL, &root, &err));
    T_CHECK(root == NULL && err.line == 2 && err.code == FSG_E_PARSE);
    T_CHECK(strncmp(err.msg, "invalid JSON: line 2, column ", 29) == 0);
    /* Not NUL-terminated: only len bytes are read. */
    const char text[] = { '[', '1', ']', 'x' };
    T_OK(fsg_json_load((struct fsg_span){ (const uint8_t *)text, 3 }, NULL, &root, &err));
    json_decref(root);
    root = NULL;
    T_ERR(FSG_E_PARSE, fsg_json_load((struct fsg_span){ (const uint8_t *)text, 4 }, NULL, &root,
                                     &err));
    T_ERR(FSG_E_PARSE, fsg_json_load(fsg_span_from_cstr(""), NULL, &root, &err));
    T_ERR(FSG_E_PARSE, fsg_json_load(fsg_span_from_cstr("5"), NULL, &root, &err));
    T_ERR(FSG_E_PARSE, fsg_json_load(fsg_span_from_cstr("{\"a\":1,\"a\":2}"), NULL, &root, &err));
    T_CHECK(strstr(err.msg, "duplicate object key") != NULL);
    T_ERR(FSG_E_PARSE, fsg_json_load(fsg_span_from_cstr("[\"\\u0000\"]"), NULL, &root, &err));
    T_ERR(FSG_E_PARSE, fsg_json_load(fsg_span_from_cstr("[\"\xff\"]"), NULL, &root, &err));
    /* err may be NULL. */
    T_ERR(FSG_E_PARSE, fsg_json_load(fsg_span_from_cstr("{"), NULL, &root, NULL));
    T_CHECK(root == NULL);
    return 0;
}

static int s_files(void)
{
    struct fsg_error err = { 0 };
    json_t *root = NULL;
    T_ERR(FSG_E_NOT_FOUND, fsg_json_load_file("/nonexistent.json", NULL, &root, &err));
    T_CHECK(strstr(err.msg, "/nonexistent.json") != NULL);
    T_OK(fsg_json_load_file(t_data_path("pce/compile/scenario.json"), NULL, &root, &err));
    T_CHECK(json_is_object(root));
    json_decref(root);
    root = NULL;
    struct fsg_json_limits lim = { .max_bytes = 100 };
    T_ERR(FSG_E_LIMIT, fsg_json_load_file(t_data_path("pce/compile/scenario.json"), &lim, &root,
                                          &err));
    return 0;
}

static int s_type_names_and_dump(void)
{
    json_t *v = json_pack("{s:[i,f,s,b,n]}", "a", 1, 2.5, "x", 1);
    T_STR_EQ(fsg_json_type_name(v), "object");
    json_t *a = json_object_get(v, "a");
    T_STR_EQ(fsg_json_type_name(a), "array");
    T_STR_EQ(fsg_json_type_name(json_array_get(a, 0)), "integer");
    T_STR_EQ(fsg_json_type_name(json_array_get(a, 1)), "real");
    T_STR_EQ(fsg_json_type_name(json_array_get(a, 2)), "string");
    T_STR_EQ(fsg_json_type_name(json_array_get(a, 3)), "boolean");
    T_STR_EQ(fsg_json_type_name(json_array_get(a, 4)), "null");
    T_STR_EQ(fsg_json_type_name(NULL), "missing");
    struct fsg_buf b = FSG_BUF_INIT;
    T_OK(fsg_json_dump(v, JSON_COMPACT, &b));
    T_STR_EQ(fsg_buf_cstr(&b), "{\"a\":[1,2.5,\"x\",true,null]}");
    fsg_buf_clean_up(&b);
    T_ERR(FSG_E_INVALID_ARG, fsg_json_dump(NULL, 0, &b));
    json_decref(v);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "depth_limit", s_depth_limit },
        { "size_limit", s_size_limit },
        { "parse_errors", s_parse_errors },
        { "files", s_files },
        { "type_names_and_dump", s_type_names_and_dump },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
