//! The worker's status page (`codingworker worker --status-addr`): a small web page and the
//! JSON API under `/api/` it reads. The task in progress with its live log (server-sent
//! events), the queue's and dead-letter queue's depth, recent runs with their attempts,
//! per-model metrics, and a cancel button.
//!
//! Safety: it listens on loopback unless a token is set; without a token it answers only
//! requests whose `Host` is a loopback name (a web page cannot rebind a DNS name to us);
//! with one, every request must carry it. Writes need a header a form cannot send and an
//! `Origin`, if any, of the page itself, so another site cannot make the browser cancel a
//! run. The page renders all text with `textContent` under a strict Content-Security-Policy:
//! issue titles and logs are hostile. Everything comes from the history, which is masked.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::adapters::sqs::Queue;
use crate::history::{Cancels, Filter, Lookup, RunDetail, Store, model_stats};

/// How long the queue's depth is reused before SQS is asked again: a page left open costs
/// at most 6 requests a minute (3 per refresh), not one per poll.
const QUEUE_REFRESH: Duration = Duration::from_secs(30);

/// How often a live log is read for new output.
const TAIL_EVERY: Duration = Duration::from_millis(300);

/// At most this much of a log already written is sent when a page connects.
const TAIL_START: u64 = 16 * 1024;

/// The header a write must carry (a cross-site form cannot set it; a cross-site script
/// would need a CORS preflight, which is never granted).
pub(crate) const WRITE_HEADER: &str = "x-codingworker";

/// What the page shows about the worker itself.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct WorkerInfo {
    pub version: &'static str,
    pub pid: u32,
    pub started_at: String,
    pub queue_url: String,
    pub concurrency: usize,
}

/// What the status server reads and acts on.
pub(crate) struct Sources {
    pub history: Arc<Store>,
    pub cancels: Arc<Cancels>,
    pub queue: Queue,
    pub worker: WorkerInfo,
    /// Required on every request when set.
    pub token: Option<String>,
}

struct AppState {
    src: Sources,
    queue_cache: Mutex<Option<(Instant, QueueView)>>,
}

/// The queue as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct QueueView {
    pub visible: Option<u64>,
    pub in_flight: Option<u64>,
    /// `None` when the queue has no dead-letter queue.
    pub dead_letters: Option<u64>,
    pub checked_at: String,
    pub error: Option<String>,
}

/// Whether the address may serve the page without a token.
pub(crate) fn check_addr(addr: &SocketAddr, token: Option<&str>) -> Result<(), String> {
    if token.is_some_and(|t| t.len() < 16) {
        return Err("the status token must be at least 16 characters".into());
    }
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(format!(
            "refusing to serve the status page on {addr} without a token: anyone who can reach it could cancel runs and read logs. Use 127.0.0.1 (and an SSH tunnel), or set CODINGWORKER_STATUS_TOKEN (or --status-token) to a long random value"
        ));
    }
    Ok(())
}

/// Binds the address, or says why not.
pub(crate) async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot serve the status page on {addr}: {e}"))
}

/// Serves the page until the process ends.
pub(crate) async fn serve(listener: tokio::net::TcpListener, src: Sources) {
    let state = Arc::new(AppState {
        src,
        queue_cache: Mutex::new(None),
    });
    let app = router(state);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "the status page stopped");
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(script))
        .route("/app.css", get(style))
        .route("/api/status", get(status))
        .route("/api/runs", get(runs))
        .route("/api/runs/{id}", get(run_detail))
        .route("/api/runs/{id}/events", get(events))
        .route("/api/runs/{id}/cancel", post(cancel))
        .route("/api/stats", get(stats))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Host and token checks for every request, origin checks for writes, and the headers
/// every answer carries.
async fn guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    // The page and its script and style hold no data: a browser loads them without the
    // token, which the script then sends with every API call.
    let asset = matches!(req.uri().path(), "/" | "/app.js" | "/app.css");
    match &state.src.token {
        Some(token) => {
            if !asset && !has_token(headers, req.uri(), token) {
                return refuse(StatusCode::UNAUTHORIZED, "a token is required");
            }
        }
        None => {
            if !loopback_host(headers) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    "the status page answers only to localhost, 127.0.0.1 or [::1]",
                );
            }
        }
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        if let Err(why) = same_origin_write(headers) {
            return refuse(StatusCode::FORBIDDEN, why);
        }
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (status, Json(serde_json::json!({ "error": why }))).into_response()
}

