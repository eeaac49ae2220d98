#!/usr/bin/env python3
"""`flowseg lambda` event paths end to end (runtime, Runtime API server, moto behind a counting
proxy, the PCE simulator), with events of the documented shapes (tests/data/events/):

- CloudTrail via EventBridge (tamper protection within seconds): a rule added by hand to the
  managed group (AuthorizeSecurityGroupIngress), a desired rule revoked on another target's group
  (RevokeSecurityGroupIngress), ModifySecurityGroupRules, and the managed group detached from the
  instance (ModifyDBInstance) are each undone for the affected target only; an event on another
  group, a failed call (errorCode) and flowseg's own change (its role session writing "flowseg "
  rules) cost one log line and no AWS or PCE request; the same session writing another rule is
  reconciled; a runtime that has not learned a created group's id yet resolves (EC2 only, no PCE);
- SQS batches: an SNS envelope around an S3 notification, a raw notification of a missing object
  and a body that is no event: batchItemFailures names the two bad messages only; EventBridge
  events inside SQS (an object and a CloudTrail call); a batch where every message fails is the
  invocation's error;
- an EventBridge key sent URL-encoded is read under its decoded form (NoSuchKey fallback);
- {"scan": ..., "dry_run": true} changes nothing in a runtime that is not a dry run;
- one CloudWatch Embedded Metric Format line per invocation (Changes, Errors, ...).
"""
import json
import os
import shutil
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from apply_world import DESIRED, POLICY, World, flow_records  # noqa: E402
from aws_proxy import CountingProxy  # noqa: E402
from fsgtest import REGION, SKIP, SOURCE_ROOT, Checker, Moto  # noqa: E402
from lambda_e2e import (BUCKET, KEY_RE, MANUAL, PREFIX, SCHEDULED, Runtime,  # noqa: E402
                        pce_requests, put_flow_log, target_entries)

sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "pce_sim"))
from pce_sim import SimProcess  # noqa: E402

EVENTS = os.path.join(SOURCE_ROOT, "tests", "data", "events")
FIXTURE_SG = "sg-0123456789abcdef0"
FUNCTION = "flowseg-test"
OTHER_GROUP = "sg-0ffffffffffffffff"


def fixture(name):
    with open(os.path.join(EVENTS, name)) as f:
        return json.load(f)


def cloudtrail(name, group=None, session=None, key=None, **rp):
    """A fixture with its group id (and caller session, access key, request parameters)
    replaced."""
    ev = json.loads(json.dumps(fixture(name)).replace(FIXTURE_SG, group or FIXTURE_SG))
    ui = ev["detail"]["userIdentity"]
    if session is not None:
        ui["arn"] = "arn:aws:sts::123456789012:assumed-role/flowseg-lambda/" + session
        ui["principalId"] = "AROAEXAMPLEID:" + session
    if key is not None:
        ui["accessKeyId"] = key
    ev["detail"]["requestParameters"].update(rp)
    return ev


def sqs_record(mid, body):
    return {"messageId": mid, "receiptHandle": "rh-" + mid, "body": json.dumps(body)
            if not isinstance(body, str) else body, "attributes": {}, "messageAttributes": {},
            "md5OfBody": "0" * 32, "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:flowseg-events",
            "awsRegion": REGION}


def s3_notification(key, size):
    sample = json.loads(fixture("sqs_sns_s3.json")["Records"][1]["body"])
    rec = sample["Records"][0]
    rec["s3"]["bucket"]["name"] = BUCKET
    rec["s3"]["object"]["key"] = urllib.parse.quote_plus(key, safe="/")
    rec["s3"]["object"]["size"] = size
    return sample


def sns_envelope(message):
    env = json.loads(fixture("sqs_sns_s3.json")["Records"][0]["body"])
    env["Message"] = json.dumps(message)
    return env


def eventbridge_object(key, size):
    ev = json.loads(fixture("sqs_eventbridge.json")["Records"][0]["body"])
    ev["detail"]["bucket"]["name"] = BUCKET
    ev["resources"] = ["arn:aws:s3:::" + BUCKET]
    ev["detail"]["object"]["key"] = key
    ev["detail"]["object"]["size"] = size
    return ev


def metric_lines(text):
    out = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            out.append(json.loads(line))
    return out


