//! smtp-send's `--log FILE|syslog` (issue 14, part 2) against our
//! smtp-recv on loopback (with `--reply` for 451 and 550): one line per
//! attempt and per message, key=value, with the queue id or Message-ID,
//! every recipient's reply code and status, the server's reply and the exit
//! code; never the password nor the Subject. Syslog goes to a datagram
//! socket the test binds (`MAILPIPE_SYSLOG_SOCKET`).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use crate::peers::*;
use crate::send::{send, send_env};
use crate::send_queue::queued;
use crate::util::*;

const SUBJECT: &str = "payroll for December";

fn msg(n: usize) -> Vec<u8> {
    format!(
        "From: a@a.example\nTo: b@b.example\nSubject: {SUBJECT}\n\
         Message-ID: <{n}@a.example>\n\nhello {n}\n"
    )
    .into_bytes()
}

/// The log's lines, without their time (everything before `event=`).
fn lines(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    assert!(!text.contains(SUBJECT), "the Subject is logged: {text}");
    text.lines()
        .map(|l| match l.find("event=") {
            Some(i) => l[i..].to_owned(),
            None => panic!("no event= in {l:?}"),
        })
        .collect()
}

/// The value of `key` in `line` (unquoted values only).
fn value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
}

#[test]
fn delivered_message_is_an_attempt_and_a_message_line() {
    let recv = Recv::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("send.log");
    let logs = log.to_str().unwrap();
    let r = send(&["-S", &recv.server(), "--log", logs, "-t"], &msg(1));
    r.code(0);
    assert_eq!(r.stderr, "");
    assert_eq!(recv.messages().len(), 1);
    let mode = std::fs::metadata(&log).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let got = lines(&log);
    assert_eq!(got.len(), 2, "{got:?}");
    let server = format!("smtp://{}", recv.server());
    for (line, event) in got.iter().zip(["attempt", "message"]) {
        assert_eq!(value(line, "event"), Some(event), "{line}");
        assert_eq!(value(line, "id"), Some("<1@a.example>"), "{line}");
        assert_eq!(value(line, "from"), Some("<a@a.example>"), "{line}");
        assert_eq!(
            value(line, "rcpt"),
            Some("<b@b.example>,250,delivered"),
            "{line}"
        );
        assert_eq!(value(line, "server"), Some(server.as_str()), "{line}");
        assert!(value(line, "size").is_some_and(|s| s.parse::<u64>().is_ok()));
        assert!(line.contains(" reply=\"250 "), "{line}");
    }
    assert_eq!(value(&got[1], "status"), Some("delivered"));
    assert_eq!(value(&got[1], "exit"), Some("0"));
    assert_eq!(value(&got[0], "exit"), None);
    // The file's lines start with the time (msmtp's format by default) and
    // a second run appends.
    send(&["-S", &recv.server(), "--log", logs, "-t"], &msg(2)).code(0);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    let first = text.lines().next().unwrap();
    assert!(first.find(" event=").is_some_and(|i| i >= 15), "{first}");
}

#[test]
fn queued_451_then_flushed_with_the_same_id() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    let log = tmp.path().join("send.log");
    let (qs, logs) = (q.to_str().unwrap(), log.to_str().unwrap());
    let busy = Recv::start(&["--reply", "dot=451 4.3.0 try later"]);
    send(
        &["-S", &busy.server(), "--queue", qs, "--log", logs, "-t"],
        &msg(1),
    )
    .code(0);
    let ids = queued(&q);
    assert_eq!(ids.len(), 1);
    let id = ids[0].as_str();
    let got = lines(&log);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(value(&got[0], "event"), Some("attempt"));
    assert_eq!(value(&got[0], "id"), Some("<1@a.example>"));
    assert_eq!(value(&got[0], "rcpt"), Some("<b@b.example>,451,deferred"));
    assert!(
        got[0].contains(" reply=\"451 4.3.0 try later\""),
        "{}",
        got[0]
    );
    assert_eq!(value(&got[1], "status"), Some("queued"));
    assert_eq!(value(&got[1], "id"), Some(id));
    assert_eq!(value(&got[1], "rcpt"), Some("<b@b.example>,451,queued"));
    assert_eq!(value(&got[1], "exit"), Some("0"));
    let good = Recv::start(&[]);
    send(
        &[
            "-S",
            &good.server(),
            "--flush",
            qs,
            "--force",
            "--log",
            logs,
        ],
        b"",
    )
    .code(0);
    assert_eq!(good.messages().len(), 1);
    let got = lines(&log);
    assert_eq!(got.len(), 4, "{got:?}");
    for line in &got[2..] {
        assert_eq!(value(line, "id"), Some(id), "{line}");
        assert_eq!(
            value(line, "rcpt"),
            Some("<b@b.example>,250,delivered"),
            "{line}"
        );
    }
    assert_eq!(value(&got[2], "event"), Some("attempt"));
    assert_eq!(value(&got[3], "status"), Some("delivered"));
    assert_eq!(value(&got[3], "exit"), Some("0"));
}

