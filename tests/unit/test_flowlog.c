/* flowlogs/flowlog: header-driven decoding of every documented format, "-" everywhere, NODATA /
 * SKIPDATA, malformed lines, line endings, and the same records whatever the input split. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "flowlogs/flowlog.h"
#include "lib/core/buf.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"

/* One record as text, for whole-stream comparisons. */
static int s_render(struct fsg_buf *out, const struct fsg_flowlog_record *r)
{
    char s[FSG_IP_STR_MAX], d[FSG_IP_STR_MAX], ps[FSG_IP_STR_MAX], pd[FSG_IP_STR_MAX];
    static const char *const dirs[] = { "-", "ingress", "egress" };
    static const char *const acts[] = { "ACCEPT", "REJECT", "-" };
    return fsg_buf_printf(
               out, "%lu %.*s %s %s %s %s %u %u %u %d %s %s %" PRIu64 " %" PRIu64 " %s %s\n",
               r->line, FSG_SPAN_FMT(r->interface_id),
               r->has_addrs ? fsg_ip_format(&r->srcaddr, s) : "-",
               r->has_addrs ? fsg_ip_format(&r->dstaddr, d) : "-",
               r->has_pkt_addrs ? fsg_ip_format(&r->pkt_srcaddr, ps) : "-",
               r->has_pkt_addrs ? fsg_ip_format(&r->pkt_dstaddr, pd) : "-", (unsigned)r->srcport,
               (unsigned)r->dstport, (unsigned)r->protocol, r->tcp_flags, dirs[r->flow_direction],
               acts[r->action], r->packets, r->bytes, r->start_s == FSG_FLOW_TIME_NONE ? "-" : "t",
               r->end_s == FSG_FLOW_TIME_NONE ? "-" : "t") != FSG_OK;
}

struct s_result {
    enum fsg_err rc;
    struct fsg_error err;
    struct fsg_buf text; /* rendered records */
    struct fsg_flowlog_stats stats;
    struct fsg_flowlog_malformed bad[FSG_FLOWLOG_MALFORMED_SAMPLES];
    size_t n_bad;
};

/* Decodes `in` fed in chunks of `chunk` bytes (0 = all at once). */
static void s_decode(struct fsg_span in, size_t chunk, const struct fsg_flowlog_options *o,
                     struct s_result *res)
{
    struct fsg_flowlog_decoder *d = NULL;
    *res = (struct s_result){ .rc = FSG_OK };
    res->rc = fsg_flowlog_decoder_new(o, &d, &res->err);
    size_t pos = 0;
    bool finished = false;
    while (res->rc == FSG_OK) {
        const struct fsg_flowlog_record *rec;
        res->rc = fsg_flowlog_decoder_next(d, &rec, &res->err);
        if (res->rc != FSG_OK) {
            break;
        }
        if (rec != NULL) {
            if (s_render(&res->text, rec) != 0) {
                res->rc = FSG_E_NOMEM;
            }
            continue;
        }
        if (finished) {
            if (!fsg_flowlog_decoder_done(d)) {
                res->rc = FSG_E_INTERNAL;
            }
            break;
        }
        if (pos == in.len) {
            fsg_flowlog_decoder_set_input(d, FSG_SPAN_NULL);
            fsg_flowlog_decoder_finish(d);
            finished = true;
            continue;
        }
        size_t take = chunk == 0 || chunk > in.len - pos ? in.len - pos : chunk;
        fsg_flowlog_decoder_set_input(d, (struct fsg_span){ in.ptr + pos, take });
        pos += take;
    }
    if (d != NULL) {
        res->stats = *fsg_flowlog_decoder_stats(d);
        const struct fsg_flowlog_malformed *m = fsg_flowlog_decoder_malformed(d, &res->n_bad);
        memcpy(res->bad, m, res->n_bad * sizeof *m);
    }
    fsg_flowlog_decoder_destroy(d);
}

static void s_decode_str(const char *text, const struct fsg_flowlog_options *o,
                         struct s_result *res)
{
    s_decode(fsg_span_from_cstr(text), 0, o, res);
}

