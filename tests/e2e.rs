//! End to end with the real `aider` CLI: the queue (moto), the worker, git (a bare remote),
//! the fake GitHub API, and aider talking to a deterministic fake LLM server. Each test is
//! a promise of the product; see docs/testing.md for how to add one.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::fake_llm::{Behaviour, FakeLlm};
use crate::support::worker_setup::*;
use crate::support::{Ran, aider, closed_port_url, git};

const FIZZBUZZ_TEST: &str = r#"import unittest

from fizzbuzz import fizzbuzz


class FizzBuzzTest(unittest.TestCase):
    def test_first_fifteen(self):
        expected = ["1", "2", "Fizz", "4", "Buzz", "Fizz", "7", "8", "Fizz", "Buzz",
                    "11", "Fizz", "13", "14", "FizzBuzz"]
        self.assertEqual([fizzbuzz(i) for i in range(1, 16)], expected)


if __name__ == "__main__":
    unittest.main()
"#;

const FIZZBUZZ_RIGHT: &str = r#"def fizzbuzz(n):
    if n % 15 == 0:
        return "FizzBuzz"
    if n % 3 == 0:
        return "Fizz"
    if n % 5 == 0:
        return "Buzz"
    return str(n)
"#;

const FIZZBUZZ_WRONG: &str = "def fizzbuzz(n):\n    return str(n)\n";

fn whole(path: &str, content: &str) -> Behaviour {
    Behaviour::Whole(vec![(path.to_owned(), content.to_owned())])
}

/// A playbook in the shape of the shipped ones: a retry over `models` (each entry may set
/// its own `api_base`), the tests after each attempt, then the PR (a draft when no attempt
/// passed) and a comment on failure.
fn playbook(
    llm: &str,
    attempts: &[(&str, Option<&str>)],
    files: &str,
    test: &str,
    edit_format: &str,
) -> String {
    let attempts: String = attempts
        .iter()
        .map(|(model, base)| {
            format!(
                "        - {{ model: \"{model}\", api_base: \"{}\" }}\n",
                base.unwrap_or(llm)
            )
        })
        .collect();
    format!(
        r#"version: 1
name: e2e
timeout: 5m
steps:
  - id: solve
    retry:
      attempts:
{attempts}      until: steps.test.ok
      steps:
        - id: code
          timeout: 60s
          aider:
            model: "{{{{ attempt.model }}}}"
            api_base: "{{{{ attempt.api_base }}}}"
            edit_format: {edit_format}
            message: |
              {{{{ issue.title }}}}

              {{{{ issue.body }}}}
              {{% if attempt.number > 1 %}}
              The previous attempt failed its tests:
              {{{{ steps.test.output | tail(30) }}}}
              {{% endif %}}
            files: [{files}]
        - id: test
          timeout: 60s
          shell: {test}
  - id: pr
    if: always()
    pr_open:
      title: "{{{{ issue.title }}}}"
      body: |
        Closes #{{{{ issue.number }}}}

        {{{{ run.summary }}}}
      draft: "{{{{ not steps.solve.ok }}}}"
  - id: tell
    if: failure()
    comment:
      body: |
        codingworker could not solve this issue.

        {{{{ run.summary }}}}
"#
    )
}

/// A worker whose default playbook is the shipped shape over `attempts` for the fizzbuzz
/// task (`whole` format, `python3 -m unittest` as the test), with the test on the remote.
fn fizzbuzz_worker(llm: &FakeLlm, attempts: &[(&str, Option<&str>)], knobs: Knobs) -> Setup {
    let pb = playbook(
        &llm.url,
        attempts,
        "fizzbuzz.py",
        "python3 -m unittest -q",
        "whole",
    );
    setup(&pb, &[("test_fizzbuzz.py", FIZZBUZZ_TEST)], knobs)
}

/// A worker whose default playbook is `playbook`, with `files` on the remote's main.
fn setup(playbook: &str, files: &[(&str, &str)], knobs: Knobs) -> Setup {
    assert!(
        aider().exists(),
        "{} is missing: run scripts/setup-test-tools (scripts/test does it)",
        aider().display()
    );
    let s = Setup::new(3, knobs, playbook);
    if !files.is_empty() {
        s.push_to_remote(files);
    }
    s
}

