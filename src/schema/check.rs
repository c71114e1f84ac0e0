//! Checking a user's YAML against a JSON Schema, with errors a person can act on.
//!
//! The jsonschema crate reports every violation with an instance path and a schema path.
//! We map the instance path to `file:line:column` through the YAML position index, and
//! rewrite the common kinds of error (unknown field, missing field, wrong type, bad pattern)
//! into sentences with a "did you mean" where a misspelling is likely.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::playbook::model::{STEP_KINDS, one_kind_message};
use crate::playbook::types::{DURATION_FORMAT, parse_duration};
use crate::source::yaml::{Document, pointer_push};

/// A compiled schema, ready to check documents.
pub(crate) struct SchemaChecker {
    schema: Value,
    validator: Validator,
}

impl SchemaChecker {
    pub(crate) fn new(schema: Value) -> Self {
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .with_format(DURATION_FORMAT, |s| parse_duration(s).is_ok())
            .build(&schema)
            .expect("our generated schemas are valid JSON Schemas");
        Self { schema, validator }
    }

    /// Every violation of the schema in `doc`, as diagnostics.
    pub(crate) fn check(&self, doc: &Document) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for err in self.validator.iter_errors(&doc.value) {
            self.describe(doc, &err, &mut out);
        }
        out
    }

    /// The schema object that holds the keyword an error's schema path ends in.
    fn keyword_parent(&self, schema_path: &str) -> Option<&Value> {
        let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
        self.schema.pointer(parent)
    }

    fn describe(&self, doc: &Document, err: &ValidationError<'_>, out: &mut Vec<Diagnostic>) {
        let pointer = err.instance_path().as_str();
        let schema_path = err.schema_path().as_str();
        let instance = doc.value.pointer(pointer).unwrap_or(&Value::Null);
        let place = place(&doc.value, pointer);
        let value_span = doc.value_span(pointer);
        let d = match err.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                // One diagnostic per field; extra ones are produced below for the rest.
                let allowed: Vec<String> = self
                    .keyword_parent(schema_path)
                    .and_then(|s| s.get("properties"))
                    .and_then(Value::as_object)
                    .map(|p| p.keys().cloned().collect())
                    .unwrap_or_default();
                for field in unexpected {
                    let d = Diagnostic::error("unknown-field", format!("unknown field `{field}`{place}"))
                        .at(doc.key_span(&pointer_push(pointer, field)))
                        .help(format!("the fields here are {}", list(&allowed)));
                    out.push(d.label_opt(did_you_mean(field, allowed.iter().map(String::as_str))));
                }
                return;
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                let place = if place.is_empty() { at_path(pointer) } else { place };
                let d = Diagnostic::error("missing-field", format!("missing field `{name}`{place}"));
                if pointer.is_empty() {
                    d.at(crate::source::Span::point(1, 1)).help(format!("add `{name}:` at the top level"))
                } else {
                    d.at(doc.key_span(pointer))
                }
            }
            ValidationErrorKind::Type { .. } if pointer.is_empty() && instance.is_null() => {
                Diagnostic::error("empty", "the file is empty: a playbook needs at least `version`, `name` and `steps`")
                    .at(value_span)
            }
            ValidationErrorKind::Type { kind } => {
                let expected = match kind {
                    TypeKind::Single(t) => type_name(&t.to_string()).to_string(),
                    TypeKind::Multiple(set) => set
                        .iter()
                        .map(|t| type_name(&t.to_string()).to_string())
                        .collect::<Vec<_>>()
                        .join(" or "),
                };
                Diagnostic::error(
                    "wrong-type",
                    format!("expected {expected}{}, found {}", at_path(pointer), describe_value(instance)),
                )
                .at(value_span)
            }
            ValidationErrorKind::Constant { .. } if pointer == "/version" && !instance.is_number() => {
                return; // the type error says it
            }
            ValidationErrorKind::Constant { expected_value } => {
                if pointer == "/version" {
                    Diagnostic::error(
                        "unsupported-version",
                        format!("unsupported version {instance}: this codingworker reads version {expected_value}"),
                    )
                } else {
                    Diagnostic::error("wrong-value", format!("expected {expected_value}{}", at_path(pointer)))
                }
                .at(value_span)
            }
            ValidationErrorKind::Enum { options } => Diagnostic::error(
                "wrong-value",
                format!("expected one of {}{}, found {instance}", options, at_path(pointer)),
            )
            .at(value_span),
            ValidationErrorKind::Format { format } if format == DURATION_FORMAT => {
                let text = instance.as_str().unwrap_or_default();
                Diagnostic::error("invalid-duration", parse_duration(text).err().unwrap_or_default())
                    .at(value_span)
            }
            ValidationErrorKind::Pattern { pattern } => {
                let text = instance.as_str().unwrap_or_default();
                let parent = self.keyword_parent(schema_path);
                if parent.and_then(|p| p.get("format")).and_then(Value::as_str) == Some(DURATION_FORMAT) {
                    Diagnostic::error("invalid-duration", parse_duration(text).err().unwrap_or_default())
                } else if pattern == crate::playbook::types::ENV_NAME_PATTERN {
                    Diagnostic::error(
                        "invalid-name",
                        format!("invalid variable name `{text}`{}: use A-Z, a-z, 0-9 and `_`, not starting with a digit", at_path(pointer)),
                    )
                } else if pointer.ends_with("/id") {
                    Diagnostic::error(
                        "invalid-id",
                        format!("invalid step id `{text}`: an id starts with a lowercase letter and has only a-z, 0-9, `_` and `-`"),
                    )
                } else {
                    Diagnostic::error("invalid-name", format!("`{text}`{} does not match `{pattern}`", at_path(pointer)))
                }
                .at(value_span)
            }
            ValidationErrorKind::PropertyNames { error } => {
                let name = error.instance().as_str().unwrap_or_default().to_string();
                let what = if pointer.ends_with("/env") {
                    "environment variable name"
                } else if pointer.contains("/attempts/") {
                    "attempt key (keys are read as `attempt.KEY`: a-z, 0-9 and `_`)"
                } else {
                    "name"
                };
                Diagnostic::error("invalid-name", format!("invalid {what} `{name}`"))
                    .at(doc.key_span(&pointer_push(pointer, &name)))
            }
            ValidationErrorKind::MinItems { limit } => Diagnostic::error(
                "too-few-items",
                format!("`{}` needs at least {limit} {}", last_token(pointer), if *limit == 1 { "entry" } else { "entries" }),
            )
            .at(doc.key_span(pointer)),
            ValidationErrorKind::Minimum { limit } => {
                Diagnostic::error("out-of-range", format!("must be at least {limit}{}", at_path(pointer))).at(value_span)
            }
            ValidationErrorKind::Maximum { limit } => {
                Diagnostic::error("out-of-range", format!("must be at most {limit}{}", at_path(pointer))).at(value_span)
            }
            ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::OneOfMultipleValid { .. }
                if is_step(self.keyword_parent(schema_path)) =>
            {
                let Some(obj) = instance.as_object() else { return };
                let present: Vec<&str> = STEP_KINDS.iter().copied().filter(|k| obj.contains_key(*k)).collect();
                if present.is_empty()
                    && obj.keys().any(|k| crate::diagnostic::suggest(k, STEP_KINDS).is_some())
                {
                    return; // the unknown-field error already says "did you mean `shell`?"
                }
                let id = obj.get("id").and_then(Value::as_str).unwrap_or("?");
                Diagnostic::error("step-kind", one_kind_message(id, present.into_iter()))
                    .at(doc.key_span(pointer))
            }
            _ => Diagnostic::error("schema", format!("{err}{}", at_path(pointer))).at(value_span),
        };
        out.push(d);
    }
}

