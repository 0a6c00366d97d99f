//! Randomness for boundaries and Message-IDs (see the
//! module docs of [`build`](super)).

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::message::date;

/// Random characters in a boundary (after `=_`): 26 of 62 symbols is
/// 154 bits, and the boundary stays well under 70 characters (RFC 2046
/// §5.1.1).
pub(super) const BOUNDARY_RANDOM: usize = 26;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// 64 unpredictable bits (see the module docs).
fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(now);
    h.write_u32(std::process::id());
    h.finish()
}

const ALNUM: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` random letters and digits.
pub(super) fn random_alnum(n: usize) -> String {
    let mut s = String::with_capacity(n);
    let mut bits = random_u64();
    let mut left = 10; // 10 symbols of 6 bits per u64 (62/64 use is fine)
    while s.len() < n {
        if left == 0 {
            bits = random_u64();
            left = 10;
        }
        s.push(char::from(ALNUM[(bits & 63) as usize % 62]));
        bits >>= 6;
        left -= 1;
    }
    s
}

/// A fresh multipart boundary: `=_` and random characters (module docs).
pub(super) fn boundary() -> String {
    format!("=_{}", random_alnum(BOUNDARY_RANDOM))
}

/// A unique `<id@domain>` for Message-ID: time, pid, a counter and
/// randomness.
pub fn message_id(domain: &str) -> String {
    format!(
        "<{}.{}.{}.{}@{domain}>",
        base36(date::unix_now().max(0) as u64),
        base36(u64::from(std::process::id())),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        random_alnum(12)
    )
}

fn base36(mut n: u64) -> String {
    let mut d = Vec::new();
    loop {
        d.push(ALNUM[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    d.reverse();
    String::from_utf8(d)
        .unwrap_or_default()
        .to_ascii_lowercase()
}
