//! The tools checking each other: `mime-build | mime-unpack -x` gives the
//! same bytes and names, and `--split` then `--reassemble` the original.

use std::path::Path;
use std::process::Command;

use crate::peers::peer;
use crate::util::*;

/// Files of every kind mime-build must carry: binary with boundary-like
/// bytes, UTF-8 and Latin-1 text, an empty file, long lines, non-ASCII and
/// awkward names.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut binary = pseudo_random(300_000, 11);
    binary.extend_from_slice(b"\r\n--=_boundary\r\n.\r\nFrom x\n\0\r");
    let set = vec![
        ("data.bin".to_owned(), binary),
        (
            "Grüße aus Köln.txt".to_owned(),
            "Grüße, €uro\nline two\n".repeat(50).into_bytes(),
        ),
        (
            "latin1 notes.txt".to_owned(),
            b"caf\xe9 na\xefve\n".repeat(10),
        ),
        ("empty".to_owned(), Vec::new()),
        ("long line.txt".to_owned(), "x".repeat(5000).into_bytes()),
        (
            "報告書 2026 第三四半期の売上と費用の詳細な分析.pdf".to_owned(),
            pseudo_random(5000, 3),
        ),
        ("-dash & 'quote'.dat".to_owned(), b"dash".to_vec()),
    ];
    for (name, bytes) in &set {
        std::fs::write(dir.join(name), bytes).expect("write input");
    }
    set
}

fn build_args(dir: &Path, names: &[(String, Vec<u8>)], extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "-f",
        "Zoë <zoe@example.org>",
        "-t",
        "bob@example.com",
        "-s",
        "Round trip ✓",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args.push("--".to_owned());
    args.extend(names.iter().map(|(n, _)| dir.join(n).display().to_string()));
    args
}

fn assert_extracted(out: &Path, want: &[(String, Vec<u8>)]) {
    for (name, bytes) in want {
        // mime-unpack drops a leading dash (a file name must not read as an
        // option); every other character of these names survives.
        let name = name.trim_start_matches('-');
        let got =
            std::fs::read(out.join(name)).unwrap_or_else(|e| panic!("{name} not extracted: {e}"));
        assert!(
            got == *bytes,
            "{name}: bytes differ ({} vs {})",
            got.len(),
            bytes.len()
        );
    }
}

#[test]
fn build_then_unpack_gives_the_same_files_and_names() {
    for extra in [&[][..], &["--crlf"], &["--8bit"], &["--binary-safe"]] {
        let tmp = tempfile::tempdir().expect("tmp");
        let input = tmp.path().join("in");
        // -C makes the directory, parents included, when it is missing.
        let out = tmp.path().join("out/nested");
        std::fs::create_dir_all(&input).expect("mkdir");
        let set = files(&input);
        let args = build_args(&input, &set, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut msg = run("mime-build", &args, b"the body\n").ok().to_vec();
        if extra == ["--crlf"] {
            // The wire form: every line ends in CRLF. Text parts then have
            // CRLF line breaks (their canonical form, RFC 2046 §4.1.1), which
            // mime-unpack keeps; the local (LF) form must carry the same files.
            assert!(
                !msg.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'),
                "bare LF"
            );
            assert!(msg.ends_with(b"\r\n"));
            msg.retain(|&b| b != b'\r');
        }
        let out_dir = out.display().to_string();
        run("mime-unpack", &["-x", "-C", &out_dir], &msg).ok();
        assert_extracted(&out, &set);
    }
}

#[test]
fn split_then_reassemble_gives_the_original() {
    let tmp = tempfile::tempdir().expect("tmp");
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    let set = files(&input);
    let args = build_args(&input, &set, &[]);
    let whole: Vec<&str> = args.iter().map(String::as_str).collect();
    let prefix = tmp.path().join("piece").display().to_string();
    let mut split = vec!["--split", "40000", "-o", &prefix];
    split.extend(whole.iter().copied());
    let listed = run("mime-build", &split, b"the body\n").ok().to_vec();
    let mut pieces: Vec<String> = String::from_utf8(listed)
        .expect("names")
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(pieces.len() > 5, "expected several pieces: {pieces:?}");
    // Reassembly must not depend on the order the pieces are given in.
    pieces.reverse();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let out_dir = out.display().to_string();
    let mut unpack = vec!["--reassemble", "-x", "-C", &out_dir];
    unpack.extend(pieces.iter().map(String::as_str));
    run("mime-unpack", &unpack, b"").ok();
    assert_extracted(&out, &set);

    // The reassembled message, decoded by Python's email package, has the
    // same Subject as the one built whole.
    let Some(python) = peer("python3", "split_then_reassemble_gives_the_original") else {
        return;
    };
    let mut joined = vec!["--reassemble"];
    joined.extend(pieces.iter().map(String::as_str));
    let msg = run("mime-unpack", &joined, b"").ok().to_vec();
    let mut cmd = Command::new(python);
    cmd.args([
        "-c",
        "import sys, email, email.policy\n\
         m = email.message_from_binary_file(sys.stdin.buffer, policy=email.policy.default)\n\
         print(m['subject'])",
    ]);
    let r = run_cmd(cmd, &msg);
    assert_eq!(r.ok(), "Round trip ✓\n".as_bytes());
}
