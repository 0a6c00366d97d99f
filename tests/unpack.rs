//! mime-unpack: against Python's `email` package (the shared corpus and
//! random structures Python builds), munpack and mshow, every damage case
//! of research/reliability.md, hostile input, files, exit codes.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use mailpipe::message::multipart::filename;

use crate::peers::peer;
use crate::util::*;

const UNPACK: &str = "mime-unpack";

/// One leaf part: type, file name as the part gives it, decoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Leaf {
    ctype: String,
    filename: Option<String>,
    payload: Vec<u8>,
}

/// Prints, for each message file given, a JSON list of its leaves as
/// Python's `email` (policy.default) reads them.
const PY_LEAVES: &str = r#"
import sys, json, email, email.policy
out = []
for path in sys.argv[1:]:
    m = email.message_from_bytes(open(path, 'rb').read(), policy=email.policy.default)
    leaves = []
    for p in m.walk():
        if p.is_multipart():
            continue
        try:
            fn = p.get_filename()
        except Exception as e:
            fn = None
        pl = p.get_payload(decode=True)
        leaves.append({"type": p.get_content_type(), "filename": fn,
                       "payload": (pl or b"").hex()})
    out.append(leaves)
print(json.dumps(out))
"#;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Python's leaves of each file, in one Python run.
fn python_leaves(files: &[PathBuf]) -> Vec<Vec<Leaf>> {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(PY_LEAVES).args(files);
    let r = run_cmd(cmd, b"");
    assert_eq!(r.code, 0, "python: {}", r.stderr);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).expect("python json");
    v.as_array()
        .expect("list")
        .iter()
        .map(|msg| {
            msg.as_array()
                .expect("leaves")
                .iter()
                .map(|l| Leaf {
                    ctype: l["type"].as_str().unwrap_or_default().to_owned(),
                    filename: l["filename"].as_str().map(str::to_owned),
                    payload: unhex(l["payload"].as_str().unwrap_or_default()),
                })
                .collect()
        })
        .collect()
}

/// What we make of a message: the leaves (from `--json` and the files
/// `-x -a` writes, in order) and the paths written.
struct Ours {
    leaves: Vec<Leaf>,
    paths: Vec<PathBuf>,
    json: serde_json::Value,
}

fn ours(file: &Path) -> Ours {
    let file = file.to_str().expect("utf-8 path");
    let listing = run(UNPACK, &["--json", file], b"");
    assert_eq!(listing.code, 0, "{file}: {}", listing.stderr);
    let json: serde_json::Value = if listing.stdout.is_empty() {
        serde_json::json!([])
    } else {
        serde_json::from_slice(&listing.stdout).expect("our json")
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf-8");
    let x = run(UNPACK, &["-x", "-a", "-C", d, file], b"");
    assert_eq!(x.code, 0, "{file}: {}", x.stderr);
    let paths: Vec<PathBuf> = x.stdout_str().lines().map(PathBuf::from).collect();
    let entries: Vec<&serde_json::Value> = json
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| e["kind"] == "leaf")
        .collect();
    assert_eq!(entries.len(), paths.len(), "{file}: -x -a vs --json leaves");
    let leaves = entries
        .iter()
        .zip(&paths)
        .map(|(e, p)| Leaf {
            ctype: e["type"].as_str().unwrap_or_default().to_owned(),
            filename: e["filename"].as_str().map(str::to_owned),
            payload: fs::read(p).expect("extracted file"),
        })
        .collect();
    // Every file is inside the directory, named as the part asks (made
    // safe) or from its number, and nothing else is left there.
    for (e, p) in entries.iter().zip(&paths) {
        assert_eq!(p.parent(), Some(dir.path()), "{file}: {}", p.display());
        let name = p.file_name().and_then(|n| n.to_str()).expect("name");
        let want = e["filename"]
            .as_str()
            .and_then(filename::sanitize)
            .unwrap_or_else(|| format!("part-{}.", e["part"].as_str().unwrap_or_default()));
        let (stem, _) = want.rsplit_once('.').unwrap_or((&want, ""));
        assert!(name.starts_with(stem), "{file}: {name} for {want}");
    }
    assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), paths.len());
    Ours {
        leaves,
        paths,
        json,
    }
}

/// Corpus files where Python and the RFC part ways; each has its own test
/// below pinning what we do.
const PINNED: &[&str] = &[
    "base64encoded-rfc822message.msg",
    "base64encoded-rfc822message-nested.msg",
    "bad-newlines-multiple-parts-base64.msg",
    "ending-boundaries.msg",
    "missing-boundary.msg",
    "missing-inner-boundary.msg",
    "missing-inner-start-boundary.msg",
    "multipartnopart.msg",
    "multipartemptypart.msg",
    "obsolete.msg",
    "russian-headers.msg",
    "malformed/017.eml",
    "malformed/019.eml",
    "thirdparty/002.eml",
    "thirdparty/003.eml",
    "thirdparty/009.eml",
];

fn pinned(path: &Path) -> bool {
    let p = path.to_string_lossy();
    PINNED.iter().any(|s| p.ends_with(&format!("/{s}")))
}

fn corpus_file(test: &str, suffix: &str) -> Option<PathBuf> {
    let files = corpus(test)?;
    Some(
        files
            .into_iter()
            .find(|p| p.to_string_lossy().ends_with(&format!("/{suffix}")))
            .unwrap_or_else(|| panic!("corpus file {suffix} missing")),
    )
}

#[test]
fn corpus_payloads_and_names_match_python() {
    let test = "unpack::corpus_payloads_and_names_match_python";
    let (Some(files), Some(_)) = (corpus(test), peer("python3", test)) else {
        return;
    };
    let files: Vec<PathBuf> = files.into_iter().filter(|f| !pinned(f)).collect();
    assert!(files.len() > 40, "corpus too small: {}", files.len());
    let python = python_leaves(&files);
    for (file, py) in files.iter().zip(python) {
        let ours = ours(file);
        assert_eq!(ours.leaves, py, "{}", file.display());
    }
}

/// Generates random nested messages with Python's EmailMessage: multipart
/// mixed/alternative/related, text in several charsets and encodings,
/// binary attachments with hostile and non-ASCII names, message/rfc822.
const PY_GENERATE: &str = r#"
import sys, random, email.policy
from email.message import EmailMessage
seed, count, outdir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rnd = random.Random(seed)
NAMES = ["report.pdf", "données été.txt", "../../etc/passwd", "a b c.bin",
         "日本語のファイル名.docx", "x" * 300 + ".zip", "CON", ".hidden", "-rf",
         "semi;colon=.txt", 'quo"te.txt', "é" * 80 + ".txt", "..\\..\\win.bat", None]
def text():
    pool = rnd.choice(["abc xyz\n", "abc é ü ß\n", "line with trailing space \n", "日本語 テキスト\n", "--boundary-like\n"])
    return "".join(rnd.choice(pool.split(" ")) + rnd.choice([" ", "\n", ""]) for _ in range(rnd.randrange(0, 120)))
def leaf(depth):
    m = EmailMessage()
    kind = rnd.randrange(5)
    if kind == 0 or kind == 1:
        t = text()
        cs = rnd.choice(["utf-8", "iso-8859-1", "utf-8"])
        try:
            t.encode(cs)
        except UnicodeEncodeError:
            cs = "utf-8"
        m.set_content(t, subtype=rnd.choice(["plain", "html"]), charset=cs,
                      cte=rnd.choice([None, "quoted-printable", "base64"]))
    elif kind == 2 and depth < 3:
        m.set_content(message(depth + 1))
    else:
        data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 2000)))
        name = rnd.choice(NAMES)
        m.set_content(data, maintype="application", subtype=rnd.choice(["octet-stream", "pdf"]),
                      cte=rnd.choice(["base64", "quoted-printable"]),
                      disposition=rnd.choice(["attachment", "inline"]), filename=name)
    return m
