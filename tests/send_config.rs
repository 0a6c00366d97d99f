//! smtp-send's configuration: accounts chosen with `-a` and by `match_from`,
//! the precedence flags > account > environment > `[default]` (each rung
//! seen in `--print-config` and in what smtp-recv received), secrets never
//! printed, errors (78 with file:line: key), `~/.msmtprc`, and
//! `--qualify-domain` for cron's bare names.
//!
//! Every run gets its own HOME and XDG_CONFIG_HOME (temporary directories),
//! so the developer's own files are never read; smtp-recv listens on free
//! loopback ports and every process is killed by a guard.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::peers::*;
use crate::send::isolated;
use crate::util::*;

const PATIENCE: Duration = Duration::from_secs(30);

const MSG: &[u8] = b"From: me@home.example\nTo: you@example.net\nSubject: hi\n\nhello\n";

/// A HOME and an XDG_CONFIG_HOME of its own.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("home")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("home/.config/mailpipe")).expect("mkdir");
        Home { dir }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn xdg(&self) -> PathBuf {
        self.home().join(".config")
    }

    /// Writes $XDG_CONFIG_HOME/mailpipe/config.toml.
    fn config(&self, text: &str) -> PathBuf {
        let p = self.xdg().join("mailpipe/config.toml");
        std::fs::write(&p, text).expect("write config");
        p
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.home().join(rel);
        std::fs::write(&p, text).expect("write");
        p
    }

    /// Runs smtp-send with only `env` of the SMTP_* variables set.
    fn send_env(&self, args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Run {
        let mut cmd = Command::new(bin("smtp-send"));
        cmd.args(args);
        isolated(&mut cmd)
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.xdg());
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_cmd_within(cmd, PATIENCE, stdin)
    }

    fn send(&self, args: &[&str], stdin: &[u8]) -> Run {
        self.send_env(args, &[], stdin)
    }

    fn print_config(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let args = [&["--print-config"][..], args].concat();
        let r = self.send_env(&args, env, b"");
        r.code(0);
        r.stdout_str()
    }
}

/// The `--print-config` line of `key`.
fn line_of<'a>(printed: &'a str, key: &str) -> &'a str {
    printed
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in:\n{printed}"))
}

/// Which of `servers` got the one message sent.
fn who_got(servers: &[&Recv]) -> Vec<usize> {
    servers
        .iter()
        .enumerate()
        .flat_map(|(i, s)| std::iter::repeat_n(i, s.texts().len()))
        .collect()
}

#[test]
fn account_chosen_with_a() {
    let (a, b) = (Recv::start(&[]), Recv::start(&[]));
    let h = Home::new();
    h.config(&format!(
        "[default]\nserver = \"{}\"\n\n[accounts.two]\nserver = \"{}\"\n",
        a.url("smtp+plain"),
        b.url("smtp+plain")
    ));
    h.send(&["x@example.net"], MSG).code(0);
    assert_eq!(who_got(&[&a, &b]), [0]);
    h.send(&["-a", "two", "x@example.net"], MSG).code(0);
    h.send(&["--account", "two", "x@example.net"], MSG).code(0);
    assert_eq!(who_got(&[&a, &b]), [0, 1, 1]);
    let p = h.print_config(&["-a", "two"], &[]);
    assert!(p.contains("# account: two (-a)"), "{p}");
    assert!(line_of(&p, "server").contains("# account two, "), "{p}");
}

