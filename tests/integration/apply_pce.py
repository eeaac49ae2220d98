#!/usr/bin/env python3
"""flowseg plan/apply with the policy read live from the PCE simulator (tests/pce_sim) and the
groups in moto (behind the counting proxy of aws_proxy.py).

Covers: the live policy gives the same desired set as the exported file; apply from a stale
group; the number of PCE requests does not depend on the number of targets; the PCE failing
(500s, a body cut mid-read, a truncated collection whose async job fails) changes nothing and
makes no AWS call at all; the API secret never appears in the output or the logs; ownership:
a rule added by hand (tcp 22 from 203.0.113.7/32, no description) and a stale rule described
"stale" are removed by the next apply in the default mode ("group") and left, and reported, in
"rules" mode.
"""
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from apply_world import DESIRED, POLICY, World, sorted_rules, target, write_config  # noqa: E402
from aws_proxy import CountingProxy  # noqa: E402
from fsgtest import SOURCE_ROOT, SKIP, Checker, Moto, run_flowseg  # noqa: E402

sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "pce_sim"))
from pce_sim import SimProcess  # noqa: E402

OLD = "flowseg /orgs/1/sec_policy/active/rule_sets/9/sec_rules/1"
MANUAL = ("tcp", 22, 22, "10.0.0.0/8", "manual ssh")


def pce_requests(sim):
    return [r for r in sim.control("GET", "/_sim/requests") if r["path"].startswith("/api/v2")]


def main():
    try:
        import boto3  # noqa: F401
    except ImportError:
        sys.exit(SKIP)
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="apply-pce-")
    sim = SimProcess(seed=POLICY)
    try:
        with Moto() as moto, CountingProxy(moto.url) as proxy:
            run(c, sim, moto, proxy, tmp)
    finally:
        sim.stop()
    c.done()


