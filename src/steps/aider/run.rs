//! Running a `aider` step.

use super::spec::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::adapters::ollama;
use crate::paths::check_relative;
use crate::playbook::types::Template;
use crate::steps::call::{Services, StepCall, run_process};
use crate::steps::kind::PlanOut;
use crate::steps::kind::{Kind, Running};
use crate::steps::result::{StepResult, StepStatus};

/// The flags that keep aider non-interactive, offline and out of the repository
/// (measured against aider 0.86: docs/design.md).
pub const HEADLESS_FLAGS: [&str; 14] = [
    "--yes-always",
    "--no-check-update",
    "--no-analytics",
    "--no-show-model-warnings",
    "--no-gitignore",
    "--no-show-release-notes",
    "--no-fancy-input",
    "--no-pretty",
    "--no-detect-urls",
    "--no-suggest-shell-commands",
    "--chat-history-file",
    "/dev/null",
    "--input-history-file",
    "/dev/null",
];

/// The window assumed for models that are not local (Ollama or `openai/`) when the step
/// sets no `num_ctx`: cloud models hold far more than a local one.
pub const CLOUD_WINDOW: u32 = 131_072;

/// How the model is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Ollama,
    OpenAi,
    Other,
}

/// An aider run, fully worked out: what `run` executes and what a dry run prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub model: String,
    pub route: Route,
    pub program: String,
    pub args: Vec<String>,
    /// Variables added to the step's environment.
    pub env: BTreeMap<String, String>,
    pub message: String,
    pub message_file: PathBuf,
    /// `--model-metadata-file` and its content.
    pub metadata: Option<(PathBuf, String)>,
    /// `--model-settings-file` and its content (Ollama's context window).
    pub settings: Option<(PathBuf, String)>,
    /// The Ollama endpoint to probe first.
    pub probe: Option<String>,
    /// Things worth telling the user (a glob that matched nothing).
    pub notes: Vec<String>,
    /// What the model is shown, and why (files, budget).
    pub context: crate::context::Selection,
    /// Excerpts handed read-only: where they are written, and their text.
    pub excerpts: Vec<(PathBuf, String)>,
}

/// What `prepare` needs to know about where it runs.
pub struct Where<'a> {
    pub checkout: &'a Path,
    pub cwd: &'a Path,
    pub files_dir: &'a Path,
    pub stem: &'a str,
    /// The step's environment so far (playbook, attempt and step env included).
    pub env: &'a BTreeMap<String, String>,
    pub parent_env: &'a BTreeMap<String, String>,
    pub program: &'a str,
}

