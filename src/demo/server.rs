//! The built-in demo API: a real HTTP server that answers like an item
//! catalogue, with realistic (heavy-tailed) latency and injected errors, so
//! fetchtop can be driven without any network.
//!
//! Routes:
//! - `GET /items/{id}`: a small deterministic JSON item for ids `1..=items`,
//!   404 otherwise; delayed by a random latency and failing (500/503) with
//!   probability `error_rate`.
//! - `GET /stats`: the [`ServerStats`] counters as JSON.
//! - `GET /compressed/{coding}`, `GET /bytes/{n}`: compressed and binary
//!   bodies (`bodies.rs`).
//! - `POST /stats/reset`: resets `requests` to 0 and `max_in_flight` to the
//!   current `in_flight`, and answers the new counters.
//! - anything else: 404 (405 for a known path with the wrong method), JSON.
//!
//! This module owns the configuration, counters, routes and lifecycle; the
//! latency model, the item catalogue and the TCP listener are sibling modules.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use color_eyre::eyre::{WrapErr, eyre};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::capacity::{Admitted, Capacity, Slots};
use super::catalogue::Item;
use super::latency::sample_delay;
use super::listener::{DemoListener, bind};

// Re-exported because the CLI parses its `--latency` and `--error-rate`
// flags with these, next to the `ServerConfig` they fill in.
pub use super::latency::{parse_error_rate, parse_latency_range};

/// How long [`DemoServer::shutdown`] lets open connections finish gracefully
/// before dropping them.
const GRACE: Duration = Duration::from_secs(2);
/// How long [`DemoServer::shutdown`] waits for connections to notice that they
/// were dropped before aborting the server task.
const HARD_STOP_WAIT: Duration = Duration::from_millis(500);

/// Settings of the demo server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to bind (port 0 picks an ephemeral port). Default 127.0.0.1:8080.
    pub addr: SocketAddr,
    /// Shortest simulated latency of `GET /items/{id}`. Default 5 ms.
    pub latency_min: Duration,
    /// Longest simulated latency of `GET /items/{id}`. Default 150 ms.
    pub latency_max: Duration,
    /// Fraction (0.0..=1.0) of item requests answered 500 or 503. Default 0.01.
    pub error_rate: f64,
    /// Ids `1..=items` exist; others answer 404. Default 1_000_000.
    pub items: u64,
    /// Fraction (0.0..=1.0) of item requests answered 429 Too Many Requests
    /// (with `Retry-After: 1`), as a rate-limited API would. Default 0.
    pub throttle_rate: f64,
    /// A known capacity (`--scenario capacity`): slots and a bounded queue
    /// in front of every item request; None serves all at once.
    pub capacity: Option<Capacity>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080),
            latency_min: Duration::from_millis(5),
            latency_max: Duration::from_millis(150),
            error_rate: 0.01,
            items: 1_000_000,
            throttle_rate: 0.0,
            capacity: None,
        }
    }
}

/// Counters the server reports at GET /stats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStats {
    /// Requests to `/items/...` since start or the last reset.
    pub requests: u64,
    /// `/items/...` handlers running right now.
    pub in_flight: u64,
    /// Peak of `in_flight` since start or the last reset.
    pub max_in_flight: u64,
}

/// Lock-free counters shared by the handlers and [`DemoServer`].
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> ServerStats {
        ServerStats {
            requests: self.requests.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            max_in_flight: self.max_in_flight.load(Ordering::Relaxed),
        }
    }

    fn reset(&self) -> ServerStats {
        self.requests.store(0, Ordering::Relaxed);
        let now = self.in_flight.load(Ordering::Relaxed);
        self.max_in_flight.store(now, Ordering::Relaxed);
        self.snapshot()
    }
}

