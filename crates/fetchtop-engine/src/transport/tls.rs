//! The rustls setup of the lean https path, made to trust exactly what
//! reqwest's `rustls` feature trusts, so switching `--transport` never
//! changes which servers a run accepts:
//!
//! - the crypto provider is the process default if one was installed, else
//!   aws-lc-rs (reqwest's own choice, already built for it);
//! - certificates are checked by rustls-platform-verifier, as reqwest does:
//!   on Linux the system's roots, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set;
//!   `--cacert FILE` trusts the CAs in FILE instead (as curl does), with
//!   webpki's verifier;
//! - `--cert` / `--key` are offered to a server that asks for a client
//!   certificate;
//! - `--insecure` accepts any certificate and any signature, as reqwest's
//!   `danger_accept_invalid_certs` does.
//!
//! One [`ClientConfig`] is built per transport (per shard) and shared by
//! every connection it opens (reqwest is given the same configuration, so
//! both transports trust, offer and explain alike): rustls keeps its session cache in the
//! config, so sharing it is what lets a new connection resume a session
//! instead of making a full handshake.

use std::sync::Arc;

use crate::error::{Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::http::RequestOptions;

/// The client configuration every https connection of a transport shares.
pub(super) fn client_config(options: &RequestOptions) -> Result<Arc<ClientConfig>> {
    // Both ring (for ureq) and aws-lc-rs (for reqwest) are compiled in, so
    // rustls cannot pick a default by itself: name the one reqwest uses.
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .context("cannot set up TLS: the crypto provider refuses TLS 1.2 and 1.3")?;
    let verifier: Arc<dyn ServerCertVerifier> = if options.insecure {
        Arc::new(AcceptAnything)
    } else if let Some(roots) = options.tls_files.roots() {
        let mut store = rustls::RootCertStore::empty();
        for cert in roots {
            store
                .add(cert.clone())
                .context("cannot trust a certificate of --cacert")?;
        }
        rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(store),
            Arc::clone(&provider),
        )
        .build()
        .context("cannot set up TLS certificate verification with --cacert")?
    } else {
        Arc::new(
            rustls_platform_verifier::Verifier::new(provider)
                .context("cannot set up TLS certificate verification")?,
        )
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match options.tls_files.identity() {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .context("cannot use the client certificate of --cert and --key")?,
        None => builder.with_no_client_auth(),
    };
    // HTTP/1.1 unless asked for HTTP/2; with --http2 the server may still
    // choose HTTP/1.1, and the record says which one was spoken.
    config.alpn_protocols = if options.http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Arc::new(config))
}

/// What a failed handshake means, in words that say what to do, when the
/// cause is one people meet (a private CA, an expired or misnamed
/// certificate, a server that wants a client certificate). `None` leaves
/// rustls's own words.
pub(crate) fn explain(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    use rustls::{AlertDescription as Alert, CertificateError as Cert, Error as Tls};
    let tls = crate::pipeline::classify::sources(e)
        .into_iter()
        .find_map(|s| s.downcast_ref::<Tls>())?;
    let text = match tls {
        Tls::InvalidCertificate(cert) => match cert {
            Cert::UnknownIssuer => "the server's certificate is signed by an unknown issuer \
                 (trust its CA with --cacert FILE, or skip the check with --insecure)"
                .to_string(),
            Cert::Expired | Cert::ExpiredContext { .. } => {
                "the server's certificate has expired".to_string()
            }
            Cert::NotValidYet | Cert::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet (check the clock)".to_string()
            }
            Cert::NotValidForName => {
                "the server's certificate is not valid for this host name".to_string()
            }
            Cert::NotValidForNameContext {
                expected,
                presented,
            } => format!(
                "the server's certificate is not valid for {:?} (it names {})",
                format!("{expected:?}").trim_matches('"'),
                if presented.is_empty() {
                    "no host".to_string()
                } else {
                    // The names come from the server's certificate.
                    crate::text::inert(&presented.join(", ")).into_owned()
                }
            ),
            Cert::Revoked => "the server's certificate has been revoked".to_string(),
            Cert::BadSignature | Cert::BadEncoding => {
                format!("the server's certificate is invalid ({cert:?})")
            }
            other => format!("the server's certificate was refused: {other:?}"),
        },
        Tls::AlertReceived(Alert::CertificateRequired) => {
            "the server requires a client certificate (give one with --cert FILE --key FILE)"
                .to_string()
        }
        Tls::AlertReceived(
            alert @ (Alert::BadCertificate
            | Alert::UnknownCA
            | Alert::CertificateUnknown
            | Alert::CertificateExpired
            | Alert::AccessDenied),
        ) => format!("the server refused the client certificate ({alert:?})"),
        _ => return None,
    };
    Some(text)
}

/// `--insecure`: no check of the certificate, its host name or the
/// handshake signature, like reqwest's `danger_accept_invalid_certs`.
#[derive(Debug)]
struct AcceptAnything;

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_tls12_signature(message, cert, dss)
    }

    /// Every scheme reqwest's own accept-anything verifier offers, so the
    /// same servers can be reached under `--insecure` on either transport.
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![
            SignatureScheme::RSA_PKCS1_SHA1,
            SignatureScheme::ECDSA_SHA1_Legacy,
            SignatureScheme::RSA_PKCS1_SHA256,
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::RSA_PKCS1_SHA384,
            SignatureScheme::ECDSA_NISTP384_SHA384,
            SignatureScheme::RSA_PKCS1_SHA512,
            SignatureScheme::ECDSA_NISTP521_SHA512,
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::RSA_PSS_SHA384,
            SignatureScheme::RSA_PSS_SHA512,
            SignatureScheme::ED25519,
            SignatureScheme::ED448,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_offers_http2_only_when_asked() {
        let h1 = client_config(&RequestOptions::default()).unwrap();
        assert_eq!(h1.alpn_protocols, [b"http/1.1".to_vec()]);
        let h2 = client_config(&RequestOptions {
            http2: true,
            insecure: true,
            ..RequestOptions::default()
        })
        .unwrap();
        assert_eq!(h2.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    }
}
