//! Unit tests of `command`.

use super::*;

fn mb(local: &str, domain: &str) -> Mailbox {
    Mailbox {
        local: local.into(),
        domain: domain.into(),
    }
}

fn params(p: &[(&str, Option<&str>)]) -> Params {
    Params(
        p.iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_owned)))
            .collect(),
    )
}

#[test]
fn valid_commands() {
    use Command::*;
    let cases: Vec<(&[u8], Command)> = vec![
        (b"HELO client.example", Helo("client.example".into())),
        (b"helo x", Helo("x".into())),
        (b"EHLO [192.0.2.1]", Ehlo("[192.0.2.1]".into())),
        (b"eHlO  x  ", Ehlo("x".into())),
        (b"EHLO x\r", Ehlo("x".into())),
        (
            b"MAIL FROM:<a@b>",
            Mail {
                from: ReversePath::Mailbox(mb("a", "b")),
                params: Params::default(),
            },
        ),
        (
            b"mail from:<>",
            Mail {
                from: ReversePath::Null,
                params: Params::default(),
            },
        ),
        (
            b"MAIL FROM: <a@b> SIZE=10 BODY=8BITMIME",
            Mail {
                from: ReversePath::Mailbox(mb("a", "b")),
                params: params(&[("SIZE", Some("10")), ("BODY", Some("8BITMIME"))]),
            },
        ),
        (
            b"MAIL FROM:<@r1,@r2:\"x y\"@[IPv6:::1]> smtputf8",
            Mail {
                from: ReversePath::Mailbox(mb("\"x y\"", "[IPv6:::1]")),
                params: params(&[("SMTPUTF8", None)]),
            },
        ),
        (
            b"RCPT TO:<Postmaster>",
            Rcpt {
                to: mb("Postmaster", ""),
                params: Params::default(),
            },
        ),
        (
            b"Rcpt To:<u@d> NOTIFY=NEVER ORCPT=rfc822;u@d",
            Rcpt {
                to: mb("u", "d"),
                params: params(&[("NOTIFY", Some("NEVER")), ("ORCPT", Some("rfc822;u@d"))]),
            },
        ),
        (b"DATA", Data),
        (b"data ", Data),
        (
            b"BDAT 0 LAST",
            Bdat {
                size: 0,
                last: true,
            },
        ),
        (
            b"bdat 1000",
            Bdat {
                size: 1000,
                last: false,
            },
        ),
        (
            b"BDAT 007 last",
            Bdat {
                size: 7,
                last: true,
            },
        ),
        (
            b"BDAT 18446744073709551615",
            Bdat {
                size: u64::MAX,
                last: false,
            },
        ),
        (b"RSET", Rset),
        (b"NOOP", Noop),
        (b"noop anything at all", Noop),
        (b"QUIT", Quit),
        (b"VRFY someone", Vrfy("someone".into())),
        (b"EXPN list", Expn("list".into())),
        (b"HELP", Help),
        (b"HELP MAIL", Help),
        (b"STARTTLS", StartTls),
        (b"starttls", StartTls),
        (
            b"AUTH plain",
            Auth {
                mechanism: "PLAIN".into(),
                initial: None,
            },
        ),
        (
            b"AUTH PLAIN AHVzZXIAcGFzcw==",
            Auth {
                mechanism: "PLAIN".into(),
                initial: Some("AHVzZXIAcGFzcw==".into()),
            },
        ),
        (
            b"AUTH CRAM-MD5",
            Auth {
                mechanism: "CRAM-MD5".into(),
                initial: None,
            },
        ),
        (
            b"AUTH LOGIN =",
            Auth {
                mechanism: "LOGIN".into(),
                initial: Some("=".into()),
            },
        ),
        (b"TURN", NotImplemented("TURN")),
        (b"send FROM:<a@b>", NotImplemented("SEND")),
        (b"SOML", NotImplemented("SOML")),
        (b"saml x", NotImplemented("SAML")),
    ];
    for (line, want) in cases {
        let got = parse(line, false);
        assert_eq!(got, Ok(want), "{:?}", String::from_utf8_lossy(line));
    }
}

