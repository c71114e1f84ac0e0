//! The files of a checkout an agent could be handed: every text file the repository tracks
//! or would track (its `.gitignore` honoured), less what no issue is about (vendored,
//! generated, lock, minified and binary files), each read once, bounded in size and number.

use std::path::Path;

/// Files larger than this are never candidates (a whole-file edit of one could not fit any
/// local model's window).
pub const MAX_FILE_BYTES: u64 = 512 * 1024;
/// At most this many files are read; a larger tree is cut (and says so).
pub const MAX_FILES: usize = 50_000;
/// At most this many bytes are read in all.
pub const MAX_TOTAL_BYTES: u64 = 512 * 1024 * 1024;

/// What a file is to the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// Code the issue may be about.
    Source,
    /// Tests: read-only context, never edited unless named.
    Test,
    /// Prose: README, docs.
    Doc,
    /// Manifests and settings.
    Config,
}

/// A candidate file, its text read.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Relative to the checkout, `/`-separated.
    pub path: String,
    pub kind: FileKind,
    pub text: String,
}

/// Why files were left out, counted (vendored and build folders are never walked).
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct LeftOut {
    pub generated: usize,
    pub lock: usize,
    pub minified: usize,
    pub binary: usize,
    pub too_large: usize,
    /// Not a kind of file an agent edits or reads (images, archives, data).
    pub other: usize,
    /// Files past [`MAX_FILES`] or [`MAX_TOTAL_BYTES`].
    pub cut: usize,
}

/// Folders that hold other people's code or build output, whatever `.gitignore` says.
const SKIPPED_DIRS: [&str; 18] = [
    ".git",
    "node_modules",
    "vendor",
    "third_party",
    "third-party",
    "bower_components",
    "__pycache__",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "site-packages",
    "target",
    "dist",
    "build",
    ".next",
    "coverage",
    ".mypy_cache",
];

const SOURCE_EXT: [&str; 52] = [
    "py", "pyi", "pyx", "rs", "go", "js", "jsx", "mjs", "cjs", "ts", "tsx", "mts", "cts", "c", "h",
    "cc", "cpp", "cxx", "hpp", "hh", "hxx", "java", "kt", "kts", "scala", "rb", "php", "cs",
    "swift", "m", "mm", "lua", "sh", "bash", "pl", "pm", "r", "jl", "ex", "exs", "erl", "hs", "ml",
    "mli", "clj", "dart", "vue", "svelte", "zig", "nim", "sql", "css",
];
const DOC_EXT: [&str; 5] = ["md", "rst", "txt", "adoc", "markdown"];
const CONFIG_EXT: [&str; 9] = [
    "toml", "yaml", "yml", "json", "cfg", "ini", "cmake", "html", "scss",
];
const CONFIG_NAMES: [&str; 4] = ["Makefile", "makefile", "GNUmakefile", "Dockerfile"];
const LOCK_NAMES: [&str; 9] = [
    "Cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "poetry.lock",
    "uv.lock",
    "go.sum",
    "bun.lock",
];

