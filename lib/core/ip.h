/* IPv4/IPv6 addresses and CIDR blocks: parsing, formatting, ordering, containment. */
#ifndef FSG_LIB_IP_H
#define FSG_LIB_IP_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/core/buf.h"

/* An address in network byte order. IPv4 is kept as the IPv4-mapped IPv6 form
 * (::ffff:a.b.c.d) so one 16-byte compare orders and hashes both families;
 * is_v6 tells which family the address was written in. */
struct fsg_ip {
    uint8_t a[16];
    bool is_v6;
};

struct fsg_cidr {
    struct fsg_ip addr; /* host bits are zero */
    uint8_t prefix;     /* 0..32 for IPv4, 0..128 for IPv6 */
};

/* Longest text of an address: IPv6 with embedded IPv4, and of a CIDR with "/128". */
#define FSG_IP_STR_MAX 46
#define FSG_CIDR_STR_MAX 50

/* Parses "10.0.0.1" or "2001:db8::1". FSG_E_PARSE on anything else (no zone ids, no spaces). */
enum fsg_err fsg_ip_parse(struct fsg_span s, struct fsg_ip *ret) FSG_MUST_USE;
/* Canonical text (RFC 5952 for IPv6) into out[FSG_IP_STR_MAX]; returns out. */
const char *fsg_ip_format(const struct fsg_ip *ip, char out[FSG_IP_STR_MAX]);
/* Total order: IPv4 before IPv6, then numeric. */
int fsg_ip_cmp(const struct fsg_ip *a, const struct fsg_ip *b);
bool fsg_ip_eq(const struct fsg_ip *a, const struct fsg_ip *b);
unsigned fsg_ip_max_prefix(const struct fsg_ip *ip); /* 32 or 128 */

/* Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128).
 * Host bits set ("10.0.0.1/8") is FSG_E_PARSE unless `allow_host_bits` (then they are cleared). */
enum fsg_err fsg_cidr_parse(struct fsg_span s, bool allow_host_bits, struct fsg_cidr *ret) FSG_MUST_USE;
const char *fsg_cidr_format(const struct fsg_cidr *c, char out[FSG_CIDR_STR_MAX]);
int fsg_cidr_cmp(const struct fsg_cidr *a, const struct fsg_cidr *b); /* by family, address, prefix */
bool fsg_cidr_contains_ip(const struct fsg_cidr *c, const struct fsg_ip *ip);
bool fsg_cidr_contains(const struct fsg_cidr *outer, const struct fsg_cidr *inner);
/* First and last address of a block. */
void fsg_cidr_first(const struct fsg_cidr *c, struct fsg_ip *ret);
void fsg_cidr_last(const struct fsg_cidr *c, struct fsg_ip *ret);
/* True for addresses that are not private/reserved (RFC 1918, loopback, link-local, CGNAT, ULA...). */
bool fsg_cidr_is_public(const struct fsg_cidr *c);

#endif
