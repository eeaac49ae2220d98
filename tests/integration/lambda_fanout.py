#!/usr/bin/env python3
"""A backfill fanned out on Lambda (issue 13 item 4), end to end on moto, the PCE simulator and
the Runtime API server:

  - {"scan": PREFIX, "since": ..., "until": ..., "fanout": true} lists the prefix within the
    window and sends its keys to the SQS queue (flowlogs.fanout_queue_url) in batches: every
    object in the window once, none outside it, no flow-log object read, nothing reconciled;
  - the batches, received from the queue as the event source mapping would deliver them, are
    consumed by the same function: each reads its objects and writes their flow summaries, and
    reconciles nothing (no AWS call that changes anything);
  - `flowseg flows` over the prefix then reads every object from its summary and gives the
    table of the raw objects;
  - without flowlogs.summaries the fan-out is refused and sends nothing.

Exit 0 pass, 1 fail, 77 skipped (no moto).
"""
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from apply_world import POLICY, World  # noqa: E402
from aws_proxy import CountingProxy  # noqa: E402
from fsgtest import REGION, SKIP, SOURCE_ROOT, Checker, Moto, run_flowseg  # noqa: E402
from lambda_e2e import BUCKET, KEY_RE, Runtime, put_flow_log  # noqa: E402

sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "pce_sim"))
from pce_sim import SimProcess  # noqa: E402

DAYS = ["2024/01/01", "2024/01/02", "2024/01/03"]


