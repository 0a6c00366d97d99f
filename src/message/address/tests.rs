//! Unit tests of `address`.

use super::*;
use proptest::prelude::*;

/// `name <addr>` / `addr` per mailbox, `group:` before members and `;`
/// after them: the whole result on one line, for table tests.
fn show(input: &str) -> String {
    let list = parse(input.as_bytes());
    let mut out = Vec::new();
    for a in &list.addresses {
        match a {
            Address::Mailbox(m) => out.push(format!("[{}]", show_mb(m))),
            Address::Group(g) => {
                let members: Vec<String> = g.members.iter().map(show_mb).collect();
                out.push(format!("{}:{};", g.name, members.join(",")));
            }
        }
    }
    out.join(" ")
}

fn show_mb(m: &Mailbox) -> String {
    match &m.name {
        Some(n) => format!("{n}|{}", m.addr),
        None => m.addr.clone(),
    }
}

/// Each `(input, want, kinds)`: `input` reads as [`show`] gives `want`,
/// with exactly the defects `kinds`.
fn assert_reads(table: &[(&str, &str, &[DefectKind])]) {
    for &(input, want, kinds) in table {
        assert_eq!(show(input), want, "{input}");
        assert_eq!(defects(input), kinds, "{input}");
    }
}

/// Each `(input, want)`: [`assert_reads`] without a defect.
fn assert_clean(table: &[(&str, &str)]) {
    for &(input, want) in table {
        assert_reads(&[(input, want, &[])]);
    }
}

fn defects(input: &str) -> Vec<DefectKind> {
    parse(input.as_bytes())
        .defects
        .iter()
        .map(|d| d.kind)
        .collect()
}

#[test]
fn rfc5322_appendix_a1_examples() {
    let table = [
        // §A.1.1
        (
            "John Doe <jdoe@machine.example>",
            "[John Doe|jdoe@machine.example]",
        ),
        (
            "Michael Jones <mjones@machine.example>",
            "[Michael Jones|mjones@machine.example]",
        ),
        // §A.1.2
        (
            "\"Joe Q. Public\" <john.q.public@example.com>",
            "[Joe Q. Public|john.q.public@example.com]",
        ),
        (
            "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
            "[Mary Smith|mary@x.test] [jdoe@example.org] [Who?|one@y.test]",
        ),
        (
            "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
            "[boss@nil.test] [Giant; \"Big\" Box|sysservices@example.net]",
        ),
        // §A.1.3
        (
            "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
            "A Group:Ed Jones|c@a.test,joe@where.test,John|jdoe@one.test;",
        ),
        ("Undisclosed recipients:;", "Undisclosed recipients:;"),
    ];
    assert_clean(&table);
}

#[test]
fn rfc5322_appendix_a5_white_space_comments_and_oddities() {
    let table = [
        (
            "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
            "[Pete|pete@silly.test]",
        ),
        (
            "A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n         \
                 joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)",
            "A Group:Chris Jones|c@public.example,joe@example.org,John|jdoe@one.test;",
        ),
        (
            "(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;",
            "Hidden recipients:;",
        ),
    ];
    assert_clean(&table);
}

#[test]
fn rfc5322_appendix_a6_obsolete_addressing() {
    let table = [
        // §A.6.1
        (
            "Joe Q. Public <john.q.public@example.com>",
            "[Joe Q. Public|john.q.public@example.com]",
        ),
        (
            "Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
            "[Mary Smith|mary@example.net] [jdoe@test.example]",
        ),
        ("jdoe@test   . example", "[jdoe@test.example]"),
        // §A.6.3
        (
            "John Doe <jdoe@machine(comment).  example>",
            "[John Doe|jdoe@machine.example]",
        ),
        (
            "Mary Smith\r\n  \r\n          <mary@example.net>",
            "[Mary Smith|mary@example.net]",
        ),
        // obs-route with several domains and empty elements (§4.4)
        ("<,@a.test,,@[1.2.3.4]:x@y.test>", "[x@y.test]"),
        // obs-local-part: words and quoted strings joined by dots
        (
            "john . q . public@example.com",
            "[john.q.public@example.com]",
        ),
        ("\"john\".\"q\"@example.com", "[john.q@example.com]"),
    ];
    assert_clean(&table);
}

