//! The dry-run plan: every step with its templates rendered, every argv that would run,
//! every attempt of a retry; nothing is run, written or sent.
//!
//! The plan is the engine running in a mode of its own: the same scheduling, step naming,
//! environment layering, attempt environments, secrets and context as a run (see
//! `executor.rs`), with each kind's [`Kind::plan`](crate::steps::kind::Kind::plan) called where a
//! run calls its `run`.
//!
//! Steps read `steps.*` of steps that have not run. The plan shows the path where every
//! step succeeds, except that an attempt after the first is shown as it renders after the
//! previous attempt failed (that is the only way to reach it). Outputs that do not exist
//! yet read as placeholders such as `<output of test in attempt 1>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::executor::{Engine, EngineOptions, RunInput, Scope, render_env};
use super::report::StepReport;
use crate::mask::Masker;
use crate::playbook::model::{Playbook, RetrySpec, Step, StepKind};
use crate::playbook::types::Condition;
use crate::steps::call::StepCall;
use crate::steps::kind::{PlanOut, words};
use crate::steps::result::{StepResult, StepStatus, pr_outputs};
use crate::task::Task;
use crate::template::Templates;
use crate::template::sites::{child_pointer, step_pointer};

/// What the plan is made from.
pub struct PlanInput<'a> {
    pub playbook: Arc<Playbook>,
    pub playbook_path: &'a str,
    pub templates: Arc<Templates>,
    pub task: &'a Task,
    pub branch: &'a str,
    /// The directory globs are matched in (the repository, or any directory).
    pub repo_dir: &'a Path,
    pub parent_env: &'a BTreeMap<String, String>,
    pub options: EngineOptions,
    /// The run branch exists already in the repository (a real run then needs `--force`).
    pub branch_exists: bool,
    pub force: bool,
}

/// Where a run's files would go, as the plan names it.
pub const RUN_DIR: &str = "<run>";
/// The run's checkout, as the plan names it.
pub const WORKTREE: &str = "<worktree>";

/// A rendered plan.
pub struct Plan {
    pub text: String,
    /// Templates or conditions that cannot be rendered: the real run would fail there.
    pub problems: usize,
}

/// The state of a dry run inside the engine.
pub struct PlanState {
    pub out: PlanOut,
    /// The playbook's `env`, rendered (or why it cannot be).
    pub env: Result<BTreeMap<String, String>, String>,
    branch_exists: bool,
    force: bool,
}

/// Renders the plan.
pub async fn render(input: PlanInput<'_>) -> Plan {
    let state = PlanState {
        out: PlanOut::new(Masker::for_environment(
            input.parent_env,
            &input
                .playbook
                .secrets
                .iter()
                .map(|s| s.0.clone())
                .collect::<Vec<_>>(),
        )),
        env: Ok(BTreeMap::new()),
        branch_exists: input.branch_exists,
        force: input.force,
    };
    let run = RunInput {
        playbook: input.playbook.clone(),
        playbook_path: input.playbook_path.to_owned(),
        templates: input.templates,
        task: input.task.clone(),
        run_id: "<run id>".into(),
        branch: input.branch.to_owned(),
        checkout: input.repo_dir.to_path_buf(),
        run_dir: PathBuf::from(RUN_DIR),
        parent_env: input.parent_env.clone(),
        github: None,
        push: None,
        options: input.options,
        cancel: CancellationToken::new(),
        budget: None,
        credentials: Vec::new(),
        task_key: None,
        trigger: "local",
        cache_root: None,
    };
    let mut engine = match Engine::build(run, Some(state)) {
        Ok(e) => e,
        // A plan is built whatever cannot be rendered; this is the only other way.
        Err(e) => {
            return Plan {
                text: format!("<{e}>\n"),
                problems: 1,
            };
        }
    };
    engine.detect_project().await;
    engine.plan_header();
    let mut scope = Scope::top();
    for (i, step) in input.playbook.steps.iter().enumerate() {
        engine.run_step(step, &step_pointer(i), &mut scope).await;
    }
    let state = engine.plan.take().expect("a plan's engine keeps its plan");
    Plan {
        text: state.out.text,
        problems: state.out.problems,
    }
}

impl Engine {
    fn out(&mut self) -> &mut PlanOut {
        &mut self.plan.as_mut().expect("planning").out
    }

