//! `codingworker doctor [--config worker.yml] [--format human|json]`.

use std::path::PathBuf;
use std::time::Duration;

use super::Format;
use crate::doctor::{Input, run_checks};
use crate::error::{Error, Outcome};
use crate::process::env as child_env;

pub(super) fn doctor(
    config: Option<PathBuf>,
    repos: Vec<PathBuf>,
    format: Format,
) -> Result<Outcome, Error> {
    let runtime = super::runtime::build(super::runtime::Threads::One)?;
    let _entered = runtime.enter();
    let input = Input {
        config,
        repos,
        env: child_env::current(),
        timeout: Duration::from_secs(5),
    };
    let report = runtime.block_on(run_checks(&input));
    match format {
        Format::Human => print!("{}", report.render_human()),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report serialises")
        ),
    }
    Ok(if report.ok {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}
