#include <jansson.h>
#include <stdlib.h>

#include "lib/core/log.h"
#include "tests/harness/test.h"

static char *s_last;
static int s_count;

static void s_capture(enum fsg_log_level level, const char *json_line, void *userdata)
{
    (void)level;
    (void)userdata;
    free(s_last);
    s_last = strdup(json_line);
    s_count++;
}

static int s_reset(enum fsg_log_level max)
{
    free(s_last);
    s_last = NULL;
    s_count = 0;
    fsg_log_set_sink(s_capture, NULL, max);
    return 0;
}

/* Each line is one JSON object with ts, level and the message, control characters escaped. */
static int s_message_is_valid_json(void)
{
    s_reset(FSG_LOG_INFO);
    fsg_log(FSG_LOG_WARN, "bad \"key\"\n\tat %s", "s3://b/k");
    T_CHECK(s_count == 1);
    json_t *root = json_loads(s_last, 0, NULL);
    T_CHECK(root != NULL);
    T_STR_EQ(json_string_value(json_object_get(root, "level")), "warn");
    T_STR_EQ(json_string_value(json_object_get(root, "msg")), "bad \"key\"\n\tat s3://b/k");
    T_CHECK(json_is_string(json_object_get(root, "ts")));
    json_decref(root);
    return 0;
}

/* A long structured line (an audit line with many rules) is never cut into invalid JSON. */
static int s_long_fields_stay_whole(void)
{
    s_reset(FSG_LOG_INFO);
    size_t n = 20000;
    char *fields = malloc(n + 32);
    T_CHECK(fields != NULL);
    strcpy(fields, "\"event\":\"authorize\",\"rules\":\"");
    size_t len = strlen(fields);
    memset(fields + len, 'x', n);
    strcpy(fields + len + n, "\"");
    fsg_log_fields(FSG_LOG_INFO, fields);
    free(fields);
    json_t *root = json_loads(s_last, 0, NULL);
    T_CHECK(root != NULL);
    T_CHECK(strlen(json_string_value(json_object_get(root, "rules"))) == n);
    json_decref(root);
    return 0;
}

static int s_levels_filter(void)
{
    s_reset(FSG_LOG_WARN);
    fsg_log(FSG_LOG_DEBUG, "hidden");
    fsg_log(FSG_LOG_INFO, "hidden");
    fsg_log(FSG_LOG_ERROR, "shown");
    T_CHECK(s_count == 1);
    enum fsg_log_level l;
    T_OK(fsg_log_level_parse("DEBUG", &l));
    T_CHECK(l == FSG_LOG_DEBUG);
    T_ERR(FSG_E_INVALID_ARG, fsg_log_level_parse("verbose", &l));
    fsg_log_set_sink(NULL, NULL, FSG_LOG_DEBUG);
    fsg_log(FSG_LOG_ERROR, "no sink: dropped");
    T_CHECK(s_count == 1);
    free(s_last);
    s_last = NULL;
    return 0;
}

/* Bytes that are not UTF-8 (quoted from a corrupt binary object) still give a line that is
 * valid UTF-8 and valid JSON: well-formed sequences are kept, other bytes shown as \xNN, and
 * nothing is cut inside a sequence or an escape. */
static int s_binary_bytes_stay_valid_json(void)
{
    s_reset(FSG_LOG_INFO);
    fsg_log(FSG_LOG_WARN, "bad field '%s'", "a\x9f\xff\xc3\x28z\xe2\x82\xac\xed\xa0\x80\x7f\xf0\x9f\x98");
    T_CHECK(s_count == 1);
    json_t *root = json_loads(s_last, 0, NULL);
    T_CHECK(root != NULL);
    T_STR_EQ(json_string_value(json_object_get(root, "msg")),
             "bad field 'a\\x9f\\xff\\xc3(z\xe2\x82\xac\\xed\\xa0\\x80\x7f\\xf0\\x9f\\x98'");
    json_decref(root);

    /* cut at the buffer's end: never half a sequence or half an escape */
    for (size_t size = 1; size < 16; size++) {
        char out[16];
        fsg_json_escape("\xe2\x82\xac\x9f\"\x01", out, size);
        size_t len = strlen(out);
        T_CHECK(len < size);
        static const char *const whole[] = { "", "\xe2\x82\xac", "\xe2\x82\xac\\\\x9f",
                                             "\xe2\x82\xac\\\\x9f\\\"",
                                             "\xe2\x82\xac\\\\x9f\\\"\\u0001" };
        bool ok = false;
        for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
            ok = ok || strcmp(out, whole[i]) == 0;
        }
        T_CHECK(ok);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "message_is_valid_json", s_message_is_valid_json },
        { "long_fields_stay_whole", s_long_fields_stay_whole },
        { "levels_filter", s_levels_filter },
        { "binary_bytes_stay_valid_json", s_binary_bytes_stay_valid_json },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