/// The candidates under `root`, sorted by path, and what was left out.
pub fn collect(root: &Path) -> (Vec<Candidate>, LeftOut) {
    let mut out = Vec::new();
    let mut left = LeftOut::default();
    let mut total: u64 = 0;
    // The ignore files are the repository's: one that is a symlink could make the walk
    // read anything (`.gitignore -> /dev/zero`). A folder holding one is not walked; at the
    // top, ignore files are then not read at all.
    let linked_ignore = |dir: &Path| {
        [".gitignore", ".ignore"].iter().any(|f| {
            std::fs::symlink_metadata(dir.join(f)).is_ok_and(|m| m.file_type().is_symlink())
        })
    };
    let trust_ignores = !linked_ignore(root);
    let walker = ignore::WalkBuilder::new(root)
        .hidden(true)
        .require_git(false)
        .follow_links(false)
        .parents(false)
        .git_global(false)
        .git_ignore(trust_ignores)
        .ignore(trust_ignores)
        .filter_entry(move |e| {
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            let name = e.file_name().to_string_lossy();
            !(is_dir
                && (SKIPPED_DIRS.contains(&name.as_ref())
                    || name.ends_with(".egg-info")
                    || linked_ignore(e.path())))
        })
        .build();
    for entry in walker.flatten() {
        // Symlinks are never followed: what they point at may be outside the checkout.
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let path = rel.to_string_lossy().replace('\\', "/");
        let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
        if LOCK_NAMES.contains(&name.as_str()) || name.ends_with(".lock") {
            left.lock += 1;
            continue;
        }
        let Some(kind) = kind_of(&path, &name) else {
            left.other += 1;
            continue;
        };
        if name.contains(".min.") || name.ends_with(".map") {
            left.minified += 1;
            continue;
        }
        if name.ends_with("_pb2.py") || name.ends_with(".pb.go") || name.ends_with(".g.dart") {
            left.generated += 1;
            continue;
        }
        let size = entry.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
        if size > MAX_FILE_BYTES {
            left.too_large += 1;
            continue;
        }
        if out.len() >= MAX_FILES || total + size > MAX_TOTAL_BYTES {
            left.cut += 1;
            continue;
        }
        let Ok(bytes) = read_bounded(entry.path()) else {
            continue;
        };
        total += bytes.len() as u64;
        if bytes[..bytes.len().min(8192)].contains(&0) {
            left.binary += 1;
            continue;
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if generated(&text) {
            left.generated += 1;
            continue;
        }
        if minified(&text) {
            left.minified += 1;
            continue;
        }
        out.push(Candidate { path, kind, text });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    (out, left)
}

/// The file's bytes, never more than [`MAX_FILE_BYTES`] (it may have grown since its size
/// was read).
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Whether a path names a test (by folder or by the naming conventions of its ecosystem).
pub fn is_test(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let in_test_dir = path.split('/').rev().skip(1).any(|d| {
        matches!(
            d,
            "test" | "tests" | "__tests__" | "spec" | "specs" | "testing" | "testdata"
        )
    });
    let stem = name.split('.').next().unwrap_or(name);
    in_test_dir
        || stem.starts_with("test_")
        || stem.ends_with("_test")
        || stem.ends_with("_tests")
        || stem.ends_with("_spec")
        || stem == "conftest"
        || name.contains(".test.")
        || name.contains(".spec.")
        || (stem.ends_with("Test") && stem.len() > 4)
}

fn kind_of(path: &str, name: &str) -> Option<FileKind> {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if SOURCE_EXT.contains(&ext.as_str()) {
        Some(if is_test(path) {
            FileKind::Test
        } else {
            FileKind::Source
        })
    } else if DOC_EXT.contains(&ext.as_str()) && name != "CMakeLists.txt" {
        Some(FileKind::Doc)
    } else if CONFIG_EXT.contains(&ext.as_str())
        || CONFIG_NAMES.contains(&name)
        || name == "CMakeLists.txt"
    {
        Some(FileKind::Config)
    } else {
        None
    }
}

/// A file that says a tool wrote it.
fn generated(text: &str) -> bool {
    let head = &text[..floor_char_boundary(text, 1024)];
    head.contains("@generated")
        || head.contains("Code generated")
        || head.contains("DO NOT EDIT")
        || head.contains("do not edit")
        || head.contains("autogenerated")
        || head.contains("auto-generated")
}

/// A file whose lines are far longer than anyone writes them.
fn minified(text: &str) -> bool {
    let lines = text.lines().count().max(1);
    text.len() > 2000 && (text.len() / lines > 400 || text.lines().any(|l| l.len() > 10_000))
}

/// The largest char boundary of `s` at or below `i`.
pub(crate) fn floor_char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlinked_ignore_file_is_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.py"), "x = 1\n").unwrap();
        std::fs::write(root.join("sub/b.py"), "y = 1\n").unwrap();
        std::os::unix::fs::symlink("/dev/zero", root.join("sub/.gitignore")).unwrap();
        let (found, _) = collect(root);
        assert_eq!(
            found.len(),
            1,
            "the folder with the linked ignore file is skipped"
        );
        std::os::unix::fs::symlink("/dev/zero", root.join(".gitignore")).unwrap();
        let (found, _) = collect(root);
        assert_eq!(found[0].path, "a.py");
    }

    #[test]
    fn tests_are_told_by_folder_and_name() {
        for t in [
            "tests/test_a.py",
            "pkg/a_test.go",
            "src/a.test.ts",
            "src/__tests__/a.js",
            "test/a.c",
            "conftest.py",
            "spec/a_spec.rb",
            "src/test/java/FooTest.java",
        ] {
            assert!(is_test(t), "{t}");
        }
        for s in [
            "src/a.py",
            "src/testament.py",
            "src/latest.ts",
            "contest.py",
            "Test.java",
        ] {
            assert!(!is_test(s), "{s}");
        }
    }

    #[test]
    fn leaves_out_what_no_issue_is_about() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |p: &str, text: &[u8]| {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("src/a.py", b"def a():\n    pass\n");
        write("tests/test_a.py", b"def test_a():\n    pass\n");
        write("README.md", b"# a\n");
        write("node_modules/x/index.js", b"module.exports = 1\n");
        write("Cargo.lock", b"x");
        write("app.min.js", b"x");
        write("gen.rs", b"// @generated by a tool\nfn x() {}\n");
        write("blob.py", b"\0\0\0");
        write("logo.png", b"png");
        write("ignored/x.py", b"x = 1\n");
        write(".gitignore", b"ignored/\n");
        write(
            "wide.js",
            format!("var a={};\n", "1+".repeat(6000)).as_bytes(),
        );
        write("huge.py", &vec![b'#'; (MAX_FILE_BYTES + 1) as usize]);
        std::os::unix::fs::symlink("/etc/passwd", root.join("link.py")).unwrap();
        let (found, left) = collect(root);
        let paths: Vec<(&str, FileKind)> =
            found.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(
            paths,
            [
                ("README.md", FileKind::Doc),
                ("src/a.py", FileKind::Source),
                ("tests/test_a.py", FileKind::Test),
            ]
        );
        assert_eq!(
            left,
            LeftOut {
                generated: 1,
                lock: 1,
                minified: 2,
                binary: 1,
                too_large: 1,
                other: 1,
                cut: 0,
            }
        );
    }
}
