//! `codingworker doctor`: is this machine ready to run the worker? Each check says what it
//! found and, when something is wrong, how to fix it. A failed check blocks the worker; a
//! warning does not.
//!
//! Without `--config` it checks the tools (git, aider), Ollama, disk and memory; with it,
//! also the config and its playbooks, the models they name (pulled? context window?), the
//! GitHub token against the configured API, and the queue with the worker's credentials.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::adapters::github::{GitHub, OctocrabGitHub};
use crate::adapters::ollama::{self, DEFAULT_API_BASE};
use crate::adapters::sqs::Queue;
use crate::config::worker::{self as config, PlaybookRef, Settings};
use crate::playbook::Playbook;
use crate::playbook::model::{Step, StepKind};
use crate::steps::aider::DEFAULT_NUM_CTX;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    Ok,
    Warn,
    /// Blocks the worker.
    Fail,
    /// Not checked (nothing to check, or it needs `--config`).
    Skip,
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn check(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        status,
        detail: detail.into(),
        fix: None,
    }
}

impl Check {
    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// Every check, in order.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    fn new(checks: Vec<Check>) -> Self {
        Self {
            ok: !checks.iter().any(|c| c.status == Status::Fail),
            checks,
        }
    }

    /// The report for a person.
    pub(crate) fn render_human(&self) -> String {
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for c in &self.checks {
            let mark = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
                Status::Skip => "skip",
            };
            out.push_str(&format!("{mark}  {:width$}  {}\n", c.name, c.detail));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("      {:width$}  fix: {fix}\n", ""));
            }
        }
        let fails = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count();
        let warns = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Warn)
            .count();
        out.push('\n');
        out.push_str(&match (fails, warns) {
            (0, 0) => "Ready: nothing blocks the worker.\n".to_owned(),
            (0, w) => format!("Ready, with {w} warning(s).\n"),
            (f, _) => format!(
                "{f} problem(s) block the worker; fix them and run `codingworker doctor` again.\n"
            ),
        });
        out
    }
}

/// What the checks look at.
pub(crate) struct Input {
    pub config: Option<PathBuf>,
    /// Checkouts whose setup and test toolchains to check (`--repo`).
    pub repos: Vec<PathBuf>,
    pub env: BTreeMap<String, String>,
    pub timeout: Duration,
}

/// Runs every check.
pub(crate) async fn run_checks(input: &Input) -> Report {
    let env = &input.env;
    let mut checks = vec![git(), aider(env).await];

    let settings = match &input.config {
        None => None,
        Some(path) => match config::load(path, env) {
            Ok(s) => {
                checks.push(check(
                    "worker config",
                    Status::Ok,
                    format!("{} and its playbooks are valid", path.display()),
                ));
                Some(s)
            }
            Err(e) => {
                let text = e.to_string();
                let first = text.lines().take(8).collect::<Vec<_>>().join("\n      ");
                checks.push(
                    check("worker config", Status::Fail, first)
                        .fix(format!("correct {} where shown", path.display())),
                );
                None
            }
        },
    };

    let playbooks = settings.as_ref().map(read_playbooks).unwrap_or_default();
    let models = named_models(&playbooks);
    checks.extend(ollama_checks(env, &models, input.timeout).await);
    if input.config.is_none() {
        checks.push(check(
            "models",
            Status::Skip,
            "give --config worker.yml to check the models its playbooks name",
        ));
    }
    checks.push(disk(
        settings
            .as_ref()
            .map(|s| s.workdir.clone())
            .unwrap_or_else(|| default_workdir(env)),
    ));
    checks.push(memory());
    for repo in &input.repos {
        checks.push(toolchains(repo, env));
    }
    checks.push(caches(
        &settings
            .as_ref()
            .map(|s| s.workdir.clone())
            .unwrap_or_else(|| default_workdir(env)),
        env,
    ));
    match &settings {
        Some(s) => {
            checks.push(github(s, env).await);
            checks.extend(queue(s).await);
        }
        None => {
            checks.push(check("github", Status::Skip, "needs --config"));
            checks.push(check("queue", Status::Skip, "needs --config"));
        }
    }
    Report::new(checks)
}

