//! The `shell` step: a command run with `sh -c` in the checkout.
//!
//! The command is a template whose every `{{ }}` output is shell-quoted (see
//! `crate::template`), so issue text and step outputs reach the shell as single words.

use crate::engine::executor::{Services, StepCall, run_process};
use crate::engine::state::StepResult;
use crate::template::SiteKind;

/// Linux refuses a single argument longer than this (MAX_ARG_STRLEN).
const MAX_ARG: usize = 128 * 1024 - 1;

pub async fn run(s: &Services, call: &StepCall<'_>) -> StepResult {
    let command = match s.run.templates.render(
        SiteKind::Shell,
        &format!("{}/shell", call.pointer),
        &call.ctx,
    ) {
        Ok(c) => c,
        Err(e) => return StepResult::failed(format!("template error in `shell`: {e}")),
    };
    if command.len() > MAX_ARG {
        return StepResult::failed(format!(
            "the rendered command is {} KiB, over the {} KiB one argument may have; read large values from a file or shorten them (`| tail(60)`)",
            command.len() / 1024,
            (MAX_ARG + 1) / 1024
        ));
    }
    tracing::debug!(step = %call.step.id, command = %s.masker.mask(&command), "running shell command");
    run_process(
        s,
        call,
        &s.shell,
        vec!["-c".into(), command.clone()],
        &format!("$ {command}"),
    )
    .await
}
