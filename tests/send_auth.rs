//! smtp-send's AUTH: CRAM-MD5, PLAIN and LOGIN against our smtp-recv and
//! aiosmtpd (over STARTTLS and implicit TLS), the password from the
//! environment, a file or a command, never shown in `-v`; a wrong or
//! missing password; no password sent in cleartext (a plain connection or
//! `--pipe`) without `--insecure-auth`.
//!
//! Free ports only, loopback only; every process is killed and reaped by a
//! guard; every wait has a deadline.

use crate::peers::*;
use crate::send::{MSG, send, send_env, wire};
use crate::util::*;

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

#[test]
fn password_command_runs_first_within_its_time_limit() {
    // Issue 17, finding 2: the command ran after connecting and without a
    // limit (`sleep 1000` hung, `yes` spun). Now it runs before the
    // connection, is killed at --password-cmd-timeout, and over-long
    // output is refused, not cut and sent.
    let down = format!("127.0.0.1:{}", free_port());
    let r = send(
        &[
            "-S",
            &down,
            "--user",
            "me",
            "--password-cmd",
            "exit 1",
            "x@example.net",
        ],
        MSG,
    );
    r.code(78).one_line_error("smtp-send");
    assert!(
        r.stderr.contains("password command"),
        "not run first: {}",
        r.stderr
    );
    for (cmd, says) in [
        ("sleep 1000", "no answer within 0.5 s: killed"),
        ("yes s3cret", "printed more than 65536 octets"),
    ] {
        let r = send(
            &[
                "-S",
                &down,
                "--user",
                "me",
                "--password-cmd",
                cmd,
                "--password-cmd-timeout",
                "0.5",
                "x@example.net",
            ],
            MSG,
        );
        r.code(78).one_line_error("smtp-send");
        assert!(r.stderr.contains(says), "{cmd}: {}", r.stderr);
        assert!(!r.stderr.contains("s3cret\n"), "{}", r.stderr);
    }
    send(
        &["-S", &down, "--password-cmd-timeout", "0", "x@example.net"],
        MSG,
    )
    .code(64);
}
