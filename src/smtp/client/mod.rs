//! The sending side of an SMTP session (RFC 5321), generic over the stream
//! so that tests replay scripted server transcripts from memory.
//!
//! ```text
//! greet()      S: 220                      (§3.1)
//! ehlo()       C: EHLO name / S: 250-…     (§4.1.1.1; HELO if EHLO gets 500/502)
//! starttls()   C: STARTTLS / S: 220        (RFC 3207) → into_parts(), wrap in TLS,
//!                                             Client::new again, ehlo() again
//! auth()       C: AUTH mech [ir] / 334 …   (RFC 4954)
//! send()       C: MAIL, RCPT…  (one write with PIPELINING, RFC 2920)
//!              C: DATA / S: 354 / message (dot-stuffed) / . / S: 250
//! quit()       C: QUIT / S: 221
//! ```
//!
//! # Safety rules (reliability notes §2.3)
//!
//! - Commands never carry a CR, LF or NUL of their own
//!   ([`Command::to_wire`]); message text is sent by
//!   [`dot::write_data`]: CRLF line ends only, every line-start dot
//!   doubled, at most 998 octets a line, always ending with `CRLF.CRLF`.
//! - Replies are read with bounds ([`reply::read_reply_with`]: 100 lines of
//!   8 KiB), and bytes from the server that no command asked for are an
//!   error, never taken as the reply to the next command. Around STARTTLS
//!   this is the CVE-2011-0411 / nodemailer #1835 class: anything buffered
//!   before the command or after its `220` ends the session.
//! - After STARTTLS the old capabilities are forgotten: the caller builds a
//!   new `Client` over the TLS stream and says EHLO again (RFC 3207 §4.2).
//!
//! # Transactions
//!
//! [`Client::send`] checks the envelope against the server's extensions
//! before saying anything: a message larger than the server's `SIZE`, 8-bit
//! text without `8BITMIME` (RFC 6152) or a UTF-8 address without `SMTPUTF8`
//! (RFC 6531) is refused at once (exit class 65). With PIPELINING the MAIL
//! command and the RCPTs go out in one write (in groups of at most 100
//! commands, so that neither side's socket buffers can fill while the other
//! waits), the replies are read, and only then DATA is sent. If any
//! recipient is refused the transaction is abandoned with RSET and nothing
//! is sent; the error lists every refused address with its reply. The
//! exception is `452` once a recipient was accepted: "too many recipients"
//! (RFC 5321 §4.5.3.1.10), so the message goes to the accepted ones and the
//! rest come back in [`Sent::deferred`] for another transaction.
//!
//! With [`SendEnvelope::partial`] (`--partial`) the message goes to the
//! accepted recipients anyway, and the refused ones come back in
//! [`Sent::refused`].
//!
//! When the server offers CHUNKING (RFC 3030) and [`SendEnvelope::chunking`]
//! allows it, the message goes in `BDAT` chunks of 1 MiB instead of DATA
//! (no dot-stuffing, each chunk's reply read before the next), and as
//! `BODY=BINARYMIME`, byte for byte, when it is binary and the server offers
//! that too ([`SendEnvelope::binary`]); binary MIME that has to go as
//! text is refused (exit 65) when it holds a bare CR or LF, which CRLF
//! would alter. DSN parameters (RFC 3461: NOTIFY,
//! ORCPT, RET, ENVID; [`Dsn`]) are added when the server offers DSN.
//! In LMTP ([`Client::set_lmtp`], RFC 2033) EHLO is LHLO and the server
//! answers once per accepted recipient after the message
//! ([`Sent::replies`]).
//!
//! When the message itself turns out to be unsendable while it is being
//! sent (a line over 998 octets, a read error), the end marker is never
//! written: the client stops talking ([`Client::is_usable`] is false) and
//! the caller drops the connection, which makes the server discard the
//! partial message (RFC 5321 §4.1.1.4 requires the full end marker).
//!
//! # Timeouts
//!
//! Each wait for the server is a deadline, not a timeout per `read()`
//! (issue 17: a server dripping a byte a second held a 3 s timeout for as
//! long as it liked): the whole reply, every line of a multi-line one, must
//! arrive within the RFC 5321 §4.5.3.2 value for its stage ([`timeout`]),
//! or [`Client::set_reply_timeout`]'s. Writes are bounded the same way: a
//! command within the same time, each block of message text within
//! [`TIMEOUT_DATA_BLOCK`]. Over all of it, [`Client::set_deadline`] sets an
//! end for the session. The stream gets the time left before every read
//! and write through the hook of [`Client::set_timeout_hook`] (a socket's
//! read and write timeouts; under TLS the transport must apply it to every
//! socket call below the TLS stream: [`crate::io::deadline`]). A wait that
//! runs out is an I/O error of kind `TimedOut` carrying a [`TimeLimit`].
//!
//! # Transcript
//!
//! With a transcript writer (`-v`) every line is logged: `C: ` for the
//! client, `S: ` for the server, `=== ` for notes. AUTH secrets are never
//! logged (`C: AUTH PLAIN ***`, `C: ***` for each response) and the
//! message is summarised (`C: <message: N bytes>`). Control characters from
//! the server are shown as `\xNN`.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

use super::command::Command;
use super::dot::{self, BareNewline, StuffError, StuffOptions, Stuffer};
use super::envelope::{Mailbox, Params, ReversePath};
use super::reply::{self, Reply, ReplyError};
use super::sasl::{self, Exchange, Mechanism, SaslError, Secret};
use crate::codec::base64::{decode_to_vec, encode_to_string};
use crate::io::deadline::Deadline;

/// RFC 5321 §4.5.3.2.1: waiting for the 220 greeting.
pub const TIMEOUT_GREETING: Duration = Duration::from_secs(5 * 60);
/// RFC 5321 §4.5.3.2.2: waiting for the reply to MAIL.
pub const TIMEOUT_MAIL: Duration = Duration::from_secs(5 * 60);
/// RFC 5321 §4.5.3.2.3: waiting for the reply to RCPT.
pub const TIMEOUT_RCPT: Duration = Duration::from_secs(5 * 60);
/// RFC 5321 §4.5.3.2.4: waiting for the 354 reply to DATA.
pub const TIMEOUT_DATA_INIT: Duration = Duration::from_secs(2 * 60);
/// RFC 5321 §4.5.3.2.5: each block of message text being sent.
pub const TIMEOUT_DATA_BLOCK: Duration = Duration::from_secs(3 * 60);
/// RFC 5321 §4.5.3.2.6: waiting for the reply to the end of data.
pub const TIMEOUT_DATA_END: Duration = Duration::from_secs(10 * 60);
/// EHLO, STARTTLS, AUTH, RSET, QUIT: the RFC names no value; we use the
/// MAIL one.
pub const TIMEOUT_OTHER: Duration = Duration::from_secs(5 * 60);

