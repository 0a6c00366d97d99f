//! The receiver's side (smtp-recv): its configuration from PEM files or a
//! throwaway self-signed certificate, and the server handshake.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::common::{Fingerprint, TlsError, certificates, private_key};

/// A server configuration from a PEM certificate chain and a PEM private key
/// (both may be the same combined file's bytes: each reader takes only its
/// own sections).
///
/// Errors: no certificate in `cert_pem`, no private key in `key_pem`,
/// malformed PEM (which file), a certificate rustls cannot parse, and a key
/// that does not belong to the first certificate.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = certificates(cert_pem, "certificate file")?;
    if certs.is_empty() {
        return Err(TlsError::new(
            "no certificate found in the certificate file (PEM \"BEGIN CERTIFICATE\" expected)",
        ));
    }
    let key = private_key(key_pem, "key file", || {
        TlsError::new(
            "no private key found in the key file (PEM PKCS#8, RSA or EC private key expected)",
        )
    })?;
    build(certs, key)
}

/// A server configuration with a fresh self-signed certificate for
/// `hostname`, `localhost`, 127.0.0.1 and ::1 (subject alternative names),
/// ECDSA P-256 (rcgen, ring), with its SHA-256 fingerprint: clients can
/// pin it (`smtp-send --tls-fingerprint`). It is for tests, never for real
/// mail.
pub fn self_signed(hostname: &str) -> Result<(Arc<ServerConfig>, Fingerprint), TlsError> {
    let (cert, key) = generate(hostname)?;
    let fingerprint = Fingerprint::of(cert.der());
    let config = build(
        vec![CertificateDer::from(cert.der().to_vec())],
        PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )?;
    Ok((config, fingerprint))
}

/// The same kind of throwaway certificate as [`self_signed`], as PEM text
/// `(certificate, private key)`, for tests that hand files to `--tls-cert`
/// and `--tls-key` or tell a client which certificate to trust.
pub fn self_signed_pem(hostname: &str) -> Result<(String, String), TlsError> {
    let (cert, key) = generate(hostname)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn generate(hostname: &str) -> Result<(rcgen::Certificate, rcgen::KeyPair), TlsError> {
    let fail =
        |e: rcgen::Error| TlsError::new(format!("cannot make a self-signed certificate: {e}"));
    let mut names = Vec::with_capacity(4);
    // A host name rcgen cannot put in a certificate (not ASCII) is left out
    // rather than failing: localhost and the loopback addresses still work.
    if !hostname.is_empty() && hostname.is_ascii() && hostname != "localhost" {
        names.push(hostname.to_owned());
    }
    names.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
    let mut params = rcgen::CertificateParams::new(names).map_err(fail)?;
    let cn = if hostname.is_empty() || !hostname.is_ascii() {
        "localhost"
    } else {
        hostname
    };
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(fail)?;
    let cert = params.self_signed(&key).map_err(fail)?;
    Ok((cert, key))
}

fn build(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::new(format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                TlsError::new("the private key does not match the certificate")
            }
            rustls::Error::InvalidCertificate(e) => {
                TlsError::new(format!("unusable certificate: {e}"))
            }
            // rustls' text for a key it cannot parse does not quote the key.
            e => TlsError::new(format!("unusable certificate or key: {e}")),
        })?;
    Ok(Arc::new(config))
}

/// Completes the server side of a TLS handshake on `stream` (after `220
/// Ready to start TLS`, or at once for implicit TLS) and returns the
/// encrypted stream.
///
/// The caller must have dropped any plaintext it buffered after the
/// STARTTLS line (RFC 3207 §4.2; CVE-2011-0411 command injection): this
/// function reads the handshake from `stream` itself. A read timeout set on
/// the socket bounds the handshake. Errors: the peer closed
/// (`UnexpectedEof`), a TLS alert or garbage (`InvalidData`), I/O errors.
pub fn handshake<S: Read + Write>(
    config: &Arc<ServerConfig>,
    mut stream: S,
) -> io::Result<StreamOwned<ServerConnection, S>> {
    let mut conn = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
    while conn.is_handshaking() {
        // complete_io reports EOF mid-handshake as an error, but returns
        // Ok((0, 0)) if the stream accepts no more writes: no progress.
        if conn.complete_io(&mut stream)? == (0, 0) {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(StreamOwned::new(conn, stream))
}
