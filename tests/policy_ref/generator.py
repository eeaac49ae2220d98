#!/usr/bin/env python3
"""Random exported-policy bundles (CONTRACT.md "Exported policy file"), seeded and reproducible:
generate(seed, features) always returns the same bundle and targets for the same arguments.

    python3 generator.py SEED [FEATURE=0|1 ...]   # prints {"bundle": ..., "targets": [...]}

Every feature of FEATURES can be switched off (the differential test switches off what the
compiler does not support yet, and says why)."""

import ipaddress
import json
import random
import sys

# name -> what it adds to the random policies
FEATURES = {
    "label_groups": "label groups (nested) in rule actors",
    "scope_label_groups": "label groups in rule-set scopes (one scope per member, [D2])",
    "exclusions": "excluded labels / label groups in scopes and actors ([D4])",
    "multi_scopes": "rule sets with several scopes, and with none",
    "ipv6": "IPv6 interfaces, ip-list ranges and overrides",
    "unmanaged": "unmanaged workloads (public_ip only, no interfaces)",
    "ip_list_ranges": "ip lists with from-to ranges and exclusions",
    "port_ranges": "services with port ranges, all ports, all services, ICMP, other protocols",
    "vs_ports": "rules toward virtual services whose own services differ from the VS ports ([D5])",
    "vs_only_services": "rules resolved as virtual services only that still name ingress_services"
                        " (the UI shows \"derived from the virtual service\"; API only)",
    "port_overrides": "service bindings with port_overrides ([D6])",
    "deny": "ordinary deny rules (no effect on an allow-only group, [D7])",
    "override_deny": "override-deny rules ([D7])",
    "use_workload_subnets": "rules with use_workload_subnets: [\"consumers\"] ([D10])",
    "enforcement_boundaries": "enforcement_boundaries in the bundle ([D7])",
    "disabled": "disabled rule sets and rules",
    "vs_consumers": "virtual services as consumers (ip_overrides, bound workloads)",
}

KEYS = {
    "role": ["Web", "API", "Database", "Batch"],
    "app": ["Orders", "Billing", "HR"],
    "env": ["Prod", "Dev", "QA", "Stage"],
    "loc": ["US", "EU"],
}
ORG = "/orgs/1"
ACTIVE = ORG + "/sec_policy/active"


