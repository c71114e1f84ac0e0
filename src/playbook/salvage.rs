//! Salvaging steps that fail the schema, so their templates are still checked.
//!
//! When a step has a schema error (a misspelt key, a bad duration), the typed model cannot
//! be built from it, and without this its templates would go unchecked until the error is
//! fixed. A salvaged step keeps only the fields that have the right shape; what is dropped
//! has already been reported by the schema pass, so salvaging never adds an error of its
//! own. Missing required text becomes an empty placeholder.

use serde_json::{Map, Value, json};

use super::model::STEP_KINDS;
use super::types::parse_duration;

/// A copy of a step's JSON that deserializes as a step, keeping every well-formed field.
pub(super) fn salvage_step(value: &Value) -> Value {
    let Some(obj) = value.as_object() else {
        return json!({ "id": "unreadable", "shell": "" });
    };
    let mut out = Map::new();
    out.insert(
        "id".into(),
        string(obj.get("id")).unwrap_or_else(|| "unreadable".into()),
    );
    copy_if(obj, &mut out, "name", Value::is_string);
    copy_if(obj, &mut out, "if", |v| v.is_string() || v.is_boolean());
    copy_if(obj, &mut out, "continue_on_error", Value::is_boolean);
    copy_if(obj, &mut out, "workdir", Value::is_string);
    copy_if(obj, &mut out, "timeout", |v| {
        v.as_str().is_some_and(|s| parse_duration(s).is_ok())
    });
    if let Some(env) = env_map(obj.get("env")) {
        out.insert("env".into(), env);
    }
    let kind = STEP_KINDS.iter().copied().find(|k| obj.contains_key(*k));
    let body = kind.and_then(|k| obj.get(k));
    let (key, spec) = match kind {
        Some("aider") => ("aider", aider(body)),
        Some("retry") => ("retry", retry(body)),
        Some("pr_open") => ("pr_open", pr_open(body)),
        Some("comment") => (
            "comment",
            json!({ "body": text(body.and_then(|b| b.get("body"))) }),
        ),
        _ => ("shell", text(body)),
    };
    out.insert(key.into(), spec);
    Value::Object(out)
}

fn string(v: Option<&Value>) -> Option<Value> {
    v.filter(|v| v.is_string()).cloned()
}

/// A string value, or an empty placeholder.
fn text(v: Option<&Value>) -> Value {
    string(v).unwrap_or_else(|| Value::String(String::new()))
}

fn copy_if(
    from: &Map<String, Value>,
    to: &mut Map<String, Value>,
    key: &str,
    ok: impl Fn(&Value) -> bool,
) {
    if let Some(v) = from.get(key).filter(|v| ok(v)) {
        to.insert(key.into(), v.clone());
    }
}

fn strings(v: Option<&Value>) -> Value {
    Value::Array(
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter(|x| x.is_string()).cloned().collect())
            .unwrap_or_default(),
    )
}

fn env_map(v: Option<&Value>) -> Option<Value> {
    let obj = v?.as_object()?;
    Some(Value::Object(
        obj.iter()
            .filter(|(_, v)| v.is_string())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ))
}

fn aider(body: Option<&Value>) -> Value {
    let empty = Map::new();
    let obj = body.and_then(Value::as_object).unwrap_or(&empty);
    let mut out = Map::new();
    out.insert("model".into(), text(obj.get("model")));
    out.insert("message".into(), text(obj.get("message")));
    for key in ["files", "read", "args"] {
        let v = obj.get(key);
        let list = match v {
            Some(Value::String(one)) => Value::Array(vec![Value::String(one.clone())]),
            _ => strings(v),
        };
        out.insert(key.into(), list);
    }
    copy_if(obj, &mut out, "edit_format", Value::is_string);
    copy_if(obj, &mut out, "api_base", Value::is_string);
    copy_if(obj, &mut out, "require_changes", Value::is_boolean);
    copy_if(obj, &mut out, "num_ctx", |v| {
        v.is_string()
            || v.as_u64()
                .is_some_and(|n| n >= 512 && n <= u64::from(u32::MAX))
    });
    Value::Object(out)
}

fn retry(body: Option<&Value>) -> Value {
    let empty = Map::new();
    let obj = body.and_then(Value::as_object).unwrap_or(&empty);
    let mut attempts: Vec<Value> = obj
        .get("attempts")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|entry| match entry.as_object() {
                    Some(e) => {
                        let mut e = e.clone();
                        match env_map(e.get("env")) {
                            Some(env) => e.insert("env".into(), env),
                            None => e.remove("env"),
                        };
                        Value::Object(e)
                    }
                    None => json!({}),
                })
                .collect()
        })
        .unwrap_or_default();
    if attempts.is_empty() {
        attempts.push(json!({}));
    }
    let mut steps: Vec<Value> = obj
        .get("steps")
        .and_then(Value::as_array)
        .map(|s| s.iter().map(salvage_step).collect())
        .unwrap_or_default();
    if steps.is_empty() {
        steps.push(json!({ "id": "unreadable", "shell": "" }));
    }
    let mut out = Map::new();
    out.insert("attempts".into(), Value::Array(attempts));
    out.insert("steps".into(), Value::Array(steps));
    copy_if(obj, &mut out, "until", |v| v.is_string() || v.is_boolean());
    copy_if(obj, &mut out, "reset", Value::is_boolean);
    Value::Object(out)
}

fn pr_open(body: Option<&Value>) -> Value {
    let empty = Map::new();
    let obj = body.and_then(Value::as_object).unwrap_or(&empty);
    let mut out = Map::new();
    for key in ["title", "body", "base", "commit_message"] {
        copy_if(obj, &mut out, key, Value::is_string);
    }
    copy_if(obj, &mut out, "draft", |v| v.is_string() || v.is_boolean());
    for key in ["labels", "reviewers"] {
        out.insert(key.into(), strings(obj.get(key)));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::model::{Step, StepKind};

    #[test]
    fn a_step_with_schema_errors_keeps_its_well_formed_fields() {
        let raw = json!({
            "id": "test", "timeout": "10 parsecs", "continue_on_eror": true, "env": {"A": 1, "B": "{{ issue.bdy }}"},
            "retry": {"attempts": [{"model": "m", "env": {"X": 2}}], "until": "steps.t.status == 'sucess'",
                      "steps": [{"id": "t", "shel": "x"}, {"id": "c", "aider": {"model": 3, "message": "{{ issue.tilte }}", "files": ["a", 4]}}]}
        });
        let step: Step = serde_json::from_value(salvage_step(&raw)).unwrap();
        assert!(step.timeout.is_none());
        assert_eq!(
            step.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["B"]
        );
        let StepKind::Retry(r) = &step.kind else {
            panic!("not a retry")
        };
        assert_eq!(r.steps.len(), 2, "indices of nested steps are kept");
        let StepKind::Aider(a) = &r.steps[1].kind else {
            panic!("not aider")
        };
        assert_eq!(a.message.as_str(), "{{ issue.tilte }}");
        assert_eq!(a.files.len(), 1);
    }
}
