/* policy/cidrset: exact minimal CIDR covers, exclusions, no widening, families apart,
 * provenance tags. Every expected cover below was worked out by hand. */
#include <stdio.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/cidrset.h"
#include "tests/harness/test.h"

static struct fsg_ip s_ip(const char *s)
{
    struct fsg_ip ip = { 0 };
    if (fsg_ip_parse(fsg_span_from_cstr(s), &ip) != FSG_OK) {
        fprintf(stderr, "  bad test address %s\n", s);
    }
    return ip;
}

static enum fsg_err s_add(struct fsg_cidrset *s, const char *first, const char *last, uint32_t tag)
{
    struct fsg_ip a = s_ip(first);
    struct fsg_ip b = s_ip(last);
    return fsg_cidrset_add_range(s, &a, &b, tag);
}

static enum fsg_err s_add_cidr(struct fsg_cidrset *s, const char *cidr, uint32_t tag)
{
    struct fsg_cidr c;
    enum fsg_err rc = fsg_cidr_parse(fsg_span_from_cstr(cidr), false, &c);
    return rc == FSG_OK ? fsg_cidrset_add_cidr(s, &c, tag) : rc;
}

static enum fsg_err s_sub(struct fsg_cidrset *s, const char *first, const char *last)
{
    struct fsg_ip a = s_ip(first);
    struct fsg_ip b = s_ip(last);
    return fsg_cidrset_subtract_range(s, &a, &b);
}

/* The cover as "cidr cidr ..." (with "#tag/n" after each block when with_tags). */
static const char *s_cover(const struct fsg_cidrset *s, bool with_tags)
{
    static char out[4096];
    struct fsg_cidrset_blocks b = { 0 };
    out[0] = '\0';
    if (fsg_cidrset_to_blocks(s, &b) != FSG_OK) {
        return "(error)";
    }
    size_t n = 0;
    for (size_t i = 0; i < b.len; i++) {
        char c[FSG_CIDR_STR_MAX];
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", i > 0 ? " " : "",
                              fsg_cidr_format(&b.items[i].cidr, c));
        if (with_tags) {
            n += (size_t)snprintf(out + n, sizeof out - n, "#%u/%u", b.items[i].tag,
                                  b.items[i].n_tags);
        }
    }
    fsg_cidrset_blocks_clean_up(&b);
    return out;
}

static int s_range_to_exact_cover(void)
{
    struct fsg_cidrset s = FSG_CIDRSET_INIT;
    T_OK(s_add(&s, "192.168.50.10", "192.168.50.20", 0));
    /* 10-11 /31, 12-15 /30, 16-19 /30, 20 /32 */
    T_STR_EQ(s_cover(&s, false),
             "192.168.50.10/31 192.168.50.12/30 192.168.50.16/30 192.168.50.20/32");
    fsg_cidrset_clean_up(&s);

    T_OK(s_add(&s, "10.0.0.0", "10.0.0.255", 0));
    T_STR_EQ(s_cover(&s, false), "10.0.0.0/24");
    fsg_cidrset_clean_up(&s);

    T_OK(s_add(&s, "2001:db8::1", "2001:db8::6", 0));
    T_STR_EQ(s_cover(&s, false), "2001:db8::1/128 2001:db8::2/127 2001:db8::4/127 2001:db8::6/128");
    fsg_cidrset_clean_up(&s);
    return 0;
}

static int s_exclusion_is_subtracted(void)
{
    struct fsg_cidrset s = FSG_CIDRSET_INIT;
    T_OK(s_add_cidr(&s, "10.0.9.0/28", 0));
    T_OK(s_sub(&s, "10.0.9.5", "10.0.9.5"));
    /* 0-3, 4, (5 out), 6-7, 8-15 */
    T_STR_EQ(s_cover(&s, false), "10.0.9.0/30 10.0.9.4/32 10.0.9.6/31 10.0.9.8/29");
    /* An exclusion covering everything leaves nothing. */
    T_OK(s_sub(&s, "10.0.0.0", "10.0.255.255"));
    T_CHECK(s.len == 0);
    T_STR_EQ(s_cover(&s, false), "");
    fsg_cidrset_clean_up(&s);

    /* Exclusions only touch their own family. */
    T_OK(s_add_cidr(&s, "10.0.0.0/31", 0));
    T_OK(s_add_cidr(&s, "::/127", 0));
    T_OK(s_sub(&s, "::1", "::1"));
    T_STR_EQ(s_cover(&s, false), "10.0.0.0/31 ::/128");
    fsg_cidrset_clean_up(&s);
    return 0;
}

