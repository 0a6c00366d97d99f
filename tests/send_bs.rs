//! `smtp-send -bs` (an SMTP session on stdin/stdout, relayed onward) driven
//! by Python's smtplib over a socketpair, as symfony/mailer drives
//! `sendmail -bs`, relaying into a real smtp-recv on a free loopback port.
//!
//! Every process is killed and reaped by a guard; every wait has a deadline.

use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::peers::*;
use crate::send::isolated;
use crate::util::*;

/// Longest any one wait lasts: a hang fails instead of blocking the suite.
const PATIENCE: Duration = Duration::from_secs(60);

/// The smtplib driver: runs `argv` with one end of a socketpair as its
/// stdin and stdout, reads the greeting, then the steps of the JSON file
/// `steps`, printing one JSON object per step with the replies:
///
/// - `{"send": {"from", "to": [...], "data"}}`: MAIL, RCPT..., DATA with
///   smtplib's own methods (`data` is sent as bytes: dot-stuffed, as is);
///   `{"sendmail": ...}` the same with `smtplib.SMTP.sendmail`.
/// - `{"raw": TEXT, "replies": N}`: TEXT sent as is, N replies read.
/// - `{"big": N}`: MAIL, RCPT, DATA, then N bytes of text lines and the dot.
/// - `{"eof": true}`: our end stops writing (the client vanishes).
/// - `{"quit": true}`: QUIT.
///
/// Finally `{"exit": status, "stderr": ...}` once the child ended.
const DRIVER: &str = r#"
import json, smtplib, socket, subprocess, sys
steps = json.load(open(sys.argv[1]))
a, b = socket.socketpair()
err = open(sys.argv[2], "wb")
p = subprocess.Popen(sys.argv[3:], stdin=b, stdout=b, stderr=err)
b.close()
s = smtplib.SMTP()
s.sock = a
s.file = None
def out(o):
    print(json.dumps(o), flush=True)
code, msg = s.getreply()
out({"greeting": code})
code, msg = s.ehlo("client.test")
out({"ehlo": code, "text": msg.decode()})
def reply():
    try:
        c, m = s.getreply()
        return [c, m.decode("utf-8", "replace")]
    except smtplib.SMTPServerDisconnected:
        return [None, "disconnected"]
for st in steps:
    if "send" in st:
        m = st["send"]
        r = [s.mail(m["from"])]
        for t in m["to"]:
            r.append(s.rcpt(t))
        r.append(s.data(m["data"].encode()))
        out({"send": [[c, t.decode()] for c, t in r]})
    elif "sendmail" in st:
        m = st["sendmail"]
        try:
            refused = s.sendmail(m["from"], m["to"], m["data"].encode())
            out({"sendmail": "ok", "refused": {k: v[0] for k, v in refused.items()}})
        except smtplib.SMTPException as e:
            out({"sendmail": type(e).__name__, "error": str(e)})
    elif "raw" in st:
        s.sock.sendall(st["raw"].encode())
        out({"raw": [reply() for _ in range(st["replies"])]})
    elif "big" in st:
        r = [[c, t.decode()] for c, t in (s.mail("a@x.test"), s.rcpt("b@y.test"))]
        s.putcmd("data")
        r.append(reply())
        line = b"x" * 998 + b"\r\n"
        n = st["big"]
        while n > 0:
            s.sock.sendall(line * 1000)
            n -= len(line) * 1000
        s.sock.sendall(b".\r\n")
        r.append(reply())
        out({"big": r})
    elif "eof" in st:
        s.sock.shutdown(socket.SHUT_WR)
        out({"eof": True})
    elif "quit" in st:
        out({"quit": list(s.docmd("QUIT"))[0]})
# Our end closes: the session sees the end of its input.
s.close()
try:
    status = p.wait(timeout=30)
except subprocess.TimeoutExpired:
    p.kill()
    status = "hung"
err.close()
out({"exit": status, "stderr": open(sys.argv[2], "rb").read().decode("utf-8", "replace")})
"#;

/// The driver's output: one JSON value per step (greeting and EHLO first,
/// the exit last).
struct Session {
    lines: Vec<serde_json::Value>,
}

