/* Profile, shared files, region and endpoints, resolved the way botocore does
 * (botocore/configprovider.py, configloader.py; aws-wire.md §5.7). */
#include "lib/aws/aws_env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "lib/core/mem.h"

struct s_service {
    const char *name;         /* our name, as callers pass it */
    const char *signing_name; /* SigV4 scope */
    const char *env_suffix;   /* AWS_ENDPOINT_URL_<suffix> */
    const char *config_key;   /* key in a [services x] section */
    const char *host_prefix;  /* <prefix>.<region>.amazonaws.com */
};

static const struct s_service s_services[] = {
    { "s3", "s3", "S3", "s3", "s3" },
    { "ec2", "ec2", "EC2", "ec2", "ec2" },
    { "rds", "rds", "RDS", "rds", "rds" },
    { "elasticloadbalancing", "elasticloadbalancing", "ELASTIC_LOAD_BALANCING_V2",
      "elastic_load_balancing_v2", "elasticloadbalancing" },
    { "elbv2", "elasticloadbalancing", "ELASTIC_LOAD_BALANCING_V2", "elastic_load_balancing_v2",
      "elasticloadbalancing" },
    { "elasticloadbalancingv2", "elasticloadbalancing", "ELASTIC_LOAD_BALANCING_V2",
      "elastic_load_balancing_v2", "elasticloadbalancing" },
    /* The PCE secret at run time (lib/aws/secrets.h). Service ids as the SDKs spell them:
     * https://docs.aws.amazon.com/sdkref/latest/guide/ss-endpoints-table.html */
    { "secretsmanager", "secretsmanager", "SECRETS_MANAGER", "secrets_manager",
      "secretsmanager" },
    { "ssm", "ssm", "SSM", "ssm", "ssm" },
    /* The backfill fan-out queue (lib/aws/sqs.h). */
    { "sqs", "sqs", "SQS", "sqs", "sqs" },
};

static const struct s_service *s_find_service(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof s_services / sizeof s_services[0]; i++) {
        if (strcmp(s_services[i].name, name) == 0) {
            return &s_services[i];
        }
    }
    return NULL;
}

const char *fsg_aws_signing_name(const char *service)
{
    const struct s_service *s = s_find_service(service);
    return s != NULL ? s->signing_name : NULL;
}

bool fsg_aws_flag_is_true(const char *value)
{
    return value != NULL && strcasecmp(value, "true") == 0;
}

static const char *s_env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

const char *fsg_aws_profile_name(const char *explicit_profile, bool *ret_is_explicit)
{
    const char *name = explicit_profile != NULL && explicit_profile[0] != '\0' ? explicit_profile
                                                                               : NULL;
    if (name == NULL) {
        name = s_env("AWS_PROFILE");
    }
    if (name == NULL) {
        name = s_env("AWS_DEFAULT_PROFILE");
    }
    if (ret_is_explicit != NULL) {
        *ret_is_explicit = name != NULL;
    }
    return name != NULL ? name : "default";
}

/* ---- shared files ------------------------------------------------------------------------- */

static enum fsg_err s_shared_file_path(const char *env_name, const char *default_rel,
                                       struct fsg_buf *out, struct fsg_error *err)
{
    const char *path = s_env(env_name);
    const char *rest = path != NULL ? path : default_rel;
    enum fsg_err rc = FSG_OK;
    if (strncmp(rest, "~/", 2) == 0) {
        const char *home = s_env("HOME");
        if (home == NULL) {
            return fsg_error_set(err, FSG_E_NOT_FOUND,
                                 "cannot locate %s: HOME is not set (set %s to the file's path)",
                                 rest, env_name);
        }
        rc = fsg_buf_printf(out, "%s/%s", home, rest + 2);
    } else {
        rc = fsg_buf_append_cstr(out, rest);
    }
    return rc == FSG_OK ? FSG_OK : fsg_error_set(err, rc, "out of memory");
}

enum fsg_err fsg_aws_config_file_path(struct fsg_buf *ret_path, struct fsg_error *err)
{
    return s_shared_file_path("AWS_CONFIG_FILE", "~/.aws/config", ret_path, err);
}

