//! Where the AUTH password comes from: never the command line (argv is
//! visible to every local user through `ps` and `/proc`).
//!
//! Sources, first found wins:
//!
//! 1. `--password-file FILE`: the file's first line (its line end
//!    stripped). A file readable by group or others gets a warning, as
//!    msmtp and ssh do for secrets.
//! 2. `--password-cmd CMD`: `sh -c CMD`, the first line of its stdout (so
//!    `pass show mail` works: pass prints the password first). Its stdin is
//!    `/dev/null` (ours is the message), its stderr is ours (so gpg's
//!    prompts and errors show). A non-zero exit is an error naming the
//!    status; its output is never shown. An OAuth helper prints a token
//!    here for XOAUTH2/OAUTHBEARER.
//! 3. The configuration's `oauth = "NAME"`: the access token of
//!    `smtp-oauth`'s account NAME ([`oauth_token`]), refreshed through the
//!    library when less than a minute of it remains, no program run. The
//!    caller asks it first when set (its errors have their own exit codes).
//! 4. The `SMTP_PASSWORD` environment variable (empty means unset).
//! 5. `~/.netrc` (or the file `$NETRC` names, as GNU inetutils and curl
//!    allow): `machine HOST login USER password PASS`, or the `default`
//!    entry; see [`netrc_lookup`].
//!
//! The two flags are the most specific (this invocation), the environment
//! next (this session), netrc last (this user, all hosts), the order msmtp
//! follows too (its `password`/`passwordeval` before netrc). The caller
//! should make `--password-file` and `--password-cmd` conflict, since
//! giving both is most likely a mistake.
//!
//! Secrets are held in [`Password`], whose `Debug` prints `***`; no error
//! message here quotes a file's or a command's contents.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::oauth;

/// `--password-cmd-timeout` by default, in seconds
/// ([`limits::COMMAND_TIMEOUT_SECS`](crate::limits::COMMAND_TIMEOUT_SECS)).
pub const DEFAULT_COMMAND_TIMEOUT: f64 = crate::limits::COMMAND_TIMEOUT_SECS as f64;

/// The longest password (or OAuth token) read from a file or a command.
const MAX_SECRET: u64 = crate::limits::MAX_SECRET;

/// The largest netrc file read.
const MAX_NETRC: u64 = crate::limits::MAX_NETRC;

/// A password or token. `Debug` prints `***`; the bytes are overwritten
/// when it is dropped (best effort: earlier copies made by the OS or by a
/// `String` reallocation are beyond reach).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a secret.
    pub fn new(secret: String) -> Password {
        Password(secret)
    }

    /// The secret, for the SASL exchange.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret as a `String` (to hand to `sasl::Secret`).
    pub fn into_string(mut self) -> String {
        std::mem::take(&mut self.0)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}

/// Where to look; built by the binary ([`Sources::from_env`]) or by tests.
#[derive(Debug, Clone)]
pub struct Sources {
    /// `--password-file`.
    pub password_file: Option<PathBuf>,
    /// `--password-cmd`.
    pub password_cmd: Option<String>,
    /// `--password-cmd-timeout`: the command is killed after this long.
    pub command_timeout: Duration,
    /// `oauth = "NAME"`: smtp-oauth's account.
    pub oauth: Option<String>,
    /// The value of `SMTP_PASSWORD`.
    pub env_password: Option<Password>,
    /// The netrc file to read if nothing else gave a password: `$NETRC`,
    /// else `$HOME/.netrc`. A missing file is not an error.
    pub netrc: Option<PathBuf>,
}

impl Default for Sources {
    /// No source, and the default `--password-cmd-timeout`.
    fn default() -> Sources {
        Sources {
            password_file: None,
            password_cmd: None,
            oauth: None,
            command_timeout: Duration::from_secs_f64(DEFAULT_COMMAND_TIMEOUT),
            env_password: None,
            netrc: None,
        }
    }
}

