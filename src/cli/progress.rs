//! A spinner with the elapsed time of the step in progress, on a terminal.
//!
//! The engine knows nothing about terminals: the spinner is one of a run's observers (it
//! hears of steps starting and finishing), and the log writer hides the spinner while it
//! prints a line, so the two never tear each other.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tracing_subscriber::fmt::MakeWriter;

use crate::engine::observe::{Event, Observer};

/// The spinner of the step in progress, if any; shared by the observer and the log writer.
#[derive(Clone, Default)]
pub(super) struct Spinner(Arc<Mutex<Option<ProgressBar>>>);

impl Spinner {
    fn with<R>(&self, f: impl FnOnce(&mut Option<ProgressBar>) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn start(&self, label: String) {
        let bar = ProgressBar::new_spinner()
            .with_style(
                ProgressStyle::with_template("{spinner} {msg} · {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            )
            .with_message(label);
        bar.enable_steady_tick(Duration::from_millis(120));
        self.with(|slot| {
            if let Some(old) = slot.replace(bar) {
                old.finish_and_clear();
            }
        });
    }

    fn stop(&self) {
        self.with(|slot| {
            if let Some(bar) = slot.take() {
                bar.finish_and_clear();
            }
        });
    }
}

/// The spinner follows the run's steps: only processes take long, and reporting steps
/// print to stdout, which a spinner must not tear.
impl Observer for Spinner {
    fn on(&mut self, event: &Event) {
        match event {
            Event::StepStarted { step, .. } if matches!(step.kind.as_str(), "shell" | "aider") => {
                let mut label = format!("step {}", step.id);
                if let Some(a) = &step.attempt {
                    label = format!("{label} (attempt {})", a.number);
                }
                self.start(label);
            }
            Event::StepFinished { .. } | Event::RunFinished { .. } => self.stop(),
            Event::RunStarted { .. } | Event::StepStarted { .. } => {}
        }
    }

    /// It must be gone before the next step prints.
    fn inline(&self) -> bool {
        true
    }
}

/// The spinner of this process, once logging made one (stderr is a terminal).
static CURRENT: std::sync::OnceLock<Spinner> = std::sync::OnceLock::new();

/// Makes `spinner` the one runs report their progress to.
pub(super) fn install(spinner: Spinner) {
    let _ = CURRENT.set(spinner);
}

/// The observers that show a run's progress on this terminal (none when stderr is not one).
pub(super) fn observers() -> Vec<Box<dyn Observer>> {
    CURRENT
        .get()
        .map(|s| Box::new(s.clone()) as Box<dyn Observer>)
        .into_iter()
        .collect()
}

/// Writes log lines to stderr with the spinner out of the way.
pub(super) struct SpinnerWriter(Spinner);

impl Write for SpinnerWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = self.0.with(|slot| slot.clone());
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write(buf)),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for Spinner {
    type Writer = SpinnerWriter;

    fn make_writer(&'a self) -> Self::Writer {
        SpinnerWriter(self.clone())
    }
}
