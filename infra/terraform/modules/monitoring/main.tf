# Alerts for the task queues and the account's spending, all inside the always-free tier:
# 4 standard alarms (10 free), SQS metrics are free basic monitoring, SNS e-mail (1,000 free
# a month), one budget without actions (free).
#
# SQS publishes metrics for a queue while it is "active": for six hours after any API call
# on it, and for as long as it holds messages. An empty, untouched DLQ therefore reports
# nothing, which the alarms treat as not breaching.

resource "aws_sns_topic" "alerts" {
  #checkov:skip=CKV_AWS_26:CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key alias/aws/sns (its key policy cannot be edited to admit cloudwatch.amazonaws.com), and a customer managed key costs $1/month; the topic carries only alarm notices (queue names and counts), never task content. sns_kms_master_key_id takes a CMK.
  name              = "${var.name_prefix}-alerts"
  kms_master_key_id = var.sns_kms_master_key_id

  tags = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

locals {
  alarm_actions = [aws_sns_topic.alerts.arn]
}

# Anything in the DLQ needs a human: a malformed, refused or unroutable message, or a task
# the worker gave up on. Fix the cause, then redrive.
resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  alarm_name        = "${var.name_prefix}-dlq-not-empty"
  alarm_description = "Messages in ${var.dlq_name}: the worker released a task it could not handle. Read the worker log, fix, then redrive (SQS console or aws sqs start-message-move-task)."
  namespace         = "AWS/SQS"
  metric_name       = "ApproximateNumberOfMessagesVisible"
  dimensions = {
    QueueName = var.dlq_name
  }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "queue_depth" {
  alarm_name        = "${var.name_prefix}-queue-depth"
  alarm_description = "${var.queue_name} has held ${var.queue_depth_threshold} or more waiting tasks for 15 minutes: the worker is down or falling behind."
  namespace         = "AWS/SQS"
  metric_name       = "ApproximateNumberOfMessagesVisible"
  dimensions = {
    QueueName = var.queue_name
  }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.queue_depth_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_message_age" {
  alarm_name        = "${var.name_prefix}-oldest-task-age"
  alarm_description = "The oldest task in ${var.queue_name} has waited ${var.oldest_message_age_threshold_seconds} s or more: no worker is polling, or a task keeps coming back."
  namespace         = "AWS/SQS"
  metric_name       = "ApproximateAgeOfOldestMessage"
  dimensions = {
    QueueName = var.queue_name
  }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.oldest_message_age_threshold_seconds
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_oldest_message_age" {
  alarm_name        = "${var.name_prefix}-dlq-expiring"
  alarm_description = "A dead letter in ${var.dlq_name} is ${var.dlq_oldest_message_age_threshold_seconds} s old and will soon expire (DLQ retention counts from the original enqueue time). Redrive or save it."
  namespace         = "AWS/SQS"
  metric_name       = "ApproximateAgeOfOldestMessage"
  dimensions = {
    QueueName = var.dlq_name
  }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.dlq_oldest_message_age_threshold_seconds
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.alarm_actions
  # No ok_actions: this alarm also clears when the message expires, which is no good news.

  tags = var.tags
}

# The budget mails the address directly (no SNS topic policy for budgets.amazonaws.com
# needed). Forecasts need some billing history: a new account gets the forecast alert only
# after a few weeks.
resource "aws_budgets_budget" "monthly" {
  count = var.create_budget ? 1 : 0

  name         = "${var.name_prefix}-monthly"
  budget_type  = "COST"
  limit_amount = format("%.2f", var.budget_limit_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = var.budget_actual_threshold_percent
    threshold_type             = "PERCENTAGE"
    notification_type          = "ACTUAL"
    subscriber_email_addresses = [var.alert_email]
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = var.budget_forecast_threshold_percent
    threshold_type             = "PERCENTAGE"
    notification_type          = "FORECASTED"
    subscriber_email_addresses = [var.alert_email]
  }
}
