#!/usr/bin/env python3
"""Cross-checks lib/sigv4 against botocore, byte for byte.

Generates (seeded, reproducible) at least 1000 header-signed requests -- S3 and non-S3, every
method, odd paths (spaces, unicode, '+', '=', '%', '$', '//', '.' and '..'), repeated, empty and
value-less query parameters, repeated and whitespace-laden headers, stale auth headers, bodies,
with and without a session token, signed and UNSIGNED-PAYLOAD -- plus a set of presigned URLs,
signs each with botocore's SigV4Auth / S3SigV4Auth (SigV4QueryAuth / S3SigV4QueryAuth for
presigning) and with tests/unit/sigv4_tool (our C signer), and compares the canonical request,
string to sign, Authorization header and resulting header set (presign: signature and URL
parameters).

The signer tool is found through $FSG_SIGV4_TOOL (set by tests/meson.build), argv[1], or
$FSG_BUILD_ROOT/tests/sigv4_tool. Exit 0 pass, 1 fail, 77 skip (botocore missing).

Known, documented differences that the generator avoids on purpose (see lib/aws/sigv4.h):
  * a Date header: botocore rewrites Date and omits X-Amz-Date; we always add X-Amz-Date;
  * presigning: SigV4QueryAuth drops a "application/x-www-form-urlencoded; charset=utf-8"
    Content-Type and moves form bodies into the query, and signs the body of a non-S3 request
    over http even when payload signing is disabled; we presign the request as given;
  * "&&" (empty query segments): botocore signs "=", we drop them;
  * non-canonical escapes in query strings ("%41", lowercase hex, raw '+'): we decode and
    re-encode like aws-c-auth, botocore signs the query as written;
  * raw (unencoded) non-ASCII or reserved bytes in S3 paths: botocore signs them raw, we encode
    them once as the S3 docs show ("/test$file" -> "/test%24file").
The session token is a secret: both sides replace it by "<session-token>" before comparing or
printing anything.
"""
import datetime
import json
import os
import random
import subprocess
import sys
import types
from urllib.parse import parse_qsl, quote, urlsplit

try:
    import botocore.auth as bauth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    print("SKIP: botocore is not installed")
    sys.exit(77)

SEED = int(os.environ.get("FSG_SIGV4_SEED", "20250115"))
N_HEADER = int(os.environ.get("FSG_SIGV4_COUNT", "1500"))
N_PRESIGN = 300
REDACTED = "<session-token>"

SEGMENTS = ["a b", "\u1234", "\u65e5\u672c", "+", "=", "%", "a+b=c", "", ".", "..", "~user",
            "file.log.gz", "$delete", "key with  spaces", "x@y:z", "!*'()", "\u00e9t\u00e9",
            "\U0001f642", "aws-account-id=123456789012", "year=2025", "100%", "%41", "a%2Fb",
            "semi;colon", "comma,sep", "q?mark", "hash#tag", "AWSLogs", "vpcflowlogs",
            "CAPS", "-_.~", "tab\there", "brace{}", "[bracket]", "back\\slash", "quote\"d"]
QUERY_KEYS = ["prefix", "max-keys", "list-type", "continuation-token", "Param", "Param1", "param1",
              "a", "A", "b", "\u1234", "x y", "key=1", "k+v", "%", "Action", "Version",
              "Filter.1.Name", "uploads", "acl", "delimiter", "start-after", "-._~"]
QUERY_VALUES = ["", "1", "2", "value", "Value", "a b", "a+b", "a=b", "100%", "/", "AWSLogs/1/",
                "\u1234", "\u00e9", "\U0001f642", "x/y/z", "2025-01-15T12:00:00Z", "-_.~",
                "sg-0123456789abcdef0", "!*'()", "\"quoted\"", "a&b"]
HEADER_VALUES = ["value", "  leading", "trailing  ", "in   the   middle", "tab\tinside",
                 " \t mixed \t spaces \t ", "\"a   b   c\"", "", "bytes=0-1048575",
                 "application/x-www-form-urlencoded; charset=utf-8", "text/plain",
                 "UPPER lower 123", "a,b,c", "=;:/?"]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1"]
