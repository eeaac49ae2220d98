/* AWS XML through expat into a small arena-allocated element tree. See lib/aws/aws_xml.h. */
#include "lib/aws/aws_xml.h"

#include <expat.h>
#include <limits.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "lib/core/mem.h"

/* Defaults of struct fsg_aws_xml_limits. A ListObjectsV2 page (1000 keys) is ~7000 elements
 * and ~400 KB; a DescribeSecurityGroupRules page (1000 rules) ~20000 elements. */
#define S_DEFAULT_MAX_INPUT_BYTES ((size_t)64 << 20)
#define S_DEFAULT_MAX_DEPTH 64u
#define S_DEFAULT_MAX_NODES ((size_t)500000)
#define S_DEFAULT_MAX_TEXT_BYTES ((size_t)1 << 20)
/* Arena blocks: big enough that a typical response needs a handful of allocations. */
#define S_ARENA_BLOCK_BYTES ((size_t)64 << 10)

/* Reparse deferral (expat >= 2.6.0, backported by some distributions) protects incremental
 * parsing from quadratic re-scans of huge tokens. Use it when the library has it. */
#if XML_MAJOR_VERSION < 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION < 6)
XMLPARSEAPI(XML_Bool) XML_SetReparseDeferralEnabled(XML_Parser parser, XML_Bool enabled);
#pragma weak XML_SetReparseDeferralEnabled
#define S_REPARSE_DEFERRAL_MAYBE_MISSING 1
#endif

struct s_block {
    struct s_block *next;
    size_t used;
    size_t cap;
    alignas(max_align_t) unsigned char data[];
};

struct fsg_aws_xml_doc {
    struct s_block *blocks;
    struct fsg_aws_xml_node *root;
};

struct s_ctx {
    XML_Parser parser;
    struct fsg_aws_xml_doc *doc;
    struct fsg_aws_xml_limits lim;
    unsigned depth;                        /* open elements */
    size_t nodes;
    struct fsg_aws_xml_node *cur;          /* innermost open element */
    struct fsg_aws_xml_node **last_child;  /* [level]: last child of the open element there */
    struct fsg_buf *text;                  /* [level]: character data of the open element */
    enum fsg_err rc;
    char msg[160];
};

