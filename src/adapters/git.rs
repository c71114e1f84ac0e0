//! Git: the run's worktree, snapshots to tell what a step changed, resets between attempts,
//! commits, and pushing the run branch.
//!
//! Local work goes through git2 (libgit2). Pushing runs the `git` CLI: libgit2 has no
//! `--force-with-lease`, and its https transport needs OpenSSL on Linux. A token for https
//! reaches git through a socket it inherits as file descriptor 3, read by a credential helper
//! for the remote's host only: never in an environment, on a command line or on disk, where
//! other processes of the same user (a step's) could read it.

use std::path::{Path, PathBuf};

use git2::{
    BranchType, IndexAddOption, Oid, Repository, ResetType, Signature, StatusOptions,
    WorktreeAddOptions,
};

/// A git operation that failed, in a sentence.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GitError(pub String);

impl From<git2::Error> for GitError {
    fn from(e: git2::Error) -> Self {
        GitError(e.message().to_owned())
    }
}

fn context(what: &str) -> impl FnOnce(git2::Error) -> GitError + '_ {
    move |e| GitError(format!("{what}: {}", e.message()))
}

/// The repository a local run starts from.
pub(crate) struct SourceRepo {
    pub repo: Repository,
    /// The repository's working directory (for messages).
    pub root: PathBuf,
}

impl SourceRepo {
    /// Finds the repository at or above `dir`.
    pub(crate) fn discover(dir: &Path) -> Result<Self, GitError> {
        let repo = Repository::discover(dir)
            .map_err(|_| GitError(format!("{} is not inside a git repository", dir.display())))?;
        if repo.is_bare() {
            return Err(GitError(format!(
                "{} is a bare repository; give a checkout",
                dir.display()
            )));
        }
        // libgit2 gives the working directory with a trailing slash.
        let root = repo
            .workdir()
            .unwrap_or(dir)
            .components()
            .collect::<PathBuf>();
        Ok(Self { repo, root })
    }

    /// Whether a local branch of this name exists.
    pub(crate) fn has_branch(&self, branch: &str) -> bool {
        self.repo.find_branch(branch, BranchType::Local).is_ok()
    }

    /// The commit HEAD points at.
    pub(crate) fn head_commit(&self) -> Result<Oid, GitError> {
        let head = self.repo.head().map_err(|_| {
            GitError(format!(
                "{} has no commits yet; commit something first",
                self.root.display()
            ))
        })?;
        Ok(head
            .peel_to_commit()
            .map_err(context("failed to read HEAD"))?
            .id())
    }