SERVICES = ["ec2", "rds", "elasticloadbalancing", "service", "sts", "execute-api"]
METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS"]
BODIES = ["", "", "Param1=value1",
          "Action=DescribeSecurityGroupRules&Version=2016-11-15&MaxResults=100",
          "Welcome to Amazon S3.", "\u65e5\u672c\u8a9e \U0001f642 unicode body", "x" * 3000,
          "{\"json\": [1, 2, 3]}", "line1\nline2\r\n"]

clock = {"now": datetime.datetime(2025, 1, 15, 12, 0, 0)}
bauth.get_current_datetime = lambda *a, **k: clock["now"]


class _Capture:
    """Records the canonical request and string to sign botocore computes in add_auth."""
    captured = None

    def string_to_sign(self, request, canonical_request):
        sts = super().string_to_sign(request, canonical_request)
        self.captured = (canonical_request, sts)
        return sts


class CapV4(_Capture, bauth.SigV4Auth):
    pass


class CapS3(_Capture, bauth.S3SigV4Auth):
    pass


class CapV4Query(_Capture, bauth.SigV4QueryAuth):
    pass


class CapS3Query(_Capture, bauth.S3SigV4QueryAuth):
    pass


def redact(s, token):
    return s.replace(token, REDACTED) if token else s


def rand_token(rng):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+="
    return "IQoJ" + "".join(rng.choice(alphabet) for _ in range(rng.randint(20, 300)))


def rand_path(rng, s3):
    segs = [rng.choice(SEGMENTS) for _ in range(rng.randint(0, 6))]
    raw = "/".join(segs)
    if s3:
        # the key as a client sends it: encoded once, '/' kept (botocore's S3 serializer)
        return "/" + quote(raw, safe="/~")
    style = rng.random()
    if style < 0.6:
        return "/" + quote(raw, safe="/~")         # a REST client's encoded path
    if style < 0.8:
        # raw text (urllib drops raw tabs from URLs, so those stay encoded-only)
        return "/" + "/".join(s for s in segs if not any(c in s for c in "?#%\t"))
    return rng.choice(["", "/", "//", "/./", "/a/./b/../c", "/a//b///", "/..", "/a/b/..",
                       "/example/..", "/./example", "//example//"])


def rand_query(rng, unique):
    params = []
    for _ in range(rng.randint(0, 5)):
        key = rng.choice(QUERY_KEYS)
        if unique and any(k == key for k, _, _ in params):
            continue
        form = rng.random()
        value = rng.choice(QUERY_VALUES)
        params.append((key, value, "noeq" if form < 0.1 and not unique else "eq"))
        if not unique and rng.random() < 0.15:                # a repeated key
            params.append((key, rng.choice(QUERY_VALUES), "eq"))
    if not params:
        return ""
    parts = []
    for key, value, form in params:
        k = quote(key, safe="-_.~")
        parts.append(k if form == "noeq" else k + "=" + quote(value, safe="-_.~"))
    return "?" + "&".join(parts)


def rand_host(rng, s3, service, region):
    r = rng.random()
    if r < 0.1:
        return "http://127.0.0.1:9000", ""
    if r < 0.15:
        return "http://[::1]:4566", ""
    if r < 0.2:
        return "http://localhost", ""
    if s3:
        if r < 0.6:
            return f"https://flowlogs-{rng.randint(0, 99)}.s3.{region}.amazonaws.com", ""
        return f"https://s3.{region}.amazonaws.com:443", f"/bucket-{rng.randint(0, 9)}"
    return f"https://{service}.{region}.amazonaws.com", ""


