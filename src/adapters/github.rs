//! GitHub: pull requests and issue comments, behind a trait so that a run can print what it
//! would send instead (local runs without credentials) and tests can point it at a local
//! server. The implementation uses octocrab's typed API and models against a configurable
//! API URL, with our own retry policy around every call: 5xx, 429 and rate-limit 403s are
//! retried with exponential backoff, honouring `Retry-After` and `x-ratelimit-reset`, which
//! octocrab hands over with the error (its own policies retry without backoff or a limit).

use std::time::Duration;

use async_trait::async_trait;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde_json::{Value, json};

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
    /// Who the token belongs to, and its scopes when GitHub says (classic tokens do, in
    /// `X-OAuth-Scopes`; fine-grained ones do not).
    async fn whoami(&self) -> Result<(String, Option<String>), GitHubError>;
    /// The URL of the first comment on the issue whose body contains `marker`, if any.
    async fn find_comment(
        &self,
        repo: &str,
        issue: u64,
        marker: &str,
    ) -> Result<Option<String>, GitHubError>;
}

/// When and how often to retry a call GitHub could not serve.
#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    /// Retries after the first try.
    pub retries: u32,
    /// The first backoff; it doubles with every retry (with jitter).
    pub base: Duration,
    /// The longest wait; a `Retry-After` beyond it fails the call at once (the worker
    /// tries the task again later).
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 4,
            base: Duration::from_secs(1),
            max_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The default, with the first backoff from `CODINGWORKER_GITHUB_BACKOFF` (e.g. `2s`).
    pub(crate) fn from_env(env: &std::collections::BTreeMap<String, String>) -> Self {
        let mut p = Self::default();
        if let Some(base) = env
            .get("CODINGWORKER_GITHUB_BACKOFF")
            .and_then(|b| humantime::parse_duration(b).ok())
        {
            p.base = base;
        }
        p
    }

    /// How long to wait before retry `n` (0-based) after `status` with `headers`, or `None`
    /// when the answer is not worth retrying.
    fn wait(&self, n: u32, status: Option<StatusCode>, headers: &HeaderMap) -> Option<Duration> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        let told = match header("retry-after") {
            Some(secs) => Some(Duration::from_secs(secs.max(0) as u64)),
            None if header("x-ratelimit-remaining") == Some(0) => {
                header("x-ratelimit-reset").map(|reset| {
                    Duration::from_secs((reset - jiff::Timestamp::now().as_second()).max(1) as u64)
                })
            }
            None => None,
        };
        let retryable = match status {
            None => true,
            Some(s) if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => true,
            // A 403 is a rate limit only when GitHub says so in its headers.
            Some(StatusCode::FORBIDDEN) => told.is_some(),
            Some(_) => false,
        };
        if !retryable || n >= self.retries {
            return None;
        }
        match told {
            Some(d) if d > self.max_wait => None,
            Some(d) => Some(d),
            None => {
                let backoff = self.base.saturating_mul(1 << n.min(16)).min(self.max_wait);
                // Up to a quarter more, so that several workers do not retry in step.
                let jitter =
                    std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), n) % 1000;
                Some(backoff + backoff.mul_f64(jitter as f64 / 4000.0))
            }
        }
    }
}

/// Posts `body` on the issue unless a comment carrying `marker` is there already (posted by
/// an earlier delivery of the same task). Returns the comment's URL and whether it was
/// posted now.
pub(crate) async fn comment_once(
    github: &dyn GitHub,
    repo: &str,
    issue: u64,
    body: &str,
    marker: &str,
) -> Result<(String, bool), GitHubError> {
    if let Some(url) = github.find_comment(repo, issue, marker).await? {
        return Ok((url, false));
    }
    Ok((github.comment(repo, issue, body).await?, true))
}

/// The real thing, through octocrab's HTTP client.
pub(crate) struct OctocrabGitHub {
    client: Octocrab,
    policy: RetryPolicy,
    /// The API's origin: pages are followed only there (the token goes with them).
    api: http::Uri,
}

