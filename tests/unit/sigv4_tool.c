/* sigv4_tool: a test program for tests/integration/sigv4_botocore.py.
 *
 * Reads one JSON request per line on stdin:
 *   {"id": 1, "method": "GET", "url": "https://host/path?q", "headers": [["Name", "value"], ...],
 *    "body": "text", "region": "us-east-1", "service": "s3",
 *    "time": 1736942400 | "20250115T120000Z",
 *    "creds": {"access_key_id": "...", "secret_access_key": "...", "session_token": "..."},
 *    "s3": true, "unsigned_payload": false, "presign_expires": 0}
 * and prints one JSON line per request:
 *   {"id": 1, "canonical_request": ..., "string_to_sign": ..., "signature": ...,
 *    "signed_headers": ..., "authorization": ..., "headers": [[name, value], ...],
 *    "url": <presigned URL, presign only>}   or   {"id": 1, "error": "..."}
 * The session token is replaced by "<session-token>" in everything printed (it is a secret;
 * the caller redacts its own side the same way). The secret key is never printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "lib/http/http.h"
#include "lib/aws/sigv4.h"

#define S_REDACTED "<session-token>"

/* Copy of s with every occurrence of token replaced (token empty: plain copy). */
static json_t *s_redacted_string(struct fsg_span s, struct fsg_span token)
{
    struct fsg_buf b = FSG_BUF_INIT;
    size_t i = 0;
    enum fsg_err rc = FSG_OK;
    while (i < s.len && rc == FSG_OK) {
        if (token.len > 0 && s.len - i >= token.len
            && memcmp(s.ptr + i, token.ptr, token.len) == 0) {
            rc = fsg_buf_append_cstr(&b, S_REDACTED);
            i += token.len;
        } else {
            rc = fsg_buf_append_byte(&b, s.ptr[i]);
            i++;
        }
    }
    json_t *j = rc != FSG_OK ? json_string("<out of memory>")
                             : json_stringn(b.ptr != NULL ? (const char *)b.ptr : "", b.len);
    fsg_buf_clean_up_secure(&b);
    return j != NULL ? j : json_string("<not utf-8>");
}

static time_t s_parse_time(json_t *t)
{
    if (json_is_integer(t)) {
        return (time_t)json_integer_value(t);
    }
    struct tm tm = { 0 };
    const char *s = json_string_value(t);
    if (s == NULL || strptime(s, "%Y%m%dT%H%M%SZ", &tm) == NULL) {
        return -1;
    }
    return timegm(&tm);
}

static const char *s_str(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v != NULL ? v : "";
}

static struct fsg_span s_span(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) {
        return FSG_SPAN_NULL;
    }
    return (struct fsg_span){ (const uint8_t *)json_string_value(v), json_string_length(v) };
}

static json_t *s_headers_json(const struct fsg_http_headers *h, struct fsg_span token)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < h->len; i++) {
        json_t *pair = json_array();
        json_array_append_new(pair, json_string(h->items[i].name));
        struct fsg_span value = fsg_span_from_cstr(h->items[i].value);
        json_array_append_new(pair, s_redacted_string(value, token));
        json_array_append_new(arr, pair);
    }
    return arr;
}

