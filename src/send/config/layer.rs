//! The settings a configuration file may hold, whatever its format: the
//! keys ([`KEYS`]) and the kind of each value, the checked values, and the
//! layers (`[default]`, an account) they make up.

// send::error::Error is large since the per-recipient results (its Smtp
// variant); it is returned once per run, so boxing it here gains nothing.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::send::address as send_address;
use crate::send::error::Error;
use crate::send::url;
use crate::smtp::envelope;
use crate::smtp::sasl::Mechanism;
use crate::smtp::tls;

/// The type a key's value must have, and how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A server spec, as `-S` takes it.
    Server,
    /// An envelope sender, as `-f` takes it.
    Sender,
    /// A non-empty string without control characters.
    Text,
    /// A file or directory name (`~/` is the home directory).
    Path,
    /// `true` or `false`.
    Bool,
    /// A number of seconds above 0.
    Seconds,
    /// A SASL mechanism name.
    Mechanism,
    /// A TLS certificate fingerprint (SHA-256).
    Fingerprint,
    /// A domain name.
    Domain,
    /// A pattern or an array of patterns (`match_from`).
    Patterns,
}

/// Every key of `[default]` and `[accounts.NAME]`, with its type.
pub const KEYS: &[(&str, Kind)] = &[
    ("server", Kind::Server),
    ("from", Kind::Sender),
    ("full_name", Kind::Text),
    ("user", Kind::Text),
    ("password_cmd", Kind::Text),
    ("password_cmd_timeout", Kind::Seconds),
    ("password_file", Kind::Path),
    // smtp-oauth's account whose access token is the password (issue 15).
    ("oauth", Kind::Text),
    ("auth", Kind::Mechanism),
    ("insecure_auth", Kind::Bool),
    ("ca_file", Kind::Path),
    ("tls_fingerprint", Kind::Fingerprint),
    ("tls_client_cert", Kind::Path),
    ("tls_client_key", Kind::Path),
    ("tls_sni", Kind::Text),
    ("tls_insecure", Kind::Bool),
    ("helo", Kind::Text),
    ("timeout", Kind::Seconds),
    ("connect_timeout", Kind::Seconds),
    ("qualify_domain", Kind::Domain),
    ("queue", Kind::Path),
    ("aliases", Kind::Path),
    ("match_from", Kind::Patterns),
    // `--log`: a file (`~/` expanded) or `syslog[:FACILITY]`.
    ("log", Kind::Path),
    ("log_time_format", Kind::Text),
    // `--dkim-key`, `--dkim-selector`, `--dkim-domain` (issue 16).
    ("dkim_key", Kind::Path),
    ("dkim_selector", Kind::Text),
    ("dkim_domain", Kind::Domain),
];

/// A checked value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string (paths with `~/` already expanded).
    Str(String),
    /// A boolean.
    Bool(bool),
    /// Seconds.
    Num(f64),
    /// Patterns.
    List(Vec<String>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Num(n) => write!(f, "{n}"),
            Value::List(l) => {
                let items: Vec<String> = l.iter().map(|s| format!("{s:?}")).collect();
                write!(f, "[{}]", items.join(", "))
            }
        }
    }
}

/// Where a setting was written: file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The file, as shown (`~/` for the home directory).
    pub file: String,
    /// The line, from 1.
    pub line: usize,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One table: `[default]` or an account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layer {
    /// Its settings by key, each with where it was written.
    pub settings: BTreeMap<&'static str, (Value, Place)>,
    /// Where the table starts (for ordering accounts and for errors).
    pub line: usize,
}

impl Layer {
    pub(super) fn get(&self, key: &str) -> Option<&(Value, Place)> {
        self.settings.get(key)
    }

    #[cfg(test)]
    pub(super) fn str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some((Value::Str(s), _)) => Some(s),
            _ => None,
        }
    }
}

/// A configuration file, read and checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// The file, as shown.
    pub file: String,
    /// `[default]` (msmtp: the account named `default`).
    pub default: Layer,
    /// The accounts in file order.
    pub accounts: Vec<(String, Layer)>,
}

/// The values of `SMTP_SERVER`, `SMTP_USER` and `SMTP_PASSWORD` (empty is
/// unset), read once so that the merge can be tested.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `SMTP_SERVER`.
    pub server: Option<String>,
    /// `SMTP_USER`.
    pub user: Option<String>,
    /// Whether `SMTP_PASSWORD` is set.
    pub password: bool,
}

impl Env {
    /// The process environment.
    pub fn from_process() -> Env {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        Env {
            server: var("SMTP_SERVER"),
            user: var("SMTP_USER"),
            password: var("SMTP_PASSWORD").is_some(),
        }
    }
}

pub(super) fn config_error(place: &Place, what: impl fmt::Display) -> Error {
    Error::Config(format!("{place}: {what}"))
}