impl Sources {
    /// The flags plus what the environment says: `SMTP_PASSWORD`, `NETRC`,
    /// `HOME`.
    pub fn from_env(
        password_file: Option<PathBuf>,
        password_cmd: Option<String>,
        command_timeout: Duration,
    ) -> Sources {
        let env_password = std::env::var("SMTP_PASSWORD")
            .ok()
            .filter(|p| !p.is_empty())
            .map(Password::new);
        let netrc = match std::env::var_os("NETRC").filter(|v| !v.is_empty()) {
            Some(path) => Some(PathBuf::from(path)),
            None => std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| Path::new(&home).join(".netrc")),
        };
        Sources {
            password_file,
            password_cmd,
            command_timeout,
            oauth: None,
            env_password,
            netrc,
        }
    }
}

/// Which source gave the password (for `-v`: "password from ~/.netrc").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--password-file`.
    File,
    /// `--password-cmd`.
    Command,
    /// `oauth = "NAME"`.
    OAuth,
    /// `SMTP_PASSWORD`.
    Env,
    /// The netrc file.
    Netrc,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::File => "--password-file",
            Source::Command => "--password-cmd",
            Source::OAuth => "smtp-oauth's store",
            Source::Env => "SMTP_PASSWORD",
            Source::Netrc => "netrc",
        })
    }
}

/// A password found, where from, and a warning for the caller to print
/// (a password file or netrc readable by others).
#[derive(Debug)]
pub struct Found {
    /// The secret.
    pub password: Password,
    /// Where it came from.
    pub source: Source,
    /// e.g. `/home/u/.netrc is readable by others (mode 644): chmod 600 it`.
    pub warning: Option<String>,
}

crate::exit::message_error! {
    /// A source was given but gave no password (configuration error, exit 78).
    /// Never contains the secret or a command's output.
    #[derive(Debug)]
    pub struct CredError(String) => CONFIG;
}

/// The password for `user` at `host` from the first source that has one
/// (see the module doc for the order). `Ok(None)`: no source configured
/// and no netrc entry (the caller then sends no AUTH, or says a password
/// is needed). Errors: a named file that cannot be read or is empty, a
/// command that cannot run, fails or prints nothing, a netrc that cannot
/// be read (a missing netrc is fine).
pub fn password(user: &str, host: &str, sources: &Sources) -> Result<Option<Found>, CredError> {
    if let Some(path) = &sources.password_file {
        let bytes = read_secret_file(path, MAX_SECRET).map_err(|e| {
            CredError(format!(
                "password file {}: {}",
                path.display(),
                crate::io::strip_os_error(&e)
            ))
        })?;
        let password = first_line(&bytes)
            .map_err(|why| CredError(format!("password file {}: {why}", path.display())))?;
        return Ok(Some(Found {
            password,
            source: Source::File,
            warning: loose_permissions(path),
        }));
    }
    if let Some(cmd) = &sources.password_cmd {
        return Ok(Some(Found {
            password: run_command(cmd, sources.command_timeout)?,
            source: Source::Command,
            warning: None,
        }));
    }
    if let Some(p) = &sources.env_password {
        return Ok(Some(Found {
            password: p.clone(),
            source: Source::Env,
            warning: None,
        }));
    }
    let Some((path, text)) = read_netrc(sources)? else {
        return Ok(None);
    };
    let Some(entry) = netrc_lookup(&text, host, Some(user)) else {
        return Ok(None);
    };
    let Some(pass) = entry.password else {
        return Ok(None);
    };
    let password = String::from_utf8(pass)
        .map_err(|_| CredError(format!("{}: the password is not UTF-8", path.display())))?;
    Ok(Some(Found {
        password: Password::new(password),
        source: Source::Netrc,
        warning: loose_permissions(path),
    }))
}

/// The access token of `smtp-oauth`'s account `name` (its store in
/// `$XDG_STATE_HOME/mailpipe/oauth`, the system's roots for the token
/// endpoint, the default timeout), refreshed when less than a minute
/// remains, or when it is the `refused` one. Errors keep their own exit
/// codes: `invalid_grant` is [`oauth::error::Error::SignIn`] (77).
pub fn oauth_token(name: &str, refused: Option<&str>) -> Result<Found, oauth::error::Error> {
    let store = oauth::store::Store::new(oauth::store::default_dir()?);
    let http = || {
        oauth::http::Http::new(&oauth::http::HttpOptions {
            ca_pem: None,
            timeout: std::time::Duration::from_secs(crate::limits::OAUTH_TIMEOUT_SECS),
        })
    };
    let token = oauth::token::access_token(http, &store, name, refused)?;
    Ok(Found {
        password: Password::new(token.as_str().to_owned()),
        source: Source::OAuth,
        warning: None,
    })
}

