use super::*;
use crate::exit::Status as _;
use crate::send::notice::Recorded;

/// `KEYS`, `flag_given`, `set` and `current` name every key apiece: a
/// key one of them forgets would be accepted and then do nothing.
/// Each key, set alone, is applied, shown with its value, counted as
/// given, and touches no other key.
#[test]
fn every_key_is_set_shown_and_given() {
    for &(key, kind) in KEYS {
        // Not an option: merge reads it to choose the account.
        if key == "match_from" {
            continue;
        }
        let v = match kind {
            Kind::Bool => Value::Bool(true),
            Kind::Seconds => Value::Num(30.0),
            _ => Value::Str("x".to_owned()),
        };
        let mut o = Options::default();
        assert!(!flag_given(&o, key), "{key}");
        set(&mut o, key, &v);
        assert_eq!(current(&o, key), Some(v.to_string()), "{key}");
        assert!(flag_given(&o, key), "{key}");
        for &(other, _) in KEYS {
            if other != key {
                assert_eq!(current(&o, other), None, "{key} set {other}");
            }
        }
    }
}

fn toml_err(text: &str) -> String {
    parse_toml(text, "c.toml").unwrap_err().to_string()
}

const GOOD: &str = r#"
# comment
[default]
server = "smtp+starttls://mail.example.org:587"
user = "me"
password_cmd = "pass show mail"

[accounts.work]
server = "smtps://smtp.work.example"
from = "me@work.example"
match_from = ["*@work.example", "boss@*"]
timeout = 30
tls_insecure = false

[accounts.home]
server = "home.example:25"
"#;

#[test]
fn toml_reads_tables_in_file_order_with_lines() {
    let c = parse_toml(GOOD, "c.toml").unwrap();
    assert_eq!(
        c.default.get("server").unwrap().0,
        Value::Str("smtp+starttls://mail.example.org:587".into())
    );
    assert_eq!(c.default.get("user").unwrap().1.line, 5);
    let names: Vec<&str> = c.accounts.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["work", "home"]);
    let work = c.account("work").unwrap();
    assert_eq!(work.get("timeout").unwrap().0, Value::Num(30.0));
    assert_eq!(work.get("match_from").unwrap().1.line, 11);
    assert_eq!(c.matching("Me@Work.Example"), Some("work"));
    assert_eq!(c.matching("boss@anywhere"), Some("work"));
    assert_eq!(c.matching("me@home.example"), None);
}

#[test]
fn toml_errors_name_line_and_key() {
    let cases: &[(&str, &str)] = &[
        (
            "[accounts.work]\nport = 25\n",
            "c.toml:2: accounts.work.port: unknown key",
        ),
        ("[default]\nserver = \n", "c.toml:2: TOML syntax"),
        (
            "[default]\nserver = \"a b\"\n",
            "c.toml:2: default.server: bad server",
        ),
        (
            "[default]\ntls_insecure = \"yes\"\n",
            "default.tls_insecure: want true or false, got a string",
        ),
        (
            "[default]\ntimeout = -1\n",
            "default.timeout: want seconds above 0",
        ),
        (
            "[default]\npassword = \"x\"\n",
            "c.toml:2: default.password: plain passwords",
        ),
        ("server = \"x\"\n", "c.toml:1: server: unknown key"),
        ("[accounts]\nx = 1\n", "accounts.x: want a table"),
        ("[default]\nmatch_from = \"*\"\n", "match_from belongs"),
        ("[default]\nauth = \"NTLM\"\n", "unknown mechanism"),
        ("[default]\ntls_fingerprint = \"ab\"\n", "bad fingerprint"),
        (
            "[default]\nfrom = \"a@b, c@d\"\n",
            "default.from: want one address",
        ),
        ("[default]\nqualify_domain = \"-x-\"\n", "not a domain"),
        (
            "[default]\ntls_client_cert = \"/c\"\n",
            "needs tls_client_key",
        ),
        (
            "[default]\npassword_cmd = \"x\"\npassword_file = \"y\"\n",
            "give one",
        ),
        (
            "[accounts.a]\noauth = \"w\"\npassword_file = \"y\"\n",
            "accounts.a: oauth and a password (password_cmd, password_file): give one",
        ),
        ("[default]\nuser = \"a\\u0001\"\n", "control character"),
        (
            "[default]\nuser = \"a\"\nuser = \"b\"\n",
            "c.toml:3: TOML syntax",
        ),
    ];
    for (text, want) in cases {
        let e = toml_err(text);
        assert!(e.contains(want), "{text:?}: {e}");
        assert!(!e.contains('\n'), "{e}");
    }
}

