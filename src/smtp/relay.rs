//! `smtp-send -bs`: an SMTP session on stdin/stdout (as `sendmail -bs`,
//! which symfony/mailer uses by default) whose messages are relayed onward
//! through [`submit::Session`] before their DATA is answered.
//!
//! The local side is the library's server session ([`server::Session`])
//! driven by [`recv::relay_stdio`], the same code as `smtp-recv --stdio`:
//! command parsing, PIPELINING, the DATA reader and its smuggling defences
//! (bare CR or LF refused, RFC 5321 §2.3.8), SIZE (RFC 1870), BDAT. The peer
//! is a local process, so no AUTH is asked for and no STARTTLS is offered;
//! DSN is not offered either, since its parameters would not be relayed.
//!
//! Recipients are accepted locally (up to the server's limit) and the
//! message is relayed once whole: each message is spooled (in memory up to
//! [`MEM_SPOOL`], then in an unlinked temporary file), prepared as
//! `smtp-send` prepares its input (envelope from MAIL and RCPT; `Date:`,
//! `Message-ID:` and `From:` added when missing, `Bcc:` removed; a
//! `Received:` field of ours first, RFC 5321 §4.4) and sent over one relay
//! session, opened at the first message and kept for the next ones.
//!
//! The reply to the message (RFC 5321 §6.1: a `250` takes responsibility)
//! is `250` only after the relay's `250`. Otherwise ([`refusal`]):
//!
//! - a temporary failure (4xx, relay unreachable, connection lost, TLS or
//!   AUTH trouble with the relay, our configuration) is `451` (or the
//!   relay's `450`/`452`), with the relay's reason: the client keeps the
//!   message and tries again later;
//! - a permanent refusal of the transaction by the relay (5xx to MAIL, RCPT,
//!   DATA or the message) is `550`, `552` or `554` as the relay said, with
//!   its reason; so is a message that cannot be sent as it is (a line over
//!   998 octets, 8-bit text to a relay without 8BITMIME).
//!
//! A relay connection that was idle between messages may have been closed
//! by the relay; a failure before the end of the message on a reused
//! connection (where the relay cannot have taken it) is retried once on a
//! new connection.

use std::fs::File;
use std::io::{self, BufWriter, Cursor, Read, Seek, SeekFrom, Write};
use std::sync::Arc;
use std::time::SystemTime;

use crate::limits::IO_BUF;
use crate::smtp::client::{self, ErrorKind};
use crate::smtp::envelope::Envelope;
use crate::smtp::outcome::{RcptResult, Status};
use crate::smtp::recv;
use crate::smtp::reply::Reply;
use crate::smtp::server;
use crate::smtp::submit::{self, Connection, Error, PrepareOptions, Prepared, Session, Source};
use crate::store;

/// Bytes of a message kept in memory before it spills to a temporary file
/// (as `smtp-recv`'s spool: typical mail never touches the disk).
pub const MEM_SPOOL: usize = 256 * 1024;

/// Longest reply text we pass on (RFC 5321 §4.5.3.1.5: a reply line is at
/// most 512 octets with its code and CRLF).
const MAX_TEXT: usize = 400;

/// The local server's configuration for `-bs`: `hostname` in the greeting,
/// EHLO and `Received:`, the default limits (SIZE), no AUTH, no STARTTLS,
/// no DSN (not relayed).
pub fn server_config(hostname: &str) -> server::Config {
    let mut config = server::Config::new(hostname);
    config.ext.dsn = false;
    config
}

/// A message being received: in memory, then in a file.
enum Spool {
    Mem(Vec<u8>),
    File(BufWriter<File>),
}

impl Spool {
    fn into_source(self) -> io::Result<Source> {
        Ok(match self {
            Spool::Mem(v) => Source::Stream(Box::new(Cursor::new(v))),
            Spool::File(w) => {
                let mut f = w.into_inner().map_err(io::IntoInnerError::into_error)?;
                f.seek(SeekFrom::Start(0))?;
                Source::File(f)
            }
        })
    }
}

