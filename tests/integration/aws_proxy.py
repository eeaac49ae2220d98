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

Faults, for what moto never does: proxy.fault(action, spec, ...) queues one spec per request of
that action, in order:
  {"kind": "error", "status": 400, "code": "InvalidGroup.NotFound"}  answer an AWS error, not
      forwarded (the EC2 or RDS error document, by the request's service);
  {"kind": "drop_answer"}  forward to moto, then close the connection without an answer (the
      change is made, its answer lost); with "s": wait that long first (like "delay");
  {"kind": "delay", "s": 2.0}  wait, then forward (time to send a signal meanwhile);
      proxy.arrived(action) is set when such a request arrives.
proxy.slow(prefix, s) holds every request whose action starts with prefix (e.g. "PUT /sums/")
s seconds before forwarding it; proxy.max_in_flight(prefix) is the most such requests that were
in flight at once (whether the caller overlaps them).
proxy.after = fn(service, action) runs after every mutating call was carried out by moto and
before its answer goes back (to check the state between two calls).
"""
import http.client
import re
import threading
import time
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
        self.faults = {}
        self.after = None
        self.arrivals = {}
        self.slows = {}        # prefix -> seconds
        self.in_flight = {}    # prefix -> [now, most]
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

    def fault(self, action, *specs):
        """Queues fault specs for the next requests of action (see the module comment)."""
        with self.lock:
            self.faults.setdefault(action, []).extend(specs)

    def arrived(self, action):
        """An Event set when a request of action arrives (created on first use)."""
        with self.lock:
            return self.arrivals.setdefault(action, threading.Event())

    def _next_fault(self, action):
        with self.lock:
            q = self.faults.get(action) or []
            return q.pop(0) if q else None

    @staticmethod
    def _error(h, service, spec):
        code = spec.get("code", "InternalError")
        msg = spec.get("message", "injected by aws_proxy")
        if service == "ec2":
            body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>%s"
                    "</Code><Message>%s</Message></Error></Errors><RequestID>proxy-1</RequestID>"
                    "</Response>" % (code, msg))
        else:
            body = ("<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s"
                    "</Message></Error><RequestId>proxy-1</RequestId></ErrorResponse>"
                    % (code, msg))
        data = body.encode()
        h.send_response(spec.get("status", 400))
        h.send_header("Content-Type", "text/xml")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def slow(self, prefix, s):
        with self.lock:
            self.slows[prefix] = s
            self.in_flight.setdefault(prefix, [0, 0])

    def max_in_flight(self, prefix):
        with self.lock:
            return self.in_flight.get(prefix, [0, 0])[1]

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
        with self.lock:
            ev = self.arrivals.get(action)
        if ev is not None:
            ev.set()
        b = self.barriers.get(action)
        if b is not None:
            b.wait()
        slow = [p for p in self.slows if action.startswith(p)]
        if slow:
            with self.lock:
                f = self.in_flight[slow[0]]
                f[0] += 1
                f[1] = max(f[1], f[0])
            time.sleep(self.slows[slow[0]])
            try:
                self._forward_spec(h, service, action, body)
            finally:
                with self.lock:
                    self.in_flight[slow[0]][0] -= 1
            return
        self._forward_spec(h, service, action, body)

    def _forward_spec(self, h, service, action, body):
        spec = self._next_fault(action)
        if spec is not None and spec["kind"] == "error":
            self._error(h, service, spec)
            return
        if spec is not None and (spec["kind"] == "delay" or "s" in spec):
            time.sleep(spec.get("s", 1.0))
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("connection",)}
        try:
            conn.request(h.command, h.path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            if action in MUTATING and self.after is not None:
                self.after(service, action)
            if spec is not None and spec["kind"] == "drop_answer":
                h.close_connection = True
                return
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
