//! `smtp-send`'s configuration file: accounts, defaults, and msmtp's
//! `~/.msmtprc` for those switching from msmtp.
//!
//! # Which file
//!
//! 1. `--config FILE` (then it must exist). A name ending in `msmtprc`, or a
//!    file named `config` in a directory named `msmtp`, is read as an msmtp
//!    file; any other name as TOML.
//! 2. `$XDG_CONFIG_HOME/mailpipe/config.toml` (`$XDG_CONFIG_HOME` unset,
//!    empty or relative: `~/.config`).
//! 3. When that does not exist: `~/.msmtprc`, else
//!    `$XDG_CONFIG_HOME/msmtp/config` (msmtp's own order).
//! 4. None: flags and the environment only. A missing file is not an error.
//!
//! # The TOML format
//!
//! ```toml
//! [default]
//! server = "smtp+starttls://mail.example.org:587"
//! user = "me"
//! password_cmd = "pass show mail"
//!
//! [accounts.work]
//! server = "smtps://smtp.work.example"
//! from = "me@work.example"
//! match_from = "*@work.example"
//! ```
//!
//! Keys ([`KEYS`]) are the long options of the same name, `-` written `_`.
//! An unknown key or table, a value of the wrong type or that the option
//! would refuse is an error (exit 78, `FILE:LINE: accounts.work.port:
//! unknown key`): a typo must not silently drop TLS. Plain passwords are not
//! read from the file (`password_cmd` or `password_file` instead).
//!
//! # Precedence
//!
//! For each setting, first found wins: the command line; the account (`-a
//! NAME`, else the first account in file order whose `match_from` matches
//! the sender); the environment (`SMTP_SERVER`, `SMTP_USER`,
//! `SMTP_PASSWORD`: these three settings only); `[default]`; the built-in
//! default. `[default]` is below the environment so that `SMTP_SERVER=...
//! smtp-send` still overrides a file. `--password-file` and
//! `--password-cmd` (and the keys) are one setting: the password.
//! `[default]`'s `user` and password are not used when the server comes from
//! the account, nor from `-S`/`--pipe` or `SMTP_SERVER` when `[default]`
//! names a server: they belong to `[default]`'s server, not to another host.
//!
//! # match_from
//!
//! With no `-a`, an account is chosen by the envelope sender: `-f`'s
//! address, else the message's `Sender:`, else its `From:` (the header is
//! read first; the message is then prepared with the account's settings, so
//! an account's `from` still becomes the envelope sender). Patterns are
//! shell-style (`*`, `?`), case-insensitive, matched against `local@domain`;
//! a string or an array of strings. `--each`, `--probe`, `--bs`
//! and the queue's own modes (`--flush`, `--list`, `--drop`) do not read a
//! message first: there only `-f` can choose. `queue` sets `--queue DIR`.
//!
//! # The msmtp subset
//!
//! `defaults`, `account NAME`, `account NAME : OTHER[, ...]` (inheritance),
//! `account default : NAME`; keys `host`, `port`, `from`, `user`,
//! `passwordeval`, `auth` (`on`, `off`, or a mechanism), `tls`,
//! `tls_starttls`, `tls_trust_file`, `tls_fingerprint` (SHA-256),
//! `tls_certcheck`, `tls_cert_file`, `tls_key_file`, `tls_host_override`,
//! `domain` (the EHLO name), `timeout`. `tls off` is `smtp+plain://`, `tls on`
//! `smtp+starttls://` (`smtps://` with `tls_starttls off`). The account named
//! `default` plays `[default]`'s part; an account's `from` is also its
//! `match_from` (msmtp's `--read-envelope-from`). Every other key
//! (`password` included: use `passwordeval`) is warned about and ignored;
//! a bad value of a key that is read is an error (78).

// send::error::Error is large since the per-recipient results (its Smtp
// variant); it is returned once per run, so boxing it here gains nothing.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::io::glob::glob;
use crate::io::strip_os_error;
use crate::message::header;
use crate::send::address as send_address;
use crate::send::error::Error;
use crate::send::notice::Notices;
use crate::send::options::Options;
use crate::send::prepare::Source;
use crate::send::url;
use crate::send::{options, prepare};
use crate::smtp::envelope::{self, ReversePath};
use crate::smtp::sasl::Mechanism;
use crate::smtp::tls;

/// [`limits::MAX_CONFIG`](crate::limits::MAX_CONFIG).
const MAX_CONFIG: u64 = crate::limits::MAX_CONFIG;

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
    ("password_file", Kind::Path),
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
    ("match_from", Kind::Patterns),
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
    fn get(&self, key: &str) -> Option<&(Value, Place)> {
        self.settings.get(key)
    }

    #[cfg(test)]
    fn str(&self, key: &str) -> Option<&str> {
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

fn config_error(place: &Place, what: impl fmt::Display) -> Error {
    Error::Config(format!("{place}: {what}"))
}

// ---------------------------------------------------------------------------
// Finding and reading the file

/// `path` with the home directory written `~`.
fn shown(path: &Path) -> String {
    if let Some(home) = home()
        && let Ok(rest) = path.strip_prefix(&home)
    {
        return format!("~/{}", rest.display());
    }
    path.display().to_string()
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn xdg_config_home() -> Option<PathBuf> {
    match std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from) {
        Some(p) if p.is_absolute() => Some(p),
        _ => home().map(|h| h.join(".config")),
    }
}

/// `~/x` with the home directory.
fn expand(path: &str) -> String {
    match (path.strip_prefix("~/"), home()) {
        (Some(rest), Some(h)) => h.join(rest).display().to_string(),
        _ => path.to_owned(),
    }
}

/// Whether `path` names an msmtp file (see the module doc).
pub fn is_msmtprc(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with("msmtprc")
        || (name == "config"
            && path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|d| d == "msmtp"))
}

/// The files looked for when `--config` is not given, in order.
pub fn default_paths() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(x) = xdg_config_home() {
        out.push(x.join("mailpipe/config.toml"));
    }
    if let Some(h) = home() {
        out.push(h.join(".msmtprc"));
    }
    if let Some(x) = xdg_config_home() {
        out.push(x.join("msmtp/config"));
    }
    out
}

/// Reads the configuration: `explicit` (`--config`) must exist; else the
/// first of [`default_paths`] that exists, or `None`. Warnings (ignored
/// msmtp keys) are given to `notices` when `explain` or when the file was
/// named with `--config` (and for `password` always): an msmtprc found on
/// its own holds many keys we do not read (logfile, aliases, ...), and cron
/// would mail those warnings on every run.
pub fn load(
    explicit: Option<&Path>,
    explain: bool,
    notices: &dyn Notices,
) -> Result<Option<Config>, Error> {
    let (path, text) = match explicit {
        Some(p) => match read(p)? {
            Some(t) => (p.to_owned(), t),
            None => {
                return Err(Error::Config(format!(
                    "--config {}: No such file or directory",
                    shown(p)
                )));
            }
        },
        None => {
            let mut found = None;
            for p in default_paths() {
                if let Some(t) = read(&p)? {
                    found = Some((p, t));
                    break;
                }
            }
            match found {
                Some(f) => f,
                None => return Ok(None),
            }
        }
    };
    let file = shown(&path);
    let config = if is_msmtprc(&path) {
        let (config, warnings) = parse_msmtprc(&text, &file)?;
        for w in warnings {
            if explain || explicit.is_some() || w.matters {
                notices.warn(&w.text);
            }
        }
        config
    } else {
        parse_toml(&text, &file)?
    };
    Ok(Some(config))
}

