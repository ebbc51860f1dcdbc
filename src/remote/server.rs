//! The `--metrics ADDR` endpoint: `/metrics`, `/snapshot` and `/control`
//! on one hyper HTTP/1 server, on the readers' runtime, reading the
//! engine's `watch<Snapshot>` and sending on its command channel.
//!
//! It serves while the run lasts and for a grace period after
//! ([`Remote::finish`]), so that a last scrape sees the end; `/control`
//! then answers 409.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::registry::Registry;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::control::{ControlRequest, Token};
use super::metrics;
use super::wire::LosslessHistogram;
use crate::engine::Command;
use crate::engine::job_shard::JobShard;
use crate::output::summary::LatencyMs;
use crate::snapshot::{RunState, Snapshot, StateCounts};

/// Longest wait for a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest `/control` body read.
const MAX_CONTROL_BODY: usize = 4096;

/// What the endpoint serves, and to whom.
pub struct RemoteSetup {
    /// The job shard, for the `shard` label and `/snapshot`.
    pub part: JobShard,
    /// The token `/control` requires.
    pub token: Token,
    /// The run's snapshots.
    pub snapshots: watch::Receiver<Snapshot>,
    /// The run's commands.
    pub commands: mpsc::Sender<Command>,
}

/// The endpoint's socket, bound before the run starts so that an address
/// in use fails at start-up, before any request is sent.
pub struct Listening {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
}

impl Listening {
    /// Binds `addr`; a one-line error when it cannot be had.
    pub async fn bind(addr: SocketAddr) -> Result<Listening, String> {
        let fail = |e: std::io::Error| format!("cannot serve --metrics on {addr}: {e}");
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(fail)?;
        let addr = listener.local_addr().map_err(fail)?;
        Ok(Listening { listener, addr })
    }

    /// The address bound (the port chosen when 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// The endpoint, while it serves.
pub struct Remote {
    addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    /// A generated token's file, removed when serving ends (the token dies with the run).
    token_file: Option<std::path::PathBuf>,
}

/// Shared by every connection.
struct State {
    part: JobShard,
    token: Token,
    snapshots: watch::Receiver<Snapshot>,
    commands: mpsc::Sender<Command>,
    registry: Registry,
}

impl Remote {
    /// Binds and starts serving; a one-line error when the address cannot be had.
    /// Starts serving on `listening`.
    pub fn start(listening: Listening, setup: RemoteSetup) -> Remote {
        let Listening { listener, addr } = listening;
        let state = Arc::new(State {
            part: setup.part,
            token: setup.token,
            registry: metrics::registry(setup.snapshots.clone(), setup.part),
            snapshots: setup.snapshots,
            commands: setup.commands,
        });
        let stop = CancellationToken::new();
        let task = tokio::spawn(accept_loop(listener, state, stop.clone()));
        Remote {
            addr,
            stop,
            task,
            token_file: None,
        }
    }

    /// The address it listens on (the port chosen when 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Removes `path` when serving ends.
    pub fn remove_at_finish(&mut self, path: std::path::PathBuf) {
        self.token_file = Some(path);
    }

    /// Serves for `grace` more (cut short by SIGINT, SIGTERM or SIGHUP),
    /// then stops.
    pub async fn finish(self, grace: Duration) {
        let mut signals = crate::interrupt::Signals::new();
        tokio::select! {
            () = tokio::time::sleep(grace) => {}
            () = signals.next() => {}
        }
        self.stop.cancel();
        let _ = self.task.await;
        if let Some(path) = self.token_file {
            let _ = std::fs::remove_file(path);
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    stop: CancellationToken,
) {
    let mut connections = JoinSet::new();
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors, a reset before accept: the next one may do.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let state = Arc::clone(&state);
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(route(&state, req).await) }
            });
            // A client that never finishes its headers is dropped rather
            // than held open (the endpoint may face other machines).
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    connections.abort_all();
}

fn answer(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

fn json(status: StatusCode, value: &impl Serialize) -> Response<Full<Bytes>> {
    let body =
        serde_json::to_vec(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}").into_bytes());
    answer(status, "application/json", body)
}

fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json(status, &serde_json::json!({ "error": message }))
}