    /// Creates `branch` at HEAD and a worktree for it at `path` (which must not exist).
    /// An existing branch is an error unless `force`, which starts it again from HEAD and
    /// removes a worktree of an earlier run that still has it checked out (only one under
    /// `ours`, the directory of our worktrees).
    pub(crate) fn add_worktree(
        &self,
        branch: &str,
        path: &Path,
        name: &str,
        force: bool,
        ours: &Path,
    ) -> Result<(), GitError> {
        if !git2::Branch::name_is_valid(branch).unwrap_or(false) {
            return Err(GitError(format!("`{branch}` is not a valid branch name")));
        }
        let head = self.repo.find_commit(self.head_commit()?)?;
        if let Ok(mut existing) = self.repo.find_branch(branch, BranchType::Local) {
            if !force {
                let removal = match self.worktrees_on(branch).first() {
                    Some(wt) => format!(
                        "git worktree remove --force {} && git branch -D {branch}",
                        wt.path().display()
                    ),
                    None => format!("git branch -D {branch}"),
                };
                return Err(GitError(format!(
                    "branch `{branch}` already exists in {} (from an earlier run?); run again with --force to restart it from HEAD, or remove it: {removal}",
                    self.root.display()
                )));
            }
            if !self.is_ours(branch) {
                return Err(GitError(format!(
                    "branch `{branch}` exists in {} and was not created by codingworker; refusing to replace it",
                    self.root.display()
                )));
            }
            if existing.is_head() {
                return Err(GitError(format!(
                    "branch `{branch}` is checked out in {}; switch away from it first",
                    self.root.display()
                )));
            }
            self.remove_worktrees_of(branch, ours)?;
            existing
                .delete()
                .map_err(context("failed to delete the old run branch"))?;
        }
        let created = self
            .repo
            .branch(branch, &head, false)
            .map_err(context("failed to create the run branch"))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| GitError(format!("failed to create {}: {e}", parent.display())))?;
        }
        let mut opts = WorktreeAddOptions::new();
        opts.reference(Some(created.get()));
        self.repo
            .worktree(name, path, Some(&opts))
            .map_err(context("failed to create the worktree"))?;
        // Mark the branch as ours, so that --force may replace it later (and only it).
        if let Ok(mut config) = self.repo.config() {
            let _ = config.set_str(&format!("branch.{branch}.codingworker"), name);
        }
        Ok(())
    }

    /// Whether `branch` was created by a codingworker run.
    fn is_ours(&self, branch: &str) -> bool {
        self.repo
            .config()
            .and_then(|c| c.get_string(&format!("branch.{branch}.codingworker")))
            .is_ok()
    }

    /// Removes a run's worktree and branch, for a run that could not start.
    pub(crate) fn remove_run(&self, branch: &str, ours: &Path) {
        let _ = self.remove_worktrees_of(branch, ours);
        if let Ok(mut b) = self.repo.find_branch(branch, BranchType::Local) {
            let _ = b.delete();
        }
        if let Ok(mut config) = self.repo.config() {
            let _ = config.remove(&format!("branch.{branch}.codingworker"));
        }
    }

    /// The worktrees that have `branch` checked out.
    fn worktrees_on(&self, branch: &str) -> Vec<git2::Worktree> {
        let wanted = format!("refs/heads/{branch}");
        let Ok(names) = self.repo.worktrees() else {
            return Vec::new();
        };
        names
            .iter()
            .flatten()
            .flatten()
            .filter_map(|name| self.repo.find_worktree(name).ok())
            .filter(|wt| {
                Repository::open_from_worktree(wt)
                    .ok()
                    .and_then(|r| r.head().ok().and_then(|h| h.name().ok().map(str::to_owned)))
                    .as_deref()
                    == Some(wanted.as_str())
            })
            .collect()
    }

    fn remove_worktrees_of(&self, branch: &str, ours: &Path) -> Result<(), GitError> {
        for wt in self.worktrees_on(branch) {
            let inside_ours = wt
                .path()
                .canonicalize()
                .ok()
                .zip(ours.canonicalize().ok())
                .is_some_and(|(p, o)| p.starts_with(o));
            if !inside_ours {
                return Err(GitError(format!(
                    "branch `{branch}` is checked out in the worktree {}; remove it first (`git worktree remove`)",
                    wt.path().display()
                )));
            }
            let mut prune = git2::WorktreePruneOptions::new();
            prune.valid(true).working_tree(true);
            wt.prune(Some(&mut prune))
                .map_err(context("failed to remove the old worktree"))?;
        }
        Ok(())
    }
}

/// What a checkout looks like at one moment: HEAD and the status of every path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub head: Option<Oid>,
    pub status: Vec<(String, u32)>,
}

/// The checkout a run works in.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
}

