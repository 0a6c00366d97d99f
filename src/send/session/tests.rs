use super::*;
use crate::exit::Status as _;
use crate::send::prepare::{PrepareOptions, Source, prepare};
use crate::smtp::envelope::test_mailbox as mb;
use std::io::Cursor;

fn opts() -> PrepareOptions {
    PrepareOptions {
        hostname: "host.example".to_owned(),
        now: Some(UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000)),
        ..PrepareOptions::default()
    }
}

fn stream(s: &str) -> Source {
    Source::Stream(Box::new(Cursor::new(s.as_bytes().to_vec())))
}
/// A scripted server: `read` gives the script one line at a time (so
/// nothing is "early" after a 220 to STARTTLS), writes are kept in a
/// shared buffer the test reads afterwards.
pub(crate) struct Scripted {
    input: Cursor<Vec<u8>>,
    out: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    tls: bool,
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = &self.input.get_ref()[self.input.position() as usize..];
        let line = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let n = line.min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.input.set_position(self.input.position() + n as u64);
        Ok(n)
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Connection for Scripted {
    fn start_tls(
        mut self,
        _: &Arc<rustls::ClientConfig>,
        _: &str,
    ) -> Result<Self, tls::HandshakeError> {
        self.tls = true;
        Ok(self)
    }
    fn tls_info(&self) -> Option<(String, Option<tls::CertInfo>)> {
        self.tls.then(|| ("TLS-fake".to_owned(), None))
    }
    fn set_io_timeout(&mut self, _: Duration) -> io::Result<()> {
        Ok(())
    }
}

pub(crate) type Shared = std::sync::Arc<std::sync::Mutex<Vec<u8>>>;

pub(crate) fn scripted(script: &str) -> (Scripted, Shared) {
    let out = Shared::default();
    let conn = Scripted {
        input: Cursor::new(script.replace('\n', "\r\n").into_bytes()),
        out: out.clone(),
        tls: false,
    };
    (conn, out)
}

pub(crate) fn session_opts(user: Option<&str>) -> SessionOptions {
    SessionOptions {
        target: Target::Pipe("test".to_owned()),
        helo: Some("client.example".to_owned()),
        tls: tls::ClientTls {
            insecure: true,
            ..tls::ClientTls::default()
        },
        user: user.map(str::to_owned),
        credentials: credentials::Sources {
            env_password: Some(credentials::Password::new("pw".to_owned())),
            ..credentials::Sources::default()
        },
        auth: None,
        insecure_auth: false,
        timeout: None,
        notices: Arc::new(crate::send::notice::Recorded::default()),
        connect_timeout: Duration::from_secs(1),
        delivery: Delivery::default(),
        verbose: false,
        cleartext_after_starttls_refused: false,
    }
}

pub(crate) fn written(out: &Shared) -> String {
    String::from_utf8(out.lock().unwrap().clone()).unwrap()
}

pub(crate) fn message(to: &str) -> Prepared {
    let o = PrepareOptions {
        verbatim: true,
        recipients: vec![mb(to)],
        ..opts()
    };
    prepare(stream("From: a@a.example\n\nhi\n"), &o).unwrap()
}

pub(crate) const GREET: &str = "220 srv ESMTP\n250-srv\n250-PIPELINING\n250 SIZE 1000\n";

pub(crate) fn message_to(to: &[&str]) -> Prepared {
    let o = PrepareOptions {
        verbatim: true,
        recipients: to.iter().map(|t| mb(t)).collect(),
        ..opts()
    };
    prepare(stream("From: a@a.example\n\nhi\n"), &o).unwrap()
}

#[test]
fn session_results_per_recipient() {
    use outcome::Status::*;
    let summary = |r: &[RcptResult]| -> Vec<(String, outcome::Status, client::Stage)> {
        r.iter()
            .map(|r| (r.rcpt.to_string(), r.status, r.stage))
            .collect()
    };
    let rcpts = ["b@b.example", "c@b.example", "d@b.example"];
    // Without --partial: a refusal is a result; nothing sent; RSET.
    let script = format!("{GREET}250 ok\n250 ok\n550 5.1.1 no\n250 ok\n250 reset\n");
    let (conn, out) = scripted(&script);
    let mut s =
        Session::start(conn, &session_opts(None), url::Security::None, "srv", None).unwrap();
    let r = s.send(&mut message_to(&rcpts), false).unwrap();
    assert_eq!(outcome::exit_code(&r), 67);
    assert_eq!(r[1].reply.as_ref().map(|r| r.code), Some(550));
    assert_eq!(r[0].detail, outcome::NOT_SENT);
    assert!(written(&out).ends_with("RSET\r\n") && s.is_usable());
    // --partial: the others get it; the message refused after all
    // keeps the RCPT refusal's own result.
    let mut opts = session_opts(None);
    opts.delivery.partial = true;
    let script = format!("{GREET}250 ok\n250 ok\n550 5.1.1 no\n250 ok\n354 go\n554 5.7.1 spam\n");
    let (conn, _) = scripted(&script);
    let mut s = Session::start(conn, &opts, url::Security::None, "srv", None).unwrap();
    let r = s.send(&mut message_to(&rcpts), false).unwrap();
    use client::Stage::{Dot, Rcpt};
    assert_eq!(
        summary(&r),
        [
            ("b@b.example".to_owned(), Rejected, Dot),
            ("c@b.example".to_owned(), Rejected, Rcpt),
            ("d@b.example".to_owned(), Rejected, Dot),
        ]
    );
    // LMTP: one reply per accepted recipient.
    let mut opts = session_opts(None);
    opts.delivery.lmtp = true;
    opts.delivery.partial = true;
    let script = "220 srv LMTP\n250-srv\n250 PIPELINING\n250 ok\n250 ok\n550 no\n\
                  250 ok\n354 go\n250 2.0.0 ok\n451 4.2.0 later\n";
    let (conn, out) = scripted(script);
    let mut s = Session::start(conn, &opts, url::Security::None, "srv", None).unwrap();
    let r = s.send(&mut message_to(&rcpts), false).unwrap();
    assert!(written(&out).starts_with("LHLO client.example\r\n"));
    assert_eq!(
        summary(&r),
        [
            ("b@b.example".to_owned(), Delivered, Dot),
            ("c@b.example".to_owned(), Rejected, Rcpt),
            ("d@b.example".to_owned(), Deferred, Dot),
        ]
    );
    assert_eq!(outcome::exit_code(&r), 75);
    // The connection lost: an error, not results.
    let script = format!("{GREET}250 ok\n");
    let (conn, _) = scripted(&script);
    let mut s =
        Session::start(conn, &session_opts(None), url::Security::None, "srv", None).unwrap();
    let e = s.send(&mut message_to(&rcpts), false).unwrap_err();
    assert_eq!(e.exit_code(), 75);
    let r = outcome::from_error(&message_to(&rcpts).envelope.rcpts, &e, "srv");
    assert!(r.iter().all(|r| r.status == Deferred));
}

#[test]
fn session_plain_send_and_quit() {
    let script = format!("{GREET}250 ok\n250 ok\n354 go\n250 queued\n221 bye\n");
    let (conn, out) = scripted(&script);
    let mut s =
        Session::start(conn, &session_opts(None), url::Security::None, "srv", None).unwrap();
    s.send(&mut message("b@b.example"), false).unwrap();
    s.quit().unwrap();
    assert_eq!(
        written(&out),
        "EHLO client.example\r\nMAIL FROM:<a@a.example> SIZE=25\r\nRCPT TO:<b@b.example>\r\n\
         DATA\r\nFrom: a@a.example\r\n\r\nhi\r\n.\r\nQUIT\r\n"
    );
}

#[test]
fn session_starttls_then_fresh_ehlo_and_auth() {
    let script = "220 srv\n250-srv\n250 STARTTLS\n220 go ahead\n\
                  250-srv\n250 AUTH PLAIN LOGIN\n235 ok\n221 bye\n";
    let (conn, out) = scripted(script);
    let opts = session_opts(Some("me"));
    let s = Session::start(conn, &opts, url::Security::StartTlsRequired, "srv", None).unwrap();
    assert!(s.tls.is_some());
    s.quit().unwrap();
    // AUTH only after TLS, with what the post-TLS EHLO offered.
    assert_eq!(
        written(&out),
        "EHLO client.example\r\nSTARTTLS\r\nEHLO client.example\r\nAUTH PLAIN AG1lAHB3\r\nQUIT\r\n"
    );
}

#[test]
fn session_starttls_required_but_not_offered() {
    let (conn, out) = scripted("220 srv\n250-srv\n250 AUTH PLAIN\n221 bye\n");
    let e = Session::start(
        conn,
        &session_opts(None),
        url::Security::StartTlsRequired,
        "srv",
        None,
    )
    .unwrap_err();
    assert_eq!(e.exit_code(), 77, "{e}");
    assert_eq!(written(&out), "EHLO client.example\r\nQUIT\r\n");
    // Offered-if-available: plain text is fine.
    let (conn, _) = scripted("220 srv\n250 srv\n");
    let s = Session::start(
        conn,
        &session_opts(None),
        url::Security::StartTlsIfOffered,
        "srv",
        None,
    )
    .unwrap();
    assert!(s.tls.is_none());
}

#[test]
fn bug_auth_over_pipe_needs_insecure_auth() {
    // The password went in the clear over --pipe without asking.
    let mut opts = session_opts(Some("me"));
    let (conn, out) = scripted("220 srv\n250-srv\n250 AUTH PLAIN\n221 bye\n");
    let e = Session::start(conn, &opts, url::Security::None, "srv", None).unwrap_err();
    assert_eq!(e.exit_code(), 77, "{e}");
    assert!(e.to_string().contains("--insecure-auth"), "{e}");
    assert!(!written(&out).contains("AUTH"));
    opts.insecure_auth = true;
    let (conn, out) = scripted("220 srv\n250-srv\n250 AUTH PLAIN\n235 ok\n");
    Session::start(conn, &opts, url::Security::None, "srv", None).unwrap();
    assert!(written(&out).contains("AUTH PLAIN "));
}

#[test]
fn session_auth_policy() {
    // No TLS, not a pipe: the password is not sent.
    let mut opts = session_opts(Some("me"));
    opts.target = Target::Server(url::parse("127.0.0.1:25").unwrap());
    let (conn, out) = scripted("220 srv\n250-srv\n250 AUTH PLAIN\n");
    let e = Session::start(conn, &opts, url::Security::StartTlsIfOffered, "srv", None).unwrap_err();
    assert_eq!(e.exit_code(), 77, "{e}");
    assert!(!written(&out).contains("AUTH"));
    // --insecure-auth allows it.
    opts.insecure_auth = true;
    let (conn, out) = scripted("220 srv\n250-srv\n250 AUTH PLAIN\n235 ok\n");
    Session::start(conn, &opts, url::Security::StartTlsIfOffered, "srv", None).unwrap();
    assert!(written(&out).contains("AUTH PLAIN "));
    // A forced mechanism the server does not offer.
    opts.auth = Some(Mechanism::CramMd5);
    let (conn, _) = scripted("220 srv\n250-srv\n250 AUTH PLAIN\n");
    let e = Session::start(conn, &opts, url::Security::StartTlsIfOffered, "srv", None).unwrap_err();
    assert_eq!(e.exit_code(), 77, "{e}");
    // Refused credentials.
    opts.auth = None;
    let (conn, _) = scripted("220 srv\n250-srv\n250 AUTH PLAIN\n535 5.7.8 no\n");
    let e = Session::start(conn, &opts, url::Security::StartTlsIfOffered, "srv", None).unwrap_err();
    assert_eq!(e.exit_code(), 77, "{e}");
    // No password anywhere.
    opts.credentials = credentials::Sources::default();
    let (conn, _) = scripted("220 srv\n250-srv\n250 AUTH PLAIN\n");
    let e = Session::start(conn, &opts, url::Security::StartTlsIfOffered, "srv", None).unwrap_err();
    assert_eq!(e.exit_code(), 78, "{e}");
}

#[test]
fn dry_run_is_the_wire_form() {
    let mut msg = message("b@b.example");
    let mut out = Vec::new();
    dry_run(&mut msg, None, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "MAIL FROM:<a@a.example> SIZE=25\r\nRCPT TO:<b@b.example>\r\nDATA\r\n\
         From: a@a.example\r\n\r\nhi\r\n.\r\n"
    );
}

#[test]
fn downgrade_fits_a_server_without_8bitmime() {
    let o = PrepareOptions {
        recipients: vec![mb("b@b.example")],
        verbatim: true,
        downgrade: true,
        ..opts()
    };
    let msg = "From: a@a.example\n\nh\u{e9}\n";
    let script = format!("{GREET}250 ok\n250 ok\n354 go\n250 queued\n221 bye\n");
    let (conn, out) = scripted(&script);
    let mut s =
        Session::start(conn, &session_opts(None), url::Security::None, "srv", None).unwrap();
    let mut p = prepare(stream(msg), &o).unwrap();
    s.send(&mut p, false).unwrap();
    s.quit().unwrap();
    let w = written(&out);
    assert!(
        w.contains(
            "DATA\r\nFrom: a@a.example\r\nMIME-Version: 1.0\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\r\nh=C3=A9\r\n.\r\n"
        ),
        "{w}"
    );
    assert!(w.contains("MAIL FROM:<a@a.example> SIZE=94\r\n"), "{w}");
    // Without --downgrade: refused as before, nothing sent.
    let o = PrepareOptions {
        downgrade: false,
        ..o
    };
    let (conn, out) = scripted(&format!("{GREET}221 bye\n"));
    let mut s =
        Session::start(conn, &session_opts(None), url::Security::None, "srv", None).unwrap();
    let e = s
        .send(&mut prepare(stream(msg), &o).unwrap(), false)
        .unwrap_err();
    assert_eq!(e.exit_code(), 65, "{e}");
    assert!(!written(&out).contains("MAIL"));
    // A header that cannot be made 7-bit: 65 naming the field.
    let o = PrepareOptions {
        downgrade: true,
        ..o
    };
    let (conn, _) = scripted(&format!("{GREET}221 bye\n"));
    let mut s =
        Session::start(conn, &session_opts(None), url::Security::None, "srv", None).unwrap();
    let mut p = prepare(stream("From: a@a.example\nKeywords: \u{e9}\n\nx\n"), &o).unwrap();
    let e = s.send(&mut p, false).unwrap_err();
    assert_eq!(e.exit_code(), 65, "{e}");
    assert!(e.to_string().contains("header field Keywords"), "{e}");
}

#[test]
fn binary_mime_with_nul_goes_only_as_binarymime() {
    // Issue 17, finding 6: a NUL has no text form (RFC 6152 §3).
    let o = PrepareOptions {
        extract: true,
        hostname: "h".into(),
        ..PrepareOptions::default()
    };
    let msg = "From: a@a.example\r\nTo: b@b.example\r\nMIME-Version: 1.0\r\n\
               Content-Transfer-Encoding: binary\r\n\r\nhi\0there\r\n";
    let (conn, out) = scripted(&format!("{GREET}221 bye\n"));
    let mut s =
        Session::start(conn, &session_opts(None), url::Security::None, "srv", None).unwrap();
    let e = s
        .send(&mut prepare(stream(msg), &o).unwrap(), false)
        .unwrap_err();
    assert_eq!(e.exit_code(), 65, "{e}");
    assert!(e.to_string().contains("BINARYMIME"), "{e}");
    assert!(!written(&out).contains("MAIL"));
    // Offered: sent byte for byte.
    let ehlo = "220 srv ESMTP\n250-srv\n250-CHUNKING\n250-8BITMIME\n250 BINARYMIME\n";
    let (conn, out) = scripted(&format!("{ehlo}250 ok\n250 ok\n250 got it\n221 bye\n"));
    let mut s =
        Session::start(conn, &session_opts(None), url::Security::None, "srv", None).unwrap();
    s.send(&mut prepare(stream(msg), &o).unwrap(), false)
        .unwrap();
    assert!(
        written(&out).contains("BODY=BINARYMIME"),
        "{}",
        written(&out)
    );
}