#[test]
fn invalid_commands() {
    use CommandError::*;
    let cases: &[(&[u8], CommandError)] = &[
        (b"", Unknown),
        (b"   ", Unknown),
        (b" HELO x", Unknown),
        (b"FOO", Unknown),
        (b"ETRN x", Unknown),
        (b"MAIL1 FROM:<a@b>", Unknown),
        (b"\xffHELO", Unknown),
        (b"HELO", Syntax("Syntax: HELO hostname")),
        (b"HELO ", Syntax("Syntax: HELO hostname")),
        (b"EHLO a b", Syntax("Syntax: EHLO hostname")),
        (b"EHLO a\0", Syntax("Syntax: EHLO hostname")),
        (b"EHLO a\rb", Syntax("Syntax: EHLO hostname")),
        (b"EHLO \xff", Syntax("Syntax: EHLO hostname")),
        (b"MAIL", Syntax("Syntax: MAIL FROM:<address> [parameters]")),
        (
            b"MAIL TO:<a@b>",
            Syntax("Syntax: MAIL FROM:<address> [parameters]"),
        ),
        (
            b"MAIL FROM<a@b>",
            Syntax("Syntax: MAIL FROM:<address> [parameters]"),
        ),
        (
            b"MAIL FROM:<a@b>\x01",
            Syntax("Syntax: MAIL FROM:<address> [parameters]"),
        ),
        (
            b"MAIL FROM:<a\n@b>",
            Syntax("Syntax: MAIL FROM:<address> [parameters]"),
        ),
        (
            b"MAIL FROM:a@b",
            BadSender(PathError::Syntax("path must be in angle brackets")),
        ),
        (
            b"MAIL FROM:",
            BadSender(PathError::Syntax("path must be in angle brackets")),
        ),
        (
            b"MAIL FROM:<a@b>SIZE=1",
            BadParams(PathError::Syntax("space expected after path")),
        ),
        (
            b"MAIL FROM:<a@b> SIZE=",
            BadParams(PathError::Syntax("empty parameter value")),
        ),
        (b"RCPT TO:<>", BadRecipient(PathError::Syntax("empty path"))),
        (
            b"RCPT FROM:<a@b>",
            Syntax("Syntax: RCPT TO:<address> [parameters]"),
        ),
        (
            b"RCPT TO:<a@b> A A=1",
            BadParams(PathError::Syntax("duplicate parameter")),
        ),
        (b"DATA x", Syntax("Syntax: DATA")),
        (b"RSET x", Syntax("Syntax: RSET")),
        (b"QUIT now", Syntax("Syntax: QUIT")),
        (
            b"STARTTLS x",
            Syntax("Syntax error (no parameters allowed)"),
        ),
        (b"VRFY", Syntax("Syntax: VRFY address")),
        (b"EXPN", Syntax("Syntax: EXPN list")),
        (b"BDAT", Syntax("Syntax: BDAT size [LAST]")),
        (b"BDAT x", Syntax("Syntax: BDAT size [LAST]")),
        (b"BDAT -1", Syntax("Syntax: BDAT size [LAST]")),
        (b"BDAT 1 FIRST", Syntax("Syntax: BDAT size [LAST]")),
        (b"BDAT 1 LAST x", Syntax("Syntax: BDAT size [LAST]")),
        (
            b"BDAT 18446744073709551616",
            Syntax("Syntax: BDAT size [LAST]"),
        ),
        (b"AUTH", Syntax("Syntax: AUTH mechanism [initial-response]")),
        (
            b"AUTH PL@IN",
            Syntax("Syntax: AUTH mechanism [initial-response]"),
        ),
        (
            b"AUTH ABCDEFGHIJKLMNOPQRSTU",
            Syntax("Syntax: AUTH mechanism [initial-response]"),
        ),
        (
            b"AUTH PLAIN a b",
            Syntax("Syntax: AUTH mechanism [initial-response]"),
        ),
        (
            b"AUTH PLAIN \xc3\xa9",
            Syntax("Syntax: AUTH mechanism [initial-response]"),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(
            parse(line, false),
            Err(*want),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

/// RFC 6531 §3.4: UTF-8 paths only with SMTPUTF8 allowed and, on MAIL,
/// the SMTPUTF8 parameter.
#[test]
fn smtputf8() {
    let utf8_mail = "MAIL FROM:<jösé@exämple.org> SMTPUTF8".as_bytes();
    assert!(matches!(parse(utf8_mail, true), Ok(Command::Mail { .. })));
    assert_eq!(
        parse(utf8_mail, false),
        Err(CommandError::BadSender(PathError::Utf8NotPermitted))
    );
    let no_param = "MAIL FROM:<jösé@exämple.org>".as_bytes();
    assert_eq!(
        parse(no_param, true),
        Err(CommandError::BadSender(PathError::Utf8NotPermitted))
    );
    let rcpt = "RCPT TO:<δ@δ.gr>".as_bytes();
    assert!(matches!(parse(rcpt, true), Ok(Command::Rcpt { .. })));
    assert_eq!(
        parse(rcpt, false),
        Err(CommandError::BadRecipient(PathError::Utf8NotPermitted))
    );
    assert_eq!(
        parse("RCPT TO:<a@b> X=é".as_bytes(), false),
        Err(CommandError::BadParams(PathError::Utf8NotPermitted))
    );
    // UTF-8 in EHLO is accepted (IDN U-labels), invalid UTF-8 is not.
    assert_eq!(
        parse("EHLO münchen.de".as_bytes(), false),
        Ok(Command::Ehlo("münchen.de".into()))
    );
}

/// RFC 5321 §4.5.3.1.4: 512 octets with CRLF, i.e. 510 without.
#[test]
fn line_limits() {
    let noop = |n: usize| {
        let mut l = b"NOOP ".to_vec();
        l.resize(n, b'x');
        l
    };
    assert_eq!(parse(&noop(510), false), Ok(Command::Noop));
    assert_eq!(parse(&noop(511), false), Err(CommandError::TooLong));
    let mail = |n: usize| {
        let mut l = b"MAIL FROM:<a@b>".to_vec();
        l.resize(n, b' ');
        l.extend_from_slice(b" X");
        l
    };
    assert!(parse(&mail(MAX_MAIL_LINE - 4), false).is_ok());
    assert_eq!(
        parse(&mail(MAX_MAIL_LINE - 3), false),
        Err(CommandError::TooLong)
    );
    let auth = |n: usize| {
        let mut l = b"AUTH PLAIN ".to_vec();
        l.resize(n, b'A');
        l
    };
    assert!(parse(&auth(MAX_LINE - 2), false).is_ok());
    assert_eq!(
        parse(&auth(MAX_LINE - 1), false),
        Err(CommandError::TooLong)
    );
    assert_eq!(
        parse(&vec![b'x'; 100_000], false),
        Err(CommandError::TooLong)
    );
}

/// Error replies, byte-exact.
#[test]
fn error_replies() {
    let cases: &[(CommandError, &[u8])] = &[
        (
            CommandError::Unknown,
            b"500 5.5.2 Error: command not recognized\r\n",
        ),
        (CommandError::TooLong, b"500 5.5.2 Error: line too long\r\n"),
        (
            CommandError::Syntax("Syntax: QUIT"),
            b"501 5.5.4 Syntax: QUIT\r\n",
        ),
        (
            CommandError::BadSender(PathError::PathTooLong),
            b"501 5.1.7 Bad sender address syntax: path too long\r\n",
        ),
        (
            CommandError::BadRecipient(PathError::Syntax("bad domain")),
            b"501 5.1.3 Bad recipient address syntax: bad domain\r\n",
        ),
        (
            CommandError::BadRecipient(PathError::Utf8NotPermitted),
            b"553 5.6.7 Non-ASCII addresses not permitted for that recipient\r\n",
        ),
        (
            CommandError::BadSender(PathError::Utf8NotPermitted),
            b"553 5.6.7 Non-ASCII addresses not permitted for that sender\r\n",
        ),
        (
            CommandError::BadParams(PathError::Syntax("duplicate parameter")),
            b"501 5.5.4 Bad parameters: duplicate parameter\r\n",
        ),
    ];
    for (e, want) in cases {
        assert_eq!(e.reply().to_wire(true), *want, "{e:?}");
    }
}

/// Display is the wire form, and parsing it gives the same command.
#[test]
fn display_round_trip() {
    let lines: &[&str] = &[
        "HELO x",
        "EHLO [1.2.3.4]",
        "MAIL FROM:<>",
        "MAIL FROM:<\"a b\"@c> SIZE=5 BODY=7BIT",
        "RCPT TO:<Postmaster>",
        "RCPT TO:<a@b> NOTIFY=SUCCESS,DELAY",
        "DATA",
        "BDAT 5 LAST",
        "BDAT 0",
        "RSET",
        "NOOP",
        "QUIT",
        "VRFY x y",
        "EXPN x",
        "HELP",
        "STARTTLS",
        "AUTH PLAIN",
        "AUTH LOGIN dXNlcg==",
        "TURN",
    ];
    for line in lines {
        let c = parse(line.as_bytes(), false).unwrap();
        assert_eq!(c.to_string(), *line);
    }
    let routed = parse(b"MAIL FROM:<@x:a@b>", false).unwrap();
    assert_eq!(routed.to_string(), "MAIL FROM:<a@b>");
}
