//! Unit tests of the driver's wire (pipelined replies, discarded input)
//! and clocks.

use super::*;

/// A scripted stream: each read returns the next chunk (then end of
/// input); writes are logged between reads, so the test sees when
/// replies went out relative to input.
struct Script {
    chunks: std::collections::VecDeque<Vec<u8>>,
    log: Vec<String>,
}

/// A wire (with a fresh buffer) on a peer that sends `chunks`, one per read.
fn wire(chunks: &[&[u8]]) -> Wire<Script> {
    let script = Script {
        chunks: chunks.iter().map(|c| c.to_vec()).collect(),
        log: Vec::new(),
    };
    Wire::with_buffer(script, Box::default())
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.log.push("read".into());
        let Some(mut c) = self.chunks.pop_front() else {
            return Ok(0);
        };
        let n = c.len().min(buf.len());
        buf[..n].copy_from_slice(&c[..n]);
        if n < c.len() {
            self.chunks.push_front(c.split_off(n));
        }
        Ok(n)
    }
}

impl Write for Script {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.log
            .push(format!("write {}", String::from_utf8_lossy(buf)));
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn lines(w: &mut Wire<Script>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let mut l = Vec::new();
        if read_line(w, &mut l, 512).unwrap() == 0 {
            return out;
        }
        out.push(l);
    }
}

/// RFC 2920 §3.1: replies to a pipelined group leave in one write, when
/// the server runs out of input, and before it waits for more.
#[test]
fn replies_are_flushed_only_when_input_runs_out() {
    let mut w = wire(&[b"MAIL\r\nRCPT\r\nDATA\r\n", b"QUIT\r\n"]);
    let mut got = Vec::new();
    for _ in 0..3 {
        let mut l = Vec::new();
        read_line(&mut w, &mut l, 512).unwrap();
        got.push(l);
        w.queue(b"250 ok\r\n").unwrap();
    }
    assert!(!w.has_input());
    let rest = lines(&mut w);
    assert_eq!(rest, [b"QUIT\r\n".to_vec()]);
    assert_eq!(
        w.stream.log,
        [
            "read",
            "write 250 ok\r\n250 ok\r\n250 ok\r\n",
            "read",
            "read"
        ]
    );
}

#[test]
fn a_large_reply_queue_is_written_without_waiting_for_input() {
    let mut w = wire(&[]);
    for _ in 0..OUTPUT_HIGH_WATER / 8 {
        w.queue(b"250 ok\r\n").unwrap();
    }
    assert_eq!(w.stream.log.len(), 1);
    assert!(w.out.is_empty());
}

#[test]
fn discarded_input_is_never_read_as_commands() {
    let mut w = wire(&[b"STARTTLS\r\nMAIL FROM:<evil@x>\r\n", b"EHLO y\r\n"]);
    let mut l = Vec::new();
    read_line(&mut w, &mut l, 512).unwrap();
    assert_eq!(l, b"STARTTLS\r\n");
    w.discard_input();
    assert_eq!(lines(&mut w), [b"EHLO y\r\n".to_vec()]);
}

#[test]
fn skip_line_stops_after_the_line_feed() {
    let mut w = wire(&[b"xxxx", b"xxxx\r\nNOOP\r\n"]);
    let mut l = Vec::new();
    assert!(read_line(&mut w, &mut l, 3).is_err());
    w.skip_line().unwrap();
    assert_eq!(lines(&mut w), [b"NOOP\r\n".to_vec()]);
}

fn guarded(time: TimeLimits) -> Guarded<Duplex<&'static [u8], Vec<u8>>> {
    Guarded::new(
        Duplex {
            input: &b""[..],
            output: Vec::new(),
        },
        time,
    )
}

#[test]
fn the_nearest_limit_applies() {
    let t = TimeLimits {
        idle: Duration::from_secs(300),
        session: Duration::from_secs(3600),
        min_rate: 1024,
    };
    let g = guarded(t);
    let now = Instant::now();
    assert_eq!(
        g.next_limit(now),
        Ok((Duration::from_secs(300), Expired::Idle))
    );
    let late = g.deadline - Duration::from_secs(10);
    assert_eq!(
        g.next_limit(late),
        Ok((Duration::from_secs(10), Expired::Deadline))
    );
    assert_eq!(g.next_limit(g.deadline), Err(Expired::Deadline));
}

