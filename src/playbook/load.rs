//! Loading a playbook in passes: YAML with positions, JSON Schema, typed model, semantics.
//!
//! Each pass reports everything it finds. When the schema pass fails, the semantic checks
//! still run on every step that can be read on its own, so one typo does not hide the next.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::model::{DEFAULT_BRANCH, Playbook, Step};
use super::types::{EnvMap, EnvName, Template};
use super::validate;
use crate::diagnostic::Diagnostic;
use crate::schema::check::SchemaChecker;

use crate::source::yaml::Document;
use crate::source::{ReadError, SourceFile, Span};
use crate::template::sites::step_pointer;

/// A playbook file after all passes.
#[derive(Debug)]
pub struct Loaded {
    pub source: SourceFile,
    /// The playbook, when the file has no errors.
    pub playbook: Option<Playbook>,
    /// Errors and warnings, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The parts of a playbook the semantic checks look at, read as far as they can be.
pub struct Parts<'a> {
    pub branch: Template,
    pub env: EnvMap,
    pub vars: BTreeMap<String, Value>,
    pub secrets: Vec<String>,
    /// Readable steps: their pointer, whether they sit inside a retry, the step.
    pub steps: Vec<(String, bool, &'a Step)>,
}

/// Reads and loads a playbook file. Only an unreadable file is an `Err`.
pub fn load_file(path: &Path) -> Result<Loaded, ReadError> {
    Ok(load_source(SourceFile::read(path)?))
}

/// Loads a playbook from text.
pub fn load_source(source: SourceFile) -> Loaded {
    let read = crate::schema::pipeline::read::<Playbook>(
        &source.text,
        playbook_checker(),
        |playbook, doc| {
            let partial_steps: Vec<Step>;
            let parts = match playbook {
                Some(pb) => Parts {
                    branch: pb.branch.clone(),
                    env: pb.env.clone(),
                    vars: pb.vars.clone(),
                    secrets: pb.secrets.iter().map(|s| s.0.clone()).collect(),
                    steps: pb
                        .steps
                        .iter()
                        .enumerate()
                        .map(|(i, s)| (step_pointer(i), false, s))
                        .collect(),
                },
                None => {
                    let mut found = Vec::new();
                    if let Some(steps) = doc.value.get("steps") {
                        readable_steps("/steps", steps, false, &mut found);
                    }
                    let (places, steps): (Vec<(String, bool)>, Vec<Step>) =
                        found.into_iter().unzip();
                    partial_steps = steps;
                    Parts {
                        branch: doc
                            .value
                            .get("branch")
                            .and_then(|b| serde_json::from_value(b.clone()).ok())
                            .unwrap_or_else(|| Template::new(DEFAULT_BRANCH)),
                        env: doc
                            .value
                            .get("env")
                            .and_then(|e| serde_json::from_value(e.clone()).ok())
                            .unwrap_or_default(),
                        vars: doc
                            .value
                            .get("vars")
                            .and_then(|v| serde_json::from_value(v.clone()).ok())
                            .unwrap_or_default(),
                        secrets: doc
                            .value
                            .get("secrets")
                            .and_then(|v| serde_json::from_value::<Vec<EnvName>>(v.clone()).ok())
                            .map(|v| v.into_iter().map(|s| s.0).collect())
                            .unwrap_or_default(),
                        steps: places
                            .into_iter()
                            .zip(partial_steps.iter())
                            .map(|((pointer, in_retry), s)| (pointer, in_retry, s))
                            .collect(),
                    }
                }
            };
            validate::check(&parts, doc, &source)
        },
    );
    Loaded {
        source,
        playbook: read.value,
        diagnostics: read.diagnostics,
    }
}

/// The compiled playbook schema, built once per process.
fn playbook_checker() -> &'static SchemaChecker {
    static CHECKER: std::sync::OnceLock<SchemaChecker> = std::sync::OnceLock::new();
    CHECKER.get_or_init(|| SchemaChecker::new(crate::schema::for_input::<Playbook>()))
}

/// The steps of the document, read as far as they can be, with their pointer and whether
/// they sit in a retry.
fn readable_steps(
    pointer: &str,
    steps: &Value,
    in_retry: bool,
    out: &mut Vec<((String, bool), Step)>,
) {
    let Some(list) = steps.as_array() else { return };
    for (i, value) in list.iter().enumerate() {
        let here = format!("{pointer}/{i}");
        // A step with schema errors is salvaged, so that its templates are still checked.
        let step = serde_json::from_value::<Step>(value.clone())
            .or_else(|_| serde_json::from_value::<Step>(super::salvage::salvage_step(value)));
        if let Ok(step) = step {
            out.push(((here, in_retry), step));
        }
    }
}

/// Where a diagnostic for `pointer` should point: the value, or for a field that was
/// not written (a default), the key of its nearest written ancestor.
pub fn site_span(doc: &Document, pointer: &str, implicit: bool) -> Span {
    if implicit {
        doc.key_span(pointer.rsplit_once('/').map_or("", |(p, _)| p))
    } else {
        doc.value_span(pointer)
    }
}
