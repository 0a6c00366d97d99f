//! Running `smtp-send` ([`run`]): the options are checked and turned into
//! the library's (preparation, session, route), then the mode is chosen:
//! `--print-config`, the queue's `--list`, `--drop` and `--flush`,
//! `--dry-run`, `--probe`, `-bs`, one message, or `--each`.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use std::time::Duration;

use crate::exit;
use crate::exit::Status as _;
use crate::io::strip_os_error;
use crate::message::dkim::key::SigningKey;
use crate::message::dkim::sign::Signer;
use crate::send::address::{parse_recipient_arg, parse_sender, smtp_mailbox};
use crate::send::error::{Error, Failed, Mode};
use crate::send::log::{self, Log};
use crate::send::notice::{self, Notices};
use crate::send::options::{DEFAULT_CONNECT_TIMEOUT, Options};
use crate::send::outcome::{self, RcptResult};
use crate::send::prepare::{PrepareOptions, Source, prepare};
use crate::send::route::{Deliverer, EachOutcome, Route, refusals, send_each};
use crate::send::session::{Delivery, Session, SessionOptions, Target, dry_run, local_hostname};
use crate::send::url;
use crate::send::{aliases, credentials, mx, queue};
use crate::smtp::client;
use crate::smtp::envelope;
use crate::smtp::sasl::Mechanism;
use crate::smtp::tls;
use std::sync::Arc;

/// Reports the error of the message `name` (of `--each`) on a line of its
/// own ([`Error::reported`]); the others still go.
fn report(notices: &dyn Notices, name: &str, err: &Error) {
    notices.say(&format_args!("{name}: {}", err.reported(Mode::Send)));
}

fn seconds(what: &str, s: f64) -> Result<Duration, Error> {
    if s.is_finite() && s > 0.0 && s < 1e9 {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(Error::Usage(format!(
            "{what}: want a number of seconds above 0, got {s}"
        )))
    }
}

fn read_config_file(what: &str, path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| Error::Config(format!("{what} {}: {}", path.display(), strip_os_error(&e))))
}

