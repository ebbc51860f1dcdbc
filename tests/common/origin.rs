//! Small origin servers on loopback that remember what reached them: the
//! `Host` and `Via` headers of each request, so a test can tell whether a
//! proxy carried it and which name it was sent for.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;

/// One request as the origin saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub host: String,
    pub via: Option<String>,
    pub path: String,
    pub version: hyper::Version,
}

/// What an origin has seen so far.
#[derive(Default)]
pub struct Log(Mutex<Vec<Seen>>);

impl Log {
    pub fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }
}

/// TLS settings of an https origin.
pub struct Tls {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// Require a client certificate signed by this CA.
    pub client_ca: Option<CertificateDer<'static>>,
    /// Offer h2 by ALPN beside http/1.1.
    pub h2: bool,
}

/// An http origin on 127.0.0.1.
pub async fn http() -> (SocketAddr, Arc<Log>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Log::default());
    let seen = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(serve(tcp, Arc::clone(&seen), false));
        }
    });
    (addr, log)
}

/// An https origin on 127.0.0.1.
pub async fn https(tls: Tls) -> (SocketAddr, Arc<Log>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match tls.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(tls.chain, tls.key).unwrap();
    config.alpn_protocols = if tls.h2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Log::default());
    let seen = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return; // refused: the client's certificate, or ours
                };
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                serve(tls, seen, h2).await;
            });
        }
    });
    (addr, log)
}

/// An http origin on a Unix socket at `path`.
pub async fn unix(path: &Path) -> Arc<Log> {
    let listener = tokio::net::UnixListener::bind(path).unwrap();
    let log = Arc::new(Log::default());
    let seen = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, Arc::clone(&seen), false));
        }
    });
    log
}

/// Answers every request with `{"ok":true}`, noting it in `log`.
async fn serve<S>(io: S, log: Arc<Log>, h2: bool)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let answer = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let log = Arc::clone(&log);
        async move {
            let header = |name: &str| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let host = header("host")
                .or_else(|| req.uri().authority().map(|a| a.to_string()))
                .unwrap_or_default();
            log.0.lock().unwrap().push(Seen {
                host,
                via: header("via"),
                path: req.uri().path().to_string(),
                version: req.version(),
            });
            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                br#"{"ok":true}"#,
            ))))
        }
    });
    let io = TokioIo::new(io);
    if h2 {
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, answer)
            .await;
    } else {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, answer)
            .await;
    }
}
