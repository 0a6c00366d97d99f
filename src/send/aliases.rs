//! `--aliases FILE` (issue 14): local names in the envelope (`root`, as
//! cron writes it) replaced by real addresses, from a file in the format
//! of msmtp's `aliases` file and of `/etc/aliases` (aliases(5)):
//!
//! ```text
//! # a comment
//! root: admin@example.org, ops
//! ops:  alice@example.org,
//!       bob@example.org       # a line starting with white space continues
//! default: postmaster@example.org
//! ```
//!
//! - `NAME: ADDRESS[, ADDRESS…]`; an address is `local@domain` or another
//!   local name, which is expanded in turn (as sendmail does) up to
//!   [`MAX_DEPTH`] levels. A name in its own list is kept as it is
//!   (sendmail's `admin: admin, bob`), as is `\name` (sendmail: no further
//!   aliasing). Any other loop, or a chain deeper than [`MAX_DEPTH`], is a
//!   configuration error when the file is read (78, naming the alias), so a
//!   broken file is found on the first run, not by the one mail that uses it.
//! - Names are compared without regard to case (aliases(5): keys are folded
//!   to lower case).
//! - `default:` (msmtp's) stands for every local recipient without an entry
//!   of its own. It applies to the recipients as given (arguments, `-t`'s
//!   header addresses), not to names an expansion produces, which are kept
//!   as they are: `default: ops` with no `ops` entry cannot loop.
//! - `#` at the start of a line or after white space starts a comment
//!   (msmtp's rule, kept from eating an address such as `a#b@x`); blank
//!   lines are skipped.
//! - What only a local delivery agent can do, `|command`, `/file` and
//!   `:include:FILE`, is skipped with one warning per entry; an entry left
//!   with no address is as if it were not there (`default:`, else the name
//!   stays local and is qualified).
//!
//! Nothing here reads the header: [`Aliases::expand`] is applied by
//! `send::address` to envelope recipients without `@`, before
//! they are qualified with `--qualify-domain` or the host's name.

// send::error::Error is large since the per-recipient results (its Smtp
// variant); it is returned once per run, so boxing it here gains nothing.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::io::strip_os_error;
use crate::limits::MAX_ALIASES_FILE;
use crate::send::error::Error;
use crate::smtp::envelope;

/// Deepest chain of aliases (`a: b`, `b: c`, …): sendmail's
/// `MaxAliasRecursion`, 10.
pub const MAX_DEPTH: usize = 10;

/// An aliases file, read, checked and expanded: each name's addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases {
    /// Each name (lower case) with the addresses and local names it stands
    /// for, fully expanded, each once.
    expanded: BTreeMap<String, Vec<String>>,
    /// What the file holds that is skipped, one line per entry.
    warnings: Vec<String>,
}

/// The key of the entry for every other local name.
const DEFAULT: &str = "default";

impl Aliases {
    /// What the envelope recipient `name` stands for: its entry's
    /// expansion, else `default:`'s, else `name` itself. An address with a
    /// domain is never an alias.
    pub fn expand<'a>(&'a self, name: &'a str) -> Vec<&'a str> {
        if name.contains('@') {
            return vec![name];
        }
        match self
            .expanded
            .get(&name.to_lowercase())
            .or_else(|| self.expanded.get(DEFAULT))
        {
            Some(list) => list.iter().map(String::as_str).collect(),
            None => vec![name],
        }
    }

    /// The entries skipped in part or whole (`|command`, `/file`,
    /// `:include:`), one line each naming the file and the line: for the
    /// caller to say once per run.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether `name` has an entry (an alias is a local recipient, not a
    /// typing mistake).
    pub fn contains(&self, name: &str) -> bool {
        self.expanded.contains_key(&name.to_lowercase())
    }
}

/// Reads the aliases file `path` (at most [`MAX_ALIASES_FILE`] bytes) and
/// [`parse`]s it. Errors (78): the file cannot be read, is too large, is
/// not UTF-8, or is malformed (`FILE:LINE: why`).
pub fn load(path: &Path) -> Result<Aliases, Error> {
    let file = path.display().to_string();
    let err = |why: String| Error::Config(format!("aliases file {file}: {why}"));
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_ALIASES_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| err(strip_os_error(&e)))?;
    if bytes.len() as u64 > MAX_ALIASES_FILE {
        return Err(err(format!("larger than {MAX_ALIASES_FILE} bytes")));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = memchr::memchr_iter(b'\n', &e.as_bytes()[..at]).count() + 1;
        Error::Config(format!("{file}:{line}: not UTF-8"))
    })?;
    parse(&text, &file)
}

