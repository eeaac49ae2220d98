# flowseg on AWS Lambda: the function (custom runtime provided.al2023), its triggers (S3
# notification for new flow-log objects, an EventBridge schedule for full reconciles, an optional
# schedule for the NLB sync; CloudTrail tamper events and the optional SQS queue are in
# events.tf, the on-failure destination and alarms in monitoring.tf), the VPC flow log on the RDS subnets/ENIs in flowseg's recommended
# custom format, and the security group flowseg manages. IAM is in iam.tf. How to deploy and
# roll back: README.md.

terraform {
  required_version = ">= 1.3"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  bucket    = "arn:${local.partition}:s3:::${var.flow_log_bucket}"

  # Flow logs land under <folder>/AWSLogs/<account>/vpcflowlogs/<region>/yyyy/mm/dd/.
  folder_prefix = var.flow_log_folder == "" ? "" : "${trimsuffix(var.flow_log_folder, "/")}/"
  log_prefix    = "${local.folder_prefix}AWSLogs/"
  # Flow summaries and day rollups (README "Flow summaries"): keys end in .fsum.json.gz or
  # .fsum-day.json.gz, never .log.gz, so writing them triggers no notification.
  summaries_prefix = var.flow_summaries_folder == "" ? "" : "${trimsuffix(var.flow_summaries_folder, "/")}/"
  destination      = var.flow_log_folder == "" ? local.bucket : "${local.bucket}/${trimsuffix(var.flow_log_folder, "/")}"

  # ref/aws-wire.md §1.3: direction, initiator and NAT-correct addresses. `$${` is a literal `${`.
  flow_log_format = join(" ", [
    "$${version}", "$${account-id}", "$${interface-id}", "$${srcaddr}", "$${dstaddr}",
    "$${srcport}", "$${dstport}", "$${protocol}", "$${packets}", "$${bytes}", "$${start}",
    "$${end}", "$${action}", "$${log-status}", "$${vpc-id}", "$${subnet-id}", "$${instance-id}",
    "$${tcp-flags}", "$${type}", "$${pkt-srcaddr}", "$${pkt-dstaddr}", "$${flow-direction}",
  ])

  # The PCE credentials are read by the function at run time (pce.secret_arn: Secrets Manager, or
  # pce.secret_parameter: SSM SecureString); Terraform only knows where they are, never the value
  # (nothing in tfstate, nothing in the function's environment). An inline config_json gets the
  # reference merged into its "pce" section; a bundled config must carry it itself (README.md).
  pce_secret_ref = { for k, v in { secret_arn = var.pce_secret_arn, secret_parameter = var.pce_secret_parameter } : k => v if v != "" }
  config_inline  = jsondecode(var.config_json == "" ? "{}" : replace(var.config_json, "@MANAGED_SG@", aws_security_group.managed.id))
  # With event_queue, a backfill fans out through that queue (flowlogs.fanout_queue_url).
  fanout_ref     = var.event_queue ? { fanout_queue_url = aws_sqs_queue.events[0].url } : {}
  summaries_ref  = local.summaries_prefix == "" ? {} : { summaries = "s3://${var.flow_log_bucket}/${local.summaries_prefix}" }
  flowseg_config = var.config_json == "" ? var.config_path : jsonencode(merge(local.config_inline, { pce = merge(try(local.config_inline.pce, {}), local.pce_secret_ref), flowlogs = merge(try(local.config_inline.flowlogs, {}), local.fanout_ref, local.summaries_ref) }))

  tags = merge({ "flowseg:deployment" = var.name }, var.tags)
}

# --- The managed security group -----------------------------------------------------------------

# flowseg owns this group's ingress rules: Terraform creates the group and never touches its
# rules (no ingress blocks, and ignore_changes in case someone adds one). Attach it to the
# instance through the config's `associate` (add/replace), not here, so one owner changes the
# instance's group list. Egress: Terraform removes AWS's default allow-all egress rule, which an
# RDS instance does not need.
resource "aws_security_group" "managed" {
  name        = var.managed_security_group_name
  description = "Ingress to RDS, kept equal to the segmentation policy by flowseg"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = var.managed_security_group_name, "flowseg:managed" = "true" })

  lifecycle {
    ignore_changes = [ingress]
  }
}

