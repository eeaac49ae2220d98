/* The XML of the AWS APIs (EC2, RDS, ELBv2, S3) as a tiny read-only element tree, parsed by
 * expat with limits, and the error shapes of ref/aws-wire.md §5.1.
 *
 * Names are local names: namespace prefixes and xmlns declarations are ignored (AWS responses
 * carry a versioned default namespace, §5.0). Attributes are dropped (AWS responses have none
 * that matter). Hostile input is refused: any DOCTYPE (so no entity can be declared, which
 * stops billion-laughs and external entities), depth, node count, text size and input size
 * are bounded.
 *
 * Reading a DescribeSecurityGroupRules response:
 * @code
 *   const struct fsg_aws_xml_node *set = fsg_aws_xml_path(fsg_aws_xml_root(doc),
 *                                                         "securityGroupRuleSet");
 *   FSG_AWS_XML_FOREACH(item, set, "item") {
 *       const char *id = fsg_aws_xml_path_text(item, "securityGroupRuleId");
 *       uint64_t from;
 *       if (fsg_aws_xml_path_u64(item, "fromPort", &from) == FSG_OK) { ... }
 *   }
 *   const char *next = fsg_aws_xml_path_text(fsg_aws_xml_root(doc), "nextToken"); // "" = last
 * @endcode */
#ifndef FSG_LIB_AWS_XML_H
#define FSG_LIB_AWS_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/buf.h"

/* One element. Everything is owned by the document and valid until fsg_aws_xml_doc_destroy. */
struct fsg_aws_xml_node {
    const char *name;     /* local name, e.g. "item" for <ec2:item> */
    const char *text;     /* character data directly inside (entities decoded, not trimmed);
                           * "" when none. XML cannot carry NUL, so this is a C string. */
    size_t text_len;
    struct fsg_aws_xml_node *parent;       /* NULL for the root */
    struct fsg_aws_xml_node *first_child;  /* document order */
    struct fsg_aws_xml_node *next_sibling;
};

struct fsg_aws_xml_doc;

/* 0 in any field means the default in brackets. */
struct fsg_aws_xml_limits {
    size_t max_input_bytes; /* [64 MiB] whole document; capped at INT_MAX (expat's int length) */
    unsigned max_depth;     /* [64] element nesting */
    size_t max_nodes;       /* [500000] elements */
    size_t max_text_bytes;  /* [1 MiB] character data of one element */
};

/* Parses xml (borrowed, not NUL-terminated) into *ret_doc (caller owns; free with
 * fsg_aws_xml_doc_destroy). limits may be NULL.
 * FSG_E_PARSE: not well-formed, or has a DOCTYPE. FSG_E_LIMIT: a limit was hit.
 * err->line is the 1-based line of a parse error. */
enum fsg_err fsg_aws_xml_parse(struct fsg_span xml, const struct fsg_aws_xml_limits *limits,
                               struct fsg_aws_xml_doc **ret_doc, struct fsg_error *err) FSG_MUST_USE;
void fsg_aws_xml_doc_destroy(struct fsg_aws_xml_doc *doc); /* NULL ok */

/* The document element; never NULL for a parsed document. */
const struct fsg_aws_xml_node *fsg_aws_xml_root(const struct fsg_aws_xml_doc *doc);
/* First child element named `name`; NULL when n is NULL or there is none. */
const struct fsg_aws_xml_node *fsg_aws_xml_child(const struct fsg_aws_xml_node *n,
                                                 const char *name);
/* The next sibling with the same name as n (list iteration); NULL at the end. */
const struct fsg_aws_xml_node *fsg_aws_xml_next_named(const struct fsg_aws_xml_node *n);
/* Follows "a/b/c" from n, taking the first child of each name; NULL when a step is missing.
 * An empty path returns n. */
const struct fsg_aws_xml_node *fsg_aws_xml_path(const struct fsg_aws_xml_node *n,
                                                const char *path);
/* Number of children named `name`. */
size_t fsg_aws_xml_count(const struct fsg_aws_xml_node *n, const char *name);

/* n's text, "" when n is NULL. Borrowed from the document. */
const char *fsg_aws_xml_text(const struct fsg_aws_xml_node *n);
/* Text of fsg_aws_xml_path(n, path), "" when missing. */
const char *fsg_aws_xml_path_text(const struct fsg_aws_xml_node *n, const char *path);
/* Typed reads of fsg_aws_xml_path(n, path): FSG_E_NOT_FOUND when missing, FSG_E_PARSE when the
 * text is not a (whole, untrimmed) decimal number / "true" or "false". *ret is set on FSG_OK. */
enum fsg_err fsg_aws_xml_path_u64(const struct fsg_aws_xml_node *n, const char *path,
                                  uint64_t *ret) FSG_MUST_USE;
enum fsg_err fsg_aws_xml_path_i64(const struct fsg_aws_xml_node *n, const char *path,
                                  int64_t *ret) FSG_MUST_USE;
enum fsg_err fsg_aws_xml_path_bool(const struct fsg_aws_xml_node *n, const char *path,
                                   bool *ret) FSG_MUST_USE;

/* Iterates the children of `parent` named `name`: EC2 lists (<xxxSet><item>), Query lists
 * (<Xs><member> or <Xs><X>), S3's flattened lists (<Contents> directly under the root).
 * `parent` may be NULL (no iterations). */
#define FSG_AWS_XML_FOREACH(it, parent, name)                                                      \
    for (const struct fsg_aws_xml_node *it = fsg_aws_xml_child((parent), (name)); it != NULL;     \
         it = fsg_aws_xml_next_named(it))

/* The result element of a successful response: Query APIs wrap it in <ActionResult>
 * (RDS, ELBv2), EC2 does not (the root itself). */
const struct fsg_aws_xml_node *fsg_aws_xml_result(const struct fsg_aws_xml_doc *doc);
/* The request id of a successful response (EC2 <requestId>, Query ResponseMetadata/RequestId),
 * "" when absent. */
const char *fsg_aws_xml_request_id(const struct fsg_aws_xml_doc *doc);

/* An AWS error document, in any of the three shapes of ref/aws-wire.md §5.1:
 *   EC2:   <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>
 *   Query: <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>
 *   S3:    <Error><Code/><Message/><Key/>|<BucketName/><RequestId/>...</Error>
 * All strings are borrowed from the document; "" when absent. */
struct fsg_aws_xml_error_info {
    const char *code;       /* "InvalidPermission.Duplicate", "NoSuchKey" */
    const char *message;
    const char *request_id;
    const char *type;       /* Query: "Sender" / "Receiver" */
    const char *bucket;     /* S3 <BucketName> */
    const char *key;        /* S3 <Key> */
    const char *region;     /* S3 <Region> (AuthorizationHeaderMalformed) */
    const char *endpoint;   /* S3 <Endpoint> (PermanentRedirect) */
};

/* Fills *ret and returns true when doc is an error document with a <Code>. */
bool fsg_aws_xml_error_info(const struct fsg_aws_xml_doc *doc,
                            struct fsg_aws_xml_error_info *ret);

#endif