enum fsg_err fsg_aws_credentials_file_path(struct fsg_buf *ret_path, struct fsg_error *err)
{
    return s_shared_file_path("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials", ret_path, err);
}

enum fsg_err fsg_aws_read_shared_file(const char *path, struct fsg_buf *ret_text, bool *ret_exists,
                                      struct fsg_error *err)
{
    struct stat st;
    *ret_exists = false;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return FSG_OK;
        }
        return fsg_error_set(err, FSG_E_IO, "%s: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        return fsg_error_set(err, FSG_E_IO, "%s: is a directory, not an AWS shared file", path);
    }
    enum fsg_err rc = fsg_buf_read_file(ret_text, path, FSG_AWS_MAX_CONFIG_FILE_BYTES, err);
    if (rc == FSG_OK) {
        *ret_exists = true;
    } else {
        fsg_buf_clean_up_secure(ret_text);
    }
    return rc;
}

/* The shared config file's text; without HOME (and no AWS_CONFIG_FILE) there is none. */
static enum fsg_err s_read_config_file(struct fsg_buf *text, bool *exists, struct fsg_error *err)
{
    struct fsg_buf path = FSG_BUF_INIT;
    *exists = false;
    enum fsg_err rc = fsg_aws_config_file_path(&path, err);
    if (rc == FSG_OK) {
        rc = fsg_aws_read_shared_file(fsg_buf_cstr(&path), text, exists, err);
    } else if (rc == FSG_E_NOT_FOUND) {
        rc = FSG_OK;
    }
    fsg_buf_clean_up(&path);
    return rc;
}

/* ---- INI ---------------------------------------------------------------------------------- */

