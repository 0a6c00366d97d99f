//! `smtp-send --mx` against a loopback DNS responder (a UDP socket here,
//! answering from a table with messages built by hickory-proto, or with
//! garbage on purpose) and smtp-recv instances on 127.0.0.x addresses, all
//! on one port (`--mx-port`), one of them down.
//!
//! Every process is killed and reaped by a guard; every wait has a
//! deadline.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::send::isolated;
use crate::send_queue::queued;
use crate::util::*;

const PATIENCE: Duration = Duration::from_secs(60);

// ------------------------------------------------------------------ DNS

/// What the responder answers for a name (any type not listed: NODATA).
#[derive(Clone)]
pub(crate) enum Zone {
    /// MX records (preference, exchange; "." is the root), A and AAAA
    /// records.
    Records {
        mx: Vec<(u16, &'static str)>,
        a: Vec<Ipv4Addr>,
        aaaa: Vec<Ipv6Addr>,
    },
    /// A CNAME to this name (its records follow in the same answer).
    Cname(&'static str),
    /// No answer at all (a server that drops the query).
    Silent,
    /// This response code, no records.
    Code(ResponseCode),
    /// These bytes, whatever the query (the query's id patched in first
    /// when `with_id`).
    Raw { bytes: Vec<u8>, with_id: bool },
    /// A TXT record (a DKIM key, for tests/dkim.rs): over 255 octets it
    /// travels as several strings (RFC 1035 §3.3.14).
    Txt(String),
}

fn mx(list: &[(u16, &'static str)]) -> Zone {
    Zone::Records {
        mx: list.to_vec(),
        a: vec![],
        aaaa: vec![],
    }
}

fn a(ip: &str) -> Zone {
    Zone::Records {
        mx: vec![],
        a: vec![ip.parse().unwrap()],
        aaaa: vec![],
    }
}

/// A and AAAA records, in that order.
fn addrs(v4: &[&str], v6: &[&str]) -> Zone {
    Zone::Records {
        mx: vec![],
        a: v4.iter().map(|ip| ip.parse().unwrap()).collect(),
        aaaa: v6.iter().map(|ip| ip.parse().unwrap()).collect(),
    }
}

/// A DNS responder on 127.0.0.1:PORT (UDP), answering from `zones` (names
/// without the final dot, lower case); unknown names are NXDOMAIN. Stops
/// when dropped.
pub(crate) struct Dns {
    pub(crate) addr: SocketAddr,
    stop: Arc<AtomicBool>,
    queries: Arc<Mutex<Vec<(String, RecordType)>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Dns {
    pub(crate) fn start(zones: &[(&str, Zone)]) -> Dns {
        let zones: HashMap<String, Zone> = zones
            .iter()
            .map(|(n, z)| (n.to_lowercase(), z.clone()))
            .collect();
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let addr = sock.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(Mutex::new(Vec::new()));
        let (stop2, queries2) = (stop.clone(), queries.clone());
        let thread = thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stop2.load(Ordering::Relaxed) {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(req) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let Some(q) = req.queries.first().cloned() else {
                    continue;
                };
                let name = q.name().to_ascii().trim_end_matches('.').to_lowercase();
                queries2
                    .lock()
                    .unwrap()
                    .push((name.clone(), q.query_type()));
                let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
                resp.metadata.recursion_desired = req.metadata.recursion_desired;
                resp.metadata.recursion_available = true;
                resp.add_query(q.clone());
                let mut owner = q.name().clone();
                let mut zone = zones.get(&name);
                if let Some(Zone::Cname(target)) = zone {
                    // The alias, then the target's records (RFC 1034 §3.6.2).
                    let t = Name::from_ascii(format!("{target}.")).expect("cname");
                    resp.add_answer(Record::from_rdata(
                        owner.clone(),
                        60,
                        RData::CNAME(CNAME(t.clone())),
                    ));
                    zone = zones.get(*target);
                    owner = t;
                }
                match zone {
                    None => resp.metadata.response_code = ResponseCode::NXDomain,
                    Some(Zone::Code(c)) => resp.metadata.response_code = *c,
                    Some(Zone::Cname(_)) => {}
                    Some(Zone::Silent) => continue,
                    Some(Zone::Raw { bytes, with_id }) => {
                        let mut b = bytes.clone();
                        if *with_id && b.len() >= 2 {
                            b[..2].copy_from_slice(&req.metadata.id.to_be_bytes());
                        }
                        let _ = sock.send_to(&b, peer);
                        continue;
                    }
                    Some(Zone::Txt(text)) => {
                        if q.query_type() == RecordType::TXT {
                            resp.add_answer(Record::from_rdata(
                                owner.clone(),
                                60,
                                RData::TXT(TXT::from_bytes(text.as_bytes().chunks(255).collect())),
                            ));
                        }
                    }
                    Some(Zone::Records { mx, a, aaaa }) => {
                        if q.query_type() == RecordType::MX {
                            for &(p, x) in mx {
                                let exchange = Name::from_ascii(format!("{x}.").replace("..", "."))
                                    .expect("exchange");
                                resp.add_answer(Record::from_rdata(
                                    owner.clone(),
                                    60,
                                    RData::MX(MX::new(p, exchange)),
                                ));
                            }
                        } else if q.query_type() == RecordType::A {
                            for ip in a {
                                resp.add_answer(Record::from_rdata(
                                    owner.clone(),
                                    60,
                                    RData::A(A(*ip)),
                                ));
                            }
                        } else if q.query_type() == RecordType::AAAA {
                            for ip in aaaa {
                                resp.add_answer(Record::from_rdata(
                                    owner.clone(),
                                    60,
                                    RData::AAAA(AAAA(*ip)),
                                ));
                            }
                        }
                    }
                }
                let _ = sock.send_to(&resp.to_vec().expect("encode"), peer);
            }
        });
        Dns {
            addr,
            stop,
            queries,
            thread: Some(thread),
        }
    }

    fn arg(&self) -> String {
        self.addr.to_string()
    }

    fn asked(&self, name: &str) -> usize {
        self.queries
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .count()
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ------------------------------------------------------------------ SMTP

/// A port free on 127.0.0.2–127.0.0.9 (checked by binding each); the
/// mail hosts of a test all listen on it.
fn common_port() -> u16 {
    for _ in 0..50 {
        let p = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .unwrap()
            .port();
        let free =
            (2..10).all(|i| TcpListener::bind(("127.0.0.".to_owned() + &i.to_string(), p)).is_ok());
        if free {
            return p;
        }
    }
    panic!("no common free port");
}

/// [`crate::peers::Recv`] on `ip:port`, its envelopes seen as
/// (rcpt_to, tls).
struct Recv(crate::peers::Recv);

impl Recv {
    fn start(ip: &str, port: u16, args: &[&str]) -> Recv {
        Recv(crate::peers::Recv::start_on(&format!("{ip}:{port}"), args))
    }

    /// The envelopes stored: (rcpt_to, tls) per message.
    fn envelopes(&self) -> Vec<(Vec<String>, bool)> {
        let rcpts = |v: &serde_json::Value| {
            v["rcpt_to"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect()
        };
        self.0
            .envelopes()
            .iter()
            .map(|v| (rcpts(v), v["tls"].as_bool().unwrap_or(false)))
            .collect()
    }
}

/// A scripted SMTP server on `ip:port`: `greeting`, then `answer(line)`
/// for each command line (`None` closes); the lines it got are kept.
struct Raw {
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Raw {
    fn start(
        ip: &str,
        port: u16,
        greeting: &'static str,
        answer: fn(&str) -> Option<String>,
    ) -> Raw {
        use std::io::{BufRead, BufReader, Write};
        let l = TcpListener::bind((ip, port)).expect("bind raw");
        l.set_nonblocking(true).unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (lines2, stop2) = (lines.clone(), stop.clone());
        thread::spawn(move || {
            let start = Instant::now();
            while !stop2.load(Ordering::Relaxed) && start.elapsed() < PATIENCE {
                let Ok((mut c, _)) = l.accept() else {
                    thread::sleep(Duration::from_millis(5));
                    continue;
                };
                c.set_nonblocking(false).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let _ = c.write_all(greeting.as_bytes());
                let mut r = BufReader::new(c.try_clone().unwrap());
                let mut line = String::new();
                let mut in_data = false;
                while r.read_line(&mut line).unwrap_or(0) > 0 {
                    let cmd = line.trim_end().to_owned();
                    line.clear();
                    lines2.lock().unwrap().push(cmd.clone());
                    if in_data {
                        // The message: no answer until its end, then
                        // `answer(".")` (`None`: close without a reply;
                        // an empty answer: say nothing, keep reading).
                        if cmd == "." {
                            in_data = false;
                            match answer(".") {
                                Some(a) => {
                                    let _ = c.write_all(a.as_bytes());
                                }
                                None => break,
                            }
                        }
                        continue;
                    }
                    match answer(&cmd) {
                        Some(a) => {
                            in_data = a.starts_with("354");
                            let _ = c.write_all(a.as_bytes());
                            if cmd.eq_ignore_ascii_case("STARTTLS") && a.starts_with("220") {
                                // The ClientHello, answered with no TLS.
                                let _ = r.fill_buf();
                                let _ = c.write_all(b"this is not TLS at all\r\n");
                                break;
                            }
                        }
                        None => break,
                    }
                }
            }
        });
        Raw { lines, stop }
    }

    fn got(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Answers of a plain server that refuses every recipient for good.
fn refuse_rcpts(cmd: &str) -> Option<String> {
    let up = cmd.to_ascii_uppercase();
    Some(if up.starts_with("EHLO") {
        "250 raw.test\r\n".to_owned()
    } else if up.starts_with("RCPT") {
        "550 5.1.1 no such user\r\n".to_owned()
    } else if up.starts_with("QUIT") {
        "221 bye\r\n".to_owned()
    } else {
        "250 ok\r\n".to_owned()
    })
}

/// Answers of a server that offers STARTTLS but speaks no TLS after its
/// 220 (a broken TLS stack), and takes mail in cleartext.
fn broken_tls(cmd: &str) -> Option<String> {
    let up = cmd.to_ascii_uppercase();
    Some(if up.starts_with("EHLO") {
        "250-raw.test\r\n250 STARTTLS\r\n".to_owned()
    } else if up.starts_with("STARTTLS") {
        "220 go ahead\r\n".to_owned()
    } else if up.starts_with("DATA") {
        "354 go\r\n".to_owned()
    } else if up.starts_with("QUIT") {
        "221 bye\r\n".to_owned()
    } else {
        "250 ok\r\n".to_owned()
    })
}

/// Answers of a plain server taking mail, with `dot` as its reply to the
/// end of data (see [`Raw::start`]).
fn plain(cmd: &str, dot: Option<&str>) -> Option<String> {
    let up = cmd.to_ascii_uppercase();
    Some(if cmd == "." {
        return dot.map(str::to_owned);
    } else if up.starts_with("EHLO") {
        "250-raw.test\r\n250 8BITMIME\r\n".to_owned()
    } else if up.starts_with("DATA") {
        "354 go\r\n".to_owned()
    } else if up.starts_with("QUIT") {
        "221 bye\r\n".to_owned()
    } else {
        "250 ok\r\n".to_owned()
    })
}

const MSG: &[u8] = b"From: me@sender.test\nSubject: mx\n\nhello\n";

/// `domain`'s mail host `host` (127.0.0.6) answers `answer`, whose
/// STARTTLS fails: `--mx-tls may` tries it once, then sends in cleartext
/// with a warning (returned); `verify` gives up (75) before MAIL.
fn may_cleartext_verify_not(
    domain: &str,
    host: &'static str,
    answer: fn(&str) -> Option<String>,
) -> String {
    let port = common_port();
    let server = Raw::start("127.0.0.6", port, "220 raw.test\r\n", answer);
    let dns = Dns::start(&[(domain, mx(&[(10, host)])), (host, a("127.0.0.6"))]);
    let r = send_mx(&dns, port, &[&format!("x@{domain}")]);
    r.code(0);
    assert!(r.stderr.contains("cleartext"), "{}", r.stderr);
    let got = server.got();
    assert_eq!(got.iter().filter(|l| l.starts_with("STARTTLS")).count(), 1);
    assert!(got.iter().any(|l| l == "hello"), "{got:?}");
    let before = got.len();
    let v = send_mx(&dns, port, &["--mx-tls", "verify", &format!("y@{domain}")]);
    v.code(75).one_line_error("smtp-send");
    assert!(!server.got()[before..].iter().any(|l| l.starts_with("MAIL")));
    r.stderr
}

/// smtp-send --mx with the responder and port, plus `args`.
fn send_mx(dns: &Dns, port: u16, args: &[&str]) -> Run {
    send_mx_msg(dns, port, args, MSG)
}

/// [`send_mx`] with `msg` on stdin.
fn send_mx_msg(dns: &Dns, port: u16, args: &[&str], msg: &[u8]) -> Run {
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.args(["--mx", "--dns", &dns.arg(), "--mx-port", &port.to_string()]);
    cmd.args(["--connect-timeout", "1", "--helo", "client.test"]);
    cmd.args(args);
    isolated(&mut cmd);
    run_cmd_within(cmd, PATIENCE, msg)
}

fn json_lines(r: &Run) -> Vec<serde_json::Value> {
    r.stdout_str()
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn status_of(lines: &[serde_json::Value], rcpt: &str) -> String {
    lines
        .iter()
        .find(|v| v["recipient"] == rcpt)
        .unwrap_or_else(|| panic!("no result for {rcpt}: {lines:?}"))["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

// ------------------------------------------------------------------ tests

#[test]
fn preferred_host_down_next_one_and_two_domains_two_transactions() {
    let port = common_port();
    let good = Recv::start("127.0.0.2", port, &[]);
    let other = Recv::start("127.0.0.3", port, &[]);
    // 127.0.0.4 (the preferred MX of one.test) has nothing listening.
    let dns = Dns::start(&[
        (
            "one.test",
            mx(&[(20, "mx-good.one.test"), (10, "mx-down.one.test")]),
        ),
        ("mx-down.one.test", a("127.0.0.4")),
        ("mx-good.one.test", a("127.0.0.2")),
        // No MX: its own address (implicit MX, RFC 5321 §5.1).
        ("two.test", a("127.0.0.3")),
    ]);
    let r = send_mx(
        &dns,
        port,
        &["--json", "a@one.test", "c@two.test", "b@ONE.test"],
    );
    r.code(0);
    let lines = json_lines(&r);
    assert_eq!(lines.len(), 3, "{lines:?}");
    for rcpt in ["a@one.test", "b@ONE.test", "c@two.test"] {
        assert_eq!(status_of(&lines, rcpt), "delivered");
    }
    // One transaction per domain, each host only its own recipients.
    assert_eq!(
        good.envelopes(),
        [(
            vec!["a@one.test".to_owned(), "b@ONE.test".to_owned()],
            false
        )]
    );
    assert_eq!(other.envelopes(), [(vec!["c@two.test".to_owned()], false)]);
    assert!(dns.asked("mx-down.one.test") > 0);
    assert!(dns.asked("two.test") >= 2, "MX then A");
}

#[test]
fn five_xx_greeting_moves_on_but_a_refused_recipient_is_final() {
    let port = common_port();
    let _no_service = Raw::start("127.0.0.4", port, "554 5.3.2 no service here\r\n", |_| {
        Some("221 bye\r\n".to_owned())
    });
    let good = Recv::start("127.0.0.2", port, &[]);
    let dns = Dns::start(&[
        (
            "greet.test",
            mx(&[(10, "mx1.greet.test"), (20, "mx2.greet.test")]),
        ),
        ("mx1.greet.test", a("127.0.0.4")),
        ("mx2.greet.test", a("127.0.0.2")),
    ]);
    send_mx(&dns, port, &["x@greet.test"]).code(0);
    assert_eq!(good.envelopes(), [(vec!["x@greet.test".to_owned()], false)]);
    drop(_no_service);

    let port = common_port();
    let refusing = Raw::start("127.0.0.5", port, "220 raw.test\r\n", refuse_rcpts);
    let backup = Recv::start("127.0.0.2", port, &[]);
    let dns = Dns::start(&[
        (
            "refuse.test",
            mx(&[(10, "mx1.refuse.test"), (20, "mx2.refuse.test")]),
        ),
        ("mx1.refuse.test", a("127.0.0.5")),
        ("mx2.refuse.test", a("127.0.0.2")),
    ]);
    let r = send_mx(&dns, port, &["--json", "x@refuse.test"]);
    r.code(67);
    let lines = json_lines(&r);
    assert_eq!(lines[0]["code"], 550);
    assert!(
        refusing
            .got()
            .iter()
            .any(|l| l.starts_with("RCPT TO:<x@refuse.test>"))
    );
    // A 5xx for the recipient is the domain's answer: the backup never
    // sees the message.
    assert!(backup.envelopes().is_empty());
}

#[test]
fn may_retries_in_cleartext_after_a_failed_handshake_verify_does_not() {
    may_cleartext_verify_not("broken-tls.test", "mx.broken-tls.test", broken_tls);
}

#[test]
fn null_mx_is_67_for_its_recipients_only() {
    let port = common_port();
    let good = Recv::start("127.0.0.2", port, &[]);
    let dns = Dns::start(&[
        ("null.test", mx(&[(0, ".")])),
        ("ok.test", mx(&[(10, "mx.ok.test")])),
        ("mx.ok.test", a("127.0.0.2")),
    ]);
    let r = send_mx(&dns, port, &["--json", "x@null.test", "y@ok.test"]);
    r.code(67);
    let lines = json_lines(&r);
    assert_eq!(status_of(&lines, "x@null.test"), "rejected");
    assert_eq!(status_of(&lines, "y@ok.test"), "delivered");
    let x = lines
        .iter()
        .find(|v| v["recipient"] == "x@null.test")
        .unwrap();
    assert_eq!(x["code"], 556);
    assert_eq!(x["enhanced"], "5.1.10");
    assert_eq!(good.envelopes(), [(vec!["y@ok.test".to_owned()], false)]);
    // Without --json: one line naming the recipients not delivered.
    let r = send_mx(&dns, port, &["x@null.test", "z@ok.test"]);
    r.code(67).one_line_error("smtp-send");
    assert!(
        r.stderr.contains("<x@null.test> refused: 556 5.1.10"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("(delivered to 1 of 2 recipients)"),
        "{}",
        r.stderr
    );
}

#[test]
fn nxdomain_is_67() {
    let port = common_port();
    let dns = Dns::start(&[]);
    let r = send_mx(&dns, port, &["nobody@no-such-domain.test"]);
    r.code(67).one_line_error("smtp-send");
    assert!(r.stderr.contains("NXDOMAIN"), "{}", r.stderr);
    assert!(r.stderr.contains("5.1.2"), "{}", r.stderr);
}

#[test]
fn servfail_is_75() {
    let port = common_port();
    let dns = Dns::start(&[("broken.test", Zone::Code(ResponseCode::ServFail))]);
    let r = send_mx(&dns, port, &["--json", "x@broken.test"]);
    r.code(75);
    let lines = json_lines(&r);
    assert_eq!(status_of(&lines, "x@broken.test"), "deferred");
    assert_eq!(lines[0]["enhanced"], "4.4.3");
}

#[test]
fn no_dns_answer_is_75() {
    let port = common_port();
    // A UDP port nothing answers on: a bound socket that never replies.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.args(["--mx", "--dns", &silent.local_addr().unwrap().to_string()]);
    cmd.args([
        "--mx-port",
        &port.to_string(),
        "--connect-timeout",
        "1",
        "x@quiet.test",
    ]);
    let start = Instant::now();
    let r = run_cmd_within(cmd, PATIENCE, MSG);
    r.code(75).one_line_error("smtp-send");
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn address_literal_needs_no_dns() {
    let port = common_port();
    let good = Recv::start("127.0.0.2", port, &[]);
    let dns = Dns::start(&[]);
    let r = send_mx(&dns, port, &["u@[127.0.0.2]"]);
    r.code(0);
    assert_eq!(
        good.envelopes(),
        [(vec!["u@[127.0.0.2]".to_owned()], false)]
    );
    assert_eq!(dns.queries.lock().unwrap().len(), 0);
}

#[test]
fn starttls_unverifiable_may_sends_verify_tries_next() {
    let port = common_port();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = mailpipe::smtp::tls::self_signed_pem("mx-b.tls.test").unwrap();
    let cert = write_file(dir.path(), "cert.pem", cert.as_bytes());
    let key = write_file(dir.path(), "key.pem", key.as_bytes());
    // Preferred: a throwaway certificate nobody can verify.
    let unverifiable = Recv::start("127.0.0.2", port, &["--tls-self-signed"]);
    // Next: a certificate for its MX name, trusted with --ca-file.
    let trusted = Recv::start(
        "127.0.0.3",
        port,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let dns = Dns::start(&[
        (
            "tls.test",
            mx(&[(10, "mx-a.tls.test"), (20, "mx-b.tls.test")]),
        ),
        ("mx-a.tls.test", a("127.0.0.2")),
        ("mx-b.tls.test", a("127.0.0.3")),
    ]);
    let ca = ["--ca-file", cert.to_str().unwrap()];
    // may (default): over TLS to the preferred host, unverified, with a warning.
    let r = send_mx(&dns, port, &[&ca[..], &["x@tls.test"]].concat());
    r.code(0);
    assert!(
        r.stderr.contains("WITHOUT certificate verification"),
        "{}",
        r.stderr
    );
    assert_eq!(
        unverifiable.envelopes(),
        [(vec!["x@tls.test".to_owned()], true)]
    );
    // verify: the preferred host fails verification, the next one is used.
    let r = send_mx(
        &dns,
        port,
        &[&ca[..], &["--mx-tls", "verify", "y@tls.test"]].concat(),
    );
    r.code(0);
    assert_eq!(trusted.envelopes(), [(vec!["y@tls.test".to_owned()], true)]);
    assert_eq!(unverifiable.envelopes().len(), 1);
    // verify with no host that verifies: temporary, nothing sent.
    let r = send_mx(&dns, port, &["--mx-tls", "verify", "z@tls.test"]);
    r.code(75).one_line_error("smtp-send");
    assert_eq!(unverifiable.envelopes().len(), 1);
    assert_eq!(trusted.envelopes().len(), 1);
    // none: cleartext even where STARTTLS is offered.
    let r = send_mx(&dns, port, &["--mx-tls", "none", "w@tls.test"]);
    r.code(0);
    assert_eq!(
        unverifiable.envelopes()[1],
        (vec!["w@tls.test".to_owned()], false)
    );
}

#[test]
fn hostile_dns_answers() {
    let port = common_port();
    let good = Recv::start("127.0.0.2", port, &[]);
    // A compression pointer to itself where the answer's name should be.
    let mut looped = vec![0, 0, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0];
    looped.extend_from_slice(&[0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 4, 0, 10, 0xc0, 26]);
    let mut garbage = vec![0u8; 2];
    garbage.extend(pseudo_random(300, 7));
    let dns = Dns::start(&[
        (
            "garbage.test",
            Zone::Raw {
                bytes: garbage,
                with_id: true,
            },
        ),
        (
            "loop.test",
            Zone::Raw {
                bytes: looped,
                with_id: true,
            },
        ),
        (
            "short.test",
            Zone::Raw {
                bytes: vec![0, 0, 0x81],
                with_id: true,
            },
        ),
        // An MX that is an IP address is no host name (RFC 5321 §5.1):
        // skipped, the next one used.
        ("ip.test", mx(&[(5, "127.0.0.9"), (10, "mx.ip.test")])),
        ("mx.ip.test", a("127.0.0.2")),
        // Many MX records, all pointing at hosts that do not exist, and the
        // last (by preference) at the good one: the limit stops before it.
        (
            "many.test",
            mx(&(0..40u16)
                .map(|i| (i, &*Box::leak(format!("h{i}.many.test").into_boxed_str())))
                .collect::<Vec<_>>()),
        ),
    ]);
    for rcpt in ["x@garbage.test", "x@loop.test", "x@short.test"] {
        let r = send_mx(&dns, port, &[rcpt]);
        r.code(75).one_line_error("smtp-send");
        // The resolver refuses the answer: a temporary DNS failure.
        assert!(r.stderr.contains("451 4.4.3"), "{rcpt}: {}", r.stderr);
    }
    let r = send_mx(&dns, port, &["x@ip.test"]);
    r.code(0);
    assert_eq!(good.envelopes(), [(vec!["x@ip.test".to_owned()], false)]);
    let r = send_mx(&dns, port, &["x@many.test"]);
    // Every MX host is NXDOMAIN: no mail host, for good.
    r.code(67).one_line_error("smtp-send");
    let asked: usize = (0..40).map(|i| dns.asked(&format!("h{i}.many.test"))).sum();
    assert!(asked <= 64, "{asked} host lookups");
}

#[test]
fn bad_flags_are_usage_errors() {
    for args in [
        &["--mx", "--dns", "not-an-address", "x@y.test"][..],
        &["--dns", "127.0.0.1:53", "x@y.test"],
        &["--mx", "-S", "127.0.0.1:25", "x@y.test"],
        &["--mx", "--mx-tls", "sometimes", "x@y.test"],
        &["--mx", "--mx-port", "0", "x@y.test"],
        &["--mx", "--lmtp", "x@y.test"],
    ] {
        let r = run("smtp-send", args, MSG);
        r.code(64);
    }
}

/// B1: once the end of data is sent, a failure that is not the server's
/// reply (the connection closed or timed out, a garbled reply) may come
/// after the host took the message (RFC 5321 §4.1.1.4, §6.1; RFC 1047):
/// the next MX must not get it too; the recipients are deferred. A 4xx
/// reply to the end of data is a refusal: the next MX may take it.
#[test]
fn bug_lost_after_dot_is_not_sent_to_the_next_mx() {
    type Answer = fn(&str) -> Option<String>;
    let cases: [(&str, Answer, &[&str]); 3] = [
        ("closed", |c| plain(c, None), &[]),
        ("silent", |c| plain(c, Some("")), &["--timeout", "1"]),
        ("garbled", |c| plain(c, Some("hello there\r\n")), &[]),
    ];
    for (what, answer, args) in cases {
        let port = common_port();
        let first = Raw::start("127.0.0.4", port, "220 raw.test\r\n", answer);
        let backup = Recv::start("127.0.0.2", port, &[]);
        let dns = Dns::start(&[
            (
                "dup.test",
                mx(&[(10, "mx1.dup.test"), (20, "mx2.dup.test")]),
            ),
            ("mx1.dup.test", a("127.0.0.4")),
            ("mx2.dup.test", a("127.0.0.2")),
        ]);
        let r = send_mx(&dns, port, &[args, &["--json", "x@dup.test"]].concat());
        r.code(75);
        let lines = json_lines(&r);
        assert_eq!(status_of(&lines, "x@dup.test"), "deferred", "{what}");
        assert_eq!(lines[0]["stage"], "dot", "{what}: {lines:?}");
        assert!(first.got().iter().any(|l| l == "."), "{what}");
        assert!(backup.envelopes().is_empty(), "{what}: sent twice");
    }
    // A 4xx reply to the end of data: the first host refused it, the next
    // one takes it.
    let port = common_port();
    let _first = Raw::start("127.0.0.4", port, "220 raw.test\r\n", |c| {
        plain(c, Some("451 4.3.0 try later\r\n"))
    });
    let backup = Recv::start("127.0.0.2", port, &[]);
    let dns = Dns::start(&[
        (
            "dup.test",
            mx(&[(10, "mx1.dup.test"), (20, "mx2.dup.test")]),
        ),
        ("mx1.dup.test", a("127.0.0.4")),
        ("mx2.dup.test", a("127.0.0.2")),
    ]);
    send_mx(&dns, port, &["y@dup.test"]).code(0);
    assert_eq!(backup.envelopes(), [(vec!["y@dup.test".to_owned()], false)]);
}

/// Answers of a server that offers STARTTLS and refuses it (454).
fn starttls_454(cmd: &str) -> Option<String> {
    let up = cmd.to_ascii_uppercase();
    if up.starts_with("EHLO") {
        return Some("250-raw.test\r\n250 STARTTLS\r\n".to_owned());
    }
    if up.starts_with("STARTTLS") {
        return Some("454 4.7.0 TLS not available now\r\n".to_owned());
    }
    plain(cmd, Some("250 2.0.0 queued\r\n"))
}

/// B9: `--mx-tls may` is not worse than no TLS: a refused STARTTLS (RFC
/// 3207 §4: the client may go on without TLS) → the message in
/// cleartext, with a warning; `verify` refuses.
#[test]
fn bug_may_goes_on_in_cleartext_after_starttls_is_refused() {
    let warning = may_cleartext_verify_not("no-tls.test", "mx.no-tls.test", starttls_454);
    assert!(warning.contains("454"), "{warning}");
}

/// Answers of a server with neither 8BITMIME nor SMTPUTF8.
fn seven_bit(cmd: &str) -> Option<String> {
    if cmd.to_ascii_uppercase().starts_with("EHLO") {
        return Some("250-raw.test\r\n250 PIPELINING\r\n".to_owned());
    }
    plain(cmd, Some("250 2.0.0 queued\r\n"))
}

/// B8: an IDN domain is one destination whatever its spelling, and with
/// an ASCII local part the recipient is sent with the A-label (RFC 5890,
/// RFC 6531 §3.2): no SMTPUTF8 needed.
#[test]
fn bug_idn_domain_grouped_and_sent_as_a_label() {
    let port = common_port();
    let server = Raw::start("127.0.0.7", port, "220 raw.test\r\n", seven_bit);
    let dns = Dns::start(&[
        ("xn--bcher-kva.test", mx(&[(10, "mx.bcher.test")])),
        ("mx.bcher.test", a("127.0.0.7")),
    ]);
    let r = send_mx(
        &dns,
        port,
        &[
            "--json",
            "a@bücher.test",
            "c@xn--bcher-kva.test",
            "b@BÜCHER.test",
        ],
    );
    r.code(0);
    let lines = json_lines(&r);
    for rcpt in ["a@bücher.test", "b@BÜCHER.test", "c@xn--bcher-kva.test"] {
        assert_eq!(status_of(&lines, rcpt), "delivered");
    }
    let got = server.got();
    let mails: Vec<&String> = got.iter().filter(|l| l.starts_with("MAIL")).collect();
    assert_eq!(mails.len(), 1, "one transaction: {got:?}");
    assert!(!mails[0].contains("SMTPUTF8"), "{got:?}");
    for rcpt in [
        "a@xn--bcher-kva.test",
        "c@xn--bcher-kva.test",
        "b@xn--bcher-kva.test",
    ] {
        assert!(
            got.iter().any(|l| l == &format!("RCPT TO:<{rcpt}>")),
            "{rcpt}: {got:?}"
        );
    }
}

/// B8: a message that no mail host can take as it is (8-bit text to a
/// host without 8BITMIME, a non-ASCII local part to one without
/// SMTPUTF8) is a data error (65), not "try later" (75); with
/// --downgrade the 8-bit one goes as quoted-printable.
#[test]
fn bug_message_the_mx_cannot_take_is_65() {
    let port = common_port();
    let server = Raw::start("127.0.0.8", port, "220 raw.test\r\n", seven_bit);
    let dns = Dns::start(&[
        ("old.test", mx(&[(10, "mx.old.test")])),
        ("mx.old.test", a("127.0.0.8")),
    ]);
    let eight = "From: me@sender.test\nSubject: mx\n\nh\u{e9}llo\n".as_bytes();
    let r = send_mx_msg(&dns, port, &["--json", "x@old.test"], eight);
    r.code(65);
    let lines = json_lines(&r);
    assert_eq!(status_of(&lines, "x@old.test"), "rejected");
    let r = send_mx(&dns, port, &["j\u{fc}rgen@old.test"]);
    r.code(65).one_line_error("smtp-send");
    assert!(r.stderr.contains("SMTPUTF8"), "{}", r.stderr);
    assert!(!server.got().iter().any(|l| l.starts_with("MAIL")));
    send_mx_msg(&dns, port, &["--downgrade", "y@old.test"], eight).code(0);
    assert!(
        server
            .got()
            .iter()
            .any(|l| l.eq_ignore_ascii_case("Content-Transfer-Encoding: quoted-printable")),
        "{:?}",
        server.got()
    );
}

/// R5: the EHLO name toward a mail host is a FQDN or an address literal
/// (RFC 5321 §4.1.1.1, §2.3.5); a single-label host name (`vm`) is
/// neither, and many MX hosts refuse it.
#[test]
fn bug_ehlo_name_is_fqdn_or_address_literal() {
    let port = common_port();
    let server = Raw::start("127.0.0.9", port, "220 raw.test\r\n", seven_bit);
    let dns = Dns::start(&[
        ("helo.test", mx(&[(10, "mx.helo.test")])),
        ("mx.helo.test", a("127.0.0.9")),
    ]);
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.args(["--mx", "--dns", &dns.arg(), "--mx-port", &port.to_string()]);
    cmd.args(["--connect-timeout", "1", "x@helo.test"]);
    cmd.env("NETRC", "/nonexistent/netrc");
    run_cmd_within(cmd, PATIENCE, MSG).code(0);
    let got = server.got();
    let ehlo = got.iter().find(|l| l.starts_with("EHLO ")).expect("EHLO");
    let name = &ehlo[5..];
    assert!(
        (name.starts_with('[') && name.ends_with(']')) || name.contains('.'),
        "{ehlo}"
    );
}

/// R2: the addresses of a dual-stack host alternate families (RFC 8305
/// §4), so ten AAAA records (here unreachable: the discard prefix of RFC
/// 6666) cannot use up the address budget before the A record is tried.
#[test]
fn bug_address_families_alternate() {
    let port = common_port();
    let good = Recv::start("127.0.0.3", port, &[]);
    let v6: Vec<&str> = (1..=10)
        .map(|i| &*Box::leak(format!("100::{i}").into_boxed_str()))
        .collect();
    let dns = Dns::start(&[
        ("dual.test", mx(&[(10, "mx.dual.test")])),
        ("mx.dual.test", addrs(&["127.0.0.3"], &v6)),
    ]);
    let start = Instant::now();
    let r = send_mx(&dns, port, &["-v", "x@dual.test"]);
    r.code(0);
    assert_eq!(good.envelopes(), [(vec!["x@dual.test".to_owned()], false)]);
    // At most one IPv6 attempt before the IPv4 one.
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(dns.asked("mx.dual.test") >= 2, "A and AAAA");
}

/// An MX name that is an alias (CNAME, RFC 2181 §10.3 says it should not
/// be, but it happens): followed to the addresses.
#[test]
fn cname_mx_target_resolves() {
    let port = common_port();
    let good = Recv::start("127.0.0.2", port, &[]);
    let dns = Dns::start(&[
        ("alias.test", mx(&[(10, "mx.alias.test")])),
        ("mx.alias.test", Zone::Cname("real.alias.test")),
        ("real.alias.test", a("127.0.0.2")),
    ]);
    send_mx(&dns, port, &["x@alias.test"]).code(0);
    assert_eq!(good.envelopes(), [(vec!["x@alias.test".to_owned()], false)]);
}

/// R1: MX host names whose lookups time out count against the address
/// budget, and a few temporary DNS failures end the domain's lookups: 32
/// silent MX names must not cost 32 lookups (minutes at the default
/// timeouts) before the domain is deferred.
#[test]
fn bug_silent_mx_names_are_bounded() {
    let port = common_port();
    let mut zones: Vec<(&str, Zone)> = vec![(
        "slow.test",
        mx(&(0..32u16)
            .map(|i| (i, &*Box::leak(format!("h{i}.slow.test").into_boxed_str())))
            .collect::<Vec<_>>()),
    )];
    for i in 0..32 {
        zones.push((
            Box::leak(format!("h{i}.slow.test").into_boxed_str()),
            Zone::Silent,
        ));
    }
    let dns = Dns::start(&zones);
    let start = Instant::now();
    let r = send_mx(&dns, port, &["x@slow.test"]);
    r.code(75).one_line_error("smtp-send");
    assert!(r.stderr.contains("4.4.3"), "{}", r.stderr);
    let asked = (0..32)
        .filter(|i| dns.asked(&format!("h{i}.slow.test")) > 0)
        .count();
    assert!(asked <= 3, "{asked} MX names looked up");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

/// R3: an MX that resolves to this host (RFC 5321 §5.1: a host that finds
/// itself among the MX must not send to itself) or to no host at all is
/// never connected to: 0.0.0.0 (on Linux, this host), and a loopback
/// address at the SMTP port (a test setup on another port may use one).
#[test]
fn bug_mx_to_this_host_is_refused() {
    let dns = Dns::start(&[
        ("zero.test", mx(&[(10, "mx.zero.test")])),
        ("mx.zero.test", a("0.0.0.0")),
        ("loop.test", mx(&[(10, "mx.loop.test")])),
        ("mx.loop.test", a("127.0.0.1")),
    ]);
    let port = common_port();
    let r = send_mx(&dns, port, &["--json", "x@zero.test"]);
    r.code(69);
    assert!(r.stdout_str().contains("loops back"), "{}", r.stdout_str());
    let r = send_mx(&dns, 25, &["x@loop.test"]);
    r.code(69).one_line_error("smtp-send");
    assert!(r.stderr.contains("5.4.6"), "{}", r.stderr);
}

// ------------------------------------------------- --mx with the other modes

/// The stored messages of `r` (smtp-recv's `msgs/`), as text.
fn stored(r: &Recv) -> Vec<String> {
    let mut out = r.0.texts();
    out.sort();
    out
}

#[test]
fn each_with_mx_delivers_every_file_by_its_domains() {
    let port = common_port();
    let one = Recv::start("127.0.0.2", port, &[]);
    let two = Recv::start("127.0.0.3", port, &[]);
    let dns = Dns::start(&[("one.test", a("127.0.0.2")), ("two.test", a("127.0.0.3"))]);
    let tmp = tempfile::tempdir().unwrap();
    let f1 = write_file(
        tmp.path(),
        "1.eml",
        b"From: me@sender.test\nTo: a@one.test, b@two.test\nSubject: first\n\n1\n",
    );
    let f2 = write_file(
        tmp.path(),
        "2.eml",
        b"From: me@sender.test\nTo: c@two.test\nSubject: second\n\n2\n",
    );
    let r = send_mx(
        &dns,
        port,
        &[
            "--each",
            "--json",
            f1.to_str().unwrap(),
            f2.to_str().unwrap(),
        ],
    );
    r.code(0);
    let lines = json_lines(&r);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines.iter().all(|v| v["status"] == "delivered"),
        "{lines:?}"
    );
    assert_eq!(one.envelopes(), [(vec!["a@one.test".to_owned()], false)]);
    assert_eq!(
        two.envelopes(),
        [
            (vec!["b@two.test".to_owned()], false),
            (vec!["c@two.test".to_owned()], false)
        ]
    );
}

#[test]
fn mx_queue_keeps_only_the_deferred_domain_and_a_flush_by_mx_delivers_it() {
    let port = common_port();
    let one = Recv::start("127.0.0.2", port, &[]);
    let two = Recv::start("127.0.0.3", port, &[]);
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    let qs = q.to_str().unwrap();
    // two.test's resolver fails for now: its recipient is queued, only it.
    let dns = Dns::start(&[
        ("one.test", a("127.0.0.2")),
        ("two.test", Zone::Code(ResponseCode::ServFail)),
    ]);
    let r = send_mx(&dns, port, &["--queue", qs, "a@one.test", "b@two.test"]);
    r.code(0);
    assert!(r.stderr.contains("queued for <b@two.test>"), "{}", r.stderr);
    assert_eq!(one.envelopes(), [(vec!["a@one.test".to_owned()], false)]);
    assert_eq!(queued(&q).len(), 1);
    // A permanent failure (NXDOMAIN) is never queued.
    let r = send_mx(&dns, port, &["--queue", qs, "c@nowhere.test"]);
    r.code(67);
    assert_eq!(queued(&q).len(), 1);
    // The domain is back: --flush --mx delivers by MX, to b only.
    drop(dns);
    let dns = Dns::start(&[("two.test", a("127.0.0.3"))]);
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.args(["--flush", qs, "--force", "--mx", "--dns", &dns.arg()]);
    cmd.args(["--mx-port", &port.to_string(), "--connect-timeout", "1"]);
    cmd.env_remove("SMTP_SERVER");
    let r = run_cmd_within(cmd, PATIENCE, b"");
    r.code(0);
    assert!(queued(&q).is_empty());
    assert_eq!(two.envelopes(), [(vec!["b@two.test".to_owned()], false)]);
    assert_eq!(one.envelopes().len(), 1, "nothing sent twice");
}

#[test]
fn bs_with_mx_relays_each_message_by_mx() {
    let port = common_port();
    let one = Recv::start("127.0.0.2", port, &[]);
    let dns = Dns::start(&[("one.test", a("127.0.0.2"))]);
    let session = b"EHLO client.test\r\nMAIL FROM:<me@sender.test>\r\nRCPT TO:<a@one.test>\r\n\
DATA\r\nFrom: me@sender.test\r\nSubject: bs mx\r\n\r\nhi\r\n.\r\nQUIT\r\n";
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.args([
        "-bs",
        "--mx",
        "--dns",
        &dns.arg(),
        "--mx-port",
        &port.to_string(),
    ]);
    cmd.env_remove("SMTP_SERVER");
    let r = run_cmd_within(cmd, PATIENCE, session);
    r.code(0);
    let replies = r.stdout_str();
    assert!(
        !replies.contains("\n451") && !replies.contains("\n554"),
        "{replies}"
    );
    assert!(replies.contains("\n221"), "{replies}");
    assert_eq!(one.envelopes(), [(vec!["a@one.test".to_owned()], false)]);
    assert!(stored(&one)[0].contains("Subject: bs mx"));
}

#[test]
fn config_match_from_reads_the_header_from_a_pipe_and_mx_sends_it_whole() {
    let port = common_port();
    let one = Recv::start("127.0.0.2", port, &[]);
    let dns = Dns::start(&[("one.test", a("127.0.0.2"))]);
    let tmp = tempfile::tempdir().unwrap();
    let conf = write_file(
        tmp.path(),
        "config.toml",
        b"[accounts.mine]\nmatch_from = \"*@sender.test\"\nhelo = \"account.test\"\n",
    );
    // stdin is a pipe (run_cmd_within): the header read to choose the
    // account must still be sent.
    let r = send_mx(
        &dns,
        port,
        &["--config", conf.to_str().unwrap(), "a@one.test"],
    );
    r.code(0);
    let got = stored(&one);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].contains("Subject: mx") && got[0].contains("hello"),
        "{}",
        got[0]
    );
    // The same with --dry-run.
    let r = send_mx(
        &dns,
        port,
        &[
            "--config",
            conf.to_str().unwrap(),
            "--dry-run",
            "a@one.test",
        ],
    );
    r.code(0);
    assert!(r.stdout_str().contains("Subject: mx"), "{}", r.stdout_str());
}

/// D2: --tls-sni and --tls-fingerprint name one server's certificate;
/// --mx talks to many hosts, so they are usage errors with it (--ca-file
/// still applies to every host, --tls-insecure is warned about).
#[test]
fn bug_mx_refuses_tls_sni_and_fingerprint() {
    let fp = format!("SHA256:{}", "ab".repeat(32));
    for args in [
        &["--mx", "--tls-sni", "mx.example", "x@y.test"][..],
        &["--mx", "--tls-fingerprint", &fp, "x@y.test"],
    ] {
        let r = run("smtp-send", args, MSG);
        r.code(64);
        assert!(r.stderr.contains("cannot be used with"), "{}", r.stderr);
    }
    // --ca-file stays meaningful: accepted (checked when read).
    let r = run(
        "smtp-send",
        &["--mx", "--ca-file", "/nonexistent/ca.pem", "x@y.test"],
        MSG,
    );
    assert_ne!(r.code, 64, "{}", r.stderr);
}

/// The "check -S or $SMTP_SERVER" hint fits only a failed connection to
/// the server given with -S (the one-line error of a plain send): not
/// --mx (no -S), nor a result's text (--json, --flush's lines and JSON,
/// the queue's last reply, -bs's reply to its client).
#[test]
fn bug_connection_failure_hint_fits_the_route() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let down = format!("127.0.0.1:{port}");
    let quiet = ["--connect-timeout", "1"];
    let no_hint = |r: &Run| {
        let all = format!("{}{}", r.stdout_str(), r.stderr);
        assert!(!all.contains("check -S"), "{all}");
        assert!(!all.contains("SMTP_SERVER"), "{all}");
        assert!(all.contains("connection refused"), "{all}");
    };
    // --mx: the summary on stderr, and --json.
    let mx = ["--mx", "--mx-port", &port, "x@[127.0.0.1]"];
    let r = run("smtp-send", &[&mx[..], &quiet].concat(), MSG);
    r.code(75).one_line_error("smtp-send");
    no_hint(&r);
    let r = run("smtp-send", &[&mx[..], &quiet, &["--json"]].concat(), MSG);
    r.code(75);
    no_hint(&r);
    // --queue then --flush, with and without --json.
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    let qs = q.to_str().unwrap();
    let r = run(
        "smtp-send",
        &[&["-S", &down, "--queue", qs, "x@b.test"][..], &quiet].concat(),
        MSG,
    );
    r.code(0);
    no_hint(&r);
    let flush = ["-S", &down, "--flush", qs, "--force"];
    let r = run("smtp-send", &[&flush[..], &quiet].concat(), b"");
    r.code(75);
    no_hint(&r);
    let r = run(
        "smtp-send",
        &[&flush[..], &quiet, &["--json"]].concat(),
        b"",
    );
    r.code(75);
    no_hint(&r);
    // -bs: the client's reply and our stderr.
    let session = b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n\
                    Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n";
    let r = run(
        "smtp-send",
        &[&["-bs", "-S", &down][..], &quiet].concat(),
        session,
    );
    assert!(r.stdout_str().contains("451 4.4.1"), "{}", r.stdout_str());
    no_hint(&r);
    // A plain send to -S keeps it.
    let r = run(
        "smtp-send",
        &[&["-S", &down, "x@b.test"][..], &quiet].concat(),
        MSG,
    );
    r.code(75).one_line_error("smtp-send");
    assert!(
        r.stderr.contains("check -S or $SMTP_SERVER"),
        "{}",
        r.stderr
    );
}

/// `--mx-tls may`, STARTTLS refused (454): RFC 3207 §4 lets the client go
/// on; the session is still in its EHLO state, so the message goes in
/// cleartext on the same connection (one EHLO, no QUIT before MAIL), with
/// a warning. A 421 closes the connection: a new one then.
#[test]
fn bug_may_keeps_the_connection_after_starttls_is_refused() {
    let port = common_port();
    let server = Raw::start("127.0.0.11", port, "220 raw.test\r\n", starttls_454);
    let dns = Dns::start(&[
        ("same-conn.test", mx(&[(10, "mx.same-conn.test")])),
        ("mx.same-conn.test", a("127.0.0.11")),
    ]);
    let r = send_mx(&dns, port, &["x@same-conn.test"]);
    r.code(0);
    assert!(r.stderr.contains("cleartext"), "{}", r.stderr);
    assert!(r.stderr.contains("454"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let got = server.got();
    let verbs: Vec<String> = got
        .iter()
        .map(|l| {
            l.split([' ', ':'])
                .next()
                .unwrap_or("")
                .to_ascii_uppercase()
        })
        .filter(|v| ["EHLO", "STARTTLS", "MAIL", "QUIT"].contains(&v.as_str()))
        .collect();
    assert_eq!(verbs, ["EHLO", "STARTTLS", "MAIL", "QUIT"], "{got:?}");
    assert!(got.iter().any(|l| l == "hello"), "{got:?}");
}
