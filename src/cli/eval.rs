//! `codingworker eval --playbook P --models m1,m2 [--tasks DIR] [--repeat N] …`.

use std::path::{Path, PathBuf};

use super::Format;
use crate::error::{Error, Outcome};
use crate::eval::{self, Criteria, Decision, Plan, agent_step};
use crate::playbook::types::HumanDuration;
use crate::process::env as child_env;
use crate::source::yaml::Document;
use crate::triggers::local::prepare_playbook;

/// The options of `codingworker eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// The playbook whose agent step (its first aider step) is evaluated.
    #[arg(long)]
    pub playbook: PathBuf,
    /// The models to compare, first the one you hope to use: `ollama_chat/qwen2.5-coder:7b,…`.
    #[arg(long, value_delimiter = ',', required = true)]
    pub models: Vec<String>,
    /// Your own sample tasks (directories with eval.yml, task.json, repo/, checks/);
    /// default: the three built in (fizzbuzz, csv-sort, off-by-one, as in examples/eval/).
    #[arg(long)]
    pub tasks: Option<PathBuf>,
    /// Runs per model and task, to see the spread.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Where eval.json, eval.md and the throwaway repositories go.
    #[arg(long, default_value = "codingworker-eval")]
    pub out: PathBuf,
    /// Write a copy of the playbook with its retry's attempts in the order the results
    /// suggest (models that meet the criteria first, best first).
    #[arg(long)]
    pub write_playbook: Option<PathBuf>,
    /// The slowest acceptable response of one agent call.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub max_response: HumanDuration,
    /// How long one agent call may run before it is stopped (default: twice --max-response).
    /// A stopped call counts as too slow.
    #[arg(long, value_parser = parse_duration)]
    pub stop_after: Option<HumanDuration>,
    /// The most memory the agent and the model may take together, e.g. `14GB`, `8000MB`.
    #[arg(long, default_value = "14GB", value_parser = parse_size_mib)]
    pub max_memory: u64,
    /// The share of tasks that must be solved: `2/3`, `0.75`, `80%`.
    #[arg(long, default_value = "2/3", value_parser = parse_share)]
    pub min_solved: f64,
    /// Output on stdout.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

fn parse_duration(s: &str) -> Result<HumanDuration, String> {
    crate::playbook::types::parse_duration(s).map(HumanDuration)
}

/// `14GB`, `14GiB`, `8000MB`, `8000` (MiB) as MiB.
fn parse_size_mib(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = if let Some(n) = t
        .strip_suffix("gib")
        .or(t.strip_suffix("gb"))
        .or(t.strip_suffix('g'))
    {
        (n, 1024.0)
    } else if let Some(n) = t
        .strip_suffix("mib")
        .or(t.strip_suffix("mb"))
        .or(t.strip_suffix('m'))
    {
        (n, 1.0)
    } else {
        (t.as_str(), 1.0)
    };
    num.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| *n > 0.0)
        .map(|n| (n * mult) as u64)
        .ok_or_else(|| format!("`{s}` is not a size: write e.g. 14GB or 8000MB"))
}

/// `2/3`, `0.75`, `80%` as a share between 0 and 1.
fn parse_share(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = if let Some((a, b)) = t.split_once('/') {
        let (a, b): (f64, f64) = (
            a.trim()
                .parse()
                .map_err(|_| format!("`{s}` is not a share"))?,
            b.trim()
                .parse()
                .map_err(|_| format!("`{s}` is not a share"))?,
        );
        if b == 0.0 {
            return Err(format!("`{s}` divides by zero"));
        }
        a / b
    } else if let Some(p) = t.strip_suffix('%') {
        p.trim()
            .parse::<f64>()
            .map_err(|_| format!("`{s}` is not a share"))?
            / 100.0
    } else {
        t.parse()
            .map_err(|_| format!("`{s}` is not a share: write 2/3, 0.75 or 80%"))?
    };
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("`{s}` is not between 0 and 1"))
    }
}

pub(super) fn eval(args: &EvalArgs) -> Result<Outcome, Error> {
    let env = child_env::current();
    let prepared = prepare_playbook(&args.playbook)?;
    let tasks_dir = match &args.tasks {
        Some(dir) => dir.clone(),
        None => eval::tasks::write_builtin(&args.out.join("tasks")).map_err(Error::Setup)?,
    };
    let tasks = eval::load_tasks(&tasks_dir).map_err(Error::Setup)?;
    if args.repeat == 0 {
        return Err(Error::Setup("--repeat must be at least 1".into()));
    }
    let criteria = Criteria::new(args.max_response.0, args.max_memory, args.min_solved);
    let scratch = args.out.join("work");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)
        .map_err(Error::io(format!("failed to create {}", scratch.display())))?;
    let scratch = std::path::absolute(&scratch).map_err(Error::io(format!(
        "failed to resolve {}",
        scratch.display()
    )))?;
    let options = crate::engine::executor::EngineOptions::from_env(&env);
    let plan = Plan {
        prepared: &prepared,
        models: args.models.clone(),
        tasks,
        repeat: args.repeat,
        env,
        aider_program: options.aider_program,
        scratch,
        limit: args
            .stop_after
            .as_ref()
            .map_or(args.max_response.0 * 2, |s| s.0),
    };
    let runtime = super::runtime::build(super::runtime::Threads::Two)?;
    let trials = runtime
        .block_on(eval::run_trials(&plan))
        .map_err(Error::Setup)?;
    let summaries = eval::summarize(&trials, &args.models, &criteria);
    let verdict = eval::decide(&summaries, &criteria);

    let json = serde_json::json!({
        "playbook": args.playbook.display().to_string(),
        "criteria": criteria,
        "decision": verdict,
        "models": summaries,
        "trials": trials,
    });
    let json_text = serde_json::to_string_pretty(&json).expect("results serialise");
    std::fs::write(args.out.join("eval.json"), &json_text)
        .map_err(Error::io("failed to write eval.json"))?;
    let md = eval::render_markdown(
        &args.playbook.display().to_string(),
        &criteria,
        &summaries,
        &trials,
        &verdict,
    );
    std::fs::write(args.out.join("eval.md"), md).map_err(Error::io("failed to write eval.md"))?;
    match args.format {
        Format::Human => {
            print!("{}", eval::render_table(&summaries, &verdict));
            println!(
                "Results: {} and {} (work in {})",
                args.out.join("eval.md").display(),
                args.out.join("eval.json").display(),
                args.out.join("work").display()
            );
        }
        Format::Json => println!("{json_text}"),
    }
    if let Some(path) = &args.write_playbook {
        write_playbook(&args.playbook, path, &verdict.order, &prepared)?;
        if args.format == Format::Human {
            println!(
                "Wrote {} with the fallback order {}",
                path.display(),
                verdict.order.join(" → ")
            );
        }
    }
    Ok(match verdict.decision {
        Decision::Go | Decision::Fallback => Outcome::Success,
        Decision::Pivot | Decision::NoGo => Outcome::Failed,
    })
}

