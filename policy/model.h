/* The PCE policy in memory: plain data converted at the edge from the PCE's JSON (the exported
 * policy bundle of CONTRACT.md, or the same object built by the PCE client), so the compiler
 * never sees JSON.
 *
 * Every object keeps its PCE href. References between objects are resolved at load time into
 * indexes into the model's arrays; a reference that does not resolve is an error (a complete
 * policy or none). Strings are NUL-terminated, valid UTF-8, and owned by the model: they live
 * until fsg_policy_model_destroy(). */
#ifndef FSG_POLICY_MODEL_H
#define FSG_POLICY_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/buf.h"
#include "lib/core/error.h"
#include "lib/core/ip.h"
#include "lib/core/json.h"

/* An index that refers to nothing (an inline port, a dropped reference in a partial model). */
#define FSG_POLICY_NONE SIZE_MAX

/* Limits on hostile input, each with its reason. */
/* The largest PCEs hold a few hundred thousand workloads. */
#define FSG_POLICY_MAX_OBJECTS_DEFAULT ((size_t)1000000)
/* Interfaces, labels, ip ranges, ports, actors... of one object: real ones hold tens. */
#define FSG_POLICY_MAX_ITEMS_DEFAULT ((size_t)100000)
/* Label groups expanded to their member labels (nested groups are flattened once). */
#define FSG_POLICY_MAX_GROUP_MEMBERS ((size_t)4000000)

/* A label: key ("role", "app", "env", "loc" or a custom type) and value. Also used by
 * compile targets, where href may be NULL (then key and value identify the label). */
struct fsg_policy_label {
    const char *href;
    const char *key;
    const char *value;
};

struct fsg_policy_label_group {
    const char *href;
    const char *name; /* may be NULL */
    const char *key;  /* may be NULL */
    const size_t *labels;      /* direct members: indexes into model->labels */
    size_t n_labels;
    const size_t *sub_groups;  /* indexes into model->label_groups */
    size_t n_sub_groups;
    const size_t *members;     /* every label reachable through sub_groups too: sorted, unique */
    size_t n_members;
};

struct fsg_policy_interface {
    const char *name;      /* may be NULL */
    bool has_address;      /* false when "address" is null or absent */
    struct fsg_ip address;
    int cidr_block;        /* prefix length of the interface's subnet; -1 = not given */
    bool is_loopback;
};

struct fsg_policy_workload {
    const char *href;
    const char *name;      /* may be NULL */
    const char *hostname;  /* may be NULL */
    bool is_managed;       /* paired with a VEN (ven.href set; before PCE 20.2: agent.href) */
    bool is_deleted;
    const size_t *labels;  /* indexes into model->labels */
    size_t n_labels;
    const struct fsg_policy_interface *interfaces; /* in PCE order: IPv6 may come first */
    size_t n_interfaces;
    bool has_public_ip;
    struct fsg_ip public_ip;
};

/* Service port as the PCE writes it; -1 = not given. */
struct fsg_policy_port {
    int proto;     /* IANA number; -1 = all protocols */
    int port;      /* first port; -1 = every port of proto */
    int to_port;   /* last port of a range; -1 = just `port` */
    int icmp_type; /* ICMP/ICMPv6 only; -1 = every type */
    int icmp_code; /* -1 = every code */
};

struct fsg_policy_service {
    const char *href;
    const char *name;               /* may be NULL */
    const struct fsg_policy_port *ports;
    size_t n_ports;
    size_t n_windows_services;      /* process/service-name entries: not expressible in an SG */
    const char *process_name;       /* may be NULL; set = the service is process-based */
};

struct fsg_policy_ip_range {
    struct fsg_ip first; /* inclusive range, one family; a CIDR from_ip becomes its bounds */
    struct fsg_ip last;
    bool is_exclusion;   /* subtracted from the list's other ranges */
};

struct fsg_policy_ip_list {
    const char *href;
    const char *name; /* may be NULL */
    const struct fsg_policy_ip_range *ranges;
    size_t n_ranges;
    const char *const *fqdns; /* names only: not expressible in an SG */
    size_t n_fqdns;
};

struct fsg_policy_service_address {
    const char *fqdn;  /* may be NULL */
    bool has_ip;
    struct fsg_ip ip;
    int port;          /* -1 = not given */
};

/* A service binding's port override: the bound workload serves the virtual service's
 * [port, to_port] of proto on [new_port, new_to_port] instead. -1 = not given. */
struct fsg_policy_port_override {
    int proto;
    int port;
    int to_port;
    int new_port;
    int new_to_port;
};

/* A workload bound to a virtual service (bound_workloads[] or a service binding). */
struct fsg_policy_binding {
    size_t workload; /* index into model->workloads */
    const struct fsg_policy_port_override *port_overrides;
    size_t n_port_overrides;
};

