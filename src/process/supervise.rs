//! A step's supervisor: a small process between codingworker and what a step runs, so that
//! nothing the step starts outlives it.
//!
//! A process group is not enough: a test runner or model-written code can leave it
//! (`setsid`, a double fork) and stay behind, reading the environment of the `git` processes
//! that run later. So every process the engine starts runs under `codingworker __supervise`,
//! which
//! - on Linux becomes a *child subreaper*: whatever its descendants orphan is re-parented to
//!   it rather than to init, so every process the step started stays in its tree, whatever
//!   session or group it moved to;
//! - when the command ends, kills everything left in its tree (SIGKILL, round after round
//!   until nothing is left) before it exits, so the step ends only when its processes have;
//! - on SIGTERM (a timeout, a cancel) sends SIGTERM to its whole tree, waits the grace
//!   period for the command, then kills the tree;
//! - when codingworker itself dies (even by `kill -9`), notices that its parent changed
//!   within a tenth of a second and kills the tree.
//!
//! It exits with the command's status (or dies of the command's signal), so codingworker
//! sees what it would have seen without it. On macOS there is no subreaper: the tree is
//! what `ps` shows below the supervisor, and a process that double-forks away is re-parented
//! to launchd and escapes (docs/security.md).

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, kill, sigaction};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpid, getppid};

/// The hidden subcommand that runs the supervisor.
pub const SUBCOMMAND: &str = "__supervise";

/// How long codingworker waits for a supervisor past the grace period it gave it before it
/// kills the group itself.
pub const MARGIN: Duration = Duration::from_secs(3);

static PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Runs every process the engine starts under the supervisor, `program` being this binary.
/// Without it (a library user, unit tests) processes run directly, stopped by their group.
pub fn enable(program: PathBuf) {
    let _ = PROGRAM.set(program);
}

/// The supervisor program, when enabled.
pub fn program() -> Option<&'static PathBuf> {
    PROGRAM.get()
}

/// This binary, to run as the supervisor: `/proc/self/exe` on Linux (which works even when
/// the file was replaced by an upgrade while the worker runs), the current executable
/// elsewhere.
pub fn this_binary() -> Option<PathBuf> {
    let proc = PathBuf::from("/proc/self/exe");
    if cfg!(target_os = "linux") && proc.exists() {
        return Some(proc);
    }
    std::env::current_exe().ok()
}

/// The supervisor's arguments for a command.
pub fn wrap(grace: Duration, program: &str, args: &[String]) -> Vec<String> {
    let mut out = vec![
        SUBCOMMAND.to_owned(),
        grace.as_millis().to_string(),
        "--".to_owned(),
        program.to_owned(),
    ];
    out.extend(args.iter().cloned());
    out
}

static STOP: AtomicBool = AtomicBool::new(false);
/// The write end of the self-pipe the signal handlers wake the main loop with.
static WAKE: AtomicI32 = AtomicI32::new(-1);

fn wake() {
    let fd = WAKE.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; a full pipe just means it is awake anyway.
        unsafe {
            nix::libc::write(fd, [0u8].as_ptr().cast(), 1);
        }
    }
}

extern "C" fn on_stop(_: nix::libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
    wake();
}

extern "C" fn on_child(_: nix::libc::c_int) {
    wake();
}

/// A pipe whose read end the main loop waits on (with a timeout) and whose write end the
/// signal handlers write to: a signal that arrives just before the wait still wakes it.
fn self_pipe() -> Option<std::os::fd::OwnedFd> {
    use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
    use std::os::fd::IntoRawFd;
    let (read, write) = nix::unistd::pipe().ok()?;
    for fd in [&read, &write] {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).ok()?;
        fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).ok()?;
    }
    WAKE.store(write.into_raw_fd(), Ordering::SeqCst);
    Some(read)
}

/// Waits until a signal handler writes to the self-pipe or `timeout` passes.
fn wait_for_signal(pipe: Option<&std::os::fd::OwnedFd>, timeout: Duration) {
    use std::os::fd::AsFd;
    let Some(pipe) = pipe else {
        std::thread::sleep(timeout);
        return;
    };
    let mut fds = [nix::poll::PollFd::new(
        pipe.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms));
    let mut buf = [0u8; 64];
    while nix::unistd::read(pipe, &mut buf).is_ok_and(|n| n > 0) {}
}

