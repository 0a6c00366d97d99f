//! The receiving SMTP session (RFC 5321 §4), a state machine with no I/O.
//!
//! A driver ([`driver`]) reads lines and message data from the client
//! and feeds them to a [`Session`]; each call returns a [`Step`]: an
//! [`Action`] (a reply to send, data to read, TLS to start, a connection to
//! close) and an optional injected delay. Because the session never reads,
//! its replies cannot depend on read timing: a pipelined group (RFC 2920)
//! gets exactly the replies the same lines sent one by one would get.
//!
//! # Commands
//!
//! Each command is first checked against the state (wrong order: `503
//! 5.5.1`), then parsed ([`super::command`]: unknown `500`, syntax `501`,
//! paths `501`/`553`), then checked against the extensions and limits
//! (unknown or hidden ESMTP parameters `555 5.5.4`, SIZE too big `552 5.3.4`,
//! too many recipients `452 4.5.3`), and only then changes state (the
//! OpenSMTPD check/proceed split). In order:
//!
//! | command | reply |
//! |---|---|
//! | HELO | `250 host` (plain SMTP: no ESMTP parameters afterwards) |
//! | EHLO | `250-host`, then the extensions below (RFC 5321 §4.1.1.1) |
//! | MAIL | `250 2.1.0 Ok`; needs HELO/EHLO, no transaction open |
//! | RCPT | `250 2.1.5 Ok`; needs MAIL; the max_rcpts+1-th gets `452 4.5.3` (RFC 5321 §4.5.3.1.10) |
//! | DATA | `354`; needs a recipient (`503`, or `554 5.5.1 no valid recipients` when every RCPT was refused) |
//! | BDAT | `250 2.0.0` per chunk (RFC 3030); not after DATA in a transaction, nor DATA after it |
//! | RSET, NOOP | `250 2.0.0 Ok` |
//! | QUIT | `221 2.0.0 Bye`, close |
//! | VRFY | `252 2.0.0` (RFC 5321 §3.5.3) |
//! | EXPN | `502 5.5.1` (RFC 5321 §3.5.2 allows not implementing it) |
//! | HELP | `214 2.0.0` |
//! | TURN, SEND, SOML, SAML | `502 5.5.1` |
//! | STARTTLS | `220 2.0.0`; then all state is forgotten (RFC 3207 §4.2) |
//! | AUTH | RFC 4954; see below |
//!
//! EHLO advertises, each unless hidden in [`Extensions`]: PIPELINING,
//! `SIZE n`, STARTTLS (when TLS is available and not yet on), `AUTH PLAIN
//! LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER` (when a verifier is configured, and
//! only under TLS unless `auth_insecure`: RFC 4954 §4 and RFC 3207 §6 forbid
//! plaintext passwords, and so bearer tokens, in the clear; AUTH before TLS
//! gets `530 5.7.0 Must issue a STARTTLS command first`),
//! ENHANCEDSTATUSCODES, 8BITMIME, DSN, SMTPUTF8, CHUNKING.
//! BINARYMIME is not offered (the bare-newline policy applies to BDAT too),
//! so `BODY=BINARYMIME` gets `555`.
//!
//! Enhanced status codes (RFC 3463) are on every reply when the extension is
//! on — after HELO too, as Postfix does — except where RFC 2034 §3 and
//! RFC 3463 §3.1 rule them out: the 220 greeting, the HELO and EHLO
//! replies, and 3xx (354, 334). With the extension hidden, none is sent.
//! A driver writes replies with `reply.to_wire(true)`.
//!
//! ESMTP parameters are accepted and recorded in the [`Envelope`] when their
//! extension is advertised: SIZE (RFC 1870), BODY=7BIT/8BITMIME (RFC 6152),
//! SMTPUTF8 (RFC 6531), RET/ENVID on MAIL and NOTIFY/ORCPT on RCPT (RFC
//! 3461), AUTH= on MAIL (RFC 4954 §5). Any other, or any after HELO: `555`.
//! A non-ASCII path needs the SMTPUTF8 parameter on MAIL: else `553 5.6.7`
//! (RFC 6531 §3.7.4.1).
//!
//! # AUTH
//!
//! Only after EHLO, once per session (`503` after success), not inside a
//! transaction (RFC 4954 §4). An unknown mechanism gets `504 5.5.4`. The
//! exchange itself is [`auth::Exchange`]; while it runs, [`Session::line`]
//! passes lines to it (for XOAUTH2 and OAUTHBEARER, a refused token's error
//! challenge and the client's answer to it, RFC 7628 §3.2.2, before the
//! 535). Nothing of it is logged or kept but the user name.
//!
//! # Data
//!
//! After [`Action::Data`] the driver reads the message ([`dot::read_data`])
//! and calls [`Session::data_end`]; for BDAT, [`Session::bdat_end`] after each
//! chunk. A complete message makes the driver store it and report with
//! [`Session::committed`]: `250 2.0.0 Ok: queued as ID`, `451 4.3.0` (storage
//! failed, temporary), `554 5.3.0` (permanent), or `421 4.3.0` and close
//! when the one-shot count was reached elsewhere. A message that broke a
//! limit is refused after its end: `552 5.3.4` too big, `550 5.5.2` bare CR
//! or LF (as Postfix's `smtpd_forbid_bare_newline = reject`), `500 5.5.2`
//! line too long (RFC 5321 §4.5.3.1.10's example). Either way the
//! transaction ends (envelope cleared, HELO kept).
//!
//! A refused BDAT chunk must still be read and thrown away, since the client
//! sends it right after the command (RFC 3030 §2): [`Action::BdatSkip`].
//! After a chunk failed, further chunks of the transaction are skipped with
//! `503 5.5.1` until RSET (or until a LAST chunk ends the transaction).
//!
//! # Errors and limits
//!
//! Client errors (500, 501, 503, 504, 530, 535, 553, 554 no recipients,
//! 555; not 452, 552, storage failures or injected replies) are counted;
//! the `max_errors`-th is answered `421 4.7.0` and the session closes
//! (Postfix `smtpd_hard_error_limit`; 0 disables the limit). Memory is
//! bounded: recipients by `max_rcpts`, parameters by
//! [`envelope::MAX_PARAMS`], lines by the parser's limits.
//!
//! # Failure injection
//!
//! [`Injection`]s (from `--reply`, `--reply-once`, `--disconnect`,
//! `--delay`; see [`parse_injection`]) act at a [`Stage`] once the command
//! itself was found valid, i.e. where the normal success reply would go: a
//! 4xx/5xx reply refuses (no state change; a 421 also closes), a positive
//! reply replaces the normal text and the command proceeds, a disconnect
//! closes without a word, a delay is returned in [`Step::delay`] for the
//! driver to wait before it sends the reply. The first matching injection of
//! each kind (reply/disconnect, delay) wins, in command-line order.
//!
//! Injection counters (`--reply-once`, `N:` prefixes) live in the
//! [`Injection`], hence in the [`Config`] every session shares through its
//! `Arc`: a client that retries in a new connection sees the next attempt.
//!
//! # Queue ids
//!
//! Each MAIL starts a transaction with a new id ([`Session::queue_id`]),
//! unique within the process and across processes: base 36 of the time in
//! seconds (7 digits) and microseconds (4), the process id (5) and a
//! process-wide counter. No envelope data goes into it. It stays readable
//! after the transaction, until the next MAIL.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::auth::{self, AuthStep, Exchange, Mechanism};
use super::command::{self, Command, CommandError};
use super::dot::{self, DataEnd, DataOutcome};
pub use super::envelope::ClientAddr;
use super::envelope::{self, Envelope, Params, ReversePath};
use super::reply::Reply;
use super::stage::Stage;
use crate::limits;