fn is_step(schema: Option<&Value>) -> bool {
    schema
        .and_then(|s| s.get("oneOf"))
        .and_then(Value::as_array)
        .is_some_and(|alts| {
            alts.iter()
                .any(|a| a.pointer("/required/0").and_then(Value::as_str) == Some("shell"))
        })
}

/// " in step `x`" when the pointer is inside a step, else "".
fn place(root: &Value, pointer: &str) -> String {
    let mut cur = root;
    let mut step = None;
    let mut prev_was_steps = false;
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        let next = match cur {
            Value::Object(m) => m.get(&token),
            Value::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        let Some(next) = next else { break };
        if prev_was_steps && let Some(id) = next.get("id").and_then(Value::as_str) {
            step = Some(id.to_string());
        }
        prev_was_steps = token == "steps" && next.is_array();
        cur = next;
    }
    step.map(|s| format!(" in step `{s}`")).unwrap_or_default()
}

/// " at `steps[1].timeout`" for a non-root pointer.
pub(crate) fn at_path(pointer: &str) -> String {
    if pointer.is_empty() {
        String::new()
    } else {
        format!(" at `{}`", display_path(pointer))
    }
}

/// `/steps/1/timeout` as `steps[1].timeout`.
pub(crate) fn display_path(pointer: &str) -> String {
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if token.chars().all(|c| c.is_ascii_digit()) && !token.is_empty() {
            out.push_str(&format!("[{token}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    out
}

fn last_token(pointer: &str) -> String {
    pointer
        .rsplit('/')
        .next()
        .unwrap_or("")
        .replace("~1", "/")
        .replace("~0", "~")
}

fn type_name(json_type: &str) -> &'static str {
    match json_type {
        "object" => "a mapping",
        "array" => "a list",
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean",
        "null" => "nothing",
        _ => "a value",
    }
}

fn describe_value(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() > 40 => "a string".into(),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

fn list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_like_yaml() {
        assert_eq!(display_path("/steps/1/timeout"), "steps[1].timeout");
        assert_eq!(display_path("/env/a~1b"), "env.a/b");
        assert_eq!(display_path(""), "");
    }

    #[test]
    fn place_names_the_innermost_step() {
        let v = serde_json::json!({"steps": [{"id": "a"}, {"id": "b", "retry": {"steps": [{"id": "c", "x": 1}]}}]});
        assert_eq!(place(&v, "/steps/1/retry/steps/0/x"), " in step `c`");
        assert_eq!(place(&v, "/steps/1"), " in step `b`");
        assert_eq!(place(&v, "/name"), "");
    }
}
