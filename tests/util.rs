//! Test harness: run the built binaries, find peers, find the shared corpus.

use std::io::Write;

/// Prints a SKIPPED line that shows even for a passing test: libtest
/// captures `eprintln!` of passing tests, but not direct writes to stderr.
pub fn skipped(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {msg}");
}
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

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

/// Whether peer tests are mandatory (`MAILPIPE_REQUIRE_PEERS=1`, set by the
/// README's test command and so by CI).
fn peers_required() -> bool {
    std::env::var_os("MAILPIPE_REQUIRE_PEERS").is_some_and(|v| v == "1")
}

/// Finds a peer program on PATH. When absent: panics if peers are required,
/// otherwise prints a loud SKIPPED line and returns None.
pub fn peer(program: &str, test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            !peers_required(),
            "peer {program} required by {test} is not installed"
        );
        skipped(&format!(
            "{test}: peer program {program} is not installed (scripts/test installs it)"
        ));
    }
    found
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

// ------------------------------------------------------- processes, ports

/// A child process killed and reaped on drop.
pub struct Guard(pub std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nothing listens on (bound, then freed).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Longest a peer may take to start listening.
const READY_PATIENCE: Duration = Duration::from_secs(60);

/// Waits until something accepts connections on `addr`; `what` (`child`)
/// exiting first, or taking longer than [`READY_PATIENCE`], fails the test.
pub fn wait_listening(addr: SocketAddr, what: &str, child: &mut std::process::Child) {
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        if let Some(st) = child.try_wait().expect("try_wait") {
            panic!("{what} exited early: {st}");
        }
        assert!(start.elapsed() < READY_PATIENCE, "{what} never listened");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until smtp-recv (`child`, started with `--ready-file ready`) has
/// written the first address it listens on; its exiting first, or taking
/// longer than [`READY_PATIENCE`], fails the test with the text of the
/// file `stderr`.
pub fn wait_ready(child: &mut std::process::Child, ready: &Path, stderr: &Path) -> SocketAddr {
    let start = std::time::Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(ready)
            && let Some(line) = text.lines().next()
        {
            return line.parse().expect("address");
        }
        if let Some(st) = child.try_wait().expect("try_wait") {
            let err = std::fs::read_to_string(stderr).unwrap_or_default();
            panic!("smtp-recv exited early ({st}): {err}");
        }
        assert!(
            start.elapsed() < READY_PATIENCE,
            "smtp-recv never got ready"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ------------------------------------------------------------- smtp-recv

/// smtp-recv's options that choose where messages go (one at the most).
const RECV_TARGETS: [&str; 6] = ["-o", "--output", "--maildir", "--mbox", "--dir", "--exec"];

/// Our smtp-recv, killed and reaped on drop, in a directory of its own:
/// messages in `msgs/` (unless `args` choose another target), envelopes in
/// `env.json` (one JSON object a line), its stderr in `stderr`.
pub struct Recv {
    _guard: Guard,
    /// Where it listens.
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Recv {
    /// On a free loopback port, with `args` after ours (`-q -n 0`).
    pub fn start(args: &[&str]) -> Recv {
        Recv::start_on("127.0.0.1:0", args)
    }

    /// Listening on `listen` (`IP:PORT`), with `args` after ours.
    pub fn start_on(listen: &str, args: &[&str]) -> Recv {
        let dir = tempfile::tempdir().expect("tempdir");
        let ready = dir.path().join("ready");
        let stderr = dir.path().join("stderr");
        let target: &[&str] = if args.iter().any(|a| RECV_TARGETS.contains(a)) {
            &[]
        } else {
            &["--dir", "msgs"]
        };
        let child = Command::new(bin("smtp-recv"))
            .args(["-l", listen, "-q", "-n", "0"])
            .args(target)
            .args(["--envelope-json", "env.json", "--ready-file"])
            .arg(&ready)
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr"))
            .spawn()
            .expect("spawn smtp-recv");
        let mut guard = Guard(child);
        let addr = wait_ready(&mut guard.0, &ready, &stderr);
        Recv {
            _guard: guard,
            addr,
            dir,
        }
    }

    /// `IP:PORT`, for `-S`.
    pub fn server(&self) -> String {
        self.addr.to_string()
    }

    /// `SCHEME://IP:PORT`, for `-S`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The stored messages' files, oldest first (by time, then name).
    pub fn message_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(self.dir().join("msgs")) {
            Ok(rd) => rd.map(|e| e.expect("entry").path()).collect(),
            Err(_) => return Vec::new(),
        };
        files.sort_by_key(|p| {
            (
                std::fs::metadata(p).and_then(|m| m.modified()).ok(),
                p.clone(),
            )
        });
        files
    }

    /// The stored messages, oldest first, as stored (trace fields first).
    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.message_files()
            .iter()
            .map(|p| std::fs::read(p).expect("read message"))
            .collect()
    }

    /// [`Recv::messages`] as text (lossy).
    pub fn texts(&self) -> Vec<String> {
        self.messages()
            .iter()
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .collect()
    }

    /// [`Recv::messages`] without the Return-Path: and Received: fields
    /// smtp-recv adds ([`strip_trace`]).
    pub fn untraced(&self) -> Vec<Vec<u8>> {
        self.messages().iter().map(|m| strip_trace(m)).collect()
    }

    /// The envelopes stored (`--envelope-json`), oldest first.
    pub fn envelopes(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir().join("env.json"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect()
    }
}

/// Removes smtp-recv's Return-Path: and Received: (with its continuation
/// lines) from the top of a stored message.
pub fn strip_trace(msg: &[u8]) -> Vec<u8> {
    let mut rest = msg;
    loop {
        let line_end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = &rest[..line_end];
        let trace = line.starts_with(b"Return-Path:")
            || line.starts_with(b"Received:")
            || line.starts_with(b"\t")
            || line.starts_with(b" ");
        if !trace || line.is_empty() {
            return rest.to_vec();
        }
        rest = &rest[line_end..];
    }
}
