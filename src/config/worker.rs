//! `worker.yml`: where the queue is, what may be worked on, and which playbook a task gets.
//!
//! The file is checked like a playbook, in passes: YAML with positions, the JSON Schema
//! (`schemas/worker.schema.json`), then semantics (globs compile, every playbook a route
//! names exists and is valid, routes that can never match). Every error names
//! `file:line:column`. [`Settings`] is the checked file with the environment's overrides
//! applied and paths resolved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use globset::GlobMatcher;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnostic::{Diagnostic, render_human};
use crate::error::Error;
use crate::playbook::types::HumanDuration;
use crate::schema::check::SchemaChecker;

use crate::source::SourceFile;
use crate::source::yaml::Document;

/// The worker's configuration (`schemas/worker.schema.json`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "codingworker worker config")]
pub struct WorkerConfig {
    /// The SQS queue URL. `CODINGWORKER_QUEUE_URL` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_url: Option<String>,
    /// Tasks run at once.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 64))]
    pub concurrency: u32,
    /// Visibility timeout of a received message; a heartbeat extends it while a task runs.
    #[serde(default = "fifteen_minutes")]
    pub visibility_timeout: HumanDuration,
    /// Must match the queue's redrive policy; the last receive reports failure on the issue.
    #[serde(default = "three")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_receives: u32,
    /// How long one receive waits for a message (SQS long polling, at most 20s).
    #[serde(default = "twenty_seconds")]
    pub poll_wait: HumanDuration,
    /// How long a task that hit a passing problem (a fetch that failed, GitHub down) waits
    /// before it is tried again.
    #[serde(default = "one_minute")]
    pub retry_delay: HumanDuration,
    /// On SIGTERM/SIGINT, how long running tasks may go on before they are stopped and
    /// their messages handed back.
    #[serde(default = "ten_seconds")]
    pub shutdown_grace: HumanDuration,
    /// Workspaces, repository cache and run reports. `~` is the home directory;
    /// `CODINGWORKER_WORKDIR` overrides it.
    #[serde(default = "default_workdir")]
    pub workdir: String,
    /// Repository mirrors kept in the cache; the least recently used go first.
    #[serde(default = "ten")]
    #[schemars(range(min = 1, max = 10000))]
    pub max_cached_repos: u32,
    /// Who and what may send work; anything else is refused.
    pub allow: Allow,
    /// Routes to playbooks, first match wins.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// The playbook of a task no route matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_playbook: Option<String>,
    /// GitHub access.
    #[serde(default)]
    pub github: GithubConfig,
}

/// Allow-lists; globs like `owner/*`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    /// Repositories (`owner/name` globs) tasks may come from.
    #[serde(default)]
    pub repos: Vec<String>,
    /// Senders (logins) who may trigger tasks; empty allows anyone with the label.
    #[serde(default)]
    pub senders: Vec<String>,
    /// Accept tasks whose `clone_url` is a local path or `file://` URL (for trying a setup
    /// and for tests). Otherwise `clone_url` must be `https://GITHUB_HOST/OWNER/NAME(.git)`
    /// of the task's own repository, the only place the token is sent.
    #[serde(default)]
    pub local_remotes: bool,
}

/// One route: the conditions that must all match and the playbook it gives.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// `owner/name` glob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// A label the issue must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A playbook file (relative to this file), or `repo` for the repository's own
    /// `.codingworker.yml`.
    pub playbook: String,
}

/// GitHub access.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    /// The environment variable holding the token.
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// The REST API's base URL.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// Print pull requests and comments to the log instead of sending them, and push
    /// nothing (for trying a setup without a token).
    #[serde(default)]
    pub dry_run: bool,
}

impl Default for GithubConfig {
    fn default() -> Self {
        Self {
            token_env: default_token_env(),
            api_url: default_api_url(),
            dry_run: false,
        }
    }
}

fn one() -> u32 {
    1
}
fn three() -> u32 {
    3
}
fn ten() -> u32 {
    10
}
fn secs(n: u64) -> HumanDuration {
    HumanDuration(Duration::from_secs(n))
}
fn fifteen_minutes() -> HumanDuration {
    secs(15 * 60)
}
fn twenty_seconds() -> HumanDuration {
    secs(20)
}
fn one_minute() -> HumanDuration {
    secs(60)
}
fn ten_seconds() -> HumanDuration {
    secs(10)
}
fn default_workdir() -> String {
    "~/.codingworker".into()
}
fn default_token_env() -> String {
    "GITHUB_TOKEN".into()
}
fn default_api_url() -> String {
    "https://api.github.com".into()
}