/// The file's text; `None` when it does not exist.
fn read(path: &Path) -> Result<Option<String>, Error> {
    let err = |why: String| Error::Config(format!("{}: {why}", shown(path)));
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(strip_os_error(&e))),
    };
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(err("is a directory".to_owned()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(strip_os_error(&e)))?;
    if bytes.len() as u64 > MAX_CONFIG {
        return Err(err(format!("larger than {MAX_CONFIG} bytes")));
    }
    match String::from_utf8(bytes) {
        Ok(t) => Ok(Some(t)),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let line = line_of(e.as_bytes(), at);
            Err(err(format!("line {line}: not UTF-8")))
        }
    }
}

/// The line (from 1) of byte `at`.
fn line_of(text: &[u8], at: usize) -> usize {
    memchr::memchr_iter(b'\n', &text[..at.min(text.len())]).count() + 1
}

// ---------------------------------------------------------------------------
// TOML

/// Parses and checks a TOML configuration (`file` names it in errors).
pub fn parse_toml(text: &str, file: &str) -> Result<Config, Error> {
    use toml::de::{DeTable, DeValue};
    let place = |span: std::ops::Range<usize>| Place {
        file: file.to_owned(),
        line: line_of(text.as_bytes(), span.start),
    };
    let doc = DeTable::parse(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        let msg = e.message().lines().next().unwrap_or("").trim().to_owned();
        config_error(&place(at..at), format_args!("TOML syntax: {msg}"))
    })?;
    let mut config = Config {
        file: file.to_owned(),
        ..Config::default()
    };
    for (key, value) in doc.get_ref() {
        let name: &str = key.get_ref();
        let p = place(key.span());
        match (name, value.get_ref()) {
            ("default", DeValue::Table(t)) => config.default = layer(t, "default", p, &place)?,
            ("accounts", DeValue::Table(t)) => {
                for (acct, v) in t {
                    let aname: &str = acct.get_ref();
                    let path = format!("accounts.{aname}");
                    let ap = place(acct.span());
                    if aname.is_empty() || aname.chars().any(char::is_control) {
                        return Err(config_error(
                            &ap,
                            format_args!("{path:?}: bad account name"),
                        ));
                    }
                    let DeValue::Table(t) = v.get_ref() else {
                        return Err(config_error(
                            &ap,
                            format_args!("{path}: want a table ([{path}])"),
                        ));
                    };
                    let l = layer(t, &path, ap, &place)?;
                    config.accounts.push((aname.to_owned(), l));
                }
            }
            ("default" | "accounts", _) => {
                return Err(config_error(&p, format_args!("{name}: want a table")));
            }
            _ => {
                return Err(config_error(
                    &p,
                    format_args!(
                        "{name}: unknown key (the file has a [default] table and [accounts.NAME] tables)"
                    ),
                ));
            }
        }
    }
    config.accounts.sort_by_key(|(_, l)| l.line);
    Ok(config)
}

fn layer(
    table: &toml::de::DeTable<'_>,
    path: &str,
    at: Place,
    place: &dyn Fn(std::ops::Range<usize>) -> Place,
) -> Result<Layer, Error> {
    use toml::de::DeValue;
    let mut out = Layer {
        line: at.line,
        ..Layer::default()
    };
    for (key, value) in table {
        let name: &str = key.get_ref();
        let p = place(key.span());
        let what = format!("{path}.{name}");
        if name == "password" {
            return Err(config_error(
                &p,
                format_args!(
                    "{what}: plain passwords are not read from the configuration: \
                     use password_cmd or password_file"
                ),
            ));
        }
        let Some(&(k, kind)) = KEYS.iter().find(|(k, _)| *k == name) else {
            return Err(config_error(&p, format_args!("{what}: unknown key")));
        };
        if k == "match_from" && path == "default" {
            return Err(config_error(
                &p,
                format_args!("{what}: match_from belongs in an [accounts.NAME] table"),
            ));
        }
        let raw = match value.get_ref() {
            DeValue::String(s) => Raw::Str(s.as_ref()),
            DeValue::Boolean(b) => Raw::Bool(*b),
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Raw::Num(n as f64),
                Err(_) => Raw::Other("a number out of range"),
            },
            DeValue::Float(f) => match f.as_str().parse::<f64>() {
                Ok(n) => Raw::Num(n),
                Err(_) => Raw::Other("a bad number"),
            },
            DeValue::Array(items) => {
                let mut list = Vec::new();
                for item in items {
                    match item.get_ref() {
                        DeValue::String(s) => list.push(s.to_string()),
                        _ => {
                            list.clear();
                            break;
                        }
                    }
                }
                if list.len() == items.len() && !list.is_empty() {
                    Raw::List(list)
                } else {
                    Raw::Other("an array that is not of strings")
                }
            }
            DeValue::Datetime(_) => Raw::Other("a date"),
            DeValue::Table(_) => Raw::Other("a table"),
        };
        let v = check(kind, raw).map_err(|why| config_error(&p, format_args!("{what}: {why}")))?;
        out.settings.insert(k, (v, p));
    }
    check_layer(&out, path, &at)?;
    Ok(out)
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
    fn describe(&self) -> &'static str {
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
fn check_layer(l: &Layer, path: &str, at: &Place) -> Result<(), Error> {
    if let (Some(_), Some((_, p))) = (l.get("password_cmd"), l.get("password_file")) {
        return Err(config_error(
            p,
            format_args!("{path}: password_cmd and password_file: give one"),
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

// ---------------------------------------------------------------------------
// msmtp

/// The msmtp keys read (the rest are warned about and ignored).
const MSMTP_KEYS: &[&str] = &[
    "host",
    "port",
    "from",
    "user",
    "passwordeval",
    "auth",
    "tls",
    "tls_starttls",
    "tls_trust_file",
    "tls_fingerprint",
    "tls_certcheck",
    "tls_cert_file",
    "tls_key_file",
    "tls_host_override",
    "domain",
    "timeout",
];

/// One msmtp account (or `defaults`) as written: key → (value, line).
type MsmtpAccount = BTreeMap<String, (String, usize)>;

/// A key of an msmtp configuration that is not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// `FILE:LINE: KEY: why (ignored)`.
    pub text: String,
    /// Whether it explains a failure that follows (an ignored `password`:
    /// "no password" comes next), so it is always said.
    pub matters: bool,
}

/// Parses an msmtp configuration (the subset of the module doc). Returns
/// the configuration and the keys it does not read.
pub fn parse_msmtprc(text: &str, file: &str) -> Result<(Config, Vec<Ignored>), Error> {
    let at = |line: usize| Place {
        file: file.to_owned(),
        line,
    };
    let mut warnings = Vec::new();
    let mut warned: Vec<String> = Vec::new();
    let mut defaults = MsmtpAccount::new();
    // (name, first line, settings) in file order.
    let mut accounts: Vec<(String, usize, MsmtpAccount)> = Vec::new();
    let mut in_defaults = false;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (cmd, arg) = match line.find(|c: char| c.is_whitespace() || c == '=') {
            Some(k) => (&line[..k], line[k..].trim_start_matches(['=', ' ', '\t'])),
            None => (line, ""),
        };
        let arg = unquote(arg.trim()).map_err(|why| config_error(&at(n), why))?;
        match cmd {
            "defaults" => in_defaults = true,
            "account" => {
                in_defaults = false;
                let (name, parents) = match arg.split_once(':') {
                    Some((a, b)) => (a.trim().to_owned(), Some(b.to_owned())),
                    None => (arg.trim().to_owned(), None),
                };
                if name.is_empty() {
                    return Err(config_error(&at(n), "account: no name"));
                }
                if accounts.iter().any(|(a, ..)| *a == name) {
                    return Err(config_error(
                        &at(n),
                        format_args!("account {name}: defined twice"),
                    ));
                }
                let mut settings = defaults.clone();
                for parent in parents.iter().flat_map(|p| p.split(',')) {
                    let parent = parent.trim();
                    let Some((.., s)) = accounts.iter().find(|(a, ..)| a == parent) else {
                        return Err(config_error(
                            &at(n),
                            format_args!("account {name}: no account {parent:?} before it"),
                        ));
                    };
                    settings.extend(s.clone());
                }
                accounts.push((name, n, settings));
            }
            key if MSMTP_KEYS.contains(&key) => {
                let target = if in_defaults {
                    &mut defaults
                } else if let Some((.., s)) = accounts.last_mut() {
                    s
                } else {
                    &mut defaults
                };
                target.insert(key.to_owned(), (arg, n));
            }
            key => {
                if !warned.iter().any(|w| w == key) {
                    warned.push(key.to_owned());
                    let why = if key == "password" {
                        "plain passwords are not read from a configuration file: use passwordeval"
                    } else {
                        "not supported by smtp-send"
                    };
                    warnings.push(Ignored {
                        text: format!("{file}:{n}: {key}: {why} (ignored)"),
                        matters: key == "password",
                    });
                }
            }
        }
    }
    let mut config = Config {
        file: file.to_owned(),
        ..Config::default()
    };
    for (name, line, settings) in accounts {
        let l = msmtp_layer(&settings, &name, &at(line), &at)?;
        if name == "default" {
            config.default = l;
        } else {
            config.accounts.push((name, l));
        }
    }
    Ok((config, warnings))
}

/// An msmtp argument: a double-quoted one with `\"` and `\\` escapes, else
/// as written.
fn unquote(arg: &str) -> Result<String, String> {
    let Some(inner) = arg.strip_prefix('"') else {
        return Ok(arg.to_owned());
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) => out.push(e),
                None => break,
            },
            '"' => {
                return if chars.as_str().trim().is_empty() {
                    Ok(out)
                } else {
                    Err("text after the closing quote".to_owned())
                };
            }
            c => out.push(c),
        }
    }
    Err("unterminated quote".to_owned())
}

