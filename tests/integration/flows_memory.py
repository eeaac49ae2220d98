#!/usr/bin/env python3
"""flowseg flows under a small --memory: the table is spilled to sorted runs on disk and merged on
output, and the output is byte-for-byte the output with the default budget (where this data fits
in memory):
  1. --format json and csv, --direction ingress, egress and all, --jobs 1 and 2, on generated
     objects of every format with IPv6 addresses and tens of thousands of groups (the debug log
     says the table was spilled);
  2. a truncated object among the good ones under the small budget: exit 1, and the rows are
     exactly those of the good objects alone (what a failed object had spilled is dropped);
  3. --memory below 4M or malformed is a usage error (exit 2);
  4. with TMPDIR unwritable: a table that fits runs as usual (the file is made only to spill), one
     that must spill fails as a whole (exit 1, one error naming TMPDIR, no rows printed).
Exit 0 pass, 1 fail.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("FSG_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("FSG_BUILD_ROOT", os.path.join(SRC, "build"))
FLOWSEG = os.path.join(BUILD, "cmd", "flowseg")
GEN = os.path.join(SRC, "scripts", "gen-flowlogs")
SMALL = "4M"  # the smallest budget: 1 MiB of table, about 8,000 groups

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)
    return cond


def flows(args, env):
    p = subprocess.run([FLOWSEG] + args, capture_output=True, env=env, timeout=600)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def main():
    env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
    env.pop("FLOWSEG_CONFIG", None)
    tmp = tempfile.mkdtemp(prefix="fsg-flows-memory-")
    env["TMPDIR"] = tmp  # the spill file goes here (unlinked at once)
    try:
        good = os.path.join(tmp, "good")
        subprocess.run([sys.executable, GEN, "--out", good, "--flat", "--objects", "6",
                        "--records", "20000", "--clients", "20000", "--enis", "8",
                        "--format", "mixed", "--seed", "13"], check=True,
                       stdout=subprocess.DEVNULL)
        names = sorted(os.listdir(good))

        # 1. same output with and without spilling
        spilled_seen = False
        for direction in ("ingress", "egress", "all"):
            for fmt in ("json", "csv"):
                rc0, out0, err0 = flows(["flows", "--format", fmt, "--direction", direction, good],
                                        env)
                check(rc0 == 0, "default budget %s %s: exit %d: %s" % (direction, fmt, rc0, err0))
                for jobs in ("1", "2"):
                    rc, out, err = flows(["--log-level", "debug", "flows", "--memory", SMALL,
                                          "--jobs", jobs, "--format", fmt, "--direction",
                                          direction, good], env)
                    check(rc == 0, "--memory %s %s %s: exit %d: %s" % (SMALL, direction, fmt, rc, err))
                    check(out == out0, "--memory %s --jobs %s --direction %s --format %s: output "
                          "differs from the default budget's" % (SMALL, jobs, direction, fmt))
                    spilled_seen = spilled_seen or "sorted runs, merged on output" in err
        check(spilled_seen, "the small budget never spilled the table (debug log)")
        doc = json.loads(flows(["flows", "--format", "json", "--direction", "all", good], env)[1])
        rows = sum(len(e["flows"]) for e in doc["enis"])
        v6 = sum(1 for e in doc["enis"] for f in e["flows"] if ":" in f["src"])
        check(rows > 20000 and v6 > 0, "the data has many groups (%d) and IPv6 ones (%d)" % (rows, v6))
        check(os.listdir(tmp) == ["good"], "no temporary file is left: %s" % os.listdir(tmp))

        # 2. a truncated object counts for nothing, even after it spilled rows
        mixed = os.path.join(tmp, "mixed")
        shutil.copytree(good, mixed)
        big = max(names, key=lambda n: os.path.getsize(os.path.join(good, n)))
        with open(os.path.join(good, big), "rb") as f:
            data = f.read()
        with open(os.path.join(mixed, "zz-truncated.log.gz"), "wb") as f:
            f.write(data[: len(data) * 9 // 10])
        for jobs in ("1", "2"):
            rc, out, err = flows(["flows", "--memory", SMALL, "--jobs", jobs, "--format", "json",
                                  "--direction", "all", mixed], env)
            check(rc == 1, "truncated object: exit %d (want 1)" % rc)
            check("zz-truncated.log.gz" in err, "the error names the truncated object: %s" % err)
            got = json.loads(out)
            check(got["enis"] == doc["enis"], "--jobs %s: the truncated object's rows were "
                  "counted under --memory %s" % (jobs, SMALL))

        # 3. bad budgets
        for bad in ("3M", "64X", "", "1.5G"):
            rc, _, err = flows(["flows", "--memory", bad, good], env)
            check(rc == 2 and "--memory" in err, "--memory %r: exit %d: %s" % (bad, rc, err))

        # 4. nowhere to spill
        env_bad = dict(env, TMPDIR=os.path.join(tmp, "missing"))
        rc, out, err = flows(["flows", "--format", "csv", good], env_bad)
        rc0, out0, _ = flows(["flows", "--format", "csv", good], env)
        check(rc == 0 and out == out0, "default budget without a usable TMPDIR: exit %d: %s" % (rc, err))
        for jobs in ("1", "2"):
            rc, out, err = flows(["flows", "--memory", SMALL, "--jobs", jobs, "--format", "csv",
                                  good], env_bad)
            check(rc == 1 and out == b"" and "TMPDIR" in err and err.count("flowseg:") == 1,
                  "--jobs %s, nowhere to spill: exit %d, %d bytes out, stderr %s"
                  % (jobs, rc, len(out), err))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        return 1
    print("flows_memory: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
