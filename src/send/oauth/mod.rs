//! `smtp-oauth`: OAuth 2.0 (RFC 6749) for SMTP submission without outside
//! helpers. An account is signed in once (`login`); `token` then prints a
//! valid access token for XOAUTH2 or OAUTHBEARER (RFC 7628), refreshing it
//! when less than a minute remains.
//!
//! # Files, bottom up (each imports only those above it)
//!
//! - [`error`]: [`error::Error`], why an operation failed, with its exit code.
//! - [`secret`]: [`secret::Token`], tokens as `smtp::sasl::Secret`s serde reads.
//! - [`http`]: HTTPS (ureq on rustls and ring): bounded, timed, no redirects.
//! - [`store`]: the account files, private and replaced atomically.
//! - [`token`]: the token endpoint, and a valid access token of an account.
//! - [`provider`]: the presets' endpoints and scopes, OpenID discovery.
//! - [`device`]: the device authorization grant (RFC 8628).
//! - [`pkce`]: the authorization code grant with PKCE (RFC 7636) and its
//!   loopback listener (RFC 8252).
//! - [`login`]: `login` and `revoke`, an account signed in and out.
//!
//! Tokens never reach argv, an error message or a transcript: they travel
//! as [`secret::Token`], and errors name the account and the endpoint only.

pub mod device;
pub mod error;
pub mod http;
pub mod login;
pub mod pkce;
pub mod provider;
pub mod secret;
pub mod store;
pub mod token;