/// One address of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// `local@domain`.
    Address(String),
    /// A local name, expanded when it has an entry.
    Name(String),
    /// `\name`: a local name never expanded.
    Literal(String),
}

/// One entry as written.
#[derive(Debug)]
struct Entry {
    /// The name as written.
    name: String,
    /// Its first line.
    line: usize,
    /// Its addresses (what was skipped left out).
    targets: Vec<Target>,
}

/// Parses an aliases file (`file` names it in errors and warnings).
/// Returns the expanded aliases, with a warning for each entry with
/// skipped targets ([`Aliases::warnings`]). Errors (78, `FILE:LINE: why`): a line that is not an
/// entry, a name given twice, an address that is not one, a loop or a
/// chain deeper than [`MAX_DEPTH`].
pub fn parse(text: &str, file: &str) -> Result<Aliases, Error> {
    let at =
        |line: usize, why: &dyn std::fmt::Display| Error::Config(format!("{file}:{line}: {why}"));
    // Logical entries: a line and its continuation lines.
    let mut logical: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = strip_comment(raw);
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match logical.last_mut() {
                Some((_, text)) => {
                    text.push(' ');
                    text.push_str(line.trim());
                }
                None => return Err(at(i + 1, &"continuation line with no entry before it")),
            }
        } else {
            logical.push((i + 1, line.trim_end().to_owned()));
        }
    }
    let mut warnings = Vec::new();
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut lines: BTreeMap<String, usize> = BTreeMap::new();
    for (line, text) in logical {
        let Some((name, value)) = text.split_once(':') else {
            return Err(at(line, &"want NAME: ADDRESS[, ADDRESS…]"));
        };
        let name = name.trim();
        if name.contains('@') || !is_address(name) {
            return Err(at(line, &format_args!("{name:?}: not a local name")));
        }
        let key = name.to_lowercase();
        if let Some(first) = lines.insert(key.clone(), line) {
            return Err(at(
                line,
                &format_args!("{name}: given twice (first on line {first})"),
            ));
        }
        let mut targets = Vec::new();
        let mut skipped = Vec::new();
        for t in split_targets(value).map_err(|why| at(line, &format_args!("{name}: {why}")))? {
            match target(t) {
                Ok(Some(t)) => targets.push(t),
                Ok(None) => skipped.push(t),
                Err(why) => return Err(at(line, &format_args!("{name}: {why}"))),
            }
        }
        if targets.is_empty() && skipped.is_empty() {
            return Err(at(line, &format_args!("{name}: no address")));
        }
        if !skipped.is_empty() {
            let left = if targets.is_empty() {
                "; no address left: the entry is ignored"
            } else {
                ""
            };
            warnings.push(format!(
                "{file}:{line}: {name}: skipped {} (smtp-send only sends mail: \
                 no commands, files or includes){left}",
                skipped.join(", ")
            ));
        }
        if !targets.is_empty() {
            entries.insert(
                key,
                Entry {
                    name: name.to_owned(),
                    line,
                    targets,
                },
            );
        }
    }
    // In file order, so that a loop is named by its first alias written.
    let mut order: Vec<(&String, usize)> = entries.iter().map(|(k, e)| (k, e.line)).collect();
    order.sort_by_key(|&(_, line)| line);
    let mut memo = BTreeMap::new();
    for (key, _) in order {
        resolve(key, &entries, &mut memo, &mut Vec::new(), file)?;
    }
    let expanded = memo.into_iter().map(|(k, (list, _))| (k, list)).collect();
    Ok(Aliases { expanded, warnings })
}

