//! Every template and expression of a playbook, found once and named by JSON pointer.
//!
//! The validator compiles and checks these sites, the engine renders them by pointer, and
//! the dry-run plan shows them. A field left to its default (e.g. `pr_open.body`) is a site
//! too, with the default's source.

use crate::playbook::model::{Playbook, Step, StepKind};
use crate::playbook::types::{Condition, EnvMap, Template};
use crate::source::yaml::pointer_push;

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

/// Gathers a playbook's sites; each kind's spec adds its own (`collect_sites`).
pub struct Collector {
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

    /// A template, which learns its place.
    pub fn template(&mut self, pointer: &str, t: &Template) {
        t.place(pointer);
        self.push(pointer.to_owned(), t.as_str(), SiteKind::Text, false);
    }

    /// A field with a default: the template given, or the default's (an implicit site).
    pub fn template_or(&mut self, pointer: String, given: Option<&Template>, effective: &Template) {
        effective.place(&pointer);
        self.push(pointer, effective.as_str(), SiteKind::Text, given.is_none());
    }

    /// A list of templates, each at its index.
    pub fn templates(&mut self, pointer: &str, list: &[Template]) {
        for (i, t) in list.iter().enumerate() {
            self.template(&format!("{pointer}/{i}"), t);
        }
    }

    fn env(&mut self, pointer: &str, env: &EnvMap) {
        for (name, value) in env.iter() {
            self.template(&pointer_push(pointer, name), value);
        }
    }

    /// The command of a `shell` step: its values are placed by where they stand.
    pub fn shell(&mut self, pointer: &str, t: &Template) {
        t.place(pointer);
        self.push(pointer.to_owned(), t.as_str(), SiteKind::Shell, false);
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
            kind => kind.collect_sites(self, &format!("{p}/{}", kind.name())),
        }
        self.step = outer_step;
    }
}

#[cfg(test)]
mod tests {
    use crate::playbook::model::StepKind;
    use crate::source::SourceFile;

    /// Collecting the sites tells every template of the spec where it sits, defaults
    /// included: the runners render by these places, so a field cannot be rendered from
    /// another field's pointer.
    #[test]
    fn every_template_learns_its_place() {
        let text = include_str!("../../tests/fixtures/valid/everything.yml");
        let loaded =
            crate::playbook::load_source(SourceFile::new("everything.yml", text.to_owned()));
        let pb = loaded.playbook.expect("the fixture loads");
        assert_eq!(pb.branch.pointer(), None, "not collected yet");
        let sites = super::collect(&pb);
        assert_eq!(pb.branch.pointer(), Some("/branch"));
        for (name, t) in pb.env.iter() {
            assert_eq!(t.pointer(), Some(format!("/env/{name}").as_str()));
        }
        let mut seen = 0;
        let mut visit = |steps: &[crate::playbook::model::Step], base: &dyn Fn(usize) -> String| {
            for (i, step) in steps.iter().enumerate() {
                let p = base(i);
                match &step.kind {
                    StepKind::Shell(t) => {
                        assert_eq!(t.pointer(), Some(format!("{p}/shell").as_str()));
                        seen += 1;
                    }
                    StepKind::Aider(a) => {
                        assert_eq!(a.model.pointer(), Some(format!("{p}/aider/model").as_str()));
                        for (j, f) in a.files.iter().enumerate() {
                            assert_eq!(f.pointer(), Some(format!("{p}/aider/files/{j}").as_str()));
                        }
                        seen += 1;
                    }
                    StepKind::PrOpen(pr) => {
                        assert_eq!(
                            pr.title().pointer(),
                            Some(format!("{p}/pr_open/title").as_str())
                        );
                        assert_eq!(
                            pr.body().pointer(),
                            Some(format!("{p}/pr_open/body").as_str())
                        );
                        seen += 1;
                    }
                    StepKind::Comment(c) => {
                        assert_eq!(c.body.pointer(), Some(format!("{p}/comment/body").as_str()));
                        seen += 1;
                    }
                    StepKind::Retry(_) => {}
                }
            }
        };
        visit(&pb.steps, &|i| format!("/steps/{i}"));
        let StepKind::Retry(r) = &pb.steps[1].kind else {
            panic!("the fixture's second step is a retry")
        };
        visit(&r.steps, &|i| format!("/steps/1/retry/steps/{i}"));
        assert!(seen >= 4, "{seen}");
        // Each place is a compiled site.
        for site in &sites {
            assert!(site.pointer.starts_with('/'), "{}", site.pointer);
        }
    }
}
