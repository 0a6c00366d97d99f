//! The SMTP envelope: paths and ESMTP parameters (RFC 5321 §4.1.2), and the
//! [`Envelope`] a server session builds for one transaction.
//!
//! The path grammar implemented here (RFC 5321 §4.1.2, with the UTF-8
//! extensions of RFC 6531 §3.3 when allowed):
//!
//! ```text
//! Reverse-path   = Path / "<>"
//! Forward-path   = Path
//! Path           = "<" [ A-d-l ":" ] Mailbox ">"
//! A-d-l          = At-domain *( "," At-domain )     ; source route: checked, then dropped
//! At-domain      = "@" Domain
//! Mailbox        = Local-part "@" ( Domain / address-literal )
//! Local-part     = Dot-string / Quoted-string
//! Dot-string     = Atom *("."  Atom)
//! Atom           = 1*atext                           ; RFC 6531: =/ UTF8-non-ascii
//! Quoted-string  = DQUOTE *QcontentSMTP DQUOTE
//! QcontentSMTP   = qtextSMTP / quoted-pairSMTP
//! qtextSMTP      = %d32-33 / %d35-91 / %d93-126      ; RFC 6531: =/ UTF8-non-ascii
//! quoted-pairSMTP = %d92 %d32-126
//! Domain         = sub-domain *("." sub-domain)
//! sub-domain     = Let-dig [Ldh-str]                 ; RFC 6531: =/ U-label
//! address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
//!                         General-address-literal ) "]"
//! IPv4-address-literal = Snum 3("." Snum)             ; Snum = 1*3DIGIT, 0-255
//! IPv6-address-literal = "IPv6:" IPv6-addr
//! General-address-literal = Standardized-tag ":" 1*dcontent
//! Mail-parameters = esmtp-param *(SP esmtp-param)
//! esmtp-param    = esmtp-keyword ["=" esmtp-value]
//! esmtp-keyword  = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
//! esmtp-value    = 1*(%d33-60 / %d62-126)             ; RFC 6531: =/ UTF8-non-ascii
//! ```
//!
//! `RCPT TO:<Postmaster>` (no domain, any case) is accepted as RFC 5321
//! §4.1.1.3 requires; it becomes a [`Mailbox`] with an empty domain.
//!
//! Size limits (RFC 5321 §4.5.3.1): local part 64 octets (§4.5.3.1.1),
//! domain 255 (§4.5.3.1.2), whole path 256 including `<`, `>` and the source
//! route (§4.5.3.1.3). Past them the path is refused (the session answers
//! 501, as the §4.5.3.1.10 example "501 Path too long" does).
//!
//! Deliberate leniency: none in the path itself. The command parser
//! ([`super::command`]) tolerates spaces after `FROM:`/`TO:` and several
//! spaces between parameters.

use std::fmt;
use std::net::{Ipv6Addr, SocketAddr};

use crate::message::address;

/// RFC 5321 §4.5.3.1.1: longest local part, in octets.
pub const MAX_LOCAL: usize = crate::limits::SMTP_MAX_LOCAL_PART;
/// RFC 5321 §4.5.3.1.2: longest domain, in octets.
pub const MAX_DOMAIN: usize = crate::limits::SMTP_MAX_DOMAIN;
/// RFC 5321 §4.5.3.1.3: longest path including `<`, `>` and the route.
pub const MAX_PATH: usize = crate::limits::SMTP_MAX_PATH;
/// Most ESMTP parameters on one MAIL or RCPT command.
pub const MAX_PARAMS: usize = crate::limits::SMTP_MAX_PARAMS;

/// RFC 5321 §4.1.2 Mailbox, kept as sent: a quoted local part keeps its
/// quotes and backslashes, UTF-8 (RFC 6531) stays UTF-8, an address literal
/// keeps its brackets. `domain` is empty only for `RCPT TO:<Postmaster>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// Local part (Dot-string or Quoted-string, as sent).
    pub local: String,
    /// Domain or address literal (with brackets); empty for `<Postmaster>`.
    pub domain: String,
}

