//! smtp-recv over loopback sockets: real clients no one here wrote (swaks,
//! msmtp, Python smtplib, Postfix smtp-source), raw dialogues for every
//! smuggling vector, limit and injected failure, storage and durability.
//!
//! Every test picks free ports (`-l 127.0.0.1:0 --ready-file`), and every
//! process it starts is killed and reaped by a guard, whatever happens.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::*;

/// Longest any one test waits for anything: a hang fails instead of blocking.
const PATIENCE: Duration = Duration::from_secs(20);

/// A running smtp-recv, killed and reaped on drop.
struct Server {
    child: Option<Child>,
    addr: SocketAddr,
    dir: Option<tempfile::TempDir>,
}

/// How a server run ended (its directory lives as long as this).
struct Ended {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts smtp-recv on a free loopback port with `args`, and waits until
    /// its ready file says where it listens.
    fn start(args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let ready = dir.path().join("ready");
        let stderr = dir.path().join("stderr");
        let child = Command::new(bin("smtp-recv"))
            .args(["-l", "127.0.0.1:0", "--ready-file"])
            .arg(&ready)
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("stdout")).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("spawn smtp-recv");
        // In `server` first: killed on drop also when it never gets ready.
        let mut server = Server {
            child: Some(child),
            addr: "127.0.0.1:1".parse().unwrap(),
            dir: Some(dir),
        };
        server.addr = wait_ready(server.child.as_mut().expect("running"), &ready, &stderr);
        server
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.as_ref().expect("dir").path().join(name)
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.path("stderr")).unwrap_or_default()
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(st.success());
    }

    fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Waits for the server to exit on its own.
    fn wait(mut self) -> Ended {
        let mut child = self.child.take().expect("running");
        let start = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                break st;
            }
            if start.elapsed() > PATIENCE {
                let _ = child.kill();
                let _ = child.wait();
                panic!("smtp-recv did not exit; stderr: {}", self.stderr());
            }
            thread::sleep(Duration::from_millis(5));
        };
        Ended {
            code: status
                .code()
                .unwrap_or_else(|| panic!("killed by a signal: {status:?}")),
            stdout: std::fs::read(self.path("stdout")).unwrap_or_default(),
            stderr: self.stderr(),
            _dir: self.dir.take(),
        }
    }

    /// SIGTERM, then wait.
    fn stop(self) -> Ended {
        self.signal("-TERM");
        self.wait()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Ended {
    fn code(&self, want: i32) -> &Self {
        assert_eq!(self.code, want, "exit code; stderr: {}", self.stderr);
        self
    }
}

/// A raw SMTP client over a socket.
struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.set_nodelay(true).unwrap();
        Client {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }

    /// Reads one whole (possibly multi-line) reply; "" if the server closed.
    fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            match self.r.read_line(&mut line) {
                Ok(0) | Err(_) => return all,
                Ok(_) => {}
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).expect("send");
    }

    /// Sends one command line (CRLF added) and returns the reply.
    fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Sends bytes one at a time, so each may arrive in its own read.
    fn trickle(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.send(&[*b]);
            thread::sleep(Duration::from_micros(300));
        }
    }

    /// Greeting, EHLO, MAIL, RCPT, DATA: ready for the message.
    fn start_data(&mut self, from: &str, to: &str) {
        expect(&self.reply(), 220);
        expect(&self.cmd("EHLO client.example"), 250);
        expect(&self.cmd(&format!("MAIL FROM:<{from}>")), 250);
        expect(&self.cmd(&format!("RCPT TO:<{to}>")), 250);
        expect(&self.cmd("DATA"), 354);
    }

    /// Whether the server closed the connection (reads end of input).
    fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.r.read(&mut b), Ok(0) | Err(_))
    }
}

/// Asserts a reply's code.
fn expect(reply: &str, code: u16) {
    assert!(
        reply.starts_with(&code.to_string()),
        "want {code}, got {reply:?}"
    );
}

fn code(reply: &str) -> u16 {
    reply.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Files in a directory, sorted, with their contents.
fn files_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<(PathBuf, Vec<u8>)> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.expect("entry").path())
            .map(|p| {
                let b = std::fs::read(&p).expect("read");
                (p, b)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// A peer that may live in /usr/sbin (Postfix tools), which a user's PATH
/// may lack.
fn sbin_peer(program: &str, test: &str) -> Option<PathBuf> {
    let p = Path::new("/usr/sbin").join(program);
    if p.is_file() {
        return Some(p);
    }
    peer(program, test)
}

/// Runs a peer command with a deadline; returns (exit code, stdout+stderr).
fn run_peer(cmd: Command, stdin: &[u8]) -> (i32, String) {
    let r = run_cmd_within(cmd, PATIENCE, stdin);
    (r.code, r.stdout_str() + &r.stderr)
}

const MSG: &[u8] =
    b"From: a@example.org\r\nTo: b@example.net\r\nSubject: hello\r\n\r\nHello, world.\r\n";
const MSG_LF: &[u8] = b"From: a@example.org\nTo: b@example.net\nSubject: hello\n\nHello, world.\n";

/// One complete message over a raw socket.
fn send_one(server: &Server, from: &str, to: &str, msg: &[u8]) -> String {
    let mut c = server.connect();
    c.start_data(from, to);
    c.send(msg);
    c.send(b".\r\n");
    let r = c.reply();
    c.cmd("QUIT");
    r
}

// ---------------------------------------------------------------- basics

#[test]
fn one_message_to_a_file_with_trace_fields() {
    let s = Server::start(&["-o", "out.eml"]);
    let r = send_one(&s, "a@example.org", "b@example.net", MSG);
    expect(&r, 250);
    let out = s.path("out.eml");
    let end = s.wait();
    end.code(0);
    let stored = std::fs::read(out).expect("stored");
    assert!(
        stored.starts_with(b"Return-Path: <a@example.org>\n"),
        "{}",
        String::from_utf8_lossy(&stored)
    );
    let text = String::from_utf8_lossy(&stored);
    assert!(text.contains("Received: from client.example"), "{text}");
    assert!(text.contains("ESMTP"), "{text}");
    assert_eq!(strip_trace(&stored), MSG_LF);
    assert!(
        end.stderr.contains("listening on 127.0.0.1:"),
        "{}",
        end.stderr
    );
    // One line per message, the program's name once.
    assert!(
        end.stderr
            .lines()
            .any(|l| l.starts_with("smtp-recv: stored ")
                && l.contains("from <a@example.org> to <b@example.net>")),
        "{}",
        end.stderr
    );
}

#[test]
fn default_output_is_stdout_and_quiet_silences_the_message_line() {
    let s = Server::start(&["-q"]);
    expect(&send_one(&s, "a@example.org", "b@example.net", MSG), 250);
    let end = s.wait();
    end.code(0);
    assert_eq!(strip_trace(&end.stdout), MSG_LF);
    assert!(!end.stderr.contains("stored"), "{}", end.stderr);
}

#[test]
fn count_two_on_stdout_is_mbox_separated() {
    let s = Server::start(&["-n", "2", "-q"]);
    for _ in 0..2 {
        expect(
            &send_one(
                &s,
                "a@example.org",
                "b@example.net",
                b"Subject: x\r\n\r\nFrom here\r\n",
            ),
            250,
        );
    }
    let end = s.wait();
    end.code(0);
    let out = String::from_utf8_lossy(&end.stdout);
    assert_eq!(
        out.matches("\nFrom a@example.org ").count() + usize::from(out.starts_with("From ")),
        2,
        "{out}"
    );
    assert!(out.contains("\n>From here\n"), "{out}");
}

#[test]
fn ready_file_lists_every_listener() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let mut child = Command::new(bin("smtp-recv"))
        .args([
            "-l",
            "127.0.0.1:0",
            "-l",
            "127.0.0.1:0",
            "-o",
            "/dev/null",
            "--ready-file",
        ])
        .arg(&ready)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !ready.exists() && start.elapsed() < PATIENCE {
        thread::sleep(Duration::from_millis(5));
    }
    let text = std::fs::read_to_string(&ready).unwrap_or_default();
    let addrs: Vec<SocketAddr> = text.lines().map(|l| l.parse().unwrap()).collect();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(addrs.len(), 2, "{text}");
    assert_ne!(addrs[0], addrs[1]);
    assert!(addrs.iter().all(|a| a.port() != 0));
}

#[test]
fn ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        skipped("ipv6_loopback: no IPv6 loopback here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let mut child = Command::new(bin("smtp-recv"))
        .args(["-l", "[::1]:0", "-o", "/dev/null", "-q", "--ready-file"])
        .arg(&ready)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !ready.exists() && start.elapsed() < PATIENCE {
        thread::sleep(Duration::from_millis(5));
    }
    let addr: SocketAddr = std::fs::read_to_string(&ready)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(addr.is_ipv6());
    let mut c = Client::connect(addr);
    c.start_data("a@example.org", "b@example.net");
    c.send(MSG);
    expect(&c.cmd("."), 250);
    c.cmd("QUIT");
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(0));
}

