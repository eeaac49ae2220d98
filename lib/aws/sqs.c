#include "lib/aws/sqs.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/aws/aws_xml.h"
#include "lib/core/mem.h"

#define S_VERSION "2012-11-05"
#define S_ATTEMPTS 3

/* Where each entry stands. Only S_PENDING entries are (re)sent: an entry is sent again only
 * when the last answer listed it, by its Id, as failed through no fault of ours. */
enum s_state {
    S_PENDING = 0, /* to send (again) */
    S_SENT,        /* listed in SendMessageBatchResultEntry */
    S_REFUSED,     /* listed failed with SenderFault true: sending it again cannot help */
    S_UNKNOWN,     /* sent, but in neither list of the answer: it may have been delivered, so
                    * it is not sent again (that could duplicate it) */
};

struct s_batch {
    enum s_state state[FSG_SQS_BATCH_MAX];
    bool in_call[FSG_SQS_BATCH_MAX]; /* part of the last call */
    size_t n;
    char why_retry[200];   /* the last transient failure's code and message */
    char why_refused[200]; /* the last sender-fault failure's */
};

/* The entry an answer's Id names ("m<i>", as s_params writes them), or n if none. */
static size_t s_entry_of(const struct s_batch *b, const char *id)
{
    unsigned long i = 0;
    char extra = 0;
    if (sscanf(id, "m%lu%c", &i, &extra) != 1 || i >= b->n || !b->in_call[i]) {
        return b->n;
    }
    return (size_t)i;
}

static enum fsg_err s_params(struct s_batch *b, const char *queue_url,
                             const char *const *bodies, struct fsg_aws_params *p)
{
    enum fsg_err rc = fsg_aws_params_add(p, "QueueUrl", queue_url);
    unsigned k = 0;
    for (size_t i = 0; i < b->n; i++) {
        b->in_call[i] = b->state[i] == S_PENDING;
        if (rc != FSG_OK || !b->in_call[i]) {
            continue;
        }
        char id[24]; /* "m" and up to 20 digits */
        snprintf(id, sizeof id, "m%zu", i);
        k++;
        rc = fsg_aws_params_addf(p, id, "SendMessageBatchRequestEntry.%u.Id", k);
        if (rc == FSG_OK) {
            rc = fsg_aws_params_addf(p, bodies[i], "SendMessageBatchRequestEntry.%u.MessageBody",
                                     k);
        }
    }
    return rc;
}

/* Applies one answer: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/
 * API_SendMessageBatch.html lists each entry of the call either in Successful
 * (SendMessageBatchResultEntry) or in Failed (BatchResultErrorEntry, whose SenderFault
 * "specifies whether the error happened due to the caller of the batch API action",
 * API_BatchResultErrorEntry.html). A failed entry through no fault of ours stays pending; the
 * rest of the call's entries that were not listed become S_UNKNOWN. */
static void s_apply_answer(struct s_batch *b, const struct fsg_aws_xml_node *res)
{
    enum s_state seen[FSG_SQS_BATCH_MAX];
    for (size_t i = 0; i < b->n; i++) {
        seen[i] = S_UNKNOWN;
    }
    FSG_AWS_XML_FOREACH(ok, res, "SendMessageBatchResultEntry") {
        size_t i = s_entry_of(b, fsg_aws_xml_path_text(ok, "Id"));
        if (i < b->n) {
            seen[i] = S_SENT;
        }
    }
    FSG_AWS_XML_FOREACH(bad, res, "BatchResultErrorEntry") {
        size_t i = s_entry_of(b, fsg_aws_xml_path_text(bad, "Id"));
        bool sender = false;
        if (fsg_aws_xml_path_bool(bad, "SenderFault", &sender) != FSG_OK) {
            sender = false; /* required by the API; missing: retried, as before */
        }
        char *why = sender ? b->why_refused : b->why_retry;
        snprintf(why, sizeof b->why_retry, "%.60s: %.120s", fsg_aws_xml_path_text(bad, "Code"),
                 fsg_aws_xml_path_text(bad, "Message"));
        if (i < b->n && seen[i] != S_SENT) {
            seen[i] = sender ? S_REFUSED : S_PENDING;
        }
    }
    for (size_t i = 0; i < b->n; i++) {
        if (b->in_call[i]) {
            b->state[i] = seen[i];
        }
    }
}

static size_t s_count(const struct s_batch *b, enum s_state st)
{
    size_t c = 0;
    for (size_t i = 0; i < b->n; i++) {
        c += b->state[i] == st;
    }
    return c;
}

static enum fsg_err s_outcome(const struct s_batch *b, const char *queue_url,
                              struct fsg_error *err)
{
    size_t pending = s_count(b, S_PENDING), refused = s_count(b, S_REFUSED);
    size_t unknown = s_count(b, S_UNKNOWN);
    if (pending + refused + unknown == 0) {
        return FSG_OK;
    }
    return fsg_error_set(err, FSG_E_REMOTE, "SQS SendMessageBatch to %s: %zu of %zu message(s) "
                         "sent; %zu still failing after %d attempts%s%s%s; %zu refused%s%s%s; "
                         "%zu not accounted for in SQS's answer (not sent again: they may have "
                         "been delivered)", queue_url, s_count(b, S_SENT), b->n, pending,
                         S_ATTEMPTS, b->why_retry[0] != '\0' ? " (" : "", b->why_retry,
                         b->why_retry[0] != '\0' ? ")" : "", refused,
                         b->why_refused[0] != '\0' ? " (" : "", b->why_refused,
                         b->why_refused[0] != '\0' ? ")" : "", unknown);
}

enum fsg_err fsg_sqs_send_batch(struct fsg_aws_client *c, const char *queue_url,
                                const char *const *bodies, size_t n, struct fsg_error *err)
{
    if (n == 0) {
        return FSG_OK;
    }
    if (n > FSG_SQS_BATCH_MAX) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "SQS SendMessageBatch: %zu entries (at most "
                             "%d)", n, FSG_SQS_BATCH_MAX);
    }
    struct s_batch b = { .n = n };
    for (int attempt = 0; attempt < S_ATTEMPTS && s_count(&b, S_PENDING) > 0; attempt++) {
        struct fsg_aws_params p = { 0 };
        struct fsg_aws_xml_doc *doc = NULL;
        enum fsg_err rc = s_params(&b, queue_url, bodies, &p);
        if (rc != FSG_OK) {
            fsg_aws_params_clean_up(&p);
            return fsg_error_set(err, rc, "SQS SendMessageBatch: out of memory");
        }
        rc = fsg_aws_query(c, "SendMessageBatch", S_VERSION, &p, &doc, err);
        fsg_aws_params_clean_up(&p);
        if (rc != FSG_OK) {
            return rc; /* the call itself failed (retried by the pipeline already) */
        }
        s_apply_answer(&b, fsg_aws_xml_result(doc));
        fsg_aws_xml_doc_destroy(doc);
    }
    return s_outcome(&b, queue_url, err);
}
