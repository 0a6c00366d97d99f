//! Message storage for receivers (being written).
