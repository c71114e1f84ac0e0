output "topic_arn" {
  description = "ARN of the alert topic (subscribe more endpoints to it)."
  value       = aws_sns_topic.alerts.arn
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms."
  value = [
    aws_cloudwatch_metric_alarm.dlq_not_empty.alarm_name,
    aws_cloudwatch_metric_alarm.queue_depth.alarm_name,
    aws_cloudwatch_metric_alarm.oldest_message_age.alarm_name,
    aws_cloudwatch_metric_alarm.dlq_oldest_message_age.alarm_name,
  ]
}

output "budget_name" {
  description = "Name of the monthly budget (null without create_budget)."
  value       = var.create_budget ? aws_budgets_budget.monthly[0].name : null
}