static int s_merges_without_widening(void)
{
    struct fsg_cidrset s = FSG_CIDRSET_INIT;
    /* Adjacent aligned halves merge. */
    T_OK(s_add_cidr(&s, "10.0.0.128/25", 0));
    T_OK(s_add_cidr(&s, "10.0.0.0/25", 0));
    /* Contained and duplicated blocks disappear. */
    T_OK(s_add_cidr(&s, "10.0.0.5/32", 0));
    T_OK(s_add_cidr(&s, "10.0.0.0/25", 0));
    T_STR_EQ(s_cover(&s, false), "10.0.0.0/24");
    fsg_cidrset_clean_up(&s);

    /* Adjacent but not aligned: .1 and .2 stay two /32s (a /30 would let in .0 and .3). */
    T_OK(s_add_cidr(&s, "10.0.0.2/32", 0));
    T_OK(s_add_cidr(&s, "10.0.0.1/32", 0));
    T_STR_EQ(s_cover(&s, false), "10.0.0.1/32 10.0.0.2/32");
    fsg_cidrset_clean_up(&s);

    /* Two /24s that are not a /23 stay apart; three consecutive /24s make a /23 + /24. */
    T_OK(s_add_cidr(&s, "10.0.1.0/24", 0));
    T_OK(s_add_cidr(&s, "10.0.2.0/24", 0));
    T_STR_EQ(s_cover(&s, false), "10.0.1.0/24 10.0.2.0/24");
    T_OK(s_add_cidr(&s, "10.0.3.0/24", 0));
    T_STR_EQ(s_cover(&s, false), "10.0.1.0/24 10.0.2.0/23");
    fsg_cidrset_clean_up(&s);

    /* Overlapping ranges: union only. */
    T_OK(s_add(&s, "10.0.0.0", "10.0.0.9", 0));
    T_OK(s_add(&s, "10.0.0.5", "10.0.0.15", 0));
    T_STR_EQ(s_cover(&s, false), "10.0.0.0/28");
    fsg_cidrset_clean_up(&s);
    return 0;
}

static int s_families_apart(void)
{
    struct fsg_cidrset s = FSG_CIDRSET_INIT;
    T_OK(s_add_cidr(&s, "::ffff:10.0.0.1/128", 0)); /* IPv6 text: stays IPv6 */
    T_OK(s_add_cidr(&s, "10.0.0.1/32", 0));
    T_OK(s_add_cidr(&s, "10.0.0.0/32", 0));
    T_STR_EQ(s_cover(&s, false), "10.0.0.0/31 ::ffff:10.0.0.1/128");
    struct fsg_ip v4 = s_ip("10.0.0.1");
    struct fsg_ip v6 = s_ip("::ffff:10.0.0.0");
    T_CHECK(fsg_cidrset_contains_ip(&s, &v4));
    T_CHECK(!fsg_cidrset_contains_ip(&s, &v6));
    fsg_cidrset_clean_up(&s);
    return 0;
}

