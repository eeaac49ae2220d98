"""Shared helpers for flowseg's integration tests (python3, standard library + boto3).

Servers bind 127.0.0.1 only, on a free port picked at run time, and are stopped by PID.
Use them as context managers:

    with Moto() as moto:                 # moto.url, moto.env() for flowseg, moto.client("ec2")
        run_flowseg(["plan", ...], env=moto.env())
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SOURCE_ROOT = os.environ.get("FSG_SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_ROOT = os.environ.get("FSG_BUILD_ROOT") or os.path.join(SOURCE_ROOT, "build")
FLOWSEG = os.path.join(BUILD_ROOT, "cmd", "flowseg")
REGION = "us-east-1"
SKIP = 77


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc=None, timeout_s=30.0):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


def stop(proc):
    """Stops a server started by us, by PID: TERM, then KILL."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


class Moto:
    """moto in server mode. With auth=True, signatures are verified after the first
    `free_calls` requests, which this class spends creating an IAM user and key."""

    def __init__(self, auth=False, free_calls=4):
        self.auth = auth
        self.free_calls = free_calls
        self.proc = None
        self.port = None
        self.key_id = "testing"
        self.secret = "testing"

    def __enter__(self):
        try:
            import moto  # noqa: F401
            import boto3  # noqa: F401
        except ImportError:
            print("moto/boto3 not installed", file=sys.stderr)
            sys.exit(SKIP)
        self.port = free_port()
        env = dict(os.environ)
        if self.auth:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(self.free_calls)
            env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        wait_for_port(self.port, self.proc)
        if self.auth:
            iam = self.client("iam")
            iam.create_user(UserName="flowseg")
            iam.attach_user_policy(UserName="flowseg",
                                   PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
            key = iam.create_access_key(UserName="flowseg")["AccessKey"]
            self.key_id, self.secret = key["AccessKeyId"], key["SecretAccessKey"]
        return self

    def __exit__(self, *exc):
        stop(self.proc)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def client(self, service):
        import boto3
        return boto3.client(service, region_name=REGION, endpoint_url=self.url,
                            aws_access_key_id=self.key_id, aws_secret_access_key=self.secret)

    def env(self, **extra):
        """Environment for flowseg: endpoints and credentials pointing at this moto."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"AWS_ENDPOINT_URL": self.url, "AWS_REGION": REGION,
                    "AWS_ACCESS_KEY_ID": self.key_id, "AWS_SECRET_ACCESS_KEY": self.secret,
                    "AWS_EC2_METADATA_DISABLED": "true",
                    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                    "AWS_CONFIG_FILE": "/nonexistent"})
        env.update(extra)
        return env


def run_flowseg(args, env=None, stdin=None, timeout=300, check=None):
    """Runs the built binary; returns CompletedProcess with text stdout/stderr."""
    p = subprocess.run([FLOWSEG] + list(args), env=env, input=stdin, capture_output=True,
                       text=True, timeout=timeout)
    if check is not None and p.returncode != check:
        raise AssertionError(f"flowseg {' '.join(args)} exited {p.returncode}, want {check}\n"
                             f"stdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-2000:]}")
    return p


class Checker:
    """Counts named checks; exit status 1 if any failed."""

    def __init__(self):
        self.failed = 0
        self.passed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
            print(f"ok {what}")
        else:
            self.failed += 1
            print(f"FAIL {what}")
        return cond

    def eq(self, got, want, what):
        ok = got == want
        if not ok:
            print(f"  got:  {json.dumps(got, sort_keys=True)[:3000]}\n  want: {json.dumps(want, sort_keys=True)[:3000]}")
        return self.check(ok, what)

    def done(self):
        print(f"{self.passed} checks passed, {self.failed} failed")
        sys.exit(1 if self.failed or not self.passed else 0)
