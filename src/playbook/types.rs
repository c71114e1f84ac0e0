//! Small value types of the playbook language: templates, expressions, durations, names.
//!
//! Each has the serde shape of the YAML and a JSON Schema that says the same, so that an
//! editor with the committed schema and `codingworker validate` agree.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The pattern of a step id.
pub const STEP_ID_PATTERN: &str = "^[a-z][a-z0-9_-]*$";
/// The pattern of an environment variable or secret name.
pub const ENV_NAME_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";
/// The JSON Schema `format` we give humantime durations; the validator checks it.
pub const DURATION_FORMAT: &str = "humantime";

/// A minijinja template string (`{{ }}` / `{% %}`), rendered at run time.
///
/// It is also the handle its compiled form is rendered by: collecting a playbook's
/// templates (`crate::template::sites`) records each one's place (its JSON pointer) in it,
/// so the code that renders a field names the field itself (`&spec.model`), never a
/// pointer string of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
#[schemars(description = "A minijinja template string: `{{ expression }}` and `{% statement %}`.")]
pub struct Template(
    pub String,
    #[serde(skip)]
    #[schemars(skip)]
    pub Place,
);

/// Where a template sits in its playbook, once its templates were collected.
#[derive(Debug, Clone, Default)]
pub struct Place(std::sync::OnceLock<std::sync::Arc<str>>);

/// Two templates are equal by their text, wherever they sit.
impl PartialEq for Place {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Place {}

impl Template {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into(), Place::default())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Its JSON pointer, once collected (`None`: a template made by code, not compiled).
    pub fn pointer(&self) -> Option<&str> {
        self.1.0.get().map(|p| &**p)
    }
    /// Records where it sits (the first place recorded stays).
    pub fn place(&self, pointer: &str) {
        let _ = self.1.0.set(pointer.into());
    }
}

/// The `version` key: the integer 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version1;

impl<'de> Deserialize<'de> for Version1 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u64::deserialize(d)? {
            1 => Ok(Version1),
            n => Err(de::Error::custom(format!(
                "unsupported version {n}: this codingworker reads version 1"
            ))),
        }
    }
}

impl Serialize for Version1 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(1)
    }
}

impl JsonSchema for Version1 {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Version1".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer", "const": 1, "description": "Version of the format: the integer 1." })
    }
}

/// A condition: a bare minijinja expression (`steps.test.ok`, `failure()`) or a boolean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Bool(bool),
    Expr(String),
}

/// A boolean that may also be written as a template rendering to `true`/`false`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flag {
    Bool(bool),
    Template(Template),
}

struct BoolOrStr;

impl Visitor<'_> for BoolOrStr {
    type Value = Result<bool, String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean or a string")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Ok(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Err(v.to_owned()))
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match d.deserialize_any(BoolOrStr)? {
            Ok(b) => Condition::Bool(b),
            Err(s) => Condition::Expr(s),
        })
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Condition::Bool(b) => s.serialize_bool(*b),
            Condition::Expr(e) => s.serialize_str(e),
        }
    }
}

impl JsonSchema for Condition {
    fn schema_name() -> Cow<'static, str> {
        "Condition".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["string", "boolean"],
            "description": "A bare minijinja expression such as `steps.test.ok` or `failure()`, or a boolean."
        })
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match d.deserialize_any(BoolOrStr)? {
            Ok(b) => Flag::Bool(b),
            Err(s) => Flag::Template(Template::new(s)),
        })
    }
}

impl Serialize for Flag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Flag::Bool(b) => s.serialize_bool(*b),
            Flag::Template(t) => s.serialize_str(t.as_str()),
        }
    }
}

impl JsonSchema for Flag {
    fn schema_name() -> Cow<'static, str> {
        "Flag".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["boolean", "string"],
            "description": "A boolean, or a template that renders to `true` or `false`."
        })
    }
}

/// A number of tokens that may also be written as a template rendering to one
/// (`"{{ attempt.num_ctx }}"`), so that each attempt's model can set its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Count {
    Number(u32),
    Template(Template),
}

struct CountOrStr;

impl Visitor<'_> for CountOrStr {
    type Value = Count;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number or a template")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        u32::try_from(v)
            .map(Count::Number)
            .map_err(|_| E::custom(format!("{v} is too large")))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        u64::try_from(v)
            .map_err(|_| E::custom(format!("{v} is negative")))
            .and_then(|v| self.visit_u64(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Count::Template(Template::new(v)))
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CountOrStr)
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Count::Number(n) => s.serialize_u32(*n),
            Count::Template(t) => s.serialize_str(t.as_str()),
        }
    }
}

impl JsonSchema for Count {
    fn schema_name() -> Cow<'static, str> {
        "Count".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                { "type": "integer", "minimum": 512 },
                { "type": "string" }
            ],
            "description": "A whole number (at least 512), or a template that renders to one (`{{ attempt.num_ctx }}`)."
        })
    }
}