/// `local@domain` as a [`Mailbox`], for unit tests (split at the last `@`,
/// nothing checked).
#[cfg(test)]
pub(crate) fn test_mailbox(s: &str) -> Mailbox {
    let (local, domain) = s.rsplit_once('@').unwrap_or((s, ""));
    Mailbox {
        local: local.into(),
        domain: domain.into(),
    }
}

impl Mailbox {
    /// Whether the address is all ASCII (otherwise it needs SMTPUTF8).
    pub fn is_ascii(&self) -> bool {
        self.local.is_ascii() && self.domain.is_ascii()
    }
}

impl fmt::Display for Mailbox {
    /// `local@domain` (just `local` for `<Postmaster>`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.domain.is_empty() {
            f.write_str(&self.local)
        } else {
            write!(f, "{}@{}", self.local, self.domain)
        }
    }
}

/// The MAIL FROM path: a mailbox or the null sender `<>` (RFC 5321 §4.5.5,
/// used by bounces).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ReversePath {
    /// `<>`.
    #[default]
    Null,
    /// `<local@domain>`.
    Mailbox(Mailbox),
}

impl ReversePath {
    /// Whether this is the null sender `<>`.
    pub fn is_null(&self) -> bool {
        matches!(self, ReversePath::Null)
    }

    /// The mailbox, if not null.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ReversePath::Null => None,
            ReversePath::Mailbox(m) => Some(m),
        }
    }
}

impl fmt::Display for ReversePath {
    /// `""` for the null sender, `local@domain` otherwise (no brackets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => Ok(()),
            ReversePath::Mailbox(m) => m.fmt(f),
        }
    }
}

/// ESMTP parameters of a MAIL or RCPT command (RFC 5321 §4.1.2): keyword
/// upper-cased, value as sent. At most [`MAX_PARAMS`], no keyword twice.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params(pub Vec<(String, Option<String>)>);

impl Params {
    /// The value of `keyword` (case-insensitive): `None` if absent,
    /// `Some(None)` if present without a value.
    pub fn get(&self, keyword: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
            .map(|(_, v)| v.as_deref())
    }

    /// Whether `keyword` (case-insensitive) is present.
    pub fn contains(&self, keyword: &str) -> bool {
        self.get(keyword).is_some()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Params {
    /// Wire form: `KEY=VALUE KEY` separated by single spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(k)?;
            if let Some(v) = v {
                write!(f, "={v}")?;
            }
        }
        Ok(())
    }
}

/// Where a session's client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAddr {
    /// A TCP peer.
    Tcp(SocketAddr),
    /// `--stdio`: the session runs on stdin/stdout (inetd, ssh, `-bs` style).
    Stdio,
}

impl fmt::Display for ClientAddr {
    /// `1.2.3.4:5678`, `[::1]:5678` or `stdio`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAddr::Tcp(a) => a.fmt(f),
            ClientAddr::Stdio => f.write_str("stdio"),
        }
    }
}

/// What a server session knows about the current transaction and its
/// client. `mail_from`/`rcpt_to` are those of the transaction in progress
/// (empty between transactions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The HELO/EHLO argument, as sent ("" before HELO/EHLO).
    pub helo: String,
    /// MAIL FROM path.
    pub mail_from: ReversePath,
    /// MAIL FROM parameters (SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH).
    pub mail_params: Params,
    /// Accepted recipients with their parameters (NOTIFY, ORCPT), in order.
    pub rcpt_to: Vec<(Mailbox, Params)>,
    /// The client's address.
    pub client: ClientAddr,
    /// Whether the session is under TLS (STARTTLS done, or implicit TLS).
    pub tls: bool,
    /// The user name authenticated with AUTH, if any.
    pub auth_user: Option<String>,
    /// Protocol name for the Received `with` clause: "SMTP", "ESMTP",
    /// "ESMTPS", "ESMTPA", "ESMTPSA" (RFC 3848), or with SMTPUTF8 in the
    /// transaction "UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA"
    /// (RFC 6531 §3.7.3).
    pub protocol: &'static str,
}

