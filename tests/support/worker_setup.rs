//! The worker under test: a queue on the shared moto server, a bare remote of a sandbox
//! repository, the fake GitHub API, and a worker.yml, with helpers to run the worker,
//! stop or kill it, and read what it left in its workdir.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::fake_github::FakeGitHub;
use super::sqs::{TestQueue, moto};
use super::{Ran, Sandbox, cw, git};

/// Credentials for moto, which takes any. Long like real ones: a value as short as `test`
/// would be masked wherever the word appears (a step called `test`, a file name).
pub(crate) const FAKE_AWS_KEY_ID: &str = "AKIAFAKEFORMOTO00000";
pub(crate) const FAKE_AWS_SECRET: &str = "fakeSecretAccessKeyForMotoOnly0000000000";

pub(crate) const TOKEN: &str = "ghp_workerTokenForTests0123";

/// Knobs of a test's worker.yml.
pub(crate) struct Knobs {
    pub visibility: &'static str,
    pub grace: &'static str,
    pub max_receives: u32,
    pub routes: &'static str,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            visibility: "30s",
            grace: "10s",
            max_receives: 3,
            routes: "",
        }
    }
}

pub(crate) struct Setup {
    pub sb: Sandbox,
    pub queue: TestQueue,
    pub github: FakeGitHub,
    pub remote: PathBuf,
    pub config: PathBuf,
}

impl Setup {
    /// A queue whose redrive policy moves a message to the DLQ after `max_receive_count`
    /// receives, a bare remote of the sandbox's repository, and a worker.yml with `knobs`
    /// whose default playbook is `playbook`.
    pub(crate) fn new(max_receive_count: u32, knobs: Knobs, playbook: &str) -> Setup {
        let sb = Sandbox::new();
        let queue = moto().queue(max_receive_count);
        let github = FakeGitHub::start(TOKEN);
        let remote = sb.bare_remote();
        sb.write("playbooks/default.yml", playbook);
        let config = sb.write(
            "worker.yml",
            &format!(
                "queue_url: {url}\nvisibility_timeout: {vis}\npoll_wait: 1s\nretry_delay: 1s\nshutdown_grace: {grace}\nmax_receives: {max}\nworkdir: {workdir}\nallow: {{ repos: [\"acme/*\"], local_remotes: true }}\nroutes:\n{routes}default_playbook: playbooks/default.yml\ngithub: {{ api_url: \"{api}\" }}\n",
                url = queue.url,
                vis = knobs.visibility,
                grace = knobs.grace,
                max = knobs.max_receives,
                workdir = sb.workdir().display(),
                routes = if knobs.routes.is_empty() { "  []\n" } else { knobs.routes },
                api = github.url,
            )
            .replace("routes:\n  []\n", "routes: []\n"),
        );
        Setup {
            sb,
            queue,
            github,
            remote,
            config,
        }
    }

    /// A task message for issue 7 of acme/demo, cloned from the bare remote.
    pub(crate) fn task(&self, id: &str) -> String {
        self.task_for("acme/demo", id, self.remote.to_str().unwrap())
    }

    pub(crate) fn task_for(&self, repo: &str, id: &str, clone_url: &str) -> String {
        self.issue(repo, 7, id, clone_url, &["auto-code"])
    }

    pub(crate) fn issue(
        &self,
        repo: &str,
        number: u64,
        id: &str,
        clone_url: &str,
        labels: &[&str],
    ) -> String {
        json!({
            "version": 1, "id": id,
            "repo": {"full_name": repo, "clone_url": clone_url, "default_branch": "main"},
            "issue": {"number": number, "title": "Write solved.txt", "body": "Please.", "labels": labels,
                      "author": "alice", "url": format!("https://github.com/{repo}/issues/{number}")},
            "sender": "alice", "event": "issues.labeled"
        })
        .to_string()
    }

