//! Placeholder: filled by the branch that owns it.
