//! The `shell` step: a command run with `sh -c` in the checkout.
//!
//! The command is a template whose values (issue text, step outputs: anything the author did
//! not mark safe) stay data whatever quotes surround them: outside quotes they are quoted,
//! inside double quotes and here-documents they become variables the process gets, and where
//! neither is safe the step fails before anything runs (see `crate::template::shell`).

use crate::playbook::model::StepKind;
use crate::steps::call::{Services, StepCall, run_process};
use crate::steps::kind::{Kind, PlanOut, Running};
use crate::steps::result::{StepResult, StepStatus};
use crate::template::{Bound, Bounds};

/// The `shell` kind (its spec is the command template, rendered by its own place).
pub struct Shell;

impl Kind for Shell {
    fn run<'a>(&'a self, s: &'a Services, call: &'a StepCall<'a>) -> Running<'a> {
        Box::pin(run_shell(s, call))
    }

    /// The command exactly as `sh -c` receives it, and the variables that carry its values
    /// into double quotes and here-documents.
    fn plan(&self, s: &Services, call: &StepCall<'_>, out: &mut PlanOut) {
        if !out.env_line.is_empty() {
            out.say(&format!("env: {}", out.env_line));
        }
        let bounds = Bounds::default();
        let rendered = render(s, call, &bounds);
        match rendered {
            Ok(cmd) => {
                let script = cmd.script.trim_end();
                if script.contains('\n') {
                    out.block("$ (sh -c)", script);
                } else {
                    out.say(&format!("$ {script}"));
                }
                for (name, value) in &cmd.env {
                    out.say(&format!(
                        "  with {name}={}",
                        crate::template::shell_quote(value)
                    ));
                }
            }
            Err(e) => out.problem(&format!("template error in `shell`: {e}")),
        }
    }

    fn logs(&self) -> bool {
        true
    }
}

/// Renders the step's command (its `shell` template, by its place in the playbook).
fn render(
    s: &Services,
    call: &StepCall<'_>,
    bounds: &Bounds,
) -> Result<crate::template::ShellCommand, crate::template::TemplateError> {
    let pointer = match &call.step.kind {
        StepKind::Shell(t) => t.pointer(),
        _ => None,
    };
    s.run.templates.render_shell(
        pointer.unwrap_or("(a shell step's command that was not compiled)"),
        &call.ctx,
        bounds,
    )
}

/// Linux refuses a single argument longer than this (MAX_ARG_STRLEN).
const MAX_ARG: usize = 128 * 1024 - 1;

async fn run_shell(s: &Services, call: &StepCall<'_>) -> StepResult {
    let bounds = Bounds {
        deadline: Some(call.deadline.into_std()),
        cancel: Some(s.run.cancel.clone()),
    };
    let command = match render(s, call, &bounds) {
        Ok(c) => c,
        Err(e) => {
            let status = match e.bound {
                Some(Bound::Deadline) => StepStatus::TimedOut,
                Some(Bound::Cancelled) => StepStatus::Cancelled,
                _ => StepStatus::Failure,
            };
            return StepResult::with_status(status, format!("template error in `shell`: {e}"));
        }
    };
    if command.script.len() > MAX_ARG {
        return StepResult::failed(format!(
            "the rendered command is {} KiB, over the {} KiB one argument may have; read large values from a file or shorten them (`| tail(60)`)",
            command.script.len() / 1024,
            (MAX_ARG + 1) / 1024
        ));
    }
    let mut env = call.env.clone();
    for (name, value) in &command.env {
        if !crate::process::env::env_safe(name, value) {
            return StepResult::failed(format!(
                "a value in double quotes or a here-document is {} KiB, over the {} KiB a variable may hold; read large text from a file (the issue body is in $CW_ISSUE_BODY_FILE) or shorten it (`| tail(60)`)",
                value.len() / 1024,
                (MAX_ARG + 1) / 1024
            ));
        }
        env.insert(name.clone(), value.clone());
    }
    tracing::debug!(step = %call.step.id, command = %s.masker.mask(&command.script), "running shell command");
    let mut result = run_process(
        s,
        call,
        &s.shell,
        vec!["-c".into(), command.script.clone()],
        env,
        &format!("$ {}", command.script),
        None,
    )
    .await;
    // The kept output is a tail: when it may have been cut, count from the whole log.
    let cut = result.captured.output.len() + 64 * 1024 >= s.run.options.output_limit;
    let counts = if cut && result.logged {
        let log = s
            .run
            .run_dir
            .join("logs")
            .join(format!("{}.log", call.stem));
        tokio::task::spawn_blocking(move || super::tests_count::parse_file(&log))
            .await
            .ok()
            .flatten()
    } else {
        super::tests_count::parse(&result.captured.output)
    };
    result.outputs.insert(
        "tests".into(),
        counts
            .as_ref()
            .map_or(minijinja::Value::from(()), |c| c.to_value()),
    );
    if let Some(id) = &call.step.baseline
        && result.exit_code.is_some()
        && matches!(result.status, StepStatus::Success | StepStatus::Failure)
    {
        judge(
            &mut result,
            counts.as_ref(),
            baseline_counts(call, &id.0).as_ref(),
            &id.0,
        );
        if let Some(touched) = protected_changes(s).await {
            result.status = StepStatus::Failure;
            result.message = Some(format!(
                "the change edits or deletes protected files ({}): `protect` keeps them as they were",
                touched.join(", ")
            ));
        }
    }
    result.tests = counts;
    result
}

