#!/usr/bin/env python3
"""Per-object flow summaries (config flowlogs.summaries, flowlogs/summary.h) on moto:

  - a first read of a prefix reads every object and writes one summary per object, keyed by
    the object's key and ETag;
  - the next read takes every object from its summary (no GET of a flow-log object: counted at
    a proxy) and gives exactly the same document as the raw objects, --direction all included;
  - reading an object again (the Lambda on a repeated event) rewrites the same summary, byte for
    byte: processing is idempotent;
  - a corrupt summary is not used (a warning), its object is read instead, the result unchanged;
  - an object without a summary (one deleted) is read raw among the others;
  - an object replaced in place (new ETag) is read raw, not from the old summary;
  - summaries are PUT by threads of their own (several in flight with one decoder), all of them
    before flowseg exits.

The objects are named for today (UTC): a day that is not over gets no day rollup, so every read
here goes through the per-object summaries (day rollups: rollups_moto.py).

Exit 0 pass, 1 fail, 77 skipped (no moto).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from aws_proxy import CountingProxy  # noqa: E402
from fsgtest import FLOWSEG, SOURCE_ROOT, Checker, Moto, run_flowseg  # noqa: E402

TODAY = time.gmtime()
PREFIX = "AWSLogs/123456789012/vpcflowlogs/us-east-1/%s/" % time.strftime("%Y/%m/%d", TODAY)


def key_of(f):
    """The generator's file name (stamped 2023-11-14) as an object of today."""
    return PREFIX + f.replace("_20231114T", "_%sT" % time.strftime("%Y%m%d", TODAY))


def main():
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="fsg-summaries-")
    try:
        subprocess.run([sys.executable, os.path.join(SOURCE_ROOT, "scripts", "gen-flowlogs"),
                        "--out", tmp, "--flat", "--objects", "12", "--records", "3000",
                        "--format", "mixed", "--malformed", "2", "--seed", "7"],
                       check=True, stdout=subprocess.DEVNULL)
        files = sorted(f for f in os.listdir(tmp) if f.endswith(".gz"))
        with Moto() as moto:
            s3 = moto.client("s3")
            s3.create_bucket(Bucket="logs")
            s3.create_bucket(Bucket="sums")
            for f in files:
                s3.upload_file(os.path.join(tmp, f), "logs", key_of(f))
            cfg = json.dumps({"flowlogs": {"summaries": "s3://sums/fs/"}})
            env = moto.env(FLOWSEG_CONFIG=cfg)
            url = "s3://logs/AWSLogs/"

            def flows(*extra, e=env):
                p = run_flowseg(["flows", "--format", "json", "--direction", "all", *extra, url],
                                env=e)
                return p, (json.loads(p.stdout) if p.returncode in (0, 1) and p.stdout else {})

            def summaries():
                out = {}
                for o in s3.list_objects_v2(Bucket="sums", Prefix="fs/").get("Contents", []):
                    out[o["Key"]] = s3.get_object(Bucket="sums", Key=o["Key"])["Body"].read()
                return out

            local = json.loads(run_flowseg(["flows", "--format", "json", "--direction", "all",
                                            tmp], env=env, check=0).stdout)
            p1, first = flows()
            c.check(p1.returncode == 0, "first read: exit 0 (%s)" % p1.stderr[-300:])
            c.eq(first.get("enis"), local["enis"], "first read: the table of the local files")
            sums = summaries()
            c.check(len(sums) == len(files) and all(
                k.startswith("fs/logs/" + PREFIX) and k.endswith(".fsum.json.gz") for k in sums),
                "one summary per object, under <prefix><bucket>/<key>.<etag> (%d)" % len(sums))

            with CountingProxy(moto.url) as proxy:
                penv = dict(env, AWS_ENDPOINT_URL=proxy.url)
                p2, second = flows(e=penv)
                calls = [a for _, a in proxy.snapshot()]
            raw_gets = [a for a in calls if a.startswith("GET /logs/AWSLogs") and "?" not in a]
            sum_gets = [a for a in calls if a.startswith("GET /sums/fs/") and "?" not in a]
            puts = [a for a in calls if a.startswith("PUT ")]
            c.check(p2.returncode == 0 and not raw_gets and len(sum_gets) == len(files)
                    and not puts, "second read: every object from its summary, no flow-log GET, "
                    "nothing written (%d raw GETs, %d summary GETs, %d PUTs)"
                    % (len(raw_gets), len(sum_gets), len(puts)))
            c.eq(second, first, "second read: the same document (table and stats)")

            p3 = run_flowseg(["flows", "--format", "json", "s3://logs/" + key_of(files[3])],
                             env=env)
            c.check(p3.returncode == 0 and summaries() == sums,
                    "an object read again rewrites its summary byte for byte (idempotent)")

            bad = sorted(sums)[5]
            s3.put_object(Bucket="sums", Key=bad, Body=b"\x1f\x8bnot a summary")
            gone = sorted(sums)[7]
            s3.delete_object(Bucket="sums", Key=gone)
            p4, fourth = flows()
            c.check(p4.returncode == 0 and "not used" in p4.stderr,
                    "a corrupt summary is not used, with a warning")
            c.eq(fourth, first, "with a corrupt and a missing summary: the same document")
            now = summaries()
            c.check(now.get(gone) == sums[gone],
                    "the missing summary is written again by that read")
            c.check(now.get(bad) == sums[bad],
                    "the corrupt summary is written again by that read (byte for byte)")

            s3.upload_file(os.path.join(tmp, files[0]), "logs", key_of(files[1]))  # new ETag
            p5, fifth = flows()
            want = json.loads(run_flowseg(
                ["flows", "--format", "json", "--direction", "all"] +
                [os.path.join(tmp, files[0] if i == 1 else f) for i, f in enumerate(files)],
                env=env, check=0).stdout)
            c.eq(fifth.get("enis"), want["enis"],
                 "an object replaced in place is read raw, not from its old summary")

            # Another configuration (here: one interface kept) has its own summaries: the
            # first read writes them, the next takes every object from them.
            # Its summaries are written by threads of their own: with one decoder and every PUT
            # held 0.3 s at a proxy, several are in flight at once (written one by one on the
            # decoder they never would be), and every one is there when flowseg has exited.
            eni = (first.get("enis") or [{}])[0].get("eni", "-")
            before = len(summaries())
            with CountingProxy(moto.url) as proxy:
                proxy.slow("PUT /sums/", 0.3)
                p6, sixth = flows("--eni", eni, "--jobs", "1",
                                  e=dict(env, AWS_ENDPOINT_URL=proxy.url))
                overlap = proxy.max_in_flight("PUT /sums/")
            grown = len(summaries()) - before
            c.check(overlap >= 2, "summaries are written off the decoder (%d PUTs in flight at "
                    "once with --jobs 1)" % overlap)
            with CountingProxy(moto.url) as proxy:
                p7, seventh = flows("--eni", eni, e=dict(env, AWS_ENDPOINT_URL=proxy.url))
                calls = [a for _, a in proxy.snapshot()]
            c.check(p6.returncode == 0 and grown == len(files) and seventh == sixth and
                    not any(a.startswith("GET /logs/AWSLogs") and "?" not in a for a in calls),
                    "another configuration: its own summaries written (%d), then used" % grown)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.done()


if __name__ == "__main__":
    if not os.access(FLOWSEG, os.X_OK):
        print("no binary at", FLOWSEG)
        sys.exit(1)
    main()
