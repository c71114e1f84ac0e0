//! GitHub: pull requests and issue comments, behind a trait so that a run can print what it
//! would send instead (local runs without credentials) and tests can point it at a local
//! server. The implementation uses octocrab's HTTP client against a configurable API URL,
//! with our own retry policy: 5xx, 429 and rate-limit 403s are retried with exponential
//! backoff, honouring `Retry-After` and `x-ratelimit-reset` (octocrab's own policies retry
//! server errors without waiting).

use std::time::Duration;

use async_trait::async_trait;
use http::{HeaderMap, Method, StatusCode};
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
        Ok(Self {
            client,
            policy: RetryPolicy::default(),
        })
    }

    /// The same client with another retry policy.
    pub(crate) fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// One API call, retried by the policy; the parsed JSON body and the response headers.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(Value, HeaderMap), GitHubError> {
        self.call_checking(method, path, body, || async { None })
            .await
    }

    /// [`Self::call`], asking `done` before every retry whether the call took effect after
    /// all (a POST GitHub accepted before the connection failed); `Some` ends the call.
    async fn call_checking<F, Fut>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        done: F,
    ) -> Result<(Value, HeaderMap), GitHubError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Option<Value>>,
    {
        let mut n = 0;
        loop {
            let (status, headers, result) = match self.send(method.clone(), path, body).await {
                Ok((status, headers, bytes)) if status.is_success() => {
                    let value = if bytes.is_empty() {
                        Value::Null
                    } else {
                        serde_json::from_slice(&bytes).map_err(|e| {
                            GitHubError::Transport(format!(
                                "GitHub answered with invalid JSON: {e}"
                            ))
                        })?
                    };
                    return Ok((value, headers));
                }
                Ok((status, headers, bytes)) => {
                    let err = status_error(status, &bytes);
                    (Some(status), headers, err)
                }
                Err(e) => (None, HeaderMap::new(), e),
            };
            let Some(wait) = self.policy.wait(n, status, &headers) else {
                return Err(result);
            };
            tracing::warn!(%method, path, error = %result, retry_in = %humantime::format_duration(Duration::from_millis(wait.as_millis() as u64)), "GitHub call failed; retrying");
            tokio::time::sleep(wait).await;
            if let Some(v) = done().await {
                return Ok((v, HeaderMap::new()));
            }
            n += 1;
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, HeaderMap, bytes::Bytes), GitHubError> {
        let transport = |e: octocrab::Error| GitHubError::Transport(describe_transport(&e));
        let response = match method {
            Method::GET => self.client._get(path).await,
            Method::POST => self.client._post(path, body).await,
            Method::PATCH => self.client._patch(path, body).await,
            other => {
                return Err(GitHubError::Transport(format!(
                    "unsupported method {other}"
                )));
            }
        }
        .map_err(transport)?;
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.map_err(transport)?.to_bytes();
        Ok((parts.status, parts.headers, bytes))
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

fn pr_of(v: &Value) -> PullRequest {
    PullRequest {
        number: v["number"].as_u64().unwrap_or_default(),
        url: v["html_url"].as_str().unwrap_or_default().to_owned(),
    }
}

/// `rel="next"` of a `Link` header: the next page's path and query.
fn next_page(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        if !rel.contains("rel=\"next\"") {
            return None;
        }
        let url = url.trim().trim_start_matches('<').trim_end_matches('>');
        let uri: http::Uri = url.parse().ok()?;
        uri.path_and_query().map(|p| p.as_str().to_owned())
    })
}

