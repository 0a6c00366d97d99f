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
//!
//! The client side (smtp-send) is further down: [`client_config`] (system
//! roots via rustls-native-certs, `--ca-file`, `--tls-fingerprint` pinning,
//! `--tls-insecure`, client certificates), [`wrap`] (the handshake, with
//! verification failures told apart: [`HandshakeError::exit_code`]),
//! [`describe`] and [`peer_certificate_info`] for `-v` and `--probe`.

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

impl crate::exit::Status for TlsError {
    fn exit_code(&self) -> u8 {
        crate::exit::CONFIG
    }
}

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

/// What a connection negotiated, server or client side, for logs, the
/// `Received:` field, `-v` and `--probe`: `TLS1.3 TLS13_AES_256_GCM_SHA384`
/// (the IANA-style suite name rustls uses). Before the handshake finishes
/// it is just `TLS`.
pub fn describe(conn: &rustls::CommonState) -> String {
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

// ---------------------------------------------------------------------------
// Client side (smtp-send): verification, pinning, client certificates.
//
// Roots: the system's, through rustls-native-certs, rather than the Mozilla
// list compiled in by webpki-roots. A Unix mail client is expected to trust
// what the machine trusts: private and corporate CAs added to
// /etc/ssl/certs (a company relay signed by its own CA works without a
// flag), distribution updates and removals of CAs (no rebuild needed), and
// `SSL_CERT_FILE` / `SSL_CERT_DIR` are honoured as with OpenSSL-based tools.
// The cost measured in research/deps.md is ~2 ms at start-up, paid only
// when roots are needed (not with --ca-file, --tls-fingerprint or
// --tls-insecure).

/// A client certificate and its key, as PEM (`--tls-client-cert`,
/// `--tls-client-key`; may be the same combined file). Debug hides both.
#[derive(Clone, Default)]
pub struct ClientCert {
    /// The certificate chain, PEM, ours first.
    pub cert_pem: Vec<u8>,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: Vec<u8>,
    /// How errors name the certificate file (`--tls-client-cert /path`);
    /// `None`: "the client certificate file".
    pub cert_name: Option<String>,
    /// How errors name the key file; `None`: "the client key file".
    pub key_name: Option<String>,
}

impl fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientCert(..)")
    }
}

/// How the client verifies the server and presents itself. The default is
/// full verification (chain to the system roots, host name) and no client
/// certificate.
///
/// Precedence: `insecure` turns all verification off; else a
/// `fingerprint` replaces chain and name verification by the pin (as
/// msmtp's `tls_fingerprint` does: a pinned self-signed certificate works,
/// and `ca_pem` is not consulted); else the chain is verified against
/// `ca_pem` (which replaces the system roots) or the system roots, and the
/// certificate must be valid for the server name.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// `--ca-file`: PEM certificates to trust instead of the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// How errors name `ca_pem` (`--ca-file /path`); `None`: "the CA file".
    pub ca_name: Option<String>,
    /// `--tls-fingerprint`: the SHA-256 of the server's leaf certificate.
    pub fingerprint: Option<Fingerprint>,
    /// `--tls-insecure`: no verification at all (the caller warns loudly).
    pub insecure: bool,
    /// `--tls-client-cert` / `--tls-client-key`.
    pub client_cert: Option<ClientCert>,
    /// `--tls-sni`: the name sent in SNI and verified, instead of the host.
    pub sni: Option<String>,
}

impl ClientTls {
    /// The name to send and verify for `host`: `--tls-sni` if given, else
    /// the host itself (an IP literal is verified against the certificate's
    /// IP addresses and sent without SNI, RFC 6066 §3).
    pub fn server_name<'a>(&'a self, host: &'a str) -> &'a str {
        self.sni.as_deref().unwrap_or(host)
    }
}

/// A SHA-256 certificate fingerprint, written `SHA256:AB:CD:…` (the
/// colon-separated upper-case hex of `openssl x509 -fingerprint -sha256`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of(der: &[u8]) -> Fingerprint {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut out = [0; 32];
        out.copy_from_slice(digest.as_ref());
        Fingerprint(out)
    }

    /// Parses 64 hex digits, case-insensitive, with or without colons
    /// between bytes, optionally after `SHA256:` or openssl's
    /// `sha256 Fingerprint=` (so its output can be pasted).
    pub fn parse(text: &str) -> Result<Fingerprint, TlsError> {
        let bad = |why: &str| TlsError::new(format!("bad fingerprint {text:?}: {why}"));
        let mut s = text.trim();
        for prefix in ["sha256 fingerprint=", "sha256:", "sha-256:"] {
            if s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix) {
                s = &s[prefix.len()..];
                break;
            }
        }
        let digits: Vec<u8> = s.bytes().filter(|&b| b != b':').collect();
        if let Some(&c) = digits.iter().find(|b| !b.is_ascii_hexdigit()) {
            return Err(bad(&format!(
                "{:?} is not a hex digit (SHA256:AB:CD:… expected)",
                char::from(c)
            )));
        }
        if digits.len() != 64 {
            return Err(bad(&format!(
                "{} hex digits, a SHA-256 fingerprint has 64",
                digits.len()
            )));
        }
        let hex = |b: u8| match b {
            b'0'..=b'9' => b - b'0',
            _ => (b | 0x20) - b'a' + 10,
        };
        let mut out = [0; 32];
        for (o, pair) in out.iter_mut().zip(digits.chunks(2)) {
            *o = hex(pair[0]) << 4 | hex(pair[1]);
        }
        Ok(Fingerprint(out))
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = TlsError;
    fn from_str(s: &str) -> Result<Fingerprint, TlsError> {
        Fingerprint::parse(s)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SHA256:")?;
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The pin did not match: carried through rustls as
/// `CertificateError::Other` so [`wrap`] can name the certificate we got.
#[derive(Debug)]
struct FingerprintMismatch(Fingerprint);

impl fmt::Display for FingerprintMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fingerprint mismatch: got {}", self.0)
    }
}

