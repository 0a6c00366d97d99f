//! Failure injection (`smtp-recv --reply`, `--reply-once`, `--disconnect`,
//! `--delay`): the rules ([`Injection`], read by [`parse_injection`]) and
//! what they decide at a [`Stage`] of a session. The session
//! ([`super::Session`]) asks [`decide`] where its normal success reply would
//! go; the counters live in the rules, hence in the shared
//! [`super::Config`], so a client that retries in a new connection sees
//! the next attempt.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::io::glob::glob;
use crate::limits;
use crate::smtp::envelope;
use crate::smtp::reply::{Reply, split_enhanced};
use crate::smtp::stage::Stage;

/// The stages an injection can act at, by their command-line words, in
/// protocol order. The words are the interface (`--reply helo=...`), so
/// they are spelled here and not derived from [`Stage`]'s names.
const STAGES: [(&str, Stage); 8] = [
    ("connect", Stage::Connect),
    ("helo", Stage::Ehlo),
    ("mail", Stage::Mail),
    ("rcpt", Stage::Rcpt),
    ("data", Stage::Data),
    ("dot", Stage::Dot),
    ("rset", Stage::Rset),
    ("quit", Stage::Quit),
];

/// The stage of a command-line word (case-insensitive).
fn stage_of(word: &str) -> Option<Stage> {
    STAGES
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(word))
        .map(|&(_, s)| s)
}

/// The command-line word of a stage an injection can act at.
fn word(stage: Stage) -> &'static str {
    STAGES
        .iter()
        .find(|&&(_, s)| s == stage)
        .map_or("?", |&(w, _)| w)
}

/// What an injection does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InjectAction {
    /// Answer with this code and text (the text may start with an enhanced
    /// code `x.y.z`; otherwise `x.0.0` is added when enhanced codes are on).
    Reply(u16, String),
    /// Close the connection without a reply.
    Disconnect,
    /// Wait this long before replying.
    Delay(Duration),
}

/// One failure injection. Its counter is shared by every session that uses
/// the same [`Config`](super::Config).
#[derive(Debug)]
pub struct Injection {
    /// Where it acts.
    pub stage: Stage,
    /// Glob on the address (`*` matches any run of characters, matching is
    /// case-insensitive); only for the mail and rcpt stages.
    pub pattern: Option<String>,
    /// What it does.
    pub action: InjectAction,
    /// Act only the first N times it matches (across all connections), then
    /// let commands through; `None`: every time.
    pub times: Option<u32>,
    fired: AtomicU32,
}

impl Injection {
    /// A new injection with its counter at zero.
    pub fn new(
        stage: Stage,
        pattern: Option<String>,
        action: InjectAction,
        times: Option<u32>,
    ) -> Injection {
        Injection {
            stage,
            pattern,
            action,
            times,
            fired: AtomicU32::new(0),
        }
    }

    /// How many times it has acted.
    pub fn fired(&self) -> u32 {
        self.fired.load(Ordering::SeqCst)
    }

    fn matches(&self, stage: Stage, addr: Option<&str>) -> bool {
        self.stage == stage
            && match (&self.pattern, addr) {
                (None, _) => true,
                (Some(p), Some(a)) => glob(p, a),
                (Some(_), None) => false,
            }
    }

    /// Takes one use, atomically: false once `times` are used up.
    fn try_fire(&self) -> bool {
        match self.times {
            None => {
                self.fired.fetch_add(1, Ordering::SeqCst);
                true
            }
            Some(max) => self
                .fired
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n < max).then_some(n + 1)
                })
                .is_ok(),
        }
    }
}

/// Longest injected reply text: a reply line is at most 512 octets (RFC
/// 5321 §4.5.3.1.5) and the code, enhanced code and CRLF need some.
const MAX_INJECT_TEXT: usize = 400;
/// Longest injected delay (the whole-session deadline's default).
const MAX_INJECT_DELAY: u64 = limits::SMTP_SESSION_DEADLINE_SECS;

