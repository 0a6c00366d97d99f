//! Integration tests: the built binaries, real peers, and the shared corpus.

mod util;

mod b64;
mod hdr;
mod hostile;
mod man;
mod qp;
mod word;
