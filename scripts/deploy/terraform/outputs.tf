# What the rest of the setup needs: the managed group's id goes into the flowseg config
# (`security_group`), the function name into `aws lambda invoke` for manual runs.

output "function_name" {
  value = aws_lambda_function.flowseg.function_name
}

output "function_arn" {
  value = aws_lambda_function.flowseg.arn
}

output "function_version_hash" {
  description = "source_code_hash of the deployed zip: compare with a rebuilt zip before rolling back."
  value       = aws_lambda_function.flowseg.source_code_hash
}

output "role_arn" {
  value = aws_iam_role.flowseg.arn
}

output "managed_security_group_id" {
  description = "Put this in the config's target `security_group` (or use config_json with @MANAGED_SG@)."
  value       = aws_security_group.managed.id
}

output "log_group_name" {
  value = aws_cloudwatch_log_group.flowseg.name
}

output "flow_log_ids" {
  value = { for k, fl in aws_flow_log.rds : k => fl.id }
}

output "flow_log_key_prefix" {
  description = "Where new flow-log objects appear; the S3 notification and IAM read scope use it."
  value       = "s3://${var.flow_log_bucket}/${local.log_prefix}"
}
