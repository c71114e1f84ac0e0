//! Test support: a sandbox with a real git repository, the codingworker binary run with a
//! clean environment, a fake `aider` executable and a fake Ollama `/api/tags` endpoint.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

pub(crate) mod fake_github;
pub(crate) mod fake_llm;
pub(crate) mod http;
pub(crate) mod sqs;
pub(crate) mod worker_setup;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_codingworker");

/// The crate's root (tests run there too).
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A child process that is killed when dropped, so that a failing test leaves no worker
/// running.
pub(crate) struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a run of the binary produced.
#[derive(Debug)]
pub(crate) struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Ran {
    fn from(o: Output) -> Self {
        Ran {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// The binary with nothing of the test runner's environment but PATH and LANG.
pub(crate) fn cw() -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LANG", "C.UTF-8");
    c.current_dir(root());
    c
}

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A temporary directory with a git repository (`repo/`), a home, a workdir and a run dir.
pub(crate) struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Self {
        let s = Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir_all(s.home()).unwrap();
        let repo = s.repo();
        std::fs::create_dir_all(repo.join("src")).unwrap();
        std::fs::write(repo.join("README.md"), "# demo\n").unwrap();
        std::fs::write(repo.join("src/app.py"), "print('hi')\n").unwrap();
        std::fs::write(repo.join(".gitignore"), "*.log\nbuild/\n").unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["config", "user.name", "Test"]);
        git(&repo, &["config", "user.email", "test@example.com"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "initial"]);
        s
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
    pub(crate) fn repo(&self) -> PathBuf {
        self.path().join("repo")
    }
    pub(crate) fn home(&self) -> PathBuf {
        self.path().join("home")
    }
    pub(crate) fn workdir(&self) -> PathBuf {
        self.path().join("work")
    }
    pub(crate) fn out(&self) -> PathBuf {
        self.path().join("out")
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A task file for an issue with this title and body.
    pub(crate) fn task(&self, title: &str, body: &str) -> PathBuf {
        self.task_from(title, body, "https://github.com/acme/demo.git")
    }

    /// A task whose repository is cloned from `clone_url`.
    pub(crate) fn task_from(&self, title: &str, body: &str, clone_url: &str) -> PathBuf {
        let task = serde_json::json!({
            "version": 1, "id": "task-1",
            "repo": {"full_name": "acme/demo", "clone_url": clone_url, "default_branch": "main"},
            "issue": {"number": 7, "title": title, "body": body, "labels": ["auto-code", "bug"],
                      "author": "alice", "url": "https://github.com/acme/demo/issues/7"},
            "sender": "alice", "event": "issues.labeled"
        });
        self.write("task.json", &serde_json::to_string_pretty(&task).unwrap())
    }

    /// `codingworker run PLAYBOOK --issue TASK --repo repo --out out` with extra env.
    pub(crate) fn run(&self, playbook: &str, task: &Path, env: &[(&str, &str)]) -> Ran {
        let pb = self.write("playbook.yml", playbook);
        self.run_file(&pb, task, &[], env)
    }

    pub(crate) fn run_file(
        &self,
        playbook: &Path,
        task: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Ran {
        let mut c = cw();
        c.arg("run")
            .arg(playbook)
            .arg("--issue")
            .arg(task)
            .arg("--repo")
            .arg(self.repo())
            .arg("--out")
            .arg(self.out())
            .args(args)
            .env("HOME", self.home())
            .env("CODINGWORKER_WORKDIR", self.workdir())
            .env("CODINGWORKER_KILL_GRACE", "1s");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("codingworker runs").into()
    }

    /// A bare clone of the repository, as the remote `pr_open` pushes to.
    pub(crate) fn bare_remote(&self) -> PathBuf {
        let remote = self.path().join("remote.git");
        git(
            self.path(),
            &[
                "clone",
                "-q",
                "--bare",
                self.repo().to_str().unwrap(),
                remote.to_str().unwrap(),
            ],
        );
        remote
    }

    /// The `run.json` of the last run.
    pub(crate) fn report(&self) -> Value {
        let text = std::fs::read_to_string(self.out().join("run.json")).expect("run.json exists");
        serde_json::from_str(&text).unwrap()
    }

    /// Status of each step execution, as `id[@attempt]=status`.
    pub(crate) fn statuses(&self) -> Vec<String> {
        self.report()["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| match s["attempt"]["number"].as_u64() {
                Some(n) => format!(
                    "{}@{}={}",
                    s["id"].as_str().unwrap(),
                    n,
                    s["status"].as_str().unwrap()
                ),
                None => format!(
                    "{}={}",
                    s["id"].as_str().unwrap(),
                    s["status"].as_str().unwrap()
                ),
            })
            .collect()
    }

    /// The worktree the last run worked in.
    pub(crate) fn worktree(&self) -> PathBuf {
        PathBuf::from(self.report()["workdir"].as_str().unwrap())
    }

    /// Every file under the sandbox's run dir, concatenated (for leak checks).
    pub(crate) fn all_output_text(&self) -> String {
        let mut text = String::new();
        for entry in walk(&self.out()) {
            if let Ok(t) = std::fs::read_to_string(&entry) {
                text.push_str(&t);
            }
        }
        text
    }

    /// Writes an executable fake `aider` that records its argv, environment and message under
    /// `record/` and, by `FAKE_AIDER_MODE` (from the playbook's env): `edit` (default) writes
    /// `$FAKE_AIDER_FILE` and commits, `uncommitted` writes without committing, `empty`
    /// commits an empty file (what aider does for a named file the model never writes),
    /// `dirty` commits what was uncommitted and edits nothing (aider's dirty commits),
    /// `none` changes nothing, `hang` sleeps with a child.
    pub(crate) fn fake_aider(&self) -> PathBuf {
        let rec = self.path().join("record");
        std::fs::create_dir_all(&rec).unwrap();
        let script = format!(
            r#"#!/bin/sh
rec={rec}
n=$(ls "$rec" | grep -c '^argv-' || true); n=$((n + 1))
for a in "$@"; do printf '%s\n' "$a"; done > "$rec/argv-$n"
env | sort > "$rec/env-$n"
msg=""; prev=""
for a in "$@"; do [ "$prev" = "--message-file" ] && msg="$a"; prev="$a"; done
[ -n "$msg" ] && cp "$msg" "$rec/message-$n"
echo "fake aider: model $2"
case "${{FAKE_AIDER_MODE:-edit}}" in
  none) echo "no changes" ;;
  hang) sleep 300 & echo $! > "$rec/child-$n"; sleep 300 ;;
  uncommitted) echo "edit $n" >> "${{FAKE_AIDER_FILE:-fake.txt}}" ;;
  empty) : > "${{FAKE_AIDER_FILE:-new_module.py}}"; git add -A >/dev/null; git commit -qm "aider: added empty file" ;;
  dirty) git add -A >/dev/null; git commit -qm "aider: commit dirty changes" ;;
  *) echo "edit $n" >> "${{FAKE_AIDER_FILE:-fake.txt}}"; git add -A >/dev/null; git commit -qm "fake aider edit $n" ;;
