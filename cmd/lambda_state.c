/* What `flowseg lambda` keeps across warm invocations: one HTTP client (its connection cache)
 * and one credentials provider shared by the EC2, RDS, ELBv2 and S3 clients, the PCE client,
 * and the compiled policy for config `policy_ttl_s`. See cmd/lambda_internal.h. */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/lambda_internal.h"
#include "lib/aws/aws.h"
#include "lib/aws/creds.h"
#include "lib/http/http.h"
#include "lib/core/log.h"
#include "lib/core/mem.h"
#include "policy/model.h"
#include "cmd/pce_creds.h"
#include "policy/pce.h"

const char *fsg_lambda_ca_fallback(void)
{
    /* The bundled libcurl looks for Debian's path; Amazon Linux keeps its store elsewhere. */
    if (access(FSG_LAMBDA_CA_DEBIAN, R_OK) != 0 && access(FSG_LAMBDA_CA_AL2023, R_OK) == 0) {
        return FSG_LAMBDA_CA_AL2023;
    }
    return NULL;
}

static int64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum fsg_err s_aws_client(struct fsg_lambda_state *st, const char *service,
                                 struct fsg_aws_client **slot, struct fsg_error *err)
{
    if (*slot != NULL) {
        return FSG_OK;
    }
    struct fsg_aws_client_options o = { .service = service, .region = st->config->region,
                                        .http = st->http, .creds = st->creds };
    return fsg_aws_client_new(&o, slot, err);
}

enum fsg_err fsg_lambda_state_aws(struct fsg_lambda_state *st, struct fsg_error *err)
{
    enum fsg_err rc = FSG_OK;
    if (st->http == NULL) {
        /* The one place the Lambda's AWS connections get their CA bundle. */
        struct fsg_http_client_options ho = { .ca_file = st->ca_file };
        rc = fsg_http_client_new(&ho, &st->http, err);
    }
    if (rc == FSG_OK && st->creds == NULL) {
        struct fsg_creds_options co = { 0 };
        rc = fsg_creds_provider_new_default(&co, &st->creds, err);
    }
    if (rc == FSG_OK) {
        rc = s_aws_client(st, "ec2", &st->ec2, err);
    }
    if (rc == FSG_OK) {
        rc = s_aws_client(st, "rds", &st->rds, err);
    }
    if (rc == FSG_OK) {
        rc = s_aws_client(st, "elasticloadbalancing", &st->elbv2, err);
    }
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "aws: ");
    }
    return rc;
}

static enum fsg_err s_pce(struct fsg_lambda_state *st, struct fsg_error *err)
{
    if (st->pce != NULL) {
        return FSG_OK;
    }
    const struct fsg_config_pce *p = &st->config->pce;
    struct fsg_pce_options o = { .url = p->url, .org_id = p->org_id,
                                 .ca_file = p->ca_file != NULL ? p->ca_file : st->ca_file,
                                 .timeout_s = p->timeout_s };
    /* The secret is read with the function's role over the shared AWS connection. */
    enum fsg_err rc = fsg_lambda_state_aws(st, err);
    if (rc == FSG_OK && st->pce_secret == NULL) {
        rc = fsg_cmd_pce_creds(p, st->config->region, st->http, st->creds, &o, &st->pce_secret,
                               err);
    } else if (rc == FSG_OK) {
        o.creds_fn = fsg_secret_source_get;
        o.creds_userdata = st->pce_secret;
        o.creds_name = fsg_secret_source_name(st->pce_secret);
    }
    return rc == FSG_OK ? fsg_pce_new(&o, &st->pce, err) : rc;
}

enum fsg_err fsg_lambda_state_policy(struct fsg_lambda_state *st, const char **ret_source,
                                     struct fsg_error *err)
{
    int64_t now = s_mono_ms();
    long ttl_s = st->config->policy_ttl_s;
    if (st->model != NULL && ttl_s > 0 && now - st->policy_at_ms < (int64_t)ttl_s * 1000) {
        *ret_source = "cached";
        return FSG_OK;
    }
    fsg_policy_model_destroy(st->model);
    st->model = NULL;
    if (st->config->pce.url == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "no policy source: set pce.url (and the API key in the "
                             "environment) in FLOWSEG_CONFIG");
    }
    json_t *bundle = NULL;
    enum fsg_err rc = s_pce(st, err);
    if (rc == FSG_OK) {
        uint64_t before = fsg_pce_request_count(st->pce);
        rc = fsg_pce_fetch_policy(st->pce, true, &bundle, err);
        fsg_log(rc == FSG_OK ? FSG_LOG_INFO : FSG_LOG_WARN, "policy %s from the PCE in %llu "
                "requests", rc == FSG_OK ? "read" : "not read",
                (unsigned long long)(fsg_pce_request_count(st->pce) - before));
    }
    if (rc == FSG_OK) {
        rc = fsg_policy_model_from_json(bundle, NULL, &st->model, err);
    }
    json_decref(bundle);
    if (rc != FSG_OK) {
        fsg_error_prefix(err, "policy (nothing changed): ");
        return rc;
    }
    st->policy_at_ms = now;
    st->policy_fetches++;
    *ret_source = "fetched";
    return FSG_OK;
}

void fsg_lambda_state_learn(struct fsg_lambda_state *st, const struct fsg_recon *run)
{
    size_t n = st->config->n_targets;
    if (st->group_ids == NULL) {
        st->group_ids = fsg_calloc(n + 1, sizeof *st->group_ids);
        if (st->group_ids == NULL) {
            return; /* only a cache: the next call resolves instead */
        }
    }
    for (size_t k = 0; k < run->n_targets; k++) {
        const struct fsg_recon_target *t = &run->targets[k];
        size_t i = (size_t)(t->config - st->config->targets);
        const char *id = t->res.group_id;
        if (i >= n || id == NULL ||
            (st->group_ids[i] != NULL && strcmp(st->group_ids[i], id) == 0)) {
            continue;
        }
        char *copy = fsg_strdup(id);
        if (copy != NULL) {
            fsg_free(st->group_ids[i]);
            st->group_ids[i] = copy;
        }
    }
}

const char *fsg_lambda_state_group(const struct fsg_lambda_state *st, size_t i)
{
    const struct fsg_config_target *t = &st->config->targets[i];
    if (t->security_group != NULL) {
        return t->security_group;
    }
    return st->group_ids != NULL ? st->group_ids[i] : NULL;
}

void fsg_lambda_state_clean_up(struct fsg_lambda_state *st)
{
    for (size_t i = 0; st->group_ids != NULL && st->config != NULL && i < st->config->n_targets;
         i++) {
        fsg_free(st->group_ids[i]);
    }
    fsg_free(st->group_ids);
    fsg_policy_model_destroy(st->model);
    fsg_pce_destroy(st->pce);
    fsg_secret_source_destroy(st->pce_secret);
    fsg_aws_client_destroy(st->elbv2);
    fsg_aws_client_destroy(st->rds);
    fsg_aws_client_destroy(st->ec2);
    fsg_creds_provider_destroy(st->creds);
    fsg_http_client_destroy(st->http);
    fsg_config_destroy(st->config);
    *st = (struct fsg_lambda_state){ 0 };
}

void fsg_lambda_recon_borrow(struct fsg_lambda_state *st, struct fsg_recon *run)
{
    *run = (struct fsg_recon){ .config = st->config, .live = true, .ec2 = st->ec2,
                               .rds = st->rds, .model = st->model };
}

void fsg_lambda_recon_release(struct fsg_recon *run)
{
    run->config = NULL;
    run->ec2 = NULL;
    run->rds = NULL;
    run->model = NULL;
}