/// Opens a relay session (connects, EHLO, STARTTLS, AUTH).
pub type Opener<C> = Box<dyn FnMut() -> Result<Session<C>, Error>>;

/// The [`recv::Relay`] of `smtp-send -bs`: relays each message through a
/// [`submit::Session`] opened when first needed.
pub struct Relay<C: Connection = crate::smtp::url::Transport> {
    open: Opener<C>,
    session: Option<Session<C>>,
    spool: Option<Spool>,
    hostname: String,
    mail_host: String,
    relayed: u64,
}

impl<C: Connection> Relay<C> {
    /// A relay that opens its sessions with `open`; `hostname` names us in
    /// the `Received:` field, `mail_host` qualifies a `Message-ID:` we add.
    pub fn new(open: Opener<C>, hostname: &str, mail_host: &str) -> Relay<C> {
        Relay {
            open,
            session: None,
            spool: None,
            hostname: hostname.to_owned(),
            mail_host: mail_host.to_owned(),
            relayed: 0,
        }
    }

    /// Messages the relay accepted so far.
    pub fn relayed(&self) -> u64 {
        self.relayed
    }

    /// Ends the relay session, if one is open, with QUIT.
    pub fn quit(mut self) {
        if let Some(s) = self.session.take() {
            let _ = s.quit();
        }
    }

    /// Sends `msg` over the open session (or a new one). A reused session
    /// that fails before the relay can have taken the message is replaced
    /// once.
    fn send(&mut self, msg: &mut Prepared) -> Result<Vec<RcptResult>, Error> {
        let reused = self.session.is_some();
        match self.send_once(msg) {
            Err(e) if reused && retry_safe(&e) => {
                msg.rewind().map_err(Error::Input)?;
                self.send_once(msg)
            }
            r => r,
        }
    }

    fn send_once(&mut self, msg: &mut Prepared) -> Result<Vec<RcptResult>, Error> {
        let s = match &mut self.session {
            Some(s) => s,
            None => self.session.insert((self.open)()?),
        };
        let res = s.send(msg, false);
        if res.is_err()
            && !s.is_usable()
            && let Some(s) = self.session.take()
        {
            s.abort();
        }
        res
    }

    fn relay(&mut self, env: &Envelope) -> Result<Vec<RcptResult>, Error> {
        let spool = self
            .spool
            .take()
            .ok_or_else(|| Error::Input(io::Error::other("no message")))?;
        let source = spool.into_source().map_err(Error::Input)?;
        let opts = PrepareOptions {
            from: Some(env.mail_from.clone()),
            recipients: env.rcpt_to.iter().map(|(m, _)| m.clone()).collect(),
            hostname: self.mail_host.clone(),
            ..PrepareOptions::default()
        };
        let mut msg = submit::prepare(source, &opts)?;
        self.send(&mut msg)
    }
}

/// Whether a failure on a reused connection may be retried on a new one:
/// the connection was lost (or the relay said 421) before the end of the
/// message, so the relay must not have delivered it (RFC 5321 §4.1.1.4).
fn retry_safe(e: &Error) -> bool {
    let Error::Smtp { err, .. } = e else {
        return false;
    };
    let early = matches!(
        err.stage(),
        client::Stage::Mail | client::Stage::Rcpt | client::Stage::Data | client::Stage::Rset
    );
    let lost = match err.kind() {
        ErrorKind::Io(_) => true,
        ErrorKind::Reply(r) => r.code == 421,
        _ => false,
    };
    early && lost
}

