//! The fault listener: a deliberately bad HTTP/1.1 server on raw TCP, for
//! trying fetchtop (and testing it) against what real servers do wrong.
//!
//! Raw TCP because several faults are things a well-behaved HTTP library
//! refuses to do: a malformed status line, a reset instead of an answer, a
//! chunked body cut off before its last chunk. Every answer closes the
//! connection, so each request meets its fault on a fresh socket.
//!
//! Paths (see [`FAULT_PATHS`]):
//! - `/reset`: the connection is reset (RST) once the request has arrived.
//! - `/stall`: 200 headers promising a body, then nothing, ever.
//! - `/slow`: a 200 body of 64 bytes at one byte per second.
//! - `/endless`: a chunked 200 body that never ends, as fast as it can go.
//! - `/redirect-loop`: 302 to itself, forever.
//! - `/429/{secs}/{key}`: the first request for each path gets 429 with
//!   `Retry-After: secs`, later ones 200. `/429-date/{secs}/{key}` says the
//!   same as an HTTP date.
//! - `/503/{n}/{key}`: the first `n` requests for each path get 503, later
//!   ones 200 (a burst of errors that passes).
//! - `/malformed`: a response that is not HTTP.
//! - `/chunked-close`: a chunked body closed in the middle of a chunk.
//! - `/ok`: a small 200, to show the run goes on.
//! - anything else: 404.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use color_eyre::eyre::WrapErr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The fault paths, each with what it does: for the startup line and docs.
pub const FAULT_PATHS: &[(&str, &str)] = &[
    ("/reset", "connection reset before the response"),
    ("/stall", "headers, then nothing ever"),
    ("/slow", "a 64-byte body at 1 byte/s"),
    ("/endless", "a body that never ends"),
    ("/redirect-loop", "302 to itself"),
    (
        "/429/{secs}/{key}",
        "429 with Retry-After once per path, then 200",
    ),
    (
        "/429-date/{secs}/{key}",
        "the same with an HTTP-date Retry-After",
    ),
    (
        "/503/{n}/{key}",
        "503 for the first n requests per path, then 200",
    ),
    ("/malformed", "a response that is not HTTP"),
    ("/chunked-close", "a chunked body cut off mid-chunk"),
    ("/ok", "a small 200"),
];

/// Largest request head read; a longer one is answered 431.
const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Paths whose requests are counted (for 429 and 503); the table is
/// cleared when full so a long run cannot grow it without bound.
const MAX_COUNTED_PATHS: usize = 100_000;
/// Body of `/slow`, sent one byte per second.
const SLOW_BODY: usize = 64;

/// A running fault listener (spawned on the current tokio runtime).
/// Dropping it stops it, and every connection it holds open.
pub struct FaultServer {
    addr: SocketAddr,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl FaultServer {
    /// Binds `addr` (port 0: an ephemeral port) and serves faults until stopped.
    pub async fn start(addr: SocketAddr) -> color_eyre::Result<FaultServer> {
        let listener = TcpListener::bind(addr)
            .await
            .wrap_err_with(|| format!("cannot listen on {addr} for the fault server"))?;
        let addr = listener
            .local_addr()
            .wrap_err("cannot read the fault server's bound address")?;
        let stop = CancellationToken::new();
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let task = tokio::spawn(accept_loop(listener, stop.clone(), counts));
        Ok(FaultServer {
            addr,
            stop,
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// "http://ADDR" + path (path starts with '/').
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops accepting and drops every open connection.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            // It ends as soon as it sees the token; either way it is gone.
            let _ = task.await;
        }
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl std::fmt::Debug for FaultServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

type Counts = Arc<Mutex<HashMap<String, u32>>>;

async fn accept_loop(listener: TcpListener, stop: CancellationToken, counts: Counts) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, _)) => {
                let stop = stop.clone();
                let counts = Arc::clone(&counts);
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        // A client that went away is no concern of a fault server.
                        _ = serve(stream, &counts) => {}
                    }
                });
            }
            // Out of file descriptors or a peer that gave up: try again shortly.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Reads the request head and returns its path, or `None` if the client
/// closed, stalled or sent something too long.
async fn read_path(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            if head.len() > MAX_HEAD {
                return None;
            }
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Some(())
    };
    tokio::time::timeout(HEAD_TIMEOUT, read).await.ok()??;
    let line = head.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let _method = parts.next()?;
    let target = parts.next()?;
    Some(target.split('?').next().unwrap_or(target).to_string())
}

/// How many times `path` has been asked for, this one included.
fn count(counts: &Counts, path: &str) -> u32 {
    let mut map = counts.lock().unwrap_or_else(PoisonError::into_inner);
    if map.len() >= MAX_COUNTED_PATHS && !map.contains_key(path) {
        map.clear();
    }
    let n = map.entry(path.to_string()).or_insert(0);
    *n = n.saturating_add(1);
    *n
}

