//! The client's side (smtp-send): verification, pinning, client
//! certificates, and the handshake with its failures told apart.
//!
//! Roots: the system's, through rustls-native-certs, rather than the Mozilla
//! list compiled in by webpki-roots. A Unix mail client is expected to trust
//! what the machine trusts: private and corporate CAs added to
//! /etc/ssl/certs (a company relay signed by its own CA works without a
//! flag), distribution updates and removals of CAs (no rebuild needed), and
//! `SSL_CERT_FILE` / `SSL_CERT_DIR` are honoured as with OpenSSL-based tools.
//! The cost measured in research/deps.md is ~2 ms at start-up, paid only
//! when roots are needed (not with --ca-file, --tls-fingerprint or
//! --tls-insecure).

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use super::common::{Fingerprint, TlsError, certificates, private_key};
use super::x509::{CertInfo, cert_info, format_unix, validity};

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
    /// `smtp://` without credentials, `--ca-file` or a pin (RFC 7435 §1,
    /// Postfix's `may`): STARTTLS is used when offered even if the
    /// certificate does not verify, as encryption without authentication
    /// still beats the cleartext the same URL accepts from a server without
    /// STARTTLS. The caller builds such a session's configuration with
    /// [`opportunistic_config`], which reports the failure.
    pub opportunistic: bool,
}

impl ClientTls {
    /// The name to send and verify for `host`: `--tls-sni` if given, else
    /// the host itself (an IP literal is verified against the certificate's
    /// IP addresses and sent without SNI, RFC 6066 §3).
    pub fn server_name<'a>(&'a self, host: &'a str) -> &'a str {
        self.sni.as_deref().unwrap_or(host)
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

/// What an opportunistic handshake ([`opportunistic_config`]) found wrong
/// with the server's certificate: `None` when it verified (or before the
/// handshake). One per configuration, so one per session.
#[derive(Debug, Clone, Default)]
pub struct Unverified(Arc<std::sync::Mutex<Option<String>>>);

impl Unverified {
    /// Why the certificate did not verify, in words; `None` if it did.
    pub fn why(&self) -> Option<String> {
        self.0.lock().ok().and_then(|w| w.clone())
    }

    fn set(&self, why: Option<String>) {
        if let Ok(mut w) = self.0.lock() {
            *w = why;
        }
    }
}

/// [`ClientTls::opportunistic`]: the normal verification, whose failure is
/// noted instead of ending the handshake. The handshake signature is still
/// checked against the presented key (by WebPKI), so the session is
/// encrypted to whoever holds that key.
#[derive(Debug)]
struct OpportunisticVerifier {
    inner: NamingVerifier,
    noted: Unverified,
}

/// The normal (WebPKI) verifier, which also names the certificate it
/// could not trust: "signed by unknown authority" alone leaves a user who
/// wants to pin a private server's certificate nowhere to start, so that
/// error carries the leaf's fingerprint ([`Untrusted`]).
///
/// It also accepts a server whose certificate is, byte for byte, one of
/// the `--ca-file` certificates, as OpenSSL-based clients (msmtp, swaks,
/// Python, curl) do: `openssl req -x509` makes a self-signed certificate
/// with `CA:TRUE`, which WebPKI refuses as a server's own certificate
/// (RFC 5280 §4.2.1.9 keeps CA certificates for signing). Trusting that
/// exact certificate is what the user asked for; its names and validity
/// period are still checked ([`trusted_as_is`]).
#[derive(Debug)]
struct NamingVerifier {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    /// The `--ca-file` certificates (none with the system roots).
    anchors: Vec<CertificateDer<'static>>,
}

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
        let verified = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        if verified.is_err() && self.anchors.iter().any(|a| a == end_entity) {
            return trusted_as_is(end_entity, server_name, now);
        }
        verified.map_err(|e| match e {
            rustls::Error::InvalidCertificate(why)
                if matches!(
                    why,
                    C::UnknownIssuer
                        | C::BadSignature
                        | C::UnsupportedSignatureAlgorithmContext { .. }
                        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. }
                ) || is_ca_as_leaf(&why) =>
            {
                rustls::Error::InvalidCertificate(C::Other(rustls::OtherError(Arc::new(
                    Untrusted {
                        why,
                        got: Fingerprint::of(end_entity),
                    },
                ))))
            }
            e => e,
        })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.webpki.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.webpki.root_hint_subjects()
    }
}

impl ServerCertVerifier for OpportunisticVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        self.noted.set(verified.err().map(|e| match e {
            rustls::Error::InvalidCertificate(c) => certificate_message(&c),
            e => e.to_string(),
        }));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// WebPKI's "a CA certificate used as a server's own": untrusted like an
