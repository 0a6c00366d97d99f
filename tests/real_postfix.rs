//! smtp-send against a real Postfix (issue 12): one private instance for
//! this file ([`crate::daemons::Postfix`], shared through a `OnceLock`),
//! its SASL through a private Dovecot, one smtpd service per case on a
//! free loopback port: plain, STARTTLS with a private CA's certificate
//! and with a CA:TRUE self-signed one, submission with AUTH, implicit
//! TLS, a recipient limit, a size limit, no 8BITMIME. Each test mails its
//! own users of `test.example` (virtual(8) delivers them to one Maildir,
//! each copy told apart by its Delivered-To:) and compares the delivered
//! bytes with the sent ones (Postfix's trace lines aside).

use std::process::Command;
use std::sync::OnceLock;

use crate::daemons::*;
use crate::peers::free_port;
use crate::send::{PATIENCE, isolated, send};
use crate::util::*;

/// Postfix, with the files the tests hand smtp-send in its directory
/// (ca.pem, self-cert.pem, password), and the Dovecot its AUTH asks.
struct Lab {
    pf: Postfix,
    _dv: Dovecot,
}

static LAB: OnceLock<Option<Lab>> = OnceLock::new();

/// The smtpd services, each a case. `{dir}` holds the certificates:
/// ca-*.pem signed by a private CA (ca.pem), self-*.pem made by
/// `openssl req -x509` (CA:TRUE).
const MASTER: &str = "\
127.0.0.1:{port:plain} inet n - n - - smtpd
127.0.0.1:{port:ca} inet n - n - - smtpd
  -o smtpd_tls_security_level=may
  -o smtpd_tls_cert_file={dir}/ca-cert.pem
  -o smtpd_tls_key_file={dir}/ca-key.pem
127.0.0.1:{port:self} inet n - n - - smtpd
  -o smtpd_tls_security_level=may
  -o smtpd_tls_cert_file={dir}/self-cert.pem
  -o smtpd_tls_key_file={dir}/self-key.pem
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
127.0.0.1:{port:submission} inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_cert_file={dir}/ca-cert.pem
  -o smtpd_tls_key_file={dir}/ca-key.pem
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_sasl_authenticated_header=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
127.0.0.1:{port:smtps} inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_cert_file={dir}/ca-cert.pem
  -o smtpd_tls_key_file={dir}/ca-key.pem
127.0.0.1:{port:rcptlimit} inet n - n - - smtpd
  -o smtpd_recipient_limit=3
127.0.0.1:{port:sizelimit} inet n - n - - smtpd
  -o message_size_limit=4096
127.0.0.1:{port:no8bit} inet n - n - - smtpd
  -o smtpd_discard_ehlo_keywords=8bitmime
";

/// The shared instance, started by the first test that needs it; None
/// (every test skipped loudly) when Postfix, Dovecot or openssl is absent
/// outside CI.
fn lab(test: &str) -> Option<&'static Lab> {
    let lab = LAB
        .get_or_init(|| {
            let ca = openssl_ca(test)?;
            let selfsigned = openssl_self_signed(test)?;
            let dv = Dovecot::start(test)?;
            let read = |p: &std::path::Path| std::fs::read(p).expect("read certificate");
            let (ca_pem, ca_cert, ca_key) = (read(&ca.ca), read(&ca.cert), read(&ca.key));
            let (self_cert, self_key) = (read(&selfsigned.cert), read(&selfsigned.key));
            let password = format!("{}\n", Dovecot::PASSWORD);
            let main = format!(
                "smtpd_sasl_type = dovecot\nsmtpd_sasl_path = inet:127.0.0.1:{}\n\
                 smtpd_tls_received_header = yes\n",
                dv.auth
            );
            let pf = Postfix::start(
                test,
                &PostfixConf {
                    main: &main,
                    master: MASTER,
                    files: &[
                        ("ca.pem", &ca_pem),
                        ("ca-cert.pem", &ca_cert),
                        ("ca-key.pem", &ca_key),
                        ("self-cert.pem", &self_cert),
                        ("self-key.pem", &self_key),
                        ("password", password.as_bytes()),
                    ],
                },
            )?;
            // smtp-send refuses to use a password file others can read.
            std::fs::set_permissions(
                pf.dir().join("password"),
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )
            .expect("chmod");
            Some(Lab { pf, _dv: dv })
        })
        .as_ref();
    if lab.is_none() {
        skipped(&format!(
            "{test}: no private Postfix (see the first SKIPPED line)"
        ));
    }
    lab
}