#[test]
fn stdio_session_uses_the_same_session_code() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.eml");
    let script = b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: s\r\n\r\n..dot\r\n.\r\nQUIT\r\n";
    let r = run(
        "smtp-recv",
        &["--stdio", "-n", "1", "-q", "-o", out.to_str().unwrap()],
        script,
    );
    r.code(0);
    let replies = r.stdout_str();
    let codes: Vec<u16> = replies
        .lines()
        .filter(|l| l.as_bytes().get(3) == Some(&b' '))
        .map(code)
        .collect();
    assert_eq!(codes, [220, 250, 250, 250, 354, 250, 221], "{replies}");
    assert!(replies.lines().all(|l| l.len() <= 512));
    assert_eq!(
        strip_trace(&std::fs::read(out).unwrap()),
        b"Subject: s\n\n.dot\n"
    );
}

#[test]
fn stdio_session_that_ends_early_is_75_with_count() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.eml");
    run(
        "smtp-recv",
        &["--stdio", "-n", "1", "-o", out.to_str().unwrap()],
        b"QUIT\r\n",
    )
    .code(75)
    .one_line_error("smtp-recv");
}

// ----------------------------------------------------------- bad usage

#[test]
fn bad_usage_is_64_on_one_line() {
    for args in [
        &["--no-such-flag"][..],
        &["-l", "not-an-address"],
        &["--stdio"],
        &["--envelope-json", "-"],
        &["--stdio", "-o", "x", "--envelope-json", "-"],
        &["--tls", "implicit", "-o", "x"],
        &["--tls-cert", "c.pem", "-o", "x"],
        &["-o", "x", "--maildir", "y"],
        &["--reply", "nowhere=550", "-o", "x"],
        &["--reply", "rcpt=99", "-o", "x"],
        &["--delay", "mail=forever", "-o", "x"],
        &["--idle-timeout", "0", "-o", "x"],
        &["--auth-file", "f", "--auth-any", "-o", "x"],
        &["-n", "-1"],
        &["--hostname", "bad host\r\n250 forged", "-o", "x"],
        &["extra-operand"],
    ] {
        let r = run("smtp-recv", args, b"");
        assert_eq!(r.code, 64, "{args:?}: {}", r.stderr);
        r.one_line_error("smtp-recv");
    }
}

#[test]
fn bug_config_errors_name_the_option_and_file() {
    // `smtp-recv: /nonexistent/c.pem: No such file...` did not say which
    // option; a junk certificate did not say which file.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let j = junk.to_str().unwrap();
    for (args, want) in [
        (
            ["--tls-cert", "/nonexistent/c.pem", "--tls-key", j],
            "smtp-recv: --tls-cert /nonexistent/c.pem: No such file".to_owned(),
        ),
        (
            ["--tls-cert", j, "--tls-key", "/nonexistent/k.pem"],
            "smtp-recv: --tls-key /nonexistent/k.pem: No such file".to_owned(),
        ),
        (
            ["--tls-cert", j, "--tls-key", j],
            format!("smtp-recv: --tls-cert {j}, --tls-key {j}: no certificate found"),
        ),
    ] {
        let a = [&args[..], &["-o", "/dev/null", "-l", "127.0.0.1:0"]].concat();
        let r = run("smtp-recv", &a, b"");
        r.code(78).one_line_error("smtp-recv");
        assert!(r.stderr.starts_with(&want), "{args:?}: {}", r.stderr);
    }
    let r = run(
        "smtp-recv",
        &["--auth-file", "/nonexistent/u", "-o", "/dev/null"],
        b"",
    );
    r.code(78);
    assert!(
        r.stderr
            .starts_with("smtp-recv: --auth-file /nonexistent/u: "),
        "{}",
        r.stderr
    );
}

#[test]
fn bug_tls_handshake_warning_names_the_client() {
    // "warning: TLS handshake failed: ..." did not say who.
    let s = Server::start(&["-n", "0", "-o", "/dev/null", "--tls-self-signed"]);
    let mut c = s.connect();
    expect(&c.reply(), 220);
    expect(&c.cmd("EHLO x"), 250);
    expect(&c.cmd("STARTTLS"), 220);
    c.send(b"this is not a TLS ClientHello\r\n");
    // A TLS alert may come first; then the server closes.
    let mut rest = Vec::new();
    let _ = c.r.read_to_end(&mut rest);
    let local = c.w.local_addr().unwrap();
    let ended = s.stop();
    let line = ended
        .stderr
        .lines()
        .find(|l| l.contains("TLS handshake failed"))
        .unwrap_or_else(|| panic!("no warning: {}", ended.stderr))
        .to_owned();
    assert!(
        line.starts_with(&format!(
            "smtp-recv: warning: {local}: TLS handshake failed: "
        )),
        "{line}"
    );
}

#[test]
fn unusable_tls_or_auth_files_are_78() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let badauth = dir.path().join("auth");
    std::fs::write(&badauth, "no colon on this line\n").unwrap();
    let j = junk.to_str().unwrap();
    for args in [
        vec![
            "--tls-cert",
            "/nonexistent/c.pem",
            "--tls-key",
            "/nonexistent/k.pem",
        ],
        vec!["--tls-cert", j, "--tls-key", j],
        vec!["--auth-file", "/nonexistent/users"],
        vec!["--auth-file", badauth.to_str().unwrap()],
    ] {
        let mut a = args.clone();
        a.extend(["-o", "/dev/null", "-l", "127.0.0.1:0"]);
        let r = run("smtp-recv", &a, b"");
        assert_eq!(r.code, 78, "{args:?}: {}", r.stderr);
        r.one_line_error("smtp-recv");
        assert!(
            !r.stderr.contains("no colon on this line"),
            "file contents leaked: {}",
            r.stderr
        );
    }
}

#[test]
fn storage_that_cannot_be_opened_is_74() {
    // A path under a regular file fails even for root (ENOTDIR).
    for args in [
        ["--maildir", "/etc/passwd/Mail"],
        ["--dir", "/etc/passwd/d"],
        ["-o", "/etc/passwd/x.mbox"],
    ] {
        let mut a = args.to_vec();
        a.extend(["-l", "127.0.0.1:0"]);
        let r = run("smtp-recv", &a, b"");
        assert_eq!(r.code, 74, "{args:?}: {}", r.stderr);
        r.one_line_error("smtp-recv");
    }
}

#[test]
fn address_in_use_is_74() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let r = run("smtp-recv", &["-l", &addr, "-o", "/dev/null"], b"");
    r.code(74).one_line_error("smtp-recv");
}

// -------------------------------------------------- real clients (peers)

fn swaks(server: &Server, test: &str, extra: &[&str]) -> Option<(i32, String)> {
    let swaks = peer("swaks", test)?;
    let mut cmd = Command::new(swaks);
    cmd.args([
        "--server",
        &server.addr.to_string(),
        "--helo",
        "client.example",
    ])
    .args(extra);
    Some(run_peer(cmd, b""))
}

/// The one message a server run stored with `-o out.eml`.
fn stored_by(server: Server) -> (Ended, Vec<u8>) {
    let out = server.path("out.eml");
    let end = server.wait();
    let stored = std::fs::read(out).unwrap_or_default();
    (end, stored)
}

#[test]
fn swaks_plain() {
    let s = Server::start(&["-o", "out.eml"]);
    let Some((code, log)) = swaks(
        &s,
        "swaks_plain",
        &[
            "--from",
            "a@example.org",
            "--to",
            "b@example.net",
            "--header",
            "Subject: plain",
        ],
    ) else {
        return;
    };
    assert_eq!(code, 0, "{log}");
    let (end, stored) = stored_by(s);
    end.code(0);
    let text = String::from_utf8_lossy(&stored);
    assert!(text.starts_with("Return-Path: <a@example.org>\n"), "{text}");
    assert!(text.contains("Subject: plain\n"), "{text}");
    assert!(!text.contains('\r'), "stored with CRLF: {text:?}");
}

#[test]
fn swaks_pipeline() {
    let s = Server::start(&["-o", "out.eml"]);
    let Some((code, log)) = swaks(
        &s,
        "swaks_pipeline",
        &[
            "--pipeline",
            "--from",
            "a@example.org",
            "--to",
            "b@example.net,c@example.net",
        ],
    ) else {
        return;
    };
    assert_eq!(code, 0, "{log}");
    let (end, stored) = stored_by(s);
    end.code(0);
    assert!(
        end.stderr.contains("to <b@example.net> <c@example.net>"),
        "{}",
        end.stderr
    );
    assert!(!stored.is_empty());
}

