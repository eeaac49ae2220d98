#include "lib/core/buf.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"

static int s_append_and_printf(void)
{
    struct fsg_buf b = FSG_BUF_INIT;
    T_STR_EQ(fsg_buf_cstr(&b), "");
    T_OK(fsg_buf_append_cstr(&b, "abc"));
    T_OK(fsg_buf_printf(&b, "-%d-", 42));
    for (int i = 0; i < 1000; i++) {
        T_OK(fsg_buf_append_byte(&b, 'x'));
    }
    T_CHECK(b.len == 1007);
    T_CHECK(strncmp(fsg_buf_cstr(&b), "abc-42-xx", 9) == 0);
    fsg_buf_reset(&b);
    T_CHECK(b.len == 0);
    fsg_buf_clean_up(&b);
    fsg_buf_clean_up(&b); /* idempotent */
    T_CHECK(b.ptr == NULL);
    return 0;
}

static int s_split_edge_cases(void)
{
    static const struct {
        const char *in;
        const char *want; /* fields joined by | */
    } cases[] = {
        { "", "" }, { "a", "a" }, { "a b", "a|b" }, { "a  b", "a||b" }, { " a", "|a" }, { "a ", "a|" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fsg_buf out = FSG_BUF_INIT;
        struct fsg_span f;
        size_t pos = 0;
        bool first = true;
        while (fsg_span_next_split(fsg_span_from_cstr(cases[i].in), ' ', &pos, &f)) {
            T_OK(fsg_buf_append_cstr(&out, first ? "" : "|"));
            T_OK(fsg_buf_append_span(&out, f));
            first = false;
        }
        T_STR_EQ(fsg_buf_cstr(&out), cases[i].want);
        fsg_buf_clean_up(&out);
    }
    return 0;
}

static int s_numbers(void)
{
    uint64_t u;
    int64_t i;
    T_OK(fsg_span_to_u64(fsg_span_from_cstr("18446744073709551615"), &u));
    T_CHECK(u == UINT64_MAX);
    T_ERR(FSG_E_PARSE, fsg_span_to_u64(fsg_span_from_cstr("18446744073709551616"), &u));
    T_ERR(FSG_E_PARSE, fsg_span_to_u64(fsg_span_from_cstr(""), &u));
    T_ERR(FSG_E_PARSE, fsg_span_to_u64(fsg_span_from_cstr("-"), &u));
    T_ERR(FSG_E_PARSE, fsg_span_to_u64(fsg_span_from_cstr("12a"), &u));
    T_OK(fsg_span_to_i64(fsg_span_from_cstr("-5"), &i));
    T_CHECK(i == -5);
    T_ERR(FSG_E_PARSE, fsg_span_to_i64(fsg_span_from_cstr("-"), &i));
    return 0;
}

static int s_allocation_failure_is_reported(void)
{
    struct fsg_buf b = FSG_BUF_INIT;
    fsg_mem_fail_after(1);
    T_ERR(FSG_E_NOMEM, fsg_buf_append_cstr(&b, "x"));
    fsg_mem_fail_after(0);
    T_CHECK(b.ptr == NULL && b.len == 0);
    return 0;
}

static int s_read_missing_file_names_it(void)
{
    struct fsg_buf b = FSG_BUF_INIT;
    struct fsg_error err;
    T_ERR(FSG_E_NOT_FOUND, fsg_buf_read_file(&b, "/nonexistent/x.json", 0, &err));
    T_CHECK(strstr(err.msg, "/nonexistent/x.json") != NULL);
    return 0;
}

static int s_asprintf(void)
{
    char *s = fsg_asprintf("%s:%d:%.3s", "key", 42, "secret");
    T_STR_EQ(s, "key:42:sec");
    fsg_free(s);
    s = fsg_asprintf("%s", "");
    T_STR_EQ(s, "");
    fsg_free(s);
    fsg_mem_fail_after(1);
    T_CHECK(fsg_asprintf("%d", 1) == NULL);
    fsg_mem_fail_after(0);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "append_and_printf", s_append_and_printf },
        { "split_edge_cases", s_split_edge_cases },
        { "numbers", s_numbers },
        { "allocation_failure_is_reported", s_allocation_failure_is_reported },
        { "read_missing_file_names_it", s_read_missing_file_names_it },
        { "asprintf", s_asprintf },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
