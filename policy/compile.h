/* The policy compiler: PCE policy model + one target -> the security-group ingress rules the
 * policy asks for. Pure and deterministic: no I/O, no clock, the same model and target always
 * give the same sorted output, whatever the order of the PCE's arrays.
 *
 * Semantics (ref/pce-api.md §8; the choices where the reference leaves room are marked *):
 * - Only enabled rule sets and enabled rules count; the model holds the active policy.
 * - The target is what the config names: a virtual service (and the workloads bound to it), a
 *   workload (and the virtual services bound to it), or a set of labels (an entity carrying
 *   exactly those labels, which label actors and ams resolved as workloads, and scopes, can select
 *   but href actors cannot; a rule "using virtual services only" does not select it).
 * - A rule applies to the target in a scope when the target matches the scope and the rule's
 *   providers select it. Scopes: AND across label keys, a key the scope does not name = any
 *   value, "exclusion" items must not match (see Exclusions). Several scopes are evaluated one
 *   by one and the results are unioned. * A rule set with no scope at all ("scopes": [])
 *   applies nowhere and is reported.
 * - Label groups in a scope (Security Policy Guide, "Use a Label Group in a Scope",
 *   https://product-docs-repo.illumio.com/Tech-Docs/Core/25.1/Security-Policy/out/en/
 *   security-policy-guide-25-1-0/security-policy-objects/labels-and-label-groups/
 *   use-a-label-group-in-a-scope.html): a group is "expanded into multiple scopes.
 *   Cross-communication is not allowed". A scope therefore becomes one concrete scope per member
 *   label (nested groups flattened), crossed with the other keys' members; an intra-scope rule
 *   holds consumers to the same concrete scope as the target. * Two plain labels of one key in a
 *   scope (the UI does not allow it) are split the same way: never wider. A label group in a
 *   rule's actors is "expanded into multiple rules. Cross-communication is allowed" ("Use a
 *   Label Group in a Rule"): any member matches.
 * - Exclusions (Security Policy Guide, "Policy Exclusions", https://product-docs-repo.illumio.com/
 *   Tech-Docs/Core/23.5/Security-Policy/out/en/security-policy-guide-23-5/policy-enforcement/
 *   policy-exclusions.html: "applies to all workloads that don't have that excluded label but
 *   do have another label of the same label type"): an excluded
 *   label or label group, in a scope or among actors, selects the entities that carry ANOTHER
 *   label of that type; an entity without any label of that type is never selected (so
 *   "env != Prod" does not select unlabelled workloads, nor does "ams - env Prod").
 * - Actors: label and label-group actors form one selector (same key = any of, different keys =
 *   all of; "exclusion" labels remove what they match, as above);
 *   resolve_labels_as picks workloads, virtual services or both for labels and ams. * ams = every
 *   workload, managed or not (the RDS itself is unmanaged), and every virtual service when
 *   resolved as such. workload, virtual_service and ip_list actors are literal. * Workload and
 *   virtual-service actors are held to the scope like label actors.
 * - Intra-scope rules (unscoped_consumers false) hold consumers to the same scope; extra-scope
 *   rules don't. IP lists are never held to a scope.
 * - Ports toward a virtual-service provider come from the virtual service, never from the rule
 *   (Security Policy Guide, rule writing combinations: "Not applicable: the service is derived
 *   from the virtual service"; ref/pce-api.md §8.6): its service_ports, or its service's ports,
 *   so a rule's "All Services" or "TCP, no port" opens only those. A service binding's
 *   port_overrides (Security Policy Guide, "Virtual Services": port overrides live on the
 *   workload binding) remap a port (same proto, same first/last port) to new_port[-new_to_port]
 *   for the bound workload of the target. Refused: an override that cuts a range, and bound
 *   workloads of one target that would serve the VS on different ports (one SG cannot).
 * - Ports toward a workload (or label-only) provider: the rule's ingress_services (service
 *   hrefs or inline ports). proto -1 = all traffic; TCP/UDP without a port = 0-65535; ICMP
 *   type/code (-1 = all).
 * - Sources: a workload's every interface address (IPv4 /32, IPv6 /128, loopback skipped; an
 *   unmanaged workload with none uses public_ip); with the rule's use_workload_subnets naming
 *   "consumers" (REST API rule field; ref/pce-api.md §8.6c), each consumer workload interface
 *   stands for its subnet, address/cidr_block (an interface without cidr_block keeps its
 *   address, with a warning: narrower, never wider; a cidr_block shorter than /8, or /32 for
 *   IPv6, refuses the target; a virtual service's bound workloads are not consumer workloads
 *   and keep their addresses); "providers" changes the provider side only, not
 *   sources; * a virtual service's ip_overrides when it has some, else its bound workloads'
 *   addresses; ip lists' ranges minus their exclusions.
 * - Output: per (proto, ports), the exact minimal CIDR cover of all sources (adjacent and
 *   contained blocks merge, nothing is widened), IPv4 and IPv6 apart, sorted as
 *   fsg_sg_rules_sort. Description "flowseg <rule href>": the smallest href (byte order) of the
 *   rules behind the block, with " (+N)" when N more rules contributed, limited to EC2's 255
 *   characters and character set.
 * - Deny rules (policy/compile_deny.c; REST API rule sets' deny_rules, "override": true =
 *   override deny; precedence override deny > allow > deny > default action, ref/pce-api.md §6
 *   "Deny rule"): an override-deny rule that applies to the target (its providers select it in
 *   a concrete scope; label actors select workloads) has its sources subtracted exactly from
 *   the permissions it names (none = every service), TCP/UDP ranges split around the denied
 *   ports; a permission it only partly covers in a way an SG cannot express (All Services
 *   minus one port, ICMP all minus one type) is removed whole for those sources (narrower,
 *   warned); FQDNs or unsupported consumers in it refuse the target, and so do an ip list as
 *   its provider (whether it holds the target's address is not known here) and
 *   use_workload_subnets "consumers" on it (whole subnets denied: only host addresses could be
 *   subtracted); a service without ports in it denies every protocol (warned). An ordinary deny rule
 *   never removes what an allow rule allows and only decides traffic no allow rule allows,
 *   which the group denies anyway: nothing to change, said in a warning.
 * - Enforcement boundaries (Security Policy Guide, "Enforcement Boundaries" and "Manage
 *   Enforcement Boundaries"): denies that rules override, only on managed workloads in
 *   selective enforcement: nothing to change, said in a warning when they name the target.
 * - A rule whose network_type is neither "brn" (the default) nor "all" ("non_brn": other
 *   networks only) refuses the target: a security group cannot tell networks apart.
 *   egress_services (consumer processes) are warned: the ports are allowed from any process.
 * - Whatever cannot become a security-group rule is a warning, never dropped silently: FQDNs,
 *   Windows/process services, virtual servers and other unknown actors, user-based
 *   (security principal) consumers, SecureConnect/machine auth, port ranges on protocols an SG
 *   cannot restrict, consumers without an address. */
