//! smtp-send against real servers no one here wrote, on loopback: Python
//! aiosmtpd (plain, STARTTLS, implicit TLS, AUTH, SMTPUTF8; it keeps the
//! exact bytes received), Postfix smtp-sink (PIPELINING, injected 4xx/5xx,
//! 421, disconnects) and our smtp-recv (failure injection, `--stdio` behind
//! `--pipe`, AUTH CRAM-MD5); git send-email as a sendmail caller; tiny raw
//! servers for what no real server does (early data after STARTTLS, a
//! silent or garbled server). Every exit code of smtp-send is reached.
//!
//! Free ports only (port 0, or a port just freed for smtp-sink), loopback
//! only; every process is killed and reaped by a guard; every wait has a
//! deadline.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::*;

/// Longest any one wait lasts: a hang fails instead of blocking the suite.
const PATIENCE: Duration = Duration::from_secs(30);

// ------------------------------------------------------------------ running

/// Runs smtp-send with `args`, `env` and `stdin`, with a deadline. The
/// caller's SMTP_* variables and ~/.netrc are kept out.
fn send_env(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Run {
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.args(args);
    for v in ["SMTP_SERVER", "SMTP_USER", "SMTP_PASSWORD"] {
        cmd.env_remove(v);
    }
    cmd.env("NETRC", "/nonexistent/netrc");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_cmd_within(cmd, PATIENCE, stdin)
}

/// smtp-send with `args` and `stdin`, with a deadline ([`send_env`]).
pub(crate) fn send(args: &[&str], stdin: &[u8]) -> Run {
    send_env(args, &[], stdin)
}

/// What `to_wire` does to message text: every line end CRLF (a bare CR or
/// LF too), a final CRLF when missing. (Dot-stuffing is undone by the
/// receiver, so it does not show.)
fn wire(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 64);
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'\r' if text.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub(crate) fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).expect("write");
    p
}

// ------------------------------------------------------------------ peers

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

/// aiosmtpd through /usr/bin/python3 (Debian's python3-aiosmtpd), or None
/// (skipped loudly; a failure when peers are required).
struct Aio {
    _guard: Guard,
    port: u16,
    dir: tempfile::TempDir,
}

/// /usr/bin/python3 when it can import `module` (Debian's
/// python3-aiosmtpd), or None (skipped loudly; a failure when peers are
/// required).
pub(crate) fn aiosmtpd_python(test: &str, module: &str) -> Option<PathBuf> {
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
    assert!(
        std::env::var_os("MAILPIPE_REQUIRE_PEERS").is_none_or(|v| v != "1"),
        "peer aiosmtpd (python3-aiosmtpd for /usr/bin/python3) required by {test} is not installed"
    );
    skipped(&format!(
        "{test}: aiosmtpd for /usr/bin/python3 is not installed (python3-aiosmtpd)"
    ));
    None
}

/// Spawns `cmd`, an aiosmtpd script that prints its port first and exits
/// when its stdin closes, and reads that port.
pub(crate) fn spawn_aiosmtpd(cmd: &mut Command) -> (Guard, u16) {
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
    fn start(test: &str, mode: &str, tls: Option<&Certs>, creds: Option<&str>) -> Option<Aio> {
        Aio::start_with(test, mode, tls, creds, None)
    }

    /// With `client_ca`: TLS clients must present a certificate it signed.
    fn start_with(
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

    fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Message `n` as received, and its envelope (JSON text).
    fn message(&self, n: usize) -> (Vec<u8>, String) {
        let out = self.dir.path().join("out");
        let msg = std::fs::read(out.join(format!("{n}.eml")))
            .unwrap_or_else(|e| panic!("message {n} not received: {e}"));
        let env = std::fs::read_to_string(out.join(format!("{n}.env"))).expect("envelope");
        (msg, env)
    }

    fn count(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("out"))
            .expect("out")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "eml"))
            })
            .count()
    }
}

/// A throwaway certificate for localhost, 127.0.0.1 and ::1, as files.
struct Certs {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

fn certs() -> Certs {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = mailpipe::smtp::tls::self_signed_pem("localhost").expect("certificate");
    Certs {
        cert: write_file(dir.path(), "cert.pem", cert.as_bytes()),
        key: write_file(dir.path(), "key.pem", key.as_bytes()),
        _dir: dir,
    }
}

/// Postfix's smtp-sink on a free port (as `nobody` when we are root),
/// with extra options; None when absent.
pub(crate) struct Sink {
    _guard: Guard,
    port: u16,
}

fn sbin(program: &str, test: &str) -> Option<PathBuf> {
    let p = Path::new("/usr/sbin").join(program);
    if p.is_file() {
        return Some(p);
    }
    peer(program, test)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
    })
}

impl Sink {
    pub(crate) fn start(test: &str, opts: &[&str]) -> Option<Sink> {
        let prog = sbin("smtp-sink", test)?;
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
        })
    }

    pub(crate) fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// A tiny scripted server on a free port for what no real server does: for
