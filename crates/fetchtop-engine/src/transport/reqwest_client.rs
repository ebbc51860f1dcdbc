//! reqwest for every URL under `--transport reqwest` (the reference the lean
//! path is compared against, tests/transport.rs), and for URLs that only
//! `url`'s fuller parser takes.

use crate::error::{Context, Result};
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, USER_AGENT};
use reqwest::{Client, Url};

use crate::http::{DEFAULT_USER_AGENT, RequestOptions};
use crate::pipeline::Attempt;
use crate::pipeline::classify::{chain, is_tls};
use crate::record::{ErrorKind, Failure};
use crate::task::TaskSpec;

/// reqwest's client, with its own connection pool.
#[derive(Clone, Debug)]
pub(super) struct Reqwest {
    client: Client,
    body: Option<Bytes>,
}

impl Reqwest {
    pub(super) fn new(options: &RequestOptions) -> Result<Reqwest> {
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static(DEFAULT_USER_AGENT));
        if let Some(value) = options.accept_encoding() {
            headers.insert(reqwest::header::ACCEPT_ENCODING, value);
        }
        for (name, value) in &options.headers {
            if name == USER_AGENT {
                headers.insert(name.clone(), value.clone());
            } else {
                headers.append(name.clone(), value.clone());
            }
        }
        let redirect = if options.redirects == 0 {
            reqwest::redirect::Policy::none()
        } else {
            reqwest::redirect::Policy::limited(options.redirects)
        };
        let mut builder = Client::builder()
            .default_headers(headers)
            .connect_timeout(options.connect_timeout)
            .redirect(redirect)
            .tcp_nodelay(true)
            // Idle connections are what let a load test reuse sockets; keep
            // as many as could be in flight.
            .pool_max_idle_per_host(usize::MAX)
            .danger_accept_invalid_certs(options.insecure)
            // Bodies are decoded in the pipeline (pipeline/decode.rs), as on
            // the lean path: reqwest hands them over as they came.
            .no_gzip()
            .no_deflate()
            .no_brotli()
            .no_zstd();
        if options.http2 {
            builder = builder.http2_prior_knowledge();
        }
        // The lean path's TLS configuration: the same trust (`--cacert`),
        // client certificate and `--insecure`, so the transports agree.
        let tls = super::tls::client_config(options)?;
        builder = builder.tls_backend_preconfigured(rustls::ClientConfig::clone(&tls));
        // The run's proxy rules, not reqwest's own reading of the
        // environment: one rule for both transports (net/proxy.rs).
        builder = builder.no_proxy();
        let no = reqwest::NoProxy::from_string(options.proxy.no_proxy());
        if let Some(url) = options.proxy.http() {
            let proxy = reqwest::Proxy::http(url).context("cannot use the http proxy")?;
            builder = builder.proxy(proxy.no_proxy(no.clone()));
        }
        if let Some(url) = options.proxy.https() {
            let proxy = reqwest::Proxy::https(url).context("cannot use the https proxy")?;
            builder = builder.proxy(proxy.no_proxy(no));
        }
        for (host, addrs) in options.connect.resolved() {
            builder = builder.resolve_to_addrs(host, &addrs);
        }
        if let Some(path) = &options.unix_socket {
            builder = builder.unix_socket(path.clone());
        }
        let client = builder.build().context("cannot build the HTTP client")?;
        let body = options.body.clone().map(Bytes::from);
        Ok(Reqwest { client, body })
    }

    pub(super) async fn attempt(
        &self,
        url: Url,
        options: &RequestOptions,
        spec: &TaskSpec,
        att: &mut Attempt,
    ) -> Result<(), Failure> {
        let request = || {
            let request = self.client.request(options.method.clone(), url.clone());
            match &self.body {
                Some(body) => request.body(body.clone()),
                None => request,
            }
        };
        let mut response = match request().send().await {
            // As on the lean path: a kept-alive connection the server had
            // closed as the request went out; once, if it may be repeated.
            Err(e) if options.method.is_idempotent() && went_stale(&e) => {
                request().send().await.map_err(classify)?
            }
            sent => sent.map_err(classify)?,
        };
        att.answered(
            spec,
            (response.status(), response.version()),
            response.headers(),
        );
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            att.take_chunk(&chunk, options, spec)?;
        }
        Ok(())
    }
}

/// Whether the connection closed after the request went out and before
/// any answer (hyper's "connection closed before message completed").
fn went_stale(e: &reqwest::Error) -> bool {
    crate::pipeline::classify::sources(e)
        .into_iter()
        .filter_map(|s| s.downcast_ref::<hyper::Error>())
        .any(hyper::Error::is_incomplete_message)
}

/// Sorts a reqwest error into a kind, with a message that names the cause
/// (the whole chain of sources) but not the URL, which the record has already.
fn classify(e: reqwest::Error) -> Failure {
    let e = e.without_url();
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if is_tls(&e) {
        if let Some(why) = super::tls::explain(&e) {
            return Failure::new(ErrorKind::Tls, format!("tls handshake error: {why}"));
        }
        ErrorKind::Tls
    } else if e.is_connect() {
        ErrorKind::Connect
    } else if e.is_redirect() {
        ErrorKind::Redirect
    } else if e.is_builder() {
        // The first URL and the headers were checked before sending, so a
        // request reqwest cannot build is one a redirect led to.
        return Failure::new(
            ErrorKind::Redirect,
            format!("error following redirect: {}", chain(&e)),
        );
    } else if e.is_body() || e.is_decode() {
        ErrorKind::Body
    } else {
        ErrorKind::Request
    };
    Failure::new(kind, chain(&e))
}
