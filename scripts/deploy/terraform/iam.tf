# The function's role: exactly the API actions flowseg calls, each on the narrowest resource the
# action supports. Describe* actions of EC2 and ELBv2 support no resource-level restriction and
# get "*"; every write is limited to the managed group(s), the named databases and the target
# group.

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
  # With SSE-KMS on the bucket, also grant kms:Decrypt on its key.
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

  # Rule changes only on the group(s) flowseg owns.
  statement {
    sid       = "WriteManagedGroupRules"
    actions   = ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"]
    resources = local.managed_group_arns
  }

  # Optional: groups flowseg creates itself. Only in this VPC, only tagged flowseg:managed=true
  # at creation (tag-on-create: CreateTags is allowed only as part of CreateSecurityGroup, so
  # no other group can be tagged into flowseg's reach), and rule changes only on such groups.
  dynamic "statement" {
    for_each = var.allow_create_security_group ? [1] : []
    content {
      sid       = "CreateManagedGroup"
      actions   = ["ec2:CreateSecurityGroup"]
      resources = ["${local.ec2_arn}:security-group/*"]
      condition {
        test     = "StringEquals"
        variable = "aws:RequestTag/flowseg:managed"
        values   = ["true"]
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
      actions   = ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"]
      resources = ["${local.ec2_arn}:security-group/*"]
      condition {
        test     = "StringEquals"
        variable = "ec2:ResourceTag/flowseg:managed"
        values   = ["true"]
      }
      condition {
        test     = "ArnEquals"
        variable = "ec2:Vpc"
        values   = ["${local.ec2_arn}:vpc/${var.vpc_id}"]
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
}

# Only when the function runs in a VPC: Lambda itself (not flowseg) manages the ENIs.
resource "aws_iam_role_policy_attachment" "vpc_access" {
  count      = length(var.lambda_subnet_ids) > 0 ? 1 : 0
  role       = aws_iam_role.flowseg.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}
