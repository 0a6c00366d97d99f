//! smtp-oauth: sign in once to an OAuth 2.0 mail provider (RFC 6749), then
//! print valid access tokens for smtp-send (XOAUTH2, OAUTHBEARER).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use mailpipe::cli;
use mailpipe::exit::Status;
use mailpipe::limits::{OAUTH_MAX_STORE, OAUTH_TIMEOUT_SECS};
use mailpipe::send::oauth::error::Error;
use mailpipe::send::oauth::http::{Http, HttpOptions};
use mailpipe::send::oauth::login::{self, LoginOptions, Prompt, Revoked};
use mailpipe::send::oauth::provider;
use mailpipe::send::oauth::secret::Token;
use mailpipe::send::oauth::store::{self, Store};
use mailpipe::send::oauth::token;

/// Sign in once to an OAuth 2.0 mail provider, then print access tokens.
///
/// `login` signs an account in (a browser, or a code to type on another
/// device) and stores its refresh token in
/// $XDG_STATE_HOME/mailpipe/oauth/NAME (mode 0600); `token` prints a valid
/// access token, refreshed when less than a minute remains, for
/// `smtp-send --password-cmd` or msmtp's `passwordeval`.
#[derive(Parser)]
#[command(
    name = "smtp-oauth",
    version,
    after_help = "EXAMPLES:\n  \
        smtp-oauth login work --provider microsoft --client-id ID\n  \
        smtp-oauth token work                   print an access token\n  \
        smtp-send --auth xoauth2 --password-cmd 'smtp-oauth token work' ..."
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Trust the PEM certificates in FILE instead of the system's roots.
    #[arg(long, value_name = "FILE", global = true)]
    ca_file: Option<PathBuf>,

    /// Give up on an HTTP request after SECS seconds.
    #[arg(long, value_name = "SECS", global = true, default_value_t = OAUTH_TIMEOUT_SECS)]
    timeout: u64,

    /// Store accounts by running CMD (`sh -c`) with the account's JSON on
    /// its stdin, e.g. 'pass insert -m -f mail/oauth/$SMTP_OAUTH_ACCOUNT'.
    #[arg(long, value_name = "CMD", global = true)]
    store_cmd: Option<String>,

    /// Load accounts by running CMD (`sh -c`), which prints the account's
    /// JSON, e.g. 'pass show mail/oauth/$SMTP_OAUTH_ACCOUNT'.
    #[arg(long, value_name = "CMD", global = true)]
    load_cmd: Option<String>,

    /// Kill a store or load command after SECS seconds.
    #[arg(long, value_name = "SECS", global = true, default_value_t = store::COMMAND_TIMEOUT_SECS)]
    cmd_timeout: u64,

    /// Print a completion script for SHELL to standard output and exit.
    #[arg(long, value_name = "SHELL", value_enum, exclusive = true)]
    completions: Option<clap_complete::Shell>,
}

#[derive(Subcommand)]
enum Command {
    /// Sign account NAME in and store its refresh token.
    Login(Box<Login>),
    /// Print a valid access token of account NAME.
    Token {
        /// The account.
        name: String,
    },
    /// List the accounts: name, user, provider, expiry (never a token).
    List {
        /// Only these accounts (needed with --load-cmd, which cannot
        /// enumerate them).
        names: Vec<String>,
    },
    /// Sign account NAME out: revoke its token where the provider can, and
    /// delete it.
    #[command(visible_alias = "logout")]
    Revoke {
        /// The account.
        name: String,
    },
}

#[derive(clap::Args)]
struct Login {
    /// The account's name, used by `token NAME`.
    name: String,

    /// A provider preset: endpoints and scopes.
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(provider::PRESETS))]
    provider: Option<String>,

    /// Find the endpoints by OpenID discovery at URL.
    #[arg(long, value_name = "URL", conflicts_with = "provider")]
    issuer: Option<String>,

    /// The client id you registered with the provider.
    #[arg(long, value_name = "ID")]
    client_id: String,

    /// Read the client secret from FILE (Google requires one).
    #[arg(long, value_name = "FILE")]
    client_secret_file: Option<PathBuf>,

    /// Microsoft's tenant: common, organizations, a domain or an id.
    #[arg(long, value_name = "T")]
    tenant: Option<String>,

    /// The mailbox to sign in (a hint to the sign-in page; shown by list).
    #[arg(long, value_name = "ADDR")]
    user: Option<String>,

    /// Ask for SCOPES (space-separated) instead of the preset's.
    #[arg(long, value_name = "SCOPES")]
    scope: Option<String>,

    /// The authorization endpoint (browser sign-in with PKCE).
    #[arg(long, value_name = "URL")]
    auth_url: Option<String>,

    /// The token endpoint.
    #[arg(long, value_name = "URL")]
    token_url: Option<String>,

    /// The device authorization endpoint: sign in with a code instead.
    #[arg(long, value_name = "URL")]
    device_url: Option<String>,

    /// The token revocation endpoint (RFC 7009).
    #[arg(long, value_name = "URL")]
    revoke_url: Option<String>,

    /// Do not wait for the browser: paste the address it was sent to.
    #[arg(long)]
    no_browser: bool,
}

