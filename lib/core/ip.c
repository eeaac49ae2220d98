#include "lib/core/ip.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const uint8_t s_v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

enum fsg_err fsg_ip_parse(struct fsg_span s, struct fsg_ip *ret)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    if (s.len == 0 || s.len >= sizeof tmp) {
        return FSG_E_PARSE;
    }
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = '\0';
    struct fsg_ip ip = { .is_v6 = false };
    if (memchr(tmp, ':', s.len) == NULL) {
        memcpy(ip.a, s_v4_mapped_prefix, sizeof s_v4_mapped_prefix);
        if (inet_pton(AF_INET, tmp, ip.a + 12) != 1) {
            return FSG_E_PARSE;
        }
    } else {
        ip.is_v6 = true;
        if (inet_pton(AF_INET6, tmp, ip.a) != 1) {
            return FSG_E_PARSE;
        }
    }
    *ret = ip;
    return FSG_OK;
}

const char *fsg_ip_format(const struct fsg_ip *ip, char out[FSG_IP_STR_MAX])
{
    if (ip->is_v6) {
        inet_ntop(AF_INET6, ip->a, out, FSG_IP_STR_MAX);
    } else {
        inet_ntop(AF_INET, ip->a + 12, out, FSG_IP_STR_MAX);
    }
    return out;
}

int fsg_ip_cmp(const struct fsg_ip *a, const struct fsg_ip *b)
{
    if (a->is_v6 != b->is_v6) {
        return a->is_v6 ? 1 : -1;
    }
    return memcmp(a->a, b->a, sizeof a->a);
}

bool fsg_ip_eq(const struct fsg_ip *a, const struct fsg_ip *b)
{
    return fsg_ip_cmp(a, b) == 0;
}

unsigned fsg_ip_max_prefix(const struct fsg_ip *ip)
{
    return ip->is_v6 ? 128 : 32;
}

/* Bit index into the 16-byte form where the family's address starts. */
static unsigned s_base_bits(const struct fsg_ip *ip)
{
    return ip->is_v6 ? 0 : 96;
}

static void s_mask(struct fsg_ip *ip, unsigned prefix, bool set_host_bits)
{
    unsigned first_host_bit = s_base_bits(ip) + prefix;
    for (unsigned bit = first_host_bit; bit < 128; bit++) {
        uint8_t m = (uint8_t)(0x80u >> (bit % 8));
        if (set_host_bits) {
            ip->a[bit / 8] |= m;
        } else {
            ip->a[bit / 8] &= (uint8_t)~m;
        }
    }
}

enum fsg_err fsg_cidr_parse(struct fsg_span s, bool allow_host_bits, struct fsg_cidr *ret)
{
    const uint8_t *slash = s.len > 0 ? memchr(s.ptr, '/', s.len) : NULL;
    struct fsg_span addr = s;
    struct fsg_cidr c;
    if (slash != NULL) {
        addr.len = (size_t)(slash - s.ptr);
    }
    if (fsg_ip_parse(addr, &c.addr) != FSG_OK) {
        return FSG_E_PARSE;
    }
    unsigned max = fsg_ip_max_prefix(&c.addr);
    uint64_t prefix = max;
    if (slash != NULL) {
        struct fsg_span p = { slash + 1, s.len - addr.len - 1 };
        if (p.len == 0 || p.len > 3 || fsg_span_to_u64(p, &prefix) != FSG_OK || prefix > max) {
            return FSG_E_PARSE;
        }
    }
    c.prefix = (uint8_t)prefix;
    struct fsg_ip masked = c.addr;
    s_mask(&masked, c.prefix, false);
    if (!fsg_ip_eq(&masked, &c.addr) && !allow_host_bits) {
        return FSG_E_PARSE;
    }
    c.addr = masked;
    *ret = c;
    return FSG_OK;
}

const char *fsg_cidr_format(const struct fsg_cidr *c, char out[FSG_CIDR_STR_MAX])
{
    char ip[FSG_IP_STR_MAX];
    snprintf(out, FSG_CIDR_STR_MAX, "%s/%u", fsg_ip_format(&c->addr, ip), (unsigned)c->prefix);
    return out;
}

int fsg_cidr_cmp(const struct fsg_cidr *a, const struct fsg_cidr *b)
{
    int r = fsg_ip_cmp(&a->addr, &b->addr);
    if (r != 0) {
        return r;
    }
    return (int)a->prefix - (int)b->prefix;
}

bool fsg_cidr_contains_ip(const struct fsg_cidr *c, const struct fsg_ip *ip)
{
    if (c->addr.is_v6 != ip->is_v6) {
        return false;
    }
    struct fsg_ip masked = *ip;
    s_mask(&masked, c->prefix, false);
    return fsg_ip_eq(&masked, &c->addr);
}

bool fsg_cidr_contains(const struct fsg_cidr *outer, const struct fsg_cidr *inner)
{
    return outer->prefix <= inner->prefix && fsg_cidr_contains_ip(outer, &inner->addr);
}

void fsg_cidr_first(const struct fsg_cidr *c, struct fsg_ip *ret)
{
    *ret = c->addr;
}

void fsg_cidr_last(const struct fsg_cidr *c, struct fsg_ip *ret)
{
    *ret = c->addr;
    s_mask(ret, c->prefix, true);
}

static bool s_within(const struct fsg_cidr *c, const char *block)
{
    struct fsg_cidr b;
    if (fsg_cidr_parse(fsg_span_from_cstr(block), false, &b) != FSG_OK) {
        return false;
    }
    return fsg_cidr_contains(&b, c);
}

bool fsg_cidr_is_public(const struct fsg_cidr *c)
{
    static const char *const v4_private[] = {
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
        "169.254.0.0/16", "0.0.0.0/8", "192.0.0.0/24", "198.18.0.0/15", "192.0.2.0/24",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    };
    static const char *const v6_private[] = {
        "fc00::/7", "fe80::/10", "::1/128", "::/128", "2001:db8::/32", "ff00::/8",
    };
    const char *const *list = c->addr.is_v6 ? v6_private : v4_private;
    size_t n = c->addr.is_v6 ? sizeof v6_private / sizeof *v6_private
                             : sizeof v4_private / sizeof *v4_private;
    for (size_t i = 0; i < n; i++) {
        if (s_within(c, list[i])) {
            return false;
        }
    }
    return true;
}
