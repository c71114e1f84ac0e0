//! The playbook language: its model, loading in passes, and semantic validation.

pub mod load;
pub mod model;
mod salvage;
pub mod types;
pub mod validate;

pub use load::{Loaded, load_file, load_source};
pub use model::{Playbook, Step, StepKind};
