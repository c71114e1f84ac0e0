//! The worker's decisions as tables: each row a situation and what must become of it.

use std::time::Duration;

use super::*;
use crate::engine::report::{PrRef, StepReport};
use crate::triggers::worker::state::RunRecord;

const HOUR: Duration = Duration::from_secs(3600);

fn state(phase: Phase, spent_min: u64, runs: &[Option<&str>]) -> TaskState {
    TaskState {
        key: "k".into(),
        task_id: "t".into(),
        repo: "o/r".into(),
        issue: 1,
        playbook: "p".into(),
        playbook_hash: "h".into(),
        phase,
        runs: runs
            .iter()
            .enumerate()
            .map(|(i, status)| RunRecord {
                run_id: format!("r{i}"),
                receive_count: 1,
                started_at: String::new(),
                status: status.map(str::to_owned),
                duration_ms: None,
            })
            .collect(),
        budget_from: 0,
        spent_ms: spent_min * 60_000,
        outcome: None,
        reported: None,
        failure: None,
        last_message: Some("m1".into()),
        updated_at: String::new(),
    }
}

fn delivery(id: &str, n: u32) -> Delivery<'_> {
    Delivery {
        message_id: id,
        receive_count: n,
    }
}

fn run(budget_min: u64, interrupted: usize, fresh: bool) -> Before {
    Before::Run {
        budget: Duration::from_secs(budget_min * 60),
        interrupted,
        fresh,
    }
}

#[test]
fn before_a_run() {
    let mut finished = state(Phase::Finished, 10, &[Some("failure")]);
    finished.failure = Some("tests failed".into());
    let give_up = |s: &str| Before::GiveUp { why: s.into() };
    let table: Vec<(&str, TaskState, Delivery<'_>, Before)> = vec![
        (
            "a new task runs with the whole budget",
            state(Phase::Running, 0, &[]),
            delivery("m1", 1),
            run(60, 0, false),
        ),
        (
            "a crashed run resumes with what is left",
            state(Phase::Running, 20, &[None]),
            delivery("m1", 2),
            run(40, 1, false),
        ),
        (
            "done: delete",
            state(Phase::Done, 5, &[Some("success")]),
            delivery("m1", 2),
            Before::Done,
        ),
        (
            "given up, same message: dead-letter queue",
            state(Phase::GaveUp, 60, &[None]),
            delivery("m1", 4),
            Before::GivenUp,
        ),
        (
            "given up, redriven (new id): fresh budget",
            state(Phase::GaveUp, 60, &[None, None]),
            delivery("m2", 1),
            run(60, 0, true),
        ),
        (
            "finished, not reported: report only",
            finished,
            delivery("m1", 2),
            Before::ReportOnly {
                why: "tests failed".into(),
            },
        ),
        (
            "finished without a reason",
            state(Phase::Finished, 1, &[]),
            delivery("m1", 2),
            Before::ReportOnly {
                why: "The run failed.".into(),
            },
        ),
        (
            "budget spent",
            state(Phase::Running, 60, &[None, None]),
            delivery("m1", 3),
            give_up(
                "its time budget (1h) is spent: 2 runs were interrupted (the worker crashed or was stopped)",
            ),
        ),
        (
            "too many deliveries",
            state(Phase::Running, 1, &[None]),
            delivery("m1", 6),
            give_up(
                "the message was delivered 6 times (max_receives is 5); 1 runs were interrupted",
            ),
        ),
        (
            "the last allowed delivery still runs",
            state(Phase::Running, 1, &[]),
            delivery("m1", 5),
            run(59, 0, false),
        ),
    ];
    for (case, st, msg, want) in table {
        assert_eq!(before_run(&st, msg, 5, HOUR), want, "{case}");
    }
}

#[test]
fn runs_before_the_budget_start_do_not_count_as_interrupted() {
    let mut st = state(Phase::Running, 0, &[None, None, None]);
    st.budget_from = 2;
    assert_eq!(
        before_run(&st, delivery("m1", 1), 5, HOUR),
        run(60, 1, false)
    );
}

