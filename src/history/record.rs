//! The history as an observer of a run: rows written at each run and step boundary.

use std::sync::Arc;

use super::{RunMeta, Store};
use crate::engine::observe::{Event, Observer};

/// Records one run in the history as it goes (a failure is logged; the run goes on).
pub struct Recorder {
    store: Arc<Store>,
    meta: RunMeta,
}

impl Recorder {
    pub fn new(store: Arc<Store>, meta: RunMeta) -> Self {
        Self { store, meta }
    }
}

impl Observer for Recorder {
    fn on(&mut self, event: &Event) {
        let written = match event {
            Event::RunStarted { report } => {
                self.meta.issue_title.clone_from(&report.issue_title);
                self.store.run_started(report, &self.meta)
            }
            Event::StepStarted { seq, step, at } => {
                let run = &self.meta.run_id;
                self.store.step_started(run, *seq, step, at)
            }
            Event::StepFinished { seq, step, report } => {
                self.store.step_boundary(*seq, step, report)
            }
            Event::RunFinished { report } => self.store.run_updated(report),
        };
        if let Err(e) = written {
            tracing::warn!(error = %e, "failed to record the run in the history");
        }
    }
}