impl Envelope {
    /// An empty envelope for a new session.
    pub fn new(client: ClientAddr) -> Envelope {
        Envelope {
            helo: String::new(),
            mail_from: ReversePath::Null,
            mail_params: Params::default(),
            rcpt_to: Vec::new(),
            client,
            tls: false,
            auth_user: None,
            protocol: "SMTP",
        }
    }

    /// The recipients' addresses, in order.
    pub fn recipients(&self) -> impl Iterator<Item = &Mailbox> {
        self.rcpt_to.iter().map(|(m, _)| m)
    }
}

/// Why a path or parameter list was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Not RFC 5321 §4.1.2 syntax; the text says what.
    Syntax(&'static str),
    /// Local part longer than [`MAX_LOCAL`] octets.
    LocalTooLong,
    /// Domain longer than [`MAX_DOMAIN`] octets.
    DomainTooLong,
    /// Path longer than [`MAX_PATH`] octets.
    PathTooLong,
    /// Non-ASCII where SMTPUTF8 was not negotiated (RFC 6531 §3.4).
    Utf8NotPermitted,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::Syntax(s) => s,
            PathError::LocalTooLong => "local part too long",
            PathError::DomainTooLong => "domain too long",
            PathError::PathTooLong => "path too long",
            PathError::Utf8NotPermitted => "non-ASCII address without SMTPUTF8",
        })
    }
}

/// A tiny cursor over a `&str`.
struct Cur<'a> {
    s: &'a str,
    pos: usize,
    utf8: bool,
}

impl<'a> Cur<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// Non-ASCII is allowed only with SMTPUTF8 (RFC 6531 §3.3).
    fn non_ascii_ok(&self, c: char) -> Result<bool, PathError> {
        if c.is_ascii() {
            Ok(false)
        } else if self.utf8 {
            Ok(true)
        } else {
            Err(PathError::Utf8NotPermitted)
        }
    }

    /// Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str].
    fn domain(&mut self) -> Result<&'a str, PathError> {
        let start = self.pos;
        loop {
            // One sub-domain: starts with a letter or digit, then letters,
            // digits and hyphens, not ending in a hyphen.
            let label = self.pos;
            let mut last = None;
            while let Some(c) = self.peek() {
                if c.is_ascii_alphanumeric()
                    || (c == '-' && self.pos > label)
                    || self.non_ascii_ok(c)?
                {
                    last = Some(c);
                    self.bump();
                } else {
                    break;
                }
            }
            match last {
                None => return Err(PathError::Syntax("bad domain")),
                Some('-') => return Err(PathError::Syntax("bad domain")),
                Some(_) => {}
            }
            if !self.eat('.') {
                return Ok(&self.s[start..self.pos]);
            }
        }
    }

    /// address-literal, brackets included in the result.
    fn address_literal(&mut self) -> Result<&'a str, PathError> {
        let start = self.pos;
        if !self.eat('[') {
            return Err(PathError::Syntax("bad address literal"));
        }
        let inner = self.pos;
        // dcontent = %d33-90 / %d94-126
        while let Some(c) = self.peek() {
            if matches!(c, '!'..='Z' | '^'..='~') {
                self.bump();
            } else {
                break;
            }
        }
        let content = &self.s[inner..self.pos];
        if !self.eat(']') {
            return Err(PathError::Syntax("bad address literal"));
        }
        let ok = if content.len() > 5 && content[..5].eq_ignore_ascii_case("IPv6:") {
            let a = &content[5..];
            a.bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
                && a.parse::<Ipv6Addr>().is_ok()
        } else if let Some((tag, rest)) = content.split_once(':') {
            // General-address-literal: Standardized-tag ":" 1*dcontent.
            !rest.is_empty()
                && !tag.is_empty()
                && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !tag.ends_with('-')
        } else {
            is_ipv4_literal(content)
        };
        if ok {
            Ok(&self.s[start..self.pos])
        } else {
            Err(PathError::Syntax("bad address literal"))
        }
    }

    /// Local-part = Dot-string / Quoted-string, as sent.
    fn local_part(&mut self) -> Result<&'a str, PathError> {
        let start = self.pos;
        if self.eat('"') {
            loop {
                match self.bump() {
                    Some('"') => break,
                    Some('\\') => match self.bump() {
                        Some(' '..='~') => {}
                        _ => return Err(PathError::Syntax("bad quoted local part")),
                    },
                    Some(' ' | '!' | '#'..='[' | ']'..='~') => {}
                    Some(c) if self.non_ascii_ok(c)? => {}
                    _ => return Err(PathError::Syntax("bad quoted local part")),
                }
            }
        } else {
            loop {
                let atom = self.pos;
                while let Some(c) = self.peek() {
                    // RFC 5321 §4.1.2 Atom: RFC 5322 §3.2.3 atext.
                    let atext = c.is_ascii() && address::is_atext(c as u8);
                    if atext || self.non_ascii_ok(c)? {
                        self.bump();
                    } else {
                        break;
                    }
                }
                if self.pos == atom {
                    return Err(PathError::Syntax("bad local part"));
                }
                if !self.eat('.') {
                    break;
                }
            }
        }
        Ok(&self.s[start..self.pos])
    }
}

