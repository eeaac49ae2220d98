/* lib/aws/sqs: SendMessageBatch sends again only the entries SQS lists as failed by their Id
 * through no fault of ours; never the whole batch, never an entry the answer does not account
 * for (a message sent twice is a duplicate on the queue). */
#include <stdio.h>
#include <string.h>

#include "lib/aws/sqs.h"
#include "tests/harness/test.h"
#include "tests/unit/aws_fixture.h"

#define S_QUEUE "https://sqs.us-east-1.amazonaws.com/123456789012/fanout"

#define S_OK(id) "<SendMessageBatchResultEntry><Id>" id "</Id><MessageId>x-" id "</MessageId>" \
                 "<MD5OfMessageBody>0</MD5OfMessageBody></SendMessageBatchResultEntry>"
#define S_BAD(id, code, sender) "<BatchResultErrorEntry><Id>" id "</Id><Code>" code "</Code>" \
                 "<Message>" code " on " id "</Message><SenderFault>" sender "</SenderFault>" \
                 "</BatchResultErrorEntry>"
#define S_ANSWER(entries) "<SendMessageBatchResponse><SendMessageBatchResult>" entries \
                 "</SendMessageBatchResult><ResponseMetadata><RequestId>r</RequestId>" \
                 "</ResponseMetadata></SendMessageBatchResponse>"

/* How many entries request i carried, and whether it carried entry Id `id` with body `body`. */
static unsigned s_entries(const struct t_aws_fixture *f, size_t i)
{
    unsigned n = 0;
    for (const char *p = t_aws_fixture_body(f, i); (p = strstr(p, ".Id=")) != NULL; p++) {
        n++;
    }
    return n;
}

static bool s_carries(const struct t_aws_fixture *f, size_t i, const char *id, const char *body)
{
    const char *b = t_aws_fixture_body(f, i);
    char want_id[32], want_body[64];
    snprintf(want_id, sizeof want_id, ".Id=%s&", id);
    snprintf(want_body, sizeof want_body, ".MessageBody=%s", body);
    const char *at = strstr(b, want_id);
    return at != NULL && strstr(at, want_body) != NULL;
}

/* Some entries fail on their own: only those, by Id, are sent again, until they go. */
static int s_only_failed_entries_resent(void)
{
    static const struct t_http_exchange ex[] = {
        { .status = 200, .body = S_ANSWER(S_OK("m0") S_BAD("m1", "InternalError", "false")
                                          S_OK("m2") S_BAD("m3", "ServiceUnavailable", "false")) },
        { .status = 200, .body = S_ANSWER(S_OK("m3") S_BAD("m1", "InternalError", "false")) },
        { .status = 200, .body = S_ANSWER(S_OK("m1")) },
    };
    struct t_aws_fixture f;
    if (t_aws_fixture_init(&f, "sqs", ex, sizeof ex / sizeof ex[0]) != 0) {
        return 1;
    }
    const char *bodies[] = { "b0", "b1", "b2", "b3" };
    struct fsg_error err = { 0 };
    T_OK(fsg_sqs_send_batch(f.aws, S_QUEUE, bodies, 4, &err));
    T_CHECK(s_entries(&f, 0) == 4);
    T_CHECK(strstr(t_aws_fixture_body(&f, 0), "Action=SendMessageBatch") != NULL);
    T_CHECK(s_entries(&f, 1) == 2 && s_carries(&f, 1, "m1", "b1") && s_carries(&f, 1, "m3", "b3"));
    T_CHECK(s_entries(&f, 2) == 1 && s_carries(&f, 2, "m1", "b1"));
    T_CHECK(t_aws_fixture_all_used(&f));
    t_aws_fixture_clean_up(&f);
    return 0;
}

/* Never sent again: an entry refused for our own fault (SenderFault true: it would fail
 * again), and one the answer does not list at all (it may have been delivered). */
static int s_refused_and_unlisted_not_resent(void)
{
    static const struct t_http_exchange ex[] = {
        { .status = 200, .body = S_ANSWER(S_OK("m0") S_BAD("m1", "InternalError", "false")
                                          S_BAD("m2", "InvalidMessageContents", "true")) },
        /* an Id that was not part of this call (m0) is ignored */
        { .status = 200, .body = S_ANSWER(S_OK("m1") S_BAD("m0", "InternalError", "false")) },
    };
    struct t_aws_fixture f;
    if (t_aws_fixture_init(&f, "sqs", ex, sizeof ex / sizeof ex[0]) != 0) {
        return 1;
    }
    const char *bodies[] = { "b0", "b1", "b2", "b3" };
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_REMOTE, fsg_sqs_send_batch(f.aws, S_QUEUE, bodies, 4, &err));
    T_CHECK(s_entries(&f, 1) == 1 && s_carries(&f, 1, "m1", "b1"));
    T_CHECK(strstr(err.msg, "2 of 4 message(s) sent") != NULL);
    T_CHECK(strstr(err.msg, "1 refused (InvalidMessageContents") != NULL);
    T_CHECK(strstr(err.msg, "1 not accounted for") != NULL);
    T_CHECK(t_aws_fixture_all_used(&f));
    t_aws_fixture_clean_up(&f);
    return 0;
}

/* An answer that accounts for nothing: nothing is sent again (the batch was not duplicated);
 * an entry that keeps failing stops after 3 attempts. */
static int s_unaccounted_batch_not_resent(void)
{
    static const struct t_http_exchange ex[] = {
        { .status = 200, .body = S_ANSWER("") },
        { .status = 200, .body = S_ANSWER(S_BAD("m0", "InternalError", "false")) },
        { .status = 200, .body = S_ANSWER(S_BAD("m0", "InternalError", "false")) },
        { .status = 200, .body = S_ANSWER(S_BAD("m0", "InternalError", "false")) },
    };
    struct t_aws_fixture f;
    if (t_aws_fixture_init(&f, "sqs", ex, sizeof ex / sizeof ex[0]) != 0) {
        return 1;
    }
    const char *bodies[] = { "b0", "b1" };
    struct fsg_error err = { 0 };
    T_ERR(FSG_E_REMOTE, fsg_sqs_send_batch(f.aws, S_QUEUE, bodies, 2, &err));
    T_CHECK(f.script.next == 1);
    T_CHECK(strstr(err.msg, "2 not accounted for") != NULL);
    T_ERR(FSG_E_REMOTE, fsg_sqs_send_batch(f.aws, S_QUEUE, bodies, 1, &err));
    T_CHECK(f.script.next == 4);
    T_CHECK(strstr(err.msg, "1 still failing after 3 attempts (InternalError") != NULL);
    T_CHECK(t_aws_fixture_all_used(&f));
    t_aws_fixture_clean_up(&f);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct t_case cases[] = {
        { "only_failed_entries_resent", s_only_failed_entries_resent },
        { "refused_and_unlisted_not_resent", s_refused_and_unlisted_not_resent },
        { "unaccounted_batch_not_resent", s_unaccounted_batch_not_resent },
        { NULL, NULL },
    };
    return t_main(cases, argc, argv);
}
