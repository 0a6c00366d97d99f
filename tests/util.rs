//! Test harness: run the built binaries, find the shared corpus, make
//! inputs. The peers the tests talk to are in [`crate::peers`].

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Prints a SKIPPED line that shows even for a passing test: libtest
/// captures `eprintln!` of passing tests, but not direct writes to stderr.
pub fn skipped(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {msg}");
}

/// Path of a built binary of this crate.
pub fn bin(name: &str) -> PathBuf {
    // CARGO_BIN_EXE_<name> is only known at compile time per literal name,
    // so look next to the test binary instead (target/<profile>/).
    let mut dir = std::env::current_exe().expect("test exe path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let p = dir.join(name);
    assert!(p.exists(), "binary {} not built at {}", name, p.display());
    p
}

/// Result of running a command.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts the exit code, showing stderr when it differs.
    pub fn code(&self, want: i32) -> &Self {
        assert_eq!(self.code, want, "exit code; stderr: {}", self.stderr);
        self
    }

    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &[u8] {
        self.code(0);
        &self.stdout
    }

    /// Asserts stderr is exactly one line, starting with `prog: `.
    pub fn one_line_error(&self, prog: &str) -> &Self {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "want one stderr line, got: {:?}",
            self.stderr
        );
        assert!(
            lines[0].starts_with(&format!("{prog}: ")),
            "stderr: {:?}",
            self.stderr
        );
        self
    }
}

/// Runs `cmd` with `stdin` piped in from a thread (so large inputs cannot
/// deadlock against a full stdout pipe).
pub fn run_cmd(mut cmd: Command, stdin: &[u8]) -> Run {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The tool may exit before reading everything (errors, EPIPE tests).
        let _ = pipe.write_all(&input);
    });
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("wait");
    writer.join().expect("stdin writer");
    Run {
        code: status
            .code()
            .unwrap_or_else(|| panic!("killed by a signal: {status:?}")),
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Runs `cmd` like [`run_cmd`], but kills it and fails the test if it runs
/// longer than `patience`: a hung peer must fail, not hang the suite.
pub fn run_cmd_within(mut cmd: Command, patience: Duration, stdin: &[u8]) -> Run {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let outr = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let errr = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if start.elapsed() > patience {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} hung");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    feeder.join().expect("feeder");
    Run {
        code: status
            .code()
            .unwrap_or_else(|| panic!("killed by a signal: {status:?}")),
        stdout: outr.join().expect("stdout reader"),
        stderr: String::from_utf8_lossy(&errr.join().expect("stderr reader")).into_owned(),
    }
}

/// Runs one of our binaries with `args` and `stdin`.
pub fn run(name: &str, args: &[&str], stdin: &[u8]) -> Run {
    let mut cmd = Command::new(bin(name));
    cmd.args(args);
    run_cmd(cmd, stdin)
}

/// The shared real-world corpus (../shared/corpus), when present. A user's
/// clone does not have it: then this prints a loud SKIPPED line.
pub fn corpus(test: &str) -> Option<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if !dir.is_dir() {
        // CI has ../shared beside the clone and sets this, so a missing
        // corpus fails there instead of passing unchecked.
        assert!(
            std::env::var_os("MAILPIPE_REQUIRE_CORPUS").is_none_or(|v| v != "1"),
            "corpus {} required by {test} is absent",
            dir.display()
        );
        skipped(&format!(
            "{test}: corpus {} is absent (it ships beside the repository, not in it)",
            dir.display()
        ));
        return None;
    }
    let mut files = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read corpus dir") {
            let p = e.expect("corpus entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|x| x.to_str()), Some("eml" | "msg")) {
                files.push(p);
            }
        }
    }
    files.sort();
    Some(files)
}

/// Deterministic pseudo-random bytes (xorshift64*), for reproducible inputs.
pub fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    seed |= 1;
    while out.len() < len {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        out.extend_from_slice(&seed.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes `data` to `dir/name`; returns the path.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).expect("write");
    p
}
