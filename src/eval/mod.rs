//! `codingworker eval`: Phase 0 of the user's plan as a command. It runs a playbook's agent
//! step (its first `aider` step, with the playbook's own prompt and settings) on sample
//! tasks, once per model, in throwaway repositories; checks each result with the task's
//! hidden check; measures the time of each agent call and the peak memory of the agent's
//! process tree (and of Ollama's loaded model); and answers Go / Fallback / Pivot / No-Go
//! by the user's criteria.
//!
//! A task is a directory: `task.json` (the issue), `eval.yml` (`files` to give the agent,
//! `check`, a shell command run in the repository with `CW_EVAL_CHECKS` naming the task's
//! `checks/` directory), `repo/` (the starting files) and `checks/` (never shown to the
//! agent).

mod decide;
mod measure;
mod report;
pub(crate) mod tasks;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

pub(crate) use decide::{Criteria, Decision, ModelSummary, Verdict, decide, summarize};
pub(crate) use report::{render_markdown, render_table};
pub(crate) use tasks::{EvalTask, load_tasks};

use crate::adapters::ollama;
use crate::engine::prepare::Prepared;
use crate::playbook::model::{Step, StepKind};
use crate::steps::aider::AiderSpec;
use crate::task::Task;
use crate::template::context::{ContextBase, attempt_value, run_value};
use crate::template::sites::{child_pointer, step_pointer};

/// How the error of a call stopped at its time limit starts.
const TIMED_OUT: &str = "no answer within";

/// One agent call on one task.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Trial {
    pub model: String,
    pub task: String,
    pub repeat: u32,
    pub solved: bool,
    /// Wall time of the agent call.
    pub seconds: f64,
    /// Peak resident memory of the agent and its children, MiB.
    pub agent_peak_mib: u64,
    /// The model's size in Ollama's memory after the call, MiB (local models only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ollama_mib: Option<u64>,
    /// Stopped at the time limit.
    pub timed_out: bool,
    /// Why the call or the check did not run as it should.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The agent step of a playbook: where it sits and what it is.
pub(crate) struct AgentStep<'a> {
    pub pointer: String,
    pub spec: &'a AiderSpec,
    /// The attempts of the retry around it (their keys), if any.
    pub attempts: Vec<BTreeMap<String, serde_json::Value>>,
}

/// The first `aider` step, depth first.
pub(crate) fn agent_step(steps: &[Step]) -> Option<AgentStep<'_>> {
    fn find<'a>(
        steps: &'a [Step],
        parent: Option<&str>,
        attempts: &[BTreeMap<String, serde_json::Value>],
    ) -> Option<AgentStep<'a>> {
        for (i, step) in steps.iter().enumerate() {
            let pointer = match parent {
                Some(p) => child_pointer(p, i),
                None => step_pointer(i),
            };
            match &step.kind {
                StepKind::Aider(spec) => {
                    return Some(AgentStep {
                        pointer,
                        spec,
                        attempts: attempts.to_vec(),
                    });
                }
                StepKind::Retry(r) => {
                    let keys: Vec<_> = r.attempts.iter().map(|a| a.keys.clone()).collect();
                    if let Some(found) = find(&r.steps, Some(&pointer), &keys) {
                        return Some(found);
                    }
                }
                _ => {}
            }
        }
        None
    }
    find(steps, None, &[])
}

/// What a run of `eval` needs.
pub(crate) struct Plan<'a> {
    pub prepared: &'a Prepared,
    pub models: Vec<String>,
    pub tasks: Vec<EvalTask>,
    pub repeat: u32,
    pub env: BTreeMap<String, String>,
    pub aider_program: String,
    /// Where the throwaway repositories and the prompts go.
    pub scratch: PathBuf,
    /// The longest an agent call may take before it is stopped.
    pub limit: Duration,
}