#[test]
fn swaks_starttls_against_a_self_signed_certificate() {
    let s = Server::start(&[
        "-o",
        "out.eml",
        "--tls-self-signed",
        "--envelope-json",
        "env.json",
    ]);
    let Some((code, log)) = swaks(
        &s,
        "swaks_starttls",
        &["--tls", "--from", "a@example.org", "--to", "b@example.net"],
    ) else {
        return;
    };
    assert_eq!(code, 0, "{log}");
    let json = std::fs::read_to_string(s.path("env.json")).unwrap();
    let (end, stored) = stored_by(s);
    end.code(0);
    assert!(
        String::from_utf8_lossy(&stored).contains("ESMTPS"),
        "{}",
        String::from_utf8_lossy(&stored)
    );
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("json");
    assert_eq!(v["tls"], true, "{json}");
}

#[test]
fn swaks_auth_plain_and_login_with_an_auth_file() {
    for mech in ["PLAIN", "LOGIN"] {
        let dir = tempfile::tempdir().unwrap();
        let users = dir.path().join("users");
        std::fs::write(&users, "alice:s3cret pass\nbob:other\n").unwrap();
        let s = Server::start(&[
            "-o",
            "out.eml",
            "--tls-self-signed",
            "--auth-file",
            users.to_str().unwrap(),
            "--envelope-json",
            "env.json",
        ]);
        let Some((code, log)) = swaks(
            &s,
            "swaks_auth",
            &[
                "--tls",
                "--auth",
                mech,
                "--auth-user",
                "alice",
                "--auth-password",
                "s3cret pass",
                "--from",
                "a@example.org",
                "--to",
                "b@example.net",
            ],
        ) else {
            return;
        };
        assert_eq!(code, 0, "{mech}: {log}");
        let json = std::fs::read_to_string(s.path("env.json")).unwrap();
        let (end, stored) = stored_by(s);
        end.code(0);
        assert!(
            !end.stderr.contains("s3cret"),
            "password logged: {}",
            end.stderr
        );
        assert!(String::from_utf8_lossy(&stored).contains("ESMTPSA"));
        let v: serde_json::Value = serde_json::from_str(json.trim()).expect("json");
        assert_eq!(v["auth_user"], "alice", "{json}");
    }
}

#[test]
fn swaks_wrong_password_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    std::fs::write(&users, "alice:right\n").unwrap();
    let s = Server::start(&[
        "-o",
        "out.eml",
        "--auth-insecure",
        "--auth-file",
        users.to_str().unwrap(),
    ]);
    let Some((code, log)) = swaks(
        &s,
        "swaks_wrong_password",
        &[
            "--auth",
            "PLAIN",
            "--auth-user",
            "alice",
            "--auth-password",
            "wrong",
            "--from",
            "a@example.org",
            "--to",
            "b@example.net",
        ],
    ) else {
        return;
    };
    assert_ne!(code, 0, "{log}");
    assert!(log.contains("535"), "{log}");
}

#[test]
fn swaks_eight_bit_body_and_null_sender() {
    let s = Server::start(&["-o", "out.eml"]);
    let body = "Grüße, naïve café\n";
    let Some((code, log)) = swaks(
        &s,
        "swaks_8bit",
        &[
            "-f",
            "<>",
            "--to",
            "b@example.net",
            "--body",
            body,
            "--header",
            "Content-Type: text/plain; charset=utf-8",
        ],
    ) else {
        return;
    };
    assert_eq!(code, 0, "{log}");
    let (end, stored) = stored_by(s);
    end.code(0);
    let text = String::from_utf8(stored).expect("8-bit body kept as UTF-8");
    assert!(text.starts_with("Return-Path: <>\n"), "{text}");
    assert!(text.contains("Grüße, naïve café"), "{text}");
}

fn python(test: &str, script: &str, args: &[&str]) -> Option<(i32, String)> {
    let py = peer("python3", test)?;
    let mut cmd = Command::new(py);
    cmd.arg("-c").arg(script).args(args);
    Some(run_peer(cmd, b""))
}

const PY_SENDMAIL: &str = r#"
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
    s.sendmail("a@example.org", ["b@example.net"], b"Subject: py\r\n\r\nfrom smtplib\r\n.leading dot\r\n")
"#;

#[test]
fn python_smtplib_sendmail() {
    let s = Server::start(&["-o", "out.eml"]);
    let port = s.addr.port().to_string();
    let Some((code, log)) = python("python_sendmail", PY_SENDMAIL, &[&port]) else {
        return;
    };
    assert_eq!(code, 0, "{log}");
    let (end, stored) = stored_by(s);
    end.code(0);
    assert_eq!(
        strip_trace(&stored),
        b"Subject: py\n\nfrom smtplib\n.leading dot\n"
    );
}

const PY_STARTTLS_LOGIN: &str = r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
    s.ehlo("py.example")
    assert "auth" not in s.esmtp_features, s.esmtp_features
    s.starttls(context=ctx)
    s.ehlo("py.example")
    s.login("carol", "pw")
    s.sendmail("a@example.org", ["b@example.net"], "Subject: tls\r\n\r\nsecret\r\n")
"#;

#[test]
fn python_smtplib_starttls_and_login() {
    let s = Server::start(&["-o", "out.eml", "--tls-self-signed", "--auth-any"]);
    let port = s.addr.port().to_string();
    let Some((code, log)) = python("python_starttls", PY_STARTTLS_LOGIN, &[&port]) else {
        return;
    };
    assert_eq!(code, 0, "{log}");
    let (end, stored) = stored_by(s);
    end.code(0);
    let text = String::from_utf8_lossy(&stored);
    assert!(text.contains("ESMTPSA"), "{text}");
    assert!(text.ends_with("\nsecret\n"), "{text}");
}

const PY_SMTPUTF8: &str = r#"
import smtplib, sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "jörg@example.org"
m["To"] = "δοκιμή@παράδειγμα.δοκιμή"
m["Subject"] = "ünïcode"
m.set_content("Grüße\n")
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
    s.send_message(m)
"#;

#[test]
fn python_smtplib_send_message_with_smtputf8() {
    let s = Server::start(&["-o", "out.eml", "--envelope-json", "env.json"]);
    let port = s.addr.port().to_string();
    let Some((code, log)) = python("python_smtputf8", PY_SMTPUTF8, &[&port]) else {
        return;
    };
    assert_eq!(code, 0, "{log}");
    let json = std::fs::read_to_string(s.path("env.json")).unwrap();
    let (end, stored) = stored_by(s);
    end.code(0);
    let text = String::from_utf8(stored).expect("utf-8");
    assert!(
        text.starts_with("Return-Path: <jörg@example.org>\n"),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("json");
    assert_eq!(v["rcpt_to"][0], "δοκιμή@παράδειγμα.δοκιμή", "{json}");
}

#[test]
fn python_smtplib_smtputf8_refused_when_hidden() {
    let s = Server::start(&["-o", "out.eml", "--no-smtputf8"]);
    let port = s.addr.port().to_string();
    let Some((code, log)) = python("python_smtputf8_hidden", PY_SMTPUTF8, &[&port]) else {
        return;
    };
    // smtplib itself refuses to send a UTF-8 address to a server without SMTPUTF8.
    assert_ne!(code, 0, "{log}");
    assert!(
        log.contains("SMTPUTF8") || log.contains("SMTPNotSupportedError"),
        "{log}"
    );
}

const PY_IMPLICIT_TLS: &str = r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), context=ctx) as s:
    s.sendmail("a@example.org", ["b@example.net"], "Subject: smtps\r\n\r\nx\r\n")
"#;

#[test]
fn python_smtplib_implicit_tls() {
    let s = Server::start(&["-o", "out.eml", "--tls-self-signed", "--tls", "implicit"]);
    let port = s.addr.port().to_string();
    let Some((code, log)) = python("python_implicit_tls", PY_IMPLICIT_TLS, &[&port]) else {
        return;
    };
    assert_eq!(code, 0, "{log}");
    let (end, stored) = stored_by(s);
    end.code(0);
    assert!(String::from_utf8_lossy(&stored).contains("ESMTPS"));
}

/// RFC 3207 §4.2 (CVE-2011-0411): commands sent in the same packet as
/// STARTTLS are discarded, not executed after the handshake.
const PY_STARTTLS_INJECTION: &str = r#"
import socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        l = f.readline().decode()
        lines.append(l)
        if len(l) < 4 or l[3] != "-":
            return "".join(lines)
assert reply().startswith("220")
s.sendall(b"EHLO x.example\r\n")
assert reply().startswith("250")
s.sendall(b"STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n")
r = reply()
assert r.startswith("220"), r
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s)
f = t.makefile("rb")
t.sendall(b"EHLO x.example\r\n")
r = reply()
assert r.startswith("250"), r
t.sendall(b"RCPT TO:<b@example.net>\r\n")
r = reply()
assert r.startswith("503"), "injected MAIL was executed: " + r
t.sendall(b"QUIT\r\n")
assert reply().startswith("221")
"#;

