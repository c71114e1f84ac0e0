//! Child processes: spawned in their own process group with a scrubbed environment, under a
//! supervisor (see [`supervise`]), output captured and logged, and stopped as a tree.
//!
//! On a timeout or cancellation the group gets SIGTERM, and the supervisor sends it to every
//! process below it, whatever group or session it moved to; SIGKILL follows after a grace
//! period. When the main process ends on its own, what is left below it is killed too: a
//! step's processes end with the step.

pub mod capture;
pub mod env;
pub mod supervise;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::mask::Masker;
use capture::{Capture, Captured, Stream};

/// What to run.
#[derive(Debug, Clone)]
pub struct Command {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    /// The complete environment (nothing is inherited).
    pub env: BTreeMap<String, String>,
    /// A file descriptor the process gets as its fd 3 (and nothing else of ours): how a
    /// credential reaches `git` without sitting in any process's environment or arguments.
    pub fd3: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
}

/// How to supervise it.
#[derive(Debug, Clone)]
pub struct Supervision {
    pub deadline: Instant,
    pub cancel: CancellationToken,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Bytes of each stream kept in memory.
    pub limit: usize,
    pub log: Option<PathBuf>,
    pub masker: Masker,
    /// Stops the process when its output shows it cannot succeed.
    pub watch: Option<Watch>,
}

/// What a [`Watch`] asks of each line: `Some(reason)` to stop the process.
pub type WatchCheck = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Reads every output line of a process; the first line the check answers with a reason
/// stops the process group (TERM, grace, KILL) and the run ends as [`Ending::Stopped`].
#[derive(Clone)]
pub struct Watch {
    check: std::sync::Arc<WatchCheck>,
    fired: CancellationToken,
    reason: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl Watch {
    pub fn new(check: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            check: std::sync::Arc::new(check),
            fired: CancellationToken::new(),
            reason: std::sync::Arc::default(),
        }
    }

    /// Looks at one line of output.
    pub fn line(&self, line: &str) {
        if self.fired.is_cancelled() {
            return;
        }
        if let Some(reason) = (self.check)(line) {
            *self.reason.lock().expect("watch reason") = Some(reason);
            self.fired.cancel();
        }
    }

    /// Why the process was stopped, if it was.
    pub fn reason(&self) -> Option<String> {
        self.reason.lock().expect("watch reason").clone()
    }
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("reason", &self.reason())
            .finish()
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    /// Killed by a signal we did not send.
    Signaled(i32),
    /// Stopped because its deadline passed.
    TimedOut,
    /// Stopped because the run was cancelled.
    Cancelled,
    /// Stopped because its output showed it could not succeed (see [`Watch`]).
    Stopped,
}

/// A process that ran.
#[derive(Debug, Clone)]
pub struct Finished {
    pub ending: Ending,
    pub captured: Captured,
    pub duration: Duration,
}

/// A process that could not be started.
#[derive(Debug, thiserror::Error)]
#[error("failed to start `{program}`: {source}")]
pub struct SpawnError {
    pub program: String,
    pub source: std::io::Error,
}

/// Stops the group when dropped, unless disarmed: a dropped run leaves no process behind. A
/// supervised group gets SIGTERM (its supervisor then kills the whole tree, after the grace
/// period); an unsupervised one SIGKILL.
struct GroupGuard(Option<Pid>, Signal);

impl GroupGuard {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = killpg(pgid, self.1);
        }
    }
}

