#!/usr/bin/env python3
"""Reference evaluator of Illumio policy toward one flowseg target, written from the documented
rule semantics, NOT from flowseg's C compiler (policy/compile*.c was not read).

    python3 evaluator.py BUNDLE TARGET SOURCE PORT/PROTO
    TARGET = vs:NAME_OR_HREF | workload:NAME_OR_HREF | labels:key=value,key=value
    PORT/PROTO = 5432/tcp, 53/udp, 8.0/icmp (type.code), any/47

Input: the exported policy bundle of CONTRACT.md ("Exported policy file"): each collection exactly
as GET /api/v2/orgs/N/... returns it, plus the optional "service_bindings" and
"enforcement_boundaries" collections. Question: does the PCE allow SOURCE -> target on PORT/PROTO,
by which rules, and which override-deny rule removes it?

Documentation followed (quoted where it decides something; ref = /work/shared/ref/pce-api.md):
[D1] REST API guide, "Rulesets and Rules" (22.5/23.5): "Intra-scope rules allow communication
     between providers and consumers within a specific scope." "Extra-scope rules ... consumers
     within or outside a specified scope can access the providers within a scope. For extra-scope
     rules, the labels used in the scope must match the labels used by the provider."
[D2] Security Policy Guide 25.1, "Use a Label Group in a Scope": "When you use a label group in a
     scope, it is expanded into multiple scopes. Cross-communication is not allowed."
     (HRM|Dev|US|DB <- HRM|QA|US|DB is not allowed.)
[D3] Security Policy Guide 25.1, "Use a Label Group in a Rule": "it is expanded into multiple
     rules. Cross-communication is allowed."
[D4] Security Policy Guide 23.5, "Policy Exclusions": "excluding a label creates an 'all-but' rule
     or boundary that applies to all workloads that don't have that excluded label but do have
     another label of the same label type as the excluded label." Exclusions are allowed "in
     ruleset scopes and in rules actors".
[D5] Security Policy Guide 24.5, "Rule Writing", Permitted Rule Writing Combinations: a provider
     that "Uses virtual services" -> service "Not applicable (the service is derived from the
     virtual service)". ref §8.6: the VS's service_ports (or its service), remapped by a
     binding's port_overrides.
[D6] Security Policy Guide 25.4, "Virtual Services": "A virtual service lacks enforcement and
     relies on the enforcement of its bound workloads." "port overrides [moved] from the virtual
     service to the workload binding." ref §6 Service binding: port_overrides
     [{"port", "proto", "new_port"}]: the bound workload serves the VS's `port` on `new_port`.
[D7] Security Policy Guide 24.2/25.3, "Rules for Application Policies": Override Deny rules
     "have the highest priority and block all traffic, regardless of the position of other
     rules"; "they can't be overridden by another rule, such as any implemented Allow rules".
     Allow rules beat ordinary Deny rules (processing order: override deny, allow, deny,
     default). CloudSecure "Unified Policy": "'Global' Deny rules (also known as enforcement
     boundaries)". So for an allow-only, default-deny security group, ordinary deny rules and
     enforcement boundaries change nothing; override-deny removes its sources.
[D8] Security Policy Guide 24.5, "IP Lists" / "IP List Exclusions": ranges, CIDR blocks, single
     addresses; excluded entries are not allowed. "Rules that use IP lists are programmed on one
     side of the connection only" (never held to a scope). ref §6 IP list: from_ip [+ to_ip],
     exclusion: true entries are subtracted.
[D9] ref §6 Service: proto -1 = all protocols; TCP/UDP without `port` = every port; to_port
     makes a range; ICMP icmp_type/icmp_code (absent = all).
[D10] Endpoint User Guide 23.2, "Rulesets That Use Workload Subnets": "Use Workload Subnets" on a
     side of a rule uses the workloads' subnets instead of their individual IP addresses
     (ref §8.6c: the interface's cidr_block).
[D11] ref §8.1: only enabled rule sets and enabled rules; ref §6 Rule set: "scopes": [[]] is one
     empty scope = everything; several scopes are evaluated one by one and unioned.
[D12] ref §6 Rule: resolve_labels_as providers/consumers decide whether label actors (and ams)
     select workloads, virtual services or both; default ["workloads"]. workload,
     virtual_service and ip_list actors are literal.
[D13] ref §8.7: a workload's sources are its interface addresses (loopback skipped; an unmanaged
     workload without interfaces uses public_ip); a virtual service as a consumer stands for its
     ip_overrides, else its bound workloads.

Choices where the documentation is silent (the same as the project documents in
policy/compile.h, marked * there), listed so a reviewer can argue with them:
[C1] ams ("All Workloads") = every workload, managed or not, plus every virtual service when
     resolved as virtual services; deleted workloads are out.
[C2] A rule set with "scopes": [] applies nowhere.
[C3] workload and virtual_service actors are held to the scope like label actors (Rule Writing:
     "You can select from a range of entity types that match the scope").
[C4] The target: a virtual service = that VS and the workloads bound to it; a workload = that
     workload and the virtual services bound to it; labels = one unmanaged workload-like entity
     carrying exactly those labels, with no address and no href (label actors resolved as
     workloads and ams select it, href actors cannot).
[C5] Ports toward the target as a workload come from the rule's ingress_services (an empty list
     names no service); toward it as a virtual service, from the virtual service [D5], whatever
     the rule's ingress_services say.
[C6] Deny rules have no resolve_labels_as (ref §6 Deny rule; their actors are ams, label,
     label_group, ip_list, workload): their label and ams actors select workloads, the default
     of resolve_labels_as (ref §6 Rule), so a deny rule reaches a virtual-service target through
     the workloads bound to it, where the VEN enforces [D6], on the ports traffic arrives on
     there. An override deny removes a (source, port) whichever allow rule admitted it [D7]. A
     deny rule naming no service denies every service (the reading that denies more).
[C7] A label selector: label and label-group actors of one side form one selector: same key =
     any of, different keys = all of [D3]; exclusions per [D4]. An actor list is the union of
     that selector and its literal / ams actors; ams with excluded labels is "all except X"
     [D4: "'all except X' means 'All labeled workloads except X'"].
[C8] Two plain labels of one key in a scope (the UI does not allow it) are expanded like a label
     group: one scope per label, no cross-communication (the reading that allows less).
"""