impl Lab {
    fn file(&self, name: &str) -> String {
        self.pf.dir().join(name).display().to_string()
    }

    fn url(&self, scheme: &str, service: &str) -> String {
        format!("{scheme}://{}", self.pf.server(service))
    }
}

/// A message to USER@test.example with an 8-bit body and lines a
/// transparent DATA must carry (RFC 5321 §4.5.2): dots at line starts, a
/// lone dot, a line of spaces.
fn message(user: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.org>\nTo: {user}@{DOMAIN}\nSubject: {subject}\n\
Date: Thu, 26 Nov 2026 10:00:00 +0000\nMessage-ID: <{subject}.{user}@example.org>\n\
MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\
\nGr\u{fc}\u{df}e aus Z\u{fc}rich.\n.a line that starts with a dot\n..two dots\n.\n   \n\
after a lone dot\n"
    )
    .into_bytes()
}

fn rcpt(user: &str) -> String {
    format!("{user}@{DOMAIN}")
}

/// Sends `msg` to USER with `args`; exit 0, and the one delivered copy is
/// `msg` byte for byte under Postfix's trace lines, which are returned.
fn delivers(lab: &Lab, args: &[&str], user: &str, msg: &[u8]) -> String {
    delivers_tls(lab, args, user, msg).0
}

/// [`delivers`], also returning what `--json` says of the session's TLS
/// (`"tls"`: none, verified, unverified) and `-v`'s transcript.
fn delivers_tls(lab: &Lab, args: &[&str], user: &str, msg: &[u8]) -> (String, String, String) {
    let to = rcpt(user);
    let r = send(&[args, &["--json", "-v", to.as_str()]].concat(), msg);
    r.code(0);
    let json: serde_json::Value =
        serde_json::from_slice(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout_str()));
    assert_eq!(json["status"], "delivered", "{json}");
    let tls = json["tls"].as_str().unwrap_or_default().to_owned();
    let got = lab.pf.delivered(user, 1);
    assert_eq!(got.len(), 1, "{user}: {} copies", got.len());
    assert_eq!(
        String::from_utf8_lossy(&strip_delivery_trace(&got[0])),
        String::from_utf8_lossy(msg)
    );
    let trace = delivery_trace(&got[0]);
    assert!(trace.contains(&format!("Delivered-To: {to}\n")), "{trace}");
    (trace, tls, r.stderr)
}

/// Nothing was delivered to USER (checked after the send returned: what
/// Postfix accepted is queued by then, so a short settle is enough).
fn nothing_for(lab: &Lab, user: &str) {
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        lab.pf.delivered_now(user).is_empty(),
        "{user} got mail; log:\n{}",
        lab.pf.log()
    );
    assert!(
        lab.pf
            .queue()
            .iter()
            .all(|m| !m.to_string().contains(&rcpt(user))),
        "queued for {user}"
    );
}

fn password_args(lab: &Lab, user: &str) -> Vec<String> {
    vec![
        "--user".into(),
        user.into(),
        "--password-file".into(),
        lab.file("password"),
    ]
}

// --------------------------------------------------------------- plain

