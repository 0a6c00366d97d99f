//! smtp-send's protocol options against real peers on loopback: LMTP
//! (aiosmtpd's LMTP class with per-recipient replies after the message,
//! Postfix smtp-sink -L), DSN (smtp-sink's dump of the MAIL and RCPT
//! arguments, smtp-recv's --envelope-json), BDAT (smtp-recv offers
//! CHUNKING; smtp-sink here does not), --partial and --json with
//! recipients refused (smtp-recv's failure injection), SMTPUTF8
//! (aiosmtpd).
//!
//! Free ports only, loopback only; every process is killed and reaped by a
//! guard; every wait has a deadline.

use crate::peers::*;
use crate::send::send;

const MSG: &[u8] = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: proto\r\n\
Date: Thu, 1 Jan 2026 00:00:00 +0000\r\nMessage-ID: <p@example.org>\r\n\r\nbody\r\n.dot line\r\n";

/// The JSON lines of `--json` output.
fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// `(recipient, status, stage)` of each JSON result.
fn statuses(out: &[u8]) -> Vec<(String, String, String)> {
    json_lines(out)
        .iter()
        .map(|v| {
            (
                v["recipient"].as_str().unwrap_or_default().to_owned(),
                v["status"].as_str().unwrap_or_default().to_owned(),
                v["stage"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// `text` with CRLF turned into LF (as smtp-recv stores messages).
fn lf(text: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(text)
        .replace("\r\n", "\n")
        .into_bytes()
}

fn triple(r: &str, s: &str, st: &str) -> (String, String, String) {
    (r.to_owned(), s.to_owned(), st.to_owned())
}

// ------------------------------------------------------------------ LMTP

#[test]
fn lmtp_per_recipient_replies_after_the_message() {
    let Some(l) = Lmtp::start("lmtp_per_recipient_replies_after_the_message") else {
        return;
    };
    let server = l.server();
    let r = send(
        &[
            "--lmtp",
            "--json",
            "-v",
            "-S",
            &server,
            "ok@example.net",
            "full@example.net",
            "ok2@example.net",
        ],
        MSG,
    );
    // Refused after the message: 69, naming only the refused recipient.
    r.code(69);
    assert!(r.stderr.contains("C: LHLO "), "{}", r.stderr);
    let last = r.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("smtp-send: ")
            && last.contains("full@example.net")
            && last.contains("552")
            && !last.contains("ok@"),
        "{last}"
    );
    assert_eq!(
        statuses(&r.stdout),
        [
            triple("ok@example.net", "delivered", "dot"),
            triple("full@example.net", "rejected", "dot"),
            triple("ok2@example.net", "delivered", "dot"),
        ]
    );
    let v = &json_lines(&r.stdout)[1];
    assert_eq!(
        (v["code"].as_u64(), v["enhanced"].as_str()),
        (Some(552), Some("5.2.2"))
    );
    // Issue 12: the server was labelled smtp:// although it spoke LMTP.
    assert_eq!(v["server"], format!("lmtp://{server}"), "{v}");
    assert_eq!(
        l.delivered(0).expect("message 0"),
        ["ok@example.net", "ok2@example.net"]
    );

    // A temporary refusal after the message: 75 for that recipient.
    let r = send(
        &[
            "--lmtp",
            "--json",
            "-S",
            &server,
            "later@example.net",
            "ok@example.net",
        ],
        MSG,
    );
    r.code(75).one_line_error("smtp-send");
    assert_eq!(
        statuses(&r.stdout),
        [
            triple("later@example.net", "deferred", "dot"),
            triple("ok@example.net", "delivered", "dot"),
        ]
    );

    // Refused at RCPT: nothing sent without --partial (67) ...
    let r = send(
        &[
            "--lmtp",
            "-S",
            &server,
            "nouser@example.net",
            "ok@example.net",
        ],
        MSG,
    );
    r.code(67).one_line_error("smtp-send");
    assert!(l.delivered(2).is_none(), "sent without --partial");
    // ... and with it, the others get it, and the worst code wins.
    let r = send(
        &[
            "--lmtp",
            "--partial",
            "--json",
            "-S",
            &server,
            "nouser@example.net",
            "ok@example.net",
            "full@example.net",
        ],
        MSG,
    );
    r.code(69).one_line_error("smtp-send");
    assert_eq!(
        statuses(&r.stdout),
        [
            triple("nouser@example.net", "rejected", "rcpt"),
            triple("ok@example.net", "delivered", "dot"),
            triple("full@example.net", "rejected", "dot"),
        ]
    );
    assert_eq!(l.delivered(2).expect("message 2"), ["ok@example.net"]);
}

#[test]
fn lmtp_to_postfix_smtp_sink() {
    let Some(s) = Sink::dumping("lmtp_to_postfix_smtp_sink", &["-L"]) else {
        return;
    };
    let r = send(
        &[
            "--lmtp",
            "--json",
            "-S",
            &s.server(),
            "a@example.net",
            "b@example.net",
        ],
        MSG,
    );
    r.code(0);
    assert_eq!(
        statuses(&r.stdout),
        [
            triple("a@example.net", "delivered", "dot"),
            triple("b@example.net", "delivered", "dot"),
        ]
    );
    let d = &s.dumps(1)[0];
    assert!(d.contains("X-Client-Proto: LMTP"), "{d}");
    assert!(d.contains("Subject: proto\n"), "{d}");
}

// ------------------------------------------------------------------- DSN

#[test]
fn dsn_parameters_reach_postfix_smtp_sink() {
    let Some(s) = Sink::dumping("dsn_parameters_reach_postfix_smtp_sink", &[]) else {
        return;
    };
    // The sendmail spellings: -N, -R, -V.
    let r = send(
        &[
            "-S",
            &s.server(),
            "-N",
            "success,failure",
            "-Rhdrs",
            "-V",
            "id+1=x",
            "a@example.net",
            "b@example.net",
        ],
        MSG,
    );
    r.code(0);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let d = &s.dumps(1)[0];
    assert!(
        d.contains("X-Mail-Args: <a@example.org> RET=HDRS ENVID=id+2B1+3Dx\n"),
        "{d}"
    );
    for rcpt in ["a@example.net", "b@example.net"] {
        assert!(
            d.contains(&format!(
                "X-Rcpt-Args: <{rcpt}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;{rcpt}\n"
            )),
            "{d}"
        );
    }
    // Long options; NOTIFY=NEVER.
    let r = send(
        &[
            "-S",
            &s.server(),
            "--notify",
            "never",
            "--ret",
            "full",
            "c@example.net",
        ],
        MSG,
    );
    r.code(0);
    let d = s.dumps(2).join("");
    assert!(
        d.contains("<c@example.net> NOTIFY=NEVER ORCPT=rfc822;c@example.net"),
        "{d}"
    );
}

#[test]
fn dsn_not_offered_is_a_warning() {
    // smtp-sink -N: no DSN in the EHLO reply.
    let Some(s) = Sink::dumping("dsn_not_offered_is_a_warning", &["-N"]) else {
        return;
    };
    let r = send(&["-S", &s.server(), "-N", "failure", "a@example.net"], MSG);
    r.code(0);
    assert!(
        r.stderr.contains("does not offer DSN") && r.stderr.lines().count() == 1,
        "{}",
        r.stderr
    );
    let d = &s.dumps(1)[0];
    assert!(!d.contains("NOTIFY") && !d.contains("ORCPT"), "{d}");
}

#[test]
fn dsn_and_bdat_reach_smtp_recv() {
    let s = Recv::start(&[]);
    let r = send(
        &[
            "-v",
            "-S",
            &s.server(),
            "--notify",
            "delay",
            "--envid",
            "q1",
            "x@example.net",
        ],
        MSG,
    );
    r.code(0);
    // CHUNKING offered: BDAT, no DATA, no dot-stuffing.
    assert!(r.stderr.contains("C: BDAT "), "{}", r.stderr);
    assert!(r.stderr.contains(" LAST\n"), "{}", r.stderr);
    assert!(!r.stderr.contains("C: DATA"), "{}", r.stderr);
    let env = &s.envelopes()[0];
    assert_eq!(env["params"]["mail"]["ENVID"], "q1", "{env}");
    assert_eq!(env["params"]["rcpt"][0]["NOTIFY"], "DELAY", "{env}");
    assert_eq!(
        env["params"]["rcpt"][0]["ORCPT"], "rfc822;x@example.net",
        "{env}"
    );
    let got = &s.messages()[0];
    assert!(got.ends_with(&lf(MSG)), "{}", String::from_utf8_lossy(got));

    // --no-chunking: DATA.
    let r = send(
        &["-v", "--no-chunking", "-S", &s.server(), "y@example.net"],
        MSG,
    );
    r.code(0);
    assert!(
        r.stderr.contains("C: DATA") && !r.stderr.contains("BDAT"),
        "{}",
        r.stderr
    );
    assert!(s.messages()[1].ends_with(&lf(MSG)));
}

#[test]
fn bdat_big_message_in_several_chunks() {
    let s = Recv::start(&[]);
    // 3 MiB of text lines with LF ends and lines starting with dots: sent
    // as CRLF, unstuffed, in chunks of 1 MiB.
    let mut msg = b"From: a@example.org\nSubject: big\n\n".to_vec();
    let mut i = 0u64;
    while msg.len() < 3 << 20 {
        msg.extend_from_slice(format!(".line {i} ").as_bytes());
        msg.extend_from_slice(&[b'x'; 70]);
        msg.push(b'\n');
        i += 1;
    }
    let r = send(
        &["-v", "--verbatim", "-S", &s.server(), "x@example.net"],
        &msg,
    );
    r.code(0);
    let chunks = r.stderr.matches("C: BDAT ").count();
    assert!(chunks >= 3, "{chunks} chunks: {}", r.stderr);
    let got = &s.messages()[0];
    // smtp-recv stores with LF line ends.
    assert!(got.ends_with(&msg), "message changed on the way");
}

#[test]
fn bdat_refused_is_reported_and_nothing_stored() {
    for (spec, code) in [("dot=554 5.7.1 spam", 69), ("dot=451 4.3.0 later", 75)] {
        let s = Recv::start(&["--reply", spec]);
        let r = send(&["--json", "-S", &s.server(), "x@example.net"], MSG);
        r.code(code).one_line_error("smtp-send");
        assert!(s.messages().is_empty(), "{spec}");
        let v = &json_lines(&r.stdout)[0];
        assert_eq!(v["stage"], "dot", "{spec}: {v}");
    }
}

// ------------------------------------------------------ --partial, --json

#[test]
fn partial_delivers_to_the_accepted_and_still_exits_67() {
    let s = Recv::start(&["--reply", "rcpt:bad*=550 5.1.1 no such user"]);
    let server = s.server();
    let args = [
        "--partial",
        "--json",
        "-S",
        &server,
        "good@example.net",
        "bad@example.net",
        "good2@example.net",
    ];
    let r = send(&args, MSG);
    r.code(67).one_line_error("smtp-send");
    assert!(
        r.stderr.contains("bad@example.net")
            && !r.stderr.contains("good")
            && r.stderr.contains("delivered to 2 of 3"),
        "{}",
        r.stderr
    );
    assert_eq!(
        statuses(&r.stdout),
        [
            triple("good@example.net", "delivered", "dot"),
            triple("bad@example.net", "rejected", "rcpt"),
            triple("good2@example.net", "delivered", "dot"),
        ]
    );
    let v = &json_lines(&r.stdout)[1];
    assert_eq!(v["code"], 550);
    assert_eq!(v["enhanced"], "5.1.1");
    assert_eq!(v["text"], "no such user");
    assert_eq!(
        v["server"].as_str().map(|s| s.contains(&server)),
        Some(true)
    );
    assert_eq!(s.messages().len(), 1);
    assert_eq!(
        s.envelopes()[0]["rcpt_to"],
        serde_json::json!(["good@example.net", "good2@example.net"])
    );

    // Without --partial nothing is sent; the others are "not sent".
    let r = send(&args[1..], MSG);
    r.code(67);
    assert_eq!(s.messages().len(), 1);
    let lines = json_lines(&r.stdout);
    assert_eq!(lines[0]["status"], "rejected");
    assert!(lines[0]["code"].is_null());
    assert!(lines[0]["text"].as_str().unwrap().contains("--partial"));

    // A temporary refusal with --partial: 75, the rest delivered.
    let s = Recv::start(&["--reply", "rcpt:bad*=450 4.2.1 busy"]);
    let r = send(
        &[
            "--partial",
            "-S",
            &s.server(),
            "good@example.net",
            "bad@example.net",
        ],
        MSG,
    );
    r.code(75).one_line_error("smtp-send");
    assert_eq!(s.messages().len(), 1);
}

#[test]
fn json_for_every_outcome() {
    // No connection: every recipient deferred, stage connect.
    let port = free_port().to_string();
    let server = format!("127.0.0.1:{port}");
    let r = send(
        &["--json", "-S", &server, "a@example.net", "b@example.net"],
        MSG,
    );
    r.code(75).one_line_error("smtp-send");
    assert_eq!(
        statuses(&r.stdout),
        [
            triple("a@example.net", "deferred", "connect"),
            triple("b@example.net", "deferred", "connect"),
        ]
    );
    // MAIL refused: 69 for all, stage mail.
    let s = Recv::start(&["--reply", "mail=553 5.7.1 sender refused"]);
    let r = send(&["--json", "-S", &s.server(), "a@example.net"], MSG);
    r.code(69).one_line_error("smtp-send");
    assert_eq!(
        statuses(&r.stdout),
        [triple("a@example.net", "rejected", "mail")]
    );
    // --each: one object per recipient and message, with "message".
    let dir = tempfile::tempdir().expect("tempdir");
    let one = dir.path().join("one.eml");
    let two = dir.path().join("two.eml");
    std::fs::write(&one, b"From: a@example.org\nTo: x@example.net\n\none\n").unwrap();
    std::fs::write(
        &two,
        b"From: a@example.org\nTo: bad@example.net, y@example.net\n\ntwo\n",
    )
    .unwrap();
    let s = Recv::start(&["--reply", "rcpt:bad*=550 5.1.1 unknown"]);
    let r = send(
        &[
            "--each",
            "--partial",
            "--json",
            "-S",
            &s.server(),
            one.to_str().unwrap(),
            two.to_str().unwrap(),
        ],
        b"",
    );
    r.code(67).one_line_error("smtp-send");
    let lines = json_lines(&r.stdout);
    assert_eq!(lines.len(), 3, "{}", String::from_utf8_lossy(&r.stdout));
    assert!(lines[0]["message"].as_str().unwrap().ends_with("one.eml"));
    assert_eq!(lines[1]["recipient"], "bad@example.net");
    assert_eq!(lines[1]["status"], "rejected");
    assert_eq!(lines[2]["status"], "delivered");
    assert_eq!(s.messages().len(), 2);
}

#[test]
fn bad_protocol_options_are_usage_errors() {
    for args in [
        &["--notify", "sometimes", "a@example.net"][..],
        &["-N", "never,success", "a@example.net"],
        &["--ret", "body", "a@example.net"],
        &["--envid", "has space\u{7f}", "a@example.net"],
    ] {
        let mut a = vec!["-S", "127.0.0.1:1"];
        a.extend_from_slice(args);
        send(&a, MSG).code(64).one_line_error("smtp-send");
    }
    let long = "x".repeat(101);
    send(
        &["-S", "127.0.0.1:1", "--envid", &long, "a@example.net"],
        MSG,
    )
    .code(64)
    .one_line_error("smtp-send");
    // A lone -V is still --version.
    let r = send(&["-V"], b"");
    r.code(0);
    assert!(r.stdout.starts_with(b"smtp-send "), "{:?}", r.stdout);
}

#[test]
fn aiosmtpd_smtputf8() {
    let Some(s) = Aio::start("aiosmtpd_smtputf8", "plain", None, None) else {
        return;
    };
    let msg = "From: j\u{f6}rg@b\u{fc}cher.example\nSubject: utf8\n\nhi\n".as_bytes();
    send(&["-S", &s.server(), "用户@例子.example"], msg).code(0);
    let (_, env) = s.message(0);
    assert!(env.contains("SMTPUTF8"), "{env}");
    assert!(
        env.contains("\\u7528\\u6237@") || env.contains("用户@"),
        "{env}"
    );
}
