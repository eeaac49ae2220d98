#include "policy/sg_state.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/crypto.h"
#include "lib/core/json.h"
#include "lib/core/mem.h"
#include "policy/report_internal.h"

/* A group holds at most a few thousand rules; a bigger state file is a mistake. */
#define S_MAX_STATE_BYTES ((size_t)16 << 20)
/* EC2 ports and ICMP type/code bounds. */
#define S_MAX_PORT 65535
#define S_MAX_ICMP 255

/* ---- groups and foreign rules ---------------------------------------------------------------- */

enum fsg_err fsg_sg_current_init(struct fsg_sg_current *cur, const char *group_id)
{
    *cur = (struct fsg_sg_current){ 0 };
    cur->group_id = fsg_strdup(group_id);
    return cur->group_id != NULL ? FSG_OK : FSG_E_NOMEM;
}

static void s_foreign_clean_up(struct fsg_sg_foreign_rule *r)
{
    fsg_free(r->peer);
    fsg_free(r->description);
    fsg_free(r->rule_id);
    *r = (struct fsg_sg_foreign_rule){ 0 };
}

enum fsg_err fsg_sg_current_add_foreign(struct fsg_sg_current *cur,
                                        const struct fsg_sg_foreign_rule *r)
{
    struct fsg_sg_foreign_rule *items = fsg_array_grow(cur->foreign, &cur->cap_foreign,
                                                       cur->n_foreign + 1, sizeof *items, 4);
    if (items == NULL) {
        return FSG_E_NOMEM;
    }
    cur->foreign = items;
    struct fsg_sg_foreign_rule copy = *r;
    copy.peer = fsg_strdup(r->peer);
    copy.description = fsg_strdup(r->description);
    copy.rule_id = fsg_strdup(r->rule_id);
    if ((r->peer != NULL && copy.peer == NULL) ||
        (r->description != NULL && copy.description == NULL) ||
        (r->rule_id != NULL && copy.rule_id == NULL)) {
        s_foreign_clean_up(&copy);
        return FSG_E_NOMEM;
    }
    cur->foreign[cur->n_foreign++] = copy;
    return FSG_OK;
}

enum fsg_err fsg_sg_current_copy(struct fsg_sg_current *dst, const struct fsg_sg_current *src)
{
    struct fsg_sg_current c = { 0 };
    enum fsg_err rc = fsg_sg_current_init(&c, src->group_id);
    for (size_t i = 0; rc == FSG_OK && i < src->rules.len; i++) {
        rc = fsg_sg_rules_append(&c.rules, &src->rules.items[i]);
    }
    for (size_t i = 0; rc == FSG_OK && i < src->n_foreign; i++) {
        rc = fsg_sg_current_add_foreign(&c, &src->foreign[i]);
    }
    if (rc != FSG_OK) {
        fsg_sg_current_clean_up(&c);
        return rc;
    }
    *dst = c;
    return FSG_OK;
}

void fsg_sg_current_clean_up(struct fsg_sg_current *cur)
{
    if (cur == NULL) {
        return;
    }
    for (size_t i = 0; i < cur->n_foreign; i++) {
        s_foreign_clean_up(&cur->foreign[i]);
    }
    fsg_free(cur->foreign);
    fsg_sg_rules_clean_up(&cur->rules);
    fsg_free(cur->group_id);
    *cur = (struct fsg_sg_current){ 0 };
}

void fsg_sg_state_destroy(struct fsg_sg_state *state)
{
    if (state == NULL) {
        return;
    }
    for (size_t i = 0; i < state->n_groups; i++) {
        fsg_sg_current_clean_up(&state->groups[i]);
    }
    fsg_free(state->groups);
    fsg_free(state);
}

const struct fsg_sg_current *fsg_sg_state_find(const struct fsg_sg_state *state,
                                               const char *group_id)
{
    for (size_t i = 0; state != NULL && group_id != NULL && i < state->n_groups; i++) {
        if (strcmp(state->groups[i].group_id, group_id) == 0) {
            return &state->groups[i];
        }
    }
    return NULL;
}

