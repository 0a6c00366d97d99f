//! TLS for the receiver: STARTTLS (RFC 3207) and implicit TLS on a
//! submission port (RFC 8314 §3), with rustls.
//!
//! - [`server_config`] loads a certificate chain and its private key from PEM
//!   (`--tls-cert`, `--tls-key`), with errors that say which of the two is
//!   wrong.
//! - [`self_signed`] makes a throwaway certificate at start for quick tests
//!   (`--tls-self-signed`).
//! - [`handshake`] completes the server handshake on a stream; [`describe`]
//!   names what was negotiated for logs and the `Received:` field.
//!
//! Choices: the `ring` crypto provider, set explicitly rather than through a
//! process-wide default (the build has only ring; see research/deps.md: a
//! third of aws-lc-rs's build time), and rustls' safe defaults: TLS 1.3 and
//! TLS 1.2 (many MTAs still speak only 1.2), ECDHE AEAD suites only, no client
//! certificates. Nothing here logs keys.
//!
//! Reading the PEM is `rustls::pki_types::pem::PemObject` (rustls-pemfile is
//! unmaintained, RUSTSEC-2025-0134). The key may be PKCS#8, PKCS#1 (RSA) or
//! SEC1 (EC); the first certificate in the file is the server's, the rest its
//! chain, in order (RFC 8446 §4.4.2).

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ProtocolVersion, ServerConfig, ServerConnection, StreamOwned};

/// A certificate or key that cannot be used; `smtp-recv` exits 78 on it.
/// The message never contains key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(String);

