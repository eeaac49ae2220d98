/* The only file that talks to OpenSSL. Every call's result is checked: a failing HMAC must
 * never yield a signature made from an uninitialised buffer. */
#include "lib/core/crypto.h"

#include <limits.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

enum fsg_err fsg_sha256(struct fsg_span data, uint8_t out[FSG_SHA256_LEN], struct fsg_error *err)
{
    unsigned int n = 0;
    static const uint8_t s_empty[1] = { 0 };
    const uint8_t *ptr = data.len > 0 ? data.ptr : s_empty;

    if (EVP_Digest(ptr, data.len, out, &n, EVP_sha256(), NULL) != 1 || n != FSG_SHA256_LEN) {
        fsg_crypto_cleanse(out, FSG_SHA256_LEN);
        return fsg_error_set(err, FSG_E_INTERNAL, "sha256: OpenSSL EVP_Digest failed");
    }
    return FSG_OK;
}

enum fsg_err fsg_sha256_hex(struct fsg_span data, char out_hex[FSG_SHA256_HEX_LEN + 1],
                            struct fsg_error *err)
{
    uint8_t md[FSG_SHA256_LEN];
    enum fsg_err rc = fsg_sha256(data, md, err);
    if (rc == FSG_OK) {
        fsg_hex_lower(md, sizeof md, out_hex);
    }
    return rc;
}

enum fsg_err fsg_hmac_sha256(struct fsg_span key, struct fsg_span data,
                             uint8_t out[FSG_SHA256_LEN], struct fsg_error *err)
{
    static const uint8_t s_empty[1] = { 0 };
    unsigned int n = 0;

    if (key.len > INT_MAX) {
        return fsg_error_set(err, FSG_E_INVALID_ARG, "hmac-sha256: key too long");
    }
    const uint8_t *k = key.len > 0 ? key.ptr : s_empty;
    const uint8_t *d = data.len > 0 ? data.ptr : s_empty;
    if (HMAC(EVP_sha256(), k, (int)key.len, d, data.len, out, &n) == NULL
        || n != FSG_SHA256_LEN) {
        fsg_crypto_cleanse(out, FSG_SHA256_LEN);
        return fsg_error_set(err, FSG_E_INTERNAL, "hmac-sha256: OpenSSL HMAC failed");
    }
    return FSG_OK;
}

void fsg_hex_lower(const uint8_t *in, size_t n, char *out_hex)
{
    static const char s_digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out_hex[2 * i] = s_digits[in[i] >> 4];
        out_hex[2 * i + 1] = s_digits[in[i] & 0x0f];
    }
    out_hex[2 * n] = '\0';
}

void fsg_crypto_cleanse(void *p, size_t n)
{
    if (p != NULL && n > 0) {
        OPENSSL_cleanse(p, n);
    }
}

const char *fsg_crypto_version(void)
{
    return OpenSSL_version(OPENSSL_VERSION);
}
