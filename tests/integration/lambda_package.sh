#!/usr/bin/env bash
# The packaged Lambda zip, unpacked into an empty directory and started with a clean
# environment, reaches the Runtime API (tests/lambda_rapi/rapi_server.py):
# - the zip carries its own loader and glibc; bootstrap is a /bin/sh script; the bundled loader
#   resolves every library inside lib/ (nothing from the host);
# - without FLOWSEG_CONFIG it reports an init error and exits 1;
# - with the bundled config it answers an S3 event (key with spaces and '=') with a summary,
#   answers a malformed event with an error and goes on, answers an invocation near its
#   deadline with a partial summary in time, and refuses an invalid deadline header;
# - cold start (process start -> first `next`) is measured and printed;
# - --ca-file bundles pce-ca.pem and points the bundled config's pce.ca_file at it;
# - the script fails when a library cannot be bundled (an unresolvable DT_NEEDED).
# (tests/integration/lambda_chroot.py runs the zip in an empty root, end to end.)
# Exit 0 pass, 1 fail, 77 skip (a packaging tool is missing).
set -uo pipefail

src=${FSG_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${FSG_BUILD_ROOT:-$src/build}
flowseg="$build/cmd/flowseg"
rapi="$src/tests/lambda_rapi/rapi_server.py"

for tool in patchelf zip unzip readelf python3 openssl; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (scripts/setup installs it)"
    exit 77
  fi
done
[ -x "$flowseg" ] || { echo "FAIL: $flowseg not built"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# 1. Package, with a config to bundle.
cat >"$tmp/flowseg.json" <<'EOF'
{"region": "us-east-1", "flowlogs": {"key_regex": "\\.log\\.gz$"}, "dry_run": true}
EOF
"$src/scripts/package-lambda" --binary "$flowseg" --out "$tmp/fn.zip" --config "$tmp/flowseg.json" \
  || fail "scripts/package-lambda failed"

# 2. Unpack into an empty directory and look at it.
mkdir "$tmp/task"
unzip -q "$tmp/fn.zip" -d "$tmp/task" || fail "unzip failed"
task="$tmp/task"
[ -x "$task/bootstrap" ] || fail "bootstrap is missing or not executable"
[ -x "$task/flowseg" ] || fail "flowseg is missing or not executable"
[ -f "$task/flowseg.json" ] || fail "flowseg.json was not bundled"
head -n 1 "$task/bootstrap" | grep -qx '#!/bin/sh' || fail "bootstrap is not a /bin/sh script"
for lib in libcurl.so.4 libjansson.so.4 libcrypto.so.3 libc.so.6 ld-linux-x86-64.so.2; do
  [ -f "$task/lib/$lib" ] || fail "lib/$lib is not bundled"
done
[ -x "$task/lib/ld-linux-x86-64.so.2" ] || fail "the bundled loader is not executable"
readelf -d "$task/flowseg" | grep -q 'RUNPATH.*\[\$ORIGIN/lib\]' \
  || fail "flowseg's RUNPATH is not \$ORIGIN/lib: $(readelf -d "$task/flowseg" | grep -i path)"

# 3. The bundled loader resolves every library inside the bundle.
list=$(cd "$task" && env -i ./lib/ld-linux-x86-64.so.2 --library-path ./lib --list ./flowseg) \
  || fail "the bundled loader cannot list flowseg"
echo "$list" | grep -q 'not found' && fail "unresolved: $(echo "$list" | grep 'not found')"
outside=$(echo "$list" | awk '$2 == "=>" && index($3, "./lib/") != 1 { print $1 }')
[ -z "$outside" ] || fail "resolved outside the bundle: $outside"
echo "$list" | grep -q '=> ./lib/libc.so.6' || fail "libc does not come from the bundle: $list"
echo "ok: the bundled loader resolves $(echo "$list" | grep -c '=> ./lib/') libraries inside the bundle"
v=$(cd / && env -i "$task/bootstrap" version) || fail "bootstrap version failed: $v"
echo "$v" | grep -q '^flowseg ' || fail "bootstrap version: $v"

# 4. No config: the init error reaches the Runtime API, the process exits 1.
(cd "$task" && timeout 60 python3 "$rapi" --exit-when-drained --results "$tmp/init.json" --clean-env \
   --timeout-s 30 --run ./bootstrap >"$tmp/init.out" 2>&1) || fail "rapi server: $(cat "$tmp/init.out")"
python3 - "$tmp/init.json" <<'EOF' || fail "init error scenario: $(cat "$tmp/init.out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["child_exit"] == 1, r["child_exit"]
res = r["results"]
assert len(res) == 1 and res[0]["type"] == "init_error", res
assert res[0]["error_type"] == "Runtime.ConfigInvalid", res[0]
assert res[0]["json"]["errorType"] == "Runtime.ConfigInvalid", res[0]
assert "FLOWSEG_CONFIG is not set" in res[0]["json"]["errorMessage"], res[0]
print("ok: init error posted:", res[0]["json"]["errorMessage"][:80])
EOF

# 5. Bundled config (relative path, as Lambda's cwd is the task root): the loop.
ev="$tmp/events"
mkdir "$ev"
cat >"$ev/01-s3.json" <<'EOF'
{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","bucket":{"name":"flow-logs-bucket","arn":"arn:aws:s3:::flow-logs-bucket"},"object":{"key":"AWSLogs/aws-account-id%3D123456789012/my+flow+logs/fl-1_20240101T0000Z.log.gz","size":1234,"sequencer":"0063CC545C372D5A7F"}}},{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"flow-logs-bucket"},"object":{"key":"AWSLogs/not-a-flow-log.txt","size":1}}}]}
EOF
echo '{"hello": "world"}' >"$ev/02-malformed.json"
echo '{"scan": "s3://flow-logs-bucket/AWSLogs/"}' >"$ev/03-near-deadline.json"
echo '{"deadline_in_ms": 1500}' >"$ev/03-near-deadline.meta.json"
cp "$ev/03-near-deadline.json" "$ev/04-bad-deadline.json"
echo '{"deadline_header": "tomorrow"}' >"$ev/04-bad-deadline.meta.json"
cat >"$ev/05-scheduled.json" <<'EOF'
{"version":"0","id":"53dc4d37","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2024-01-01T00:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/flowseg-reconcile"],"detail":{}}
EOF

(cd "$task" && timeout 60 python3 "$rapi" --events "$ev" --exit-when-drained --results "$tmp/loop.json" \
   --log "$tmp/loop.log" --clean-env --env FLOWSEG_CONFIG=flowseg.json --timeout-s 30 \
   --run ./bootstrap >"$tmp/loop.out" 2>&1) || fail "rapi server: $(cat "$tmp/loop.out")"
python3 - "$tmp/loop.json" <<'EOF' || fail "loop scenario: $(cat "$tmp/loop.out")"
import json, sys
r = json.load(open(sys.argv[1]))
res = r["results"]
assert [x["type"] for x in res] == ["response", "error", "response", "error", "response"], res
s3, bad, near, baddl, sched = res

body = s3["json"]
assert body["kind"] == "objects" and body["origin"] == "s3", body
assert body["objects"] == [{"bucket": "flow-logs-bucket", "size": 1234,
    "key": "AWSLogs/aws-account-id=123456789012/my flow logs/fl-1_20240101T0000Z.log.gz"}], body
assert [o["key"] for o in body["filtered"]] == ["AWSLogs/not-a-flow-log.txt"], body
assert body["partial"] is False, body

assert bad["error_type"] == "Function.FSG_E_PARSE", bad
assert "unrecognised event (keys: hello)" in bad["json"]["errorMessage"], bad
assert bad["json"]["errorType"] == "Function.FSG_E_PARSE", bad

assert near["json"]["kind"] == "scan" and near["json"]["partial"] is True, near
assert near["json"]["deferred"][0]["key"] == "AWSLogs/", near
assert near["before_deadline"], near

assert baddl["error_type"] == "Runtime.InvalidDeadline", baddl
assert "'tomorrow'" in baddl["json"]["errorMessage"], baddl

assert sched["json"]["kind"] == "reconcile_all", sched

assert r["child_exit"] == 1, r["child_exit"]  # drained: `next` cut 3 times, then exit 1
assert r["cold_start_ms"] is not None
print("ok: 5 invocations answered; cold start %.1f ms (process start -> first next)"
      % r["cold_start_ms"])
EOF
grep -q 'Empty reply from server' "$tmp/loop.out" || fail "the runtime did not report why it stopped"

# 6. --ca-file: the private CA is bundled and the bundled config uses it.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/ca.key" -out "$tmp/ca.pem" -days 1 \
  -subj /CN=flowseg-test-ca >/dev/null 2>&1 || fail "openssl could not make a CA"
"$src/scripts/package-lambda" --binary "$flowseg" --out "$tmp/ca.zip" --config "$tmp/flowseg.json" \
  --ca-file "$tmp/ca.pem" --bundle-glibc || fail "scripts/package-lambda --ca-file failed"
mkdir "$tmp/catask"
unzip -q "$tmp/ca.zip" -d "$tmp/catask" || fail "unzip failed"
cmp -s "$tmp/ca.pem" "$tmp/catask/pce-ca.pem" || fail "--ca-file: pce-ca.pem is not the CA given"
python3 - "$tmp/catask/flowseg.json" <<'EOF' || fail "--ca-file: the bundled config"
import json, sys
cfg = json.load(open(sys.argv[1]))
assert cfg["pce"]["ca_file"] == "/var/task/pce-ca.pem", cfg
assert cfg["region"] == "us-east-1" and cfg["dry_run"] is True, cfg
print("ok: --ca-file bundled pce-ca.pem; pce.ca_file =", cfg["pce"]["ca_file"])
EOF
echo "not a certificate" >"$tmp/bad.pem"
"$src/scripts/package-lambda" --binary "$flowseg" --out "$tmp/bad.zip" --ca-file "$tmp/bad.pem" \
  >"$tmp/bad.out" 2>&1 && fail "--ca-file with a non-PEM file was accepted"
grep -q 'not a PEM certificate' "$tmp/bad.out" || fail "--ca-file error: $(cat "$tmp/bad.out")"

# 7. A bundle that cannot start is an error, not a warning: a library that cannot be found.
cp "$flowseg" "$tmp/broken"
patchelf --add-needed libfsg-does-not-exist.so.1 "$tmp/broken" || fail "patchelf failed"
"$src/scripts/package-lambda" --binary "$tmp/broken" --out "$tmp/broken.zip" >"$tmp/broken.out" 2>&1 \
  && fail "a binary with an unresolvable library was packaged: $(cat "$tmp/broken.out")"
grep -q 'libfsg-does-not-exist' "$tmp/broken.out" || fail "the failure does not name the library: $(cat "$tmp/broken.out")"
[ ! -e "$tmp/broken.zip" ] || fail "a zip was written for a binary that cannot start"
echo "ok: an unresolvable library fails the packaging: $(head -n 1 "$tmp/broken.out")"
echo "PASS"
