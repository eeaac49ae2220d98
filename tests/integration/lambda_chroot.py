#!/usr/bin/env python3
"""The default Lambda zip, unpacked at /var/task in an empty root, runs an S3 event end to end.

The root holds only what provided.al2023 is sure to give a custom runtime: the zip's content
at /var/task, a CA bundle at AL2023's path /etc/pki/tls/certs/ca-bundle.crt, and a static
/bin/sh (busybox) for the bootstrap script. No /lib, no /usr, no /etc/hosts, no /dev, no /proc.
The runtime is started by chroot (as root; skipped with the reason when chroot is impossible)
with a clean environment, against tests/lambda_rapi/rapi_server.py, moto and the PCE simulator
(loopback IPs only: nothing to resolve).

- zip made with `--ca-file` (the simulator's private CA; the bundled config's pce.ca_file is set
  to /var/task/pce-ca.pem) while the AL2023 bundle is Debian's public one: an S3 event for a new
  flow-log object creates the owned group, applies the desired rules, associates it, answers;
- zip without --ca-file, the simulator's CA in the AL2023 bundle: the default trust store is
  found there (a scheduled reconcile reads the PCE over TLS), through the bootstrap's
  SSL_CERT_FILE and, started without the bootstrap, by flowseg itself; with Debian's public
  bundle there instead, the same call fails TLS verification (the path is really used).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from apply_world import DESIRED, POLICY  # noqa: E402
from fsgtest import FLOWSEG, REGION, SKIP, SOURCE_ROOT, Checker, Moto, stop  # noqa: E402
from lambda_e2e import (BUCKET, KEY_RE, PREFIX, SCHEDULED, Ctx, Rapi,  # noqa: E402
                        put_flow_log, s3_event, target_entries)
from aws_proxy import CountingProxy  # noqa: E402

sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "pce_sim"))
from pce_sim import SimProcess  # noqa: E402

AL2023_CA = "etc/pki/tls/certs/ca-bundle.crt"
PUBLIC_CA = "/etc/ssl/certs/ca-certificates.crt"


def can_chroot():
    """'' when this process may chroot, else the reason."""
    if not hasattr(os, "chroot"):
        return "os.chroot is not available"
    if os.geteuid() != 0:
        return "chroot needs root (run as root, as CI does)"
    pid = os.fork()
    if pid == 0:
        try:
            os.chroot("/")
            os._exit(0)
        except OSError:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return "" if os.WEXITSTATUS(status) == 0 else "chroot is not permitted here (container?)"


def static_shell():
    sh = shutil.which("busybox") or "/bin/busybox"
    if not os.path.exists(sh):
        return None, "busybox is not installed (scripts/setup installs busybox-static)"
    out = subprocess.run(["ldd", sh], capture_output=True, text=True)
    if out.returncode == 0 and "not a dynamic" not in out.stdout + out.stderr:
        return None, "%s is not a static binary (install busybox-static)" % sh
    return sh, ""


def package(tmp, name, config, ca_file=None):
    cfg_path = os.path.join(tmp, name + ".json")
    with open(cfg_path, "w") as f:
        f.write(config)
    out = os.path.join(tmp, name + ".zip")
    cmd = [os.path.join(SOURCE_ROOT, "scripts", "package-lambda"), "--binary", FLOWSEG,
           "--out", out, "--config", cfg_path]
    if ca_file:
        cmd += ["--ca-file", ca_file]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("package-lambda failed: " + r.stdout + r.stderr)
    print(r.stderr.strip() + "\n" + r.stdout.strip())
    return out


def make_root(tmp, name, zip_path, ca_bundle, shell):
    root = os.path.join(tmp, name)
    task = os.path.join(root, "var", "task")
    os.makedirs(task)
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            z.extract(info, task)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(os.path.join(task, info.filename), mode)
    os.makedirs(os.path.join(root, os.path.dirname(AL2023_CA)))
    shutil.copyfile(ca_bundle, os.path.join(root, AL2023_CA))
    os.makedirs(os.path.join(root, "bin"))
    shutil.copyfile(shell, os.path.join(root, "bin", "sh"))
    os.chmod(os.path.join(root, "bin", "sh"), 0o755)
    return root


def root_files(root):
    out = []
    for d, _, files in os.walk(root):
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), root)
            out.append(rel if not rel.startswith("var/task/lib/") else "var/task/lib/*")
    return sorted(set(out))


class ChrootRuntime:
    """/var/task/bootstrap started inside `root` with only `env` (no PATH, no HOME)."""

    def __init__(self, tmp, name, root, env, argv=("/var/task/bootstrap",)):
        self.dir = os.path.join(tmp, name + "-rapi")
        os.mkdir(self.dir)
        self.rapi = Rapi(self.dir)
        self.log_path = os.path.join(self.dir, "runtime.log")
        self.log = open(self.log_path, "w")
        env = dict(env, AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % self.rapi.port,
                   LAMBDA_TASK_ROOT="/var/task", FLOWSEG_CONFIG="/var/task/flowseg.json")

        def enter():
            os.chroot(root)
            os.chdir("/var/task")

        self.started = time.monotonic()
        self.proc = subprocess.Popen(list(argv), env=env, preexec_fn=enter,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
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


def clean_env(x):
    return {k: v for k, v in x.env.items() if k != "FLOWSEG_NLB_POLL_MS"}


def s3_end_to_end(x, shell):
    """--ca-file zip; the AL2023 bundle is the public one: the private CA comes from the zip."""
    c = x.c
    pce = dict(x.pce, ca_file=None)
    cfg = json.loads(x.config())
    cfg["pce"] = pce
    cfg["targets"] = cfg["targets"][:1]
    zip_path = package(x.tmp, "with-ca", json.dumps(cfg), ca_file=x.sim.ca)
    root = make_root(x.tmp, "root-ca", zip_path, PUBLIC_CA, shell)
    c.eq(root_files(root), ["bin/sh", AL2023_CA, "var/task/bootstrap", "var/task/flowseg",
                            "var/task/flowseg.json", "var/task/lib/*", "var/task/pce-ca.pem"],
         "root: only the zip, the CA bundle and /bin/sh")
    key = PREFIX + "chroot flow=1_20240101T0000Z.log.gz"
    size = put_flow_log(x.s3, key, x.orders["eni"], x.orders["address"])
    rt = ChrootRuntime(x.tmp, "ca", root, clean_env(x))
    try:
        r = x.invoke(rt.rapi, s3_event([(BUCKET, key, size)]))
        body = r.get("json") or {}
        c.eq((r["type"], body.get("kind"), body.get("origin"), body.get("partial")),
             ("response", "objects", "s3", False), "chroot s3: answered: %s" % r.get("body", "")[:300])
        c.eq([o.get("key") for o in body.get("objects", [])], [key],
             "chroot s3: the object was read under its decoded key")
        c.check(all("records" in o for o in body.get("objects", [])),
                "chroot s3: the object was decoded: %s" % body.get("objects"))
        t = target_entries(r).get("orders", {})
        c.eq({k: t.get(k) for k in ("status", "added", "group_created", "associated")},
             {"status": "applied", "added": len(DESIRED), "group_created": True,
              "associated": True}, "chroot s3: orders applied (group created, rules added)")
        groups = x.owned_group()
        c.eq(len(groups), 1, "chroot s3: the owned group exists")
        if groups:
            c.eq(x.w.rules(groups[0]), DESIRED, "chroot s3: it holds the desired set")
            c.check(groups[0] in x.w.db_groups("orders-db"), "chroot s3: it joined the instance")
        c.eq(body.get("policy"), "fetched", "chroot s3: the policy was read over TLS (private CA)")
    finally:
        rt.stop()
        x.logs.append(rt.text())
    c.check("Sanitizer" not in rt.text(), "chroot s3: no sanitizer report")
    c.eq(rt.exit, 1, "chroot s3: the runtime exits (1) once the Runtime API is gone")


def default_trust_store(x, shell):
    """No --ca-file: the PCE's CA must come from /etc/pki/tls/certs/ca-bundle.crt."""
    c = x.c
    cfg = json.loads(x.config())
    cfg["pce"] = dict(x.pce, ca_file=None)
    cfg["targets"] = cfg["targets"][:1]
    cfg["dry_run"] = True
    zip_path = package(x.tmp, "no-ca", json.dumps(cfg))
    # "no-bootstrap": the program started by the bundled loader directly, SSL_CERT_FILE unset:
    # flowseg itself finds AL2023's bundle when libcurl's built-in (Debian) path is absent.
    direct = ("/var/task/lib/ld-linux-x86-64.so.2", "--library-path", "/var/task/lib",
              "/var/task/flowseg", "lambda")
    for name, bundle, want, argv in (
            ("al2023-ca", x.sim.ca, "response", ("/var/task/bootstrap",)),
            ("no-bootstrap", x.sim.ca, "response", direct),
            ("public-ca", PUBLIC_CA, "error", ("/var/task/bootstrap",))):
        root = make_root(x.tmp, "root-" + name, zip_path, bundle, shell)
        rt = ChrootRuntime(x.tmp, name, root, clean_env(x), argv)
        try:
            r = x.invoke(rt.rapi, SCHEDULED)
        finally:
            rt.stop()
            x.logs.append(rt.text())
        body = r.get("json") or {}
        if want == "response":
            c.eq((r["type"], body.get("kind"), body.get("policy")),
                 ("response", "reconcile_all", "fetched"),
                 "trust store (%s): the PCE CA is found at AL2023's path: %s"
                 % (name, r.get("body", "")[:300]))
        else:
            msg = body.get("errorMessage") or ""
            c.eq(r["type"], "error", "trust store: without the PCE CA, the call fails")
            c.check("TLS" in msg or "certificate" in msg,
                    "trust store: the error says TLS verification: %s" % msg[:200])


def main():
    reason = can_chroot()
    shell, why = static_shell()
    if reason or not shell:
        print("SKIP: " + (reason or why))
        sys.exit(SKIP)
    for tool in ("patchelf", "zip"):
        if shutil.which(tool) is None:
            print("SKIP: %s is not installed (scripts/setup installs it)" % tool)
            sys.exit(SKIP)
    try:
        import boto3  # noqa: F401
    except ImportError:
        print("SKIP: boto3/moto not installed")
        sys.exit(SKIP)
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="lambda-chroot-")
    sim = SimProcess(seed=POLICY)
    try:
        with Moto() as moto, CountingProxy(moto.url) as proxy:
            x = Ctx(c, moto, proxy, sim, tmp)
            for step in (s3_end_to_end, default_trust_store):
                print("# " + step.__name__)
                step(x, shell)
            text = "\n".join(x.logs + x.answers)
            c.check(sim.api_secret not in text, "the PCE secret is in no answer and no log line")
    finally:
        sim.stop()
    if c.failed == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("kept for inspection: " + tmp)
    c.done()


if __name__ == "__main__":
    main()
