//! The README's first command: the end-to-end demo passes with these binaries.

use std::process::Command;

use crate::util::*;

#[test]
fn demo_runs_and_every_step_matches() {
    let bin_dir = bin("mime-b64").parent().expect("bin dir").to_path_buf();
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo"))
        .arg("--no-build")
        .env("MAILPIPE_BIN", &bin_dir)
        .output()
        .expect("run scripts/demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("demo: every step matched"), "{stdout}");
    assert!(!stdout.contains("FAILED"), "{stdout}");
    // The decoded Subject: two adjacent encoded-words, the space inside the
    // first one kept (RFC 2047 §6.2).
    assert!(stdout.contains("Grüße aus Köln — ポストカード"), "{stdout}");
    // The second half sent a message to itself over STARTTLS with AUTH.
    assert!(
        stdout.contains("ok: the attachment's name and bytes match"),
        "{stdout}"
    );
    assert!(stdout.contains("\"protocol\":\"ESMTPSA\""), "{stdout}");
}