/// `Authorization: Bearer TOKEN`, or `?token=TOKEN` (what an EventSource can send).
fn has_token(headers: &HeaderMap, uri: &axum::http::Uri, token: &str) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let in_query = Query::<std::collections::HashMap<String, String>>::try_from_uri(uri)
        .ok()
        .and_then(|Query(q)| q.get("token").cloned());
    bearer.is_some_and(|b| same(b, token)) || in_query.is_some_and(|q| same(&q, token))
}

/// Compares in time that does not depend on where they differ (`subtle`'s constant-time
/// equality; only the length can be told apart).
fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((n, port)) if port.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => host,
    };
    matches!(name, "localhost" | "[::1]")
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn same_origin_write(headers: &HeaderMap) -> Result<(), &'static str> {
    if headers.get(WRITE_HEADER).is_none() {
        return Err("a write needs the X-Codingworker header");
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err("cross-site writes are refused");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let origin = origin.to_str().unwrap_or("");
        if origin != format!("http://{host}") && origin != format!("https://{host}") {
            return Err("cross-origin writes are refused");
        }
    }
    Ok(())
}

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("assets/index.html"),
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/app.js"),
    )
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/app.css"),
    )
}

/// Runs a history read off the async threads; an error becomes a 500 with its text.
async fn read<T: Send + 'static>(
    state: &Arc<AppState>,
    f: impl FnOnce(&Store) -> Result<T, crate::history::HistoryError> + Send + 'static,
) -> Result<T, Response> {
    let store = state.src.history.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?
        .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
}

#[derive(Serialize)]
struct StatusView {
    worker: WorkerInfo,
    queue: QueueView,
    running: Vec<RunDetail>,
}

async fn status(State(state): State<Arc<AppState>>) -> Result<Json<StatusView>, Response> {
    let queue = queue_view(&state).await;
    // The runs of this worker in progress (another process's are not ours to show live).
    let ids = state.src.cancels.ids();
    let running = read(&state, move |s| {
        let mut out = Vec::new();
        for id in ids {
            if let Lookup::Found(r) = s.find(&id)? {
                out.push(s.detail(*r)?);
            }
        }
        out.sort_by(|a, b| a.run.started_at.cmp(&b.run.started_at));
        Ok(out)
    })
    .await?;
    Ok(Json(StatusView {
        worker: state.src.worker.clone(),
        queue,
        running,
    }))
}

async fn queue_view(state: &Arc<AppState>) -> QueueView {
    if let Some((at, view)) = state.queue_cache.lock().expect("cache").clone()
        && at.elapsed() < QUEUE_REFRESH
    {
        return view;
    }
    let q = &state.src.queue;
    let view = match q.info().await {
        Ok(info) => {
            let (dead, error) = match &info.dead_letter_arn {
                Some(arn) => match q.depth_of(arn).await {
                    Ok(n) => (Some(n), None),
                    Err(e) => (None, Some(e.to_string())),
                },
                None => (None, None),
            };
            QueueView {
                visible: Some(info.visible),
                in_flight: Some(info.in_flight),
                dead_letters: dead,
                checked_at: jiff::Timestamp::now().to_string(),
                error,
            }
        }
        Err(e) => QueueView {
            visible: None,
            in_flight: None,
            dead_letters: None,
            checked_at: jiff::Timestamp::now().to_string(),
            error: Some(e.to_string()),
        },
    };
    *state.queue_cache.lock().expect("cache") = Some((Instant::now(), view.clone()));
    view
}

#[derive(Deserialize)]
struct RunsQuery {
    limit: Option<usize>,
    repo: Option<String>,
    status: Option<String>,
}

async fn runs(
    State(state): State<Arc<AppState>>,
    Query(q): Query<RunsQuery>,
) -> Result<Json<Vec<RunDetail>>, Response> {
    let filter = Filter {
        repo: q.repo,
        status: q.status,
        limit: Some(q.limit.unwrap_or(20).min(200)),
        ..Filter::default()
    };
    Ok(Json(read(&state, move |s| s.details(&filter)).await?))
}

async fn find(state: &Arc<AppState>, id: String) -> Result<RunDetail, Response> {
    let shown = id.clone();
    read(state, move |s| match s.find(&id)? {
        Lookup::Found(r) => s.detail(*r).map(Some),
        _ => Ok(None),
    })
    .await?
    .ok_or_else(|| refuse(StatusCode::NOT_FOUND, &format!("no run {shown}")))
}