static int s_gzip(struct fsg_buf *out, struct fsg_span in, size_t members)
{
    size_t step = in.len / members + 1;
    for (size_t off = 0; off < in.len || off == 0; off += step) {
        z_stream z = { 0 };
        uint8_t tmp[8192];
        size_t n = in.len - off < step ? in.len - off : step;
        if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            return 1;
        }
        z.next_in = (Bytef *)(uintptr_t)(in.ptr + off);
        z.avail_in = (uInt)n;
        int zrc;
        do {
            z.next_out = tmp;
            z.avail_out = sizeof tmp;
            zrc = deflate(&z, Z_FINISH);
            if (fsg_buf_append(out, tmp, sizeof tmp - z.avail_out) != FSG_OK) {
                return 1;
            }
        } while (zrc == Z_OK);
        deflateEnd(&z);
        if (in.len == 0) {
            break;
        }
    }
    return 0;
}

/* aws-wire.md §1.4, the default-format example object. */
static const char s_default_object[] =
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start "
    "end action log-status\n"
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 "
    "1418530070 ACCEPT OK\n"
    "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 "
    "1418530070 REJECT OK\n"
    "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA\n"
    "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA\n"
    "2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 "
    "2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK\n";

static int s_default_format(void)
{
    struct s_result r;
    s_decode_str(s_default_object, NULL, &r);
    T_OK(r.rc);
    T_STR_EQ(
        fsg_buf_cstr(&r.text),
        "2 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 - - 20641 22 6 -1 - ACCEPT 20 4249 t "
        "t\n"
        "3 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 - - 49761 3389 6 -1 - REJECT 20 4249 t t\n"
        "6 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 "
        "2001:db8:1234:a102:3304:8879:34cf:4071 - - 34892 22 6 -1 - ACCEPT 54 8855 t t\n");
    T_CHECK(r.stats.lines == 5 && r.stats.records == 3 && r.stats.nodata == 1 &&
            r.stats.skipdata == 1 && r.stats.malformed == 0);
    T_CHECK(r.stats.bytes_in == strlen(s_default_object));
    fsg_buf_clean_up(&r.text);
    return 0;
}

/* Exact values of one record, including times. */
static int s_values(void)
{
    struct fsg_flowlog_decoder *d = NULL;
    const struct fsg_flowlog_record *rec;
    T_OK(fsg_flowlog_decoder_new(NULL, &d, NULL));
    fsg_flowlog_decoder_set_input(d, fsg_span_from_cstr(s_default_object));
    fsg_flowlog_decoder_finish(d);
    T_OK(fsg_flowlog_decoder_next(d, &rec, NULL));
    T_CHECK(rec != NULL);
    T_SPAN_EQ(rec->interface_id, "eni-1235b8ca123456789");
    T_CHECK(rec->start_s == 1418530010 && rec->end_s == 1418530070);
    T_CHECK(rec->packets == 20 && rec->bytes == 4249 && rec->protocol == 6);
    T_CHECK(fsg_flowlog_decoder_has_field(d, FSG_FIELD_LOG_STATUS));
    T_CHECK(!fsg_flowlog_decoder_has_field(d, FSG_FIELD_FLOW_DIRECTION));
    T_STR_EQ(fsg_flowlog_decoder_engine(d), "plain");
    fsg_flowlog_decoder_destroy(d);
    return 0;
}

static int s_per_eni_format(void)
{
    struct s_result r;
    s_decode_str(
        "srcaddr dstaddr dstport protocol tcp-flags pkt-srcaddr pkt-dstaddr srcport action type\n"
        "10.0.1.5 10.0.20.11 5432 6 2 10.0.1.5 10.0.20.11 40001 ACCEPT IPv4\n"
        "10.0.20.11 10.0.1.5 40001 6 18 10.0.20.11 10.0.1.5 5432 ACCEPT IPv4\n"
        "10.0.1.6 10.0.20.11 5432 6 - - - 40002 REJECT IPv4\n",
        NULL, &r);
    T_OK(r.rc);
    T_STR_EQ(fsg_buf_cstr(&r.text),
             "2  10.0.1.5 10.0.20.11 10.0.1.5 10.0.20.11 40001 5432 6 2 - ACCEPT 0 0 - -\n"
             "3  10.0.20.11 10.0.1.5 10.0.20.11 10.0.1.5 5432 40001 6 18 - ACCEPT 0 0 - -\n"
             "4  10.0.1.6 10.0.20.11 - - 40002 5432 6 -1 - REJECT 0 0 - -\n");
    T_CHECK(r.stats.records == 3 && r.stats.lines == 3);
    fsg_buf_clean_up(&r.text);
    return 0;
}

