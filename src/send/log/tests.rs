use super::*;

use std::io;

use crate::send::notice::Recorded;
use crate::send::prepare::{PrepareOptions, Source, prepare};
use crate::smtp::envelope::test_mailbox as mb;
use crate::smtp::reply::Reply;

fn message(text: &[u8]) -> Prepared {
    prepare(
        Source::Stream(Box::new(io::Cursor::new(text.to_vec()))),
        &PrepareOptions {
            extract: true,
            hostname: "h.example".into(),
            ..PrepareOptions::default()
        },
    )
    .unwrap()
}

const SECRET_SUBJECT: &[u8] = b"From: a@example.org\nTo: b@example.net, c@example.net\n\
Subject: salaries 2026\nMessage-ID: <m1@example.org>\n\nhi\n";

fn delivered(rcpt: &str, text: &str) -> RcptResult {
    RcptResult::from_reply(
        mb(rcpt),
        Stage::Dot,
        Reply::new(250, Some((2, 0, 0)), text),
        "smtp://relay:25",
    )
}

#[test]
fn attempt_line_fields() {
    let msg = message(SECRET_SUBJECT);
    let sent = Ok(vec![
        delivered("b@example.net", "Ok: queued as 4XyZ"),
        RcptResult::from_reply(
            mb("c@example.net"),
            Stage::Rcpt,
            Reply::new(550, Some((5, 1, 1)), "no such user"),
            "smtp://relay:25",
        ),
    ]);
    let r = Record::of(&msg, None, &sent, "smtp://relay:25");
    assert_eq!(r.exit, 67);
    assert_eq!(
        r.line(None),
        format!(
            "event=attempt id=<m1@example.org> from=<a@example.org> \
             rcpt=<b@example.net>,250,delivered rcpt=<c@example.net>,550,rejected \
             server=smtp://relay:25 size={} reply=\"550 5.1.1 no such user\"",
            msg.len()
        )
    );
    // The message line: its fate and exit code; never the Subject.
    let line = r.line(Some((r.fate(67), 67)));
    assert!(
        line.starts_with("event=message id=<m1@example.org> status=rejected "),
        "{line}"
    );
    assert!(line.ends_with(" exit=67"), "{line}");
    assert!(!line.contains("salaries") && !line.contains("Subject"));
}

#[test]
fn queued_line_names_the_queue_id_and_queued_recipients() {
    let msg = message(SECRET_SUBJECT);
    let sent = Err(Error::NotSent("connection refused".into(), 75));
    let r = Record::of(&msg, None, &sent, "smtp://relay:25");
    assert_eq!(r.exit, 75);
    assert_eq!(r.fate(75), Fate::Deferred);
    let line = r.line(Some((Fate::Queued("q123"), 0)));
    assert_eq!(
        line,
        format!(
            "event=message id=q123 status=queued from=<a@example.org> \
             rcpt=<b@example.net>,-,queued rcpt=<c@example.net>,-,queued \
             server=smtp://relay:25 size={} error=\"not sent: an earlier message failed: connection refused\" exit=0",
            msg.len()
        )
    );
}

#[test]
fn values_are_quoted_and_escaped_never_raw_controls() {
    for (value, want) in [
        ("plain", "k=plain"),
        ("", "k=\"\""),
        ("two words", "k=\"two words\""),
        ("say \"hi\"", "k=\"say \\\"hi\\\"\""),
        ("back\\slash", "k=\"back\\\\slash\""),
        ("line\r\nnext", "k=\"line\\r\\nnext\""),
        ("esc\x1b[31m", "k=\"esc\\u{1b}[31m\""),
        ("tab\there", "k=\"tab\\there\""),
        // A bidi override would reorder what the admin reads.
        ("a\u{202e}b", "k=\"a\\u{202e}b\""),
        ("é", "k=é"),
    ] {
        let mut out = String::new();
        field(&mut out, "k", value);
        assert_eq!(out, want, "{value:?}");
        assert!(!out.chars().any(|c| c.is_control()), "{out:?}");
    }
}

#[test]
fn reply_with_line_ends_stays_one_line() {
    let msg = message(SECRET_SUBJECT);
    let sent = Ok(vec![delivered(
        "b@example.net",
        "Ok: queued as A1\r\nInjected: line \"x\"",
    )]);
    let line = Record::of(&msg, Some("q9"), &sent, "s").line(None);
    assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
    assert!(line.starts_with("event=attempt id=q9 "), "{line}");
    assert!(line.contains("queued as A1"), "{line}");
}

#[test]
fn message_without_message_id() {
    assert_eq!(message_id(b"From: a@x\n\n"), "-");
    assert_eq!(message_id(b"Message-ID:\n <a@b>\nFrom: a@x\n\n"), "<a@b>");
}

#[test]
fn targets() {
    assert_eq!(Target::parse("syslog"), Ok(Target::Syslog(2)));
    assert_eq!(Target::parse("syslog:local3"), Ok(Target::Syslog(19)));
    assert_eq!(Target::parse("syslog:LOG_USER"), Ok(Target::Syslog(1)));
    assert!(Target::parse("syslog:nope").unwrap_err().contains("local7"));
    assert_eq!(
        Target::parse("/var/log/x.log"),
        Ok(Target::File("/var/log/x.log".into()))
    );
    assert!(Target::parse("").is_err());
    assert_eq!(facility("LOG_MAIL"), Some(2));
    assert_eq!(facility("local8"), None);
}

