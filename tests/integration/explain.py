#!/usr/bin/env python3
"""flowseg explain TARGET SOURCE[:PORT[/PROTO]] on an exported bundle and on the live PCE
simulator: the allowing rule (href and rule-set name), the override-deny rule that removes a
source, the reason nothing matches (exclusion, port), the security-group rules that let it in,
text and --format json; usage errors (exit 2) and a refused target (exit 1). The live answer
equals the offline one. Exit 0 pass, 1 fail, 77 skipped.
"""
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fsgtest import SOURCE_ROOT, SKIP, Checker, run_flowseg  # noqa: E402

sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "pce_sim"))
from pce_sim import SimProcess  # noqa: E402

DATA = os.path.join(SOURCE_ROOT, "tests", "data", "pce", "compile")
BUNDLE = os.path.join(DATA, "deny.json")
RS = "/orgs/1/sec_policy/active/rule_sets/50"


def explain(cfg, *args, env=None):
    return run_flowseg(["--config", cfg, "explain"] + list(args), env=env)


def main():
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="explain-")
    cfg = os.path.join(tmp, "config.json")
    with open(cfg, "w") as f:
        json.dump({"targets": [{"name": "orders-db", "workload": "orders-db",
                                "security_group": "sg-0123456789abcdef0"}]}, f)

    # Allowed: the allowing rule with its rule set, the security-group rule that lets it in.
    p = explain(cfg, "--policy", BUNDLE, "--format", "json", "orders-db", "10.0.1.2:5433")
    c.eq(p.returncode, 0, "json: exit 0")
    doc = json.loads(p.stdout) if p.returncode == 0 else {}
    c.eq(doc.get("allowed"), True, "10.0.1.2:5433 is allowed")
    c.eq([(s["verdict"], s["rule"], s["rule_set_name"]) for s in doc.get("rules", [])],
         [("allows", RS + "/sec_rules/1", "RS-orders"),
          ("not_a_source", RS + "/sec_rules/2", "RS-orders")], "json: rules and verdicts")
    c.eq(doc.get("security_group_rules"),
         [{"proto": "tcp", "from_port": 5433, "to_port": 5440, "cidr": "10.0.1.2/31",
           "description": "flowseg " + RS + "/sec_rules/1"}], "json: the group rule that allows")
    c.eq((doc.get("port"), doc.get("proto"), doc.get("address")), (5433, "tcp", "10.0.1.2"),
         "json: the probe")

    # Removed by an override deny.
    p = explain(cfg, "--policy", BUNDLE, "orders-db", "10.0.1.2:5432/tcp")
    c.eq(p.returncode, 0, "text: exit 0 when not allowed")
    first = p.stdout.splitlines()[0] if p.stdout else ""
    c.check("not allowed: allowed by %s/sec_rules/1 but removed by override deny rule "
            "%s/deny_rules/1" % (RS, RS) in first, "text: the override deny that removes it")
    c.check("rule set %s (RS-orders)" % RS in p.stdout, "text: the rule-set name")

    # An ip list minus an override deny on every service; a UDP port no rule names.
    p = explain(cfg, "--policy", BUNDLE, "--format", "json", "orders-db", "10.1.2.7:5432")
    doc = json.loads(p.stdout) if p.returncode == 0 else {}
    c.eq(doc.get("allowed"), False, "10.1.2.7 (ip list 'bad') is not allowed")
    c.check(("denies", RS + "/deny_rules/2") in
            [(s["verdict"], s["rule"]) for s in doc.get("rules", [])], "deny_rules/2 named")
    p = explain(cfg, "--policy", BUNDLE, "--format", "json", "orders-db", "10.0.1.1:53/udp")
    doc = json.loads(p.stdout) if p.returncode == 0 else {}
    c.eq(doc.get("allowed"), False, "udp 53 is not allowed")
    c.check(doc.get("rules", [{}])[0].get("verdict") == "allows_other_ports",
            "udp 53: the rule allows this source on other ports only")

    # Exclusions: a workload without an env label.
    excl = os.path.join(DATA, "exclusions.json")
    p = explain(cfg, "--policy", excl, "orders-db", "10.0.1.3:5433")
    c.check(p.returncode == 0 and "has no env label" in p.stdout, "exclusion reason given")

    # Usage errors and a refused target.
    for args, what in ((["orders-db"], "one operand"),
                       (["nope", "10.0.1.1"], "unknown target"),
                       (["orders-db", "10.0.1.999"], "bad address"),
                       (["orders-db", "10.0.1.1:99999"], "bad port"),
                       (["orders-db", "10.0.1.1:22/xyz"], "bad proto"),
                       (["--format", "yaml", "orders-db", "10.0.1.1"], "bad format")):
        p = explain(cfg, "--policy", BUNDLE, *args)
        c.eq(p.returncode, 2, "usage error: %s" % what)
    p = explain(cfg, "--policy", os.path.join(DATA, "deny_fqdn.json"), "orders-db", "10.0.1.1")
    c.check(p.returncode == 1 and "refused" in p.stderr and p.stdout == "",
            "a refused target: exit 1, the reason on stderr")
    # plan: the refused target is planned with nothing to change, refused under the "policy"
    # guard (which apply --force does not lift: cmd/apply_target.c); the run goes on for the
    # other targets.
    state = os.path.join(tmp, "state.json")
    with open(state, "w") as f:
        json.dump({"sg-0123456789abcdef0": [{"proto": "tcp", "from_port": 22, "to_port": 22,
                                             "cidr": "10.9.9.9/32", "description": "x"}]}, f)
    saved = os.path.join(tmp, "plan.json")
    p = run_flowseg(["--config", cfg, "plan", "--policy", os.path.join(DATA, "deny_fqdn.json"),
                     "--state", state, "--format", "json", "--save-plan", saved])
    t = (json.loads(p.stdout)["targets"] or [{}])[0] if p.returncode == 0 else {}
    c.check(p.returncode == 0 and "holds FQDNs" in (t.get("refused") or "") and
            t.get("add") == [] and t.get("remove") == [],
            "plan: a refused target is reported refused, nothing to add or remove")
    with open(saved) as f:
        st = json.load(f)["targets"][0]
    c.eq(st.get("refused_guards"), ["policy"], "the saved plan names the policy guard")

    p = explain(cfg, "--policy", BUNDLE, "--format", "json", "orders-db", "[fd00::1]:5432")
    c.check(p.returncode == 0 and json.loads(p.stdout)["allowed"] is False, "IPv6 in brackets")

    # The live PCE gives the same answer as the exported bundle.
    offline = explain(cfg, "--policy", BUNDLE, "--format", "json", "orders-db", "10.0.1.2:5432")
    sim = SimProcess(seed=BUNDLE)
    try:
        live_cfg = os.path.join(tmp, "live.json")
        with open(live_cfg, "w") as f:
            json.dump({"pce": {"url": sim.url, "org_id": sim.org_id, "key_env": "PCE_API_KEY",
                               "secret_env": "PCE_API_SECRET", "ca_file": sim.ca,
                               "timeout_s": 10},
                       "targets": [{"name": "orders-db", "workload": "orders-db",
                                    "security_group": "sg-0123456789abcdef0"}]}, f)
        env = dict(os.environ, PCE_API_KEY=sim.api_key, PCE_API_SECRET=sim.api_secret,
                   AWS_EC2_METADATA_DISABLED="true")
        live = explain(live_cfg, "--format", "json", "orders-db", "10.0.1.2:5432", env=env)
        c.eq(live.returncode, 0, "live: exit 0")
        strip = lambda d: {k: v for k, v in d.items() if k != "warnings"}  # noqa: E731
        a = json.loads(offline.stdout) if offline.returncode == 0 else {}
        b = json.loads(live.stdout) if live.returncode == 0 else {}
        c.eq(strip(b), strip(a), "live: the same answer as from the exported bundle")
        c.check(sim.api_secret not in live.stdout + live.stderr, "live: the secret never shows")
    finally:
        sim.stop()

    # A live read takes the service bindings too: a workload's port_overrides remap the
    # virtual service's port exactly as the exported bundle says (plan, live vs offline).
    vs_ports = os.path.join(DATA, "vs_ports.json")
    state = os.path.join(tmp, "empty_state.json")
    with open(state, "w") as f:
        json.dump({"sg-0123456789abcdef1": []}, f)
    target = {"name": "pool-a", "workload": "pool-a", "security_group": "sg-0123456789abcdef1"}
    off_cfg = os.path.join(tmp, "pool.json")
    with open(off_cfg, "w") as f:
        json.dump({"targets": [target]}, f)
    off = run_flowseg(["--config", off_cfg, "plan", "--policy", vs_ports, "--state", state,
                       "--format", "json"])
    sim = SimProcess(seed=vs_ports)
    try:
        live_cfg = os.path.join(tmp, "pool_live.json")
        with open(live_cfg, "w") as f:
            json.dump({"pce": {"url": sim.url, "org_id": sim.org_id, "key_env": "PCE_API_KEY",
                               "secret_env": "PCE_API_SECRET", "ca_file": sim.ca,
                               "timeout_s": 10}, "targets": [target]}, f)
        env = dict(os.environ, PCE_API_KEY=sim.api_key, PCE_API_SECRET=sim.api_secret,
                   AWS_EC2_METADATA_DISABLED="true")
        live = run_flowseg(["--config", live_cfg, "plan", "--state", state, "--format", "json"],
                           env=env)
        want = [(r["proto"], r["from_port"], r["to_port"]) for r in
                (json.loads(off.stdout)["targets"][0]["desired"] if off.returncode == 0 else [])]
        got = [(r["proto"], r["from_port"], r["to_port"]) for r in
               (json.loads(live.stdout)["targets"][0]["desired"] if live.returncode == 0 else [])]
        c.check(("tcp", 16432, 16433) in want, "offline: the port override applies")
        c.eq(got, want, "live: the same ports as the bundle (service bindings read)")
    finally:
        sim.stop()
    c.done()


if __name__ == "__main__":
    try:
        main()
    except ImportError:
        sys.exit(SKIP)