pub mod driver;
mod inject;
pub use inject::{InjectAction, Injection, parse_injection};

/// What a server offers; shared by all sessions (through an `Arc`).
#[derive(Debug)]
pub struct Config {
    /// Our host name: greeting, EHLO, CRAM-MD5 challenge, 421 replies.
    pub hostname: String,
    /// Largest message in octets (advertised as SIZE, RFC 1870).
    pub max_size: u64,
    /// Recipients per transaction (RFC 5321 §4.5.3.1.8: at least 100).
    pub max_rcpts: usize,
    /// Errors per session before 421 and close; 0: no limit.
    pub max_errors: u32,
    /// Longest message text line, CRLF included (RFC 5321 §4.5.3.1.6).
    pub max_line: usize,
    /// Which extensions EHLO advertises.
    pub ext: Extensions,
    /// Credentials for AUTH; `None`: AUTH is not offered.
    pub auth: Option<auth::Verifier>,
    /// Offer AUTH before TLS too (testing only: passwords in the clear).
    pub auth_insecure: bool,
    /// STARTTLS can be offered (a TLS configuration exists).
    pub tls_available: bool,
    /// Connections start in TLS (SMTPS, RFC 8314 §3.3).
    pub implicit_tls: bool,
    /// Bare CR/LF policy in message data.
    pub bare: dot::BareNewline,
    /// Failure injections, in command-line order.
    pub inject: Vec<Injection>,
}

impl Config {
    /// The defaults of [`crate::limits`], every extension on, no TLS, no
    /// AUTH, no injections.
    pub fn new(hostname: impl Into<String>) -> Config {
        Config {
            hostname: hostname.into(),
            max_size: limits::SMTP_MAX_MESSAGE_SIZE,
            max_rcpts: limits::SMTP_MAX_RCPTS,
            max_errors: limits::SMTP_MAX_ERRORS,
            max_line: limits::SMTP_MAX_TEXT_LINE,
            ext: Extensions::default(),
            auth: None,
            auth_insecure: false,
            tls_available: false,
            implicit_tls: false,
            bare: dot::BareNewline::Reject,
            inject: Vec::new(),
        }
    }

    /// A warning about a configuration that cannot do what it was asked:
    /// AUTH configured but never offered, since there is no TLS and no
    /// `auth_insecure` (RFC 4954 §4: no passwords in the clear).
    pub fn warning(&self) -> Option<&'static str> {
        (self.auth.is_some() && !self.tls_available && !self.auth_insecure).then_some(
            "AUTH will never be offered: it needs TLS (--tls-cert and --tls-key, or \
             --tls-self-signed) or --auth-insecure",
        )
    }

    /// The options for [`dot::read_data`] and [`dot::Bdat`] that go with
    /// this configuration; `lf_out` is the store's choice.
    pub fn data_options(&self, lf_out: bool) -> dot::DataOptions {
        dot::DataOptions {
            max_size: self.max_size,
            max_line: self.max_line,
            bare: self.bare,
            lf_out,
        }
    }
}

/// The ESMTP extensions EHLO may advertise; each `false` hides one (and
/// refuses its parameters) so clients' fallbacks can be tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extensions {
    /// PIPELINING (RFC 2920). Hiding it only hides the keyword: replies do
    /// not depend on read timing either way.
    pub pipelining: bool,
    /// SIZE (RFC 1870).
    pub size: bool,
    /// 8BITMIME (RFC 6152).
    pub eightbitmime: bool,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// ENHANCEDSTATUSCODES (RFC 2034): off also removes the codes.
    pub enhanced: bool,
    /// DSN (RFC 3461).
    pub dsn: bool,
    /// CHUNKING (RFC 3030): BDAT.
    pub chunking: bool,
}

impl Default for Extensions {
    /// All on.
    fn default() -> Extensions {
        Extensions {
            pipelining: true,
            size: true,
            eightbitmime: true,
            smtputf8: true,
            enhanced: true,
            dsn: true,
            chunking: true,
        }
    }
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send the reply; read the next command line.
    Reply(Reply),
    /// Send the reply (unless [`Reply::none`]), then close the connection.
    Close(Reply),
    /// Close without a word (injected).
    Disconnect,
    /// Send the 220, do the TLS handshake, call [`Session::tls_started`].
    StartTls(Reply),
    /// Send the 354, read the message with [`dot::read_data`] (into the
    /// store), then call [`Session::data_end`].
    Data(Reply),
    /// Read a `size`-octet chunk with [`dot::Bdat::read_chunk`], then call
    /// [`Session::bdat_end`]. `first`: the first chunk of a transaction, so
    /// any chunk state or pending message from an earlier transaction
    /// (aborted by RSET, HELO/EHLO or STARTTLS) must be dropped and a new one
    /// begun.
    Bdat {
        /// Chunk size in octets.
        size: u64,
        /// BDAT LAST.
        last: bool,
        /// First chunk of the transaction.
        first: bool,
    },
    /// Read and discard a `size`-octet chunk (a refused BDAT: the client
    /// sends the chunk anyway, RFC 3030 §2), then send the reply.
    BdatSkip {
        /// Chunk size in octets.
        size: u64,
        /// Sent after the chunk was read.
        reply: Reply,
    },
    /// Send the 334; the next line is an AUTH response (see [`Session::line`]).
    AuthContinue(Reply),
}