impl Workspace {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Runs `f` on the blocking pool: git work (hashing a large checkout, a reset) never
    /// holds one of the async threads that also carry the queue's heartbeats.
    pub async fn off_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Workspace) -> T + Send + 'static,
    ) -> T {
        let ws = self.clone();
        match tokio::task::spawn_blocking(move || f(&ws)).await {
            Ok(v) => v,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("git work on the blocking pool did not finish: {e}"),
        }
    }

    fn open(&self) -> Result<Repository, GitError> {
        Repository::open(&self.root).map_err(|e| {
            GitError(format!(
                "failed to open the checkout {}: {}",
                self.root.display(),
                e.message()
            ))
        })
    }

    pub fn head(&self) -> Result<Option<Oid>, GitError> {
        let repo = self.open()?;
        Ok(repo.head().ok().and_then(|h| h.target()))
    }

    pub fn snapshot(&self) -> Result<Snapshot, GitError> {
        let repo = self.open()?;
        let head = repo.head().ok().and_then(|h| h.target());
        let mut opts = StatusOptions::new();
        opts.include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false);
        let mut status: Vec<(String, u32)> = repo
            .statuses(Some(&mut opts))?
            .iter()
            .filter_map(|e| e.path().ok().map(|p| (p.to_owned(), e.status().bits())))
            .collect();
        status.sort();
        Ok(Snapshot { head, status })
    }

    /// The content of the checkout as a git tree: tracked and untracked files, ignored ones
    /// left out, whatever is committed or not. (Writes the tree's objects; the index on disk
    /// is not touched.)
    pub fn content_tree(&self) -> Result<Oid, GitError> {
        let repo = self.open()?;
        Ok(stage_all(&repo)?.write_tree()?)
    }

    /// Whether the checkout's content differs from `before` (a [`Self::content_tree`]) in a
    /// way that counts as work: not only empty files added. aider commits an empty file for
    /// every named file that did not exist, and commits uncommitted changes it finds, even
    /// when the model then does nothing; neither is work.
    pub fn content_changed(&self, before: Oid) -> Result<bool, GitError> {
        let after = self.content_tree()?;
        if after == before {
            return Ok(false);
        }
        let repo = self.open()?;
        let empty_blob = Oid::hash_object(git2::ObjectType::Blob, b"")?;
        let diff = repo.diff_tree_to_tree(
            Some(&repo.find_tree(before)?),
            Some(&repo.find_tree(after)?),
            None,
        )?;
        Ok(diff
            .deltas()
            .any(|d| !(d.status() == git2::Delta::Added && d.new_file().id() == empty_blob)))
    }

    /// The files of `since` (a commit) that the checkout has changed or deleted since,
    /// committed or not (files added since are not among them).
    pub fn changed_since(&self, since: Oid) -> Result<Vec<String>, GitError> {
        let repo = self.open()?;
        let before = repo.find_commit(since)?.tree()?;
        let after = stage_all(&repo)?.write_tree()?;
        let diff = repo.diff_tree_to_tree(Some(&before), Some(&repo.find_tree(after)?), None)?;
        Ok(diff
            .deltas()
            .filter(|d| d.status() != git2::Delta::Added)
            .filter_map(|d| {
                d.old_file()
                    .path()
                    .map(|p| p.to_string_lossy().into_owned())
            })
            .collect())
    }

    /// Makes the checkout what `commit` was: later commits dropped, changes and untracked
    /// files removed, ignored files kept (like `git reset --hard` then `git clean -fd`).
    pub fn reset_to(&self, commit: Oid) -> Result<(), GitError> {
        let repo = self.open()?;
        let target = repo
            .find_commit(commit)
            .map_err(context("failed to find the commit to reset to"))?;
        repo.reset(target.as_object(), ResetType::Hard, None)
            .map_err(context("failed to reset the checkout"))?;
        let mut opts = StatusOptions::new();
        opts.include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false);
        let untracked: Vec<PathBuf> = repo
            .statuses(Some(&mut opts))?
            .iter()
            .filter(|e| e.status().is_wt_new())
            .filter_map(|e| e.path().ok().map(|p| self.root.join(p)))
            .collect();
        for path in untracked {
            std::fs::remove_file(&path)
                .map_err(|e| GitError(format!("failed to remove {}: {e}", path.display())))?;
            // Remove directories the removal emptied, up to the root.
            let mut dir = path.parent();
            while let Some(d) = dir {
                if d == self.root || std::fs::remove_dir(d).is_err() {
                    break;
                }
                dir = d.parent();
            }
        }
        Ok(())
    }

    /// Commits every change (new, modified, deleted; ignored files stay out). `None` when
    /// there was nothing to commit.
    pub fn commit_all(&self, message: &str) -> Result<Option<Oid>, GitError> {
        let repo = self.open()?;
        let mut index = stage_all(&repo)?;
        index.write()?;
        let tree_id = index.write_tree()?;
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        if parent.as_ref().is_some_and(|p| p.tree_id() == tree_id) {
            return Ok(None);
        }
        let tree = repo.find_tree(tree_id)?;
        let sig = signature(&repo);
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        let oid = repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .map_err(context("failed to commit"))?;
        Ok(Some(oid))
    }

    /// Whether the checkout has a user identity for commits (aider commits too).
    pub fn has_identity(&self) -> bool {
        self.open()
            .ok()
            .and_then(|r| r.config().ok())
            .is_some_and(|c| {
                c.get_string("user.name").is_ok() && c.get_string("user.email").is_ok()
            })
    }
}

