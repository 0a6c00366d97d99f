//! smtp-send's TLS: STARTTLS required or optional, implicit TLS,
//! certificate verification (CA file, name, pinned fingerprint, insecure),
//! `--probe`, client certificates (aiosmtpd), and early data after STARTTLS
//! refused (a scripted server: no real server does it).
//!
//! Free ports only, loopback only; every process is killed and reaped by a
//! guard; every wait has a deadline.

use crate::peers::*;
use crate::send::{MSG, send, send_env};
use crate::util::*;

#[test]
fn recv_starttls_required_but_not_offered_is_refused() {
    let s = Recv::start(&[]);
    let r = send(
        &[
            "-S",
            &format!("smtp+starttls://{}", s.server()),
            "x@example.net",
        ],
        MSG,
    );
    r.code(77).one_line_error("smtp-send");
    assert!(r.stderr.contains("STARTTLS"), "{}", r.stderr);
    assert!(s.untraced().is_empty());
    // smtp:// falls back to plain text when the server has no STARTTLS.
    send(
        &["-S", &format!("smtp://{}", s.server()), "x@example.net"],
        MSG,
    )
    .code(0);
}

#[test]
fn recv_tls_verification() {
    let c = certs();
    let s = Recv::start(&c.recv_args());
    let url = format!("smtp+starttls://{}", s.server());
    let ca = c.cert.to_str().unwrap();
    // Untrusted (not in the system roots).
    let r = send(&["-S", &url, "x@example.net"], MSG);
    r.code(77).one_line_error("smtp-send");
    // Trusted, but the wrong name.
    let r = send(
        &[
            "-S",
            &url,
            "--ca-file",
            ca,
            "--tls-sni",
            "mail.example.com",
            "x@example.net",
        ],
        MSG,
    );
    r.code(77).one_line_error("smtp-send");
    assert!(r.stderr.contains("name"), "{}", r.stderr);
    // --probe shows the fingerprint; pinning it works, another does not.
    let p = send(&["-S", &url, "--ca-file", ca, "--probe"], b"");
    let probe = String::from_utf8_lossy(p.ok()).into_owned();
    assert!(probe.contains("tls: TLS1."), "{probe}");
    assert!(
        probe.contains("certificate subject: CN=localhost"),
        "{probe}"
    );
    assert!(probe.contains("expires in"), "{probe}");
    assert!(probe.contains("SIZE"), "{probe}");
    let fp = probe
        .lines()
        .find_map(|l| l.strip_prefix("certificate fingerprint: "))
        .expect("fingerprint line")
        .to_owned();
    send(
        &["-S", &url, "--tls-fingerprint", &fp, "x@example.net"],
        MSG,
    )
    .code(0);
    let wrong = format!("SHA256:{}", "00:".repeat(31) + "00");
    send(
        &["-S", &url, "--tls-fingerprint", &wrong, "x@example.net"],
        MSG,
    )
    .code(77)
    .one_line_error("smtp-send");
    // --tls-insecure works and says so loudly.
    let r = send(&["-S", &url, "--tls-insecure", "x@example.net"], MSG);
    r.code(0);
    assert!(r.stderr.contains("NOT verified"), "{}", r.stderr);
    assert_eq!(s.untraced().len(), 2);
}

#[test]
fn recv_implicit_tls() {
    let c = certs();
    let s = Recv::start(&[&["--tls", "implicit"][..], &c.recv_args()].concat());
    let url = format!("smtps://{}", s.server());
    send(
        &[
            "-S",
            &url,
            "--ca-file",
            c.cert.to_str().unwrap(),
            "x@example.net",
        ],
        MSG,
    )
    .code(0);
    // Plain SMTP to a TLS port: the server never greets in clear text.
    let r = send(&["-S", &s.server(), "--timeout", "1", "x@example.net"], MSG);
    assert!([75, 76].contains(&r.code), "{}: {}", r.code, r.stderr);
    assert_eq!(s.untraced().len(), 1);
}

#[test]
fn bug_probe_untrusted_certificate_names_its_fingerprint() {
    // --probe against an untrusted certificate said only "signed by
    // unknown authority": nothing to pin. The fingerprint it now names is
    // the one to give --tls-fingerprint.
    let c = certs();
    let s = Recv::start(&c.recv_args());
    let url = format!("smtp+starttls://{}", s.server());
    let r = send(&["-S", &url, "--probe"], b"");
    r.code(77).one_line_error("smtp-send");
    let fp = r
        .stderr
        .split("(got ")
        .nth(1)
        .and_then(|t| t.split(')').next())
        .unwrap_or_else(|| panic!("no fingerprint: {}", r.stderr))
        .to_owned();
    assert!(fp.starts_with("SHA256:") && fp.len() == 7 + 95, "{fp}");
    send(
        &["-S", &url, "--tls-fingerprint", &fp, "x@example.net"],
        MSG,
    )
    .code(0);
}

