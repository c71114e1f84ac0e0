//! A spinner with the elapsed time of the step in progress, on a terminal.
//!
//! The engine knows nothing about terminals: it logs "step started" and "step finished"
//! events. A tracing layer here watches those and draws the spinner on stderr, and the log
//! writer hides the spinner while it prints a line, so the two never tear each other.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};

/// The spinner of the step in progress, if any; shared by the layer and the writer.
#[derive(Clone, Default)]
pub struct Spinner(Arc<Mutex<Option<ProgressBar>>>);

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

/// Collects the fields of an event that the spinner needs.
#[derive(Default)]
struct Fields {
    message: String,
    step: Option<String>,
    kind: Option<String>,
    attempt: Option<String>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "message" => self.message = text,
            "step" => self.step = Some(text.trim_matches('"').to_owned()),
            "kind" => self.kind = Some(text.trim_matches('"').to_owned()),
            "attempt" => self.attempt = Some(text),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_owned(),
            "step" => self.step = Some(value.to_owned()),
            "kind" => self.kind = Some(value.to_owned()),
            _ => {}
        }
    }
}

impl<S: Subscriber> Layer<S> for Spinner {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        match f.message.as_str() {
            // Only processes take long; reporting steps print to stdout and must not tear.
            "step started" if matches!(f.kind.as_deref(), Some("shell" | "aider")) => {
                let mut label = format!("step {}", f.step.unwrap_or_default());
                if let Some(a) = f.attempt.filter(|a| a != "None") {
                    label = format!(
                        "{label} (attempt {})",
                        a.trim_start_matches("Some(").trim_end_matches(')')
                    );
                }
                self.start(label);
            }
            "step finished" | "run finished" => self.stop(),
            _ => {}
        }
    }
}

/// Writes log lines to stderr with the spinner out of the way.
pub struct SpinnerWriter(Spinner);

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
