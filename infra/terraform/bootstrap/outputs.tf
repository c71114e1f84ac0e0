output "state_bucket" {
  description = "The backend's `bucket`."
  value       = aws_s3_bucket.state.bucket
}

output "lock_table" {
  description = "The backend's `dynamodb_table` (null without create_lock_table)."
  value       = var.create_lock_table ? aws_dynamodb_table.lock[0].name : null
}

output "region" {
  description = "The backend's `region`."
  value       = var.aws_region
}

output "backend_config" {
  description = "Ready for a backend.hcl: terraform init -backend-config=backend.hcl."
  value = join("\n", compact([
    "bucket  = \"${aws_s3_bucket.state.bucket}\"",
    "key     = \"codingworker/terraform.tfstate\"",
    "region  = \"${var.aws_region}\"",
    "encrypt = true",
    var.create_lock_table ? "dynamodb_table = \"${aws_dynamodb_table.lock[0].name}\"" : "use_lockfile = true",
  ]))
}