/// Parses one failure-injection option. `kind` is the option name without
/// dashes: `reply`, `reply-once`, `disconnect` or `delay`. Syntax of `spec`:
///
/// ```text
/// --reply       [N:]STAGE[:PATTERN]=CODE[ TEXT]
/// --reply-once  [N:]STAGE[:PATTERN]=CODE[ TEXT]   (N defaults to 1)
/// --disconnect  [N:]STAGE[:PATTERN]
/// --delay       [N:]STAGE[:PATTERN]=SECONDS       (decimal, up to 3600)
/// ```
///
/// - STAGE: connect, helo, mail, rcpt, data, dot, rset, quit.
/// - PATTERN (mail and rcpt only): a glob on the address as sent (without
///   brackets; the null sender is the empty string, matched by `*`), `*`
///   for any run of characters, case-insensitive, at most 256 octets. It
///   cannot contain `=` or spaces.
/// - `N:` acts only the first N times the stage (and pattern) matches,
///   counted across all connections of the server, then lets the command
///   through: `--reply-once rcpt=451` refuses the first RCPT once, so a
///   client's retry in a new connection succeeds; `--reply-once
///   3:dot=451 busy` refuses three messages in a row.
/// - CODE: three digits 200-599. A positive code replaces the normal
///   reply's text and the command proceeds; it must be 3xx at the data stage
///   (the 354) and 2xx elsewhere. 421 also closes the connection
///   (RFC 5321 §3.8). TEXT is optional, at most 400 octets, without control
///   characters; it may start with an enhanced code (`451 4.3.0 busy`)
///   whose class must match CODE's.
pub fn parse_injection(kind: &str, spec: &str) -> Result<Injection, String> {
    let (head, value) = match spec.split_once('=') {
        Some((h, v)) => (h, Some(v)),
        None => (spec, None),
    };
    let (mut first, mut rest) = match head.split_once(':') {
        Some((f, r)) => (f, Some(r)),
        None => (head, None),
    };
    let mut times = None;
    if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) {
        let n: u32 = first
            .parse()
            .map_err(|_| format!("bad count '{first}' in '{spec}'"))?;
        if n == 0 {
            return Err(format!("count must be at least 1 in '{spec}'"));
        }
        times = Some(n);
        (first, rest) = match rest.and_then(|r| r.split_once(':')) {
            Some((f, r)) => (f, Some(r)),
            None => (rest.unwrap_or(""), None),
        };
    }
    let stage = stage_of(first).ok_or_else(|| {
        format!(
            "unknown stage '{first}' in '{spec}' (connect, helo, mail, rcpt, data, dot, rset, quit)"
        )
    })?;
    let pattern = rest.map(str::to_owned);
    if let Some(p) = &pattern {
        if !matches!(stage, Stage::Mail | Stage::Rcpt) {
            return Err(format!(
                "an address pattern applies only to the mail and rcpt stages: '{spec}'"
            ));
        }
        if p.is_empty()
            || p.len() > envelope::MAX_PATH
            || p.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(format!("bad address pattern in '{spec}'"));
        }
    }
    let action = match kind {
        "reply" | "reply-once" => {
            if kind == "reply-once" && times.is_none() {
                times = Some(1);
            }
            let v = value.ok_or_else(|| format!("missing '=CODE [TEXT]' in '{spec}'"))?;
            let (code, text) = parse_reply_value(stage, v)?;
            InjectAction::Reply(code, text)
        }
        "disconnect" => {
            if value.is_some() {
                return Err(format!("--disconnect takes STAGE[:PATTERN] only: '{spec}'"));
            }
            InjectAction::Disconnect
        }
        "delay" => {
            let v = value.ok_or_else(|| format!("missing '=SECONDS' in '{spec}'"))?;
            let secs: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s <= MAX_INJECT_DELAY as f64)
                .ok_or_else(|| format!("bad delay '{v}' (0 to {MAX_INJECT_DELAY} seconds)"))?;
            InjectAction::Delay(Duration::from_secs_f64(secs))
        }
        _ => return Err(format!("unknown injection kind '{kind}'")),
    };
    Ok(Injection::new(stage, pattern, action, times))
}

