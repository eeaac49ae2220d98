# Inputs of the flowseg Lambda deployment. See README.md in this directory.

variable "region" {
  description = "AWS region of the VPC, the RDS instance(s) and the flow-log bucket."
  type        = string
}

variable "name" {
  description = "Name prefix for every resource (function, role, log group, rules)."
  type        = string
  default     = "flowseg"
}

# --- The function -------------------------------------------------------------------------------

variable "lambda_zip" {
  description = "Path of the zip written by scripts/package-lambda (bootstrap + lib/ [+ flowseg.json])."
  type        = string
}

variable "architecture" {
  description = "x86_64 or arm64: the architecture the zip was built on."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_mb" {
  description = "Lambda memory (MB). CPU scales with it; 512 inflates a 5 MB flow-log object quickly."
  type        = number
  default     = 512
}

variable "timeout_s" {
  description = "Lambda timeout (s). flowseg stops taking new objects 3 s before it and reports the rest as deferred."
  type        = number
  default     = 300
}

variable "max_concurrency" {
  description = "Reserved concurrency: bounds parallel reconciles (and so EC2 API throttling). null = unreserved."
  type        = number
  default     = 5
}

variable "config_path" {
  description = "FLOWSEG_CONFIG: the config bundled by `scripts/package-lambda --config` (Lambda unpacks the zip at /var/task)."
  type        = string
  default     = "/var/task/flowseg.json"
}

variable "config_json" {
  description = "Alternative to the bundled config: the config as inline JSON (Lambda env vars total at most 4 KB). The text @MANAGED_SG@ is replaced by the managed security group's id. Empty = use config_path."
  type        = string
  default     = ""
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention of the function's JSON log lines."
  type        = number
  default     = 30
}

variable "lambda_subnet_ids" {
  description = "Run the function in these subnets (e.g. when the PCE is only reachable inside the VPC). Empty = no VPC. The subnets need a route to the AWS APIs (NAT or VPC endpoints for S3, EC2, RDS, ELB)."
  type        = list(string)
  default     = []
}

variable "lambda_security_group_ids" {
  description = "Security groups of the function's network interfaces when lambda_subnet_ids is set (required then: at least one; it needs egress to the PCE and the AWS APIs)."
  type        = list(string)
  default     = []
}

# --- The PCE (policy source) --------------------------------------------------------------------

# The credentials are never given to Terraform: it takes where they are, grants the function read
# access to exactly that, and the function reads them at run time (config pce.secret_arn or
# pce.secret_parameter). Nothing secret ends up in tfstate or in the function's configuration.

variable "pce_secret_arn" {
  description = "Full ARN of an existing Secrets Manager secret with the PCE API key and secret (config pce.secret_arn; see README.md for its format). Set this or pce_secret_parameter."
  type        = string
  default     = ""

  validation {
    condition     = var.pce_secret_arn == "" || can(regex("^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+-[A-Za-z0-9]{6}$", var.pce_secret_arn))
    error_message = "pce_secret_arn must be the secret's full ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX), as `aws secretsmanager describe-secret` prints it."
  }
}

variable "pce_secret_parameter" {
  description = "Name of an existing SSM SecureString parameter with the PCE API key and secret (config pce.secret_parameter), e.g. /flowseg/pce. Set this or pce_secret_arn."
  type        = string
  default     = ""

  validation {
    condition     = var.pce_secret_parameter == "" || can(regex("^[A-Za-z0-9_.\\-/]+$", var.pce_secret_parameter))
    error_message = "pce_secret_parameter must be a parameter name such as /flowseg/pce (not an ARN, not a value)."
  }
}

variable "pce_secret_kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the secret or parameter: grants kms:Decrypt on it through Secrets Manager / SSM only. Empty = the AWS-managed key (no grant needed)."
  type        = string
  default     = ""
}

# --- Flow logs ----------------------------------------------------------------------------------

variable "flow_log_bucket" {
  description = "Existing S3 bucket that receives the VPC flow logs. Its event notifications are managed here (aws_s3_bucket_notification owns ALL notifications of a bucket)."
  type        = string
}

variable "flow_log_bucket_kms_key_arn" {
  description = "ARN of the KMS key of a bucket with SSE-KMS default encryption: grants kms:Decrypt on it through S3 only. Empty = SSE-S3 (no grant needed)."
  type        = string
  default     = ""
}

variable "flow_log_folder" {
  description = "Folder inside the bucket for the flow logs (objects land under <folder>/AWSLogs/...). Empty = bucket root."
  type        = string
  default     = "flowseg"
}