impl TlsError {
    fn new(msg: impl Into<String>) -> TlsError {
        TlsError(msg.into())
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

/// A server configuration from a PEM certificate chain and a PEM private key
/// (both may be the same combined file's bytes: each reader takes only its
/// own sections).
///
/// Errors: no certificate in `cert_pem`, no private key in `key_pem`,
/// malformed PEM (which file), a certificate rustls cannot parse, and a key
/// that does not belong to the first certificate.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error("certificate file", e))?;
    if certs.is_empty() {
        return Err(TlsError::new(
            "no certificate found in the certificate file (PEM \"BEGIN CERTIFICATE\" expected)",
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::new(
            "no private key found in the key file (PEM PKCS#8, RSA or EC private key expected)",
        ),
        e => pem_error("key file", e),
    })?;
    build(certs, key)
}

/// A server configuration with a fresh self-signed certificate for
/// `hostname`, `localhost`, 127.0.0.1 and ::1 (subject alternative names),
/// ECDSA P-256 (rcgen, ring). Clients must be told to trust it (or not to
/// verify): it is for tests, never for real mail.
pub fn self_signed(hostname: &str) -> Result<Arc<ServerConfig>, TlsError> {
    let (cert, key) = generate(hostname)?;
    build(
        vec![CertificateDer::from(cert.der().to_vec())],
        PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
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

/// One line about a PEM error, naming the file; never quotes its contents
/// (a key file's lines are secret).
fn pem_error(which: &str, e: pem::Error) -> TlsError {
    let why = match e {
        pem::Error::MissingSectionEnd { end_marker } => {
            format!(
                "missing the -----END {}----- line",
                String::from_utf8_lossy(&end_marker).trim()
            )
        }
        pem::Error::IllegalSectionStart { .. } => "malformed BEGIN line".to_owned(),
        pem::Error::Base64Decode(_) => "bad base64 in a PEM section".to_owned(),
        pem::Error::NoItemsFound => "nothing found".to_owned(),
        pem::Error::SectionTooLarge => "PEM section too large".to_owned(),
        e => e.to_string(),
    };
    TlsError::new(format!("{which}: {why}"))
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

/// What a connection negotiated, for logs and the `Received:` field:
/// `TLS1.3 TLS13_AES_256_GCM_SHA384` (the IANA-style suite name rustls
/// uses). Before the handshake finishes it is just `TLS`.
pub fn describe(conn: &ServerConnection) -> String {
    let version = match conn.protocol_version() {
        Some(ProtocolVersion::TLSv1_3) => "TLS1.3".to_owned(),
        Some(ProtocolVersion::TLSv1_2) => "TLS1.2".to_owned(),
        Some(v) => format!("{v:?}"),
        None => return "TLS".to_owned(),
    };
    match conn.negotiated_cipher_suite() {
        Some(suite) => {
            let suite = suite.suite();
            match suite.as_str() {
                Some(name) => format!("{version} {name}"),
                None => format!("{version} {suite:?}"),
            }
        }
        None => version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection, RootCertStore};
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixStream;

    fn client_config(
        cert_pem: &str,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }

    /// A full handshake and one line each way over a socket pair: the
    /// server thread uses [`handshake`], the client trusts only the
    /// self-signed certificate and checks the name `server_name`.
    fn round_trip(
        server: Arc<ServerConfig>,
        client: Arc<ClientConfig>,
        server_name: &str,
    ) -> Result<String, String> {
        let (a, b) = UnixStream::pair().unwrap();
        let t = std::thread::spawn(move || -> io::Result<String> {
            let mut tls = handshake(&server, a)?;
            let summary = describe(&tls.conn);
            let mut line = String::new();
            BufReader::new(&mut tls).read_line(&mut line)?;
            tls.write_all(format!("echo {line}").as_bytes())?;
            tls.flush()?;
            Ok(summary)
        });
        let name = ServerName::try_from(server_name.to_owned()).unwrap();
        let conn = ClientConnection::new(client, name).unwrap();
        let mut tls = StreamOwned::new(conn, b);
        let sent = tls.write_all(b"EHLO client\r\n").and_then(|_| tls.flush());
        let mut reply = String::new();
        let got = sent.and_then(|_| BufReader::new(&mut tls).read_line(&mut reply));
        drop(tls);
        let server = t.join().unwrap().map_err(|e| format!("server: {e}"))?;
        got.map_err(|e| format!("client: {e}"))?;
        assert_eq!(reply, "echo EHLO client\r\n");
        Ok(server)
    }

    #[test]
    fn handshake_tls13_and_tls12_with_self_signed_pem() {
        let (cert, key) = self_signed_pem("mx.example.org").unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
        let server = server_config(cert.as_bytes(), key.as_bytes()).unwrap();
        for name in ["mx.example.org", "localhost", "127.0.0.1", "::1"] {
            let client = client_config(&cert, &[&rustls::version::TLS13]);
            let got = round_trip(server.clone(), client, name).unwrap();
            assert!(got.starts_with("TLS1.3 TLS13_"), "{got}");
        }
        let client = client_config(&cert, &[&rustls::version::TLS12]);
        let got = round_trip(server.clone(), client, "localhost").unwrap();
        assert!(got.starts_with("TLS1.2 TLS_ECDHE_ECDSA_WITH_"), "{got}");
        // A name not in the certificate: the client refuses.
        let client = client_config(&cert, &[&rustls::version::TLS13]);
        let err = round_trip(server, client, "other.example").unwrap_err();
        assert!(
            err.contains("server: ") || err.contains("client: "),
            "{err}"
        );
    }

    #[test]
    fn self_signed_config_works() {
        // self_signed() makes its own key: a client trusting another
        // certificate is refused, which shows the handshake is real.
        let server = self_signed("mx.example.org").unwrap();
        let (other, _) = self_signed_pem("mx.example.org").unwrap();
        let client = client_config(&other, &[&rustls::version::TLS13]);
        assert!(round_trip(server, client, "localhost").is_err());
        // Odd host names still give a certificate (localhost etc.).
        assert!(self_signed("").is_ok());
        assert!(self_signed("höst").is_ok());
        assert!(self_signed("localhost").is_ok());
    }

    #[test]
    fn combined_pem_file() {
        let (cert, key) = self_signed_pem("h").unwrap();
        let both = format!("{key}{cert}");
        assert!(server_config(both.as_bytes(), both.as_bytes()).is_ok());
    }

    #[test]
    fn config_errors() {
        let (cert, key) = self_signed_pem("h").unwrap();
        let (_, other_key) = self_signed_pem("h").unwrap();
        let secret_line = key.lines().nth(1).unwrap().to_owned();
        let bad_cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let truncated = &key[..key.len() - 30];
        for (c, k, want) in [
            (
                "",
                key.as_str(),
                "no certificate found in the certificate file",
            ),
            (
                key.as_str(),
                key.as_str(),
                "no certificate found in the certificate file",
            ),
            ("garbage", key.as_str(), "no certificate found"),
            (cert.as_str(), "", "no private key found in the key file"),
            (
                cert.as_str(),
                cert.as_str(),
                "no private key found in the key file",
            ),
            (
                cert.as_str(),
                other_key.as_str(),
                "the private key does not match the certificate",
            ),
            (
                cert.as_str(),
                truncated,
                "key file: missing the -----END PRIVATE KEY----- line",
            ),
            (bad_cert, key.as_str(), "unusable certificate"),
        ] {
            let err = server_config(c.as_bytes(), k.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(want), "{err:?} for {want:?}");
            assert!(!err.contains(&secret_line), "{err}");
        }
        let bad_b64 = "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n";
        let err = server_config(cert.as_bytes(), bad_b64.as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "key file: bad base64 in a PEM section");
        let junk_key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let err = server_config(cert.as_bytes(), junk_key.as_bytes()).unwrap_err();
        assert!(
            err.to_string().starts_with("unusable certificate or key"),
            "{err}"
        );
    }

    #[test]
    fn handshake_errors_do_not_hang() {
        let server = self_signed("h").unwrap();
        // Peer closes at once.
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let err = handshake(&server, a).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        // Peer sends plaintext SMTP instead of a ClientHello.
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"MAIL FROM:<a@b>\r\n").unwrap();
        let err = handshake(&server, a).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn describe_before_handshake() {
        let conn = ServerConnection::new(self_signed("h").unwrap()).unwrap();
        assert_eq!(describe(&conn), "TLS");
    }
}
