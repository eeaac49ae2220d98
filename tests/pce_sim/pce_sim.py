#!/usr/bin/env python3
"""A loopback Illumio PCE simulator for flowseg tests (Python standard library + the openssl CLI).

Faithful to shared/ref/pce-api.md section 10. Serves HTTPS on 127.0.0.1 with a throwaway CA made at
start, HTTP Basic auth, one org, bare-array collections capped at 500 with X-Total-Count,
max_results, the labels/name/hostname/ip_address/managed filters, async collection jobs, draft and
active policy trees with provisioning, 406 error arrays, 429 (rate window or injected storms) and
the bulk traffic loader.

CLI
---
  python3 tests/pce_sim/pce_sim.py [--seed FILE] [--workloads N] [--org 1]
        [--api-key api_1a2b3c4d5e6f7g] [--api-secret S] [--port 0] [--info-file PATH]
        [--dir DIR] [--job-delay S] [--job-retry-after S] [--cap 500] [--verbose]

  --seed FILE        an exported policy bundle (CONTRACT.md "Exported policy file"; default
                     tests/data/pce/seed_policy.json). Its arrays are the ACTIVE policy; the draft
                     tree starts as a copy. An optional extra key "draft" ({"rule_sets": [...], ...})
                     gives draft arrays that differ from active. Virtual services' "bound_workloads"
                     become service bindings.
  --workloads N      add N generated managed workloads (labels Web/Consumer/Development/Amazon,
                     addresses 10.1.x.y, every 10th also 2600:1f18:ffff::x) -> N > 500 forces the
                     client's async path.
  --api-key/--api-secret   the Basic credentials accepted (defaults: api_1a2b3c4d5e6f7g / s3cr3t-t0k3n).
  --port 0           0 = a free port picked by the OS.
  --dir DIR          where the CA and server cert go (default: a temp dir removed at exit).
  --info-file PATH   also write the ready line there (atomically).
  --job-delay S      seconds an async job stays "running" (default 0).
  --job-retry-after S  Retry-After on 202 and on running jobs (default 1).

When ready it prints ONE line of JSON on stdout (and writes it to --info-file):
  {"port": 43121, "url": "https://127.0.0.1:43121", "ca": "/tmp/pcesim-x/ca.pem", "org_id": 1,
   "api_key": "...", "api_secret": "...", "pid": 1234}
It stops on SIGTERM/SIGINT and removes its temp dir. Use ca.pem as the client's ca_file; the server
certificate is valid for 127.0.0.1 and localhost.

From Python tests, reuse the helper (handles start, ready line, control calls and stop):
  sys.path.insert(0, os.path.join(src_root, "tests", "pce_sim"))
  from pce_sim import SimProcess
  sim = SimProcess(workloads=600)          # .url .ca .port .api_key .api_secret .org_id
  sim.control("POST", "/_sim/faults", {"faults": [{"kind": "429", "count": 3, "retry_after": 1}]})
  log = sim.control("GET", "/_sim/requests")
  sim.stop()

PCE API served (all under /api/v2, Basic auth, hrefs returned without /api/v2)
--------------------------------------------------------------------------------
  GET  /health                              (auth required)
  GET  /orgs/N/settings/workloads           (org check)
  GET|POST /orgs/N/labels, GET|PUT|DELETE /orgs/N/labels/ID          filters key, value
  GET|POST /orgs/N/workloads, GET|PUT|DELETE /orgs/N/workloads/UUID  filters labels, managed,
       name, hostname, ip_address, enforcement_mode, online; PUT /orgs/N/workloads/bulk_create
  GET  /orgs/N/sec_policy/{draft|active|V}/{label_groups|rule_sets|ip_lists|services|virtual_services}[/ID]
       POST/PUT/DELETE only on draft (active, V -> 406 not_acceptable_error); V = a provisioned
       policy version number: that version as provisioned, hrefs under sec_policy/V/
  GET  /orgs/N/sec_policy                   the provisioned versions, newest first (a collection);
       GET /orgs/N/sec_policy/V one version. A seeded non-empty active policy is version 1.
       rule_sets: filters name, labels; representation=rule_set_services_labels_and_names
       virtual_services: filters name, labels; representation=virtual_service_labels_services_and_workloads
         adds bound_workloads [{href, name, hostname}] from the service bindings
  GET|POST .../rule_sets/ID/sec_rules, GET|PUT|DELETE .../sec_rules/RID  (unknown rule keys -> 406)
  POST /orgs/N/sec_policy                   provision (change_subset or everything pending) -> 201
  GET|POST /orgs/N/service_bindings         POST takes an array; only active virtual services bind
  GET  /orgs/N/jobs/UUID, GET /orgs/N/datafiles/UUID     async collections
  POST /orgs/N/agents/bulk_traffic_flows    text/csv "src,dst,port,proto" lines, <= 1000 per request
       -> 201 {"num_flows_received", "num_flows_failed", "failed_flows": [line, ...]}; a line fails
       when it is malformed or when its src or dst address belongs to no workload.
Collections: bare arrays, X-Total-Count = matches, cap 500 unless max_results (max_results=0 -> []).
"Prefer: respond-async" on a collection GET -> 202, empty body, Location: /orgs/N/jobs/UUID,
Retry-After; the job is "running" for --job-delay seconds, then "done" with result.href =
/orgs/N/datafiles/UUID (or "failed"). Every response has X-Request-Id.
Errors: 401 (empty body, bad/missing Basic), 403 (another org), 404, 405, 406
[{"token","message"}], 429.

Control API for tests (no auth, same port, paths start with /_sim)
-------------------------------------------------------------------
  GET  /_sim/health                 -> {"ok": true}
  POST /_sim/load      BUNDLE       replace all data with a bundle (same shape as --seed)
  POST /_sim/reset                  reload the --seed bundle (+ --workloads); clear jobs, log, traffic,
                                    faults; config back to the command-line values
  POST /_sim/generate  {"workloads": N, "labels": [label href...], "start": 0}  add generated workloads
  GET  /_sim/state                  {"labels", "workloads", "draft": {...}, "active": {...},
                                     "service_bindings", "versions"}
  POST /_sim/config    {"cap": 500, "job_delay_s": 0, "job_retry_after": 1, "api_key": ..,
                        "api_secret": .., "location": "relative"|"absolute",
                        "rate_limit": {"limit": N, "window_s": S, "retry_after": 2|null} | null}
  POST /_sim/faults    {"faults": [FAULT, ...]}   replaces the fault list ({"faults": []} clears)
  GET  /_sim/faults                 the list with remaining counts
       FAULT = {"kind": K, "path": REGEX (re.search on "/api/v2/...?...", default any PCE path),
                "method": "GET" (default any), "count": N (default 1; -1 = forever),
                "after": N (let the first N matching requests through; default 0), ...}
       K = "429"      -> 429; "retry_after": int seconds or null (no header)
           "status"   -> "status": 500, "body": JSON value (default [{"token":"internal_error",...}])
           "die"      -> send the real response's headers and "bytes" bytes of its body (default
                         half), then close the connection (a server dying mid-read)
           "drop"     -> close the connection without any response
           "delay"    -> "seconds": S before answering normally
           "job_fail" -> an async job created by a matching request ends "failed"
           "truncate" -> the datafile of an async job created by a matching request lacks its
                         last "items" objects (default 1): a cut export
           "no_total" -> a matching sync collection answer has no X-Total-Count header
           "provision"-> everything pending in draft is provisioned (a new policy version, even
                         with nothing pending) just before the matching request is served; with
                         "after": N it hits the N+1-th matching request (a provision mid-read)
           "status" with "echo_auth": true -> a text body that echoes the request's
                         Authorization header (and "echo_url", if given)
  A job that never finishes: POST /_sim/config {"job_delay_s": 1e9}.
  GET  /_sim/requests[?since=SEQ]   request log: [{"seq","method","path","query","headers" (no
                                    Authorization),"auth": "ok"|"missing"|"bad","status","body"}]
  DELETE /_sim/requests             clear the log
  GET  /_sim/traffic                {"posts": [{"received","failed","lines": [...]}], "flows": [ok lines]}
  POST /_sim/shutdown               stop the server
"""

