//! Files a user wrote (playbooks, worker configs) and positions inside them.
//!
//! Everything that reports a problem in a user's file points at a [`Span`] of a
//! [`SourceFile`]; the YAML loader in [`yaml`] keeps a span for every node so that a JSON
//! Schema error's instance path can be mapped back to a line and column.

pub mod yaml;

use std::path::Path;

use serde::Serialize;

/// A user's file held in memory with its display name.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user gave it, used in `file:line:column`.
    pub name: String,
    /// The whole text.
    pub text: String,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }

    /// Reads a file as UTF-8 text.
    pub fn read(path: &Path) -> Result<Self, ReadError> {
        let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8 {
            path: path.display().to_string(),
            offset: e.utf8_error().valid_up_to(),
        })?;
        Ok(Self::new(path.display().to_string(), text))
    }

    /// The text of a 1-based line, without its line break.
    pub fn line(&self, line: usize) -> Option<&str> {
        self.text
            .split('\n')
            .nth(line.checked_sub(1)?)
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
    }
}

/// Why a file could not be read at all (exit code 2, as opposed to an invalid file).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("failed to read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("failed to read {path}: not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 { path: String, offset: usize },
}

/// A range in a source file. Lines and columns are 1-based; columns count characters.
/// The end is exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

impl Span {
    pub fn point(line: usize, column: usize) -> Self {
        Self {
            line,
            column,
            end_line: line,
            end_column: column + 1,
        }
    }

    /// The span of the `n`th (1-based) line inside a multi-line scalar that starts at `self`.
    /// Block scalars (`|`, `>`) start on their first content line, so line `n` of the
    /// value is line `self.line + n - 1` of the file.
    pub fn inner_line(self, n: usize, source: &SourceFile) -> Span {
        if n <= 1 {
            return self;
        }
        let line = self.line + n - 1;
        let width = source.line(line).map_or(1, |l| l.chars().count());
        let column = self.column.min(width.max(1));
        Span {
            line,
            column,
            end_line: line,
            end_column: width.max(column) + 1,
        }
    }
}
