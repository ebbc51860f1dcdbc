//! Compressed and binary bodies against a real local server: every coding
//! decodes to the original bytes on both transports (and the threads
//! model), a decompression bomb ends as `body_too_large` with memory
//! bounded, a corrupt body fails as `decode`, binary bodies round-trip
//! through `body_base64`, `--raw` and a user's own `Accept-Encoding` keep
//! the wire bytes, and a plain load test asks for no compression unless
//! `--compressed`.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use fetchtop::engine::http::parse_header;
use fetchtop::engine::transport::TransportChoice;
use fetchtop::engine::{EngineConfig, ItemState, Model, Record, RequestOptions, Source};
use serde_json::json;

/// The document every coding carries: text, long enough to compress well.
fn document() -> Vec<u8> {
    (0..2000)
        .map(|i| format!("line {i}: the quick brown fox jumps over the lazy dog\n"))
        .collect::<String>()
        .into_bytes()
}

/// A body that would drive a terminal: OSC 52 (set the clipboard), a
/// colour, a bell, a C1 CSI.
const ESCAPES: &str = "\u{1b}]52;c;aGVsbG8=\u{7}\u{1b}[31mred\u{9b}2J";

/// Random bytes that are not UTF-8 (a NUL, an 0xFF), from a fixed seed.
fn binary() -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(11);
    let mut v: Vec<u8> = std::iter::repeat_with(|| rng.u8(..))
        .take(64 * 1024)
        .collect();
    v[0] = 0xff;
    v[1] = 0;
    v
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn encode(coding: &str, data: &[u8]) -> Vec<u8> {
    match coding {
        "gzip" => gzip(data),
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "br" => {
            let mut out = Vec::new();
            brotli::BrotliCompress(&mut &data[..], &mut out, &Default::default()).unwrap();
            out
        }
        "zstd" => zstd::encode_all(data, 3).unwrap(),
        "identity" => data.to_vec(),
        other => panic!("no encoder for {other}"),
    }
}

/// 1 GiB of zeros as gzip, about 1 MiB: 1,024 members of 1 MiB each
/// (RFC 1952 allows members back to back), built in bounded memory.
fn bomb() -> Vec<u8> {
    let member = gzip(&vec![0u8; 1 << 20]);
    member.repeat(1024)
}

struct Served {
    bomb: bytes::Bytes,
    /// The `Accept-Encoding` each `/seen/{tag}` request carried.
    seen: Mutex<HashMap<String, String>>,
}

fn encoded(coding: &'static str, body: Vec<u8>) -> Response {
    let mut r = body.into_response();
    if coding != "identity" {
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    r
}

fn app(state: Arc<Served>) -> Router {
    Router::new()
        .route(
            "/enc/{coding}",
            get(|Path(coding): Path<String>| async move {
                let coding: &'static str = match coding.as_str() {
                    "gzip" => "gzip",
                    "deflate" => "deflate",
                    "br" => "br",
                    "zstd" => "zstd",
                    _ => "identity",
                };
                encoded(coding, encode(coding, &document()))
            }),
        )
        // gzip applied first, then br: the header lists them in that order.
        .route(
            "/stacked",
            get(|| async { encoded("gzip, br", encode("br", &gzip(&document()))) }),
        )
        .route(
            "/corrupt",
            get(|| async {
                let mut body = gzip(&document());
                let mid = body.len() / 2;
                body[mid..mid + 16].fill(0xa5);
                encoded("gzip", body)
            }),
        )
        .route(
            "/cut",
            get(|| async {
                let body = gzip(&document());
                encoded("gzip", body[..body.len() - 8].to_vec())
            }),
        )
        .route(
            "/unknown",
            get(|| async { encoded("compress", b"\x1f\x9d as it came".to_vec()) }),
        )
        .route("/binary", get(|| async { binary() }))
        .route(
            "/escapes",
            get(|| async { encoded("gzip", gzip(ESCAPES.as_bytes())) }),
        )
        .route(
            "/bomb",
            get(|State(s): State<Arc<Served>>| async move {
                let mut r = Body::from(s.bomb.clone()).into_response();
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                r
            }),
        )
        .route(
            "/seen/{tag}",
            get(
                |State(s): State<Arc<Served>>, Path(tag): Path<String>, h: HeaderMap| async move {
                    let ae = h
                        .get(header::ACCEPT_ENCODING)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_string();
                    s.seen.lock().unwrap().insert(tag, ae);
                    "seen"
                },
            ),
        )
        .with_state(state)
}

