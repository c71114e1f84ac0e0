//! Dependency caches per repository, kept under the workdir between tasks: the package
//! managers' download caches (pip, uv, npm, the pnpm store, yarn, bun), cargo's target
//! directory and Go's module and build caches. One folder per repository and lockfile
//! (`cache/deps/OWNER__NAME/ECOSYSTEM-KEY`, the key a hash of the lockfiles and manifests),
//! used by one run at a time (a lock file), pruned least recently used first when all of
//! them together pass a bound.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use nix::fcntl::{Flock, FlockArg};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::dir::Dir;
use super::model::{Ecosystem, Project};

/// The caches' bound when `CODINGWORKER_CACHE_MAX` sets none.
pub const DEFAULT_MAX: u64 = 20 * 1024 * 1024 * 1024;

/// What a run used of the caches (`run.json`'s `cache`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheUse {
    /// The cache's folder.
    pub dir: String,
    /// The hash of the lockfiles and manifests it is kept for.
    pub key: String,
    /// Whether an earlier run filled it.
    pub hit: bool,
}

/// A cache in use: its variables for every step, and the lock that keeps other runs out.
pub struct Held {
    pub used: CacheUse,
    pub env: BTreeMap<String, String>,
    _lock: Flock<File>,
}

/// The files a cache is keyed by, per ecosystem (for Python, the requirement files setup
/// installs from, as `ecosystems::python` lists them).
fn key_files(e: Ecosystem) -> Vec<&'static str> {
    use super::ecosystems::python::{DEV_REQUIREMENTS, TEST_REQUIREMENTS};
    match e {
        Ecosystem::Python => [
            "uv.lock",
            "poetry.lock",
            "pdm.lock",
            "Pipfile.lock",
            "pyproject.toml",
            "setup.py",
            "setup.cfg",
            "requirements.txt",
        ]
        .into_iter()
        .chain(TEST_REQUIREMENTS.iter().copied())
        .chain(DEV_REQUIREMENTS.iter().copied())
        .collect(),
        Ecosystem::Node => vec![
            "package-lock.json",
            "npm-shrinkwrap.json",
            "pnpm-lock.yaml",
            "yarn.lock",
            "bun.lock",
            "bun.lockb",
            "package.json",
        ],
        Ecosystem::Rust => vec!["Cargo.lock", "Cargo.toml"],
        Ecosystem::Go => vec!["go.sum", "go.mod", "go.work", "go.work.sum"],
        Ecosystem::Make | Ecosystem::Cmake => vec![],
    }
}