/// each line the client sends, `script` gives the bytes to answer (None:
/// close). The first answer (to "") is the greeting.
fn fake(
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

const MSG: &[u8] = b"From: Alice <alice@example.org>\nTo: Bob <bob@example.net>\nSubject: hi\nDate: Thu, 26 Nov 2026 10:00:00 +0000\nMessage-ID: <1@example.org>\n\nHello.\n";

// ------------------------------------------------------------- no server

#[test]
fn dry_run_prints_the_envelope_and_the_wire_bytes() {
    let msg =
        b"From: a@example.org\nBcc: hidden@example.net\nSubject: x\n\n.leading dot\n.\nno newline";
    let r = send(&["--dry-run", "-t", "-f", "<>", "b@example.net"], msg);
    let out = r.ok().to_vec();
    let out = String::from_utf8(out).expect("utf-8");
    let mut lines = out.split("\r\n");
    assert!(
        lines
            .next()
            .expect("MAIL")
            .starts_with("MAIL FROM:<> SIZE="),
        "{out}"
    );
    assert_eq!(lines.next(), Some("RCPT TO:<b@example.net>"));
    assert_eq!(lines.next(), Some("RCPT TO:<hidden@example.net>"));
    assert_eq!(lines.next(), Some("DATA"));
    assert!(
        !out.contains("Bcc") && out.contains("\r\nDate: ") && out.contains("\r\nMessage-ID: <")
    );
    assert!(
        out.ends_with("\r\n\r\n..leading dot\r\n..\r\nno newline\r\n.\r\n"),
        "{out:?}"
    );
    assert!(r.stderr.is_empty());
}

#[test]
fn sendmail_name_ends_input_at_a_dot_line_unless_i() {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("sendmail");
    std::os::unix::fs::symlink(bin("smtp-send"), &link).expect("symlink");
    let msg = b"From: a@example.org\n\nkept\n.\ndropped\n";
    let run_as = |prog: &Path, extra: &[&str]| {
        let mut cmd = Command::new(prog);
        cmd.args(["--dry-run", "b@example.net"]).args(extra);
        run_cmd_within(cmd, PATIENCE, msg)
    };
    let cut = run_as(&link, &["-oem"]);
    let cut = String::from_utf8_lossy(cut.ok()).into_owned();
    assert!(
        cut.ends_with("\r\n\r\nkept\r\n.\r\n") && !cut.contains("dropped"),
        "{cut}"
    );
    for flags in [&["-i"][..], &["-oi"], &["-odi", "-oi", "-em"]] {
        let all = run_as(&link, flags);
        assert!(
            String::from_utf8_lossy(all.ok()).contains("dropped"),
            "{flags:?}"
        );
    }
    // As smtp-send, the input is always read to the end.
    let all = run_as(&bin("smtp-send"), &[]);
    assert!(String::from_utf8_lossy(all.ok()).contains("\r\n..\r\ndropped\r\n"));
}

#[test]
fn sendmail_flags_are_accepted() {
    let msg = b"Subject: cron\n\nout\n";
    let r = send(
        &[
            "--dry-run",
            "-FCronDaemon",
            "-i",
            "-B8BITMIME",
            "-oem",
            "-odb",
            "-r",
            "root@example.org",
            "x@example.net",
        ],
        msg,
    );
    let out = String::from_utf8_lossy(r.ok()).into_owned();
    assert!(out.starts_with("MAIL FROM:<root@example.org>"), "{out}");
    assert!(
        out.contains("\r\nFrom: CronDaemon <root@example.org>\r\n"),
        "{out}"
    );
    let help = send(&["--help"], b"");
    let help = help.stdout_str();
    for noop in ["-odi", "-odb", "-oem", "-oep", "-em", "-ep", "-B"] {
        assert!(help.contains(noop), "--help does not list {noop}");
    }
}

#[test]
fn usage_and_config_errors() {
    let cases: &[(&[&str], i32)] = &[
        (&["--no-such-flag"], 64),
        (&["-S", "127.0.0.1:1"], 64), // no recipients
        (&["-S", "127.0.0.1:1", "-f", "a@b, c@d", "x@y"], 64), // two senders
        (&["-S", "127.0.0.1:1", "not an address"], 64),
        (&["-S", "smtp://[::1", "x@example.org"], 64),
        (
            &[
                "-S",
                "127.0.0.1:1",
                "--auth",
                "NOPE",
                "--user",
                "u",
                "x@example.org",
            ],
            64,
        ),
        (
            &["-S", "127.0.0.1:1", "--timeout", "-1", "x@example.org"],
            64,
        ),
        (
            &[
                "-S",
                "127.0.0.1:1",
                "--tls-fingerprint",
                "SHA256:zz",
                "x@example.org",
            ],
            64,
        ),
        (&["x@example.org"], 78), // no server at all
        (
            &[
                "-S",
                "127.0.0.1:1",
                "--ca-file",
                "/nonexistent",
                "x@example.org",
            ],
            78,
        ),
        (&["--each", "/nonexistent/file", "--dry-run"], 66),
    ];
    for (args, code) in cases {
        send(args, MSG).code(*code).one_line_error("smtp-send");
    }
    let r = send(&["x@example.org"], MSG);
    assert!(r.stderr.contains("no server"), "{}", r.stderr);
    send_env(&["x@example.org"], &[("SMTP_SERVER", "smtp://[bad")], MSG).code(78);
}

#[test]
fn unsendable_messages_are_refused_before_connecting() {
    // Port 1 would give 75 if anything connected.
    let long = [
        b"From: a@example.org\n\n".to_vec(),
        vec![b'x'; 999],
        b"\n".to_vec(),
    ]
    .concat();
    send(&["-S", "127.0.0.1:1", "b@example.net"], &long)
        .code(65)
        .one_line_error("smtp-send");
    let huge_line = vec![b'y'; 10 << 20];
    send(&["-S", "127.0.0.1:1", "b@example.net"], &huge_line).code(65);
    send(
        &["-S", "127.0.0.1:1", "-t"],
        b"From: a@example.org\nSubject: no rcpt\n\nx\n",
    )
    .code(65);
    let garbage = pseudo_random(1 << 20, 9);
    let r = send(&["-S", "127.0.0.1:1", "b@example.net"], &garbage);
    assert!([65, 75].contains(&r.code), "{}: {}", r.code, r.stderr);
    r.one_line_error("smtp-send");
}

// ------------------------------------------------------------- smtp-recv

#[test]
fn recv_delivers_and_reports_nothing() {
    let s = Recv::start(&[]);
    let r = send(&["-S", &s.server(), "rcpt@example.net"], MSG);
    r.code(0);
    assert!(r.stderr.is_empty() && r.stdout.is_empty(), "{}", r.stderr);
    assert_eq!(s.untraced(), vec![MSG.to_vec()]);
}

#[test]
fn recv_injected_failures_give_the_documented_codes() {
    let cases: &[(&str, i32, &str)] = &[
        (
            "rcpt:bad*=550 no such user",
            67,
            "RCPT TO:<bad@example.net> refused: 550",
        ),
        ("rcpt:bad*=450 try later", 75, "450"),
        ("mail=553 sender refused", 69, "553"),
        ("dot=451 later", 75, "451"),
        ("dot=554 spam", 69, "554"),
        ("data=554 no", 69, "554"),
        ("connect=554 go away", 69, "554"),
        ("helo=421 closing", 75, "421"),
    ];
    for (spec, code, text) in cases {
        let s = Recv::start(&["--reply", spec]);
        let r = send(
            &["-S", &s.server(), "good@example.net", "bad@example.net"],
            MSG,
        );
        r.code(*code).one_line_error("smtp-send");
        assert!(
            r.stderr.contains(text) && r.stderr.contains(&s.server()),
            "{spec}: {}",
            r.stderr
        );
        assert!(s.untraced().is_empty(), "{spec}: stored something");
    }
    // Both refused recipients are listed, nothing is sent.
    let s = Recv::start(&["--reply", "rcpt:bad*=550 unknown"]);
    let r = send(
        &[
            "-S",
            &s.server(),
            "bad1@example.net",
            "ok@example.net",
            "bad2@example.net",
        ],
        MSG,
    );
    r.code(67);
    assert!(
        r.stderr.contains("bad1@") && r.stderr.contains("bad2@") && !r.stderr.contains("ok@"),
        "{}",
        r.stderr
    );
}

#[test]
fn recv_disconnects_are_temporary() {
    for stage in ["rcpt", "data", "dot"] {
        let s = Recv::start(&["--disconnect", stage]);
        send(&["-S", &s.server(), "x@example.net"], MSG)
            .code(75)
            .one_line_error("smtp-send");
    }
}

#[test]
fn recv_size_limit_is_checked_before_data() {
    let s = Recv::start(&["--max-size", "100"]);
    let r = send(&["-S", &s.server(), "x@example.net"], MSG);
    r.code(65);
    assert!(r.stderr.contains("SIZE"), "{}", r.stderr);
}

#[test]
fn recv_over_pipe_stdio() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.eml");
    let cmd = format!(
        "{} --stdio -q -n 1 -o {}",
        bin("smtp-recv").display(),
        out.display()
    );
    let r = send(&["--pipe", &cmd, "x@example.net"], MSG);
    r.code(0);
    assert_eq!(strip_trace(&std::fs::read(&out).expect("stored")), MSG);
    // A command that is not an SMTP server: the greeting never comes.
    send(&["--pipe", "exit 0", "x@example.net"], MSG).code(75);
}

