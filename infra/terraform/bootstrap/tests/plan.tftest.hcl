# `terraform test`: plans the state bucket and lock table (placeholder credentials; plan
# only, nothing is sent to AWS).

provider "aws" {
  region                      = "ap-northeast-1"
  access_key                  = "mock_access_key"
  secret_key                  = "mock_secret_key"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}

override_data {
  target = data.aws_caller_identity.current
  values = { account_id = "123456789012" }
}

variables {
  aws_region = "ap-northeast-1"
}

run "default_names" {
  command = plan

  assert {
    condition     = output.state_bucket == "codingworker-tfstate-123456789012-ap-northeast-1" && output.lock_table == "codingworker-tflock"
    error_message = "unexpected names: ${output.state_bucket}, ${output.lock_table}"
  }
}
