//! Header blocks (RFC 5322 §2.2, §3.6) and the address lists in them
//! (§3.4).

use mailpipe::message::address::{self, Address};
use mailpipe::message::header::{self, Block, Select, Show};

use super::{Chunked, assert_printable};

/// The fields of a block and what is left of the input after it.
fn read(input: &mut impl std::io::BufRead) -> (Result<Block, String>, Vec<u8>) {
    let block = header::read_block(input).map_err(|e| e.to_string());
    let mut rest = Vec::new();
    input.read_to_end(&mut rest).expect("memory");
    (block, rest)
}

fn fields(block: &Block) -> Vec<(Vec<u8>, Vec<u8>)> {
    block
        .fields()
        .map(|f| (f.name.to_vec(), f.value.to_vec()))
        .collect()
}

/// Byte 0 cuts the stream. A block read in pieces is the block read
/// whole, and leaves the same body; every field name is `ftext`; what
/// `mime-hdr` prints (values, mailboxes, addresses) is lines without a
/// control or bidi character; every field value and the whole input
/// parse as address lists whose names are printable, whose streaming
/// reader gives the same mailboxes, and which are `strict` exactly when
/// they have no defect.
pub fn header(data: &[u8]) {
    let [seed, input @ ..] = data else {
        return;
    };
    let (whole, rest) = read(&mut &input[..]);
    let (cut, cut_rest) = read(&mut Chunked::new(*seed, input));
    assert_eq!(rest, cut_rest, "body after the block");
    let block = match (whole, cut) {
        (Ok(a), Ok(b)) => {
            assert_eq!(fields(&a), fields(&b), "fields whole vs in pieces");
            assert_eq!(a.body_start(), b.body_start());
            a
        }
        (a, b) => {
            assert_eq!(a.err(), b.err(), "error whole vs in pieces");
            return;
        }
    };
    for f in block.fields() {
        assert!(
            !f.name.is_empty() && f.name.iter().all(|&b| (33..=126).contains(&b) && b != b':'),
            "field name {:?}",
            f.name
        );
        addresses(f.value);
    }
    addresses(input);
    for show in [Show::Value, Show::Mailboxes, Show::Addresses] {
        for (names, prefix) in [
            (&[][..], None),
            (&["to:from:Subject"][..], Some("f\u{1b}[1m")),
        ] {
            let mut select = Select::new(names, show, prefix.is_some()).expect("valid names");
            let mut out = Vec::new();
            select.print(&block, prefix, &mut out).expect("memory");
            let out = String::from_utf8(out).expect("printed text is UTF-8");
            assert!(out.is_empty() || out.ends_with('\n'), "{out:?}");
            assert_printable("printed fields", &out, true);
        }
    }
}

fn addresses(value: &[u8]) {
    let list = address::parse(value);
    let mut streamed = Vec::new();
    let mut defects = Vec::new();
    let done: Result<(), ()> = address::for_each_mailbox(
        value,
        |d| defects.push(d),
        |m| {
            streamed.push(m);
            Ok(())
        },
    );
    assert_eq!(done, Ok(()));
    let parsed: Vec<_> = list.mailboxes().cloned().collect();
    assert_eq!(parsed, streamed, "parse vs for_each_mailbox");
    defects.sort_by_key(|d| d.offset);
    assert_eq!(
        list.defects, defects,
        "defects of parse vs for_each_mailbox"
    );
    for m in &parsed {
        if let Some(name) = &m.name {
            assert_printable("display name", name, false);
        }
    }
    for a in &list.addresses {
        if let Address::Group(g) = a {
            assert_printable("group name", &g.name, false);
        }
    }
    let clean = list.defects.is_empty();
    assert_eq!(list.strict().is_ok(), clean);
}
