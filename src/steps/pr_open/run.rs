//! Running a `pr_open` step.

use super::spec::*;
use crate::playbook::types::Template;
use std::fmt::Write as _;

use crate::adapters::git::{CleanRoom, Remote, parse_ls_remote};
use crate::adapters::github::NewPullRequest;
use crate::engine::report::PrRef;
use crate::process::{self, Ending};
use crate::steps::call::{Services, StepCall};
use crate::steps::kind::PlanOut;
use crate::steps::kind::{Kind, Running};
use crate::steps::result::{StepResult, StepStatus, pr_outputs};

/// The pull request a step would open, fully rendered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Request {
    #[serde(flatten)]
    pub pr: NewPullRequest,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
    pub commit_message: String,
}

/// Where the pull request goes: its head branch and the default base.
pub struct Target<'a> {
    pub branch: &'a str,
    pub default_base: &'a str,
    pub masker: &'a crate::mask::Masker,
}

/// Renders every field; the body and title are masked.
pub fn render(
    spec: &PrOpenSpec,
    to: &Target<'_>,
    render: &dyn Fn(&Template) -> Result<String, String>,
) -> Result<Request, String> {
    let title = to.masker.mask(render(spec.title())?.trim());
    if title.is_empty() {
        return Err("`pr_open.title` rendered to an empty string".into());
    }
    let body = to.masker.mask(&render(spec.body())?);
    let draft = match &spec.draft {
        None => false,
        Some(crate::playbook::types::Flag::Bool(b)) => *b,
        Some(crate::playbook::types::Flag::Template(t)) => {
            parse_bool(&render(t)?).ok_or("`pr_open.draft` must render to `true` or `false`")?
        }
    };
    let base = match &spec.base {
        Some(t) => render(t)?.trim().to_owned(),
        None => to.default_base.to_owned(),
    };
    let list = |templates: &[Template]| -> Result<Vec<String>, String> {
        templates
            .iter()
            .map(|t| render(t).map(|v| v.trim().to_owned()))
            .filter(|v| !matches!(v, Ok(s) if s.is_empty()))
            .collect()
    };
    Ok(Request {
        pr: NewPullRequest {
            title,
            body,
            head: to.branch.to_owned(),
            base,
            draft,
        },
        labels: list(&spec.labels)?,
        reviewers: list(&spec.reviewers)?,
        commit_message: to.masker.mask(&render(spec.commit_message())?),
    })
}

impl Request {
    /// The request as a person reads a pull request: the headers, then the body as written.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "  title:     {}", self.pr.title);
        let _ = writeln!(out, "  branches:  {} -> {}", self.pr.head, self.pr.base);
        let _ = writeln!(out, "  draft:     {}", self.pr.draft);
        if !self.labels.is_empty() {
            let _ = writeln!(out, "  labels:    {}", self.labels.join(", "));
        }
        if !self.reviewers.is_empty() {
            let _ = writeln!(out, "  reviewers: {}", self.reviewers.join(", "));
        }
        let _ = writeln!(
            out,
            "  commit:    {}",
            self.commit_message.lines().next().unwrap_or("")
        );
        let _ = writeln!(
            out,
            "  body:\n{BODY_START}\n{}\n{BODY_END}",
            self.pr.body.trim_end_matches('\n')
        );
        out
    }
}

/// The lines above and below a printed pull request body (which is printed as it is).
pub const BODY_START: &str = "┌────────────────────────────────────────";
pub const BODY_END: &str = "└────────────────────────────────────────";

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

impl Kind for PrOpenSpec {
    fn run<'a>(&'a self, s: &'a Services, call: &'a StepCall<'a>) -> Running<'a> {
        Box::pin(open_pr(s, call, self))
    }

