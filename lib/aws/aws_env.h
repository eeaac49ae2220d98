/* Where AWS settings come from, the way the AWS SDKs and CLI resolve them (aws-wire.md §5.7):
 * profile name, shared config/credentials files (INI with nested sub-sections), region, and
 * service endpoints with AWS_ENDPOINT_URL[_<SERVICE>] / profile endpoint_url overrides.
 * Reads the environment and local files only; never the network. */
#ifndef FSG_LIB_AWS_ENV_H
#define FSG_LIB_AWS_ENV_H

#include <stdbool.h>

#include "lib/core/buf.h"
#include "lib/core/error.h"

/* Largest shared config/credentials file we read. */
#define FSG_AWS_MAX_CONFIG_FILE_BYTES ((size_t)1 << 20)

/* The profile in use: explicit_profile (when non-NULL and non-empty), else AWS_PROFILE, else
 * AWS_DEFAULT_PROFILE, else "default". Borrowed (the argument, the environment or a literal).
 * *ret_is_explicit (may be NULL) tells whether it was chosen rather than defaulted. */
const char *fsg_aws_profile_name(const char *explicit_profile, bool *ret_is_explicit);

/* Path of the shared config file (AWS_CONFIG_FILE, default ~/.aws/config) and of the shared
 * credentials file (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials); a leading "~/"
 * is expanded from HOME. Appended to ret_path. FSG_E_NOT_FOUND if HOME is needed but unset. */
enum fsg_err fsg_aws_config_file_path(struct fsg_buf *ret_path, struct fsg_error *err) FSG_MUST_USE;
enum fsg_err fsg_aws_credentials_file_path(struct fsg_buf *ret_path,
                                           struct fsg_error *err) FSG_MUST_USE;

/* Reads a shared file whole into ret_text (bounded by FSG_AWS_MAX_CONFIG_FILE_BYTES).
 * A missing file is not an error: *ret_exists = false and ret_text stays empty. The text may
 * hold secrets: release it with fsg_buf_clean_up_secure. */
enum fsg_err fsg_aws_read_shared_file(const char *path, struct fsg_buf *ret_text, bool *ret_exists,
                                      struct fsg_error *err) FSG_MUST_USE;

/* INI lookup in the text of a shared file, botocore's dialect: "[section]" headers (inner
 * whitespace collapsed: "[profile  dev]" is "profile dev"), "key = value" or "key: value" lines
 * (keys case-insensitive, values trimmed, no inline comments), full-line '#'/';' comments, and
 * nested keys: a key with an empty value followed by indented "sub = value" lines.
 * subkey NULL looks up a top-level key. The last assignment wins. Returns whether the key was
 * found; *ret_value then borrows from text. */
bool fsg_aws_ini_get(struct fsg_span text, const char *section, const char *key,
                     const char *subkey, struct fsg_span *ret_value);
/* Whether the text has a "[section]" header. */
bool fsg_aws_ini_has_section(struct fsg_span text, const char *section);

/* A setting of the profile in the shared config file: section "[default]" (or
 * "[profile default]") for the default profile, "[profile NAME]" otherwise. profile NULL =
 * fsg_aws_profile_name(NULL). The value is appended to ret_value when *ret_found. */
enum fsg_err fsg_aws_config_get(const char *profile, const char *key, const char *subkey,
                                struct fsg_buf *ret_value, bool *ret_found,
                                struct fsg_error *err) FSG_MUST_USE;

/* The region: configured (the project's config value, when non-NULL and non-empty), else
 * AWS_REGION, else AWS_DEFAULT_REGION, else the profile's `region` in the shared config file.
 * profile NULL = AWS_PROFILE or "default". Appended to ret_region. FSG_E_NOT_FOUND with a
 * message listing every place looked at when none is set; FSG_E_INVALID_ARG when the value is
 * not a region name (lowercase letters, digits, '-'). */
enum fsg_err fsg_aws_region(const char *configured, const char *profile, struct fsg_buf *ret_region,
                            struct fsg_error *err) FSG_MUST_USE;

/* Base URL of a service ("s3", "ec2", "rds", "elasticloadbalancing", "secretsmanager", "ssm")
 * in region, no trailing
 * slash: "https://ec2.us-east-1.amazonaws.com" ("amazonaws.com.cn" for cn-* regions; S3 is
 * "https://s3.<region>.amazonaws.com"). Overrides, first match wins, unless
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true (or the profile's ignore_configured_endpoint_urls =
 * true; the variable wins over the profile): AWS_ENDPOINT_URL_<SERVICE> (S3, EC2, RDS,
 * ELASTIC_LOAD_BALANCING_V2, SECRETS_MANAGER, SSM), AWS_ENDPOINT_URL, the profile's `services` section
 * (`<s3|ec2|rds|elastic_load_balancing_v2> =` / `endpoint_url = ...`), the profile's
 * `endpoint_url`. The profile is AWS_PROFILE or "default".
 * *ret_path_style (may be NULL): S3 only, true when a custom endpoint is used or the profile
 * sets `s3 = / addressing_style = path`; false for other services.
 * FSG_E_INVALID_ARG for an unknown service, a bad region or an override that is not an
 * http(s) URL with a host (the message names the variable or file, not the value). */
enum fsg_err fsg_aws_endpoint(const char *service, const char *region, struct fsg_buf *ret_url,
                              bool *ret_path_style, struct fsg_error *err) FSG_MUST_USE;

/* The SigV4 signing name of a service: "s3", "ec2", "rds", "elasticloadbalancing" (also for
 * "elbv2"/"elasticloadbalancingv2"). NULL for a service we do not know. */
const char *fsg_aws_signing_name(const char *service);

/* Whether an environment-style flag is set to "true" (case-insensitive). */
bool fsg_aws_flag_is_true(const char *value);

#endif
