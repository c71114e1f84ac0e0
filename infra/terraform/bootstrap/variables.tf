variable "aws_region" {
  description = "Region of the state bucket and lock table (use the region of the main stack)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region name such as ap-northeast-1."
  }
}

variable "name_prefix" {
  description = "Prefix of the bucket and table names."
  type        = string
  default     = "codingworker"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,20}$", var.name_prefix))
    error_message = "name_prefix must be 1-21 lowercase letters, digits or '-' (it becomes part of a bucket name)."
  }
}

variable "state_bucket_name" {
  description = "Name of the state bucket. Null: NAME_PREFIX-tfstate-ACCOUNT_ID-REGION (bucket names are global)."
  type        = string
  default     = null

  validation {
    condition     = var.state_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket_name))
    error_message = "state_bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')."
  }
}

variable "create_lock_table" {
  description = "Create the DynamoDB lock table (backend `dynamodb_table`). Not needed with Terraform >= 1.10 and `use_lockfile = true`."
  type        = bool
  default     = true
}

variable "noncurrent_version_retention_days" {
  description = "Days an overwritten state version is kept (versioning is the undo of a bad apply)."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_retention_days >= 1
    error_message = "noncurrent_version_retention_days must be at least 1."
  }
}
