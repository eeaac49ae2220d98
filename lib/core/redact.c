/* Redaction of credentials in messages; see lib/core/redact.h. */
#include "lib/core/redact.h"

#include <ctype.h>
#include <stdio.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/core/buf.h"

#define S_MASK "***"

/* Labels whose value is a credential. all_line: the value runs to the end of the line or the
 * quote (an Authorization value has spaces: "Basic x", "AWS4-HMAC-SHA256 Credential=...");
 * otherwise it stops at a space, ',', ';' or '&' as well. */
static const struct {
    const char *label;
    bool all_line;
} s_labels[] = {
    { "authorization", true },      { "proxy-authorization", true },
    { "x-amz-security-token", false }, { "x-amz-signature", false },
    { "x-amz-credential", false },  { "x-aws-ec2-metadata-token", false },
    { "aws_secret_access_key", false }, { "aws_session_token", false },
    { "secretaccesskey", false },   { "sessiontoken", false },
    { "token", false },             { "secretstring", false },
    { "secret", false },            { "api_secret", false },
    { "password", false },
};

static const char *const s_schemes[] = { "Basic ", "Bearer " };

/* Registered secrets: plain malloc (not fsg_malloc) so that redaction never takes part in the
 * tests' allocation counting or fault injection, like logging. */
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static char **s_secrets;
static size_t s_n_secrets;
static size_t s_cap_secrets;

static bool s_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

static bool s_token_char(char c)
{
    /* c != '\0': strchr finds the terminator too, which ran past the end of the text. '*': a
     * registered secret already masked inside a token (the first pass) must not end the token,
     * or what follows the mask would stay in clear. */
    return c != '\0' && (isalnum((unsigned char)c) || strchr("+/=._~-*", c) != NULL);
}

/* Output with a bound: everything past size-1 is dropped. */
struct s_out {
    char *buf;
    size_t size;
    size_t len;
};

static void s_put(struct s_out *o, const char *p, size_t n)
{
    for (size_t i = 0; i < n && o->len + 1 < o->size; i++) {
        o->buf[o->len++] = p[i];
    }
}

/* After a label at s[i..i+n): a separator (':' or '=', with quotes, backslashes and spaces
 * around it, as in JSON, escaped JSON, headers, INI and forms). Returns the value's start or
 * 0 when there is no separator. */
static size_t s_value_start(const char *s, size_t at)
{
    size_t i = at;
    while (s[i] == '"' || s[i] == '\\' || s[i] == '\'') {
        i++;
    }
    while (s[i] == ' ' || s[i] == '\t') {
        i++;
    }
    if (s[i] != ':' && s[i] != '=') {
        return 0;
    }
    i++;
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '"' || s[i] == '\\' || s[i] == '\'') {
        i++;
    }
    return i;
}

static size_t s_value_end(const char *s, size_t i, bool all_line)
{
    const char *stop = all_line ? "\"'\\\r\n<&" : "\"'\\\r\n<&,; \t)}]";
    while (s[i] != '\0' && strchr(stop, s[i]) == NULL) {
        i++;
    }
    return i;
}

/* A label with a value at s[i]: the length to skip (label, separator, value) after writing
 * the label and separator and a mask; 0 when none matches. */
static size_t s_try_label(const char *s, size_t i, struct s_out *o)
{
    /* After a word character it is part of another word; after ':' it is a part of an ARN
     * ("arn:aws:secretsmanager:...:secret:NAME"), whose name is not a secret. */
    if (i > 0 && (s_word_char(s[i - 1]) || s[i - 1] == ':')) {
        return 0;
    }
    for (size_t k = 0; k < sizeof s_labels / sizeof s_labels[0]; k++) {
        size_t n = strlen(s_labels[k].label);
        if (strncasecmp(s + i, s_labels[k].label, n) != 0 || s_word_char(s[i + n])) {
            continue;
        }
        size_t v, end;
        if (i > 0 && s[i - 1] == '<' && s[i + n] == '>') {
            v = i + n + 1; /* an XML element: <X-Amz-Security-Token>value</...> */
            end = v;
            while (s[end] != '\0' && s[end] != '<') {
                end++;
            }
        } else {
            v = s_value_start(s, i + n);
            end = v > 0 ? s_value_end(s, v, s_labels[k].all_line) : 0;
        }
        if (v == 0 || end == v) {
            continue;
        }
        s_put(o, s + i, v - i);
        s_put(o, S_MASK, strlen(S_MASK));
        return end - i;
    }
    return 0;
}