#[test]
fn starttls_discards_commands_sent_with_it() {
    let s = Server::start(&["-o", "out.eml", "--tls-self-signed"]);
    let port = s.addr.port().to_string();
    let Some((code, log)) = python("starttls_injection", PY_STARTTLS_INJECTION, &[&port]) else {
        return;
    };
    assert_eq!(code, 0, "{log}");
}

fn msmtp(server: &Server, test: &str, extra: &[&str]) -> Option<(i32, String)> {
    let msmtp = peer("msmtp", test)?;
    let mut cmd = Command::new(msmtp);
    cmd.args(["-C", "/dev/null", "--host=127.0.0.1"])
        .arg(format!("--port={}", server.addr.port()))
        .args(["--from=a@example.org", "--domain=client.example"])
        .args(extra)
        .arg("b@example.net");
    Some(run_peer(cmd, b"Subject: msmtp\n\nbody line\n.\nlast\n"))
}

#[test]
fn msmtp_plain() {
    let s = Server::start(&["-o", "out.eml"]);
    let Some((code, log)) = msmtp(&s, "msmtp_plain", &[]) else {
        return;
    };
    assert_eq!(code, 0, "{log}");
    let (end, stored) = stored_by(s);
    end.code(0);
    assert!(strip_trace(&stored).ends_with(b"\nSubject: msmtp\n\nbody line\n.\nlast\n"));
}

#[test]
fn msmtp_starttls() {
    let s = Server::start(&["-o", "out.eml", "--tls-self-signed"]);
    let Some((code, log)) = msmtp(
        &s,
        "msmtp_starttls",
        &["--tls=on", "--tls-starttls=on", "--tls-certcheck=off"],
    ) else {
        return;
    };
    assert_eq!(code, 0, "{log}");
    let (end, stored) = stored_by(s);
    end.code(0);
    assert!(String::from_utf8_lossy(&stored).contains("ESMTPS"));
    assert!(strip_trace(&stored).ends_with(b"\nlast\n"));
}

#[test]
fn smtp_source_many_messages_over_parallel_sessions() {
    let Some(src) = sbin_peer("smtp-source", "smtp_source_many") else {
        return;
    };
    let s = Server::start(&["-n", "50", "-q", "--maildir", "Mail"]);
    let mut cmd = Command::new(src);
    cmd.args([
        "-s",
        "4",
        "-m",
        "50",
        "-l",
        "1500",
        "-f",
        "a@example.org",
        "-t",
        "b@example.net",
    ])
    .arg(s.addr.to_string());
    let (code, log) = run_peer(cmd, b"");
    assert_eq!(code, 0, "{log}");
    let new = s.path("Mail/new");
    let end = s.wait();
    end.code(0);
    let files = files_in(&new);
    assert_eq!(files.len(), 50);
    assert!(files_in(&end_dir(&new, "tmp")).is_empty());
}

fn end_dir(new: &Path, sibling: &str) -> PathBuf {
    new.parent().unwrap().join(sibling)
}

#[test]
fn smtp_source_until_sigterm() {
    let Some(src) = sbin_peer("smtp-source", "smtp_source_until_sigterm") else {
        return;
    };
    let s = Server::start(&[
        "-n",
        "0",
        "-q",
        "-o",
        "/dev/null",
        "--envelope-json",
        "env.json",
    ]);
    let mut cmd = Command::new(src);
    cmd.args(["-s", "2", "-m", "20", "-l", "1000"])
        .arg(s.addr.to_string());
    let (code, log) = run_peer(cmd, b"");
    assert_eq!(code, 0, "{log}");
    let json = s.path("env.json");
    let ended = s.stop();
    ended.code(0);
    assert_eq!(std::fs::read_to_string(json).unwrap().lines().count(), 20);
}

// ------------------------------------------------------- SMTP smuggling

/// What a smuggling attempt carries after its fake end of data: a whole
/// second transaction that must never be executed.
const SMUGGLED: &[u8] =
    b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nSmuggled\r\n";

/// Ways to deliver a payload: one write, byte by byte, and split at each
/// offset from the start of the vector (`at`) to its end.
fn deliveries(payload: &[u8], at: usize, len: usize) -> Vec<Vec<Vec<u8>>> {
    let mut v = vec![vec![payload.to_vec()]];
    v.push(payload.iter().map(|b| vec![*b]).collect());
    for cut in at..=at + len {
        v.push(vec![payload[..cut].to_vec(), payload[cut..].to_vec()]);
    }
    v
}

/// Sends `Testing` + vector + a smuggled transaction + the real end of data,
/// in every delivery; then, on the same connection, a clean message.
/// Returns (replies to the smuggling message, stored messages).
fn smuggle(vector: &[u8], extra: &[&str]) -> (Vec<String>, Vec<Vec<u8>>) {
    let mut args = vec!["-n", "0", "-q", "--dir", "d"];
    args.extend(extra);
    let s = Server::start(&args);
    let mut payload = b"Testing".to_vec();
    let at = payload.len();
    payload.extend_from_slice(vector);
    payload.extend_from_slice(SMUGGLED);
    payload.extend_from_slice(b".\r\n");
    let mut replies = Vec::new();
    let ways = deliveries(&payload, at, vector.len());
    for pieces in &ways {
        let mut c = s.connect();
        c.start_data("a@example.org", "b@example.net");
        for (i, p) in pieces.iter().enumerate() {
            if pieces.len() > 2 {
                c.trickle(p);
            } else {
                c.send(p);
                if i + 1 < pieces.len() {
                    thread::sleep(Duration::from_millis(2));
                }
            }
        }
        replies.push(c.reply());
        // Nothing smuggled was executed: the next reply is VRFY's.
        expect(&c.cmd("VRFY someone"), 252);
        expect(&c.cmd("MAIL FROM:<a@example.org>"), 250);
        expect(&c.cmd("RCPT TO:<b@example.net>"), 250);
        expect(&c.cmd("DATA"), 354);
        c.send(MSG);
        expect(&c.cmd("."), 250);
        expect(&c.cmd("QUIT"), 221);
    }
    let d = s.path("d");
    let ended = s.stop();
    ended.code(0);
    let stored: Vec<Vec<u8>> = files_in(&d)
        .into_iter()
        .map(|(_, b)| strip_trace(&b))
        .collect();
    let clean = stored.iter().filter(|b| b.as_slice() == MSG_LF).count();
    assert!(clean >= ways.len(), "clean messages lost: {stored:?}");
    let others: Vec<Vec<u8>> = stored
        .into_iter()
        .filter(|b| b.as_slice() != MSG_LF)
        .collect();
    (replies, others)
}

/// A vector with a bare CR or LF: refused (550, nothing stored) by default,
/// and stored as content, never as an end of data, with `--bare-lf normalize`.
fn refused_by_default(vector: &[u8]) {
    let (replies, stored) = smuggle(vector, &[]);
    for r in &replies {
        expect(r, 550);
    }
    assert!(stored.is_empty(), "stored: {stored:?}");
    let (replies, stored) = smuggle(vector, &["--bare-lf", "normalize"]);
    for r in &replies {
        expect(r, 250);
    }
    assert_eq!(stored.len(), replies.len());
    // Every CRLF, bare CR and bare LF is a line end (stored as LF); the
    // would-be terminator is content, its dot kept (it is not stuffing).
    let mut text = b"Testing".to_vec();
    text.extend_from_slice(vector);
    text.extend_from_slice(SMUGGLED);
    let mut want = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match (text[i], text.get(i + 1)) {
            (b'\r', Some(b'\n')) => {
                want.push(b'\n');
                i += 2;
            }
            (b'\r' | b'\n', _) => {
                want.push(b'\n');
                i += 1;
            }
            (b, _) => {
                want.push(b);
                i += 1;
            }
        }
    }
    for m in &stored {
        assert_eq!(String::from_utf8_lossy(m), String::from_utf8_lossy(&want));
    }
}

#[test]
fn smuggling_lf_dot_lf() {
    refused_by_default(b"\n.\n");
}

#[test]
fn smuggling_lf_dot_crlf() {
    refused_by_default(b"\n.\r\n");
}

#[test]
fn smuggling_crlf_dot_lf() {
    refused_by_default(b"\r\n.\n");
}

#[test]
fn smuggling_cr_dot_cr() {
    refused_by_default(b"\r.\r");
}

#[test]
fn smuggling_cr_dot_crlf() {
    refused_by_default(b"\r.\r\n");
}

#[test]
fn smuggling_crlf_dot_cr() {
    refused_by_default(b"\r\n.\r");
}

#[test]
fn smuggling_lf_lf_dot_crlf() {
    refused_by_default(b"\n\n.\r\n");
}

#[test]
fn smuggling_nul_before_dot_cr() {
    refused_by_default(b"\r\n\x00.\r");
}

