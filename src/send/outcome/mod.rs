//! Per-recipient results of a delivery attempt, and the exit code of a set
//! of them.
//!
//! SMTP answers per recipient twice: at `RCPT` (RFC 5321 §4.1.1.3) and, in
//! LMTP (RFC 2033 §4.2), once more after the message. A [`RcptResult`]
//! records the last answer that counts for one recipient, the stage it came
//! at, and which server gave it. `smtp-send --json` prints one
//! [`RcptResult::json`] object per line; the queue, MX and `-bs` code build
//! on the same records.
//!
//! # Exit code of a set of results ([`exit_code`])
//!
//! | results                                   | exit |
//! |-------------------------------------------|------|
//! | every recipient delivered (or none)       | 0    |
//! | some refused for good at `RCPT`           | 67   |
//! | some refused for good at MAIL, DATA or after the message | 69 |
//! | some deferred (4xx, no connection)        | 75   |
//!
//! When several apply the highest wins, as everywhere in `mailpipe(7)`
//! ("the exit status is then the highest one seen"): a deferred recipient
//! (75) outranks a refused one, since the message still has to be kept and
//! tried again for it.

use std::fmt;

use serde_json::{Value, json};

use crate::exit;
use crate::exit::Status as _;
use crate::send::error::Error;
use crate::smtp::client::{self, Stage};
use crate::smtp::envelope::Mailbox;
use crate::smtp::reply::Reply;

/// What became of the message for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// The server took responsibility for it (2xx at the end of data; in
    /// LMTP, this recipient's own 2xx).
    Delivered,
    /// Not delivered, try later: a 4xx reply, no connection, a lost
    /// connection, a timeout.
    Deferred,
    /// Not delivered, for good: a 5xx reply (or the message was not sent to
    /// this recipient because another was refused, without `--partial`).
    Rejected,
}

