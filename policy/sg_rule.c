#include "policy/sg_rule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/core/mem.h"

enum fsg_err fsg_sg_rules_append(struct fsg_sg_rules *list, const struct fsg_sg_rule *r)
{
    struct fsg_sg_rule *items = fsg_array_grow(list->items, &list->cap, list->len + 1,
                                               sizeof *items, 16);
    if (items == NULL) {
        return FSG_E_NOMEM;
    }
    list->items = items;
    struct fsg_sg_rule copy = *r;
    copy.description = fsg_strdup(r->description);
    copy.rule_id = fsg_strdup(r->rule_id);
    if ((r->description != NULL && copy.description == NULL) ||
        (r->rule_id != NULL && copy.rule_id == NULL)) {
        fsg_sg_rule_clean_up(&copy);
        return FSG_E_NOMEM;
    }
    list->items[list->len++] = copy;
    return FSG_OK;
}

int fsg_sg_rule_cmp(const struct fsg_sg_rule *a, const struct fsg_sg_rule *b)
{
    if (a->proto != b->proto) {
        return a->proto < b->proto ? -1 : 1;
    }
    if (a->from_port != b->from_port) {
        return a->from_port < b->from_port ? -1 : 1;
    }
    if (a->to_port != b->to_port) {
        return a->to_port < b->to_port ? -1 : 1;
    }
    return fsg_cidr_cmp(&a->cidr, &b->cidr);
}

static int s_qsort_cmp(const void *a, const void *b)
{
    return fsg_sg_rule_cmp(a, b);
}

void fsg_sg_rules_sort(struct fsg_sg_rules *list)
{
    if (list->len > 1) {
        qsort(list->items, list->len, sizeof list->items[0], s_qsort_cmp);
    }
}

const char *fsg_sg_proto_name(int proto, char out[8])
{
    switch (proto) {
    case FSG_PROTO_ALL:
        return "-1";
    case FSG_PROTO_TCP:
        return "tcp";
    case FSG_PROTO_UDP:
        return "udp";
    case FSG_PROTO_ICMP:
        return "icmp";
    case FSG_PROTO_ICMPV6:
        return "icmpv6";
    default:
        snprintf(out, 8, "%d", proto);
        return out;
    }
}

enum fsg_err fsg_sg_proto_parse(const char *s, int *ret)
{
    static const struct {
        const char *name;
        int proto;
    } names[] = {
        { "-1", FSG_PROTO_ALL }, { "all", FSG_PROTO_ALL },   { "tcp", FSG_PROTO_TCP },
        { "udp", FSG_PROTO_UDP }, { "icmp", FSG_PROTO_ICMP }, { "icmpv6", FSG_PROTO_ICMPV6 },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *ret = names[i].proto;
            return FSG_OK;
        }
    }
    uint64_t v;
    if (fsg_span_to_u64(fsg_span_from_cstr(s), &v) != FSG_OK || v > 255) {
        return FSG_E_PARSE;
    }
    *ret = (int)v;
    return FSG_OK;
}

void fsg_sg_rule_clean_up(struct fsg_sg_rule *r)
{
    if (r == NULL) {
        return;
    }
    fsg_free(r->description);
    fsg_free(r->rule_id);
    r->description = NULL;
    r->rule_id = NULL;
}

void fsg_sg_rules_clean_up(struct fsg_sg_rules *list)
{
    if (list == NULL) {
        return;
    }
    for (size_t i = 0; i < list->len; i++) {
        fsg_sg_rule_clean_up(&list->items[i]);
    }
    fsg_free(list->items);
    *list = (struct fsg_sg_rules){ 0 };
}