#[test]
fn rejected_550_logs_its_code_and_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("send.log");
    let no = Recv::start(&["--reply", "rcpt=550 5.1.1 no such user"]);
    send(
        &["-S", &no.server(), "--log", log.to_str().unwrap(), "-t"],
        &msg(1),
    )
    .code(67);
    let got = lines(&log);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(value(&got[0], "rcpt"), Some("<b@b.example>,550,rejected"));
    assert_eq!(value(&got[1], "status"), Some("rejected"));
    assert_eq!(value(&got[1], "exit"), Some("67"));
    assert!(
        got[1].contains(" reply=\"550 5.1.1 no such user\""),
        "{}",
        got[1]
    );
}

#[test]
fn each_logs_every_message() {
    let recv = Recv::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("send.log");
    let f1 = write_file(tmp.path(), "1.eml", &msg(1));
    let f2 = write_file(tmp.path(), "2.eml", &msg(2));
    send(
        &[
            "-S",
            &recv.server(),
            "--log",
            log.to_str().unwrap(),
            "--each",
            f1.to_str().unwrap(),
            f2.to_str().unwrap(),
        ],
        b"",
    )
    .code(0);
    let got = lines(&log);
    let summary: Vec<(Option<&str>, Option<&str>, Option<&str>)> = got
        .iter()
        .map(|l| (value(l, "event"), value(l, "id"), value(l, "status")))
        .collect();
    assert_eq!(
        summary,
        [
            (Some("attempt"), Some("<1@a.example>"), None),
            (Some("message"), Some("<1@a.example>"), Some("delivered")),
            (Some("attempt"), Some("<2@a.example>"), None),
            (Some("message"), Some("<2@a.example>"), Some("delivered")),
        ]
    );
}

#[test]
fn syslog_datagrams_are_mail_info_with_the_program_tag() {
    let recv = Recv::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("log.sock");
    let syslogd = UnixDatagram::bind(&sock).unwrap();
    syslogd
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let r = send_env(
        &["-S", &recv.server(), "--log", "syslog", "-t"],
        &[("MAILPIPE_SYSLOG_SOCKET", sock.to_str().unwrap())],
        &msg(1),
    );
    r.code(0);
    assert_eq!(r.stderr, "");
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    for _ in 0..2 {
        let n = syslogd.recv(&mut buf).expect("a datagram");
        got.push(String::from_utf8(buf[..n].to_vec()).unwrap());
    }
    for (d, event) in got.iter().zip(["attempt", "message"]) {
        // <22>: mail (2) × 8 + info (6); RFC 3164's timestamp, then the tag.
        assert!(d.starts_with("<22>"), "{d}");
        let (head, line) = d.split_once(": ").unwrap();
        assert!(head.contains(" smtp-send["), "{d}");
        assert_eq!(value(line, "event"), Some(event), "{d}");
        assert!(!d.contains(SUBJECT));
    }
    // A facility of the admin's choice.
    let r = send_env(
        &["-S", &recv.server(), "--log", "syslog:local3", "-t"],
        &[("MAILPIPE_SYSLOG_SOCKET", sock.to_str().unwrap())],
        &msg(2),
    );
    r.code(0);
    let n = syslogd.recv(&mut buf).unwrap();
    // local3 (19) × 8 + info (6).
    assert!(buf[..n].starts_with(b"<158>"));
    // No syslog listening: one warning, the mail still goes.
    let r = send_env(
        &["-S", &recv.server(), "--log", "syslog", "-t"],
        &[("MAILPIPE_SYSLOG_SOCKET", "/nonexistent/log.sock")],
        &msg(3),
    );
    r.code(0);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("smtp-send: warning: --log syslog: /nonexistent/log.sock"),
        "{}",
        r.stderr
    );
    assert_eq!(recv.messages().len(), 3);
}

#[test]
fn unwritable_log_is_one_warning_and_the_mail_goes() {
    let recv = Recv::start(&[]);
    let r = send(
        &[
            "-S",
            &recv.server(),
            "--log",
            "/nonexistent/dir/send.log",
            "-t",
        ],
        &msg(1),
    );
    r.code(0);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("smtp-send: warning: --log /nonexistent/dir/send.log: "),
        "{}",
        r.stderr
    );
    assert_eq!(recv.messages().len(), 1);
    // A bad facility is a usage error, before anything is sent.
    send(
        &["-S", &recv.server(), "--log", "syslog:nope", "-t"],
        &msg(2),
    )
    .code(64)
    .one_line_error("smtp-send");
    assert_eq!(recv.messages().len(), 1);
}

