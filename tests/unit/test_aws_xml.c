/* lib/aws_xml: the three error shapes of ref/aws-wire.md §5.1, EC2 / Query / S3 responses,
 * the path and list helpers, limits and hostile XML. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/aws/aws_xml.h"
#include "lib/core/mem.h"
#include "tests/harness/test.h"

static enum fsg_err s_parse(const char *xml, struct fsg_aws_xml_doc **doc, struct fsg_error *err)
{
    return fsg_aws_xml_parse(fsg_span_from_cstr(xml), NULL, doc, err);
}

static int s_ec2_error(void)
{
    static const char xml[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<Response><Errors><Error><Code>InvalidPermission.Duplicate</Code><Message>the specified "
        "rule \"peer: sg-8b3b99f3, TCP, from port: 0, to port: 65535, ALLOW\" already exists"
        "</Message></Error></Errors><RequestID>0b0a4d57-00f7-46d1-9be2-4da85221a3db</RequestID>"
        "</Response>";
    struct fsg_aws_xml_doc *doc = NULL;
    struct fsg_aws_xml_error_info info;
    T_OK(s_parse(xml, &doc, NULL));
    T_CHECK(fsg_aws_xml_error_info(doc, &info));
    T_STR_EQ(info.code, "InvalidPermission.Duplicate");
    T_CHECK(strncmp(info.message, "the specified rule \"peer: sg-8b3b99f3", 36) == 0);
    T_STR_EQ(info.request_id, "0b0a4d57-00f7-46d1-9be2-4da85221a3db");
    T_STR_EQ(info.key, "");
    fsg_aws_xml_doc_destroy(doc);
    return 0;
}

static int s_query_error(void)
{
    static const char xml[] =
        "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">\n"
        "  <Error><Type>Sender</Type><Code>DBInstanceNotFound</Code><Message>DBInstance foobar "
        "not found.</Message></Error>\n"
        "  <RequestId>b41f03f1-b7f8-11e2-9b07-955bffd33505</RequestId>\n"
        "</ErrorResponse>";
    struct fsg_aws_xml_doc *doc = NULL;
    struct fsg_aws_xml_error_info info;
    T_OK(s_parse(xml, &doc, NULL));
    T_CHECK(fsg_aws_xml_error_info(doc, &info));
    T_STR_EQ(info.code, "DBInstanceNotFound");
    T_STR_EQ(info.message, "DBInstance foobar not found.");
    T_STR_EQ(info.type, "Sender");
    T_STR_EQ(info.request_id, "b41f03f1-b7f8-11e2-9b07-955bffd33505");
    fsg_aws_xml_doc_destroy(doc);
    return 0;
}

static int s_s3_error(void)
{
    static const char xml[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>"
        "<Key>AWSLogs/a &amp; b &quot;c&quot;.log.gz</Key><RequestId>9C7D5181867045BB</RequestId>"
        "<HostId>XNe9pgGH</HostId></Error>";
    static const char redirect[] =
        "<Error><Code>PermanentRedirect</Code><Message>m</Message><Endpoint>b.s3.eu-west-1."
        "amazonaws.com</Endpoint><BucketName>b</BucketName><RequestId>R</RequestId></Error>";
    struct fsg_aws_xml_doc *doc = NULL;
    struct fsg_aws_xml_error_info info;
    T_OK(s_parse(xml, &doc, NULL));
    T_CHECK(fsg_aws_xml_error_info(doc, &info));
    T_STR_EQ(info.code, "NoSuchKey");
    T_STR_EQ(info.key, "AWSLogs/a & b \"c\".log.gz");
    T_STR_EQ(info.request_id, "9C7D5181867045BB");
    fsg_aws_xml_doc_destroy(doc);
    T_OK(s_parse(redirect, &doc, NULL));
    T_CHECK(fsg_aws_xml_error_info(doc, &info));
    T_STR_EQ(info.endpoint, "b.s3.eu-west-1.amazonaws.com");
    T_STR_EQ(info.bucket, "b");
    fsg_aws_xml_doc_destroy(doc);
    return 0;
}

static int s_not_errors(void)
{
    static const char *const docs[] = {
        "<DescribeTagsResponse><requestId>x</requestId></DescribeTagsResponse>",
        "<Error><Message>no code</Message></Error>",
        "<Response><Errors/></Response>",
        "<ErrorResponse><Error><Code></Code></Error></ErrorResponse>",
        "<Other><Error><Code>X</Code></Error></Other>",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        struct fsg_aws_xml_doc *doc = NULL;
        struct fsg_aws_xml_error_info info;
        T_OK(s_parse(docs[i], &doc, NULL));
        T_CHECK(!fsg_aws_xml_error_info(doc, &info));
        fsg_aws_xml_doc_destroy(doc);
    }
    T_CHECK(!fsg_aws_xml_error_info(NULL, NULL));
    return 0;
}

static int s_ec2_list(void)
{
    static const char xml[] =
        "<DescribeSecurityGroupsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
        "  <requestId>4296401f-8b78-4f99-b1fb-71def4fc3701</requestId>\n"
        "  <securityGroupInfo>\n"
        "    <item>\n"
        "      <groupId>sg-0123456789abcdef0</groupId>\n"
        "      <ipPermissions>\n"
        "        <item><ipProtocol>tcp</ipProtocol><fromPort>5432</fromPort><toPort>5432</toPort>"
        "<groups/><ipRanges><item><cidrIp>10.20.30.40/32</cidrIp><description>seg:app-tier"
        "</description></item><item><cidrIp>10.20.31.0/24</cidrIp></item></ipRanges>"
        "<ipv6Ranges/></item>\n"
        "        <item><ipProtocol>-1</ipProtocol><groups/></item>\n"
        "      </ipPermissions>\n"
        "      <tagSet><item><key>managed-by</key><value>flowseg</value></item></tagSet>\n"
        "    </item>\n"
        "    <item><groupId>sg-2</groupId></item>\n"
        "  </securityGroupInfo>\n"
        "</DescribeSecurityGroupsResponse>";
    struct fsg_aws_xml_doc *doc = NULL;
    T_OK(s_parse(xml, &doc, NULL));
    const struct fsg_aws_xml_node *root = fsg_aws_xml_root(doc);
    T_STR_EQ(root->name, "DescribeSecurityGroupsResponse");
    T_CHECK(fsg_aws_xml_result(doc) == root); /* EC2 has no <...Result> wrapper */
    T_STR_EQ(fsg_aws_xml_request_id(doc), "4296401f-8b78-4f99-b1fb-71def4fc3701");
    const struct fsg_aws_xml_node *info = fsg_aws_xml_child(root, "securityGroupInfo");
    T_CHECK(fsg_aws_xml_count(info, "item") == 2);
    const struct fsg_aws_xml_node *sg = fsg_aws_xml_child(info, "item");
    T_STR_EQ(fsg_aws_xml_path_text(sg, "groupId"), "sg-0123456789abcdef0");
    T_STR_EQ(fsg_aws_xml_path_text(sg, "tagSet/item/value"), "flowseg");
    size_t perms = 0, cidrs = 0;
    FSG_AWS_XML_FOREACH(perm, fsg_aws_xml_child(sg, "ipPermissions"), "item") {
        perms++;
        T_CHECK(fsg_aws_xml_child(perm, "groups") != NULL);
        T_STR_EQ(fsg_aws_xml_text(fsg_aws_xml_child(perm, "groups")), "");
        FSG_AWS_XML_FOREACH(r, fsg_aws_xml_child(perm, "ipRanges"), "item") {
            cidrs++;
            T_CHECK(strchr(fsg_aws_xml_path_text(r, "cidrIp"), '/') != NULL);
        }
    }
    T_CHECK(perms == 2 && cidrs == 2);
    uint64_t port = 0;
    const struct fsg_aws_xml_node *p1 = fsg_aws_xml_path(sg, "ipPermissions/item");
    T_OK(fsg_aws_xml_path_u64(p1, "fromPort", &port));
    T_CHECK(port == 5432);
    T_ERR(FSG_E_NOT_FOUND, fsg_aws_xml_path_u64(fsg_aws_xml_next_named(p1), "fromPort", &port));
    T_ERR(FSG_E_PARSE, fsg_aws_xml_path_u64(p1, "ipProtocol", &port));
    int64_t neg = 0;
    T_OK(fsg_aws_xml_path_i64(fsg_aws_xml_next_named(p1), "ipProtocol", &neg));
    T_CHECK(neg == -1);
    T_STR_EQ(fsg_aws_xml_next_named(sg)->name, "item");
    T_CHECK(fsg_aws_xml_next_named(fsg_aws_xml_next_named(sg)) == NULL);
    T_CHECK(fsg_aws_xml_path(sg, "") == sg);
    T_CHECK(fsg_aws_xml_path(sg, "nope/x") == NULL);
    T_CHECK(fsg_aws_xml_path(NULL, "a") == NULL);
    T_STR_EQ(fsg_aws_xml_path_text(NULL, "a"), "");
    T_CHECK(fsg_aws_xml_count(NULL, "item") == 0);
    fsg_aws_xml_doc_destroy(doc);
    return 0;
}

