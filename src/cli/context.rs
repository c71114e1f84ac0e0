//! `codingworker context [DIR] --issue FILE` (or `--title T --body B`): which files `files: auto` would hand the
//! agent for an issue, with each file's score and reasons, what was left out, and the
//! context budget; `--format json` for tuning and benchmarks.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::Format;
use crate::context::{self, Options};
use crate::error::{Error, Outcome};
use crate::task::Task;
use crate::text::printable;

/// The options of `codingworker context`.
#[derive(Debug, Clone, clap::Args)]
pub struct ContextArgs {
    /// The checkout (default: the current directory).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The issue: a task message or a GitHub `issues` webhook payload (JSON).
    #[arg(long, required_unless_present = "title", conflicts_with_all = ["title", "body"])]
    pub issue: Option<PathBuf>,
    /// The issue's title, instead of `--issue`.
    #[arg(long)]
    pub title: Option<String>,
    /// The issue's body, with `--title`.
    #[arg(long, requires = "title")]
    pub body: Option<String>,
    /// The model's context window in tokens.
    #[arg(long, default_value_t = crate::steps::aider::DEFAULT_NUM_CTX)]
    pub num_ctx: u32,
    /// aider's edit format (default: `whole`, switched to `diff` for a large file).
    #[arg(long)]
    pub edit_format: Option<String>,
    /// Files to edit at most.
    #[arg(long, default_value_t = context::DEFAULT_MAX_FILES)]
    pub max_files: usize,
    /// Tokens for files and the map together, at most.
    #[arg(long)]
    pub budget: Option<u32>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub(crate) fn context(args: &ContextArgs) -> Result<Outcome, Error> {
    if !args.dir.is_dir() {
        return Err(Error::Setup(format!(
            "{} is not a directory",
            args.dir.display()
        )));
    }
    let (title, body) = match &args.issue {
        Some(path) => {
            let task = Task::from_file(path)?;
            (task.issue.title, task.issue.body)
        }
        None => (
            args.title.clone().unwrap_or_default(),
            args.body.clone().unwrap_or_default(),
        ),
    };
    // The message as the default playbook words it: the title, then the body.
    let message = format!("# {title}\n\n{body}\n");
    let options = Options {
        window: args.num_ctx,
        edit_format: args.edit_format.clone(),
        auto: true,
        listed: Vec::new(),
        read: Vec::new(),
        max_files: args.max_files,
        budget: args.budget,
        map_tokens: None,
    };
    let started = std::time::Instant::now();
    let chosen = context::select(&args.dir, &message, &options).map_err(Error::Setup)?;
    let ms = started.elapsed().as_millis();
    match args.format {
        Format::Json => {
            let mut value = serde_json::to_value(&chosen).expect("a selection serializes");
            value["ms"] = serde_json::json!(ms);
            super::print_stdout(&format!(
                "{}\n",
                serde_json::to_string_pretty(&value).expect("json prints")
            ));
        }
        Format::Human => {
            let mut out = String::new();
            for line in chosen.lines() {
                let _ = writeln!(out, "{}", printable(&line));
            }
            let _ = writeln!(out, "  ranked in {ms} ms");
            super::print_stdout(&out);
        }
    }
    Ok(if chosen.edit.is_empty() {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}
