//! The queue file reader (`send::queue`): a head and a state file, as
//! `--flush` and `--list` read them from a directory others may write.

use mailpipe::send::queue::{self, Entry, Head, State};

use super::{Chunked, assert_printable};

fn head(input: &mut impl std::io::BufRead) -> Option<Head> {
    queue::read_head(input).ok().map(|(h, _)| h)
}

/// Byte 0 cuts the stream, byte 1 chooses the time. A head read in
/// pieces is the head read whole (and the offset of the message the
/// same); written back and read again it keeps its envelope and time,
/// and a second round changes nothing; the `--list` line of the entry is
/// one line with no control or bidi character, and its JSON is an
/// object. A state file likewise.
pub fn queue(data: &[u8]) {
    let [seed, now, input @ ..] = data else {
        return;
    };
    let whole = queue::read_head(&mut &input[..]);
    let cut = queue::read_head(&mut Chunked::new(*seed, input));
    assert_eq!(whole, cut, "head whole vs in pieces");
    let state = queue::read_state(&mut &input[..]);
    assert_eq!(
        state,
        queue::read_state(&mut Chunked::new(*seed, input)),
        "state whole vs in pieces"
    );
    if let Ok(s) = &state {
        let mut text = Vec::new();
        queue::write_state(s, &mut text).expect("memory");
        let again = queue::read_state(&mut &text[..]).expect("own state file reads");
        assert_eq!((again.attempts, again.last), (s.attempts, s.last));
    }
    let Ok((h, offset)) = whole else {
        return;
    };
    assert!(offset <= input.len() as u64);
    let mut text = Vec::new();
    queue::write_head(&h, &mut text).expect("memory");
    let h2 = head(&mut &text[..]).expect("own head reads");
    assert_eq!(
        (&h2.from, &h2.rcpts, h2.created),
        (&h.from, &h.rcpts, h.created)
    );
    let mut text2 = Vec::new();
    queue::write_head(&h2, &mut text2).expect("memory");
    assert_eq!(text, text2, "a second round changes the head");

    let entry = Entry {
        id: "fuzz".into(),
        failed: now & 1 != 0,
        head: h,
        state: state.unwrap_or(State {
            attempts: 1,
            last: 0,
            reply: String::from_utf8_lossy(input).into_owned(),
        }),
    };
    let now = u64::from(*now) << 24;
    let line = entry.line(now);
    assert_printable("--list line", &line, false);
    assert!(entry.json(now).is_object());
}