impl Status {
    /// `"delivered"`, `"deferred"` or `"rejected"` (the JSON `status`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Delivered => "delivered",
            Status::Deferred => "deferred",
            Status::Rejected => "rejected",
        }
    }

    /// The status a reply code means: 2xx delivered, 4xx deferred, anything
    /// else rejected.
    pub fn of_code(code: u16) -> Status {
        match code / 100 {
            2 => Status::Delivered,
            4 => Status::Deferred,
            _ => Status::Rejected,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcptResult {
    /// The recipient (RCPT TO).
    pub rcpt: Mailbox,
    /// What became of it.
    pub status: Status,
    /// The server's reply that decided it (`None`: no reply, e.g. no
    /// connection, or not sent because another recipient was refused).
    pub reply: Option<Reply>,
    /// One line: the reply's text, or why there is no reply (the connection
    /// error).
    pub detail: String,
    /// The server, as given (`-S`, an MX host, `pipe "cmd"`); empty when
    /// none was reached.
    pub server: String,
    /// The stage the deciding reply answered: [`Stage::Rcpt`] for a refusal
    /// of the recipient (exit 67), [`Stage::Dot`] for the answer after the
    /// message, [`Stage::Mail`]/[`Stage::Data`] for a refusal of the whole
    /// transaction, [`Stage::Connect`] when no session was had.
    pub stage: Stage,
    /// How the session that gave it was protected; `None` when there was
    /// no session (or it is not known, as for a queued message's old
    /// results).
    pub tls: Option<Protection>,
}

/// How a session was protected (`--json`'s `"tls"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// No TLS: cleartext (`smtp+plain://`, a server without STARTTLS,
    /// `--pipe`).
    None,
    /// TLS, and the server's certificate verified (or matched the pin).
    Verified,
    /// TLS whose certificate did not verify, and why: `smtp://` without
    /// credentials (RFC 7435), `--tls-insecure`.
    Unverified(String),
}

impl RcptResult {
    /// The result a reply gives `rcpt` at `stage` (status from the code,
    /// detail from the text).
    pub fn from_reply(rcpt: Mailbox, stage: Stage, reply: Reply, server: &str) -> RcptResult {
        RcptResult {
            rcpt,
            status: Status::of_code(reply.code),
            detail: one_line(&reply),
            reply: Some(reply),
            server: server.to_owned(),
            stage,
            tls: None,
        }
    }

    /// A result without a reply (no connection, not sent), with its reason.
    pub fn without_reply(
        rcpt: Mailbox,
        status: Status,
        stage: Stage,
        detail: impl Into<String>,
        server: &str,
    ) -> RcptResult {
        RcptResult {
            rcpt,
            status,
            reply: None,
            detail: detail.into(),
            server: server.to_owned(),
            stage,
            tls: None,
        }
    }

    /// Whether the message reached this recipient.
    pub fn is_delivered(&self) -> bool {
        self.status == Status::Delivered
    }

    /// The exit code this result alone gives (see the module docs).
    pub fn exit_code(&self) -> u8 {
        match self.status {
            Status::Delivered => exit::OK,
            Status::Deferred => exit::TEMPFAIL,
            Status::Rejected if self.stage == Stage::Rcpt => exit::NOUSER,
            // The message cannot be sent as it is (RFC 3463 §3.7 media
            // errors, 5.6.x, at MAIL: no 8BITMIME or SMTPUTF8 where it is
            // needed): 65, as when smtp-send finds that out itself.
            Status::Rejected
                if self.stage == Stage::Mail
                    && self
                        .reply
                        .as_ref()
                        .is_some_and(|r| matches!(r.enhanced, Some((5, 6, _)))) =>
            {
                exit::DATAERR
            }
            Status::Rejected => exit::UNAVAILABLE,
        }
    }

    /// The `--json` object: `{"recipient", "status", "code", "enhanced",
    /// "text", "server", "stage", "tls"}`; `code` and `enhanced`
    /// (`"5.1.1"`) are `null` without a reply (or without an enhanced
    /// code); `tls` is `"none"`, `"verified"`, `"unverified"` (with
    /// `"tls_unverified"` saying why) or `null` without a session.
    pub fn json(&self) -> Value {
        let code = self.reply.as_ref().map(|r| r.code);
        let enhanced = self
            .reply
            .as_ref()
            .and_then(|r| r.enhanced)
            .map(|(c, s, d)| format!("{c}.{s}.{d}"));
        let mut v = json!({
            "recipient": self.rcpt.to_string(),
            "status": self.status.as_str(),
            "code": code,
            "enhanced": enhanced,
            "text": self.detail,
            "server": self.server,
            // The stage's own (variant) name, lower-cased: "rcpt", "dot"; one name
            // per stage, so a new stage needs no second table here.
            "stage": format!("{:?}", self.stage).to_ascii_lowercase(),
            "tls": match &self.tls {
                None => Value::Null,
                Some(Protection::None) => "none".into(),
                Some(Protection::Verified) => "verified".into(),
                Some(Protection::Unverified(_)) => "unverified".into(),
            },
        });
        if let Some(Protection::Unverified(why)) = &self.tls {
            v["tls_unverified"] = why.as_str().into();
        }
        v
    }
}

impl fmt::Display for RcptResult {
    /// `<rcpt>: rejected: 550 5.1.1 no such user`, or without a reply
    /// `<rcpt>: deferred: connection refused` (one line, `RECIPIENT:
    /// status: reply or why`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>: {}", self.rcpt, self.status)?;
        if let Some(r) = &self.reply {
            write!(f, ": {:03}", r.code)?;
            if let Some((c, s, d)) = r.enhanced {
                write!(f, " {c}.{s}.{d}")?;
            }
            if !self.detail.is_empty() {
                write!(f, " {}", self.detail)?;
            }
        } else if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// A reply's text on one line (lines joined with a space), without the
/// codes; at most 2000 characters.
pub fn one_line(r: &Reply) -> String {
    let mut s = r.text().replace(['\r', '\n'], " ");
    if s.chars().count() > 2000 {
        s = s.chars().take(2000).collect::<String>() + "…";
    }
    s
}

/// The exit code of a set of results: 0 all delivered (or no results); 67
/// some refused at RCPT; 69 some refused at MAIL, DATA or after the
/// message; 75 some deferred. The highest applicable wins (module docs).
pub fn exit_code(results: &[RcptResult]) -> u8 {
    results
        .iter()
        .map(RcptResult::exit_code)
        .max()
        .unwrap_or(exit::OK)
}

/// The same result for every recipient in `rcpts`: when a whole attempt
/// failed before any recipient had an answer of its own (no connection,
/// TLS, a refused MAIL). `transient` chooses [`Status::Deferred`] over
/// [`Status::Rejected`].
pub fn all(
    rcpts: &[Mailbox],
    transient: bool,
    stage: Stage,
    reply: Option<&Reply>,
    detail: &str,
    server: &str,
) -> Vec<RcptResult> {
    let status = if transient {
        Status::Deferred
    } else {
        Status::Rejected
    };
    rcpts
        .iter()
        .map(|m| RcptResult {
            rcpt: m.clone(),
            status,
            reply: reply.cloned(),
            detail: detail.to_owned(),
            server: server.to_owned(),
            stage,
            tls: None,
        })
        .collect()
}

/// The results for `rcpts` when an attempt to send to them failed with
/// `err` (see `Session::send`): recipients the
/// server refused at RCPT get their own reply; the others were not sent
/// the message because of them (no reply; deferred when every refusal was
/// temporary, else rejected). Any other error gives every recipient the
/// same result: its reply if there was one, its class (75 deferred, else
/// rejected) and its text.
pub fn from_error(rcpts: &[Mailbox], err: &Error, server: &str) -> Vec<RcptResult> {
    let transient = err.exit_code() == crate::exit::TEMPFAIL;
    if let Error::Smtp { err: e, .. } = err {
        if let client::ErrorKind::Rejected(list) = e.kind() {
            return rcpts
                .iter()
                .map(|m| match list.iter().find(|(r, _)| r == m) {
                    Some((_, reply)) => {
                        RcptResult::from_reply(m.clone(), Stage::Rcpt, reply.clone(), server)
                    }
                    None => RcptResult::without_reply(
                        m.clone(),
                        if transient {
                            Status::Deferred
                        } else {
                            Status::Rejected
                        },
                        Stage::Rcpt,
                        NOT_SENT,
                        server,
                    ),
                })
                .collect();
        }
        let detail = match e.reply() {
            Some(r) if matches!(e.kind(), client::ErrorKind::Reply(_)) => one_line(r),
            _ => e.to_string(),
        };
        return all(rcpts, transient, e.stage(), e.reply(), &detail, server);
    }
    let stage = match err {
        Error::Connect(_) | Error::Tls { .. } => Stage::Connect,
        _ => Stage::Mail,
    };
    all(rcpts, transient, stage, None, &err.to_string(), server)
}

/// The detail of a recipient the message was not sent to because another
/// was refused.
pub const NOT_SENT: &str =
    "not sent: another recipient was refused (--partial sends to the others)";

/// One line saying what went wrong for the recipients that do not have the
/// message, `None` when all do; e.g. `mx:25: RCPT TO:<a@x> refused: 550
/// 5.1.1 no such user (message not sent)`. Recipients left out only
/// because of another's refusal are not named.
pub fn summary(results: &[RcptResult]) -> Option<String> {
    let delivered = results.iter().filter(|r| r.is_delivered()).count();
    if delivered == results.len() {
        return None;
    }
    // Per server, in order of appearance: its distinct reasons.
    let mut servers: Vec<(&str, Vec<String>)> = Vec::new();
    for r in results.iter().filter(|r| !r.is_delivered()) {
        if r.reply.is_none() && r.detail == NOT_SENT {
            continue;
        }
        let part = match (&r.reply, r.stage) {
            (Some(reply), Stage::Rcpt) => format!("RCPT TO:<{}> refused: {}", r.rcpt, coded(reply)),
            (Some(reply), Stage::Mail) => format!("MAIL refused: {}", coded(reply)),
            (Some(reply), Stage::Data) => format!("DATA refused: {}", coded(reply)),
            (Some(reply), Stage::Dot) if results.len() > 1 && reply_differs(results, reply) => {
                format!("message refused for <{}>: {}", r.rcpt, coded(reply))
            }
            (Some(reply), Stage::Dot) => format!("message refused: {}", coded(reply)),
            (Some(reply), stage) => format!("{stage}: {}", coded(reply)),
            (None, _) => r.detail.clone(),
        };
        match servers.iter_mut().find(|(s, _)| *s == r.server) {
            Some((_, parts)) => {
                if !parts.contains(&part) {
                    parts.push(part);
                }
            }
            None => servers.push((&r.server, vec![part])),
        }
    }
    let mut line = servers
        .iter()
        .map(|(s, parts)| {
            if s.is_empty() {
                parts.join("; ")
            } else {
                format!("{s}: {}", parts.join("; "))
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    if delivered == 0 {
        line.push_str(" (message not sent)");
    } else {
        line.push_str(&format!(
            " (delivered to {delivered} of {} recipients)",
            results.len()
        ));
    }
    Some(line)
}

/// Whether recipients got different replies after the message (LMTP).
fn reply_differs(results: &[RcptResult], reply: &Reply) -> bool {
    results
        .iter()
        .any(|r| r.stage == Stage::Dot && r.reply.as_ref() != Some(reply))
}

/// `550 5.1.1 text` (also the `--log` lines' `reply=`).
pub(crate) fn coded(r: &Reply) -> String {
    let mut s = format!("{:03}", r.code);
    if let Some((c, sub, d)) = r.enhanced {
        s.push_str(&format!(" {c}.{sub}.{d}"));
    }
    let text = one_line(r);
    if !text.is_empty() {
        s.push(' ');
        s.push_str(&text);
    }
    s
}

#[cfg(test)]
mod tests;
