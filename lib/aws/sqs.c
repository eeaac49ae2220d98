#include "lib/aws/sqs.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/aws/aws_xml.h"
#include "lib/core/mem.h"

#define S_VERSION "2012-11-05"
#define S_ATTEMPTS 3

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
    bool pending[FSG_SQS_BATCH_MAX];
    for (size_t i = 0; i < n; i++) {
        pending[i] = true;
    }
    enum fsg_err rc = FSG_OK;
    char why[256] = "";
    for (int attempt = 0; attempt < S_ATTEMPTS; attempt++) {
        struct fsg_aws_params p = { 0 };
        struct fsg_aws_xml_doc *doc = NULL;
        rc = fsg_aws_params_add(&p, "QueueUrl", queue_url);
        unsigned k = 0;
        for (size_t i = 0; rc == FSG_OK && i < n; i++) {
            if (!pending[i]) {
                continue;
            }
            char id[16];
            snprintf(id, sizeof id, "m%zu", i);
            k++;
            rc = fsg_aws_params_addf(&p, id, "SendMessageBatchRequestEntry.%u.Id", k);
            if (rc == FSG_OK) {
                rc = fsg_aws_params_addf(&p, bodies[i], "SendMessageBatchRequestEntry.%u.MessageBody",
                                         k);
            }
        }
        if (rc != FSG_OK) {
            fsg_aws_params_clean_up(&p);
            return fsg_error_set(err, rc, "SQS SendMessageBatch: out of memory");
        }
        rc = fsg_aws_query(c, "SendMessageBatch", S_VERSION, &p, &doc, err);
        fsg_aws_params_clean_up(&p);
        if (rc != FSG_OK) {
            return rc; /* the call itself failed (retried by the pipeline already) */
        }
        const struct fsg_aws_xml_node *res = fsg_aws_xml_result(doc);
        FSG_AWS_XML_FOREACH(ok, res, "SendMessageBatchResultEntry") {
            unsigned long i;
            if (sscanf(fsg_aws_xml_path_text(ok, "Id"), "m%lu", &i) == 1 && i < n) {
                pending[i] = false;
            }
        }
        /* What is neither listed as sent nor as failed stays pending too: sent again. */
        FSG_AWS_XML_FOREACH(bad, res, "BatchResultErrorEntry") {
            snprintf(why, sizeof why, "%s: %s", fsg_aws_xml_path_text(bad, "Code"),
                     fsg_aws_xml_path_text(bad, "Message"));
        }
        fsg_aws_xml_doc_destroy(doc);
        size_t left = 0;
        for (size_t i = 0; i < n; i++) {
            left += pending[i];
        }
        if (left == 0) {
            return FSG_OK;
        }
    }
    return fsg_error_set(err, FSG_E_REMOTE, "SQS SendMessageBatch to %s: entries not sent after "
                         "%d attempts (%s)", queue_url, S_ATTEMPTS, why[0] != '\0' ? why : "no "
                         "reason given");
}
