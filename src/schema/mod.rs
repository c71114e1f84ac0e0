//! JSON Schemas of everything codingworker reads and writes, generated from the Rust types.
//!
//! `codingworker schema KIND` prints them, `schemas/*.json` are the committed copies (a test
//! fails when they drift), and [`check`] validates a user's YAML against one and turns the
//! errors into positioned diagnostics.

pub mod check;

use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::engine::report::RunReport;
use crate::playbook::model::Playbook;
use crate::task::Task;
use crate::triggers::worker::config::WorkerConfig;

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
}

impl SchemaKind {
    pub const ALL: [SchemaKind; 4] = [
        SchemaKind::Playbook,
        SchemaKind::Task,
        SchemaKind::Worker,
        SchemaKind::Run,
    ];

    /// The file name under `schemas/`.
    pub fn file_name(self) -> &'static str {
        match self {
            SchemaKind::Playbook => "playbook.schema.json",
            SchemaKind::Task => "task.schema.json",
            SchemaKind::Worker => "worker.schema.json",
            SchemaKind::Run => "run.schema.json",
        }
    }
}

/// Generates the JSON Schema (draft 2020-12) of a kind of document.
pub fn generate(kind: SchemaKind) -> Value {
    let settings = SchemaSettings::draft2020_12();
    let schema = match kind {
        SchemaKind::Playbook => settings
            .for_deserialize()
            .into_generator()
            .into_root_schema_for::<Playbook>(),
        SchemaKind::Task => settings
            .for_deserialize()
            .into_generator()
            .into_root_schema_for::<Task>(),
        SchemaKind::Worker => settings
            .for_deserialize()
            .into_generator()
            .into_root_schema_for::<WorkerConfig>(),
        SchemaKind::Run => settings
            .for_serialize()
            .into_generator()
            .into_root_schema_for::<RunReport>(),
    };
    let mut value = schema.to_value();
    if kind != SchemaKind::Run {
        strip_null(&mut value);
    }
    value
}

/// In files people write, an optional key is left out rather than set to null. schemars
/// makes every `Option` nullable (`anyOf: [T, null]`), which also buries the errors inside
/// `T` under one opaque "anyOf" error; this turns those back into plain `T`.
fn strip_null(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(alts)) = map.get("anyOf")
                && alts.len() == 2
                && alts[1] == serde_json::json!({ "type": "null" })
                && let Value::Object(inner) = alts[0].clone()
            {
                map.remove("anyOf");
                for (k, val) in inner {
                    map.entry(k).or_insert(val);
                }
            }
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            if map.get("default") == Some(&Value::Null) {
                map.remove("default");
            }
            map.values_mut().for_each(strip_null);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

/// The schema as the committed file holds it: pretty JSON and a final newline.
pub fn generate_text(kind: SchemaKind) -> String {
    let mut text = serde_json::to_string_pretty(&generate(kind)).expect("a schema serializes");
    text.push('\n');
    text
}
