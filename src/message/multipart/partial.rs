//! Reassembling a message split into message/partial pieces (RFC 2046
//! §5.2.2), as `mpack -s` and `mime-build --split` write them.
//!
//! Each piece is a message of type `message/partial; id=…; number=N`, the
//! last one with `total=T` too; their bodies, in number order, are the
//! original message. [`Piece::read`] reads one piece's header; [`join`]
//! checks that the pieces make one complete set and gives the original
//! message as a reader, streaming the bodies one after the other.
//!
//! The header of the result follows §5.2.2.1: the fields of the first
//! piece's own header, except `Content-*`, `Subject`, `Message-ID`,
//! `Encrypted` and `MIME-Version`; then those fields (only those) from
//! the header of the message enclosed in the first piece. The header
//! fields of the other pieces are dropped.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

use super::part::Error;
use crate::message::header::Block;
use crate::message::mime::ContentType;

pub use crate::limits::MAX_PIECES;

/// One piece of a set: what its header says.
#[derive(Debug, Clone)]
pub struct Piece {
    /// The set's `id` parameter.
    pub id: String,
    /// The piece's `number` (from 1).
    pub number: u32,
    /// The `total` parameter, when the piece has one.
    pub total: Option<u32>,
    header: Block,
    crlf: bool,
}

impl Piece {
    /// Reads the header of a piece from `input`, leaving `input` at its
    /// body. A message that is not a message/partial piece with an `id`
    /// and a `number` is an [`Error::Data`].
    pub fn read(input: &mut impl BufRead) -> Result<Piece, Error> {
        let crlf = first_line_crlf(input)?;
        let header = crate::message::header::read_block(input)?;
        let ct = header
            .get(b"content-type")
            .map(|f| ContentType::parse(f.value))
            .unwrap_or_default();
        if ct.essence() != "message/partial" {
            return Err(Error::Data(format!(
                "not a message/partial piece (type {})",
                ct.essence()
            )));
        }
        let number = |name: &str| -> Result<Option<u32>, Error> {
            match ct.param(name) {
                None => Ok(None),
                Some(v) => match v.trim().parse::<u32>() {
                    Ok(n) if (1..=MAX_PIECES).contains(&n) => Ok(Some(n)),
                    _ => Err(Error::Data(format!(
                        "message/partial {name}={v:?} is not a number from 1 to {MAX_PIECES}"
                    ))),
                },
            }
        };
        let id = ct
            .param("id")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::Data("message/partial without an id".to_owned()))?;
        Ok(Piece {
            id: id.to_owned(),
            number: number("number")?
                .ok_or_else(|| Error::Data("message/partial without a number".to_owned()))?,
            total: number("total")?,
            crlf,
            header,
        })
    }
}

fn first_line_crlf(input: &mut impl BufRead) -> io::Result<bool> {
    let data = input.fill_buf()?;
    Ok(match memchr::memchr(b'\n', data) {
        Some(i) => i > 0 && data[i - 1] == b'\r',
        None => false,
    })
}

/// Checks that `pieces` are one complete set: the same id, one total, and
/// each number from 1 to the total exactly once. Returns the indices of
/// the pieces in number order.
pub fn order(pieces: &[Piece]) -> Result<Vec<usize>, Error> {
    let Some(first) = pieces.first() else {
        return Err(Error::Data("no message/partial pieces".to_owned()));
    };
    if let Some(p) = pieces.iter().find(|p| p.id != first.id) {
        return Err(Error::Data(format!(
            "pieces of different messages (id {:?} and {:?})",
            first.id, p.id
        )));
    }
    let mut total = None;
    for t in pieces.iter().filter_map(|p| p.total) {
        if total.is_some_and(|n| n != t) {
            return Err(Error::Data(format!(
                "pieces disagree on the total ({} and {t})",
                total.unwrap_or_default()
            )));
        }
        total = Some(t);
    }
    let Some(total) = total else {
        return Err(Error::Data(
            "no piece gives the total (the last piece is missing)".to_owned(),
        ));
    };
    let mut at: Vec<Option<usize>> = vec![None; total as usize];
    for (i, p) in pieces.iter().enumerate() {
        match at.get_mut(p.number as usize - 1) {
            None => {
                return Err(Error::Data(format!(
                    "piece {} of a set of {total}",
                    p.number
                )));
            }
            Some(Some(_)) => return Err(Error::Data(format!("piece {} given twice", p.number))),
            Some(slot) => *slot = Some(i),
        }
    }
    let missing: Vec<String> = at
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(n, _)| (n + 1).to_string())
        .collect();
    if !missing.is_empty() {
        return Err(Error::Data(format!(
            "pieces missing: {} (of {total})",
            missing.join(", ")
        )));
    }
    Ok(at.into_iter().flatten().collect())
}

/// Fields of the enclosed message that replace the first piece's own
/// (RFC 2046 §5.2.2.1).
fn from_enclosed(name: &[u8]) -> bool {
    name.len() >= 8 && name[..8].eq_ignore_ascii_case(b"content-")
        || ["subject", "message-id", "encrypted", "mime-version"]
            .iter()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(name))
}

/// The reassembled message: a header, then the pieces' bodies in order.
pub struct Joined<R> {
    head: Vec<u8>,
    at: usize,
    bodies: VecDeque<R>,
}

