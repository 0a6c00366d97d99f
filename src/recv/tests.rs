//! Unit tests of `smtp-recv`'s runs: options, the ready file, and whole
//! sessions over the `--stdio` path into a store.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::store::{self, Store};
use super::*;
use crate::smtp::reply::codes;
use crate::smtp::server;
use crate::smtp::server::driver;
use crate::smtp::testing::SharedBuf;

/// A log that drops every line.
fn quiet() -> Arc<driver::Log> {
    Arc::new(driver::no_log)
}

#[test]
fn seconds_parse_with_fractions() {
    assert_eq!(parse_seconds("300"), Ok(Duration::from_secs(300)));
    for s in ["300", "0.5", "3600"] {
        assert_eq!(s.parse::<Seconds>().unwrap().to_string(), s);
    }
    assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
    for bad in ["0", "-1", "x", "", "inf", "NaN", "1e300"] {
        assert!(parse_seconds(bad).is_err(), "{bad}");
    }
}

#[test]
fn ready_file_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ready");
    let addrs: Vec<SocketAddr> = vec![
        "127.0.0.1:2525".parse().unwrap(),
        "[::1]:25".parse().unwrap(),
    ];
    write_ready_file(&p, &addrs).unwrap();
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        "127.0.0.1:2525\n[::1]:25\n"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let bad = dir.path().join("no/such/dir/ready");
    assert!(write_ready_file(&bad, &addrs).is_err());
}

struct Run {
    stored: u64,
    replies: String,
    files: Vec<Vec<u8>>,
    json: String,
}

/// One in-memory session (the `--stdio` path) storing into a `--dir`.
fn session(input: &[u8], count: u64, config: server::Config) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        store::Target::Dir(dir.path().into()),
        count,
        store::test_std(),
    )
    .unwrap();
    let json = SharedBuf::default();
    let opts = Options {
        count,
        quiet: true,
        envelope_json: Some(Box::new(json.clone())),
        ..Options::default()
    };
    let mut out = Vec::new();
    let stored = stdio(
        input,
        &mut out,
        Arc::new(config),
        Arc::new(store),
        opts,
        quiet(),
    )
    .unwrap();
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    files.sort();
    let json = String::from_utf8(json.bytes()).unwrap();
    Run {
        stored,
        replies: String::from_utf8(out).unwrap(),
        files,
        json,
    }
}

fn config() -> server::Config {
    server::Config::new("mx.test")
}

/// The stored message without our Return-Path and (folded) Received.
fn body(stored: &[u8]) -> &[u8] {
    let mut rest = stored;
    while rest.starts_with(b"Return-Path:")
        || rest.starts_with(b"Received:")
        || rest.starts_with(b"\t")
    {
        let i = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        rest = &rest[i..];
    }
    rest
}

const TX: &[u8] = b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n";

/// A client's input: EHLO, one transaction, then `rest` (its data and more).
fn one_tx(rest: &[u8]) -> Vec<u8> {
    [&b"EHLO c.test\r\n"[..], TX, rest].concat()
}

#[test]
fn a_pipelined_session_in_one_buffer() {
    let input = one_tx(b"Subject: s\r\n\r\n..x\r\n.\r\nQUIT\r\n");
    let r = session(&input, 1, config());
    assert_eq!(r.stored, 1);
    assert_eq!(codes(&r.replies), [220, 250, 250, 250, 354, 250, 221]);
    assert_eq!(r.files.len(), 1);
    assert_eq!(body(&r.files[0]), b"Subject: s\n\n.x\n");
    let v: serde_json::Value = serde_json::from_str(r.json.trim()).unwrap();
    assert_eq!(v["client"], "stdio");
    assert_eq!(v["rcpt_to"][0], "b@y.test");
}

#[test]
fn after_the_last_message_only_quit_rset_noop_are_served() {
    let input = one_tx(b"one\r\n.\r\nNOOP\r\nRSET\r\nQUIT\r\n");
    let r = session(&input, 1, config());
    assert_eq!(
        codes(&r.replies),
        [220, 250, 250, 250, 354, 250, 250, 250, 221]
    );
    let mut input = one_tx(b"one\r\n.\r\n");
    input.extend_from_slice(TX);
    input.extend_from_slice(b"two\r\n.\r\nQUIT\r\n");
    let r = session(&input, 1, config());
    assert_eq!(r.stored, 1);
    assert_eq!(codes(&r.replies), [220, 250, 250, 250, 354, 250, 421]);
    assert!(
        r.replies
            .ends_with("421 4.3.0 mx.test Service shutting down, closing transmission channel\r\n")
    );
    assert_eq!(r.files.len(), 1);
}

