/* AWS credentials in the SDK order: environment, shared credentials/config files (AWS_PROFILE),
 * container credentials, IMDSv2; cached and refreshed before they expire.
 * (Owned by the AWS-core work: the declarations below are the contract other modules use.)
 *
 * Sources (aws-wire.md §5.8), first that yields credentials wins:
 *  1. env: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN (or the legacy
 *     AWS_SECURITY_TOKEN)] [+ AWS_CREDENTIAL_EXPIRATION, ISO 8601]. One key without the other
 *     is an error, not a fall-through.
 *  2. profile: aws_access_key_id / aws_secret_access_key [/ aws_session_token] of the profile
 *     (options.profile, AWS_PROFILE, AWS_DEFAULT_PROFILE, "default") in the shared credentials
 *     file ([NAME]), then in the shared config file ([profile NAME] / [default]). A profile
 *     chosen explicitly but present in neither file, a partial key pair, or a profile that
 *     needs role_arn / credential_process / SSO / web identity (not supported) is an error.
 *     AWS_WEB_IDENTITY_TOKEN_FILE is likewise refused rather than silently skipped.
 *  3. container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (http://169.254.170.2<uri>) or
 *     AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or http to a loopback address, 169.254.170.2,
 *     169.254.170.23, fd00:ec2::23 or localhost), with "Authorization: <token>" from the file
 *     AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read on every fetch) or
 *     AWS_CONTAINER_AUTHORIZATION_TOKEN. Up to 3 attempts on network errors and 5xx.
 *  4. IMDSv2 (unless AWS_EC2_METADATA_DISABLED=true): PUT /latest/api/token, GET the role name,
 *     GET its credentials; AWS_EC2_METADATA_SERVICE_ENDPOINT (or ..._ENDPOINT_MODE=IPv6)
 *     overrides http://169.254.169.254. A 403/404/405 token answer falls back to IMDSv1
 *     unless AWS_EC2_METADATA_V1_DISABLED=true. An unreachable IMDS means "no credentials".
 * Temporary credentials are refreshed when they expire within FSG_CREDS_REFRESH_WINDOW_S; if a
 * refresh fails while the cached ones are still valid, those are kept and the refresh is
 * retried after FSG_CREDS_RETRY_AFTER_S. No secret ever appears in an error or a log line. */
#ifndef FSG_LIB_CREDS_H
#define FSG_LIB_CREDS_H

#include <time.h>

#include "lib/core/buf.h"

#define FSG_CREDS_REFRESH_WINDOW_S 300
#define FSG_CREDS_RETRY_AFTER_S 30

struct fsg_http_client;

struct fsg_credentials {
    struct fsg_buf access_key_id;
    struct fsg_buf secret_access_key; /* secret: wiped on clean-up */
    struct fsg_buf session_token;     /* secret, may be empty */
    time_t expiration_s;              /* 0 = does not expire */
    const char *source;               /* "env", "profile", "container", "imds", "static" */
};
void fsg_credentials_clean_up(struct fsg_credentials *c); /* wipes */
/* Deep copy of src into *ret (which must be clean); FSG_E_NOMEM leaves *ret clean. */
enum fsg_err fsg_credentials_copy(const struct fsg_credentials *src,
                                  struct fsg_credentials *ret) FSG_MUST_USE;

struct fsg_creds_options {
    struct fsg_http_client *http; /* borrowed; for container/IMDS; NULL = make one when needed
                                   * (connect timeout 1 s, read timeout 2 s) */
    const char *profile;          /* NULL = AWS_PROFILE or "default"; copied */
};

struct fsg_creds_provider;

/* The default chain above. Nothing is read until the first fsg_creds_get. */
enum fsg_err fsg_creds_provider_new_default(const struct fsg_creds_options *opts,
                                            struct fsg_creds_provider **ret,
                                            struct fsg_error *err) FSG_MUST_USE;
/* Fixed credentials (tests, or keys from the project's own configuration); copied.
 * session_token may be NULL. source is "static". */
enum fsg_err fsg_creds_provider_new_static(const char *access_key_id,
                                           const char *secret_access_key,
                                           const char *session_token,
                                           struct fsg_creds_provider **ret,
                                           struct fsg_error *err) FSG_MUST_USE;
void fsg_creds_provider_destroy(struct fsg_creds_provider *p); /* NULL ok */

/* Current credentials, refreshed when they expire within 5 minutes of now_s.
 * *ret is borrowed: valid until the next call on this provider. Thread-safe. */
enum fsg_err fsg_creds_get(struct fsg_creds_provider *p, time_t now_s,
                           const struct fsg_credentials **ret, struct fsg_error *err) FSG_MUST_USE;
/* Same, but copies them into *ret_copy under the provider's lock (clean *ret_copy first; the
 * caller cleans it up). The safe choice when several threads share one provider. */
enum fsg_err fsg_creds_get_copy(struct fsg_creds_provider *p, time_t now_s,
                                struct fsg_credentials *ret_copy,
                                struct fsg_error *err) FSG_MUST_USE;

/* Marks the cached credentials stale (e.g. after ExpiredToken): the next get fetches again
 * from the chain and returns that fetch's error instead of falling back to the cache. No effect
 * on a static provider. Thread-safe; NULL ok. */
void fsg_creds_invalidate(struct fsg_creds_provider *p);

/* Parses an ISO 8601 UTC time as the credential endpoints send it ("2025-01-15T18:00:00Z",
 * fractional seconds and "+00:00"-style offsets accepted). FSG_E_PARSE otherwise. */
enum fsg_err fsg_creds_parse_time(struct fsg_span s, time_t *ret) FSG_MUST_USE;

#endif
