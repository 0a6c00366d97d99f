//! The MIME walker (RFC 2046 §5.1) over its boundary scanner, what
//! `mime-unpack` prints from it, and extraction into a directory.

use std::fs;
use std::io::Read;
use std::path::Path;

use mailpipe::message::multipart::{
    self, Body, Error, Flow, Kind, Part, Visitor, decode, extract as x, list, show,
};

use super::{Chunked, assert_printable};

/// Everything a walk tells its visitor, in order, with each leaf's
/// content decoded (`decode::content`: base64 and quoted-printable).
#[derive(Default)]
struct Record {
    events: Vec<String>,
    /// Read the body of every container instead of descending.
    flat: bool,
}

impl Visitor for Record {
    fn enter(&mut self, part: &mut Part, body: &mut Body<'_>) -> Result<Flow, Error> {
        self.events.push(format!(
            "enter {} depth {} {} {:?} {} {:?} {:?} {:?} at {}",
            part.number,
            part.depth,
            part.essence(),
            part.kind,
            part.encoding.name(),
            part.filename,
            part.parent,
            part.crlf,
            part.offset,
        ));
        if part.kind == Kind::Leaf {
            let mut out = Vec::new();
            let n = decode::content(part, &mut *body, &mut out);
            self.events.push(format!("content {n:?} {out:?}"));
            return Ok(Flow::Skip);
        }
        if self.flat {
            let mut raw = Vec::new();
            body.read_to_end(&mut raw)?;
            self.events.push(format!("raw {raw:?}"));
            return Ok(Flow::Skip);
        }
        Ok(Flow::Descend)
    }

    fn preamble(&mut self, part: &mut Part, body: &mut Body<'_>) -> Result<(), Error> {
        let mut raw = Vec::new();
        body.read_to_end(&mut raw)?;
        self.events
            .push(format!("preamble {} {raw:?}", part.number));
        Ok(())
    }

    fn leave(&mut self, part: &Part, size: u64) -> Result<(), Error> {
        self.events.push(format!(
            "leave {} size {size} {:?}",
            part.number, part.defects
        ));
        Ok(())
    }
}

fn walk(input: impl Read, flat: bool) -> Vec<String> {
    let mut r = Record {
        flat,
        ..Record::default()
    };
    let result = multipart::walk(input, &mut r);
    r.events.push(format!("{result:?}"));
    r.events
}

/// Byte 0 cuts the stream, byte 1 chooses options. A message read in
/// pieces is walked exactly as when read whole: the same entities, bodies,
/// decoded contents, defects and result, descending or reading whole
/// containers. `mime-unpack`'s listing (text and JSON) and `--show` print
/// lines with no control or bidi character, in pieces as whole.
pub fn multipart(data: &[u8]) {
    let [seed, opts, input @ ..] = data else {
        return;
    };
    let flat = opts & 1 != 0;
    assert_eq!(
        walk(input, flat),
        walk(Chunked::new(*seed, input), flat),
        "walk whole vs in pieces"
    );
    for json in [false, true] {
        let (mut whole, mut cut) = (Vec::new(), Vec::new());
        let a = list::list(input, &mut whole, json, Some("m\u{1b}"));
        let b = list::list(Chunked::new(*seed, input), &mut cut, json, Some("m\u{1b}"));
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert_eq!(whole, cut, "listing whole vs in pieces");
        let text = String::from_utf8(whole).expect("the listing is UTF-8");
        assert_printable("listing", &text, true);
    }
    let mut out = Vec::new();
    let _ = show::show(input, &mut out, &show::Options::default());
    assert_printable("--show", &String::from_utf8_lossy(&out), true);
}

/// Extraction (`mime-unpack -x`, byte 0: `-a`) into an empty directory
/// creates nothing outside it: only plain files directly in it, the ones
/// printed (all or nothing: none when it fails), each a file name that
/// is one printable path component.
pub fn extract(data: &[u8]) {
    let [opts, input @ ..] = data else {
        return;
    };
    let base = tempfile::tempdir().expect("a temporary directory");
    let dir = base.path().join("out");
    fs::create_dir(&dir).expect("mkdir");
    let mut printed = Vec::new();
    let result = x::extract(input, &dir, opts & 1 != 0, None, &mut printed);
    let listed: Vec<_> = fs::read_dir(base.path())
        .expect("read the base")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(listed, ["out"], "something created beside the directory");
    let mut made: Vec<_> = fs::read_dir(&dir)
        .expect("read the directory")
        .map(|e| e.expect("entry").path())
        .collect();
    made.sort();
    for path in &made {
        let meta = fs::symlink_metadata(path).expect("stat");
        assert!(meta.is_file(), "not a plain file: {path:?}");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 name");
        assert_printable("file name", name, false);
        assert!(
            !name.starts_with('.'),
            "hidden or temporary file left: {name:?}"
        );
    }
    let text = String::from_utf8(printed).expect("paths are UTF-8");
    let mut paths: Vec<_> = text.lines().map(|l| Path::new(l).to_path_buf()).collect();
    paths.sort();
    if result.is_err() {
        assert!(made.is_empty(), "files left after {result:?}: {made:?}");
        assert!(paths.is_empty());
    } else {
        assert_eq!(paths, made, "printed vs created");
    }
}
