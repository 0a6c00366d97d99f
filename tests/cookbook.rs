//! The README's Install section and Cookbook, run as written; the man
//! pages render without warnings; the mistakes a newcomer makes first get
//! one line that says what happened and what to do.
//!
//! Cookbook recipes are the fenced blocks under `## Cookbook` in README.md
//! whose first line is `# recipe: NAME` (`; recipe: NAME` in an ini block).
//! `sh` blocks run with `sh -eu` in a scratch directory, with
//! `$SMTP_SERVER` pointing at a real `smtp-recv` on a free loopback port,
//! `$HOME` at a scratch directory, and `sendmail` on PATH being a symlink to
//! smtp-send (what `make install-sendmail-link` makes); then what smtp-recv
//! stored is checked. The mutt and PHP recipes are configuration text: their
//! command lines are run the way mutt and PHP run them, with `--dry-run`
//! appended, since neither program is installed here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::man::binaries;
use crate::peers::*;
use crate::util::*;

const README: &str = include_str!("../README.md");

/// One fenced block of the Cookbook section.
struct Recipe {
    name: String,
    lang: String,
    body: String,
}

/// The recipes of README.md's `## Cookbook` section, in order.
fn recipes() -> Vec<Recipe> {
    let start = README
        .find("\n## Cookbook\n")
        .expect("README has ## Cookbook");
    let section = &README[start + 1..];
    let section = &section[..section[1..].find("\n## ").map_or(section.len(), |e| e + 1)];
    let mut out = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        let Some(lang) = line.strip_prefix("```") else {
            continue;
        };
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let marker = body.first().and_then(|l| {
            l.strip_prefix("# recipe: ")
                .or_else(|| l.strip_prefix("; recipe: "))
        });
        match marker {
            Some(name) => out.push(Recipe {
                name: name.trim().to_owned(),
                lang: lang.to_owned(),
                body: body[1..].join("\n") + "\n",
            }),
            // Only the unlabelled block (the `export SMTP_SERVER` line) may
            // go without a marker: every command block is a tested recipe.
            None => assert!(lang.is_empty(), "a ```{lang} block without # recipe:"),
        }
    }
    out
}

/// What `recv` stored: the messages, oldest first, and the envelopes, as
/// JSON text lines.
fn stored(recv: &Recv) -> (Vec<String>, Vec<String>) {
    let env = std::fs::read_to_string(recv.dir().join("env.json")).unwrap_or_default();
    (recv.texts(), env.lines().map(str::to_owned).collect())
}

/// The scratch directories of one recipe: `work` is its current directory,
/// with the files the recipes name.
struct Scratch {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    work: PathBuf,
    home: PathBuf,
    sbin: PathBuf,
}

const PDF: &[u8] = b"%PDF-1.4\n% not a real report\n\x00\x01\x02\xff\xfe\n%%EOF\n";
const CSV: &str = "region,sales\nnorth,12\nsouth,7\n";
const SUMMARY: &str = "Sales were up this week.\nDetails attached.\n";

fn scratch() -> Scratch {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().to_owned();
    let (work, home, sbin) = (root.join("work"), root.join("home"), root.join("sbin"));
    for d in [&work, &home, &sbin] {
        std::fs::create_dir(d).expect("mkdir");
    }
    std::os::unix::fs::symlink(bin("smtp-send"), sbin.join("sendmail")).expect("symlink");
    std::fs::write(work.join("summary.txt"), SUMMARY).expect("write");
    std::fs::write(work.join("report.pdf"), PDF).expect("write");
    std::fs::write(work.join("sales.csv"), CSV).expect("write");
    // saved.eml: a message with an encoded Subject and an attachment under
    // a non-ASCII name, as a mail program would have saved it.
    std::fs::write(work.join("Übersicht.pdf"), PDF).expect("write");
    let r = run_in(
        &work,
        "mime-build",
        &[
            "-f",
            "Zoë <zoe@example.org>",
            "-t",
            "bob@example.org",
            "-s",
            "Grüße aus Köln",
            "--text",
            "summary.txt",
            "Übersicht.pdf",
        ],
    );
    std::fs::write(work.join("saved.eml"), r.ok()).expect("write");
    std::fs::remove_file(work.join("Übersicht.pdf")).expect("rm");
    Scratch {
        _tmp: tmp,
        root,
        work,
        home,
        sbin,
    }
}