fn main() -> ExitCode {
    cli::tool("smtp-oauth", |a: &Args| a.completions, run)
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(command) = args.command else {
        return Err(cli::usage(
            "a command is required: login, token, list, revoke",
        ));
    };
    let dir = store::default_dir()?;
    let store = if args.store_cmd.is_some() || args.load_cmd.is_some() {
        Store::with_commands(
            dir,
            store::Commands {
                load: args.load_cmd.clone(),
                store: args.store_cmd.clone(),
                timeout: Duration::from_secs(args.cmd_timeout),
            },
        )
    } else {
        Store::new(dir)
    };
    let timeout = Duration::from_secs(args.timeout);
    let http = || -> Result<Http, Error> {
        let ca_pem = match &args.ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                Error::Config(format!(
                    "--ca-file {}: {}",
                    path.display(),
                    mailpipe::io::strip_os_error(&e)
                ))
            })?),
            None => None,
        };
        Http::new(&HttpOptions { ca_pem, timeout })
    };
    match command {
        Command::Login(l) => {
            let opts = login_options(&l)?;
            let http = http()?;
            let mut stdin = std::io::stdin().lock();
            login::login(
                &http, &store, &l.name, &opts, &mut show, &mut stdin, timeout,
            )?;
            cli::say(format!("{}: signed in", l.name));
        }
        Command::List { names } => return list(&store, names),
        Command::Revoke { name } => match login::revoke(http, &store, &name)? {
            Revoked::Everywhere => cli::say(format!("{name}: revoked and removed")),
            Revoked::HereOnly => cli::say(format!(
                "{name}: removed (the provider has no revocation endpoint)"
            )),
            Revoked::Failed(e) => {
                cli::say(format!("{name}: removed here, but not revoked: {e}"));
                return Ok(ExitCode::from(e.exit_code()));
            }
        },
        Command::Token { name } => {
            let token = token::access_token(http, &store, &name, None).map_err(|e| match e {
                // Its text names the account already.
                Error::SignIn(_) => anyhow::Error::from(e),
                e => anyhow::Error::from(e).context(name.clone()),
            })?;
            let mut out = cli::stdout();
            out.write_all(token.as_str().as_bytes())?;
            out.write_all(b"\n")?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The login options, the client secret read from its file (never argv).
fn login_options(l: &Login) -> anyhow::Result<LoginOptions> {
    let client_secret = match &l.client_secret_file {
        Some(path) => {
            let mut text = String::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(OAUTH_MAX_STORE).read_to_string(&mut text))
                .map_err(|e| {
                    Error::Config(format!(
                        "--client-secret-file {}: {}",
                        path.display(),
                        mailpipe::io::strip_os_error(&e)
                    ))
                })?;
            let secret = Token::from(text);
            let trimmed = secret.as_str().trim();
            if trimmed.is_empty() {
                return Err(Error::Config(format!(
                    "--client-secret-file {}: empty",
                    path.display()
                ))
                .into());
            }
            Some(Token::from(trimmed.to_owned()))
        }
        None => None,
    };
    Ok(LoginOptions {
        provider: l.provider.clone(),
        issuer: l.issuer.clone(),
        client_id: l.client_id.clone(),
        client_secret,
        tenant: l.tenant.clone(),
        user: l.user.clone(),
        scope: l.scope.clone(),
        auth_url: l.auth_url.clone(),
        token_url: l.token_url.clone(),
        device_url: l.device_url.clone(),
        revoke_url: l.revoke_url.clone(),
        paste: l.no_browser,
    })
}

/// Tells the person what to do, on stderr (stdout stays for tokens).
fn show(prompt: Prompt) {
    match prompt {
        Prompt::Open(url) => {
            cli::say("sign in with a browser at this address (waiting for it):");
            eprintln!("{url}");
            // $BROWSER, as many tools honour it; without it the address
            // is opened by hand.
            if let Some(browser) = std::env::var_os("BROWSER").filter(|b| !b.is_empty()) {
                let _ = std::process::Command::new(browser)
                    .arg(&url)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn();
            }
        }
        Prompt::OpenAndPaste(url) => {
            cli::say("sign in with a browser anywhere at this address:");
            eprintln!("{url}");
            cli::say(
                "then paste here the whole address the browser ends at \
                 (http://127.0.0.1:..., which does not load):",
            );
        }
        Prompt::Device(p) => {
            cli::say(format!(
                "to sign in, go to {} and enter the code {}",
                p.uri, p.user_code
            ));
            if let Some(complete) = p.uri_complete {
                cli::say(format!("(or open {complete})"));
            }
        }
    }
}

/// `list`: one line per account (those named, else the store's), tab-separated: name, user, provider,
/// state of its access token. Never a token. An account that cannot be
/// read is said on stderr and the others still listed; the exit code is
/// the worst such error's.
fn list(store: &Store, names: Vec<String>) -> anyhow::Result<ExitCode> {
    let names = match names {
        n if !n.is_empty() => n,
        _ if store.by_commands() => {
            return Err(cli::usage("list with --load-cmd needs the accounts' names"));
        }
        _ => store.names()?,
    };
    let mut out = cli::stdout();
    let now = token::now();
    let mut worst = cli::code::OK;
    for name in names {
        match store.load(&name) {
            Ok(a) => {
                let state = if a.refresh_token.is_none() {
                    "signed out".to_owned()
                } else if a.expires_at > now {
                    match jiff::Timestamp::from_second(i64::try_from(a.expires_at)?) {
                        Ok(t) => format!("access token until {t}"),
                        Err(_) => "access token".to_owned(),
                    }
                } else {
                    "signed in".to_owned()
                };
                let user = a.user.as_deref().unwrap_or("-");
                writeln!(out, "{name}\t{user}\t{}\t{state}", a.provider)?;
            }
            Err(e) => {
                worst = worst.max(e.exit_code());
                cli::say(e);
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::from(worst))
}
