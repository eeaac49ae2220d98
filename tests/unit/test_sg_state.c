/* policy/sg_state: both state-file formats, the content hash, and bad input. */
#include <stdio.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/sg_state.h"
#include "tests/harness/test.h"

static enum fsg_err s_parse(const char *text, struct fsg_sg_state **ret, struct fsg_error *err)
{
    return fsg_sg_state_parse(fsg_span_from_cstr(text), ret, err);
}

static enum fsg_err s_load_data(const char *rel, struct fsg_sg_state **ret)
{
    struct fsg_error err = { 0 };
    enum fsg_err rc = fsg_sg_state_load(t_data_path(rel), ret, &err);
    if (rc != FSG_OK) {
        fprintf(stderr, "  %s\n", err.msg);
    }
    return rc;
}

static int s_cidr_is(const struct fsg_sg_rule *r, const char *want)
{
    char buf[FSG_CIDR_STR_MAX];
    return strcmp(fsg_cidr_format(&r->cidr, buf), want) == 0;
}

static int s_own_format(void)
{
    struct fsg_sg_state *st = NULL;
    T_OK(s_load_data("plan/own_rules.json", &st));
    T_CHECK(st->n_groups == 3);
    const struct fsg_sg_current *g = fsg_sg_state_find(st, "sg-0123456789abcdef0");
    T_CHECK(g != NULL);
    T_CHECK(g->rules.len == 4);
    T_CHECK(g->n_foreign == 2);
    /* Sorted by proto, ports, address (IPv4 first). */
    T_CHECK(g->rules.items[0].proto == FSG_PROTO_ICMP);
    T_CHECK(g->rules.items[0].from_port == 8 && g->rules.items[0].to_port == -1);
    T_CHECK(g->rules.items[1].from_port == 22);
    T_CHECK(s_cidr_is(&g->rules.items[2], "10.0.1.11/32"));
    T_CHECK(s_cidr_is(&g->rules.items[3], "2001:db8:1::/64"));
    T_CHECK(g->rules.items[3].cidr.addr.is_v6);
    T_STR_EQ(g->rules.items[1].description, "manual ssh");
    T_CHECK(g->rules.items[0].description == NULL);
    T_STR_EQ(g->foreign[0].peer, "pl-0123456789abcdef0");
    T_STR_EQ(g->foreign[1].peer, "sg-0fedcba9876543210");
    const struct fsg_sg_current *empty = fsg_sg_state_find(st, "sg-0aaaaaaaaaaaaaaa1");
    T_CHECK(empty != NULL && empty->rules.len == 0 && empty->n_foreign == 0);
    const struct fsg_sg_current *all = fsg_sg_state_find(st, "sg-0bbbbbbbbbbbbbbb2");
    T_CHECK(all != NULL && all->rules.len == 1);
    T_CHECK(all->rules.items[0].proto == FSG_PROTO_ALL);
    T_CHECK(all->rules.items[0].from_port == -1 && all->rules.items[0].to_port == -1);
    T_CHECK(fsg_sg_state_find(st, "sg-nope") == NULL);
    T_CHECK(fsg_sg_state_find(st, NULL) == NULL);
    fsg_sg_state_destroy(st);
    return 0;
}

static int s_aws_format(void)
{
    struct fsg_sg_state *st = NULL;
    T_OK(s_load_data("plan/aws_rules.json", &st));
    T_CHECK(st->n_groups == 3);
    const struct fsg_sg_current *g = fsg_sg_state_find(st, "sg-0123456789abcdef0");
    T_CHECK(g != NULL);
    T_CHECK(g->rules.len == 4); /* the egress rule is skipped */
    T_CHECK(g->n_foreign == 2);
    T_STR_EQ(g->rules.items[2].rule_id, "sgr-0aaa1111bbbb2222c");
    T_CHECK(s_cidr_is(&g->rules.items[2], "10.0.1.11/32"));
    T_STR_EQ(g->foreign[0].peer, "sg-0fedcba9876543210");
    T_STR_EQ(g->foreign[0].rule_id, "sgr-0aaa1111bbbb2222f");
    T_STR_EQ(g->foreign[1].peer, "pl-0123456789abcdef0");
    /* A group seen only through its egress rule exists, with no ingress rule. */
    const struct fsg_sg_current *e = fsg_sg_state_find(st, "sg-0aaaaaaaaaaaaaaa1");
    T_CHECK(e != NULL && e->rules.len == 0);
    fsg_sg_state_destroy(st);
    return 0;
}

