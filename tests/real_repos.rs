//! Real repositories: published source packages downloaded from the registries at test time
//! (a PyPI sdist, a crate; cached under `target/real-repos/`, never committed), and layouts
//! no package gives, written here (npm and pnpm projects with real dependencies, a pnpm
//! workspace, a virtual cargo workspace, a Makefile-only C project, a CI workflow that tests
//! with tox). Each goes through `codingworker project` (detection) and a run of a playbook
//! with a harmless agent: setup, the tests before any change, the change, the tests again.
//! A repository whose tests cannot run ends before the agent, with the report.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{Ran, cw, git, root};

/// Downloads stay here between test runs.
fn cache() -> PathBuf {
    let dir = root().join("target/real-repos");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `url` into the cache as `name` (once).
fn download(url: &str, name: &str) -> PathBuf {
    let path = cache().join(name);
    if !path.exists() {
        let part = path.with_extension("part");
        let out = std::process::Command::new("curl")
            .args(["-sSfL", "--retry", "3", "-o"])
            .arg(&part)
            .arg(url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "download {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::rename(&part, &path).unwrap();
    }
    path
}

/// A PyPI sdist, found through the simple index's JSON form.
fn pypi_sdist(name: &str, version: &str) -> PathBuf {
    let file = format!("{name}-{version}.tar.gz");
    if cache().join(&file).exists() {
        return cache().join(file);
    }
    let out = std::process::Command::new("curl")
        .args(["-sSfL", "-H", "Accept: application/vnd.pypi.simple.v1+json"])
        .arg(format!("https://pypi.org/simple/{name}/"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index: Value = serde_json::from_slice(&out.stdout).unwrap();
    let url = index["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["filename"] == file.as_str())
        .and_then(|f| f["url"].as_str())
        .unwrap_or_else(|| panic!("{file} is not on PyPI"))
        .to_owned();
    download(&url, &file)
}

fn crate_file(name: &str, version: &str) -> PathBuf {
    download(
        &format!("https://static.crates.io/crates/{name}/{name}-{version}.crate"),
        &format!("{name}-{version}.crate"),
    )
}

/// The archive unpacked in `into`, as a git repository with one commit; its top folder.
fn unpack(archive: &Path, into: &Path) -> PathBuf {
    let out = std::process::Command::new("tar")
        .args(["--no-same-owner", "-xzf"])
        .arg(archive)
        .arg("-C")
        .arg(into)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let top = std::fs::read_dir(into)
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .path();
    commit(&top);
    top
}

/// A repository written here.
fn written(into: &Path, files: &[(&str, &str)]) -> PathBuf {
    let top = into.join("repo");
    for (path, text) in files {
        let p = top.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    commit(&top);
    top
}

fn commit(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "as published"]);
}

fn project(repo: &Path) -> Value {
    let out = cw()
        .args(["project", "--format", "json"])
        .arg(repo)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A run of `playbook` on `repo`; the run's report.
fn run(playbook: &str, repo: &Path, work: &Path) -> (Ran, Value) {
    run_on(
        playbook,
        repo,
        work,
        &std::env::var("PATH").unwrap_or_default(),
    )
}

/// [`run`] with the programs of `path`.
fn run_on(playbook: &str, repo: &Path, work: &Path, path: &str) -> (Ran, Value) {
    let ran: Ran = cw()
        .env("PATH", path)
        .args([
            "run",
            playbook,
            "--issue",
            "examples/issues/fizzbuzz.task.json",
            "--repo",
        ])
        .arg(repo)
        .arg("--workdir")
        .arg(work)
        .arg("--out")
        .arg(work.join("out"))
        // A second run in the same workdir restarts the branch.
        .arg("--force")
        // Package managers keep their caches in the user's home, as on a worker.
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .output()
        .unwrap()
        .into();
    let report = std::fs::read_to_string(work.join("out/run.json"))
        .unwrap_or_else(|e| panic!("no run.json ({e}): {}", ran.stderr));
    let report: Value = serde_json::from_str(&report).unwrap();
    (ran, report)
}

fn step<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id}"))
}

/// The harmless run ends green, with tests counted before and after the change.
fn ends_green(repo: &Path) -> Value {
    let work = tempfile::tempdir().unwrap();
    ends_green_in(repo, work.path())
}

/// [`ends_green`] with the workdir `work` (a second run there restarts the branch).
fn ends_green_in(repo: &Path, work: &Path) -> Value {
    let (ran, report) = run("tests/fixtures/real/harmless.yml", repo, work);
    let log = |id: &str| {
        std::fs::read_to_string(
            work.join("out")
                .join(step(&report, id)["log"].as_str().unwrap_or("-")),
        )
        .unwrap_or_default()
    };
    assert_eq!(
        ran.code,
        0,
        "{}\nsetup log:\n{}\nbaseline log:\n{}",
        ran.stdout,
        log("setup"),
        log("baseline")
    );
    for id in ["baseline", "test"] {
        let tests = &step(&report, id)["tests"];
        assert!(
            tests["passed"].as_u64().unwrap_or(0) > 0,
            "{id}: {tests} in {report:#}"
        );
    }
    assert!(
        !work.join("out/setup").exists(),
        "what setup made outside the checkout goes with the run"
    );
    report
}

#[test]
fn a_setup_py_package_with_its_tests_at_the_top_six() {
    let dir = tempfile::tempdir().unwrap();
    let repo = unpack(&pypi_sdist("six", "1.16.0"), dir.path());
    let p = project(&repo);
    assert_eq!(p["ecosystem"], "python");
    assert_eq!(p["test"]["run"], "python3 -m pytest");
    ends_green(&repo);
}

#[test]
fn a_src_layout_package_whose_ci_runs_tox_per_matrix_entry_pluggy() {
    let dir = tempfile::tempdir().unwrap();
    let repo = unpack(&pypi_sdist("pluggy", "1.5.0"), dir.path());
    let p = project(&repo);
    assert_eq!(p["ecosystem"], "python");
    // Its CI runs `tox -e ${{ matrix.tox_env }}` (and its workflow has a flow list that only
    // GitHub's lenient YAML parser takes).
    assert_eq!(p["test"]["run"], "tox -e py", "{p:#}");
    ends_green(&repo);
}

#[test]
fn a_published_crate_itoa() {
    let dir = tempfile::tempdir().unwrap();
    let repo = unpack(&crate_file("itoa", "1.0.11"), dir.path());
    let p = project(&repo);
    assert_eq!(p["ecosystem"], "rust");
    assert_eq!(p["test"]["run"], "cargo test");
    ends_green(&repo);
}

#[test]
fn an_npm_package_with_a_dependency_from_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let repo = written(
        dir.path(),
        &[
            (
                "package.json",
                r#"{"name":"x","version":"1.0.0","scripts":{"test":"node --test"},"dependencies":{"is-number":"7.0.0"}}"#,
            ),
            (".gitignore", "node_modules/\n"),
            (
                "test/number.test.js",
                "const test = require('node:test');\nconst assert = require('node:assert');\nconst isNumber = require('is-number');\ntest('five', () => assert.ok(isNumber(5)));\n",
            ),
        ],
    );
    let p = project(&repo);
    assert_eq!(p["manager"], "npm");
    assert_eq!(p["setup"][0]["run"], "npm install");
    ends_green(&repo);
}

#[test]
fn a_pnpm_workspace_pinned_through_corepack() {
    let dir = tempfile::tempdir().unwrap();
    let test = "const test = require('node:test');\nconst assert = require('node:assert');\ntest('one', () => assert.equal(require('is-number')(1), true));\n";
    let repo = written(
        dir.path(),
        &[
            (
                "package.json",
                r#"{"name":"root","private":true,"packageManager":"pnpm@9.15.0"}"#,
            ),
            ("pnpm-workspace.yaml", "packages:\n  - 'packages/*'\n"),
            (".gitignore", "node_modules/\n"),
            (
                "packages/a/package.json",
                r#"{"name":"a","version":"1.0.0","scripts":{"test":"node --test"},"dependencies":{"is-number":"7.0.0"}}"#,
            ),
            ("packages/a/test/a.test.js", test),
        ],
    );
    let p = project(&repo);
    assert_eq!(p["manager"], "pnpm");
    assert_eq!(p["found"][0]["members"][0], "packages/*");
    assert!(
        p["test"]["run"]
            .as_str()
            .unwrap()
            .ends_with("pnpm -r --if-present test"),
        "{p:#}"
    );
    ends_green(&repo);
}

#[test]
fn a_virtual_cargo_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let repo = written(
        dir.path(),
        &[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n",
            ),
            (".gitignore", "target/\n"),
            (
                "a/Cargo.toml",
                "[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
            ),
            (
                "a/src/lib.rs",
                "#[test]\nfn a() { assert_eq!(1 + 1, 2); }\n",
            ),
            (
                "b/Cargo.toml",
                "[package]\nname = \"b\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
            ),
            ("b/src/lib.rs", "#[test]\nfn b() {}\n"),
        ],
    );
    let p = project(&repo);
    assert_eq!(p["test"]["run"], "cargo test --workspace");
    let report = ends_green(&repo);
    assert_eq!(step(&report, "test")["tests"]["passed"], 2);
}

