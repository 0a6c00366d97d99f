//! mime-qp: round trips through the binary, real peers (qprint, Python's
//! binascii/quopri) both ways, malformed and hostile input, exit codes.
//!
//! Peer peculiarities found here (so the tests do not trip on them):
//! - `qprint -e` writes CRLF line ends, and ends input without a final line
//!   end with a soft break (`abc=\r\n`); it treats a bare CR as a line end,
//!   so its text mode cannot carry CRs (we use `-b` for binary data).
//! - `qprint -d` writes LF for hard breaks and exits 1 on `=ZZ`.
//! - Python's `quopri.encodestring` (binascii `b2a_qp`) keeps lines at 76,
//!   but `python3 -m quopri` (the pure-Python `quopri.encode`) writes up to
//!   78 (a 76-character line plus `=20`); `b2a_qp` text mode keeps CR LF raw,
//!   so binary data needs `istext=False`. `quopri.decodestring`
//!   (`a2b_qp`) keeps CRLF line ends and does not delete trailing whitespace.

use std::io::Write;
use std::process::Command;

use crate::peers::peer;
use crate::util::*;

const QP: &str = "mime-qp";

/// Python's decoder: binascii.a2b_qp behind quopri.decodestring.
const PY_DECODE: &str =
    "import quopri,sys; sys.stdout.buffer.write(quopri.decodestring(sys.stdin.buffer.read()))";
/// Python's text encoder (LF line ends kept, 76 columns).
const PY_ENCODE_TEXT: &str =
    "import quopri,sys; sys.stdout.buffer.write(quopri.encodestring(sys.stdin.buffer.read()))";
/// Python's binary encoder (CR and LF encoded).
const PY_ENCODE_BINARY: &str = "import binascii,sys; \
    sys.stdout.buffer.write(binascii.b2a_qp(sys.stdin.buffer.read(), istext=False))";

/// Pseudo-random text with LF line ends: lines of 0-150 columns from an
/// alphabet that stresses the rules (spaces, tabs, '=', '.', "From ", UTF-8,
/// controls), some with trailing whitespace, last line without LF.
fn text(len: usize, seed: u64) -> Vec<u8> {
    let words: [&[u8]; 12] = [
        b"the",
        b"From ",
        b".",
        b"=",
        b" ",
        b"\t",
        "café".as_bytes(),
        b"=3D",
        b"\x01",
        b"mail",
        b"  ",
        b"\xff",
    ];
    let r = pseudo_random(len, seed);
    let mut out = Vec::with_capacity(len + 16);
    let mut col = 0;
    for (i, &b) in r.iter().enumerate() {
        if out.len() >= len {
            break;
        }
        if usize::from(b) < 8 || col > 150 {
            if i % 3 == 0 {
                out.push(b' ');
            }
            out.push(b'\n');
            col = 0;
        } else {
            let w = words[usize::from(b) % words.len()];
            out.extend_from_slice(w);
            col += w.len();
        }
    }
    out
}

fn to_crlf(text: &[u8]) -> Vec<u8> {
    text.split(|&b| b == b'\n')
        .collect::<Vec<_>>()
        .join(&b"\r\n"[..])
}

fn max_line(encoded: &[u8]) -> usize {
    encoded
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).len())
        .max()
        .unwrap_or(0)
}

fn peer_run(program: &std::path::Path, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    let r = run_cmd(cmd, stdin);
    assert_eq!(r.code, 0, "{} {args:?}: {}", program.display(), r.stderr);
    r.stdout
}