def rand_headers(rng, s3, token, presign):
    headers = []
    for _ in range(rng.randint(0, 5)):
        name = rng.choice(["X-Amz-Meta-Note", "x-amz-meta-note", "Content-Type", "Range",
                           "My-Header1", "my-header1", "X-Custom", "Cache-Control",
                           "If-None-Match", "x-amz-storage-class", "Content-Length"])
        value = rng.choice(HEADER_VALUES)
        if presign and value.startswith("application/x-www-form-urlencoded"):
            continue    # SigV4QueryAuth silently drops this Content-Type; we sign what we get
        headers.append([name, value])
    if rng.random() < 0.2:
        headers.append(["User-Agent", "flowseg/0.1 (never signed)"])
    if rng.random() < 0.1:
        headers.append(["Expect", "100-continue"])
    if rng.random() < 0.1:
        headers.append(["X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793"])
    if not presign:
        if rng.random() < 0.15:
            headers.append(["Authorization", "AWS4-HMAC-SHA256 stale"])
        if rng.random() < 0.15:
            headers.append(["X-Amz-Date", "20000101T000000Z"])
        if token and rng.random() < 0.2:
            headers.append(["X-Amz-Security-Token", "stale-token"])
        if s3 and rng.random() < 0.15:
            headers.append(["X-Amz-Content-SHA256", "stale"])
        if not s3 and rng.random() < 0.05:
            headers.append(["X-Amz-Content-SHA256", "a" * 64])
    if rng.random() < 0.1:
        headers.append(["Host", None])                      # filled in by the caller
    return headers


def make_case(rng, i, presign):
    s3 = rng.random() < 0.5
    service = "s3" if s3 else rng.choice(SERVICES)
    region = rng.choice(REGIONS)
    base, prefix = rand_host(rng, s3, service, region)
    url = base + prefix + rand_path(rng, s3) + rand_query(rng, unique=presign)
    token = rand_token(rng) if rng.random() < 0.5 else ""
    headers = rand_headers(rng, s3, token, presign)
    host = urlsplit(url).netloc
    for h in headers:
        if h[1] is None:
            h[1] = host
    body = "" if presign else rng.choice(BODIES)
    when = datetime.datetime(2000, 1, 1) + datetime.timedelta(
        seconds=rng.randint(0, 35 * 365 * 86400))
    return {
        "id": i,
        "method": "GET" if presign and rng.random() < 0.7 else rng.choice(METHODS),
        "url": url,
        "headers": headers,
        "body": body,
        "region": region,
        "service": service,
        "time": when.strftime("%Y%m%dT%H%M%SZ"),
        "creds": {"access_key_id": "AKID" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
                                                     for _ in range(16)),
                  "secret_access_key": "".join(rng.choice(
                      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/+")
                      for _ in range(40)),
                  "session_token": token},
        "s3": s3,
        # botocore ignores "payload signing disabled" for presigned non-S3 URLs over http
        "unsigned_payload": rng.random() < 0.2 and (s3 or not presign or url.startswith("https")),
        "presign_expires": rng.randint(1, 604800) if presign else 0,
    }


def botocore_sign(case):
    c = case["creds"]
    creds = Credentials(c["access_key_id"], c["secret_access_key"], c["session_token"] or None)
    clock["now"] = datetime.datetime.strptime(case["time"], "%Y%m%dT%H%M%SZ")
    req = AWSRequest(method=case["method"], url=case["url"],
                     data=case["body"].encode("utf-8") if case["body"] else None)
    for name, value in case["headers"]:
        req.headers[name] = value                            # appends: repeats are kept
    presign = case["presign_expires"] > 0
    if case["s3"]:
        if case["unsigned_payload"]:
            req.context["client_config"] = types.SimpleNamespace(
                s3={"payload_signing_enabled": False})
        if presign:
            signer = CapS3Query(creds, case["service"], case["region"],
                                expires=case["presign_expires"])
        else:
            signer = CapS3(creds, case["service"], case["region"])
    else:
        if case["unsigned_payload"]:
            req.context["payload_signing_enabled"] = False
        if presign:
            signer = CapV4Query(creds, case["service"], case["region"],
                                expires=case["presign_expires"])
        else:
            signer = CapV4(creds, case["service"], case["region"])
    signer.add_auth(req)
    canonical, sts = signer.captured
    return req, canonical, sts