#[test]
fn account_chosen_by_match_from() {
    let (a, b) = (Recv::start(&[]), Recv::start(&[]));
    let h = Home::new();
    h.config(&format!(
        "[default]\nserver = \"{}\"\n\n[accounts.work]\nserver = \"{}\"\n\
         match_from = [\"*@work.example\", \"*@corp.example\"]\n",
        a.url("smtp+plain"),
        b.url("smtp+plain")
    ));
    // From the message's From: (read from a pipe, then sent whole).
    let work = b"From: Me <me@Work.example>\nSubject: w\n\nbody\n";
    h.send(&["x@example.net"], work).code(0);
    assert_eq!(who_got(&[&a, &b]), [1]);
    let m = &b.texts()[0];
    assert!(
        m.contains("\nFrom: Me <me@Work.example>\nSubject: w\n"),
        "{m}"
    );
    assert!(m.ends_with("\n\nbody\n"), "{m}");
    // Sender: before From:.
    let sender = b"From: boss@home.example\nSender: me@corp.example\n\nx\n";
    h.send(&["x@example.net"], sender).code(0);
    assert_eq!(who_got(&[&a, &b]), [1, 1]);
    // Not matching: [default].
    h.send(&["x@example.net"], MSG).code(0);
    assert_eq!(who_got(&[&a, &b]), [0, 1, 1]);
    // -f decides before the message.
    h.send(&["-f", "me@work.example", "x@example.net"], MSG)
        .code(0);
    assert_eq!(who_got(&[&a, &b]), [0, 1, 1, 1]);
    // -a wins over match_from.
    h.send(&["-a", "work", "x@example.net"], MSG).code(0);
    assert_eq!(who_got(&[&a, &b]), [0, 1, 1, 1, 1]);
    // A regular file as stdin is read in place, then again to send.
    let file = h.write("work.eml", std::str::from_utf8(work).unwrap());
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.args(["x@example.net"])
        .env("HOME", h.home())
        .env("XDG_CONFIG_HOME", h.xdg())
        .env_remove("SMTP_SERVER")
        .stdin(std::fs::File::open(&file).unwrap());
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(who_got(&[&a, &b]), [0, 1, 1, 1, 1, 1]);
    let p = h.print_config(&["-f", "me@corp.example"], &[]);
    assert!(
        p.contains("# account: work (match_from: me@corp.example)"),
        "{p}"
    );
}

/// One config with a server at every rung; each test removes the rungs
/// above the one it checks.
struct Ladder {
    flag: Recv,
    account: Recv,
    env: Recv,
    default: Recv,
    home: Home,
}

impl Ladder {
    fn new() -> Ladder {
        let l = Ladder {
            flag: Recv::start(&[]),
            account: Recv::start(&[]),
            env: Recv::start(&[]),
            default: Recv::start(&[]),
            home: Home::new(),
        };
        l.home.config(&format!(
            "[default]\nserver = \"{}\"\nhelo = \"default.example\"\n\n\
             [accounts.acct]\nserver = \"{}\"\n",
            l.default.url("smtp+plain"),
            l.account.url("smtp+plain")
        ));
        l
    }

    fn got(&self) -> Vec<usize> {
        who_got(&[&self.flag, &self.account, &self.env, &self.default])
    }

    /// Sends and checks who got it; checks --print-config's origin too.
    fn check(&self, args: &[&str], env: &[(&str, &str)], want: usize, origin: &str) {
        let full = [args, &["x@example.net"][..]].concat();
        self.home.send_env(&full, env, MSG).code(0);
        assert_eq!(self.got(), [want]);
        let p = self.home.print_config(args, env);
        let line = line_of(&p, "server");
        assert!(line.contains(origin), "{line}\n{p}");
    }
}

#[test]
fn precedence_flag_beats_account() {
    let l = Ladder::new();
    let env = [("SMTP_SERVER", l.env.url("smtp+plain"))];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    l.check(
        &["-S", &l.flag.url("smtp+plain"), "-a", "acct"],
        &env,
        0,
        "# command line",
    );
}

#[test]
fn precedence_account_beats_env() {
    let l = Ladder::new();
    let server = l.env.url("smtp+plain");
    l.check(
        &["-a", "acct"],
        &[("SMTP_SERVER", &server)],
        1,
        "# account acct, ~/.config/mailpipe/config.toml:6",
    );
}

#[test]
fn precedence_env_beats_default() {
    let l = Ladder::new();
    let server = l.env.url("smtp+plain");
    l.check(&[], &[("SMTP_SERVER", &server)], 2, "# SMTP_SERVER");
}

