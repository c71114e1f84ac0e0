variable "name_prefix" {
  description = "Prefix of the queue names: NAME_PREFIX-tasks and NAME_PREFIX-tasks-dlq."
  type        = string
  default     = "codingworker"

  validation {
    # SQS names: 1-80 characters of [A-Za-z0-9_-]; "-tasks-dlq" takes 10 of them.
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name_prefix))
    error_message = "name_prefix must be 1-64 characters of letters, digits, '-' and '_'."
  }
}

variable "visibility_timeout_seconds" {
  description = "Default visibility timeout of the task queue. The worker sets its own (`visibility_timeout`) on every receive and renews it with a heartbeat; this default only applies to a consumer that sets none."
  type        = number
  default     = 3600

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 0 and 43200 (12 hours)."
  }
}

variable "receive_wait_time_seconds" {
  description = "Default long-poll wait of the task queue. 20 (the maximum) keeps an idle worker at 3 requests a minute."
  type        = number
  default     = 20

  validation {
    condition     = var.receive_wait_time_seconds >= 0 && var.receive_wait_time_seconds <= 20
    error_message = "receive_wait_time_seconds must be between 0 and 20."
  }
}

variable "message_retention_seconds" {
  description = "How long a task waits in the task queue before SQS drops it (default 4 days)."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "dlq_message_retention_seconds" {
  description = "Retention of the dead-letter queue (default 14 days, the maximum). SQS keeps a message's original enqueue time when it moves it to the DLQ, so this must be longer than message_retention_seconds or dead letters expire early."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "max_receive_count" {
  description = "Receives before SQS moves a message to the DLQ (redrive policy maxReceiveCount). Must equal the worker's `max_receives`."
  type        = number
  default     = 3

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number from 1 to 1000."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
