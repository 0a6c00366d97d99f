use super::*;
use crate::send::notice::Recorded;
use crate::send::route::Opener;
use crate::send::session::Session;
use crate::send::url;
use crate::smtp::client::Stage;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// What a fake relay saw and will say.
#[derive(Default)]
struct Log {
    /// Command lines received, in order (all connections).
    commands: Vec<String>,
    /// Messages received (up to the end-of-data line), dot-stuffed.
    messages: Vec<Vec<u8>>,
    /// Connections opened.
    opened: usize,
}

type Shared = Arc<Mutex<Log>>;

/// A relay that answers as it reads: each complete command line queues
/// its reply (so PIPELINING works), the message is collected until its
/// end-of-data line. `replies` overrides the reply to a verb ("MAIL",
/// "RCPT", "DATA", "DOT"), `drop_after` ends the connection (reads see
/// end of input) after that many messages.
struct Fake {
    log: Shared,
    pending: VecDeque<u8>,
    line: Vec<u8>,
    data: Option<Vec<u8>>,
    replies: Vec<(&'static str, &'static str)>,
    drop_after: Option<usize>,
    done: usize,
}

impl Fake {
    fn reply(&self, verb: &str, normal: &str) -> String {
        let r = self
            .replies
            .iter()
            .find(|(v, _)| *v == verb)
            .map_or(normal, |(_, r)| r);
        format!("{r}\r\n")
    }

    fn command(&mut self, line: &str) {
        self.log.lock().unwrap().commands.push(line.to_owned());
        let verb = line.split([' ', ':']).next().unwrap_or("").to_uppercase();
        let r = match verb.as_str() {
            "EHLO" => self.reply(
                "EHLO",
                "250-fake.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100000000",
            ),
            "MAIL" => self.reply("MAIL", "250 2.1.0 ok"),
            "RCPT" => self.reply("RCPT", "250 2.1.5 ok"),
            "DATA" => {
                let r = self.reply("DATA", "354 go");
                if r.starts_with("354") {
                    self.data = Some(Vec::new());
                }
                r
            }
            "RSET" => "250 2.0.0 ok\r\n".to_owned(),
            "QUIT" => "221 2.0.0 bye\r\n".to_owned(),
            _ => "500 5.5.1 what\r\n".to_owned(),
        };
        self.pending.extend(r.as_bytes());
    }
}

impl Read for Fake {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.pending.len());
        for (i, b) in self.pending.drain(..n).enumerate() {
            buf[i] = b;
        }
        Ok(n)
    }
}