#[test]
fn toml_hostile_input_is_an_error_not_a_panic() {
    for text in [
        "[",
        "[[accounts]]\n",
        "a=\"\\",
        "\u{0}",
        "[default]\nx.y.z = 1",
        "[accounts.a.b]\nserver=\"x\"",
    ] {
        let _ = parse_toml(text, "c.toml");
    }
    let deep = "a = ".to_owned() + &"[".repeat(10_000);
    assert!(parse_toml(&deep, "c.toml").is_err());
}

const MSMTPRC: &str = "\
# msmtp
defaults
tls on
logfile ~/.msmtp.log
auth on

account one
host 127.0.0.1
port 2525
tls off
from one@one.example
user alice
passwordeval \"pass show one\"
password secret
dsn_return headers

account two : one
host two.example
tls_starttls off
from *@two.example
domain client.two.example
syslog on
dsn_notify failure

account default : two
dsn_return full
";

#[test]
fn msmtprc_subset() {
    let (c, warnings) = parse_msmtprc(MSMTPRC, "rc").unwrap();
    let one = c.account("one").unwrap();
    assert_eq!(
        one.get("server").unwrap().0,
        Value::Str("smtp+plain://127.0.0.1:2525".into())
    );
    assert_eq!(one.get("server").unwrap().1.line, 8);
    assert_eq!(one.str("password_cmd"), Some("pass show one"));
    assert_eq!(one.str("from"), Some("one@one.example"));
    let two = c.account("two").unwrap();
    // two inherits one's `tls off` (over the defaults' `tls on`): its
    // own tls_starttls does not turn TLS on.
    assert_eq!(two.str("server"), Some("smtp+plain://two.example:2525"));
    assert_eq!(two.str("helo"), Some("client.two.example"));
    assert_eq!(two.str("from"), None);
    assert_eq!(c.matching("x@TWO.example"), Some("two"));
    assert_eq!(c.matching("one@one.example"), Some("one"));
    assert_eq!(c.default.str("helo"), Some("client.two.example"));
    // Keys of the file as a whole, each once.
    let general: Vec<&str> = warnings
        .iter()
        .filter(|w| w.account.is_none())
        .map(|w| w.text.as_str())
        .collect();
    assert_eq!(general.len(), 2, "{warnings:?}");
    assert!(general[0].contains("rc:15: dsn_return"), "{warnings:?}");
    assert!(general[1].contains("rc:23: dsn_notify"), "{warnings:?}");
    // logfile and syslog are read (issue 14): the file wins when an
    // account has both (two inherits the defaults' logfile).
    let home = super::layer::home().unwrap_or_default();
    let log = home.join(".msmtp.log").display().to_string();
    assert_eq!(one.str("log"), Some(log.as_str()));
    assert_eq!(two.str("log"), Some(log.as_str()));
    // The plain password: one warning for each account that has it,
    // written (one) or inherited (two, default), to be said only for the
    // account in use (issue 14).
    let accounts: Vec<&str> = warnings
        .iter()
        .filter_map(|w| w.account.as_deref())
        .collect();
    assert_eq!(accounts, ["one", "two", "default"], "{warnings:?}");
    assert!(
        warnings
            .iter()
            .filter(|w| w.account.is_some())
            .all(|w| w.text.contains(": password: plain passwords are not read")),
        "{warnings:?}"
    );
}

