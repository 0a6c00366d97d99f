//! Unit tests of `envelope`.

use super::*;

fn mb(local: &str, domain: &str) -> Mailbox {
    Mailbox {
        local: local.into(),
        domain: domain.into(),
    }
}

/// RFC 5321 §4.1.2 paths: (input, utf8, expected mailbox or error, rest).
#[test]
fn forward_paths() {
    let ok: &[(&str, bool, (&str, &str), &str)] = &[
        ("<a@b>", false, ("a", "b"), ""),
        (
            "<user@example.com> SIZE=1",
            false,
            ("user", "example.com"),
            " SIZE=1",
        ),
        (
            "<first.last@sub.example.org>",
            false,
            ("first.last", "sub.example.org"),
            "",
        ),
        (
            "<!#$%&'*+-/=?^_`{|}~@x>",
            false,
            ("!#$%&'*+-/=?^_`{|}~", "x"),
            "",
        ),
        // Quoted local parts keep their quotes and escapes.
        ("<\"john doe\"@x.org>", false, ("\"john doe\"", "x.org"), ""),
        ("<\"a\\\"b\\\\c\"@x>", false, ("\"a\\\"b\\\\c\"", "x"), ""),
        ("<\"\"@x>", false, ("\"\"", "x"), ""),
        ("<\"a>b@c\"@x>", false, ("\"a>b@c\"", "x"), ""),
        // Address literals.
        ("<u@[192.0.2.1]>", false, ("u", "[192.0.2.1]"), ""),
        (
            "<u@[IPv6:2001:db8::1]>",
            false,
            ("u", "[IPv6:2001:db8::1]"),
            "",
        ),
        ("<u@[ipv6:::1]>", false, ("u", "[ipv6:::1]"), ""),
        (
            "<u@[IPv6:::ffff:192.0.2.1]>",
            false,
            ("u", "[IPv6:::ffff:192.0.2.1]"),
            "",
        ),
        ("<u@[x-tag:stuff]>", false, ("u", "[x-tag:stuff]"), ""),
        ("<u@[001.02.3.255]>", false, ("u", "[001.02.3.255]"), ""),
        // Source routes are accepted and dropped (RFC 5321 §4.1.2, App. C).
        ("<@a,@b.c:u@d>", false, ("u", "d"), ""),
        ("<@a:u@d>", false, ("u", "d"), ""),
        // RFC 5321 §4.1.1.3: <Postmaster> without a domain, any case.
        ("<Postmaster>", false, ("Postmaster", ""), ""),
        ("<postMASTER>", false, ("postMASTER", ""), ""),
        // Domains: digits, hyphens inside.
        ("<u@1-2.x-y.z9>", false, ("u", "1-2.x-y.z9"), ""),
        // RFC 6531: UTF-8 local part and U-labels.
        (
            "<δοκιμή@παράδειγμα.δοκιμή>",
            true,
            ("δοκιμή", "παράδειγμα.δοκιμή"),
            "",
        ),
        ("<\"ü x\"@b>", true, ("\"ü x\"", "b"), ""),
    ];
    for (input, utf8, (l, d), rest) in ok {
        let (m, r) = parse_forward_path(input, *utf8).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!((m, r), (mb(l, d), *rest), "{input}");
    }
    let bad: &[(&str, bool, PathError)] = &[
        (
            "",
            false,
            PathError::Syntax("path must be in angle brackets"),
        ),
        (
            "a@b",
            false,
            PathError::Syntax("path must be in angle brackets"),
        ),
        ("<>", false, PathError::Syntax("empty path")),
        ("<a@b", false, PathError::Syntax("path must end with '>'")),
        (
            "<a>",
            false,
            PathError::Syntax("address must be local@domain"),
        ),
        ("<a@>", false, PathError::Syntax("bad domain")),
        ("<@b>", false, PathError::Syntax("bad source route")),
        ("<a@b.>", false, PathError::Syntax("bad domain")),
        ("<a@.b>", false, PathError::Syntax("bad domain")),
        ("<a@-b>", false, PathError::Syntax("bad domain")),
        ("<a@b->", false, PathError::Syntax("bad domain")),
        (
            "<a@b_c>",
            false,
            PathError::Syntax("path must end with '>'"),
        ),
        (
            "<a@b c>",
            false,
            PathError::Syntax("path must end with '>'"),
        ),
        ("<.a@b>", false, PathError::Syntax("bad local part")),
        ("<a.@b>", false, PathError::Syntax("bad local part")),
        ("<a..b@c>", false, PathError::Syntax("bad local part")),
        (
            "<a b@c>",
            false,
            PathError::Syntax("address must be local@domain"),
        ),
        ("<\"a@b>", false, PathError::Syntax("bad quoted local part")),
        (
            "<\"a\\\u{1}\"@b>",
            false,
            PathError::Syntax("bad quoted local part"),
        ),
        (
            "<\"a\tb\"@c>",
            false,
            PathError::Syntax("bad quoted local part"),
        ),
        (
            "<a@[1.2.3]>",
            false,
            PathError::Syntax("bad address literal"),
        ),
        (
            "<a@[1.2.3.256]>",
            false,
            PathError::Syntax("bad address literal"),
        ),
        (
            "<a@[1.2.3.4.5]>",
            false,
            PathError::Syntax("bad address literal"),
        ),
        (
            "<a@[1234.1.1.1]>",
            false,
            PathError::Syntax("bad address literal"),
        ),
        (
            "<a@[IPv6:1::2::3]>",
            false,
            PathError::Syntax("bad address literal"),
        ),
        (
            "<a@[IPv6:fe80::1%eth0]>",
            false,
            PathError::Syntax("bad address literal"),
        ),
        (
            "<a@[1.2.3.4>",
            false,
            PathError::Syntax("bad address literal"),
        ),
        ("<a@[:x]>", false, PathError::Syntax("bad address literal")),
        (
            "<a@[tag:]>",
            false,
            PathError::Syntax("bad address literal"),
        ),
        ("<@a,u@d>", false, PathError::Syntax("bad source route")),
        ("<@a;u@d>", false, PathError::Syntax("bad source route")),
        ("<@:u@d>", false, PathError::Syntax("bad domain")),
        (
            "<Postmaster>",
            false,
            PathError::Syntax("address must be local@domain"),
        ),
        ("<ü@b>", false, PathError::Utf8NotPermitted),
        ("<a@bü>", false, PathError::Utf8NotPermitted),
        ("<\"ü\"@b>", false, PathError::Utf8NotPermitted),
        (
            "<\"a\\ü\"@b>",
            true,
            PathError::Syntax("bad quoted local part"),
        ),
        (
            "<a\0@b>",
            false,
            PathError::Syntax("address must be local@domain"),
        ),
    ];
    for (input, utf8, want) in bad {
        // "<Postmaster>" is refused only as a reverse path.
        let got = if input.starts_with("<Postmaster>") {
            parse_reverse_path(input, *utf8).map(|_| ())
        } else {
            parse_forward_path(input, *utf8).map(|_| ())
        };
        assert_eq!(got, Err(*want), "{input:?}");
    }
}

