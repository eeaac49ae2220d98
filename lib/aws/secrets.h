/* A key/secret pair (the PCE API key and its secret) fetched at run time from AWS Secrets
 * Manager (GetSecretValue) or SSM Parameter Store (GetParameter, WithDecryption=true), so the
 * secret never sits in an environment variable, the function's configuration or Terraform state.
 * Both are JSON-protocol calls over the AWS pipeline (lib/aws/aws.h, fsg_aws_json):
 *   https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
 *   https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html
 * Endpoints: AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL.
 *
 * The value (SecretString, or the parameter's Value) is either
 *  - a JSON object with the key and the secret: {"key": "api_1a2b3c4d5e6f7g", "secret": "..."}
 *    ("api_key"/"api_secret" and the PCE's own API-key answer, {"auth_username": ..., "secret":
 *    ...}, are accepted too), or
 *  - the secret alone (anything that is not such an object; surrounding whitespace removed);
 *    the key then comes from key_fallback (the caller reads it from the environment or a file:
 *    an API key id is not a secret).
 * Fetched values are registered with lib/core/redact, so an echo of them never reaches a log. */
#ifndef FSG_LIB_SECRETS_H
#define FSG_LIB_SECRETS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/core/buf.h"

struct fsg_aws_client;
struct fsg_creds_provider;
struct fsg_http_client;

/* Bound on a secret value we accept (Secrets Manager allows 64 KiB; a key pair is tiny). */
#define FSG_SECRET_MAX_BYTES ((size_t)64 << 10)

/* GetSecretValue of secret_id (a name or an ARN); the SecretString is appended to ret_value
 * (the caller wipes it: fsg_buf_clean_up_secure). A secret with only SecretBinary is
 * FSG_E_PARSE. c is a client for service "secretsmanager". */
enum fsg_err fsg_secrets_get_secret_value(struct fsg_aws_client *c, const char *secret_id,
                                          struct fsg_buf *ret_value,
                                          struct fsg_error *err) FSG_MUST_USE;

/* GetParameter of name (a name or an ARN) with decryption; the Value is appended to ret_value
 * (wipe it). c is a client for service "ssm". */
enum fsg_err fsg_ssm_get_parameter(struct fsg_aws_client *c, const char *name,
                                   struct fsg_buf *ret_value, struct fsg_error *err) FSG_MUST_USE;

/* Splits a value in the format above. key_fallback may be NULL (then a bare secret is
 * FSG_E_INVALID_ARG). where names the source in messages ("Secrets Manager secret X"); no
 * message ever holds the value. On success the caller owns *ret_key and *ret_secret
 * (fsg_secret_free). */
enum fsg_err fsg_secret_parse_pair(struct fsg_span value, const char *key_fallback,
                                   const char *where, char **ret_key, char **ret_secret,
                                   struct fsg_error *err) FSG_MUST_USE;

/* Wipes and frees a string from this module. NULL ok. */
void fsg_secret_free(char *s);

struct fsg_secret_source_options {
    const char *secret_id;    /* Secrets Manager: name or ARN; or */
    const char *parameter;    /* SSM: name or ARN (exactly one of the two); copied */
    const char *region;       /* the region of a secret named without an ARN (an ARN's own
                               * region wins); NULL = AWS_REGION etc.; copied */
    const char *key_fallback; /* the key for a value that holds only the secret; may be NULL;
                               * copied (and wiped on destroy) */
    struct fsg_http_client *http;      /* borrowed; NULL = own client */
    struct fsg_creds_provider *creds;  /* borrowed; NULL = own default chain */
    struct fsg_aws_client *client;     /* borrowed, for tests: used instead of making one */
};

/* A cached source: fetched on first use ("at cold start"), kept, fetched again only when
 * asked (after the PCE answered 401). Used by one thread at a time. */
struct fsg_secret_source;

enum fsg_err fsg_secret_source_new(const struct fsg_secret_source_options *opts,
                                   struct fsg_secret_source **ret,
                                   struct fsg_error *err) FSG_MUST_USE;
void fsg_secret_source_destroy(struct fsg_secret_source *s); /* wipes; NULL ok */

/* The key and the secret: the cached pair, or a fresh fetch on first use or when refresh is
 * true. On success the caller owns copies in *ret_key and *ret_secret (fsg_secret_free).
 * Matches fsg_pce_creds_fn (policy/pce.h) with s as userdata. */
enum fsg_err fsg_secret_source_get(void *s, bool refresh, char **ret_key, char **ret_secret,
                                   struct fsg_error *err) FSG_MUST_USE;

/* "Secrets Manager secret NAME" / "SSM parameter NAME", for messages. Borrowed. */
const char *fsg_secret_source_name(const struct fsg_secret_source *s);
/* How many times the value was fetched (tests, logs). */
uint64_t fsg_secret_source_fetches(const struct fsg_secret_source *s);

#endif