/// Runs a command to its end, its deadline, or cancellation.
pub async fn run_command(
    cmd: &Command,
    sup: &Supervision,
    header: Option<&str>,
) -> Result<Finished, SpawnError> {
    let started = Instant::now();
    let log = match &sup.log {
        Some(path) => File::create(path).ok(),
        None => None,
    };
    let capture = Capture::new(sup.limit, log, sup.masker.clone());
    if let Some(h) = header {
        capture::lock(&capture).note(h);
    }

    let (program, args, grace) = match supervise::program() {
        Some(supervisor) => {
            // The supervisor reports a program it cannot start only on stderr: find it here,
            // so that a missing program is an error to the caller as it is unsupervised.
            locate(&cmd.program, cmd.env.get("PATH"), &cmd.cwd).map_err(|source| SpawnError {
                program: cmd.program.clone(),
                source,
            })?;
            (
                supervisor.as_os_str().to_owned(),
                supervise::wrap(sup.grace, &cmd.program, &cmd.args),
                // The supervisor waits the grace period itself; then we wait for it.
                sup.grace + supervise::MARGIN,
            )
        }
        None => (cmd.program.clone().into(), cmd.args.clone(), sup.grace),
    };
    let mut command = tokio::process::Command::new(&program);
    if supervise::program().is_some() {
        command.arg0("codingworker");
    }
    command
        .args(&args)
        .current_dir(&cmd.cwd)
        .env_clear()
        .envs(&cmd.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        // A supervisor must live to clean up: the guard below asks it to stop instead.
        .kill_on_drop(supervise::program().is_none());
    if let Some(fd) = &cmd.fd3 {
        use std::os::fd::AsRawFd;
        let raw = fd.as_raw_fd();
        // SAFETY: between fork and exec only dup2/fcntl, which are async-signal-safe; dup2
        // leaves the new descriptor without close-on-exec, so the program inherits it.
        unsafe {
            command.pre_exec(move || {
                if raw == 3 {
                    nix::fcntl::fcntl(
                        std::os::fd::BorrowedFd::borrow_raw(3),
                        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
                    )?;
                } else if nix::libc::dup2(raw, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = command.spawn().map_err(|source| SpawnError {
        program: cmd.program.clone(),
        source,
    })?;
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));
    let stop = if supervise::program().is_some() {
        Signal::SIGTERM
    } else {
        Signal::SIGKILL
    };
    let mut guard = GroupGuard(pgid, stop);

    let out = child.stdout.take().map(|r| {
        tokio::spawn(capture::pump(
            r,
            capture.clone(),
            Stream::Stdout,
            sup.watch.clone(),
        ))
    });
    let err = child.stderr.take().map(|r| {
        tokio::spawn(capture::pump(
            r,
            capture.clone(),
            Stream::Stderr,
            sup.watch.clone(),
        ))
    });
    let watched = async {
        match &sup.watch {
            Some(w) => w.fired.cancelled().await,
            None => std::future::pending().await,
        }
    };

    let ending = tokio::select! {
        status = child.wait() => ending_of(status),
        () = tokio::time::sleep_until(sup.deadline) => {
            terminate(&mut child, pgid, grace).await;
            Ending::TimedOut
        }
        () = sup.cancel.cancelled() => {
            terminate(&mut child, pgid, grace).await;
            Ending::Cancelled
        }
        () = watched => {
            terminate(&mut child, pgid, grace).await;
            Ending::Stopped
        }
    };
    // The leader is gone; what is left of its group goes with it.
    if let Some(pgid) = pgid {
        let _ = killpg(pgid, Signal::SIGKILL);
    }
    guard.disarm();

    // Drain the pipes. A process that left our group (setsid) may hold them open: give up
    // on it after a moment rather than hang the run.
    for handle in [out, err].into_iter().flatten() {
        let abort = handle.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), handle)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    Ok(Finished {
        ending,
        captured: Capture::finish(capture),
        duration: started.elapsed(),
    })
}

/// Finds `program` the way `execvp` would, on the child's `PATH` (relative to `cwd` for a
/// path with a `/`).
fn locate(program: &str, path: Option<&String>, cwd: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &std::path::Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let found = if program.contains('/') {
        runnable(&cwd.join(program))
    } else {
        path.map(String::as_str)
            .unwrap_or("/usr/bin:/bin")
            .split(':')
            .filter(|d| !d.is_empty())
            .any(|d| runnable(&cwd.join(d).join(program)))
    };
    if found {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "No such file or directory (os error 2)",
        ))
    }
}

fn ending_of(status: std::io::Result<ExitStatus>) -> Ending {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => Ending::Exited(code),
            (None, Some(sig)) => Ending::Signaled(sig),
            (None, None) => Ending::Exited(-1),
        },
        Err(_) => Ending::Exited(-1),
    }
}

/// SIGTERM to the group, then SIGKILL after `grace` if the leader is still there.
async fn terminate(child: &mut tokio::process::Child, pgid: Option<Pid>, grace: Duration) {
    let Some(pgid) = pgid else {
        let _ = child.kill().await;
        return;
    };
    let _ = killpg(pgid, Signal::SIGTERM);
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = killpg(pgid, Signal::SIGKILL);
        let _ = child.wait().await;
    }
}