def compare(case, ours):
    """Returns a list of differences (redacted, printable)."""
    token = case["creds"]["session_token"]
    if "error" in ours:
        return [f"our signer failed: {ours['error']}"]
    req, canonical, sts = botocore_sign(case)
    diffs = []
    if redact(canonical, token) != ours["canonical_request"]:
        diffs.append(f"canonical request\n--- botocore\n{redact(canonical, token)}\n--- ours\n"
                     f"{ours['canonical_request']}")
    if sts != ours["string_to_sign"]:
        diffs.append(f"string to sign\n--- botocore\n{sts}\n--- ours\n{ours['string_to_sign']}")
    if case["presign_expires"] > 0:
        ours_url = urlsplit(ours["url"])
        theirs_url = urlsplit(redact(req.url, token))
        ours_q = sorted(parse_qsl(ours_url.query, keep_blank_values=True))
        theirs_q = sorted(parse_qsl(theirs_url.query, keep_blank_values=True))
        if ours_url.path != theirs_url.path or ours_q != theirs_q:
            diffs.append(f"presigned URL\n--- botocore\n{redact(req.url, token)}\n--- ours\n"
                         f"{ours['url']}")
        return diffs
    theirs_auth = req.headers.get("Authorization")
    if theirs_auth != ours["authorization"]:
        diffs.append(f"Authorization\n--- botocore\n{theirs_auth}\n--- ours\n"
                     f"{ours['authorization']}")
    theirs_h = sorted((n.lower(), redact(v, token)) for n, v in req.headers.items())
    ours_h = sorted((n.lower(), v) for n, v in ours["headers"])
    if theirs_h != ours_h:
        diffs.append(f"header set\n--- botocore\n{theirs_h}\n--- ours\n{ours_h}")
    return diffs


def find_tool():
    candidates = [os.environ.get("FSG_SIGV4_TOOL"), sys.argv[1] if len(sys.argv) > 1 else None]
    if os.environ.get("FSG_BUILD_ROOT"):
        candidates.append(os.path.join(os.environ["FSG_BUILD_ROOT"], "tests", "sigv4_tool"))
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    return None


def main():
    tool = find_tool()
    if tool is None:
        print("FAIL: sigv4_tool not found (set FSG_SIGV4_TOOL or FSG_BUILD_ROOT, or pass its path)")
        return 1
    rng = random.Random(SEED)
    cases = [make_case(rng, i, presign=False) for i in range(N_HEADER)]
    cases += [make_case(rng, N_HEADER + i, presign=True) for i in range(N_PRESIGN)]
    stdin = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases)
    proc = subprocess.run([tool], input=stdin.encode("utf-8"), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=300, check=False)
    if proc.returncode != 0:
        print(f"FAIL: {tool} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
        return 1
    outputs = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines() if line]
    if len(outputs) != len(cases):
        print(f"FAIL: {len(cases)} requests in, {len(outputs)} answers out")
        return 1
    failures = 0
    stats = {"s3": 0, "other": 0, "token": 0, "body": 0, "unsigned": 0, "presign": 0}
    for case, ours in zip(cases, outputs):
        if ours.get("id") != case["id"]:
            print(f"FAIL: answer for id {ours.get('id')} where {case['id']} was expected")
            return 1
        diffs = compare(case, ours)
        if diffs:
            failures += 1
            if failures <= 5:
                shown = dict(case, creds={"access_key_id": case["creds"]["access_key_id"],
                                          "secret_access_key": "<secret>",
                                          "session_token": REDACTED if case["creds"]
                                          ["session_token"] else ""})
                print(f"MISMATCH request {case['id']}: {json.dumps(shown, ensure_ascii=False)}")
                for d in diffs:
                    print("  " + d.replace("\n", "\n  "))
            continue
        stats["s3" if case["s3"] else "other"] += 1
        stats["token"] += bool(case["creds"]["session_token"])
        stats["body"] += bool(case["body"])
        stats["unsigned"] += case["unsigned_payload"]
        stats["presign"] += case["presign_expires"] > 0
    total = len(cases)
    print(f"sigv4 vs botocore {sys.modules['botocore'].__version__} (seed {SEED}): "
          f"{total - failures}/{total} requests identical "
          f"({N_HEADER} header-signed, {N_PRESIGN} presigned; matched: {stats['s3']} S3, "
          f"{stats['other']} other services, {stats['token']} with a session token, "
          f"{stats['body']} with a body, {stats['unsigned']} UNSIGNED-PAYLOAD, "
          f"{stats['presign']} presigned)")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
