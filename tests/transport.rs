//! Both transports give the same records: the same list of URLs against one
//! loopback server, run once with hyper-util for plain HTTP (`auto`) and once
//! with reqwest for everything, must agree on every field but the timings
//! and the wording of error messages.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get};
use fetchtop::engine::http::parse_header;
use fetchtop::engine::transport::TransportChoice;
use fetchtop::engine::{EngineConfig, ItemState, Record, RequestOptions, Source};
use serde_json::json;

async fn echo(method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_string()
    };
    axum::Json(json!({
        "method": method.as_str(),
        "user_agent": h("user-agent"),
        "accept": h("accept"),
        "token": h("x-token"),
        "authorization": h("authorization"),
        "body_len": body.len(),
    }))
    .into_response()
}

fn app() -> Router {
    Router::new()
        .route(
            "/ok",
            get(|| async { axum::Json(json!({"id": 1, "name": "one"})) }),
        )
        .route("/text", get(|| async { "plain text, not JSON" }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/boom",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "down") }),
        )
        .route("/limited", get(|| async { StatusCode::TOO_MANY_REQUESTS }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        )
        .route("/big", get(|| async { vec![b'x'; 64 * 1024] }))
        .route("/echo", any(echo))
        .route(
            "/hop/{n}",
            get(
                |axum::extract::Path(n): axum::extract::Path<u32>| async move {
                    if n == 0 {
                        Redirect::temporary("/ok").into_response()
                    } else {
                        Redirect::temporary(&format!("/hop/{}", n - 1)).into_response()
                    }
                },
            ),
        )
        .route("/loop", get(|| async { Redirect::temporary("/loop") }))
        .route(
            "/see-other",
            any(|| async { (StatusCode::SEE_OTHER, [(header::LOCATION, "/echo")]) }),
        )
        .route(
            "/elsewhere",
            get(|| async { Redirect::temporary("ftp://127.0.0.1/file") }),
        )
}

async fn serve() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app()).await });
    format!("http://{addr}")
}

/// A port nothing listens on: bound, then closed.
async fn refused() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/nothing")
}

async fn run(urls: &[String], request: RequestOptions, transport: TransportChoice) -> Vec<Record> {
    let list = urls.join("\n");
    let source = Source::from_reader(std::io::Cursor::new(list.into_bytes()), "test list", None);
    let config = EngineConfig {
        concurrency: 4,
        request,
        transport,
        ..EngineConfig::default()
    };
    let (_, mut records) = common::Run::start(config, source)
        .finish(Duration::from_secs(30))
        .await;
    records.sort_by_key(|r| r.seq);
    records
}

/// What must agree between transports: everything but timings and wording.
fn essence(r: &Record) -> serde_json::Value {
    json!({
        "seq": r.seq,
        "url": &*r.url,
        "state": r.state,
        "status": r.status,
        "http": r.http,
        "responded": r.ttfb_us.is_some(),
        "bytes": r.bytes,
        "decoded_bytes": r.decoded_bytes,
        "encoding": r.encoding,
        "attempts": r.attempts,
        "error": r.error.as_ref().map(|e| e.kind),
        "line": r.line,
        "body": r.body,
        "body_base64": r.body_base64,
        "fields": r.fields,
    })
}