import argparse
import base64
import copy
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import ipaddress

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SEED = os.path.join(HERE, "..", "data", "pce", "seed_policy.json")
VERSIONED = ("label_groups", "rule_sets", "ip_lists", "services", "virtual_services")
BUNDLE_KEYS = ("labels", "label_groups", "workloads", "rule_sets", "ip_lists", "services",
               "virtual_services")
DEFAULT_CAP = 500
BULK_MAX = 1000
RULE_KEYS = {"enabled", "description", "providers", "consumers", "ingress_services",
             "egress_services", "resolve_labels_as", "sec_connect", "stateless", "machine_auth",
             "consuming_security_principals", "unscoped_consumers", "network_type",
             "use_workload_subnets", "external_data_set", "external_data_reference",
             "log_flow"}
INT_ID_TYPES = ("rule_sets", "ip_lists", "services")


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def err_body(token, message):
    return [{"token": token, "message": message}]


def rewrite_pv(value, src, dst):
    """Deep copy with every "/sec_policy/<src>/" in strings replaced by "/sec_policy/<dst>/"."""
    a, b = "/sec_policy/%s/" % src, "/sec_policy/%s/" % dst
    if isinstance(value, dict):
        return {k: rewrite_pv(v, src, dst) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrite_pv(v, src, dst) for v in value]
    if isinstance(value, str):
        return value.replace(a, b)
    return value


def href_id(href):
    return href.rstrip("/").rsplit("/", 1)[-1]