impl Write for Fake {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &b in buf {
            self.line.push(b);
            if b != b'\n' {
                continue;
            }
            let line = std::mem::take(&mut self.line);
            if let Some(d) = &mut self.data {
                if line == b".\r\n" {
                    let msg = std::mem::take(d);
                    self.data = None;
                    self.done += 1;
                    let normal = self.reply("DOT", "250 2.0.0 queued as FAKE");
                    let r = match self.done {
                        2 => self.reply("DOT2", normal.trim_end()),
                        _ => normal,
                    };
                    // An empty reply: the connection is lost after the dot.
                    let r = if r == "\r\n" { String::new() } else { r };
                    if r.starts_with('2') {
                        self.log.lock().unwrap().messages.push(msg);
                    }
                    self.pending.extend(r.as_bytes());
                } else {
                    d.extend_from_slice(&line);
                }
                continue;
            }
            let text = String::from_utf8_lossy(&line).trim_end().to_owned();
            if self.drop_after.is_some_and(|n| self.done >= n) {
                // The relay closed the idle connection.
                self.log
                    .lock()
                    .unwrap()
                    .commands
                    .push(format!("lost {text}"));
                continue;
            }
            self.command(&text);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Connection for Fake {
    fn start_tls(
        self,
        _: &Arc<rustls::ClientConfig>,
        _: &str,
    ) -> Result<Self, crate::smtp::tls::HandshakeError> {
        Ok(self)
    }
    fn tls_info(&self) -> Option<(String, Option<crate::smtp::tls::CertInfo>)> {
        None
    }
    fn set_io_timeout(&mut self, _: Duration) -> io::Result<()> {
        Ok(())
    }
}

fn sopts() -> session::SessionOptions {
    session::SessionOptions {
        target: session::Target::Pipe("fake".to_owned()),
        helo: Some("bs.test".to_owned()),
        tls: Default::default(),
        user: None,
        credentials: Default::default(),
        auth: None,
        insecure_auth: false,
        timeout: None,
        notices: Arc::new(Recorded::default()),
        connect_timeout: Duration::from_secs(1),
        verbose: false,
        delivery: Default::default(),
        cleartext_after_starttls_refused: false,
    }
}

/// An opener of fake relay connections; the first `drop_first`
/// connection drops after one message, `greeting` is the first line.
fn opener(
    log: &Shared,
    greeting: &'static str,
    replies: Vec<(&'static str, &'static str)>,
    drop_first: bool,
) -> Opener<Fake> {
    let log = Arc::clone(log);
    Box::new(move || {
        let n = {
            let mut l = log.lock().unwrap();
            l.opened += 1;
            l.opened
        };
        let fake = Fake {
            log: Arc::clone(&log),
            pending: format!("{greeting}\r\n").into_bytes().into(),
            line: Vec::new(),
            data: None,
            replies: replies.clone(),
            drop_after: (drop_first && n == 1).then_some(1),
            done: 0,
        };
        Session::start(fake, &sopts(), url::Security::None, "fake.test", None)
    })
}

struct Run {
    replies: String,
    log: Shared,
    relayed: u64,
}

fn session(
    input: &[u8],
    greeting: &'static str,
    replies: Vec<(&'static str, &'static str)>,
) -> Run {
    session_with(input, greeting, replies, false)
}

fn session_with(
    input: &[u8],
    greeting: &'static str,
    replies: Vec<(&'static str, &'static str)>,
    drop_first: bool,
) -> Run {
    session_queued(input, greeting, replies, drop_first, None)
}

fn session_queued(
    input: &[u8],
    greeting: &'static str,
    replies: Vec<(&'static str, &'static str)>,
    drop_first: bool,
    queue: Option<&Path>,
) -> Run {
    let log = Shared::default();
    let mut out = Vec::new();
    let relay = Relay::new(
        Deliverer::relay(opener(&log, greeting, replies, drop_first), "fake", false),
        "bs.test",
        PrepareOptions {
            hostname: "bs.test".to_owned(),
            ..PrepareOptions::default()
        },
        Arc::new(Recorded::default()),
    )
    .with_queue(queue);
    let relayed = serve(input, &mut out, relay, "bs.test");
    Run {
        replies: String::from_utf8(out).unwrap(),
        log,
        relayed,
    }
}

use crate::smtp::reply::codes;

const TX: &[u8] = b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n";

fn input(messages: &[&[u8]], quit: bool) -> Vec<u8> {
    let mut v = b"EHLO client.test\r\n".to_vec();
    for m in messages {
        v.extend_from_slice(TX);
        v.extend_from_slice(m);
    }
    if quit {
        v.extend_from_slice(b"QUIT\r\n");
    }
    v
}

#[test]
fn a_message_is_answered_250_after_the_relay_took_it() {
    let r = session(
        &input(&[b"Subject: s\r\n\r\n..dot\r\n.\r\n"], true),
        "220 fake",
        vec![],
    );
    assert_eq!(codes(&r.replies), [220, 250, 250, 250, 354, 250, 221]);
    assert!(
        r.replies
            .contains("250 2.0.0 Ok: relayed: 250 2.0.0 queued as FAKE"),
        "{}",
        r.replies
    );
    // No AUTH, no STARTTLS, no DSN offered to the local client.
    assert!(!r.replies.contains("AUTH") && !r.replies.contains("STARTTLS"));
    assert!(!r.replies.contains("DSN"));
    assert!(r.replies.contains("SIZE"));
    assert_eq!(r.relayed, 1);
    let log = r.log.lock().unwrap();
    assert_eq!(log.messages.len(), 1);
    let m = String::from_utf8(log.messages[0].clone()).unwrap();
    assert!(
        m.starts_with("Received: from client.test by bs.test with ESMTP id "),
        "{m}"
    );
    assert!(!m.contains("Return-Path"));
    assert!(m.contains("\r\nSubject: s\r\n"));
    // Added as smtp-send adds them; the body dot-stuffed again.
    assert!(m.contains("\r\nDate: ") && m.contains("\r\nMessage-ID: "));
    assert!(m.ends_with("\r\n\r\n..dot\r\n"), "{m:?}");
    assert!(
        log.commands
            .iter()
            .any(|c| c.starts_with("MAIL FROM:<a@x.test>"))
    );
    assert!(log.commands.contains(&"RCPT TO:<b@y.test>".to_owned()));
    assert_eq!(log.commands.last().unwrap(), "QUIT");
}

#[test]
fn several_messages_share_one_relay_connection() {
    let r = session(
        &input(&[b"one\r\n.\r\n", b"two\r\n.\r\n", b"three\r\n.\r\n"], true),
        "220 fake",
        vec![],
    );
    assert_eq!(
        codes(&r.replies).iter().filter(|&&c| c == 250).count(),
        1 + 3 * 3
    );
    assert_eq!(r.relayed, 3);
    let log = r.log.lock().unwrap();
    assert_eq!(log.opened, 1);
    assert_eq!(log.messages.len(), 3);
}

#[test]
fn a_connection_dropped_while_idle_is_replaced_once() {
    let r = session_with(
        &input(&[b"one\r\n.\r\n", b"two\r\n.\r\n"], true),
        "220 fake",
        vec![],
        true,
    );
    assert_eq!(
        codes(&r.replies),
        [220, 250, 250, 250, 354, 250, 250, 250, 354, 250, 221]
    );
    let log = r.log.lock().unwrap();
    assert_eq!(log.opened, 2);
    assert_eq!(log.messages.len(), 2);
}

#[test]
fn relay_refusals_are_passed_back() {
    for (verb, relay_says, code, enhanced) in [
        ("RCPT", "550 5.1.1 no such user", "550", "5.1.1"),
        ("RCPT", "450 4.2.0 try later", "450", "4.2.0"),
        ("MAIL", "553 5.1.8 bad sender", "554", "5.1.8"),
        ("DATA", "554 5.7.1 no", "554", "5.7.1"),
        ("DOT", "552 5.3.4 too big", "552", "5.3.4"),
        ("DOT", "451 4.3.0 disk full", "451", "4.3.0"),
        ("DOT", "421 4.4.2 bye", "451", "4.4.2"),
        ("DOT", "521 nope", "554", "5.0.0"),
    ] {
        let r = session(
            &input(&[b"m\r\n.\r\n"], true),
            "220 fake",
            vec![(verb, relay_says)],
        );
        let last = r.replies.lines().rev().nth(1).unwrap();
        assert!(
            last.starts_with(&format!("{code} {enhanced} relay")),
            "{verb} {relay_says}: {last}"
        );
        assert!(last.contains(relay_says.split_at(4).1), "{last}");
        assert_eq!(r.relayed, 0);
        assert!(r.log.lock().unwrap().messages.is_empty());
        // RCPT was accepted locally; the refusal is the DATA reply.
        assert_eq!(codes(&r.replies)[..5], [220, 250, 250, 250, 354]);
    }
}

#[test]
fn a_relay_that_refuses_service_is_451() {
    for greeting in ["421 4.3.2 busy", "554 5.7.1 go away"] {
        let r = session(&input(&[b"m\r\n.\r\n"], true), greeting, vec![]);
        assert_eq!(
            codes(&r.replies),
            [220, 250, 250, 250, 354, 451, 221],
            "{greeting}"
        );
        assert_eq!(r.relayed, 0);
    }
}

#[test]
fn nothing_is_relayed_for_a_message_that_ends_badly() {
    // The client leaves mid-DATA.
    let r = session(
        &input(&[b"Subject: cut\r\n\r\nhalf\r\n."], false),
        "220 fake",
        vec![],
    );
    assert_eq!(codes(&r.replies), [220, 250, 250, 250, 354]);
    assert_eq!(r.log.lock().unwrap().opened, 0);
    // Bare LF (SMTP smuggling): refused by the session, then a good one.
    let r = session(
        &input(
            &[b"a\n.\r\nMAIL FROM:<evil@x.test>\r\n.\r\n", b"ok\r\n.\r\n"],
            true,
        ),
        "220 fake",
        vec![],
    );
    assert_eq!(
        codes(&r.replies),
        [220, 250, 250, 250, 354, 550, 250, 250, 354, 250, 221]
    );
    let log = r.log.lock().unwrap();
    assert_eq!(log.messages.len(), 1);
    assert!(!log.commands.iter().any(|c| c.contains("evil")));
    assert!(String::from_utf8_lossy(&log.messages[0]).ends_with("\r\nok\r\n"));
}

#[test]
fn an_oversized_message_is_refused_without_relaying() {
    let mut big = Vec::new();
    let line = [b'x'; 998];
    while big.len() <= crate::limits::SMTP_MAX_MESSAGE_SIZE as usize {
        big.extend_from_slice(&line);
        big.extend_from_slice(b"\r\n");
    }
    big.extend_from_slice(b".\r\n");
    let r = session(&input(&[&big], true), "220 fake", vec![]);
    assert_eq!(codes(&r.replies), [220, 250, 250, 250, 354, 552, 221]);
    assert_eq!(r.log.lock().unwrap().opened, 0);
}

#[test]
fn a_large_message_spills_to_a_file_and_arrives_whole() {
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    let mut n = 0u32;
    while big.len() < 3 * crate::limits::SPOOL_MEM {
        big.extend_from_slice(format!("line {n}\r\n").as_bytes());
        n += 1;
    }
    big.extend_from_slice(b".\r\n");
    let r = session(&input(&[&big], true), "220 fake", vec![]);
    assert_eq!(codes(&r.replies), [220, 250, 250, 250, 354, 250, 221]);
    let log = r.log.lock().unwrap();
    assert!(log.messages[0].ends_with(format!("line {}\r\n", n - 1).as_bytes()));
}

use crate::smtp::envelope::test_mailbox as mb;

#[test]
fn per_recipient_results_make_one_reply() {
    let res = |rcpt: &str, code: u16, stage: Stage| {
        RcptResult::from_reply(
            mb(rcpt),
            stage,
            Reply::new(code, Some(((code / 100) as u8, 1, 1)), "said"),
            "relay:25",
        )
    };
    let ok = res("a@x.test", 250, Stage::Dot);
    assert_eq!(results_reply(std::slice::from_ref(&ok)).code, 250);
    let not_sent = RcptResult::without_reply(
        mb("n@x.test"),
        Status::Rejected,
        Stage::Rcpt,
        "not sent: another recipient was refused",
        "relay:25",
    );
    let r = results_reply(&[not_sent, res("c@x.test", 550, Stage::Rcpt)]);
    assert_eq!((r.code, r.enhanced), (550, Some((5, 1, 1))));
    assert!(r.text().contains("<c@x.test>") && r.text().contains("(and 1 more)"));
    let r = results_reply(&[ok.clone(), res("b@x.test", 550, Stage::Rcpt)]);
    assert_eq!((r.code, r.enhanced), (550, Some((5, 1, 1))));
    assert_eq!(
        r.text(),
        "relay: relay:25: <b@x.test>: rejected: 550 5.1.1 said (delivered to 1 of 2 recipients)"
    );
    // A deferred recipient wins: the client must try again.
    let r = results_reply(&[
        res("b@x.test", 550, Stage::Rcpt),
        res("c@x.test", 452, Stage::Rcpt),
    ]);
    assert_eq!(r.code, 452);
    assert!(r.text().contains("<c@x.test>: deferred") && r.text().contains("(and 1 more)"));
    let none = RcptResult::without_reply(
        mb("d@x.test"),
        Status::Deferred,
        Stage::Connect,
        "connection refused",
        "",
    );
    let r = results_reply(&[none]);
    assert_eq!((r.code, r.enhanced), (451, Some((4, 0, 0))));
}

#[test]
fn failures_map_to_451_or_5xx() {
    let cases: Vec<(Error, u16, (u8, u16, u16))> = vec![
        (Error::Message("line too long".into()), 554, (5, 6, 0)),
        (Error::Usage("no recipients".into()), 554, (5, 6, 0)),
        (Error::Config("no server".into()), 451, (4, 3, 0)),
        (Error::Security("no STARTTLS".into()), 451, (4, 3, 0)),
        (Error::Input(io::Error::other("disk")), 451, (4, 3, 0)),
        (
            Error::Partial {
                delivered: 1,
                total: 2,
                err: Box::new(Error::Message("x".into())),
            },
            554,
            (5, 6, 0),
        ),
    ];
    for (e, code, enh) in cases {
        let r = refusal(&e);
        assert_eq!((r.code, r.enhanced), (code, Some(enh)), "{e}");
        assert_eq!(r.text(), clip(&format!("relay: {e}")));
    }
    let long = refusal(&Error::Message("y".repeat(5000)));
    assert_eq!(long.text().chars().count(), MAX_TEXT);
    // pass_on: the codes RFC 5321 §4.3.2 allows after DATA.
    for (code, transient, want) in [
        (450, true, 450),
        (452, true, 452),
        (421, true, 451),
        (0, true, 451),
        (550, false, 550),
        (552, false, 552),
        (553, false, 554),
        (535, false, 554),
    ] {
        let r = Reply::new(code, None, "x");
        let got = pass_on((code != 0).then_some(&r), transient);
        assert_eq!(got.0, want, "{code}");
        assert_eq!(got.1, Some((if transient { 4 } else { 5 }, 0, 0)));
    }
}

#[test]
fn a_relay_without_8bitmime_refuses_8bit_text_for_good() {
    let r = session(
        &input(&["Subject: é\r\n\r\nÿ\r\n.\r\n".as_bytes()], true),
        "220 fake",
        vec![("EHLO", "250 fake.test")],
    );
    let last = r.replies.lines().rev().nth(1).unwrap();
    assert!(last.starts_with("554 5.6.0 relay: "), "{last}");
}

#[test]
fn a_connection_lost_after_the_dot_is_not_retried() {
    // The relay may have the message: a retry could deliver it twice.
    let r = session(
        &input(&[b"one\r\n.\r\n", b"two\r\n.\r\n", b"three\r\n.\r\n"], true),
        "220 fake",
        vec![("DOT2", "")],
    );
    let c = codes(&r.replies);
    assert_eq!(c[5], 250);
    assert_eq!(c[9], 451, "{}", r.replies);
    assert!(r.replies.contains("451 4.4.2 relay: "), "{}", r.replies);
    // The third message goes over a new connection.
    assert_eq!(c[13], 250);
    let log = r.log.lock().unwrap();
    assert_eq!(log.opened, 2);
    assert_eq!(log.messages.len(), 2);
}

/// The queued message files in `dir` (not tmp/, failed/ or states).
fn queued_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| {
                let e = e.ok()?;
                let name = e.file_name().into_string().ok()?;
                (e.path().is_file() && !name.ends_with(".state")).then_some(name)
            })
            .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn with_a_queue_a_temporary_failure_is_queued_then_250() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q");
    for (greeting, replies) in [
        ("220 fake", vec![("DOT", "451 4.3.0 try later")]),
        ("220 fake", vec![("RCPT", "450 4.2.0 mailbox busy")]),
        ("421 4.3.2 busy", vec![]),
    ] {
        let before = queued_files(&q).len();
        let r = session_queued(
            &input(&[b"Subject: q\r\n\r\nkeep me\r\n.\r\n"], true),
            greeting,
            replies.clone(),
            false,
            Some(&q),
        );
        assert_eq!(
            codes(&r.replies),
            [220, 250, 250, 250, 354, 250, 221],
            "{replies:?}"
        );
        assert!(
            r.replies.contains("250 2.0.0 Ok: queued as "),
            "{}",
            r.replies
        );
        assert_eq!(r.relayed, 1);
        assert!(r.log.lock().unwrap().messages.is_empty());
        let files = queued_files(&q);
        assert_eq!(files.len(), before + 1);
    }
    let text = std::fs::read_to_string(q.join(&queued_files(&q)[0])).unwrap();
    assert!(
        text.contains("rcpt <b@y.test>") && text.contains("keep me"),
        "{text}"
    );
    assert!(text.contains("Received: from client.test by bs.test"));
}

