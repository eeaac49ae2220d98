#!/usr/bin/env python3
"""S3 prefixes of many small objects (flowlogs/s3_source.c prefetching), against a small S3-like
server of our own on 127.0.0.1 (free port) that answers every GetObject after a first-byte delay
and records how many GETs are in flight at once:

  - the table equals the same objects read from local files;
  - GETs in flight exceed the decoding jobs (latency is hidden) and never exceed --max-inflight
    (32 by default, 4 when asked);
  - a corrupt object among them fails alone, named, and counts for nothing; a body cut
    mid-stream is resumed with Range and counts in full;
  - a key named in full (size unknown) is still streamed.

Exit 0 pass, 1 fail.
"""
import gzip
import http.server
import json
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

BUILD_ROOT = os.environ.get("FSG_BUILD_ROOT") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
FLOWSEG = os.path.join(BUILD_ROOT, "cmd", "flowseg")
DELAY_S = 0.15
HEADER = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
          "bytes start end action log-status\n")


def flow_object(i, records=400):
    text = HEADER + "".join(
        "2 123456789012 eni-0a1b2c3d4e5f6%04d 10.0.%d.%d 10.0.20.11 %d 5432 6 %d %d 1700000000 "
        "1700000060 ACCEPT OK\n" % (i % 3, i % 250, r % 200 + 1, 40000 + r, r + 1, r * 10)
        for r in range(records))
    return gzip.compress(text.encode(), mtime=0)


OBJECTS = {"lat/k%03d.log.gz" % i: flow_object(i) for i in range(60)}
OBJECTS["lat/k017.log.gz"] = OBJECTS["lat/k017.log.gz"][:-40]  # truncated gzip: corrupt
CUT_KEY = "lat/k033.log.gz"


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.inflight = 0
        self.max_inflight = 0
        self.gets = {}

    def reset(self):
        with self.lock:
            self.inflight = self.max_inflight = 0
            self.gets = {}


STATE = State()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, body, headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        bucket, _, key = path.lstrip("/").partition("/")
        if url.query:
            keys = sorted(k for k in OBJECTS if k.startswith(
                urllib.parse.parse_qs(url.query).get("prefix", [""])[0]))
            xml = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>b</Name>"
                   "<IsTruncated>false</IsTruncated>"]
            xml += ["<Contents><Key>%s</Key><Size>%d</Size><ETag>&quot;e%d&quot;</ETag>"
                    "</Contents>" % (k, len(OBJECTS[k]), i) for i, k in enumerate(keys)]
            xml.append("</ListBucketResult>")
            return self._send(200, "".join(xml).encode(), {"Content-Type": "application/xml"})
        body = OBJECTS.get(key)
        if bucket != "b" or body is None:
            return self._send(404, b"<Error><Code>NoSuchKey</Code></Error>")
        with STATE.lock:
            STATE.inflight += 1
            STATE.max_inflight = max(STATE.max_inflight, STATE.inflight)
            n = STATE.gets[key] = STATE.gets.get(key, 0) + 1
        try:
            time.sleep(DELAY_S)
            r = self.headers.get("Range")
            start = int(r[len("bytes="):-1]) if r else 0
            etag = '"e-%s"' % key
            if key == CUT_KEY and n == 1:  # headers for all, half the bytes, dropped connection
                self.send_response(200)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return None
            headers = {"ETag": etag}
            if start:
                headers["Content-Range"] = "bytes %d-%d/%d" % (start, len(body) - 1, len(body))
            return self._send(206 if start else 200, body[start:], headers)
        finally:
            with STATE.lock:
                STATE.inflight -= 1


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


FAILURES = []


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else ": " + detail))
    if not cond:
        FAILURES.append(what)


def flowseg(port, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDPREFETCH", AWS_SECRET_ACCESS_KEY="prefetch-secret",
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", FLOWSEG_CONFIG="{}",
               AWS_ENDPOINT_URL="http://127.0.0.1:%d" % port)
    for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(k, None)
    p = subprocess.run([FLOWSEG, "flows", "--format", "json", *args], env=env,
                       capture_output=True, timeout=120)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def main():
    if not os.access(FLOWSEG, os.X_OK):
        print("no binary at", FLOWSEG)
        return 1
    srv = Server(("127.0.0.1", 0), Handler)
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    tmp = tempfile.mkdtemp(prefix="fsg-prefetch-")
    try:
        for k, body in OBJECTS.items():
            with open(os.path.join(tmp, k.replace("/", "_")), "wb") as f:
                f.write(body)
        rc_l, out_l, err_l = flowseg(port, "--jobs", "2", tmp)
        local = json.loads(out_l)

        rc, out, err = flowseg(port, "--jobs", "2", "s3://b/lat/")
        doc = json.loads(out) if out else {}
        check(rc == rc_l and doc.get("enis") == local["enis"],
              "a prefix of %d small objects gives the table of the local files" % len(OBJECTS),
              err[-600:])
        errors = doc.get("stats", {}).get("errors", [])
        check(len(errors) == 1 and errors[0]["source"] == "s3://b/lat/k017.log.gz",
              "the corrupt object fails alone, named", json.dumps(errors))
        check(doc.get("stats", {}).get("objects") == len(OBJECTS) - 1,
              "every other object counts (the cut one resumed)", json.dumps(doc.get("stats")))
        check(STATE.gets.get(CUT_KEY) == 2, "the cut object was resumed once", str(STATE.gets))
        check(16 <= STATE.max_inflight <= 32,
              "GETs in flight exceed the 2 decoding jobs and stay within 32 (max %d)"
              % STATE.max_inflight)

        STATE.reset()
        rc, out, err = flowseg(port, "--jobs", "2", "--max-inflight", "4", "s3://b/lat/")
        check(rc == rc_l and json.loads(out)["enis"] == local["enis"],
              "--max-inflight 4: the same table", err[-300:])
        check(STATE.max_inflight <= 4,
              "--max-inflight 4: at most 4 GETs in flight (max %d)"
              % STATE.max_inflight)

        STATE.reset()
        rc, out, err = flowseg(port, "s3://b/lat/k001.log.gz")
        one = json.loads(out) if out else {}
        check(rc == 0 and one.get("stats", {}).get("records") == 400,
              "a key named in full is streamed", err[-300:])
    finally:
        srv.shutdown()
        srv.server_close()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
