#!/usr/bin/env python3
"""AWS and PCE failure modes that moto alone never shows, and the PCE secret at run time.

Covers (flowseg against moto, the PCE simulator and small fault servers, all on 127.0.0.1):
  - the PCE key and secret read from Secrets Manager (pce.secret_arn, a JSON {"key","secret"})
    and from SSM (pce.secret_parameter, the secret alone; the key from PCE_API_KEY), seeded with
    boto3; no PCE_API_SECRET in the environment; the secret never printed;
  - a PCE 401 makes flowseg read the secret again, once, and the request succeeds;
  - a PCE 500 body that echoes the Authorization header (and the secret) never reaches stderr,
    debug logs included; user:password@ in pce.url is never printed;
  - a bucket in another region: S3's 301 PermanentRedirect with x-amz-bucket-region (a fault
    proxy in front of moto plays a region-checking S3) is followed, re-signed, and remembered;
  - an S3 server that drips one byte a second is cut off by the run deadline (config timeout_s),
    and in `flowseg lambda` by the invocation's own deadline (Lambda-Runtime-Deadline-Ms, through
    the Runtime API simulator): the answer still arrives before the deadline;
  - no AWS credentials: "no AWS credentials found (looked in: ...)" and no request at all;
  - S3 keys with "." and ".." segments are read as signed (CURLOPT_PATH_AS_IS), on moto.
Exit 0 pass, 1 fail, 77 skip (no moto/boto3)."""
import base64
import gzip
import json
import os
import re
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from apply_world import POLICY, World, target, write_config  # noqa: E402
from aws_proxy import CountingProxy  # noqa: E402
from fsgtest import SOURCE_ROOT, SKIP, Checker, Moto, run_flowseg  # noqa: E402

sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "pce_sim"))
from pce_sim import SimProcess  # noqa: E402

_REGION = re.compile(r"Credential=[^/]+/[0-9]{8}/([^/]+)/s3/aws4_request")
FLOW_GZ = gzip.compress((
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status\n"
    "2 123456789012 eni-0a1b2c3d4e5f60001 10.0.1.5 10.0.20.11 40000 5432 6 10 840 1700000000 "
    "1700000060 ACCEPT OK\n").encode(), mtime=0)


class RegionProxy(CountingProxy):
    """Plays S3's region check in front of moto: an S3 request for a bucket in `buckets` signed
    for another region gets 301 PermanentRedirect with x-amz-bucket-region (HEAD: no body)."""

    def __init__(self, upstream_url, buckets):
        super().__init__(upstream_url)
        self.buckets = buckets
        self.redirects = []

    def _forward(self, h):
        m = _REGION.search(h.headers.get("Authorization", ""))
        bucket = h.path.lstrip("/").split("/")[0].split("?")[0]
        want = self.buckets.get(bucket)
        if m and want and m.group(1) != want:
            with self.lock:
                self.redirects.append((h.command, h.path, m.group(1)))
            body = b"" if h.command == "HEAD" else (
                "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to "
                "access must be addressed using the specified endpoint.</Message><Endpoint>"
                "%s.s3.%s.amazonaws.com</Endpoint></Error>" % (bucket, want)).encode()
            h.send_response(301)
            h.send_header("x-amz-bucket-region", want)
            h.send_header("Content-Type", "application/xml")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        super()._forward(h)


class Drip:
    """An S3-like server that answers every request with a 200 and then one byte a second."""

    def __enter__(self):
        stop = self.stop = threading.Event()

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                while not stop.is_set():
                    try:
                        self.wfile.write(b"x")
                        self.wfile.flush()
                    except OSError:
                        return
                    stop.wait(1.0)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]


def services(proxy, name):
    return sum(1 for s, _ in proxy.snapshot() if s == name)