/// The RFC 5321 §4.5.3.2 time to wait for the server's reply at `stage`
/// ([`Stage::Data`]: the 354; [`Stage::Dot`]: the final reply).
pub fn timeout(stage: Stage) -> Duration {
    match stage {
        Stage::Greeting => TIMEOUT_GREETING,
        Stage::Mail => TIMEOUT_MAIL,
        Stage::Rcpt => TIMEOUT_RCPT,
        Stage::Data => TIMEOUT_DATA_INIT,
        Stage::Dot => TIMEOUT_DATA_END,
        _ => TIMEOUT_OTHER,
    }
}

/// Where `-v` output goes: `C:`/`S:` lines (see the module docs).
pub type Transcript = Option<Box<dyn Write + Send>>;

/// Commands in one pipelined write (RFC 2920 §3.1 asks the client not to
/// fill the server's buffers while it cannot read the replies).
const PIPELINE_GROUP: usize = 100;

/// Octets in one BDAT chunk (RFC 3030 leaves the size to the client): big
/// enough that a round trip per chunk costs little, small enough to keep
/// memory constant.
const BDAT_CHUNK: usize = 1024 * 1024;

/// Input octets handed to the line-end canonicaliser at a time.
const BDAT_FEED: usize = 64 * 1024;

/// Challenge rounds in one AUTH before we call the server broken.
const MAX_AUTH_ROUNDS: usize = crate::limits::SMTP_MAX_AUTH_ROUNDS;

/// What the server said it supports in its EHLO reply (RFC 5321 §4.1.1.1;
/// keywords are case-insensitive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The server answered EHLO (false after the HELO fallback: no
    /// extensions at all).
    pub esmtp: bool,
    /// SIZE (RFC 1870): the largest message in octets; `Some(0)` when the
    /// server sets no fixed limit (no value, or 0).
    pub size: Option<u64>,
    /// PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// 8BITMIME (RFC 6152).
    pub eightbitmime: bool,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// ENHANCEDSTATUSCODES (RFC 2034).
    pub enhanced: bool,
    /// STARTTLS (RFC 3207).
    pub starttls: bool,
    /// CHUNKING (RFC 3030).
    pub chunking: bool,
    /// DSN (RFC 3461).
    pub dsn: bool,
    /// BINARYMIME (RFC 3030 §3; only usable with CHUNKING).
    pub binarymime: bool,
    /// AUTH mechanisms (RFC 4954), upper-cased, from `AUTH a b` and the old
    /// `AUTH=a b` form.
    pub auth: Vec<String>,
    /// The keyword lines as received (the greeting line excluded), for
    /// `--probe`.
    pub lines: Vec<String>,
}

impl Capabilities {
    /// Reads the extension lines of a 250 reply to EHLO (every line but the
    /// first, RFC 5321 §4.1.1.1).
    pub fn from_ehlo(reply: &Reply) -> Capabilities {
        let mut c = Capabilities {
            esmtp: true,
            ..Capabilities::default()
        };
        for line in reply.lines.iter().skip(1) {
            c.lines.push(line.clone());
            let mut words = line.split_ascii_whitespace();
            let Some(first) = words.next() else {
                continue;
            };
            let first = first.to_ascii_uppercase();
            let (keyword, glued) = match first.split_once('=') {
                Some((k, v)) if k == "AUTH" => (k.to_owned(), Some(v.to_owned())),
                _ => (first.clone(), None),
            };
            match keyword.as_str() {
                "SIZE" => {
                    c.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0));
                }
                "PIPELINING" => c.pipelining = true,
                "8BITMIME" => c.eightbitmime = true,
                "SMTPUTF8" => c.smtputf8 = true,
                "ENHANCEDSTATUSCODES" => c.enhanced = true,
                "STARTTLS" => c.starttls = true,
                "CHUNKING" => c.chunking = true,
                "DSN" => c.dsn = true,
                "BINARYMIME" => c.binarymime = true,
                "AUTH" => {
                    for m in glued.into_iter().chain(words.map(str::to_owned)) {
                        let m = m.to_ascii_uppercase();
                        if !m.is_empty() && !c.auth.contains(&m) {
                            c.auth.push(m);
                        }
                    }
                }
                _ => {}
            }
        }
        c
    }
}

/// The step of the session an error happened in (re-exported here, where
/// `smtp-send` looks for it).
pub use super::stage::Stage;

mod error;
pub use error::{Error, ErrorKind, TimeLimit};

/// One message's envelope for [`Client::send`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendEnvelope {
    /// MAIL FROM (`<>` for the null sender).
    pub from: ReversePath,
    /// RCPT TO, in order (at least one).
    pub rcpts: Vec<Mailbox>,
    /// The message size if known: octets with CRLF line ends, no stuffing
    /// (RFC 1870 §3). Sent as `SIZE=`, and checked against the server's.
    pub size: Option<u64>,
    /// The message has octets above 127: sent with `BODY=8BITMIME`; an
    /// 8-bit octet found while sending without it stops the transfer.
    pub eight_bit: bool,
    /// The message needs SMTPUTF8 (UTF-8 in its header); non-ASCII
    /// addresses in the envelope imply it.
    pub smtputf8: bool,
    /// `--partial`: when some recipients are refused at RCPT, send the
    /// message to the accepted ones anyway (they come back in
    /// [`Sent::refused`]); without it nothing is sent.
    pub partial: bool,
    /// Delivery status notification requests (RFC 3461), sent only when
    /// the server offers DSN.
    pub dsn: Dsn,
    /// Send the message with BDAT (RFC 3030) when the server offers
    /// CHUNKING (`--no-chunking` clears it).
    pub chunking: bool,
    /// The message is binary MIME in canonical form (CRLF line ends, may
    /// hold NUL, bare CR/LF, long lines): with BINARYMIME and CHUNKING
    /// offered it goes byte for byte as `BODY=BINARYMIME` (RFC 3030 §3);
    /// otherwise it is sent as text like any other message, except that a
    /// bare CR or LF in it (data, not a line end) makes it unsendable
    /// rather than silently changed.
    pub binary: bool,
}

/// What the sender asks for in delivery status notifications (RFC 3461).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dsn {
    /// `NOTIFY=` on every RCPT (RFC 3461 §4.1); `None`: not sent (the
    /// server's default, failure and delay).
    pub notify: Option<Notify>,
    /// `RET=` on MAIL (RFC 3461 §4.3).
    pub ret: Option<Ret>,
    /// `ENVID=` on MAIL (RFC 3461 §4.4), as given (xtext-encoded when sent).
    pub envid: Option<String>,
    /// `ORCPT=rfc822;ADDR` on every RCPT (RFC 3461 §4.2) with the address
    /// as given, so that a bounce names it (ASCII addresses only).
    pub orcpt: bool,
}

impl Dsn {
    /// Whether anything is asked for (and the server must offer DSN).
    pub fn is_requested(&self) -> bool {
        self.notify.is_some() || self.ret.is_some() || self.envid.is_some()
    }
}

/// `NOTIFY=` (RFC 3461 §4.1): `NEVER`, or a set of SUCCESS, FAILURE, DELAY.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Notify {
    /// SUCCESS.
    pub success: bool,
    /// FAILURE.
    pub failure: bool,
    /// DELAY.
    pub delay: bool,
}