#[test]
fn slow_data_is_cut_after_the_grace_period() {
    let t = TimeLimits {
        idle: Duration::from_secs(300),
        session: Duration::from_secs(3600),
        min_rate: 1000,
    };
    let mut g = guarded(t);
    g.start_data();
    let start = g.data.unwrap().0;
    // Within the 30 s grace: fine whatever the rate.
    assert!(g.next_limit(start + Duration::from_secs(29)).is_ok());
    // After it: 1000 bytes/s on average or more is fine, less is not.
    g.data = Some((start, 40_000));
    assert!(g.next_limit(start + Duration::from_secs(40)).is_ok());
    assert_eq!(
        g.next_limit(start + Duration::from_secs(41)),
        Err(Expired::SlowData)
    );
    g.end_data();
    assert!(g.next_limit(start + Duration::from_secs(41)).is_ok());
    // The grace is never longer than the idle timeout.
    let mut g = guarded(TimeLimits {
        idle: Duration::from_secs(1),
        ..t
    });
    g.start_data();
    let start = g.data.unwrap().0;
    assert_eq!(
        g.next_limit(start + Duration::from_secs(2)),
        Err(Expired::SlowData)
    );
}

#[test]
fn expired_reads_say_which_limit() {
    let e = expired(Expired::SlowData);
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    assert_eq!(expired_kind(&e), Some(Expired::SlowData));
    assert_eq!(expired_kind(&io::Error::other("x")), None);
}

#[test]
fn a_command_line_is_due_whole_within_the_idle_timeout() {
    let mut g = guarded(TimeLimits {
        idle: Duration::from_secs(300),
        session: Duration::from_secs(3600),
        min_rate: 0,
    });
    let now = Instant::now();
    g.line = Some(now + Duration::from_secs(300));
    assert_eq!(
        g.next_limit(now + Duration::from_secs(290)),
        Ok((Duration::from_secs(10), Expired::Idle))
    );
    assert_eq!(
        g.next_limit(now + Duration::from_secs(300)),
        Err(Expired::Idle)
    );
    g.line = None;
    assert_eq!(
        g.next_limit(now + Duration::from_secs(300)),
        Ok((Duration::from_secs(300), Expired::Idle))
    );
}

/// A client that sends `text` a byte per read, `delay` before each.
struct Drip {
    text: Vec<u8>,
    pos: usize,
    delay: Duration,
}

impl Read for Drip {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.text.len() || buf.is_empty() {
            return Ok(0);
        }
        thread::sleep(self.delay);
        buf[0] = self.text[self.pos];
        self.pos += 1;
        Ok(1)
    }
}

/// A host that keeps nothing (no test here gets as far as a message).
struct Nowhere;

impl Host for Nowhere {
    fn begin(&mut self, _: &Envelope, _: &str) -> Begin {
        Begin::Failed(io::Error::other("no store"))
    }
    fn message(&mut self) -> &mut dyn Write {
        unreachable!("no message is open")
    }
    fn commit(&mut self, _: &Envelope, _: &str, _: u64) -> (Commit, Option<Reply>) {
        (Commit::Refused, None)
    }
    fn abort(&mut self) {}
}

/// Issue 17: each byte of a command line restarted the idle clock, so a
/// client dripping one held its slot until the session deadline. The
/// line is due whole within the idle timeout: 421 once it passes.
#[test]
fn bug_a_dripped_command_line_is_cut_at_the_idle_timeout() {
    let mut text = b"EHLO client.example\r\nNOOP ".to_vec();
    text.extend_from_slice(&[b'x'; 400]);
    let mut drip = Drip {
        text,
        pos: 0,
        delay: Duration::from_millis(10),
    };
    let mut out = Vec::new();
    let opts = Options {
        time: TimeLimits {
            idle: Duration::from_millis(500),
            session: Duration::from_secs(3600),
            min_rate: 0,
        },
        ..Options::default()
    };
    let config = Arc::new(Config::new("mx.test"));
    let duplex = Duplex {
        input: &mut drip,
        output: &mut out,
    };
    run_session(
        &config,
        &opts,
        &no_log,
        &mut Nowhere,
        duplex,
        ClientAddr::Stdio,
        &mut input_buffer(),
    )
    .unwrap();
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.ends_with("421 4.4.2 mx.test Error: timeout exceeded\r\n"),
        "{out}"
    );
    // Cut long before the line's end (400 bytes: 4 s).
    assert!(drip.pos < 200, "{}", drip.pos);
}

/// A client reading our replies a byte at a time made each write call
/// progress, so writes ran past the session's end (issue 17).
#[test]
fn writes_end_with_the_session() {
    let mut g = guarded(TimeLimits::default());
    // Past the deadline, the 421 that ends the session still goes out.
    g.deadline = Instant::now();
    g.write_all(b"421 bye\r\n").unwrap();
    g.deadline = Instant::now() - LAST_WORDS;
    let e = g.write_all(b"250 ok\r\n").unwrap_err();
    assert_eq!(expired_kind(&e), Some(Expired::Deadline));
    assert_eq!(g.inner.output, b"421 bye\r\n");
}