impl<C: Connection> Write for Relay<C> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let spool = self.spool.get_or_insert_with(|| Spool::Mem(Vec::new()));
        if let Spool::Mem(v) = spool {
            if v.len() + buf.len() <= MEM_SPOOL {
                v.extend_from_slice(buf);
                return Ok(buf.len());
            }
            let file = crate::io::temp::unlinked_temp(&std::env::temp_dir())?;
            let mut w = BufWriter::with_capacity(IO_BUF, file);
            w.write_all(v)?;
            *spool = Spool::File(w);
        }
        if let Spool::File(w) = spool {
            w.write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.spool {
            Some(Spool::File(w)) => w.flush(),
            _ => Ok(()),
        }
    }
}

impl<C: Connection> recv::Relay for Relay<C> {
    fn begin(&mut self, env: &Envelope, queue_id: &str) -> io::Result<()> {
        self.spool = Some(Spool::Mem(Vec::new()));
        // Our Received: (RFC 5321 §4.4); Return-Path: is for the final
        // delivery, not a relay.
        let trace = store::trace_header(env, &self.hostname, queue_id, SystemTime::now());
        let received = match memchr::memchr(b'\n', &trace) {
            Some(i) if trace.starts_with(b"Return-Path:") => &trace[i + 1..],
            _ => &trace[..],
        };
        self.write_all(received)
    }

    fn finish(&mut self, env: &Envelope, queue_id: &str, _size: u64) -> Result<Reply, Reply> {
        let results = match self.relay(env) {
            Ok(results) => results,
            Err(e) => {
                crate::cli::say(format_args!("{queue_id}: not relayed: {e}"));
                return Err(refusal(&e));
            }
        };
        let reply = results_reply(&results);
        if reply.is_positive() {
            self.relayed += 1;
            return Ok(reply);
        }
        for r in results.iter().filter(|r| !r.is_delivered()) {
            crate::cli::say(format_args!("{queue_id}: not relayed: {r}"));
        }
        Err(reply)
    }
}

/// The reply to a message the relay answered per recipient: `250` when
/// every recipient has it; else, when one is deferred, `451` (or its
/// 450/452), so the client tries again; else the refusal of the first
/// refused recipient (550, 552, else 554). The text names the first
/// recipient that does not have it, how many more, and how many do.
pub fn results_reply(results: &[RcptResult]) -> Reply {
    let failed: Vec<&RcptResult> = results.iter().filter(|r| !r.is_delivered()).collect();
    let Some(first) = failed
        .iter()
        .find(|r| r.status == Status::Deferred)
        .or(failed.first())
    else {
        let what = results
            .first()
            .and_then(|r| r.reply.as_ref())
            .map_or_else(String::new, one_line);
        return Reply::new(250, Some((2, 0, 0)), clip(&format!("Ok: relayed: {what}")));
    };
    let mut text = format!("relay {}: {first}", first.server);
    if failed.len() > 1 {
        text.push_str(&format!(" (and {} more)", failed.len() - 1));
    }
    let delivered = results.len() - failed.len();
    if delivered > 0 {
        text.push_str(&format!(
            " (delivered to {delivered} of {} recipients)",
            results.len()
        ));
    }
    let (code, enhanced) = pass_on(first.reply.as_ref(), first.status == Status::Deferred);
    Reply::new(code, enhanced, clip(&text))
}

/// Our code and enhanced code for a relay's refusal `reply` (none: a lost
/// connection), temporary or not: 450/451/452 kept, other 4xx become 451;
/// 550/552/554 kept, other 5xx become 554 (the codes RFC 5321 §4.3.2 allows
/// after DATA); the enhanced code is the relay's when its class fits.
fn pass_on(reply: Option<&Reply>, transient: bool) -> (u16, Option<(u8, u16, u16)>) {
    let code = reply.map_or(0, |r| r.code);
    let class = if transient { 4 } else { 5 };
    let ours = match (transient, code) {
        (true, 450..=452) | (false, 550 | 552 | 554) => code,
        (true, _) => 451,
        (false, _) => 554,
    };
    let enhanced = reply
        .and_then(|r| r.enhanced)
        .filter(|e| e.0 == class)
        .or(Some((class, 0, 0)));
    (ours, enhanced)
}

