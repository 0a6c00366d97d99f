//! Unit tests of `reply`: client_tests.

use super::*;
use std::io::BufReader;

fn read(bytes: &[u8]) -> Result<Reply, ReplyError> {
    read_reply(&mut BufReader::with_capacity(3, bytes))
}

#[test]
fn replies() {
    let cases: &[(&[u8], Reply)] = &[
        (b"220 mx ESMTP\r\n", Reply::new(220, None, "mx ESMTP")),
        (b"250\r\n", Reply::new(250, None, "")),
        (b"250 \r\n", Reply::new(250, None, "")),
        // A bare LF ends a line too.
        (b"250 ok\n", Reply::new(250, None, "ok")),
        // RFC 5321 §4.2.1 multi-line.
        (
            b"250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
            Reply::multi(
                250,
                None,
                vec!["mx".into(), "PIPELINING".into(), "SIZE 1000".into()],
            ),
        ),
        (
            b"250-\r\n250 x\r\n",
            Reply::multi(250, None, vec!["".into(), "x".into()]),
        ),
        // RFC 2034 §3: the enhanced code on every line is taken out.
        (
            b"550-5.1.1 a\r\n550 5.1.1 b\r\n",
            Reply::multi(550, Some((5, 1, 1)), vec!["a".into(), "b".into()]),
        ),
        (b"250 2.0.0\r\n", Reply::new(250, Some((2, 0, 0)), "")),
        // Class must match the code; 3xx never has one (RFC 3463 §3.1).
        (b"250 5.0.0 odd\r\n", Reply::new(250, None, "5.0.0 odd")),
        (b"334 2.0.0\r\n", Reply::new(334, None, "2.0.0")),
        (
            b"334 VXNlcm5hbWU6\r\n",
            Reply::new(334, None, "VXNlcm5hbWU6"),
        ),
        // Control characters never survive; bad UTF-8 is replaced.
        (
            b"550 a\x1bb\tc\xff\r\n",
            Reply::new(550, None, "a?b\tc\u{fffd}"),
        ),
    ];
    for (wire, want) in cases {
        assert_eq!(
            &read(wire).unwrap(),
            want,
            "{:?}",
            String::from_utf8_lossy(wire)
        );
    }
    // Round trip with the server's wire form.
    let r = Reply::multi(550, Some((5, 7, 1)), vec!["x".into(), "y z".into()]);
    assert_eq!(read(&r.to_wire(true)).unwrap(), r);
    assert_eq!(r.text(), "x y z");
}

#[test]
fn leaves_the_next_reply_alone() {
    let mut input = BufReader::with_capacity(5, &b"250-a\r\n250 b\r\n354 go\r\n"[..]);
    assert_eq!(read_reply(&mut input).unwrap().code, 250);
    assert_eq!(read_reply(&mut input).unwrap().code, 354);
    assert!(matches!(read_reply(&mut input), Err(ReplyError::Io(_))));
}

#[test]
fn hostile_replies() {
    // 100 lines are fine, 101 are not; 10,000 stop at 101.
    let ok = [b"250-x\r\n".repeat(99), b"250 y\r\n".to_vec()].concat();
    assert_eq!(read(&ok).unwrap().lines.len(), 100);
    let over = [b"250-x\r\n".repeat(100), b"250 y\r\n".to_vec()].concat();
    assert!(matches!(read(&over), Err(ReplyError::TooLong)));
    let mut endless = BufReader::new(std::io::repeat(b'x'));
    let lines = b"250-x\r\n".repeat(10_000);
    assert!(matches!(read(&lines), Err(ReplyError::TooLong)));
    // One line of 8192 octets with its CRLF passes; longer does not,
    // and an endless line stops at the limit.
    let line = |n: usize| [b"250 ".to_vec(), vec![b'a'; n - 6], b"\r\n".to_vec()].concat();
    assert!(read(&line(8192)).is_ok());
    assert!(matches!(read(&line(8193)), Err(ReplyError::TooLong)));
    assert!(matches!(read(&line(1 << 20)), Err(ReplyError::TooLong)));
    // An endless line is too long before it can be judged.
    assert!(matches!(read_reply(&mut endless), Err(ReplyError::TooLong)));
    let mut endless = BufReader::new(std::io::repeat(b'2'));
    assert!(matches!(read_reply(&mut endless), Err(ReplyError::TooLong)));
    let mut endless = BufReader::new(std::io::Read::chain(&b"250 "[..], std::io::repeat(b'a')));
    assert!(matches!(read_reply(&mut endless), Err(ReplyError::TooLong)));
    for bad in [
        &b"250-a\r\n251 b\r\n"[..],
        b"2500 x\r\n",
        b"25\r\n",
        b"\r\n",
        b"abc def\r\n",
        b"160 x\r\n",
        b"260 x\r\n",
        b"250_x\r\n",
    ] {
        assert!(
            matches!(read(bad), Err(ReplyError::Malformed(_))),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // Truncated: the connection closed.
    for cut in [&b""[..], b"250", b"250-a\r\n", b"250 x"] {
        match read(cut) {
            Err(ReplyError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
            other => panic!("{cut:?}: {other:?}"),
        }
    }
}

#[test]
fn raw_lines_for_the_transcript() {
    let mut seen = Vec::new();
    let r = read_reply_with(&mut &b"250-2.0.0 a\r\n250 2.0.0 b\n"[..], |l| {
        seen.push(l.to_vec())
    })
    .unwrap();
    assert_eq!(seen, [b"250-2.0.0 a".to_vec(), b"250 2.0.0 b".to_vec()]);
    assert_eq!(r.lines, ["a", "b"]);
}
