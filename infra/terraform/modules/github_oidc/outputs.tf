output "role_arn" {
  description = "ARN of the role the workflow assumes (configure-aws-credentials `role-to-assume`)."
  value       = aws_iam_role.enqueue.arn
}

output "role_name" {
  description = "Name of the role the workflow assumes."
  value       = aws_iam_role.enqueue.name
}

output "oidc_provider_arn" {
  description = "ARN of the GitHub OIDC provider the role trusts."
  value       = local.oidc_provider_arn
}

output "trusted_subjects" {
  description = "The exact OIDC sub values the role accepts."
  value       = local.subjects
}
