use super::*;

use crate::smtp::envelope::test_mailbox as mb;

fn res(code: u16, stage: Stage) -> RcptResult {
    RcptResult::from_reply(
        mb("a@x.org"),
        stage,
        Reply::new(code, Some(((code / 100) as u8, 1, 1)), "text"),
        "mx:25",
    )
}

#[test]
fn exit_codes_highest_wins() {
    use Stage::*;
    for (set, want) in [
        (vec![], 0),
        (vec![(250, Dot), (250, Dot)], 0),
        (vec![(250, Dot), (550, Rcpt)], 67),
        (vec![(550, Rcpt), (554, Dot)], 69),
        (vec![(550, Mail)], 69),
        (vec![(550, Rcpt), (451, Dot), (554, Dot)], 75),
        (vec![(450, Rcpt), (250, Dot)], 75),
    ] {
        let rs: Vec<_> = set.iter().map(|&(c, s)| res(c, s)).collect();
        assert_eq!(exit_code(&rs), want, "{set:?}");
    }
}

#[test]
fn json_fields() {
    let r = res(550, Stage::Rcpt);
    assert_eq!(
        r.json().to_string(),
        r#"{"code":550,"enhanced":"5.1.1","recipient":"a@x.org","server":"mx:25","stage":"rcpt","status":"rejected","text":"text","tls":null}"#
    );
    // The session's protection (issue 12: smtp:// may encrypt unverified).
    for (tls, want, why) in [
        (Protection::None, "none", None),
        (Protection::Verified, "verified", None),
        (
            Protection::Unverified("self-signed".to_owned()),
            "unverified",
            Some("self-signed"),
        ),
    ] {
        let v = RcptResult {
            tls: Some(tls),
            ..r.clone()
        }
        .json();
        assert_eq!(v["tls"], want);
        assert_eq!(v["tls_unverified"].as_str(), why);
    }
    let n = RcptResult::without_reply(
        mb("b@y.org"),
        Status::Deferred,
        Stage::Connect,
        "connection refused",
        "",
    );
    let v = n.json();
    assert!(v["code"].is_null() && v["enhanced"].is_null());
    assert_eq!(v["status"], "deferred");
    assert_eq!(n.exit_code(), 75);
    assert_eq!(n.to_string(), "<b@y.org>: deferred: connection refused");
    assert_eq!(r.to_string(), "<a@x.org>: rejected: 550 5.1.1 text");
}

/// The `--json` stage names are part of the output format (man page).
#[test]
fn json_stage_names() {
    use Stage::*;
    for (stage, want) in [
        (Connect, "connect"),
        (Greeting, "greeting"),
        (Ehlo, "ehlo"),
        (StartTls, "starttls"),
        (Auth, "auth"),
        (Mail, "mail"),
        (Rcpt, "rcpt"),
        (Data, "data"),
        (Dot, "dot"),
        (Rset, "rset"),
        (Quit, "quit"),
    ] {
        assert_eq!(res(550, stage).json()["stage"], want);
    }
}

#[test]
fn all_the_same() {
    let rs = all(
        &[mb("a@x.org"), mb("b@x.org")],
        true,
        Stage::Connect,
        None,
        "refused",
        "h",
    );
    assert_eq!(rs.len(), 2);
    assert_eq!(exit_code(&rs), 75);
}

#[test]
fn summaries() {
    let ok = res(250, Stage::Dot);
    assert_eq!(summary(std::slice::from_ref(&ok)), None);
    let mut bad = res(550, Stage::Rcpt);
    bad.rcpt = mb("bad@x.org");
    let not_sent = RcptResult::without_reply(
        mb("c@x.org"),
        Status::Rejected,
        Stage::Rcpt,
        NOT_SENT,
        "mx:25",
    );
    assert_eq!(
        summary(&[bad.clone(), not_sent]).unwrap(),
        "mx:25: RCPT TO:<bad@x.org> refused: 550 5.1.1 text (message not sent)"
    );
    assert_eq!(
        summary(&[ok, bad]).unwrap(),
        "mx:25: RCPT TO:<bad@x.org> refused: 550 5.1.1 text (delivered to 1 of 2 recipients)"
    );
}

/// D3: every recipient's line reads `<rcpt>: status: reply or why`,
/// with or without a reply (it said "deferred message not sent: ...").
#[test]
fn bug_recipient_line_has_a_colon_after_the_status() {
    let n = RcptResult::without_reply(
        mb("u@b.test"),
        Status::Deferred,
        Stage::Mail,
        "message not sent: the address <u@b.test> needs SMTPUTF8",
        "mx:25",
    );
    assert_eq!(
        n.to_string(),
        "<u@b.test>: deferred: message not sent: the address <u@b.test> needs SMTPUTF8"
    );
    let r = RcptResult::from_reply(
        mb("a@x.org"),
        Stage::Rcpt,
        Reply::new(550, None, "no"),
        "mx",
    );
    assert_eq!(r.to_string(), "<a@x.org>: rejected: 550 no");
    let empty = RcptResult::without_reply(mb("a@x.org"), Status::Deferred, Stage::Mail, "", "");
    assert_eq!(empty.to_string(), "<a@x.org>: deferred");
}
