#!/usr/bin/env bash
# flowseg plan, fully offline: config + exported policy (tests/data/plan/policy.json) + a state
# file + a small generated flow log. Checks the JSON report field by field, the exit codes
# (--detailed-exitcode), guard refusals, the other formats, --save-plan/--save-policy, and that
# hostile policy input fails with a clear error and no plan on stdout.
set -u

SRC=${FSG_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${FSG_BUILD_ROOT:-$SRC/build}
FLOWSEG=$BUILD/cmd/flowseg
DATA=$SRC/tests/data/plan
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
[ -x "$FLOWSEG" ] || { echo "no binary at $FLOWSEG"; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

# Runs flowseg; stdout -> $TMP/out, stderr -> $TMP/err, exit code -> $RC.
run() {
    "$FLOWSEG" "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
}
expect_rc() { # expect_rc WANT WHAT
    if [ "$RC" -eq "$1" ]; then pass "$2 (exit $RC)"; else
        fail "$2: exit $RC, want $1"; sed 's/^/    /' "$TMP/err" | head -20; fi
}

cat >"$TMP/config.json" <<'EOF'
{"targets": [
   {"name": "orders-db", "virtual_service": "VS-RDS-orders-db",
    "security_group": "sg-0123456789abcdef0", "ownership": "rules",
    "enis": ["eni-0a1b2c3d4e5f60001"], "eni_addrs": ["10.0.20.11"], "port": 5432},
   {"name": "billing-db", "labels": {"role": "Database", "app": "Billing"},
    "security_group": "sg-0aaaaaaaaaaaaaaa1"}],
 "guards": {"max_removals": 10, "allow_empty": false, "allow_public": false, "max_rules": 60}}
EOF

# A flow log as VPC writes it (header line, v2 fields): web-1 talks to the database (and gets
# answers), 10.0.4.31 does too but the policy does not allow it, a bastion address that the
# ip list allows was rejected today, plus a NODATA record.
python3 - "$TMP/flows.log" <<'EOF'
import sys
eni, db = "eni-0a1b2c3d4e5f60001", "10.0.20.11"
lines = ["version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
         "bytes start end action log-status"]
def rec(src, dst, sport, dport, start, end, action="ACCEPT", proto=6):
    lines.append(f"2 123456789012 {eni} {src} {dst} {sport} {dport} {proto} 10 840 {start} "
                 f"{end} {action} OK")
for i in range(3):
    rec("10.0.1.11", db, 40001 + i, 5432, 1700000000 + i * 60, 1700000060 + i * 60)
    rec(db, "10.0.1.11", 5432, 40001 + i, 1700000000 + i * 60, 1700000060 + i * 60)
rec("10.0.4.31", db, 51000, 5432, 1700003000, 1700003100)
rec("10.0.4.31", db, 51001, 5432, 1700003500, 1700003600)
rec("10.0.9.3", db, 52000, 5432, 1700001000, 1700001060, action="REJECT")
lines.append(f"2 123456789012 {eni} - - - - - - - 1700004000 1700004060 - NODATA")
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
EOF

POLICY=(--config "$TMP/config.json" --policy "$DATA/policy.json")

# ---- 1. the JSON report, field by field ----------------------------------------------------------
run plan "${POLICY[@]}" --state "$DATA/aws_rules.json" --format json "$TMP/flows.log"
expect_rc 0 "plan --format json with flows"
cp "$TMP/out" "$TMP/plan1.json"
if python3 - "$TMP/plan1.json" <<'EOF'; then pass "json report fields"; else fail "json report fields"; fi
import json, sys
doc = json.load(open(sys.argv[1]))
errors = []
def check(what, got, want):
    if got != want:
        errors.append(f"{what}: got {got!r}, want {want!r}")
H = "flowseg /orgs/1/sec_policy/active/rule_sets/24/sec_rules/"
def rule(cidr, rid, v6=False):
    return {"proto": "tcp", "from_port": 5432, "to_port": 5432,
            ("cidr_ipv6" if v6 else "cidr"): cidr, "description": H + rid}
check("top keys", sorted(doc), ["policy_version", "summary", "targets"])
check("policy_version (an exported file without one)", doc["policy_version"], None)
check("summary", doc["summary"], {"targets": 2, "add": 6, "remove": 1})
t = doc["targets"][0]
check("target keys", sorted(t), sorted(["name", "security_group", "ownership", "desired", "add", "calls",
                                        "remove", "unchanged", "warnings", "refused", "impact"]))
check("ownership", t["ownership"], "rules")
check("name", t["name"], "orders-db")
check("security_group", t["security_group"], "sg-0123456789abcdef0")
desired = [rule("10.0.1.11/32", "41"), rule("10.0.1.12/32", "41"), rule("10.0.9.0/30", "42"),
           rule("10.0.9.4/32", "42"), rule("10.0.9.6/31", "42"), rule("10.0.9.8/29", "42"),
           rule("fd00:10::12/128", "41", v6=True)]
check("desired", t["desired"], desired)
check("add", t["add"], desired[1:])
check("remove", t["remove"], [dict(rule("2001:db8:1::/64", "42", v6=True),
                                   reason="not in the policy any more (flowseg rule)")])
check("unchanged", t["unchanged"], 1)
check("refused", t["refused"], None)
w = "\n".join(t["warnings"])
for needle in ["fqdn dba-vpn.example.com", "manual ssh", "sgr-0aaa1111bbbb2222e",
               "sg-0fedcba9876543210", "pl-0123456789abcdef0"]:
    if needle not in w:
        errors.append(f"warnings lack {needle!r}: {t['warnings']}")
check("would_deny", [dict((k, d[k]) for k in ("src", "port", "proto", "records", "last"))
                     for d in t["impact"]["would_deny"]],
      [{"src": "10.0.4.31", "port": 5432, "proto": 6, "records": 2, "last": 1700003600}])
check("cut_off", [d["src"] for d in t["impact"]["cut_off"]], ["10.0.4.31"])
check("cut_sources", t["impact"]["cut_sources"], 1)
check("allowed_unseen", t["impact"]["allowed_unseen"],
      [rule("10.0.1.12/32", "41"), rule("10.0.9.4/32", "42"), rule("10.0.9.6/31", "42"),
       rule("10.0.9.8/29", "42"), rule("fd00:10::12/128", "41", v6=True)])
b = doc["targets"][1]
check("billing name", b["name"], "billing-db")
check("billing warnings", b["warnings"],
      ["the config gives no enis or eni_addrs for this target, so no observed flow can be "
       "matched to it: the impact is empty"])
check("billing desired", b["desired"], [])
check("billing add/remove", (b["add"], b["remove"], b["unchanged"]), ([], [], 0))
if not (isinstance(b["refused"], str) and b["refused"].startswith("allow_empty")):
    errors.append(f"billing refused: {b['refused']!r}")
check("billing impact", b["impact"], {"would_deny": [], "allowed_unseen": [], "cut_off": [],
                                      "cut_sources": 0, "newly_allowed": [], "bypass": [],
                                      "unevaluated_rules": 0, "connections": []})
for e in errors:
    print("   ", e)
sys.exit(1 if errors else 0)
EOF

# ---- 2. exit codes ---------------------------------------------------------------------------------
run plan "${POLICY[@]}" --state "$DATA/aws_rules.json" --format json --detailed-exitcode
expect_rc 3 "--detailed-exitcode with changes"

# The state now equals the desired set: nothing to do, exit 0 even with --detailed-exitcode.
python3 - "$TMP/plan1.json" "$TMP/converged.json" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))["targets"][0]
json.dump({t["security_group"]: t["desired"], "sg-0aaaaaaaaaaaaaaa1": []},
          open(sys.argv[2], "w"))