/// The programs a repository's setup and tests need (`codingworker project`), on this PATH.
fn toolchains(repo: &Path, env: &BTreeMap<String, String>) -> Check {
    let name = format!("repo {}", repo.display());
    if !repo.is_dir() {
        return check(name, Status::Fail, "not a directory").fix("give the folder of a checkout");
    }
    let tools = crate::project::Tools::from_path(env.get("PATH").map(String::as_str));
    let p = crate::project::detect(repo, &tools);
    let Some(eco) = p.ecosystem else {
        return check(
            name,
            Status::Warn,
            "no project found: the default playbook stops before any model",
        )
        .fix("set the setup and test commands in the repository's .codingworker.yml");
    };
    let what = format!("{} ({})", eco.name(), p.manager.as_deref().unwrap_or("?"));
    if !p.missing.is_empty() {
        let fixes: Vec<String> = p
            .missing
            .iter()
            .map(|t| format!("{t}: {}", install_hint(t)))
            .collect();
        return check(
            name,
            Status::Fail,
            format!(
                "{what} needs {}, which this PATH lacks",
                p.missing.join(", ")
            ),
        )
        .fix(fixes.join("; "));
    }
    // Debian and Ubuntu ship Python without venv: every Python setup would stop there.
    if p.needs.iter().any(|n| n == "python3")
        && !std::process::Command::new("python3")
            .args(["-c", "import venv, ensurepip"])
            .env_clear()
            .env("PATH", env.get("PATH").map(String::as_str).unwrap_or(""))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    {
        return check(name, Status::Fail, format!("{what}: python3 cannot make a virtual environment (no venv or ensurepip)"))
            .fix("Debian/Ubuntu: `apt install python3-venv`; or install uv (`pipx install uv`), which setup then uses");
    }
    match &p.test {
        Some(t) => check(
            name,
            Status::Ok,
            format!("{what}: needs {}, all found; tests: `{}`", p.needs.join(", "), t.run),
        ),
        None => check(name, Status::Warn, format!("{what}: no test command found"))
            .fix("set the test command in the repository's .codingworker.yml (`codingworker project` shows what was found)"),
    }
}

/// The dependency caches under the workdir: how many, how large, against their bound.
fn caches(workdir: &Path, env: &BTreeMap<String, String>) -> Check {
    use crate::project::cache;
    let root = workdir.join("cache").join("deps");
    let max = match cache::max_from(env.get("CODINGWORKER_CACHE_MAX").map(String::as_str)) {
        Ok(m) => m,
        Err(e) => {
            return check("dependency caches", Status::Warn, e)
                .fix("set CODINGWORKER_CACHE_MAX to a size such as 20G");
        }
    };
    let entries = cache::entries(&root);
    let total: u64 = entries.iter().map(|e| e.bytes).sum();
    let gib = |b: u64| b as f64 / (1024.0 * 1024.0 * 1024.0);
    let repos: BTreeSet<_> = entries
        .iter()
        .filter_map(|e| e.dir.parent().map(Path::to_path_buf))
        .collect();
    let detail = format!(
        "{} cache(s) of {} repositor{} in {}: {:.2} GiB of {:.2} GiB (CODINGWORKER_CACHE_MAX); the least recently used go first",
        entries.len(),
        repos.len(),
        if repos.len() == 1 { "y" } else { "ies" },
        root.display(),
        gib(total),
        gib(max)
    );
    if total > max {
        check("dependency caches", Status::Warn, detail)
            .fix("they are pruned when the next run starts; lower or raise CODINGWORKER_CACHE_MAX")
    } else {
        check("dependency caches", Status::Ok, detail)
    }
}

/// How to get a program a project needs.
fn install_hint(program: &str) -> &'static str {
    match program {
        "python3" => "install Python 3 (macOS: `brew install python`)",
        "node" | "npm" => "install Node.js (https://nodejs.org, or `brew install node`)",
        "corepack" => "`npm install -g corepack` (Node.js 25 and later no longer bundle it)",
        "pnpm" | "yarn" => "`corepack enable`, or `npm install -g` it",
        "bun" => "install bun (https://bun.sh)",
        "cargo" => "install Rust with rustup (https://rustup.rs)",
        "go" => "install Go (https://go.dev/dl, or `brew install go`)",
        "make" => "install make (macOS: `xcode-select --install`)",
        "cmake" | "ctest" => "install CMake (`brew install cmake`, or your package manager)",
        "poetry" => "`pipx install poetry`",
        "uv" => "`pipx install uv`",
        _ => "install it, or set the commands in the repository's .codingworker.yml",
    }
}

