# The identity `codingworker worker` runs as on the user's machine. It may only consume the
# task queue:
#   ReceiveMessage           the long poll (WaitTimeSeconds 20)
#   ChangeMessageVisibility  the heartbeat, and releasing a message (visibility 0) so the
#                            redrive policy moves it to the DLQ
#   DeleteMessage            after a final result
#   GetQueueAttributes       at start (RedrivePolicy/maxReceiveCount check)
# and, with allow_dlq_read, look into the DLQ. It cannot send messages (no task injection)
# unless allow_dlq_redrive is set. No wildcard in actions or resources.
#
# Credentials. The laptop is outside AWS, so the default is an IAM user whose permissions
# come from a group. Rotate its access key at least every 90 days; IAM allows two keys, so
# rotation needs no downtime:
#   aws iam create-access-key --user-name NAME_PREFIX-worker    # new key -> worker's profile
#   (restart the worker, check it polls)
#   aws iam update-access-key --user-name NAME_PREFIX-worker --access-key-id OLD --status Inactive
#   aws iam delete-access-key --user-name NAME_PREFIX-worker --access-key-id OLD
# With create_access_key = true Terraform makes the key instead (in the state: keep the state
# encrypted and private, or give access_key_pgp_key); rotate it with
#   terraform apply -replace='module.worker_identity.aws_iam_access_key.worker[0]'
# Better where IAM Identity Center (SSO) is used: set trusted_principal_arns and let the
# worker assume the role below from an SSO profile; no long-lived key at all.

locals {
  worker_name = "${var.name_prefix}-worker"
}

data "aws_iam_policy_document" "worker" {
  statement {
    sid    = "ConsumeTasks"
    effect = "Allow"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ReceiveMessage",
    ]
    resources = [var.queue_arn]
  }

  dynamic "statement" {
    for_each = var.allow_dlq_read || var.allow_dlq_redrive ? [1] : []

    content {
      sid    = "InspectDeadLetters"
      effect = "Allow"
      # GetQueueUrl: the status page finds the dead-letter queue by its ARN to show its depth.
      actions = [
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ListMessageMoveTasks",
        "sqs:ReceiveMessage",
      ]
      resources = [var.dlq_arn]
    }
  }

  # What StartMessageMoveTask needs from the caller: move-task actions and DeleteMessage on
  # the source (the DLQ), SendMessage on the destination (the task queue).
  dynamic "statement" {
    for_each = var.allow_dlq_redrive ? [1] : []

    content {
      sid    = "RedriveDeadLetters"
      effect = "Allow"
      actions = [
        "sqs:CancelMessageMoveTask",
        "sqs:DeleteMessage",
        "sqs:StartMessageMoveTask",
      ]
      resources = [var.dlq_arn]
    }
  }

  dynamic "statement" {
    for_each = var.allow_dlq_redrive ? [1] : []

    content {
      sid       = "RedriveIntoTaskQueue"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = [var.queue_arn]
    }
  }
}

# --- IAM user (default) --------------------------------------------------------------

resource "aws_iam_group" "worker" {
  count = var.create_user ? 1 : 0

  name = local.worker_name
}

resource "aws_iam_group_policy" "worker" {
  count = var.create_user ? 1 : 0

  name   = "consume-tasks"
  group  = aws_iam_group.worker[0].name
  policy = data.aws_iam_policy_document.worker.json
}

resource "aws_iam_user" "worker" {
  #checkov:skip=CKV_AWS_273:The worker runs on a laptop outside AWS and the account may have no IAM Identity Center; the user has no console password and only the SQS consumer permissions of its group. trusted_principal_arns offers an SSO-assumable role instead.
  count = var.create_user ? 1 : 0

  name = local.worker_name
  # Keys made outside Terraform (the recommended way) would otherwise block a destroy.
  force_destroy = true

  tags = var.tags
}

resource "aws_iam_user_group_membership" "worker" {
  count = var.create_user ? 1 : 0

  user   = aws_iam_user.worker[0].name
  groups = [aws_iam_group.worker[0].name]
}

resource "aws_iam_access_key" "worker" {
  count = var.create_user && var.create_access_key ? 1 : 0

  user    = aws_iam_user.worker[0].name
  pgp_key = var.access_key_pgp_key
}

# --- Role (optional, for SSO users) --------------------------------------------------

data "aws_iam_policy_document" "worker_trust" {
  count = length(var.trusted_principal_arns) > 0 ? 1 : 0

  statement {
    sid     = "ListedPrincipals"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = var.trusted_principal_arns
    }
  }
}

resource "aws_iam_role" "worker" {
  count = length(var.trusted_principal_arns) > 0 ? 1 : 0

  name                 = local.worker_name
  description          = "codingworker worker: consume the task queue."
  assume_role_policy   = data.aws_iam_policy_document.worker_trust[0].json
  max_session_duration = var.role_max_session_duration

  tags = var.tags
}

resource "aws_iam_role_policy" "worker" {
  count = length(var.trusted_principal_arns) > 0 ? 1 : 0

  name   = "consume-tasks"
  role   = aws_iam_role.worker[0].id
  policy = data.aws_iam_policy_document.worker.json
}
