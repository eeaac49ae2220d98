/* Inside policy/compile*.c only: the compiler's working state and its selection helpers. */
#ifndef FSG_POLICY_COMPILE_INTERNAL_H
#define FSG_POLICY_COMPILE_INTERNAL_H

#include <stdint.h>

#include "policy/cidrset.h"
#include "policy/compile.h"

/* Something a rule can select: a workload, a virtual service, or the label-only target. */
enum s_entity_kind { FSG_ENT_WORKLOAD, FSG_ENT_VIRTUAL_SERVICE, FSG_ENT_PSEUDO };

struct fsg_entity {
    enum s_entity_kind kind;
    size_t index; /* into workloads or virtual_services; unused for PSEUDO */
    const size_t *labels;
    size_t n_labels;
};

/* Label and label-group actors (or a scope's items) as one test: for each key, the entity has
 * one of the key's labels; and it has none of the excluded labels. */
struct fsg_key_set {
    const char *key;
    size_t *labels; /* sorted */
    size_t n;
    size_t cap;
};

struct fsg_selector {
    struct fsg_key_set *keys;
    size_t n_keys;
    size_t *excluded; /* sorted */
    size_t n_excluded;
    size_t cap_excluded;
    /* The label types (keys) of the excluded labels: a match must carry a label of each of
     * them (Illumio "Policy Exclusions": an exclusion selects workloads that carry ANOTHER
     * label of that type, never those without one). */
    const char **excluded_keys;
    size_t n_excluded_keys;
    const struct fsg_policy_model *m; /* for label keys */
    bool has_labels;  /* at least one label or label-group actor */
};

/* One side of a rule (providers or consumers), analysed once. */
struct fsg_side {
    struct fsg_selector sel;
    bool has_ams;
    unsigned resolve; /* FSG_POLICY_RESOLVE_* */
    const struct fsg_policy_actor *actors;
    size_t n_actors;
};

struct fsg_strlist {
    char **items;
    size_t len;
    size_t cap;
};

/* Explain mode: the probe and the steps found so far. */
struct fsg_compile_probe {
    struct fsg_policy_probe p;
    struct fsg_explain_step *steps;
    size_t len;
    size_t cap;
};

struct fsg_compile_ctx {
    const struct fsg_policy_model *m;
    const char *target_name;
    struct fsg_entity *targets; /* what the target is on the PCE side */
    size_t n_targets;
    size_t *pseudo_labels;      /* labels of a label-only target */
    struct fsg_cidrset *ip_lists; /* cache: ranges minus exclusions, per ip list */
    bool *ip_list_done;
    struct fsg_strlist warnings;
    enum fsg_err rc;            /* sticky: the first failure (NOMEM) stops everything */
    char fail_msg[512];         /* why, for a failure other than NOMEM ("" = none) */
    bool consumer_subnets;      /* the rule being compiled: use_workload_subnets has consumers */
    struct fsg_compile_probe *probe; /* explain mode, else NULL */
    const struct fsg_policy_rule_set *cur_rule_set; /* of the rule being compiled */
};

/* Stops the compile: the target is refused (FSG_E_REFUSED) because ignoring what the message
 * names could widen access. The first refusal wins. */
void fsg_compile_refuse(struct fsg_compile_ctx *c, const char *fmt, ...) FSG_PRINTF(2, 3);

/* Adds a formatted warning (control characters replaced). */
void fsg_compile_warn(struct fsg_compile_ctx *c, const char *fmt, ...) FSG_PRINTF(2, 3);

/* Selector over actors (label, label_group; others ignored) or scope items. */
enum fsg_err fsg_selector_build(const struct fsg_policy_model *m,
                                const struct fsg_policy_actor *actors, size_t n,
                                struct fsg_selector *ret) FSG_MUST_USE;
void fsg_selector_clean_up(struct fsg_selector *s);

/* Most concrete scopes one rule-set scope may expand into (label groups x keys). */
#define FSG_COMPILE_MAX_SCOPES ((size_t)65536)

/* The concrete scopes of one rule-set scope (Security Policy Guide, "Use a Label Group in a
 * Scope": a label group in a scope expands into one scope per member label, and there is no
 * cross-communication between them). Every include key keeps exactly one label per concrete
 * scope (the cross product across keys); exclusions apply to each. A key with no alternative
 * (an empty label group) gives no scope at all. keep (NULL = no pruning): only the concrete
 * scopes one of these entities can match are made (a member label none of them carries is
 * dropped first: such a scope could not hold the target, so nothing applies in it).
 * FSG_E_LIMIT beyond FSG_COMPILE_MAX_SCOPES.
 * On success the caller frees with fsg_scopes_free(*ret, *ret_n). */
