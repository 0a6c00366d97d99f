//! The peers the tests talk to, in one place: how a missing peer program
//! is found and reported (a loud SKIPPED line, or a failure when
//! `MAILPIPE_REQUIRE_PEERS=1`, as scripts/test and so CI set it), and the
//! servers a test starts for itself on a free loopback port, each killed
//! and reaped by a guard, each wait with a deadline: our smtp-recv as a
//! receiver ([`Recv`]), Python's aiosmtpd ([`Aio`]) and its LMTP server
//! ([`Lmtp`]), Postfix's smtp-sink ([`Sink`]), and a scripted server for
//! what no real server does ([`fake`]); throwaway certificates ([`certs`]).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{bin, skipped, write_file};

/// Longest a scripted server waits for a line, or a test for smtp-sink's
/// dump: a hang fails instead of blocking the suite.
const PATIENCE: Duration = Duration::from_secs(30);

// ------------------------------------------------- missing peers, skipping

/// Whether peer tests are mandatory (`MAILPIPE_REQUIRE_PEERS=1`, set by the
/// README's test command and so by CI).
fn peers_required() -> bool {
    std::env::var_os("MAILPIPE_REQUIRE_PEERS").is_some_and(|v| v == "1")
}

/// The peer `what` that `test` needs is not installed: a failure when
/// peers are required, otherwise a loud SKIPPED line saying `how` to get
/// it. The caller then skips the test (or the part that needs the peer).
pub fn absent(test: &str, what: &str, how: &str) {
    assert!(
        !peers_required(),
        "peer {what} required by {test} is not installed"
    );
    skipped(&format!("{test}: {what} is not installed ({how})"));
}

/// Finds a peer program on PATH, or None ([`absent`]).
pub fn peer(program: &str, test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        absent(
            test,
            &format!("peer program {program}"),
            "scripts/test installs it",
        );
    }
    found
}

/// A peer that may live in /usr/sbin (Postfix tools), which a user's PATH
/// may lack; otherwise as [`peer`].
pub fn sbin_peer(program: &str, test: &str) -> Option<PathBuf> {
    let p = Path::new("/usr/sbin").join(program);
    if p.is_file() {
        return Some(p);
    }
    peer(program, test)
}

/// /usr/bin/python3 when it can import `module` (Debian's
/// python3-aiosmtpd), or None ([`absent`]).
pub fn aiosmtpd_python(test: &str, module: &str) -> Option<PathBuf> {
    let py = Path::new("/usr/bin/python3");
    let ok = py.is_file()
        && Command::new(py)
            .args(["-c", &format!("import {module}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if ok {
        return Some(py.to_path_buf());
    }
    absent(test, "aiosmtpd for /usr/bin/python3", "python3-aiosmtpd");
    None
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
    })
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

    /// [`Recv::messages`] without the Return-Path:, Authentication-Results: and Received: fields
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

/// Removes smtp-recv's Return-Path:, Authentication-Results: and Received: (with their continuation
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
            || line.starts_with(b"Authentication-Results:")
            || line.starts_with(b"\t")
            || line.starts_with(b" ");
        if !trace || line.is_empty() {
            return rest.to_vec();
        }
        rest = &rest[line_end..];
    }
}

// ------------------------------------------------------------ certificates