fn send_issue(s: &Setup, title: &str, body: &str) {
    let mut task: Value = serde_json::from_str(&s.task("e2e-1")).unwrap();
    task["issue"]["title"] = Value::String(title.to_owned());
    task["issue"]["body"] = Value::String(body.to_owned());
    s.queue.send(&task.to_string());
}

fn run_once(s: &Setup) -> Ran {
    let ran = s.once();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    ran
}

/// The file on the run branch of the remote.
fn on_branch(s: &Setup, path: &str) -> String {
    git(&s.remote, &["show", &format!("auto-code/issue-7:{path}")])
}

fn report(s: &Setup) -> Value {
    s.runs().pop().expect("a run")
}

/// `id@attempt=status` for every step execution of the last run.
fn statuses(s: &Setup) -> Vec<String> {
    report(s)["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| match st["attempt"]["number"].as_u64() {
            Some(n) => format!(
                "{}@{n}={}",
                st["id"].as_str().unwrap(),
                st["status"].as_str().unwrap()
            ),
            None => format!(
                "{}={}",
                st["id"].as_str().unwrap(),
                st["status"].as_str().unwrap()
            ),
        })
        .collect()
}

/// Processes whose command line mentions `needle` (a sandbox path): leaks.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == std::process::id() as i32 || !crate::support::alive(pid) {
            continue;
        }
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let cwd = std::fs::read_link(e.path().join("cwd")).unwrap_or_default();
        if cmd.contains(needle) || cwd.starts_with(needle) {
            found.push(format!("{pid}: {cmd}"));
        }
    }
    found
}

fn assert_clean(s: &Setup) {
    assert_eq!(s.queue.depth(), (0, 0), "the message is deleted");
    assert_eq!(s.worktrees_left(), 0, "no worktree is left");
    let sandbox = s.sb.path().display().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_mentioning(&sandbox);
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "processes left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn creates_fizzbuzz_from_an_issue() {
    let llm = FakeLlm::start(&[("coder", whole("fizzbuzz.py", FIZZBUZZ_RIGHT))]);
    let s = fizzbuzz_worker(&llm, &[("ollama_chat/coder", None)], Knobs::default());
    send_issue(
        &s,
        "Add fizzbuzz(n)",
        "Create fizzbuzz.py so that test_fizzbuzz.py passes.",
    );
    run_once(&s);
    assert_eq!(
        statuses(&s),
        [
            "solve=success",
            "code@1=success",
            "test@1=success",
            "pr=success",
            "tell=skipped"
        ]
    );
    assert_eq!(on_branch(&s, "fizzbuzz.py"), FIZZBUZZ_RIGHT);
    let prs = s.github.prs();
    assert_eq!(prs.len(), 1);
    assert!(!prs[0].draft);
    // What aider was told: the issue, through the Ollama API.
    let edits = llm.edits("coder");
    assert_eq!(edits.len(), 1, "{:?}", llm.chats());
    assert_eq!(edits[0].api, "ollama");
    assert!(
        edits[0]
            .prompt
            .contains("Create fizzbuzz.py so that test_fizzbuzz.py passes.")
    );
    assert_clean(&s);
}

const CALC: &str = "def add(a, b):\n    return a + b\n";
const CALC_TEST: &str = "import unittest\n\nfrom calc import add, multiply\n\n\nclass CalcTest(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n    def test_multiply(self):\n        self.assertEqual(multiply(4, 5), 20)\n\n\nif __name__ == \"__main__\":\n    unittest.main()\n";

