//! A deterministic fake LLM server for driving the real `aider` CLI: it speaks Ollama's
//! `/api/tags`, `/api/show` and `/api/chat` (streaming NDJSON and not) and OpenAI's
//! `/v1/chat/completions` (streaming SSE and not), answers in aider's edit formats, and is
//! scripted per model name. Every chat request is recorded so that tests can assert what
//! the agent was told.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// What a model does when asked for an edit.
#[derive(Debug, Clone)]
pub(crate) enum Behaviour {
    /// Whole files, in aider's `whole` format: (path, full content).
    Whole(Vec<(String, String)>),
    /// SEARCH/REPLACE blocks, in aider's `diff` format: (path, search, replace).
    Diff(Vec<(String, String, String)>),
    /// Talks, edits nothing.
    Nothing,
    /// Answers every request with this HTTP status.
    Status(u16),
    /// Never answers.
    Hang,
    /// Waits this many seconds, then behaves as the inner behaviour.
    Delay(u64, Box<Behaviour>),
    /// The behaviour of the first needle the prompt contains (else the last entry's).
    ByPrompt(Vec<(String, Behaviour)>),
    /// As Ollama does: a prompt longer than the request's `options.num_ctx` (Ollama's
    /// default of 4096 when unset) loses its beginning; the inner behaviour sees only what
    /// is left. With `ByPrompt` inside, a model that writes the fix only when the code to
    /// change is in its prompt, and only when that prompt fits its window.
    Window(Box<Behaviour>),
}

/// A chat request the server received.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    /// `ollama` or `openai`.
    pub api: &'static str,
    pub model: String,
    /// Every message's content, joined.
    pub prompt: String,
    /// A request for a commit message rather than an edit.
    pub commit_message: bool,
    /// Its tokens (`cl100k_base`, as the runner counts them).
    pub tokens: u32,
    /// The window the request asked for (`options.num_ctx`).
    pub num_ctx: Option<u64>,
}

#[derive(Default)]
struct LlmState {
    scripts: HashMap<String, Behaviour>,
    chats: Vec<Recorded>,
    shows: usize,
}

type Shared = Arc<Mutex<LlmState>>;

pub(crate) struct FakeLlm {
    pub url: String,
    state: Shared,
}