/// Counts one `/items` request as in flight for as long as it lives; the
/// decrement happens on drop, so it also runs when hyper drops the handler
/// future because the client went away.
struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    fn enter(counters: &'a Counters) -> Self {
        counters.requests.fetch_add(1, Ordering::Relaxed);
        let now = counters.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        counters.max_in_flight.fetch_max(now, Ordering::Relaxed);
        Self(counters)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What every handler shares.
struct AppState {
    latency_min: Duration,
    latency_max: Duration,
    error_rate: f64,
    throttle_rate: f64,
    items: u64,
    slots: Option<Slots>,
    counters: Arc<Counters>,
    /// Cancelled when a graceful shutdown starts: sleeping handlers answer
    /// at once so that connections can close.
    shutdown: CancellationToken,
}

/// A running demo server (spawned on the current tokio runtime).
///
/// Dropping it without [`DemoServer::shutdown`] stops it abruptly: the
/// listener closes and open connections are dropped in the background.
pub struct DemoServer {
    addr: SocketAddr,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
    hard_stop: CancellationToken,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl DemoServer {
    /// Binds cfg.addr (port 0 = ephemeral) and serves in a spawned task until shut down.
    pub async fn start(cfg: ServerConfig) -> color_eyre::Result<DemoServer> {
        validate(&cfg)?;
        let listener = bind(cfg.addr)
            .await
            .wrap_err_with(|| format!("cannot listen on {} for the demo API", cfg.addr))?;
        let addr = listener
            .local_addr()
            .wrap_err("cannot read the demo API's bound address")?;

        let counters = Arc::new(Counters::default());
        let shutdown = CancellationToken::new();
        let hard_stop = CancellationToken::new();
        let state = Arc::new(AppState {
            latency_min: cfg.latency_min,
            latency_max: cfg.latency_max,
            error_rate: cfg.error_rate,
            throttle_rate: cfg.throttle_rate,
            items: cfg.items,
            slots: cfg.capacity.map(Slots::new),
            counters: Arc::clone(&counters),
            shutdown: shutdown.clone(),
        });
        let listener = DemoListener::new(listener, hard_stop.clone());
        let serve = axum::serve(listener, router(state))
            .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        let task = tokio::spawn(serve.into_future());

        Ok(DemoServer {
            addr,
            counters,
            shutdown,
            hard_stop,
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// "http://127.0.0.1:PORT" + path (path starts with '/').
    ///
    /// The bound address is used as is, except that an unspecified address
    /// (0.0.0.0 or ::) is replaced by the loopback address of its family.
    pub fn url(&self, path: &str) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}{path}", SocketAddr::new(ip, self.addr.port()))
    }

    /// Current counters, read directly (no HTTP).
    pub fn stats(&self) -> ServerStats {
        self.counters.snapshot()
    }

    /// What `POST /stats/reset` does, directly: `requests` to 0 and
    /// `max_in_flight` to the current `in_flight`.
    pub fn reset_stats(&self) -> ServerStats {
        self.counters.reset()
    }

    /// Graceful stop: stop accepting, drop connections, wait for the task.
    ///
    /// Requests still sleeping are answered 503 at once. Connections that
    /// have not closed after a short grace period (2 s) are dropped, and the
    /// server task is aborted if it still has not ended shortly after.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        let Some(mut task) = self.task.take() else {
            return;
        };
        if tokio::time::timeout(GRACE, &mut task).await.is_ok() {
            return;
        }
        self.hard_stop.cancel();
        if tokio::time::timeout(HARD_STOP_WAIT, &mut task)
            .await
            .is_ok()
        {
            return;
        }
        task.abort();
        // The result is a cancellation error (or the task's own end): either
        // way the server is gone.
        let _ = task.await;
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
        self.hard_stop.cancel();
    }
}

impl std::fmt::Debug for DemoServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoServer")
            .field("addr", &self.addr)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// `fetchtop serve`: start, print one line "fetchtop demo API listening on http://ADDR (GET /items/{id}, /compressed/{coding}, /bytes/{n}, /stats; POST /stats/reset)" to stderr, run until Ctrl-C (tokio::signal::ctrl_c), then shut down.
pub async fn serve_until_ctrl_c(cfg: ServerConfig) -> color_eyre::Result<()> {
    let server = DemoServer::start(cfg).await?;
    eprintln!(
        "fetchtop demo API listening on http://{} (GET /items/{{id}}, /compressed/{{coding}}, /bytes/{{n}}, /stats; POST /stats/reset)",
        server.addr()
    );
    let signal = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    signal.wrap_err("cannot wait for Ctrl-C")
}

fn validate(cfg: &ServerConfig) -> color_eyre::Result<()> {
    if cfg.latency_min > cfg.latency_max {
        return Err(eyre!(
            "demo API latency minimum {} is greater than its maximum {}",
            humantime::format_duration(cfg.latency_min),
            humantime::format_duration(cfg.latency_max)
        ));
    }
    if !(0.0..=1.0).contains(&cfg.throttle_rate) {
        return Err(eyre!(
            "demo API throttle rate {} is not a fraction from 0 to 1",
            cfg.throttle_rate
        ));
    }
    if !(0.0..=1.0).contains(&cfg.error_rate) {
        return Err(eyre!(
            "demo API error rate {} is not a fraction from 0 to 1",
            cfg.error_rate
        ));
    }
    Ok(())
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/items/{id}", get(get_item))
        .route("/stats", get(get_stats))
        .route("/stats/reset", post(reset_stats))
        .route("/compressed/{coding}", get(super::bodies::compressed))
        .route("/bytes/{n}", get(super::bodies::bytes))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn get_item(
    State(state): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let _in_flight = InFlight::enter(&state.counters);

    let text = match id {
        Ok(Path(text)) => text,
        // Only possible for a segment that is not valid UTF-8 once decoded.
        Err(_) => String::new(),
    };
    let id = match text.parse::<u64>() {
        Ok(id) if (1..=state.items).contains(&id) => id,
        _ => return no_such_item(text),
    };

    // With a known capacity, the delay below is a slot's service time.
    let _slot = match &state.slots {
        Some(slots) => tokio::select! {
            admitted = slots.enter() => match admitted {
                Admitted::Slot(p) => Some(p),
                Admitted::Refused => return too_many(),
            },
            () = state.shutdown.cancelled() => {
                return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
            }
        },
        None => None,
    };
    if !state.latency_max.is_zero() {
        let u = fastrand::f64();
        let delay = sample_delay(state.latency_min, state.latency_max, u);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = state.shutdown.cancelled() => {
                return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
            }
        }
    }

    if state.throttle_rate > 0.0 && fastrand::f64() < state.throttle_rate {
        return too_many();
    }

    if state.error_rate > 0.0 && fastrand::f64() < state.error_rate {
        let status = if fastrand::bool() {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        return error(status, "injected failure");
    }

    Json(Item::new(id)).into_response()
}

fn too_many() -> Response {
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, "slow down");
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("1"),
    );
    response
}