#[test]
fn a_makefile_only_c_project_with_a_tests_folder() {
    let dir = tempfile::tempdir().unwrap();
    let repo = written(
        dir.path(),
        &[
            (
                "Makefile",
                "CC ?= cc\n\nall: add.o\n\nadd.o: add.c\n\t$(CC) -c add.c\n\ntest: tests/run\n\t./tests/run\n\ntests/run: tests/run.c add.c\n\t$(CC) -o $@ tests/run.c add.c\n",
            ),
            (".gitignore", "*.o\ntests/run\n"),
            ("add.c", "int add(int a, int b) { return a + b; }\n"),
            (
                "tests/run.c",
                "#include <stdio.h>\nint add(int, int);\nint main(void) { if (add(2, 2) != 4) return 1; puts(\"100% tests passed, 0 tests failed out of 1\"); return 0; }\n",
            ),
        ],
    );
    let p = project(&repo);
    assert_eq!(p["ecosystem"], "make");
    assert_eq!(p["test"]["run"], "make test");
    assert_eq!(
        p["found"].as_array().unwrap().len(),
        1,
        "a tests/ folder is not pytest"
    );
    ends_green(&repo);
}

#[test]
fn a_ci_workflow_that_tests_with_tox() {
    let dir = tempfile::tempdir().unwrap();
    let repo = written(
        dir.path(),
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = [\"setuptools>=64\"]\nbuild-backend = \"setuptools.build_meta\"\n[project]\nname = \"calc\"\nversion = \"0.1\"\n",
            ),
            ("src/calc/__init__.py", "def add(a, b):\n    return a + b\n"),
            (
                "tests/test_calc.py",
                "from calc import add\n\ndef test_add():\n    assert add(2, 2) == 4\n",
            ),
            (
                "tox.ini",
                "[tox]\nenvlist = py310, py311, py312\n\n[testenv]\ndeps = pytest\ncommands = pytest {posargs}\n",
            ),
            (".gitignore", ".tox/\n*.egg-info/\n__pycache__/\n"),
            (
                ".github/workflows/tests.yml",
                "name: tests\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n        python: ['3.10', '3.11', '3.12']\n    steps:\n      - uses: actions/checkout@v4\n      - uses: actions/setup-python@v5\n        with:\n          python-version: ${{ matrix.python }}\n      - run: python -m pip install tox\n      - run: tox -e py\n",
            ),
        ],
    );
    let p = project(&repo);
    assert_eq!(p["test"]["run"], "tox -e py");
    assert_eq!(
        p["test"]["why"],
        "the repository's CI: .github/workflows/tests.yml, job test"
    );
    ends_green(&repo);
}

