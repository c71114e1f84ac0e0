//! GitHub: pull requests and issue comments, behind a trait so that a run can print what it
//! would send instead (local runs without credentials) and tests can point it at a local
//! server. The implementation uses octocrab against a configurable API URL.

use std::time::Duration;

use async_trait::async_trait;
use octocrab::Octocrab;

/// A pull request as we need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    pub url: String,
}

/// What `pr_open` asks for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NewPullRequest {
    pub title: String,
    pub body: String,
    /// The run branch.
    pub head: String,
    pub base: String,
    pub draft: bool,
}

/// A GitHub API call that failed.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// GitHub answered with an error status.
    #[error("GitHub answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("failed to reach GitHub: {0}")]
    Transport(String),
}

impl GitHubError {
    pub fn status(&self) -> Option<u16> {
        match self {
            GitHubError::Status { status, .. } => Some(*status),
            GitHubError::Transport(_) => None,
        }
    }
}

/// What the engine needs from GitHub. `repo` is `owner/name`.
#[async_trait]
pub trait GitHub: Send + Sync {
    /// The open pull request whose head is `branch` (of the same repository), if any.
    async fn find_open_pr(
        &self,
        repo: &str,
        branch: &str,
    ) -> Result<Option<PullRequest>, GitHubError>;
    async fn create_pr(&self, repo: &str, pr: &NewPullRequest) -> Result<PullRequest, GitHubError>;
    async fn update_pr(
        &self,
        repo: &str,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, GitHubError>;
    async fn add_labels(
        &self,
        repo: &str,
        number: u64,
        labels: &[String],
    ) -> Result<(), GitHubError>;
    async fn request_reviewers(
        &self,
        repo: &str,
        number: u64,
        reviewers: &[String],
    ) -> Result<(), GitHubError>;
    /// Comments on an issue (or pull request); returns the comment's URL.
    async fn comment(&self, repo: &str, issue: u64, body: &str) -> Result<String, GitHubError>;
}

/// The real thing, through octocrab.
pub struct OctocrabGitHub {
    client: Octocrab,
}

impl OctocrabGitHub {
    /// A client for `api_url` (e.g. `https://api.github.com`) authenticated with `token`.
    pub fn new(token: &str, api_url: &str) -> Result<Self, GitHubError> {
        let client = Octocrab::builder()
            .personal_token(token.to_owned())
            .base_uri(api_url)
            .map_err(|e| {
                GitHubError::Transport(format!("invalid GitHub API URL `{api_url}`: {e}"))
            })?
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(60)))
            .build()
            .map_err(|e| GitHubError::Transport(e.to_string()))?;
        Ok(Self { client })
    }
}

fn split(repo: &str) -> (&str, &str) {
    repo.split_once('/').unwrap_or((repo, ""))
}

fn convert(e: octocrab::Error) -> GitHubError {
    match e {
        octocrab::Error::GitHub { source, .. } => {
            let mut message = source.message.clone();
            if let Some(errors) = &source.errors {
                let details: Vec<String> = errors
                    .iter()
                    .filter_map(|e| e.get("message").and_then(|m| m.as_str()).map(str::to_owned))
                    .collect();
                if !details.is_empty() {
                    message = format!("{message} ({})", details.join("; "));
                }
            }
            GitHubError::Status {
                status: source.status_code.as_u16(),
                message,
            }
        }
        other => GitHubError::Transport(other.to_string()),
    }
}

fn pr_of(pr: octocrab::models::pulls::PullRequest) -> PullRequest {
    PullRequest {
        number: pr.number,
        url: pr.html_url.map(|u| u.to_string()).unwrap_or_default(),
    }
}

#[async_trait]
impl GitHub for OctocrabGitHub {
    async fn find_open_pr(
        &self,
        repo: &str,
        branch: &str,
    ) -> Result<Option<PullRequest>, GitHubError> {
        let (owner, name) = split(repo);
        let page = self
            .client
            .pulls(owner, name)
            .list()
            .state(octocrab::params::State::Open)
            .head(format!("{owner}:{branch}"))
            .send()
            .await
            .map_err(convert)?;
        Ok(page.items.into_iter().next().map(pr_of))
    }

    async fn create_pr(&self, repo: &str, pr: &NewPullRequest) -> Result<PullRequest, GitHubError> {
        let (owner, name) = split(repo);
        self.client
            .pulls(owner, name)
            .create(&pr.title, &pr.head, &pr.base)
            .body(pr.body.clone())
            .draft(pr.draft)
            .send()
            .await
            .map(pr_of)
            .map_err(convert)
    }

    async fn update_pr(
        &self,
        repo: &str,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, GitHubError> {
        let (owner, name) = split(repo);
        self.client
            .pulls(owner, name)
            .update(number)
            .title(title.to_owned())
            .body(body.to_owned())
            .send()
            .await
            .map(pr_of)
            .map_err(convert)
    }

    async fn add_labels(
        &self,
        repo: &str,
        number: u64,
        labels: &[String],
    ) -> Result<(), GitHubError> {
        let (owner, name) = split(repo);
        self.client
            .issues(owner, name)
            .add_labels(number, labels)
            .await
            .map(|_| ())
            .map_err(convert)
    }

    async fn request_reviewers(
        &self,
        repo: &str,
        number: u64,
        reviewers: &[String],
    ) -> Result<(), GitHubError> {
        let (owner, name) = split(repo);
        self.client
            .pulls(owner, name)
            .request_reviews(number, reviewers.to_vec(), Vec::<String>::new())
            .await
            .map(|_| ())
            .map_err(convert)
    }

    async fn comment(&self, repo: &str, issue: u64, body: &str) -> Result<String, GitHubError> {
        let (owner, name) = split(repo);
        self.client
            .issues(owner, name)
            .create_comment(issue, body)
            .await
            .map(|c| c.html_url.to_string())
            .map_err(convert)
    }
}