#[test]
fn bug_ca_file_errors_name_the_file() {
    // "no certificate found in the CA file (...)" did not say which file.
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = write_file(dir.path(), "empty.pem", b"");
    let e = empty.to_str().unwrap();
    let s = Recv::start(&["--tls-self-signed"]);
    let url = format!("smtp+starttls://{}", s.server());
    let r = send(&["-S", &url, "--ca-file", e, "x@example.net"], MSG);
    r.code(78).one_line_error("smtp-send");
    assert!(
        r.stderr
            .contains(&format!("no certificate found in --ca-file {e} ")),
        "{}",
        r.stderr
    );
}

#[test]
fn probe_without_tls() {
    let s = Recv::start(&[]);
    let r = send(&["-S", &s.server(), "--probe"], b"");
    let out = String::from_utf8_lossy(r.ok()).into_owned();
    assert!(
        out.contains("tls: none (the server does not offer STARTTLS)"),
        "{out}"
    );
    assert!(
        out.contains("greeting: 220 ") && out.contains("  PIPELINING"),
        "{out}"
    );
    assert!(s.untraced().is_empty());
}

#[test]
fn early_data_after_starttls_is_an_error() {
    let (addr, h) = fake(|line| match line {
        "" => Some(b"220 fake ESMTP\r\n"),
        l if l.starts_with("EHLO") => Some(b"250-fake\r\n250 STARTTLS\r\n"),
        "STARTTLS" => Some(b"220 go ahead\r\n250 injected\r\n"),
        _ => None,
    });
    let c = certs();
    let r = send(
        &[
            "-S",
            &format!("smtp+starttls://{addr}"),
            "--ca-file",
            c.cert.to_str().unwrap(),
            "x@example.net",
        ],
        MSG,
    );
    r.code(76).one_line_error("smtp-send");
    assert!(r.stderr.contains("STARTTLS"), "{}", r.stderr);
    let seen = h.join().expect("fake server");
    assert_eq!(
        seen.last().map(String::as_str),
        Some("STARTTLS"),
        "{seen:?}"
    );
}

#[test]
fn aiosmtpd_client_certificate() {
    let t = "aiosmtpd_client_certificate";
    let server = certs();
    let client = certs();
    let Some(s) = Aio::start_with(t, "implicit", Some(&server), None, Some(&client.cert)) else {
        return;
    };
    let url = format!("smtps://localhost:{}", s.port);
    let ca = server.cert.to_str().unwrap();
    // Without one: refused by the server after the handshake (TLS 1.3). A
    // server that sends its alert gives 77; Python's asyncio closes without
    // flushing it, and a closed connection is all a client can tell: 75.
    let r = send(&["-S", &url, "--ca-file", ca, "x@example.net"], MSG);
    assert!([75, 77].contains(&r.code), "{}: {}", r.code, r.stderr);
    r.one_line_error("smtp-send");
    let r = send(
        &[
            "-S",
            &url,
            "--ca-file",
            ca,
            "--tls-client-cert",
            client.cert.to_str().unwrap(),
            "--tls-client-key",
            client.key.to_str().unwrap(),
            "x@example.net",
        ],
        MSG,
    );
    r.code(0);
    assert_eq!(s.count(), 1);
}

/// A self-signed certificate made the usual way, by `openssl req -x509`
/// (so with CA:TRUE), in `dir`; None (skipped loudly) without openssl.
fn openssl_self_signed(dir: &std::path::Path, test: &str) -> Option<(String, String)> {
    let openssl = peer("openssl", test)?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let mut cmd = std::process::Command::new(openssl);
    cmd.args([
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
    ])
    .args(["-subj", "/CN=localhost"])
    .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
    .arg("-keyout")
    .arg(&key)
    .arg("-out")
    .arg(&cert);
    run_cmd(cmd, b"").code(0);
    Some((
        cert.to_str().unwrap().to_owned(),
        key.to_str().unwrap().to_owned(),
    ))
}

