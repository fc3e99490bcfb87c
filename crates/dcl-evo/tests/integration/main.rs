//! dcl-evo's integration tests, in one binary.

mod driver;
mod sequences;
mod strategies;
