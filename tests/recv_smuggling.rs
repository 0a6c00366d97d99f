//! smtp-recv and SMTP smuggling: every end-of-data look-alike refused by
//! default or stored whole, a truncated end of data delivering nothing,
//! dot-unstuffing exact wherever reads split.
//!
//! Every test picks free ports (`-l 127.0.0.1:0 --ready-file`), and every
//! process it starts is killed and reaped by a guard, whatever happens.

use std::thread;
use std::time::Duration;

use crate::peers::*;
use crate::recv::*;

/// What a smuggling attempt carries after its fake end of data: a whole
/// second transaction that must never be executed.
const SMUGGLED: &[u8] =
    b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nSmuggled\r\n";

/// Ways to deliver a payload: one write, byte by byte, and split at each
/// offset from the start of the vector (`at`) to its end.
fn deliveries(payload: &[u8], at: usize, len: usize) -> Vec<Vec<Vec<u8>>> {
    let mut v = vec![vec![payload.to_vec()]];
    v.push(payload.iter().map(|b| vec![*b]).collect());
    for cut in at..=at + len {
        v.push(vec![payload[..cut].to_vec(), payload[cut..].to_vec()]);
    }
    v
}

/// Sends `Testing` + vector + a smuggled transaction + the real end of data,
/// in every delivery; then, on the same connection, a clean message.
/// Returns (replies to the smuggling message, stored messages).
fn smuggle(vector: &[u8], extra: &[&str]) -> (Vec<String>, Vec<Vec<u8>>) {
    let mut args = vec!["-n", "0", "-q", "--dir", "d"];
    args.extend(extra);
    let s = Server::start(&args);
    let mut payload = b"Testing".to_vec();
    let at = payload.len();
    payload.extend_from_slice(vector);
    payload.extend_from_slice(SMUGGLED);
    payload.extend_from_slice(b".\r\n");
    let mut replies = Vec::new();
    let ways = deliveries(&payload, at, vector.len());
    for pieces in &ways {
        let mut c = s.connect();
        c.start_data("a@example.org", "b@example.net");
        for (i, p) in pieces.iter().enumerate() {
            if pieces.len() > 2 {
                c.trickle(p);
            } else {
                c.send(p);
                if i + 1 < pieces.len() {
                    thread::sleep(Duration::from_millis(2));
                }
            }
        }
        replies.push(c.reply());
        // Nothing smuggled was executed: the next reply is VRFY's.
        expect(&c.cmd("VRFY someone"), 252);
        expect(&c.cmd("MAIL FROM:<a@example.org>"), 250);
        expect(&c.cmd("RCPT TO:<b@example.net>"), 250);
        expect(&c.cmd("DATA"), 354);
        c.send(MSG);
        expect(&c.cmd("."), 250);
        expect(&c.cmd("QUIT"), 221);
    }
    let d = s.path("d");
    let ended = s.stop();
    ended.code(0);
    let stored: Vec<Vec<u8>> = files_in(&d)
        .into_iter()
        .map(|(_, b)| strip_trace(&b))
        .collect();
    let clean = stored.iter().filter(|b| b.as_slice() == MSG_LF).count();
    assert!(clean >= ways.len(), "clean messages lost: {stored:?}");
    let others: Vec<Vec<u8>> = stored
        .into_iter()
        .filter(|b| b.as_slice() != MSG_LF)
        .collect();
    (replies, others)
}

/// A vector with a bare CR or LF: refused (550, nothing stored) by default,
/// and stored as content, never as an end of data, with `--bare-lf normalize`.
fn refused_by_default(vector: &[u8]) {
    let (replies, stored) = smuggle(vector, &[]);
    for r in &replies {
        expect(r, 550);
    }
    assert!(stored.is_empty(), "stored: {stored:?}");
    let (replies, stored) = smuggle(vector, &["--bare-lf", "normalize"]);
    for r in &replies {
        expect(r, 250);
    }
    assert_eq!(stored.len(), replies.len());
    // Every CRLF, bare CR and bare LF is a line end (stored as LF); the
    // would-be terminator is content, its dot kept (it is not stuffing).
    let mut text = b"Testing".to_vec();
    text.extend_from_slice(vector);
    text.extend_from_slice(SMUGGLED);
    let mut want = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match (text[i], text.get(i + 1)) {
            (b'\r', Some(b'\n')) => {
                want.push(b'\n');
                i += 2;
            }
            (b'\r' | b'\n', _) => {
                want.push(b'\n');
                i += 1;
            }
            (b, _) => {
                want.push(b);
                i += 1;
            }
        }
    }
    for m in &stored {
        assert_eq!(String::from_utf8_lossy(m), String::from_utf8_lossy(&want));
    }
}