/* The group named id, created at the end when it is new. */
static enum fsg_err s_group(struct fsg_sg_state *state, const char *id,
                            struct fsg_sg_current **ret)
{
    struct fsg_sg_current *found = (struct fsg_sg_current *)fsg_sg_state_find(state, id);
    if (found != NULL) {
        *ret = found;
        return FSG_OK;
    }
    struct fsg_sg_current *g = fsg_array_grow(state->groups, &state->cap_groups,
                                              state->n_groups + 1, sizeof *g, 4);
    if (g == NULL) {
        return FSG_E_NOMEM;
    }
    state->groups = g;
    enum fsg_err rc = fsg_sg_current_init(&state->groups[state->n_groups], id);
    if (rc != FSG_OK) {
        return rc;
    }
    *ret = &state->groups[state->n_groups++];
    return FSG_OK;
}

/* ---- rule fields ----------------------------------------------------------------------------- */

void fsg_sg_rule_normalize_ports(int proto, int *from_port, int *to_port)
{
    bool has_ports = proto == FSG_PROTO_TCP || proto == FSG_PROTO_UDP ||
                     proto == FSG_PROTO_ICMP || proto == FSG_PROTO_ICMPV6;
    if (!has_ports) {
        *from_port = -1;
        *to_port = -1;
    }
}

/* Checks the ports of a normalised rule; where names the rule in messages. */
static enum fsg_err s_check_ports(int proto, int from, int to, const char *where,
                                  struct fsg_error *err)
{
    if (proto == FSG_PROTO_TCP || proto == FSG_PROTO_UDP) {
        if (from < 0 || from > S_MAX_PORT || to < 0 || to > S_MAX_PORT) {
            return fsg_error_set(err, FSG_E_PARSE, "%s: ports must be 0..65535 (got %d..%d)",
                                 where, from, to);
        }
        if (from > to) {
            return fsg_error_set(err, FSG_E_PARSE, "%s: from_port %d is above to_port %d", where,
                                 from, to);
        }
    } else if (proto == FSG_PROTO_ICMP || proto == FSG_PROTO_ICMPV6) {
        if (from < -1 || from > S_MAX_ICMP || to < -1 || to > S_MAX_ICMP) {
            return fsg_error_set(err, FSG_E_PARSE,
                                 "%s: ICMP type/code must be -1..255 (got %d/%d)", where, from,
                                 to);
        }
    }
    return FSG_OK;
}

/* proto from a JSON string ("tcp", "-1", "6") or integer. */
static enum fsg_err s_proto(json_t *v, const char *key, const char *where, int *ret,
                            struct fsg_error *err)
{
    if (json_is_integer(v) && json_integer_value(v) >= -1 && json_integer_value(v) <= 255) {
        *ret = (int)json_integer_value(v);
        return FSG_OK;
    }
    if (json_is_string(v) && fsg_sg_proto_parse(json_string_value(v), ret) == FSG_OK) {
        return FSG_OK;
    }
    return fsg_error_set(err, FSG_E_PARSE,
                         "%s: %s must be tcp, udp, icmp, icmpv6, -1 or a protocol number",
                         where, key);
}

/* An optional integer port (absent/null -> -1). */
static enum fsg_err s_port(json_t *obj, const char *key, const char *where, int *ret,
                           struct fsg_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        *ret = -1;
        return FSG_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < -1 || json_integer_value(v) > S_MAX_PORT) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: %s must be an integer -1..65535", where, key);
    }
    *ret = (int)json_integer_value(v);
    return FSG_OK;
}

/* An optional string; *ret is borrowed from the JSON (NULL when absent or null). */
static enum fsg_err s_opt_str(json_t *obj, const char *key, const char *where, const char **ret,
                              struct fsg_error *err)
{
    json_t *v = json_object_get(obj, key);
    *ret = NULL;
    if (v == NULL || json_is_null(v)) {
        return FSG_OK;
    }
    if (!json_is_string(v)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: %s must be a string", where, key);
    }
    *ret = json_string_value(v);
    return FSG_OK;
}

/* A rule's source, exactly one of a CIDR or a peer. */
struct s_source {
    const char *cidr;
    bool want_v6;
    const char *peer;
};