#[test]
fn msmtprc_logfile_and_no_secret_in_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let users = write_file(tmp.path(), "users", b"me:s3cret-pw\n");
    let recv = Recv::start(&["--auth-file", users.to_str().unwrap(), "--auth-insecure"]);
    let log = tmp.path().join("msmtp.log");
    let rc = write_file(
        tmp.path(),
        "test.msmtprc",
        format!(
            "account default\nhost 127.0.0.1\nport {}\nuser me\nlogfile {}\n\
             logfile_time_format \"[%Y-%m-%d]\"\n",
            recv.addr.port(),
            log.display()
        )
        .as_bytes(),
    );
    let r = send_env(
        &["--config", rc.to_str().unwrap(), "--insecure-auth", "-t"],
        &[("SMTP_PASSWORD", "s3cret-pw")],
        &msg(1),
    );
    r.code(0);
    assert_eq!(recv.messages().len(), 1);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    for line in text.lines() {
        assert!(
            line.starts_with("[20") && line.contains("] event="),
            "{line}"
        );
    }
    assert!(!text.contains("s3cret-pw"), "{text}");
    assert!(!text.contains("user="), "{text}");
    assert!(!text.contains(SUBJECT), "{text}");
}

#[test]
fn flush_gives_up_an_expired_message_in_one_failed_line() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    let log = tmp.path().join("send.log");
    let (qs, logs) = (q.to_str().unwrap(), log.to_str().unwrap());
    let down = format!("127.0.0.1:{}", free_port());
    send(&["-S", &down, "--queue", qs, "--log", logs, "-t"], &msg(1)).code(0);
    let id = queued(&q).remove(0);
    // Older than --max-age, and not due: moved to failed/ untried.
    std::thread::sleep(Duration::from_millis(1100));
    let recv = Recv::start(&[]);
    send(
        &[
            "-S",
            &recv.server(),
            "--flush",
            qs,
            "--max-age",
            "1s",
            "--log",
            logs,
        ],
        b"",
    )
    .code(0);
    let got = lines(&log);
    assert_eq!(got.len(), 3, "{got:?}");
    let last = &got[2];
    assert_eq!(value(last, "event"), Some("message"), "{last}");
    assert_eq!(value(last, "id"), Some(id.as_str()), "{last}");
    assert_eq!(value(last, "status"), Some("failed"), "{last}");
    assert!(last.contains(" error=\"expired after "), "{last}");
    assert!(recv.messages().is_empty());
}

#[test]
fn bs_relayed_message_is_logged() {
    let recv = Recv::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("send.log");
    let dialogue = [
        "EHLO client.example",
        "MAIL FROM:<a@a.example>",
        "RCPT TO:<b@b.example>",
        "DATA",
        &String::from_utf8(msg(1)).unwrap().replace('\n', "\r\n"),
        ".",
        "QUIT",
    ]
    .join("\r\n")
        + "\r\n";
    let r = send(
        &["-S", &recv.server(), "-bs", "--log", log.to_str().unwrap()],
        dialogue.as_bytes(),
    );
    r.code(0);
    assert_eq!(recv.messages().len(), 1, "{}", r.stdout_str());
    let got = lines(&log);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(value(&got[0], "event"), Some("attempt"));
    assert_eq!(value(&got[1], "status"), Some("delivered"));
    assert_eq!(value(&got[1], "id"), Some("<1@a.example>"));
    assert_eq!(value(&got[1], "rcpt"), Some("<b@b.example>,250,delivered"));
}

#[test]
fn each_with_queue_names_the_queue_id_from_the_first_attempt() {
    let busy = Recv::start(&["--reply", "dot=451 4.3.0 try later"]);
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    let log = tmp.path().join("send.log");
    let f1 = write_file(tmp.path(), "1.eml", &msg(1));
    send(
        &[
            "-S",
            &busy.server(),
            "--queue",
            q.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--each",
            f1.to_str().unwrap(),
        ],
        b"",
    )
    .code(0);
    let id = queued(&q).remove(0);
    let got = lines(&log);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(value(&got[0], "event"), Some("attempt"));
    assert_eq!(value(&got[1], "status"), Some("queued"));
    for line in &got {
        assert_eq!(value(line, "id"), Some(id.as_str()), "{line}");
    }
    assert_eq!(value(&got[1], "rcpt"), Some("<b@b.example>,451,queued"));
}
