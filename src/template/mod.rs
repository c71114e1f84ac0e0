//! Templates and expressions: minijinja with strict undefined, bounded rendering, and values
//! that stay data in shell commands.
//!
//! Every template string of a playbook is compiled once, named after its JSON pointer
//! (`shell:/steps/1/shell`, `text:/steps/0/aider/message`). In a `shell` step's template,
//! every `{{ }}` value not marked safe is set aside while rendering and placed afterwards
//! where the shell reads it as data, or refused (see [`shell`]). Issue text only ever enters
//! as a value in the context, never as template source, and a template cannot load another.
//!
//! Every render is bounded: in work (minijinja's fuel), in output size, and by the step's
//! deadline and the run's cancellation, checked as values are written.

pub(crate) mod context;
mod quote;
pub(crate) mod scan;
pub(crate) mod shell;
pub(crate) mod sites;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use minijinja::value::{Object, Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, UndefinedBehavior};

pub(crate) use quote::shell_quote;
pub(crate) use shell::ShellCommand;
pub(crate) use sites::{Site, SiteKind};
use tokio_util::sync::CancellationToken;

/// The context variable that carries "has something failed so far" to `success()` and
/// `failure()`. Not for playbook authors.
pub(crate) const FAILED_FLAG: &str = "__cw_failed";

/// The names a template may read at its root.
pub(crate) const ROOT_NAMES: [&str; 8] = [
    "issue", "repo", "vars", "secrets", "attempt", "steps", "run", "project",
];
/// The functions of the language (on top of minijinja's own globals).
pub(crate) const FUNCTIONS: [&str; 3] = ["success", "failure", "always"];
/// minijinja's built-in global functions (without `namespace`, removed: see
/// [`Templates::environment`]).
pub(crate) const BUILTIN_GLOBALS: [&str; 3] = ["range", "dict", "debug"];
/// How deeply blocks may nest (`if` and `for` count one level, a macro call about ten).
pub(crate) const RECURSION_LIMIT: usize = 30;

/// The work one render may do, in minijinja's fuel (about one unit per instruction; the
/// largest template of the shipped playbooks uses a few hundred). Measured in
/// docs/benchmarks.md: running out takes well under a second.
pub(crate) const FUEL: u64 = 2_000_000;
/// The most text one render may produce, and the most its values may hold together.
pub(crate) const MAX_OUTPUT: usize = 4 * 1024 * 1024;
/// The most values one shell command may hold.
pub(crate) const MAX_SHELL_VALUES: usize = 10_000;
/// The context variable that carries a render's bounds and, in shell commands, its values.
const GUARD: &str = "__cw_render";

/// What bounds a render besides its fuel and size: the step's deadline and the run's
/// cancellation.
#[derive(Debug, Clone, Default)]
pub struct Bounds {
    pub deadline: Option<Instant>,
    pub cancel: Option<CancellationToken>,
}

/// A bound a render ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Fuel,
    Size,
    Deadline,
    Cancelled,
}

/// A template or expression that failed to compile or render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    /// The 1-based line inside the template, when known.
    pub line: Option<usize>,
    /// The bound that stopped the render, if one did.
    pub bound: Option<Bound>,
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
            bound: None,
        }
    }

    fn bounded(bound: Bound) -> Self {
        let message = match bound {
            Bound::Fuel => format!(
                "the template did too much work (over {FUEL} steps): a loop that never ends, or loops inside loops over long text"
            ),
            Bound::Size => format!(
                "the template's output is over {} MiB",
                MAX_OUTPUT / (1024 * 1024)
            ),
            Bound::Deadline => "the step's time ran out while its template was rendered".into(),
            Bound::Cancelled => "the run was cancelled while a template was rendered".into(),
        };
        Self {
            message,
            line: None,
            bound: Some(bound),
        }
    }

    fn internal(message: String) -> Self {
        Self {
            message,
            line: None,
            bound: None,
        }
    }
}

/// One render's bounds and the values a shell command sets aside, reachable from the
/// formatter through the context.
#[derive(Debug)]
struct Guard {
    bounds: Bounds,
    /// Bytes of values written so far (those captured by `{% set %}` blocks included).
    written: AtomicUsize,
    /// `Some` when rendering a shell command: its values, in order.
    values: Option<Mutex<Vec<Value>>>,
    /// The bound that stopped the render.
    hit: Mutex<Option<Bound>>,
}

impl Object for Guard {}

