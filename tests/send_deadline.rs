//! Issue 17, finding 1: every wait of smtp-send is a deadline for the whole
//! reply, not a timeout per read. The servers here drip their reply a byte
//! every 300 ms, which held a per-read `--timeout 2` for as long as the
//! drip lasted (minutes); now the run ends with 75 and says which limit
//! passed. The only clock in these tests is `send`'s cap (30 s, the test
//! fails if it is reached), far below what each drip would take; the
//! greeting test tells the limits apart by the stage that timed out.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::peers::certs;
use crate::send::{MSG, send};

/// One byte per this long.
const DRIP: Duration = Duration::from_millis(300);

/// A long multi-line reply: 200 lines, a drip of about 30 minutes.
fn long_reply(code: u16) -> Vec<u8> {
    let mut r = Vec::new();
    for i in 0..199 {
        r.extend_from_slice(format!("{code}-line {i} of a slow reply\r\n").as_bytes());
    }
    r.extend_from_slice(format!("{code} end\r\n").as_bytes());
    r
}

/// Writes `bytes` to `out` one at a time, [`DRIP`] apart, until the
/// client hangs up.
fn drip(out: &mut impl Write, bytes: &[u8]) {
    for b in bytes {
        if out.write_all(&[*b]).and_then(|()| out.flush()).is_err() {
            return;
        }
        thread::sleep(DRIP);
    }
}

/// A server on loopback that runs `serve` on its one connection.
fn server(serve: impl FnOnce(TcpStream) + Send + 'static) -> (SocketAddr, thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = thread::spawn(move || {
        if let Ok((s, _)) = l.accept() {
            let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
            serve(s);
        }
    });
    (addr, h)
}

/// Reads one command line (the client's).
fn line(r: &mut impl BufRead) -> String {
    let mut l = String::new();
    let _ = r.read_line(&mut l);
    l
}

fn timed_out(stderr: &str, what: &str) {
    assert!(
        stderr.contains(&format!(
            "{what}: timed out waiting for the server (no complete reply within 2 s)"
        )),
        "{stderr}"
    );
}

#[test]
fn bug_a_dripped_reply_ends_at_the_timeout() {
    let (addr, h) = server(|mut s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let _ = s.write_all(b"220 slow.test ESMTP\r\n");
        line(&mut r);
        drip(&mut s, &long_reply(250));
    });
    let r = send(
        &["-S", &addr.to_string(), "--timeout", "2", "x@example.net"],
        MSG,
    );
    r.code(75).one_line_error("smtp-send");
    timed_out(&r.stderr, "EHLO");
    h.join().unwrap();
}

#[test]
fn bug_a_dripped_greeting_ends_at_the_timeout() {
    let (addr, h) = server(|mut s| drip(&mut s, &long_reply(220)));
    let r = send(
        &["-S", &addr.to_string(), "--timeout", "2", "x@example.net"],
        MSG,
    );
    r.code(75).one_line_error("smtp-send");
    timed_out(&r.stderr, "greeting");
    h.join().unwrap();
}

/// Through STARTTLS, the worst case: one TLS record holding the whole
/// reply, its bytes dripped on the socket. Every socket read brings a
/// byte, and no plaintext comes out until the record is complete, so only
/// a deadline below the TLS stream can end it.
#[test]
fn bug_a_dripped_tls_record_ends_at_the_timeout() {
    let c = certs();
    let config = mailpipe::smtp::tls::server_config(
        &std::fs::read(&c.cert).unwrap(),
        &std::fs::read(&c.key).unwrap(),
    )
    .unwrap();
    let (addr, h) = server(move |mut s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let _ = s.write_all(b"220 slow.test ESMTP\r\n");
        line(&mut r);
        let _ = s.write_all(b"250-slow.test\r\n250 STARTTLS\r\n");
        line(&mut r);
        let _ = s.write_all(b"220 go ahead\r\n");
        drop(r);
        let Ok(mut tls) = mailpipe::smtp::tls::handshake(&Arc::clone(&config), s) else {
            return;
        };
        let mut r = BufReader::new(&mut tls);
        line(&mut r);
        drop(r);
        // The reply as TLS records, then their bytes one at a time.
        let _ = tls.conn.writer().write_all(&long_reply(250)[..2000]);
        let mut records = Vec::new();
        while tls.conn.wants_write() {
            let _ = tls.conn.write_tls(&mut records);
        }
        drip(&mut tls.sock, &records);
    });
    let r = send(
        &[
            "-S",
            &format!("smtp+starttls://{addr}"),
            "--ca-file",
            c.cert.to_str().unwrap(),
            "--tls-sni",
            "localhost",
            "--timeout",
            "2",
            "x@example.net",
        ],
        MSG,
    );
    r.code(75).one_line_error("smtp-send");
    timed_out(&r.stderr, "EHLO");
    h.join().unwrap();
}

#[test]
fn bug_a_dripping_pipe_command_ends_at_the_timeout() {
    // A greeting line that grows a byte every 300 ms (8 KiB: 40 minutes).
    let r = send(
        &[
            "--pipe",
            "printf '220-'; while :; do printf x; sleep 0.3; done",
            "--timeout",
            "2",
            "x@example.net",
        ],
        MSG,
    );
    r.code(75).one_line_error("smtp-send");
    timed_out(&r.stderr, "greeting");
}

#[test]
fn bug_the_greeting_notice_gives_no_fresh_timeout() {
    // The 10 s "no greeting" notice reset the socket's timeout, so the
    // greeting got 10 s more than --timeout: one sent after 15 s was taken
    // with --timeout 11. It is due 11 s after connecting.
    let (addr, h) = server(|mut s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        thread::sleep(Duration::from_secs(15));
        let _ = s.write_all(b"220 late.test ESMTP\r\n");
        line(&mut r);
    });
    let r = send(
        &["-S", &addr.to_string(), "--timeout", "11", "x@example.net"],
        MSG,
    );
    r.code(75);
    assert!(r.stderr.contains("no greeting from"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("greeting: timed out waiting for the server (no complete reply within 11 s)"),
        "{}",
        r.stderr
    );
    h.join().unwrap();
}
