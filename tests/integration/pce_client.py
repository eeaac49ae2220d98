#!/usr/bin/env python3
"""The PCE client (policy/pce.c, through tests/unit/pce_tool.c) and `flowseg publish-flows`
against the PCE simulator (tests/pce_sim/pce_sim.py) over real HTTPS with a throwaway CA.

Covers: the full policy fetch equal to the seed, > 500 workloads through an async job,
draft vs active, --save, 429 storms with and without Retry-After (and one that outlasts the
retries), a failing job, a server dying mid-read (sync body and async result), wrong credentials,
the wrong org, an untrusted certificate, 406 decoding, a 500 with its request id, a timeout, the
bulk traffic upload, and publish-flows end to end. Exit 0 pass / 1 fail."""
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback

SOURCE_ROOT = os.environ.get("FSG_SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_ROOT = os.environ.get("FSG_BUILD_ROOT") or os.path.join(SOURCE_ROOT, "build")
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "pce_sim"))
from pce_sim import SimProcess  # noqa: E402

PCE_TOOL = os.path.join(BUILD_ROOT, "tests", "pce_tool")
FLOWSEG = os.path.join(BUILD_ROOT, "cmd", "flowseg")
SEED = os.path.join(SOURCE_ROOT, "tests", "data", "pce", "seed_policy.json")
N_GENERATED = 600
WRONG_SECRET = "WrongSecret-4242"


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


class Ctx:
    def __init__(self, sim, tmp):
        self.sim = sim
        self.tmp = tmp
        with open(SEED) as f:
            self.seed = json.load(f)

    def env(self, secret=None):
        e = dict(os.environ)
        e["PCE_API_KEY"] = self.sim.api_key
        e["PCE_API_SECRET"] = secret if secret is not None else self.sim.api_secret
        return e

    def tool(self, *args, secret=None, ca=True, org=None, timeout_s=60):
        cmd = [PCE_TOOL, "--url", self.sim.url]
        if ca:
            cmd += ["--ca", self.sim.ca]
        if org is not None:
            cmd += ["--org", str(org)]
        cmd += list(args)
        p = subprocess.run(cmd, env=self.env(secret), capture_output=True, text=True,
                           timeout=timeout_s)
        lines = p.stderr.strip().splitlines()
        stats = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
        return p.returncode, p.stdout, "\n".join(lines[:-1]), stats

    def reset(self):
        self.sim.control("POST", "/_sim/reset")

    def faults(self, *faults):
        self.sim.control("POST", "/_sim/faults", {"faults": list(faults)})

    def log(self):
        return self.sim.control("GET", "/_sim/requests")

    def config(self, **kw):
        self.sim.control("POST", "/_sim/config", kw)


def fetch_ok(c, *extra):
    rc, out, err, stats = c.tool(*extra, "fetch")
    check(rc == 0, "fetch failed: %s" % err)
    return json.loads(out), stats


# ------------------------------------------------------------------------------------------------


