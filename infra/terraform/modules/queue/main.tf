# The task queue and its dead-letter queue.
#
# - Encryption at rest: SSE-SQS (SQS-owned keys). It costs nothing and needs no KMS
#   permission for producers or consumers; a customer managed KMS key would cost
#   $1/month plus KMS requests, outside the free tier.
# - Both queues refuse plain-HTTP requests (queue policy, aws:SecureTransport).
# - Malformed, refused or out-of-budget messages are never deleted by the worker: it
#   releases them (visibility 0) and after max_receive_count receives SQS moves them here.

locals {
  queue_name = "${var.name_prefix}-tasks"
  dlq_name   = "${var.name_prefix}-tasks-dlq"
}

resource "aws_sqs_queue" "dlq" {
  #checkov:skip=CKV2_AWS_73:SSE-SQS (SQS-owned keys) is the free-tier choice; a customer managed KMS key costs $1/month plus requests, and would need KMS grants for every producer and consumer.
  name                      = local.dlq_name
  message_retention_seconds = var.dlq_message_retention_seconds
  receive_wait_time_seconds = 20
  sqs_managed_sse_enabled   = true

  tags = var.tags
}

resource "aws_sqs_queue" "tasks" {
  #checkov:skip=CKV2_AWS_73:SSE-SQS (SQS-owned keys) is the free-tier choice; a customer managed KMS key costs $1/month plus requests, and would need KMS grants for the GitHub role and the worker.
  name                       = local.queue_name
  visibility_timeout_seconds = var.visibility_timeout_seconds
  receive_wait_time_seconds  = var.receive_wait_time_seconds
  message_retention_seconds  = var.message_retention_seconds
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.dlq_message_retention_seconds > var.message_retention_seconds
      error_message = "dlq_message_retention_seconds must be longer than message_retention_seconds: a dead letter keeps its original enqueue time."
    }
  }
}

# Only the task queue may use the DLQ as its dead-letter queue.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.tasks.arn]
  })
}

# Resource policies: deny every request that does not use TLS. Access itself is granted
# by the identity policies of the GitHub role and the worker (same account).
data "aws_iam_policy_document" "deny_insecure_transport" {
  for_each = {
    tasks = aws_sqs_queue.tasks.arn
    dlq   = aws_sqs_queue.dlq.arn
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "tasks" {
  queue_url = aws_sqs_queue.tasks.id
  policy    = data.aws_iam_policy_document.deny_insecure_transport["tasks"].json
}

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = data.aws_iam_policy_document.deny_insecure_transport["dlq"].json
}