#[test]
fn precedence_default_beats_built_in() {
    let l = Ladder::new();
    l.check(&[], &[], 3, "# [default], ~/.config/mailpipe/config.toml:2");
    let p = l.home.print_config(&[], &[]);
    assert!(line_of(&p, "server").contains("# [default], ~/"), "{p}");
    assert!(line_of(&p, "helo").contains("\"default.example\""), "{p}");
    assert!(
        line_of(&p, "connect_timeout").ends_with("# built-in"),
        "{p}"
    );
    assert!(p.contains("# user: not set"), "{p}");
}

#[test]
fn print_config_hides_secrets() {
    let h = Home::new();
    let pw = h.write("pw", "filesecret\n");
    h.config(&format!(
        "[default]\nserver = \"127.0.0.1:1\"\nuser = \"me\"\npassword_file = \"{}\"\n\n\
         [accounts.cmd]\npassword_cmd = \"echo cmdsecret\"\n",
        pw.display()
    ));
    for (args, env) in [
        (&[][..], &[("SMTP_PASSWORD", "envsecret")][..]),
        (&[][..], &[][..]),
        (&["-a", "cmd"][..], &[("SMTP_PASSWORD", "envsecret")][..]),
    ] {
        let full = [&["--print-config"][..], args].concat();
        let r = h.send_env(&full, env, b"");
        r.code(0);
        let all = format!("{}{}", r.stdout_str(), r.stderr);
        for secret in ["envsecret", "filesecret"] {
            assert!(!all.contains(secret), "{all}");
        }
        // The command is shown (it is not the secret), never run.
        if args.is_empty() && !env.is_empty() {
            assert!(
                all.contains("password = (hidden)  # SMTP_PASSWORD"),
                "{all}"
            );
        }
    }
    let p = h.print_config(&["-a", "cmd"], &[]);
    assert!(
        line_of(&p, "password_cmd").contains("\"echo cmdsecret\""),
        "{p}"
    );
}

#[test]
fn config_errors_exit_78_naming_file_line_and_key() {
    let h = Home::new();
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "[default]\nserver = \"x\"\nuser = \n",
            &[],
            "config.toml:3: TOML syntax",
        ),
        (
            "[default]\nuser = \"u\"\n\n[accounts.work]\nserver = \"x\"\n\n\nport = 25\n",
            &[],
            "mailpipe/config.toml:8: accounts.work.port: unknown key",
        ),
        (
            "[default]\nserver = \"x\"\n",
            &["-a", "nope"],
            "unknown account \"nope\"",
        ),
        (
            "[accounts.w]\nserver = \"smtp://h:99999\"\n",
            &[],
            "config.toml:2: accounts.w.server: bad server",
        ),
        (
            "[default]\ntls_insecure = \"yes\"\n",
            &[],
            "config.toml:2: default.tls_insecure",
        ),
        ("\u{1}\u{0}\u{ff}garbage", &[], "config.toml:1: TOML syntax"),
    ];
    for (text, args, want) in cases {
        h.config(text);
        let full = [args, &["x@example.net"][..]].concat();
        let r = h.send(&full, MSG);
        r.code(78).one_line_error("smtp-send");
        assert!(r.stderr.contains(want), "{text:?}: {}", r.stderr);
        assert!(
            r.stderr
                .starts_with("smtp-send: ~/.config/mailpipe/config.toml"),
            "{}",
            r.stderr
        );
        // --print-config reads the same file.
        h.send(&[&["--print-config"][..], args].concat(), b"")
            .code(78);
    }
    // Not UTF-8, too large, a directory.
    std::fs::write(h.xdg().join("mailpipe/config.toml"), b"[default]\n\xff\n").unwrap();
    let r = h.send(&["x@example.net"], MSG);
    r.code(78).one_line_error("smtp-send");
    assert!(r.stderr.contains("line 2: not UTF-8"), "{}", r.stderr);
    h.config(&"# x\n".repeat(300_000));
    h.send(&["x@example.net"], MSG)
        .code(78)
        .one_line_error("smtp-send");
    // A directory, an endless device: one line, 78, no hang.
    for path in [h.home().display().to_string(), "/dev/zero".to_owned()] {
        let r = h.send(&["--config", &path, "x@example.net"], MSG);
        r.code(78).one_line_error("smtp-send");
    }
    // --config FILE must exist; -a with no file at all.
    let r = h.send(&["--config", "/nonexistent/c.toml", "x@example.net"], MSG);
    r.code(78).one_line_error("smtp-send");
    assert!(r.stderr.contains("/nonexistent/c.toml"), "{}", r.stderr);
    std::fs::remove_file(h.xdg().join("mailpipe/config.toml")).unwrap();
    let r = h.send(&["-a", "work", "x@example.net"], MSG);
    r.code(78).one_line_error("smtp-send");
    assert!(r.stderr.contains("no configuration file"), "{}", r.stderr);
    // Bad flag value of ours: usage.
    h.send(&["--qualify-domain", "a b", "x@example.net"], MSG)
        .code(64)
        .one_line_error("smtp-send");
}