#[test]
fn tests_that_cannot_run_end_the_default_playbook_before_any_model() {
    // The test script needs vitest, which the package does not depend on: `npm test` exits
    // 127. No model is asked (there is none here: the aider step would fail otherwise).
    let dir = tempfile::tempdir().unwrap();
    let repo = written(
        dir.path(),
        &[(
            "package.json",
            r#"{"name":"x","version":"1.0.0","scripts":{"test":"vitest run"}}"#,
        )],
    );
    let work = tempfile::tempdir().unwrap();
    let (ran, report) = run("playbooks/default.yml", &repo, work.path());
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert_eq!(step(&report, "setup")["status"], "success");
    assert_eq!(
        step(&report, "baseline")["message"],
        "exit code 127 (a command was not found)"
    );
    assert_eq!(step(&report, "runnable")["status"], "failure");
    assert_eq!(step(&report, "solve")["status"], "skipped");
    assert_eq!(step(&report, "pr")["status"], "skipped");
    // The comment (printed without GitHub) says why, with the end of the output.
    assert!(
        ran.stdout
            .contains("codingworker did not try to solve this issue"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("vitest: not found"), "{}", ran.stdout);
}

#[test]
fn a_test_that_failed_before_any_change_may_fail_after_it_but_no_new_one() {
    let calc = |dir: &Path| {
        written(
            dir,
            &[
                ("calc.py", "def add(a, b):\n    return a + b\n"),
                (
                    "test_calc.py",
                    "from calc import add\n\ndef test_add():\n    assert add(2, 2) == 4\n\ndef test_known_bug():\n    assert add(0.1, 0.2) == 0.3\n",
                ),
                (".gitignore", "__pycache__/\n.pytest_cache/\n"),
            ],
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let repo = calc(dir.path());
    let work = tempfile::tempdir().unwrap();
    let (ran, report) = run("tests/fixtures/real/harmless.yml", &repo, work.path());
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    let test = step(&report, "test");
    assert_eq!(test["status"], "success");
    assert_eq!(test["exit_code"], 1);
    assert_eq!(
        test["message"],
        "1 failing test failed before any change too; no new failures (`baseline`)"
    );
    assert_eq!(test["tests"]["failures"][0], "test_calc.py::test_known_bug");
    let summary = std::fs::read_to_string(work.path().join("out/summary.md")).unwrap();
    assert!(
        summary.contains("tests: 1 passed, 1 failed · 1 failing test failed before"),
        "{summary}"
    );

    // An agent that breaks a passing test fails the attempt.
    let breaking = std::fs::read_to_string(root().join("tests/fixtures/real/harmless.yml"))
        .unwrap()
        .replace(
            r#"echo "a harmless change" > CODINGWORKER_NOTE.md"#,
            "sed -i 's/a + b/a - b/' calc.py",
        );
    let playbook = work.path().join("breaking.yml");
    std::fs::write(&playbook, breaking).unwrap();
    let (dir, again) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ran, report) = run(playbook.to_str().unwrap(), &calc(dir.path()), again.path());
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let test = step(&report, "test");
    assert_eq!(test["status"], "failure");
    assert_eq!(
        test["tests"]["failures"].as_array().unwrap().len(),
        2,
        "{test}"
    );

    // Nor does deleting a passing test: fewer tests pass (the exit code is the baseline's).
    let deleting = std::fs::read_to_string(root().join("tests/fixtures/real/harmless.yml"))
        .unwrap()
        .replace(
            r#"echo "a harmless change" > CODINGWORKER_NOTE.md"#,
            "sed -i '/def test_add/,+2d' test_calc.py",
        );
    let playbook = work.path().join("deleting.yml");
    std::fs::write(&playbook, deleting).unwrap();
    let (dir, third) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ran, report) = run(playbook.to_str().unwrap(), &calc(dir.path()), third.path());
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let test = step(&report, "test");
    assert_eq!(test["exit_code"], 1);
    assert_eq!(test["status"], "failure");
    assert_eq!(
        test["message"],
        "0 tests pass, fewer than the 1 that passed before any change (`baseline`): a change must not remove or break tests"
    );

    // With `protect`, an agent that "fixes" the known bug by editing its test fails, though
    // every test passes.
    let editing = std::fs::read_to_string(root().join("tests/fixtures/real/harmless.yml"))
        .unwrap()
        .replace("timeout: 15m\n", "timeout: 15m\nprotect: [\"test_*.py\"]\n")
        .replace(
            r#"echo "a harmless change" > CODINGWORKER_NOTE.md"#,
            "sed -i 's/== 0.3/!= 0.3/' test_calc.py",
        );
    let playbook = work.path().join("editing.yml");
    std::fs::write(&playbook, editing).unwrap();
    let (dir, fourth) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ran, report) = run(playbook.to_str().unwrap(), &calc(dir.path()), fourth.path());
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let test = step(&report, "test");
    assert_eq!(test["exit_code"], 0);
    assert_eq!(
        test["message"],
        "the change edits or deletes protected files (test_calc.py): `protect` keeps them as they were"
    );
}

