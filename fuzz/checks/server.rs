//! The SMTP server side against a hostile client: the command parser
//! (RFC 5321 §4.1) and the `smtp::server::Session` state machine.

use std::sync::Arc;

use mailpipe::smtp::auth::Verifier;
use mailpipe::smtp::command;
use mailpipe::smtp::dot::{DataEnd, DataOutcome};
use mailpipe::smtp::envelope::{self, ClientAddr};
use mailpipe::smtp::reply::Reply;
use mailpipe::smtp::server::{
    Action, Commit, Config, Extensions, Session, Step, StoreError, Stored, parse_injection,
};

/// `command::parse` on arbitrary bytes: never panics; an accepted
/// command's `Display` (its wire form) has no CR, LF or NUL and parses
/// back to the same command; a refusal's reply is one well-formed line.
pub fn command(data: &[u8]) {
    for utf8 in [false, true] {
        match command::parse(data, utf8) {
            Ok(cmd) => {
                let wire = cmd.to_string();
                assert!(
                    !wire.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0),
                    "control character in {wire:?}"
                );
                let again = command::parse(wire.as_bytes(), utf8)
                    .unwrap_or_else(|e| panic!("{wire:?} does not parse back: {e:?}"));
                assert_eq!(again, cmd, "round trip of {wire:?}");
            }
            Err(e) => {
                let r = e.reply();
                assert!((500..600).contains(&r.code), "{r:?}");
                let wire = r.to_wire(true);
                assert!(wire.ends_with(b"\r\n") && wire.len() <= 512, "{r:?}");
                let body = &wire[..wire.len() - 2];
                assert!(!body.iter().any(|&b| b == b'\r' || b == b'\n'), "{r:?}");
            }
        }
    }
}

const MAX_RCPTS: usize = 3;

fn config(flags: u8, more: u8) -> Config {
    let mut c = Config::new("mx.fuzz");
    c.max_rcpts = MAX_RCPTS;
    c.max_size = 1000;
    c.max_errors = if flags & 1 != 0 { 0 } else { 20 };
    c.tls_available = flags & 2 != 0;
    c.auth = match (flags >> 2) & 3 {
        0 => None,
        1 => Some(Verifier::AnyPassword),
        _ => Verifier::parse_file(b"user:pass\n").ok(),
    };
    c.auth_insecure = flags & 16 != 0;
    c.ext = Extensions {
        pipelining: more & 1 != 0,
        size: more & 2 != 0,
        eightbitmime: more & 4 != 0,
        smtputf8: more & 8 != 0,
        enhanced: more & 16 != 0,
        dsn: more & 32 != 0,
        chunking: more & 64 != 0,
    };
    if flags & 32 != 0 {
        for (kind, spec) in [
            ("reply", "rcpt:bad*@*=550 5.1.1 no"),
            ("reply-once", "2:mail:*x*=451"),
            ("reply-once", "dot=452 4.3.1 full"),
            ("reply", "data=354 go"),
            ("delay", "helo=0"),
            ("disconnect", "rcpt:*quit*"),
            ("reply", "rset=421"),
            ("reply-once", "helo=250 hi"),
        ] {
            c.inject
                .push(parse_injection(kind, spec).expect("valid injection"));
        }
    }
    c
}

fn check_reply(r: &Reply, enhanced_on: bool) {
    if r.is_none() {
        return;
    }
    assert!((200..600).contains(&r.code), "{r:?}");
    if let Some((class, _, _)) = r.enhanced {
        assert!(enhanced_on, "enhanced code while hidden: {r:?}");
        assert_eq!(u16::from(class), r.code / 100, "{r:?}");
    }
    let wire = r.to_wire(true);
    assert!(wire.ends_with(b"\r\n"), "{r:?}");
    for line in wire[..wire.len() - 2].split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(!line.iter().any(|&b| b == b'\r' || b == b'\n'), "{r:?}");
        // RFC 5321 §4.5.3.1.5: 512 octets a reply line, CRLF included.
        assert!(line.len() + 2 <= 512, "reply line too long: {r:?}");
        assert!(
            line.starts_with(format!("{:03}", r.code).as_bytes()),
            "{r:?}"
        );
    }
}

