//! YAML with positions: parse a user's file into a JSON value plus a span for every node.
//!
//! We validate user files with JSON Schema before deserializing them, so the first pass turns
//! YAML (1.2 core schema, via saphyr) into a [`serde_json::Value`] and records where every
//! node and every mapping key sits, indexed by JSON pointer. A schema error's instance path
//! (`/steps/1/timeout`) then maps straight back to `file:line:column`.

use std::collections::HashMap;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde_json::{Map, Number, Value};

use super::Span;

/// A parsed YAML document: its value and where each node came from.
#[derive(Debug)]
pub struct Document {
    pub value: Value,
    positions: HashMap<String, NodeSpans>,
}

#[derive(Debug, Clone, Copy)]
struct NodeSpans {
    key: Option<Span>,
    value: Span,
}

/// A YAML document that could not be turned into a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub message: String,
    pub span: Span,
}

/// How deeply mappings and sequences may nest. A playbook needs about ten levels; the YAML
/// loader and everything after it (conversion, schema, dropping the tree) recurse once per
/// level, so a file nested thousands deep would overflow the stack and abort the process.
pub const MAX_DEPTH: usize = 64;

impl Document {
    /// Parses exactly one YAML document.
    pub fn parse(text: &str) -> Result<Document, YamlError> {
        check_depth(text)?;
        let docs = MarkedYaml::load_from_str(text).map_err(|e| {
            let m = e.marker();
            YamlError {
                message: format!("invalid YAML: {}", e.info()),
                span: Span::point(m.line(), m.col() + 1),
            }
        })?;
        let mut docs = docs.into_iter();
        let Some(root) = docs.next() else {
            return Ok(Document {
                value: Value::Null,
                positions: HashMap::from([(
                    String::new(),
                    NodeSpans {
                        key: None,
                        value: Span::point(1, 1),
                    },
                )]),
            });
        };
        if let Some(second) = docs.next() {
            return Err(YamlError {
                message: "expected one YAML document, found several (`---`)".into(),
                span: span_of(&second),
            });
        }
        let mut positions = HashMap::new();
        let value = convert(&root, String::new(), None, &mut positions)?;
        Ok(Document { value, positions })
    }

    /// The span of the node at `pointer`, or of its nearest ancestor that has one.
    pub fn value_span(&self, pointer: &str) -> Span {
        self.nearest(pointer).value
    }

    /// The span of the mapping key that holds the node at `pointer`, falling back to the
    /// value's span (array items and the root have no key).
    pub fn key_span(&self, pointer: &str) -> Span {
        let spans = self.nearest(pointer);
        spans.key.unwrap_or(spans.value)
    }

    fn nearest(&self, pointer: &str) -> NodeSpans {
        let mut p = pointer;
        loop {
            if let Some(s) = self.positions.get(p) {
                return *s;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => {
                    return self.positions.get("").copied().unwrap_or(NodeSpans {
                        key: None,
                        value: Span::point(1, 1),
                    });
                }
            }
        }
    }
}

/// The most a document may hold once its aliases are expanded (in bytes of scalars and
/// nodes): the loader copies what an alias names, so a few lines of anchors could otherwise
/// expand to gigabytes ("billion laughs").
pub const MAX_EXPANDED: usize = 16 * 1024 * 1024;