fn default_workdir(env: &BTreeMap<String, String>) -> PathBuf {
    env.get("CODINGWORKER_WORKDIR")
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").map(|h| Path::new(h).join(".codingworker")))
        .unwrap_or_else(|| PathBuf::from("."))
}

fn git() -> Check {
    match std::process::Command::new("git").arg("--version").output() {
        Ok(o) if o.status.success() => check(
            "git",
            Status::Ok,
            String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        ),
        _ => check("git", Status::Fail, "git not found on PATH")
            .fix("install git (macOS: `xcode-select --install`; Debian: `apt install git`)"),
    }
}

async fn aider(env: &BTreeMap<String, String>) -> Check {
    let program = env
        .get("CODINGWORKER_AIDER")
        .cloned()
        .unwrap_or_else(|| "aider".into());
    let fix = "install it: `pipx install aider-chat` (or set CODINGWORKER_AIDER to its path)";
    let mut cmd = tokio::process::Command::new(&program);
    cmd.arg("--version")
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    // aider imports litellm before it answers: seconds, not milliseconds.
    match tokio::time::timeout(Duration::from_secs(60), cmd.output()).await {
        Ok(Ok(o)) if o.status.success() => {
            let out = String::from_utf8_lossy(&o.stdout);
            let version = out
                .lines()
                .find(|l| l.starts_with("aider"))
                .unwrap_or(out.trim());
            check("aider", Status::Ok, format!("{version} ({program})"))
        }
        Ok(Ok(o)) => check(
            "aider",
            Status::Fail,
            format!(
                "`{program} --version` failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
        )
        .fix(fix),
        Ok(Err(_)) => check("aider", Status::Fail, format!("`{program}` not found")).fix(fix),
        Err(_) => check(
            "aider",
            Status::Fail,
            format!("`{program} --version` gave no answer in 60 s"),
        )
        .fix(fix),
    }
}

/// The playbooks of the worker's routes (the repositories' own cannot be known here).
fn read_playbooks(s: &Settings) -> Vec<(String, Playbook)> {
    let mut paths: Vec<PathBuf> = s
        .routes
        .iter()
        .filter_map(|r| match &r.playbook {
            PlaybookRef::File(p) => Some(p.clone()),
            PlaybookRef::Repo => None,
        })
        .collect();
    paths.extend(s.default_playbook.clone());
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|p| {
            let loaded = crate::playbook::load_file(&p).ok()?;
            Some((p.display().to_string(), loaded.playbook?))
        })
        .collect()
}

/// A model a playbook names, and the endpoint and context window it asks for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct NamedModel {
    pub model: String,
    /// A literal `api_base`, if the playbook gives one.
    pub api_base: Option<String>,
    pub num_ctx: u32,
}

/// The models the playbooks' aider steps use: literal ones, and those of retry attempts
/// when the step's model reads `attempt.model`.
pub(crate) fn named_models(playbooks: &[(String, Playbook)]) -> Vec<NamedModel> {
    let mut out = BTreeSet::new();
    for (_, pb) in playbooks {
        walk(&pb.steps, &[], &mut out);
    }
    out.into_iter().collect()
}

fn literal(t: &str) -> Option<String> {
    (!t.contains("{{") && !t.contains("{%")).then(|| t.trim().to_owned())
}