#[test]
fn msmtprc_tls_forms_and_errors() {
    let server = |text: &str| {
        let (c, _) = parse_msmtprc(text, "rc").unwrap();
        c.account("a").unwrap().str("server").map(str::to_owned)
    };
    assert_eq!(
        server("account a\nhost h\ntls on\n").unwrap(),
        "smtp+starttls://h"
    );
    assert_eq!(
        server("account a\nhost h\ntls on\ntls_starttls off\n").unwrap(),
        "smtps://h"
    );
    assert_eq!(
        server("account a\nhost ::1\nport 26\n").unwrap(),
        "smtp+plain://[::1]:26"
    );
    for (text, want) in [
        (
            "account a\nhost h\nport 99999\n",
            "rc:2: account a: server:",
        ),
        (
            "account a\nhost h\ntls maybe\n",
            "rc:3: tls: want on or off",
        ),
        ("account a\ntls_fingerprint 00:11\n", "bad fingerprint"),
        ("account a : b\n", "no account \"b\""),
        ("account a\naccount a\n", "defined twice"),
        ("account a\nfrom \"x\n", "unterminated quote"),
        ("account a\ntimeout soon\n", "timeout: want seconds"),
    ] {
        let e = parse_msmtprc(text, "rc").unwrap_err().to_string();
        assert!(e.contains(want), "{text:?}: {e}");
    }
    let (c, _) = parse_msmtprc("account a\nhost h\nauth off\nuser u\n", "rc").unwrap();
    assert_eq!(c.account("a").unwrap().str("user"), None);
}

fn flags() -> Options {
    Options::default()
}

/// The flags of [`flags`] merged with `config`'s account `name` (`-a name`).
fn with_account(config: &Config, name: &str) -> Merged {
    merge(
        &flags(),
        Some(config),
        &Chosen::Flag(name.into()),
        &Env::default(),
    )
    .unwrap()
}

#[test]
fn precedence_flag_account_env_default() {
    let c = parse_toml(GOOD, "c.toml").unwrap();
    let work = Chosen::Flag("work".into());
    let env = Env {
        server: Some("env:25".into()),
        user: Some("envuser".into()),
        password: true,
    };
    // Flag beats account.
    let mut f = flags();
    f.server = Some("flag:25".into());
    let m = merge(&f, Some(&c), &work, &env).unwrap();
    assert_eq!(m.options.server.as_deref(), Some("flag:25"));
    // Account beats env.
    let m = merge(&flags(), Some(&c), &work, &env).unwrap();
    assert_eq!(
        m.options.server.as_deref(),
        Some("smtps://smtp.work.example")
    );
    // Env beats default: the option stays unset, the env var is read later.
    assert_eq!(m.options.user, None);
    assert!(m.origins.contains(&("user", Origin::Env("SMTP_USER"))));
    assert_eq!(m.options.password_cmd, None);
    let m = merge(&flags(), Some(&c), &Chosen::None, &env).unwrap();
    assert_eq!(m.options.server, None);
    // Default when nothing else.
    let m = merge(&flags(), Some(&c), &Chosen::None, &Env::default()).unwrap();
    assert_eq!(
        m.options.server.as_deref(),
        Some("smtp+starttls://mail.example.org:587")
    );
    assert_eq!(m.options.password_cmd.as_deref(), Some("pass show mail"));
    // A --password-file flag keeps a configured command out.
    let mut f = flags();
    f.password_file = Some("/pw".into());
    let m = merge(&f, Some(&c), &Chosen::None, &Env::default()).unwrap();
    assert_eq!(m.options.password_cmd, None);
    // An account with its own server does not get [default]'s
    // credentials; one without a server does.
    let c2 = parse_toml(
        "[default]\nserver = \"d\"\nuser = \"du\"\npassword_cmd = \"dp\"\n\
         [accounts.s]\nserver = \"s\"\n[accounts.n]\nhelo = \"h.example\"\n",
        "c.toml",
    )
    .unwrap();
    let m = with_account(&c2, "s");
    assert_eq!((m.options.user, m.options.password_cmd), (None, None));
    let m = with_account(&c2, "n");
    assert_eq!(m.options.user.as_deref(), Some("du"));
    assert_eq!(m.options.server.as_deref(), Some("d"));
    // Unknown account.
    let e = merge(&flags(), Some(&c), &Chosen::Flag("nope".into()), &env).unwrap_err();
    assert_eq!(e.exit_code(), 78);
    assert!(e.to_string().contains("unknown account \"nope\""), "{e}");
}