#[test]
fn postfix_plain_delivers_byte_for_byte() {
    let Some(lab) = lab("postfix_plain_delivers_byte_for_byte") else {
        return;
    };
    let server = lab.pf.server("plain");
    let (trace, tls, transcript) = delivers_tls(
        lab,
        &["-S", &server, "-f", "sender@example.org"],
        "plain",
        &message("plain", "plain"),
    );
    assert_eq!(tls, "none");
    // Postfix offers CHUNKING (RFC 3030): the message went by BDAT ...
    assert!(transcript.contains("C: BDAT "), "{transcript}");
    // ... and goes by DATA, dot-stuffed (RFC 5321 §4.5.2), as the same bytes.
    let (_, _, transcript) = delivers_tls(
        lab,
        &["-S", &server, "--no-chunking"],
        "plain-data",
        &message("plain-data", "data"),
    );
    assert!(
        transcript.contains("C: DATA") && !transcript.contains("C: BDAT"),
        "{transcript}"
    );
    assert!(
        trace.starts_with("Return-Path: <sender@example.org>\n"),
        "{trace}"
    );
    assert!(trace.contains("with ESMTP id"), "{trace}");
    // Bcc: the envelope has it, neither copy shows it (RFC 5322 §3.6.3).
    let with_bcc = b"From: alice@example.org\nTo: plain-to@test.example\n\
Bcc: plain-bcc@test.example\nSubject: bcc\nDate: Thu, 26 Nov 2026 10:00:00 +0000\n\
Message-ID: <bcc@example.org>\n\nhidden\n";
    send(&["-S", &server, "-t"], with_bcc).code(0);
    for user in ["plain-to", "plain-bcc"] {
        let got = lab.pf.delivered(user, 1);
        let text = String::from_utf8_lossy(&got[0]);
        assert!(!text.contains("Bcc:"), "{text}");
        assert!(text.ends_with("\n\nhidden\n"), "{text}");
    }
}

#[test]
fn postfix_smtputf8_address() {
    let Some(lab) = lab("postfix_smtputf8_address") else {
        return;
    };
    // A UTF-8 local part needs SMTPUTF8 (RFC 6531), which Postfix offers.
    let user = "j\u{f6}rg";
    let (trace, _, transcript) = delivers_tls(
        lab,
        &["-S", &lab.pf.server("plain")],
        user,
        &message(user, "utf8"),
    );
    let mail = transcript
        .lines()
        .find(|l| l.starts_with("C: MAIL FROM:"))
        .unwrap_or_default();
    assert!(mail.contains(" SMTPUTF8"), "{transcript}");
    // RFC 6531 §4.3: the trace says UTF8SMTP (ESMTP with SMTPUTF8).
    assert!(trace.contains("with UTF8SMTP id"), "{trace}");
}

// ------------------------------------------------------------------ TLS

#[test]
fn postfix_starttls_with_a_private_ca() {
    let Some(lab) = lab("postfix_starttls_with_a_private_ca") else {
        return;
    };
    let url = lab.url("smtp+starttls", "ca");
    let ca = lab.file("ca.pem");
    // Not in the system's roots: refused, nothing sent.
    let r = send(&["-S", &url, &rcpt("ca-untrusted")], &message("x", "ca"));
    r.code(77).one_line_error("smtp-send");
    nothing_for(lab, "ca-untrusted");
    // Trusted CA, but another name than the certificate's.
    let r = send(
        &[
            "-S",
            &url,
            "--ca-file",
            &ca,
            "--tls-sni",
            "mail.example.com",
            &rcpt("ca-name"),
        ],
        &message("x", "ca"),
    );
    r.code(77).one_line_error("smtp-send");
    assert!(r.stderr.contains("name"), "{}", r.stderr);
    nothing_for(lab, "ca-name");
    // Trusted: encrypted (ESMTPS, RFC 3848) and delivered as sent.
    let (trace, tls, _) = delivers_tls(
        lab,
        &["-S", &url, "--ca-file", &ca],
        "ca",
        &message("ca", "ca"),
    );
    assert_eq!(tls, "verified");
    assert!(trace.contains("with ESMTPS id"), "{trace}");
    assert!(trace.contains("using TLSv1."), "{trace}");
}

