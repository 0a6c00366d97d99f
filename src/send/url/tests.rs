use super::*;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;

fn server(host: &str, port: u16, security: Security) -> Server {
    Server {
        host: host.to_owned(),
        port,
        security,
        lmtp: false,
    }
}

#[test]
fn parse_forms() {
    use Security::*;
    for (spec, want) in [
        (
            "mail.example.org",
            server("mail.example.org", 25, StartTlsIfOffered),
        ),
        (
            "mail.example.org:587",
            server("mail.example.org", 587, StartTlsIfOffered),
        ),
        (
            "  localhost:2525\n",
            server("localhost", 2525, StartTlsIfOffered),
        ),
        (
            "127.0.0.1:2525",
            server("127.0.0.1", 2525, StartTlsIfOffered),
        ),
        ("[::1]:2525", server("::1", 2525, StartTlsIfOffered)),
        ("[::1]", server("::1", 25, StartTlsIfOffered)),
        (
            "[2001:DB8::1]:26",
            server("2001:db8::1", 26, StartTlsIfOffered),
        ),
        (
            "smtp://mx.example",
            server("mx.example", 25, StartTlsIfOffered),
        ),
        // Port 465 without a scheme is implicit TLS (RFC 8314, issue 13);
        // a scheme says what it says.
        ("mx.example:465", server("mx.example", 465, Implicit)),
        (
            "smtp://mx.example:465",
            server("mx.example", 465, StartTlsIfOffered),
        ),
        (
            "smtp://mx.example:587/",
            server("mx.example", 587, StartTlsIfOffered),
        ),
        (
            "SMTP://mx.example",
            server("mx.example", 25, StartTlsIfOffered),
        ),
        ("smtp://[::1]:2525", server("::1", 2525, StartTlsIfOffered)),
        (
            "smtp+starttls://mx.example",
            server("mx.example", 25, StartTlsRequired),
        ),
        (
            "smtp+starttls://mx.example:587",
            server("mx.example", 587, StartTlsRequired),
        ),
        ("smtps://mx.example", server("mx.example", 465, Implicit)),
        (
            "smtps://mx.example:4650",
            server("mx.example", 4650, Implicit),
        ),
        ("smtps://[::1]", server("::1", 465, Implicit)),
        ("smtp+plain://mx.example", server("mx.example", 25, None)),
        (
            "smtp+plain://_relay.example:65535",
            server("_relay.example", 65535, None),
        ),
    ] {
        assert_eq!(parse(spec), Ok(want), "{spec:?}");
    }
}

#[test]
fn display() {
    assert_eq!(
        parse("smtps://[::1]").unwrap().to_string(),
        "smtps://[::1]:465"
    );
    assert_eq!(parse("h").unwrap().to_string(), "smtp://h:25");
    assert_eq!(parse("smtp+plain://h:1").unwrap().authority(), "h:1");
    // Display round-trips through parse.
    for s in ["smtp+starttls://a.b:587", "smtp://[fe80::1]:25"] {
        assert_eq!(parse(s).unwrap().to_string(), s);
        assert_eq!(parse(&parse(s).unwrap().to_string()), parse(s));
    }
}

#[test]
fn parse_errors() {
    for (spec, want) in [
        ("", "empty server name"),
        ("   ", "empty server name"),
        ("smtp://", "no host name"),
        (":25", "no host name"),
        ("smtp://:25", "no host name"),
        ("host:", "port \"\" is not a number"),
        ("host:abc", "port \"abc\" is not a number"),
        ("host:+25", "is not a number"),
        ("host:0", "port 0 is out of range"),
        ("host:65536", "port 65536 is out of range"),
        ("host:99999999999999999999", "out of range"),
        ("http://host", "unknown scheme \"http\""),
        ("smtpx://host", "unknown scheme"),
        ("smtp://host/path", "no path, query or fragment"),
        ("smtp://host?x=1", "no path, query or fragment"),
        ("smtp://host#f", "no path, query or fragment"),
        ("fe80::1:25", "in brackets"),
        ("::1", "in brackets"),
        ("[::1", "missing ']'"),
        ("[::1]x", "unexpected text after ']'"),
        ("[::1]:", "is not a number"),
        ("[mail.example]:25", "is not an IPv6 address"),
        ("smtp://ho st", "' ' cannot be in a host name"),
        ("ho/st", "'/' cannot be in a host name"),
        ("smtp://host%41", "'%' cannot be in a host name"),
        // Non-ASCII is let in for IDN, but not C1 or bidi controls
        // (issue 17's fuzzing: they came out in the URL printed).
        (
            "smtp://ho\u{202E}st",
            "'\\u{202e}' cannot be in a host name",
        ),
        ("smtp://ho\u{85}st", "'\\u{85}' cannot be in a host name"),
    ] {
        let err = parse(spec).unwrap_err().to_string();
        assert!(err.contains(want), "{spec:?}: {err}");
    }
}