#[test]
fn bug_bare_cr_in_header_refused_end_to_end() {
    // The header reader took `Subject: hi<CR>Bcc: ...` as one field, the
    // wire writer sent the CR as a line end: the Bcc reached every
    // recipient (and -t did not send to it). `Subject: x<CR><CR><LF>`
    // ended the header early on the wire. Now both are refused (65) and
    // nothing reaches the server.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o.eml");
    let cmd = format!(
        "{} --stdio -q -n 1 -o {}",
        bin("smtp-recv").display(),
        out.display()
    );
    let cases: &[(&[u8], &str)] = &[
        (
            b"From: a@b.example\nTo: t@b.example\nSubject: hi\rBcc: secret@x.example\n\nb\n",
            "bare CR in header line 3",
        ),
        (
            b"From: a@b.example\nTo: t@b.example\nSubject: x\r\r\nX: y\n\nb\n",
            "bare CR in header line 3",
        ),
    ];
    for (msg, want) in cases {
        for how in [&["-t"][..], &["--verbatim", "t@b.example"][..]] {
            let r = send(&[&["--pipe", &cmd][..], how].concat(), msg);
            r.code(65).one_line_error("smtp-send");
            assert!(r.stderr.contains(want), "{}", r.stderr);
            assert!(!out.exists(), "something was delivered");
        }
    }
    // A bare CR in the body is a line end, as before.
    let r = send(
        &["-t", "--pipe", &cmd],
        b"From: a@b.example\nTo: t@b.example\n\nx\ry\n",
    );
    r.code(0);
    let stored = std::fs::read(&out).expect("stored");
    assert!(stored.ends_with(b"\n\nx\ny\n"), "{stored:?}");
}

#[test]
fn bug_pipe_timeout_is_honoured() {
    // --timeout was ignored with --pipe: a silent command hung smtp-send
    // for as long as it lived. (`exec`: a `sleep` left behind by a killed
    // sh would hold our stderr pipe open for 100 s; the unit test in
    // url.rs covers a grandchild holding the SMTP pipe.)
    let start = Instant::now();
    let r = send(
        &[
            "--pipe",
            "exec sleep 100",
            "--timeout",
            "1",
            "x@example.net",
        ],
        MSG,
    );
    r.code(75).one_line_error("smtp-send");
    assert!(r.stderr.contains("timed out"), "{}", r.stderr);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn bug_more_recipients_than_the_server_takes_at_once() {
    // With more recipients than the server's limit, smtp-send got 452s and
    // exited 75 forever. RFC 5321 §4.5.3.1.10: deliver to those accepted,
    // then new transactions for the rest, on the same connection.
    let s = Recv::start(&["--max-rcpts", "10"]);
    let rcpts: Vec<String> = (0..25).map(|i| format!("r{i}@example.net")).collect();
    let server = s.server();
    let mut args = vec!["-v", "-S", &server];
    args.extend(rcpts.iter().map(String::as_str));
    let r = send(&args, MSG);
    r.code(0);
    assert_eq!(r.stderr.matches("C: MAIL FROM").count(), 3, "{}", r.stderr);
    assert_eq!(r.stderr.matches("=== connected").count(), 1, "{}", r.stderr);
    assert_eq!(s.untraced(), vec![MSG.to_vec(); 3]);
    let mut got = Vec::new();
    let mut sizes = Vec::new();
    for v in s.envelopes() {
        let list = v["rcpt_to"].as_array().expect("rcpt_to");
        sizes.push(list.len());
        got.extend(list.iter().map(|a| a.as_str().expect("address").to_owned()));
    }
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(got, rcpts);
}

#[test]
fn bug_resent_blocks_end_to_end() {
    // -t merged adjacent Resent-* blocks (the older resend's recipients got
    // the message again) and used From: as MAIL FROM.
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("env.jsonl");
    let cmd = format!(
        "{} --stdio -q -n 1 -o /dev/null --envelope-json {}",
        bin("smtp-recv").display(),
        json.display()
    );
    let msg = b"Resent-Date: Mon, 2 Jan 2023 00:00:00 +0000\nResent-From: second@r.example\n\
                Resent-To: now@n.example\nResent-Bcc: hidden@n.example\n\
                Resent-Date: Sun, 1 Jan 2023 00:00:00 +0000\nResent-From: first@r.example\n\
                Resent-To: before@b.example\nFrom: a@a.example\nTo: b@b.example\n\nbody\n";
    send(&["-t", "--pipe", &cmd], msg).code(0);
    let text = std::fs::read_to_string(&json).expect("json");
    let v: serde_json::Value = serde_json::from_str(text.trim()).expect("one object");
    assert_eq!(v["mail_from"], "second@r.example", "{v}");
    assert_eq!(
        v["rcpt_to"],
        serde_json::json!(["now@n.example", "hidden@n.example"]),
        "{v}"
    );
}

#[test]
fn bug_quit_after_failures() {
    // After a refused transaction or a failed AUTH the connection was
    // dropped without QUIT (RFC 5321 §4.1.1.10).
    let ends_with_quit = |r: &Run| {
        let tail: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("C: ")).collect();
        assert_eq!(tail.last(), Some(&"C: QUIT"), "{}", r.stderr);
        assert!(r.stderr.contains("S: 221"), "{}", r.stderr);
    };
    for (spec, code) in [
        ("rcpt=550 no", 67),
        ("mail=451 later", 75),
        ("dot=554 spam", 69),
        ("helo=550 go away", 69),
        ("connect=554 no service", 69),
    ] {
        let s = Recv::start(&["--reply", spec]);
        let r = send(&["-v", "-S", &s.server(), "x@example.net"], MSG);
        r.code(code);
        ends_with_quit(&r);
    }
    // A wrong password; AUTH not offered.
    let dir = tempfile::tempdir().expect("tempdir");
    let users = write_file(dir.path(), "users", b"me:s3cret\n");
    let s = Recv::start(&["--auth-file", users.to_str().unwrap(), "--auth-insecure"]);
    let args = [
        "-v",
        "-S",
        &s.server(),
        "--user",
        "me",
        "--insecure-auth",
        "x@example.net",
    ];
    let r = send_env(&args, &[("SMTP_PASSWORD", "wrong")], MSG);
    r.code(77);
    ends_with_quit(&r);
    let s = Recv::start(&[]);
    let args = ["-v", "-S", &s.server(), "--user", "me", "x@example.net"];
    let r = send_env(&args, &[("SMTP_PASSWORD", "x")], MSG);
    r.code(77);
    ends_with_quit(&r);
}