class Ctx:
    def __init__(self, c, moto, proxy, sim, tmp):
        self.c, self.moto, self.proxy, self.sim, self.tmp = c, moto, proxy, sim, tmp
        self.w = World(moto)
        self.s3 = moto.client("s3")
        self.s3.create_bucket(Bucket=BUCKET)
        self.orders = self.w.add_db("orders-db", "10.0.20.11")
        self.other = self.w.add_db("other-db", "10.0.20.12")
        self.env = {"AWS_ENDPOINT_URL": proxy.url, "AWS_REGION": REGION,
                    "AWS_ACCESS_KEY_ID": moto.key_id, "AWS_SECRET_ACCESS_KEY": moto.secret,
                    "AWS_EC2_METADATA_DISABLED": "true",
                    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                    "AWS_CONFIG_FILE": "/nonexistent", "PCE_API_KEY": sim.api_key,
                    "PCE_API_SECRET": sim.api_secret, "AWS_LAMBDA_FUNCTION_NAME": FUNCTION}
        self.config = json.dumps({
            "region": REGION,
            "pce": {"url": sim.url, "org_id": sim.org_id, "key_env": "PCE_API_KEY",
                    "secret_env": "PCE_API_SECRET", "ca_file": sim.ca, "timeout_s": 10},
            "targets": [
                {"name": "orders", "rds_instance": "orders-db",
                 "virtual_service": "VS-RDS-orders-db",
                 "security_group": {"create": "flowseg-orders"}, "associate": "add"},
                {"name": "other", "rds_instance": "other-db",
                 "virtual_service": "VS-RDS-orders-db", "security_group": self.other["sg"],
                 "associate": "none"}],
            "guards": {"max_removals": 10, "allow_empty": False, "allow_public": False,
                       "max_rules": 60},
            "flowlogs": {"key_regex": KEY_RE}})

    def owned(self):
        groups = self.w.ec2.describe_security_groups(
            Filters=[{"Name": "group-name", "Values": ["flowseg-orders"]}])["SecurityGroups"]
        return groups[0]["GroupId"] if groups else None

    def quiet(self):
        self.proxy.clear()
        self.sim.control("DELETE", "/_sim/requests")

    def runtime(self, name):
        return Runtime(self.tmp, name, dict(self.env, FLOWSEG_CONFIG=self.config))


def call_action(r):
    calls = (r.get("json") or {}).get("calls") or []
    return [(x.get("action"), x.get("targets")) for x in calls]