/// The session options from the command line and the environment
/// (`SMTP_SERVER`, `SMTP_USER`).
fn session_options(o: &Options, notices: &notice::Shared) -> Result<SessionOptions, Error> {
    let mut target = match (&o.pipe, &o.server) {
        (Some(cmd), _) => Target::Pipe(cmd.clone()),
        (None, Some(spec)) => {
            Target::Server(url::parse(spec).map_err(|e| Error::Usage(format!("-S: {e}")))?)
        }
        (None, None) if o.mx => Target::Mx,
        (None, None) => match std::env::var("SMTP_SERVER").ok().filter(|s| !s.is_empty()) {
            Some(spec) => Target::Server(
                url::parse(&spec).map_err(|e| Error::Config(format!("SMTP_SERVER: {e}")))?,
            ),
            None => {
                return Err(Error::Config(
                    "no server: use -S SERVER or set SMTP_SERVER".to_owned(),
                ));
            }
        },
    };
    if let Target::Server(s) = &mut target {
        s.lmtp = o.lmtp;
    }
    let mut tls = tls::ClientTls {
        insecure: o.tls_insecure,
        sni: o.tls_sni.clone(),
        ..tls::ClientTls::default()
    };
    if let Some(p) = &o.ca_file {
        tls.ca_pem = Some(read_config_file("--ca-file", p)?);
        tls.ca_name = Some(format!("--ca-file {}", p.display()));
    }
    if let Some(f) = &o.tls_fingerprint {
        tls.fingerprint =
            Some(tls::Fingerprint::parse(f).map_err(|e| Error::Usage(e.to_string()))?);
    }
    if let (Some(c), Some(k)) = (&o.tls_client_cert, &o.tls_client_key) {
        tls.client_cert = Some(tls::ClientCert {
            cert_pem: read_config_file("--tls-client-cert", c)?,
            key_pem: read_config_file("--tls-client-key", k)?,
            cert_name: Some(format!("--tls-client-cert {}", c.display())),
            key_name: Some(format!("--tls-client-key {}", k.display())),
        });
    }
    let auth = match &o.auth {
        Some(name) => Some(Mechanism::parse(name).ok_or_else(|| {
            // msmtp's `--auth=on`: here AUTH follows from --user.
            let msmtp = if ["on", "off", "yes", "no"].contains(&name.to_ascii_lowercase().as_str()) {
                "; AUTH is used when a user is given (--user), no switch needed"
            } else {
                ""
            };
            Error::Usage(format!(
                "--auth {name:?}: unknown mechanism (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER){msmtp}"
            ))
        })?),
        // `oauth = "NAME"` is a bearer token: XOAUTH2 (what Google and
        // Microsoft take) unless `auth` said OAUTHBEARER (RFC 7628).
        None if o.oauth.is_some() => Some(Mechanism::XOAuth2),
        None => None,
    };
    if o.oauth.is_some()
        && let Some(m) = auth
        && !matches!(m, Mechanism::XOAuth2 | Mechanism::OAuthBearer)
    {
        return Err(Error::Config(format!(
            "oauth {:?}: auth {m} takes a password, not a token (XOAUTH2 or OAUTHBEARER)",
            o.oauth.as_deref().unwrap_or_default()
        )));
    }
    let mut credentials = credentials::Sources::from_env(
        o.password_file.clone(),
        o.password_cmd.clone(),
        seconds(
            "--password-cmd-timeout",
            o.password_cmd_timeout
                .unwrap_or(credentials::DEFAULT_COMMAND_TIMEOUT),
        )?,
    );
    credentials.oauth.clone_from(&o.oauth);
    let mut user = o
        .user
        .clone()
        .or_else(|| std::env::var("SMTP_USER").ok())
        .filter(|u| !u.is_empty());
    if user.is_none()
        && !o.mx
        && let Target::Server(s) = &target
    {
        user = credentials::netrc_user(&s.host, &credentials)
            .map_err(|e| Error::Config(e.to_string()))?;
    }
    if auth.is_some() && user.is_none() {
        return Err(Error::Usage(
            "--auth needs a user: --user or SMTP_USER".to_owned(),
        ));
    }
    // smtp:// is "STARTTLS if offered", and cleartext when not: refusing
    // a certificate that does not verify would protect nothing (RFC 7435
    // §1, Postfix's `may`). With a password to protect, or a trust anchor
    // or pin the user named, verification stays required (smtp-send(1),
    // "TLS policy").
    tls.opportunistic = matches!(&target, Target::Server(s) if s.security == url::Security::StartTlsIfOffered)
        && user.is_none()
        && tls.ca_pem.is_none()
        && tls.fingerprint.is_none()
        && !tls.insecure;
    // RFC 5321 §4.1.1.1: a Domain or an address literal, checked before
    // connecting (issue 17: `h x` was sent as written).
    if let Some(h) = &o.helo
        && !envelope::is_domain(h, false)
    {
        return Err(Error::Usage(format!(
            "--helo {h:?}: want a domain name or an address literal such as [192.0.2.1] \
             (RFC 5321 §4.1.1.1)"
        )));
    }
    Ok(SessionOptions {
        target,
        helo: o.helo.clone(),
        tls,
        user,
        credentials,
        auth,
        insecure_auth: o.insecure_auth,
        timeout: o.timeout.map(|t| seconds("--timeout", t)).transpose()?,
        connect_timeout: seconds(
            "--connect-timeout",
            o.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        )?,
        verbose: o.verbose,
        notices: Arc::clone(notices),
        delivery: Delivery {
            dkim: dkim_signer(o, &**notices)?,
            ..delivery_options(o)?
        },
        cleartext_after_starttls_refused: false,
    })
}

/// `--dkim-key`, `--dkim-selector`, `--dkim-domain` (or the account's
/// `dkim_*` keys): the signer, its key read now (before any message), or
/// `None`. The three go together; a key others can read is a warning, as
/// for a password file.
fn dkim_signer(o: &Options, notices: &dyn Notices) -> Result<Option<Arc<Signer>>, Error> {
    let Some(path) = &o.dkim_key else {
        if o.dkim_selector.is_some() || o.dkim_domain.is_some() {
            return Err(Error::Config(
                "dkim_selector and dkim_domain need dkim_key (the private key file)".to_owned(),
            ));
        }
        return Ok(None);
    };
    let what =
        |e: &dyn std::fmt::Display| Error::Config(format!("DKIM key {}: {e}", path.display()));
    let (Some(selector), Some(domain)) = (&o.dkim_selector, &o.dkim_domain) else {
        return Err(what(
            &"needs a selector and a domain (--dkim-selector, --dkim-domain)",
        ));
    };
    let pem = credentials::read_secret_file(path, crate::limits::MAX_SECRET)
        .map_err(|e| what(&strip_os_error(&e)))?;
    let key = SigningKey::from_pem(&pem).map_err(|e| what(&e))?;
    if let Some(w) = credentials::loose_permissions(path) {
        notices.warn(&w);
    }
    if key.rsa_bits().is_some_and(|b| b < 2048) {
        notices.warn(&format_args!(
            "DKIM key {}: RSA under 2048 bits (RFC 8301 §3.2)",
            path.display()
        ));
    }
    Ok(Some(Arc::new(Signer {
        key,
        domain: domain.clone(),
        selector: selector.clone(),
    })))
}

