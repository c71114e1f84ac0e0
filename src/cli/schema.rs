//! `codingworker schema KIND`: print a JSON Schema; the documents that have one.

use serde_json::Value;

use crate::config::worker::WorkerConfig;
use crate::engine::report::RunReport;
use crate::error::{Error, Outcome};
use crate::playbook::model::Playbook;
use crate::schema::{for_input, for_output, to_text};
use crate::task::Task;

/// The documents that have a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaKind {
    /// A playbook (`.codingworker.yml`, `playbooks/*.yml`).
    Playbook,
    /// The task message v1 (SQS body).
    Task,
    /// The worker's `worker.yml`.
    Worker,
    /// A run's `run.json`.
    Run,
    /// The output of `codingworker project --format json`.
    Project,
}

impl SchemaKind {
    pub const ALL: [SchemaKind; 5] = [
        SchemaKind::Playbook,
        SchemaKind::Task,
        SchemaKind::Worker,
        SchemaKind::Run,
        SchemaKind::Project,
    ];

    /// The file name under `schemas/`.
    pub fn file_name(self) -> &'static str {
        match self {
            SchemaKind::Playbook => "playbook.schema.json",
            SchemaKind::Task => "task.schema.json",
            SchemaKind::Worker => "worker.schema.json",
            SchemaKind::Run => "run.schema.json",
            SchemaKind::Project => "project.schema.json",
        }
    }
}

/// Generates the JSON Schema (draft 2020-12) of a kind of document.
pub fn generate(kind: SchemaKind) -> Value {
    match kind {
        SchemaKind::Playbook => for_input::<Playbook>(),
        SchemaKind::Task => for_input::<Task>(),
        SchemaKind::Worker => for_input::<WorkerConfig>(),
        SchemaKind::Run => for_output::<RunReport>(),
        SchemaKind::Project => for_output::<crate::project::Project>(),
    }
}

/// The schema as the committed file holds it.
pub fn generate_text(kind: SchemaKind) -> String {
    to_text(&generate(kind))
}

pub fn print_schema(kind: SchemaKind) -> Result<Outcome, Error> {
    print!("{}", generate_text(kind));
    Ok(Outcome::Success)
}