/// Issue 12 defect 2: the certificate `openssl req -x509` makes (CA:TRUE)
/// given as --ca-file is the server's own certificate; it is accepted,
/// its names still checked (was: CaUsedAsEndEntity, 77).
#[test]
fn postfix_starttls_with_an_openssl_self_signed_certificate() {
    let Some(lab) = lab("postfix_starttls_with_an_openssl_self_signed_certificate") else {
        return;
    };
    let url = lab.url("smtp+starttls", "self");
    let cert = lab.file("self-cert.pem");
    let (trace, tls, _) = delivers_tls(
        lab,
        &["-S", &url, "--ca-file", &cert],
        "selfsigned",
        &message("selfsigned", "self"),
    );
    assert_eq!(tls, "verified");
    assert!(trace.contains("with ESMTPS id"), "{trace}");
    let r = send(
        &[
            "-S",
            &url,
            "--ca-file",
            &cert,
            "--tls-sni",
            "mail.example.com",
            &rcpt("self-name"),
        ],
        &message("x", "self"),
    );
    r.code(77).one_line_error("smtp-send");
    nothing_for(lab, "self-name");
}

/// Issue 12 defect 3: `smtp://` is opportunistic TLS (RFC 7435;
/// Postfix's `may`): an unverifiable certificate still encrypts when no
/// credentials are at stake, and `--json` and `-v` say it was not
/// verified; with credentials it must verify (77, nothing sent).
#[test]
fn postfix_smtp_scheme_is_opportunistic_without_credentials() {
    let Some(lab) = lab("postfix_smtp_scheme_is_opportunistic_without_credentials") else {
        return;
    };
    let url = lab.url("smtp", "self");
    let (trace, tls, transcript) = delivers_tls(
        lab,
        &["-S", &url],
        "opportunistic",
        &message("opportunistic", "opp"),
    );
    assert!(trace.contains("with ESMTPS id"), "not encrypted: {trace}");
    assert_eq!(tls, "unverified");
    assert!(transcript.contains("NOT verified"), "{transcript}");
    // --probe says so too.
    let probe = send(&["-S", &url, "--probe"], b"");
    let text = String::from_utf8_lossy(probe.ok()).into_owned();
    assert!(text.contains("certificate verified: NO"), "{text}");
    // With credentials: the certificate must verify.
    let creds = password_args(lab, "alice");
    let mut args = vec!["-S".to_owned(), url.clone()];
    args.extend(creds.iter().cloned());
    args.push(rcpt("opportunistic-auth"));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = send(&argv, &message("x", "opp-auth"));
    r.code(77).one_line_error("smtp-send");
    nothing_for(lab, "opportunistic-auth");
    // The same credentials are good once the certificate is trusted.
    let cert = lab.file("self-cert.pem");
    let mut argv: Vec<&str> = vec!["-S", &url, "--ca-file", &cert];
    argv.extend(creds.iter().map(String::as_str));
    let (trace, tls, _) = delivers_tls(
        lab,
        &argv,
        "opportunistic-ok",
        &message("opportunistic-ok", "opp"),
    );
    assert_eq!(tls, "verified");
    assert!(trace.contains("with ESMTPSA id"), "{trace}");
}

#[test]
fn postfix_implicit_tls() {
    let Some(lab) = lab("postfix_implicit_tls") else {
        return;
    };
    let url = lab.url("smtps", "smtps");
    let ca = lab.file("ca.pem");
    let (trace, tls, _) = delivers_tls(
        lab,
        &["-S", &url, "--ca-file", &ca],
        "smtps",
        &message("smtps", "smtps"),
    );
    assert_eq!(tls, "verified");
    assert!(trace.contains("with ESMTPS id"), "{trace}");
    let r = send(
        &["-S", &url, &rcpt("smtps-untrusted")],
        &message("x", "smtps"),
    );
    r.code(77).one_line_error("smtp-send");
    nothing_for(lab, "smtps-untrusted");
}

// ------------------------------------------------------------------ AUTH

