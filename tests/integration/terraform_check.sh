#!/usr/bin/env bash
# scripts/check-terraform on scripts/deploy/terraform passes, and each kind of mistake in a copy
# is caught: a granted action the code never calls, a called action not granted, an action the
# code calls that the table lacks, unbalanced braces, an undeclared variable, an unused one, an
# undeclared resource, a secret value through Terraform (SSM data source, sensitive variable,
# secret in the function's environment), the old flowseg:managed=true tag condition, an S3 call
# (REST: lib/aws/s3.h's functions, e.g. PutObject of flow summaries) the table lacks.
# `terraform fmt -check` runs inside when terraform is installed (validate needs providers).
# Exit 0 pass, 1 fail.
set -uo pipefail
src=${FSG_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
check="$src/scripts/check-terraform"
tf="$src/scripts/deploy/terraform"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

out=$("$check" 2>&1) || fail "the shipped Terraform does not pass: $out"
echo "$out"

n=0
expect() { # description, expected message, then a command that damages the copy in $d
  local what=$1 want=$2; shift 2
  n=$((n + 1))
  d="$tmp/case$n"; mkdir -p "$d/tf" "$d/src/lib/aws"
  cp "$tf"/*.tf "$d/tf/"
  cp -r "$src/lib" "$src/flowlogs" "$d/src/"
  "$@" || fail "$what: could not set up the case"
  local o
  o=$("$check" --dir "$d/tf" --table "$d/src/lib/aws/iam_actions.txt" --src "$d/src" 2>&1) &&
    fail "$what: not detected: $o"
  echo "$o" | grep -qF -- "$want" || fail "$what: the message lacks '$want': $o"
  echo "ok: $what is caught: $(echo "$o" | grep -F -- "$want" | head -n 1)"
}
expect "a granted action the code never calls" "ec2:DeleteSecurityGroup is granted" \
  sed -i 's/"ec2:RevokeSecurityGroupIngress"\]/"ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup"]/' "$tmp/case1/tf/iam.tf"
expect "a called action not granted" "the code calls rds:ModifyDBInstance but no .tf file grants it" \
  sed -i 's/"rds:ModifyDBInstance"/"rds:DescribeDBInstances"/' "$tmp/case2/tf/iam.tf"
expect "a new AWS call missing from the table" "the code calls ec2:DeleteSecurityGroup" \
  sh -c "printf 'static const char *x = \"DeleteSecurityGroup\";\n' >> '$tmp/case3/src/lib/aws/ec2_groups.c'"
expect "a table line whose call is gone" "the table says lib/aws/rds.c calls it" \
  sed -i 's/"ModifyDBInstance"/"ModifyDbX"/g' "$tmp/case4/src/lib/aws/rds.c"
expect "unbalanced braces" "is never closed" \
  sh -c "printf 'resource \"aws_sqs_queue\" \"x\" {\n  name = \"x\"\n' >> '$tmp/case5/tf/main.tf'"
expect "an undeclared variable" 'var.nope is used but no variable "nope" is declared' \
  sh -c "printf 'locals {\n  z = var.nope\n}\n' >> '$tmp/case6/tf/main.tf'"
expect "an unused variable" 'variable "unused" is declared but never used' \
  sh -c "printf 'variable \"unused\" {\n  type = string\n}\n' >> '$tmp/case7/tf/variables.tf'"
expect "an undeclared resource" "aws_sqs_queue.dlq is referenced but no such resource is declared" \
  sh -c "printf 'output \"q\" {\n  value = aws_sqs_queue.dlq.arn\n}\n' >> '$tmp/case8/tf/outputs.tf'"
expect "a secret read into tfstate" 'data "aws_ssm_parameter" "k" would copy a secret value' \
  sh -c "printf 'data \"aws_ssm_parameter\" \"k\" {\n  name = \"/x\"\n}\n' >> '$tmp/case9/tf/main.tf'"
expect "a sensitive variable" 'variable "pce_api_secret" is sensitive' \
  sh -c "printf 'variable \"pce_api_secret\" {\n  type      = string\n  sensitive = true\n}\noutput \"s\" {\n  value     = var.pce_api_secret\n  sensitive = true\n}\n' >> '$tmp/case10/tf/variables.tf'"
expect "a secret in the function's environment" "the function's environment sets PCE_API_SECRET" \
  sed -i 's|^\( *\)FLOWSEG_CONFIG = local.flowseg_config.*|&\n\1PCE_API_SECRET = "x"|' "$tmp/case11/tf/main.tf"
expect "the old tag condition" 'condition StringEquals aws:RequestTag/flowseg:managed' \
  python3 -c "
import re,sys; p='$tmp/case12/tf/iam.tf'; s=open(p).read()
s=s.replace('test     = \"Null\"\n        variable = \"aws:RequestTag/flowseg:managed\"\n        values   = [\"false\"]',
            'test     = \"StringEquals\"\n        variable = \"aws:RequestTag/flowseg:managed\"\n        values   = [\"true\"]')
open(p,'w').write(s)"
expect "an S3 call (REST, from flowlogs/) missing from the table" "the code calls s3:PutObject" \
  sed -i '/^s3:PutObject /d' "$tmp/case13/src/lib/aws/iam_actions.txt"
if command -v terraform >/dev/null; then
  expect "a badly formatted file" "terraform fmt -check" \
    sed -i 's/^  role   = aws_iam_role.flowseg.id/  role = aws_iam_role.flowseg.id/' "$tmp/case14/tf/iam.tf"
else
  echo "note: terraform is not installed: the fmt case is not run"
fi
echo "PASS"
