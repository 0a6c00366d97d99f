//! Integration tests: the built binaries, real peers, and the shared corpus.

// Not every helper is used by every tool module.
#[allow(dead_code)]
mod util;

mod b64;
mod build;
mod completions;
mod cookbook;
mod daemons;
mod demo;
mod dkim;
mod fuzz_corpus;
mod hdr;
mod hostile;
mod man;
mod oauth;
mod peers;
mod qp;
mod real_dovecot;
mod real_mutt;
mod real_postfix;
mod real_relay;
mod recv;
mod recv_clients;
mod recv_oauth;
mod recv_smuggling;
mod recv_store;
mod recv_stress;
mod roundtrip;
mod send;
mod send_aliases;
mod send_auth;
mod send_bs;
mod send_config;
mod send_connect;
mod send_deadline;
mod send_dkim;
mod send_downgrade;
mod send_each;
mod send_log;
mod send_mistakes;
mod send_mx;
mod send_proto;
mod send_queue;
mod send_replies;
mod send_sendmail;
mod send_submit;
mod send_tls;
mod unpack;
mod word;