impl std::error::Error for FingerprintMismatch {}

/// `--tls-fingerprint`: the leaf must hash to the pin. The handshake
/// signatures are still checked against the leaf's key, so a server that
/// merely replays the pinned certificate without its key fails.
#[derive(Debug)]
struct PinnedVerifier {
    pin: Fingerprint,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

/// The normal (WebPKI) verifier, which also names the certificate it
/// could not trust: "signed by unknown authority" alone leaves a user who
/// wants to pin a private server's certificate nowhere to start, so that
/// error carries the leaf's fingerprint ([`Untrusted`]).
#[derive(Debug)]
struct NamingVerifier(Arc<rustls::client::WebPkiServerVerifier>);

/// An untrusted certificate with its fingerprint: carried through rustls as
/// `CertificateError::Other`, as [`FingerprintMismatch`] is.
#[derive(Debug)]
struct Untrusted {
    why: rustls::CertificateError,
    got: Fingerprint,
}

impl fmt::Display for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (got {}); to trust it: --tls-fingerprint or --ca-file",
            certificate_message(&self.why),
            self.got
        )
    }
}

impl std::error::Error for Untrusted {}

/// `--tls-insecure`: anything goes.
#[derive(Debug)]
struct NoVerifier {
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection};

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = Fingerprint::of(end_entity);
        if got == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Other(rustls::OtherError(Arc::new(FingerprintMismatch(
                    got,
                )))),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ServerCertVerifier for NamingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::CertificateError as C;
        self.0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(
                    why @ (C::UnknownIssuer
                    | C::BadSignature
                    | C::UnsupportedSignatureAlgorithmContext { .. }
                    | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. }),
                ) => rustls::Error::InvalidCertificate(C::Other(rustls::OtherError(Arc::new(
                    Untrusted {
                        why,
                        got: Fingerprint::of(end_entity),
                    },
                )))),
                e => e,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.0.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.0.root_hint_subjects()
    }
}

impl ServerCertVerifier for NoVerifier {
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
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A client configuration for `opts`: ring provider, TLS 1.3 and 1.2.
///
/// Errors (configuration, exit 78): no certificate in `ca_pem` or bad PEM
/// there, no usable system roots, a client certificate or key that cannot
/// be read or do not belong together.
pub fn client_config(opts: &ClientTls) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::new(format!("TLS setup: {e}")))?;
    let builder = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerifier { algorithms }))
    } else if let Some(pin) = opts.fingerprint {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedVerifier { pin, algorithms }))
    } else {
        let roots = match &opts.ca_pem {
            Some(pem) => roots_from_pem(pem, opts.ca_name.as_deref().unwrap_or("the CA file"))?,
            None => native_roots()?,
        };
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::clone(&provider),
        )
        .build()
        .map_err(|e| TlsError::new(format!("TLS setup: {e}")))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NamingVerifier(verifier)))
    };
    let config = match &opts.client_cert {
        None => builder.with_no_client_auth(),
        Some(cc) => {
            let cert_name = cc
                .cert_name
                .as_deref()
                .unwrap_or("the client certificate file");
            let key_name = cc.key_name.as_deref().unwrap_or("the client key file");
            let certs = CertificateDer::pem_slice_iter(&cc.cert_pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| pem_error(cert_name, e))?;
            if certs.is_empty() {
                return Err(TlsError::new(format!(
                    "no certificate found in {cert_name}"
                )));
            }
            let key = PrivateKeyDer::from_pem_slice(&cc.key_pem).map_err(|e| match e {
                pem::Error::NoItemsFound => {
                    TlsError::new(format!("no private key found in {key_name}"))
                }
                e => pem_error(key_name, e),
            })?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| match e {
                    rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                        TlsError::new("the client key does not match the client certificate")
                    }
                    e => TlsError::new(format!("unusable client certificate or key: {e}")),
                })?
        }
    };
    Ok(Arc::new(config))
}

/// `--ca-file`: every certificate in the PEM; at least one must be usable.
/// `name` names the file in errors.
fn roots_from_pem(pem_bytes: &[u8], name: &str) -> Result<rustls::RootCertStore, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem_bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(name, e))?;
    if certs.is_empty() {
        return Err(TlsError::new(format!(
            "no certificate found in {name} (PEM \"BEGIN CERTIFICATE\" expected)"
        )));
    }
    let mut roots = rustls::RootCertStore::empty();
    let (_, bad) = roots.add_parsable_certificates(certs);
    if roots.is_empty() {
        return Err(TlsError::new(format!(
            "no usable certificate in {name} ({bad} could not be parsed)"
        )));
    }
    Ok(roots)
}

/// The system trust store (rustls-native-certs: /etc/ssl/certs and the
/// like, `SSL_CERT_FILE`, `SSL_CERT_DIR`). Unparsable entries are skipped,
/// as OpenSSL does; an empty store is an error that says what to do.
fn native_roots() -> Result<rustls::RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let why = match found.errors.first() {
            Some(e) => format!(" ({e})"),
            None => String::new(),
        };
        return Err(TlsError::new(format!(
            "no system CA certificates found{why}: install ca-certificates, set SSL_CERT_FILE, \
             or use --ca-file or --tls-fingerprint"
        )));
    }
    Ok(roots)
}

/// A TLS handshake that failed on the client side.
#[derive(Debug)]
pub struct HandshakeError {
    kind: HandshakeErrorKind,
    message: String,
}

/// What kind of failure a [`HandshakeError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeErrorKind {
    /// The server's certificate failed verification (unknown authority,
    /// wrong name, expired, fingerprint mismatch): exit 77.
    Verify,
    /// The server refused us with a certificate alert (our client
    /// certificate is missing or not accepted): exit 77.
    Rejected,
    /// The server does not speak TLS here, or no common version or cipher:
    /// exit 76.
    Protocol,
    /// The connection failed or timed out: exit 75.
    Io,
    /// A bad server name or TLS asked for where it cannot be: exit 78.
    Config,
}

