//! The request a run sends, from its flags, and the checks on its routes
//! and first URL made before anything runs.

use crate::cli::RunArgs;
use crate::engine::net::{ConnectRules, ProxySettings, TlsFiles};
use crate::engine::retry::RetryPolicy;
use crate::engine::transport::{TransportChoice, check_url};
use crate::engine::{Model, RequestOptions, SourceSpec};

use super::Failure;

/// Builds the request options from the flags; reads `--data-file`.
pub(super) fn request_options(run: &RunArgs) -> Result<RequestOptions, Failure> {
    let http = &run.http;
    let body = match (&http.data, &http.data_file) {
        (Some(d), _) => Some(d.clone().into_bytes()),
        (None, Some(path)) => Some(std::fs::read(path).map_err(|e| {
            Failure::Usage(format!("cannot read --data-file {}: {e}", path.display()))
        })?),
        (None, None) => None,
    };
    let method = http.method.clone().unwrap_or(if body.is_some() {
        reqwest::Method::POST
    } else {
        reqwest::Method::GET
    });
    Ok(RequestOptions {
        method,
        headers: http.headers.clone(),
        body,
        timeout: http.timeout,
        connect_timeout: http.connect_timeout,
        redirects: http.redirects,
        http2: http.http2,
        insecure: http.insecure,
        keep_body: run.output.keep_body,
        extract: run.output.extract.clone(),
        max_body: run.output.max_body,
        retry: RetryPolicy {
            retries: http.retries,
            max_backoff: http.max_backoff,
            ..RetryPolicy::default()
        },
        save_bodies: run.output.save_bodies.clone(),
        proxy: ProxySettings::from_env(http.proxy.as_deref(), http.noproxy.as_deref())
            .map_err(Failure::Usage)?,
        tls_files: TlsFiles::load(
            http.cacert.as_deref(),
            http.cert.as_deref(),
            http.key.as_deref(),
        )
        .map_err(Failure::Usage)?,
        connect: connect_rules(http).map_err(Failure::Usage)?,
        unix_socket: http.unix_socket.clone(),
        compressed: run.output.compressed,
        raw: run.output.raw,
    })
}

/// Refuses routing a client cannot follow rather than let it be ignored:
/// reqwest cannot connect a host to another port, and the teaching
/// models' blocking client (`--model threads`) connects straight to the
/// URL with the system's trust.
pub(super) fn check_routes(run: &RunArgs, request: &RequestOptions) -> Result<(), String> {
    if run.http.transport == TransportChoice::Reqwest && request.connect.has_connect_to() {
        return Err(
            "--connect-to needs the lean transport: reqwest cannot connect a host to \
                    another port (use --transport auto, or --resolve)"
                .into(),
        );
    }
    if run.model != Model::Threads {
        return Ok(());
    }
    let used = [
        (request.proxy.any(), "a proxy (--proxy or *_PROXY)"),
        (request.tls_files.roots().is_some(), "--cacert"),
        (request.tls_files.has_identity(), "--cert"),
        (!request.connect.is_empty(), "--resolve / --connect-to"),
        (request.unix_socket.is_some(), "--unix-socket"),
    ];
    match used.iter().find(|(on, _)| *on) {
        Some((_, what)) => Err(format!(
            "--model threads cannot use {what}: use --model async (the default) or sequential"
        )),
        None => Ok(()),
    }
}

/// `--resolve` and `--connect-to`, in the order given (each was checked
/// when parsed).
pub(super) fn connect_rules(http: &crate::cli::HttpArgs) -> Result<ConnectRules, String> {
    let mut rules = ConnectRules::default();
    for entry in &http.resolve {
        rules.add_resolve(entry)?;
    }
    for entry in &http.connect_to {
        rules.add_connect_to(entry)?;
    }
    Ok(rules)
}

/// A URL given on the command line is checked before the run starts; a bad
/// line in a list only fails its own item.
pub(super) fn check_first_url(spec: &SourceSpec) -> Result<(), String> {
    let first = match spec {
        SourceSpec::Repeat(url) => Some(url.clone()),
        SourceSpec::Template(t) => t.nth(0),
        SourceSpec::ListFile(_) | SourceSpec::Stdin => None,
    };
    match first {
        Some(url) => check_url(&url)
            .map(|_| ())
            .map_err(|f| format!("invalid URL: {}", f.message)),
        None => Ok(()),
    }
}