fn on_off(v: &str, p: &Place, key: &str) -> Result<bool, Error> {
    match v {
        "on" | "" => Ok(true),
        "off" => Ok(false),
        _ => Err(config_error(
            p,
            format_args!("{key}: want on or off, got {v:?}"),
        )),
    }
}

fn msmtp_layer(
    s: &MsmtpAccount,
    name: &str,
    start: &Place,
    at: &dyn Fn(usize) -> Place,
) -> Result<Layer, Error> {
    let mut l = Layer {
        line: start.line,
        ..Layer::default()
    };
    let get = |k: &str| s.get(k).map(|(v, n)| (v.as_str(), at(*n)));
    let put = |l: &mut Layer, key: &'static str, raw: Raw<'_>, p: Place| {
        let kind = KEYS.iter().find(|(k, _)| *k == key).map(|&(_, k)| k);
        let kind = kind.unwrap_or(Kind::Text);
        match check(kind, raw) {
            Ok(v) => {
                l.settings.insert(key, (v, p));
                Ok(())
            }
            Err(why) => Err(config_error(
                &p,
                format_args!("account {name}: {key}: {why}"),
            )),
        }
    };
    if let Some((host, p)) = get("host") {
        let tls = match get("tls") {
            Some((v, p)) => on_off(v, &p, "tls")?,
            None => false,
        };
        let starttls = match get("tls_starttls") {
            Some((v, p)) => on_off(v, &p, "tls_starttls")?,
            None => true,
        };
        let scheme = match (tls, starttls) {
            (false, _) => "smtp+plain",
            (true, true) => "smtp+starttls",
            (true, false) => "smtps",
        };
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let spec = match get("port") {
            Some((port, _)) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        };
        put(&mut l, "server", Raw::Str(&spec), p)?;
    } else if let Some((_, p)) = get("port") {
        return Err(config_error(
            &p,
            format_args!("account {name}: port without host"),
        ));
    }
    if let Some((from, p)) = get("from") {
        if from.contains(['*', '?']) {
            put(&mut l, "match_from", Raw::Str(from), p)?;
        } else {
            put(&mut l, "from", Raw::Str(from), p.clone())?;
            put(&mut l, "match_from", Raw::Str(from), p)?;
        }
    }
    let auth_off = match get("auth") {
        Some(("on" | "", _)) | None => false,
        Some(("off", _)) => true,
        Some((mech, p)) => {
            put(&mut l, "auth", Raw::Str(mech), p)?;
            false
        }
    };
    if !auth_off {
        if let Some((v, p)) = get("user") {
            put(&mut l, "user", Raw::Str(v), p)?;
        }
        if let Some((v, p)) = get("passwordeval") {
            put(&mut l, "password_cmd", Raw::Str(v), p)?;
        }
    }
    if let Some((v, p)) = get("tls_trust_file")
        && !v.is_empty()
        && v != "system"
    {
        put(&mut l, "ca_file", Raw::Str(v), p)?;
    }
    if let Some((v, p)) = get("tls_fingerprint") {
        put(&mut l, "tls_fingerprint", Raw::Str(v), p)?;
    }
    if let Some((v, p)) = get("tls_certcheck")
        && !on_off(v, &p, "tls_certcheck")?
    {
        put(&mut l, "tls_insecure", Raw::Bool(true), p)?;
    }
    if let Some((v, p)) = get("tls_cert_file") {
        put(&mut l, "tls_client_cert", Raw::Str(v), p)?;
    }
    if let Some((v, p)) = get("tls_key_file") {
        put(&mut l, "tls_client_key", Raw::Str(v), p)?;
    }
    if let Some((v, p)) = get("tls_host_override") {
        put(&mut l, "tls_sni", Raw::Str(v), p)?;
    }
    if let Some((v, p)) = get("domain") {
        put(&mut l, "helo", Raw::Str(v), p)?;
    }
    if let Some((v, p)) = get("timeout")
        && v != "off"
    {
        let n = v.parse::<f64>().map_err(|_| {
            config_error(
                &p,
                format_args!("account {name}: timeout: want seconds or off"),
            )
        })?;
        put(&mut l, "timeout", Raw::Num(n), p)?;
    }
    check_layer(&l, &format!("account {name}"), start)?;
    Ok(l)
}