/// `--lmtp`, `--partial`, the DSN options (ORCPT goes with any of them),
/// `--no-chunking` (`--dkim-key` is [`dkim_signer`]'s).
fn delivery_options(o: &Options) -> Result<Delivery, Error> {
    // A bad value is a usage error naming the option.
    fn parse<T>(
        option: &str,
        value: Option<&str>,
        parse: fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, Error> {
        value
            .map(parse)
            .transpose()
            .map_err(|e| Error::Usage(format!("{option}: {e}")))
    }
    let notify = parse("--notify", o.notify.as_deref(), client::Notify::parse)?;
    let ret = parse("--ret", o.ret.as_deref(), client::Ret::parse)?;
    if let Some(id) = &o.envid
        && (id.is_empty()
            || id.chars().count() > client::MAX_ENVID
            || !id.bytes().all(|b| (32..=126).contains(&b)))
    {
        return Err(Error::Usage(format!(
            "--envid: want 1 to {} printable ASCII characters (RFC 3461 §4.4)",
            client::MAX_ENVID
        )));
    }
    let mut dsn = client::Dsn {
        notify,
        ret,
        envid: o.envid.clone(),
        orcpt: false,
    };
    dsn.orcpt = dsn.is_requested();
    Ok(Delivery {
        lmtp: o.lmtp,
        partial: o.partial,
        dsn,
        no_chunking: o.no_chunking,
        dkim: None,
    })
}

/// The login name of the real uid (getpwuid_r(3) of getuid(2), through
/// NSS), as sendmail uses for a sender when nothing else names one: PHP-FPM
/// workers, systemd services and bare cron jobs have neither `USER` nor
/// `LOGNAME`. `None` for a uid without a passwd entry (a container's
/// arbitrary uid): then "no sender" (65) as before.
fn real_user_name() -> Option<String> {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::current()).ok()??;
    Some(user.name).filter(|n| !n.is_empty())
}

/// The preparation options from the command line and the environment
/// (`USER`/`LOGNAME`, else the real uid's login name, for the default
/// sender). The `--aliases` file is read here, once per run, and applies
/// to the RECIPIENT arguments before they are qualified, and to `-t`'s
/// recipients in [`prepare`].
fn prepare_options(o: &Options) -> Result<PrepareOptions, Error> {
    let hostname = local_hostname();
    let mail_host = if let Some(d) = &o.qualify_domain {
        // --qualify-domain: addresses without a domain get this one.
        d.clone()
    } else if envelope::is_domain(&hostname, false) {
        hostname
    } else {
        "localhost".to_owned()
    };
    let from = o
        .from
        .as_deref()
        .map(|f| parse_sender(f, &mail_host))
        .transpose()?;
    let aliases = o
        .aliases
        .as_deref()
        .map(aliases::load)
        .transpose()?
        .map(Arc::new);
    let mut recipients = Vec::new();
    if !o.each {
        for arg in &o.operands {
            // `smtp-send msg.eml`: the message named where a recipient
            // goes would be sent, empty, to msg.eml@HOST (issue 13).
            if !arg.contains('@') && Path::new(arg).is_file() {
                return Err(Error::Usage(format!(
                    "recipient {arg:?} is a file: the message comes on standard input \
                     (did you mean `< {arg}`, or --each {arg}?)"
                )));
            }
            recipients.extend(parse_recipient_arg(arg, &mail_host, aliases.as_deref())?);
        }
    }
    if let Some(name) = &o.full_name
        && name.chars().any(char::is_control)
    {
        return Err(Error::Usage("-F: control character in the name".to_owned()));
    }
    let default_sender = ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|u| !u.is_empty())
        .or_else(real_user_name)
        .and_then(|u| smtp_mailbox(&u, &mail_host).ok());
    Ok(PrepareOptions {
        from,
        recipients,
        // --each implies -t: each file is a whole message with its recipients.
        extract: o.extract || o.each,
        full_name: o.full_name.clone(),
        dot_ends: o.sendmail && !o.no_dot,
        verbatim: o.verbatim,
        downgrade: o.downgrade,
        hostname: mail_host,
        default_sender,
        now: None,
        qualify_domain: o.qualify_domain.clone(),
        aliases,
    })
}