/// The playbook name of a route that uses the repository's own `.codingworker.yml`.
pub const REPO_PLAYBOOK: &str = "repo";
/// The file a repository's own playbook lives in.
pub const REPO_PLAYBOOK_FILE: &str = ".codingworker.yml";
/// SQS limits.
const MAX_POLL_WAIT: Duration = Duration::from_secs(20);
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);

/// A playbook a route or the default names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaybookRef {
    /// A file of the worker's (resolved against the config file's directory).
    File(PathBuf),
    /// The repository's own `.codingworker.yml`.
    Repo,
}

impl std::fmt::Display for PlaybookRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlaybookRef::File(p) => write!(f, "{}", p.display()),
            PlaybookRef::Repo => write!(f, "the repository's own {REPO_PLAYBOOK_FILE}"),
        }
    }
}

/// A route, compiled.
#[derive(Debug, Clone)]
pub struct CompiledRoute {
    /// 1-based, as people count.
    pub number: usize,
    pub repo: Option<(String, GlobMatcher)>,
    pub label: Option<String>,
    pub playbook: PlaybookRef,
    /// `file:line:column` of the route, for explanations.
    pub place: String,
}

/// The configuration, checked, with overrides applied and paths resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub path: PathBuf,
    pub queue_url: Option<String>,
    pub concurrency: usize,
    pub visibility_timeout: Duration,
    pub max_receives: u32,
    pub poll_wait: Duration,
    pub retry_delay: Duration,
    pub shutdown_grace: Duration,
    pub workdir: PathBuf,
    pub max_cached_repos: usize,
    pub allow_repos: Vec<(String, GlobMatcher)>,
    pub allow_senders: Vec<String>,
    pub local_remotes: bool,
    /// `host[:port]` of the GitHub web and git server, derived from `github.api_url`.
    pub github_host: String,
    pub routes: Vec<CompiledRoute>,
    pub default_playbook: Option<PathBuf>,
    pub github: GithubConfig,
}

/// A config file after all passes.
pub struct LoadedConfig {
    pub source: SourceFile,
    pub config: Option<WorkerConfig>,
    pub document: Option<Document>,
    pub diagnostics: Vec<Diagnostic>,
}

fn checker() -> &'static SchemaChecker {
    static CHECKER: std::sync::OnceLock<SchemaChecker> = std::sync::OnceLock::new();
    CHECKER.get_or_init(|| SchemaChecker::new(crate::schema::for_input::<WorkerConfig>()))
}

/// Loads `worker.yml` text. `base` is the directory relative playbook paths start from.
pub fn load_source(source: SourceFile, base: &Path) -> LoadedConfig {
    let read =
        crate::schema::pipeline::read::<WorkerConfig>(&source.text, checker(), |config, doc| {
            match config {
                Some(c) => semantics(c, doc, base),
                // One misspelt key must not hide the next problem: check what can be read.
                None => readable_part(doc)
                    .map(|c| semantics(&c, doc, base))
                    .unwrap_or_default(),
            }
        });
    LoadedConfig {
        source,
        config: read.value,
        document: read.doc,
        diagnostics: read.diagnostics,
    }
}

/// The config without its unknown top-level keys, if that much can be read.
fn readable_part(doc: &Document) -> Option<WorkerConfig> {
    let mut value = doc.value.clone();
    let known = crate::schema::for_input::<WorkerConfig>();
    let known = known.get("properties")?.as_object()?;
    value.as_object_mut()?.retain(|k, _| known.contains_key(k));
    serde_json::from_value(value).ok()
}

fn glob(pattern: &str) -> Result<GlobMatcher, globset::Error> {
    Ok(globset::GlobBuilder::new(pattern)
        .case_insensitive(true)
        .literal_separator(true)
        .build()?
        .compile_matcher())
}

