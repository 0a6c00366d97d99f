use super::*;

use crate::smtp::envelope::test_mailbox as mb;

#[test]
fn destinations() {
    assert_eq!(
        destination("Example.ORG"),
        Some(Destination::Domain("example.org".into()))
    );
    assert_eq!(
        destination("example.org."),
        Some(Destination::Domain("example.org".into()))
    );
    assert_eq!(
        destination("[192.0.2.1]"),
        Some(Destination::Literal("192.0.2.1".parse().unwrap()))
    );
    assert_eq!(
        destination("[IPv6:2001:db8::1]"),
        Some(Destination::Literal("2001:db8::1".parse().unwrap()))
    );
    assert_eq!(
        destination("[ipv6:::1]"),
        Some(Destination::Literal("::1".parse().unwrap()))
    );
    // RFC 5321 §4.1.3: a bare IPv6 address needs its tag.
    assert_eq!(destination("[2001:db8::1]"), None);
    assert_eq!(destination("[300.1.1.1]"), None);
    assert_eq!(destination(""), None);
}

#[test]
fn bug_interleave_address_families() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let list = ["::1", "::2", "::3", "10.0.0.1", "10.0.0.2"].map(ip);
    assert_eq!(
        interleave(list.into_iter(), 10),
        ["::1", "10.0.0.1", "::2", "10.0.0.2", "::3"].map(ip)
    );
    assert_eq!(
        interleave(list.into_iter(), 3),
        ["::1", "10.0.0.1", "::2"].map(ip)
    );
    let v4_first = ["10.0.0.1", "::1", "::2"].map(ip);
    assert_eq!(
        interleave(v4_first.into_iter(), 10),
        ["10.0.0.1", "::1", "::2"].map(ip)
    );
    assert!(interleave(std::iter::empty(), 10).is_empty());
    // One family alone: its order, cut at the limit.
    let many = (1..=20).map(|i| ip(&format!("::{i}")));
    assert_eq!(interleave(many, 10).len(), 10);
}

#[test]
fn bug_idn_destination_is_the_a_label() {
    // RFC 5890 §2.3.2.1: one domain, however spelt.
    for d in ["bücher.example", "BÜCHER.example.", "xn--bcher-kva.example"] {
        assert_eq!(
            destination(d),
            Some(Destination::Domain("xn--bcher-kva.example".into())),
            "{d}"
        );
    }
    let dest = Destination::Domain("xn--bcher-kva.example".into());
    let given = [mb("a@bücher.example"), mb("jürgen@bücher.example")];
    let sent = as_sent(&dest, &given);
    assert_eq!(sent[0].to_string(), "a@xn--bcher-kva.example");
    // A non-ASCII local part needs SMTPUTF8 anyway: kept as given.
    assert_eq!(sent[1], given[1]);
}

#[test]
fn grouping_keeps_first_appearance_order() {
    let rcpts = [
        mb("a@one.example"),
        mb("b@two.example"),
        mb("c@ONE.example"),
        mb("d@[127.0.0.1]"),
        mb("e@[bad]"),
        mb("f@two.example"),
    ];
    let (groups, bad) = group(&rcpts);
    let got: Vec<(String, Vec<String>)> = groups
        .iter()
        .map(|(d, l)| (d.to_string(), l.iter().map(|m| m.local.clone()).collect()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "one.example".to_owned(),
                vec!["a".to_owned(), "c".to_owned()]
            ),
            (
                "two.example".to_owned(),
                vec!["b".to_owned(), "f".to_owned()]
            ),
            ("[127.0.0.1]".to_owned(), vec!["d".to_owned()]),
        ]
    );
    assert_eq!(bad, [mb("e@[bad]")]);
}

fn mxs(list: &[(u16, &str)]) -> Vec<(u16, String)> {
    list.iter().map(|&(p, h)| (p, h.to_owned())).collect()
}

#[test]
fn order_by_preference() {
    let list = mxs(&[(20, "c"), (10, "a"), (30, "d"), (10, "b")]);
    // pick(n) = 0 always: a deterministic permutation of each run.
    let got = order(list.clone(), |_| 0);
    assert_eq!(&got[2..], ["c", "d"]);
    let mut first: Vec<_> = got[..2].to_vec();
    first.sort();
    assert_eq!(first, ["a", "b"]);
    // Duplicates kept once, at their best preference.
    let got = order(mxs(&[(20, "a"), (10, "A"), (5, "b")]), |_| 0);
    assert_eq!(got, ["b", "A"]);
    assert!(order(vec![], |_| 0).is_empty());
}

#[test]
fn order_randomizes_equal_preferences() {
    // RFC 5321 §5.1: equal preferences are tried in random order; with
    // a real random source both hosts come first sometimes.
    let list = mxs(&[(10, "a"), (10, "b"), (10, "c"), (0, "first"), (99, "last")]);
    let mut firsts = std::collections::HashSet::new();
    for _ in 0..200 {
        let got = order(list.clone(), random_below);
        assert_eq!(got[0], "first");
        assert_eq!(got[4], "last");
        firsts.insert(got[1].clone());
    }
    assert_eq!(firsts.len(), 3, "{firsts:?}");
    // Out-of-range picks cannot panic.
    let got = order(list, |n| n * 7);
    assert_eq!(got.len(), 5);
}

#[test]
fn dns_failures_become_results() {
    let rcpts = [mb("a@x.example"), mb("b@x.example")];
    let r = dns_results(&rcpts, &Route::NullMx);
    assert_eq!(outcome::exit_code(&r), 67);
    assert_eq!(r[0].reply.as_ref().unwrap().enhanced, Some((5, 1, 10)));
    let r = dns_results(&rcpts, &Route::NoDomain("x".into()));
    assert_eq!(outcome::exit_code(&r), 67);
    let r = dns_results(&rcpts, &Route::Temporary("x".into()));
    assert_eq!(outcome::exit_code(&r), 75);
    assert!(r.iter().all(|x| x.status == Status::Deferred));
}
