//! What smtp-send does with what the server answers: every refusal and
//! disconnect (smtp-recv's failure injection, Postfix smtp-sink's) gets its
//! documented exit code and one line; SIZE checked before DATA; more
//! recipients than the server takes at once; PIPELINING; QUIT after a
//! failure.
//!
//! Free ports only, loopback only; every process is killed and reaped by a
//! guard; every wait has a deadline.

use crate::peers::*;
use crate::send::{MSG, send, send_env};
use crate::util::*;

#[test]
fn recv_injected_failures_give_the_documented_codes() {
    let cases: &[(&str, i32, &str)] = &[
        (
            "rcpt:bad*=550 no such user",
            67,
            "RCPT TO:<bad@example.net> refused: 550",
        ),
        ("rcpt:bad*=450 try later", 75, "450"),
        ("mail=553 sender refused", 69, "553"),
        ("dot=451 later", 75, "451"),
        ("dot=554 spam", 69, "554"),
        ("data=554 no", 69, "554"),
        ("connect=554 go away", 69, "554"),
        ("helo=421 closing", 75, "421"),
    ];
    for (spec, code, text) in cases {
        let s = Recv::start(&["--reply", spec]);
        let r = send(
            &["-S", &s.server(), "good@example.net", "bad@example.net"],
            MSG,
        );
        r.code(*code).one_line_error("smtp-send");
        assert!(
            r.stderr.contains(text) && r.stderr.contains(&s.server()),
            "{spec}: {}",
            r.stderr
        );
        assert!(s.untraced().is_empty(), "{spec}: stored something");
    }
    // Both refused recipients are listed, nothing is sent.
    let s = Recv::start(&["--reply", "rcpt:bad*=550 unknown"]);
    let r = send(
        &[
            "-S",
            &s.server(),
            "bad1@example.net",
            "ok@example.net",
            "bad2@example.net",
        ],
        MSG,
    );
    r.code(67);
    assert!(
        r.stderr.contains("bad1@") && r.stderr.contains("bad2@") && !r.stderr.contains("ok@"),
        "{}",
        r.stderr
    );
}

#[test]
fn recv_disconnects_are_temporary() {
    for stage in ["rcpt", "data", "dot"] {
        let s = Recv::start(&["--disconnect", stage]);
        send(&["-S", &s.server(), "x@example.net"], MSG)
            .code(75)
            .one_line_error("smtp-send");
    }
}

#[test]
fn recv_size_limit_is_checked_before_data() {
    let s = Recv::start(&["--max-size", "100"]);
    let r = send(&["-S", &s.server(), "x@example.net"], MSG);
    r.code(65);
    assert!(r.stderr.contains("SIZE"), "{}", r.stderr);
}

#[test]
fn bug_more_recipients_than_the_server_takes_at_once() {
    // With more recipients than the server's limit, smtp-send got 452s and
    // exited 75 forever. RFC 5321 §4.5.3.1.10: deliver to those accepted,
    // then new transactions for the rest, on the same connection.
    let s = Recv::start(&["--max-rcpts", "10"]);
    let rcpts: Vec<String> = (0..25).map(|i| format!("r{i}@example.net")).collect();
    let server = s.server();
    let mut args = vec!["-v", "-S", &server];
    args.extend(rcpts.iter().map(String::as_str));
    let r = send(&args, MSG);
    r.code(0);
    assert_eq!(r.stderr.matches("C: MAIL FROM").count(), 3, "{}", r.stderr);
    assert_eq!(r.stderr.matches("=== connected").count(), 1, "{}", r.stderr);
    assert_eq!(s.untraced(), vec![MSG.to_vec(); 3]);
    let mut got = Vec::new();
    let mut sizes = Vec::new();
    for v in s.envelopes() {
        let list = v["rcpt_to"].as_array().expect("rcpt_to");
        sizes.push(list.len());
        got.extend(list.iter().map(|a| a.as_str().expect("address").to_owned()));
    }
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(got, rcpts);
}

#[test]
fn bug_quit_after_failures() {
    // After a refused transaction or a failed AUTH the connection was
    // dropped without QUIT (RFC 5321 §4.1.1.10).
    let ends_with_quit = |r: &Run| {
        let tail: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("C: ")).collect();
        assert_eq!(tail.last(), Some(&"C: QUIT"), "{}", r.stderr);
        assert!(r.stderr.contains("S: 221"), "{}", r.stderr);
    };
    for (spec, code) in [
        ("rcpt=550 no", 67),
        ("mail=451 later", 75),
        ("dot=554 spam", 69),
        ("helo=550 go away", 69),
        ("connect=554 no service", 69),
    ] {
        let s = Recv::start(&["--reply", spec]);
        let r = send(&["-v", "-S", &s.server(), "x@example.net"], MSG);
        r.code(code);
        ends_with_quit(&r);
    }
    // A wrong password; AUTH not offered.
    let dir = tempfile::tempdir().expect("tempdir");
    let users = write_file(dir.path(), "users", b"me:s3cret\n");
    let s = Recv::start(&["--auth-file", users.to_str().unwrap(), "--auth-insecure"]);
    let args = [
        "-v",
        "-S",
        &s.server(),
        "--user",
        "me",
        "--insecure-auth",
        "x@example.net",
    ];
    let r = send_env(&args, &[("SMTP_PASSWORD", "wrong")], MSG);
    r.code(77);
    ends_with_quit(&r);
    let s = Recv::start(&[]);
    let args = ["-v", "-S", &s.server(), "--user", "me", "x@example.net"];
    let r = send_env(&args, &[("SMTP_PASSWORD", "x")], MSG);
    r.code(77);
    ends_with_quit(&r);
}

#[test]
fn sink_pipelining_and_injected_failures() {
    let t = "sink_pipelining_and_injected_failures";
    let cases: &[(&[&str], i32)] = &[
        (&[], 0),
        (&["-f", "EHLO"], 0), // EHLO refused with 500: HELO fallback
        (&["-r", "RCPT"], 75),
        (&["-f", "RCPT"], 67),
        (&["-r", "MAIL"], 75),
        (&["-f", "MAIL"], 69),
        (&["-r", "DATA"], 75),
        (&["-f", "."], 69),
        (&["-r", "."], 75),
        (&["-Q", "RCPT"], 75), // 421 and close
        (&["-q", "DATA"], 75), // close without a word
        (&["-f", "CONNECT"], 69),
        (&["-8"], 65), // 8-bit message, no 8BITMIME
    ];
    let eight = "From: a@example.org\n\nd\u{e9}j\u{e0}\n".as_bytes();
    for (opts, code) in cases {
        let Some(s) = Sink::start(t, opts) else {
            return;
        };
        let msg = if opts == &["-8"] { eight } else { MSG };
        let r = send(
            &["-S", &s.server(), "-v", "x@example.net", "y@example.net"],
            msg,
        );
        r.code(*code);
        if *code != 0 {
            let errors: Vec<&str> = r
                .stderr
                .lines()
                .filter(|l| l.starts_with("smtp-send: "))
                .collect();
            assert_eq!(errors.len(), 1, "{opts:?}: {}", r.stderr);
        }
        if opts.is_empty() {
            // PIPELINING: MAIL and both RCPTs go before the first reply.
            let t = &r.stderr;
            let mail = t.find("C: MAIL").expect("MAIL");
            let rcpt2 = t.find("C: RCPT TO:<y@").expect("RCPT");
            let first_reply = t[mail..].find("S: ").expect("reply") + mail;
            assert!(rcpt2 < first_reply, "not pipelined: {t}");
        }
    }
}
