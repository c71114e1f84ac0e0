//! The task queue: SQS through aws-sdk-sqs. Credentials and region come from the standard
//! aws-config chain (environment, profile, SSO, instance role); `AWS_ENDPOINT_URL_SQS` (or
//! `AWS_ENDPOINT_URL`) points it at a local SQS-compatible server.

use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

/// A received message, as the worker needs it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub message_id: String,
    pub receipt: String,
    pub body: String,
    /// How many times SQS has handed this message out, this time included.
    pub receive_count: u32,
}

/// An SQS call that failed, in a sentence.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct QueueError(pub String);

/// The error SQS gave (`Code: message`), or what kept the request from it.
fn err<E, R>(what: &str) -> impl FnOnce(SdkError<E, R>) -> QueueError + '_
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |e| {
        let text = match (e.code(), e.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            _ => DisplayErrorContext(&e).to_string(),
        };
        QueueError(format!("{what}: {text}"))
    }
}

/// What the worker checks about its queue when it starts.
#[derive(Debug, Clone)]
pub(crate) struct QueueInfo {
    pub visible: u64,
    pub in_flight: u64,
    /// `maxReceiveCount` of the redrive policy, if the queue has one.
    pub max_receive_count: Option<u32>,
    /// `deadLetterTargetArn` of the redrive policy.
    pub dead_letter_arn: Option<String>,
}

/// One queue.
#[derive(Clone)]
pub(crate) struct Queue {
    client: Client,
    pub url: String,
}

impl Queue {
    /// A client from the standard AWS configuration chain.
    pub(crate) async fn connect(url: &str) -> Queue {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Queue {
            client: Client::new(&config),
            url: url.to_owned(),
        }
    }

    /// One long poll: waits up to `wait` for at most `max` messages (1 to 10), hiding them
    /// for `visibility`.
    pub(crate) async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        let call = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .visibility_timeout(seconds(visibility))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send();
        // The SDK has no read timeout of its own: a server that never answers must not
        // stall the worker.
        let out = tokio::time::timeout(wait + Duration::from_secs(15), call)
            .await
            .map_err(|_| QueueError("receiving messages: no answer from SQS".into()))?
            .map_err(err("receiving messages"))?;
        Ok(out
            .messages()
            .iter()
            .map(|m| Received {
                message_id: m.message_id().unwrap_or_default().to_owned(),
                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                receive_count: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1),
            })
            .collect())
    }

    /// The queue's depth and redrive policy (also proves the queue exists and can be read).
    pub(crate) async fn info(&self) -> Result<QueueInfo, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(err("reading the queue's attributes"))?;
        let attrs = out.attributes();
        let number = |name: &QueueAttributeName| {
            attrs
                .and_then(|a| a.get(name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        // `{"deadLetterTargetArn": "...", "maxReceiveCount": 3}`; AWS writes the count as a
        // string, moto as a number.
        let policy = attrs
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok());
        let dead_letter_arn = policy
            .as_ref()
            .and_then(|p| p["deadLetterTargetArn"].as_str())
            .map(String::from);
        let max_receive_count = policy
            .and_then(|p| match &p["maxReceiveCount"] {
                serde_json::Value::Number(n) => n.as_u64(),
                serde_json::Value::String(s) => s.parse().ok(),
                _ => None,
            })
            .map(|n| n as u32);
        Ok(QueueInfo {
            visible: number(&QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: number(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            max_receive_count,
            dead_letter_arn,
        })
    }

    /// How many messages wait in the queue named by an ARN (the dead-letter queue).
    pub(crate) async fn depth_of(&self, arn: &str) -> Result<u64, QueueError> {
        // arn:aws:sqs:REGION:ACCOUNT:NAME
        let parts: Vec<&str> = arn.split(':').collect();
        let [_, _, "sqs", _, account, name] = parts[..] else {
            return Err(QueueError(format!("{arn} is not the ARN of an SQS queue")));
        };
        let url = self
            .client
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
            .map_err(err("finding the dead-letter queue"))?
            .queue_url
            .unwrap_or_default();
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(err("reading the dead-letter queue's attributes"))?;
        Ok(out
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Whether the credentials may change visibility and delete messages, learnt without
    /// touching a message: with a receipt handle that names none, SQS answers
    /// `ReceiptHandleIsInvalid` when the call is allowed and `AccessDenied` when not.
    /// Returns the actions that were denied.
    pub(crate) async fn denied_actions(&self) -> Result<Vec<&'static str>, QueueError> {
        const NONE: &str = "codingworker-doctor-no-such-receipt";
        let mut denied = Vec::new();
        let visibility = self
            .client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(NONE)
            .visibility_timeout(0)
            .send()
            .await
            .err()
            .map(|e| e.code().unwrap_or_default().to_owned());
        let delete = self
            .client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(NONE)
            .send()
            .await
            .err()
            .map(|e| e.code().unwrap_or_default().to_owned());
        for (action, code) in [
            ("sqs:ChangeMessageVisibility", visibility),
            ("sqs:DeleteMessage", delete),
        ] {
            if code.is_some_and(|c| c.contains("AccessDenied") || c.contains("NotAuthorized")) {
                denied.push(action);
            }
        }
        Ok(denied)
    }

    /// Deletes a message: its task reached a final result.
    pub(crate) async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map(|_| ())
            .map_err(err("deleting the message"))
    }

    /// Hides a message for `visibility` from now (the heartbeat), or hands it back at once
    /// (`Duration::ZERO`).
    pub(crate) async fn set_visibility(
        &self,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds(visibility))
            .send()
            .await
            .map(|_| ())
            .map_err(err("changing the message's visibility"))
    }

    /// Sends a message; returns its id.
    pub(crate) async fn send(&self, body: &str) -> Result<String, QueueError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map(|o| o.message_id().unwrap_or_default().to_owned())
            .map_err(err("sending the message"))
    }
}

/// Whole seconds for SQS (at most 12 hours), rounding up so that a short timeout is not 0.
fn seconds(d: Duration) -> i32 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.min(12 * 3600) as i32
}