/* Adds one parsed rule (CIDR or foreign) to the group. */
static enum fsg_err s_add_rule(struct fsg_sg_current *g, int proto, int from, int to,
                               const struct s_source *src, bool allow_host_bits,
                               const char *description, const char *rule_id, const char *where,
                               struct fsg_error *err)
{
    fsg_sg_rule_normalize_ports(proto, &from, &to);
    enum fsg_err rc = s_check_ports(proto, from, to, where, err);
    if (rc != FSG_OK) {
        return rc;
    }
    if (src->peer != NULL) {
        struct fsg_sg_foreign_rule f = { .proto = proto, .from_port = from, .to_port = to,
                                         .peer = (char *)src->peer,
                                         .description = (char *)description,
                                         .rule_id = (char *)rule_id };
        return fsg_sg_current_add_foreign(g, &f);
    }
    struct fsg_sg_rule r = { .proto = proto, .from_port = from, .to_port = to,
                             .description = (char *)description, .rule_id = (char *)rule_id };
    if (fsg_cidr_parse(fsg_span_from_cstr(src->cidr), allow_host_bits, &r.cidr) != FSG_OK) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: bad CIDR \"%s\"", where, src->cidr);
    }
    if (r.cidr.addr.is_v6 != src->want_v6) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: \"%s\" is not an %s block", where, src->cidr,
                             src->want_v6 ? "IPv6" : "IPv4");
    }
    return fsg_sg_rules_append(&g->rules, &r);
}

/* ---- flowseg's own format -------------------------------------------------------------------- */

static const char *const s_rule_keys[] = { "proto",        "from_port",   "to_port",
                                           "cidr",         "cidr_ipv6",   "description",
                                           "rule_id",      "source_group", "prefix_list",
                                           NULL };

static enum fsg_err s_check_keys(json_t *obj, const char *where, struct fsg_error *err)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        bool ok = false;
        for (const char *const *k = s_rule_keys; *k != NULL && !ok; k++) {
            ok = strcmp(*k, key) == 0;
        }
        if (!ok) {
            return fsg_error_set(err, FSG_E_PARSE, "%s: unknown key \"%s\"", where, key);
        }
    }
    return FSG_OK;
}

/* Exactly one source key among cidr, cidr_ipv6, source_group, prefix_list. */
static enum fsg_err s_own_source(json_t *rule, const char *where, struct s_source *src,
                                 struct fsg_error *err)
{
    static const char *const keys[] = { "cidr", "cidr_ipv6", "source_group", "prefix_list" };
    const char *vals[4];
    int n = 0;
    for (int i = 0; i < 4; i++) {
        enum fsg_err rc = s_opt_str(rule, keys[i], where, &vals[i], err);
        if (rc != FSG_OK) {
            return rc;
        }
        n += vals[i] != NULL;
    }
    if (n != 1) {
        return fsg_error_set(err, FSG_E_PARSE,
                             "%s: needs exactly one of cidr, cidr_ipv6, source_group, prefix_list",
                             where);
    }
    *src = (struct s_source){ .cidr = vals[0] != NULL ? vals[0] : vals[1],
                              .want_v6 = vals[1] != NULL,
                              .peer = vals[2] != NULL ? vals[2] : vals[3] };
    return FSG_OK;
}

static enum fsg_err s_own_rule(struct fsg_sg_current *g, json_t *rule, const char *where,
                               struct fsg_error *err)
{
    if (!json_is_object(rule)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: must be an object", where);
    }
    enum fsg_err rc = s_check_keys(rule, where, err);
    json_t *pv = json_object_get(rule, "proto");
    if (rc == FSG_OK && pv == NULL) {
        rc = fsg_error_set(err, FSG_E_PARSE, "%s: proto is missing", where);
    }
    int proto = 0, from = -1, to = -1;
    struct s_source src = { 0 };
    const char *desc = NULL, *rule_id = NULL;
    if (rc == FSG_OK) {
        rc = s_proto(pv, "proto", where, &proto, err);
    }
    if (rc == FSG_OK) {
        rc = s_port(rule, "from_port", where, &from, err);
    }
    if (rc == FSG_OK) {
        rc = s_port(rule, "to_port", where, &to, err);
    }
    if (rc == FSG_OK) {
        rc = s_own_source(rule, where, &src, err);
    }
    if (rc == FSG_OK) {
        rc = s_opt_str(rule, "description", where, &desc, err);
    }
    if (rc == FSG_OK) {
        rc = s_opt_str(rule, "rule_id", where, &rule_id, err);
    }
    if (rc == FSG_OK) {
        rc = s_add_rule(g, proto, from, to, &src, false, desc, rule_id, where, err);
    }
    return rc;
}