/* aws-wire.md §1.4, the custom v5 order of the AWS examples page. */
static int s_v5_custom_order(void)
{
    struct s_result r;
    s_decode_str(
        "version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id "
        "vpc-id subnet-id instance-id interface-id region az-id sublocation-type sublocation-id "
        "action tcp-flags pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service "
        "traffic-path flow-direction log-status\n"
        "5 52.95.128.179 10.0.0.71 80 34210 6 1616729292 1616729349 IPv4 14 15044 123456789012 "
        "vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 "
        "ap-southeast-2 apse2-az3 - - ACCEPT 19 52.95.128.179 10.0.0.71 S3 - - ingress OK\n"
        "5 10.0.0.71 52.95.128.179 34210 80 6 1616729292 1616729349 IPv4 7 471 123456789012 "
        "vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 "
        "ap-southeast-2 apse2-az3 - - ACCEPT 3 10.0.0.71 52.95.128.179 - S3 8 egress OK\n",
        NULL, &r);
    T_OK(r.rc);
    T_STR_EQ(
        fsg_buf_cstr(&r.text),
        "2 eni-1235b8ca123456789 52.95.128.179 10.0.0.71 52.95.128.179 10.0.0.71 80 34210 6 19 "
        "ingress ACCEPT 14 15044 t t\n"
        "3 eni-1235b8ca123456789 10.0.0.71 52.95.128.179 10.0.0.71 52.95.128.179 34210 80 6 3 "
        "egress ACCEPT 7 471 t t\n");
    fsg_buf_clean_up(&r.text);
    return 0;
}

/* Every documented field (v2..v8) plus two names AWS may add: unknown columns are kept, ignored. */
static const char s_all_header[] =
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start "
    "end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr "
    "region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service "
    "flow-direction traffic-path ecs-cluster-arn ecs-cluster-name ecs-container-instance-arn "
    "ecs-container-instance-id ecs-container-id ecs-second-container-id ecs-service-name "
    "ecs-task-definition-arn ecs-task-arn ecs-task-id reject-reason resource-id "
    "encryption-status\n";

static int s_every_field(void)
{
    struct fsg_buf in = FSG_BUF_INIT;
    T_OK(fsg_buf_append_cstr(&in, s_all_header));
    T_OK(fsg_buf_append_cstr(
        &in,
        "8 123456789012 eni-0a1b2c3d4e5f60001 10.0.1.5 10.0.20.11 40001 5432 6 10 2000 1700000000 "
        "1700000060 REJECT OK vpc-1 subnet-1 - 2 IPv4 10.0.1.5 10.0.20.11 us-east-1 use1-az1 - - "
        "- - ingress - arn:aws:ecs:us-east-1:123456789012:cluster/c c "
        "arn:aws:ecs:us-east-1:123456789012:container-instance/x x id1 id2 svc "
        "arn:aws:ecs:us-east-1:123456789012:task-definition/t:1 "
        "arn:aws:ecs:us-east-1:123456789012:task/c/t t BPA eni-0a1b2c3d4e5f60001 0\n"));
    struct s_result r;
    s_decode(fsg_span_from_buf(&in), 0, NULL, &r);
    T_OK(r.rc);
    T_STR_EQ(fsg_buf_cstr(&r.text),
             "2 eni-0a1b2c3d4e5f60001 10.0.1.5 10.0.20.11 10.0.1.5 10.0.20.11 "
             "40001 5432 6 2 ingress REJECT 10 2000 t t\n");
    fsg_buf_clean_up(&r.text);
    /* Every documented name maps both ways. */
    for (unsigned f = 1; f < FSG_FIELD_COUNT_; f++) {
        const char *name = fsg_flowlog_field_name((enum fsg_flowlog_field)f);
        T_CHECK(name != NULL);
        T_CHECK(strstr(s_all_header, name) != NULL);
        T_CHECK(fsg_flowlog_field_lookup(fsg_span_from_cstr(name)) == (enum fsg_flowlog_field)f);
    }
    T_CHECK(fsg_flowlog_field_lookup(fsg_span_from_cstr("resource-id")) == FSG_FIELD_UNKNOWN);
    T_CHECK(fsg_flowlog_field_name(FSG_FIELD_UNKNOWN) == NULL);
    T_CHECK(fsg_flowlog_field_name(FSG_FIELD_COUNT_) == NULL);
    fsg_buf_clean_up(&in);
    return 0;
}

