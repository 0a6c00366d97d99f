//! SMTP (RFC 5321) and its extensions: the protocol, shared by the receiver
//! (`smtp-recv`) and the client (`smtp-send`).
//!
//! - [`reply`]: replies with enhanced status codes (RFC 3463, RFC 2034).
//! - [`command`]: command lines (RFC 5321 §4.1).
//! - [`envelope`]: paths and ESMTP parameters (RFC 5321 §4.1.2), the envelope.
//! - [`dot`]: the DATA reader (dot-unstuffing, end of data, smuggling defence)
//!   and BDAT chunks (RFC 3030).
//! - [`auth`]: SASL mechanisms for AUTH (RFC 4954).
//! - [`tls`]: rustls configuration.
//! - [`Stage`]: the steps of a session, as both sides name them.
//! - [`server`]: the receiving session, a state machine with no I/O, its
//!   failure injection, and [`server::driver`], which runs it over a stream.
//! - [`client`]: the sending session, generic over the stream.
//! - [`sasl`]: client side of the AUTH mechanisms.
//! - [`trace`]: the trace fields of a received message (RFC 5321 §4.4).

pub mod auth;
pub mod client;
pub mod command;
pub mod dot;
pub mod envelope;
pub mod reply;
pub mod sasl;
pub mod server;
mod stage;
#[cfg(test)]
pub(crate) mod testing;
pub mod tls;
pub mod trace;

pub use stage::Stage;