static int s_query_list(void)
{
    static const char xml[] =
        "<DescribeDBInstancesResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">"
        "<DescribeDBInstancesResult><DBInstances>"
        "<DBInstance><DBInstanceIdentifier>orders-db</DBInstanceIdentifier>"
        "<Endpoint><Address>orders-db.x.us-east-1.rds.amazonaws.com</Address><Port>5432</Port>"
        "</Endpoint><MultiAZ>true</MultiAZ><VpcSecurityGroups><VpcSecurityGroupMembership>"
        "<VpcSecurityGroupId>sg-0123456789abcdef0</VpcSecurityGroupId><Status>active</Status>"
        "</VpcSecurityGroupMembership></VpcSecurityGroups><PendingModifiedValues/></DBInstance>"
        "<DBInstance><DBInstanceIdentifier>other</DBInstanceIdentifier><MultiAZ>no</MultiAZ>"
        "</DBInstance>"
        "</DBInstances><Marker>m2</Marker></DescribeDBInstancesResult>"
        "<ResponseMetadata><RequestId>9135fff3-8509-11e0-bd9b-a7b1ece36d51</RequestId>"
        "</ResponseMetadata></DescribeDBInstancesResponse>";
    static const char elb[] =
        "<DescribeTargetHealthResponse><DescribeTargetHealthResult><TargetHealthDescriptions>"
        "<member><Target><Id>10.0.1.15</Id><Port>5432</Port></Target><TargetHealth><State>"
        "healthy</State></TargetHealth></member><member><Target><Id>10.0.2.37</Id></Target>"
        "<TargetHealth><State>draining</State></TargetHealth></member>"
        "</TargetHealthDescriptions></DescribeTargetHealthResult></DescribeTargetHealthResponse>";
    struct fsg_aws_xml_doc *doc = NULL;
    T_OK(s_parse(xml, &doc, NULL));
    const struct fsg_aws_xml_node *res = fsg_aws_xml_result(doc);
    T_STR_EQ(res->name, "DescribeDBInstancesResult");
    T_STR_EQ(fsg_aws_xml_request_id(doc), "9135fff3-8509-11e0-bd9b-a7b1ece36d51");
    T_STR_EQ(fsg_aws_xml_path_text(res, "Marker"), "m2");
    const struct fsg_aws_xml_node *db = fsg_aws_xml_path(res, "DBInstances/DBInstance");
    uint64_t port;
    bool multi = false;
    T_OK(fsg_aws_xml_path_u64(db, "Endpoint/Port", &port));
    T_CHECK(port == 5432);
    T_OK(fsg_aws_xml_path_bool(db, "MultiAZ", &multi));
    T_CHECK(multi);
    T_STR_EQ(fsg_aws_xml_path_text(db, "VpcSecurityGroups/VpcSecurityGroupMembership/"
                                       "VpcSecurityGroupId"),
             "sg-0123456789abcdef0");
    T_ERR(FSG_E_PARSE, fsg_aws_xml_path_bool(fsg_aws_xml_next_named(db), "MultiAZ", &multi));
    T_ERR(FSG_E_NOT_FOUND, fsg_aws_xml_path_bool(db, "Nope", &multi));
    fsg_aws_xml_doc_destroy(doc);

    T_OK(s_parse(elb, &doc, NULL));
    size_t n = 0;
    const char *want[] = { "healthy", "draining" };
    FSG_AWS_XML_FOREACH(m, fsg_aws_xml_path(fsg_aws_xml_result(doc), "TargetHealthDescriptions"),
                        "member") {
        T_STR_EQ(fsg_aws_xml_path_text(m, "TargetHealth/State"), want[n]);
        n++;
    }
    T_CHECK(n == 2);
    T_STR_EQ(fsg_aws_xml_request_id(doc), "");
    fsg_aws_xml_doc_destroy(doc);
    return 0;
}