def multipart(depth):
    m = EmailMessage()
    m["Content-Type"] = "multipart/" + rnd.choice(["mixed", "alternative", "related"])
    m.set_payload([])
    for _ in range(rnd.randrange(0, 4)):
        m.attach(multipart(depth + 1) if depth < 3 and rnd.random() < 0.3 else leaf(depth + 1))
    if not m.get_payload():
        m.attach(leaf(depth + 1))
    return m
def message(depth):
    m = multipart(depth) if rnd.random() < 0.8 else leaf(depth)
    m["Subject"] = "random %d" % rnd.randrange(1000)
    if "MIME-Version" not in m:
        m["MIME-Version"] = "1.0"
    return m
for i in range(count):
    policy = email.policy.SMTP if i % 2 else email.policy.default
    with open("%s/msg-%03d.eml" % (outdir, i), "wb") as f:
        f.write(message(0).as_bytes(policy=policy))
"#;

#[test]
fn random_python_structures_match_python() {
    let test = "unpack::random_python_structures_match_python";
    if peer("python3", test).is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(PY_GENERATE)
        .args(["20260426", "60"])
        .arg(dir.path());
    let r = run_cmd(cmd, b"");
    assert_eq!(r.code, 0, "python: {}", r.stderr);
    let mut files: Vec<PathBuf> = fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 60);
    let python = python_leaves(&files);
    let mut names = 0;
    for (file, py) in files.iter().zip(python) {
        let ours = ours(file);
        assert_eq!(ours.leaves, py, "{}", file.display());
        names += ours.leaves.iter().filter(|l| l.filename.is_some()).count();
        // No warnings on well-formed mail.
        let r = run(UNPACK, &[file.to_str().expect("utf-8")], b"");
        assert!(r.stderr.is_empty(), "{}: {}", file.display(), r.stderr);
    }
    assert!(names > 20, "too few named attachments generated: {names}");
}

/// mshow's leaves (by its numbering) and their decoded payloads, if mshow
/// lists the message.
fn mshow_leaves(file: &Path) -> Option<Vec<(String, Vec<u8>)>> {
    let out = Command::new("mshow").arg("-t").arg(file).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let mut leaves = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines().skip(1) {
        let Some((num, rest)) = line.trim().split_once(": ") else {
            continue;
        };
        let ctype = rest
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if ctype.starts_with("multipart/") || ctype == "message/rfc822" {
            continue;
        }
        let part = Command::new("mshow")
            .arg("-O")
            .arg(file)
            .arg(num)
            .output()
            .ok()?;
        leaves.push((ctype, part.stdout));
    }
    Some(leaves)
}

/// Payloads munpack writes (with -t, text parts too).
fn munpack_payloads(file: &Path) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let _ = Command::new("munpack")
        .args(["-q", "-t", "-C"])
        .arg(dir.path())
        .arg(file)
        .output();
    fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| fs::read(e.ok()?.path()).ok())
        .collect()
}

#[test]
fn where_munpack_and_mshow_agree_with_python_we_do_too() {
    let test = "unpack::where_munpack_and_mshow_agree_with_python_we_do_too";
    let peers = ["python3", "munpack", "mshow"].map(|p| peer(p, test));
    let Some(files) = corpus(test) else {
        return;
    };
    if peers.iter().any(Option::is_none) {
        return;
    }
    let python = python_leaves(&files);
    let mut agreed = 0;
    for (file, py) in files.iter().zip(python) {
        let Some(mshow) = mshow_leaves(file) else {
            continue;
        };
        if mshow.len() != py.len() {
            continue; // the peers do not agree on the structure
        }
        let munpack = munpack_payloads(file);
        let ours = ours(file);
        for (i, leaf) in py.iter().enumerate() {
            if leaf.payload.is_empty()
                || mshow[i].1 != leaf.payload
                || !munpack.contains(&leaf.payload)
            {
                continue;
            }
            agreed += 1;
            assert_eq!(
                ours.leaves.get(i).map(|l| &l.payload),
                Some(&leaf.payload),
                "{} leaf {i}",
                file.display()
            );
        }
    }
    assert!(agreed > 10, "peers agreed on only {agreed} payloads");
}

/// Writes `msg` to a file in a fresh directory; returns both.
fn message_file(msg: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("msg.eml");
    fs::write(&path, msg).expect("write");
    (dir, path)
}

#[test]
fn rfc2045_qp_trailing_white_space_is_deleted_where_the_peers_keep_it() {
    // RFC 2045 §6.7 rule 3: trailing white space on an encoded line was
    // added in transport and must be deleted. Python, mshow and munpack
    // keep it.
    let msg =
        b"Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\nab  \ncd\t\n";
    let r = run(UNPACK, &["-p", "1"], msg);
    assert_eq!(r.ok(), b"ab\ncd\n");
    let test = "unpack::rfc2045_qp_trailing_white_space_is_deleted_where_the_peers_keep_it";
    if peer("python3", test).is_some() {
        let (_d, path) = message_file(msg);
        assert_eq!(python_leaves(&[path])[0][0].payload, b"ab  \ncd\t\n");
    }
}

