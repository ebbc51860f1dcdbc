//! The certificates a run is told to use: `--cacert` (the CAs to trust
//! instead of the system's) and `--cert` / `--key` (a client certificate,
//! for mutual TLS). Read and checked once, before the run starts, so a
//! missing file or a key that does not match its certificate is a one-line
//! error rather than a failure on every item.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The TLS material of a run. `Default` is none: the system's roots (or
/// `SSL_CERT_FILE` / `SSL_CERT_DIR`) and no client certificate.
#[derive(Clone, Default)]
pub struct TlsFiles {
    roots: Option<Arc<[CertificateDer<'static>]>>,
    identity: Option<Arc<Identity>>,
}

/// A client certificate chain and its private key.
struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl TlsFiles {
    /// Reads `--cacert`, `--cert` and `--key`. `--key` defaults to the
    /// `--cert` file (a PEM holding both, as curl allows).
    pub fn load(
        cacert: Option<&Path>,
        cert: Option<&Path>,
        key: Option<&Path>,
    ) -> Result<TlsFiles, String> {
        let roots = match cacert {
            Some(path) => Some(certificates(path, "--cacert")?.into()),
            None => None,
        };
        let identity = match (cert, key) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err("--key needs --cert (the certificate it signs for)".into());
            }
            (Some(cert), key) => {
                let chain = certificates(cert, "--cert")?;
                let key_path = key.unwrap_or(cert);
                let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| {
                    format!(
                        "--key {}: no private key read: {}",
                        key_path.display(),
                        pem_error(&e)
                    )
                })?;
                check_pair(&chain, &key).map_err(|why| {
                    format!(
                        "--cert {} and --key {}: {why}",
                        cert.display(),
                        key_path.display()
                    )
                })?;
                Some(Arc::new(Identity { chain, key }))
            }
        };
        Ok(TlsFiles { roots, identity })
    }

    /// The CAs `--cacert` names, if it was given.
    pub fn roots(&self) -> Option<&[CertificateDer<'static>]> {
        self.roots.as_deref()
    }

    /// The client certificate chain and a copy of its key, if `--cert` was given.
    pub fn identity(&self) -> Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
        self.identity
            .as_ref()
            .map(|i| (i.chain.clone(), i.key.clone_key()))
    }

    /// Whether a client certificate will be offered.
    pub fn has_identity(&self) -> bool {
        self.identity.is_some()
    }
}

impl fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsFiles")
            .field("roots", &self.roots.as_ref().map(|r| r.len()))
            .field("identity", &self.identity.is_some())
            .finish()
    }
}

impl PartialEq for TlsFiles {
    fn eq(&self, other: &TlsFiles) -> bool {
        self.roots == other.roots
            && match (&self.identity, &other.identity) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

/// Every certificate in a PEM file; none is an error.
fn certificates(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let iter = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{flag} {shown}: {}", pem_error(&e)))?;
    let certs = iter
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{flag} {shown}: {}", pem_error(&e)))?;
    if certs.is_empty() {
        return Err(format!(
            "{flag} {shown}: no certificate in it (expected PEM: -----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(certs)
}

/// Whether the key is the one the first certificate was issued for.
fn check_pair(
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
) -> Result<(), String> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    rustls::sign::CertifiedKey::from_der(chain.to_vec(), key.clone_key(), &provider)
        .map(|_| ())
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => {
                "the key does not match the certificate".to_string()
            }
            other => format!("cannot use them: {other}"),
        })
}

fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM item found".into(),
        other => format!("not valid PEM ({other:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn files_are_checked_before_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let e = TlsFiles::load(Some(&missing), None, None).unwrap_err();
        assert!(
            e.starts_with("--cacert ") && e.contains("No such file"),
            "{e}"
        );
        let empty = write(dir.path(), "empty.pem", "hello\n");
        let e = TlsFiles::load(Some(&empty), None, None).unwrap_err();
        assert!(e.contains("no certificate in it"), "{e}");
        let e = TlsFiles::load(None, None, Some(&empty)).unwrap_err();
        assert!(e.contains("--key needs --cert"), "{e}");
        assert!(!TlsFiles::load(None, None, None).unwrap().has_identity());
    }

    #[test]
    fn a_key_must_match_its_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let a = rcgen_pair();
        let b = rcgen_pair();
        let cert = write(dir.path(), "a.crt", &a.0);
        let key_a = write(dir.path(), "a.key", &a.1);
        let key_b = write(dir.path(), "b.key", &b.1);
        let both = write(dir.path(), "both.pem", &format!("{}{}", a.0, a.1));
        let ok = TlsFiles::load(Some(&cert), Some(&cert), Some(&key_a)).unwrap();
        assert_eq!(ok.roots().map(<[_]>::len), Some(1));
        assert!(ok.has_identity());
        assert!(
            TlsFiles::load(None, Some(&both), None)
                .unwrap()
                .has_identity()
        );
        let e = TlsFiles::load(None, Some(&cert), Some(&key_b)).unwrap_err();
        assert!(e.ends_with("the key does not match the certificate"), "{e}");
        let e = TlsFiles::load(None, Some(&cert), None).unwrap_err();
        assert!(e.contains("no private key read"), "{e}");
    }

    /// A fresh certificate and its key, as PEM (a pair kept in the tree
    /// would expire).
    fn rcgen_pair() -> (String, String) {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        (key.cert.pem(), key.signing_key.serialize_pem())
    }
}
