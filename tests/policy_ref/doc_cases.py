#!/usr/bin/env python3
"""The reference evaluator against the documentation: one hand-written case per documented
semantic (the [Dn] references are those of evaluator.py's docstring), each with the answer the
documentation gives. A failure here means the evaluator, not flowseg, is wrong."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from evaluator import Evaluator, parse_probe  # noqa: E402

A = "/orgs/1/sec_policy/active"
LABELS = {  # key=value -> href
    f"{k}={v}": f"/orgs/1/labels/{i}" for i, (k, v) in enumerate([
        ("role", "DB"), ("role", "Web"), ("app", "HRM"), ("app", "ERP"), ("env", "Dev"),
        ("env", "QA"), ("env", "Stage"), ("env", "Prod"), ("loc", "US")], start=1)}


def lab(kv, **extra):
    return dict({"label": {"href": LABELS[kv]}}, **extra)


def wl(name, addr, *labels, managed=True, **extra):
    w = {"href": f"/orgs/1/workloads/{name}", "name": name,
         "interfaces": [{"name": "eth0", "address": addr, "cidr_block": 24}] if addr else [],
         "labels": [{"href": LABELS[x]} for x in labels],
         "ven": {"href": f"/orgs/1/vens/{name}"} if managed else None}
    w.update(extra)
    return w


def rule(n, providers, consumers, services, intra=True, resolve_p=("workloads",),
         resolve_c=("workloads",), **extra):
    r = {"href": f"{A}/rule_sets/1/sec_rules/{n}", "enabled": True, "providers": providers,
         "consumers": consumers, "ingress_services": services,
         "resolve_labels_as": {"providers": list(resolve_p), "consumers": list(resolve_c)},
         "unscoped_consumers": not intra}
    r.update(extra)
    return r


def bundle(workloads, rules, scopes=None, deny=(), enabled=True, **extra):
    b = {"labels": [{"href": h, "key": kv.split("=")[0], "value": kv.split("=")[1]}
                    for kv, h in LABELS.items()],
         "label_groups": [
             {"href": f"{A}/label_groups/nonprod", "name": "Non-Prod", "key": "env",
              "labels": [{"href": LABELS["env=Dev"]}, {"href": LABELS["env=QA"]}],
              "sub_groups": [{"href": f"{A}/label_groups/stage"}]},
             {"href": f"{A}/label_groups/stage", "name": "Stage", "key": "env",
              "labels": [{"href": LABELS["env=Stage"]}], "sub_groups": []}],
         "workloads": workloads,
         "rule_sets": [{"href": f"{A}/rule_sets/1", "name": "RS", "enabled": enabled,
                        "scopes": [[]] if scopes is None else scopes, "rules": rules,
                        "deny_rules": list(deny)}],
         "ip_lists": [{"href": f"{A}/ip_lists/1", "name": "IPL",
                       "ip_ranges": [{"from_ip": "192.168.1.0/24"},
                                     {"from_ip": "192.168.1.5", "exclusion": True},
                                     {"from_ip": "172.16.0.10", "to_ip": "172.16.0.20"},
                                     {"from_ip": "2001:db8::/126"}],
                       "fqdns": [{"fqdn": "vpn.example.com"}]}],
         "services": [{"href": f"{A}/services/mysql", "name": "MySQL",
                       "service_ports": [{"port": 3306, "proto": 6}]},
                      {"href": f"{A}/services/all", "name": "All Services",
                       "service_ports": [{"proto": -1}]}],
         "virtual_services": []}
    b.update(extra)
    return b


MYSQL = [{"href": f"{A}/services/mysql"}]
DB = "/orgs/1/workloads/db"
VS = {"href": f"{A}/virtual_services/vs", "name": "VS-DB", "service_ports": [{"port": 5432,
                                                                               "proto": 6}],
      "labels": [{"href": LABELS["role=DB"], "key": "role", "value": "DB"}],
      "ip_overrides": [], "bound_workloads": [{"href": DB}]}

# (name, doc reference, bundle, target, [(source, probe, allowed?), ...])
CASES = []


def case(name, ref, b, target, probes):
    CASES.append((name, ref, b, target, probes))


# [D2] Use a Label Group in a Scope: HRM|Dev|US|DB <- HRM|Dev|US|DB yes, <- HRM|QA / Stage no.
case("label group in a scope: no cross-communication", "D2",
     bundle([wl("db", "10.0.0.1", "role=DB", "app=HRM", "env=Dev", "loc=US"),
             wl("db2", "10.0.0.2", "role=DB", "app=HRM", "env=Dev", "loc=US"),
             wl("qa", "10.0.0.3", "role=DB", "app=HRM", "env=QA", "loc=US"),
             wl("stage", "10.0.0.4", "role=DB", "app=HRM", "env=Stage", "loc=US")],
            [rule(1, [lab("role=DB")], [lab("role=DB")], MYSQL)],
            scopes=[[lab("app=HRM"), {"label_group": {"href": f"{A}/label_groups/nonprod"}},
                     lab("loc=US")]]),
     {"workload": "db"}, [("10.0.0.2", "3306/tcp", True), ("10.0.0.3", "3306/tcp", False),
                          ("10.0.0.4", "3306/tcp", False)])

# [D3] Use a Label Group in a Rule: Dev <- QA and Dev <- Stage are allowed.
case("label group in a rule: cross-communication", "D3",
     bundle([wl("db", "10.0.0.1", "role=DB", "app=HRM", "env=Dev", "loc=US"),
             wl("qa", "10.0.0.3", "role=DB", "app=HRM", "env=QA", "loc=US"),
             wl("stage", "10.0.0.4", "role=DB", "app=HRM", "env=Stage", "loc=US"),
             wl("prod", "10.0.0.5", "role=DB", "app=HRM", "env=Prod", "loc=US")],
            [rule(1, [lab("role=DB"), {"label_group": {"href": f"{A}/label_groups/nonprod"}}],
                  [lab("role=DB"), {"label_group": {"href": f"{A}/label_groups/nonprod"}}],
                  MYSQL)],
            scopes=[[lab("app=HRM"), lab("loc=US")]]),
     {"workload": "db"}, [("10.0.0.3", "3306/tcp", True), ("10.0.0.4", "3306/tcp", True),
                          ("10.0.0.5", "3306/tcp", False)])

# [D4] Policy Exclusions: env != Prod selects Dev, not Prod, not a workload without env.
case("exclusion among consumers", "D4",
     bundle([wl("db", "10.0.0.1", "role=DB"),
             wl("dev", "10.0.1.1", "role=Web", "env=Dev"),
             wl("prod", "10.0.1.2", "role=Web", "env=Prod"),
             wl("noenv", "10.0.1.3", "role=Web")],
            [rule(1, [lab("role=DB")], [lab("env=Prod", exclusion=True)], MYSQL)]),
     {"workload": "db"}, [("10.0.1.1", "3306/tcp", True), ("10.0.1.2", "3306/tcp", False),
                          ("10.0.1.3", "3306/tcp", False)])
case("All Workloads except Prod", "D4",
     bundle([wl("db", "10.0.0.1", "role=DB"),
             wl("dev", "10.0.1.1", "role=Web", "env=Dev"),
             wl("prod", "10.0.1.2", "role=Web", "env=Prod"),
             wl("noenv", "10.0.1.3", "role=Web")],
            [rule(1, [lab("role=DB")], [{"actors": "ams"}, lab("env=Prod", exclusion=True)],
                  MYSQL)]),
     {"workload": "db"}, [("10.0.1.1", "3306/tcp", True), ("10.0.1.2", "3306/tcp", False),
                          ("10.0.1.3", "3306/tcp", False)])
case("exclusion in a scope", "D4",
     bundle([wl("db", "10.0.0.1", "role=DB", "env=Dev"),
             wl("db-noenv", "10.0.0.2", "role=DB"),
             wl("web", "10.0.1.1", "role=Web", "env=QA")],
            [rule(1, [lab("role=DB")], [lab("role=Web")], MYSQL, intra=False)],
            scopes=[[lab("env=Prod", exclusion=True)]]),
     {"workload": "db"}, [("10.0.1.1", "3306/tcp", True)])
case("exclusion in a scope: a target without the label type is out", "D4",
     bundle([wl("db", "10.0.0.1", "role=DB"), wl("web", "10.0.1.1", "role=Web", "env=QA")],
            [rule(1, [lab("role=DB")], [lab("role=Web")], MYSQL, intra=False)],
            scopes=[[lab("env=Prod", exclusion=True)]]),
     {"workload": "db"}, [("10.0.1.1", "3306/tcp", False)])

# [D1] intra-scope holds consumers to the scope; extra-scope does not, providers still are.
_scoped = [wl("db", "10.0.0.1", "role=DB", "app=HRM"), wl("in", "10.0.1.1", "role=Web", "app=HRM"),
           wl("out", "10.0.1.2", "role=Web", "app=ERP")]
case("intra-scope rule", "D1",
     bundle(_scoped, [rule(1, [lab("role=DB")], [lab("role=Web")], MYSQL)],
            scopes=[[lab("app=HRM")]]),
     {"workload": "db"}, [("10.0.1.1", "3306/tcp", True), ("10.0.1.2", "3306/tcp", False)])
case("extra-scope rule", "D1",
     bundle(_scoped, [rule(1, [lab("role=DB")], [lab("role=Web")], MYSQL, intra=False)],
            scopes=[[lab("app=HRM")]]),
     {"workload": "db"}, [("10.0.1.1", "3306/tcp", True), ("10.0.1.2", "3306/tcp", True)])
case("extra-scope rule: the provider must match the scope", "D1",
     bundle(_scoped, [rule(1, [lab("role=DB")], [lab("role=Web")], MYSQL, intra=False)],
            scopes=[[lab("app=ERP")]]),
     {"workload": "db"}, [("10.0.1.1", "3306/tcp", False), ("10.0.1.2", "3306/tcp", False)])

# [D5] a rule toward a virtual service: the service is derived from the VS, even "All Services".
_vs_bundle = dict(virtual_services=[VS])
case("virtual-service provider: service derived from the VS", "D5",
     bundle([wl("db", "10.0.0.1", managed=False), wl("web", "10.0.1.1", "role=Web")],
            [rule(1, [lab("role=DB")], [lab("role=Web")], [{"href": f"{A}/services/all"}],
                  resolve_p=("virtual_services",))], **_vs_bundle),
     {"virtual_service": "VS-DB"}, [("10.0.1.1", "5432/tcp", True), ("10.0.1.1", "22/tcp", False),
                                    ("10.0.1.1", "53/udp", False)])
# [D6] the binding's port_overrides: the bound workload serves 5432 on 15432.
case("binding port_overrides", "D6",
     bundle([wl("db", "10.0.0.1", managed=False), wl("web", "10.0.1.1", "role=Web")],
            [rule(1, [lab("role=DB")], [lab("role=Web")], [],
                  resolve_p=("virtual_services",))], virtual_services=[VS],
            service_bindings=[{"href": "/orgs/1/service_bindings/1",
                               "virtual_service": {"href": VS["href"]},
                               "workload": {"href": DB},
                               "port_overrides": [{"port": 5432, "proto": 6,
                                                   "new_port": 15432}]}]),
     {"virtual_service": "VS-DB"}, [("10.0.1.1", "15432/tcp", True),
                                    ("10.0.1.1", "5432/tcp", False)])

# [D7] override deny beats allow; ordinary deny rules and enforcement boundaries lose to it.
_web2 = [wl("db", "10.0.0.1", "role=DB"), wl("web", "10.0.1.1", "role=Web"),
         wl("web2", "10.0.1.2", "role=Web")]
_deny = {"href": f"{A}/rule_sets/1/deny_rules/1", "enabled": True,
         "providers": [{"actors": "ams"}], "consumers": [{"workload": {"href": "/orgs/1/workloads/web2"}}],
         "ingress_services": MYSQL, "unscoped_consumers": True}
case("override deny removes its sources", "D7",
     bundle(_web2, [rule(1, [lab("role=DB")], [lab("role=Web")], MYSQL)],
            deny=[dict(_deny, override=True)]),
     {"workload": "db"}, [("10.0.1.1", "3306/tcp", True), ("10.0.1.2", "3306/tcp", False)])
case("ordinary deny and enforcement boundaries change nothing", "D7",
     bundle(_web2, [rule(1, [lab("role=DB")], [lab("role=Web")], MYSQL)],
            deny=[dict(_deny, override=False)],
            enforcement_boundaries=[{"href": "/orgs/1/sec_policy/active/enforcement_boundaries/1",
                                     "providers": [{"actors": "ams"}],
                                     "consumers": [{"actors": "ams"}],
                                     "ingress_services": [{"proto": -1}]}]),
     {"workload": "db"}, [("10.0.1.1", "3306/tcp", True), ("10.0.1.2", "3306/tcp", True)])

# [C6] a deny rule's labels select workloads: it reaches a virtual service through the workload
# bound to it, on the port traffic arrives on there; naming no service, it denies them all.
case("override deny reaches a VS through its bound workload", "C6",
     bundle([wl("db", "10.0.0.1", "role=Web", managed=False), wl("web", "10.0.1.1", "role=Web"),
             wl("web2", "10.0.1.2", "role=Web")],
            [rule(1, [lab("role=DB")], [lab("role=Web")], [], resolve_p=("virtual_services",))],
            deny=[dict(_deny, override=True, providers=[lab("role=Web")], ingress_services=[])],
            virtual_services=[VS]),
     {"virtual_service": "VS-DB"}, [("10.0.1.1", "5432/tcp", True),
                                    ("10.0.1.2", "5432/tcp", False)])
case("override deny on labels only the VS carries", "C6",
     bundle([wl("db", "10.0.0.1", managed=False), wl("web", "10.0.1.1", "role=Web"),
             wl("web2", "10.0.1.2", "role=Web")],
            [rule(1, [lab("role=DB")], [lab("role=Web")], [], resolve_p=("virtual_services",))],
            deny=[dict(_deny, override=True, providers=[lab("role=DB")])],
            virtual_services=[VS]),
     {"virtual_service": "VS-DB"}, [("10.0.1.2", "5432/tcp", True)])

# [D8] ip lists: CIDR, exclusion, from-to range (inclusive), IPv6; not held to the scope.
case("ip list ranges and exclusions", "D8",
     bundle([wl("db", "10.0.0.1", "role=DB", "app=HRM")],
            [rule(1, [lab("role=DB")], [{"ip_list": {"href": f"{A}/ip_lists/1"}}], MYSQL)],
            scopes=[[lab("app=HRM")]]),
     {"workload": "db"}, [("192.168.1.0", "3306/tcp", True), ("192.168.1.255", "3306/tcp", True),
                          ("192.168.1.5", "3306/tcp", False), ("192.168.2.0", "3306/tcp", False),
                          ("172.16.0.10", "3306/tcp", True), ("172.16.0.20", "3306/tcp", True),
                          ("172.16.0.21", "3306/tcp", False), ("172.16.0.9", "3306/tcp", False),
                          ("2001:db8::3", "3306/tcp", True), ("2001:db8::4", "3306/tcp", False)])

# [D9] services: ranges, all ports of a protocol, all services, ICMP type/code.
case("service ports", "D9",
     bundle([wl("db", "10.0.0.1", "role=DB"), wl("web", "10.0.1.1", "role=Web")],
            [rule(1, [lab("role=DB")], [lab("role=Web")],
                  [{"port": 5000, "to_port": 5010, "proto": 6}, {"proto": 17},
                   {"proto": 1, "icmp_type": 8, "icmp_code": 0}])]),
     {"workload": "db"}, [("10.0.1.1", "5000/tcp", True), ("10.0.1.1", "5010/tcp", True),
                          ("10.0.1.1", "5011/tcp", False), ("10.0.1.1", "4999/tcp", False),
                          ("10.0.1.1", "1/udp", True), ("10.0.1.1", "65535/udp", True),
                          ("10.0.1.1", "8.0/icmp", True), ("10.0.1.1", "8.1/icmp", False),
                          ("10.0.1.1", "any/47", False)])
case("All Services", "D9",
     bundle([wl("db", "10.0.0.1", "role=DB"), wl("web", "10.0.1.1", "role=Web")],
            [rule(1, [lab("role=DB")], [lab("role=Web")], [{"href": f"{A}/services/all"}])]),
     {"workload": "db"}, [("10.0.1.1", "22/tcp", True), ("10.0.1.1", "any/47", True)])

# [D10] use workload subnets: the consumer's interface subnet.
case("use_workload_subnets", "D10",
     bundle([wl("db", "10.0.0.1", "role=DB"), wl("web", "10.0.1.1", "role=Web")],
            [rule(1, [lab("role=DB")], [lab("role=Web")], MYSQL,
                  use_workload_subnets=["consumers"])]),
     {"workload": "db"}, [("10.0.1.200", "3306/tcp", True), ("10.0.2.1", "3306/tcp", False)])

# [D11] disabled rule sets and rules; scopes [] applies nowhere [C2]; [[]] everywhere.
case("disabled rule set", "D11",
     bundle(_web2, [rule(1, [lab("role=DB")], [lab("role=Web")], MYSQL)], enabled=False),
     {"workload": "db"}, [("10.0.1.1", "3306/tcp", False)])
case("disabled rule", "D11",
     bundle(_web2, [rule(1, [lab("role=DB")], [lab("role=Web")], MYSQL, enabled=False)]),
     {"workload": "db"}, [("10.0.1.1", "3306/tcp", False)])
case("no scope at all", "C2",
     bundle(_web2, [rule(1, [lab("role=DB")], [lab("role=Web")], MYSQL)], scopes=[]),
     {"workload": "db"}, [("10.0.1.1", "3306/tcp", False)])

# [D12] resolve_labels_as: a provider label resolved as workloads does not select the VS; a
# consumer label resolved as virtual services stands for the VS's ip_overrides [D13].
case("resolve_labels_as", "D12",
     bundle([wl("db", "10.0.0.1", managed=False)],
            [rule(1, [lab("role=DB")], [lab("role=Web")], [], resolve_p=("virtual_services",),
                  resolve_c=("virtual_services",))],
            virtual_services=[VS, {"href": f"{A}/virtual_services/web", "name": "VS-Web",
                                   "service_ports": [{"port": 80, "proto": 6}],
                                   "labels": [{"href": LABELS["role=Web"]}],
                                   "ip_overrides": ["10.9.9.9"], "bound_workloads": []}]),
     {"virtual_service": "VS-DB"}, [("10.9.9.9", "5432/tcp", True)])
case("resolve_labels_as: workloads only does not select a VS", "D12",
     bundle([wl("db", "10.0.0.1", managed=False), wl("web", "10.0.1.1", "role=Web")],
            [rule(1, [lab("role=DB")], [lab("role=Web")], MYSQL)],
            virtual_services=[dict(VS, bound_workloads=[])]),
     {"virtual_service": "VS-DB"}, [("10.0.1.1", "3306/tcp", False), ("10.0.1.1", "5432/tcp", False)])

# [D13] sources: every interface, loopback out, public_ip of an unmanaged workload without
# interfaces; [C1] ams includes unmanaged workloads.
case("workload addresses, ams with unmanaged workloads", "D13",
     bundle([wl("db", "10.0.0.1", "role=DB"),
             wl("multi", "10.0.1.1", "role=Web", interfaces=[
                 {"name": "eth0", "address": "fd00::5", "cidr_block": 64},
                 {"name": "eth0", "address": "10.0.1.1", "cidr_block": 24},
                 {"name": "lo", "address": "127.0.0.1", "cidr_block": 8}]),
             wl("unmanaged", None, "role=Web", managed=False, public_ip="203.0.113.7")],
            [rule(1, [lab("role=DB")], [{"actors": "ams"}], MYSQL)]),
     {"workload": "db"}, [("fd00::5", "3306/tcp", True), ("10.0.1.1", "3306/tcp", True),
                          ("127.0.0.1", "3306/tcp", False), ("203.0.113.7", "3306/tcp", True)])


def main():
    failures = 0
    for name, ref, b, target, probes in CASES:
        ev = Evaluator(b, target)
        for src, probe, want in probes:
            got = ev.query(src, *parse_probe(probe))
            ok = got.allowed == want
            failures += not ok
            print(f"{'ok' if ok else 'FAIL'}: [{ref}] {name}: {src} -> {probe}: "
                  f"{'allowed' if got.allowed else 'not allowed'} ({got.reason})")
    print(f"{len(CASES)} documented cases, {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
