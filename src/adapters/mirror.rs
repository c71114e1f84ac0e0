//! The worker's repository cache: one bare mirror per repository under the workdir. The
//! first task of a repository creates it and fetches the default branch; later tasks only
//! fetch. Each run gets a fresh worktree of the mirror on its run branch, removed after the
//! task, so the user's own clones are never involved and disk use stays bounded (worktrees
//! are removed, the least recently used mirrors beyond a limit are deleted).
//!
//! Fetching runs the `git` CLI (https needs no OpenSSL in-process, and a token travels as a
//! header in the child's environment, see [`Remote`]); the rest is libgit2.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::{BranchType, Oid, Repository, WorktreeAddOptions};

use super::git::{GitError, Remote};
use crate::process::{self, Ending, Supervision};

/// A bare mirror of one repository.
#[derive(Debug, Clone)]
pub(crate) struct Mirror {
    pub dir: PathBuf,
}

/// The configuration of a mirror, as `git init --bare` writes it.
const PRISTINE_CONFIG: &str =
    "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n";

/// The file whose time stamp says when a mirror was last used.
const USED_MARKER: &str = "codingworker-used";

impl Mirror {
    /// The mirror of `owner/name` under `cache` (names are case-insensitive on GitHub).
    pub(crate) fn for_repo(cache: &Path, full_name: &str) -> Mirror {
        let (owner, name) = full_name.split_once('/').unwrap_or(("_", full_name));
        Mirror {
            dir: cache
                .join(owner.to_ascii_lowercase())
                .join(format!("{}.git", name.to_ascii_lowercase())),
        }
    }

    fn open(&self) -> Result<Repository, GitError> {
        Repository::open_bare(&self.dir).map_err(|e| {
            GitError(format!(
                "failed to open the mirror {}: {}",
                self.dir.display(),
                e.message()
            ))
        })
    }

    /// Creates the mirror if needed and fetches `branch` from `remote`; returns the commit
    /// the branch points at.
    pub(crate) async fn update(
        &self,
        remote: &Remote,
        branch: &str,
        parent: &BTreeMap<String, String>,
        sup: &Supervision,
    ) -> Result<Oid, GitError> {
        if !self.dir.join("HEAD").exists() {
            std::fs::create_dir_all(&self.dir)
                .map_err(|e| GitError(format!("failed to create {}: {e}", self.dir.display())))?;
            Repository::init_bare(&self.dir).map_err(|e| {
                GitError(format!(
                    "failed to create the mirror {}: {}",
                    self.dir.display(),
                    e.message()
                ))
            })?;
        }
        let _ = std::fs::write(self.dir.join(USED_MARKER), b"");
        // Worktrees share this configuration, and steps run in worktrees: start every fetch
        // (the token is in reach) from a configuration that is ours.
        std::fs::write(self.dir.join("config"), PRISTINE_CONFIG).map_err(|e| {
            GitError(format!(
                "failed to reset {}/config: {e}",
                self.dir.display()
            ))
        })?;
        let cmd = remote.fetch(&self.dir, parent, branch)?;
        let fetched = process::run_command(&cmd, sup, None)
            .await
            .map_err(|e| GitError(e.to_string()))?;
        if fetched.ending != Ending::Exited(0) {
            return Err(GitError(format!(
                "failed to fetch `{branch}` from {} ({}): {}",
                remote.url,
                fetched.ending.describe(None),
                fetched.captured.output.trim()
            )));
        }
        self.tip(branch)
    }

    /// The commit the fetched `branch` points at.
    pub(crate) fn tip(&self, branch: &str) -> Result<Oid, GitError> {
        let repo = self.open()?;
        let reference = repo
            .find_reference(&format!("refs/remotes/origin/{branch}"))
            .map_err(|_| GitError(format!("the mirror has no branch `{branch}`")))?;
        Ok(reference
            .peel_to_commit()
            .map_err(|e| GitError(e.message().to_owned()))?
            .id())
    }

    /// The text of `path` in `commit`, if the file exists there (and is UTF-8).
    pub(crate) fn read_file(&self, commit: Oid, path: &str) -> Result<Option<String>, GitError> {
        let repo = self.open()?;
        let tree = repo.find_commit(commit)?.tree()?;
        let Ok(entry) = tree.get_path(Path::new(path)) else {
            return Ok(None);
        };
        let Ok(blob) = entry.to_object(&repo).and_then(|o| o.peel_to_blob()) else {
            return Ok(None);
        };
        Ok(std::str::from_utf8(blob.content()).ok().map(str::to_owned))
    }