#[test]
fn round_trips_through_the_binary() {
    let t = text(200_000, 1);
    let enc = run(QP, &[], &t).ok().to_vec();
    assert!(max_line(&enc) <= 76);
    assert!(!enc.contains(&b'\r'));
    assert_eq!(run(QP, &["-d"], &enc).ok(), &t[..]);
    // CRLF text with --crlf both ways.
    let c = to_crlf(&t);
    let enc = run(QP, &["--crlf", "--safe"], &c).ok().to_vec();
    assert!(max_line(&enc) <= 76);
    assert_eq!(run(QP, &["-d", "--crlf"], &enc).ok(), &c[..]);
    // CRLF text in, LF out: the line ends are normalised.
    assert_eq!(run(QP, &["-d"], run(QP, &[], &c).ok()).ok(), &t[..]);
    // Any bytes with --binary.
    let b = pseudo_random(300_000, 2);
    let enc = run(QP, &["--binary"], &b).ok().to_vec();
    assert!(max_line(&enc) <= 76);
    assert_eq!(run(QP, &["-d", "--strict"], &enc).ok(), &b[..]);
}

#[test]
fn peers_decode_our_encoding() {
    let (Some(qprint), Some(python)) = (
        peer("qprint", "peers_decode_our_encoding"),
        peer("python3", "peers_decode_our_encoding"),
    ) else {
        return;
    };
    for seed in 1..4 {
        let t = text(50_000, seed);
        for args in [&[][..], &["--safe"], &["--crlf"]] {
            let enc = run(QP, args, &t).ok().to_vec();
            let crlf = args.contains(&"--crlf");
            // qprint -d writes LF; a2b_qp keeps the line ends it is given.
            assert_eq!(peer_run(&qprint, &["-d"], &enc), t, "qprint {args:?}");
            let want = if crlf { to_crlf(&t) } else { t.clone() };
            assert_eq!(
                peer_run(&python, &["-c", PY_DECODE], &enc),
                want,
                "python {args:?}"
            );
        }
        let b = pseudo_random(50_000, seed);
        for args in [&["--binary"][..], &["--binary", "--safe", "--crlf"]] {
            let enc = run(QP, args, &b).ok().to_vec();
            assert_eq!(peer_run(&qprint, &["-d"], &enc), b, "qprint {args:?}");
            assert_eq!(
                peer_run(&python, &["-c", PY_DECODE], &enc),
                b,
                "python {args:?}"
            );
        }
    }
}

#[test]
fn we_decode_peer_encodings() {
    let (Some(qprint), Some(python)) = (
        peer("qprint", "we_decode_peer_encodings"),
        peer("python3", "we_decode_peer_encodings"),
    ) else {
        return;
    };
    for seed in 1..4 {
        let t = text(50_000, seed);
        // qprint -e writes CRLF: LF comes back by default, CRLF with --crlf.
        let enc = peer_run(&qprint, &["-e"], &t);
        assert!(enc.windows(2).any(|w| w == b"\r\n"));
        assert_eq!(run(QP, &["-d", "--strict"], &enc).ok(), &t[..]);
        assert_eq!(run(QP, &["-d", "--crlf"], &enc).ok(), &to_crlf(&t)[..]);
        let enc = peer_run(&python, &["-c", PY_ENCODE_TEXT], &t);
        assert_eq!(run(QP, &["-d", "--strict"], &enc).ok(), &t[..]);
        let b = pseudo_random(50_000, seed);
        let enc = peer_run(&qprint, &["-b", "-e"], &b);
        assert_eq!(run(QP, &["-d", "--strict"], &enc).ok(), &b[..]);
        let enc = peer_run(&python, &["-c", PY_ENCODE_BINARY], &b);
        assert_eq!(run(QP, &["-d", "--strict"], &enc).ok(), &b[..]);
    }
}

#[test]
fn malformed_escapes_are_kept_with_one_warning() {
    let r = run(QP, &["-d"], b"a=ZZ b==41\nc=4\nd=\xff\ne=");
    assert_eq!(r.ok(), b"a=ZZ b=A\nc=4\nd=\xff\ne");
    r.one_line_error(QP);
    assert_eq!(
        r.stderr.trim_end(),
        "mime-qp: warning: stdin: malformed '=' escape at byte 1 (kept literally; 4 in all)"
    );
    // Named after the file; one warning per input.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.qp");
    std::fs::write(&bad, b"ok\n=G1").expect("write");
    let bad = bad.to_str().expect("utf-8 path");
    let r = run(QP, &["-d", bad, "-", bad], b"fine=3D\n");
    assert_eq!(r.ok(), b"ok\n=G1fine=\nok\n=G1");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stderr);
    for line in lines {
        assert_eq!(
            line,
            format!(
                "mime-qp: warning: {bad}: malformed '=' escape at byte 3 (kept literally; 1 in all)"
            )
        );
    }
}

