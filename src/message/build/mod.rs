//! Building MIME messages (RFC 5322, RFC 2045-2049) from files: the work
//! behind `mime-build`.
//!
//! A [`Spec`] (what the user asked for: header arguments, body files,
//! attachments, options) is checked and turned into a [`Prepared`] message
//! by [`prepare`] before a byte is written: every argument that lands in a
//! header is checked (CR, LF and NUL are refused, so nothing can add a
//! header; addresses must parse strictly), text parts are scanned, content
//! types and transfer encodings chosen, boundaries generated and checked.
//! [`Prepared::write`] then streams the message out; [`Prepared::split`]
//! writes it as RFC 2046 §5.2.2 message/partial pieces
//! ([`Prepared::split_to_files`]: into new files, all or none). [`Files`]
//! turns `mime-build`'s file operands into the spec's leaves.
//!
//! # Choices
//!
//! - Structure: `multipart/mixed` ⊃ `multipart/related` ⊃
//!   `multipart/alternative`, each only when needed: text and HTML make an
//!   alternative (text first, RFC 2046 §5.1.4); inline files make the
//!   body (the HTML or the alternative) the root of a related
//!   (RFC 2387, with its `type` parameter); attachments or ready entities
//!   make a mixed whose first part is the body. `digest` makes the
//!   attachments a `multipart/digest` (RFC 2046 §5.1.5: message/rfc822
//!   members are written without headers).
//! - Content types: a per-file override, else from the file name's
//!   extension (`mime_guess`; `.eml` is message/rfc822), else a sniff:
//!   valid UTF-8 without NUL and with few control characters is
//!   text/plain, anything else application/octet-stream. A file cannot be
//!   given a multipart type, message/partial or message/external-body
//!   (usage error: `--part` takes ready entities); type names are at most
//!   127 characters (RFC 6838 §4.2).
//! - Text charset: `us-ascii` for ASCII, `utf-8` for valid UTF-8, else the
//!   per-file charset or [`Options::charset`], looked up and written by
//!   its MIME name (`latin1` → `ISO-8859-1`). Without one: the text and
//!   HTML bodies are a data error; an attachment whose text type was
//!   guessed goes as application/octet-stream (its bytes intact, no
//!   reader takes them for US-ASCII), one whose type was given is a data
//!   error. [`Options::to_charset`] converts UTF-8 bodies to another
//!   charset.
//! - Transfer encodings: [`codec::choose`](crate::codec::choose) on a streaming scan of each
//!   text and message part; other parts are base64-encoded in one pass
//!   without a scan. Text in 7bit or 8bit has its line ends normalised
//!   (LF or CRLF in, the output's line end out); base64 text is sent as
//!   its bytes are. message/* is 7bit, or 8bit with
//!   [`Options::eight_bit`]; a message file that can be neither goes as
//!   application/octet-stream in base64, a ready entity that can be
//!   neither is an error. Nothing is `binary` (no BINARYMIME).
//! - Inputs are read twice (scan, then write): what is not a regular file
//!   is spooled once ([`Source::file`]); a reopened file gives exactly the
//!   bytes its scan saw.
//! - File names: the last component (of a `name=` override too, cut at
//!   `/` and `\`); bytes that are not UTF-8 read as windows-1252
//!   (`file_name_text`).
//! - Boundaries: `=_` plus 26 random letters and digits. `=_` cannot occur
//!   in base64 or quoted-printable output, and every part that goes out
//!   as it is (7bit, 8bit, ready entities) is scanned for lines
//!   starting with `--` and a boundary; on a match all boundaries are
//!   drawn again (RFC 2046 §5.1.1).
//! - Randomness (boundaries, Message-ID) comes from the standard library's
//!   `RandomState`, whose SipHash keys are drawn from the operating
//!   system's random source, hashed with a counter, the time and the pid.
//! - Header fields: From, To, Cc, Bcc, Reply-To, Subject, Date,
//!   Message-ID, the `-H` fields in order, MIME-Version, then the body's
//!   Content-* fields. Bcc is written (as `mutt` and `msmtp` expect): the
//!   sender (`smtp-send -t`) reads it and removes it. Date is UTC (see
//!   [`date`](crate::message::date)); the Message-ID's domain is From's, else the host name.
//!   Content-*, MIME-Version fields cannot be given with `-H`; Date and
//!   Message-ID given with `-H` replace ours. Structured `-H` values are
//!   checked: addresses (From, Sender, Reply-To, To, Cc, Bcc, Resent-*),
//!   dates ([`date::normalize`](crate::message::date::normalize): written again), message ids (Message-ID,
//!   In-Reply-To, References: `<id@domain>` lists); Content-IDs must be
//!   msg-ids (or a bare dot-atom id); an inline file given none gets
//!   its name without the extension at the message's domain
//!   (`chart.png` → `<chart@example.org>`, see `tree::default_cid`),
//!   so the HTML can name it before the message is built. No line is over 998 octets
//!   (RFC 5322 §2.1.1): a word too long for a line is encoded, local
//!   parts over 64 and domains over 255 octets are refused (RFC 5321
//!   §4.5.3.1).
//! - Nothing half-written: all inputs are opened, scanned and checked
//!   before writing. A read error after that (a file that shrank or
//!   vanished) stops with an I/O error and a truncated message.

//!
//! # Files
//!
//! The files form a chain, each using only those before it: `error`
//! (the error type), `random`, `source` (inputs and their scan),
//! `options` (what `mime-build` asks for), `fields` (the message
//! header), `tree` (checking, typing and laying out the parts:
//! [`prepare`]), [`write`] (streaming it out) and `split`
//! (message/partial pieces).

mod error;
mod fields;
mod options;
mod random;
mod source;
mod split;
mod tree;
mod write;

pub use error::Error;
pub(crate) use fields::address_field;
pub use options::{Files, Item, Leaf, Options, Overrides, Spec};
pub use random::message_id;
pub use source::Source;
pub use tree::{Prepared, prepare};
pub use write::Progress;

#[cfg(test)]
mod tests;
