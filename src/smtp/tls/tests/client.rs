//! The client against the receiver's own server code on loopback.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConnection, ServerConfig, StreamOwned};

use crate::exit::Status as _;
use crate::smtp::tls::client::alert_name;
use crate::smtp::tls::{
    ClientCert, ClientTls, Fingerprint, HandshakeError, HandshakeErrorKind, client_config,
    describe, handshake, peer_certificate_info, self_signed_pem, server_config, wrap,
};

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

/// Options that trust only the certificates of `ca_pem` (`--ca-file`).
fn trusting(ca_pem: &str) -> ClientTls {
    ClientTls {
        ca_pem: Some(ca_pem.as_bytes().to_vec()),
        ..Default::default()
    }
}

/// Checks that `err`'s message starts with `prefix`.
fn assert_starts(err: &impl std::fmt::Display, prefix: &str) {
    let msg = err.to_string();
    assert!(msg.starts_with(prefix), "{msg}");
}

fn leaf_fingerprint(cert_pem: &str) -> Fingerprint {
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
    Fingerprint::of(der.as_ref())
}

#[test]
fn ca_file_happy_path() {
    let (cert, _, server) = pem_pair("mx.example.org");
    let opts = trusting(&cert);
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
    let opts = trusting(&cert);
    let err = talk(server.clone(), &opts, "other.example").unwrap_err();
    assert!(err.is_verification());
    assert_eq!(err.exit_code(), 77);
    assert_starts(
        &err,
        "certificate not valid for name \"other.example\" (it is for \"mx.example.org\"",
    );
    let err = talk(server, &opts, "10.1.2.3").unwrap_err();
    assert_starts(&err, "certificate not valid for name \"10.1.2.3\"");
}

/// A handshake with a fresh `mx.example.org` certificate by a client that
/// trusts only another one, made for `ca_host`: the server's certificate
/// and the error, a verification failure.
fn untrusted(ca_host: &str) -> (String, HandshakeError) {
    let (cert, _, server) = pem_pair("mx.example.org");
    let (other, _, _) = pem_pair(ca_host);
    let err = talk(server, &trusting(&other), "mx.example.org").unwrap_err();
    assert_eq!(err.kind(), HandshakeErrorKind::Verify);
    (cert, err)
}

#[test]
fn untrusted_certificate() {
    let (_, err) = untrusted("mx.example.org");
    // The trusted one has the same name (CN=mx.example.org) but did
    // not sign it.
    assert_starts(&err, "certificate signed by unknown authority");
}

#[test]
fn bug_untrusted_certificate_names_its_fingerprint() {
    // "signed by unknown authority" gave users nothing to pin.
    let (cert, err) = untrusted("ca.example");
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
            assert_starts(&err, "certificate signed by unknown authority");
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
        ..trusting(&cert)
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
    let opts = trusting(&cert);
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
        client_cert: Some(ClientCert {
            cert_pem: client_cert.clone().into_bytes(),
            key_pem: client_key.clone().into_bytes(),
            cert_name: None,
            key_name: None,
        }),
        ..trusting(&server_cert)
    };
    assert!(format!("{with_cert:?}").contains("ClientCert(..)"));
    assert!(!format!("{with_cert:?}").contains("PRIVATE KEY"));
    let without = trusting(&server_cert);
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
    let (_, other_key) = self_signed_pem("x").unwrap();
    for (key_pem, want) in [
        // Key and certificate that do not belong together.
        (
            other_key.into_bytes(),
            "the client key does not match the client certificate",
        ),
        (Vec::new(), "no private key found in the client key file"),
    ] {
        let err = client_config(&ClientTls {
            insecure: true,
            client_cert: Some(ClientCert {
                cert_pem: client_cert.clone().into_bytes(),
                key_pem,
                cert_name: None,
                key_name: None,
            }),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.to_string(), want);
    }
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
        let err = client_config(&trusting(ca)).unwrap_err();
        assert_starts(&err, want);
    }
    // bug: the messages did not say which file; the caller names it.
    let err = client_config(&ClientTls {
        ca_pem: Some(Vec::new()),
        ca_name: Some("--ca-file /etc/x.pem".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert_starts(&err, "no certificate found in --ca-file /etc/x.pem (PEM");
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
fn alert_names() {
    assert_eq!(
        alert_name(&rustls::AlertDescription::CertificateRequired),
        "certificate required"
    );
    assert_eq!(
        alert_name(&rustls::AlertDescription::UnknownCA),
        "unknown ca"
    );
}

/// A self-signed certificate as `openssl req -x509` makes it: CA:TRUE.
/// `expired`: its validity ended in 2020.
fn ca_true_pair(host: &str, expired: bool) -> (String, Arc<ServerConfig>) {
    let mut params = rcgen::CertificateParams::new(vec![host.to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, host);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    if expired {
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap().pem();
    let server = server_config(cert.as_bytes(), key.serialize_pem().as_bytes()).unwrap();
    (cert, server)
}

#[test]
fn bug_ca_true_self_signed_certificate_in_ca_file_is_trusted() {
    // Issue 12: refused with "certificate rejected: CaUsedAsEndEntity",
    // where msmtp, swaks, Python and curl accept it.
    let (cert, server) = ca_true_pair("mx.example.org", false);
    let opts = ClientTls {
        ca_pem: Some(cert.clone().into_bytes()),
        ..Default::default()
    };
    let s = talk(server.clone(), &opts, "mx.example.org").unwrap();
    assert_eq!(
        peer_certificate_info(&s.conn).unwrap().sha256,
        leaf_fingerprint(&cert)
    );
    // Its names are still checked.
    let err = talk(server, &opts, "other.example").unwrap_err();
    assert_eq!(err.kind(), HandshakeErrorKind::Verify);
    assert_eq!(
        err.to_string(),
        "certificate not valid for name \"other.example\" (it is for \"mx.example.org\")"
    );
    // And so is its validity period.
    let (old, server) = ca_true_pair("mx.example.org", true);
    let opts = ClientTls {
        ca_pem: Some(old.into_bytes()),
        ..Default::default()
    };
    let err = talk(server, &opts, "mx.example.org").unwrap_err();
    assert_eq!(err.kind(), HandshakeErrorKind::Verify);
    assert_eq!(
        err.to_string(),
        "certificate expired on 2020-01-01 00:00:00 UTC"
    );
}

#[test]
fn bug_ca_true_certificate_not_in_ca_file_is_explained() {
    // Not the one in --ca-file: refused, in words, with what to pin.
    let (cert, server) = ca_true_pair("mx.example.org", false);
    let (other, _) = ca_true_pair("mx.example.org", false);
    let opts = ClientTls {
        ca_pem: Some(other.into_bytes()),
        ..Default::default()
    };
    let err = talk(server, &opts, "mx.example.org").unwrap_err();
    assert_eq!(err.kind(), HandshakeErrorKind::Verify);
    let text = err.to_string();
    assert!(!text.contains("CaUsedAsEndEntity"), "{text}");
    assert!(
        text.ends_with(&format!(
            "(got {}); to trust it: --tls-fingerprint or --ca-file",
            leaf_fingerprint(&cert)
        )),
        "{text}"
    );
}