/// Files under `dir`, recursively.
fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn a_second_task_on_the_same_repository_reuses_its_dependency_cache() {
    let dir = tempfile::tempdir().unwrap();
    let repo = written(
        dir.path(),
        &[
            (
                "package.json",
                r#"{"name":"x","version":"1.0.0","scripts":{"test":"node --test"},"dependencies":{"is-number":"7.0.0"}}"#,
            ),
            (".gitignore", "node_modules/\n"),
            (
                "test/n.test.js",
                "const test = require('node:test');\nconst assert = require('node:assert');\ntest('n', () => assert.ok(require('is-number')(1)));\n",
            ),
        ],
    );
    let work = tempfile::tempdir().unwrap();
    let first = ends_green_in(&repo, work.path());
    let cache = &first["cache"];
    assert_eq!(cache["hit"], false, "{first:#}");
    let dir = PathBuf::from(cache["dir"].as_str().unwrap());
    assert!(
        dir.starts_with(work.path().join("cache/deps/acme__calculator")),
        "{dir:?}"
    );
    let content = dir.join("npm/_cacache/content-v2");
    let stored = count_files(&content);
    assert!(stored > 0, "npm downloaded into the run's cache");

    let second = ends_green_in(&repo, work.path());
    assert_eq!(second["cache"]["hit"], true);
    assert_eq!(second["cache"]["dir"], first["cache"]["dir"]);
    assert_eq!(count_files(&content), stored, "nothing new was downloaded");
    let summary = std::fs::read_to_string(work.path().join("out/summary.md")).unwrap();
    assert!(summary.contains("Dependency cache: reused"), "{summary}");
    let shown: Ran = cw()
        .args(["runs", "show", second["id"].as_str().unwrap(), "--workdir"])
        .arg(work.path())
        .output()
        .unwrap()
        .into();
    assert!(
        shown.stdout.contains("  cache:    reused ("),
        "{}",
        shown.stdout
    );
}