impl Count {
    /// The number, or what the template renders to, checked.
    pub fn resolve(
        &self,
        field: &str,
        render: &dyn Fn(&Template) -> Result<String, String>,
    ) -> Result<u32, String> {
        let n = match self {
            Count::Number(n) => *n,
            Count::Template(t) => {
                let text = render(t)?;
                text.trim().parse::<u32>().map_err(|_| {
                    format!(
                        "`{field}` rendered to `{}`, not a whole number",
                        text.trim()
                    )
                })?
            }
        };
        if n < 512 {
            return Err(format!("`{field}` is {n}; it must be at least 512 tokens"));
        }
        Ok(n)
    }
}

/// A duration written the humantime way: `30s`, `10m`, `1h 30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s)
            .map(HumanDuration)
            .map_err(de::Error::custom)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl JsonSchema for HumanDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": DURATION_FORMAT,
            "pattern": "^\\s*[0-9]+\\s*[a-zA-Z]+(\\s*[0-9]+\\s*[a-zA-Z]+)*\\s*$",
            "description": "A duration such as `30s`, `10m` or `1h 30m` (humantime).",
            "examples": ["30s", "10m", "1h 30m"]
        })
    }
}

/// The units people write most, for "did you mean".
const COMMON_UNITS: [&str; 14] = [
    "ms", "s", "secs", "seconds", "sec", "second", "m", "mins", "minutes", "min", "minute", "h",
    "hours", "hour",
];

/// The longest duration anything takes (a deadline further away is not a deadline, and
/// clocks overflow).
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Parses a humantime duration; a zero duration is refused (it could never finish), and so
/// is one over 30 days.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let hint = "write e.g. `30s`, `10m`, `1h 30m`";
    match humantime::parse_duration(s.trim()) {
        Ok(d) if d.is_zero() => Err(format!("invalid duration `{s}`: must be more than zero")),
        Ok(d) if d > MAX_DURATION => {
            Err(format!("invalid duration `{s}`: at most 30 days (`30d`)"))
        }
        Ok(d) => Ok(d),
        Err(humantime::DurationError::UnknownUnit { unit, .. }) => {
            let guess = crate::diagnostic::suggest(&unit, COMMON_UNITS)
                .map(|u| format!("did you mean `{u}`? "))
                .unwrap_or_default();
            Err(format!(
                "invalid duration `{s}`: unknown unit `{unit}`; {guess}{hint}"
            ))
        }
        Err(humantime::DurationError::Empty) => {
            Err(format!("invalid duration: it is empty; {hint}"))
        }
        Err(_) => Err(format!("invalid duration `{s}`: {hint}")),
    }
}

/// Environment variables: names to templates of their values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EnvMap(pub BTreeMap<String, Template>);

impl EnvMap {
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Template)> {
        self.0.iter()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl JsonSchema for EnvMap {
    fn schema_name() -> Cow<'static, str> {
        "EnvMap".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let value = g.subschema_for::<Template>();
        json_schema!({
            "type": "object",
            "description": "Environment variables; values are templates.",
            "propertyNames": { "pattern": ENV_NAME_PATTERN },
            "additionalProperties": value,
        })
    }
}

/// The id of a step: `[a-z][a-z0-9_-]*`, unique in the playbook.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepId(pub String);

impl StepId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl JsonSchema for StepId {
    fn schema_name() -> Cow<'static, str> {
        "StepId".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": STEP_ID_PATTERN,
            "description": "Unique id of the step, including nested steps. An id with `-` is read as `steps[\"my-step\"]` in expressions."
        })
    }
}

/// The name of a secret: a variable of the worker's environment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EnvName(pub String);

impl JsonSchema for EnvName {
    fn schema_name() -> Cow<'static, str> {
        "EnvName".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": ENV_NAME_PATTERN })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_the_humantime_way() {
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(
            parse_duration(" 1h 30m ").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_duration("10 minuts").unwrap_err(),
            "invalid duration `10 minuts`: unknown unit `minuts`; did you mean `minutes`? write e.g. `30s`, `10m`, `1h 30m`"
        );
        assert_eq!(
            parse_duration("forever").unwrap_err(),
            "invalid duration `forever`: write e.g. `30s`, `10m`, `1h 30m`"
        );
        assert!(parse_duration("0s").unwrap_err().contains("more than zero"));
        assert!(
            parse_duration("500000000000y")
                .unwrap_err()
                .contains("at most 30 days")
        );
        assert_eq!(parse_duration("30d").unwrap(), MAX_DURATION);
    }

    #[test]
    fn conditions_and_flags_take_booleans_or_strings() {
        let c: Condition = serde_json::from_str("true").unwrap();
        assert_eq!(c, Condition::Bool(true));
        let c: Condition = serde_json::from_str("\"failure()\"").unwrap();
        assert_eq!(c, Condition::Expr("failure()".into()));
        let f: Flag = serde_json::from_str("\"{{ x }}\"").unwrap();
        assert_eq!(f, Flag::Template(Template::new("{{ x }}")));
        assert!(serde_json::from_str::<Flag>("3").is_err());
    }
}
