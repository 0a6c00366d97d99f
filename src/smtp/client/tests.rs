//! Unit tests of `client`.

use super::*;
use crate::exit::Status as _;
use crate::smtp::sasl::scram_with_nonce;
use crate::smtp::testing::SharedBuf;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

/// What the client wrote, one entry per `write` call.
#[derive(Default)]
struct Wire {
    writes: Vec<Vec<u8>>,
}

impl Wire {
    fn all(&self) -> String {
        String::from_utf8_lossy(&self.writes.concat()).into_owned()
    }
}

/// A scripted server: each chunk is handed out when the client reads
/// and has consumed the previous one (the server answering), at most
/// `max_read` octets per read, each read and write after `delay`; after
/// the last chunk, end of stream.
struct Fake {
    script: VecDeque<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    max_read: usize,
    delay: Duration,
    wire: Rc<RefCell<Wire>>,
}

impl Read for Fake {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        std::thread::sleep(self.delay);
        if self.pos == self.cur.len() {
            match self.script.pop_front() {
                Some(c) => {
                    self.cur = c;
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.max_read).min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Fake {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        std::thread::sleep(self.delay);
        self.wire.borrow_mut().writes.push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Run {
    client: Client<Fake>,
    wire: Rc<RefCell<Wire>>,
    transcript: SharedBuf,
}

fn session_with(script: &[&[u8]], max_read: usize) -> Run {
    let wire = Rc::new(RefCell::new(Wire::default()));
    let transcript = SharedBuf::default();
    let fake = Fake {
        script: script.iter().map(|c| c.to_vec()).collect(),
        cur: Vec::new(),
        pos: 0,
        max_read,
        delay: Duration::ZERO,
        wire: wire.clone(),
    };
    Run {
        client: Client::new(fake, Some(Box::new(transcript.clone()))),
        wire,
        transcript,
    }
}

fn session(script: &[&[u8]]) -> Run {
    session_with(script, 1 << 20)
}

const GREETING: &[u8] = b"220 mx.example.org ESMTP\r\n";
const EHLO_FULL: &[u8] = b"250-mx.example.org greets client.example\r\n\
    250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n\
    250-SMTPUTF8\r\n250-AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256\r\n250-STARTTLS\r\n\
    250-DSN\r\n250 CHUNKING\r\n";
/// No PIPELINING, no 8BITMIME, no SMTPUTF8; SIZE without a limit.
const EHLO_BASIC: &[u8] = b"250-mx.example.org\r\n250 SIZE\r\n";

fn mb(addr: &str) -> Mailbox {
    let (local, domain) = addr.rsplit_once('@').unwrap();
    Mailbox {
        local: local.into(),
        domain: domain.into(),
    }
}

fn env(from: &str, rcpts: &[&str]) -> SendEnvelope {
    SendEnvelope {
        from: if from.is_empty() {
            ReversePath::Null
        } else {
            ReversePath::Mailbox(mb(from))
        },
        rcpts: rcpts.iter().map(|r| mb(r)).collect(),
        ..SendEnvelope::default()
    }
}

/// Greets and says EHLO with `ehlo` as the reply.
fn ready(run: &mut Run) {
    run.client.greet().unwrap();
    run.client.ehlo("client.example").unwrap();
}

/// A session on `script`, greeted and past EHLO.
fn ready_session(script: &[&[u8]]) -> Run {
    let mut run = session(script);
    ready(&mut run);
    run
}

/// An LMTP session on `script`, greeted and past LHLO.
fn lmtp_ready(script: &[&[u8]]) -> Run {
    let mut run = session(script);
    run.client.set_lmtp(true);
    ready(&mut run);
    run
}

impl Run {
    /// Sends [`BODY`] from `from` to `rcpts`.
    fn send_body(&mut self, from: &str, rcpts: &[&str]) -> Result<Sent, Error> {
        self.client.send(&env(from, rcpts), &mut &BODY[..])
    }

    /// Checks that the client's last words on the wire are `end`.
    fn wire_ends_with(&self, end: &str) {
        let all = self.wire.borrow().all();
        assert!(all.ends_with(end), "{all}");
    }
}

const BODY: &[u8] = b"Subject: x\n\n.hi\n";
const BODY_WIRE: &str = "Subject: x\r\n\r\n..hi\r\n.\r\n";

#[test]
fn capabilities_from_ehlo() {
    let r = reply::read_reply(&mut &EHLO_FULL[..]).unwrap();
    let c = Capabilities::from_ehlo(&r);
    assert!(c.esmtp && c.pipelining && c.eightbitmime && c.enhanced && c.smtputf8);
    assert!(c.starttls && c.dsn && c.chunking);
    assert_eq!(c.size, Some(10000));
    assert_eq!(c.auth, ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"]);
    assert_eq!(c.lines.len(), 9);
    let r = reply::read_reply(
        &mut &b"250-x\r\n250-auth=login plain\r\n250-AUTH PLAIN\r\n250-size\r\n250 pipelining\r\n"
            [..],
    )
    .unwrap();
    let c = Capabilities::from_ehlo(&r);
    assert_eq!(c.auth, ["LOGIN", "PLAIN"]);
    assert_eq!(c.size, Some(0));
    assert!(c.pipelining && !c.eightbitmime);
    let c = Capabilities::from_ehlo(&Reply::new(250, None, "just a name"));
    assert!(c.esmtp && c.lines.is_empty());
}

#[test]
fn pipelined_session_byte_exact() {
    for max_read in [1, 3, 1 << 20] {
        let mut run = session_with(
            &[
                GREETING,
                EHLO_FULL,
                b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n",
                b"354 go ahead\r\n",
                b"250 2.0.0 queued as X\r\n",
                b"221 2.0.0 bye\r\n",
            ],
            max_read,
        );
        ready(&mut run);
        let mut e = env("a@example.org", &["b@example.net", "c@example.net"]);
        e.size = Some(19);
        let r = run.client.send(&e, &mut &BODY[..]).unwrap().reply;
        assert_eq!((r.code, r.enhanced), (250, Some((2, 0, 0))));
        assert_eq!(r.text(), "queued as X");
        run.client.quit().unwrap();
        let wire = run.wire.borrow();
        assert_eq!(
            wire.all(),
            format!(
                "EHLO client.example\r\n\
                 MAIL FROM:<a@example.org> SIZE=19\r\n\
                 RCPT TO:<b@example.net>\r\n\
                 RCPT TO:<c@example.net>\r\n\
                 DATA\r\n{BODY_WIRE}QUIT\r\n"
            )
        );
        // RFC 2920: MAIL and every RCPT in one write; the message with
        // its end marker in one write.
        assert_eq!(wire.writes.len(), 5);
        assert_eq!(
            wire.writes[1],
            b"MAIL FROM:<a@example.org> SIZE=19\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\n"
        );
        assert_eq!(wire.writes[3], BODY_WIRE.as_bytes());
        let t = run.transcript.text();
        let ehlo_lines: String = String::from_utf8_lossy(EHLO_FULL)
            .lines()
            .map(|l| format!("S: {l}\n"))
            .collect();
        assert_eq!(
            t,
            format!(
                "S: 220 mx.example.org ESMTP\n\
                 C: EHLO client.example\n\
                 {ehlo_lines}\
                 C: MAIL FROM:<a@example.org> SIZE=19\n\
                 C: RCPT TO:<b@example.net>\n\
                 C: RCPT TO:<c@example.net>\n\
                 S: 250 2.1.0 ok\n\
                 S: 250 2.1.5 ok\n\
                 S: 250 2.1.5 ok\n\
                 C: DATA\n\
                 S: 354 go ahead\n\
                 C: <message: 19 bytes>\n\
                 C: .\n\
                 S: 250 2.0.0 queued as X\n\
                 C: QUIT\n\
                 S: 221 2.0.0 bye\n"
            )
        );
    }
}

#[test]
fn without_pipelining_one_command_per_write() {
    let mut run = ready_session(&[
        GREETING,
        EHLO_BASIC,
        b"250 ok\r\n",
        b"250 ok\r\n",
        b"250 ok\r\n",
        b"354 go\r\n",
        b"250 ok\r\n",
    ]);
    let mut e = env("", &["b@example.net", "c@example.net"]);
    e.size = Some(19);
    run.client.send(&e, &mut &BODY[..]).unwrap();
    let wire = run.wire.borrow();
    let writes: Vec<String> = wire
        .writes
        .iter()
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    // SIZE without a limit still takes SIZE= (RFC 1870 §4).
    assert_eq!(
        writes,
        [
            "EHLO client.example\r\n",
            "MAIL FROM:<> SIZE=19\r\n",
            "RCPT TO:<b@example.net>\r\n",
            "RCPT TO:<c@example.net>\r\n",
            "DATA\r\n",
            BODY_WIRE,
        ]
    );
}

#[test]
fn batches_of_at_most_100_commands() {
    let rcpts: Vec<String> = (0..150).map(|i| format!("r{i}@example.net")).collect();
    let rcpts: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    let first = b"250 ok\r\n".repeat(100);
    let second = b"250 ok\r\n".repeat(51);
    let mut run = after_ehlo(&[&first, &second, b"354 go\r\n", b"250 ok\r\n"]);
    run.send_body("a@example.org", &rcpts).unwrap();
    let wire = run.wire.borrow();
    let count = |w: &[u8]| {
        w.windows(4)
            .filter(|x| x == b"\r\nRC" || x == b"MAIL")
            .count()
    };
    assert_eq!(wire.writes.len(), 5);
    assert_eq!(count(&wire.writes[1]), 100);
    assert_eq!(wire.writes[2].split(|&b| b == b'\n').count() - 1, 51);
}

#[test]
fn bug_too_many_recipients_defers_the_rest() {
    // 452 to some RCPTs (RFC 5321 §4.5.3.1.10) made the whole message
    // fail (75) forever; now the accepted ones get it and the rest are
    // given back for a new transaction.
    let rcpts = ["a@x.net", "b@x.net", "c@x.net", "d@x.net", "e@x.net"];
    let mut run = after_ehlo(&[b"250 ok\r\n250 ok\r\n250 ok\r\n452 4.5.3 too many\r\n452 4.5.3 too many\r\n452 4.5.3 too many\r\n",
        b"354 go\r\n",
        b"250 ok\r\n",
    ]);
    let sent = run.send_body("a@example.org", &rcpts).unwrap();
    assert_eq!(sent.reply.code, 250);
    let deferred: Vec<String> = sent.deferred.iter().map(|m| m.to_string()).collect();
    assert_eq!(deferred, ["c@x.net", "d@x.net", "e@x.net"]);
    // Without PIPELINING no RCPT is sent after the first 452.
    let mut run = ready_session(&[
        GREETING,
        EHLO_BASIC,
        b"250 ok\r\n",
        b"250 ok\r\n",
        b"452 too many recipients\r\n",
        b"354 go\r\n",
        b"250 ok\r\n",
    ]);
    let sent = run.send_body("a@example.org", &rcpts).unwrap();
    assert_eq!(sent.deferred.len(), 4);
    let all = run.wire.borrow().all();
    assert!(!all.contains("RCPT TO:<c@x.net>"), "{all}");
    // None accepted: a temporary failure, each 452 listed.
    let mut run = after_ehlo(&[
        b"250 ok\r\n452 4.5.3 too many\r\n452 4.5.3 too many\r\n",
        b"250 reset\r\n",
    ]);
    let err = run.send_body("a@example.org", &rcpts[..2]).unwrap_err();
    assert_eq!(err.exit_code(), 75);
    assert_eq!(err.rejected().len(), 2);
    // A recipient refused for good still abandons the transaction
    // (67), the 452s listed with it.
    let mut run = after_ehlo(&[
        b"250 ok\r\n250 ok\r\n550 no\r\n452 too many\r\n",
        b"250 reset\r\n",
    ]);
    let err = run.send_body("a@example.org", &rcpts[..3]).unwrap_err();
    assert_eq!(err.exit_code(), 67);
    let refused: Vec<String> = err.rejected().iter().map(|(m, _)| m.to_string()).collect();
    assert_eq!(refused, ["b@x.net", "c@x.net"]);
}

#[test]
fn a_refused_recipient_abandons_the_transaction() {
    let mut run = after_ehlo(&[b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 <b@example.net>: user unknown\r\n250 2.1.5 ok\r\n450 4.2.0 greylisted\r\n",
        b"250 2.0.0 reset\r\n",
        b"221 bye\r\n",
    ]);
    let e = env(
        "a@example.org",
        &[
            "a@example.net",
            "b@example.net",
            "c@example.net",
            "d@example.net",
        ],
    );
    let err = run.client.send(&e, &mut &BODY[..]).unwrap_err();
    assert_eq!(err.exit_code(), 67);
    assert_eq!(err.stage(), Stage::Rcpt);
    assert!(err.is_permanent() && !err.is_transient());
    let refused: Vec<String> = err.rejected().iter().map(|(m, _)| m.to_string()).collect();
    assert_eq!(refused, ["b@example.net", "d@example.net"]);
    assert_eq!(
        err.to_string(),
        "RCPT TO:<b@example.net> refused: 550 5.1.1 <b@example.net>: user unknown; \
         RCPT TO:<d@example.net> refused: 450 4.2.0 greylisted (message not sent)"
    );
    assert!(run.client.is_usable());
    run.client.quit().unwrap();
    let all = run.wire.borrow().all();
    assert!(
        all.ends_with("RCPT TO:<d@example.net>\r\nRSET\r\nQUIT\r\n"),
        "{all}"
    );
    assert!(!all.contains("DATA"));
}

#[test]
fn recipients_refused_only_for_now_is_temporary() {
    let mut run = after_ehlo(&[
        b"250 ok\r\n450 4.2.0 greylisted\r\n452 4.5.3 too many\r\n",
        b"250 ok\r\n",
    ]);
    let err = run
        .send_body("a@x.org", &["b@x.org", "c@x.org"])
        .unwrap_err();
    assert_eq!(err.exit_code(), 75);
    assert_eq!(err.rejected().len(), 2);
}

#[test]
fn a_refused_sender() {
    for (reply, code) in [
        (&b"553 5.7.1 sender rejected\r\n"[..], 69),
        (b"451 4.3.0 try later\r\n", 75),
    ] {
        let mail_and_rcpt = [reply, b"503 5.5.1 need MAIL\r\n"].concat();
        let mut run = after_ehlo(&[&mail_and_rcpt, b"250 ok\r\n"]);
        let err = run
            .send_body("a@example.org", &["b@example.net"])
            .unwrap_err();
        assert_eq!(err.exit_code(), code);
        assert_eq!(err.stage(), Stage::Mail);
        let text = String::from_utf8_lossy(reply);
        assert_eq!(
            err.to_string(),
            format!("MAIL FROM:<a@example.org> refused: {}", text.trim_end())
        );
        assert!(err.rejected().is_empty());
        run.wire_ends_with("RSET\r\n");
    }
}

#[test]
fn envelope_checks_before_anything_is_sent() {
    // SIZE: the server's limit is smaller than the message.
    let mut run = ready_session(&[GREETING, EHLO_FULL]);
    let mut e = env("a@example.org", &["b@example.net"]);
    e.size = Some(20_000);
    let err = run.client.send(&e, &mut &BODY[..]).unwrap_err();
    assert_eq!(err.exit_code(), 65);
    assert!(err.to_string().contains("20000 octets"), "{err}");
    assert!(err.to_string().contains("at most 10000"), "{err}");
    // 8-bit text without 8BITMIME.
    let mut run = ready_session(&[GREETING, EHLO_BASIC]);
    let mut e = env("a@example.org", &["b@example.net"]);
    e.eight_bit = true;
    let err = run.client.send(&e, &mut &b"caf\xc3\xa9\n"[..]).unwrap_err();
    assert_eq!(err.exit_code(), 65);
    assert!(err.to_string().contains("8BITMIME"), "{err}");
    // A UTF-8 address without SMTPUTF8.
    let e = env("a@example.org", &["jösé@example.net"]);
    let err = run.client.send(&e, &mut &BODY[..]).unwrap_err();
    assert_eq!(err.exit_code(), 65);
    assert!(
        err.to_string()
            .contains("<jösé@example.net> needs SMTPUTF8"),
        "{err}"
    );
    // No recipients.
    let err = run.send_body("a@x.org", &[]).unwrap_err();
    assert_eq!(err.exit_code(), 65);
    // A CR/LF in an address never reaches the wire.
    let mut e = env("a@example.org", &["b@example.net"]);
    e.rcpts[0].local = "b>\r\nRCPT TO:<evil".into();
    let err = run.client.send(&e, &mut &BODY[..]).unwrap_err();
    assert_eq!(err.exit_code(), 65);
    assert!(run.client.is_usable());
    assert_eq!(run.wire.borrow().all(), "EHLO client.example\r\n");
}

#[test]
fn eight_bit_and_smtputf8_parameters() {
    let mut run = after_ehlo(&[b"250 ok\r\n250 ok\r\n", b"354 go\r\n", b"250 ok\r\n"]);
    let mut e = env("a@example.org", &["jösé@example.net"]);
    e.eight_bit = true;
    run.client
        .send(&e, &mut "Subject: é\n\nx\n".as_bytes())
        .unwrap();
    let wire = run.wire.borrow();
    assert_eq!(
        wire.writes[1],
        "MAIL FROM:<a@example.org> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<jösé@example.net>\r\n"
            .as_bytes()
    );
    assert_eq!(wire.writes[3], "Subject: é\r\n\r\nx\r\n.\r\n".as_bytes());
}

#[test]
fn an_unsendable_message_is_never_terminated() {
    // Line 2 is 999 octets: found while sending, so the end marker is
    // withheld and the connection given up.
    let body = [b"ok\n".to_vec(), vec![b'x'; 999], b"\n".to_vec()].concat();
    let mut run = after_ehlo(&[b"250 ok\r\n250 ok\r\n", b"354 go\r\n"]);
    let err = run
        .client
        .send(&env("a@x.org", &["b@x.org"]), &mut &body[..])
        .unwrap_err();
    assert_eq!(err.exit_code(), 65);
    assert_eq!(err.stage(), Stage::Data);
    assert!(
        err.to_string().contains("line 2 is longer than 998"),
        "{err}"
    );
    assert!(!run.client.is_usable());
    run.client.quit().unwrap();
    let all = run.wire.borrow().all();
    assert!(all.ends_with("DATA\r\n"), "{all}");
    // 8-bit octets the envelope did not declare.
    let mut run = after_ehlo(&[b"250 ok\r\n250 ok\r\n", b"354 go\r\n"]);
    let err = run
        .client
        .send(&env("a@x.org", &["b@x.org"]), &mut &b"caf\xc3\xa9\n"[..])
        .unwrap_err();
    assert_eq!(err.exit_code(), 65);
    assert!(!run.client.is_usable());
}

#[test]
fn strict_mode_refuses_bare_newlines() {
    let mut run = after_ehlo(&[b"250 ok\r\n250 ok\r\n", b"354 go\r\n"]);
    run.client.set_bare_newlines(BareNewline::Reject);
    let err = run
        .client
        .send(&env("a@x.org", &["b@x.org"]), &mut &b"a\r\nb\n"[..])
        .unwrap_err();
    assert_eq!(err.exit_code(), 65);
    assert!(err.to_string().contains("bare"), "{err}");
}

/// A reader that fails after some bytes.
struct Failing(usize);
impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.0);
        buf[..n].fill(b'a');
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn a_message_read_error_is_local() {
    let mut run = after_ehlo(&[b"250 ok\r\n250 ok\r\n", b"354 go\r\n"]);
    let err = run
        .client
        .send(
            &env("a@x.org", &["b@x.org"]),
            &mut io::BufReader::new(Failing(10)),
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), 74);
    assert!(err.is_io());
    assert!(!run.client.is_usable());
}

#[test]
fn refusals_after_data() {
    // DATA refused: RSET, then the error.
    let mut run = after_ehlo(&[
        b"250 ok\r\n250 ok\r\n",
        b"554 5.5.1 no valid recipients\r\n",
        b"250 ok\r\n",
    ]);
    let err = run.send_body("a@x.org", &["b@x.org"]).unwrap_err();
    assert_eq!((err.exit_code(), err.stage()), (69, Stage::Data));
    assert_eq!(
        err.to_string(),
        "DATA refused: 554 5.5.1 no valid recipients"
    );
    run.wire_ends_with("DATA\r\nRSET\r\n");
    // The final reply: the transaction is over, no RSET needed.
    for (reply, code) in [
        (&b"554 5.7.1 spam\r\n"[..], 69),
        (b"452 4.3.1 disk full\r\n", 75),
    ] {
        let mut run = after_ehlo(&[b"250 ok\r\n250 ok\r\n", b"354 go\r\n", reply]);
        let err = run.send_body("a@x.org", &["b@x.org"]).unwrap_err();
        assert_eq!((err.exit_code(), err.stage()), (code, Stage::Dot));
        assert!(err.to_string().starts_with("message refused: "), "{err}");
        assert!(run.client.is_usable());
        run.wire_ends_with(BODY_WIRE);
    }
}

#[test]
fn greeting_and_helo_fallback() {
    for refusal in [&b"502 5.5.1 EHLO not implemented\r\n"[..], b"500 what?\r\n"] {
        let run = ready_session(&[GREETING, refusal, b"250 mx\r\n"]);
        assert!(!run.client.capabilities().esmtp);
        assert_eq!(
            run.wire.borrow().all(),
            "EHLO client.example\r\nHELO client.example\r\n"
        );
    }
    // Other refusals are errors; no HELO.
    let mut run = session(&[GREETING, b"550 5.7.1 go away\r\n"]);
    run.client.greet().unwrap();
    let err = run.client.ehlo("c").unwrap_err();
    assert_eq!((err.exit_code(), err.stage()), (69, Stage::Ehlo));
    assert_eq!(err.to_string(), "EHLO c refused: 550 5.7.1 go away");
    // HELO itself refused.
    let mut run = session(&[GREETING, b"502 no\r\n", b"501 bad name\r\n"]);
    run.client.greet().unwrap();
    assert_eq!(run.client.ehlo("c").unwrap_err().exit_code(), 69);
    // A greeting that refuses service (RFC 5321 §3.1).
    let mut run = session(&[b"554 5.3.2 no service here\r\n", b"221 bye\r\n"]);
    let err = run.client.greet().unwrap_err();
    assert_eq!(err.exit_code(), 69);
    assert_eq!(
        err.to_string(),
        "server greeting: 554 5.3.2 no service here"
    );
    run.client.quit().unwrap();
    assert_eq!(run.wire.borrow().all(), "QUIT\r\n");
    // 421: the server is closing; nothing more is sent.
    let mut run = session(&[b"421 4.3.2 busy\r\n"]);
    let err = run.client.greet().unwrap_err();
    assert_eq!(err.exit_code(), 75);
    assert!(!run.client.is_usable());
    run.client.quit().unwrap();
    assert_eq!(run.wire.borrow().all(), "");
    // Not an SMTP server.
    let mut run = session(&[b"SSH-2.0-OpenSSH_9.2\r\n"]);
    assert_eq!(run.client.greet().unwrap_err().exit_code(), 76);
}

#[test]
fn hostile_replies_are_bounded() {
    let many = b"250-x\r\n".repeat(10_000);
    let huge = [b"220 ".to_vec(), vec![b'a'; 1 << 20], b"\r\n".to_vec()].concat();
    for (script, want) in [
        (many.as_slice(), "too long"),
        (huge.as_slice(), "too long"),
        (
            &b"220-mx\r\n250 mixed\r\n"[..],
            "code 250 in a continuation of a 220",
        ),
        (b"220 mx\r\n" as &[u8], ""),
        (b"2200 x\r\n", "not a reply line"),
        (b"22\r\n", "not a reply line"),
        (b"620 x\r\n", "not a reply line"),
    ] {
        let mut run = session(&[script]);
        match run.client.greet() {
            Ok(_) => assert_eq!(want, ""),
            Err(err) => {
                assert_eq!(err.exit_code(), 76, "{err}");
                assert!(err.to_string().contains(want), "{err}");
                assert!(!run.client.is_usable());
            }
        }
    }
}

#[test]
fn the_server_hanging_up() {
    let mut run = after_ehlo(&[b"250 ok\r\n250 o"]);
    let err = run.send_body("a@x.org", &["b@x.org"]).unwrap_err();
    assert_eq!((err.exit_code(), err.stage()), (75, Stage::Rcpt));
    assert_eq!(err.to_string(), "RCPT: the server closed the connection");
    assert!(err.is_io() && err.is_transient());
}

#[test]
fn unsolicited_replies_are_never_taken_for_the_next_one() {
    // A 421 sent on its own (shutting down) is reported as such.
    let mut run = ready_session(&[GREETING, b"250 mx\r\n421 4.3.2 shutting down\r\n"]);
    let err = run.send_body("a@x.org", &["b@x.org"]).unwrap_err();
    assert_eq!(err.exit_code(), 75);
    assert_eq!(err.reply().unwrap().code, 421);
    assert_eq!(run.wire.borrow().all(), "EHLO client.example\r\n");
    // Anything else is a protocol error.
    let mut run = ready_session(&[GREETING, b"250 mx\r\n250 extra\r\n"]);
    let err = run.send_body("a@x.org", &["b@x.org"]).unwrap_err();
    assert_eq!(err.exit_code(), 76);
    assert_eq!(run.wire.borrow().all(), "EHLO client.example\r\n");
}

#[test]
fn starttls_then_fresh_capabilities() {
    let mut run = after_ehlo(&[
        b"220 2.0.0 ready to start TLS\r\n",
        b"250-mx.example.org\r\n250 AUTH PLAIN\r\n",
    ]);
    assert!(run.client.capabilities().starttls);
    run.client.starttls().unwrap();
    assert!(!run.client.is_usable());
    assert_eq!(run.client.capabilities(), &Capabilities::default());
    // Nothing may be sent in the clear any more.
    assert!(run.client.rset().is_err());
    let (stream, transcript) = run.client.into_parts();
    // (The TLS handshake would wrap `stream` here.)
    let mut tls = Client::new(stream, transcript);
    let caps = tls.ehlo("client.example").unwrap();
    assert!(!caps.pipelining && !caps.starttls);
    assert_eq!(caps.auth, ["PLAIN"]);
    assert_eq!(
        run.wire.borrow().all(),
        "EHLO client.example\r\nSTARTTLS\r\nEHLO client.example\r\n"
    );
}

#[test]
fn starttls_early_data_is_an_attack() {
    // Plaintext after the 220, in the same read (CVE-2011-0411 class).
    let mut run = after_ehlo(&[b"220 2.0.0 ready\r\n250-mx\r\n250 AUTH PLAIN\r\n"]);
    let err = run.client.starttls().unwrap_err();
    assert_eq!((err.exit_code(), err.stage()), (76, Stage::StartTls));
    assert!(err.to_string().contains("after the 220"), "{err}");
    assert!(!run.client.is_usable());
    // Extra lines already waiting before STARTTLS is sent.
    let mut run = ready_session(&[GREETING, b"250-mx\r\n250 STARTTLS\r\n220 ready\r\n"]);
    let err = run.client.starttls().unwrap_err();
    assert_eq!(err.exit_code(), 76);
    assert_eq!(run.wire.borrow().all(), "EHLO client.example\r\n");
    // A refusal.
    let mut run = after_ehlo(&[b"454 4.7.0 TLS not available\r\n"]);
    let err = run.client.starttls().unwrap_err();
    assert_eq!(err.exit_code(), 75);
    assert!(run.client.is_usable());
}

fn b64(s: &str) -> String {
    encode_to_string(s.as_bytes())
}

/// A server's `334` challenge carrying `s`.
fn challenge(s: &str) -> String {
    format!("334 {}\r\n", b64(s))
}

/// A session past EHLO (with [`EHLO_FULL`]) whose server then says `replies`.
fn after_ehlo(replies: &[&[u8]]) -> Run {
    let script: Vec<&[u8]> = [GREETING, EHLO_FULL]
        .into_iter()
        .chain(replies.iter().copied())
        .collect();
    ready_session(&script)
}

/// A session past EHLO that authenticates with `mech` as `user` and `pass`
/// against the server's `replies`; the run and what AUTH returned.
fn auth_run(
    replies: &[&[u8]],
    mech: Mechanism,
    user: &str,
    pass: &str,
) -> (Run, Result<(), Error>) {
    let mut run = after_ehlo(replies);
    let result = run.client.auth(mech, user, &pass.into());
    (run, result)
}

#[test]
fn auth_plain_redacted() {
    let (run, result) = auth_run(&[b"235 2.7.0 ok\r\n"], Mechanism::Plain, "test", "1234");
    result.unwrap();
    run.wire_ends_with("AUTH PLAIN AHRlc3QAMTIzNA==\r\n");
    let t = run.transcript.text();
    assert!(t.contains("C: AUTH PLAIN ***\nS: 235 2.7.0 ok\n"), "{t}");
    assert!(!t.contains("AHRl") && !t.contains("1234"));
}

#[test]
fn auth_login() {
    let replies: [&[u8]; 3] = [
        b"334 VXNlcm5hbWU6\r\n",
        b"334 UGFzc3dvcmQ6\r\n",
        b"235 2.7.0 ok\r\n",
    ];
    let (run, result) = auth_run(&replies, Mechanism::Login, "test", "1234");
    result.unwrap();
    run.wire_ends_with("AUTH LOGIN\r\ndGVzdA==\r\nMTIzNA==\r\n");
    let t = run.transcript.text();
    assert!(
        t.contains("C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: ***\nS: 334 UGFzc3dvcmQ6\nC: ***\n"),
        "{t}"
    );
}

#[test]
fn auth_cram_md5_rfc2195() {
    let replies: [&[u8]; 2] = [
        b"334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n",
        b"235 ok\r\n",
    ];
    let (run, result) = auth_run(&replies, Mechanism::CramMd5, "tim", "tanstaaftanstaaf");
    result.unwrap();
    run.wire_ends_with("AUTH CRAM-MD5\r\ndGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n");
}

const SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

/// The SCRAM-SHA-256 exchange of RFC 7677 §3 as `user`/`pencil`: the
/// server's first message, then `replies`.
fn scram_run(replies: &[&[u8]]) -> (Run, Result<(), Error>) {
    let first = challenge(SERVER_FIRST);
    let script: Vec<&[u8]> = [first.as_bytes()]
        .into_iter()
        .chain(replies.iter().copied())
        .collect();
    let mut run = after_ehlo(&script);
    let mut ex = scram_with_nonce("user", &"pencil".into(), "rOprNGfwEbeRWgbNEkqO");
    let result = run.client.auth_with(Mechanism::ScramSha256, &mut *ex);
    (run, result)
}

#[test]
fn auth_scram_sha256_rfc7677() {
    let last = challenge("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    let (run, result) = scram_run(&[last.as_bytes(), b"235 2.7.0 ok\r\n"]);
    result.unwrap();
    run.wire_ends_with(&format!(
        "AUTH SCRAM-SHA-256 {}\r\n{}\r\n\r\n",
        b64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"),
        b64(CLIENT_FINAL)
    ));
    let t = run.transcript.text();
    assert!(t.contains("C: AUTH SCRAM-SHA-256 ***\n"), "{t}");
    assert!(!t.contains(&b64(CLIENT_FINAL)));
}

#[test]
fn auth_scram_impostor_is_cancelled() {
    let last = challenge("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    let (run, result) = scram_run(&[last.as_bytes(), b"501 5.7.0 cancelled\r\n"]);
    let err = result.unwrap_err();
    assert_eq!(err.exit_code(), 77);
    assert!(err.to_string().contains("did not prove"), "{err}");
    run.wire_ends_with("\r\n*\r\n");
    // A server that says 235 without proving itself.
    let (_, result) = scram_run(&[b"235 ok\r\n"]);
    assert_eq!(result.unwrap_err().exit_code(), 77);
}

#[test]
fn auth_failures() {
    let (run, result) = auth_run(
        &[b"535 5.7.8 authentication failed\r\n"],
        Mechanism::Plain,
        "u",
        "wrong",
    );
    let err = result.unwrap_err();
    assert_eq!((err.exit_code(), err.stage()), (77, Stage::Auth));
    assert_eq!(
        err.to_string(),
        "AUTH PLAIN failed: 535 5.7.8 authentication failed"
    );
    assert!(run.client.is_usable());
    let (_, result) = auth_run(&[b"454 4.7.0 try later\r\n"], Mechanism::Plain, "u", "p");
    assert_eq!(result.unwrap_err().exit_code(), 75);
    // XOAUTH2: the error challenge gets an empty response, then 535.
    let replies: [&[u8]; 2] = [
        b"334 eyJzdGF0dXMiOiI0MDAifQ==\r\n",
        b"535 5.7.8 bad token\r\n",
    ];
    let (run, result) = auth_run(&replies, Mechanism::XOAuth2, "u@x.org", "tok");
    assert_eq!(result.unwrap_err().exit_code(), 77);
    run.wire_ends_with(&format!(
        "AUTH XOAUTH2 {}\r\n\r\n",
        b64("user=u@x.org\x01auth=Bearer tok\x01\x01")
    ));
    // OAUTHBEARER: a lone ^A.
    let replies: [&[u8]; 2] = [b"334 e30=\r\n", b"535 no\r\n"];
    let (run, result) = auth_run(&replies, Mechanism::OAuthBearer, "u", "tok");
    result.unwrap_err();
    run.wire_ends_with("\r\nAQ==\r\n");
    // A challenge that is not base64: cancelled, protocol error.
    let replies: [&[u8]; 2] = [b"334 !!!\r\n", b"501 cancelled\r\n"];
    let (run, result) = auth_run(&replies, Mechanism::Login, "u", "p");
    assert_eq!(result.unwrap_err().exit_code(), 76);
    run.wire_ends_with("AUTH LOGIN\r\n*\r\n");
    // Endless challenges.
    let endless = [&b"334 e30=\r\n"[..]; 20];
    let (_, result) = auth_run(&endless, Mechanism::XOAuth2, "u", "t");
    assert_eq!(result.unwrap_err().exit_code(), 76);
}

#[test]
fn timeouts_follow_rfc5321() {
    let mut run = session(&[
        GREETING,
        EHLO_FULL,
        b"250 ok\r\n250 ok\r\n",
        b"354 go\r\n",
        b"250 ok\r\n",
    ]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    run.client.set_timeout_hook(move |_, t| {
        // The time left, a hair under each stage's limit: whole seconds
        // up, each change once.
        let t = t.as_secs_f64().ceil() as u64;
        let mut s = s.lock().unwrap();
        if s.last() != Some(&t) {
            s.push(t);
        }
        Ok(())
    });
    ready(&mut run);
    run.send_body("a@x.org", &["b@x.org"]).unwrap();
    // Greeting 300 (EHLO, MAIL, RCPT and the DATA write share it), the
    // 354 120, blocks 180, end of data 600.
    assert_eq!(*seen.lock().unwrap(), [300, 120, 180, 600]);
    assert_eq!(timeout(Stage::Dot), TIMEOUT_DATA_END);
}

/// A reply of `lines` lines, dripped a byte per read with `delay` before
/// each (issue 17: each read came within the timeout, so it never ended).
fn drip(lines: usize, delay: Duration) -> Run {
    let mut ehlo = Vec::new();
    for i in 0..lines {
        ehlo.extend_from_slice(format!("250-line {i} of a long reply\r\n").as_bytes());
    }
    ehlo.extend_from_slice(b"250 end\r\n");
    let script: Vec<&[u8]> = vec![GREETING, &ehlo];
    let mut run = session_with(&script, 1);
    run.client.io.get_mut().get_mut().delay = delay;
    run
}

#[test]
fn a_reply_is_due_whole_within_its_limit() {
    let mut run = drip(100, Duration::from_millis(1));
    run.client
        .set_reply_timeout(Some(Duration::from_millis(100)));
    run.client.greet().unwrap();
    let e = run.client.ehlo("client.example").unwrap_err();
    assert_eq!(e.exit_code(), 75, "{e}");
    assert_eq!(
        e.to_string(),
        "EHLO: timed out waiting for the server (no complete reply within 0.1 s)"
    );
    assert!(!run.client.is_usable());
}

#[test]
fn the_session_deadline_bounds_every_wait() {
    let mut run = drip(100, Duration::from_millis(1));
    run.client
        .set_deadline(Some(Instant::now() + Duration::from_millis(100)));
    run.client.greet().unwrap();
    let e = run.client.ehlo("client.example").unwrap_err();
    assert_eq!(e.exit_code(), 75, "{e}");
    assert!(
        e.to_string().ends_with("(the session's time limit passed)"),
        "{e}"
    );
}

/// A server that takes message text slowly (a write every 20 ms here,
/// each within the block limit) gets no more than the session's time,
/// however many blocks it takes.
#[test]
fn the_session_deadline_bounds_sending_the_message() {
    let mut run = ready_session(&[
        GREETING,
        EHLO_BASIC,
        b"250 ok\r\n",
        b"250 ok\r\n",
        b"354 go\r\n",
    ]);
    run.client.io.get_mut().get_mut().delay = Duration::from_millis(20);
    let mut body = b"Subject: x\n\n".to_vec();
    for _ in 0..40_000 {
        body.extend_from_slice(&[b'a'; 99]);
        body.push(b'\n');
    }
    run.client
        .set_deadline(Some(Instant::now() + Duration::from_millis(400)));
    let e = run
        .client
        .send(&env("a@x.org", &["b@x.org"]), &mut &body[..])
        .unwrap_err();
    assert_eq!(e.exit_code(), 75, "{e}");
    assert_eq!(
        e.to_string(),
        "sending the message: timed out waiting for the server (the session's time limit passed)"
    );
    // Stopped long before the 4 MB (32 blocks) were written.
    assert!(run.wire.borrow().writes.len() < 30);
}

#[test]
fn the_greeting_counts_from_the_connection() {
    let mut run = session(&[GREETING]);
    run.client
        .set_reply_timeout(Some(Duration::from_millis(100)));
    let connected = Instant::now() - Duration::from_millis(200);
    let e = run.client.greet_since(connected).unwrap_err();
    assert!(e.to_string().starts_with("greeting: timed out"), "{e}");
}

#[test]
fn transcript_escapes_control_characters() {
    let mut run = session(&[b"220 mx \x1b[31mred\x07\r\n"]);
    run.client.greet().unwrap();
    run.client.note("TLS 1.3");
    assert_eq!(
        run.transcript.text(),
        "S: 220 mx \\x1b[31mred\\x07\n=== TLS 1.3\n"
    );
    // Bidi controls and line separators too (issue 17's fuzzing), and
    // C1 controls as bytes.
    let mut run = session(&["220 mx \u{202E}gnp.exe\u{2028}\u{85}\r\n".as_bytes()]);
    run.client.greet().unwrap();
    assert_eq!(
        run.transcript.text(),
        "S: 220 mx \\u{202e}gnp.exe\\u{2028}\\x85\n"
    );
}

#[test]
fn quit_tolerates_a_hang_up() {
    let mut run = session(&[GREETING]);
    run.client.greet().unwrap();
    run.client.quit().unwrap();
    assert_eq!(run.wire.borrow().all(), "QUIT\r\n");
}

#[test]
fn several_messages_on_one_connection() {
    let mut script: Vec<&[u8]> = vec![GREETING, EHLO_FULL];
    for _ in 0..3 {
        script.extend([&b"250 ok\r\n250 ok\r\n"[..], b"354 go\r\n", b"250 ok\r\n"]);
    }
    let mut run = ready_session(&script);
    for _ in 0..3 {
        run.send_body("a@x.org", &["b@x.org"]).unwrap();
    }
    assert_eq!(run.wire.borrow().all().matches(BODY_WIRE).count(), 3);
}

// ---- issue 6: LMTP, BDAT, DSN, BINARYMIME, --partial ----

#[test]
fn lmtp_one_reply_per_recipient_rfc2033() {
    let mut run = lmtp_ready(&[
        GREETING,
        b"250-lmtp.example\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n",
        b"250 ok\r\n250 ok\r\n550 5.1.1 unknown\r\n250 ok\r\n",
        b"354 go\r\n",
        b"250 2.0.0 b ok\r\n",
        b"452 4.2.2 d over quota\r\n",
    ]);
    let mut e = env("a@x.org", &["b@x.org", "c@x.org", "d@x.org"]);
    e.partial = true;
    let sent = run.client.send(&e, &mut &BODY[..]).unwrap();
    let wire = run.wire.borrow().all();
    assert!(wire.starts_with("LHLO client.example\r\n"), "{wire}");
    assert_eq!(sent.refused.len(), 1);
    assert_eq!(sent.refused[0].0, mb("c@x.org"));
    let got: Vec<(String, u16)> = sent
        .replies
        .iter()
        .map(|(m, r)| (m.to_string(), r.code))
        .collect();
    assert_eq!(
        got,
        [("b@x.org".to_owned(), 250), ("d@x.org".to_owned(), 452)]
    );
    assert!(run.client.is_usable());
    // A refused LHLO is an error (no HELO fallback in LMTP).
    let mut run = session(&[GREETING, b"500 what\r\n"]);
    run.client.set_lmtp(true);
    run.client.greet().unwrap();
    assert_eq!(run.client.ehlo("c").unwrap_err().exit_code(), 69);
    assert_eq!(run.wire.borrow().all(), "LHLO c\r\n");
}

#[test]
fn lmtp_lost_or_bad_reply_after_a_delivery_keeps_it() {
    // The connection ends, or (a bug: b's delivery was lost, made an
    // error that has the caller queue and send it again) the reply for
    // c is not a reply to the end of data: b's 250 stands, c gets 421.
    for last in [
        &b"250 2.0.0 b ok\r\n"[..],
        b"250 2.0.0 b ok\r\n354 what\r\n",
    ] {
        let mut run = lmtp_ready(&[
            GREETING,
            b"250 lmtp.example\r\n",
            b"250 ok\r\n",
            b"250 ok\r\n",
            b"250 ok\r\n",
            b"354 go\r\n",
            last,
        ]);
        let sent = run.send_body("a@x.org", &["b@x.org", "c@x.org"]).unwrap();
        assert_eq!(sent.replies[0].1.code, 250);
        assert_eq!(sent.replies[1].1.code, 421);
        assert!(!run.client.is_usable());
    }
}

#[test]
fn bdat_rfc3030_no_stuffing_crlf() {
    let mut run = after_ehlo(&[b"250 ok\r\n250 ok\r\n", b"250 2.0.0 done\r\n"]);
    let mut e = env("a@x.org", &["b@x.org"]);
    e.chunking = true;
    let sent = run
        .client
        .send(&e, &mut &b"Subject: x\n\n.hi\r\nend"[..])
        .unwrap();
    assert_eq!(sent.reply.code, 250);
    let text = "Subject: x\r\n\r\n.hi\r\nend\r\n";
    assert!(
        run.wire
            .borrow()
            .all()
            .ends_with(&format!("BDAT {} LAST\r\n{text}", text.len())),
        "{}",
        run.wire.borrow().all()
    );
    // Not offered: DATA.
    let mut run = ready_session(&[
        GREETING,
        EHLO_BASIC,
        b"250 ok\r\n",
        b"250 ok\r\n",
        b"354 go\r\n",
        b"250 ok\r\n",
    ]);
    run.client.send(&e, &mut &BODY[..]).unwrap();
    run.wire_ends_with(BODY_WIRE);
}

#[test]
fn bdat_several_chunks_and_a_refusal() {
    let big = b"0123456789abcdef\n".repeat(200_000);
    let mut run = after_ehlo(&[
        b"250 ok\r\n250 ok\r\n",
        b"250 2.0.0 chunk ok\r\n",
        b"552 5.3.4 too big\r\n",
        b"250 2.0.0 reset\r\n",
    ]);
    let mut e = env("a@x.org", &["b@x.org"]);
    e.chunking = true;
    let err = run.client.send(&e, &mut &big[..]).unwrap_err();
    assert_eq!((err.exit_code(), err.stage()), (69, Stage::Data));
    let wire = run.wire.borrow().all();
    assert_eq!(wire.matches("BDAT 1048576\r\n").count(), 2, "chunks");
    assert!(!wire.contains("LAST") && wire.ends_with("RSET\r\n"));
    assert!(run.client.is_usable());
    // An undeclared 8-bit octet half way: RSET, the session goes on.
    let mut body = big.clone();
    body.push(0xff);
    let mut run = after_ehlo(&[
        b"250 ok\r\n250 ok\r\n",
        b"250 ok\r\n",
        b"250 ok\r\n",
        b"250 ok\r\n",
        b"250 reset\r\n",
    ]);
    let err = run.client.send(&e, &mut &body[..]).unwrap_err();
    assert_eq!(err.exit_code(), 65, "{err}");
    run.wire_ends_with("RSET\r\n");
    assert!(run.client.is_usable());
}

#[test]
fn binarymime_only_when_offered_rfc3030_3() {
    let ehlo = b"250-mx\r\n250-8BITMIME\r\n250-CHUNKING\r\n250 BINARYMIME\r\n";
    let body = b"Content-Transfer-Encoding: binary\r\n\r\n\x00\xff\nraw\r";
    let mut run = ready_session(&[GREETING, ehlo, b"250 ok\r\n", b"250 ok\r\n", b"250 ok\r\n"]);
    let mut e = env("a@x.org", &["b@x.org"]);
    e.chunking = true;
    e.binary = true;
    e.eight_bit = true;
    run.client.send(&e, &mut &body[..]).unwrap();
    let w = run.wire.borrow().writes.concat();
    let want = [
        format!("BDAT {} LAST\r\n", body.len()).into_bytes(),
        body.to_vec(),
    ]
    .concat();
    assert!(w.ends_with(&want), "{}", String::from_utf8_lossy(&w));
    assert!(String::from_utf8_lossy(&w).contains("MAIL FROM:<a@x.org> BODY=BINARYMIME\r\n"));
    // Without BINARYMIME: 8BITMIME text, which binary MIME with no
    // bare CR or LF can be (line ends already CRLF).
    let ehlo = b"250-mx\r\n250-8BITMIME\r\n250 CHUNKING\r\n";
    let text = b"Content-Transfer-Encoding: binary\r\n\r\n\xff raw\r\n";
    let mut run = ready_session(&[GREETING, ehlo, b"250 ok\r\n", b"250 ok\r\n", b"250 ok\r\n"]);
    run.client.send(&e, &mut &text[..]).unwrap();
    let w = String::from_utf8_lossy(&run.wire.borrow().writes.concat()).into_owned();
    assert!(
        w.contains("BODY=8BITMIME") && w.ends_with(" raw\r\n"),
        "{w}"
    );
}

#[test]
fn bug_binary_mime_without_binarymime_silently_altered() {
    // Binary MIME in canonical form (RFC 3030 §3): a lone LF or CR in
    // its body is data (a PNG holds them). Sent as 8BITMIME text it
    // became CRLF, the attachment corrupted and the exit 0. It is
    // refused (65) instead, with nothing delivered: BDAT ends with
    // RSET, DATA without its end marker.
    let body = b"Content-Transfer-Encoding: binary\r\n\r\n\x89PNG\r\n\x1a\n\x00\r\n";
    let mut e = env("a@x.org", &["b@x.org"]);
    e.chunking = true;
    e.binary = true;
    e.eight_bit = true;
    let ehlo = b"250-mx\r\n250-8BITMIME\r\n250 CHUNKING\r\n";
    let mut run = ready_session(&[
        GREETING,
        ehlo,
        b"250 ok\r\n",
        b"250 ok\r\n",
        b"250 reset\r\n",
    ]);
    let err = run.client.send(&e, &mut &body[..]).unwrap_err();
    assert_eq!(err.exit_code(), 65, "{err}");
    assert!(err.to_string().contains("BINARYMIME"), "{err}");
    let w = run.wire.borrow().all();
    assert!(!w.contains("LAST") && w.ends_with("RSET\r\n"), "{w}");
    // DATA (no CHUNKING): the end marker is never sent.
    let ehlo = b"250-mx\r\n250 8BITMIME\r\n";
    let mut run = ready_session(&[GREETING, ehlo, b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n"]);
    let err = run.client.send(&e, &mut &body[..]).unwrap_err();
    assert_eq!(err.exit_code(), 65, "{err}");
    assert!(!run.wire.borrow().all().contains("\r\n.\r\n"));
    assert!(!run.client.is_usable());
}

#[test]
fn dsn_parameters_rfc3461() {
    let mut e = env("a@x.org", &["b@x.org", "c+d=e@x.org"]);
    e.dsn = Dsn {
        notify: Some(Notify::parse("failure,delay").unwrap()),
        ret: Some(Ret::Hdrs),
        envid: Some("QQ314159 x".into()),
        orcpt: true,
    };
    // The MAIL and RCPT commands for `e` to a server that answered EHLO so.
    let commands = |ehlo: &[u8]| -> Vec<String> {
        let caps = Capabilities::from_ehlo(&reply::read_reply(&mut &ehlo[..]).unwrap());
        let commands = envelope_commands(&e, &caps).unwrap();
        commands.iter().map(|c| c.to_string()).collect()
    };
    assert_eq!(
        commands(EHLO_FULL),
        [
            "MAIL FROM:<a@x.org> RET=HDRS ENVID=QQ314159+20x",
            "RCPT TO:<b@x.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;b@x.org",
            "RCPT TO:<c+d=e@x.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;c+2Bd+3De@x.org",
        ]
    );
    // Not offered: nothing sent.
    assert_eq!(
        commands(EHLO_BASIC),
        [
            "MAIL FROM:<a@x.org>",
            "RCPT TO:<b@x.org>",
            "RCPT TO:<c+d=e@x.org>"
        ]
    );
    assert_eq!(Notify::parse("never").unwrap().value(), "NEVER");
    assert!(Notify::parse("never,success").is_err());
    assert!(Notify::parse("").is_err());
    assert!(Ret::parse("body").is_err());
    assert_eq!(xtext("a+b=c d\u{e9}"), "a+2Bb+3Dc+20d+C3+A9");
}

#[test]
fn partial_sends_to_the_accepted() {
    let mut run = after_ehlo(&[
        b"250 ok\r\n550 5.1.1 no\r\n250 ok\r\n",
        b"354 go\r\n",
        b"554 5.7.1 spam\r\n",
    ]);
    let mut e = env("a@x.org", &["b@x.org", "c@x.org"]);
    e.partial = true;
    // The message refused after all: the RCPT refusal stays known.
    let err = run.client.send(&e, &mut &BODY[..]).unwrap_err();
    assert_eq!(err.stage(), Stage::Dot);
    assert_eq!(run.client.refused_at_rcpt()[0].0, mb("b@x.org"));
    // Everyone refused: nothing sent, even with partial.
    let mut run = after_ehlo(&[b"250 ok\r\n550 no\r\n", b"250 reset\r\n"]);
    let mut e = env("a@x.org", &["b@x.org"]);
    e.partial = true;
    assert_eq!(
        run.client.send(&e, &mut &BODY[..]).unwrap_err().exit_code(),
        67
    );
    assert!(!run.wire.borrow().all().contains("DATA"));
}

#[test]
fn lmtp_hostile_replies() {
    // One reply too many: taken for nothing, the next command refuses.
    // An LMTP session to one recipient whose server says `last` after
    // the data.
    let lmtp_then = |last: &'static [u8]| {
        let script: [&[u8]; 6] = [
            GREETING,
            b"250 lmtp\r\n",
            b"250 ok\r\n",
            b"250 ok\r\n",
            b"354 go\r\n",
            last,
        ];
        lmtp_ready(&script)
    };
    let mut run = lmtp_then(b"250 ok\r\n250 extra\r\n");
    run.send_body("a@x.org", &["b@x.org"]).unwrap();
    let err = run.send_body("a@x.org", &["b@x.org"]).unwrap_err();
    assert_eq!(err.exit_code(), 76, "{err}");
    // A reply that is not a reply.
    let mut run = lmtp_then(b"HTTP/1.1 200 OK\r\n");
    let err = run.send_body("a@x.org", &["b@x.org"]).unwrap_err();
    assert_eq!(err.exit_code(), 76);
    // 354 to BDAT is not a BDAT reply.
    let mut run = after_ehlo(&[b"250 ok\r\n250 ok\r\n", b"354 what\r\n"]);
    let mut e = env("a@x.org", &["b@x.org"]);
    e.chunking = true;
    let err = run.client.send(&e, &mut &BODY[..]).unwrap_err();
    assert_eq!(err.exit_code(), 76, "{err}");
    assert!(!run.client.is_usable());
}
