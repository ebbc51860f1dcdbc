//! hyper-util's pooled client for `http://` URLs: the hot path of a load
//! test. Redirects are followed here (reqwest's middleware did that
//! before); a redirect to `https://` is handed to reqwest.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use reqwest::Url;

use super::tls::Reqwest;
use crate::engine::http::{DEFAULT_USER_AGENT, RequestOptions};
use crate::engine::pipeline::Attempt;
use crate::engine::pipeline::classify::{chain, timed_out};
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

/// The plain-HTTP transport.
#[derive(Debug)]
pub(super) struct PlainHttp {
    client: Client<TracedConnector, Full<Bytes>>,
    headers: HeaderMap,
    body: Option<Bytes>,
    /// Takes over when a redirect leads to `https://`.
    tls: Reqwest,
}

impl PlainHttp {
    pub(super) fn new(options: &RequestOptions, tls: Reqwest) -> PlainHttp {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(options.connect_timeout));
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_timer(TokioTimer::new())
            // Idle connections are what let a load test reuse sockets; keep
            // as many as could be in flight.
            .pool_max_idle_per_host(usize::MAX)
            .http2_only(options.http2);
        PlainHttp {
            client: builder.build(TracedConnector(connector)),
            headers: default_headers(&options.headers),
            body: options.body.clone().map(Bytes::from),
            tls,
        }
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
            let sent = REQUESTER.scope(Arc::clone(&spec.tracker), self.client.request(request));
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
            match Uri::try_from(next.as_str()) {
                Ok(next_uri) if next.scheme() == "http" => uri = next_uri,
                _ => return Box::pin(self.tls.attempt(next, options, spec, att)).await,
            }
        };
        att.answered(spec, response.status(), response.headers());
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
    a.scheme_str() == Some(b.scheme())
        && a.host() == b.host_str()
        && a.port_u16().or(Some(80)) == b.port_or_known_default()
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

/// hyper-util's connector, telling the requester when it opens a connection.
#[derive(Clone, Debug)]
struct TracedConnector(HttpConnector);

type Connecting = Pin<
    Box<
        dyn Future<
                Output = Result<
                    <HttpConnector as tower_service::Service<Uri>>::Response,
                    <HttpConnector as tower_service::Service<Uri>>::Error,
                >,
            > + Send,
    >,
>;

impl tower_service::Service<Uri> for TracedConnector {
    type Response = <HttpConnector as tower_service::Service<Uri>>::Response;
    type Error = <HttpConnector as tower_service::Service<Uri>>::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        // The pool starts a connect from inside the request's future, so
        // the task-local names the request that asked for it.
        let requester = REQUESTER.try_with(Arc::clone).ok();
        if let Some(t) = &requester {
            t.set_phase(Phase::Connecting);
        }
        let connect = self.0.call(uri);
        Box::pin(async move {
            let result = connect.await;
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
    }
}