impl Action {
    /// The reply this action sends, if any.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Action::Reply(r)
            | Action::Close(r)
            | Action::StartTls(r)
            | Action::Data(r)
            | Action::AuthContinue(r)
            | Action::BdatSkip { reply: r, .. } => Some(r).filter(|r| !r.is_none()),
            Action::Disconnect | Action::Bdat { .. } => None,
        }
    }
}

/// One step of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Injected delay: wait this long before carrying out `action`.
    pub delay: Option<Duration>,
    /// What to do.
    pub action: Action,
}

impl Step {
    fn now(action: Action) -> Step {
        Step {
            delay: None,
            action,
        }
    }

    fn reply(reply: Reply) -> Step {
        Step::now(Action::Reply(reply))
    }
}

/// How storing a complete message went (the driver reports it with
/// [`Session::committed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commit {
    /// Durably stored.
    Stored(Stored),
    /// Storage failed; nothing was kept.
    Failed(StoreError),
    /// Not stored because the server already took its COUNT messages.
    Refused,
}

/// Which greeting the client used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Greeted {
    No,
    Helo,
    Ehlo,
}

/// Message transfer state of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// No DATA or BDAT yet.
    None,
    /// DATA accepted, waiting for [`Session::data_end`].
    Data,
    /// BDAT chunks so far (octets as announced).
    Bdat { seen: u64 },
    /// A chunk failed: the rest is skipped until RSET.
    BdatFailed,
}

/// A transaction (from MAIL to the end of the message or RSET).
#[derive(Debug)]
struct Tx {
    smtputf8: bool,
    /// RCPT commands tried, accepted or not (for 554 "no valid recipients").
    rcpt_attempts: u32,
    body: Body,
    /// The BDAT chunk being read: (size, last).
    chunk: Option<(u64, bool)>,
}

/// What the dot stage decided for a message about to be stored.
#[derive(Debug, Default)]
struct DotDecision {
    reply: Option<Reply>,
    delay: Option<Duration>,
}

/// Result of an injection check where the normal reply would go.
enum Injected {
    Proceed {
        delay: Option<Duration>,
        reply: Option<Reply>,
    },
    Stop(Step),
}

/// One SMTP server session (one connection).
#[derive(Debug)]
pub struct Session {
    config: Arc<Config>,
    env: Envelope,
    greeted: Greeted,
    tx: Option<Tx>,
    auth: Option<Exchange>,
    errors: u32,
    queue_id: String,
    /// The greeting was an injected refusal: only QUIT is served (RFC 5321
    /// §3.1: "503 bad sequence of commands" to anything else).
    refused: bool,
    closed: bool,
    dot: Option<DotDecision>,
}

impl Session {
    /// A new session; `tls` when the connection is already under TLS
    /// (implicit TLS).
    pub fn new(config: Arc<Config>, client: ClientAddr, tls: bool) -> Session {
        let mut env = Envelope::new(client);
        env.tls = tls;
        let mut s = Session {
            config,
            env,
            greeted: Greeted::No,
            tx: None,
            auth: None,
            errors: 0,
            queue_id: String::new(),
            refused: false,
            closed: false,
            dot: None,
        };
        s.update_protocol();
        s
    }

    /// The 220 greeting (RFC 5321 §4.2, §3.1), or the injected connect
    /// reply.
    pub fn greeting(&mut self) -> Step {
        let normal = Reply::new(
            220,
            None,
            format!("{} ESMTP mailpipe", self.config.hostname),
        );
        let step = match self.inject(Stage::Connect, None) {
            Injected::Proceed { delay, reply } => Step {
                delay,
                action: Action::Reply(reply.unwrap_or(normal)),
            },
            Injected::Stop(step) => {
                if matches!(step.action, Action::Reply(_)) {
                    self.refused = true;
                }
                step
            }
        };
        self.finish(step)
    }

    /// One line from the client, without its CRLF: a command, or an AUTH
    /// response while an exchange runs. Lines longer than
    /// [`command::MAX_LINE`] go to [`Session::line_too_long`] instead.
    pub fn line(&mut self, line: &[u8]) -> Step {
        if self.closed {
            return Step::now(Action::Disconnect);
        }
        let step = match self.auth.take() {
            Some(ex) => self.auth_response(ex, line),
            None => self.command(line),
        };
        self.finish(step)
    }

    /// The client sent a line longer than the driver reads (the rest of it
    /// was discarded): `500 5.5.2`, or during AUTH `500 5.5.6` (RFC 4954 §4).
    pub fn line_too_long(&mut self) -> Step {
        if self.closed {
            return Step::now(Action::Disconnect);
        }
        let step = if self.auth.take().is_some() {
            self.fail(Reply::new(
                500,
                Some((5, 5, 6)),
                "Authentication Exchange line is too long",
            ))
        } else {
            self.fail(CommandError::TooLong.reply())
        };
        self.finish(step)
    }

    /// The client was idle too long: `421 4.4.2`, close.
    pub fn timeout(&mut self) -> Step {
        let r = Reply::new(
            421,
            Some((4, 4, 2)),
            format!("{} Error: timeout exceeded", self.config.hostname),
        );
        self.finish(Step::now(Action::Close(r)))
    }

    /// The server is stopping (COUNT reached elsewhere, or a signal):
    /// `421 4.3.0`, close.
    pub fn shutdown(&mut self) -> Step {
        let r = Reply::new(
            421,
            Some((4, 3, 0)),
            format!(
                "{} Service shutting down, closing transmission channel",
                self.config.hostname
            ),
        );
        self.finish(Step::now(Action::Close(r)))
    }

    /// The TLS handshake after STARTTLS succeeded: forget everything the
    /// client said before (HELO, transaction, AUTH), RFC 3207 §4.2.
    pub fn tls_started(&mut self) {
        self.env.tls = true;
        self.env.helo.clear();
        self.env.auth_user = None;
        self.greeted = Greeted::No;
        self.auth = None;
        self.reset_tx();
    }

    /// The envelope so far (the transaction's, until it ends).
    pub fn envelope(&self) -> &Envelope {
        &self.env
    }