#[test]
fn python_differs_base64_message_rfc822_is_decoded_as_a_leaf() {
    // RFC 2046 §5.2.1 forbids base64 on message/rfc822; we decode it and
    // keep the message as one part. Python parses the base64 text itself
    // as a message (a header-less text/plain of base64).
    let test = "unpack::python_differs_base64_message_rfc822_is_decoded_as_a_leaf";
    for name in [
        "base64encoded-rfc822message.msg",
        "base64encoded-rfc822message-nested.msg",
        "bad-newlines-multiple-parts-base64.msg",
    ] {
        let Some(file) = corpus_file(test, name) else {
            return;
        };
        let ours = ours(&file);
        let last = ours.leaves.last().expect("a leaf");
        assert_eq!(last.ctype, "message/rfc822", "{name}");
        let text = String::from_utf8_lossy(&last.payload);
        assert!(text.contains("Content-Type:"), "{name}: {text}");
        let r = run(UNPACK, &[file.to_str().unwrap()], b"");
        assert!(
            r.stderr
                .contains("base64 encoding on a multipart or message"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn python_differs_boundaryless_multipart_loses_the_delimiters_line_end() {
    // A multipart whose first delimiter never comes is one part holding
    // its preamble (as in Python, reliability M01), but the line end
    // before the delimiter that ends it belongs to that delimiter
    // (RFC 2046 §5.1.1); Python keeps it.
    let test = "unpack::python_differs_boundaryless_multipart_loses_the_delimiters_line_end";
    if peer("python3", test).is_none() {
        return;
    }
    let mut differ = 0;
    for name in [
        "ending-boundaries.msg",
        "missing-boundary.msg",
        "missing-inner-boundary.msg",
        "missing-inner-start-boundary.msg",
        "multipartnopart.msg",
    ] {
        let Some(file) = corpus_file(test, name) else {
            return;
        };
        let py = python_leaves(std::slice::from_ref(&file)).remove(0);
        let ours = ours(&file);
        assert_eq!(ours.leaves.len(), py.len(), "{name}");
        for (o, p) in ours.leaves.iter().zip(&py) {
            if o.ctype.starts_with("multipart/") && o.payload != p.payload {
                // Ended by a delimiter (at the end of the input, all kept).
                let trimmed = p
                    .payload
                    .strip_suffix(b"\r\n")
                    .or_else(|| p.payload.strip_suffix(b"\n"))
                    .unwrap_or(&p.payload);
                assert_eq!(o.payload, trimmed, "{name}");
                differ += 1;
            } else {
                assert_eq!(o, p, "{name}");
            }
        }
        let r = run(UNPACK, &[file.to_str().unwrap()], b"");
        assert!(
            r.stderr.contains("boundary never found"),
            "{name}: {}",
            r.stderr
        );
    }
    assert!(differ >= 3, "{differ}");
}

#[test]
fn python_differs_close_delimiter_right_after_a_delimiter_ends_the_multipart() {
    // `--b` then `--b--`: an empty part, then the end; the epilogue is
    // ignored. Python swallows the close delimiter as a repeated one and
    // reads the epilogue as a part.
    let test = "unpack::python_differs_close_delimiter_right_after_a_delimiter_ends_the_multipart";
    let Some(file) = corpus_file(test, "multipartemptypart.msg") else {
        return;
    };
    let leaves = ours(&file).leaves;
    assert_eq!(leaves.len(), 1);
    assert!(leaves[0].payload.is_empty());
}

#[test]
fn python_differs_space_before_colon_is_a_field() {
    // RFC 5322 §4.5.3 obsolete syntax `Subject :` is a field for us
    // (header.rs); Python ends the header there and reads the whole
    // message as body.
    let test = "unpack::python_differs_space_before_colon_is_a_field";
    let Some(file) = corpus_file(test, "obsolete.msg") else {
        return;
    };
    let leaves = ours(&file).leaves;
    assert_eq!(leaves.len(), 1);
    assert!(leaves[0].payload.ends_with(b"body\r\n"));
    assert!(!leaves[0].payload.starts_with(b"Subject"));
    let Some(file) = corpus_file(test, "malformed/019.eml") else {
        return;
    };
    let ours = ours(&file);
    assert_eq!(ours.json[0]["type"], "multipart/alternative");
    assert!(ours.leaves.len() > 1);
}

#[test]
fn python_differs_unquoted_encoded_word_file_names_are_decoded() {
    // `filename==?koi8-r?B?…?=` (unquoted, against RFC 2047 §5) is
    // decoded; Python finds no name.
    let test = "unpack::python_differs_unquoted_encoded_word_file_names_are_decoded";
    let Some(file) = corpus_file(test, "russian-headers.msg") else {
        return;
    };
    let ours = ours(&file);
    assert_eq!(ours.leaves[0].filename.as_deref(), Some("Список.doc"));
    assert!(ours.paths[0].ends_with("Список.doc"));
}

#[test]
fn python_differs_junk_after_the_subtype_is_not_part_of_the_type() {
    // `multipart/mixed<TAB>boundary="boundary"` (no `;`): the type is
    // multipart/mixed without a boundary (one part). Python's type is the
    // whole string.
    let test = "unpack::python_differs_junk_after_the_subtype_is_not_part_of_the_type";
    let Some(file) = corpus_file(test, "malformed/017.eml") else {
        return;
    };
    let ours = ours(&file);
    assert_eq!(ours.leaves.len(), 1);
    assert_eq!(ours.leaves[0].ctype, "multipart/mixed");
}

#[test]
fn python_differs_base64_after_padding_is_more_data() {
    // reliability K02: `dGVzdA==dGVzdA==` is `testtest` (with a warning);
    // Python stops at the first padding.
    let test = "unpack::python_differs_base64_after_padding_is_more_data";
    let Some(file) = corpus_file(test, "thirdparty/002.eml") else {
        return;
    };
    let leaves = ours(&file).leaves;
    assert!(leaves[1].payload.starts_with("yötä vaan.\n".as_bytes()));
    assert!(leaves[1].payload.len() > "yötä vaan.\n".len());
    let r = run(UNPACK, &[file.to_str().unwrap()], b"");
    assert!(
        r.stderr.contains("base64 data after padding"),
        "{}",
        r.stderr
    );
}

#[test]
fn python_differs_encoding_with_trailing_junk_is_recognised() {
    // `Content-Transfer-Encoding: quoted-printable   <CR>` is QP to us;
    // Python takes the body undecoded.
    let test = "unpack::python_differs_encoding_with_trailing_junk_is_recognised";
    let Some(file) = corpus_file(test, "thirdparty/003.eml") else {
        return;
    };
    let leaves = ours(&file).leaves;
    assert_eq!(leaves[3].payload, leaves[1].payload);
}

#[test]
fn python_differs_message_partial_is_a_leaf() {
    // RFC 2046 §5.2.2: a message/partial body is a fragment, not a
    // message; Python parses it as one.
    let test = "unpack::python_differs_message_partial_is_a_leaf";
    let Some(file) = corpus_file(test, "thirdparty/009.eml") else {
        return;
    };
    let leaves = ours(&file).leaves;
    assert_eq!(leaves[1].ctype, "message/partial");
}

const MIXED: &[u8] = b"From: a@b\r\nSubject: test\r\nMIME-Version: 1.0\r\n\
    Content-Type: multipart/mixed; boundary=\"=_x\"\r\n\r\npreamble\r\n--=_x\r\n\
    Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
    caf=E9\r\n--=_x\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n\
    Content-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
    JVBERi0xLjQK\r\n--=_x\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n\
    iVBORw0K\r\n--=_x--\r\n";

#[test]
fn lists_the_tree_with_numbers_types_and_sizes() {
    let out = String::from_utf8(run(UNPACK, &[], MIXED).ok().to_vec()).unwrap();
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["TEXT", "multipart/mixed", "-", "7bit", "-", "-", "-"],
            vec![
                "1",
                "text/plain",
                "iso-8859-1",
                "quoted-printable",
                "4",
                "-",
                "-"
            ],
            vec![
                "2",
                "application/pdf",
                "-",
                "base64",
                "9",
                "attachment",
                "report.pdf"
            ],
            vec!["3", "image/png", "-", "base64", "6", "-", "-"],
        ]
    );
    assert_eq!(run(UNPACK, &["-l"], MIXED).ok(), out.as_bytes());
    let json: serde_json::Value =
        serde_json::from_slice(run(UNPACK, &["--json"], MIXED).ok()).unwrap();
    assert_eq!(json[2]["filename"], "report.pdf");
    assert_eq!(json[2]["size"], 9);
    assert_eq!(json[2]["attachment"], true);
    assert_eq!(json[1]["attachment"], false);
    assert_eq!(
        json[3]["attachment"], true,
        "non-text in a mixed: an attachment"
    );
    assert_eq!(json[0]["kind"], "multipart");
    assert_eq!(json[1]["defects"], serde_json::json!([]));
}

#[test]
fn prints_a_part_decoded_text_in_utf8() {
    assert_eq!(run(UNPACK, &["-p", "1"], MIXED).ok(), "café".as_bytes());
    assert_eq!(run(UNPACK, &["-p", "1", "--raw"], MIXED).ok(), b"caf\xe9");
    assert_eq!(run(UNPACK, &["-p", "2"], MIXED).ok(), b"%PDF-1.4\n");
    // A container: its body as it is.
    let body = run(UNPACK, &["-p", "TEXT"], MIXED).ok().to_vec();
    assert!(body.starts_with(b"preamble\r\n--=_x\r\n"));
    assert!(body.ends_with(b"--=_x--\r\n"));
    // No such part: exit 1, nothing printed.
    let r = run(UNPACK, &["-p", "9"], MIXED);
    r.code(1);
    assert!(r.stdout.is_empty() && r.stderr.is_empty());
    // Unknown charset: raw bytes and a warning; invalid bytes: U+FFFD.
    let msg = b"Content-Type: text/plain; charset=x-klingon\n\nq\xa5\n";
    let r = run(UNPACK, &["-p", "1"], msg);
    assert_eq!(r.ok(), b"q\xa5\n");
    assert_eq!(
        r.stderr,
        "mime-unpack: warning: stdin: part 1: unknown charset \"x-klingon\" (text left as it is)\n"
    );
    let r = run(
        UNPACK,
        &["-p", "1"],
        b"Content-Type: text/plain; charset=utf-8\n\na\xffb",
    );
    assert_eq!(r.ok(), "a\u{FFFD}b".as_bytes());
    assert!(r.stderr.contains("bytes invalid in charset"));
    // Shift_JIS and UTF-7 text.
    let r = run(
        UNPACK,
        &["-p", "1"],
        b"Content-Type: text/plain; charset=shift_jis\n\n\x93\xfa\x96\x7b\n",
    );
    assert_eq!(r.ok(), "日本\n".as_bytes());
    let r = run(
        UNPACK,
        &["-p", "1"],
        b"Content-Type: text/plain; charset=utf-7\n\nHi +AOk-\nx",
    );
    assert_eq!(r.ok(), "Hi é\nx".as_bytes());
}

/// A temporary directory and the argument strings for `-x -C DIR`.
fn extract_into(dir: &Path, msg: &[u8], extra: &[&str]) -> Run {
    let d = dir.to_str().expect("utf-8");
    let mut args = vec!["-x", "-C", d];
    args.extend_from_slice(extra);
    run(UNPACK, &args, msg)
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn extracts_attachments_without_overwriting_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("report.pdf"), b"old").unwrap();
    let r = extract_into(dir.path(), MIXED, &[]);
    let d = dir.path().display();
    assert_eq!(
        r.stdout_str(),
        format!("{d}/report-1.pdf\n{d}/part-3.png\n")
    );
    assert_eq!(fs::read(dir.path().join("report.pdf")).unwrap(), b"old");
    assert_eq!(
        fs::read(dir.path().join("report-1.pdf")).unwrap(),
        b"%PDF-1.4\n"
    );
    let mode = fs::metadata(dir.path().join("part-3.png"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Again: numbered further; -a adds the text part.
    let r = extract_into(dir.path(), MIXED, &["-a"]);
    assert_eq!(
        r.stdout_str(),
        format!("{d}/part-1.txt\n{d}/report-2.pdf\n{d}/part-3-1.png\n")
    );
    assert_eq!(fs::read(dir.path().join("part-1.txt")).unwrap(), b"caf\xe9");
    assert_eq!(
        listing(dir.path()),
        [
            "part-1.txt",
            "part-3-1.png",
            "part-3.png",
            "report-1.pdf",
            "report-2.pdf",
            "report.pdf"
        ]
    );
}

#[test]
fn default_directory_is_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin(UNPACK));
    cmd.arg("-x").current_dir(dir.path());
    let r = run_cmd(cmd, MIXED);
    assert_eq!(r.stdout_str(), "report.pdf\npart-3.png\n");
    assert_eq!(listing(dir.path()), ["part-3.png", "report.pdf"]);
}

#[test]
fn reliability_m08_hostile_file_names_stay_inside() {
    let names: &[(&str, &str)] = &[
        ("filename=\"../../.bashrc\"", "bashrc"),
        ("filename=\"/etc/passwd\"", "passwd"),
        ("filename=\"..\\\\..\\\\x.bat\"", "x.bat"),
        ("filename=\"a\\\0b.txt\"", "ab.txt"),
        ("filename=\"CON\"", "CON"),
        ("filename*=UTF-8''..%2F..%2Fx", "x"),
        ("filename=\"=?UTF-8?Q?..=2F..=2Fy?=\"", "y"),
        ("filename*=UTF-8''%00%0A%1B%7Fz.txt", "z.txt"),
        ("filename=\"..\"", "part-9.bin"),
        ("filename=\"-rf\"", "rf"),
    ];
    let long = "n".repeat(400) + ".txt";
    let mut msg = b"Content-Type: multipart/mixed; boundary=b\n\n".to_vec();
    for (param, _) in names {
        msg.extend_from_slice(
            format!("--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; {param}\n\nx\n").as_bytes(),
        );
    }
    msg.extend_from_slice(
        format!("--b\nContent-Disposition: attachment; filename=\"{long}\"\n\nx\n--b--\n")
            .as_bytes(),
    );
    let dir = tempfile::tempdir().unwrap();
    let r = extract_into(dir.path(), &msg, &[]);
    r.code(0);
    let written: Vec<String> = r
        .stdout_str()
        .lines()
        .map(|l| {
            Path::new(l)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut want: Vec<String> = names.iter().map(|(_, n)| n.to_string()).collect();
    want.push("n".repeat(251) + ".txt");
    assert_eq!(written, want);
    for l in r.stdout_str().lines() {
        assert_eq!(Path::new(l).parent(), Some(dir.path()));
    }
    assert_eq!(listing(dir.path()).len(), want.len());
}

#[test]
fn failure_leaves_the_directory_as_it_was() {
    // An attachment, then a nesting bomb: exit 65, no file, no temporary.
    let mut msg = MIXED[..MIXED.len() - b"--=_x--\r\n".len()].to_vec();
    msg.extend_from_slice(b"--=_x\r\n");
    for i in 0..100 {
        msg.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"n{i}\"\r\n\r\n--n{i}\r\n")
                .as_bytes(),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let r = extract_into(dir.path(), &msg, &[]);
    r.code(65).one_line_error(UNPACK);
    assert!(r.stderr.contains("nested deeper than 64"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert!(listing(dir.path()).is_empty(), "{:?}", listing(dir.path()));
    // A directory that cannot be made (its parent is a file, which fails
    // even for root): an I/O error, one line.
    let file = dir.path().join("file");
    std::fs::write(&file, b"").unwrap();
    let bad = file.join("dir").display().to_string();
    let r = run(UNPACK, &["-x", "-C", &bad], MIXED);
    r.code(74).one_line_error(UNPACK);
    assert!(r.stderr.contains("cannot create"), "{}", r.stderr);
}

#[test]
fn reliability_m05_m06_m07_limits_are_data_errors() {
    // M05: 10,000 nested levels, each with its own boundary.
    let mut bomb = Vec::new();
    for i in 0..10_000 {
        bomb.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\n\n--b{i}\n").as_bytes(),
        );
    }
    let r = run(UNPACK, &[], &bomb);
    r.code(65).one_line_error(UNPACK);
    // The listing is written as the message is read: the 64 levels before.
    assert_eq!(r.stdout_str().lines().count(), 64);
    let r = run(UNPACK, &["--json"], &bomb);
    r.code(65).one_line_error(UNPACK);
    let json: serde_json::Value = serde_json::from_slice(&r.stdout).expect("array closed");
    assert_eq!(json.as_array().map(Vec::len), Some(64));
    // message/rfc822 levels count too.
    let r = run(
        UNPACK,
        &[],
        &b"Content-Type: message/rfc822\n\n".repeat(10_000),
    );
    r.code(65).one_line_error(UNPACK);
    // M06: a million empty parts.
    let mut many = b"Content-Type: multipart/mixed; boundary=a\r\n\r\n".to_vec();
    many.extend_from_slice(&b"--a\r\n\r\n".repeat(1_000_000));
    let r = run(UNPACK, &[], &many);
    r.code(65).one_line_error(UNPACK);
    assert!(r.stderr.contains("more than 10000 parts"), "{}", r.stderr);
    // M07: a 10 MB header without an empty line; 200,000 fields.
    let r = run(UNPACK, &[], &vec![b'x'; 10 << 20]);
    assert!(matches!(r.code, 0 | 65), "{}", r.stderr);
    let mut header = b"Subject: ".to_vec();
    header.extend(std::iter::repeat_n(b'x', 10 << 20));
    run(UNPACK, &[], &header).code(65).one_line_error(UNPACK);
    run(UNPACK, &[], &b"X: y\n".repeat(200_000))
        .code(65)
        .one_line_error(UNPACK);
    // A 1 MB folded Subject is within the limit.
    let mut folded = b"Subject: ".to_vec();
    for _ in 0..10_000 {
        folded.extend_from_slice(b"word word word word word word word word word word word\n ");
    }
    folded.extend_from_slice(b"end\n\nbody\n");
    assert!(folded.len() < 1 << 20);
    run(UNPACK, &[], &folded).code(0);
}

#[test]
fn damage_is_warned_once_per_kind_and_exits_zero() {
    // Each of the issue's damage cases: a defined outcome, a warning.
    let cases: &[(&[u8], &str)] = &[
        (
            b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n",
            "without its close delimiter",
        ),
        (
            b"Content-Type: multipart/mixed; boundary=b\n\n--bb\n--b\n\nx\n--b--\n",
            "start with a boundary but are not delimiters",
        ),
        (
            b"Content-Type: multipart/mixed; boundary=b\nbody\n",
            "no empty line after the header",
        ),
        (
            b"Content-Transfer-Encoding: x-foo\n\nbody\n",
            "unknown transfer encoding",
        ),
        (
            b"Content-Transfer-Encoding: base64\n\naGk*\n",
            "outside the base64 alphabet",
        ),
        (
            b"Content-Transfer-Encoding: quoted-printable\n\n=ZZ\n",
            "malformed quoted-printable",
        ),
        (
            b"Content-Type: multipart/mixed; boundary=b\n\n--b\r\n\r\nx\r--b--\r\n",
            "bare CR",
        ),
        (
            b"Content-Type: multipart/mixed\n\nx\n",
            "without a boundary",
        ),
    ];
    for (msg, want) in cases {
        let r = run(UNPACK, &[], msg);
        r.code(0);
        assert!(r.stderr.contains(want), "{want}: {}", r.stderr);
        assert!(
            r.stderr.starts_with("mime-unpack: warning: stdin: part "),
            "{}",
            r.stderr
        );
        // -p and -x see the same warning.
        let r = run(UNPACK, &["-p", "1"], msg);
        assert!(r.code == 0 || r.code == 1);
    }
    // Many parts with the same damage: one line.
    let mut msg = b"Content-Type: multipart/mixed; boundary=b\n\n".to_vec();
    for _ in 0..50 {
        msg.extend_from_slice(b"--b\nContent-Transfer-Encoding: base64\n\n!aGk=\n");
    }
    msg.extend_from_slice(b"--b--\n");
    let r = run(UNPACK, &[], &msg);
    assert_eq!(
        r.stderr,
        "mime-unpack: warning: stdin: part 1: bytes outside the base64 alphabet (skipped) (and 49 more parts)\n"
    );
}

#[test]
fn reliability_k11_control_characters_never_reach_a_line() {
    let msg = b"Content-Type: application/octet-stream\n\
        Content-Disposition: attachment; filename*=UTF-8''a%0D%0ABcc%3A%20x%00.bin\n\nx";
    let out = run(UNPACK, &[], msg).ok().to_vec();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(out.lines().count(), 1, "{out:?}");
    assert!(
        out.contains("a\u{FFFD}\u{FFFD}Bcc: x\u{FFFD}.bin"),
        "{out:?}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(run(UNPACK, &["--json"], msg).ok()).unwrap();
    // The same cleaner for JSON: `jq -r` would print controls raw.
    assert_eq!(json[0]["filename"], "a\u{FFFD}\u{FFFD}Bcc: x\u{FFFD}.bin");
    let dir = tempfile::tempdir().unwrap();
    let r = extract_into(dir.path(), msg, &[]);
    assert_eq!(listing(dir.path()), ["aBcc: x.bin"]);
    assert_eq!(r.stdout_str().lines().count(), 1);
}

#[test]
fn reliability_k12_rfc2231_continuations() {
    let msg = b"Content-Type: application/octet-stream\nContent-Disposition: attachment;\n \
        filename*1*=%AC.txt; filename*0*=utf-8''%E2%82\n\nx";
    let json: serde_json::Value =
        serde_json::from_slice(run(UNPACK, &["--json"], msg).ok()).unwrap();
    assert_eq!(json[0]["filename"], "€.txt");
    // A missing section: best effort, with a warning.
    let msg = b"Content-Disposition: attachment; filename*0=a; filename*2=c\n\nx";
    let r = run(UNPACK, &["--json"], msg);
    let json: serde_json::Value = serde_json::from_slice(r.ok()).unwrap();
    assert_eq!(json[0]["filename"], "ac");
    assert!(
        r.stderr.contains("malformed header parameter"),
        "{}",
        r.stderr
    );
}

#[test]
fn reassembles_mpack_message_partial_sets() {
    let test = "unpack::reassembles_mpack_message_partial_sets";
    if peer("mpack", test).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = pseudo_random(300_000, 11);
    let file = dir.path().join("data.bin");
    fs::write(&file, &data).unwrap();
    let out = dir.path().join("piece");
    let status = Command::new("mpack")
        .args([
            "-s",
            "split",
            "-c",
            "application/octet-stream",
            "-m",
            "100000",
            "-o",
        ])
        .arg(&out)
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    let mut pieces: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .filter(|p| p.contains("piece."))
        .collect();
    pieces.sort();
    assert!(pieces.len() >= 4, "{pieces:?}");
    // In any order; the message, and straight into -x.
    pieces.reverse();
    let mut args = vec!["--reassemble"];
    args.extend(pieces.iter().map(String::as_str));
    let whole = run(UNPACK, &args, b"").ok().to_vec();
    assert!(
        whole.starts_with(b"Subject: split") || whole.windows(14).any(|w| w == b"Subject: split")
    );
    let x = tempfile::tempdir().unwrap();
    let r = run(UNPACK, &["-x", "-C", x.path().to_str().unwrap()], &whole);
    r.code(0);
    assert_eq!(fs::read(x.path().join("data.bin")).unwrap(), data);
    let mut args2 = args.clone();
    args2.extend(["-x", "-C", x.path().to_str().unwrap()]);
    run(UNPACK, &args2, b"").code(0);
    assert_eq!(fs::read(x.path().join("data-1.bin")).unwrap(), data);
    // A piece missing: exit 65, one line, nothing written.
    let r = run(UNPACK, &args[..args.len() - 1], b"");
    r.code(65).one_line_error(UNPACK);
    assert!(r.stderr.contains("missing"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    // Not a piece.
    let (_d, plain) = message_file(MIXED);
    let r = run(UNPACK, &["--reassemble", plain.to_str().unwrap()], b"");
    r.code(65).one_line_error(UNPACK);
}

#[test]
fn files_flags_and_exit_codes() {
    run(UNPACK, &["/nonexistent/msg"], b"")
        .code(66)
        .one_line_error(UNPACK);
    run(UNPACK, &["/"], b"").code(66).one_line_error(UNPACK);
    let (_d, path) = message_file(MIXED);
    let p = path.to_str().unwrap();
    // Several messages: each in turn, lines prefixed with the file name,
    // the worst exit code wins.
    let two = run(UNPACK, &[p, "/nonexistent", p], b"");
    two.code(66).one_line_error(UNPACK);
    let lines: Vec<String> = two.stdout_str().lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 8);
    assert!(
        lines.iter().all(|l| l.starts_with(&format!("{p}:"))),
        "{lines:?}"
    );
    let out = run(UNPACK, &["--json", p, "-"], MIXED).ok().to_vec();
    let arrays: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&out)
        .into_iter()
        .map(|v| v.expect("json"))
        .collect();
    assert_eq!(arrays.len(), 2);
    assert_eq!(arrays[0][0]["file"], p);
    assert_eq!(arrays[1][3]["file"], "stdin");
    for bad in [
        &["-a"][..],
        &["--raw"],
        &["-C", "/tmp"],
        // Modes exclude each other; `-x -p N` is one (issue 13: save
        // part N), so the pair that stands for them is `-x -l`.
        &["-x", "-l"],
        &["-s", "-p", "1"],
        &["-s", "-x"],
        &["--json", "-s"],
        &["--html-cmd", "cat"],
        &["-x", "-p", "1", "--raw"],
        &["-x", "-a", "-p", "1"],
        &["--json", "-x"],
        &["--reassemble"],
        &["--bogus"],
    ] {
        run(UNPACK, bad, MIXED).code(64).one_line_error(UNPACK);
    }
    assert_eq!(run(UNPACK, &[p], b"").ok(), run(UNPACK, &["-"], MIXED).ok());
    // Empty input: no message, no output.
    for mode in [&[][..], &["--json"], &["-x", "-C", "/nonexistent"]] {
        let r = run(UNPACK, mode, b"");
        r.code(0);
        assert!(r.stdout.is_empty() && r.stderr.is_empty());
    }
    // Binary garbage: a message with no header; at most one warning.
    let garbage = pseudo_random(1 << 20, 5);
    for mode in [&[][..], &["--json"], &["-p", "1"]] {
        let r = run(UNPACK, mode, &garbage);
        r.code(0);
        assert!(r.stderr.lines().count() <= 1, "{}", r.stderr);
    }
}

#[test]
fn closed_stdout_is_quiet() {
    let mut msg = b"Content-Type: application/octet-stream\n\n".to_vec();
    msg.extend(std::iter::repeat_n(b'x', 4 << 20));
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = Command::new(bin(UNPACK))
        .args(["-p", "1"])
        .stdin(std::process::Stdio::piped())
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut stdin, &msg);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty());
}

#[test]
fn huge_parts_stream_in_constant_memory() {
    // A 64 MiB base64 attachment: extracted exactly; peak memory checked
    // by the bench (bench/mime-unpack.sh), here only correctness.
    let data = pseudo_random(48 << 20, 3);
    let mut msg = b"Content-Type: multipart/mixed; boundary=z\n\n--z\n\
        Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        .to_vec();
    let mut enc = Vec::new();
    mailpipe::codec::base64::encode(&data[..], &mut enc, Default::default()).unwrap();
    msg.extend_from_slice(&enc);
    msg.extend_from_slice(b"--z--\n");
    let dir = tempfile::tempdir().unwrap();
    extract_into(dir.path(), &msg, &[]).code(0);
    let got = fs::read(dir.path().join("part-1.bin")).unwrap();
    assert!(got == data, "payload differs");
    let sizes: HashMap<String, u64> =
        serde_json::from_slice::<serde_json::Value>(run(UNPACK, &["--json"], &msg).ok())
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| Some((e["part"].as_str()?.to_owned(), e["size"].as_u64()?)))
            .collect();
    assert_eq!(sizes["1"], data.len() as u64);
}

#[test]
fn bug_extract_repeated_names_numbered_in_linear_time() {
    // 5000 attachments all named f.bin took seconds (each file tried
    // f.bin, f-1.bin, … from the start); files there before are kept.
    let mut msg = b"Content-Type: multipart/mixed; boundary=b\n\n".to_vec();
    for _ in 0..5000 {
        msg.extend_from_slice(
            b"--b\nContent-Type: application/octet-stream\n\
            Content-Disposition: attachment; filename=f.bin\n\nx\n",
        );
    }
    msg.extend_from_slice(b"--b--\n");
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("f-7.bin"), b"old").unwrap();
    let r = extract_into(dir.path(), &msg, &[]);
    r.code(0);
    assert_eq!(r.stdout_str().lines().count(), 5000);
    let names = listing(dir.path());
    assert_eq!(names.len(), 5001);
    assert!(
        names.contains(&"f-5000.bin".to_owned()),
        "{:?}",
        &names[..5]
    );
    assert!(!names.contains(&"f-5001.bin".to_owned()));
    assert_eq!(fs::read(dir.path().join("f-7.bin")).unwrap(), b"old");
}

#[test]
fn bug_terminal_escapes_and_bidi_controls_reach_the_listing() {
    // Every column went out raw but charset, disposition and name, and
    // those kept U+202E: ESC [8m hid the rest of the terminal's line.
    let msg = b"Content-Type: text/pl\x1b[8main; charset=\"u\x1b[8m\"\n\
        Content-Transfer-Encoding: x\x1b[8m\n\
        Content-Disposition: attach\x1b]0;t\x07ment; filename*=UTF-8''r%E2%80%AEfdp.exe%C2%85%E2%80%A8\n\nhi\n";
    let bad = |s: &str| {
        s.chars().any(|c| {
            c.is_control() && c != '\n'
                || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2028}' | '\u{2029}')
        })
    };
    let text = run(UNPACK, &[], msg);
    let out = text.stdout_str();
    assert!(!bad(&out), "{out:?}");
    assert_eq!(out.lines().count(), 1, "{out:?}");
    assert!(out.contains("x\u{FFFD}[8m"), "{out:?}");
    assert!(out.contains("r\u{FFFD}fdp.exe\u{FFFD}\u{FFFD}"), "{out:?}");
    let json = run(UNPACK, &["--json"], msg);
    let out = json.stdout_str();
    assert!(!bad(&out), "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in ["type", "charset", "encoding", "disposition", "filename"] {
        let s = v[0][key].as_str().unwrap_or_default();
        assert!(!bad(s) && !s.is_empty(), "{key}: {s:?}");
    }
    // From the terminal's own example: printf 'Content-Transfer-Encoding: x\e[8m\n\nhi\n'.
    let out = run(UNPACK, &[], b"Content-Transfer-Encoding: x\x1b[8m\n\nhi\n")
        .stdout_str()
        .to_owned();
    assert!(!out.contains('\x1b'), "{out:?}");
}

