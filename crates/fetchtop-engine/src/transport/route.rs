//! How a connection reaches its origin: straight (to the URL's host, to
//! where `--resolve` / `--connect-to` point it, or to `--unix-socket`), or
//! through a proxy: an HTTP(S) proxy forwarding `http://` requests, a
//! `CONNECT` tunnel for `https://`, or SOCKS5. Worked out once per origin
//! ([`Routing::via`]); the pool calls [`open`] only when it opens a
//! connection, so none of this is on the per-request path.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use http::{HeaderValue, Uri};
use hyper_util::client::legacy::connect::proxy::SocksV5;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tower_service::Service;

use super::stream::Stream;
use crate::http::RequestOptions;
use crate::net::proxy::{ProxyKind, route, shown};
use crate::net::{ConnectRules, Destination};

/// The routing rules of a run, shared by a shard's connections.
#[derive(Debug, Default)]
pub(crate) struct Routing {
    proxies: Option<Matcher>,
    rules: ConnectRules,
    unix_socket: Option<PathBuf>,
}

impl Routing {
    pub(crate) fn new(options: &RequestOptions) -> Routing {
        Routing {
            proxies: options.proxy.any().then(|| options.proxy.matcher()),
            rules: options.connect.clone(),
            unix_socket: options.unix_socket.clone(),
        }
    }

    /// The way to `uri`'s origin.
    pub(crate) fn via(&self, uri: &Uri) -> Via {
        // A Unix socket is the whole route: curl ignores proxies with it.
        if self.unix_socket.is_some() {
            return Via::Direct;
        }
        let Some((kind, intercept)) = self.proxies.as_ref().and_then(|m| route(m, uri)) else {
            return Via::Direct;
        };
        let proxy = intercept.uri();
        let default_port = if kind == ProxyKind::Https { 443 } else { 1080 };
        let default_port = if kind == ProxyKind::Http {
            80
        } else {
            default_port
        };
        let hop = Arc::new(Hop {
            kind,
            uri: proxy.clone(),
            host: proxy
                .host()
                .unwrap_or_default()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: proxy.port_u16().unwrap_or(default_port),
            basic: intercept.basic_auth().cloned(),
            raw: intercept
                .raw_auth()
                .map(|(u, p)| (u.to_string(), p.to_string())),
        });
        match (kind, uri.scheme_str()) {
            (ProxyKind::Socks5 | ProxyKind::Socks5h, _) => Via::Socks(hop),
            (_, Some("https")) => Via::Tunnel(hop),
            _ => Via::Forward(hop),
        }
    }
}

/// How one origin is reached.
#[derive(Clone, Debug, Default)]
pub(crate) enum Via {
    /// Straight to the origin.
    #[default]
    Direct,
    /// To an HTTP(S) proxy that forwards each `http://` request, sent in
    /// absolute form.
    Forward(Arc<Hop>),
    /// Through an HTTP(S) proxy's `CONNECT` tunnel (`https://` URLs).
    Tunnel(Arc<Hop>),
    /// Through a SOCKS5 proxy.
    Socks(Arc<Hop>),
}

impl Via {
    /// The `Proxy-Authorization` a forwarded request carries, if any.
    pub(crate) fn forward_auth(&self) -> Option<&HeaderValue> {
        match self {
            Via::Forward(hop) => hop.basic.as_ref(),
            _ => None,
        }
    }
}

/// A proxy on the way.
#[derive(Debug)]
pub(crate) struct Hop {
    kind: ProxyKind,
    uri: Uri,
    host: String,
    port: u16,
    basic: Option<HeaderValue>,
    raw: Option<(String, String)>,
}

impl Hop {
    /// The proxy's URL as it may be shown (credentials never are).
    fn shown(&self) -> String {
        shown(&self.uri.to_string())
    }
}

/// Why a connection could not be opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The server (or the proxy) could not be reached.
    Connect(io::Error),
    /// The proxy was reached but would not carry the connection.
    Proxy(io::Error),
}