/// The reply to a message the relay did not take (see the module docs):
/// 451 (or the relay's 450/452) when it may work later, the relay's
/// 550/552 (else 554) when the relay refused the transaction for good, 554
/// for a message that cannot be sent as it is. The text names the relay
/// and its reply.
pub fn refusal(e: &Error) -> Reply {
    let text = clip(&format!("relay: {e}"));
    let (code, enhanced) = match e {
        Error::Partial { err, .. } => {
            let inner = refusal(err);
            (inner.code, inner.enhanced)
        }
        Error::Message(_) | Error::Usage(_) => (554, Some((5, 6, 0))),
        Error::Connect(_) => (451, Some((4, 4, 1))),
        Error::Smtp { err, .. } => match (err.kind(), err.reply()) {
            (ErrorKind::Unsendable(_), _) => (554, Some((5, 6, 0))),
            (ErrorKind::Io(_), _) => (451, Some((4, 4, 2))),
            (_, Some(r)) if r.is_transient() => pass_on(Some(r), true),
            (_, Some(r)) if r.is_permanent() && in_transaction(err.stage()) => {
                pass_on(Some(r), false)
            }
            // A 5xx to the greeting, EHLO, STARTTLS or AUTH is about the
            // link to the relay (our configuration), not this message.
            _ => (451, Some((4, 3, 0))),
        },
        _ => (451, Some((4, 3, 0))),
    };
    Reply::new(code, enhanced, text)
}

/// Whether a refusal at `stage` is about the transaction (the message,
/// its sender or recipients) rather than the relay session.
fn in_transaction(stage: client::Stage) -> bool {
    matches!(
        stage,
        client::Stage::Mail | client::Stage::Rcpt | client::Stage::Data | client::Stage::Dot
    )
}

/// A reply on one line (`250 2.0.0 Ok`).
fn one_line(r: &Reply) -> String {
    let mut s = format!("{:03}", r.code);
    if let Some((c, sub, d)) = r.enhanced {
        s.push_str(&format!(" {c}.{sub}.{d}"));
    }
    let text = r.text().replace('\n', " / ");
    if !text.is_empty() {
        s.push(' ');
        s.push_str(&text);
    }
    s
}

/// `s` cut to [`MAX_TEXT`] characters (with `…`).
fn clip(s: &str) -> String {
    if s.chars().count() <= MAX_TEXT {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(MAX_TEXT - 1).collect();
    out.push('…');
    out
}

/// Runs `smtp-send -bs`: one SMTP session with the client on `input` and
/// `output`, each message relayed with `open`'s sessions. Returns the
/// number of messages relayed. Nothing here fails the run: each message's
/// outcome is told to the client (and failures on stderr).
pub fn serve<C: Connection>(
    input: impl Read,
    output: impl Write,
    open: Opener<C>,
    hostname: &str,
    mail_host: &str,
) -> u64 {
    let mut relay = Relay::new(open, hostname, mail_host);
    let config = Arc::new(server_config(hostname));
    let opts = recv::Options {
        count: 0,
        quiet: true,
        ..recv::Options::default()
    };
    let _ = recv::relay_stdio(input, output, config, &mut relay, opts);
    let n = relay.relayed();
    relay.quit();
    n
}

/// The `-bs` mode of `smtp-send` ([`submit::run`]'s hook): serves `input`
/// and `output` (stdin and stdout), relaying to the target of `sopts`.
/// Exit code 0: each message's outcome went to the client.
pub fn run(sopts: &submit::SessionOptions, input: impl Read, output: impl Write) -> u8 {
    let sopts = sopts.clone();
    let hostname = recv::default_hostname();
    serve(
        input,
        output,
        Box::new(move || Session::open(&sopts)),
        &hostname,
        &hostname,
    );
    0
}
