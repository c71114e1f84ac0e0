//! Templates and expressions: minijinja with strict undefined and shell auto-quoting.
//!
//! Every template string of a playbook is compiled once, named after its JSON pointer
//! (`shell:/steps/1/shell`, `text:/steps/0/aider/message`). Templates of `shell` steps use
//! a custom auto-escape: every `{{ }}` output is shell-quoted unless marked safe. Issue text
//! only ever enters as a value in the context, never as template source.

pub mod context;
mod quote;
pub mod scan;
pub mod sites;

use std::collections::HashMap;

use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, UndefinedBehavior};

pub use quote::{shell_quote, shell_words};
pub use sites::{Site, SiteKind};

/// The context variable that carries "has something failed so far" to `success()` and
/// `failure()`. Not for playbook authors.
pub const FAILED_FLAG: &str = "__cw_failed";

/// The names a template may read at its root.
pub const ROOT_NAMES: [&str; 7] = [
    "issue", "repo", "vars", "secrets", "attempt", "steps", "run",
];
/// The functions of the language (on top of minijinja's own globals).
pub const FUNCTIONS: [&str; 3] = ["success", "failure", "always"];
/// minijinja's built-in global functions.
pub const BUILTIN_GLOBALS: [&str; 4] = ["range", "dict", "debug", "namespace"];

/// A template or expression that failed to compile or render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    /// The 1-based line inside the template, when known.
    pub line: Option<usize>,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl TemplateError {
    fn from_minijinja(err: &Error, source: &str) -> Self {
        let mut message = err.kind().to_string();
        if let Some(detail) = err.detail() {
            message = format!("{message}: {detail}");
        }
        if let Some(range) = err.range()
            && let Some(snippet) = source.get(range).map(str::trim)
            && !snippet.is_empty()
            && snippet.len() <= 80
        {
            if let Some(name) = snippet.strip_prefix("secrets.")
                && err.kind() == ErrorKind::UndefinedError
            {
                message = format!("secret `{name}` is not set in the worker's environment");
            } else if !message.contains(snippet) {
                message = format!("{message} (in `{snippet}`)");
            }
        }
        Self {
            message,
            line: err.line(),
        }
    }
}

/// The compiled templates and expressions of one playbook.
pub struct Templates {
    env: Environment<'static>,
    expressions: HashMap<String, String>,
    sources: HashMap<String, String>,
}