impl OctocrabGitHub {
    /// A client for `api_url` (e.g. `https://api.github.com`) authenticated with `token`.
    pub(crate) fn new(token: &str, api_url: &str) -> Result<Self, GitHubError> {
        let client = Octocrab::builder()
            .personal_token(token.to_owned())
            .base_uri(api_url)
            .map_err(|e| {
                GitHubError::Transport(format!("invalid GitHub API URL `{api_url}`: {e}"))
            })?
            .add_retry_config(octocrab::service::middleware::retry::RetryConfig::None)
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(60)))
            .build()
            .map_err(|e| GitHubError::Transport(e.to_string()))?;
        let api = api_url.parse().map_err(|e| {
            GitHubError::Transport(format!("invalid GitHub API URL `{api_url}`: {e}"))
        })?;
        Ok(Self {
            client,
            policy: RetryPolicy::default(),
            api,
        })
    }

    /// The same client with another retry policy.
    pub(crate) fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// One typed call, retried by the policy.
    async fn retry<T, F, Fut>(&self, what: &str, call: F) -> Result<T, GitHubError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = octocrab::Result<T>>,
    {
        self.retry_checking(what, call, || async { None }).await
    }

    /// [`Self::retry`], asking `done` before every retry whether the call took effect after
    /// all (a POST GitHub accepted before the connection failed); `Some` ends the call.
    async fn retry_checking<T, F, Fut, D, DFut>(
        &self,
        what: &str,
        call: F,
        done: D,
    ) -> Result<T, GitHubError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = octocrab::Result<T>>,
        D: Fn() -> DFut,
        DFut: std::future::Future<Output = Option<T>>,
    {
        let mut n = 0;
        loop {
            let failure = match call().await {
                Ok(v) => return Ok(v),
                Err(e) => Failure::of(&e),
            };
            let wait = match &failure.retry {
                Some((status, headers)) => self.policy.wait(n, *status, headers),
                None => None,
            };
            let Some(wait) = wait else {
                return Err(failure.error);
            };
            tracing::warn!(call = what, error = %failure.error, retry_in = %humantime::format_duration(Duration::from_millis(wait.as_millis() as u64)), "GitHub call failed; retrying");
            tokio::time::sleep(wait).await;
            if let Some(v) = done().await {
                return Ok(v);
            }
            n += 1;
        }
    }

    /// `GET /user` as it is, for its headers (the typed models do not carry them).
    async fn get_raw(&self, path: &str) -> Result<(Value, HeaderMap), GitHubError> {
        let transport = |e: octocrab::Error| GitHubError::Transport(describe_transport(&e));
        let mut n = 0;
        loop {
            let response = self.client._get(path).await.map_err(transport);
            let (status, headers, error) = match response {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let bytes = body.collect().await.map_err(transport)?.to_bytes();
                    if parts.status.is_success() {
                        let value = serde_json::from_slice(&bytes).map_err(|e| {
                            GitHubError::Transport(format!(
                                "GitHub answered with invalid JSON: {e}"
                            ))
                        })?;
                        return Ok((value, parts.headers));
                    }
                    let error = status_error(parts.status, &bytes);
                    (Some(parts.status), parts.headers, error)
                }
                Err(e) => (None, HeaderMap::new(), e),
            };
            let Some(wait) = self.policy.wait(n, status, &headers) else {
                return Err(error);
            };
            tokio::time::sleep(wait).await;
            n += 1;
        }
    }
}

/// A failed call: our error, and what the retry policy needs (`None`: not worth retrying).
struct Failure {
    error: GitHubError,
    retry: Option<(Option<StatusCode>, HeaderMap)>,
}

impl Failure {
    fn of(e: &octocrab::Error) -> Self {
        match e {
            // GitHub answered with an error status: its status and headers decide.
            octocrab::Error::GitHub { source, .. } => {
                // A proxy's HTML error page is not a message to pass on (to a run's
                // report, to the issue): its status says it.
                let mut message = source.message.trim().to_owned();
                if message.is_empty() || message.starts_with('<') || message.len() > 300 {
                    message = source
                        .status_code
                        .canonical_reason()
                        .unwrap_or("error")
                        .to_owned();
                }
                let details: Vec<&str> = source
                    .errors
                    .iter()
                    .flatten()
                    .filter_map(|e| e["message"].as_str())
                    .collect();
                if !details.is_empty() {
                    message = format!("{message} ({})", details.join("; "));
                }
                Self {
                    error: GitHubError::Status {
                        status: source.status_code.as_u16(),
                        message,
                    },
                    retry: Some((
                        Some(source.status_code),
                        source.headers.clone().unwrap_or_default(),
                    )),
                }
            }
            // The connection failed or timed out: worth another try.
            octocrab::Error::Hyper { .. } | octocrab::Error::Service { .. } => Self {
                error: GitHubError::Transport(describe_transport(e)),
                retry: Some((None, HeaderMap::new())),
            },
            // An answer we cannot read (not the shape GitHub documents): trying again
            // would get the same.
            other => Self {
                error: GitHubError::Transport(format!(
                    "GitHub answered with something unexpected: {}",
                    describe_transport(other)
                )),
                retry: None,
            },
        }
    }
}

