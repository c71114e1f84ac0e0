# `terraform test`: the trust and permission policies, rendered by the real provider
# (placeholder credentials; plan only, nothing is sent to AWS).

provider "aws" {
  region                      = "ap-northeast-1"
  access_key                  = "mock_access_key"
  secret_key                  = "mock_secret_key"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}

override_resource {
  target          = aws_iam_openid_connect_provider.github
  override_during = plan
  values = {
    arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
  }
}

variables {
  queue_arn = "arn:aws:sqs:ap-northeast-1:123456789012:codingworker-tasks"
  github_repositories = [
    { repository = "acme/app" },
    { repository = "acme/gated", environment = "prod" },
  ]
}

run "trust_is_exact" {
  command = plan

  assert {
    condition = jsondecode(data.aws_iam_policy_document.trust.json).Statement[0].Condition == {
      StringEquals = {
        "token.actions.githubusercontent.com:aud" = "sts.amazonaws.com"
        "token.actions.githubusercontent.com:sub" = ["repo:acme/app:ref:refs/heads/main", "repo:acme/gated:environment:prod"]
      }
    }
    error_message = "unexpected trust conditions: ${data.aws_iam_policy_document.trust.json}"
  }

  assert {
    condition     = jsondecode(data.aws_iam_policy_document.enqueue.json).Statement[0].Action == "sqs:SendMessage"
    error_message = "the role must only send messages"
  }
}

run "rejects_wildcard_subjects" {
  command = plan

  variables {
    extra_subjects = ["repo:acme/*"]
  }

  expect_failures = [var.extra_subjects]
}
