#!/usr/bin/env python3
"""Differential test: flowseg's compiled security group vs the reference evaluator.

For N random policies (tests/policy_ref/generator.py, seeds BASE..BASE+N-1), runs the built
`flowseg plan --policy BUNDLE --state EMPTY --format json` with a config naming three targets
(the database's virtual service, its workload, its labels), then probes every CIDR boundary of
the desired rules and of the policy's addresses (first/last address, one below/above), every
workload address, over every port boundary of the policy's services and the desired rules:

- the group must never allow what the evaluator does not (WIDER = failure);
- it may allow less only where a plan warning names an allowing rule, or the target is refused
  (counts as "nothing allowed"); anything else narrower is a failure too.

Prints the number of policies and probes. On a mismatch prints the seed, the probe, both
answers, and saves a minimised reproducer (bundle, config, command) under the output directory.

Usage: difftest.py [--count N] [--seed BASE] [--flowseg PATH] [--out DIR] [--feature NAME=0|1]
Environment: FSG_BUILD_ROOT (for build/cmd/flowseg), FSG_REFEVAL_COUNT, FSG_REFEVAL_SEED."""

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import evaluator as ev_mod  # noqa: E402
import generator  # noqa: E402
import ipset  # noqa: E402

# Features of the generator switched off, and why. A feature off here is a known limitation
# of the compiler (a plan that is wider than the policy, or a narrower one without a warning);
# it is printed at every run, never skipped silently. Empty = every feature on.
KNOWN_LIMITATIONS = {
}

# Target kinds left out of the check for some policies, and why (printed with a count, never
# silent): name -> (reason, predicate(bundle, target) -> True when the target is left out).
def _vs_only_rule_with_services(bundle, target):
    if "labels" not in target:
        return False
    for rs in bundle.get("rule_sets", []):
        for r in rs.get("rules") or []:
            rp = (r.get("resolve_labels_as") or {}).get("providers") or ["workloads"]
            by_labels = any("label" in a or "label_group" in a or a.get("actors") == "ams"
                            for a in r.get("providers") or [])
            if rp == ["virtual_services"] and r.get("ingress_services") and by_labels:
                return True
    return False


KNOWN_TARGET_LIMITATIONS = {
}

PROTO_NUM = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "-1": -1}


# ---- the group side ---------------------------------------------------------------------------

class Group:
    """The desired rules of one plan target, as a predicate."""

    def __init__(self, rules):
        self.rules = []
        for r in rules:
            proto = PROTO_NUM.get(str(r["proto"]))
            if proto is None:
                proto = int(r["proto"])
            cidr = r.get("cidr") or r.get("cidr_ipv6")
            fam, lo, hi = ipset.cidr_bounds(cidr, strict=True)
            self.rules.append((proto, r.get("from_port"), r.get("to_port"), fam, lo, hi, r))

    @staticmethod
    def _port_ok(proto, fp, tp, pproto, port):
        if proto == -1:
            return True
        if proto != pproto:
            return False
        if proto in (6, 17):
            return fp <= port <= tp
        if proto in (1, 58):
            t, c = port
            return (fp == -1 or fp == t) and (tp == -1 or tp == c)
        return True

    def sources(self, pproto, port):
        s = ipset.IntervalSet()
        for proto, fp, tp, fam, lo, hi, _ in self.rules:
            if self._port_ok(proto, fp, tp, pproto, port):
                s.add(fam, lo, hi)
        return s

    def matching(self, addr, pproto, port):
        fam, n = addr
        return [r for proto, fp, tp, f, lo, hi, r in self.rules
                if f == fam and lo <= n <= hi and self._port_ok(proto, fp, tp, pproto, port)]

    def port_values(self):
        for proto, fp, tp, *_ in self.rules:
            if proto in (6, 17):
                yield proto, fp, tp
            elif proto in (1, 58):
                yield proto, fp, tp


