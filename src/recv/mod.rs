//! `smtp-recv`'s program: listening sockets or one session on stdin/stdout,
//! options, signals, the one-shot count, and storage ([`store`]). Each
//! session is run by [`driver`](crate::smtp::server::driver) (lines,
//! PIPELINING, STARTTLS, DATA and BDAT, time limits); the messages go
//! through `run`'s host into the [`store::Store`], `250` only once
//! [`store::Pending::commit`] made them durable. What the operator should
//! read goes to the caller's [`Log`](crate::smtp::server::driver::Log):
//! the library never prints.
//!
//! - `listen`: sockets, the worker pool, signals, stopping.
//! - `run`: the state a run's sessions share (the one-shot count, the
//!   envelope JSON), the store as a session's host, `--stdio`.
//! - `options`: the run's options and the command-line values only
//!   `smtp-recv` reads.
//! - `config`: the TLS, auth and envelope JSON files the options name.

mod config;
mod listen;
mod options;
mod run;
pub mod store;

pub use config::{ConfigError, open_json, read_config, tls_config};
pub use listen::{listen, listen_spec, serve, stop_on_signals, write_ready_file};
pub use options::{Options, Seconds, check_hostname, parse_seconds};
pub use run::{RecvError, exit_status, stdio};

#[cfg(test)]
mod tests;
