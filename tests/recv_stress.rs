//! Issue 17: smtp-recv's slots. Finding 8, stress mode: idle connections
//! filling every slot locked real clients out for the whole idle timeout
//! (300 s); now, while every slot is busy, a session idle outside a
//! transaction for `--stress-idle-timeout` is closed with `421 4.4.2` and
//! the waiting client is served. Finding 1: a client dripping a command
//! line, or its TLS handshake, kept its slot until the session deadline.
//!
//! No wall clock is asserted: each client and reader has a 30 s cap, far
//! below the 300 s idle timeout these tests would otherwise wait out.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use crate::peers::Recv;
use crate::send::{MSG, send};

/// A raw client: its socket (reads give up after 30 s) and a reader.
struct Raw {
    sock: TcpStream,
    r: BufReader<TcpStream>,
}

impl Raw {
    /// Connects and reads the greeting.
    fn connect(s: &Recv) -> Raw {
        let sock = TcpStream::connect(s.addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut raw = Raw {
            r: BufReader::new(sock.try_clone().unwrap()),
            sock,
        };
        assert!(raw.line().starts_with("220 "));
        raw
    }

    /// The next line from the server ("" at the end or on a timeout).
    fn line(&mut self) -> String {
        let mut l = String::new();
        let _ = self.r.read_line(&mut l);
        l
    }

    /// Sends `cmd` and reads the reply's last line.
    fn say(&mut self, cmd: &str) -> String {
        self.sock.write_all(cmd.as_bytes()).unwrap();
        loop {
            let l = self.line();
            if l.as_bytes().get(3) != Some(&b'-') {
                return l;
            }
        }
    }
}

#[test]
fn bug_idle_connections_no_longer_lock_out_a_client() {
    let s = Recv::start(&["--max-clients", "2", "--stress-idle-timeout", "1"]);
    // Every slot is held by a connection that says nothing.
    let mut idle = [Raw::connect(&s), Raw::connect(&s)];
    // A newcomer waits for a slot, and gets one once an idle connection
    // has been idle 1 s (its greeting is read inside `connect`).
    let mut first = Raw::connect(&s);
    // The other idle one is past the stress limit by now: smtp-send is
    // served as soon as its slot frees.
    send(&["-S", &s.server(), "x@example.net"], MSG).code(0);
    assert_eq!(s.messages().len(), 1);
    for c in &mut idle {
        let l = c.line();
        assert!(
            l.starts_with("421 4.4.2 ") && l.ends_with("Idle too long (server busy)\r\n"),
            "{l:?}"
        );
        assert_eq!(c.line(), "", "closed after the 421");
    }
    // The first newcomer is served as any client.
    assert!(first.say("EHLO client.test\r\n").starts_with("250 "));
    assert!(first.say("QUIT\r\n").starts_with("221 "));
}

#[test]
fn a_transaction_in_progress_is_not_cut() {
    let s = Recv::start(&["--max-clients", "1", "--stress-idle-timeout", "1"]);
    let mut busy = Raw::connect(&s);
    assert!(busy.say("EHLO client.test\r\n").starts_with("250 "));
    assert!(
        busy.say("MAIL FROM:<a@client.test>\r\n")
            .starts_with("250 ")
    );
    assert!(busy.say("RCPT TO:<b@example.net>\r\n").starts_with("250 "));
    // The one slot is in a transaction: the newcomer waits out the stress
    // idle timeout and is refused, and the transaction goes on.
    let r = send(&["-S", &s.server(), "x@example.net"], MSG);
    r.code(75);
    assert!(r.stderr.contains("421 4.3.2"), "{}", r.stderr);
    assert!(busy.say("DATA\r\n").starts_with("354 "));
    assert!(
        busy.say("Subject: x\r\n\r\nkept\r\n.\r\n")
            .starts_with("250 ")
    );
    assert!(busy.say("QUIT\r\n").starts_with("221 "));
    assert_eq!(s.messages().len(), 1);
}

#[test]
fn bug_a_dripped_command_keeps_no_slot() {
    let s = Recv::start(&["--max-clients", "1", "--idle-timeout", "1"]);
    let mut drip = Raw::connect(&s);
    // A command line a byte every 200 ms: 30 s for the whole line, each
    // byte well within the 1 s idle timeout.
    let mut sock = drip.sock.try_clone().unwrap();
    let writer = thread::spawn(move || {
        for b in [b"NOOP ".as_slice(), &[b'x'; 145]].concat() {
            if sock.write_all(&[b]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
    });
    let l = drip.line();
    assert!(
        l.starts_with("421 4.4.2 ") && l.contains("timeout exceeded"),
        "{l:?}"
    );
    // The slot is free again.
    send(&["-S", &s.server(), "x@example.net"], MSG).code(0);
    drop(drip);
    writer.join().unwrap();
}

#[test]
fn bug_a_dripped_tls_handshake_keeps_no_slot() {
    let c = crate::peers::certs();
    let s = Recv::start(
        &[
            &["--tls", "implicit", "--idle-timeout", "1"][..],
            &c.recv_args(),
        ]
        .concat(),
    );
    let mut sock = TcpStream::connect(s.addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // A TLS record header announcing a ClientHello, then its body a byte
    // every 200 ms (50 s), each within the 1 s idle timeout.
    let mut w = sock.try_clone().unwrap();
    let writer = thread::spawn(move || {
        let hello = [&[0x16, 0x03, 0x01, 0x00, 0xfa][..], &[0x01; 250]].concat();
        for b in hello {
            if w.write_all(&[b]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
    });
    // The server gives up at the idle timeout: end of input (perhaps
    // after an alert), not our 30 s read timeout.
    let mut buf = [0u8; 512];
    loop {
        match std::io::Read::read(&mut sock, &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
                break;
            }
        }
    }
    drop(sock);
    writer.join().unwrap();
}