# ---- probes -----------------------------------------------------------------------------------

def probe_ports(bundle, groups):
    """Every (proto, port) class boundary of the policy's services and the desired rules."""
    specs = []

    def add_sp(sp):
        try:
            specs.append(ev_mod.spec_from_service_port(sp))
        except (ev_mod.PolicyError, ValueError, TypeError):
            pass

    for s in bundle.get("services", []):
        for sp in s.get("service_ports") or []:
            add_sp(sp)
    for v in bundle.get("virtual_services", []):
        for sp in v.get("service_ports") or []:
            add_sp(sp)
    for rs in bundle.get("rule_sets", []):
        for r in (rs.get("rules") or []) + (rs.get("deny_rules") or []):
            for sp in r.get("ingress_services") or []:
                if "href" not in sp:
                    add_sp(sp)
    for b in bundle.get("service_bindings", []) or []:
        for ov in b.get("port_overrides") or []:
            for k in ("port", "new_port"):
                if ov.get(k) is not None:
                    specs.append((int(ov.get("proto", 6)), int(ov[k]), int(ov[k]), -1, -1))
    tcpudp = {6: {0, 65535, 5432}, 17: {0, 65535, 53}}
    icmp = {1: {(8, 0), (0, 0), (3, 1)}, 58: {(128, 0), (1, 0)}}
    for proto, lo, hi, it, ic in specs:
        if proto in (6, 17):
            for p in (lo - 1, lo, hi, hi + 1):
                if 0 <= p <= 65535:
                    tcpudp[proto].add(p)
        elif proto in (1, 58):
            for t in {it, it + 1} if it != -1 else {0}:
                for c in {ic, ic + 1} if ic != -1 else {0}:
                    if 0 <= t <= 255 and 0 <= c <= 255:
                        icmp[proto].add((t, c))
    for g in groups:
        for proto, fp, tp in g.port_values():
            if proto in (6, 17):
                for p in (fp - 1, fp, tp, tp + 1):
                    if 0 <= p <= 65535:
                        tcpudp[proto].add(p)
            else:
                for t in ({fp, fp + 1} if fp != -1 else {0}):
                    for c in ({tp, tp + 1} if tp != -1 else {0}):
                        if 0 <= t <= 255 and 0 <= c <= 255:
                            icmp[proto].add((t, c))
    out = [(p, port) for p in (6, 17) for port in sorted(tcpudp[p])]
    out += [(p, tc) for p in (1, 58) for tc in sorted(icmp[p])]
    out += [(47, None), (50, None)]
    return out


def policy_addresses(bundle):
    """Every address the policy names, with one below/above its ranges."""
    s = []

    def bounds(fam, lo, hi):
        for n in (lo - 1, lo, hi, hi + 1):
            if 0 <= n <= ipset.MAX[fam]:
                s.append((fam, n))

    for w in bundle.get("workloads", []):
        for it in w.get("interfaces") or []:
            if it.get("address"):
                fam, n = ipset.parse_addr(it["address"])
                s.append((fam, n))
                if it.get("cidr_block") is not None:
                    bounds(*ipset.subnet_bounds(it["address"], int(it["cidr_block"])))
        if w.get("public_ip"):
            s.append(ipset.parse_addr(w["public_ip"]))
    for il in bundle.get("ip_lists", []):
        for r in il.get("ip_ranges") or []:
            if r.get("to_ip"):
                fam, lo = ipset.parse_addr(r["from_ip"])
                bounds(fam, lo, ipset.parse_addr(r["to_ip"])[1])
            else:
                bounds(*ipset.cidr_bounds(r["from_ip"]))
    for v in bundle.get("virtual_services", []):
        for o in v.get("ip_overrides") or []:
            bounds(*ipset.cidr_bounds(o))
    s += [(4, 0), (4, ipset.MAX[4]), (6, 0), (6, ipset.MAX[6]), (4, 0x0A000001)]
    return s


