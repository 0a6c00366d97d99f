//! smtp-send --lmtp against a real Dovecot LMTP server (issue 12): one
//! private instance for this file ([`crate::daemons::Dovecot`]), Maildirs
//! under its directory. RFC 2033 §4.2: one reply per recipient after the
//! message; a recipient Dovecot cannot deliver to gets its own temporary
//! failure while the others have the message.

use std::sync::OnceLock;

use crate::daemons::*;
use crate::send::send;
use crate::util::*;

static DOVECOT: OnceLock<Option<Dovecot>> = OnceLock::new();

fn dovecot(test: &str) -> Option<&'static Dovecot> {
    let dv = DOVECOT.get_or_init(|| Dovecot::start(test)).as_ref();
    if dv.is_none() {
        skipped(&format!(
            "{test}: no private Dovecot (see the first SKIPPED line)"
        ));
    }
    dv
}

const MSG: &[u8] = b"From: Alice <alice@example.org>\nTo: ok@lmtp.test\nSubject: lmtp\n\
Date: Thu, 26 Nov 2026 10:00:00 +0000\nMessage-ID: <lmtp@example.org>\nMIME-Version: 1.0\n\
Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n\
Gr\xc3\xbc\xc3\x9fe.\n.a dot line\n.\nend\n";

/// The JSON lines of `--json`.
fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_slice(out)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(out)))
}

/// `smtp-send --lmtp --json ARGS` to `dv`'s LMTP, to `rcpts`.
fn lmtp(dv: &Dovecot, args: &[&str], rcpts: &[&str]) -> Run {
    let server = dv.lmtp_server();
    send(
        &[&["--lmtp", "--json", "-S", &server], args, rcpts].concat(),
        MSG,
    )
}

/// Each delivered copy for USER is MSG under Dovecot's trace lines.
fn has_msg(dv: &Dovecot, user: &str) {
    let got = dv.delivered(user, 1);
    assert_eq!(got.len(), 1, "{user}: {} copies", got.len());
    assert_eq!(
        String::from_utf8_lossy(&strip_delivery_trace(&got[0])),
        String::from_utf8_lossy(MSG)
    );
    let trace = delivery_trace(&got[0]);
    assert!(trace.contains(" with LMTP\n"), "{trace}");
}

/// `(recipient, status, stage)` of each `--json` result.
fn statuses(r: &Run) -> Vec<(String, String, String)> {
    json_lines(&r.stdout)
        .iter()
        .map(|v| {
            let field = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
            (field("recipient"), field("status"), field("stage"))
        })
        .collect()
}

fn triple(rcpt: &str, status: &str, stage: &str) -> (String, String, String) {
    (rcpt.to_owned(), status.to_owned(), stage.to_owned())
}

#[test]
fn dovecot_lmtp_delivers_to_each_user_byte_for_byte() {
    let Some(dv) = dovecot("dovecot_lmtp_delivers_to_each_user_byte_for_byte") else {
        return;
    };
    let r = lmtp(dv, &[], &["ann@lmtp.test", "ben@lmtp.test"]);
    r.code(0);
    assert_eq!(
        statuses(&r),
        [
            triple("ann@lmtp.test", "delivered", "dot"),
            triple("ben@lmtp.test", "delivered", "dot"),
        ]
    );
    has_msg(dv, "ann");
    has_msg(dv, "ben");
    // Dovecot offers CHUNKING (RFC 3030); by DATA, dot-stuffed, the same.
    let r = lmtp(dv, &["-v", "--no-chunking"], &["eve@lmtp.test"]);
    r.code(0);
    assert!(
        r.stderr.contains("C: DATA") && !r.stderr.contains("C: BDAT"),
        "{}",
        r.stderr
    );
    has_msg(dv, "eve");
}

#[test]
fn dovecot_lmtp_one_user_failing_is_75_for_that_one() {
    let Some(dv) = dovecot("dovecot_lmtp_one_user_failing_is_75_for_that_one") else {
        return;
    };
    let broken = format!("{}@lmtp.test", Dovecot::BROKEN);
    let r = lmtp(dv, &[], &["carl@lmtp.test", &broken]);
    // Carl has it; the broken mailbox is a temporary failure of its own
    // (Dovecot: 451 after the message), so the exit is 75, naming only it.
    r.code(75).one_line_error("smtp-send");
    assert!(
        r.stderr.contains(&broken) && !r.stderr.contains("carl@"),
        "{}",
        r.stderr
    );
    assert_eq!(
        statuses(&r),
        [
            triple("carl@lmtp.test", "delivered", "dot"),
            triple(&broken, "deferred", "dot"),
        ],
        "{}",
        r.stdout_str()
    );
    assert_eq!(
        json_lines(&r.stdout)[1]["code"].as_u64().map(|c| c / 100),
        Some(4),
        "{}",
        r.stdout_str()
    );
    has_msg(dv, "carl");
}

/// Issue 12 defect 5: `--json` of an `--lmtp` delivery names the server
/// with `lmtp://` (was `smtp://`).
#[test]
fn dovecot_lmtp_json_names_the_lmtp_server() {
    let Some(dv) = dovecot("dovecot_lmtp_json_names_the_lmtp_server") else {
        return;
    };
    let r = lmtp(dv, &[], &["dora@lmtp.test"]);
    r.code(0);
    let lines = json_lines(&r.stdout);
    let server = lines[0]["server"].as_str().unwrap_or_default();
    assert!(
        server.starts_with("lmtp://") && server.contains(&dv.lmtp.to_string()),
        "{}",
        r.stdout_str()
    );
    has_msg(dv, "dora");
}
