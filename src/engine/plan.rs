//! The dry-run plan: every step with its templates rendered, every argv that would run,
//! every attempt of a retry; nothing is run, written or sent.
//!
//! Steps read `steps.*` of steps that have not run. The plan shows the path where every
//! step succeeds, except that an attempt after the first is shown as it renders after the
//! previous attempt failed (that is the only way to reach it). Outputs that do not exist
//! yet read as placeholders such as `<output of test in attempt 1>`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use minijinja::Value;

use super::report::{AttemptInfo, RunReport, RunStatus, StepReport};
use super::state::{StepResult, StepStatus, pr_outputs};
use crate::mask::Masker;
use crate::playbook::model::{Playbook, Step, StepKind};
use crate::playbook::types::{Condition, EnvMap, Version1};
use crate::steps::{aider, pr_open};
use crate::task::Task;
use crate::template::context::{ContextBase, attempt_value, run_value};
use crate::template::sites::{child_pointer, step_pointer};
use crate::template::{SiteKind, Templates};
use crate::text::printable;

/// What the plan is made from.
pub struct PlanInput<'a> {
    pub playbook: &'a Playbook,
    pub playbook_path: &'a str,
    pub templates: &'a Templates,
    pub task: &'a Task,
    pub branch: &'a str,
    /// The directory globs are matched in (the repository, or any directory).
    pub repo_dir: &'a Path,
    pub parent_env: &'a BTreeMap<String, String>,
    pub aider_program: &'a str,
    /// The run branch exists already in the repository (a real run then needs `--force`).
    pub branch_exists: bool,
    pub force: bool,
}

const RUN_DIR: &str = "<run>";
const WORKTREE: &str = "<worktree>";

/// A rendered plan.
pub struct Plan {
    pub text: String,
    /// Templates or conditions that cannot be rendered: the real run would fail there.
    pub problems: usize,
}

/// Renders the plan.
pub fn render(input: &PlanInput<'_>) -> Plan {
    let pb = input.playbook;
    let listed: Vec<String> = pb.secrets.iter().map(|s| s.0.clone()).collect();
    let secrets: BTreeMap<String, String> = listed
        .iter()
        .filter_map(|n| input.parent_env.get(n).map(|v| (n.clone(), v.clone())))
        .collect();
    let mut p = Planner {
        input,
        base: ContextBase::new(input.task, &pb.vars, &secrets),
        masker: Masker::for_environment(input.parent_env, &listed),
        steps: BTreeMap::new(),
        report: RunReport {
            version: Version1,
            id: "<run id>".into(),
            playbook: input.playbook_path.into(),
            playbook_name: pb.name.clone(),
            task_id: input.task.id.clone(),
            repo: input.task.repo.full_name.clone(),
            issue: input.task.issue.number,
            issue_title: String::new(),
            trigger: None,
            status: RunStatus::Running,
            branch: input.branch.into(),
            workdir: WORKTREE.into(),
            started_at: String::new(),
            finished_at: None,
            duration_ms: 0,
            steps: Vec::new(),
            pr: None,
        },
        out: String::new(),
        seq: 0,
        problems: std::cell::Cell::new(0),
    };
    for step in all_steps(&pb.steps) {
        p.steps.insert(
            step.id.0.clone(),
            StepResult::not_run_value(step.kind.name()),
        );
    }
    p.header(&secrets, &listed);
    for (i, step) in pb.steps.iter().enumerate() {
        p.step(step, &step_pointer(i), &format!("{}", i + 1), None, 0);
    }
    Plan {
        text: p.out,
        problems: p.problems.get(),
    }
}

fn all_steps(steps: &[Step]) -> Vec<&Step> {
    let mut out = Vec::new();
    for s in steps {
        out.push(s);
        out.extend(all_steps(s.children()));
    }
    out
}

struct Planner<'a> {
    input: &'a PlanInput<'a>,
    base: ContextBase,
    masker: Masker,
    steps: BTreeMap<String, Value>,
    report: RunReport,
    out: String,
    seq: usize,
    problems: std::cell::Cell<usize>,
}