    fn plan_header(&mut self) {
        let pb = self.s.run.playbook.clone();
        let t = &self.s.run.task;
        let lines = [
            format!(
                "plan of `{}` ({}) · dry run: nothing is run, written or sent",
                pb.name, self.s.run.playbook_path
            ),
            format!(
                "task:    {} · {}#{} {:?}",
                t.id, t.repo.full_name, t.issue.number, t.issue.title
            ),
        ];
        let plan = self.plan.as_mut().expect("planning");
        plan.out.line(0, &lines[0]);
        plan.out.line(1, &lines[1]);
        let (branch, repo) = (&self.s.run.branch, self.s.run.checkout.display());
        let line = match (plan.branch_exists, plan.force) {
            (false, _) => {
                format!("branch:  {branch} (new, from HEAD of {repo}, in a fresh worktree)")
            }
            (true, true) => {
                format!("branch:  {branch} (exists in {repo}; --force restarts it from HEAD)")
            }
            (true, false) => {
                plan.out.problems += 1;
                format!(
                    "branch:  {branch} <EXISTS in {repo}: the run would stop; pass --force to restart it>"
                )
            }
        };
        plan.out.line(1, &line);
        plan.out.line(
            1,
            &format!(
                "timeout: {} for the whole run",
                humantime::format_duration(pb.timeout.0)
            ),
        );
        if !pb.secrets.is_empty() {
            let list: Vec<String> = pb
                .secrets
                .iter()
                .map(|s| {
                    let set = self.s.run.parent_env.contains_key(&s.0);
                    format!("{} ({})", s.0, if set { "set" } else { "NOT SET" })
                })
                .collect();
            plan.out.line(1, &format!("secrets: {}", list.join(", ")));
        }
        let env = match &plan.env {
            Ok(map) => words(map),
            Err(e) => {
                plan.out.problems += 1;
                format!("<{e}>")
            }
        };
        if !env.is_empty() {
            plan.out.line(1, &format!("env:     {env}"));
        }
        plan.out.line(1, "children see PATH (led by $CW_SETUP_DIR/venv/bin), HOME, LANG, LC_*, TMPDIR, CW_ISSUE_*, CW_REPO, CW_BRANCH, CW_SETUP_DIR, listed secrets and the env above; nothing else of this environment");
        if let Some(p) = &self.project {
            let line = match p.ecosystem {
                Some(e) => format!(
                    "project: {} ({}) in {}, found by {}; `codingworker project` explains",
                    e.name(),
                    p.manager.as_deref().unwrap_or("?"),
                    crate::text::printable(&p.root),
                    crate::text::printable(
                        &p.found
                            .iter()
                            .find(|f| f.root == p.root && Some(f.ecosystem) == p.ecosystem)
                            .map(|f| f.evidence.join(", "))
                            .unwrap_or_default()
                    )
                ),
                None => "project: <none found: project.setup and project.test are empty>".into(),
            };
            plan.out.line(1, &line);
            if p.ecosystem.is_none() {
                plan.out.problems += 1;
            }
            if !p.missing.is_empty() {
                plan.out.problems += 1;
                plan.out.line(
                    1,
                    &format!(
                        "<the project needs {} and this machine's PATH lacks it>",
                        p.missing.join(", ")
                    ),
                );
            }
        }
        plan.out.text.push('\n');
    }

    /// The dry run's side of [`Engine::run_step`]: shows the step, then records it as
    /// succeeded (or skipped, if its `if` is false on the success path).
    pub(crate) async fn plan_step(
        &mut self,
        step: &Step,
        pointer: &str,
        scope: &mut Scope,
        index: usize,
        stem: String,
    ) {
        let position = pointer
            .rsplit('/')
            .next()
            .and_then(|i| i.parse::<usize>().ok())
            .unwrap_or(0);
        let number = format!("{}{}", scope.number, position + 1);
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
        let indent = scope.indent;
        self.out().line(indent, &head);
        let inner = indent + 2;
        self.out().indent = inner;
        let runs = self.plan_condition(step, pointer, scope);
        if let Some(dir) = &step.workdir {
            self.out().say(&format!("workdir: {dir}"));
        }
        match &step.kind {
            StepKind::Retry(spec) => self.plan_retry(pointer, &number, spec, scope).await,
            kind => {
                let ctx = self.ctx(scope);
                let (mut env, step_env) = self.step_env(step, scope, &ctx);
                let mut own = Vec::new();
                if let Some(a) = &scope.attempt {
                    own.push(words(&a.env));
                }
                match step_env {
                    Ok(step_env) => {
                        own.push(words(&step_env));
                        env.extend(step_env);
                    }
                    Err(e) => {
                        self.out().problems += 1;
                        own.push(format!("<{e}>"));
                    }
                }
                own.retain(|w| !w.is_empty());
                let cwd = match &step.workdir {
                    Some(w) => self.s.run.checkout.join(w),
                    None => self.s.run.checkout.clone(),
                };
                let call = StepCall {
                    step,
                    pointer,
                    ctx,
                    env,
                    cwd,
                    deadline: Instant::now() + self.s.run.playbook.timeout.0,
                    limit: step.timeout(),
                    stem,
                    attempt: scope.attempt.as_ref().map(|a| a.info.number),
                };
                let kind = crate::steps::kind_of(kind).expect("only retry has no kind");
                let plan = self.plan.as_mut().expect("planning");
                plan.out.env_line = own.join(" ");
                plan.out.indent = inner;
                kind.plan(&self.s, &call, &mut plan.out);
            }
        }
        // From here on, this step reads as succeeded (or skipped, if its `if` is false).
        let status = if runs {
            StepStatus::Success
        } else {
            StepStatus::Skipped
        };
        let attempt = scope.attempt.as_ref().map(|a| a.info.clone());
        let done = placeholder(status, step, attempt.as_ref().map(|a| a.number));
        self.steps.insert(step.id.0.clone(), done.to_value());
        self.report.steps.insert(
            index,
            StepReport {
                id: step.id.0.clone(),
                name: step.name.clone(),
                kind: step.kind.name().into(),
                status,
                exit_code: None,
                duration_ms: 0,
                attempt,
                model: None,
                message: None,
                log: None,
                tests: None,
                context: None,
            },
        );
    }