/// Reassembles `pieces` (each read with [`Piece::read`], its reader left
/// at its body), in any order, into the original message; see the module
/// docs. An incomplete or mixed set is an [`Error::Data`].
pub fn join<R: BufRead>(pieces: Vec<(Piece, R)>) -> Result<Joined<R>, Error> {
    let infos: Vec<Piece> = pieces.iter().map(|(p, _)| p.clone()).collect();
    let order = order(&infos)?;
    let mut slots: Vec<Option<(Piece, R)>> = pieces.into_iter().map(Some).collect();
    let mut bodies = VecDeque::with_capacity(order.len());
    let mut first = None;
    for i in order {
        if let Some((piece, reader)) = slots[i].take() {
            if first.is_none() {
                first = Some(piece);
            }
            bodies.push_back(reader);
        }
    }
    let (Some(first), Some(reader)) = (first, bodies.front_mut()) else {
        return Err(Error::Data("no message/partial pieces".to_owned()));
    };
    let enclosed = crate::message::header::read_block(reader)?;
    let eol: &[u8] = if first.crlf { b"\r\n" } else { b"\n" };
    let mut head = Vec::new();
    let fields = first
        .header
        .fields()
        .filter(|f| !from_enclosed(f.name))
        .chain(enclosed.fields().filter(|f| from_enclosed(f.name)));
    for f in fields {
        head.extend_from_slice(f.name);
        head.push(b':');
        head.extend_from_slice(f.value);
        head.extend_from_slice(eol);
    }
    head.extend_from_slice(eol);
    // A first body line that ended the enclosed header without an empty
    // line is body.
    if let Some(line) = enclosed.body_start() {
        head.extend_from_slice(line);
    }
    Ok(Joined {
        head,
        at: 0,
        bodies,
    })
}

impl<R: BufRead> Read for Joined<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        crate::io::lines::read_buffered(self, out)
    }
}

impl<R: BufRead> BufRead for Joined<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.at < self.head.len() {
            return Ok(&self.head[self.at..]);
        }
        while let Some(front) = self.bodies.front_mut() {
            if !front.fill_buf()?.is_empty() {
                break;
            }
            self.bodies.pop_front();
        }
        match self.bodies.front_mut() {
            Some(front) => front.fill_buf(),
            None => Ok(&[]),
        }
    }

    fn consume(&mut self, n: usize) {
        if self.at < self.head.len() {
            self.at += n;
        } else if let Some(front) = self.bodies.front_mut() {
            front.consume(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(text: &str) -> (Piece, &[u8]) {
        let mut r = text.as_bytes();
        let p = Piece::read(&mut r).unwrap();
        (p, r)
    }

    fn joined(pieces: Vec<(Piece, &[u8])>) -> Result<String, Error> {
        let mut j = join(pieces)?;
        let mut s = String::new();
        j.read_to_string(&mut s).unwrap();
        Ok(s)
    }

    // RFC 2046 §5.2.2.2, the example, in LF form.
    const P1: &str = "X-Weird-Header-1: Foo\nFrom: Bill@host.com\nTo: joe@otherhost.com\n\
        Date: Fri, 26 Mar 1993 12:59:38 -0500 (EST)\nSubject: Audio mail (part 1 of 2)\n\
        Message-ID: <id1@host.com>\nMIME-Version: 1.0\n\
        Content-type: message/partial; id=\"ABC@host.com\";\n number=1; total=2\n\n\
        X-Weird-Header-1: Bar\nX-Weird-Header-2: Hello\nMessage-ID: <anotherid@foo.com>\n\
        Subject: Audio mail\nMIME-Version: 1.0\nContent-type: audio/basic\n\
        Content-transfer-encoding: base64\n\n... first half\n";
    const P2: &str = "From: Bill@host.com\nTo: joe@otherhost.com\n\
        Date: Fri, 26 Mar 1993 12:59:38 -0500 (EST)\nSubject: Audio mail (part 2 of 2)\n\
        MIME-Version: 1.0\nMessage-ID: <id2@host.com>\n\
        Content-type: message/partial;\n id=\"ABC@host.com\"; number=2; total=2\n\n\
        ... second half\n";

    #[test]
    fn rfc2046_5_2_2_2_example_reassembles() {
        let want = "X-Weird-Header-1: Foo\nFrom: Bill@host.com\nTo: joe@otherhost.com\n\
            Date: Fri, 26 Mar 1993 12:59:38 -0500 (EST)\nMessage-ID: <anotherid@foo.com>\n\
            Subject: Audio mail\nMIME-Version: 1.0\nContent-type: audio/basic\n\
            Content-transfer-encoding: base64\n\n... first half\n... second half\n";
        assert_eq!(joined(vec![piece(P1), piece(P2)]).unwrap(), want);
        // Any order of operands.
        assert_eq!(joined(vec![piece(P2), piece(P1)]).unwrap(), want);
    }

    #[test]
    fn incomplete_or_mixed_sets_are_data_errors() {
        let err = |pieces| match joined(pieces) {
            Err(Error::Data(m)) => m,
            other => panic!("{:?}", other.map(|_| ())),
        };
        assert!(
            err(vec![piece(P1)]).contains("missing"),
            "{}",
            err(vec![piece(P1)])
        );
        assert!(err(vec![piece(P2)]).contains("missing: 1"));
        assert!(err(vec![piece(P2), piece(P2)]).contains("twice"));
        let other = P2.replace("ABC@host.com", "XYZ@host.com");
        assert!(err(vec![piece(P1), piece(&other)]).contains("different"));
        let three = P2.replace("total=2", "total=3");
        assert!(err(vec![piece(P1), piece(&three)]).contains("disagree"));
        for bad in [
            "Content-Type: text/plain\n\nx",
            "Content-Type: message/partial; number=1\n\n",
            "Content-Type: message/partial; id=a\n\n",
            "Content-Type: message/partial; id=a; number=0\n\n",
            "Content-Type: message/partial; id=a; number=x\n\n",
        ] {
            assert!(
                matches!(Piece::read(&mut bad.as_bytes()), Err(Error::Data(_))),
                "{bad}"
            );
        }
    }
}