EOF
run plan "${POLICY[@]}" --state "$TMP/converged.json" --format json --detailed-exitcode
expect_rc 0 "--detailed-exitcode without changes"
if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
t = d["targets"][0]
sys.exit(0 if (t["add"], t["remove"], t["unchanged"], d["summary"]["add"],
               d["summary"]["remove"]) == ([], [], 7, 0, 0) else 1)' "$TMP/out"
then pass "converged state: no add, no remove"; else fail "converged state"; fi

# ---- 2b. ownership "group" (the default): every rule the policy does not yield goes --------------
sed 's/, "ownership": "rules"//' "$TMP/config.json" >"$TMP/config-group.json"
run plan --config "$TMP/config-group.json" --policy "$DATA/policy.json" \
    --state "$DATA/own_rules.json" --format json
expect_rc 0 "plan, ownership group"
if python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["targets"][0]
rm = {(r.get("cidr") or r.get("cidr_ipv6") or r.get("source_group") or r.get("prefix_list")):
      r["reason"] for r in t["remove"]}
outside = "not in the policy, added outside flowseg"
ok = t["ownership"] == "group" and rm.get("10.0.0.0/8") == outside \
     and rm.get("sg-0fedcba9876543210", "").startswith(outside) \
     and rm.get("pl-0123456789abcdef0", "").startswith(outside) \
     and rm.get("2001:db8:1::/64") == "not in the policy any more (flowseg rule)" \
     and not any("left in place" in w for w in t["warnings"])
sys.exit(0 if ok else 1)' "$TMP/out"
then pass "ownership group: hand-made, SG-reference and prefix-list rules are removals"
else fail "ownership group removals"; cat "$TMP/out"; fi
run plan --config "$TMP/config-group.json" --policy "$DATA/policy.json" \
    --state "$DATA/own_rules.json"