#[test]
fn bug_probe_untrusted_certificate_names_its_fingerprint() {
    // --probe against an untrusted certificate said only "signed by
    // unknown authority": nothing to pin. The fingerprint it now names is
    // the one to give --tls-fingerprint.
    let c = certs();
    let s = Recv::start(&[
        "--tls-cert",
        c.cert.to_str().unwrap(),
        "--tls-key",
        c.key.to_str().unwrap(),
    ]);
    let url = format!("smtp+starttls://{}", s.server());
    let r = send(&["-S", &url, "--probe"], b"");
    r.code(77).one_line_error("smtp-send");
    let fp = r
        .stderr
        .split("(got ")
        .nth(1)
        .and_then(|t| t.split(')').next())
        .unwrap_or_else(|| panic!("no fingerprint: {}", r.stderr))
        .to_owned();
    assert!(fp.starts_with("SHA256:") && fp.len() == 7 + 95, "{fp}");
    send(
        &["-S", &url, "--tls-fingerprint", &fp, "x@example.net"],
        MSG,
    )
    .code(0);
}

#[test]
fn bug_auth_over_pipe_needs_insecure_auth() {
    // smtp-send sent the password in the clear over --pipe without asking.
    let cmd = format!(
        "{} --stdio -q -o /dev/null --auth-any --auth-insecure 2>/dev/null",
        bin("smtp-recv").display()
    );
    let args = ["--pipe", &cmd, "--user", "me", "x@example.net"];
    let r = send_env(&args, &[("SMTP_PASSWORD", "pw")], MSG);
    r.code(77).one_line_error("smtp-send");
    assert!(r.stderr.contains("--insecure-auth"), "{}", r.stderr);
    let args = [&args[..], &["--insecure-auth"]].concat();
    send_env(&args, &[("SMTP_PASSWORD", "pw")], MSG).code(0);
}

#[test]
fn bug_ca_file_errors_name_the_file() {
    // "no certificate found in the CA file (...)" did not say which file.
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = write_file(dir.path(), "empty.pem", b"");
    let e = empty.to_str().unwrap();
    let s = Recv::start(&["--tls-self-signed"]);
    let url = format!("smtp+starttls://{}", s.server());
    let r = send(&["-S", &url, "--ca-file", e, "x@example.net"], MSG);
    r.code(78).one_line_error("smtp-send");
    assert!(
        r.stderr
            .contains(&format!("no certificate found in --ca-file {e} ")),
        "{}",
        r.stderr
    );
}

#[test]
fn recv_auth_cram_md5_and_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let users = write_file(dir.path(), "users", b"me:s3cret\n");
    let c = certs();
    let tls_args = [
        "--tls-cert",
        c.cert.to_str().unwrap(),
        "--tls-key",
        c.key.to_str().unwrap(),
    ];
    let s = Recv::start(&[&tls_args[..], &["--auth-file", users.to_str().unwrap()]].concat());
    let url = format!("smtp+starttls://{}", s.server());
    let ca = c.cert.to_str().unwrap();
    let base = [
        "-S",
        &url,
        "--ca-file",
        ca,
        "--user",
        "me",
        "-v",
        "x@example.net",
    ];
    let r = send_env(&base, &[("SMTP_PASSWORD", "s3cret")], MSG);
    r.code(0);
    assert!(
        r.stderr.contains("AUTH CRAM-MD5") && !r.stderr.contains("s3cret"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("TLS"), "{}", r.stderr);
    for mech in ["PLAIN", "LOGIN"] {
        let pw = write_file(dir.path(), "pw", b"s3cret\n");
        let args = [
            &base[..],
            &["--auth", mech, "--password-file", pw.to_str().unwrap()],
        ]
        .concat();
        let r = send(&args, MSG);
        r.code(0);
        assert!(
            r.stderr.contains(&format!("AUTH {mech}")) && !r.stderr.contains("s3cret"),
            "{}",
            r.stderr
        );
    }
    let r = send_env(&base, &[("SMTP_PASSWORD", "wrong")], MSG);
    r.code(77);
    let r = send(
        &[&base[..], &["--password-cmd", "echo s3cret"]].concat(),
        MSG,
    );
    r.code(0);
    assert_eq!(s.untraced().len(), 4);
    // No password anywhere: configuration.
    send(
        &base[..6]
            .iter()
            .chain(&base[7..])
            .copied()
            .collect::<Vec<_>>(),
        MSG,
    )
    .code(78)
    .one_line_error("smtp-send");
    // AUTH over plain text is refused before a password is sent.
    let plain = Recv::start(&["--auth-file", users.to_str().unwrap(), "--auth-insecure"]);
    let args = ["-S", &plain.server(), "--user", "me", "x@example.net"];
    send_env(&args, &[("SMTP_PASSWORD", "s3cret")], MSG)
        .code(77)
        .one_line_error("smtp-send");
    let args = [&args[..], &["--insecure-auth"]].concat();
    send_env(&args, &[("SMTP_PASSWORD", "s3cret")], MSG).code(0);
}

