//! The Ollama probe: before aider starts on an Ollama model, check that the server answers
//! and has the model pulled. Without it, a down server costs litellm's ~80 s of retries
//! (and aider still exits 0).

use std::time::Duration;

use serde::Deserialize;

/// Where Ollama listens when nothing says otherwise.
pub(crate) const DEFAULT_API_BASE: &str = "http://127.0.0.1:11434";

/// Why a model cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProbeError {
    #[error("Ollama endpoint {base} unreachable: {reason}")]
    Unreachable { base: String, reason: String },
    #[error("Ollama endpoint {base} answered {status} to /api/tags")]
    BadStatus { base: String, status: u16 },
    #[error("model `{model}` is not pulled at {base} (run `ollama pull {model}`){}", available_list(.available))]
    NotPulled {
        base: String,
        model: String,
        available: Vec<String>,
    },
}

fn available_list(available: &[String]) -> String {
    if available.is_empty() {
        "; it has no models".into()
    } else {
        format!("; it has {}", available.join(", "))
    }
}

#[derive(Deserialize)]
struct Tags {
    #[serde(default)]
    models: Vec<Tag>,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
}

/// Whether `model` (as litellm names it: `ollama_chat/NAME`, `ollama/NAME`) goes to Ollama.
pub(crate) fn is_ollama_model(model: &str) -> bool {
    model.starts_with("ollama/") || model.starts_with("ollama_chat/")
}

/// The model's name as Ollama knows it.
pub(crate) fn ollama_name(model: &str) -> &str {
    model.split_once('/').map_or(model, |(_, n)| n)
}

/// Checks that `base` answers and lists `model`.
pub(crate) async fn probe(base: &str, model: &str, timeout: Duration) -> Result<(), ProbeError> {
    let name = ollama_name(model);
    let url = format!("{}/api/tags", base.trim_end_matches('/'));
    let unreachable = |reason: String| ProbeError::Unreachable {
        base: base.to_owned(),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .no_proxy()
        .build()
        .map_err(|e| unreachable(e.to_string()))?;
    let resp = client
        .get(&url)
        .send()
        .await
        .map_err(|e| unreachable(describe(&e)))?;
    if !resp.status().is_success() {
        return Err(ProbeError::BadStatus {
            base: base.to_owned(),
            status: resp.status().as_u16(),
        });
    }
    let tags: Tags = resp
        .json()
        .await
        .map_err(|e| unreachable(format!("not an Ollama answer: {e}")))?;
    let names: Vec<String> = tags.models.into_iter().map(|t| t.name).collect();
    let found = names
        .iter()
        .any(|n| n == name || (!name.contains(':') && *n == format!("{name}:latest")));
    if found {
        Ok(())
    } else {
        Err(ProbeError::NotPulled {
            base: base.to_owned(),
            model: name.to_owned(),
            available: names,
        })
    }
}

fn client(timeout: Duration) -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .no_proxy()
        .build()
        .ok()
}

/// The context window a model was trained for (`/api/show`'s `*.context_length`), if the
/// server says.
pub(crate) async fn context_length(base: &str, model: &str, timeout: Duration) -> Option<u64> {
    let url = format!("{}/api/show", base.trim_end_matches('/'));
    let resp = client(timeout)?
        .post(&url)
        .json(&serde_json::json!({ "model": ollama_name(model) }))
        .send()
        .await
        .ok()?;
    let show: serde_json::Value = resp.json().await.ok()?;
    show["model_info"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.ends_with(".context_length"))
        .and_then(|(_, v)| v.as_u64())
}

/// The models loaded in memory now and their size in bytes (`/api/ps`).
pub(crate) async fn loaded(base: &str, timeout: Duration) -> Vec<(String, u64)> {
    let url = format!("{}/api/ps", base.trim_end_matches('/'));
    let Some(client) = client(timeout) else {
        return Vec::new();
    };
    let Ok(resp) = client.get(&url).send().await else {
        return Vec::new();
    };
    let ps: serde_json::Value = resp.json().await.unwrap_or_default();
    ps["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| Some((m["name"].as_str()?.to_owned(), m["size"].as_u64()?)))
        .collect()
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut msg = if e.is_timeout() {
        "no answer in time".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        e.to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_models_the_way_ollama_does() {
        assert!(is_ollama_model("ollama_chat/qwen2.5-coder:7b"));
        assert!(is_ollama_model("ollama/llama3"));
        assert!(!is_ollama_model("gemini/gemini-2.0-flash"));
        assert_eq!(
            ollama_name("ollama_chat/qwen2.5-coder:7b"),
            "qwen2.5-coder:7b"
        );
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_fails_fast() {
        // A port nobody listens on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let started = std::time::Instant::now();
        let err = probe(
            &format!("http://127.0.0.1:{port}"),
            "ollama_chat/m",
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ProbeError::Unreachable { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}