fn semantics(c: &WorkerConfig, doc: &Document, base: &Path) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let duration_limit = |pointer: &str, d: Duration, max: Duration, what: &str| {
        (d > max).then(|| {
            Diagnostic::error(
                "limit",
                format!(
                    "`{}` is {}, more than {what} allows ({})",
                    pointer.trim_start_matches('/'),
                    humantime::format_duration(d),
                    humantime::format_duration(max)
                ),
            )
            .at(doc.value_span(pointer))
        })
    };
    out.extend(duration_limit(
        "/poll_wait",
        c.poll_wait.0,
        MAX_POLL_WAIT,
        "SQS long polling",
    ));
    out.extend(duration_limit(
        "/visibility_timeout",
        c.visibility_timeout.0,
        MAX_VISIBILITY,
        "SQS",
    ));
    // SQS waits whole seconds: under 1s would be short polling in a tight loop (and a bill).
    if c.poll_wait.0 < Duration::from_secs(1) {
        out.push(
            Diagnostic::error(
                "limit",
                "`poll_wait` must be at least 1s (20s keeps idle costs lowest)",
            )
            .at(doc.value_span("/poll_wait")),
        );
    }
    if c.visibility_timeout.0 < Duration::from_secs(1) {
        out.push(
            Diagnostic::error("limit", "`visibility_timeout` must be at least 1s")
                .at(doc.value_span("/visibility_timeout")),
        );
    }
    if c.allow.repos.is_empty() {
        out.push(
            Diagnostic::error(
                "allow",
                "`allow.repos` is empty: the worker would refuse every task",
            )
            .at(doc.key_span("/allow"))
            .help("list the repositories it may work on, e.g. `repos: [\"your-login/*\"]`"),
        );
    }
    for (i, pattern) in c.allow.repos.iter().enumerate() {
        if let Err(e) = glob(pattern) {
            out.push(
                Diagnostic::error("glob", format!("invalid glob `{pattern}`: {}", e.kind()))
                    .at(doc.value_span(&format!("/allow/repos/{i}"))),
            );
        }
    }
    let mut unconditional: Option<usize> = None;
    for (i, route) in c.routes.iter().enumerate() {
        let pointer = format!("/routes/{i}");
        if let Some(first) = unconditional
            && c.routes[first].playbook != REPO_PLAYBOOK
        {
            out.push(
                Diagnostic::warning(
                    "unreachable",
                    format!(
                        "route {} is never used: route {} before it matches every task",
                        i + 1,
                        first + 1
                    ),
                )
                .at(doc.key_span(&pointer)),
            );
        }
        if let Some(pattern) = &route.repo
            && let Err(e) = glob(pattern)
        {
            out.push(
                Diagnostic::error("glob", format!("invalid glob `{pattern}`: {}", e.kind()))
                    .at(doc.value_span(&format!("{pointer}/repo"))),
            );
        }
        if route.label.as_deref().is_some_and(|l| l.trim().is_empty()) {
            out.push(
                Diagnostic::error("label", "`label` must not be empty")
                    .at(doc.value_span(&format!("{pointer}/label"))),
            );
        }
        if route.repo.is_none() && route.label.is_none() && unconditional.is_none() {
            unconditional = Some(i);
        }
        out.extend(check_playbook(
            &route.playbook,
            true,
            base,
            doc,
            &format!("{pointer}/playbook"),
        ));
    }
    if let Some(p) = &c.default_playbook {
        out.extend(check_playbook(p, false, base, doc, "/default_playbook"));
    }
    if !c.github.api_url.starts_with("https://") && !c.github.api_url.starts_with("http://") {
        out.push(
            Diagnostic::error(
                "url",
                format!("`{}` is not an http(s) URL", c.github.api_url),
            )
            .at(doc.value_span("/github/api_url")),
        );
    }
    if c.github.token_env.is_empty() {
        out.push(
            Diagnostic::error("token_env", "`github.token_env` must name a variable")
                .at(doc.value_span("/github/token_env")),
        );
    }
    out
}

/// A playbook a route names: `repo`, or a file that exists and is valid.
fn check_playbook(
    value: &str,
    repo_allowed: bool,
    base: &Path,
    doc: &Document,
    pointer: &str,
) -> Option<Diagnostic> {
    if value == REPO_PLAYBOOK {
        return (!repo_allowed).then(|| {
            Diagnostic::error(
                "playbook",
                "`default_playbook` must be a file; `repo` is for routes",
            )
            .at(doc.value_span(pointer))
        });
    }
    let path = base.join(value);
    let span = doc.value_span(pointer);
    match crate::playbook::load_file(&path) {
        Err(e) => Some(
            Diagnostic::error("playbook", e.to_string())
                .at(span)
                .help_opt(repo_allowed.then(|| {
                    format!("relative paths start at the config file's directory; write `{REPO_PLAYBOOK}` for the repository's own {REPO_PLAYBOOK_FILE}")
                })),
        ),
        Ok(loaded) if loaded.has_errors() => {
            let errors: Vec<Diagnostic> = loaded
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .cloned()
                .collect();
            Some(
                Diagnostic::error(
                    "playbook",
                    format!(
                        "{} is not a valid playbook:\n\n{}",
                        path.display(),
                        render_human(&loaded.source, &errors).trim_end()
                    ),
                )
                .at(span),
            )
        }
        Ok(_) => None,
    }
}

/// Reads and checks `worker.yml`, then applies the environment's overrides
/// (`CODINGWORKER_QUEUE_URL`, `CODINGWORKER_WORKDIR`). Problems come back rendered, as
/// `validate` shows them; warnings are printed to stderr.
pub fn load(path: &Path, env: &BTreeMap<String, String>) -> Result<Settings, Error> {
    let source = SourceFile::read(path)?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let loaded = load_source(source, base);
    let (Some(config), Some(doc)) = (loaded.config, loaded.document) else {
        return Err(Error::InvalidConfig {
            path: loaded.source.name.clone(),
            rendered: render_human(&loaded.source, &loaded.diagnostics),
        });
    };
    if !loaded.diagnostics.is_empty() {
        // Only warnings are left.
        eprint!("{}", render_human(&loaded.source, &loaded.diagnostics));
    }
    Ok(settings(config, &doc, path, base, env, &loaded.source.name))
}

