//! https on the lean path, against a real TLS server on 127.0.0.1 that the
//! test starts with a freshly generated self-signed certificate: insecure
//! fetches succeed and say HTTP/1.1, verified ones fail as `tls` naming the
//! cause, connections are kept alive, new connections resume their TLS
//! session, and `--http2` speaks h2 where the server offers it.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use fetchtop::engine::transport::TransportChoice;
use fetchtop::engine::{ErrorKind, ItemState, Record, RequestOptions};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::HandshakeKind;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// What the test server saw.
#[derive(Default)]
struct Seen {
    /// TCP connections accepted.
    accepted: AtomicUsize,
    /// TLS handshakes that resumed an earlier session.
    resumed: AtomicUsize,
}

/// How the test server behaves.
#[derive(Clone, Copy)]
struct Serve {
    /// Offer h2 by ALPN (else only http/1.1).
    h2: bool,
    /// Close every HTTP/1.1 connection after one response.
    close: bool,
}

/// HTTP/1.1 only, keep-alive.
const H1: Serve = Serve {
    h2: false,
    close: false,
};

/// Starts an https server on 127.0.0.1 answering every path with a small
/// JSON body; returns its base URL and its counters.
async fn serve(how: Serve) -> (String, Arc<Seen>) {
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("a self-signed certificate");
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![key.cert.der().clone()], der)
        .unwrap();
    config.alpn_protocols = if how.h2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let counters = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counters.accepted.fetch_add(1, Ordering::Relaxed);
            let acceptor = acceptor.clone();
            let counters = Arc::clone(&counters);
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return; // a client that refused the certificate
                };
                let (_, session) = tls.get_ref();
                if session.handshake_kind() == Some(HandshakeKind::Resumed) {
                    counters.resumed.fetch_add(1, Ordering::Relaxed);
                }
                let h2 = session.alpn_protocol() == Some(b"h2");
                let answer = service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        br#"{"ok":true}"#,
                    ))))
                });
                let io = TokioIo::new(tls);
                if h2 {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, answer)
                        .await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(!how.close)
                        .serve_connection(io, answer)
                        .await;
                }
            });
        }
    });
    (format!("https://{addr}"), seen)
}

/// Fetches `n` URLs under `base` with the given options on one shard (one
/// connection pool), `concurrency` at a time; records in seq order.
async fn fetch(
    base: &str,
    n: usize,
    concurrency: u64,
    request: RequestOptions,
    transport: TransportChoice,
) -> Vec<Record> {
    let list: Vec<String> = (1..=n).map(|i| format!("{base}/items/{i}")).collect();
    common::fetch_urls(&list, request, transport, concurrency).await
}

fn insecure() -> RequestOptions {
    RequestOptions {
        insecure: true,
        timeout: Duration::from_secs(10),
        ..RequestOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_https_succeeds_over_http_1_1_on_both_transports() {
    let (base, _) = serve(H1).await;
    for transport in [TransportChoice::Auto, TransportChoice::Reqwest] {
        let records = fetch(&base, 3, 2, insecure(), transport).await;
        for r in &records {
            assert_eq!(r.state, ItemState::Done, "{transport:?}: {r:?}");
            assert_eq!(r.status, Some(200), "{transport:?}");
            assert_eq!(r.http, Some("1.1"), "{transport:?}");
            assert_eq!(r.bytes, 11, "{transport:?}");
        }
        let line = serde_json::to_string(&records[0]).unwrap();
        assert!(line.contains(r#""http":"1.1""#), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_fails_as_tls_naming_the_cause() {
    let (base, _) = serve(H1).await;
    let verified = RequestOptions {
        insecure: false,
        ..insecure()
    };
    for transport in [TransportChoice::Auto, TransportChoice::Reqwest] {
        let records = fetch(&base, 1, 1, verified.clone(), transport).await;
        let r = &records[0];
        assert_eq!(r.state, ItemState::Failed);
        assert_eq!(r.status, None);
        assert_eq!(r.http, None, "no answer, no version");
        let error = r.error.as_ref().expect("a failure");
        assert_eq!(error.kind, ErrorKind::Tls, "{transport:?}: {error}");
        assert!(
            error
                .message
                .contains("certificate is signed by an unknown issuer"),
            "{transport:?}: {error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_kept_alive() {
    let (base, seen) = serve(H1).await;
    let records = fetch(&base, 200, 4, insecure(), TransportChoice::Auto).await;
    assert!(records.iter().all(|r| r.state == ItemState::Done));
    let accepted = seen.accepted.load(Ordering::Relaxed);
    // Four in flight at a time: four connections, and a little slack for
    // a connect the pool started while a connection was coming back.
    assert!(
        (1..=8).contains(&accepted),
        "200 requests at concurrency 4 opened {accepted} connections"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_connections_resume_their_tls_session() {
    let (base, seen) = serve(Serve { close: true, ..H1 }).await;
    let records = fetch(&base, 20, 1, insecure(), TransportChoice::Auto).await;
    assert!(records.iter().all(|r| r.state == ItemState::Done));
    let accepted = seen.accepted.load(Ordering::Relaxed);
    let resumed = seen.resumed.load(Ordering::Relaxed);
    assert!(accepted >= 20, "the server closed every connection");
    // Only the first handshake is a full one: the shard's one ClientConfig
    // keeps the tickets the server sent.
    assert!(
        resumed + 1 >= accepted,
        "{resumed} of {accepted} handshakes resumed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_is_spoken_where_alpn_agrees_to_it() {
    let (h2, h2_seen) = serve(Serve { h2: true, ..H1 }).await;
    let asked = RequestOptions {
        http2: true,
        ..insecure()
    };
    let records = fetch(&h2, 20, 4, asked.clone(), TransportChoice::Auto).await;
    for r in &records {
        assert_eq!(r.state, ItemState::Done, "{r:?}");
        assert_eq!(r.http, Some("2"));
    }
    assert!(
        h2_seen.accepted.load(Ordering::Relaxed) <= 4,
        "h2 multiplexes its requests over few connections"
    );
    // Without --http2 only http/1.1 is offered.
    let plain = fetch(&h2, 1, 1, insecure(), TransportChoice::Auto).await;
    assert_eq!(plain[0].http, Some("1.1"));
    // And a server that does not take h2 is still answered, over HTTP/1.1.
    let (h1, _) = serve(H1).await;
    let fallback = fetch(&h1, 1, 1, asked, TransportChoice::Auto).await;
    assert_eq!(fallback[0].state, ItemState::Done);
    assert_eq!(fallback[0].http, Some("1.1"));
}
