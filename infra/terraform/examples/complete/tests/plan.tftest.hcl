# `terraform test` (scripts/check-infra --terraform): plans the whole stack with the real
# provider and placeholder credentials. Nothing is sent to AWS: plan-only runs, and the
# provider skips its credential and account checks.

provider "aws" {
  region                      = "ap-northeast-1"
  access_key                  = "mock_access_key"
  secret_key                  = "mock_secret_key"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}

variables {
  aws_region  = "ap-northeast-1"
  alert_email = "alerts@example.com"
  github_repositories = [
    { repository = "acme/app" },
    { repository = "acme/legacy", default_branch = "master" },
    { repository = "acme/gated", environment = "codingworker" },
  ]
}

run "plans_the_stack" {
  command = plan

  assert {
    condition = jsonencode(output.trusted_subjects) == jsonencode([
      "repo:acme/app:ref:refs/heads/main",
      "repo:acme/gated:environment:codingworker",
      "repo:acme/legacy:ref:refs/heads/master",
    ])
    error_message = "unexpected OIDC subjects: ${jsonencode(output.trusted_subjects)}"
  }

  assert {
    condition     = output.max_receive_count == 3 && output.worker_user_name == "codingworker-worker"
    error_message = "unexpected max_receive_count or worker user name"
  }
}

run "rejects_a_wildcard_repository" {
  command = plan

  variables {
    github_repositories = [{ repository = "acme/*" }]
  }

  expect_failures = [var.github_repositories]
}

run "rejects_a_bad_email" {
  command = plan

  variables {
    alert_email = "not-an-address"
  }

  expect_failures = [var.alert_email]
}

run "rejects_max_receive_count_out_of_range" {
  command = plan

  variables {
    max_receive_count = 0
  }

  expect_failures = [var.max_receive_count]
}

run "rejects_a_zero_budget" {
  command = plan

  variables {
    budget_limit_usd = 0
  }

  expect_failures = [var.budget_limit_usd]
}