impl Invocation {
    /// Writes the files aider reads (the prompt, masked; model metadata and settings) and,
    /// for an Ollama model, probes its endpoint: what must hold before aider starts.
    pub async fn make_ready(
        &self,
        masker: &crate::mask::Masker,
        probe_timeout: std::time::Duration,
    ) -> Result<(), String> {
        let mut writes = vec![(self.message_file.clone(), masker.mask(&self.message))];
        writes.extend(
            self.excerpts
                .iter()
                .map(|(path, text)| (path.clone(), masker.mask(text))),
        );
        writes.extend(self.metadata.clone());
        writes.extend(self.settings.clone());
        for (path, text) in writes {
            std::fs::write(&path, text)
                .map_err(|e| format!("failed to write {}: {e}", path.display()))?;
        }
        if let Some(base) = &self.probe {
            ollama::probe(base, &self.model, probe_timeout)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// The Ollama endpoint a step with `model` talks to (`None`: not an Ollama model): its
/// `api_base`, else `OLLAMA_API_BASE` of its environment or the worker's, else Ollama's
/// default.
pub(crate) fn ollama_endpoint(
    model: &str,
    api_base: Option<String>,
    env: &BTreeMap<String, String>,
    parent_env: &BTreeMap<String, String>,
) -> Option<String> {
    ollama::is_ollama_model(model).then(|| {
        api_base
            .or_else(|| env.get("OLLAMA_API_BASE").cloned())
            .or_else(|| parent_env.get("OLLAMA_API_BASE").cloned())
            .unwrap_or_else(|| ollama::DEFAULT_API_BASE.to_owned())
    })
}

/// Works out the invocation; `render(t)` renders a template of the spec.
pub fn prepare(
    spec: &AiderSpec,
    render: &dyn Fn(&Template) -> Result<String, String>,
    at: &Where<'_>,
) -> Result<Invocation, String> {
    let model = render(&spec.model)?.trim().to_owned();
    if model.is_empty() {
        return Err("`aider.model` rendered to an empty string".into());
    }
    let message = render(&spec.message)?;
    let mut notes = Vec::new();
    let mut files = Vec::new();
    for t in spec.files.iter().filter(|t| !is_auto(t)) {
        let pattern = render(t)?;
        files.extend(resolve_paths(
            "files",
            &pattern,
            at.checkout,
            at.cwd,
            &mut notes,
        )?);
    }
    let mut reads = Vec::new();
    for t in &spec.read {
        let pattern = render(t)?;
        reads.extend(resolve_paths(
            "read",
            &pattern,
            at.checkout,
            at.cwd,
            &mut notes,
        )?);
    }
    let edit_format = spec
        .edit_format
        .as_ref()
        .map(render)
        .transpose()?
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty());
    let api_base = spec.api_base.as_ref().map(render).transpose()?;
    let mut extra = Vec::new();
    for t in &spec.args {
        extra.push(render(t)?);
    }

    let route = if ollama::is_ollama_model(&model) {
        Route::Ollama
    } else if model.starts_with("openai/") {
        Route::OpenAi
    } else {
        Route::Other
    };
    let mut env = BTreeMap::from([("LITELLM_LOCAL_MODEL_COST_MAP".to_owned(), "True".to_owned())]);
    let inherited = |name: &str| {
        at.env
            .get(name)
            .or_else(|| at.parent_env.get(name))
            .cloned()
    };
    let probe = ollama_endpoint(&model, api_base.clone(), at.env, at.parent_env);
    match route {
        Route::Ollama => {
            if let Some(base) = &probe {
                env.insert("OLLAMA_API_BASE".into(), base.clone());
            }
        }
        Route::OpenAi => {
            if let Some(base) = api_base.or_else(|| inherited("OPENAI_API_BASE")) {
                env.insert("OPENAI_API_BASE".into(), base);
                if !at.env.contains_key("OPENAI_API_KEY") {
                    // Local OpenAI-compatible servers ignore the key, but litellm wants one.
                    env.insert("OPENAI_API_KEY".into(), "codingworker-local".into());
                }
            }
        }
        Route::Other => {}
    }

    let message_file = at.files_dir.join(format!("{}.md", at.stem));
    let num_ctx = match &spec.num_ctx {
        Some(n) => n.resolve("num_ctx", render)?,
        None => match route {
            Route::Ollama | Route::OpenAi => DEFAULT_NUM_CTX,
            Route::Other => CLOUD_WINDOW,
        },
    };
    let wanted = spec.context.clone().unwrap_or_default();
    // `./src//a.py` and `src/a.py` are one file to the selection.
    let unprefixed = |p: &String| {
        p.split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect::<Vec<_>>()
            .join("/")
    };
    let options = crate::context::Options {
        window: num_ctx,
        edit_format: edit_format.clone(),
        auto: spec.files.iter().any(is_auto),
        listed: files.iter().map(unprefixed).collect(),
        read: reads.iter().map(unprefixed).collect(),
        max_files: wanted
            .max_files
            .map_or(crate::context::DEFAULT_MAX_FILES, |n| n as usize),
        budget: wanted.budget,
        map_tokens: wanted.map_tokens,
    };
    let context = crate::context::select(at.cwd, &message, &options)?;
    let message = context.message.clone();
    let excerpts: Vec<(PathBuf, String)> = context
        .excerpts
        .iter()
        .enumerate()
        .map(|(i, x)| {
            (
                at.files_dir
                    .join(format!("{}.excerpt-{}.txt", at.stem, i + 1)),
                x.text.clone(),
            )
        })
        .collect();
    let metadata = match route {
        Route::Ollama | Route::OpenAi => {
            let provider = if route == Route::Ollama {
                model.split('/').next().unwrap_or("ollama")
            } else {
                "openai"
            };
            let json = serde_json::json!({ model.clone(): {
                "max_input_tokens": num_ctx, "max_output_tokens": num_ctx, "max_tokens": num_ctx,
                "input_cost_per_token": 0, "output_cost_per_token": 0,
                "litellm_provider": provider, "mode": "chat",
            }});
            Some((
                at.files_dir
                    .join(format!("{}.model-metadata.json", at.stem)),
                format!("{json:#}\n"),
            ))
        }
        Route::Other => None,
    };
    let settings = (route == Route::Ollama).then(|| {
        let text = format!(
            "- name: {}\n  extra_params:\n    num_ctx: {num_ctx}\n",
            serde_json::to_string(&model).unwrap_or_default()
        );
        (
            at.files_dir.join(format!("{}.model-settings.yml", at.stem)),
            text,
        )
    });

    let mut args = vec![
        "--model".to_owned(),
        model.clone(),
        "--message-file".into(),
        message_file.display().to_string(),
    ];
    args.extend(HEADLESS_FLAGS.iter().map(|s| (*s).to_owned()));
    if let Some((path, _)) = &metadata {
        args.extend(["--model-metadata-file".into(), path.display().to_string()]);
    }
    if let Some((path, _)) = &settings {
        args.extend(["--model-settings-file".into(), path.display().to_string()]);
    }
    // The format the budget was worked out for. aider chooses its own per model when none
    // is given, which for a local model is `whole`; for a model it knows (most cloud ones)
    // it may be another, whose prompts are larger: so for local models, with their small
    // windows, the format is always named.
    if context.pass_edit_format || matches!(route, Route::Ollama | Route::OpenAi) {
        args.extend(["--edit-format".into(), context.edit_format.clone()]);
    }
    args.extend(["--map-tokens".into(), context.map_tokens.to_string()]);
    if context.map_tokens > 0 {
        // aider multiplies the map eightfold when no file is in the chat, or when the map
        // of the chosen files comes out empty: never past the window.
        args.extend(["--map-multiplier-no-files".into(), "1".into()]);
    }
    for r in &context.read {
        args.extend(["--read".into(), argv_path(&r.path)]);
    }
    for (path, _) in &excerpts {
        args.extend(["--read".into(), path.display().to_string()]);
    }
    args.extend(extra);
    args.extend(context.edit.iter().map(|e| argv_path(&e.path)));
    Ok(Invocation {
        model,
        route,
        program: at.program.to_owned(),
        args,
        env,
        message,
        message_file,
        metadata,
        settings,
        probe,
        notes,
        context,
        excerpts,
    })
}

/// Resolves a path or glob of `files`/`read` to paths relative to `cwd`, refusing any that
/// lead outside the checkout (`..`, absolute paths, symlinks, dangling ones included). A
/// plain path that does not exist yet is kept: aider may create it.
pub fn resolve_paths(
    field: &str,
    pattern: &str,
    checkout: &Path,
    cwd: &Path,
    notes: &mut Vec<String>,
) -> Result<Vec<String>, String> {
    let pattern = pattern.trim();
    check_relative(pattern).map_err(|why| format!("`{field}` entry `{pattern}` {why}"))?;
    let inside = |rel: &str| -> Result<(), String> {
        crate::paths::inside(checkout, cwd, rel)
            .map(drop)
            .map_err(|why| format!("`{field}` entry `{rel}` {why}"))
    };
    if !pattern.contains(['*', '?', '[', '{']) {
        inside(pattern)?;
        return Ok(vec![argv_path(pattern)]);
    }
    let glob = globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("`{field}` entry `{pattern}` is not a valid glob: {e}"))?
        .compile_matcher();
    let mut found = Vec::new();
    for entry in ignore::WalkBuilder::new(cwd)
        .hidden(false)
        .require_git(false)
        .filter_entry(|e| e.file_name() != ".git")
        .build()
        .flatten()
    {
        let is_file_like = entry
            .file_type()
            .is_some_and(|t| t.is_file() || t.is_symlink());
        let Ok(rel) = entry.path().strip_prefix(cwd) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        if is_file_like && glob.is_match(&rel) {
            inside(&rel)?;
            found.push(rel);
        }
    }
    found.sort();
    if found.is_empty() {
        notes.push(format!("`{field}` pattern `{pattern}` matched no file"));
    }
    Ok(found.into_iter().map(|p| argv_path(&p)).collect())
}

/// A path aider cannot mistake for an option.
fn argv_path(p: &str) -> String {
    if p.starts_with('-') {
        format!("./{p}")
    } else {
        p.to_owned()
    }
}

impl Kind for AiderSpec {
    fn run<'a>(&'a self, s: &'a Services, call: &'a StepCall<'a>) -> Running<'a> {
        Box::pin(run_aider(s, call, self))
    }

