//! The root crate's integration tests, in one binary (one link instead of one per file).

mod cli;
mod common;
mod ecg_search;
mod ecg_signals;
mod own_program;
mod own_trainer;
mod package;
mod resume;
mod run_dir;
mod slurm;