# ---- running flowseg --------------------------------------------------------------------------

def run_plan(flowseg, bundle, targets, tmp):
    pol = os.path.join(tmp, "policy.json")
    cfg = os.path.join(tmp, "config.json")
    st = os.path.join(tmp, "state.json")
    conf_targets, state = [], {}
    for i, t in enumerate(targets):
        sg = f"sg-{i + 1:017x}"
        conf_targets.append(dict(t, name=f"t{i}", security_group=sg))
        state[sg] = []
    conf = {"targets": conf_targets,
            "guards": {"max_removals": 1000000, "allow_empty": True, "allow_public": True,
                       "max_rules": 1000000}}
    for path, doc in ((pol, bundle), (cfg, conf), (st, state)):
        with open(path, "w") as f:
            json.dump(doc, f)
    p = subprocess.run([flowseg, "plan", "--config", cfg, "--policy", pol, "--state", st,
                        "--format", "json", "--log-level", "error"],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, AWS_EC2_METADATA_DISABLED="true"))
    if p.returncode != 0:
        return None, p.stderr.strip() or f"exit {p.returncode} without a message"
    return json.loads(p.stdout), None


class Mismatch(Exception):
    pass


def check_target(bundle, target, plan_t, error, stats, want_detail=True):
    """Compares one target. Returns None, or a dict describing the first failing probe."""
    ev = ev_mod.Evaluator(bundle, target)
    if error is not None:
        refused, warnings, group = f"plan failed: {error}", [], Group([])
    else:
        refused = plan_t.get("refused")
        warnings = plan_t.get("warnings") or []
        group = Group([] if refused else plan_t["desired"])
        if refused:
            stats["refused"] += 1
    wtext = "\n".join(warnings)
    addrs = policy_addresses(bundle)
    for proto, port in probe_ports(bundle, [group]):
        e_set = ev.allowed_sources(proto, port)
        g_set = group.sources(proto, port)
        cand = list(addrs) + list(e_set.boundaries()) + list(g_set.boundaries())
        for addr in set(cand):
            fam = addr[0]
            if (proto == 1 and fam != 4) or (proto == 58 and fam != 6):
                continue
            stats["probes"] += 1
            e, g = e_set.contains(addr), g_set.contains(addr)
            stats["allowed_probes"] += e
            if e == g:
                continue
            if g and not e:
                kind = "WIDER"
            else:
                ans = ev.query(addr, proto, port)
                # the warning names an allowing rule, or an override deny of this source whose
                # exact subtraction a security group cannot express
                if refused or any(h in wtext for h in ans.allow_rules + ev.deny_rules_of(addr)):
                    stats["narrower_explained"] += 1
                    continue
                kind = "NARROWER without a warning naming the rule"
            return {"kind": kind, "target": target, "addr": addr, "proto": proto, "port": port,
                    "evaluator": ev.query(addr, proto, port).as_dict(),
                    "group": group.matching(addr, proto, port), "refused": refused,
                    "warnings": warnings, "paths": ev.explain() if want_detail else []}
    return None


def same_failure(flowseg, bundle, fail, tmp):
    try:
        plan, err = run_plan(flowseg, bundle, [fail["target"]], tmp)
        t = plan["targets"][0] if plan else None
        ev = ev_mod.Evaluator(bundle, fail["target"])
        group = Group([] if err or t.get("refused") else t["desired"])
        addr, proto, port = fail["addr"], fail["proto"], fail["port"]
        e = ev.allowed_sources(proto, port).contains(addr)
        g = group.sources(proto, port).contains(addr)
        if fail["kind"] == "WIDER":
            return g and not e
        wtext = "\n".join([] if err else t.get("warnings") or [])
        ans = ev.query(addr, proto, port)
        return (e and not g and not err and not t.get("refused") and
                not any(h in wtext for h in ans.allow_rules + ev.deny_rules_of(addr)))
    except (ev_mod.PolicyError, KeyError, ValueError, TypeError, subprocess.TimeoutExpired):
        return False