/// The supervisor: `args` are what follows the subcommand (`GRACE_MS -- PROGRAM ARGS…`).
pub fn main(args: &[OsString]) -> ! {
    let (grace, program, rest) = match parse(args) {
        Some(p) => p,
        None => {
            eprintln!("codingworker {SUBCOMMAND}: usage: GRACE_MS -- PROGRAM [ARGS…]");
            std::process::exit(2);
        }
    };
    let parent = getppid();
    let pipe = self_pipe();
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let stop = SigAction::new(
        SigHandler::Handler(on_stop),
        SaFlags::empty(),
        SigSet::empty(),
    );
    let child = SigAction::new(
        SigHandler::Handler(on_child),
        SaFlags::SA_NOCLDSTOP,
        SigSet::empty(),
    );
    // SAFETY: the handlers only store to an atomic (or do nothing).
    unsafe {
        for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
            let _ = sigaction(sig, &stop);
        }
        let _ = sigaction(Signal::SIGCHLD, &child);
    }
    let leader = match std::process::Command::new(&program).args(&rest).spawn() {
        Ok(c) => Pid::from_raw(c.id() as i32),
        Err(e) => {
            eprintln!(
                "codingworker: failed to start `{}`: {e}",
                program.to_string_lossy()
            );
            std::process::exit(127);
        }
    };
    let me = getpid();
    let mut status = None;
    let mut stopping: Option<Instant> = None;
    loop {
        reap(leader, &mut status);
        if status.is_some() {
            break;
        }
        if getppid() != parent {
            // codingworker is gone: so is everything it started.
            kill_tree(me, &mut status, leader);
            std::process::exit(1);
        }
        if STOP.load(Ordering::SeqCst) && stopping.is_none() {
            signal_tree(me, Signal::SIGTERM);
            stopping = Some(Instant::now());
        }
        if stopping.is_some_and(|t| t.elapsed() >= grace) {
            break;
        }
        // Woken early by SIGCHLD or a stop signal; every 100 ms to see whether the parent
        // is still there.
        wait_for_signal(pipe.as_ref(), Duration::from_millis(100));
    }
    kill_tree(me, &mut status, leader);
    exit_like(status)
}

fn parse(args: &[OsString]) -> Option<(Duration, OsString, Vec<OsString>)> {
    let grace: u64 = args.first()?.to_str()?.parse().ok()?;
    if args.get(1)?.to_str()? != "--" {
        return None;
    }
    let program = args.get(2)?.clone();
    Some((
        Duration::from_millis(grace),
        program,
        args.get(3..).unwrap_or_default().to_vec(),
    ))
}

