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
 * From an answer, only the entries it lists as failed by their Id, through no fault of the
 * sender (BatchResultErrorEntry with SenderFault false), are sent again, up to 3 times in all;
 * an entry the answer reports as sent is not. When no answer comes (a network error, a
 * timeout, an HTTP 5xx), the AWS retry layer (lib/aws/retry.h) sends the whole batch again,
 * since it cannot tell what was delivered: delivery is then at least once, and a consumer may
 * receive an entry twice (as with any SQS standard queue). Anything not sent in the end is
 * FSG_E_REMOTE, with the counts and the last failure's code and message. Errors of the call as
 * fsg_aws_query. */
enum fsg_err fsg_sqs_send_batch(struct fsg_aws_client *c, const char *queue_url,
                                const char *const *bodies, size_t n,
                                struct fsg_error *err) FSG_MUST_USE;

#endif