async fn compare(
    urls: Vec<String>,
    request: RequestOptions,
) -> BTreeMap<String, serde_json::Value> {
    let auto = run(&urls, request.clone(), TransportChoice::Auto).await;
    let reqwest = run(&urls, request, TransportChoice::Reqwest).await;
    assert_eq!(auto.len(), urls.len(), "one record per URL");
    assert_eq!(reqwest.len(), urls.len(), "one record per URL");
    let mut by_path = BTreeMap::new();
    for (a, b) in auto.iter().zip(&reqwest) {
        assert_eq!(essence(a), essence(b), "transports disagree on {}", a.url);
        let path = a
            .url
            .rsplit_once('/')
            .map_or(&*a.url, |(_, p)| p)
            .to_string();
        by_path.insert(path, essence(a));
    }
    by_path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_transports_give_the_same_records() {
    let base = serve().await;
    let urls: Vec<String> = [
        "/ok",
        "/text",
        "/missing",
        "/boom",
        "/limited",
        "/slow",
        "/big",
        "/hop/2",
        "/hop/5",
        "/loop",
        "/elsewhere",
    ]
    .iter()
    .map(|p| format!("{base}{p}"))
    .chain([
        refused().await,
        "ftp://127.0.0.1/x".into(),
        "not a url".into(),
    ])
    .collect();
    let request = RequestOptions {
        timeout: Duration::from_millis(800),
        max_body: 16 * 1024,
        redirects: 3,
        keep_body: true,
        extract: vec!["/id".into()],
        ..RequestOptions::default()
    };
    let seen = compare(urls, request).await;

    // And the shared answer is the right one, not just the same one.
    let kind = |p: &str| seen[p]["error"].as_str().map(str::to_string);
    assert_eq!(seen["ok"]["state"], json!(ItemState::Done));
    assert_eq!(seen["ok"]["http"], "1.1");
    assert_eq!(
        seen["nothing"]["http"],
        json!(null),
        "no answer, no version"
    );
    assert_eq!(seen["ok"]["body"]["name"], "one");
    assert_eq!(seen["ok"]["fields"]["/id"], 1);
    assert_eq!(seen["text"]["body"], "plain text, not JSON");
    assert_eq!(kind("missing").as_deref(), Some("http_4xx"));
    assert_eq!(kind("boom").as_deref(), Some("http_5xx"));
    assert_eq!(kind("limited").as_deref(), Some("http_429"));
    assert_eq!(kind("slow").as_deref(), Some("timeout"));
    assert_eq!(kind("big").as_deref(), Some("body_too_large"));
    assert_eq!(
        seen["2"]["status"], 200,
        "three hops are within --redirects 3"
    );
    assert_eq!(kind("5").as_deref(), Some("redirect"), "six hops are not");
    assert_eq!(kind("loop").as_deref(), Some("redirect"));
    assert_eq!(kind("elsewhere").as_deref(), Some("redirect"));
    assert_eq!(kind("nothing").as_deref(), Some("connect"));
    assert_eq!(kind("x").as_deref(), Some("invalid_url"));
    assert_eq!(kind("not a url").as_deref(), Some("invalid_url"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_headers_and_bodies_travel_the_same_way() {
    let base = serve().await;
    let urls = vec![format!("{base}/echo"), format!("{base}/see-other")];
    let request = RequestOptions {
        method: Method::POST,
        body: Some(b"{\"a\":1}".to_vec()),
        headers: vec![
            parse_header("X-Token: t-1").unwrap(),
            parse_header("Accept: application/json").unwrap(),
        ],
        keep_body: true,
        ..RequestOptions::default()
    };
    let seen = compare(urls, request).await;
    let echo = &seen["echo"]["body"];
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body_len"], 7);
    assert_eq!(echo["token"], "t-1");
    assert_eq!(echo["accept"], "application/json");
    assert!(
        echo["user_agent"]
            .as_str()
            .unwrap()
            .starts_with("fetchtop/")
    );
    // 303 turns the POST into a GET without its body.
    let after = &seen["see-other"]["body"];
    assert_eq!(after["method"], "GET");
    assert_eq!(after["body_len"], 0);
    assert_eq!(after["token"], "t-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_redirects_means_the_redirect_is_the_answer() {
    let base = serve().await;
    let request = RequestOptions {
        redirects: 0,
        ..RequestOptions::default()
    };
    let seen = compare(vec![format!("{base}/loop")], request).await;
    assert_eq!(seen["loop"]["status"], 307);
    assert_eq!(seen["loop"]["state"], json!(ItemState::Done));
}
