//! `smtp-send -bs`: an SMTP session on stdin/stdout (as `sendmail -bs`,
//! which symfony/mailer uses by default) whose messages are relayed onward
//! along a [`Deliverer`] (the relay, or `--mx`) before their DATA
//! is answered.
//!
//! The local side is the library's server session ([`server::Session`])
//! driven by [`driver::relay_stdio`], the same code as `smtp-recv --stdio`:
//! command parsing, PIPELINING, the DATA reader and its smuggling defences
//! (bare CR or LF refused, RFC 5321 §2.3.8), SIZE (RFC 1870), BDAT. The peer
//! is a local process, so no AUTH is asked for and no STARTTLS is offered;
//! DSN is not offered either, since its parameters would not be relayed.
//!
//! Recipients are accepted locally (up to the server's limit) and the
//! message is relayed once whole: each message is spooled
//! (`store::spool::Spool`: in memory up to
//! [`limits::SPOOL_MEM`](crate::limits::SPOOL_MEM), then in an unlinked
//! temporary file), prepared as
//! `smtp-send` prepares its input (envelope from MAIL and RCPT; `Date:`,
//! `Message-ID:` and `From:` added when missing, `Bcc:` removed; a
//! `Received:` field of ours first, RFC 5321 §4.4; `--downgrade` and
//! `--qualify-domain` as given)
//! and sent over one relay session, opened at the first message and kept
//! for the next ones (with `--mx`: one per domain and message).
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
//! With `--queue DIR`, what meets any failure but a refusal of the
//! message ([`queue::is_queueable`]: a 4xx, the relay unreachable, AUTH
//! refused, a certificate that does not verify, our configuration) is
//! stored in the queue ([`queue::queue_message`]: written, fsync'd,
//! renamed) and then
//! answered `250`: queued is "accepted, will retry" (RFC 5321 §6.1), and a
//! later `--flush DIR` sends it. A queue that cannot be written leaves the
//! `451`; a permanent refusal is never queued.
//!
//! The session may last up to a day (`SESSION_LIMIT`: a queue worker can
//! keep it for many messages); stdin has no idle timeout.
//!
//! A relay connection that was idle between messages may have been closed
//! by the relay; a failure before the end of the message on a reused
//! connection (where the relay cannot have taken it) is retried once on a
//! new connection.