/// unknown issuer, and fixed the same way (`--ca-file` with it, or a pin).
fn is_ca_as_leaf(why: &rustls::CertificateError) -> bool {
    matches!(why, rustls::CertificateError::Other(o)
        if matches!(o.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity)))
}

/// The server presented a certificate the user listed in `--ca-file`
/// itself: it is trusted as it is (no chain to build), if it is valid now
/// (RFC 5280 §4.1.2.5) and for the name we asked for (RFC 6125 §6, by
/// WebPKI's own matcher). The handshake signature is still checked against
/// its key, so a server without the private key fails.
fn trusted_as_is(
    cert: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<ServerCertVerified, rustls::Error> {
    use rustls::CertificateError as C;
    let invalid = rustls::Error::InvalidCertificate;
    let Some((not_before, not_after)) = validity(cert.as_ref()) else {
        return Err(invalid(C::BadEncoding));
    };
    if now.as_secs() < not_before.as_secs() {
        return Err(invalid(C::NotValidYetContext {
            time: now,
            not_before,
        }));
    }
    if now.as_secs() > not_after.as_secs() {
        return Err(invalid(C::ExpiredContext {
            time: now,
            not_after,
        }));
    }
    let ee = webpki::EndEntityCert::try_from(cert).map_err(|_| invalid(C::BadEncoding))?;
    ee.verify_is_valid_for_subject_name(server_name)
        .map_err(|e| match e {
            webpki::Error::CertNotValidForName(cx) => invalid(C::NotValidForNameContext {
                expected: cx.expected,
                presented: cx.presented,
            }),
            _ => invalid(C::NotValidForName),
        })?;
    Ok(ServerCertVerified::assertion())
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
    build_config(opts, None)
}

/// As [`client_config`] for [`ClientTls::opportunistic`]: a certificate
/// that does not verify does not end the handshake; after it, the returned
/// [`Unverified`] says why it did not verify (verification as
/// [`client_config`] would do it). `--tls-insecure` and a pin keep their
/// own meaning.
pub fn opportunistic_config(opts: &ClientTls) -> Result<(Arc<ClientConfig>, Unverified), TlsError> {
    let noted = Unverified::default();
    let config = build_config(opts, Some(&noted))?;
    Ok((config, noted))
}

fn build_config(
    opts: &ClientTls,
    opportunistic: Option<&Unverified>,
) -> Result<Arc<ClientConfig>, TlsError> {
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
        let (roots, anchors) = match &opts.ca_pem {
            Some(pem) => roots_from_pem(pem, opts.ca_name.as_deref().unwrap_or("the CA file"))?,
            None => (native_roots()?, Vec::new()),
        };
        let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::clone(&provider),
        )
        .build()
        .map_err(|e| TlsError::new(format!("TLS setup: {e}")))?;
        let inner = NamingVerifier { webpki, anchors };
        let verifier: Arc<dyn ServerCertVerifier> = match opportunistic {
            Some(noted) => Arc::new(OpportunisticVerifier {
                inner,
                noted: noted.clone(),
            }),
            None => Arc::new(inner),
        };
        builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
    };
    let config = match &opts.client_cert {
        None => builder.with_no_client_auth(),
        Some(cc) => {
            let cert_name = cc
                .cert_name
                .as_deref()
                .unwrap_or("the client certificate file");
            let key_name = cc.key_name.as_deref().unwrap_or("the client key file");
            let certs = certificates(&cc.cert_pem, cert_name)?;
            if certs.is_empty() {
                return Err(TlsError::new(format!(
                    "no certificate found in {cert_name}"
                )));
            }
            let key = private_key(&cc.key_pem, key_name, || {
                TlsError::new(format!("no private key found in {key_name}"))
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

/// `--ca-file`: every certificate in the PEM as a root; at least one must
/// be usable. Also returns the certificates themselves, which a server may
/// present as its own ([`NamingVerifier`]). `name` names the file in errors.
fn roots_from_pem(
    pem_bytes: &[u8],
    name: &str,
) -> Result<(rustls::RootCertStore, Vec<CertificateDer<'static>>), TlsError> {
    let certs = certificates(pem_bytes, name)?;
    if certs.is_empty() {
        return Err(TlsError::new(format!(
            "no certificate found in {name} (PEM \"BEGIN CERTIFICATE\" expected)"
        )));
    }
    let mut roots = rustls::RootCertStore::empty();
    let (_, bad) = roots.add_parsable_certificates(certs.iter().cloned());
    if roots.is_empty() {
        return Err(TlsError::new(format!(
            "no usable certificate in {name} ({bad} could not be parsed)"
        )));
    }
    Ok((roots, certs))
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
    pub(super) fn from_io(e: io::Error) -> HandshakeError {
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
    pub(super) fn is_verification(&self) -> bool {
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
            format!("certificate expired on {}", format_unix(secs(not_after)))
        }
        C::NotValidYet => "certificate not valid yet".to_owned(),
        C::NotValidYetContext { not_before, .. } => format!(
            "certificate not valid until {}",
            format_unix(secs(not_before))
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
        C::UnhandledCriticalExtension => {
            "certificate has a critical extension this client does not know".to_owned()
        }
        C::UnknownRevocationStatus => "certificate revocation status unknown".to_owned(),
        C::ExpiredRevocationList | C::ExpiredRevocationListContext { .. } => {
            "certificate revocation list expired".to_owned()
        }
        C::InvalidOcspResponse => "the server's OCSP response is invalid".to_owned(),
        C::ApplicationVerificationFailure => "certificate verification failed".to_owned(),
        C::Other(other) => {
            if let Some(m) = other.0.downcast_ref::<FingerprintMismatch>() {
                m.to_string()
            } else if let Some(u) = other.0.downcast_ref::<Untrusted>() {
                u.to_string()
            } else if let Some(w) = other.0.downcast_ref::<webpki::Error>() {
                webpki_message(w).to_owned()
            } else {
                format!("certificate rejected: {other}")
            }
        }
        // CertificateError is non-exhaustive: a kind added after this was
        // written.
        other => format!("certificate rejected: {other:?}"),
    }
}

/// The WebPKI errors rustls passes on as they are
/// (`CertificateError::Other`), in words instead of their Rust names
/// (issue 12: "CaUsedAsEndEntity" told a user nothing).
fn webpki_message(e: &webpki::Error) -> &'static str {
    use webpki::Error as W;
    match e {
        W::CaUsedAsEndEntity => {
            "the server's certificate is a CA certificate (CA:TRUE, as `openssl req -x509` \
             makes), which may sign server certificates but not be one"
        }
        W::EndEntityUsedAsCa => {
            "a certificate in the server's chain signed another without being a CA (CA:FALSE)"
        }
        W::PathLenConstraintViolated => {
            "the server's certificate chain is longer than a CA in it allows (pathLenConstraint)"
        }
        W::NameConstraintViolation => {
            "certificate is for a name its CA may not certify (name constraints)"
        }
        W::CertDistrusted => "certificate's key is explicitly distrusted",
        W::MaximumPathBuildCallsExceeded
        | W::MaximumSignatureChecksExceeded
        | W::MaximumPathDepthExceeded
        | W::MaximumNameConstraintComparisonsExceeded => {
            "the server's certificate chain is too complex to verify"
        }
        W::UnsupportedCertVersion => "certificate is not an X.509 version 3 certificate",
        W::UnsupportedCriticalExtension => {
            "certificate has a critical extension this client does not know"
        }
        W::UnsupportedNameType => "certificate names the server in a form this client cannot check",
        W::EmptyEkuExtension => "certificate allows no purpose (empty extended key usage)",
        W::SignatureAlgorithmMismatch => {
            "certificate is malformed (its two signature algorithm fields differ)"
        }
        W::InvalidSerialNumber => "certificate is malformed (bad serial number)",
        W::MalformedDnsIdentifier => "certificate is malformed (a bad DNS name in it)",
        W::ExtensionValueInvalid | W::MalformedExtensions | W::MalformedNameConstraint => {
            "certificate is malformed (a bad extension)"
        }
        W::InvalidNetworkMaskConstraint => "certificate is malformed (a bad IP name constraint)",
        // The rest concern revocation lists, which this client does not use,
        // or kinds added after this was written.
        _ => "certificate rejected by the verifier",
    }
}

/// rustls' `UnixTime` as seconds for [`format_unix`].
fn secs(t: &UnixTime) -> i64 {
    i64::try_from(t.as_secs()).unwrap_or(i64::MAX)
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
pub(super) fn alert_name(a: &rustls::AlertDescription) -> String {
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

/// The server's (leaf) certificate, once the handshake is done.
pub fn peer_certificate_info(conn: &ClientConnection) -> Option<CertInfo> {
    conn.peer_certificates()
        .and_then(|certs| certs.first())
        .map(|c| cert_info(c.as_ref()))
}
