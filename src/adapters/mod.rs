//! The outside world codingworker talks to: the checkout's file system, git, GitHub, the
//! Ollama server, the SQS queue.

pub mod fs;
pub mod git;
pub mod github;
pub mod mirror;
pub mod ollama;
pub mod sqs;