impl Ending {
    /// A sentence for reports: "exit code 1", "timed out after 10m".
    pub fn describe(self, limit: Option<Duration>) -> String {
        match self {
            // The shell's codes for a program it could not start: say so, it is the usual
            // sign of a tool missing on the machine or from the project's setup.
            Ending::Exited(126) => "exit code 126 (a command could not be executed)".into(),
            Ending::Exited(127) => "exit code 127 (a command was not found)".into(),
            Ending::Exited(c) => format!("exit code {c}"),
            Ending::Signaled(s) => {
                let name = Signal::try_from(s)
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_else(|_| s.to_string());
                format!("killed by signal {name}")
            }
            Ending::TimedOut => match limit {
                Some(d) => format!(
                    "timed out after {}",
                    humantime::format_duration(round_secs(d))
                ),
                None => "timed out".into(),
            },
            Ending::Cancelled => "cancelled".into(),
            Ending::Stopped => "stopped: its output showed it could not succeed".into(),
        }
    }
}

fn round_secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        Command {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            cwd: std::env::temp_dir(),
            env: env::passthrough(&env::current()),
            fd3: None,
        }
    }

    fn sup(timeout: Duration) -> Supervision {
        Supervision {
            deadline: Instant::now() + timeout,
            cancel: CancellationToken::new(),
            grace: Duration::from_millis(500),
            limit: 1 << 20,
            log: None,
            masker: Masker::default(),
            watch: None,
        }
    }

    /// Running, as opposed to gone or a zombie (PID 1 in a container may not reap).
    fn alive(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    }

    #[tokio::test]
    async fn a_watch_stops_the_process_at_the_line_it_fears() {
        let mut s = sup(Duration::from_secs(30));
        s.watch = Some(Watch::new(|l| {
            l.contains("retrying").then(|| format!("saw `{l}`"))
        }));
        let started = std::time::Instant::now();
        let f = run_command(&sh("echo working; echo retrying in 1s; sleep 20"), &s, None)
            .await
            .unwrap();
        assert_eq!(f.ending, Ending::Stopped);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(
            s.watch.unwrap().reason().as_deref(),
            Some("saw `retrying in 1s`")
        );
    }

    #[tokio::test]
    async fn captures_output_and_exit_code() {
        let f = run_command(
            &sh("echo out; echo err >&2; exit 3"),
            &sup(Duration::from_secs(10)),
            None,
        )
        .await
        .unwrap();
        assert_eq!(f.ending, Ending::Exited(3));
        assert_eq!(f.captured.stdout, "out\n");
        assert_eq!(f.captured.stderr, "err\n");
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
        let f = run_command(&sh(&script), &sup(Duration::from_millis(700)), None)
            .await
            .unwrap();
        assert_eq!(f.ending, Ending::TimedOut);
        let grandchild: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Reaped by init shortly after; give it a moment.
        for _ in 0..50 {
            if !alive(grandchild) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !alive(grandchild),
            "the background sleep survived the timeout"
        );
        assert!(f.duration < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn sigkill_follows_an_ignored_sigterm() {
        let f = run_command(
            &sh("trap '' TERM; sleep 300"),
            &sup(Duration::from_millis(300)),
            None,
        )
        .await
        .unwrap();
        assert_eq!(f.ending, Ending::TimedOut);
        assert!(f.duration < Duration::from_secs(5), "{:?}", f.duration);
    }

    #[tokio::test]
    async fn cancellation_stops_the_process() {
        let s = sup(Duration::from_secs(60));
        let cancel = s.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            cancel.cancel();
        });
        let f = run_command(&sh("sleep 300"), &s, None).await.unwrap();
        assert_eq!(f.ending, Ending::Cancelled);
    }

    #[tokio::test]
    async fn a_missing_program_is_a_spawn_error() {
        let mut c = sh("");
        c.program = "/nonexistent/program".into();
        let e = run_command(&c, &sup(Duration::from_secs(1)), None)
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("failed to start `/nonexistent/program`")
        );
    }

    #[test]
    fn endings_read_as_sentences() {
        assert_eq!(Ending::Exited(2).describe(None), "exit code 2");
        assert_eq!(
            Ending::Signaled(9).describe(None),
            "killed by signal SIGKILL"
        );
        assert_eq!(
            Ending::TimedOut.describe(Some(Duration::from_secs(600))),
            "timed out after 10m"
        );
    }
}