#[test]
fn strict_decoding_fails_with_the_offset() {
    let r = run(QP, &["-d", "--strict"], b"line one\nbad =4\n");
    r.code(65).one_line_error(QP);
    assert_eq!(
        r.stderr.trim_end(),
        "mime-qp: stdin: malformed '=' escape at byte 13"
    );
    // What came before the bad escape has been written.
    assert_eq!(r.stdout, b"line one\nbad ");
    let r = run(QP, &["-d", "--strict"], b"x=\x80");
    r.code(65).one_line_error(QP);
}

#[test]
fn empty_and_tiny_inputs() {
    for args in [
        &[][..],
        &["--binary"],
        &["--safe", "--crlf"],
        &["-d"],
        &["-d", "--strict"],
    ] {
        assert_eq!(run(QP, args, b"").ok(), b"", "{args:?}");
    }
    assert_eq!(run(QP, &[], b" ").ok(), b"=20");
    assert_eq!(run(QP, &[], b"\n").ok(), b"\n");
    assert_eq!(run(QP, &["--crlf"], b"\n").ok(), b"\r\n");
    assert_eq!(
        run(QP, &["--safe"], b".\nFrom me\n").ok(),
        b"=2E\n=46rom me\n"
    );
    assert_eq!(run(QP, &["-d"], b"=").ok(), b"");
    assert_eq!(run(QP, &["-d"], b"  \t ").ok(), b"");
}

#[test]
fn huge_lines_stream() {
    // 10 MB without a line end, both directions: bounded lines, exact
    // round trip, no hang, no memory blow-up (the carry is bounded).
    let line: Vec<u8> = b"0123456789 abcdef=\t"
        .iter()
        .cycle()
        .take(10_000_000)
        .copied()
        .collect();
    let enc = run(QP, &[], &line).ok().to_vec();
    assert!(max_line(&enc) <= 76);
    assert_eq!(run(QP, &["-d"], &enc).ok(), &line[..]);
    // A decoder input that is one 10 MB line of literal text.
    let plain = vec![b'x'; 10_000_000];
    assert_eq!(run(QP, &["-d", "--strict"], &plain).ok(), &plain[..]);
    // 10 MB of spaces then a line end: deleted in bounded pieces; what is
    // left is whitespace only (long runs are written as data, documented).
    let mut spaces = vec![b' '; 10_000_000];
    spaces.push(b'\n');
    let out = run(QP, &["-d"], &spaces).ok().to_vec();
    assert!(out.len() < spaces.len() && out.ends_with(b"\n"));
    assert!(out.iter().all(|&b| b == b' ' || b == b'\n'));
}

#[test]
fn binary_garbage_never_panics() {
    for seed in 0..8 {
        let junk = pseudo_random(100_000, seed);
        for args in [&[][..], &["--binary", "--safe"]] {
            let enc = run(QP, args, &junk).ok().to_vec();
            assert!(max_line(&enc) <= 76);
        }
        let r = run(QP, &["-d"], &junk);
        r.code(0);
        assert!(r.stderr.lines().count() <= 1, "{}", r.stderr);
        let r = run(QP, &["-d", "--strict"], &junk);
        assert!(r.code == 0 || r.code == 65, "{}", r.code);
        if r.code == 65 {
            r.one_line_error(QP);
        }
    }
}

