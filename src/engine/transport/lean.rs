//! hyper-util's pooled client for `http://` and `https://` URLs: the hot
//! path of a load test. Redirects are followed here, across both schemes
//! (reqwest's middleware did that before).
//!
//! Two hyper-util clients, one per scheme, because `--http2` means
//! different things on each: prior knowledge over plain HTTP (nothing else
//! could say h2), an ALPN offer over TLS (the server picks, and the record
//! says what it picked). Each has its own pool; a redirect from one scheme
//! to the other simply uses the other client.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use color_eyre::eyre::Result;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::Scheme;
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::{DefaultServerNameResolver, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Builder, Client};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use reqwest::Url;

use super::tls::client_config;
use crate::engine::http::{DEFAULT_USER_AGENT, RequestOptions};
use crate::engine::pipeline::Attempt;
use crate::engine::pipeline::classify::{chain, is_tls, timed_out};
use crate::engine::record::{ErrorKind, Failure, Phase};
use crate::engine::registry::Tracker;
use crate::engine::task::TaskSpec;

tokio::task_local! {
    /// The tracker of the request whose future is being polled, so that the
    /// shared connector can tell that request it is opening a connection.
    static REQUESTER: Arc<Tracker>;
}

/// Bytes of a redirect's own body read so its connection can be reused;
/// past this the connection is dropped instead.
const REDIRECT_BODY_DRAIN: usize = 64 * 1024;

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
/// Not `http1_read_buf_exact_size(8 KiB)`: hyper also uses this limit for
/// the response head, so an exact 8 KiB buffer would refuse any answer
/// whose headers pass 8 KiB (long cookies, CSP), which reqwest accepts.
/// `writev` stays hyper's default (vectored where the stream supports it):
/// a GET has no body to copy, and a small POST body is one extra iovec.
const HTTP1_MAX_BUF: usize = 64 * 1024;

/// The lean transport: a client per scheme, and what every request sends.
#[derive(Debug)]
pub(super) struct Lean {
    plain: Client<Traced<HttpConnector>, Full<Bytes>>,
    tls: Client<Traced<HttpsConnector<HttpConnector>>, Full<Bytes>>,
    headers: HeaderMap,
    body: Option<Bytes>,
}

impl Lean {
    pub(super) fn new(options: &RequestOptions) -> Result<Lean> {
        let mut tcp = HttpConnector::new();
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(options.connect_timeout));
        // The TLS connector hands its TCP connector `https://` URIs.
        let mut under_tls = tcp.clone();
        under_tls.enforce_http(false);
        let https = HttpsConnector::new(
            under_tls,
            client_config(options)?,
            true,
            Arc::new(DefaultServerNameResolver::default()),
        );
        // --http2 over plain HTTP is prior knowledge; over TLS, ALPN decides
        // (hyper-util reads the negotiated protocol off the connection).
        let plain = builder()
            .http2_only(options.http2)
            .build(Traced::new(tcp, options.connect_timeout));
        let tls = builder().build(Traced::new(https, options.connect_timeout));
        Ok(Lean {
            plain,
            tls,
            headers: default_headers(&options.headers),
            body: options.body.clone().map(Bytes::from),
        })
    }

    pub(super) async fn attempt(
        &self,
        uri: &Uri,
        options: &RequestOptions,
        spec: &TaskSpec,
        att: &mut Attempt,
    ) -> Result<(), Failure> {
        let mut uri = uri.clone();
        let mut method = options.method.clone();
        let mut body = self.body.clone();
        let mut headers = self.headers.clone();
        let mut hops = 0;
        let response = loop {
            let mut request = Request::new(Full::new(body.clone().unwrap_or_default()));
            *request.method_mut() = method.clone();
            *request.uri_mut() = uri.clone();
            *request.headers_mut() = headers.clone();
            let sent = if uri.scheme() == Some(&Scheme::HTTPS) {
                self.tls.request(request)
            } else {
                self.plain.request(request)
            };
            let sent = REQUESTER.scope(Arc::clone(&spec.tracker), sent);
            let response = sent.await.map_err(send_error)?;
            let Some(next) = redirect_target(&uri, &response, options.redirects)? else {
                break response;
            };
            hops += 1;
            if hops > options.redirects {
                return Err(Failure::new(
                    ErrorKind::Redirect,
                    format!(
                        "error following redirect: too many redirects (more than {})",
                        options.redirects
                    ),
                ));
            }
            if changes_to_get(response.status(), &method) {
                method = Method::GET;
                body = None;
                headers.remove(header::CONTENT_TYPE);
            }
            drain(response.into_body()).await;
            if !same_origin(&uri, &next) {
                for name in SENSITIVE {
                    headers.remove(name);
                }
            }
            uri = Uri::try_from(next.as_str()).map_err(|e| {
                Failure::new(
                    ErrorKind::Redirect,
                    format!(
                        "error following redirect: invalid URL {:?}: {e}",
                        next.as_str()
                    ),
                )
            })?;
        };
        att.answered(
            spec,
            (response.status(), response.version()),
            response.headers(),
        );
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(body_error)?;
            if let Some(chunk) = frame.data_ref() {
                att.take_chunk(chunk, options, spec)?;
            }
        }
        Ok(())
    }
}

