# codingworker's AWS side, all inside the always-free tier:
#   queue           NAME_PREFIX-tasks + NAME_PREFIX-tasks-dlq (SSE-SQS, redrive)
#   github_oidc     the GitHub OIDC provider and NAME_PREFIX-github-enqueue (SendMessage only)
#   worker_identity NAME_PREFIX-worker user (+ group), optionally a role
#   monitoring      SNS e-mail topic, 4 alarms, a monthly budget

module "queue" {
  source = "../../modules/queue"

  name_prefix       = var.name_prefix
  max_receive_count = var.max_receive_count
}

module "github_oidc" {
  source = "../../modules/github_oidc"

  name_prefix          = var.name_prefix
  create_oidc_provider = var.create_oidc_provider
  github_repositories  = var.github_repositories
  extra_subjects       = var.github_extra_subjects
  queue_arn            = module.queue.queue_arn
}

module "worker_identity" {
  source = "../../modules/worker_identity"

  name_prefix            = var.name_prefix
  queue_arn              = module.queue.queue_arn
  dlq_arn                = module.queue.dlq_arn
  create_access_key      = var.worker_create_access_key
  trusted_principal_arns = var.worker_trusted_principal_arns
  allow_dlq_redrive      = var.worker_allow_dlq_redrive
}

module "monitoring" {
  source = "../../modules/monitoring"

  name_prefix                          = var.name_prefix
  alert_email                          = var.alert_email
  queue_name                           = module.queue.queue_name
  dlq_name                             = module.queue.dlq_name
  queue_depth_threshold                = var.queue_depth_threshold
  oldest_message_age_threshold_seconds = var.oldest_message_age_threshold_seconds
  # Warn 4 days before a dead letter expires.
  dlq_oldest_message_age_threshold_seconds = module.queue.dlq_message_retention_seconds - 4 * 86400
  create_budget                            = var.create_budget
  budget_limit_usd                         = var.budget_limit_usd
}
