//! TLS with rustls, both sides: the receiver's STARTTLS (RFC 3207) and
//! implicit TLS on a submission port (RFC 8314 §3), and the client's.
//!
//! - `server.rs`: [`server_config`] loads a certificate chain and its private
//!   key from PEM (`--tls-cert`, `--tls-key`), with errors that say which of
//!   the two is wrong; [`self_signed`] makes a throwaway certificate at start
//!   for quick tests (`--tls-self-signed`); [`handshake`] completes the
//!   server handshake on a stream.
//! - `client.rs` (smtp-send): [`client_config`] (system roots via
//!   rustls-native-certs, `--ca-file`, `--tls-fingerprint` pinning,
//!   `--tls-insecure`, client certificates), [`wrap`] (the handshake, with
//!   verification failures told apart: [`HandshakeError`]) and
//!   [`peer_certificate_info`] for `-v` and `--probe`.
//! - `x509.rs`: what `--probe` shows of a certificate ([`CertInfo`]).
//! - `common.rs`: what both sides share: [`TlsError`], PEM loading,
//!   [`Fingerprint`], and [`describe`], which names what was negotiated for
//!   logs, the `Received:` field, `-v` and `--probe`.
//!
//! Choices: the `ring` crypto provider, set explicitly rather than through a
//! process-wide default (the build has only ring; see research/deps.md: a
//! third of aws-lc-rs's build time), and rustls' safe defaults: TLS 1.3 and
//! TLS 1.2 (many MTAs still speak only 1.2), ECDHE AEAD suites only, no client
//! certificates on the server side. Nothing here logs keys.
//!
//! Reading the PEM is `rustls::pki_types::pem::PemObject` (rustls-pemfile is
//! unmaintained, RUSTSEC-2025-0134). The key may be PKCS#8, PKCS#1 (RSA) or
//! SEC1 (EC); the first certificate in the file is the server's, the rest its
//! chain, in order (RFC 8446 §4.4.2).

mod client;
mod common;
mod server;
mod x509;

pub use client::{
    ClientCert, ClientTls, HandshakeError, HandshakeErrorKind, Unverified, client_config,
    opportunistic_config, peer_certificate_info, wrap,
};
pub use common::{Fingerprint, TlsError, describe};
pub use server::{handshake, self_signed, self_signed_pem, server_config};
pub use x509::CertInfo;

#[cfg(test)]
mod tests;