    /// Whether a mail transaction is open: MAIL accepted, not yet ended by
    /// the end of data, RSET, EHLO or a failure (RFC 5321 §3.3).
    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    /// The current transaction's queue id (kept until the next MAIL; empty
    /// before the first).
    pub fn queue_id(&self) -> &str {
        &self.queue_id
    }

    /// Whether the session has ended (a Close or Disconnect was returned).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether the next line is an AUTH response.
    #[cfg(test)]
    fn in_auth(&self) -> bool {
        self.auth.is_some()
    }

    /// After [`dot::read_data`]: `Ok(())` when the message is complete and
    /// may be stored (the driver commits it, then calls
    /// [`Session::committed`]); `Err(step)` when it is refused (the driver
    /// aborts the pending message and carries out the step). Either way the
    /// transaction is over.
    pub fn data_end(&mut self, end: &DataEnd) -> Result<(), Step> {
        if self.closed {
            return Err(Step::now(Action::Disconnect));
        }
        if !matches!(self.tx.as_ref().map(|t| t.body), Some(Body::Data)) {
            return Err(self.finish(Step::reply(no_transfer())));
        }
        let r = self.message_end(end.outcome);
        r.map_err(|s| self.finish(s))
    }

    /// After each [`dot::Bdat::read_chunk`]: `Ok(Some(step))` for a
    /// non-last chunk that went well (250), `Ok(None)` for a complete
    /// message after the LAST chunk (the driver commits it, then calls
    /// [`Session::committed`]), `Err(step)` for a refused chunk (the driver
    /// aborts the pending message). `last` repeats the command's flag.
    pub fn bdat_end(&mut self, end: &DataEnd, last: bool) -> Result<Option<Step>, Step> {
        if self.closed {
            return Err(Step::now(Action::Disconnect));
        }
        let chunk = self.tx.as_mut().and_then(|t| t.chunk.take());
        let Some((size, cmd_last)) = chunk else {
            return Err(self.finish(Step::reply(no_transfer())));
        };
        debug_assert_eq!(last, cmd_last, "bdat_end: last differs from the command");
        let Some(tx) = self.tx.as_mut() else {
            return Err(self.finish(Step::reply(no_transfer())));
        };
        if let Body::Bdat { seen } = &mut tx.body {
            *seen = seen.saturating_add(size);
        }
        if end.outcome == DataOutcome::Complete && !cmd_last {
            let r = Reply::new(250, Some((2, 0, 0)), format!("Ok: {size} octets received"));
            return Ok(Some(self.finish(Step::reply(r))));
        }
        if end.outcome != DataOutcome::Complete && !cmd_last {
            tx.body = Body::BdatFailed;
            return Err(self.finish(Step::reply(outcome_reply(end.outcome))));
        }
        self.message_end(end.outcome)
            .map(|()| None)
            .map_err(|s| self.finish(s))
    }

    /// After storing (or failing to store) the message that
    /// [`Session::data_end`] / [`Session::bdat_end`] let through. `size` is
    /// the message size (for the caller's records; not in the reply).
    pub fn committed(&mut self, result: Commit, size: u64) -> Step {
        let _ = size;
        let decision = self.dot.take().unwrap_or_default();
        self.reset_tx();
        let step = match result {
            Commit::Stored(_) => {
                let normal = Reply::new(
                    250,
                    Some((2, 0, 0)),
                    format!("Ok: queued as {}", self.queue_id),
                );
                Step {
                    delay: decision.delay,
                    action: Action::Reply(decision.reply.unwrap_or(normal)),
                }
            }
            // The reason (server paths, errno text, a command's status) is
            // for our log (the driver reports it), not for the client.
            Commit::Failed(e) if e.temporary => Step::reply(Reply::new(
                451,
                Some((4, 3, 0)),
                "Error: local storage failure, try again later",
            )),
            Commit::Failed(_) => Step::reply(Reply::new(
                554,
                Some((5, 3, 0)),
                "Error: message not stored",
            )),
            Commit::Refused => Step::now(Action::Close(Reply::new(
                421,
                Some((4, 3, 0)),
                format!(
                    "{} Error: no more messages accepted, closing",
                    self.config.hostname
                ),
            ))),
        };
        self.finish(step)
    }

    // ---- internals -------------------------------------------------------

    /// Common exit: strips enhanced codes when the extension is hidden and
    /// marks the session closed after Close/Disconnect.
    fn finish(&mut self, mut step: Step) -> Step {
        if !self.config.ext.enhanced {
            match &mut step.action {
                Action::Reply(r)
                | Action::Close(r)
                | Action::StartTls(r)
                | Action::Data(r)
                | Action::AuthContinue(r)
                | Action::BdatSkip { reply: r, .. } => r.enhanced = None,
                Action::Disconnect | Action::Bdat { .. } => {}
            }
        }
        if matches!(step.action, Action::Close(_) | Action::Disconnect) {
            self.closed = true;
            self.auth = None;
        }
        step
    }

    /// A counted client error: the reply, or 421 and close at the limit.
    fn fail(&mut self, reply: Reply) -> Step {
        self.errors = self.errors.saturating_add(1);
        if self.config.max_errors != 0 && self.errors >= self.config.max_errors {
            return Step::now(Action::Close(Reply::new(
                421,
                Some((4, 7, 0)),
                format!("{} Error: too many errors", self.config.hostname),
            )));
        }
        Step::reply(reply)
    }

    fn reset_tx(&mut self) {
        self.tx = None;
        self.dot = None;
        self.env.mail_from = ReversePath::Null;
        self.env.mail_params = Params::default();
        self.env.rcpt_to.clear();
        self.update_protocol();
    }