static bool s_is_blank(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static struct fsg_span s_trim(struct fsg_span s)
{
    while (s.len > 0 && s_is_blank(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && (s_is_blank(s.ptr[s.len - 1]) || s.ptr[s.len - 1] == '\n')) {
        s.len--;
    }
    return s;
}

/* Section header text equals name, with runs of blanks in the header treated as one space. */
static bool s_section_eq(struct fsg_span header, const char *name)
{
    size_t j = 0;
    size_t n = strlen(name);
    for (size_t i = 0; i < header.len; i++) {
        if (s_is_blank(header.ptr[i])) {
            while (i + 1 < header.len && s_is_blank(header.ptr[i + 1])) {
                i++;
            }
            if (j >= n || name[j] != ' ') {
                return false;
            }
            j++;
            continue;
        }
        if (j >= n || header.ptr[i] != (uint8_t)name[j]) {
            return false;
        }
        j++;
    }
    return j == n;
}

/* Splits "key = value" / "key: value" at the first '=' or ':'. */
static bool s_split_assignment(struct fsg_span line, struct fsg_span *ret_key,
                               struct fsg_span *ret_value)
{
    for (size_t i = 0; i < line.len; i++) {
        if (line.ptr[i] == '=' || line.ptr[i] == ':') {
            *ret_key = s_trim((struct fsg_span){ line.ptr, i });
            *ret_value = s_trim((struct fsg_span){ line.ptr + i + 1, line.len - i - 1 });
            return ret_key->len > 0;
        }
    }
    return false;
}

struct s_ini_state {
    bool in_section;
    bool seen_section;
    bool parent_open;           /* last top-level key had an empty value: nested lines follow */
    struct fsg_span parent_key; /* that key */
};

/* One line of INI text; returns true and sets *ret_value when it assigns the wanted key. */
static bool s_ini_line(struct s_ini_state *st, struct fsg_span raw, const char *section,
                       const char *key, const char *subkey, struct fsg_span *ret_value)
{
    struct fsg_span line = s_trim(raw);
    if (line.len == 0 || line.ptr[0] == '#' || line.ptr[0] == ';') {
        return false;
    }
    if (line.ptr[0] == '[' && line.ptr[line.len - 1] == ']') {
        st->in_section = s_section_eq(s_trim((struct fsg_span){ line.ptr + 1, line.len - 2 }),
                                      section);
        st->seen_section = st->seen_section || st->in_section;
        st->parent_open = false;
        return false;
    }
    if (!st->in_section) {
        return false;
    }
    struct fsg_span k;
    struct fsg_span v;
    bool indented = s_is_blank(raw.ptr[0]);
    if (indented) {
        /* a nested "sub = value" under an open parent; otherwise a continuation line */
        if (st->parent_open && subkey != NULL && s_split_assignment(line, &k, &v)
            && fsg_span_eq_cstr_ignore_case(st->parent_key, key)
            && fsg_span_eq_cstr_ignore_case(k, subkey)) {
            *ret_value = v;
            return true;
        }
        return false;
    }
    if (!s_split_assignment(line, &k, &v)) {
        st->parent_open = false;
        return false;
    }
    st->parent_open = v.len == 0;
    st->parent_key = k;
    if (subkey == NULL && fsg_span_eq_cstr_ignore_case(k, key)) {
        *ret_value = v;
        return true;
    }
    return false;
}

static bool s_ini_scan(struct fsg_span text, const char *section, const char *key,
                       const char *subkey, struct fsg_span *ret_value, bool *ret_has_section)
{
    struct s_ini_state st = { 0 };
    bool found = false;
    size_t pos = 0;
    struct fsg_span line;
    while (text.len > 0 && fsg_span_next_split(text, '\n', &pos, &line)) {
        struct fsg_span v;
        if (key != NULL && s_ini_line(&st, line, section, key, subkey, &v)) {
            *ret_value = v;
            found = true; /* keep going: the last assignment wins */
        } else if (key == NULL) {
            (void)s_ini_line(&st, line, section, "", NULL, &v);
        }
    }
    if (ret_has_section != NULL) {
        *ret_has_section = st.seen_section;
    }
    return found;
}

bool fsg_aws_ini_get(struct fsg_span text, const char *section, const char *key,
                     const char *subkey, struct fsg_span *ret_value)
{
    return s_ini_scan(text, section, key, subkey, ret_value, NULL);
}

bool fsg_aws_ini_has_section(struct fsg_span text, const char *section)
{
    bool has = false;
    struct fsg_span unused;
    (void)s_ini_scan(text, section, NULL, NULL, &unused, &has);
    return has;
}

/* ---- profile settings --------------------------------------------------------------------- */

/* Looks key up in the profile's config-file section(s): "[profile NAME]", and for the default
 * profile also "[default]" (which wins, as in botocore). */
static bool s_profile_lookup(struct fsg_span text, const char *profile, const char *key,
                             const char *subkey, struct fsg_span *ret_value)
{
    char section[320];
    snprintf(section, sizeof section, "profile %s", profile);
    bool found = fsg_aws_ini_get(text, section, key, subkey, ret_value);
    if (strcmp(profile, "default") == 0) {
        found = fsg_aws_ini_get(text, "default", key, subkey, ret_value) || found;
    }
    return found;
}

enum fsg_err fsg_aws_config_get(const char *profile, const char *key, const char *subkey,
                                struct fsg_buf *ret_value, bool *ret_found, struct fsg_error *err)
{
    struct fsg_buf text = FSG_BUF_INIT;
    bool exists = false;
    *ret_found = false;
    if (profile == NULL) {
        profile = fsg_aws_profile_name(NULL, NULL);
    }
    enum fsg_err rc = s_read_config_file(&text, &exists, err);
    struct fsg_span v;
    if (rc == FSG_OK && exists
        && s_profile_lookup(fsg_span_from_buf(&text), profile, key, subkey, &v)) {
        rc = fsg_buf_append_span(ret_value, v);
        if (rc != FSG_OK) {
            rc = fsg_error_set(err, rc, "out of memory");
        } else {
            *ret_found = true;
        }
    }
    fsg_buf_clean_up_secure(&text);
    return rc;
}

/* ---- region ------------------------------------------------------------------------------- */

static bool s_is_region_name(const char *r)
{
    if (r == NULL || r[0] == '\0' || r[0] == '-' || strlen(r) > 64) {
        return false;
    }
    for (const char *c = r; *c != '\0'; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-')) {
            return false;
        }
    }
    return true;
}

static enum fsg_err s_take_region(const char *value, const char *from, struct fsg_buf *out,
                                  struct fsg_error *err)
{
    if (!s_is_region_name(value)) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "region '%.64s' from %s is not a region name like us-east-1",
                             value, from);
    }
    enum fsg_err rc = fsg_buf_append_cstr(out, value);
    return rc == FSG_OK ? FSG_OK : fsg_error_set(err, rc, "out of memory");
}