/// IPv4-address-literal = Snum 3("." Snum); Snum = 1*3DIGIT (0-255).
fn is_ipv4_literal(s: &str) -> bool {
    let mut n = 0;
    for part in s.split('.') {
        n += 1;
        if part.is_empty()
            || part.len() > 3
            || !part.bytes().all(|b| b.is_ascii_digit())
            || !part.parse::<u16>().is_ok_and(|v| v <= 255)
        {
            return false;
        }
    }
    n == 4
}

/// Parses a path at the start of `s`: `<>` when `null_ok` (reverse-path),
/// `<Postmaster>` when `postmaster_ok` (RCPT), else `<[route:]mailbox>`.
/// Returns the path and the rest of `s` after `>`.
fn parse_path(
    s: &str,
    utf8: bool,
    null_ok: bool,
    postmaster_ok: bool,
) -> Result<(Option<Mailbox>, &str), PathError> {
    let mut c = Cur { s, pos: 0, utf8 };
    if !c.eat('<') {
        return Err(PathError::Syntax("path must be in angle brackets"));
    }
    if c.eat('>') {
        return if null_ok {
            Ok((None, &s[2..]))
        } else {
            Err(PathError::Syntax("empty path"))
        };
    }
    // A-d-l ":" — RFC 5321 §4.1.2 / Appendix C: accepted, then ignored.
    if c.peek() == Some('@') {
        loop {
            if !c.eat('@') {
                return Err(PathError::Syntax("bad source route"));
            }
            c.domain()?;
            if c.eat(':') {
                break;
            }
            if !c.eat(',') {
                return Err(PathError::Syntax("bad source route"));
            }
        }
    }
    let local = c.local_part()?;
    let domain = if c.eat('@') {
        if c.peek() == Some('[') {
            c.address_literal()?
        } else {
            c.domain()?
        }
    } else if postmaster_ok && local.eq_ignore_ascii_case("postmaster") && c.peek() == Some('>') {
        // RFC 5321 §4.1.1.3: "<Postmaster>" without a domain.
        ""
    } else {
        return Err(PathError::Syntax("address must be local@domain"));
    };
    if !c.eat('>') {
        return Err(PathError::Syntax("path must end with '>'"));
    }
    if local.len() > MAX_LOCAL {
        return Err(PathError::LocalTooLong);
    }
    if domain.len() > MAX_DOMAIN {
        return Err(PathError::DomainTooLong);
    }
    if c.pos > MAX_PATH {
        return Err(PathError::PathTooLong);
    }
    let mailbox = Mailbox {
        local: local.to_owned(),
        domain: domain.to_owned(),
    };
    Ok((Some(mailbox), &s[c.pos..]))
}

