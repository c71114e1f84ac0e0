//! Every template and expression of a playbook, found once and named by JSON pointer.
//!
//! The validator compiles and checks these sites, the engine renders them by pointer, and
//! the dry-run plan shows them. A field left to its default (e.g. `pr_open.body`) is a site
//! too, with the default's source.

use crate::playbook::model::{Playbook, Step, StepKind};
use crate::playbook::types::{Condition, EnvMap, Flag, Template};
use crate::source::yaml::pointer_push;
use crate::steps::pr_open::spec as pr_open;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteKind {
    /// A template rendered as text (prompts, PR bodies, env values...).
    Text,
    /// The template of a `shell` step: outputs are shell-quoted.
    Shell,
    /// A bare expression (`if`, `until`).
    Expr,
}

/// One template or expression in a playbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub pointer: String,
    pub source: String,
    pub kind: SiteKind,
    /// Inside a retry, where `attempt` is defined.
    pub in_retry: bool,
    /// The id of the step it belongs to.
    pub step: Option<String>,
    /// Not written in the file: the field's default.
    pub implicit: bool,
}

impl Site {
    pub fn new(pointer: impl Into<String>, source: impl Into<String>, kind: SiteKind) -> Self {
        Self {
            pointer: pointer.into(),
            source: source.into(),
            kind,
            in_retry: false,
            step: None,
            implicit: false,
        }
    }

    /// The name it is compiled under.
    pub fn name(&self) -> String {
        Self::name_of(self.kind, &self.pointer)
    }

    pub fn name_of(kind: SiteKind, pointer: &str) -> String {
        let prefix = match kind {
            SiteKind::Text => "text",
            SiteKind::Shell => "shell",
            SiteKind::Expr => "expr",
        };
        format!("{prefix}:{pointer}")
    }
}

/// The JSON pointer of a top-level step.
pub(crate) fn step_pointer(index: usize) -> String {
    format!("/steps/{index}")
}

/// The JSON pointer of a nested step of the retry at `parent`.
pub(crate) fn child_pointer(parent: &str, index: usize) -> String {
    format!("{parent}/retry/steps/{index}")
}

/// All sites of a playbook, in file order.
pub(crate) fn collect(pb: &Playbook) -> Vec<Site> {
    let steps: Vec<(String, bool, &Step)> = pb
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (step_pointer(i), false, s))
        .collect();
    collect_parts(&pb.branch, &pb.env, &steps)
}

/// The sites of the parts of a playbook that could be read (the validator uses this to
/// check every step that parses even when another one does not).
pub(crate) fn collect_parts(
    branch: &Template,
    env: &EnvMap,
    steps: &[(String, bool, &Step)],
) -> Vec<Site> {
    let mut c = Collector {
        out: Vec::new(),
        in_retry: false,
        step: None,
    };
    c.template("/branch", branch);
    c.env("/env", env);
    for (pointer, in_retry, step) in steps {
        c.in_retry = *in_retry;
        c.step(pointer, step);
    }
    c.out
}

struct Collector {
    out: Vec<Site>,
    in_retry: bool,
    step: Option<String>,
}

impl Collector {
    fn push(&mut self, pointer: String, source: &str, kind: SiteKind, implicit: bool) {
        self.out.push(Site {
            pointer,
            source: source.to_owned(),
            kind,
            in_retry: self.in_retry,
            step: self.step.clone(),
            implicit,
        });
    }

    fn template(&mut self, pointer: &str, t: &Template) {
        self.push(pointer.to_owned(), t.as_str(), SiteKind::Text, false);
    }

    fn template_or(&mut self, pointer: String, t: Option<&Template>, default: &str) {
        match t {
            Some(t) => self.push(pointer, t.as_str(), SiteKind::Text, false),
            None => self.push(pointer, default, SiteKind::Text, true),
        }
    }

    fn templates(&mut self, pointer: &str, list: &[Template]) {
        for (i, t) in list.iter().enumerate() {
            self.template(&format!("{pointer}/{i}"), t);
        }
    }

    fn env(&mut self, pointer: &str, env: &EnvMap) {
        for (name, value) in env.iter() {
            self.template(&pointer_push(pointer, name), value);
        }
    }

    fn condition(&mut self, pointer: String, c: Option<&Condition>) {
        if let Some(Condition::Expr(e)) = c {
            self.push(pointer, e, SiteKind::Expr, false);
        }
    }

    fn step(&mut self, p: &str, step: &Step) {
        let outer_step = self.step.replace(step.id.0.clone());
        self.condition(format!("{p}/if"), step.condition.as_ref());
        self.env(&format!("{p}/env"), &step.env);
        match &step.kind {
            StepKind::Shell(t) => {
                self.push(format!("{p}/shell"), t.as_str(), SiteKind::Shell, false)
            }
            StepKind::Aider(a) => {
                self.template(&format!("{p}/aider/model"), &a.model);
                self.template(&format!("{p}/aider/message"), &a.message);
                self.templates(&format!("{p}/aider/files"), &a.files);
                self.templates(&format!("{p}/aider/read"), &a.read);
                if let Some(t) = &a.edit_format {
                    self.template(&format!("{p}/aider/edit_format"), t);
                }
                if let Some(t) = &a.api_base {
                    self.template(&format!("{p}/aider/api_base"), t);
                }
                self.templates(&format!("{p}/aider/args"), &a.args);
            }
            StepKind::Retry(r) => {
                let outer = std::mem::replace(&mut self.in_retry, true);
                for (i, attempt) in r.attempts.iter().enumerate() {
                    self.env(&format!("{p}/retry/attempts/{i}/env"), &attempt.env);
                }
                self.condition(format!("{p}/retry/until"), r.until.as_ref());
                for (i, child) in r.steps.iter().enumerate() {
                    self.step(&child_pointer(p, i), child);
                }
                self.in_retry = outer;
            }
            StepKind::PrOpen(pr) => {
                self.template_or(
                    format!("{p}/pr_open/title"),
                    pr.title.as_ref(),
                    pr_open::DEFAULT_TITLE,
                );
                self.template_or(
                    format!("{p}/pr_open/body"),
                    pr.body.as_ref(),
                    pr_open::DEFAULT_BODY,
                );
                if let Some(Flag::Template(t)) = &pr.draft {
                    self.template(&format!("{p}/pr_open/draft"), t);
                }
                if let Some(t) = &pr.base {
                    self.template(&format!("{p}/pr_open/base"), t);
                }
                self.templates(&format!("{p}/pr_open/labels"), &pr.labels);
                self.templates(&format!("{p}/pr_open/reviewers"), &pr.reviewers);
                self.template_or(
                    format!("{p}/pr_open/commit_message"),
                    pr.commit_message.as_ref(),
                    pr_open::DEFAULT_COMMIT_MESSAGE,
                );
            }
            StepKind::Comment(c) => self.template(&format!("{p}/comment/body"), &c.body),
        }
        self.step = outer_step;
    }
}