#[test]
fn queue_dir_from_the_config_unless_given() {
    let c = parse_toml(
        "[default]\nqueue = \"/q\"\n[accounts.a]\nqueue = \"/qa\"\n",
        "c.toml",
    )
    .unwrap();
    let m = merge(&flags(), Some(&c), &Chosen::None, &Env::default()).unwrap();
    assert_eq!(m.options.queue, Some(PathBuf::from("/q")));
    let m = with_account(&c, "a");
    assert_eq!(m.options.queue, Some(PathBuf::from("/qa")));
    let mut f = flags();
    f.queue = Some("/flag".into());
    let m = merge(&f, Some(&c), &Chosen::Flag("a".into()), &Env::default()).unwrap();
    assert_eq!(m.options.queue, Some(PathBuf::from("/flag")));
}

#[test]
fn aliases_file_from_the_config_and_an_msmtprc() {
    let c = parse_toml(
        "[default]\naliases = \"/etc/aliases\"\n[accounts.a]\naliases = \"/a\"\n",
        "c.toml",
    )
    .unwrap();
    let m = merge(&flags(), Some(&c), &Chosen::None, &Env::default()).unwrap();
    assert_eq!(m.options.aliases, Some(PathBuf::from("/etc/aliases")));
    assert_eq!(
        with_account(&c, "a").options.aliases,
        Some(PathBuf::from("/a"))
    );
    let mut f = flags();
    f.aliases = Some("/flag".into());
    let m = merge(&f, Some(&c), &Chosen::Flag("a".into()), &Env::default()).unwrap();
    assert_eq!(m.options.aliases, Some(PathBuf::from("/flag")));
    // msmtp's key, `~/` being the home directory as msmtp expands it.
    let (c, warnings) = parse_msmtprc("defaults\naliases ~/al\naccount a\nhost h\n", "rc").unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let want = layer::home().map_or(PathBuf::from("~/al"), |h| h.join("al"));
    assert_eq!(with_account(&c, "a").options.aliases, Some(want));
}

#[test]
fn prepare_qualifies_the_header_and_the_envelope() {
    let o = prepare::PrepareOptions {
        extract: true,
        hostname: "example.org".to_owned(),
        qualify_domain: Some("example.org".to_owned()),
        ..prepare::PrepareOptions::default()
    };
    // `root, Other <…>`: a local account before a named mailbox, not the
    // "Last, First" mistake (issue 13).
    let msg = "From: root\nTo: root, Other <o@x.example>\nCc: cron\nBcc: b\n\
               Subject: root\nX-To: user\n\nbody\n";
    let mut p = prepare::prepare(Source::Stream(Box::new(Cursor::new(msg))), &o).unwrap();
    assert_eq!(p.envelope.from.to_string(), "root@example.org");
    let rcpts: Vec<String> = p.envelope.rcpts.iter().map(|m| m.to_string()).collect();
    assert_eq!(
        rcpts,
        [
            "root@example.org",
            "o@x.example",
            "cron@example.org",
            "b@example.org"
        ]
    );
    let mut text = String::new();
    p.reader().read_to_string(&mut text).unwrap();
    assert!(
        text.starts_with(
            "From: root@example.org\r\nTo: root@example.org, Other <o@x.example>\r\n\
             Cc: cron@example.org\r\nSubject: root\r\nX-To: user\r\n"
        ),
        "{text}"
    );
    // Without --qualify-domain the header is left as it is.
    let o = prepare::PrepareOptions {
        qualify_domain: None,
        ..o
    };
    let mut p = prepare::prepare(Source::Stream(Box::new(Cursor::new(msg))), &o).unwrap();
    let mut text = String::new();
    p.reader().read_to_string(&mut text).unwrap();
    assert!(text.starts_with("From: root\r\nTo: root,"), "{text}");
}

