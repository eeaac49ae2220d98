#!/usr/bin/env python3
"""`flowseg lambda` end to end: flowseg started as `bootstrap` (a symlink to the built binary in a
temp dir) with a clean environment, against tests/lambda_rapi/rapi_server.py (driven through its
control endpoints), moto (behind a counting proxy that can also slow down chosen GetObjects) and
the PCE simulator.

Covers:
- an S3 event for a new flow-log object whose key has spaces and '=' (form-encoded as S3 sends
  it) creates the owned group, brings it to the desired set, associates it, and answers a summary;
  a key outside flowlogs.key_regex is filtered; a target whose interface is not in the flows is
  not touched;
- objects that cannot be read (no such bucket, truncated gzip) are reported per object;
- malformed events are answered with an error (errorType, errorMessage) and the loop goes on:
  the next event (EventBridge "Object Created") still succeeds;
- a PCE async job that never finishes: answered before the deadline, partial, nothing changed;
- near the deadline: nothing started (all deferred), and a partial run (slow objects: some read,
  the rest deferred), both answered before the deadline;
- a scheduled event reverts tampering (a rule added by hand, a desired rule removed) on every
  target and runs nlb-sync (the DB address registered in a moto ip target group);
  {"nlb_sync": true} then finds it in sync;
- policy_ttl_s: the policy is read once and reused by warm invocations; with 0 it is read each
  time; the PCE failing is the invocation's error and changes nothing; dry_run changes nothing;
- ownership "group": the next S3 event removes a rule added by hand and a stale rule from a
  group the config names;
- the PCE secret appears in no answer and no log line.
"""
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from apply_world import DESIRED, POLICY, World, flow_records  # noqa: E402
from aws_proxy import CountingProxy  # noqa: E402
from fsgtest import (FLOWSEG, REGION, SKIP, SOURCE_ROOT, Checker, Moto,  # noqa: E402
                     run_flowseg, stop)

sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "pce_sim"))
from pce_sim import SimProcess  # noqa: E402

RAPI = os.path.join(SOURCE_ROOT, "tests", "lambda_rapi", "rapi_server.py")
BUCKET = "flow-logs"
PREFIX = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/01/"
KEY_RE = r"vpcflowlogs/.*\.log\.gz$"
MANUAL = ("tcp", 22, 22, "10.0.0.0/8", "added by hand")
SLOW_S = 1.5


class SlowProxy(CountingProxy):
    """The counting proxy; GETs whose path contains "slow" wait SLOW_S first."""

    def _forward(self, h):
        if h.command == "GET" and "slow" in h.path:
            time.sleep(SLOW_S)
        return super()._forward(h)


class Rapi:
    """rapi_server.py as a server (no --run): events are queued through its control API."""

    def __init__(self, tmp):
        port_file = os.path.join(tmp, "rapi.port")
        self.log = open(os.path.join(tmp, "rapi.out"), "w")
        self.proc = subprocess.Popen(
            [sys.executable, RAPI, "--port-file", port_file, "--timeout-s", "1800",
             "--log", os.path.join(tmp, "rapi.log")], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while not os.path.exists(port_file) and time.time() < deadline:
            time.sleep(0.05)
        with open(port_file) as f:
            self.port = int(f.read())
        self.url = "http://127.0.0.1:%d" % self.port
        self.answered = 0

    def stop(self):
        try:
            self._call("POST", "/_control/shutdown", b"")
        except OSError:
            pass
        stop(self.proc)
        self.log.close()

    def _call(self, method, path, body=None, headers=None, timeout=120):
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())

    def invoke(self, event, deadline_in_ms=60000, timeout_s=90):
        """Queues one event and waits for its answer (a result dict of rapi_server.py)."""
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        rid = self._call("POST", "/_control/enqueue", body,
                         {"X-Fsg-Deadline-In-Ms": str(deadline_in_ms)})["request_id"]
        self.answered += 1
        snap = self._call("GET", "/_control/wait?count=%d&timeout_s=%d" % (self.answered,
                                                                          timeout_s),
                          timeout=timeout_s + 30)
        for r in snap["results"]:
            if r["request_id"] == rid:
                return r
        return {"type": "none", "json": None, "body": ""}