    /// Shows the `if` line; returns whether the step runs on the path where every earlier
    /// step succeeds.
    fn plan_condition(&mut self, step: &Step, pointer: &str, scope: &Scope) -> bool {
        let (line, runs) = match &step.condition {
            None => return true,
            Some(Condition::Bool(b)) => (format!("if: {b}"), *b),
            Some(Condition::Expr(e)) => {
                let ctx = self.ctx(scope);
                match self.s.run.templates.eval(&format!("{pointer}/if"), &ctx) {
                    Ok(true) => (
                        format!("if: {e} (true when every earlier step succeeds)"),
                        true,
                    ),
                    Ok(false) => (
                        format!(
                            "if: {e} (false when every earlier step succeeds: skipped then; shown anyway)"
                        ),
                        false,
                    ),
                    Err(err) => {
                        self.out().problems += 1;
                        (format!("if: {e} (cannot be evaluated: {err})"), true)
                    }
                }
            }
        };
        self.out().say(&line);
        runs
    }

    /// Every attempt of a retry, each as it renders once the previous one failed.
    async fn plan_retry(&mut self, pointer: &str, number: &str, spec: &RetrySpec, scope: &Scope) {
        let inner = self.out().indent;
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
        let attempts = match spec.attempts.len() {
            1 => "1 attempt".to_owned(),
            n => format!("{n} attempts"),
        };
        self.out().say(&format!("{attempts} · {until} · {reset}"));
        let retry_start = self.report.steps.len();
        let mut first_attempt = (0, BTreeMap::new());
        let nested = all_steps(&spec.steps);
        for (i, entry) in spec.attempts.iter().enumerate() {
            let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
            if i == 1 {
                // What the success path leaves: attempt 1's rows and outputs.
                first_attempt = (
                    self.report.steps.len() - retry_start,
                    nested
                        .iter()
                        .filter_map(|c| {
                            self.steps.get(&c.id.0).map(|v| (c.id.0.clone(), v.clone()))
                        })
                        .collect(),
                );
            }
            if i > 0 {
                // Reaching attempt n means attempt n-1 failed.
                for child in &nested {
                    let failed = placeholder(StepStatus::Failure, child, Some(n - 1));
                    self.steps.insert(child.id.0.clone(), failed.to_value());
                }
            }
            let mut attempt = Scope {
                number: format!("{number}.{n}."),
                indent: inner + 1,
                ..scope.attempt(n, &entry.keys, None)
            };
            let ctx = self.ctx(&attempt);
            let skipped = match render_env(&self.s.run.templates, &entry.env, &ctx) {
                Ok(env) => {
                    if let Some(a) = attempt.attempt.as_mut() {
                        a.env.extend(env);
                    }
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
            self.out().indent = inner;
            self.out()
                .say(&format!("attempt {n} · {}{when}", keys.join(" · ")));
            if let Some(why) = skipped {
                self.out().line(
                    inner + 1,
                    &format!("skipped at run time: its env cannot be rendered: {why}"),
                );
                continue;
            }
            for (j, child) in spec.steps.iter().enumerate() {
                Box::pin(self.run_step(child, &child_pointer(pointer, j), &mut attempt)).await;
            }
        }
        if spec.attempts.len() > 1 {
            let (rows, values) = first_attempt;
            self.report.steps.truncate(retry_start + rows);
            self.steps.extend(values);
        }
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

/// A step result with placeholder outputs, for the plan: a pull request not opened yet, test
/// counts not known yet.
fn placeholder(status: StepStatus, step: &Step, attempt: Option<u32>) -> StepResult {
    let id = &step.id.0;
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
    match step.kind {
        StepKind::PrOpen(_) => r.outputs = pr_outputs(None),
        StepKind::Shell(_) => {
            r.outputs.insert("tests".into(), minijinja::Value::from(()));
        }
        _ => {}
    }
    r
}
