//! dcl-predictor's integration tests, in one binary.

mod common;
mod ensemble;
mod predictor;
