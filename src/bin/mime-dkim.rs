//! mime-dkim: DKIM signatures (RFC 6376, RFC 8463): sign, verify, keygen.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::Context;
use clap::{Parser, Subcommand};
use mailpipe::cli;
use mailpipe::exit;
use mailpipe::io::dns::{self, Resolver};
use mailpipe::limits;
use mailpipe::message::dkim;
use mailpipe::message::dkim::canon::Canon;
use mailpipe::message::dkim::key::{Algorithm, SigningKey, generate_ed25519};
use mailpipe::message::dkim::sign::{self, Signer};
use mailpipe::message::dkim::verify::{self, LookupError, Outcome};

/// Sign mail with DKIM, check DKIM signatures, make DKIM keys.
///
/// sign reads a message and writes it back with a DKIM-Signature field on
/// top, the rest byte for byte; verify checks every signature of a message
/// and prints one line per signature; keygen makes a key and prints the TXT
/// record to publish.
#[derive(Parser)]
#[command(
    name = "mime-dkim",
    version,
    after_help = "EXAMPLES:
  mime-dkim keygen -d example.org -s mail -o mail.key > mail.txt
  mime-build -f me@example.org -t you@example.net -s Hi --text note.txt \\
    | mime-dkim sign -d example.org -s mail -k mail.key | smtp-send -t
  mime-dkim verify --record mail._domainkey.example.org=mail.txt signed.eml
  mime-dkim verify --json < received.eml"
)]
struct Args {
    #[command(subcommand)]
    command: Option<Cmd>,

    /// Print a completion script for SHELL to standard output and exit.
    #[arg(long, value_name = "SHELL", value_enum, exclusive = true)]
    completions: Option<clap_complete::Shell>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Sign a message: FILE (or standard input) to standard output.
    Sign(SignArgs),
    /// Check every DKIM signature of a message.
    Verify(VerifyArgs),
    /// Make a private key and print its TXT record.
    Keygen(KeygenArgs),
}

#[derive(clap::Args)]
// -h is the field list here, as the task asks; help is --help alone.
#[command(disable_help_flag = true)]
struct SignArgs {
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Signing domain (d=).
    #[arg(short, long, value_name = "DOMAIN")]
    domain: String,
    /// Selector (s=); one per key, in the order of -k.
    #[arg(short, long, value_name = "SELECTOR", required = true)]
    selector: Vec<String>,
    /// Private key file (PEM: PKCS#1 or PKCS#8, RSA or Ed25519); repeatable
    /// to sign with several keys at once.
    #[arg(short, long, value_name = "KEYFILE", required = true)]
    key: Vec<PathBuf>,
    /// Algorithm of each key, in the order of -k: rsa-sha256 (rsa) or
    /// ed25519-sha256 (ed25519); by default the key's own.
    #[arg(short, long, value_name = "ALG")]
    algorithm: Vec<String>,
    /// Canonicalization HEADER/BODY (simple or relaxed; one word sets both).
    #[arg(short, long, value_name = "C", default_value = "relaxed/relaxed")]
    canon: String,
    /// Fields to sign, colon-separated (must include From); by default
    /// From (over-signed), To, Cc, Subject, Date, Message-ID and more when
    /// present.
    #[arg(short = 'h', long = "headers", value_name = "FIELDS")]
    headers: Option<String>,
    /// Expire the signature SECONDS after now (x=).
    #[arg(short = 'x', long, value_name = "SECONDS")]
    expire: Option<u64>,
    /// The message; none or '-' reads standard input.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// Use the TXT record in FILE for NAME (SELECTOR._domainkey.DOMAIN)
    /// instead of DNS; repeatable.
    #[arg(long, value_name = "NAME=FILE")]
    record: Vec<String>,
    /// Ask this DNS server (ADDR:PORT) instead of /etc/resolv.conf's.
    #[arg(long, value_name = "ADDR")]
    dns: Option<String>,
    /// Print one JSON object per signature.
    #[arg(long)]
    json: bool,
    /// The message; none or '-' reads standard input.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

#[derive(clap::Args)]
struct KeygenArgs {
    /// Domain the record is published under.
    #[arg(short, long, value_name = "DOMAIN")]
    domain: String,
    /// Selector the record is published under.
    #[arg(short, long, value_name = "SELECTOR")]
    selector: String,
    /// Key type: rsa or ed25519 (rsa-sha256 and ed25519-sha256 too).
    #[arg(short, long, value_name = "ALG", default_value = "rsa")]
    algorithm: String,
    /// RSA key size in bits (2048 to 4096).
    #[arg(long, value_name = "N", default_value_t = 2048)]
    bits: u32,
    /// Private key file to create (mode 0600; never overwritten).
    #[arg(short, long, value_name = "KEYFILE")]
    output: Option<PathBuf>,
}

fn main() -> ExitCode {
    cli::tool("mime-dkim", |a: &Args| a.completions, run)
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(Cmd::Sign(a)) => sign_cmd(a),
        Some(Cmd::Verify(a)) => verify_cmd(a),
        Some(Cmd::Keygen(a)) => keygen_cmd(a),
        None => Err(cli::usage("a command is needed: sign, verify or keygen")),
    }
}