/// Reaps every child that ended; records the leader's status.
fn reap(leader: Pid, status: &mut Option<WaitStatus>) {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(ws) => {
                if ws.pid() == Some(leader)
                    && matches!(ws, WaitStatus::Exited(..) | WaitStatus::Signaled(..))
                {
                    *status = Some(ws);
                }
            }
            Err(Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

fn signal_tree(me: Pid, sig: Signal) {
    for pid in descendants(me) {
        let _ = kill(pid, sig);
    }
}

/// Kills every process below the supervisor, round after round (a process killed may leave
/// children that are re-parented to us), until none is left.
fn kill_tree(me: Pid, status: &mut Option<WaitStatus>, leader: Pid) {
    for _ in 0..500 {
        let live = descendants(me);
        reap(leader, status);
        if live.is_empty() {
            return;
        }
        for pid in live {
            let _ = kill(pid, Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(2));
        reap(leader, status);
    }
}

/// Exits with the command's exit code, or dies of its signal.
fn exit_like(status: Option<WaitStatus>) -> ! {
    match status {
        Some(WaitStatus::Exited(_, code)) => std::process::exit(code),
        Some(WaitStatus::Signaled(_, sig, _)) => {
            // No core file of ours for the command's crash.
            let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
            let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
            // SAFETY: restoring the default disposition.
            unsafe {
                let _ = sigaction(sig, &default);
            }
            let _ = nix::sys::signal::sigprocmask(
                nix::sys::signal::SigmaskHow::SIG_UNBLOCK,
                Some(&SigSet::all()),
                None,
            );
            let _ = kill(getpid(), sig);
            std::process::exit(128 + sig as i32)
        }
        _ => std::process::exit(1),
    }
}

/// The processes below `root` (zombies not yet reaped included on Linux, where the kernel's
/// list of each process's children is read; elsewhere from the whole process table).
pub fn descendants(root: Pid) -> Vec<Pid> {
    #[cfg(target_os = "linux")]
    if let Some(found) = linux_descendants(root) {
        return found;
    }
    let table = process_table();
    let mut out = Vec::new();
    let mut frontier = vec![root.as_raw()];
    while let Some(p) = frontier.pop() {
        for &(pid, ppid, zombie) in &table {
            if ppid == p && pid != root.as_raw() {
                frontier.push(pid);
                if !zombie {
                    out.push(Pid::from_raw(pid));
                }
            }
        }
    }
    out
}

/// Walks `/proc/PID/task/*/children` from `root`; `None` when the kernel does not provide
/// those files (then the process table is read).
#[cfg(target_os = "linux")]
fn linux_descendants(root: Pid) -> Option<Vec<Pid>> {
    let children = |pid: i32| -> Option<Vec<i32>> {
        let mut out = Vec::new();
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        for task in tasks.flatten() {
            let list = std::fs::read_to_string(task.path().join("children")).ok()?;
            out.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
        Some(out)
    };
    let mut out = Vec::new();
    let mut frontier = children(root.as_raw())?;
    while let Some(pid) = frontier.pop() {
        out.push(Pid::from_raw(pid));
        // A process that ended between the two reads has no children to list.
        frontier.extend(children(pid).unwrap_or_default());
    }
    Some(out)
}

/// Every process: pid, parent pid, whether it is a zombie.
fn process_table() -> Vec<(i32, i32, bool)> {
    #[cfg(target_os = "linux")]
    if let Ok(dir) = std::fs::read_dir("/proc") {
        return dir
            .flatten()
            .filter_map(|e| {
                let pid: i32 = e.file_name().to_str()?.parse().ok()?;
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                parse_stat(&stat).map(|(ppid, zombie)| (pid, ppid, zombie))
            })
            .collect();
    }
    let out = std::process::Command::new("ps")
        .args(["-A", "-o", "pid=", "-o", "ppid=", "-o", "stat="])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    parse_ps(&out)
}

/// `/proc/PID/stat`: the parent pid and whether the process is a zombie (the fields after
/// the command name, which may itself hold spaces and parentheses).
fn parse_stat(stat: &str) -> Option<(i32, bool)> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut f = rest.split_whitespace();
    let state = f.next()?;
    let ppid = f.next()?.parse().ok()?;
    Some((ppid, state == "Z" || state == "X"))
}

/// `ps -o pid= -o ppid= -o stat=` lines.
fn parse_ps(text: &str) -> Vec<(i32, i32, bool)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let pid = f.next()?.parse().ok()?;
            let ppid = f.next()?.parse().ok()?;
            let stat = f.next().unwrap_or("");
            Some((pid, ppid, stat.starts_with('Z')))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_process_table_both_ways() {
        assert_eq!(parse_stat("12 (a b) c)) S 7 12 12"), Some((7, false)));
        assert_eq!(parse_stat("12 (x) Z 1 0"), Some((1, true)));
        assert_eq!(
            parse_ps("  1     0 Ss\n 42     1 Z+\nbad\n 43 42 R\n"),
            [(1, 0, false), (42, 1, true), (43, 42, false)]
        );
    }

    #[test]
    fn finds_this_process_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let found = descendants(getpid());
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            found.contains(&Pid::from_raw(child.id() as i32)),
            "{found:?}"
        );
    }

    #[test]
    fn wraps_and_parses_its_arguments() {
        let args: Vec<OsString> = wrap(
            Duration::from_millis(1500),
            "sh",
            &["-c".into(), "x".into()],
        )
        .into_iter()
        .skip(1)
        .map(Into::into)
        .collect();
        let (grace, program, rest) = parse(&args).unwrap();
        assert_eq!(grace, Duration::from_millis(1500));
        assert_eq!(program, "sh");
        assert_eq!(rest, ["-c", "x"]);
        assert!(parse(&["x".into()]).is_none());
    }
}