def secrets_tests(c, sim, moto, proxy, tmp):
    w = World(moto)
    db = w.add_db("sec-db", "10.0.20.40")
    sm, ssm = moto.client("secretsmanager"), moto.client("ssm")
    arn = sm.create_secret(Name="flowseg/pce", SecretString=json.dumps(
        {"key": sim.api_key, "secret": sim.api_secret}))["ARN"]
    ssm.put_parameter(Name="/flowseg/pce-secret", Value=sim.api_secret, Type="SecureString")
    base = {"url": sim.url, "org_id": sim.org_id, "ca_file": sim.ca, "timeout_s": 10}
    targets = [target("sec", "sec-db", db["sg"])]
    by_arn = write_config(os.path.join(tmp, "arn.json"), targets,
                          pce=dict(base, secret_arn=arn))
    by_param = write_config(os.path.join(tmp, "param.json"), targets,
                            pce=dict(base, secret_parameter="/flowseg/pce-secret"))
    env = moto.env(AWS_ENDPOINT_URL=proxy.url)
    env.pop("PCE_API_KEY", None)
    env.pop("PCE_API_SECRET", None)

    def plan(cfg, extra_env=None):
        proxy.clear()
        e = dict(env, **(extra_env or {}))
        return run_flowseg(["--config", cfg, "--log-level", "debug", "plan", "--format", "json"],
                           env=e)

    p = plan(by_arn)
    c.eq(p.returncode, 0, "secrets manager: plan with the secret from pce.secret_arn")
    if p.returncode != 0:
        print(p.stderr[-2000:])
    c.eq(services(proxy, "secretsmanager"), 1, "secrets manager: read once")
    c.check(sim.api_secret not in p.stdout + p.stderr, "secrets manager: the secret never printed")

    p = plan(by_param, {"PCE_API_KEY": sim.api_key})
    c.eq(p.returncode, 0, "ssm: plan with the secret from pce.secret_parameter (key from env)")
    if p.returncode != 0:
        print(p.stderr[-2000:])
    c.eq(services(proxy, "ssm"), 1, "ssm: read once")
    c.check(sim.api_secret not in p.stdout + p.stderr, "ssm: the secret never printed")

    # a 401 (a rotated secret): read again once, then it works
    sim.control("POST", "/_sim/faults", {"faults": [{"kind": "status", "status": 401, "count": 1,
                                                     "body": {"error": "unauthorized"}}]})
    p = plan(by_arn)
    sim.control("POST", "/_sim/faults", {"faults": []})
    c.eq(p.returncode, 0, "401: plan succeeds after reading the secret again")
    c.eq(services(proxy, "secretsmanager"), 2, "401: the secret was read exactly twice")
    c.check("reading the credentials again" in p.stderr, "401: the re-read is logged")

    # a secret that is wrong for good: one re-read, then a clear error naming the secret
    sm.put_secret_value(SecretId=arn, SecretString=json.dumps({"key": sim.api_key,
                                                               "secret": "WrongSecret-4242"}))
    p = plan(by_arn)
    c.eq(p.returncode, 1, "wrong secret: plan fails")
    c.check("Secrets Manager secret" in p.stderr and "401" in p.stderr,
            "wrong secret: the error names the secret and the 401")
    c.eq(services(proxy, "secretsmanager"), 2, "wrong secret: read twice, no loop")
    c.check("WrongSecret-4242" not in p.stdout + p.stderr, "wrong secret: never printed")

    # a missing secret: a clear error
    bad = write_config(os.path.join(tmp, "missing.json"), targets,
                       pce=dict(base, secret_arn="flowseg/nope"))
    p = plan(bad)
    c.check(p.returncode == 1 and "ResourceNotFoundException" in p.stderr,
            "missing secret: ResourceNotFoundException named")


def echo_tests(c, sim, moto, tmp):
    w = World(moto)
    db = w.add_db("echo-db", "10.0.20.41")
    token = base64.b64encode(("%s:%s" % (sim.api_key, sim.api_secret)).encode()).decode()
    # the PCE's error shape with the request echoed in its message, and a body that is just text
    echoes = {
        "message": [{"token": "internal_error",
                     "message": "request was: Authorization: Basic %s" % token}],
        "text": "upstream error; request headers: Authorization: Basic %s; X-Api-Secret: %s"
                % (token, sim.api_secret),
    }
    pce = {"url": sim.url, "org_id": sim.org_id, "ca_file": sim.ca, "timeout_s": 10}
    cfg = write_config(os.path.join(tmp, "echo.json"), [target("e", "echo-db", db["sg"])], pce=pce)
    env = moto.env(PCE_API_KEY=sim.api_key, PCE_API_SECRET=sim.api_secret)
    for what, body in echoes.items():
        sim.control("POST", "/_sim/faults", {"faults": [{"kind": "status", "status": 500,
                                                         "count": -1, "body": body}]})
        p = run_flowseg(["--config", cfg, "--log-level", "debug", "plan"], env=env)
        sim.control("POST", "/_sim/faults", {"faults": []})
        out = p.stdout + p.stderr
        c.eq(p.returncode, 1, "echo (%s): the PCE 500 fails the plan" % what)
        c.check("500" in p.stderr and "Authorization: ***" in p.stderr,
                "echo (%s): the error says HTTP 500 and shows the echo redacted" % what)
        c.check(token not in out, "echo (%s): the echoed Basic token is not printed" % what)
        c.check(sim.api_secret not in out, "echo (%s): the echoed secret is not printed" % what)

    # user:password@ in pce.url: never printed (here the host does not answer)
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    dead = port.getsockname()[1]
    port.close()
    cfg = write_config(os.path.join(tmp, "userinfo.json"), [target("e", "echo-db", db["sg"])],
                       pce=dict(pce, url="https://admin:Hunter2Pw@127.0.0.1:%d" % dead))
    p = run_flowseg(["--config", cfg, "--log-level", "debug", "plan"], env=env)
    c.eq(p.returncode, 1, "userinfo: plan fails against a dead PCE")
    c.check("Hunter2Pw" not in p.stdout + p.stderr, "userinfo: the password is not printed")
    c.check("admin:" not in p.stdout + p.stderr, "userinfo: the user-info is not printed")