#[test]
fn bug_listing_memory_grows_with_file_names() {
    // -l and --json kept every row and each decoded name whole: 300 names
    // of 900 KB took 532 MB. Now rows go out as they come: 40 names of
    // 800 KB (32 MB) list within 32 MiB of address space (they needed
    // twice their size before), text names cut at 255 bytes with `…`,
    // JSON names whole.
    let mut msg = b"Content-Type: multipart/mixed; boundary=b\n\n".to_vec();
    for i in 0..40 {
        msg.extend_from_slice(
            format!(
                "--b\nContent-Type: application/octet-stream\n\
                Content-Disposition: attachment; filename=\"{i}{}.bin\"\n\nx\n",
                "n".repeat(800_000)
            )
            .as_bytes(),
        );
    }
    msg.extend_from_slice(b"--b--\n");
    let limited = |args: &[&str]| {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("ulimit -v 32768 && exec \"$0\" \"$@\"")
            .arg(bin(UNPACK))
            .args(args);
        run_cmd(cmd, &msg)
    };
    let text = limited(&[]);
    text.code(0);
    let out = text.stdout_str();
    assert_eq!(out.lines().count(), 41);
    for line in out.lines().skip(1) {
        let name = line.rsplit("  ").next().unwrap();
        assert_eq!(name.len(), filename::MAX_NAME, "{line}");
        assert!(name.ends_with('…'));
    }
    let json = limited(&["--json"]);
    json.code(0);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(41));
    assert_eq!(v[40]["filename"].as_str().map(str::len), Some(800_006));
    // One object a line, for line tools.
    assert_eq!(json.stdout_str().lines().count(), 43);
}

