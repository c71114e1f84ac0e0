variable "name_prefix" {
  description = "Prefix of the topic, alarm and budget names."
  type        = string
  default     = "codingworker"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name_prefix))
    error_message = "name_prefix must be 1-64 characters of letters, digits, '-' and '_'."
  }
}

variable "alert_email" {
  description = "Address that receives the alarms (SNS e-mail subscription: confirm the e-mail AWS sends) and the budget alerts."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an e-mail address."
  }
}

variable "queue_name" {
  description = "Name of the task queue."
  type        = string
}

variable "dlq_name" {
  description = "Name of the dead-letter queue."
  type        = string
}

variable "queue_depth_threshold" {
  description = "Alarm when this many tasks wait in the task queue (ApproximateNumberOfMessagesVisible) for 15 minutes."
  type        = number
  default     = 10

  validation {
    condition     = var.queue_depth_threshold >= 1
    error_message = "queue_depth_threshold must be at least 1."
  }
}

variable "oldest_message_age_threshold_seconds" {
  description = "Alarm when the oldest task has waited this long (ApproximateAgeOfOldestMessage): the worker is off or stuck. Default 12 hours, so a laptop closed overnight does not page."
  type        = number
  default     = 43200

  validation {
    condition     = var.oldest_message_age_threshold_seconds >= 300
    error_message = "oldest_message_age_threshold_seconds must be at least 300."
  }
}

variable "dlq_oldest_message_age_threshold_seconds" {
  description = "Alarm when a dead letter is this old: it is about to expire (it keeps its original enqueue time). Default 10 days, 4 days before a 14-day DLQ retention drops it."
  type        = number
  default     = 864000

  validation {
    condition     = var.dlq_oldest_message_age_threshold_seconds >= 300 && var.dlq_oldest_message_age_threshold_seconds <= 1209600
    error_message = "dlq_oldest_message_age_threshold_seconds must be between 300 and 1209600."
  }
}

variable "sns_kms_master_key_id" {
  description = "Customer managed KMS key for the alert topic. Null (default): no SSE. CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key alias/aws/sns (its key policy cannot grant cloudwatch.amazonaws.com), and a customer managed key costs $1/month. The topic carries alarm notices only."
  type        = string
  default     = null

  validation {
    condition     = var.sns_kms_master_key_id == null || !can(regex("alias/aws/", var.sns_kms_master_key_id))
    error_message = "Use a customer managed key: CloudWatch alarms cannot publish to a topic encrypted with an AWS managed key (alias/aws/sns)."
  }
}

variable "create_budget" {
  description = "Create the monthly cost budget. It covers the whole account, so one is enough per account."
  type        = bool
  default     = true
}

variable "budget_limit_usd" {
  description = "Monthly cost budget in USD."
  type        = number
  default     = 5

  validation {
    condition     = var.budget_limit_usd > 0
    error_message = "budget_limit_usd must be greater than 0."
  }
}

variable "budget_actual_threshold_percent" {
  description = "E-mail when the actual monthly cost passes this percentage of the budget."
  type        = number
  default     = 80

  validation {
    condition     = var.budget_actual_threshold_percent > 0 && var.budget_actual_threshold_percent <= 1000
    error_message = "budget_actual_threshold_percent must be in (0, 1000]."
  }
}

variable "budget_forecast_threshold_percent" {
  description = "E-mail when the forecasted monthly cost passes this percentage of the budget."
  type        = number
  default     = 100

  validation {
    condition     = var.budget_forecast_threshold_percent > 0 && var.budget_forecast_threshold_percent <= 1000
    error_message = "budget_forecast_threshold_percent must be in (0, 1000]."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
