//! mime-b64: against coreutils `base64`, hostile input, files, exit codes.

use std::io::Read;
use std::process::{Command, Stdio};

use crate::peers::peer;
use crate::util::*;

const B64: &str = "mime-b64";

fn coreutils(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut cmd = Command::new("base64");
    cmd.args(args);
    let r = run_cmd(cmd, stdin);
    assert_eq!(r.code, 0, "base64 {args:?}: {}", r.stderr);
    r.stdout
}

#[test]
fn encode_matches_coreutils_byte_for_byte() {
    if peer("base64", "b64::encode_matches_coreutils_byte_for_byte").is_none() {
        return;
    }
    for len in 0..=300 {
        let data = pseudo_random(len, len as u64);
        assert_eq!(
            run(B64, &[], &data).ok(),
            coreutils(&["-w", "76"], &data),
            "len {len}"
        );
    }
    let big = pseudo_random(3_000_017, 7);
    for wrap in ["76", "0", "1", "5", "64", "77", "100000"] {
        let ours = run(B64, &["-w", wrap], &big);
        assert_eq!(ours.ok(), coreutils(&["-w", wrap], &big), "-w {wrap}");
    }
    for len in [0, 1, 57, 58, 1000] {
        let data = pseudo_random(len, 3);
        assert_eq!(
            run(B64, &["-w", "0"], &data).ok(),
            coreutils(&["-w", "0"], &data)
        );
    }
}

#[test]
fn crlf_is_coreutils_with_crlf_line_ends() {
    if peer("base64", "b64::crlf_is_coreutils_with_crlf_line_ends").is_none() {
        return;
    }
    let data = pseudo_random(10_000, 11);
    let lf = String::from_utf8(coreutils(&[], &data)).unwrap();
    let ours = run(B64, &["--crlf"], &data);
    assert_eq!(ours.ok(), lf.replace('\n', "\r\n").as_bytes());
}

#[test]
fn decode_matches_coreutils_on_valid_input() {
    if peer("base64", "b64::decode_matches_coreutils_on_valid_input").is_none() {
        return;
    }
    let mut sizes: Vec<usize> = (0..=300).step_by(7).collect();
    sizes.push(3_000_017);
    for len in sizes {
        let b64 = coreutils(&[], &pseudo_random(len, len as u64 + 1));
        assert_eq!(
            run(B64, &["-d"], &b64).ok(),
            coreutils(&["-d"], &b64),
            "len {len}"
        );
        let crlf = String::from_utf8(b64).unwrap().replace('\n', "\r\n");
        assert_eq!(
            run(B64, &["-d"], crlf.as_bytes()).ok(),
            pseudo_random(len, len as u64 + 1)
        );
    }
}

#[test]
fn round_trip_through_both_directions() {
    let data = pseudo_random(1_000_003, 5);
    for args in [&["-w", "0"][..], &["--crlf"], &["-w", "13"], &[]] {
        let enc = run(B64, args, &data);
        assert_eq!(run(B64, &["-d"], enc.ok()).ok(), data, "{args:?}");
    }
}

#[test]
fn decode_is_lenient_where_mail_needs_it() {
    // Missing padding (coreutils rejects it), blanks anywhere, CRLF.
    assert_eq!(run(B64, &["-d"], b"Zm9vYg").ok(), b"foob");
    assert_eq!(run(B64, &["-d"], b" Zm9v\r\n\tYmFy \r\n").ok(), b"foobar");
    assert_eq!(run(B64, &["-d"], b"PC9odG1sPn==\n").ok(), b"</html>");
}

#[test]
fn invalid_bytes_exit_65_with_offset() {
    let r = run(B64, &["-d"], b"Zm9vYmFy\nZm9v!mFy\n");
    r.code(65).one_line_error(B64);
    assert_eq!(
        r.stderr.trim_end(),
        "mime-b64: stdin: invalid byte 0x21 at byte 13"
    );
    // Output up to the error has been written, as with coreutils.
    assert_eq!(r.stdout, b"foobarfoo");

    let r = run(B64, &["-d"], b"dGVzdA==dGVzdA==");
    r.code(65).one_line_error(B64);
    assert!(
        r.stderr.contains("padding") && r.stderr.contains("at byte 6"),
        "{}",
        r.stderr
    );

    let r = run(B64, &["-d"], b"Zm9vY\n");
    r.code(65).one_line_error(B64);
    assert!(r.stderr.ends_with("at byte 4\n"), "{}", r.stderr);
}

#[test]
fn ignore_garbage_skips_and_joins_quanta() {
    let r = run(B64, &["-d", "-i"], b"Zm9v!Ym\xffFy");
    assert_eq!(r.ok(), b"foobar");
    let r = run(B64, &["--decode", "--ignore-garbage"], b"dGVzdA==dGVzdA==");
    assert_eq!(r.ok(), b"testtest");
    // A lone final character is still truncated input.
    run(B64, &["-d", "-i"], b"Zm9vY")
        .code(65)
        .one_line_error(B64);
}

