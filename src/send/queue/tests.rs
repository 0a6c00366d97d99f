use super::*;
use crate::send::notice::Recorded;
use std::io::Read;

use crate::smtp::envelope::test_mailbox as mb;

#[test]
fn only_a_final_refusal_of_the_message_is_not_queued() {
    // Issue 14: what a retry or a fix of the configuration may get past
    // stays queued; a refusal of the message or a recipient does not.
    let cases: [(Error, bool); 9] = [
        (Error::NotSent("refused".into(), 75), true),
        (Error::NotSent("TLS".into(), 77), true),
        (
            Error::Config("password command \"x\": exit status 1".into()),
            true,
        ),
        (
            Error::Security("STARTTLS required, not offered".into()),
            true,
        ),
        (Error::Refused("451 later".into(), 75), true),
        (Error::Refused("550 unknown".into(), 67), false),
        (Error::Message("8-bit".into()), false),
        (Error::Usage("-S".into()), false),
        (
            Error::Partial {
                delivered: 1,
                total: 2,
                err: Box::new(Error::NotSent("x".into(), 75)),
            },
            false,
        ),
    ];
    for (e, queued) in cases {
        assert_eq!(is_queueable(&e), queued, "{e}");
    }
}

#[test]
fn a_5xx_refuses_the_message_only_within_the_transaction() {
    use crate::send::session::Session;
    use crate::send::session::tests::{GREET, message, scripted, session_opts};
    let opts = session_opts(None);
    let cases = [
        // The server will not serve us (yet): queued.
        ("554 5.3.2 no service for you\n", true),
        (
            &format!("{GREET}530 5.7.0 authentication required\n")[..],
            true,
        ),
        (&format!("{GREET}451 4.3.0 later\n"), true),
        // The message refused: never queued (a refusal after DATA comes
        // back as results, each recipient rejected).
        (
            &format!("{GREET}550 5.7.1 sender refused\n503 5.5.1 no MAIL\n"),
            false,
        ),
    ];
    for (script, queued) in cases {
        let (conn, _) = scripted(script);
        let err = Session::start(conn, &opts, crate::send::url::Security::None, "srv", None)
            .and_then(|mut s| s.send(&mut message("b@b.example"), false))
            .expect_err(script);
        assert_eq!(is_queueable(&err), queued, "{script}: {err}");
    }
}

#[test]
fn a_head_reply_is_one_bounded_line_that_shows_nothing_raw() {
    // Line ends, other controls and the bidi override --list must not
    // print raw all become spaces; the rest is kept.
    assert_eq!(
        one_line("451 a\r\nb\tc\u{1b}d\u{202E}e é"),
        "451 a  b c d e é"
    );
    // Cut within the head's line limit, never inside a character.
    let long = "é".repeat(MAX_HEAD_LINE);
    let line = one_line(&long);
    assert_eq!(line.len(), (MAX_HEAD_LINE - 16) / 2 * 2);
    assert!(long.starts_with(&line));
    assert_eq!(
        one_line(&"x".repeat(MAX_HEAD_LINE)).len(),
        MAX_HEAD_LINE - 16
    );
}

#[test]
fn schedule_doubles_with_age() {
    let c = 1_000_000;
    let mut t = c;
    let mut gaps = Vec::new();
    for _ in 0..10 {
        let n = next_attempt(c, t);
        gaps.push((n - t) / 60);
        t = n;
    }
    assert_eq!(gaps, [5, 5, 10, 20, 40, 80, 160, 240, 240, 240]);
    // A clock gone backwards: the shortest wait, no overflow.
    assert_eq!(next_attempt(c, c - 100), c - 100 + MIN_RETRY);
    assert_eq!(next_attempt(u64::MAX - 1, u64::MAX), u64::MAX);
}