#ifndef FSG_POLICY_COMPILE_H
#define FSG_POLICY_COMPILE_H

#include <stddef.h>

#include "lib/core/error.h"
#include "policy/model.h"
#include "policy/sg_rule.h"

/* What a config target names on the PCE side: exactly one of virtual_service, workload, labels.
 * All pointers are borrowed for the duration of the call. */
struct fsg_policy_target {
    const char *name;            /* the config target's name, for messages */
    const char *virtual_service; /* name or href */
    const char *workload;        /* name, hostname or href */
    const struct fsg_policy_label *labels; /* key + value (href optional) */
    size_t n_labels;
};

struct fsg_compiled_target {
    char *name;                  /* copy of target->name (may be NULL) */
    struct fsg_sg_rules rules;   /* desired ingress rules, sorted, descriptions set */
    char **warnings;             /* sorted, unique; "rule <href>: ..." */
    size_t n_warnings;
    char **matched_rules;        /* hrefs of the rules that apply to the target, sorted */
    size_t n_matched_rules;
};

/* Compiles the desired rules of one target. model and target are borrowed.
 * On success the caller owns *ret (fsg_compiled_target_destroy); on failure *ret is untouched:
 * FSG_E_INVALID_ARG (target names none or several PCE objects, a name is ambiguous, the model is
 * partial), FSG_E_NOT_FOUND (the virtual service, workload or a label is not in the policy),
 * FSG_E_REFUSED (something the compiler cannot evaluate could widen access: the message names
 * the rule), FSG_E_LIMIT (a scope expands into too many concrete scopes),
 * FSG_E_NOMEM. An empty rule list is a success (the guards decide what it means). */
