//! A real SQS-compatible server for the worker tests: moto's server (PyPI `moto[server]`),
//! installed in `.venv/` by `scripts/setup-test-tools`. One server is shared by the test
//! binary; every test makes its own queues.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

pub(crate) struct Moto {
    pub endpoint: String,
}

/// The shared server, started on first use.
pub(crate) fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(start)
}

fn program() -> PathBuf {
    if let Ok(p) = std::env::var("CODINGWORKER_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let p = super::root().join(".venv/bin/moto_server");
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup-test-tools (scripts/test does it)",
        p.display()
    );
    p
}

fn start() -> Moto {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let program = program();
    // Spawned from a thread that lives as long as the test binary: the server gets SIGKILL
    // when that thread's process ends (a parent-death signal follows the spawning thread).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let log =
            std::fs::File::create(std::env::temp_dir().join(format!("moto-{port}.log"))).unwrap();
        let mut cmd = std::process::Command::new(program);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)
            });
        }
        let mut child = cmd.spawn().expect("moto_server starts");
        tx.send(child.id()).unwrap();
        // The thread stays until the server ends (with the test binary).
        let _ = child.wait();
    });
    rx.recv().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A queue and its dead-letter queue on the shared server.
pub(crate) struct TestQueue {
    pub url: String,
    pub dlq_url: String,
    client: Client,
}

impl Moto {
    fn client(&self) -> Client {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
            .build();
        Client::from_conf(config)
    }

    /// A fresh queue with a dead-letter queue after `max_receive_count` receives.
    pub(crate) fn queue(&self, max_receive_count: u32) -> TestQueue {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("tasks-{}-{n}", std::process::id());
        let client = self.client();
        runtime().block_on(async {
            let dlq_url = client
                .create_queue()
                .queue_name(format!("{name}-dlq"))
                .send()
                .await
                .unwrap()
                .queue_url()
                .unwrap()
                .to_owned();
            let arn = client
                .get_queue_attributes()
                .queue_url(&dlq_url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await
                .unwrap()
                .attributes()
                .unwrap()[&QueueAttributeName::QueueArn]
                .clone();
            let policy = serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": max_receive_count.to_string()});
            let url = client
                .create_queue()
                .queue_name(&name)
                .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
                .send()
                .await
                .unwrap()
                .queue_url()
                .unwrap()
                .to_owned();
            TestQueue {
                url,
                dlq_url,
                client: client.clone(),
            }
        })
    }
}

/// A message a test received.
#[derive(Debug, Clone)]
pub(crate) struct Got {
    pub body: String,
    pub receive_count: u32,
    pub receipt: String,
}

impl TestQueue {
    pub(crate) fn send(&self, body: &str) {
        runtime().block_on(async {
            self.client
                .send_message()
                .queue_url(&self.url)
                .message_body(body)
                .send()
                .await
                .unwrap();
        });
    }

    fn receive_from(&self, url: &str, wait: Duration) -> Vec<Got> {
        runtime().block_on(async {
            let out = self
                .client
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(wait.as_secs() as i32)
                .visibility_timeout(0)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await
                .unwrap();
            out.messages()
                .iter()
                .map(|m| Got {
                    body: m.body().unwrap_or_default().to_owned(),
                    receive_count: m
                        .attributes()
                        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(0),
                    receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                })
                .collect()
        })
    }

    /// Messages visible in the queue now (received with visibility 0: they stay visible,
    /// though each look counts as a receive).
    pub(crate) fn peek(&self, wait: Duration) -> Vec<Got> {
        self.receive_from(&self.url, wait)
    }

    /// Messages in the dead-letter queue.
    pub(crate) fn dead_letters(&self) -> Vec<Got> {
        self.receive_from(&self.dlq_url, Duration::ZERO)
    }

    /// Approximate counts: (visible, in flight) of the queue.
    pub(crate) fn depth(&self) -> (u64, u64) {
        runtime().block_on(async {
            let out = self
                .client
                .get_queue_attributes()
                .queue_url(&self.url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
                .unwrap();
            let a = out.attributes().unwrap();
            let n = |k: QueueAttributeName| a.get(&k).and_then(|v| v.parse().ok()).unwrap_or(0);
            (
                n(QueueAttributeName::ApproximateNumberOfMessages),
                n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            )
        })
    }
}