#[test]
fn durations() {
    for (s, want) in [
        (DEFAULT_MAX_AGE, 432_000),
        ("36h", 129_600),
        ("90", 90),
        ("2m", 120),
        ("1w", 604_800),
    ] {
        assert_eq!(parse_duration(s), Ok(want), "{s}");
    }
    for bad in ["", "0", "d", "5x", "-1", "1.5h", "99999999999999999999w"] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
    assert_eq!(format_age(40), "40s");
    assert_eq!(format_age(125), "2m5s");
    assert_eq!(format_age(7500), "2h5m");
    assert_eq!(format_age(3 * 86_400 + 4 * 3600), "3d4h");
}

fn head() -> Head {
    Head {
        created: 1_795_721_492,
        from: ReversePath::Mailbox(mb("a@example.org")),
        rcpts: vec![
            mb("b@example.net"),
            mb("\"j d\"@x.example"),
            mb("ü@bücher.example"),
        ],
        reply: "451 4.3.0 try\r\nlater".to_owned(),
    }
}

#[test]
fn head_round_trip_and_exact_format() {
    let mut w = Vec::new();
    write_head(&head(), &mut w).unwrap();
    assert_eq!(
        String::from_utf8(w.clone()).unwrap(),
        "mailpipe-queue 1\ncreated 1795721492\nfrom <a@example.org>\n\
         rcpt <b@example.net>\nrcpt <\"j d\"@x.example>\nrcpt <ü@bücher.example>\n\
         reply 451 4.3.0 try  later\n\n"
    );
    w.extend_from_slice(b"Subject: x\n\nbody\n");
    let (h, off) = read_head(&mut &w[..]).unwrap();
    assert_eq!(h.rcpts, head().rcpts);
    assert_eq!(h.from, head().from);
    assert_eq!(&w[off as usize..], b"Subject: x\n\nbody\n");
    let null = Head {
        from: ReversePath::Null,
        ..head()
    };
    let mut w = Vec::new();
    write_head(&null, &mut w).unwrap();
    assert_eq!(read_head(&mut &w[..]).unwrap().0.from, ReversePath::Null);
}

#[test]
fn hostile_heads_are_errors() {
    let good = "mailpipe-queue 1\ncreated 1\nfrom <a@b>\nrcpt <c@d>\n\n";
    assert!(read_head(&mut good.as_bytes()).is_ok());
    let cases: &[&str] = &[
        "",
        "mailpipe-queue 2\ncreated 1\nfrom <a@b>\nrcpt <c@d>\n\n",
        "garbage\x00\u{ff}",
        "mailpipe-queue 1\ncreated 1\nfrom <a@b>\nrcpt <c@d>\n",
        "mailpipe-queue 1\ncreated x\nfrom <a@b>\nrcpt <c@d>\n\n",
        "mailpipe-queue 1\ncreated 1\nfrom a@b\nrcpt <c@d>\n\n",
        "mailpipe-queue 1\ncreated 1\nfrom <a@b>\n\n",
        "mailpipe-queue 1\ncreated 1\nrcpt <c@d>\n\n",
        "mailpipe-queue 1\ncreated 1\nfrom <a@b>\nrcpt <c@d>\r\nRCPT TO:<e@f>\n\n",
        "mailpipe-queue 1\ncreated 1\nfrom <a@b>\nrcpt <c@d> x\n\n",
        "mailpipe-queue 1\ncreated 99999999999999999999999\nfrom <a@b>\nrcpt <c@d>\n\n",
    ];
    for c in cases {
        assert!(read_head(&mut c.as_bytes()).is_err(), "{c:?}");
    }
    // Unknown keys are for later versions: ignored.
    let later = "mailpipe-queue 1\ncreated 1\nfuture yes\nfrom <a@b>\nrcpt <c@d>\n\n";
    assert!(read_head(&mut later.as_bytes()).is_ok());
    // Limits: a huge line, a huge head, too many recipients.
    let long = format!(
        "mailpipe-queue 1\ncreated 1\nreply {}\n\n",
        "x".repeat(10_000_000)
    );
    assert!(read_head(&mut long.as_bytes()).is_err());
    let mut many = String::from("mailpipe-queue 1\ncreated 1\nfrom <a@b>\n");
    for _ in 0..20_000 {
        many.push_str("rcpt <c@d>\n");
    }
    many.push('\n');
    assert!(read_head(&mut many.as_bytes()).is_err());
}

