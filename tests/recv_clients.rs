//! smtp-recv with real clients no one here wrote: swaks, msmtp, Python
//! smtplib, Postfix smtp-source (plain, PIPELINING, STARTTLS, implicit
//! TLS, AUTH, SMTPUTF8, many parallel sessions, SIGTERM).
//!
//! Every test picks free ports (`-l 127.0.0.1:0 --ready-file`), and every
//! process it starts is killed and reaped by a guard, whatever happens.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::peers::*;
use crate::recv::*;
use crate::util::*;

/// Runs a peer command with a deadline; returns (exit code, stdout+stderr).
fn run_peer(cmd: Command, stdin: &[u8]) -> (i32, String) {
    let r = run_cmd_within(cmd, PATIENCE, stdin);
    (r.code, r.stdout_str() + &r.stderr)
}

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

/// Sends a message with UTF-8 addresses. With a second argument, as
/// `send_message(m, mail_options=['SMTPUTF8', 'BODY=8BITMIME'])`: smtplib
/// then adds SMTPUTF8 a second time itself, so the MAIL command carries
/// it (and BODY) twice; Postfix and aiosmtpd take that (issue 12).
const PY_SMTPUTF8: &str = r#"
import smtplib, sys
from email.message import EmailMessage
twice = len(sys.argv) > 2
m = EmailMessage()
m["From"] = "jörg@example.org"
m["To"] = "δοκιμή@παράδειγμα.δοκιμή"
m["Subject"] = "ünïcode"
m.set_content("Grüße\n", **({"cte": "8bit"} if twice else {}))
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
    s.set_debuglevel(1)
    s.send_message(m, mail_options=["SMTPUTF8", "BODY=8BITMIME"] if twice else ())
"#;

#[test]
fn python_smtplib_send_message_with_smtputf8() {
    for twice in [false, true] {
        let s = Server::start(&["-o", "out.eml", "--envelope-json", "env.json"]);
        let port = s.addr.port().to_string();
        let mut args = vec![port.as_str()];
        if twice {
            args.push("twice");
        }
        let Some((code, log)) = python("python_smtputf8", PY_SMTPUTF8, &args) else {
            return;
        };
        assert_eq!(code, 0, "{log}");
        if twice {
            // The case means something only if smtplib really repeated it.
            assert!(
                log.contains("SMTPUTF8 BODY=8BITMIME SMTPUTF8 BODY=8BITMIME"),
                "{log}"
            );
        }
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
        assert_eq!(v["protocol"], "UTF8SMTP", "{json}");
        if twice {
            assert!(text.contains("Grüße"), "{text}");
        }
    }
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
