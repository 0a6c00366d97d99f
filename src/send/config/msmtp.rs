//! msmtp's `~/.msmtprc`, for those switching from msmtp: the subset read
//! (see [`super`]) as the same layers as a TOML file.

// send::error::Error is large since the per-recipient results (its Smtp
// variant); it is returned once per run, so boxing it here gains nothing.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use crate::send::error::Error;

use super::layer::*;

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
    "aliases",
    "logfile",
    "syslog",
    "logfile_time_format",
];

/// One msmtp account (or `defaults`) as written: key → (value, line).
type MsmtpAccount = BTreeMap<String, (String, usize)>;

/// A key of an msmtp configuration that is not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// `FILE:LINE: KEY: why (ignored)`.
    pub text: String,
    /// The account it concerns: an ignored `password` explains the "no
    /// password" that follows, so it is said for the account in use (each
    /// account that has one, written or inherited, gets its own); `None`
    /// for a key of the file as a whole.
    pub account: Option<String>,
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
            // msmtp's standard output: ours is the message's reader's
            // (`-bs`), so the log is not written there.
            "logfile" if arg == "-" => warnings.push(Ignored {
                text: format!(
                    "{file}:{n}: logfile -: logging to standard output is not supported \
                     (ignored; use a file or syslog)"
                ),
                account: None,
            }),
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
            // Kept (without its value) only to say, for the account in
            // use, why it has no password.
            "password" => {
                let target = if in_defaults {
                    &mut defaults
                } else if let Some((.., s)) = accounts.last_mut() {
                    s
                } else {
                    &mut defaults
                };
                target.insert("password".to_owned(), (String::new(), n));
            }
            key => {
                if !warned.iter().any(|w| w == key) {
                    warned.push(key.to_owned());
                    warnings.push(Ignored {
                        text: format!("{file}:{n}: {key}: not supported by smtp-send (ignored)"),
                        account: None,
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
        if let Some((_, n)) = settings.get("password") {
            warnings.push(Ignored {
                text: format!(
                    "{file}:{n}: password: plain passwords are not read from a configuration \
                     file: use passwordeval (ignored)"
                ),
                account: Some(name.clone()),
            });
        }
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
    if let Some((v, p)) = get("aliases") {
        put(&mut l, "aliases", Raw::Str(v), p)?;
    }
    // `--log`: the file when both are given (one log; msmtp writes both),
    // else syslog with msmtp's default facility, LOG_USER.
    match (get("logfile"), get("syslog")) {
        (Some((v, p)), _) if !v.is_empty() => put(&mut l, "log", Raw::Str(v), p)?,
        (_, Some((v, p))) => {
            let facility = match v {
                "on" | "" => Some("user"),
                "off" => None,
                _ => Some(v),
            };
            if let Some(f) = facility {
                let spec = format!("syslog:{f}");
                crate::send::log::Target::parse(&spec).map_err(|why| {
                    config_error(&p, format_args!("account {name}: syslog: {why}"))
                })?;
                put(&mut l, "log", Raw::Str(&spec), p)?;
            }
        }
        _ => {}
    }
    if let Some((v, p)) = get("logfile_time_format")
        && !v.is_empty()
    {
        put(&mut l, "log_time_format", Raw::Str(v), p)?;
    }
    check_layer(&l, &format!("account {name}"), start)?;
    Ok(l)
}