fn walk(
    steps: &[Step],
    attempts: &[BTreeMap<String, serde_json::Value>],
    out: &mut BTreeSet<NamedModel>,
) {
    for step in steps {
        match &step.kind {
            StepKind::Retry(r) => {
                let keys: Vec<_> = r.attempts.iter().map(|a| a.keys.clone()).collect();
                walk(&r.steps, &keys, out);
            }
            StepKind::Aider(a) => {
                // A template (`{{ attempt.num_ctx }}`) is read from each attempt's keys.
                let fixed = match &a.num_ctx {
                    None => Some(DEFAULT_NUM_CTX),
                    Some(crate::playbook::types::Count::Number(n)) => Some(*n),
                    Some(crate::playbook::types::Count::Template(_)) => None,
                };
                let num_ctx = fixed.unwrap_or(DEFAULT_NUM_CTX);
                let base = a.api_base.as_ref().and_then(|b| literal(b.as_str()));
                if let Some(m) = literal(a.model.as_str()) {
                    out.insert(NamedModel {
                        model: m,
                        api_base: base.clone(),
                        num_ctx,
                    });
                } else if a.model.as_str().contains("attempt.model") {
                    for keys in attempts {
                        if let Some(m) = keys.get("model").and_then(|m| m.as_str()) {
                            let attempt_base = keys
                                .get("api_base")
                                .and_then(|b| b.as_str())
                                .map(str::to_owned);
                            let attempt_ctx = keys
                                .get("num_ctx")
                                .and_then(|n| n.as_u64())
                                .and_then(|n| u32::try_from(n).ok());
                            out.insert(NamedModel {
                                model: m.to_owned(),
                                api_base: attempt_base.or(base.clone()),
                                num_ctx: fixed.or(attempt_ctx).unwrap_or(DEFAULT_NUM_CTX),
                            });
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

async fn ollama_checks(
    env: &BTreeMap<String, String>,
    models: &[NamedModel],
    timeout: Duration,
) -> Vec<Check> {
    let default_base = env
        .get("OLLAMA_API_BASE")
        .cloned()
        .unwrap_or_else(|| DEFAULT_API_BASE.to_owned());
    let mut checks = Vec::new();
    let mut bases: BTreeSet<String> = models
        .iter()
        .filter(|m| ollama::is_ollama_model(&m.model))
        .map(|m| m.api_base.clone().unwrap_or_else(|| default_base.clone()))
        .collect();
    if bases.is_empty() {
        bases.insert(default_base.clone());
    }
    let mut reachable = BTreeSet::new();
    for base in &bases {
        // A model nobody has pulled is still a probe of the server.
        match ollama::probe(base, "ollama/codingworker-doctor-probe", timeout).await {
            Err(ollama::ProbeError::NotPulled { available, .. }) => {
                reachable.insert(base.clone());
                checks.push(check(
                    format!("ollama {base}"),
                    Status::Ok,
                    format!("answers; {} model(s) pulled", available.len()),
                ));
            }
            Ok(()) => {
                reachable.insert(base.clone());
                checks.push(check(format!("ollama {base}"), Status::Ok, "answers"));
            }
            Err(e) => checks.push(
                check(format!("ollama {base}"), Status::Fail, e.to_string())
                    .fix("start Ollama (`ollama serve`, or open the Ollama app); another host: set OLLAMA_API_BASE or the playbook's api_base"),
            ),
        }
    }
    for m in models {
        let name = format!("model {}", m.model);
        if !ollama::is_ollama_model(&m.model) {
            let key = m.model.starts_with("gemini/").then_some("GEMINI_API_KEY");
            checks.push(match key {
                Some(k) if !env.contains_key(k) => check(
                    name,
                    Status::Warn,
                    format!("reached through its provider's API; {k} is not set"),
                )
                .fix(format!(
                    "set {k} in the worker's environment and list it in the playbook's `secrets`"
                )),
                _ => check(
                    name,
                    Status::Skip,
                    "reached through its provider's API; not checked here",
                ),
            });
            continue;
        }
        let base = m.api_base.clone().unwrap_or_else(|| default_base.clone());
        if !reachable.contains(&base) {
            checks.push(check(name, Status::Skip, format!("{base} does not answer")));
            continue;
        }
        match ollama::probe(&base, &m.model, timeout).await {
            Ok(()) => {
                let ctx = ollama::context_length(&base, &m.model, timeout).await;
                checks.push(match ctx {
                    Some(c) if c < u64::from(m.num_ctx) => check(
                        name,
                        Status::Warn,
                        format!(
                            "pulled; its context window is {c} tokens, the playbook asks {}",
                            m.num_ctx
                        ),
                    )
                    .fix("lower the aider step's num_ctx, or use a model with a larger context"),
                    Some(c) => check(
                        name,
                        Status::Ok,
                        format!(
                            "pulled; context window {c} tokens (the step uses {})",
                            m.num_ctx
                        ),
                    ),
                    None => check(name, Status::Ok, "pulled; context window not reported"),
                });
            }
            Err(e) => {
                let pull = format!("ollama pull {}", ollama::ollama_name(&m.model));
                checks.push(check(name, Status::Fail, e.to_string()).fix(pull));
            }
        }
    }
    checks
}

fn disk(workdir: PathBuf) -> Check {
    // The workdir may not exist yet: measure the nearest directory that does.
    let mut at = workdir.as_path();
    while !at.exists() {
        match at.parent() {
            Some(p) => at = p,
            None => break,
        }
    }
    match nix::sys::statvfs::statvfs(at) {
        Ok(s) => {
            // The field types differ between platforms (u32 on macOS).
            #[allow(clippy::unnecessary_cast)]
            let free = s.blocks_available() as u64 * s.fragment_size() as u64;
            let gib = free as f64 / (1u64 << 30) as f64;
            let detail = format!("{gib:.1} GiB free at {}", at.display());
            if gib < 2.0 {
                check("disk", Status::Fail, detail)
                    .fix("free some space: repository mirrors, worktrees and models need room")
            } else if gib < 10.0 {
                check("disk", Status::Warn, detail)
                    .fix("a 7B model takes about 5 GB, each repository mirror its history")
            } else {
                check("disk", Status::Ok, detail)
            }
        }
        Err(e) => check(
            "disk",
            Status::Warn,
            format!("cannot measure {}: {e}", at.display()),
        ),
    }
}

/// Total and available memory in bytes.
fn memory_bytes() -> Option<(u64, Option<u64>)> {
    if let Ok(info) = std::fs::read_to_string("/proc/meminfo") {
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .map(|kib| kib * 1024)
        };
        return Some((field("MemTotal:")?, field("MemAvailable:")));
    }
    // macOS: total only (what is free depends on what macOS would let go).
    let out = std::process::Command::new("sysctl")
        .args(["-n", "hw.memsize"])
        .output()
        .ok()?;
    let total = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some((total, None))
}

fn memory() -> Check {
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    match memory_bytes() {
        None => check("memory", Status::Warn, "cannot measure"),
        Some((total, available)) => {
            let detail = match available {
                Some(a) => format!("{:.1} GiB total, {:.1} GiB available", gib(total), gib(a)),
                None => format!("{:.1} GiB total", gib(total)),
            };
            let room = available.unwrap_or(total);
            if gib(room) < 6.0 {
                check("memory", Status::Warn, detail).fix(
                    "a 7B model needs about 5–8 GB while it runs: close other programs, or use a 3B model",
                )
            } else {
                check("memory", Status::Ok, detail)
            }
        }
    }
}

async fn github(s: &Settings, env: &BTreeMap<String, String>) -> Check {
    if s.github.dry_run {
        return check(
            "github",
            Status::Skip,
            "github.dry_run: nothing is sent to GitHub",
        );
    }
    let var = &s.github.token_env;
    let Some(token) = env.get(var).filter(|t| !t.is_empty()) else {
        return check("github", Status::Fail, format!("no token in ${var}")).fix(format!(
            "create a token (contents, pull requests and issues: read and write) and set {var} in the worker's environment"
        ));
    };
    let client = match OctocrabGitHub::new(token, &s.github.api_url) {
        Ok(c) => c.with_policy(crate::adapters::github::RetryPolicy {
            retries: 1,
            ..Default::default()
        }),
        Err(e) => return check("github", Status::Fail, e.to_string()),
    };
    match client.whoami().await {
        Ok((login, Some(scopes))) => {
            let has_repo = scopes
                .split(',')
                .map(str::trim)
                .any(|s| s == "repo" || s == "public_repo");
            if has_repo {
                check(
                    "github",
                    Status::Ok,
                    format!("token of {login} at {}; scopes: {scopes}", s.github.api_url),
                )
            } else {
                check(
                    "github",
                    Status::Fail,
                    format!("token of {login} lacks the `repo` scope (it has: {scopes})"),
                )
                .fix("give the token the `repo` scope (or `public_repo` for public repositories only)")
            }
        }
        Ok((login, None)) => check(
            "github",
            Status::Ok,
            format!(
                "token of {login} at {} (fine-grained: it needs contents, pull requests and issues read and write on the allowed repositories)",
                s.github.api_url
            ),
        ),
        Err(e) => check(
            "github",
            Status::Fail,
            format!("GitHub refused the token: {e}"),
        )
        .fix(format!(
            "check ${var}: a token that is expired, revoked or for another GitHub gets 401"
        )),
    }
}

async fn queue(s: &Settings) -> Vec<Check> {
    let Some(url) = &s.queue_url else {
        return vec![
            check("queue", Status::Fail, "no queue URL")
                .fix("set `queue_url` in the worker config or CODINGWORKER_QUEUE_URL"),
        ];
    };
    let q = Queue::connect(url).await;
    let info = match tokio::time::timeout(Duration::from_secs(30), q.info()).await {
        Ok(Ok(i)) => i,
        Ok(Err(e)) => {
            return vec![check("queue", Status::Fail, format!("{url}: {e}")).fix(
                "check the queue URL, AWS_REGION and the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE); a local server needs AWS_ENDPOINT_URL_SQS",
            )];
        }
        Err(_) => {
            return vec![
                check("queue", Status::Fail, format!("{url}: no answer in 30 s"))
                    .fix("check the network and AWS_ENDPOINT_URL_SQS"),
            ];
        }
    };
    let mut checks = vec![check(
        "queue",
        Status::Ok,
        format!(
            "{url}: {} visible, {} in flight",
            info.visible, info.in_flight
        ),
    )];
    checks.push(match info.max_receive_count {
        None => check(
            "redrive",
            Status::Warn,
            "the queue has no dead-letter queue",
        )
        .fix(
            "apply infra/terraform (the queue module sets a redrive policy with maxReceiveCount 3)",
        ),
        Some(n) if n != s.max_receives => check(
            "redrive",
            Status::Warn,
            format!(
                "maxReceiveCount is {n}, the config's max_receives {}",
                s.max_receives
            ),
        )
        .fix(format!("set `max_receives: {n}` in the worker config")),
        Some(n) => check("redrive", Status::Ok, format!("maxReceiveCount {n}")),
    });
    checks.push(match q.denied_actions().await {
        Ok(denied) if denied.is_empty() => check(
            "permissions",
            Status::Ok,
            "may change visibility and delete (receive is checked by the first task: trying it would count a delivery)",
        ),
        Ok(denied) => check(
            "permissions",
            Status::Fail,
            format!("denied: {}", denied.join(", ")),
        )
        .fix("use the worker identity of infra/terraform (receive, delete, change visibility, get attributes)"),
        Err(e) => check("permissions", Status::Warn, e.to_string()),
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_models_of_retry_attempts_and_literal_steps() {
        let text = r#"version: 1
name: t
steps:
  - id: solve
    retry:
      attempts:
        - { model: ollama_chat/qwen2.5-coder:7b }
        - { model: ollama_chat/codellama:7b, api_base: "http://gpu:11434" }
        - { model: gemini/gemini-2.0-flash }
      steps:
        - id: code
          aider: { model: "{{ attempt.model }}", message: m, num_ctx: 16384 }
  - id: review
    aider: { model: ollama_chat/qwen2.5-coder:3b, message: m }
"#;
        let loaded = crate::playbook::load_source(crate::source::SourceFile::new("t.yml", text));
        let pb = loaded.playbook.expect("valid");
        let models = named_models(&[("t.yml".into(), pb)]);
        let names: Vec<(&str, Option<&str>, u32)> = models
            .iter()
            .map(|m| (m.model.as_str(), m.api_base.as_deref(), m.num_ctx))
            .collect();
        assert_eq!(
            names,
            [
                ("gemini/gemini-2.0-flash", None, 16384),
                ("ollama_chat/codellama:7b", Some("http://gpu:11434"), 16384),
                ("ollama_chat/qwen2.5-coder:3b", None, 8192),
                ("ollama_chat/qwen2.5-coder:7b", None, 16384),
            ]
        );
    }

    #[test]
    fn a_failed_check_blocks() {
        let r = Report::new(vec![
            check("git", Status::Ok, "git version 2"),
            check("aider", Status::Fail, "not found").fix("pipx install aider-chat"),
        ]);
        assert!(!r.ok);
        let text = r.render_human();
        assert!(text.contains("FAIL  aider  not found\n"), "{text}");
        assert!(text.contains("fix: pipx install aider-chat"), "{text}");
        assert!(text.contains("1 problem(s) block the worker"), "{text}");
    }
}
