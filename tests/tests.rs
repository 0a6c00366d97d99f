//! Integration tests: the built binaries, real peers, and the shared corpus.

// Not every helper is used by every tool module.
#[allow(dead_code)]
mod util;

mod b64;
mod build;
mod completions;
mod cookbook;
mod demo;
mod hdr;
mod hostile;
mod man;
mod qp;
mod recv;
mod roundtrip;
mod send;
mod send_bs;
mod send_config;
mod send_downgrade;
mod send_mx;
mod send_proto;
mod send_queue;
mod unpack;
mod word;
