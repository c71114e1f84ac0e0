//! The command line: argument parsing and dispatch. Each command is a file.

mod context;
mod doctor;
mod eval;
pub mod init;
mod progress;
mod project;
mod run;
pub mod runs;
mod runtime;
pub mod schema;
mod validate;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::{Error, Outcome};
use schema::SchemaKind;

#[derive(Debug, Parser)]
#[command(
    name = "codingworker",
    version,
    about = "Turn GitHub issues into pull requests with a local coding agent, driven by YAML playbooks."
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub log_format: Format,
    #[command(subcommand)]
    pub command: Command,
}

/// How a command writes for people or for programs (`--format`, `--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check playbooks: YAML, schema, templates, references. Exit 0 valid, 1 invalid, 2 unreadable.
    Validate {
        /// Playbook files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Print the JSON Schema of a playbook, task message, worker config or run report.
    Schema {
        #[arg(value_enum)]
        kind: SchemaKind,
    },
    /// Run one issue locally in a fresh worktree of the repository (or print the plan).
    Run(run::RunArgs),
    /// Long-poll the SQS queue and turn tasks into pull requests.
    Worker(worker::WorkerCommand),
    /// Print which playbook a task would get from the worker's routes, and why.
    Route {
        /// The worker's configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The task: a task message or a GitHub `issues` webhook payload (JSON).
        #[arg(long)]
        issue: PathBuf,
    },
    /// Send a task to the queue (to try a setup). AWS settings come from the environment.
    Enqueue {
        /// The queue's URL.
        #[arg(long, env = "CODINGWORKER_QUEUE_URL")]
        queue_url: String,
        /// The task: a task message or a GitHub `issues` webhook payload (JSON); it is sent
        /// as a task message v1.
        #[arg(long)]
        issue: PathBuf,
        /// Send the file as it is, unchecked (to see how a worker handles a bad message).
        #[arg(long)]
        raw: bool,
    },
    /// Check that this machine can run the worker: git, aider, Ollama and the models, disk,
    /// memory, and with --config the config, GitHub token and queue. Exit 1 when something
    /// blocks.
    Doctor {
        /// The worker's configuration file (enables the model, GitHub and queue checks).
        #[arg(long)]
        config: Option<PathBuf>,
        /// A checkout whose setup and test toolchains to check (repeatable).
        #[arg(long = "repo")]
        repos: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Compare models on sample tasks with a playbook's agent step; answer Go, Fallback,
    /// Pivot or No-Go by the Phase 0 criteria. Writes eval.json and eval.md.
    Eval(eval::EvalArgs),
    /// The run history: recent runs, one run's steps and logs, cancel, prune, per-model
    /// stats.
    Runs(runs::RunsArgs),
    /// Show how a repository installs and tests itself (`project.setup`, `project.test`),
    /// and why. Exit 0 when a test command was found, 1 when not.
    Project {
        /// The repository (default: the current directory).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Show which files `files: auto` would hand the agent for an issue, and why: each
    /// file's score and reasons, what was left out, the context budget. Exit 0 when a file
    /// to edit was found, 1 when not.
    Context(context::ContextArgs),
    /// Write a starter .codingworker.yml for the repository, with the setup and test
    /// commands `project` finds.
    Init {
        /// The repository (default: the current directory).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Replace an existing .codingworker.yml.
        #[arg(long)]
        force: bool,
    },
}

/// Parses the command line, runs the command and turns the result into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    crate::process::env::protect_self();
    let result = dispatch(cli);
    ExitCode::from(match result {
        Ok(outcome) => outcome.exit_code(),
        Err(Error::Reported(e)) => e.exit_code(),
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    })
}

fn dispatch(cli: Cli) -> Result<Outcome, Error> {
    match cli.command {
        Command::Validate { files, format } => validate::validate(&files, format),
        Command::Schema { kind } => schema::print_schema(kind),
        Command::Run(opts) => run::run_local(&opts),
        Command::Init { dir, force } => init::init(&dir, force),
        Command::Project { dir, format } => project::project(&dir, format),
        Command::Context(args) => context::context(&args),
        Command::Worker(args) => {
            let runtime = runtime::build(runtime::Threads::Two)?;
            crate::triggers::worker::run_worker(&(&args).into(), &runtime)
        }
        Command::Doctor {
            config,
            repos,
            format,
        } => doctor::doctor(config, repos, format),
        Command::Eval(args) => eval::eval(&args),
        Command::Runs(args) => runs::runs(&args),
        Command::Route { config, issue } => worker::route(&config, &issue),
        Command::Enqueue {
            queue_url,
            issue,
            raw,
        } => worker::enqueue(&queue_url, &issue, raw),
    }
}

/// Writes to stdout; a reader that went away (`| head`) is not an error of ours.
pub(crate) fn print_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Logs go to stderr: human lines by default, JSON with `--log-format json`. The level
/// comes from `CODINGWORKER_LOG` (e.g. `debug`), default `info`.
fn init_logging(format: Format) {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter =
        EnvFilter::try_from_env("CODINGWORKER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = match format {
        // On a terminal, a spinner shows the step in progress and its elapsed time.
        Format::Human if terminal => {
            let spinner = progress::Spinner::default();
            progress::install(spinner.clone());
            let lines = tracing_subscriber::fmt::layer()
                .with_writer(spinner)
                .with_target(false)
                .compact();
            tracing_subscriber::registry()
                .with(filter)
                .with(lines)
                .try_init()
        }
        Format::Human => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_ansi(false)
            .compact()
            .finish()
            .try_init(),
        Format::Json => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .finish()
            .try_init(),
    };
}
