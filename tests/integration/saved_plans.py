#!/usr/bin/env python3
"""flowseg apply --plan FILE applies a saved plan only while it is still true (issue 10 item 4),
on moto (behind the counting proxy) with the policy read live from the PCE simulator.

Covers: the unedited plan applies exactly; a hand-edited plan (tcp 0-65535 from 0.0.0.0/0 added,
or a removal dropped) is refused with a message saying what differs; a plan made before a policy
change provisioned on the simulator is refused after it; a plan made under allow_public: true is
refused under allow_public: false; a plan made under ownership "rules" is refused under "group";
a plan whose recorded flow evidence cuts off more sources than the current max_cut_sources is
refused, and --force does not override that. Every refusal: exit 1, no changing AWS call.
"""
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from apply_world import DESIRED, POLICY, World, target, write_config  # noqa: E402
from aws_proxy import CountingProxy  # noqa: E402
from fsgtest import SOURCE_ROOT, SKIP, Checker, Moto, run_flowseg  # noqa: E402

sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "pce_sim"))
from pce_sim import SimProcess  # noqa: E402

OLD = "flowseg /orgs/1/sec_policy/active/rule_sets/9/sec_rules/1"
MANUAL = ("tcp", 22, 22, "10.0.0.0/8", "manual ssh")
GUARDS = {"max_removals": 10, "allow_empty": False, "allow_public": False, "max_rules": 60}


class Ctx:
    def __init__(self, c, sim, moto, proxy, tmp):
        self.c, self.sim, self.proxy, self.tmp = c, sim, proxy, tmp
        self.w = World(moto)
        self.pce = {"url": sim.url, "org_id": sim.org_id, "key_env": "PCE_API_KEY",
                    "secret_env": "PCE_API_SECRET", "ca_file": sim.ca, "timeout_s": 10}
        self.env = moto.env(AWS_ENDPOINT_URL=proxy.url, PCE_API_KEY=sim.api_key,
                            PCE_API_SECRET=sim.api_secret)
        self.n = 0

    def config(self, targets, guards=None):
        self.n += 1
        return write_config(os.path.join(self.tmp, "config-%d.json" % self.n), targets,
                            guards=dict(GUARDS, **(guards or {})), pce=self.pce)

    def run(self, cfg, *args):
        self.proxy.clear()
        return run_flowseg(["--config", cfg] + list(args), env=self.env)

    def save(self, cfg, *sources):
        path = os.path.join(self.tmp, "plan-%d.json" % self.n)
        p = self.run(cfg, "plan", "--save-plan", path, *sources)
        self.c.eq(p.returncode, 0, "plan --save-plan exit 0 (%s)" % p.stderr[-300:])
        return path

    def refused(self, cfg, plan, sg, before, needle, what, *extra):
        p = self.run(cfg, "apply", "--plan", plan, *extra)
        self.c.eq(p.returncode, 1, what + ": exit 1")
        self.c.check(needle in p.stderr, what + ": stderr says %r (%s)" % (needle, p.stderr[-600:]))
        self.c.eq(self.proxy.mutating(), [], what + ": no changing AWS call")
        self.c.eq(self.w.rules(sg), before, what + ": group unchanged")
        return p


def edit(path, fn):
    doc = json.load(open(path))
    fn(doc["targets"][0])
    json.dump(doc, open(path, "w"), indent=2)


def stale(x, name, address):
    db = x.w.add_db(name, address)
    x.w.add_rules(db["sg"], [DESIRED[0], ("tcp", 5432, 5432, "10.0.5.0/24", OLD), MANUAL])
    return db


def unedited_and_edited(x):
    c = x.c
    db = stale(x, "sp-db-1", "10.0.20.41")
    cfg = x.config([target("sp-1", "sp-db-1", db["sg"])])
    plan = x.save(cfg)
    saved = json.load(open(plan))
    t = saved["targets"][0]
    c.eq(saved["flowseg_plan"], 2, "saved plan version 2")
    c.check(len(t.get("desired_hash", "")) == 64 and len(t.get("state_hash", "")) == 64,
            "saved plan records the state hash and the desired hash")
    c.eq(t.get("ownership"), "group", "saved plan records the ownership mode")
    before = x.w.rules(db["sg"])

    edit(plan, lambda t: t["add"].append({"proto": "tcp", "from_port": 0, "to_port": 65535,
                                          "cidr": "0.0.0.0/0", "description": "flowseg x"}))
    x.refused(cfg, plan, db["sg"], before, "the plan adds tcp all from 0.0.0.0/0",
              "edited plan (0.0.0.0/0 added) refused")
    plan = x.save(cfg)
    edit(plan, lambda t: t["remove"].pop())
    x.refused(cfg, plan, db["sg"], before, "the plan does not remove",
              "edited plan (a removal dropped) refused")

    plan = x.save(cfg)
    p = x.run(cfg, "apply", "--plan", plan)
    c.eq(p.returncode, 0, "unedited plan applies (%s)" % p.stderr[-400:])
    c.eq(x.w.rules(db["sg"]), DESIRED, "unedited plan: the group is the policy (manual rule gone)")
    p = x.run(cfg, "apply", "--plan", plan)
    c.check(p.returncode == 1 and "stale" in p.stderr and not x.proxy.mutating(),
            "the same plan again is stale")