/// Opens the byte stream to `host:port` by `via`. `secure_proxy` wraps a
/// stream to an https proxy in TLS.
pub(crate) async fn open<F, Fut>(
    routing: &Routing,
    via: &Via,
    host: &str,
    port: u16,
    secure_proxy: F,
) -> Result<Stream, OpenError>
where
    F: FnOnce(Stream, String) -> Fut,
    Fut: Future<Output = io::Result<Stream>>,
{
    let hop = match via {
        Via::Direct => {
            return direct(routing, host, port)
                .await
                .map_err(OpenError::Connect);
        }
        Via::Forward(hop) | Via::Tunnel(hop) | Via::Socks(hop) => hop,
    };
    let tcp = TcpStream::connect((hop.host.as_str(), hop.port))
        .await
        .map_err(|e| {
            OpenError::Connect(io::Error::new(
                e.kind(),
                format!("cannot reach proxy {}: {e}", hop.shown()),
            ))
        })?;
    let _ = tcp.set_nodelay(true);
    let mut stream = Stream::Plain(tcp);
    if hop.kind == ProxyKind::Https {
        stream = secure_proxy(stream, hop.host.clone())
            .await
            .map_err(|e| proxy_error(hop, &format!("TLS to the proxy failed: {e}")))?;
    }
    match via {
        Via::Tunnel(_) => tunnel(stream, hop, host, port).await,
        Via::Socks(_) => socks(stream, hop, host, port).await,
        _ => Ok(stream),
    }
}

/// Straight to the origin, or where the rules send it.
async fn direct(routing: &Routing, host: &str, port: u16) -> io::Result<Stream> {
    if let Some(path) = &routing.unix_socket {
        let unix = UnixStream::connect(path).await.map_err(|e| {
            io::Error::new(e.kind(), format!("unix socket {}: {e}", path.display()))
        })?;
        return Ok(Stream::Unix(unix));
    }
    // Without rules, nothing to look up or copy (a load test opens
    // thousands of connections at once).
    let tcp = if routing.rules.is_empty() {
        TcpStream::connect((host, port)).await?
    } else {
        match routing.rules.destination(host, port) {
            Destination::Name(host, port) => TcpStream::connect((host.as_str(), port)).await?,
            Destination::Addrs(addrs) => TcpStream::connect(addrs.as_slice()).await?,
        }
    };
    // Requests are small and answers awaited: Nagle's delay only hurts.
    let _ = tcp.set_nodelay(true);
    Ok(Stream::Plain(tcp))
}

fn proxy_error(hop: &Hop, why: &str) -> OpenError {
    OpenError::Proxy(io::Error::other(format!("proxy {}: {why}", hop.shown())))
}

/// Largest `CONNECT` answer head read.
const TUNNEL_HEAD_MAX: usize = 16 * 1024;