/// `line` without its comment: from a `#` at its start or after white
/// space.
fn strip_comment(line: &str) -> &str {
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_space {
            return &line[..i];
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// The comma-separated targets of an entry (commas inside double quotes,
/// as in `"|/usr/bin/x a,b"`, are not separators); empty ones (a trailing
/// comma) left out.
fn split_targets(value: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return Err("unterminated quote".to_owned());
    }
    out.push(value[start..].trim());
    out.retain(|t| !t.is_empty());
    Ok(out)
}

/// One target: `None` for what only a local delivery agent can use
/// (`|command`, `/file`, `:include:FILE`, quoted or not).
fn target(t: &str) -> Result<Option<Target>, String> {
    let bare = t.strip_prefix('"').unwrap_or(t);
    if bare.starts_with(['|', '/'])
        || bare
            .get(..9)
            .is_some_and(|p| p.eq_ignore_ascii_case(":include:"))
    {
        return Ok(None);
    }
    let (literal, addr) = match t.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    if !is_address(addr) || (literal && addr.contains('@')) {
        return Err(format!(
            "{t:?}: not an address (separate addresses with commas)"
        ));
    }
    Ok(Some(if literal {
        Target::Literal(addr.to_owned())
    } else if addr.contains('@') {
        Target::Address(addr.to_owned())
    } else {
        Target::Name(addr.to_owned())
    }))
}

/// Whether `addr` (`local@domain`, or a local name) is what an SMTP path
/// may hold (RFC 5321 §4.1.2), as the server will check it.
fn is_address(addr: &str) -> bool {
    let path = if addr.contains('@') {
        format!("<{addr}>")
    } else {
        format!("<{addr}@localhost>")
    };
    matches!(envelope::parse_forward_path(&path, true), Ok((_, "")))
}

/// Whether two expanded addresses are the same recipient: the local part
/// as written (RFC 5321 §2.4), the domain in any case.
fn same(a: &str, b: &str) -> bool {
    match (a.rsplit_once('@'), b.rsplit_once('@')) {
        (Some((la, da)), Some((lb, db))) => la == lb && da.eq_ignore_ascii_case(db),
        (None, None) => a == b,
        _ => false,
    }
}

/// Adds `a` to `list` unless it is there already ([`same`]).
fn add(a: &str, list: &mut Vec<String>) {
    if !list.iter().any(|b| same(a, b)) {
        list.push(a.to_owned());
    }
}

/// Expands the entry `key` into `memo` (its list and its depth), after the
/// entries it names; `path` is the chain being expanded, to find loops.
fn resolve(
    key: &str,
    entries: &BTreeMap<String, Entry>,
    memo: &mut BTreeMap<String, (Vec<String>, usize)>,
    path: &mut Vec<String>,
    file: &str,
) -> Result<(), Error> {
    if memo.contains_key(key) {
        return Ok(());
    }
    let entry = &entries[key];
    if let Some(start) = path.iter().position(|k| k == key) {
        let names: Vec<&str> = path[start..]
            .iter()
            .map(|k| entries[k].name.as_str())
            .chain([entry.name.as_str()])
            .collect();
        return Err(Error::Config(format!(
            "{file}:{}: alias {}: loop: {}",
            entry.line,
            entry.name,
            names.join(" → ")
        )));
    }
    path.push(key.to_owned());
    let mut list: Vec<String> = Vec::new();
    let mut depth = 1;
    for t in &entry.targets {
        match t {
            Target::Address(a) | Target::Literal(a) => add(a, &mut list),
            Target::Name(n) => {
                let k = n.to_lowercase();
                if k == key || !entries.contains_key(&k) {
                    add(n, &mut list);
                    continue;
                }
                resolve(&k, entries, memo, path, file)?;
                let (sub, d) = &memo[&k];
                depth = depth.max(d + 1);
                for a in sub {
                    add(a, &mut list);
                }
            }
        }
    }
    path.pop();
    if depth > MAX_DEPTH {
        return Err(Error::Config(format!(
            "{file}:{}: alias {}: nested more than {MAX_DEPTH} levels deep \
             (sendmail's limit; a loop?)",
            entry.line, entry.name
        )));
    }
    memo.insert(key.to_owned(), (list, depth));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Status as _;

    fn ok(text: &str) -> Aliases {
        parse(text, "al").unwrap()
    }

    fn err(text: &str) -> String {
        let e = parse(text, "al").unwrap_err();
        assert_eq!(e.exit_code(), 78, "{e}");
        e.to_string()
    }

    #[test]
    fn entries_comments_continuations_and_case() {
        let a = ok("# the admins\n\
             \n\
             Root: admin@example.org, # trailing comment\n\
             \tops@example.org,\n\
             # a comment line inside an entry\n  \
             more@example.org\n\
             hash: a#b@example.org\n");
        assert!(a.warnings().is_empty(), "{:?}", a.warnings());
        let want = ["admin@example.org", "ops@example.org", "more@example.org"];
        assert_eq!(a.expand("root"), want);
        assert_eq!(a.expand("ROOT"), want);
        assert!(a.contains("rOOt"));
        assert_eq!(a.expand("hash"), ["a#b@example.org"]);
        // No entry, no default: the name as it is; an address never.
        assert_eq!(a.expand("bob"), ["bob"]);
        assert_eq!(a.expand("root@example.net"), ["root@example.net"]);
    }

    #[test]
    fn default_stands_for_every_other_local_name() {
        let a = ok("root: r@x.example\ndefault: catchall@x.example\n");
        assert_eq!(a.expand("root"), ["r@x.example"]);
        assert_eq!(a.expand("www-data"), ["catchall@x.example"]);
        assert_eq!(a.expand("w@y.example"), ["w@y.example"]);
        // A name default's list gives stays as it is: no loop.
        let a = ok("default: ops\n");
        assert_eq!(a.expand("cron"), ["ops"]);
    }

    #[test]
    fn expansion_is_recursive_keeps_self_references_and_removes_duplicates() {
        let a = ok("root: admin, admin@X.EXAMPLE\n\
             admin: admin, bob, admin@x.example\n\
             bob: bob@y.example, \\root\n");
        // admin keeps itself (sendmail's `admin: admin, bob`); \root is
        // not expanded again; admin@x.example once whatever the case of
        // its domain (a local part's case may matter: RFC 5321 §2.4).
        assert_eq!(
            a.expand("root"),
            ["admin", "bob@y.example", "root", "admin@x.example"]
        );
        assert_eq!(
            a.expand("admin"),
            ["admin", "bob@y.example", "root", "admin@x.example"]
        );
    }

    #[test]
    fn loops_and_deep_chains_are_config_errors_naming_the_alias() {
        let e = err("a: b\nb: c@x.example, a\n");
        assert!(e.starts_with("al:1: alias a: loop: a → b → a"), "{e}");
        // Ten levels are allowed (sendmail's limit), eleven are not.
        let chain = |n: usize| {
            let mut t: String = (1..n).map(|i| format!("a{i}: a{}\n", i + 1)).collect();
            t.push_str(&format!("a{n}: end@x.example\n"));
            t
        };
        let a = ok(&chain(MAX_DEPTH));
        assert_eq!(a.expand("a1"), ["end@x.example"]);
        let e = err(&chain(MAX_DEPTH + 1));
        assert!(e.contains("alias a1: nested more than 10 levels"), "{e}");
    }

    #[test]
    fn delivery_agent_entries_are_skipped_with_one_warning() {
        let a = ok(
            "root: |/usr/bin/procmail, \"/var/log/root mail\", r@x.example\n\
             list: :include:/etc/list\n\
             pipe: \"|/bin/x a,b\"\n\
             default: d@x.example\n",
        );
        let warnings = a.warnings();
        assert_eq!(a.expand("root"), ["r@x.example"]);
        // Nothing left: as if not there (default, else the name).
        assert_eq!(a.expand("list"), ["d@x.example"]);
        assert_eq!(a.expand("pipe"), ["d@x.example"]);
        assert!(!a.contains("list"));
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0]
                .starts_with("al:1: root: skipped |/usr/bin/procmail, \"/var/log/root mail\" "),
            "{warnings:?}"
        );
        assert!(!warnings[0].contains("no address left"), "{warnings:?}");
        assert!(
            warnings[1].starts_with("al:2: list: skipped :include:/etc/list")
                && warnings[1].contains("no address left"),
            "{warnings:?}"
        );
        let a = ok("root: |/bin/x\n");
        assert_eq!(a.expand("root"), ["root"]);
    }

    #[test]
    fn malformed_lines_are_errors_with_file_and_line() {
        for (text, want) in [
            ("root admin@x.example\n", "al:1: want NAME: ADDRESS"),
            ("# c\n  admin@x.example\n", "al:2: continuation line"),
            (
                "a: x@y.example\nA: z@y.example\n",
                "al:2: A: given twice (first on line 1)",
            ),
            ("a: x@y.example\nb:\n", "al:2: b: no address"),
            (
                "a: x@y.example z@y.example\n",
                "al:1: a: \"x@y.example z@y.example\": not an address",
            ),
            (
                "a: <x@y.example>\n",
                "al:1: a: \"<x@y.example>\": not an address",
            ),
            (
                "a@b.example: x@y.example\n",
                "al:1: \"a@b.example\": not a local name",
            ),
            (": x@y.example\n", "al:1: \"\": not a local name"),
            ("a: \"|/bin/x\n", "al:1: a: unterminated quote"),
            (
                "a: \\x@y.example\n",
                "al:1: a: \"\\\\x@y.example\": not an address",
            ),
        ] {
            let e = err(text);
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn load_reads_a_bounded_utf8_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aliases");
        std::fs::write(&path, "root: r@x.example\n").unwrap();
        let a = load(&path).unwrap();
        assert_eq!(a.expand("root"), ["r@x.example"]);
        std::fs::write(&path, b"root: r@x.example\nbad: \xff\n").unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert_eq!(e, format!("{}:2: not UTF-8", path.display()));
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(MAX_ALIASES_FILE + 1).unwrap();
        let e = load(&path).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
        let e = load(&dir.path().join("missing")).unwrap_err();
        assert_eq!(e.exit_code(), 78);
        assert!(e.to_string().contains("missing"), "{e}");
    }
}
