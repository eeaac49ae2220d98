/* Target: fsg_aws_xml_parse, fsg_aws_xml_error_info, the tree helpers.
 * The first byte picks tight or default limits, so limit paths are reached too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/aws/aws_xml.h"
#include "lib/core/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walks the whole tree checking the invariants every parsed document keeps. */
static size_t s_walk(const struct fsg_aws_xml_node *n, const struct fsg_aws_xml_node *parent,
                     unsigned depth, unsigned max_depth)
{
    size_t count = 0;
    for (; n != NULL; n = n->next_sibling) {
        if (n->parent != parent || depth >= max_depth || n->name == NULL || n->text == NULL ||
            strlen(n->text) != n->text_len || strchr(n->name, ':') != NULL) {
            abort();
        }
        /* a child found by name is a child */
        if (parent != NULL && fsg_aws_xml_child(parent, n->name) == NULL) {
            abort();
        }
        count += 1 + s_walk(n->first_child, n, depth + 1, max_depth);
    }
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    struct fsg_aws_xml_limits tight = { .max_depth = 8, .max_nodes = 64, .max_text_bytes = 256 };
    const struct fsg_aws_xml_limits *lim = (data[0] & 1) != 0 ? &tight : NULL;
    unsigned max_depth = lim != NULL ? 8 : 64;
    long live = fsg_mem_live();
    struct fsg_aws_xml_doc *doc = NULL;
    struct fsg_error err = { 0 };
    enum fsg_err rc = fsg_aws_xml_parse((struct fsg_span){ data + 1, size - 1 }, lim, &doc, &err);
    if (rc == FSG_OK) {
        const struct fsg_aws_xml_node *root = fsg_aws_xml_root(doc);
        if (root == NULL || root->parent != NULL || root->next_sibling != NULL) {
            abort();
        }
        size_t n = s_walk(root, NULL, 0, max_depth);
        if (lim != NULL && n > tight.max_nodes) {
            abort();
        }
        struct fsg_aws_xml_error_info info;
        if (fsg_aws_xml_error_info(doc, &info) && info.code[0] == '\0') {
            abort();
        }
        (void)fsg_aws_xml_result(doc);
        (void)fsg_aws_xml_request_id(doc);
        (void)fsg_aws_xml_path_text(root, "Errors/Error/Code");
        fsg_aws_xml_doc_destroy(doc);
    } else if (doc != NULL || err.msg[0] == '\0' ||
               (rc != FSG_E_PARSE && rc != FSG_E_LIMIT && rc != FSG_E_NOMEM)) {
        abort();
    }
    if (fsg_mem_live() != live) {
        abort(); /* leak */
    }
    return 0;
}