#[test]
fn bug_malformed_part_number_exits_1_silently() {
    // `-p a.b` and `-p 0` looked like an absent part: exit 1, no word.
    for bad in ["a.b", "0", "1.0", "1..2", "", "TEXT.1", " 1"] {
        let r = run(UNPACK, &["-p", bad], MIXED);
        r.code(64).one_line_error(UNPACK);
        assert_eq!(
            r.stderr,
            format!("mime-unpack: bad part number '{bad}': want numbers like 1.2\n")
        );
        assert!(r.stdout.is_empty());
    }
    // Well formed but absent: exit 1, nothing said (as grep).
    for absent in ["9", "1.1", "2.TEXT", "99999999999999999999"] {
        let r = run(UNPACK, &["-p", absent], MIXED);
        r.code(1);
        assert!(r.stdout.is_empty() && r.stderr.is_empty(), "{absent}");
    }
    assert!(
        run(UNPACK, &["-p", "text"], MIXED)
            .ok()
            .starts_with(b"preamble")
    );
}

#[test]
fn bug_attached_messages_are_not_saved_as_eml() {
    // -x walked into an attached message and saved its leaves; mail
    // clients (and munpack/mshow users) expect the message itself.
    let inner = b"From: a@b\r\nSubject: fwd\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n\
        --i\r\n\r\ninner text\r\n--i\r\nContent-Type: application/pdf\r\n\
        Content-Disposition: attachment; filename=inner.pdf\r\n\r\n%PDF\r\n--i--\r\n";
    let wrap = |headers: &str| {
        let mut m = format!(
            "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n\r\nhello\r\n\
             --o\r\nContent-Type: message/rfc822\r\n{headers}\r\n"
        )
        .into_bytes();
        m.extend_from_slice(inner);
        m.extend_from_slice(b"\r\n--o--\r\n");
        m
    };
    // Disposition attachment with a name: saved under it, byte for byte.
    let msg = wrap("Content-Disposition: attachment; filename=\"Fwd: x.eml\"\r\n");
    let dir = tempfile::tempdir().unwrap();
    extract_into(dir.path(), &msg, &[]).code(0);
    assert_eq!(listing(dir.path()), ["Fwd: x.eml"]);
    assert_eq!(fs::read(dir.path().join("Fwd: x.eml")).unwrap(), inner);
    // Same bytes as -p gives; listed as an attachment.
    assert_eq!(run(UNPACK, &["-p", "2"], &msg).ok(), inner);
    let json: serde_json::Value =
        serde_json::from_slice(run(UNPACK, &["--json"], &msg).ok()).unwrap();
    assert_eq!(json[2]["kind"], "message");
    assert_eq!(json[2]["attachment"], true);
    // Disposition without a name: named from its number.
    let msg = wrap("Content-Disposition: attachment\r\n");
    let dir = tempfile::tempdir().unwrap();
    extract_into(dir.path(), &msg, &[]).code(0);
    assert_eq!(listing(dir.path()), ["part-2.eml"]);
    // -a takes every leaf instead, the attached message's too.
    let dir = tempfile::tempdir().unwrap();
    extract_into(dir.path(), &msg, &["-a"]).code(0);
    assert_eq!(
        listing(dir.path()),
        ["inner.pdf", "part-1.txt", "part-2.1.txt"]
    );
    // A message forwarded inline (no disposition, no name) is walked into.
    let msg = wrap("");
    let dir = tempfile::tempdir().unwrap();
    extract_into(dir.path(), &msg, &[]).code(0);
    assert_eq!(listing(dir.path()), ["inner.pdf"]);
}