#[test]
fn msmtprc_with_two_accounts() {
    let (a, b) = (Recv::start(&[]), Recv::start(&[]));
    let h = Home::new();
    // No mailpipe config: ~/.msmtprc is read.
    std::fs::remove_dir(h.xdg().join("mailpipe")).unwrap();
    h.write(
        ".msmtprc",
        &format!(
            "# msmtp\ndefaults\nlogfile ~/.msmtp.log\ndsn_notify failure\n\n\
             account one\nhost 127.0.0.1\nport {}\nfrom one@one.example\n\n\
             account two\nhost 127.0.0.1\nport {}\nfrom two@two.example\ndomain client.two.example\n\n\
             account default : one\n",
            a.addr.port(),
            b.addr.port()
        ),
    );
    // Found on its own, its unread keys are not warned about on every run
    // (cron would mail that); -v and --print-config name them.
    let r = h.send(&["x@example.net"], MSG);
    r.code(0);
    assert_eq!(r.stderr, "", "quiet on success");
    // msmtp's logfile is read (issue 14): the send is in it.
    let log = std::fs::read_to_string(h.home().join(".msmtp.log")).expect("msmtp's logfile");
    assert!(
        log.contains("event=message") && log.contains("status=delivered"),
        "{log}"
    );
    let r = h.send(&["--print-config"], b"");
    r.code(0);
    assert!(r.stdout_str().contains(".msmtp.log"), "{}", r.stdout_str());
    assert!(
        r.stderr.contains("warning: ~/.msmtprc:4: dsn_notify"),
        "{}",
        r.stderr
    );
    assert_eq!(who_got(&[&a, &b]), [0]);
    h.send(&["-a", "two", "x@example.net"], MSG).code(0);
    assert_eq!(who_got(&[&a, &b]), [0, 1]);
    // msmtp's from is the envelope sender, and chooses the account.
    assert!(
        b.texts()[0].starts_with("Return-Path: <two@two.example>"),
        "{}",
        b.texts()[0]
    );
    h.send(&["-f", "two@two.example", "x@example.net"], MSG)
        .code(0);
    assert_eq!(who_got(&[&a, &b]), [0, 1, 1]);
    let p = h.print_config(&["-a", "two"], &[]);
    assert!(
        line_of(&p, "helo").contains("\"client.two.example\""),
        "{p}"
    );
    assert!(line_of(&p, "server").contains("~/.msmtprc:12"), "{p}");
    // --config names an msmtp file explicitly.
    let rc = h.write(
        "my-msmtprc",
        &format!("account default\nhost 127.0.0.1\nport {}\n", b.addr.port()),
    );
    h.send(&["--config", rc.to_str().unwrap(), "x@example.net"], MSG)
        .code(0);
    assert_eq!(who_got(&[&a, &b]), [0, 1, 1, 1]);
    // A bad value of a key that is read is an error.
    h.write(".msmtprc", "account default\nhost 127.0.0.1\nport none\n");
    h.send(&["x@example.net"], MSG)
        .code(78)
        .one_line_error("smtp-send");
}