import itertools
import json
import sys

try:
    from . import ipset
except ImportError:  # run as a script
    import ipset

PROTO_NAMES = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}


class PolicyError(Exception):
    pass


# ---- ports ------------------------------------------------------------------------------------
# A port spec is (proto, lo, hi, icmp_type, icmp_code): proto -1 = everything; TCP/UDP: the
# inclusive port range lo..hi; ICMP/ICMPv6: type/code, -1 = any; other protocols: the whole
# protocol (lo, hi None). A probe is (proto, port): port an int for TCP/UDP, (type, code) for
# ICMP/ICMPv6, None otherwise.

ALL = (-1, None, None, -1, -1)


def spec_from_service_port(sp):
    """[D9] One service_ports / inline ingress_services element -> spec."""
    proto = sp.get("proto")
    if proto is None:
        raise PolicyError(f"service port without proto: {sp}")
    proto = int(proto)
    if proto == -1:
        return ALL
    if proto in (6, 17):
        port = sp.get("port")
        if port is None:
            return (proto, 0, 65535, -1, -1)
        to = sp.get("to_port")
        return (proto, int(port), int(to) if to is not None else int(port), -1, -1)
    if proto in (1, 58):
        it = sp.get("icmp_type")
        ic = sp.get("icmp_code")
        return (proto, None, None, -1 if it is None else int(it), -1 if ic is None else int(ic))
    return (proto, None, None, -1, -1)


def spec_matches(spec, proto, port):
    sp, lo, hi, it, ic = spec
    if sp == -1:
        return True
    if sp != proto:
        return False
    if sp in (6, 17):
        return lo <= port <= hi
    if sp in (1, 58):
        t, c = port
        return (it == -1 or it == t) and (ic == -1 or ic == c)
    return True


def spec_intersect(a, b):
    if a[0] == -1:
        return b
    if b[0] == -1:
        return a
    if a[0] != b[0]:
        return None
    if a[0] in (6, 17):
        lo, hi = max(a[1], b[1]), min(a[2], b[2])
        return (a[0], lo, hi, -1, -1) if lo <= hi else None
    if a[0] in (1, 58):
        out = [a[0], None, None]
        for x, y in ((a[3], b[3]), (a[4], b[4])):
            if x == -1:
                out.append(y)
            elif y == -1 or x == y:
                out.append(x)
            else:
                return None
        return tuple(out)
    return a


