#!/usr/bin/env python3
"""flowseg plan (live) and apply against moto, through a counting proxy (aws_proxy.py), with the
exported policy tests/data/plan/policy.json (the PCE path is apply_pce.py).

Covers: an empty group to the desired set (group created, tagged, associated); a stale group
(missing, extra owned and not-owned rules) to the desired set in the minimum number of calls; a
second apply that makes no changing call; tampering undone (an owned rule added by hand goes, a
not-owned one stays); two applies at the same moment (forced to collide) converge without error;
each guard refuses and changes nothing (and --force overrides only the removal guard); the EC2
quota stops an apply before any revoke; --plan refuses a stale plan and applies a fresh one, and
refuses a plan whose target the compiler now refuses with the compiler's reason, or whose calls
(the quota-safe order) would now differ;
associate add / replace / none; --dry-run; a group of the create name that is not flowseg's; AWS
read failures; the impact on flows matched through the discovered RDS interface, from a local
file and from S3.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apply_world import (DESIRED, POLICY, World, sorted_rules, target,  # noqa: E402
                         write_config, write_flow_log)
from aws_proxy import CountingProxy  # noqa: E402
from fsgtest import FLOWSEG, SKIP, Checker, Moto, run_flowseg  # noqa: E402

OLD = "flowseg /orgs/1/sec_policy/active/rule_sets/9/sec_rules/1"
MANUAL = ("tcp", 22, 22, "10.0.0.0/8", "manual ssh")


class Ctx:
    def __init__(self, c, moto, proxy, world, tmp):
        self.c, self.moto, self.proxy, self.w, self.tmp = c, moto, proxy, world, tmp
        self.env = moto.env(AWS_ENDPOINT_URL=proxy.url)
        self.n = 0

    def config(self, targets, **kw):
        self.n += 1
        return write_config(os.path.join(self.tmp, "config-%d.json" % self.n), targets, **kw)

    def run(self, cfg, *args, policy=POLICY):
        extra = ["--policy", policy] if policy else []
        self.proxy.clear()
        return run_flowseg(["--config", cfg] + list(args) + extra, env=self.env)

    def calls(self):
        return dict(("%s:%s" % k, v) for k, v in self.proxy.counts().items())


def audit(stderr, event):
    out = []
    for line in stderr.splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if d.get("event") == event:
            out.append(d)
    return out


def stale_rules():
    """Three desired rules present, two owned rules not wanted, one manual rule."""
    return [DESIRED[0], DESIRED[2], DESIRED[6],
            ("tcp", 5432, 5432, "10.0.5.0/24", OLD), ("tcp", 5432, 5432, "10.0.6.6/32", OLD),
            MANUAL]


# ---- 1. an empty group to the desired set -----------------------------------------------------
def empty_to_desired(x):
    c, w = x.c, x.w
    db = w.add_db("empty-db", "10.0.20.11")
    cfg = x.config([target("empty", "empty-db", {"create": "flowseg-empty"})])
    p = x.run(cfg, "plan", "--detailed-exitcode")
    c.eq(p.returncode, 3, "empty: plan --detailed-exitcode finds changes (group to create)")
    c.check("association (add)" in p.stdout and "flowseg-empty" in p.stdout,
            "empty: plan says the group joins the instance")
    c.eq(x.proxy.mutating(), [], "empty: plan makes no changing call")
    p = x.run(cfg, "apply")
    c.eq(p.returncode, 0, "empty: apply exit 0")
    groups = w.ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["flowseg-empty"]}])["SecurityGroups"]
    c.eq(len(groups), 1, "empty: the group was created once")
    sg = groups[0]["GroupId"] if groups else None
    tags = {t["Key"]: t["Value"] for t in (groups[0].get("Tags") or [])} if groups else {}
    c.eq(tags.get("flowseg:managed"), "empty", "empty: the group carries the ownership tag")
    c.eq(w.rules(sg), DESIRED, "empty: the group holds exactly the desired rules")
    c.eq(w.db_groups("empty-db"), [db["sg"], sg], "empty: associate add kept the old group")
    calls = x.calls()
    c.eq({k: v for k, v in calls.items() if k.split(":")[1] in (
        "CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress",
        "ModifyDBInstance")},
        {"ec2:CreateSecurityGroup": 1, "ec2:AuthorizeSecurityGroupIngress": 1,
         "rds:ModifyDBInstance": 1}, "empty: one create, one authorize, one modify, no revoke")
    c.eq(len(audit(p.stderr, "authorize")), 7, "empty: one audit line per rule authorized")
    c.eq(len(audit(p.stderr, "create_group")) + len(audit(p.stderr, "associate")), 2,
         "empty: audit lines for create_group and associate")
    p = x.run(cfg, "apply")
    c.eq((p.returncode, x.proxy.mutating()), (0, []), "empty: second apply changes nothing")
    c.check("unchanged" in p.stdout, "empty: second apply says unchanged")
    p = x.run(cfg, "plan", "--detailed-exitcode")
    c.eq(p.returncode, 0, "empty: plan after apply: --detailed-exitcode 0")
    c.check("no changes" in p.stdout, "empty: plan after apply prints 'no changes'")


# ---- 2. a stale group, minimum calls, idempotence, tampering ---------------------------------------
def stale_to_desired(x):
    c, w = x.c, x.w
    db = w.add_db("stale-db", "10.0.20.12")
    sg = db["sg"]
    w.add_rules(sg, stale_rules())
    # ownership "rules" (a shared group): the manual rule is not flowseg's
    cfg = x.config([target("stale", "stale-db", sg, ownership="rules")])
    p = x.run(cfg, "plan", "--format", "json")
    t = json.loads(p.stdout)["targets"][0] if p.returncode == 0 else {}
    c.eq((len(t.get("add", [])), len(t.get("remove", []))), (4, 2), "stale: plan 4 add, 2 remove")
    p = x.run(cfg, "apply", "--format", "json")
    c.eq(p.returncode, 0, "stale: apply exit 0")
    c.eq(w.rules(sg), sorted_rules(DESIRED + [MANUAL]),
         "stale: desired set reached, the manual rule untouched")
    c.eq(x.calls(), {"rds:DescribeDBInstances": 1, "ec2:DescribeSecurityGroupRules": 1,
                     "ec2:AuthorizeSecurityGroupIngress": 1, "ec2:RevokeSecurityGroupIngress": 1},
         "stale: minimum calls (1 describe each, 1 authorize, 1 revoke)")
    out = json.loads(p.stdout) if p.returncode == 0 else {}
    a = (out.get("apply") or {}).get("targets", [{}])[0]
    c.eq((a.get("status"), a.get("authorized"), a.get("revoked")), ("applied", 4, 2),
         "stale: JSON apply result")
    rv = audit(p.stderr, "revoke")
    c.eq(sorted(r["rule"]["cidr"] for r in rv), ["10.0.5.0/24", "10.0.6.6/32"],
         "stale: audit lines name the revoked rules")
    c.check(all(r.get("target") == "stale" and r.get("security_group") == sg and
                r.get("rule_id", "").startswith("sgr-") for r in rv),
            "stale: audit lines carry target, group and rule id")
    p = x.run(cfg, "apply")
    c.eq((p.returncode, x.proxy.mutating()), (0, []), "stale: second apply: no changing call")
    c.eq(x.calls(), {"rds:DescribeDBInstances": 1, "ec2:DescribeSecurityGroupRules": 1},
         "stale: second apply reads once each")
    # tampering: an owned rule added by hand goes, a not-owned one stays, a deleted one returns
    w.add_rules(sg, [("tcp", 5432, 5432, "10.0.8.8/32", "flowseg hand-made"),
                     ("tcp", 5432, 5432, "10.0.8.9/32", "ops: temporary access")])
    rid = [r["SecurityGroupRuleId"] for r in w.ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"]
        if r.get("CidrIpv4") == "10.0.1.11/32"]
    w.ec2.revoke_security_group_ingress(GroupId=sg, SecurityGroupRuleIds=rid)
    p = x.run(cfg, "apply")
    c.eq(p.returncode, 0, "tamper: apply exit 0")
    c.eq(w.rules(sg), sorted_rules(DESIRED + [MANUAL, ("tcp", 5432, 5432, "10.0.8.9/32",
                                                       "ops: temporary access")]),
         "tamper: owned hand-made rule removed, not-owned kept, deleted desired rule restored")
    c.check("ops: temporary access" not in "".join(
        json.dumps(r) for r in audit(p.stderr, "revoke")), "tamper: the not-owned rule is "
        "never in a revoke line")
    # ownership "group" (the default): the same group is flowseg's; the other rules go
    cfg = x.config([target("stale", "stale-db", sg)])
    p = x.run(cfg, "apply", "--format", "json")
    c.eq(p.returncode, 0, "tamper, ownership group: apply exit 0")
    c.eq(w.rules(sg), DESIRED, "tamper, ownership group: every rule outside the policy removed")
    rv = audit(p.stderr, "revoke")
    c.eq(sorted((r["rule"]["cidr"], r.get("reason")) for r in rv if r.get("result") == "revoked"),
         [("10.0.0.0/8", "not in the policy, added outside flowseg"),
          ("10.0.8.9/32", "not in the policy, added outside flowseg")],
         "tamper, ownership group: the revoke audit lines give the reason")


# ---- 3. two applies at the same moment ----------------------------------------------------------
def concurrent(x):
    c, w = x.c, x.w
    db = w.add_db("race-db", "10.0.20.13")
    db2 = w.add_db("race-db-2", "10.0.20.23")
    w.add_rules(db["sg"], stale_rules())
    # one target per RDS instance (the config refuses two on one)
    cfg = x.config([target("race", "race-db", db["sg"], ownership="rules"),
                    target("race-new", "race-db-2", {"create": "flowseg-race"})])
    x.proxy.barriers = {}
    for action in ("CreateSecurityGroup", "AuthorizeSecurityGroupIngress",
                   "RevokeSecurityGroupIngress", "ModifyDBInstance"):
        x.proxy.barrier(action, 2, timeout_s=15)
    x.proxy.clear()
    procs = [subprocess.Popen([FLOWSEG, "--config", cfg, "apply", "--format", "json", "--policy",
                               POLICY], env=x.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    x.proxy.barriers = {}
    codes = [p.returncode for p in procs]
    c.eq(codes, [0, 0], "race: both applies exit 0")
    for i, (o, e) in enumerate(outs):
        if procs[i].returncode != 0:
            print(e[-2000:])
    c.eq(set(w.rules(db["sg"])), set(DESIRED + [MANUAL]), "race: the named group converged")
    groups = w.ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["flowseg-race"]}])["SecurityGroups"]
    c.eq(len(groups), 1, "race: one created group")
    if groups:
        c.eq(set(w.rules(groups[0]["GroupId"])), set(DESIRED), "race: the created group converged")
        c.eq(sorted(w.db_groups("race-db-2")), sorted([db2["sg"], groups[0]["GroupId"]]),
             "race: the instance has both groups")
    done = [json.loads(o)["apply"]["targets"][0] for o, _ in outs if o.strip().startswith("{")]
    c.eq([t["authorized"] + t["already_present"] for t in done], [4, 4],
         "race: each run accounts for the 4 rules (created or already present)")
    c.eq([t["revoked"] + t["already_gone"] for t in done], [2, 2],
         "race: each run accounts for the 2 removals (revoked or already gone)")
    c.check(sum(t["already_present"] + t["already_gone"] for t in done) > 0,
            "race: the collision was seen and converged (Duplicate/NotFound taken as done)")
    p = x.run(cfg, "apply")
    c.eq((p.returncode, x.proxy.mutating()), (0, []), "race: a third apply changes nothing")


# ---- 4. guards --------------------------------------------------------------------------------
def guards(x):
    c, w = x.c, x.w
    base = {"max_removals": 10, "allow_empty": False, "allow_public": False, "max_rules": 60}
    db = w.add_db("guard-db", "10.0.20.14")
    sg = db["sg"]
    w.add_rules(sg, [("tcp", 5432, 5432, "10.0.5.%d/32" % i, OLD) for i in range(3)])
    before = w.rules(sg)

    def refused(cfg, what, needle, *args, policy=POLICY):
        p = x.run(cfg, "apply", *args, policy=policy)
        c.eq(p.returncode, 1, "guard %s: apply exit 1" % what)
        c.check(needle in p.stderr and "refused" in p.stderr,
                "guard %s: stderr names the target and the guard" % what)
        c.eq(x.proxy.mutating(), [], "guard %s: no changing call" % what)
        c.check(len(audit(p.stderr, "refused")) == 1, "guard %s: one refused audit line" % what)
        return p

    g = dict(base, max_removals=2)
    cfg = x.config([target("guarded", "guard-db", sg)], guards=g)
    refused(cfg, "max_removals", "max_removals")
    c.eq(w.rules(sg), before, "guard max_removals: group unchanged")
    g = dict(base, max_rules=5)
    refused(x.config([target("guarded", "guard-db", sg)], guards=g), "max_rules", "max_rules")
    public = json.load(open(POLICY))
    public["ip_lists"][0]["ip_ranges"].append({"from_ip": "8.8.8.0/24", "exclusion": False})
    ppath = os.path.join(x.tmp, "public-policy.json")
    json.dump(public, open(ppath, "w"))
    refused(x.config([target("guarded", "guard-db", sg)], guards=base), "allow_public",
            "allow_public", policy=ppath)
    empty_t = {"name": "guarded", "rds_instance": "guard-db",
               "labels": {"role": "Database", "app": "Billing"}, "security_group": sg}
    refused(x.config([empty_t], guards=base), "allow_empty", "allow_empty")
    c.eq(w.rules(sg), before, "guards: group unchanged after every refusal")
    # one target refused, another applied: exit 1 naming the refused one
    other = w.add_db("guard-db-2", "10.0.20.24")
    p = x.run(x.config([empty_t, target("fine", "guard-db-2", other["sg"])], guards=base), "apply")
    c.check(p.returncode == 1 and "target guarded" in p.stderr and "target fine" not in p.stderr,
            "guards: exit 1 names only the refused target")
    c.eq((w.rules(sg), w.rules(other["sg"])), (before, DESIRED),
         "guards: the refused target untouched, the other one applied")
    # --force overrides the removal guard only
    p = x.run(x.config([target("guarded", "guard-db", sg)], guards=dict(base, max_rules=5)),
              "apply", "--force")
    c.eq((p.returncode, x.proxy.mutating()), (1, []), "guard: --force does not override max_rules")
    p = x.run(x.config([target("guarded", "guard-db", sg)], guards=dict(base, max_removals=2)),
              "apply", "--force")
    c.eq(p.returncode, 0, "guard: --force overrides max_removals")
    c.eq(w.rules(sg), DESIRED, "guard: --force applied the plan")


# ---- 5. the EC2 quota -------------------------------------------------------------------------
def quota(x):
    c, w = x.c, x.w
    db = w.add_db("quota-db", "10.0.20.15")
    sg = db["sg"]
    many = [("tcp", 6000 + i, 6000 + i, "10.9.%d.0/24" % i, "manual %d" % i) for i in range(55)]
    for i in range(0, len(many), 25):
        w.add_rules(sg, many[i:i + 25])
    w.add_rules(sg, [("tcp", 5432, 5432, "10.0.5.1/32", OLD)])
    before = w.rules(sg)
    g = {"max_removals": 10, "allow_empty": False, "allow_public": False, "max_rules": 200}
    # ownership "rules": the 55 manual rules are someone else's; max_rules lies about the quota
    p = x.run(x.config([target("quota", "quota-db", sg, ownership="rules")], guards=g), "apply")
    c.eq(p.returncode, 1, "quota: apply exit 1")
    c.check("quota" in p.stderr and "quota" in p.stdout, "quota: reported on stderr and stdout")
    c.eq(x.proxy.count("ec2", "RevokeSecurityGroupIngress"), 0, "quota: nothing revoked")
    c.eq(w.rules(sg), before, "quota: group unchanged (moto refuses the whole call)")
    c.check(any(a.get("guard") == "quota" for a in audit(p.stderr, "refused")),
            "quota: refused audit line")


# ---- 6. saved plans -------------------------------------------------------------------------------
def saved_plan(x):
    c, w = x.c, x.w
    db = w.add_db("saved-db", "10.0.20.16")
    sg = db["sg"]
    w.add_rules(sg, stale_rules())
    w.add_db("saved-db-3", "10.0.20.36")
    cfg = x.config([target("saved", "saved-db", sg, ownership="rules"),
                    target("saved-new", "saved-db-3", {"create": "flowseg-saved"})])
    plan = os.path.join(x.tmp, "saved-plan.json")
    p = x.run(cfg, "plan", "--save-plan", plan)
    c.eq(p.returncode, 0, "saved: plan --save-plan")
    w.add_rules(sg, [("tcp", 5432, 5432, "10.0.8.1/32", "someone else")])
    before = w.rules(sg)
    p = x.run(cfg, "apply", "--plan", plan)
    c.eq(p.returncode, 1, "saved: a stale plan is refused (exit 1)")
    c.check("stale" in p.stderr and "saved" in p.stderr, "saved: stderr says stale and names the "
                                                          "target")
    c.eq((x.proxy.mutating(), w.rules(sg)), ([], before), "saved: nothing changed")
    p = x.run(cfg, "plan", "--save-plan", plan)
    p = x.run(cfg, "apply", "--plan", plan, "--format", "json")
    c.eq(p.returncode, 0, "saved: a fresh plan is applied")
    c.eq(w.rules(sg), sorted_rules(DESIRED + [MANUAL, ("tcp", 5432, 5432, "10.0.8.1/32",
                                                       "someone else")]),
         "saved: the plan was executed exactly")
    groups = w.ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["flowseg-saved"]}])["SecurityGroups"]
    c.check(len(groups) == 1 and w.rules(groups[0]["GroupId"]) == DESIRED,
            "saved: the group to create was created and filled")
    p = x.run(cfg, "apply", "--plan", plan)
    c.eq(p.returncode, 1, "saved: the same plan again is stale (the groups changed)")
    # a saved plan refused by the removal guard: refused as saved, applied with --force
    db2 = w.add_db("saved-db-2", "10.0.20.26")
    w.add_rules(db2["sg"], [("tcp", 5432, 5432, "10.0.5.%d/32" % i, OLD) for i in range(3)])
    cfg2 = x.config([target("saved-2", "saved-db-2", db2["sg"])],
                    guards={"max_removals": 1, "allow_empty": False, "allow_public": False,
                            "max_rules": 60})
    x.run(cfg2, "plan", "--save-plan", plan)
    before = w.rules(db2["sg"])
    p = x.run(cfg2, "apply", "--plan", plan)
    c.check(p.returncode == 1 and "max_removals" in p.stderr and not x.proxy.mutating()
            and w.rules(db2["sg"]) == before, "saved: a plan refused by a guard stays refused")
    p = x.run(cfg2, "apply", "--plan", plan, "--force")
    c.check(p.returncode == 0 and w.rules(db2["sg"]) == DESIRED,
            "saved: --force applies a plan refused only by max_removals")
    # a saved plan whose target the compiler now refuses: still refused, and the message names
    # the compiler's reason, not "the group changed"
    db4 = w.add_db("saved-db-4", "10.0.20.46")
    w.add_rules(db4["sg"], stale_rules())
    cfg4 = x.config([target("saved-4", "saved-db-4", db4["sg"])])
    p = x.run(cfg4, "plan", "--save-plan", plan)
    c.eq(p.returncode, 0, "saved: plan --save-plan (before the policy is refused)")
    with open(POLICY) as f:
        refused_policy = json.load(f)
    for rs in refused_policy["rule_sets"]:
        for r in rs["rules"]:
            r["network_type"] = "non_brn"
    refused_path = os.path.join(x.tmp, "policy-non-brn.json")
    with open(refused_path, "w") as f:
        json.dump(refused_policy, f)
    before = w.rules(db4["sg"])
    p = x.run(cfg4, "apply", "--plan", plan, policy=refused_path)
    c.check(p.returncode == 1 and not x.proxy.mutating() and w.rules(db4["sg"]) == before,
            "saved: a plan whose target the compiler now refuses stays refused (exit 1, nothing "
            "changed)")
    c.check("compiler" in p.stderr and "network_type" in p.stderr and
            "changed since" not in p.stderr and "stale" not in p.stderr,
            "saved: the refusal names the compiler's reason, not a changed group (%s)"
            % p.stderr[-600:])
    c.check(any("network_type" in r.get("reason", "") for r in audit(p.stderr, "refused")),
            "saved: the refused audit line names the compiler's reason")
    # the same changes in other calls than the plan showed (guards.max_rules lowered, so the
    # quota-safe order rewrites in place first): refused, apply makes exactly the calls shown
    db5 = w.add_db("saved-db-5", "10.0.20.56")
    w.add_rules(db5["sg"], stale_rules())
    cfg5 = x.config([target("saved-5", "saved-db-5", db5["sg"])])
    tight = {"max_removals": 10, "allow_empty": False, "allow_public": False, "max_rules": 7}
    cfg5_tight = x.config([target("saved-5", "saved-db-5", db5["sg"])], guards=tight)
    p = x.run(cfg5, "plan", "--save-plan", plan)
    with open(plan) as f:
        shown = [cl["action"] for cl in json.load(f)["targets"][0]["calls"]]
    c.eq(shown, ["AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"],
         "saved: the plan shows authorize then revoke under max_rules 60")
    before = w.rules(db5["sg"])
    p = x.run(cfg5_tight, "apply", "--plan", plan)
    c.check(p.returncode == 1 and not x.proxy.mutating() and w.rules(db5["sg"]) == before,
            "saved: a plan whose calls would differ now is refused, nothing changed")
    c.check("other calls than the plan shows" in p.stderr and "ModifySecurityGroupRules" in
            p.stderr, "saved: the refusal names the calls shown and those of now (%s)"
            % p.stderr[-600:])
    p = x.run(cfg5_tight, "plan", "--save-plan", plan)
    p = x.run(cfg5_tight, "apply", "--plan", plan)
    c.check(p.returncode == 0 and w.rules(db5["sg"]) == DESIRED and
            x.proxy.count("ec2", "ModifySecurityGroupRules") == 1,
            "saved: the plan made under max_rules 7 applies with the calls it shows (%s)"
            % p.stderr[-400:])
    report = os.path.join(x.tmp, "report.json")
    x.run(cfg, "plan", "--format", "json", "--out", report)
    p = x.run(cfg, "apply", "--plan", report)
    c.check(p.returncode == 1 and "not a saved plan" in p.stderr,
            "saved: a plain JSON report is not a saved plan")


# ---- 7. association -----------------------------------------------------------------------------
def association(x):
    c, w = x.c, x.w
    for mode in ("add", "replace", "none"):
        name = "assoc-%s" % mode
        db = w.add_db(name, "10.0.21.%d" % (10 + len(mode)), az="us-east-1b")
        managed = w.group("managed-" + mode)
        cfg = x.config([target(name, name, managed, associate=mode)])
        p = x.run(cfg, "apply")
        c.eq(p.returncode, 0, "associate %s: apply exit 0" % mode)
        want = {"add": [db["sg"], managed], "replace": [managed], "none": [db["sg"]]}[mode]
        c.eq(w.db_groups(name), want, "associate %s: instance groups" % mode)
        c.eq(x.proxy.count("rds", "ModifyDBInstance"), 0 if mode == "none" else 1,
             "associate %s: ModifyDBInstance only when the set changes" % mode)
        c.eq(w.rules(managed), DESIRED, "associate %s: group filled" % mode)
        p = x.run(cfg, "apply")
        c.eq((p.returncode, x.proxy.mutating()), (0, []),
             "associate %s: second apply changes nothing" % mode)


# ---- 8. dry run, refusals of ownership, read failures ----------------------------------------------
def dry_run_and_errors(x):
    c, w = x.c, x.w
    db = w.add_db("dry-db", "10.0.20.17")
    w.add_rules(db["sg"], stale_rules())
    before = w.rules(db["sg"])
    cfg = x.config([target("dry", "dry-db", db["sg"])])
    p = x.run(cfg, "apply", "--dry-run")
    c.eq((p.returncode, x.proxy.mutating()), (0, []), "dry-run: exit 0, no changing call")
    c.check("dry run" in p.stdout and "+ tcp" in p.stdout, "dry-run: prints the plan")
    p = x.run(x.config([target("dry", "dry-db", db["sg"])], dry_run=True), "apply")
    c.eq((p.returncode, x.proxy.mutating()), (0, []), "config dry_run: no changing call")
    w.group("taken")
    p = x.run(x.config([target("dry", "dry-db", {"create": "taken"})]), "apply")
    c.check(p.returncode == 1 and "not flowseg's" in p.stderr and not x.proxy.mutating(),
            "a group of that name that flowseg did not create is never adopted")
    p = x.run(x.config([target("dry", "no-such-db", db["sg"])]), "apply")
    c.check(p.returncode == 1 and "no-such-db" in p.stderr and "nothing changed" in p.stderr
            and not x.proxy.mutating() and p.stdout == "", "unknown RDS instance: exit 1, no plan")
    p = x.run(x.config([target("dry", "dry-db", "sg-0123456789abcdef0")]), "apply")
    c.check(p.returncode == 1 and "sg-0123456789abcdef0" in p.stderr and not x.proxy.mutating(),
            "unknown security group: exit 1, nothing changed")
    c.eq(w.rules(db["sg"]), before, "errors: group unchanged")
    p = run_flowseg(["--config", cfg, "apply", "--policy", POLICY],
                    env=x.moto.env(AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_MAX_ATTEMPTS="1"))
    c.check(p.returncode == 1 and "nothing changed" in p.stderr, "AWS unreachable: exit 1")
    p = x.run(cfg, "apply", "--frobnicate")
    c.eq(p.returncode, 2, "unknown option: exit 2")
    p = x.run(cfg, "apply", "--format", "html")
    c.eq(p.returncode, 2, "apply --format html: exit 2 (text or json)")
    p = run_flowseg(["--config", cfg, "apply", "--plan", cfg, "--policy", POLICY, "x.log"],
                    env=x.env)
    c.check(p.returncode == 2 and "saved plan as it is" in p.stderr,
            "apply --plan with a SOURCE: usage error")
    c.eq(x.proxy.mutating(), [], "usage errors: no changing call")


# ---- 9. impact through the discovered interface ---------------------------------------------------
def impact(x):
    c, w = x.c, x.w
    db = w.add_db("flow-db", "10.0.20.18")
    cfg = x.config([target("flows", "flow-db", db["sg"], associate="none")])
    log = write_flow_log(os.path.join(x.tmp, "flows.log.gz"), db["eni"], db["address"])
    p = x.run(cfg, "plan", "--format", "json", log)
    c.eq(p.returncode, 0, "impact: plan with a local flow log")
    t = json.loads(p.stdout)["targets"][0] if p.returncode == 0 else {}
    deny = [(d["src"], d["port"]) for d in (t.get("impact") or {}).get("would_deny", [])]
    c.eq(deny, [("10.0.4.31", 5432), ("10.0.7.8", 5432)],
         "impact: would-deny clients found through the RDS interface")
    c.eq(x.proxy.count("ec2", "DescribeNetworkInterfaces"), 1,
         "impact: one DescribeNetworkInterfaces (only with flows)")
    s3 = x.moto.client("s3")
    s3.create_bucket(Bucket="flow-logs")
    key = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2023/11/14/flows.log.gz"
    s3.put_object(Bucket="flow-logs", Key=key, Body=open(log, "rb").read())
    p = x.run(cfg, "plan", "--format", "json", "s3://flow-logs/AWSLogs/")
    t2 = json.loads(p.stdout)["targets"][0] if p.returncode == 0 else {}
    c.eq(t2.get("impact"), t.get("impact"), "impact: the same from s3://bucket/prefix/")


def main():
    try:
        import boto3  # noqa: F401
    except ImportError:
        sys.exit(SKIP)
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="apply-moto-")
    with Moto() as moto, CountingProxy(moto.url) as proxy:
        x = Ctx(c, moto, proxy, World(moto), tmp)
        for step in (empty_to_desired, stale_to_desired, concurrent, guards, quota, saved_plan,
                     association, dry_run_and_errors, impact):
            print("# " + step.__name__)
            step(x)
    c.done()


if __name__ == "__main__":
    main()