def t_fetch_matches_seed_and_uses_async(c):
    bundle, stats = fetch_ok(c)
    check(sorted(bundle) == sorted(["labels", "label_groups", "workloads", "rule_sets",
                                    "ip_lists", "services", "virtual_services",
                                    "service_bindings", "policy_version"]),
          "bundle keys %s" % sorted(bundle))
    check(bundle["policy_version"] == "1", "policy_version %r" % bundle["policy_version"])
    for k in ("labels", "label_groups", "rule_sets", "ip_lists", "services", "virtual_services"):
        check(bundle[k] == c.seed[k], "%s differs from the seed" % k)
    wl = bundle["workloads"]
    check(len(wl) == len(c.seed["workloads"]) + N_GENERATED, "%d workloads" % len(wl))
    check(wl[:len(c.seed["workloads"])] == c.seed["workloads"], "seed workloads differ")
    check(len({w["href"] for w in wl}) == len(wl), "duplicate workloads")
    log = c.log()
    wreq = [e for e in log if e["path"] == "/api/v2/orgs/1/workloads"]
    check(len(wreq) == 2, "workloads requested %d times" % len(wreq))
    check("prefer" not in wreq[0]["headers"], "first workloads GET must be synchronous")
    check(wreq[1]["headers"].get("prefer") == "respond-async" and wreq[1]["status"] == 202,
          "second workloads GET must be async: %s" % wreq[1])
    check(any(e["path"].startswith("/api/v2/orgs/1/jobs/") for e in log), "no job poll")
    check(any(e["path"].startswith("/api/v2/orgs/1/datafiles/") for e in log), "no datafile GET")
    check(all(e["auth"] == "ok" for e in log), "a request without valid auth")
    check(all(e["path"].find("/sec_policy/draft/") < 0 for e in log), "read draft policy")
    # One pinned version: every versioned collection read from sec_policy/1/, never "active";
    # the version list read first and last.
    check(all(e["path"].find("/sec_policy/active/") < 0 for e in log), "read sec_policy/active")
    check(len([e for e in log if "/sec_policy/1/" in e["path"]]) == 5, "versioned reads")
    check(log[0]["path"] == "/api/v2/orgs/1/sec_policy" and
          log[-1]["path"] == "/api/v2/orgs/1/sec_policy", "version list first and last")
    check(stats["sleeps_ms"] == [1000], "job Retry-After not honoured: %s" % stats)
    vs = [e for e in log if "/virtual_services" in e["path"]][0]
    check(vs["query"].get("representation") ==
          "virtual_service_labels_services_and_workloads", "virtual services representation")


def t_absolute_location_and_slow_job(c):
    c.config(location="absolute", job_delay_s=0.3, job_retry_after=2)
    bundle, stats = fetch_ok(c, "--sleep-scale", "0.2")
    check(len(bundle["workloads"]) == len(c.seed["workloads"]) + N_GENERATED, "workloads")
    polls = [e for e in c.log() if e["path"].startswith("/api/v2/orgs/1/jobs/")]
    check(len(polls) >= 1, "no poll")
    check(stats["sleeps_ms"][0] == 2000, "202 Retry-After not honoured: %s" % stats)


def t_save_policy(c):
    path = os.path.join(c.tmp, "saved_policy.json")
    bundle, _ = fetch_ok(c, "--save", path)
    with open(path) as f:
        saved = json.load(f)
    check(saved == bundle, "saved file differs from the fetched bundle")


def t_draft_vs_active(c):
    s = c.sim
    st, _, _ = s.api("PUT", "/orgs/1/sec_policy/active/rule_sets/24", {"name": "nope"})
    check(st == 406, "write to active policy gave %d" % st)
    st, _, _ = s.api("PUT", "/orgs/1/sec_policy/draft/rule_sets/24", {"name": "Web-to-RDS v2"})
    check(st == 204, "draft PUT gave %d" % st)
    draft, _ = fetch_ok(c, "--draft")
    active, _ = fetch_ok(c)
    dnames = {r["name"] for r in draft["rule_sets"]}
    anames = {r["name"] for r in active["rule_sets"]}
    check("Web-to-RDS v2" in dnames and "Web-to-RDS v2" not in anames, "draft/active mixed")
    check(all("/sec_policy/draft/" in r["href"] for r in draft["rule_sets"]), "draft hrefs")
    check(all("/sec_policy/active/" in r["href"] for r in active["rule_sets"]), "active hrefs")
    st, _, body = s.api("POST", "/orgs/1/sec_policy", {
        "update_description": "test", "change_subset": {
            "rule_sets": [{"href": "/orgs/1/sec_policy/draft/rule_sets/24"}]}})
    check(st == 201 and body["provisioned_hrefs"] == ["/orgs/1/sec_policy/active/rule_sets/24"],
          "provision: %s %s" % (st, body))
    active, _ = fetch_ok(c)
    check("Web-to-RDS v2" in {r["name"] for r in active["rule_sets"]}, "provision not active")


def t_429_storm_with_retry_after(c):
    c.faults({"kind": "429", "count": 3, "retry_after": 2})
    bundle, stats = fetch_ok(c)
    check(len(bundle["labels"]) == len(c.seed["labels"]), "labels")
    check(stats["sleeps_ms"][:3] == [2000, 2000, 2000], "Retry-After not honoured: %s" % stats)
    check(sum(1 for e in c.log() if e["status"] == 429) == 3, "expected 3 x 429")