fn check(s: &Session, step: &Step, enhanced_on: bool) {
    if let Some(r) = step.action.reply() {
        check_reply(r, enhanced_on);
    }
    let env = s.envelope();
    assert!(env.rcpt_to.len() <= MAX_RCPTS);
    assert!(env.mail_params.0.len() <= envelope::MAX_PARAMS);
    assert!(
        env.rcpt_to
            .iter()
            .all(|(_, p)| p.0.len() <= envelope::MAX_PARAMS)
    );
    assert!(env.helo.len() <= command::MAX_COMMAND_LINE);
    if matches!(step.action, Action::Data(_) | Action::Bdat { .. }) {
        assert!(!env.rcpt_to.is_empty(), "transfer without recipients");
    }
    if matches!(step.action, Action::Close(_) | Action::Disconnect) {
        assert!(s.is_closed());
    }
}

fn outcome(b: u8) -> DataOutcome {
    match b % 5 {
        0 | 4 => DataOutcome::Complete,
        1 => DataOutcome::TooBig,
        2 => DataOutcome::BareNewline,
        _ => DataOutcome::LineTooLong,
    }
}

fn commit(b: u8) -> Commit {
    match b % 4 {
        0 | 3 => Commit::Stored(Stored {
            location: "x".into(),
        }),
        1 => Commit::Failed(StoreError {
            temporary: b & 4 != 0,
            message: "no\r\n250 x".into(),
        }),
        _ => Commit::Refused,
    }
}

/// A server `Session` driven by arbitrary input, as a driver would: the
/// first bytes choose the configuration, the rest are lines; after a DATA
/// or BDAT the next line's bytes choose how the transfer ended and how
/// storing went. Every reply is well-formed (one code, lines ending in
/// CRLF, no bare CR/LF, at most 512 octets a line, enhanced class equal
/// to the code's), the state bounded (recipients, parameters), no DATA
/// without a recipient, and nothing but Disconnect after the session
/// closed.
pub fn session(data: &[u8]) {
    let (flags, more, rest) = match data {
        [f, m, rest @ ..] => (*f, *m, rest),
        _ => return,
    };
    let config = Arc::new(config(flags, more));
    let enhanced_on = config.ext.enhanced;
    let mut s = Session::new(config, ClientAddr::Stdio, flags & 64 != 0);
    let g = s.greeting();
    check(&s, &g, enhanced_on);
    let mut lines = rest.split(|&b| b == b'\n');
    let mut pending = Some(g);
    while let Some(step) = pending.take() {
        if s.is_closed() {
            assert!(matches!(s.line(b"NOOP").action, Action::Disconnect));
            return;
        }
        let next = match step.action {
            Action::Data(_) => {
                let sel = lines.next().unwrap_or(b"");
                let end = DataEnd {
                    outcome: outcome(sel.first().copied().unwrap_or(0)),
                    size: 7,
                };
                match s.data_end(&end) {
                    Ok(()) => s.committed(commit(sel.get(1).copied().unwrap_or(0)), 7),
                    Err(step) => step,
                }
            }
            Action::Bdat { last, .. } => {
                let sel = lines.next().unwrap_or(b"");
                let end = DataEnd {
                    outcome: outcome(sel.first().copied().unwrap_or(0)),
                    size: 7,
                };
                match s.bdat_end(&end, last) {
                    Ok(Some(step)) => step,
                    Ok(None) => s.committed(commit(sel.get(1).copied().unwrap_or(0)), 7),
                    Err(step) => step,
                }
            }
            Action::StartTls(_) => {
                s.tls_started();
                match lines.next() {
                    Some(l) => feed(&mut s, l),
                    None => return,
                }
            }
            _ => match lines.next() {
                Some(l) => feed(&mut s, l),
                None => return,
            },
        };
        check(&s, &next, enhanced_on);
        pending = Some(next);
    }
}

/// As a driver: CR stripped, over-long lines reported as such.
fn feed(s: &mut Session, line: &[u8]) -> Step {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() + 2 > command::MAX_LINE {
        s.line_too_long()
    } else {
        s.line(line)
    }
}
