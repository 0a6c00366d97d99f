use super::*;
use crate::send::prepare::{PrepareOptions, Source, prepare};
use crate::send::session::tests::{
    GREET, Scripted, Shared, message, scripted, session_opts, written,
};
use crate::send::url;
use std::io;
use std::sync::Arc;

#[test]
fn bug_mx_route_starts_no_resolver_until_a_message_is_delivered() {
    let mxo = mx::MxOptions {
        dns: Some("192.0.2.1:53".parse().unwrap()),
        port: 25,
        tls: mx::MxTls::May,
    };
    let route = Route::Mx(Box::new((session_opts(None), mxo)));
    let mut d = Deliverer::new(route, false);
    assert!(matches!(&d.way, Way::Mx(r) if r.2.is_none()));
    d.ready().unwrap();
    assert!(matches!(&d.way, Way::Mx(r) if r.2.is_some()));
}

#[test]
fn bug_unset_route_gives_its_error_when_used() {
    let mut d: Deliverer = Deliverer::unset(Error::Config("no server".into()));
    assert_eq!(d.ready().unwrap_err().exit_code(), 78);
    let msg = b"From: a@example.org\nTo: b@example.org\n\nhi\n";
    let mut m = prepare(
        Source::Stream(Box::new(io::Cursor::new(msg.to_vec()))),
        &PrepareOptions {
            extract: true,
            hostname: "h".into(),
            ..PrepareOptions::default()
        },
    )
    .unwrap();
    assert_eq!(d.deliver(&mut m).unwrap_err().exit_code(), 78);
}
#[test]
fn each_goes_on_after_a_refused_message_and_reconnects_after_a_lost_one() {
    // Connection 1: message 1 sent, message 2 refused at RCPT (RSET),
    // message 3 meets 421 at MAIL (connection lost before anything of
    // it was taken: sent again on a new one). Connection 2: messages 3
    // and 4 sent.
    let first = format!(
        "{GREET}250 ok\n250 ok\n354 go\n250 queued\n\
         250 ok\n550 5.1.1 unknown\n250 reset\n\
         421 4.3.0 closing\n"
    );
    let second = format!(
        "{GREET}250 ok\n250 ok\n354 go\n250 queued\n\
         250 ok\n250 ok\n354 go\n250 queued\n221 bye\n"
    );
    let conns = Arc::new(std::sync::Mutex::new(vec![
        scripted(&second),
        scripted(&first),
    ]));
    let outs: Arc<std::sync::Mutex<Vec<Shared>>> = Arc::default();
    let opts = session_opts(None);
    let msgs = vec![
        ("1".to_owned(), Ok(message("b@b.example"))),
        ("2".to_owned(), Ok(message("bad@b.example"))),
        (
            "bad".to_owned(),
            Err(Error::Open("No such file".to_owned())),
        ),
        ("3".to_owned(), Ok(message("c@b.example"))),
        ("4".to_owned(), Ok(message("d@b.example"))),
    ];
    let mut reported = Vec::new();
    let (c, o) = (Arc::clone(&conns), Arc::clone(&outs));
    let mut route = Deliverer::relay(
        Box::new(move || {
            let (conn, out) = c.lock().unwrap().pop().expect("a third connection");
            o.lock().unwrap().push(out);
            Session::start(conn, &opts, url::Security::None, "srv", None)
        }),
        "srv",
        false,
    );
    let worst = send_each(msgs, &mut route, &mut |_, _| {}, &mut |name, e| {
        reported.push((name.to_owned(), e.exit_code()))
    });
    route.finish();
    assert_eq!(reported, [("2".to_owned(), 67), ("bad".to_owned(), 66)]);
    assert_eq!(worst, 67);
    let outs = outs.lock().unwrap();
    assert_eq!(outs.len(), 2);
    assert!(written(&outs[1]).contains("RCPT TO:<c@b.example>\r\n"));
    assert!(written(&outs[1]).ends_with(
        "RCPT TO:<d@b.example>\r\nDATA\r\nFrom: a@a.example\r\n\r\nhi\r\n.\r\nQUIT\r\n"
    ));
    // Nothing reachable: the rest are not tried.
    let mut reported = Vec::new();
    let mut route = Deliverer::<Scripted>::relay(
        Box::new(|| Err(Error::Security("no".to_owned()))),
        "srv",
        false,
    );
    let worst = send_each(
        vec![
            ("1".to_owned(), Ok(message("b@b.example"))),
            ("2".to_owned(), Ok(message("b@b.example"))),
        ],
        &mut route,
        &mut |_, _| {},
        &mut |name, e| reported.push((name.to_owned(), e.exit_code())),
    );
    assert_eq!((worst, reported.len()), (77, 2));
}