#[test]
fn a_go_module() {
    let dir = tempfile::tempdir().unwrap();
    let repo = written(
        dir.path(),
        &[
            ("go.mod", "module example.com/calc\n\ngo 1.19\n"),
            (
                "calc.go",
                "package calc\n\nfunc Add(a, b int) int { return a + b }\n",
            ),
            (
                "calc_test.go",
                "package calc\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(2, 2) != 4 {\n\t\tt.Fatal(\"2+2\")\n\t}\n}\n\nfunc TestZero(t *testing.T) {}\n",
            ),
        ],
    );
    let p = project(&repo);
    assert_eq!(p["ecosystem"], "go");
    assert_eq!(p["test"]["run"], "go test -v ./...");
    let report = ends_green(&repo);
    assert_eq!(step(&report, "test")["tests"]["passed"], 2);
}

#[test]
fn a_python_project_set_up_with_uv_when_it_is_on_path() {
    let dir = tempfile::tempdir().unwrap();
    let repo = written(
        dir.path(),
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = [\"setuptools>=64\"]\nbuild-backend = \"setuptools.build_meta\"\n[project]\nname = \"calc\"\nversion = \"0.1\"\n[dependency-groups]\ntest = [\"pytest\"]\n",
            ),
            ("src/calc/__init__.py", "def add(a, b):\n    return a + b\n"),
            (
                "tests/test_calc.py",
                "from calc import add\n\ndef test_add():\n    assert add(2, 2) == 4\n",
            ),
            (".gitignore", "*.egg-info/\n__pycache__/\n"),
        ],
    );
    // scripts/setup-test-tools installs uv into .venv.
    let path = format!(
        "{}:{}",
        root().join(".venv/bin").display(),
        std::env::var("PATH").unwrap()
    );
    let out = cw()
        .args(["project", "--format", "json"])
        .arg(&repo)
        .env("PATH", &path)
        .output()
        .unwrap();
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(p["needs"][0], "uv");
    assert!(
        p["setup"][1]["run"]
            .as_str()
            .unwrap()
            .contains("--group test"),
        "{p:#}"
    );
    let work = tempfile::tempdir().unwrap();
    let (ran, report) = run_on(
        "tests/fixtures/real/harmless.yml",
        &repo,
        work.path(),
        &path,
    );
    let setup = std::fs::read_to_string(work.path().join("out/logs/01-setup.log"));
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, setup.unwrap_or_default());
    assert_eq!(step(&report, "test")["tests"]["passed"], 1);
}