#[test]
fn with_a_queue_a_permanent_refusal_is_not_queued() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q");
    let r = session_queued(
        &input(&[b"m\r\n.\r\n"], true),
        "220 fake",
        vec![("RCPT", "550 5.1.1 no such user")],
        false,
        Some(&q),
    );
    assert_eq!(codes(&r.replies), [220, 250, 250, 250, 354, 550, 221]);
    assert!(queued_files(&q).is_empty());
    assert_eq!(r.relayed, 0);
}

#[test]
fn a_queue_that_cannot_be_written_leaves_451() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("not-a-dir");
    std::fs::write(&q, b"").unwrap();
    let r = session_queued(
        &input(&[b"m\r\n.\r\n"], true),
        "220 fake",
        vec![("DOT", "451 4.3.0 try later")],
        false,
        Some(&q),
    );
    assert_eq!(codes(&r.replies), [220, 250, 250, 250, 354, 451, 221]);
    assert_eq!(r.relayed, 0);
}

#[test]
fn sendmail_spelling_bs_reaches_clap_as_long_option() {
    let cli = clap::Command::new("smtp-send")
        .arg(clap::Arg::new("from").short('f'))
        .arg(
            clap::Arg::new("bs")
                .long("bs")
                .action(clap::ArgAction::SetTrue),
        );
    let argv = ["sendmail", "-bs", "-oi", "-f", "-bs", "--", "-bs"];
    let got = crate::send::sendmail::sendmail_args(argv.iter().map(std::ffi::OsString::from), &cli);
    // -f's value and what follows -- are left alone.
    assert_eq!(got, ["sendmail", "--bs", "-i", "-f", "-bs", "--", "-bs"]);
}