impl HandshakeError {
    pub(crate) fn usage(message: impl Into<String>) -> HandshakeError {
        HandshakeError {
            kind: HandshakeErrorKind::Config,
            message: message.into(),
        }
    }

    /// The TLS failure inside an I/O error from a TLS stream after
    /// [`wrap`] succeeded, if it is one: with TLS 1.3 the server checks a
    /// client certificate after the client has finished, so its refusal
    /// arrives with the first read (exit 77 rather than an I/O error).
    pub fn from_stream_error(e: &io::Error) -> Option<HandshakeError> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .map(HandshakeError::from_rustls)
    }

    /// Classifies an I/O error from the handshake: a TLS error inside it,
    /// else the connection's failure.
    fn from_io(e: io::Error) -> HandshakeError {
        let tls = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        match tls {
            Some(t) => HandshakeError::from_rustls(t),
            None => {
                let message = match e.kind() {
                    io::ErrorKind::UnexpectedEof => {
                        "the server closed the connection during the TLS handshake".to_owned()
                    }
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                        "timed out during the TLS handshake".to_owned()
                    }
                    _ => format!("TLS handshake: {e}"),
                };
                HandshakeError {
                    kind: HandshakeErrorKind::Io,
                    message,
                }
            }
        }
    }

    fn from_rustls(e: &rustls::Error) -> HandshakeError {
        use rustls::AlertDescription as A;
        let (kind, message) = match e {
            rustls::Error::InvalidCertificate(c) => {
                (HandshakeErrorKind::Verify, certificate_message(c))
            }
            rustls::Error::AlertReceived(
                a @ (A::BadCertificate
                | A::UnsupportedCertificate
                | A::CertificateRevoked
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::UnknownCA
                | A::AccessDenied
                | A::CertificateRequired),
            ) => (
                HandshakeErrorKind::Rejected,
                format!(
                    "the server refused our TLS client certificate ({} alert)",
                    alert_name(a)
                ),
            ),
            rustls::Error::AlertReceived(a) => (
                HandshakeErrorKind::Protocol,
                format!(
                    "the server ended the TLS handshake ({} alert)",
                    alert_name(a)
                ),
            ),
            rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => (
                HandshakeErrorKind::Protocol,
                "the server did not answer in TLS (a plain-text port? smtp:// uses STARTTLS, \
                 smtps:// is for implicit TLS)"
                    .to_owned(),
            ),
            e => (HandshakeErrorKind::Protocol, format!("TLS handshake: {e}")),
        };
        HandshakeError { kind, message }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> HandshakeErrorKind {
        self.kind
    }

    /// Whether the server's certificate failed verification.
    #[cfg(test)]
    fn is_verification(&self) -> bool {
        self.kind == HandshakeErrorKind::Verify
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HandshakeError {}

impl crate::exit::Status for HandshakeError {
    /// The exit code (DESIGN.md): 77 verification or client certificate
    /// refused, 76 not TLS / no common parameters, 75 I/O, 78 bad name.
    fn exit_code(&self) -> u8 {
        match self.kind {
            HandshakeErrorKind::Verify | HandshakeErrorKind::Rejected => crate::exit::NOPERM,
            HandshakeErrorKind::Protocol => crate::exit::PROTOCOL,
            HandshakeErrorKind::Io => crate::exit::TEMPFAIL,
            HandshakeErrorKind::Config => crate::exit::CONFIG,
        }
    }
}

/// Why a certificate failed verification, in words.
fn certificate_message(c: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    match c {
        C::NotValidForName => "certificate not valid for the server name".to_owned(),
        C::NotValidForNameContext {
            expected,
            presented,
        } => {
            let expected = match expected {
                ServerName::DnsName(d) => d.as_ref().to_owned(),
                ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
                other => format!("{other:?}"),
            };
            let mut m = format!("certificate not valid for name {expected:?}");
            if !presented.is_empty() {
                let names: Vec<String> = presented
                    .iter()
                    .take(8)
                    .map(|n| format!("{:?}", presented_name(n)))
                    .collect();
                m.push_str(&format!(" (it is for {})", names.join(", ")));
            }
            m
        }
        C::UnknownIssuer => "certificate signed by unknown authority".to_owned(),
        C::Expired => "certificate expired".to_owned(),
        C::ExpiredContext { not_after, .. } => {
            format!(
                "certificate expired on {}",
                format_unix(not_after.as_secs())
            )
        }
        C::NotValidYet => "certificate not valid yet".to_owned(),
        C::NotValidYetContext { not_before, .. } => format!(
            "certificate not valid until {}",
            format_unix(not_before.as_secs())
        ),
        C::Revoked => "certificate revoked".to_owned(),
        // Path building tries each trusted CA whose name is the
        // issuer's; one with that name that did not sign it (an
        // impostor, or another throwaway "CN=localhost") ends here.
        C::BadSignature => {
            "certificate signed by unknown authority (a signature does not verify)".to_owned()
        }
        C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "certificate signed by unknown authority (or with an unsupported algorithm)".to_owned()
        }
        C::BadEncoding => "certificate is malformed".to_owned(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "certificate is not for TLS servers".to_owned()
        }
        C::Other(other) => {
            if let Some(m) = other.0.downcast_ref::<FingerprintMismatch>() {
                m.to_string()
            } else if let Some(u) = other.0.downcast_ref::<Untrusted>() {
                u.to_string()
            } else {
                format!("certificate rejected: {other}")
            }
        }
        other => format!("certificate rejected: {other:?}"),
    }
}

/// rustls gives the certificate's names as `DnsName("a.example")` and
/// `IpAddress(0::1)`; the name alone reads better.
fn presented_name(n: &str) -> String {
    if let Some(inner) = n
        .strip_prefix("DnsName(\"")
        .and_then(|r| r.strip_suffix("\")"))
    {
        return inner.to_owned();
    }
    if let Some(inner) = n
        .strip_prefix("IpAddress(")
        .and_then(|r| r.strip_suffix(')'))
        && let Ok(ip) = inner.parse::<std::net::IpAddr>()
    {
        return ip.to_string();
    }
    n.to_owned()
}

/// "bad certificate" from `BadCertificate`: the RFC 8446 §6 spelling.
fn alert_name(a: &rustls::AlertDescription) -> String {
    let debug = format!("{a:?}");
    let mut out = String::with_capacity(debug.len() + 4);
    let mut prev: Option<char> = None;
    for c in debug.chars() {
        if c.is_ascii_uppercase() && prev.is_some_and(|p| !p.is_ascii_uppercase()) {
            out.push(' ');
        }
        out.push(c.to_ascii_lowercase());
        prev = Some(c);
    }
    out
}

/// Runs the client side of a TLS handshake on `stream` (after `220` to
/// STARTTLS, or at once for `smtps://`), checking the server as `config`
/// says against `server_name` (the host or `--tls-sni`; an IP literal
/// without brackets is checked against the certificate's IP addresses).
///
/// The caller must discard anything it buffered from the server before the
/// handshake (RFC 3207 §4.2): this reads the handshake from `stream`
/// itself. The socket's timeouts bound it.
pub fn wrap<S: Read + Write>(
    config: &Arc<ClientConfig>,
    server_name: &str,
    mut stream: S,
) -> Result<StreamOwned<ClientConnection, S>, HandshakeError> {
    let name = ServerName::try_from(server_name.to_owned()).map_err(|_| {
        HandshakeError::usage(format!("{server_name:?} is not a valid TLS server name"))
    })?;
    let mut conn = ClientConnection::new(Arc::clone(config), name)
        .map_err(|e| HandshakeError::usage(format!("TLS setup: {e}")))?;
    while conn.is_handshaking() {
        match conn.complete_io(&mut stream) {
            Ok((0, 0)) => {
                return Err(HandshakeError::from_io(io::ErrorKind::UnexpectedEof.into()));
            }
            Ok(_) => {}
            Err(e) => return Err(HandshakeError::from_io(e)),
        }
    }
    Ok(StreamOwned::new(conn, stream))
}

/// What `--probe` shows of a certificate. Text fields are printable: control
/// characters from a hostile certificate are escaped as `\xNN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject distinguished name, RFC 4514 order (`CN=mx.example, O=Example`),
    /// empty if the certificate could not be parsed.
    pub subject: String,
    /// Issuer distinguished name, same form.
    pub issuer: String,
    /// Start of validity, `YYYY-MM-DD HH:MM:SS UTC`.
    pub not_before: String,
    /// End of validity, same form.
    pub not_after: String,
    /// End of validity in seconds since the Unix epoch (for "expires in N
    /// days").
    pub not_after_unix: Option<i64>,
    /// Subject alternative names: DNS names and IP addresses.
    pub names: Vec<String>,
    /// SHA-256 of the DER certificate (what `--tls-fingerprint` pins).
    pub sha256: Fingerprint,
}