def main():
    try:
        import boto3  # noqa: F401
    except ImportError:
        sys.exit(SKIP)
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="lambda-fanout-")
    sim = SimProcess(seed=POLICY)
    try:
        with Moto() as moto, CountingProxy(moto.url) as proxy:
            w = World(moto)
            s3 = moto.client("s3")
            sqs = moto.client("sqs")
            s3.create_bucket(Bucket=BUCKET)
            s3.create_bucket(Bucket="sums")
            queue = sqs.create_queue(QueueName="flowseg-events")["QueueUrl"]
            db = w.add_db("orders-db", "10.0.20.11")
            keys = {}
            for d, day in enumerate(DAYS):
                for i in range(23 if d == 1 else 3):
                    key = ("AWSLogs/123456789012/vpcflowlogs/us-east-1/%s/123456789012_vpcflowlogs"
                           "_us-east-1_fl-0a1b_%sT%02d%02dZ_%04d.log.gz"
                           % (day, day.replace("/", ""), i // 12, i % 12 * 5, i))
                    put_flow_log(s3, key, db["eni"], "10.0.20.11", start=1704067200 + d * 86400)
                    keys[key] = day
            env = {"AWS_ENDPOINT_URL": proxy.url, "AWS_REGION": REGION,
                   "AWS_ACCESS_KEY_ID": moto.key_id, "AWS_SECRET_ACCESS_KEY": moto.secret,
                   "AWS_EC2_METADATA_DISABLED": "true",
                   "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
                   "PCE_API_KEY": sim.api_key, "PCE_API_SECRET": sim.api_secret}
            config = {
                "region": REGION,
                "pce": {"url": sim.url, "org_id": sim.org_id, "key_env": "PCE_API_KEY",
                        "secret_env": "PCE_API_SECRET", "ca_file": sim.ca, "timeout_s": 10},
                "targets": [{"name": "orders", "rds_instance": "orders-db",
                             "virtual_service": "VS-RDS-orders-db", "security_group": db["sg"],
                             "associate": "none"}],
                "flowlogs": {"key_regex": KEY_RE, "summaries": "s3://sums/fs/",
                             "fanout_queue_url": queue}}
            rt = Runtime(tmp, "rt-fanout", dict(env, FLOWSEG_CONFIG=json.dumps(config)))
            try:
                r = rt.rapi.invoke({"scan": "s3://%s/AWSLogs/" % BUCKET, "since": "2024-01-02",
                                    "until": "2024-01-02", "fanout": True, "dry_run": True})
                n_dry = len(sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=0).get("Messages", []))
                c.check(r["type"] == "response" and n_dry == 0 and
                        "23 object(s)" in json.dumps(r.get("json")),
                        "fan-out dry run: counted, nothing sent")
                proxy.clear()
                r = rt.rapi.invoke({"scan": "s3://%s/AWSLogs/" % BUCKET, "since": "2024-01-02",
                                    "until": "2024-01-02", "fanout": True})
                calls = [a for _, a in proxy.snapshot()]
                c.check(r["type"] == "response", "fan-out: answered (%s)" % str(r)[:300])
                msgs = []
                while True:
                    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                              WaitTimeSeconds=0).get("Messages", [])
                    if not got:
                        break
                    msgs += got
                    for m in got:
                        sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
                sent = []
                for m in msgs:
                    body = json.loads(m["Body"])
                    c.check(body.get("flowseg_fanout") is True, "a batch is marked flowseg_fanout")
                    sent += [rec["s3"]["object"]["key"] for rec in body["Records"]]
                want = sorted(k for k, d in keys.items() if d == "2024/01/02")
                c.eq(sorted(sent), want, "fan-out: every object of the window once, none outside")
                c.check(len(msgs) == 1 and len(sent) == 23,
                        "fan-out: %d object(s) in %d message(s)" % (len(sent), len(msgs)))
                c.check(not any(a.startswith("GET /%s/AWSLogs" % BUCKET) and "?" not in a
                                for a in calls) and not proxy.mutating(),
                        "fan-out: no flow-log object read, nothing changed")

                proxy.clear()
                records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                            "body": m["Body"], "attributes": {}, "messageAttributes": {},
                            "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
                            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:flowseg-events",
                            "awsRegion": REGION} for m in msgs]
                r = rt.rapi.invoke({"Records": records})
                body = r.get("json") or {}
                c.check(r["type"] == "response" and not body.get("batchItemFailures"),
                        "consumer: the batch succeeded (%s)" % str(body)[:300])
                sums = [o["Key"] for o in
                        s3.list_objects_v2(Bucket="sums", Prefix="fs/").get("Contents", [])]
                c.eq(len(sums), len(want), "consumer: one flow summary per object")
                c.eq(proxy.mutating(), [], "consumer: nothing reconciled, no change")

                # A later read with what the Lambda knew of the target (its interface, address
                # and port: the same fingerprint) takes every object from its summary.
                tgt = {"name": "orders", "rds_instance": "orders-db",
                       "virtual_service": "VS-RDS-orders-db", "security_group": db["sg"],
                       "associate": "none", "enis": [db["eni"]], "eni_addrs": ["10.0.20.11"],
                       "port": 5432}
                args = ["flows", "--format", "json", "--eni", db["eni"], "--since", "2024-01-02",
                        "--until", "2024-01-02", "s3://%s/AWSLogs/" % BUCKET]
                raw_env = dict(env, FLOWSEG_CONFIG=json.dumps({"targets": [tgt]}))
                sum_env = dict(env, FLOWSEG_CONFIG=json.dumps(
                    {"targets": [tgt], "flowlogs": config["flowlogs"]}))
                p1 = run_flowseg(args, env=raw_env)
                proxy.clear()
                p2 = run_flowseg(args, env=sum_env)
                raw_gets = [a for _, a in proxy.snapshot()
                            if a.startswith("GET /%s/AWSLogs" % BUCKET) and "?" not in a]
                c.check(p1.returncode == 0 and p2.returncode == 0 and not raw_gets and
                        json.loads(p1.stdout)["enis"] == json.loads(p2.stdout)["enis"] and
                        json.loads(p1.stdout)["enis"] != [],
                        "flows from the Lambda's summaries (no flow-log GET, %d) gives the table "
                        "of the raw objects" % len(raw_gets))

                cfg2 = dict(config, flowlogs={"key_regex": KEY_RE, "fanout_queue_url": queue})
                rt2 = Runtime(tmp, "rt-nosum", dict(env, FLOWSEG_CONFIG=json.dumps(cfg2)))
                try:
                    r = rt2.rapi.invoke({"scan": "s3://%s/AWSLogs/" % BUCKET, "fanout": True})
                    n = len(sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=0).get("Messages", []))
                    c.check(r["type"] == "error" and "flowlogs.summaries" in json.dumps(r)
                            and n == 0, "without flowlogs.summaries: refused, nothing sent")
                finally:
                    rt2.stop()
            finally:
                rt.stop()
            c.check("Sanitizer" not in rt.text(), "no sanitizer report")
    finally:
        sim.stop()
    if c.failed == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("runtime logs kept in " + tmp)
    c.done()


if __name__ == "__main__":
    main()
