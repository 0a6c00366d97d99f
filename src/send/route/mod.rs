//! The delivery route: one place that owns the relay session. A
//! [`Deliverer`] sends message after message along a [`Route`] (one relay,
//! or each domain's MX hosts), reconnecting and retrying as RFC 5321
//! §4.1.1.4 allows; [`send_each`] is `--each`'s loop over it.

use std::fmt;

use crate::exit;
use crate::exit::Status as _;
use crate::send::error::Error;
use crate::send::log::Log;
use crate::send::mx;
use crate::send::outcome::{self, RcptResult};
use crate::send::prepare::Prepared;
use crate::send::session::{Connection, Session, SessionOptions, Target};
use crate::send::url::Transport;
use crate::smtp::client;
use crate::smtp::envelope::Mailbox;

// The delivery route: one place that owns the relay session

/// Opens a relay session (connects, EHLO, STARTTLS, AUTH).
pub type Opener<C> = Box<dyn FnMut() -> Result<Session<C>, Error>>;

/// Where messages go.
#[derive(Debug)]
pub enum Route {
    /// Every message to one server (`-S`, `--pipe`, the account,
    /// `SMTP_SERVER`).
    Relay(Box<SessionOptions>),
    /// Each recipient domain's own mail hosts (`--mx`): the session
    /// options (TLS trust, EHLO name, timeouts) and the MX options. The
    /// resolver is made when the first message is delivered.
    Mx(Box<(SessionOptions, mx::MxOptions)>),
}

enum Way<C: Connection> {
    Relay(Opener<C>),
    /// `--mx`, with the resolver once made ([`Deliverer::ready`]): a
    /// message that cannot be sent, or an empty `--flush`, never starts a
    /// DNS runtime nor reads `/etc/resolv.conf`.
    Mx(Box<(SessionOptions, mx::MxOptions, Option<mx::Dns>)>),
    /// No route could be set up (`--flush` with no server configured): the
    /// reason, given when a message is due ([`Deliverer::ready`]).
    Unset(Error),
}

/// Delivers messages one after the other along a [`Route`]: the relay
/// session is opened when first needed, kept for the next message, replaced
/// when it becomes unusable, and a reused one that fails before the relay
/// can have taken the message (lost, or 421, before the end of DATA: RFC
/// 5321 §4.1.1.4) is replaced once and the message sent again. After a
/// failure to connect the later messages are not tried (they get
/// [`Error::NotSent`] with that failure's exit code) unless
/// [`Deliverer::retry_unreachable`]. With `--mx` each message goes through
/// [`mx::deliver`] (one session per domain).
pub struct Deliverer<C: Connection = Transport> {
    way: Way<C>,
    session: Option<Session<C>>,
    unreachable: Option<(String, u8)>,
    sticky: bool,
    progress: bool,
    server: String,
    /// `--log`: every attempt is written there ([`Deliverer::deliver`]).
    log: Log,
}

impl<C: Connection> fmt::Debug for Deliverer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deliverer")
            .field("server", &self.server)
            .field("open", &self.session.is_some())
            .finish()
    }
}

impl Deliverer<Transport> {
    /// A deliverer along `route`; `progress` shows a progress bar on
    /// stderr for large messages sent to a relay.
    pub fn new(route: Route, progress: bool) -> Deliverer {
        match route {
            Route::Relay(sopts) => {
                let server = sopts.target.to_string();
                Deliverer::relay(Box::new(move || Session::open(&sopts)), &server, progress)
            }
            Route::Mx(mx) => Deliverer {
                way: Way::Mx(Box::new((mx.0, mx.1, None))),
                session: None,
                unreachable: None,
                sticky: true,
                progress,
                server: Target::Mx.to_string(),
                log: Log::none(),
            },
        }
    }
}

impl<C: Connection> Deliverer<C> {
    /// A deliverer to the relay whose sessions `open` opens (`server`
    /// names it in results made from an error).
    pub fn relay(open: Opener<C>, server: &str, progress: bool) -> Deliverer<C> {
        Deliverer {
            way: Way::Relay(open),
            session: None,
            unreachable: None,
            sticky: true,
            progress,
            server: server.to_owned(),
            log: Log::none(),
        }
    }

    /// A deliverer whose route could not be set up (why: `err`), for a
    /// `--flush` that may have nothing to send: [`Deliverer::ready`] and
    /// [`Deliverer::deliver`] return `err`.
    pub fn unset(err: Error) -> Deliverer<C> {
        Deliverer {
            way: Way::Unset(err),
            session: None,
            unreachable: None,
            sticky: true,
            progress: false,
            server: "-".to_owned(),
            log: Log::none(),
        }
    }

    /// Sets up what the route needs before its first message (the `--mx`
    /// resolver), once; or the error that keeps this route from sending
    /// anything (a configuration error, not the message's fault: a
    /// `--flush` stops at it and leaves the queue as it is).
    pub fn ready(&mut self) -> Result<(), Error> {
        match &mut self.way {
            Way::Relay(_) => Ok(()),
            Way::Mx(r) => {
                let (sopts, mxo, dns) = &mut **r;
                if dns.is_none() {
                    let timeout = mx::DNS_TIMEOUT.min(sopts.connect_timeout);
                    *dns = Some(mx::Dns::new(mxo.dns, timeout)?);
                }
                Ok(())
            }
            Way::Unset(err) => Err(err.again()),
        }
    }

    /// Tries to connect again for every message, even after a failure
    /// (`-bs`: a long session whose relay may come back).
    pub fn retry_unreachable(mut self) -> Self {
        self.sticky = false;
        self
    }

    /// Writes every attempt to `log` (`--log`).
    pub fn with_log(mut self, log: Log) -> Self {
        self.log = log;
        self
    }