/// Refuses a document nested deeper than [`MAX_DEPTH`], or whose aliases expand past
/// [`MAX_EXPANDED`], before anything recursive reads it: the parser's events are a flat
/// stream, so counting them cannot overflow.
fn check_depth(text: &str) -> Result<(), YamlError> {
    use saphyr_parser::{Event, Parser};
    let mut depth = 0usize;
    // The size of the document so far, aliases expanded; the size of each anchored node.
    let mut size = 0usize;
    let mut anchors: HashMap<usize, usize> = HashMap::new();
    let mut open: Vec<(usize, usize)> = Vec::new();
    for event in Parser::new_from_str(text) {
        // A syntax error is reported by the loader, with its own words.
        let Ok((event, span)) = event else {
            return Ok(());
        };
        size += 1;
        match &event {
            Event::Scalar(value, _, anchor, _) => {
                size += value.len();
                if *anchor > 0 {
                    anchors.insert(*anchor, value.len() + 1);
                }
            }
            Event::Alias(anchor) => size += anchors.get(anchor).copied().unwrap_or(1),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                open.push((*anchor, size));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, start)) = open.pop()
                    && anchor > 0
                {
                    anchors.insert(anchor, size - start + 1);
                }
            }
            _ => {}
        }
        if size > MAX_EXPANDED {
            return Err(YamlError {
                message: format!(
                    "the YAML's aliases expand to more than {} MiB",
                    MAX_EXPANDED / (1024 * 1024)
                ),
                span: Span::point(span.start.line(), span.start.col() + 1),
            });
        }
        match event {
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(YamlError {
                        message: format!(
                            "the YAML nests deeper than {MAX_DEPTH} levels of mappings and sequences"
                        ),
                        span: Span::point(span.start.line(), span.start.col() + 1),
                    });
                }
            }
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Appends one reference token to a JSON pointer (RFC 6901 escaping).
pub fn pointer_push(pointer: &str, token: &str) -> String {
    let escaped = token.replace('~', "~0").replace('/', "~1");
    format!("{pointer}/{escaped}")
}

fn span_of(node: &MarkedYaml<'_>) -> Span {
    let (s, e) = (node.span.start, node.span.end);
    let mut span = Span {
        line: s.line(),
        column: s.col() + 1,
        end_line: e.line(),
        end_column: e.col() + 1,
    };
    if span.end_line < span.line || (span.end_line == span.line && span.end_column <= span.column) {
        span.end_line = span.line;
        span.end_column = span.column + 1;
    }
    span
}

fn convert(
    node: &MarkedYaml<'_>,
    pointer: String,
    key: Option<Span>,
    positions: &mut HashMap<String, NodeSpans>,
) -> Result<Value, YamlError> {
    let span = span_of(node);
    let value = match &node.data {
        YamlData::Value(scalar) => scalar_value(scalar, span)?,
        YamlData::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(convert(
                    item,
                    pointer_push(&pointer, &i.to_string()),
                    None,
                    positions,
                )?);
            }
            Value::Array(out)
        }
        YamlData::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map.iter() {
                let name = key_name(k)?;
                let child = pointer_push(&pointer, &name);
                let value = convert(v, child, Some(span_of(k)), positions)?;
                out.insert(name, value);
            }
            Value::Object(out)
        }
        YamlData::Tagged(tag, _) => {
            return Err(YamlError {
                message: format!("unsupported YAML tag `{tag}`"),
                span,
            });
        }
        YamlData::BadValue | YamlData::Representation(..) | YamlData::Alias(_) => {
            return Err(YamlError {
                message: "invalid YAML value".into(),
                span,
            });
        }
    };
    positions.insert(pointer, NodeSpans { key, value: span });
    Ok(value)
}

fn scalar_value(scalar: &Scalar<'_>, span: Span) -> Result<Value, YamlError> {
    Ok(match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Number((*i).into()),
        Scalar::FloatingPoint(f) => {
            Value::Number(Number::from_f64(f.into_inner()).ok_or_else(|| YamlError {
                message: "a number must be finite (no .inf or .nan)".into(),
                span,
            })?)
        }
        Scalar::String(s) => Value::String(s.to_string()),
    })
}

