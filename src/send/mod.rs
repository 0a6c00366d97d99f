//! The programs' sending side: `smtp-send`.

pub mod config;
pub mod credentials;
pub mod mx;
pub mod outcome;
pub mod queue;
pub mod relay;
pub mod submit;
pub mod url;
