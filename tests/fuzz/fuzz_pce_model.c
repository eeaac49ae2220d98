/* Target: fsg_policy_model_load (JSON bytes -> policy model), then fsg_policy_compile for targets
 * taken from the model (its first virtual service, first workload, labels of that workload).
 * Checks the invariants every compile keeps: sorted rules, exact family per proto, EC2-sized
 * descriptions, sorted unique warnings, no leaks. The first byte picks tight or default limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/mem.h"
#include "policy/compile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_check(const struct fsg_compiled_target *c)
{
    for (size_t i = 0; i < c->rules.len; i++) {
        const struct fsg_sg_rule *r = &c->rules.items[i];
        if (i > 0 && fsg_sg_rule_cmp(&c->rules.items[i - 1], r) >= 0) {
            abort(); /* sorted, no duplicate permission */
        }
        if ((r->proto == FSG_PROTO_ICMP && r->cidr.addr.is_v6) ||
            (r->proto == FSG_PROTO_ICMPV6 && !r->cidr.addr.is_v6)) {
            abort();
        }
        if (r->description == NULL || strlen(r->description) > FSG_SG_DESCRIPTION_MAX ||
            strncmp(r->description, "flowseg ", 8) != 0) {
            abort();
        }
        if (r->cidr.prefix > fsg_ip_max_prefix(&r->cidr.addr)) {
            abort();
        }
    }
    for (size_t i = 1; i < c->n_warnings; i++) {
        if (strcmp(c->warnings[i - 1], c->warnings[i]) >= 0) {
            abort();
        }
    }
}

static void s_compile(const struct fsg_policy_model *m, const struct fsg_policy_target *t)
{
    struct fsg_compiled_target *c = NULL;
    struct fsg_error err;
    if (fsg_policy_compile(m, t, &c, &err) == FSG_OK) {
        s_check(c);
        fsg_compiled_target_destroy(c);
    } else if (c != NULL) {
        abort(); /* no output on failure */
    }
}

/* explain agrees with compile: allowed exactly when a compiled rule holds the probe, and the
 * summary is set; no output on failure. */
static void s_explain(const struct fsg_policy_model *m, const struct fsg_policy_target *t,
                      const struct fsg_ip *src)
{
    struct fsg_policy_probe p = { .src = *src, .proto = FSG_PROTO_TCP, .port = 5432 };
    struct fsg_explanation *e = NULL;
    struct fsg_error err;
    if (fsg_policy_explain(m, t, &p, &e, &err) != FSG_OK) {
        if (e != NULL) {
            abort();
        }
        return;
    }
    if (e->summary == NULL || e->allowed != (e->matching.len > 0) || e->compiled == NULL) {
        abort();
    }
    for (size_t i = 0; i < e->n_steps; i++) {
        if (e->steps[i].rule == NULL || e->steps[i].detail == NULL) {
            abort();
        }
    }
    fsg_explanation_destroy(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    struct fsg_policy_load_options tight = {
        .json = { .max_bytes = 1 << 16, .max_depth = 16 }, .max_objects = 64, .max_items = 64
    };
    const struct fsg_policy_load_options *opts = (data[0] & 1) != 0 ? &tight : NULL;
    long live = fsg_mem_live();
    struct fsg_policy_model *m = NULL;
    struct fsg_error err;
    enum fsg_err rc =
        fsg_policy_model_load((struct fsg_span){ data + 1, size - 1 }, opts, &m, &err);
    if (rc != FSG_OK) {
        if (m != NULL) {
            abort(); /* no model on failure */
        }
    } else {
        if (m->n_virtual_services > 0) {
            s_compile(m, &(struct fsg_policy_target){ .name = "vs",
                                                      .virtual_service =
                                                          m->virtual_services[0].href });
        }
        if (m->n_workloads > 0) {
            const struct fsg_policy_workload *w = &m->workloads[0];
            s_compile(m, &(struct fsg_policy_target){ .workload = w->href });
            /* explain: the last workload's first address toward the first workload. */
            const struct fsg_policy_workload *src = &m->workloads[m->n_workloads - 1];
            if (src->n_interfaces > 0 && src->interfaces[0].has_address) {
                s_explain(m, &(struct fsg_policy_target){ .workload = w->href },
                          &src->interfaces[0].address);
            }
            if (w->n_labels > 0 && w->n_labels <= 16) {
                struct fsg_policy_label labels[16];
                for (size_t i = 0; i < w->n_labels; i++) {
                    labels[i] = m->labels[w->labels[i]];
                }
                s_compile(m, &(struct fsg_policy_target){ .labels = labels,
                                                          .n_labels = w->n_labels });
            }
        }
        fsg_policy_model_destroy(m);
    }
    if (fsg_mem_live() != live) {
        abort(); /* leak */
    }
    return 0;
}