impl FakeLlm {
    /// Starts a server where each `(model, behaviour)` is scripted; other models answer 404
    /// like a server that does not have them.
    pub(crate) fn start(scripts: &[(&str, Behaviour)]) -> FakeLlm {
        let state: Shared = Arc::new(Mutex::new(LlmState {
            scripts: scripts
                .iter()
                .map(|(m, b)| ((*m).to_owned(), b.clone()))
                .collect(),
            ..LlmState::default()
        }));
        let app = Router::new()
            .route("/api/tags", get(tags))
            .route("/api/show", post(show))
            .route("/api/chat", post(ollama_chat))
            .route("/v1/chat/completions", post(openai_chat))
            .with_state(state.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        FakeLlm { url, state }
    }

    /// The edit requests (not commit messages) made for `model`, in order.
    pub(crate) fn edits(&self, model: &str) -> Vec<Recorded> {
        self.state
            .lock()
            .unwrap()
            .chats
            .iter()
            .filter(|c| c.model == model && !c.commit_message)
            .cloned()
            .collect()
    }

    /// Every chat request.
    pub(crate) fn chats(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().chats.clone()
    }
}

/// The request's JSON (clients do not always say `Content-Type: application/json`; Ollama
/// does not ask them to).
fn parse(raw: &[u8]) -> Value {
    serde_json::from_slice(raw).unwrap_or(Value::Null)
}

fn model_of(body: &Value) -> String {
    body["model"].as_str().unwrap_or_default().to_owned()
}

/// The script of a model, by its name with or without `:latest`.
fn script(state: &Shared, model: &str) -> Option<Behaviour> {
    let s = state.lock().unwrap();
    s.scripts
        .get(model)
        .or_else(|| s.scripts.get(model.trim_end_matches(":latest")))
        .cloned()
}

async fn tags(State(state): State<Shared>) -> Response {
    let names: Vec<Value> = state
        .lock()
        .unwrap()
        .scripts
        .keys()
        .map(|m| {
            let name = if m.contains(':') {
                m.clone()
            } else {
                format!("{m}:latest")
            };
            json!({"name": name, "model": name, "size": 1, "digest": "0", "details": {"family": "llama"}})
        })
        .collect();
    axum::Json(json!({ "models": names })).into_response()
}

async fn show(State(state): State<Shared>, raw: axum::body::Bytes) -> Response {
    let body = parse(&raw);
    state.lock().unwrap().shows += 1;
    let model = body["model"]
        .as_str()
        .or(body["name"].as_str())
        .unwrap_or_default()
        .to_owned();
    if let Some(Behaviour::Status(code)) = script(&state, &model) {
        return error(code);
    }
    axum::Json(json!({
        "modelfile": "", "parameters": "num_ctx 8192", "template": "{{ .Prompt }}",
        "details": {"format": "gguf", "family": "llama", "parameter_size": "7B", "quantization_level": "Q4_K_M"},
        "model_info": {"general.architecture": "llama", "llama.context_length": 32768}
    }))
    .into_response()
}

fn error(code: u16) -> Response {
    (
        StatusCode::from_u16(code).unwrap(),
        axum::Json(json!({"error": format!("injected {code}")})),
    )
        .into_response()
}

/// What the model says, or the response to give instead.
async fn answer(state: &Shared, api: &'static str, body: &Value) -> Result<String, Response> {
    let model = model_of(body);
    let prompt: String = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| match &m["content"] {
            Value::String(s) => Some(s.clone()),
            Value::Array(parts) => Some(
                parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    let commit_message = prompt.to_lowercase().contains("commit message");
    let tokens = codingworker::context::tokens::count(&prompt);
    let num_ctx = body["options"]["num_ctx"].as_u64();
    let mut visible = prompt.clone();
    state.lock().unwrap().chats.push(Recorded {
        api,
        model: model.clone(),
        prompt,
        commit_message,
        tokens,
        num_ctx,
    });
    let Some(mut behaviour) = script(state, &model) else {
        return Err((
            StatusCode::NOT_FOUND,
            axum::Json(
                json!({"error": format!("model \"{model}\" not found, try pulling it first")}),
            ),
        )
            .into_response());
    };
    loop {
        match behaviour {
            Behaviour::Delay(secs, inner) => {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                behaviour = *inner;
            }
            Behaviour::Window(inner) => {
                let window = num_ctx.unwrap_or(4096) as usize;
                if tokens as usize > window {
                    // Keep about the last `window` tokens, by this prompt's own density.
                    let keep = visible.len() * window / tokens as usize;
                    let mut cut = visible.len() - keep;
                    while !visible.is_char_boundary(cut) {
                        cut += 1;
                    }
                    visible = visible[cut..].to_owned();
                }
                behaviour = *inner;
            }
            Behaviour::ByPrompt(choices) => {
                let prompt = visible.clone();
                let last = choices
                    .last()
                    .map(|(_, b)| b.clone())
                    .unwrap_or(Behaviour::Nothing);
                behaviour = choices
                    .into_iter()
                    .find(|(needle, _)| prompt.contains(needle.as_str()))
                    .map_or(last, |(_, b)| b);
            }
            _ => break,
        }
    }
    match behaviour {
        Behaviour::Delay(..) | Behaviour::ByPrompt(..) | Behaviour::Window(..) => {
            unreachable!("unwrapped above")
        }
        Behaviour::Status(code) => Err(error(code)),
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Err(error(504))
        }
        _ if commit_message => Ok("Apply the change the issue asks for".to_owned()),
        Behaviour::Nothing => Ok("I looked at the code and have no changes to suggest.".into()),
        Behaviour::Whole(files) => Ok(files
            .iter()
            .map(|(path, content)| format!("{path}\n```\n{content}```\n"))
            .collect::<Vec<_>>()
            .join("\n")),
        Behaviour::Diff(blocks) => Ok(blocks
            .iter()
            .map(|(path, search, replace)| {
                format!(
                    "{path}\n```\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n```\n"
                )
            })
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

/// The text in pieces, as a model streams it.
fn chunks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut piece = String::new();
    for c in text.chars() {
        piece.push(c);
        if piece.len() >= 40 && c == '\n' {
            out.push(std::mem::take(&mut piece));
        }
    }
    if !piece.is_empty() {
        out.push(piece);
    }
    out
}

async fn ollama_chat(State(state): State<Shared>, raw: axum::body::Bytes) -> Response {
    let body = parse(&raw);
    let text = match answer(&state, "ollama", &body).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let model = model_of(&body);
    let done = json!({
        "model": model, "created_at": "2026-11-21T00:00:00Z",
        "message": {"role": "assistant", "content": ""},
        "done": true, "done_reason": "stop", "total_duration": 1000, "load_duration": 1,
        "prompt_eval_count": 100, "prompt_eval_duration": 1, "eval_count": 50, "eval_duration": 1
    });
    // Ollama streams unless told not to.
    if body["stream"] == Value::Bool(false) {
        let mut one = done;
        one["message"]["content"] = Value::String(text);
        return axum::Json(one).into_response();
    }
    let mut lines = String::new();
    for piece in chunks(&text) {
        lines.push_str(
            &json!({"model": model, "created_at": "2026-11-21T00:00:00Z",
                    "message": {"role": "assistant", "content": piece}, "done": false})
            .to_string(),
        );
        lines.push('\n');
    }
    lines.push_str(&done.to_string());
    lines.push('\n');
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/x-ndjson".parse().unwrap());
    (headers, Body::from(lines)).into_response()
}

async fn openai_chat(State(state): State<Shared>, raw: axum::body::Bytes) -> Response {
    let body = parse(&raw);
    let text = match answer(&state, "openai", &body).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let model = model_of(&body);
    let usage = json!({"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150});
    if body["stream"] != Value::Bool(true) {
        return axum::Json(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": usage
        }))
        .into_response();
    }
    let mut events = String::new();
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000,
               "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    events.push_str(&format!(
        "data: {}\n\n",
        chunk(json!({"role": "assistant", "content": ""}), Value::Null)
    ));
    for piece in chunks(&text) {
        events.push_str(&format!(
            "data: {}\n\n",
            chunk(json!({"content": piece}), Value::Null)
        ));
    }
    let mut last = chunk(json!({}), json!("stop"));
    last["usage"] = usage;
    events.push_str(&format!("data: {last}\n\n"));
    events.push_str("data: [DONE]\n\n");
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "text/event-stream".parse().unwrap());
    (headers, Body::from(events)).into_response()
}