/// Runs `smtp-send`: prepares the message from `stdin` (or each FILE with
/// `--each`), then dry-runs, probes or delivers it; what it has to say on
/// the way goes to `notices`. Returns the exit code (the worst one with
/// `--each`, whose failed messages are reported to `notices` as they
/// come), or the error that ends the run.
pub fn run(
    o: Options,
    stdin: File,
    out: &mut dyn Write,
    notices: notice::Shared,
) -> Result<u8, Failed> {
    match run_inner(&o, stdin, out, &notices) {
        Ok(code) => Ok(code),
        // The reader of our output went away (`--dry-run | head`): a
        // quiet success, as for any filter.
        Err(e) if e.is_broken_pipe() => Ok(exit::OK),
        Err(e) => Err(Failed(
            Box::new(e),
            if o.probe { Mode::Probe } else { Mode::Send },
        )),
    }
}

/// `--log`: the run's log, opened now (a file or socket that cannot be
/// opened is a warning: [`Log::open`]); a bad value is a usage error.
fn log_of(o: &Options, notices: &notice::Shared) -> Result<Log, Error> {
    let Some(spec) = &o.log else {
        return Ok(Log::none());
    };
    let target = log::Target::parse(spec).map_err(|e| Error::Usage(format!("--log: {e}")))?;
    Ok(Log::open(
        &target,
        o.log_time_format.as_deref(),
        Arc::clone(notices),
    ))
}

/// `--tls-insecure` said out loud, once per run.
fn warn_tls_insecure(o: &Options, notices: &dyn Notices) {
    if o.tls_insecure {
        notices.warn(&if o.mx {
            "--tls-insecure with --mx: mail hosts' certificates are NOT verified"
        } else {
            "--tls-insecure: the server's certificate is NOT verified; anyone on the way can read \
             and change this session, password and message included"
        });
    }
}