async fn serve() -> (String, Arc<Served>) {
    let state = Arc::new(Served {
        bomb: bomb().into(),
        seen: Mutex::new(HashMap::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app(Arc::clone(&state));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), state)
}

async fn run(
    urls: &[String],
    request: RequestOptions,
    transport: TransportChoice,
    model: Model,
) -> Vec<Record> {
    let list = urls.join("\n");
    let source = Source::from_reader(std::io::Cursor::new(list.into_bytes()), "test list", None);
    let config = EngineConfig {
        concurrency: 4,
        request,
        transport,
        model,
        ..EngineConfig::default()
    };
    let (_, mut records) = common::Run::start(config, source)
        .finish(Duration::from_secs(60))
        .await;
    records.sort_by_key(|r| r.seq);
    assert_eq!(records.len(), urls.len(), "one record per URL");
    records
}

/// The lean path, reqwest, and the threads model (ureq).
fn carriers() -> [(TransportChoice, Model); 3] {
    [
        (TransportChoice::Auto, Model::Async),
        (TransportChoice::Reqwest, Model::Async),
        (TransportChoice::Auto, Model::Threads),
    ]
}

/// What must agree between carriers: everything but timings and wording.
fn essence(r: &Record) -> serde_json::Value {
    json!({
        "url": &*r.url,
        "state": r.state,
        "status": r.status,
        "bytes": r.bytes,
        "decoded_bytes": r.decoded_bytes,
        "encoding": r.encoding,
        "error": r.error.as_ref().map(|e| e.kind),
        "body": r.body,
        "body_base64": r.body_base64,
        "fields": r.fields,
    })
}

/// Runs `urls` on the lean path, on reqwest and on the threads model;
/// they must agree; the records come back by the URL's last path segment.
async fn on_every_carrier(urls: Vec<String>, request: RequestOptions) -> BTreeMap<String, Record> {
    let lean = run(&urls, request.clone(), TransportChoice::Auto, Model::Async).await;
    let reqwest = run(
        &urls,
        request.clone(),
        TransportChoice::Reqwest,
        Model::Async,
    )
    .await;
    let threads = run(&urls, request, TransportChoice::Auto, Model::Threads).await;
    let mut by_name = BTreeMap::new();
    for ((a, b), c) in lean.into_iter().zip(reqwest).zip(threads) {
        agree(&a, &b, "reqwest");
        agree(&a, &c, "threads");
        let name = a.url.rsplit('/').next().unwrap().to_string();
        by_name.insert(name, a);
    }
    by_name
}

/// Fails naming the fields two carriers disagree on, each cut short (a
/// kept body can be megabytes).
fn agree(lean: &Record, other: &Record, which: &str) {
    let (a, b) = (essence(lean), essence(other));
    let short = |v: &serde_json::Value| v.to_string().chars().take(120).collect::<String>();
    let differ: Vec<String> = a
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, v)| b.get(k.as_str()) != Some(v))
        .map(|(k, v)| {
            format!(
                "{k}: lean {} vs {which} {}",
                short(v),
                short(&b[k.as_str()])
            )
        })
        .collect();
    assert!(
        differ.is_empty(),
        "lean and {which} disagree on {}: {differ:?}",
        lean.url
    );
}

fn keeping() -> RequestOptions {
    RequestOptions {
        keep_body: true,
        timeout: Duration::from_secs(20),
        ..RequestOptions::default()
    }
}

