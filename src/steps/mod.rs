//! The step kinds, one folder or file each: the spec type a playbook holds (`spec.rs`, part
//! of the playbook language) and the code that runs and plans it (`run.rs`), on the
//! interface the engine gives them: `call.rs` (what a step is given), `kind.rs` (the trait,
//! and the plan's writer), `result.rs` and `status.rs` (what a step ends with). `retry` is
//! control flow: the engine runs its nested steps (`engine/retry.rs`).
//!
//! Adding a kind: its spec and a variant of `StepKind` (the language), an implementation of
//! [`Kind`], and one line in [`kind_of`]; docs/design.md has the whole list.

pub mod aider;
pub mod call;
pub mod comment;
pub mod kind;
pub mod pr_open;
pub mod result;
pub mod shell;
pub mod status;
pub mod tests_count;

use crate::playbook::model::StepKind;
use kind::Kind;

/// What runs and plans a step of this kind; `None` for `retry`, the engine's own.
pub fn kind_of(kind: &StepKind) -> Option<&dyn Kind> {
    match kind {
        StepKind::Shell(_) => Some(&shell::Shell),
        StepKind::Aider(spec) => Some(spec),
        StepKind::PrOpen(spec) => Some(spec),
        StepKind::Comment(spec) => Some(spec),
        StepKind::Retry(_) => None,
    }
}
