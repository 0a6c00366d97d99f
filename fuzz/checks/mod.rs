//! The properties every fuzz target checks, one `pub fn NAME(data: &[u8])`
//! per target. The one place they live: the cargo-fuzz targets
//! (`fuzz/fuzz_targets/NAME.rs`) are one line calling them, and the stable
//! replay test (`tests/fuzz_corpus.rs`) pulls this file in with `#[path]`
//! and runs every committed corpus input through them on every commit.
//! So they use only `std`, `mailpipe` and what the main crate already
//! depends on (`tempfile`, `serde_json`), and panic on a broken property.
//!
//! The first byte or two of an input often choose options or where a
//! stream is cut (see [`Pieces`]); the rest is the hostile input.

mod client;
mod codec;
mod config;
mod dkim;
mod header;
mod mime;
mod multipart;
mod oauth;
mod queue;
mod server;

pub use client::smtp_client;
pub use codec::{base64, qp, word};
pub use config::config;
pub use dkim::dkim;
pub use header::header;
pub use mime::content_type;
pub use multipart::{extract, multipart};
pub use oauth::oauth;
pub use queue::queue;
pub use server::{command, session};

use std::io::{self, BufRead, Read};

/// A property check: panics when `data` breaks a property.
pub type Check = fn(&[u8]);

/// Every target, by name: the replay test walks this list, so a target
/// added here without a corpus directory fails it.
pub const TARGETS: &[(&str, Check)] = &[
    ("base64", base64),
    ("qp", qp),
    ("word", word),
    ("header", header),
    ("content_type", content_type),
    ("multipart", multipart),
    ("extract", extract),
    ("command", command),
    ("session", session),
    ("smtp_client", smtp_client),
    ("queue", queue),
    ("config", config),
    ("dkim", dkim),
    ("oauth", oauth),
];

/// Cut points chosen by the fuzzer: piece lengths from a small generator
/// seeded by one input byte, between 1 and 1 + `seed % 64` bytes, so a
/// stream is cut at different places (inside a CRLF, an escape, a
/// boundary) from one run to the next.
pub(crate) struct Pieces {
    state: u32,
    max: usize,
}

impl Pieces {
    pub(crate) fn new(seed: u8) -> Pieces {
        Pieces {
            state: u32::from(seed).wrapping_mul(2_654_435_761) | 1,
            max: usize::from(seed % 64) + 1,
        }
    }

    fn next_len(&mut self) -> usize {
        // xorshift32: cheap, and the same cuts for the same seed.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        1 + self.state as usize % self.max
    }

    /// `data` cut into pieces.
    pub(crate) fn split(mut self, data: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let n = self.next_len().min(rest.len());
            out.push(&rest[..n]);
            rest = &rest[n..];
        }
        out
    }
}

/// A reader that hands out `data` in the pieces of [`Pieces`]: one piece
/// per `read` or `fill_buf`, as a socket or a pipe does.
pub(crate) struct Chunked<'a> {
    pieces: Vec<&'a [u8]>,
    at: usize,
    pos: usize,
}

impl<'a> Chunked<'a> {
    pub(crate) fn new(seed: u8, data: &'a [u8]) -> Chunked<'a> {
        Chunked {
            pieces: Pieces::new(seed).split(data),
            at: 0,
            pos: 0,
        }
    }
}

impl Read for Chunked<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Chunked<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.at < self.pieces.len() && self.pos == self.pieces[self.at].len() {
            self.at += 1;
            self.pos = 0;
        }
        Ok(match self.pieces.get(self.at) {
            Some(p) => &p[self.pos..],
            None => &[],
        })
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
    }
}

/// The test oracle for text safe on a terminal, written from the
/// documents rather than taken from the library (so a change there cannot
/// change the check): C0 controls but TAB, DEL and C1 controls, the bidi
/// embedding, override and isolate controls (CVE-2021-42574) and U+2028,
/// U+2029.
pub(crate) fn is_unsafe_char(c: char) -> bool {
    (c < ' ' && c != '\t')
        || ('\u{7F}'..='\u{9F}').contains(&c)
        || ('\u{2028}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Panics when `text` (one value, or many lines when `lines`) holds a
/// character [`is_unsafe_char`] names; LF is allowed between lines.
pub(crate) fn assert_printable(what: &str, text: &str, lines: bool) {
    if let Some(c) = text
        .chars()
        .find(|&c| is_unsafe_char(c) && !(lines && c == '\n'))
    {
        panic!("{what}: unsafe character {c:?} in {text:?}");
    }
}

/// Panics unless `field` is one header field folded safely (RFC 5322
/// §2.2.3): every line after the first starts with SP or HTAB and holds
/// more than white space, and there is no CR and no line break other than
/// the folds (LF, or CRLF when `crlf`).
pub(crate) fn assert_folded(field: &str, crlf: bool) {
    let body = if crlf {
        assert!(
            !field.replace("\r\n", "").contains(['\r', '\n']),
            "bare CR or LF in {field:?}"
        );
        field.replace("\r\n", "\n")
    } else {
        assert!(!field.contains('\r'), "CR in {field:?}");
        field.to_owned()
    };
    for (i, line) in body.split('\n').enumerate() {
        if i > 0 {
            assert!(
                line.starts_with([' ', '\t']),
                "line {i} starts a new field: {field:?}"
            );
            assert!(!line.trim().is_empty(), "blank line {i} in {field:?}");
        }
    }
}