impl Notify {
    /// Parses `never` or a comma-separated list of `success`, `failure`,
    /// `delay` (any case; `never` cannot be combined, RFC 3461 §4.1).
    pub fn parse(s: &str) -> Result<Notify, String> {
        let mut n = Notify::default();
        let words: Vec<String> = s
            .split(',')
            .map(|w| w.trim().to_ascii_lowercase())
            .collect();
        if words.len() == 1 && words[0] == "never" {
            return Ok(n);
        }
        for w in &words {
            match w.as_str() {
                "success" => n.success = true,
                "failure" => n.failure = true,
                "delay" => n.delay = true,
                "never" => return Err("never cannot be combined with other values".into()),
                _ => {
                    return Err(format!(
                        "{w:?}: want never, or a list of success, failure, delay"
                    ));
                }
            }
        }
        Ok(n)
    }

    /// The parameter value: `NEVER` or e.g. `SUCCESS,FAILURE`.
    pub fn value(&self) -> String {
        let v: Vec<&str> = [
            (self.success, "SUCCESS"),
            (self.failure, "FAILURE"),
            (self.delay, "DELAY"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, w)| *w)
        .collect();
        if v.is_empty() {
            "NEVER".to_owned()
        } else {
            v.join(",")
        }
    }
}

/// `RET=` (RFC 3461 §4.3): what a bounce carries of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// The whole message.
    Full,
    /// Only the header.
    Hdrs,
}

impl Ret {
    /// Parses `full` or `hdrs` (any case).
    pub fn parse(s: &str) -> Result<Ret, String> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(Ret::Full),
            "hdrs" => Ok(Ret::Hdrs),
            _ => Err(format!("{s:?}: want full or hdrs")),
        }
    }
}

/// xtext (RFC 3461 §4): `+`, `=` and octets outside `!`..`~` as `+XX`.
pub fn xtext(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (33..=126).contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

/// Longest ENVID, before encoding (RFC 3461 §4.4: 100 characters).
pub const MAX_ENVID: usize = 100;

/// What [`Client::send`] delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The server's reply to the end of data (LMTP: the first recipient's).
    pub reply: Reply,
    /// Recipients not in this transaction: the server answered `452` (too
    /// many recipients, RFC 5321 §4.5.3.1.10) to them or to one before
    /// them. Send the message to them in a new transaction.
    pub deferred: Vec<Mailbox>,
    /// With [`SendEnvelope::partial`]: the recipients refused at RCPT, with
    /// their replies (the message went to the others).
    pub refused: Vec<(Mailbox, Reply)>,
    /// Every recipient the message was sent to, with the reply after the
    /// message that concerns it: the one end-of-data reply in SMTP (always
    /// 2xx here), each recipient's own reply in LMTP (RFC 2033 §4.2: 2xx,
    /// 4xx or 5xx).
    pub replies: Vec<(Mailbox, Reply)>,
}

impl SendEnvelope {
    /// Whether this message goes as BINARYMIME with BDAT to a server with
    /// `caps` (RFC 3030 §3: BINARYMIME needs CHUNKING).
    pub fn sends_binary(&self, caps: &Capabilities) -> bool {
        self.binary && self.uses_bdat(caps) && caps.binarymime
    }

    /// Whether this message goes with BDAT to a server with `caps`.
    pub fn uses_bdat(&self, caps: &Capabilities) -> bool {
        self.chunking && caps.chunking && caps.esmtp
    }

    fn needs_smtputf8(&self) -> bool {
        self.smtputf8
            || self.from.mailbox().is_some_and(|m| !m.is_ascii())
            || self.rcpts.iter().any(|m| !m.is_ascii())
    }
}

/// The MAIL and RCPT commands for `env` on a server with `caps`, after the
/// checks [`Client::send`] makes before saying anything (SIZE, 8BITMIME,
/// SMTPUTF8, no CR/LF/NUL in an address). Also for `--dry-run`.
pub fn envelope_commands(env: &SendEnvelope, caps: &Capabilities) -> Result<Vec<Command>, Error> {
    let refuse = |why: String| Error::new(Stage::Mail, "MAIL", ErrorKind::Unsendable(why));
    if env.rcpts.is_empty() {
        return Err(refuse("no recipients".into()));
    }
    let utf8 = env.needs_smtputf8();
    if utf8 && !caps.smtputf8 {
        let addr = env
            .from
            .mailbox()
            .into_iter()
            .chain(&env.rcpts)
            .find(|m| !m.is_ascii());
        return Err(refuse(match addr {
            Some(m) => format!(
                "the address <{m}> needs SMTPUTF8 (RFC 6531), which the server does not offer"
            ),
            None => "the message needs SMTPUTF8 (RFC 6531), which the server does not offer".into(),
        }));
    }
    let binary = env.sends_binary(caps);
    if env.eight_bit && !caps.eightbitmime && !binary {
        return Err(refuse(
            "the message has 8-bit octets and the server does not offer 8BITMIME (RFC 6152); \
             --downgrade re-encodes it as 7-bit (quoted-printable or base64)"
                .into(),
        ));
    }
    if let (Some(size), Some(max)) = (env.size, caps.size)
        && max > 0
        && size > max
    {
        return Err(refuse(format!(
            "the message is {size} octets and the server accepts at most {max} (SIZE, RFC 1870)"
        )));
    }
    let mut params = Vec::new();
    if caps.esmtp {
        if let (Some(size), Some(_)) = (env.size, caps.size) {
            params.push(("SIZE".to_owned(), Some(size.to_string())));
        }
        if binary {
            params.push(("BODY".to_owned(), Some("BINARYMIME".to_owned())));
        } else if env.eight_bit {
            params.push(("BODY".to_owned(), Some("8BITMIME".to_owned())));
        }
        if utf8 {
            params.push(("SMTPUTF8".to_owned(), None));
        }
    }
    let dsn = caps.dsn && caps.esmtp;
    if dsn {
        if let Some(ret) = env.dsn.ret {
            let v = match ret {
                Ret::Full => "FULL",
                Ret::Hdrs => "HDRS",
            };
            params.push(("RET".to_owned(), Some(v.to_owned())));
        }
        if let Some(id) = &env.dsn.envid {
            if id.chars().count() > MAX_ENVID || !id.bytes().all(|b| (32..=126).contains(&b)) {
                return Err(refuse(format!(
                    "ENVID must be at most {MAX_ENVID} printable ASCII characters (RFC 3461 §4.4)"
                )));
            }
            params.push(("ENVID".to_owned(), Some(xtext(id))));
        }
    }
    let mut commands = Vec::with_capacity(env.rcpts.len() + 1);
    commands.push(Command::Mail {
        from: env.from.clone(),
        params: Params(params),
    });
    for to in &env.rcpts {
        let mut params = Vec::new();
        if dsn {
            if let Some(n) = env.dsn.notify {
                params.push(("NOTIFY".to_owned(), Some(n.value())));
            }
            // RFC 3461 §4.2: addr-type rfc822 for ASCII addresses (a
            // UTF-8 one would need RFC 6533's utf-8 type: left out).
            if env.dsn.orcpt && to.is_ascii() && !to.domain.is_empty() {
                params.push((
                    "ORCPT".to_owned(),
                    Some(format!("rfc822;{}", xtext(&to.to_string()))),
                ));
            }
        }
        commands.push(Command::Rcpt {
            to: to.clone(),
            params: Params(params),
        });
    }
    for c in &commands {
        c.to_wire().map_err(|e| refuse(e.to_string()))?;
    }
    Ok(commands)
}