#[test]
fn adds_a_function_to_an_existing_file_through_the_openai_api() {
    let llm = FakeLlm::start(&[(
        "coder",
        Behaviour::Diff(vec![(
            "calc.py".into(),
            CALC.into(),
            format!("{CALC}\n\ndef multiply(a, b):\n    return a * b\n"),
        )]),
    )]);
    let base = format!("{}/v1", llm.url);
    let pb = playbook(
        &llm.url,
        &[("openai/coder", Some(&base))],
        "calc.py",
        "python3 -m unittest -q",
        "diff",
    );
    let s = setup(
        &pb,
        &[("calc.py", CALC), ("test_calc.py", CALC_TEST)],
        Knobs::default(),
    );
    send_issue(&s, "Add multiply(a, b) to calc.py", "Next to add().");
    run_once(&s);
    assert_eq!(
        statuses(&s)[..3],
        ["solve=success", "code@1=success", "test@1=success"]
    );
    assert_eq!(
        on_branch(&s, "calc.py"),
        format!("{CALC}\n\ndef multiply(a, b):\n    return a * b\n")
    );
    let edits = llm.edits("coder");
    assert_eq!(edits[0].api, "openai");
    assert_eq!(s.github.prs().len(), 1);
    assert_clean(&s);
}

const COUNT: &str =
    "def count_up(n):\n    \"\"\"1, 2, ..., n\"\"\"\n    return list(range(1, n))\n";
const COUNT_TEST: &str = "import unittest\n\nfrom count import count_up\n\n\nclass CountTest(unittest.TestCase):\n    def test_includes_n(self):\n        self.assertEqual(count_up(3), [1, 2, 3])\n\n\nif __name__ == \"__main__\":\n    unittest.main()\n";

#[test]
fn fixes_an_off_by_one_bug_that_a_failing_test_shows() {
    let llm = FakeLlm::start(&[(
        "coder",
        Behaviour::Diff(vec![(
            "count.py".into(),
            "    return list(range(1, n))\n".into(),
            "    return list(range(1, n + 1))\n".into(),
        )]),
    )]);
    let pb = playbook(
        &llm.url,
        &[("ollama_chat/coder", None)],
        "count.py",
        "python3 -m unittest -q",
        "diff",
    );
    let s = setup(
        &pb,
        &[("count.py", COUNT), ("test_count.py", COUNT_TEST)],
        Knobs::default(),
    );
    // Before: the test fails.
    let before = std::process::Command::new("python3")
        .args(["-m", "unittest", "-q"])
        .current_dir(s.sb.repo())
        .output()
        .unwrap();
    assert!(!before.status.success());
    send_issue(
        &s,
        "count_up(n) stops one short",
        "count_up(3) gives [1, 2]; test_count.py shows it.",
    );
    run_once(&s);
    assert_eq!(
        statuses(&s)[..3],
        ["solve=success", "code@1=success", "test@1=success"]
    );
    assert!(on_branch(&s, "count.py").contains("range(1, n + 1)"));
    assert_clean(&s);
}

#[test]
fn falls_back_to_the_next_model_when_the_tests_fail() {
    let llm = FakeLlm::start(&[
        ("model-a", whole("fizzbuzz.py", FIZZBUZZ_WRONG)),
        ("model-b", whole("fizzbuzz.py", FIZZBUZZ_RIGHT)),
    ]);
    let s = fizzbuzz_worker(
        &llm,
        &[("ollama_chat/model-a", None), ("ollama_chat/model-b", None)],
        Knobs::default(),
    );
    send_issue(&s, "Add fizzbuzz(n)", "Make test_fizzbuzz.py pass.");
    run_once(&s);
    assert_eq!(
        statuses(&s),
        [
            "solve=success",
            "code@1=success",
            "test@1=failure",
            "code@2=success",
            "test@2=success",
            "pr=success",
            "tell=skipped"
        ]
    );
    // The PR carries B's work only: A's commit was dropped by the reset.
    assert_eq!(on_branch(&s, "fizzbuzz.py"), FIZZBUZZ_RIGHT);
    let log = git(
        &s.remote,
        &["log", "--format=%s%n%b", "main..auto-code/issue-7"],
    );
    assert!(
        !log.contains("model-a"),
        "A's commit is not on the branch:\n{log}"
    );
    let pr = &s.github.prs()[0];
    assert!(
        pr.body.contains("ollama_chat/model-a") && pr.body.contains("ollama_chat/model-b"),
        "{}",
        pr.body
    );
    // B was told why A failed.
    let told = &llm.edits("model-b")[0].prompt;
    let at = told.find("The previous attempt").unwrap_or(0);
    let tail = &told[at..(at + 1500).min(told.len())];
    assert!(
        told.contains("The previous attempt failed its tests"),
        "{tail}"
    );
    assert!(
        tail.contains("FAILED (failures=1)") && tail.contains("+  'FizzBuzz'"),
        "{tail}"
    );
    assert_clean(&s);
}