/* "Basic X" / "Bearer X": X is masked when it has FSG_REDACT_MIN_SECRET_LEN token characters
 * and the scheme is spelled so, at the start of a word; or when it has 8 or more, whatever the
 * case and the character before ("\nbasic dXNlcjpw" in escaped JSON, "BEARER eyJ..."). */
static size_t s_try_scheme(const char *s, size_t i, struct s_out *o)
{
    bool word_start = i == 0 || !s_word_char(s[i - 1]);
    for (size_t k = 0; k < sizeof s_schemes / sizeof s_schemes[0]; k++) {
        size_t n = strlen(s_schemes[k]);
        if (strncasecmp(s + i, s_schemes[k], n) != 0) {
            continue;
        }
        bool exact = word_start && strncmp(s + i, s_schemes[k], n) == 0;
        size_t end = i + n;
        while (s_token_char(s[end])) {
            end++;
        }
        size_t tlen = end - (i + n);
        if (tlen >= 8 || (exact && tlen >= FSG_REDACT_MIN_SECRET_LEN)) {
            s_put(o, s + i, n);
            s_put(o, S_MASK, strlen(S_MASK));
            return end - i;
        }
    }
    return 0;
}

/* "://user:pass@host": the user-info up to the LAST '@' of the authority (which ends at '/',
 * '?', '#', a space or a quote): a password may hold '@' itself ("u:pa@ss@host"), and RFC 3986
 * section 3.2.1 puts the host after the last one. */
static size_t s_try_userinfo(const char *s, size_t i, struct s_out *o)
{
    if (strncmp(s + i, "://", 3) != 0) {
        return 0;
    }
    size_t at = 0;
    for (size_t j = i + 3; s[j] != '\0' && strchr("/?# \t\r\n\"'<>", s[j]) == NULL; j++) {
        at = s[j] == '@' ? j : at;
    }
    if (at == 0 || at == i + 3) {
        return 0;
    }
    s_put(o, "://" S_MASK, 3 + strlen(S_MASK));
    return at - i; /* '@' is copied by the caller's next step */
}

/* Called with s_lock held. The longest secret that matches at i is masked: a shorter one that
 * is the start of a longer one ("secret-1", "secret-10") must not leave the longer one's tail. */
static size_t s_try_secret(const char *s, size_t i, size_t len, struct s_out *o)
{
    size_t best = 0;
    for (size_t k = 0; k < s_n_secrets; k++) {
        size_t n = strlen(s_secrets[k]);
        size_t rest = len - i;
        if (n > best && strncmp(s + i, s_secrets[k], n) == 0) {
            best = n;
        } else if (rest < n && rest > best && rest >= FSG_REDACT_MIN_SECRET_LEN &&
                   strncmp(s + i, s_secrets[k], rest) == 0) {
            /* A message cut in the middle of a secret ends with its first bytes. */
            best = rest;
        }
    }
    if (best > 0) {
        s_put(o, S_MASK, strlen(S_MASK));
    }
    return best;
}

/* Called with s_lock held. Writes copy[0..len) to o with registered secrets masked, and with
 * patterns (labels, schemes, user-info) too. */
static void s_pass(const char *copy, size_t len, struct s_out *o, bool patterns)
{
    for (size_t i = 0; i < len;) {
        size_t skip = s_try_secret(copy, i, len, o);
        if (skip == 0 && patterns) {
            skip = s_try_label(copy, i, o);
        }
        if (skip == 0 && patterns) {
            skip = s_try_scheme(copy, i, o);
        }
        if (skip == 0 && patterns) {
            skip = s_try_userinfo(copy, i, o);
        }
        if (skip == 0) {
            s_put(o, copy + i, 1);
            skip = 1;
        }
        i += skip;
    }
}

