/* SHA-256, HMAC-SHA256 and lowercase hex: the only primitives SigV4 needs. lib/core/crypto.c is the
 * only file that includes OpenSSL headers. */
#ifndef FSG_LIB_CRYPTO_H
#define FSG_LIB_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/buf.h"
#include "lib/core/error.h"

#define FSG_SHA256_LEN 32
#define FSG_SHA256_HEX_LEN 64

/* SHA-256 of data into out. FSG_E_INTERNAL if the library call fails (never expected). */
enum fsg_err fsg_sha256(struct fsg_span data, uint8_t out[FSG_SHA256_LEN],
                        struct fsg_error *err) FSG_MUST_USE;

/* Lowercase hex SHA-256 of data: 64 characters and a NUL. */
enum fsg_err fsg_sha256_hex(struct fsg_span data, char out_hex[FSG_SHA256_HEX_LEN + 1],
                            struct fsg_error *err) FSG_MUST_USE;

/* HMAC-SHA256(key, data) into out. key may be secret: it is only borrowed, never copied. */
enum fsg_err fsg_hmac_sha256(struct fsg_span key, struct fsg_span data,
                             uint8_t out[FSG_SHA256_LEN], struct fsg_error *err) FSG_MUST_USE;

/* Writes 2*n lowercase hex characters and a NUL to out_hex (room for 2*n + 1). */
void fsg_hex_lower(const uint8_t *in, size_t n, char *out_hex);

/* Wipes memory with OpenSSL_cleanse (the compiler cannot remove it). */
void fsg_crypto_cleanse(void *p, size_t n);

/* The crypto library's version text ("OpenSSL 3.0.x ..."), for `flowseg version`. Static. */
const char *fsg_crypto_version(void);

#endif
