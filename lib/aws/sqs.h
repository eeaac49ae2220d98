/* SQS over the AWS pipeline (lib/aws/aws.h, a client made with service "sqs"), Query protocol
 * (API version 2012-11-05): SendMessageBatch, for the fan-out of a backfill
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html:
 * at most 10 entries per call, at most 256 KiB for the whole batch; entries fail one by one,
 * listed in BatchResultErrorEntry). */
#ifndef FSG_LIB_AWS_SQS_H
#define FSG_LIB_AWS_SQS_H

#include <stddef.h>

#include "lib/aws/aws.h"
#include "lib/core/error.h"

/* Most entries and bytes of one SendMessageBatch call (the API's limits). */
#define FSG_SQS_BATCH_MAX 10
#define FSG_SQS_BATCH_BYTES ((size_t)256 << 10)

/* Sends bodies[0..n) (n <= FSG_SQS_BATCH_MAX, total <= FSG_SQS_BATCH_BYTES) to queue_url.
 * Only the entries the answer lists as failed by their Id, through no fault of the sender
 * (BatchResultErrorEntry with SenderFault false), are sent again, up to 3 times in all; never
 * the whole batch, never an entry the answer does not account for (it may have been
 * delivered). Anything not sent in the end is FSG_E_REMOTE, with the counts and the last
 * failure's code and message. Errors of the call as fsg_aws_query. */
enum fsg_err fsg_sqs_send_batch(struct fsg_aws_client *c, const char *queue_url,
                                const char *const *bodies, size_t n,
                                struct fsg_error *err) FSG_MUST_USE;

#endif
