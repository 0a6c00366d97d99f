//! smtp-recv over loopback sockets, and the harness the recv_* tests share
//! (a [`Server`] under test, a raw [`Client`]): its basics, bad usage,
//! pipelining and protocol, limits, injected failures, one-shot and
//! signals, hostile input. Real clients no one here wrote are in
//! recv_clients, SMTP smuggling in recv_smuggling, storage and durability
//! in recv_store.
//!
//! Every test picks free ports (`-l 127.0.0.1:0 --ready-file`), and every
//! process it starts is killed and reaped by a guard, whatever happens.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::peers::*;
use crate::util::*;

/// Longest any one test waits for anything: a hang fails instead of blocking.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// A running smtp-recv, killed and reaped on drop.
pub(crate) struct Server {
    child: Option<Child>,
    pub(crate) addr: SocketAddr,
    dir: Option<tempfile::TempDir>,
}

/// How a server run ended (its directory lives as long as this).
pub(crate) struct Ended {
    pub(crate) code: i32,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: String,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts smtp-recv on a free loopback port with `args`, and waits until
    /// its ready file says where it listens.
    pub(crate) fn start(args: &[&str]) -> Server {
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

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.as_ref().expect("dir").path().join(name)
    }

    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(self.path("stderr")).unwrap_or_default()
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    pub(crate) fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(st.success());
    }

    pub(crate) fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Waits for the server to exit on its own.
    pub(crate) fn wait(mut self) -> Ended {
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
    pub(crate) fn stop(self) -> Ended {
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
    pub(crate) fn code(&self, want: i32) -> &Self {
        assert_eq!(self.code, want, "exit code; stderr: {}", self.stderr);
        self
    }
}

/// A raw SMTP client over a socket.
pub(crate) struct Client {
    r: BufReader<TcpStream>,
    pub(crate) w: TcpStream,
}

impl Client {
    pub(crate) fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.set_nodelay(true).unwrap();
        Client {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }

    /// Reads one whole (possibly multi-line) reply; "" if the server closed.
    pub(crate) fn reply(&mut self) -> String {
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

    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).expect("send");
    }

    /// Sends one command line (CRLF added) and returns the reply.
    pub(crate) fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Sends bytes one at a time, so each may arrive in its own read.
    pub(crate) fn trickle(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.send(&[*b]);
            thread::sleep(Duration::from_micros(300));
        }
    }

    /// Greeting, EHLO, MAIL, RCPT, DATA: ready for the message.
    pub(crate) fn start_data(&mut self, from: &str, to: &str) {
        expect(&self.reply(), 220);
        expect(&self.cmd("EHLO client.example"), 250);
        expect(&self.cmd(&format!("MAIL FROM:<{from}>")), 250);
        expect(&self.cmd(&format!("RCPT TO:<{to}>")), 250);
        expect(&self.cmd("DATA"), 354);
    }

    /// Whether the server closed the connection (reads end of input).
    pub(crate) fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.r.read(&mut b), Ok(0) | Err(_))
    }
}

/// Asserts a reply's code.
pub(crate) fn expect(reply: &str, code: u16) {
    assert!(
        reply.starts_with(&code.to_string()),
        "want {code}, got {reply:?}"
    );
}

pub(crate) fn code(reply: &str) -> u16 {
    reply.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Files in a directory, sorted, with their contents.
pub(crate) fn files_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
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

pub(crate) const MSG: &[u8] =
    b"From: a@example.org\r\nTo: b@example.net\r\nSubject: hello\r\n\r\nHello, world.\r\n";
pub(crate) const MSG_LF: &[u8] =
    b"From: a@example.org\nTo: b@example.net\nSubject: hello\n\nHello, world.\n";

/// One complete message over a raw socket.
pub(crate) fn send_one(server: &Server, from: &str, to: &str, msg: &[u8]) -> String {
    let mut c = server.connect();
    c.start_data(from, to);
    c.send(msg);
    c.send(b".\r\n");
    let r = c.reply();
    c.cmd("QUIT");
    r
}

/// The one message a server run stored with `-o out.eml`.
pub(crate) fn stored_by(server: Server) -> (Ended, Vec<u8>) {
    let out = server.path("out.eml");
    let end = server.wait();
    let stored = std::fs::read(out).unwrap_or_default();
    (end, stored)
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
    // Stress mode (issue 17): a connection beyond --max-clients waits for
    // a slot; the one session is in a transaction, so none frees, and
    // after --stress-idle-timeout (and a second) it gets 421 4.3.2.
    let s = Server::start(&[
        "-o",
        "/dev/null",
        "--max-clients",
        "1",
        "--stress-idle-timeout",
        "0.5",
    ]);
    let mut a = s.connect();
    expect(&a.reply(), 220);
    expect(&a.cmd("EHLO client.example"), 250);
    expect(&a.cmd("MAIL FROM:<a@client.example>"), 250);
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

#[test]
fn bug_listen_takes_a_bare_port_and_a_name() {
    // Issue 13: `-l 2525` (a bare port, as other tools take it) and
    // `-l localhost:2525` were refused; now a bare port is loopback's and
    // a name is resolved.
    for spec in ["0", "localhost:0"] {
        let s = crate::peers::Recv::start_on(spec, &[]);
        assert!(s.addr.ip().is_loopback(), "{spec}: {}", s.addr);
    }
    let r = crate::util::run("smtp-recv", &["-l", "not a port"], b"");
    r.code(64).one_line_error("smtp-recv");
    assert!(
        r.stderr.contains("want PORT, ADDR:PORT or NAME:PORT"),
        "{}",
        r.stderr
    );
}
