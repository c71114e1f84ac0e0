output "queue_url" {
  description = "URL of the task queue (the worker's `queue_url`, the workflow's queue URL)."
  value       = aws_sqs_queue.tasks.url
}

output "queue_arn" {
  description = "ARN of the task queue."
  value       = aws_sqs_queue.tasks.arn
}

output "queue_name" {
  description = "Name of the task queue."
  value       = aws_sqs_queue.tasks.name
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "max_receive_count" {
  description = "The redrive policy's maxReceiveCount (the worker's `max_receives` must match)."
  value       = var.max_receive_count
}

output "dlq_message_retention_seconds" {
  description = "Retention of the dead-letter queue."
  value       = var.dlq_message_retention_seconds
}