#[test]
fn quoted_strings_literals_and_utf8() {
    let table = [
        ("\"a, b\" <ab@x>, c@y", "[a, b|ab@x] [c@y]"),
        ("\"john doe\"@x", "[\"john doe\"@x]"),
        ("\"john\"@x", "[john@x]"),
        ("\"a\\\"b\"@x", "[\"a\\\"b\"@x]"),
        ("a@[1.2.3.4]", "[a@[1.2.3.4]]"),
        ("a@[ IPv6:: 1 ]", "[a@[IPv6::1]]"),
        // RFC 6532: UTF-8 local parts and IDN domains stay UTF-8.
        ("Jörg <jörg@bücher.example>", "[Jörg|jörg@bücher.example]"),
        ("用户@例子.广告", "[用户@例子.广告]"),
        ("a@b (Old Style)", "[Old Style|a@b]"),
        ("a@b (c) (d)", "[c d|a@b]"),
        ("a@b (nested (parens) \\) ok)", "[nested (parens) ) ok|a@b]"),
        ("<a@b> (not a name)", "[a@b]"),
        ("x@y (folded\r\n comment)", "[folded comment|x@y]"),
    ];
    assert_clean(&table);
}

#[test]
fn encoded_words_in_names_decode_after_parsing() {
    let table = [
        ("=?UTF-8?Q?Doe=2C_John?= <j@x>", "[Doe, John|j@x]"),
        (
            "=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>",
            "[Keld Jørn Simonsen|keld@dkuug.dk]",
        ),
        // RFC 2047 §6.2: white space between adjacent words goes.
        ("=?UTF-8?Q?a?= =?UTF-8?Q?b?= c <x@y>", "[ab c|x@y]"),
        // Encoded specials never add structure (Mailsploit).
        (
            "=?UTF-8?Q?a=3Cevil=40x=3E=2C?= <real@x>",
            "[a<evil@x>,|real@x]",
        ),
        (
            "=?UTF-8?Q?a=0D=0ABcc=3A_e=40x?= <r@x>",
            "[a\u{FFFD}\u{FFFD}Bcc: e@x|r@x]",
        ),
        // Lenient for display: a word in a quoted string is decoded too.
        ("\"=?UTF-8?Q?J=C3=B6rg?=\" <j@x>", "[Jörg|j@x]"),
        ("x@y (=?UTF-8?B?w6Q=?=)", "[ä|x@y]"),
        ("=?UTF-8?B?w6Q=?=:a@b;", "ä:a@b;"),
    ];
    assert_clean(&table);
    // An address is never decoded (RFC 2047 §5).
    assert_eq!(show("=?UTF-8?Q?a?=@x.com"), "[=?UTF-8?Q?a?=@x.com]");
    let m = Mailbox {
        name: Some("Doe, John".into()),
        addr: "j@x".into(),
    };
    assert_eq!(show(&m.to_string()), "[Doe, John|j@x]");
}