// ---------------------------------------------------------------------------
// Choosing the account and merging

/// How the account was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chosen {
    /// No account: `[default]` only.
    None,
    /// `-a NAME`.
    Flag(String),
    /// `match_from` matched this sender.
    Matched(String, String),
}

impl Config {
    /// The account named `name`.
    pub fn account(&self, name: &str) -> Option<&Layer> {
        self.accounts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| l)
    }

    /// The first account (in file order) whose `match_from` matches
    /// `sender` (`local@domain`).
    pub fn matching(&self, sender: &str) -> Option<&str> {
        self.accounts
            .iter()
            .find(|(_, l)| match l.get("match_from") {
                Some((Value::List(pats), _)) => pats.iter().any(|p| glob(p, sender)),
                _ => false,
            })
            .map(|(n, _)| n.as_str())
    }

    fn has_match_from(&self) -> bool {
        self.accounts
            .iter()
            .any(|(_, l)| l.get("match_from").is_some())
    }

    fn names(&self) -> String {
        if self.accounts.is_empty() {
            return "it has none".to_owned();
        }
        let names: Vec<&str> = self.accounts.iter().map(|(n, _)| n.as_str()).collect();
        format!("it has {}", names.join(", "))
    }
}

/// Where an effective setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The command line.
    Flag,
    /// The chosen account.
    Account(String, Place),
    /// An environment variable.
    Env(&'static str),
    /// `[default]`.
    Default(Place),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag => f.write_str("command line"),
            Origin::Account(n, p) => write!(f, "account {n}, {p}"),
            Origin::Env(v) => f.write_str(v),
            Origin::Default(p) => write!(f, "[default], {p}"),
        }
    }
}

/// The environment variable a key gives way to, if any.
fn env_var(key: &str, env: &Env) -> Option<&'static str> {
    match key {
        "server" if env.server.is_some() => Some("SMTP_SERVER"),
        "user" if env.user.is_some() => Some("SMTP_USER"),
        "password_cmd" | "password_file" if env.password => Some("SMTP_PASSWORD"),
        _ => None,
    }
}

/// Whether the command line gave the setting `key`.
fn flag_given(o: &Options, key: &str) -> bool {
    match key {
        "server" => o.server.is_some() || o.pipe.is_some(),
        "from" => o.from.is_some(),
        "full_name" => o.full_name.is_some(),
        "user" => o.user.is_some(),
        // One setting, two spellings.
        "password_cmd" | "password_file" => o.password_cmd.is_some() || o.password_file.is_some(),
        "auth" => o.auth.is_some(),
        "insecure_auth" => o.insecure_auth,
        "ca_file" => o.ca_file.is_some(),
        "tls_fingerprint" => o.tls_fingerprint.is_some(),
        "tls_client_cert" | "tls_client_key" => {
            o.tls_client_cert.is_some() || o.tls_client_key.is_some()
        }
        "tls_sni" => o.tls_sni.is_some(),
        "tls_insecure" => o.tls_insecure,
        "helo" => o.helo.is_some(),
        "timeout" => o.timeout.is_some(),
        "connect_timeout" => o.connect_timeout.is_some(),
        "qualify_domain" => o.qualify_domain.is_some(),
        "queue" => o.queue.is_some(),
        _ => false,
    }
}

/// Sets the option `key` from a checked value.
fn set(o: &mut Options, key: &str, v: &Value) {
    let s = || match v {
        Value::Str(s) => Some(s.clone()),
        _ => None,
    };
    let b = matches!(v, Value::Bool(true));
    let n = match v {
        Value::Num(n) => Some(*n),
        _ => None,
    };
    match key {
        "server" => o.server = s(),
        "from" => o.from = s(),
        "full_name" => o.full_name = s(),
        "user" => o.user = s(),
        "password_cmd" => o.password_cmd = s(),
        "password_file" => o.password_file = s().map(PathBuf::from),
        "auth" => o.auth = s(),
        "insecure_auth" => o.insecure_auth = b,
        "ca_file" => o.ca_file = s().map(PathBuf::from),
        "tls_fingerprint" => o.tls_fingerprint = s(),
        "tls_client_cert" => o.tls_client_cert = s().map(PathBuf::from),
        "tls_client_key" => o.tls_client_key = s().map(PathBuf::from),
        "tls_sni" => o.tls_sni = s(),
        "tls_insecure" => o.tls_insecure = b,
        "helo" => o.helo = s(),
        "timeout" => o.timeout = n,
        "connect_timeout" => o.connect_timeout = n,
        "qualify_domain" => o.qualify_domain = s(),
        "queue" => o.queue = s().map(PathBuf::from),
        _ => {}
    }
}

