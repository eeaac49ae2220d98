#!/usr/bin/env python3
"""A Lambda Runtime API server (API version 2018-06-01) for end-to-end tests of `flowseg lambda`.

Python standard library only. Binds 127.0.0.1 on a free port. Serves queued events to
`GET /2018-06-01/runtime/invocation/next`, records every response and error with its request id
and timing, and can start the runtime itself to measure its cold start.

Usage:
  rapi_server.py [OPTIONS] [--run CMD [ARG...]]

Events:
  --events DIR          queue every DIR/*.json (sorted by name). A sidecar DIR/NAME.meta.json may
                        hold {"deadline_in_ms": N, "request_id": "...", "trace_id": "...",
                        "function_arn": "...", "deadline_header": "raw value" or null (omit it)}
  --event FILE          queue one file (repeatable; after --events)
  --deadline-ms N       time from serving `next` to the invocation's deadline (default 30000);
                        sent as Lambda-Runtime-Deadline-Ms = now + N (Unix epoch ms)

Output:
  --port-file PATH      write the port here once listening (written atomically)
  --log PATH            one JSON line per API call (default: none)
  --results PATH        on exit, write {"results": [...], "cold_start_ms": ..., ...} here

Ending:
  --exit-when-drained   when the queue is empty, hold `next` for --hold-ms, then close the
                        connection without an answer, so the runtime gives up and exits
  --hold-ms N           (default 200)
  --timeout-s N         give up after N seconds: kill the runtime, exit 3 (default 120)

Running the runtime (must come last):
  --run CMD [ARG...]    start CMD with AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT; cold start is the
                        time from just before the spawn to the first `next` request. The server
                        exits when CMD exits (status 0; the child's status is in --results).
  --clean-env           with --run: the child gets only AWS_LAMBDA_RUNTIME_API and the --env values
  --env K=V             extra environment for the child (repeatable)

Control endpoints (for tests driving a runtime they started themselves):
  POST /_control/enqueue          body = event; optional headers X-Fsg-Request-Id,
                                  X-Fsg-Deadline-In-Ms, X-Fsg-Deadline-Header -> {"request_id"}
  GET  /_control/results          -> {"results": [...], "first_next_at": ..., ...}
  GET  /_control/wait?count=N&timeout_s=S   block until N results are recorded (408 on timeout)
  POST /_control/shutdown

A result is {"type": "response"|"error"|"init_error", "request_id", "body" (text), "json"
(parsed body or null), "error_type" (the Lambda-Runtime-Function-Error-Type header),
"served_at", "answered_at" (Unix epoch s), "elapsed_ms" (next served -> answer),
"deadline_ms", "before_deadline"}.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

API = "/2018-06-01/runtime"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # Lambda's buffered response limit
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:flowseg"


class State:
    def __init__(self, args):
        self.args = args
        self.cond = threading.Condition()
        self.queue = []          # events waiting for `next`
        self.inflight = {}       # request id -> served event
        self.answered = set()
        self.results = []
        self.started_at = time.time()
        self.spawned_mono = None
        self.first_next_mono = None
        self.first_next_at = None
        self.drained_closes = 0
        self.log_file = open(args.log, "a", encoding="utf-8") if args.log else None
        self.stopping = False
        self.stop = threading.Event()  # /_control/shutdown or SIGTERM/SIGINT

    def log(self, **fields):
        if self.log_file is None:
            return
        fields["t"] = round(time.time(), 6)
        with self.cond:
            self.log_file.write(json.dumps(fields, sort_keys=True) + "\n")
            self.log_file.flush()

    def enqueue(self, body, meta=None):
        meta = dict(meta or {})
        event = {
            "request_id": meta.get("request_id") or str(uuid.uuid4()),
            "body": body,
            "deadline_in_ms": int(meta.get("deadline_in_ms", self.args.deadline_ms)),
            "trace_id": meta.get("trace_id") or "Root=1-%08x-%s;Parent=%s;Sampled=0" % (
                int(time.time()), uuid.uuid4().hex[:24], uuid.uuid4().hex[:16]),
            "function_arn": meta.get("function_arn") or FUNCTION_ARN,
        }
        if "deadline_header" in meta:
            event["deadline_header"] = meta["deadline_header"]
        with self.cond:
            self.queue.append(event)
            self.cond.notify_all()
        return event["request_id"]

    def snapshot(self):
        with self.cond:
            cold = None
            if self.spawned_mono is not None and self.first_next_mono is not None:
                cold = round((self.first_next_mono - self.spawned_mono) * 1000.0, 3)
            return {"results": list(self.results), "started_at": self.started_at,
                    "first_next_at": self.first_next_at, "cold_start_ms": cold,
                    "queued": len(self.queue), "inflight": sorted(self.inflight),
                    "drained_closes": self.drained_closes}


def load_events(state, args):
    files = []
    if args.events:
        files += sorted(os.path.join(args.events, f) for f in os.listdir(args.events)
                        if f.endswith(".json") and not f.endswith(".meta.json"))
    files += args.event or []
    for path in files:
        meta = {}
        side = path[:-len(".json")] + ".meta.json" if path.endswith(".json") else None
        if side and os.path.exists(side):
            with open(side, encoding="utf-8") as f:
                meta = json.load(f)
        with open(path, "rb") as f:
            state.enqueue(f.read(), meta)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Lambda's API
    server_version = "rapi-test/1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms) and every invocation would look 40 ms slower than it is.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *a):  # quiet: our own JSON log instead
        pass

    @property
    def state(self):
        return self.server.state

    def _send(self, status, body=b"", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == API + "/invocation/next":
            return self._next()
        if url.path == "/_control/results":
            return self._send(200, self.state.snapshot())
        if url.path == "/_control/wait":
            q = parse_qs(url.query)
            count = int(q.get("count", ["1"])[0])
            limit = time.monotonic() + float(q.get("timeout_s", ["30"])[0])
            with self.state.cond:
                while len(self.state.results) < count and time.monotonic() < limit:
                    self.state.cond.wait(timeout=max(0.0, limit - time.monotonic()))
                done = len(self.state.results) >= count
            return self._send(200 if done else 408, self.state.snapshot())
        self._send(404, {"errorType": "NotFound", "errorMessage": self.path})

    def _next(self):
        st = self.state
        now_mono = time.monotonic()
        with st.cond:
            if st.first_next_mono is None:
                st.first_next_mono = now_mono
                st.first_next_at = time.time()
            while not st.queue and not st.args.exit_when_drained and not st.stopping:
                st.cond.wait(timeout=1.0)
            event = st.queue.pop(0) if st.queue else None
        if event is None:
            st.log(call="next", drained=True)
            time.sleep(st.args.hold_ms / 1000.0)
            with st.cond:
                st.drained_closes += 1
                st.cond.notify_all()
            self.close_connection = True  # no answer at all: the runtime sees a cut connection
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        served_at = time.time()
        deadline_ms = int(served_at * 1000) + event["deadline_in_ms"]
        headers = {"Lambda-Runtime-Aws-Request-Id": event["request_id"],
                   "Lambda-Runtime-Invoked-Function-Arn": event["function_arn"],
                   "Lambda-Runtime-Trace-Id": event["trace_id"]}
        raw = event.get("deadline_header", str(deadline_ms))
        if raw is not None:
            headers["Lambda-Runtime-Deadline-Ms"] = raw
        with st.cond:
            st.inflight[event["request_id"]] = dict(event, served_at=served_at,
                                                    deadline_ms=deadline_ms)
        st.log(call="next", request_id=event["request_id"], deadline_ms=deadline_ms,
               bytes=len(event["body"]))
        self._send(200, event["body"], headers)

    def do_POST(self):
        url = urlparse(self.path)
        body = self._body()
        st = self.state
        if url.path == "/_control/enqueue":
            meta = {}
            if self.headers.get("X-Fsg-Request-Id"):
                meta["request_id"] = self.headers["X-Fsg-Request-Id"]
            if self.headers.get("X-Fsg-Deadline-In-Ms"):
                meta["deadline_in_ms"] = int(self.headers["X-Fsg-Deadline-In-Ms"])
            if "X-Fsg-Deadline-Header" in self.headers:
                meta["deadline_header"] = self.headers["X-Fsg-Deadline-Header"]
            return self._send(200, {"request_id": st.enqueue(body, meta)})
        if url.path == "/_control/shutdown":
            self._send(200, {"ok": True})
            st.stop.set()
            return
        if url.path == API + "/init/error":
            return self._record("init_error", None, body)
        parts = url.path[len(API + "/invocation/"):].split("/") \
            if url.path.startswith(API + "/invocation/") else []
        if len(parts) == 2 and parts[1] in ("response", "error"):
            return self._record(parts[1], parts[0], body)
        self._send(404, {"errorType": "NotFound", "errorMessage": self.path})

    def _record(self, kind, request_id, body):
        st = self.state
        now = time.time()
        too_large = kind == "response" and len(body) > MAX_RESPONSE_BYTES
        with st.cond:
            event = st.inflight.get(request_id) if request_id is not None else None
            known = request_id is None or event is not None
            if known and request_id is not None and not too_large:
                del st.inflight[request_id]  # as Lambda: answered once; a 413 leaves it open
                st.answered.add(request_id)
        if not known:
            st.log(call=kind, request_id=request_id, rejected="unknown request id")
            return self._send(400, {"errorType": "InvalidRequestID",
                                    "errorMessage": "unknown or already answered request id"})
        if too_large:
            st.log(call=kind, request_id=request_id, rejected="too large", bytes=len(body))
            return self._send(413, {"errorType": "RequestEntityTooLarge",
                                    "errorMessage": "Exceeded maximum allowed payload size"})
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        result = {"type": kind, "request_id": request_id,
                  "body": body.decode("utf-8", "replace"), "json": parsed,
                  "error_type": self.headers.get("Lambda-Runtime-Function-Error-Type"),
                  "answered_at": now}
        if event is not None:
            result.update(served_at=event["served_at"], deadline_ms=event["deadline_ms"],
                          elapsed_ms=round((now - event["served_at"]) * 1000.0, 3),
                          before_deadline=now * 1000 <= event["deadline_ms"])
        with st.cond:
            st.results.append(result)
            st.cond.notify_all()
        st.log(call=kind, request_id=request_id, error_type=result["error_type"],
               bytes=len(body), elapsed_ms=result.get("elapsed_ms"))
        self._send(202, {"status": "OK"})


def main(argv):
    run_cmd = None
    if "--run" in argv:
        i = argv.index("--run")
        argv, run_cmd = argv[:i], argv[i + 1:]
        if not run_cmd:
            sys.exit("rapi_server.py: --run needs a command")
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events")
    p.add_argument("--event", action="append")
    p.add_argument("--deadline-ms", type=int, default=30000)
    p.add_argument("--port-file")
    p.add_argument("--log")
    p.add_argument("--results")
    p.add_argument("--exit-when-drained", action="store_true")
    p.add_argument("--hold-ms", type=int, default=200)
    p.add_argument("--timeout-s", type=float, default=120.0)
    p.add_argument("--clean-env", action="store_true")
    p.add_argument("--env", action="append", default=[])
    args = p.parse_args(argv)

    state = State(args)
    load_events(state, args)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = state
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print("rapi_server: listening on 127.0.0.1:%d" % port, flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    signal.signal(signal.SIGTERM, lambda *_: state.stop.set())
    signal.signal(signal.SIGINT, lambda *_: state.stop.set())
    status = 0
    child_exit = None
    child = None
    deadline = time.monotonic() + args.timeout_s
    try:
        if run_cmd:
            env = {} if args.clean_env else dict(os.environ)
            for kv in args.env:
                k, _, v = kv.partition("=")
                env[k] = v
            env["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:%d" % port
            state.spawned_mono = time.monotonic()
            child = subprocess.Popen(run_cmd, env=env)
        while not state.stop.is_set() and time.monotonic() < deadline:
            if child is not None and child.poll() is not None:
                break
            state.stop.wait(0.02)
        if child is not None:
            if child.poll() is None:
                if not state.stop.is_set():
                    print("rapi_server: timeout: the runtime was killed", file=sys.stderr)
                    status = 3
                child.kill()
            child_exit = child.wait()
        elif not state.stop.is_set():
            status = 3
    finally:
        with state.cond:
            state.stopping = True
            state.cond.notify_all()
        snap = state.snapshot()
        snap["child_exit"] = child_exit
        if args.results:
            tmp = args.results + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(snap, f, indent=1)
            os.replace(tmp, args.results)
        if snap["cold_start_ms"] is not None:
            print("rapi_server: cold_start_ms=%.3f" % snap["cold_start_ms"], flush=True)
        server.shutdown()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