#[test]
fn credentials_in_url_are_refused_and_not_echoed() {
    for spec in [
        "smtp://user:s3cret@mail.example",
        "smtps://user@mail.example:465",
        "user:s3cret@mail.example",
        // A misspelt scheme must not make the error quote the spec.
        "smpt://user:s3cret@mail.example",
        "smtp://user:s3cret@[::1]:25",
    ] {
        let err = parse(spec).unwrap_err().to_string();
        assert!(err.contains("credentials"), "{err}");
        assert!(!err.contains("s3cret") && !err.contains("user@"), "{err}");
    }
}

#[test]
fn connect_tries_each_address_in_turn() {
    let good = TcpListener::bind("127.0.0.1:0").unwrap();
    let good_addr = good.local_addr().unwrap();
    // A port nothing listens on: bind, note it, close.
    let refused_addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let t = Duration::from_secs(5);
    let (_s, addr) = connect_addrs(&[refused_addr, good_addr], t).unwrap();
    assert_eq!(addr, good_addr);
    let fails = connect_addrs(&[refused_addr, refused_addr], t).unwrap_err();
    assert_eq!(fails.len(), 2);
    assert_eq!(fails[1].1.kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn connect_sets_nodelay_and_timeouts() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let s = server("127.0.0.1", port, Security::None);
    let io = Duration::from_millis(700);
    let (stream, addr) = connect(&s, Duration::from_secs(5), io).unwrap();
    assert_eq!(addr.port(), port);
    assert!(stream.nodelay().unwrap());
    assert_eq!(stream.read_timeout().unwrap(), Some(io));
    assert_eq!(stream.write_timeout().unwrap(), Some(io));
    // "localhost" resolves (to ::1 and/or 127.0.0.1); whichever the
    // resolver gives first, the listener on 127.0.0.1 is reached.
    let s = server("localhost", port, Security::None);
    let (_, addr) = connect(&s, Duration::from_secs(5), io).unwrap();
    assert_eq!(addr, SocketAddr::from(([127, 0, 0, 1], port)));
    // Transport timeouts can be changed per stage; zero is "none".
    let mut t = Transport::Tcp(stream);
    t.set_io_timeout(Duration::ZERO).unwrap();
    let Transport::Tcp(stream) = &t else {
        unreachable!()
    };
    assert_eq!(stream.read_timeout().unwrap(), Option::None);
}

#[test]
fn connect_errors_name_the_host() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = server("127.0.0.1", port, Security::None);
    let err = connect(&s, Duration::from_secs(5), Duration::ZERO).unwrap_err();
    assert!(err.is_temporary() && !err.is_timeout());
    assert_eq!(
        err.to_string(),
        format!("cannot connect to \"127.0.0.1\" port {port}: connection refused")
    );
    // The .invalid TLD never resolves (RFC 2606 §2): unknown, or
    // temporary where no resolver answers at all.
    let s = server("no-such-host.invalid", 25, Security::None);
    let err = connect(&s, Duration::from_secs(5), Duration::ZERO).unwrap_err();
    assert!(
        matches!(err.kind(), ConnectErrorKind::Resolve(_)),
        "{err:?}"
    );
    assert_ne!(err.is_temporary(), err.is_unknown_host());
    let want = if err.is_unknown_host() {
        "host name unknown: \"no-such-host.invalid\" ("
    } else {
        "cannot resolve host \"no-such-host.invalid\": "
    };
    assert!(err.to_string().starts_with(want), "{err}");
}

#[test]
fn bug_unknown_host_was_temporary() {
    // Every resolver failure was exit 75, a typo in -S retried forever.
    let resolve = |text: &str| ConnectError {
        host: "mx.example".to_owned(),
        port: 25,
        kind: ConnectErrorKind::Resolve(io::Error::other(format!(
            "failed to lookup address information: {text}"
        ))),
    };
    for text in [
        "Name or service not known",
        "No address associated with hostname",
        "Name does not resolve",
        "nodename nor servname provided, or not known",
    ] {
        let e = resolve(text);
        assert!(e.is_unknown_host() && !e.is_temporary(), "{text}");
        assert!(e.to_string().starts_with("host name unknown: "), "{e}");
    }
    let e = resolve("Temporary failure in name resolution");
    assert!(!e.is_unknown_host() && e.is_temporary());
    let none = ConnectError {
        host: "mx.example".to_owned(),
        port: 25,
        kind: ConnectErrorKind::NoAddresses,
    };
    assert!(none.is_unknown_host());
}

