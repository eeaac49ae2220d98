#!/usr/bin/env python3
"""The README's quick start and deployment walk-through work as written.

- Quick start: every command of its first block runs from the top of a checkout (the build line
  is what meson already did: the binary must exist), exits 0 and says what the README promises
  (the ENI's flows; the plan with additions, a removal and a would-deny; an HTML page).
- Its "own account" block only uses options the commands have (`--help` lists them).
- Walk-through: `scripts/package-lambda --config scripts/examples/flowseg.json` packages the
  example config; the `prod.tfvars` block sets only variables that scripts/deploy/terraform
  declares, and every variable without a default; the dry-run payload is a scan with
  "dry_run": true, and `flowseg lambda` accepts it (not a parse error) once the events change
  that implements it is in (until then: a note).
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fsgtest import FLOWSEG, SOURCE_ROOT, Checker, free_port  # noqa: E402

RAPI = os.path.join(SOURCE_ROOT, "tests", "lambda_rapi", "rapi_server.py")


def section(readme, title):
    a = readme.index(title)
    b = readme.find("\n## ", a + len(title))
    return readme[a:b if b > 0 else len(readme)]


def code_blocks(text, lang):
    return re.findall(r"```%s\n(.*?)```" % lang, text, re.S)


def commands(block):
    """Shell lines of a block: continuations joined, comments dropped."""
    out, cur = [], ""
    for line in block.splitlines():
        cur += line.rstrip("\\").rstrip() + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            cmd = re.sub(r"\s+#.*$", "", cur).strip()
            if cmd:
                out.append(re.sub(r"\s+", " ", cmd))
            cur = ""
    return out


def quick_start(c, readme, tmp):
    qs = section(readme, "## Quick start")
    blocks = code_blocks(qs, "sh")
    c.check(len(blocks) >= 2, "quick start: two sh blocks (offline, own account)")
    cmds = commands(blocks[0])
    c.check(any(x.startswith("meson setup build") for x in cmds), "quick start: builds first")
    # Run from a directory that looks like a checkout: scripts/ as in the source tree.
    work = os.path.join(tmp, "checkout")
    os.makedirs(os.path.join(work, "build", "cmd"))
    os.symlink(os.path.join(SOURCE_ROOT, "scripts"), os.path.join(work, "scripts"))
    os.symlink(FLOWSEG, os.path.join(work, "build", "cmd", "flowseg"))
    outs = []
    for cmd in cmds:
        if cmd.startswith("meson "):
            c.check(os.access(FLOWSEG, os.X_OK), "quick start: `%s` built %s" % (cmd, FLOWSEG))
            continue
        c.check(cmd.startswith("build/cmd/flowseg "), "quick start: runs flowseg: %s" % cmd)
        p = subprocess.run(cmd, shell=True, cwd=work, capture_output=True, text=True,
                           timeout=120, env=dict(os.environ, AWS_EC2_METADATA_DISABLED="true"))
        c.eq(p.returncode, 0, "quick start: `%s` exits 0 (stderr: %s)" % (cmd, p.stderr[-300:]))
        outs.append(p.stdout)
    flows, plan = (outs + ["", ""])[0], (outs + ["", ""])[1]
    c.check("eni-0a1b2c3d4e5f60001" in flows and "10.0.4.31" in flows,
            "quick start: flows lists the database ENI and its clients")
    c.check(re.search(r"\d+ rule\(s\) to add, \d+ to remove", plan) is not None and
            "would deny" in plan and "10.0.4.31" in plan,
            "quick start: the plan shows additions, removals and a source it would deny")
    html = os.path.join(work, "plan.html")
    c.check(os.path.exists(html) and "<html" in open(html).read(2000).lower(),
            "quick start: plan.html written")

    # The own-account block: only options the commands have.
    for cmd in commands(blocks[1]):
        if not cmd.startswith("build/cmd/flowseg"):
            continue
        words = shlex.split(cmd)
        sub = next(w for w in words[1:] if not w.startswith("-") and not w.endswith(".json"))
        helptext = subprocess.run([FLOWSEG, sub, "--help"], capture_output=True,
                                  text=True).stdout + subprocess.run(
            [FLOWSEG, "--help"], capture_output=True, text=True).stdout
        for opt in [w for w in words if w.startswith("--")]:
            c.check(opt in helptext, "own account: `%s %s` is a documented option" % (sub, opt))


def terraform_vars():
    declared, required = set(), set()
    tf = os.path.join(SOURCE_ROOT, "scripts", "deploy", "terraform")
    for name in os.listdir(tf):
        if not name.endswith(".tf"):
            continue
        text = open(os.path.join(tf, name)).read()
        for m in re.finditer(r'^variable "(\w+)" \{\n(.*?)^\}', text, re.S | re.M):
            declared.add(m.group(1))
            if not re.search(r"^\s*default\s*=", m.group(2), re.M):
                required.add(m.group(1))
    return declared, required


def walk_through(c, readme, tmp):
    wt = readme[readme.index("### Deployment walk-through"):]
    wt = wt[:wt.index("\n## ")]
    # Package the example config as the walk-through does.
    cmd = re.search(r"`(scripts/package-lambda --config [^`]+)`", wt).group(1)
    c.check("my-flowseg.json" in cmd, "walk-through: packages the user's config: %s" % cmd)
    out = os.path.join(tmp, "fn.zip")
    p = subprocess.run([os.path.join(SOURCE_ROOT, "scripts", "package-lambda"), "--binary",
                        FLOWSEG, "--config",
                        os.path.join(SOURCE_ROOT, "scripts", "examples", "flowseg.json"),
                        "--out", out], capture_output=True, text=True, timeout=300)
    c.eq(p.returncode, 0, "walk-through: package-lambda packages the example config (%s)"
         % (p.stderr[-300:]))

    declared, required = terraform_vars()
    hcl = code_blocks(wt, "hcl")
    c.eq(len(hcl), 1, "walk-through: one prod.tfvars block")
    names = set(re.findall(r"^\s*(\w+)\s*=", hcl[0] if hcl else "", re.M))
    c.eq(sorted(names - declared), [], "walk-through: prod.tfvars sets only declared variables")
    c.eq(sorted(required - names), [], "walk-through: prod.tfvars sets every required variable")
    c.check(names & {"pce_secret_arn", "pce_secret_parameter"},
            "walk-through: prod.tfvars passes the secret by reference")

    payload = re.search(r"--payload '([^']+)'", wt).group(1)
    ev = json.loads(payload)
    c.eq((sorted(ev), ev.get("dry_run")), (["dry_run", "scan"], True),
         "walk-through: the first run is a scan with \"dry_run\": true")
    c.check(ev["scan"].startswith("s3://") and ev["scan"].endswith("/"),
            "walk-through: it scans a prefix")
    # flowseg lambda takes the event (AWS unreachable: the answer may be an error, not a parse one)
    ev_file = os.path.join(tmp, "event.json")
    with open(ev_file, "w") as f:
        f.write(payload)
    cfg = json.load(open(os.path.join(SOURCE_ROOT, "scripts", "examples", "flowseg.json")))
    res = os.path.join(tmp, "rapi.json")
    dead = "http://127.0.0.1:%d" % free_port()
    p = subprocess.run(
        [sys.executable, RAPI, "--event", ev_file, "--exit-when-drained", "--results", res,
         "--clean-env", "--timeout-s", "60", "--env", "FLOWSEG_CONFIG=" + json.dumps(cfg),
         "--env", "AWS_REGION=us-east-1", "--env", "AWS_ACCESS_KEY_ID=testing",
         "--env", "AWS_SECRET_ACCESS_KEY=testing", "--env", "AWS_EC2_METADATA_DISABLED=true",
         "--env", "AWS_ENDPOINT_URL=" + dead, "--env", "PCE_API_KEY=k", "--env",
         "PCE_API_SECRET=s", "--run", FLOWSEG, "lambda"],
        capture_output=True, text=True, timeout=120)
    r = json.load(open(res))["results"] if os.path.exists(res) else []
    c.eq(len(r), 1, "walk-through: the dry-run event was answered (%s)" % p.stdout[-300:])
    if r:
        etype = r[0].get("error_type") or ""
        msg = (r[0].get("json") or {}).get("errorMessage", "")
        c.check(etype != "Function.FSG_E_PARSE",
                "walk-through: flowseg lambda accepts the dry-run event (%s %s)"
                % (etype, msg[:200]))


def main():
    c = Checker()
    readme = open(os.path.join(SOURCE_ROOT, "README.md")).read()
    tmp = tempfile.mkdtemp(prefix="readme-qs-")
    try:
        quick_start(c, readme, tmp)
        walk_through(c, readme, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.done()


if __name__ == "__main__":
    main()
