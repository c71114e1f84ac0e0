//! `codingworker eval` with the real aider and the fake model server: a model that solves
//! every sample task, one that solves none, one too slow, and an endpoint that is down.

use serde_json::Value;

use crate::support::fake_llm::{Behaviour, FakeLlm};
use crate::support::{Ran, Sandbox, aider, closed_port_url, cw};

const FIZZBUZZ: &str = "def fizzbuzz(n):\n    if n % 15 == 0:\n        return \"FizzBuzz\"\n    if n % 3 == 0:\n        return \"Fizz\"\n    if n % 5 == 0:\n        return \"Buzz\"\n    return str(n)\n";

const CSV_TOOLS: &str = r#""""Small helpers for CSV files."""

import csv


def read_rows(path):
    """The data rows of a CSV file, as dicts keyed by the header."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def sort_rows(path, column):
    rows = read_rows(path)
    if rows and column not in rows[0]:
        raise KeyError(column)

    def number(v):
        try:
            float(v)
            return True
        except ValueError:
            return False

    if all(number(r[column]) for r in rows):
        return sorted(rows, key=lambda r: float(r[column]))
    return sorted(rows, key=lambda r: r[column])
"#;

const PAGES: &str = "def page_count(items, per_page):\n    \"\"\"How many pages `items` things fill at `per_page` a page.\"\"\"\n    return -(-items // per_page)\n";

fn solver() -> Behaviour {
    let whole = |p: &str, c: &str| Behaviour::Whole(vec![(p.to_owned(), c.to_owned())]);
    Behaviour::ByPrompt(vec![
        ("fizzbuzz(n)".into(), whole("fizzbuzz.py", FIZZBUZZ)),
        ("sort_rows".into(), whole("csv_tools.py", CSV_TOOLS)),
        ("page_count".into(), whole("pages.py", PAGES)),
    ])
}

fn eval(sb: &Sandbox, llm: &str, models: &str, extra: &[&str]) -> (Ran, Value) {
    assert!(aider().exists(), "run scripts/setup-test-tools");
    let out = sb.path().join("eval-out");
    let ran: Ran = cw()
        .args([
            "eval",
            "--playbook",
            "playbooks/python.yml",
            "--models",
            models,
        ])
        .args([
            "--max-response",
            "10s",
            "--stop-after",
            "8s",
            "--format",
            "json",
            "--out",
        ])
        .arg(&out)
        .args(extra)
        .env("HOME", sb.home())
        .env("CODINGWORKER_AIDER", aider())
        .env("OLLAMA_API_BASE", llm)
        .output()
        .unwrap()
        .into();
    let json = serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("{e}: {ran:?}"));
    (ran, json)
}

fn model<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == name)
        .unwrap()
}

#[test]
fn compares_models_and_answers_fallback_with_the_order_to_use() {
    let llm = FakeLlm::start(&[
        ("bad", Behaviour::Nothing),
        ("good", solver()),
        ("slow", Behaviour::Delay(30, Box::new(solver()))),
    ]);
    let sb = Sandbox::new();
    let written = sb.path().join("ordered.yml");
    let (ran, report) = eval(
        &sb,
        &llm.url,
        "ollama_chat/bad,ollama_chat/good,ollama_chat/slow",
        &["--write-playbook", written.to_str().unwrap()],
    );
    assert_eq!(ran.code, 0, "Fallback is a way forward: {}", ran.stderr);
    assert_eq!(report["decision"]["decision"], "fallback");
    assert_eq!(
        report["decision"]["order"],
        serde_json::json!(["ollama_chat/good"])
    );
    let good = model(&report, "ollama_chat/good");
    assert_eq!(
        (good["solved"].as_u64(), good["trials"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(good["meets_time"], true);
    let bad = model(&report, "ollama_chat/bad");
    assert_eq!(bad["solved"], 0);
    assert_eq!(bad["meets_solved"], false);
    let slow = model(&report, "ollama_chat/slow");
    assert_eq!(slow["meets_time"], false, "{slow}");
    // The agent's process tree was measured (aider alone is a couple of hundred MB).
    let trials = report["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 9);
    assert!(
        trials
            .iter()
            .all(|t| t["agent_peak_mib"].as_u64().unwrap() > 30),
        "{trials:?}"
    );
    assert!(
        trials
            .iter()
            .filter(|t| t["model"] == "ollama_chat/slow")
            .all(|t| t["timed_out"] == true
                && t["error"].as_str().unwrap().contains("no answer within 8s")),
        "the slow model is stopped at twice the limit"
    );
    // The hidden checks never reached the agent.
    for c in llm.chats() {
        assert!(
            !c.prompt.contains("test_partial_last_page"),
            "a hidden test leaked"
        );
    }
    // Results on disk, and the playbook with the suggested order.
    let md = std::fs::read_to_string(sb.path().join("eval-out/eval.md")).unwrap();
    assert!(md.contains("**Decision: Fallback**"), "{md}");
    let ordered = std::fs::read_to_string(&written).unwrap();
    let models: Vec<String> = ordered
        .lines()
        .filter(|l| l.contains("model:") && !l.contains("{{"))
        .map(|l| {
            let v = l.split("model:").nth(1).unwrap();
            v.trim()
                .trim_end_matches('}')
                .trim()
                .trim_matches('"')
                .to_owned()
        })
        .collect();
    assert_eq!(
        models,
        [
            "ollama_chat/good",
            "ollama_chat/qwen2.5-coder:7b",
            "ollama_chat/codellama:7b",
            "ollama_chat/qwen2.5-coder:3b",
            "gemini/gemini-2.0-flash"
        ],
        "{ordered}"
    );
    let check: Ran = cw().arg("validate").arg(&written).output().unwrap().into();
    assert_eq!(check.code, 0, "{}", check.stdout);
}

#[test]
fn an_unreachable_endpoint_is_a_no_go_with_the_reason() {
    let sb = Sandbox::new();
    let (ran, report) = eval(&sb, &closed_port_url(), "ollama_chat/qwen2.5-coder:7b", &[]);
    assert_eq!(ran.code, 1);
    assert_eq!(report["decision"]["decision"], "no-go");
    let trials = report["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 3, "one per sample task");
    assert!(
        trials
            .iter()
            .all(|t| t["error"].as_str().unwrap().contains("unreachable"))
    );
    // The human table, numbers aside.
    let human: Ran = cw()
        .args([
            "eval",
            "--playbook",
            "playbooks/python.yml",
            "--models",
            "ollama_chat/qwen2.5-coder:7b",
            "--out",
        ])
        .arg(sb.path().join("h"))
        .env("HOME", sb.home())
        .env("CODINGWORKER_AIDER", aider())
        .env("OLLAMA_API_BASE", closed_port_url())
        .output()
        .unwrap()
        .into();
    let table: String = human
        .stdout
        .lines()
        .filter(|l| !l.starts_with("Results:"))
        .collect::<Vec<_>>()
        .join("\n");
    // Durations depend on the machine (the first call also loads the token counter).
    insta::with_settings!({filters => vec![
        (r"\d+\.\d+–\d+\.\d+s", "[range]"),
        (r"\b\d+\.\ds\b", "[time]"),
    ]}, {
        insta::assert_snapshot!("eval_no_go_table", table);
    });
}