/// octocrab's transport errors, with their cause (which its `Display` leaves out).
fn describe_transport(e: &octocrab::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

fn status_error(status: StatusCode, body: &[u8]) -> GitHubError {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut message = parsed["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    if let Some(errors) = parsed["errors"].as_array() {
        let details: Vec<&str> = errors
            .iter()
            .filter_map(|e| e["message"].as_str())
            .collect();
        if !details.is_empty() {
            message = format!("{message} ({})", details.join("; "));
        }
    }
    GitHubError::Status {
        status: status.as_u16(),
        message,
    }
}

/// Our pull request, from octocrab's.
fn pr_of(pr: &octocrab::models::pulls::PullRequest) -> PullRequest {
    PullRequest {
        number: pr.number,
        url: pr
            .html_url
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    }
}

/// `owner` and `name` of `owner/name`.
fn split(repo: &str) -> (&str, &str) {
    repo.split_once('/').unwrap_or((repo, ""))
}

/// The hidden marker (`<!-- codingworker:… -->`) a comment body carries, if any.
fn marker_of(body: &str) -> Option<String> {
    let start = body.find("<!-- codingworker:")?;
    let len = body[start..].find("-->")? + 3;
    Some(body[start..start + len].to_owned())
}

/// The most pages of comments read when looking for one.
const MAX_PAGES: usize = 50;

#[async_trait]
impl GitHub for OctocrabGitHub {
    async fn find_open_pr(
        &self,
        repo: &str,
        branch: &str,
    ) -> Result<Option<PullRequest>, GitHubError> {
        let (owner, name) = split(repo);
        let page = self
            .retry("list pull requests", || async {
                self.client
                    .pulls(owner, name)
                    .list()
                    .state(octocrab::params::State::Open)
                    .head(format!("{owner}:{branch}"))
                    .per_page(100u8)
                    .send()
                    .await
            })
            .await?;
        Ok(page.items.first().map(pr_of))
    }

    async fn create_pr(&self, repo: &str, pr: &NewPullRequest) -> Result<PullRequest, GitHubError> {
        let (owner, name) = split(repo);
        let created = self
            .retry("open a pull request", || async {
                self.client
                    .pulls(owner, name)
                    .create(&pr.title, &pr.head, &pr.base)
                    .body(&pr.body)
                    .draft(pr.draft)
                    .send()
                    .await
            })
            .await?;
        Ok(pr_of(&created))
    }

    async fn update_pr(
        &self,
        repo: &str,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, GitHubError> {
        let (owner, name) = split(repo);
        let updated = self
            .retry("update a pull request", || async {
                self.client
                    .pulls(owner, name)
                    .update(number)
                    .title(title)
                    .body(body)
                    .send()
                    .await
            })
            .await?;
        Ok(pr_of(&updated))
    }

    async fn add_labels(
        &self,
        repo: &str,
        number: u64,
        labels: &[String],
    ) -> Result<(), GitHubError> {
        let (owner, name) = split(repo);
        self.retry("add labels", || async {
            self.client
                .issues(owner, name)
                .add_labels(number, labels)
                .await
        })
        .await
        .map(|_| ())
    }

    async fn request_reviewers(
        &self,
        repo: &str,
        number: u64,
        reviewers: &[String],
    ) -> Result<(), GitHubError> {
        // octocrab's `request_reviews` reads GitHub's answer (the pull request) as a review;
        // the answer is not needed, so it is read as nothing at all.
        let (owner, name) = split(repo);
        let route = format!("/repos/{owner}/{name}/pulls/{number}/requested_reviewers");
        let body = json!({ "reviewers": reviewers });
        self.retry("request reviewers", || {
            self.client
                .post::<_, serde::de::IgnoredAny>(route.clone(), Some(&body))
        })
        .await
        .map(|_| ())
    }

    async fn comment(&self, repo: &str, issue: u64, body: &str) -> Result<String, GitHubError> {
        let (owner, name) = split(repo);
        // A comment with a marker is looked for before it is posted again: GitHub may
        // have taken the first POST before the answer was lost.
        let marker = marker_of(body);
        self.retry_checking(
            "comment",
            || async {
                let c = self
                    .client
                    .issues(owner, name)
                    .create_comment(issue, body)
                    .await?;
                Ok(c.html_url.to_string())
            },
            || async {
                let m = marker.as_deref()?;
                self.find_comment(repo, issue, m).await.ok()?
            },
        )
        .await
    }

    async fn whoami(&self) -> Result<(String, Option<String>), GitHubError> {
        let (v, headers) = self.get_raw("/user").await?;
        let login = v["login"].as_str().unwrap_or_default().to_owned();
        let scopes = headers
            .get("x-oauth-scopes")
            .and_then(|s| s.to_str().ok())
            .map(str::to_owned);
        Ok((login, scopes))
    }

    async fn find_comment(
        &self,
        repo: &str,
        issue: u64,
        marker: &str,
    ) -> Result<Option<String>, GitHubError> {
        use octocrab::models::issues::Comment;
        let (owner, name) = split(repo);
        let mut page = self
            .retry("list comments", || async {
                self.client
                    .issues(owner, name)
                    .list_comments(issue)
                    .per_page(100u8)
                    .send()
                    .await
            })
            .await?;
        let mut pages = 1;
        loop {
            let found = page
                .items
                .iter()
                .find(|c| c.body.as_deref().is_some_and(|b| b.contains(marker)));
            if let Some(c) = found {
                return Ok(Some(c.html_url.to_string()));
            }
            // The next page, only on the API's own origin: the token goes with it.
            let next = page.next.clone().filter(|u| {
                let ours = u.scheme() == self.api.scheme() && u.authority() == self.api.authority();
                if !ours {
                    tracing::warn!(link = %u, "GitHub's next page of comments is on another host; not followed (the token would go there)");
                }
                ours
            });
            if next.is_none() || pages >= MAX_PAGES {
                return Ok(None);
            }
            match self
                .retry("list comments", || self.client.get_page::<Comment>(&next))
                .await?
            {
                Some(p) => page = p,
                None => return Ok(None),
            }
            pages += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn retries_server_errors_and_rate_limits_only() {
        let p = RetryPolicy::default();
        let none = HeaderMap::new();
        assert!(p.wait(0, Some(StatusCode::BAD_GATEWAY), &none).is_some());
        assert!(p.wait(0, None, &none).is_some(), "transport errors");
        assert!(
            p.wait(0, Some(StatusCode::TOO_MANY_REQUESTS), &none)
                .is_some()
        );
        assert!(
            p.wait(0, Some(StatusCode::UNPROCESSABLE_ENTITY), &none)
                .is_none()
        );
        assert!(p.wait(0, Some(StatusCode::UNAUTHORIZED), &none).is_none());
        assert!(
            p.wait(0, Some(StatusCode::FORBIDDEN), &none).is_none(),
            "a plain 403"
        );
        let limited = headers(&[("retry-after", "7")]);
        assert_eq!(
            p.wait(0, Some(StatusCode::FORBIDDEN), &limited),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            p.wait(4, Some(StatusCode::BAD_GATEWAY), &none),
            None,
            "4 retries at most"
        );
    }

    #[test]
    fn honours_retry_after_and_backs_off_otherwise() {
        let p = RetryPolicy::default();
        let after = headers(&[("retry-after", "3")]);
        assert_eq!(
            p.wait(0, Some(StatusCode::TOO_MANY_REQUESTS), &after),
            Some(Duration::from_secs(3))
        );
        let too_long = headers(&[("retry-after", "3600")]);
        assert_eq!(
            p.wait(0, Some(StatusCode::TOO_MANY_REQUESTS), &too_long),
            None
        );
        let none = HeaderMap::new();
        let first = p.wait(0, Some(StatusCode::BAD_GATEWAY), &none).unwrap();
        let third = p.wait(2, Some(StatusCode::BAD_GATEWAY), &none).unwrap();
        assert!(first >= Duration::from_secs(1) && first <= Duration::from_millis(1250));
        assert!(third >= Duration::from_secs(4) && third <= Duration::from_secs(5));
        let reset = (jiff::Timestamp::now().as_second() + 5).to_string();
        let exhausted = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset),
        ]);
        let w = p.wait(0, Some(StatusCode::FORBIDDEN), &exhausted).unwrap();
        assert!(
            w >= Duration::from_secs(4) && w <= Duration::from_secs(5),
            "{w:?}"
        );
    }

    #[test]
    fn finds_the_marker_of_a_comment() {
        assert_eq!(
            marker_of("text\n\n<!-- codingworker:abc:tell -->").as_deref(),
            Some("<!-- codingworker:abc:tell -->")
        );
        assert_eq!(marker_of("no marker"), None);
    }
}