def run(c, sim, moto, proxy, tmp):
    w = World(moto)
    pce = {"url": sim.url, "org_id": sim.org_id, "key_env": "PCE_API_KEY",
           "secret_env": "PCE_API_SECRET", "ca_file": sim.ca, "timeout_s": 10}
    env = moto.env(AWS_ENDPOINT_URL=proxy.url, PCE_API_KEY=sim.api_key,
                   PCE_API_SECRET=sim.api_secret)
    dbs = [w.add_db("pce-db-%d" % i, "10.0.20.%d" % (30 + i)) for i in range(3)]
    for db in dbs:
        w.add_rules(db["sg"], [DESIRED[0], ("tcp", 5432, 5432, "10.0.5.0/24", OLD), MANUAL])
    one = write_config(os.path.join(tmp, "one.json"),
                       [target("pce-0", "pce-db-0", dbs[0]["sg"])], pce=pce)
    # pce-0, pce-1: ownership "group" (the default); pce-2: "rules" (a shared group)
    three = write_config(os.path.join(tmp, "three.json"),
                         [target("pce-%d" % i, "pce-db-%d" % i, dbs[i]["sg"],
                                 **({"ownership": "rules"} if i == 2 else {}))
                          for i in range(3)], pce=pce)

    def flowseg(cfg, *args):
        proxy.clear()
        sim.control("DELETE", "/_sim/requests")
        return run_flowseg(["--config", cfg, "--log-level", "debug"] + list(args), env=env)

    # the live policy = the exported one
    p = flowseg(one, "plan", "--format", "json")
    c.eq(p.returncode, 0, "pce: plan with the policy from the PCE")
    doc = json.loads(p.stdout) if p.returncode == 0 else {"targets": [{}]}
    got = sorted((r["proto"], r["from_port"], r["to_port"], r.get("cidr") or r.get("cidr_ipv6"),
                  r["description"]) for r in doc["targets"][0].get("desired", []))
    c.eq(got, DESIRED, "pce: desired rules as from the exported policy")
    n_one = len(pce_requests(sim))
    c.check(n_one > 0, "pce: the PCE was asked (%d requests)" % n_one)
    c.check(sim.api_secret not in p.stdout + p.stderr, "pce: the API secret never appears")
    before = [w.rules(db["sg"]) for db in dbs]

    # the PCE failing: nothing changes, AWS is not even asked
    faults = [
        ("500s", [{"kind": "status", "status": 500, "count": -1}], {}),
        ("a body cut mid-read", [{"kind": "die", "count": -1,
                                  "path": "sec_policy/active/rule_sets"}], {}),
        ("a truncated collection whose job fails",
         [{"kind": "job_fail", "count": -1}], {"cap": 1}),
    ]
    for what, fl, cfgchange in faults:
        sim.control("POST", "/_sim/faults", {"faults": fl})
        if cfgchange:
            sim.control("POST", "/_sim/config", cfgchange)
        p = flowseg(three, "apply")
        sim.control("POST", "/_sim/faults", {"faults": []})
        if cfgchange:
            sim.control("POST", "/_sim/config", {"cap": 500})
        c.eq(p.returncode, 1, "pce %s: apply exit 1" % what)
        c.check("policy" in p.stderr and p.stdout == "", "pce %s: error on stderr, no plan" % what)
        c.eq(proxy.snapshot(), [], "pce %s: no AWS call at all" % what)
        c.eq([w.rules(db["sg"]) for db in dbs], before, "pce %s: groups unchanged" % what)

    # apply for real, three targets: PCE requests as for one
    p = flowseg(three, "apply")
    c.eq(p.returncode, 0, "pce: apply three targets")
    c.eq([w.rules(db["sg"]) for db in dbs],
         [DESIRED, DESIRED, sorted_rules(DESIRED + [MANUAL])],
         "pce: every group reached the desired set (the manual rule stays in \"rules\" mode only)")
    c.eq(len(pce_requests(sim)), n_one, "pce: PCE requests independent of the number of targets")
    c.check(sim.api_secret not in p.stdout + p.stderr, "pce: the API secret never appears "
                                                       "(debug logs included)")
    p = flowseg(three, "apply")
    c.eq((p.returncode, proxy.mutating()), (0, []), "pce: second apply changes nothing")

    # tampering: a hand-made rule without description and a stale rule described "stale"
    hand = ("tcp", 22, 22, "203.0.113.7/32", None)
    stale = ("tcp", 5432, 5432, "10.0.77.0/24", "stale")
    w.add_rules(dbs[0]["sg"], [hand, stale])
    w.add_rules(dbs[2]["sg"], [hand, stale])
    p = flowseg(three, "plan", "--format", "json")
    doc = json.loads(p.stdout) if p.returncode == 0 else {"targets": [{}, {}, {}]}
    t0, t2 = doc["targets"][0], doc["targets"][2]
    c.eq((t0.get("ownership"), sorted((r["cidr"], r["reason"]) for r in t0.get("remove", []))),
         ("group", [("10.0.77.0/24", "not in the policy, added outside flowseg"),
                    ("203.0.113.7/32", "not in the policy, added outside flowseg")]),
         "tamper: plan (ownership group) removes both, saying why")
    c.eq((t2.get("ownership"), t2.get("remove")), ("rules", []),
         "tamper: plan (ownership rules) removes neither")
    c.check(all(any(x in wn and "left in place" in wn for wn in t2.get("warnings", []))
                for x in ("203.0.113.7/32", "10.0.77.0/24")),
            "tamper: plan (ownership rules) reports both as left in place")
    p = flowseg(three, "apply")
    c.eq(p.returncode, 0, "tamper: apply exit 0")
    c.eq([w.rules(db["sg"]) for db in dbs],
         [DESIRED, DESIRED, sorted_rules(DESIRED + [MANUAL, hand, stale])],
         "tamper: removed from the \"group\" group, left in the \"rules\" group")
    c.check("ownership group: the group is flowseg's" in p.stdout and
            "ownership rules: a group shared with other tools" in p.stdout,
            "tamper: the report says which mode applies")
    c.check("tcp 22 from 203.0.113.7/32 (no description)" in p.stdout and
            "not in the policy, added outside flowseg" in p.stdout,
            "tamper: the report says why the hand-made rule was removed")


if __name__ == "__main__":
    main()