    /// Creates (or restarts) `branch` at `commit` and a worktree for it at `path`, named
    /// `name`. A worktree an earlier, interrupted run left on the branch is removed first:
    /// everything in the mirror is ours.
    pub(crate) fn add_worktree(
        &self,
        branch: &str,
        commit: Oid,
        path: &Path,
        name: &str,
    ) -> Result<(), GitError> {
        if !git2::Branch::name_is_valid(branch).unwrap_or(false) {
            return Err(GitError(format!("`{branch}` is not a valid branch name")));
        }
        let repo = self.open()?;
        // The caller holds the branch: a worktree still on it is an interrupted run's.
        self.remove_worktrees(&repo, |w| w.valid && w.branch.as_deref() == Some(branch));
        let target = repo.find_commit(commit)?;
        let created = repo
            .branch(branch, &target, true)
            .map_err(|e| GitError(format!("failed to create the run branch: {}", e.message())))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| GitError(format!("failed to create {}: {e}", parent.display())))?;
        }
        let mut opts = WorktreeAddOptions::new();
        opts.reference(Some(created.get()));
        repo.worktree(name, path, Some(&opts))
            .map_err(|e| GitError(format!("failed to create the worktree: {}", e.message())))?;
        Ok(())
    }

    /// Removes the run's worktree `name` (files and git's records) and its branch.
    pub(crate) fn remove_run(&self, name: &str, branch: &str) {
        let Ok(repo) = self.open() else { return };
        self.remove_worktrees(&repo, |w| w.name == name);
        if let Ok(mut b) = repo.find_branch(branch, BranchType::Local) {
            let _ = b.delete();
        }
    }

    /// Removes every worktree of the mirror, broken ones included (left by a worker that
    /// was killed; only when no task runs).
    pub(crate) fn remove_all_worktrees(&self) {
        if let Ok(repo) = self.open() {
            self.remove_worktrees(&repo, |_| true);
        }
    }

    fn remove_worktrees(&self, repo: &Repository, which: impl Fn(&WorktreeInfo) -> bool) {
        let Ok(names) = repo.worktrees() else { return };
        for name in names.iter().flatten().flatten() {
            let Ok(wt) = repo.find_worktree(name) else {
                continue;
            };
            let branch = Repository::open_from_worktree(&wt).ok().and_then(|r| {
                r.head()
                    .ok()
                    .and_then(|h| h.shorthand().ok().map(str::to_owned))
            });
            let info = WorktreeInfo {
                name: name.to_owned(),
                branch,
                valid: wt.validate().is_ok(),
            };
            if !which(&info) {
                continue;
            }
            let path = wt.path().to_path_buf();
            let mut prune = git2::WorktreePruneOptions::new();
            prune.valid(true).locked(true).working_tree(true);
            let _ = wt.prune(Some(&mut prune));
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// What decides whether a worktree is removed.
struct WorktreeInfo {
    name: String,
    branch: Option<String>,
    valid: bool,
}

/// Deletes the least recently used mirrors under `cache` beyond `keep`, except those in
/// `busy`. Returns the directories removed.
pub(crate) fn prune_cache(cache: &Path, keep: usize, busy: &[PathBuf]) -> Vec<PathBuf> {
    let mut mirrors: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    let Ok(owners) = std::fs::read_dir(cache) else {
        return Vec::new();
    };
    for owner in owners.flatten() {
        let Ok(repos) = std::fs::read_dir(owner.path()) else {
            continue;
        };
        for repo in repos.flatten() {
            let dir = repo.path();
            if dir.extension().is_some_and(|e| e == "git") {
                let used = std::fs::metadata(dir.join(USED_MARKER))
                    .or_else(|_| std::fs::metadata(&dir))
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                mirrors.push((used, dir));
            }
        }
    }
    mirrors.sort_by_key(|m| std::cmp::Reverse(m.0));
    let mut removed = Vec::new();
    for (_, dir) in mirrors.into_iter().skip(keep) {
        if busy.contains(&dir) {
            continue;
        }
        if std::fs::remove_dir_all(&dir).is_ok() {
            removed.push(dir);
        }
    }
    removed
}