#[test]
fn qualify_domain_for_cron() {
    let s = Recv::start(&[]);
    let h = Home::new();
    let cron = b"From: root (Cron Daemon)\nTo: user\nSubject: Cron <root@host> run-parts\n\nout\n";
    h.send(
        &[
            "-S",
            &s.url("smtp+plain"),
            "--qualify-domain",
            "example.org",
            "-t",
        ],
        cron,
    )
    .code(0);
    let m = &s.texts()[0];
    assert!(m.starts_with("Return-Path: <root@example.org>"), "{m}");
    assert!(
        m.contains("\nFrom: root@example.org (Cron Daemon)\r\n")
            || m.contains("\nFrom: root@example.org (Cron Daemon)\n"),
        "{m}"
    );
    assert!(m.contains("\nTo: user@example.org"), "{m}");
    assert!(m.contains("Subject: Cron <root@host> run-parts"), "{m}");
    // From the config too; recipients as arguments are qualified.
    h.config("[default]\nqualify_domain = \"example.com\"\n");
    h.send(&["-S", &s.url("smtp+plain"), "user"], b"From: cron\n\nx\n")
        .code(0);
    let m = &s.texts()[1];
    assert!(m.starts_with("Return-Path: <cron@example.com>"), "{m}");
    assert!(m.contains("From: cron@example.com"), "{m}");
    let p = h.print_config(&[], &[]);
    assert!(line_of(&p, "qualify_domain").contains("[default]"), "{p}");
}

#[test]
fn queue_dir_from_the_config() {
    let h = Home::new();
    // Nothing listens there: a temporary failure, so the message is queued.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    h.config(&format!(
        "[default]\nserver = \"smtp+plain://127.0.0.1:{port}\"\nqueue = \"~/q\"\n"
    ));
    let r = h.send(&["x@example.net"], MSG);
    r.code(0);
    let queued = std::fs::read_dir(h.home().join("q"))
        .expect("queue dir")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().is_file()))
        .count();
    assert!(queued >= 1, "{}", r.stderr);
    let p = h.print_config(&[], &[]);
    let line = line_of(&p, "queue");
    assert!(line.contains("/q\"") && line.contains("[default]"), "{p}");
}