def tamper(x, rapi, rt):
    c, w = x.c, x.w
    r = rapi.invoke(SCHEDULED)
    group = x.owned()
    c.check(r["type"] == "response" and group is not None and w.rules(group) == DESIRED,
            "setup: the schedule created and filled the managed group")
    c.eq(w.rules(x.other["sg"]), DESIRED, "setup: the other target's group is right")

    # 1. A rule added by hand to the managed group: only that target is reconciled.
    w.add_rules(group, [MANUAL])
    x.quiet()
    r = rapi.invoke(cloudtrail("cloudtrail_authorize.json", group))
    body = r.get("json") or {}
    c.eq((r["type"], body.get("kind"), body.get("origin")), ("response", "api_call", "cloudtrail"),
         "authorize: answered as an api_call")
    c.eq(call_action(r), [("reconcile", ["orders"])], "authorize: reconcile the orders target")
    t = target_entries(r)
    c.eq(sorted(t), ["orders"], "authorize: only the affected target was reconciled")
    c.eq((t.get("orders", {}).get("status"), t.get("orders", {}).get("removed")),
         ("applied", 1), "authorize: the hand-added rule was revoked")
    c.eq(w.rules(group), DESIRED, "authorize: the managed group equals the policy again")
    c.check(not any("other-db" in a for _, a in x.proxy.snapshot()),
            "authorize: nothing asked about the other target")

    # 2. An event about a group flowseg does not manage: one log line, no request at all.
    before = rt.text().count("cloudtrail AuthorizeSecurityGroupIngress on " + OTHER_GROUP)
    x.quiet()
    r = rapi.invoke(cloudtrail("cloudtrail_authorize.json", OTHER_GROUP))
    c.eq((r["type"], call_action(r)), ("response", [("ignored", None)]),
         "other group: ignored")
    c.eq(x.proxy.snapshot(), [], "other group: no AWS request")
    c.eq(len(pce_requests(x.sim)), 0, "other group: no PCE request")
    c.eq(rt.text().count("cloudtrail AuthorizeSecurityGroupIngress on " + OTHER_GROUP) - before,
         1, "other group: one log line")

    # 3. A failed call (errorCode) changed nothing: ignored without a request.
    ev = cloudtrail("cloudtrail_authorize.json", group)
    ev["detail"]["errorCode"] = "Client.UnauthorizedOperation"
    x.quiet()
    r = rapi.invoke(ev)
    c.eq((call_action(r), x.proxy.snapshot(), len(pce_requests(x.sim))),
         ([("ignored", None)], [], 0), "failed call: ignored, no request")

    # 4. flowseg's own change (its session, "flowseg " rules): not reconciled again.
    x.quiet()
    own = x.moto.key_id  # the key the runtime signs with (AWS_ACCESS_KEY_ID)
    r = rapi.invoke(cloudtrail("cloudtrail_authorize_self.json", group, session=FUNCTION,
                               key=own))
    c.eq((call_action(r), x.proxy.snapshot(), len(pce_requests(x.sim))),
         ([("own_change", None)], [], 0), "own change: skipped, no request")
    # Someone who named an assumed-role session after the function (any principal can) but
    # signs with another key is reconciled.
    r = rapi.invoke(cloudtrail("cloudtrail_authorize_self.json", group, session=FUNCTION,
                               key="ASIASPOOFEDKEY"))
    c.eq(call_action(r), [("reconcile", ["orders"])],
         "a session named after the function, another key: reconciled")
    # The same session writing a rule flowseg does not write is reconciled.
    w.add_rules(group, [MANUAL])
    r = rapi.invoke(cloudtrail("cloudtrail_authorize.json", group, session=FUNCTION, key=own))
    c.eq(call_action(r), [("reconcile", ["orders"])],
         "own session, foreign rule: reconciled")
    c.eq(w.rules(group), DESIRED, "own session, foreign rule: undone")
    # Another principal writing a "flowseg " rule is reconciled too (only the pair is ours).
    r = rapi.invoke(cloudtrail("cloudtrail_authorize_self.json", group, session="mallory"))
    c.eq(call_action(r), [("reconcile", ["orders"])], "flowseg rule by someone else: reconciled")

    # 5. A desired rule revoked on the other target's group (configured by id).
    w.ec2.revoke_security_group_ingress(GroupId=x.other["sg"], IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "IpRanges": [{"CidrIp": DESIRED[1][3]}]}])
    x.quiet()
    r = rapi.invoke(cloudtrail("cloudtrail_revoke.json", x.other["sg"]))
    t = target_entries(r)
    c.eq((call_action(r), sorted(t)), ([("reconcile", ["other"])], ["other"]),
         "revoke: the other target alone")
    c.eq((t.get("other", {}).get("added"), w.rules(x.other["sg"])), (1, DESIRED),
         "revoke: the rule is back")

    # 6. ModifySecurityGroupRules on the managed group (rule rewritten by hand).
    w.add_rules(group, [MANUAL])
    r = rapi.invoke(cloudtrail("cloudtrail_modify_rules.json", group))
    c.eq(call_action(r), [("reconcile", ["orders"])], "modify rules: reconciled")
    c.eq(w.rules(group), DESIRED, "modify rules: undone")

    # 7. The managed group detached from the instance (ModifyDBInstance).
    w.rds.modify_db_instance(DBInstanceIdentifier="orders-db",
                             VpcSecurityGroupIds=[x.orders["sg"]], ApplyImmediately=True)
    c.check(group not in w.db_groups("orders-db"), "detach: done by hand")
    ev = fixture("cloudtrail_modify_db.json")
    ev["detail"]["requestParameters"]["vpcSecurityGroupIds"] = [x.orders["sg"]]
    x.quiet()
    r = rapi.invoke(ev)
    t = target_entries(r)
    c.eq((call_action(r), sorted(t)), ([("reconcile", ["orders"])], ["orders"]),
         "detach: the instance's target alone")
    c.check(t.get("orders", {}).get("associated") is True and group in w.db_groups("orders-db"),
            "detach: the managed group is attached again (%s)" % w.db_groups("orders-db"))
    # flowseg's own ModifyDBInstance (the list holds the managed group): skipped.
    ev["detail"]["requestParameters"]["vpcSecurityGroupIds"] = [x.orders["sg"], group]
    ev["detail"]["userIdentity"]["arn"] = \
        "arn:aws:sts::123456789012:assumed-role/flowseg-lambda/" + FUNCTION
    ev["detail"]["userIdentity"]["accessKeyId"] = x.moto.key_id
    x.quiet()
    r = rapi.invoke(ev)
    c.eq((call_action(r), x.proxy.snapshot()), ([("own_change", None)], []),
         "own ModifyDBInstance: skipped")
    # A ModifyDBInstance that leaves the groups alone, on another instance: ignored.
    ev = fixture("cloudtrail_modify_db.json")
    del ev["detail"]["requestParameters"]["vpcSecurityGroupIds"]
    x.quiet()
    r = rapi.invoke(ev)
    c.eq((call_action(r), x.proxy.snapshot()), ([("ignored", None)], []),
         "ModifyDBInstance without groups: ignored")
    return group


