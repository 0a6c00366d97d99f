//! smtp-oauth: sign in once to an OAuth 2.0 mail provider (RFC 6749), then
//! print valid access tokens for smtp-send (XOAUTH2, OAUTHBEARER).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use mailpipe::cli;
use mailpipe::exit::Status;
use mailpipe::limits::OAUTH_TIMEOUT_SECS;
use mailpipe::send::oauth::error::Error;
use mailpipe::send::oauth::http::{Http, HttpOptions};
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

    /// Print a completion script for SHELL to standard output and exit.
    #[arg(long, value_name = "SHELL", value_enum, exclusive = true)]
    completions: Option<clap_complete::Shell>,
}

#[derive(Subcommand)]
enum Command {
    /// Print a valid access token of account NAME.
    Token {
        /// The account.
        name: String,
    },
}

fn main() -> ExitCode {
    cli::tool("smtp-oauth", |a: &Args| a.completions, run)
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    match dispatch(args) {
        // Our errors carry their own exit code (exit::Status).
        Err(e)
            if let Some(code) = e
                .chain()
                .find_map(|c| c.downcast_ref::<Error>())
                .map(Error::exit_code) =>
        {
            cli::say(format!("{e:#}"));
            Ok(ExitCode::from(code))
        }
        other => other,
    }
}

fn dispatch(args: Args) -> anyhow::Result<ExitCode> {
    let Some(command) = args.command else {
        return Err(cli::usage("a command is required: token"));
    };
    let store = Store::new(store::default_dir()?);
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
        Http::new(&HttpOptions {
            ca_pem,
            timeout: Duration::from_secs(args.timeout),
        })
    };
    match command {
        Command::Token { name } => {
            let token = token::access_token(http, &store, &name)?;
            let mut out = cli::stdout();
            out.write_all(token.as_str().as_bytes())?;
            out.write_all(b"\n")?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