/// Parses a Reverse-path (`<>` or a Path) at the start of `s`; returns it
/// and the rest after `>`. `utf8`: non-ASCII allowed (SMTPUTF8, RFC 6531).
pub fn parse_reverse_path(s: &str, utf8: bool) -> Result<(ReversePath, &str), PathError> {
    let (m, rest) = parse_path(s, utf8, true, false)?;
    Ok((m.map_or(ReversePath::Null, ReversePath::Mailbox), rest))
}

/// Parses a Forward-path (or `<Postmaster>`) at the start of `s`; returns
/// the mailbox and the rest after `>`.
pub fn parse_forward_path(s: &str, utf8: bool) -> Result<(Mailbox, &str), PathError> {
    match parse_path(s, utf8, false, true)? {
        (Some(m), rest) => Ok((m, rest)),
        (None, _) => Err(PathError::Syntax("empty path")),
    }
}

/// Whether `s` is an RFC 5321 Domain or address literal (for HELO checks).
pub fn is_domain(s: &str, utf8: bool) -> bool {
    let mut c = Cur { s, pos: 0, utf8 };
    let r = if s.starts_with('[') {
        c.address_literal().is_ok()
    } else {
        c.domain().is_ok()
    };
    r && c.pos == s.len() && s.len() <= MAX_DOMAIN
}

/// Parses `Mail-parameters` after a path: empty, or one or more spaces then
/// `esmtp-param *(SP esmtp-param)` (several spaces tolerated, trailing
/// spaces too). Keywords are upper-cased; values kept as sent. Non-ASCII in
/// values only when `utf8`. At most [`MAX_PARAMS`]; a keyword repeated with
/// the same value counts once, with another value it is an error.
pub fn parse_params(s: &str, utf8: bool) -> Result<Params, PathError> {
    let mut params = Vec::new();
    if s.is_empty() {
        return Ok(Params(params));
    }
    if !s.starts_with(' ') {
        return Err(PathError::Syntax("space expected after path"));
    }
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        if params.len() == MAX_PARAMS {
            return Err(PathError::Syntax("too many parameters"));
        }
        let (k, v) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        let mut kb = k.bytes();
        let key_ok = kb.next().is_some_and(|b| b.is_ascii_alphanumeric())
            && kb.all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !key_ok {
            return Err(PathError::Syntax("bad parameter keyword"));
        }
        if let Some(v) = v {
            if v.is_empty() {
                return Err(PathError::Syntax("empty parameter value"));
            }
            for ch in v.chars() {
                if ch.is_ascii() {
                    // %d33-60 / %d62-126: no '=', space or control.
                    if !matches!(ch, '!'..='<' | '>'..='~') {
                        return Err(PathError::Syntax("bad parameter value"));
                    }
                } else if !utf8 {
                    return Err(PathError::Utf8NotPermitted);
                }
            }
        }
        let key = k.to_ascii_uppercase();
        match params
            .iter()
            .find(|(p, _): &&(String, Option<String>)| *p == key)
        {
            // Python's smtplib adds SMTPUTF8 itself when an address needs
            // it, after the caller's own: the same keyword with the same
            // value says nothing new, and Postfix and aiosmtpd take it.
            Some((_, old)) if old.as_deref() == v => {}
            // RFC 5321 §4.1.2 leaves a repeated keyword undefined; two
            // values cannot both hold.
            Some(_) => return Err(PathError::Syntax("duplicate parameter")),
            None => params.push((key, v.map(str::to_owned))),
        }
    }
    Ok(Params(params))
}

#[cfg(test)]
mod tests;
