/* Renders a plan for people and programs (CONTRACT.md `plan --format`), and writes/reads the
 * saved plan that `apply --plan FILE` executes.
 *
 *  - json: exactly the CONTRACT.md `plan --format json` document: {"targets": [{name,
 *    security_group, desired, add, remove, unchanged, warnings, refused, impact{would_deny,
 *    allowed_unseen}}], "summary": {targets, add, remove}}; RULE = {proto, from_port, to_port,
 *    cidr | cidr_ipv6, description}; rules sorted by proto, ports, then address. `impact` is null
 *    when no flow source was given.
 *  - text, markdown: the same facts for people.
 *  - html: one self-contained file (inline CSS and SVG, no script, no external reference) with,
 *    per target, a picture of who reaches the database (clients on the left, green = allowed,
 *    red = would be denied, labelled with port and records; allowed rules without traffic on
 *    the right) and the tables.
 *
 * Saved plan: the json document plus what apply needs: {"flowseg_plan": 1, "created": N,
 * "targets": [{..., "state_hash": HEX, "refused_guards": [...], "kept": [RULE],
 * "current": {"ipv4": N, "ipv6": N, "foreign": N}, remove RULEs with "rule_id"}], ...}. */
#ifndef FSG_POLICY_REPORT_H
#define FSG_POLICY_REPORT_H

#include "lib/core/buf.h"
#include "lib/core/error.h"
#include "policy/plan.h"

enum fsg_report_format {
    FSG_REPORT_TEXT = 0,
    FSG_REPORT_JSON,
    FSG_REPORT_MARKDOWN,
    FSG_REPORT_HTML,
};

/* "text", "json", "markdown" (or "md"), "html". FSG_E_INVALID_ARG otherwise. */
enum fsg_err fsg_report_format_parse(const char *s, enum fsg_report_format *ret) FSG_MUST_USE;

/* Appends the rendered plan to out (caller's buffer). plan is borrowed. */
enum fsg_err fsg_report_render(const struct fsg_plan *plan, enum fsg_report_format format,
                               struct fsg_buf *out, struct fsg_error *err) FSG_MUST_USE;

/* Appends the saved-plan JSON to out. */
enum fsg_err fsg_plan_save(const struct fsg_plan *plan, struct fsg_buf *out,
                           struct fsg_error *err) FSG_MUST_USE;

/* Reads a saved plan back (json borrowed). Every target gets its sg plan (group id, state hash,
 * desired, add, remove with rule ids, kept, counts), warnings and refusal; impact is not read
 * back. FSG_E_PARSE, with the place, for anything that is not a saved plan (a plain
 * `--format json` report lacks state_hash and is refused). Caller owns *ret_plan. */
enum fsg_err fsg_plan_load(struct fsg_span json, struct fsg_plan **ret_plan,
                           struct fsg_error *err) FSG_MUST_USE;

#endif
