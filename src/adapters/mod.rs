//! The outside world the engine talks to: the checkout's file system, git, GitHub, the Ollama
//! server.

pub mod fs;
pub mod git;
pub mod github;
pub mod mirror;
pub mod ollama;
