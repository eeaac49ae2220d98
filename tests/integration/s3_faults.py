#!/usr/bin/env python3
"""Fault tests for the S3 client (lib/http/http_curl.c, lib/aws/aws.c, lib/aws/s3.c) against a small S3-like
server of our own on 127.0.0.1 (free port), driven through the built tests/s3_tool:

  - 503 SlowDown then success is retried and the bytes are exact;
  - a body cut off mid-stream (several times) is resumed with Range from the last byte delivered,
    with If-Match on the ETag, and the result is still exact;
  - a resume that finds the object changed (ETag) fails with a clear message;
  - a server that never answers times out with a clear error;
  - missing key / missing bucket errors name what is missing;
  - a listing across pages with a continuation token holding '/', '+', '='.

Exit 0 pass, 1 fail.
"""
import gzip
import hashlib
import http.server
import json
import os
import random
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse

BUILD_ROOT = os.environ.get("FSG_BUILD_ROOT") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
TOOL = os.path.join(BUILD_ROOT, "tests", "s3_tool")
FLOWSEG = os.path.join(BUILD_ROOT, "cmd", "flowseg")

BODY = random.Random(42).randbytes(300_000)
ETAG = '"%s"' % hashlib.md5(BODY).hexdigest()
TOKEN = "1ueG/XY+z=="
# A real flow-log object (gzip), for the end-to-end run through `flowseg flows`.
FLOW_TEXT = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets " \
    "bytes start end action log-status\n" + "".join(
        "2 123456789012 eni-0a1b2c3d4e5f60001 10.0.1.%d 10.0.20.11 %d 5432 6 %d %d 1700000000 "
        "1700000060 ACCEPT OK\n" % (i % 200, 40000 + i, i, i * 100) for i in range(20000))
FLOW_GZ = gzip.compress(FLOW_TEXT.encode(), mtime=0)


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.requests = []  # (method, path, range, if-match)
        self.changed_etag = False

    def count(self, key):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]


STATE = State()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _send(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amz-request-id", "FAKE-%d" % status)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status, code, extra=""):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code><Message>%s "
                "message</Message>%s<RequestId>RID-%s</RequestId></Error>" % (code, code, extra, code))
        self._send(status, body.encode(), {"Content-Type": "application/xml"})

    def _cut(self, start, cut_len, whole=BODY, etag=ETAG):
        """Headers for the rest of the object, then cut_len bytes, then a dropped connection."""
        body = whole[start:]
        self.send_response(200 if start == 0 else 206)
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(whole) - 1, len(whole)))
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:cut_len])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _range_start(self):
        r = self.headers.get("Range")
        if not r:
            return 0
        assert r.startswith("bytes=") and r.endswith("-"), r
        return int(r[len("bytes="):-1])

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        with STATE.lock:
            STATE.requests.append((self.command, self.path, self.headers.get("Range"),
                                   self.headers.get("If-Match"),
                                   self.headers.get("Authorization") is not None))
        if url.query:
            return self._list(path, urllib.parse.parse_qs(url.query))
        bucket, _, key = path.lstrip("/").partition("/")
        if bucket != "b":
            return self._error(404, "NoSuchBucket", "<BucketName>%s</BucketName>" % bucket)
        start = self._range_start()
        if_match = self.headers.get("If-Match")
        if key == "flaky503":
            if STATE.count(key) == 1:
                return self._error(503, "SlowDown")
            return self._send(200, BODY, {"ETag": ETAG})
        if key in ("cut", "cut-many", "cut-changed"):
            n = STATE.count(key)
            if key == "cut-changed" and n > 1:
                return self._error(412, "PreconditionFailed")
            if start and if_match != ETAG:
                return self._error(412, "PreconditionFailed")
            if key == "cut" and n == 1:
                return self._cut(0, 100_000)
            if key in ("cut-many", "cut-changed") and start + 70_000 < len(BODY):
                return self._cut(start, 70_000)
            headers = {"ETag": ETAG}
            if start:
                headers["Content-Range"] = "bytes %d-%d/%d" % (start, len(BODY) - 1, len(BODY))
            self.send_response(206 if start else 200)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(BODY) - start))
            self.end_headers()
            self.wfile.write(BODY[start:])
            return None
        if key == "flow.log.gz":
            if STATE.count(key) == 1:
                return self._cut(0, len(FLOW_GZ) // 2, FLOW_GZ, '"flow"')
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(FLOW_GZ) - 1,
                                                                 len(FLOW_GZ)))
            self.send_header("Content-Length", str(len(FLOW_GZ) - start))
            self.end_headers()
            self.wfile.write(FLOW_GZ[start:])
            return None
        if key == "silent":
            time.sleep(30)
            return None
        return self._error(404, "NoSuchKey", "<Key>%s</Key>" % key)

    do_HEAD = do_GET

    def _list(self, path, q):
        bucket = path.strip("/")
        if bucket != "b":
            return self._error(404, "NoSuchBucket", "<BucketName>%s</BucketName>" % bucket)
        assert q.get("list-type") == ["2"], q
        keys = ["logs/k%03d.log.gz" % i for i in range(25)]
        token = q.get("continuation-token", [None])[0]
        if token is None:
            page, more = keys[:10], True
        elif token == TOKEN:
            page, more = keys[10:], False
        else:
            return self._error(400, "InvalidArgument")
        xml = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult "
               "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"]
        xml.append("<IsTruncated>%s</IsTruncated>" % ("true" if more else "false"))
        if more:
            xml.append("<NextContinuationToken>%s</NextContinuationToken>" % TOKEN)
        for k in page:
            xml.append("<Contents><Key>%s</Key><Size>7</Size><ETag>&quot;e&quot;</ETag>"
                       "</Contents>" % k)
        xml.append("</ListBucketResult>")
        return self._send(200, "".join(xml).encode(), {"Content-Type": "application/xml"})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def run_tool(port, *args, timeout=60, extra=()):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDFAULTS", AWS_SECRET_ACCESS_KEY="faults-secret",
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    cmd = [TOOL, "--endpoint", "http://127.0.0.1:%d" % port, *extra, *args]
    t0 = time.time()
    p = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace"), time.time() - t0