#[test]
fn recv_starttls_required_but_not_offered_is_refused() {
    let s = Recv::start(&[]);
    let r = send(
        &[
            "-S",
            &format!("smtp+starttls://{}", s.server()),
            "x@example.net",
        ],
        MSG,
    );
    r.code(77).one_line_error("smtp-send");
    assert!(r.stderr.contains("STARTTLS"), "{}", r.stderr);
    assert!(s.untraced().is_empty());
    // smtp:// falls back to plain text when the server has no STARTTLS.
    send(
        &["-S", &format!("smtp://{}", s.server()), "x@example.net"],
        MSG,
    )
    .code(0);
}

#[test]
fn recv_tls_verification() {
    let c = certs();
    let s = Recv::start(&[
        "--tls-cert",
        c.cert.to_str().unwrap(),
        "--tls-key",
        c.key.to_str().unwrap(),
    ]);
    let url = format!("smtp+starttls://{}", s.server());
    let ca = c.cert.to_str().unwrap();
    // Untrusted (not in the system roots).
    let r = send(&["-S", &url, "x@example.net"], MSG);
    r.code(77).one_line_error("smtp-send");
    // Trusted, but the wrong name.
    let r = send(
        &[
            "-S",
            &url,
            "--ca-file",
            ca,
            "--tls-sni",
            "mail.example.com",
            "x@example.net",
        ],
        MSG,
    );
    r.code(77).one_line_error("smtp-send");
    assert!(r.stderr.contains("name"), "{}", r.stderr);
    // --probe shows the fingerprint; pinning it works, another does not.
    let p = send(&["-S", &url, "--ca-file", ca, "--probe"], b"");
    let probe = String::from_utf8_lossy(p.ok()).into_owned();
    assert!(probe.contains("tls: TLS1."), "{probe}");
    assert!(
        probe.contains("certificate subject: CN=localhost"),
        "{probe}"
    );
    assert!(probe.contains("expires in"), "{probe}");
    assert!(probe.contains("SIZE"), "{probe}");
    let fp = probe
        .lines()
        .find_map(|l| l.strip_prefix("certificate fingerprint: "))
        .expect("fingerprint line")
        .to_owned();
    send(
        &["-S", &url, "--tls-fingerprint", &fp, "x@example.net"],
        MSG,
    )
    .code(0);
    let wrong = format!("SHA256:{}", "00:".repeat(31) + "00");
    send(
        &["-S", &url, "--tls-fingerprint", &wrong, "x@example.net"],
        MSG,
    )
    .code(77)
    .one_line_error("smtp-send");
    // --tls-insecure works and says so loudly.
    let r = send(&["-S", &url, "--tls-insecure", "x@example.net"], MSG);
    r.code(0);
    assert!(r.stderr.contains("NOT verified"), "{}", r.stderr);
    assert_eq!(s.untraced().len(), 2);
}

#[test]
fn recv_implicit_tls() {
    let c = certs();
    let s = Recv::start(&[
        "--tls",
        "implicit",
        "--tls-cert",
        c.cert.to_str().unwrap(),
        "--tls-key",
        c.key.to_str().unwrap(),
    ]);
    let url = format!("smtps://{}", s.server());
    send(
        &[
            "-S",
            &url,
            "--ca-file",
            c.cert.to_str().unwrap(),
            "x@example.net",
        ],
        MSG,
    )
    .code(0);
    // Plain SMTP to a TLS port: the server never greets in clear text.
    let r = send(&["-S", &s.server(), "--timeout", "1", "x@example.net"], MSG);
    assert!([75, 76].contains(&r.code), "{}: {}", r.code, r.stderr);
    assert_eq!(s.untraced().len(), 1);
}

