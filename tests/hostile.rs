//! Hostile input common to every tool: bad flags, missing and unreadable
//! files, empty input, binary garbage, a closed stdout. Tool-specific cases
//! live in each tool's module.

use std::process::{Command, Stdio};

use crate::man::binaries;
use crate::util::*;

/// How a tool that reads input is exercised here.
struct Filter {
    /// Argument sets that make it read its input in each of its modes.
    modes: Vec<Vec<&'static str>>,
    /// Exit code for empty input.
    empty_code: i32,
    /// Whether empty input gives empty output.
    empty_output_is_empty: bool,
    /// Whether operands are files (mime-word's are text).
    file_operands: bool,
}

/// Every tool that reads stdin or FILEs, with its modes. Servers and
/// network clients (smtp-recv, smtp-send) have their hostile-input tests in
/// their own modules; a new filter must be added here.
fn filter(tool: &str) -> Option<Filter> {
    let f = |modes: Vec<Vec<&'static str>>, empty_code, empty_output_is_empty, file_operands| {
        Some(Filter {
            modes,
            empty_code,
            empty_output_is_empty,
            file_operands,
        })
    };
    match tool {
        "mime-b64" => f(vec![vec![], vec!["-d"], vec!["-d", "-i"]], 0, true, true),
        "mime-qp" => f(
            vec![vec![], vec!["--binary"], vec!["-d"], vec!["-d", "--strict"]],
            0,
            true,
            true,
        ),
        "mime-word" => f(
            vec![vec![], vec!["-d"], vec!["-d", "--strict"]],
            0,
            true,
            false,
        ),
        "mime-hdr" => f(
            vec![vec![], vec!["-a"], vec!["-A"], vec!["-n", "subject"]],
            1,
            true,
            true,
        ),
        // stdin is the text body: empty input is a message with an empty body.
        "mime-build" => f(vec![vec![]], 0, false, true),
        // (-x writes into the current directory; -p exits 1 for no such part.)
        "mime-unpack" => f(vec![vec![], vec!["--json"]], 0, true, true),
        // verify reads a message: none is "no signature", 1, said on stdout.
        "mime-dkim" => f(
            vec![vec!["verify"], vec!["verify", "--json"]],
            1,
            false,
            true,
        ),
        // Not filters: servers, clients, and smtp-oauth (subcommands on accounts).
        "smtp-recv" | "smtp-send" | "smtp-oauth" => None,
        other => panic!("{other}: say in tests/hostile.rs how it reads input"),
    }
}

/// The filters among the binaries, with their specs.
fn filters() -> Vec<(String, Filter)> {
    binaries()
        .into_iter()
        .filter_map(|b| filter(&b).map(|f| (b, f)))
        .collect()
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
    for (b, f) in filters().into_iter().filter(|(_, f)| f.file_operands) {
        for m in &f.modes {
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
    for (b, f) in filters() {
        for m in &f.modes {
            let r = run(&b, m, b"");
            r.code(f.empty_code);
            assert_eq!(
                r.stdout.is_empty(),
                f.empty_output_is_empty,
                "{b} {m:?}: output for empty input"
            );
            assert!(r.stderr.is_empty(), "{b} {m:?}: {}", r.stderr);
        }
    }
}

#[test]
fn binary_garbage_never_panics() {
    let garbage = pseudo_random(1 << 20, 7);
    for (b, f) in filters() {
        for m in &f.modes {
            let r = run(&b, m, &garbage);
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
    for (b, f) in filters() {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let mut child = Command::new(bin(&b))
            .args(&f.modes[0])
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

#[test]
fn full_disk_on_stdout_is_one_error_and_74() {
    // /dev/full fails every write with ENOSPC: the tool must say so once,
    // stop reading, and exit 74 (not report it per input, nor again at exit).
    let input = b"Subject: =?UTF-8?Q?hi?=\n".repeat(9_000);
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return;
    };
    for (b, f) in filters() {
        let mut cmd = Command::new(bin(&b));
        cmd.args(&f.modes[0])
            .stdin(Stdio::piped())
            .stdout(full.try_clone().expect("dup"))
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        let mut stdin = child.stdin.take().expect("stdin");
        let feed = input.clone();
        let feeder = std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut stdin, &feed);
        });
        let out = child.wait_with_output().expect("wait");
        feeder.join().expect("feeder");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(74), "{b}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{b}: {stderr}");
        assert!(
            stderr.starts_with(&format!("{b}: standard output: ")),
            "{b}: {stderr}"
        );
    }
}
