/* Audit lines (DESIGN.md invariant 7): one JSON log line per change flowseg makes or refuses,
 * {"event": ..., "target": ..., "security_group": ..., ...}, through lib/core/log.h. Never a secret:
 * the fields are names, ids, rules and reasons. */
#ifndef FSG_POLICY_AUDIT_H
#define FSG_POLICY_AUDIT_H

#include <jansson.h>

#include "lib/core/log.h"
#include "policy/sg_rule.h"

/* Events: "authorize", "revoke", "refused", "create_group", "associate". */

/* Logs {"event": event, "target": target, "security_group": group, ...extra} at level.
 * target and group may be NULL (then omitted); extra (may be NULL) is an object whose keys are
 * appended; it is consumed (decref'ed) in every case. */
void fsg_audit(enum fsg_log_level level, const char *event, const char *target, const char *group,
               json_t *extra);

/* A rule as the plan reports it: {"proto", "from_port", "to_port", "cidr" | "cidr_ipv6",
 * "description"}. New reference; NULL on allocation failure. */
json_t *fsg_audit_rule_json(const struct fsg_sg_rule *r);

#endif
