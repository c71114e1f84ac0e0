//! Semantic checks of a playbook, after the schema: what a JSON Schema cannot say.
//!
//! - step ids are unique, nested steps included;
//! - every template and expression compiles;
//! - every name a template reads exists: known roots, `steps.X` of an existing step and a
//!   known output, `secrets.X` listed in `secrets`, `vars.X` defined, `attempt` only inside a
//!   retry and with keys its entries set;
//! - `steps.my-step` (read as a subtraction) is caught and `steps["my-step"]` suggested;
//! - `| safe` on issue data in a shell step is warned about;
//! - `workdir` and literal `files`/`read` paths stay inside the checkout.

use std::collections::{BTreeSet, HashMap};

use super::load::{Parts, site_span};
use super::model::{STEP_KINDS, Step, StepKind};
use crate::diagnostic::{Diagnostic, did_you_mean, suggest};
use crate::source::SourceFile;
use crate::source::yaml::Document;
use crate::template::{
    BUILTIN_GLOBALS, FUNCTIONS, ROOT_NAMES, Site, SiteKind, Templates, scan, sites,
};

pub const ISSUE_FIELDS: [&str; 6] = ["number", "title", "body", "labels", "author", "url"];
pub const REPO_FIELDS: [&str; 5] = ["full_name", "owner", "name", "clone_url", "default_branch"];
pub const RUN_FIELDS: [&str; 4] = ["id", "branch", "workdir", "summary"];
pub const PROJECT_FIELDS: [&str; 6] = ["setup", "test", "ecosystem", "manager", "root", "missing"];
pub const STEP_FIELDS: [&str; 9] = [
    "status",
    "ok",
    "failed",
    "exit_code",
    "stdout",
    "stderr",
    "output",
    "duration_ms",
    "changed",
];
pub const PR_OPEN_FIELDS: [&str; 3] = ["number", "url", "created"];
/// A shell step's test counts (`steps.<id>.tests.ran`, …; none when its output shows no
/// test runner's summary).
pub const SHELL_FIELDS: [&str; 1] = ["tests"];
pub const STATUSES: [&str; 5] = ["success", "failure", "timed_out", "skipped", "cancelled"];

/// Names offered in "did you mean" for filters and tests (the language's own and
/// minijinja's common ones; whether a name exists is asked of minijinja itself).
const KNOWN_FILTERS: [&str; 32] = [
    "tail",
    "shell_quote",
    "safe",
    "escape",
    "lower",
    "upper",
    "title",
    "capitalize",
    "replace",
    "length",
    "count",
    "dictsort",
    "items",
    "reverse",
    "trim",
    "join",
    "split",
    "lines",
    "default",
    "round",
    "abs",
    "int",
    "float",
    "first",
    "last",
    "min",
    "max",
    "sort",
    "list",
    "string",
    "unique",
    "indent",
];
const KNOWN_TESTS: [&str; 14] = [
    "defined",
    "undefined",
    "none",
    "string",
    "number",
    "sequence",
    "mapping",
    "true",
    "false",
    "startingwith",
    "endingwith",
    "in",
    "eq",
    "ne",
];

