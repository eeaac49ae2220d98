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

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "message_is_valid_json", s_message_is_valid_json },
        { "long_fields_stay_whole", s_long_fields_stay_whole },
        { "levels_filter", s_levels_filter },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