def remap(spec, overrides):
    """[D6] The VS port `port` is served on `new_port` by the bound workload: the wire specs."""
    sp, lo, hi = spec[0], spec[1], spec[2]
    if sp not in (6, 17) or not overrides:
        return [spec]
    out, rest = [], [(lo, hi)]
    for ov in overrides:
        if int(ov.get("proto", -2)) != sp or ov.get("port") is None:
            continue
        p, newp = int(ov["port"]), int(ov["new_port"])
        newto = ov.get("new_to_port")
        to = ov.get("to_port")
        to = int(to) if to is not None else p
        nxt = []
        for a, b in rest:
            if b < p or a > to:
                nxt.append((a, b))
                continue
            if a < p:
                nxt.append((a, p - 1))
            if b > to:
                nxt.append((to + 1, b))
            # the overlapping part [max(a,p), min(b,to)] moves by (newp - p)
            s, e = max(a, p), min(b, to)
            if newto is not None and to == p:
                out.append((sp, newp, int(newto), -1, -1))
            else:
                out.append((sp, s - p + newp, e - p + newp, -1, -1))
        rest = nxt
    return out + [(sp, a, b, -1, -1) for a, b in rest]


def parse_probe(text):
    """'5432/tcp' -> (6, 5432); '8.0/icmp' -> (1, (8, 0)); 'any/47' -> (47, None)."""
    port, _, proto = text.partition("/")
    proto = PROTO_NAMES.get(proto.lower(), None) if not proto.lstrip("-").isdigit() else int(proto)
    if proto is None:
        raise ValueError(f"unknown protocol in {text!r}")
    if proto in (6, 17):
        return proto, int(port)
    if proto in (1, 58):
        t, _, c = port.partition(".")
        return proto, (int(t), int(c or 0))
    return proto, None


def fmt_probe(proto, port):
    name = {v: k for k, v in PROTO_NAMES.items()}.get(proto, str(proto))
    if proto in (1, 58):
        return f"{port[0]}.{port[1]}/{name}"
    return f"{port if port is not None else 'any'}/{name}"


# ---- the policy ------------------------------------------------------------------------------

class Entity:
    """A workload or a virtual service as rules see it."""

    __slots__ = ("kind", "href", "name", "labels", "obj")

    def __init__(self, kind, href, name, labels, obj):
        self.kind, self.href, self.name, self.labels, self.obj = kind, href, name, labels, obj

    def __repr__(self):
        return f"{self.kind}:{self.name or self.href}"