#[test]
fn files_missing_or_bad_keep_going() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.txt");
    std::fs::File::create(&good)
        .and_then(|mut f| f.write_all(b"a=b\n"))
        .expect("write");
    let good = good.to_str().expect("utf-8 path");
    let missing = dir.path().join("missing");
    let missing = missing.to_str().expect("utf-8 path");
    let r = run(QP, &[missing], b"");
    r.code(66).one_line_error(QP);
    assert!(r.stderr.contains(missing), "{}", r.stderr);
    // The FILEs are encoded in order, as one stream; the worst code wins.
    let r = run(QP, &[good, missing, good], b"");
    r.code(66).one_line_error(QP);
    assert_eq!(r.stdout, b"a=3Db\na=3Db\n");
    // A directory cannot be read: 66 too.
    let d = dir.path().to_str().expect("utf-8 path");
    run(QP, &["-d", d], b"").code(66).one_line_error(QP);
    // A strict failure in one FILE does not stop the next.
    let bad = dir.path().join("bad.qp");
    std::fs::write(&bad, b"=ZZ").expect("write");
    let good_qp = dir.path().join("good.qp");
    std::fs::write(&good_qp, b"a=3Db\n").expect("write");
    let (bad, good_qp) = (bad.to_str().expect("path"), good_qp.to_str().expect("path"));
    let r = run(QP, &["-d", "--strict", bad, good_qp], b"");
    r.code(65).one_line_error(QP);
    assert_eq!(r.stdout, b"a=b\n");
}

#[test]
fn bug_several_files_keep_lines_within_76() {
    // Each file got a new encoder: a file not ending in a line end ran
    // into the next on a line of 140 characters.
    let dir = tempfile::tempdir().expect("tempdir");
    let q = dir.path().join("q");
    std::fs::write(&q, [b'0'; 70]).expect("write");
    let q = q.to_str().expect("utf-8 path");
    for args in [
        &[q, q][..],
        &["--safe", q, q],
        &["--binary", "--crlf", q, q],
    ] {
        let r = run(QP, args, b"");
        assert!(max_line(r.ok()) <= 76, "{args:?}: {:?}", r.stdout_str());
        // The same as encoding the concatenation.
        let flags = &args[..args.len() - 2];
        assert_eq!(r.stdout, run(QP, flags, &[b'0'; 140]).ok(), "{args:?}");
    }
}

#[test]
fn bad_flags_are_usage_errors() {
    for args in [
        &["--bogus"][..],
        &["-d", "--binary"],
        &["-d", "--safe"],
        &["--strict"],
        &["-x"],
    ] {
        let r = run(QP, args, b"");
        r.code(64).one_line_error(QP);
        assert!(r.stdout.is_empty());
    }
    assert!(
        run(QP, &["--help"], b"")
            .ok()
            .starts_with(b"Encode or decode")
    );
}

#[test]
fn closed_stdout_is_quiet_success() {
    let bin = bin(QP);
    // The status of mime-qp itself (the producer may die of SIGPIPE).
    let script = format!(
        "head -c 20000000 /dev/zero | '{}' --binary | head -c 10 > /dev/null; \
         exit ${{PIPESTATUS[1]}}",
        bin.display()
    );
    let r = run_cmd(
        {
            let mut c = Command::new("bash");
            c.args(["-c", &script]);
            c
        },
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "");
}

#[test]
fn corpus_messages_decode_without_failure() {
    let Some(files) = corpus("corpus_messages_decode_without_failure") else {
        return;
    };
    for f in files {
        let data = std::fs::read(&f).expect("read corpus file");
        // Whole messages are not QP, but decoding them must be clean:
        // lenient exit 0 with at most one warning; strict 0 or 65.
        let r = run(QP, &["-d"], &data);
        assert_eq!(r.code, 0, "{}: {}", f.display(), r.stderr);
        assert!(r.stderr.lines().count() <= 1, "{}", r.stderr);
        let r = run(QP, &["-d", "--strict"], &data);
        assert!(r.code == 0 || r.code == 65, "{}: {}", f.display(), r.code);
        // And any message is QP-encodable and back.
        let enc = run(QP, &["--binary"], &data).ok().to_vec();
        assert_eq!(run(QP, &["-d"], &enc).ok(), &data[..], "{}", f.display());
    }
}
