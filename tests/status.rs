//! The worker's status page: its API (running task, live log over server-sent events,
//! queue depths, cancel), its guards (loopback, token, cross-origin writes), and the page in
//! a real headless Chromium driven over WebDriver.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::http::{Resp, events_until, request};
use crate::support::worker_setup::{Knobs, Setup, wait_exit, wait_for_file};
use crate::support::{KillOnDrop, alive, cw};

/// A worker of `s` serving the status page on a free loopback port (plus `extra` args),
/// and the page's `host:port`.
fn worker_with_page(
    s: &Setup,
    name: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (KillOnDrop, String) {
    let child = KillOnDrop(s.spawn_with(name, |c| {
        c.args(["--status-addr", "127.0.0.1:0"]).args(extra);
        c.envs(env.iter().copied());
    }));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = s.log(name);
        if let Some(at) = log.find("url=http://") {
            let addr: String = log[at + "url=http://".len()..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '/')
                .collect();
            return (child, addr);
        }
        assert!(Instant::now() < deadline, "no status page:\n{log}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A one-step playbook: writes its pid, prints `first`, waits for `go` to exist, prints
/// `second`, then sleeps.
fn waiting_playbook(marks: &Path) -> String {
    format!(
        "version: 1\nname: waits\nsteps:\n  - id: wait\n    shell: |\n      echo $$ > {pid}\n      echo 'first-line <b id=injected>bold</b>'\n      while [ ! -e {go} ]; do sleep 0.1; done\n      echo second-line-live\n      sleep 60\n",
        pid = marks.join("pid").display(),
        go = marks.join("go").display(),
    )
}

fn task_titled(s: &Setup, title: &str) -> String {
    json!({
        "version": 1, "id": "task-status",
        "repo": {"full_name": "acme/demo", "clone_url": s.remote.to_str().unwrap(), "default_branch": "main"},
        "issue": {"number": 7, "title": title, "body": "Please.", "labels": ["auto-code"],
                  "author": "alice", "url": "https://github.com/acme/demo/issues/7"},
        "sender": "alice", "event": "issues.labeled"
    })
    .to_string()
}

fn running(addr: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = request(addr, "GET", "/api/status", &[], "");
        assert_eq!(r.status, 200, "{}", r.body);
        let runs = r.json()["running"].as_array().cloned().unwrap_or_default();
        if !runs.is_empty() {
            return runs;
        }
        assert!(Instant::now() < deadline, "nothing running: {}", r.body);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM, and the worker exits 0.
fn stop(mut worker: KillOnDrop) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(worker.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(wait_exit(&mut worker.0, Duration::from_secs(30)), 0);
}

fn wait_status(addr: &str, id: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = request(addr, "GET", &format!("/api/runs/{id}"), &[], "");
        let v = r.json();
        if v["status"] == want {
            return v;
        }
        assert!(Instant::now() < deadline, "status is {}", v["status"]);
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_api_shows_the_running_task_streams_its_log_and_cancels_it_only_from_the_page() {
    let marks = tempfile::tempdir().unwrap();
    let s = Setup::new(3, Knobs::default(), &waiting_playbook(marks.path()));
    s.queue.send(&task_titled(&s, "Fix the parser"));
    let (worker, addr) = worker_with_page(&s, "w", &[], &[]);
    let sleeper: i32 = wait_for_file(&marks.path().join("pid"), Duration::from_secs(60))
        .parse()
        .unwrap();
    let run = &running(&addr)[0];
    let id = run["id"].as_str().unwrap().to_owned();
    assert_eq!(run["issue_title"], "Fix the parser");
    assert_eq!(run["steps"][0]["status"], "running");

    let status = request(&addr, "GET", "/api/status", &[], "").json();
    assert_eq!(status["queue"]["in_flight"], 1, "{status}");
    assert_eq!(status["queue"]["dead_letters"], 0, "{status}");
    assert_eq!(status["worker"]["queue_url"], s.queue.url.as_str());

    // The log comes live: what was written before connecting, then what comes after.
    events_until(
        &addr,
        &format!("/api/runs/{id}/events"),
        "log",
        "first-line",
        Duration::from_secs(20),
    );
    std::fs::write(marks.path().join("go"), "").unwrap();
    events_until(
        &addr,
        &format!("/api/runs/{id}/events"),
        "log",
        "second-line-live",
        Duration::from_secs(20),
    );

    // Writes another site could make a browser send are refused.
    let cancel = format!("/api/runs/{id}/cancel");
    let no_header = request(&addr, "POST", &cancel, &[], "");
    assert_eq!(no_header.status, 403, "{}", no_header.body);
    let foreign = request(
        &addr,
        "POST",
        &cancel,
        &[
            ("X-Codingworker", "cancel"),
            ("Origin", "http://evil.example"),
        ],
        "",
    );
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    let cross_site = request(
        &addr,
        "POST",
        &cancel,
        &[
            ("X-Codingworker", "cancel"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        "",
    );
    assert_eq!(cross_site.status, 403, "{}", cross_site.body);
    assert!(alive(sleeper), "refused writes changed nothing");

    let origin = format!("http://{addr}");
    let ok = request(
        &addr,
        "POST",
        &cancel,
        &[("X-Codingworker", "cancel"), ("Origin", &origin)],
        "",
    );
    assert_eq!(ok.status, 202, "{}", ok.body);
    let done = wait_status(&addr, &id, "cancelled");
    assert_eq!(done["steps"][0]["status"], "cancelled");
    assert!(!alive(sleeper), "the step's process group is gone");
    let again = request(&addr, "POST", &cancel, &[("X-Codingworker", "cancel")], "");
    assert_eq!(again.status, 409, "{}", again.body);
    let unknown = request(
        &addr,
        "POST",
        "/api/runs/nope/cancel",
        &[("X-Codingworker", "cancel")],
        "",
    );
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    let deadline = Instant::now() + Duration::from_secs(20);
    while s.github.comments().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(s.github.comments().len(), 1, "one comment on the issue");
    stop(worker);
}

#[test]
fn the_page_answers_only_loopback_hosts_without_a_token_and_only_the_token_with_one() {
    let s = Setup::new(
        3,
        Knobs::default(),
        "version: 1\nname: n\nsteps:\n  - { id: a, shell: 'true' }\n",
    );
    let (worker, addr) = worker_with_page(&s, "w", &[], &[]);
    let page = request(&addr, "GET", "/", &[], "");
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(
        page.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    for asset in ["/", "/app.js", "/app.css"] {
        let body = request(&addr, "GET", asset, &[], "").body;
        assert!(!body.is_empty(), "{asset}");
        assert!(
            !body.contains("//cdn") && !body.contains("src=\"http"),
            "{asset} loads nothing from elsewhere"
        );
    }
    let port = addr.rsplit(':').next().unwrap();
    for host in [format!("localhost:{port}"), format!("[::1]:{port}")] {
        assert_eq!(
            request(&addr, "GET", "/api/stats", &[("Host", &host)], "").status,
            200,
            "{host}"
        );
    }
    // A DNS name rebound to 127.0.0.1 by a web page is not us.
    let rebound = request(
        &addr,
        "GET",
        "/api/status",
        &[("Host", "attacker.example")],
        "",
    );
    assert_eq!(rebound.status, 403);
    stop(worker);

    let token = "a-long-status-token-0123456789";
    let (worker, addr) = worker_with_page(&s, "t", &[], &[("CODINGWORKER_STATUS_TOKEN", token)]);
    assert_eq!(request(&addr, "GET", "/api/status", &[], "").status, 401);
    let bearer = format!("Bearer {token}");
    assert_eq!(
        request(
            &addr,
            "GET",
            "/api/status",
            &[("Authorization", &bearer)],
            ""
        )
        .status,
        200
    );
    assert_eq!(
        request(&addr, "GET", &format!("/api/stats?token={token}"), &[], "").status,
        200
    );
    assert_eq!(
        request(
            &addr,
            "GET",
            "/api/stats?token=wrong-token-0123456789xx",
            &[],
            ""
        )
        .status,
        401
    );
    stop(worker);
}

#[test]
fn a_public_address_without_a_token_is_refused_before_anything_starts() {
    let s = Setup::new(
        3,
        Knobs::default(),
        "version: 1\nname: n\nsteps:\n  - { id: a, shell: 'true' }\n",
    );
    let ran: crate::support::Ran = s
        .worker(false)
        .args(["--status-addr", "0.0.0.0:0"])
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 2);
    insta::assert_snapshot!(ran.stderr);
    let short: crate::support::Ran = s
        .worker(false)
        .args(["--status-addr", "0.0.0.0:0", "--status-token", "short"])
        .output()
        .unwrap()
        .into();
    assert_eq!(short.code, 2);
    assert!(
        short.stderr.contains("at least 16 characters"),
        "{}",
        short.stderr
    );
    let _ = cw();
}

/// A WebDriver session of a headless Chromium (Debian's `chromium` and `chromedriver`).
struct Browser {
    driver: Child,
    addr: String,
    session: String,
}

impl Browser {
    fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = std::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (.ci/run installs chromium-driver)");
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium(), "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions"]}}}});
        let r = request(
            &addr,
            "POST",
            "/session",
            &[("Content-Type", "application/json")],
            &caps.to_string(),
        );
        let v = r.json();
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {}", r.body))
            .to_owned();
        Browser {
            driver,
            addr,
            session,
        }
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Resp {
        request(
            &self.addr,
            method,
            &format!("/session/{}{path}", self.session),
            &[("Content-Type", "application/json")],
            &body.to_string(),
        )
    }

    fn open(&self, url: &str) {
        let r = self.call("POST", "/url", json!({ "url": url }));
        assert_eq!(r.status, 200, "{}", r.body);
    }

    /// Runs a script in the page and returns its value.
    fn eval(&self, script: &str) -> Value {
        let r = self.call(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["value"].clone()
    }

    /// Waits until `script` returns true.
    fn wait_for(&self, script: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.eval(script) != json!(true) {
            assert!(
                Instant::now() < deadline,
                "the page did not show {what}; it shows:\n{}",
                self.eval("return document.body.innerText")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = request(
            &self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            &[],
            "",
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn chromium() -> String {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("chromium is installed (.ci/run installs it)")
    .to_owned()
}

const HOSTILE: &str =
    "<img src=x onerror=\"document.title='pwned'\"><script>window.pwned=1</script> & \"quotes\"";

#[test]
fn the_page_in_a_real_browser_shows_the_task_live_renders_hostile_text_as_text_and_cancels() {
    let marks = tempfile::tempdir().unwrap();
    let s = Setup::new(3, Knobs::default(), &waiting_playbook(marks.path()));
    s.queue.send(&task_titled(&s, HOSTILE));
    let (worker, addr) = worker_with_page(&s, "w", &[], &[]);
    let sleeper: i32 = wait_for_file(&marks.path().join("pid"), Duration::from_secs(60))
        .parse()
        .unwrap();
    let id = running(&addr)[0]["id"].as_str().unwrap().to_owned();

    let browser = Browser::start();
    browser.open(&format!("http://{addr}/"));
    let article = format!("document.querySelector('#current [data-run-id=\"{id}\"]')");
    browser.wait_for(&format!("return !!{article}"), "the running task");
    browser.wait_for(
        &format!("return ({article}.querySelector('pre.log')||{{}}).textContent?.includes('first-line') === true"),
        "the log so far",
    );
    // Live: the step writes more, the page shows it without a reload.
    std::fs::write(marks.path().join("go"), "").unwrap();
    browser.wait_for(
        &format!(
            "return {article}.querySelector('pre.log').textContent.includes('second-line-live')"
        ),
        "the log as it grows",
    );
    // Hostile text is text: the title as written, no element or script from it.
    assert_eq!(
        browser.eval(&format!(
            "return {article}.querySelector('.issue-title').textContent"
        )),
        json!(HOSTILE)
    );
    assert_eq!(
        browser.eval("return document.querySelectorAll('img').length"),
        json!(0)
    );
    assert_eq!(
        browser.eval("return document.querySelector('#injected')"),
        Value::Null
    );
    assert_eq!(
        browser.eval("return typeof window.pwned"),
        json!("undefined")
    );
    assert_ne!(browser.eval("return document.title"), json!("pwned"));
    assert_eq!(
        browser.eval(&format!("return {article}.querySelector('pre.log').textContent.includes('<b id=injected>bold</b>')")),
        json!(true)
    );

    // The cancel button stops the run.
    browser.eval(&format!(
        "{article}.querySelector('button.cancel').click(); return true"
    ));
    wait_status(&addr, &id, "cancelled");
    assert!(!alive(sleeper), "the step's process group is gone");
    browser.wait_for(
        &format!("return !!document.querySelector('#recent-runs tr[data-run-id=\"{id}\"]') && document.querySelector('#recent-runs tr[data-run-id=\"{id}\"]').textContent.includes('cancelled')"),
        "the run cancelled in the recent runs",
    );
    drop(browser);
    stop(worker);
}