/// The options after merging, and where each setting came from.
#[derive(Debug, Clone, Default)]
pub struct Merged {
    /// The options with the configuration's settings filled in.
    pub options: Options,
    /// Each key set by something, with its origin (the flags' values are
    /// read from `options`).
    pub origins: Vec<(&'static str, Origin)>,
    /// How the account was chosen.
    pub chosen: Option<Chosen>,
}

/// Fills the options the command line left unset from the account, then
/// (below the environment's three variables) from `[default]`.
pub fn merge(
    flags: &Options,
    config: Option<&Config>,
    chosen: &Chosen,
    env: &Env,
) -> Result<Merged, Error> {
    let mut o = flags.clone();
    let mut origins = Vec::new();
    let empty = Layer::default();
    let (default, account) = match config {
        Some(c) => {
            let acct = match chosen {
                Chosen::None => None,
                // msmtp's `-a default`: its default account is [default].
                Chosen::Flag(n) if n == "default" && c.account(n).is_none() => None,
                Chosen::Flag(n) | Chosen::Matched(n, _) => Some((n.as_str(), c.account(n))),
            };
            (&c.default, acct)
        }
        None => (&empty, None),
    };
    let account = match account {
        Some((name, Some(l))) => Some((name, l)),
        Some((name, None)) => {
            let file = config.map_or(String::new(), |c| c.file.clone());
            return Err(Error::Config(format!(
                "{file}: unknown account {name:?} ({})",
                config.map_or(String::new(), Config::names)
            )));
        }
        None => None,
    };
    for &(key, _) in KEYS {
        if key == "match_from" {
            continue;
        }
        if flag_given(flags, key) {
            origins.push((key, Origin::Flag));
            continue;
        }
        if let Some((name, l)) = account
            && has_setting(l, key)
        {
            // The password is one setting: the table's spelling of it wins
            // whole (a file in one table, a command in another never mix).
            if let Some((v, p)) = l.get(key) {
                set(&mut o, key, v);
                origins.push((key, Origin::Account(name.to_owned(), p.clone())));
            }
            continue;
        }
        if let Some(var) = env_var(key, env) {
            if !origins.iter().any(|(_, o)| *o == Origin::Env(var)) {
                origins.push((key, Origin::Env(var)));
            }
            continue;
        }
        // [default]'s credentials are for [default]'s server: an account
        // with a server of its own never gets them, nor a server from the
        // command line or SMTP_SERVER when [default] names one (they would
        // be sent to another host).
        let other_server = origins.iter().any(|(k, o)| {
            *k == "server"
                && match o {
                    Origin::Account(..) => true,
                    Origin::Flag | Origin::Env(_) => default.get("server").is_some(),
                    Origin::Default(_) => false,
                }
        });
        if other_server && matches!(key, "user" | "password_cmd" | "password_file") {
            continue;
        }
        if let Some((v, p)) = default.get(key) {
            set(&mut o, key, v);
            origins.push((key, Origin::Default(p.clone())));
        }
    }
    Ok(Merged {
        options: o,
        origins,
        chosen: Some(chosen.clone()),
    })
}

/// Whether table `l` gives the setting `key` (the password and the client
/// certificate are one setting under two keys).
fn has_setting(l: &Layer, key: &str) -> bool {
    match key {
        "password_cmd" | "password_file" => {
            l.get("password_cmd").is_some() || l.get("password_file").is_some()
        }
        _ => l.get(key).is_some(),
    }
}

// ---------------------------------------------------------------------------
// The hook in run::run_inner

/// The options to run with, and the message input when its header had to
/// be read to choose the account.
pub struct Resolved {
    /// The merged options.
    pub options: Options,
    /// The message, when [`resolve`] read its header (a pipe cannot be
    /// rewound): prepare this instead of stdin.
    pub input: Option<Source>,
    /// The configuration file read, if any.
    pub config: Option<Config>,
    /// Where each setting came from.
    pub origins: Vec<(&'static str, Origin)>,
    /// How the account was chosen.
    pub chosen: Chosen,
}

impl Resolved {
    /// The message source: what [`resolve`] kept, else `stdin`.
    pub fn message(&mut self, stdin: File) -> Source {
        self.input
            .take()
            .unwrap_or_else(|| Source::from_file(stdin))
    }
}

/// Whether this run sends one message read from stdin (so its sender can
/// choose the account). NOTE for the other parts: a mode that reads stdin
/// as something else (`-bs`) or reads no message must return false here.
fn reads_one_message(o: &Options) -> bool {
    // `--bs`: stdin is an SMTP session (its client waits for our greeting:
    // reading a header there would hang).
    !o.each
        && !o.bs
        && !o.probe
        && !o.print_config
        && o.flush.is_none()
        && o.list.is_none()
        && o.drop.is_none()
}

/// Loads the configuration, chooses the account (`-a`, else `match_from`
/// on `-f` or on the message's sender, whose header is then read from
/// `stdin`) and merges it into the options.
pub fn resolve(flags: &Options, stdin: &File, notices: &dyn Notices) -> Result<Resolved, Error> {
    if let Some(d) = &flags.qualify_domain
        && !envelope::is_domain(d, false)
    {
        return Err(Error::Usage(format!(
            "--qualify-domain: not a domain name: {d:?}"
        )));
    }
    let config = load(
        flags.config.as_deref(),
        flags.print_config || flags.verbose,
        notices,
    )?;
    let env = Env::from_process();
    let mut input = None;
    let chosen = match (&flags.account, &config) {
        (Some(name), None) => {
            let looked: Vec<String> = default_paths().iter().map(|p| shown(p)).collect();
            return Err(Error::Config(format!(
                "-a {name}: no configuration file (looked for {})",
                looked.join(", ")
            )));
        }
        (Some(name), Some(_)) => Chosen::Flag(name.clone()),
        (None, Some(c)) if c.has_match_from() => {
            let sender = match &flags.from {
                Some(f) => sender_text(&send_address::parse_sender(f, "localhost")?),
                None if reads_one_message(flags) => {
                    let (s, kept) = read_sender(stdin)?;
                    input = kept;
                    s
                }
                None => None,
            };
            match sender.and_then(|s| c.matching(&s).map(|n| (n.to_owned(), s))) {
                Some((n, s)) => Chosen::Matched(n, s),
                None => Chosen::None,
            }
        }
        (None, _) => Chosen::None,
    };
    let merged = merge(flags, config.as_ref(), &chosen, &env)?;
    Ok(Resolved {
        options: merged.options,
        input,
        config,
        origins: merged.origins,
        chosen,
    })
}

fn sender_text(r: &ReversePath) -> Option<String> {
    r.mailbox().map(|m| m.to_string())
}

/// The sender of the message on `stdin` (`Sender:`, else `From:`): a
/// regular file is read and rewound; a pipe's header is kept and returned
/// as the source to prepare (the header then the rest of the pipe).
fn read_sender(stdin: &File) -> Result<(Option<String>, Option<Source>), Error> {
    let mut file = stdin.try_clone().map_err(Error::Input)?;
    let regular = file.metadata().is_ok_and(|m| m.is_file());
    let start = if regular {
        Some(file.stream_position().map_err(Error::Input)?)
    } else {
        None
    };
    let mut tee = prepare::Recorder {
        inner: BufReader::with_capacity(crate::limits::IO_BUF, file),
        rec: Vec::new(),
    };
    // The sender prepare() takes from the header (qualified like -f above);
    // a header or address prepare refuses chooses no account: prepare
    // reports the error with the message.
    let pick = |b: &header::Block| match send_address::field_mailbox(b, "Sender", "localhost") {
        Ok(None) => send_address::field_mailbox(b, "From", "localhost")
            .ok()
            .flatten(),
        sender => sender.ok().flatten(),
    };
    let sender = header::read_block(&mut tee)
        .ok()
        .and_then(|b| pick(&b))
        .map(|m| m.to_string());
    let prepare::Recorder {
        inner: reader,
        rec: head,
    } = tee;
    if let Some(pos) = start {
        let mut file = reader.into_inner();
        file.seek(SeekFrom::Start(pos)).map_err(Error::Input)?;
        return Ok((sender, None));
    }
    let rest = Cursor::new(head).chain(reader);
    Ok((
        sender,
        Some(Source::Stream(Box::new(BufReader::with_capacity(
            crate::limits::IO_BUF,
            rest,
        )))),
    ))
}

// ---------------------------------------------------------------------------
// --print-config

/// Writes the effective settings, one `key = value  # origin` line each
/// (secrets hidden: a password command is shown, a password never).
pub fn print(r: &Resolved, out: &mut dyn Write) -> io::Result<()> {
    match &r.config {
        Some(c) => writeln!(out, "# config: {}", c.file)?,
        None => {
            let looked: Vec<String> = default_paths().iter().map(|p| shown(p)).collect();
            writeln!(out, "# config: none (looked for {})", looked.join(", "))?
        }
    }
    match &r.chosen {
        Chosen::None => writeln!(out, "# account: none ([default] only)")?,
        Chosen::Flag(n) => writeln!(out, "# account: {n} (-a)")?,
        Chosen::Matched(n, s) => writeln!(out, "# account: {n} (match_from: {s})")?,
    }
    if let Some(c) = &r.config
        && !c.accounts.is_empty()
    {
        let names: Vec<String> = c
            .accounts
            .iter()
            .map(|(n, l)| match l.get("match_from") {
                Some((v, _)) => format!("{n} (match_from {v})"),
                None => n.clone(),
            })
            .collect();
        writeln!(out, "# accounts: {}", names.join(", "))?;
    }
    let o = &r.options;
    for &(key, _) in KEYS {
        if key == "match_from" {
            continue;
        }
        let origin = r.origins.iter().find(|(k, _)| *k == key).map(|(_, o)| o);
        let value = match origin {
            Some(Origin::Env("SMTP_PASSWORD")) => "(hidden)".to_owned(),
            Some(Origin::Env(var)) => match std::env::var(var) {
                Ok(v) => format!("{v:?}"),
                Err(_) => continue,
            },
            Some(_) => match current(o, key) {
                Some(v) => v,
                None => continue,
            },
            None => match key {
                "connect_timeout" => format!("{}", options::DEFAULT_CONNECT_TIMEOUT),
                _ => {
                    writeln!(out, "# {key}: not set")?;
                    continue;
                }
            },
        };
        // A server spec that does not parse may hold a password
        // (`smtp://user:pass@host`): not shown, nor the parser's error (some
        // of them, such as an unknown scheme, quote the spec).
        let value = match (key, origin) {
            ("server", Some(o)) if *o != Origin::Flag || r.options.pipe.is_none() => {
                let spec = match o {
                    Origin::Env(var) => std::env::var(var).unwrap_or_default(),
                    _ => r.options.server.clone().unwrap_or_default(),
                };
                match url::parse(&spec) {
                    Ok(_) => value,
                    Err(_) => "(not shown: not a valid server address)".to_owned(),
                }
            }
            _ => value,
        };
        let key = match origin {
            Some(Origin::Env("SMTP_PASSWORD")) => "password",
            _ => key,
        };
        let origin = origin.map_or("built-in".to_owned(), Origin::to_string);
        writeln!(out, "{key} = {value}  # {origin}")?;
    }
    Ok(())
}

/// The option `key`'s value as TOML, when set.
fn current(o: &Options, key: &str) -> Option<String> {
    let s = |v: &Option<String>| v.as_ref().map(|s| format!("{s:?}"));
    let p = |v: &Option<PathBuf>| v.as_ref().map(|s| format!("{:?}", s.display().to_string()));
    let b = |v: bool| v.then(|| "true".to_owned());
    let n = |v: Option<f64>| v.map(|n| n.to_string());
    match key {
        "server" => match (&o.pipe, &o.server) {
            (Some(cmd), _) => Some(format!("(--pipe {cmd:?})")),
            (None, v) => s(v),
        },
        "from" => s(&o.from),
        "full_name" => s(&o.full_name),
        "user" => s(&o.user),
        "password_cmd" => s(&o.password_cmd),
        "password_file" => p(&o.password_file),
        "auth" => s(&o.auth),
        "insecure_auth" => b(o.insecure_auth),
        "ca_file" => p(&o.ca_file),
        "tls_fingerprint" => s(&o.tls_fingerprint),
        "tls_client_cert" => p(&o.tls_client_cert),
        "tls_client_key" => p(&o.tls_client_key),
        "tls_sni" => s(&o.tls_sni),
        "tls_insecure" => b(o.tls_insecure),
        "helo" => s(&o.helo),
        "timeout" => n(o.timeout),
        "connect_timeout" => n(o.connect_timeout),
        "qualify_domain" => s(&o.qualify_domain),
        "queue" => p(&o.queue),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Status as _;
    use crate::send::notice::Recorded;

    /// `KEYS`, `flag_given`, `set` and `current` name every key apiece: a
    /// key one of them forgets would be accepted and then do nothing.
    /// Each key, set alone, is applied, shown with its value, counted as
    /// given, and touches no other key.
    #[test]
    fn every_key_is_set_shown_and_given() {
        for &(key, kind) in KEYS {
            // Not an option: merge reads it to choose the account.
            if key == "match_from" {
                continue;
            }
            let v = match kind {
                Kind::Bool => Value::Bool(true),
                Kind::Seconds => Value::Num(30.0),
                _ => Value::Str("x".to_owned()),
            };
            let mut o = Options::default();
            assert!(!flag_given(&o, key), "{key}");
            set(&mut o, key, &v);
            assert_eq!(current(&o, key), Some(v.to_string()), "{key}");
            assert!(flag_given(&o, key), "{key}");
            for &(other, _) in KEYS {
                if other != key {
                    assert_eq!(current(&o, other), None, "{key} set {other}");
                }
            }
        }
    }

    fn toml_err(text: &str) -> String {
        parse_toml(text, "c.toml").unwrap_err().to_string()
    }

    const GOOD: &str = r#"
# comment
[default]
server = "smtp+starttls://mail.example.org:587"
user = "me"
password_cmd = "pass show mail"

[accounts.work]
server = "smtps://smtp.work.example"
from = "me@work.example"
match_from = ["*@work.example", "boss@*"]
timeout = 30
tls_insecure = false

[accounts.home]
server = "home.example:25"
"#;

    #[test]
    fn toml_reads_tables_in_file_order_with_lines() {
        let c = parse_toml(GOOD, "c.toml").unwrap();
        assert_eq!(
            c.default.get("server").unwrap().0,
            Value::Str("smtp+starttls://mail.example.org:587".into())
        );
        assert_eq!(c.default.get("user").unwrap().1.line, 5);
        let names: Vec<&str> = c.accounts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["work", "home"]);
        let work = c.account("work").unwrap();
        assert_eq!(work.get("timeout").unwrap().0, Value::Num(30.0));
        assert_eq!(work.get("match_from").unwrap().1.line, 11);
        assert_eq!(c.matching("Me@Work.Example"), Some("work"));
        assert_eq!(c.matching("boss@anywhere"), Some("work"));
        assert_eq!(c.matching("me@home.example"), None);
    }

    #[test]
    fn toml_errors_name_line_and_key() {
        let cases: &[(&str, &str)] = &[
            (
                "[accounts.work]\nport = 25\n",
                "c.toml:2: accounts.work.port: unknown key",
            ),
            ("[default]\nserver = \n", "c.toml:2: TOML syntax"),
            (
                "[default]\nserver = \"a b\"\n",
                "c.toml:2: default.server: bad server",
            ),
            (
                "[default]\ntls_insecure = \"yes\"\n",
                "default.tls_insecure: want true or false, got a string",
            ),
            (
                "[default]\ntimeout = -1\n",
                "default.timeout: want seconds above 0",
            ),
            (
                "[default]\npassword = \"x\"\n",
                "c.toml:2: default.password: plain passwords",
            ),
            ("server = \"x\"\n", "c.toml:1: server: unknown key"),
            ("[accounts]\nx = 1\n", "accounts.x: want a table"),
            ("[default]\nmatch_from = \"*\"\n", "match_from belongs"),
            ("[default]\nauth = \"NTLM\"\n", "unknown mechanism"),
            ("[default]\ntls_fingerprint = \"ab\"\n", "bad fingerprint"),
            (
                "[default]\nfrom = \"a@b, c@d\"\n",
                "default.from: want one address",
            ),
            ("[default]\nqualify_domain = \"-x-\"\n", "not a domain"),
            (
                "[default]\ntls_client_cert = \"/c\"\n",
                "needs tls_client_key",
            ),
            (
                "[default]\npassword_cmd = \"x\"\npassword_file = \"y\"\n",
                "give one",
            ),
            ("[default]\nuser = \"a\\u0001\"\n", "control character"),
            (
                "[default]\nuser = \"a\"\nuser = \"b\"\n",
                "c.toml:3: TOML syntax",
            ),
        ];
        for (text, want) in cases {
            let e = toml_err(text);
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn toml_hostile_input_is_an_error_not_a_panic() {
        for text in [
            "[",
            "[[accounts]]\n",
            "a=\"\\",
            "\u{0}",
            "[default]\nx.y.z = 1",
            "[accounts.a.b]\nserver=\"x\"",
        ] {
            let _ = parse_toml(text, "c.toml");
        }
        let deep = "a = ".to_owned() + &"[".repeat(10_000);
        assert!(parse_toml(&deep, "c.toml").is_err());
    }

    const MSMTPRC: &str = "\
# msmtp
defaults
tls on
logfile ~/.msmtp.log
auth on

account one
host 127.0.0.1
port 2525
tls off
from one@one.example
user alice
passwordeval \"pass show one\"
password secret

account two : one
host two.example
tls_starttls off
from *@two.example
domain client.two.example
syslog on

account default : two
";

    #[test]
    fn msmtprc_subset() {
        let (c, warnings) = parse_msmtprc(MSMTPRC, "rc").unwrap();
        let one = c.account("one").unwrap();
        assert_eq!(
            one.get("server").unwrap().0,
            Value::Str("smtp+plain://127.0.0.1:2525".into())
        );
        assert_eq!(one.get("server").unwrap().1.line, 8);
        assert_eq!(one.str("password_cmd"), Some("pass show one"));
        assert_eq!(one.str("from"), Some("one@one.example"));
        let two = c.account("two").unwrap();
        // two inherits one's `tls off` (over the defaults' `tls on`): its
        // own tls_starttls does not turn TLS on.
        assert_eq!(two.str("server"), Some("smtp+plain://two.example:2525"));
        assert_eq!(two.str("helo"), Some("client.two.example"));
        assert_eq!(two.str("from"), None);
        assert_eq!(c.matching("x@TWO.example"), Some("two"));
        assert_eq!(c.matching("one@one.example"), Some("one"));
        assert_eq!(c.default.str("helo"), Some("client.two.example"));
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].text.contains("rc:4: logfile"), "{warnings:?}");
        assert!(!warnings[0].matters, "{warnings:?}");
        assert!(warnings[1].text.contains("password: plain"), "{warnings:?}");
        assert!(warnings[1].matters, "{warnings:?}");
    }

    #[test]
    fn msmtprc_tls_forms_and_errors() {
        let server = |text: &str| {
            let (c, _) = parse_msmtprc(text, "rc").unwrap();
            c.account("a").unwrap().str("server").map(str::to_owned)
        };
        assert_eq!(
            server("account a\nhost h\ntls on\n").unwrap(),
            "smtp+starttls://h"
        );
        assert_eq!(
            server("account a\nhost h\ntls on\ntls_starttls off\n").unwrap(),
            "smtps://h"
        );
        assert_eq!(
            server("account a\nhost ::1\nport 26\n").unwrap(),
            "smtp+plain://[::1]:26"
        );
        for (text, want) in [
            (
                "account a\nhost h\nport 99999\n",
                "rc:2: account a: server:",
            ),
            (
                "account a\nhost h\ntls maybe\n",
                "rc:3: tls: want on or off",
            ),
            ("account a\ntls_fingerprint 00:11\n", "bad fingerprint"),
            ("account a : b\n", "no account \"b\""),
            ("account a\naccount a\n", "defined twice"),
            ("account a\nfrom \"x\n", "unterminated quote"),
            ("account a\ntimeout soon\n", "timeout: want seconds"),
        ] {
            let e = parse_msmtprc(text, "rc").unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        let (c, _) = parse_msmtprc("account a\nhost h\nauth off\nuser u\n", "rc").unwrap();
        assert_eq!(c.account("a").unwrap().str("user"), None);
    }

    fn flags() -> Options {
        Options::default()
    }

    #[test]
    fn precedence_flag_account_env_default() {
        let c = parse_toml(GOOD, "c.toml").unwrap();
        let work = Chosen::Flag("work".into());
        let env = Env {
            server: Some("env:25".into()),
            user: Some("envuser".into()),
            password: true,
        };
        // Flag beats account.
        let mut f = flags();
        f.server = Some("flag:25".into());
        let m = merge(&f, Some(&c), &work, &env).unwrap();
        assert_eq!(m.options.server.as_deref(), Some("flag:25"));
        // Account beats env.
        let m = merge(&flags(), Some(&c), &work, &env).unwrap();
        assert_eq!(
            m.options.server.as_deref(),
            Some("smtps://smtp.work.example")
        );
        // Env beats default: the option stays unset, the env var is read later.
        assert_eq!(m.options.user, None);
        assert!(m.origins.contains(&("user", Origin::Env("SMTP_USER"))));
        assert_eq!(m.options.password_cmd, None);
        let m = merge(&flags(), Some(&c), &Chosen::None, &env).unwrap();
        assert_eq!(m.options.server, None);
        // Default when nothing else.
        let m = merge(&flags(), Some(&c), &Chosen::None, &Env::default()).unwrap();
        assert_eq!(
            m.options.server.as_deref(),
            Some("smtp+starttls://mail.example.org:587")
        );
        assert_eq!(m.options.password_cmd.as_deref(), Some("pass show mail"));
        // A --password-file flag keeps a configured command out.
        let mut f = flags();
        f.password_file = Some("/pw".into());
        let m = merge(&f, Some(&c), &Chosen::None, &Env::default()).unwrap();
        assert_eq!(m.options.password_cmd, None);
        // An account with its own server does not get [default]'s
        // credentials; one without a server does.
        let c2 = parse_toml(
            "[default]\nserver = \"d\"\nuser = \"du\"\npassword_cmd = \"dp\"\n\
             [accounts.s]\nserver = \"s\"\n[accounts.n]\nhelo = \"h.example\"\n",
            "c.toml",
        )
        .unwrap();
        let m = merge(
            &flags(),
            Some(&c2),
            &Chosen::Flag("s".into()),
            &Env::default(),
        )
        .unwrap();
        assert_eq!((m.options.user, m.options.password_cmd), (None, None));
        let m = merge(
            &flags(),
            Some(&c2),
            &Chosen::Flag("n".into()),
            &Env::default(),
        )
        .unwrap();
        assert_eq!(m.options.user.as_deref(), Some("du"));
        assert_eq!(m.options.server.as_deref(), Some("d"));
        // Unknown account.
        let e = merge(&flags(), Some(&c), &Chosen::Flag("nope".into()), &env).unwrap_err();
        assert_eq!(e.exit_code(), 78);
        assert!(e.to_string().contains("unknown account \"nope\""), "{e}");
    }

    #[test]
    fn queue_dir_from_the_config_unless_given() {
        let c = parse_toml(
            "[default]\nqueue = \"/q\"\n[accounts.a]\nqueue = \"/qa\"\n",
            "c.toml",
        )
        .unwrap();
        let m = merge(&flags(), Some(&c), &Chosen::None, &Env::default()).unwrap();
        assert_eq!(m.options.queue, Some(PathBuf::from("/q")));
        let m = merge(
            &flags(),
            Some(&c),
            &Chosen::Flag("a".into()),
            &Env::default(),
        )
        .unwrap();
        assert_eq!(m.options.queue, Some(PathBuf::from("/qa")));
        let mut f = flags();
        f.queue = Some("/flag".into());
        let m = merge(&f, Some(&c), &Chosen::Flag("a".into()), &Env::default()).unwrap();
        assert_eq!(m.options.queue, Some(PathBuf::from("/flag")));
    }

    #[test]
    fn prepare_qualifies_the_header_and_the_envelope() {
        let o = prepare::PrepareOptions {
            extract: true,
            hostname: "example.org".to_owned(),
            qualify_domain: Some("example.org".to_owned()),
            ..prepare::PrepareOptions::default()
        };
        let msg = "From: root\nTo: user, Other <o@x.example>\nCc: cron\nBcc: b\n\
                   Subject: root\nX-To: user\n\nbody\n";
        let mut p = prepare::prepare(Source::Stream(Box::new(Cursor::new(msg))), &o).unwrap();
        assert_eq!(p.envelope.from.to_string(), "root@example.org");
        let rcpts: Vec<String> = p.envelope.rcpts.iter().map(|m| m.to_string()).collect();
        assert_eq!(
            rcpts,
            [
                "user@example.org",
                "o@x.example",
                "cron@example.org",
                "b@example.org"
            ]
        );
        let mut text = String::new();
        p.reader().read_to_string(&mut text).unwrap();
        assert!(
            text.starts_with(
                "From: root@example.org\r\nTo: user@example.org, Other <o@x.example>\r\n\
                 Cc: cron@example.org\r\nSubject: root\r\nX-To: user\r\n"
            ),
            "{text}"
        );
        // Without --qualify-domain the header is left as it is.
        let o = prepare::PrepareOptions {
            qualify_domain: None,
            ..o
        };
        let mut p = prepare::prepare(Source::Stream(Box::new(Cursor::new(msg))), &o).unwrap();
        let mut text = String::new();
        p.reader().read_to_string(&mut text).unwrap();
        assert!(text.starts_with("From: root\r\nTo: user,"), "{text}");
    }

    /// `[default]`'s credentials went to any server given by `-S` or
    /// `SMTP_SERVER`, though the man page promises they are "never sent to
    /// another host" than `[default]`'s server.
    #[test]
    fn bug_default_credentials_never_go_to_another_server() {
        let c = parse_toml(
            "[default]\nserver = \"d.example\"\nuser = \"du\"\npassword_cmd = \"dp\"\n",
            "c.toml",
        )
        .unwrap();
        let mut f = flags();
        f.server = Some("other.example".into());
        let m = merge(&f, Some(&c), &Chosen::None, &Env::default()).unwrap();
        assert_eq!((m.options.user, m.options.password_cmd), (None, None));
        let env = Env {
            server: Some("env.example".into()),
            ..Env::default()
        };
        let m = merge(&flags(), Some(&c), &Chosen::None, &env).unwrap();
        assert_eq!((m.options.user, m.options.password_cmd), (None, None));
        // With [default]'s own server they are used; a [default] without a
        // server has credentials for whatever server is given.
        let m = merge(&flags(), Some(&c), &Chosen::None, &Env::default()).unwrap();
        assert_eq!(m.options.user.as_deref(), Some("du"));
        let c = parse_toml("[default]\nuser = \"du\"\n", "c.toml").unwrap();
        let m = merge(&f, Some(&c), &Chosen::None, &Env::default()).unwrap();
        assert_eq!(m.options.user.as_deref(), Some("du"));
    }

    /// With `--bs` (stdin is an SMTP session, whose client waits for our
    /// greeting: reading a "header" there hangs), a `match_from` account
    /// must not make `resolve` read stdin first.
    #[test]
    fn bug_bs_does_not_read_stdin_to_choose_the_account() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("config.toml");
        fs_write(
            &conf,
            "[accounts.w]\nmatch_from = \"*@work.example\"\nhelo = \"w.example\"\n",
        );
        let (r, mut w) = io::pipe().unwrap();
        w.write_all(b"From: me@work.example\r\n\r\nHELO x\r\n")
            .unwrap();
        drop(w);
        let stdin = File::from(std::os::fd::OwnedFd::from(r));
        let mut f = flags();
        f.config = Some(conf.clone());
        f.bs = true;
        let resolved = resolve(&f, &stdin, &Recorded::default()).unwrap();
        assert!(resolved.input.is_none(), "stdin was read");
        let mut left = Vec::new();
        (&stdin).read_to_end(&mut left).unwrap();
        assert!(left.starts_with(b"From: me@"));
    }

    fn fs_write(p: &Path, text: &str) {
        std::fs::write(p, text).unwrap();
    }

    /// `--print-config` echoed a server spec holding a password
    /// (`smtp://user:pass@host` from `-S` or `SMTP_SERVER`), which the
    /// URL parser refuses precisely without echoing it.
    #[test]
    fn bug_print_config_hides_a_password_in_the_server() {
        for spec in [
            "smtp://me:s3cret@mail.example",
            "smpt://me:s3cret@mail.example",
        ] {
            let mut f = flags();
            f.server = Some(spec.into());
            let m = merge(&f, None, &Chosen::None, &Env::default()).unwrap();
            let r = Resolved {
                options: m.options,
                input: None,
                config: None,
                origins: m.origins,
                chosen: Chosen::None,
            };
            let mut out = Vec::new();
            print(&r, &mut out).unwrap();
            let out = String::from_utf8(out).unwrap();
            assert!(!out.contains("s3cret"), "{out}");
            assert!(out.contains("server = (not shown"), "{out}");
        }
    }

    /// A server spec with credentials and another defect (an unknown
    /// scheme, or an msmtp host that becomes a bracketed address) failed
    /// with the parser's error, which quotes the spec: the password went
    /// into the one-line error.
    #[test]
    fn bug_bad_server_errors_do_not_quote_a_password() {
        let e = toml_err("[default]\nserver = \"smpt://me:s3cret@mail.example\"\n");
        assert!(e.starts_with("c.toml:2: default.server: "), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
        // The plain credentials case keeps its advice (it quotes nothing).
        let e = toml_err("[default]\nserver = \"smtp://me:s3cret@mail.example\"\n");
        assert!(e.contains("credentials") && !e.contains("s3cret"), "{e}");
        let e = parse_msmtprc("account a\nhost me:s3cret@mail.example\n", "rc")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("rc:2: account a: server: "), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }
}
