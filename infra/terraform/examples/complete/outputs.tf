output "aws_region" {
  description = "Region of everything here."
  value       = var.aws_region
}

output "queue_url" {
  description = "Task queue URL: the target repositories' CODINGWORKER_QUEUE_URL variable and the worker's queue_url (or CODINGWORKER_QUEUE_URL)."
  value       = module.queue.queue_url
}

output "dlq_url" {
  description = "Dead-letter queue URL (inspection and redrive)."
  value       = module.queue.dlq_url
}

output "role_arn" {
  description = "Role the workflow assumes with OIDC: the target repositories' CODINGWORKER_ROLE_ARN variable."
  value       = module.github_oidc.role_arn
}

output "trusted_subjects" {
  description = "The exact OIDC sub values the role accepts."
  value       = module.github_oidc.trusted_subjects
}

output "worker_user_name" {
  description = "IAM user the worker runs as: create its access key with `aws iam create-access-key --user-name ...`."
  value       = module.worker_identity.user_name
}

output "worker_role_arn" {
  description = "Worker role for SSO users (null unless worker_trusted_principal_arns is set)."
  value       = module.worker_identity.role_arn
}

output "worker_access_key_id" {
  description = "Worker access key id (only with worker_create_access_key)."
  value       = module.worker_identity.access_key_id
}

output "worker_secret_access_key" {
  description = "Worker secret access key (only with worker_create_access_key): terraform output -raw worker_secret_access_key."
  value       = module.worker_identity.secret_access_key
  sensitive   = true
}

output "max_receive_count" {
  description = "The redrive maxReceiveCount: the worker's max_receives."
  value       = module.queue.max_receive_count
}

output "alert_topic_arn" {
  description = "SNS topic of the alarms."
  value       = module.monitoring.topic_arn
}

output "github_repository_variables" {
  description = "Set these as Actions variables (Settings > Secrets and variables > Actions > Variables) in every listed repository. None is a secret."
  value = {
    AWS_REGION             = var.aws_region
    CODINGWORKER_QUEUE_URL = module.queue.queue_url
    CODINGWORKER_ROLE_ARN  = module.github_oidc.role_arn
  }
}

output "worker_environment" {
  description = "Environment for `codingworker worker` (plus credentials: a profile of the worker user, or of worker_role_arn)."
  value = {
    AWS_REGION             = var.aws_region
    CODINGWORKER_QUEUE_URL = module.queue.queue_url
  }
}