class Policy:
    def __init__(self, bundle):
        if not isinstance(bundle, dict):
            raise PolicyError("the bundle is not an object")
        self.labels = {}  # href -> (key, value)
        for lab in bundle.get("labels", []):
            self.labels[lab["href"]] = (lab["key"], lab["value"])
        self.groups = {g["href"]: g for g in bundle.get("label_groups", [])}
        self.services = {s["href"]: s for s in bundle.get("services", [])}
        self.ip_lists = {i["href"]: i for i in bundle.get("ip_lists", [])}
        self.workloads = {}
        for w in bundle.get("workloads", []):
            if w.get("deleted"):  # [C1] deleted workloads are out
                continue
            labs = frozenset(self._label_href(x) for x in w.get("labels") or [])
            self.workloads[w["href"]] = Entity("workload", w["href"], w.get("name"), labs, w)
        self.vss = {}
        for v in bundle.get("virtual_services", []):
            labs = frozenset(self._label_href(x) for x in v.get("labels") or [])
            self.vss[v["href"]] = Entity("vs", v["href"], v.get("name"), labs, v)
        # bindings: (vs href, workload href) -> port_overrides
        self.bindings = {}
        for v in bundle.get("virtual_services", []):
            for bw in v.get("bound_workloads") or []:
                self.bindings.setdefault((v["href"], bw["href"]), [])
        for b in bundle.get("service_bindings", []) or []:
            key = (b["virtual_service"]["href"], b["workload"]["href"])
            self.bindings.setdefault(key, [])
            self.bindings[key] = self.bindings[key] + list(b.get("port_overrides") or [])
        self.rule_sets = bundle.get("rule_sets", [])
        # [D7] enforcement boundaries are ordinary ("global") deny rules: read, no effect.
        self.boundaries = bundle.get("enforcement_boundaries", [])
        self._members = {}

    def _label_href(self, ref):
        href = ref["href"]
        if href not in self.labels:
            raise PolicyError(f"unknown label {href}")
        return href

    def label_key(self, href):
        return self.labels[href][0]

    def group_members(self, href, seen=()):
        """Every label of a label group, through nested sub_groups."""
        if href in self._members:
            return self._members[href]
        if href in seen:
            raise PolicyError(f"label group cycle at {href}")
        g = self.groups.get(href)
        if g is None:
            raise PolicyError(f"unknown label group {href}")
        out = {x["href"] for x in g.get("labels") or []}
        for sg in g.get("sub_groups") or []:
            out |= self.group_members(sg["href"], seen + (href,))
        self._members[href] = frozenset(out)
        return self._members[href]

    def group_key(self, href):
        g = self.groups[href]
        if g.get("key"):
            return g["key"]
        keys = {self.label_key(m) for m in self.group_members(href)}
        return keys.pop() if len(keys) == 1 else None

    def service_specs(self, refs):
        """ingress_services -> specs [D9]."""
        out = []
        for ref in refs or []:
            if "href" in ref:
                s = self.services.get(ref["href"])
                if s is None:
                    raise PolicyError(f"unknown service {ref['href']}")
                out += [spec_from_service_port(p) for p in s.get("service_ports") or []]
            else:
                out.append(spec_from_service_port(ref))
        return out

    def vs_specs(self, vs):
        """[D5] The ports a virtual service offers: its service_ports, or its service's."""
        o = vs.obj
        if o.get("service_ports"):
            return [spec_from_service_port(p) for p in o["service_ports"]]
        if o.get("service"):
            return self.service_specs([o["service"]])
        return []

    def workload_addresses(self, w, subnets):
        """[D13][D10] The addresses a workload is seen from."""
        s = ipset.IntervalSet()
        o = w.obj
        ifaces = o.get("interfaces") or []
        for it in ifaces:
            addr = it.get("address")
            if not addr:
                continue
            fam, n = ipset.parse_addr(addr)
            if (fam == 4 and (n >> 24) == 127) or (fam == 6 and n == 1):
                continue  # loopback
            cb = it.get("cidr_block")
            if subnets and cb is not None:
                f, lo, hi = ipset.subnet_bounds(addr, int(cb))
                s.add(f, lo, hi)
            else:
                s.add(fam, n, n)
        if not ifaces and o.get("public_ip") and not self._managed(o):
            fam, n = ipset.parse_addr(o["public_ip"])
            s.add(fam, n, n)
        return s

    @staticmethod
    def _managed(o):
        return bool((o.get("ven") or {}).get("href"))

    def vs_addresses(self, vs):
        """[D13] A virtual service as a consumer: ip_overrides, else its bound workloads."""
        s = ipset.IntervalSet()
        ovr = vs.obj.get("ip_overrides") or []
        if ovr:
            for text in ovr:
                fam, lo, hi = ipset.cidr_bounds(text)
                s.add(fam, lo, hi)
            return s
        for (vh, wh) in self.bindings:
            if vh == vs.href and wh in self.workloads:
                s.update(self.workload_addresses(self.workloads[wh], False))
        return s

    def ip_list_addresses(self, href):
        """[D8] ranges minus exclusions; FQDNs are not addresses."""
        il = self.ip_lists.get(href)
        if il is None:
            raise PolicyError(f"unknown ip list {href}")
        inc, exc = ipset.IntervalSet(), ipset.IntervalSet()
        for r in il.get("ip_ranges") or []:
            if r.get("to_ip"):
                fam, lo = ipset.parse_addr(r["from_ip"])
                _, hi = ipset.parse_addr(r["to_ip"])
            else:
                fam, lo, hi = ipset.cidr_bounds(r["from_ip"])
            (exc if r.get("exclusion") else inc).add(fam, lo, hi)
        inc.difference_update(exc)
        return inc


# ---- selectors -------------------------------------------------------------------------------

