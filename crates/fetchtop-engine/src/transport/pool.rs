//! A shard's connections, on hyper's connection API.
//!
//! Each shard has its own pool and its tasks all run on the shard's one
//! thread, so the lock below is never contended and nothing is shared with
//! another shard. It replaces hyper-util's general pool, which hashes,
//! locks and queues a waiter per request, and whose waiter queue is
//! cleaned with a linear scan each time a waiter goes away: quadratic
//! when 18,000 requests connect at once and are then cancelled (a third of
//! all CPU time in a profile of cancel-all).
//!
//! The rule is simple because the concurrency limit already bounds the
//! connections: a request takes an idle connection to its origin if there
//! is one, and opens a new one otherwise; it never waits for another
//! request's connection. An HTTP/1.1 connection goes back to the pool when
//! its response body has been read to the end; an HTTP/2 connection is
//! shared by every request to its origin while it stays open.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;

use super::route::{self, OpenError, Routing, Via};
use super::stream::Stream;

/// The most an HTTP/1 connection buffers, read side and write side.
///
/// hyper starts each connection's read buffer at 8 KiB and doubles it while
/// reads fill it, up to ~408 KiB (`8192 + 4096 * 100`). Small JSON answers
/// never grow it, but one large body does, and the grown buffer stays with
/// the connection: with up to 18,000 connections that is gigabytes in the
/// worst case. 64 KiB keeps large bodies to a few big reads (a TLS record
/// is 16 KiB; loopback reads rarely return more than 64 KiB) and caps the
/// worst case at ~1.2 GB for 18,000 connections instead of ~7 GB.
///
/// Not `read_buf_exact_size(8 KiB)`: hyper also uses this limit for the
/// response head, so an exact 8 KiB buffer would refuse any answer whose
/// headers pass 8 KiB (long cookies, CSP), which reqwest accepts.
const HTTP1_MAX_BUF: usize = 64 * 1024;

/// Where a connection goes: scheme, host and port; and, worked out once,
/// the `Host` header its HTTP/1.1 requests carry and the authority text it
/// was read from (so the next URI of the same authority is matched by a
/// string compare instead of being parsed again: host and port parsing
/// was 3% of a request's instructions).
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    https: bool,
    host: Arc<str>,
    port: u16,
    authority: Arc<str>,
    host_header: http::HeaderValue,
    via: Via,
}

impl PartialEq for Origin {
    fn eq(&self, other: &Origin) -> bool {
        self.https == other.https && self.port == other.port && self.host == other.host
    }
}

impl Eq for Origin {}

impl Origin {
    /// The origin of an absolute `http` or `https` URI.
    pub(crate) fn of(uri: &Uri) -> Option<Origin> {
        let (https, host, port) = Origin::parts(uri)?;
        let default = if https { 443 } else { 80 };
        let shown = uri.host().unwrap_or(host);
        let host_header = match uri.port_u16() {
            Some(p) if p != default => format!("{shown}:{p}"),
            _ => shown.to_string(),
        };
        Some(Origin {
            https,
            host: Arc::from(host),
            port,
            authority: Arc::from(uri.authority().map_or("", |a| a.as_str())),
            host_header: http::HeaderValue::try_from(host_header).ok()?,
            via: Via::Direct,
        })
    }

    /// The origin of `uri`, with the way `routing` takes to it.
    pub(crate) fn routed(uri: &Uri, routing: &Routing) -> Option<Origin> {
        let mut origin = Origin::of(uri)?;
        origin.via = routing.via(uri);
        Some(origin)
    }

    /// Whether `uri` names this origin by the same scheme and authority text.
    fn spelled_as(&self, uri: &Uri) -> bool {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return false,
        };
        self.https == https
            && uri
                .authority()
                .is_some_and(|a| a.as_str() == &*self.authority)
    }

    fn parts(uri: &Uri) -> Option<(bool, &str, u16)> {
        let https = match uri.scheme_str()? {
            "http" => false,
            "https" => true,
            _ => return None,
        };
        let host = uri.host()?;
        // An IPv6 literal comes bracketed in the URI; connect wants it bare.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Some((https, host, port))
    }
}

