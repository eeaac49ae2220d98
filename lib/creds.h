/* AWS credentials in the SDK order: environment, shared credentials/config files (AWS_PROFILE),
 * container credentials, IMDSv2; cached and refreshed before they expire.
 * (Owned by the AWS-core work: the declarations below are the contract other modules use.) */
#ifndef FSG_LIB_CREDS_H
#define FSG_LIB_CREDS_H

#include <time.h>

#include "lib/buf.h"

struct fsg_http_client;

struct fsg_credentials {
    struct fsg_buf access_key_id;
    struct fsg_buf secret_access_key; /* secret: wiped on clean-up */
    struct fsg_buf session_token;     /* secret, may be empty */
    time_t expiration_s;              /* 0 = does not expire */
    const char *source;               /* "env", "profile", "container", "imds" (static string) */
};
void fsg_credentials_clean_up(struct fsg_credentials *c); /* wipes */

struct fsg_creds_options {
    struct fsg_http_client *http; /* borrowed; for container/IMDS; NULL = make one when needed */
    const char *profile;          /* NULL = AWS_PROFILE or "default" */
};

struct fsg_creds_provider;

enum fsg_err fsg_creds_provider_new_default(const struct fsg_creds_options *opts,
                                            struct fsg_creds_provider **ret,
                                            struct fsg_error *err) FSG_MUST_USE;
void fsg_creds_provider_destroy(struct fsg_creds_provider *p); /* NULL ok */

/* Current credentials, refreshed when they expire within 5 minutes of now_s.
 * *ret is borrowed: valid until the next call on this provider. Thread-safe. */
enum fsg_err fsg_creds_get(struct fsg_creds_provider *p, time_t now_s,
                           const struct fsg_credentials **ret, struct fsg_error *err) FSG_MUST_USE;

#endif