# --- The function -------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "flowseg" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_lambda_function" "flowseg" {
  function_name                  = var.name
  description                    = "flowseg: RDS security groups from the segmentation policy, driven by VPC flow logs"
  role                           = aws_iam_role.flowseg.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap" # free-form for custom runtimes; the zip's bootstrap runs the loop
  architectures                  = [var.architecture]
  filename                       = var.lambda_zip
  source_code_hash               = filebase64sha256(var.lambda_zip)
  memory_size                    = var.memory_mb
  timeout                        = var.timeout_s
  reserved_concurrent_executions = var.max_concurrency
  tags                           = local.tags

  environment {
    variables = {
      FLOWSEG_CONFIG = local.flowseg_config # no secret: the function reads it at run time
    }
  }

  dynamic "vpc_config" {
    for_each = length(var.lambda_subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.lambda_subnet_ids
      security_group_ids = var.lambda_security_group_ids
    }
  }

  depends_on = [aws_cloudwatch_log_group.flowseg, aws_iam_role_policy.flowseg]
}

# --- Trigger 1: a new flow-log object -----------------------------------------------------------

resource "aws_lambda_permission" "s3" {
  count          = var.s3_direct_notification ? 1 : 0
  statement_id   = "AllowS3FlowLogObjects"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.flowseg.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = local.bucket
  source_account = local.account
}

# Note: this resource owns every notification of the bucket; merge other consumers in here.
resource "aws_s3_bucket_notification" "flow_logs" {
  count  = var.s3_direct_notification ? 1 : 0
  bucket = var.flow_log_bucket

  lambda_function {
    id                  = "${var.name}-flow-logs"
    lambda_function_arn = aws_lambda_function.flowseg.arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = local.log_prefix
    filter_suffix       = ".log.gz"
  }

  depends_on = [aws_lambda_permission.s3]
}

moved {
  from = aws_lambda_permission.s3
  to   = aws_lambda_permission.s3[0]
}

moved {
  from = aws_s3_bucket_notification.flow_logs
  to   = aws_s3_bucket_notification.flow_logs[0]
}

# --- Trigger 2: full reconcile on a schedule (tamper protection) --------------------------------

resource "aws_cloudwatch_event_rule" "reconcile" {
  name                = "${var.name}-reconcile"
  description         = "flowseg: reconcile every target (reverts manual changes to managed rules)"
  schedule_expression = var.reconcile_schedule
  tags                = local.tags
}

resource "aws_cloudwatch_event_target" "reconcile" {
  rule = aws_cloudwatch_event_rule.reconcile.name
  arn  = aws_lambda_function.flowseg.arn
  # No input: the function receives the "Scheduled Event" envelope, which means "reconcile all".
}

resource "aws_lambda_permission" "reconcile" {
  statement_id  = "AllowScheduledReconcile"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.flowseg.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.reconcile.arn
}

# --- Trigger 3 (optional): NLB target sync ------------------------------------------------------

resource "aws_cloudwatch_event_rule" "nlb_sync" {
  count               = var.nlb_sync_schedule == "" ? 0 : 1
  name                = "${var.name}-nlb-sync"
  description         = "flowseg: keep the NLB target group on the RDS instance's private IP"
  schedule_expression = var.nlb_sync_schedule
  tags                = local.tags
}

resource "aws_cloudwatch_event_target" "nlb_sync" {
  count = var.nlb_sync_schedule == "" ? 0 : 1
  rule  = aws_cloudwatch_event_rule.nlb_sync[0].name
  arn   = aws_lambda_function.flowseg.arn
  input = jsonencode({ nlb_sync = true })
}

resource "aws_lambda_permission" "nlb_sync" {
  count         = var.nlb_sync_schedule == "" ? 0 : 1
  statement_id  = "AllowScheduledNlbSync"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.flowseg.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.nlb_sync[0].arn
}

# --- The flow log on the database's subnets / network interfaces --------------------------------

# Plain-text gzip objects in S3, one per ENI and 5-minute window, in flowseg's recommended
# custom format (the header line in each object tells flowseg the field order). Creating a
# flow log to S3 adds the delivery.logs.amazonaws.com statement to the bucket policy if the
# bucket has none for it; with a customer-managed KMS key, allow that principal to use the key.
resource "aws_flow_log" "rds" {
  for_each = merge(
    { for id in var.flow_log_subnet_ids : id => { subnet_id = id, eni_id = null } },
    { for id in var.flow_log_eni_ids : id => { subnet_id = null, eni_id = id } },
  )

  subnet_id                = each.value.subnet_id
  eni_id                   = each.value.eni_id
  traffic_type             = "ALL" # REJECTs too: they show what the policy would break
  log_destination_type     = "s3"
  log_destination          = local.destination
  log_format               = local.flow_log_format
  max_aggregation_interval = 60
  tags                     = merge(local.tags, { Name = "${var.name}-${each.key}" })

  destination_options {
    file_format                = "plain-text"
    hive_compatible_partitions = false
    per_hour_partition         = false
  }
}
