//! Where signed-in accounts live: `$XDG_STATE_HOME/mailpipe/oauth/NAME`
//! (default `~/.local/state`), one JSON file per account, mode 0600 in a
//! directory of mode 0700. A store that others can read is refused, as ssh
//! refuses a readable key. Files are replaced whole (write, fsync, rename,
//! fsync the directory): a crash during a refresh leaves the old file, so
//! the only refresh token is never lost.
//!
//! Or through commands ([`Commands`], `--store-cmd`/`--load-cmd`): the
//! account's JSON goes to one's stdin and comes from the other's stdout
//! (`pass insert -m mail/oauth/work`, `pass show mail/oauth/work`; gpg,
//! secret-tool), never through argv; the account's name is in their
//! environment as `SMTP_OAUTH_ACCOUNT`. The directory then only holds the
//! lock.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::Error;
use super::secret::Token;
use crate::io::temp::Replacement;
use crate::limits::OAUTH_MAX_STORE;

/// One signed-in account: how to refresh its token, and the tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    /// The preset (`google`, `microsoft`) or `custom`.
    pub provider: String,
    /// The registered client's id.
    pub client_id: String,
    /// The client's secret, for providers that require one of installed
    /// applications (Google).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Token>,
    /// The token endpoint (RFC 6749 §3.2).
    pub token_url: String,
    /// The revocation endpoint (RFC 7009), if the provider has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_url: Option<String>,
    /// The mailbox the account is for (`--user`), shown by `list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The scopes asked for at sign-in.
    #[serde(default)]
    pub scope: String,
    /// Whether a refresh asks for the scopes again (RFC 6749 §6 makes it
    /// optional; Microsoft's v2.0 endpoint wants them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refresh_scope: bool,
    /// The refresh token (RFC 6749 §1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Token>,
    /// The last access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<Token>,
    /// When the access token expires, seconds since the epoch (0: unknown,
    /// so it is not reused).
    #[serde(default)]
    pub expires_at: u64,
}

/// The store: a directory of account files, or commands.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    commands: Option<Commands>,
}

/// The time a store or load command has by default
/// ([`limits::COMMAND_TIMEOUT_SECS`](crate::limits::COMMAND_TIMEOUT_SECS)).
pub const COMMAND_TIMEOUT_SECS: u64 = crate::limits::COMMAND_TIMEOUT_SECS;

/// The variable that names the account to a store or load command.
pub const ACCOUNT_VAR: &str = "SMTP_OAUTH_ACCOUNT";

/// Accounts kept by commands instead of files (`sh -c CMD`, run by
/// [`crate::io::command::run`]). An operation that needs the missing one
/// is refused rather than falling back to files: a refreshed token saved
/// where the next load does not look would be lost.
#[derive(Debug, Clone)]
pub struct Commands {
    /// Prints an account's JSON (`--load-cmd`).
    pub load: Option<String>,
    /// Reads an account's JSON on its stdin and keeps it (`--store-cmd`).
    pub store: Option<String>,
    /// Kill either after this long.
    pub timeout: Duration,
}

/// The environment naming account `name` to a command.
fn account_env(name: &str) -> [(&str, &str); 1] {
    [(ACCOUNT_VAR, name)]
}

/// The directory of the store: `$XDG_STATE_HOME/mailpipe/oauth`, else
/// `$HOME/.local/state/mailpipe/oauth` (XDG Base Directory Specification).
pub fn default_dir() -> Result<PathBuf, Error> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))
        .ok_or_else(|| Error::Config("neither XDG_STATE_HOME nor HOME is set".into()))?;
    Ok(state.join("mailpipe/oauth"))
}

/// Checks an account name: it becomes a file name in the store, so no `/`,
/// no leading `.` (`.`, `..`, and the store's temporary files), no control
/// characters.
pub fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty()
        || name.starts_with('.')
        || name.len() > 255
        || name.chars().any(|c| c == '/' || c.is_control())
    {
        return Err(Error::Config(format!(
            "{name:?}: not an account name (no '/', no leading '.', no control characters)"
        )));
    }
    Ok(())
}

