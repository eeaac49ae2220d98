/* Target: fsg_sg_state_parse (state files), fsg_plan_load (saved plans). The first byte picks
 * the parser; the rest is the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/report.h"
#include "policy/sg_diff.h"
#include "policy/sg_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An accepted state is sorted, hashes, and diffs against an empty policy. */
static void s_state(struct fsg_span in)
{
    struct fsg_sg_state *st = NULL;
    if (fsg_sg_state_parse(in, &st, NULL) != FSG_OK) {
        return;
    }
    static const struct fsg_sg_rules none = { 0 };
    for (size_t g = 0; g < st->n_groups; g++) {
        const struct fsg_sg_current *cur = &st->groups[g];
        for (size_t i = 1; i < cur->rules.len; i++) {
            if (fsg_sg_rule_cmp(&cur->rules.items[i - 1], &cur->rules.items[i]) > 0) {
                abort();
            }
        }
        struct fsg_sg_plan *p = NULL;
        if (fsg_sg_diff(&none, cur, NULL, &p, NULL) != FSG_OK ||
            p->remove.len + p->kept.len != cur->rules.len || p->add.len != 0) {
            abort();
        }
        fsg_sg_plan_destroy(p);
    }
    fsg_sg_state_destroy(st);
}

/* An accepted saved plan writes back to a plan that reads and writes identically. */
static void s_plan(struct fsg_span in)
{
    struct fsg_plan *p1 = NULL, *p2 = NULL;
    struct fsg_buf s1 = FSG_BUF_INIT, s2 = FSG_BUF_INIT;
    if (fsg_plan_load(in, &p1, NULL) != FSG_OK) {
        return;
    }
    if (fsg_plan_save(p1, &s1, NULL) != FSG_OK ||
        fsg_plan_load(fsg_span_from_buf(&s1), &p2, NULL) != FSG_OK ||
        fsg_plan_save(p2, &s2, NULL) != FSG_OK ||
        !fsg_span_eq(fsg_span_from_buf(&s1), fsg_span_from_buf(&s2))) {
        abort();
    }
    fsg_buf_clean_up(&s1);
    fsg_buf_clean_up(&s2);
    fsg_plan_destroy(p1);
    fsg_plan_destroy(p2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    struct fsg_span in = { data + 1, size - 1 };
    if (data[0] & 1) {
        s_plan(in);
    } else {
        s_state(in);
    }
    return 0;
}
