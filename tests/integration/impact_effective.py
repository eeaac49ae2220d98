#!/usr/bin/env python3
"""The impact is the effective access (issue 10 items 5 and 6): a source is allowed after the
apply when ANY security group of the instance allows it: the managed group's final rules, the
rules left in it (ownership "rules"), the instance's other groups (read from EC2), and the report
says by which rule. On moto, with the exported policy tests/data/plan/policy.json.

Covers: a source allowed by the policy, by a rule left in the group, by another group of the
instance, and by nothing (cut off); newly allowed; bypasses named as warnings and in their own
colour in the html; workload names and labels from the policy; ownership "group" removes the
hand-made rule so its source is cut off instead; guards.max_cut_sources refuses (and --force does
not override it); offline (--state) uses the state file's other groups; a plan that cuts off 120
of 123 observed clients is refused by the default limit, the banner says so in every format.
"""
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from apply_world import DESIRED, POLICY, World, target, write_config  # noqa: E402
from aws_proxy import CountingProxy  # noqa: E402
from fsgtest import SKIP, Checker, Moto, run_flowseg  # noqa: E402

HEADER = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
          "bytes start end action log-status")


def flow_log(path, eni, db, clients):
    lines = [HEADER]
    for i, (src, action) in enumerate(clients):
        lines.append("2 123456789012 %s %s %s %d 5432 6 10 840 %d %d %s OK"
                     % (eni, src, db, 40000 + i, 1700000000 + i, 1700000060 + i, action))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def by_src(conns):
    return dict((d["src"], d) for d in conns)


def live(c, moto, proxy, tmp):
    w = World(moto)
    env = moto.env(AWS_ENDPOINT_URL=proxy.url)
    db = w.add_db("imp-db", "10.0.20.51")
    w.add_rules(db["sg"], [("tcp", 5432, 5432, "10.0.4.0/24", "app team")])
    managed = w.group("imp-managed")
    w.add_rules(managed, [DESIRED[0], ("tcp", 5432, 5432, "10.0.7.0/24", "hand made")])
    log = flow_log(os.path.join(tmp, "imp.log"), db["eni"], db["address"], [
        ("10.0.1.11", "ACCEPT"),   # the policy (web-1)
        ("10.0.4.31", "ACCEPT"),   # the instance's own group: a bypass
        ("10.0.4.40", "REJECT"),   # the same rule, rejected today: newly allowed, a bypass
        ("10.0.7.8", "ACCEPT"),    # the hand-made rule left in the group (rules): a bypass
        ("10.0.6.6", "ACCEPT"),    # nothing: cut off
        ("10.0.5.5", "REJECT"),    # nothing, rejected today: still denied
    ])

    def cfg(name, ownership="rules", **guards):
        g = {"max_removals": 10, "allow_empty": False, "allow_public": False, "max_rules": 60}
        g.update(guards)
        return write_config(os.path.join(tmp, name + ".json"),
                            [target("imp", "imp-db", managed, ownership=ownership)], guards=g)

    def flowseg(config, *args):
        proxy.clear()
        return run_flowseg(["--config", config] + list(args) + ["--policy", POLICY], env=env)

    rules_cfg = cfg("rules")
    p = flowseg(rules_cfg, "plan", "--format", "json", log)
    c.eq(p.returncode, 0, "live: plan with flows (%s)" % p.stderr[-300:])
    im = json.loads(p.stdout)["targets"][0]["impact"] if p.returncode == 0 else {}
    conns = by_src(im.get("connections", []))
    via = dict((s, (d["allowed_by"] or {}).get("source")) for s, d in conns.items())
    c.eq(via, {"10.0.1.11": "policy", "10.0.4.31": "other_group", "10.0.4.40": "other_group",
               "10.0.7.8": "kept", "10.0.6.6": None, "10.0.5.5": None},
         "live: what lets each source in after the apply")
    c.eq((conns.get("10.0.4.31", {}).get("allowed_by") or {}).get("security_group"), db["sg"],
         "live: the other group is the instance's own group, read from EC2")
    c.eq((conns.get("10.0.7.8", {}).get("allowed_by") or {}).get("rule", {}).get("description"),
         "hand made", "live: the allowing rule is named")
    c.eq([d["src"] for d in im.get("cut_off", [])], ["10.0.6.6"], "live: cut off")
    c.eq(im.get("cut_sources"), 1, "live: one source cut off")
    c.eq([d["src"] for d in im.get("newly_allowed", [])], ["10.0.4.40"], "live: newly allowed")
    c.eq([d["src"] for d in im.get("bypass", [])], ["10.0.4.31", "10.0.4.40", "10.0.7.8"],
         "live: bypasses")
    c.eq(sorted(d["src"] for d in im.get("would_deny", [])),
         ["10.0.4.31", "10.0.4.40", "10.0.5.5", "10.0.6.6", "10.0.7.8"],
         "live: would_deny keeps its meaning (the policy does not allow it)")
    web = conns.get("10.0.1.11", {})
    c.check(web.get("workload") == "web-1" and len(web.get("labels", {})) == 3,
            "live: the source is named with its workload and labels (%s)" % web.get("labels"))
    c.eq(proxy.count("ec2", "DescribeSecurityGroupRules"), 2,
         "live: the other groups in one more DescribeSecurityGroupRules")

    p = flowseg(rules_cfg, "plan", log)
    c.check("allowed only by a rule outside the policy" in p.stdout and
            "warning" in p.stdout and "cut off from 1 source(s)" in p.stdout,
            "live: text report names the bypass as a warning and the cut-off")
    p = flowseg(rules_cfg, "plan", "--format", "html", log)
    c.check("#d97706" in p.stdout and "BYPASS tcp/5432" in p.stdout and "CUT tcp/5432" in p.stdout,
            "live: html picture: bypass in its own colour, cut off")
    c.check("workload web-1" in p.stdout, "live: html names the source's workload")
    c.check("Guards pass: apply may proceed" not in p.stdout and "review the impact" in p.stdout,
            "live: html banner asks for a review of the impact")

    # ownership group: the hand-made rule goes, its source is cut off
    p = flowseg(cfg("group", ownership="group"), "plan", "--format", "json", log)
    im = json.loads(p.stdout)["targets"][0]["impact"] if p.returncode == 0 else {}
    c.eq([d["src"] for d in im.get("cut_off", [])], ["10.0.6.6", "10.0.7.8"],
         "live: group mode cuts off the source of the removed hand-made rule")

    # the guard on flow evidence
    before = w.rules(managed)
    strict = cfg("strict", max_cut_sources=0)
    p = flowseg(strict, "plan", "--format", "json", log)
    t = json.loads(p.stdout)["targets"][0] if p.returncode == 0 else {}
    c.check("max_cut_sources" in (t.get("refused") or ""), "guard: plan shows the refusal")
    for extra in ([], ["--force"]):
        p = flowseg(strict, "apply", *(extra + [log]))
        c.check(p.returncode == 1 and "max_cut_sources" in p.stderr and not proxy.mutating()
                and w.rules(managed) == before,
                "guard: apply %s refused, nothing changed" % " ".join(extra))
    p = flowseg(cfg("default"), "apply", log)
    c.eq(p.returncode, 0, "guard: the default limit (10) lets one cut-off through")