    /// The run's log, for the line of each message's fate
    /// ([`Log::settled`]).
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The relay as shown in results (`--mx` for MX delivery).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Delivers `msg`: the result per recipient, or the error that kept it
    /// from everyone ([`Session::send`]). `--mx` gives results only. The
    /// attempt is logged ([`Log::attempt`], under its Message-ID).
    pub fn deliver(&mut self, msg: &mut Prepared) -> Result<Vec<RcptResult>, Error> {
        self.deliver_logged(msg, None)
    }

    /// [`Deliverer::deliver`] for the message queued as `id` (the id the
    /// log names it by).
    pub fn deliver_queued(
        &mut self,
        msg: &mut Prepared,
        id: &str,
    ) -> Result<Vec<RcptResult>, Error> {
        self.deliver_logged(msg, Some(id))
    }

    fn deliver_logged(
        &mut self,
        msg: &mut Prepared,
        queue_id: Option<&str>,
    ) -> Result<Vec<RcptResult>, Error> {
        let sent = self.attempt(msg);
        self.log.attempt(msg, queue_id, &sent, &self.server);
        sent
    }

    fn attempt(&mut self, msg: &mut Prepared) -> Result<Vec<RcptResult>, Error> {
        self.ready()?;
        if let Way::Mx(r) = &self.way
            && let (sopts, mxo, Some(dns)) = &**r
        {
            return Ok(mx::deliver(msg, sopts, mxo, dns, self.progress, &mut |w| {
                sopts.notices.warn(&w)
            }));
        }
        if let Some((why, code)) = &self.unreachable {
            return Err(Error::NotSent(why.clone(), *code));
        }
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
            None => {
                let Way::Relay(open) = &mut self.way else {
                    unreachable!("MX delivery opens no relay session");
                };
                match open() {
                    Ok(s) => self.session.insert(s),
                    Err(e) => {
                        if self.sticky {
                            self.unreachable = Some((e.to_string(), e.exit_code()));
                        }
                        return Err(e);
                    }
                }
            }
        };
        let res = s.send(msg, self.progress);
        if !s.is_usable()
            && let Some(s) = self.session.take()
        {
            // The next message reconnects.
            s.abort();
        }
        res
    }

    /// Ends the relay session, if one is open, with QUIT (a failing QUIT
    /// does not undo what was delivered).
    pub fn finish(mut self) {
        if let Some(s) = self.session.take() {
            let _ = s.quit();
        }
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
        client::ErrorKind::Io(_) => true,
        client::ErrorKind::Reply(r) => r.code == 421,
        _ => false,
    };
    early && lost
}

/// The exit code of a message's results, with the one-line
/// [`outcome::summary`] as the error when some recipients lack the message.
pub(crate) fn refusals(results: &[RcptResult]) -> Result<u8, Error> {
    match outcome::summary(results) {
        Some(why) => Err(Error::Refused(why, outcome::exit_code(results))),
        None => Ok(exit::OK),
    }
}

/// What became of one message's recipients in [`send_each`]: the results,
/// or the envelope recipients and the error that stopped the attempt.
pub type EachOutcome<'a> = Result<&'a [RcptResult], (&'a [Mailbox], &'a Error)>;

/// `--each`: sends every message through `route` (one relay session,
/// see [`Deliverer`]). A refused message leaves the session usable (the
/// client resets the transaction). An error with one message is given to
/// `report` with its name and the others still go; if the server cannot
/// be reached, the messages after are not tried. Every message that got as
/// far as having recipients is also given to `results` (for `--json`).
/// Returns the worst exit code (0 when all were sent).
pub fn send_each<C: Connection>(
    messages: impl IntoIterator<Item = (String, Result<Prepared, Error>)>,
    route: &mut Deliverer<C>,
    results: &mut dyn FnMut(&str, EachOutcome<'_>),
    report: &mut dyn FnMut(&str, &Error),
) -> u8 {
    each_message(messages, report, |name, mut msg, fail| {
        let rcpts = msg.envelope.rcpts.clone();
        match route.deliver(&mut msg) {
            Ok(list) => {
                results(name, Ok(&list));
                let refused = refusals(&list);
                let exit = refused.as_ref().map_or_else(|e| e.exit_code(), |c| *c);
                route.log().settled(None, exit);
                if let Err(e) = refused {
                    fail(&e);
                }
            }
            Err(e) => {
                results(name, Err((&rcpts, &e)));
                route.log().settled(None, e.exit_code());
                fail(&e);
            }
        }
        exit::OK
    })
}

/// The loop of `--each` ([`send_each`], `queue::send_each`): `one` gets
/// every message that could be prepared, with its name and `fail`, which
/// gives an error to `report` and counts its exit code; a message that
/// could not be prepared goes to `report` at once. `one` returns an exit
/// code to count without a report (0 for none). Returns the worst exit
/// code.
pub fn each_message(
    messages: impl IntoIterator<Item = (String, Result<Prepared, Error>)>,
    report: &mut dyn FnMut(&str, &Error),
    mut one: impl FnMut(&str, Prepared, &mut dyn FnMut(&Error)) -> u8,
) -> u8 {
    let mut worst = exit::OK;
    for (name, msg) in messages {
        let mut failed = exit::OK;
        let mut fail = |e: &Error| {
            report(&name, e);
            failed = failed.max(e.exit_code());
        };
        let code = match msg {
            Ok(m) => one(&name, m, &mut fail),
            Err(e) => {
                fail(&e);
                exit::OK
            }
        };
        worst = worst.max(code).max(failed);
    }
    worst
}

#[cfg(test)]
mod tests;
