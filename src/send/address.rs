//! Addresses from the command line (`-f`, RECIPIENT) and from header
//! fields, as SMTP paths (RFC 5321 §4.1.2): an address without a domain is
//! qualified with this host's name, as sendmail does; a recipient without
//! one goes through the `--aliases` file first ([`Aliases::expand`]).

use crate::message::{address, header};
use crate::send::aliases::Aliases;
use crate::send::error::Error;
use crate::smtp::envelope::{self, Mailbox, ReversePath};

/// Parses the `-f` argument: `''` and `'<>'` are the null sender (RFC 5321
/// §4.5.5); otherwise one address (`a@b`, `<a@b>` or `Name <a@b>`). An
/// address without a domain gets `@hostname` (as sendmail qualifies it).
pub fn parse_sender(arg: &str, hostname: &str) -> Result<ReversePath, Error> {
    no_line_break("-f", arg)?;
    let trimmed = arg.trim();
    if trimmed.is_empty() || trimmed == "<>" {
        return Ok(ReversePath::Null);
    }
    match &parse_addresses(trimmed.as_bytes(), hostname, None)
        .map_err(|e| Error::Usage(format!("-f: {e}")))?[..]
    {
        [one] => Ok(ReversePath::Mailbox(one.clone())),
        _ => Err(Error::Usage(format!(
            "-f: want one address, got {trimmed:?}"
        ))),
    }
}

/// A CR or LF in an argument is the one mistake worth naming as it is
/// (issue 17: the parser reported "unexpected '@' at byte 1"): it never
/// reaches an SMTP command either way.
fn no_line_break(what: &str, arg: &str) -> Result<(), Error> {
    if arg.contains(['\r', '\n']) {
        return Err(Error::Usage(format!(
            "{what} {arg:?}: line break in an address"
        )));
    }
    Ok(())
}

/// Parses a RECIPIENT argument: one address or a comma-separated list,
/// local names through `aliases`.
pub fn parse_recipient_arg(
    arg: &str,
    hostname: &str,
    aliases: Option<&Aliases>,
) -> Result<Vec<Mailbox>, Error> {
    no_line_break("recipient", arg)?;
    let list = parse_addresses(arg.as_bytes(), hostname, aliases)
        .map_err(|e| Error::Usage(format!("recipient {arg:?}: {e} ({})", address::HINT)))?;
    if list.is_empty() {
        return Err(Error::Usage(format!("recipient {arg:?}: no address")));
    }
    Ok(list)
}

/// Every mailbox of an RFC 5322 address list as an SMTP path. A defect
/// (anything the parser had to skip or guess) is an error, so the list is
/// exactly what was written; an address without a domain is replaced by
/// what it stands for in `aliases` (recipients only: the caller passes
/// `None` for a sender), then what is still local is qualified with
/// `hostname`.
pub(crate) fn parse_addresses(
    value: &[u8],
    hostname: &str,
    aliases: Option<&Aliases>,
) -> Result<Vec<Mailbox>, String> {
    let list = address::parse(value);
    if let Some(d) = list
        .defects
        .iter()
        .find(|d| d.kind != address::DefectKind::MissingDomain)
    {
        return Err(d.to_string());
    }
    if let Some(e) = last_first(&list.addresses, aliases) {
        return Err(e);
    }
    list.mailboxes()
        .flat_map(|m| match aliases {
            Some(a) => a.expand(&m.addr),
            None => vec![m.addr.as_str()],
        })
        .map(|addr| smtp_mailbox(addr, hostname))
        .collect()
}

/// The "Last, First" mistake (issue 13): `Doe, Jane <j@example.org>`, an
/// unquoted comma as people and some programs type it, is two addresses
/// by RFC 5322 §3.4, the first a bare `Doe` that would go to `Doe@HOST`.
/// A bare word followed by a mailbox with a display name is that mistake
/// unless the word is a local account or an alias (`root, Bob <bob@…>` is
/// fine).
fn last_first(items: &[address::Address], aliases: Option<&Aliases>) -> Option<String> {
    items.windows(2).find_map(|pair| match pair {
        [
            address::Address::Mailbox(bare),
            address::Address::Mailbox(named),
        ] if bare.name.is_none()
            && !bare.addr.contains('@')
            && named.addr.contains('@')
            && !is_local_account(&bare.addr)
            && !aliases.is_some_and(|a| a.contains(&bare.addr)) =>
        {
            let name = named.name.as_deref()?;
            let quoted = format!("{}, {name}", bare.addr)
                .replace('\\', "\\\\")
                .replace('"', "\\\"");
            Some(format!(
                "{:?} and {name:?} are two addresses (an unquoted comma); \
                 for one, quote the name: \"{quoted}\" <{}>",
                bare.addr, named.addr
            ))
        }
        _ => None,
    })
}

