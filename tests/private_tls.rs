//! TLS as real internal APIs have it, against servers on 127.0.0.1 with
//! certificates made by a private CA for each test: `--cacert` trusts the
//! CA, `--cert`/`--key` answer a server that wants a client certificate,
//! and each usual failure (unknown issuer, expired, wrong name, no client
//! certificate) says what it is, on both transports.

mod common;

use std::time::Duration;

use common::origin::{self, Tls};
use common::pki::Ca;
use fetchtop::engine::net::TlsFiles;
use fetchtop::engine::transport::TransportChoice;
use fetchtop::engine::{ErrorKind, ItemState, Record, RequestOptions};

const BOTH: [TransportChoice; 2] = [TransportChoice::Auto, TransportChoice::Reqwest];

/// Fetches `url` once with `request` on `transport`.
async fn fetch(url: &str, request: RequestOptions, transport: TransportChoice) -> Record {
    common::fetch_urls(&[url.to_string()], request, transport, 1)
        .await
        .remove(0)
}

fn trusting(files: TlsFiles) -> RequestOptions {
    RequestOptions {
        tls_files: files,
        timeout: Duration::from_secs(10),
        ..RequestOptions::default()
    }
}

fn failure(r: &Record) -> String {
    assert_eq!(r.state, ItemState::Failed, "{r:?}");
    let e = r.error.as_ref().expect("an error");
    assert_eq!(e.kind, ErrorKind::Tls, "{e}");
    e.message.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_ca_is_trusted_with_cacert_and_only_then() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "private");
    let leaf = ca.server("server", &["localhost", "127.0.0.1"], false);
    let (addr, log) = origin::https(Tls {
        chain: leaf.chain,
        key: leaf.key,
        client_ca: None,
        h2: false,
    })
    .await;
    let url = format!("https://localhost:{}/items/1", addr.port());
    let files = TlsFiles::load(Some(&ca.pem), None, None).unwrap();
    for transport in BOTH {
        let r = fetch(&url, trusting(files.clone()), transport).await;
        assert_eq!(r.state, ItemState::Done, "{transport:?}: {r:?}");
        assert_eq!(r.status, Some(200));
        // Without --cacert the system's roots do not know this CA.
        let r = fetch(&url, trusting(TlsFiles::default()), transport).await;
        let m = failure(&r);
        assert!(
            m.contains("signed by an unknown issuer") && m.contains("--cacert"),
            "{transport:?}: {m}"
        );
    }
    assert_eq!(
        log.all().len(),
        2,
        "only the trusted fetches reached the server"
    );
    // Another CA's file does not make this one trusted.
    let other = Ca::new(dir.path(), "other");
    let r = fetch(
        &url,
        trusting(TlsFiles::load(Some(&other.pem), None, None).unwrap()),
        TransportChoice::Auto,
    )
    .await;
    assert!(failure(&r).contains("unknown issuer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_misnamed_certificates_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "ca");
    let files = TlsFiles::load(Some(&ca.pem), None, None).unwrap();
    let expired = ca.server("expired", &["localhost"], true);
    let (old, _) = origin::https(Tls {
        chain: expired.chain,
        key: expired.key,
        client_ca: None,
        h2: false,
    })
    .await;
    let misnamed = ca.server("misnamed", &["api.internal.test"], false);
    let (wrong, _) = origin::https(Tls {
        chain: misnamed.chain,
        key: misnamed.key,
        client_ca: None,
        h2: false,
    })
    .await;
    for transport in BOTH {
        let r = fetch(
            &format!("https://localhost:{}/", old.port()),
            trusting(files.clone()),
            transport,
        )
        .await;
        let m = failure(&r);
        assert!(m.contains("certificate has expired"), "{transport:?}: {m}");
        let r = fetch(
            &format!("https://localhost:{}/", wrong.port()),
            trusting(files.clone()),
            transport,
        )
        .await;
        let m = failure(&r);
        assert!(
            m.contains("not valid for")
                && m.contains("localhost")
                && m.contains("api.internal.test"),
            "{transport:?}: {m}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_is_accepted_with_a_client_certificate_and_refused_without() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "mtls");
    let leaf = ca.server("server", &["localhost"], false);
    let client = ca.client("client", "fetchtop test client");
    let (addr, log) = origin::https(Tls {
        chain: leaf.chain,
        key: leaf.key,
        client_ca: Some(ca.der()),
        h2: false,
    })
    .await;
    let url = format!("https://localhost:{}/items/1", addr.port());
    let with_cert =
        TlsFiles::load(Some(&ca.pem), Some(&client.cert_pem), Some(&client.key_pem)).unwrap();
    let without = TlsFiles::load(Some(&ca.pem), None, None).unwrap();
    // A client certificate from a CA the server does not trust.
    let stranger_ca = Ca::new(dir.path(), "stranger");
    let stranger = stranger_ca.client("stranger", "someone else");
    let wrong_cert = TlsFiles::load(
        Some(&ca.pem),
        Some(&stranger.cert_pem),
        Some(&stranger.key_pem),
    )
    .unwrap();
    for transport in BOTH {
        let r = fetch(&url, trusting(with_cert.clone()), transport).await;
        assert_eq!(r.state, ItemState::Done, "{transport:?}: {r:?}");
        let r = fetch(&url, trusting(without.clone()), transport).await;
        let m = failure(&r);
        assert!(
            m.contains("requires a client certificate") && m.contains("--cert"),
            "{transport:?}: {m}"
        );
        let r = fetch(&url, trusting(wrong_cert.clone()), transport).await;
        let m = failure(&r);
        assert!(
            m.contains("refused the client certificate"),
            "{transport:?}: {m}"
        );
    }
    assert_eq!(
        log.all().len(),
        2,
        "only the fetches with the right certificate got in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_1_1_and_http_2_over_tls_are_what_was_asked_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "alpn");
    let leaf = ca.server("server", &["localhost"], false);
    let (addr, log) = origin::https(Tls {
        chain: leaf.chain,
        key: leaf.key,
        client_ca: None,
        h2: true,
    })
    .await;
    let url = format!("https://localhost:{}/", addr.port());
    let files = TlsFiles::load(Some(&ca.pem), None, None).unwrap();
    for transport in BOTH {
        let r = fetch(&url, trusting(files.clone()), transport).await;
        assert_eq!(r.http, Some("1.1"), "{transport:?}: HTTP/1.1 unless asked");
        let r = fetch(
            &url,
            RequestOptions {
                http2: true,
                ..trusting(files.clone())
            },
            transport,
        )
        .await;
        assert_eq!(r.http, Some("2"), "{transport:?}: --http2 by ALPN");
    }
    let versions: Vec<_> = log.all().iter().map(|s| s.version).collect();
    assert_eq!(
        versions,
        [
            hyper::Version::HTTP_11,
            hyper::Version::HTTP_2,
            hyper::Version::HTTP_11,
            hyper::Version::HTTP_2
        ]
    );
}