/// The variables that point a project's tools at its cache.
fn variables(e: Ecosystem, dir: &Path) -> BTreeMap<String, String> {
    let at = |sub: &str| dir.join(sub).display().to_string();
    let pairs: Vec<(&str, String)> = match e {
        Ecosystem::Python => vec![("PIP_CACHE_DIR", at("pip")), ("UV_CACHE_DIR", at("uv"))],
        Ecosystem::Node => vec![
            ("npm_config_cache", at("npm")),
            // What the cache holds for this lockfile is what the run needs: no revalidation.
            ("npm_config_prefer_offline", "true".to_owned()),
            ("npm_config_store_dir", at("pnpm-store")),
            ("YARN_CACHE_FOLDER", at("yarn")),
            ("BUN_INSTALL_CACHE_DIR", at("bun")),
        ],
        Ecosystem::Rust => vec![("CARGO_TARGET_DIR", at("target"))],
        Ecosystem::Go => vec![
            ("GOMODCACHE", at("gomod")),
            ("GOCACHE", at("gobuild")),
            // Go makes its module cache read-only unless asked: pruning must delete it.
            ("GOFLAGS", "-modcacherw".to_owned()),
        ],
        Ecosystem::Make | Ecosystem::Cmake => vec![],
    };
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// The cache of `repo`'s project under `root`, locked for this run; `Err` says why there is
/// none (nothing to cache, in use by another run, not writable).
pub fn open(
    root: &Path,
    repo: &str,
    checkout: &Path,
    project: &Project,
    max: u64,
) -> Result<Held, String> {
    let eco = project.ecosystem.ok_or("no project")?;
    let files = key_files(eco);
    if files.is_empty() {
        return Err(format!("{} projects have no dependency cache", eco.name()));
    }
    let dir = Dir::new(checkout);
    let sub = if project.root == "." {
        ""
    } else {
        project.root.as_str()
    };
    let mut hash = Sha256::new();
    for f in &files {
        // Every byte, binary lockfiles and large ones too (read as a stream).
        if let Some(path) = dir.file(sub, f)
            && let Ok(mut file) = File::open(path)
        {
            hash.update(f.as_bytes());
            hash.update([0]);
            let _ = std::io::copy(&mut file, &mut hash);
            hash.update([0]);
        }
    }
    let key: String = hash
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    // `OWNER__NAME` (GitHub's owners have no `_`): one folder per repository.
    let slug = repo
        .split('/')
        .map(|part| {
            part.trim_start_matches('.')
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                        c
                    } else {
                        '-'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("__");
    let here = root.join(slug).join(format!("{}-{key}", eco.name()));
    std::fs::create_dir_all(&here).map_err(|e| format!("cannot create {}: {e}", here.display()))?;
    let file = File::create(here.join(".lock"))
        .map_err(|e| format!("cannot lock {}: {e}", here.display()))?;
    let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock)
        .map_err(|_| format!("{} is in use by another run", here.display()))?;
    let stamp = here.join(".used");
    let hit = stamp.exists();
    std::fs::write(&stamp, b"").map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    prune(root, max, &here);
    Ok(Held {
        env: variables(eco, &here),
        used: CacheUse {
            dir: here.display().to_string(),
            key,
            hit,
        },
        _lock: lock,
    })
}

/// One cache folder: where, how large, when last used.
#[derive(Debug, Clone)]
pub struct Entry {
    pub dir: PathBuf,
    pub bytes: u64,
    pub used: SystemTime,
}

/// Every cache folder under `root` (`OWNER__NAME/ECOSYSTEM-KEY`).
pub fn entries(root: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    for repo in std::fs::read_dir(root).into_iter().flatten().flatten() {
        for cache in std::fs::read_dir(repo.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let dir = cache.path();
            if !dir.is_dir() {
                continue;
            }
            let used = std::fs::metadata(dir.join(".used"))
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            out.push(Entry {
                bytes: size(&dir),
                dir,
                used,
            });
        }
    }
    out
}

/// The bytes of the files under `dir` (links not followed).
fn size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(meta) = e.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

/// Deletes the least recently used caches (never `keep`, nor one another run holds) until
/// all of them together are within `max` bytes.
fn prune(root: &Path, max: u64, keep: &Path) {
    let mut all = entries(root);
    let mut total: u64 = all.iter().map(|e| e.bytes).sum();
    all.sort_by_key(|e| e.used);
    for e in all {
        if total <= max {
            break;
        }
        if e.dir == keep {
            continue;
        }
        let Ok(file) = File::create(e.dir.join(".lock")) else {
            continue;
        };
        // Held by another run: in use, not pruned. Kept until the folder is gone.
        let Ok(_lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) else {
            continue;
        };
        if std::fs::remove_dir_all(&e.dir).is_ok() {
            tracing::info!(cache = %e.dir.display(), bytes = e.bytes, "dependency cache pruned (least recently used)");
            total = total.saturating_sub(e.bytes);
        }
    }
}

/// `CODINGWORKER_CACHE_MAX`: a size such as `20G`, `500M` (bytes without a suffix).
pub fn max_from(value: Option<&str>) -> Result<u64, String> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(DEFAULT_MAX);
    };
    let (digits, unit) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&v[..i], v[i..].trim()),
        None => (v, ""),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("CODINGWORKER_CACHE_MAX `{v}` is not a size such as 20G or 500M"))?;
    let mult: u64 = match unit.to_ascii_uppercase().trim_end_matches('B') {
        "" => 1,
        "K" | "KI" => 1024,
        "M" | "MI" => 1024 * 1024,
        "G" | "GI" => 1024 * 1024 * 1024,
        "T" | "TI" => 1024 * 1024 * 1024 * 1024,
        _ => {
            return Err(format!(
                "CODINGWORKER_CACHE_MAX `{v}`: the unit is K, M, G or T"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("CODINGWORKER_CACHE_MAX `{v}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_in(dir: &Path) -> Project {
        super::super::detect(dir, &super::super::Tools::fixed(["node", "npm"]))
    }

    #[test]
    fn keyed_by_the_lockfile_locked_for_one_run_pruned_least_recently_used() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::write(
            repo.path().join("package.json"),
            r#"{"scripts":{"test":"x"}}"#,
        )
        .unwrap();
        std::fs::write(repo.path().join("package-lock.json"), "{}").unwrap();
        let root = tempfile::tempdir().unwrap();
        let p = project_in(repo.path());

        let first = open(root.path(), "acme/web", repo.path(), &p, DEFAULT_MAX).unwrap();
        assert!(!first.used.hit);
        assert!(first.env["npm_config_cache"].ends_with("/npm"));
        assert!(
            first.used.dir.contains("acme__web/node-"),
            "{}",
            first.used.dir
        );
        // Another run of the same repository and lockfile waits for nothing: it has none.
        let busy = open(root.path(), "acme/web", repo.path(), &p, DEFAULT_MAX);
        assert!(busy.err().unwrap().contains("in use by another run"));
        drop(first);
        let second = open(root.path(), "acme/web", repo.path(), &p, DEFAULT_MAX).unwrap();
        assert!(second.used.hit);
        let key = second.used.key.clone();
        drop(second);

        // A new lockfile is a new cache; over the bound, the older one goes.
        std::fs::write(repo.path().join("package-lock.json"), r#"{"v":2}"#).unwrap();
        let old = PathBuf::from(format!("{}/acme__web/node-{key}", root.path().display()));
        std::fs::write(old.join("npm-blob"), vec![0u8; 4096]).unwrap();
        let third = open(
            root.path(),
            "acme/web",
            repo.path(),
            &project_in(repo.path()),
            1024,
        )
        .unwrap();
        assert!(!third.used.hit);
        assert_ne!(third.used.key, key);
        assert!(!old.exists(), "the least recently used cache is pruned");
        assert!(Path::new(&third.used.dir).exists());
    }

    #[test]
    fn make_projects_have_no_cache_and_sizes_parse() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::write(repo.path().join("Makefile"), "test:\n\ttrue\n").unwrap();
        let root = tempfile::tempdir().unwrap();
        assert!(
            open(
                root.path(),
                "a/b",
                repo.path(),
                &project_in(repo.path()),
                DEFAULT_MAX
            )
            .is_err()
        );
        assert_eq!(max_from(Some("500M")), Ok(500 * 1024 * 1024));
        assert_eq!(max_from(Some("2GiB")), Ok(2 * 1024 * 1024 * 1024));
        assert_eq!(max_from(None), Ok(DEFAULT_MAX));
        assert!(max_from(Some("lots")).is_err());
    }
}
