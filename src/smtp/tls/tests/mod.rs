//! The TLS unit tests: the server side on its own (`server`), the client
//! against the receiver's own server code (`client`), certificate info
//! (`x509`).

mod client;
mod server;
mod x509;