struct fsg_policy_virtual_service {
    const char *href;
    const char *name; /* may be NULL */
    const struct fsg_policy_port *ports; /* service_ports */
    size_t n_ports;
    size_t service;   /* `service: {href}` instead of service_ports, else FSG_POLICY_NONE */
    const size_t *labels;
    size_t n_labels;
    const struct fsg_policy_service_address *addresses;
    size_t n_addresses;
    const struct fsg_cidr *ip_overrides;
    size_t n_ip_overrides;
    const struct fsg_policy_binding *bindings;
    size_t n_bindings;
};

enum fsg_policy_actor_kind {
    FSG_POLICY_ACTOR_LABEL,           /* ref: index into labels */
    FSG_POLICY_ACTOR_LABEL_GROUP,     /* ref: index into label_groups */
    FSG_POLICY_ACTOR_WORKLOAD,        /* ref: index into workloads */
    FSG_POLICY_ACTOR_VIRTUAL_SERVICE, /* ref: index into virtual_services */
    FSG_POLICY_ACTOR_IP_LIST,         /* ref: index into ip_lists */
    FSG_POLICY_ACTOR_AMS,             /* "actors": "ams", All Workloads */
    FSG_POLICY_ACTOR_UNSUPPORTED,     /* virtual_server, other actor kinds: kept for a warning */
};

struct fsg_policy_actor {
    enum fsg_policy_actor_kind kind;
    size_t ref;        /* see kind; FSG_POLICY_NONE for AMS and UNSUPPORTED */
    bool is_exclusion; /* "exclusion": true on a label/label-group actor or scope item */
    const char *what;  /* UNSUPPORTED: the actor's key or value ("virtual_server"), else NULL */
    const char *href;  /* UNSUPPORTED: its href if any, else NULL */
};

/* resolve_labels_as bits: what label actors select. */
#define FSG_POLICY_RESOLVE_WORKLOADS 1u
#define FSG_POLICY_RESOLVE_VIRTUAL_SERVICES 2u

/* One element of ingress_services: a service, or an inline port. */
struct fsg_policy_service_ref {
    size_t service;              /* index into services, or FSG_POLICY_NONE for inline */
    struct fsg_policy_port port; /* inline port when service == FSG_POLICY_NONE */
};

struct fsg_policy_rule {
    const char *href;
    bool is_enabled;
    const struct fsg_policy_actor *providers;
    size_t n_providers;
    const struct fsg_policy_actor *consumers;
    size_t n_consumers;
    const struct fsg_policy_service_ref *ingress_services;
    size_t n_ingress_services;
    unsigned resolve_providers;  /* FSG_POLICY_RESOLVE_*; default workloads */
    unsigned resolve_consumers;
    bool unscoped_consumers;     /* true = extra-scope: consumers are not held to the scope */
    bool sec_connect;            /* SecureConnect (IPsec) */
    bool machine_auth;
    bool stateless;
    size_t n_security_principals; /* consuming_security_principals: user-based, not SG-able */
    unsigned use_workload_subnets; /* FSG_POLICY_SUBNETS_* */
    size_t n_egress_services;    /* consumer-side process qualifiers: not expressible in an SG */
    const char *network_type;    /* "brn", "non_brn", "all" or NULL (not given) */
};

/* use_workload_subnets bits: whose workloads stand for their interfaces' subnets. */
#define FSG_POLICY_SUBNETS_CONSUMERS 1u
#define FSG_POLICY_SUBNETS_PROVIDERS 2u

/* A deny rule (rule_sets[].deny_rules[], newer PCEs; "override": true = override deny) or an
 * enforcement boundary (same shape, never an override). No resolve_labels_as: label actors
 * select workloads. */
struct fsg_policy_deny_rule {
    const char *href;
    const char *name; /* boundaries only; may be NULL */
    bool is_enabled;
    bool is_override;
    const struct fsg_policy_actor *providers;
    size_t n_providers;
    const struct fsg_policy_actor *consumers;
    size_t n_consumers;
    const struct fsg_policy_service_ref *ingress_services; /* none = every service */
    size_t n_ingress_services;
    bool unscoped_consumers;
    bool all_ips_except_consumers; /* all_ips_except_for_in_consumers */
    bool all_ips_except_providers; /* all_ips_except_for_in_providers */
    unsigned use_workload_subnets;   /* FSG_POLICY_SUBNETS_* (read so that it is never lost;
                                      * undocumented for denies: refused, compile_deny.c) */
};

/* One scope: label and label-group items (AND across keys, OR within a key). */
struct fsg_policy_scope {
    const struct fsg_policy_actor *items;
    size_t n_items;
};

struct fsg_policy_rule_set {
    const char *href;
    const char *name; /* may be NULL */
    bool is_enabled;
    const struct fsg_policy_scope *scopes; /* [[]] = one empty scope = everything */
    size_t n_scopes;
    const struct fsg_policy_rule *rules;
    size_t n_rules;
    const struct fsg_policy_deny_rule *deny_rules; /* deny_rules (+ override_deny_rules) */
    size_t n_deny_rules;
};