/// Runs the semantic checks on the readable parts of a playbook.
pub fn check(parts: &Parts<'_>, doc: &Document, source: &SourceFile) -> Vec<Diagnostic> {
    let mut v = Checker {
        doc,
        source,
        out: Vec::new(),
        steps: HashMap::new(),
        attempt_keys: HashMap::new(),
    };
    if let Some(steps) = doc.value.get("steps") {
        v.index_steps("/steps", steps);
    }
    for (pointer, _, step) in &parts.steps {
        v.check_step(pointer, step);
    }
    let protect = doc
        .value
        .get("protect")
        .and_then(serde_json::Value::as_array);
    for (i, glob) in protect.into_iter().flatten().enumerate() {
        let Some(text) = glob.as_str() else { continue };
        let problem = (text.starts_with("./") || text.ends_with('/'))
            .then(|| "never matches: globs match paths as git writes them (`tests/**`, not `./tests/` or `tests/`)".to_owned())
            .or_else(|| crate::paths::check_relative(text).err().map(str::to_owned))
            .or_else(|| {
                globset::Glob::new(text)
                    .err()
                    .map(|e| format!("is not a glob: {}", e.kind()))
            });
        if let Some(why) = problem {
            v.out.push(
                Diagnostic::error("invalid-protect", format!("`protect` entry `{text}` {why}"))
                    .at(doc.value_span(&format!("/protect/{i}"))),
            );
        }
    }
    for (i, name) in parts.secrets.iter().enumerate() {
        if crate::mask::is_worker_credential(name) {
            v.out.push(
                Diagnostic::error(
                    "worker-credential",
                    format!("`{name}` cannot be a secret: the worker's GitHub token and AWS credentials never reach the processes a playbook runs"),
                )
                .at(doc.value_span(&format!("/secrets/{i}")))
                .help("use a token made for the task, under another name, if a step really needs one"),
            );
        }
    }
    let sites = sites::collect_parts(&parts.branch, &parts.env, &parts.steps);
    v.check_templates(&sites, parts);
    v.out
}

struct StepInfo {
    kind: &'static str,
    pointer: String,
}

struct Checker<'a> {
    doc: &'a Document,
    source: &'a SourceFile,
    out: Vec<Diagnostic>,
    steps: HashMap<String, StepInfo>,
    /// For each retry step pointer: the keys of each of its attempt entries.
    attempt_keys: HashMap<String, Vec<BTreeSet<String>>>,
}