/// The index with every change of the checkout staged: new, modified and deleted files,
/// ignored ones left out. Nothing is written to disk.
fn stage_all(repo: &Repository) -> Result<git2::Index, GitError> {
    let mut index = repo.index()?;
    index
        .add_all(["*"], IndexAddOption::DEFAULT, None)
        .map_err(context("failed to stage changes"))?;
    index
        .update_all(["*"], None)
        .map_err(context("failed to stage deletions"))?;
    Ok(index)
}

/// The identity of our own commits: the repository's, else codingworker's.
fn signature(repo: &Repository) -> Signature<'static> {
    repo.signature()
        .map(|s| s.to_owned())
        .unwrap_or_else(|_| Signature::now(IDENTITY.0, IDENTITY.1).expect("a valid signature"))
}

/// Name and e-mail used when the repository has no identity configured.
pub(crate) const IDENTITY: (&str, &str) = ("codingworker", "codingworker@localhost");

/// A remote repository: where the worker fetches from and `pr_open` pushes the run branch.
#[derive(Clone)]
pub struct Remote {
    pub url: String,
    /// For https remotes; sent as an HTTP header, for the remote's host only.
    pub token: Option<String>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Settings that keep git from running anything a step could have planted in the
/// repository's configuration while the token is in its environment: hooks, an fsmonitor,
/// credential helpers.
const HARDENING: [&str; 8] = [
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "credential.helper=",
    "-c",
    "protocol.ext.allow=never",
];

/// The credential helper: for `get`, the answer waiting on fd 3 (a socket nobody else holds).
/// `store` and `erase` are ignored.
const HELPER: &str = "!f() { test \"$1\" = get || exit 0; cat <&3; }; f";

/// A socket holding git's credential answer for `token`, closed for writing: whoever reads
/// it gets the answer, then end of file. Unlike a pipe or a file, a socket cannot be opened
/// again through `/proc/PID/fd` by another process.
fn credential_socket(token: &str) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::io::Write;
    if token.contains(['\n', '\0']) {
        return Err(std::io::Error::other("the token holds a line break or NUL"));
    }
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    (&ours).write_all(format!("username=x-access-token\npassword={token}\n").as_bytes())?;
    drop(ours);
    Ok(theirs.into())
}

