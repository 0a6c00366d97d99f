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
//! 4. Below the user's file (not with `--config`), the system-wide
//!    `/etc/mailpipe/config.toml`, else `/etc/msmtprc` (as msmtp reads
//!    it): daemons without a `HOME` (PHP-FPM, cron as root, smartd) use it,
//!    and a user's file overrides it key by key and account by account
//!    ([`overlay`]). `MAILPIPE_SYSCONFDIR` replaces `/etc` (for tests).
//! 5. None: flags and the environment only. A missing file is not an error.
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
//! read from the file (`password_cmd` or `password_file` instead), except
//! as `oauth = "NAME"`: the access token of `smtp-oauth`'s account NAME,
//! which implies `auth = "XOAUTH2"` unless `auth` says OAUTHBEARER.
//!
//! # Precedence
//!
//! For each setting, first found wins: the command line; the account (`-a
//! NAME`, else the first account in file order whose `match_from` matches
//! the sender); the environment (`SMTP_SERVER`, `SMTP_USER`,
//! `SMTP_PASSWORD`: these three settings only); `[default]`; the built-in
//! default. `[default]` is below the environment so that `SMTP_SERVER=...
//! smtp-send` still overrides a file. `--password-file` and
//! `--password-cmd` (and the keys, `oauth` too) are one setting: the password.
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
//! `aliases` (in an msmtprc too) sets `--aliases FILE`.
//!
//! # The msmtp subset
//!
//! `defaults`, `account NAME`, `account NAME : OTHER[, ...]` (inheritance),
//! `account default : NAME`; keys `host`, `port`, `from`, `user`,
//! `passwordeval`, `auth` (`on`, `off`, or a mechanism), `tls`,
//! `tls_starttls`, `tls_trust_file`, `tls_fingerprint` (SHA-256),
//! `tls_certcheck`, `tls_cert_file`, `tls_key_file`, `tls_host_override`,
//! `domain` (the EHLO name), `timeout`, `logfile` and `syslog` (as `log`:
//! the file when both; `syslog on` is msmtp's facility, `user`),
//! `logfile_time_format` (as `log_time_format`). `tls off` is `smtp+plain://`, `tls on`
//! `smtp+starttls://` (`smtps://` with `tls_starttls off`). The account named
//! `default` plays `[default]`'s part; an account's `from` is also its
//! `match_from` (msmtp's `--read-envelope-from`). Every other key
//! (`password` included: use `passwordeval`) is warned about and ignored;
//! a bad value of a key that is read is an error (78).

// send::error::Error is large since the per-recipient results (its Smtp
// variant); it is returned once per run, so boxing it here gains nothing.
#![allow(clippy::result_large_err)]

pub mod layer;
pub mod msmtp;
pub mod toml;

use layer::*;
use msmtp::{Ignored, parse_msmtprc};
use toml::parse_toml;

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

/// [`limits::MAX_CONFIG`](crate::limits::MAX_CONFIG).
const MAX_CONFIG: u64 = crate::limits::MAX_CONFIG;

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