#[test]
fn smuggling_nul_before_dot_lf() {
    refused_by_default(b"\r\n\x00.\n");
}

/// NUL around the dot with proper CRLFs: the line is not `.`, so the data
/// goes on; the whole text is one message, stored byte for byte.
fn stored_whole(vector: &[u8], line: &[u8]) {
    let (replies, stored) = smuggle(vector, &[]);
    for r in &replies {
        expect(r, 250);
    }
    assert_eq!(stored.len(), replies.len());
    let mut want = b"Testing\n".to_vec();
    want.extend_from_slice(line);
    want.extend_from_slice(
        b"\nMAIL FROM:<evil@example.org>\nRCPT TO:<victim@example.net>\nDATA\nSmuggled\n",
    );
    for m in &stored {
        assert_eq!(m, &want);
    }
}

#[test]
fn smuggling_nul_before_dot_crlf() {
    stored_whole(b"\r\n\x00.\r\n", b"\x00.");
}

#[test]
fn smuggling_nul_after_dot_crlf() {
    // RFC 5321 §4.5.2: a line starting with "." and more is unstuffed.
    stored_whole(b"\r\n.\x00\r\n", b"\x00");
}

#[test]
fn smuggling_truncated_end_of_data_is_not_delivered() {
    let s = Server::start(&["-n", "0", "-q", "--dir", "d"]);
    for pieces in [
        vec![&b"Testing\r\n."[..]],
        vec![b"Testing\r", b"\n."],
        vec![b"Testing\r\n", b"."],
    ] {
        let mut c = s.connect();
        c.start_data("a@example.org", "b@example.net");
        for p in pieces {
            c.send(p);
            thread::sleep(Duration::from_millis(2));
        }
        c.w.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(c.reply(), "", "a reply to a truncated message");
    }
    let d = s.path("d");
    let ended = s.stop();
    ended.code(0);
    assert!(files_in(&d).is_empty());
}

#[test]
fn dot_unstuffing_is_exact_wherever_reads_split() {
    let msg = b"..\r\n...\r\n.x\r\n..\r\nend.\r\n.\r\n";
    let want = b".\n..\nx\n.\nend.\n";
    let s = Server::start(&["-n", "0", "-q", "--dir", "d"]);
    for pieces in deliveries(msg, 0, msg.len() - 1) {
        let mut c = s.connect();
        c.start_data("a@example.org", "b@example.net");
        for p in &pieces {
            c.send(p);
            thread::sleep(Duration::from_millis(1));
        }
        expect(&c.reply(), 250);
        c.cmd("QUIT");
    }
    let d = s.path("d");
    let ended = s.stop();
    ended.code(0);
    let stored = files_in(&d);
    assert!(!stored.is_empty());
    for (_, m) in stored {
        assert_eq!(strip_trace(&m), want);
    }
}

// ------------------------------------------------- pipelining, protocol

#[test]
fn a_whole_transaction_in_one_write_gets_its_replies_in_order() {
    let s = Server::start(&["-o", "out.eml"]);
    let mut c = s.connect();
    expect(&c.reply(), 220);
    let mut all = b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\n".to_vec();
    all.extend_from_slice(MSG);
    all.extend_from_slice(b".\r\nQUIT\r\n");
    c.send(&all);
    let codes: Vec<u16> = (0..7).map(|_| code(&c.reply())).collect();
    assert_eq!(codes, [250, 250, 250, 250, 354, 250, 221]);
    let (end, stored) = stored_by(s);
    end.code(0);
    assert_eq!(strip_trace(&stored), MSG_LF);
}

#[test]
fn ehlo_advertises_and_hides_extensions() {
    let s = Server::start(&[
        "-o",
        "/dev/null",
        "-n",
        "0",
        "--max-size",
        "12345",
        "--hostname",
        "mx.example.test",
    ]);
    let mut c = s.connect();
    assert!(c.reply().starts_with("220 mx.example.test "));
    let ehlo = c.cmd("EHLO c.example");
    assert!(ehlo.starts_with("250-mx.example.test"), "{ehlo}");
    for ext in [
        "PIPELINING",
        "SIZE 12345",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "DSN",
        "CHUNKING",
    ] {
        assert!(ehlo.contains(ext), "{ext} missing: {ehlo}");
    }
    assert!(
        !ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"),
        "{ehlo}"
    );
    drop(c);
    drop(s);
    let s = Server::start(&[
        "-o",
        "/dev/null",
        "--no-pipelining",
        "--no-size",
        "--no-8bitmime",
        "--no-smtputf8",
        "--no-enhancedstatuscodes",
        "--no-dsn",
        "--no-chunking",
    ]);
    let mut c = s.connect();
    expect(&c.reply(), 220);
    let ehlo = c.cmd("EHLO c.example");
    for ext in [
        "PIPELINING",
        "SIZE",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "DSN",
        "CHUNKING",
    ] {
        assert!(!ehlo.contains(ext), "{ext} not hidden: {ehlo}");
    }
    let r = c.cmd("NOOP");
    assert!(!r.contains("2.0.0"), "enhanced code sent anyway: {r}");
}

#[test]
fn bdat_chunks_are_stored_exactly() {
    let s = Server::start(&["-o", "out.eml"]);
    let mut c = s.connect();
    expect(&c.reply(), 220);
    expect(&c.cmd("EHLO c.example"), 250);
    expect(&c.cmd("MAIL FROM:<a@example.org>"), 250);
    expect(&c.cmd("RCPT TO:<b@example.net>"), 250);
    let part1 = b"Subject: bdat\r\n\r\n.not stuffed\r\n";
    let part2 = b"last line\r\n";
    c.send(format!("BDAT {}\r\n", part1.len()).as_bytes());
    c.send(part1);
    expect(&c.reply(), 250);
    c.send(format!("BDAT {} LAST\r\n", part2.len()).as_bytes());
    c.send(part2);
    expect(&c.reply(), 250);
    c.cmd("QUIT");
    let (end, stored) = stored_by(s);
    end.code(0);
    assert_eq!(
        strip_trace(&stored),
        b"Subject: bdat\n\n.not stuffed\nlast line\n"
    );
}

#[test]
fn bare_lf_command_lines_are_accepted() {
    let s = Server::start(&["-o", "out.eml"]);
    let mut c = s.connect();
    expect(&c.reply(), 220);
    c.send(b"EHLO c.example\nMAIL FROM:<a@example.org>\nRCPT TO:<b@example.net>\nDATA\n");
    for want in [250, 250, 250, 354] {
        expect(&c.reply(), want);
    }
    c.send(MSG);
    expect(&c.cmd("."), 250);
    c.cmd("QUIT");
    let (end, stored) = stored_by(s);
    end.code(0);
    assert_eq!(strip_trace(&stored), MSG_LF);
}

// ------------------------------------------------------------- limits

#[test]
fn long_command_lines_are_refused_and_discarded() {
    let s = Server::start(&["-o", "/dev/null"]);
    let mut c = s.connect();
    expect(&c.reply(), 220);
    expect(&c.cmd(&format!("NOOP {}", "x".repeat(600))), 500);
    // 10 MB without a line end: read and discarded, memory stays bounded.
    let big = vec![b'y'; 10 << 20];
    let mut w = c.w.try_clone().unwrap();
    let writer = thread::spawn(move || {
        w.write_all(&big).unwrap();
        w.write_all(b"\r\nNOOP\r\n").unwrap();
    });
    expect(&c.reply(), 500);
    expect(&c.reply(), 250);
    writer.join().unwrap();
    // A 1000-byte RCPT (DSN parameters are long) is within its limit.
    expect(&c.cmd("EHLO c.example"), 250);
    expect(&c.cmd("MAIL FROM:<a@example.org>"), 250);
    let orcpt = format!(
        "RCPT TO:<b@example.net> ORCPT=rfc822;{}@example.net",
        "o".repeat(900)
    );
    assert!(code(&c.cmd(&orcpt)) != 500);
}

#[test]
fn message_over_max_size_is_read_then_refused() {
    let s = Server::start(&["-o", "out.eml", "--max-size", "1000"]);
    let mut c = s.connect();
    expect(&c.reply(), 220);
    expect(&c.cmd("EHLO c.example"), 250);
    expect(&c.cmd("MAIL FROM:<a@example.org> SIZE=5000"), 552);
    expect(&c.cmd("MAIL FROM:<a@example.org>"), 250);
    expect(&c.cmd("RCPT TO:<b@example.net>"), 250);
    expect(&c.cmd("DATA"), 354);
    for _ in 0..40 {
        c.send(b"0123456789012345678901234567890123456789012345678\r\n");
    }
    expect(&c.cmd("."), 552);
    // In step: the session goes on, and a small message is stored.
    expect(&c.cmd("MAIL FROM:<a@example.org>"), 250);
    expect(&c.cmd("RCPT TO:<b@example.net>"), 250);
    expect(&c.cmd("DATA"), 354);
    c.send(MSG);
    expect(&c.cmd("."), 250);
    c.cmd("QUIT");
    let (end, stored) = stored_by(s);
    end.code(0);
    assert_eq!(strip_trace(&stored), MSG_LF);
}