static int s_s3_list(void)
{
    static const char xml[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>flowlogs-example</Name><Prefix>AWSLogs/</Prefix><KeyCount>2</KeyCount>"
        "<MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
        "<Contents><Key>AWSLogs/a b+c=d.log.gz</Key><LastModified>2025-01-15T12:05:31.000Z"
        "</LastModified><ETag>&quot;0557d1d84c8f071523cc7d18ebf58d5a&quot;</ETag><Size>2595"
        "</Size><StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key> leading space</Key><Size>0</Size></Contents>"
        "</ListBucketResult>";
    struct fsg_aws_xml_doc *doc = NULL;
    T_OK(s_parse(xml, &doc, NULL));
    const struct fsg_aws_xml_node *root = fsg_aws_xml_root(doc);
    bool truncated = false;
    T_OK(fsg_aws_xml_path_bool(root, "IsTruncated", &truncated));
    T_CHECK(truncated);
    T_STR_EQ(fsg_aws_xml_path_text(root, "NextContinuationToken"),
             "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    const struct fsg_aws_xml_node *c = fsg_aws_xml_child(root, "Contents");
    T_STR_EQ(fsg_aws_xml_path_text(c, "Key"), "AWSLogs/a b+c=d.log.gz");
    T_STR_EQ(fsg_aws_xml_path_text(c, "ETag"), "\"0557d1d84c8f071523cc7d18ebf58d5a\"");
    c = fsg_aws_xml_next_named(c);
    T_STR_EQ(fsg_aws_xml_path_text(c, "Key"), " leading space"); /* never trimmed */
    T_CHECK(fsg_aws_xml_path(c, "Key")->text_len == 14);
    fsg_aws_xml_doc_destroy(doc);
    return 0;
}

static int s_namespaces_cdata_mixed(void)
{
    static const char xml[] =
        "<ec2:R xmlns:ec2=\"urn:x\" xmlns:o=\"urn:o\"><ec2:item a=\"1\">x<o:b>y</o:b>z</ec2:item>"
        "<item><![CDATA[<not a tag> & ]]>&#x41;&#66;&lt;</item></ec2:R>";
    struct fsg_aws_xml_doc *doc = NULL;
    T_OK(s_parse(xml, &doc, NULL));
    const struct fsg_aws_xml_node *root = fsg_aws_xml_root(doc);
    T_STR_EQ(root->name, "R");
    const struct fsg_aws_xml_node *it = fsg_aws_xml_child(root, "item");
    T_STR_EQ(it->text, "xz");
    T_STR_EQ(fsg_aws_xml_path_text(it, "b"), "y");
    T_CHECK(fsg_aws_xml_path(it, "b")->parent == it);
    T_STR_EQ(fsg_aws_xml_next_named(it)->text, "<not a tag> & AB<");
    T_CHECK(fsg_aws_xml_count(root, "item") == 2);
    fsg_aws_xml_doc_destroy(doc);
    return 0;
}

static int s_malformed(void)
{
    static const char *const bad[] = {
        "", "   ", "not xml", "<a>", "<a></b>", "<a>&undefined;</a>", "<a><b></a></b>",
        "<a/><b/>", "<a x='1' x='2'/>", "<?xml version=\"1.0\"?>", "<p:a>unbound prefix ok?</p:a",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct fsg_aws_xml_doc *doc = NULL;
        struct fsg_error err = { 0 };
        T_ERR(FSG_E_PARSE, s_parse(bad[i], &doc, &err));
        T_CHECK(doc == NULL);
        T_CHECK(strstr(err.msg, "XML") != NULL);
    }
    /* the line of the error is reported */
    struct fsg_aws_xml_doc *doc = NULL;
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_PARSE, s_parse("<a>\n<b>\n</c>\n</a>", &doc, &err));
    T_CHECK(err.line == 3);
    /* an embedded NUL byte is not XML */
    static const char nul[] = "<a>x\0y</a>";
    T_ERR(FSG_E_PARSE, fsg_aws_xml_parse((struct fsg_span){ (const uint8_t *)nul, sizeof nul - 1 },
                                         NULL, &doc, &err));
    return 0;
}

static int s_hostile(void)
{
    static const char *const doctype[] = {
        /* billion laughs */
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
        "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
        "<lolz>&lol3;</lolz>",
        /* external entity */
        "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>",
        /* parameter entity */
        "<!DOCTYPE r [<!ENTITY % p SYSTEM \"http://127.0.0.1/x\"> %p;]><r/>",
        /* a plain DOCTYPE is refused too */
        "<!DOCTYPE Error><Error><Code>X</Code></Error>",
    };
    for (size_t i = 0; i < sizeof doctype / sizeof doctype[0]; i++) {
        struct fsg_aws_xml_doc *doc = NULL;
        struct fsg_error err = { 0 };
        T_ERR(FSG_E_PARSE, s_parse(doctype[i], &doc, &err));
        T_CHECK(strstr(err.msg, "DOCTYPE") != NULL);
    }
    return 0;
}

static int s_limits(void)
{
    struct fsg_buf b = FSG_BUF_INIT;
    struct fsg_aws_xml_doc *doc = NULL;
    struct fsg_error err = { 0 };

    /* deep nesting: 65 levels over the default 64 */
    for (int i = 0; i < 65; i++) {
        T_OK(fsg_buf_append_cstr(&b, "<a>"));
    }
    for (int i = 0; i < 65; i++) {
        T_OK(fsg_buf_append_cstr(&b, "</a>"));
    }
    T_ERR(FSG_E_LIMIT, fsg_aws_xml_parse(fsg_span_from_buf(&b), NULL, &doc, &err));
    T_CHECK(strstr(err.msg, "nested") != NULL);
    struct fsg_aws_xml_limits deep = { .max_depth = 65 };
    T_OK(fsg_aws_xml_parse(fsg_span_from_buf(&b), &deep, &doc, &err));
    fsg_aws_xml_doc_destroy(doc);
    doc = NULL;

    /* huge text: 1 MiB + 1 over the default */
    fsg_buf_reset(&b);
    T_OK(fsg_buf_append_cstr(&b, "<a>"));
    T_OK(fsg_buf_reserve(&b, (1 << 20) + 16));
    memset(b.ptr + b.len, 'x', (1 << 20) + 1);
    b.len += (1 << 20) + 1;
    T_OK(fsg_buf_append_cstr(&b, "</a>"));
    T_ERR(FSG_E_LIMIT, fsg_aws_xml_parse(fsg_span_from_buf(&b), NULL, &doc, &err));
    T_CHECK(strstr(err.msg, "text") != NULL);

    /* node count and input size */
    struct fsg_aws_xml_limits few = { .max_nodes = 3 };
    T_OK(fsg_aws_xml_parse(fsg_span_from_cstr("<a><b/><c/></a>"), &few, &doc, &err));
    fsg_aws_xml_doc_destroy(doc);
    doc = NULL;
    T_ERR(FSG_E_LIMIT,
          fsg_aws_xml_parse(fsg_span_from_cstr("<a><b/><c/><d/></a>"), &few, &doc, &err));
    struct fsg_aws_xml_limits small = { .max_input_bytes = 10 };
    T_ERR(FSG_E_LIMIT, fsg_aws_xml_parse(fsg_span_from_cstr("<a>12345678</a>"), &small, &doc, &err));
    T_CHECK(doc == NULL);

    /* many nodes spill over several arena blocks */
    fsg_buf_reset(&b);
    T_OK(fsg_buf_append_cstr(&b, "<r>"));
    for (int i = 0; i < 20000; i++) {
        T_OK(fsg_buf_printf(&b, "<item>%d</item>", i));
    }
    T_OK(fsg_buf_append_cstr(&b, "</r>"));
    T_OK(fsg_aws_xml_parse(fsg_span_from_buf(&b), NULL, &doc, &err));
    T_CHECK(fsg_aws_xml_count(fsg_aws_xml_root(doc), "item") == 20000);
    uint64_t last = 0;
    FSG_AWS_XML_FOREACH(it, fsg_aws_xml_root(doc), "item") {
        T_OK(fsg_aws_xml_path_u64(it, "", &last));
    }
    T_CHECK(last == 19999);
    fsg_aws_xml_doc_destroy(doc);
    fsg_buf_clean_up(&b);
    return 0;
}

static int s_out_of_memory(void)
{
    static const char xml[] =
        "<Response><Errors><Error><Code>AuthFailure</Code><Message>m</Message></Error></Errors>"
        "<RequestID>r</RequestID></Response>";
    bool saw_ok = false;
    for (long n = 1; n < 200 && !saw_ok; n++) {
        struct fsg_aws_xml_doc *doc = NULL;
        struct fsg_error err = { 0 };
        fsg_mem_fail_after(n);
        enum fsg_err rc = s_parse(xml, &doc, &err);
        fsg_mem_fail_after(0);
        T_CHECK(rc == FSG_OK || rc == FSG_E_NOMEM);
        T_CHECK((rc == FSG_OK) == (doc != NULL));
        saw_ok = rc == FSG_OK;
        fsg_aws_xml_doc_destroy(doc);
    }
    T_CHECK(saw_ok);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "ec2_error", s_ec2_error },
        { "query_error", s_query_error },
        { "s3_error", s_s3_error },
        { "not_errors", s_not_errors },
        { "ec2_list", s_ec2_list },
        { "query_list", s_query_list },
        { "s3_list", s_s3_list },
        { "namespaces_cdata_mixed", s_namespaces_cdata_mixed },
        { "malformed", s_malformed },
        { "hostile", s_hostile },
        { "limits", s_limits },
        { "out_of_memory", s_out_of_memory },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