impl Store {
    /// The store in `dir` (not created until an account is saved).
    pub fn new(dir: PathBuf) -> Store {
        Store {
            dir,
            commands: None,
        }
    }

    /// The store whose accounts `commands` keep; `dir` only holds the lock.
    pub fn with_commands(dir: PathBuf, commands: Commands) -> Store {
        Store {
            dir,
            commands: Some(commands),
        }
    }

    /// Whether accounts are kept by commands (so [`Store::names`] cannot
    /// know them).
    pub fn by_commands(&self) -> bool {
        self.commands.is_some()
    }

    /// Runs the command `pick` chooses (`flag`) for account `name`,
    /// `input` on its stdin; its output. A missing command is an error
    /// naming its flag.
    fn run(
        c: &Commands,
        pick: fn(&Commands) -> &Option<String>,
        flag: &str,
        name: &str,
        input: Option<Vec<u8>>,
    ) -> Result<crate::smtp::sasl::Secret, Error> {
        let cmd = pick(c).as_deref().ok_or_else(|| {
            Error::Config(format!(
                "{flag} is needed too: with --load-cmd or --store-cmd the \
                 account is kept by commands only"
            ))
        })?;
        crate::io::command::run(cmd, &account_env(name), input, c.timeout, OAUTH_MAX_STORE)
            .map(crate::smtp::sasl::Secret::new)
            .map_err(|f| Error::Config(format!("{flag} {cmd:?}: {f}")))
    }

