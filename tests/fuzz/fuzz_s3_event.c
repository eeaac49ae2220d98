/* Target: fsg_s3_event_parse, fsg_s3_key_form_decode */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/aws/s3_event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Invariants every accepted event keeps, whatever the input. */
static void s_check_event(const struct fsg_s3_event *ev)
{
    if (fsg_s3_event_kind_name(ev->kind) == NULL || ev->origin == NULL) {
        abort();
    }
    for (size_t i = 0; i < ev->n_items; i++) {
        size_t blen = strlen(ev->items[i].bucket);
        size_t klen = strlen(ev->items[i].key);
        if (blen < 3 || blen > 255 || klen > 1024 || strchr(ev->items[i].bucket, '/') != NULL) {
            abort();
        }
        if (klen == 0 && ev->kind != FSG_S3_EVENT_SCAN) {
            abort();
        }
    }
    if (ev->kind != FSG_S3_EVENT_OBJECTS && ev->kind != FSG_S3_EVENT_SCAN && ev->n_items != 0) {
        abort();
    }
    for (size_t i = 0; i < ev->n_calls; i++) {
        const struct fsg_s3_event_call *c = &ev->calls[i];
        if (c->event_name == NULL || (c->n_vpc_sg_ids > 0 && !c->has_vpc_sg_ids) ||
            (c->message != FSG_S3_EVENT_NO_MESSAGE && c->message >= ev->n_messages)) {
            abort();
        }
    }
    for (size_t i = 0; i < ev->n_items; i++) {
        if (ev->items[i].message != FSG_S3_EVENT_NO_MESSAGE && ev->items[i].message >= ev->n_messages) {
            abort();
        }
    }
    for (size_t i = 0; i < ev->n_messages; i++) {
        if (ev->messages[i].id == NULL || ev->messages[i].id[0] == '\0') {
            abort(); /* every message can be named in batchItemFailures */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fsg_span in = { data, size };
    struct fsg_s3_event *ev = NULL;
    struct fsg_error err = { 0 };
    if (fsg_s3_event_parse(in, &ev, &err) == FSG_OK) {
        s_check_event(ev);
        fsg_s3_event_destroy(ev);
    } else if (err.msg[0] == '\0' || ev != NULL) {
        abort(); /* every failure says why and hands nothing out */
    }

    /* The same bytes as an encoded key: decoding never grows it and never yields NUL. */
    struct fsg_buf out = FSG_BUF_INIT;
    if (fsg_s3_key_form_decode(in, &out, &err) == FSG_OK) {
        if (out.len > size || (out.len > 0 && memchr(out.ptr, 0, out.len) != NULL)) {
            abort();
        }
    } else if (out.len != 0) {
        abort();
    }
    fsg_buf_clean_up(&out);
    return 0;
}