static int s_dash_everywhere(void)
{
    struct s_result r;
    s_decode_str("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
                 "bytes start "
                 "end action log-status tcp-flags flow-direction pkt-srcaddr pkt-dstaddr\n"
                 "- - - - - - - - - - - - - - - - - -\n"
                 "- - - 10.0.0.1 10.0.0.2 - - - - - - - - - - - - -\n",
                 NULL, &r);
    T_OK(r.rc);
    T_STR_EQ(fsg_buf_cstr(&r.text), "2  - - - - 0 0 0 -1 - - 0 0 - -\n"
                                    "3  10.0.0.1 10.0.0.2 - - 0 0 0 -1 - - 0 0 - -\n");
    T_CHECK(r.stats.records == 2 && r.stats.malformed == 0);
    fsg_buf_clean_up(&r.text);
    return 0;
}

static int s_line_endings_and_spaces(void)
{
    struct s_result r;
    s_decode_str("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
                 "bytes start end action log-status\r\n"
                 "\r\n"
                 "   \n"
                 "2 1 eni-a 10.0.0.1 10.0.0.2 1 2 6 1 1 1 1 ACCEPT OK\r\n"
                 "  2  1   eni-b 10.0.0.1  10.0.0.2 1 2 6 1 1 1 1 ACCEPT OK  \n"
                 "\n"
                 "2 1 eni-c 10.0.0.1 10.0.0.2 1 2 6 1 1 1 1 ACCEPT OK",
                 NULL, &r);
    T_OK(r.rc);
    T_STR_EQ(fsg_buf_cstr(&r.text), "4 eni-a 10.0.0.1 10.0.0.2 - - 1 2 6 -1 - ACCEPT 1 1 t t\n"
                                    "5 eni-b 10.0.0.1 10.0.0.2 - - 1 2 6 -1 - ACCEPT 1 1 t t\n"
                                    "7 eni-c 10.0.0.1 10.0.0.2 - - 1 2 6 -1 - ACCEPT 1 1 t t\n");
    T_CHECK(r.stats.lines == 3);
    fsg_buf_clean_up(&r.text);
    return 0;
}