impl Guard {
    fn new(bounds: &Bounds, shell: bool) -> Self {
        Self {
            bounds: bounds.clone(),
            written: AtomicUsize::new(0),
            values: shell.then(|| Mutex::new(Vec::new())),
            hit: Mutex::new(None),
        }
    }

    fn stop(&self, bound: Bound) -> Error {
        *self.hit.lock().expect("guard") = Some(bound);
        Error::new(ErrorKind::InvalidOperation, "render stopped")
    }

    /// Checks the bounds before `len` more bytes are written.
    fn check(&self, len: usize) -> Result<(), Error> {
        if self
            .bounds
            .cancel
            .as_ref()
            .is_some_and(|c| c.is_cancelled())
        {
            return Err(self.stop(Bound::Cancelled));
        }
        if self.bounds.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(self.stop(Bound::Deadline));
        }
        if self.written.fetch_add(len, Ordering::Relaxed) + len > MAX_OUTPUT {
            return Err(self.stop(Bound::Size));
        }
        Ok(())
    }

    fn error_of(&self, e: &Error, source: &str) -> TemplateError {
        if let Some(bound) = *self.hit.lock().expect("guard") {
            return TemplateError::bounded(bound);
        }
        if e.kind() == ErrorKind::OutOfFuel {
            return TemplateError::bounded(Bound::Fuel);
        }
        TemplateError::from_minijinja(e, source)
    }
}

