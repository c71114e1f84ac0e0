//! Detection on synthetic layouts, one per shape real repositories have.

use std::path::Path;

use super::{Ecosystem, Project, Tools, detect};

fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn plain() -> Tools {
    Tools::fixed(["python3", "node", "npm", "corepack", "cargo", "go", "make"])
}

fn detect_in(dir: &Path) -> Project {
    detect(dir, &plain())
}

#[test]
fn a_c_project_with_a_tests_folder_tests_with_make() {
    let d = repo(&[
        ("Makefile", "all: lib\n\ntest: all\n\t./tests/run.sh\n"),
        ("tests/run.sh", "#!/bin/sh\n"),
        ("src/lib.c", ""),
    ]);
    let p = detect_in(d.path());
    assert_eq!(p.ecosystem, Some(Ecosystem::Make));
    assert_eq!(p.test_script(), "make test");
    assert_eq!(
        p.found.len(),
        1,
        "a tests/ folder alone is not python: {:?}",
        p.found
    );
}

#[test]
fn a_rust_crate_with_a_tests_folder_is_only_rust() {
    let d = repo(&[
        (
            "Cargo.toml",
            "[package]\nname = \"x\"\nversion = \"0.1.0\"\n",
        ),
        ("tests/it.rs", ""),
    ]);
    let p = detect_in(d.path());
    assert_eq!(p.ecosystem, Some(Ecosystem::Rust));
    assert_eq!(p.test_script(), "cargo test");
    assert_eq!(p.setup_script(), "cargo fetch");
    assert_eq!(p.found.len(), 1);
}

#[test]
fn a_virtual_cargo_workspace_tests_every_member() {
    let d = repo(&[(
        "Cargo.toml",
        "[workspace]\nmembers = [\"crates/a\", \"crates/b\"]\nresolver = \"2\"\n",
    )]);
    let p = detect_in(d.path());
    assert_eq!(p.test_script(), "cargo test --workspace");
    assert_eq!(p.found[0].members, ["crates/a", "crates/b"]);
}

#[test]
fn a_src_layout_python_project_installs_itself_with_its_test_extra() {
    let d = repo(&[
        (
            "pyproject.toml",
            "[build-system]\nrequires = [\"setuptools\"]\n[project]\nname = \"sample\"\n[project.optional-dependencies]\ntest = [\"pytest\"]\ndocs = [\"sphinx\"]\n",
        ),
        ("src/sample/__init__.py", ""),
        ("tests/test_sample.py", ""),
        ("requirements-dev.txt", "pytest-cov\n"),
    ]);
    let p = detect_in(d.path());
    assert_eq!(p.ecosystem, Some(Ecosystem::Python));
    assert_eq!(p.manager.as_deref(), Some("pip"));
    assert_eq!(
        p.setup_script(),
        "python3 -m venv \"$CW_SETUP_DIR/venv\" &&\n\"$CW_SETUP_DIR/venv/bin/python\" -m pip install -q -e '.[test]' -r requirements-dev.txt pytest"
    );
    assert_eq!(p.test_script(), "python3 -m pytest");
    assert!(p.missing.is_empty(), "{:?}", p.missing);
}

#[test]
fn uv_installs_when_it_is_on_path_and_dependency_groups_count() {
    let d = repo(&[(
        "pyproject.toml",
        "[project]\nname = \"s\"\n[dependency-groups]\ndev = [\"pytest\"]\n",
    )]);
    let p = detect(d.path(), &Tools::fixed(["uv"]));
    assert_eq!(
        p.setup_script(),
        "uv venv -q --seed \"$CW_SETUP_DIR/venv\" &&\nuv pip install -q --python \"$CW_SETUP_DIR/venv/bin/python\" -e . --group dev pytest"
    );
    assert_eq!(p.needs, ["uv"]);
}

#[test]
fn a_pyproject_that_does_not_parse_is_installed_as_it_is_with_a_note() {
    let d = repo(&[("pyproject.toml", "[project\nname = ")]);
    let p = detect_in(d.path());
    assert_eq!(p.ecosystem, Some(Ecosystem::Python));
    assert!(
        p.notes[0].starts_with("pyproject.toml does not parse"),
        "{:?}",
        p.notes
    );
}

#[test]
fn pnpm_through_corepack_when_pnpm_is_not_on_path() {
    let d = repo(&[
        (
            "package.json",
            r#"{"name":"x","packageManager":"pnpm@9.12.0","scripts":{"test":"vitest run"}}"#,
        ),
        ("pnpm-lock.yaml", "lockfileVersion: '9.0'\n"),
    ]);
    let p = detect_in(d.path());
    assert_eq!(p.manager.as_deref(), Some("pnpm"));
    assert_eq!(
        p.setup_script(),
        "COREPACK_ENABLE_DOWNLOAD_PROMPT=0 corepack pnpm install --frozen-lockfile"
    );
    assert_eq!(
        p.test_script(),
        "COREPACK_ENABLE_DOWNLOAD_PROMPT=0 corepack pnpm test"
    );
    assert_eq!(p.needs, ["node", "corepack"]);
    let with_pnpm = detect(d.path(), &Tools::fixed(["node", "pnpm"]));
    assert_eq!(with_pnpm.test_script(), "pnpm test");
}

