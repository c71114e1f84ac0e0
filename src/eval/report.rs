//! The results for people: a table for the terminal, Markdown for `eval.md`.

use super::{Criteria, ModelSummary, Trial, Verdict};

fn gib(mib: u64) -> String {
    format!("{:.1} GiB", mib as f64 / 1024.0)
}

fn verdict_of(s: &ModelSummary) -> String {
    if s.trials > 0 && s.errors == s.trials && s.solved == 0 {
        return "no call answered (see the errors)".into();
    }
    let mut misses = Vec::new();
    if !s.meets_solved {
        misses.push("solves too few");
    }
    if !s.meets_time {
        misses.push("too slow");
    }
    if !s.meets_memory {
        misses.push("too big");
    }
    if misses.is_empty() {
        "meets the criteria".into()
    } else {
        misses.join(", ")
    }
}

/// The table and the decision, as the terminal shows them.
pub(crate) fn render_table(summaries: &[ModelSummary], verdict: &Verdict) -> String {
    let rows: Vec<[String; 6]> = summaries
        .iter()
        .map(|s| {
            [
                s.model.clone(),
                format!("{}/{}", s.solved, s.trials),
                format!("{:.1}s", s.median_s),
                format!("{:.1}–{:.1}s", s.fastest_s, s.slowest_s),
                gib(s.peak_mib),
                verdict_of(s),
            ]
        })
        .collect();
    let header = [
        "model",
        "solved",
        "median",
        "range",
        "peak memory",
        "verdict",
    ];
    let mut out = crate::text::table(&header, &rows);
    out.push_str(&format!(
        "\nDecision: {} — {}\n",
        verdict.decision.as_str(),
        verdict.reason
    ));
    out
}

/// `eval.md`.
pub(crate) fn render_markdown(
    playbook: &str,
    criteria: &Criteria,
    summaries: &[ModelSummary],
    trials: &[Trial],
    verdict: &Verdict,
) -> String {
    let mut out = format!(
        "# Model evaluation\n\nPlaybook: `{playbook}`. Criteria: every response within {:.0} s, at most {} (agent and model), at least {:.0}% of the tasks solved.\n\n**Decision: {}** — {}\n\n",
        criteria.max_response_s,
        gib(criteria.max_memory_mib),
        criteria.min_solved * 100.0,
        verdict.decision.as_str(),
        verdict.reason
    );
    if !verdict.order.is_empty() {
        out.push_str(&format!(
            "Fallback order (models that meet the criteria, best first): {}\n\n",
            verdict
                .order
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(" → ")
        ));
    }
    out.push_str(
        "| model | solved | median | range | peak memory | verdict |\n|---|---|---|---|---|---|\n",
    );
    for s in summaries {
        out.push_str(&format!(
            "| `{}` | {}/{} | {:.1}s | {:.1}–{:.1}s | {} | {} |\n",
            s.model,
            s.solved,
            s.trials,
            s.median_s,
            s.fastest_s,
            s.slowest_s,
            gib(s.peak_mib),
            verdict_of(s)
        ));
    }
    out.push_str("\n## Every call\n\n| model | task | run | solved | time | agent memory | model in Ollama | note |\n|---|---|---|---|---|---|---|---|\n");
    for t in trials {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {:.1}s | {} MiB | {} | {} |\n",
            t.model,
            t.task,
            t.repeat,
            if t.solved { "yes" } else { "no" },
            t.seconds,
            t.agent_peak_mib,
            t.ollama_mib
                .map(|m| format!("{m} MiB"))
                .unwrap_or_else(|| "–".into()),
            t.error
                .as_deref()
                .unwrap_or("")
                .replace('|', "\\|")
                .replace('\n', " ")
        ));
    }
    out
}
