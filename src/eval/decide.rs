//! The user's Phase 0 criteria, and the decision they give.

use std::time::Duration;

use serde::Serialize;

use super::Trial;

/// What a model must do on this machine.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Criteria {
    /// Every agent call answers within this.
    pub max_response_s: f64,
    /// The agent's process tree plus the model in Ollama's memory stay under this.
    pub max_memory_mib: u64,
    /// The share of tasks solved (over all repeats).
    pub min_solved: f64,
}

impl Criteria {
    pub(crate) fn new(max_response: Duration, max_memory_mib: u64, min_solved: f64) -> Self {
        Self {
            max_response_s: max_response.as_secs_f64(),
            max_memory_mib,
            min_solved,
        }
    }
}

/// One model's results against the criteria.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ModelSummary {
    pub model: String,
    pub solved: usize,
    pub trials: usize,
    pub solve_rate: f64,
    pub median_s: f64,
    pub fastest_s: f64,
    pub slowest_s: f64,
    pub peak_mib: u64,
    pub errors: usize,
    pub meets_time: bool,
    pub meets_memory: bool,
    pub meets_solved: bool,
}

impl ModelSummary {
    pub(crate) fn passes(&self) -> bool {
        self.meets_time && self.meets_memory && self.meets_solved
    }
}

/// The answer of Phase 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Decision {
    /// The first model meets every criterion.
    Go,
    /// The first does not, others do: use them, in this order.
    Fallback,
    /// No model solves enough although some run fast and small enough: try another agent.
    Pivot,
    /// No model runs within the time and memory limits on this machine.
    NoGo,
}

impl Decision {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Decision::Go => "Go",
            Decision::Fallback => "Fallback",
            Decision::Pivot => "Pivot",
            Decision::NoGo => "No-Go",
        }
    }
}

/// The decision, why, and the fallback order it suggests (models that pass, best first).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Verdict {
    pub decision: Decision,
    pub reason: String,
    pub order: Vec<String>,
}

/// Summarises the trials per model, in the order the models were given.
pub(crate) fn summarize(trials: &[Trial], models: &[String], c: &Criteria) -> Vec<ModelSummary> {
    models
        .iter()
        .map(|m| {
            let mine: Vec<&Trial> = trials.iter().filter(|t| &t.model == m).collect();
            let mut secs: Vec<f64> = mine.iter().map(|t| t.seconds).collect();
            secs.sort_by(f64::total_cmp);
            let median = if secs.is_empty() {
                0.0
            } else if secs.len() % 2 == 1 {
                secs[secs.len() / 2]
            } else {
                (secs[secs.len() / 2 - 1] + secs[secs.len() / 2]) / 2.0
            };
            let solved = mine.iter().filter(|t| t.solved).count();
            let rate = if mine.is_empty() {
                0.0
            } else {
                solved as f64 / mine.len() as f64
            };
            let peak = mine
                .iter()
                .map(|t| t.agent_peak_mib + t.ollama_mib.unwrap_or(0))
                .max()
                .unwrap_or(0);
            let slowest = secs.last().copied().unwrap_or(0.0);
            // Calls that failed before an answer (endpoint down) say nothing about speed.
            let answered = mine.iter().any(|t| t.error.is_none());
            ModelSummary {
                model: m.clone(),
                solved,
                trials: mine.len(),
                solve_rate: rate,
                median_s: median,
                fastest_s: secs.first().copied().unwrap_or(0.0),
                slowest_s: slowest,
                peak_mib: peak,
                errors: mine.iter().filter(|t| t.error.is_some()).count(),
                meets_time: answered
                    && slowest <= c.max_response_s
                    && !mine.iter().any(|t| t.timed_out),
                meets_memory: answered && peak <= c.max_memory_mib,
                // A small epsilon: 2 of 3 is 0.666…, which must meet "2/3".
                meets_solved: rate + 1e-9 >= c.min_solved,
            }
        })
        .collect()
}