#[test]
fn hostile_input_gets_an_exit_code_never_a_panic() {
    // Empty input: empty output both ways.
    assert_eq!(run(B64, &[], b"").ok(), b"");
    assert_eq!(run(B64, &["-d"], b"").ok(), b"");
    // Binary garbage.
    let junk = pseudo_random(100_000, 99);
    run(B64, &["-d"], &junk).code(65).one_line_error(B64);
    let r = run(B64, &["-d", "-i"], &junk);
    assert!(r.code == 0 || r.code == 65, "code {} {}", r.code, r.stderr);
    // 10 MB on one line, valid and invalid at the very end.
    let data = pseudo_random(7_500_000, 1);
    let line = run(B64, &["-w", "0"], &data).ok().to_vec();
    assert_eq!(line.len(), 10_000_000);
    assert_eq!(run(B64, &["-d"], &line).ok(), data);
    let mut bad = line.clone();
    bad[9_999_999] = b'#';
    let r = run(B64, &["-d"], &bad);
    r.code(65).one_line_error(B64);
    assert!(r.stderr.contains("0x23 at byte 9999999"), "{}", r.stderr);
    // 10 MB of line ends only.
    assert_eq!(run(B64, &["-d"], &vec![b'\n'; 10_000_000]).ok(), b"");
}

#[test]
fn files_in_order_with_one_bad_and_one_missing() {
    let dir = tempfile::tempdir().unwrap();
    let good1 = dir.path().join("a.b64");
    let bad = dir.path().join("b.b64");
    let good2 = dir.path().join("c.b64");
    std::fs::write(&good1, "Zm9v\n").unwrap();
    std::fs::write(&bad, "YmFy\n*").unwrap();
    std::fs::write(&good2, "YmF6\n").unwrap();
    let missing = dir.path().join("nope");
    let p = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let (g1, b, g2, m) = (p(&good1), p(&bad), p(&good2), p(&missing));

    let r = run(B64, &["-d", &g1, &b, &g2], b"");
    r.code(65).one_line_error(B64);
    assert_eq!(
        r.stderr.trim_end(),
        format!("mime-b64: {b}: invalid byte 0x2A at byte 5")
    );
    assert_eq!(r.stdout, b"foobarbaz");

    // A missing file is 66, and the worst code wins.
    let r = run(B64, &["-d", &m, &g1], b"");
    r.code(66).one_line_error(B64);
    assert!(
        r.stderr.starts_with(&format!("mime-b64: {m}: ")),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, b"foo");
    let r = run(B64, &["-d", &b, &m], b"");
    assert_eq!(r.code, 66);
    assert_eq!(r.stderr.lines().count(), 2);

    // Several files are encoded as one stream, their concatenation; `-` is stdin.
    let r = run(B64, &[&g1, "-"], b"x");
    assert_eq!(r.ok(), b"Wm05dgp4\n");
    // A directory cannot be read.
    run(B64, &[dir.path().to_str().unwrap()], b"")
        .code(66)
        .one_line_error(B64);
}

#[test]
fn bug_several_files_encode_as_one_decodable_stream() {
    // Each file used to be padded on its own: `mime-b64 t1 t2 | mime-b64 -d`
    // then failed with 65 at the first padding.
    let dir = tempfile::tempdir().unwrap();
    let (t1, t2) = (dir.path().join("t1"), dir.path().join("t2"));
    std::fs::write(&t1, "one\n").unwrap();
    std::fs::write(&t2, pseudo_random(100, 3)).unwrap();
    let p = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let (a, b) = (p(&t1), p(&t2));
    let both = run(B64, &[&a, &b], b"").ok().to_vec();
    let mut cat = b"one\n".to_vec();
    cat.extend(pseudo_random(100, 3));
    assert_eq!(both, run(B64, &[], &cat).ok());
    assert_eq!(run(B64, &["-d"], &both).ok(), cat);
    if peer(
        "base64",
        "b64::bug_several_files_encode_as_one_decodable_stream",
    )
    .is_some()
    {
        assert_eq!(coreutils(&["-w", "76"], &cat), both);
    }
}

#[test]
fn bug_options_of_the_other_direction_are_usage_errors() {
    // -i without -d, and -w or --crlf with -d, were accepted and ignored.
    for args in [
        &["-i"][..],
        &["--ignore-garbage"],
        &["-d", "-w", "10"],
        &["-d", "--wrap=0"],
        &["-d", "--crlf"],
    ] {
        run(B64, args, b"").code(64).one_line_error(B64);
    }
    assert_eq!(run(B64, &["-d", "-i"], b"Zm9v!").ok(), b"foo");
}

#[test]
fn bad_flags_exit_64() {
    for args in [&["--bogus"][..], &["-w", "x"], &["-w", "-1"], &["-w"]] {
        run(B64, args, b"").code(64).one_line_error(B64);
    }
    let r = run(B64, &["--help"], b"");
    for flag in [
        "--decode",
        "--wrap",
        "--crlf",
        "--ignore-garbage",
        "EXAMPLES",
    ] {
        assert!(r.stdout_str().contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn closed_stdout_is_a_quiet_success() {
    // mime-b64 big | head -c1: the reader goes away; exit 0, no message.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, pseudo_random(20_000_000, 2)).unwrap();
    let enc = dir.path().join("big.b64");
    let out = std::fs::File::create(&enc).unwrap();
    let status = Command::new(bin(B64))
        .arg(&big)
        .stdout(out)
        .status()
        .unwrap();
    assert!(status.success());
    for args in [vec![big.as_os_str()], vec!["-d".as_ref(), enc.as_os_str()]] {
        let mut child = Command::new(bin(B64))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut byte = [0u8; 1];
        stdout.read_exact(&mut byte).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
    }
}
