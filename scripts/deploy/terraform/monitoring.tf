# Running it in production: where failed asynchronous invocations go, metrics and alarms.
# (The log group and its retention, var.log_retention_days, are in main.tf.)
#
# Metrics: every invocation writes one CloudWatch Embedded Metric Format line (namespace
# "flowseg", dimension FunctionName = the function's name): Changes, Refusals, CutSources,
# Errors (Count) and Duration (Milliseconds). CloudWatch Logs turns them into metrics; no API
# call and no IAM permission is needed for that.

locals {
  metrics_namespace = "flowseg"
}

# --- Failed asynchronous invocations (S3 notifications, EventBridge rules) --------------------

resource "aws_sqs_queue" "on_failure" {
  name                      = "${var.name}-on-failure"
  message_retention_seconds = 1209600 # 14 days
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

# After Lambda's retries, the event and the error go to the queue: replay them by hand
# (`aws lambda invoke --payload` with the record's requestPayload) once the cause is fixed.
resource "aws_lambda_function_event_invoke_config" "flowseg" {
  function_name                = aws_lambda_function.flowseg.function_name
  maximum_retry_attempts       = var.async_retry_attempts
  maximum_event_age_in_seconds = 3600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.on_failure.arn
    }
  }

  depends_on = [aws_iam_role_policy.on_failure]
}

# Lambda sends to the destination with the function's execution role.
resource "aws_iam_role_policy" "on_failure" {
  name = "${var.name}-on-failure"
  role = aws_iam_role.flowseg.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "SendFailedInvocations"
      Effect   = "Allow"
      Action   = "sqs:SendMessage"
      Resource = aws_sqs_queue.on_failure.arn
    }]
  })
}

# --- Alarms -----------------------------------------------------------------------------------

# flowseg's own count: objects it could not read, targets whose apply failed, invocations that
# failed as a whole (bad event, PCE or AWS unreadable: nothing changed).
resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name}-errors"
  alarm_description   = "flowseg could not read an object, apply a target, or run at all (see the function's log)"
  namespace           = local.metrics_namespace
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.flowseg.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.alarm_errors_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

# A guard refused an apply: the group was left as it was (empty policy, too many removals, a
# public source, the rule quota, too many sources cut off, a policy flowseg cannot apply
# exactly). Someone has to look.
resource "aws_cloudwatch_metric_alarm" "refusals" {
  alarm_name          = "${var.name}-refusals"
  alarm_description   = "a flowseg guard refused to apply a plan: the managed group was left unchanged"
  namespace           = local.metrics_namespace
  metric_name         = "Refusals"
  dimensions          = { FunctionName = aws_lambda_function.flowseg.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

# Lambda's own view: crashes and timeouts that never reached flowseg's metric line.
resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  alarm_name          = "${var.name}-lambda-errors"
  alarm_description   = "the flowseg function failed or timed out"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.flowseg.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

# Failed asynchronous invocations waiting in the on-failure queue.
resource "aws_cloudwatch_metric_alarm" "on_failure" {
  alarm_name          = "${var.name}-on-failure-queue"
  alarm_description   = "failed flowseg invocations wait in the on-failure queue"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.on_failure.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

output "on_failure_queue_url" {
  description = "Failed asynchronous invocations (event + error), after Lambda's retries."
  value       = aws_sqs_queue.on_failure.url
}