/// `CODE[ TEXT]` of `--reply`.
fn parse_reply_value(stage: Stage, v: &str) -> Result<(u16, String), String> {
    let (code, text) = match v.split_once(' ') {
        Some((c, t)) => (c, t),
        None => (v, ""),
    };
    let code_ok = code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit());
    let code: u16 = code
        .parse()
        .ok()
        .filter(|c| code_ok && (200..600).contains(c))
        .ok_or_else(|| format!("bad reply code '{code}' (three digits, 200-599)"))?;
    let positive_ok = match stage {
        Stage::Data => (300..400).contains(&code),
        _ => (200..300).contains(&code),
    };
    if code < 400 && !positive_ok {
        return Err(format!(
            "reply code {code} cannot be used at the {} stage (positive codes: {})",
            word(stage),
            if stage == Stage::Data { "3xx" } else { "2xx" }
        ));
    }
    if text.contains(['\r', '\n']) {
        return Err("reply text must not contain CR or LF".into());
    }
    if text.chars().any(char::is_control) {
        return Err("reply text must not contain control characters".into());
    }
    if text.len() > MAX_INJECT_TEXT {
        return Err(format!("reply text longer than {MAX_INJECT_TEXT} octets"));
    }
    if let Some(((class, _, _), _)) = split_enhanced(text)
        && u16::from(class) != code / 100
    {
        return Err(format!(
            "enhanced code class {class} does not match reply code {code}"
        ));
    }
    Ok((code, text.to_owned()))
}

/// What the injections at one stage decided.
#[derive(Debug)]
pub(super) struct Decision {
    /// Wait this long before carrying out `act`.
    pub(super) delay: Option<Duration>,
    pub(super) act: Act,
}

/// What a session does where its normal reply would go.
#[derive(Debug)]
pub(super) enum Act {
    /// Go on; with `Some`, this positive reply replaces the normal one.
    Proceed(Option<Reply>),
    /// Close without a word.
    Disconnect,
    /// Send this refusal and close (421, or any refusal of QUIT).
    Close(Reply),
    /// Send this refusal; the command has no effect.
    Refuse(Reply),
}

/// The first matching injections at `stage` (one reply or disconnect, one
/// delay, in command-line order), their counters taken. `addr` is the
/// address the mail and rcpt stages match patterns against; `hostname`
/// goes into default texts.
pub(super) fn decide(
    injections: &[Injection],
    stage: Stage,
    addr: Option<&str>,
    hostname: &str,
) -> Decision {
    let mut delay = None;
    let mut chosen: Option<&InjectAction> = None;
    for inj in injections {
        if !inj.matches(stage, addr) {
            continue;
        }
        match &inj.action {
            InjectAction::Delay(d) => {
                if delay.is_none() && inj.try_fire() {
                    delay = Some(*d);
                }
            }
            action => {
                if chosen.is_none() && inj.try_fire() {
                    chosen = Some(action);
                }
            }
        }
    }
    let act = match chosen {
        None => Act::Proceed(None),
        Some(InjectAction::Disconnect) => Act::Disconnect,
        Some(InjectAction::Reply(code, text)) => {
            let reply = injected_reply(stage, *code, text, hostname);
            if reply.is_positive() {
                Act::Proceed(Some(reply))
            } else if reply.code == 421 || stage == Stage::Quit {
                Act::Close(reply)
            } else {
                Act::Refuse(reply)
            }
        }
        Some(InjectAction::Delay(_)) => unreachable!("delays are never chosen"),
    };
    Decision { delay, act }
}

fn injected_reply(stage: Stage, code: u16, text: &str, hostname: &str) -> Reply {
    let (enhanced, text) = match split_enhanced(text) {
        Some((e, rest)) => (Some(e), rest),
        // No enhanced code where the normal reply has none.
        None if stage == Stage::Connect || (stage == Stage::Ehlo && code < 400) => (None, text),
        None if (300..400).contains(&code) => (None, text),
        None => (Some(((code / 100) as u8, 0, 0)), text),
    };
    let text = if !text.is_empty() {
        text.to_owned()
    } else if code == 421 {
        format!("{hostname} Service not available, closing transmission channel")
    } else if stage == Stage::Connect && code < 400 {
        format!("{hostname} ESMTP mailpipe")
    } else if code < 400 {
        "Ok".to_owned()
    } else {
        "Error: injected failure".to_owned()
    };
    Reply::new(code, enhanced, text)
}
