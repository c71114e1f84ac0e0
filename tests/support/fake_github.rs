//! A local stand-in for GitHub's REST API, for the parts codingworker uses: pull requests
//! (list by `head` and `state`, create, update, requested reviewers), issue comments and
//! labels. It answers like GitHub: 401 without the token, 404 for unknown routes, 422 when a
//! pull request for the head branch is already open; and it can fail on demand.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pr {
    pub number: u64,
    pub repo: String,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub draft: bool,
    pub open: bool,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Comment {
    pub repo: String,
    pub issue: u64,
    pub body: String,
}

#[derive(Default)]
pub(crate) struct Fake {
    pub token: String,
    pub prs: Vec<Pr>,
    pub comments: Vec<Comment>,
    /// Every request as `METHOD /path`.
    pub requests: Vec<String>,
    /// Statuses to answer the next requests to a route (`POST /repos/o/r/pulls`) with, in order.
    pub fail_next: HashMap<String, Vec<u16>>,
    /// Answer this many pull request listings with nothing, as if the PR was opened just after
    /// (the race between two deliveries of one task).
    pub hide_next_lists: usize,
    /// Wait this long before answering any request.
    pub delay: std::time::Duration,
    /// Answer the next request to a route with this status and an HTML page.
    pub fail_html: HashMap<String, u16>,
    /// Where pages of comments say their next page is (default: this server).
    pub link_origin: Option<String>,
    next_number: u64,
}

pub(crate) struct FakeGitHub {
    pub url: String,
    pub state: Arc<Mutex<Fake>>,
}

type Shared = Arc<Mutex<Fake>>;

impl FakeGitHub {
    pub(crate) fn start(token: &str) -> Self {
        let state: Shared = Arc::new(Mutex::new(Fake {
            token: token.to_owned(),
            next_number: 1,
            ..Fake::default()
        }));
        let app = Router::new()
            .route("/user", get(whoami))
            .route("/repos/{owner}/{repo}/pulls", get(list_prs).post(create_pr))
            .route("/repos/{owner}/{repo}/pulls/{number}", patch(update_pr))
            .route(
                "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers",
                post(request_reviewers),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}/comments",
                post(create_comment).get(list_comments),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}/labels",
                post(add_labels),
            )
            .fallback(|| async {
                (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"message": "Not Found"})),
                )
            })
            .with_state(state.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        FakeGitHub { url, state }
    }

    pub(crate) fn prs(&self) -> Vec<Pr> {
        self.state.lock().unwrap().prs.clone()
    }
    pub(crate) fn comments(&self) -> Vec<Comment> {
        self.state.lock().unwrap().comments.clone()
    }
    pub(crate) fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
    /// The next request to `route` gets `status` with an HTML page, as a proxy answers.
    pub(crate) fn fail_next_html(&self, route: &str, status: u16) {
        self.state
            .lock()
            .unwrap()
            .fail_html
            .insert(route.to_owned(), status);
    }

    /// Pages of comments link to their next page on `origin` (e.g. `http://127.0.0.1:9`)
    /// instead of this server.
    pub(crate) fn link_pages_to(&self, origin: &str) {
        self.state.lock().unwrap().link_origin = Some(origin.to_owned());
    }

    pub(crate) fn fail_next(&self, route: &str, statuses: &[u16]) {
        self.state
            .lock()
            .unwrap()
            .fail_next
            .insert(route.to_owned(), statuses.to_vec());
    }
}

/// Authentication, request log and injected failures, for every handler.
fn gate(state: &Shared, headers: &HeaderMap, route: String) -> Result<(), Box<Response>> {
    let delay = state.lock().unwrap().delay;
    std::thread::sleep(delay);
    let mut s = state.lock().unwrap();
    s.requests.push(route.clone());
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {}", s.token) && auth != format!("token {}", s.token) {
        return Err((
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Bad credentials"})),
        )
            .into_response()
            .into());
    }
    if let Some(status) = s.fail_html.remove(&route) {
        let status = StatusCode::from_u16(status).unwrap();
        let page = format!(
            "<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n<center><h1>{0}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
            status
        );
        let response = (
            status,
            [(axum::http::header::CONTENT_TYPE, "text/html")],
            page,
        )
            .into_response();
        return Err(response.into());
    }
    if let Some(queue) = s.fail_next.get_mut(&route)
        && !queue.is_empty()
    {
        let status = StatusCode::from_u16(queue.remove(0)).unwrap();
        let mut response = (
            status,
            axum::Json(json!({"message": format!("injected {}", status.as_u16())})),
        )
            .into_response();
        // Like GitHub's secondary rate limit: come back in a second.
        if status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert("retry-after", "1".parse().unwrap());
        }
        return Err(response.into());
    }
    Ok(())
}