/// The server's (leaf) certificate, once the handshake is done.
pub fn peer_certificate_info(conn: &ClientConnection) -> Option<CertInfo> {
    conn.peer_certificates()
        .and_then(|certs| certs.first())
        .map(|c| cert_info(c.as_ref()))
}

/// Reads subject, issuer, validity and names from a DER certificate
/// (RFC 5280 §4.1). A small DER walk rather than a full X.509 crate (the
/// only one, x509-parser, adds a dozen crates to the build for four
/// fields); whatever it cannot parse is left empty, and the fingerprint is
/// always there.
pub fn cert_info(der: &[u8]) -> CertInfo {
    let mut info = CertInfo {
        subject: String::new(),
        issuer: String::new(),
        not_before: String::new(),
        not_after: String::new(),
        not_after_unix: None,
        names: Vec::new(),
        sha256: Fingerprint::of(der),
    };
    let _ = parse_tbs(der, &mut info);
    info
}

fn parse_tbs(der: &[u8], info: &mut CertInfo) -> Option<()> {
    let mut input = der;
    let mut cert = expect(&mut input, 0x30)?;
    let mut tbs = expect(&mut cert, 0x30)?;
    let (mut tag, _) = der_next(&mut tbs)?;
    if tag == 0xa0 {
        // [0] EXPLICIT version; the serial number follows.
        (tag, _) = der_next(&mut tbs)?;
    }
    (tag == 0x02).then_some(())?;
    expect(&mut tbs, 0x30)?; // signature algorithm
    info.issuer = format_name(expect(&mut tbs, 0x30)?);
    let mut validity = expect(&mut tbs, 0x30)?;
    let before = der_next(&mut validity)?;
    let after = der_next(&mut validity)?;
    if let Some(t) = parse_time(before.0, before.1) {
        info.not_before = format_civil(t);
    }
    if let Some(t) = parse_time(after.0, after.1) {
        info.not_after = format_civil(t);
        info.not_after_unix = Some(unix_from_civil(t));
    }
    info.subject = format_name(expect(&mut tbs, 0x30)?);
    expect(&mut tbs, 0x30)?; // subjectPublicKeyInfo
    while let Some((tag, body)) = der_next(&mut tbs) {
        if tag == 0xa3 {
            let mut body = body;
            let mut exts = expect(&mut body, 0x30)?;
            while let Some((0x30, mut ext)) = der_next(&mut exts) {
                let oid = expect(&mut ext, 0x06)?;
                let (mut tag, mut value) = der_next(&mut ext)?;
                if tag == 0x01 {
                    (tag, value) = der_next(&mut ext)?; // critical flag
                }
                // id-ce-subjectAltName 2.5.29.17 (RFC 5280 §4.2.1.6)
                if oid == [0x55, 0x1d, 0x11] && tag == 0x04 {
                    let mut value = value;
                    let mut names = expect(&mut value, 0x30)?;
                    while let Some((tag, name)) = der_next(&mut names) {
                        match (tag, name.len()) {
                            (0x82, _) => info.names.push(printable(&String::from_utf8_lossy(name))),
                            (0x87, 4) => {
                                let a: [u8; 4] = name.try_into().ok()?;
                                info.names.push(std::net::Ipv4Addr::from(a).to_string());
                            }
                            (0x87, 16) => {
                                let a: [u8; 16] = name.try_into().ok()?;
                                info.names.push(std::net::Ipv6Addr::from(a).to_string());
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    Some(())
}

/// One DER element `(tag, contents)`, advancing `input`. Low tag numbers
/// and definite lengths only (X.509 DER needs no more); None on anything
/// malformed or truncated.
fn der_next<'a>(input: &mut &'a [u8]) -> Option<(u8, &'a [u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    let (contents, after) = rest.split_at(len);
    *input = after;
    Some((tag, contents))
}

fn expect<'a>(input: &mut &'a [u8], want: u8) -> Option<&'a [u8]> {
    match der_next(input)? {
        (tag, contents) if tag == want => Some(contents),
        _ => None,
    }
}

/// A Name (RFC 5280 §4.1.2.4) as RFC 4514 text: last RDN first,
/// `, ` between RDNs, `+` within one.
fn format_name(mut name: &[u8]) -> String {
    let mut rdns = Vec::new();
    while let Some((0x31, mut set)) = der_next(&mut name) {
        let mut parts = Vec::new();
        while let Some((0x30, mut atv)) = der_next(&mut set) {
            let (Some(oid), Some((tag, value))) = (expect(&mut atv, 0x06), der_next(&mut atv))
            else {
                continue;
            };
            parts.push(format!("{}={}", oid_name(oid), der_string(tag, value)));
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    rdns.join(", ")
}

fn oid_name(oid: &[u8]) -> String {
    let short = match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x05] => "serialNumber",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "street",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        _ => return dotted_oid(oid),
    };
    short.to_owned()
}

/// `2.5.4.42` from the DER contents of an OID (X.690 §8.19).
fn dotted_oid(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for &b in oid {
        if value > u64::MAX >> 7 {
            return "?".to_owned();
        }
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    let parts: Vec<String> = arcs.iter().map(u64::to_string).collect();
    parts.join(".")
}

/// A directory string's text: UTF8String, PrintableString, IA5String,
/// TeletexString (as Latin-1), BMPString (UTF-16BE), UniversalString
/// (UTF-32BE); anything else as `#hex` (RFC 4514 §2.4).
fn der_string(tag: u8, value: &[u8]) -> String {
    let text = match tag {
        0x0c | 0x13 | 0x16 => String::from_utf8_lossy(value).into_owned(),
        0x14 => value.iter().map(|&b| char::from(b)).collect(),
        0x1e => char::decode_utf16(
            value
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]])),
        )
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect(),
        0x1c => value
            .chunks_exact(4)
            .map(|p| {
                char::from_u32(u32::from_be_bytes([p[0], p[1], p[2], p[3]]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect(),
        _ => {
            let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
            return format!("#{hex}");
        }
    };
    printable(&text)
}

/// Escapes control characters, so a certificate cannot write terminal
/// escape sequences into `--probe` output.
fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// (year, month, day, hour, minute, second), UTC.
type Civil = (i64, u32, u32, u32, u32, u32);

/// UTCTime `YYMMDDHHMMSSZ` (years 1950–2049, RFC 5280 §4.1.2.5.1) or
/// GeneralizedTime `YYYYMMDDHHMMSSZ` (§4.1.2.5.2).
fn parse_time(tag: u8, value: &[u8]) -> Option<Civil> {
    let digits = value.strip_suffix(b"Z")?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |s: &[u8]| s.iter().fold(0u32, |a, &d| a * 10 + u32::from(d - b'0'));
    let (year, rest) = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy = i64::from(num(&digits[..2]));
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &digits[2..])
        }
        (0x18, 14) => (i64::from(num(&digits[..4])), &digits[4..]),
        _ => return None,
    };
    let f = |i: usize| num(&rest[i..i + 2]);
    let t = (year, f(0), f(2), f(4), f(6), f(8));
    (matches!(t.1, 1..=12) && matches!(t.2, 1..=31) && t.3 < 24 && t.4 < 60 && t.5 < 61)
        .then_some(t)
}

fn format_civil((y, mo, d, h, mi, s): Civil) -> String {
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// days_from_civil), then seconds.
fn unix_from_civil((y, mo, d, h, mi, s): Civil) -> i64 {
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mo = i64::from(mo);
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s)
}

/// rustls' `UnixTime` in messages: `2026-11-26 19:31:32 UTC`.
fn format_unix(secs: u64) -> String {
    let t = crate::message::date::utc(i64::try_from(secs).unwrap_or(i64::MAX / 2));
    format_civil((t.year, t.month, t.day, t.hour, t.min, t.sec))
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
        let (server, _) = self_signed("mx.example.org").unwrap();
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
        let (server, _) = self_signed("h").unwrap();
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
        let conn = ServerConnection::new(self_signed("h").unwrap().0).unwrap();
        assert_eq!(describe(&conn), "TLS");
    }
}

#[cfg(test)]
mod client_tests {
    use super::*;
    use crate::exit::Status as _;
    use std::io::{BufRead, BufReader};
    use std::net::{TcpListener, TcpStream};
    use std::thread::JoinHandle;

    /// A one-connection TLS echo server on loopback using [`server_config`]
    /// (so the client talks to the receiver's own code). Returns its port
    /// and a handle giving the server-side result.
    fn serve(config: Arc<ServerConfig>) -> (u16, JoinHandle<io::Result<()>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let t = std::thread::spawn(move || -> io::Result<()> {
            let (sock, _) = listener.accept()?;
            sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
            let mut tls = handshake(&config, sock)?;
            let mut line = String::new();
            BufReader::new(&mut tls).read_line(&mut line)?;
            tls.write_all(format!("250 {line}").as_bytes())?;
            tls.flush()
        });
        (port, t)
    }

    fn tcp(port: u16) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        s
    }

    /// Handshake + one line each way; the client error, if any.
    fn talk(
        server: Arc<ServerConfig>,
        opts: &ClientTls,
        name: &str,
    ) -> Result<StreamOwned<ClientConnection, TcpStream>, HandshakeError> {
        let (port, t) = serve(server);
        let config = client_config(opts).unwrap();
        let result = wrap(&config, name, tcp(port)).and_then(|mut s| {
            s.write_all(b"EHLO me\r\n")
                .map_err(HandshakeError::from_io)?;
            s.flush().map_err(HandshakeError::from_io)?;
            let mut line = String::new();
            BufReader::new(&mut s)
                .read_line(&mut line)
                .map_err(HandshakeError::from_io)?;
            assert_eq!(line, "250 EHLO me\r\n");
            Ok(s)
        });
        let server_result = t.join().unwrap();
        if result.is_ok() {
            server_result.unwrap();
        }
        result
    }

    fn pem_pair(host: &str) -> (String, String, Arc<ServerConfig>) {
        let (cert, key) = self_signed_pem(host).unwrap();
        let server = server_config(cert.as_bytes(), key.as_bytes()).unwrap();
        (cert, key, server)
    }

    fn leaf_fingerprint(cert_pem: &str) -> Fingerprint {
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        Fingerprint::of(der.as_ref())
    }

    #[test]
    fn ca_file_happy_path() {
        let (cert, _, server) = pem_pair("mx.example.org");
        let opts = ClientTls {
            ca_pem: Some(cert.into_bytes()),
            ..Default::default()
        };
        for name in ["mx.example.org", "localhost", "127.0.0.1", "::1"] {
            let s = talk(server.clone(), &opts, name).unwrap();
            let d = describe(&s.conn);
            assert!(d.starts_with("TLS1.3 TLS13_"), "{d}");
            let info = peer_certificate_info(&s.conn).unwrap();
            assert_eq!(info.subject, "CN=mx.example.org");
            assert_eq!(
                info.names,
                ["mx.example.org", "localhost", "127.0.0.1", "::1"]
            );
        }
    }

    #[test]
    fn sni_overrides_the_host_name() {
        let (cert, _, server) = pem_pair("mx.example.org");
        let opts = ClientTls {
            ca_pem: Some(cert.into_bytes()),
            sni: Some("mx.example.org".to_owned()),
            ..Default::default()
        };
        // Connected by address, verified as the SNI name.
        let name = opts.server_name("127.0.0.2");
        assert_eq!(name, "mx.example.org");
        assert!(talk(server, &opts, name).is_ok());
        assert_eq!(ClientTls::default().server_name("h"), "h");
    }

    #[test]
    fn wrong_host_name() {
        let (cert, _, server) = pem_pair("mx.example.org");
        let opts = ClientTls {
            ca_pem: Some(cert.into_bytes()),
            ..Default::default()
        };
        let err = talk(server.clone(), &opts, "other.example").unwrap_err();
        assert!(err.is_verification());
        assert_eq!(err.exit_code(), 77);
        let msg = err.to_string();
        assert!(
            msg.starts_with(
                "certificate not valid for name \"other.example\" (it is for \"mx.example.org\""
            ),
            "{msg}"
        );
        let err = talk(server, &opts, "10.1.2.3").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("certificate not valid for name \"10.1.2.3\""),
            "{err}"
        );
    }

    #[test]
    fn untrusted_certificate() {
        let (_, _, server) = pem_pair("mx.example.org");
        let (other, _, _) = pem_pair("mx.example.org");
        let opts = ClientTls {
            ca_pem: Some(other.into_bytes()),
            ..Default::default()
        };
        let err = talk(server, &opts, "mx.example.org").unwrap_err();
        assert_eq!(err.kind(), HandshakeErrorKind::Verify);
        // The trusted one has the same name (CN=mx.example.org) but did
        // not sign it.
        assert!(
            err.to_string()
                .starts_with("certificate signed by unknown authority"),
            "{err}"
        );
    }

    #[test]
    fn bug_untrusted_certificate_names_its_fingerprint() {
        // "signed by unknown authority" gave users nothing to pin.
        let (cert, _, server) = pem_pair("mx.example.org");
        let (other, _, _) = pem_pair("ca.example");
        let opts = ClientTls {
            ca_pem: Some(other.into_bytes()),
            ..Default::default()
        };
        let err = talk(server, &opts, "mx.example.org").unwrap_err();
        assert_eq!(err.kind(), HandshakeErrorKind::Verify);
        assert_eq!(
            err.to_string(),
            format!(
                "certificate signed by unknown authority (got {}); to trust it: --tls-fingerprint or --ca-file",
                leaf_fingerprint(&cert)
            )
        );
    }

    #[test]
    fn system_roots_do_not_trust_a_self_signed_certificate() {
        let (_, _, server) = pem_pair("localhost");
        // Loading the system roots may fail on a machine without any; that
        // is a configuration error, with advice.
        match client_config(&ClientTls::default()) {
            Ok(_) => {
                let err = talk(server, &ClientTls::default(), "localhost").unwrap_err();
                assert!(err.is_verification());
                assert!(
                    err.to_string()
                        .starts_with("certificate signed by unknown authority"),
                    "{err}"
                );
            }
            Err(e) => assert!(e.to_string().contains("--ca-file"), "{e}"),
        }
    }

    #[test]
    fn fingerprint_match_and_mismatch() {
        let (cert, _, server) = pem_pair("mx.example.org");
        let pin = leaf_fingerprint(&cert);
        // The pin replaces chain and name checks: any name, no CA.
        let opts = ClientTls {
            fingerprint: Some(pin),
            ..Default::default()
        };
        let s = talk(server.clone(), &opts, "any.name.example").unwrap();
        assert_eq!(peer_certificate_info(&s.conn).unwrap().sha256, pin);
        // Pasted in other forms: lower case, no colons, openssl's prefix.
        let lower = pin.to_string().to_lowercase();
        assert_eq!(Fingerprint::parse(&lower).unwrap(), pin);
        let bare = pin.to_string()[7..].replace(':', "");
        assert_eq!(Fingerprint::parse(&bare).unwrap(), pin);
        let openssl = format!("sha256 Fingerprint={}", &pin.to_string()[7..]);
        assert_eq!(openssl.parse::<Fingerprint>().unwrap(), pin);

        let mut wrong = pin;
        wrong.0[0] ^= 1;
        let opts = ClientTls {
            fingerprint: Some(wrong),
            ca_pem: Some(cert.into_bytes()),
            ..Default::default()
        };
        let err = talk(server, &opts, "mx.example.org").unwrap_err();
        assert!(err.is_verification());
        assert_eq!(err.to_string(), format!("fingerprint mismatch: got {pin}"));
    }

    #[test]
    fn fingerprint_syntax() {
        let fp = Fingerprint([0xab; 32]);
        let text = fp.to_string();
        assert_eq!(text.len(), 7 + 32 * 3 - 1);
        assert!(text.starts_with("SHA256:AB:AB:"));
        assert_eq!(format!("{fp:?}"), text);
        for (bad, want) in [
            ("", "0 hex digits"),
            ("SHA256:AB", "2 hex digits"),
            ("SHA1:AB:CD", "'S' is not a hex digit"),
            (&"g".repeat(64), "'g' is not a hex digit"),
            (&"a".repeat(66), "66 hex digits"),
        ] {
            let err = Fingerprint::parse(bad).unwrap_err().to_string();
            assert!(err.contains(want), "{bad}: {err}");
        }
    }

    #[test]
    fn insecure_accepts_anything() {
        let (_, _, server) = pem_pair("mx.example.org");
        let opts = ClientTls {
            insecure: true,
            ..Default::default()
        };
        assert!(talk(server, &opts, "wrong.example").is_ok());
    }

    #[test]
    fn tls12_is_described() {
        let (cert, key) = self_signed_pem("h").unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap();
        let opts = ClientTls {
            ca_pem: Some(cert.into_bytes()),
            ..Default::default()
        };
        let s = talk(Arc::new(server), &opts, "localhost").unwrap();
        let d = describe(&s.conn);
        assert!(d.starts_with("TLS1.2 TLS_ECDHE_ECDSA_WITH_"), "{d}");
    }

    #[test]
    fn client_certificate() {
        let (server_cert, server_key) = self_signed_pem("mx.example.org").unwrap();
        let (client_cert, client_key) = self_signed_pem("client.example").unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut client_roots = rustls::RootCertStore::empty();
        client_roots
            .add(CertificateDer::from_pem_slice(client_cert.as_bytes()).unwrap())
            .unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(client_roots),
            provider.clone(),
        )
        .build()
        .unwrap();
        let with_cert = ClientTls {
            ca_pem: Some(server_cert.clone().into_bytes()),
            client_cert: Some(ClientCert {
                cert_pem: client_cert.clone().into_bytes(),
                key_pem: client_key.clone().into_bytes(),
                cert_name: None,
                key_name: None,
            }),
            ..Default::default()
        };
        assert!(format!("{with_cert:?}").contains("ClientCert(..)"));
        assert!(!format!("{with_cert:?}").contains("PRIVATE KEY"));
        let without = ClientTls {
            ca_pem: Some(server_cert.clone().into_bytes()),
            ..Default::default()
        };
        // TLS 1.2 refuses during the handshake; TLS 1.3 only after the
        // client finished, at its first read: both are exit 77, not 76.
        for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
            let server = Arc::new(
                ServerConfig::builder_with_provider(provider.clone())
                    .with_protocol_versions(&[version])
                    .unwrap()
                    .with_client_cert_verifier(verifier.clone())
                    .with_single_cert(
                        vec![CertificateDer::from_pem_slice(server_cert.as_bytes()).unwrap()],
                        PrivateKeyDer::from_pem_slice(server_key.as_bytes()).unwrap(),
                    )
                    .unwrap(),
            );
            assert!(talk(server.clone(), &with_cert, "mx.example.org").is_ok());
            let err = talk(server, &without, "mx.example.org").unwrap_err();
            assert_eq!(err.kind(), HandshakeErrorKind::Rejected, "{err}");
            assert_eq!(err.exit_code(), 77);
            assert!(err.to_string().contains("client certificate"), "{err}");
        }
        // Key and certificate that do not belong together.
        let (_, other_key) = self_signed_pem("x").unwrap();
        let err = client_config(&ClientTls {
            insecure: true,
            client_cert: Some(ClientCert {
                cert_pem: client_cert.clone().into_bytes(),
                key_pem: other_key.into_bytes(),
                cert_name: None,
                key_name: None,
            }),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the client key does not match the client certificate"
        );
        let err = client_config(&ClientTls {
            insecure: true,
            client_cert: Some(ClientCert {
                cert_pem: client_cert.into_bytes(),
                key_pem: Vec::new(),
                cert_name: None,
                key_name: None,
            }),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no private key found in the client key file"
        );
    }

    #[test]
    fn config_errors() {
        let (_, key) = self_signed_pem("h").unwrap();
        for (ca, want) in [
            ("", "no certificate found in the CA file"),
            (key.as_str(), "no certificate found in the CA file"),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "no usable certificate in the CA file",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n",
                "the CA file: missing the -----END CERTIFICATE----- line",
            ),
        ] {
            let err = client_config(&ClientTls {
                ca_pem: Some(ca.as_bytes().to_vec()),
                ..Default::default()
            })
            .unwrap_err()
            .to_string();
            assert!(err.starts_with(want), "{err}");
        }
        // bug: the messages did not say which file; the caller names it.
        let err = client_config(&ClientTls {
            ca_pem: Some(Vec::new()),
            ca_name: Some("--ca-file /etc/x.pem".into()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("no certificate found in --ca-file /etc/x.pem (PEM"),
            "{err}"
        );
        let config = client_config(&ClientTls {
            insecure: true,
            ..Default::default()
        })
        .unwrap();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let err = wrap(&config, "bad name!", a).unwrap_err();
        assert_eq!(err.exit_code(), 78);
        assert!(
            err.to_string().contains("not a valid TLS server name"),
            "{err}"
        );
    }

    #[test]
    fn handshake_failures_are_classified() {
        let config = client_config(&ClientTls {
            insecure: true,
            ..Default::default()
        })
        .unwrap();
        // The server closes at once.
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        drop(b);
        let err = wrap(&config, "h", a).unwrap_err();
        assert_eq!((err.kind(), err.exit_code()), (HandshakeErrorKind::Io, 75));
        // A plain-text SMTP server on an smtps:// port.
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.write_all(b"220 mx.example ESMTP ready\r\n").unwrap();
        let err = wrap(&config, "h", a).unwrap_err();
        assert_eq!(
            (err.kind(), err.exit_code()),
            (HandshakeErrorKind::Protocol, 76)
        );
        assert!(err.to_string().contains("did not answer in TLS"), "{err}");
        // A silent server: the read timeout bounds the handshake.
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_read_timeout(Some(std::time::Duration::from_millis(100)))
            .unwrap();
        let err = wrap(&config, "h", a).unwrap_err();
        assert_eq!(err.exit_code(), 75);
        assert!(err.to_string().contains("timed out"), "{err}");
    }

    #[test]
    fn cert_info_fields() {
        let (cert, _) = self_signed_pem("mx.example.org").unwrap();
        let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
        let info = cert_info(der.as_ref());
        assert_eq!(info.subject, "CN=mx.example.org");
        assert_eq!(info.issuer, "CN=mx.example.org");
        // rcgen's default validity: 1975 (UTCTime) to 4096 (GeneralizedTime).
        assert_eq!(info.not_before, "1975-01-01 00:00:00 UTC");
        assert_eq!(info.not_after, "4096-01-01 00:00:00 UTC");
        assert_eq!(info.not_after_unix, Some(67_090_118_400));
        assert_eq!(info.sha256, Fingerprint::of(der.as_ref()));
        // Truncated or garbage DER: no panic, fingerprint still there.
        for n in 0..der.len() {
            let _ = cert_info(&der[..n]);
        }
        let info = cert_info(b"\x30\x84\xff\xff\xff\xff");
        assert_eq!(info.subject, "");
        assert_eq!(info.sha256, Fingerprint::of(b"\x30\x84\xff\xff\xff\xff"));
    }

    #[test]
    fn cert_info_matches_openssl() {
        // A richer name from rcgen, compared with openssl's RFC 2253 view.
        let mut params = rcgen::CertificateParams::new(vec!["a.example".to_owned()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CountryName, "DE");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Bärchen GmbH");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "a.example");
        params.not_after = rcgen::date_time_ymd(2031, 7, 9);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let info = cert_info(cert.der());
        assert_eq!(info.subject, "CN=a.example, O=Bärchen GmbH, C=DE");
        assert_eq!(info.not_after, "2031-07-09 00:00:00 UTC");
        assert_eq!(
            format_unix(info.not_after_unix.unwrap() as u64),
            info.not_after
        );
        let Ok(mut child) = std::process::Command::new("openssl")
            .args([
                "x509",
                "-noout",
                "-subject",
                "-enddate",
                "-fingerprint",
                "-sha256",
                "-nameopt",
                "RFC2253,-esc_msb",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("SKIP cert_info_matches_openssl: no openssl");
            return;
        };
        child
            .stdin
            .take()
            .unwrap()
            .write_all(cert.pem().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let out = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.contains("subject=CN=a.example,O=Bärchen GmbH,C=DE"),
            "{out}"
        );
        assert!(out.contains("notAfter=Jul  9 00:00:00 2031 GMT"), "{out}");
        assert!(
            out.contains(&format!("Fingerprint={}", &info.sha256.to_string()[7..])),
            "{out}"
        );
    }

    #[test]
    fn der_helpers() {
        assert_eq!(dotted_oid(&[0x55, 0x04, 0x2a]), "2.5.4.42");
        assert_eq!(
            dotted_oid(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]),
            "1.2.840.113549"
        );
        assert_eq!(dotted_oid(&[0x88, 0x37]), "2.999");
        assert_eq!(dotted_oid(&[0xff; 12]), "?");
        assert_eq!(der_string(0x1e, &[0, b'h', 0, b'i']), "hi");
        assert_eq!(der_string(0x14, &[0xe9]), "é");
        assert_eq!(der_string(0x04, &[1, 2]), "#0102");
        assert_eq!(der_string(0x0c, b"evil\x1b[2J"), "evil\\x1b[2J");
        assert_eq!(
            parse_time(0x17, b"491231235959Z"),
            Some((2049, 12, 31, 23, 59, 59))
        );
        assert_eq!(
            parse_time(0x17, b"500101000000Z"),
            Some((1950, 1, 1, 0, 0, 0))
        );
        assert_eq!(parse_time(0x17, b"5001010000Z"), None);
        assert_eq!(parse_time(0x18, b"20241301000000Z"), None);
        assert_eq!(parse_time(0x18, b"2024010100000+Z"), None);
        for secs in [0u64, 951_782_400, 1_709_164_799, 4_102_444_800] {
            let text = format_unix(secs);
            let t = parse_time(
                0x18,
                format!("{}Z", text[..19].replace(['-', ' ', ':'], "")).as_bytes(),
            )
            .unwrap();
            assert_eq!(unix_from_civil(t), secs as i64, "{text}");
        }
        assert_eq!(format_unix(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(
            alert_name(&rustls::AlertDescription::CertificateRequired),
            "certificate required"
        );
        assert_eq!(
            alert_name(&rustls::AlertDescription::UnknownCA),
            "unknown ca"
        );
    }
}
