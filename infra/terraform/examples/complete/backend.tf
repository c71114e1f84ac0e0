# Remote state. Until the block below is enabled, Terraform keeps the state in this
# directory (terraform.tfstate, ignored by git). The state holds ARNs and, with
# worker_create_access_key, a secret: never commit it.
#
# First use:
#   1. Create the bucket (and lock table) once with ../../bootstrap, then
#        terraform -chdir=../../bootstrap output -raw backend_config > backend.hcl
#      (backend.hcl is ignored by git).
#   2. Uncomment the block below. Backend blocks cannot use variables: either leave it
#      empty and pass the file, or write the values in.
#   3. terraform init -backend-config=backend.hcl -migrate-state
#      (-migrate-state copies a local state into the bucket if you applied before).
#
# Locking: Terraform >= 1.10 can lock with a lock file in the bucket (use_lockfile = true,
# no DynamoDB table); dynamodb_table is the older mechanism (deprecated since 1.11, still
# works). Use one of them.
#
# terraform {
#   backend "s3" {
#     # bucket         = "codingworker-tfstate-123456789012-ap-northeast-1"
#     # key            = "codingworker/terraform.tfstate"
#     # region         = "ap-northeast-1"
#     # encrypt        = true
#     # dynamodb_table = "codingworker-tflock"   # or: use_lockfile = true
#   }
# }