struct fsg_policy_model {
    const struct fsg_policy_label *labels;
    size_t n_labels;
    const struct fsg_policy_label_group *label_groups;
    size_t n_label_groups;
    const struct fsg_policy_workload *workloads;
    size_t n_workloads;
    const struct fsg_policy_rule_set *rule_sets;
    size_t n_rule_sets;
    const struct fsg_policy_ip_list *ip_lists;
    size_t n_ip_lists;
    const struct fsg_policy_service *services;
    size_t n_services;
    const struct fsg_policy_virtual_service *virtual_services;
    size_t n_virtual_services;
    const struct fsg_policy_deny_rule *enforcement_boundaries;
    size_t n_enforcement_boundaries;
    /* Loaded with .partial: references that did not resolve were dropped. Not compilable. */
    bool is_partial;
    struct fsg_policy_model_impl *impl; /* private: storage and href indexes */
};

struct fsg_policy_load_options {
    struct fsg_json_limits json; /* for _load and _load_file: bytes and nesting depth */
    size_t max_objects;          /* per collection; 0 = FSG_POLICY_MAX_OBJECTS_DEFAULT */
    size_t max_items;            /* per array inside one object; 0 = FSG_POLICY_MAX_ITEMS_DEFAULT */
    /* Inspection and tests only (fixtures from unrelated sources): references that do not
     * resolve are dropped instead of failing, draft objects and duplicate hrefs are kept. The
     * model is marked is_partial and fsg_policy_compile() refuses it. */
    bool partial;
};

/* Converts the bundle {"labels": [...], "label_groups": [...], "workloads": [...],
 * "rule_sets": [...], "ip_lists": [...], "services": [...], "virtual_services": [...]}
 * (each array as GET /api/v2/orgs/N/... returns it; optional "service_bindings": [...] and
 * "enforcement_boundaries": [...]).
 * A missing key is an empty collection; an unknown key is an error (a typo must not empty the
 * policy). Draft objects (sec_policy/draft) are refused: enforcement uses the active policy.
 * bundle is borrowed (a jansson json_t *). opts may be NULL.
 * On failure *ret_model is untouched and err names the collection, index, href and field:
 * FSG_E_PARSE (shape, type, dangling reference, duplicate href, cycle), FSG_E_LIMIT, FSG_E_NOMEM.
 * On success the caller owns *ret_model (fsg_policy_model_destroy). */
enum fsg_err fsg_policy_model_from_json(const json_t *bundle,
                                        const struct fsg_policy_load_options *opts,
                                        struct fsg_policy_model **ret_model,
                                        struct fsg_error *err) FSG_MUST_USE;

/* Parses bytes (fsg_json_load with opts->json) then fsg_policy_model_from_json. */
enum fsg_err fsg_policy_model_load(struct fsg_span json, const struct fsg_policy_load_options *opts,
                                   struct fsg_policy_model **ret_model,
                                   struct fsg_error *err) FSG_MUST_USE;

/* The exported policy file (`--policy FILE`); the path prefixes error messages. */
enum fsg_err fsg_policy_model_load_file(const char *path,
                                        const struct fsg_policy_load_options *opts,
                                        struct fsg_policy_model **ret_model,
                                        struct fsg_error *err) FSG_MUST_USE;

void fsg_policy_model_destroy(struct fsg_policy_model *m); /* NULL ok */

/* Index lookups by href; FSG_POLICY_NONE when absent. */
size_t fsg_policy_find_label(const struct fsg_policy_model *m, const char *href);
size_t fsg_policy_find_label_group(const struct fsg_policy_model *m, const char *href);
size_t fsg_policy_find_ip_list(const struct fsg_policy_model *m, const char *href);
size_t fsg_policy_find_service(const struct fsg_policy_model *m, const char *href);
/* The label with this key and value; FSG_POLICY_NONE when absent. */
size_t fsg_policy_find_label_kv(const struct fsg_policy_model *m, const char *key,
                                const char *value);

/* A workload by href, else by name, else by hostname; a virtual service by href, else by name.
 * A draft href is looked up as its active twin. FSG_E_NOT_FOUND when nothing matches,
 * FSG_E_INVALID_ARG when a name matches several objects (use the href). */
enum fsg_err fsg_policy_find_workload(const struct fsg_policy_model *m, const char *name_or_href,
                                      size_t *ret_index, struct fsg_error *err) FSG_MUST_USE;
enum fsg_err fsg_policy_find_virtual_service(const struct fsg_policy_model *m,
                                             const char *name_or_href, size_t *ret_index,
                                             struct fsg_error *err) FSG_MUST_USE;

#endif