/// Go, Fallback, Pivot or No-Go, by the user's plan.
pub(crate) fn decide(summaries: &[ModelSummary], c: &Criteria) -> Verdict {
    let mut passing: Vec<&ModelSummary> = summaries.iter().filter(|s| s.passes()).collect();
    passing.sort_by(|a, b| {
        b.solve_rate
            .total_cmp(&a.solve_rate)
            .then(a.median_s.total_cmp(&b.median_s))
    });
    let order: Vec<String> = passing.iter().map(|s| s.model.clone()).collect();
    let limits = format!(
        "≤ {:.0} s per response, ≤ {:.1} GiB, ≥ {:.0}% solved",
        c.max_response_s,
        c.max_memory_mib as f64 / 1024.0,
        c.min_solved * 100.0
    );
    let Some(first) = summaries.first() else {
        return Verdict {
            decision: Decision::NoGo,
            reason: "no model was evaluated".into(),
            order,
        };
    };
    if first.passes() {
        return Verdict {
            decision: Decision::Go,
            reason: format!(
                "{} meets every criterion ({limits}): {}/{} solved, slowest response {:.1} s, peak {:.1} GiB",
                first.model,
                first.solved,
                first.trials,
                first.slowest_s,
                first.peak_mib as f64 / 1024.0
            ),
            order,
        };
    }
    if !order.is_empty() {
        return Verdict {
            decision: Decision::Fallback,
            reason: format!(
                "{} misses the criteria ({limits}); {} meet them: use them in this order",
                first.model,
                order.join(", ")
            ),
            order,
        };
    }
    if summaries.iter().any(|s| s.meets_time && s.meets_memory) {
        return Verdict {
            decision: Decision::Pivot,
            reason: format!(
                "models answer within the time and memory limits but none solves enough ({limits}): try another agent tool"
            ),
            order,
        };
    }
    Verdict {
        decision: Decision::NoGo,
        reason: format!(
            "no model answers within the time and memory limits on this machine ({limits})"
        ),
        order,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(model: &str, solved: usize, slowest: f64, peak: u64) -> ModelSummary {
        let c = criteria();
        ModelSummary {
            model: model.into(),
            solved,
            trials: 3,
            solve_rate: solved as f64 / 3.0,
            median_s: slowest / 2.0,
            fastest_s: 1.0,
            slowest_s: slowest,
            peak_mib: peak,
            errors: 0,
            meets_time: slowest <= c.max_response_s,
            meets_memory: peak <= c.max_memory_mib,
            meets_solved: solved as f64 / 3.0 + 1e-9 >= c.min_solved,
        }
    }

    fn criteria() -> Criteria {
        Criteria::new(Duration::from_secs(60), 14 * 1024, 2.0 / 3.0)
    }

    #[test]
    fn the_decision_follows_the_users_criteria() {
        let c = criteria();
        let go = decide(
            &[
                summary("qwen7", 2, 40.0, 9000),
                summary("llama", 3, 20.0, 8000),
            ],
            &c,
        );
        assert_eq!(go.decision, Decision::Go);
        assert_eq!(
            go.order,
            ["llama", "qwen7"],
            "best first: solve rate, then speed"
        );

        let fallback = decide(
            &[
                summary("qwen7", 1, 40.0, 9000),
                summary("qwen3", 2, 15.0, 4000),
            ],
            &c,
        );
        assert_eq!(fallback.decision, Decision::Fallback);
        assert_eq!(fallback.order, ["qwen3"]);

        let slow = decide(&[summary("qwen7", 3, 90.0, 9000)], &c);
        assert_eq!(slow.decision, Decision::NoGo, "too slow is not a Pivot");

        let pivot = decide(
            &[
                summary("qwen7", 1, 30.0, 9000),
                summary("qwen3", 0, 10.0, 4000),
            ],
            &c,
        );
        assert_eq!(pivot.decision, Decision::Pivot);

        let big = decide(&[summary("qwen32", 3, 50.0, 20_000)], &c);
        assert_eq!(big.decision, Decision::NoGo);
    }
}