fn xdg_config_home() -> Option<PathBuf> {
    match std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from) {
        Some(p) if p.is_absolute() => Some(p),
        _ => home().map(|h| h.join(".config")),
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

/// The system-wide files, in order: the first that exists is read, below
/// the user's own (issue 14).
pub fn system_paths() -> Vec<PathBuf> {
    let etc = std::env::var_os("MAILPIPE_SYSCONFDIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("/etc"), PathBuf::from);
    vec![etc.join("mailpipe/config.toml"), etc.join("msmtprc")]
}

/// Every place looked in when `--config` is not given, for messages.
fn looked_for() -> String {
    let all: Vec<String> = default_paths()
        .iter()
        .chain(&system_paths())
        .map(|p| shown(p))
        .collect();
    all.join(", ")
}

/// `user` over `system`: the user's `[default]` keys replace the system's
/// key by key, the user's accounts come first and replace a system account
/// of the same name whole; each value keeps the place it was written.
fn overlay(system: Config, user: Config) -> Config {
    let mut default = system.default;
    default.settings.extend(user.default.settings);
    let mut accounts = user.accounts;
    for (name, layer) in system.accounts {
        if !accounts.iter().any(|(n, _)| *n == name) {
            accounts.push((name, layer));
        }
    }
    Config {
        file: format!("{} (over {})", user.file, system.file),
        default,
        accounts,
    }
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
/// named with `--config`: an msmtprc found on its own holds many keys we do
/// not read (aliases, ...), and cron would mail those warnings on
/// every run. Those about one account (a plain `password`) are returned,
/// for the caller to say once the account in use is known.
pub fn load(
    explicit: Option<&Path>,
    explain: bool,
    notices: &dyn Notices,
) -> Result<(Option<Config>, Vec<Ignored>), Error> {
    let mut deferred = Vec::new();
    let first = |paths: Vec<PathBuf>| -> Result<Option<(PathBuf, String)>, Error> {
        for p in paths {
            if let Some(t) = read(&p)? {
                return Ok(Some((p, t)));
            }
        }
        Ok(None)
    };
    let mut parse = |path: &Path, text: &str| -> Result<Config, Error> {
        let file = shown(path);
        let config = if is_msmtprc(path) {
            let (config, warnings) = parse_msmtprc(text, &file)?;
            for w in warnings {
                if w.account.is_some() {
                    deferred.push(w);
                } else if explain || explicit.is_some() {
                    notices.warn(&w.text);
                }
            }
            config
        } else {
            parse_toml(text, &file)?
        };
        if let Some(why) = writable_by_others(path) {
            // Issue 17: its password_cmd runs as the user, so anyone who
            // may change the file runs commands as the user (ssh refuses
            // its own files on the same grounds).
            let names_command = std::iter::once(&config.default)
                .chain(config.accounts.iter().map(|(_, l)| l))
                .any(|l| l.get("password_cmd").is_some());
            if names_command {
                return Err(Error::Config(format!(
                    "{file}: {why}, and it names a password_cmd: not run (chmod go-w)"
                )));
            }
            notices.warn(&format_args!("{file}: {why} (chmod go-w)"));
        }
        Ok(config)
    };
    let config = match explicit {
        Some(p) => match read(p)? {
            Some(t) => Some(parse(p, &t)?),
            None => {
                return Err(Error::Config(format!(
                    "--config {}: No such file or directory",
                    shown(p)
                )));
            }
        },
        None => {
            let user = first(default_paths())?
                .map(|(p, t)| parse(&p, &t))
                .transpose()?;
            let system = first(system_paths())?
                .map(|(p, t)| parse(&p, &t))
                .transpose()?;
            match (system, user) {
                (Some(s), Some(u)) => Some(overlay(s, u)),
                (s, u) => u.or(s),
            }
        }
    };
    Ok((config, deferred))
}

/// Why someone other than the file's owner (and root) may change `path`:
/// the file or its directory writable by others, or by a group other than
/// the owner's own (a user private group, whose only member is the owner,
/// is the owner: Debian's default umask 002 makes files group-writable), or
/// a file owned by another user. A sticky directory (`/tmp`) lets no one
/// replace another's file. `None` when it is the owner's alone.
fn writable_by_others(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    let me = nix::unistd::Uid::current().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Some(format!("owned by uid {}, not by you", meta.uid()));
    }
    let private_group = |gid: u32, owner: u32| {
        let group = nix::unistd::Group::from_gid(gid.into()).ok().flatten();
        let user = nix::unistd::User::from_uid(owner.into()).ok().flatten();
        match (group, user) {
            (Some(g), Some(u)) => {
                g.name == u.name && g.mem.iter().all(|m| *m == u.name) && u.gid.as_raw() == gid
            }
            _ => false,
        }
    };
    let loose = |m: &std::fs::Metadata| {
        m.mode() & 0o002 != 0 || (m.mode() & 0o020 != 0 && !private_group(m.gid(), m.uid()))
    };
    if loose(&meta) {
        return Some(format!(
            "writable by others (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
    let dmeta = std::fs::metadata(dir).ok()?;
    (loose(&dmeta) && dmeta.mode() & 0o1000 == 0).then(|| {
        format!(
            "its directory {} is writable by others (mode {:o})",
            dir.display(),
            dmeta.mode() & 0o777
        )
    })
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
        "password_cmd" | "password_file" | "oauth" if env.password => Some("SMTP_PASSWORD"),
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
        // One setting, three spellings.
        "password_cmd" | "password_file" | "oauth" => {
            o.password_cmd.is_some() || o.password_file.is_some() || o.oauth.is_some()
        }
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
        "password_cmd_timeout" => o.password_cmd_timeout.is_some(),
        "qualify_domain" => o.qualify_domain.is_some(),
        "queue" => o.queue.is_some(),
        "aliases" => o.aliases.is_some(),
        "log" => o.log.is_some(),
        "log_time_format" => o.log_time_format.is_some(),
        // The three go together: a flag for one keeps the file's others
        // from mixing in (a selector without the key it names).
        "dkim_key" | "dkim_selector" | "dkim_domain" => {
            o.dkim_key.is_some() || o.dkim_selector.is_some() || o.dkim_domain.is_some()
        }
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
        "oauth" => o.oauth = s(),
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
        "password_cmd_timeout" => o.password_cmd_timeout = n,
        "qualify_domain" => o.qualify_domain = s(),
        "queue" => o.queue = s().map(PathBuf::from),
        "aliases" => o.aliases = s().map(PathBuf::from),
        "log" => o.log = s(),
        "log_time_format" => o.log_time_format = s(),
        "dkim_key" => o.dkim_key = s().map(PathBuf::from),
        "dkim_selector" => o.dkim_selector = s(),
        "dkim_domain" => o.dkim_domain = s(),
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
        if other_server && matches!(key, "user" | "password_cmd" | "password_file" | "oauth") {
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

/// Whether table `l` gives the setting `key` (the password, under three
/// keys, and the client certificate, under two, are one setting each).
fn has_setting(l: &Layer, key: &str) -> bool {
    match key {
        "password_cmd" | "password_file" | "oauth" => {
            l.get("password_cmd").is_some()
                || l.get("password_file").is_some()
                || l.get("oauth").is_some()
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
pub(crate) fn reads_one_message(o: &Options) -> bool {
    // `--bs`: stdin is an SMTP session (its client waits for our greeting:
    // reading a header there would hang).
    !o.each
        && !o.bs
        && !o.probe
        && !o.print_config
        && o.flush.is_none()
        && o.list.is_none()
        && o.drop.is_none()
        && !o.queue_run
        && !o.queue_list
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
    let explain = flags.print_config || flags.verbose;
    let (config, about_accounts) = load(flags.config.as_deref(), explain, notices)?;
    let env = Env::from_process();
    let mut input = None;
    let chosen = match (&flags.account, &config) {
        (Some(name), None) => {
            return Err(Error::Config(format!(
                "-a {name}: no configuration file (looked for {})",
                looked_for()
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
    // A plain password ignored in the account in use (msmtp's account
    // `default` without one): why "no password" follows. Not for the
    // others, or cron would mail it on every run (issue 14).
    let in_use = match &chosen {
        Chosen::Flag(n) | Chosen::Matched(n, _) => n.as_str(),
        Chosen::None => "default",
    };
    for w in &about_accounts {
        if explain || w.account.as_deref() == Some(in_use) {
            notices.warn(&w.text);
        }
    }
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
        None => writeln!(out, "# config: none")?,
    }
    if r.options.config.is_none() {
        writeln!(out, "# looked for: {}", looked_for())?;
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
                "password_cmd_timeout" => {
                    format!("{}", crate::send::credentials::DEFAULT_COMMAND_TIMEOUT)
                }
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
        "oauth" => s(&o.oauth),
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
        "password_cmd_timeout" => n(o.password_cmd_timeout),
        "qualify_domain" => s(&o.qualify_domain),
        "queue" => p(&o.queue),
        "aliases" => p(&o.aliases),
        "log" => s(&o.log),
        "log_time_format" => s(&o.log_time_format),
        "dkim_key" => p(&o.dkim_key),
        "dkim_selector" => s(&o.dkim_selector),
        "dkim_domain" => s(&o.dkim_domain),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
