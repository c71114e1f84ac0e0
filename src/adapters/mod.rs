//! The outside world the engine talks to: git, GitHub, the Ollama server.

pub mod git;
pub mod github;
pub mod mirror;
pub mod ollama;