async fn route(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => {
            let accept = req
                .headers()
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            let (text, kind) = metrics::encode(&state.registry, accept);
            answer(StatusCode::OK, kind, text)
        }
        (&Method::GET, "/snapshot") => {
            // Copied out first: encoding the histogram must not hold the
            // watch, which the engine writes 30 times a second.
            let snap = state.snapshots.borrow().clone();
            json(StatusCode::OK, &SnapshotDoc::new(&snap, state.part))
        }
        (&Method::POST, "/control") => control(state, req).await,
        (_, "/metrics" | "/snapshot" | "/control") => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "wrong method: GET /metrics, GET /snapshot, POST /control",
        ),
        _ => error(
            StatusCode::NOT_FOUND,
            "no such path: GET /metrics, GET /snapshot, POST /control",
        ),
    }
}

async fn control(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let authorization = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .map(http::HeaderValue::as_bytes);
    if !state.token.admits(authorization) {
        let mut resp = error(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required (Authorization: Bearer TOKEN)",
        );
        resp.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
        return resp;
    }
    let body = match Limited::new(req.into_body(), MAX_CONTROL_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body is more than 4 KiB or was cut off",
            );
        }
    };
    let request = match ControlRequest::parse(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let (finished, commands) = {
        let s = state.snapshots.borrow();
        (s.state == RunState::Finished, s.commands)
    };
    if finished || state.commands.send(request.command()).await.is_err() {
        return error(
            StatusCode::CONFLICT,
            "the run has finished: there is nothing to control",
        );
    }
    json(
        StatusCode::OK,
        &serde_json::json!({ "ok": true, "applied_after": commands + 1 }),
    )
}

/// An empty histogram of the engine's precision.
fn empty_histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new(3)
        .unwrap_or_else(|_| unreachable!("3 significant figures is valid"))
}

/// `/snapshot`: the run now, as one JSON object, its latency histogram
/// lossless so that readers can merge instances exactly.
#[derive(Debug, Serialize)]
pub struct SnapshotDoc {
    /// The job shard.
    pub job_shard: JobShard,
    /// What is fetched.
    pub target: String,
    /// Where the run is.
    pub state: RunState,
    /// Seconds since the start.
    pub elapsed_s: f64,
    /// The limit set (kept while paused).
    pub limit: u64,
    /// Whether admission is paused.
    pub paused: bool,
    /// `--rate`, when there is one.
    pub rate_limit: Option<f64>,
    /// Requests in flight.
    pub in_flight: u64,
    /// Items this shard's source holds, when known.
    pub total: Option<u64>,
    /// Items handed to a task.
    pub dispatched: u64,
    /// Items skipped as already recorded.
    pub skipped: u64,
    /// Items by state.
    pub counts: StateCounts,
    /// Body bytes received.
    pub bytes: u64,
    /// Attempts after the first.
    pub retries: u64,
    /// Completed per second, last few seconds.
    pub rate_recent: f64,
    /// Completed per second, whole run.
    pub rate_overall: f64,
    /// Percentiles of the whole run (ms).
    pub latency_ms: LatencyMs,
    /// Responses per status code.
    pub status: BTreeMap<String, u64>,
    /// Items per error kind.
    pub errors: BTreeMap<String, u64>,
    /// Heartbeat lag now and its recent p99, in ms.
    pub lag_ms: f64,
    /// 99th percentile of the lag, last 5 s.
    pub lag_p99_ms: f64,
    /// Commands applied so far.
    pub commands: u64,
    /// The whole run's latency histogram.
    pub latency_histogram: Option<LosslessHistogram>,
}

impl SnapshotDoc {
    /// From a snapshot.
    pub fn new(s: &Snapshot, part: JobShard) -> SnapshotDoc {
        SnapshotDoc {
            job_shard: part,
            target: s.target.clone(),
            state: s.state,
            elapsed_s: s.elapsed.as_secs_f64(),
            limit: s.limit,
            paused: s.paused,
            rate_limit: s.rate_limit,
            in_flight: s.in_flight,
            total: s.total,
            dispatched: s.dispatched,
            skipped: s.skipped,
            counts: s.counts,
            bytes: s.bytes,
            retries: s.retries,
            rate_recent: s.rate_recent,
            rate_overall: s.rate_overall,
            latency_ms: s.latency.into(),
            status: s.status.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
            errors: s
                .errors
                .iter()
                .map(|(k, n)| (k.as_str().to_string(), *n))
                .collect(),
            lag_ms: s.executor.lag_now_ms,
            lag_p99_ms: s.executor.lag_p99_ms,
            commands: s.commands,
            // Before the first statistics (the first few ms), an empty one.
            latency_histogram: Some(match s.latency_histogram.as_deref() {
                Some(h) => LosslessHistogram::encode(h),
                None => LosslessHistogram::encode(&empty_histogram()),
            }),
        }
    }
}