/// Why a request could not be sent.
#[derive(Debug)]
pub(crate) enum PoolError {
    /// The TCP connection could not be opened (refused, unreachable, timed out).
    Connect(io::Error),
    /// A proxy on the way would not carry the connection.
    Proxy(io::Error),
    /// The TLS handshake failed.
    Tls(io::Error),
    /// HTTP on the connection failed (the handshake, the request or the answer).
    Http(hyper::Error),
    /// A kept-alive connection closed after the request was written and
    /// before any answer: the server (or a proxy that does not keep
    /// connections) had closed it meanwhile. An idempotent request may be
    /// sent again on a fresh connection, as curl and browsers do.
    Stale(hyper::Error),
}

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoolError::Connect(e) => write!(f, "tcp connect error: {e}"),
            PoolError::Proxy(e) => write!(f, "{e}"),
            PoolError::Tls(e) => write!(f, "tls handshake error: {e}"),
            PoolError::Http(e) | PoolError::Stale(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PoolError::Connect(e) | PoolError::Proxy(e) | PoolError::Tls(e) => Some(e),
            PoolError::Http(e) | PoolError::Stale(e) => Some(e),
        }
    }
}

/// A connection lent to one request, to give back with [`Pool::give_back`]
/// once its response body has been read to the end.
#[derive(Debug)]
pub(crate) struct Lease {
    origin: Origin,
    conn: H1Conn,
}

/// An HTTP/1.1 connection: where requests go in, and a token its task
/// cancels when it has closed. A request cancelled or failed midway keeps
/// its permit until then: the server still counts the request until the
/// socket is closed, and a new one must not start beside it.
#[derive(Debug)]
struct H1Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    closed: CancellationToken,
}

/// How a pool opens connections.
#[derive(Clone)]
pub(crate) struct Settings {
    /// Give up a TCP connect after this long.
    pub connect_timeout: Duration,
    /// Speak HTTP/2: by prior knowledge over plain TCP, and offered by ALPN
    /// over TLS (the server may still choose HTTP/1.1).
    pub http2: bool,
    /// The TLS client for `https` origins (none: `https` fails to connect).
    pub tls: Option<Arc<super::lazy::Lazy<TlsConnector>>>,
    /// The TLS client for https proxies (HTTP/1.1 only: a proxy is asked
    /// for a tunnel or a forward in HTTP/1.1).
    pub proxy_tls: Option<Arc<super::lazy::Lazy<TlsConnector>>>,
    /// Proxies, connect rules and the Unix socket.
    pub routing: Arc<Routing>,
}

/// One shard's connections. See the module documentation.
pub(crate) struct Pool {
    settings: Settings,
    h1: http1::Builder,
    idle: Mutex<Idle>,
}

/// Idle connections by origin. A run talks to few origins (a load test to
/// one), so a short list searched in order beats hashing the origin twice
/// per request (SipHash was 1% of a request's instructions).
#[derive(Default)]
struct Idle {
    h1: Vec<(Origin, Vec<H1Conn>)>,
    h2: Vec<(Origin, http2::SendRequest<Full<Bytes>>)>,
}

