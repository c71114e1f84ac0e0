//! What detection finds: the project it chose, with its commands and the reasons for them.

use schemars::JsonSchema;
use serde::Serialize;

/// An ecosystem detection knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    Rust,
    Go,
    Node,
    Python,
    Make,
    Cmake,
}

impl Ecosystem {
    pub fn name(self) -> &'static str {
        match self {
            Ecosystem::Rust => "rust",
            Ecosystem::Go => "go",
            Ecosystem::Node => "node",
            Ecosystem::Python => "python",
            Ecosystem::Make => "make",
            Ecosystem::Cmake => "cmake",
        }
    }
}

/// One command of the setup or the test, and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Command {
    /// The command line, for `sh -c` in the checkout.
    pub run: String,
    /// Why: the file or CI step it comes from.
    pub why: String,
}

impl Command {
    pub(crate) fn new(run: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            run: run.into(),
            why: why.into(),
        }
    }
}

/// A project root found in the checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Found {
    /// The folder, relative to the checkout (`.` for its top).
    pub root: String,
    pub ecosystem: Ecosystem,
    /// The package manager or build tool (`pip`, `uv`, `pnpm`, `cargo`, `make`, ...).
    pub manager: String,
    /// The files that show it.
    pub evidence: Vec<String>,
    /// Workspace members (cargo, pnpm, npm and yarn workspaces, go.work).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    pub setup: Vec<Command>,
    pub test: Option<Command>,
    /// The programs its commands need.
    pub needs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The project of a checkout: what a run sets up and tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Project {
    /// The chosen ecosystem (none when nothing was recognised).
    pub ecosystem: Option<Ecosystem>,
    pub manager: Option<String>,
    /// The chosen root, relative to the checkout (`.` for its top).
    pub root: String,
    /// The setup commands, in order (`project.setup` joins them with `&&`).
    pub setup: Vec<Command>,
    /// The test command (`project.test`).
    pub test: Option<Command>,
    /// The programs the commands need.
    pub needs: Vec<String>,
    /// Those of them this machine's PATH lacks.
    pub missing: Vec<String>,
    /// Every project root seen, the chosen one among them.
    pub found: Vec<Found>,
    /// What was ignored or could not be read, and why.
    pub notes: Vec<String>,
}

impl Project {
    /// Nothing found (yet).
    pub fn none() -> Self {
        Self {
            ecosystem: None,
            manager: None,
            root: ".".into(),
            setup: Vec::new(),
            test: None,
            needs: Vec::new(),
            missing: Vec::new(),
            found: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// `project.setup`: the setup commands as one script (empty when there is nothing to set
    /// up).
    pub fn setup_script(&self) -> String {
        self.setup
            .iter()
            .map(|c| c.run.as_str())
            .collect::<Vec<_>>()
            .join(" &&\n")
    }

    /// `project.test`: the test command (empty when none was found).
    pub fn test_script(&self) -> String {
        self.test
            .as_ref()
            .map(|c| c.run.clone())
            .unwrap_or_default()
    }

    /// `project.*` as templates see it: commands are the repository's own, trusted like
    /// `vars` (they run as commands, not as data).
    pub fn to_value(&self) -> minijinja::Value {
        use std::collections::BTreeMap;
        let safe = |s: String| minijinja::Value::from_safe_string(s);
        minijinja::Value::from(BTreeMap::from([
            ("setup", safe(self.setup_script())),
            ("test", safe(self.test_script())),
            (
                "ecosystem",
                minijinja::Value::from(self.ecosystem.map_or("", Ecosystem::name)),
            ),
            (
                "manager",
                minijinja::Value::from(self.manager.clone().unwrap_or_default()),
            ),
            ("root", safe(self.root.clone())),
            ("missing", minijinja::Value::from(self.missing.clone())),
        ]))
    }
}