def t_429_storm_without_retry_after(c):
    c.faults({"kind": "429", "count": 2, "retry_after": None, "path": "/ip_lists"})
    bundle, stats = fetch_ok(c)
    check(bundle["ip_lists"] == c.seed["ip_lists"], "ip lists")
    # The job poll of the workloads (Retry-After 1) comes first, then the 429 backoff 1 s, 2 s.
    check(stats["sleeps_ms"] == [1000, 1000, 2000], "backoff without Retry-After: %s" % stats)


def t_429_rate_window(c):
    c.config(rate_limit={"limit": 4, "window_s": 0.5, "retry_after": 1})
    bundle, stats = fetch_ok(c, "--sleep-scale", "1")
    check(len(bundle["workloads"]) == len(c.seed["workloads"]) + N_GENERATED, "workloads")
    check(any(e["status"] == 429 for e in c.log()), "rate window never hit")
    check(1000 in stats["sleeps_ms"], "Retry-After of the window: %s" % stats)


def t_429_forever_fails(c):
    c.faults({"kind": "429", "count": -1, "retry_after": 0, "path": "/labels"})
    rc, out, err, stats = c.tool("--max-retries", "2", "fetch")
    check(rc == 1 and out == "", "must fail with no output (rc %d)" % rc)
    check("FSG_E_THROTTLED" in err and "HTTP 429" in err, err)
    check(stats["requests"] == 4, "the version list, then labels 1 + 2 retries, got %s" % stats)


def t_truncated_datafile(c):
    """Issue 11: an async datafile one item short of X-Total-Count fails the whole fetch."""
    c.faults({"kind": "truncate", "path": "/workloads", "items": 20})
    rc, out, err, _ = c.tool("fetch")
    check(rc == 1 and out == "", "a truncated datafile must fail the fetch (rc %d)" % rc)
    total = len(c.seed["workloads"]) + N_GENERATED
    want = "PCE collection workloads: got %d of %d items (async job /orgs/1/jobs/" % (
        total - 20, total)
    check(want in err and "nothing was changed" in err, err)


def t_no_total_count(c):
    """Issue 11: a sync answer without X-Total-Count is never taken as whole."""
    c.faults({"kind": "no_total", "path": "/sec_policy/[^/]+/rule_sets"})
    rc, out, err, _ = c.tool("fetch")
    check(rc == 1 and out == "", "an answer without X-Total-Count must fail (rc %d)" % rc)
    check("PCE collection rule_sets" in err and "no X-Total-Count" in err, err)


def t_provision_mid_read(c):
    """Issue 11: a provision between two collection reads fails the fetch; the pinned read
    itself stays on one version."""
    c.faults({"kind": "provision", "path": "/sec_policy/[^/]+/ip_lists"})
    rc, out, err, _ = c.tool("fetch")
    check(rc == 1 and out == "", "a provision mid-read must fail (rc %d)" % rc)
    check("provisioned policy version 2 while flowseg read version 1" in err and
          "FSG_E_CONFLICT" in err, err)
    log = c.log()
    check(all("/sec_policy/2/" not in e["path"] for e in log), "read version 2 mid-read")
    # The next read pins version 2 and passes.
    bundle, _ = fetch_ok(c)
    check(bundle["policy_version"] == "2", "second read pinned %r" % bundle["policy_version"])


def t_job_never_finishes_deadline(c):
    """Issue 12: a job that never finishes stops at the deadline, not after max_job_wait."""
    c.config(job_delay_s=1e9, job_retry_after=1)
    t0 = time.monotonic()
    rc, out, err, _ = c.tool("--sleep-scale", "1", "--deadline-in", "2500", "fetch",
                             timeout_s=30)
    took = time.monotonic() - t0
    check(rc == 1 and out == "", "a stuck job must fail (rc %d)" % rc)
    check("FSG_E_CANCELLED" in err and "deadline" in err and "still running" in err, err)
    check(took < 6, "took %.1f s for a 2.5 s deadline" % took)