#[test]
fn when_every_model_fails_a_draft_pr_and_one_comment_and_the_message_is_done() {
    let llm = FakeLlm::start(&[
        ("model-a", whole("fizzbuzz.py", FIZZBUZZ_WRONG)),
        ("model-c", Behaviour::Nothing),
    ]);
    let s = fizzbuzz_worker(
        &llm,
        &[("ollama_chat/model-c", None), ("ollama_chat/model-a", None)],
        Knobs::default(),
    );
    send_issue(&s, "Add fizzbuzz(n)", "Make test_fizzbuzz.py pass.");
    run_once(&s);
    // Model C changed nothing: a failed attempt (require_changes), its tests not run.
    // Model A's work fails the tests; it is the last attempt, so it stays for the PR.
    assert_eq!(
        statuses(&s),
        [
            "solve=failure",
            "code@1=failure",
            "test@1=skipped",
            "code@2=success",
            "test@2=failure",
            "pr=success",
            "tell=success"
        ]
    );
    let prs = s.github.prs();
    assert_eq!(prs.len(), 1);
    assert!(prs[0].draft, "a draft, as the playbook says");
    assert_eq!(on_branch(&s, "fizzbuzz.py"), FIZZBUZZ_WRONG);
    let comments = s.github.comments();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].body.contains("could not solve"));
    assert!(
        comments[0]
            .body
            .contains("ollama_chat/model-c | ❌ failure"),
        "{}",
        comments[0].body
    );
    assert_eq!(s.runs().len(), 1, "a final result: not retried");
    assert_clean(&s);
}

#[test]
fn an_unreachable_model_endpoint_fails_fast_and_the_next_model_is_tried() {
    let llm = FakeLlm::start(&[("model-b", whole("fizzbuzz.py", FIZZBUZZ_RIGHT))]);
    let down = closed_port_url();
    let s = fizzbuzz_worker(
        &llm,
        &[
            ("ollama_chat/model-a", Some(&down)),
            ("ollama_chat/model-b", None),
        ],
        Knobs::default(),
    );
    send_issue(&s, "Add fizzbuzz(n)", "Make test_fizzbuzz.py pass.");
    run_once(&s);
    let r = report(&s);
    let first = &r["steps"][1];
    assert_eq!(first["status"], "failure");
    assert!(
        first["message"].as_str().unwrap().contains("unreachable"),
        "{first}"
    );
    assert!(
        first["duration_ms"].as_u64().unwrap() < 10_000,
        "no 80 s of retries: {first}"
    );
    assert_eq!(
        statuses(&s)[..5],
        [
            "solve=success",
            "code@1=failure",
            "test@1=skipped",
            "code@2=success",
            "test@2=success"
        ]
    );
    assert_clean(&s);
}

#[test]
fn a_hanging_agent_is_killed_at_its_timeout_and_the_next_model_runs() {
    let llm = FakeLlm::start(&[
        ("model-h", Behaviour::Hang),
        ("model-b", whole("fizzbuzz.py", FIZZBUZZ_RIGHT)),
    ]);
    let pb = playbook(
        &llm.url,
        &[("ollama_chat/model-h", None), ("ollama_chat/model-b", None)],
        "fizzbuzz.py",
        "python3 -m unittest -q",
        "whole",
    )
    .replace(
        "          timeout: 60s\n          aider:",
        "          timeout: 15s\n          aider:",
    );
    let s = setup(
        &pb,
        &[("test_fizzbuzz.py", FIZZBUZZ_TEST)],
        Knobs::default(),
    );
    send_issue(&s, "Add fizzbuzz(n)", "Make test_fizzbuzz.py pass.");
    run_once(&s);
    let st = statuses(&s);
    assert_eq!(
        st[..5],
        [
            "solve=success",
            "code@1=timed_out",
            "test@1=skipped",
            "code@2=success",
            "test@2=success"
        ],
        "{st:?}"
    );
    assert_eq!(on_branch(&s, "fizzbuzz.py"), FIZZBUZZ_RIGHT);
    assert_clean(&s);
}