#[test]
fn each_sends_many_over_one_connection_and_reports_per_file() {
    let s = Recv::start(&["--reply", "rcpt:bad*=550 unknown"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for i in 0..5 {
        let to = if i == 2 {
            "bad@example.net"
        } else {
            "ok@example.net"
        };
        let msg = format!("From: a@example.org\nTo: {to}\nSubject: {i}\n\nmessage {i}\n");
        files.push(write_file(dir.path(), &format!("{i}.eml"), msg.as_bytes()));
    }
    let mut args: Vec<String> = vec!["-S".into(), s.server(), "--each".into(), "-v".into()];
    args.extend(files.iter().map(|p| p.display().to_string()));
    args.push("/nonexistent/x.eml".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = send(&args, b"");
    r.code(67);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("smtp-send: "))
        .collect();
    assert_eq!(errors.len(), 2, "{}", r.stderr);
    assert!(
        errors[0].contains("2.eml") && errors[1].contains("/nonexistent/x.eml"),
        "{errors:?}"
    );
    assert_eq!(r.stderr.matches("C: EHLO").count(), 1, "one connection");
    assert_eq!(s.untraced().len(), 4);
}

// ------------------------------------------------------------- aiosmtpd

/// Texts whose bytes must arrive exactly (after CRLF normalisation).
const EXACT: &[&[u8]] = &[
    b"From: a@example.org\n\n.starts with a dot\n..two dots\n.\n. \nend\n",
    b".first byte is a dot\n",
    b".",
    b"From: a@example.org\n\n.",
    "From: a@example.org\nSubject: 8-bit\n\nGr\u{fc}\u{df}e, \u{e9}t\u{e9} \u{2603}\n".as_bytes(),
    b"From: a@example.org\r\n\r\nCRLF\r\nLF\nCRLF\r\n\r\n\nmixed\r\n",
    b"From: a@example.org\n\nno final newline",
    b"From: a@example.org\n\nbare\rCR and \r\r\n stuff\n.\r.\n",
    b"",
];

#[test]
fn aiosmtpd_receives_exact_bytes() {
    let Some(s) = Aio::start("aiosmtpd_receives_exact_bytes", "plain", None, None) else {
        return;
    };
    for (i, text) in EXACT.iter().enumerate() {
        let r = send(
            &[
                "-S",
                &s.server(),
                "--verbatim",
                "-f",
                "a@example.org",
                "b@example.net",
            ],
            text,
        );
        r.code(0);
        let (got, env) = s.message(i);
        assert_eq!(
            got,
            wire(text),
            "case {i}: {:?}",
            String::from_utf8_lossy(text)
        );
        let eight = text.iter().any(|&b| b >= 0x80);
        assert_eq!(env.contains("BODY=8BITMIME"), eight, "{env}");
        assert!(env.contains("SIZE="), "{env}");
    }
}

#[test]
fn aiosmtpd_extract_strips_bcc() {
    let Some(s) = Aio::start("aiosmtpd_extract_strips_bcc", "plain", None, None) else {
        return;
    };
    let msg = b"From: a@example.org\nTo: b@example.net\nCc: c@example.net\nBcc: secret@example.com\nSubject: t\n\nbody\n";
    send(&["-S", &s.server(), "-t"], msg).code(0);
    let (got, env) = s.message(0);
    let got = String::from_utf8(got).expect("utf-8");
    assert!(!got.contains("Bcc") && !got.contains("secret"), "{got}");
    assert!(
        got.starts_with(
            "From: a@example.org\r\nTo: b@example.net\r\nCc: c@example.net\r\nSubject: t\r\nDate: "
        ),
        "{got}"
    );
    assert!(
        got.contains("\r\nMessage-ID: <") && got.ends_with("@example.org>\r\n\r\nbody\r\n"),
        "{got}"
    );
    for a in ["b@example.net", "c@example.net", "secret@example.com"] {
        assert!(env.contains(a), "{env}");
    }
    assert!(env.contains("\"from\": \"a@example.org\""), "{env}");
}

#[test]
fn aiosmtpd_smtputf8() {
    let Some(s) = Aio::start("aiosmtpd_smtputf8", "plain", None, None) else {
        return;
    };
    let msg = "From: j\u{f6}rg@b\u{fc}cher.example\nSubject: utf8\n\nhi\n".as_bytes();
    send(&["-S", &s.server(), "用户@例子.example"], msg).code(0);
    let (_, env) = s.message(0);
    assert!(env.contains("SMTPUTF8"), "{env}");
    assert!(
        env.contains("\\u7528\\u6237@") || env.contains("用户@"),
        "{env}"
    );
}

#[test]
fn aiosmtpd_starttls_implicit_and_auth() {
    let t = "aiosmtpd_starttls_implicit_and_auth";
    let c = certs();
    let ca = c.cert.to_str().unwrap();
    let Some(st) = Aio::start(t, "starttls", Some(&c), Some("user:pa ss")) else {
        return;
    };
    let url = format!("smtp+starttls://{}", st.server());
    for mech in [None, Some("PLAIN"), Some("LOGIN")] {
        let mut args = vec![
            "-S",
            &url,
            "--ca-file",
            ca,
            "--user",
            "user",
            "-v",
            "x@example.net",
        ];
        if let Some(m) = mech {
            args.extend(["--auth", m]);
        }
        let r = send_env(&args, &[("SMTP_PASSWORD", "pa ss")], MSG);
        r.code(0);
        assert!(
            !r.stderr.contains("pa ss") && !r.stderr.contains("cGEgc3M"),
            "secret in -v: {}",
            r.stderr
        );
        assert!(r.stderr.contains("=== TLS: TLS1."), "{}", r.stderr);
    }
    assert_eq!(st.count(), 3);
    let r = send_env(
        &[
            "-S",
            &url,
            "--ca-file",
            ca,
            "--user",
            "user",
            "x@example.net",
        ],
        &[("SMTP_PASSWORD", "nope")],
        MSG,
    );
    r.code(77).one_line_error("smtp-send");
    // Implicit TLS.
    let Some(imp) = Aio::start(t, "implicit", Some(&c), Some("user:pa ss")) else {
        return;
    };
    let url = format!("smtps://localhost:{}", imp.port);
    let r = send_env(
        &[
            "-S",
            &url,
            "--ca-file",
            ca,
            "--user",
            "user",
            "x@example.net",
        ],
        &[("SMTP_PASSWORD", "pa ss")],
        MSG,
    );
    r.code(0);
    assert_eq!(imp.message(0).0, wire(MSG));
}

// ------------------------------------------------------------- smtp-sink

#[test]
fn sink_pipelining_and_injected_failures() {
    let t = "sink_pipelining_and_injected_failures";
    let cases: &[(&[&str], i32)] = &[
        (&[], 0),
        (&["-f", "EHLO"], 0), // EHLO refused with 500: HELO fallback
        (&["-r", "RCPT"], 75),
        (&["-f", "RCPT"], 67),
        (&["-r", "MAIL"], 75),
        (&["-f", "MAIL"], 69),
        (&["-r", "DATA"], 75),
        (&["-f", "."], 69),
        (&["-r", "."], 75),
        (&["-Q", "RCPT"], 75), // 421 and close
        (&["-q", "DATA"], 75), // close without a word
        (&["-f", "CONNECT"], 69),
        (&["-8"], 65), // 8-bit message, no 8BITMIME
    ];
    let eight = "From: a@example.org\n\nd\u{e9}j\u{e0}\n".as_bytes();
    for (opts, code) in cases {
        let Some(s) = Sink::start(t, opts) else {
            return;
        };
        let msg = if opts == &["-8"] { eight } else { MSG };
        let r = send(
            &["-S", &s.server(), "-v", "x@example.net", "y@example.net"],
            msg,
        );
        r.code(*code);
        if *code != 0 {
            let errors: Vec<&str> = r
                .stderr
                .lines()
                .filter(|l| l.starts_with("smtp-send: "))
                .collect();
            assert_eq!(errors.len(), 1, "{opts:?}: {}", r.stderr);
        }
        if opts.is_empty() {
            // PIPELINING: MAIL and both RCPTs go before the first reply.
            let t = &r.stderr;
            let mail = t.find("C: MAIL").expect("MAIL");
            let rcpt2 = t.find("C: RCPT TO:<y@").expect("RCPT");
            let first_reply = t[mail..].find("S: ").expect("reply") + mail;
            assert!(rcpt2 < first_reply, "not pipelined: {t}");
        }
    }
}

// ------------------------------------------------------------- raw servers

#[test]
fn early_data_after_starttls_is_an_error() {
    let (addr, h) = fake(|line| match line {
        "" => Some(b"220 fake ESMTP\r\n"),
        l if l.starts_with("EHLO") => Some(b"250-fake\r\n250 STARTTLS\r\n"),
        "STARTTLS" => Some(b"220 go ahead\r\n250 injected\r\n"),
        _ => None,
    });
    let c = certs();
    let r = send(
        &[
            "-S",
            &format!("smtp+starttls://{addr}"),
            "--ca-file",
            c.cert.to_str().unwrap(),
            "x@example.net",
        ],
        MSG,
    );
    r.code(76).one_line_error("smtp-send");
    assert!(r.stderr.contains("STARTTLS"), "{}", r.stderr);
    let seen = h.join().expect("fake server");
    assert_eq!(
        seen.last().map(String::as_str),
        Some("STARTTLS"),
        "{seen:?}"
    );
}

#[test]
fn silent_garbled_and_absent_servers() {
    // Nothing listens: refused, temporary.
    let port = free_port();
    let r = send(&["-S", &format!("127.0.0.1:{port}"), "x@example.net"], MSG);
    r.code(75).one_line_error("smtp-send");
    assert!(
        r.stderr.contains("refused") && r.stderr.contains("not sent"),
        "{}",
        r.stderr
    );
    // A host name that does not exist: 68, EX_NOHOST (75 only where no
    // resolver answers at all).
    let r = send(&["-S", "no-such-host.invalid", "x@example.net"], MSG);
    assert!([68, 75].contains(&r.code), "{}: {}", r.code, r.stderr);
    r.one_line_error("smtp-send");
    if r.code == 68 {
        assert!(r.stderr.contains("host name unknown"), "{}", r.stderr);
    }
    // A server that never greets: --timeout.
    let (addr, _h) = fake(|line| match line {
        "" => Some(b""),
        _ => None,
    });
    let start = Instant::now();
    let r = send(
        &["-S", &addr.to_string(), "--timeout", "0.5", "x@example.net"],
        MSG,
    );
    r.code(75).one_line_error("smtp-send");
    assert!(r.stderr.contains("timed out"), "{}", r.stderr);
    assert!(start.elapsed() < Duration::from_secs(10));
    // Not SMTP at all.
    let (addr, _h) = fake(|line| match line {
        "" => Some(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
        _ => None,
    });
    send(&["-S", &addr.to_string(), "x@example.net"], MSG)
        .code(76)
        .one_line_error("smtp-send");
    // A reply line without end.
    let (addr, _h) = fake(|line| match line {
        "" => Some(b"220 ok\r\n"),
        l if l.starts_with("EHLO") => Some(b"250-x\r\n250-x\r\n250-x\r\n"),
        _ => None,
    });
    let r = send(
        &["-S", &addr.to_string(), "--timeout", "2", "x@example.net"],
        MSG,
    );
    assert!([75, 76].contains(&r.code), "{}: {}", r.code, r.stderr);
}

// ------------------------------------------------------------- big messages

/// Peak resident memory of a running process (VmHWM, KiB), polled until it
/// exits; returns the exit code and the highest value seen.
fn run_watching_memory(mut cmd: Command, input: &Path) -> (i32, u64, String) {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin");
    let path = input.to_path_buf();
    // Through a pipe, so the spooling path is the one measured.
    let feeder = thread::spawn(move || {
        let mut f = std::fs::File::open(path).expect("input");
        let _ = std::io::copy(&mut f, &mut stdin);
    });
    let mut err = child.stderr.take().expect("stderr");
    let errr = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut peak = 0;
    let start = Instant::now();
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kb);
        }
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        assert!(start.elapsed() < PATIENCE * 4, "100 MB send hung");
        thread::sleep(Duration::from_millis(5));
    };
    feeder.join().expect("feeder");
    (
        status.code().unwrap_or(-1),
        peak,
        errr.join().expect("stderr"),
    )
}