/// RFC 5321 §4.5.3.1.1-3 size limits, exactly at and one past each.
#[test]
fn path_limits() {
    let l64 = "a".repeat(64);
    let d = |n: usize| {
        // Labels of 9 'x' plus dots, trimmed to exactly n octets.
        let mut s = "x".repeat(9);
        while s.len() < n {
            s.push_str(".xxxxxxxxx");
        }
        s.truncate(n);
        if s.ends_with('.') {
            s.pop();
            s.push('y');
        }
        s
    };
    assert!(parse_forward_path(&format!("<{l64}@b>"), false).is_ok());
    assert_eq!(
        parse_forward_path(&format!("<a{l64}@b>"), false),
        Err(PathError::LocalTooLong)
    );
    let q = format!("<\"{}\"@b>", "a".repeat(62));
    assert!(parse_forward_path(&q, false).is_ok(), "64 with quotes");
    assert_eq!(
        parse_forward_path(&format!("<\"{}\"@b>", "a".repeat(63)), false),
        Err(PathError::LocalTooLong)
    );
    // Domain 255 alone fits; path "<" + 1 + "@" + 255 + ">" = 259 > 256.
    assert_eq!(d(255).len(), 255);
    assert!(is_domain(&d(255), false));
    assert!(!is_domain(&d(256), false));
    assert_eq!(
        parse_forward_path(&format!("<a@{}>", d(256)), false),
        Err(PathError::DomainTooLong)
    );
    assert_eq!(
        parse_forward_path(&format!("<a@{}>", d(255)), false),
        Err(PathError::PathTooLong)
    );
    // Path exactly 256: "<" + 64 + "@" + 189 + ">".
    let p256 = format!("<{l64}@{}>", d(189));
    assert_eq!(p256.len(), 256);
    assert!(parse_forward_path(&p256, false).is_ok());
    let p257 = format!("<{l64}@{}>", d(190));
    assert_eq!(
        parse_forward_path(&p257, false),
        Err(PathError::PathTooLong)
    );
    // The source route counts toward the path length.
    let routed = format!("<@{}:a@b>", d(252));
    assert_eq!(routed.len(), 259);
    assert_eq!(
        parse_forward_path(&routed, false),
        Err(PathError::PathTooLong)
    );
    // UTF-8 lengths are in octets: 32 two-octet characters = 64 octets.
    assert!(parse_forward_path(&format!("<{}@b>", "é".repeat(32)), true).is_ok());
    assert_eq!(
        parse_forward_path(&format!("<{}@b>", "é".repeat(33)), true),
        Err(PathError::LocalTooLong)
    );
}

