# GitHub Actions -> AWS without stored keys: the workflow exchanges its OIDC token
# (aws-actions/configure-aws-credentials, audience sts.amazonaws.com) for a short session
# of the role below, which can do exactly one thing: SendMessage to the task queue.
#
# Trust scope. The role's trust policy requires
#   token.actions.githubusercontent.com:aud = sts.amazonaws.com
#   token.actions.githubusercontent.com:sub = one of the exact subjects listed below
# both with StringEquals (no wildcards, so no other owner, repository, branch, pull request
# or environment matches). For a job triggered by `issues` (labeled), GitHub runs the
# workflow file of the default branch and sets GITHUB_REF to the default branch, so the
# token's subject is
#   repo:OWNER/NAME:ref:refs/heads/DEFAULT_BRANCH      (e.g. repo:acme/app:ref:refs/heads/main)
# or, when the job declares `environment: NAME`,
#   repo:OWNER/NAME:environment:NAME
# Pull requests (`repo:OWNER/NAME:pull_request`), other branches and tags never match.
# Note: any workflow running on the default branch of a listed repository presents the same
# subject; GitHub's default sub does not name the event or the workflow file. Who can push
# to the default branch can therefore enqueue tasks. To narrow it further, customise the
# repository's sub claim template (GitHub API: actions/oidc/customization/sub, e.g. with
# job_workflow_ref) and list the resulting exact subjects in extra_subjects.
# GitHub no longer needs the thumbprints: AWS validates token.actions.githubusercontent.com
# against its library of trusted CAs.

locals {
  github_oidc_url = "https://token.actions.githubusercontent.com"

  repository_subjects = [
    for r in var.github_repositories :
    r.environment != null ? "repo:${r.repository}:environment:${r.environment}" : "repo:${r.repository}:ref:refs/heads/${r.default_branch}"
  ]
  subjects = sort(distinct(concat(local.repository_subjects, var.extra_subjects)))

  oidc_provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : coalesce(var.oidc_provider_arn, try(data.aws_iam_openid_connect_provider.github[0].arn, null))
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url             = local.github_oidc_url
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = var.oidc_thumbprints

  tags = var.tags
}

data "aws_iam_openid_connect_provider" "github" {
  count = !var.create_oidc_provider && var.oidc_provider_arn == null ? 1 : 0

  url = local.github_oidc_url
}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "GitHubActionsListedRepositories"
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = local.subjects
    }
  }
}

resource "aws_iam_role" "enqueue" {
  name                 = "${var.name_prefix}-github-enqueue"
  description          = "GitHub Actions (OIDC) of the listed repositories: send codingworker tasks to SQS."
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = var.max_session_duration

  tags = var.tags
}

# Only SendMessage on the one queue. No sqs:GetQueueUrl: the workflow is given the queue
# URL. No KMS permission: the queue uses SSE-SQS.
data "aws_iam_policy_document" "enqueue" {
  statement {
    sid       = "SendTasks"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [var.queue_arn]
  }
}

resource "aws_iam_role_policy" "enqueue" {
  name   = "send-tasks"
  role   = aws_iam_role.enqueue.id
  policy = data.aws_iam_policy_document.enqueue.json
}