struct Attempt {
    value: Value,
    info: AttemptInfo,
    env: BTreeMap<String, String>,
}

impl Planner<'_> {
    fn ctx(&self, attempt: Option<&Attempt>) -> Value {
        let run = run_value(
            "<run id>",
            self.input.branch,
            WORKTREE,
            &self.report.steps_table(),
        );
        self.base.with(
            run,
            Value::from(self.steps.clone()),
            attempt.map(|a| &a.value),
            false,
        )
    }

    /// Something that would fail at run time.
    fn problem(&mut self, indent: usize, text: &str) {
        self.problems.set(self.problems.get() + 1);
        self.line(indent, &format!("<{text}>"));
    }

    fn line(&mut self, indent: usize, text: &str) {
        let _ = writeln!(
            self.out,
            "{}{}",
            "  ".repeat(indent),
            printable(&self.masker.mask(text))
        );
    }

    /// A multi-line value, quoted with a bar so its exact text (and its end) is visible.
    fn block(&mut self, indent: usize, label: &str, text: &str) {
        self.line(indent, &format!("{label}:"));
        let masked = self.masker.mask(text);
        if masked.is_empty() {
            self.line(indent, "  │ (empty)");
        }
        for l in masked.split('\n') {
            let _ = writeln!(self.out, "{}  │ {}", "  ".repeat(indent), printable(l));
        }
    }

    fn header(&mut self, secrets: &BTreeMap<String, String>, listed: &[String]) {
        let pb = self.input.playbook;
        let t = self.input.task;
        self.line(
            0,
            &format!(
                "plan of `{}` ({}) · dry run: nothing is run, written or sent",
                pb.name, self.input.playbook_path
            ),
        );
        self.line(
            1,
            &format!(
                "task:    {} · {}#{} {:?}",
                t.id, t.repo.full_name, t.issue.number, t.issue.title
            ),
        );
        self.line(
            1,
            &match (self.input.branch_exists, self.input.force) {
                (false, _) => format!(
                    "branch:  {} (new, from HEAD of {}, in a fresh worktree)",
                    self.input.branch,
                    self.input.repo_dir.display()
                ),
                (true, true) => format!(
                    "branch:  {} (exists in {}; --force restarts it from HEAD)",
                    self.input.branch,
                    self.input.repo_dir.display()
                ),
                (true, false) => {
                    self.problems.set(self.problems.get() + 1);
                    format!(
                        "branch:  {} <EXISTS in {}: the run would stop; pass --force to restart it>",
                        self.input.branch,
                        self.input.repo_dir.display()
                    )
                }
            },
        );
        self.line(
            1,
            &format!(
                "timeout: {} for the whole run",
                humantime::format_duration(pb.timeout.0)
            ),
        );
        if !listed.is_empty() {
            let list: Vec<String> = listed
                .iter()
                .map(|n| {
                    format!(
                        "{n} ({})",
                        if secrets.contains_key(n) {
                            "set"
                        } else {
                            "NOT SET"
                        }
                    )
                })
                .collect();
            self.line(1, &format!("secrets: {}", list.join(", ")));
        }
        let ctx = self.ctx(None);
        let env = self.render_env("/env", &pb.env, &ctx);
        if !env.is_empty() {
            self.line(1, &format!("env:     {env}"));
        }
        self.line(1, "children see PATH, HOME, LANG, LC_*, TMPDIR, CW_ISSUE_*, CW_REPO, CW_BRANCH, listed secrets and the env above; nothing else of this environment");
        self.out.push('\n');
    }

    fn render_env(&self, pointer: &str, env: &EnvMap, ctx: &Value) -> String {
        match super::executor::render_env(self.input.templates, pointer, env, ctx) {
            Ok(map) => map
                .iter()
                .map(|(k, v)| format!("{k}={}", crate::template::shell_quote(v)))
                .collect::<Vec<_>>()
                .join(" "),
            Err(e) => {
                self.problems.set(self.problems.get() + 1);
                format!("<{e}>")
            }
        }
    }

    /// The `if` line to show, and whether the step runs on the path where every earlier
    /// step succeeds.
    fn condition(
        &self,
        step: &Step,
        pointer: &str,
        attempt: Option<&Attempt>,
    ) -> (Option<String>, bool) {
        let ctx = self.ctx(attempt);
        match &step.condition {
            None => (None, true),
            Some(Condition::Bool(b)) => (Some(format!("if: {b}")), *b),
            Some(Condition::Expr(e)) => {
                match self.input.templates.eval(&format!("{pointer}/if"), &ctx) {
                    Ok(true) => (
                        Some(format!("if: {e} (true when every earlier step succeeds)")),
                        true,
                    ),
                    Ok(false) => (
                        Some(format!(
                            "if: {e} (false when every earlier step succeeds: skipped then; shown anyway)"
                        )),
                        false,
                    ),
                    Err(err) => {
                        self.problems.set(self.problems.get() + 1);
                        (Some(format!("if: {e} (cannot be evaluated: {err})")), true)
                    }
                }
            }
        }
    }

    fn step(
        &mut self,
        step: &Step,
        pointer: &str,
        number: &str,
        attempt: Option<&Attempt>,
        indent: usize,
    ) {
        self.seq += 1;
        let report_index = self.report.steps.len();
        let stem = match attempt {
            Some(a) => format!("{:02}-{}-a{}", self.seq, step.id, a.info.number),
            None => format!("{:02}-{}", self.seq, step.id),
        };
        let mut head = format!("{number}. {} · {}", step.id, step.kind.name());
        if let Some(name) = &step.name {
            head = format!("{head} · {name:?}");
        }
        if let Some(t) = step.timeout() {
            head = format!("{head} · timeout {}", humantime::format_duration(t));
        }
        if step.continue_on_error {
            head.push_str(" · continue_on_error");
        }
        self.line(indent, &head);
        let inner = indent + 2;
        let (condition, runs) = self.condition(step, pointer, attempt);
        if let Some(c) = condition {
            self.line(inner, &c);
        }
        if let Some(dir) = &step.workdir {
            self.line(inner, &format!("workdir: {dir}"));
        }
        let ctx = self.ctx(attempt);
        let templates = self.input.templates;
        let render = |field: &str| -> Result<String, String> {
            templates
                .render(SiteKind::Text, &format!("{pointer}/{field}"), &ctx)
                .map_err(|e| format!("template error in `{}`: {e}", field.replace('/', ".")))
        };
        let mut env_line = self.render_env(&format!("{pointer}/env"), &step.env, &ctx);
        if let Some(a) = attempt {
            let attempt_env: Vec<String> = a
                .env
                .iter()
                .map(|(k, v)| format!("{k}={}", crate::template::shell_quote(v)))
                .collect();
            if !attempt_env.is_empty() {
                env_line = format!("{} {env_line}", attempt_env.join(" "))
                    .trim()
                    .to_owned();
            }
        }
        match &step.kind {
            StepKind::Shell(_) => {
                if !env_line.is_empty() {
                    self.line(inner, &format!("env: {env_line}"));
                }
                // The command exactly as `sh -c` receives it, and the variables that carry
                // its values into double quotes and here-documents.
                let bounds = crate::template::Bounds::default();
                match templates.render_shell(&format!("{pointer}/shell"), &ctx, &bounds) {
                    Ok(cmd) => {
                        let script = cmd.script.trim_end();
                        if script.contains('\n') {
                            self.block(inner, "$ (sh -c)", script);
                        } else {
                            self.line(inner, &format!("$ {script}"));
                        }
                        for (name, value) in &cmd.env {
                            self.line(
                                inner,
                                &format!("  with {name}={}", crate::template::shell_quote(value)),
                            );
                        }
                    }
                    Err(e) => self.problem(inner, &format!("template error in `shell`: {e}")),
                }
            }
            StepKind::Aider(spec) => self.aider(
                spec,
                &render,
                &stem,
                step.workdir.as_deref(),
                &env_line,
                inner,
            ),
            StepKind::Retry(spec) => {
                let until = match &spec.until {
                    None => "until: no nested step fails".to_owned(),
                    Some(Condition::Bool(b)) => format!("until: {b}"),
                    Some(Condition::Expr(e)) => format!("until: {e}"),
                };
                let reset = if spec.reset {
                    "each attempt starts from the checkout as the retry found it"
                } else {
                    "no reset between attempts"
                };
                self.line(
                    inner,
                    &format!(
                        "{} · {until} · {reset}",
                        match spec.attempts.len() {
                            1 => "1 attempt".to_owned(),
                            n => format!("{n} attempts"),
                        }
                    ),
                );
                let retry_start = self.report.steps.len();
                let mut first_attempt = (0, BTreeMap::new());
                for (i, entry) in spec.attempts.iter().enumerate() {
                    let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
                    if i == 1 {
                        // What the success path leaves: attempt 1's rows and outputs.
                        first_attempt = (
                            self.report.steps.len() - retry_start,
                            all_steps(&spec.steps)
                                .iter()
                                .filter_map(|c| {
                                    self.steps.get(&c.id.0).map(|v| (c.id.0.clone(), v.clone()))
                                })
                                .collect(),
                        );
                    }
                    if i > 0 {
                        // Reaching attempt n means attempt n-1 failed.
                        for child in all_steps(&spec.steps) {
                            let mut failed =
                                placeholder(StepStatus::Failure, &child.id.0, Some(n - 1));
                            if matches!(child.kind, StepKind::PrOpen(_)) {
                                failed.outputs = pr_outputs(None);
                            }
                            self.steps.insert(child.id.0.clone(), failed.to_value());
                        }
                    }
                    let mut a = Attempt {
                        value: attempt_value(n, &entry.keys),
                        info: AttemptInfo {
                            number: n,
                            keys: entry.keys.clone(),
                        },
                        env: attempt.map(|a| a.env.clone()).unwrap_or_default(),
                    };
                    let actx = self.ctx(Some(&a));
                    let skipped = match super::executor::render_env(
                        templates,
                        &format!("{pointer}/retry/attempts/{i}/env"),
                        &entry.env,
                        &actx,
                    ) {
                        Ok(env) => {
                            a.env.extend(env);
                            None
                        }
                        Err(e) => Some(e),
                    };
                    let keys: Vec<String> = entry
                        .keys
                        .iter()
                        .map(|(k, v)| {
                            format!(
                                "{k}={}",
                                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                            )
                        })
                        .collect();
                    let when = if i == 0 {
                        String::new()
                    } else {
                        format!(" (if attempt {} does not succeed)", n - 1)
                    };
                    self.line(inner, &format!("attempt {n} · {}{when}", keys.join(" · ")));
                    if let Some(why) = skipped {
                        self.line(
                            inner + 1,
                            &format!("skipped at run time: its env cannot be rendered: {why}"),
                        );
                        continue;
                    }
                    for (j, child) in spec.steps.iter().enumerate() {
                        self.step(
                            child,
                            &child_pointer(pointer, j),
                            &format!("{number}.{n}.{}", j + 1),
                            Some(&a),
                            inner + 1,
                        );
                    }
                }
                if spec.attempts.len() > 1 {
                    let (rows, values) = first_attempt;
                    self.report.steps.truncate(retry_start + rows);
                    self.steps.extend(values);
                }
            }
            StepKind::PrOpen(spec) => {
                let target = pr_open::Target {
                    branch: self.input.branch,
                    default_base: &self.input.task.repo.default_branch,
                    masker: &self.masker,
                };
                match pr_open::render(spec, &target, &render) {
                    Ok(req) => {
                        self.line(
                            inner,
                            &format!("commit uncommitted changes: {:?}", req.commit_message),
                        );
                        self.line(
                            inner,
                            &format!(
                                "push {} and open (or update) a pull request {} -> {}{}",
                                req.pr.head,
                                req.pr.head,
                                req.pr.base,
                                if req.pr.draft { " as a draft" } else { "" }
                            ),
                        );
                        self.line(inner, &format!("title: {:?}", req.pr.title));
                        if !req.labels.is_empty() {
                            self.line(inner, &format!("labels: {}", req.labels.join(", ")));
                        }
                        if !req.reviewers.is_empty() {
                            self.line(inner, &format!("reviewers: {}", req.reviewers.join(", ")));
                        }
                        self.block(inner, "body", &req.pr.body);
                    }
                    Err(e) => self.problem(inner, &e),
                }
            }
            StepKind::Comment(_) => match render("comment/body") {
                Ok(body) => self.block(
                    inner,
                    &format!(
                        "comment on {}#{}",
                        self.input.task.repo.full_name, self.input.task.issue.number
                    ),
                    &body,
                ),
                Err(e) => self.problem(inner, &e),
            },
        }
        // From here on, this step reads as succeeded (or skipped, if its `if` is false).
        let status = if runs {
            StepStatus::Success
        } else {
            StepStatus::Skipped
        };
        let mut done = placeholder(status, &step.id.0, attempt.map(|a| a.info.number));
        if matches!(step.kind, StepKind::PrOpen(_)) {
            done.outputs = pr_outputs(None);
        }
        self.steps.insert(step.id.0.clone(), done.to_value());
        self.report.steps.insert(
            report_index,
            StepReport {
                id: step.id.0.clone(),
                name: step.name.clone(),
                kind: step.kind.name().into(),
                status,
                exit_code: None,
                duration_ms: 0,
                attempt: attempt.map(|a| a.info.clone()),
                model: None,
                message: None,
                log: None,
            },
        );
    }

    fn aider(
        &mut self,
        spec: &aider::AiderSpec,
        render: &dyn Fn(&str) -> Result<String, String>,
        stem: &str,
        workdir: Option<&str>,
        env_line: &str,
        indent: usize,
    ) {
        let repo = self.input.repo_dir;
        let cwd = workdir.map_or_else(|| repo.to_path_buf(), |w| repo.join(w));
        let files_dir = PathBuf::from(RUN_DIR).join("prompts");
        let env: BTreeMap<String, String> = BTreeMap::new();
        let at = aider::Where {
            checkout: repo,
            cwd: &cwd,
            files_dir: &files_dir,
            stem,
            env: &env,
            parent_env: self.input.parent_env,
            program: self.input.aider_program,
        };
        match aider::prepare(spec, render, &at) {
            Ok(inv) => {
                if let Some(base) = &inv.probe {
                    self.line(
                        indent,
                        &format!(
                            "probe: GET {base}/api/tags must list {}",
                            crate::adapters::ollama::ollama_name(&inv.model)
                        ),
                    );
                }
                let mut env_all: Vec<String> = inv
                    .env
                    .iter()
                    .map(|(k, v)| format!("{k}={}", crate::template::shell_quote(v)))
                    .collect();
                if !env_line.is_empty() {
                    env_all.push(env_line.to_owned());
                }
                self.line(indent, &format!("env: {}", env_all.join(" ")));
                let argv: Vec<String> = std::iter::once(inv.program.clone())
                    .chain(inv.args.iter().cloned())
                    .map(|a| crate::template::shell_quote(&a))
                    .collect();
                self.line(indent, &format!("$ {}", argv.join(" ")));
                for note in &inv.notes {
                    self.line(indent, &format!("note: {note} (in {} now)", repo.display()));
                }
                self.block(
                    indent,
                    &format!("message ({})", inv.message_file.display()),
                    inv.message.trim_end(),
                );
            }
            Err(e) => self.problem(indent, &e),
        }
    }
}

/// A step result with placeholder outputs, for the plan.
fn placeholder(status: StepStatus, id: &str, attempt: Option<u32>) -> StepResult {
    let of = match attempt {
        Some(n) => format!("{id} in attempt {n}"),
        None => id.to_owned(),
    };
    let mut r = StepResult::with_status(status, "");
    r.message = None;
    r.exit_code = Some(if status == StepStatus::Success { 0 } else { 1 });
    r.captured.stdout = format!("<stdout of {of}>");
    r.captured.stderr = format!("<stderr of {of}>");
    r.captured.output = format!("<output of {of}>");
    r.duration = Duration::ZERO;
    r
}