/// Runs every model on every task `repeat` times, in that order.
pub(crate) async fn run_trials(plan: &Plan<'_>) -> Result<Vec<Trial>, String> {
    let agent = agent_step(&plan.prepared.playbook.steps)
        .ok_or("the playbook has no aider step to evaluate")?;
    let mut trials = Vec::new();
    for model in &plan.models {
        for task in &plan.tasks {
            for repeat in 1..=plan.repeat {
                tracing::info!(model = %model, task = %task.name, repeat, "agent call started");
                let trial = trial(plan, &agent, model, task, repeat).await;
                tracing::info!(model = %model, task = %task.name, solved = trial.solved,
                    seconds = format!("{:.1}", trial.seconds), error = trial.error.as_deref().unwrap_or(""),
                    "agent call finished");
                trials.push(trial);
            }
        }
    }
    Ok(trials)
}

async fn trial(
    plan: &Plan<'_>,
    agent: &AgentStep<'_>,
    model: &str,
    task: &EvalTask,
    repeat: u32,
) -> Trial {
    let mut t = Trial {
        model: model.to_owned(),
        task: task.name.clone(),
        repeat,
        solved: false,
        seconds: 0.0,
        agent_peak_mib: 0,
        ollama_mib: None,
        timed_out: false,
        error: None,
    };
    let slug: String = model
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let dir = plan.scratch.join(format!("{slug}-{}-{repeat}", task.name));
    let repo = dir.join("repo");
    if let Err(e) = tasks::fresh_repo(&task.dir.join("repo"), &repo) {
        t.error = Some(e);
        return t;
    }
    match call_agent(plan, agent, model, task, &dir, &repo).await {
        Ok((seconds, peak_kib, base)) => {
            t.seconds = seconds;
            t.agent_peak_mib = peak_kib / 1024;
            if let Some(base) = base {
                let name = ollama::ollama_name(model);
                t.ollama_mib = ollama::loaded(&base, Duration::from_secs(5))
                    .await
                    .into_iter()
                    .find(|(n, _)| {
                        n == name || (!name.contains(':') && *n == format!("{name}:latest"))
                    })
                    .map(|(_, size)| size >> 20);
            }
        }
        Err((seconds, peak_kib, e)) => {
            t.seconds = seconds;
            t.agent_peak_mib = peak_kib / 1024;
            t.timed_out = e.starts_with(TIMED_OUT);
            t.error = Some(e);
        }
    }
    match tasks::check(task, &repo, &plan.env).await {
        Ok(solved) => t.solved = solved,
        Err(e) => t.error = Some(t.error.take().map_or(e.clone(), |x| format!("{x}; {e}"))),
    }
    t
}