grep -q "ownership group: the group is flowseg's" "$TMP/out" &&
    grep -q "tcp 22 from 10.0.0.0/8 \"manual ssh\": not in the policy, added outside flowseg" "$TMP/out" &&
    pass "text report: ownership and reasons" || { fail "text report: ownership"; cat "$TMP/out"; }

# ---- 3. guards -------------------------------------------------------------------------------------
sed 's/"max_removals": 10/"max_removals": 0/' "$TMP/config.json" >"$TMP/config-guard.json"
run plan --config "$TMP/config-guard.json" --policy "$DATA/policy.json" \
    --state "$DATA/aws_rules.json" --format json
expect_rc 0 "plan with a removal guard"
if python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["targets"][0]["refused"]
sys.exit(0 if r and "max_removals" in r and "1 rules would be removed" in r else 1)' "$TMP/out"
then pass "max_removals refusal in refused"; else fail "max_removals refusal"; cat "$TMP/out"; fi

# ---- 3b. a group flowseg creates is wholly its own: any rule not in the policy goes -------------
cat >"$TMP/config-create.json" <<'EOF'
{"targets": [{"name": "orders-db", "virtual_service": "VS-RDS-orders-db",
              "security_group": {"create": "flowseg-orders", "vpc_id": "vpc-0abc1234def567890"}}]}
EOF
run plan --config "$TMP/config-create.json" --policy "$DATA/policy.json" \
    --state "$DATA/aws_rules.json" --format json
expect_rc 0 "plan for a group still to create"
if python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["targets"][0]
sys.exit(0 if (t["security_group"], len(t["add"]), t["remove"], t["unchanged"]) ==
         ("flowseg-orders", 7, [], 0) else 1)' "$TMP/out"
then pass "group to create: everything to add"; else fail "group to create"; cat "$TMP/out"; fi
echo '{"flowseg-orders": [{"proto": "tcp", "from_port": 22, "to_port": 22, "cidr": "10.0.0.0/8",
       "description": "manual ssh"}]}' >"$TMP/create-state.json"
run plan --config "$TMP/config-create.json" --policy "$DATA/policy.json" \
    --state "$TMP/create-state.json" --format json
if python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["targets"][0]
sys.exit(0 if [r["cidr"] for r in t["remove"]] == ["10.0.0.0/8"] else 1)' "$TMP/out"
then pass "created group: a rule without the flowseg mark is removed"
else fail "created group ownership"; cat "$TMP/out"; fi

# ---- 4. other formats, --out, --save-plan, --save-policy ---------------------------------------------
run plan "${POLICY[@]}" --state "$DATA/aws_rules.json" "$TMP/flows.log"
expect_rc 0 "text report"
grep -q "orders-db (security group sg-0123456789abcdef0)" "$TMP/out" &&
    grep -q "+ tcp    5432        10.0.1.12/32" "$TMP/out" &&
    grep -q "10.0.4.31" "$TMP/out" && grep -q "REFUSED: allow_empty" "$TMP/out" &&
    pass "text facts" || fail "text facts"

run plan "${POLICY[@]}" --state "$DATA/aws_rules.json" --format markdown "$TMP/flows.log"
expect_rc 0 "markdown report"
grep -q "^# flowseg plan" "$TMP/out" && grep -q "^## orders-db" "$TMP/out" &&
    grep -q "Would be denied" "$TMP/out" && pass "markdown facts" || fail "markdown facts"

run plan "${POLICY[@]}" --state "$DATA/aws_rules.json" --format html --out "$TMP/r.html" \
    --save-plan "$TMP/saved.json" --save-policy "$TMP/policy-copy.json" "$TMP/flows.log"
expect_rc 0 "html report to --out"
[ -s "$TMP/out" ] && fail "--out still wrote to stdout" || pass "--out leaves stdout empty"
if grep -q "<svg" "$TMP/r.html" && ! grep -Eq "https?://|<script|<link|src=" "$TMP/r.html"; then
    pass "html is self-contained with a picture"
else fail "html self-contained"; fi
grep -q "10.0.4.31" "$TMP/r.html" && pass "html names the would-be-denied client" ||
    fail "html lacks the denied client"
if python3 -c '
import json, re, sys
d = json.load(open(sys.argv[1]))
t = d["targets"][0]
ok = d["flowseg_plan"] == 2 and re.fullmatch("[0-9a-f]{64}", t["state_hash"]) \
     and re.fullmatch("[0-9a-f]{64}", t["desired_hash"]) \
     and t["remove"][0]["rule_id"] == "sgr-0aaa1111bbbb2222d" and len(t["add"]) == 6
sys.exit(0 if ok else 1)' "$TMP/saved.json"
then pass "--save-plan"; else fail "--save-plan"; fi
run plan --config "$TMP/config.json" --policy "$TMP/policy-copy.json" \
    --state "$DATA/aws_rules.json" --format json "$TMP/flows.log"
