//! Git: the run's worktree, snapshots to tell what a step changed, resets between attempts,
//! commits, and pushing the run branch.
//!
//! Local work goes through git2 (libgit2). Pushing runs the `git` CLI: libgit2 has no
//! `--force-with-lease`, and its https transport needs OpenSSL on Linux. A token for https
//! travels in the child's environment (`GIT_CONFIG_*`), never on disk or on the command line.

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
pub struct SourceRepo {
    pub repo: Repository,
    /// The repository's working directory (for messages).
    pub root: PathBuf,
}

impl SourceRepo {
    /// Finds the repository at or above `dir`.
    pub fn discover(dir: &Path) -> Result<Self, GitError> {
        let repo = Repository::discover(dir)
            .map_err(|_| GitError(format!("{} is not inside a git repository", dir.display())))?;
        if repo.is_bare() {
            return Err(GitError(format!(
                "{} is a bare repository; give a checkout",
                dir.display()
            )));
        }
        let root = repo.workdir().unwrap_or(dir).to_path_buf();
        Ok(Self { repo, root })
    }

    /// The commit HEAD points at.
    pub fn head_commit(&self) -> Result<Oid, GitError> {
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
    pub fn add_worktree(
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
                return Err(GitError(format!(
                    "branch `{branch}` already exists in {} (from an earlier run?); delete it with `git branch -D {branch}` or run again with --force to restart it from HEAD",
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
        Ok(())
    }

    fn remove_worktrees_of(&self, branch: &str, ours: &Path) -> Result<(), GitError> {
        let wanted = format!("refs/heads/{branch}");
        for name in self.repo.worktrees()?.iter().flatten().flatten() {
            let Ok(wt) = self.repo.find_worktree(name) else {
                continue;
            };
            let Ok(repo) = Repository::open_from_worktree(&wt) else {
                continue;
            };
            let on_branch = repo
                .head()
                .ok()
                .and_then(|h| h.name().ok().map(str::to_owned))
                .as_deref()
                == Some(wanted.as_str());
            if !on_branch {
                continue;
            }
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
        let mut index = repo.index()?;
        index
            .add_all(["*"], IndexAddOption::DEFAULT, None)
            .map_err(context("failed to stage changes"))?;
        index
            .update_all(["*"], None)
            .map_err(context("failed to stage deletions"))?;
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

/// The identity of our own commits: the repository's, else codingworker's.
fn signature(repo: &Repository) -> Signature<'static> {
    repo.signature()
        .map(|s| s.to_owned())
        .unwrap_or_else(|_| Signature::now(IDENTITY.0, IDENTITY.1).expect("a valid signature"))
}

/// Name and e-mail used when the repository has no identity configured.
pub const IDENTITY: (&str, &str) = ("codingworker", "codingworker@localhost");

/// Where `pr_open` pushes the run branch.
#[derive(Clone)]
pub struct PushTarget {
    pub url: String,
    /// For https remotes; sent as an HTTP header through the environment.
    pub token: Option<String>,
}

impl std::fmt::Debug for PushTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushTarget")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl PushTarget {
    fn git(&self, dir: &Path, args: &[&str]) -> duct::Expression {
        let mut expr = duct::cmd("git", args)
            .dir(dir)
            .env("GIT_TERMINAL_PROMPT", "0")
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked();
        if let Some(token) = &self.token {
            use base64::Engine as _;
            let basic =
                base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
            expr = expr
                .env("GIT_CONFIG_COUNT", "1")
                .env("GIT_CONFIG_KEY_0", "http.extraHeader")
                .env(
                    "GIT_CONFIG_VALUE_0",
                    format!("Authorization: Basic {basic}"),
                );
        }
        expr
    }

    /// The commit `branch` has on the remote, if it exists there.
    pub fn remote_head(&self, dir: &Path, branch: &str) -> Result<Option<String>, GitError> {
        let refname = format!("refs/heads/{branch}");
        let out = self
            .git(dir, &["ls-remote", "--", &self.url, &refname])
            .run()
            .map_err(|e| GitError(format!("failed to run git ls-remote: {e}")))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(GitError(format!(
                "failed to read {} from the remote: {}",
                refname,
                text.trim()
            )));
        }
        Ok(text.lines().find_map(|l| {
            l.split_once('\t')
                .filter(|(_, r)| *r == refname)
                .map(|(sha, _)| sha.to_owned())
        }))
    }

    /// Pushes HEAD of `dir` to `branch` on the remote with a lease: it overwrites only the
    /// commit the remote had when we looked, so nobody else's push is lost.
    pub fn push(&self, dir: &Path, branch: &str) -> Result<(), GitError> {
        let expected = self.remote_head(dir, branch)?.unwrap_or_default();
        let lease = format!("--force-with-lease=refs/heads/{branch}:{expected}");
        let refspec = format!("HEAD:refs/heads/{branch}");
        let out = self
            .git(
                dir,
                &["push", "--porcelain", &lease, "--", &self.url, &refspec],
            )
            .run()
            .map_err(|e| GitError(format!("failed to run git push: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(GitError(format!(
                "git push failed: {}",
                String::from_utf8_lossy(&out.stdout).trim()
            )))
        }
    }
}