def redirect_tests(c, moto, tmp):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="far-logs")
    s3.put_object(Bucket="far-logs", Key="AWSLogs/a.log.gz", Body=FLOW_GZ)
    s3.put_object(Bucket="far-logs", Key="AWSLogs/b.log.gz", Body=FLOW_GZ)
    with RegionProxy(moto.url, {"far-logs": "eu-west-1"}) as proxy:
        env = moto.env(AWS_ENDPOINT_URL=proxy.url, AWS_REGION="us-east-1")
        p = run_flowseg(["flows", "--format", "json", "s3://far-logs/AWSLogs/"], env=env)
        c.eq(p.returncode, 0, "redirect: flows over a bucket in another region")
        doc = json.loads(p.stdout) if p.returncode == 0 else {}
        c.eq(doc.get("stats", {}).get("objects"), 2, "redirect: both objects read")
        c.eq(len(proxy.redirects), 1, "redirect: one 301, then the bucket's region is remembered")
        c.check(all(r == "us-east-1" for _, _, r in proxy.redirects),
                "redirect: only the request signed for the wrong region was redirected")


def dot_segment_tests(c, moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="dots")
    s3.put_object(Bucket="dots", Key="logs/../x/./y.log.gz", Body=FLOW_GZ)
    for src in ("s3://dots/logs/../x/./y.log.gz", "s3://dots/logs/"):
        p = run_flowseg(["flows", "--format", "json", src], env=moto.env())
        doc = json.loads(p.stdout) if p.returncode == 0 else {}
        c.eq((p.returncode, doc.get("stats", {}).get("records")), (0, 1),
             "dot segments: %s read as signed" % src)


def drip_tests(c, tmp):
    with Drip() as d:
        cfg = os.path.join(tmp, "deadline.json")
        with open(cfg, "w") as f:
            json.dump({"timeout_s": 3}, f)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"AWS_ENDPOINT_URL_S3": d.url, "AWS_REGION": "us-east-1",
                    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent",
                    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
        t0 = time.monotonic()
        p = run_flowseg(["--config", cfg, "flows", "s3://drip/AWSLogs/x.log.gz"], env=env,
                        timeout=60)
        took = time.monotonic() - t0
        c.check(p.returncode != 0, "drip: flows fails")
        c.check(took < 10, "drip: cut off by the 3 s run deadline (took %.1f s)" % took)
        c.check("deadline" in p.stderr, "drip: the error names the deadline")


def lambda_deadline_tests(c, moto, tmp):
    from lambda_e2e import Runtime, s3_event
    with Drip() as d:
        db = World(moto).add_db("deadline-db", "10.0.20.60")
        t = target("t", "deadline-db", db["sg"])
        env = moto.env(AWS_ENDPOINT_URL_S3=d.url,
                       FLOWSEG_CONFIG=json.dumps({"region": "us-east-1", "targets": [t]}))
        rt = Runtime(tmp, "deadline", env)
        try:
            t0 = time.monotonic()
            r = rt.rapi.invoke(s3_event([("drip", "AWSLogs/vpcflowlogs/x.log.gz", 100000)]),
                               deadline_in_ms=6000, timeout_s=60)
            took = time.monotonic() - t0
        finally:
            rt.stop()
        c.check(r.get("type") in ("response", "error"), "lambda deadline: the invocation answered")
        c.check(r.get("before_deadline") is True,
                "lambda deadline: answered before the invocation's deadline (%.1f s)" % took)
        c.check("deadline" in (r.get("body") or ""), "lambda deadline: the answer names the deadline")


def no_creds_tests(c, moto, tmp):
    with CountingProxy(moto.url) as proxy:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"AWS_ENDPOINT_URL": proxy.url, "AWS_REGION": "us-east-1", "HOME": tmp,
                    "AWS_EC2_METADATA_DISABLED": "true"})
        p = run_flowseg(["flows", "s3://some-bucket/AWSLogs/"], env=env)
        c.check(p.returncode != 0, "no credentials: flows fails")
        c.check("no AWS credentials found (looked in: environment" in p.stderr,
                "no credentials: says where it looked")
        c.check("IMDS (disabled" in p.stderr, "no credentials: IMDS disabled is named")
        c.check("does not exist" not in p.stderr and "HTTP 0" not in p.stderr,
                "no credentials: not a missing bucket")
        c.eq(proxy.snapshot(), [], "no credentials: no request sent")


def main():
    try:
        import boto3  # noqa: F401
    except ImportError:
        sys.exit(SKIP)
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="aws-failures-")
    sim = SimProcess(seed=POLICY)
    try:
        with Moto() as moto:
            with CountingProxy(moto.url) as proxy:
                secrets_tests(c, sim, moto, proxy, tmp)
            echo_tests(c, sim, moto, tmp)
            redirect_tests(c, moto, tmp)
            dot_segment_tests(c, moto)
            no_creds_tests(c, moto, tmp)
            lambda_deadline_tests(c, moto, tmp)
        drip_tests(c, tmp)
    finally:
        sim.stop()
    c.done()


if __name__ == "__main__":
    main()