fn user(login: &str) -> Value {
    let u = format!("https://api.github.com/users/{login}");
    json!({
        "login": login, "id": 1, "node_id": "U_1", "avatar_url": "https://avatars.githubusercontent.com/u/1",
        "gravatar_id": "", "url": u, "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{u}/followers"), "following_url": format!("{u}/following"),
        "gists_url": format!("{u}/gists"), "starred_url": format!("{u}/starred"),
        "subscriptions_url": format!("{u}/subscriptions"), "organizations_url": format!("{u}/orgs"),
        "repos_url": format!("{u}/repos"), "events_url": format!("{u}/events"),
        "received_events_url": format!("{u}/received_events"), "type": "User", "site_admin": false
    })
}

fn pr_json(p: &Pr) -> Value {
    json!({
        "id": 1000 + p.number, "node_id": format!("PR_{}", p.number), "number": p.number,
        "url": format!("https://api.github.com/repos/{}/pulls/{}", p.repo, p.number),
        "html_url": format!("https://github.com/{}/pull/{}", p.repo, p.number),
        "state": if p.open { "open" } else { "closed" }, "title": p.title, "body": p.body, "draft": p.draft,
        "user": user("codingworker-bot"),
        "labels": p.labels.iter().map(|l| label(l)).collect::<Vec<_>>(),
        "head": {"label": format!("{}:{}", p.repo.split('/').next().unwrap(), p.head), "ref": p.head, "sha": "0000000000000000000000000000000000000000"},
        "base": {"label": format!("{}:{}", p.repo.split('/').next().unwrap(), p.base), "ref": p.base, "sha": "0000000000000000000000000000000000000000"}
    })
}

fn label(name: &str) -> Value {
    json!({"id": 1, "node_id": "L_1", "url": format!("https://api.github.com/labels/{name}"), "name": name, "color": "ededed", "default": false})
}

async fn list_prs(
    State(s): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&s, &headers, format!("GET /repos/{owner}/{repo}/pulls")) {
        return *r;
    }
    let full = format!("{owner}/{repo}");
    let state_filter = q.get("state").map_or("open", String::as_str).to_owned();
    let head = q.get("head").cloned();
    let mut st = s.lock().unwrap();
    if st.hide_next_lists > 0 {
        st.hide_next_lists -= 1;
        return axum::Json(json!([])).into_response();
    }
    let items: Vec<Value> = st
        .prs
        .iter()
        .filter(|p| p.repo == full)
        .filter(|p| match state_filter.as_str() {
            "open" => p.open,
            "closed" => !p.open,
            _ => true,
        })
        .filter(|p| {
            head.as_ref()
                .is_none_or(|h| *h == format!("{owner}:{}", p.head))
        })
        .map(pr_json)
        .collect();
    axum::Json(Value::Array(items)).into_response()
}

async fn create_pr(
    State(s): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Err(r) = gate(&s, &headers, format!("POST /repos/{owner}/{repo}/pulls")) {
        return *r;
    }
    let full = format!("{owner}/{repo}");
    let head = body["head"].as_str().unwrap_or_default().to_owned();
    let mut st = s.lock().unwrap();
    if st
        .prs
        .iter()
        .any(|p| p.repo == full && p.head == head && p.open)
    {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({
                "message": "Validation Failed",
                "errors": [{"resource": "PullRequest", "code": "custom", "message": format!("A pull request already exists for {owner}:{head}.")}],
                "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"
            })),
        )
            .into_response();
    }
    let number = st.next_number;
    st.next_number += 1;
    let pr = Pr {
        number,
        repo: full,
        head,
        base: body["base"].as_str().unwrap_or_default().to_owned(),
        title: body["title"].as_str().unwrap_or_default().to_owned(),
        body: body["body"].as_str().unwrap_or_default().to_owned(),
        draft: body["draft"].as_bool().unwrap_or(false),
        open: true,
        labels: vec![],
        reviewers: vec![],
    };
    let out = pr_json(&pr);
    st.prs.push(pr);
    (StatusCode::CREATED, axum::Json(out)).into_response()
}

