//! JSON Schemas of everything codingworker reads and writes, generated from the Rust types.
//!
//! Each document's owner generates its schema with [`for_input`] or [`for_output`];
//! `codingworker schema KIND` prints them (`crate::cli::schema` knows the kinds),
//! `schemas/*.json` are the committed copies (a test fails when they drift), and [`check`]
//! validates a user's YAML against one and turns the errors into positioned diagnostics.

pub(crate) mod check;
pub(crate) mod pipeline;

use schemars::generate::SchemaSettings;
use serde_json::Value;

/// The JSON Schema (draft 2020-12) of a document people write: how it deserializes, with
/// optional keys not nullable ([`strip_null`]).
pub(crate) fn for_input<T: schemars::JsonSchema>() -> Value {
    let mut value = SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    strip_null(&mut value);
    value
}

/// The JSON Schema (draft 2020-12) of a document codingworker writes: how it serializes.
pub(crate) fn for_output<T: schemars::JsonSchema>() -> Value {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// A schema as the committed files hold it: pretty JSON and a final newline.
pub(crate) fn to_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a schema serializes");
    text.push('\n');
    text
}

/// In files people write, an optional key is left out rather than set to null. schemars
/// makes every `Option` nullable (`anyOf: [T, null]`), which also buries the errors inside
/// `T` under one opaque "anyOf" error; this turns those back into plain `T`.
pub(crate) fn strip_null(v: &mut Value) {
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
