variable "name_prefix" {
  description = "Prefix of the IAM names: NAME_PREFIX-worker (user, group, role)."
  type        = string
  default     = "codingworker"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,48}$", var.name_prefix))
    error_message = "name_prefix must be 1-48 characters of letters, digits and +=,.@_-."
  }
}

variable "queue_arn" {
  description = "ARN of the task queue the worker consumes."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$", var.queue_arn))
    error_message = "queue_arn must be an SQS queue ARN."
  }
}

variable "dlq_arn" {
  description = "ARN of the dead-letter queue."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$", var.dlq_arn))
    error_message = "dlq_arn must be an SQS queue ARN."
  }
}

variable "allow_dlq_read" {
  description = "Let the worker identity inspect the dead-letter queue: GetQueueAttributes, GetQueueUrl (the status page shows its depth), ReceiveMessage (peek with --visibility-timeout 0) and ListMessageMoveTasks. Nothing can be deleted or moved with it."
  type        = bool
  default     = true
}

variable "allow_dlq_redrive" {
  description = "Also let the worker identity redrive the DLQ into the task queue (StartMessageMoveTask, CancelMessageMoveTask, DeleteMessage on the DLQ). SQS then also requires sqs:SendMessage on the task queue, which lets these credentials enqueue arbitrary tasks; off by default: redrive is a rare operator action (console or admin credentials)."
  type        = bool
  default     = false
}

variable "create_user" {
  description = "Create an IAM user for the worker (long-lived access keys on the laptop)."
  type        = bool
  default     = true
}

variable "create_access_key" {
  description = "Create the user's access key in Terraform. Off by default: the secret would be stored in the Terraform state. Prefer `aws iam create-access-key --user-name NAME_PREFIX-worker` and a ~/.aws profile."
  type        = bool
  default     = false
}

variable "access_key_pgp_key" {
  description = "With create_access_key: a PGP public key (base64) or keybase:USER; the secret is then stored in the state encrypted (output encrypted_secret). Null: stored in plain text (sensitive output)."
  type        = string
  default     = null
}

variable "trusted_principal_arns" {
  description = "IAM principals (e.g. your IAM Identity Center permission-set role ARN) allowed to assume an NAME_PREFIX-worker role with the same permissions. Empty: no role. A worker using a profile with role_arn/source_profile gets short-lived, refreshed credentials instead of a stored key."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.trusted_principal_arns : can(regex("^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:[A-Za-z0-9+=,.@_/:-]+$", a)) && !can(regex("\\*", a))])
    error_message = "trusted_principal_arns must be IAM ARNs without wildcards."
  }
}

variable "role_max_session_duration" {
  description = "Longest session of the worker role, in seconds (the SDK refreshes it)."
  type        = number
  default     = 3600

  validation {
    condition     = var.role_max_session_duration >= 3600 && var.role_max_session_duration <= 43200
    error_message = "role_max_session_duration must be between 3600 and 43200."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
