output "user_name" {
  description = "Name of the worker's IAM user (null without create_user)."
  value       = var.create_user ? aws_iam_user.worker[0].name : null
}

output "user_arn" {
  description = "ARN of the worker's IAM user (null without create_user)."
  value       = var.create_user ? aws_iam_user.worker[0].arn : null
}

output "role_arn" {
  description = "ARN of the worker role (null without trusted_principal_arns)."
  value       = length(var.trusted_principal_arns) > 0 ? aws_iam_role.worker[0].arn : null
}

output "access_key_id" {
  description = "Access key id (only with create_access_key)."
  value       = var.create_user && var.create_access_key ? aws_iam_access_key.worker[0].id : null
}

output "secret_access_key" {
  description = "Secret access key in plain text (only with create_access_key and no PGP key). `terraform output -raw worker_secret_access_key`."
  value       = var.create_user && var.create_access_key && var.access_key_pgp_key == null ? aws_iam_access_key.worker[0].secret : null
  sensitive   = true
}

output "encrypted_secret_access_key" {
  description = "Secret access key encrypted with access_key_pgp_key (base64)."
  value       = var.create_user && var.create_access_key && var.access_key_pgp_key != null ? aws_iam_access_key.worker[0].encrypted_secret : null
}

output "policy_json" {
  description = "The worker's permissions (IAM policy JSON)."
  value       = data.aws_iam_policy_document.worker.json
}