#[test]
fn bug_man_page_flags_swallow_words_and_quotes_nest() {
    // `.Pq whether Fl x extracts it` rendered "-x -extracts -it", and
    // `Ql x inside Ql x--` rendered ‘x inside ‘x--’’.
    let test = "unpack::bug_man_page_flags_swallow_words_and_quotes_nest";
    let Some(mandoc) = peer("mandoc", test) else {
        return;
    };
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("man/mime-unpack.1");
    let out = Command::new(mandoc)
        .args(["-T", "utf8"])
        .arg(&page)
        .output()
        .expect("mandoc");
    assert!(out.status.success());
    // Bold and underline are overstruck (`c BS c`): keep the last char.
    let mut text = String::new();
    for c in String::from_utf8(out.stdout).expect("utf-8").chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    // Only one-letter short options exist: `-word` is a word made a flag.
    let flagged: Vec<&str> = text
        .split_whitespace()
        .map(|w| w.trim_start_matches(['(', '‘']))
        .filter(|w| {
            w.strip_prefix('-')
                .is_some_and(|r| r.chars().take_while(char::is_ascii_alphabetic).count() > 1)
        })
        .collect();
    assert!(flagged.is_empty(), "{flagged:?}");
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '‘' => depth += 1,
            '’' => depth -= 1,
            _ => {}
        }
        assert!((0..=1).contains(&depth), "nested quotes");
    }
    assert_eq!(depth, 0);
}