/* The same rules in both formats hash the same: rule ids and order do not matter. */
static int s_hash_is_content_only(void)
{
    struct fsg_sg_state *a = NULL, *b = NULL;
    T_OK(s_load_data("plan/own_rules.json", &a));
    T_OK(s_load_data("plan/aws_rules.json", &b));
    for (size_t i = 0; i < a->n_groups; i++) {
        char ha[FSG_SG_HASH_HEX_LEN + 1], hb[FSG_SG_HASH_HEX_LEN + 1];
        const struct fsg_sg_current *gb = fsg_sg_state_find(b, a->groups[i].group_id);
        T_CHECK(gb != NULL);
        T_OK(fsg_sg_current_hash(&a->groups[i], ha, NULL));
        T_OK(fsg_sg_current_hash(gb, hb, NULL));
        T_STR_EQ(ha, hb);
        T_CHECK(strlen(ha) == FSG_SG_HASH_HEX_LEN);
    }
    fsg_sg_state_destroy(a);
    fsg_sg_state_destroy(b);
    return 0;
}

static int s_hash_sees_changes(void)
{
    static const char *const variants[] = {
        "{\"sg-1\": [{\"proto\": \"tcp\", \"from_port\": 5432, \"to_port\": 5432, "
        "\"cidr\": \"10.0.0.1/32\", \"description\": \"flowseg a\"}]}",
        /* description changed */
        "{\"sg-1\": [{\"proto\": \"tcp\", \"from_port\": 5432, \"to_port\": 5432, "
        "\"cidr\": \"10.0.0.1/32\", \"description\": \"flowseg b\"}]}",
        /* port changed */
        "{\"sg-1\": [{\"proto\": \"tcp\", \"from_port\": 5433, \"to_port\": 5433, "
        "\"cidr\": \"10.0.0.1/32\", \"description\": \"flowseg a\"}]}",
        /* address changed */
        "{\"sg-1\": [{\"proto\": \"tcp\", \"from_port\": 5432, \"to_port\": 5432, "
        "\"cidr\": \"10.0.0.2/32\", \"description\": \"flowseg a\"}]}",
        /* other group id, same rules */
        "{\"sg-2\": [{\"proto\": \"tcp\", \"from_port\": 5432, \"to_port\": 5432, "
        "\"cidr\": \"10.0.0.1/32\", \"description\": \"flowseg a\"}]}",
        /* a foreign rule added */
        "{\"sg-1\": [{\"proto\": \"tcp\", \"from_port\": 5432, \"to_port\": 5432, "
        "\"cidr\": \"10.0.0.1/32\", \"description\": \"flowseg a\"}, {\"proto\": \"tcp\", "
        "\"from_port\": 1, \"to_port\": 1, \"source_group\": \"sg-9\"}]}",
        /* empty */
        "{\"sg-1\": []}",
    };
    enum { N = sizeof variants / sizeof variants[0] };
    char h[N][FSG_SG_HASH_HEX_LEN + 1];
    for (size_t i = 0; i < N; i++) {
        struct fsg_sg_state *st = NULL;
        T_OK(s_parse(variants[i], &st, NULL));
        T_OK(fsg_sg_current_hash(&st->groups[0], h[i], NULL));
        fsg_sg_state_destroy(st);
        for (size_t j = 0; j < i; j++) {
            T_CHECK(strcmp(h[i], h[j]) != 0);
        }
    }
    return 0;
}

static int s_normalizes_ports(void)
{
    struct fsg_sg_state *st = NULL;
    T_OK(s_parse("{\"sg-1\": [{\"proto\": -1, \"from_port\": 0, \"to_port\": 65535, "
                 "\"cidr\": \"10.0.0.0/8\"}, {\"proto\": 50, \"from_port\": 1, \"to_port\": 2, "
                 "\"cidr\": \"10.0.0.0/8\"}, {\"proto\": \"6\", \"from_port\": 1, \"to_port\": 2,"
                 " \"cidr\": \"10.0.0.0/8\", \"rule_id\": \"sgr-1\"}]}", &st, NULL));
    const struct fsg_sg_rules *r = &st->groups[0].rules;
    T_CHECK(r->len == 3);
    T_CHECK(r->items[0].proto == FSG_PROTO_ALL && r->items[0].from_port == -1);
    T_CHECK(r->items[1].proto == FSG_PROTO_TCP && r->items[1].from_port == 1);
    T_STR_EQ(r->items[1].rule_id, "sgr-1");
    T_CHECK(r->items[2].proto == 50 && r->items[2].from_port == -1 && r->items[2].to_port == -1);
    fsg_sg_state_destroy(st);
    return 0;
}

