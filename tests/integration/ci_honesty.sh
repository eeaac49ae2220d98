#!/usr/bin/env bash
# CI honesty: under CI=true, scripts/test's closing count treats a skipped integration test as a
# failure (scripts/test-summary); elsewhere a skip is listed, not counted. .ci/run sets CI=true.
# Exit 0 pass, 1 fail.
set -uo pipefail
src=${FSG_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat >"$tmp/testlog.json" <<'JSON'
{"name": "test_buf", "result": "OK", "command": ["/b/tests/test_buf"], "stdout": ""}
{"name": "s3_moto.sh", "result": "SKIP", "command": ["/src/tests/integration/s3_moto.sh"], "stdout": "SKIP: moto/boto3 not installed\n"}
{"name": "fuzz_x", "result": "SKIP", "command": ["/b/tests/fuzz_x"], "stdout": ""}
{"name": "apply_moto.py", "result": "FAIL", "command": ["/src/tests/integration/apply_moto.py"], "stdout": ""}
JSON
out=$(env -u CI "$src/scripts/test-summary" "$tmp/testlog.json" 2>"$tmp/err") || fail "test-summary failed"
[ "$out" = "1 1" ] || fail "without CI: want '1 1' (skips not counted), got '$out'"
grep -q 'skipped: s3_moto.sh - SKIP: moto/boto3 not installed' "$tmp/err" || fail "the skip and its reason are not listed: $(cat "$tmp/err")"
out=$(CI=true "$src/scripts/test-summary" "$tmp/testlog.json" 2>"$tmp/err") || fail "test-summary failed"
[ "$out" = "1 2" ] || fail "CI=true: want '1 2' (the skipped integration test fails), got '$out'"
grep -q 'FAILED (skipped, CI=true): s3_moto.sh' "$tmp/err" || fail "CI=true: not said why: $(cat "$tmp/err")"
out=$("$src/scripts/test-summary" "$tmp/missing.json" 2>/dev/null)
[ "$out" = "0 1" ] || fail "a missing log must count as a failure, got '$out'"
grep -qx 'export CI=true' "$src/.ci/run" || fail ".ci/run does not export CI=true"
grep -q 'scripts/test-summary' "$src/scripts/test" || fail "scripts/test does not count with scripts/test-summary"
echo "PASS"