/// The settings both clients share.
fn builder() -> Builder {
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_timer(TokioTimer::new())
        // Idle connections are what let a load test reuse sockets; keep
        // as many as could be in flight.
        .pool_max_idle_per_host(usize::MAX)
        .http1_max_buf_size(HTTP1_MAX_BUF);
    builder
}

/// Headers sent with every request: reqwest's defaults (`User-Agent`,
/// `Accept: */*`), replaced by any `-H` of the same name.
fn default_headers(extra: &[(HeaderName, HeaderValue)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::USER_AGENT,
        HeaderValue::from_static(DEFAULT_USER_AGENT),
    );
    headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    for (name, _) in extra {
        headers.remove(name);
    }
    for (name, value) in extra {
        headers.append(name.clone(), value.clone());
    }
    headers
}

/// Headers not carried to another host on a redirect (as reqwest does).
const SENSITIVE: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::COOKIE,
    header::PROXY_AUTHORIZATION,
    header::WWW_AUTHENTICATE,
];

/// Where a redirect response points, if it is one to follow.
fn redirect_target(
    from: &Uri,
    response: &http::Response<Incoming>,
    allowed: usize,
) -> Result<Option<Url>, Failure> {
    let status = response.status();
    let is_redirect = matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    );
    if allowed == 0 || !is_redirect {
        return Ok(None);
    }
    let Some(location) = response.headers().get(header::LOCATION) else {
        return Ok(None);
    };
    let bad = |why: String| {
        Failure::new(
            ErrorKind::Redirect,
            format!("error following redirect: {why}"),
        )
    };
    let location = std::str::from_utf8(location.as_bytes())
        .map_err(|_| bad("the Location header is not UTF-8".into()))?;
    let base = Url::parse(&from.to_string()).map_err(|e| bad(e.to_string()))?;
    let next = base
        .join(location)
        .map_err(|e| bad(format!("invalid Location {location:?}: {e}")))?;
    match next.scheme() {
        "http" | "https" => Ok(Some(next)),
        other => Err(bad(format!("redirect to unsupported scheme {other:?}"))),
    }
}

/// 303 always, and 301/302 after a POST, become a GET without a body.
fn changes_to_get(status: StatusCode, method: &Method) -> bool {
    match status {
        StatusCode::SEE_OTHER => method != Method::HEAD,
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => method == Method::POST,
        _ => false,
    }
}

fn same_origin(a: &Uri, b: &Url) -> bool {
    let default_port = if a.scheme() == Some(&Scheme::HTTPS) {
        443
    } else {
        80
    };
    a.scheme_str() == Some(b.scheme())
        && a.host() == b.host_str()
        && a.port_u16().unwrap_or(default_port) == b.port_or_known_default().unwrap_or(0)
}

/// Reads a small redirect body to its end so the connection goes back to
/// the pool; a large or broken one just drops the connection.
async fn drain(mut body: Incoming) {
    let mut seen = 0;
    while let Some(Ok(frame)) = body.frame().await {
        seen += frame.data_ref().map_or(0, |d| d.len());
        if seen > REDIRECT_BODY_DRAIN {
            return;
        }
    }
}