class Selector:
    """[C7] One side of a rule: label selector + literal actors + ams."""

    def __init__(self, policy, actors, resolve):
        self.p = policy
        self.resolve = set(resolve)
        self.incl, self.excl = {}, {}
        self.has_labels = False
        self.ams = False
        self.workloads, self.vss, self.ip_lists = set(), set(), []
        for a in actors or []:
            exc = bool(a.get("exclusion"))
            if "label" in a:
                self._add(policy.label_key(policy._label_href(a["label"])), {a["label"]["href"]},
                          exc)
            elif "label_group" in a:
                h = a["label_group"]["href"]
                self._add(policy.group_key(h), set(policy.group_members(h)), exc)
            elif a.get("actors") == "ams":
                self.ams = True
            elif "workload" in a:
                self.workloads.add(a["workload"]["href"])
            elif "virtual_service" in a:
                self.vss.add(a["virtual_service"]["href"])
            elif "ip_list" in a:
                self.ip_lists.append(a["ip_list"]["href"])
            else:
                raise PolicyError(f"actor the reference evaluator does not know: {a}")

    def _add(self, key, hrefs, exc):
        self.has_labels = True
        d = self.excl if exc else self.incl
        d.setdefault(key, set()).update(hrefs)

    def labels_match(self, labels):
        by_key = {self.p.label_key(h): h for h in labels}
        for key, hrefs in self.incl.items():
            if by_key.get(key) not in hrefs:
                return False
        for key, hrefs in self.excl.items():  # [D4] must carry ANOTHER label of that type
            if key not in by_key or by_key[key] in hrefs:
                return False
        return True

    def selects(self, ent):
        """ent: Entity, or the labels target (kind 'labels')."""
        kind = "workloads" if ent.kind in ("workload", "labels") else "virtual_services"
        if ent.kind == "workload" and ent.href in self.workloads:
            return True
        if ent.kind == "vs" and ent.href in self.vss:
            return True
        if kind not in self.resolve:
            return False
        if self.ams:  # [D4] "all except X": All Workloads minus the excluded labels
            return self.excl_match(ent.labels)
        return self.has_labels and self.labels_match(ent.labels)

    def excl_match(self, labels):
        by_key = {self.p.label_key(h): h for h in labels}
        return all(key in by_key and by_key[key] not in hrefs
                   for key, hrefs in self.excl.items())


def expand_scopes(policy, scopes):
    """[D2][D11][C2] -> list of expanded scopes, each a list of (key, 'in', href) /
    (key, 'ex', set) conditions. Label groups in a scope become one scope per member label."""
    out = []
    for scope in scopes:
        choices, incl = [], {}  # incl: key -> the labels one concrete scope may hold
        for item in scope:
            exc = bool(item.get("exclusion"))
            if "label" in item:
                h = policy._label_href(item["label"])
                key = policy.label_key(h)
                if exc:
                    choices.append([(key, "ex", frozenset([h]))])
                else:
                    incl.setdefault(key, set()).add(h)
            elif "label_group" in item:
                g = item["label_group"]["href"]
                members = sorted(policy.group_members(g))
                key = policy.group_key(g)
                if exc:
                    choices.append([(key, "ex", frozenset(members))])
                else:
                    for m in members:
                        incl.setdefault(policy.label_key(m), set()).add(m)
            else:
                raise PolicyError(f"scope item the reference evaluator does not know: {item}")
        # [C8] two labels of one key in a scope (the UI does not allow it) split like a group
        for key in sorted(incl):
            choices.append([(key, "in", h) for h in sorted(incl[key])])
        for combo in itertools.product(*choices):
            out.append(list(combo))
    return out


def in_scope(policy, conds, labels):
    by_key = {policy.label_key(h): h for h in labels}
    for key, op, val in conds:
        have = by_key.get(key)
        if op == "in":
            if have != val:
                return False
        elif have is None or have in val:  # [D4]
            return False
    return True


def describe_scope(policy, conds):
    parts = []
    for key, op, val in conds:
        if op == "in":
            parts.append(f"{key}={policy.labels[val][1]}")
        else:
            parts.append(f"{key}!=" + "|".join(sorted(policy.labels[v][1] for v in val)))
    return "[" + ", ".join(parts) + "]" if parts else "[all]"


# ---- the evaluator ---------------------------------------------------------------------------