fn key_name(key: &MarkedYaml<'_>) -> Result<String, YamlError> {
    match &key.data {
        YamlData::Value(Scalar::String(s)) => Ok(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Ok(i.to_string()),
        YamlData::Value(Scalar::Boolean(b)) => Ok(b.to_string()),
        _ => Err(YamlError {
            message: "a mapping key must be a string".into(),
            span: span_of(key),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_pointers_to_lines_and_columns() {
        let doc = Document::parse("version: 1\nsteps:\n  - id: a\n    shell: echo\n").unwrap();
        assert_eq!(doc.value["steps"][0]["shell"], "echo");
        let s = doc.value_span("/steps/0/shell");
        assert_eq!((s.line, s.column, s.end_column), (4, 12, 16));
        let k = doc.key_span("/steps/0/shell");
        assert_eq!((k.line, k.column, k.end_column), (4, 5, 10));
        // A pointer that does not exist falls back to its nearest ancestor.
        assert_eq!(doc.value_span("/steps/0/nope/deeper").line, 3);
    }

    #[test]
    fn yaml_1_2_keeps_yes_and_no_as_strings() {
        let doc = Document::parse("a: yes\nb: NO\nc: true\nd: 0x10\ne: '1'\n").unwrap();
        assert_eq!(doc.value["a"], "yes");
        assert_eq!(doc.value["b"], "NO");
        assert_eq!(doc.value["c"], true);
        assert_eq!(doc.value["d"], 16);
        assert_eq!(doc.value["e"], "1");
    }

    #[test]
    fn escapes_pointer_tokens() {
        let doc = Document::parse("env:\n  a/b: 1\n  c~d: 2\n").unwrap();
        assert_eq!(doc.value_span(&pointer_push("/env", "a/b")).line, 2);
        assert_eq!(doc.value_span(&pointer_push("/env", "c~d")).line, 3);
    }

    #[test]
    fn reports_syntax_errors_and_duplicate_keys_with_positions() {
        let err = Document::parse("a: 1\na: 2\n").unwrap_err();
        assert!(err.message.contains("duplicated key"), "{err:?}");
        assert_eq!(err.span.line, 2);
        let err = Document::parse("a: [1,\n").unwrap_err();
        assert!(err.message.starts_with("invalid YAML"));
        let err = Document::parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(err.message.contains("one YAML document"));
    }

    #[test]
    fn aliases_that_expand_past_the_bound_are_refused_before_loading() {
        // Nine levels of nine aliases: 9^9 copies of one string once loaded.
        let mut text = String::from("a0: &a0 \"lol lol lol lol lol lol lol lol\"\n");
        for i in 1..10 {
            let refs: Vec<String> = (0..9).map(|_| format!("*a{}", i - 1)).collect();
            text.push_str(&format!("a{i}: &a{i} [{}]\n", refs.join(", ")));
        }
        let started = std::time::Instant::now();
        let err = Document::parse(&text).unwrap_err();
        assert!(
            err.message.contains("aliases expand to more than 16 MiB"),
            "{err:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // Anchors used as people use them are fine.
        let doc = Document::parse("base: &b { x: 1 }\nother: *b\n").unwrap();
        assert_eq!(doc.value["other"]["x"], 1);
    }

    #[test]
    fn deep_nesting_is_refused_with_its_line_not_a_stack_overflow() {
        // Block mappings, block sequences on one line, and flow collections: each deep
        // enough to overflow a 2 MiB thread stack if anything recursed over it.
        let mut block = String::from("vars:\n");
        for i in 0..20_000 {
            block.push_str(&" ".repeat(i + 1));
            block.push_str("a:\n");
        }
        let seq = format!("{}1\n", "- ".repeat(20_000));
        let flow = format!("x: {}{}\n", "[".repeat(20_000), "]".repeat(20_000));
        for text in [block, seq, flow] {
            let err = std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || Document::parse(&text).unwrap_err())
                .unwrap()
                .join()
                .expect("no stack overflow");
            assert!(
                err.message.contains("deeper than 64 levels")
                    || err.message.contains("recursion limit"),
                "{err:?}"
            );
        }
        let mut ok = String::new();
        for i in 0..MAX_DEPTH {
            ok.push_str(&" ".repeat(i));
            ok.push_str("a:\n");
        }
        assert!(Document::parse(&ok).is_ok());
        let mut deep = ok.clone();
        deep.push_str(&" ".repeat(MAX_DEPTH));
        deep.push_str("a: 1\n");
        let err = Document::parse(&deep).unwrap_err();
        assert_eq!(err.span.line, MAX_DEPTH + 1, "{err:?}");
    }

    #[test]
    fn empty_file_is_null() {
        assert_eq!(Document::parse("").unwrap().value, Value::Null);
        assert_eq!(
            Document::parse("# only a comment\n").unwrap().value,
            Value::Null
        );
    }
}