fn report(status: RunStatus, steps: &[(&str, StepStatus, bool)], pr: bool) -> RunReport {
    let mut r: RunReport = serde_json::from_value(serde_json::json!({
        "version": 1, "id": "r", "playbook": "p", "playbook_name": "p", "task_id": "t",
        "repo": "o/r", "issue": 1, "status": "running", "branch": "b", "workdir": "w",
        "started_at": "2026-12-01T00:00:00Z", "duration_ms": 0, "steps": []
    }))
    .expect("a report");
    r.status = status;
    r.steps = steps
        .iter()
        .map(|(kind, status, in_attempt)| StepReport {
            id: format!("{kind}-step"),
            name: None,
            kind: (*kind).to_owned(),
            status: *status,
            exit_code: None,
            duration_ms: 0,
            attempt: in_attempt.then(|| crate::engine::report::AttemptInfo {
                number: 1,
                keys: Default::default(),
            }),
            model: None,
            message: None,
            log: None,
            tests: None,
            context: None,
        })
        .collect();
    if pr {
        r.pr = Some(PrRef {
            number: 7,
            url: "https://github.com/o/r/pull/7".into(),
            created: true,
        });
    }
    r
}

#[test]
fn after_a_run() {
    use StepStatus::{Failure, Skipped, Success};
    let done = |reported: Option<&str>, succeeded, why| After::Done {
        reported: reported.map(str::to_owned),
        succeeded,
        why,
    };
    let table: Vec<(&str, RunReport, bool, u32, After)> = vec![
        ("success with a pull request", report(RunStatus::Success, &[("shell", Success, false)], true), false, 1,
            done(Some("https://github.com/o/r/pull/7"), true, "final result")),
        ("success without one", report(RunStatus::Success, &[("shell", Success, false)], false), false, 1,
            done(None, true, "final result (the playbook opened no pull request)")),
        ("failure with a draft pull request: reported by it", report(RunStatus::Failure, &[("shell", Failure, false)], true), false, 1,
            done(Some("https://github.com/o/r/pull/7"), false, "final result")),
        ("failure, then a comment step posted", report(RunStatus::Failure, &[("shell", Failure, false), ("comment", Success, false)], false), false, 1,
            done(Some("comment by step `comment-step`"), false, "final result")),
        ("a comment before the failure does not count", report(RunStatus::Failure, &[("comment", Success, false), ("shell", Failure, false), ("comment", Skipped, false)], false), false, 1,
            After::Report { why: "The run failed and the playbook reported nothing on the issue.".into() }),
        ("a failed attempt is not the run's failure", report(RunStatus::Failure, &[("shell", Failure, true), ("comment", Success, false)], false), false, 1,
            After::Report { why: "The run failed and the playbook reported nothing on the issue.".into() }),
        ("timed out", report(RunStatus::TimedOut, &[("shell", Failure, false)], false), false, 1,
            After::Report { why: "The run ran out of time and the playbook reported nothing on the issue.".into() }),
        ("cancelled on request", report(RunStatus::Cancelled, &[], false), true, 5,
            After::Report { why: "The run was cancelled on request (`codingworker runs cancel` or the status page).".into() }),
        ("stopped by a shutdown", report(RunStatus::Cancelled, &[], false), false, 4, After::Stopping),
        ("stopped during the last delivery", report(RunStatus::Cancelled, &[], false), false, 5,
            After::GiveUp { why: "the worker was stopped during the last allowed delivery".into() }),
    ];
    for (case, r, requested, n, want) in table {
        assert_eq!(
            after_run(&r, requested, delivery("m", n), 5),
            want,
            "{case}"
        );
    }
}

#[test]
fn a_problem_that_may_pass() {
    let table = [
        (false, 1, Passing::Retry),
        (false, 4, Passing::Retry),
        (false, 5, Passing::GiveUp),
        (false, 9, Passing::GiveUp),
        (true, 1, Passing::HandBack),
        (true, 5, Passing::HandBack),
    ];
    for (stopping, n, want) in table {
        assert_eq!(
            passing(stopping, delivery("m", n), 5),
            want,
            "stopping={stopping} n={n}"
        );
    }
}
