"""A counting HTTP proxy in front of moto (127.0.0.1, free port, standard library only).

flowseg talks to the proxy (AWS_ENDPOINT_URL=proxy.url); each request is forwarded unchanged to
moto and recorded as (service, action): the service from the SigV4 credential scope of the
Authorization header, the action from the Query body (`Action=...`), or "METHOD /path" for S3's
REST calls. Tests count calls per action ("the minimum number of calls", "no call that changes
anything"); scripts/bench-apply reports them per target.

A barrier makes concurrent runs collide on purpose: proxy.barrier("AuthorizeSecurityGroupIngress",
2) holds the first such request until a second one arrives (or timeout_s passes), then lets both
through at the same moment.

    with CountingProxy(moto.url) as proxy:
        env = moto.env(AWS_ENDPOINT_URL=proxy.url)
        ...
        proxy.count("ec2", "AuthorizeSecurityGroupIngress")
"""
import http.client
import re
import threading
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Actions that change something (what "a second apply makes no call that changes anything"
# means); everything else flowseg sends is a read.
MUTATING = {"AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress", "CreateSecurityGroup",
            "ModifyDBInstance", "CreateTags", "ModifySecurityGroupRules",
            "UpdateSecurityGroupRuleDescriptionsIngress", "DeleteSecurityGroup"}

_SCOPE = re.compile(r"Credential=[^/]+/[0-9]{8}/[^/]+/([^/]+)/aws4_request")


class _Barrier:
    def __init__(self, n, timeout_s):
        self.n, self.timeout_s = n, timeout_s
        self.cond = threading.Condition()
        self.arrived = 0

    def wait(self):
        with self.cond:
            self.arrived += 1
            if self.arrived >= self.n:
                self.cond.notify_all()
                return
            self.cond.wait_for(lambda: self.arrived >= self.n, timeout=self.timeout_s)


class CountingProxy:
    def __init__(self, upstream_url):
        u = urllib.parse.urlsplit(upstream_url)
        self.upstream = (u.hostname, u.port)
        self.calls = []
        self.lock = threading.Lock()
        self.barriers = {}
        self.server = None
        self.thread = None

    # ---- control ------------------------------------------------------------------------------
    def __enter__(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                proxy._forward(self)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def clear(self):
        with self.lock:
            self.calls = []

    def snapshot(self):
        with self.lock:
            return list(self.calls)

    def counts(self, calls=None):
        return Counter((s, a) for s, a in (self.snapshot() if calls is None else calls))

    def count(self, service, action):
        return self.counts()[(service, action)]

    def mutating(self):
        return [(s, a) for s, a in self.snapshot() if a in MUTATING]

    def barrier(self, action, n=2, timeout_s=10.0):
        """Holds requests of `action` until n of them arrived (once)."""
        self.barriers[action] = _Barrier(n, timeout_s)

    # ---- forwarding ---------------------------------------------------------------------------
    def _forward(self, h):
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        m = _SCOPE.search(h.headers.get("Authorization", ""))
        service = m.group(1) if m else "?"
        action = None
        if body:
            q = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
            action = (q.get("Action") or [None])[0]
        if action is None:
            action = "%s %s" % (h.command, h.path.split("?")[0])
        with self.lock:
            self.calls.append((service, action))
        b = self.barriers.get(action)
        if b is not None:
            b.wait()
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("connection",)}
        try:
            conn.request(h.command, h.path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            h.send_response(r.status, r.reason)
            for k, v in r.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(data)
        finally:
            conn.close()