enum fsg_err fsg_aws_region(const char *configured, const char *profile, struct fsg_buf *ret_region,
                            struct fsg_error *err)
{
    if (configured != NULL && configured[0] != '\0') {
        return s_take_region(configured, "the configuration", ret_region, err);
    }
    if (s_env("AWS_REGION") != NULL) {
        return s_take_region(s_env("AWS_REGION"), "AWS_REGION", ret_region, err);
    }
    if (s_env("AWS_DEFAULT_REGION") != NULL) {
        return s_take_region(s_env("AWS_DEFAULT_REGION"), "AWS_DEFAULT_REGION", ret_region, err);
    }
    const char *name = fsg_aws_profile_name(profile, NULL);
    struct fsg_buf value = FSG_BUF_INIT;
    struct fsg_buf path = FSG_BUF_INIT;
    bool found = false;
    enum fsg_err rc = fsg_aws_config_get(name, "region", NULL, &value, &found, err);
    if (rc == FSG_OK && found) {
        char from[400];
        snprintf(from, sizeof from, "profile '%.64s' in the AWS config file", name);
        rc = s_take_region(fsg_buf_cstr(&value), from, ret_region, err);
    } else if (rc == FSG_OK) {
        fsg_buf_reset(&path);
        if (fsg_aws_config_file_path(&path, NULL) != FSG_OK
            && fsg_buf_append_cstr(&path, "~/.aws/config") != FSG_OK) {
            fsg_buf_reset(&path); /* out of memory: the message just lacks the path */
        }
        rc = fsg_error_set(err, FSG_E_NOT_FOUND,
                           "no AWS region: set \"region\" in the configuration, AWS_REGION or "
                           "AWS_DEFAULT_REGION, or region in profile '%.64s' of %.200s",
                           name, fsg_buf_cstr(&path));
    }
    fsg_buf_clean_up(&value);
    fsg_buf_clean_up(&path);
    return rc;
}

/* ---- endpoints ---------------------------------------------------------------------------- */

/* Appends an override URL without trailing slashes after checking it is http(s)://host... */
static enum fsg_err s_take_url(const char *url, const char *from, struct fsg_buf *out,
                               struct fsg_error *err)
{
    size_t len = strlen(url);
    const char *host = NULL;
    if (strncasecmp(url, "https://", 8) == 0) {
        host = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        host = url + 7;
    }
    if (host == NULL || host[0] == '\0' || host[0] == '/' || strpbrk(url, " \t\r\n") != NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "endpoint URL from %s is not an http:// or https:// URL with a host",
                             from);
    }
    while (len > 0 && url[len - 1] == '/') {
        len--;
    }
    enum fsg_err rc = fsg_buf_append(out, url, len);
    return rc == FSG_OK ? FSG_OK : fsg_error_set(err, rc, "out of memory");
}

/* Endpoint and addressing settings of the current profile, read from the config file once. */
struct s_profile_endpoint {
    struct fsg_buf text;
    bool exists;
    const char *profile;
};

static bool s_ignore_overrides(const struct s_profile_endpoint *pe)
{
    const char *env = s_env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    if (env != NULL) {
        return fsg_aws_flag_is_true(env);
    }
    struct fsg_span v;
    if (pe->exists && s_profile_lookup(fsg_span_from_buf(&pe->text), pe->profile,
                                       "ignore_configured_endpoint_urls", NULL, &v)) {
        return fsg_span_eq_cstr_ignore_case(v, "true");
    }
    return false;
}