static int s_garbage_lines_are_counted_and_skipped(void)
{
    struct s_result r;
    s_decode_str("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
                 "bytes start end action log-status\n"
                 "garbage\n"                                                                /* 2 */
                 "2 1 eni-a 10.0.0.1 10.0.0.2 1 2 6 1 1 1 1 ACCEPT OK\n"                    /* 3 */
                 "2 1 eni-a 10.0.0.1 10.0.0.2 1 70000 6 1 1 1 1 ACCEPT OK\n"                /* 4 */
                 "2 1 eni-a 10.0.0.1 10.0.0.256 1 2 6 1 1 1 1 ACCEPT OK\n"                  /* 5 */
                 "2 1 eni-a 10.0.0.1 10.0.0.2 1 2 6 1 1 1 1 MAYBE OK\n"                     /* 6 */
                 "2 1 eni-a 10.0.0.1 10.0.0.2 1 2 6 1 1 1 1 ACCEPT OK extra\n"              /* 7 */
                 "2 1 eni-a 10.0.0.1 10.0.0.2 1 2 300 1 1 1 1 ACCEPT OK\n"                  /* 8 */
                 "2 1 eni-a 10.0.0.1 10.0.0.2 1 2 6 1 99999999999999999999 1 1 ACCEPT OK\n" /* 9 */
                 "2 1 eni-a 10.0.0.1 10.0.0.2 1 2 6 -5 1 1 1 ACCEPT OK\n"                   /* 10 */
                 "2 1 eni-a 10.0.0.1 10.0.0.2 1 2 6 1 1 1 1 ACCEPT WHAT\n"                  /* 11 */
                 "2 1 eni-a 010.0.0.1 10.0.0.2 1 2 6 1 1 1 1 ACCEPT OK\n"                   /* 12 */
                 "2 1 eni-b 10.0.0.1 10.0.0.2 1 2 6 1 1 1 1 ACCEPT OK\n",                   /* 13 */
                 NULL, &r);
    T_OK(r.rc);
    T_STR_EQ(fsg_buf_cstr(&r.text), "3 eni-a 10.0.0.1 10.0.0.2 - - 1 2 6 -1 - ACCEPT 1 1 t t\n"
                                    "13 eni-b 10.0.0.1 10.0.0.2 - - 1 2 6 -1 - ACCEPT 1 1 t t\n");
    T_CHECK(r.stats.malformed == 10 && r.stats.records == 2 && r.stats.lines == 12);
    T_CHECK(r.n_bad == FSG_FLOWLOG_MALFORMED_SAMPLES);
    T_CHECK(r.bad[0].line == 2 && strstr(r.bad[0].reason, "expected 14 fields, got 1") != NULL);
    T_CHECK(r.bad[1].line == 4 && strstr(r.bad[1].reason, "dstport '70000'") != NULL);
    T_CHECK(r.bad[2].line == 5 && strstr(r.bad[2].reason, "dstaddr '10.0.0.256'") != NULL);
    T_CHECK(r.bad[3].line == 6 && strstr(r.bad[3].reason, "action 'MAYBE'") != NULL);
    T_CHECK(r.bad[4].line == 7 && strstr(r.bad[4].reason, "expected 14 fields, got 15") != NULL);
    fsg_buf_clean_up(&r.text);
    return 0;
}

/* A bad field quoted from a binary object is shown printable (\xNN) and capped, so the warning
 * that carries it stays valid UTF-8 and JSON. */
static int s_malformed_sample_escaped(void)
{
    struct s_result r;
    s_decode_str("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
                 "bytes start end action log-status\n"
                 "2 1 eni-a 10.0.0.1 10.0.0.2 1 2 6 1 1 1 1 A\x9f\xff\x01\\' OK\n"
                 "2 1 eni-a 10.0.0.1 10.0.0.2 1 2 6 1 1 1 1 "
                 "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX OK\n",
                 NULL, &r);
    T_OK(r.rc);
    T_CHECK(r.stats.malformed == 2 && r.n_bad == 2);
    T_STR_EQ(r.bad[0].reason, "bad action 'A\\x9f\\xff\\x01\\x5c''");
    T_STR_EQ(r.bad[1].reason, "bad action 'XXXXXXXXXXXXXXXXXXXXXXXX...'");
    fsg_buf_clean_up(&r.text);
    return 0;
}

/* Numbers of every length: up to 16 digits one way, longer ones another; the limits of each
 * field; anything but digits refused. */