class Runtime:
    """flowseg started as `bootstrap` with only the environment it is given, with its own
    Runtime API server (a runtime stopped while waiting in `next` leaves that request open, and
    the server would hand the next event to it)."""

    def __init__(self, tmp, name, env):
        self.name = name
        self.dir = os.path.join(tmp, name)
        os.mkdir(self.dir)
        os.symlink(FLOWSEG, os.path.join(self.dir, "bootstrap"))
        self.rapi = rapi = Rapi(self.dir)
        self.log_path = os.path.join(self.dir, "runtime.log")
        self.log = open(self.log_path, "w")
        env = dict(env, AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % rapi.port)
        self.proc = subprocess.Popen(["./bootstrap"], cwd=self.dir, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    exit = None

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """Takes the Runtime API away: the runtime gives up on `next` and exits by itself
        (freeing what it kept across invocations: sanitizer builds check it); killed if not."""
        self.rapi.stop()
        try:
            self.exit = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.exit = None
        stop(self.proc)
        self.log.close()

    def text(self):
        with open(self.log_path) as f:
            return f.read()


def s3_event(records):
    """An S3 notification; keys form-encoded as S3 does (space '+', '=' '%3D', '/' kept)."""
    out = []
    for bucket, key, size in records:
        out.append({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
                    "eventTime": "2024-01-01T00:05:00.000Z", "eventName": "ObjectCreated:Put",
                    "s3": {"s3SchemaVersion": "1.0", "configurationId": "flowlogs",
                           "bucket": {"name": bucket, "arn": "arn:aws:s3:::" + bucket},
                           "object": {"key": urllib.parse.quote_plus(key, safe="/"),
                                      "size": size, "sequencer": "0063CC545C372D5A7F"}}})
    return {"Records": out}


def eventbridge_event(bucket, key, size):
    return {"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
            "detail-type": "Object Created", "source": "aws.s3", "account": "123456789012",
            "time": "2024-01-01T00:05:00Z", "region": REGION,
            "resources": ["arn:aws:s3:::" + bucket],
            "detail": {"version": "0", "bucket": {"name": bucket},
                       "object": {"key": key, "size": size, "etag": "b1946ac92492d2347c"},
                       "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012",
                       "reason": "PutObject"}}


SCHEDULED = {"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
             "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "123456789012", "time": "2024-01-01T00:10:00Z", "region": REGION,
             "resources": ["arn:aws:events:us-east-1:123456789012:rule/flowseg-reconcile"],
             "detail": {}}


def put_flow_log(s3, key, eni, address, start=1700000000):
    body = gzip.compress(flow_records(eni, address, start).encode())
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return len(body)


def target_entries(result):
    body = result.get("json") or {}
    return {t["name"]: t for t in body.get("targets", [])}


def pce_requests(sim):
    return [r for r in sim.control("GET", "/_sim/requests") if r["path"].startswith("/api/v2")]


class Ctx:
    def __init__(self, c, moto, proxy, sim, tmp):
        self.c, self.moto, self.proxy, self.sim, self.tmp = c, moto, proxy, sim, tmp
        self.w = World(moto)
        self.s3 = moto.client("s3")
        self.s3.create_bucket(Bucket=BUCKET)
        self.orders = self.w.add_db("orders-db", "10.0.20.11")
        self.other = self.w.add_db("other-db", "10.0.20.12")
        elb = moto.client("elbv2")
        self.tg = elb.create_target_group(
            Name="rds-tg", Protocol="TCP", Port=5432, VpcId=self.w.vpc,
            TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
        self.pce = {"url": sim.url, "org_id": sim.org_id, "key_env": "PCE_API_KEY",
                    "secret_env": "PCE_API_SECRET", "ca_file": sim.ca, "timeout_s": 10}
        self.env = {"AWS_ENDPOINT_URL": proxy.url, "AWS_REGION": REGION,
                    "AWS_ACCESS_KEY_ID": moto.key_id, "AWS_SECRET_ACCESS_KEY": moto.secret,
                    "AWS_EC2_METADATA_DISABLED": "true",
                    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                    "AWS_CONFIG_FILE": "/nonexistent", "PCE_API_KEY": sim.api_key,
                    "PCE_API_SECRET": sim.api_secret, "FLOWSEG_NLB_POLL_MS": "100"}
        self.logs = []
        self.answers = []

    def config(self, **extra):
        cfg = {"region": REGION, "pce": self.pce,
               "targets": [
                   {"name": "orders", "rds_instance": "orders-db",
                    "virtual_service": "VS-RDS-orders-db",
                    "security_group": {"create": "flowseg-orders"}, "associate": "add"},
                   {"name": "other", "rds_instance": "other-db",
                    "virtual_service": "VS-RDS-orders-db",
                    "security_group": self.other["sg"], "associate": "none"}],
               "guards": {"max_removals": 10, "allow_empty": False, "allow_public": False,
                          "max_rules": 60},
               "flowlogs": {"key_regex": KEY_RE}}
        cfg.update(extra)
        return json.dumps(cfg)

    def owned_group(self):
        groups = self.w.ec2.describe_security_groups(
            Filters=[{"Name": "group-name", "Values": ["flowseg-orders"]}])["SecurityGroups"]
        return [g["GroupId"] for g in groups]

    def invoke(self, rapi, event, **kw):
        r = rapi.invoke(event, **kw)
        self.answers.append(r.get("body") or "")
        return r


def s3_object_event(x, rapi, rt):
    c, w = x.c, x.w
    key = PREFIX + "aws-account-id=123456789012/my flow logs_20240101T0000Z.log.gz"
    size = put_flow_log(x.s3, key, x.orders["eni"], x.orders["address"])
    local = os.path.join(x.tmp, "orders.log.gz")
    with open(local, "wb") as f:
        f.write(x.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    ref = run_flowseg(["flows", "--format", "json", local], check=0)
    want_records = json.loads(ref.stdout)["stats"]["records"]

    event = s3_event([(BUCKET, key, size), (BUCKET, "AWSLogs/notes/read me.txt", 12)])
    c.check("my+flow+logs_" in json.dumps(event) and "%3D" in json.dumps(event),
            "s3: the event carries the key form-encoded ('+', '%3D')")
    x.proxy.clear()
    r = x.invoke(rapi, event)
    body = r.get("json") or {}
    c.eq(r["type"], "response", "s3: a response was posted")
    c.eq((body.get("kind"), body.get("origin"), body.get("partial"), body.get("dry_run")),
         ("objects", "s3", False, False), "s3: kind, origin, not partial, not a dry run")
    c.eq(body.get("objects"), [{"bucket": BUCKET, "key": key, "size": size,
                                "records": want_records}],
         "s3: the object was read under its decoded key (records as `flowseg flows`)")
    c.eq([o["key"] for o in body.get("filtered", [])], ["AWSLogs/notes/read me.txt"],
         "s3: a key outside flowlogs.key_regex is filtered, not read")
    c.eq(x.proxy.count("s3", "GET /%s/%s" % (BUCKET, urllib.parse.quote(key))), 1,
         "s3: one GetObject, the key encoded once")
    groups = x.owned_group()
    c.eq(len(groups), 1, "s3: the owned group was created")
    t = target_entries(r)
    c.eq(sorted(t), ["orders"], "s3: only the target seen in the flows was reconciled")
    c.eq({k: t.get("orders", {}).get(k) for k in ("status", "added", "removed",
                                                  "group_created", "associated")},
         {"status": "applied", "added": len(DESIRED), "removed": 0, "group_created": True,
          "associated": True}, "s3: orders applied (group created, 7 added, associated)")
    c.eq(t.get("orders", {}).get("security_group"), groups[0] if groups else None,
         "s3: the summary names the created group")
    if groups:
        c.eq(w.rules(groups[0]), DESIRED, "s3: the security group holds the desired set")
        c.check(groups[0] in w.db_groups("orders-db"), "s3: the group joined the instance")
    c.eq(w.rules(x.other["sg"]), [], "s3: the target not seen was not touched")
    c.eq(body.get("policy"), "fetched", "s3: the policy was read from the PCE")
    c.check(rt.alive(), "s3: the runtime is still running")


def unreadable_objects(x, rapi):
    c = x.c
    good = gzip.compress(flow_records(x.orders["eni"], x.orders["address"]).encode())
    cut = PREFIX + "cut_20240101T0005Z.log.gz"
    x.s3.put_object(Bucket=BUCKET, Key=cut, Body=good[:len(good) // 2])
    r = x.invoke(rapi, s3_event([("no-such-bucket", PREFIX + "a.log.gz", 10),
                                 (BUCKET, cut, len(good) // 2)]))
    body = r.get("json") or {}
    c.eq(r["type"], "response", "unreadable: still a response")
    objs = body.get("objects", [])
    c.eq([o["key"] for o in objs], [PREFIX + "a.log.gz", cut], "unreadable: both reported")
    c.check(len(objs) == 2 and "records" not in objs[0] and objs[0].get("error"),
            "unreadable: no such bucket is that object's error: %s" % (objs[:1],))
    c.check(len(objs) == 2 and "NoSuchBucket" in (objs[0].get("error") or ""),
            "unreadable: the error says why")
    c.check(len(objs) == 2 and "gzip" in (objs[1].get("error") or "") and
            objs[1].get("offset") == len(good) // 2,
            "unreadable: a truncated gzip is its error, with the byte offset: %s" % (objs[1:],))
    c.eq(body.get("targets"), [], "unreadable: nothing seen, nothing reconciled")


def malformed_then_next(x, rapi, rt):
    c = x.c
    for what, ev in (("unknown event", {"hello": "world"}), ("not JSON", b"{not json")):
        r = x.invoke(rapi, ev)
        err = r.get("json") or {}
        c.eq(r["type"], "error", "malformed (%s): an error was posted" % what)
        c.eq((r.get("error_type"), err.get("errorType")),
             ("Function.FSG_E_PARSE", "Function.FSG_E_PARSE"),
             "malformed (%s): errorType" % what)
        c.check(bool(err.get("errorMessage")), "malformed (%s): errorMessage: %s"
                % (what, err.get("errorMessage")))
    c.check(rt.alive(), "malformed: the runtime goes on")
    # The next event (EventBridge form: the key is raw) still works, on the other target.
    key = PREFIX + "other db=2_20240101T0010Z.log.gz"
    size = put_flow_log(x.s3, key, x.other["eni"], x.other["address"])
    r = x.invoke(rapi, eventbridge_event(BUCKET, key, size))
    body = r.get("json") or {}
    c.eq((r["type"], body.get("origin")), ("response", "eventbridge"),
         "next: the EventBridge event after the errors is answered")
    c.eq([o.get("key") for o in body.get("objects", [])], [key], "next: its object was read")
    t = target_entries(r)
    c.eq((sorted(t), t.get("other", {}).get("added")), (["other"], len(DESIRED)),
         "next: the other target was reconciled")
    c.eq(x.w.rules(x.other["sg"]), DESIRED, "next: its group holds the desired set")
    c.eq(body.get("policy"), "cached", "ttl: a warm invocation reuses the policy")


def near_deadline(x, rapi):
    c = x.c
    keys = [PREFIX + "slow-1_20240101T0015Z.log.gz", PREFIX + "slow-2_20240101T0020Z.log.gz",
            PREFIX + "fast-3_20240101T0025Z.log.gz"]
    sizes = [put_flow_log(x.s3, k, x.orders["eni"], x.orders["address"]) for k in keys]
    event = s3_event(list(zip([BUCKET] * 3, keys, sizes)))

    # Less than the margin (3 s) left from the start: nothing is started.
    x.proxy.clear()
    r = x.invoke(rapi, event, deadline_in_ms=2000)
    body = r.get("json") or {}
    c.eq((r["type"], body.get("partial")), ("response", True), "deadline: partial summary")
    c.eq([d.get("key") for d in body.get("deferred", [])], keys,
         "deadline: every object deferred")
    c.eq((body.get("objects"), body.get("targets")), ([], []), "deadline: nothing done")
    c.check(r.get("before_deadline") is True, "deadline: answered before the deadline (%s ms)"
            % r.get("elapsed_ms"))
    c.eq(x.proxy.snapshot(), [], "deadline: no AWS call at all")

    # 6 s: the two slow objects take 1.5 s each; the third would start with < 3 s left.
    r = x.invoke(rapi, event, deadline_in_ms=6000)
    body = r.get("json") or {}
    read = [o.get("key") for o in body.get("objects", [])]
    deferred = [d.get("key") for d in body.get("deferred", [])]
    c.eq((r["type"], body.get("partial")), ("response", True), "partial: partial summary")
    c.check(1 <= len(read) <= 2 and read == keys[:len(read)] and deferred == keys[len(read):],
            "partial: the first objects read, the rest deferred (read %s, deferred %s)"
            % (read, deferred))
    c.check(all("records" in o for o in body.get("objects", [])), "partial: read objects counted")
    c.eq(target_entries(r).get("orders", {}).get("status"), "unchanged",
         "partial: the target seen was still reconciled (already right)")
    c.check(r.get("before_deadline") is True, "partial: answered before the deadline (%s ms)"
            % r.get("elapsed_ms"))


def scheduled_tamper(x, rapi):
    c, w = x.c, x.w
    group = x.owned_group()[0]
    w.add_rules(group, [MANUAL])
    w.ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "IpRanges": [{"CidrIp": DESIRED[0][3]}]}])
    w.ec2.revoke_security_group_ingress(GroupId=x.other["sg"], IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "IpRanges": [{"CidrIp": DESIRED[1][3]}]}])
    c.check(MANUAL in w.rules(group) and DESIRED[0] not in w.rules(group), "tamper: done by hand")
    r = x.invoke(rapi, SCHEDULED)
    body = r.get("json") or {}
    c.eq((r["type"], body.get("kind"), body.get("origin")),
         ("response", "reconcile_all", "schedule"), "scheduled: answered")
    t = target_entries(r)
    c.eq({k: (v.get("status"), v.get("added"), v.get("removed")) for k, v in t.items()},
         {"orders": ("applied", 1, 1), "other": ("applied", 1, 0)},
         "scheduled: every target reconciled (tampering undone)")
    c.eq(w.rules(group), DESIRED, "scheduled: the owned group equals the desired set again")
    c.eq(w.rules(x.other["sg"]), DESIRED, "scheduled: the other group too")
    nlb = body.get("nlb") or {}
    c.eq((nlb.get("result"), nlb.get("registered"), nlb.get("address")),
         ("updated", [{"id": x.orders["address"], "port": 5432}], x.orders["address"]),
         "scheduled: nlb-sync registered the DB address")
    th = x.moto.client("elbv2").describe_target_health(TargetGroupArn=x.tg)
    c.eq([(d["Target"]["Id"], d["Target"]["Port"]) for d in th["TargetHealthDescriptions"]],
         [(x.orders["address"], 5432)], "scheduled: the target group holds the DB address")

    r = x.invoke(rapi, {"nlb_sync": True})
    body = r.get("json") or {}
    c.eq((r["type"], body.get("kind"), (body.get("nlb") or {}).get("result"), body.get("targets")),
         ("response", "nlb_sync", "in_sync", []), "nlb_sync event: already in sync")


def check_ending(x, rt, name):
    x.c.eq(rt.exit, 1, "%s: the runtime exits (1) once the Runtime API is gone" % name)
    x.c.check("Sanitizer" not in rt.text(), "%s: no sanitizer report" % name)


def runtime_ttl(x):
    """policy_ttl_s 300 for the whole first runtime: one policy read."""
    rt = Runtime(x.tmp, "rt-main",
                 dict(x.env, FLOWSEG_CONFIG=x.config(
                     policy_ttl_s=300, nlb={"target_group_arn": x.tg,
                                            "rds_instance": "orders-db",
                                            "healthy_timeout_s": 10})))
    rapi = rt.rapi
    try:
        x.sim.control("DELETE", "/_sim/requests")
        s3_object_event(x, rapi, rt)
        n = len(pce_requests(x.sim))
        unreadable_objects(x, rapi)
        malformed_then_next(x, rapi, rt)
        near_deadline(x, rapi)
        scheduled_tamper(x, rapi)
        x.c.eq(len(pce_requests(x.sim)), n, "ttl: the PCE was asked for the first invocation only")
        x.c.check(rt.alive(), "the runtime is still running after %d invocations"
                  % rapi.answered)
    finally:
        rt.stop()
        x.logs.append(rt.text())
    check_ending(x, rt, rt.name)


def runtime_no_ttl(x):
    """policy_ttl_s 0: the policy is read each time; a PCE failure changes nothing."""
    rt = Runtime(x.tmp, "rt-nottl", dict(x.env, FLOWSEG_CONFIG=x.config()))
    rapi = rt.rapi
    c, w = x.c, x.w
    group = x.owned_group()[0]
    key = PREFIX + "again_20240101T0030Z.log.gz"
    size = put_flow_log(x.s3, key, x.orders["eni"], x.orders["address"])
    event = s3_event([(BUCKET, key, size)])
    try:
        w.add_rules(group, [MANUAL])
        x.sim.control("POST", "/_sim/faults", {"faults": [{"kind": "status", "status": 500,
                                                            "count": -1}]})
        x.proxy.clear()
        r = x.invoke(rapi, event)
        x.sim.control("POST", "/_sim/faults", {"faults": []})
        err = r.get("json") or {}
        c.eq(r["type"], "error", "pce down: the invocation fails")
        c.check("policy" in (err.get("errorMessage") or ""), "pce down: the message says policy: %s"
                % err.get("errorMessage"))
        c.eq(x.proxy.mutating(), [], "pce down: no AWS call that changes anything")
        c.check(MANUAL in w.rules(group), "pce down: the group is unchanged")

        # Issue 12: a PCE async job that never finishes: the invocation still answers before
        # its deadline, with a partial result that changes nothing.
        x.sim.control("POST", "/_sim/config", {"cap": 1, "job_delay_s": 1e9,
                                               "job_retry_after": 1})
        x.proxy.clear()
        r = x.invoke(rapi, event, deadline_in_ms=8000)
        x.sim.control("POST", "/_sim/config", {"cap": 500, "job_delay_s": 0})
        body = r.get("json") or {}
        c.eq((r["type"], body.get("partial")), ("response", True),
             "stuck job: a partial answer, not a timeout")
        c.check(r.get("before_deadline") is True, "stuck job: answered before the deadline (%s ms)"
                % r.get("elapsed_ms"))
        c.check(any(d.get("target") == "orders" for d in body.get("deferred", [])),
                "stuck job: the target is deferred: %s" % body.get("deferred"))
        c.check(any("policy not read before the invocation's deadline" in wn and "nothing changed" in wn and
                    "still running" in wn for wn in body.get("warnings", [])),
                "stuck job: a warning says why: %s" % body.get("warnings"))
        c.eq(x.proxy.mutating(), [], "stuck job: no AWS call that changes anything")
        c.check(MANUAL in w.rules(group), "stuck job: the group is unchanged")
        for i in range(2):
            x.sim.control("DELETE", "/_sim/requests")
            r = x.invoke(rapi, event)
            body = r.get("json") or {}
            c.eq((r["type"], body.get("policy"), body.get("policy_version")),
                 ("response", "fetched", "1"),
                 "no ttl: invocation %d reads the policy (pinned version 1)" % (i + 1))
            c.check(len(pce_requests(x.sim)) > 0, "no ttl: the PCE was asked (%d)" % (i + 1))
        c.eq(w.rules(group), DESIRED, "no ttl: the group converged once the PCE was back")
    finally:
        rt.stop()
        x.logs.append(rt.text())
    check_ending(x, rt, rt.name)


def runtime_tamper_s3(x):
    """Ownership "group" (the default) on a group the config names: the next S3 event whose
    flows reach the target removes a rule added by hand (no description) and a stale rule."""
    rt = Runtime(x.tmp, "rt-tamper", dict(x.env, FLOWSEG_CONFIG=x.config()))
    rapi = rt.rapi
    c, w = x.c, x.w
    sg = x.other["sg"]
    hand = ("tcp", 22, 22, "203.0.113.7/32", None)
    stale = ("tcp", 5432, 5432, "10.0.77.0/24", "stale")
    key = PREFIX + "other_20240101T0040Z.log.gz"
    size = put_flow_log(x.s3, key, x.other["eni"], x.other["address"])
    try:
        w.add_rules(sg, [hand, stale])
        c.check(hand in w.rules(sg) and stale in w.rules(sg), "tamper s3: rules added by hand")
        r = x.invoke(rapi, s3_event([(BUCKET, key, size)]))
        t = target_entries(r).get("other", {})
        c.eq((r["type"], t.get("status"), t.get("removed")), ("response", "applied", 2),
             "tamper s3: the next S3 event reconciles the named group (2 removed)")
        c.eq(w.rules(sg), DESIRED, "tamper s3: the hand-made and the stale rule are gone")
    finally:
        rt.stop()
        x.logs.append(rt.text())
    check_ending(x, rt, rt.name)


def runtime_dry_run(x):
    rt = Runtime(x.tmp, "rt-dry", dict(x.env, FLOWSEG_CONFIG=x.config(dry_run=True)))
    rapi = rt.rapi
    c, w = x.c, x.w
    group = x.owned_group()[0]
    key = PREFIX + "dry_20240101T0035Z.log.gz"
    size = put_flow_log(x.s3, key, x.orders["eni"], x.orders["address"])
    try:
        w.add_rules(group, [MANUAL])
        x.proxy.clear()
        r = x.invoke(rapi, s3_event([(BUCKET, key, size)]))
        body = r.get("json") or {}
        t = target_entries(r).get("orders", {})
        c.eq((r["type"], body.get("dry_run"), t.get("status"), t.get("added"), t.get("removed")),
             ("response", True, "dry_run", 0, 1), "dry run: the plan is reported")
        c.eq(x.proxy.mutating(), [], "dry run: no AWS call that changes anything")
        c.check(MANUAL in w.rules(group), "dry run: the group is unchanged")

        # {"scan": prefix}: every object below it that matches key_regex, one by one.
        x.s3.put_object(Bucket=BUCKET, Key=PREFIX + "notes.txt", Body=b"not a flow log")
        listed = [o["Key"] for o in x.s3.list_objects_v2(Bucket=BUCKET,
                                                         Prefix="AWSLogs/")["Contents"]]
        want = sorted(k for k in listed if k.endswith(".log.gz"))
        x.proxy.clear()
        r = x.invoke(rapi, {"scan": "s3://%s/AWSLogs/" % BUCKET})
        body = r.get("json") or {}
        objs = {o["key"]: o for o in body.get("objects", [])}
        c.eq((r["type"], body.get("kind"), body.get("partial")), ("response", "scan", False),
             "scan: answered")
        c.eq(sorted(objs), want, "scan: every flow-log object below the prefix, nothing else")
        c.check(all(("records" in o) != ("error" in o) for o in objs.values()) and
                "error" in objs.get(PREFIX + "cut_20240101T0005Z.log.gz", {}),
                "scan: each object read or failed on its own (the cut one failed)")
        c.eq(sorted(target_entries(r)), ["orders", "other"],
             "scan: the targets seen in the scanned flows are planned")
        c.eq(x.proxy.mutating(), [], "scan (dry run): nothing changed")
    finally:
        rt.stop()
        x.logs.append(rt.text())
    check_ending(x, rt, rt.name)


def runtime_small_memory(x):
    """The flow table keeps to a quarter of the function's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE):
    a 2 MB function (a 1 MiB table) spills an object of 30,000 sources to disk and plans exactly
    what a function with room plans (dry runs)."""
    c = x.c
    key = PREFIX + "many_20240101T0040Z.log.gz"
    lines = ["version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
             "bytes start end action log-status"]
    for i in range(30000):
        lines.append("2 123456789012 %s 10.%d.%d.%d %s %d 5432 6 10 840 1700000000 1700000060 "
                     "ACCEPT OK" % (x.orders["eni"], 64 + i // 65536, i // 256 % 256, i % 256,
                                    x.orders["address"], 40000 + i % 20000))
    body = gzip.compress(("\n".join(lines) + "\n").encode())
    x.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    answers = {}
    for name, mb in (("rt-roomy", None), ("rt-small", "2")):
        env = dict(x.env, FLOWSEG_CONFIG=x.config(dry_run=True))
        if mb is not None:
            env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = mb
        rt = Runtime(x.tmp, name, env)
        try:
            r = x.invoke(rt.rapi, s3_event([(BUCKET, key, len(body))]))
            body_json = r.get("json") or {}
            answers[name] = (r["type"], body_json.get("objects"),
                             {k: {f: v for f, v in t.items() if f not in ("duration_ms",)}
                              for k, t in target_entries(r).items()})
        finally:
            rt.stop()
            x.logs.append(rt.text())
        if mb is not None:
            c.check("sorted runs on disk" in rt.text(),
                    "small memory: the flow table spilled to disk")
        check_ending(x, rt, rt.name)
    roomy, small = answers["rt-roomy"], answers["rt-small"]
    c.check(roomy[0] == "response" and (roomy[1] or [{}])[0].get("records") == 30000,
            "small memory: the roomy function read the object (%s)" % (roomy[1],))
    c.eq(small, roomy, "small memory: the same answer as with room (objects and plan)")


def main():
    try:
        import boto3  # noqa: F401
    except ImportError:
        sys.exit(SKIP)
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="lambda-e2e-")
    sim = SimProcess(seed=POLICY)
    try:
        with Moto() as moto, SlowProxy(moto.url) as proxy:
            x = Ctx(c, moto, proxy, sim, tmp)
            for step in (runtime_ttl, runtime_no_ttl, runtime_tamper_s3, runtime_dry_run,
                         runtime_small_memory):
                print("# " + step.__name__)
                step(x)
            text = "\n".join(x.logs + x.answers)
            c.check(sim.api_secret not in text, "the PCE secret is in no answer and no log line")
            c.check('"event":"authorize"' in text.replace(" ", ""),
                    "audit lines are written to the log")
    finally:
        sim.stop()
    if c.failed == 0:
        shutil.rmtree(tmp, ignore_errors=True)  # kept when something failed: runtime logs
    else:
        print("runtime logs kept in " + tmp)
    c.done()


if __name__ == "__main__":
    main()