#[test]
fn smuggling_lf_dot_lf() {
    refused_by_default(b"\n.\n");
}

#[test]
fn smuggling_lf_dot_crlf() {
    refused_by_default(b"\n.\r\n");
}

#[test]
fn smuggling_crlf_dot_lf() {
    refused_by_default(b"\r\n.\n");
}

#[test]
fn smuggling_cr_dot_cr() {
    refused_by_default(b"\r.\r");
}

#[test]
fn smuggling_cr_dot_crlf() {
    refused_by_default(b"\r.\r\n");
}

#[test]
fn smuggling_crlf_dot_cr() {
    refused_by_default(b"\r\n.\r");
}

#[test]
fn smuggling_lf_lf_dot_crlf() {
    refused_by_default(b"\n\n.\r\n");
}

#[test]
fn smuggling_nul_before_dot_cr() {
    refused_by_default(b"\r\n\x00.\r");
}

#[test]
fn smuggling_nul_before_dot_lf() {
    refused_by_default(b"\r\n\x00.\n");
}

/// NUL around the dot with proper CRLFs: the line is not `.`, so the data
/// goes on; the whole text is one message, stored byte for byte.
fn stored_whole(vector: &[u8], line: &[u8]) {
    let (replies, stored) = smuggle(vector, &[]);
    for r in &replies {
        expect(r, 250);
    }
    assert_eq!(stored.len(), replies.len());
    let mut want = b"Testing\n".to_vec();
    want.extend_from_slice(line);
    want.extend_from_slice(
        b"\nMAIL FROM:<evil@example.org>\nRCPT TO:<victim@example.net>\nDATA\nSmuggled\n",
    );
    for m in &stored {
        assert_eq!(m, &want);
    }
}

#[test]
fn smuggling_nul_before_dot_crlf() {
    stored_whole(b"\r\n\x00.\r\n", b"\x00.");
}

#[test]
fn smuggling_nul_after_dot_crlf() {
    // RFC 5321 §4.5.2: a line starting with "." and more is unstuffed.
    stored_whole(b"\r\n.\x00\r\n", b"\x00");
}

#[test]
fn smuggling_truncated_end_of_data_is_not_delivered() {
    let s = Server::start(&["-n", "0", "-q", "--dir", "d"]);
    for pieces in [
        vec![&b"Testing\r\n."[..]],
        vec![b"Testing\r", b"\n."],
        vec![b"Testing\r\n", b"."],
    ] {
        let mut c = s.connect();
        c.start_data("a@example.org", "b@example.net");
        for p in pieces {
            c.send(p);
            thread::sleep(Duration::from_millis(2));
        }
        c.w.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(c.reply(), "", "a reply to a truncated message");
    }
    let d = s.path("d");
    let ended = s.stop();
    ended.code(0);
    assert!(files_in(&d).is_empty());
}

#[test]
fn dot_unstuffing_is_exact_wherever_reads_split() {
    let msg = b"..\r\n...\r\n.x\r\n..\r\nend.\r\n.\r\n";
    let want = b".\n..\nx\n.\nend.\n";
    let s = Server::start(&["-n", "0", "-q", "--dir", "d"]);
    for pieces in deliveries(msg, 0, msg.len() - 1) {
        let mut c = s.connect();
        c.start_data("a@example.org", "b@example.net");
        for p in &pieces {
            c.send(p);
            thread::sleep(Duration::from_millis(1));
        }
        expect(&c.reply(), 250);
        c.cmd("QUIT");
    }
    let d = s.path("d");
    let ended = s.stop();
    ended.code(0);
    let stored = files_in(&d);
    assert!(!stored.is_empty());
    for (_, m) in stored {
        assert_eq!(strip_trace(&m), want);
    }
}
