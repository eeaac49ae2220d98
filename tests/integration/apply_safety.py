#!/usr/bin/env python3
"""flowseg apply on moto, through the counting and fault-injecting proxy (aws_proxy.py), for what
must hold when things are tight or go wrong:

- ownership "group" removes a rule that references another security group (by its rule id);
  "rules" leaves it and says so;
- quota-safe convergence: a group holding 55 stale flowseg rules that must end with the 16 rules
  of the policy, under the quota of 60, converges in ONE apply (ModifySecurityGroupRules 11,
  AuthorizeSecurityGroupIngress 5, RevokeSecurityGroupIngress 44), with the rule count checked
  after every mutating call; `plan` shows those calls;
- AuthorizeSecurityGroupIngress right after CreateSecurityGroup answered InvalidGroup.NotFound
  (EC2's eventual consistency) is tried again;
- ModifyDBInstance answered InvalidDBInstanceState (the instance is busy) is waited for and
  tried again; when it stays busy past the run's deadline: exit 1 "rules in place, group not
  yet attached", and the next run attaches it;
- a call whose answer is lost after moto carried it out is not audited as "found already so":
  the outcome is "unknown" and the group is read again;
- SIGTERM during a mutating call: the call is finished and audited, no further change, exit 1
  "interrupted"; the next apply completes. When that call's answer is then lost, the group is
  read again before stopping and each rule is audited as in place ("by": "unknown").
moto produces none of these faults itself: the proxy injects them.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apply_world import DESIRED, POLICY, World, sorted_rules, target, write_config  # noqa: E402
from aws_proxy import CountingProxy  # noqa: E402
from fsgtest import FLOWSEG, SKIP, Checker, Moto, run_flowseg  # noqa: E402

OLD = "flowseg /orgs/1/sec_policy/active/rule_sets/9/sec_rules/1"
H = "flowseg /orgs/1/sec_policy/active/rule_sets/24/sec_rules/"


def audit(stderr, event=None):
    out = []
    for line in stderr.splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if "event" in d and (event is None or d["event"] == event):
            out.append(d)
    return out


def policy_16(path):
    """The exported test policy with 16 IPv4 sources and no IPv6 one: the two workloads
    (10.0.1.11, 10.0.1.12) and 14 addresses of the ip list that do not merge."""
    with open(POLICY) as f:
        d = json.load(f)
    for w in d["workloads"]:
        w["interfaces"] = [i for i in w.get("interfaces") or [] if ":" not in i["address"]]
    d["ip_lists"][0]["ip_ranges"] = [{"from_ip": "10.0.9.%d" % (4 * i + 1), "exclusion": False}
                                     for i in range(14)]
    with open(path, "w") as f:
        json.dump(d, f)
    return [("tcp", 5432, 5432, "10.0.1.11/32", H + "41"),
            ("tcp", 5432, 5432, "10.0.1.12/32", H + "41")] + \
        [("tcp", 5432, 5432, "10.0.9.%d/32" % (4 * i + 1), H + "42") for i in range(14)]


class Ctx:
    def __init__(self, c, moto, proxy, world, tmp):
        self.c, self.moto, self.proxy, self.w, self.tmp = c, moto, proxy, world, tmp
        self.env = moto.env(AWS_ENDPOINT_URL=proxy.url)
        self.n = 0

    def config(self, targets, **kw):
        self.n += 1
        return write_config(os.path.join(self.tmp, "config-%d.json" % self.n), targets, **kw)

    def run(self, cfg, *args, policy=POLICY, env=None):
        self.proxy.clear()
        return run_flowseg(["--config", cfg] + list(args) + ["--policy", policy],
                           env=dict(self.env, **(env or {})))


# ---- 1. 55 stale, 16 desired, quota 60: one apply, never over the quota ------------------------
def quota_converges(x):
    c, w = x.c, x.w
    pol = os.path.join(x.tmp, "policy-16.json")
    want = sorted_rules(policy_16(pol))
    db = w.add_db("conv-db", "10.0.20.41")
    sg = db["sg"]
    stale = [("tcp", 5432, 5432, "10.8.%d.0/24" % i, OLD) for i in range(55)]
    for i in range(0, len(stale), 25):
        w.add_rules(sg, stale[i:i + 25])
    c.eq(len(w.rules(sg)), 55, "quota: the group starts with 55 stale flowseg rules")
    guards = {"max_removals": 60, "allow_empty": False, "allow_public": False, "max_rules": 60}
    cfg = x.config([target("conv", "conv-db", sg, associate="none")], guards=guards)
    p = x.run(cfg, "plan", "--format", "json", policy=pol)
    t = json.loads(p.stdout)["targets"][0] if p.returncode == 0 else {}
    c.eq((len(t.get("desired", [])), len(t.get("add", [])), len(t.get("remove", [])),
          t.get("refused")), (16, 16, 55, None), "quota: plan 16 desired, 16 to add, 55 to remove")
    c.eq(t.get("calls"), [{"action": "ModifySecurityGroupRules", "count": 11},
                          {"action": "AuthorizeSecurityGroupIngress", "count": 5},
                          {"action": "RevokeSecurityGroupIngress", "count": 44}],
         "quota: plan shows the calls: 11 rewritten in place, 5 authorized, 44 revoked")
    p = x.run(cfg, "plan", policy=pol)
    c.check("ModifySecurityGroupRules 11" in p.stdout and "rewritten in place" in p.stdout,
            "quota: the text plan shows the calls")
    counts = []
    x.proxy.after = lambda service, action: counts.append((action, len(w.rules(sg))))
    try:
        p = x.run(cfg, "apply", "--format", "json", policy=pol)
    finally:
        x.proxy.after = None
    c.eq(p.returncode, 0, "quota: ONE apply converges (exit 0)")
    if p.returncode != 0:
        print(p.stderr[-3000:])
    c.eq(w.rules(sg), want, "quota: the group holds exactly the 16 rules of the policy")
    c.eq(counts, [("ModifySecurityGroupRules", 55), ("AuthorizeSecurityGroupIngress", 60),
                  ("RevokeSecurityGroupIngress", 16)],
         "quota: rule count after every mutating call never over 60")
    c.eq([a for a in x.proxy.mutating()], [("ec2", "ModifySecurityGroupRules"),
                                            ("ec2", "AuthorizeSecurityGroupIngress"),
                                            ("ec2", "RevokeSecurityGroupIngress")],
         "quota: one call of each, in that order")
    err = p.stderr
    c.eq([a["action"] for a in audit(err, "requested")],
         ["ModifySecurityGroupRules", "AuthorizeSecurityGroupIngress",
          "RevokeSecurityGroupIngress"], "quota: an intent line before each call")
    mod = audit(err, "modify")
    c.check(len(mod) == 11 and all(m["result"] == "modified" and m["by"] == "this_run" and
                                   m["rule_id"].startswith("sgr-") for m in mod),
            "quota: 11 audit lines for the rules rewritten in place")
    out = json.loads(p.stdout) if p.returncode == 0 else {}
    a = (out.get("apply") or {}).get("targets", [{}])[0]
    c.eq((a.get("modified"), a.get("authorized"), a.get("revoked")), (11, 5, 44),
         "quota: the JSON apply result counts each kind")
    p = x.run(cfg, "apply", policy=pol)
    c.eq((p.returncode, x.proxy.mutating()), (0, []), "quota: a second apply changes nothing")


# ---- 1b. ownership group: a rule that references another group is removed, by its id ----------
def foreign_rule_removed(x):
    c, w = x.c, x.w
    db = w.add_db("ref-db", "10.0.20.47")
    sg = db["sg"]
    peer = w.ec2.create_security_group(GroupName="app-peer", Description="peer",
                                       VpcId=w.vpc)["GroupId"]
    w.add_rules(sg, DESIRED)
    w.ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "UserIdGroupPairs": [{"GroupId": peer, "Description": "app servers"}]}])
    c.check(any(r[3] == peer for r in w.rules(sg)), "foreign: the group references another")
    cfg = x.config([target("ref", "ref-db", sg, associate="none")])
    p = x.run(cfg, "plan", "--format", "json")
    t = json.loads(p.stdout)["targets"][0] if p.returncode == 0 else {}
    c.eq([(r.get("source_group"), r.get("reason", "")[:40]) for r in t.get("remove", [])],
         [(peer, "not in the policy, added outside flowseg")],
         "foreign: plan (ownership group) removes the group reference, saying why")
    p = x.run(cfg, "apply")
    c.eq((p.returncode, w.rules(sg)), (0, DESIRED), "foreign: apply removes it (by rule id)")
    cfg = x.config([target("ref", "ref-db", sg, associate="none", ownership="rules")])
    w.ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "UserIdGroupPairs": [{"GroupId": peer}]}])
    p = x.run(cfg, "apply")
    c.check(p.returncode == 0 and any(r[3] == peer for r in w.rules(sg)) and
            "references a security group" in p.stdout and "left in place" in p.stdout,
            "foreign: ownership rules leaves it and says so")


# ---- 2. authorize right after create: InvalidGroup.NotFound is retried ----------------------------
def new_group_not_found(x):
    c, w = x.c, x.w
    w.add_db("fresh-db", "10.0.20.42")
    cfg = x.config([target("fresh", "fresh-db", {"create": "flowseg-fresh"}, associate="none")])
    x.proxy.fault("AuthorizeSecurityGroupIngress",
                  {"kind": "error", "status": 400, "code": "InvalidGroup.NotFound",
                   "message": "The security group does not exist"},
                  {"kind": "error", "status": 400, "code": "InvalidGroup.NotFound",
                   "message": "The security group does not exist"})
    p = x.run(cfg, "apply")
    c.eq(p.returncode, 0, "new group: apply exit 0 despite two InvalidGroup.NotFound")
    if p.returncode != 0:
        print(p.stderr[-2000:])
    c.eq(x.proxy.count("ec2", "AuthorizeSecurityGroupIngress"), 3,
         "new group: authorize tried three times")
    groups = w.ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["flowseg-fresh"]}])["SecurityGroups"]
    c.check(len(groups) == 1 and w.rules(groups[0]["GroupId"]) == DESIRED,
            "new group: created once and filled")
    c.eq(len([r for r in audit(p.stderr, "requested")
              if r["action"] == "AuthorizeSecurityGroupIngress"]), 3,
         "new group: an intent line before each attempt")


# ---- 3. ModifyDBInstance while the instance is busy ---------------------------------------------
def db_busy(x):
    c, w = x.c, x.w
    busy = {"kind": "error", "status": 400, "code": "InvalidDBInstanceState",
            "message": "Database instance is not in available state."}
    db = w.add_db("busy-db", "10.0.20.43")
    sg = w.ec2.create_security_group(GroupName="busy-managed", Description="managed",
                                     VpcId=w.vpc)["GroupId"]
    cfg = x.config([target("busy", "busy-db", sg)])
    x.proxy.fault("ModifyDBInstance", busy, busy)
    p = x.run(cfg, "apply", env={"FLOWSEG_APPLY_WAIT_S": "20"})
    c.eq(p.returncode, 0, "busy: apply waits for the instance and attaches the group")
    c.eq(x.proxy.count("rds", "ModifyDBInstance"), 3, "busy: ModifyDBInstance tried 3 times")
    c.eq(sorted(w.db_groups("busy-db")), sorted([db["sg"], sg]), "busy: the group is attached")
    # busy past the deadline: the rules are in place, the group is not attached; next run does it
    db2 = w.add_db("busy-db-2", "10.0.20.44")
    sg2 = w.ec2.create_security_group(GroupName="busy-managed-2", Description="managed",
                                      VpcId=w.vpc)["GroupId"]
    cfg2 = x.config([target("busy2", "busy-db-2", sg2)])
    x.proxy.fault("ModifyDBInstance", *([busy] * 50))
    p = x.run(cfg2, "apply", env={"FLOWSEG_APPLY_WAIT_S": "2"})
    x.proxy.faults = {}
    c.eq(p.returncode, 1, "busy past the deadline: exit 1")
    c.check("rules in place, group not yet attached" in p.stderr,
            "busy past the deadline: stderr says rules in place, group not yet attached")
    c.check(any(a.get("result") == "not_attached" for a in audit(p.stderr, "associate")),
            "busy past the deadline: audited as not_attached")
    c.eq((w.rules(sg2), w.db_groups("busy-db-2")), (DESIRED, [db2["sg"]]),
         "busy past the deadline: rules in place, group not attached")
    p = x.run(cfg2, "apply")
    c.eq((p.returncode, sorted(w.db_groups("busy-db-2"))), (0, sorted([db2["sg"], sg2])),
         "busy: the next run attaches the group")


# ---- 4. an answer lost after the change was made ------------------------------------------------
def lost_answer(x):
    c, w = x.c, x.w
    db = w.add_db("lost-db", "10.0.20.45")
    sg = db["sg"]
    w.add_rules(sg, [DESIRED[0], ("tcp", 5432, 5432, "10.0.5.0/24", OLD)])
    cfg = x.config([target("lost", "lost-db", sg, associate="none")])
    x.proxy.fault("AuthorizeSecurityGroupIngress", {"kind": "drop_answer"})
    x.proxy.fault("RevokeSecurityGroupIngress", {"kind": "drop_answer"})
    p = x.run(cfg, "apply", "--format", "json")
    x.proxy.faults = {}
    c.eq(p.returncode, 0, "lost answer: apply converges (exit 0)")
    if p.returncode != 0:
        print(p.stderr[-3000:])
    c.eq(w.rules(sg), DESIRED, "lost answer: the group holds the desired rules")
    results = audit(p.stderr, "authorize") + audit(p.stderr, "revoke")
    c.check(results and not any(r.get("by") == "found_already_so" for r in results),
            "lost answer: never audited as found already so")
    unknown = [r for r in results if r.get("by") == "unknown"]
    c.check(len(unknown) >= 1 and all(r.get("outcome", "").startswith("unknown") for r in unknown),
            "lost answer: the outcome is audited as unknown")
    c.check(x.proxy.count("ec2", "DescribeSecurityGroupRules") >= 2,
            "lost answer: the group was read again")


# ---- 4b. the answer of a ModifySecurityGroupRules is lost: the rewritten rules stay -------------
def lost_modify_answer(x):
    c, w = x.c, x.w
    pol = os.path.join(x.tmp, "policy-16b.json")
    want = sorted_rules(policy_16(pol))
    db = w.add_db("lostmod-db", "10.0.20.47")
    sg = db["sg"]
    stale = [("tcp", 5432, 5432, "10.9.%d.0/24" % i, OLD) for i in range(55)]
    for i in range(0, len(stale), 25):
        w.add_rules(sg, stale[i:i + 25])
    guards = {"max_removals": 60, "allow_empty": False, "allow_public": False, "max_rules": 60}
    cfg = x.config([target("lostmod", "lostmod-db", sg, associate="none")], guards=guards)
    x.proxy.fault("ModifySecurityGroupRules", {"kind": "drop_answer"})
    try:
        p = x.run(cfg, "apply", "--format", "json", policy=pol)
    finally:
        x.proxy.faults = {}
    # On AWS ModifySecurityGroupRules keeps the rule id (moto gives a new one, so the in-place
    # case itself is tests/unit/test_sg_apply.c lost_modify_keeps_the_rewritten_rules); here:
    # after a lost answer the group still converges exactly.
    c.eq(w.rules(sg), want, "lost Modify answer: the group holds exactly the 16 rules")
    c.check(p.returncode == 0 and not any(r.get("by") == "found_already_so"
                                          for r in audit(p.stderr, "modify")),
            "lost Modify answer: apply converges, never audited as found already so")


# ---- 5. SIGTERM during a mutating call ---------------------------------------------------------
def apply_sigterm_in_authorize(x, name, addr, fault):
    """An apply of a fresh database's group holding one stale rule, SIGTERM sent while its
    authorize call is held at the proxy by `fault`: (sent, returncode, stderr, cfg, group, stale)."""
    db = x.w.add_db(name + "-db", addr)
    sg = db["sg"]
    stale = ("tcp", 5432, 5432, "10.0.5.0/24", OLD)
    x.w.add_rules(sg, [stale])
    cfg = x.config([target(name, name + "-db", sg, associate="none")])
    x.proxy.clear()
    arrived = x.proxy.arrived("AuthorizeSecurityGroupIngress")
    arrived.clear()
    x.proxy.fault("AuthorizeSecurityGroupIngress", fault)
    proc = subprocess.Popen([FLOWSEG, "--config", cfg, "apply", "--policy", POLICY], env=x.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got = arrived.wait(timeout=60)
    if got:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    x.proxy.faults = {}
    return got, proc.returncode, err, cfg, sg, stale


def sigterm(x):
    c, w = x.c, x.w
    got, returncode, err, cfg, sg, stale = apply_sigterm_in_authorize(
        x, "term", "10.0.20.46", {"kind": "delay", "s": 2.0})
    c.check(got, "sigterm: the authorize call was in flight")
    c.eq(returncode, 1, "sigterm: exit 1")
    c.check("interrupted" in err, "sigterm: stderr says interrupted")
    req = audit(err, "requested")
    c.eq([r["action"] for r in req], ["AuthorizeSecurityGroupIngress"],
         "sigterm: the intent line of the call in flight, and no further call")
    c.check(len(audit(err, "authorize")) == 7 and
            all(a["result"] == "created" for a in audit(err, "authorize")),
            "sigterm: the call in flight was finished and audited")
    c.check(len(audit(err, "interrupted")) >= 1, "sigterm: an interrupted audit line")
    c.eq(x.proxy.count("ec2", "RevokeSecurityGroupIngress"), 0, "sigterm: no revoke after it")
    c.eq(w.rules(sg), sorted_rules(DESIRED + [stale]), "sigterm: new rules in, stale rule kept")
    p = x.run(cfg, "apply")
    c.eq((p.returncode, w.rules(sg)), (0, DESIRED), "sigterm: the next apply completes")


# ---- 5b. SIGTERM during a mutating call whose answer is then lost -------------------------------
def sigterm_lost_answer(x):
    c, w = x.c, x.w
    got, returncode, err, _, sg, stale = apply_sigterm_in_authorize(
        x, "termlost", "10.0.20.48", {"kind": "drop_answer", "s": 2.0})
    c.check(got, "sigterm + lost answer: the authorize call was in flight")
    c.eq(returncode, 1, "sigterm + lost answer: exit 1")
    c.check("interrupted" in err, "sigterm + lost answer: stderr says interrupted")
    c.eq([r["action"] for r in audit(err, "requested")], ["AuthorizeSecurityGroupIngress"],
         "sigterm + lost answer: no further change requested")
    auth = audit(err, "authorize")
    c.check(len(auth) == 7 and all(a.get("by") == "unknown" and a["result"] == "already_present"
                                   for a in auth),
            "sigterm + lost answer: the group was read again and each rule audited as in place, "
            "who made it unknown (%s)" % err[-1500:])
    c.check(x.proxy.count("ec2", "DescribeSecurityGroupRules") >= 2,
            "sigterm + lost answer: the group was read again before stopping")
    c.eq(x.proxy.count("ec2", "AuthorizeSecurityGroupIngress"), 1,
         "sigterm + lost answer: the authorize was not sent again after the stop")
    c.eq(len(audit(err, "interrupted")), 1, "sigterm + lost answer: one interrupted line")
    c.eq(x.proxy.count("ec2", "RevokeSecurityGroupIngress"), 0,
         "sigterm + lost answer: no revoke after it")
    c.eq(w.rules(sg), sorted_rules(DESIRED + [stale]),
         "sigterm + lost answer: new rules in, stale rule kept")


def main():
    try:
        import boto3  # noqa: F401
    except ImportError:
        sys.exit(SKIP)
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="apply-safety-")
    with Moto() as moto, CountingProxy(moto.url) as proxy:
        x = Ctx(c, moto, proxy, World(moto), tmp)
        for step in (quota_converges, foreign_rule_removed, new_group_not_found, db_busy,
                     lost_answer, lost_modify_answer, sigterm, sigterm_lost_answer):
            print("#", step.__name__)
            step(x)
    c.done()


if __name__ == "__main__":
    main()