class Path:
    """One way a rule reaches the target: its sources and the wire port specs."""

    __slots__ = ("rule", "rule_set", "sources", "specs", "how")

    def __init__(self, rule, rule_set, sources, specs, how):
        self.rule, self.rule_set, self.sources, self.specs, self.how = (rule, rule_set, sources,
                                                                       specs, how)

    def matches(self, proto, port):
        return any(spec_matches(s, proto, port) for s in self.specs)


class Answer:
    def __init__(self, allowed, allow_rules, deny_rules, reason):
        self.allowed, self.allow_rules, self.deny_rules, self.reason = (allowed, allow_rules,
                                                                        deny_rules, reason)

    def as_dict(self):
        return {"allowed": self.allowed, "allow_rules": self.allow_rules,
                "override_deny_rules": self.deny_rules, "reason": self.reason}


class Evaluator:
    def __init__(self, bundle, target):
        """target: {"virtual_service": NAME_OR_HREF} | {"workload": NAME_OR_HREF} |
        {"labels": {key: value}} (the config target's PCE side)."""
        self.p = Policy(bundle)
        self.endpoints = self._target(target)  # [(Entity, overrides or None)]
        self.allow_paths, self.deny_paths = [], []
        self._build()

    # [C4]
    def _target(self, t):
        p = self.p
        if t.get("virtual_service"):
            vs = self._find(p.vss, t["virtual_service"], ("name",))
            eps = []
            binds = [(wh, ov) for (vh, wh), ov in p.bindings.items()
                     if vh == vs.href and wh in p.workloads]
            if binds:
                for wh, ov in binds:
                    eps.append((vs, ov))
                    eps.append((p.workloads[wh], None))
            else:
                eps.append((vs, []))
            return eps
        if t.get("workload"):
            w = self._find(p.workloads, t["workload"], ("name", "hostname"))
            eps = [(w, None)]
            for (vh, wh), ov in p.bindings.items():
                if wh == w.href and vh in p.vss:
                    eps.append((p.vss[vh], ov))
            return eps
        if t.get("labels"):
            hrefs = set()
            for key, value in t["labels"].items():
                found = [h for h, kv in p.labels.items() if kv == (key, value)]
                if not found:
                    raise PolicyError(f"no label {key}={value}")
                hrefs.add(found[0])
            return [(Entity("labels", None, "labels target", frozenset(hrefs), {}), None)]
        raise PolicyError("the target names no virtual_service, workload or labels")

    @staticmethod
    def _find(coll, name_or_href, fields):
        if name_or_href in coll:
            return coll[name_or_href]
        alt = name_or_href.replace("/sec_policy/draft/", "/sec_policy/active/")
        if alt in coll:
            return coll[alt]
        for f in fields:
            hits = [e for e in coll.values() if e.obj.get(f) == name_or_href]
            if len(hits) == 1:
                return hits[0]
            if hits:
                raise PolicyError(f"{name_or_href!r} is ambiguous")
        raise PolicyError(f"{name_or_href!r} not found")

    def _sources(self, sel, conds, hold, subnets):
        """Addresses of what a consumer selector selects; held to conds when hold."""
        p = self.p
        s = ipset.IntervalSet()
        for w in p.workloads.values():
            if sel.selects(w) and (not hold or in_scope(p, conds, w.labels)):
                s.update(p.workload_addresses(w, subnets))
        for v in p.vss.values():
            if sel.selects(v) and (not hold or in_scope(p, conds, v.labels)):
                s.update(p.vs_addresses(v))
        for h in sel.ip_lists:  # [D8] never held to a scope
            s.update(p.ip_list_addresses(h))
        return s

    def _wire_specs(self, ent, overrides, rule_specs, deny):
        """[C5][C6] The wire ports a rule opens (or denies) toward one target entity."""
        if ent.kind != "vs":
            return list(rule_specs)
        out = []
        for e in self.p.vs_specs(ent):
            parts = [e]
            if deny:
                parts = [x for x in (spec_intersect(e, d) for d in rule_specs) if x is not None]
            for x in parts:
                out += remap(x, overrides or [])
        return out

    def _build(self):
        p = self.p
        for rs in p.rule_sets:
            if not rs.get("enabled", True):  # [D11]
                continue
            scopes = expand_scopes(p, rs.get("scopes") or [])  # [C2] [] -> no scope at all
            name = rs.get("name")
            for rule in rs.get("rules") or []:
                if not rule.get("enabled", True):
                    continue
                self._rule(rule, name, scopes, deny=False)
            for rule in rs.get("deny_rules") or []:
                if not rule.get("enabled", True):
                    continue
                if rule.get("override"):
                    self._rule(rule, name, scopes, deny=True)
                # [D7] an ordinary deny rule loses to every allow rule: nothing to do

    def _rule(self, rule, rs_name, scopes, deny):
        p = self.p
        rla = rule.get("resolve_labels_as") or {}
        if deny:  # [C6]
            rp = rc = ["workloads"]
        else:  # [D12]
            rp = rla.get("providers") or ["workloads"]
            rc = rla.get("consumers") or ["workloads"]
        prov = Selector(p, rule.get("providers"), rp)
        cons = Selector(p, rule.get("consumers"), rc)
        specs = p.service_specs(rule.get("ingress_services"))
        if deny and not specs:  # [C6]
            specs = [ALL]
        intra = not rule.get("unscoped_consumers", False)  # [D1]
        subnets = "consumers" in (rule.get("use_workload_subnets") or [])  # [D10]
        for conds in scopes:
            for ent, ov in self.endpoints:
                if not in_scope(p, conds, ent.labels) or not prov.selects(ent):
                    continue
                wire = self._wire_specs(ent, ov, specs, deny)
                if not wire:
                    continue
                src = self._sources(cons, conds, intra, subnets)
                how = (f"{'intra' if intra else 'extra'}-scope in {describe_scope(p, conds)}, "
                       f"target as {ent!r}")
                path = Path(rule["href"], rs_name, src, wire, how)
                (self.deny_paths if deny else self.allow_paths).append(path)

    # ---- questions ----
    def allowed_sources(self, proto, port):
        """Every source allowed on (proto, port): an IntervalSet."""
        s = ipset.IntervalSet()
        for path in self.allow_paths:
            if path.matches(proto, port):
                s.update(path.sources)
        if not s.empty():
            for path in self.deny_paths:
                if path.matches(proto, port):
                    s.difference_update(path.sources)
        return s

    def query(self, addr, proto, port):
        """addr: (family, int) or text. -> Answer."""
        if isinstance(addr, str):
            addr = ipset.parse_addr(addr)
        allow = sorted({pa.rule for pa in self.allow_paths
                        if pa.matches(proto, port) and pa.sources.contains(addr)})
        deny = sorted({pa.rule for pa in self.deny_paths
                       if pa.matches(proto, port) and pa.sources.contains(addr)})
        if allow and deny:
            return Answer(False, allow, deny, "allowed by " + ", ".join(allow) +
                          " but removed by override-deny " + ", ".join(deny))
        if allow:
            return Answer(True, allow, [], "allowed by " + ", ".join(allow))
        if not self.allow_paths:
            why = "no enabled rule applies to the target (scope, providers)"
        elif not any(pa.matches(proto, port) for pa in self.allow_paths):
            why = "no rule that applies to the target opens " + fmt_probe(proto, port)
        else:
            why = "no consumer of the rules open on " + fmt_probe(proto, port) + \
                  " has this address (consumers, scope, exclusions)"
        return Answer(False, [], deny, why)

    def deny_rules_of(self, addr):
        """The override-deny rules toward the target whose sources hold addr (any port)."""
        return sorted({pa.rule for pa in self.deny_paths if pa.sources.contains(addr)})

    def explain(self):
        lines = []
        for kind, paths in (("allow", self.allow_paths), ("override-deny", self.deny_paths)):
            for pa in paths:
                lines.append(f"{kind} {pa.rule} ({pa.rule_set}): {pa.how}; ports {pa.specs}; "
                             f"sources {pa.sources!r}")
        return lines


def parse_target(text):
    kind, _, rest = text.partition(":")
    if kind == "vs":
        return {"virtual_service": rest}
    if kind == "workload":
        return {"workload": rest}
    if kind == "labels":
        return {"labels": dict(kv.split("=", 1) for kv in rest.split(","))}
    raise ValueError(f"target must be vs:, workload: or labels:, not {text!r}")


def main(argv):
    if len(argv) != 5:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        bundle = json.load(f)
    ev = Evaluator(bundle, parse_target(argv[2]))
    proto, port = parse_probe(argv[4])
    ans = ev.query(argv[3], proto, port)
    print(json.dumps(ans.as_dict(), indent=2))
    return 0 if ans.allowed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