#[test]
fn connect_error_lists_several_addresses() {
    let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let b: SocketAddr = "[::1]:1".parse().unwrap();
    let refused = || io::Error::from(io::ErrorKind::ConnectionRefused);
    let timeout = || io::Error::from(io::ErrorKind::TimedOut);
    let err = ConnectError {
        host: "mx".to_owned(),
        port: 1,
        kind: ConnectErrorKind::Connect(vec![(b, refused()), (a, timeout())]),
    };
    assert!(err.is_timeout());
    assert_eq!(
        err.to_string(),
        "cannot connect to \"mx\" port 1: 127.0.0.1:1: timed out; [::1]:1: connection refused"
    );
    let many = (0..6).map(|_| (a, refused())).collect();
    let err = ConnectError {
        host: "mx".to_owned(),
        port: 1,
        kind: ConnectErrorKind::Connect(many),
    };
    assert!(
        err.to_string().ends_with("; 2 more addresses failed"),
        "{err}"
    );
}

#[test]
fn pipe_round_trip_and_reap() {
    let mut t = pipe("cat", Duration::ZERO).unwrap();
    assert!(!t.is_tls() && t.tls().is_none());
    t.set_io_timeout(Duration::from_secs(1)).unwrap();
    t.write_all(b"EHLO x\r\n").unwrap();
    t.flush().unwrap();
    let mut line = String::new();
    let mut r = BufReader::new(t);
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "EHLO x\r\n");
    let t = r.into_inner();
    let Transport::Pipe(p) = &t else {
        unreachable!()
    };
    let pid = p.id();
    let start = Instant::now();
    drop(t);
    // cat exits on EOF: no grace period spent, and it is reaped.
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn pipe_child_that_ignores_eof_is_killed() {
    let t = pipe("exec sleep 30", Duration::ZERO).unwrap();
    let Transport::Pipe(p) = &t else {
        unreachable!()
    };
    let pid = p.id();
    let start = Instant::now();
    drop(t);
    let took = start.elapsed();
    assert!(took >= PIPE_EXIT_GRACE && took < PIPE_EXIT_GRACE + Duration::from_secs(5));
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn pipe_write_to_exited_child_is_not_epipe() {
    let mut t = pipe("exit 0", Duration::ZERO).unwrap();
    // Wait for the child to go, then write until the pipe breaks.
    std::thread::sleep(Duration::from_millis(100));
    let err = (0..100)
        .find_map(|_| t.write_all(&[b'x'; 65536]).err())
        .unwrap();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    // It ended before saying anything: the read says how (issue 12: so
    // that a command that cannot run is not "try again later"), once.
    let mut buf = [0; 8];
    let e = t.read(&mut buf).unwrap_err();
    assert_eq!(
        CommandExited::in_io(&e).and_then(|c| c.0.code()),
        Some(0),
        "{e:?}"
    );
    assert_eq!(t.read(&mut buf).unwrap(), 0);
    let Transport::Pipe(p) = &mut t else {
        unreachable!()
    };
    assert_eq!(p.exit_status().and_then(|s| s.code()), Some(0));
}

#[test]
fn bug_pipe_timeout_was_ignored() {
    // `--timeout` did nothing with --pipe: a silent command hung the
    // client. A grandchild holds the pipe here, so killing sh would
    // not end the read: the timeout must not depend on that.
    let mut t = pipe("sleep 30; true", Duration::from_millis(200)).unwrap();
    let start = Instant::now();
    let mut buf = [0; 8];
    let err = t.read(&mut buf).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    assert!(start.elapsed() < Duration::from_secs(5));
    // A command that does not read its input: the write times out once
    // the pipe is full, and every later write fails at once.
    let big = vec![b'x'; 1 << 20];
    let err = t.write_all(&big).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    assert!(t.write(b"x").is_err());
    drop(t);
    // Killed at once (no grace period) after a timeout.
    assert!(start.elapsed() < Duration::from_secs(5));
    // Late bytes are not lost: a read that timed out can be retried.
    let mut t = pipe("sleep 0.3; echo hi", Duration::from_millis(50)).unwrap();
    assert_eq!(
        t.read(&mut buf).unwrap_err().kind(),
        io::ErrorKind::TimedOut
    );
    t.set_io_timeout(Duration::from_secs(10)).unwrap();
    let n = t.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hi\n");
    assert_eq!(t.read(&mut buf).unwrap(), 0);
}

#[test]
fn start_tls_only_on_tcp() {
    let config = tls::client_config(&tls::ClientTls {
        insecure: true,
        ..Default::default()
    })
    .unwrap();
    let err = pipe("cat", Duration::ZERO)
        .unwrap()
        .start_tls(&config, "h")
        .unwrap_err();
    assert!(err.to_string().contains("--pipe"), "{err}");
}