/// BDAT content (RFC 3030): text as [`dot::write_data`] sends it for DATA
/// minus the dot-stuffing and the end marker ([`Stuffer::canonical`]:
/// every line end CRLF, a bare CR or LF too or refused per
/// [`BareNewline`], a final CRLF when missing, lines of at most 998 octets,
/// 8-bit octets only when declared); binary (None) the octets as they are.
struct Canonical(Option<Stuffer>);

impl Canonical {
    fn new(text: bool, eight_bit: bool, bare: BareNewline) -> Canonical {
        Canonical(text.then(|| {
            Stuffer::canonical(&StuffOptions {
                max_line: crate::limits::SMTP_MAX_TEXT_LINE,
                bare,
                eight_bit,
            })
        }))
    }

    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), StuffError> {
        match &mut self.0 {
            Some(text) => text.push(chunk, out),
            None => {
                out.extend_from_slice(chunk);
                Ok(())
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), StuffError> {
        self.0.as_mut().map_or(Ok(()), |text| text.finish(out))
    }
}

/// Why the message cannot be sent, from the stuffing error `e`; for binary
/// MIME sent as text, what would have made it sendable.
fn unsendable_why(e: &StuffError, binary_as_text: bool) -> String {
    if binary_as_text && matches!(e, StuffError::BareNewline { .. }) {
        format!(
            "{e}: the message is binary MIME (Content-Transfer-Encoding: binary) and the \
             server does not offer BINARYMIME with CHUNKING (RFC 3030 §3), so it cannot be \
             sent unchanged; encode its binary parts as base64"
        )
    } else {
        e.to_string()
    }
}

/// Whether the session can go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Commands may be sent.
    Open,
    /// STARTTLS was accepted: only the TLS handshake may follow.
    TlsPending,
    /// The connection is lost, out of step, or in the middle of an aborted
    /// DATA: nothing more may be sent.
    Broken,
}

/// An SMTP client session over a stream (see the module docs).
pub struct Client<S: Read + Write> {
    io: BufReader<Deadline<S>>,
    caps: Capabilities,
    transcript: Transcript,
    /// `--timeout`: every wait's limit instead of RFC 5321 §4.5.3.2's.
    reply_timeout: Option<Duration>,
    /// The end of the session (see [`Client::set_deadline`]).
    deadline: Option<Instant>,
    bare: BareNewline,
    state: State,
    /// LMTP (RFC 2033): LHLO, and one reply per recipient after the message.
    lmtp: bool,
    /// See [`Client::refused_at_rcpt`].
    refused: Vec<(Mailbox, Reply)>,
}

impl<S: Read + Write> fmt::Debug for Client<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("caps", &self.caps)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// A command line to send and how the transcript shows it.
struct Line {
    wire: Vec<u8>,
    shown: String,
}

impl Line {
    fn command(stage: Stage, c: &Command) -> Result<Line, Error> {
        let wire = c.to_wire().map_err(|e| {
            Error::new(
                stage,
                stage.to_string(),
                ErrorKind::Unsendable(e.to_string()),
            )
        })?;
        Ok(Line {
            shown: c.to_string(),
            wire,
        })
    }

    fn hidden(wire: Vec<u8>, shown: &str) -> Line {
        Line {
            wire,
            shown: shown.to_owned(),
        }
    }
}

/// Writes `prefix` + `line` to the transcript, control characters escaped.
fn log(t: &mut Transcript, prefix: &str, line: &[u8]) {
    if let Some(t) = t {
        let mut s = String::with_capacity(prefix.len() + line.len() + 1);
        s.push_str(prefix);
        for c in String::from_utf8_lossy(line).chars() {
            // Controls, and the bidi and line-separator characters that
            // would make the line lie about its text (issue 17's fuzzing).
            if crate::codec::encoded_word::is_bad_control(c) {
                match u8::try_from(c) {
                    Ok(b) => s.push_str(&format!("\\x{b:02x}")),
                    Err(_) => s.extend(c.escape_unicode()),
                }
            } else {
                s.push(c);
            }
        }
        s.push('\n');
        // The transcript is a diagnostic: failing to write it must not
        // fail the delivery.
        let _ = t.write_all(s.as_bytes());
    }
}

impl<S: Read + Write> Client<S> {
    /// A session over `stream` (connected, or TLS-wrapped after STARTTLS or
    /// for implicit TLS), with an optional transcript writer.
    pub fn new(stream: S, transcript: Transcript) -> Client<S> {
        Client {
            io: BufReader::with_capacity(8 * 1024, Deadline::new(stream)),
            caps: Capabilities::default(),
            transcript,
            reply_timeout: None,
            deadline: None,
            bare: BareNewline::Normalize,
            state: State::Open,
            lmtp: false,
            refused: Vec::new(),
        }
    }

    /// With [`SendEnvelope::partial`], when the last [`Client::send`]
    /// failed after RCPT (DATA, BDAT or the message refused, the connection
    /// lost): the recipients refused at RCPT before, with their replies
    /// (empty otherwise).
    pub fn refused_at_rcpt(&self) -> &[(Mailbox, Reply)] {
        &self.refused
    }

    /// Speaks LMTP (RFC 2033) instead of SMTP: [`Client::ehlo`] says LHLO
    /// (no HELO fallback, §4.1), and after the message the server answers
    /// once for each accepted recipient (§4.2), which [`Sent::replies`]
    /// gives back.
    pub fn set_lmtp(&mut self, lmtp: bool) {
        self.lmtp = lmtp;
    }

    /// Sets the hook called before every read and write of the stream
    /// with the time left for it (see the module docs on timeouts);
    /// typically `|s, t| { s.set_read_timeout(Some(t))?;
    /// s.set_write_timeout(Some(t)) }`. Without one, the time left is
    /// checked before each call only.
    pub fn set_timeout_hook(
        &mut self,
        hook: impl FnMut(&mut S, Duration) -> io::Result<()> + Send + 'static,
    ) {
        self.io.get_mut().set_timeout(Box::new(hook));
    }

    /// Allows `t` for every wait (each whole reply, each write) instead of
    /// RFC 5321 §4.5.3.2's value for its stage (`--timeout`; `None`: the
    /// RFC's).
    pub fn set_reply_timeout(&mut self, t: Option<Duration>) {
        self.reply_timeout = t;
    }

    /// Ends every wait by `deadline` at the latest, whatever its own limit
    /// (the whole session's; `None`: no such end).
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// What to do with bare CR and LF in messages: send each as CRLF (the
    /// default) or refuse the message (no option asks for it yet: tests).
    #[cfg(test)]
    fn set_bare_newlines(&mut self, bare: BareNewline) {
        self.bare = bare;
    }