async fn get_stats(State(state): State<Arc<AppState>>) -> Json<ServerStats> {
    Json(state.counters.snapshot())
}

async fn reset_stats(State(state): State<Arc<AppState>>) -> Json<ServerStats> {
    Json(state.counters.reset())
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

async fn method_not_allowed() -> Response {
    error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
}

fn error(status: StatusCode, message: &'static str) -> Response {
    let body = ErrorBody {
        error: message,
        id: None,
    };
    (status, Json(body)).into_response()
}

fn no_such_item(text: String) -> Response {
    let body = ErrorBody {
        error: "no such item",
        id: Some(&text),
    };
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use tokio::net::TcpStream;

    fn cfg(latency: (Duration, Duration), error_rate: f64, items: u64) -> ServerConfig {
        ServerConfig {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            latency_min: latency.0,
            latency_max: latency.1,
            error_rate,
            items,
            throttle_rate: 0.0,
            capacity: None,
        }
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("reqwest client")
    }

    async fn get_json(client: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
        let resp = client.get(url).send().await.expect("request");
        let status = resp.status().as_u16();
        let ctype = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = resp.text().await.expect("body");
        assert_eq!(ctype, "application/json", "content-type of {url}: {body}");
        let value = serde_json::from_str(&body).expect("JSON body");
        (status, value)
    }

    /// Polls `stats()` until `pred` holds; panics with the last stats after 5 s.
    async fn wait_for(server: &DemoServer, what: &str, pred: impl Fn(ServerStats) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let stats = server.stats();
            if pred(stats) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {stats:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    const NO_LATENCY: (Duration, Duration) = (Duration::ZERO, Duration::ZERO);

    #[tokio::test(flavor = "multi_thread")]
    async fn items_answer_200_and_unknown_ids_404() {
        let server = DemoServer::start(cfg(NO_LATENCY, 0.0, 1000)).await.unwrap();
        let client = client();

        for id in [1u64, 42, 1000] {
            let (status, item) = get_json(&client, &server.url(&format!("/items/{id}"))).await;
            assert_eq!(status, 200, "{item}");
            assert_eq!(item["id"], id);
            assert_eq!(item["name"], format!("item-{id}"));
            assert_eq!(item["updated"], "2026-01-01T00:00:00Z");
            assert_eq!(item["tags"].as_array().map(Vec::len), Some(2));
            assert!(item["price_cents"].as_u64().is_some());
            assert!(item["in_stock"].is_boolean());
            // Deterministic per id.
            let (_, again) = get_json(&client, &server.url(&format!("/items/{id}"))).await;
            assert_eq!(item, again);
        }

        for id in ["0", "abc", "1001", "-1", "18446744073709551616"] {
            let (status, body) = get_json(&client, &server.url(&format!("/items/{id}"))).await;
            assert_eq!(status, 404, "/items/{id}: {body}");
            assert_eq!(body["error"], "no such item");
            assert_eq!(body["id"], id);
        }

        for path in ["/", "/items", "/items/1/extra", "/nope"] {
            let (status, body) = get_json(&client, &server.url(path)).await;
            assert_eq!(status, 404, "{path}: {body}");
            assert_eq!(body["error"], "not found");
        }

        let resp = client.post(server.url("/items/1")).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 405);

        // 3 + 3 repeats + 5 unknown ids hit /items/{id}.
        assert_eq!(server.stats().requests, 11);
        server.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn error_rate_one_gives_only_500_and_503() {
        let server = DemoServer::start(cfg(NO_LATENCY, 1.0, 100)).await.unwrap();
        let client = client();
        let (mut e500, mut e503) = (0, 0);
        for _ in 0..50 {
            let (status, body) = get_json(&client, &server.url("/items/7")).await;
            assert_eq!(body["error"], "injected failure");
            match status {
                500 => e500 += 1,
                503 => e503 += 1,
                other => panic!("unexpected status {other}: {body}"),
            }
        }
        assert!(e500 > 0 && e503 > 0, "500: {e500}, 503: {e503}");
        // Unknown ids are still 404, not injected failures.
        let (status, _) = get_json(&client, &server.url("/items/101")).await;
        assert_eq!(status, 404);
        server.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn stats_track_requests_and_in_flight() {
        let fixed = Duration::from_millis(300);
        let server = DemoServer::start(cfg((fixed, fixed), 0.0, 100))
            .await
            .unwrap();
        let client = client();

        let tasks: Vec<_> = (1..=20u64)
            .map(|id| {
                let client = client.clone();
                let url = server.url(&format!("/items/{id}"));
                tokio::spawn(async move {
                    let resp = client.get(url).send().await.expect("request");
                    resp.status().as_u16()
                })
            })
            .collect();

        wait_for(&server, "20 in flight", |s| s.in_flight == 20).await;
        assert!(server.stats().max_in_flight >= 20, "{:?}", server.stats());

        for task in tasks {
            assert_eq!(task.await.unwrap(), 200);
        }
        wait_for(&server, "0 in flight", |s| s.in_flight == 0).await;

        let (status, stats) = get_json(&client, &server.url("/stats")).await;
        assert_eq!(status, 200);
        let stats: ServerStats = serde_json::from_value(stats).unwrap();
        assert_eq!(
            stats,
            ServerStats {
                requests: 20,
                in_flight: 0,
                max_in_flight: 20
            }
        );
        assert_eq!(server.stats(), stats);

        let resp = client
            .post(server.url("/stats/reset"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let reset: ServerStats = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        assert_eq!(reset, ServerStats::default());
        assert_eq!(server.stats(), ServerStats::default());

        let (_, stats) = get_json(&client, &server.url("/stats")).await;
        assert_eq!(serde_json::from_value::<ServerStats>(stats).unwrap(), reset);
        server.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn dropped_clients_leave_no_request_in_flight() {
        // The latency is far longer than the deadline of `wait_for`, so only a
        // handler dropped on disconnect can bring in_flight back to 0 in time.
        let slow = Duration::from_secs(30);
        let server = DemoServer::start(cfg((slow, slow), 0.0, 100))
            .await
            .unwrap();

        // A client-side timeout closes the connection mid-sleep.
        let impatient = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_millis(50))
            .build()
            .unwrap();
        let err = impatient
            .get(server.url("/items/1"))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
        wait_for(&server, "the timed-out request to arrive", |s| {
            s.requests == 1
        })
        .await;
        wait_for(&server, "0 in flight after timeout", |s| s.in_flight == 0).await;

        // An aborted request task does the same.
        let client = client();
        let url = server.url("/items/2");
        let task = tokio::spawn(async move { client.get(url).send().await });
        wait_for(&server, "the second request in flight", |s| {
            s.in_flight == 1
        })
        .await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        wait_for(&server, "0 in flight after abort", |s| s.in_flight == 0).await;

        let stats = server.stats();
        assert_eq!((stats.requests, stats.max_in_flight), (2, 1), "{stats:?}");
        server.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn shutdown_answers_sleeping_requests_and_stops_listening() {
        let slow = Duration::from_secs(30);
        let server = DemoServer::start(cfg((slow, slow), 0.0, 100))
            .await
            .unwrap();
        let client = client();
        let url = server.url("/items/3");
        let pending = tokio::spawn({
            let client = client.clone();
            async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
        });
        wait_for(&server, "request in flight", |s| s.in_flight == 1).await;

        let stats_url = server.url("/stats");
        // A hang check, not a timing assertion: shutdown is bounded by ~2.5 s.
        tokio::time::timeout(Duration::from_secs(20), server.shutdown())
            .await
            .expect("shutdown hung");

        match pending.await.unwrap() {
            Ok(status) => assert_eq!(status, 503),
            Err(e) => assert!(!e.is_timeout(), "{e}"),
        }
        // Nothing listens any more.
        let fresh = reqwest::Client::builder().no_proxy().build().unwrap();
        assert!(fresh.get(stats_url).send().await.is_err());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn shutdown_drops_stalled_connections() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let server = DemoServer::start(cfg(NO_LATENCY, 0.0, 100)).await.unwrap();
        // Half a request head: graceful shutdown alone would wait on it forever.
        let mut stalled = TcpStream::connect(server.addr()).await.unwrap();
        stalled
            .write_all(b"GET /items/1 HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let served = tokio::spawn(async move {
            let mut buf = Vec::new();
            // Ends with EOF or a reset once the server drops the connection.
            let _ = stalled.read_to_end(&mut buf).await;
            buf
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!served.is_finished(), "connection closed before shutdown");

        tokio::time::timeout(Duration::from_secs(20), server.shutdown())
            .await
            .expect("shutdown hung");
        let answer = tokio::time::timeout(Duration::from_secs(5), served)
            .await
            .expect("stalled connection was not dropped")
            .unwrap();
        assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn start_rejects_bad_config() {
        let ms = Duration::from_millis;
        assert!(
            DemoServer::start(cfg((ms(10), ms(5)), 0.0, 1))
                .await
                .is_err()
        );
        assert!(DemoServer::start(cfg(NO_LATENCY, 1.5, 1)).await.is_err());
        assert!(
            DemoServer::start(cfg(NO_LATENCY, f64::NAN, 1))
                .await
                .is_err()
        );
        let server = DemoServer::start(cfg(NO_LATENCY, 0.0, 1)).await.unwrap();
        // The same address cannot be bound twice.
        let taken = ServerConfig {
            addr: server.addr(),
            ..cfg(NO_LATENCY, 0.0, 1)
        };
        assert!(DemoServer::start(taken).await.is_err());
        assert!(server.url("/stats").starts_with("http://127.0.0.1:"));
        assert_ne!(server.addr().port(), 0);
        server.shutdown().await;
    }

    #[test]
    fn default_config_matches_docs() {
        let d = ServerConfig::default();
        assert_eq!(d.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(d.latency_min, Duration::from_millis(5));
        assert_eq!(d.latency_max, Duration::from_millis(150));
        assert_eq!(d.error_rate, 0.01);
        assert_eq!(d.items, 1_000_000);
    }
}