fn run_inner(
    o: &Options,
    stdin: File,
    out: &mut dyn Write,
    notices: &notice::Shared,
) -> Result<u8, Error> {
    // A user at a terminal who typed `smtp-send you@example.org` sees
    // nothing happen: say where the message is read from (issue 13).
    if std::io::IsTerminal::is_terminal(&stdin) && crate::send::config::reads_one_message(o) {
        notices.say(&"reading the message from standard input; end it with Ctrl-D");
    }
    // ---- config: the account's settings merged into the options before
    // anything reads them (the message's header may be read to choose it).
    let mut resolved = match crate::send::config::resolve(o, &stdin, &**notices) {
        Ok(r) => r,
        // A broken configuration file (issue 14): with `--queue DIR` on
        // the command line the message is still kept. Nothing of stdin
        // has been read: the one path that reads the header (an account
        // chosen by match_from) cannot fail afterwards.
        Err(e @ Error::Config(_))
            if o.queue.is_some() && crate::send::config::reads_one_message(o) =>
        {
            let mut msg = prepare_input(o, Source::from_file(stdin), &prepare_options(o)?)?;
            return queue_unroutable(o, &mut msg, e, &**notices);
        }
        Err(e) => return Err(e),
    };
    if resolved.options.print_config {
        crate::send::config::print(&resolved, out).map_err(Error::Output)?;
        return Ok(exit::OK);
    }
    let mut merged = resolved.options.clone();
    // sendmail -q / -bp / mailq: the configured queue (issue 14).
    if merged.queue_run || merged.queue_list {
        let Some(dir) = merged.queue.take() else {
            return Err(Error::Config(format!(
                "sendmail {}: no queue configured: set queue in the configuration file, \
                 or use --{} DIR",
                if merged.queue_run { "-q" } else { "-bp" },
                if merged.queue_run { "flush" } else { "list" }
            )));
        };
        if merged.queue_run {
            merged.flush = Some(dir);
        } else {
            merged.list = Some(dir);
        }
    }
    let o = &merged;
    // The queue's own modes: nothing read from stdin.
    if let Some(dir) = &o.list {
        return queue::list(dir, o.json, out, &**notices);
    }
    if let Some(id) = &o.drop {
        // `--drop ID DIR`, as `--list DIR` and `--flush DIR` take their
        // directory (issue 13), or `--queue DIR --drop ID`.
        let dir = match (&o.queue, &o.operands[..]) {
            (Some(dir), []) => dir.clone(),
            (None, [dir]) => std::path::PathBuf::from(dir),
            _ => {
                return Err(Error::Usage(
                    "--drop ID takes one queue directory: --drop ID DIR".to_owned(),
                ));
            }
        };
        return queue::drop_message(&dir, id, &**notices);
    }
    if o.each && o.operands.is_empty() {
        return Err(Error::Usage("--each needs FILE operands".to_owned()));
    }
    // The bar is drawn only where the user watches ([`Notices::progress`]).
    let progress = !o.verbose && !o.bs;
    if let Some(dir) = &o.flush {
        // Nothing to send needs no server: a route that cannot be set up
        // (cron's `--flush DIR` without SMTP_SERVER) is an error only when
        // a message is due.
        warn_tls_insecure(o, &**notices);
        let log = log_of(o, notices)?;
        let mut route = match session_options(o, notices).and_then(|s| route_of(o, s)) {
            Ok(r) => Deliverer::new(r, progress),
            Err(e) => Deliverer::unset(e),
        }
        .with_log(log);
        let fo = queue::FlushOptions {
            max_age: o.max_age,
            downgrade: o.downgrade,
            force: o.force,
            json: o.json,
        };
        let code = queue::flush(dir, &fo, &mut route, out, &**notices);
        route.finish();
        return code;
    }
    let popts = prepare_options(o)?;
    // What the --aliases file holds that is skipped, said once per run.
    for w in popts.aliases.iter().flat_map(|a| a.warnings()) {
        notices.warn(w);
    }
    let prepare_input = |src: Source| prepare_input(o, src, &popts);
    // --each: files, mbox files and Maildir folders, one message at a time.
    let each_prepared = || {
        crate::mailbox::each(&o.operands).map(|(name, file)| {
            let msg = open_file(file).and_then(prepare_input);
            (name, msg)
        })
    };
    if o.dry_run {
        let dkim = dkim_signer(o, &**notices)?;
        if o.each {
            let mut worst = exit::OK;
            for (name, msg) in each_prepared() {
                match msg.and_then(|mut m| dry_run(&mut m, dkim.as_deref(), out)) {
                    Err(e) if e.is_broken_pipe() => return Ok(worst),
                    Err(e) => {
                        report(&**notices, &name, &e);
                        worst = worst.max(e.exit_code());
                    }
                    Ok(()) => {}
                }
            }
            return Ok(worst);
        }
        let mut msg = prepare_input(resolved.message(stdin))?;
        dry_run(&mut msg, dkim.as_deref(), out)?;
        return Ok(exit::OK);
    }
    if o.probe {
        let session = Session::open(&session_options(o, notices)?)?;
        session.describe(out).map_err(Error::Output)?;
        let _ = session.quit();
        return Ok(exit::OK);
    }
    // The options are checked (and their files read) before stdin is:
    // a usage or configuration error does not wait for a message. Every
    // mode below delivers through this one route, which connects (or
    // starts DNS) only for a message that can be sent.
    let log = log_of(o, notices)?;
    let (route, unroutable) = match session_options(o, notices).and_then(|s| route_of(o, s)) {
        Ok(r) => (Deliverer::new(r, progress).with_log(log.clone()), None),
        // Issue 14: no server configured, an unreadable --ca-file: with
        // --queue the mail is queued all the same (its reason this error)
        // and the run still ends with it, so cron reports what to fix.
        Err(e @ Error::Config(_)) if o.queue.is_some() => {
            let again = e.again();
            (Deliverer::unset(e).with_log(log.clone()), Some(again))
        }
        Err(e) => return Err(e),
    };
    warn_tls_insecure(o, &**notices);
    // What the run ends with when the route could not be set up.
    let unrouted = |code: u8| match unroutable {
        Some(e) => Err(e),
        None => Ok(code),
    };
    if o.bs {
        let code = crate::send::relay::run(route, popts, o.queue.as_deref(), stdin, out, notices);
        return unrouted(code);
    }
    if !o.each {
        let mut msg = prepare_input(resolved.message(stdin))?;
        let mut route = route;
        let rcpts = msg.envelope.rcpts.clone();
        let results = route.deliver(&mut msg);
        let server = route.server().to_owned();
        route.finish();
        if o.json {
            let list = match &results {
                Ok(list) => list.clone(),
                Err(e) => outcome::from_error(&rcpts, e, &server),
            };
            write_json(out, None, &list)?;
        }
        // --queue: the deferred recipients are queued, the rest decide.
        let (results, queued) = match &o.queue {
            Some(dir) => match queue::after_send(dir, &mut msg, results, &**notices) {
                Ok((rest, id)) => (Ok(rest), id),
                Err(e) => (Err(e), None),
            },
            None => (results, None),
        };
        let end = results.and_then(|r| refusals(&r)).and_then(unrouted);
        let exit = end.as_ref().map_or_else(|e| e.exit_code(), |c| *c);
        log.settled(queued.as_deref(), exit);
        return end;
    }
    let mut route = route;
    let messages = each_prepared();
    let server = route.server().to_owned();
    let mut json_err = None;
    let mut results = |name: &str, results: EachOutcome<'_>| {
        if o.json && json_err.is_none() {
            let list = match results {
                Ok(list) => list.to_vec(),
                Err((rcpts, e)) => outcome::from_error(rcpts, e, &server),
            };
            if let Err(e) = write_json(out, Some(name), &list) {
                json_err = Some(e);
            }
        }
    };
    let mut report_one = |name: &str, e: &Error| report(&**notices, name, e);
    let worst = match &o.queue {
        Some(dir) => queue::send_each(
            dir,
            messages,
            &mut route,
            &mut results,
            &mut report_one,
            &**notices,
        ),
        None => send_each(messages, &mut route, &mut results, &mut report_one),
    };
    route.finish();
    match json_err {
        Some(e) => Err(e),
        None => unrouted(worst),
    }
}