static int s_whole_spaces_and_edges(void)
{
    struct fsg_cidrset s = FSG_CIDRSET_INIT;
    T_OK(s_add(&s, "0.0.0.0", "255.255.255.255", 0));
    T_OK(s_add(&s, "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0));
    T_STR_EQ(s_cover(&s, false), "0.0.0.0/0 ::/0");
    /* Everything but 0.0.0.0: one block per prefix length 1..32. */
    T_OK(s_sub(&s, "0.0.0.0", "0.0.0.0"));
    struct fsg_cidrset_blocks b = { 0 };
    T_OK(fsg_cidrset_to_blocks(&s, &b));
    T_CHECK(b.len == 33); /* 32 IPv4 + ::/0 */
    char c[FSG_CIDR_STR_MAX];
    T_STR_EQ(fsg_cidr_format(&b.items[0].cidr, c), "0.0.0.1/32");
    T_STR_EQ(fsg_cidr_format(&b.items[31].cidr, c), "128.0.0.0/1");
    fsg_cidrset_blocks_clean_up(&b);
    /* And the last IPv6 address out. */
    T_OK(s_sub(&s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
               "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
    T_OK(fsg_cidrset_to_blocks(&s, &b));
    T_CHECK(b.len == 32 + 128);
    T_STR_EQ(fsg_cidr_format(&b.items[32].cidr, c), "::/1");
    T_STR_EQ(fsg_cidr_format(&b.items[b.len - 1].cidr, c),
             "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/128");
    fsg_cidrset_blocks_clean_up(&b);
    fsg_cidrset_clean_up(&s);
    return 0;
}

static int s_provenance_tags(void)
{
    struct fsg_cidrset s = FSG_CIDRSET_INIT;
    T_OK(s_add_cidr(&s, "10.0.0.0/25", 5));
    T_OK(s_add_cidr(&s, "10.0.0.128/25", 3));
    T_OK(s_add_cidr(&s, "10.0.0.7/32", 5)); /* same tag twice counts once */
    T_OK(s_add_cidr(&s, "10.0.5.0/32", 9));
    T_STR_EQ(s_cover(&s, true), "10.0.0.0/24#3/2 10.0.5.0/32#9/1");
    /* add_set retags. */
    struct fsg_cidrset t = FSG_CIDRSET_INIT;
    T_OK(fsg_cidrset_add_set(&t, &s, 1));
    T_STR_EQ(s_cover(&t, true), "10.0.0.0/24#1/1 10.0.5.0/32#1/1");
    fsg_cidrset_clean_up(&t);
    /* normalize keeps the smallest tag and the exact set. */
    T_OK(fsg_cidrset_normalize(&s));
    T_CHECK(s.len == 2);
    T_STR_EQ(s_cover(&s, true), "10.0.0.0/24#3/1 10.0.5.0/32#9/1");
    fsg_cidrset_clean_up(&s);
    return 0;
}

static int s_invalid_ranges(void)
{
    struct fsg_cidrset s = FSG_CIDRSET_INIT;
    T_ERR(FSG_E_INVALID_ARG, s_add(&s, "10.0.0.2", "10.0.0.1", 0));
    T_ERR(FSG_E_INVALID_ARG, s_add(&s, "10.0.0.1", "::1", 0));
    T_ERR(FSG_E_INVALID_ARG, s_sub(&s, "::2", "::1"));
    struct fsg_cidr bad = { .addr = s_ip("10.0.0.0"), .prefix = 33 };
    T_ERR(FSG_E_INVALID_ARG, fsg_cidrset_add_cidr(&s, &bad, 0));
    T_CHECK(s.len == 0);
    fsg_cidrset_clean_up(&s);
    fsg_cidrset_clean_up(NULL);
    fsg_cidrset_blocks_clean_up(NULL);
    return 0;
}

/* Every allocation failure gives FSG_E_NOMEM, leaves the set usable and leaks nothing. */
static int s_out_of_memory(void)
{
    for (long fail = 1; fail < 40; fail++) {
        struct fsg_cidrset s = FSG_CIDRSET_INIT;
        struct fsg_cidrset_blocks b = { 0 };
        fsg_mem_fail_after(fail);
        enum fsg_err rc = FSG_OK;
        for (int i = 0; i < 20 && rc == FSG_OK; i++) {
            char a[32];
            snprintf(a, sizeof a, "10.0.%d.1", i);
            rc = s_add(&s, a, a, (uint32_t)i);
        }
        if (rc == FSG_OK) {
            rc = s_sub(&s, "10.0.3.0", "10.0.3.255");
        }
        if (rc == FSG_OK) {
            rc = fsg_cidrset_to_blocks(&s, &b);
        }
        fsg_mem_fail_after(0);
        T_CHECK(rc == FSG_OK || rc == FSG_E_NOMEM);
        T_CHECK(rc != FSG_OK || b.len == 19);
        fsg_cidrset_blocks_clean_up(&b);
        fsg_cidrset_clean_up(&s);
    }
    return 0;
}

/* subtract_set is the exact difference: pieces keep their tags, other families untouched,
 * the whole space and edges work, and the result equals subtracting range by range. */
static int s_subtract_set(void)
{
    struct fsg_cidrset a = FSG_CIDRSET_INIT;
    struct fsg_cidrset d = FSG_CIDRSET_INIT;
    T_OK(s_add_cidr(&a, "10.0.0.0/24", 1));
    T_OK(s_add_cidr(&a, "10.0.2.0/24", 2));
    T_OK(s_add_cidr(&a, "fd00::/120", 3));
    T_OK(s_add(&d, "10.0.0.5", "10.0.0.5", 9));
    T_OK(s_add(&d, "10.0.0.128", "10.0.2.127", 9)); /* spans a gap, two ranges */
    T_OK(s_add_cidr(&d, "10.0.0.4/31", 9));          /* overlaps the first */
    T_OK(s_add(&d, "fd00::ff", "fd00::ff", 9));
    T_CHECK(fsg_cidrset_overlaps(&a, &d) && fsg_cidrset_overlaps(&d, &a));
    T_OK(fsg_cidrset_subtract_set(&a, &d));
    T_CHECK(!fsg_cidrset_overlaps(&a, &d));
    T_STR_EQ(s_cover(&a, true), "10.0.0.0/30#1/1 10.0.0.6/31#1/1 10.0.0.8/29#1/1 "
                                "10.0.0.16/28#1/1 10.0.0.32/27#1/1 10.0.0.64/26#1/1 "
                                "10.0.2.128/25#2/1 fd00::/121#3/1 fd00::80/122#3/1 "
                                "fd00::c0/123#3/1 fd00::e0/124#3/1 fd00::f0/125#3/1 "
                                "fd00::f8/126#3/1 fd00::fc/127#3/1 fd00::fe/128#3/1");
    /* Everything minus everything is empty; nothing minus something stays empty. */
    struct fsg_cidrset all = FSG_CIDRSET_INIT;
    T_OK(s_add_cidr(&all, "0.0.0.0/0", 0));
    T_OK(s_add_cidr(&all, "::/0", 0));
    T_OK(fsg_cidrset_subtract_set(&a, &all));
    T_CHECK(a.len == 0);
    T_OK(fsg_cidrset_subtract_set(&a, &all));
    /* The whole space minus its two ends. */
    struct fsg_cidrset ends = FSG_CIDRSET_INIT;
    T_OK(s_add(&ends, "0.0.0.0", "0.0.0.0", 0));
    T_OK(s_add(&ends, "255.255.255.255", "255.255.255.255", 0));
    T_OK(fsg_cidrset_copy(&a, &all));
    T_OK(fsg_cidrset_subtract_set(&a, &ends));
    struct fsg_ip w = s_ip("0.0.0.0");
    T_CHECK(!fsg_cidrset_contains_ip(&a, &w));
    struct fsg_ip x = s_ip("255.255.255.254");
    struct fsg_ip y = s_ip("255.255.255.255");
    struct fsg_ip z = s_ip("0.0.0.1");
    T_CHECK(fsg_cidrset_contains_ip(&a, &x) && !fsg_cidrset_contains_ip(&a, &y) &&
            fsg_cidrset_contains_ip(&a, &z));
    fsg_cidrset_clean_up(&a);
    fsg_cidrset_clean_up(&d);
    fsg_cidrset_clean_up(&all);
    fsg_cidrset_clean_up(&ends);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "range_to_exact_cover", s_range_to_exact_cover },
        { "exclusion_is_subtracted", s_exclusion_is_subtracted },
        { "merges_without_widening", s_merges_without_widening },
        { "families_apart", s_families_apart },
        { "whole_spaces_and_edges", s_whole_spaces_and_edges },
        { "provenance_tags", s_provenance_tags },
        { "invalid_ranges", s_invalid_ranges },
        { "subtract_set", s_subtract_set },
        { "out_of_memory", s_out_of_memory },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