static int s_numbers(void)
{
    struct s_result r;
    struct fsg_flowlog_options o = { .format = "srcaddr dstaddr srcport dstport protocol "
                                               "packets bytes" };
    s_decode_str("1.1.1.1 2.2.2.2 0 65535 255 9999999999999999 18446744073709551615\n"
                 "1.1.1.1 2.2.2.2 0000000000000022 00022 06 12345678901234567 1\n"
                 "1.1.1.1 2.2.2.2 1 2 3 1234567890123456 00000000000000000001\n"
                 "1.1.1.1 2.2.2.2 1 65536 6 1 1\n"                /* 4: port */
                 "1.1.1.1 2.2.2.2 1 2 256 1 1\n"                  /* 5: protocol */
                 "1.1.1.1 2.2.2.2 1 2 6 1 18446744073709551616\n" /* 6: bytes overflow */
                 "1.1.1.1 2.2.2.2 1 2 6 1 123456789012345678901\n" /* 7: 21 digits */
                 "1.1.1.1 2.2.2.2 1 2 6 12345678901234x6 1\n"     /* 8 */
                 "1.1.1.1 2.2.2.2 1 2 6 +1 1\n"                   /* 9 */
                 "1.1.1.1 2.2.2.2 1 2 6 1 1:\n"                   /* 10 */
                 "1.1.1.1 2.2.2.2 1 2 6 /1 1\n",                  /* 11 */
                 &o, &r);
    T_OK(r.rc);
    T_STR_EQ(fsg_buf_cstr(&r.text),
             "1  1.1.1.1 2.2.2.2 - - 0 65535 255 -1 - - 9999999999999999 18446744073709551615 - -\n"
             "2  1.1.1.1 2.2.2.2 - - 22 22 6 -1 - - 12345678901234567 1 - -\n"
             "3  1.1.1.1 2.2.2.2 - - 1 2 3 -1 - - 1234567890123456 1 - -\n");
    T_CHECK(r.stats.records == 3 && r.stats.malformed == 8);
    T_CHECK(r.bad[0].line == 4 && strstr(r.bad[0].reason, "bad dstport '65536'") != NULL);
    T_CHECK(r.bad[1].line == 5 && strstr(r.bad[1].reason, "bad protocol '256'") != NULL);
    T_CHECK(r.bad[2].line == 6 && strstr(r.bad[2].reason, "bad bytes") != NULL);
    T_CHECK(r.bad[3].line == 7 && strstr(r.bad[3].reason, "bad bytes") != NULL);
    T_CHECK(r.bad[4].line == 8 && strstr(r.bad[4].reason, "bad packets") != NULL);
    fsg_buf_clean_up(&r.text);
    return 0;
}

static int s_configured_format_without_header(void)
{
    struct s_result r;
    /* no header: the default v2 format */
    s_decode_str("2 1 eni-a 10.0.0.1 10.0.0.2 1 2 6 1 1 1 1 ACCEPT OK\n", NULL, &r);
    T_OK(r.rc);
    T_STR_EQ(fsg_buf_cstr(&r.text), "1 eni-a 10.0.0.1 10.0.0.2 - - 1 2 6 -1 - ACCEPT 1 1 t t\n");
    fsg_buf_clean_up(&r.text);
    /* a configured format, ${} spelling; an IPv6 first field starting with a letter is data */
    struct fsg_flowlog_options o = { .format =
                                         "${srcaddr} ${dstaddr} ${dstport} ${protocol} ${action}" };
    s_decode_str("fe80::1 fe80::2 5432 6 ACCEPT\n10.0.0.1 10.0.0.2 22 6 REJECT\n", &o, &r);
    T_OK(r.rc);
    T_STR_EQ(fsg_buf_cstr(&r.text), "1  fe80::1 fe80::2 - - 0 5432 6 -1 - ACCEPT 0 0 - -\n"
                                    "2  10.0.0.1 10.0.0.2 - - 0 22 6 -1 - REJECT 0 0 - -\n");
    fsg_buf_clean_up(&r.text);
    /* a header still wins over the configured format */
    s_decode_str("dstaddr srcaddr\n10.0.0.2 10.0.0.1\n", &o, &r);
    T_OK(r.rc);
    T_STR_EQ(fsg_buf_cstr(&r.text), "2  10.0.0.1 10.0.0.2 - - 0 0 0 -1 - - 0 0 - -\n");
    fsg_buf_clean_up(&r.text);
    return 0;
}

static int s_formats_without_addresses_are_refused(void)
{
    struct s_result r;
    struct fsg_flowlog_options o = { .format = "version account-id srcport" };
    s_decode_str("", &o, &r);
    T_ERR(FSG_E_INVALID_ARG, r.rc);
    T_CHECK(strstr(r.err.msg, "neither srcaddr and dstaddr nor pkt-srcaddr") != NULL);
    s_decode_str("\nversion interface-id srcaddr srcport\n2 eni-a 10.0.0.1 1\n", NULL, &r);
    T_ERR(FSG_E_PARSE, r.rc);
    T_CHECK(r.err.line == 2);
    T_CHECK(strncmp(r.err.msg, "line 2: header: ", 16) == 0);
    fsg_buf_clean_up(&r.text);
    /* only packet-level addresses is enough */
    s_decode_str("pkt-srcaddr pkt-dstaddr\n10.0.0.1 10.0.0.2\n", NULL, &r);
    T_OK(r.rc);
    T_STR_EQ(fsg_buf_cstr(&r.text), "2  - - 10.0.0.1 10.0.0.2 0 0 0 -1 - - 0 0 - -\n");
    fsg_buf_clean_up(&r.text);
    return 0;
}