#[test]
fn malformed_items_are_skipped_or_flagged() {
    use DefectKind::*;
    let table: &[(&str, &str, &[DefectKind])] = &[
        // CVE-2023-27043: the comment runs to the end; bob is inside it.
        (
            "alice@example.org(<bob@example.org>",
            "[alice@example.org]",
            &[UnterminatedComment],
        ),
        (
            "alice@example.org)<bob@example.org>",
            "",
            &[Unexpected(b')')],
        ),
        (
            "alice@example.org]<bob@example.org>",
            "",
            &[Unexpected(b']')],
        ),
        (
            "\"alice@example.org <bob@example.org>",
            "",
            &[UnterminatedQuotedString],
        ),
        ("a@[1.2.3.4 <b@c>", "", &[UnterminatedDomainLiteral]),
        ("John <john@x", "", &[UnterminatedAngleAddr]),
        ("John <john@x, bob@y>", "", &[NotAnAddress]),
        ("<a@b> <c@d>, e@f", "[e@f]", &[Unexpected(b'<')]),
        ("John Smith <js@x> Doe, e@f", "[e@f]", &[Unexpected(b'D')]),
        ("John Smith", "", &[NotAnAddress]),
        ("a b@c", "", &[NotAnAddress]),
        ("a@b@c", "", &[NotAnAddress]),
        ("a@", "", &[NotAnAddress]),
        ("@example.com", "", &[NotAnAddress]),
        ("<>", "", &[EmptyAddress]),
        ("a\u{1}b@c, d@e", "[d@e]", &[Unexpected(1)]),
        ("a>@b", "", &[Unexpected(b'>')]),
        ("a@b:c", "", &[Unexpected(b'@')]),
        ("g: a@b, h: c@d; e@f", "g:a@b; [e@f]", &[Unexpected(b':')]),
        // kept with a defect
        ("localrecipient", "[localrecipient]", &[MissingDomain]),
        (
            "Moderator <moderator>",
            "[Moderator|moderator]",
            &[MissingDomain],
        ),
        (
            "info@shop.example <info@shop.example>",
            "[info@shop.example|info@shop.example]",
            &[SpecialInName],
        ),
        ("a..b@x", "[a..b@x]", &[EmptyLabel]),
        ("a@b.", "[a@b.]", &[EmptyLabel]),
        ("a@x; b@y", "[a@x] [b@y]", &[StraySemicolon]),
        ("team: a@x, b@y", "team:a@x,b@y;", &[UnterminatedGroup]),
    ];
    assert_reads(table);
    assert_eq!(parse(b"a\xffb@c").defects[0].kind, InvalidUtf8);
    assert!(parse(b"a\xffb@c").addresses.is_empty());
}

#[test]
fn bug_an_unclosed_bracket_loses_no_later_address() {
    // `<` or `[` without its end threw away every later address,
    // against the docs ("up to the next comma").
    use DefectKind::*;
    let table: &[(&str, &str, &[DefectKind])] = &[
        ("<x@y, h@x.org", "[h@x.org]", &[UnterminatedAngleAddr]),
        ("broken <, h@x.org", "[h@x.org]", &[UnterminatedAngleAddr]),
        ("x@[1.2, h@x.org", "[h@x.org]", &[UnterminatedDomainLiteral]),
        (
            "x@[1.2; h@x.org",
            "[h@x.org]",
            &[UnterminatedDomainLiteral, StraySemicolon],
        ),
        (
            "x@[1\\,2, h@x.org",
            "[h@x.org]",
            &[UnterminatedDomainLiteral],
        ),
        // A route's commas are not the list's.
        ("<@a,@b:x@y, h@x.org", "[h@x.org]", &[UnterminatedAngleAddr]),
        (
            "<,@a, h@x.org",
            "[h@x.org]",
            &[UnterminatedAngleAddr, NotAnAddress],
        ),
        (
            "<(c) a, b:c@d, h@x.org",
            "b:c@d,h@x.org;",
            &[UnterminatedAngleAddr, UnterminatedGroup],
        ),
        // A comment's comma is not one either.
        (
            "<x@y (c, d) , h@x.org",
            "[h@x.org]",
            &[UnterminatedAngleAddr],
        ),
        ("<x@y <z@w>, h@x.org", "[h@x.org]", &[UnterminatedAngleAddr]),
        ("g: <x@y, h@x.org;", "g:h@x.org;", &[UnterminatedAngleAddr]),
        // A quoted string may hold commas: it still runs to the end.
        ("\"abc, h@x.org", "", &[UnterminatedQuotedString]),
    ];
    assert_reads(table);
}

#[test]
fn bug_a_bare_line_break_in_quotes_joins_no_words() {
    // Only folding (a line break before a blank) is removed inside a
    // quoted string: `"a\na"` is not the address `aa`.
    assert_eq!(show("\"a\na\";"), "[\"a\na\"]");
    assert_eq!(show("\"a\r\n b\"@x"), "[\"a b\"@x]");
    assert_eq!(show("x@y (a\n\tb)"), "[a\tb|x@y]");
}