#[test]
fn syslog_datagram_form() {
    // mail.info = 2 × 8 + 6 (RFC 3164 §4.1.1), the day space-padded.
    let d = datagram(MAIL, INFO, "Dec  7 01:02:03", 42, "event=attempt id=x");
    assert_eq!(
        d,
        b"<22>Dec  7 01:02:03 smtp-send[42]: event=attempt id=x".to_vec()
    );
    assert_eq!(&datagram(19, ERR, "T", 1, "l")[..5], b"<155>");
}

#[test]
fn unwritable_file_is_one_warning() {
    let notices = Arc::new(Recorded::default());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/log");
    let log = Log::open(&Target::File(path), None, notices.clone());
    let msg = message(SECRET_SUBJECT);
    let sent = Ok(vec![delivered("b@example.net", "ok")]);
    log.attempt(&msg, None, &sent, "s");
    log.settled(None, 0);
    let said = notices.0.lock().unwrap().clone();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].starts_with("warning: --log "), "{said:?}");
}

#[test]
fn file_lines_are_appended_with_time_and_settled_once() {
    let notices = Arc::new(Recorded::default());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    std::fs::write(&path, "old\n").unwrap();
    let log = Log::open(&Target::File(path.clone()), Some("[%Y]"), notices.clone());
    let msg = message(SECRET_SUBJECT);
    let sent = Ok(vec![delivered("b@example.net", "ok")]);
    log.attempt(&msg, None, &sent, "s");
    log.settled(None, 0);
    // Nothing attempted since: no second message line.
    log.settled(None, 0);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "old");
    assert!(lines[1].starts_with('[') && lines[1].contains("] event=attempt "));
    assert!(lines[2].contains("] event=message ") && lines[2].contains(" status=delivered "));
    assert!(notices.0.lock().unwrap().is_empty());
}

#[test]
fn bad_time_format_falls_back_with_a_warning() {
    let notices = Arc::new(Recorded::default());
    let dir = tempfile::tempdir().unwrap();
    let _ = Log::open(
        &Target::File(dir.path().join("log")),
        Some("%Y %"),
        notices.clone(),
    );
    let said = notices.0.lock().unwrap().clone();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("--log-time-format"), "{said:?}"); // Empty: the default, without a word.
    let notices = Arc::new(Recorded::default());
    let log = Log::open(
        &Target::File(dir.path().join("log2")),
        Some(""),
        notices.clone(),
    );
    assert!(notices.0.lock().unwrap().is_empty());
    let Some(inner) = &log.0 else { panic!() };
    assert_eq!(inner.time_format, DEFAULT_TIME_FORMAT);
}

#[test]
fn syslog_datagrams_reach_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sock");
    let server = UnixDatagram::bind(&path).unwrap();
    let notices = Arc::new(Recorded::default());
    let sink = connect_syslog(&path).map(|s| Sink::Syslog(s, MAIL));
    let log = Log::with_sink("syslog".into(), sink, None, notices.clone());
    let msg = message(SECRET_SUBJECT);
    log.attempt(&msg, None, &Ok(vec![delivered("b@example.net", "ok")]), "s");
    assert!(notices.0.lock().unwrap().is_empty());
    let mut buf = [0u8; 4096];
    let n = server.recv(&mut buf).unwrap();
    let d = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(d.starts_with("<22>"), "{d}");
    assert!(
        d.contains(&format!(
            " smtp-send[{}]: event=attempt ",
            std::process::id()
        )),
        "{d}"
    );
}

#[test]
fn stream_or_missing_syslog_socket_is_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stream.sock");
    let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let why = connect_syslog(&path).unwrap_err();
    assert!(why.contains("not a datagram socket"), "{why}");
    let why = connect_syslog(&dir.path().join("none")).unwrap_err();
    assert!(why.contains("none"), "{why}");
}

#[test]
fn given_up_without_an_attempt_is_a_failed_message_line() {
    let notices = Arc::new(Recorded::default());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let log = Log::open(&Target::File(path.clone()), Some("T"), notices);
    log.given_up(
        "q7",
        "a@example.org",
        &[mb("b@example.net")],
        "expired after 5d (--max-age): 451 busy",
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "T event=message id=q7 status=failed from=<a@example.org> \
         rcpt=<b@example.net>,-,rejected server=- \
         error=\"expired after 5d (--max-age): 451 busy\" exit=69\n"
    );
}

#[test]
fn a_whole_failure_queued_queues_every_recipient() {
    // --queue keeps a configuration or AUTH failure too (issue 14 part 1):
    // its results say rejected, but the message waits for every recipient.
    let msg = message(SECRET_SUBJECT);
    let sent = Err(Error::Config("no server".into()));
    let r = Record::of(&msg, None, &sent, "-");
    let line = r.line(Some((Fate::Queued("q1"), 0)));
    assert!(
        line.contains(" rcpt=<b@example.net>,-,queued rcpt=<c@example.net>,-,queued "),
        "{line}"
    );
    // A refusal beside deferred recipients stays a refusal.
    let sent = Ok(vec![
        RcptResult::from_reply(
            mb("b@example.net"),
            Stage::Rcpt,
            Reply::new(550, None, "no"),
            "s",
        ),
        RcptResult::from_reply(
            mb("c@example.net"),
            Stage::Rcpt,
            Reply::new(450, None, "later"),
            "s",
        ),
    ]);
    let line = Record::of(&msg, None, &sent, "s").line(Some((Fate::Queued("q2"), 67)));
    assert!(
        line.contains(" rcpt=<b@example.net>,550,rejected rcpt=<c@example.net>,450,queued "),
        "{line}"
    );
}