fn head(status: &str, extra: &str, body_len: Option<usize>) -> String {
    let length = match body_len {
        Some(n) => format!("Content-Length: {n}\r\n"),
        None => "Transfer-Encoding: chunked\r\n".to_string(),
    };
    format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: text/plain\r\n{extra}{length}\r\n"
    )
}

async fn answer(stream: &mut TcpStream, status: &str, extra: &str, body: &str) -> io::Result<()> {
    let text = head(status, extra, Some(body.len())) + body;
    stream.write_all(text.as_bytes()).await?;
    stream.shutdown().await
}

/// Waits until the client closes its side (or errors), reading and
/// discarding whatever it sends.
async fn until_client_closes(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

async fn serve(mut stream: TcpStream, counts: &Counts) -> io::Result<()> {
    let Some(path) = read_path(&mut stream).await else {
        return Ok(());
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["reset"] => {
            // SO_LINGER 0 turns the close into a reset: the client sees
            // "connection reset by peer" instead of a clean end.
            stream.set_zero_linger()?;
            drop(stream);
            Ok(())
        }
        ["stall"] => {
            stream
                .write_all(head("200 OK", "", Some(100)).as_bytes())
                .await?;
            until_client_closes(&mut stream).await;
            Ok(())
        }
        ["slow"] => {
            stream
                .write_all(head("200 OK", "", Some(SLOW_BODY)).as_bytes())
                .await?;
            for _ in 0..SLOW_BODY {
                stream.write_all(b".").await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            stream.shutdown().await
        }
        ["endless"] => {
            stream
                .write_all(head("200 OK", "", None).as_bytes())
                .await?;
            let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
            loop {
                stream.write_all(chunk.as_bytes()).await?;
            }
        }
        ["redirect-loop"] => {
            answer(&mut stream, "302 Found", "Location: /redirect-loop\r\n", "").await
        }
        ["429" | "429-date", secs, _, ..] => {
            let Ok(secs) = secs.parse::<u64>() else {
                return answer(&mut stream, "404 Not Found", "", "bad seconds\n").await;
            };
            if count(counts, &path) > 1 {
                return answer(&mut stream, "200 OK", "", "ok after 429\n").await;
            }
            let when = if segments[0] == "429" {
                secs.to_string()
            } else {
                let at = SystemTime::now() + Duration::from_secs(secs);
                httpdate::fmt_http_date(at)
            };
            let extra = format!("Retry-After: {when}\r\n");
            answer(&mut stream, "429 Too Many Requests", &extra, "slow down\n").await
        }
        ["503", n, _, ..] => {
            let Ok(n) = n.parse::<u32>() else {
                return answer(&mut stream, "404 Not Found", "", "bad count\n").await;
            };
            if count(counts, &path) > n {
                answer(&mut stream, "200 OK", "", "ok after 503s\n").await
            } else {
                answer(&mut stream, "503 Service Unavailable", "", "burst\n").await
            }
        }
        ["malformed"] => {
            stream
                .write_all(b"HTTP/1.1 2OO NOT OK\r\nthis is not a header\r\n\x00\x01\x02\r\n\r\n")
                .await?;
            stream.shutdown().await
        }
        ["chunked-close"] => {
            stream
                .write_all(head("200 OK", "", None).as_bytes())
                .await?;
            // Promises 0x100 bytes, sends 10, then closes.
            stream.write_all(b"100\r\n0123456789").await?;
            stream.shutdown().await
        }
        ["ok"] => answer(&mut stream, "200 OK", "", "ok\n").await,
        _ => answer(&mut stream, "404 Not Found", "", "no such fault\n").await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_path_and_stay_bounded() {
        let counts: Counts = Arc::default();
        assert_eq!(count(&counts, "/503/2/a"), 1);
        assert_eq!(count(&counts, "/503/2/a"), 2);
        assert_eq!(count(&counts, "/503/2/b"), 1);
        for i in 0..MAX_COUNTED_PATHS + 5 {
            count(&counts, &format!("/x/{i}"));
        }
        let len = counts.lock().map(|m| m.len()).unwrap_or(0);
        assert!(len <= MAX_COUNTED_PATHS, "{len}");
    }

    #[test]
    fn heads_say_close_and_length() {
        let h = head("200 OK", "", Some(3));
        assert!(h.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(h.contains("Connection: close\r\n"));
        assert!(h.contains("Content-Length: 3\r\n"));
        assert!(h.ends_with("\r\n\r\n"));
        assert!(head("200 OK", "", None).contains("Transfer-Encoding: chunked"));
    }
}