#[test]
fn bug_memory_follows_the_item_not_the_list() {
    // Every token of the field (40 bytes each) and every mailbox were
    // held to the end: 68 MB for 400,000 addresses.
    assert!(std::mem::size_of::<Token>() <= 12);
    let input = b"a@x, ".repeat(100_000);
    let mut p = Parser {
        input: &input,
        lexer: Lexer::default(),
        toks: Vec::new(),
        i: 0,
        defect: |_| {},
    };
    let mut most = 0;
    loop {
        p.forget_read();
        p.item(false);
        most = most.max(p.toks.len());
        if p.tok(p.i).is_none() {
            break;
        }
        p.i += 1;
    }
    assert!(most < 200, "{most} tokens held");
    // Mailboxes are handed out one by one; an error stops the walk.
    let (mut seen, mut defects) = (0, 0);
    let r = for_each_mailbox(
        b"a@x, g: b@y, <c, d@w;, e@v",
        |_| defects += 1,
        |m| {
            seen += 1;
            if m.addr == "d@w" { Err(m.addr) } else { Ok(()) }
        },
    );
    assert_eq!((r, seen, defects), (Err("d@w".to_owned()), 3, 1));
}

#[test]
fn strict_refuses_any_defect() {
    assert!(parse(b"a@b, c@d").strict().is_ok());
    let err = parse(b"a@b, <c@d").strict().unwrap_err();
    assert_eq!(err.kind, DefectKind::UnterminatedAngleAddr);
    assert_eq!(err.offset, 5);
    assert_eq!(err.to_string(), "'<' without '>' at byte 5");
}

#[test]
fn mailboxes_flatten_groups() {
    let list = parse(b"a@x, g: b@y, c@z;, d@w");
    let addrs: Vec<&str> = list.mailboxes().map(|m| m.addr.as_str()).collect();
    assert_eq!(addrs, ["a@x", "b@y", "c@z", "d@w"]);
}

#[test]
fn display_quotes_names_with_specials() {
    let mb = |name: Option<&str>, addr: &str| Mailbox {
        name: name.map(str::to_owned),
        addr: addr.to_owned(),
    };
    assert_eq!(mb(None, "a@b").to_string(), "a@b");
    assert_eq!(mb(Some("Joe"), "a@b").to_string(), "Joe <a@b>");
    assert_eq!(
        mb(Some("Doé, John"), "a@b").to_string(),
        "\"Doé, John\" <a@b>"
    );
    assert_eq!(
        mb(Some("Joe Q. Public"), "a@b").to_string(),
        "\"Joe Q. Public\" <a@b>"
    );
    assert_eq!(
        mb(Some("a \"b\" \\c"), "a@b").to_string(),
        "\"a \\\"b\\\" \\\\c\" <a@b>"
    );
}

#[test]
fn work_is_linear_on_hostile_nesting() {
    for b in [
        b'(', b'"', b'<', b'[', b'@', b',', b':', b';', b'.', b'\\', b')',
    ] {
        let input = vec![b; 100_000];
        let t = std::time::Instant::now();
        let _ = parse(&input);
        assert!(t.elapsed().as_secs() < 2, "byte {b}: {:?}", t.elapsed());
    }
    for unit in [&b"[,"[..], b"<a,", b"\"(,", b"(\",", b"[\\]"] {
        let input = unit.repeat(50_000);
        let t = std::time::Instant::now();
        let _ = parse(&input);
        assert!(t.elapsed().as_secs() < 2, "{unit:?}: {:?}", t.elapsed());
    }
    let mut input = Vec::new();
    for _ in 0..20_000 {
        input.extend_from_slice(b"(a(b\\)c<x@y>, \"q,<\" <z@w>:");
    }
    let t = std::time::Instant::now();
    let _ = parse(&input);
    assert!(t.elapsed().as_secs() < 2, "{:?}", t.elapsed());
}