class Reply(Exception):
    """Raised by handlers to answer with a status and body."""

    def __init__(self, status, body=None, headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


# ------------------------------------------------------------------------------------------------
# Data


class Store:
    def __init__(self, org_id):
        self.org = org_id
        self.lock = threading.RLock()
        self.clear()

    def clear(self):
        self.labels = []
        self.workloads = []
        self.policy = {"draft": {t: [] for t in VERSIONED}, "active": {t: [] for t in VERSIONED}}
        self.bindings = []
        self.versions = []
        self.snapshots = {}  # policy version number -> {kind: items, hrefs under sec_policy/N/}
        self.jobs = {}
        self.datafiles = {}
        self.next_id = 1000

    def prefix(self):
        return "/orgs/%d" % self.org

    def load(self, bundle):
        if not isinstance(bundle, dict):
            raise Reply(400, {"error": "bundle must be a JSON object"})
        for k in BUNDLE_KEYS:
            if not isinstance(bundle.get(k, []), list):
                raise Reply(400, {"error": "bundle key %s must be an array" % k})
        self.clear()
        self.labels = copy.deepcopy(bundle.get("labels", []))
        self.workloads = copy.deepcopy(bundle.get("workloads", []))
        for t in VERSIONED:
            active = rewrite_pv(bundle.get(t, []), "draft", "active")
            self.policy["active"][t] = active
            self.policy["draft"][t] = rewrite_pv(active, "active", "draft")
        for t, arr in (bundle.get("draft") or {}).items():
            if t in VERSIONED:
                self.policy["draft"][t] = rewrite_pv(arr, "active", "draft")
        n = 1
        given = bundle.get("service_bindings")
        if isinstance(given, list):
            # An exported bundle's own bindings (with their port_overrides) are the PCE's.
            self.bindings = copy.deepcopy(given)
        for pv in ("active", "draft"):
            for vs in self.policy[pv]["virtual_services"]:
                bound = vs.pop("bound_workloads", None) or []
                if pv != "active" or isinstance(given, list):
                    continue
                for w in bound:
                    self.bindings.append({
                        "href": "%s/service_bindings/%08d-0000-4000-8000-%012d" % (
                            self.prefix(), n, n),
                        "virtual_service": {"href": vs["href"]},
                        "workload": {"href": w["href"]}, "port_overrides": []})
                    n += 1
        for t in INT_ID_TYPES:
            for o in self.policy["draft"][t]:
                try:
                    self.next_id = max(self.next_id, int(href_id(o["href"])) + 1)
                except ValueError:
                    pass
        if any(self.policy["active"][t] for t in VERSIONED):
            # The seeded active policy is what some provision made: version 1.
            self.new_version("seeded policy", [])

    def new_version(self, message, provisioned):
        """Records a policy version of the current active tree (kept readable as sec_policy/N)."""
        version = len(self.versions) + 1
        pv = {"href": "%s/sec_policy/%d" % (self.prefix(), version), "version": version,
              "commit_message": message, "workloads_affected": 0,
              "object_counts": {k: len(self.policy["active"][k]) for k in VERSIONED},
              "provisioned_hrefs": provisioned, "created_at": now_iso(),
              "created_by": {"href": "/users/1"}}
        self.versions.append(pv)
        self.snapshots[version] = {t: rewrite_pv(self.policy["active"][t], "active", str(version))
                                   for t in VERSIONED}
        return pv

    def generate_workloads(self, n, label_hrefs=None, start=None):
        if label_hrefs is None:
            label_hrefs = []
            for key, value in (("role", "Web"), ("app", "Consumer"), ("env", "Development"),
                               ("loc", "Amazon")):
                for l in self.labels:
                    if l.get("key") == key and l.get("value") == value:
                        label_hrefs.append(l["href"])
        by_href = {l["href"]: l for l in self.labels}
        labels = [{"href": h, "key": by_href.get(h, {}).get("key"),
                   "value": by_href.get(h, {}).get("value")} for h in label_hrefs]
        if start is None:
            start = sum(1 for w in self.workloads if (w.get("hostname") or "").startswith("gen-"))
        for i in range(start, start + n):
            u = str(uuid.uuid5(uuid.NAMESPACE_URL, "flowseg-gen-workload-%d" % i))
            ifaces = [{"name": "eth0", "address": "10.1.%d.%d" % (i // 250, i % 250 + 1),
                       "cidr_block": 16, "default_gateway_address": "10.1.0.1",
                       "link_state": "up", "network": None,
                       "network_detection_mode": "single_private_brn",
                       "friendly_name": None, "loopback": False}]
            if i % 10 == 0:
                ifaces.insert(0, {"name": "eth0", "address": "2600:1f18:ffff::%x" % (i + 1),
                                  "cidr_block": 64, "default_gateway_address": None,
                                  "link_state": "up", "network": None,
                                  "network_detection_mode": "single_private_brn",
                                  "friendly_name": None, "loopback": False})
            self.workloads.append({
                "href": "%s/workloads/%s" % (self.prefix(), u), "deleted": False, "name": None,
                "description": None, "hostname": "gen-web-%05d" % i, "public_ip": None,
                "enforcement_mode": "visibility_only", "visibility_level": "flow_summary",
                "external_data_set": None, "external_data_reference": None,
                "interfaces": ifaces, "online": True, "labels": copy.deepcopy(labels),
                "ven": {"href": "%s/vens/%s" % (self.prefix(), u)},
                "agent": {"href": "%s/agents/%d" % (self.prefix(), 100000 + i),
                          "config": {"mode": "illuminated", "log_traffic": False},
                          "status": {"status": "active"}},
                "created_at": "2024-03-11T17:03:11.204Z", "updated_at": "2024-03-11T17:03:11.204Z",
                "created_by": {"href": "%s/agents/%d" % (self.prefix(), 100000 + i)},
                "updated_by": {"href": "%s/agents/%d" % (self.prefix(), 100000 + i)}})

    def new_int_href(self, base):
        self.next_id += 1
        return "%s/%d" % (base, self.next_id)

    def address_owners(self):
        out = set()
        for w in self.workloads:
            if w.get("deleted"):
                continue
            for i in w.get("interfaces") or []:
                if i.get("address"):
                    out.add(str(ipaddress.ip_address(i["address"])))
            if w.get("public_ip"):
                out.add(str(ipaddress.ip_address(w["public_ip"])))
        return out


# ------------------------------------------------------------------------------------------------
# Filters and representations


def parse_labels_filter(raw):
    try:
        v = json.loads(raw)
    except ValueError:
        raise Reply(406, err_body("input_validation_error",
                                  "Input validation failed. Details: {labels is not valid JSON}"))
    if not isinstance(v, list) or not all(
            isinstance(x, list) and all(isinstance(h, str) for h in x) for x in v):
        raise Reply(406, err_body("input_validation_error",
                                  "Input validation failed. Details: {labels must be a list of "
                                  "lists of label hrefs}"))
    return v


def obj_label_hrefs(o):
    return {l.get("href") for l in o.get("labels") or []}


def rule_set_label_hrefs(o):
    out = set()
    for scope in o.get("scopes") or []:
        for a in scope:
            if "label" in a:
                out.add(a["label"].get("href"))
    return out


def match_labels(hrefs, filt):
    return any(all(h in hrefs for h in inner) for inner in filt)


def partial(value, needle):
    return value is not None and needle.lower() in str(value).lower()


def bool_param(q, name):
    v = q[name]
    if v not in ("true", "false"):
        raise Reply(406, err_body("input_validation_error",
                                  "Input validation failed. Details: {%s must be true or false}"
                                  % name))
    return v == "true"


def filter_collection(kind, items, q):
    out = []
    lf = parse_labels_filter(q["labels"]) if "labels" in q else None
    managed = bool_param(q, "managed") if "managed" in q else None
    online = bool_param(q, "online") if "online" in q else None
    for o in items:
        if kind == "workloads" and o.get("deleted") and q.get("include_deleted") != "true":
            continue
        if lf is not None:
            hrefs = rule_set_label_hrefs(o) if kind == "rule_sets" else obj_label_hrefs(o)
            if not match_labels(hrefs, lf):
                continue
        if "name" in q and not partial(o.get("name"), q["name"]):
            continue
        if kind == "labels":
            if "key" in q and o.get("key") != q["key"]:
                continue
            if "value" in q and not partial(o.get("value"), q["value"]):
                continue
        if kind == "workloads":
            is_managed = bool((o.get("ven") or {}).get("href"))
            if managed is not None and is_managed != managed:
                continue
            if online is not None and bool(o.get("online")) != online:
                continue
            if "hostname" in q and not partial(o.get("hostname"), q["hostname"]):
                continue
            if "enforcement_mode" in q and o.get("enforcement_mode") != q["enforcement_mode"]:
                continue
            if "ip_address" in q:
                addrs = [i.get("address") for i in o.get("interfaces") or []]
                addrs.append(o.get("public_ip"))
                if not any(partial(a, q["ip_address"]) for a in addrs):
                    continue
        out.append(o)
    return out


def expand_rule_set(rs, store):
    labels = {l["href"]: l for l in store.labels}
    groups = {}
    services = {}
    trees = [store.policy["draft"], store.policy["active"]] + list(store.snapshots.values())
    for tree in trees:
        for g in tree["label_groups"]:
            groups[g["href"]] = g
        for s in tree["services"]:
            services[s["href"]] = s
    rs = copy.deepcopy(rs)

    def actor(a):
        if "label" in a and a["label"].get("href") in labels:
            l = labels[a["label"]["href"]]
            a["label"].update({"key": l.get("key"), "value": l.get("value")})
        if "label_group" in a and a["label_group"].get("href") in groups:
            g = groups[a["label_group"]["href"]]
            a["label_group"].update({"key": g.get("key"), "name": g.get("name")})

    for scope in rs.get("scopes") or []:
        for a in scope:
            actor(a)
    for r in rs.get("rules") or []:
        for a in (r.get("providers") or []) + (r.get("consumers") or []):
            actor(a)
        for s in r.get("ingress_services") or []:
            if "href" in s and s["href"] in services:
                s["name"] = services[s["href"]].get("name")
    return rs


def add_bound_workloads(vs, store):
    vs = copy.deepcopy(vs)
    wl = {w["href"]: w for w in store.workloads}
    vid = href_id(vs["href"])
    bound = []
    for b in store.bindings:
        if href_id(b["virtual_service"]["href"]) != vid:
            continue
        w = wl.get(b["workload"]["href"], {})
        bound.append({"href": b["workload"]["href"], "name": w.get("name"),
                      "hostname": w.get("hostname")})
    vs["bound_workloads"] = bound
    return vs


# ------------------------------------------------------------------------------------------------
# The server state shared by handler threads


class Sim:
    def __init__(self, args):
        self.args = args
        self.store = Store(args.org)
        self.seq = 0
        self.url = None
        self.reset()

    def reset(self):
        with open(self.args.seed) as f:
            bundle = json.load(f)
        self.store.load(bundle)
        if self.args.workloads:
            self.store.generate_workloads(self.args.workloads)
        self.faults = []
        self.log = []
        self.traffic_posts = []
        self.traffic_flows = []
        self.rate_hits = []
        self.rate_limit = None
        self.api_key = self.args.api_key
        self.api_secret = self.args.api_secret
        self.cap = self.args.cap
        self.job_delay_s = self.args.job_delay
        self.job_retry_after = self.args.job_retry_after
        self.location = "relative"

    def take_fault(self, method, target, kinds):
        """The first active fault of one of `kinds` matching this request, consumed; or None."""
        for f in self.faults:
            if f["kind"] not in kinds:
                continue
            if f.get("method") and f["method"].upper() != method:
                continue
            if not re.search(f.get("path") or "^/api/v2/", target):
                continue
            if f.get("count", 1) == 0:
                continue
            if f.get("after", 0) > 0:
                f["after"] -= 1
                continue
            if f.get("count", 1) > 0:
                f["count"] = f.get("count", 1) - 1
            f["hits"] = f.get("hits", 0) + 1
            return f
        return None

    def rate_limited(self):
        rl = self.rate_limit
        if not rl:
            return None
        now = time.monotonic()
        window = float(rl.get("window_s", 60))
        self.rate_hits = [t for t in self.rate_hits if now - t < window]
        if len(self.rate_hits) >= int(rl.get("limit", 500)):
            return rl
        self.rate_hits.append(now)
        return None


# ------------------------------------------------------------------------------------------------
# Request handling


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pce-sim/1.0"
    sim = None  # set at start

    def log_message(self, fmt, *args):
        if self.sim.args.verbose:
            sys.stderr.write("pce-sim: " + (fmt % args) + "\n")

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    # -- plumbing --------------------------------------------------------------------------------

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def json_body(self):
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else None
        except (ValueError, UnicodeDecodeError):
            raise Reply(406, err_body("input_validation_error",
                                      "Input validation failed. Details: {body is not valid JSON}"))

    def send_reply(self, status, body=None, headers=None, die_after=None, entry=None):
        if body is None:
            data = b""
        elif isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        hdrs = {"X-Request-Id": str(uuid.uuid4())}
        if data:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        for k, v in hdrs.items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(data)))
        if die_after is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if entry is not None:
            entry["status"] = status
            entry["request_id"] = hdrs["X-Request-Id"]
        if die_after is not None:
            cut = len(data) // 2 if die_after < 0 else min(die_after, max(len(data) - 1, 0))
            self.wfile.write(data[:cut])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if self.command != "HEAD":
            self.wfile.write(data)

    def auth_state(self):
        h = self.headers.get("Authorization")
        if not h:
            return "missing"
        parts = h.split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "basic":
            return "bad"
        try:
            user, _, pw = base64.b64decode(parts[1], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return "bad"
        return "ok" if (user, pw) == (self.sim.api_key, self.sim.api_secret) else "bad"

    def handle_any(self):
        sim = self.sim
        self.body = self.read_body()
        parsed = urllib.parse.urlsplit(self.path)
        self.route_path = parsed.path
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query,
                                                                  keep_blank_values=True).items()}
        target = self.path
        with sim.store.lock:
            sim.seq += 1
            entry = {"seq": sim.seq, "time": time.time(), "method": self.command,
                     "path": self.route_path, "query": self.query,
                     "headers": {k.lower(): v for k, v in self.headers.items()
                                 if k.lower() != "authorization"},
                     "auth": None, "status": None,
                     "body": self.body[:65536].decode("utf-8", "replace")}
            if not self.route_path.startswith("/_sim/"):
                sim.log.append(entry)
        if self.route_path.startswith("/_sim/"):
            try:
                status, body = self.control()
            except Reply as r:
                status, body = r.status, r.body
            self.send_reply(status, body)
            return

        entry["auth"] = self.auth_state()
        with sim.store.lock:
            drop = sim.take_fault(self.command, target, ("drop",))
            delay = sim.take_fault(self.command, target, ("delay",))
        if drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            entry["status"] = "dropped"
            return
        if delay:
            time.sleep(float(delay.get("seconds", 1)))
        headers = {}
        die = None
        try:
            if entry["auth"] != "ok":
                raise Reply(401, None, {"WWW-Authenticate": 'Basic realm="PCE"'})
            with sim.store.lock:
                if sim.take_fault(self.command, target, ("provision",)) is not None:
                    # Someone provisions on the PCE just before this request is served.
                    self.provision({"update_description": "provisioned by a simulator fault"})
                f = sim.take_fault(self.command, target, ("429", "status", "die"))
                rl = sim.rate_limited() if f is None or f["kind"] == "die" else None
            if f is not None and f["kind"] == "429" or rl is not None:
                spec = f if rl is None else rl
                h = {}
                if spec.get("retry_after") is not None:
                    h["Retry-After"] = str(spec["retry_after"])
                raise Reply(429, err_body("too_many_requests_error",
                                          "API rate limit exceeded"), h)
            if f is not None and f["kind"] == "status" and f.get("echo_auth"):
                # A broken PCE or proxy echoing the request's headers in its error body.
                raise Reply(int(f.get("status", 500)),
                            "Internal error while handling %s %s (url: %s)\nAuthorization: %s\n"
                            % (self.command, self.path, f.get("echo_url", ""),
                               self.headers.get("Authorization")), f.get("headers"))
            if f is not None and f["kind"] == "status":
                raise Reply(int(f.get("status", 500)),
                            f.get("body", err_body("internal_error",
                                                   "Something went wrong (injected)")),
                            f.get("headers"))
            if f is not None and f["kind"] == "die":
                die = int(f.get("bytes", -1))
            with sim.store.lock:
                status, body, headers = self.route(target)
        except Reply as r:
            status, body, headers = r.status, r.body, r.headers
        self.send_reply(status, body, headers, die_after=die, entry=entry)

    # -- control API -----------------------------------------------------------------------------

    def control(self):
        sim, p, m = self.sim, self.route_path, self.command
        with sim.store.lock:
            if p == "/_sim/health":
                return 200, {"ok": True}
            if p == "/_sim/load" and m == "POST":
                sim.store.load(self.json_body())
                sim.store.jobs.clear()
                return 200, {"ok": True, "workloads": len(sim.store.workloads)}
            if p == "/_sim/reset" and m == "POST":
                sim.reset()
                return 200, {"ok": True}
            if p == "/_sim/generate" and m == "POST":
                b = self.json_body() or {}
                sim.store.generate_workloads(int(b.get("workloads", 0)), b.get("labels"),
                                             b.get("start"))
                return 200, {"ok": True, "workloads": len(sim.store.workloads)}
            if p == "/_sim/state" and m == "GET":
                s = sim.store
                return 200, {"labels": s.labels, "workloads": s.workloads,
                             "draft": s.policy["draft"], "active": s.policy["active"],
                             "service_bindings": s.bindings, "versions": s.versions}
            if p == "/_sim/config" and m == "POST":
                b = self.json_body() or {}
                for k in ("cap", "job_delay_s", "job_retry_after", "api_key", "api_secret",
                          "location", "rate_limit"):
                    if k in b:
                        setattr(sim, k, b[k])
                sim.rate_hits = []
                return 200, {"ok": True}
            if p == "/_sim/faults" and m == "POST":
                b = self.json_body() or {}
                faults = b.get("faults", [])
                for f in faults:
                    if f.get("kind") not in ("429", "status", "die", "drop", "delay",
                                             "job_fail", "truncate", "no_total", "provision"):
                        raise Reply(400, {"error": "unknown fault kind %r" % f.get("kind")})
                sim.faults = faults
                return 200, {"ok": True}
            if p == "/_sim/faults" and m == "GET":
                return 200, sim.faults
            if p == "/_sim/requests" and m == "GET":
                since = int(self.query.get("since", 0))
                return 200, [e for e in sim.log if e["seq"] > since]
            if p == "/_sim/requests" and m == "DELETE":
                sim.log = []
                return 200, {"ok": True}
            if p == "/_sim/traffic" and m == "GET":
                return 200, {"posts": sim.traffic_posts, "flows": sim.traffic_flows}
            if p == "/_sim/shutdown" and m == "POST":
                threading.Thread(target=self.server.shutdown, daemon=True).start()
                return 200, {"ok": True}
        raise Reply(404, {"error": "unknown control path %s %s" % (m, p)})

    # -- PCE API ---------------------------------------------------------------------------------

    def route(self, target):
        sim, store = self.sim, self.sim.store
        p, m = self.route_path, self.command
        if not p.startswith("/api/v2/"):
            raise Reply(404, err_body("not_found", "Not Found: API paths start with /api/v2"))
        rest = p[len("/api/v2"):].rstrip("/")
        if rest == "/health":
            return 200, [{"status": "normal", "type": "snc0", "fqdn": "127.0.0.1"}], {}
        mo = re.match(r"^/orgs/(\d+)(/.*)?$", rest)
        if not mo:
            raise Reply(404, err_body("not_found", "Not Found"))
        if int(mo.group(1)) != store.org:
            raise Reply(403, None)
        sub = mo.group(2) or ""
        parts = [x for x in sub.split("/") if x]
        if sub == "/settings/workloads" and m == "GET":
            return 200, {"href": store.prefix() + "/settings/workloads"}, {}
        if parts[:1] == ["labels"]:
            return self.crud(parts, store.labels, "labels", store.prefix() + "/labels",
                             int_ids=True)
        if parts[:1] == ["workloads"]:
            if len(parts) == 2 and parts[1] == "bulk_create" and m == "PUT":
                return self.bulk_create_workloads()
            return self.crud(parts, store.workloads, "workloads", store.prefix() + "/workloads",
                             int_ids=False)
        if parts[:1] == ["sec_policy"]:
            return self.sec_policy(parts)
        if parts[:1] == ["service_bindings"]:
            return self.service_bindings(parts)
        if parts[:1] == ["jobs"] and len(parts) == 2 and m == "GET":
            return self.job(parts[1])
        if parts[:1] == ["datafiles"] and len(parts) == 2 and m == "GET":
            if parts[1] not in store.datafiles:
                raise Reply(404, err_body("not_found", "Not Found"))
            return 200, store.datafiles[parts[1]], {}
        if parts == ["agents", "bulk_traffic_flows"]:
            if m != "POST":
                raise Reply(405, None)
            return self.bulk_traffic()
        raise Reply(404, err_body("not_found", "Not Found: %s" % p))

    def collection(self, kind, items, render=None):
        sim, store = self.sim, self.sim.store
        matched = filter_collection(kind, items, self.query)
        if render is not None:
            matched = [render(o) for o in matched]
        total = len(matched)
        if "prefer" in self.headers and "respond-async" in self.headers["Prefer"].lower():
            return self.start_job(matched)
        cap = sim.cap
        if "max_results" in self.query:
            try:
                cap = int(self.query["max_results"])
                if cap < 0:
                    raise ValueError
            except ValueError:
                raise Reply(406, err_body("input_validation_error",
                                          "Input validation failed. Details: {max_results must "
                                          "be a non-negative integer}"))
        if sim.take_fault(self.command, self.path, ("no_total",)) is not None:
            return 200, matched[:cap], {}
        return 200, matched[:cap], {"X-Total-Count": str(total)}

    def start_job(self, result):
        sim, store = self.sim, self.sim.store
        jid = str(uuid.uuid4())
        fail = sim.take_fault(self.command, self.path, ("job_fail",)) is not None
        cut = sim.take_fault(self.command, self.path, ("truncate",))
        if cut is not None:
            result = result[:max(0, len(result) - int(cut.get("items", 1)))]
        job = {"href": "%s/jobs/%s" % (store.prefix(), jid),
               "job_type": ":illumio/async_requests", "description": self.route_path[7:],
               "result": {}, "status": "running", "requested_at": now_iso(),
               "requested_by": {"href": "/users/1"}}
        store.jobs[jid] = {"job": job, "ready_at": time.monotonic() + float(sim.job_delay_s),
                           "fail": fail, "result": result, "polls": 0}
        loc = job["href"]
        if sim.location == "absolute":
            loc = sim.url + "/api/v2" + loc
        return 202, None, {"Location": loc, "Retry-After": str(sim.job_retry_after)}

    def job(self, jid):
        sim, store = self.sim, self.sim.store
        j = store.jobs.get(jid)
        if j is None:
            raise Reply(404, err_body("not_found", "Not Found"))
        j["polls"] += 1
        job = j["job"]
        if job["status"] == "running" and time.monotonic() >= j["ready_at"]:
            job["terminated_at"] = now_iso()
            if j["fail"]:
                job["status"] = "failed"
                job["result"] = {"message": "Async request failed (injected)"}
            else:
                did = str(uuid.uuid4())
                store.datafiles[did] = j["result"]
                job["status"] = "done"
                job["result"] = {"href": "%s/datafiles/%s" % (store.prefix(), did)}
        headers = {}
        if job["status"] == "running":
            headers["Retry-After"] = str(sim.job_retry_after)
        return 200, job, headers

    def crud(self, parts, items, kind, base, int_ids, render=None, on_create=None,
             writable=True):
        m = self.command
        if len(parts) == 1:
            if m == "GET":
                return self.collection(kind, items, render)
            if m == "POST":
                if not writable:
                    raise Reply(406, err_body("not_acceptable_error",
                                              "Not Acceptable. Active policy cannot be changed; "
                                              "change the draft and provision it."))
                body = self.json_body()
                if not isinstance(body, dict):
                    raise Reply(406, err_body("input_validation_error",
                                              "Input validation failed. Details: {body must be "
                                              "an object}"))
                obj = copy.deepcopy(body)
                obj["href"] = (self.sim.store.new_int_href(base) if int_ids
                               else "%s/%s" % (base, uuid.uuid4()))
                obj.setdefault("created_at", now_iso())
                obj["updated_at"] = obj["created_at"]
                obj["created_by"] = obj["updated_by"] = {"href": "/users/1"}
                if on_create:
                    on_create(obj)
                items.append(obj)
                return 201, render(obj) if render else obj, {}
            raise Reply(405, None)
        href = base + "/" + parts[1]
        obj = next((o for o in items if o["href"] == href), None)
        if obj is None:
            raise Reply(404, err_body("not_found", "Not Found: %s" % href))
        if m == "GET":
            return 200, render(obj) if render else obj, {}
        if m in ("PUT", "DELETE") and not writable:
            raise Reply(406, err_body("not_acceptable_error",
                                      "Not Acceptable. Active policy cannot be changed; change "
                                      "the draft and provision it."))
        if m == "PUT":
            body = self.json_body()
            if not isinstance(body, dict):
                raise Reply(406, err_body("input_validation_error",
                                          "Input validation failed. Details: {body must be an "
                                          "object}"))
            body.pop("href", None)
            obj.update(body)
            obj["updated_at"] = now_iso()
            if "update_type" in obj or "/sec_policy/draft/" in href:
                # a changed draft object is pending provisioning, seeded ones included
                obj["update_type"] = obj.get("update_type") or "update"
            return 204, None, {}
        if m == "DELETE":
            if "update_type" in obj:
                obj["update_type"] = "delete"
                obj["deleted_at"] = now_iso()
            else:
                items.remove(obj)
            return 204, None, {}
        raise Reply(405, None)

    def sec_policy(self, parts):
        store, m = self.sim.store, self.command
        if len(parts) == 1:
            if m == "POST":
                return self.provision()
            if m == "GET":
                # "Get a list of all provisioned security policy versions" (newest first).
                return self.collection("sec_policy", list(reversed(store.versions)))
            raise Reply(405, None)
        pv = parts[1]
        if pv not in ("draft", "active"):
            if not pv.isdigit() or int(pv) not in store.snapshots:
                raise Reply(404, err_body("not_found", "Not Found"))
            if len(parts) == 2 and m == "GET":
                return 200, store.versions[int(pv) - 1], {}
        if len(parts) < 3 or parts[2] not in VERSIONED:
            raise Reply(404, err_body("not_found", "Not Found"))
        kind = parts[2]
        tree = store.policy[pv] if pv in ("draft", "active") else store.snapshots[int(pv)]
        items = tree[kind]
        base = "%s/sec_policy/%s/%s" % (store.prefix(), pv, kind)
        rep = self.query.get("representation")
        render = None
        if kind == "rule_sets" and rep == "rule_set_services_labels_and_names":
            render = lambda o: expand_rule_set(o, store)
        if kind == "virtual_services" and rep == "virtual_service_labels_services_and_workloads":
            render = lambda o: add_bound_workloads(o, store)
        if kind == "rule_sets" and len(parts) in (5, 6) and parts[4] == "sec_rules":
            return self.sec_rules(pv, items, base + "/" + parts[3], parts[4:])
        if len(parts) > 4:
            raise Reply(404, err_body("not_found", "Not Found"))

        def on_create(obj):
            obj["update_type"] = "create"
            obj.setdefault("rules", []) if kind == "rule_sets" else None

        return self.crud(parts[2:], items, kind, base, int_ids=kind in INT_ID_TYPES,
                         render=render, on_create=on_create, writable=pv == "draft")

    def sec_rules(self, pv, rule_sets, rs_href, parts):
        m = self.command
        rs = next((o for o in rule_sets if o["href"] == rs_href), None)
        if rs is None:
            raise Reply(404, err_body("not_found", "Not Found: %s" % rs_href))
        rules = rs.setdefault("rules", [])
        if m in ("POST", "PUT"):
            body = self.json_body()
            if isinstance(body, dict):
                extra = sorted(set(body) - RULE_KEYS - {"href"})
                if extra:
                    raise Reply(406, err_body(
                        "input_validation_error",
                        "Input validation failed. Details: {The property '#/' contains "
                        "additional properties %s outside of the schema when none are allowed "
                        "in schema sec_policy_rule_sets_sec_rules_post.schema.json}"
                        % json.dumps(extra)))

        def on_create(obj):
            obj.setdefault("enabled", True)
            if rs.get("update_type") is None:
                rs["update_type"] = "update"

        return self.crud(parts, rules, "sec_rules", rs_href + "/sec_rules", int_ids=True,
                         on_create=on_create, writable=pv == "draft")

    def provision(self, body=None):
        store = self.sim.store
        body = (self.json_body() or {}) if body is None else body
        subset = body.get("change_subset")
        wanted = None
        if subset is not None:
            if not isinstance(subset, dict):
                raise Reply(406, err_body("input_validation_error",
                                          "Input validation failed. Details: {change_subset}"))
            wanted = set()
            for kind, refs in subset.items():
                for r in refs or []:
                    wanted.add(r.get("href"))
        provisioned = []
        for kind in VERSIONED:
            draft = store.policy["draft"][kind]
            active = store.policy["active"][kind]
            for obj in list(draft):
                if obj.get("update_type") is None:
                    continue
                if wanted is not None and obj["href"] not in wanted:
                    continue
                ahref = obj["href"].replace("/sec_policy/draft/", "/sec_policy/active/")
                active[:] = [a for a in active if a["href"] != ahref]
                if obj["update_type"] == "delete":
                    draft.remove(obj)
                else:
                    obj["update_type"] = None
                    for r in obj.get("rules") or []:
                        r["update_type"] = None
                    active.append(rewrite_pv(obj, "draft", "active"))
                provisioned.append(ahref)
        if wanted is not None:
            missing = sorted(h for h in wanted if h.replace("/sec_policy/active/", "/sec_policy/draft/")
                             not in {x.replace("/sec_policy/active/", "/sec_policy/draft/")
                                     for x in provisioned})
            if missing and not provisioned:
                raise Reply(406, err_body("not_acceptable_error",
                                          "Not Acceptable. One or more specified objects either "
                                          "don't exist, or do not have a draft version."))
        return 201, store.new_version(body.get("update_description"), provisioned), {}

    def service_bindings(self, parts):
        store, m = self.sim.store, self.command
        if len(parts) == 1 and m == "GET":
            items = store.bindings
            if "virtual_service" in self.query:
                vid = href_id(self.query["virtual_service"])
                items = [b for b in items if href_id(b["virtual_service"]["href"]) == vid]
            return 200, items[:self.sim.cap], {"X-Total-Count": str(len(items))}
        if len(parts) == 1 and m == "POST":
            body = self.json_body()
            if not isinstance(body, list):
                raise Reply(406, err_body("input_validation_error",
                                          "Input validation failed. Details: {body must be an "
                                          "array}"))
            active = {v["href"] for v in store.policy["active"]["virtual_services"]}
            wl = {w["href"] for w in store.workloads}
            out = []
            for b in body:
                vs = (b.get("virtual_service") or {}).get("href")
                w = (b.get("workload") or {}).get("href")
                if vs not in active:
                    out.append({"token": "virtual_service_not_active",
                                "message": "Virtual service %s is not provisioned" % vs})
                    continue
                if w not in wl:
                    out.append({"token": "workload_not_found", "message": "No workload %s" % w})
                    continue
                href = "%s/service_bindings/%s" % (store.prefix(), uuid.uuid4())
                store.bindings.append({"href": href, "virtual_service": {"href": vs},
                                       "workload": {"href": w},
                                       "port_overrides": b.get("port_overrides") or []})
                out.append({"href": href})
            return 201, out, {}
        if len(parts) == 2:
            href = "%s/service_bindings/%s" % (store.prefix(), parts[1])
            b = next((x for x in store.bindings if x["href"] == href), None)
            if b is None:
                raise Reply(404, err_body("not_found", "Not Found"))
            if m == "GET":
                return 200, b, {}
            if m == "DELETE":
                store.bindings.remove(b)
                return 204, None, {}
        raise Reply(405, None)

    def bulk_create_workloads(self):
        store = self.sim.store
        body = self.json_body()
        if not isinstance(body, list):
            raise Reply(406, err_body("input_validation_error",
                                      "Input validation failed. Details: {body must be an array}"))
        if len(body) > BULK_MAX:
            raise Reply(406, err_body("too_many_items", "At most %d workloads per request"
                                      % BULK_MAX))
        out = []
        for w in body:
            obj = copy.deepcopy(w)
            obj["href"] = "%s/workloads/%s" % (store.prefix(), uuid.uuid4())
            obj.setdefault("interfaces", [])
            obj.setdefault("labels", [])
            obj.setdefault("ven", None)
            obj["created_at"] = obj["updated_at"] = now_iso()
            store.workloads.append(obj)
            out.append({"href": obj["href"], "status": "created"})
        return 200, out, {}

    def bulk_traffic(self):
        sim, store = self.sim, self.sim.store
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "text/csv":
            raise Reply(406, err_body("input_validation_error",
                                      "Input validation failed. Details: {Content-Type must be "
                                      "text/csv, got %r}" % ctype))
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise Reply(406, err_body("input_validation_error", "body is not UTF-8 text"))
        lines = [l for l in text.split("\n") if l.strip() != ""]
        if len(lines) > BULK_MAX:
            raise Reply(406, err_body("too_many_flows",
                                      "Too many flows: %d lines, at most %d per request"
                                      % (len(lines), BULK_MAX)))
        owners = store.address_owners()
        failed = []
        ok = []
        for line in lines:
            fields = [x.strip() for x in line.split(",")]
            good = len(fields) == 4
            if good:
                try:
                    src = str(ipaddress.ip_address(fields[0]))
                    dst = str(ipaddress.ip_address(fields[1]))
                    port, proto = int(fields[2]), int(fields[3])
                    good = 0 <= port <= 65535 and 0 <= proto <= 255
                    good = good and src in owners and dst in owners
                except ValueError:
                    good = False
            (ok if good else failed).append(line)
        sim.traffic_flows.extend(ok)
        sim.traffic_posts.append({"received": len(lines), "failed": len(failed), "lines": lines})
        return 201, {"num_flows_received": len(lines), "num_flows_failed": len(failed),
                     "failed_flows": failed}, {}