/// A writer that refuses to grow past [`MAX_OUTPUT`].
struct Capped {
    out: Vec<u8>,
    full: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + buf.len() > MAX_OUTPUT {
            self.full = true;
            return Err(std::io::Error::other("output limit"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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
            let guard = state.lookup(GUARD);
            let guard = guard
                .as_ref()
                .and_then(|g| g.downcast_object_ref::<Guard>());
            // Whether this is a shell command is the render's, not the template's, to say:
            // an `{% autoescape %}` block cannot turn it off.
            let shell = guard.and_then(|g| g.values.as_ref());
            if let (Some(values), Some(guard)) = (shell, guard)
                && !value.is_safe()
            {
                // A value in a shell command: set aside, a placeholder written in its place.
                guard.check(value.as_str().map_or(16, str::len))?;
                let mut values = values.lock().expect("shell values");
                if values.len() >= MAX_SHELL_VALUES {
                    return Err(guard.stop(Bound::Size));
                }
                std::fmt::Write::write_char(out, shell::placeholder(values.len()))
                    .map_err(|_| Error::new(ErrorKind::WriteFailure, "failed to write output"))?;
                values.push(value.clone());
                return Ok(());
            }
            if let Some(g) = guard {
                g.check(value.as_str().map_or(16, str::len))?;
            }
            minijinja::escape_formatter(out, state, value)
        });
        env.set_fuel(Some(FUEL));
        // Memory: a variable set in a loop does not outlive its iteration, so a value cannot
        // grow across thousands of iterations, except through `namespace()` objects, which
        // are removed; and macros cannot recurse deeply enough to double a value many times.
        env.remove_global("namespace");
        env.set_recursion_limit(RECURSION_LIMIT);
        env.add_filter("tail", tail);
        // `| shell_quote` makes a value that was written by the author (and so inserted as
        // it is) data again: quoted like any other value.
        env.add_filter("shell_quote", |v: Value| as_data(&v));
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
                    if let Some(e) = loads_templates(&site.source, site.kind) {
                        errors.push((i, e));
                        continue;
                    }
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

    /// Renders the text template at `pointer`, without a deadline.
    pub fn render(
        &self,
        kind: SiteKind,
        pointer: &str,
        ctx: &Value,
    ) -> Result<String, TemplateError> {
        self.render_bounded(kind, pointer, ctx, &Bounds::default())
    }

    /// Renders the text template at `pointer` within `bounds`.
    pub fn render_bounded(
        &self,
        kind: SiteKind,
        pointer: &str,
        ctx: &Value,
        bounds: &Bounds,
    ) -> Result<String, TemplateError> {
        if kind == SiteKind::Shell {
            return Err(TemplateError::internal(format!(
                "internal error: the shell command at {pointer} must be rendered as one"
            )));
        }
        let guard = std::sync::Arc::new(Guard::new(bounds, false));
        self.render_guarded(&Site::name_of(kind, pointer), pointer, ctx, &guard)
    }

    /// Renders the shell command at `pointer` within `bounds`: the script, and the variables
    /// that carry its values into double quotes and here-documents.
    pub fn render_shell(
        &self,
        pointer: &str,
        ctx: &Value,
        bounds: &Bounds,
    ) -> Result<ShellCommand, TemplateError> {
        let guard = std::sync::Arc::new(Guard::new(bounds, true));
        let script = self.render_guarded(
            &Site::name_of(SiteKind::Shell, pointer),
            pointer,
            ctx,
            &guard,
        )?;
        let values = std::mem::take(
            &mut *guard
                .values
                .as_ref()
                .expect("shell")
                .lock()
                .expect("shell values"),
        );
        shell::resolve(&script, &values).map_err(|e| TemplateError::internal(e.to_string()))
    }

    fn render_guarded(
        &self,
        name: &str,
        pointer: &str,
        ctx: &Value,
        guard: &std::sync::Arc<Guard>,
    ) -> Result<String, TemplateError> {
        let tmpl = self.env.get_template(name).map_err(|_| {
            TemplateError::internal(format!("internal error: no template compiled at {pointer}"))
        })?;
        let ctx = minijinja::value::merge_maps([
            Value::from(std::collections::BTreeMap::from([(
                GUARD,
                Value::from_dyn_object(guard.clone()),
            )])),
            ctx.clone(),
        ]);
        let mut out = Capped {
            out: Vec::new(),
            full: false,
        };
        match tmpl.render_captured_to(ctx, &mut out) {
            Ok(_) => String::from_utf8(out.out)
                .map_err(|_| TemplateError::internal("internal error: output not UTF-8".into())),
            Err(_) if out.full => Err(TemplateError::bounded(Bound::Size)),
            Err(e) => Err(guard.error_of(&e, self.sources.get(name).map_or("", String::as_str))),
        }
    }

    /// Evaluates the expression at `pointer` to a boolean (Jinja truthiness).
    pub fn eval(&self, pointer: &str, ctx: &Value) -> Result<bool, TemplateError> {
        let source = self.expressions.get(pointer).ok_or_else(|| {
            TemplateError::internal(format!(
                "internal error: no expression compiled at {pointer}"
            ))
        })?;
        let expr = self
            .env
            .compile_expression(source)
            .map_err(|e| TemplateError::from_minijinja(&e, source))?;
        expr.eval(ctx).map(|v| v.is_true()).map_err(|e| {
            if e.kind() == ErrorKind::OutOfFuel {
                TemplateError::bounded(Bound::Fuel)
            } else {
                TemplateError::from_minijinja(&e, source)
            }
        })
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

/// A tag that would load another template, as an error at its line.
fn loads_templates(source: &str, kind: SiteKind) -> Option<TemplateError> {
    let code = scan::code_of(source, kind);
    let (at, tag) = scan::tags(source, &code)
        .into_iter()
        .find(|(_, t)| scan::LOADING_TAGS.contains(t))?;
    Some(TemplateError {
        message: format!(
            "`{{% {tag} %}}` is not allowed: a playbook's templates cannot load other templates (their text would escape the quoting of shell commands); write the text where it is used"
        ),
        line: Some(source[..at].matches('\n').count() + 1),
        bound: None,
    })
}

/// A copy of a value that is no longer marked safe (strings, and the items of lists).
fn as_data(v: &Value) -> Value {
    match v.kind() {
        ValueKind::String => Value::from(v.as_str().unwrap_or_default().to_owned()),
        ValueKind::Seq => match v.try_iter() {
            Ok(items) => Value::from(items.map(|i| as_data(&i)).collect::<Vec<_>>()),
            Err(_) => v.clone(),
        },
        _ => v.clone(),
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
        if kind == SiteKind::Shell {
            return t
                .render_shell("/t", &ctx, &Bounds::default())
                .map(|c| c.script);
        }
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
    fn templates_cannot_load_templates() {
        for (src, tag) in [
            (
                "echo hi\n{% include 'text:/steps/0/aider/message' %}",
                "include",
            ),
            ("{%- import 'x' as y %}", "import"),
            ("{% from 'x' import y %}", "from"),
            ("{%+ extends 'x' %}", "extends"),
        ] {
            let site = Site::new("/t", src, SiteKind::Shell);
            let errs = Templates::compile(&[site]).err().expect(src);
            assert!(
                errs[0]
                    .1
                    .message
                    .starts_with(&format!("`{{% {tag} %}}` is not allowed")),
                "{errs:?}"
            );
        }
        let errs = Templates::compile(&[Site::new("/t", "a\nb {% include 'x' %}", SiteKind::Text)])
            .err()
            .unwrap();
        assert_eq!(errs[0].1.line, Some(2));
        // The words as data are fine.
        assert!(
            Templates::compile(&[Site::new(
                "/t",
                "include {{ 'import' }} {% if x %}from{% endif %}",
                SiteKind::Shell
            )])
            .is_ok()
        );
    }

    fn bounded(kind: SiteKind, source: &str, ctx: Value, bounds: &Bounds) -> TemplateError {
        let site = Site::new("/t", source, kind);
        let t = Templates::compile(std::slice::from_ref(&site)).unwrap();
        match kind {
            SiteKind::Shell => t.render_shell("/t", &ctx, bounds).map(|c| c.script),
            _ => t.render_bounded(kind, "/t", &ctx, bounds),
        }
        .unwrap_err()
    }

    #[test]
    fn runaway_templates_stop_at_a_bound_quickly() {
        let body: String = "0123456789".repeat(10_000); // 100 KB
        let started = std::time::Instant::now();
        for (kind, src, want) in [
            (
                SiteKind::Text,
                "{% for c in body %}{% for d in body %}{{ c }}{% endfor %}{% endfor %}",
                Bound::Fuel,
            ),
            (
                SiteKind::Text,
                "{% for i in range(100000) %}{{ body }}{% endfor %}",
                Bound::Size,
            ),
            (
                SiteKind::Text,
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                Bound::Fuel,
            ),
            (
                SiteKind::Shell,
                "echo {% for c in body %}{% for d in body %}{{ c }}{% endfor %}{% endfor %}",
                Bound::Size,
            ),
            (
                SiteKind::Text,
                "{% for i in range(100) %}{% for j in range(100000) %}{% set x = i ~ j %}{% endfor %}{% endfor %}",
                Bound::Fuel,
            ),
        ] {
            let e = bounded(
                kind,
                src,
                context! { body => body.clone() },
                &Bounds::default(),
            );
            assert_eq!(e.bound, Some(want), "{src}: {e:?}");
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn values_cannot_accumulate_or_double_without_bound() {
        // `namespace()` is the only way to carry a value across loop iterations: removed.
        let e = render(
            SiteKind::Text,
            "{% set ns = namespace(x='') %}{{ ns }}",
            context! {},
        )
        .unwrap_err();
        assert!(e.message.contains("namespace"), "{e:?}");
        // A macro that doubles its argument runs out of depth long before memory.
        let e = render(
            SiteKind::Text,
            "{% macro f(x, n) %}{% if n > 0 %}{{ f(x ~ x, n - 1) }}{% else %}{{ x | length }}{% endif %}{% endmacro %}{{ f(body, 40) }}",
            context! { body => "0123456789".repeat(10_000) },
        )
        .unwrap_err();
        assert!(e.message.contains("recursion"), "{e:?}");
    }

    #[test]
    fn a_render_stops_at_the_deadline_and_on_cancel() {
        let past = Bounds {
            deadline: Some(Instant::now()),
            cancel: None,
        };
        let e = bounded(
            SiteKind::Shell,
            "echo {{ x }}",
            context! { x => "y" },
            &past,
        );
        assert_eq!(e.bound, Some(Bound::Deadline));
        let cancel = CancellationToken::new();
        cancel.cancel();
        let cancelled = Bounds {
            deadline: None,
            cancel: Some(cancel),
        };
        let e = bounded(SiteKind::Text, "{{ x }}", context! { x => "y" }, &cancelled);
        assert_eq!(e.bound, Some(Bound::Cancelled));
        assert_eq!(
            e.message,
            "the run was cancelled while a template was rendered"
        );
    }

    #[test]
    fn autoescape_cannot_turn_values_into_shell_code() {
        let out = render(
            SiteKind::Shell,
            "{% autoescape false %}echo {{ t }}{% endautoescape %}",
            context! { t => "$(id)" },
        );
        assert_eq!(out.unwrap(), "echo '$(id)'");
    }

    #[test]
    fn syntax_errors_carry_the_line() {
        let site = Site::new("/t", "ok\n{{ a + }}", SiteKind::Text);
        let errs = Templates::compile(&[site]).err().unwrap();
        assert_eq!(errs[0].1.line, Some(2));
    }
}
