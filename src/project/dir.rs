//! Bounded reads of a checkout: detection looks at a few small files, never follows a link
//! out of the checkout, and never reads more than it can use.

use std::path::{Path, PathBuf};

/// The largest manifest, lockfile head or workflow detection reads.
pub(crate) const MAX_FILE: u64 = 1024 * 1024;
/// At most this many folders are looked into one level down.
const MAX_SUBDIRS: usize = 64;

pub(crate) struct Dir {
    root: PathBuf,
}

impl Dir {
    pub(crate) fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// `sub/file` under the root, when every folder on the way is a real folder (a link
    /// could lead out of the checkout) and no part is `..`.
    fn path(&self, sub: &str, file: &str) -> Option<PathBuf> {
        let parts: Vec<&str> = sub
            .split('/')
            .chain(file.split('/'))
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        let mut p = self.root.clone();
        for (i, part) in parts.iter().enumerate() {
            if *part == ".." {
                return None;
            }
            p.push(part);
            let last = i + 1 == parts.len();
            if !last && !std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                return None;
            }
        }
        Some(p)
    }

    /// The path of `sub/file` when it is a regular file (links are not followed).
    pub(crate) fn file(&self, sub: &str, file: &str) -> Option<PathBuf> {
        self.path(sub, file)
            .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()))
    }

    /// Whether `sub/file` is a regular file (links are not followed).
    pub(crate) fn is_file(&self, sub: &str, file: &str) -> bool {
        self.path(sub, file)
            .is_some_and(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()))
    }

    /// The text of `sub/file`: `Ok(None)` when it is not there, `Err` when it is too large,
    /// not UTF-8 or unreadable (the reason, for a note).
    pub(crate) fn read(&self, sub: &str, file: &str) -> Result<Option<String>, String> {
        let Some(path) = self.path(sub, file) else {
            return Ok(None);
        };
        let shown = join(sub, file);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            return Ok(None);
        };
        if !meta.is_file() {
            return Ok(None);
        }
        if meta.len() > MAX_FILE {
            return Err(format!(
                "{shown} is {} KiB, over the {} KiB detection reads; ignored",
                meta.len() / 1024,
                MAX_FILE / 1024
            ));
        }
        let bytes = std::fs::read(&path).map_err(|e| format!("{shown} cannot be read: {e}"))?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| format!("{shown} is not UTF-8 text; ignored"))
    }

    /// The names of regular files in `sub` (sorted), at most `limit`.
    pub(crate) fn files(&self, sub: &str, limit: usize) -> Vec<String> {
        self.entries(sub, limit, |m| m.is_file())
    }

    /// Folders at the top that could hold a project (sorted; hidden ones and names a command
    /// could not carry as they are skipped).
    pub(crate) fn subdirs(&self) -> Vec<String> {
        self.entries("", MAX_SUBDIRS, |m| m.is_dir())
            .into_iter()
            .filter(|n| !n.starts_with(['.', '-']) && plain_name(n))
            .filter(|n| {
                !matches!(
                    n.as_str(),
                    "node_modules" | "target" | "vendor" | "build" | "dist"
                )
            })
            .collect()
    }

    fn entries(
        &self,
        sub: &str,
        limit: usize,
        keep: impl Fn(&std::fs::Metadata) -> bool,
    ) -> Vec<String> {
        let Some(dir) = self.path(sub, "") else {
            return Vec::new();
        };
        if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            return Vec::new();
        }
        let Ok(read) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = read
            .flatten()
            .take(4096)
            .filter(|e| e.file_type().is_ok_and(|t| !t.is_symlink()))
            .filter(|e| e.metadata().is_ok_and(|m| keep(&m)))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names.truncate(limit);
        names
    }
}

/// `sub/file` as shown to people.
pub(crate) fn join(sub: &str, file: &str) -> String {
    match (sub.is_empty(), file.is_empty()) {
        (true, _) => file.to_owned(),
        (false, true) => sub.to_owned(),
        (false, false) => format!("{sub}/{file}"),
    }
}

/// A name that can stand in a command without quoting.
pub(crate) fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
        && !name.split('/').any(|part| part == "..")
}