/* Signs one request; fills out (a JSON object) or returns an error message. */
static enum fsg_err s_sign_one(json_t *in, json_t *out, struct fsg_error *err)
{
    json_t *creds = json_object_get(in, "creds");
    struct fsg_sigv4_params p = {
        .access_key_id = s_span(creds, "access_key_id"),
        .secret_access_key = s_span(creds, "secret_access_key"),
        .session_token = s_span(creds, "session_token"),
        .region = s_span(in, "region"),
        .service = s_span(in, "service"),
        .now_s = s_parse_time(json_object_get(in, "time")),
        .s3_rules = json_is_true(json_object_get(in, "s3")),
        .unsigned_payload = json_is_true(json_object_get(in, "unsigned_payload")),
        .sign_content_sha256 = json_is_true(json_object_get(in, "sign_content_sha256")),
        .unsigned_session_token = json_is_true(json_object_get(in, "unsigned_session_token")),
        .presign_expires_s = (uint32_t)json_integer_value(json_object_get(in, "presign_expires")),
    };
    struct fsg_http_request req = {
        .method = s_str(in, "method"),
        .url = s_str(in, "url"),
        .body = s_span(in, "body"),
    };
    struct fsg_buf canon = FSG_BUF_INIT;
    struct fsg_buf sts = FSG_BUF_INIT;
    struct fsg_buf signed_headers = FSG_BUF_INIT;
    struct fsg_buf url = FSG_BUF_INIT;
    char sig[65] = "";
    enum fsg_err rc = FSG_OK;

    size_t i;
    json_t *pair;
    json_array_foreach(json_object_get(in, "headers"), i, pair)
    {
        rc = fsg_http_headers_add(&req.headers, json_string_value(json_array_get(pair, 0)),
                                  json_string_value(json_array_get(pair, 1)));
        if (rc != FSG_OK) {
            fsg_error_set(err, rc, "cannot add header");
            goto out;
        }
    }
    rc = fsg_sigv4_canonical_request(&req, &p, &canon, err);
    if (rc == FSG_OK) {
        rc = fsg_sigv4_string_to_sign(fsg_span_from_buf(&canon), &p, &sts, err);
    }
    if (rc == FSG_OK) {
        rc = fsg_sigv4_signature(fsg_span_from_buf(&sts), &p, sig, err);
    }
    if (rc == FSG_OK) {
        rc = fsg_sigv4_signed_headers(&req, &p, &signed_headers, err);
    }
    if (rc == FSG_OK) {
        rc = p.presign_expires_s > 0 ? fsg_sigv4_presign(&req, &p, &url, err)
                                     : fsg_sigv4_sign(&req, &p, err);
    }
    if (rc != FSG_OK) {
        goto out;
    }
    json_object_set_new(out, "canonical_request",
                        s_redacted_string(fsg_span_from_buf(&canon), p.session_token));
    json_object_set_new(out, "string_to_sign", json_string(fsg_buf_cstr(&sts)));
    json_object_set_new(out, "signature", json_string(sig));
    json_object_set_new(out, "signed_headers", json_string(fsg_buf_cstr(&signed_headers)));
    const char *auth = fsg_http_headers_get(&req.headers, "Authorization");
    json_object_set_new(out, "authorization", auth != NULL ? json_string(auth) : json_null());
    json_object_set_new(out, "headers", s_headers_json(&req.headers, p.session_token));
    if (p.presign_expires_s > 0) {
        json_object_set_new(out, "url",
                            s_redacted_string(fsg_span_from_buf(&url), p.session_token));
    }

out:
    fsg_buf_clean_up_secure(&canon);
    fsg_buf_clean_up(&sts);
    fsg_buf_clean_up(&signed_headers);
    fsg_buf_clean_up_secure(&url);
    fsg_http_headers_clean_up(&req.headers);
    return rc;
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int bad_input = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (n == 1 && line[0] == '\n') {
            continue;
        }
        json_error_t jerr;
        json_t *in = json_loadb(line, (size_t)n, 0, &jerr);
        json_t *out = json_object();
        if (in == NULL) {
            json_object_set_new(out, "error", json_sprintf("bad JSON: %s", jerr.text));
            bad_input++;
        } else {
            json_object_set(out, "id", json_object_get(in, "id"));
            struct fsg_error err = { 0 };
            if (s_sign_one(in, out, &err) != FSG_OK) {
                json_object_set_new(out, "error", json_string(err.msg));
            }
        }
        char *text = json_dumps(out, JSON_COMPACT);
        if (text != NULL) {
            puts(text);
            free(text);
        }
        json_decref(out);
        json_decref(in);
    }
    free(line);
    return bad_input == 0 ? 0 : 2;
}