fn run_in(dir: &Path, name: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin(name));
    cmd.args(args).current_dir(dir);
    run_cmd(cmd, b"")
}

/// Runs a recipe's shell text the way a user would paste it.
fn run_sh(s: &Scratch, server: &str, script: &str) -> Run {
    let bin_dir = bin("smtp-send").parent().expect("bin dir").to_owned();
    let path = std::env::join_paths([bin_dir, s.sbin.clone()].into_iter().chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH");
    let mut cmd = Command::new("sh");
    cmd.args(["-eu", "-c", script])
        .current_dir(&s.work)
        .env("PATH", path)
        .env("HOME", &s.home)
        .env("SMTP_SERVER", server)
        .env_remove("SMTP_USER")
        .env_remove("SMTP_PASSWORD")
        .env_remove("XDG_CONFIG_HOME")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    run_cmd_within(cmd, Duration::from_secs(60), b"")
}

/// The value of `key = "value"` (ini) or `set key="value"` (muttrc).
fn config_value(body: &str, key: &str) -> String {
    body.lines()
        .find_map(|l| {
            let l = l.trim().strip_prefix("set ").unwrap_or(l.trim());
            let rest = l.strip_prefix(key)?.trim_start().strip_prefix('=')?;
            Some(rest.trim().trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| panic!("no {key} in {body}"))
}

fn git_send_email_installed(test: &str) -> bool {
    let exec = Command::new("git").arg("--exec-path").output();
    let found = exec.is_ok_and(|o| {
        Path::new(String::from_utf8_lossy(&o.stdout).trim())
            .join("git-send-email")
            .exists()
    });
    if !found {
        absent(test, "git send-email", "scripts/test installs git-email");
    }
    found
}

/// Each recipe: what it must have done.
#[test]
fn cookbook_recipes_run_as_written() {
    let all = recipes();
    let names: BTreeSet<&str> = all.iter().map(|r| r.name.as_str()).collect();
    let known = [
        "cron-mailto",
        "cron-pipe",
        "mutt",
        "git-send-email",
        "php",
        "report",
        "catch",
        "retry",
        "extract",
        "subject",
        "queue",
        "accounts",
        "providers",
        "sendmail",
        "sendmail-aliases",
        "sendmail-cron",
        "dkim",
    ];
    assert_eq!(
        names,
        known.into_iter().collect(),
        "README recipes and this test's checks differ"
    );
    for r in &all {
        let t = format!("cookbook_recipes_run_as_written ({})", r.name);
        match r.lang.as_str() {
            "sh" => {}
            "muttrc" | "ini" => {
                check_config_recipe(r);
                continue;
            }
            "toml" if r.name == "sendmail" => {
                check_sendmail_recipes(&all);
                continue;
            }
            "toml" => {
                check_provider_accounts(r);
                continue;
            }
            // The aliases file and the crontab line of the sendmail recipe.
            "text" | "crontab" => continue,
            other => panic!("{}: block language {other:?}", r.name),
        }
        if r.name == "git-send-email" && !git_send_email_installed(&t) {
            continue;
        }
        let s = scratch();
        let extra: &[&str] = match r.name.as_str() {
            // Offline: the first connection is turned away with 421, as a
            // server that is not there would be (a temporary failure).
            "queue" => &["--reply-once", "connect=421 4.3.2 offline"],
            _ => &[],
        };
        let recv = Recv::start(extra);
        if r.name == "git-send-email" {
            git_repo(&s);
        }
        let out = run_sh(&s, &recv.server(), &r.body);
        assert_eq!(
            out.code,
            0,
            "{}: exit {}\nstdout: {}\nstderr: {}",
            r.name,
            out.code,
            out.stdout_str(),
            out.stderr
        );
        let stdout = out.stdout_str();
        let (msgs, envs) = stored(&recv);
        let ctx = format!("{}: {msgs:?} {envs:?} {stdout}", r.name);
        match r.name.as_str() {
            "cron-mailto" => {
                assert_eq!(msgs.len(), 2, "{ctx}");
                for e in &envs {
                    assert!(e.contains(r#""rcpt_to":["admin@example.org"]"#), "{ctx}");
                }
                assert!(msgs[0].contains("backup done"), "{ctx}");
            }
            "cron-pipe" => {
                assert_eq!(msgs.len(), 1, "{ctx}");
                assert!(
                    envs[0].contains(r#""rcpt_to":["admin@example.org"]"#),
                    "{ctx}"
                );
                assert!(msgs[0].contains("Subject: disk report from "), "{ctx}");
                assert!(msgs[0].contains("load average"), "{ctx}");
            }
            "git-send-email" => {
                assert_eq!(msgs.len(), 1, "{ctx}");
                assert!(envs[0].contains("list@example.org"), "{ctx}");
                assert!(msgs[0].contains("Subject: [PATCH] first change"), "{ctx}");
                assert!(msgs[0].contains("+hello"), "{ctx}");
            }
            "report" => {
                assert_eq!(msgs.len(), 1, "{ctx}");
                assert!(
                    envs[0].contains(r#""rcpt_to":["boss@example.org","team@example.org"]"#),
                    "{ctx}"
                );
                let dir = s.root.join("unpacked");
                let m = s.root.join("m.eml");
                std::fs::write(&m, &msgs[0]).expect("write");
                let u = run(
                    "mime-unpack",
                    &["-x", "-C", dir.to_str().unwrap(), m.to_str().unwrap()],
                    b"",
                );
                u.ok();
                assert_eq!(std::fs::read(dir.join("report.pdf")).expect("pdf"), PDF);
                assert_eq!(std::fs::read_to_string(dir.join("sales.csv")).unwrap(), CSV);
            }
            "catch" => {
                // The recipe's own receiver; its own checks ran under -e.
                assert_eq!(
                    std::fs::read_dir(s.work.join("caught/new"))
                        .unwrap()
                        .count(),
                    1
                );
            }
            "retry" => {
                assert!(stdout.contains("first attempt: exit 75"), "{ctx}");
                let caught = std::fs::read_to_string(s.work.join("caught.eml")).unwrap();
                assert!(caught.contains("hello"), "{caught}");
            }
            "extract" => {
                let got = std::fs::read(s.work.join("attachments/Übersicht.pdf"));
                assert_eq!(got.expect("extracted"), PDF, "{ctx}");
                assert!(stdout.contains("application/pdf"), "{ctx}");
                assert!(stdout.contains(SUMMARY), "{ctx}");
            }
            "subject" => {
                assert!(stdout.contains("subject: Grüße aus Köln\n"), "{ctx}");
                assert!(stdout.contains("André Pirard"), "{ctx}");
            }
            "queue" => {
                // Queued at the 421, listed, then delivered by --flush.
                assert!(out.stderr.contains("queued as"), "{ctx} {}", out.stderr);
                assert!(stdout.contains("-> <friend@example.org>"), "{ctx}");
                assert_eq!(msgs.len(), 1, "{ctx}");
                assert!(msgs[0].contains("Subject: written on the train"), "{ctx}");
            }
            "accounts" => {
                assert_eq!(msgs.len(), 1, "{ctx}");
                assert!(envs[0].contains("me@work.example"), "{ctx}");
                assert!(envs[0].contains("boss@work.example"), "{ctx}");
                assert!(msgs[0].contains("Subject: from the work account"), "{ctx}");
                // --print-config names the account the server came from.
                assert!(stdout.contains("# account work, "), "{ctx}");
            }
            "dkim" => {
                // Signed, checked against the record, sent as signed.
                assert!(stdout.contains("dkim=pass header.d=example.org"), "{ctx}");
                assert!(stdout.contains("IN TXT \"v=DKIM1; k=rsa; p="), "{ctx}");
                assert_eq!(msgs.len(), 2, "{ctx}");
                let signed = std::fs::read_to_string(s.work.join("signed.eml")).unwrap();
                assert!(
                    signed.starts_with("DKIM-Signature: v=1; a=rsa-sha256;"),
                    "{signed}"
                );
                // Signed once each: by mime-dkim, then by smtp-send itself;
                // both verify against the record as they arrived.
                for m in &msgs {
                    assert_eq!(m.matches("DKIM-Signature: v=1;").count(), 1, "{ctx}");
                    let file = s.work.join("arrived.eml");
                    std::fs::write(&file, m).unwrap();
                    let r = run(
                        "mime-dkim",
                        &[
                            "verify",
                            "--record",
                            &format!(
                                "mail._domainkey.example.org={}",
                                s.work.join("mail.txt").display()
                            ),
                            file.to_str().unwrap(),
                        ],
                        b"",
                    );
                    r.code(0);
                }
            }
            other => panic!("no check for recipe {other}"),
        }
    }
}

/// A repository with one commit and a committer identity, for git
/// send-email (the recipe itself sets sendemail.sendmailCmd).
fn git_repo(s: &Scratch) {
    std::fs::write(
        s.home.join(".gitconfig"),
        "[user]\n\tname = Dev\n\temail = dev@example.org\n",
    )
    .expect("gitconfig");
    std::fs::write(s.work.join("hello.txt"), "hello\n").expect("write");
    for args in [
        &["init", "-q", "."][..],
        &["add", "hello.txt"],
        &["commit", "-q", "-m", "first change"],
    ] {
        let st = Command::new("git")
            .args(args)
            .current_dir(&s.work)
            .env("HOME", &s.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status()
            .expect("git");
        assert!(st.success(), "git {args:?}");
    }
}

/// mutt and PHP are not installed here: their configuration is checked by
/// running the command line each builds from it, with --dry-run.
fn check_config_recipe(r: &Recipe) {
    // A message as each program writes it on the command's stdin.
    let (argv, stdin, want): (Vec<String>, &[u8], &[&str]) = match r.name.as_str() {
        "mutt" => {
            assert!(r.body.contains("set use_envelope_from=yes"), "{}", r.body);
            // mutt: the value split at spaces, no shell; then `-f FROM --
            // RCPT...` (mutt's sendlib.c, with $use_envelope_from).
            let mut argv: Vec<String> = config_value(&r.body, "sendmail")
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect();
            for a in ["--dry-run", "-f", "me@example.org", "--", "you@example.org"] {
                argv.push(a.to_owned());
            }
            (
                argv,
                b"From: Me <me@example.org>\nTo: you@example.org\nSubject: hi\n\nbody\n",
                &["MAIL FROM:<me@example.org>", "RCPT TO:<you@example.org>"],
            )
        }
        "php" => {
            // PHP: popen(sendmail_path), i.e. sh -c; To: and Subject: in the
            // message, From: only when the script adds it.
            let cmd = config_value(&r.body, "sendmail_path") + " --dry-run";
            (
                vec!["sh".into(), "-c".into(), cmd],
                b"To: you@example.org\nSubject: hi\nX-PHP-Originating-Script: 0:a.php\n\nbody\n",
                &["MAIL FROM:<www@example.org>", "RCPT TO:<you@example.org>"],
            )
        }
        other => panic!("no check for configuration recipe {other}"),
    };
    let bin_dir = bin("smtp-send").parent().expect("bin dir").to_owned();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).env("PATH", path);
    let out = run_cmd(cmd, stdin);
    assert_eq!(out.code, 0, "{}: {argv:?}: {}", r.name, out.stderr);
    for w in want {
        assert!(
            out.stdout_str().contains(w),
            "{}: {}",
            r.name,
            out.stdout_str()
        );
    }
}

/// The provider guide's accounts (issue 13): the file is a valid
/// configuration, each account resolves to its server and user, and a
/// message prepared through one goes to the right envelope (`--dry-run`:
/// nothing connects, no password is asked for).
fn check_provider_accounts(r: &Recipe) {
    assert_eq!(r.name, "providers");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_file(dir.path(), "config.toml", r.body.as_bytes());
    let config = config.to_str().unwrap();
    for (account, server, user) in [
        (
            "gmail",
            "smtp+starttls://smtp.gmail.com:587",
            "me@gmail.com",
        ),
        (
            "work",
            "smtp+starttls://smtp.office365.com:587",
            "me@work.example",
        ),
        ("fastmail", "smtps://smtp.fastmail.com\"", "me@fastmail.com"),
        ("home", "smtp+starttls://mail.home.example:587", "me"),
    ] {
        let r = crate::send::send(&["--config", config, "-a", account, "--print-config"], b"");
        let shown = r.stdout_str();
        r.code(0);
        assert!(shown.contains(server), "{account}: {shown}");
        assert!(shown.contains(user), "{account}: {shown}");
    }
    // match_from chooses gmail for a gmail sender.
    let r = crate::send::send(
        &["--config", config, "--dry-run", "-t"],
        b"From: me@gmail.com\nTo: you@example.org\nSubject: hi\n\nbody\n",
    );
    let wire = r.stdout_str();
    r.code(0);
    assert!(wire.starts_with("MAIL FROM:<me@gmail.com>"), "{wire}");
    assert!(wire.contains("RCPT TO:<you@example.org>"), "{wire}");
}

/// The server's-sendmail recipes (issue 14): the system-wide file, the
/// aliases file and the crontab line, installed under a scratch root in
/// place of `/etc` and `/var` (the same text, the paths moved) with the
/// relay replaced by a TLS smtp-recv that asks for the password. A cron job
/// mails `root` while the relay is away: queued, listed by `mailq`; the
/// crontab's command then delivers it to the alias's address, and the log
/// says both, without the password.
fn check_sendmail_recipes(all: &[Recipe]) {
    let body = |name: &str| {
        &all.iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no recipe {name}"))
            .body
    };
    let s = scratch();
    let root = s.root.to_str().unwrap();
    let c = certs();
    let users = write_file(&s.root, "users", b"alerts@example.org:s3cret-pw\n");
    let recv = Recv::start(
        &[
            &c.recv_args()[..],
            &["--auth-file", users.to_str().unwrap()],
            &["--reply-once", "connect=421 4.3.2 away"],
        ]
        .concat(),
    );
    let moved = |text: &str| {
        text.replace("/etc/", &format!("{root}/etc/"))
            .replace("/var/", &format!("{root}/var/"))
    };
    let config = moved(body("sendmail")).replace(
        "server = \"smtp+starttls://relay.example.org:587\"",
        &format!(
            "server = \"smtp+starttls://{}\"\nca_file = \"{}\"",
            recv.server(),
            c.cert.display()
        ),
    );
    assert!(
        config.contains("ca_file"),
        "the recipe's server line changed: {config}"
    );
    let etc = s.root.join("etc/mailpipe");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(s.root.join("var/log")).unwrap();
    std::fs::write(etc.join("config.toml"), &config).unwrap();
    std::fs::write(etc.join("aliases"), body("sendmail-aliases")).unwrap();
    let pw = write_file(&etc, "password", b"s3cret-pw\n");
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let cron_line = body("sendmail-cron")
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .expect("a crontab line");
    // Five time fields and the user, then the command.
    let command: Vec<&str> = cron_line.split_whitespace().skip(6).collect();
    assert_eq!(command.first(), Some(&"sendmail"), "{cron_line}");
    // As cron runs a job: no HOME of ours, no SMTP_* settings.
    let as_cron = |argv: &[&str], stdin: &[u8]| {
        let mut cmd = Command::new(s.sbin.join(argv[0]));
        crate::send::isolated(cmd.args(&argv[1..]))
            .env("MAILPIPE_SYSCONFDIR", s.root.join("etc"))
            .env("HOME", &s.home)
            .current_dir(&s.work);
        run_cmd(cmd, stdin)
    };
    let job =
        b"From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> backup.sh\n\nbackup done\n";
    let r = as_cron(&["sendmail", "-i", "-FCronDaemon", "-oem", "-t"], job);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("421") && r.stderr.contains("queued as"),
        "{}",
        r.stderr
    );
    std::os::unix::fs::symlink(bin("smtp-send"), s.sbin.join("mailq")).unwrap();
    let listed = as_cron(&["mailq"], b"");
    assert!(
        listed.stdout_str().contains("<admin@example.org>"),
        "{}",
        listed.stdout_str()
    );
    assert!(
        listed.stdout_str().contains("421"),
        "{}",
        listed.stdout_str()
    );
    // Ten minutes later, as far as the queue can tell: the message was
    // queued (and tried) an hour ago, so the cron run finds it due.
    age_queue(&s.root.join("var/spool/mailpipe"), 3600);
    let r = as_cron(&command, b"");
    assert_eq!(r.code, 0, "{command:?}: {}", r.stderr);
    let envs = recv.envelopes();
    assert_eq!(envs.len(), 1, "{envs:?}");
    assert_eq!(envs[0]["rcpt_to"], serde_json::json!(["admin@example.org"]));
    let text = &recv.texts()[0];
    assert!(
        text.lines().any(|l| l.trim_end() == "To: root"),
        "the header is kept: {text}"
    );
    let log = std::fs::read_to_string(s.root.join("var/log/mailpipe.log")).expect("the log");
    assert!(log.contains("queued") && log.contains("delivered"), "{log}");
    assert!(log.contains("rcpt=<admin@example.org>"), "{log}");
    assert!(
        !log.contains("s3cret") && !log.contains("backup.sh"),
        "{log}"
    );
}

/// Moves the creation time of every message queued in `q` `secs` into the
/// past (a queue file's `created` line; no state file yet: its one attempt
/// was at that time).
fn age_queue(q: &Path, secs: u64) {
    for e in std::fs::read_dir(q).expect("the queue").flatten() {
        let p = e.path();
        if !p.is_file() || p.extension().is_some_and(|x| x == "state") {
            continue;
        }
        let text = std::fs::read(&p).unwrap();
        let head_end = text.windows(2).position(|w| w == b"\n\n").unwrap();
        let head = String::from_utf8(text[..head_end].to_vec()).unwrap();
        let aged: Vec<String> = head
            .lines()
            .map(|l| match l.strip_prefix("created ") {
                Some(t) => format!("created {}", t.parse::<u64>().unwrap() - secs),
                None => l.to_owned(),
            })
            .collect();
        let mut out = aged.join("\n").into_bytes();
        out.extend_from_slice(&text[head_end..]);
        std::fs::write(&p, out).unwrap();
    }
}

// ---------------------------------------------------------------- install

/// `make install BIN=target/debug PREFIX=tmp` (the documented way to install
/// already built binaries, so CI builds nothing twice) places every file
/// where man and the shells look, and `make uninstall` removes them.
#[test]
fn make_install_places_binaries_man_pages_and_completions() {
    let Some(make) = peer(
        "make",
        "make_install_places_binaries_man_pages_and_completions",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let prefix = tmp.path().join("usr");
    let bin_dir = bin("smtp-send").parent().expect("bin dir").to_owned();
    let make_run = |target: &str| {
        let mut cmd = Command::new(&make);
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("-s")
            .arg(target)
            .arg(format!("PREFIX={}", prefix.display()))
            .arg(format!("BIN={}", bin_dir.display()));
        run_cmd_within(cmd, Duration::from_secs(120), b"")
    };
    let r = make_run("install");
    assert_eq!(r.code, 0, "make install: {}", r.stderr);
    let tools = binaries();
    assert_eq!(tools.len(), 10);
    for t in &tools {
        for f in [
            format!("bin/{t}"),
            format!("share/man/man1/{t}.1"),
            format!("share/bash-completion/completions/{t}"),
            format!("share/zsh/site-functions/_{t}"),
            format!("share/fish/vendor_completions.d/{t}.fish"),
        ] {
            let p = prefix.join(&f);
            assert!(p.is_file(), "{f} not installed");
            assert!(std::fs::metadata(&p).unwrap().len() > 0, "{f} empty");
        }
        let zsh = std::fs::read_to_string(prefix.join(format!("share/zsh/site-functions/_{t}")));
        assert!(zsh.unwrap().starts_with(&format!("#compdef {t}")));
    }
    assert!(prefix.join("share/man/man7/mailpipe.7").is_file());
    // The installed binary runs.
    let v = Command::new(prefix.join("bin/mime-hdr"))
        .arg("--version")
        .output()
        .expect("run installed mime-hdr");
    assert!(v.status.success());

    // man finds the pages in the installed tree (man-db; else mandoc).
    let man_dir = prefix.join("share/man");
    if let Some(man) = peer(
        "man",
        "make_install_places_binaries_man_pages_and_completions",
    ) {
        for (sect, page) in [("1", "smtp-send"), ("7", "mailpipe")] {
            let out = Command::new(&man)
                .arg("-M")
                .arg(&man_dir)
                .args([sect, page])
                .env("MANPAGER", "cat")
                .env("MANWIDTH", "80")
                .output()
                .expect("man");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "man {page}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(text.contains("NAME") || text.contains("N\x08NA"), "{text}");
        }
    } else if let Some(mandoc) = peer(
        "mandoc",
        "make_install_places_binaries_man_pages_and_completions",
    ) {
        let out = Command::new(mandoc)
            .arg("-M")
            .arg(&man_dir)
            .args(["-a", "-T", "ascii", "smtp-send"])
            .output()
            .expect("mandoc");
        assert!(out.status.success());
    }

    // bash finds the completion: through bash-completion's loader when it
    // is installed (it looks in $XDG_DATA_DIRS/bash-completion), else by
    // sourcing the installed file.
    let loader = Path::new("/usr/share/bash-completion/bash_completion");
    let script = if loader.exists() {
        format!(
            ". {}; __load_completion mime-hdr; complete -p mime-hdr",
            loader.display()
        )
    } else {
        skipped("make_install...: bash-completion is not installed: sourcing the file instead");
        format!(
            ". {}/share/bash-completion/completions/mime-hdr; complete -p mime-hdr",
            prefix.display()
        )
    };
    let out = Command::new("bash")
        .args(["-c", &script])
        .env("XDG_DATA_DIRS", prefix.join("share"))
        .output()
        .expect("bash");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("mime-hdr"),
        "{text} {out:?}"
    );

    // The sendmail link only on request, never over an existing one.
    let r = make_run("install-sendmail-link");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let link = std::fs::read_link(prefix.join("sbin/sendmail")).expect("link");
    assert_eq!(link, prefix.join("bin/smtp-send"));
    let r = make_run("install-sendmail-link");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("exists: remove it"), "{}", r.stderr);

    let r = make_run("uninstall");
    assert_eq!(r.code, 0, "make uninstall: {}", r.stderr);
    let left: Vec<_> = walk(&prefix).into_iter().filter(|p| !p.is_dir()).collect();
    assert!(left.is_empty(), "left after uninstall: {left:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten() {
        let p = e.expect("entry").path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

// ---------------------------------------------------------------- man -l

/// `man -l man/*.1` (man-db's troff) renders every page without a warning.
#[test]
fn man_pages_render_without_warnings() {
    let Some(man) = peer("man", "man_pages_render_without_warnings") else {
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("man/")
        .map(|e| e.expect("entry").path())
        .collect();
    pages.sort();
    assert!(pages.len() >= 9);
    for page in pages {
        for width in ["80", "66"] {
            let out = Command::new(&man)
                .args(["--warnings", "-l", "-Tutf8"])
                .arg(&page)
                .env("MANWIDTH", width)
                .env("MANPAGER", "cat")
                .output()
                .expect("man");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{}: {err}", page.display());
            assert!(err.is_empty(), "{} at width {width}: {err}", page.display());
            assert!(!out.stdout.is_empty());
        }
    }
}

// ---------------------------------------------------------------- errors

/// The first mistakes: one line, `prog: `, what happened and what to do,
/// the exit status the man page promises (before/after in the lead's note).
#[test]
fn first_mistakes_say_what_to_do() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let msg = b"From: a@example.org\nTo: b@example.net\nSubject: x\n\nhi\n";

    // smtp-send: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let server = format!("127.0.0.1:{port}");
    let r = run("smtp-send", &["-S", &server, "-t"], msg);
    r.code(75).one_line_error("smtp-send");
    assert!(r.stderr.contains("connection refused"), "{}", r.stderr);
    assert!(
        r.stderr.contains("check -S or $SMTP_SERVER"),
        "{}",
        r.stderr
    );

    // smtp-send: no server configured.
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.arg("-t")
        .env_remove("SMTP_SERVER")
        .env("HOME", tmp.path())
        .env("XDG_CONFIG_HOME", tmp.path());
    let r = run_cmd(cmd, msg);
    r.code(78).one_line_error("smtp-send");
    assert!(
        r.stderr.contains("use -S SERVER or set SMTP_SERVER"),
        "{}",
        r.stderr
    );

    // smtp-send: a recipient that is not an address.
    let r = run("smtp-send", &["-S", &server, "bob@"], msg);
    r.code(64).one_line_error("smtp-send");
    assert!(r.stderr.contains("(write user@example.org"), "{}", r.stderr);

    // smtp-send: an untrusted certificate names itself and the way to trust it.
    let recv = Recv::start(&["--tls-self-signed", "--auth-any"]);
    let url = format!("smtp+starttls://{}", recv.addr);
    let r = run("smtp-send", &["-S", &url, "-t"], msg);
    r.code(77).one_line_error("smtp-send");
    assert!(r.stderr.contains("(got SHA256:"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("to trust it: --tls-fingerprint or --ca-file"),
        "{}",
        r.stderr
    );

    // smtp-send: a missing password file, without "(os error 2)".
    let pin = {
        let s = r.stderr.split("(got ").nth(1).unwrap();
        s[..s.find(')').unwrap()].to_owned()
    };
    let r = run(
        "smtp-send",
        &[
            "-S",
            &url,
            "--tls-fingerprint",
            &pin,
            "--user",
            "me",
            "--password-file",
            "/nonexistent/pw",
            "-t",
        ],
        msg,
    );
    r.code(78).one_line_error("smtp-send");
    assert!(
        r.stderr
            .ends_with("password file /nonexistent/pw: No such file or directory\n"),
        "{}",
        r.stderr
    );

    // smtp-recv: the port is taken.
    let r = run("smtp-recv", &["-l", &recv.server(), "-o", "/dev/null"], b"");
    r.code(74).one_line_error("smtp-recv");
    assert!(
        r.stderr
            .contains("Address already in use (another program has that port"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("os error"), "{}", r.stderr);
    drop(recv);

    // mime-build: a recipient that is not an address says what one looks like.
    let r = run(
        "mime-build",
        &["-t", "bob smith", "--text", "/dev/null"],
        b"",
    );
    r.code(64).one_line_error("mime-build");
    assert!(
        r.stderr
            .contains("(write user@example.org or 'Name <user@example.org>')"),
        "{}",
        r.stderr
    );

    // mime-unpack: -C names a file, not a directory.
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let r = run("mime-unpack", &["-x", "-C", file.to_str().unwrap()], msg);
    r.code(74).one_line_error("mime-unpack");
    assert!(
        r.stderr.contains("cannot create the directory"),
        "{}",
        r.stderr
    );
}