/// A copy of the playbook with the agent's retry attempts reordered: `order` first (new
/// entries for models it does not list), then the other attempts as they were. Every
/// attempt keeps its own text (comments, env).
fn write_playbook(
    from: &Path,
    to: &Path,
    order: &[String],
    prepared: &crate::engine::prepare::Prepared,
) -> Result<(), Error> {
    let agent = agent_step(&prepared.playbook.steps)
        .ok_or_else(|| Error::Setup("the playbook has no aider step".into()))?;
    let Some(retry) = agent
        .pointer
        .rsplit_once("/retry/steps/")
        .map(|(p, _)| p.to_owned())
    else {
        return Err(Error::Setup(
            "the agent step is not inside a retry: there is no fallback order to write".into(),
        ));
    };
    let text = std::fs::read_to_string(from)
        .map_err(Error::io(format!("failed to read {}", from.display())))?;
    let doc = Document::parse(&text).map_err(|e| Error::Setup(e.message))?;
    let lines: Vec<&str> = text.lines().collect();
    let attempts_ptr = format!("{retry}/retry/attempts");
    let n = agent.attempts.len();
    if n == 0
        || doc
            .value
            .pointer(&attempts_ptr)
            .and_then(|v| v.as_array())
            .is_none()
    {
        return Err(Error::Setup("the retry's attempts are not a list".into()));
    }
    let starts: Vec<usize> = (0..n)
        .map(|k| doc.value_span(&format!("{attempts_ptr}/{k}")).line)
        .collect();
    let end = doc
        .value_span(&attempts_ptr)
        .end_line
        .max(*starts.last().unwrap_or(&1));
    // Flow style (`attempts: [..]`) keeps every item on one line: nothing to reorder safely.
    if starts.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::Setup(
            "write the attempts as a block list (one `- ` item per entry) to have them reordered"
                .into(),
        ));
    }
    let item = |k: usize| -> Vec<&str> {
        let first = starts[k] - 1;
        let last = if k + 1 < n {
            starts[k + 1] - 2
        } else {
            end - 1
        };
        lines[first..=last.min(lines.len() - 1)].to_vec()
    };
    let indent: String = lines[starts[0] - 1]
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect();
    let model_of = |k: usize| {
        agent.attempts[k]
            .get("model")
            .and_then(|m| m.as_str())
            .map(str::to_owned)
    };
    let mut new_items: Vec<String> = Vec::new();
    let mut used = vec![false; n];
    for m in order {
        match (0..n).find(|&k| model_of(k).as_deref() == Some(m.as_str())) {
            Some(k) => {
                used[k] = true;
                new_items.extend(item(k).iter().map(|l| (*l).to_owned()));
            }
            None => new_items.push(format!("{indent}- {{ model: \"{m}\" }}")),
        }
    }
    for k in (0..n).filter(|&k| !used[k]) {
        new_items.extend(item(k).iter().map(|l| (*l).to_owned()));
    }
    let mut out: Vec<String> = lines[..starts[0] - 1]
        .iter()
        .map(|l| (*l).to_owned())
        .collect();
    out.extend(new_items);
    out.extend(
        lines[end.min(lines.len())..]
            .iter()
            .map(|l| (*l).to_owned()),
    );
    let mut written = out.join("\n");
    written.push('\n');
    let check = crate::playbook::load_source(crate::source::SourceFile::new(
        to.display().to_string(),
        written.clone(),
    ));
    if check.has_errors() {
        return Err(Error::Setup(format!(
            "the reordered playbook would not be valid; not written:\n{}",
            crate::diagnostic::render_human(&check.source, &check.diagnostics)
        )));
    }
    std::fs::write(to, written).map_err(Error::io(format!("failed to write {}", to.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sizes_and_shares() {
        assert_eq!(parse_size_mib("14GB").unwrap(), 14 * 1024);
        assert_eq!(parse_size_mib("8000MB").unwrap(), 8000);
        assert_eq!(parse_size_mib("1.5g").unwrap(), 1536);
        assert!(parse_size_mib("lots").is_err());
        assert!((parse_share("2/3").unwrap() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(parse_share("80%").unwrap(), 0.8);
        assert_eq!(parse_share("0.5").unwrap(), 0.5);
        assert!(parse_share("3/2").is_err());
    }
}
