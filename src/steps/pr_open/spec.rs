//! The `pr_open:` block of a playbook.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::playbook::types::{Flag, Template};
use crate::template::sites::Collector;

pub const DEFAULT_TITLE: &str = "{{ issue.title }}";
pub const DEFAULT_BODY: &str = "Closes #{{ issue.number }}\n\n{{ run.summary }}";
pub const DEFAULT_COMMIT_MESSAGE: &str = "codingworker: work on #{{ issue.number }}";

/// The `pr_open:` block. Every field has a default, so `pr_open: {}` works.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrOpenSpec {
    /// Title of the pull request. Default: the title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Template>,
    /// Body. Default: `Closes #N` and the run summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Template>,
    /// Open as a draft (a boolean or a template rendering to true/false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<Flag>,
    /// Base branch. Default: the repository's default branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Template>,
    /// Labels to add.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Template>,
    /// Logins asked to review.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviewers: Vec<Template>,
    /// Message of the commit made of uncommitted changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_message: Option<Template>,
    /// The defaults of the fields left out, as templates of their own.
    #[serde(skip)]
    #[schemars(skip)]
    pub defaults: Defaults,
}

/// The templates `title`, `body` and `commit_message` have when left out.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub title: Template,
    pub body: Template,
    pub commit_message: Template,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            title: Template::new(DEFAULT_TITLE),
            body: Template::new(DEFAULT_BODY),
            commit_message: Template::new(DEFAULT_COMMIT_MESSAGE),
        }
    }
}

impl PrOpenSpec {
    /// Its templates, told their place under `at` (`/steps/N/pr_open`); a field left out
    /// is its default's template, an implicit site.
    pub fn collect_sites(&self, c: &mut Collector, at: &str) {
        c.template_or(format!("{at}/title"), self.title.as_ref(), self.title());
        c.template_or(format!("{at}/body"), self.body.as_ref(), self.body());
        if let Some(Flag::Template(t)) = &self.draft {
            c.template(&format!("{at}/draft"), t);
        }
        if let Some(t) = &self.base {
            c.template(&format!("{at}/base"), t);
        }
        c.templates(&format!("{at}/labels"), &self.labels);
        c.templates(&format!("{at}/reviewers"), &self.reviewers);
        c.template_or(
            format!("{at}/commit_message"),
            self.commit_message.as_ref(),
            self.commit_message(),
        );
    }

    /// The title's template, given or default.
    pub fn title(&self) -> &Template {
        self.title.as_ref().unwrap_or(&self.defaults.title)
    }
    /// The body's template, given or default.
    pub fn body(&self) -> &Template {
        self.body.as_ref().unwrap_or(&self.defaults.body)
    }
    /// The commit message's template, given or default.
    pub fn commit_message(&self) -> &Template {
        self.commit_message
            .as_ref()
            .unwrap_or(&self.defaults.commit_message)
    }
}