def minimise(flowseg, bundle, fail, tmp, budget=400):
    """Greedy: drop list elements (rule sets, rules, actors, objects) while the failure stays."""
    cur = copy.deepcopy(bundle)
    steps = 0

    def lists(doc):
        out = []
        for key in ("rule_sets", "workloads", "ip_lists", "services", "virtual_services",
                    "service_bindings", "label_groups", "enforcement_boundaries", "labels"):
            if isinstance(doc.get(key), list):
                out.append((doc, key))
        for rs in doc.get("rule_sets", []):
            for key in ("rules", "deny_rules", "scopes"):
                if isinstance(rs.get(key), list):
                    out.append((rs, key))
            for r in (rs.get("rules") or []) + (rs.get("deny_rules") or []):
                for key in ("providers", "consumers", "ingress_services"):
                    if isinstance(r.get(key), list):
                        out.append((r, key))
        for il in doc.get("ip_lists", []):
            out.append((il, "ip_ranges"))
        for w in doc.get("workloads", []):
            out.append((w, "interfaces"))
        return out

    changed = True
    while changed and steps < budget:
        changed = False
        for li, (obj, key) in enumerate(lists(cur)):
            i = len(obj[key]) - 1
            while i >= 0 and steps < budget:
                cand = copy.deepcopy(cur)
                cobj, ckey = lists(cand)[li]
                del cobj[ckey][i]
                steps += 1
                if same_failure(flowseg, cand, fail, tmp):
                    cur = cand
                    changed = True
                    break
                i -= 1
            if changed:
                break
    return cur


