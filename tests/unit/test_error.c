#include <string.h>

#include "lib/core/error.h"
#include "tests/harness/test.h"

static int s_every_code_has_a_name_and_text(void)
{
    for (int c = 0; c < FSG_E_COUNT_; c++) {
        T_CHECK(fsg_err_name((enum fsg_err)c) != NULL);
        T_CHECK(strncmp(fsg_err_name((enum fsg_err)c), "FSG_", 4) == 0);
        T_CHECK(fsg_err_str((enum fsg_err)c) != NULL);
    }
    T_STR_EQ(fsg_err_name(FSG_E_COUNT_), "FSG_E_UNKNOWN");
    return 0;
}

static int s_only_network_and_throttling_retry(void)
{
    T_CHECK(fsg_err_is_retryable(FSG_E_NETWORK));
    T_CHECK(fsg_err_is_retryable(FSG_E_THROTTLED));
    T_CHECK(!fsg_err_is_retryable(FSG_E_AUTH));
    T_CHECK(!fsg_err_is_retryable(FSG_E_PARSE));
    T_CHECK(!fsg_err_is_retryable(FSG_OK));
    return 0;
}

static int s_set_and_prefix(void)
{
    struct fsg_error err;
    T_ERR(FSG_E_PARSE, fsg_error_set(&err, FSG_E_PARSE, "bad port '%s'", "x"));
    T_STR_EQ(err.msg, "bad port 'x'");
    T_CHECK(err.code == FSG_E_PARSE);
    T_ERR(FSG_E_PARSE, fsg_error_prefix(&err, "%s: ", "s3://b/k"));
    T_STR_EQ(err.msg, "s3://b/k: bad port 'x'");
    T_ERR(FSG_E_IO, fsg_error_set(NULL, FSG_E_IO, "ignored"));

    /* a prefix longer than 256 bytes is kept whole (it may end with a marker: "; then: ") */
    char longer[330];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    T_ERR(FSG_E_PARSE, fsg_error_set(&err, FSG_E_PARSE, "refused"));
    T_ERR(FSG_E_PARSE, fsg_error_prefix(&err, "%s; then: ", longer));
    T_CHECK(strlen(err.msg) == sizeof longer - 1 + strlen("; then: refused"));
    T_STR_EQ(err.msg + sizeof longer - 1, "; then: refused");
    /* too long for the message: the prefix first, the old message cut at the end */
    T_ERR(FSG_E_PARSE, fsg_error_prefix(&err, "%s%s", longer, longer));
    T_CHECK(strlen(err.msg) == sizeof err.msg - 1 && err.msg[0] == 'a');
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "every_code_has_a_name_and_text", s_every_code_has_a_name_and_text },
        { "only_network_and_throttling_retry", s_only_network_and_throttling_retry },
        { "set_and_prefix", s_set_and_prefix },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
