//! `codingworker run`: run one issue locally (see `crate::triggers::local`).

use crate::error::{Error, Outcome};
use crate::triggers::local::{self, LocalRun};

pub(super) fn run(opts: &LocalRun) -> Result<Outcome, Error> {
    let runtime = super::runtime::build(super::runtime::Threads::One)?;
    local::run(opts, super::progress::observers(), &runtime)
}