pub(super) fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// `~/x` with the home directory.
pub(super) fn expand(path: &str) -> String {
    match (path.strip_prefix("~/"), home()) {
        (Some(rest), Some(h)) => h.join(rest).display().to_string(),
        _ => path.to_owned(),
    }
}

/// The line (from 1) of byte `at`.
pub(super) fn line_of(text: &[u8], at: usize) -> usize {
    memchr::memchr_iter(b'\n', &text[..at.min(text.len())]).count() + 1
}

/// A value as written, before [`check`].
#[derive(Debug)]
pub enum Raw<'a> {
    /// A string.
    Str(&'a str),
    /// A boolean.
    Bool(bool),
    /// A number.
    Num(f64),
    /// An array of strings.
    List(Vec<String>),
    /// Anything else (named for the error).
    Other(&'static str),
}

impl Raw<'_> {
    pub(super) fn describe(&self) -> &'static str {
        match self {
            Raw::Str(_) => "a string",
            Raw::Bool(_) => "a boolean",
            Raw::Num(_) => "a number",
            Raw::List(_) => "an array",
            Raw::Other(what) => what,
        }
    }
}

/// Checks a value the way the option of the same name would (the error
/// names why, not the value: it may be a command with a secret).
pub fn check(kind: Kind, raw: Raw<'_>) -> Result<Value, String> {
    let want = |w: &str| format!("want {w}, got {}", raw.describe());
    let text = |s: &str| -> Result<String, String> {
        if s.trim().is_empty() {
            Err("empty".to_owned())
        } else if s.chars().any(char::is_control) {
            Err("control character in the value".to_owned())
        } else {
            Ok(s.to_owned())
        }
    };
    match (kind, &raw) {
        (Kind::Bool, Raw::Bool(b)) => Ok(Value::Bool(*b)),
        (Kind::Bool, _) => Err(want("true or false")),
        (Kind::Seconds, Raw::Num(n)) if n.is_finite() && *n > 0.0 && *n < 1e9 => Ok(Value::Num(*n)),
        (Kind::Seconds, Raw::Num(n)) => Err(format!("want seconds above 0, got {n}")),
        (Kind::Seconds, _) => Err(want("a number of seconds")),
        (Kind::Patterns, Raw::Str(s)) => Ok(Value::List(vec![text(s)?])),
        (Kind::Patterns, Raw::List(l)) => {
            let list: Result<Vec<String>, String> = l.iter().map(|s| text(s)).collect();
            Ok(Value::List(list?))
        }
        (Kind::Patterns, _) => Err(want("a pattern or an array of patterns")),
        (_, Raw::Str(s)) => {
            let s = text(s)?;
            match kind {
                Kind::Server => {
                    url::parse(&s).map_err(|e| {
                        // Some of the parser's errors quote the spec: not
                        // when it may hold a password (`user:pass@host`).
                        let e = e.to_string();
                        if s.contains('@') && e.contains('@') {
                            "not a valid server address (not quoted: it holds an @, \
                             perhaps a password)"
                                .to_owned()
                        } else {
                            e
                        }
                    })?;
                }
                Kind::Sender => {
                    send_address::parse_sender(&s, "localhost").map_err(|e| {
                        e.to_string()
                            .strip_prefix("-f: ")
                            .map_or(e.to_string(), str::to_owned)
                    })?;
                }
                Kind::Mechanism if Mechanism::parse(&s).is_none() => {
                    return Err(format!(
                        "unknown mechanism {s:?} (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, \
                         XOAUTH2, OAUTHBEARER)"
                    ));
                }
                Kind::Fingerprint => {
                    tls::Fingerprint::parse(&s).map_err(|e| e.to_string())?;
                }
                Kind::Domain if !envelope::is_domain(&s, false) => {
                    return Err(format!("not a domain name: {s:?}"));
                }
                Kind::Path => return Ok(Value::Str(expand(&s))),
                _ => {}
            }
            Ok(Value::Str(s))
        }
        _ => Err(want("a string")),
    }
}

/// What must hold across the keys of one table.
pub(super) fn check_layer(l: &Layer, path: &str, at: &Place) -> Result<(), Error> {
    if let (Some(_), Some((_, p))) = (l.get("password_cmd"), l.get("password_file")) {
        return Err(config_error(
            p,
            format_args!("{path}: password_cmd and password_file: give one"),
        ));
    }
    if let (true, Some((_, p))) = (
        l.get("password_cmd").is_some() || l.get("password_file").is_some(),
        l.get("oauth"),
    ) {
        return Err(config_error(
            p,
            format_args!("{path}: oauth and a password (password_cmd, password_file): give one"),
        ));
    }
    match (l.get("tls_client_cert"), l.get("tls_client_key")) {
        (Some((_, p)), None) => Err(config_error(
            p,
            format_args!("{path}.tls_client_cert needs tls_client_key"),
        )),
        (None, Some((_, p))) => Err(config_error(
            p,
            format_args!("{path}.tls_client_key needs tls_client_cert"),
        )),
        _ => {
            let _ = at;
            Ok(())
        }
    }
}