enum fsg_err fsg_scope_expand(const struct fsg_policy_model *m, const struct fsg_policy_scope *sc,
                              const struct fsg_entity *keep, size_t n_keep,
                              struct fsg_selector **ret, size_t *ret_n) FSG_MUST_USE;
void fsg_scopes_free(struct fsg_selector *scopes, size_t n);
/* Includes match (no include key = any) and no excluded label. */
bool fsg_selector_match(const struct fsg_selector *s, const struct fsg_entity *e);

enum fsg_err fsg_side_build(const struct fsg_policy_model *m,
                            const struct fsg_policy_actor *actors, size_t n, unsigned resolve,
                            struct fsg_side *ret) FSG_MUST_USE;
void fsg_side_clean_up(struct fsg_side *s);
/* Selected by the side's label/ams part (honouring resolve_labels_as) or its literal actors. */
bool fsg_side_selects(const struct fsg_side *s, const struct fsg_entity *e);
bool fsg_side_selects_by_labels(const struct fsg_side *s, const struct fsg_entity *e);

struct fsg_entity fsg_entity_workload(const struct fsg_policy_model *m, size_t i);
struct fsg_entity fsg_entity_virtual_service(const struct fsg_policy_model *m, size_t i);

/* A security-group permission key. */
struct fsg_port {
    int proto;
    int from;
    int to;
};

struct fsg_ports {
    struct fsg_port *items;
    size_t len;
    size_t cap;
};

/* Per permission, the sources it allows (tags = rule ranks). */
struct fsg_bucket {
    struct fsg_port port;
    struct fsg_cidrset set;
};

struct fsg_buckets {
    struct fsg_bucket *items;
    size_t len;
    size_t cap;
};

/* The bucket of permission p (created empty); NULL after a failure (c->rc set). May move
 * b->items. */
struct fsg_cidrset *fsg_compile_bucket(struct fsg_compile_ctx *c, struct fsg_buckets *b,
                                       struct fsg_port p);

/* Every concrete scope of rule set rs (each scope expanded, see fsg_scope_expand), in order;
 * free with fsg_scopes_free. */
void fsg_compile_rule_set_scopes(struct fsg_compile_ctx *c, const struct fsg_policy_rule_set *rs,
                                 struct fsg_selector **ret, size_t *ret_n);

/* fsg_policy_compile, in explain mode when probe is not NULL (steps appended to it). */
enum fsg_err fsg_compile_run(const struct fsg_policy_model *m, const struct fsg_policy_target *t,
                             struct fsg_compile_probe *probe, struct fsg_compiled_target **ret,
                             struct fsg_error *err) FSG_MUST_USE;

/* Explain mode (policy/compile_explain.c): records what rule r (in the current rule set) does
 * with the probe, given its ports and its (normalised) sources in one concrete scope. */
void fsg_compile_trace_rule(struct fsg_compile_ctx *c, const struct fsg_policy_rule *r,
                            const struct fsg_side *consumers, const struct fsg_selector *scope,
                            const struct fsg_ports *ports, const struct fsg_cidrset *sources);
/* Records an override deny whose sources ds hold the probe on one of ports. */
void fsg_compile_trace_deny(struct fsg_compile_ctx *c, const struct fsg_policy_deny_rule *d,
                            const struct fsg_policy_rule_set *rs, const struct fsg_ports *ports,
                            const struct fsg_cidrset *ds);
/* Whether permission p holds the probe's proto/port (any when the probe names none). */
bool fsg_compile_port_holds(const struct fsg_port *p, const struct fsg_policy_probe *probe);

/* Deny rules and enforcement boundaries (policy/compile_deny.c): override-deny sources are
 * subtracted from the buckets, the others are reported. */
void fsg_compile_denies(struct fsg_compile_ctx *c, struct fsg_buckets *b);

/* The permissions a deny rule names: every service when it names none; what a security group
 * cannot say exactly is denied wider (never allowing more), with a warning. */
void fsg_compile_deny_ports(struct fsg_compile_ctx *c, const struct fsg_policy_deny_rule *d,
                            struct fsg_ports *ports);

/* The permissions of rule r given the target entities its providers selected (in one scope):
 * its ingress_services, or the ports of the provider virtual services when it names none. */
void fsg_compile_rule_ports(struct fsg_compile_ctx *c, const struct fsg_policy_rule *r,
                            const struct fsg_entity *providers, size_t n, struct fsg_ports *ports);

/* Consumer addresses into set (tag 0). rule_href names the rule in warnings.
 * scope NULL = extra-scope (no constraint). */
void fsg_compile_sources(struct fsg_compile_ctx *c, const struct fsg_policy_rule *r,
                         const struct fsg_side *consumers, const struct fsg_selector *scope,
                         struct fsg_cidrset *set);

#endif
