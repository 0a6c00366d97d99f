//! The programs' sending side: `smtp-send`.

pub mod address;
pub mod config;
pub mod credentials;
pub mod error;
pub mod mx;
pub mod notice;
pub mod options;
pub mod outcome;
pub mod prepare;
pub mod queue;
pub mod relay;
pub mod route;
pub mod run;
pub mod sendmail;
pub mod session;
pub mod url;