esac
"#,
            rec = rec.display()
        );
        let path = self.path().join("fake-aider");
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    pub(crate) fn recorded(&self, what: &str, n: usize) -> String {
        std::fs::read_to_string(self.path().join("record").join(format!("{what}-{n}")))
            .unwrap_or_default()
    }
}

/// Files named `PWNED…` anywhere under `dir`: hostile text that ran (the corpus and the
/// hardening tests write their markers with that name).
pub(crate) fn pwned(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("PWNED"))
        })
        .collect()
}

/// Every file under `dir`.
pub(crate) fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Whether a process is running (not gone, not a zombie waiting for a reaper).
pub(crate) fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// A fake Ollama that answers every request with the given `/api/tags` model list.
pub(crate) struct FakeOllama {
    pub url: String,
    pub requests: Arc<AtomicUsize>,
}

impl FakeOllama {
    pub(crate) fn start(models: &[&str]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let body = serde_json::json!({
            "models": models.iter().map(|m| serde_json::json!({"name": m, "model": m})).collect::<Vec<_>>()
        })
        .to_string();
        let requests = Arc::new(AtomicUsize::new(0));
        let count = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                count.fetch_add(1, Ordering::SeqCst);
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(resp.as_bytes());
            }
        });
        FakeOllama { url, requests }
    }
}

/// The real aider CLI, installed by `scripts/setup-test-tools` in `.venv-aider/`.
pub(crate) fn aider() -> PathBuf {
    if let Ok(p) = std::env::var("CODINGWORKER_TEST_AIDER") {
        return PathBuf::from(p);
    }
    root().join(".venv-aider/bin/aider")
}

/// A local port nothing listens on.
pub(crate) fn closed_port_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// insta settings that hide what changes between runs: temp paths, run ids, times.
pub(crate) fn redactions(extra: &[(&str, &str)]) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    let mut filters: Vec<(String, String)> = extra
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    filters.extend([
        (
            r"\d{8}T\d{6}Z-\d+-[0-9a-f]{4}".to_owned(),
            "[RUN_ID]".to_owned(),
        ),
        (
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z".to_owned(),
            "[TIME]".to_owned(),
        ),
        (
            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ".to_owned(),
            "[TIME]".to_owned(),
        ),
        (r"\b\d+(\.\d+)?(ms|s)\b".to_owned(), "[DUR]".to_owned()),
        (r"\b\d+m \d\ds\b".to_owned(), "[DUR]".to_owned()),
    ]);
    for (a, b) in filters {
        s.add_filter(&a, b);
    }
    s
}

/// `env` output as a map; `env -0` output (NUL-separated) keeps values with line breaks.
pub(crate) fn env_map(text: &str) -> BTreeMap<String, String> {
    let entries: Vec<&str> = if text.contains('\0') {
        text.split('\0').collect()
    } else {
        text.lines().collect()
    };
    entries
        .into_iter()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}
