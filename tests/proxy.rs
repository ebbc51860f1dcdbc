//! Proxies, for real: tinyproxy (an HTTP proxy that forwards `http://`
//! and tunnels `https://` with CONNECT) and microsocks (SOCKS5), both
//! started by the test on 127.0.0.1 with configurations it writes. The
//! origins note the `Via` header tinyproxy adds, so each test can tell a
//! proxied request from a direct one; an https:// proxy is tinyproxy behind
//! a TLS front the test runs. Both are Debian packages that
//! `.ci/run` installs; where one is missing its tests say so and skip.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::origin::{self, Log, Tls};
use common::pki::Ca;
use fetchtop::engine::net::{ProxySettings, TlsFiles};
use fetchtop::engine::transport::TransportChoice;
use fetchtop::engine::{ErrorKind, ItemState, Record, RequestOptions};

const BOTH: [TransportChoice; 2] = [TransportChoice::Auto, TransportChoice::Reqwest];

/// A proxy process, stopped when dropped.
struct Proxy {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proxy {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn installed(program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("SKIPPED: {program} is not installed (.ci/run installs it with apt-get)");
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on `port`.
fn wait_listening(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the proxy exited before listening: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "the proxy never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// tinyproxy on 127.0.0.1, with `BasicAuth user pass` when `auth` is set.
fn tinyproxy(dir: &Path, auth: Option<(&str, &str)>) -> Option<Proxy> {
    if !installed("tinyproxy") {
        return None;
    }
    let port = free_port();
    let log = dir.join(format!("tinyproxy-{port}.log"));
    let conf = dir.join(format!("tinyproxy-{port}.conf"));
    // No ConnectPort line: CONNECT to any port (the origins' are random).
    let mut text = format!(
        "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Info\n\
         MaxClients 100\nAllow 127.0.0.1\n",
        log.display()
    );
    if let Some((user, pass)) = auth {
        text.push_str(&format!("BasicAuth {user} {pass}\n"));
    }
    std::fs::write(&conf, text).unwrap();
    let mut child = Command::new("tinyproxy")
        .arg("-d")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tinyproxy starts");
    wait_listening(port, &mut child);
    Some(Proxy { child, port, log })
}

/// microsocks on 127.0.0.1, with a user and password.
fn microsocks(dir: &Path) -> Option<Proxy> {
    if !installed("microsocks") {
        return None;
    }
    let port = free_port();
    let log = dir.join(format!("microsocks-{port}.log"));
    let mut child = Command::new("microsocks")
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-u",
            "sock",
            "-P",
            "s3cret",
        ])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("microsocks starts");
    wait_listening(port, &mut child);
    Some(Proxy { child, port, log })
}

fn via(proxy: &str, no: &str, files: TlsFiles) -> RequestOptions {
    RequestOptions {
        proxy: ProxySettings::new(Some(proxy), Some(no), |_| None).unwrap(),
        tls_files: files,
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        ..RequestOptions::default()
    }
}

async fn fetch(url: &str, request: RequestOptions, transport: TransportChoice) -> Record {
    common::fetch_urls(&[url.to_string()], request, transport, 1)
        .await
        .remove(0)
}

/// A private-CA https origin for "localhost", and the CA's files.
async fn https_origin(dir: &Path) -> (SocketAddr, std::sync::Arc<Log>, TlsFiles) {
    let ca = Ca::new(dir, "proxy-test");
    let leaf = ca.server("origin", &["localhost"], false);
    let (addr, log) = origin::https(Tls {
        chain: leaf.chain,
        key: leaf.key,
        client_ca: None,
        h2: false,
    })
    .await;
    (
        addr,
        log,
        TlsFiles::load(Some(&ca.pem), None, None).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_is_forwarded_and_https_tunnelled_and_no_proxy_bypasses() {
    let dir = tempfile::tempdir().unwrap();
    let Some(proxy) = tinyproxy(dir.path(), None) else {
        return;
    };
    let url_of = |p: u16| format!("http://127.0.0.1:{}", p);
    let (plain, plain_log) = origin::http().await;
    let (tls, tls_log, files) = https_origin(dir.path()).await;
    let proxy_url = url_of(proxy.port);
    for transport in BOTH {
        let r = fetch(
            &format!("http://localhost:{}/items/1", plain.port()),
            via(&proxy_url, "", files.clone()),
            transport,
        )
        .await;
        assert_eq!(r.state, ItemState::Done, "{transport:?}: {r:?}");
        let seen = plain_log.all().pop().unwrap();
        assert!(
            seen.via.as_deref().is_some_and(|v| v.contains("tinyproxy")),
            "{transport:?}: forwarded by tinyproxy: {seen:?}"
        );
        assert_eq!(seen.host, format!("localhost:{}", plain.port()));
        assert_eq!(seen.path, "/items/1");

        let r = fetch(
            &format!("https://localhost:{}/items/2", tls.port()),
            via(&proxy_url, "", files.clone()),
            transport,
        )
        .await;
        assert_eq!(r.state, ItemState::Done, "{transport:?}: {r:?}");
        assert!(
            proxy
                .log()
                .contains(&format!("CONNECT localhost:{}", tls.port())),
            "{transport:?}: tunnelled: {}",
            proxy.log()
        );
        // Inside a tunnel tinyproxy cannot add a header.
        assert_eq!(tls_log.all().pop().unwrap().via, None);

        // NO_PROXY / --noproxy: straight to the origin.
        let before = proxy.log().len();
        let r = fetch(
            &format!("http://localhost:{}/items/3", plain.port()),
            via(&proxy_url, "localhost", files.clone()),
            transport,
        )
        .await;
        assert_eq!(r.state, ItemState::Done, "{transport:?}: {r:?}");
        assert_eq!(
            plain_log.all().pop().unwrap().via,
            None,
            "{transport:?}: bypassed"
        );
        let r = fetch(
            &format!("https://localhost:{}/items/4", tls.port()),
            via(&proxy_url, "127.0.0.1,.localhost,localhost", files.clone()),
            transport,
        )
        .await;
        assert_eq!(r.state, ItemState::Done, "{transport:?}: {r:?}");
        let after = proxy.log();
        assert!(
            !after[before..].contains("CONNECT") && !after[before..].contains("GET "),
            "{transport:?}: the proxy saw nothing: {}",
            &after[before..]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_credentials_go_with_the_url_and_a_refusal_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let Some(proxy) = tinyproxy(dir.path(), Some(("alice", "pw1"))) else {
        return;
    };
    let (plain, plain_log) = origin::http().await;
    let (tls, _, files) = https_origin(dir.path()).await;
    let good = format!("http://alice:pw1@127.0.0.1:{}", proxy.port);
    let bad = format!("http://alice:wrong@127.0.0.1:{}", proxy.port);
    for transport in BOTH {
        let r = fetch(
            &format!("http://localhost:{}/a", plain.port()),
            via(&good, "", files.clone()),
            transport,
        )
        .await;
        assert_eq!(r.state, ItemState::Done, "{transport:?}: {r:?}");
        assert!(plain_log.all().pop().unwrap().via.is_some());
        let r = fetch(
            &format!("https://localhost:{}/b", tls.port()),
            via(&good, "", files.clone()),
            transport,
        )
        .await;
        assert_eq!(r.state, ItemState::Done, "{transport:?}: {r:?}");
        // A forwarded request gets the proxy's own answer (tinyproxy says
        // 401 where the RFC has 407).
        let r = fetch(
            &format!("http://localhost:{}/c", plain.port()),
            via(&bad, "", files.clone()),
            transport,
        )
        .await;
        assert!(matches!(r.status, Some(401 | 407)), "{transport:?}: {r:?}");
    }
    // A refused tunnel names the proxy's status and never its password.
    let r = fetch(
        &format!("https://localhost:{}/d", tls.port()),
        via(&bad, "", files.clone()),
        TransportChoice::Auto,
    )
    .await;
    let e = r.error.expect("refused");
    assert_eq!(e.kind, ErrorKind::Connect);
    assert!(e.message.contains("refused the tunnel"), "{e}");
    assert!(e.message.contains("credentials in the proxy URL"), "{e}");
    assert!(!e.message.contains("wrong"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_carries_http_and_https() {
    let dir = tempfile::tempdir().unwrap();
    let Some(socks) = microsocks(dir.path()) else {
        return;
    };
    let (plain, plain_log) = origin::http().await;
    let (tls, tls_log, files) = https_origin(dir.path()).await;
    for scheme in ["socks5", "socks5h"] {
        let proxy = format!("{scheme}://sock:s3cret@127.0.0.1:{}", socks.port);
        for transport in BOTH {
            let r = fetch(
                &format!("http://localhost:{}/s", plain.port()),
                via(&proxy, "", files.clone()),
                transport,
            )
            .await;
            assert_eq!(r.state, ItemState::Done, "{scheme} {transport:?}: {r:?}");
            let r = fetch(
                &format!("https://localhost:{}/s", tls.port()),
                via(&proxy, "", files.clone()),
                transport,
            )
            .await;
            assert_eq!(r.state, ItemState::Done, "{scheme} {transport:?}: {r:?}");
        }
    }
    assert_eq!(plain_log.all().len(), 4);
    assert_eq!(tls_log.all().len(), 4);
    // With the proxy gone, nothing gets through: it really was the way.
    let port = socks.port;
    drop(socks);
    let r = fetch(
        &format!("http://localhost:{}/s", plain.port()),
        via(&format!("socks5h://127.0.0.1:{port}"), "", files),
        TransportChoice::Auto,
    )
    .await;
    let e = r.error.expect("no proxy, no fetch");
    assert_eq!(e.kind, ErrorKind::Connect);
    assert!(
        e.message.contains("cannot reach proxy socks5h://127.0.0.1"),
        "{e}"
    );
    assert_eq!(plain_log.all().len(), 4);
}

/// What the binary does with the environment, as a user's shell has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_is_honoured_as_curl_does() {
    let dir = tempfile::tempdir().unwrap();
    let Some(proxy) = tinyproxy(dir.path(), None) else {
        return;
    };
    let (plain, log) = origin::http().await;
    let url = format!("http://localhost:{}/env", plain.port());
    let run = move |env: &[(&str, String)], extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fetchtop"));
        cmd.args(["--no-tui", "-q"]).args(extra).arg(&url);
        for name in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            cmd.env_remove(name);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let out = tokio::task::spawn_blocking({
        let proxy_url = proxy_url.clone();
        move || {
            let a = run(&[("HTTP_PROXY", proxy_url.clone())], &[]);
            let b = run(
                &[
                    ("http_proxy", proxy_url.clone()),
                    ("NO_PROXY", "localhost".into()),
                ],
                &[],
            );
            let c = run(&[("ALL_PROXY", proxy_url.clone())], &["--noproxy", "*"]);
            let d = run(
                &[("HTTP_PROXY", "http://127.0.0.1:9".into())],
                &["-x", &proxy_url],
            );
            [a, b, c, d]
        }
    })
    .await
    .unwrap();
    for o in &out {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let vias: Vec<bool> = log.all().iter().map(|s| s.via.is_some()).collect();
    assert_eq!(
        vias,
        [true, false, false, true],
        "HTTP_PROXY, NO_PROXY, --noproxy, -x wins"
    );
}

/// A TLS front for `proxy` on 127.0.0.1 (as an https:// proxy is: TLS to
/// the proxy, then HTTP inside), with a certificate for "localhost" from `ca`.
async fn tls_front(ca: &Ca, proxy: u16) -> u16 {
    let leaf = ca.server("proxy-front", &["localhost"], false);
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut inner) = tokio::net::TcpStream::connect(("127.0.0.1", proxy)).await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut inner).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_proxy_is_spoken_to_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let Some(proxy) = tinyproxy(dir.path(), None) else {
        return;
    };
    // One CA for the origin and the proxy's front: --cacert trusts both.
    let ca = Ca::new(dir.path(), "https-proxy");
    let leaf = ca.server("origin", &["localhost"], false);
    let (tls, _) = origin::https(Tls {
        chain: leaf.chain,
        key: leaf.key,
        client_ca: None,
        h2: false,
    })
    .await;
    let (plain, plain_log) = origin::http().await;
    let front = tls_front(&ca, proxy.port).await;
    let files = TlsFiles::load(Some(&ca.pem), None, None).unwrap();
    let proxy_url = format!("https://localhost:{front}");
    for transport in BOTH {
        let r = fetch(
            &format!("http://localhost:{}/p", plain.port()),
            via(&proxy_url, "", files.clone()),
            transport,
        )
        .await;
        assert_eq!(r.state, ItemState::Done, "{transport:?}: {r:?}");
        assert!(
            plain_log.all().pop().unwrap().via.is_some(),
            "{transport:?}"
        );
        let r = fetch(
            &format!("https://localhost:{}/p", tls.port()),
            via(&proxy_url, "", files.clone()),
            transport,
        )
        .await;
        assert_eq!(r.state, ItemState::Done, "{transport:?}: {r:?}");
        assert!(
            proxy
                .log()
                .contains(&format!("CONNECT localhost:{}", tls.port()))
        );
    }
}