void fsg_redact(char *s, size_t size)
{
    if (s == NULL || size == 0) {
        return;
    }
    size_t len = strnlen(s, size - 1);
    s[len] = '\0';
    char *copy = malloc(len + 1);
    char *out = malloc(size);
    if (copy == NULL || out == NULL) {
        /* Cannot redact: say nothing rather than risk a secret. */
        snprintf(s, size, "%s", "(message withheld: out of memory while redacting it)");
        free(copy);
        free(out);
        return;
    }
    memcpy(copy, s, len + 1);
    size_t copied = len + 1; /* zeroed at the end, whatever len becomes */
    struct s_out o = { .buf = out, .size = size };
    pthread_mutex_lock(&s_lock);
    if (s_n_secrets > 0) {
        /* Registered secrets first, over the whole text: a pattern's match (a label's value, a
         * Bearer token, user-info) ends at its own stop character, which may lie inside a
         * secret ("password=abcd,efgh1234" with "abcd,efgh1234" registered) and would leave
         * the secret's tail in clear. A mask is never longer than what it replaces, so the
         * result fits where the text was. */
        s_pass(copy, len, &o, false);
        len = o.len;
        memcpy(copy, out, len);
        copy[len] = '\0';
        o.len = 0;
    }
    s_pass(copy, len, &o, true);
    pthread_mutex_unlock(&s_lock);
    out[o.len] = '\0';
    memcpy(s, out, o.len + 1);
    fsg_secure_zero(copy, copied);
    fsg_secure_zero(out, size);
    free(copy);
    free(out);
}

/* Called with s_lock held. Room for one more secret: the list grows and never forgets one (a
 * forgotten secret could leak; a warm Lambda sees few rotations, so it stays small). */
static bool s_reserve_secret(void)
{
    if (s_n_secrets < s_cap_secrets) {
        return true;
    }
    size_t cap = s_cap_secrets == 0 ? 16 : s_cap_secrets * 2;
    char **grown = realloc(s_secrets, cap * sizeof *grown);
    if (grown == NULL) {
        return false;
    }
    s_secrets = grown;
    s_cap_secrets = cap;
    return true;
}

void fsg_redact_copy(const char *in, char *out, size_t size)
{
    if (out == NULL || size == 0) {
        return;
    }
    size_t len = in != NULL ? strlen(in) : 0;
    /* A mask (3 bytes) replaces at least 1 byte: the redacted text fits in 3 * len + 1. */
    size_t room = len > (SIZE_MAX - 1) / 3 ? 0 : 3 * len + 1;
    char *tmp = room > 0 ? malloc(room) : NULL;
    if (tmp == NULL) {
        snprintf(out, size, "%s", "(text withheld: out of memory while redacting it)");
        return;
    }
    memcpy(tmp, in != NULL ? in : "", len + 1);
    fsg_redact(tmp, room);
    snprintf(out, size, "%s", tmp);
    fsg_secure_zero(tmp, room);
    free(tmp);
}

enum fsg_err fsg_redact_add_secret(const char *secret)
{
    if (secret == NULL || strlen(secret) < FSG_REDACT_MIN_SECRET_LEN) {
        return FSG_OK;
    }
    enum fsg_err rc = FSG_OK;
    pthread_mutex_lock(&s_lock);
    bool known = false;
    for (size_t k = 0; k < s_n_secrets && !known; k++) {
        known = strcmp(s_secrets[k], secret) == 0;
    }
    if (!known) {
        char *copy = s_reserve_secret() ? strdup(secret) : NULL;
        if (copy == NULL) {
            rc = FSG_E_NOMEM;
        } else {
            s_secrets[s_n_secrets++] = copy;
        }
    }
    pthread_mutex_unlock(&s_lock);
    return rc;
}

void fsg_redact_clear_secrets(void)
{
    pthread_mutex_lock(&s_lock);
    for (size_t k = 0; k < s_n_secrets; k++) {
        fsg_secure_zero(s_secrets[k], strlen(s_secrets[k]));
        free(s_secrets[k]);
        s_secrets[k] = NULL;
    }
    free(s_secrets);
    s_secrets = NULL;
    s_n_secrets = 0;
    s_cap_secrets = 0;
    pthread_mutex_unlock(&s_lock);
}