#[test]
fn line_over_max_line_is_refused_after_the_data() {
    let s = Server::start(&["-n", "0", "-q", "--dir", "d", "--max-line", "1000"]);
    let mut c = s.connect();
    c.start_data("a@example.org", "b@example.net");
    c.send(
        format!(
            "Subject: x\r\n\r\n{}\r\nMAIL FROM:<x@y.z>\r\n",
            "z".repeat(1200)
        )
        .as_bytes(),
    );
    expect(&c.cmd("."), 500);
    expect(&c.cmd("VRFY x"), 252);
    let d = s.path("d");
    let ended = s.stop();
    ended.code(0);
    assert!(files_in(&d).is_empty());
}

#[test]
fn bug_nonsense_limits_are_usage_errors() {
    // --max-line 0 refused every data line; --max-clients 0 quietly became 1.
    for (flag, bad, good) in [
        ("--max-line", "999", "1000"),
        ("--max-line", "0", "65536"),
        ("--max-clients", "0", "1"),
        ("--max-rcpts", "0", "1"),
        ("--max-size", "0", "1"),
        ("--max-errors", "0", "1"),
    ] {
        // --max-clients does not go with --stdio: listen (a port that is
        // never bound, since the value is refused first).
        let how = if flag == "--max-clients" {
            ["-l", "127.0.0.1:0"]
        } else {
            ["--stdio", "-q"]
        };
        let r = run(
            "smtp-recv",
            &[&how[..], &["-o", "/dev/null", flag, bad]].concat(),
            b"",
        );
        r.code(64).one_line_error("smtp-recv");
        assert!(
            r.stderr.contains(&format!("'{bad}'")) && r.stderr.contains(flag),
            "{}",
            r.stderr
        );
        if flag != "--max-clients" {
            let args = [&how[..], &["-o", "/dev/null", "-n", "0", flag, good]].concat();
            run("smtp-recv", &args, b"QUIT\r\n").code(0);
        }
    }
}

#[test]
fn bug_auth_never_offered_warns_and_help_lists_what_is_offered() {
    // --auth-any without TLS nor --auth-insecure silently never offered
    // AUTH; HELP listed STARTTLS and AUTH anyway.
    let r = run(
        "smtp-recv",
        &["--stdio", "-q", "-o", "/dev/null", "--auth-any"],
        b"EHLO x\r\nHELP\r\nQUIT\r\n",
    );
    r.code(0);
    assert!(
        r.stderr.contains("warning: AUTH will never be offered"),
        "{}",
        r.stderr
    );
    let out = String::from_utf8_lossy(&r.stdout);
    assert!(!out.contains("AUTH") && !out.contains("STARTTLS"), "{out}");
    assert!(out.contains("214 2.0.0 Commands: HELO EHLO"), "{out}");
    let r = run(
        "smtp-recv",
        &[
            "--stdio",
            "-q",
            "-o",
            "/dev/null",
            "--auth-any",
            "--auth-insecure",
        ],
        b"HELP\r\nQUIT\r\n",
    );
    r.code(0);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert!(String::from_utf8_lossy(&r.stdout).contains(" HELP AUTH\r\n"));
}

#[test]
fn recipients_beyond_max_rcpts_get_452() {
    let s = Server::start(&["-o", "/dev/null", "--max-rcpts", "2"]);
    let mut c = s.connect();
    expect(&c.reply(), 220);
    expect(&c.cmd("EHLO c.example"), 250);
    expect(&c.cmd("MAIL FROM:<a@example.org>"), 250);
    expect(&c.cmd("RCPT TO:<b1@example.net>"), 250);
    expect(&c.cmd("RCPT TO:<b2@example.net>"), 250);
    expect(&c.cmd("RCPT TO:<b3@example.net>"), 452);
}

#[test]
fn too_many_errors_close_the_session() {
    let s = Server::start(&["-o", "/dev/null", "--max-errors", "3"]);
    let mut c = s.connect();
    expect(&c.reply(), 220);
    let mut codes = Vec::new();
    for _ in 0..5 {
        let r = c.cmd("BOGUS");
        if r.is_empty() {
            break;
        }
        codes.push(code(&r));
    }
    assert_eq!(codes.last(), Some(&421), "{codes:?}");
    assert!(codes.len() <= 4, "{codes:?}");
    assert!(c.closed());
}

#[test]
fn idle_client_gets_421() {
    let s = Server::start(&["-o", "/dev/null", "--idle-timeout", "0.3"]);
    let mut c = s.connect();
    expect(&c.reply(), 220);
    expect(&c.cmd("EHLO c.example"), 250);
    let r = c.reply();
    expect(&r, 421);
    assert!(c.closed());
}

#[test]
fn session_deadline_ends_a_busy_session() {
    let s = Server::start(&["-o", "/dev/null", "--session-timeout", "0.5"]);
    let mut c = s.connect();
    expect(&c.reply(), 220);
    let start = Instant::now();
    loop {
        let r = c.cmd("NOOP");
        if code(&r) == 421 {
            break;
        }
        expect(&r, 250);
        assert!(start.elapsed() < PATIENCE, "session never ended");
        thread::sleep(Duration::from_millis(50));
    }
    assert!(c.closed());
}

#[test]
fn slow_drip_data_gets_421_and_nothing_is_stored() {
    let s = Server::start(&[
        "-n",
        "0",
        "-q",
        "--dir",
        "d",
        "--idle-timeout",
        "0.4",
        "--min-data-rate",
        "1000000",
    ]);
    let mut c = s.connect();
    c.start_data("a@example.org", "b@example.net");
    let start = Instant::now();
    let mut reply = String::new();
    c.w.set_nonblocking(false).unwrap();
    while start.elapsed() < PATIENCE {
        if c.w.write_all(b"drip\r\n").is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(50));
        c.r.get_ref()
            .set_read_timeout(Some(Duration::from_millis(1)))
            .unwrap();
        let mut line = String::new();
        if c.r.read_line(&mut line).is_ok() && !line.is_empty() {
            reply = line;
            break;
        }
    }
    expect(&reply, 421);
    let d = s.path("d");
    let ended = s.stop();
    ended.code(0);
    assert!(files_in(&d).is_empty());
}

#[test]
fn connections_beyond_max_clients_get_421() {
    let s = Server::start(&["-o", "/dev/null", "--max-clients", "1"]);
    let mut a = s.connect();
    expect(&a.reply(), 220);
    let mut b = s.connect();
    let r = b.reply();
    expect(&r, 421);
    assert!(r.contains("4.3.2"), "{r}");
    assert!(b.closed());
    expect(&a.cmd("NOOP"), 250);
}

// --------------------------------------------------- failure injection

/// Runs a dialogue of (command, expected code) after the greeting.
fn dialogue(s: &Server, greeting: u16, steps: &[(&str, u16)]) -> Client {
    let mut c = s.connect();
    expect(&c.reply(), greeting);
    for (cmd, want) in steps {
        let r = c.cmd(cmd);
        assert_eq!(code(&r), *want, "{cmd}: {r:?}");
    }
    c
}

#[test]
fn injected_connect_reply() {
    let s = Server::start(&["-o", "/dev/null", "--reply", "connect=554 go away"]);
    let mut c = s.connect();
    let r = c.reply();
    assert!(r.starts_with("554") && r.contains("go away"), "{r}");
}

#[test]
fn injected_helo_mail_rcpt_data_rset_quit_replies() {
    let s = Server::start(&[
        "-o",
        "/dev/null",
        "-n",
        "0",
        "--reply",
        "helo=550 no helo",
        "--reply",
        "mail:bad@*=550",
        "--reply",
        "rcpt:*@nowhere.example=551 not here",
        "--reply",
        "data=451",
        "--reply",
        "rset=502",
        "--reply",
        "quit=421 bye",
    ]);
    let mut c = dialogue(&s, 220, &[("EHLO c.example", 550), ("HELO c.example", 550)]);
    drop(c);
    drop(s);
    let s = Server::start(&[
        "-o",
        "/dev/null",
        "-n",
        "0",
        "--reply",
        "mail:bad@*=550",
        "--reply",
        "rcpt:*@nowhere.example=551 not here",
        "--reply",
        "data=451",
        "--reply",
        "rset=502",
    ]);
    c = dialogue(
        &s,
        220,
        &[
            ("EHLO c.example", 250),
            ("MAIL FROM:<bad@example.org>", 550),
            ("MAIL FROM:<good@example.org>", 250),
            ("RCPT TO:<x@nowhere.example>", 551),
            ("RCPT TO:<x@example.net>", 250),
            ("DATA", 451),
            ("RSET", 502),
        ],
    );
    expect(&c.cmd("QUIT"), 221);
}