impl Templates {
    /// The minijinja environment of the playbook language, without templates.
    pub fn environment() -> Environment<'static> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name.starts_with("shell:") {
                AutoEscape::Custom("shell".into())
            } else {
                AutoEscape::None
            }
        });
        env.set_formatter(|out, state, value| {
            // Booleans print as `true`/`false` and none as nothing, the way YAML and GitHub
            // Actions write them (Jinja would print `True` and `None`).
            let plain = match value.kind() {
                ValueKind::Bool => Some(Value::from_safe_string(value.is_true().to_string())),
                ValueKind::None => Some(Value::from_safe_string(String::new())),
                _ => None,
            };
            let value = plain.as_ref().unwrap_or(value);
            if matches!(state.auto_escape(), AutoEscape::Custom(f) if f == "shell")
                && !value.is_safe()
            {
                out.write_str(&shell_words(value))
                    .map_err(|_| Error::new(ErrorKind::WriteFailure, "failed to write output"))
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        env.add_filter("tail", tail);
        env.add_filter("shell_quote", |v: Value| {
            Value::from_safe_string(shell_words(&v))
        });
        env.add_function("success", |state: &State| !failed_so_far(state));
        env.add_function("failure", |state: &State| failed_so_far(state));
        env.add_function("always", || true);
        env
    }

    /// Compiles every site. Errors come back with the index of their site.
    pub fn compile(sites: &[Site]) -> Result<Self, Vec<(usize, TemplateError)>> {
        let mut env = Self::environment();
        let mut expressions = HashMap::new();
        let mut sources = HashMap::new();
        let mut errors = Vec::new();
        for (i, site) in sites.iter().enumerate() {
            match site.kind {
                SiteKind::Expr => {
                    if let Err(e) = env.compile_expression(&site.source) {
                        errors.push((i, TemplateError::from_minijinja(&e, &site.source)));
                    } else {
                        expressions.insert(site.pointer.clone(), site.source.clone());
                    }
                }
                SiteKind::Text | SiteKind::Shell => {
                    let name = site.name();
                    match env.add_template_owned(name.clone(), site.source.clone()) {
                        Ok(()) => {
                            sources.insert(name, site.source.clone());
                        }
                        Err(e) => errors.push((i, TemplateError::from_minijinja(&e, &site.source))),
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(Self {
                env,
                expressions,
                sources,
            })
        } else {
            Err(errors)
        }
    }

    /// Renders the template at `pointer` (a text or a shell site).
    pub fn render(
        &self,
        kind: SiteKind,
        pointer: &str,
        ctx: &Value,
    ) -> Result<String, TemplateError> {
        let name = Site::name_of(kind, pointer);
        let tmpl = self.env.get_template(&name).map_err(|_| TemplateError {
            message: format!("internal error: no template compiled at {pointer}"),
            line: None,
        })?;
        tmpl.render(ctx).map_err(|e| {
            TemplateError::from_minijinja(&e, self.sources.get(&name).map_or("", String::as_str))
        })
    }

    /// Evaluates the expression at `pointer` to a boolean (Jinja truthiness).
    pub fn eval(&self, pointer: &str, ctx: &Value) -> Result<bool, TemplateError> {
        let source = self.expressions.get(pointer).ok_or_else(|| TemplateError {
            message: format!("internal error: no expression compiled at {pointer}"),
            line: None,
        })?;
        let expr = self
            .env
            .compile_expression(source)
            .map_err(|e| TemplateError::from_minijinja(&e, source))?;
        expr.eval(ctx)
            .map(|v| v.is_true())
            .map_err(|e| TemplateError::from_minijinja(&e, source))
    }

    /// Whether the language has a filter of this name (minijinja looks filters up only when
    /// rendering, so we ask by rendering a probe).
    pub fn has_filter(&self, name: &str) -> bool {
        self.probe(
            &format!("{{{{ none | {name} }}}}"),
            ErrorKind::UnknownFilter,
        )
    }

    /// Whether the language has a test of this name.
    pub fn has_test(&self, name: &str) -> bool {
        self.probe(&format!("{{{{ none is {name} }}}}"), ErrorKind::UnknownTest)
    }

    fn probe(&self, source: &str, unknown: ErrorKind) -> bool {
        match self.env.render_str(source, ()) {
            Ok(_) => true,
            Err(e) => e.kind() != unknown,
        }
    }

    /// The names a site reads, with nested attribute lookups (`steps.test.ok`).
    pub fn names_read(&self, site: &Site) -> std::collections::HashSet<String> {
        match site.kind {
            SiteKind::Expr => self
                .env
                .compile_expression(&site.source)
                .map(|e| e.undeclared_variables(true))
                .unwrap_or_default(),
            _ => self
                .env
                .get_template(&site.name())
                .map(|t| t.undeclared_variables(true))
                .unwrap_or_default(),
        }
    }
}

fn failed_so_far(state: &State) -> bool {
    state.lookup(FAILED_FLAG).is_some_and(|v| v.is_true())
}

/// `tail(n)`: the last `n` lines of a text (default 20).
fn tail(text: String, n: Option<usize>) -> String {
    let n = n.unwrap_or(20);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    fn render(kind: SiteKind, source: &str, ctx: Value) -> Result<String, TemplateError> {
        let site = Site::new("/t", source, kind);
        let t = Templates::compile(std::slice::from_ref(&site)).map_err(|mut e| e.remove(0).1)?;
        t.render(kind, "/t", &ctx)
    }

    #[test]
    fn shell_templates_quote_every_value() {
        let ctx = context! { title => "a'b; $(id)", labels => vec!["x y", "z"], n => 3 };
        let out = render(
            SiteKind::Shell,
            "echo {{ title }} {{ labels }} {{ n }}",
            ctx,
        )
        .unwrap();
        assert_eq!(out, r"echo 'a'\''b; $(id)' 'x y' z 3");
    }

    #[test]
    fn safe_and_shell_quote_are_not_quoted_twice() {
        let ctx = context! { cmd => "pytest -q", p => "a b" };
        let out = render(
            SiteKind::Shell,
            "{{ cmd | safe }} {{ p | shell_quote }}",
            ctx,
        )
        .unwrap();
        assert_eq!(out, "pytest -q 'a b'");
    }

    #[test]
    fn text_templates_are_not_quoted() {
        let out = render(SiteKind::Text, "{{ t }}", context! { t => "a'b $(x)" }).unwrap();
        assert_eq!(out, "a'b $(x)");
    }

    #[test]
    fn undefined_names_are_errors_not_empty_strings() {
        let err = render(SiteKind::Text, "x{{ nope.deeper }}", context! {}).unwrap_err();
        assert!(err.message.starts_with("undefined value"), "{err:?}");
        assert!(err.message.contains("nope.deeper"), "{err:?}");
    }

    #[test]
    fn an_unset_secret_says_so() {
        let err = render(
            SiteKind::Text,
            "{{ secrets.KEY }}",
            context! { secrets => context! {} },
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "secret `KEY` is not set in the worker's environment"
        );
    }

    #[test]
    fn template_syntax_in_values_is_data() {
        let out = render(
            SiteKind::Text,
            "{{ body }}",
            context! { body => "{{ 7 * 7 }} {% if %}" },
        );
        assert_eq!(out.unwrap(), "{{ 7 * 7 }} {% if %}");
    }

    #[test]
    fn booleans_and_none_print_the_yaml_way() {
        let ctx = context! { t => true, f => false, n => () };
        assert_eq!(
            render(
                SiteKind::Text,
                "{{ t }} {{ f }} [{{ n }}] {{ not t }}",
                ctx.clone()
            )
            .unwrap(),
            "true false [] false"
        );
        assert_eq!(
            render(SiteKind::Shell, "test {{ t }} = true {{ n }}", ctx).unwrap(),
            "test true = true "
        );
    }

    #[test]
    fn knows_its_filters_and_tests() {
        let t = Templates::compile(&[]).unwrap();
        for f in [
            "tail",
            "shell_quote",
            "upper",
            "default",
            "d",
            "safe",
            "join",
        ] {
            assert!(t.has_filter(f), "{f}");
        }
        assert!(!t.has_filter("tial"));
        assert!(t.has_test("defined") && t.has_test("none"));
        assert!(!t.has_test("defind"));
    }

    #[test]
    fn default_and_defined_work_on_undefined_names() {
        let out = render(
            SiteKind::Text,
            "{{ nope | default('y') }} {{ nope is defined }}",
            context! {},
        );
        assert_eq!(out.unwrap(), "y false");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let out = render(
            SiteKind::Text,
            "{{ o | tail(2) }}",
            context! { o => "1\n2\n3\n" },
        );
        assert_eq!(out.unwrap(), "2\n3");
    }

    #[test]
    fn status_functions_read_the_failure_flag() {
        let site = Site::new(
            "/if",
            "success() and not failure() and always()",
            SiteKind::Expr,
        );
        let t = Templates::compile(std::slice::from_ref(&site)).unwrap();
        assert!(t.eval("/if", &context! { __cw_failed => false }).unwrap());
        assert!(!t.eval("/if", &context! { __cw_failed => true }).unwrap());
    }

    #[test]
    fn syntax_errors_carry_the_line() {
        let site = Site::new("/t", "ok\n{{ a + }}", SiteKind::Text);
        let errs = Templates::compile(&[site]).err().unwrap();
        assert_eq!(errs[0].1.line, Some(2));
    }
}