static enum fsg_err s_parse_own(json_t *root, struct fsg_sg_state *state, struct fsg_error *err)
{
    const char *id;
    json_t *rules;
    json_object_foreach(root, id, rules) {
        char where[160];
        if (id[0] == '\0') {
            return fsg_error_set(err, FSG_E_PARSE, "state: empty security group id");
        }
        if (!json_is_array(rules)) {
            return fsg_error_set(err, FSG_E_PARSE,
                                 "state: \"%.64s\" must map to an array of rules", id);
        }
        struct fsg_sg_current *g = NULL;
        enum fsg_err rc = s_group(state, id, &g);
        for (size_t i = 0; rc == FSG_OK && i < json_array_size(rules); i++) {
            snprintf(where, sizeof where, "state: %.64s rule %zu", id, i);
            rc = s_own_rule(g, json_array_get(rules, i), where, err);
        }
        if (rc != FSG_OK) {
            return rc;
        }
    }
    return FSG_OK;
}

/* ---- the AWS CLI's describe-security-group-rules output ------------------------------------- */

/* CidrIpv4 | CidrIpv6 | ReferencedGroupInfo.GroupId | PrefixListId, exactly one. */
static enum fsg_err s_aws_source(json_t *rule, const char *where, struct s_source *src,
                                 struct fsg_error *err)
{
    const char *v4 = NULL, *v6 = NULL, *pl = NULL, *ref = NULL;
    enum fsg_err rc = s_opt_str(rule, "CidrIpv4", where, &v4, err);
    if (rc == FSG_OK) {
        rc = s_opt_str(rule, "CidrIpv6", where, &v6, err);
    }
    if (rc == FSG_OK) {
        rc = s_opt_str(rule, "PrefixListId", where, &pl, err);
    }
    json_t *info = json_object_get(rule, "ReferencedGroupInfo");
    if (rc == FSG_OK && info != NULL && !json_is_null(info)) {
        rc = json_is_object(info)
                 ? s_opt_str(info, "GroupId", where, &ref, err)
                 : fsg_error_set(err, FSG_E_PARSE, "%s: ReferencedGroupInfo must be an object",
                                 where);
        if (rc == FSG_OK && ref == NULL) {
            rc = fsg_error_set(err, FSG_E_PARSE, "%s: ReferencedGroupInfo without GroupId",
                               where);
        }
    }
    if (rc != FSG_OK) {
        return rc;
    }
    int n = (v4 != NULL) + (v6 != NULL) + (pl != NULL) + (ref != NULL);
    if (n != 1) {
        return fsg_error_set(err, FSG_E_PARSE,
                             "%s: needs exactly one of CidrIpv4, CidrIpv6, ReferencedGroupInfo, "
                             "PrefixListId", where);
    }
    *src = (struct s_source){ .cidr = v4 != NULL ? v4 : v6, .want_v6 = v6 != NULL,
                              .peer = ref != NULL ? ref : pl };
    return FSG_OK;
}