/// A small file (a key, a record), read within [`limits::MAX_SECRET`].
fn read_small(path: &Path) -> anyhow::Result<Vec<u8>> {
    let name = || cli::display_name(path);
    let mut bytes = Vec::new();
    cli::open(path)
        .with_context(name)?
        .take(limits::MAX_SECRET)
        .read_to_end(&mut bytes)
        .with_context(name)?;
    Ok(bytes)
}

fn input(file: &Option<PathBuf>) -> anyhow::Result<cli::Input> {
    let path = file.as_deref().unwrap_or(Path::new("-"));
    cli::open(path).with_context(|| cli::display_name(path))
}

fn sign_cmd(a: SignArgs) -> anyhow::Result<ExitCode> {
    if a.selector.len() != a.key.len() {
        return Err(cli::usage(
            "give one -s SELECTOR per -k KEYFILE (a selector publishes one key)",
        ));
    }
    if !a.algorithm.is_empty() && a.algorithm.len() != a.key.len() {
        return Err(cli::usage("give one -a per -k KEYFILE, or none"));
    }
    let (h, b) = a.canon.split_once('/').unwrap_or((&a.canon, &a.canon));
    let (Some(header), Some(body)) = (Canon::from_name(h), Canon::from_name(b)) else {
        return Err(cli::usage(format!(
            "-c {}: want simple or relaxed, or HEADER/BODY of those",
            a.canon
        )));
    };
    // The names are checked by sign (From among them, nothing that would
    // break the field).
    let fields = a
        .headers
        .as_ref()
        .map(|list| list.split(':').map(|n| n.trim().to_owned()).collect());
    let mut signers = Vec::new();
    for (i, (path, selector)) in a.key.iter().zip(&a.selector).enumerate() {
        let key =
            SigningKey::from_pem(&read_small(path)?).with_context(|| cli::display_name(path))?;
        if let Some(name) = a.algorithm.get(i) {
            let Some(alg) = Algorithm::from_name(name) else {
                return Err(cli::usage(format!(
                    "-a {name}: want rsa-sha256 or ed25519-sha256 (rsa, ed25519)"
                )));
            };
            if alg != key.algorithm() {
                return Err(cli::usage(format!(
                    "-a {name}: {} is a {} key",
                    cli::display_name(path),
                    key.algorithm().key_type()
                )));
            }
        }
        signers.push(Signer {
            key,
            domain: a.domain.clone(),
            selector: selector.clone(),
        });
    }
    let opts = sign::Options {
        header,
        body,
        fields,
        time: dkim::now(),
        expire: a.expire,
    };
    let mut out = cli::stdout();
    sign::sign(input(&a.file)?, &mut out, &signers, &opts)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The record text of a file: the quoted character-strings of a zone-file
/// line joined (as `keygen` prints it), or else the whole text trimmed.
fn record_text(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let parts: Vec<&str> = text.split('"').skip(1).step_by(2).collect();
    if parts.is_empty() {
        text.trim().as_bytes().to_vec()
    } else {
        parts.concat().into_bytes()
    }
}

fn verify_cmd(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut records: HashMap<String, Vec<u8>> = HashMap::new();
    for spec in &a.record {
        let Some((name, file)) = spec.split_once('=') else {
            return Err(cli::usage(format!(
                "--record {spec:?}: want SELECTOR._domainkey.DOMAIN=FILE"
            )));
        };
        let text = record_text(&read_small(Path::new(file))?);
        records.insert(name.trim_end_matches('.').to_ascii_lowercase(), text);
    }
    let server = match &a.dns {
        Some(spec) => Some(dns::parse_server(spec).map_err(cli::usage)?),
        None => None,
    };
    // With --record only, no DNS: the records given are the whole truth.
    let dns = if a.dns.is_some() || records.is_empty() {
        Some(Resolver::new(server, dns::DEFAULT_TIMEOUT)?)
    } else {
        None
    };
    let mut lookup = |name: &str| match records.get(&name.to_ascii_lowercase()) {
        Some(r) => Ok(vec![r.clone()]),
        None => match &dns {
            Some(dns) => dns.txt(name).map_err(LookupError::from),
            None => Err(LookupError::NotFound),
        },
    };
    let verdicts = verify::verify(input(&a.file)?, dkim::now(), &mut lookup)?;
    let mut out = cli::stdout();
    if verdicts.is_empty() {
        if a.json {
            writeln!(
                out,
                "{}",
                serde_json::json!({"result": "none", "reason": "no signature"})
            )?;
        } else {
            writeln!(out, "dkim=none (no signature)")?;
        }
    }
    for v in &verdicts {
        if a.json {
            writeln!(out, "{}", v.json())?;
        } else {
            // RFC 8601 §2.2's resinfo, as an Authentication-Results entry
            // reads (its values made safe to print by resinfo).
            writeln!(out, "{}", v.resinfo())?;
        }
    }
    out.flush()?;
    let all_pass = !verdicts.is_empty() && verdicts.iter().all(|v| v.outcome == Outcome::Pass);
    let temporary = verdicts
        .iter()
        .all(|v| matches!(v.outcome, Outcome::Pass | Outcome::TempError));
    Ok(ExitCode::from(if all_pass {
        exit::OK
    } else if temporary && !verdicts.is_empty() {
        exit::TEMPFAIL
    } else {
        exit::NO
    }))
}

/// A new RSA private key in PEM (PKCS#8) from OpenSSL: ring, which signs,
/// cannot make RSA keys.
fn openssl_rsa(bits: u32) -> anyhow::Result<Vec<u8>> {
    let out = Command::new("openssl")
        .args(["genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt"])
        .arg(format!("rsa_keygen_bits:{bits}"))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("running openssl genpkey (RSA keys are made by OpenSSL)")?;
    if !out.status.success() {
        anyhow::bail!("openssl genpkey failed ({})", out.status);
    }
    Ok(out.stdout)
}

fn keygen_cmd(a: KeygenArgs) -> anyhow::Result<ExitCode> {
    let Some(alg) = Algorithm::from_name(&a.algorithm) else {
        return Err(cli::usage(format!(
            "-a {}: want rsa or ed25519",
            a.algorithm
        )));
    };
    let pem = match alg {
        Algorithm::Ed25519Sha256 => generate_ed25519()?.into_bytes(),
        Algorithm::RsaSha256 => {
            // ring signs with 2048 to 4096-bit keys only.
            if !(2048..=4096).contains(&a.bits) {
                return Err(cli::usage(format!(
                    "--bits {}: want 2048 to 4096 (ring signs with no other size)",
                    a.bits
                )));
            }
            openssl_rsa(a.bits)?
        }
    };
    let key = SigningKey::from_pem(&pem).context("the new key")?;
    let path = a
        .output
        .unwrap_or_else(|| PathBuf::from(format!("{}.private", a.selector)));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("{}: creating the key file", path.display()))?;
    file.write_all(&pem)
        .and_then(|()| file.sync_all())
        .with_context(|| path.display().to_string())?;
    // A TXT character-string holds 255 bytes (RFC 1035 §3.3.14): a longer
    // record is written as several, which DKIM joins (RFC 6376 §3.6.2.2).
    let record = key.record();
    let strings: Vec<String> = record
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect();
    let mut out = cli::stdout();
    writeln!(
        out,
        "{}._domainkey.{}. IN TXT {}",
        a.selector,
        a.domain.trim_end_matches('.'),
        strings.join(" ")
    )?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