def offline(c, tmp):
    state = os.path.join(tmp, "state.json")
    rule = {"proto": "tcp", "from_port": 5432, "to_port": 5432}
    json.dump({"sg-0managed00000001": [dict(rule, cidr="10.0.1.11/32",
                                            description=DESIRED[0][4])],
               "sg-0other000000001": [dict(rule, cidr="10.0.100.0/28", description="team")]},
              open(state, "w"))
    clients = [("10.0.1.11", "ACCEPT"), ("10.0.1.12", "ACCEPT"), ("10.0.9.3", "ACCEPT")]
    clients += [("10.0.100.%d" % i, "ACCEPT") for i in range(1, 121)]
    log = flow_log(os.path.join(tmp, "many.log"), "eni-0off", "10.0.20.99", clients)
    config = write_config(os.path.join(tmp, "offline.json"), [
        {"name": "off", "virtual_service": "VS-RDS-orders-db",
         "security_group": "sg-0managed00000001", "enis": ["eni-0off"]}])
    p = run_flowseg(["--config", config, "plan", "--policy", POLICY, "--state", state,
                     "--format", "json", log])
    c.eq(p.returncode, 0, "offline: plan (%s)" % p.stderr[-300:])
    t = json.loads(p.stdout)["targets"][0] if p.returncode == 0 else {}
    im = t.get("impact") or {}
    c.eq(len(im.get("connections", [])), 123, "offline: 123 observed clients")
    bypass = [d for d in im.get("bypass", [])]
    c.check(len(bypass) == 15 and all((d["allowed_by"] or {}).get("security_group") ==
                                      "sg-0other000000001" for d in bypass),
            "offline: the state file's other group lets 15 in (a bypass)")
    c.eq(im.get("cut_sources"), 105, "offline: 105 of 123 cut off")
    c.check("max_cut_sources: 105 observed source(s)" in (t.get("refused") or ""),
            "offline: refused by the default max_cut_sources")
    json.dump({"sg-0managed00000001": [dict(rule, cidr="10.0.1.11/32",
                                            description=DESIRED[0][4])]}, open(state, "w"))
    for fmt, needle, reason in (
            ("text", "guards: REFUSED", "max_cut_sources: 120 observed"),
            ("markdown", "**Guards:** REFUSED", "max\\_cut\\_sources: 120 observed"),
            ("html", "<strong>Guards:</strong> REFUSED", "max_cut_sources&#58; 120 observed")):
        p = run_flowseg(["--config", config, "plan", "--policy", POLICY, "--state", state,
                         "--format", fmt, log])
        c.check(p.returncode == 0 and needle in p.stdout and reason in p.stdout,
                "offline: 120 of 123 cut off: %s banner refuses" % fmt)


def main():
    try:
        import boto3  # noqa: F401
    except ImportError:
        sys.exit(SKIP)
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="impact-")
    print("# offline")
    offline(c, tmp)
    with Moto() as moto, CountingProxy(moto.url) as proxy:
        print("# live")
        live(c, moto, proxy, tmp)
    c.done()


if __name__ == "__main__":
    main()
