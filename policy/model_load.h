/* Inside policy/model_*.c only: the JSON -> model loader's state and its typed getters, which
 * report every problem as "policy: <collection>[<i>] <href>: <field>: <what>". */
#ifndef FSG_POLICY_MODEL_LOAD_H
#define FSG_POLICY_MODEL_LOAD_H

#include "policy/model_internal.h"

struct fsg_policy_loader {
    struct fsg_policy_model *m;
    struct fsg_error *err;
    size_t max_objects;
    size_t max_items;
    bool partial;
    /* Where we are, for messages. */
    const char *coll;
    size_t index;
    const char *href;
    char path[192]; /* field path inside the object ("interfaces[1]"), "" at its top */
    /* The arrays being filled (the model exposes them const). */
    struct fsg_policy_label *labels;
    struct fsg_policy_label_group *label_groups;
    struct fsg_policy_workload *workloads;
    struct fsg_policy_rule_set *rule_sets;
    struct fsg_policy_ip_list *ip_lists;
    struct fsg_policy_service *services;
    struct fsg_policy_virtual_service *virtual_services;
    /* Service bindings, grouped by virtual service (counting sort). */
    struct fsg_policy_binding *extra_bindings;
    size_t *extra_start; /* n_virtual_services + 1 offsets into extra_bindings */
};

/* Records the failure in L->err (with the location) and returns code. key may be NULL. */
enum fsg_err fsg_policy_fail(struct fsg_policy_loader *L, enum fsg_err code, const char *key,
                             const char *fmt, ...) FSG_PRINTF(4, 5);

/* The optional bundle keys of service bindings and enforcement boundaries. */
#define FSG_POLICY_BINDINGS_KEY "service_bindings"
#define FSG_POLICY_BOUNDARIES_KEY "enforcement_boundaries"
/* The bundle's pinned policy version (policy/pce.h FSG_PCE_BUNDLE_VERSION_KEY, the same key:
 * the model layer does not include the client's header). */
#define FSG_POLICY_VERSION_KEY "policy_version"

/* Sets the location (collection, index, href) and clears the path. */
void fsg_policy_at(struct fsg_policy_loader *L, const char *coll, size_t index,
                   const char *href);

/* Sets L->path from a format ("rules[%zu].providers[%zu]"); "" clears it. */
void fsg_policy_set_path(struct fsg_policy_loader *L, const char *fmt, ...) FSG_PRINTF(2, 3);

/* Typed getters of obj[key]. Absent and null are the same ("not given"). */
enum fsg_err fsg_policy_get_str(struct fsg_policy_loader *L, const json_t *obj, const char *key,
                                bool required, const char **ret) FSG_MUST_USE;
enum fsg_err fsg_policy_get_bool(struct fsg_policy_loader *L, const json_t *obj, const char *key,
                                 bool def, bool *ret) FSG_MUST_USE;
/* An integer in [min, max]; -1 when not given (min must be >= -1 when that matters). */
enum fsg_err fsg_policy_get_int(struct fsg_policy_loader *L, const json_t *obj, const char *key,
                                long long min, long long max, int *ret) FSG_MUST_USE;
/* An array (NULL, 0 when not given), at most L->max_items long. */
enum fsg_err fsg_policy_get_array(struct fsg_policy_loader *L, const json_t *obj, const char *key,
                                  const json_t **ret, size_t *ret_n) FSG_MUST_USE;
/* v must be {"href": "..."} naming an object of coll. *ret = its index; FSG_POLICY_NONE when it
 * does not resolve in a partial load (a strict load fails). key names v in messages. */
enum fsg_err fsg_policy_get_ref(struct fsg_policy_loader *L, const json_t *v, const char *key,
                                enum fsg_policy_coll coll, size_t *ret) FSG_MUST_USE;
/* A service port object ({proto, port?, to_port?, icmp_type?, icmp_code?}). */
enum fsg_err fsg_policy_get_port(struct fsg_policy_loader *L, const json_t *o,
                                 struct fsg_policy_port *ret) FSG_MUST_USE;
/* Parses an address string (field key of obj, already known to be a string). */
enum fsg_err fsg_policy_get_ip(struct fsg_policy_loader *L, const json_t *obj, const char *key,
                               bool *ret_has, struct fsg_ip *ret) FSG_MUST_USE;

/* One object of each collection (policy/model_objects.c). */
enum fsg_err fsg_policy_load_label(struct fsg_policy_loader *L, const json_t *o,
                                   struct fsg_policy_label *ret) FSG_MUST_USE;
enum fsg_err fsg_policy_load_label_group(struct fsg_policy_loader *L, const json_t *o,
                                         struct fsg_policy_label_group *ret) FSG_MUST_USE;
enum fsg_err fsg_policy_load_service(struct fsg_policy_loader *L, const json_t *o,
                                     struct fsg_policy_service *ret) FSG_MUST_USE;
enum fsg_err fsg_policy_load_ip_list(struct fsg_policy_loader *L, const json_t *o,
                                     struct fsg_policy_ip_list *ret) FSG_MUST_USE;
enum fsg_err fsg_policy_load_workload(struct fsg_policy_loader *L, const json_t *o,
                                      struct fsg_policy_workload *ret) FSG_MUST_USE;
/* Needs fsg_policy_load_service_bindings() first (it merges them into bindings). */
enum fsg_err fsg_policy_load_virtual_service(struct fsg_policy_loader *L, const json_t *o,
                                             size_t index,
                                             struct fsg_policy_virtual_service *ret) FSG_MUST_USE;
/* The bundle's service_bindings (arr may be NULL), grouped by virtual service. */
enum fsg_err fsg_policy_load_service_bindings(struct fsg_policy_loader *L,
                                              const json_t *arr) FSG_MUST_USE;

/* Rule sets and their rules (policy/model_rules.c). */
enum fsg_err fsg_policy_load_rule_set(struct fsg_policy_loader *L, const json_t *o,
                                      struct fsg_policy_rule_set *ret) FSG_MUST_USE;

/* The bundle's enforcement_boundaries (arr may be NULL), after every other collection. */
enum fsg_err fsg_policy_load_boundaries(struct fsg_policy_loader *L,
                                        const json_t *arr) FSG_MUST_USE;

/* Name of a collection ("label_groups"). */
const char *fsg_policy_coll_name(enum fsg_policy_coll coll);

#endif
