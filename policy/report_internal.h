/* Shared inside policy/ by the report renderers and the saved-plan reader. Not a public API. */
#ifndef FSG_POLICY_REPORT_INTERNAL_H
#define FSG_POLICY_REPORT_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "lib/core/buf.h"
#include "policy/plan.h"
#include "policy/sg_rule.h"
#include "policy/sg_state.h"

/* Ports of a rule for people: "5432", "5433-5434", "all", "type 8 code 0", "any type". */
const char *fsg_report_ports(const struct fsg_sg_rule *r, char out[40]);
/* A flow's IANA protocol for people: "tcp", "udp", "icmp", "icmpv6" or the number. */
const char *fsg_report_flow_proto(uint8_t proto, char out[8]);
/* "2023-11-14 22:13:20 UTC", or "-" for FSG_FLOW_TIME_NONE. */
const char *fsg_report_time(int64_t t_s, char out[32]);

/* The per-target guard banner for people (every guard, and the impact when flows were given). */
const char *fsg_report_banner(const struct fsg_plan_target *t, char *out, size_t size);
/* The same for the whole plan (static text). */
const char *fsg_report_plan_banner(const struct fsg_plan *plan);
/* "workload web-1 (role=Web, app=Orders)" when the policy knows the source, else nothing. */
enum fsg_err fsg_report_source(const struct fsg_impact_conn *c, struct fsg_buf *out);
/* "allowed after by the policy: sg-x tcp 5432 from 10.0.1.11/32 \"...\"", else nothing. */
enum fsg_err fsg_report_via(const struct fsg_impact_conn *c, struct fsg_buf *out);

enum fsg_err fsg_report_text(const struct fsg_plan *plan, struct fsg_buf *out);
enum fsg_err fsg_report_markdown(const struct fsg_plan *plan, struct fsg_buf *out);
enum fsg_err fsg_report_html(const struct fsg_plan *plan, struct fsg_buf *out);
/* The json report; `saved` adds what apply --plan needs. */
enum fsg_err fsg_report_json(const struct fsg_plan *plan, bool saved, struct fsg_buf *out,
                             struct fsg_error *err);

/* One sentence on an ownership mode. Static. */
const char *fsg_report_ownership(enum fsg_sg_ownership o);
/* Removal i (0 .. fsg_sg_plan_n_removals - 1: CIDR rules, then SG-reference / prefix-list
 * rules) for people, with its reason: "tcp 22 from 203.0.113.7/32 (no description) [sgr-1]:
 * not in the policy, added outside flowseg". Plain text, appended to out. */
enum fsg_err fsg_report_removal_line(const struct fsg_sg_plan *sg, size_t i, struct fsg_buf *out);

/* The EC2 calls of a target's plan for people ("ModifySecurityGroupRules 11, then
 * AuthorizeSecurityGroupIngress 5, then RevokeSecurityGroupIngress 44 (at most ...)");
 * nothing when there is no call. Appended to out. */
enum fsg_err fsg_report_calls_line(const struct fsg_plan_target *t, struct fsg_buf *out);

/* Parses one RULE object ({proto, from_port, to_port, cidr | cidr_ipv6, description,
 * rule_id?}) and appends it to list. Implemented in sg_state.c with the state-file checks. */
enum fsg_err fsg_sg_rule_json_append(struct fsg_sg_rules *list, json_t *rule, const char *where,
                                     struct fsg_error *err);

/* The same for a rule that may also name "source_group" or "prefix_list" instead of a CIDR:
 * appended to g->rules or g->foreign. */
enum fsg_err fsg_sg_current_json_append(struct fsg_sg_current *g, json_t *rule, const char *where,
                                        struct fsg_error *err);

#endif
