/* Where the PCE API key and secret come from, for every command that talks to the PCE:
 * pce.secret_arn (Secrets Manager) or pce.secret_parameter (SSM) when the config names one
 * (fetched through lib/aws/secrets.h, read again once after a 401), else the environment
 * variables pce.key_env / pce.secret_env or the files pce.key_file / pce.secret_file. */
#ifndef FSG_CMD_PCE_CREDS_H
#define FSG_CMD_PCE_CREDS_H

#include "cmd/config.h"
#include "lib/aws/secrets.h"
#include "policy/pce.h"

struct fsg_http_client;
struct fsg_creds_provider;

/* Fills the credential fields of *o from p (everything borrowed from p stays valid while p
 * does). When p names a secret, *ret_source gets a new source that o uses (the caller
 * destroys it after the PCE client); else *ret_source is NULL. http and creds (borrowed, may
 * be NULL) are used for the AWS call; region is the config's (may be NULL). */
enum fsg_err fsg_cmd_pce_creds(const struct fsg_config_pce *p, const char *region,
                               struct fsg_http_client *http, struct fsg_creds_provider *creds,
                               struct fsg_pce_options *o, struct fsg_secret_source **ret_source,
                               struct fsg_error *err) FSG_MUST_USE;

#endif