/// The netrc file and its text; `None` when there is none.
fn read_netrc(sources: &Sources) -> Result<Option<(&Path, Vec<u8>)>, CredError> {
    let Some(path) = &sources.netrc else {
        return Ok(None);
    };
    match read_secret_file(path, MAX_NETRC) {
        Ok(t) => Ok(Some((path, t))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CredError(format!("{}: {e}", path.display()))),
    }
}

/// The login of the netrc entry for `host` (or of `default`), for a caller
/// given no `--user`/`SMTP_USER`, as curl's `--netrc` does. `Ok(None)`
/// when there is no netrc or no entry with a login.
pub fn netrc_user(host: &str, sources: &Sources) -> Result<Option<String>, CredError> {
    let Some((_, text)) = read_netrc(sources)? else {
        return Ok(None);
    };
    Ok(netrc_lookup(&text, host, None)
        .and_then(|e| e.login)
        .and_then(|l| String::from_utf8(l).ok()))
}

/// A secret file's bytes, at most `limit` (more is an error, and what was read
/// is zeroed): passwords, and DKIM private keys (`send::dkim`).
pub(crate) fn read_secret_file(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::other("is a directory"));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        bytes.fill(0);
        return Err(io::Error::other(format!("larger than {limit} bytes")));
    }
    Ok(bytes)
}

/// A warning if `path` is readable or writable by group or others.
pub(crate) fn loose_permissions(path: &Path) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} is accessible by others (mode {mode:o}): chmod 600 it",
            path.display()
        )
    })
}

/// The first line without its LF or CRLF; an empty first line, or bytes
/// that are not UTF-8, are errors (the message never quotes the bytes).
fn first_line(bytes: &[u8]) -> Result<Password, &'static str> {
    let line = match memchr::memchr(b'\n', bytes) {
        Some(i) => &bytes[..i],
        None => bytes,
    };
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err("empty password");
    }
    match std::str::from_utf8(line) {
        Ok(s) => Ok(Password::new(s.to_owned())),
        Err(_) => Err("the password is not UTF-8"),
    }
}

/// `sh -c CMD` through [`crate::io::command::run`]: stdin /dev/null,
/// stderr inherited, killed with its children after `limit`, or when it
/// prints more than [`MAX_SECRET`] octets: no password is that long, and
/// a cut one would be sent wrong (issue 17).
fn run_command(cmd: &str, limit: Duration) -> Result<Password, CredError> {
    use crate::io::command::{self, Failure};
    let err = |why: String| CredError(format!("password command {cmd:?}: {why}"));
    let mut out = command::run(cmd, &[], None, limit, MAX_SECRET).map_err(|f| {
        err(match f {
            Failure::TooSlow(_) => format!("{f} (--password-cmd-timeout)"),
            Failure::TooLong(_) => format!("{f}: not a password (nothing sent)"),
            f => f.to_string(),
        })
    })?;
    let result = first_line(&out).map_err(|why| match why {
        "empty password" => err("printed no password".to_owned()),
        why => err(why.to_owned()),
    });
    out.fill(0);
    result
}

/// One netrc entry: `machine` is None for `default`. Login and password are
/// bytes as written (netrc has no declared charset).
#[derive(Clone, PartialEq, Eq)]
pub struct NetrcEntry {
    /// The `machine` name, or None for the `default` entry.
    pub machine: Option<String>,
    /// `login`.
    pub login: Option<Vec<u8>>,
    /// `password`.
    pub password: Option<Vec<u8>>,
}

impl fmt::Debug for NetrcEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetrcEntry")
            .field("machine", &self.machine)
            .field("login", &self.login.as_deref().map(String::from_utf8_lossy))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Parses a netrc file (the format of ftp(1), inetutils and curl): tokens