impl Idle {
    fn h1_for(&mut self, origin: &Origin) -> &mut Vec<H1Conn> {
        let i = match self.h1.iter().position(|(o, _)| o == origin) {
            Some(i) => i,
            None => {
                self.h1.push((origin.clone(), Vec::new()));
                self.h1.len() - 1
            }
        };
        &mut self.h1[i].1
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("http2", &self.settings.http2)
            .field("tls", &self.settings.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// What a request was sent on.
enum Sender {
    H1 { conn: H1Conn, reused: bool },
    H2(http2::SendRequest<Full<Bytes>>),
}

impl Pool {
    /// An empty pool.
    pub(crate) fn new(settings: Settings) -> Pool {
        let mut h1 = http1::Builder::new();
        h1.max_buf_size(HTTP1_MAX_BUF);
        Pool {
            settings,
            h1,
            idle: Mutex::new(Idle::default()),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The origin of `uri`, shared with the pool's entry for it when there
    /// is one (no allocation per request on the hot path).
    pub(crate) fn origin_of(&self, uri: &Uri) -> Option<Origin> {
        let known = self
            .idle()
            .h1
            .iter()
            .map(|(o, _)| o)
            .find(|o| o.spelled_as(uri))
            .cloned();
        known.or_else(|| Origin::routed(uri, &self.settings.routing))
    }

    /// Sends `request` to `origin` on an idle connection, or on a new one
    /// (`connecting` is called before a connection is opened, `connected`
    /// after). A request that an idle connection could not take (the server
    /// had closed it) is sent again on a new connection, once. `closed` is
    /// set, before the request goes out, to the token of the HTTP/1.1
    /// connection carrying it, so a caller whose attempt ends midway can wait
    /// for that connection to close. `fresh` skips the idle connections
    /// (after [`PoolError::Stale`]).
    pub(crate) async fn send(
        &self,
        origin: &Origin,
        request: Request<Full<Bytes>>,
        (connecting, connected): (impl Fn(), impl Fn()),
        fresh: bool,
        closed: &mut Option<CancellationToken>,
    ) -> Result<(Response<Incoming>, Option<Lease>), PoolError> {
        let mut request = request;
        let idle = if fresh {
            None
        } else {
            self.checkout(origin).await
        };
        let sender = match idle {
            Some(s) => s,
            None => {
                connecting();
                let s = Box::pin(self.connect(origin)).await;
                connected();
                s?
            }
        };
        match sender {
            Sender::H2(mut sender) => {
                let response = sender
                    .send_request(request)
                    .await
                    .map_err(PoolError::Http)?;
                Ok((response, None))
            }
            Sender::H1 { mut conn, reused } => {
                match &origin.via {
                    Via::Forward(_) => absolute_form(&mut request, origin),
                    _ => origin_form(&mut request, origin),
                }
                *closed = Some(conn.closed.clone());
                match conn.sender.try_send_request(request).await {
                    Ok(response) => Ok((
                        response,
                        Some(Lease {
                            origin: origin.clone(),
                            conn,
                        }),
                    )),
                    Err(mut e) => match (reused, e.take_message()) {
                        // Never written: the idle connection had gone stale.
                        (true, Some(unsent)) => {
                            request = unsent;
                            connecting();
                            let fresh = Box::pin(self.connect(origin)).await;
                            connected();
                            let Sender::H1 { mut conn, .. } = fresh? else {
                                return Err(PoolError::Http(e.into_error()));
                            };
                            *closed = Some(conn.closed.clone());
                            let response = conn
                                .sender
                                .send_request(request)
                                .await
                                .map_err(PoolError::Http)?;
                            Ok((
                                response,
                                Some(Lease {
                                    origin: origin.clone(),
                                    conn,
                                }),
                            ))
                        }
                        // Written, and the connection closed with no answer:
                        // the server had let it go as the request went out.
                        (true, None) if e.error().is_incomplete_message() => {
                            Err(PoolError::Stale(e.into_error()))
                        }
                        _ => Err(PoolError::Http(e.into_error())),
                    },
                }
            }
        }
    }

    /// Gives a connection back for the next request to its origin.
    pub(crate) fn give_back(&self, lease: Lease) {
        if lease.conn.sender.is_closed() {
            return;
        }
        self.idle().h1_for(&lease.origin).push(lease.conn);
    }

    /// Idle HTTP/1.1 connections to `origin` now.
    #[cfg(test)]
    pub(crate) fn idle_count(&self, origin: &Origin) -> usize {
        self.idle().h1_for(origin).len()
    }

    async fn checkout(&self, origin: &Origin) -> Option<Sender> {
        loop {
            let found = {
                let mut idle = self.idle();
                if let Some(i) = idle.h2.iter().position(|(o, _)| o == origin) {
                    if !idle.h2[i].1.is_closed() {
                        return Some(Sender::H2(idle.h2[i].1.clone()));
                    }
                    idle.h2.swap_remove(i);
                }
                idle.h1_for(origin).pop()
            };
            let mut conn = found?;
            if conn.sender.is_closed() {
                continue;
            }
            // The connection's task may not have seen the last response's
            // end yet: that takes a poll, not a round trip.
            if conn.sender.ready().await.is_ok() {
                return Some(Sender::H1 { conn, reused: true });
            }
        }
    }

    /// Opens a connection to `origin`. Callers box this future: it holds a
    /// TLS handshake's state, which a request that reuses a connection
    /// (nearly all of them) should not carry in its task (measured: the
    /// item task was 4.9 KB, a fifth of a connection's memory).
    async fn connect(&self, origin: &Origin) -> Result<Sender, PoolError> {
        // The whole connect, TLS handshake included, as reqwest bounds it.
        let limit = self.settings.connect_timeout;
        let (stream, h2) = tokio::time::timeout(limit, self.open(origin))
            .await
            .map_err(|_| {
                PoolError::Connect(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection (TCP and TLS handshake) timed out",
                ))
            })??;
        self.handshake(origin, stream, h2).await
    }

    /// Opens the byte stream to `origin`; true when it speaks HTTP/2.
    async fn open(&self, origin: &Origin) -> Result<(Stream, bool), PoolError> {
        let stream = route::open(
            &self.settings.routing,
            &origin.via,
            &origin.host,
            origin.port,
            |stream, host| async move {
                let (stream, _) = self.secure(&self.settings.proxy_tls, host, stream).await?;
                Ok(stream)
            },
        )
        .await
        .map_err(|e| match e {
            OpenError::Connect(e) => PoolError::Connect(e),
            OpenError::Proxy(e) => PoolError::Proxy(e),
        })?;
        if !origin.https {
            // A forwarding proxy is spoken to in HTTP/1.1.
            let h2 = self.settings.http2 && !matches!(origin.via, Via::Forward(_));
            return Ok((stream, h2));
        }
        self.secure(&self.settings.tls, origin.host.to_string(), stream)
            .await
            .map_err(PoolError::Tls)
    }

    /// TLS over `stream` to `host`, with the client `tls`; true when ALPN
    /// settled on HTTP/2.
    async fn secure(
        &self,
        tls: &Option<Arc<super::lazy::Lazy<TlsConnector>>>,
        host: String,
        stream: Stream,
    ) -> io::Result<(Stream, bool)> {
        let Some(tls) = tls else {
            return Err(io::Error::other("no TLS client"));
        };
        let tls = tls
            .get()
            .map_err(|why| io::Error::other(format!("cannot set up TLS: {why}")))?;
        let name = rustls::pki_types::ServerName::try_from(host)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let h2 = |alpn: Option<&[u8]>| alpn == Some(b"h2");
        match stream {
            Stream::Plain(tcp) => {
                let tls = tls.connect(name, tcp).await?;
                let speaks_h2 = h2(tls.get_ref().1.alpn_protocol());
                Ok((Stream::Tls(Box::new(tls)), speaks_h2))
            }
            layered => {
                let tls = tls.connect(name, layered).await?;
                let speaks_h2 = h2(tls.get_ref().1.alpn_protocol());
                Ok((Stream::Layered(Box::new(tls)), speaks_h2))
            }
        }
    }

    async fn handshake(
        &self,
        origin: &Origin,
        stream: Stream,
        h2: bool,
    ) -> Result<Sender, PoolError> {
        let io = TokioIo::new(stream);
        if h2 {
            let mut builder = http2::Builder::new(TokioExecutor::new());
            builder.timer(TokioTimer::new());
            let (sender, conn) = builder.handshake(io).await.map_err(PoolError::Http)?;
            tokio::spawn(async move {
                // Its requests see how it ended; nothing else is waiting for it.
                let _ = conn.await;
            });
            let mut idle = self.idle();
            idle.h2.retain(|(o, _)| o != origin);
            idle.h2.push((origin.clone(), sender.clone()));
            drop(idle);
            Ok(Sender::H2(sender))
        } else {
            let (sender, conn) = self.h1.handshake(io).await.map_err(PoolError::Http)?;
            let closed = CancellationToken::new();
            let on_close = closed.clone();
            tokio::spawn(async move {
                let _ = conn.await;
                on_close.cancel();
            });
            Ok(Sender::H1 {
                conn: H1Conn { sender, closed },
                reused: false,
            })
        }
    }
}

/// Through a forwarding proxy the request line keeps the whole URL, and
/// the proxy's credentials go with each request.
fn absolute_form(request: &mut Request<Full<Bytes>>, origin: &Origin) {
    let headers = request.headers_mut();
    if !headers.contains_key(http::header::HOST) {
        headers.insert(http::header::HOST, origin.host_header.clone());
    }
    if let Some(auth) = origin.via.forward_auth() {
        headers.insert(http::header::PROXY_AUTHORIZATION, auth.clone());
    }
}

/// HTTP/1.1 wants the path alone on the request line and the host in a
/// `Host` header (HTTP/2 takes the whole URI, as `:scheme` and `:authority`).
fn origin_form(request: &mut Request<Full<Bytes>>, origin: &Origin) {
    if !request.headers().contains_key(http::header::HOST) {
        request
            .headers_mut()
            .insert(http::header::HOST, origin.host_header.clone());
    }
    // Built from the parsed path, not parsed again from text.
    let mut parts = http::uri::Parts::default();
    parts.path_and_query = Some(
        request
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
    );
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_default_their_ports_and_unbracket_ipv6() {
        let o = Origin::of(&"http://h/x".parse().unwrap()).unwrap();
        assert_eq!((o.https, &*o.host, o.port), (false, "h", 80));
        assert_eq!(o.host_header, "h");
        let o = Origin::of(&"https://[::1]:8443/x".parse().unwrap()).unwrap();
        assert_eq!((o.https, &*o.host, o.port), (true, "::1", 8443));
        assert_eq!(o.host_header, "[::1]:8443");
        assert!(o.spelled_as(&"https://[::1]:8443/other".parse().unwrap()));
        assert!(!o.spelled_as(&"http://[::1]:8443/other".parse().unwrap()));
        let same = Origin::of(&"http://h:80/".parse().unwrap()).unwrap();
        assert_eq!(same, Origin::of(&"http://h/".parse().unwrap()).unwrap());
        assert!(Origin::of(&"/relative".parse().unwrap()).is_none());
        assert!(Origin::of(&"ftp://h/".parse().unwrap()).is_none());
    }

    #[test]
    fn http1_requests_carry_the_path_and_a_host_header() {
        let uri: Uri = "http://h:8080/a/b?q=1".parse().unwrap();
        let origin = Origin::of(&uri).unwrap();
        let mut req = Request::get(uri).body(Full::new(Bytes::new())).unwrap();
        origin_form(&mut req, &origin);
        assert_eq!(req.uri(), "/a/b?q=1");
        assert_eq!(req.headers()["host"], "h:8080");
        let uri: Uri = "https://h:443".parse().unwrap();
        let origin = Origin::of(&uri).unwrap();
        let mut req = Request::get(uri)
            .header("host", "custom")
            .body(Full::new(Bytes::new()))
            .unwrap();
        origin_form(&mut req, &origin);
        assert_eq!(req.uri(), "/");
        assert_eq!(req.headers()["host"], "custom", "a -H Host wins");
    }

    #[tokio::test]
    async fn connections_are_reused_and_a_stale_one_is_replaced() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // A keep-alive server that closes every connection after two answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    for _ in 0..2 {
                        let mut seen = Vec::new();
                        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                            match s.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => seen.extend_from_slice(&buf[..n]),
                            }
                        }
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if s.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let pool = Pool::new(Settings {
            connect_timeout: Duration::from_secs(5),
            http2: false,
            tls: None,
            proxy_tls: None,
            routing: Arc::default(),
        });
        let uri: Uri = format!("http://{addr}/x").parse().unwrap();
        let origin = Origin::of(&uri).unwrap();
        for _ in 0..6 {
            let req = Request::get(uri.clone())
                .body(Full::new(Bytes::new()))
                .unwrap();
            let (resp, lease) = pool
                .send(&origin, req, (|| {}, || {}), false, &mut None)
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            let body = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap();
            assert_eq!(&body.to_bytes()[..], b"ok");
            pool.give_back(lease.unwrap());
            // Let the server's close, if any, reach us.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let n = accepted.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(
            n, 3,
            "two answers per connection: 6 requests, 3 connections"
        );
        assert!(pool.idle_count(&origin) <= 1);
    }
}