/* cat a.log b.log: the second header switches the format from there on. */
static int s_header_in_the_middle(void)
{
    struct s_result r;
    s_decode_str("srcaddr dstaddr dstport\n10.0.0.1 10.0.0.2 22\n"
                 "dstaddr srcaddr dstport action\n10.0.0.2 10.0.0.1 80 ACCEPT\n",
                 NULL, &r);
    T_OK(r.rc);
    T_STR_EQ(fsg_buf_cstr(&r.text), "2  10.0.0.1 10.0.0.2 - - 0 22 0 -1 - - 0 0 - -\n"
                                    "4  10.0.0.1 10.0.0.2 - - 0 80 0 -1 - ACCEPT 0 0 - -\n");
    T_CHECK(r.stats.malformed == 0 && r.stats.lines == 2);
    fsg_buf_clean_up(&r.text);
    return 0;
}

static int s_long_lines(void)
{
    struct fsg_buf in = FSG_BUF_INIT;
    T_OK(fsg_buf_append_cstr(&in, "srcaddr dstaddr dstport\n10.0.0.1 10.0.0.2 1\n"));
    for (int i = 0; i < 3000; i++) {
        T_OK(fsg_buf_append_byte(&in, 'x'));
    }
    T_OK(fsg_buf_append_cstr(&in, "\n10.0.0.1 10.0.0.2 2\n"));
    for (int i = 0; i < 150; i++) {
        T_OK(fsg_buf_append_byte(&in, 'y'));
    }
    T_OK(fsg_buf_append_cstr(&in, "\n10.0.0.1 10.0.0.2 3"));
    struct fsg_flowlog_options o = { .window_bytes = 256, .max_line_bytes = 100 };
    for (size_t chunk = 0; chunk <= 64; chunk += 7) {
        struct s_result r;
        s_decode(fsg_span_from_buf(&in), chunk, &o, &r);
        T_OK(r.rc);
        T_STR_EQ(fsg_buf_cstr(&r.text), "2  10.0.0.1 10.0.0.2 - - 0 1 0 -1 - - 0 0 - -\n"
                                        "4  10.0.0.1 10.0.0.2 - - 0 2 0 -1 - - 0 0 - -\n"
                                        "6  10.0.0.1 10.0.0.2 - - 0 3 0 -1 - - 0 0 - -\n");
        T_CHECK(r.stats.malformed == 2 && r.stats.lines == 5);
        T_CHECK(r.bad[0].line == 3 && strstr(r.bad[0].reason, "longer than 100") != NULL);
        T_CHECK(r.bad[1].line == 5);
        fsg_buf_clean_up(&r.text);
    }
    fsg_buf_clean_up(&in);
    return 0;
}

/* The same records and counters whatever the chunking, for plain text, gzip and multi-member gzip,
 * with both inflate engines. */