    /// RFC 3848 / RFC 6531 §3.7.3 `with` protocol names.
    fn update_protocol(&mut self) {
        let utf8 = self.tx.as_ref().is_some_and(|t| t.smtputf8);
        let (tls, auth) = (self.env.tls, self.env.auth_user.is_some());
        self.env.protocol = match (self.greeted, utf8, tls, auth) {
            (Greeted::No | Greeted::Helo, ..) => "SMTP",
            (Greeted::Ehlo, false, false, false) => "ESMTP",
            (Greeted::Ehlo, false, true, false) => "ESMTPS",
            (Greeted::Ehlo, false, false, true) => "ESMTPA",
            (Greeted::Ehlo, false, true, true) => "ESMTPSA",
            (Greeted::Ehlo, true, false, false) => "UTF8SMTP",
            (Greeted::Ehlo, true, true, false) => "UTF8SMTPS",
            (Greeted::Ehlo, true, false, true) => "UTF8SMTPA",
            (Greeted::Ehlo, true, true, true) => "UTF8SMTPSA",
        };
    }
    /// The first matching injections at `stage` ([`inject::decide`]).
    fn inject(&self, stage: Stage, addr: Option<&str>) -> Injected {
        let inject::Decision { delay, act } =
            inject::decide(&self.config.inject, stage, addr, &self.config.hostname);
        let action = match act {
            inject::Act::Proceed(reply) => return Injected::Proceed { delay, reply },
            inject::Act::Disconnect => Action::Disconnect,
            inject::Act::Close(r) => Action::Close(r),
            inject::Act::Refuse(r) => Action::Reply(r),
        };
        Injected::Stop(Step { delay, action })
    }

    /// The end of a message (DATA or the LAST chunk): refusal for a broken
    /// message, else the dot-stage injections.
    fn message_end(&mut self, outcome: DataOutcome) -> Result<(), Step> {
        if outcome != DataOutcome::Complete {
            self.reset_tx();
            return Err(Step::reply(outcome_reply(outcome)));
        }
        match self.inject(Stage::Dot, None) {
            Injected::Proceed { delay, reply } => {
                self.dot = Some(DotDecision { reply, delay });
                Ok(())
            }
            Injected::Stop(step) => {
                self.reset_tx();
                Err(step)
            }
        }
    }

    fn auth_response(&mut self, mut ex: Exchange, line: &[u8]) -> Step {
        let step = match &self.config.auth {
            Some(v) => ex.step(line, v),
            None => AuthStep::Malformed,
        };
        self.auth_step(ex, step)
    }

    fn auth_step(&mut self, ex: Exchange, step: AuthStep) -> Step {
        match step {
            AuthStep::Challenge(text) => {
                self.auth = Some(ex);
                Step::now(Action::AuthContinue(Reply::new(334, None, text)))
            }
            AuthStep::Success(user) => {
                self.env.auth_user = Some(user);
                self.update_protocol();
                Step::reply(Reply::new(
                    235,
                    Some((2, 7, 0)),
                    "Authentication successful",
                ))
            }
            AuthStep::Failure => self.fail(Reply::new(
                535,
                Some((5, 7, 8)),
                "Authentication credentials invalid",
            )),
            AuthStep::Cancelled => {
                Step::reply(Reply::new(501, Some((5, 0, 0)), "Authentication cancelled"))
            }
            AuthStep::Malformed => self.fail(Reply::new(
                501,
                Some((5, 5, 2)),
                "Error: invalid authentication data",
            )),
        }
    }