#[test]
fn hundred_megabytes_in_constant_memory() {
    let Some(s) = Sink::start("hundred_megabytes_in_constant_memory", &[]) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.eml");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        f.write_all(b"From: a@example.org\nSubject: big\n\n")
            .expect("write");
        let line = b".0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n";
        for _ in 0..(100_000_000 / line.len()) {
            f.write_all(line).expect("write");
        }
        f.flush().expect("flush");
    }
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.args(["-S", &s.server(), "x@example.net"]);
    let (code, peak_kb, stderr) = run_watching_memory(cmd, &path);
    assert_eq!(code, 0, "{stderr}");
    // No progress bar: stderr is not a terminal.
    assert!(stderr.is_empty(), "{stderr}");
    assert!(
        peak_kb > 0 && peak_kb < 40 * 1024,
        "peak RSS {peak_kb} KiB for a 100 MB message"
    );
}

// ------------------------------------------------------------- sendmail callers

#[test]
fn git_send_email_through_smtp_send() {
    // Debian's git, which the git-email package (installed by scripts/test)
    // extends; a git built elsewhere may lack send-email's Perl modules.
    let debian_git = Path::new("/usr/bin/git");
    let Some(git) = (if debian_git.exists() {
        Some(debian_git.to_path_buf())
    } else {
        peer("git", "git_send_email_through_smtp_send")
    }) else {
        return;
    };
    let has_send_email = Command::new(&git)
        .args(["send-email", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_send_email {
        assert!(
            std::env::var_os("MAILPIPE_REQUIRE_PEERS").is_none_or(|v| v != "1"),
            "peer git send-email (Debian git-email) is not installed"
        );
        skipped("git_send_email_through_smtp_send: git send-email is not installed (git-email)");
        return;
    }
    let s = Recv::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let patch = write_file(
        dir.path(),
        "0001-x.patch",
        b"From 1234567890abcdef1234567890abcdef12345678 Mon Sep 17 00:00:00 2001\nFrom: Dev <dev@example.org>\nDate: Thu, 26 Nov 2026 10:00:00 +0000\nSubject: [PATCH] fix\n\n.dot line\n---\n a | 1 +\n",
    );
    let mut cmd = Command::new(git);
    cmd.args([
        "send-email",
        "--confirm=never",
        "--no-validate",
        "--quiet",
        "--to=list@example.net",
    ])
    .arg(format!("--smtp-server={}", bin("smtp-send").display()))
    .arg("--from=Dev <dev@example.org>")
    .arg(&patch)
    .env("SMTP_SERVER", s.server())
    .env("GIT_CONFIG_NOSYSTEM", "1")
    .env("GIT_AUTHOR_NAME", "Dev")
    .env("GIT_AUTHOR_EMAIL", "dev@example.org")
    .env("GIT_COMMITTER_NAME", "Dev")
    .env("GIT_COMMITTER_EMAIL", "dev@example.org")
    .env("HOME", dir.path())
    .current_dir(dir.path());
    let r = run_cmd_within(cmd, PATIENCE, b"");
    assert_eq!(r.code, 0, "git send-email: {} {}", r.stderr, r.stdout_str());
    let msgs = s.untraced();
    assert_eq!(msgs.len(), 1);
    let m = String::from_utf8_lossy(&msgs[0]).into_owned();
    assert!(
        m.contains("Subject: [PATCH] fix\n") && m.contains("\n.dot line\n"),
        "{m}"
    );
}

#[test]
fn dry_run_to_a_closed_pipe_is_a_quiet_success() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let big = [
        b"From: a@example.org\n\n".to_vec(),
        b"line\n".repeat(200_000),
    ]
    .concat();
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.args(["--dry-run", "b@example.net"])
        .stdout(Stdio::from(writer));
    cmd.stdin(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let feeder = thread::spawn(move || {
        let _ = stdin.write_all(&big);
    });
    let out = child.wait_with_output().expect("wait");
    feeder.join().expect("feeder");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn empty_input_and_no_sender() {
    // An empty message still gets the fields it needs.
    let r = send(&["--dry-run", "-f", "a@example.org", "b@example.net"], b"");
    let out = String::from_utf8_lossy(r.ok()).into_owned();
    assert!(out.contains("\r\nFrom: a@example.org\r\nDate: "), "{out}");
    // Without -f, USER gives the sender.
    let r = send_env(
        &["--dry-run", "b@example.net"],
        &[("USER", "someone"), ("LOGNAME", "")],
        b"",
    );
    assert!(String::from_utf8_lossy(r.ok()).starts_with("MAIL FROM:<someone@"));
    // Without USER and LOGNAME: the real uid's login name
    // (bug_no_sender_falls_back_to_the_real_uid_login_name).
}

#[test]
fn unreadable_input_is_74() {
    // A directory as standard input opens but cannot be read.
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.args(["--dry-run", "b@example.net"])
        .stdin(std::fs::File::open("/").expect("open /"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd.output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(74),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("smtp-send: reading the message") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn probe_without_tls() {
    let s = Recv::start(&[]);
    let r = send(&["-S", &s.server(), "--probe"], b"");
    let out = String::from_utf8_lossy(r.ok()).into_owned();
    assert!(
        out.contains("tls: none (the server does not offer STARTTLS)"),
        "{out}"
    );
    assert!(
        out.contains("greeting: 220 ") && out.contains("  PIPELINING"),
        "{out}"
    );
    assert!(s.untraced().is_empty());
}

#[test]
fn aiosmtpd_client_certificate() {
    let t = "aiosmtpd_client_certificate";
    let server = certs();
    let client = certs();
    let Some(s) = Aio::start_with(t, "implicit", Some(&server), None, Some(&client.cert)) else {
        return;
    };
    let url = format!("smtps://localhost:{}", s.port);
    let ca = server.cert.to_str().unwrap();
    // Without one: refused by the server after the handshake (TLS 1.3). A
    // server that sends its alert gives 77; Python's asyncio closes without
    // flushing it, and a closed connection is all a client can tell: 75.
    let r = send(&["-S", &url, "--ca-file", ca, "x@example.net"], MSG);
    assert!([75, 77].contains(&r.code), "{}: {}", r.code, r.stderr);
    r.one_line_error("smtp-send");
    let r = send(
        &[
            "-S",
            &url,
            "--ca-file",
            ca,
            "--tls-client-cert",
            client.cert.to_str().unwrap(),
            "--tls-client-key",
            client.key.to_str().unwrap(),
            "x@example.net",
        ],
        MSG,
    );
    r.code(0);
    assert_eq!(s.count(), 1);
}

/// sendmail compatibility: with no -f, no From: and neither USER nor
/// LOGNAME (PHP-FPM, systemd services, cron with a bare environment), the
/// sender is the login name of the real uid, as sendmail's, qualified as
/// $USER@host would be.
#[test]
fn bug_no_sender_falls_back_to_the_real_uid_login_name() {
    let id = Command::new("id").arg("-un").output().expect("id -un");
    let me = String::from_utf8(id.stdout).expect("utf-8");
    let me = me.trim();
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.args(["--dry-run", "b@example.net"]).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("NETRC", "/nonexistent/netrc")
        .env("XDG_CONFIG_HOME", "/nonexistent/config");
    let r = run_cmd_within(cmd, PATIENCE, b"Subject: x\n\nhi\n");
    let out = String::from_utf8_lossy(r.ok()).into_owned();
    assert!(out.starts_with(&format!("MAIL FROM:<{me}@")), "{out}");
    assert!(out.contains(&format!("\r\nFrom: {me}@")), "{out}");
}