enum fsg_err fsg_policy_compile(const struct fsg_policy_model *m,
                                const struct fsg_policy_target *t,
                                struct fsg_compiled_target **ret,
                                struct fsg_error *err) FSG_MUST_USE;

void fsg_compiled_target_destroy(struct fsg_compiled_target *c); /* NULL ok */

/* ---- explain: why one source is or is not allowed toward a target ---------------------- */

/* What is asked: a source address and, optionally, a protocol and port. */
struct fsg_policy_probe {
    struct fsg_ip src;
    int proto; /* IANA number; -1 = any protocol (no port given) */
    int port;  /* TCP/UDP port, ICMP type; -1 = any */
};

enum fsg_explain_verdict {
    FSG_EXPLAIN_ALLOWS,       /* an allow rule allows the source (on the port, when given) */
    FSG_EXPLAIN_OTHER_PORT,   /* the rule allows the source, but not on that port/proto */
    FSG_EXPLAIN_DENIES,       /* an override-deny rule removes the source */
    FSG_EXPLAIN_NOT_A_SOURCE, /* the rule applies to the target, the source is not a consumer */
};

struct fsg_explain_step {
    enum fsg_explain_verdict verdict;
    char *rule;          /* rule (or deny rule) href */
    char *rule_set;      /* its rule set's href */
    char *rule_set_name; /* may be NULL */
    char *detail;        /* ports, or why it does not match (scope, exclusion, consumers) */
};

struct fsg_explanation {
    bool allowed;                  /* the compiled security-group rules allow the probe */
    struct fsg_compiled_target *compiled; /* the whole compile (rules, warnings) */
    struct fsg_sg_rules matching;  /* the compiled rules that allow the probe */
    struct fsg_explain_step *steps; /* allows, then denies, then the others; by rule href */
    size_t n_steps;
    char *summary;                 /* one sentence */
};

/* Compiles t like fsg_policy_compile and explains the probe: which rules allow it, which
 * override deny removes it, or why the rules that apply to the target do not match it.
 * Errors as fsg_policy_compile. The caller owns *ret (fsg_explanation_destroy). */
enum fsg_err fsg_policy_explain(const struct fsg_policy_model *m, const struct fsg_policy_target *t,
                                const struct fsg_policy_probe *probe,
                                struct fsg_explanation **ret, struct fsg_error *err) FSG_MUST_USE;

void fsg_explanation_destroy(struct fsg_explanation *e); /* NULL ok */

const char *fsg_explain_verdict_name(enum fsg_explain_verdict v); /* "allows", ... */

/* Maximum length of an EC2 security-group rule description. */
#define FSG_SG_DESCRIPTION_MAX 255

/* Writes "flowseg <href>" (+ " (+N)" when n_more > 0) into out, replacing characters EC2 does
 * not accept in descriptions with '_' and cutting at FSG_SG_DESCRIPTION_MAX. */
void fsg_policy_rule_description(const char *href, size_t n_more,
                                 char out[FSG_SG_DESCRIPTION_MAX + 1]);

#endif