fn settings(
    c: WorkerConfig,
    doc: &Document,
    path: &Path,
    base: &Path,
    env: &BTreeMap<String, String>,
    name: &str,
) -> Settings {
    let place = |pointer: &str| {
        let span = doc.key_span(pointer);
        format!("{name}:{}:{}", span.line, span.column)
    };
    let routes = c
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| CompiledRoute {
            number: i + 1,
            repo: r
                .repo
                .as_ref()
                .map(|p| (p.clone(), glob(p).expect("checked"))),
            label: r.label.clone(),
            playbook: if r.playbook == REPO_PLAYBOOK {
                PlaybookRef::Repo
            } else {
                PlaybookRef::File(resolved(base.join(&r.playbook)))
            },
            place: place(&format!("/routes/{i}")),
        })
        .collect();
    let workdir = env
        .get("CODINGWORKER_WORKDIR")
        .filter(|w| !w.is_empty())
        .cloned()
        .unwrap_or(c.workdir);
    Settings {
        path: path.to_path_buf(),
        queue_url: env
            .get("CODINGWORKER_QUEUE_URL")
            .filter(|q| !q.is_empty())
            .cloned()
            .or(c.queue_url),
        concurrency: c.concurrency as usize,
        visibility_timeout: c.visibility_timeout.0,
        max_receives: c.max_receives,
        poll_wait: c.poll_wait.0,
        retry_delay: c.retry_delay.0,
        shutdown_grace: c.shutdown_grace.0,
        workdir: expand_home(&workdir, env),
        max_cached_repos: c.max_cached_repos as usize,
        allow_repos: c
            .allow
            .repos
            .iter()
            .map(|p| (p.clone(), glob(p).expect("checked")))
            .collect(),
        allow_senders: c.allow.senders.clone(),
        local_remotes: c.allow.local_remotes,
        github_host: github_host(&c.github.api_url),
        routes,
        default_playbook: c.default_playbook.as_ref().map(|p| resolved(base.join(p))),
        github: c.github,
    }
}

/// The git host of a GitHub API URL: `api.github.com` serves `github.com`; GitHub
/// Enterprise serves both from one host (`https://HOST/api/v3`).
pub fn github_host(api_url: &str) -> String {
    let rest = api_url.split_once("://").map_or(api_url, |(_, r)| r);
    let host = rest.split('/').next().unwrap_or(rest).to_ascii_lowercase();
    match host.strip_prefix("api.") {
        Some(h) if h == "github.com" => h.to_owned(),
        _ => host,
    }
}

/// A playbook path as the file system resolves it (`examples/worker/../../p.yml` reads
/// badly in messages); as given when it does not exist (the checks said so already).
fn resolved(path: PathBuf) -> PathBuf {
    std::fs::canonicalize(&path).unwrap_or(path)
}

/// `~` and `~/…` become the home directory.
fn expand_home(path: &str, env: &BTreeMap<String, String>) -> PathBuf {
    match (path.strip_prefix('~'), env.get("HOME")) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            PathBuf::from(format!("{home}{rest}"))
        }
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_is_expanded() {
        let env = BTreeMap::from([("HOME".to_owned(), "/home/u".to_owned())]);
        assert_eq!(
            expand_home("~/.codingworker", &env),
            PathBuf::from("/home/u/.codingworker")
        );
        assert_eq!(expand_home("~", &env), PathBuf::from("/home/u"));
        assert_eq!(expand_home("~bob/x", &env), PathBuf::from("~bob/x"));
        assert_eq!(expand_home("/srv/cw", &env), PathBuf::from("/srv/cw"));
    }

    #[test]
    fn the_git_host_comes_from_the_api_url() {
        assert_eq!(github_host("https://api.github.com"), "github.com");
        assert_eq!(
            github_host("https://ghe.example.com/api/v3"),
            "ghe.example.com"
        );
        assert_eq!(github_host("http://127.0.0.1:8080"), "127.0.0.1:8080");
    }

    #[test]
    fn globs_match_owner_and_name_case_insensitively() {
        let g = glob("OkadaSatoshi/go-*").unwrap();
        assert!(g.is_match("okadasatoshi/go-tool"));
        assert!(!g.is_match("okadasatoshi/py-tool"));
        assert!(!glob("o/*").unwrap().is_match("o/r/x"));
    }
}