static void *s_arena_alloc(struct fsg_aws_xml_doc *doc, size_t n)
{
    const size_t align = alignof(max_align_t);
    n = (n + align - 1) / align * align;
    struct s_block *b = doc->blocks;
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = n > S_ARENA_BLOCK_BYTES ? n : S_ARENA_BLOCK_BYTES;
        b = fsg_malloc(sizeof *b + cap);
        if (b == NULL) {
            return NULL;
        }
        *b = (struct s_block){ .next = doc->blocks, .used = 0, .cap = cap };
        doc->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

static char *s_arena_strdup(struct fsg_aws_xml_doc *doc, const char *s, size_t n)
{
    char *p = s_arena_alloc(doc, n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static void s_fail(struct s_ctx *c, enum fsg_err rc, const char *msg)
{
    if (c->rc == FSG_OK) {
        c->rc = rc;
        snprintf(c->msg, sizeof c->msg, "%s", msg);
    }
    (void)XML_StopParser(c->parser, XML_FALSE);
}

static const char *s_local_name(const char *name)
{
    const char *colon = strrchr(name, ':');
    return colon != NULL ? colon + 1 : name;
}

static void XMLCALL s_on_start(void *userdata, const XML_Char *name, const XML_Char **attrs)
{
    struct s_ctx *c = userdata;
    (void)attrs;
    if (c->rc != FSG_OK) {
        return;
    }
    if (c->depth >= c->lim.max_depth) {
        s_fail(c, FSG_E_LIMIT, "elements nested too deeply");
        return;
    }
    if (++c->nodes > c->lim.max_nodes) {
        s_fail(c, FSG_E_LIMIT, "too many elements");
        return;
    }
    const char *local = s_local_name(name);
    struct fsg_aws_xml_node *n = s_arena_alloc(c->doc, sizeof *n);
    char *copy = n != NULL ? s_arena_strdup(c->doc, local, strlen(local)) : NULL;
    if (copy == NULL) {
        s_fail(c, FSG_E_NOMEM, "out of memory");
        return;
    }
    *n = (struct fsg_aws_xml_node){ .name = copy, .text = "", .parent = c->cur };
    if (c->cur == NULL) {
        c->doc->root = n;
    } else if (c->last_child[c->depth - 1] == NULL) {
        c->cur->first_child = n;
    } else {
        c->last_child[c->depth - 1]->next_sibling = n;
    }
    if (c->depth > 0) {
        c->last_child[c->depth - 1] = n;
    }
    c->last_child[c->depth] = NULL;
    fsg_buf_reset(&c->text[c->depth]);
    c->cur = n;
    c->depth++;
}

static void XMLCALL s_on_end(void *userdata, const XML_Char *name)
{
    struct s_ctx *c = userdata;
    (void)name;
    if (c->rc != FSG_OK || c->cur == NULL) {
        return;
    }
    struct fsg_buf *t = &c->text[c->depth - 1];
    if (t->len > 0) {
        char *copy = s_arena_strdup(c->doc, (const char *)t->ptr, t->len);
        if (copy == NULL) {
            s_fail(c, FSG_E_NOMEM, "out of memory");
            return;
        }
        c->cur->text = copy;
        c->cur->text_len = t->len;
    }
    c->cur = c->cur->parent;
    c->depth--;
}

static void XMLCALL s_on_text(void *userdata, const XML_Char *s, int len)
{
    struct s_ctx *c = userdata;
    if (c->rc != FSG_OK || c->depth == 0 || len <= 0) {
        return;
    }
    struct fsg_buf *t = &c->text[c->depth - 1];
    if ((size_t)len > c->lim.max_text_bytes - t->len) {
        s_fail(c, FSG_E_LIMIT, "element text larger than the limit");
        return;
    }
    if (fsg_buf_append(t, s, (size_t)len) != FSG_OK) {
        s_fail(c, FSG_E_NOMEM, "out of memory");
    }
}

/* AWS responses never have a DOCTYPE. Refusing it means no entity can ever be declared:
 * no billion laughs, no external entities, no DTD processing at all. */
static void XMLCALL s_on_doctype(void *userdata, const XML_Char *name, const XML_Char *sysid,
                                 const XML_Char *pubid, int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    s_fail(userdata, FSG_E_PARSE, "DOCTYPE is not allowed in an AWS response");
}

static void XMLCALL s_on_entity_decl(void *userdata, const XML_Char *name, int is_param,
                                     const XML_Char *value, int value_len, const XML_Char *base,
                                     const XML_Char *sysid, const XML_Char *pubid,
                                     const XML_Char *notation)
{
    (void)name;
    (void)is_param;
    (void)value;
    (void)value_len;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    s_fail(userdata, FSG_E_PARSE, "entity declarations are not allowed in an AWS response");
}

static void s_resolve_limits(const struct fsg_aws_xml_limits *in, struct fsg_aws_xml_limits *out)
{
    static const struct fsg_aws_xml_limits s_none = { 0 };
    const struct fsg_aws_xml_limits *l = in != NULL ? in : &s_none;
    out->max_input_bytes = l->max_input_bytes > 0 ? l->max_input_bytes : S_DEFAULT_MAX_INPUT_BYTES;
    if (out->max_input_bytes > INT_MAX) {
        out->max_input_bytes = INT_MAX;
    }
    out->max_depth = l->max_depth > 0 ? l->max_depth : S_DEFAULT_MAX_DEPTH;
    out->max_nodes = l->max_nodes > 0 ? l->max_nodes : S_DEFAULT_MAX_NODES;
    out->max_text_bytes = l->max_text_bytes > 0 ? l->max_text_bytes : S_DEFAULT_MAX_TEXT_BYTES;
}

/* expat allocates through lib/mem too: counted by the leak check, reached by fault injection. */
static void *s_x_malloc(size_t n)
{
    return fsg_malloc(n);
}

static void *s_x_realloc(void *p, size_t n)
{
    return fsg_realloc(p, n);
}

static void s_x_free(void *p)
{
    fsg_free(p);
}

static const XML_Memory_Handling_Suite s_mem = { s_x_malloc, s_x_realloc, s_x_free };

static void s_setup_parser(struct s_ctx *c)
{
    XML_SetUserData(c->parser, c);
    XML_SetElementHandler(c->parser, s_on_start, s_on_end);
    XML_SetCharacterDataHandler(c->parser, s_on_text);
    XML_SetStartDoctypeDeclHandler(c->parser, s_on_doctype);
    XML_SetEntityDeclHandler(c->parser, s_on_entity_decl);
    (void)XML_SetParamEntityParsing(c->parser, XML_PARAM_ENTITY_PARSING_NEVER);
#ifdef S_REPARSE_DEFERRAL_MAYBE_MISSING
    if (XML_SetReparseDeferralEnabled != NULL)
#endif
    {
        (void)XML_SetReparseDeferralEnabled(c->parser, XML_TRUE);
    }
}

static enum fsg_err s_run_parser(struct s_ctx *c, struct fsg_span xml, struct fsg_error *err)
{
    enum XML_Status st = XML_Parse(c->parser, (const char *)xml.ptr, (int)xml.len, XML_TRUE);
    if (st == XML_STATUS_OK && c->rc == FSG_OK) {
        return FSG_OK;
    }
    unsigned long line = (unsigned long)XML_GetCurrentLineNumber(c->parser);
    enum fsg_err rc;
    if (c->rc != FSG_OK) {
        rc = fsg_error_set(err, c->rc, "XML response rejected at line %lu: %s", line, c->msg);
    } else if (XML_GetErrorCode(c->parser) == XML_ERROR_NO_MEMORY) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory parsing an XML response");
    } else {
        rc = fsg_error_set(err, FSG_E_PARSE, "malformed XML response at line %lu, column %lu: %s",
                           line, (unsigned long)XML_GetCurrentColumnNumber(c->parser),
                           XML_ErrorString(XML_GetErrorCode(c->parser)));
    }
    if (err != NULL) {
        err->line = line;
    }
    return rc;
}

enum fsg_err fsg_aws_xml_parse(struct fsg_span xml, const struct fsg_aws_xml_limits *limits,
                               struct fsg_aws_xml_doc **ret_doc, struct fsg_error *err)
{
    struct s_ctx c = { 0 };
    enum fsg_err rc;
    s_resolve_limits(limits, &c.lim);
    if (xml.len > c.lim.max_input_bytes) {
        return fsg_error_set(err, FSG_E_LIMIT, "XML response of %zu bytes exceeds the %zu-byte limit",
                             xml.len, c.lim.max_input_bytes);
    }
    c.doc = fsg_calloc(1, sizeof *c.doc);
    c.last_child = fsg_calloc(c.lim.max_depth + 1, sizeof *c.last_child);
    c.text = fsg_calloc(c.lim.max_depth + 1, sizeof *c.text);
    c.parser = XML_ParserCreate_MM(NULL, &s_mem, NULL);
    if (c.doc == NULL || c.last_child == NULL || c.text == NULL || c.parser == NULL) {
        rc = fsg_error_set(err, FSG_E_NOMEM, "out of memory parsing an XML response");
        goto out;
    }
    s_setup_parser(&c);
    rc = s_run_parser(&c, xml, err);
    if (rc == FSG_OK && c.doc->root == NULL) {
        rc = fsg_error_set(err, FSG_E_PARSE, "XML response without an element");
    }
    if (rc == FSG_OK) {
        *ret_doc = c.doc;
        c.doc = NULL;
    }
out:
    if (c.parser != NULL) {
        XML_ParserFree(c.parser);
    }
    for (unsigned i = 0; c.text != NULL && i <= c.lim.max_depth; i++) {
        fsg_buf_clean_up(&c.text[i]);
    }
    fsg_free(c.text);
    fsg_free(c.last_child);
    fsg_aws_xml_doc_destroy(c.doc);
    return rc;
}

void fsg_aws_xml_doc_destroy(struct fsg_aws_xml_doc *doc)
{
    if (doc == NULL) {
        return;
    }
    struct s_block *b = doc->blocks;
    while (b != NULL) {
        struct s_block *next = b->next;
        fsg_free(b);
        b = next;
    }
    fsg_free(doc);
}

const struct fsg_aws_xml_node *fsg_aws_xml_root(const struct fsg_aws_xml_doc *doc)
{
    return doc != NULL ? doc->root : NULL;
}

const struct fsg_aws_xml_node *fsg_aws_xml_child(const struct fsg_aws_xml_node *n, const char *name)
{
    for (const struct fsg_aws_xml_node *c = n != NULL ? n->first_child : NULL; c != NULL;
         c = c->next_sibling) {
        if (strcmp(c->name, name) == 0) {
            return c;
        }
    }
    return NULL;
}

const struct fsg_aws_xml_node *fsg_aws_xml_next_named(const struct fsg_aws_xml_node *n)
{
    for (const struct fsg_aws_xml_node *c = n != NULL ? n->next_sibling : NULL; c != NULL;
         c = c->next_sibling) {
        if (strcmp(c->name, n->name) == 0) {
            return c;
        }
    }
    return NULL;
}

const struct fsg_aws_xml_node *fsg_aws_xml_path(const struct fsg_aws_xml_node *n, const char *path)
{
    const char *p = path;
    while (n != NULL && *p != '\0') {
        size_t len = strcspn(p, "/");
        const struct fsg_aws_xml_node *c = n->first_child;
        while (c != NULL && !(strncmp(c->name, p, len) == 0 && c->name[len] == '\0')) {
            c = c->next_sibling;
        }
        n = c;
        p += len;
        p += *p == '/';
    }
    return n;
}

size_t fsg_aws_xml_count(const struct fsg_aws_xml_node *n, const char *name)
{
    size_t count = 0;
    FSG_AWS_XML_FOREACH(it, n, name) {
        count++;
    }
    return count;
}

const char *fsg_aws_xml_text(const struct fsg_aws_xml_node *n)
{
    return n != NULL ? n->text : "";
}

const char *fsg_aws_xml_path_text(const struct fsg_aws_xml_node *n, const char *path)
{
    return fsg_aws_xml_text(fsg_aws_xml_path(n, path));
}

static struct fsg_span s_node_span(const struct fsg_aws_xml_node *n)
{
    return (struct fsg_span){ (const uint8_t *)n->text, n->text_len };
}

enum fsg_err fsg_aws_xml_path_u64(const struct fsg_aws_xml_node *n, const char *path, uint64_t *ret)
{
    const struct fsg_aws_xml_node *x = fsg_aws_xml_path(n, path);
    return x == NULL ? FSG_E_NOT_FOUND : fsg_span_to_u64(s_node_span(x), ret);
}

enum fsg_err fsg_aws_xml_path_i64(const struct fsg_aws_xml_node *n, const char *path, int64_t *ret)
{
    const struct fsg_aws_xml_node *x = fsg_aws_xml_path(n, path);
    return x == NULL ? FSG_E_NOT_FOUND : fsg_span_to_i64(s_node_span(x), ret);
}

enum fsg_err fsg_aws_xml_path_bool(const struct fsg_aws_xml_node *n, const char *path, bool *ret)
{
    const struct fsg_aws_xml_node *x = fsg_aws_xml_path(n, path);
    if (x == NULL) {
        return FSG_E_NOT_FOUND;
    }
    if (strcmp(x->text, "true") == 0 || strcmp(x->text, "false") == 0) {
        *ret = x->text[0] == 't';
        return FSG_OK;
    }
    return FSG_E_PARSE;
}

static bool s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

const struct fsg_aws_xml_node *fsg_aws_xml_result(const struct fsg_aws_xml_doc *doc)
{
    const struct fsg_aws_xml_node *root = fsg_aws_xml_root(doc);
    for (const struct fsg_aws_xml_node *c = root != NULL ? root->first_child : NULL; c != NULL;
         c = c->next_sibling) {
        if (s_ends_with(c->name, "Result")) {
            return c;
        }
    }
    return root;
}

/* The first non-empty text among the given paths below n. */
static const char *s_first_text(const struct fsg_aws_xml_node *n, const char *const *paths,
                                size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const char *t = fsg_aws_xml_path_text(n, paths[i]);
        if (t[0] != '\0') {
            return t;
        }
    }
    return "";
}

static const char *const s_request_id_paths[] = {
    "requestId", "RequestId", "RequestID", "ResponseMetadata/RequestId",
};

const char *fsg_aws_xml_request_id(const struct fsg_aws_xml_doc *doc)
{
    return s_first_text(fsg_aws_xml_root(doc), s_request_id_paths,
                        sizeof s_request_id_paths / sizeof s_request_id_paths[0]);
}

bool fsg_aws_xml_error_info(const struct fsg_aws_xml_doc *doc, struct fsg_aws_xml_error_info *ret)
{
    const struct fsg_aws_xml_node *root = fsg_aws_xml_root(doc);
    const struct fsg_aws_xml_node *e = NULL;
    if (root == NULL) {
        return false;
    }
    if (strcmp(root->name, "Response") == 0) {
        e = fsg_aws_xml_path(root, "Errors/Error");        /* EC2 */
    } else if (strcmp(root->name, "ErrorResponse") == 0) {
        e = fsg_aws_xml_child(root, "Error");              /* Query: RDS, ELBv2, IAM, STS */
    } else if (strcmp(root->name, "Error") == 0) {
        e = root;                                          /* S3 */
    }
    const char *code = fsg_aws_xml_path_text(e, "Code");
    if (code[0] == '\0') {
        return false;
    }
    const char *rid = s_first_text(root, s_request_id_paths,
                                   sizeof s_request_id_paths / sizeof s_request_id_paths[0]);
    *ret = (struct fsg_aws_xml_error_info){
        .code = code,
        .message = fsg_aws_xml_path_text(e, "Message"),
        .request_id = rid,
        .type = fsg_aws_xml_path_text(e, "Type"),
        .bucket = fsg_aws_xml_path_text(e, "BucketName"),
        .key = fsg_aws_xml_path_text(e, "Key"),
        .region = fsg_aws_xml_path_text(e, "Region"),
        .endpoint = fsg_aws_xml_path_text(e, "Endpoint"),
    };
    return true;
}