/// Repository path segments, percent-encoded where needed.
fn repo_path(repo: &str) -> String {
    let (owner, name) = repo.split_once('/').unwrap_or((repo, ""));
    format!("/repos/{}/{}", encode(owner), encode(name))
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
        let owner = repo.split_once('/').map_or(repo, |(o, _)| o);
        let path = format!(
            "{}/pulls?state=open&head={}&per_page=100",
            repo_path(repo),
            encode(&format!("{owner}:{branch}"))
        );
        let (list, _) = self.call(Method::GET, &path, None).await?;
        Ok(list.as_array().and_then(|l| l.first()).map(pr_of))
    }

    async fn create_pr(&self, repo: &str, pr: &NewPullRequest) -> Result<PullRequest, GitHubError> {
        let body = json!({
            "title": pr.title, "body": pr.body, "head": pr.head, "base": pr.base, "draft": pr.draft
        });
        let path = format!("{}/pulls", repo_path(repo));
        let (v, _) = self.call(Method::POST, &path, Some(&body)).await?;
        Ok(pr_of(&v))
    }

    async fn update_pr(
        &self,
        repo: &str,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, GitHubError> {
        let path = format!("{}/pulls/{number}", repo_path(repo));
        let (v, _) = self
            .call(
                Method::PATCH,
                &path,
                Some(&json!({"title": title, "body": body})),
            )
            .await?;
        Ok(pr_of(&v))
    }

    async fn add_labels(
        &self,
        repo: &str,
        number: u64,
        labels: &[String],
    ) -> Result<(), GitHubError> {
        let path = format!("{}/issues/{number}/labels", repo_path(repo));
        self.call(Method::POST, &path, Some(&json!({"labels": labels})))
            .await
            .map(|_| ())
    }

    async fn request_reviewers(
        &self,
        repo: &str,
        number: u64,
        reviewers: &[String],
    ) -> Result<(), GitHubError> {
        let path = format!("{}/pulls/{number}/requested_reviewers", repo_path(repo));
        self.call(Method::POST, &path, Some(&json!({"reviewers": reviewers})))
            .await
            .map(|_| ())
    }

    async fn comment(&self, repo: &str, issue: u64, body: &str) -> Result<String, GitHubError> {
        let path = format!("{}/issues/{issue}/comments", repo_path(repo));
        // A comment with a marker is looked for before it is posted again: GitHub may
        // have taken the first POST before the answer was lost.
        let marker = marker_of(body);
        let (v, _) = self
            .call_checking(
                Method::POST,
                &path,
                Some(&json!({"body": body})),
                || async {
                    let m = marker.as_deref()?;
                    let url = self.find_comment(repo, issue, m).await.ok()??;
                    Some(json!({"html_url": url}))
                },
            )
            .await?;
        Ok(v["html_url"].as_str().unwrap_or_default().to_owned())
    }

    async fn whoami(&self) -> Result<(String, Option<String>), GitHubError> {
        let (v, headers) = self.call(Method::GET, "/user", None).await?;
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
        let mut path = Some(format!(
            "{}/issues/{issue}/comments?per_page=100",
            repo_path(repo)
        ));
        let mut pages = 0;
        while let Some(p) = path.take() {
            let (list, headers) = self.call(Method::GET, &p, None).await?;
            let found = list
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["body"].as_str().is_some_and(|b| b.contains(marker)));
            if let Some(c) = found {
                return Ok(Some(c["html_url"].as_str().unwrap_or_default().to_owned()));
            }
            pages += 1;
            if pages < MAX_PAGES {
                path = next_page(&headers);
            }
        }
        Ok(None)
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
    fn follows_link_headers() {
        let h = headers(&[(
            "link",
            "<https://api.github.com/repositories/1/issues/3/comments?per_page=100&page=2>; rel=\"next\", <https://api.github.com/repositories/1/issues/3/comments?per_page=100&page=5>; rel=\"last\"",
        )]);
        assert_eq!(
            next_page(&h).as_deref(),
            Some("/repositories/1/issues/3/comments?per_page=100&page=2")
        );
        assert_eq!(next_page(&HeaderMap::new()), None);
        assert_eq!(repo_path("o/r.x"), "/repos/o/r.x");
        assert_eq!(encode("o:auto-code/issue-1"), "o%3Aauto-code%2Fissue-1");
        assert_eq!(
            marker_of("text\n\n<!-- codingworker:abc:tell -->").as_deref(),
            Some("<!-- codingworker:abc:tell -->")
        );
        assert_eq!(marker_of("no marker"), None);
    }
}
