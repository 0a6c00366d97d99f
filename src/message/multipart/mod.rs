//! Taking MIME messages apart (RFC 2045, RFC 2046): a streaming walker over
//! the tree of entities, transfer decoding, and the work behind
//! `mime-unpack` (listing, extraction, one part to stdout, reading a
//! message (`--show`), reassembly of message/partial sets).
//!
//! # The walker ([`walk()`])
//!
//! One pass over the input with constant memory: the boundary scanner
//! (`scan.rs`) hands each part's bytes on in large blocks and stops at the
//! next delimiter line of any open multipart; the walker keeps an explicit
//! stack of open containers (no recursion, so nesting cannot overflow the
//! call stack) and calls a [`Visitor`] for every entity: once its header is
//! read ([`Visitor::enter`], with a reader of its body) and once it ends
//! ([`Visitor::leave`]).
//!
//! # Part numbers
//!
//! Parts are numbered as IMAP section specifiers (RFC 3501 §6.4.5): the
//! children of a multipart are `1`, `2`, … and those of a nested multipart
//! `2.1`, `2.2`, …; a message that is not multipart has one part, `1`. A
//! message/rfc822 part `3` holds a message: its body is `3.1` when that
//! message is not multipart, and its children `3.1`, `3.2`, … when it is.
//! The multipart that is a message's body has no number of its own in IMAP;
//! it is shown as `TEXT` (the whole message's body) or `3.TEXT` (the body of
//! the message in part 3), the specifiers IMAP uses for those bytes.
//!
//! # Damage
//!
//! Malformed input never stops the walk: each problem has a defined
//! outcome and is recorded as a [`Defect`] (see its variants for the rules).
//! Only limits stop it, with an [`Error`]: more than [`MAX_MIME_DEPTH`](crate::limits::MAX_MIME_DEPTH)
//! nested containers, more than [`MAX_PARTS`](crate::limits::MAX_PARTS) entities, a header block over
//! [`crate::limits::MAX_HEADER_BYTES`].

pub mod decode;
pub mod extract;
pub mod filename;
pub mod list;
pub mod partial;
mod scan;
pub mod show;
pub mod walk;

mod part;

pub use part::{Defect, Encoding, Error, Kind, Part, Report};
pub use walk::{Body, Flow, Visitor, walk};

#[cfg(test)]
mod tests {
    /// Limits on untrusted input sat in the modules (partial.rs, scan.rs,
    /// extract.rs, walk.rs, decode.rs, filename.rs) instead of
    /// `crate::limits`, where DESIGN.md keeps every one of them. A numeric
    /// constant here must be internal tuning, named in this list.
    #[test]
    fn bug_limits_on_untrusted_input_outside_limits_rs() {
        const INTERNAL: &[&str] = &[
            // Derived from limits: the scanner's look-ahead and buffer.
            "LOOKAHEAD",
            "CAP",
            // Longest extension kept when a name is shortened (taste).
            "MAX_EXTENSION",
            // Tries against files that were in the directory before.
            "MAX_ALTERNATIVES",
        ];
        let sources = [
            include_str!("mod.rs"),
            include_str!("part.rs"),
            include_str!("decode.rs"),
            include_str!("extract.rs"),
            include_str!("filename.rs"),
            include_str!("list.rs"),
            include_str!("partial.rs"),
            include_str!("scan.rs"),
            include_str!("walk/mod.rs"),
            include_str!("walk/tests.rs"),
        ];
        for src in sources {
            for line in src.lines() {
                let Some((_, rest)) = line.split_once("const ") else {
                    continue;
                };
                let Some((name, ty)) = rest.split_once(':') else {
                    continue;
                };
                let numeric = ["usize", "u64", "u32"]
                    .iter()
                    .any(|t| ty.trim_start().starts_with(t));
                let name = name.trim();
                if numeric && name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                    assert!(INTERNAL.contains(&name), "{name}: belongs in limits.rs");
                }
            }
        }
        assert_eq!(super::partial::MAX_PIECES, crate::limits::MAX_PIECES);
        assert_eq!(super::filename::MAX_NAME, crate::limits::MAX_NAME);
    }
}