static enum fsg_err s_aws_rule(struct fsg_sg_state *state, json_t *rule, const char *where,
                               struct fsg_error *err)
{
    if (!json_is_object(rule)) {
        return fsg_error_set(err, FSG_E_PARSE, "%s: must be an object", where);
    }
    const char *group_id = NULL, *desc = NULL, *rule_id = NULL;
    enum fsg_err rc = s_opt_str(rule, "GroupId", where, &group_id, err);
    if (rc == FSG_OK && (group_id == NULL || group_id[0] == '\0')) {
        rc = fsg_error_set(err, FSG_E_PARSE, "%s: GroupId is missing", where);
    }
    json_t *egress = json_object_get(rule, "IsEgress");
    if (rc == FSG_OK && !json_is_boolean(egress)) {
        rc = fsg_error_set(err, FSG_E_PARSE, "%s: IsEgress must be true or false", where);
    }
    struct fsg_sg_current *g = NULL;
    if (rc == FSG_OK) {
        rc = s_group(state, group_id, &g);
    }
    if (rc != FSG_OK || json_is_true(egress)) {
        return rc; /* egress rules: the group is seen, the rule is not ours to judge */
    }
    json_t *pv = json_object_get(rule, "IpProtocol");
    int proto = 0, from = -1, to = -1;
    struct s_source src = { 0 };
    rc = pv != NULL ? s_proto(pv, "IpProtocol", where, &proto, err)
                    : fsg_error_set(err, FSG_E_PARSE, "%s: IpProtocol is missing", where);
    if (rc == FSG_OK) {
        rc = s_port(rule, "FromPort", where, &from, err);
    }
    if (rc == FSG_OK) {
        rc = s_port(rule, "ToPort", where, &to, err);
    }
    if (rc == FSG_OK) {
        rc = s_aws_source(rule, where, &src, err);
    }
    if (rc == FSG_OK) {
        rc = s_opt_str(rule, "Description", where, &desc, err);
    }
    if (rc == FSG_OK) {
        rc = s_opt_str(rule, "SecurityGroupRuleId", where, &rule_id, err);
    }
    if (rc == FSG_OK) {
        /* EC2 stores canonical blocks; be lenient with host bits a hand edit may have left. */
        rc = s_add_rule(g, proto, from, to, &src, true, desc, rule_id, where, err);
    }
    return rc;
}

static enum fsg_err s_parse_aws(json_t *root, struct fsg_sg_state *state, struct fsg_error *err)
{
    json_t *rules = json_object_get(root, "SecurityGroupRules");
    json_t *next = json_object_get(root, "NextToken");
    if (next != NULL && !json_is_null(next)) {
        return fsg_error_set(err, FSG_E_PARSE,
                             "state: the describe-security-group-rules output has a NextToken, so "
                             "it is one page of several; write it without --max-items/"
                             "--no-paginate");
    }
    if (!json_is_array(rules)) {
        return fsg_error_set(err, FSG_E_PARSE, "state: SecurityGroupRules must be an array");
    }
    for (size_t i = 0; i < json_array_size(rules); i++) {
        char where[96];
        snprintf(where, sizeof where, "state: SecurityGroupRules[%zu]", i);
        enum fsg_err rc = s_aws_rule(state, json_array_get(rules, i), where, err);
        if (rc != FSG_OK) {
            return rc;
        }
    }
    return FSG_OK;
}

/* ---- entry points ---------------------------------------------------------------------------- */

enum fsg_err fsg_sg_state_parse(struct fsg_span json, struct fsg_sg_state **ret_state,
                                struct fsg_error *err)
{
    enum fsg_err rc = FSG_OK;
    json_t *root = NULL;
    struct fsg_sg_state *state = NULL;

    struct fsg_json_limits limits = { .max_bytes = S_MAX_STATE_BYTES };
    rc = fsg_json_load(json, &limits, &root, err);
    if (rc != FSG_OK) {
        (void)fsg_error_prefix(err, "state: ");
        goto out;
    }
    if (!json_is_object(root)) {
        rc = fsg_error_set(err, FSG_E_PARSE,
                           "state: must be an object ({\"sg-id\": [RULE, ...]} or the output of "
                           "aws ec2 describe-security-group-rules)");
        goto out;
    }
    state = fsg_calloc(1, sizeof *state);
    if (state == NULL) {
        rc = FSG_E_NOMEM;
        goto out;
    }
    rc = json_object_get(root, "SecurityGroupRules") != NULL ? s_parse_aws(root, state, err)
                                                             : s_parse_own(root, state, err);
    if (rc != FSG_OK) {
        goto out;
    }
    for (size_t i = 0; i < state->n_groups; i++) {
        fsg_sg_rules_sort(&state->groups[i].rules);
    }
    *ret_state = state;
    state = NULL;

out:
    fsg_sg_state_destroy(state);
    json_decref(root);
    return rc;
}

enum fsg_err fsg_sg_state_load(const char *path, struct fsg_sg_state **ret_state,
                               struct fsg_error *err)
{
    struct fsg_buf text = FSG_BUF_INIT;
    enum fsg_err rc = fsg_buf_read_file(&text, path, S_MAX_STATE_BYTES, err);
    if (rc == FSG_OK) {
        rc = fsg_sg_state_parse(fsg_span_from_buf(&text), ret_state, err);
        if (rc != FSG_OK) {
            (void)fsg_error_prefix(err, "%s: ", path);
        }
    }
    fsg_buf_clean_up(&text);
    return rc;
}