#[test]
fn state_round_trip() {
    let s = State {
        attempts: 3,
        last: 99,
        reply: "421 bye".to_owned(),
    };
    let mut w = Vec::new();
    write_state(&s, &mut w).unwrap();
    assert_eq!(
        w,
        b"mailpipe-queue-state 1\nattempts 3\nlast 99\nreply 421 bye\n"
    );
    assert_eq!(read_state(&mut &w[..]).unwrap(), s);
    assert!(read_state(&mut &b"mailpipe-queue-state 1\nattempts 3\n"[..]).is_err());
    assert!(read_state(&mut &b""[..]).is_err());
}

#[test]
fn ids() {
    assert!(valid_id("1795721492.123.456.7"));
    for bad in ["", ".", "..", "../x", "a/b", "x.state", ".hidden", "a b"] {
        assert!(!valid_id(bad), "{bad}");
    }
}

/// A short message from a@example.org to `rcpts`, prepared verbatim.
pub(super) fn prepared(rcpts: &[&str]) -> Prepared {
    prepared_text(rcpts, b"Subject: hi\n\nbody\n")
}

/// The message `text` from a@example.org to `rcpts`, prepared verbatim.
fn prepared_text(rcpts: &[&str], text: &[u8]) -> Prepared {
    let opts = PrepareOptions {
        verbatim: true,
        recipients: rcpts.iter().map(|r| mb(r)).collect(),
        from: Some(ReversePath::Mailbox(mb("a@example.org"))),
        hostname: "h".into(),
        ..PrepareOptions::default()
    };
    prepare::prepare(
        Source::Stream(Box::new(io::Cursor::new(text.to_vec()))),
        &opts,
    )
    .unwrap()
}

#[test]
fn only_deferred_recipients_are_queued() {
    use crate::smtp::client::Stage;
    let dir = tempfile::tempdir().unwrap();
    let mut msg = prepared(&["b@x.example", "c@x.example", "d@x.example"]);
    let result =
        |r: &str, st: Status| RcptResult::without_reply(mb(r), st, Stage::Dot, "text", "srv");
    let results = vec![
        result("b@x.example", Status::Delivered),
        result("c@x.example", Status::Deferred),
        result("d@x.example", Status::Delivered),
    ];
    let (rest, _) = after_send(dir.path(), &mut msg, Ok(results), &Recorded::default()).unwrap();
    assert_eq!(outcome::exit_code(&rest), 0);
    let q = Queue::open(dir.path()).unwrap();
    let list = q.entries(false, &mut |_, w| panic!("{w}")).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].head.rcpts, [mb("c@x.example")]);
    // All delivered: nothing queued; a rejected one keeps its exit code.
    let results = vec![
        result("b@x.example", Status::Delivered),
        result("c@x.example", Status::Rejected),
    ];
    let (rest, _) = after_send(dir.path(), &mut msg, Ok(results), &Recorded::default()).unwrap();
    assert_eq!(outcome::exit_code(&rest), 69);
    assert_eq!(q.entries(false, &mut |_, _| {}).unwrap().len(), 1);
    // A permanent error is returned, not queued.
    let e = Error::Message("no".into());
    assert!(after_send(dir.path(), &mut msg, Err(e), &Recorded::default()).is_err());
    assert_eq!(q.entries(false, &mut |_, _| {}).unwrap().len(), 1);
}