static int s_bad_input(void)
{
    static const struct {
        const char *text;
        const char *msg; /* a part of the message */
    } cases[] = {
        { "", "state" },
        { "not json", "state" },
        { "[1, 2]", "must be an object" },
        { "{\"sg-1\": {}}", "array of rules" },
        { "{\"\": []}", "empty security group id" },
        { "{\"sg-1\": [1]}", "sg-1 rule 0: must be an object" },
        { "{\"sg-1\": [{\"cidr\": \"10.0.0.0/8\"}]}", "proto is missing" },
        { "{\"sg-1\": [{\"proto\": \"tcpp\", \"from_port\": 1, \"to_port\": 1, "
          "\"cidr\": \"10.0.0.0/8\"}]}", "proto must be" },
        { "{\"sg-1\": [{\"proto\": 300, \"cidr\": \"10.0.0.0/8\"}]}", "proto must be" },
        { "{\"sg-1\": [{\"proto\": \"tcp\", \"from_port\": 1, \"to_port\": 70000, "
          "\"cidr\": \"10.0.0.0/8\"}]}", "to_port" },
        { "{\"sg-1\": [{\"proto\": \"tcp\", \"from_port\": \"1\", \"to_port\": 2, "
          "\"cidr\": \"10.0.0.0/8\"}]}", "from_port must be" },
        { "{\"sg-1\": [{\"proto\": \"tcp\", \"from_port\": 9, \"to_port\": 2, "
          "\"cidr\": \"10.0.0.0/8\"}]}", "above to_port" },
        { "{\"sg-1\": [{\"proto\": \"tcp\", \"cidr\": \"10.0.0.0/8\"}]}", "0..65535" },
        { "{\"sg-1\": [{\"proto\": \"icmp\", \"from_port\": 300, \"to_port\": 1, "
          "\"cidr\": \"10.0.0.0/8\"}]}", "ICMP" },
        { "{\"sg-1\": [{\"proto\": \"-1\", \"cidr\": \"10.0.0.0/8\", "
          "\"cidr_ipv6\": \"::/0\"}]}", "exactly one" },
        { "{\"sg-1\": [{\"proto\": \"-1\"}]}", "exactly one" },
        { "{\"sg-1\": [{\"proto\": \"-1\", \"cidr\": \"2001:db8::/32\"}]}", "not an IPv4" },
        { "{\"sg-1\": [{\"proto\": \"-1\", \"cidr_ipv6\": \"10.0.0.0/8\"}]}", "not an IPv6" },
        { "{\"sg-1\": [{\"proto\": \"-1\", \"cidr\": \"10.0.0.1/8\"}]}", "bad CIDR" },
        { "{\"sg-1\": [{\"proto\": \"-1\", \"cidr\": \"10.0.0.0/33\"}]}", "bad CIDR" },
        { "{\"sg-1\": [{\"proto\": \"-1\", \"cidr\": 10}]}", "cidr must be a string" },
        { "{\"sg-1\": [{\"proto\": \"-1\", \"cidr\": \"10.0.0.0/8\", \"descripton\": \"x\"}]}",
          "unknown key \"descripton\"" },
        { "{\"sg-1\": [{\"proto\": \"-1\", \"cidr\": \"10.0.0.0/8\", \"description\": 5}]}",
          "description must be a string" },
        { "{\"sg-1\": [], \"sg-1\": []}", "state" },
        { "{\"SecurityGroupRules\": {}}", "must be an array" },
        { "{\"SecurityGroupRules\": [], \"NextToken\": \"abc\"}", "NextToken" },
        { "{\"SecurityGroupRules\": [{\"IsEgress\": false, \"IpProtocol\": \"tcp\", "
          "\"FromPort\": 1, \"ToPort\": 1, \"CidrIpv4\": \"10.0.0.0/8\"}]}", "GroupId is missing" },
        { "{\"SecurityGroupRules\": [{\"GroupId\": \"sg-1\", \"IpProtocol\": \"tcp\", "
          "\"FromPort\": 1, \"ToPort\": 1, \"CidrIpv4\": \"10.0.0.0/8\"}]}", "IsEgress" },
        { "{\"SecurityGroupRules\": [{\"GroupId\": \"sg-1\", \"IsEgress\": false, "
          "\"FromPort\": 1, \"ToPort\": 1, \"CidrIpv4\": \"10.0.0.0/8\"}]}", "IpProtocol is missing" },
        { "{\"SecurityGroupRules\": [{\"GroupId\": \"sg-1\", \"IsEgress\": false, "
          "\"IpProtocol\": \"tcp\", \"FromPort\": 1, \"ToPort\": 1}]}", "exactly one" },
        { "{\"SecurityGroupRules\": [{\"GroupId\": \"sg-1\", \"IsEgress\": false, "
          "\"IpProtocol\": \"tcp\", \"FromPort\": 1, \"ToPort\": 1, "
          "\"ReferencedGroupInfo\": {}}]}", "without GroupId" },
        { "{\"SecurityGroupRules\": [{\"GroupId\": \"sg-1\", \"IsEgress\": false, "
          "\"IpProtocol\": \"tcp\", \"FromPort\": 1, \"ToPort\": 1, "
          "\"CidrIpv4\": \"nope\"}]}", "SecurityGroupRules[0]: bad CIDR" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fsg_sg_state *st = NULL;
        struct fsg_error err = { 0 };
        enum fsg_err rc = s_parse(cases[i].text, &st, &err);
        if (rc == FSG_OK || st != NULL || strstr(err.msg, cases[i].msg) == NULL) {
            fprintf(stderr, "  case %zu: rc %s, msg \"%s\", want \"%s\"\n", i, fsg_err_name(rc),
                    err.msg, cases[i].msg);
            fsg_sg_state_destroy(st);
            return 1;
        }
    }
    return 0;
}

static int s_deep_nesting_is_refused(void)
{
    struct fsg_buf text = FSG_BUF_INIT;
    T_OK(fsg_buf_append_cstr(&text, "{\"sg-1\": "));
    for (int i = 0; i < 100000; i++) {
        T_OK(fsg_buf_append_byte(&text, '['));
    }
    struct fsg_sg_state *st = NULL;
    struct fsg_error err = { 0 };
    T_CHECK(fsg_sg_state_parse(fsg_span_from_buf(&text), &st, &err) != FSG_OK);
    T_CHECK(st == NULL);
    fsg_buf_clean_up(&text);
    return 0;
}

static int s_missing_file(void)
{
    struct fsg_sg_state *st = NULL;
    struct fsg_error err = { 0 };
    T_CHECK(fsg_sg_state_load("/nonexistent/state.json", &st, &err) != FSG_OK);
    T_CHECK(st == NULL);
    T_CHECK(strstr(err.msg, "/nonexistent/state.json") != NULL);
    return 0;
}

static int s_copy(void)
{
    struct fsg_sg_state *st = NULL;
    T_OK(s_load_data("plan/aws_rules.json", &st));
    struct fsg_sg_current c = { 0 };
    T_OK(fsg_sg_current_copy(&c, &st->groups[0]));
    char h1[FSG_SG_HASH_HEX_LEN + 1], h2[FSG_SG_HASH_HEX_LEN + 1];
    T_OK(fsg_sg_current_hash(&c, h1, NULL));
    T_OK(fsg_sg_current_hash(&st->groups[0], h2, NULL));
    T_STR_EQ(h1, h2);
    fsg_sg_current_clean_up(&c);
    fsg_sg_current_clean_up(&c); /* idempotent */
    fsg_sg_state_destroy(st);
    fsg_sg_state_destroy(NULL);
    return 0;
}

/* Every allocation failure gives a clean error and no leak. */
static int s_alloc_failures(void)
{
    struct fsg_buf text = FSG_BUF_INIT;
    T_OK(t_read_data_file("plan/aws_rules.json", &text));
    for (long n = 1; n < 400; n++) {
        struct fsg_sg_state *st = NULL;
        long before = fsg_mem_live();
        fsg_mem_fail_after(n);
        enum fsg_err rc = fsg_sg_state_parse(fsg_span_from_buf(&text), &st, NULL);
        fsg_mem_fail_after(0);
        T_CHECK(rc == FSG_OK || rc == FSG_E_NOMEM);
        T_CHECK(rc == FSG_OK || st == NULL);
        fsg_sg_state_destroy(st);
        T_CHECK(fsg_mem_live() == before);
    }
    fsg_buf_clean_up(&text);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "own_format", s_own_format },
        { "aws_format", s_aws_format },
        { "hash_is_content_only", s_hash_is_content_only },
        { "hash_sees_changes", s_hash_sees_changes },
        { "normalizes_ports", s_normalizes_ports },
        { "bad_input", s_bad_input },
        { "deep_nesting_is_refused", s_deep_nesting_is_refused },
        { "missing_file", s_missing_file },
        { "copy", s_copy },
        { "alloc_failures", s_alloc_failures },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