/// A throwaway certificate for localhost, 127.0.0.1 and ::1, as files.
pub struct Certs {
    _dir: tempfile::TempDir,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Certs {
    /// smtp-recv's flags serving this certificate and key.
    pub fn recv_args(&self) -> [&str; 4] {
        [
            "--tls-cert",
            self.cert.to_str().expect("utf-8 path"),
            "--tls-key",
            self.key.to_str().expect("utf-8 path"),
        ]
    }
}

pub fn certs() -> Certs {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = mailpipe::smtp::tls::self_signed_pem("localhost").expect("certificate");
    Certs {
        cert: write_file(dir.path(), "cert.pem", cert.as_bytes()),
        key: write_file(dir.path(), "key.pem", key.as_bytes()),
        _dir: dir,
    }
}

// ---------------------------------------------------------------- aiosmtpd

/// The aiosmtpd server script: mode plain|starttls|implicit, an output
/// directory, optional certificate, key and `user:password` for AUTH. Each
/// message is written as N.eml (the exact unstuffed bytes) and N.env (the
/// envelope), before the 250.
const AIOSMTPD: &str = r#"
import asyncio, json, os, ssl, sys, threading
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

mode, outdir = sys.argv[1], sys.argv[2]
cert = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
key = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
creds = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None
client_ca = sys.argv[6] if len(sys.argv) > 6 else None

class Handler:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        n = Handler.count
        Handler.count += 1
        with open(os.path.join(outdir, "%d.tmp" % n), "wb") as f:
            f.write(envelope.original_content)
        with open(os.path.join(outdir, "%d.envtmp" % n), "w") as f:
            json.dump({"from": envelope.mail_from, "rcpts": envelope.rcpt_tos,
                       "options": envelope.mail_options}, f)
        os.rename(os.path.join(outdir, "%d.envtmp" % n), os.path.join(outdir, "%d.env" % n))
        os.rename(os.path.join(outdir, "%d.tmp" % n), os.path.join(outdir, "%d.eml" % n))
        return "250 2.0.0 OK"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = False
    if creds and isinstance(auth_data, LoginPassword):
        user, _, password = creds.partition(":")
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
    return AuthResult(success=ok, handled=False)

async def main():
    ctx = None
    if cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        if client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(client_ca)
    loop = asyncio.get_running_loop()
    def factory():
        return SMTP(Handler(), hostname="aiosmtpd.test", decode_data=False,
                    enable_SMTPUTF8=True,
                    tls_context=ctx if mode == "starttls" else None,
                    authenticator=authenticator if creds else None,
                    auth_require_tls=(mode == "starttls"))
    server = await loop.create_server(factory, "127.0.0.1", 0,
                                      ssl=ctx if mode == "implicit" else None)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

# Exit when the test (our stdin) goes away.
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
asyncio.run(main())
"#;

/// aiosmtpd ([`AIOSMTPD`]) through /usr/bin/python3 (Debian's
/// python3-aiosmtpd) on a free loopback port.
pub struct Aio {
    _guard: Guard,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// Spawns `cmd`, an aiosmtpd script that prints its port first and exits
/// when its stdin closes, and reads that port.
fn spawn_aiosmtpd(cmd: &mut Command) -> (Guard, u16) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn aiosmtpd");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port line");
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("aiosmtpd did not start: {line:?}"));
    (Guard(child), port)
}

impl Aio {
    pub fn start(test: &str, mode: &str, tls: Option<&Certs>, creds: Option<&str>) -> Option<Aio> {
        Aio::start_with(test, mode, tls, creds, None)
    }

    /// With `client_ca`: TLS clients must present a certificate it signed.
    pub fn start_with(
        test: &str,
        mode: &str,
        tls: Option<&Certs>,
        creds: Option<&str>,
        client_ca: Option<&Path>,
    ) -> Option<Aio> {
        let py = aiosmtpd_python(test, "aiosmtpd")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let script = write_file(dir.path(), "server.py", AIOSMTPD.as_bytes());
        let out = dir.path().join("out");
        std::fs::create_dir(&out).expect("mkdir");
        let mut cmd = Command::new(py);
        cmd.arg(&script).arg(mode).arg(&out);
        match tls {
            Some(c) => cmd.arg(&c.cert).arg(&c.key),
            None => cmd.arg("").arg(""),
        };
        cmd.arg(creds.unwrap_or(""));
        if let Some(ca) = client_ca {
            cmd.arg(ca);
        }
        let (guard, port) = spawn_aiosmtpd(&mut cmd);
        Some(Aio {
            _guard: guard,
            port,
            dir,
        })
    }

    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Message `n` as received, and its envelope (JSON text).
    pub fn message(&self, n: usize) -> (Vec<u8>, String) {
        let out = self.dir.path().join("out");
        let msg = std::fs::read(out.join(format!("{n}.eml")))
            .unwrap_or_else(|e| panic!("message {n} not received: {e}"));
        let env = std::fs::read_to_string(out.join(format!("{n}.env"))).expect("envelope");
        (msg, env)
    }

    pub fn count(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("out"))
            .expect("out")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "eml"))
            })
            .count()
    }
}

// ------------------------------------------------------------ aiosmtpd LMTP

/// aiosmtpd's LMTP class: RCPT refuses local parts starting with `nouser`;
/// after the message, recipients starting with `full` get 552 and those
/// starting with `later` 452, the others 250 (RFC 2033 §4.2: one reply
/// each, in RCPT order). Each message is written as N.eml with N.rcpts.
const AIO_LMTP: &str = r#"
import asyncio, os, sys, threading
from aiosmtpd.lmtp import LMTP

outdir = sys.argv[1]

class Handler:
    count = 0
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nouser"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"
    async def handle_DATA(self, server, session, envelope):
        n = Handler.count
        Handler.count += 1
        replies = []
        delivered = []
        for r in envelope.rcpt_tos:
            if r.startswith("full"):
                replies.append("552 5.2.2 %s: mailbox full" % r)
            elif r.startswith("later"):
                replies.append("452 4.2.2 %s: try later" % r)
            else:
                replies.append("250 2.0.0 %s: delivered" % r)
                delivered.append(r)
        with open(os.path.join(outdir, "%d.rcpts" % n), "w") as f:
            f.write("\n".join(delivered))
        with open(os.path.join(outdir, "%d.eml" % n), "wb") as f:
            f.write(envelope.original_content)
        return "\r\n".join(replies)

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: LMTP(Handler(), hostname="lmtp.test", decode_data=False),
        "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