/// Asks an HTTP proxy for a tunnel to `host:port`. Written here rather than
/// taken from hyper-util, whose tunnel drops the proxy's status: a user
/// behind a corporate proxy needs to see the "403 Forbidden" it answered.
async fn tunnel(mut stream: Stream, hop: &Hop, host: &str, port: u16) -> Result<Stream, OpenError> {
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n").into_bytes();
    if let Some(auth) = &hop.basic {
        head.extend_from_slice(b"Proxy-Authorization: ");
        head.extend_from_slice(auth.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let broken = |e: io::Error| proxy_error(hop, &format!("the tunnel broke: {e}"));
    stream.write_all(&head).await.map_err(broken)?;
    let mut answer = Vec::with_capacity(256);
    let mut buf = [0u8; 1024];
    loop {
        // One byte past the head would be the server's: read no further
        // than the blank line (the head is small, and this happens once
        // per connection).
        let n = stream.read(&mut buf[..1]).await.map_err(broken)?;
        if n == 0 {
            return Err(proxy_error(
                hop,
                "closed the connection before answering CONNECT",
            ));
        }
        answer.push(buf[0]);
        if answer.ends_with(b"\r\n\r\n") {
            break;
        }
        if answer.len() > TUNNEL_HEAD_MAX {
            return Err(proxy_error(hop, "its answer to CONNECT is too long"));
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&answer) {
        Ok(httparse::Status::Complete(_)) => match response.code {
            Some(200..=299) => Ok(stream),
            Some(code) => {
                let reason = crate::text::inert(response.reason.unwrap_or(""));
                let hint = if matches!(code, 401 | 407) {
                    " (put the credentials in the proxy URL: http://user:password@host:port)"
                } else {
                    ""
                };
                Err(proxy_error(
                    hop,
                    &format!("refused the tunnel to {authority}: {code} {reason}{hint}")
                        .replace("  ", " "),
                ))
            }
            None => Err(proxy_error(hop, "answered CONNECT without a status")),
        },
        _ => Err(proxy_error(
            hop,
            "answered CONNECT with something that is not HTTP",
        )),
    }
}

/// Asks a SOCKS5 proxy for a connection to `host:port` (hyper-util's
/// handshake; `socks5h` leaves the name to the proxy).
async fn socks(stream: Stream, hop: &Hop, host: &str, port: u16) -> Result<Stream, OpenError> {
    let mut socks = SocksV5::new(hop.uri.clone(), Opened(Some(TokioIo::new(stream))))
        .local_dns(hop.kind == ProxyKind::Socks5);
    if let Some((user, pass)) = &hop.raw {
        socks = socks.with_auth(user.clone(), pass.clone());
    }
    let target = if host.contains(':') {
        format!("http://[{host}]:{port}/")
    } else {
        format!("http://{host}:{port}/")
    };
    let target = target
        .parse::<Uri>()
        .map_err(|e| proxy_error(hop, &format!("cannot name {host}:{port} to it: {e}")))?;
    match socks.call(target).await {
        Ok(io) => Ok(io.into_inner()),
        Err(e) => Err(proxy_error(hop, &format!("SOCKS5: {e}"))),
    }
}

/// A connection already open, handed to hyper-util's SOCKS handshake
/// (which wants a connector to call).
struct Opened(Option<TokioIo<Stream>>);

impl Service<Uri> for Opened {
    type Response = TokioIo<Stream>;
    type Error = io::Error;
    type Future = std::future::Ready<io::Result<TokioIo<Stream>>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), io::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        std::future::ready(
            self.0
                .take()
                .ok_or_else(|| io::Error::other("the proxy connection was used twice")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::ProxySettings;

    fn routing(proxy: &str, no: &str) -> Routing {
        Routing::new(&RequestOptions {
            proxy: ProxySettings::new(Some(proxy), Some(no), |_| None).unwrap(),
            ..RequestOptions::default()
        })
    }

    #[test]
    fn each_scheme_takes_its_way_through_a_proxy() {
        let r = routing("http://u:p@proxy.test:3128", "skip.test");
        let via = r.via(&"http://a.test/x".parse().unwrap());
        assert!(matches!(via, Via::Forward(_)), "{via:?}");
        assert_eq!(
            via.forward_auth().map(|h| h.to_str().unwrap().to_string()),
            Some("Basic dTpw".to_string())
        );
        let Via::Tunnel(hop) = r.via(&"https://a.test/x".parse().unwrap()) else {
            panic!("https goes through CONNECT");
        };
        assert_eq!((hop.host.as_str(), hop.port), ("proxy.test", 3128));
        assert!(!hop.shown().contains(":p@"), "{}", hop.shown());
        assert!(matches!(
            r.via(&"http://skip.test/".parse().unwrap()),
            Via::Direct
        ));
        let s = routing("socks5h://s.test", "");
        let Via::Socks(hop) = s.via(&"https://a.test/".parse().unwrap()) else {
            panic!("socks for every scheme");
        };
        assert_eq!(hop.port, 1080);
        assert!(matches!(
            Routing::default().via(&"http://a/".parse().unwrap()),
            Via::Direct
        ));
    }
}
