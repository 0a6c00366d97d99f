//! `command::parse` on arbitrary bytes: never panics; an accepted command's
//! `Display` (its wire form) parses back to the same command; a refusal's
//! reply is one well-formed line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailpipe::smtp::command;

fuzz_target!(|data: &[u8]| {
    for utf8 in [false, true] {
        match command::parse(data, utf8) {
            Ok(cmd) => {
                let wire = cmd.to_string();
                assert!(
                    !wire.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0),
                    "control character in {wire:?}"
                );
                let again = command::parse(wire.as_bytes(), utf8)
                    .unwrap_or_else(|e| panic!("{wire:?} does not parse back: {e:?}"));
                assert_eq!(again, cmd, "round trip of {wire:?}");
            }
            Err(e) => {
                let r = e.reply();
                assert!((500..600).contains(&r.code), "{r:?}");
                let wire = r.to_wire(true);
                assert!(wire.ends_with(b"\r\n") && wire.len() <= 512, "{r:?}");
                let body = &wire[..wire.len() - 2];
                assert!(!body.iter().any(|&b| b == b'\r' || b == b'\n'), "{r:?}");
            }
        }
    }
});