    /// Order checks that need only the verb (RFC 5321 §4.1.4, §3.3): run
    /// before the arguments are parsed, so a wrong-order command gets 503
    /// whatever its syntax.
    fn check_order(&mut self, verb: &[u8]) -> Result<(), Reply> {
        let seq = |text: &str| Reply::new(503, Some((5, 5, 1)), text.to_owned());
        if self.refused {
            return if verb == b"QUIT" {
                Ok(())
            } else {
                Err(seq("Error: service refused, send QUIT"))
            };
        }
        match verb {
            b"MAIL" => {
                if self.greeted == Greeted::No {
                    return Err(seq("Error: send HELO/EHLO first"));
                }
                if self.tx.is_some() {
                    return Err(seq("Error: nested MAIL command"));
                }
            }
            b"RCPT" => {
                let Some(tx) = self.tx.as_mut() else {
                    return Err(seq("Error: need MAIL command"));
                };
                tx.rcpt_attempts = tx.rcpt_attempts.saturating_add(1);
                if tx.body != Body::None {
                    return Err(seq("Error: RCPT after BDAT"));
                }
            }
            b"DATA" => {
                let Some(tx) = self.tx.as_ref() else {
                    return Err(seq("Error: need MAIL command"));
                };
                if tx.body != Body::None {
                    return Err(seq("Error: DATA after BDAT"));
                }
                if self.env.rcpt_to.is_empty() {
                    return Err(no_recipients(tx));
                }
            }
            b"STARTTLS" => {
                if !self.config.tls_available && !self.env.tls {
                    return Err(not_implemented());
                }
                if self.env.tls {
                    return Err(seq("Error: TLS already active"));
                }
            }
            b"AUTH" => {
                if self.config.auth.is_none() {
                    return Err(seq("Error: authentication not enabled"));
                }
                if self.greeted != Greeted::Ehlo {
                    return Err(seq("Error: send EHLO first"));
                }
                if !self.env.tls && !self.config.auth_insecure {
                    // RFC 3207 §4 / RFC 4954 §4.
                    return Err(Reply::new(
                        530,
                        Some((5, 7, 0)),
                        "Must issue a STARTTLS command first",
                    ));
                }
                if self.env.auth_user.is_some() {
                    return Err(seq("Error: already authenticated"));
                }
                if self.tx.is_some() {
                    return Err(seq("Error: MAIL transaction in progress"));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn command(&mut self, line: &[u8]) -> Step {
        // The verb exactly as the parser will see it (trailing CR and
        // whitespace removed): see bug_order_check_bypassed_by_trailing_cr.
        let mut verb = [0u8; 8];
        let word = command::verb(line);
        let verb = if word.len() <= verb.len() {
            verb[..word.len()].copy_from_slice(word);
            verb[..word.len()].make_ascii_uppercase();
            &verb[..word.len()]
        } else {
            &b""[..]
        };
        if let Err(r) = self.check_order(verb) {
            return self.fail(r);
        }
        let utf8 = if verb == b"RCPT" {
            self.tx.as_ref().is_some_and(|t| t.smtputf8)
        } else {
            self.config.ext.smtputf8 && self.greeted == Greeted::Ehlo
        };
        let cmd = match command::parse(line, utf8) {
            Ok(c) => c,
            Err(e) => return self.fail(e.reply()),
        };
        match cmd {
            Command::Helo(name) => self.helo(name, false),
            Command::Ehlo(name) => self.helo(name, true),
            Command::Mail { from, params } => self.mail(from, params),
            Command::Rcpt { to, params } => self.rcpt(to, params),
            Command::Data => self.data(),
            Command::Bdat { size, last } => self.bdat(size, last),
            Command::Rset => match self.inject(Stage::Rset, None) {
                Injected::Stop(step) => step,
                Injected::Proceed { delay, reply } => {
                    self.reset_tx();
                    Step {
                        delay,
                        action: Action::Reply(reply.unwrap_or_else(ok)),
                    }
                }
            },
            Command::Noop => Step::reply(ok()),
            Command::Quit => match self.inject(Stage::Quit, None) {
                Injected::Stop(step) => step,
                Injected::Proceed { delay, reply } => Step {
                    delay,
                    action: Action::Close(
                        reply.unwrap_or_else(|| Reply::new(221, Some((2, 0, 0)), "Bye")),
                    ),
                },
            },
            Command::Vrfy(_) => Step::reply(Reply::new(
                252,
                Some((2, 0, 0)),
                "Cannot VRFY user, but will accept message and attempt delivery",
            )),
            Command::Expn(_) | Command::NotImplemented(_) => Step::reply(not_implemented()),
            Command::Help => Step::reply(Reply::new(214, Some((2, 0, 0)), self.help())),
            Command::StartTls => Step::now(Action::StartTls(Reply::new(
                220,
                Some((2, 0, 0)),
                "Ready to start TLS",
            ))),
            Command::Auth { mechanism, initial } => self.auth_start(&mechanism, initial.as_deref()),
        }
    }

    /// Whether EHLO offers STARTTLS now.
    fn offers_starttls(&self) -> bool {
        self.config.tls_available && !self.env.tls
    }

    /// Whether EHLO offers AUTH now (RFC 4954 §4: after TLS, unless
    /// `auth_insecure`).
    fn offers_auth(&self) -> bool {
        self.config.auth.is_some() && (self.env.tls || self.config.auth_insecure)
    }

    /// The HELP text: the commands this session takes now, the optional
    /// ones (BDAT, STARTTLS, AUTH) only when offered.
    fn help(&self) -> String {
        let mut help = String::from("Commands: HELO EHLO MAIL RCPT DATA");
        if self.config.ext.chunking {
            help.push_str(" BDAT");
        }
        help.push_str(" RSET NOOP QUIT VRFY HELP");
        if self.offers_starttls() {
            help.push_str(" STARTTLS");
        }
        if self.offers_auth() {
            help.push_str(" AUTH");
        }
        help
    }

    fn helo(&mut self, name: String, ehlo: bool) -> Step {
        let (delay, custom) = match self.inject(Stage::Ehlo, None) {
            Injected::Stop(step) => return step,
            Injected::Proceed { delay, reply } => (delay, reply),
        };
        // RFC 5321 §4.1.4: HELO/EHLO later in a session resets like RSET.
        self.reset_tx();
        self.greeted = if ehlo { Greeted::Ehlo } else { Greeted::Helo };
        self.env.helo = name;
        self.update_protocol();
        let c = &self.config;
        let (code, first) = match custom {
            Some(r) => (r.code, r.lines.join(" ")),
            None => (250, c.hostname.clone()),
        };
        if !ehlo {
            return Step {
                delay,
                action: Action::Reply(Reply::new(code, None, first)),
            };
        }
        let mut lines = vec![first];
        let ext = c.ext;
        if ext.pipelining {
            lines.push("PIPELINING".into());
        }
        if ext.size {
            lines.push(format!("SIZE {}", c.max_size));
        }
        if self.offers_starttls() {
            lines.push("STARTTLS".into());
        }
        if self.offers_auth() {
            let names: Vec<&str> = Mechanism::ALL.iter().map(|m| m.name()).collect();
            lines.push(format!("AUTH {}", names.join(" ")));
        }
        if ext.enhanced {
            lines.push("ENHANCEDSTATUSCODES".into());
        }
        if ext.eightbitmime {
            lines.push("8BITMIME".into());
        }
        if ext.dsn {
            lines.push("DSN".into());
        }
        if ext.smtputf8 {
            lines.push("SMTPUTF8".into());
        }
        if ext.chunking {
            lines.push("CHUNKING".into());
        }
        Step {
            delay,
            action: Action::Reply(Reply::multi(code, None, lines)),
        }
    }

    fn mail(&mut self, from: ReversePath, params: Params) -> Step {
        // Defence in depth: check_order already refused these.
        if self.greeted == Greeted::No || self.tx.is_some() {
            return self.fail(Reply::new(
                503,
                Some((5, 5, 1)),
                "Error: bad sequence of commands",
            ));
        }
        if let Err(r) = self.check_mail_params(&params) {
            return if r.code == 552 {
                Step::reply(r)
            } else {
                self.fail(r)
            };
        }
        let addr = from.to_string();
        let (delay, custom) = match self.inject(Stage::Mail, Some(&addr)) {
            Injected::Stop(step) => return step,
            Injected::Proceed { delay, reply } => (delay, reply),
        };
        self.queue_id = new_queue_id();
        self.tx = Some(Tx {
            smtputf8: params.contains("SMTPUTF8"),
            rcpt_attempts: 0,
            body: Body::None,
            chunk: None,
        });
        self.env.mail_from = from;
        self.env.mail_params = params;
        self.env.rcpt_to.clear();
        self.update_protocol();
        Step {
            delay,
            action: Action::Reply(custom.unwrap_or_else(|| Reply::new(250, Some((2, 1, 0)), "Ok"))),
        }
    }

    fn rcpt(&mut self, to: envelope::Mailbox, params: Params) -> Step {
        if !self.tx.as_ref().is_some_and(|t| t.body == Body::None) {
            return self.fail(Reply::new(
                503,
                Some((5, 5, 1)),
                "Error: bad sequence of commands",
            ));
        }
        if self.env.rcpt_to.len() >= self.config.max_rcpts {
            // RFC 5321 §4.5.3.1.10: 452, not counted as an error (a
            // pipelining client learns the limit this way).
            return Step::reply(Reply::new(
                452,
                Some((4, 5, 3)),
                "Error: too many recipients",
            ));
        }
        if let Err(r) = self.check_rcpt_params(&params) {
            return self.fail(r);
        }
        let addr = to.to_string();
        let (delay, custom) = match self.inject(Stage::Rcpt, Some(&addr)) {
            Injected::Stop(step) => return step,
            Injected::Proceed { delay, reply } => (delay, reply),
        };
        self.env.rcpt_to.push((to, params));
        Step {
            delay,
            action: Action::Reply(custom.unwrap_or_else(|| Reply::new(250, Some((2, 1, 5)), "Ok"))),
        }
    }

    fn data(&mut self) -> Step {
        if self.env.rcpt_to.is_empty() || !self.tx.as_ref().is_some_and(|t| t.body == Body::None) {
            return self.fail(Reply::new(
                503,
                Some((5, 5, 1)),
                "Error: bad sequence of commands",
            ));
        }
        let (delay, custom) = match self.inject(Stage::Data, None) {
            Injected::Stop(step) => return step,
            Injected::Proceed { delay, reply } => (delay, reply),
        };
        if let Some(tx) = self.tx.as_mut() {
            tx.body = Body::Data;
        }
        Step {
            delay,
            action: Action::Data(
                custom.unwrap_or_else(|| Reply::new(354, None, "End data with <CR><LF>.<CR><LF>")),
            ),
        }
    }

    fn bdat(&mut self, size: u64, last: bool) -> Step {
        if !self.config.ext.chunking {
            return Step::reply(not_implemented());
        }
        let skip = |reply: Reply| Step::now(Action::BdatSkip { size, reply });
        let seq = |text: &str| Reply::new(503, Some((5, 5, 1)), text.to_owned());
        if self.refused {
            return self.fail_skip(size, seq("Error: service refused, send QUIT"));
        }
        if self.greeted == Greeted::No {
            return self.fail_skip(size, seq("Error: send HELO/EHLO first"));
        }
        let Some(tx) = self.tx.as_ref() else {
            return self.fail_skip(size, seq("Error: need MAIL command"));
        };
        let seen = match tx.body {
            Body::None => {
                if self.env.rcpt_to.is_empty() {
                    let r = no_recipients(tx);
                    return self.fail_skip(size, r);
                }
                None
            }
            Body::Bdat { seen } => Some(seen),
            // RFC 3030 §2: chunks already in the pipeline after a failed one
            // are read and discarded; not counted as errors.
            Body::BdatFailed | Body::Data => {
                if last {
                    self.reset_tx();
                }
                return skip(seq("Error: earlier BDAT failed, send RSET"));
            }
        };
        // Too big as announced: refuse before anything is read into storage.
        if seen.unwrap_or(0).saturating_add(size) > self.config.max_size {
            self.fail_transfer(last);
            return skip(outcome_reply(DataOutcome::TooBig));
        }
        let mut delay = None;
        if seen.is_none() {
            match self.inject(Stage::Data, None) {
                Injected::Stop(step) => {
                    return match step.action {
                        Action::Reply(r) | Action::Close(r) if r.code != 421 => {
                            self.fail_transfer(last);
                            Step {
                                delay: step.delay,
                                action: Action::BdatSkip { size, reply: r },
                            }
                        }
                        _ => step,
                    };
                }
                Injected::Proceed { delay: d, .. } => delay = d,
            }
        }
        let Some(tx) = self.tx.as_mut() else {
            return skip(seq("Error: need MAIL command"));
        };
        tx.body = Body::Bdat {
            seen: seen.unwrap_or(0),
        };
        tx.chunk = Some((size, last));
        Step {
            delay,
            action: Action::Bdat {
                size,
                last,
                first: seen.is_none(),
            },
        }
    }

    /// A counted BDAT refusal: skip the chunk, or close at the error limit.
    fn fail_skip(&mut self, size: u64, reply: Reply) -> Step {
        match self.fail(reply) {
            Step {
                action: Action::Reply(reply),
                delay,
            } => Step {
                delay,
                action: Action::BdatSkip { size, reply },
            },
            close => close,
        }
    }

    /// A chunk was refused: the transaction ends with a LAST chunk, else
    /// later chunks are skipped until RSET.
    fn fail_transfer(&mut self, last: bool) {
        if last {
            self.reset_tx();
        } else if let Some(tx) = self.tx.as_mut() {
            tx.body = Body::BdatFailed;
        }
    }

    fn auth_start(&mut self, mechanism: &str, initial: Option<&str>) -> Step {
        let Some(mech) = Mechanism::parse(mechanism) else {
            return self.fail(Reply::new(
                504,
                Some((5, 5, 4)),
                "Error: unsupported authentication mechanism",
            ));
        };
        let Some(verifier) = &self.config.auth else {
            return self.fail(Reply::new(
                503,
                Some((5, 5, 1)),
                "Error: authentication not enabled",
            ));
        };
        let (ex, step) = Exchange::start(mech, initial, verifier, &self.config.hostname);
        self.auth_step(ex, step)
    }

    /// MAIL parameters against the advertised extensions.
    fn check_mail_params(&self, params: &Params) -> Result<(), Reply> {
        let c = &self.config;
        if self.greeted == Greeted::Helo && !params.is_empty() {
            return Err(unrecognized("ESMTP parameters need EHLO"));
        }
        for (k, v) in &params.0 {
            let v = v.as_deref();
            match k.as_str() {
                "SIZE" if c.ext.size => {
                    let n = v
                        .filter(|v| v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|v| v.parse::<u64>().ok())
                        .ok_or_else(|| bad_param("SIZE"))?;
                    if n > c.max_size {
                        // RFC 1870 §6.
                        return Err(Reply::new(
                            552,
                            Some((5, 3, 4)),
                            "Message size exceeds fixed maximum message size",
                        ));
                    }
                }
                "BODY" => match v.map(str::to_ascii_uppercase).as_deref() {
                    Some("7BIT") => {}
                    Some("8BITMIME") if c.ext.eightbitmime => {}
                    Some("8BITMIME" | "BINARYMIME") => {
                        return Err(unrecognized("BODY type not supported"));
                    }
                    _ => return Err(bad_param("BODY")),
                },
                "SMTPUTF8" if c.ext.smtputf8 => {
                    if v.is_some() {
                        return Err(bad_param("SMTPUTF8"));
                    }
                }
                "RET" if c.ext.dsn => {
                    if !v.is_some_and(|v| {
                        v.eq_ignore_ascii_case("FULL") || v.eq_ignore_ascii_case("HDRS")
                    }) {
                        return Err(bad_param("RET"));
                    }
                }
                // RFC 3461 §4.4: ENVID is xtext, at most 100 characters.
                "ENVID" if c.ext.dsn => {
                    if !v.is_some_and(|v| v.len() <= 100 && is_xtext(v)) {
                        return Err(bad_param("ENVID"));
                    }
                }
                // RFC 4954 §5: AUTH=<mailbox as xtext> or AUTH=<>.
                "AUTH" if c.auth.is_some() => {
                    if !v.is_some_and(|v| v.len() <= 500 && is_xtext(v)) {
                        return Err(bad_param("AUTH"));
                    }
                }
                _ => return Err(unrecognized_param(k)),
            }
        }
        Ok(())
    }

    /// RCPT parameters against the advertised extensions.
    fn check_rcpt_params(&self, params: &Params) -> Result<(), Reply> {
        if self.greeted == Greeted::Helo && !params.is_empty() {
            return Err(unrecognized("ESMTP parameters need EHLO"));
        }
        for (k, v) in &params.0 {
            let v = v.as_deref();
            match k.as_str() {
                // RFC 3461 §4.1: NEVER, or a list of SUCCESS, FAILURE, DELAY.
                "NOTIFY" if self.config.ext.dsn => {
                    if !v.is_some_and(valid_notify) {
                        return Err(bad_param("NOTIFY"));
                    }
                }
                // RFC 3461 §4.2: addr-type ";" xtext, at most 500.
                "ORCPT" if self.config.ext.dsn => {
                    let ok = v.is_some_and(|v| {
                        v.len() <= 500
                            && v.split_once(';').is_some_and(|(t, a)| {
                                !t.is_empty()
                                    && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                                    && !a.is_empty()
                                    && is_xtext(a)
                            })
                    });
                    if !ok {
                        return Err(bad_param("ORCPT"));
                    }
                }
                _ => return Err(unrecognized_param(k)),
            }
        }
        Ok(())
    }
}

fn ok() -> Reply {
    Reply::new(250, Some((2, 0, 0)), "Ok")
}

fn not_implemented() -> Reply {
    Reply::new(502, Some((5, 5, 1)), "Error: command not implemented")
}

fn no_transfer() -> Reply {
    Reply::new(
        503,
        Some((5, 5, 1)),
        "Error: no message transfer in progress",
    )
}

/// DATA/BDAT without an accepted recipient: 554 when every RCPT was
/// refused (Postfix: "no valid recipients"), else 503.
fn no_recipients(tx: &Tx) -> Reply {
    if tx.rcpt_attempts > 0 {
        Reply::new(554, Some((5, 5, 1)), "Error: no valid recipients")
    } else {
        Reply::new(503, Some((5, 5, 1)), "Error: need RCPT command")
    }
}

/// The reply for a refused message.
fn outcome_reply(outcome: DataOutcome) -> Reply {
    match outcome {
        DataOutcome::Complete => ok(),
        DataOutcome::TooBig => Reply::new(552, Some((5, 3, 4)), "Error: message too big"),
        DataOutcome::BareNewline => {
            Reply::new(550, Some((5, 5, 2)), "Error: bare <CR> or <LF> received")
        }
        DataOutcome::LineTooLong => {
            Reply::new(500, Some((5, 5, 2)), "Error: line too long in message data")
        }
    }
}

/// RFC 5321 §4.1.1.11: 555 for parameters not recognized or not
/// implemented.
fn unrecognized(text: &str) -> Reply {
    Reply::new(555, Some((5, 5, 4)), format!("Error: {text}"))
}

fn unrecognized_param(keyword: &str) -> Reply {
    unrecognized(&format!("unsupported parameter {}", echoed(keyword)))
}

fn bad_param(keyword: &str) -> Reply {
    Reply::new(
        501,
        Some((5, 5, 4)),
        format!("Error: bad {} parameter", echoed(keyword)),
    )
}

/// Longest keyword a reply repeats: a MAIL or RCPT line may be 1024
/// octets (AUTH's 12288), a reply line no more than 512 (RFC 5321
/// §4.5.3.1.5; issue 17's fuzzing found a 560-octet 555).
const MAX_ECHO: usize = 64;

/// A client's keyword as a reply repeats it: at most [`MAX_ECHO`] octets,
/// then `...` (it passed the esmtp-keyword grammar: ASCII letters,
/// digits and `-`, so any cut is at a character boundary).
fn echoed(keyword: &str) -> std::borrow::Cow<'_, str> {
    match keyword.get(..MAX_ECHO) {
        Some(head) if keyword.len() > MAX_ECHO => format!("{head}...").into(),
        _ => keyword.into(),
    }
}

/// RFC 3461 §4: xtext, `+XX` with two upper-case hex digits for escapes
/// (other characters were already checked by the parameter grammar).
fn is_xtext(v: &str) -> bool {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'+' {
            let hex = |c: u8| c.is_ascii_digit() || (b'A'..=b'F').contains(&c);
            if i + 2 >= b.len() || !(hex(b[i + 1]) && hex(b[i + 2])) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

fn valid_notify(v: &str) -> bool {
    if v.eq_ignore_ascii_case("NEVER") {
        return true;
    }
    let mut seen = [false; 3];
    for word in v.split(',') {
        let i = ["SUCCESS", "FAILURE", "DELAY"]
            .iter()
            .position(|w| w.eq_ignore_ascii_case(word));
        match i {
            Some(i) if !seen[i] => seen[i] = true,
            _ => return false,
        }
    }
    true
}

/// A queue id: base 36 of seconds (7), microseconds (4), pid (5), then a
/// process-wide counter; unique across processes, no envelope data.
fn new_queue_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut id = String::with_capacity(24);
    push_base36(&mut id, now.as_secs(), 7);
    push_base36(&mut id, u64::from(now.subsec_micros()), 4);
    push_base36(&mut id, u64::from(std::process::id()), 5);
    push_base36(&mut id, n, 1);
    id
}

fn push_base36(out: &mut String, mut v: u64, width: usize) {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut buf = [b'0'; 13];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = DIGITS[(v % 36) as usize];
        v /= 36;
        if v == 0 {
            break;
        }
    }
    let start = i.min(buf.len() - width.min(buf.len()));
    out.extend(buf[start..].iter().map(|&b| b as char));
}

/// Where a committed message went (for the stderr line and the JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// `stdout`, `/dev/null`, the file or mbox path, the Maildir or `--dir`
    /// file's path, or `exec`.
    pub location: String,
}

/// Storing a message failed; nothing of it was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    /// Reply 451 (try again) rather than 554: every storage failure is
    /// temporary, except a `--exec` command exiting with a status other
    /// than 0 and 75.
    pub temporary: bool,
    /// What failed, lowercase, for the reply text and the log.
    pub message: String,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

#[cfg(test)]
mod tests;
