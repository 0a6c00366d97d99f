//! Trace fields, their dates, and the envelope JSON.

use super::*;
use crate::smtp::envelope::{Mailbox, ReversePath};
use std::time::Duration;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn mb(local: &str, domain: &str) -> Mailbox {
    Mailbox {
        local: local.into(),
        domain: domain.into(),
    }
}

pub(crate) fn envelope() -> Envelope {
    let mut env = Envelope::new(ClientAddr::Tcp("192.0.2.1:40000".parse().unwrap()));
    env.helo = "client.example".into();
    env.mail_from = ReversePath::Mailbox(mb("alice", "example.org"));
    env.rcpt_to = vec![(mb("bob", "example.net"), Params::default())];
    env.protocol = "ESMTP";
    env
}

#[test]
fn dates() {
    // Reference values from `date -u -d @SECS`; the mbox asctime form
    // of the same times is pinned in mailbox::mbox's tests.
    let cases = [
        (0, "Thu, 1 Jan 1970 00:00:00 +0000"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 +0000"),
        (1_703_030_399, "Tue, 19 Dec 2023 23:59:59 +0000"),
        (1_795_721_492, "Thu, 26 Nov 2026 19:31:32 +0000"),
        (4_107_542_400, "Mon, 1 Mar 2100 00:00:00 +0000"),
    ];
    for (secs, rfc) in cases {
        assert_eq!(rfc5322_date(at(secs)), rfc, "{secs}");
    }
    assert_eq!(
        rfc5322_date(UNIX_EPOCH - Duration::from_secs(1)),
        "Wed, 31 Dec 1969 23:59:59 +0000"
    );
}

#[test]
fn trace_exact() {
    let env = envelope();
    let got = trace_header(&env, "mx.example", "1A2B3C", at(1_795_721_492));
    assert_eq!(
        String::from_utf8(got).unwrap(),
        "Return-Path: <alice@example.org>\n\
         Received: from client.example ([192.0.2.1]) by mx.example with ESMTP id 1A2B3C\n\
         \tfor <bob@example.net>; Thu, 26 Nov 2026 19:31:32 +0000\n"
    );
}

#[test]
fn trace_variants() {
    let mut env = envelope();
    env.mail_from = ReversePath::Null;
    env.client = ClientAddr::Stdio;
    env.rcpt_to
        .push((mb("carol", "example.net"), Params::default()));
    env.protocol = "ESMTPSA";
    let got = String::from_utf8(trace_header(&env, "h", "Q", at(0))).unwrap();
    assert_eq!(
        got,
        "Return-Path: <>\n\
         Received: from client.example by h with ESMTPSA id Q;\n\
         \tThu, 1 Jan 1970 00:00:00 +0000\n"
    );
    env.client = ClientAddr::Tcp("[::ffff:10.0.0.1]:1".parse().unwrap());
    assert!(
        String::from_utf8(trace_header(&env, "h", "Q", at(0)))
            .unwrap()
            .contains("([10.0.0.1])")
    );
    env.client = ClientAddr::Tcp("[2001:db8::1]:25".parse().unwrap());
    assert!(
        String::from_utf8(trace_header(&env, "h", "Q", at(0)))
            .unwrap()
            .contains("([IPv6:2001:db8::1])")
    );
}

#[test]
fn trace_never_injects() {
    let mut env = envelope();
    env.helo = "evil\r\nBcc: x@y".into();
    env.mail_from = ReversePath::Mailbox(mb("\"a\nb\"", "x\0y"));
    env.rcpt_to = vec![(mb("\"c\rd\"", "e"), Params::default())];
    let got = trace_header(&env, "h\n", "Q\r", at(0));
    let text = String::from_utf8(got).unwrap();
    for line in text.lines() {
        assert!(
            line.starts_with("Return-Path: ")
                || line.starts_with("Received: ")
                || line.starts_with('\t'),
            "{line:?}"
        );
    }
    assert!(!text.contains('\r') && !text.contains('\0'));
    assert!(text.contains("from evil??Bcc:?x@y"));
}

#[test]
fn trace_folds_long_lines() {
    let mut env = envelope();
    env.helo = "a".repeat(50) + ".example";
    let text = String::from_utf8(trace_header(&env, &"m".repeat(40), "QUEUE", at(0))).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    for line in text.lines() {
        let width = line.chars().count() + if line.starts_with('\t') { 7 } else { 0 };
        assert!(width <= FOLD_AT, "{line:?}");
    }
    // An unbreakable clause longer than a line stays with the name.
    env.helo = "a".repeat(90);
    let text = String::from_utf8(trace_header(&env, "h", "Q", at(0))).unwrap();
    assert!(
        text.contains(&format!("\nReceived: from {}\n", env.helo)),
        "{text}"
    );
}

#[test]
fn json_one_line() {
    let mut env = envelope();
    let stored = Stored {
        location: "/tmp/m".into(),
    };
    let got = envelope_json(&env, 42, &stored, "Q1", None);
    assert_eq!(
        got,
        r#"{"auth_user":null,"client":"192.0.2.1:40000","helo":"client.example","mail_from":"alice@example.org","protocol":"ESMTP","queue_id":"Q1","rcpt_to":["bob@example.net"],"size":42,"stored":"/tmp/m","tls":false}"#
    );
    env.mail_from = ReversePath::Null;
    env.auth_user = Some("u\"\n".into());
    env.tls = true;
    env.mail_params = Params(vec![
        ("BODY".into(), Some("8BITMIME".into())),
        ("SMTPUTF8".into(), None),
    ]);
    env.rcpt_to.push((
        mb("c", "d"),
        Params(vec![("NOTIFY".into(), Some("NEVER".into()))]),
    ));
    let got = envelope_json(&env, 0, &stored, "Q1", None);
    assert!(!got.contains('\n'));
    let v: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(v["mail_from"], "");
    assert_eq!(v["auth_user"], "u\"\n");
    assert_eq!(v["tls"], true);
    assert_eq!(v["params"]["mail"]["BODY"], "8BITMIME");
    assert_eq!(v["params"]["mail"]["SMTPUTF8"], serde_json::Value::Null);
    assert_eq!(v["params"]["rcpt"][0], serde_json::json!({}));
    assert_eq!(v["params"]["rcpt"][1]["NOTIFY"], "NEVER");
}

/// Authentication-Results (RFC 8601): the authserv-id, one resinfo per
/// signature on a line of its own, `dkim=none` without one; values from
/// a hostile signature (quotes, `;`, CR, LF, non-ASCII) are quoted and
/// cleaned, so the field stays one field.
#[test]
fn authentication_results_fields() {
    use crate::message::dkim::verify::{Outcome, Verdict};
    assert_eq!(
        authentication_results("mx.example", &[]),
        b"Authentication-Results: mx.example; dkim=none\n"
    );
    let pass = Verdict {
        domain: "example.org".into(),
        selector: "sel".into(),
        algorithm: "rsa-sha256".into(),
        outcome: Outcome::Pass,
        reason: String::new(),
    };
    let hostile = Verdict {
        domain: "evil.example;\r\nBcc: x@y".into(),
        selector: "a\"b\\c".into(),
        algorithm: "ed25519-sha256".into(),
        outcome: Outcome::Fail,
        reason: "body hash does not match \u{1b}[31m".into(),
    };
    let got = String::from_utf8(authentication_results("mx.example", &[pass, hostile])).unwrap();
    assert_eq!(
        got,
        "Authentication-Results: mx.example;\n\
         \tdkim=pass header.d=example.org header.s=sel header.a=rsa-sha256;\n\
         \tdkim=fail header.d=\"evil.example;??Bcc: x@y\" header.s=\"a\\\"b\\\\c\" \
         header.a=ed25519-sha256 reason=\"body hash does not match ?[31m\"\n"
    );
    // Every line after the first is a continuation: no new field.
    assert!(got.lines().skip(1).all(|l| l.starts_with('\t')));
    let long = Verdict {
        domain: "d".repeat(10_000),
        ..Verdict {
            domain: String::new(),
            selector: "s".into(),
            algorithm: "x".into(),
            outcome: Outcome::PermError,
            reason: String::new(),
        }
    };
    assert!(authentication_results("mx", &[long]).len() < 400);
}

/// The results go after Return-Path, above Received (RFC 8601 §5).
#[test]
fn results_go_between_return_path_and_received() {
    let mut trace = trace_header(&envelope(), "mx.example", "Q1", at(0));
    add_results(&mut trace, authentication_results("mx.example", &[]));
    let text = String::from_utf8(trace).unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(['\t', ' ']))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(names, ["Return-Path", "Authentication-Results", "Received"]);
}