def report(fail, seed, feats, bundle, flowseg, out_dir, tmp):
    addr = ipset.fmt_addr(fail["addr"])
    probe = ev_mod.fmt_probe(fail["proto"], fail["port"])
    print(f"\nMISMATCH ({fail['kind']}) seed={seed} target={json.dumps(fail['target'])}")
    print(f"  probe: source {addr} -> {probe}")
    print(f"  evaluator: {json.dumps(fail['evaluator'])}")
    print(f"  group: rules allowing it: {json.dumps(fail['group'])}; refused: {fail['refused']}")
    print(f"  plan warnings: {json.dumps(fail['warnings'])}")
    for line in fail["paths"]:
        print(f"  evaluator path: {line}")
    small = minimise(flowseg, bundle, fail, tmp)
    d = os.path.join(out_dir, f"seed-{seed}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "policy.json"), "w") as f:
        json.dump(small, f, indent=1)
    with open(os.path.join(d, "policy-full.json"), "w") as f:
        json.dump(bundle, f, indent=1)
    conf = {"targets": [dict(fail["target"], name="t0", security_group="sg-00000000000000001")],
            "guards": {"max_removals": 1000000, "allow_empty": True, "allow_public": True,
                       "max_rules": 1000000}}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(conf, f, indent=1)
    with open(os.path.join(d, "state.json"), "w") as f:
        json.dump({"sg-00000000000000001": []}, f)
    tdesc = next(f"{'vs' if k == 'virtual_service' else k}:" +
                 (",".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else v)
                 for k, v in fail["target"].items())
    with open(os.path.join(d, "README"), "w") as f:
        f.write(f"seed {seed}, features {json.dumps(feats)}\n{fail['kind']}: {addr} -> {probe}\n"
                f"flowseg plan --config config.json --policy policy.json --state state.json "
                f"--format json\npython3 {os.path.join(HERE, 'evaluator.py')} policy.json "
                f"'{tdesc}' {addr} {probe}\n")
    print(f"  minimal reproducer ({len(json.dumps(small))} bytes, full policy "
          f"{len(json.dumps(bundle))} bytes) saved in {d}")
    print("  minimal policy: " + json.dumps(small))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=int(os.environ.get("FSG_REFEVAL_COUNT", 300)))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("FSG_REFEVAL_SEED", 1)))
    build = os.environ.get("FSG_BUILD_ROOT", os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--flowseg", default=os.path.join(build, "cmd", "flowseg"))
    ap.add_argument("--out", default=os.path.join(build, "policy_ref_failures"))
    ap.add_argument("--feature", action="append", default=[],
                    help="NAME=0|1: switch a generator feature (overrides the known limitations)")
    ap.add_argument("--max-failures", type=int, default=3)
    args = ap.parse_args(argv[1:])
    if not os.access(args.flowseg, os.X_OK):
        print(f"no flowseg binary at {args.flowseg}: build first (meson compile -C build)")
        return 1
    feats = {k: k not in KNOWN_LIMITATIONS for k in generator.FEATURES}
    for kv in args.feature:
        k, _, v = kv.partition("=")
        if k not in feats:
            print(f"unknown feature {k!r}; known: {', '.join(generator.FEATURES)}")
            return 2
        feats[k] = v == "1"
    print("features on: " + ", ".join(k for k, v in feats.items() if v))
    off = [k for k, v in feats.items() if not v]
    print("known limitations (features off): " +
          ("none" if not off and not KNOWN_TARGET_LIMITATIONS else ""))
    for k in off:
        print(f"  - {k}: {generator.FEATURES[k]}: "
              f"{KNOWN_LIMITATIONS.get(k, 'switched off on the command line')}")
    stats = {"policies": 0, "targets": 0, "probes": 0, "allowed_probes": 0, "refused": 0,
             "plan_errors": 0, "plan_errors_targets": 0, "narrower_explained": 0}
    for k, (why, _) in KNOWN_TARGET_LIMITATIONS.items():
        print(f"  - {k}: such targets are not checked: {why}")
    skipped = {}
    failures = 0
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seed, args.seed + args.count):
            bundle, targets = generator.generate(seed, feats)
            plan, err = run_plan(args.flowseg, bundle, targets, tmp)
            stats["policies"] += 1
            if err is not None:
                stats["plan_errors"] += 1
                if stats["plan_errors"] <= 3:
                    print(f"seed {seed}: plan failed (counts as nothing allowed): {err[:300]}")
            # One refused target fails the whole plan: check the others one by one.
            per_target = [(plan["targets"][i] if plan else None, err)
                          for i in range(len(targets))]
            if err is not None and len(targets) > 1:
                for i, target in enumerate(targets):
                    p1, e1 = run_plan(args.flowseg, bundle, [target], tmp)
                    per_target[i] = (p1["targets"][0] if p1 else None, e1)
            for i, target in enumerate(targets):
                lim = [k for k, (_, pred) in KNOWN_TARGET_LIMITATIONS.items()
                       if pred(bundle, target)]
                if lim:
                    skipped[lim[0]] = skipped.get(lim[0], 0) + 1
                    continue
                stats["targets"] += 1
                fail = check_target(bundle, target, per_target[i][0], per_target[i][1], stats)
                stats["plan_errors_targets"] += per_target[i][1] is not None
                if fail:
                    failures += 1
                    report(fail, seed, feats, bundle, args.flowseg, args.out, tmp)
                    break
            if failures >= args.max_failures:
                print(f"\nstopping after {failures} failing policies")
                break
    dt = time.time() - t0
    print(f"\n{stats['policies']} policies, {stats['targets']} targets, {stats['probes']} probes "
          f"({stats['allowed_probes']} allowed by the policy) "
          f"in {dt:.1f} s; {stats['refused']} targets refused, {stats['plan_errors']} plans "
          f"failed ({stats['plan_errors_targets']} targets refused by the plan's error, counted as "
          f"allowing nothing), {stats['narrower_explained']} narrower probes explained by a warning; "
          f"{failures} failing policies")
    for k, n in skipped.items():
        print(f"{n} targets not checked (known limitation: {k})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