#[test]
fn a_pnpm_workspace_without_a_root_test_script_tests_every_package() {
    let d = repo(&[
        ("package.json", r#"{"private":true}"#),
        ("pnpm-workspace.yaml", "packages:\n  - 'packages/*'\n"),
        ("pnpm-lock.yaml", ""),
    ]);
    let p = detect(d.path(), &Tools::fixed(["node", "pnpm"]));
    assert_eq!(p.test_script(), "pnpm -r --if-present test");
    assert_eq!(p.found[0].members, ["packages/*"]);
}

#[test]
fn npm_init_s_placeholder_is_no_test_script() {
    let d = repo(&[(
        "package.json",
        r#"{"scripts":{"test":"echo \"Error: no test specified\" && exit 1"}}"#,
    )]);
    let p = detect_in(d.path());
    assert_eq!(p.test, None);
    assert_eq!(p.setup_script(), "npm install");
    assert!(
        p.notes
            .contains(&"package.json has no test script".to_owned())
    );
}

#[test]
fn yarn_berry_installs_immutably() {
    let d = repo(&[
        ("package.json", r#"{"scripts":{"test":"jest"}}"#),
        ("yarn.lock", ""),
        (".yarnrc.yml", "nodeLinker: node-modules\n"),
    ]);
    let p = detect(d.path(), &Tools::fixed(["node", "yarn"]));
    assert_eq!(p.setup_script(), "yarn install --immutable");
    assert_eq!(p.test_script(), "yarn test");
}

#[test]
fn a_go_workspace_tests_every_module_it_uses() {
    let d = repo(&[("go.work", "go 1.22\n\nuse (\n\t./api\n\t./cli\n)\n")]);
    let p = detect_in(d.path());
    assert_eq!(p.test_script(), "go test -v ./api/... ./cli/...");
    assert_eq!(p.setup_script(), "go mod download");
}

#[test]
fn a_project_one_folder_down_is_found_and_entered() {
    let d = repo(&[("README.md", ""), ("app/go.mod", "module x\n")]);
    let p = detect_in(d.path());
    assert_eq!(p.root, "app");
    assert_eq!(p.setup_script(), "cd app &&\ngo mod download");
    assert_eq!(p.test_script(), "cd app && go test -v ./...");
}

#[test]
fn the_ci_s_tox_job_wins_over_pytest_and_installs_tox() {
    let d = repo(&[
        ("pyproject.toml", "[project]\nname = \"x\"\n"),
        ("tox.ini", "[testenv]\ncommands = pytest\n"),
        (
            ".github/workflows/tests.yml",
            "on: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n        python: ['3.10', '3.12']\n    steps:\n      - uses: actions/checkout@v4\n      - uses: actions/setup-python@v5\n        with: { python-version: '${{ matrix.python }}' }\n      - run: python -m pip install --upgrade pip\n      - run: tox -e py\n",
        ),
    ]);
    let p = detect_in(d.path());
    assert_eq!(p.test_script(), "tox -e py");
    assert_eq!(
        p.test.as_ref().unwrap().why,
        "the repository's CI: .github/workflows/tests.yml, job test"
    );
    assert_eq!(
        p.setup_script(),
        "python3 -m venv \"$CW_SETUP_DIR/venv\" &&\nhash -r &&\npython -m pip install --upgrade pip &&\n\"$CW_SETUP_DIR/venv/bin/python\" -m pip install -q tox"
    );
}

#[test]
fn a_ci_make_test_tests_a_python_project_in_its_venv() {
    let d = repo(&[
        ("setup.py", ""),
        ("Makefile", "test:\n\tpytest\n"),
        (
            ".github/workflows/ci.yml",
            "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          pip install -e .\n          make test\n",
        ),
    ]);
    let p = detect_in(d.path());
    assert_eq!(p.ecosystem, Some(Ecosystem::Python));
    assert_eq!(p.test_script(), "make test");
    assert_eq!(
        p.setup_script(),
        "python3 -m venv \"$CW_SETUP_DIR/venv\" &&\nhash -r &&\npip install -e ."
    );
}

#[test]
fn ci_lines_with_expressions_or_sudo_are_ignored_with_a_note() {
    let d = repo(&[
        ("go.mod", "module x\n"),
        (
            ".github/workflows/ci.yml",
            "on:\n  pull_request:\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - run: sudo apt-get install -y libfoo\n      - run: go test -tags ${{ matrix.tags }} ./...\n      - run: go test -race ./...\n        working-directory: ./sub\n",
        ),
    ]);
    let p = detect_in(d.path());
    assert_eq!(p.test_script(), "(cd sub && go test -race ./...)");
    assert_eq!(p.setup_script(), "go mod download");
    assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
    assert!(
        p.notes[0].contains("uses a GitHub expression"),
        "{:?}",
        p.notes
    );
}

#[test]
fn a_malformed_or_huge_workflow_is_a_note_never_a_crash() {
    let huge = format!("on: push\njobs:\n{}", "  # pad\n".repeat(200_000));
    let deep = format!("on: push\njobs: {}{}", "[".repeat(500), "]".repeat(500));
    let d = repo(&[
        ("go.mod", "module x\n"),
        (".github/workflows/a.yml", "on: push\njobs: [\n"),
        (".github/workflows/b.yml", &huge),
        (".github/workflows/c.yml", &deep),
        (".github/workflows/d.yml", "\u{0}\u{1}binary"),
    ]);
    let p = detect_in(d.path());
    assert_eq!(p.test_script(), "go test -v ./...");
    assert_eq!(p.notes.len(), 4, "{:#?}", p.notes);
    assert!(
        p.notes.iter().any(|n| n.contains("over the 1024 KiB")),
        "{:#?}",
        p.notes
    );
}

#[test]
fn missing_tools_are_named() {
    let d = repo(&[("go.mod", "module x\n")]);
    let p = detect(d.path(), &Tools::fixed([]));
    assert_eq!(p.missing, ["go"]);
}

#[test]
fn nothing_recognised_is_no_project() {
    let d = repo(&[("README.md", "hello\n")]);
    let p = detect_in(d.path());
    assert_eq!(p.ecosystem, None);
    assert_eq!(p.setup_script(), "");
    assert_eq!(p.test_script(), "");
}

#[test]
fn ci_details_real_workflows_have() {
    let d = repo(&[
        ("web/package.json", r#"{"scripts":{"test":"vitest run"}}"#),
        ("web/pnpm-lock.yaml", ""),
        ("api/package.json", r#"{"scripts":{"test":"jest"}}"#),
        (
            ".github/workflows/ci.yml",
            "on: push\ndefaults:\n  run:\n    working-directory: web\njobs:\n  lint:\n    runs-on: ubuntu-latest\n    steps:\n      - run: pnpm test:lint | tee lint.log\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: pnpm install --frozen-lockfile\n      - run: pnpm test | tee out.log\n      - run: |\n          cd unit\n          pnpm test\n",
        ),
    ]);
    let p = detect(d.path(), &Tools::fixed(["node", "pnpm"]));
    // The `test` job is read before `lint`; a piped test line is left out; the `cd` before
    // the next one and the workflow's default folder both count.
    assert_eq!(p.test_script(), "(cd web/unit && pnpm test)", "{p:#?}");
    assert_eq!(
        p.setup_script(),
        "(cd web && pnpm install --frozen-lockfile)"
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("would not pass its exit code on")),
        "{:?}",
        p.notes
    );
    assert_eq!(p.root, "web", "the CI's folder picks the project");
}

#[test]
fn the_programs_ci_lines_start_are_needed() {
    let d = repo(&[
        ("pyproject.toml", "[tool.poetry]\nname = \"x\"\n"),
        (
            ".github/workflows/test.yml",
            "on: pull_request\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - run: poetry install\n      - run: uv run pytest\n",
        ),
    ]);
    let p = detect(d.path(), &Tools::fixed(["python3"]));
    assert_eq!(p.missing, ["poetry", "uv"]);
    assert!(
        p.test_script()
            .starts_with("VIRTUAL_ENV=\"$CW_SETUP_DIR/venv\" UV_PROJECT_ENVIRONMENT="),
        "{}",
        p.test_script()
    );
}

#[test]
fn links_out_of_the_checkout_are_not_followed() {
    let outside = repo(&[(
        "workflows/ci.yml",
        "on: push\njobs:\n  t:\n    steps:\n      - run: make test\n",
    )]);
    let d = repo(&[("go.mod", "module x\n")]);
    std::os::unix::fs::symlink(outside.path(), d.path().join(".github")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("workflows"), d.path().join("sub")).unwrap();
    let p = detect_in(d.path());
    assert_eq!(p.test_script(), "go test -v ./...");
    assert!(p.notes.is_empty(), "{:?}", p.notes);
}

#[test]
fn a_lockfile_that_does_not_parse_falls_back_to_the_manifest_with_a_note() {
    let d = repo(&[
        ("package.json", r#"{"scripts":{"test":"node --test"}}"#),
        (
            "package-lock.json",
            "{ \"lockfileVersion\": 3, <<<<<<< HEAD",
        ),
    ]);
    let p = detect_in(d.path());
    assert_eq!(p.setup_script(), "npm install");
    assert_eq!(
        p.notes,
        [
            "package-lock.json does not parse: installing from package.json, without a frozen lockfile"
        ]
    );
}