#[test]
fn postfix_submission_auth_through_dovecot_sasl() {
    let Some(lab) = lab("postfix_submission_auth_through_dovecot_sasl") else {
        return;
    };
    let url = lab.url("smtp+starttls", "submission");
    let ca = lab.file("ca.pem");
    for (n, mech) in ["PLAIN", "LOGIN"].iter().enumerate() {
        let user = format!("submission{n}");
        let mut argv: Vec<String> = vec!["-S".into(), url.clone(), "--ca-file".into(), ca.clone()];
        argv.extend(password_args(lab, "alice"));
        argv.extend(["--auth".into(), (*mech).into()]);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let trace = delivers(lab, &argv, &user, &message(&user, mech));
        assert!(trace.contains("(Authenticated sender: alice)"), "{trace}");
        assert!(trace.contains("with ESMTPSA id"), "{trace}");
    }
    // A wrong password: 77, nothing sent.
    let dir = tempfile::tempdir().expect("tempdir");
    let wrong = write_file(dir.path(), "wrong", b"not-the-password\n");
    std::fs::set_permissions(&wrong, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let r = send(
        &[
            "-S",
            &url,
            "--ca-file",
            &ca,
            "--user",
            "alice",
            "--password-file",
            wrong.to_str().unwrap(),
            &rcpt("submission-wrong"),
        ],
        &message("x", "wrong"),
    );
    r.code(77).one_line_error("smtp-send");
    nothing_for(lab, "submission-wrong");
    // No credentials: Postfix refuses the client (smtpd_client_restrictions,
    // answered at RCPT), for good.
    let r = send(
        &["-S", &url, "--ca-file", &ca, &rcpt("submission-anon")],
        &message("x", "anon"),
    );
    r.code(67).one_line_error("smtp-send");
    assert!(r.stderr.contains("554"), "{}", r.stderr);
    nothing_for(lab, "submission-anon");
}

#[test]
fn postfix_auth_refused_is_queued_then_flushed_once_fixed() {
    // Issue 14: Postfix (through Dovecot's SASL) answers 535 to an expired
    // password: with --queue the message waits with that reason, and the
    // flush after the fix delivers it once.
    let Some(lab) = lab("postfix_auth_refused_is_queued_then_flushed_once_fixed") else {
        return;
    };
    let url = lab.url("smtp+starttls", "submission");
    let ca = lab.file("ca.pem");
    let dir = tempfile::tempdir().expect("tempdir");
    let q = dir.path().join("q");
    let qs = q.to_str().unwrap();
    let pw = write_file(dir.path(), "pw", b"expired-password\n");
    let args = [
        "-S",
        &url,
        "--ca-file",
        &ca,
        "--user",
        "alice",
        "--password-file",
        pw.to_str().unwrap(),
    ];
    let user = "queued-535";
    let r = send(
        &[&args[..], &["--queue", qs, &rcpt(user)]].concat(),
        &message(user, "535"),
    );
    r.code(0);
    assert!(
        r.stderr.contains("535") && r.stderr.contains("queued as"),
        "{}",
        r.stderr
    );
    nothing_for(lab, user);
    std::fs::copy(lab.file("password"), &pw).expect("the right password");
    let flush = [&args[..], &["--flush", qs, "--force"]].concat();
    send(&flush, b"").code(0);
    send(&flush, b"").code(0);
    lab.pf.delivered(user, 1);
    // Once: the second flush found nothing, and no copy follows.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(lab.pf.delivered_now(user).len(), 1);
}

// ---------------------------------------------------------------- limits

#[test]
fn postfix_recipient_limit_is_split_at_452() {
    let Some(lab) = lab("postfix_recipient_limit_is_split_at_452") else {
        return;
    };
    let users: Vec<String> = (1..=7).map(|i| format!("limit{i}")).collect();
    let rcpts: Vec<String> = users.iter().map(|u| rcpt(u)).collect();
    let server = lab.pf.server("rcptlimit");
    let mut argv = vec!["-v", "-S", &server];
    argv.extend(rcpts.iter().map(String::as_str));
    let msg = message("limit", "limit");
    let r = send(&argv, &msg);
    r.code(0);
    // Postfix said 452 to the fourth RCPT (smtpd_recipient_limit = 3).
    assert!(r.stderr.contains("S: 452 4.5.3"), "{}", r.stderr);
    for u in &users {
        let got = lab.pf.delivered(u, 1);
        assert_eq!(got.len(), 1, "{u}");
        assert_eq!(strip_delivery_trace(&got[0]), msg);
    }
}

#[test]
fn postfix_size_limit_refuses_before_mail() {
    let Some(lab) = lab("postfix_size_limit_refuses_before_mail") else {
        return;
    };
    let server = lab.pf.server("sizelimit");
    let mut big = message("size-big", "size");
    big.extend(
        std::iter::repeat_n(b"0123456789abcdef0123456789abcdef\n".as_slice(), 200).flatten(),
    );
    let r = send(&["-v", "-S", &server, &rcpt("size-big")], &big);
    r.code(65);
    assert!(
        r.stderr.contains("SIZE=4096") || r.stderr.contains("SIZE 4096"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("C: MAIL FROM"), "{}", r.stderr);
    nothing_for(lab, "size-big");
    // A message under the limit passes.
    delivers(
        lab,
        &["-S", &server],
        "size-small",
        &message("size-small", "size"),
    );
}

#[test]
fn postfix_without_8bitmime_needs_downgrade() {
    let Some(lab) = lab("postfix_without_8bitmime_needs_downgrade") else {
        return;
    };
    let server = lab.pf.server("no8bit");
    let r = send(
        &["-S", &server, &rcpt("no8bit-refused")],
        &message("x", "8bit"),
    );
    r.code(65).one_line_error("smtp-send");
    nothing_for(lab, "no8bit-refused");
    let r = send(
        &["-S", &server, "--downgrade", &rcpt("no8bit")],
        &message("no8bit", "8bit"),
    );
    r.code(0);
    let got = strip_delivery_trace(&lab.pf.delivered("no8bit", 1)[0]);
    let text = String::from_utf8(got).expect("7-bit");
    assert!(text.is_ascii(), "{text}");
    assert!(
        text.contains("Content-Transfer-Encoding: quoted-printable\n"),
        "{text}"
    );
    let (_, body) = text.split_once("\n\n").expect("body");
    // Stored with LF line ends; quoted-printable's are CRLF (RFC 2045 §6.7).
    let body = body.replace('\n', "\r\n");
    let decoded = quoted_printable::decode(&body, quoted_printable::ParseMode::Strict)
        .unwrap_or_else(|e| panic!("{e:?}: {body:?}"));
    let sent = message("no8bit", "8bit");
    let sent_body = &sent[sent.windows(2).position(|w| w == b"\n\n").unwrap() + 2..];
    assert_eq!(
        String::from_utf8_lossy(&decoded).replace("\r\n", "\n"),
        String::from_utf8_lossy(sent_body)
    );
}

// ------------------------------------------------------------------- DSN

#[test]
fn postfix_dsn_success_notice_reaches_the_sender() {
    let Some(lab) = lab("postfix_dsn_success_notice_reaches_the_sender") else {
        return;
    };
    let sender = rcpt("dsn-sender");
    let r = send(
        &[
            "-S",
            &lab.pf.server("plain"),
            "-f",
            &sender,
            "-N",
            "success,failure",
            "-R",
            "hdrs",
            "--envid",
            "mailpipe-envid-1",
            &rcpt("dsn-rcpt"),
        ],
        &message("dsn-rcpt", "dsn"),
    );
    r.code(0);
    lab.pf.delivered("dsn-rcpt", 1);
    // Postfix's success notice (RFC 3464) to the envelope sender quotes
    // the envelope id and returns the header only (RET=HDRS).
    let notice = String::from_utf8_lossy(&lab.pf.delivered("dsn-sender", 1)[0]).into_owned();
    for want in [
        "Content-Type: multipart/report; report-type=delivery-status",
        "Original-Envelope-Id: mailpipe-envid-1",
        "Final-Recipient: rfc822; dsn-rcpt@test.example",
        "Action: delivered",
        "Subject: dsn",
    ] {
        assert!(notice.contains(want), "{want}: {notice}");
    }
    assert!(
        !notice.contains("aus Z"),
        "RET=HDRS returned the body: {notice}"
    );
}

// ------------------------------------------------ --each, -bs, the queue

#[test]
fn postfix_each_200_messages_over_one_connection() {
    let Some(lab) = lab("postfix_each_200_messages_over_one_connection") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let msgs: Vec<Vec<u8>> = (0..200)
        .map(|i| message("each", &format!("each{i}")))
        .collect();
    let files: Vec<String> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            write_file(dir.path(), &format!("{i:03}.eml"), m)
                .display()
                .to_string()
        })
        .collect();
    let server = lab.pf.server("plain");
    let mut argv = vec!["-v", "-S", &server, "--each"];
    argv.extend(files.iter().map(String::as_str));
    let r = send(&argv, b"");
    r.code(0);
    let greetings = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("S: 220 "))
        .count();
    assert_eq!(
        greetings,
        1,
        "one connection: {}",
        r.stderr.lines().take(20).collect::<Vec<_>>().join("\n")
    );
    let mut got: Vec<Vec<u8>> = lab
        .pf
        .delivered("each", 200)
        .iter()
        .map(|m| strip_delivery_trace(m))
        .collect();
    assert_eq!(got.len(), 200);
    got.sort();
    let mut want = msgs;
    want.sort();
    assert!(
        got == want,
        "the delivered messages differ from the sent ones"
    );
}