class Gen:
    def __init__(self, seed, features):
        self.r = random.Random(seed)
        self.f = {k: features.get(k, True) for k in FEATURES}
        self.labels = []          # label objects
        self.lab = {}             # (key, value) -> href
        self.groups = []
        self.groups_by_key = {}
        self.workloads = []
        self.vss = []
        self.bindings = []
        self.services = []
        self.ip_lists = []
        self.rule_sets = []
        self.n = 0
        self.v4_used = set()

    def on(self, feat, p=1.0):
        return self.f[feat] and self.r.random() < p

    def nid(self):
        self.n += 1
        return self.n

    # ---- labels and groups ----
    def make_labels(self):
        i = 0
        for key, values in KEYS.items():
            for v in values:
                i += 1
                href = f"{ORG}/labels/{i}"
                self.labels.append({"href": href, "key": key, "value": v})
                self.lab[(key, v)] = href
        if not (self.f["label_groups"] or self.f["scope_label_groups"]):
            return
        for key in ("env", "app", "role"):
            vals = KEYS[key]
            for _ in range(self.r.randint(1, 2)):
                members = self.r.sample(vals, self.r.randint(1, min(3, len(vals))))
                g = {"href": f"{ACTIVE}/label_groups/g{self.nid()}", "name": f"LG-{key}",
                     "key": key, "labels": [], "sub_groups": []}
                # nested: some members through a sub-group
                prev = self.groups_by_key.get(key, [])
                if prev and self.r.random() < 0.5:
                    sub = self.r.choice(prev)
                    g["sub_groups"].append({"href": sub["href"], "name": sub["name"]})
                g["labels"] = [{"href": self.lab[(key, v)], "key": key, "value": v}
                               for v in members]
                self.groups.append(g)
                self.groups_by_key.setdefault(key, []).append(g)

    def lref(self, key, value):
        return {"href": self.lab[(key, value)]}

    # ---- addresses ----
    def v4(self):
        while True:
            a = f"10.{self.r.choice([0, 1, 2])}.{self.r.randint(0, 3)}.{self.r.randint(1, 254)}"
            if a not in self.v4_used:
                self.v4_used.add(a)
                return a

    def v6(self):
        return f"fd00:{self.r.randint(0, 2):x}::{self.r.randint(1, 0xffff):x}"

    def interfaces(self):
        out = [{"name": "eth0", "address": self.v4(), "cidr_block": self.r.choice([24, 28, 30, 32]),
                "link_state": "up"}]
        if self.on("ipv6", 0.4):
            iface = {"name": "eth0", "address": self.v6(),
                     "cidr_block": self.r.choice([64, 112, 120, 128]), "link_state": "up"}
            if self.r.random() < 0.5:
                out.insert(0, iface)  # IPv6 may come first (ref §6 Workload)
            else:
                out.append(iface)
        if self.r.random() < 0.15:
            out.append({"name": "lo", "address": "127.0.0.1", "cidr_block": 8})
        if self.r.random() < 0.15:
            out.append({"name": "eth1", "address": self.v4(), "cidr_block": 24})
        return out

    def wl_labels(self, must=None):
        out = []
        for key, vals in KEYS.items():
            if must and key in must:
                out.append(self.lref(key, must[key]))
            elif self.r.random() < 0.8:  # some workloads lack a label type ([D4] matters)
                out.append(self.lref(key, self.r.choice(vals)))
        return out

    def make_workloads(self):
        # the database: an unmanaged workload standing for the RDS ENI (ref §9)
        db = {"href": f"{ORG}/workloads/rds-db", "name": "rds-db (Amazon RDS)",
              "hostname": "rds-db.example.rds.amazonaws.com", "public_ip": None,
              "interfaces": [{"name": "eth0", "address": "10.3.0.10", "cidr_block": 24}],
              "labels": self.wl_labels({"role": "Database"}), "ven": None}
        self.workloads.append(db)
        for i in range(self.r.randint(4, 10)):
            w = {"href": f"{ORG}/workloads/w{i}", "name": f"wl-{i}", "hostname": f"wl-{i}.internal",
                 "labels": self.wl_labels()}
            if self.on("unmanaged", 0.3):
                w["ven"] = None
                if self.r.random() < 0.5:
                    w["interfaces"] = []
                    w["public_ip"] = self.v4()
                else:
                    w["interfaces"] = self.interfaces()
                    w["public_ip"] = None
            else:
                w["ven"] = {"href": f"{ORG}/vens/v{i}"}
                w["interfaces"] = self.interfaces()
            if self.r.random() < 0.05:
                w["deleted"] = True  # a deleted workload is no source ([C1])
            self.workloads.append(w)

    # ---- services ----
    def port_entry(self, for_vs=False):
        r = self.r
        choices = ["single", "single", "udp"]
        if self.f["port_ranges"] and not for_vs:
            choices += ["range", "allports", "all", "icmp", "icmp_all", "gre"]
        elif self.f["port_ranges"]:
            choices += ["range"]
        c = r.choice(choices)
        base = r.choice([5432, 3306, 1433, 8080, 443])
        if c == "single":
            return {"port": base + r.choice([0, 0, 1]), "proto": 6}
        if c == "udp":
            return {"port": base, "proto": 17}
        if c == "range":
            return {"port": base, "to_port": base + r.randint(1, 20), "proto": r.choice([6, 6, 17])}
        if c == "allports":
            return {"proto": r.choice([6, 17])}
        if c == "all":
            return {"proto": -1}
        if c == "icmp":
            return {"proto": 1, "icmp_type": 8, "icmp_code": 0}
        if c == "icmp_all":
            return {"proto": r.choice([1, 58])}
        return {"proto": 47}

    def make_services(self):
        for i in range(self.r.randint(2, 4)):
            s = {"href": f"{ACTIVE}/services/{i + 1}", "name": f"S-{i + 1}",
                 "service_ports": [self.port_entry() for _ in range(self.r.randint(1, 2))]}
            self.services.append(s)

    def ingress(self):
        out = []
        for _ in range(self.r.randint(1, 2)):
            if self.services and self.r.random() < 0.6:
                out.append({"href": self.r.choice(self.services)["href"]})
            else:
                out.append(self.port_entry())
        return out

    # ---- ip lists ----
    def make_ip_lists(self):
        r = self.r
        for i in range(r.randint(1, 3)):
            ranges = []
            if r.random() < 0.1:
                ranges = [{"from_ip": "0.0.0.0/0", "exclusion": False}]
                if self.f["ipv6"]:
                    ranges.append({"from_ip": "::/0", "exclusion": False})
            for _ in range(r.randint(1, 3)):
                if self.f["ipv6"] and r.random() < 0.25:
                    net = ipaddress.ip_network(f"{self.v6()}/{r.choice([64, 120, 126, 128])}",
                                               strict=False)
                else:
                    net = ipaddress.ip_network(
                        f"{self.v4()}/{r.choice([16, 22, 24, 28, 30, 32])}", strict=False)
                ranges.append({"from_ip": str(net) if net.num_addresses > 1
                               else str(net.network_address), "exclusion": False})
                if self.on("ip_list_ranges", 0.5) and net.num_addresses > 4:
                    # an exclusion inside, sometimes a range
                    a = int(net.network_address) + r.randint(1, min(net.num_addresses - 2, 300))
                    if r.random() < 0.5:
                        ranges.append({"from_ip": str(ipaddress.ip_address(a)), "exclusion": True})
                    else:
                        b = min(a + r.randint(1, 20), int(net.broadcast_address))
                        ranges.append({"from_ip": str(ipaddress.ip_address(a)),
                                       "to_ip": str(ipaddress.ip_address(b)), "exclusion": True})
            if r.random() < 0.05:
                # "0.0.0.0" without a prefix is that one address, not "any" (ref §6 IP list)
                ranges.append({"from_ip": "0.0.0.0", "exclusion": False})
            if r.random() < 0.05:
                # a CIDR written with host bits set stands for its whole block
                ranges.append({"from_ip": f"{self.v4()}/26", "exclusion": False})
            if self.on("ip_list_ranges", 0.4):
                a = ipaddress.ip_address(self.v4())
                ranges.append({"from_ip": str(a), "to_ip": str(a + r.randint(1, 40)),
                               "exclusion": False})
            il = {"href": f"{ACTIVE}/ip_lists/{i + 1}", "name": f"IPL-{i + 1}",
                  "ip_ranges": ranges, "fqdns": []}
            if r.random() < 0.1:
                il["fqdns"] = [{"fqdn": "vpn.example.com"}]
            self.ip_lists.append(il)

    # ---- virtual services ----
    def make_vss(self):
        r = self.r
        db = self.workloads[0]
        db_labels = {self.labels_by_href(x["href"]) for x in db["labels"]}
        for i in range(r.randint(1, 3)):
            href = f"{ACTIVE}/virtual_services/vs{i}"
            target = i == 0
            if target:
                labs = [dict(zip(("key", "value"), kv)) for kv in sorted(db_labels)]
                if r.random() < 0.3:  # the VS may carry other labels than its workload
                    labs = [{"key": "role", "value": "Database"},
                            {"key": "app", "value": r.choice(KEYS["app"])}]
            else:
                labs = [{"key": k, "value": r.choice(KEYS[k])} for k in ("role", "app")
                        if r.random() < 0.8]
            vs = {"href": href, "name": "VS-RDS" if target else f"VS-{i}", "apply_to": "host_only",
                  "service_addresses": [{"fqdn": f"vs{i}.example.com"}],
                  "labels": [{"href": self.lab[(x['key'], x['value'])], **x} for x in labs],
                  "ip_overrides": []}
            if self.services and r.random() < 0.2:
                vs["service"] = {"href": r.choice(self.services)["href"]}
            else:
                vs["service_ports"] = [self.port_entry(for_vs=True)
                                       for _ in range(r.randint(1, 2))]
            if not target and self.on("vs_consumers", 0.4):
                vs["ip_overrides"] = [self.v4()] + ([self.v6()] if self.on("ipv6", 0.3) else [])
            bound = []
            if target and r.random() < 0.85:
                bound = [db]
                if r.random() < 0.1:  # a virtual service bound to two workloads
                    bound.append(r.choice(self.workloads[1:]))
            elif not target and r.random() < 0.6:
                bound = r.sample(self.workloads[1:], min(len(self.workloads) - 1,
                                                         r.randint(1, 2)))
                if r.random() < 0.2:
                    bound.append(db)  # another VS on the database's workload
            vs["bound_workloads"] = [{"href": w["href"]} for w in bound]
            for w in bound:
                b = {"href": f"{ORG}/service_bindings/b{self.nid()}",
                     "virtual_service": {"href": href}, "workload": {"href": w["href"]},
                     "port_overrides": []}
                singles = [p for p in vs.get("service_ports", []) if "port" in p and
                           "to_port" not in p]
                if singles and self.on("port_overrides", 0.5):
                    p = r.choice(singles)
                    b["port_overrides"] = [{"port": p["port"], "proto": p["proto"],
                                            "new_port": p["port"] + r.choice([1, 10000])}]
                self.bindings.append(b)
            self.vss.append(vs)

    def labels_by_href(self, href):
        for lab in self.labels:
            if lab["href"] == href:
                return (lab["key"], lab["value"])
        raise KeyError(href)

    # ---- rules ----
    def label_actor(self, key, exclusion_ok):
        r = self.r
        groups = self.groups_by_key.get(key, [])
        if groups and self.on("label_groups", 0.3):
            a = {"label_group": {"href": r.choice(groups)["href"]}}
        else:
            a = {"label": self.lref(key, r.choice(KEYS[key]))}
        if exclusion_ok and self.on("exclusions", 0.2):
            a["exclusion"] = True
        return a

    def label_actors(self):
        keys = self.r.sample(list(KEYS), self.r.randint(1, 2))
        out = [self.label_actor(k, True) for k in keys]
        # two labels of one key = any of them
        if self.r.random() < 0.2:
            k = keys[0]
            if "exclusion" not in out[0]:
                out.append({"label": self.lref(k, self.r.choice(KEYS[k]))})
        return out

    def providers(self):
        r = self.r
        c = r.random()
        if c < 0.45:
            acts = [{"label": self.lref("role", "Database")}]
            if r.random() < 0.4:
                acts.append(self.label_actor(r.choice(["app", "env"]), True))
            return acts
        if c < 0.55:
            acts = [{"actors": "ams"}]
            if self.on("exclusions", 0.3):  # "all except X"
                acts.append(dict(self.label_actor(r.choice(["env", "app"]), False),
                                 exclusion=True))
            return acts
        if c < 0.7:
            return [{"virtual_service": {"href": r.choice(self.vss)["href"]}}]
        if c < 0.8:
            return [{"workload": {"href": self.workloads[0]["href"]}}]
        return self.label_actors()

    def consumers(self, deny=False):
        r = self.r
        out = []
        for _ in range(r.randint(1, 2)):
            c = r.random()
            if c < 0.4:
                out += self.label_actors()
            elif c < 0.5:
                out.append({"actors": "ams"})
            elif c < 0.75:
                out.append({"ip_list": {"href": r.choice(self.ip_lists)["href"]}})
            elif c < 0.9 or deny or not self.f["vs_consumers"]:
                out.append({"workload": {"href": r.choice(self.workloads)["href"]}})
            else:
                out.append({"virtual_service": {"href": r.choice(self.vss)["href"]}})
        # ams with included labels in one list is left out: its meaning is not documented;
        # ams with excluded labels is "all except X" ([D4])
        if any(a.get("actors") == "ams" for a in out):
            out = [a for a in out if not ("label" in a or "label_group" in a)
                   or a.get("exclusion")]
            if self.on("exclusions", 0.25):
                out.append(self.label_actor(r.choice(["env", "app"]), True))
                out[-1]["exclusion"] = True
        # an included and an excluded label of one key in one list: not documented either
        keys_in, keys_ex = set(), set()
        for a in out:
            k = self.actor_key(a)
            if k:
                (keys_ex if a.get("exclusion") else keys_in).add(k)
        if keys_in & keys_ex:
            out = [a for a in out if not a.get("exclusion")]
        return out

    def actor_key(self, a):
        if "label" in a:
            return self.labels_by_href(a["label"]["href"])[0]
        if "label_group" in a:
            for g in self.groups:
                if g["href"] == a["label_group"]["href"]:
                    return g["key"]
        return None

    def scope(self):
        r = self.r
        items = []
        for key in ("app", "env", "loc"):
            if r.random() < 0.45:
                groups = self.groups_by_key.get(key, [])
                if groups and self.on("scope_label_groups", 0.3):
                    it = {"label_group": {"href": r.choice(groups)["href"]}}
                else:
                    it = {"label": self.lref(key, r.choice(KEYS[key]))}
                if self.on("exclusions", 0.15):
                    it["exclusion"] = True
                items.append(it)
        return items

    def make_rule_sets(self):
        r = self.r
        db_scope_bias = {self.labels_by_href(x["href"]) for x in self.workloads[0]["labels"]}
        for i in range(r.randint(2, 5)):
            scopes = [self.scope()]
            if self.on("multi_scopes", 0.2):
                scopes.append(self.scope())
            if self.on("multi_scopes", 0.05):
                scopes = []
            # bias: a scope that fits the database half of the time
            if scopes and scopes[0] and r.random() < 0.5:
                scopes[0] = [{"label": self.lref(k, v)} for k, v in sorted(db_scope_bias)
                             if k in ("app", "env", "loc") and r.random() < 0.7]
            rs = {"href": f"{ACTIVE}/rule_sets/{i + 1}", "name": f"RS-{i + 1}",
                  "enabled": not self.on("disabled", 0.1), "scopes": scopes, "rules": [],
                  "ip_tables_rules": []}
            for j in range(r.randint(1, 4)):
                rs["rules"].append(self.rule(rs["href"], j + 1))
            nd = 0
            for _ in range(r.randint(0, 2)):
                override = self.on("override_deny", 0.6)
                if not override and not self.f["deny"]:
                    continue
                nd += 1
                rs.setdefault("deny_rules", []).append(self.deny_rule(rs["href"], nd, override))
            self.rule_sets.append(rs)

    def rule(self, rs_href, j):
        r = self.r
        prov = self.providers()
        rp = r.choice([["workloads"], ["virtual_services"], ["virtual_services"],
                       ["workloads", "virtual_services"]])
        literal_only = all("workload" in a or "virtual_service" in a for a in prov)
        if literal_only:
            rp = r.choice([["workloads"], ["virtual_services"]])
        if not self.f["vs_ports"]:
            # Only rules whose service cannot differ from a VS's: "Derived from Provider
            # Virtual Services" (no ingress_services) for anything that can select a VS.
            if any("virtual_service" in a for a in prov):
                prov = [a for a in prov if "workload" not in a]
                rp = ["virtual_services"]
            elif "virtual_services" in rp and "workloads" in rp:
                rp = [r.choice(["workloads", "virtual_services"])]
        vs_only = rp == ["virtual_services"] and not any("workload" in a for a in prov)
        if vs_only and not (self.f["vs_ports"] and self.on("vs_only_services", 0.12)):
            ingress = []  # "Derived from Provider Virtual Services"
        elif not self.f["vs_ports"] and ("virtual_services" in rp or
                                         any("virtual_service" in a for a in prov)):
            ingress = []
        else:
            ingress = self.ingress()
        rule = {"href": f"{rs_href}/sec_rules/{j}", "enabled": not self.on("disabled", 0.08),
                "providers": prov, "consumers": self.consumers(),
                "ingress_services": ingress,
                "resolve_labels_as": {"providers": rp,
                                      "consumers": r.choice([["workloads"], ["workloads"],
                                                             ["workloads", "virtual_services"]])
                                      if self.f["vs_consumers"] else ["workloads"]},
                "unscoped_consumers": r.random() < 0.5,
                "sec_connect": False, "stateless": False, "machine_auth": False,
                "consuming_security_principals": [], "network_type": "brn"}
        if self.on("use_workload_subnets", 0.2):
            rule["use_workload_subnets"] = ["consumers"]
            # what "subnets" means for a virtual service consumer is not documented
            rule["consumers"] = [a for a in rule["consumers"] if "virtual_service" not in a] or \
                [{"actors": "ams"}]
            rule["resolve_labels_as"]["consumers"] = ["workloads"]
        return rule

    def deny_rule(self, rs_href, j, override):
        r = self.r
        prov = self.providers()
        prov = [a for a in prov if "virtual_service" not in a] or [{"actors": "ams"}]
        return {"href": f"{rs_href}/deny_rules/{j}", "enabled": not self.on("disabled", 0.1),
                "override": override, "providers": prov, "consumers": self.consumers(deny=True),
                "ingress_services": self.ingress(), "unscoped_consumers": r.random() < 0.5,
                "network_type": "brn"}

    def boundaries(self):
        if not self.on("enforcement_boundaries", 0.3):
            return None
        return [{"href": f"{ORG}/sec_policy/active/enforcement_boundaries/1", "name": "EB-1",
                 "providers": [{"actors": "ams"}],
                 "consumers": [{"ip_list": {"href": self.ip_lists[0]["href"]}}],
                 "ingress_services": [{"proto": -1}]}]

    def targets(self):
        db = self.workloads[0]
        labs = {}
        for x in db["labels"]:
            k, v = self.labels_by_href(x["href"])
            labs[k] = v
        t = [{"virtual_service": self.r.choice(["VS-RDS", self.vss[0]["href"]])},
             {"workload": self.r.choice([db["name"], db["href"]])},
             {"labels": labs}]
        return t


def generate(seed, features=None):
    g = Gen(seed, features or {})
    g.make_labels()
    g.make_workloads()
    g.make_services()
    g.make_ip_lists()
    g.make_vss()
    g.make_rule_sets()
    bundle = {"labels": g.labels, "label_groups": g.groups, "workloads": g.workloads,
              "rule_sets": g.rule_sets, "ip_lists": g.ip_lists, "services": g.services,
              "virtual_services": g.vss}
    if g.bindings:
        bundle["service_bindings"] = g.bindings
    eb = g.boundaries()
    if eb is not None:
        bundle["enforcement_boundaries"] = eb
    return bundle, g.targets()


def main(argv):
    seed = int(argv[1])
    feats = dict((a.split("=")[0], a.split("=")[1] == "1") for a in argv[2:])
    bundle, targets = generate(seed, feats)
    json.dump({"bundle": bundle, "targets": targets}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