cmp -s "$TMP/out" "$TMP/plan1.json" && pass "--save-policy replays to the same plan" ||
    fail "--save-policy replay differs"

# ---- 5. errors: clear message, no plan on stdout ----------------------------------------------------
expect_error() { # expect_error WANT_RC WHAT NEEDLE ARGS...
    local want=$1 what=$2 needle=$3
    shift 3
    run "$@"
    if [ "$RC" -ne "$want" ]; then fail "$what: exit $RC, want $want"; sed 's/^/    /' "$TMP/err";
    elif [ -s "$TMP/out" ]; then fail "$what: something on stdout"; head -5 "$TMP/out";
    elif ! grep -q -- "$needle" "$TMP/err"; then fail "$what: stderr lacks '$needle'";
        sed 's/^/    /' "$TMP/err";
    else pass "$what"; fi
}
hostile() { # hostile NAME CONTENT NEEDLE
    printf '%s' "$2" >"$TMP/$1.json"
    expect_error 1 "hostile policy: $1" "$3" plan --config "$TMP/config.json" \
        --policy "$TMP/$1.json" --state "$DATA/aws_rules.json" --format json
}
hostile malformed '{"labels": [' "malformed.json"
hostile not_object '[1, 2, 3]' "policy"
hostile wrong_type '{"labels": {"href": "/orgs/1/labels/1"}}' "labels"
hostile unknown_key '{"lables": []}' "lables"
hostile dangling '{"rule_sets": [{"href": "/orgs/1/sec_policy/active/rule_sets/1", "enabled": true,
  "scopes": [[]], "rules": [{"href": "/orgs/1/sec_policy/active/rule_sets/1/sec_rules/1",
  "enabled": true, "providers": [{"label": {"href": "/orgs/1/labels/404"}}],
  "consumers": [{"actors": "ams"}], "ingress_services": []}]}]}' "labels/404"
python3 -c 'print("[" * 100000 + "]" * 100000)' >"$TMP/deep.json"
expect_error 1 "hostile policy: deep nesting" "deep.json" plan --config "$TMP/config.json" \
    --policy "$TMP/deep.json" --state "$DATA/aws_rules.json" --format json
expect_error 1 "policy file missing" "nope.json" plan --config "$TMP/config.json" \
    --policy "$TMP/nope.json" --state "$DATA/aws_rules.json"
# Without --state the groups are read live from EC2: an endpoint where nothing listens is an AWS
# read failure -> exit 1, no plan (tests/integration/apply_moto.py covers the live mode).
AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=x \
    AWS_SECRET_ACCESS_KEY=y AWS_MAX_ATTEMPTS=1 expect_error 1 "--state absent: live EC2 unreachable" \
    "nothing changed" plan "${POLICY[@]}"
expect_error 2 "no policy source" "no policy source" plan --config "$TMP/config.json" \
    --state "$DATA/aws_rules.json"
echo '{"targets": [{"name": "x", "virtual_service": "VS-RDS-orders-db"}]}' >"$TMP/nosg.json"
expect_error 1 "target without a security group" "no security_group" plan --config \
    "$TMP/nosg.json" --policy "$DATA/policy.json" --state "$DATA/aws_rules.json"
printf '\037\213\010\000garbage' >"$TMP/garbage.log.gz"
expect_error 1 "unreadable flow source" "garbage.log.gz" plan "${POLICY[@]}" \
    --state "$DATA/aws_rules.json" "$TMP/garbage.log.gz" "$TMP/flows.log"
expect_error 1 "missing flow source" "nope.log" plan "${POLICY[@]}" \
    --state "$DATA/aws_rules.json" "$TMP/nope.log"
echo '{"sg-0123456789abcdef0": []}' >"$TMP/partial-state.json"
expect_error 1 "state without the target's group" "no entry for sg-0aaaaaaaaaaaaaaa1" \
    plan "${POLICY[@]}" --state "$TMP/partial-state.json"
echo '{"sg-1": [{"proto": "tcp", "from_port": 1, "to_port": 1, "cidr": "10.0.0.1/8"}]}' \
    >"$TMP/bad-state.json"
expect_error 1 "malformed state" "bad CIDR" plan "${POLICY[@]}" --state "$TMP/bad-state.json"
expect_error 2 "unknown option" "unknown option" plan "${POLICY[@]}" --frobnicate
expect_error 2 "bad format" "--format must be" plan "${POLICY[@]}" --format yaml
run plan --help
expect_rc 0 "--help"
grep -q -- "--detailed-exitcode" "$TMP/out" && pass "--help text" || fail "--help text"

echo "$FAILS failure(s)"
[ "$FAILS" -eq 0 ]