/// separated by white space; `machine NAME` or `default` start an entry;
/// `login`, `password`, `account` (ignored) and `port` (ignored) take a
/// value; `macdef NAME` is followed by a macro body up to an empty line,
/// which is skipped. A `#` where a keyword is expected starts a comment to
/// the end of the line. A value may be double-quoted, with `\"` and `\\`
/// escapes inside, as curl accepts, for passwords with spaces. Unknown
/// keywords are skipped. Tokens before the first `machine`/`default` are
/// ignored. Never fails: a malformed file yields the entries it can.
pub fn parse_netrc(text: &[u8]) -> Vec<NetrcEntry> {
    let mut lexer = Lexer { text, pos: 0 };
    let mut entries: Vec<NetrcEntry> = Vec::new();
    while let Some(token) = lexer.keyword() {
        match token.as_slice() {
            b"machine" => {
                let Some(name) = lexer.value() else { break };
                entries.push(NetrcEntry {
                    machine: Some(String::from_utf8_lossy(&name).into_owned()),
                    login: None,
                    password: None,
                });
            }
            b"default" => entries.push(NetrcEntry {
                machine: None,
                login: None,
                password: None,
            }),
            b"login" | b"password" => {
                let Some(value) = lexer.value() else { break };
                if let Some(entry) = entries.last_mut() {
                    if token == b"login" {
                        entry.login = Some(value);
                    } else {
                        entry.password = Some(value);
                    }
                }
            }
            b"account" | b"port" => {
                lexer.value();
            }
            b"macdef" => {
                lexer.value();
                lexer.skip_macro();
            }
            _ => {}
        }
    }
    entries
}

/// The entry for `host` (case-insensitive; the first `machine` entry whose
/// login is `user` or that has no login), else the `default` entry (whose
/// login must match too when both are given). Parses `text` with
/// [`parse_netrc`].
pub fn netrc_lookup(text: &[u8], host: &str, user: Option<&str>) -> Option<NetrcEntry> {
    let login_ok = |e: &NetrcEntry| match (user, &e.login) {
        (Some(u), Some(l)) => l == u.as_bytes(),
        _ => true,
    };
    let entries = parse_netrc(text);
    let machine = entries.iter().find(|e| {
        e.machine
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case(host))
            && login_ok(e)
    });
    machine
        .or_else(|| entries.iter().find(|e| e.machine.is_none() && login_ok(e)))
        .cloned()
}

struct Lexer<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn skip_space(&mut self) {
        while self.pos < self.text.len() && self.text[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    /// The next token where a keyword is expected, skipping `#` comments.
    fn keyword(&mut self) -> Option<Vec<u8>> {
        loop {
            self.skip_space();
            if self.text.get(self.pos) == Some(&b'#') {
                match memchr::memchr(b'\n', &self.text[self.pos..]) {
                    Some(i) => self.pos += i + 1,
                    None => self.pos = self.text.len(),
                }
                continue;
            }
            return self.value();
        }
    }

    /// The next token, plain or double-quoted.
    fn value(&mut self) -> Option<Vec<u8>> {
        self.skip_space();
        let text = self.text;
        if self.pos >= text.len() {
            return None;
        }
        let mut out = Vec::new();
        if text[self.pos] == b'"' {
            self.pos += 1;
            while self.pos < text.len() {
                let b = text[self.pos];
                self.pos += 1;
                match b {
                    b'"' => break,
                    b'\\' if self.pos < text.len() => {
                        out.push(text[self.pos]);
                        self.pos += 1;
                    }
                    _ => out.push(b),
                }
            }
        } else {
            while self.pos < text.len() && !text[self.pos].is_ascii_whitespace() {
                out.push(text[self.pos]);
                self.pos += 1;
            }
        }
        Some(out)
    }

    /// After `macdef NAME`: the rest of that line, then lines up to and
    /// including the first empty one.
    fn skip_macro(&mut self) {
        let text = self.text;
        match memchr::memchr(b'\n', &text[self.pos..]) {
            Some(i) => self.pos += i + 1,
            None => {
                self.pos = text.len();
                return;
            }
        }
        while self.pos < text.len() {
            let end = memchr::memchr(b'\n', &text[self.pos..]).map_or(text.len(), |i| self.pos + i);
            let line = &text[self.pos..end];
            self.pos = (end + 1).min(text.len());
            if line.is_empty() || line == b"\r" {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
