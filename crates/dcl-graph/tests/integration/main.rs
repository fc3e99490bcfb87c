//! dcl-graph's integration tests, in one binary.

mod parsers;
mod properties;