asyncio.run(main())
"#;

/// aiosmtpd's LMTP server ([`AIO_LMTP`]) on a free loopback port.
pub struct Lmtp {
    _guard: Guard,
    port: u16,
    dir: tempfile::TempDir,
}

impl Lmtp {
    /// None when aiosmtpd is absent (skipped loudly, see [`absent`]).
    pub fn start(test: &str) -> Option<Lmtp> {
        let py = aiosmtpd_python(test, "aiosmtpd.lmtp")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        std::fs::create_dir(&out).expect("mkdir");
        let (guard, port) = spawn_aiosmtpd(Command::new(py).arg("-c").arg(AIO_LMTP).arg(&out));
        Some(Lmtp {
            _guard: guard,
            port,
            dir,
        })
    }

    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Message `n` as the server received it, or None.
    pub fn message(&self, n: usize) -> Option<Vec<u8>> {
        std::fs::read(self.dir.path().join("out").join(format!("{n}.eml"))).ok()
    }

    /// The recipients message `n` was delivered to, or None if not received.
    pub fn delivered(&self, n: usize) -> Option<Vec<String>> {
        let out = self.dir.path().join("out");
        std::fs::read_to_string(out.join(format!("{n}.rcpts")))
            .ok()
            .map(|t| t.lines().map(str::to_owned).collect())
    }
}

// ---------------------------------------------------------------- smtp-sink

/// Postfix's smtp-sink on a free port (as `nobody` when we are root), with
/// extra options; with [`Sink::dumping`], each transaction is written to a
/// directory of its own (X-Mail-Args, X-Rcpt-Args, X-Client-Proto, then the
/// message).
pub struct Sink {
    _guard: Guard,
    port: u16,
    dump: Option<tempfile::TempDir>,
}

impl Sink {
    /// None when smtp-sink is absent ([`absent`]).
    pub fn start(test: &str, opts: &[&str]) -> Option<Sink> {
        let prog = sbin_peer("smtp-sink", test)?;
        let port = free_port();
        let mut cmd = Command::new(prog);
        if is_root() {
            cmd.args(["-u", "nobody"]);
        }
        let mut child = cmd
            .args(opts)
            .arg(format!("127.0.0.1:{port}"))
            .arg("64")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn smtp-sink");
        wait_listening(
            format!("127.0.0.1:{port}").parse().unwrap(),
            "smtp-sink",
            &mut child,
        );
        Some(Sink {
            _guard: Guard(child),
            port,
            dump: None,
        })
    }

    /// Dumping each transaction (`-d`), for [`Sink::dumps`].
    pub fn dumping(test: &str, opts: &[&str]) -> Option<Sink> {
        let dump = tempfile::tempdir().expect("tempdir");
        // smtp-sink writes as nobody when we are root.
        std::fs::set_permissions(
            dump.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .expect("chmod");
        let pattern = format!("{}/%M.", dump.path().display());
        let mut sink = Sink::start(test, &[opts, &["-d", &pattern]].concat())?;
        sink.dump = Some(dump);
        Some(sink)
    }

    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The dumped transactions (waits briefly: smtp-sink writes after its
    /// reply).
    pub fn dumps(&self, want: usize) -> Vec<String> {
        let dir = self.dump.as_ref().expect("started with Sink::dumping");
        let start = Instant::now();
        loop {
            let mut got: Vec<String> = std::fs::read_dir(dir.path())
                .expect("dump dir")
                .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("read"))
                .collect();
            if got.len() >= want && got.iter().all(|d| d.contains("\n\n")) {
                got.sort();
                return got;
            }
            assert!(start.elapsed() < PATIENCE, "smtp-sink dumped {}", got.len());
            thread::sleep(Duration::from_millis(20));
        }
    }
}

// ---------------------------------------------------------- scripted server

/// A tiny scripted server on a free port for what no real server does: for
/// each line the client sends, `script` gives the bytes to answer (None:
/// close). The first answer (to "") is the greeting.
pub fn fake(
    script: fn(&str) -> Option<&'static [u8]>,
) -> (SocketAddr, thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let h = thread::spawn(move || {
        let mut seen = Vec::new();
        let Ok((mut s, _)) = listener.accept() else {
            return seen;
        };
        let _ = s.set_read_timeout(Some(PATIENCE));
        let mut r = BufReader::new(s.try_clone().expect("clone"));
        let mut line = String::new();
        while let Some(answer) = script(line.trim_end()) {
            if s.write_all(answer).is_err() {
                break;
            }
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => seen.push(line.trim_end().to_owned()),
            }
        }
        seen
    });
    (addr, h)
}
