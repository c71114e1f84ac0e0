//! Routing: whether a task may be worked on at all (the allow-lists), and which playbook it
//! gets (the first matching route, else `default_playbook`).
//!
//! A route with `playbook: repo` is a candidate, not a decision: it applies only when the
//! repository has a `.codingworker.yml` on its default branch, which is known once the
//! repository is fetched. Routing therefore yields the candidates in order, up to and
//! including the first playbook file.

use crate::config::worker::{PlaybookRef, REPO_PLAYBOOK_FILE, Settings};
use crate::task::Task;

/// A playbook a task may get, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub playbook: PlaybookRef,
    pub why: String,
}

/// Why a task is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("repository {repo} is not in allow.repos ({allowed})")]
    Repo { repo: String, allowed: String },
    #[error("sender {sender} is not in allow.senders ({allowed})")]
    Sender { sender: String, allowed: String },
    #[error("clone_url {url} is not {expected}")]
    CloneUrl { url: String, expected: String },
}

/// Checks the allow-lists; `Ok` says which entries let the task in.
pub(crate) fn allowed(s: &Settings, task: &Task) -> Result<String, Refusal> {
    let repo = &task.repo.full_name;
    let Some((pattern, _)) = s.allow_repos.iter().find(|(_, g)| g.is_match(repo)) else {
        return Err(Refusal::Repo {
            repo: repo.clone(),
            allowed: list(s.allow_repos.iter().map(|(p, _)| p.as_str())),
        });
    };
    let sender = if s.allow_senders.is_empty() {
        "any sender is allowed".to_owned()
    } else if s
        .allow_senders
        .iter()
        .any(|a| a.eq_ignore_ascii_case(&task.sender))
    {
        format!("sender {} is in allow.senders", task.sender)
    } else {
        return Err(Refusal::Sender {
            sender: task.sender.clone(),
            allowed: list(s.allow_senders.iter().map(String::as_str)),
        });
    };
    check_clone_url(s, task)?;
    Ok(format!("{repo} matches allow.repos `{pattern}`; {sender}"))
}

/// The token goes where `clone_url` points, so it must be the task's own repository on
/// the configured GitHub host; local paths only with `allow.local_remotes`.
fn check_clone_url(s: &Settings, task: &Task) -> Result<(), Refusal> {
    let url = &task.repo.clone_url;
    let expected = format!(
        "https://{}/{}.git (the repository on the GitHub host{})",
        s.github_host,
        task.repo.full_name,
        if s.local_remotes {
            ", or a local path"
        } else {
            "; local paths need allow.local_remotes"
        }
    );
    let refuse = || {
        Err(Refusal::CloneUrl {
            url: url.clone(),
            expected: expected.clone(),
        })
    };
    if let Some(rest) = url.strip_prefix("https://") {
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let path = path.strip_suffix(".git").unwrap_or(path);
        if host.eq_ignore_ascii_case(&s.github_host)
            && path.eq_ignore_ascii_case(&task.repo.full_name)
        {
            return Ok(());
        }
        return refuse();
    }
    let local = url.starts_with("file://") || url.starts_with('/') || url.starts_with("./");
    if local && s.local_remotes {
        return Ok(());
    }
    refuse()
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.map(|i| format!("`{i}`")).collect();
    if items.is_empty() {
        "empty".into()
    } else {
        items.join(", ")
    }
}

/// One route looked at for a task.
#[derive(Debug, Clone)]
pub(crate) struct Considered {
    pub number: usize,
    pub place: String,
    pub conditions: String,
    /// `None`: it matched; else why not.
    pub mismatch: Option<String>,
}

/// The candidates of a task in order (empty: unroutable), and every route looked at.
#[derive(Debug, Clone)]
pub(crate) struct Routing {
    pub candidates: Vec<Candidate>,
    pub considered: Vec<Considered>,
}

/// Matches a task against the routes.
pub(crate) fn route(s: &Settings, task: &Task) -> Routing {
    let mut candidates = Vec::new();
    let mut considered = Vec::new();
    for r in &s.routes {
        let mut conditions = Vec::new();
        let mut mismatch = None;
        if let Some((pattern, g)) = &r.repo {
            conditions.push(format!("repo `{pattern}`"));
            if !g.is_match(&task.repo.full_name) {
                mismatch = Some(format!("repo is {}", task.repo.full_name));
            }
        }
        if let Some(label) = &r.label {
            conditions.push(format!("label `{label}`"));
            if mismatch.is_none()
                && !task
                    .issue
                    .labels
                    .iter()
                    .any(|l| l.eq_ignore_ascii_case(label))
            {
                mismatch = Some("the issue has no such label".into());
            }
        }
        let conditions = if conditions.is_empty() {
            "any task".to_owned()
        } else {
            conditions.join(" and ")
        };
        let matched = mismatch.is_none();
        considered.push(Considered {
            number: r.number,
            place: r.place.clone(),
            conditions: conditions.clone(),
            mismatch,
        });
        if matched {
            candidates.push(Candidate {
                playbook: r.playbook.clone(),
                why: format!("route {}", r.number),
            });
            if matches!(r.playbook, PlaybookRef::File(_)) {
                return Routing {
                    candidates,
                    considered,
                };
            }
        }
    }
    if let Some(p) = &s.default_playbook {
        candidates.push(Candidate {
            playbook: PlaybookRef::File(p.clone()),
            why: "default_playbook (no route gave a playbook file)".into(),
        });
    }
    Routing {
        candidates,
        considered,
    }
}

/// What `codingworker route` prints.
pub(crate) fn explain(s: &Settings, task: &Task) -> (String, bool) {
    let mut out = format!(
        "task {}: {}#{} from {} (labels: {})\n",
        task.id,
        task.repo.full_name,
        task.issue.number,
        task.sender,
        if task.issue.labels.is_empty() {
            "none".to_owned()
        } else {
            task.issue.labels.join(", ")
        }
    );
    match allowed(s, task) {
        Ok(why) => out.push_str(&format!("allowed: {why}\n")),
        Err(refusal) => {
            out.push_str(&format!(
                "refused: {refusal}\nThe worker would release the message unrun; the queue's redrive policy moves it to the dead-letter queue.\n"
            ));
            return (out, false);
        }
    }
    let routing = route(s, task);
    for c in &routing.considered {
        match &c.mismatch {
            None => out.push_str(&format!(
                "route {} ({}): {} — matches\n",
                c.number, c.place, c.conditions
            )),
            Some(why) => out.push_str(&format!(
                "route {} ({}): {} — no match: {why}\n",
                c.number, c.place, c.conditions
            )),
        }
    }
    if routing.candidates.is_empty() {
        out.push_str(
            "unroutable: no route matches and there is no default_playbook. The worker would release the message unrun; the queue's redrive policy moves it to the dead-letter queue.\n",
        );
        return (out, false);
    }
    let mut first = true;
    for c in &routing.candidates {
        let lead = if first { "playbook:" } else { "otherwise:" };
        first = false;
        match &c.playbook {
            PlaybookRef::Repo => out.push_str(&format!(
                "{lead} {}'s own {REPO_PLAYBOOK_FILE} on {}, if it has one — {}\n",
                task.repo.full_name, task.repo.default_branch, c.why
            )),
            PlaybookRef::File(p) => out.push_str(&format!("{lead} {} — {}\n", p.display(), c.why)),
        }
    }
    if routing
        .candidates
        .iter()
        .all(|c| c.playbook == PlaybookRef::Repo)
    {
        out.push_str("otherwise: unroutable (no default_playbook); the message would go to the dead-letter queue\n");
    }
    (out, true)
}
