#!/usr/bin/env python3
"""Day rollups of flow summaries (flowlogs/rollup.h) on moto:

  - a read of a prefix with flowlogs.summaries writes, besides one summary per object, one
    rollup per directory and day of two or more objects (a day over: here 2023), and none for a
    day of one object;
  - the next read takes those days from their rollups alone (counted at a proxy: no GET of a
    flow-log object or of their members' summaries, nothing written) and gives exactly the same
    document (table and stats, objects counted one by one);
  - a --since that cuts a day reads that day's members one by one and writes no rollup for it
    (the others still come from theirs); the document equals the raw read of the same window;
  - a corrupt rollup, or another day's rollup copied onto its key, is not used (a warning): its
    members are read, the document is unchanged, and the rollup is made again;
  - a late object in a day gives the day another rollup name: the old rollup is not used, the
    document counts the new object, and the new rollup is written then used.

Exit 0 pass, 1 fail, 77 skipped (no moto).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from aws_proxy import CountingProxy  # noqa: E402
from fsgtest import FLOWSEG, SOURCE_ROOT, Checker, Moto, run_flowseg  # noqa: E402

ROOT = "AWSLogs/123456789012/vpcflowlogs/us-east-1/"
ROLLUP = ".fsum-day.json.gz"


def key_of(i, f):
    """Objects 0-6 on 2023-11-14, 7-10 on 2023-11-15, 11 alone on 2023-11-16."""
    day = 14 if i < 7 else 15 if i < 11 else 16
    return ROOT + "2023/11/%02d/" % day + f.replace("_20231114T", "_202311%02dT" % day)


def main():
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="fsg-rollups-")
    try:
        subprocess.run([sys.executable, os.path.join(SOURCE_ROOT, "scripts", "gen-flowlogs"),
                        "--out", tmp, "--flat", "--objects", "13", "--records", "2000",
                        "--format", "mixed", "--malformed", "1", "--seed", "11"],
                       check=True, stdout=subprocess.DEVNULL)
        files = sorted(f for f in os.listdir(tmp) if f.endswith(".gz"))
        late, files = files[12], files[:12]
        with Moto() as moto:
            s3 = moto.client("s3")
            s3.create_bucket(Bucket="logs")
            s3.create_bucket(Bucket="sums")
            for i, f in enumerate(files):
                s3.upload_file(os.path.join(tmp, f), "logs", key_of(i, f))
            env = moto.env(FLOWSEG_CONFIG=json.dumps({"flowlogs": {"summaries": "s3://sums/fs/"}}))
            raw_env = moto.env(FLOWSEG_CONFIG="{}")
            url = "s3://logs/AWSLogs/"

            def flows(*extra, e=env):
                p = run_flowseg(["flows", "--format", "json", "--direction", "all", *extra, url],
                                env=e)
                return p, (json.loads(p.stdout) if p.returncode in (0, 1) and p.stdout else {})

            def stored():
                out = {}
                pages = s3.get_paginator("list_objects_v2").paginate(Bucket="sums", Prefix="fs/")
                for page in pages:
                    for o in page.get("Contents", []):
                        out[o["Key"]] = s3.get_object(Bucket="sums", Key=o["Key"])["Body"].read()
                return out

            def rollups():
                return sorted(k for k in stored() if k.endswith(ROLLUP))

            def counted(*extra):
                with CountingProxy(moto.url) as proxy:
                    p, doc = flows(*extra, e=dict(env, AWS_ENDPOINT_URL=proxy.url))
                    calls = [a for _, a in proxy.snapshot()]
                gets = [a for a in calls if a.startswith("GET ") and "?" not in a]
                return p, doc, {
                    "raw": sum(a.startswith("GET /logs/") for a in gets),
                    "sums": sum(a.startswith("GET /sums/") and not a.endswith(ROLLUP)
                                for a in gets),
                    "rollups": sum(a.endswith(ROLLUP) for a in gets),
                    "puts": sum(a.startswith("PUT ") for a in calls)}

            _, raw = flows(e=raw_env)
            p1, first = flows()
            c.check(p1.returncode == 0 and first == raw,
                    "first read: the raw document (%s)" % p1.stderr[-300:])
            keys = stored()
            ups = rollups()
            c.check(len(keys) - len(ups) == 12 and len(ups) == 2 and
                    ups[0].startswith("fs/logs/" + ROOT + "2023/11/14/flowseg-day-20231114.") and
                    ups[1].startswith("fs/logs/" + ROOT + "2023/11/15/flowseg-day-20231115."),
                    "one summary per object, one rollup per day of 2+ objects (%s)" % ups)

            p2, second, n = counted()
            c.check(p2.returncode == 0 and n == {"raw": 0, "sums": 1, "rollups": 2, "puts": 0},
                    "second read: two rollups and the lone object's summary, nothing else (%s)"
                    % n)
            c.eq(second, first, "second read: the same document (table and stats)")
            c.eq(second.get("stats", {}).get("objects"), 12, "objects counted one by one")

            since = ["--since", "2023-11-14T00:12Z"]
            _, want = flows(*since, e=raw_env)
            p3, third, n = counted(*since)
            c.check(p3.returncode == 0 and n == {"raw": 0, "sums": 6, "rollups": 1, "puts": 0},
                    "a window cutting a day: its members one by one, no rollup written for it "
                    "(%s)" % n)
            c.eq(third, want, "a window cutting a day: the raw document of that window")

            a_key, b_key = ups
            b_body = keys[b_key]
            for what, body in (("a corrupt rollup", b"\x1f\x8bnot gzip at all"),
                               ("another day's rollup on its key", b_body)):
                s3.put_object(Bucket="sums", Key=a_key, Body=body)
                p4, fourth = flows()
                c.check(p4.returncode == 0 and "day rollup" in p4.stderr and
                        "not used" in p4.stderr,
                        "%s: not used, with a warning (%s)" % (what, p4.stderr[-200:]))
                c.eq(fourth, first, "%s: the same document" % what)
                c.check(stored().get(a_key) not in (body, None), "%s: made again" % what)
            _, again, n = counted()
            c.check(n["rollups"] == 2 and n["sums"] == 1 and again == first,
                    "the rollup made again is used (%s)" % n)

            s3.upload_file(os.path.join(tmp, late), "logs",
                           ROOT + "2023/11/14/" + late)
            _, want = flows(e=raw_env)
            p5, fifth, n = counted()
            c.check(p5.returncode == 0 and n["raw"] == 1 and n["sums"] == 8 and
                    n["rollups"] == 1 and n["puts"] == 2,
                    "a late object: the day's old rollup not used, its summary and the new "
                    "rollup written (%s)" % n)
            c.eq(fifth, want, "a late object: the document counts it")
            c.eq(fifth.get("stats", {}).get("objects"), 13, "a late object: 13 objects")
            _, sixth, n = counted()
            c.check(n == {"raw": 0, "sums": 1, "rollups": 2, "puts": 0} and sixth == want,
                    "then the day's new rollup is used (%s)" % n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.done()


if __name__ == "__main__":
    if not os.access(FLOWSEG, os.X_OK):
        print("no binary at", FLOWSEG)
        sys.exit(1)
    main()