async fn update_pr(
    State(s): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Err(r) = gate(
        &s,
        &headers,
        format!("PATCH /repos/{owner}/{repo}/pulls/{number}"),
    ) {
        return *r;
    }
    let mut st = s.lock().unwrap();
    let Some(pr) = st.prs.iter_mut().find(|p| p.number == number) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "Not Found"})),
        )
            .into_response();
    };
    if let Some(t) = body["title"].as_str() {
        pr.title = t.to_owned();
    }
    if let Some(b) = body["body"].as_str() {
        pr.body = b.to_owned();
    }
    axum::Json(pr_json(pr)).into_response()
}

async fn request_reviewers(
    State(s): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Err(r) = gate(
        &s,
        &headers,
        format!("POST /repos/{owner}/{repo}/pulls/{number}/requested_reviewers"),
    ) {
        return *r;
    }
    let mut st = s.lock().unwrap();
    let Some(pr) = st.prs.iter_mut().find(|p| p.number == number) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "Not Found"})),
        )
            .into_response();
    };
    pr.reviewers.extend(
        body["reviewers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned)),
    );
    (StatusCode::CREATED, axum::Json(pr_json(pr))).into_response()
}

async fn add_labels(
    State(s): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Err(r) = gate(
        &s,
        &headers,
        format!("POST /repos/{owner}/{repo}/issues/{number}/labels"),
    ) {
        return *r;
    }
    let mut st = s.lock().unwrap();
    let names: Vec<String> = body["labels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if let Some(pr) = st.prs.iter_mut().find(|p| p.number == number) {
        pr.labels.extend(names.clone());
    }
    axum::Json(Value::Array(names.iter().map(|n| label(n)).collect())).into_response()
}

/// The token's user, with a classic token's scopes header.
async fn whoami(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = gate(&s, &headers, "GET /user".into()) {
        return *r;
    }
    let mut response = axum::Json(user("codingworker-bot")).into_response();
    response
        .headers_mut()
        .insert("x-oauth-scopes", "repo, workflow".parse().unwrap());
    response
}

/// Comments of an issue, paginated like GitHub (`per_page`, `page`, a `Link` header).
async fn list_comments(
    State(s): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(
        &s,
        &headers,
        format!("GET /repos/{owner}/{repo}/issues/{number}/comments"),
    ) {
        return *r;
    }
    let per_page: usize = q
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30)
        .min(100);
    let page: usize = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let st = s.lock().unwrap();
    let full = format!("{owner}/{repo}");
    let all: Vec<Value> = st
        .comments
        .iter()
        .enumerate()
        .filter(|(_, c)| c.repo == full && c.issue == number)
        .map(|(i, c)| comment_json(&owner, &repo, number, i + 1, &c.body))
        .collect();
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect();
    let mut response = axum::Json(Value::Array(items)).into_response();
    if page * per_page < all.len() {
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let origin = st
            .link_origin
            .clone()
            .unwrap_or_else(|| format!("http://{host}"));
        let link = format!(
            "<{origin}/repos/{owner}/{repo}/issues/{number}/comments?per_page={per_page}&page={}>; rel=\"next\"",
            page + 1
        );
        response.headers_mut().insert("link", link.parse().unwrap());
    }
    response
}

fn comment_json(owner: &str, repo: &str, number: u64, id: usize, body: &str) -> Value {
    json!({
        "id": id, "node_id": format!("IC_{id}"),
        "url": format!("https://api.github.com/repos/{owner}/{repo}/issues/comments/{id}"),
        "html_url": format!("https://github.com/{owner}/{repo}/issues/{number}#issuecomment-{id}"),
        "body": body, "user": user("codingworker-bot"), "created_at": "2026-11-21T00:00:00Z", "updated_at": "2026-11-21T00:00:00Z"
    })
}

async fn create_comment(
    State(s): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Err(r) = gate(
        &s,
        &headers,
        format!("POST /repos/{owner}/{repo}/issues/{number}/comments"),
    ) {
        return *r;
    }
    let mut st = s.lock().unwrap();
    let text = body["body"].as_str().unwrap_or_default().to_owned();
    st.comments.push(Comment {
        repo: format!("{owner}/{repo}"),
        issue: number,
        body: text.clone(),
    });
    let id = st.comments.len();
    let json = comment_json(&owner, &repo, number, id, &text);
    (StatusCode::CREATED, axum::Json(json)).into_response()
}