/// Prepares one message as every mode does: nothing read is no message
/// (issue 13: a file named where the recipient goes, a script whose
/// generator failed) unless `--allow-empty`.
fn prepare_input(
    o: &Options,
    mut src: Source,
    popts: &PrepareOptions,
) -> Result<crate::send::prepare::Prepared, Error> {
    if !o.allow_empty && src.is_empty().map_err(Error::Input)? {
        return Err(Error::Message(
            "the message is empty (0 bytes read): not sent (--allow-empty sends it)".to_owned(),
        ));
    }
    prepare(src, popts)
}

/// `--queue DIR` with a configuration that cannot be used (issue 14): the
/// message is queued with the reason, and the run ends with `err` (78):
/// cron mails that line while the message waits for `--flush`.
fn queue_unroutable(
    o: &Options,
    msg: &mut crate::send::prepare::Prepared,
    err: Error,
    notices: &dyn Notices,
) -> Result<u8, Error> {
    let dir = o.queue.as_deref().expect("only with --queue");
    let rcpts = msg.envelope.rcpts.clone();
    queue::queue_message(dir, msg, &rcpts, &err.to_string(), notices)?;
    Err(err)
}

/// `--json`: one object per recipient and line (with `"message"`: the FILE,
/// under `--each`).
fn write_json(
    out: &mut dyn Write,
    message: Option<&str>,
    results: &[RcptResult],
) -> Result<(), Error> {
    for r in results {
        let mut v = r.json();
        if let Some(name) = message {
            v["message"] = name.into();
        }
        writeln!(out, "{v}").map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)
}

/// An `--each` message from [`crate::mailbox::each`] (which refuses a
/// directory that is not a Maildir).
fn open_file(file: io::Result<File>) -> Result<Source, Error> {
    let file = file.map_err(|e| Error::Open(strip_os_error(&e)))?;
    Ok(Source::from_file(file))
}

/// The route `o` asks for, with its session options `sopts`.
fn route_of(o: &Options, sopts: SessionOptions) -> Result<Route, Error> {
    if !o.mx {
        return Ok(Route::Relay(Box::new(sopts)));
    }
    Ok(Route::Mx(Box::new((sopts, mx_options(o)?))))
}

/// `--dns`, `--mx-port` and `--mx-tls` from the command line.
///
/// Errors (usage, 64): a `--dns` that is not an address, port 0.
fn mx_options(o: &Options) -> Result<mx::MxOptions, Error> {
    let dns = o
        .dns
        .as_deref()
        .map(crate::io::dns::parse_server)
        .transpose()
        .map_err(Error::Usage)?;
    let port = o.mx_port.unwrap_or(url::DEFAULT_PORT);
    if port == 0 {
        return Err(Error::Usage("--mx-port: want 1-65535".to_owned()));
    }
    Ok(mx::MxOptions {
        dns,
        port,
        tls: o.mx_tls,
    })
}