impl Session {
    fn exit(&self) -> &serde_json::Value {
        &self.lines.last().expect("exit line")["exit"]
    }
    fn stderr(&self) -> String {
        self.lines.last().expect("exit line")["stderr"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
    /// The steps' results (after greeting and EHLO, before the exit).
    fn step(&self, i: usize) -> &serde_json::Value {
        &self.lines[2 + i]
    }
}

/// Runs `smtp-send ARGS` under the smtplib driver with `steps`.
fn bs(args: &[&str], steps: serde_json::Value, test: &str) -> Option<Session> {
    let python = peer("python3", test)?;
    let dir = tempfile::tempdir().expect("tempdir");
    let steps_file = dir.path().join("steps.json");
    std::fs::write(&steps_file, steps.to_string()).expect("steps");
    let mut cmd = Command::new(python);
    cmd.arg("-c")
        .arg(DRIVER)
        .arg(&steps_file)
        .arg(dir.path().join("stderr"))
        .arg(bin("smtp-send"))
        .args(args);
    isolated(&mut cmd);
    let run = run_cmd_within(cmd, PATIENCE, b"");
    assert_eq!(run.code, 0, "driver failed: {}", run.stderr);
    let lines = run
        .stdout_str()
        .lines()
        .map(|l| serde_json::from_str(l).expect("driver json"))
        .collect::<Vec<_>>();
    let s = Session { lines };
    assert_eq!(s.lines[0]["greeting"], 220, "{:?}", s.lines);
    assert_eq!(s.lines[1]["ehlo"], 250);
    Some(s)
}

fn msg(from: &str, to: &[&str], data: &str) -> serde_json::Value {
    serde_json::json!({"send": {"from": from, "to": to, "data": data}})
}

/// The codes of a `send` step's replies (MAIL, RCPT..., DATA's final).
fn codes(step: &serde_json::Value) -> Vec<i64> {
    step["send"]
        .as_array()
        .expect("send")
        .iter()
        .map(|r| r[0].as_i64().expect("code"))
        .collect()
}

/// The final reply's text of a `send` step.
fn last_text(step: &serde_json::Value) -> String {
    let a = step["send"].as_array().expect("send");
    a.last().expect("reply")[1]
        .as_str()
        .expect("text")
        .to_owned()
}

#[test]
fn several_messages_in_one_session_are_relayed() {
    let recv = Recv::start(&[]);
    let steps = serde_json::json!([
        msg("a@x.test", &["b@y.test"], "Subject: one\r\n\r\nfirst\r\n"),
        msg("a@x.test", &["c@y.test", "d@y.test"], "Subject: two\r\n\r\n..dot\r\n"),
        {"sendmail": {"from": "", "to": ["e@y.test"], "data": "Subject: three\r\nBcc: hidden@y.test\r\n\r\nthird\r\n"}},
        {"quit": true},
    ]);
    let Some(s) = bs(&["-S", &recv.server(), "-bs"], steps, "bs_several") else {
        return;
    };
    assert!(!s.lines[1]["text"].as_str().unwrap().contains("AUTH"));
    assert!(!s.lines[1]["text"].as_str().unwrap().contains("STARTTLS"));
    assert_eq!(codes(s.step(0)), [250, 250, 250]);
    assert!(
        last_text(s.step(0)).contains("relayed: 250"),
        "{}",
        last_text(s.step(0))
    );
    assert_eq!(codes(s.step(1)), [250, 250, 250, 250]);
    assert_eq!(s.step(2)["sendmail"], "ok");
    assert_eq!(s.step(3)["quit"], 221);
    assert_eq!(*s.exit(), 0, "{}", s.stderr());
    let env = recv.envelopes();
    assert_eq!(env.len(), 3);
    assert_eq!(env[0]["mail_from"], "a@x.test");
    assert_eq!(env[0]["rcpt_to"], serde_json::json!(["b@y.test"]));
    assert_eq!(
        env[1]["rcpt_to"],
        serde_json::json!(["c@y.test", "d@y.test"])
    );
    assert_eq!(env[2]["mail_from"], "");
    let msgs = recv.texts();
    assert_eq!(msgs.len(), 3);
    let all = msgs.join("\n---\n");
    assert!(all.contains("Received: from client.test by "), "{all}");
    assert!(all.contains("\nSubject: one\n") && all.contains("\nfirst\n"));
    assert!(all.contains("\n..dot\n"), "{all}");
    assert!(
        all.contains("\nthird\n") && !all.contains("hidden@"),
        "{all}"
    );
}

#[test]
fn relay_down_is_451_and_nothing_is_claimed() {
    let server = format!("127.0.0.1:{}", free_port());
    let steps = serde_json::json!([
        msg("a@x.test", &["b@y.test"], "Subject: s\r\n\r\nbody\r\n"),
        msg("a@x.test", &["b@y.test"], "Subject: s\r\n\r\nagain\r\n"),
        {"quit": true},
    ]);
    let Some(s) = bs(&["-S", &server, "-bs"], steps, "bs_relay_down") else {
        return;
    };
    for i in 0..2 {
        assert_eq!(codes(s.step(i)), [250, 250, 451]);
        let t = last_text(s.step(i));
        let port = server.rsplit(':').next().unwrap();
        assert!(t.starts_with("4.4.1 relay: ") && t.contains(port), "{t}");
    }
    assert_eq!(s.step(2)["quit"], 221);
    assert_eq!(*s.exit(), 0);
    assert!(s.stderr().contains("not relayed"), "{}", s.stderr());
}

#[test]
fn relay_refusals_are_passed_back() {
    let recv = Recv::start(&[
        "--reply",
        "rcpt:bad@*=550 5.1.1 no such user",
        "--reply",
        "mail:spam@*=553 5.7.1 not from you",
        "--reply-once",
        "dot=451 4.3.0 try again later",
    ]);
    let steps = serde_json::json!([
        msg("a@x.test", &["ok@y.test", "bad@y.test"], "Subject: s\r\n\r\nb\r\n"),
        msg("spam@x.test", &["x@y.test"], "Subject: s\r\n\r\nb\r\n"),
        msg("a@x.test", &["later@y.test"], "Subject: s\r\n\r\nb\r\n"),
        msg("a@x.test", &["later@y.test"], "Subject: s\r\n\r\nb\r\n"),
        {"quit": true},
    ]);
    let Some(s) = bs(&["-S", &recv.server(), "-bs"], steps, "bs_refusals") else {
        return;
    };
    // Recipients are accepted locally; the relay's refusal is the DATA reply.
    assert_eq!(codes(s.step(0)), [250, 250, 250, 550]);
    let t = last_text(s.step(0));
    assert!(
        t.starts_with("5.1.1 relay: ") && t.contains("no such user"),
        "{t}"
    );
    // 553 is not a reply to DATA (RFC 5321 §4.3.2): 554, same reason.
    assert_eq!(codes(s.step(1)), [250, 250, 554]);
    assert!(last_text(s.step(1)).starts_with("5.7.1 relay: "));
    assert!(last_text(s.step(1)).contains("not from you"));
    assert_eq!(codes(s.step(2)), [250, 250, 451]);
    assert!(last_text(s.step(2)).contains("try again later"));
    // The client's retry gets through.
    assert_eq!(codes(s.step(3)), [250, 250, 250]);
    assert_eq!(*s.exit(), 0);
    // Nothing was stored for the refused ones: ok@y.test got nothing either
    // (a recipient was refused: the relay was sent nothing).
    let env = recv.envelopes();
    assert_eq!(env.len(), 1);
    assert_eq!(env[0]["rcpt_to"], serde_json::json!(["later@y.test"]));

    // A 5xx after the message.
    let recv = Recv::start(&["--reply", "dot=554 5.7.1 looks like spam"]);
    let steps = serde_json::json!([msg("a@x.test", &["b@y.test"], "S: s\r\n\r\nb\r\n")]);
    let Some(s) = bs(&["-S", &recv.server(), "-bs"], steps, "bs_refusals") else {
        return;
    };
    assert_eq!(codes(s.step(0)), [250, 250, 554]);
    assert!(last_text(s.step(0)).contains("looks like spam"));
    assert!(recv.envelopes().is_empty());
}

#[test]
fn bare_lf_smuggling_is_refused_and_not_relayed() {
    let recv = Recv::start(&[]);
    let smuggle = "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n\
        Subject: s\r\n\r\nhello\n.\nMAIL FROM:<evil@x.test>\nRCPT TO:<victim@y.test>\nDATA\n\
        smuggled\r\n.\r\n";
    let smuggle_cr = "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n\
        Subject: s\r\n\r\nhello\r.\rMAIL FROM:<evil@x.test>\r\n.\r\n";
    let steps = serde_json::json!([
        {"raw": smuggle, "replies": 4},
        {"raw": smuggle_cr, "replies": 4},
        msg("a@x.test", &["b@y.test"], "Subject: fine\r\n\r\nfine\r\n"),
        {"quit": true},
    ]);
    let Some(s) = bs(&["-S", &recv.server(), "-bs"], steps, "bs_smuggling") else {
        return;
    };
    for i in 0..2 {
        let r = s.step(i)["raw"].as_array().unwrap();
        let got: Vec<i64> = r.iter().map(|x| x[0].as_i64().unwrap()).collect();
        assert_eq!(got, [250, 250, 354, 550], "{r:?}");
    }
    assert_eq!(codes(s.step(2)), [250, 250, 250]);
    let msgs = recv.texts();
    assert_eq!(msgs.len(), 1);
    assert!(!msgs[0].contains("evil") && !msgs[0].contains("smuggled"));
    assert_eq!(
        recv.envelopes()[0]["rcpt_to"],
        serde_json::json!(["b@y.test"])
    );
}

#[test]
fn a_client_that_leaves_mid_data_relays_nothing() {
    let recv = Recv::start(&[]);
    let steps = serde_json::json!([
        {"raw": "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nSubject: cut\r\n\r\nhalf a mess", "replies": 3},
        {"eof": true},
    ]);
    let Some(s) = bs(&["-S", &recv.server(), "-bs"], steps, "bs_eof") else {
        return;
    };
    assert_eq!(*s.exit(), 0);
    thread::sleep(Duration::from_millis(200));
    assert!(recv.texts().is_empty());
    assert!(recv.envelopes().is_empty());
}

#[test]
fn an_oversized_message_is_refused_locally() {
    let recv = Recv::start(&[]);
    let steps = serde_json::json!([
        {"big": 36 * 1024 * 1024 + 10},
        msg("a@x.test", &["b@y.test"], "Subject: small\r\n\r\nok\r\n"),
        {"quit": true},
    ]);
    let Some(s) = bs(&["-S", &recv.server(), "-bs"], steps, "bs_oversized") else {
        return;
    };
    let r = s.step(0)["big"].as_array().unwrap();
    let got: Vec<i64> = r.iter().map(|x| x[0].as_i64().unwrap()).collect();
    assert_eq!(got, [250, 250, 354, 552], "{r:?}");
    assert_eq!(codes(s.step(1)), [250, 250, 250]);
    assert_eq!(recv.texts().len(), 1);
}

#[test]
fn a_relay_connection_closed_while_idle_is_reopened() {
    // smtp-recv closes the first connection after its first message (quit
    // stage injection is not needed: --disconnect on the second MAIL).
    let recv = Recv::start(&["--disconnect", "1:mail:second@*"]);
    let steps = serde_json::json!([
        msg("first@x.test", &["b@y.test"], "Subject: 1\r\n\r\none\r\n"),
        msg("second@x.test", &["b@y.test"], "Subject: 2\r\n\r\ntwo\r\n"),
        {"quit": true},
    ]);
    let Some(s) = bs(&["-S", &recv.server(), "-bs"], steps, "bs_reopen") else {
        return;
    };
    assert_eq!(codes(s.step(0)), [250, 250, 250]);
    assert_eq!(codes(s.step(1)), [250, 250, 250], "{}", s.stderr());
    assert_eq!(recv.envelopes().len(), 2);
}

#[test]
fn bs_is_a_sendmail_spelling_with_checked_companions() {
    // As `sendmail -bs` (symlink), with -i (ignored in -bs).
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("sendmail");
    std::os::unix::fs::symlink(bin("smtp-send"), &link).unwrap();
    let r = run_cmd_within(
        sendmail_cmd(&link, &["-bs", "-i", "-S", "127.0.0.1:1"]),
        PATIENCE,
        b"QUIT\r\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout_str().starts_with("220 "), "{}", r.stdout_str());
    assert!(
        r.stdout_str().ends_with("221 2.0.0 Bye\r\n"),
        "{}",
        r.stdout_str()
    );
    // What -bs cannot be combined with: usage, 64, one line.
    for args in [
        &["-bs", "-S", "h", "you@y.test"][..],
        &["-bs", "-S", "h", "-t"],
        &["-bs", "-S", "h", "--dry-run"],
        &["-bs", "-S", "h", "--json"],
        &["-bs", "-S", "h", "-f", "a@x.test"],
    ] {
        let r = run_cmd_within(sendmail_cmd(&bin("smtp-send"), args), PATIENCE, b"");
        r.code(64);
        assert!(r.stdout.is_empty());
    }
    // No server: 78 before a greeting (the client sees no 220).
    let r = run_cmd_within(sendmail_cmd(&bin("smtp-send"), &["-bs"]), PATIENCE, b"");
    r.code(78).one_line_error("smtp-send");
    assert!(r.stdout.is_empty());
}

fn sendmail_cmd(prog: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(prog);
    isolated(cmd.args(args));
    cmd
}

#[test]
fn hostile_input_never_panics_or_hangs() {
    let server = format!("127.0.0.1:{}", free_port());
    let mut junk = pseudo_random(200_000, 7);
    junk.extend_from_slice(b"\r\nQUIT\r\n");
    let mut long = b"EHLO ".to_vec();
    long.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    long.extend_from_slice(b"\r\nNOOP\r\nQUIT\r\n");
    for input in [&b""[..], b"\0\0\0\xff\xfe", &junk, &long] {
        let r = run_cmd_within(
            sendmail_cmd(&bin("smtp-send"), &["-bs", "-S", &server]),
            PATIENCE,
            input,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout_str().starts_with("220 "));
    }
}

#[test]
fn with_a_queue_relay_down_is_queued_and_flushed_later() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("queue");
    let q_arg = q.to_str().unwrap();
    let down = format!("127.0.0.1:{}", free_port());
    let steps = serde_json::json!([
        msg("a@x.test", &["b@y.test"], "Subject: later\r\n\r\nkept\r\n"),
        {"quit": true},
    ]);
    let Some(s) = bs(&["-S", &down, "-bs", "--queue", q_arg], steps, "bs_queue") else {
        return;
    };
    assert_eq!(codes(s.step(0)), [250, 250, 250]);
    let t = last_text(s.step(0));
    assert!(t.starts_with("2.0.0 Ok: queued as "), "{t}");
    assert_eq!(*s.exit(), 0);
    // The relay comes back: a flush delivers it, once.
    let recv = Recv::start(&[]);
    let r = run_cmd_within(
        sendmail_cmd(
            &bin("smtp-send"),
            &["-S", &recv.server(), "--flush", q_arg, "--force"],
        ),
        PATIENCE,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let msgs = recv.texts();
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].contains("\nkept\n") && msgs[0].contains("Received: from client.test"));
    // A permanent refusal is not queued.
    let recv = Recv::start(&["--reply", "rcpt:*=550 5.1.1 no"]);
    let steps = serde_json::json!([msg("a@x.test", &["b@y.test"], "S: s\r\n\r\nb\r\n")]);
    let Some(s) = bs(
        &["-S", &recv.server(), "-bs", "--queue", q_arg],
        steps,
        "bs_queue",
    ) else {
        return;
    };
    assert_eq!(codes(s.step(0)), [250, 250, 550]);
    let r = run_cmd_within(
        sendmail_cmd(&bin("smtp-send"), &["--list", q_arg]),
        PATIENCE,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout_str().contains("b@y.test"), "{}", r.stdout_str());
}

// --------------------------------------- -bs with --downgrade and a config

/// `smtp-send -bs ARGS` with a whole session written on its stdin at once
/// (the server session reads commands in order, PIPELINING or not).
fn bs_raw(args: &[&str], session: &[u8]) -> Run {
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.arg("-bs").args(args);
    isolated(&mut cmd)
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", "/nonexistent");
    run_cmd_within(cmd, PATIENCE, session)
}

const EIGHT_BIT_SESSION: &[u8] =
    b"EHLO client.test\r\nMAIL FROM:<me@work.example> BODY=8BITMIME\r\n\
RCPT TO:<you@example.org>\r\nDATA\r\nFrom: me@work.example\r\nTo: you@example.org\r\n\
Subject: 8bit\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9\r\n.\r\nQUIT\r\n";

#[test]
fn downgrade_reaches_what_bs_relays() {
    let recv = Recv::start(&["--no-8bitmime"]);
    // Without --downgrade: refused for good, nothing relayed.
    let r = bs_raw(&["-S", &recv.server()], EIGHT_BIT_SESSION);
    r.code(0);
    assert!(r.stdout_str().contains("\r\n554"), "{}", r.stdout_str());
    assert!(recv.texts().is_empty());
    // With it: re-encoded, relayed, 250.
    let r = bs_raw(&["-S", &recv.server(), "--downgrade"], EIGHT_BIT_SESSION);
    r.code(0);
    assert!(!r.stdout_str().contains("\r\n554"), "{}", r.stdout_str());
    let got = recv.texts();
    assert_eq!(got.len(), 1, "{}", r.stderr);
    assert!(
        got[0].is_ascii() && got[0].contains("quoted-printable"),
        "{}",
        got[0]
    );
}

#[test]
fn a_config_with_match_from_does_not_read_the_session() {
    // match_from must not take the SMTP session on stdin for a message
    // header: the account of [default] applies, the session is intact.
    let recv = Recv::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("config.toml");
    std::fs::write(
        &conf,
        format!(
            "[default]\nserver = \"{}\"\n[accounts.work]\nmatch_from = \"*@work.example\"\nserver = \"127.0.0.1:{}\"\n",
            recv.server(),
            free_port()
        ),
    )
    .unwrap();
    let r = bs_raw(
        &["--config", conf.to_str().unwrap(), "--downgrade"],
        EIGHT_BIT_SESSION,
    );
    r.code(0);
    assert!(r.stdout_str().starts_with("220 "), "{}", r.stdout_str());
    assert_eq!(recv.texts().len(), 1, "{}{}", r.stdout_str(), r.stderr);
}

/// B6: the relay takes fewer recipients per transaction (452) and the
/// next transaction fails. Without --queue the client's one DATA reply
/// cannot say "partly delivered": 451 (a retry duplicates to the first
/// recipients; losing the others would be worse; documented). With
/// --queue the rest is queued and 250 is the truth: only that rest waits.
#[test]
fn bug_bs_fewer_rcpts_then_a_failure_with_queue_is_250_and_queues_the_rest() {
    const SESSION: &[u8] = b"EHLO client.test\r\nMAIL FROM:<a@b.test>\r\n\
RCPT TO:<r1@x.test>\r\nRCPT TO:<r2@x.test>\r\nRCPT TO:<r3@x.test>\r\nDATA\r\n\
From: a@b.test\r\nSubject: split\r\n\r\nhi\r\n.\r\nQUIT\r\n";
    let recv = Recv::start(&["--max-rcpts", "2", "--reply", "rcpt:r3@*=451 4.2.0 later"]);
    // Without --queue: 451, saying who has it.
    let r = bs_raw(&["-S", &recv.server()], SESSION);
    r.code(0);
    let out = r.stdout_str();
    assert!(out.contains("\r\n451 "), "{out}");
    assert!(out.contains("delivered to 2 of 3 recipients"), "{out}");
    assert_eq!(recv.messages().len(), 1);
    // With --queue: 250, and the queue holds r3 only.
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    let qs = q.to_str().unwrap();
    let r = bs_raw(&["-S", &recv.server(), "--queue", qs], SESSION);
    r.code(0);
    let out = r.stdout_str();
    assert!(
        out.contains("\r\n250 2.0.0 Ok: relayed to 2 recipients, the others queued as "),
        "{out}"
    );
    assert!(!out.contains("\r\n451 "), "{out}");
    assert_eq!(recv.messages().len(), 2);
    let list = run("smtp-send", &["--list", qs, "--json"], b"");
    list.code(0);
    let lines: Vec<serde_json::Value> = list
        .stdout_str()
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", list.stdout_str());
    assert_eq!(lines[0]["to"], serde_json::json!(["r3@x.test"]));
}

/// -bs prepares each message with the run's options: `--qualify-domain`
/// (the flag, or the config key) qualifies the bare names of the header.
#[test]
fn bug_bs_applies_qualify_domain() {
    const SESSION: &[u8] = b"EHLO client.test\r\nMAIL FROM:<a@b.test>\r\n\
RCPT TO:<r@x.test>\r\nDATA\r\nFrom: cron\r\nTo: user\r\nSubject: q\r\n\r\nhi\r\n.\r\nQUIT\r\n";
    let recv = Recv::start(&[]);
    let r = bs_raw(
        &["-S", &recv.server(), "--qualify-domain", "example.org"],
        SESSION,
    );
    r.code(0);
    let got = recv.texts();
    assert_eq!(got.len(), 1, "{}{}", r.stdout_str(), r.stderr);
    assert!(got[0].contains("\nFrom: cron@example.org"), "{}", got[0]);
    assert!(got[0].contains("\nTo: user@example.org"), "{}", got[0]);
    // From a config file.
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("config.toml");
    std::fs::write(
        &conf,
        format!(
            "[default]\nserver = \"{}\"\nqualify_domain = \"example.com\"\n",
            recv.server()
        ),
    )
    .unwrap();
    let r = bs_raw(&["--config", conf.to_str().unwrap()], SESSION);
    r.code(0);
    let got = recv.texts();
    assert_eq!(got.len(), 2, "{}{}", r.stdout_str(), r.stderr);
    assert!(got[1].contains("\nTo: user@example.com"), "{}", got[1]);
}