/// Sorts a failed send into a kind; the words match reqwest's so a record
/// reads the same whichever transport carried it.
fn send_error(e: hyper_util::client::legacy::Error) -> Failure {
    let kind = if timed_out(&e) {
        ErrorKind::Timeout
    } else if is_tls(&e) {
        ErrorKind::Tls
    } else if e.is_connect() {
        ErrorKind::Connect
    } else {
        ErrorKind::Request
    };
    Failure::new(kind, format!("error sending request: {}", chain(&e)))
}

fn body_error(e: hyper::Error) -> Failure {
    let kind = if timed_out(&e) {
        ErrorKind::Timeout
    } else {
        ErrorKind::Body
    };
    Failure::new(kind, format!("error decoding response body: {}", chain(&e)))
}

/// A connector's error, boxed: the plain and TLS connectors fail with
/// different types, and the connect timeout below adds one of its own.
type BoxError = Box<dyn StdError + Send + Sync>;

/// A connector that tells the requester when it opens a connection, and
/// bounds the whole connect, TLS handshake included (as reqwest's connect
/// timeout does; hyper-util's own bounds only the TCP connect).
#[derive(Clone, Debug)]
struct Traced<C> {
    inner: C,
    limit: Duration,
}

impl<C> Traced<C> {
    fn new(inner: C, limit: Duration) -> Traced<C> {
        Traced { inner, limit }
    }
}

type Connecting<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

impl<C> tower_service::Service<Uri> for Traced<C>
where
    C: tower_service::Service<Uri>,
    C::Future: Send + 'static,
    C::Response: 'static,
    C::Error: Into<BoxError>,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Connecting<C::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        // The pool starts a connect from inside the request's future, so
        // the task-local names the request that asked for it.
        let requester = REQUESTER.try_with(Arc::clone).ok();
        if let Some(t) = &requester {
            t.set_phase(Phase::Connecting);
        }
        let connect = self.inner.call(uri);
        let limit = self.limit;
        Box::pin(async move {
            let result = match tokio::time::timeout(limit, connect).await {
                Ok(result) => result.map_err(Into::into),
                Err(_) => Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connection (TCP and TLS handshake) timed out",
                )) as BoxError),
            };
            if let Some(t) = requester {
                // Only if still connecting: the request may have taken an
                // idle connection meanwhile and moved on.
                t.swap_phase(Phase::Connecting, Phase::Waiting);
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_headers_replace_the_defaults_of_their_name() {
        let extra = vec![
            (header::ACCEPT, HeaderValue::from_static("application/json")),
            (header::ACCEPT, HeaderValue::from_static("text/plain")),
            (
                HeaderName::from_static("x-a"),
                HeaderValue::from_static("1"),
            ),
        ];
        let h = default_headers(&extra);
        let accept: Vec<_> = h.get_all(header::ACCEPT).iter().collect();
        assert_eq!(accept, ["application/json", "text/plain"]);
        assert_eq!(h[header::USER_AGENT], DEFAULT_USER_AGENT);
        assert_eq!(h["x-a"], "1");
    }

    #[test]
    fn methods_change_as_browsers_and_reqwest_do() {
        assert!(changes_to_get(StatusCode::SEE_OTHER, &Method::PUT));
        assert!(!changes_to_get(StatusCode::SEE_OTHER, &Method::HEAD));
        assert!(changes_to_get(StatusCode::FOUND, &Method::POST));
        assert!(!changes_to_get(StatusCode::FOUND, &Method::PUT));
        assert!(!changes_to_get(
            StatusCode::TEMPORARY_REDIRECT,
            &Method::POST
        ));
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let a: Uri = "http://h:80/x".parse().unwrap();
        assert!(same_origin(&a, &Url::parse("http://h/y").unwrap()));
        assert!(!same_origin(&a, &Url::parse("http://h:81/y").unwrap()));
        assert!(!same_origin(&a, &Url::parse("https://h/y").unwrap()));
        assert!(!same_origin(&a, &Url::parse("http://other/y").unwrap()));
        let tls: Uri = "https://h/x".parse().unwrap();
        assert!(same_origin(&tls, &Url::parse("https://h:443/y").unwrap()));
        assert!(!same_origin(&tls, &Url::parse("https://h:80/y").unwrap()));
    }
}
