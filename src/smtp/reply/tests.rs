//! Unit tests of `reply`.

use super::*;

#[test]
fn wire_forms() {
    let cases: &[(Reply, bool, &[u8])] = &[
        (
            Reply::new(250, Some((2, 0, 0)), "Ok"),
            true,
            b"250 2.0.0 Ok\r\n",
        ),
        (Reply::new(250, Some((2, 0, 0)), "Ok"), false, b"250 Ok\r\n"),
        (Reply::new(220, None, "mx ESMTP"), true, b"220 mx ESMTP\r\n"),
        (Reply::new(354, None, "End data"), true, b"354 End data\r\n"),
        (Reply::new(334, None, ""), true, b"334 \r\n"),
        (Reply::new(250, Some((2, 0, 0)), ""), true, b"250 2.0.0\r\n"),
        (
            Reply::new(452, Some((4, 5, 3)), "Too many recipients"),
            true,
            b"452 4.5.3 Too many recipients\r\n",
        ),
        // RFC 5321 §4.1.1.1 EHLO response: continuation lines use '-'.
        (
            Reply::multi(
                250,
                None,
                vec!["mx".into(), "PIPELINING".into(), "SIZE 1000".into()],
            ),
            true,
            b"250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
        ),
        // RFC 2034 §3: the enhanced code is on every line.
        (
            Reply::multi(550, Some((5, 1, 1)), vec!["a".into(), "b".into()]),
            true,
            b"550-5.1.1 a\r\n550 5.1.1 b\r\n",
        ),
        (
            Reply::multi(250, None, vec!["".into(), "x".into()]),
            true,
            b"250-\r\n250 x\r\n",
        ),
        // Control characters never reach the wire.
        (
            Reply::new(550, None, "a\r\n250 forged\0"),
            true,
            b"550 a??250 forged?\r\n",
        ),
        (
            Reply::new(550, None, "tab\there"),
            true,
            b"550 tab\there\r\n",
        ),
        (Reply::none(), true, b""),
    ];
    for (reply, enh, want) in cases {
        assert_eq!(
            reply.to_wire(*enh),
            *want,
            "{reply:?}: {:?}",
            String::from_utf8_lossy(want)
        );
    }
}

#[test]
fn classes() {
    for (code, pos, tr, perm) in [
        (250, true, false, false),
        (354, true, false, false),
        (421, false, true, false),
        (554, false, false, true),
    ] {
        let r = Reply::new(code, None, "x");
        assert_eq!(
            (r.is_positive(), r.is_transient(), r.is_permanent()),
            (pos, tr, perm)
        );
    }
    assert!(Reply::none().is_none());
    assert!(!Reply::new(250, None, "").is_none());
}

#[test]
fn display() {
    let r = Reply::multi(250, Some((2, 0, 0)), vec!["a".into(), "b".into()]);
    assert_eq!(r.to_string(), "250-2.0.0 a\n250 2.0.0 b");
}

#[test]
fn enhanced_prefix() {
    assert_eq!(
        split_enhanced("4.3.0 try later"),
        Some(((4, 3, 0), "try later"))
    );
    assert_eq!(split_enhanced("5.1.10"), Some(((5, 1, 10), "")));
    assert_eq!(split_enhanced("5.100.999 x"), Some(((5, 100, 999), "x")));
    for bad in [
        "3.0.0 x",
        "5.1 x",
        "5.1.1.1 x",
        "5.1.1000 x",
        "x.1.1",
        "",
        "try",
        "5..1",
    ] {
        assert_eq!(split_enhanced(bad), None, "{bad}");
    }
}