variable "flow_summaries_folder" {
  description = "Folder inside the flow-log bucket for flow summaries and day rollups (config flowlogs.summaries, set from it); the function may read, write and list only there. Must not be the flow-log folder. Empty = no summaries."
  type        = string
  default     = ""
  validation {
    condition     = var.flow_summaries_folder == "" || !startswith(trimsuffix(var.flow_summaries_folder, "/"), "AWSLogs")
    error_message = "flow_summaries_folder must be a folder of its own, not under AWSLogs/."
  }
}

variable "flow_log_subnet_ids" {
  description = "Subnets of the RDS instance(s) to capture flow logs on (survives ENI changes on failover; recommended)."
  type        = list(string)
  default     = []
}

variable "flow_log_eni_ids" {
  description = "RDS network interfaces to capture flow logs on (narrower than subnets; RDS may replace an ENI on failover or maintenance)."
  type        = list(string)
  default     = []
}

# --- What flowseg manages -----------------------------------------------------------------------

variable "vpc_id" {
  description = "VPC of the RDS instance(s): the managed security group is created there."
  type        = string
}

variable "managed_security_group_name" {
  description = "Name of the security group flowseg keeps equal to the policy."
  type        = string
  default     = "flowseg-managed-rds"
}

variable "extra_managed_security_group_ids" {
  description = "Existing security groups the config names (`security_group: sg-...`) that flowseg may also write to."
  type        = list(string)
  default     = []
}

variable "allow_create_security_group" {
  description = "Let flowseg create its own groups (config `security_group: {create: NAME, vpc_id}`) in vpc_id. flowseg tags each at creation with flowseg:managed=<target name>; IAM requires that tag key on create and on later rule changes."
  type        = bool
  default     = false
}

variable "allow_associate" {
  description = "Let flowseg add the managed group to the instances (config `associate: add|replace`) with rds:ModifyDBInstance. false for `associate: none`."
  type        = bool
  default     = true
}

variable "rds_instance_ids" {
  description = "DB instance identifiers of the config's targets (DescribeDBInstances, ModifyDBInstance to associate the group)."
  type        = list(string)
}

# --- Schedules and the optional NLB sync --------------------------------------------------------

variable "reconcile_schedule" {
  description = "EventBridge schedule of full reconciles (tamper protection: reverts manual rule changes)."
  type        = string
  default     = "rate(15 minutes)"
}

variable "nlb_target_group_arn" {
  description = "IP target group kept on the RDS instance's private IP by `nlb_sync` events. Empty = no NLB permissions."
  type        = string
  default     = ""
}

variable "nlb_sync_schedule" {
  description = "EventBridge schedule sending {\"nlb_sync\": true}. Empty = no schedule."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}

# --- Event paths (events.tf) ----------------------------------------------------------------------

variable "tamper_events" {
  description = "EventBridge rule on the CloudTrail events of security-group and DB-instance changes: flowseg reverts tampering within seconds. Needs a CloudTrail trail with logging enabled in the region."
  type        = bool
  default     = true
}

variable "event_queue" {
  description = "Create an SQS queue (with a dead-letter queue) in front of the function, for S3 -> SNS -> SQS or EventBridge -> SQS; the event source mapping reports batch item failures."
  type        = bool
  default     = false
}

variable "flow_log_sns_topic_arn" {
  description = "With event_queue: the SNS topic the flow-log bucket notifies (S3 -> SNS fan-out); the queue subscribes to it. Empty = no subscription. Set s3_direct_notification = false then: a bucket has one notification configuration."
  type        = string
  default     = ""
}

variable "s3_direct_notification" {
  description = "Let the bucket notify the function directly (main.tf). false when the bucket notifies an SNS topic instead (flow_log_sns_topic_arn)."
  type        = bool
  default     = true
}

variable "event_queue_batch_size" {
  description = "SQS messages per invocation. Each is answered on its own (batchItemFailures)."
  type        = number
  default     = 10
}

variable "event_queue_max_receives" {
  description = "Deliveries of a message before it moves to the dead-letter queue."
  type        = number
  default     = 5
}

# --- Monitoring (monitoring.tf) -------------------------------------------------------------------

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires (for example an SNS topic). Empty = alarms without actions."
  type        = list(string)
  default     = []
}

variable "alarm_errors_threshold" {
  description = "flowseg Errors (sum over 5 minutes) that fire the errors alarm."
  type        = number
  default     = 1
}

variable "async_retry_attempts" {
  description = "Lambda's retries of a failed asynchronous invocation (0-2) before it goes to the on-failure queue."
  type        = number
  default     = 2
}