#[test]
fn system_wide_configuration_below_the_users() {
    // Issue 14: daemons without HOME (PHP-FPM, cron as root) need a
    // system-wide file; a user's own file overrides it key by key, and
    // --print-config names every place it looked.
    let h = Home::new();
    let etc_dir = tempfile::tempdir().unwrap();
    let etc = etc_dir.path().to_path_buf();
    std::fs::create_dir_all(etc.join("mailpipe")).unwrap();
    std::fs::write(
        etc.join("mailpipe/config.toml"),
        "[default]\nserver = \"relay.example.org\"\nfrom = \"root@example.org\"\n\n\
         [accounts.sys]\nserver = \"smtps://sys.example.org\"\n",
    )
    .unwrap();
    let etc_s = etc.to_str().unwrap();
    let env = [("MAILPIPE_SYSCONFDIR", etc_s)];
    // System file alone.
    let shown = h.print_config(&[], &env);
    assert!(shown.contains("server = \"relay.example.org\""), "{shown}");
    assert!(
        shown.contains(&format!("{etc_s}/mailpipe/config.toml:2")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("# looked for: ~/.config/mailpipe/config.toml, ~/.msmtprc, ~/.config/msmtp/config, {etc_s}/mailpipe/config.toml, {etc_s}/msmtprc")),
        "{shown}"
    );
    // The user's file over it: its from wins, the system's server stays,
    // both files' accounts are there.
    h.config("[default]\nfrom = \"me@example.org\"\n\n[accounts.work]\nserver = \"smtps://work.example\"\n");
    let shown = h.print_config(&[], &env);
    assert!(shown.contains("from = \"me@example.org\""), "{shown}");
    assert!(shown.contains("server = \"relay.example.org\""), "{shown}");
    assert!(shown.contains("# accounts: work, sys"), "{shown}");
    assert!(
        h.print_config(&["-a", "sys"], &env)
            .contains("server = \"smtps://sys.example.org\""),
    );
    // With no HOME at all (a daemon): the system file still applies.
    let mut cmd = Command::new(bin("smtp-send"));
    isolated(cmd.arg("--print-config"))
        .env_remove("HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env("MAILPIPE_SYSCONFDIR", etc_s);
    let r = run_cmd_within(cmd, PATIENCE, b"");
    r.code(0);
    let shown = r.stdout_str();
    assert!(shown.contains("server = \"relay.example.org\""), "{shown}");
    assert!(
        shown.contains(&format!(
            "# looked for: {etc_s}/mailpipe/config.toml, {etc_s}/msmtprc"
        )),
        "{shown}"
    );
    // --config FILE: that file alone.
    let own = h.write("own.toml", "[default]\nhelo = \"own.example\"\n");
    let shown = h.print_config(&["--config", own.to_str().unwrap()], &env);
    assert!(!shown.contains("relay.example.org"), "{shown}");
    assert!(!shown.contains("# looked for"), "{shown}");
}

#[test]
fn plain_password_warning_only_for_the_account_in_use() {
    // Issue 14: an msmtprc plain password was warned about on every run,
    // whichever account was used, and cron mailed it each time. Now only
    // the account in use (which then has no password) is warned about.
    let h = Home::new();
    h.write(
        ".msmtprc",
        "account home\nhost 127.0.0.1\nfrom me@home.example\nuser me\npassword secret\n\n\
         account work\nhost 127.0.0.1\nfrom me@work.example\n\naccount default : work\n",
    );
    let dry = |args: &[&str]| {
        let all = [&["--dry-run", "x@example.net"][..], args].concat();
        h.send(&all, b"Subject: s\n\nbody\n")
    };
    for args in [&[][..], &["-a", "work"][..]] {
        let r = dry(args);
        r.code(0);
        assert!(!r.stderr.contains("password"), "{args:?}: {}", r.stderr);
    }
    let r = dry(&["-a", "home"]);
    assert!(
        r.stderr
            .contains(".msmtprc:5: password: plain passwords are not read"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("secret"), "{}", r.stderr);
}

#[test]
fn a_config_others_can_write_runs_no_command() {
    // Issue 17, finding 5: a password_cmd runs as the user, so a file (or
    // its directory) others can change is refused when it names one, as
    // ssh refuses its own files; without a command it is a warning.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    std::fs::create_dir(&conf).unwrap();
    let with_cmd = write_file(
        &conf,
        "cmd.toml",
        b"[default]\nserver = \"127.0.0.1:1\"\nuser = \"me\"\npassword_cmd = \"echo pw\"\n",
    );
    let plain = write_file(
        &conf,
        "plain.toml",
        b"[default]\nqualify_domain = \"example.org\"\n",
    );
    let print = |file: &std::path::Path| {
        crate::send::send(&["--config", file.to_str().unwrap(), "--print-config"], b"")
    };
    print(&with_cmd).code(0);
    for (file_mode, dir_mode, says) in [
        (0o666, 0o700, "writable by others (mode 666)"),
        (0o600, 0o777, "is writable by others (mode 777)"),
    ] {
        mode(&with_cmd, file_mode);
        mode(&conf, dir_mode);
        let r = print(&with_cmd);
        r.code(78).one_line_error("smtp-send");
        assert!(
            r.stderr.contains(says) && r.stderr.contains("password_cmd"),
            "{}",
            r.stderr
        );
        // No command in it: said, not refused.
        mode(&plain, file_mode);
        let r = print(&plain);
        r.code(0);
        assert!(r.stderr.contains(says), "{}", r.stderr);
    }
    // A sticky directory (/tmp's mode) lets no one replace the file.
    mode(&conf, 0o1777);
    mode(&with_cmd, 0o600);
    print(&with_cmd).code(0);
}