static int s_split_at_every_offset(void)
{
    struct fsg_buf plain = FSG_BUF_INIT, gz1 = FSG_BUF_INIT, gz3 = FSG_BUF_INIT;
    T_OK(fsg_buf_append_cstr(&plain, s_default_object));
    T_OK(fsg_buf_append_cstr(&plain,
                             "garbage\n2 1 eni-a 10.0.0.1 10.0.0.2 1 2 6 1 1 1 1 ACCEPT OK"));
    T_CHECK(s_gzip(&gz1, fsg_span_from_buf(&plain), 1) == 0);
    T_CHECK(s_gzip(&gz3, fsg_span_from_buf(&plain), 3) == 0);
    struct s_result want;
    s_decode(fsg_span_from_buf(&plain), 0, NULL, &want);
    T_OK(want.rc);
    T_CHECK(want.stats.records == 4 && want.stats.malformed == 1);
    const struct fsg_buf *inputs[] = { &plain, &gz1, &gz3 };
    struct fsg_flowlog_options small = { .window_bytes = 400 }; /* lines up to 200 bytes */
    for (size_t i = 0; i < 3; i++) {
        for (int zlib = 0; zlib < 2; zlib++) {
            small.force_zlib = zlib;
            for (size_t chunk = 1; chunk <= inputs[i]->len; chunk++) {
                struct s_result r;
                s_decode(fsg_span_from_buf(inputs[i]), chunk, chunk % 2 ? &small : NULL, &r);
                T_OK(r.rc);
                T_STR_EQ(fsg_buf_cstr(&r.text), fsg_buf_cstr(&want.text));
                T_CHECK(r.stats.lines == want.stats.lines && r.stats.malformed == 1);
                T_CHECK(r.stats.bytes_in == inputs[i]->len);
                fsg_buf_clean_up(&r.text);
            }
        }
    }
    fsg_buf_clean_up(&want.text);
    fsg_buf_clean_up(&plain);
    fsg_buf_clean_up(&gz1);
    fsg_buf_clean_up(&gz3);
    return 0;
}

static int s_truncated_gzip_is_an_error(void)
{
    struct fsg_buf gz = FSG_BUF_INIT;
    T_CHECK(s_gzip(&gz, fsg_span_from_cstr(s_default_object), 1) == 0);
    struct s_result r;
    s_decode((struct fsg_span){ gz.ptr, gz.len - 3 }, 17, NULL, &r);
    T_ERR(FSG_E_PARSE, r.rc);
    T_CHECK(strstr(r.err.msg, "premature end of gzip stream") != NULL);
    T_CHECK(r.err.offset == gz.len - 3);
    fsg_buf_clean_up(&r.text);
    fsg_buf_clean_up(&gz);
    return 0;
}

static int s_use_after_error_and_allocation_failures(void)
{
    struct fsg_flowlog_decoder *d = NULL;
    const struct fsg_flowlog_record *rec;
    struct fsg_error err;
    T_OK(fsg_flowlog_decoder_new(NULL, &d, &err));
    fsg_flowlog_decoder_set_input(d, fsg_span_from_cstr("\x1f\x8b\x08\x00garbage"));
    fsg_flowlog_decoder_finish(d);
    T_ERR(FSG_E_PARSE, fsg_flowlog_decoder_next(d, &rec, &err));
    T_ERR(FSG_E_PARSE, fsg_flowlog_decoder_next(d, &rec, &err));
    fsg_flowlog_decoder_destroy(d);
    fsg_flowlog_decoder_destroy(NULL);
    for (long nth = 1; nth <= 4; nth++) {
        d = NULL;
        fsg_mem_fail_after(nth);
        enum fsg_err rc = fsg_flowlog_decoder_new(NULL, &d, &err);
        fsg_mem_fail_after(0);
        T_CHECK(rc == FSG_OK || rc == FSG_E_NOMEM);
        fsg_flowlog_decoder_destroy(d);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "default_format", s_default_format },
        { "values", s_values },
        { "per_eni_format", s_per_eni_format },
        { "v5_custom_order", s_v5_custom_order },
        { "every_field", s_every_field },
        { "dash_everywhere", s_dash_everywhere },
        { "line_endings_and_spaces", s_line_endings_and_spaces },
        { "garbage_lines_are_counted_and_skipped", s_garbage_lines_are_counted_and_skipped },
        { "malformed_sample_escaped", s_malformed_sample_escaped },
        { "numbers", s_numbers },
        { "configured_format_without_header", s_configured_format_without_header },
        { "formats_without_addresses_are_refused", s_formats_without_addresses_are_refused },
        { "header_in_the_middle", s_header_in_the_middle },
        { "long_lines", s_long_lines },
        { "split_at_every_offset", s_split_at_every_offset },
        { "truncated_gzip_is_an_error", s_truncated_gzip_is_an_error },
        { "use_after_error_and_allocation_failures", s_use_after_error_and_allocation_failures },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