#[test]
fn reverse_paths() {
    assert_eq!(parse_reverse_path("<>", false), Ok((ReversePath::Null, "")));
    assert_eq!(
        parse_reverse_path("<> X", false),
        Ok((ReversePath::Null, " X"))
    );
    assert_eq!(
        parse_reverse_path("<@r:a@b>", false),
        Ok((ReversePath::Mailbox(mb("a", "b")), ""))
    );
    assert_eq!(ReversePath::Null.to_string(), "");
    assert_eq!(ReversePath::Mailbox(mb("a", "b")).to_string(), "a@b");
    assert_eq!(mb("Postmaster", "").to_string(), "Postmaster");
    assert_eq!(
        parse_reverse_path("< >", false).map(|_| ()),
        Err(PathError::Syntax("bad local part"))
    );
}

#[test]
fn params() {
    type Case<'a> = (&'a str, bool, &'a [(&'a str, Option<&'a str>)]);
    let ok: &[Case<'_>] = &[
        ("", false, &[]),
        (" ", false, &[]),
        (" SIZE=100", false, &[("SIZE", Some("100"))]),
        (
            " size=100  body=8BITMIME smtputf8 ",
            false,
            &[
                ("SIZE", Some("100")),
                ("BODY", Some("8BITMIME")),
                ("SMTPUTF8", None),
            ],
        ),
        (
            " ORCPT=rfc822;a+40b NOTIFY=SUCCESS,FAILURE",
            false,
            &[
                ("ORCPT", Some("rfc822;a+40b")),
                ("NOTIFY", Some("SUCCESS,FAILURE")),
            ],
        ),
        (" X-1=ü", true, &[("X-1", Some("ü"))]),
        (" 9X", false, &[("9X", None)]),
    ];
    for (input, utf8, want) in ok {
        let got = parse_params(input, *utf8).unwrap_or_else(|e| panic!("{input}: {e}"));
        let want: Vec<(String, Option<String>)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_owned)))
            .collect();
        assert_eq!(got.0, want, "{input:?}");
    }
    let bad: &[(&str, PathError)] = &[
        ("SIZE=1", PathError::Syntax("space expected after path")),
        (" =1", PathError::Syntax("bad parameter keyword")),
        (" -X", PathError::Syntax("bad parameter keyword")),
        (" X_Y", PathError::Syntax("bad parameter keyword")),
        (" SIZE=", PathError::Syntax("empty parameter value")),
        (" A=b=c", PathError::Syntax("bad parameter value")),
        (" A=b\tc", PathError::Syntax("bad parameter value")),
        (" A=\u{7f}", PathError::Syntax("bad parameter value")),
        (" size=1 SIZE=2", PathError::Syntax("duplicate parameter")),
        (" X=ü", PathError::Utf8NotPermitted),
    ];
    for (input, want) in bad {
        assert_eq!(parse_params(input, false), Err(*want), "{input:?}");
    }
    let many: String = (0..=MAX_PARAMS).map(|i| format!(" K{i}")).collect();
    assert_eq!(
        parse_params(&many, false),
        Err(PathError::Syntax("too many parameters"))
    );
    // The same keyword with the same value (smtplib's SMTPUTF8 twice) is
    // one parameter; with another value it is refused.
    let p = parse_params(" SMTPUTF8 smtputf8 BODY=8BITMIME SIZE=1 SIZE=1", false).unwrap();
    assert_eq!(
        p.0,
        [
            ("SMTPUTF8".to_string(), None),
            ("BODY".to_string(), Some("8BITMIME".to_string())),
            ("SIZE".to_string(), Some("1".to_string())),
        ]
    );
    for conflicting in [" A A=1", " A=1 A", " BODY=7BIT BODY=8BITMIME"] {
        assert_eq!(
            parse_params(conflicting, false),
            Err(PathError::Syntax("duplicate parameter")),
            "{conflicting:?}"
        );
    }
    let p = parse_params(" SIZE=1 SMTPUTF8", false).unwrap();
    assert_eq!(p.get("size"), Some(Some("1")));
    assert_eq!(p.get("SMTPUTF8"), Some(None));
    assert_eq!(p.get("BODY"), None);
    assert_eq!(p.to_string(), "SIZE=1 SMTPUTF8");
}

#[test]
fn domains() {
    for (d, utf8, ok) in [
        ("example.com", false, true),
        ("[127.0.0.1]", false, true),
        ("[IPv6:::1]", false, true),
        ("localhost", false, true),
        ("bad_name", false, false),
        ("a b", false, false),
        ("", false, false),
        ("münchen.de", true, true),
        ("münchen.de", false, false),
    ] {
        assert_eq!(is_domain(d, utf8), ok, "{d}");
    }
}

#[test]
fn client_addr_display() {
    let a: SocketAddr = "[::1]:25".parse().unwrap();
    assert_eq!(ClientAddr::Tcp(a).to_string(), "[::1]:25");
    assert_eq!(ClientAddr::Stdio.to_string(), "stdio");
}
