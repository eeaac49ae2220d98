/* The PCE (Illumio Policy Compute Engine) REST client: HTTP Basic with an API key, TLS always
 * verified, org-scoped paths, complete collections (sync, or an async job when the sync answer
 * is truncated), 429 handling, and the two things flowseg needs from it: the exported policy
 * bundle and the bulk traffic upload. See shared/ref/pce-api.md §1-§7. */
#ifndef FSG_POLICY_PCE_H
#define FSG_POLICY_PCE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/core/buf.h"
#include "lib/core/error.h"
#include "lib/http/http.h"

/* A synchronous GET collection returns at most this many objects by default (ref §3). */
#define FSG_PCE_DEFAULT_CAP 500
/* bulk_* endpoints take at most this many items (lines) per request (ref §3, §7). */
#define FSG_PCE_BULK_MAX_ITEMS 1000
/* illumio-py retries a 429 five times; we do the same. */
#define FSG_PCE_DEFAULT_MAX_RETRIES 5u
/* Waiting for an async collection job longer than this means the PCE is stuck. */
#define FSG_PCE_DEFAULT_MAX_JOB_WAIT_S 600L

/* Supplies the API key and secret (e.g. lib/aws/secrets.h fsg_secret_source_get, fetched from
 * Secrets Manager or SSM). refresh is true after the PCE answered 401: fetch again (the secret
 * may have been rotated). On success the PCE client owns *ret_key and *ret_secret (it wipes
 * and frees them with fsg_free). Called synchronously. */
typedef enum fsg_err(fsg_pce_creds_fn)(void *userdata, bool refresh, char **ret_key,
                                       char **ret_secret, struct fsg_error *err);

/* Sleeps ms milliseconds (tests record instead of sleeping). */
typedef void(fsg_pce_sleep_fn)(uint64_t ms, void *userdata);

struct fsg_pce_options {
    const char *url;        /* "https://pce.example.com:8443" (a trailing "/" or "/api/v2" is ok);
                             * https only */
    long org_id;            /* > 0 */
    /* Credentials: api_key/api_secret when set (borrowed; copied and the copies wiped on
     * destroy); else the environment variables key_env/secret_env; else the files
     * key_file/secret_file (first line, trailing whitespace removed). */
    const char *api_key;    /* the key's auth_username, e.g. "api_1a2b3c4d5e6f7g" */
    const char *api_secret;
    const char *key_env;    /* e.g. "PCE_API_KEY"; named in errors, its value never */
    const char *secret_env;
    const char *key_file;
    const char *secret_file;
    fsg_pce_creds_fn *creds_fn; /* when set, used instead of all of the above: called once at
                                 * creation and once more after a 401 (then the request is sent
                                 * again, once) */
    void *creds_userdata;       /* borrowed; must outlive the client */
    const char *creds_name;     /* where creds_fn reads from, for messages ("Secrets Manager
                                 * secret ..."); borrowed, copied */
    const char *ca_file;    /* PEM bundle of a private CA; NULL = system trust store */
    long timeout_s;         /* connect and read (no byte for this long) timeout; 0 = 30 */
    unsigned max_retries;   /* 429 retries per request; 0 = FSG_PCE_DEFAULT_MAX_RETRIES */
    long max_job_wait_s;    /* total wait for one async job; 0 = FSG_PCE_DEFAULT_MAX_JOB_WAIT_S */
    size_t max_body_bytes;  /* bound on one response body; 0 = FSG_JSON_MAX_BYTES_DEFAULT */
    fsg_pce_sleep_fn *sleep; /* NULL = nanosleep */
    void *sleep_userdata;    /* borrowed */
};

struct fsg_pce;

/* A client over libcurl (fsg_http_client_new with ca_file). Reads the credentials now: a
 * missing key or secret is FSG_E_INVALID_ARG naming the variable or file. On success the
 * caller owns *ret_pce (fsg_pce_destroy). */
enum fsg_err fsg_pce_new(const struct fsg_pce_options *opts, struct fsg_pce **ret_pce,
                         struct fsg_error *err) FSG_MUST_USE;
/* The same over a given HTTP client (tests: fsg_http_client_new_with_transport). Takes
 * ownership of client, also on failure. */
enum fsg_err fsg_pce_new_with_client(const struct fsg_pce_options *opts,
                                     struct fsg_http_client *client, struct fsg_pce **ret_pce,
                                     struct fsg_error *err) FSG_MUST_USE;
/* Wipes the credentials and frees everything. NULL ok. */
void fsg_pce_destroy(struct fsg_pce *pce);

/* Requests sent so far (each attempt and each job poll counts). */
uint64_t fsg_pce_request_count(const struct fsg_pce *pce);

/* GET one complete collection. path is org-relative with its query already URL-encoded, e.g.
 * "/workloads?managed=false" or "/sec_policy/active/rule_sets". A truncated sync answer
 * (X-Total-Count above the count returned, or FSG_PCE_DEFAULT_CAP objects) is fetched again
 * as an async job; a job that fails or never finishes is an error. On success the caller
 * owns *ret_array (a JSON array; json_decref); on failure it is untouched. */
enum fsg_err fsg_pce_get_collection(struct fsg_pce *pce, const char *path, json_t **ret_array,
                                    struct fsg_error *err) FSG_MUST_USE;

/* GET one object by href ("/orgs/1/labels/7") or org-relative path ("/labels/7").
 * The caller owns *ret_value. */
enum fsg_err fsg_pce_get(struct fsg_pce *pce, const char *href, json_t **ret_value,
                         struct fsg_error *err) FSG_MUST_USE;

/* The exported-policy bundle of CONTRACT.md: {"labels", "label_groups", "workloads",
 * "rule_sets", "ip_lists", "services", "virtual_services"}, each array as the PCE returns it,
 * from sec_policy/active (or draft when !active; labels and workloads are not versioned).
 * Virtual services are read with representation=virtual_service_labels_services_and_workloads
 * so they carry bound_workloads. All or nothing: any failed or truncated collection fails the
 * whole fetch and *ret_bundle is untouched. The caller owns *ret_bundle. */
enum fsg_err fsg_pce_fetch_policy(struct fsg_pce *pce, bool active, json_t **ret_bundle,
                                  struct fsg_error *err) FSG_MUST_USE;

/* Writes a bundle to path (pretty JSON, atomically: a temp file renamed over path). bundle is
 * borrowed. FSG_E_IO naming the path on failure. */
enum fsg_err fsg_pce_save_bundle(const json_t *bundle, const char *path,
                                 struct fsg_error *err) FSG_MUST_USE;

/* POST /orgs/N/agents/bulk_traffic_flows with `csv` (borrowed): "src,dst,port,proto" lines
 * joined by '\n', at most FSG_PCE_BULK_MAX_ITEMS lines (more is FSG_E_INVALID_ARG: split
 * first). A 429 is retried (the PCE did nothing). On success *ret_received and *ret_failed are the
 * PCE's num_flows_received/num_flows_failed (either pointer may be NULL). */
enum fsg_err fsg_pce_post_traffic(struct fsg_pce *pce, struct fsg_span csv,
                                  uint64_t *ret_received, uint64_t *ret_failed,
                                  struct fsg_error *err) FSG_MUST_USE;

#endif