#[test]
fn injected_quit_reply() {
    let s = Server::start(&["-o", "/dev/null", "--reply", "quit=421 bye"]);
    let mut c = dialogue(&s, 220, &[("EHLO c.example", 250)]);
    expect(&c.cmd("QUIT"), 421);
}

#[test]
fn injected_dot_failure_stores_nothing() {
    let s = Server::start(&[
        "-n",
        "0",
        "-q",
        "--dir",
        "d",
        "--reply",
        "dot=451 try later",
    ]);
    let mut c = s.connect();
    c.start_data("a@example.org", "b@example.net");
    c.send(MSG);
    let r = c.cmd(".");
    assert!(r.starts_with("451") && r.contains("try later"), "{r}");
    let d = s.path("d");
    let ended = s.stop();
    ended.code(0);
    assert!(files_in(&d).is_empty());
}

#[test]
fn reply_once_fails_the_first_attempt_then_accepts() {
    let s = Server::start(&["-o", "out.eml", "--reply-once", "dot=451"]);
    let mut c = s.connect();
    c.start_data("a@example.org", "b@example.net");
    c.send(MSG);
    expect(&c.cmd("."), 451);
    expect(&c.cmd("MAIL FROM:<a@example.org>"), 250);
    expect(&c.cmd("RCPT TO:<b@example.net>"), 250);
    expect(&c.cmd("DATA"), 354);
    c.send(MSG);
    expect(&c.cmd("."), 250);
    c.cmd("QUIT");
    let (end, stored) = stored_by(s);
    end.code(0);
    assert_eq!(strip_trace(&stored), MSG_LF);
}

#[test]
fn injected_disconnect_closes_without_a_reply() {
    let s = Server::start(&["-o", "/dev/null", "--disconnect", "rcpt"]);
    let mut c = dialogue(
        &s,
        220,
        &[("EHLO c.example", 250), ("MAIL FROM:<a@example.org>", 250)],
    );
    assert_eq!(c.cmd("RCPT TO:<b@example.net>"), "");
}

#[test]
fn injected_delay_still_answers() {
    let s = Server::start(&["-o", "/dev/null", "--delay", "mail=0.2"]);
    dialogue(
        &s,
        220,
        &[("EHLO c.example", 250), ("MAIL FROM:<a@example.org>", 250)],
    );
}

#[test]
fn injected_421_closes_the_connection() {
    let s = Server::start(&["-o", "/dev/null", "--reply", "rcpt=421 going down"]);
    let mut c = dialogue(
        &s,
        220,
        &[
            ("EHLO c.example", 250),
            ("MAIL FROM:<a@example.org>", 250),
            ("RCPT TO:<b@example.net>", 421),
        ],
    );
    assert!(c.closed());
}

// ------------------------------------------------ storage, durability

#[test]
fn maildir_rename_failure_answers_451_and_leaves_nothing() {
    let s = Server::start(&["-n", "0", "-q", "--maildir", "Mail"]);
    // Even root cannot rename into new/ once it is a regular file.
    let new = s.path("Mail/new");
    std::fs::remove_dir_all(&new).unwrap();
    std::fs::write(&new, b"").unwrap();
    let r = send_one(&s, "a@example.org", "b@example.net", MSG);
    expect(&r, 451);
    let tmp = s.path("Mail/tmp");
    let ended = s.stop();
    ended.code(0);
    assert!(files_in(&tmp).is_empty(), "partial file left in tmp/");
    assert_eq!(std::fs::read(&new).unwrap(), b"", "new/ was written");
}

#[test]
fn bug_storage_failure_logged_locally_not_sent_to_client() {
    // The reason went to the remote client (server paths, errno text) and
    // nowhere locally.
    let s = Server::start(&["-n", "0", "-q", "--dir", "d"]);
    std::fs::remove_dir_all(s.path("d")).unwrap();
    std::fs::write(s.path("d"), b"").unwrap();
    let r = send_one(&s, "a@example.org", "b@example.net", MSG);
    assert!(
        r.starts_with("451 4.3.0 Error: local storage failure, try again later"),
        "{r}"
    );
    assert!(!r.contains("d/") && !r.contains("directory"), "{r}");
    let err = s.stderr();
    let line = err
        .lines()
        .find(|l| l.contains(": not stored: "))
        .unwrap_or_else(|| panic!("nothing logged: {err}"));
    assert!(line.starts_with("smtp-recv: "), "{line}");
    assert!(
        line.contains("d/.tmp") && line.contains("Not a directory"),
        "{line}"
    );
    // --exec: the command's status stays local too (554 or 451).
    let s = Server::start(&["-n", "0", "-q", "--exec", "cat >/dev/null; exit 3"]);
    let r = send_one(&s, "a@example.org", "b@example.net", MSG);
    assert_eq!(r.trim_end(), "554 5.3.0 Error: message not stored");
    assert!(s.stderr().contains(": not stored: "), "{}", s.stderr());
}

#[test]
fn bug_stdout_reader_gone_stops_serving() {
    // `smtp-recv -n 2 | head -c 10` and a large message: the client got
    // 451 and the receiver kept listening for messages it could never
    // store. Now: 451 for that message, then a quiet exit 0.
    let dir = tempfile::tempdir().expect("tempdir");
    let ready = dir.path().join("ready");
    let mut child = Command::new(bin("smtp-recv"))
        .args(["-l", "127.0.0.1:0", "-n", "2", "--ready-file"])
        .arg(&ready)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("stderr")).expect("stderr"))
        .spawn()
        .expect("spawn smtp-recv");
    // The reader goes away before anything is written.
    drop(child.stdout.take());
    let start = Instant::now();
    let addr: SocketAddr = loop {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            break text.lines().next().expect("address").parse().expect("addr");
        }
        assert!(start.elapsed() < PATIENCE, "never ready");
        thread::sleep(Duration::from_millis(5));
    };
    let mut c = Client::connect(addr);
    c.start_data("a@example.org", "b@example.net");
    c.send(MSG);
    c.send(b".\r\n");
    let r = c.reply();
    assert!(r.starts_with("451 4.3.0 "), "{r}");
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("smtp-recv kept serving after its stdout reader left");
        }
        thread::sleep(Duration::from_millis(5));
    };
    let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{stderr}");
    // Quiet: only the listening line.
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // The session was closed with a reply, not dropped.
    let bye = c.reply();
    assert!(bye.is_empty() || bye.starts_with("421"), "{bye}");
}

#[test]
fn full_disk_answers_451() {
    if !Path::new("/dev/full").exists() {
        skipped("full_disk_answers_451: no /dev/full");
        return;
    }
    let s = Server::start(&["-n", "0", "-q", "-o", "/dev/full"]);
    expect(&send_one(&s, "a@example.org", "b@example.net", MSG), 451);
    let ended = s.stop();
    ended.code(0);
}

#[test]
fn dir_removed_under_us_answers_451() {
    let s = Server::start(&["-n", "0", "-q", "--dir", "d"]);
    std::fs::remove_dir_all(s.path("d")).unwrap();
    std::fs::write(s.path("d"), b"").unwrap();
    expect(&send_one(&s, "a@example.org", "b@example.net", MSG), 451);
    let ended = s.stop();
    ended.code(0);
}

#[test]
fn maildir_stores_into_new_with_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let s = Server::start(&["-n", "2", "-q", "--maildir", "Mail"]);
    for _ in 0..2 {
        expect(&send_one(&s, "a@example.org", "b@example.net", MSG), 250);
    }
    let new = s.path("Mail/new");
    let ended = s.wait();
    ended.code(0);
    let files = files_in(&new);
    assert_eq!(files.len(), 2);
    for (p, b) in files {
        assert_eq!(strip_trace(&b), MSG_LF);
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(
            !name.contains('/') && name.split(':').count() <= 2,
            "{name}"
        );
    }
}

#[test]
fn mbox_gets_from_lines_and_quoting() {
    let s = Server::start(&["-n", "2", "-q", "--mbox", "box"]);
    for _ in 0..2 {
        let m = b"Subject: m\r\n\r\nFrom the start\r\n>From quoted\r\n";
        expect(&send_one(&s, "a@example.org", "b@example.net", m), 250);
    }
    let mbox = s.path("box");
    let ended = s.wait();
    ended.code(0);
    let text = std::fs::read_to_string(mbox).unwrap();
    assert!(text.starts_with("From a@example.org "), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("From ")).count(),
        2,
        "{text}"
    );
    assert_eq!(text.matches("\n>From the start\n").count(), 2, "{text}");
    assert_eq!(text.matches("\n>>From quoted\n").count(), 2, "{text}");
}

