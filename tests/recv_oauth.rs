//! smtp-recv's XOAUTH2 and OAUTHBEARER (RFC 7628, issue 15) against
//! `--auth-file` tokens, driven by smtp-send (`--auth`, the token as the
//! password) and by Python's smtplib (`SMTP.auth` with its own auth
//! objects): a good token is accepted and the message stored; a wrong one
//! gets the error challenge of RFC 7628 §3.2.2, the client's dummy answer
//! and 535, which smtp-send reports as one line (77) without the token.
//!
//! Free ports only, loopback only; every process is killed and reaped by a
//! guard; every wait has a deadline.

use std::process::Command;

use mailpipe::codec::base64::encode_to_string as b64;

use crate::daemons::PATIENCE;
use crate::peers::*;
use crate::send::{MSG, send_env};
use crate::util::*;

const USER: &str = "alice@example.org";
const TOKEN: &str = "ya29.a0Ae4-good_Token~1";
const WRONG: &str = "ya29.a0Ae4-expired_Token~0";

/// smtp-recv with TLS and an auth file holding [`USER`]'s [`TOKEN`] (and
/// another user's, so a right token for the wrong user can be tried).
fn recv(c: &Certs) -> (Recv, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let users = write_file(
        dir.path(),
        "users",
        format!("{USER}:{TOKEN}\nbob@example.org:{WRONG}\n").as_bytes(),
    );
    let args = [
        &c.recv_args()[..],
        &["--auth-file", users.to_str().unwrap()],
    ]
    .concat();
    (Recv::start(&args), dir)
}

/// The token must show nowhere: not as it is, nor inside the base64 of
/// the message that carries it (any of the three alignments).
fn assert_no_token(text: &str, token: &str) {
    assert!(!text.contains(token), "token in: {text}");
    for pad in ["", "x", "xx"] {
        let b64 = b64(format!("{pad}{token}").as_bytes());
        let inner = &b64[4..b64.len() - 4];
        assert!(!text.contains(inner), "encoded token in: {text}");
    }
}