#[test]
fn postfix_bs_relays_each_message() {
    let Some(lab) = lab("postfix_bs_relays_each_message") else {
        return;
    };
    let one = String::from_utf8(message("bs1", "bs1"))
        .unwrap()
        .replace('\n', "\r\n");
    let two = String::from_utf8(message("bs2", "bs2"))
        .unwrap()
        .replace('\n', "\r\n");
    // RFC 5321 §4.5.2: the client stuffs lines that start with a dot.
    let stuff = |m: &str| {
        m.split("\r\n")
            .map(|l| {
                if l.starts_with('.') {
                    format!(".{l}")
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    let session = format!(
        "EHLO client.test\r\nMAIL FROM:<alice@example.org> BODY=8BITMIME\r\n\
RCPT TO:<bs1@test.example>\r\nDATA\r\n{}.\r\n\
MAIL FROM:<alice@example.org> BODY=8BITMIME\r\nRCPT TO:<bs2@test.example>\r\nDATA\r\n{}.\r\nQUIT\r\n",
        stuff(&one),
        stuff(&two)
    );
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.args(["-bs", "-S", &lab.pf.server("plain")]);
    isolated(&mut cmd)
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", "/nonexistent");
    let r = run_cmd_within(cmd, PATIENCE, session.as_bytes());
    r.code(0);
    let out = r.stdout_str();
    // EHLO, then MAIL, RCPT and the end of data of each message: 250;
    // each DATA: 354 (relayed first, answered after Postfix's 250).
    assert_eq!(out.matches("\r\n250 ").count(), 7, "{out}");
    assert_eq!(out.matches("\r\n354 ").count(), 2, "{out}");
    assert!(out.contains("\r\n221"), "{out}");
    for (user, sent) in [
        ("bs1", message("bs1", "bs1")),
        ("bs2", message("bs2", "bs2")),
    ] {
        let got = lab.pf.delivered(user, 1);
        assert_eq!(
            String::from_utf8_lossy(&strip_delivery_trace(&got[0])),
            String::from_utf8_lossy(&sent)
        );
    }
}

#[test]
fn postfix_queue_then_flush() {
    let Some(lab) = lab("postfix_queue_then_flush") else {
        return;
    };
    let q = tempfile::tempdir().expect("tempdir");
    let qdir = q.path().display().to_string();
    let down = format!("127.0.0.1:{}", free_port());
    for user in ["queued1", "queued2"] {
        let r = send(
            &["-S", &down, "--queue", &qdir, &rcpt(user)],
            &message(user, "queued"),
        );
        r.code(0);
        assert!(r.stderr.contains("queued as"), "{}", r.stderr);
    }
    nothing_for(lab, "queued1");
    let r = send(
        &["-S", &lab.pf.server("plain"), "--flush", &qdir, "--force"],
        b"",
    );
    r.code(0);
    for user in ["queued1", "queued2"] {
        let got = lab.pf.delivered(user, 1);
        assert_eq!(got.len(), 1);
        assert_eq!(strip_delivery_trace(&got[0]), message(user, "queued"));
    }
    // The queue is empty: a second flush sends nothing more.
    send(&["-S", &lab.pf.server("plain"), "--flush", &qdir], b"").code(0);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(lab.pf.delivered_now("queued1").len(), 1);
}