/// `[default]`'s credentials went to any server given by `-S` or
/// `SMTP_SERVER`, though the man page promises they are "never sent to
/// another host" than `[default]`'s server.
#[test]
fn bug_default_credentials_never_go_to_another_server() {
    let c = parse_toml(
        "[default]\nserver = \"d.example\"\nuser = \"du\"\npassword_cmd = \"dp\"\n",
        "c.toml",
    )
    .unwrap();
    let mut f = flags();
    f.server = Some("other.example".into());
    let m = merge(&f, Some(&c), &Chosen::None, &Env::default()).unwrap();
    assert_eq!((m.options.user, m.options.password_cmd), (None, None));
    let env = Env {
        server: Some("env.example".into()),
        ..Env::default()
    };
    let m = merge(&flags(), Some(&c), &Chosen::None, &env).unwrap();
    assert_eq!((m.options.user, m.options.password_cmd), (None, None));
    // With [default]'s own server they are used; a [default] without a
    // server has credentials for whatever server is given.
    let m = merge(&flags(), Some(&c), &Chosen::None, &Env::default()).unwrap();
    assert_eq!(m.options.user.as_deref(), Some("du"));
    let c = parse_toml("[default]\nuser = \"du\"\n", "c.toml").unwrap();
    let m = merge(&f, Some(&c), &Chosen::None, &Env::default()).unwrap();
    assert_eq!(m.options.user.as_deref(), Some("du"));
}

/// With `--bs` (stdin is an SMTP session, whose client waits for our
/// greeting: reading a "header" there hangs), a `match_from` account
/// must not make `resolve` read stdin first.
#[test]
fn bug_bs_does_not_read_stdin_to_choose_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("config.toml");
    fs_write(
        &conf,
        "[accounts.w]\nmatch_from = \"*@work.example\"\nhelo = \"w.example\"\n",
    );
    let (r, mut w) = io::pipe().unwrap();
    w.write_all(b"From: me@work.example\r\n\r\nHELO x\r\n")
        .unwrap();
    drop(w);
    let stdin = File::from(std::os::fd::OwnedFd::from(r));
    let mut f = flags();
    f.config = Some(conf.clone());
    f.bs = true;
    let resolved = resolve(&f, &stdin, &Recorded::default()).unwrap();
    assert!(resolved.input.is_none(), "stdin was read");
    let mut left = Vec::new();
    (&stdin).read_to_end(&mut left).unwrap();
    assert!(left.starts_with(b"From: me@"));
}

fn fs_write(p: &Path, text: &str) {
    std::fs::write(p, text).unwrap();
}

