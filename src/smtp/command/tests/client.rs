//! Unit tests of `command`: client_tests.

use super::*;

#[test]
fn wire_forms() {
    let mb = |l: &str, d: &str| Mailbox {
        local: l.into(),
        domain: d.into(),
    };
    let cases: Vec<(Command, &[u8])> = vec![
        (
            Command::Ehlo("client.example".into()),
            b"EHLO client.example\r\n",
        ),
        (Command::Helo("h".into()), b"HELO h\r\n"),
        (
            Command::Mail {
                from: ReversePath::Null,
                params: Params::default(),
            },
            b"MAIL FROM:<>\r\n",
        ),
        (
            Command::Mail {
                from: ReversePath::Mailbox(mb("a", "b.example")),
                params: Params(vec![
                    ("SIZE".into(), Some("1234".into())),
                    ("BODY".into(), Some("8BITMIME".into())),
                    ("SMTPUTF8".into(), None),
                ]),
            },
            b"MAIL FROM:<a@b.example> SIZE=1234 BODY=8BITMIME SMTPUTF8\r\n",
        ),
        (
            Command::Rcpt {
                to: mb("\"x y\"", "c.example"),
                params: Params::default(),
            },
            b"RCPT TO:<\"x y\"@c.example>\r\n",
        ),
        (Command::Data, b"DATA\r\n"),
        (Command::Rset, b"RSET\r\n"),
        (Command::Quit, b"QUIT\r\n"),
        (Command::StartTls, b"STARTTLS\r\n"),
        (
            Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("AGEAYg==".into()),
            },
            b"AUTH PLAIN AGEAYg==\r\n",
        ),
    ];
    for (cmd, want) in cases {
        assert_eq!(cmd.to_wire().unwrap(), want, "{cmd:?}");
        // The server parser reads back what the client writes.
        let line = &want[..want.len() - 2];
        assert_eq!(parse(line, true).unwrap(), cmd);
    }
}

#[test]
fn no_injection() {
    let evil = ["a>\r\nRCPT TO:<evil", "a\nDATA", "a\rb", "a\0b"];
    for e in evil {
        let cmds = [
            Command::Ehlo(e.into()),
            Command::Rcpt {
                to: Mailbox {
                    local: e.into(),
                    domain: "x".into(),
                },
                params: Params::default(),
            },
            Command::Mail {
                from: ReversePath::Null,
                params: Params(vec![("X".into(), Some(e.into()))]),
            },
        ];
        for c in cmds {
            assert!(c.to_wire().is_err(), "{c:?}");
        }
    }
}