def run_flowseg(port, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDFAULTS", AWS_SECRET_ACCESS_KEY="faults-secret",
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", FLOWSEG_CONFIG="{}",
               AWS_ENDPOINT_URL="http://127.0.0.1:%d" % port)
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    p = subprocess.run([FLOWSEG, "flows", *args], env=env, capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


FAILURES = []


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else ": " + detail))
    if not cond:
        FAILURES.append(what)


def main():
    if not os.access(TOOL, os.X_OK):
        print("s3_tool not built at %s" % TOOL)
        return 1
    srv = Server(("127.0.0.1", 0), Handler)
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        rc, out, err, _ = run_tool(port, "get", "b", "flaky503")
        check(rc == 0 and out == BODY, "503 SlowDown then success is retried", err)
        check(STATE.counts.get("flaky503") == 2, "exactly one retry after the 503",
              str(STATE.counts))

        rc, out, err, _ = run_tool(port, "get", "b", "cut")
        check(rc == 0 and out == BODY, "a body cut at 100000 bytes is resumed, result exact",
              "rc=%d len=%d %s" % (rc, len(out), err))
        resumed = [r for r in STATE.requests if r[1] == "/b/cut" and r[2]]
        check(len(resumed) == 1 and resumed[0][2] == "bytes=100000-" and resumed[0][3] == ETAG,
              "the resume asks Range: bytes=100000- with If-Match on the ETag", str(resumed))
        check("resumes 1" in err, "the tool reports one resume", err)

        rc, out, err, _ = run_tool(port, "get", "b", "cut-many")
        check(rc == 0 and hashlib.sha256(out).digest() == hashlib.sha256(BODY).digest(),
              "a body cut every 70000 bytes is resumed each time, result exact", err)
        ranges = [r[2] for r in STATE.requests if r[1] == "/b/cut-many"]
        check(ranges == [None, "bytes=70000-", "bytes=140000-", "bytes=210000-",
                         "bytes=280000-"], "resumes continue from each last byte", str(ranges))

        rc, out, err, _ = run_tool(port, "get", "b", "cut-changed")
        check(rc == 1 and "changed while it was being read" in err and len(out) == 70_000,
              "an object that changed before the resume fails clearly", err)

        rc, out, err, took = run_tool(port, "get", "b", "silent",
                                      extra=("--read-timeout-ms", "1000", "--max-attempts", "2"))
        check(rc == 1 and "timed out" in err and "ReadTimeout" in err and took < 15,
              "a server that never answers times out with a clear error (%.1fs)" % took, err)
        check(STATE.counts.get("silent", 0) == 0 and
              len([r for r in STATE.requests if r[1] == "/b/silent"]) == 2,
              "the timeout is retried once (2 attempts) then reported")

        rc, out, err, _ = run_tool(port, "get", "b", "logs/none.log.gz")
        check(rc == 1 and "S3 object s3://b/logs/none.log.gz does not exist" in err and
              "NoSuchKey" in err and "RID-NoSuchKey" in err, "a missing key is named", err)
        rc, out, err, _ = run_tool(port, "get", "nob", "k")
        check(rc == 1 and "S3 bucket 'nob' does not exist" in err, "a missing bucket is named",
              err)
        rc, out, err, _ = run_tool(port, "head", "b", "gone")
        check(rc == 1 and "s3://b/gone does not exist" in err and "FAKE-404" in err,
              "HEAD 404 (no body) names the key and keeps the request id", err)

        rc, out, err, _ = run_tool(port, "list", "b", "logs/")
        lines = out.decode().splitlines()
        check(rc == 0 and lines == ["logs/k%03d.log.gz\t7" % i for i in range(25)],
              "a listing across two pages returns every key once, in order", err + out.decode())
        lists = [r[1] for r in STATE.requests if "list-type" in r[1]]
        check(len(lists) == 2 and "continuation-token=1ueG%2FXY%2Bz%3D%3D" in lists[1],
              "the continuation token is sent encoded", str(lists))
        if os.access(FLOWSEG, os.X_OK):
            local = os.path.join(os.environ.get("TMPDIR", "/tmp"), "s3_faults_%d.log.gz" % os.getpid())
            with open(local, "wb") as f:
                f.write(FLOW_GZ)
            try:
                rc, out, err = run_flowseg(port, "s3://b/flow.log.gz", "--format", "json")
                rc2, out2, err2 = run_flowseg(port, local, "--format", "json")
            finally:
                os.unlink(local)
            ok = rc == 0 and rc2 == 0 and json.loads(out) == json.loads(out2)
            check(ok and json.loads(out)["stats"]["records"] == 20000,
                  "flowseg flows over a body cut mid-gzip and resumed equals the local file",
                  err + err2)
            ranges = [r[2] for r in STATE.requests if r[1] == "/b/flow.log.gz"]
            check(ranges == [None, "bytes=%d-" % (len(FLOW_GZ) // 2)],
                  "the decoder got the rest from the cut offset", str(ranges))
        check(all(r[4] for r in STATE.requests), "every request was signed")
    finally:
        srv.shutdown()
        srv.server_close()
    print("%d failed" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