    fn plan(&self, s: &Services, call: &StepCall<'_>, out: &mut PlanOut) {
        let inv = match invocation(self, s, call) {
            Ok(inv) => inv,
            Err(e) => return out.problem(&e),
        };
        if let Some(base) = &inv.probe {
            out.say(&format!(
                "probe: GET {base}/api/tags must list {}",
                ollama::ollama_name(&inv.model)
            ));
        }
        let mut env = vec![crate::steps::kind::words(&inv.env)];
        env.push(out.env_line.clone());
        env.retain(|w| !w.is_empty());
        out.say(&format!("env: {}", env.join(" ")));
        let argv: Vec<String> = std::iter::once(inv.program.clone())
            .chain(inv.args.iter().cloned())
            .map(|a| crate::template::shell_quote(&a))
            .collect();
        out.say(&format!("$ {}", argv.join(" ")));
        for note in &inv.notes {
            out.say(&format!(
                "note: {note} (in {} now)",
                s.run.checkout.display()
            ));
        }
        for line in inv.context.lines() {
            out.say(&line);
        }
        out.block(
            &format!("message ({})", inv.message_file.display()),
            inv.message.trim_end(),
        );
    }

    fn logs(&self) -> bool {
        true
    }
}

/// The step's invocation, in the run's places.
fn invocation(spec: &AiderSpec, s: &Services, call: &StepCall<'_>) -> Result<Invocation, String> {
    let files_dir = s.run.run_dir.join("prompts");
    let at = Where {
        checkout: &s.run.checkout,
        cwd: &call.cwd,
        files_dir: &files_dir,
        stem: &call.stem,
        env: &call.env,
        parent_env: &s.run.parent_env,
        program: &s.run.options.aider_program,
    };
    prepare(spec, &|field| call.render(s, field), &at)
}

async fn run_aider(s: &Services, call: &StepCall<'_>, spec: &AiderSpec) -> StepResult {
    // Globs walk the checkout: a large one takes a while.
    let inv = match crate::steps::call::blocking(|| invocation(spec, s, call)) {
        Ok(inv) => inv,
        Err(e) => return StepResult::failed(e),
    };
    let failed = |e: String| StepResult {
        model: Some(inv.model.clone()),
        ..StepResult::failed(e)
    };
    for note in &inv.notes {
        tracing::warn!(step = %call.step.id, "{note}");
    }
    if let Err(e) = inv.make_ready(&s.masker, s.run.options.probe_timeout).await {
        return failed(e);
    }
    let before = s.workspace.off_thread(|w| w.content_tree().ok()).await;
    let mut env = call.env.clone();
    env.extend(inv.env.clone());
    let header = format!("$ {} {}", inv.program, inv.args.join(" "));
    let watch = model_retry_watch(MAX_MODEL_RETRIES);
    let mut result = run_process(
        s,
        call,
        &inv.program,
        inv.args.clone(),
        env,
        &header,
        Some(watch),
    )
    .await;
    result.model = Some(inv.model.clone());
    result.context = Some(Box::new(inv.context.masked(|t| s.masker.mask(t))));
    // Judged by content: empty files created for named files, or changes that were there
    // before and that aider merely committed, are not work.
    result.changed = match before {
        Some(b) => {
            s.workspace
                .off_thread(move |w| w.content_changed(b).unwrap_or(true))
                .await
        }
        None => true,
    };
    if result.status == StepStatus::Success && spec.require_changes && !result.changed {
        result.status = StepStatus::Failure;
        let hint = model_error_hint(&result.captured.output)
            .map(|h| format!(": {h}"))
            .unwrap_or_default();
        result.message = Some(format!(
            "aider made no changes (no commit, no modified file){hint}"
        ));
    }
    result
}

/// How many times litellm may retry a failing model call before the attempt is stopped.
/// Its backoff doubles from 0.2 s: five retries wait about 8 s in all, where letting it go
/// on would take about 80 s (and then aider exits 0 having done nothing).
pub const MAX_MODEL_RETRIES: usize = 5;

/// A watch on aider's output that stops it once litellm has retried a failing model call
/// `max` times, with the error it kept getting as the reason.
pub fn model_retry_watch(max: usize) -> crate::process::Watch {
    let retries = std::sync::atomic::AtomicUsize::new(0);
    let last_error = std::sync::Mutex::new(String::new());
    crate::process::Watch::new(move |line| {
        if model_error_hint(line).is_some() {
            *last_error.lock().expect("last error") = line.trim().chars().take(300).collect();
        }
        if !line.trim_start().starts_with("Retrying in") {
            return None;
        }
        let n = retries.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        (n >= max).then(|| {
            let error = last_error.lock().expect("last error").clone();
            format!(
                "the model endpoint kept failing ({n} retries), stopped instead of retrying for a minute more: {}",
                if error.is_empty() { "no error line" } else { &error }
            )
        })
    })
}

/// The first line of aider's output that reports a model or API error, if any: aider
/// exits 0 even then.
fn model_error_hint(output: &str) -> Option<String> {
    output
        .lines()
        .map(str::trim)
        .find(|l| {
            (l.contains("litellm.")
                || l.contains("APIError")
                || l.contains("APIConnectionError")
                || l.contains("BadRequestError"))
                && l.len() > 10
        })
        .map(|l| l.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_stay_inside_and_skip_ignored_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/pkg")).unwrap();
        std::fs::create_dir_all(root.join("venv")).unwrap();
        for f in [
            "src/a.py",
            "src/pkg/b.py",
            "src/c.txt",
            "venv/x.py",
            "-odd.py",
        ] {
            std::fs::write(root.join(f), "").unwrap();
        }
        std::fs::write(root.join(".gitignore"), "venv/\n").unwrap();
        std::process::Command::new("git")
            .arg("init")
            .arg("-q")
            .arg(root)
            .status()
            .unwrap();
        let mut notes = Vec::new();
        let got = resolve_paths("files", "src/**/*.py", root, root, &mut notes).unwrap();
        assert_eq!(got, ["src/a.py", "src/pkg/b.py"]);
        let got = resolve_paths("files", "*.py", root, root, &mut notes).unwrap();
        assert_eq!(got, ["./-odd.py"]);
        let got = resolve_paths("files", "new_file.py", root, root, &mut notes).unwrap();
        assert_eq!(got, ["new_file.py"]);
        assert!(resolve_paths("files", "../x.py", root, root, &mut notes).is_err());
        assert!(resolve_paths("files", "/etc/passwd", root, root, &mut notes).is_err());
        resolve_paths("files", "nothing/**/*.rs", root, root, &mut notes).unwrap();
        assert_eq!(notes, ["`files` pattern `nothing/**/*.rs` matched no file"]);
    }

    #[test]
    fn a_symlink_out_of_the_checkout_is_refused() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        let mut notes = Vec::new();
        let err = resolve_paths("files", "link", dir.path(), dir.path(), &mut notes).unwrap_err();
        assert!(err.contains("leads outside the checkout"), "{err}");
    }

    #[test]
    fn a_model_call_retried_too_often_stops_the_attempt() {
        let w = model_retry_watch(3);
        w.line("Aider v0.86.2");
        w.line("litellm.APIConnectionError: Ollama_chatException - model failed to load");
        w.line("Retrying in 0.2 seconds...");
        w.line("Retrying in 0.5 seconds...");
        assert_eq!(w.reason(), None);
        w.line("Retrying in 1.0 seconds...");
        assert_eq!(
            w.reason().as_deref(),
            Some(
                "the model endpoint kept failing (3 retries), stopped instead of retrying for a minute more: litellm.APIConnectionError: Ollama_chatException - model failed to load"
            )
        );
    }

    #[test]
    fn finds_model_errors_in_output() {
        let out = "Aider v0.86\nlitellm.APIConnectionError: OllamaException - connection refused\n";
        assert_eq!(
            model_error_hint(out).unwrap(),
            "litellm.APIConnectionError: OllamaException - connection refused"
        );
        assert_eq!(model_error_hint("all good\n"), None);
    }
}
