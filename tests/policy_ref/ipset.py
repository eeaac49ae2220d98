"""Address arithmetic for the reference evaluator: addresses are (family, int) with family 4 or
6; an IntervalSet is a sorted list of disjoint inclusive [lo, hi] ranges per family.
Standard library only (ipaddress)."""

import bisect
import ipaddress

MAX = {4: (1 << 32) - 1, 6: (1 << 128) - 1}


def parse_addr(text):
    """'10.0.0.1' or 'fd00::1' -> (family, int)."""
    a = ipaddress.ip_address(text)
    return (a.version, int(a))


def fmt_addr(addr):
    fam, n = addr
    return str(ipaddress.IPv4Address(n) if fam == 4 else ipaddress.IPv6Address(n))


def cidr_bounds(text, strict=False):
    """'10.0.0.0/24' (or a single address) -> (family, first, last)."""
    net = ipaddress.ip_network(text, strict=strict)
    return (net.version, int(net.network_address), int(net.broadcast_address))


def subnet_bounds(address, prefix):
    """The subnet an interface sits in: address 10.0.1.11, prefix 24 -> 10.0.1.0 .. 10.0.1.255."""
    a = ipaddress.ip_address(address)
    net = ipaddress.ip_network(f"{a}/{prefix}", strict=False)
    return (net.version, int(net.network_address), int(net.broadcast_address))


class IntervalSet:
    """Set of addresses of both families, as sorted disjoint inclusive ranges."""

    __slots__ = ("r",)

    def __init__(self):
        self.r = {4: [], 6: []}

    def copy(self):
        s = IntervalSet()
        s.r = {4: list(self.r[4]), 6: list(self.r[6])}
        return s

    def add(self, fam, lo, hi):
        if lo > hi:
            return
        out, placed = [], False
        for a, b in self.r[fam]:
            if b + 1 < lo:
                out.append((a, b))
            elif hi + 1 < a:
                if not placed:
                    out.append((lo, hi))
                    placed = True
                out.append((a, b))
            else:
                lo, hi = min(lo, a), max(hi, b)
        if not placed:
            out.append((lo, hi))
        out.sort()
        self.r[fam] = out

    def update(self, other):
        for fam in (4, 6):
            for a, b in other.r[fam]:
                self.add(fam, a, b)

    def subtract(self, fam, lo, hi):
        out = []
        for a, b in self.r[fam]:
            if b < lo or a > hi:
                out.append((a, b))
                continue
            if a < lo:
                out.append((a, lo - 1))
            if b > hi:
                out.append((hi + 1, b))
        self.r[fam] = out

    def difference_update(self, other):
        for fam in (4, 6):
            for a, b in other.r[fam]:
                self.subtract(fam, a, b)

    def contains(self, addr):
        fam, n = addr
        rs = self.r[fam]
        i = bisect.bisect_right(rs, (n, MAX[6] + 1)) - 1
        return i >= 0 and rs[i][0] <= n <= rs[i][1]

    def empty(self):
        return not self.r[4] and not self.r[6]

    def __eq__(self, other):
        return self.r == other.r

    def ranges(self):
        for fam in (4, 6):
            for a, b in self.r[fam]:
                yield fam, a, b

    def boundaries(self):
        """First/last address of every range and one below/above (inside the family)."""
        for fam, a, b in self.ranges():
            for n in (a - 1, a, b, b + 1):
                if 0 <= n <= MAX[fam]:
                    yield (fam, n)

    def __repr__(self):
        parts = []
        for fam, a, b in self.ranges():
            parts.append(fmt_addr((fam, a)) if a == b else
                         f"{fmt_addr((fam, a))}-{fmt_addr((fam, b))}")
        return "{" + ", ".join(parts) + "}"