/// One agent call: seconds, peak KiB of the agent's process tree, the Ollama base it used.
/// The call is the playbook's agent step run by its own kind (`Kind::run`: the same
/// preparation, prompt files, probe, supervision and model-retry watch as in a run), with
/// eval's model and the task's files, in the task's fresh repository.
async fn call_agent(
    plan: &Plan<'_>,
    agent: &AgentStep<'_>,
    model: &str,
    task: &EvalTask,
    dir: &Path,
    repo: &Path,
) -> Result<(f64, u64, Option<String>), (f64, u64, String)> {
    use crate::playbook::types::{StepId, Template};
    use crate::steps::call::{EngineOptions, RunInput, Services, StepCall};
    let issue: &Task = &task.issue;
    let pb = &plan.prepared.playbook;
    // The attempt as the playbook would have it for this model: its own entry when it lists
    // the model, else one with just the model.
    let mut keys = agent
        .attempts
        .iter()
        .find(|k| k.get("model").and_then(|m| m.as_str()) == Some(model))
        .cloned()
        .unwrap_or_default();
    keys.insert("model".into(), serde_json::Value::String(model.to_owned()));
    let attempt = attempt_value(1, &keys);
    let mut steps = BTreeMap::new();
    crate::engine::executor::index_steps(&pb.steps, &mut steps);
    let base = ContextBase::new(issue, &pb.vars, &BTreeMap::new());
    let ctx = base.with(
        run_value("eval", "eval", &repo.display().to_string(), ""),
        minijinja::Value::from(steps),
        Some(&attempt),
        false,
    );
    // Eval's model and the task's files are templates made here: they render as written.
    let mut spec = agent.spec.clone();
    spec.model = Template::new(model);
    if !task.files.is_empty() {
        spec.files = task
            .files
            .iter()
            .map(|f| Template::new(f.clone()))
            .collect();
    }
    // Whether the task is solved is the task's check to say, not whether files changed.
    spec.require_changes = false;
    let step = Step {
        id: StepId("agent".into()),
        name: None,
        condition: None,
        timeout: None,
        continue_on_error: false,
        env: Default::default(),
        workdir: None,
        baseline: None,
        kind: StepKind::Aider(spec.clone()),
    };
    for sub in ["logs", "prompts"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| (0.0, 0, e.to_string()))?;
    }
    let mut env = crate::process::env::passthrough(&plan.env);
    for (k, v) in [
        ("GIT_AUTHOR_NAME", "codingworker eval"),
        ("GIT_AUTHOR_EMAIL", "eval@codingworker.local"),
        ("GIT_COMMITTER_NAME", "codingworker eval"),
        ("GIT_COMMITTER_EMAIL", "eval@codingworker.local"),
    ] {
        env.insert(k.into(), v.into());
    }
    let deadline = tokio::time::Instant::now() + plan.limit;
    let services = Services {
        run: RunInput {
            playbook: pb.clone(),
            playbook_path: "eval".into(),
            templates: plan.prepared.templates.clone(),
            task: issue.clone(),
            run_id: "eval".into(),
            branch: "eval".into(),
            checkout: repo.to_path_buf(),
            run_dir: dir.to_path_buf(),
            parent_env: plan.env.clone(),
            github: None,
            push: None,
            options: EngineOptions {
                kill_grace: Duration::from_secs(5),
                output_limit: 256 * 1024,
                aider_program: plan.aider_program.clone(),
                probe_timeout: Duration::from_secs(5),
            },
            cancel: tokio_util::sync::CancellationToken::new(),
            budget: None,
            credentials: Vec::new(),
            task_key: None,
            trigger: "eval",
            cache_root: None,
        },
        base,
        masker: crate::mask::Masker::for_environment(&plan.env, &[]),
        child_env: env.clone(),
        workspace: crate::adapters::git::Workspace::new(repo),
        deadline,
        shell: "sh".into(),
        start: None,
    };
    let call = StepCall {
        step: &step,
        pointer: "",
        ctx,
        env,
        cwd: repo.to_path_buf(),
        deadline,
        limit: Some(plan.limit),
        stem: "agent".into(),
        attempt: Some(1),
    };
    // The Ollama endpoint the call uses, for its memory afterwards.
    let api_base = spec
        .api_base
        .as_ref()
        .and_then(|t| call.render(&services, t).ok());
    let probe = crate::steps::aider::ollama_endpoint(model, api_base, &call.env, &plan.env);
    let kind = crate::steps::kind_of(&step.kind).expect("an aider step has a kind");
    let sampler = measure::PeakSampler::start();
    let started = Instant::now();
    let result = kind.run(&services, &call).await;
    let seconds = started.elapsed().as_secs_f64();
    let peak = sampler.stop().await;
    match result.status {
        crate::steps::status::StepStatus::Success => Ok((seconds, peak, probe)),
        crate::steps::status::StepStatus::TimedOut => Err((
            seconds,
            peak,
            format!("{TIMED_OUT} {}", humantime::format_duration(plan.limit)),
        )),
        _ => Err((
            seconds,
            peak,
            result.message.unwrap_or_else(|| "the agent failed".into()),
        )),
    }
}