# ------------------------------------------------------------------------------------------------
# TLS and startup


def make_certs(directory):
    """A throwaway CA and a server certificate for 127.0.0.1/localhost (EC P-256, 2 days)."""
    ca_key = os.path.join(directory, "ca.key")
    ca = os.path.join(directory, "ca.pem")
    key = os.path.join(directory, "server.key")
    csr = os.path.join(directory, "server.csr")
    crt = os.path.join(directory, "server.pem")
    ext = os.path.join(directory, "server.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def run(*cmd):
        subprocess.run(["openssl"] + list(cmd), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=flowseg PCE simulator test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "2", "-extfile", ext)
    return ca, crt, key


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the request's own thread so one slow client cannot stall
        # accept().
        try:
            request.settimeout(30)
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass


def parse_args(argv):
    ap = argparse.ArgumentParser(description="Illumio PCE simulator for flowseg tests")
    ap.add_argument("--seed", default=DEFAULT_SEED)
    ap.add_argument("--workloads", type=int, default=0)
    ap.add_argument("--org", type=int, default=1)
    ap.add_argument("--api-key", default="api_1a2b3c4d5e6f7g")
    ap.add_argument("--api-secret", default="s3cr3t-t0k3n")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--info-file", default=None)
    ap.add_argument("--job-delay", type=float, default=0.0)
    ap.add_argument("--job-retry-after", type=int, default=1)
    ap.add_argument("--cap", type=int, default=DEFAULT_CAP)
    ap.add_argument("--verbose", action="store_true")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("pce-sim: refusing to bind %s (loopback only)" % args.host)
    own_dir = args.dir is None
    directory = tempfile.mkdtemp(prefix="pcesim-") if own_dir else args.dir
    os.makedirs(directory, exist_ok=True)
    try:
        ca, crt, key = make_certs(directory)
    except subprocess.CalledProcessError as e:
        sys.exit("pce-sim: openssl failed: %s" % e.stderr.decode(errors="replace"))
    sim = Sim(args)
    Handler.sim = sim
    server = TLSServer((args.host, args.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    server.ssl_ctx = ctx
    port = server.server_address[1]
    sim.url = "https://127.0.0.1:%d" % port
    info = {"port": port, "url": sim.url, "ca": ca, "org_id": args.org, "api_key": args.api_key,
            "api_secret": args.api_secret, "pid": os.getpid(), "dir": directory}
    line = json.dumps(info)
    if args.info_file:
        tmp = args.info_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(line + "\n")
        os.replace(tmp, args.info_file)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        if own_dir:
            shutil.rmtree(directory, ignore_errors=True)


# ------------------------------------------------------------------------------------------------
# Helper for Python test scripts


class SimProcess:
    """Starts the simulator as a child process and talks to its control API.

    SimProcess(workloads=0, seed=None, extra_args=(), timeout_s=20). Attributes: url, ca, port,
    org_id, api_key, api_secret, info (the ready line as a dict), proc."""

    def __init__(self, workloads=0, seed=None, extra_args=(), timeout_s=20):
        cmd = [sys.executable, os.path.abspath(__file__)]
        if workloads:
            cmd += ["--workloads", str(workloads)]
        if seed:
            cmd += ["--seed", seed]
        cmd += list(extra_args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        line = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line or self.proc.poll() is not None:
                break
        if not line:
            self.stop()
            raise RuntimeError("pce-sim did not start")
        self.info = json.loads(line)
        for k in ("url", "ca", "port", "org_id", "api_key", "api_secret"):
            setattr(self, k, self.info[k])
        self.ssl_ctx = ssl.create_default_context(cafile=self.ca)

    def control(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self.ssl_ctx, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def api(self, method, path, body=None, headers=None, auth=True):
        """One PCE API call (path under /api/v2); returns (status, headers, parsed body)."""
        h = dict(headers or {})
        if auth:
            tok = base64.b64encode(("%s:%s" % (self.api_key, self.api_secret)).encode()).decode()
            h["Authorization"] = "Basic " + tok
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url + "/api/v2" + path, data=data, method=method,
                                     headers=h)
        try:
            with urllib.request.urlopen(req, context=self.ssl_ctx, timeout=30) as r:
                raw = r.read()
                return r.status, dict(r.headers), json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw
            return e.code, dict(e.headers), parsed

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


if __name__ == "__main__":
    main()