    /// Creates the store's directory (0700) if needed, and checks it.
    fn make_dir(&self) -> Result<(), Error> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(Error::io(self.dir.display().to_string()))?;
        self.check_dir()
    }

    fn path(&self, name: &str) -> Result<PathBuf, Error> {
        check_name(name)?;
        Ok(self.dir.join(name))
    }

    /// Refuses a directory or file that others may read or write.
    fn check_private(path: &Path, meta: &fs::Metadata) -> Result<(), Error> {
        if meta.mode() & 0o077 != 0 {
            return Err(Error::Config(format!(
                "{}: group or others can access it (mode {:o}): chmod go= {}",
                path.display(),
                meta.mode() & 0o7777,
                path.display()
            )));
        }
        Ok(())
    }

    fn check_dir(&self) -> Result<(), Error> {
        let meta = fs::metadata(&self.dir).map_err(Error::io(self.dir.display().to_string()))?;
        Store::check_private(&self.dir, &meta)
    }

    /// Reads account `name`. Errors: no such account (configuration: sign
    /// in first), a store others can read, a malformed file.
    pub fn load(&self, name: &str) -> Result<Account, Error> {
        check_name(name)?;
        if let Some(c) = &self.commands {
            let text = Store::run(c, |c| &c.load, "--load-cmd", name, None)?;
            return serde_json::from_slice(text.as_bytes())
                .map_err(|e| Error::Config(format!("--load-cmd printed no account: {e}")));
        }
        let path = self.path(name)?;
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Config(format!(
                    "{name}: no such account: smtp-oauth login {name}"
                )));
            }
            Err(e) => return Err(Error::io(path.display().to_string())(e)),
        };
        self.check_dir()?;
        let meta = file
            .metadata()
            .map_err(Error::io(path.display().to_string()))?;
        Store::check_private(&path, &meta)?;
        let mut text = Vec::new();
        file.take(OAUTH_MAX_STORE + 1)
            .read_to_end(&mut text)
            .map_err(Error::io(path.display().to_string()))?;
        let text = crate::smtp::sasl::Secret::new(text);
        if text.as_bytes().len() as u64 > OAUTH_MAX_STORE {
            return Err(Error::Config(format!(
                "{}: larger than {OAUTH_MAX_STORE} bytes",
                path.display()
            )));
        }
        serde_json::from_slice(text.as_bytes())
            .map_err(|e| Error::Config(format!("{}: not an account file: {e}", path.display())))
    }

    /// Writes account `name` whole (see the module's docs), creating the
    /// store's directory (0700) if needed.
    pub fn save(&self, name: &str, account: &Account) -> Result<(), Error> {
        check_name(name)?;
        let mut json = serde_json::to_vec_pretty(account)
            .map_err(|e| Error::Protocol(format!("{name}: cannot encode: {e}")))?;
        json.push(b'\n');
        if let Some(c) = &self.commands {
            // What it prints is not ours to show; the JSON is overwritten
            // by the runner once written.
            Store::run(c, |c| &c.store, "--store-cmd", name, Some(json))?;
            return Ok(());
        }
        let json = crate::smtp::sasl::Secret::new(json);
        let path = self.path(name)?;
        let io_err = || Error::io(path.display().to_string());
        self.make_dir()?;
        // 0600 from its creation: never open to others, not even for an
        // instant, whatever the directory's mode.
        let mut file = Replacement::create_mode(&path, 0o600).map_err(io_err())?;
        file.write_all(json.as_bytes()).map_err(io_err())?;
        file.commit().map_err(io_err())?;
        crate::io::sync::sync_dir(&self.dir).map_err(Error::io(self.dir.display().to_string()))
    }

    /// Deletes account `name`, which is `account`. Returns whether it
    /// existed. Commands cannot delete: `account` is stored signed out
    /// (without its tokens), which `list` shows as such.
    pub fn remove(&self, name: &str, account: &Account) -> Result<bool, Error> {
        if self.commands.is_some() {
            let signed_out = Account {
                refresh_token: None,
                access_token: None,
                expires_at: 0,
                ..account.clone()
            };
            self.save(name, &signed_out)?;
            return Ok(true);
        }
        let path = self.path(name)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(path.display().to_string())(e)),
        }
    }

    /// The names of the stored accounts, sorted; none when the store does
    /// not exist yet.
    pub fn names(&self) -> Result<Vec<String>, Error> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(self.dir.display().to_string())(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(Error::io(self.dir.display().to_string()))?;
            if let Some(name) = entry.file_name().to_str()
                && check_name(name).is_ok()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Holds the store's lock (`flock` on its directory) while `f` runs:
    /// two `smtp-oauth token` at once must not both spend a refresh token
    /// that the provider rotates (the second would get `invalid_grant`).
    pub fn locked<T>(&self, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
        if self.commands.is_some() {
            // With files, load has found the directory; commands need it
            // only for this lock.
            self.make_dir()?;
        }
        let dir = File::open(&self.dir).map_err(Error::io(self.dir.display().to_string()))?;
        rustix::fs::flock(&dir, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| Error::io(self.dir.display().to_string())(e.into()))?;
        // Unlocked when `dir` is closed, also on an early return.
        f()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn account() -> Account {
        Account {
            provider: "custom".into(),
            client_id: "id".into(),
            client_secret: None,
            token_url: "https://example.org/token".into(),
            revoke_url: None,
            user: Some("me@example.org".into()),
            scope: "mail".into(),
            refresh_scope: false,
            refresh_token: Some(Token::from("r1".to_owned())),
            access_token: None,
            expires_at: 0,
        }
    }

    #[test]
    fn names_are_file_names_only() {
        for bad in ["", ".", "..", "../x", "a/b", ".hidden", "a\nb"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["work", "me@example.org", "a.b"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn saved_private_and_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path().join("state/oauth"));
        assert!(store.names().unwrap().is_empty());
        store.save("work", &account()).unwrap();
        let meta = fs::metadata(tmp.path().join("state/oauth/work")).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        let dir = fs::metadata(tmp.path().join("state/oauth")).unwrap();
        assert_eq!(dir.mode() & 0o777, 0o700);
        let back = store.locked(|| store.load("work")).unwrap();
        assert_eq!(back.refresh_token, account().refresh_token);
        assert_eq!(store.names().unwrap(), ["work"]);
        assert!(store.remove("work", &back).unwrap());
        assert!(!store.remove("work", &back).unwrap());
    }

    #[test]
    fn readable_by_others_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path().join("oauth"));
        store.save("work", &account()).unwrap();
        let file = tmp.path().join("oauth/work");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(store.load("work"), Err(Error::Config(_))));
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(tmp.path().join("oauth"), fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(store.load("work"), Err(Error::Config(_))));
        assert!(matches!(store.load("none"), Err(Error::Config(_))));
    }
}
