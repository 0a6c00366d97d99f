//! sendmail compatibility of the command line: `-oi`, `-bs`, `-V ENVID`
//! and the no-op options rewritten for clap, and whether we run as
//! `sendmail` (then a lone `.` line ends the message unless `-i`).

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// sendmail options accepted and ignored, as they are written on a command
/// line (`-oi` is not here: it means `-i`). `-B` (body type) is also
/// accepted and ignored, by the command line parser, since the body type is
/// found by scanning the message.
pub const SENDMAIL_NOOPS: &[&str] = &["-odi", "-odb", "-oem", "-oep", "-em", "-ep", "-bm"];

/// Normalises a sendmail-style command line for clap: `-oi` becomes `-i`;
/// `-V ENVID` (or `-VENVID`) becomes `--envid` (a `-V` with nothing after
/// it stays `--version`); the no-op options of [`SENDMAIL_NOOPS`] are
/// dropped. (`-N` and `-R` are short options of their own.) Arguments after
/// `--`, and the value after an option of `cli` that takes one (`-f -oi`
/// keeps `-oi` as the sender), are left alone. `argv[0]` is kept.
///
/// clap cannot parse these itself: `-oi` would be read as a cluster of the
/// short options `-o` and `-i`.
pub fn sendmail_args(
    argv: impl IntoIterator<Item = OsString>,
    cli: &clap::Command,
) -> Vec<OsString> {
    let mut valued: Vec<String> = Vec::new();
    for arg in cli.get_arguments() {
        if arg.is_positional() || !arg.get_action().takes_values() {
            continue;
        }
        for s in arg
            .get_short()
            .into_iter()
            .chain(arg.get_all_short_aliases().unwrap_or_default())
        {
            valued.push(format!("-{s}"));
        }
        for l in arg
            .get_long()
            .into_iter()
            .chain(arg.get_all_aliases().unwrap_or_default())
        {
            valued.push(format!("--{l}"));
        }
    }
    let mut out = Vec::new();
    let mut args = argv.into_iter().collect::<Vec<_>>().into_iter();
    if let Some(argv0) = args.next() {
        // `mailq` is sendmail -bp (issue 14).
        let mailq = Path::new(&argv0).file_name() == Some(OsStr::new("mailq"));
        out.push(argv0);
        if mailq {
            out.push("--queue-list".into());
        }
    }
    let mut value_next = false;
    let mut rest = false;
    while let Some(arg) = args.next() {
        if rest || value_next {
            value_next = false;
            out.push(arg);
            continue;
        }
        let Some(s) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if s == "--" {
            rest = true;
        } else if s == "-oi" {
            out.push("-i".into());
            continue;
        } else if s == "-bs" {
            // sendmail's "SMTP on stdin/stdout" (clap: one-letter shorts only).
            out.push("--bs".into());
            continue;
        } else if s == "-q" || s == "-qf" {
            // Run the queue once (cron's `sendmail -q`); -qf: in the
            // foreground, which is how smtp-send always runs.
            out.push("--queue-run".into());
            continue;
        } else if s == "-bp" {
            out.push("--queue-list".into());
            continue;
        } else if let Some(id) = s.strip_prefix("-V")
            && (!id.is_empty() || args.len() > 0)
        {
            // sendmail -V ENVID (RFC 3461 ENVID); a lone -V at the end
            // stays clap's --version.
            if id.is_empty() {
                out.push("--envid".into());
                value_next = true;
            } else {
                out.push(format!("--envid={id}").into());
            }
            continue;
        } else if SENDMAIL_NOOPS.contains(&s) {
            continue;
        } else if valued.iter().any(|v| v == s) {
            value_next = true;
        }
        out.push(arg);
    }
    out
}

/// Whether the program was invoked as `sendmail` (`argv[0]`'s file name):
/// then a line with a single `.` ends the input unless `-i` is given.
pub fn invoked_as_sendmail(argv0: &OsStr) -> bool {
    Path::new(argv0).file_name() == Some(OsStr::new("sendmail"))
}

/// Whether the program was invoked as `newaliases`, which has nothing to do
/// here: there is no alias database to rebuild.
pub fn invoked_as_newaliases(argv0: &OsStr) -> bool {
    Path::new(argv0).file_name() == Some(OsStr::new("newaliases"))
}

#[cfg(test)]
mod tests {
    use super::*;
    fn cli() -> clap::Command {
        clap::Command::new("smtp-send")
            .arg(
                clap::Arg::new("from")
                    .short('f')
                    .long("from")
                    .short_alias('r'),
            )
            .arg(
                clap::Arg::new("i")
                    .short('i')
                    .action(clap::ArgAction::SetTrue),
            )
            .arg(clap::Arg::new("user").long("user"))
            .arg(clap::Arg::new("notify").short('N').long("notify"))
            .arg(clap::Arg::new("rcpt").num_args(0..))
    }

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn sendmail_args_normalises_and_drops_no_ops() {
        let cases: &[(&[&str], &[&str])] = &[
            (&["sendmail", "-oi", "a@b"], &["sendmail", "-i", "a@b"]),
            (&["x", "-oem", "-oi", "-odi", "-t"], &["x", "-i", "-t"]),
            (
                &["x", "-odb", "-oep", "-em", "-ep", "-bm", "a@b"],
                &["x", "a@b"],
            ),
            // mutt's default: sendmail -oem -oi
            (&["x", "-oem", "-oi"], &["x", "-i"]),
            // a value of an option is left alone
            (&["x", "-f", "-oi", "a@b"], &["x", "-f", "-oi", "a@b"]),
            (&["x", "-r", "-oem"], &["x", "-r", "-oem"]),
            (
                &["x", "--user", "-oi", "-oi"],
                &["x", "--user", "-oi", "-i"],
            ),
            (&["x", "--user=-oi", "-oi"], &["x", "--user=-oi", "-i"]),
            // after --, everything is an operand
            (&["x", "--", "-oi"], &["x", "--", "-oi"]),
            // unknown -o options go on to clap, which refuses them
            (&["x", "-oX"], &["x", "-oX"]),
            // sendmail -V ENVID; a lone -V is --version
            (&["x", "-V", "id1", "a@b"], &["x", "--envid", "id1", "a@b"]),
            (&["x", "-Vid1", "a@b"], &["x", "--envid=id1", "a@b"]),
            (&["x", "-V"], &["x", "-V"]),
            (&["x", "-f", "-V", "a@b"], &["x", "-f", "-V", "a@b"]),
            (&["x", "-N", "-oi"], &["x", "-N", "-oi"]),
            // the queue verbs (issue 14)
            (&["sendmail", "-q"], &["sendmail", "--queue-run"]),
            (&["sendmail", "-qf"], &["sendmail", "--queue-run"]),
            (&["sendmail", "-bp"], &["sendmail", "--queue-list"]),
            (&["/usr/bin/mailq"], &["/usr/bin/mailq", "--queue-list"]),
            (&["x", "-f", "-q"], &["x", "-f", "-q"]),
        ];
        for (input, want) in cases {
            assert_eq!(sendmail_args(args(input), &cli()), args(want), "{input:?}");
        }
    }

    #[test]
    fn sendmail_name() {
        assert!(invoked_as_sendmail(OsStr::new("/usr/sbin/sendmail")));
        assert!(invoked_as_sendmail(OsStr::new("sendmail")));
        assert!(!invoked_as_sendmail(OsStr::new("smtp-send")));
        assert!(!invoked_as_sendmail(OsStr::new(
            "/usr/sbin/sendmail.postfix"
        )));
    }
}