#[test]
fn count_zero_takes_every_message_of_the_session() {
    let mut input = b"EHLO c.test\r\n".to_vec();
    for _ in 0..3 {
        input.extend_from_slice(TX);
        input.extend_from_slice(b"m\r\n.\r\n");
    }
    // No QUIT: the client just goes away.
    let r = session(&input, 0, config());
    assert_eq!(r.stored, 3);
    assert_eq!(r.files.len(), 3);
    assert_eq!(r.json.lines().count(), 3);
}

#[test]
fn bdat_chunks_and_a_skipped_chunk() {
    let input = b"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n\
BDAT 3\r\nab\nBDAT 3 LAST\r\nc\r\nBDAT 4\r\nzzzzNOOP\r\nQUIT\r\n";
    let r = session(input, 0, config());
    // "ab\n" has a bare LF: the chunk is refused (550), the LAST chunk
    // is then skipped (503) with its octets, and NOOP is still a command.
    assert_eq!(
        codes(&r.replies),
        [220, 250, 250, 250, 550, 503, 503, 250, 221]
    );
    assert_eq!(r.stored, 0);
    let input = b"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n\
BDAT 4\r\nab\r\nBDAT 3 LAST\r\nc\r\nQUIT\r\n";
    let r = session(input, 1, config());
    assert_eq!(codes(&r.replies), [220, 250, 250, 250, 250, 250, 221]);
    assert_eq!(body(&r.files[0]), b"ab\nc\n");
}

#[test]
fn rset_between_bdat_chunks_drops_the_message() {
    let input = b"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n\
BDAT 4\r\nab\r\nRSET\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n\
BDAT 4 LAST\r\ncd\r\nQUIT\r\n";
    let r = session(input, 1, config());
    assert_eq!(r.stored, 1);
    assert_eq!(body(&r.files[0]), b"cd\n");
}

#[test]
fn an_over_long_line_is_refused_and_skipped() {
    let mut input = b"EHLO c.test\r\nNOOP ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 100_000));
    input.extend_from_slice(b"\r\nNOOP\r\nQUIT\r\n");
    let r = session(&input, 0, config());
    assert_eq!(codes(&r.replies), [220, 250, 500, 250, 221]);
}

#[test]
fn storage_that_cannot_begin_is_451() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let store = Store::open(store::Target::Dir(d.clone()), 1, store::test_std()).unwrap();
    std::fs::remove_dir(&d).unwrap();
    std::fs::write(&d, b"").unwrap();
    let input = one_tx(b"m\r\n.\r\nQUIT\r\n");
    let mut out = Vec::new();
    let opts = Options {
        quiet: true,
        ..Options::default()
    };
    // The failure is logged whatever `quiet` says (the client's 451 is
    // generic).
    let logged = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&logged);
    let log: Arc<driver::Log> = Arc::new(move |level, msg| {
        sink.lock().unwrap().push((level, msg.to_string()));
    });
    let n = stdio(
        &input[..],
        &mut out,
        Arc::new(config()),
        Arc::new(store),
        opts,
        log,
    )
    .unwrap();
    assert_eq!(n, 0);
    let logged = logged.lock().unwrap();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].0, driver::Level::Info);
    assert!(logged[0].1.contains(": not stored: "), "{logged:?}");
    assert_eq!(
        codes(&String::from_utf8(out).unwrap()),
        [220, 250, 250, 250, 354, 451, 221]
    );
}

#[test]
fn a_client_that_vanishes_mid_message_stores_nothing() {
    let input = one_tx(b"Subject: cut\r\n\r\nhalf\r\n.");
    let r = session(&input, 0, config());
    assert_eq!(r.stored, 0);
    assert!(r.files.is_empty());
    assert_eq!(codes(&r.replies), [220, 250, 250, 250, 354]);
}