// ---------------------------------------------------------------- --show

/// Prints, for each message file given, a JSON list: the text of the
/// text/plain part Python's `email` (policy.default) picks for reading
/// (`get_body(('plain',))`, `get_content()`), or null when it picks none
/// or cannot decode it.
const PY_PLAIN: &str = r#"
import sys, json, email, email.policy
out = []
for path in sys.argv[1:]:
    m = email.message_from_bytes(open(path, 'rb').read(), policy=email.policy.default)
    try:
        b = m.get_body(preferencelist=('plain',))
        out.append(b.get_content() if b is not None else None)
    except Exception:
        out.append(None)
print(json.dumps(out))
"#;

/// `--show` writes, for every corpus message, the text Python reads as
/// its plain body, decoded from its charset and transfer encoding (line
/// ends as LF; a text with control characters, which we neutralise, is
/// compared with them replaced).
#[test]
fn show_text_equals_pythons_get_content_on_the_corpus() {
    let test = "unpack::show_text_equals_pythons_get_content_on_the_corpus";
    let (Some(files), Some(_)) = (corpus(test), peer("python3", test)) else {
        return;
    };
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(PY_PLAIN).args(&files);
    let r = run_cmd(cmd, b"");
    assert_eq!(r.code, 0, "python: {}", r.stderr);
    let texts: Vec<Option<String>> = serde_json::from_slice(&r.stdout).expect("python JSON");
    // Where the walk reads the message otherwise than Python, on purpose
    // (the same for -l and -p; not --show's doing), the texts differ.
    const READ_OTHERWISE: [(&str, &str); 4] = [
        // The empty part between two delimiters: Python's body is the epilogue.
        ("multipartemptypart.msg", "repeated delimiter"),
        // Python ends the header at `Subject :` (obsolete WSP before the
        // colon, RFC 5322 §4.5.3): its body starts there.
        ("obsolete.msg", "obsolete header syntax"),
        // A damaged header: Python's body starts inside it.
        ("malformed/019.eml", "damaged header"),
        // 8-bit UTF-8 text without a charset parameter: Python decodes it
        // as ASCII (U+FFFD for each byte), we pass UTF-8 through.
        ("thirdparty/010.eml", "charset"),
    ];
    for (name, _) in READ_OTHERWISE {
        assert!(
            files.iter().any(|f| f.ends_with(name)),
            "{name} left the corpus"
        );
    }
    let (mut compared, mut failed) = (0, Vec::new());
    for (f, text) in files.iter().zip(texts) {
        let Some(text) = text else { continue };
        if READ_OTHERWISE.iter().any(|(n, _)| f.ends_with(n)) {
            continue;
        }
        let want: String = text
            .replace("\r\n", "\n")
            .chars()
            .map(|c| match c {
                '\n' | '\t' => c,
                c if c.is_control() || ('\u{2028}'..='\u{202E}').contains(&c) => '\u{FFFD}',
                c if ('\u{2066}'..='\u{2069}').contains(&c) => '\u{FFFD}',
                c => c,
            })
            .collect();
        let r = run(UNPACK, &["--show", f.to_str().unwrap()], b"");
        let out = String::from_utf8(r.stdout.clone()).expect("UTF-8 out");
        if !out.contains(want.trim_end()) {
            failed.push(format!(
                "{}: python's text not shown\n--- python:\n{want}\n--- ours:\n{out}",
                f.display()
            ));
        }
        compared += 1;
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert!(compared >= 10, "only {compared} messages compared");
}

/// A real-world shape: text and HTML alternatives with an inline image,
/// and attachments (as `mime-build` makes them). `--show` shows the text
/// once, lists the rest with the numbers `-p` takes, and
/// `mime-unpack -p N` then prints the part listed as N.
#[test]
fn show_lists_the_other_parts_with_the_numbers_p_takes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = |n: &str, data: &[u8]| write_file(d, n, data).to_str().unwrap().to_owned();
    let (text, html) = (
        w("note.txt", "Grüße.\n".as_bytes()),
        w("note.html", b"<p>Hi</p>\n"),
    );
    let (png, pdf) = (
        w("chart.png", &pseudo_random(300, 5)),
        w("r.pdf", b"%PDF-1.4\n"),
    );
    let msg = run(
        "mime-build",
        &[
            "-f",
            "=?UTF-8?Q?Zo=C3=AB?= <zoe@example.org>",
            "-t",
            "bob@example.com",
            "-s",
            "Quarterly report",
            "--text",
            &text,
            "--html",
            &html,
            "--inline",
            &png,
            &pdf,
        ],
        b"",
    );
    let msg = msg.ok().to_vec();
    let r = run(UNPACK, &["--show"], &msg);
    let out = String::from_utf8(r.ok().to_vec()).unwrap();
    assert!(
        out.starts_with("From: Zoë <zoe@example.org>\nTo: bob@example.com\nDate: "),
        "{out}"
    );
    assert!(
        out.contains("\nSubject: Quarterly report\n\nGrüße.\n\n--- other parts"),
        "{out}"
    );
    let listed: Vec<(&str, &str)> = out
        .lines()
        .skip_while(|l| !l.starts_with("--- other parts"))
        .skip(1)
        .map(|l| {
            let mut f = l.split_whitespace();
            (f.next().unwrap(), f.next().unwrap())
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("1.1.2", "text/html"),
            ("1.2", "image/png"),
            ("2", "application/pdf")
        ]
    );
    for (n, file) in [("1.1.2", "note.html"), ("1.2", "chart.png"), ("2", "r.pdf")] {
        let p = run(UNPACK, &["-p", n], &msg);
        assert_eq!(p.ok(), std::fs::read(d.join(file)).unwrap(), "part {n}");
    }
    // `-x -p N` saves the part listed as N, under its name.
    let x = d.join("x");
    let r = run(
        UNPACK,
        &["-x", "-p", "1.2", "-C", x.to_str().unwrap()],
        &msg,
    );
    assert_eq!(
        r.stdout_str(),
        format!("{}\n", x.join("chart.png").display())
    );
    assert_eq!(
        std::fs::read(x.join("chart.png")).unwrap(),
        std::fs::read(d.join("chart.png")).unwrap()
    );
    run(UNPACK, &["-x", "-p", "9", "-C", x.to_str().unwrap()], &msg).code(1);
    // With an HTML command the HTML is still not shown: the text is.
    let r = run(UNPACK, &["--show", "--html-cmd", "cat"], &msg);
    assert!(!String::from_utf8_lossy(r.ok()).contains("<p>"));
}

