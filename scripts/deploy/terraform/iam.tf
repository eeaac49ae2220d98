# The function's role: exactly the API actions flowseg calls, each on the narrowest resource the
# action supports. Describe* actions of EC2 and ELBv2 support no resource-level restriction and
# get "*"; every write is limited to the managed group(s), the named databases and the target
# group. lib/aws/iam_actions.txt lists every action with the code that calls it;
# scripts/check-terraform (a test) fails when this file grants another action or misses one.

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "flowseg" {
  name               = "${var.name}-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = local.tags
}

locals {
  ec2_arn = "arn:${local.partition}:ec2:${var.region}:${local.account}"
  managed_group_arns = concat(
    ["${local.ec2_arn}:security-group/${aws_security_group.managed.id}"],
    [for id in var.extra_managed_security_group_ids : "${local.ec2_arn}:security-group/${id}"],
  )
  db_arns = [for id in var.rds_instance_ids : "arn:${local.partition}:rds:${var.region}:${local.account}:db:${id}"]
}

data "aws_iam_policy_document" "flowseg" {
  # Its own log stream (the group is created by Terraform, so no logs:CreateLogGroup).
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.flowseg.arn}:*"]
  }

  # Flow-log objects: GetObject on the folder, ListBucket (prefix scans) limited to it.
  # With SSE-KMS on the bucket, kms:Decrypt on its key (below, flow_log_bucket_kms_key_arn).
  statement {
    sid       = "ReadFlowLogObjects"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket}/${local.folder_prefix}*"]
  }
  statement {
    sid       = "ListFlowLogObjects"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.folder_prefix}*"]
    }
  }

  # Flow summaries and day rollups (flow_summaries_folder): read, written and listed there only.
  dynamic "statement" {
    for_each = local.summaries_prefix == "" ? [] : [1]
    content {
      sid       = "ReadWriteFlowSummaries"
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = ["${local.bucket}/${local.summaries_prefix}*"]
    }
  }
  dynamic "statement" {
    for_each = local.summaries_prefix == "" ? [] : [1]
    content {
      sid       = "ListFlowSummaries"
      actions   = ["s3:ListBucket"]
      resources = [local.bucket]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["${local.summaries_prefix}*"]
      }
    }
  }

  # Reading the current rules and finding the database's interfaces.
  statement {
    sid = "DescribeNetwork"
    actions = [
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSecurityGroupRules",
      "ec2:DescribeNetworkInterfaces",
    ]
    resources = ["*"]
  }

  # Rule changes only on the group(s) flowseg owns. ModifySecurityGroupRules rewrites stale
  # rules in place when authorizing first would cross the rules-per-group quota.
  statement {
    sid       = "WriteManagedGroupRules"
    actions   = ["ec2:ModifySecurityGroupRules", "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"]
    resources = local.managed_group_arns
  }

  # ModifySecurityGroupRules also names the rules it rewrites (security-group-rule ARNs); the
  # group statements above still decide which groups' rules may change.
  statement {
    sid       = "ModifyManagedGroupRuleIds"
    actions   = ["ec2:ModifySecurityGroupRules"]
    resources = ["${local.ec2_arn}:security-group-rule/*"]
  }

  # Optional: groups flowseg creates itself. Only in this VPC, only tagged flowseg:managed=<target>
  # at creation (tag-on-create: CreateTags is allowed only as part of CreateSecurityGroup, so
  # no other group can be tagged into flowseg's reach), and rule changes only on such groups.
  dynamic "statement" {
    for_each = var.allow_create_security_group ? [1] : []
    content {
      sid       = "CreateManagedGroup"
      actions   = ["ec2:CreateSecurityGroup"]
      resources = ["${local.ec2_arn}:security-group/*"]
      # flowseg tags the group at creation with flowseg:managed = <the config target's name>
      # (lib/aws/ec2.h FSG_EC2_OWNER_TAG_KEY, policy/resolve_assoc.c): the key must be present,
      # whatever the target's name, and no other tag key may be set.
      condition {
        test     = "Null"
        variable = "aws:RequestTag/flowseg:managed"
        values   = ["false"]
      }
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "aws:TagKeys"
        values   = ["flowseg:managed"]
      }
    }
  }
  dynamic "statement" {
    for_each = var.allow_create_security_group ? [1] : []
    content {
      sid       = "CreateManagedGroupInVpc"
      actions   = ["ec2:CreateSecurityGroup"]
      resources = ["${local.ec2_arn}:vpc/${var.vpc_id}"]
    }
  }
  dynamic "statement" {
    for_each = var.allow_create_security_group ? [1] : []
    content {
      sid       = "TagManagedGroupOnCreate"
      actions   = ["ec2:CreateTags"]
      resources = ["${local.ec2_arn}:security-group/*"]
      condition {
        test     = "StringEquals"
        variable = "ec2:CreateAction"
        values   = ["CreateSecurityGroup"]
      }
    }
  }
  dynamic "statement" {
    for_each = var.allow_create_security_group ? [1] : []
    content {
      sid       = "WriteCreatedGroupRules"
      actions   = ["ec2:ModifySecurityGroupRules", "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"]
      resources = ["${local.ec2_arn}:security-group/*"]
      condition {
        test     = "Null"
        variable = "ec2:ResourceTag/flowseg:managed"
        values   = ["false"]
      }
      condition {
        test     = "ArnEquals"
        variable = "ec2:Vpc"
        values   = ["${local.ec2_arn}:vpc/${var.vpc_id}"]
      }
    }
  }

  # SSE-KMS flow-log bucket: decrypt with its key, only on S3's behalf.
  dynamic "statement" {
    for_each = var.flow_log_bucket_kms_key_arn == "" ? [] : [1]
    content {
      sid       = "DecryptFlowLogObjects"
      actions   = ["kms:Decrypt"]
      resources = [var.flow_log_bucket_kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${var.region}.amazonaws.com"]
      }
    }
  }

  # The PCE credentials, read at run time: exactly the one secret or parameter (never its value
  # in Terraform), and its customer-managed key if any, only through that service.
  dynamic "statement" {
    for_each = var.pce_secret_arn == "" ? [] : [1]
    content {
      sid       = "ReadPceSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.pce_secret_arn]
    }
  }
  dynamic "statement" {
    for_each = var.pce_secret_parameter == "" ? [] : [1]
    content {
      sid       = "ReadPceParameter"
      actions   = ["ssm:GetParameter"]
      resources = ["arn:${local.partition}:ssm:${var.region}:${local.account}:parameter/${trimprefix(var.pce_secret_parameter, "/")}"]
    }
  }
  dynamic "statement" {
    for_each = var.pce_secret_kms_key_arn == "" ? [] : [1]
    content {
      sid       = "DecryptPceSecret"
      actions   = ["kms:Decrypt"]
      resources = [var.pce_secret_kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [var.pce_secret_arn != "" ? "secretsmanager.${var.region}.amazonaws.com" : "ssm.${var.region}.amazonaws.com"]
      }
    }
  }

  # The databases of the config's targets: their groups and network; associating the group.
  statement {
    sid       = "DescribeDatabases"
    actions   = ["rds:DescribeDBInstances"]
    resources = local.db_arns
  }
  dynamic "statement" {
    for_each = var.allow_associate ? [1] : []
    content {
      sid       = "AssociateManagedGroup"
      actions   = ["rds:ModifyDBInstance"]
      resources = local.db_arns
    }
  }

  # Optional NLB sync: read target health anywhere (no resource-level support), change only
  # the one target group.
  dynamic "statement" {
    for_each = var.nlb_target_group_arn == "" ? [] : [1]
    content {
      sid       = "ReadTargetHealth"
      actions   = ["elasticloadbalancing:DescribeTargetHealth"]
      resources = ["*"]
    }
  }
  dynamic "statement" {
    for_each = var.nlb_target_group_arn == "" ? [] : [1]
    content {
      sid       = "MoveNlbTarget"
      actions   = ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]
      resources = [var.nlb_target_group_arn]
    }
  }
}

resource "aws_iam_role_policy" "flowseg" {
  name   = "${var.name}-least-privilege"
  role   = aws_iam_role.flowseg.id
  policy = data.aws_iam_policy_document.flowseg.json

  lifecycle {
    precondition {
      condition     = (var.pce_secret_arn == "") != (var.pce_secret_parameter == "")
      error_message = "Set exactly one of pce_secret_arn (Secrets Manager) or pce_secret_parameter (SSM): the function reads the PCE credentials from there at run time."
    }
    precondition {
      condition     = length(var.lambda_subnet_ids) == 0 || length(var.lambda_security_group_ids) > 0
      error_message = "lambda_subnet_ids is set: give lambda_security_group_ids too (Lambda's vpc_config needs both)."
    }
  }
}

# Only when the function runs in a VPC: Lambda itself (not flowseg) manages the ENIs.
resource "aws_iam_role_policy_attachment" "vpc_access" {
  count      = length(var.lambda_subnet_ids) > 0 ? 1 : 0
  role       = aws_iam_role.flowseg.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}
