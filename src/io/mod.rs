//! Byte plumbing with no mail knowledge.

pub mod lines;
pub mod temp;