/// `--print-config` echoed a server spec holding a password
/// (`smtp://user:pass@host` from `-S` or `SMTP_SERVER`), which the
/// URL parser refuses precisely without echoing it.
#[test]
fn bug_print_config_hides_a_password_in_the_server() {
    for spec in [
        "smtp://me:s3cret@mail.example",
        "smpt://me:s3cret@mail.example",
    ] {
        let mut f = flags();
        f.server = Some(spec.into());
        let m = merge(&f, None, &Chosen::None, &Env::default()).unwrap();
        let r = Resolved {
            options: m.options,
            input: None,
            config: None,
            origins: m.origins,
            chosen: Chosen::None,
        };
        let mut out = Vec::new();
        print(&r, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(!out.contains("s3cret"), "{out}");
        assert!(out.contains("server = (not shown"), "{out}");
    }
}

/// A server spec with credentials and another defect (an unknown
/// scheme, or an msmtp host that becomes a bracketed address) failed
/// with the parser's error, which quotes the spec: the password went
/// into the one-line error.
#[test]
fn bug_bad_server_errors_do_not_quote_a_password() {
    let e = toml_err("[default]\nserver = \"smpt://me:s3cret@mail.example\"\n");
    assert!(e.starts_with("c.toml:2: default.server: "), "{e}");
    assert!(!e.contains("s3cret"), "{e}");
    // The plain credentials case keeps its advice (it quotes nothing).
    let e = toml_err("[default]\nserver = \"smtp://me:s3cret@mail.example\"\n");
    assert!(e.contains("credentials") && !e.contains("s3cret"), "{e}");
    let e = parse_msmtprc("account a\nhost me:s3cret@mail.example\n", "rc")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("rc:2: account a: server: "), "{e}");
    assert!(!e.contains("s3cret"), "{e}");
}

/// msmtp's `logfile`, `syslog` and `logfile_time_format` as `log` and
/// `log_time_format` (issue 14); `logfile -` (standard output) is not read.
#[test]
fn msmtprc_log_keys() {
    for (rc, want) in [
        ("syslog on", Some("syslog:user")),
        ("syslog", Some("syslog:user")),
        ("syslog LOG_MAIL", Some("syslog:LOG_MAIL")),
        ("syslog LOG_LOCAL3", Some("syslog:LOG_LOCAL3")),
        ("syslog off", None),
        ("logfile /var/log/m.log", Some("/var/log/m.log")),
        ("logfile", None),
        ("logfile -", None),
    ] {
        let text = format!("account default\nhost h.example\n{rc}\n");
        let (c, warnings) = parse_msmtprc(&text, "rc").unwrap();
        assert_eq!(c.default.str("log"), want, "{rc}");
        assert_eq!(
            warnings.iter().any(|w| w.text.contains("standard output")),
            rc == "logfile -",
            "{rc}: {warnings:?}"
        );
    }
    let err = parse_msmtprc("account default\nsyslog LOG_NOPE\n", "rc").unwrap_err();
    assert!(
        err.to_string().contains("rc:2: account default: syslog"),
        "{err}"
    );
    let (c, _) = parse_msmtprc("account default\nlogfile_time_format \"%F %T\"\n", "rc").unwrap();
    assert_eq!(c.default.str("log_time_format"), Some("%F %T"));
}

/// Issue 15: `oauth = "NAME"` is the password setting under a third key:
/// an account's oauth keeps [default]'s password_cmd out, and [default]'s
/// oauth goes only with [default]'s server, as its password would.
#[test]
fn oauth_is_the_password_setting() {
    let c = parse_toml(
        "[default]\nserver = \"d\"\nuser = \"du\"\npassword_cmd = \"dp\"\n\
         [accounts.work]\nuser = \"me@work.example\"\noauth = \"work\"\n\
         [accounts.own]\nserver = \"o\"\n",
        "c.toml",
    )
    .unwrap();
    let m = with_account(&c, "work");
    assert_eq!(m.options.oauth.as_deref(), Some("work"));
    assert_eq!(m.options.password_cmd, None);
    let c = parse_toml(
        "[default]\nserver = \"d\"\noauth = \"home\"\n[accounts.own]\nserver = \"o\"\n",
        "c.toml",
    )
    .unwrap();
    assert_eq!(with_account(&c, "own").options.oauth, None);
    let m = merge(&flags(), Some(&c), &Chosen::None, &Env::default()).unwrap();
    assert_eq!(m.options.oauth.as_deref(), Some("home"));
    // A password on the command line wins over the configured oauth.
    let mut f = flags();
    f.password_cmd = Some("pass show x".into());
    let m = merge(&f, Some(&c), &Chosen::None, &Env::default()).unwrap();
    assert_eq!(m.options.oauth, None);
}