use std::io::{self, Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::exit::Status as _;
use crate::io::spool::{Spool, Spooled};
use crate::send::error::Error;
use crate::send::log::Log;
use crate::send::notice::{self, Notices};
use crate::send::outcome::{self, RcptResult, Status};
use crate::send::prepare::{self, PrepareOptions, Prepared, Source};
use crate::send::queue;
use crate::send::route::Deliverer;
use crate::send::session::{self, Connection};
use crate::smtp::client::{self, ErrorKind};
use crate::smtp::envelope::Envelope;
use crate::smtp::reply::Reply;
use crate::smtp::server::{self, driver};
use crate::smtp::trace;

/// Longest a `-bs` session may last: the peer is a local process that may
/// keep its session for many messages (a queue worker), so not
/// `smtp-recv`'s one hour; reads on stdin have no idle timeout.
const SESSION_LIMIT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

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

/// The [`driver::Relay`] of `smtp-send -bs`: relays each message along a
/// [`Deliverer`] (the relay's session opened when first needed, or `--mx`).
pub struct Relay<C: Connection = crate::send::url::Transport> {
    route: Deliverer<C>,
    spool: Option<Spool>,
    hostname: String,
    /// The run's preparation options (`--qualify-domain`, `--downgrade`,
    /// the mail host); each message's envelope replaces the sender and
    /// recipients.
    popts: PrepareOptions,
    /// `--queue DIR`: where failures [`queue::is_queueable`] keeps go.
    queue: Option<PathBuf>,
    relayed: u64,
    /// Where the messages not relayed are reported.
    notices: notice::Shared,
}

impl<C: Connection> Relay<C> {
    /// A relay that delivers along `route` (trying to connect again for
    /// every message: [`Deliverer::retry_unreachable`]); `hostname` names
    /// us in the `Received:` field; each message is prepared with `popts`
    /// (the run's: `--qualify-domain`, `--downgrade`, the mail host that
    /// qualifies a `Message-ID:` we add), its sender and recipients those
    /// of MAIL and RCPT; what is not relayed is reported to `notices`.
    pub fn new(
        route: Deliverer<C>,
        hostname: &str,
        popts: PrepareOptions,
        notices: notice::Shared,
    ) -> Relay<C> {
        Relay {
            route: route.retry_unreachable(),
            spool: None,
            hostname: hostname.to_owned(),
            popts,
            queue: None,
            relayed: 0,
            notices,
        }
    }

    /// Queues what meets a failure [`queue::is_queueable`] keeps in `dir`
    /// (`--queue DIR`) and answers `250` once it is durably stored.
    pub fn with_queue(mut self, dir: Option<&Path>) -> Relay<C> {
        self.queue = dir.map(Path::to_path_buf);
        self
    }

    /// Messages the relay accepted (or that were queued) so far.
    pub fn relayed(&self) -> u64 {
        self.relayed
    }

    /// Ends the relay session, if one is open, with QUIT.
    pub fn quit(self) {
        self.route.finish();
    }

    /// The spooled message, prepared for sending.
    fn prepare(&mut self, env: &Envelope) -> Result<Prepared, Error> {
        let spool = self
            .spool
            .take()
            .ok_or_else(|| Error::Input(io::Error::other("no message")))?;
        let source = match spool.into_spooled().map_err(Error::Input)? {
            Spooled::Mem(v) => Source::Stream(Box::new(Cursor::new(v))),
            Spooled::File(f) => Source::File(f),
        };
        let opts = PrepareOptions {
            from: Some(env.mail_from.clone()),
            recipients: env.rcpt_to.iter().map(|(m, _)| m.clone()).collect(),
            // The envelope is MAIL's and RCPT's, and DATA ended the
            // message (sendmail's dot rule does not apply).
            extract: false,
            dot_ends: false,
            ..self.popts.clone()
        };
        prepare::prepare(source, &opts)
    }

    /// Relays the message and decides the reply (the module docs).
    fn outcome(&mut self, env: &Envelope, queue_id: &str) -> Result<Reply, Reply> {
        let mut msg = self.prepare(env).map_err(|e| {
            self.notices
                .say(&format_args!("{queue_id}: not relayed: {e}"));
            refusal(&e)
        })?;
        let sent = self.route.deliver(&mut msg);
        let log = self.route.log();
        if let Some(dir) = self.queue.clone() {
            return queued(&dir, &mut msg, sent, queue_id, &*self.notices, log);
        }
        let results = sent.map_err(|e| {
            log.settled(None, e.exit_code());
            self.notices
                .say(&format_args!("{queue_id}: not relayed: {e}"));
            refusal(&e)
        })?;
        log.settled(None, outcome::exit_code(&results));
        let reply = results_reply(&results);
        if reply.is_positive() {
            return Ok(reply);
        }
        for r in results.iter().filter(|r| !r.is_delivered()) {
            self.notices
                .say(&format_args!("{queue_id}: not relayed: {r}"));
        }
        Err(reply)
    }
}

/// `--queue DIR`: what was deferred (every recipient, after a temporary
/// failure of the session) is queued durably ([`queue::queue_message`]:
/// written, fsync'd, renamed) and then counts as accepted: `250` once
/// every recipient either has the message or is queued. A permanent
/// refusal is never queued; a queue that cannot be written leaves the
/// temporary failure's `451`.
fn queued(
    dir: &Path,
    msg: &mut Prepared,
    sent: Result<Vec<RcptResult>, Error>,
    queue_id: &str,
    notices: &dyn Notices,
    log: &Log,
) -> Result<Reply, Reply> {
    // The reply when nothing is queued: the relay's own.
    let unqueued = match &sent {
        Ok(results) => results_reply(results),
        Err(e) => refusal(e),
    };
    let not_queued = |e: &Error| {
        log.settled(None, e.exit_code());
        notices.say(&format_args!("{queue_id}: not relayed, not queued: {e}"));
        unqueued.clone()
    };
    if let Err(e) = &sent
        && !queue::is_queueable(e)
    {
        return Err(not_queued(e));
    }
    // The same path as a single message (`smtp-send --queue`); an error
    // here is the queue's (a permanent failure returned above).
    match queue::after_send(dir, msg, sent, notices) {
        Ok((rest, id)) => {
            log.settled(id.as_deref(), outcome::exit_code(&rest));
            rest_reply(&rest, id.as_deref())
        }
        Err(e) => Err(not_queued(&e)),
    }
}

/// The reply once the deferred recipients are queued as `id`: the others'
/// (250 when they all have the message, or there are none).
fn rest_reply(rest: &[RcptResult], id: Option<&str>) -> Result<Reply, Reply> {
    let reply = results_reply(rest);
    if !reply.is_positive() {
        return Err(reply);
    }
    let Some(id) = id else {
        return Ok(reply);
    };
    let text = if rest.is_empty() {
        format!("Ok: queued as {id} (will be retried)")
    } else {
        format!(
            "Ok: relayed to {} recipients, the others queued as {id} (will be retried)",
            rest.len()
        )
    };
    Ok(Reply::new(250, Some((2, 0, 0)), text))
}

/// A spool for one message: in memory up to
/// [`limits::SPOOL_MEM`](crate::limits::SPOOL_MEM), then in a file.
fn new_spool() -> Spool {
    Spool::new(crate::limits::SPOOL_MEM)
}

impl<C: Connection> Write for Relay<C> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.spool
            .get_or_insert_with(new_spool)
            .write_all(buf)
            .map(|()| buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.spool.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl<C: Connection> driver::Relay for Relay<C> {
    fn begin(&mut self, env: &Envelope, queue_id: &str) -> io::Result<()> {
        self.spool = Some(new_spool());
        // Our Received: (RFC 5321 §4.4); Return-Path: is for the final
        // delivery, not a relay.
        let trace = trace::trace_header(env, &self.hostname, queue_id, SystemTime::now());
        let received = match memchr::memchr(b'\n', &trace) {
            Some(i) if trace.starts_with(b"Return-Path:") => &trace[i + 1..],
            _ => &trace[..],
        };
        self.write_all(received)
    }

    fn finish(&mut self, env: &Envelope, queue_id: &str, _size: u64) -> Result<Reply, Reply> {
        let res = self.outcome(env, queue_id);
        if res.is_ok() {
            self.relayed += 1;
        }
        res
    }
}

/// The reply to a message the relay answered per recipient: `250` when
/// every recipient has it; else, when one is deferred, `451` (or its
/// 450/452), so the client tries again; else the refusal of the first
/// refused recipient (550, 552, else 554). The text names the first
/// recipient that does not have it, how many more, and how many do.
pub fn results_reply(results: &[RcptResult]) -> Reply {
    let failed: Vec<&RcptResult> = results.iter().filter(|r| !r.is_delivered()).collect();
    // The reply that decides: a deferred recipient's (the client must try
    // again), else a refused one's; one with the relay's own reply before
    // one that was merely not sent because another was refused.
    let pick = |deferred: bool| {
        let mut of = failed
            .iter()
            .filter(move |r| (r.status == Status::Deferred) == deferred);
        let with_reply = of.clone().find(|r| r.reply.is_some());
        with_reply.or_else(|| of.next())
    };
    let Some(first) = pick(true).or_else(|| pick(false)) else {
        let what = results
            .first()
            .and_then(|r| r.reply.as_ref())
            .map_or_else(String::new, session::one_line);
        return Reply::new(250, Some((2, 0, 0)), clip(&format!("Ok: relayed: {what}")));
    };
    let mut text = format!("relay: {}: {first}", first.server);
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
    relay: Relay<C>,
    hostname: &str,
) -> u64 {
    let mut relay = relay;
    let config = Arc::new(server_config(hostname));
    let opts = driver::Options {
        quiet: true,
        time: driver::TimeLimits {
            session: SESSION_LIMIT,
            ..driver::TimeLimits::default()
        },
        ..driver::Options::default()
    };
    // The driver's lines for the operator (a message that could not be
    // spooled) go where smtp-send's other reports go.
    let notices = Arc::clone(&relay.notices);
    let log = move |level: driver::Level, text: std::fmt::Arguments<'_>| match level {
        driver::Level::Info => notices.say(&text),
        driver::Level::Warning => notices.warn(&text),
    };
    driver::relay_stdio(input, output, config, &mut relay, &opts, &log);
    let n = relay.relayed();
    relay.quit();
    n
}

/// The `-bs` mode of `smtp-send` (`send::run`'s hook): serves `input`
/// and `output` (stdin and stdout), relaying along `route` (the relay, or
/// `--mx`), each message prepared with `popts` ([`Relay::new`]). Exit
/// code 0: each message's outcome went to the client.
pub fn run(
    route: Deliverer,
    popts: PrepareOptions,
    queue: Option<&Path>,
    input: impl Read,
    output: impl Write,
    notices: &notice::Shared,
) -> u8 {
    let hostname = driver::default_hostname();
    let relay = Relay::new(route, &hostname, popts, Arc::clone(notices)).with_queue(queue);
    serve(input, output, relay, &hostname);
    crate::exit::OK
}

#[cfg(test)]
mod tests;