/// Escape sequences and bidi controls in the header, the text and the
/// file names of a hostile message never reach the terminal.
#[test]
fn show_neutralises_a_hostile_message() {
    let msg = "From: =?UTF-8?Q?=1B]8;;http://evil/=1B\\\\Bank?= <x@evil.example>\n\
Subject: =?UTF-8?B?4oCuZ25wLmV4ZQ==?= \x1b[2J\n\
Content-Type: multipart/mixed; boundary=b\n\n\
--b\nContent-Type: text/plain; charset=utf-8\n\n\
Hi\x1b[8m hidden\x1b[0m \u{2067}gnp.exe\u{2069}\r\x1b[1A\n\
--b\nContent-Type: text/html\n\n<script>\x1b]52;c;Zm9v\x07</script>\n\
--b\nContent-Type: application/x-sh; name=\"\u{202E}hs.txt\"\n\nrm -rf ~\n--b--\n";
    let cmd = "cat";
    let r = run(UNPACK, &["-s", "--html-cmd", cmd], msg.as_bytes());
    let out = String::from_utf8(r.ok().to_vec()).unwrap();
    for bad in ['\x1b', '\x07', '\r', '\u{202E}', '\u{2067}', '\u{2069}'] {
        assert!(!out.contains(bad), "{bad:?} in {out:?}");
    }
    assert!(
        out.contains("Subject: \u{FFFD}gnp.exe \u{FFFD}[2J\n"),
        "{out}"
    );
    assert!(out.contains("Hi\u{FFFD}[8m hidden"), "{out}");
    assert!(out.contains("\u{FFFD}hs.txt"), "{out}");
    // The HTML (through the command) is the second text; the script is
    // listed.
    assert_eq!(out.matches("--- ").count(), 2, "{out}");
    assert!(
        out.contains("\n--- 2 text/html ---\n<script>\u{FFFD}]52;c;Zm9v\u{FFFD}</script>\n"),
        "{out}"
    );
}

#[test]
fn munpack_style_directory_without_extract_says_what_to_type() {
    // Issue 13: munpack's `-C DIR MSG` answered clap's "required
    // arguments were not provided: --extract".
    let r = run("mime-unpack", &["-C", "/tmp", "msg.eml"], b"");
    r.code(64).one_line_error("mime-unpack");
    assert!(
        r.stderr.contains("mime-unpack -x -C DIR MSG"),
        "{}",
        r.stderr
    );
}
