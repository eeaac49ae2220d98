#include "lib/core/ip.h"
#include "tests/harness/test.h"

static int s_roundtrip(void)
{
    static const char *const ok[] = { "10.0.0.1", "0.0.0.0", "255.255.255.255", "2001:db8::1",
                                      "::", "fe80::1:2", "::ffff:10.0.0.1" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct fsg_ip ip;
        char out[FSG_IP_STR_MAX];
        T_OK(fsg_ip_parse(fsg_span_from_cstr(ok[i]), &ip));
        T_STR_EQ(fsg_ip_format(&ip, out), ok[i]);
    }
    static const char *const bad[] = { "", "-", "10.0.0", "10.0.0.256", "1.2.3.4 ", "gggg::",
                                       "10.0.0.1/32" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct fsg_ip ip;
        T_ERR(FSG_E_PARSE, fsg_ip_parse(fsg_span_from_cstr(bad[i]), &ip));
    }
    return 0;
}

static int s_v4_sorts_before_v6_and_numerically(void)
{
    struct fsg_ip a, b, c;
    T_OK(fsg_ip_parse(fsg_span_from_cstr("10.0.0.9"), &a));
    T_OK(fsg_ip_parse(fsg_span_from_cstr("10.0.0.10"), &b));
    T_OK(fsg_ip_parse(fsg_span_from_cstr("::1"), &c));
    T_CHECK(fsg_ip_cmp(&a, &b) < 0);
    T_CHECK(fsg_ip_cmp(&b, &c) < 0);
    T_CHECK(fsg_ip_cmp(&c, &a) > 0);
    return 0;
}

static int s_cidr(void)
{
    struct fsg_cidr c, d;
    char out[FSG_CIDR_STR_MAX];
    T_OK(fsg_cidr_parse(fsg_span_from_cstr("10.1.0.0/16"), false, &c));
    T_STR_EQ(fsg_cidr_format(&c, out), "10.1.0.0/16");
    T_ERR(FSG_E_PARSE, fsg_cidr_parse(fsg_span_from_cstr("10.1.2.3/16"), false, &d));
    T_OK(fsg_cidr_parse(fsg_span_from_cstr("10.1.2.3/16"), true, &d));
    T_STR_EQ(fsg_cidr_format(&d, out), "10.1.0.0/16");
    T_OK(fsg_cidr_parse(fsg_span_from_cstr("10.1.2.3"), false, &d));
    T_STR_EQ(fsg_cidr_format(&d, out), "10.1.2.3/32");
    T_CHECK(fsg_cidr_contains(&c, &d));
    T_CHECK(!fsg_cidr_contains(&d, &c));
    struct fsg_ip last;
    fsg_cidr_last(&c, &last);
    T_STR_EQ(fsg_ip_format(&last, out), "10.1.255.255");
    T_ERR(FSG_E_PARSE, fsg_cidr_parse(fsg_span_from_cstr("10.0.0.0/33"), false, &d));
    T_ERR(FSG_E_PARSE, fsg_cidr_parse(fsg_span_from_cstr("10.0.0.0/"), false, &d));
    T_OK(fsg_cidr_parse(fsg_span_from_cstr("2001:db8::/32"), false, &d));
    T_CHECK(!fsg_cidr_contains(&c, &d));
    T_STR_EQ(fsg_cidr_format(&d, out), "2001:db8::/32");
    return 0;
}

static int s_public(void)
{
    static const struct {
        const char *cidr;
        bool is_public;
    } cases[] = {
        { "10.0.0.0/8", false }, { "192.168.1.1/32", false }, { "8.8.8.8/32", true },
        { "0.0.0.0/0", true },   { "172.32.0.0/16", true },   { "fd00::/8", false },
        { "2600::/16", true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fsg_cidr c;
        T_OK(fsg_cidr_parse(fsg_span_from_cstr(cases[i].cidr), false, &c));
        T_CHECK(fsg_cidr_is_public(&c) == cases[i].is_public);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "roundtrip", s_roundtrip },
        { "v4_sorts_before_v6_and_numerically", s_v4_sorts_before_v6_and_numerically },
        { "cidr", s_cidr },
        { "public", s_public },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
