//! The outside world codingworker talks to: the checkout's file system, git, GitHub, the
//! Ollama server, the SQS queue.

pub(crate) mod git;
pub(crate) mod github;
pub(crate) mod mirror;
pub(crate) mod ollama;
pub(crate) mod sqs;