def t_echoed_authorization_redacted(c):
    """Issue 12: a 500 body echoing the Authorization header never shows the Basic token."""
    import base64
    token = base64.b64encode(("%s:%s" % (c.sim.api_key, c.sim.api_secret)).encode()).decode()
    c.faults({"kind": "status", "status": 500, "echo_auth": True, "path": "/labels",
              "echo_url": "https://%s:%s@pce.example" % (c.sim.api_key, c.sim.api_secret)})
    rc, out, err, _ = c.tool("fetch")
    check(rc == 1 and "HTTP 500" in err, err)
    check(token not in err and c.sim.api_secret not in err, "credential on stderr: %s" % err)
    check("***" in err and "https://***@pce.example" in err, err)


def t_job_fails(c):
    c.faults({"kind": "job_fail", "path": "/workloads"})
    rc, out, err, _ = c.tool("fetch")
    check(rc == 1 and out == "", "a failed job must fail the fetch")
    check("async job" in err and "failed" in err and "reading workloads" in err, err)


def t_dies_mid_read(c):
    c.faults({"kind": "die", "path": "/sec_policy/[^/]+/rule_sets"})
    rc, out, err, _ = c.tool("fetch")
    check(rc == 1 and out == "", "a cut body must fail the fetch")
    check("FSG_E_NETWORK" in err and "rule_sets" in err, err)
    c.faults({"kind": "die", "path": "/datafiles/", "bytes": 4000})
    rc, out, err, _ = c.tool("fetch")
    check(rc == 1 and out == "", "a cut async result must fail the fetch")
    check("FSG_E_NETWORK" in err and "datafiles" in err, err)
    # curl itself retries once on a reused connection that died before any answer, so the
    # drop must persist to be seen.
    c.faults({"kind": "drop", "path": "/services", "count": -1})
    rc, out, err, _ = c.tool("fetch")
    check(rc == 1 and out == "" and "FSG_E_NETWORK" in err, err)


def t_wrong_credentials(c):
    rc, out, err, stats = c.tool("fetch", secret=WRONG_SECRET)
    check(rc == 1 and out == "", "wrong secret must fail")
    check("HTTP 401" in err and "PCE_API_KEY/PCE_API_SECRET" in err, err)
    check(WRONG_SECRET not in err and c.sim.api_secret not in err, "secret in the error")
    check(stats["requests"] == 1, "a 401 is not retried")
    check(c.log()[-1]["auth"] == "bad", "the simulator saw good credentials?")
    env = c.env()
    del env["PCE_API_SECRET"]
    p = subprocess.run([PCE_TOOL, "--url", c.sim.url, "--ca", c.sim.ca, "fetch"], env=env,
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 1 and "PCE_API_SECRET" in p.stderr and "not set" in p.stderr, p.stderr)


def t_wrong_org(c):
    rc, out, err, _ = c.tool("fetch", org=2)
    check(rc == 1 and "HTTP 403" in err and "org_id 2" in err, err)


def t_untrusted_certificate(c):
    rc, out, err, _ = c.tool("fetch", ca=False)
    check(rc == 1 and out == "" and "FSG_E_NETWORK" in err, err)
    check(len(c.log()) == 0, "a request reached the server without verified TLS")


def t_406_decoded(c):
    rc, out, err, _ = c.tool("collection", "/workloads?labels=notjson")
    check(rc == 1 and "FSG_E_REJECTED" in err and "HTTP 406" in err, err)
    check("input_validation_error: Input validation failed" in err, err)


def t_500_with_request_id(c):
    c.faults({"kind": "status", "status": 500, "path": "/label_groups"})
    rc, out, err, _ = c.tool("fetch")
    check(rc == 1 and "HTTP 500" in err, err)
    rid = [e for e in c.log() if e["status"] == 500][0]["request_id"]
    check("request id %s" % rid in err, "request id %s not in: %s" % (rid, err))


def t_timeout(c):
    c.faults({"kind": "delay", "seconds": 4, "path": "/labels"})
    t0 = time.monotonic()
    rc, out, err, _ = c.tool("--timeout", "1", "fetch")
    check(rc == 1 and "FSG_E_NETWORK" in err, err)
    check(time.monotonic() - t0 < 3.5, "the timeout did not cut the request")