fn urls(base: &str, paths: &[&str]) -> Vec<String> {
    paths.iter().map(|p| format!("{base}{p}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_coding_decodes_to_the_original_on_every_carrier() {
    let (base, _) = serve().await;
    let paths = [
        "/enc/gzip",
        "/enc/deflate",
        "/enc/br",
        "/enc/zstd",
        "/enc/identity",
        "/stacked",
        "/corrupt",
        "/cut",
        "/unknown",
        "/binary",
    ];
    let seen = on_every_carrier(urls(&base, &paths), keeping()).await;
    let text = String::from_utf8(document()).unwrap();
    for coding in ["gzip", "deflate", "br", "zstd"] {
        let r = &seen[coding];
        assert_eq!(r.state, ItemState::Done, "{coding}: {:?}", r.error);
        assert_eq!(
            r.body.as_ref().and_then(|b| b.as_str()),
            Some(text.as_str()),
            "{coding}"
        );
        assert_eq!(
            r.bytes,
            encode(coding, &document()).len() as u64,
            "{coding}: wire bytes"
        );
        assert!(r.bytes < document().len() as u64 / 4, "{coding} compressed");
        assert_eq!(r.decoded_bytes, Some(document().len() as u64), "{coding}");
        assert_eq!(r.encoding.as_deref(), Some(coding));
        assert!(r.body_base64.is_none());
    }
    let plain = &seen["identity"];
    assert_eq!(
        (plain.decoded_bytes, plain.encoding.as_deref()),
        (None, None),
        "no decoder ran"
    );
    assert_eq!(plain.bytes, document().len() as u64);

    let stacked = &seen["stacked"];
    assert_eq!(
        stacked.body.as_ref().and_then(|b| b.as_str()),
        Some(text.as_str())
    );
    assert_eq!(stacked.encoding.as_deref(), Some("gzip, br"));

    for broken in ["corrupt", "cut"] {
        let r = &seen[broken];
        assert_eq!(r.state, ItemState::Failed, "{broken}");
        assert_eq!(r.status, Some(200));
        let e = r.error.as_ref().unwrap();
        assert_eq!(e.kind.as_str(), "decode", "{broken}: {e}");
        assert!(e.message.contains("Content-Encoding: gzip"), "{e}");
        assert!(
            r.body.is_none() && r.body_base64.is_none(),
            "{broken}: half a body is not kept"
        );
    }

    // A coding this build does not know: the body is kept as it came.
    let unknown = &seen["unknown"];
    assert_eq!(unknown.state, ItemState::Done);
    assert_eq!(unknown.encoding.as_deref(), Some("compress"));
    assert_eq!(unknown.decoded_bytes, None);
    let wire = base64::engine::general_purpose::STANDARD.encode(b"\x1f\x9d as it came");
    assert_eq!(unknown.body_base64.as_deref(), Some(wire.as_str()));

    // Binary bytes come back byte for byte.
    let bin = &seen["binary"];
    assert!(bin.body.is_none(), "not a lossy string");
    let back = base64::engine::general_purpose::STANDARD
        .decode(bin.body_base64.as_deref().unwrap())
        .unwrap();
    assert_eq!(back, binary());
}

/// The process's peak resident memory, in bytes (Linux).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decompression_bomb_ends_at_max_body_with_memory_bounded() {
    let (base, state) = serve().await;
    assert!(state.bomb.len() < 2 << 20, "the bomb is small on the wire");
    let max = 4 << 20;
    // Kept (the decoded body is buffered) and not kept (--compressed only).
    for request in [
        RequestOptions {
            max_body: max,
            ..keeping()
        },
        RequestOptions {
            max_body: max,
            compressed: true,
            timeout: Duration::from_secs(20),
            ..RequestOptions::default()
        },
    ] {
        // Where each carrier stops depends on its chunk sizes: each is
        // checked on its own.
        for (transport, model) in carriers() {
            let records = run(&urls(&base, &["/bomb"]), request.clone(), transport, model).await;
            let r = &records[0];
            let e = r.error.as_ref().unwrap();
            assert_eq!(e.kind.as_str(), "body_too_large", "{e}");
            assert!(
                e.message.starts_with("decoded body exceeds --max-body"),
                "{e}"
            );
            let decoded = r.decoded_bytes.unwrap();
            assert!(
                decoded > max && decoded <= max + (1 << 20),
                "stopped at the limit: {decoded}"
            );
            assert!(
                r.bytes < state.bomb.len() as u64 / 16,
                "read little of the wire: {}",
                r.bytes
            );
            // A body cut at the limit is not the server's: none is kept.
            assert!(r.body.is_none() && r.body_base64.is_none(), "{transport:?}");
        }
    }
    // Decoding the whole bomb would have needed 1 GiB somewhere.
    let peak = peak_rss();
    assert!(peak < 400 << 20, "peak RSS {} MiB", peak >> 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_encoding_is_sent_only_when_asked() {
    let (base, state) = serve().await;
    let cases: Vec<(&str, RequestOptions, &str)> = vec![
        ("plain", RequestOptions::default(), "-"),
        ("kept", keeping(), "gzip, deflate, br, zstd"),
        (
            "extracted",
            RequestOptions {
                extract: vec!["/x".into()],
                ..RequestOptions::default()
            },
            "gzip, deflate, br, zstd",
        ),
        (
            "compressed",
            RequestOptions {
                compressed: true,
                ..RequestOptions::default()
            },
            "gzip, deflate, br, zstd",
        ),
        (
            "raw",
            RequestOptions {
                raw: true,
                ..keeping()
            },
            "-",
        ),
        (
            "own",
            RequestOptions {
                headers: vec![parse_header("Accept-Encoding: identity").unwrap()],
                ..keeping()
            },
            "identity",
        ),
    ];
    for (tag, request, want) in cases {
        for (transport, model) in carriers() {
            let url = format!("{base}/seen/{tag}");
            let records = run(&[url], request.clone(), transport, model).await;
            assert_eq!(records[0].state, ItemState::Done);
            let sent = state.seen.lock().unwrap().remove(tag);
            assert_eq!(
                sent.as_deref(),
                Some(want),
                "{tag} on {transport:?}/{model:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_and_a_users_own_header_keep_the_wire_bytes() {
    let (base, _) = serve().await;
    let wire = base64::engine::general_purpose::STANDARD.encode(encode("gzip", &document()));
    for request in [
        RequestOptions {
            raw: true,
            ..keeping()
        },
        RequestOptions {
            headers: vec![parse_header("Accept-Encoding: gzip").unwrap()],
            ..keeping()
        },
    ] {
        let seen = on_every_carrier(urls(&base, &["/enc/gzip"]), request).await;
        let r = &seen["gzip"];
        assert_eq!(r.state, ItemState::Done);
        assert_eq!(r.encoding.as_deref(), Some("gzip"));
        assert_eq!(r.decoded_bytes, None, "no decoder ran");
        assert_eq!(
            r.body_base64.as_deref(),
            Some(wire.as_str()),
            "the gzip bytes themselves"
        );
    }
    // --compressed over the user's own header decodes what it asked for.
    let request = RequestOptions {
        headers: vec![parse_header("Accept-Encoding: gzip").unwrap()],
        compressed: true,
        ..keeping()
    };
    let seen = on_every_carrier(urls(&base, &["/enc/gzip"]), request).await;
    assert_eq!(seen["gzip"].decoded_bytes, Some(document().len() as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_decodes_without_keeping_and_saved_bodies_are_raw_bytes() {
    let (base, _) = serve().await;
    let seen = on_every_carrier(
        urls(&base, &["/enc/br", "/corrupt"]),
        RequestOptions {
            compressed: true,
            ..RequestOptions::default()
        },
    )
    .await;
    assert_eq!(seen["br"].decoded_bytes, Some(document().len() as u64));
    assert!(seen["br"].body.is_none() && seen["br"].body_base64.is_none());
    assert_eq!(
        seen["corrupt"].error_kind().map(|k| k.as_str()),
        Some("decode")
    );

    // --save-bodies: decoded bytes, or the wire's under --raw.
    for raw in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let request = RequestOptions {
            save_bodies: Some(dir.path().to_path_buf()),
            raw,
            ..RequestOptions::default()
        };
        let list = urls(&base, &["/enc/zstd", "/binary", "/stacked"]);
        let records = run(&list, request, TransportChoice::Auto, Model::Async).await;
        assert!(
            records.iter().all(|r| r.state == ItemState::Done),
            "{records:?}"
        );
        let saved = |seq: u64| std::fs::read(dir.path().join(format!("{seq}.body"))).unwrap();
        if raw {
            assert_eq!(saved(1), encode("zstd", &document()));
            assert_eq!(saved(3), encode("br", &gzip(&document())));
        } else {
            assert_eq!(saved(1), document());
            assert_eq!(saved(3), document());
        }
        assert_eq!(saved(2), binary(), "binary bytes saved as they are");
    }
}

/// As a user runs it: the binary against the demo API's own compressed
/// and binary routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_decodes_the_demo_apis_compressed_and_binary_routes() {
    let server = common::server(Duration::ZERO, 0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("urls.txt");
    let paths = [
        "/compressed/gzip",
        "/compressed/br",
        "/compressed/zstd",
        "/compressed/deflate",
        "/bytes/300",
    ];
    let text: String = paths
        .iter()
        .map(|p| format!("{}\n", server.url(p)))
        .collect();
    std::fs::write(&list, text).unwrap();
    let out = dir.path().join("out.jsonl");
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_fetchtop"))
        .arg("-i")
        .arg(&list)
        .args(["--keep-body", "--no-tui", "-o"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let lines = std::fs::read_to_string(&out).unwrap();
    let mut records: Vec<serde_json::Value> = common::record_lines(&lines)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    records.sort_by_key(|v| v["seq"].as_u64());
    assert_eq!(records.len(), paths.len());
    for r in &records[..4] {
        assert_eq!(r["body"]["id"], 1, "{r}");
        assert_eq!(r["body"]["name"], "item-1", "{r}");
        assert!(r["decoded_bytes"].as_u64() > Some(0), "{r}");
        assert!(r["encoding"].is_string(), "{r}");
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(records[4]["body_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes.len(), 300);
    assert_eq!(records[4]["bytes"], 300);
    assert!(records[4].get("body").is_none());
}

/// Bodies never reach the terminal: with bodies kept, a decoded body full
/// of escape sequences and a body that fails to decode leave no control
/// byte on stdout, stderr or in the log; the JSON keeps them escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_and_decode_failures_never_reach_the_terminal() {
    let (base, _) = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("urls.txt");
    std::fs::write(
        &list,
        format!("{base}/escapes\n{base}/corrupt\n{base}/binary\n"),
    )
    .unwrap();
    let out = dir.path().join("out.jsonl");
    let log = dir.path().join("run.log");
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_fetchtop"))
        .arg("-i")
        .arg(&list)
        .args(["--keep-body", "--no-tui", "-o"])
        .arg(&out)
        .arg("--log")
        .arg(&log)
        .env("FETCHTOP_LOG", "debug")
        .output()
        .await
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "failed items still end the run well"
    );
    let control = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .chars()
            .any(|c| matches!(c, '\u{1b}' | '\u{7}' | '\u{9b}'))
    };
    for (what, bytes) in [
        ("stdout", run.stdout.clone()),
        ("stderr", run.stderr.clone()),
        ("log", std::fs::read(&log).unwrap()),
    ] {
        assert!(
            !control(&bytes),
            "{what}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("decode: 1"), "{stdout}");
    let lines = std::fs::read_to_string(&out).unwrap();
    // serde_json escapes C0 controls; a C1 character is valid JSON text.
    assert!(
        !lines.contains(['\u{1b}', '\u{7}']),
        "JSON escapes control characters"
    );
    let escapes: serde_json::Value = common::record_lines(&lines)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["url"].as_str().unwrap().ends_with("/escapes"))
        .unwrap();
    assert_eq!(
        escapes["body"], ESCAPES,
        "kept as it was, escaped by serde_json"
    );
}
