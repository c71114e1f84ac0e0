//! `codingworker run`: run one issue locally (see `crate::triggers::local`).

use crate::error::{Error, Outcome};
use crate::triggers::local::{self, LocalRun};

pub fn run(opts: &LocalRun) -> Result<Outcome, Error> {
    local::run(opts, super::progress::observers())
}
