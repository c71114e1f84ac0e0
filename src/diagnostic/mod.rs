//! Problems found in a user's file, and how they are shown.
//!
//! A [`Diagnostic`] is one error or warning with an optional [`Span`]; [`render`] prints it
//! the way `just` and `rustc` do (`file:line:column`, the line, a caret, a hint), and the
//! JSON form is what `validate --format json` emits.

mod render;
mod suggest;

pub(crate) use render::{render_file_json, render_human};
pub(crate) use suggest::{did_you_mean, suggest};

use serde::Serialize;

use crate::source::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a user's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable, kebab-case name for the kind of problem (for machines and tests).
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    pub span: Option<Span>,
    /// Short text shown next to the caret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A longer hint shown under the excerpt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            span: None,
            label: None,
            help: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    #[must_use]
    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds a label when there is one (a "did you mean").
    #[must_use]
    pub fn label_opt(mut self, label: Option<String>) -> Self {
        if label.is_some() {
            self.label = label;
        }
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn help_opt(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics by position (those without a position first) and drops exact repeats.
pub(crate) fn sort_and_dedup(diags: &mut Vec<Diagnostic>) {
    diags.sort_by_key(|d| {
        (
            d.span.map(|s| (s.line, s.column)),
            d.severity,
            d.message.clone(),
        )
    });
    diags.dedup();
}
