//! The one way a file people write is read: YAML with a span for every node, then its JSON
//! Schema, then serde, then the document's own semantic checks. Playbooks and `worker.yml`
//! both go through it, so both say where a problem is the same way, and one problem never
//! hides the next (the semantic checks run on whatever part can be read).

use serde::de::DeserializeOwned;

use super::check::{SchemaChecker, at_path};
use crate::diagnostic::{Diagnostic, sort_and_dedup};
use crate::source::yaml::Document;

/// What reading a document gave.
pub(crate) struct Read<T> {
    /// The parsed YAML (`None`: it is not YAML).
    pub doc: Option<Document>,
    /// The typed value, when there are no errors.
    pub value: Option<T>,
    /// Errors and warnings, sorted by place.
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads `text` against `schema`; `semantics` gets the typed value when the shape was right
/// (`None` otherwise: it then checks what it can read from the document itself).
pub(crate) fn read<T: DeserializeOwned>(
    text: &str,
    schema: &SchemaChecker,
    semantics: impl FnOnce(Option<&T>, &Document) -> Vec<Diagnostic>,
) -> Read<T> {
    let doc = match Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            return Read {
                doc: None,
                value: None,
                diagnostics: vec![Diagnostic::error("yaml", e.message).at(e.span)],
            };
        }
    };
    let mut diagnostics = schema.check(&doc);
    let mut value = None;
    if diagnostics.is_empty() {
        match serde_path_to_error::deserialize::<_, T>(&doc.value) {
            Ok(v) => value = Some(v),
            Err(e) => {
                // The schema should have caught this; say where anyway.
                let pointer = path_to_pointer(e.path());
                diagnostics.push(
                    Diagnostic::error("invalid", format!("{}{}", e.inner(), at_path(&pointer)))
                        .at(doc.value_span(&pointer)),
                );
            }
        }
    }
    diagnostics.extend(semantics(value.as_ref(), &doc));
    sort_and_dedup(&mut diagnostics);
    if diagnostics.iter().any(Diagnostic::is_error) {
        value = None;
    }
    Read {
        doc: Some(doc),
        value,
        diagnostics,
    }
}

/// The JSON pointer of a serde path.
pub(crate) fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => pointer = format!("{pointer}/{index}"),
            Segment::Map { key } => pointer = crate::source::yaml::pointer_push(&pointer, key),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    pointer
}
