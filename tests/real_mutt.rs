//! mutt in batch mode with `$sendmail` set to smtp-send, to our smtp-recv
//! (issue 12): a message with attachments, Cc, Bcc and an 8-bit body
//! arrives as mutt wrote it, byte for byte, to every recipient of the
//! envelope. `$sendmail` is a wrapper that keeps a copy of what mutt
//! hands over (tee) before smtp-send reads it.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use base64::Engine;

use crate::peers::{Recv, peer, strip_trace};
use crate::send::{PATIENCE, isolated};
use crate::util::*;

/// The MIME parts of `msg` (a multipart with one boundary): each part's
/// header and body, as text.
fn parts(msg: &str) -> Vec<(String, String)> {
    let at = msg.find("boundary=").expect("multipart") + "boundary=".len();
    let boundary: String = msg[at..]
        .trim_start_matches('"')
        .chars()
        .take_while(|c| !matches!(c, '"' | ';' | '\n'))
        .collect();
    let delimiter = format!("\n--{boundary}");
    msg.split(&delimiter)
        .skip(1)
        .filter(|p| !p.starts_with("--"))
        .map(|p| {
            let p = p.strip_prefix('\n').unwrap_or(p);
            let (h, b) = p.split_once("\n\n").expect("part header");
            (h.to_owned(), b.to_owned())
        })
        .collect()
}

#[test]
fn mutt_sends_attachments_bcc_and_8bit_through_smtp_send() {
    let test = "mutt_sends_attachments_bcc_and_8bit_through_smtp_send";
    let Some(mutt) = peer("mutt", test) else {
        return;
    };
    let recv = Recv::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let handed = d.join("handed.eml");
    let wrapper = write_file(
        d,
        "sendmail",
        format!(
            "#!/bin/sh\ntee '{}' | exec '{}' -S {} \"$@\"\n",
            handed.display(),
            bin("smtp-send").display(),
            recv.server()
        )
        .as_bytes(),
    );
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let muttrc = write_file(
        d,
        "muttrc",
        format!(
            "set sendmail=\"{}\"\nset from=\"Alice <alice@example.org>\"\nset use_from=yes\n\
set use_envelope_from=yes\nset hostname=\"mutt.test\"\nset charset=\"utf-8\"\n\
set send_charset=\"utf-8\"\nset record=\"\"\nset copy=no\nset folder=\"{d}\"\n\
set spoolfile=\"{d}/inbox\"\nset sleep_time=0\n",
            wrapper.display(),
            d = d.display()
        )
        .as_bytes(),
    );
    let binary = pseudo_random(3000, 12);
    let bin_file = write_file(d, "report.bin", &binary);
    let notes = write_file(d, "notes.txt", b"plain notes\nline two\n");
    let body = "Gr\u{fc}\u{df}e aus Z\u{fc}rich.\n.a line that starts with a dot\n";
    let mut cmd = Command::new(mutt);
    cmd.args(["-n", "-F"])
        .arg(&muttrc)
        .args([
            "-s",
            "Bericht",
            "-c",
            "cc@example.net",
            "-b",
            "hidden@example.net",
            "-a",
        ])
        .arg(&bin_file)
        .arg(&notes)
        .args(["--", "bob@example.net"])
        .env("HOME", d)
        .env("LC_ALL", "C.UTF-8")
        .env("TERM", "dumb")
        .env_remove("MAIL")
        .env_remove("MUTT")
        .env_remove("EMAIL");
    isolated(&mut cmd);
    let r = run_cmd_within(cmd, PATIENCE, body.as_bytes());
    assert_eq!(r.code, 0, "mutt: {}{}", r.stdout_str(), r.stderr);

    let stored = recv.messages();
    assert_eq!(stored.len(), 1, "{}", r.stderr);
    let env = recv.envelopes();
    assert_eq!(env[0]["mail_from"], "alice@example.org");
    let mut rcpts: Vec<String> = env[0]["rcpt_to"]
        .as_array()
        .expect("rcpt_to")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect();
    rcpts.sort();
    assert_eq!(
        rcpts,
        ["bob@example.net", "cc@example.net", "hidden@example.net"]
    );

    // What mutt handed smtp-send is what was stored, byte for byte.
    let handed = std::fs::read(&handed).expect("handed copy");
    let got = strip_trace(&stored[0]);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&handed)
    );
    let text = String::from_utf8(got).expect("UTF-8");
    let (header, _) = text.split_once("\n\n").expect("header");
    assert!(
        !header.contains("\nBcc:") && !header.contains("hidden@"),
        "{header}"
    );
    assert!(header.contains("\nCc: cc@example.net"), "{header}");

    let parts = parts(&text);
    assert_eq!(parts.len(), 3, "{text}");
    // The 8-bit body as typed (RFC 6152), not re-encoded.
    assert!(parts[0].0.contains("charset=utf-8"), "{}", parts[0].0);
    assert!(
        parts[0].0.contains("Content-Transfer-Encoding: 8bit"),
        "{}",
        parts[0].0
    );
    assert_eq!(
        parts[0].1.trim_end_matches('\n'),
        body.trim_end_matches('\n')
    );
    // The binary attachment decodes to the file.
    assert!(
        parts[1].0.contains("filename=\"report.bin\""),
        "{}",
        parts[1].0
    );
    assert!(
        parts[1].0.contains("Content-Transfer-Encoding: base64"),
        "{}",
        parts[1].0
    );
    let b64: String = parts[1].1.split_whitespace().collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    assert!(decoded == binary, "report.bin differs");
    assert!(
        parts[2].0.contains("filename=\"notes.txt\""),
        "{}",
        parts[2].0
    );
    assert_eq!(parts[2].1.trim_end_matches('\n'), "plain notes\nline two");
}