#[test]
fn dir_gets_one_eml_file_per_message() {
    let s = Server::start(&["-n", "2", "-q", "--dir", "d"]);
    for _ in 0..2 {
        expect(&send_one(&s, "a@example.org", "b@example.net", MSG), 250);
    }
    let d = s.path("d");
    let ended = s.wait();
    ended.code(0);
    let files = files_in(&d);
    assert_eq!(files.len(), 2);
    for (p, b) in files {
        assert_eq!(p.extension().unwrap(), "eml");
        assert_eq!(strip_trace(&b), MSG_LF);
    }
}

#[test]
fn exec_gets_the_message_and_the_envelope() {
    let s = Server::start(&[
        "-q",
        "--exec",
        "cat > msg.eml; printf '%s|%s|%s|%s' \"$SMTP_MAIL_FROM\" \"$SMTP_RCPT_TO\" \"$SMTP_HELO\" \"$SMTP_CLIENT_ADDR\" > env.txt",
    ]);
    let mut c = s.connect();
    expect(&c.reply(), 220);
    expect(&c.cmd("EHLO client.example"), 250);
    expect(&c.cmd("MAIL FROM:<\"$(touch pwned)\"@example.org>"), 250);
    expect(&c.cmd("RCPT TO:<b@example.net>"), 250);
    expect(&c.cmd("RCPT TO:<c@example.net>"), 250);
    expect(&c.cmd("DATA"), 354);
    c.send(MSG);
    expect(&c.cmd("."), 250);
    c.cmd("QUIT");
    let (msg, env, pwned) = (s.path("msg.eml"), s.path("env.txt"), s.path("pwned"));
    let ended = s.wait();
    ended.code(0);
    assert_eq!(strip_trace(&std::fs::read(msg).unwrap()), MSG_LF);
    let env = std::fs::read_to_string(env).unwrap();
    let parts: Vec<&str> = env.split('|').collect();
    assert_eq!(parts[0], "\"$(touch pwned)\"@example.org");
    assert_eq!(parts[1], "b@example.net c@example.net");
    assert_eq!(parts[2], "client.example");
    assert!(parts[3].starts_with("127.0.0.1"), "{env}");
    assert!(!pwned.exists(), "envelope data reached a shell");
}

#[test]
fn exec_exit_75_is_451_and_other_failures_554() {
    for (cmd, want) in [
        ("cat >/dev/null; exit 75", 451),
        ("cat >/dev/null; exit 1", 554),
    ] {
        let s = Server::start(&["-n", "0", "-q", "--exec", cmd]);
        expect(&send_one(&s, "a@example.org", "b@example.net", MSG), want);
        let ended = s.stop();
        ended.code(0);
    }
}

#[test]
fn envelope_json_describes_each_message() {
    let s = Server::start(&[
        "-n",
        "2",
        "-q",
        "-o",
        "/dev/null",
        "--envelope-json",
        "env.json",
    ]);
    let mut c = s.connect();
    c.start_data("a@example.org", "b@example.net");
    c.send(MSG);
    expect(&c.cmd("."), 250);
    expect(&c.cmd("MAIL FROM:<>"), 250);
    expect(&c.cmd("RCPT TO:<x@example.net>"), 250);
    expect(&c.cmd("RCPT TO:<y@example.net>"), 250);
    expect(&c.cmd("DATA"), 354);
    c.send(MSG);
    expect(&c.cmd("."), 250);
    c.cmd("QUIT");
    let json = s.path("env.json");
    let ended = s.wait();
    ended.code(0);
    let text = std::fs::read_to_string(json).unwrap();
    let objs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs.len(), 2, "{text}");
    assert_eq!(objs[0]["mail_from"], "a@example.org");
    assert_eq!(objs[0]["rcpt_to"], serde_json::json!(["b@example.net"]));
    assert_eq!(objs[0]["helo"], "client.example");
    assert_eq!(objs[0]["size"], MSG.len() as u64);
    assert_eq!(objs[0]["tls"], false);
    assert!(objs[0]["client"].as_str().unwrap().starts_with("127.0.0.1"));
    assert_eq!(objs[1]["mail_from"], "");
    assert_eq!(
        objs[1]["rcpt_to"],
        serde_json::json!(["x@example.net", "y@example.net"])
    );
}

#[test]
fn envelope_json_on_stdout() {
    let s = Server::start(&["-q", "--dir", "d", "--envelope-json", "-"]);
    expect(&send_one(&s, "a@example.org", "b@example.net", MSG), 250);
    let end = s.wait();
    end.code(0);
    let v: serde_json::Value =
        serde_json::from_slice(&end.stdout).expect("one JSON line on stdout");
    assert_eq!(v["mail_from"], "a@example.org");
}

// -------------------------------------------- one-shot, signals, exit

#[test]
fn one_shot_refuses_a_concurrent_second_message() {
    let s = Server::start(&["-n", "1", "-q", "--dir", "d"]);
    let mut a = s.connect();
    let mut b = s.connect();
    a.start_data("a@example.org", "b@example.net");
    b.start_data("second@example.org", "b@example.net");
    a.send(MSG);
    expect(&a.cmd("."), 250);
    b.send(b"Subject: second\r\n\r\nx\r\n");
    expect(&b.cmd("."), 421);
    expect(&a.cmd("QUIT"), 221);
    let d = s.path("d");
    let ended = s.wait();
    ended.code(0);
    let stored = files_in(&d);
    assert_eq!(stored.len(), 1);
    assert_eq!(strip_trace(&stored[0].1), MSG_LF);
}

#[test]
fn after_the_last_message_a_new_transaction_gets_421() {
    let s = Server::start(&["-n", "1", "-q", "--dir", "d"]);
    let mut c = s.connect();
    c.start_data("a@example.org", "b@example.net");
    c.send(MSG);
    expect(&c.cmd("."), 250);
    expect(&c.cmd("MAIL FROM:<a@example.org>"), 421);
    assert!(c.closed());
    let d = s.path("d");
    let ended = s.wait();
    ended.code(0);
    assert_eq!(files_in(&d).len(), 1);
}

#[test]
fn sigterm_finishes_the_message_in_flight() {
    let s = Server::start(&["-n", "0", "-q", "--dir", "d"]);
    let mut idle = s.connect();
    expect(&idle.reply(), 220);
    expect(&idle.cmd("EHLO idle.example"), 250);
    let mut c = s.connect();
    c.start_data("a@example.org", "b@example.net");
    c.send(b"From: a@example.org\r\n");
    s.signal("-TERM");
    // The idle session is told the server is going away.
    let r = idle.reply();
    expect(&r, 421);
    c.send(&MSG[b"From: a@example.org\r\n".len()..]);
    expect(&c.cmd("."), 250);
    expect(&c.cmd("QUIT"), 221);
    let d = s.path("d");
    let ended = s.wait();
    ended.code(0);
    let stored = files_in(&d);
    assert_eq!(stored.len(), 1);
    assert_eq!(strip_trace(&stored[0].1), MSG_LF);
}

#[test]
fn sigterm_before_count_is_75() {
    let s = Server::start(&["-n", "2", "-q", "-o", "/dev/null"]);
    expect(&send_one(&s, "a@example.org", "b@example.net", MSG), 250);
    let end = s.stop();
    end.code(75);
    assert!(end.stderr.contains("stored 1 of 2"), "{}", end.stderr);
}

// ------------------------------------------------------- hostile input

#[test]
fn binary_garbage_over_stdio_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    for (seed, prefix) in [
        (1, &b""[..]),
        (
            2,
            b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n",
        ),
    ] {
        let mut input = prefix.to_vec();
        input.extend(pseudo_random(1 << 20, seed));
        let r = run(
            "smtp-recv",
            &["--stdio", "-q", "-o", out.to_str().unwrap()],
            &input,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stderr.is_empty(), "{}", r.stderr);
        assert!(r.stdout.starts_with(b"220 "));
    }
    assert!(!out.exists() || std::fs::read(&out).unwrap().is_empty());
}

#[test]
fn binary_garbage_over_a_socket_leaves_the_server_serving() {
    let s = Server::start(&["-o", "out.eml", "-q"]);
    {
        let mut c = s.connect();
        expect(&c.reply(), 220);
        let garbage = pseudo_random(1 << 20, 9);
        let mut w = c.w.try_clone().unwrap();
        let writer = thread::spawn(move || {
            let _ = w.write_all(&garbage);
            let _ = w.shutdown(std::net::Shutdown::Write);
        });
        // Some error replies, then 421 (too many errors) and close.
        let mut last = String::new();
        loop {
            let r = c.reply();
            if r.is_empty() {
                break;
            }
            last = r;
        }
        writer.join().unwrap();
        expect(&last, 421);
    }
    expect(&send_one(&s, "a@example.org", "b@example.net", MSG), 250);
    let (end, stored) = stored_by(s);
    end.code(0);
    assert_eq!(strip_trace(&stored), MSG_LF);
}