impl Remote {
    /// A git command in `dir` with a scrubbed environment: the basics from `parent`,
    /// `SSH_AUTH_SOCK` for ssh remotes, and the token on a socket (fd 3) that a credential
    /// helper scoped to the remote's origin reads: a URL rewritten to another host does not
    /// get it, and no other process can read it from git's environment or arguments.
    pub(crate) fn git(
        &self,
        dir: &Path,
        parent: &std::collections::BTreeMap<String, String>,
        args_in: &[&str],
    ) -> crate::process::Command {
        let mut env = crate::process::env::passthrough(parent);
        if let Some(sock) = parent.get("SSH_AUTH_SOCK") {
            env.insert("SSH_AUTH_SOCK".into(), sock.clone());
        }
        env.insert("GIT_TERMINAL_PROMPT".into(), "0".into());
        // Steps run as the same user: they could have written ~/.gitconfig (a proxy, TLS
        // settings, URL rewrites). With the token in reach, only our settings apply;
        // proxies still come from HTTPS_PROXY and friends.
        env.insert("GIT_CONFIG_NOSYSTEM".into(), "1".into());
        env.insert("GIT_CONFIG_GLOBAL".into(), "/dev/null".into());
        let mut args: Vec<String> = HARDENING.iter().map(|s| (*s).to_owned()).collect();
        let mut fd3 = None;
        if let (Some(token), Some(origin)) = (&self.token, origin_of(&self.url)) {
            match credential_socket(token) {
                Ok(fd) => {
                    fd3 = Some(std::sync::Arc::new(fd));
                    args.extend([
                        "-c".to_owned(),
                        format!("credential.{origin}.helper={HELPER}"),
                    ]);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "failed to hand the token to git; going on without it")
                }
            }
        }
        args.extend(args_in.iter().map(|s| (*s).to_owned()));
        crate::process::Command {
            program: "git".into(),
            args,
            cwd: dir.to_path_buf(),
            env,
            fd3,
        }
    }

    /// `git ls-remote URL refs/heads/BRANCH`: what the remote has for the branch now.
    pub fn ls_remote(
        &self,
        dir: &Path,
        parent: &std::collections::BTreeMap<String, String>,
        branch: &str,
    ) -> Result<crate::process::Command, GitError> {
        self.check_url()?;
        Ok(self.git(
            dir,
            parent,
            &["ls-remote", &self.url, &format!("refs/heads/{branch}")],
        ))
    }

    /// Pushes `commit` (of the repository `dir`) to `branch` with a lease: it overwrites
    /// only `expected`, the commit the remote had when we looked (none: the branch must not
    /// exist), so nobody else's push is lost.
    pub fn push(
        &self,
        dir: &Path,
        parent: &std::collections::BTreeMap<String, String>,
        branch: &str,
        expected: Option<&str>,
        commit: &str,
    ) -> Result<crate::process::Command, GitError> {
        self.check_url()?;
        let lease = format!(
            "--force-with-lease=refs/heads/{branch}:{}",
            expected.unwrap_or("")
        );
        let refspec = format!("{commit}:refs/heads/{branch}");
        Ok(self.git(
            dir,
            parent,
            &[
                "push",
                "--no-verify",
                "--porcelain",
                &lease,
                &self.url,
                &refspec,
            ],
        ))
    }

    /// Fetches `branch` of the remote into `refs/remotes/origin/BRANCH` of the (bare)
    /// repository `dir`.
    pub fn fetch(
        &self,
        dir: &Path,
        parent: &std::collections::BTreeMap<String, String>,
        branch: &str,
    ) -> Result<crate::process::Command, GitError> {
        self.check_url()?;
        let refspec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
        Ok(self.git(
            dir,
            parent,
            &[
                "fetch",
                "--no-tags",
                "--no-write-fetch-head",
                &self.url,
                &refspec,
            ],
        ))
    }

    fn check_url(&self) -> Result<(), GitError> {
        if self.url.starts_with('-') || self.url.is_empty() {
            return Err(GitError(format!("`{}` is not a repository URL", self.url)));
        }
        Ok(())
    }
}

/// A throwaway bare repository that borrows a checkout's objects (git alternates). Network
/// commands that carry the token run there rather than in the checkout, so that no
/// repository configuration a step could have written (a proxy, TLS settings, URL rewrites;
/// in the checkout, or in the mirror a worker's worktree shares its configuration with)
/// applies. Removed when dropped.
pub(crate) struct CleanRoom {
    pub dir: PathBuf,
}

