//! What the server and client sides share: the configuration error
//! [`TlsError`], reading certificates and keys from PEM, certificate
//! [`Fingerprint`]s, and [`describe`].

use std::fmt;

use rustls::ProtocolVersion;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

crate::exit::message_error! {
    /// A certificate or key that cannot be used; `smtp-recv` exits 78 on it.
    /// The message never contains key material.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TlsError(String) => CONFIG;
}

impl TlsError {
    pub(super) fn new(msg: impl Into<String>) -> TlsError {
        TlsError(msg.into())
    }
}

/// The certificates of a PEM file, in order (none is not an error here:
/// each caller says what the file should have held). `name` names the file
/// in errors.
pub(super) fn certificates(
    pem_bytes: &[u8],
    name: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_slice_iter(pem_bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(name, e))
}

/// The first private key of a PEM file; `missing` is the error when it has
/// none, `name` names the file in other errors.
pub(super) fn private_key(
    pem_bytes: &[u8],
    name: &str,
    missing: impl FnOnce() -> TlsError,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem_bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => missing(),
        e => pem_error(name, e),
    })
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
