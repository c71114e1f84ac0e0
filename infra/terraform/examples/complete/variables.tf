variable "aws_region" {
  description = "Region of the queues, alarms and roles, e.g. ap-northeast-1. The worker's AWS_REGION and the workflow's AWS_REGION variable."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region name such as ap-northeast-1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name: NAME_PREFIX-tasks, NAME_PREFIX-tasks-dlq, NAME_PREFIX-github-enqueue, NAME_PREFIX-worker, NAME_PREFIX-alerts."
  type        = string
  default     = "codingworker"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,48}$", var.name_prefix))
    error_message = "name_prefix must be 1-48 characters of letters, digits, '-' and '_'."
  }
}

variable "github_repositories" {
  description = "Repositories whose `issues` workflow may send tasks: OWNER/NAME exactly as GitHub spells it, with the default branch (issues events run there; default main) or the environment the job declares. See modules/github_oidc."
  type = list(object({
    repository     = string
    default_branch = optional(string, "main")
    environment    = optional(string)
  }))

  validation {
    condition     = length(var.github_repositories) > 0
    error_message = "github_repositories must name at least one repository."
  }

  validation {
    condition     = alltrue([for r in var.github_repositories : can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", r.repository))])
    error_message = "Each repository must be OWNER/NAME with letters, digits, '.', '_' and '-' only (no wildcards)."
  }
}

variable "github_extra_subjects" {
  description = "More exact OIDC subjects the workflow role trusts (repositories with a customised sub claim template)."
  type        = list(string)
  default     = []
}

variable "create_oidc_provider" {
  description = "Create the GitHub OIDC provider. False when the account has one already (one per account); it is then looked up."
  type        = bool
  default     = true
}

variable "alert_email" {
  description = "E-mail address for the alarms and the budget alerts. Confirm the subscription mail AWS sends."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an e-mail address."
  }
}

variable "max_receive_count" {
  description = "Receives before a message goes to the DLQ; the worker's `max_receives` must match."
  type        = number
  default     = 3

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number from 1 to 1000."
  }
}

variable "queue_depth_threshold" {
  description = "Alarm when this many tasks wait for 15 minutes."
  type        = number
  default     = 10

  validation {
    condition     = var.queue_depth_threshold >= 1
    error_message = "queue_depth_threshold must be at least 1."
  }
}

variable "oldest_message_age_threshold_seconds" {
  description = "Alarm when the oldest waiting task is this old (default 12 hours)."
  type        = number
  default     = 43200

  validation {
    condition     = var.oldest_message_age_threshold_seconds >= 300
    error_message = "oldest_message_age_threshold_seconds must be at least 300."
  }
}

variable "create_budget" {
  description = "Create the account-wide monthly cost budget (false if the account has one)."
  type        = bool
  default     = true
}

variable "budget_limit_usd" {
  description = "Monthly cost budget in USD; e-mails at 80% actual and 100% forecast."
  type        = number
  default     = 5

  validation {
    condition     = var.budget_limit_usd > 0
    error_message = "budget_limit_usd must be greater than 0."
  }
}

variable "worker_create_access_key" {
  description = "Create the worker user's access key in Terraform (the secret lands in the state). Default false: create it with the AWS CLI."
  type        = bool
  default     = false
}

variable "worker_trusted_principal_arns" {
  description = "IAM principals (e.g. an SSO permission-set role) that may assume a worker role instead of using the user's key."
  type        = list(string)
  default     = []
}

variable "worker_allow_dlq_redrive" {
  description = "Let the worker identity redrive the DLQ (also grants it SendMessage on the task queue)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags for every resource (added to Project and ManagedBy)."
  type        = map(string)
  default     = {}
}