def cold_runtime(x):
    """A runtime that has not seen the created group yet resolves it (EC2), asks no PCE."""
    c = x.c
    rt = x.runtime("rt-cold")
    try:
        x.quiet()
        r = rt.rapi.invoke(cloudtrail("cloudtrail_authorize.json", OTHER_GROUP))
        c.eq((r["type"], call_action(r)), ("response", [("ignored", None)]),
             "cold: another group ignored")
        c.eq(len(pce_requests(x.sim)), 0, "cold: no PCE request")
        c.eq(x.proxy.mutating(), [], "cold: nothing changed")
        c.check(0 < len(x.proxy.snapshot()) <= 6,
                "cold: only the created group's target was resolved (%s)" % x.proxy.snapshot())
    finally:
        rt.stop()


def batches(x, rapi, group):
    c, w = x.c, x.w
    key = PREFIX + "via sns_20240101T0100Z.log.gz"
    size = put_flow_log(x.s3, key, x.orders["eni"], x.orders["address"])
    w.add_rules(group, [MANUAL])
    missing = PREFIX + "gone_20240101T0105Z.log.gz"
    ids = ["m-sns-good", "m-raw-missing", "m-garbage"]
    event = {"Records": [sqs_record(ids[0], sns_envelope(s3_notification(key, size))),
                         sqs_record(ids[1], s3_notification(missing, 10)),
                         sqs_record(ids[2], "{\"hello\": \"world\"}")]}
    r = rapi.invoke(event)
    body = r.get("json") or {}
    c.eq((r["type"], body.get("origin")), ("response", "sqs"), "sqs: answered")
    c.eq(body.get("batchItemFailures"), [{"itemIdentifier": ids[1]},
                                         {"itemIdentifier": ids[2]}],
         "sqs: only the missing object's and the garbage message are failures")
    objs = {o["key"]: o for o in body.get("objects", [])}
    c.check("records" in objs.get(key, {}) and "error" in objs.get(missing, {}),
            "sqs: the SNS-wrapped object was read, the missing one failed: %s" % objs)
    c.eq(target_entries(r).get("orders", {}).get("removed"), 1,
         "sqs: the object's target was reconciled")
    c.eq(w.rules(group), DESIRED, "sqs: the managed group is right")

    # EventBridge -> SQS: an object of the other target and a CloudTrail call on its group.
    key2 = PREFIX + "eb other_20240101T0110Z.log.gz"
    size2 = put_flow_log(x.s3, key2, x.other["eni"], x.other["address"])
    w.ec2.revoke_security_group_ingress(GroupId=x.other["sg"], IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "IpRanges": [{"CidrIp": DESIRED[2][3]}]}])
    event = {"Records": [sqs_record("e1", eventbridge_object(key2, size2)),
                         sqs_record("e2", cloudtrail("cloudtrail_revoke.json", x.other["sg"]))]}
    r = rapi.invoke(event)
    body = r.get("json") or {}
    c.eq((r["type"], body.get("batchItemFailures")), ("response", []),
         "sqs/eventbridge: no failure")
    c.eq([o.get("key") for o in body.get("objects", [])], [key2],
         "sqs/eventbridge: the object was read")
    c.eq(call_action(r), [("reconcile", ["other"])], "sqs/eventbridge: the call was handled")
    c.eq(w.rules(x.other["sg"]), DESIRED, "sqs/eventbridge: the other group is right")

    # Every message failing: the invocation's error (the batch is delivered again).
    r = rapi.invoke({"Records": [sqs_record("x1", "nope"), sqs_record("x2", "{}")]})
    c.eq(r["type"], "error", "sqs: a batch where every message failed is an error")


