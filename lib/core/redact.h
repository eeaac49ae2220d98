/* Redaction: credentials never reach an error message or a log line, even when a server
 * echoes them back (a PCE 500 body that repeats the Authorization header, a proxy error page
 * that shows the request URL with user:password@).
 *
 * fsg_error_set/fsg_error_prefix (lib/core/error.c) and fsg_log/fsg_log_fields
 * (lib/core/log.c) run every message through fsg_redact, so code that quotes server text in an
 * error needs to do nothing more. What is replaced by "***":
 *  - the value after an Authorization, Proxy-Authorization, X-Amz-Security-Token,
 *    X-Amz-Signature, X-Amz-Credential, X-aws-ec2-metadata-token header or query parameter,
 *    and after credential-looking keys in JSON, INI or form text: aws_secret_access_key,
 *    aws_session_token, SecretAccessKey, SessionToken, Token, SecretString, secret,
 *    api_secret, password (separated by ':' or '=', quoted or not);
 *  - the token after "Basic " and "Bearer " (4 characters or more), or after "basic ",
 *    "BEARER " in any case, even inside a word (8 or more: "basic auth" is left alone);
 *  - the user-info of a URL: "user:password" between the scheme's "://" and the last "@"
 *    before the path, query or fragment (a password may hold "@");
 *  - every secret value registered with fsg_redact_add_secret, wherever it appears: these are
 *    masked first, over the whole text, so a pattern above that ends inside one (at a ',' of a
 *    value, a '!' after a token) never leaves its tail in clear. */
#ifndef FSG_LIB_REDACT_H
#define FSG_LIB_REDACT_H

#include <stddef.h>

#include "lib/core/error.h"

/* Shortest value fsg_redact_add_secret accepts: shorter ones would match ordinary text. */
#define FSG_REDACT_MIN_SECRET_LEN 4u

/* Redacts s (NUL-terminated, in a buffer of size bytes) in place; the result stays
 * NUL-terminated within size (cut if a replacement made it longer). NULL ok. */
void fsg_redact(char *s, size_t size);

/* Copies in (NUL-terminated; NULL is taken as "") to out (size bytes, always terminated when
 * size > 0), redacted as fsg_redact does. The whole input is redacted before the copy is cut
 * to size, so a cut never leaves the first bytes of a credential. For server text kept in a
 * field that is not a message (a service code, a request id) or quoted into one. */
void fsg_redact_copy(const char *in, char *out, size_t size);

/* Registers a secret value (copied) to be replaced wherever it appears in a message, until
 * fsg_redact_clear_secrets: a registered secret is never forgotten (the list grows). Values
 * shorter than FSG_REDACT_MIN_SECRET_LEN are ignored (FSG_OK). FSG_E_NOMEM only: then the
 * secret is NOT registered, and the caller must not use it (it could leak). Thread-safe. */
enum fsg_err fsg_redact_add_secret(const char *secret) FSG_MUST_USE;
/* Forgets (and wipes) every registered secret. Thread-safe. */
void fsg_redact_clear_secrets(void);

#endif