#[test]
fn a_worker_killed_during_aider_finishes_the_task_once_after_a_restart() {
    let llm = FakeLlm::start(&[(
        "slow",
        Behaviour::Delay(8, Box::new(whole("fizzbuzz.py", FIZZBUZZ_RIGHT))),
    )]);
    let s = fizzbuzz_worker(
        &llm,
        &[("ollama_chat/slow", None)],
        Knobs {
            visibility: "3s",
            ..Knobs::default()
        },
    );
    send_issue(&s, "Add fizzbuzz(n)", "Make test_fizzbuzz.py pass.");
    let mut worker = s.spawn("killed");
    let deadline = Instant::now() + Duration::from_secs(60);
    while llm.edits("slow").is_empty() {
        assert!(
            Instant::now() < deadline,
            "aider never asked the model: {}",
            s.log("killed")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    signal(worker.id() as i32, nix::sys::signal::Signal::SIGKILL);
    worker.wait().unwrap();
    // The killed worker's aider goes on in its own process group: end it for the test.
    kill_mentioning(&s.sb.path().display().to_string());
    s.wait_visible(Duration::from_secs(20));
    let ran = run_once(&s);
    assert!(ran.stderr.contains("resuming"), "{}", ran.stderr);
    assert_eq!(s.github.prs().len(), 1, "one PR");
    assert_eq!(on_branch(&s, "fizzbuzz.py"), FIZZBUZZ_RIGHT);
    assert_eq!(s.task_states()[0]["phase"], "done");
    assert_clean(&s);
}

fn kill_mentioning(needle: &str) {
    for p in processes_mentioning(needle) {
        let pid: i32 = p.split(':').next().unwrap().parse().unwrap();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[test]
fn hostile_issue_text_is_data_and_the_token_leaks_nowhere() {
    let marker = std::env::temp_dir().join(format!("cw-pwned-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let title = format!(
        "$(touch {m}) `touch {m}` {{{{ 7 * 7 }}}} {{% raw %}}",
        m = marker.display()
    );
    let body = format!(
        "'; touch {m}; echo '\n\"$(id)\" && rm -rf ~ ; {{{{ secrets.GITHUB_TOKEN }}}} {{{{ issue.title }}}}\n|| true",
        m = marker.display()
    );
    let llm = FakeLlm::start(&[("coder", whole("fizzbuzz.py", FIZZBUZZ_RIGHT))]);
    let pb = playbook(&llm.url, &[("ollama_chat/coder", None)], "fizzbuzz.py", "python3 -m unittest -q", "whole")
        .replace(
            "  - id: solve\n",
            "  - id: record\n    shell: |\n      printf '%s' \"$CW_ISSUE_BODY\" > body.txt\n      printf '%s' {{ issue.title }} > title.txt\n      git add body.txt title.txt && git commit -qm record\n  - id: solve\n",
        );
    let s = setup(
        &pb,
        &[("test_fizzbuzz.py", FIZZBUZZ_TEST)],
        Knobs::default(),
    );
    send_issue(&s, &title, &body);
    let planted = "ghp_plantedWorkerSecret0000111";
    let ran: Ran = s
        .worker(true)
        .env("GITHUB_TOKEN", TOKEN)
        .env("SOME_SERVICE_TOKEN", planted)
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(!marker.exists(), "issue text ran as a command");
    // Verbatim into the files and to the agent.
    assert_eq!(on_branch(&s, "body.txt"), body);
    assert_eq!(on_branch(&s, "title.txt"), title);
    let told = &llm.edits("coder")[0].prompt;
    assert!(told.contains(&title) && told.contains(&body), "{told}");
    // No secret anywhere.
    let mut everything = format!("{}{}", ran.stdout, ran.stderr);
    for c in llm.chats() {
        everything.push_str(&c.prompt);
    }
    for pr in s.github.prs() {
        everything.push_str(&pr.body);
    }
    for c in s.github.comments() {
        everything.push_str(&c.body);
    }
    for f in crate::support::walk(&s.sb.workdir()) {
        everything.push_str(&String::from_utf8_lossy(
            &std::fs::read(&f).unwrap_or_default(),
        ));
    }
    for secret in [TOKEN, planted] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
    assert_clean(&s);
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

#[test]
fn twenty_tasks_in_a_row_leave_nothing_behind_and_memory_flat() {
    let llm = FakeLlm::start(&[("coder", whole("fizzbuzz.py", FIZZBUZZ_RIGHT))]);
    let s = fizzbuzz_worker(&llm, &[("ollama_chat/coder", None)], Knobs::default());
    let remote = s.remote.to_str().unwrap().to_owned();
    let total = 20;
    for n in 1..=total {
        s.queue.send(&s.issue(
            "acme/demo",
            n,
            &format!("many-{n}"),
            &remote,
            &["auto-code"],
        ));
    }
    let mut worker = s.spawn("many");
    let mut samples = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = s.runs().len();
        if samples.len() < done / 5 {
            samples.push((done, rss_kib(worker.id())));
        }
        if done == total as usize && s.queue.depth() == (0, 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {done} tasks ran: {}",
            s.log("many")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    samples.push((total as usize, rss_kib(worker.id())));
    signal(worker.id() as i32, nix::sys::signal::Signal::SIGTERM);
    assert_eq!(wait_exit(&mut worker, Duration::from_secs(30)), 0);
    assert_eq!(s.github.prs().len(), total as usize);
    assert!(s.runs().iter().all(|r| r["status"] == "success"));
    // Flat memory: after the first few tasks, growth stays within a few MiB.
    let (_, early) = samples[0];
    let (_, late) = *samples.last().unwrap();
    assert!(
        late < early + 8 * 1024,
        "memory grew from {early} KiB to {late} KiB: {samples:?}"
    );
    assert_clean(&s);
    let tmp: Vec<_> = std::fs::read_dir(s.tmp())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(tmp.is_empty(), "temporary files left: {tmp:?}");
}

#[test]
fn a_model_that_answers_http_errors_fails_its_attempt_fast() {
    let llm = FakeLlm::start(&[
        ("model-d", Behaviour::Status(400)),
        ("model-e", Behaviour::Status(500)),
        ("model-b", whole("fizzbuzz.py", FIZZBUZZ_RIGHT)),
    ]);
    // Through the OpenAI API a 400 ends the call at once. litellm retries Ollama's errors
    // (and 5xx everywhere) for about 80 s: the step stops aider after a few retries.
    let openai = format!("{}/v1", llm.url);
    let s = fizzbuzz_worker(
        &llm,
        &[
            ("openai/model-d", Some(&openai)),
            ("ollama_chat/model-e", None),
            ("ollama_chat/model-b", None),
        ],
        Knobs::default(),
    );
    send_issue(&s, "Add fizzbuzz(n)", "Make test_fizzbuzz.py pass.");
    run_once(&s);
    let r = report(&s);
    for (i, expected) in [(1, "400"), (3, "kept failing")] {
        let step = &r["steps"][i];
        assert_eq!(step["status"], "failure", "{step}");
        let why = step["message"].as_str().unwrap();
        assert!(why.contains(expected), "{why}");
        assert!(step["duration_ms"].as_u64().unwrap() < 30_000, "{step}");
    }
    assert_eq!(
        statuses(&s)[..7],
        [
            "solve=success",
            "code@1=failure",
            "test@1=skipped",
            "code@2=failure",
            "test@2=skipped",
            "code@3=success",
            "test@3=success"
        ]
    );
    assert_clean(&s);
}

const DECAMELIZE_BUG: &str = "        if c.isupper() and i > 0:\n";
const DECAMELIZE_FIX: &str = "        if c.isupper() and i > 0 and (name[i - 1].islower() or (i + 1 < len(name) and name[i + 1].islower())):\n";

/// A src-layout package of about 12k tokens: more than an 8k window holds, with the bug in
/// `src/textkit/case.py`, which the issue never names.
fn textkit() -> Vec<(String, String)> {
    let mut files = vec![
        (
            "src/textkit/case.py".to_owned(),
            format!(
                "def decamelize(name):\n    \"\"\"Turn CamelCase into snake_case, keeping acronyms together.\"\"\"\n    out = []\n    for i, c in enumerate(name):\n{DECAMELIZE_BUG}            out.append(\"_\")\n        out.append(c.lower())\n    return \"\".join(out)\n"
            ),
        ),
        ("src/textkit/__init__.py".into(), "from .case import decamelize\n".into()),
        ("tests/__init__.py".into(), String::new()),
        (
            "tests/test_case.py".into(),
            "import unittest\n\nfrom textkit.case import decamelize\n\n\nclass CaseTest(unittest.TestCase):\n    def test_words(self):\n        self.assertEqual(decamelize(\"parseDate\"), \"parse_date\")\n\n    def test_acronyms(self):\n        self.assertEqual(decamelize(\"HTTPServer\"), \"http_server\")\n".into(),
        ),
    ];
    for module in ["numbers", "dates", "wrap", "units", "colors", "paths"] {
        let body: String = (0..45)
            .map(|i| {
                format!(
                    "def {module}_step_{i}(value):\n    \"\"\"Apply transform {i} of the {module} helpers to value.\"\"\"\n    return value * {i} + len(\"{module}\")\n\n\n"
                )
            })
            .collect();
        files.push((format!("src/textkit/{module}.py"), body));
    }
    files
}

#[test]
fn files_auto_hands_a_small_model_the_file_the_issue_is_about_within_its_window() {
    let repo_files = textkit();
    let total: u32 = repo_files
        .iter()
        .map(|(_, t)| codingworker::context::tokens::count(t))
        .sum();
    assert!(
        total > 8192,
        "the package must not fit the window whole: {total}"
    );
    let files: Vec<(&str, &str)> = repo_files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let issue = (
        "decamelize splits acronyms",
        "`decamelize(\"HTTPServer\")` returns `h_t_t_p_server`; it should be `http_server`.",
    );
    // The model writes the fix only when the code to change is in what it reads, and
    // reads only what fits the window it was given.
    let model = || {
        Behaviour::Window(Box::new(Behaviour::ByPrompt(vec![
            (
                DECAMELIZE_BUG.to_owned(),
                Behaviour::Diff(vec![(
                    "src/textkit/case.py".into(),
                    DECAMELIZE_BUG.into(),
                    DECAMELIZE_FIX.into(),
                )]),
            ),
            (String::new(), Behaviour::Nothing),
        ])))
    };
    let test = "PYTHONPATH=src python3 -m unittest discover -q -s tests -t .";

    // The glob the default playbook used to have misses a src layout: nothing to fix.
    let llm = FakeLlm::start(&[("coder", model())]);
    let pb = playbook(
        &llm.url,
        &[("ollama_chat/coder", None)],
        "\"{*,src/*,lib/*,app/*,pkg/*}.{py,rs,go,js,ts}\"",
        test,
        "diff",
    );
    let s = setup(&pb, &files, Knobs::default());
    send_issue(&s, issue.0, issue.1);
    run_once(&s);
    assert_eq!(statuses(&s)[..2], ["solve=failure", "code@1=failure"]);

    // `files: auto` finds it from the function's name and fits it in the window.
    let llm = FakeLlm::start(&[("coder", model())]);
    let pb = playbook(
        &llm.url,
        &[("ollama_chat/coder", None)],
        "auto",
        test,
        "diff",
    );
    let s = setup(&pb, &files, Knobs::default());
    send_issue(&s, issue.0, issue.1);
    run_once(&s);
    assert_eq!(
        statuses(&s)[..3],
        ["solve=success", "code@1=success", "test@1=success"]
    );
    assert!(on_branch(&s, "src/textkit/case.py").contains("name[i + 1].islower()"));
    let edits = llm.edits("coder");
    assert!(!edits.is_empty());
    for e in &edits {
        assert_eq!(e.num_ctx, Some(8192));
        assert!(e.tokens <= 8192, "a prompt of {} tokens", e.tokens);
    }
    let code = report(&s)["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["id"] == "code")
        .cloned()
        .unwrap();
    assert_eq!(code["context"]["edit"][0]["path"], "src/textkit/case.py");
    assert_eq!(
        code["context"]["edit"][0]["reasons"][0],
        "defines `decamelize`, which the issue names"
    );
    assert_eq!(code["context"]["read"][0]["path"], "tests/test_case.py");
    assert_clean(&s);
}
