//! `codingworker worker`, `route` and `enqueue`: the queue side of the command line.

use std::path::{Path, PathBuf};

use crate::adapters::sqs::Queue;
use crate::config::worker as config;
use crate::error::{Error, Outcome};
use crate::process::env as child_env;
use crate::task::Task;
use crate::triggers::worker::route;

/// `codingworker route --config worker.yml --issue FILE`: which playbook a task gets, and why.
pub(super) fn route(config_path: &Path, issue: &Path) -> Result<Outcome, Error> {
    let env = child_env::current();
    let settings = config::load(config_path, &env)?;
    let task = Task::from_file(issue)?;
    let (text, routed) = route::explain(&settings, &task);
    print!("{text}");
    Ok(if routed {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// `codingworker enqueue --queue-url URL --issue FILE [--raw]`: sends a task.
pub(super) fn enqueue(queue_url: &str, issue: &Path, raw: bool) -> Result<Outcome, Error> {
    let body = if raw {
        std::fs::read_to_string(issue)
            .map_err(Error::io(format!("failed to read {}", issue.display())))?
    } else {
        // Either form goes out as the task message v1.
        let task = Task::from_file(issue)?;
        serde_json::to_string(&task).expect("a task serialises")
    };
    let runtime = super::runtime::build(super::runtime::Threads::One)?;
    let id = runtime.block_on(async {
        let queue = Queue::connect(queue_url).await;
        queue.send(&body).await
    });
    let id = id.map_err(|e| Error::Setup(e.to_string()))?;
    println!("sent {} to {queue_url} (message {id})", issue.display());
    Ok(Outcome::Success)
}

/// The options of `codingworker worker`.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerCommand {
    /// The worker's configuration file.
    #[arg(long)]
    pub config: PathBuf,
    /// Exit when a receive finds the queue empty (after the tasks in flight end).
    #[arg(long)]
    pub once: bool,
    /// Serve the status page and its API on this address (e.g. 127.0.0.1:8787; port 0
    /// picks a free one). Off by default; an address that is not loopback needs a token.
    #[arg(long)]
    pub status_addr: Option<std::net::SocketAddr>,
    /// The token the status page asks for (at least 16 characters); required off loopback.
    #[arg(long, env = "CODINGWORKER_STATUS_TOKEN", hide_env_values = true)]
    pub status_token: Option<String>,
}

impl From<&WorkerCommand> for crate::triggers::worker::WorkerArgs {
    fn from(a: &WorkerCommand) -> Self {
        Self {
            config: a.config.clone(),
            once: a.once,
            status_addr: a.status_addr,
            status_token: a.status_token.clone(),
        }
    }
}