impl CleanRoom {
    /// Creates it at `at` (replacing whatever is there) for the repository of `checkout`.
    pub(crate) fn for_checkout(checkout: &Path, at: &Path) -> Result<CleanRoom, GitError> {
        let repo = Repository::open(checkout).map_err(context("failed to open the checkout"))?;
        let objects = repo.commondir().join("objects");
        let _ = std::fs::remove_dir_all(at);
        Repository::init_bare(at).map_err(context("failed to create a clean repository"))?;
        let room = CleanRoom {
            dir: at.to_path_buf(),
        };
        std::fs::write(
            at.join("objects/info/alternates"),
            format!("{}\n", objects.display()),
        )
        .map_err(|e| GitError(format!("failed to write {}: {e}", at.display())))?;
        Ok(room)
    }
}

impl Drop for CleanRoom {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The commit `ls-remote` output names for `refs/heads/BRANCH`, if any.
pub(crate) fn parse_ls_remote(output: &str, branch: &str) -> Option<String> {
    let refname = format!("refs/heads/{branch}");
    output.lines().find_map(|l| {
        l.split_once('\t')
            .filter(|(_, r)| r.trim() == refname)
            .map(|(sha, _)| sha.trim().to_owned())
    })
}

/// `https://host[:port]` of an http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let host = rest.split('/').next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    Some(format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_scoped_to_the_remote_host() {
        assert_eq!(
            origin_of("https://github.com/o/r.git").as_deref(),
            Some("https://github.com")
        );
        assert_eq!(
            origin_of("https://x@ghe.local:8443/o/r").as_deref(),
            Some("https://ghe.local:8443")
        );
        assert_eq!(origin_of("/srv/git/r.git"), None);
        assert_eq!(origin_of("git@github.com:o/r.git"), None);
        let target = Remote {
            url: "https://github.com/o/r.git".into(),
            token: Some("tok".into()),
        };
        let cmd = target
            .push(
                Path::new("/tmp"),
                &std::collections::BTreeMap::new(),
                "b",
                None,
                "0123abc",
            )
            .unwrap();
        assert!(
            cmd.args
                .contains(&format!("credential.https://github.com.helper={HELPER}"))
        );
        assert!(cmd.fd3.is_some());
        assert!(
            !cmd.args
                .iter()
                .chain(cmd.env.values())
                .any(|a| a.contains("tok")),
            "the token is in no argument and no variable"
        );
        assert!(cmd.args.contains(&"core.hooksPath=/dev/null".to_owned()));
        assert!(cmd.args.contains(&"0123abc:refs/heads/b".to_owned()));
        assert_eq!(cmd.env["GIT_CONFIG_GLOBAL"], "/dev/null");
        // A remote on another host, or without a token, gets no helper and no socket.
        let plain = Remote {
            url: "/srv/git/r.git".into(),
            token: Some("tok".into()),
        }
        .push(Path::new("/tmp"), &Default::default(), "b", None, "0123abc")
        .unwrap();
        assert!(plain.fd3.is_none());
        assert!(
            Remote {
                url: "--upload-pack=x".into(),
                token: None
            }
            .ls_remote(Path::new("/tmp"), &Default::default(), "b")
            .is_err()
        );
    }

    /// An HTTP git server that wants Basic credentials: answers 401 until it gets them, then
    /// (after a pause that gives a spy time to look) advertises one branch. Returns its URL
    /// and the credentials it was sent.
    fn git_http_server(
        sha: &'static str,
    ) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/o/r.git", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let got = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut auth = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Authorization: ") {
                        auth = Some(v.trim().to_owned());
                    }
                }
                let mut out = stream;
                let Some(auth) = auth else {
                    let _ = out.write_all(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    continue;
                };
                got.lock().unwrap().push(auth);
                std::thread::sleep(std::time::Duration::from_millis(400));
                let pkt = |s: &str| format!("{:04x}{s}", s.len() + 4);
                let body = format!(
                    "{}0000{}0000",
                    pkt("# service=git-upload-pack\n"),
                    pkt(&format!("{sha} refs/heads/main\0multi_ack\n"))
                );
                let _ = write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-git-upload-pack-advertisement\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (url, seen)
    }

    /// What every `git` process of ours shows to another process of the same user while it
    /// runs: its environment, its arguments, and what its open descriptors give when opened
    /// again through /proc (Linux).
    #[cfg(target_os = "linux")]
    fn spy_on_git(
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> std::thread::JoinHandle<(usize, String)> {
        std::thread::spawn(move || {
            let mut seen = std::collections::HashSet::new();
            let mut text = String::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                for e in std::fs::read_dir("/proc").unwrap().flatten() {
                    let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok())
                    else {
                        continue;
                    };
                    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                    if !(cmdline.starts_with("git ")
                        || cmdline.contains("git-remote-http")
                        || cmdline.contains("<&3"))
                    {
                        continue;
                    }
                    seen.insert(pid);
                    text.push_str(&cmdline);
                    let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                    text.push_str(&String::from_utf8_lossy(&env));
                    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
                        for fd in fds.flatten() {
                            // Opening a socket through /proc fails; a file would give what
                            // is in it (pipes are left alone: reading one steals git's data).
                            let target = std::fs::read_link(fd.path()).unwrap_or_default();
                            if target.to_string_lossy().starts_with("pipe:") {
                                continue;
                            }
                            use std::os::unix::fs::OpenOptionsExt;
                            if let Ok(mut f) = std::fs::OpenOptions::new()
                                .read(true)
                                .custom_flags(nix::libc::O_NONBLOCK)
                                .open(fd.path())
                            {
                                let mut buf = vec![0u8; 4096];
                                if let Ok(n) = std::io::Read::read(&mut f, &mut buf) {
                                    text.push_str(&String::from_utf8_lossy(&buf[..n]));
                                }
                            }
                        }
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            (seen.len(), text)
        })
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_token_reaches_the_server_and_no_other_process_can_read_it() {
        use base64::Engine as _;
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let (url, seen) = git_http_server(sha);
        let token = "ghs_spytarget0123456789abcdefABCDEF";
        let dir = tempfile::tempdir().unwrap();
        let remote = Remote {
            url,
            token: Some(token.into()),
        };
        let cmd = remote
            .ls_remote(dir.path(), &crate::process::env::current(), "main")
            .unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let spy = spy_on_git(stop.clone());
        let sup = crate::process::Supervision {
            deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(30),
            cancel: tokio_util::sync::CancellationToken::new(),
            grace: std::time::Duration::from_secs(1),
            limit: 1 << 20,
            log: None,
            masker: crate::mask::Masker::default(),
            watch: None,
        };
        let done = crate::process::run_command(&cmd, &sup, None).await.unwrap();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let (processes, text) = spy.join().unwrap();
        assert_eq!(
            done.ending,
            crate::process::Ending::Exited(0),
            "{}",
            done.captured.output
        );
        assert!(
            done.captured.stdout.contains(sha),
            "{}",
            done.captured.stdout
        );
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
        assert_eq!(*seen.lock().unwrap(), [format!("Basic {basic}")]);
        assert!(
            processes >= 1,
            "the spy saw no git process: the test proves nothing"
        );
        assert!(!text.contains(token), "the spy read the token");
        assert!(!text.contains(&basic), "the spy read the token's header");
    }

    #[test]
    fn reads_ls_remote_output() {
        let out = "abc123\trefs/heads/auto-code/issue-7\ndef456\trefs/heads/auto-code/issue-70\n";
        assert_eq!(
            parse_ls_remote(out, "auto-code/issue-7").as_deref(),
            Some("abc123")
        );
        assert_eq!(parse_ls_remote(out, "other"), None);
    }
}
