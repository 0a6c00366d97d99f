//! The files `smtp-recv`'s options name: TLS certificate and key, the
//! `--auth-file`, the `--envelope-json` output.

use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;

use crate::io::strip_os_error;
use crate::smtp::server::driver::{Level, Log};
use crate::smtp::tls;

crate::exit::message_error! {
    /// A TLS or AUTH file that cannot be used (the binary exits 78).
    #[derive(Debug)]
    pub struct ConfigError(pub String) => CONFIG;
}

/// Reads a configuration file (certificate, key, `--auth-file`) given with
/// `option` and parses it; any failure is a [`ConfigError`] naming the
/// option and the file (`--tls-cert /x: No such file or directory`). The
/// contents never appear in the error (they may be secrets).
pub fn read_config<T, E: fmt::Display>(
    option: &str,
    path: &Path,
    parse: impl FnOnce(&[u8]) -> Result<T, E>,
) -> Result<T, ConfigError> {
    let name = format!("{option} {}", path.display());
    let bytes =
        std::fs::read(path).map_err(|e| ConfigError(format!("{name}: {}", strip_os_error(&e))))?;
    parse(&bytes).map_err(|e| ConfigError(format!("{name}: {e}")))
}

/// The TLS configuration of `smtp-recv`: the certificate and key of
/// `files` (`--tls-cert`, `--tls-key`), else with `self_signed` a throwaway
/// certificate for `hostname` whose fingerprint goes to `log` for
/// clients to pin (`smtp-send --tls-fingerprint`), else none. Errors name
/// the options and files.
pub fn tls_config(
    files: Option<(&Path, &Path)>,
    self_signed: bool,
    hostname: &str,
    log: &Log,
) -> Result<Option<Arc<ServerConfig>>, ConfigError> {
    if let Some((cert_path, key_path)) = files {
        let read = |b: &[u8]| Ok::<_, std::convert::Infallible>(b.to_vec());
        let cert = read_config("--tls-cert", cert_path, read)?;
        let key = read_config("--tls-key", key_path, read)?;
        return tls::server_config(&cert, &key).map(Some).map_err(|e| {
            ConfigError(format!(
                "--tls-cert {}, --tls-key {}: {e}",
                cert_path.display(),
                key_path.display()
            ))
        });
    }
    if !self_signed {
        return Ok(None);
    }
    let (cfg, fingerprint) = tls::self_signed(hostname).map_err(|e| ConfigError(e.to_string()))?;
    log(
        Level::Info,
        format_args!("self-signed certificate {fingerprint}"),
    );
    Ok(Some(cfg))
}

/// Opens the `--envelope-json` output file, appended to (the binary
/// handles `-`, standard output).
pub fn open_json(path: &Path) -> io::Result<Box<dyn Write + Send>> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    Ok(Box::new(f))
}