impl Checker<'_> {
    /// Indexes every step id of the document, readable or not, so that a step with an
    /// error elsewhere still counts as existing for references.
    fn index_steps(&mut self, steps_pointer: &str, steps: &serde_json::Value) {
        let Some(list) = steps.as_array() else { return };
        for (i, step) in list.iter().enumerate() {
            let pointer = format!("{steps_pointer}/{i}");
            let Some(id) = step.get("id").and_then(serde_json::Value::as_str) else {
                continue;
            };
            let kind = STEP_KINDS
                .iter()
                .copied()
                .find(|k| step.get(*k).is_some())
                .unwrap_or("");
            if let Some(first) = self.steps.get(id) {
                let first_line = self.doc.value_span(&format!("{}/id", first.pointer)).line;
                self.out.push(
                    Diagnostic::error("duplicate-id", format!("duplicate step id `{id}`"))
                        .at(self.doc.value_span(&format!("{pointer}/id")))
                        .label(format!("first used on line {first_line}"))
                        .help("step ids are unique in a playbook, nested steps included"),
                );
            } else {
                self.steps.insert(
                    id.to_owned(),
                    StepInfo {
                        kind,
                        pointer: pointer.clone(),
                    },
                );
            }
            if let Some(retry) = step.get("retry") {
                let entries = retry.get("attempts").and_then(serde_json::Value::as_array);
                let keys = entries
                    .map(|a| {
                        a.iter()
                            .map(|e| {
                                e.as_object()
                                    .map(|o| o.keys().filter(|k| *k != "env").cloned().collect())
                                    .unwrap_or_default()
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                self.attempt_keys.insert(pointer.clone(), keys);
                if let Some(children) = retry.get("steps") {
                    self.index_steps(&format!("{pointer}/retry/steps"), children);
                }
            }
        }
    }

    fn check_step(&mut self, pointer: &str, step: &Step) {
        if let Some(dir) = &step.workdir
            && let Err(why) = crate::paths::check_relative(dir)
        {
            self.out.push(
                Diagnostic::error("path-escapes", format!("`workdir` {why}"))
                    .at(self.doc.value_span(&format!("{pointer}/workdir"))),
            );
        }
        if let Some(id) = &step.baseline {
            let span = self.doc.value_span(&format!("{pointer}/baseline"));
            let problem = if !matches!(step.kind, StepKind::Shell(_)) {
                Some(format!(
                    "`baseline` is for `shell` steps that run tests, not `{}` steps",
                    step.kind.name()
                ))
            } else if id.0 == step.id.0 {
                Some("`baseline` names the step itself; name the step that ran the tests before any change".into())
            } else {
                match self.steps.get(&id.0) {
                    None => Some(format!(
                        "`baseline` names `{}`, which is no step{}",
                        id.0,
                        did_you_mean(&id.0, self.steps.keys().map(String::as_str))
                            .map(|h| format!(" ({h})"))
                            .unwrap_or_default()
                    )),
                    Some(info) if info.kind != "shell" => Some(format!(
                        "`baseline` names `{}`, a `{}` step; it must be a `shell` step that ran the tests",
                        id.0, info.kind
                    )),
                    Some(_) => None,
                }
            };
            if let Some(message) = problem {
                self.out
                    .push(Diagnostic::error("invalid-baseline", message).at(span));
            }
        }
        match &step.kind {
            StepKind::Aider(a) => {
                if let Some(crate::playbook::types::Count::Template(t)) = &a.num_ctx
                    && !t.as_str().contains("{{")
                    && !t.as_str().contains("{%")
                {
                    let ok = t.as_str().trim().parse::<u32>().is_ok_and(|n| n >= 512);
                    if !ok {
                        self.out.push(
                            Diagnostic::error(
                                "invalid-count",
                                format!(
                                    "`num_ctx` must be a whole number of tokens (at least 512) or a template, found `{}`",
                                    t.as_str()
                                ),
                            )
                            .at(self.doc.value_span(&format!("{pointer}/aider/num_ctx"))),
                        );
                    }
                }
                for (field, list) in [("files", &a.files), ("read", &a.read)] {
                    for (i, t) in list.iter().enumerate() {
                        if t.as_str().contains("{{") || t.as_str().contains("{%") {
                            continue; // checked when rendered
                        }
                        if let Err(why) = crate::paths::check_relative(t.as_str()) {
                            self.out.push(
                                Diagnostic::error(
                                    "path-escapes",
                                    format!("`{field}` entry `{}` {why}", t.as_str()),
                                )
                                .at(self.doc.value_span(&format!("{pointer}/aider/{field}/{i}"))),
                            );
                        }
                    }
                }
            }
            StepKind::PrOpen(pr) => {
                if let Some(crate::playbook::types::Flag::Template(t)) = &pr.draft
                    && !t.as_str().contains("{{")
                    && !t.as_str().contains("{%")
                    && !matches!(t.as_str().trim(), "true" | "false")
                {
                    self.out.push(
                        Diagnostic::error(
                            "invalid-flag",
                            format!(
                                "`draft` must be true, false or a template, found `{}`",
                                t.as_str()
                            ),
                        )
                        .at(self.doc.value_span(&format!("{pointer}/pr_open/draft"))),
                    );
                }
            }
            StepKind::Retry(r) => {
                for (i, attempt) in r.attempts.iter().enumerate() {
                    if attempt.keys.contains_key("number") {
                        self.out.push(
                            Diagnostic::error(
                                "reserved-key",
                                "`number` is set by codingworker (the attempt's 1-based index); use another key",
                            )
                            .at(self.doc.key_span(&format!("{pointer}/retry/attempts/{i}/number"))),
                        );
                    }
                }
                for (i, child) in r.steps.iter().enumerate() {
                    self.check_step(&sites::child_pointer(pointer, i), child);
                }
            }
            _ => {}
        }
    }

    fn check_templates(&mut self, sites: &[Site], parts: &Parts<'_>) {
        // Compile each site on its own so that one error does not hide the others.
        let mut compiled = Vec::with_capacity(sites.len());
        for site in sites {
            match Templates::compile(std::slice::from_ref(site)) {
                Ok(t) => compiled.push(Some(t)),
                Err(errors) => {
                    for (_, e) in errors {
                        let what = if site.kind == SiteKind::Expr {
                            "expression"
                        } else {
                            "template"
                        };
                        let d =
                            Diagnostic::error("template", format!("invalid {what}: {}", e.message));
                        self.out.push(d.at(self.span_in(site, e.line)));
                    }
                    compiled.push(None);
                }
            }
        }
        for (site, templates) in sites.iter().zip(&compiled) {
            let Some(templates) = templates else { continue };
            let names = templates.names_read(site);
            let mut names: Vec<String> = names.into_iter().collect();
            names.sort();
            for name in &names {
                self.check_name(site, name, parts);
            }
            self.check_bracket_refs(site);
            self.check_code(site, templates, &names);
            self.check_agent_options(site, &names);
            if site.pointer == "/branch" && !site.implicit {
                self.check_branch(site, &names);
            }
        }
    }

    /// The run branch must be a valid git branch name whatever its templates render to, and
    /// should not be chosen by whoever writes the issue.
    fn check_branch(&mut self, site: &Site, names: &[String]) {
        let mut filled = String::new();
        let mut rest = site.source.as_str();
        while let Some(start) = rest.find(['{']) {
            let close = match &rest[start..] {
                r if r.starts_with("{{") => "}}",
                r if r.starts_with("{%") => "%}",
                _ => {
                    filled.push_str(&rest[..=start]);
                    rest = &rest[start + 1..];
                    continue;
                }
            };
            filled.push_str(&rest[..start]);
            filled.push('x');
            rest = rest[start..]
                .find(close)
                .map_or("", |end| &rest[start + end + 2..]);
        }
        filled.push_str(rest);
        if !git2::Branch::name_is_valid(filled.trim()).unwrap_or(false) {
            self.out.push(
                Diagnostic::error("invalid-branch", format!("`{}` cannot be a git branch name", site.source))
                    .at(self.span_in(site, None))
                    .help("no spaces, `..`, `~`, `^`, `:`, `?`, `*`, `[`, `\\`; e.g. `auto-code/issue-{{ issue.number }}`"),
            );
        }
        if let Some(secret) = names
            .iter()
            .find(|n| n.as_str() == "secrets" || n.starts_with("secrets."))
        {
            self.out.push(
                Diagnostic::error("secret-in-branch", format!("the run branch may not contain `{secret}`"))
                    .at(self.locate(site, secret))
                    .help("branch names are pushed to GitHub and printed everywhere; they are never masked"),
            );
        }
        let from_text = names.iter().find(|n| {
            [
                "issue",
                "issue.title",
                "issue.body",
                "issue.labels",
                "issue.author",
                "issue.url",
            ]
            .contains(&n.as_str())
        });
        if let Some(name) = from_text {
            self.out.push(
                Diagnostic::warning("branch-from-issue-text", format!("the run branch is built from `{name}`: whoever opens the issue chooses its name"))
                    .at(self.locate(site, name))
                    .help("build it from `issue.number` (and `repo.*`), which the issue's author does not choose"),
            );
        }
    }

    /// What the scan of a site's code finds: unknown filters and tests, functions used
    /// without `()`, status strings that no status has, and in shell steps anything that
    /// turns quoting off around issue data.
    fn check_code(&mut self, site: &Site, templates: &Templates, names: &[String]) {
        let code = scan::code_of(&site.source, site.kind);
        for (at, name) in scan::filters(&code) {
            if !templates.has_filter(name) {
                let d = Diagnostic::error("unknown-filter", format!("unknown filter `{name}`"))
                    .at(self.locate_at(site, at, name));
                self.out
                    .push(d.label_opt(did_you_mean(name, KNOWN_FILTERS)));
            }
        }
        for (at, name) in scan::tests(&code) {
            if !templates.has_test(name) {
                let d = Diagnostic::error("unknown-test", format!("unknown test `{name}`"))
                    .at(self.locate_at(site, at, name));
                self.out.push(d.label_opt(did_you_mean(name, KNOWN_TESTS)));
            }
        }
        for (at, name) in scan::uncalled(&code, &FUNCTIONS) {
            self.out.push(
                Diagnostic::error(
                    "uncalled-function",
                    format!("`{name}` is a function: write `{name}()`"),
                )
                .at(self.locate_at(site, at, name))
                .help("without `()` it is the function itself, which is always true"),
            );
        }
        for (at, literal) in scan::status_literals(&site.source, &code) {
            if !STATUSES.contains(&literal) {
                let d = Diagnostic::error(
                    "unknown-status",
                    format!("no step has the status `{literal}`"),
                )
                .at(self.locate_at(site, at, literal));
                self.out.push(match did_you_mean(literal, STATUSES) {
                    Some(h) => d.label(h),
                    None => d.help(format!(
                        "a status is one of {}",
                        STATUSES.map(|s| format!("`{s}`")).join(", ")
                    )),
                });
            }
        }
        if site.kind != SiteKind::Shell {
            return;
        }
        for at in scan::autoescape_blocks(&site.source, &code) {
            self.out.push(
                Diagnostic::error("autoescape", "`autoescape` cannot be changed in a shell command")
                    .at(self.locate_at(site, at, "autoescape"))
                    .help("values stay data on their own (quoted, or passed in variables); use `| safe` on values you wrote yourself"),
            );
        }
        // Where each value stands in the command, as the shell reads it (checked again on
        // the rendered command at run time, where `{% if %}` branches are known).
        let (outline, offsets) = scan::shell_outline(&site.source);
        for r in crate::template::shell::check(&outline) {
            let at = offsets[r.value];
            let tag = site.source[at..]
                .find("}}")
                .map_or("{{", |end| &site.source[at..at + end + 2]);
            let span = self.locate_at(site, at, tag);
            let d = match r.why {
                crate::template::shell::Why::Unreadable(_) => {
                    Diagnostic::warning("shell-value", r.why.message())
                }
                _ => Diagnostic::error("shell-value", r.why.message()),
            };
            self.out.push(d.at(span).help(r.why.help()));
        }
        if let Some(source) = names.iter().find(|n| carries_issue_text(n)) {
            for (at, name) in scan::filters(&code) {
                if name == "safe" {
                    self.out.push(
                        Diagnostic::warning(
                            "unsafe-issue-data",
                            format!("`| safe` in a shell command that reads `{source}`, which carries issue text: whoever opens an issue writes it, and it would run as shell code"),
                        )
                        .at(self.locate_at(site, at, name))
                        .help("drop `| safe` (values stay data on their own) or read the text from $CW_ISSUE_TITLE / $CW_ISSUE_BODY_FILE"),
                    );
                }
            }
        }
    }

    /// Issue text may not choose aider's options, its model or where it sends the prompt.
    fn check_agent_options(&mut self, site: &Site, names: &[String]) {
        let Some(field) = [
            "/aider/args/",
            "/aider/model",
            "/aider/api_base",
            "/aider/edit_format",
        ]
        .into_iter()
        .find(|f| site.pointer.contains(f)) else {
            return;
        };
        if let Some(source) = names.iter().find(|n| carries_issue_text(n)) {
            let field = field.trim_matches('/').replace('/', ".");
            self.out.push(
                Diagnostic::error(
                    "issue-data-in-options",
                    format!("`{field}` reads `{source}`, which carries issue text: whoever opens an issue would choose aider's options (`--read=/etc/passwd`), model or server"),
                )
                .at(self.locate(site, source))
                .help("give aider issue text only in `message`, which it reads as a prompt; options are yours to write"),
            );
        }
    }

    /// The span for a diagnostic about a site, at a line inside it when known.
    fn span_in(&self, site: &Site, line: Option<usize>) -> crate::source::Span {
        let span = site_span(self.doc, &site.pointer, site.implicit);
        let key_line = self.doc.key_span(&site.pointer).line;
        match line {
            // A block scalar starts below its key: its lines are the file's lines.
            Some(n) if !site.implicit && span.line > key_line => span.inner_line(n, self.source),
            _ => span,
        }
    }

    /// The span of the first occurrence of `needle` in a site's source, mapped to the file.
    /// Falls back to the whole value when the text cannot be found where expected (escapes
    /// in a quoted string, folded scalars).
    fn locate(&self, site: &Site, needle: &str) -> crate::source::Span {
        match site.source.find(needle).filter(|_| !needle.is_empty()) {
            Some(offset) => self.locate_at(site, offset, needle),
            None => self.span_in(site, None),
        }
    }

    /// The span of `needle`, found at byte `offset` of a site's source, in the file. The
    /// position is computed for plain, quoted and block scalars and checked against the
    /// file; when it does not match (escapes, folded scalars), the first occurrence of the
    /// text within the value's lines is used; failing that, the whole value.
    fn locate_at(&self, site: &Site, offset: usize, needle: &str) -> crate::source::Span {
        let whole = self.span_in(site, None);
        if site.implicit {
            return whole;
        }
        let at = |line: usize, column: usize| crate::source::Span {
            line,
            column,
            end_line: line,
            end_column: column + needle.chars().count(),
        };
        let matches_at = |line: usize, column: usize| {
            self.source
                .line(line)
                .map(|l| l.chars().skip(column.saturating_sub(1)).collect::<String>())
                .is_some_and(|rest| rest.starts_with(needle))
        };
        let before = &site.source[..offset];
        let line_in = before.matches('\n').count() + 1;
        let col_in = before.rsplit('\n').next().unwrap_or("").chars().count();
        let key_line = self.doc.key_span(&site.pointer).line;
        let guess = if whole.line > key_line {
            Some((whole.line + line_in - 1, whole.column + col_in))
        } else if line_in == 1 {
            let quoted = self
                .source
                .line(whole.line)
                .and_then(|l| l.chars().nth(whole.column - 1))
                .is_some_and(|c| c == '"' || c == '\'');
            Some((whole.line, whole.column + col_in + usize::from(quoted)))
        } else {
            None
        };
        if let Some((line, column)) = guess
            && matches_at(line, column)
        {
            return at(line, column);
        }
        let value = self.doc.value_span(&site.pointer);
        for line in value.line..=value.end_line {
            if let Some(text) = self.source.line(line) {
                let from = if line == value.line {
                    value.column.saturating_sub(1)
                } else {
                    0
                };
                let rest: String = text.chars().skip(from).collect();
                if let Some(byte) = rest.find(needle) {
                    return at(line, from + rest[..byte].chars().count() + 1);
                }
            }
        }
        whole
    }

    fn error(&mut self, site: &Site, needle: &str, message: String, help: Option<String>) {
        let d = Diagnostic::error("unknown-name", message).at(self.locate(site, needle));
        self.out.push(match help {
            Some(h) if h.starts_with("did you mean") => d.label(h),
            other => d.help_opt(other),
        });
    }

    fn check_name(&mut self, site: &Site, name: &str, parts: &Parts<'_>) {
        let mut segs = name.split('.');
        let root = segs.next().unwrap_or_default();
        let first = segs.next();
        let second = segs.next();
        match root {
            "issue" => self.check_field(site, "issue", first, &ISSUE_FIELDS),
            "repo" => self.check_field(site, "repo", first, &REPO_FIELDS),
            "run" => self.check_field(site, "run", first, &RUN_FIELDS),
            "project" => self.check_field(site, "project", first, &PROJECT_FIELDS),
            "vars" => {
                if let Some(v) = first
                    && !parts.vars.contains_key(v)
                    && !guarded(&site.source, &format!("vars.{v}"))
                {
                    let hint = did_you_mean(v, parts.vars.keys().map(String::as_str));
                    self.error(
                        site,
                        &format!("vars.{v}"),
                        format!("`vars.{v}` is not defined in `vars`"),
                        hint,
                    );
                }
            }
            "secrets" => {
                if let Some(s) = first
                    && !parts.secrets.iter().any(|x| x == s)
                {
                    self.error(
                        site,
                        &format!("secrets.{s}"),
                        format!("`secrets.{s}` is not listed in `secrets`"),
                        Some(format!("add `{s}` to the playbook's `secrets:` list to expose that worker variable")),
                    );
                }
            }
            "attempt" => self.check_attempt(site, first),
            "steps" => self.check_step_ref(site, first, second),
            _ if FUNCTIONS.contains(&root) || BUILTIN_GLOBALS.contains(&root) => {}
            // The tail of `steps.my-step`, already reported as such.
            _ if self.steps.keys().any(|id| {
                id.ends_with(&format!("-{root}")) && site.source.contains(&format!("steps.{id}"))
            }) => {}
            _ => {
                let candidates = ROOT_NAMES.iter().chain(FUNCTIONS.iter()).copied();
                let hint = did_you_mean(root, candidates).or_else(|| {
                    Some(format!(
                        "templates can read {}",
                        ROOT_NAMES.map(|r| format!("`{r}`")).join(", ")
                    ))
                });
                self.error(site, root, format!("unknown name `{root}`"), hint);
            }
        }
    }

    fn check_field(&mut self, site: &Site, root: &str, field: Option<&str>, known: &[&str]) {
        if let Some(f) = field
            && !known.contains(&f)
        {
            let hint = did_you_mean(f, known.iter().copied()).or_else(|| {
                Some(format!(
                    "`{root}` has {}",
                    known
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            });
            self.error(
                site,
                &format!("{root}.{f}"),
                format!("`{root}.{f}` does not exist"),
                hint,
            );
        }
    }

    fn check_attempt(&mut self, site: &Site, key: Option<&str>) {
        if !site.in_retry {
            self.error(
                site,
                "attempt",
                "`attempt` is only defined inside a `retry` step".into(),
                None,
            );
            return;
        }
        let Some(key) = key else { return };
        if key == "number" || guarded(&site.source, &format!("attempt.{key}")) {
            return;
        }
        let retry = retry_of(&site.pointer);
        let Some(entries) = retry.and_then(|r| self.attempt_keys.get(r)) else {
            return;
        };
        let missing: Vec<String> = entries
            .iter()
            .enumerate()
            .filter(|(_, keys)| !keys.contains(key))
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        if missing.len() == entries.len() {
            let all: BTreeSet<&str> = entries.iter().flatten().map(String::as_str).collect();
            let hint = did_you_mean(key, all.iter().copied().chain(["number"]));
            self.error(
                site,
                &format!("attempt.{key}"),
                format!("`attempt.{key}` is not set by any attempt"),
                hint,
            );
        } else if !missing.is_empty() {
            let typos: Vec<String> = entries
                .iter()
                .enumerate()
                .filter(|(_, keys)| !keys.contains(key))
                .filter_map(|(i, keys)| {
                    suggest(key, keys.iter().map(String::as_str))
                        .map(|k| format!("attempt {} has `{k}`", i + 1))
                })
                .collect();
            let d = Diagnostic::warning(
                "attempt-key-missing",
                format!(
                    "`attempt.{key}` is not set by attempt {}: rendering fails there",
                    missing.join(", ")
                ),
            )
            .at(self.locate(site, &format!("attempt.{key}")));
            self.out.push(if typos.is_empty() {
                d
            } else {
                d.help(format!("{}: a misspelling?", typos.join(", ")))
            });
        }
    }

    fn check_step_ref(&mut self, site: &Site, id: Option<&str>, field: Option<&str>) {
        let Some(id) = id else { return };
        let Some(info) = self.steps.get(id) else {
            // `steps.my-step` parses as `steps.my - step`.
            let dashed = self
                .steps
                .keys()
                .filter(|k| {
                    k.starts_with(&format!("{id}-")) && site.source.contains(&format!("steps.{k}"))
                })
                .max_by_key(|k| k.len())
                .cloned();
            if let Some(full) = dashed {
                let rest = &full[id.len() + 1..];
                self.error(
                    site,
                    &format!("steps.{full}"),
                    format!("`steps.{full}` reads as `steps.{id} - {rest}` (a subtraction)"),
                    Some(format!("write `steps[\"{full}\"]` for an id with `-`")),
                );
            } else {
                let hint = did_you_mean(id, self.steps.keys().map(String::as_str));
                self.error(
                    site,
                    &format!("steps.{id}"),
                    format!("`steps.{id}` refers to no step"),
                    hint,
                );
            }
            return;
        };
        if let Some(f) = field {
            let extra: &[&str] = match info.kind {
                "pr_open" => &PR_OPEN_FIELDS,
                "shell" => &SHELL_FIELDS,
                _ => &[],
            };
            if !STEP_FIELDS.contains(&f) && !extra.contains(&f) {
                let known: Vec<&str> = STEP_FIELDS.iter().chain(extra).copied().collect();
                let hint = did_you_mean(f, known.iter().copied());
                self.error(
                    site,
                    &format!("steps.{id}.{f}"),
                    format!("`steps.{id}.{f}` is not an output of a {} step", info.kind),
                    hint,
                );
            }
        }
    }

    /// `steps["id"]` and `steps['id']` references.
    fn check_bracket_refs(&mut self, site: &Site) {
        let src = &site.source;
        let mut rest = src.as_str();
        while let Some(i) = rest.find("steps[") {
            let after = &rest[i + "steps[".len()..];
            let quote = after.chars().next();
            if let Some(q @ ('"' | '\'')) = quote
                && let Some(end) = after[1..].find(q)
            {
                let id = &after[1..1 + end];
                if !self.steps.contains_key(id) {
                    let hint = suggest(id, self.steps.keys().map(String::as_str))
                        .map(|s| format!("did you mean `{s}`?"));
                    self.error(
                        site,
                        id,
                        format!("`steps[\"{id}\"]` refers to no step"),
                        hint,
                    );
                } else if let Some(field) = after[1 + end..]
                    .strip_prefix(&format!("{q}]."))
                    .map(|f| {
                        f.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .next()
                            .unwrap_or("")
                    })
                    .filter(|f| !f.is_empty())
                {
                    self.check_step_ref(site, Some(id), Some(field));
                }
            }
            rest = after;
        }
    }
}

/// Whether a name a template reads carries text whoever opens the issue wrote: the issue's
/// text fields, and what steps printed or summarised (their processes see the issue).
pub fn carries_issue_text(name: &str) -> bool {
    let mut parts = name.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("issue"), None, _) => true,
        (Some("issue"), Some(f), _) => f != "number",
        (Some("steps"), None | Some(_), None) => true,
        (Some("steps"), Some(_), Some(f)) => {
            matches!(f, "stdout" | "stderr" | "output" | "outputs")
        }
        (Some("run"), None, _) => true,
        (Some("run"), Some("summary"), _) => true,
        _ => false,
    }
}

/// Whether a use of `name` in a template is guarded, by `| default(…)` (`| d`) or an
/// `is defined` test: the author knows it may be undefined.
fn guarded(source: &str, name: &str) -> bool {
    source
        .match_indices(name)
        .map(|(i, _)| &source[i + name.len()..])
        // A longer name (`vars.xy` for `vars.x`) is another name.
        .filter(|rest| !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
        .any(|rest| {
            let rest = rest.trim_start();
            if let Some(filter) = rest.strip_prefix('|') {
                let f = filter.trim_start();
                return f.starts_with("default")
                    || f.starts_with("d(")
                    || f.starts_with("d ")
                    || f == "d";
            }
            rest.strip_prefix("is")
                .map(str::trim_start)
                .is_some_and(|t| {
                    t.starts_with("defined")
                        || t.starts_with("undefined")
                        || t.starts_with("not defined")
                })
        })
}

/// The pointer of the innermost retry step that contains `pointer`.
fn retry_of(pointer: &str) -> Option<&str> {
    pointer.rfind("/retry/").map(|i| &pointer[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_is_defined_guard_a_name() {
        assert!(guarded("{{ vars.x | default('y') }}", "vars.x"));
        assert!(guarded(
            "{% if vars.x is defined %}{{ vars.x | d('') }}{% endif %}",
            "vars.x"
        ));
        assert!(guarded(
            "{% if vars.x is defined %}{{ vars.x }}{% endif %}",
            "vars.x"
        ));
        assert!(!guarded(
            "{{ vars.xy | default(1) }} {{ vars.x }}",
            "vars.x"
        ));
        assert!(!guarded("{{ vars.x }}", "vars.x"));
    }

    #[test]
    fn finds_the_enclosing_retry() {
        assert_eq!(
            retry_of("/steps/0/retry/steps/1/aider/message"),
            Some("/steps/0")
        );
        assert_eq!(retry_of("/steps/0/retry/until"), Some("/steps/0"));
        assert_eq!(retry_of("/steps/2/shell"), None);
    }
}
