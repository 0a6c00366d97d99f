//! The receiver's side alone: handshakes with a plain rustls client.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection, StreamOwned,
};

use crate::smtp::tls::{describe, handshake, self_signed, self_signed_pem, server_config};

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
