use super::*;
use std::io::Write;

fn file(contents: &[u8], mode: u32) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(contents).unwrap();
    std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    f
}

fn pw(found: Option<Found>) -> (String, Source) {
    let f = found.expect("a password");
    (f.password.expose().to_owned(), f.source)
}

#[test]
fn password_debug_is_redacted() {
    let p = Password::new("hunter2".to_owned());
    assert_eq!(format!("{p:?}"), "***");
    let f = Found {
        password: p.clone(),
        source: Source::Env,
        warning: None,
    };
    assert!(!format!("{f:?}").contains("hunter2"));
    assert_eq!(p.into_string(), "hunter2");
    let s = Sources {
        env_password: Some(Password::new("hunter2".to_owned())),
        ..Default::default()
    };
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[test]
fn password_file_first_line() {
    for (contents, want) in [
        (&b"s3cret\n"[..], "s3cret"),
        (b"s3cret\r\n", "s3cret"),
        (b"s3cret", "s3cret"),
        (b"pass word \nsecond line\n", "pass word "),
        ("pässwörd\n".as_bytes(), "pässwörd"),
    ] {
        let f = file(contents, 0o600);
        let sources = Sources {
            password_file: Some(f.path().to_owned()),
            env_password: Some(Password::new("env".to_owned())),
            ..Default::default()
        };
        let found = password("u", "h", &sources).unwrap().unwrap();
        assert_eq!(found.password.expose(), want);
        assert_eq!(found.source, Source::File);
        assert_eq!(found.warning, None);
    }
}

#[test]
fn password_file_errors_and_warning() {
    let f = file(b"s3cret\n", 0o644);
    let sources = Sources {
        password_file: Some(f.path().to_owned()),
        ..Default::default()
    };
    let found = password("u", "h", &sources).unwrap().unwrap();
    let warning = found.warning.unwrap();
    assert!(
        warning.contains("mode 644") && warning.contains("chmod 600"),
        "{warning}"
    );
    for (contents, want) in [
        (&b""[..], "empty password"),
        (b"\nsecond\n", "empty password"),
        (b"\xff\xfe\n", "not UTF-8"),
    ] {
        let f = file(contents, 0o600);
        let sources = Sources {
            password_file: Some(f.path().to_owned()),
            ..Default::default()
        };
        let err = password("u", "h", &sources).unwrap_err().to_string();
        assert!(
            err.starts_with("password file ") && err.ends_with(want),
            "{err}"
        );
    }
    let big = file(&vec![b'x'; MAX_SECRET as usize + 1], 0o600);
    let sources = Sources {
        password_file: Some(big.path().to_owned()),
        ..Default::default()
    };
    let err = password("u", "h", &sources).unwrap_err().to_string();
    assert!(err.contains("larger than"), "{err}");
    let sources = Sources {
        password_file: Some("/nonexistent/pw".into()),
        ..Default::default()
    };
    let err = password("u", "h", &sources).unwrap_err().to_string();
    assert!(err.starts_with("password file /nonexistent/pw: "), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let sources = Sources {
        password_file: Some(dir.path().to_owned()),
        ..Default::default()
    };
    assert!(password("u", "h", &sources).is_err());
}

#[test]
fn password_command() {
    let cmd = |c: &str| Sources {
        password_cmd: Some(c.to_owned()),
        env_password: Some(Password::new("env".to_owned())),
        ..Default::default()
    };
    assert_eq!(
        pw(password("u", "h", &cmd("printf 's3cret\\nmetadata: x\\n'")).unwrap()),
        ("s3cret".to_owned(), Source::Command)
    );
    // Its stdin is not ours (the message): it reads nothing.
    assert_eq!(
        pw(password("u", "h", &cmd("cat; echo tok")).unwrap()).0,
        "tok"
    );
    // Output over the limit is no password: refused, not cut and sent
    // (issue 17), and the command is killed, not waited for.
    for c in ["echo tok; head -c 1000000 /dev/zero", "yes s3cret"] {
        let err = password("u", "h", &cmd(c)).unwrap_err().to_string();
        assert!(err.contains("printed more than 65536 octets"), "{err}");
        assert!(!err.contains("s3cret\n"), "{err}");
    }
    // A command that hangs is killed at the limit, its children with it.
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("still-running");
    let slow = Sources {
        command_timeout: std::time::Duration::from_millis(300),
        ..cmd(&format!(
            "(sleep 2; touch {}) & sleep 1000",
            marker.display()
        ))
    };
    let err = password("u", "h", &slow).unwrap_err().to_string();
    assert!(err.contains("no answer within 0.3 s: killed"), "{err}");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(!marker.exists(), "a child of the command outlived it");
    for (c, want) in [
        (
            "echo s3cret; exit 3",
            "password command \"echo s3cret; exit 3\": exited with status 3",
        ),
        ("true", "printed no password"),
        ("kill -9 $$", "killed by signal 9"),
    ] {
        let err = password("u", "h", &cmd(c)).unwrap_err().to_string();
        assert!(err.ends_with(want), "{err}");
        assert!(!err.contains("s3cret\""), "{err}");
    }
}

#[test]
fn env_then_netrc_then_none() {
    let env = Sources {
        env_password: Some(Password::new("fromenv".to_owned())),
        netrc: Some("/nonexistent".into()),
        ..Default::default()
    };
    assert_eq!(
        pw(password("u", "h", &env).unwrap()),
        ("fromenv".to_owned(), Source::Env)
    );
    let netrc = file(b"machine mx.example login u password fromnetrc\n", 0o600);
    let sources = Sources {
        netrc: Some(netrc.path().to_owned()),
        ..Default::default()
    };
    assert_eq!(
        pw(password("u", "MX.example", &sources).unwrap()),
        ("fromnetrc".to_owned(), Source::Netrc)
    );
    assert!(password("other", "mx.example", &sources).unwrap().is_none());
    assert!(password("u", "other.example", &sources).unwrap().is_none());
    assert_eq!(
        netrc_user("mx.example", &sources).unwrap().as_deref(),
        Some("u")
    );
    assert_eq!(netrc_user("other", &sources).unwrap(), None);
    // A missing netrc, or none configured: no password, no error.
    let missing = Sources {
        netrc: Some("/nonexistent/.netrc".into()),
        ..Default::default()
    };
    assert!(password("u", "h", &missing).unwrap().is_none());
    assert!(netrc_user("h", &missing).unwrap().is_none());
    assert!(password("u", "h", &Sources::default()).unwrap().is_none());
    // A world-readable netrc works but warns.
    let loose = file(b"default password p\n", 0o644);
    let sources = Sources {
        netrc: Some(loose.path().to_owned()),
        ..Default::default()
    };
    assert!(
        password("u", "h", &sources)
            .unwrap()
            .unwrap()
            .warning
            .is_some()
    );
}

#[test]
fn netrc_parsing() {
    let text = b"# comment line\n\
        machine a.example login alice password pa\n\
        macdef init\n\
        cd /pub\n\
        machine fake password inside-macro\n\
        \n\
        machine b.example\n\
          login bob\n\
          account ignored\n\
          password \"with space \\\" quote\"\n\
        machine a.example login carol password pc # trailing\n\
        machine nopass.example login dave\n\
        default login anon password pdefault\n";
    let entries = parse_netrc(text);
    assert_eq!(entries.len(), 5, "{entries:?}");
    assert!(!entries.iter().any(|e| e.machine.as_deref() == Some("fake")));
    let get = |host: &str, user: Option<&str>| {
        netrc_lookup(text, host, user).map(|e| {
            (
                e.machine,
                String::from_utf8(e.login.unwrap_or_default()).unwrap(),
                String::from_utf8(e.password.unwrap_or_default()).unwrap(),
            )
        })
    };
    let m = |s: &str| Some(s.to_owned());
    assert_eq!(
        get("a.example", Some("alice")),
        Some((m("a.example"), "alice".into(), "pa".into()))
    );
    assert_eq!(
        get("a.example", None),
        Some((m("a.example"), "alice".into(), "pa".into()))
    );
    assert_eq!(
        get("A.EXAMPLE", Some("carol")),
        Some((m("a.example"), "carol".into(), "pc".into()))
    );
    assert_eq!(
        get("b.example", Some("bob")),
        Some((m("b.example"), "bob".into(), "with space \" quote".into()))
    );
    // No machine entry for this user: the default entry, if its login fits.
    assert_eq!(
        get("a.example", Some("anon")),
        Some((None, "anon".into(), "pdefault".into()))
    );
    assert_eq!(get("a.example", Some("zed")), None);
    assert_eq!(
        get("elsewhere", None),
        Some((None, "anon".into(), "pdefault".into()))
    );
    assert_eq!(get("nopass.example", Some("dave")).unwrap().2, "");
}

#[test]
fn netrc_odd_input_does_not_panic() {
    for text in [
        &b""[..],
        b"machine",
        b"machine h login",
        b"login x password y",
        b"machine h password \"unterminated",
        b"machine h password \"ends in backslash\\",
        b"macdef",
        b"macdef m",
        b"macdef m\nline\n",
        b"\xff\xfe machine \xff password \xfe",
        b"#",
        b"default default machine",
    ] {
        let _ = parse_netrc(text);
        let _ = netrc_lookup(text, "h", Some("u"));
    }
    assert_eq!(
        netrc_lookup(b"machine h password \"unterminated", "h", None)
            .unwrap()
            .password
            .unwrap(),
        b"unterminated"
    );
    // '#' inside a value is part of it (a password may hold '#').
    assert_eq!(
        netrc_lookup(b"machine h password #pw", "h", None)
            .unwrap()
            .password
            .unwrap(),
        b"#pw"
    );
}

#[test]
fn netrc_debug_hides_password() {
    let e = netrc_lookup(b"machine h login u password s3cret", "h", None).unwrap();
    let d = format!("{e:?}");
    assert!(d.contains("\"u\"") && !d.contains("s3cret"), "{d}");
}
