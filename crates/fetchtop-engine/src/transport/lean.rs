//! The lean transport for `http://` and `https://` URLs: the hot path of a
//! load test, on hyper's connection API with a pool of the shard's own
//! ([`super::pool`]). Redirects are followed here, across both schemes.
//!
//! `--http2` means prior knowledge over plain HTTP (nothing else could say
//! h2) and an ALPN offer over TLS (the server picks, and the record says
//! what it picked).

use crate::error::Result;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::Scheme;
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use reqwest::Url;

use super::lazy::Lazy;
use super::pool::{Pool, PoolError, Settings};
use super::route::Routing;
use super::tls::{client_config, explain};
use crate::http::{DEFAULT_USER_AGENT, RequestOptions};
use crate::pipeline::Attempt;
use crate::pipeline::classify::{chain, is_tls, timed_out};
use crate::record::{ErrorKind, Failure, Phase};
use crate::task::TaskSpec;

/// Bytes of a redirect's own body read so its connection can be reused;
/// past this the connection is dropped instead.
const REDIRECT_BODY_DRAIN: usize = 64 * 1024;

/// The lean transport: the shard's pool, and what every request sends.
#[derive(Debug)]
pub(super) struct Lean {
    pool: Pool,
    headers: HeaderMap,
    body: Option<Bytes>,
}

impl Lean {
    pub(super) fn new(options: &RequestOptions) -> Result<Lean> {
        let connector = |options: RequestOptions| {
            Some(Arc::new(Lazy::new(move || {
                client_config(&options)
                    .map(tokio_rustls::TlsConnector::from)
                    .map_err(|e| chain(&e))
            })))
        };
        let pool = Pool::new(Settings {
            connect_timeout: options.connect_timeout,
            http2: options.http2,
            tls: connector(options.clone()),
            // A proxy is spoken to in HTTP/1.1, whatever the origin speaks.
            proxy_tls: connector(RequestOptions {
                http2: false,
                ..options.clone()
            }),
            routing: Arc::new(Routing::new(options)),
        });
        Ok(Lean {
            pool,
            headers: default_headers(&options.headers, options.accept_encoding()),
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
        let mut fresh = false;
        let tracker = &spec.tracker;
        let (response, lease) = loop {
            let origin = self.pool.origin_of(&uri).ok_or_else(|| {
                Failure::new(ErrorKind::InvalidUrl, format!("not an http(s) URL: {uri}"))
            })?;
            let mut request = Request::new(Full::new(body.clone().unwrap_or_default()));
            *request.method_mut() = method.clone();
            *request.uri_mut() = uri.clone();
            *request.headers_mut() = headers.clone();
            let sent = self
                .pool
                .send(
                    &origin,
                    request,
                    (
                        || tracker.set_phase(Phase::Connecting),
                        // Only if still connecting: nothing else moves it meanwhile,
                        // but a phase the task set itself must not be undone.
                        || tracker.swap_phase(Phase::Connecting, Phase::Waiting),
                    ),
                    fresh,
                    &mut att.connection,
                )
                .await;
            let (response, lease) = match sent {
                // Once, and only what may be repeated (RFC 9110 9.2.2).
                Err(PoolError::Stale(_)) if !fresh && method.is_idempotent() => {
                    fresh = true;
                    continue;
                }
                sent => sent.map_err(send_error)?,
            };
            fresh = false;
            let Some(next) = redirect_target(&uri, &response, options.redirects)? else {
                break (response, lease);
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
            if drain(response.into_body()).await
                && let Some(lease) = lease
            {
                self.pool.give_back(lease);
            }
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
        // Read to its end: the connection can carry the next request.
        if let Some(lease) = lease {
            self.pool.give_back(lease);
        }
        Ok(())
    }
}

/// Headers sent with every request: reqwest's defaults (`User-Agent`,
/// `Accept: */*`) and the run's `Accept-Encoding`, if it asks for
/// compressed bodies, replaced by any `-H` of the same name.
fn default_headers(
    extra: &[(HeaderName, HeaderValue)],
    accept_encoding: Option<HeaderValue>,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::USER_AGENT,
        HeaderValue::from_static(DEFAULT_USER_AGENT),
    );
    headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    if let Some(value) = accept_encoding {
        headers.insert(header::ACCEPT_ENCODING, value);
    }
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

/// Reads a small redirect body to its end so the connection can go back to
/// the pool (true); a large or broken one just drops the connection.
async fn drain(mut body: Incoming) -> bool {
    let mut seen = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return false;
        };
        seen += frame.data_ref().map_or(0, |d| d.len());
        if seen > REDIRECT_BODY_DRAIN {
            return false;
        }
    }
    true
}

/// Sorts a failed send into a kind; the words match reqwest's so a record
/// reads the same whichever transport carried it.
fn send_error(e: PoolError) -> Failure {
    let kind = if timed_out(&e) {
        ErrorKind::Timeout
    } else {
        match e {
            PoolError::Connect(_) | PoolError::Proxy(_) => ErrorKind::Connect,
            PoolError::Tls(_) => ErrorKind::Tls,
            // Under TLS 1.3 a server refuses a client certificate after the
            // handshake, so its alert arrives with the first answer.
            PoolError::Http(ref h) | PoolError::Stale(ref h) if is_tls(h) => ErrorKind::Tls,
            PoolError::Http(_) | PoolError::Stale(_) => ErrorKind::Request,
        }
    };
    if kind == ErrorKind::Tls
        && let Some(why) = explain(&e)
    {
        return Failure::new(kind, format!("tls handshake error: {why}"));
    }
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
        let h = default_headers(&extra, None);
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