/* ---- content hash ---------------------------------------------------------------------------- */

static int s_strcmp_p(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One canonical line per rule, so the hash does not depend on rule order. */
static char *s_rule_line(const char *kind, int proto, int from, int to, const char *src,
                         const char *desc)
{
    size_t n = strlen(src) + (desc != NULL ? strlen(desc) : 0) + 64;
    char *line = fsg_malloc(n);
    if (line != NULL) {
        snprintf(line, n, "%s %d %d %d %s %s%s\n", kind, proto, from, to, src,
                 desc != NULL ? "d:" : "-", desc != NULL ? desc : "");
    }
    return line;
}

static enum fsg_err s_digest_lines(const char *group_id, char **lines, size_t n,
                                   char out[FSG_SG_HASH_HEX_LEN + 1], struct fsg_error *err)
{
    struct fsg_buf text = FSG_BUF_INIT;
    enum fsg_err rc = fsg_buf_printf(&text, "flowseg-state-v1\n%s\n", group_id);
    for (size_t i = 0; rc == FSG_OK && i < n; i++) {
        rc = fsg_buf_append_cstr(&text, lines[i]);
    }
    if (rc == FSG_OK) {
        rc = fsg_sha256_hex(fsg_span_from_buf(&text), out, err);
    }
    fsg_buf_clean_up(&text);
    return rc;
}

enum fsg_err fsg_sg_current_hash(const struct fsg_sg_current *cur,
                                 char out[FSG_SG_HASH_HEX_LEN + 1], struct fsg_error *err)
{
    enum fsg_err rc = FSG_OK;
    size_t n = cur->rules.len + cur->n_foreign, made = 0;
    char **lines = fsg_calloc(n > 0 ? n : 1, sizeof *lines);
    if (lines == NULL) {
        return FSG_E_NOMEM;
    }
    for (size_t i = 0; i < cur->rules.len; i++, made++) {
        const struct fsg_sg_rule *r = &cur->rules.items[i];
        char cidr[FSG_CIDR_STR_MAX];
        int from = r->from_port, to = r->to_port;
        fsg_sg_rule_normalize_ports(r->proto, &from, &to);
        lines[made] = s_rule_line("cidr", r->proto, from, to, fsg_cidr_format(&r->cidr, cidr),
                                  r->description);
        if (lines[made] == NULL) {
            rc = FSG_E_NOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < cur->n_foreign; i++, made++) {
        const struct fsg_sg_foreign_rule *f = &cur->foreign[i];
        lines[made] = s_rule_line("peer", f->proto, f->from_port, f->to_port,
                                  f->peer != NULL ? f->peer : "", f->description);
        if (lines[made] == NULL) {
            rc = FSG_E_NOMEM;
            goto out;
        }
    }
    qsort(lines, n, sizeof *lines, s_strcmp_p);
    rc = s_digest_lines(cur->group_id != NULL ? cur->group_id : "", lines, n, out, err);

out:
    for (size_t i = 0; i < made; i++) {
        fsg_free(lines[i]);
    }
    fsg_free(lines);
    return rc;
}

/* ---- one RULE for the saved-plan reader (policy/report_internal.h) -------------------------- */

enum fsg_err fsg_sg_current_json_append(struct fsg_sg_current *g, json_t *rule, const char *where,
                                        struct fsg_error *err)
{
    return s_own_rule(g, rule, where, err);
}

enum fsg_err fsg_sg_rule_json_append(struct fsg_sg_rules *list, json_t *rule, const char *where,
                                     struct fsg_error *err)
{
    struct fsg_sg_current tmp = { .rules = *list };
    enum fsg_err rc = s_own_rule(&tmp, rule, where, err);
    if (rc == FSG_OK && tmp.n_foreign > 0) {
        rc = fsg_error_set(err, FSG_E_PARSE, "%s: a plan rule needs cidr or cidr_ipv6", where);
    }
    *list = tmp.rules;
    tmp.rules = (struct fsg_sg_rules){ 0 };
    fsg_sg_current_clean_up(&tmp);
    return rc;
}
