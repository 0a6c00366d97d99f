//! Tag lists (RFC 6376 §3.2): `name=value` pairs separated by `;`, used by
//! the DKIM-Signature field (§3.5) and the key record (§3.6.1).
//!
//! A tag seen twice makes the whole list invalid (§3.2: "Tags with
//! duplicate names MUST NOT occur within a single tag-list; if a tag name
//! does occur more than once, the entire tag-list is invalid"); so does a
//! list of more than [`DKIM_MAX_TAGS`] tags.

use std::fmt;
use std::ops::Range;

use crate::limits::DKIM_MAX_TAGS;

/// One tag: its name and its value with the surrounding white space
/// removed (white space inside the value is kept: `b=` and `p=` may be
/// folded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag<'a> {
    /// The tag name (`ALPHA *ALNUMPUNC`).
    pub name: &'a str,
    /// The value, trimmed of folding white space at both ends.
    pub value: &'a [u8],
    /// Where `value` sits in the parsed bytes (to blank `b=`, §3.7).
    pub range: Range<usize>,
}

/// Why a tag list is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagError {
    /// A tag name appears twice.
    Duplicate(String),
    /// A tag-spec does not follow the grammar of §3.2.
    Syntax(String),
    /// More than [`DKIM_MAX_TAGS`] tags.
    TooMany,
}

impl fmt::Display for TagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagError::Duplicate(name) => write!(f, "tag {name}= appears twice"),
            TagError::Syntax(what) => write!(f, "bad tag list: {what}"),
            TagError::TooMany => write!(f, "more than {DKIM_MAX_TAGS} tags"),
        }
    }
}

impl std::error::Error for TagError {}

/// Folding white space of §2.8 (`FWS`), with the line breaks of a folded
/// field.
pub(crate) fn is_fws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// `range` of `input` without its leading and trailing white space.
fn trim(input: &[u8], mut range: Range<usize>) -> Range<usize> {
    while range.start < range.end && is_fws(input[range.start]) {
        range.start += 1;
    }
    while range.end > range.start && is_fws(input[range.end - 1]) {
        range.end -= 1;
    }
    range
}

/// Parses a tag list; see the module docs.
pub fn parse(input: &[u8]) -> Result<Vec<Tag<'_>>, TagError> {
    let mut tags: Vec<Tag<'_>> = Vec::new();
    let mut start = 0;
    while start <= input.len() {
        let end = memchr::memchr(b';', &input[start..]).map_or(input.len(), |i| start + i);
        let spec = trim(input, start..end);
        let last = end == input.len();
        start = end + 1;
        if spec.is_empty() {
            // §3.2: a trailing ';' is allowed; an empty spec elsewhere is not.
            if last || trim(input, start..input.len()).is_empty() {
                break;
            }
            return Err(TagError::Syntax("empty tag".to_owned()));
        }
        let Some(eq) = memchr::memchr(b'=', &input[spec.clone()]).map(|i| spec.start + i) else {
            return Err(TagError::Syntax(format!(
                "no '=' in {:?}",
                String::from_utf8_lossy(&input[spec])
            )));
        };
        let name_range = trim(input, spec.start..eq);
        let name = std::str::from_utf8(&input[name_range]).unwrap_or("");
        let good_name = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !good_name {
            return Err(TagError::Syntax(format!(
                "bad tag name {:?}",
                String::from_utf8_lossy(&input[spec.start..eq])
            )));
        }
        let range = trim(input, eq + 1..spec.end);
        let value = &input[range.clone()];
        // tval (§3.2): visible ASCII but ';', FWS inside; UTF-8 allowed (RFC 8616).
        if value.iter().any(|&b| (b < 0x21 && !is_fws(b)) || b == 0x7f) {
            return Err(TagError::Syntax(format!("control character in {name}=")));
        }
        if tags.iter().any(|t| t.name == name) {
            return Err(TagError::Duplicate(name.to_owned()));
        }
        if tags.len() == DKIM_MAX_TAGS {
            return Err(TagError::TooMany);
        }
        tags.push(Tag { name, value, range });
        if last {
            break;
        }
    }
    Ok(tags)
}

/// The value of tag `name`, if present.
pub fn get<'a>(tags: &[Tag<'a>], name: &str) -> Option<&'a [u8]> {
    tags.iter().find(|t| t.name == name).map(|t| t.value)
}

/// `value` with its folding white space removed (for `b=`, `bh=`, `p=`,
/// whose base64 may be folded, §3.5).
pub fn without_fws(value: &[u8]) -> Vec<u8> {
    value.iter().copied().filter(|&b| !is_fws(b)).collect()
}