    /// Writes a note (`=== text`) to the transcript, e.g. the TLS version.
    pub fn note(&mut self, text: &str) {
        log(&mut self.transcript, "=== ", text.as_bytes());
    }

    /// The capabilities from the last EHLO (empty before it and after
    /// STARTTLS).
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Whether commands may still be sent (false after a lost connection,
    /// a protocol error, an aborted message transfer or an accepted
    /// STARTTLS). When false the caller should drop the connection.
    pub fn is_usable(&self) -> bool {
        self.state == State::Open
    }

    /// Gives back the stream and the transcript, e.g. after
    /// [`Client::starttls`] to wrap the stream in TLS. Bytes the client had
    /// read but not used are discarded (after `starttls` there are none).
    pub fn into_parts(self) -> (S, Transcript) {
        (self.io.into_inner().into_inner(), self.transcript)
    }

    /// Reads the greeting: `220` (RFC 5321 §3.1). A 554 or 421 greeting is
    /// an error; send [`Client::quit`] after it.
    pub fn greet(&mut self) -> Result<Reply, Error> {
        self.greet_since(Instant::now())
    }

    /// [`Client::greet`], its time limit counted from `connected` (RFC
    /// 5321 §4.5.3.2.1: the wait for the greeting starts with the
    /// connection, whatever happened on it since, such as a TLS handshake).
    pub fn greet_since(&mut self, connected: Instant) -> Result<Reply, Error> {
        let r = self.read_since(Stage::Greeting, "greeting", connected)?;
        match r.code {
            220 => Ok(r),
            _ => Err(self.negative(Stage::Greeting, "server greeting", r)),
        }
    }

    /// Says EHLO (falling back to HELO when the server answers 500 or 502,
    /// RFC 5321 §3.2) and records the capabilities.
    pub fn ehlo(&mut self, name: &str) -> Result<&Capabilities, Error> {
        self.caps = Capabilities::default();
        let ehlo = Command::Ehlo(name.to_owned());
        if self.lmtp {
            // RFC 2033 §4.1: LHLO has EHLO's syntax and reply.
            let mut line = Line::command(Stage::Ehlo, &ehlo)?;
            line.wire[..4].copy_from_slice(b"LHLO");
            line.shown = format!("LHLO {name}");
            self.write_lines(Stage::Ehlo, "LHLO", &[line])?;
            let r = self.read(Stage::Ehlo, "LHLO")?;
            if r.code == 250 {
                self.caps = Capabilities::from_ehlo(&r);
                return Ok(&self.caps);
            }
            return Err(self.negative(Stage::Ehlo, format!("LHLO {name} refused"), r));
        }
        let r = self.command(Stage::Ehlo, &ehlo)?;
        if r.code == 250 {
            self.caps = Capabilities::from_ehlo(&r);
            return Ok(&self.caps);
        }
        if !matches!(r.code, 500 | 502) {
            return Err(self.negative(Stage::Ehlo, format!("{ehlo} refused"), r));
        }
        let helo = Command::Helo(name.to_owned());
        let r = self.command(Stage::Ehlo, &helo)?;
        if r.code == 250 {
            Ok(&self.caps)
        } else {
            Err(self.negative(Stage::Ehlo, format!("{helo} refused"), r))
        }
    }

    /// Sends STARTTLS and expects `220` (RFC 3207 §4). Anything the server
    /// sent beyond that reply is an error (it would be plaintext injected
    /// before the TLS handshake). On success the client is spent: take the
    /// stream with [`Client::into_parts`], start TLS, make a new client
    /// over it and say EHLO again.
    pub fn starttls(&mut self) -> Result<(), Error> {
        let r = self.command(Stage::StartTls, &Command::StartTls)?;
        if r.code != 220 {
            return Err(self.negative(Stage::StartTls, "STARTTLS refused", r));
        }
        let early = self.io.buffer().len();
        if early > 0 {
            self.state = State::Broken;
            return Err(Error::new(
                Stage::StartTls,
                "STARTTLS",
                ErrorKind::Protocol(
                    format!(
                        "{early} octets after the 220 reply, before the TLS handshake \
                         (plaintext injection, RFC 3207 §5)"
                    ),
                    Some(r),
                ),
            ));
        }
        self.caps = Capabilities::default();
        self.state = State::TlsPending;
        Ok(())
    }

    /// Authenticates with `mech` (RFC 4954).
    pub fn auth(&mut self, mech: Mechanism, user: &str, secret: &Secret) -> Result<(), Error> {
        let mut exchange = sasl::start(mech, user, secret, "");
        self.auth_with(mech, &mut *exchange)
    }

    /// Authenticates with a prepared exchange (for OAUTHBEARER with the
    /// host name, see [`sasl::start`]). The initial response is sent with
    /// the command when the mechanism has one (RFC 4954 §4); a challenge we
    /// cannot answer is cancelled with `*`.
    pub fn auth_with(&mut self, mech: Mechanism, exchange: &mut dyn Exchange) -> Result<(), Error> {
        let stage = Stage::Auth;
        let what = format!("AUTH {mech}");
        let first = match exchange.initial() {
            Some(ir) => {
                let b64 = if ir.is_empty() {
                    "=".to_owned()
                } else {
                    encode_to_string(&ir)
                };
                Line::hidden(
                    format!("AUTH {mech} {b64}\r\n").into_bytes(),
                    &format!("AUTH {mech} ***"),
                )
            }
            None => Line::hidden(format!("AUTH {mech}\r\n").into_bytes(), &what),
        };
        self.write_lines(stage, &what, &[first])?;
        for _ in 0..MAX_AUTH_ROUNDS {
            let r = self.read(stage, &what)?;
            match r.code {
                235 => {
                    return exchange
                        .finish(None)
                        .map_err(|e| Error::new(stage, what, ErrorKind::Sasl(e)));
                }
                334 => {}
                _ => return Err(self.negative(stage, format!("{what} failed"), r)),
            }
            let text = r.lines.first().map(String::as_str).unwrap_or_default();
            let answer = decode_to_vec(text.trim().as_bytes())
                .map_err(|_| SaslError::Malformed("challenge not base64".into()))
                .and_then(|challenge| exchange.respond(&challenge));
            match answer {
                Ok(resp) => {
                    let line = format!("{}\r\n", encode_to_string(&resp)).into_bytes();
                    self.write_lines(stage, &what, &[Line::hidden(line, "***")])?;
                }
                Err(e) => {
                    // RFC 4954 §4: "*" cancels; the server answers 501.
                    self.write_lines(stage, &what, &[Line::hidden(b"*\r\n".to_vec(), "*")])?;
                    let _ = self.read(stage, &what)?;
                    return Err(Error::new(stage, what, ErrorKind::Sasl(e)));
                }
            }
        }
        self.state = State::Broken;
        Err(Error::new(
            stage,
            what,
            ErrorKind::Protocol(format!("more than {MAX_AUTH_ROUNDS} challenges"), None),
        ))
    }

    /// Sends one message: MAIL, RCPTs, DATA, the text from `message`
    /// (streamed, constant memory), and returns the server's final reply.
    /// See the module docs for the checks, pipelining and what happens on
    /// errors: a refused MAIL, RCPT or DATA is followed by RSET, so the
    /// connection can carry the next message if [`Client::is_usable`].
    ///
    /// `452` to a RCPT once another was accepted is "too many recipients"
    /// (RFC 5321 §4.5.3.1.10): no more RCPTs are sent, the message goes to
    /// the accepted ones, and the rest come back in [`Sent::deferred`] for
    /// a new transaction.
    pub fn send(&mut self, env: &SendEnvelope, message: &mut impl BufRead) -> Result<Sent, Error> {
        self.refused.clear();
        if self.state != State::Open {
            return Err(self.unusable(Stage::Mail));
        }
        let commands = envelope_commands(env, &self.caps)?;
        let lines = commands
            .iter()
            .map(|c| Line::command(Stage::Mail, c))
            .collect::<Result<Vec<_>, _>>()?;
        let mail_what = format!("{} refused", commands[0]);
        let group = if self.caps.pipelining {
            PIPELINE_GROUP
        } else {
            1
        };
        let mut mail_refused = None;
        let mut rejected = Vec::new();
        // Recipients answered 452 (perhaps "too many recipients").
        let mut full: Vec<(Mailbox, Reply)> = Vec::new();
        let mut accepted: Vec<Mailbox> = Vec::new();
        let mut index = 0;
        for batch in lines.chunks(group) {
            let stage = if index == 0 { Stage::Mail } else { Stage::Rcpt };
            self.write_lines(stage, stage.to_string().as_str(), batch)?;
            for _ in batch {
                let stage = if index == 0 { Stage::Mail } else { Stage::Rcpt };
                let r = self.read(stage, stage.to_string().as_str())?;
                if r.code == 421 {
                    return Err(self.negative(stage, format!("{} refused", commands[index]), r));
                }
                if index == 0 {
                    if r.code / 100 != 2 {
                        mail_refused = Some(r);
                    }
                } else if r.code / 100 != 2 {
                    if mail_refused.is_none() && !matches!(r.code / 100, 4 | 5) {
                        self.state = State::Broken;
                        return Err(Error::new(
                            Stage::Rcpt,
                            "RCPT",
                            ErrorKind::Protocol(format!("unexpected reply {}", r.code), Some(r)),
                        ));
                    }
                    if r.code == 452 {
                        full.push((env.rcpts[index - 1].clone(), r));
                    } else {
                        rejected.push((env.rcpts[index - 1].clone(), r));
                    }
                } else {
                    accepted.push(env.rcpts[index - 1].clone());
                }
                index += 1;
            }
            // After a 452 the rest would get 452 too: they wait for the
            // next transaction.
            if mail_refused.is_some() || !full.is_empty() {
                break;
            }
        }
        if let Some(r) = mail_refused {
            self.abandon();
            return Err(self.negative(Stage::Mail, mail_what, r));
        }
        if (!rejected.is_empty() && !env.partial) || accepted.is_empty() {
            // Refused for good or none taken: every refusal is reported,
            // the 452s included, in the order of the recipients.
            rejected.append(&mut full);
            rejected.sort_by_key(|(m, _)| env.rcpts.iter().position(|r| r == m));
            self.abandon();
            return Err(Error::new(
                Stage::Rcpt,
                "RCPT",
                ErrorKind::Rejected(rejected),
            ));
        }
        let mut deferred: Vec<Mailbox> = full.into_iter().map(|(m, _)| m).collect();
        deferred.extend_from_slice(&env.rcpts[(index - 1).min(env.rcpts.len())..]);

        let transfer = if env.uses_bdat(&self.caps) {
            self.send_bdat(env, message)
        } else {
            self.send_data(env, message)
        };
        let replies = transfer
            .and_then(|_| self.final_replies(&accepted))
            .inspect_err(|_| self.refused = rejected.clone())?;
        Ok(Sent {
            reply: replies[0].1.clone(),
            deferred,
            refused: rejected,
            replies,
        })
    }

    /// DATA, the message dot-stuffed, the end marker (RFC 5321 §4.1.1.4).
    /// Returns the message size.
    fn send_data(&mut self, env: &SendEnvelope, message: &mut impl BufRead) -> Result<u64, Error> {
        let r = self.command(Stage::Data, &Command::Data)?;
        if r.code != 354 {
            if r.code / 100 == 2 || r.code / 100 == 3 {
                self.state = State::Broken;
                return Err(Error::new(
                    Stage::Data,
                    "DATA",
                    ErrorKind::Protocol(format!("reply {} instead of 354", r.code), Some(r)),
                ));
            }
            self.abandon();
            return Err(self.negative(Stage::Data, "DATA refused", r));
        }
        let block = self.arm_blocks();
        let binary_as_text = self.binary_as_text(env);
        let opts = StuffOptions {
            bare: self.bare_for(env),
            eight_bit: env.eight_bit,
            ..StuffOptions::default()
        };
        let sent = dot::write_data(message, self.io.get_mut(), &opts)
            .and_then(|sent| {
                self.io.get_mut().flush().map_err(StuffError::Write)?;
                Ok(sent)
            })
            .map_err(|e| {
                // The end marker was not sent: the server must not see
                // anything more, so the connection is given up.
                self.state = State::Broken;
                let kind = match e {
                    StuffError::Read(e) => ErrorKind::Input(e),
                    StuffError::Write(e) => ErrorKind::Io(self.expired(e, TimeLimit::Send(block))),
                    e => ErrorKind::Unsendable(unsendable_why(&e, binary_as_text)),
                };
                Error::new(Stage::Data, "sending the message", kind)
            })?;
        log(
            &mut self.transcript,
            "C: ",
            format!("<message: {} bytes>", sent.size).as_bytes(),
        );
        log(&mut self.transcript, "C: ", b".");
        Ok(sent.size)
    }

    /// The message in BDAT chunks (RFC 3030 §2), the last one `LAST`; each
    /// chunk's reply is read before the next is sent, so a refusal stops
    /// the transfer at once (§4.2) and RSET ends the transaction cleanly:
    /// unlike DATA, a message found unsendable half way leaves the
    /// connection usable. Text is sent with CRLF line ends and no
    /// dot-stuffing; binary ([`SendEnvelope::sends_binary`]) byte for byte.
    /// Returns the message size.
    fn send_bdat(&mut self, env: &SendEnvelope, message: &mut impl BufRead) -> Result<u64, Error> {
        let mut norm = Canonical::new(
            !env.sends_binary(&self.caps),
            env.eight_bit || env.sends_binary(&self.caps),
            self.bare_for(env),
        );
        let binary_as_text = self.binary_as_text(env);
        let mut block = Vec::with_capacity(BDAT_CHUNK + 2 * BDAT_FEED);
        let mut size = 0u64;
        loop {
            let step = match crate::io::lines::fill(message) {
                Ok([]) => None,
                Ok(chunk) => {
                    let take = chunk.len().min(BDAT_FEED);
                    Some(norm.push(&chunk[..take], &mut block).map(|()| take))
                }
                Err(e) => Some(Err(StuffError::Read(e))),
            };
            let last = match step {
                Some(Ok(take)) => {
                    message.consume(take);
                    false
                }
                None => match norm.finish(&mut block) {
                    Ok(()) => true,
                    Err(e) => return Err(self.bdat_unsendable(e, binary_as_text)),
                },
                Some(Err(e)) => return Err(self.bdat_unsendable(e, binary_as_text)),
            };
            if last {
                size += block.len() as u64;
                self.bdat_chunk(&block, true)?;
                return Ok(size);
            }
            // Chunks of exactly BDAT_CHUNK octets; the rest waits.
            while block.len() >= BDAT_CHUNK {
                self.bdat_chunk(&block[..BDAT_CHUNK], false)?;
                size += BDAT_CHUNK as u64;
                block.drain(..BDAT_CHUNK);
            }
        }
    }

    /// Sends one `BDAT n [LAST]` with its octets; for a chunk before the
    /// last, reads its reply (250 to go on).
    fn bdat_chunk(&mut self, chunk: &[u8], last: bool) -> Result<(), Error> {
        let cmd = if last {
            format!("BDAT {} LAST", chunk.len())
        } else {
            format!("BDAT {}", chunk.len())
        };
        log(&mut self.transcript, "C: ", cmd.as_bytes());
        log(
            &mut self.transcript,
            "C: ",
            format!("<{} octets>", chunk.len()).as_bytes(),
        );
        if !self.io.buffer().is_empty() {
            return Err(self.unsolicited(Stage::Data, "BDAT"));
        }
        let block = self.arm_blocks();
        let stream = self.io.get_mut();
        let written = stream
            .write_all(cmd.as_bytes())
            .and_then(|()| stream.write_all(b"\r\n"))
            .and_then(|()| stream.write_all(chunk))
            .and_then(|()| stream.flush());
        if let Err(e) = written {
            self.state = State::Broken;
            let e = self.expired(e, TimeLimit::Send(block));
            return Err(Error::new(Stage::Data, "BDAT", ErrorKind::Io(e)));
        }
        if last {
            return Ok(());
        }
        let r = self.read(Stage::Data, "BDAT")?;
        match r.code / 100 {
            2 => Ok(()),
            4 | 5 => {
                // RFC 3030 §4.2: no more chunks; the transaction failed.
                self.abandon();
                Err(self.negative(Stage::Data, "BDAT refused", r))
            }
            _ => {
                self.state = State::Broken;
                Err(Error::new(
                    Stage::Data,
                    "BDAT",
                    ErrorKind::Protocol(format!("reply {} to BDAT", r.code), Some(r)),
                ))
            }
        }
    }

    /// A BDAT transfer stopped by the message itself (or by reading it):
    /// no LAST chunk was sent, so RSET discards what the server has
    /// (RFC 3030 §2) and the connection stays usable.
    fn bdat_unsendable(&mut self, e: StuffError, binary_as_text: bool) -> Error {
        let kind = match e {
            StuffError::Read(e) => ErrorKind::Input(e),
            StuffError::Write(e) => {
                self.state = State::Broken;
                ErrorKind::Io(e)
            }
            e => ErrorKind::Unsendable(unsendable_why(&e, binary_as_text)),
        };
        self.abandon();
        Error::new(Stage::Data, "sending the message", kind)
    }

    /// The reply after the message: one in SMTP (a refusal is an error);
    /// in LMTP one per accepted recipient, in RCPT order (RFC 2033 §4.2),
    /// each taken as it is. A 421 among them ends the session: it stands
    /// for the recipients still waiting too.
    fn final_replies(&mut self, accepted: &[Mailbox]) -> Result<Vec<(Mailbox, Reply)>, Error> {
        if !self.lmtp {
            let r = self.read(Stage::Dot, "end of data")?;
            return match r.code / 100 {
                2 => Ok(accepted.iter().map(|m| (m.clone(), r.clone())).collect()),
                4 | 5 => Err(self.negative(Stage::Dot, "message refused", r)),
                _ => {
                    self.state = State::Broken;
                    Err(Error::new(
                        Stage::Dot,
                        "end of data",
                        ErrorKind::Protocol(
                            format!("reply {} to the end of data", r.code),
                            Some(r),
                        ),
                    ))
                }
            };
        }
        let mut replies: Vec<(Mailbox, Reply)> = Vec::with_capacity(accepted.len());
        for m in accepted {
            if let Some((_, r)) = replies.last()
                && r.code == 421
            {
                let r = r.clone();
                replies.push((m.clone(), r));
                continue;
            }
            let r = match self.read(Stage::Dot, "end of data") {
                Ok(r) => r,
                // Some recipients answered already: what they were told
                // stands; the error is for the others.
                Err(e) if !replies.is_empty() => {
                    let why = e.to_string();
                    let r = Reply::new(421, Some((4, 4, 2)), why);
                    replies.push((m.clone(), r));
                    continue;
                }
                Err(e) => return Err(e),
            };
            if !matches!(r.code / 100, 2 | 4 | 5) {
                self.state = State::Broken;
                if !replies.is_empty() {
                    // As for a lost connection: those answered keep their
                    // answer (an error would have the delivered ones sent
                    // again), this one and the rest wait.
                    let why = format!("protocol error: reply {} to the end of data", r.code);
                    replies.push((m.clone(), Reply::new(421, Some((4, 4, 2)), why)));
                    continue;
                }
                return Err(Error::new(
                    Stage::Dot,
                    "end of data",
                    ErrorKind::Protocol(format!("reply {} to the end of data", r.code), Some(r)),
                ));
            }
            replies.push((m.clone(), r));
        }
        Ok(replies)
    }

    /// Binary MIME ([`SendEnvelope::binary`]) that goes as text because
    /// the server lacks BINARYMIME or CHUNKING (or `--no-chunking`).
    fn binary_as_text(&self, env: &SendEnvelope) -> bool {
        env.binary && !env.sends_binary(&self.caps)
    }

    /// How bare CR and LF are treated in `env`'s message: in binary MIME
    /// sent as text they are data that CRLF would alter (RFC 3030 §3, RFC
    /// 6152 §3: 8BITMIME text has CR and LF only as CRLF), so the message
    /// is refused rather than changed.
    fn bare_for(&self, env: &SendEnvelope) -> BareNewline {
        if self.binary_as_text(env) {
            BareNewline::Reject
        } else {
            self.bare
        }
    }

    /// Sends RSET (RFC 5321 §4.1.1.5): abandons the transaction.
    pub fn rset(&mut self) -> Result<(), Error> {
        let r = self.command(Stage::Rset, &Command::Rset)?;
        if r.code / 100 == 2 {
            Ok(())
        } else {
            Err(self.negative(Stage::Rset, "RSET refused", r))
        }
    }

    /// Sends QUIT and reads the 221 (RFC 5321 §4.1.1.10), then flushes the
    /// transcript. Does nothing on a connection that is not usable. The
    /// server closing without a reply is not an error; a message accepted
    /// before stays accepted whatever this returns.
    pub fn quit(mut self) -> Result<(), Error> {
        let result = if self.state == State::Open {
            match self.command(Stage::Quit, &Command::Quit) {
                Ok(r) if r.code / 100 == 2 => Ok(()),
                Ok(r) => Err(self.negative(Stage::Quit, "QUIT refused", r)),
                // The server hung up first: the session is over anyway.
                Err(e)
                    if matches!(&e.kind, ErrorKind::Io(io) if matches!(
                        io.kind(),
                        io::ErrorKind::UnexpectedEof
                            | io::ErrorKind::BrokenPipe
                            | io::ErrorKind::ConnectionReset
                    )) =>
                {
                    Ok(())
                }
                Err(e) => Err(e),
            }
        } else {
            Ok(())
        };
        if let Some(t) = &mut self.transcript {
            let _ = t.flush();
        }
        result
    }

    /// [`Client::quit`] after a failure, best effort: the wait for the
    /// reply is at most `timeout` (or the shorter `--timeout`) instead of
    /// RFC 5321's five minutes, since nothing depends on it. Errors are
    /// ignored.
    pub fn quit_within(mut self, timeout: Duration) {
        if self.state != State::Open {
            return;
        }
        self.reply_timeout = Some(self.reply_timeout.map_or(timeout, |t| t.min(timeout)));
        let _ = self.quit();
    }

    // --- internals ---

    fn unusable(&self, stage: Stage) -> Error {
        let why = match self.state {
            State::TlsPending => "the session is waiting for the TLS handshake",
            _ => "the connection can no longer be used",
        };
        Error::new(
            stage,
            stage.to_string(),
            ErrorKind::Io(io::Error::new(io::ErrorKind::NotConnected, why)),
        )
    }

    /// An error for a negative (or unexpected) reply. 421 means the server
    /// is closing the connection (RFC 5321 §3.8).
    fn negative(&mut self, stage: Stage, what: impl Into<String>, r: Reply) -> Error {
        if r.code == 421 {
            self.state = State::Broken;
        }
        if matches!(r.code / 100, 4 | 5) {
            Error::new(stage, what, ErrorKind::Reply(r))
        } else {
            self.state = State::Broken;
            let why = format!("unexpected reply {}", r.code);
            Error::new(stage, stage.to_string(), ErrorKind::Protocol(why, Some(r)))
        }
    }

    /// After a refused MAIL, RCPT or DATA: RSET, best effort (an error
    /// here leaves the client unusable, which the caller sees).
    fn abandon(&mut self) {
        if self.state == State::Open && self.rset().is_err() {
            // A refused RSET: the server's state is unknown.
            self.state = State::Broken;
        }
    }

    /// The limit of a wait at `stage`: `--timeout`, or RFC 5321
    /// §4.5.3.2's.
    fn limit(&self, stage: Stage) -> Duration {
        self.reply_timeout.unwrap_or_else(|| timeout(stage))
    }

    /// Every read and write from now on ends by `until` (or the session's
    /// end, if sooner) and within `each` of its start.
    fn arm(&mut self, until: Option<Instant>, each: Option<Duration>) {
        let until = match (until, self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.io.get_mut().limit(until, each);
    }

    /// Arms the stream for message text: each block written within
    /// RFC 5321 §4.5.3.2.5's time (or `--timeout`), which it returns.
    fn arm_blocks(&mut self) -> Duration {
        let block = self.reply_timeout.unwrap_or(TIMEOUT_DATA_BLOCK);
        self.arm(None, Some(block));
        block
    }

    /// `e` with the limit that ended it, when it is a timeout: the
    /// session's end once it has passed, else `limit`.
    fn expired(&self, e: io::Error, limit: TimeLimit) -> io::Error {
        if !matches!(
            e.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        ) {
            return e;
        }
        let limit = match self.deadline {
            Some(d) if Instant::now() >= d => TimeLimit::Session,
            _ => limit,
        };
        io::Error::new(io::ErrorKind::TimedOut, limit)
    }

    /// Sends one command and reads its reply.
    fn command(&mut self, stage: Stage, c: &Command) -> Result<Reply, Error> {
        let line = Line::command(stage, c)?;
        self.write_lines(stage, &stage.to_string(), &[line])?;
        self.read(stage, &stage.to_string())
    }

    /// Writes `lines` in one write and flushes. Refuses when the server
    /// sent something no command asked for (a 421 is reported as such).
    fn write_lines(&mut self, stage: Stage, what: &str, lines: &[Line]) -> Result<(), Error> {
        if self.state != State::Open {
            return Err(self.unusable(stage));
        }
        if !self.io.buffer().is_empty() {
            return Err(self.unsolicited(stage, what));
        }
        let mut batch = Vec::with_capacity(lines.iter().map(|l| l.wire.len()).sum());
        for l in lines {
            log(&mut self.transcript, "C: ", l.shown.as_bytes());
            batch.extend_from_slice(&l.wire);
        }
        let t = self.reply_timeout.unwrap_or(TIMEOUT_OTHER);
        self.arm(Some(Instant::now() + t), None);
        let stream = self.io.get_mut();
        if let Err(e) = stream.write_all(&batch).and_then(|()| stream.flush()) {
            self.state = State::Broken;
            let e = self.expired(e, TimeLimit::Send(t));
            return Err(Error::new(stage, what, ErrorKind::Io(e)));
        }
        Ok(())
    }

    /// The server sent a reply nobody asked for. A 421 (the server is
    /// shutting down, RFC 5321 §3.8) is reported as a reply; anything else
    /// is a protocol error.
    fn unsolicited(&mut self, stage: Stage, what: &str) -> Error {
        self.state = State::Broken;
        match self.read(stage, what) {
            Ok(r) if r.code == 421 => Error::new(stage, what, ErrorKind::Reply(r)),
            Ok(r) => Error::new(
                stage,
                what,
                ErrorKind::Protocol("a reply before the command was sent".into(), Some(r)),
            ),
            Err(e) => e,
        }
    }

    /// Reads one reply, logging its lines.
    fn read(&mut self, stage: Stage, what: &str) -> Result<Reply, Error> {
        self.read_since(stage, what, Instant::now())
    }

    /// Reads one reply, which must be complete within the limit of
    /// `stage` from `since`.
    fn read_since(&mut self, stage: Stage, what: &str, since: Instant) -> Result<Reply, Error> {
        let limit = self.limit(stage);
        self.arm(Some(since + limit), None);
        let t = &mut self.transcript;
        match reply::read_reply_with(&mut self.io, |line| log(t, "S: ", line)) {
            Ok(r) => {
                if r.code == 421 {
                    self.state = State::Broken;
                }
                Ok(r)
            }
            Err(e) => {
                self.state = State::Broken;
                let kind = match e {
                    ReplyError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        ErrorKind::Io(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the server closed the connection",
                        ))
                    }
                    ReplyError::Io(e) => ErrorKind::Io(self.expired(e, TimeLimit::Reply(limit))),
                    e => ErrorKind::Protocol(e.to_string(), None),
                };
                Err(Error::new(stage, what, kind))
            }
        }
    }
}

#[cfg(test)]
mod tests;
