//! DKIM (RFC 6376): signing a message and verifying its signatures, with
//! `rsa-sha256` and `ed25519-sha256` (RFC 8463) through ring, `rsa-sha1`
//! refused both ways (RFC 8301).
//!
//! - [`tags`]: tag lists (§3.2), for the signature field and key records;
//! - [`canon`]: `simple` and `relaxed` canonicalization (§3.4), the body
//!   hashed as it streams (constant memory);
//! - [`key`]: private keys from PEM, key records, key generation;
//! - [`sign`]: a message in, the same message out with DKIM-Signature
//!   fields prepended;
//! - [`verify`]: every signature of a message checked, with results named
//!   as RFC 8601 names them. The key records come from a function the
//!   caller passes: this layer does no DNS (the caller owns the resolver).

pub mod canon;
pub mod key;
pub mod sign;
pub mod tags;
pub mod verify;

/// Now, in seconds since the epoch: `t=` when signing, the clock `x=` is
/// checked against when verifying (RFC 6376 §3.5).
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
