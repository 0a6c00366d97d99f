//! Man pages: one per binary, lint-clean, in step with `--help`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::peers::peer;
use crate::util::*;

/// Every binary of the crate, from src/bin (so a new tool cannot be missed).
pub fn binaries() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("src/bin")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().expect("stem").to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn page(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("man").join(name)
}

fn pages() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = binaries().iter().map(|b| page(&format!("{b}.1"))).collect();
    v.push(page("mailpipe.7"));
    v
}

/// Rendered text of a page, overstrike (bold/underline) removed.
fn render(mandoc: &Path, page: &Path) -> String {
    render_as(mandoc, page, "ascii")
}

/// As [`render`], for the output device `device` (`ascii`, `utf8`).
fn render_as(mandoc: &Path, page: &Path, device: &str) -> String {
    let out = Command::new(mandoc)
        .args(["-T", device])
        .arg(page)
        .output()
        .expect("mandoc");
    assert!(out.status.success(), "mandoc failed on {}", page.display());
    let mut text = String::new();
    for c in String::from_utf8_lossy(&out.stdout).chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    text
}

/// Long options (`--name`) in a tool's `--help` output.
fn long_options(help: &str) -> Vec<String> {
    let mut opts = Vec::new();
    for word in help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == '=') {
        if let Some(rest) = word.strip_prefix("--") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if !name.is_empty() && !opts.contains(&name) {
                opts.push(name);
            }
        }
    }
    opts
}

#[test]
fn every_binary_has_a_page_with_the_required_sections() {
    for p in pages() {
        let src = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        for section in [
            "NAME",
            "DESCRIPTION",
            "EXIT STATUS",
            "SEE ALSO",
            "STANDARDS",
        ] {
            assert!(
                src.contains(&format!(".Sh {section}")),
                "{} lacks {section}",
                p.display()
            );
        }
        if p.extension().is_some_and(|x| x == "1") {
            for section in ["SYNOPSIS", "OPTIONS", "EXAMPLES"] {
                assert!(
                    src.contains(&format!(".Sh {section}")),
                    "{} lacks {section}",
                    p.display()
                );
            }
        }
    }
}

#[test]
fn pages_are_lint_clean() {
    let Some(mandoc) = peer("mandoc", "pages_are_lint_clean") else {
        return;
    };
    for p in pages() {
        let out = Command::new(&mandoc)
            .args(["-T", "lint", "-W", "warning"])
            .arg(&p)
            .output();
        let out = out.expect("mandoc");
        let msg = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && msg.trim().is_empty(),
            "{}:\n{msg}",
            p.display()
        );
    }
}

#[test]
fn every_long_option_in_help_is_in_the_page() {
    let Some(mandoc) = peer("mandoc", "every_long_option_in_help_is_in_the_page") else {
        return;
    };
    for b in binaries() {
        let help = run(&b, &["--help"], b"");
        help.code(0);
        let text = render(&mandoc, &page(&format!("{b}.1")));
        let opts = long_options(&help.stdout_str());
        assert!(
            opts.contains(&"help".to_owned()),
            "{b}: no options found in --help"
        );
        for o in opts {
            assert!(
                text.contains(&format!("--{o}")),
                "{b}: --{o} is in --help but not in man/{b}.1"
            );
        }
    }
}

#[test]
fn overview_page_lists_every_tool() {
    let src = std::fs::read_to_string(page("mailpipe.7")).expect("mailpipe.7");
    for b in binaries() {
        assert!(
            src.contains(&format!(".Xr {b} 1")),
            "mailpipe.7 does not cross-reference {b}"
        );
    }
}

#[test]
fn bug_version_names_the_tool() {
    // clap takes the package name unless told: `mime-b64 --version` said
    // `mailpipe 0.1.0`.
    for b in binaries() {
        let r = run(&b, &["--version"], b"");
        let out = String::from_utf8_lossy(r.ok()).into_owned();
        assert!(out.starts_with(&format!("{b} ")), "{b}: {out:?}");
    }
}

/// Issue 13: mdoc macros that swallow the words after them rendered as
/// `(-f, -else -the -message's -Sender: -or -From:)` (a `Fl` taking the
/// rest of the line) and as nested quotes `‘a, ‘b’’` (a `Ql` inside
/// another's arguments). Every page is rendered as a reader sees it and
/// must have neither: no English word made a flag, and in each paragraph
/// every opening quote closed before the next opens.
#[test]
fn pages_render_without_swallowed_words_or_nested_quotes() {
    let Some(mandoc) = peer(
        "mandoc",
        "pages_render_without_swallowed_words_or_nested_quotes",
    ) else {
        return;
    };
    const WORDS: &[&str] = &[
        "the",
        "else",
        "or",
        "and",
        "an",
        "of",
        "to",
        "is",
        "with",
        "for",
        "in",
        "on",
        "its",
        "when",
        "if",
        "as",
        "by",
        "not",
        "from",
        "that",
        "this",
        "which",
        "see",
        "each",
        "one",
        "all",
        "message's",
    ];
    let mut bad = Vec::new();
    for p in pages() {
        let text = render_as(&mandoc, &p, "utf8");
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        for (n, line) in text.lines().enumerate() {
            for word in line.split([' ', '(', '\t']) {
                if let Some(w) = word.strip_prefix('-')
                    && WORDS.contains(&w.trim_end_matches([',', ')', ':', '.']))
                {
                    bad.push(format!("{name}:{}: flag {word:?}: {}", n + 1, line.trim()));
                }
            }
        }
        for (n, para) in text.split("\n\n").enumerate() {
            for (open, close) in [('‘', '’'), ('“', '”')] {
                let mut depth = 0i32;
                for c in para.chars() {
                    if c == open {
                        depth += 1;
                    } else if c == close {
                        depth -= 1;
                    }
                    if !(0..=1).contains(&depth) {
                        break;
                    }
                }
                if depth != 0 {
                    let first = para.trim().lines().next().unwrap_or_default();
                    bad.push(format!(
                        "{name}: paragraph {n}: nested or unbalanced {open}{close}: {first}"
                    ));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn short_help_is_the_tools_own_and_fits_a_screen() {
    // Issue 13: five tools' -h began with the crate's description, and
    // smtp-send's -h was 145 lines (msmtp's whole --help is 78).
    for b in binaries() {
        let r = crate::util::run(&b, &["-h"], b"");
        let short = r.stdout_str();
        r.code(0);
        assert!(
            !short.starts_with("Small Unix-style mail utilities"),
            "{b}: {short}"
        );
        let long = crate::util::run(&b, &["--help"], b"").stdout_str();
        assert!(long.lines().count() >= short.lines().count(), "{b}");
    }
    let short = crate::util::run("smtp-send", &["-h"], b"").stdout_str();
    assert!(short.lines().count() <= 66, "{}", short.lines().count());
    let long = crate::util::run("smtp-send", &["--help"], b"").stdout_str();
    for rest in [
        "--lmtp",
        "--mx-tls",
        "--qualify-domain",
        "SENDMAIL COMPATIBILITY",
    ] {
        assert!(!short.contains(rest) && long.contains(rest), "{rest}");
    }
}