/// `files: auto` on published packages, with issues written as users write them (from
/// scripts/context-corpus/tuned.json, one of the benchmark's corpora): the file that must
/// change is handed to the agent and the prompt fits the window. The benchmark runs all of
/// it (`scripts/bench.py --only context`); this is its smoke.
#[test]
fn files_auto_hands_over_the_file_an_issue_is_about_in_published_packages() {
    use sha2::Digest;
    let corpus: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("scripts/context-corpus/tuned.json")).unwrap(),
    )
    .unwrap();
    for name in ["click", "itertools", "postcss"] {
        let pkg = corpus["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap();
        let url = pkg["url"].as_str().unwrap();
        let archive = download(url, url.rsplit('/').next().unwrap());
        let digest = sha2::Sha256::digest(std::fs::read(&archive).unwrap());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, pkg["sha256"].as_str().unwrap(), "{url}");
        let dir = tempfile::tempdir().unwrap();
        let top = unpack(&archive, dir.path());
        assert_eq!(top.file_name().unwrap(), pkg["strip"].as_str().unwrap());
        for issue in pkg["issues"].as_array().unwrap() {
            let ran: Ran = cw()
                .arg("context")
                .arg(&top)
                .arg(format!("--title={}", issue["title"].as_str().unwrap()))
                .arg(format!("--body={}", issue["body"].as_str().unwrap()))
                .args(["--format", "json"])
                .output()
                .unwrap()
                .into();
            let got: Value = serde_json::from_str(&ran.stdout)
                .unwrap_or_else(|e| panic!("{e}: {}\n{}", ran.stdout, ran.stderr));
            let handed: Vec<&str> = got["edit"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["path"].as_str().unwrap())
                .chain(
                    got["excerpts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x["of"].as_str().unwrap()),
                )
                .collect();
            let expect = issue["expect"][0].as_str().unwrap();
            assert!(
                handed.contains(&expect),
                "{name} {}: {expect} not in {handed:?}",
                issue["id"]
            );
            let b = &got["budget"];
            let used: u64 = [
                "margin", "system", "message", "reply", "edit", "read", "map",
            ]
            .iter()
            .map(|k| b[k].as_u64().unwrap())
            .sum();
            assert!(used <= b["window"].as_u64().unwrap(), "{b}");
        }
    }
}