    fn plan(&self, s: &Services, call: &StepCall<'_>, out: &mut PlanOut) {
        let target = Target {
            branch: &s.run.branch,
            default_base: &s.run.task.repo.default_branch,
            masker: &s.masker,
        };
        match render(self, &target, &|field| call.render(s, field)) {
            Ok(req) => {
                out.say(&format!(
                    "commit uncommitted changes: {:?}",
                    req.commit_message
                ));
                out.say(&format!(
                    "push {} and open (or update) a pull request {} -> {}{}",
                    req.pr.head,
                    req.pr.head,
                    req.pr.base,
                    if req.pr.draft { " as a draft" } else { "" }
                ));
                out.say(&format!("title: {:?}", req.pr.title));
                if !req.labels.is_empty() {
                    out.say(&format!("labels: {}", req.labels.join(", ")));
                }
                if !req.reviewers.is_empty() {
                    out.say(&format!("reviewers: {}", req.reviewers.join(", ")));
                }
                out.block("body", &req.pr.body);
            }
            Err(e) => out.problem(&e),
        }
    }

    fn reports(&self) -> bool {
        true
    }
}

async fn open_pr(s: &Services, call: &StepCall<'_>, spec: &PrOpenSpec) -> StepResult {
    let target = Target {
        branch: &s.run.branch,
        default_base: &s.run.task.repo.default_branch,
        masker: &s.masker,
    };
    let req = match render(spec, &target, &|field| call.render(s, field)) {
        Ok(r) => r,
        Err(e) => return StepResult::failed(e),
    };
    if req.pr.head == req.pr.base {
        return StepResult::failed(format!(
            "the run branch `{}` is the pull request's base; refusing to push to it",
            req.pr.head
        ));
    }
    let mut log = String::new();
    let message = req.commit_message.clone();
    match s
        .workspace
        .off_thread(move |w| w.commit_all(&message))
        .await
    {
        Ok(Some(oid)) => {
            let _ = writeln!(log, "committed uncommitted changes as {oid}");
        }
        Ok(None) => {}
        Err(e) => return StepResult::failed(format!("failed to commit the changes: {e}")),
    }
    let repo = &s.run.task.repo.full_name;
    let Some(github) = &s.run.github else {
        let text = format!(
            "pr_open: not sent (no GitHub credentials). It would push branch `{}` and open this pull request on {repo}:\n{}",
            s.run.branch,
            req.describe()
        );
        print!("{}", crate::text::for_stdout(&text));
        log.push_str(&text);
        return finish(
            s,
            call,
            log,
            None,
            Some("not sent: no GitHub credentials (printed instead)".into()),
        );
    };
    // GitHub refuses a pull request without commits (422 "No commits between"): say so
    // rather than push a branch that is its base.
    if s.start.is_some() && s.workspace.off_thread(|w| w.head().ok().flatten()).await == s.start {
        let why = "skipped: the run made no changes, so there is no pull request to open";
        let _ = writeln!(log, "{why}");
        let mut r = finish(s, call, log, None, Some(why.into()));
        r.status = StepStatus::Skipped;
        return r;
    }
    if let Some(target) = &s.run.push
        && let Err(e) = push(s, call, target, &mut log).await
    {
        return finish_failed(s, call, log, e);
    }
    let talk = async {
        if let Some(open) = github.find_open_pr(repo, &s.run.branch).await? {
            let pr = github
                .update_pr(repo, open.number, &req.pr.title, &req.pr.body)
                .await?;
            return Ok((pr, false));
        }
        match github.create_pr(repo, &req.pr).await {
            Ok(pr) => Ok((pr, true)),
            // Someone (an earlier delivery of the task) opened it meanwhile: update that one.
            Err(e) if e.status() == Some(422) => {
                match github.find_open_pr(repo, &s.run.branch).await? {
                    Some(open) => Ok((
                        github
                            .update_pr(repo, open.number, &req.pr.title, &req.pr.body)
                            .await?,
                        false,
                    )),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    };
    let (pr, created) = match bounded(call, s, talk).await {
        Bounded::Done(Ok(x)) => x,
        Bounded::Done(Err(e)) => {
            return finish_failed(
                s,
                call,
                log,
                format!("failed to open the pull request: {e}"),
            );
        }
        Bounded::TimedOut => {
            return StepResult::with_status(StepStatus::TimedOut, "timed out talking to GitHub");
        }
        Bounded::Cancelled => return StepResult::with_status(StepStatus::Cancelled, "cancelled"),
    };
    let _ = writeln!(
        log,
        "{} pull request #{} {}",
        if created { "opened" } else { "updated" },
        pr.number,
        pr.url
    );
    let mut notes = Vec::new();
    if !req.labels.is_empty()
        && let Bounded::Done(Err(e)) =
            bounded(call, s, github.add_labels(repo, pr.number, &req.labels)).await
    {
        notes.push(format!("labels not added: {e}"));
    }
    if !req.reviewers.is_empty()
        && let Bounded::Done(Err(e)) = bounded(
            call,
            s,
            github.request_reviewers(repo, pr.number, &req.reviewers),
        )
        .await
    {
        notes.push(format!("reviewers not requested: {e}"));
    }
    let pr = PrRef {
        number: pr.number,
        url: pr.url,
        created,
    };
    let note = (!notes.is_empty()).then(|| notes.join("; "));
    finish(s, call, log, Some(pr), note)
}

/// Pushes the run branch with a lease on what the remote has now; both git commands are
/// supervised like any step process (deadline, cancellation, process group).
async fn push(
    s: &Services,
    call: &StepCall<'_>,
    target: &Remote,
    log: &mut String,
) -> Result<(), String> {
    let mut sup = call.supervision(s);
    sup.log = None;
    let (head, room) = crate::steps::call::blocking(|| {
        let head = s
            .workspace
            .head()
            .map_err(|e| e.to_string())?
            .ok_or("the run branch has no commit to push")?
            .to_string();
        // The token never meets a configuration a step could have written.
        let room = CleanRoom::for_checkout(&s.run.checkout, &s.run.run_dir.join("push.git"))
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((head, room))
    })?;
    let ls = target
        .ls_remote(&room.dir, &s.run.parent_env, &s.run.branch)
        .map_err(|e| e.to_string())?;
    let seen = process::run_command(&ls, &sup, None)
        .await
        .map_err(|e| e.to_string())?;
    if seen.ending != Ending::Exited(0) {
        return Err(format!(
            "failed to read the remote branch ({}): {}",
            seen.ending.describe(call.limit),
            seen.captured.output.trim()
        ));
    }
    let expected = parse_ls_remote(&seen.captured.stdout, &s.run.branch);
    let cmd = target
        .push(
            &room.dir,
            &s.run.parent_env,
            &s.run.branch,
            expected.as_deref(),
            &head,
        )
        .map_err(|e| e.to_string())?;
    let pushed = process::run_command(&cmd, &sup, None)
        .await
        .map_err(|e| e.to_string())?;
    log.push_str(&pushed.captured.output);
    if pushed.ending == Ending::Exited(0) {
        let _ = writeln!(log, "pushed branch {}", s.run.branch);
        Ok(())
    } else {
        Err(format!(
            "git push failed ({}): {}",
            pushed.ending.describe(call.limit),
            pushed.captured.output.trim()
        ))
    }
}

/// How a call bounded by the step's deadline and the run's cancellation ended.
pub(crate) enum Bounded<T> {
    Done(T),
    TimedOut,
    Cancelled,
}

/// Runs `fut` until the step's deadline or the run's cancellation.
pub(crate) async fn bounded<T>(
    call: &StepCall<'_>,
    s: &Services,
    fut: impl std::future::Future<Output = T>,
) -> Bounded<T> {
    tokio::select! {
        v = fut => Bounded::Done(v),
        () = tokio::time::sleep_until(call.deadline) => Bounded::TimedOut,
        () = s.run.cancel.cancelled() => Bounded::Cancelled,
    }
}

fn finish_failed(s: &Services, call: &StepCall<'_>, log: String, message: String) -> StepResult {
    let mut r = finish(s, call, log, None, Some(s.masker.mask(&message)));
    r.status = StepStatus::Failure;
    r
}

fn finish(
    s: &Services,
    call: &StepCall<'_>,
    log: String,
    pr: Option<PrRef>,
    message: Option<String>,
) -> StepResult {
    let mut r = StepResult::success();
    r.logged = std::fs::write(call.log_path(s), s.masker.mask(&log)).is_ok();
    r.captured.stdout = s.masker.mask(&log);
    r.captured.output = r.captured.stdout.clone();
    r.outputs = pr_outputs(pr.as_ref());
    r.pr = pr;
    r.message = message;
    r
}