    /// Commits `files` to the remote's main branch (through the sandbox's repository).
    pub(crate) fn push_to_remote(&self, files: &[(&str, &str)]) {
        let repo = self.sb.repo();
        for (name, text) in files {
            let path = repo.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-qm", "update"]);
        git(
            &repo,
            &["push", "-q", self.remote.to_str().unwrap(), "HEAD:main"],
        );
    }

    pub(crate) fn worker(&self, once: bool) -> Command {
        let mut c = cw();
        c.arg("worker").arg("--config").arg(&self.config);
        if once {
            c.arg("--once");
        }
        c.env("HOME", self.sb.home())
            .env("GITHUB_TOKEN", TOKEN)
            .env("AWS_ACCESS_KEY_ID", FAKE_AWS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", FAKE_AWS_SECRET)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL_SQS", &moto().endpoint)
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("CODINGWORKER_KILL_GRACE", "1s")
            .env("CODINGWORKER_AIDER", super::aider())
            .env("TMPDIR", self.tmp());
        c
    }

    /// The worker's TMPDIR (and its children's), to check that nothing is left in it.
    pub(crate) fn tmp(&self) -> PathBuf {
        let t = self.sb.path().join("tmp");
        std::fs::create_dir_all(&t).unwrap();
        t
    }

    /// `worker --once`, to its end.
    pub(crate) fn once(&self) -> Ran {
        let ran: Ran = self.worker(true).output().unwrap().into();
        assert!(
            !ran.stderr.contains(TOKEN),
            "the token leaked:\n{}",
            ran.stderr
        );
        ran
    }

    /// The worker in the background (stdout and stderr to files in the sandbox).
    pub(crate) fn spawn(&self, name: &str) -> Child {
        self.spawn_with(name, |_| {})
    }

    /// [`Setup::spawn`] with the command changed first (more arguments, variables).
    pub(crate) fn spawn_with(&self, name: &str, change: impl FnOnce(&mut Command)) -> Child {
        let out = std::fs::File::create(self.sb.path().join(format!("{name}.out"))).unwrap();
        let err = std::fs::File::create(self.sb.path().join(format!("{name}.err"))).unwrap();
        let mut c = self.worker(false);
        change(&mut c);
        c.stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap()
    }

    pub(crate) fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.sb.path().join(format!("{name}.err"))).unwrap_or_default()
    }

    pub(crate) fn task_states(&self) -> Vec<Value> {
        let mut states: Vec<Value> = std::fs::read_dir(self.sb.workdir().join("tasks"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap())
            .collect();
        states.sort_by_key(|s| s["task_id"].as_str().unwrap_or_default().to_owned());
        states
    }

    pub(crate) fn runs(&self) -> Vec<Value> {
        let mut runs: Vec<Value> = std::fs::read_dir(self.sb.workdir().join("runs"))
            .map(|d| {
                d.flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path().join("run.json")).ok())
                    .map(|t| serde_json::from_str(&t).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        runs.sort_by_key(|r| r["started_at"].as_str().unwrap_or_default().to_owned());
        runs
    }

    pub(crate) fn worktrees_left(&self) -> usize {
        std::fs::read_dir(self.sb.workdir().join("worktrees"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Starts a worker, waits until its step wrote `pidfile`, then kills the worker with
    /// SIGKILL (and, since a killed worker's step goes on in its own process group, the
    /// step too).
    pub(crate) fn kill_during_step(&self, pidfile: &std::path::Path) {
        let mut worker = self.spawn("killed");
        let step: i32 = wait_for_file(pidfile, Duration::from_secs(60))
            .parse()
            .unwrap();
        signal(worker.id() as i32, nix::sys::signal::Signal::SIGKILL);
        worker.wait().unwrap();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(step),
            nix::sys::signal::Signal::SIGKILL,
        );
    }

    /// Waits until the message is visible in the queue again.
    pub(crate) fn wait_visible(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.queue.depth().0 == 0 {
            assert!(Instant::now() < deadline, "the message did not come back");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// A playbook whose one step writes its pid to a file, then runs `then`: the file's
/// directory (removed when dropped), the file and the playbook.
pub(crate) fn pid_playbook(then: &str) -> (tempfile::TempDir, PathBuf, String) {
    let marks = tempfile::tempdir().unwrap();
    let pidfile = marks.path().join("pid");
    let playbook = format!(
        "version: 1\nname: marked\nsteps:\n  - id: marked\n    shell: echo $$ > {}; {then}\n",
        pidfile.display()
    );
    (marks, pidfile, playbook)
}

pub(crate) fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).unwrap();
}

pub(crate) fn wait_for_file(path: &std::path::Path, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(t) = std::fs::read_to_string(path)
            && !t.trim().is_empty()
        {
            return t.trim().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn wait_exit(child: &mut Child, within: Duration) -> i32 {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the worker did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