def t_post_traffic(c):
    path = os.path.join(c.tmp, "flows.csv")
    with open(path, "w") as f:
        f.write("10.0.1.11,10.0.2.45,5432,6\n10.0.1.12,10.0.2.45,5432,6\n"
                "10.99.0.1,10.0.2.45,5432,6\n")
    rc, out, err, _ = c.tool("post-traffic", path)
    check(rc == 0 and json.loads(out) == {"received": 3, "failed": 1}, out + err)
    t = c.sim.control("GET", "/_sim/traffic")
    check(t["flows"] == ["10.0.1.11,10.0.2.45,5432,6", "10.0.1.12,10.0.2.45,5432,6"], t)
    post = [e for e in c.log() if e["path"].endswith("/agents/bulk_traffic_flows")][0]
    check(post["headers"].get("content-type") == "text/csv", post)


# ------------------------------------------------------------------------------------------------
# publish-flows end to end

FLOW_HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol " \
              "packets bytes start end action log-status"


def write_flow_log(path):
    """Inbound connections to the RDS ENI 10.0.2.45 (and the return traffic, which must not be
    published), plus a REJECT and an unknown client."""
    eni = "eni-0a1b2c3d4e5f60001"
    recs = []
    for i, (src, sport) in enumerate([("10.0.1.11", 40001), ("10.0.1.12", 40002),
                                      ("10.0.1.11", 40003), ("10.99.0.1", 40004)]):
        recs.append("2 123456789012 %s %s 10.0.2.45 %d 5432 6 10 840 1700000000 1700000060 "
                    "ACCEPT OK" % (eni, src, sport))
        recs.append("2 123456789012 %s 10.0.2.45 %s 5432 %d 6 10 840 1700000000 1700000060 "
                    "ACCEPT OK" % (eni, src, sport))
    recs.append("2 123456789012 %s 10.0.9.4 10.0.2.45 41000 5432 6 1 40 1700000000 1700000060 "
                "REJECT OK" % eni)
    with open(path, "w") as f:
        f.write(FLOW_HEADER + "\n" + "\n".join(recs) + "\n")


def publish_config(c):
    return json.dumps({"pce": {"url": c.sim.url, "org_id": 1, "ca_file": c.sim.ca,
                               "key_env": "PCE_API_KEY", "secret_env": "PCE_API_SECRET"},
                       "targets": [{"name": "consumer-db", "rds_instance": "consumer-db",
                                    "virtual_service": "VS-RDS-consumer-db",
                                    "security_group": "sg-0123456789abcdef0",
                                    "enis": ["eni-0a1b2c3d4e5f60001"],
                                    "eni_addrs": ["10.0.2.45"]}]})


def flowseg(c, args, secret=None):
    return subprocess.run([FLOWSEG] + args, env=c.env(secret), capture_output=True, text=True,
                          timeout=60)


def t_publish_flows(c):
    logf = os.path.join(c.tmp, "rds.log")
    write_flow_log(logf)
    cfg = publish_config(c)
    p = flowseg(c, ["--config", cfg, "publish-flows", "--dry-run", logf])
    check(p.returncode == 0, "dry run: %s" % p.stderr)
    lines = p.stdout.strip().splitlines()
    check(lines == ["10.0.1.11,10.0.2.45,5432,6", "10.0.1.12,10.0.2.45,5432,6",
                    "10.99.0.1,10.0.2.45,5432,6"], "dry-run CSV: %r" % p.stdout)
    check(not any(e["path"].startswith("/api/v2") for e in c.log()), "dry run contacted the PCE")
    p = flowseg(c, ["--config", cfg, "publish-flows", "--dry-run", "--include-rejected", logf])
    check(p.returncode == 0 and "10.0.9.4,10.0.2.45,5432,6" in p.stdout.splitlines(),
          "--include-rejected: %r" % p.stdout)

    # One unreadable source: nothing is sent at all.
    p = flowseg(c, ["--config", cfg, "publish-flows", logf, os.path.join(c.tmp, "missing.log")])
    check(p.returncode == 1 and "nothing was sent" in p.stderr, p.stderr)
    check(c.sim.control("GET", "/_sim/traffic")["posts"] == [], "sent despite a bad source")

    p = flowseg(c, ["--config", cfg, "publish-flows", logf])
    check(p.returncode == 1, "an unmapped flow must exit 1: %s" % p.stdout)
    t = c.sim.control("GET", "/_sim/traffic")
    check(t["flows"] == lines[:2], "flows received by the PCE: %s" % t)
    check("received 3" in p.stdout and "failed 1" in p.stdout and "requests 1" in p.stdout,
          "summary: %r" % p.stdout)

    c.reset()
    c.faults({"kind": "429", "count": 1, "retry_after": 0})
    p = flowseg(c, ["--config", cfg, "publish-flows", "--max-lines", "1", logf])
    check(p.returncode == 1, p.stdout + p.stderr)
    posts = c.sim.control("GET", "/_sim/traffic")["posts"]
    check([x["received"] for x in posts] == [1, 1, 1], "one line per request: %s" % posts)

    p = flowseg(c, ["--config", cfg, "publish-flows", logf], secret=WRONG_SECRET)
    check(p.returncode == 1 and "HTTP 401" in p.stderr, p.stderr)
    check(WRONG_SECRET not in p.stderr + p.stdout, "secret shown")