/// The files matching the playbook's `protect` globs that the checkout changed or deleted
/// since the run started (at most ten named); `None` when there are none.
async fn protected_changes(s: &Services) -> Option<Vec<String>> {
    let globs = &s.run.playbook.protect;
    if globs.is_empty() {
        return None;
    }
    // What cannot be checked is not taken as unchanged.
    let unsure = |why: String| Some(vec![format!("<cannot be checked: {why}>")]);
    let Some(start) = s.start else {
        return unsure("the checkout had no commit when the run started".into());
    };
    let mut set = globset::GlobSetBuilder::new();
    for g in globs {
        match globset::Glob::new(g) {
            Ok(glob) => set.add(glob),
            Err(e) => return unsure(format!("`{g}`: {e}")),
        };
    }
    let Ok(set) = set.build() else {
        return unsure("the globs do not build".into());
    };
    let changed = match s
        .workspace
        .off_thread(move |w| w.changed_since(start))
        .await
    {
        Ok(c) => c,
        Err(e) => return unsure(e.to_string()),
    };
    let touched: Vec<String> = changed
        .into_iter()
        .filter(|p| set.is_match(p))
        .take(10)
        .collect();
    (!touched.is_empty()).then_some(touched)
}

/// A test step with a `baseline`: the tests must have run, no fewer may pass than before any
/// change, and failures the baseline had too are no failure.
fn judge(
    result: &mut StepResult,
    now: Option<&super::tests_count::TestCounts>,
    before: Option<&super::tests_count::TestCounts>,
    id: &str,
) {
    let Some(now) = now else {
        // The tests counted before any change and print no summary now: something stopped
        // them (a conftest that exits, a runner replaced), whatever the exit code says.
        if before.is_some() {
            result.status = StepStatus::Failure;
            result.message = Some(format!(
                "the test runner printed no summary, though it did before any change (`{id}`)"
            ));
        }
        return;
    };
    if now.ran == 0 {
        result.status = StepStatus::Failure;
        result.message = Some("no tests ran".into());
        return;
    }
    let Some(before) = before else { return };
    if now.passed < before.passed {
        result.status = StepStatus::Failure;
        result.message = Some(format!(
            "{} tests pass, fewer than the {} that passed before any change (`{id}`): a change must not remove or break tests",
            now.passed, before.passed
        ));
    } else if result.status == StepStatus::Failure
        && let Some(why) = now.no_new_failures(before)
    {
        result.status = StepStatus::Success;
        result.message = Some(format!("{why} (`{id}`)"));
    }
}

/// The test counts of the step `id` (the baseline), as the context holds them.
fn baseline_counts(call: &StepCall<'_>, id: &str) -> Option<super::tests_count::TestCounts> {
    let tests = call
        .ctx
        .get_attr("steps")
        .ok()?
        .get_attr(id)
        .ok()?
        .get_attr("tests")
        .ok()?;
    super::tests_count::TestCounts::from_value(&tests)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::tests_count::parse;

    fn judged(exit: i32, now: &str, before: &str) -> StepResult {
        let mut r = if exit == 0 {
            StepResult::success()
        } else {
            StepResult::failed(format!("exit code {exit}"))
        };
        r.exit_code = Some(exit);
        judge(
            &mut r,
            parse(now).as_ref(),
            parse(before).as_ref(),
            "baseline",
        );
        r
    }

    #[test]
    fn a_test_step_is_judged_against_the_tests_before_any_change() {
        let before = "FAILED t.py::old - x\n= 1 failed, 3 passed in 1s =";
        let same = judged(
            1,
            "FAILED t.py::old - x\n= 1 failed, 3 passed in 1s =",
            before,
        );
        assert_eq!(same.status, StepStatus::Success);
        let new = judged(
            1,
            "FAILED t.py::new - x\n= 1 failed, 3 passed in 1s =",
            before,
        );
        assert_eq!(new.status, StepStatus::Failure);
        let fewer = judged(0, "= 2 passed in 1s =", before);
        assert_eq!(fewer.status, StepStatus::Failure);
        let none = judged(5, "= no tests ran in 0.01s =", before);
        assert_eq!(none.message.as_deref(), Some("no tests ran"));
        // A runner silenced (a conftest that exits 0) is not a pass.
        let silent = judged(0, "", before);
        assert_eq!(silent.status, StepStatus::Failure);
        assert_eq!(
            silent.message.as_deref(),
            Some(
                "the test runner printed no summary, though it did before any change (`baseline`)"
            )
        );
        // Without counts on either side, the exit code decides.
        assert_eq!(judged(0, "ok", "ok").status, StepStatus::Success);
    }
}