async fn run_detail(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RunDetail>, Response> {
    Ok(Json(find(&state, id).await?))
}

async fn stats(
    State(state): State<Arc<AppState>>,
) -> Result<Json<Vec<crate::history::ModelStats>>, Response> {
    Ok(Json(
        read(&state, |s| model_stats(s, &Filter::default())).await?,
    ))
}

async fn cancel(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let run = find(&state, id).await?.run;
    if !run.is_running() {
        return Err(refuse(
            StatusCode::CONFLICT,
            &format!("run {} is not running: it ended ({})", run.id, run.status),
        ));
    }
    match state.src.cancels.cancel(&run.id) {
        crate::history::CancelOutcome::Stopping => Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "status": "stopping" })),
        )
            .into_response()),
        crate::history::CancelOutcome::NotHere => {
            // Another process's run (a local `codingworker run`): ask through the history.
            let rid = run.id.clone();
            read(&state, move |s| s.request_cancel(&rid)).await?;
            Ok((
                StatusCode::ACCEPTED,
                Json(serde_json::json!({ "status": "requested" })),
            )
                .into_response())
        }
    }
}

#[derive(Serialize)]
struct LogChunk<'a> {
    seq: u64,
    step: &'a str,
    text: String,
}

/// Server-sent events of one run: `log` chunks as its steps write them, `run` when its
/// steps change, `end` when it is over.
async fn events(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, Response> {
    let first = find(&state, id).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(64);
    tokio::spawn(tail(state.clone(), first, tx));
    let stream =
        futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
        );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn tail(state: Arc<AppState>, mut run: RunDetail, tx: tokio::sync::mpsc::Sender<Event>) {
    let mut offsets: std::collections::HashMap<String, u64> = Default::default();
    let mut last_shape = String::new();
    loop {
        let shape = format!(
            "{}:{}",
            run.run.status,
            run.steps
                .iter()
                .map(|s| format!("{}{}", s.seq, s.status))
                .collect::<String>()
        );
        if shape != last_shape {
            last_shape = shape;
            let data = serde_json::to_string(&run).unwrap_or_default();
            if tx
                .send(Event::default().event("run").data(data))
                .await
                .is_err()
            {
                return;
            }
        }
        for step in &run.steps {
            let Some(log) = &step.log else { continue };
            let path = run.run.run_dir.join(log);
            let first = !offsets.contains_key(log);
            let at = offsets.entry(log.clone()).or_insert(0);
            if first && let Ok(meta) = std::fs::metadata(&path) {
                *at = meta.len().saturating_sub(TAIL_START);
            }
            let Some(text) = crate::history::read_appended(&path, at) else {
                continue;
            };
            if text.is_empty() {
                continue;
            }
            let chunk = LogChunk {
                seq: step.seq,
                step: &step.id,
                text,
            };
            let data = serde_json::to_string(&chunk).unwrap_or_default();
            if tx
                .send(Event::default().event("log").data(data))
                .await
                .is_err()
            {
                return;
            }
        }
        if !run.run.is_running() {
            let _ = tx.send(Event::default().event("end").data("{}")).await;
            return;
        }
        tokio::time::sleep(TAIL_EVERY).await;
        match find(&state, run.run.id.clone()).await {
            Ok(r) => run = r,
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_tokens_are_decoded_and_compared_whole() {
        let none = HeaderMap::new();
        let uri = |q: &str| {
            format!("/api/status?{q}")
                .parse::<axum::http::Uri>()
                .unwrap()
        };
        assert!(has_token(&none, &uri("token=a%2Fb%3D%3d+c"), "a/b== c"));
        assert!(has_token(&none, &uri("x=1&token=100%25"), "100%"));
        assert!(!has_token(&none, &uri("token=a%2Fb"), "a%2Fb"));
        assert!(!has_token(&none, &uri("tokens=abc"), "abc"));
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
    }

    #[test]
    fn only_loopback_names_count_as_local() {
        let host = |h: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::HOST, HeaderValue::from_str(h).unwrap());
            loopback_host(&m)
        };
        assert!(host("127.0.0.1:8787"));
        assert!(host("localhost:8787"));
        assert!(host("[::1]:8787"));
        assert!(host("127.1.2.3"));
        assert!(!host("localhost.evil.example:8787"));
        assert!(!host("192.168.1.5:8787"));
        assert!(!host("evil.example"));
    }

    #[test]
    fn a_public_address_needs_a_long_token() {
        let public: SocketAddr = "0.0.0.0:8787".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8787".parse().unwrap();
        assert!(check_addr(&local, None).is_ok());
        assert!(check_addr(&public, None).is_err());
        assert!(check_addr(&public, Some("short")).is_err());
        assert!(check_addr(&public, Some("a-long-enough-token-123")).is_ok());
    }
}