/// Every label of every address found is text of the input.
fn never_invents(input: &[u8]) -> Result<(), TestCaseError> {
    let list = parse(input);
    let text = String::from_utf8_lossy(input);
    for m in list.mailboxes() {
        prop_assert!(!m.addr.is_empty());
        if m.addr.contains(['"', '\\', '[']) {
            continue; // quoted or literal: escapes and blanks rewritten
        }
        for label in m.addr.split(['.', '@']).filter(|l| !l.is_empty()) {
            prop_assert!(text.contains(label), "{:?} not in {:?}", label, text);
        }
    }
    Ok(())
}

fn name_strategy() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[a-zA-Z0-9 ,;:<>@()\"\\\\.éü用]{1,20}".prop_map(|s| s.trim().to_owned()))
        .prop_map(|n| n.filter(|n| !n.is_empty() && !n.contains("  ")))
}

proptest! {
    #[test]
    fn never_panics(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        never_invents(&input)?;
    }

    #[test]
    fn never_panics_on_mail_like_bytes(input in "[a-c@.,;:<>()\"\\[\\]\\\\ \r\n]{0,60}") {
        never_invents(input.as_bytes())?;
    }

    /// Displayed mailboxes parse back to themselves: names with specials
    /// come back quoted as one mailbox (odoo PR #51985).
    #[test]
    fn display_round_trips(
        boxes in proptest::collection::vec(
            (name_strategy(), "[a-z0-9]{1,8}(\\.[a-z0-9]{1,8}){0,2}", "[a-z0-9]{1,8}\\.[a-z]{2,4}"),
            1..5,
        )
    ) {
        let want: Vec<Mailbox> = boxes
            .into_iter()
            .map(|(name, local, domain)| Mailbox { name, addr: format!("{local}@{domain}") })
            .collect();
        let text: Vec<String> = want.iter().map(|m| m.to_string()).collect();
        let list = parse(text.join(", ").as_bytes());
        prop_assert_eq!(&list.defects, &[]);
        let got: Vec<Mailbox> = list.mailboxes().cloned().collect();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn phrase_writes_display_names() {
    let p = |n: &str, w: Words| phrase(n, w).join(" ");
    for w in [Words::Runs, Words::Whole] {
        // RFC 5322 §3.2.5: atoms as they are, white space runs as one space.
        assert_eq!(p(" John \t Smith ", w), "John Smith");
        // Specials: one quoted-string, `"` and `\` escaped (§3.2.4).
        assert_eq!(p("Doe, John", w), "\"Doe, John\"");
        assert_eq!(p("a \"b\\", w), "\"a \\\"b\\\\\"");
        assert_eq!(p("", w), "\"\"");
        // RFC 2047 §5 (3): non-ASCII in a phrase is encoded.
        assert_eq!(p("Jörg", w), "=?UTF-8?B?SsO2cmc=?=");
        // `=?` would be decoded by a reader: encoded too.
        assert!(p("x=?y", w).starts_with("=?UTF-8?"), "{}", p("x=?y", w));
        // A piece never passes a folded line (RFC 5322 §2.1.1).
        let long = "x".repeat(90);
        assert!(phrase(&long, w).iter().all(|p| p.len() <= MAX_PIECE));
    }
    // Runs: only the words that need it, Q or B, whichever is shorter.
    assert_eq!(p("Müller", Words::Runs), "=?UTF-8?Q?M=C3=BCller?=");
    assert_eq!(
        p("Hans Müller", Words::Runs),
        "Hans =?UTF-8?Q?M=C3=BCller?="
    );
    // Whole: all of it in "B" words of at most 45 octets (75 characters).
    assert_eq!(
        p("Hans Müller", Words::Whole),
        "=?UTF-8?B?SGFucyBNw7xsbGVy?="
    );
    let long = "ü".repeat(40);
    let words = phrase(&long, Words::Whole);
    assert_eq!(words.len(), 2);
    assert!(words.iter().all(|w| w.len() <= 75), "{words:?}");
    assert_eq!(encoded_word::decode(words.join(" ").as_bytes()).text, long);
}