#[test]
fn store_list_lock_drop() {
    let dir = tempfile::tempdir().unwrap();
    let q = Queue::open(dir.path()).unwrap();
    let text = b"Subject: hi\n\nFrom me\n.\nbody\n";
    let mut msg = prepared_text(&["b@example.net"], text);
    let id = q
        .store(&mut msg, &[mb("b@example.net")], "451 later", 100)
        .unwrap();
    assert!(id.starts_with("100."));
    let mut warnings = Vec::new();
    fs::write(dir.path().join("junk"), b"not a queue file").unwrap();
    let list = q
        .entries(true, &mut |p, w| {
            warnings.push(format!("{}: {w}", p.display()))
        })
        .unwrap();
    assert_eq!(list.len(), 1, "{warnings:?}");
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("junk"), "{warnings:?}");
    assert_eq!(list[0].state.attempts, 1);
    // Locked once; a second lock (another open file) is refused.
    let Lock::Held(mut l) = q.lock(&id, false).unwrap() else {
        panic!("not locked")
    };
    assert!(matches!(q.lock(&id, false).unwrap(), Lock::Busy));
    let mut again = l.prepare(false).unwrap();
    let mut sent = Vec::new();
    again.reader().read_to_end(&mut sent).unwrap();
    assert_eq!(sent, text);
    // The message shares the lock (a duplicate of the locked handle).
    drop(again);
    l.attempted(&q, "421 busy", 200).unwrap();
    drop(l);
    let list = q.entries(false, &mut |_, _| {}).unwrap();
    assert_eq!((list[0].state.attempts, list[0].state.last), (2, 200));
    assert!(q.drop_message("nope").is_err());
    assert!(q.drop_message(&id).unwrap());
    assert!(q.entries(true, &mut |_, _| {}).unwrap().is_empty());
    assert!(matches!(q.lock(&id, false).unwrap(), Lock::Gone));
}

#[test]
fn list_shows_no_control_character_of_a_queue_file() {
    // Issue 17, finding 4: a queue file written by someone else (or an
    // older version) with ESC, BEL or a bidi override in its reply or in
    // an SMTPUTF8 address reached the terminal through --list.
    let dir = tempfile::tempdir().unwrap();
    let hostile = "mailpipe-queue 1\ncreated 100\nfrom <a\u{202E}b@example.org>\n\
                   rcpt <b@example.net>\nreply 451 \u{1b}[2Jgone\u{7}\n\nbody\n";
    fs::write(dir.path().join("100.1.1.0"), hostile).unwrap();
    fs::write(
        dir.path().join("100.1.1.0.state"),
        "mailpipe-queue-state 1\nattempts 2\nlast 200\nreply 421 \u{1b}]0;title\u{7}\n",
    )
    .unwrap();
    let mut out = Vec::new();
    list(dir.path(), false, &mut out, &Recorded::default()).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("421") && text.contains("title"), "{text:?}");
    assert!(
        !text
            .trim_end()
            .chars()
            .any(|c| c.is_control() || crate::codec::encoded_word::is_bad_control(c)),
        "{text:?}"
    );
}

proptest::proptest! {
    /// Any head we write reads back the same (the reply as one line),
    /// and what follows it is the message, byte for byte.
    #[test]
    fn head_round_trips(
        created in proptest::prelude::any::<u64>(),
        locals in proptest::collection::vec("[a-zA-Z0-9._+-]{1,20}", 1..5),
        domain in "[a-z]{1,10}\\.example",
        reply in "\\PC{0,200}",
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
    ) {
        let rcpts: Vec<Mailbox> = locals
            .iter()
            .filter_map(|l| {
                let path = format!("<{l}@{domain}>");
                envelope::parse_forward_path(&path, true).ok().map(|(m, _)| m)
            })
            .collect();
        proptest::prop_assume!(!rcpts.is_empty());
        let head = Head {
            created,
            from: ReversePath::Mailbox(rcpts[0].clone()),
            rcpts,
            reply,
        };
        let mut w = Vec::new();
        write_head(&head, &mut w).unwrap();
        w.extend_from_slice(&body);
        let (back, off) = read_head(&mut &w[..]).unwrap();
        proptest::prop_assert_eq!(&back.rcpts, &head.rcpts);
        proptest::prop_assert_eq!(&back.from, &head.from);
        proptest::prop_assert_eq!(back.created, head.created);
        proptest::prop_assert_eq!(back.reply, one_line(&head.reply));
        proptest::prop_assert_eq!(&w[off as usize..], &body[..]);
    }
}
