# Optional: the NLB target sync (`flowseg nlb-sync`; in the Lambda the {"nlb_sync": true} event).
# main.tf already has the schedule (var.nlb_sync_schedule sends {"nlb_sync": true}) and iam.tf
# the target-group writes (var.nlb_target_group_arn). This file adds what the sync needs beyond
# that, only when nlb_target_group_arn is set:
#   - elasticloadbalancing:DescribeTargetGroups: the sync refuses a target group whose type is not
#     "ip" (no resource-level support in IAM: "*");
#   - rds:DescribeDBInstances on the instance the target follows, when it is not one of
#     rds_instance_ids;
#   - an alarm on failed syncs (a replacement that never became healthy exits with an error and
#     leaves the old target in place: someone should look).
# The config must have the matching section:
#   "nlb": {"target_group_arn": "<nlb_target_group_arn>", "rds_instance": "<id>",
#           "port": 5432, "healthy_timeout_s": <nlb_sync_healthy_timeout_s>}

variable "nlb_rds_instance_id" {
  description = "DB instance the NLB target follows (config nlb.rds_instance), when it is not in rds_instance_ids. Empty = it is one of them."
  type        = string
  default     = ""
}

variable "nlb_sync_healthy_timeout_s" {
  description = "The config's nlb.healthy_timeout_s: how long a sync waits for the new target to be healthy (AWS: a few minutes to register and start health checks, then HealthyThresholdCount checks). In the Lambda the wait is cut to the invocation's deadline: set timeout_s above it (at most 900) or let the next scheduled sync finish the move."
  type        = number
  default     = 600
}

variable "nlb_sync_alarm_actions" {
  description = "SNS topic ARNs notified when a scheduled NLB sync fails (function errors while the NLB schedule runs). Empty = no alarm."
  type        = list(string)
  default     = []
}

locals {
  nlb_sync_enabled = var.nlb_target_group_arn != ""
}

data "aws_iam_policy_document" "nlb_sync" {
  count = local.nlb_sync_enabled ? 1 : 0

  statement {
    sid       = "CheckTargetGroupType"
    actions   = ["elasticloadbalancing:DescribeTargetGroups"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.nlb_rds_instance_id == "" ? [] : [1]
    content {
      sid       = "DescribeNlbDatabase"
      actions   = ["rds:DescribeDBInstances"]
      resources = ["arn:${local.partition}:rds:${var.region}:${local.account}:db:${var.nlb_rds_instance_id}"]
    }
  }
}

resource "aws_iam_role_policy" "nlb_sync" {
  count  = local.nlb_sync_enabled ? 1 : 0
  name   = "${var.name}-nlb-sync"
  role   = aws_iam_role.flowseg.id
  policy = data.aws_iam_policy_document.nlb_sync[0].json

  lifecycle {
    precondition {
      # Register, then poll until healthy (up to healthy_timeout_s), then deregister: the whole
      # sync must fit in one invocation, or Lambda stops it between the two steps (harmless:
      # the next run finishes the job, but every run would time out).
      condition     = var.nlb_sync_healthy_timeout_s + 30 <= var.timeout_s
      error_message = "nlb_sync_healthy_timeout_s + 30 s must fit in the function timeout (timeout_s)."
    }
    precondition {
      condition     = var.nlb_sync_schedule == "" || local.nlb_sync_enabled
      error_message = "nlb_sync_schedule is set but nlb_target_group_arn is empty: the sync would have no permission to change the target group."
    }
  }
}

# Errors of the function while the NLB schedule is on. The function's other triggers can fail
# too, so the alarm says "look at the log group": the failed sync is the JSON line with
# "event":"nlb_deregister_refused" (or the error line naming the target group).
resource "aws_cloudwatch_metric_alarm" "nlb_sync_failed" {
  count               = local.nlb_sync_enabled && var.nlb_sync_schedule != "" && length(var.nlb_sync_alarm_actions) > 0 ? 1 : 0
  alarm_name          = "${var.name}-nlb-sync-failed"
  alarm_description   = "flowseg function errors (NLB sync scheduled): see /aws/lambda/${var.name} for nlb_deregister_refused or the failed call."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.flowseg.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.nlb_sync_alarm_actions
  tags                = local.tags
}

output "nlb_sync_policy_name" {
  description = "The extra IAM policy of the NLB sync (null when nlb_target_group_arn is empty)."
  value       = local.nlb_sync_enabled ? aws_iam_role_policy.nlb_sync[0].name : null
}
