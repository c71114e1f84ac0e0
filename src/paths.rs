//! Paths a playbook names, kept inside the checkout: the check of the text
//! ([`check_relative`]: `validate` and the run both use it) and where a path really leads
//! on disk ([`inside`], which follows the checkout's symlinks).
//!
//! A path a playbook names (`files`, `read`, `workdir`) must stay inside the checkout. The
//! checkout's files come from the repository, so any of them can be a symlink, and one whose
//! target does not exist yet is the dangerous kind: `canonicalize` fails on it, while a
//! program that writes to the path (aider creating a file) follows it and creates the target
//! wherever it points. So paths are resolved here component by component, following every
//! symlink, existing target or not.

use std::path::{Component, Path, PathBuf};

/// Whether a relative path stays inside the directory it is relative to.
pub(crate) fn check_relative(path: &str) -> Result<(), &'static str> {
    let p = std::path::Path::new(path);
    if p.is_absolute() || path.starts_with('~') {
        return Err("must be relative to the checkout");
    }
    let mut depth: i32 = 0;
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => depth -= 1,
            std::path::Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return Err("leaves the checkout (`..`)");
        }
    }
    Ok(())
}

/// Symlinks followed at most while resolving one path (Linux's own limit is 40).
const MAX_LINKS: usize = 40;

/// Where `path` leads, symlinks followed whether or not their targets exist; `None` when it
/// cannot be told (a loop, too many links, an unreadable link).
pub(crate) fn resolve(path: &Path) -> Option<PathBuf> {
    let start = if path.is_absolute() {
        PathBuf::new()
    } else {
        std::env::current_dir().ok()?
    };
    let mut todo: Vec<Component<'_>> = path.components().rev().collect();
    let mut out = start;
    let mut links = 0;
    // Components of link targets are pushed as owned paths, processed like the original's.
    let mut pending: Vec<PathBuf> = Vec::new();
    loop {
        let next: PathBuf = if let Some(p) = pending.pop() {
            p
        } else if let Some(c) = todo.pop() {
            PathBuf::from(c.as_os_str())
        } else {
            break;
        };
        match next.components().next() {
            Some(Component::RootDir) | Some(Component::Prefix(_)) => out = PathBuf::from("/"),
            Some(Component::CurDir) | None => {}
            Some(Component::ParentDir) => {
                out.pop();
            }
            Some(Component::Normal(name)) => {
                let candidate = out.join(name);
                match std::fs::symlink_metadata(&candidate) {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        links += 1;
                        if links > MAX_LINKS {
                            return None;
                        }
                        let target = std::fs::read_link(&candidate).ok()?;
                        if target.is_absolute() {
                            out = PathBuf::from("/");
                        }
                        // The target's components come next, first one on top.
                        let parts: Vec<PathBuf> = target
                            .components()
                            .filter(|c| !matches!(c, Component::RootDir))
                            .map(|c| PathBuf::from(c.as_os_str()))
                            .collect();
                        pending.extend(parts.into_iter().rev());
                    }
                    _ => out = candidate,
                }
            }
        }
    }
    Some(out)
}

/// `dir/rel` if it leads inside `root` once every symlink on the way is followed, whether the
/// final target exists or not; otherwise why not.
pub(crate) fn inside(root: &Path, dir: &Path, rel: &str) -> Result<PathBuf, &'static str> {
    let root = root
        .canonicalize()
        .map_err(|_| "cannot be checked: the checkout cannot be resolved")?;
    let path = dir.join(rel);
    match resolve(&path) {
        Some(real) if real.starts_with(&root) => Ok(path),
        Some(_) => Err("leads outside the checkout (symlink)"),
        None => Err("cannot be resolved (a symlink loop)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_must_stay_inside() {
        assert!(check_relative("src/**/*.py").is_ok());
        assert!(check_relative("a/../b").is_ok());
        assert!(check_relative("../x").is_err());
        assert!(check_relative("a/../../x").is_err());
        assert!(check_relative("/etc/passwd").is_err());
        assert!(check_relative("~/x").is_err());
    }
    use std::os::unix::fs::symlink;

    #[test]
    fn follows_links_whose_targets_do_not_exist() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir(r.join("src")).unwrap();
        // Dangling, pointing out: absolute, relative, and through a directory link.
        symlink(outside.path().join("new.py"), r.join("abs.py")).unwrap();
        symlink(
            "../../../../../../../../tmp/cw-nowhere/x.py",
            r.join("rel.py"),
        )
        .unwrap();
        symlink(outside.path().join("not-yet"), r.join("dirlink")).unwrap();
        // Inside, dangling and existing.
        symlink("src/later.py", r.join("later.py")).unwrap();
        symlink("src", r.join("srclink")).unwrap();
        // A loop.
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();

        for bad in ["abs.py", "rel.py", "dirlink/a.py", "srclink/../abs.py"] {
            assert_eq!(
                inside(r, r, bad),
                Err("leads outside the checkout (symlink)"),
                "{bad}"
            );
        }
        for good in ["later.py", "srclink/a.py", "src/new/deeper.py", "plain.py"] {
            assert!(inside(r, r, good).is_ok(), "{good}");
        }
        assert!(inside(r, r, "loop1").is_err());
        assert!(inside(r, &r.join("src"), "../later.py").is_ok());
    }
}
