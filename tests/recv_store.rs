//! smtp-recv's storage and durability: Maildir, mbox, `--dir`, `--exec`,
//! `--envelope-json`; a failed store answers 451 and leaves nothing; a
//! full disk, a removed directory, a vanished stdout reader.
//!
//! Every test picks free ports (`-l 127.0.0.1:0 --ready-file`), and every
//! process it starts is killed and reaped by a guard, whatever happens.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::peers::*;
use crate::recv::*;
use crate::util::*;

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