def policy_change(x):
    c, sim = x.c, x.sim
    db = stale(x, "sp-db-2", "10.0.20.42")
    cfg = x.config([target("sp-2", "sp-db-2", db["sg"])])
    plan = x.save(cfg)
    before = x.w.rules(db["sg"])
    st, _, ipl = sim.api("GET", "/orgs/1/sec_policy/draft/ip_lists/160")
    c.eq(st, 200, "sim: read the draft ip list")
    ranges = ipl["ip_ranges"] + [{"from_ip": "10.0.9.32/30", "exclusion": False}]
    st, _, _ = sim.api("PUT", "/orgs/1/sec_policy/draft/ip_lists/160", {"ip_ranges": ranges})
    c.check(st in (200, 204), "sim: ip list changed in draft (%s)" % st)
    st, _, _ = sim.api("POST", "/orgs/1/sec_policy", {"update_description": "bastion grows"})
    c.eq(st, 201, "sim: provisioned")
    p = x.refused(cfg, plan, db["sg"], before, "what the policy yields changed",
                  "plan made before a policy change refused after it")
    c.check("10.0.9.32/30" in p.stderr, "the refusal names the rule the policy now yields")
    plan = x.save(cfg)
    p = x.run(cfg, "apply", "--plan", plan)
    c.eq(p.returncode, 0, "a plan made after the change applies")
    c.check(("tcp", 5432, 5432, "10.0.9.32/30", DESIRED[0][4].replace("41", "42"))
            in x.w.rules(db["sg"]), "the new rule is there")
    # the policy back as it was, for the other steps
    sim.api("PUT", "/orgs/1/sec_policy/draft/ip_lists/160", {"ip_ranges": ipl["ip_ranges"]})
    sim.api("POST", "/orgs/1/sec_policy", {"update_description": "back"})


def guards_and_ownership(x):
    c, sim = x.c, x.sim
    # allow_public: the bastion ip list gains a public block
    st, _, ipl = sim.api("GET", "/orgs/1/sec_policy/draft/ip_lists/160")
    ranges = ipl["ip_ranges"] + [{"from_ip": "52.95.110.0/24", "exclusion": False}]
    sim.api("PUT", "/orgs/1/sec_policy/draft/ip_lists/160", {"ip_ranges": ranges})
    sim.api("POST", "/orgs/1/sec_policy", {"update_description": "public"})
    db = stale(x, "sp-db-3", "10.0.20.43")
    t3 = target("sp-3", "sp-db-3", db["sg"])
    plan = x.save(x.config([t3], guards={"allow_public": True}))
    before = x.w.rules(db["sg"])
    x.refused(x.config([t3]), plan, db["sg"], before, "allow_public",
              "plan made under allow_public: true refused under allow_public: false")
    x.refused(x.config([t3]), plan, db["sg"], before, "allow_public",
              "allow_public: --force does not override", "--force")
    sim.api("PUT", "/orgs/1/sec_policy/draft/ip_lists/160", {"ip_ranges": ipl["ip_ranges"]})
    sim.api("POST", "/orgs/1/sec_policy", {"update_description": "back"})

    # ownership: made under "rules", applied under "group"
    plan = x.save(x.config([dict(t3, ownership="rules")]))
    p = x.refused(x.config([t3]), plan, db["sg"], before, "ownership",
                  "plan made under ownership rules refused under group")
    c.check('"group"' in p.stderr and '"rules"' in p.stderr, "the refusal names both modes")

    # max_cut_sources on the flow evidence the plan recorded
    log = os.path.join(x.tmp, "cut.log")
    lines = ["version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
             "bytes start end action log-status"]
    for i, src in enumerate(["10.0.5.7", "10.0.5.8", "10.0.1.11"]):
        lines.append("2 123456789012 %s %s %s %d 5432 6 10 840 1700000000 1700000060 ACCEPT OK"
                     % (db["eni"], src, db["address"], 40000 + i))
    open(log, "w").write("\n".join(lines) + "\n")
    plan = x.save(x.config([t3]), log)
    saved = json.load(open(plan))["targets"][0]
    c.eq(saved["impact"]["cut_sources"], 2, "the plan records 2 sources cut off")
    x.refused(x.config([t3], guards={"max_cut_sources": 1}), plan, db["sg"], before,
              "max_cut_sources: 2 observed source(s)", "saved plan over max_cut_sources refused")
    x.refused(x.config([t3], guards={"max_cut_sources": 1}), plan, db["sg"], before,
              "max_cut_sources", "max_cut_sources: --force does not override", "--force")
    p = x.run(x.config([t3]), "apply", "--plan", plan)
    c.eq(p.returncode, 0, "the same plan under the default max_cut_sources applies")


def main():
    try:
        import boto3  # noqa: F401
    except ImportError:
        sys.exit(SKIP)
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="saved-plans-")
    sim = SimProcess(seed=POLICY)
    try:
        with Moto() as moto, CountingProxy(moto.url) as proxy:
            x = Ctx(c, sim, moto, proxy, tmp)
            for step in (unedited_and_edited, policy_change, guards_and_ownership):
                print("# " + step.__name__)
                step(x)
    finally:
        sim.stop()
    c.done()


if __name__ == "__main__":
    main()
