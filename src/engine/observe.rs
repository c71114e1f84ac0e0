//! What a run tells the world as it goes: events, and the observers that turn them into
//! `run.json`, the history database, a worker's checkpoint or a spinner.
//!
//! The engine knows none of those sinks. It sends an [`Event`] at each boundary (run
//! started, step started, step finished, run finished) to one thread that hands it to every
//! observer in turn, so that file and SQLite writes never run on the async threads that
//! also carry the queue's heartbeats. Between events the thread calls [`Observer::tick`]
//! every [`TICK`], for observers that write on a clock (a throttled `run.json`, the worker's
//! time checkpoint). [`Observers::finish`] waits until every event was handled: when a run
//! returns its report, everything about it has been written.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::report::{RunReport, StepReport};

/// Something that happened in a run. Reports are the engine's, masked.
#[derive(Debug, Clone)]
pub enum Event {
    /// The run directory is ready and the first step is about to run.
    RunStarted { report: Box<RunReport> },
    /// A step execution begins; `seq` orders executions as they start (1, 2, ...).
    StepStarted {
        seq: usize,
        step: StepReport,
        /// When it started (RFC 3339).
        at: String,
    },
    /// A step execution ended; `report` is the run as it stands now.
    StepFinished {
        seq: usize,
        step: StepReport,
        report: Box<RunReport>,
    },
    /// The run ended; `report` is final.
    RunFinished { report: Box<RunReport> },
}

/// A sink for a run's events. Called on the observers' thread, in the order events
/// happened; a failure is the observer's to log, never the run's.
pub trait Observer: Send + Sync {
    fn on(&mut self, event: &Event);

    /// Called about every [`TICK`] while the run goes on.
    fn tick(&mut self) {}

    /// Called on the engine's own thread, as the event happens, rather than on the
    /// observers' thread: for a cheap observer that must act before the run goes on (the
    /// spinner stops before a reporting step prints).
    fn inline(&self) -> bool {
        false
    }
}

/// How often [`Observer::tick`] is called.
pub const TICK: Duration = Duration::from_millis(200);

/// The observers of one run, on a thread of their own.
#[derive(Default)]
pub struct Observers {
    tx: Option<mpsc::Sender<Event>>,
    thread: Option<std::thread::JoinHandle<()>>,
    inline: Vec<Box<dyn Observer>>,
}

impl Observers {
    /// Starts the thread that feeds `list` (none: events go nowhere, no thread).
    pub fn start(list: Vec<Box<dyn Observer>>) -> Self {
        let (inline, mut list): (Vec<_>, Vec<_>) = list.into_iter().partition(|o| o.inline());
        if list.is_empty() {
            return Self {
                tx: None,
                thread: None,
                inline,
            };
        }
        let (tx, rx) = mpsc::channel::<Event>();
        // Their log lines carry the run's span (a worker's task, message, repository).
        let span = tracing::Span::current();
        let thread = std::thread::Builder::new()
            .name("run-observers".into())
            .spawn(move || {
                let _entered = span.enter();
                let mut next_tick = Instant::now() + TICK;
                loop {
                    let wait = next_tick.saturating_duration_since(Instant::now());
                    match rx.recv_timeout(wait) {
                        Ok(event) => list.iter_mut().for_each(|o| o.on(&event)),
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                    if Instant::now() >= next_tick {
                        list.iter_mut().for_each(|o| o.tick());
                        next_tick = Instant::now() + TICK;
                    }
                }
            });
        match thread {
            Ok(thread) => Self {
                tx: Some(tx),
                thread: Some(thread),
                inline,
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the run's observers: nothing is recorded");
                Self {
                    tx: None,
                    thread: None,
                    inline,
                }
            }
        }
    }

    /// Hands an event to the observers: the inline ones at once, the others on their
    /// thread (this returns at once).
    pub fn send(&mut self, event: Event) {
        for o in &mut self.inline {
            o.on(&event);
        }
        if let Some(tx) = &self.tx {
            let _ = tx.send(event);
        }
    }

    /// Waits, off the async threads, until every event sent was handled.
    pub async fn finish(mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for Observers {
    fn drop(&mut self) {
        // A run dropped without `finish` (a panic): let the thread drain and end alone.
        self.tx = None;
    }
}

/// Writes `run.json` (at the start, after steps at most every [`TICK`], at the end) and
/// `summary.md` (at the end) into the run directory.
pub struct RunFiles {
    dir: PathBuf,
    /// A report newer than the file.
    pending: Option<RunReport>,
    last: Option<Instant>,
}

impl RunFiles {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            pending: None,
            last: None,
        }
    }

    fn write(&mut self, report: &RunReport) {
        self.last = Some(Instant::now());
        self.pending = None;
        if let Err(e) = report.write_json(&self.dir) {
            tracing::warn!(error = %e, dir = %self.dir.display(), "failed to write run.json");
        }
    }
}

impl Observer for RunFiles {
    fn on(&mut self, event: &Event) {
        match event {
            Event::RunStarted { report } => self.write(report),
            Event::StepStarted { .. } => {}
            Event::StepFinished { report, .. } => {
                if self.last.is_none_or(|t| t.elapsed() >= TICK) {
                    self.write(report);
                } else {
                    self.pending = Some(RunReport::clone(report));
                }
            }
            Event::RunFinished { report } => {
                self.write(report);
                if let Err(e) =
                    std::fs::write(self.dir.join("summary.md"), report.summary_markdown())
                {
                    tracing::warn!(error = %e, "failed to write summary.md");
                }
            }
        }
    }

    fn tick(&mut self) {
        if let Some(report) = self.pending.take() {
            self.write(&report);
        }
    }
}