def key_fallback(x, rapi):
    c = x.c
    key = PREFIX + "encoded key=1_20240101T0115Z.log.gz"
    size = put_flow_log(x.s3, key, x.orders["eni"], x.orders["address"])
    sent = key.replace(" ", "+").replace("=", "%3D")
    x.proxy.clear()
    r = rapi.invoke(eventbridge_object(sent, size))
    body = r.get("json") or {}
    objs = body.get("objects") or [{}]
    c.eq((r["type"], objs[0].get("key"), objs[0].get("key_as_sent")), ("response", key, sent),
         "fallback: the encoded EventBridge key was read under its decoded form")
    c.check("records" in objs[0] and "error" not in objs[0], "fallback: read: %s" % objs[0])
    # A key sent as it is (with a literal '+') is read at once.
    key = PREFIX + "plus+sign_20240101T0120Z.log.gz"
    size = put_flow_log(x.s3, key, x.orders["eni"], x.orders["address"])
    x.proxy.clear()
    r = rapi.invoke(eventbridge_object(key, size))
    objs = (r.get("json") or {}).get("objects") or [{}]
    c.check("records" in objs[0] and "key_as_sent" not in objs[0],
            "fallback: a raw key is read as sent: %s" % objs[0])
    c.eq(len([a for s, a in x.proxy.snapshot() if s == "s3"]), 1, "fallback: one GetObject")


def scan_dry_run(x, rapi, group):
    c, w = x.c, x.w
    w.add_rules(group, [MANUAL])
    x.proxy.clear()
    r = rapi.invoke({"scan": "s3://%s/%s" % (BUCKET, PREFIX), "dry_run": True})
    body = r.get("json") or {}
    t = target_entries(r).get("orders", {})
    c.eq((r["type"], body.get("kind"), body.get("dry_run"), t.get("status"), t.get("removed")),
         ("response", "scan", True, "dry_run", 1), "scan dry run: planned, not applied")
    c.eq(x.proxy.mutating(), [], "scan dry run: no AWS call that changes anything")
    c.check(MANUAL in w.rules(group), "scan dry run: the group is unchanged")
    r = rapi.invoke(SCHEDULED)
    c.eq(w.rules(group), DESIRED, "after the dry run, a real reconcile still works")


def main():
    try:
        import boto3  # noqa: F401
    except ImportError:
        sys.exit(SKIP)
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="lambda-events-")
    sim = SimProcess(seed=POLICY)
    try:
        with Moto() as moto, CountingProxy(moto.url) as proxy:
            x = Ctx(c, moto, proxy, sim, tmp)
            rt = x.runtime("rt-events")
            try:
                group = tamper(x, rt.rapi, rt)
                batches(x, rt.rapi, group)
                key_fallback(x, rt.rapi)
                scan_dry_run(x, rt.rapi, group)
                c.check(rt.alive(), "the runtime is still running")
            finally:
                rt.stop()
            text = rt.text()
            c.check("Sanitizer" not in text, "no sanitizer report")
            metrics = metric_lines(text)
            c.eq(len(metrics), rt.rapi.answered, "metrics: one EMF line per invocation")
            m = metrics[0] if metrics else {}
            cw = (m.get("_aws") or {}).get("CloudWatchMetrics") or [{}]
            c.eq((cw[0].get("Namespace"), cw[0].get("Dimensions"), m.get("FunctionName")),
                 ("flowseg", [["FunctionName"]], FUNCTION), "metrics: namespace and dimension")
            c.eq(sorted(d["Name"] for d in cw[0].get("Metrics", [])),
                 ["Changes", "CutSources", "Duration", "Errors", "Refusals"],
                 "metrics: the five metrics")
            c.check(any(x.get("Changes") == 1 for x in metrics), "metrics: a change counted")
            c.check(any(x.get("Errors", 0) >= 1 for x in metrics), "metrics: errors counted")
            c.check(sim.api_secret not in text, "the PCE secret is in no log line")
            cold_runtime(x)
    finally:
        sim.stop()
    if c.failed == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("runtime logs kept in " + tmp)
    c.done()


if __name__ == "__main__":
    main()
