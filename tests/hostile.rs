//! Hostile input common to every tool: bad flags, missing and unreadable
//! files, empty input, binary garbage, a closed stdout. Tool-specific cases
//! live in each tool's module.

use std::process::{Command, Stdio};

use crate::man::binaries;
use crate::util::*;

/// The tools that read input and write output (servers such as smtp-recv
/// listen instead; their hostile-input tests live in their own module).
fn filters() -> Vec<String> {
    binaries()
        .into_iter()
        .filter(|b| b != "smtp-recv")
        .collect()
}

/// Argument sets that make each tool read its input in each of its modes.
fn modes(tool: &str) -> Vec<Vec<&'static str>> {
    match tool {
        "mime-b64" => vec![vec![], vec!["-d"], vec!["-d", "-i"]],
        "mime-qp" => vec![vec![], vec!["--binary"], vec!["-d"], vec!["-d", "--strict"]],
        "mime-word" => vec![vec![], vec!["-d"], vec!["-d", "--strict"]],
        "mime-hdr" => vec![vec![], vec!["-a"], vec!["-A"], vec!["-n", "subject"]],
        other => panic!("no hostile-input modes listed for {other}: add them here"),
    }
}

/// The exit codes a tool documents for data it cannot process.
const DOCUMENTED: [i32; 4] = [0, 1, 65, 74];

#[test]
fn bad_flag_is_usage_error_on_one_line() {
    for b in binaries() {
        run(&b, &["--no-such-flag"], b"")
            .code(64)
            .one_line_error(&b);
    }
}

#[test]
fn help_and_version_exit_zero_on_stdout() {
    for b in binaries() {
        for flag in ["--help", "--version"] {
            let r = run(&b, &[flag], b"");
            r.code(0);
            assert!(!r.stdout.is_empty() && r.stderr.is_empty(), "{b} {flag}");
        }
    }
}

#[test]
fn missing_file_is_66_and_directory_is_refused() {
    // mime-word's operands are text to encode or decode, not files.
    for b in filters().into_iter().filter(|b| b != "mime-word") {
        for m in modes(&b) {
            let mut args = m.clone();
            args.push("/nonexistent/file");
            run(&b, &args, b"").code(66).one_line_error(&b);
            let mut args = m.clone();
            args.push("/");
            run(&b, &args, b"").code(66).one_line_error(&b);
        }
    }
}

#[test]
fn empty_input_is_not_an_error() {
    for b in filters() {
        for m in modes(&b) {
            let r = run(&b, &m, b"");
            let want = if b == "mime-hdr" { 1 } else { 0 };
            r.code(want);
            assert!(
                r.stdout.is_empty(),
                "{b} {m:?} wrote output for empty input"
            );
            assert!(r.stderr.is_empty(), "{b} {m:?}: {}", r.stderr);
        }
    }
}

#[test]
fn binary_garbage_never_panics() {
    let garbage = pseudo_random(1 << 20, 7);
    for b in filters() {
        for m in modes(&b) {
            let r = run(&b, &m, &garbage);
            assert!(
                DOCUMENTED.contains(&r.code),
                "{b} {m:?}: exit {} ({})",
                r.code,
                r.stderr
            );
            assert!(r.stderr.lines().count() <= 1, "{b} {m:?}: {}", r.stderr);
        }
    }
}

#[test]
fn closed_stdout_is_a_quiet_success() {
    // A reader that went away (`tool | head -c1`) is not an error for a filter.
    // 9,000 fields: within mime-hdr's header limits, and every tool's output
    // is larger than a pipe buffer.
    let input = b"Subject: =?UTF-8?Q?hi?=\n".repeat(9_000);
    for b in filters() {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let mut child = Command::new(bin(&b))
            .stdin(Stdio::piped())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stdin = child.stdin.take().expect("stdin");
        let feed = input.clone();
        let feeder = std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut stdin, &feed);
        });
        let out = child.wait_with_output().expect("wait");
        feeder.join().expect("feeder");
        assert_eq!(out.status.code(), Some(0), "{b}: {:?}", out.status);
        assert!(
            out.stderr.is_empty(),
            "{b}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