#[test]
fn smtp_send_xoauth2_and_oauthbearer() {
    let c = certs();
    let (s, _users) = recv(&c);
    let url = s.url("smtp+starttls");
    let ca = c.cert.to_str().unwrap();
    for mech in ["XOAUTH2", "OAUTHBEARER"] {
        let args = [
            "-S",
            &url,
            "--ca-file",
            ca,
            "--user",
            USER,
            "--auth",
            mech,
            "-v",
            "x@example.net",
        ];
        let r = send_env(&args, &[("SMTP_PASSWORD", TOKEN)], MSG);
        r.code(0);
        assert!(
            r.stderr.contains(&format!("C: AUTH {mech} ***")),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("235 2.7.0"), "{}", r.stderr);
        assert_no_token(&r.stderr, TOKEN);

        // A wrong token (or another user's): the error challenge is
        // answered, the 535 is one line, exit 77; the token is nowhere.
        for (user, token) in [(USER, WRONG), ("bob@example.org", TOKEN)] {
            let quiet = [
                &args[..4],
                &["--user", user, "--auth", mech, "x@example.net"],
            ]
            .concat();
            let r = send_env(&quiet, &[("SMTP_PASSWORD", token)], MSG);
            r.code(77).one_line_error("smtp-send");
            assert!(r.stderr.contains("535 5.7.8"), "{}", r.stderr);
            assert_no_token(&r.stderr, token);
            let verbose = [&quiet[..], &["-v"]].concat();
            let r = send_env(&verbose, &[("SMTP_PASSWORD", token)], MSG);
            r.code(77);
            // The transcript shows the error challenge and the dummy answer.
            let challenge = b64(br#"{"status":"invalid_token","schemes":"bearer"}"#);
            assert!(
                r.stderr.contains(&format!("S: 334 {challenge}")),
                "{}",
                r.stderr
            );
            assert!(r.stderr.contains("S: 535 5.7.8"), "{}", r.stderr);
            assert_no_token(&r.stderr, token);
        }
    }
    let envelopes = s.envelopes();
    assert_eq!(envelopes.len(), 2, "{envelopes:?}");
    for e in &envelopes {
        assert_eq!(e["auth_user"], USER, "{e}");
    }
    assert!(s.texts().iter().all(|t| t.contains("with ESMTPSA")));
}

/// Python's smtplib as the client: `SMTP.auth(mech, authobject,
/// initial_response_ok=...)`, the auth object answering the first call
/// (no or an empty challenge) with the mechanism's message and any other
/// challenge (the error) with the dummy response. Exit 3 and the 535 and
/// the challenge's JSON on stdout when refused.
const PY_OAUTH: &str = r#"
import smtplib, ssl, sys
port, mech, initial, user, token = sys.argv[1:6]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def xoauth2(challenge=None):
    if not challenge:
        return f"user={user}\x01auth=Bearer {token}\x01\x01"
    print("challenge", challenge.decode())
    return ""
def oauthbearer(challenge=None):
    if not challenge:
        return f"n,a={user},\x01host=127.0.0.1\x01port={port}\x01auth=Bearer {token}\x01\x01"
    print("challenge", challenge.decode())
    return "\x01"
with smtplib.SMTP("127.0.0.1", int(port)) as s:
    s.ehlo("py.example")
    assert "auth" not in s.esmtp_features, s.esmtp_features
    s.starttls(context=ctx)
    s.ehlo("py.example")
    assert mech in s.esmtp_features["auth"].split(), s.esmtp_features
    auth = xoauth2 if mech == "XOAUTH2" else oauthbearer
    try:
        s.auth(mech, auth, initial_response_ok=(initial == "initial"))
    except smtplib.SMTPAuthenticationError as e:
        print("refused", e.smtp_code, e.smtp_error.decode())
        sys.exit(3)
    s.sendmail("a@example.org", ["b@example.net"], f"Subject: {mech} {initial}\r\n\r\nhi\r\n")
"#;

#[test]
fn python_smtplib_xoauth2_and_oauthbearer() {
    let test = "python_smtplib_xoauth2_and_oauthbearer";
    let Some(py) = peer("python3", test) else {
        return;
    };
    let c = certs();
    let (s, _users) = recv(&c);
    let port = s.addr.port().to_string();
    let run = |mech: &str, initial: &str, token: &str| {
        let mut cmd = Command::new(&py);
        cmd.arg("-c")
            .arg(PY_OAUTH)
            .args([&port, mech, initial, USER, token]);
        run_cmd_within(cmd, PATIENCE, b"")
    };
    let mut stored = 0;
    for mech in ["XOAUTH2", "OAUTHBEARER"] {
        for initial in ["initial", "challenged"] {
            let r = run(mech, initial, TOKEN);
            assert_eq!(
                r.code,
                0,
                "{mech} {initial}: {}{}",
                r.stdout_str(),
                r.stderr
            );
            stored += 1;
            let texts = s.texts();
            assert_eq!(texts.len(), stored);
            assert!(
                texts
                    .iter()
                    .any(|t| t.contains(&format!("Subject: {mech} {initial}\n"))),
                "{texts:?}"
            );
            let r = run(mech, initial, WRONG);
            let out = r.stdout_str();
            assert_eq!(r.code, 3, "{mech} {initial}: {out}{}", r.stderr);
            assert!(
                out.contains(r#"challenge {"status":"invalid_token","schemes":"bearer"}"#),
                "{out}"
            );
            assert!(
                out.contains("refused 535 5.7.8 Authentication credentials invalid"),
                "{out}"
            );
        }
    }
    assert_eq!(s.messages().len(), 4);
    assert!(s.envelopes().iter().all(|e| e["auth_user"] == USER));
}