def t_publish_flows_many(c):
    """1500 distinct inbound flows: two requests (1000 + 500), all mapped."""
    c.sim.control("POST", "/_sim/generate", {"workloads": 1500, "start": 10000})
    logf = os.path.join(c.tmp, "many.log")
    eni = "eni-0a1b2c3d4e5f60001"
    with open(logf, "w") as f:
        f.write(FLOW_HEADER + "\n")
        for i in range(10000, 11500):
            f.write("2 123456789012 %s 10.1.%d.%d 10.0.2.45 40000 5432 6 1 40 1700000000 "
                    "1700000060 ACCEPT OK\n" % (eni, i // 250, i % 250 + 1))
    p = flowseg(c, ["--config", publish_config(c), "publish-flows", logf])
    check(p.returncode == 0, p.stdout + p.stderr)
    posts = c.sim.control("GET", "/_sim/traffic")["posts"]
    check([x["received"] for x in posts] == [1000, 500], "chunks: %s" %
          [x["received"] for x in posts])
    check(all(x["failed"] == 0 for x in posts), "failed flows")
    check("received 1500" in p.stdout and "failed 0" in p.stdout and "requests 2" in p.stdout,
          p.stdout)


TESTS = [t_fetch_matches_seed_and_uses_async, t_absolute_location_and_slow_job, t_save_policy,
         t_draft_vs_active, t_429_storm_with_retry_after, t_429_storm_without_retry_after,
         t_429_rate_window, t_429_forever_fails, t_truncated_datafile, t_no_total_count,
         t_provision_mid_read, t_job_never_finishes_deadline, t_echoed_authorization_redacted,
         t_job_fails, t_dies_mid_read,
         t_wrong_credentials, t_wrong_org, t_untrusted_certificate, t_406_decoded,
         t_500_with_request_id, t_timeout, t_post_traffic, t_publish_flows,
         t_publish_flows_many]


def main():
    for exe in (PCE_TOOL, FLOWSEG):
        if not os.access(exe, os.X_OK):
            print("missing %s (build first)" % exe, file=sys.stderr)
            return 1
    only = set(sys.argv[1:])
    sim = SimProcess(workloads=N_GENERATED)
    failed = 0
    try:
        with tempfile.TemporaryDirectory(prefix="fsg-pce-") as tmp:
            c = Ctx(sim, tmp)
            for t in TESTS:
                if only and t.__name__ not in only:
                    continue
                c.reset()
                c.sim.control("DELETE", "/_sim/requests")
                try:
                    t(c)
                    print("ok %s" % t.__name__)
                except Exception as e:  # noqa: BLE001 - report and continue
                    failed += 1
                    print("FAIL %s: %s" % (t.__name__, e))
                    if not isinstance(e, Fail):
                        traceback.print_exc()
    finally:
        sim.stop()
    print("%d tests, %d failed" % (len(TESTS) if not only else len(only), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
