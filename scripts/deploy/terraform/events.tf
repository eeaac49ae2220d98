# Event paths beyond the direct S3 notification (main.tf):
#
# 1. Tamper protection within seconds: an EventBridge rule on the CloudTrail events of the API
#    calls that change a security group's ingress rules or an RDS instance's security groups.
#    flowseg reconciles only the target concerned; calls on other groups cost one log line and no
#    request; its own changes (its role session, "flowseg " rules) are not reconciled again.
#    EventBridge receives "AWS API Call via CloudTrail" events only while a CloudTrail trail with
#    logging enabled records the account's management events in this region (EventBridge User
#    Guide, "Events from AWS services": "To record events with a detail-type value of AWS API
#    Call via CloudTrail, a CloudTrail trail with logging enabled is required").
#
# 2. An SQS queue in front of the function (optional, var.event_queue): for S3 -> SNS -> SQS
#    fan-out (one bucket has one notification configuration, so several consumers subscribe a
#    queue each to an SNS topic) or EventBridge -> SQS. The event source mapping reports batch
#    item failures: one unreadable object is delivered again alone, not with the whole batch.

locals {
  tamper_event_names = [
    "AuthorizeSecurityGroupIngress",
    "RevokeSecurityGroupIngress",
    "ModifySecurityGroupRules",
    "UpdateSecurityGroupRuleDescriptionsIngress",
    "ModifyDBInstance",
  ]
}

# --- Trigger 4: CloudTrail API calls on managed groups and protected instances ----------------

resource "aws_cloudwatch_event_rule" "tamper" {
  count       = var.tamper_events ? 1 : 0
  name        = "${var.name}-tamper"
  description = "flowseg: a change to a security group's ingress rules or a DB instance's groups (reconcile the target concerned)"
  tags        = local.tags

  event_pattern = jsonencode({
    source        = ["aws.ec2", "aws.rds"]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail = {
      eventSource = ["ec2.amazonaws.com", "rds.amazonaws.com"]
      eventName   = local.tamper_event_names
    }
  })
}

resource "aws_cloudwatch_event_target" "tamper" {
  count = var.tamper_events ? 1 : 0
  rule  = aws_cloudwatch_event_rule.tamper[0].name
  arn   = aws_lambda_function.flowseg.arn
  # No input transformer: the function reads the CloudTrail record in the event's detail.
}

resource "aws_lambda_permission" "tamper" {
  count         = var.tamper_events ? 1 : 0
  statement_id  = "AllowCloudTrailTamperEvents"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.flowseg.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.tamper[0].arn
}

# --- Optional: an SQS queue in front of the function -----------------------------------------

resource "aws_sqs_queue" "events_dlq" {
  count                     = var.event_queue ? 1 : 0
  name                      = "${var.name}-events-dlq"
  message_retention_seconds = 1209600 # 14 days: time to look at what failed repeatedly
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

resource "aws_sqs_queue" "events" {
  count = var.event_queue ? 1 : 0
  name  = "${var.name}-events"
  # Lambda's guidance for SQS event sources: at least six times the function's timeout.
  visibility_timeout_seconds = var.timeout_s * 6
  sqs_managed_sse_enabled    = true
  tags                       = local.tags

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.events_dlq[0].arn
    maxReceiveCount     = var.event_queue_max_receives
  })
}

# SNS (the fan-out topic S3 notifies) may send to the queue.
resource "aws_sqs_queue_policy" "events" {
  count     = var.event_queue && var.flow_log_sns_topic_arn != "" ? 1 : 0
  queue_url = aws_sqs_queue.events[0].id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "FlowLogTopic"
      Effect    = "Allow"
      Principal = { Service = "sns.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.events[0].arn
      Condition = { ArnEquals = { "aws:SourceArn" = var.flow_log_sns_topic_arn } }
    }]
  })
}

# Without raw message delivery the body is SNS's envelope ({"Type": "Notification", "Message":
# ...}); flowseg reads both forms, the envelope is kept for its MessageId in the logs.
resource "aws_sns_topic_subscription" "events" {
  count                = var.event_queue && var.flow_log_sns_topic_arn != "" ? 1 : 0
  topic_arn            = var.flow_log_sns_topic_arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.events[0].arn
  raw_message_delivery = false
}

resource "aws_lambda_event_source_mapping" "events" {
  count                   = var.event_queue ? 1 : 0
  event_source_arn        = aws_sqs_queue.events[0].arn
  function_name           = aws_lambda_function.flowseg.arn
  batch_size              = var.event_queue_batch_size
  function_response_types = ["ReportBatchItemFailures"] # the answer's batchItemFailures

  depends_on = [aws_iam_role_policy.events_queue]
}

# What the event source mapping needs of the function's role (Lambda polls the queue with it).
resource "aws_iam_role_policy" "events_queue" {
  count = var.event_queue ? 1 : 0
  name  = "${var.name}-events-queue"
  role  = aws_iam_role.flowseg.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "PollEventQueue"
      Effect   = "Allow"
      Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
      Resource = aws_sqs_queue.events[0].arn
      }, {
      # A backfill ({"scan": ..., "fanout": true}) sends its batches to this same queue
      # (flowlogs.fanout_queue_url, merged into an inline config in main.tf).
      Sid      = "FanOutToEventQueue"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = aws_sqs_queue.events[0].arn
    }]
  })
}

output "event_queue_url" {
  description = "With event_queue: the SQS queue in front of the function (send S3/SNS/EventBridge events here)."
  value       = var.event_queue ? aws_sqs_queue.events[0].url : null
}

output "event_dead_letter_queue_url" {
  description = "With event_queue: messages that failed event_queue_max_receives times."
  value       = var.event_queue ? aws_sqs_queue.events_dlq[0].url : null
}
