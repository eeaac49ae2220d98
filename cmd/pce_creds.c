/* PCE credentials from the config: a secret in AWS, or the environment/files. */
#include "cmd/pce_creds.h"

#include <stdlib.h>

enum fsg_err fsg_cmd_pce_creds(const struct fsg_config_pce *p, const char *region,
                               struct fsg_http_client *http, struct fsg_creds_provider *creds,
                               struct fsg_pce_options *o, struct fsg_secret_source **ret_source,
                               struct fsg_error *err)
{
    *ret_source = NULL;
    o->key_env = p->key_env;
    o->secret_env = p->secret_env;
    o->key_file = p->key_file;
    o->secret_file = p->secret_file;
    if (p->secret_arn == NULL && p->secret_parameter == NULL) {
        return FSG_OK;
    }
    /* A value that holds only the secret takes the key id (not a secret) from key_env. */
    const char *key = p->key_env != NULL ? getenv(p->key_env) : NULL;
    struct fsg_secret_source_options so = {
        .secret_id = p->secret_arn, .parameter = p->secret_parameter,
        .key_fallback = key != NULL && key[0] != '\0' ? key : NULL,
        .region = region, .http = http, .creds = creds,
    };
    struct fsg_secret_source *src = NULL;
    enum fsg_err rc = fsg_secret_source_new(&so, &src, err);
    if (rc != FSG_OK) {
        return fsg_error_prefix(err, "pce: ");
    }
    o->creds_fn = fsg_secret_source_get;
    o->creds_userdata = src;
    o->creds_name = fsg_secret_source_name(src);
    *ret_source = src;
    return FSG_OK;
}