/// Whether `name` is an account on this machine (getpwnam), to which a
/// bare name is delivered locally.
fn is_local_account(name: &str) -> bool {
    matches!(nix::unistd::User::from_name(name), Ok(Some(_)))
}

/// An RFC 5322 addr-spec as an RFC 5321 Mailbox, checked by the SMTP path
/// grammar (which is what the server will apply).
pub(crate) fn smtp_mailbox(addr: &str, hostname: &str) -> Result<Mailbox, String> {
    let qualified;
    let addr = if addr.contains('@') {
        addr
    } else {
        qualified = format!("{addr}@{hostname}");
        &qualified
    };
    if addr.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(format!("control character in address {addr:?}"));
    }
    let path = format!("<{addr}>");
    match envelope::parse_forward_path(&path, true) {
        Ok((m, "")) => Ok(m),
        Ok(_) => Err(format!("not an SMTP address: {addr:?}")),
        Err(e) => Err(format!("not an SMTP address: {addr:?}: {e}")),
    }
}

/// The first mailbox of a header field that has one, as an SMTP path.
pub(crate) fn field_mailbox(
    block: &header::Block,
    name: &str,
    hostname: &str,
) -> Result<Option<Mailbox>, Error> {
    first_mailbox(block.get(name.as_bytes()), name, hostname)
}

/// The first mailbox of `field` (named `name`), as an SMTP path.
pub(crate) fn first_mailbox(
    field: Option<header::Field<'_>>,
    name: &str,
    hostname: &str,
) -> Result<Option<Mailbox>, Error> {
    let Some(field) = field else {
        return Ok(None);
    };
    let list = address::parse(field.value);
    match list.mailboxes().next() {
        None => Ok(None),
        Some(m) => smtp_mailbox(&m.addr, hostname)
            .map(Some)
            .map_err(|e| Error::Message(format!("{name}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Status as _;
    use crate::smtp::envelope::test_mailbox as mb;

    #[test]
    fn senders() {
        assert_eq!(parse_sender("", "h.example").unwrap(), ReversePath::Null);
        assert_eq!(parse_sender("<>", "h.example").unwrap(), ReversePath::Null);
        for s in [
            "a@b.example",
            "<a@b.example>",
            "A Person <a@b.example>",
            " a@b.example ",
        ] {
            assert_eq!(
                parse_sender(s, "h").unwrap(),
                ReversePath::Mailbox(mb("a@b.example")),
                "{s}"
            );
        }
        assert_eq!(
            parse_sender("root", "h.example").unwrap(),
            ReversePath::Mailbox(mb("root@h.example"))
        );
        for bad in ["a@b, c@d", "a@b\r\nRCPT TO:<x@y>", "<a@b", "a b@c"] {
            let e = parse_sender(bad, "h").unwrap_err();
            assert_eq!(e.exit_code(), 64, "{bad}: {e}");
        }
    }

    #[test]
    fn recipient_arguments() {
        assert_eq!(
            parse_recipient_arg("a@x, B <b@y>", "h", None).unwrap(),
            vec![mb("a@x"), mb("b@y")]
        );
        assert_eq!(
            parse_recipient_arg("\"j d\"@x", "h", None).unwrap(),
            vec![mb("\"j d\"@x")]
        );
        assert_eq!(
            parse_recipient_arg("üser@bücher.example", "h", None).unwrap(),
            vec![mb("üser@bücher.example")]
        );
        for bad in ["", "a@x, (", "<a@x", "a@x>", "a@[1.2.3]"] {
            assert!(parse_recipient_arg(bad, "h", None).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn local_recipients_go_through_the_aliases_before_qualification() {
        let aliases = crate::send::aliases::parse(
            "root: admin@x.example, ops\nnobodyhere: n@x.example\n",
            "al",
        )
        .unwrap();
        assert_eq!(
            parse_recipient_arg("root, b@y.example", "h.example", Some(&aliases)).unwrap(),
            vec![
                mb("admin@x.example"),
                mb("ops@h.example"),
                mb("b@y.example")
            ]
        );
        // A domain is never aliased; a sender never is.
        assert_eq!(
            parse_recipient_arg("root@z.example", "h", Some(&aliases)).unwrap(),
            vec![mb("root@z.example")]
        );
        assert_eq!(
            parse_sender("root", "h.example").unwrap(),
            ReversePath::Mailbox(mb("root@h.example"))
        );
        // An alias is a local recipient, not the "Last, First" mistake.
        let arg = "nobodyhere, Bob <b@y.example>";
        assert!(parse_recipient_arg(arg, "h", None).is_err());
        assert_eq!(
            parse_recipient_arg(arg, "h", Some(&aliases)).unwrap(),
            vec![mb("n@x.example"), mb("b@y.example")]
        );
    }
}