/* The profile's endpoint_url for svc: services section first, then the global one. */
static bool s_profile_endpoint(const struct s_profile_endpoint *pe, const struct s_service *svc,
                               char *ret_url, size_t url_size, char *ret_from, size_t from_size)
{
    struct fsg_span text = fsg_span_from_buf(&pe->text);
    struct fsg_span services;
    struct fsg_span v;
    if (!pe->exists) {
        return false;
    }
    if (s_profile_lookup(text, pe->profile, "services", NULL, &services) && services.len > 0) {
        char section[320];
        int n = (int)(services.len > 200 ? 200 : services.len);
        snprintf(section, sizeof section, "services %.*s", n, (const char *)services.ptr);
        if (fsg_aws_ini_get(text, section, svc->config_key, "endpoint_url", &v) && v.len > 0) {
            snprintf(ret_url, url_size, "%.*s", FSG_SPAN_FMT(v));
            snprintf(ret_from, from_size, "[%s] %s.endpoint_url in the AWS config file", section,
                     svc->config_key);
            return true;
        }
    }
    if (s_profile_lookup(text, pe->profile, "endpoint_url", NULL, &v) && v.len > 0) {
        snprintf(ret_url, url_size, "%.*s", FSG_SPAN_FMT(v));
        snprintf(ret_from, from_size, "endpoint_url of profile '%.64s' in the AWS config file",
                 pe->profile);
        return true;
    }
    return false;
}

/* The override URL and where it came from, or false. */
static bool s_find_override(const struct s_profile_endpoint *pe, const struct s_service *svc,
                            char *ret_url, size_t url_size, char *ret_from, size_t from_size)
{
    if (s_ignore_overrides(pe)) {
        return false;
    }
    char name[64];
    snprintf(name, sizeof name, "AWS_ENDPOINT_URL_%s", svc->env_suffix);
    const char *v = s_env(name);
    if (v == NULL) {
        snprintf(name, sizeof name, "AWS_ENDPOINT_URL");
        v = s_env(name);
    }
    if (v != NULL) {
        /* too long for us is reported as not-a-URL rather than cut */
        snprintf(ret_url, url_size, "%s", strlen(v) < url_size ? v : "");
        snprintf(ret_from, from_size, "%s", name);
        return true;
    }
    return s_profile_endpoint(pe, svc, ret_url, url_size, ret_from, from_size);
}

enum fsg_err fsg_aws_endpoint(const char *service, const char *region, struct fsg_buf *ret_url,
                              bool *ret_path_style, struct fsg_error *err)
{
    const struct s_service *svc = s_find_service(service);
    struct s_profile_endpoint pe = { .profile = fsg_aws_profile_name(NULL, NULL) };
    char url[2048];
    char from[512];
    enum fsg_err rc;

    if (svc == NULL) {
        return fsg_error_set(err, FSG_E_INVALID_ARG,
                             "unknown AWS service '%.64s' (want s3, ec2, rds, "
                             "elasticloadbalancing, secretsmanager, ssm or sqs)",
                             service != NULL ? service : "(null)");
    }
    if (!s_is_region_name(region)) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "region '%.64s' is not a region name",
                             region != NULL ? region : "(null)");
    }
    rc = s_read_config_file(&pe.text, &pe.exists, err);
    if (rc != FSG_OK) {
        goto out;
    }
    bool path_style = false;
    if (s_find_override(&pe, svc, url, sizeof url, from, sizeof from)) {
        rc = s_take_url(url, from, ret_url, err);
        path_style = true;
    } else {
        const char *suffix = strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
        rc = fsg_buf_printf(ret_url, "https://%s.%s.%s", svc->host_prefix, region, suffix);
        if (rc != FSG_OK) {
            rc = fsg_error_set(err, rc, "out of memory");
        }
        struct fsg_span style;
        path_style = pe.exists && s_profile_lookup(fsg_span_from_buf(&pe.text), pe.profile, "s3",
                                                   "addressing_style", &style)
                     && fsg_span_eq_cstr_ignore_case(style, "path");
    }
    if (rc == FSG_OK && ret_path_style != NULL) {
        *ret_path_style = path_style && strcmp(svc->signing_name, "s3") == 0;
    }

out:
    fsg_buf_clean_up_secure(&pe.text);
    return rc;
}