#[test]
fn bug_openssl_self_signed_certificate_in_ca_file() {
    // Issue 12: refused with "certificate rejected: CaUsedAsEndEntity"
    // (exit 77), where msmtp, swaks, Python and curl accept it.
    let dir = tempfile::tempdir().unwrap();
    let Some((cert, key)) = openssl_self_signed(dir.path(), "bug_openssl_self_signed") else {
        return;
    };
    let s = Recv::start(&["--tls-cert", &cert, "--tls-key", &key]);
    let url = format!("smtp+starttls://{}", s.server());
    send(&["-S", &url, "--ca-file", &cert, "x@example.net"], MSG).code(0);
    // Names are still checked.
    let r = send(
        &[
            "-S",
            &url,
            "--ca-file",
            &cert,
            "--tls-sni",
            "mail.example.com",
            "x@example.net",
        ],
        MSG,
    );
    r.code(77).one_line_error("smtp-send");
    assert!(
        r.stderr
            .contains("certificate not valid for name \"mail.example.com\""),
        "{}",
        r.stderr
    );
    // Without --ca-file: refused in words, with the fingerprint to pin.
    let r = send(&["-S", &url, "x@example.net"], MSG);
    r.code(77).one_line_error("smtp-send");
    assert!(r.stderr.contains("CA certificate (CA:TRUE"), "{}", r.stderr);
    assert!(!r.stderr.contains("CaUsedAsEndEntity"), "{}", r.stderr);
    assert_eq!(s.untraced().len(), 1);
}

#[test]
fn bug_smtp_url_encrypts_without_verification_when_no_credentials() {
    // Issue 12: smtp:// is "STARTTLS if offered" and sends in cleartext
    // to a server without it, yet refused (77) a server offering STARTTLS
    // with a self-signed certificate (a stock Debian Postfix). RFC 7435,
    // Postfix's `may`: without credentials it now encrypts anyway, and
    // says so in -v, --probe and --json.
    let c = certs();
    let users = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(users.path(), "me:s3cret\n").unwrap();
    let s = Recv::start(
        &[
            &c.recv_args()[..],
            &["--auth-file", users.path().to_str().unwrap()],
        ]
        .concat(),
    );
    let url = format!("smtp://{}", s.server());
    let r = send(&["-S", &url, "-v", "--json", "x@example.net"], MSG);
    r.code(0);
    assert!(
        r.stderr
            .contains("TLS certificate NOT verified (certificate signed by unknown authority"),
        "{}",
        r.stderr
    );
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(r.ok()).trim()).expect("json");
    assert_eq!(v["status"], "delivered");
    assert_eq!(v["tls"], "unverified");
    assert!(
        v["tls_unverified"]
            .as_str()
            .unwrap()
            .starts_with("certificate signed by unknown authority"),
        "{v}"
    );
    // It went over TLS: the receiver's trace says ESMTPS.
    let stored = s.messages();
    assert_eq!(stored.len(), 1);
    assert!(
        String::from_utf8_lossy(&stored[0]).contains("with ESMTPS"),
        "{}",
        String::from_utf8_lossy(&stored[0])
    );
    let p = send(&["-S", &url, "--probe"], b"");
    let probe = String::from_utf8_lossy(p.ok()).into_owned();
    assert!(
        probe.contains("certificate verified: NO (certificate signed by unknown authority"),
        "{probe}"
    );
    // With credentials to protect, verification is required: 77, and the
    // password is never sent.
    let r = send_env(
        &["-S", &url, "--user", "me", "x@example.net"],
        &[("SMTP_PASSWORD", "s3cret")],
        MSG,
    );
    r.code(77).one_line_error("smtp-send");
    // So it is with smtp+starttls://, and with a --ca-file or pin the user
    // named (here the wrong one).
    let (other, _) = mailpipe::smtp::tls::self_signed_pem("localhost").unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let other_file = write_file(other_dir.path(), "ca.pem", other.as_bytes());
    for args in [
        vec!["-S".to_owned(), format!("smtp+starttls://{}", s.server())],
        vec![
            "-S".to_owned(),
            url.clone(),
            "--ca-file".to_owned(),
            other_file.to_str().unwrap().to_owned(),
        ],
    ] {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.push("x@example.net");
        send(&a, MSG).code(77).one_line_error("smtp-send");
    }
    // Verified TLS says so too.
    let r = send(
        &[
            "-S",
            &url,
            "--ca-file",
            c.cert.to_str().unwrap(),
            "--json",
            "x@example.net",
        ],
        MSG,
    );
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(r.ok()).trim()).expect("json");
    assert_eq!(v["tls"], "verified", "{v}");
    assert!(v.get("tls_unverified").is_none(), "{v}");
    assert_eq!(s.messages().len(), 2);
}
